/*
 * osprofile.c - the OS profile of a new VM from kumo's command line (kumo
 * vm create, kumo up): its admin account, SSH public keys and password, as
 * az vm create takes them (docs/user-guide-cloud.md, "Logging in with
 * SSH"):
 *
 *   --admin-username NAME   default: $USER when it is a valid Linux user
 *                           name other than root, else azureuser
 *   --ssh-key-value KEY|@FILE|FILE ...   repeatable; a file may hold several
 *                           keys (an authorized_keys file)
 *   --generate-ssh-keys     ~/.ssh/id_ed25519{,.pub}, made with ssh-keygen
 *                           when missing (az makes id_rsa)
 *   --admin-password PW     where the image takes one (kumod says where not)
 *
 * With none of them, for an image that is provisioned (its osProfile says
 * it takes SSH keys), the user's own public key is used as az uses
 * ~/.ssh/id_rsa.pub: ~/.ssh/id_ed25519.pub, id_ecdsa.pub or id_rsa.pub,
 * the first that exists; without one the VM gets no admin account and a
 * note says how to give it one.
 */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define KEY_FILE_MAX (64 * 1024)

static const char *home_dir(void)
{
    const char *h = getenv("HOME");
    if (h && *h) return h;
    struct passwd *pw = getpwuid(getuid());
    return pw ? pw->pw_dir : "/";
}

/* A user name cloud-init and the default guest accept (validate.h's rule). */
static bool good_user(const char *s)
{
    static const char *const reserved[] = {"root", "admin", "administrator", "debian", "daemon",
                                           "bin",  "sys",   "nobody",        NULL};
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > 32) return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || ch == '_' ||
              (i > 0 && ((ch >= '0' && ch <= '9') || ch == '-'))))
            return false;
    }
    for (int i = 0; reserved[i]; i++)
        if (strcmp(s, reserved[i]) == 0) return false;
    return true;
}

const char *default_admin_user(void)
{
    const char *u = getenv("USER");
    if (!good_user(u)) {
        struct passwd *pw = getpwuid(getuid());
        u = pw ? pw->pw_name : NULL;
    }
    return good_user(u) ? fmt_str("%s", u) : "azureuser";
}

/* Append the keys of a file (one per line; blank lines and '#' comments
 * skipped) to keys. 0, or -1 after a usage error. */
static int keys_from_file(struct cli *c, const char *opt, const char *path, json_t *keys)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        usage_error(c, "--%s: cannot read %s: %s", opt, path, strerror(errno));
        return -1;
    }
    char *buf = malloc(KEY_FILE_MAX + 1);
    size_t n = buf ? fread(buf, 1, KEY_FILE_MAX + 1, f) : 0;
    bool bad = !buf || ferror(f);
    fclose(f);
    if (bad || n > KEY_FILE_MAX) {
        free(buf);
        usage_error(c, "--%s: %s: %s", opt, path, bad ? "cannot read it" : "larger than 64 KiB");
        return -1;
    }
    buf[n] = 0;
    if (strstr(buf, "PRIVATE KEY-----")) {
        free(buf);
        usage_error(c,
                    "--%s: %s is a private key: give the public key (its .pub file), which is "
                    "what goes into the VM; the private key stays here",
                    opt, path);
        return -1;
    }
    size_t before = json_array_size(keys);
    for (char *save = NULL, *line = strtok_r(buf, "\r\n", &save); line;
         line = strtok_r(NULL, "\r\n", &save)) {
        while (*line == ' ' || *line == '\t')
            line++;
        if (!*line || *line == '#') continue;
        json_array_append_new(keys, json_string(line));
    }
    free(buf);
    if (json_array_size(keys) == before) {
        usage_error(c, "--%s: %s holds no public key", opt, path);
        return -1;
    }
    return 0;
}

/* ssh-keygen ARGS... (its output to the file out, when given): 0 when it
 * succeeded. */
static int run_keygen(const char *const *argv, const char *out)
{
    int fd = out ? open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644) : -1;
    if (out && fd < 0) return -1;
    pid_t pid = fork();
    if (pid < 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    if (pid == 0) {
        if (fd >= 0 && dup2(fd, STDOUT_FILENO) < 0) _exit(127);
        execvp("ssh-keygen", (char *const *)argv);
        _exit(127);
    }
    if (fd >= 0) close(fd);
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return -1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* --generate-ssh-keys: ~/.ssh/id_ed25519.pub, made when missing. Its path,
 * or NULL after an error message. */
static const char *generate_key(struct cli *c)
{
    const char *dir = fmt_str("%s/.ssh", home_dir());
    const char *priv = fmt_str("%s/id_ed25519", dir), *pub = fmt_str("%s.pub", priv);
    if (access(pub, R_OK) == 0) return pub;
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        fprintf(stderr, "%s: error: --generate-ssh-keys: cannot make %s: %s\n", c->prog, dir,
                strerror(errno));
        return NULL;
    }
    if (access(priv, F_OK) == 0) { /* a private key without its .pub: derive it */
        const char *argv[] = {"ssh-keygen", "-y", "-f", priv, NULL};
        if (run_keygen(argv, pub) < 0) {
            unlink(pub);
            fprintf(stderr,
                    "%s: error: --generate-ssh-keys: %s exists but its public key cannot be "
                    "derived (ssh-keygen -y -f %s > %s)\n",
                    c->prog, priv, priv, pub);
            return NULL;
        }
        return pub;
    }
    char host[256] = "host";
    gethostname(host, sizeof(host) - 1);
    const char *comment = fmt_str("%s@%s (kumo)", default_admin_user(), host);
    const char *argv[] = {"ssh-keygen", "-q",    "-t", "ed25519", "-N", "",
                          "-C",         comment, "-f", priv,      NULL};
    if (run_keygen(argv, NULL) < 0) {
        fprintf(stderr,
                "%s: error: --generate-ssh-keys: ssh-keygen could not make %s (is openssh-client "
                "installed? apt-get install openssh-client)\n",
                c->prog, priv);
        return NULL;
    }
    fprintf(stderr, "%s: made the SSH key pair %s and %s\n", c->prog, priv, pub);
    return pub;
}

/* The user's own public key (~/.ssh), or NULL. */
static const char *own_key(void)
{
    static const char *const names[] = {"id_ed25519.pub", "id_ecdsa.pub", "id_rsa.pub", NULL};
    for (int i = 0; names[i]; i++) {
        const char *p = fmt_str("%s/.ssh/%s", home_dir(), names[i]);
        if (access(p, R_OK) == 0) return p;
    }
    return NULL;
}

/* Does the image take SSH keys (its osProfile.sshKeys)? 1, 0; -1 when it
 * is unknown (kumod answers the create). */
static int image_takes_keys(struct cli *c, const char *image)
{
    char *p = api_path("/images/%s", image ? image : "default");
    json_t *img = NULL;
    int found = api_get_maybe(c, p, &img);
    free(p);
    if (found != 1) return -1;
    int r = member_bool(json_object_get(img, "osProfile"), "sshKeys") ? 1 : 0;
    json_decref(img);
    return r;
}

const char *fmt_admin_account(const json_t *osp)
{
    if (!json_is_object(osp)) return NULL;
    size_t nk = json_array_size(json_object_get(osp, "sshPublicKeys"));
    return fmt_str("%s (%zu SSH key%s%s)", member_text(osp, "adminUsername"), nk,
                   nk == 1 ? "" : "s", member_bool(osp, "adminPasswordSet") ? ", a password" : "");
}

int os_profile_into(struct cli *c, const struct args *a, json_t *body, const char *image)
{
    int nv;
    const char *const *vals = arg_list(a, "ssh-key-value", &nv);
    bool gen = arg_has(a, "generate-ssh-keys");
    const char *user = arg_str(a, "admin-username"), *pw = arg_str(a, "admin-password");
    bool asked = user || nv || gen || pw;
    json_t *keys = json_array();
    for (int i = 0; i < nv; i++) {
        const char *v = vals[i];
        struct stat sb;
        int rc = 0;
        if (v[0] == '@')
            rc = keys_from_file(c, "ssh-key-value", v + 1, keys);
        else if (strncmp(v, "ssh-", 4) != 0 && strncmp(v, "ecdsa-", 6) != 0 &&
                 strncmp(v, "sk-", 3) != 0 && stat(v, &sb) == 0 && S_ISREG(sb.st_mode))
            rc = keys_from_file(c, "ssh-key-value", v, keys); /* a path, as az takes it */
        else
            json_array_append_new(keys, json_string(v));
        if (rc < 0) {
            json_decref(keys);
            return -1;
        }
    }
    if (gen) {
        const char *pub = generate_key(c);
        if (!pub || keys_from_file(c, "generate-ssh-keys", pub, keys) < 0) {
            json_decref(keys);
            return -1;
        }
    }
    if (!nv && !gen && !pw) {
        /* as az: the user's own key, when the image is provisioned */
        const char *own = own_key();
        int takes = own || user || c->progress ? image_takes_keys(c, image) : 0;
        if (own && takes != 0) {
            if (keys_from_file(c, "ssh-key-value", own, keys) < 0) {
                json_decref(keys);
                return -1;
            }
            fprintf(stderr, "%s: the admin account %s gets your SSH key %s\n", c->prog,
                    user ? user : default_admin_user(), own);
        } else if (user && takes != 0) {
            json_decref(keys);
            usage_error(c,
                        "--admin-username %s: no SSH key to log in with: give --ssh-key-value "
                        "KEY|@FILE, --generate-ssh-keys (makes ~/.ssh/id_ed25519) or, where the "
                        "image takes one, --admin-password",
                        user);
            return -1;
        } else if (!asked && takes == 1 && c->progress) {
            fprintf(stderr,
                    "%s: note: no SSH key in %s/.ssh: the VM gets no admin account; give "
                    "--generate-ssh-keys or --ssh-key-value to log in with ssh\n",
                    c->prog, home_dir());
        }
    }
    if (!json_array_size(keys) && !pw) {
        json_decref(keys);
        return 0;
    }
    json_t *osp = json_pack("{s:s}", "adminUsername", user ? user : default_admin_user());
    if (json_array_size(keys))
        json_object_set_new(osp, "sshPublicKeys", keys);
    else
        json_decref(keys);
    if (pw) json_object_set_new(osp, "adminPassword", json_string(pw));
    json_object_set_new(body, "osProfile", osp);
    return 0;
}
