/*
 * ssh.c - kumo vm ssh: log into a VM with the system's ssh, as `az ssh vm`
 * does: kumo finds the host port its public IP forwards to TCP 22 and its
 * admin account (osProfile.adminUsername), then runs
 *
 *   ssh -p HOSTPORT -o HostKeyAlias=kumo-VMID -o StrictHostKeyChecking=accept-new
 *       [-i KEY] [SSH-ARGS] USER@PUBLIC-IP [-- COMMAND...]
 *
 * in its place. The host key alias is the VM's vmId: host ports are reused
 * by other VMs, each with its own host keys, so known_hosts remembers each
 * VM by its id (trusted at the first login, checked after). ssh reads
 * ~/.ssh from the password database's home; when $HOME is another
 * directory (as for --generate-ssh-keys in a test), kumo points ssh at
 * $HOME/.ssh's keys and known_hosts too.
 */
#include "cli/cli.h"

#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define MAX_SSH_ARGS 96

static bool is(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/* The public IP of the VM's NICs that forwards TCP 22: its address and
 * host port; false when none does. */
static bool ssh_port(const json_t *vm, const char **addr, long long *port)
{
    size_t i, j;
    const json_t *nic, *p;
    json_array_foreach(json_object_get(vm, "networkInterfaces"), i, nic)
    {
        const json_t *pip = json_object_get(nic, "publicIp");
        if (!json_is_object(pip)) continue;
        json_array_foreach(json_object_get(pip, "ports"), j, p)
        {
            if (strcasecmp(member_text(p, "protocol"), "tcp") == 0 && member_int(p, "port") == 22 &&
                !pip_port_failed(pip, p)) {
                *addr = member_text(pip, "ipAddress");
                *port = member_int(p, "hostPort");
                return true;
            }
        }
    }
    return false;
}

int vm_ssh(struct cli *c, struct args *a)
{
    const char *g = need_group(c, a);
    if (!g) return KX_USAGE;
    /* the words before "--" are the name (if not -n); after it, the command */
    int before = a->dashdash >= 0 ? a->dashdash : a->npos;
    const char *n = arg_str(a, "name");
    if (before > (n ? 0 : 1))
        return usage_error(c,
                           "unexpected argument '%s': put the remote command after --, as in "
                           "'kumo vm ssh -g RG NAME -- uname -a'",
                           a->pos[n ? 0 : 1]);
    if (!n && before == 1) n = a->pos[0];
    if (!n) return usage_error(c, "which VM? give its name (or -n NAME)");

    char *p = res_path_of(&vm_resource, g, NULL, n);
    json_t *vm;
    int rc = api(c, "GET", p, NULL, &vm);
    free(p);
    if (rc) return rc;
    const char *addr = NULL;
    long long port = 0;
    const char *ps = member_text(vm, "powerState");
    if (!is(ps, "Running") && !is(ps, "Starting")) {
        fprintf(stderr, "%s: error: VM '%s' is %s: start it first (kumo vm start -g %s %s)\n",
                c->prog, n, ps, g, n);
        json_decref(vm);
        return KX_CONFLICT;
    }
    if (!ssh_port(vm, &addr, &port)) {
        fprintf(stderr,
                "%s: error: VM '%s' has no public IP forwarding TCP 22 (kumo vm show -g %s %s "
                "lists its ports); give it one: kumo public-ip create, then kumo nic update "
                "--public-ip\n",
                c->prog, n, g, n);
        json_decref(vm);
        return KX_ERROR;
    }
    const char *user = arg_str(a, "user");
    const json_t *osp = json_object_get(vm, "osProfile");
    if (!user) user = member_str(osp, "adminUsername");
    if (!user) {
        fprintf(stderr,
                "%s: error: VM '%s' has no admin account (it was made without SSH keys): give "
                "--user NAME, or make the VM with --ssh-key-value or --generate-ssh-keys\n",
                c->prog, n);
        json_decref(vm);
        return KX_ERROR;
    }
    if (is(member_str(vm, "provisioningState"), "Creating"))
        fprintf(stderr,
                "%s: note: VM '%s' is still provisioning: its SSH server may not take the "
                "login yet\n",
                c->prog, n);

    const char *argv[MAX_SSH_ARGS + MAX_POS + 2];
    int k = 0;
    argv[k++] = "ssh";
    argv[k++] = "-p";
    argv[k++] = fmt_str("%lld", port);
    argv[k++] = "-o";
    argv[k++] = fmt_str("HostKeyAlias=kumo-%s", member_text(vm, "vmId"));
    argv[k++] = "-o";
    argv[k++] = "StrictHostKeyChecking=accept-new";
    const char *key = arg_str(a, "private-key-file");
    if (key) {
        argv[k++] = "-i";
        argv[k++] = key;
    }
    /* $HOME other than the password database's home: its .ssh too */
    const char *home = getenv("HOME");
    struct passwd *pw = getpwuid(getuid());
    if (home && *home && (!pw || strcmp(home, pw->pw_dir) != 0)) {
        argv[k++] = "-o";
        argv[k++] = fmt_str("UserKnownHostsFile=%s/.ssh/known_hosts", home);
        static const char *const ids[] = {"id_ed25519", "id_ecdsa", "id_rsa"};
        for (int i = 0; i < 3 && !key; i++) {
            const char *f = fmt_str("%s/.ssh/%s", home, ids[i]);
            if (access(f, R_OK) != 0) continue;
            argv[k++] = "-i";
            argv[k++] = f;
        }
    }
    int nx;
    const char *const *extra = arg_list(a, "ssh-arg", &nx);
    for (int i = 0; i < nx && k < MAX_SSH_ARGS; i++)
        argv[k++] = extra[i];
    argv[k++] = fmt_str("%s@%s", user, addr);
    if (a->dashdash >= 0 && a->dashdash < a->npos) {
        argv[k++] = "--";
        for (int i = a->dashdash; i < a->npos; i++)
            argv[k++] = a->pos[i];
    }
    argv[k] = NULL;
    json_decref(vm);
    if (c->debug) {
        fprintf(stderr, "%s: running", c->prog);
        for (int i = 0; argv[i]; i++)
            fprintf(stderr, " %s", argv[i]);
        fputc('\n', stderr);
    }
    fflush(stdout);
    fflush(stderr);
    http_cleanup(c);
    execvp("ssh", (char *const *)argv);
    fprintf(stderr, "%s: error: cannot run ssh: %s (apt-get install openssh-client)\n", c->prog,
            strerror(errno));
    return KX_ERROR;
}
