/*
 * sp.c - the az CLI side of kumo: service principals (`kumo sp create,
 * list, show, delete`: who may log in to kumod's ARM endpoint) and `kumo
 * az-login`, which makes a principal and prints (or writes) what the real
 * az needs to drive kumod: the CA to trust, the cloud to register with the
 * 2020-09-01-hybrid profile, the login, telemetry off (docs/azure.md).
 */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

static const struct opt sp_name_opts[] = {
    {"name", 'n', OPT_VALUE, "NAME", "the service principal (its name or application id)", "name"},
    {0},
};

static const struct column sp_columns[] = {
    COL("Name", "name", CELL_TEXT),
    COL("AppId", "appId", CELL_TEXT),
    COL("Created", "createdAt", CELL_TIME),
    COL("Last token", "lastTokenAt", CELL_TIME),
    {0},
};

static void sp_show_view(struct cli *c, const json_t *s)
{
    struct table *t = kv_new();
    kv_add(t, "Name", member_text(s, "name"));
    kv_add(t, "App id", member_text(s, "appId"));
    if (member_str(s, "secret")) kv_add(t, "Secret", member_str(s, "secret"));
    if (member_str(s, "tenantId")) kv_add(t, "Tenant", member_str(s, "tenantId"));
    if (member_str(s, "subscriptionId")) kv_add(t, "Subscription", member_str(s, "subscriptionId"));
    kv_add(t, "Created", fmt_time(member_str(s, "createdAt")));
    if (json_object_get(s, "lastTokenAt"))
        kv_add(t, "Last token",
               member_str(s, "lastTokenAt") ? fmt_time(member_str(s, "lastTokenAt")) : "never");
    kv_print(t, c->out);
}

static int sp_create(struct cli *c, struct args *a)
{
    const char *n = need_name(c, a, "service principal");
    if (!n) return KX_USAGE;
    json_t *s;
    int rc = api(c, "POST", "/servicePrincipals", json_pack("{ss}", "name", n), &s);
    if (rc) return rc;
    if (c->out == OUT_JSON) {
        print_json(s);
    } else {
        sp_show_view(c, s);
        if (c->out == OUT_TABLE)
            fprintf(stderr, "The secret is shown only now: keep it (az login --service-principal "
                            "-u APP_ID -p SECRET --tenant TENANT).\n");
    }
    json_decref(s);
    return KX_OK;
}

static const struct resource sp_resource = {
    .what = "service principal",
    .collection = "servicePrincipals",
    .scope = RES_TOP,
    .columns = sp_columns,
    .view = sp_show_view,
    .delete_note = " (its tokens no longer work)",
};

static const struct cmd sp_create_c = {
    .name = "create",
    .summary = "Make a service principal (an application id and a secret) for az",
    .usage = "-n NAME",
    .help = "Make a service principal that may log in to kumod's ARM endpoint (kumod --arm): "
            "az login --service-principal -u APP_ID -p SECRET --tenant TENANT. The secret is "
            "shown once; kumod keeps only its hash. Names are 1-64 letters, digits, '-', '_' "
            "or '.'.",
    .opts = sp_name_opts,
    .run = sp_create,
    .positionals = 1,
    .examples = "  kumo sp create -n ci\n  kumo sp create ci -o json\n"};
static const struct cmd sp_list_c = RES_LIST(&sp_resource, "List the service principals", NULL);
static const struct cmd sp_show_c =
    RES_SHOW(&sp_resource, "Show a service principal (by name or application id)", sp_name_opts);
static const struct cmd sp_delete_c = {
    .name = "delete",
    .summary = "Delete (revoke) a service principal",
    .help = "Delete a service principal (by name or application id): it can no longer log in, "
            "and the tokens it holds are refused at once (401 InvalidAuthenticationToken).",
    .opts = sp_name_opts,
    .run = res_delete,
    .res = &sp_resource,
    .positionals = 1,
    .confirms = true};

const struct cmd cmd_sp = {
    .name = "sp",
    .summary = "Service principals for az (kumod's ARM endpoint): create, list, show, delete",
    .sub = (const struct cmd *const[]){&sp_create_c, &sp_list_c, &sp_show_c, &sp_delete_c, NULL},
};

/* ---- az-login ---- */

/* Single-quote s for a POSIX shell. */
static const char *shq(const char *s)
{
    size_t n = 2;
    for (const char *p = s; *p; p++)
        n += *p == '\'' ? 4 : 1;
    char *q = fmt_str("%*s", (int)n, "");
    char *o = q;
    *o++ = '\'';
    for (const char *p = s; *p; p++) {
        if (*p == '\'') {
            memcpy(o, "'\\''", 4);
            o += 4;
        } else {
            *o++ = *p;
        }
    }
    *o++ = '\'';
    *o = 0;
    return q;
}

static int write_text(struct cli *c, const char *dir, const char *name, const char *text)
{
    char *p = fmt_str("%s/%s", dir, name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
        fprintf(stderr, "%s: %s: %s\n", c->prog, p, strerror(errno));
        if (fd >= 0) close(fd);
        return KX_ERROR;
    }
    close(fd);
    return KX_OK;
}

/* A ready AZURE_CONFIG_DIR: no az cloud register or az login needed. */
static int write_config_dir(struct cli *c, const char *dir, const char *cloud, const char *ep,
                            const json_t *sp)
{
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        fprintf(stderr, "%s: %s: %s\n", c->prog, dir, strerror(errno));
        return KX_ERROR;
    }
    const char *sub = member_str(sp, "subscriptionId"), *ten = member_str(sp, "tenantId"),
               *app = member_str(sp, "appId"), *sec = member_str(sp, "secret");
    int rc =
        write_text(c, dir, "config",
                   fmt_str("[cloud]\nname = %s\n\n[core]\ncollect_telemetry = false\n", cloud));
    if (!rc)
        rc = write_text(
            c, dir, "clouds.config",
            fmt_str("[%s]\nendpoint_resource_manager = %s\nendpoint_active_directory = %sadfs\n"
                    "endpoint_active_directory_resource_id = https://management.kumo.local/\n"
                    "endpoint_active_directory_graph_resource_id = %sgraph/\n"
                    "endpoint_vm_image_alias_doc = %saliases.json\n"
                    "profile = 2020-09-01-hybrid\nsubscription = %s\n",
                    cloud, ep, ep, ep, ep, sub));
    json_t *profile =
        json_pack("{s:[{s:s, s:s, s:s, s:{s:s, s:s}, s:b, s:s, s:s}]}", "subscriptions", "id", sub,
                  "name", "kumo", "state", "Enabled", "user", "name", app, "type",
                  "servicePrincipal", "isDefault", 1, "tenantId", ten, "environmentName", cloud);
    json_t *entries =
        json_pack("[{s:s, s:s, s:s}]", "tenant", ten, "client_id", app, "client_secret", sec);
    char *ps = json_dumps(profile, JSON_INDENT(2)), *es = json_dumps(entries, JSON_INDENT(2));
    if (!rc) rc = write_text(c, dir, "azureProfile.json", ps ? ps : "{}");
    if (!rc) rc = write_text(c, dir, "service_principal_entries.json", es ? es : "[]");
    /* a version check already done: az makes no connectivity probe at its first run */
    if (!rc)
        rc = write_text(c, dir, "versionCheck.json",
                        "{\"versions\": {\"azure-cli\": {\"local\": \"2.45.0\"}, \"core\": "
                        "{\"local\": \"2.45.0\"}, \"telemetry\": {\"local\": \"1.0.8\"}}, "
                        "\"update_time\": \"2099-01-01 00:00:00.000000\"}");
    free(ps);
    free(es);
    json_decref(profile);
    json_decref(entries);
    return rc;
}

static int az_login(struct cli *c, struct args *a)
{
    json_t *info;
    int rc = api(c, "GET", "/arm", NULL, &info);
    if (rc) return rc;
    if (!member_bool(info, "enabled")) {
        json_decref(info);
        fprintf(stderr,
                "%s: kumod serves no ARM endpoint: start it with --arm 127.0.0.1:8443 "
                "(docs/azure.md)\n",
                c->prog);
        return KX_ERROR;
    }
    const char *ep = member_str(info, "endpoint"), *ca = member_str(info, "caCertificate");
    const char *cloud = arg_str(a, "cloud-name") ? arg_str(a, "cloud-name") : "kumo";
    const char *name = arg_str(a, "sp-name");
    if (!name) {
        unsigned char r[3] = {0};
        if (getrandom(r, sizeof(r), 0) < 0) r[0] = (unsigned char)getpid();
        const char *user = getenv("USER");
        name = fmt_str("az-%s-%02x%02x%02x", user && *user ? user : "login", r[0], r[1], r[2]);
    }
    json_t *sp;
    rc = api(c, "POST", "/servicePrincipals", json_pack("{ss}", "name", name), &sp);
    if (rc) {
        json_decref(info);
        return rc;
    }
    const char *dir = arg_str(a, "config-dir");
    if (dir) {
        rc = write_config_dir(c, dir, cloud, ep, sp);
        if (!rc && c->out == OUT_TABLE)
            printf("# az for kumod at %s: a configuration directory with service principal "
                   "'%s' (%s)\n"
                   "export AZURE_CONFIG_DIR=%s\nexport REQUESTS_CA_BUNDLE=%s\n",
                   ep, name, member_str(sp, "appId"), shq(dir), shq(ca));
    } else if (c->out == OUT_JSON) {
        json_object_set_new(sp, "endpoint", json_string(ep));
        json_object_set_new(sp, "caCertificate", json_string(ca));
        json_object_set_new(sp, "cloudName", json_string(cloud));
        json_object_set_new(sp, "profile", json_string("2020-09-01-hybrid"));
        print_json(sp);
    } else {
        const char *reg =
            fmt_str("--endpoint-resource-manager %s --endpoint-vm-image-alias-doc %saliases.json "
                    "--profile 2020-09-01-hybrid",
                    shq(ep), ep);
        printf("# az for kumod at %s: service principal '%s' (the secret is shown only now)\n"
               "export REQUESTS_CA_BUNDLE=%s\n"
               "export AZURE_CORE_COLLECT_TELEMETRY=false\n"
               "az cloud register -n %s %s >/dev/null 2>&1 || az cloud update -n %s %s\n"
               "az cloud set -n %s\n"
               "az login --service-principal -u %s -p %s --tenant %s -o none\n",
               ep, name, shq(ca), shq(cloud), reg, shq(cloud), reg, shq(cloud),
               member_str(sp, "appId"), shq(member_str(sp, "secret")), member_str(sp, "tenantId"));
    }
    json_decref(sp);
    json_decref(info);
    return rc;
}

static const struct opt az_login_opts[] = {
    {"sp-name", 0, OPT_VALUE, "NAME", "the new service principal's name (default: az-USER-RANDOM)",
     "name"},
    {"cloud-name", 0, OPT_VALUE, "NAME", "the name az knows kumod's cloud by (default: kumo)",
     NULL},
    {"config-dir", 0, OPT_VALUE, "DIR",
     "write a ready AZURE_CONFIG_DIR there instead of printing commands", NULL},
    {0},
};

const struct cmd cmd_az_login = {
    .name = "az-login",
    .summary = "Make a service principal and print how az logs in to kumod",
    .help = "Print the shell commands that make the real az CLI (Debian's azure-cli) drive "
            "kumod's ARM endpoint (kumod --arm): trust kumod's CA (REQUESTS_CA_BUNDLE), "
            "register kumod as a cloud with the 2020-09-01-hybrid API profile (as Azure Stack "
            "Hub; the 'latest' profile is broken in Debian's package) and its image alias "
            "document, turn telemetry off, and log in with a new service principal. Run them "
            "with eval \"$(kumo az-login)\". With --config-dir DIR, write an AZURE_CONFIG_DIR "
            "that needs no az cloud register or az login instead.",
    .opts = az_login_opts,
    .run = az_login,
    .examples = "  eval \"$(kumo az-login)\" && az group create -n rg1 -l local\n"
                "  kumo az-login --config-dir ~/.kumo-az && AZURE_CONFIG_DIR=~/.kumo-az az vm "
                "list\n"};
