/*
 * main.c - kumo, the command line client of kumod: the command tree (its
 * top level is commands.def), the global options, and main().
 *
 * kumo COMMAND... [options]: the words before the options pick a command
 * from the tree (kumo vm create, kumo nsg rule list); args.c parses the
 * rest against the command's option table; the command sends its requests
 * through http.c and prints with table.c. docs/user-guide-cloud.md is the
 * user's guide; docs/api.md the API it speaks.
 */
#include "cli/cli.h"
#include "cli/query.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef KUMO_VERSION
#define KUMO_VERSION "0.1.0"
#endif

/* ---- the command tree ---- */

static int run_version(struct cli *c, struct args *a)
{
    (void)a;
    if (c->out == OUT_JSON) {
        json_t *j = json_pack("{ss}", "version", KUMO_VERSION);
        print_json(j);
        json_decref(j);
    } else {
        printf("kumo %s\n", KUMO_VERSION);
    }
    return KX_OK;
}

const struct cmd cmd_version = {
    .name = "version",
    .summary = "Print kumo's version ('kumo status' shows kumod's)",
    .run = run_version,
};

static const struct cmd *const root_sub[] = {
#define CMD(n) &cmd_##n,
#include "cli/commands.def"
#undef CMD
    NULL,
};

const struct cmd cmd_root = {
    .name = "kumo",
    .summary = "kumo: the command line of kumod, kumo's cloud control plane",
    .help = "kumo provisions virtual machines, disks and networks on a kumod host the way "
            "az does on Azure: kumo vm create -g RG -n NAME --size B1s makes a VM with its "
            "network, disk and (with --public-ip) public IP.\n"
            "kumo finds kumod through its data directory (its socket DIR/kumod.sock and API "
            "token DIR/token): --data-dir DIR or $KUMO_DATA_DIR, else kumod's default "
            "($XDG_STATE_HOME/kumo, ~/.local/state/kumo, or /var/lib/kumo for root). Over TCP "
            "(kumod --listen-tcp): --url/$KUMO_URL with --token/$KUMO_TOKEN. -g defaults to "
            "$KUMO_GROUP.",
    .sub = root_sub,
    .examples = "  kumo group create -n web\n"
                "  kumo vm create -g web -n web1 --size B1s --public-ip\n"
                "  kumo vm list -o json\n"
                "  kumo cost --group-by vm\n",
};

static const char exit_codes[] =
    "\nExit codes:\n"
    "  0  success\n"
    "  1  kumod refused the request, or a long operation ended Failed\n"
    "  2  the command line is wrong (unknown command or option, missing or bad value)\n"
    "  3  not found: the resource (or its group) does not exist\n"
    "  4  conflict: the name exists, the resource is in use or in the wrong state, or\n"
    "     there is no capacity\n"
    "  5  timed out waiting for a long operation (it goes on in kumod)\n"
    "  6  cannot reach kumod (not running, wrong --data-dir or --url)\n"
    "  7  authentication: no token, or kumod refused it\n";

static const struct opt *global_opt(const char *w, bool *takes_value)
{
    for (const struct opt *o = global_opts; o->name; o++) {
        bool match;
        if (w[1] == '-') {
            size_t n = strcspn(w + 2, "=");
            match = opt_answers(o, w + 2, n);
            *takes_value = o->kind != OPT_FLAG && !strchr(w, '=');
        } else {
            match = o->short_name && w[1] == o->short_name;
            *takes_value = o->kind != OPT_FLAG && w[2] == 0;
        }
        if (match) return o;
    }
    return NULL;
}

static const struct cmd *find_sub(const struct cmd *node, const char *name)
{
    for (const struct cmd *const *s = node->sub; *s; s++)
        if (strcmp((*s)->name, name) == 0) return *s;
    /* a few az and shell habits */
    static const char *const alias[][2] = {
        {"ls", "list"},      {"rm", "delete"},    {"get", "show"},           {"rg", "group"},
        {"network", "vnet"}, {"ip", "public-ip"}, {"publicip", "public-ip"},
    };
    for (size_t i = 0; i < sizeof(alias) / sizeof(alias[0]); i++)
        if (strcmp(alias[i][0], name) == 0)
            for (const struct cmd *const *s = node->sub; *s; s++)
                if (strcmp((*s)->name, alias[i][1]) == 0) return *s;
    return NULL;
}

static int unknown_command(struct cli *c, const struct cmd *node, const char *w)
{
    const char *best = NULL;
    int bd = 3;
    for (const struct cmd *const *s = node->sub; *s; s++) {
        int d = edit_distance(w, (*s)->name);
        if (d < bd) {
            bd = d;
            best = (*s)->name;
        }
    }
    if (best) return usage_error(c, "unknown command '%s' (did you mean '%s'?)", w, best);
    char list[512] = "";
    for (const struct cmd *const *s = node->sub; *s; s++)
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
                 s == node->sub ? "" : ", ", (*s)->name);
    return usage_error(c, "unknown command '%s': one of %s", w, list);
}

static int apply_globals(struct cli *c, const struct args *a)
{
    const char *o = arg_str(a, "output");
    if (o) {
        if (strcmp(o, "table") == 0)
            c->out = OUT_TABLE;
        else if (strcmp(o, "json") == 0)
            c->out = OUT_JSON;
        else if (strcmp(o, "tsv") == 0)
            c->out = OUT_TSV;
        else
            return usage_error(c,
                               "-o/--output: '%s' is not an output format: use table, json "
                               "or tsv",
                               o);
    }
    const char *q = arg_str(a, "query");
    if (q) {
        char err[256];
        static struct query *parsed; /* lives until exit */
        if (!(parsed = query_parse(q, err, sizeof(err))))
            return usage_error(c,
                               "--query: %s (see https://jmespath.org; kumo knows the subset "
                               "in 'kumo --help')",
                               err);
        output_query(parsed, c->out);
        c->out = OUT_JSON;
    }
    const char *d = arg_str(a, "data-dir");
    if (d) {
        if (!*d) return usage_error(c, "--data-dir: the directory name is empty");
        snprintf(c->data_dir, sizeof(c->data_dir), "%s", d);
    }
    if (arg_str(a, "url")) c->url = arg_str(a, "url");
    if (arg_str(a, "token")) c->token = arg_str(a, "token");
    c->debug = arg_has(a, "debug");
    c->no_wait = arg_has(a, "no-wait");
    double t;
    int r = arg_double(c, a, "timeout", 0, 86400, &t);
    if (r < 0) return KX_USAGE;
    if (r > 0) c->timeout = t;
    return KX_OK;
}

static int run(struct cli *c, int argc, char **argv)
{
    char **rest = calloc((size_t)argc + 2, sizeof(char *));
    if (!rest) return KX_ERROR;
    int nrest = 0, i = 1, rc;
    bool help = false;
    const struct cmd *node = &cmd_root;
    if (argc > 1 && strcmp(argv[1], "help") == 0) {
        help = true;
        i = 2;
    }
    while (node->sub) {
        while (i < argc && argv[i][0] == '-' && argv[i][1]) {
            if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
                help = true;
                i++;
                continue;
            }
            if (strcmp(argv[i], "--version") == 0 && node == &cmd_root) {
                free(rest);
                return run_version(c, NULL);
            }
            bool takes;
            if (!global_opt(argv[i], &takes)) {
                free(rest);
                return usage_error(c,
                                   "unknown option %s (options go after the command, e.g. "
                                   "'%s COMMAND %s')",
                                   argv[i], c->prog, argv[i]);
            }
            rest[nrest++] = argv[i++];
            if (takes && i < argc) rest[nrest++] = argv[i++];
        }
        if (i >= argc) {
            free(rest);
            if (help) {
                print_help(c, node, stdout);
                if (node == &cmd_root) {
                    print_global_help(stdout);
                    fputs(exit_codes, stdout);
                }
                return KX_OK;
            }
            char list[512] = "";
            for (const struct cmd *const *s = node->sub; *s; s++)
                snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
                         s == node->sub ? "" : ", ", (*s)->name);
            return usage_error(c, "missing command: one of %s", list);
        }
        const struct cmd *next = find_sub(node, argv[i]);
        if (!next) {
            free(rest);
            return unknown_command(c, node, argv[i]);
        }
        snprintf(c->prog + strlen(c->prog), sizeof(c->prog) - strlen(c->prog), " %s", next->name);
        node = next;
        i++;
    }
    c->cmd = node;
    while (i < argc)
        rest[nrest++] = argv[i++];
    if (help) rest[nrest++] = "--help";
    struct args a;
    rc = args_parse(c, &a, node, nrest, rest);
    free(rest);
    if (rc == -1) {
        args_free(&a);
        return KX_OK;
    }
    if (rc == KX_OK) rc = apply_globals(c, &a);
    if (rc == KX_OK) rc = node->run(c, &a);
    args_free(&a);
    return rc;
}

int main(int argc, char **argv)
{
    static struct cli c;
    snprintf(c.prog, sizeof(c.prog), "kumo");
    c.timeout = 600;
    c.progress = isatty(STDERR_FILENO);
    int rc = run(&c, argc, argv);
    fflush(stdout);
    if (ferror(stdout) && rc == KX_OK) rc = KX_ERROR;
    if (output_failed() && rc == KX_OK) rc = KX_USAGE;
    http_cleanup(&c);
    fmt_str_free_all();
    return rc;
}
