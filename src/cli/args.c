/*
 * args.c - command lines: parsing against a command's option table, help
 * pages, and the small checks every command shares (-g, -n, numbers, tags,
 * times).
 *
 * Options are GNU style: "--size B1s", "--size=B1s", "-g web", "-gweb".
 * List options ("--data-disk-sizes-gb 8 16") take the words that follow up
 * to the next option, as az does; they may also be repeated. Global options
 * (-o, --data-dir, --url, --token, --debug) are accepted anywhere.
 */
#include "cli/cli.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

const struct opt global_opts[] = {
    {"output", 'o', OPT_VALUE, "FORMAT", "table (default), json (for scripts) or tsv", NULL},
    {"data-dir", 0, OPT_VALUE, "DIR",
     "kumod's data directory: its socket DIR/kumod.sock and token DIR/token (default: "
     "$KUMO_DATA_DIR, else kumod's default: $XDG_STATE_HOME/kumo, ~/.local/state/kumo, "
     "or /var/lib/kumo for root)",
     NULL},
    {"url", 0, OPT_VALUE, "URL",
     "talk to kumod over TCP instead, e.g. http://127.0.0.1:8080 (default: $KUMO_URL)", NULL},
    {"token", 0, OPT_VALUE, "TOKEN", "the API token (default: $KUMO_TOKEN, else DIR/token)", NULL},
    {"query", 0, OPT_VALUE, "JMESPATH",
     "a JMESPath query on the JSON result, as az's --query, e.g. \"[?powerState=='Running']"
     ".name\" (printed as -o says: json, table or tsv)",
     NULL},
    {"debug", 0, OPT_FLAG, NULL, "print each HTTP request and answer on stderr", NULL},
    {"help", 'h', OPT_FLAG, NULL, "show this help", NULL},
    {0},
};

static const struct opt wait_opts[] = {
    {"no-wait", 0, OPT_FLAG, NULL,
     "return as soon as kumod has accepted the operation (it goes on in the background)", NULL},
    {"timeout", 0, OPT_VALUE, "SECONDS",
     "how long to wait for the operation (default 600); exit code 5 when it runs longer", NULL},
    {0},
};

static const struct opt yes_opts[] = {
    {"yes", 'y', OPT_FLAG, NULL,
     "delete without asking (kumo asks on a terminal; without one, --yes is required)", NULL},
    {0},
};

/* ---- small helpers ---- */

int edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64) return 99;
    int d[65][65];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            int m = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < m) m = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < m) m = d[i - 1][j - 1] + cost;
            /* a swap of two neighbours is one typo (B1sm for B1ms) */
            if (i > 1 && j > 1 &&
                tolower((unsigned char)a[i - 1]) == tolower((unsigned char)b[j - 2]) &&
                tolower((unsigned char)a[i - 2]) == tolower((unsigned char)b[j - 1]) &&
                d[i - 2][j - 2] + 1 < m)
                m = d[i - 2][j - 2] + 1;
            d[i][j] = m;
        }
    return d[la][lb];
}

int usage_error(const struct cli *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", c->prog);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nRun '%s --help' for usage.\n", c->prog);
    return KX_USAGE;
}

bool opt_answers(const struct opt *o, const char *word, size_t n)
{
    for (const char *p = o->name; *p;) {
        size_t len = strcspn(p, "|");
        if (len == n && strncmp(p, word, n) == 0) return true;
        p += len;
        if (*p) p++;
    }
    return false;
}

const char *opt_main(const struct opt *o)
{
    size_t len = strcspn(o->name, "|");
    return o->name[len] ? fmt_str("%.*s", (int)len, o->name) : o->name;
}

static int find_opt(const struct args *a, const char *name)
{
    for (int i = 0; i < a->nopts; i++)
        if (opt_answers(a->opts[i], name, strlen(name))) return i;
    return -1;
}

/* The name the user gave an option by: --tail for --lines|tail. */
static const char *spelled(const struct args *a, int i)
{
    return a->val[i].spelled ? a->val[i].spelled : opt_main(a->opts[i]);
}

static int find_short(const struct args *a, char s)
{
    for (int i = 0; i < a->nopts; i++)
        if (a->opts[i]->short_name == s) return i;
    return -1;
}

static const char *suggest_opt(const struct args *a, const char *name)
{
    const char *best = NULL;
    int bd = 3;
    for (int i = 0; i < a->nopts; i++) {
        const char *main = opt_main(a->opts[i]);
        int d = edit_distance(name, main);
        if (d < bd || (strlen(name) >= 4 && strstr(main, name) && bd > 1)) {
            bd = d < bd ? d : 1;
            best = main;
        }
    }
    return best;
}

static void add_value(struct args *a, int i, const char *v)
{
    const char **nv = realloc(a->val[i].v, sizeof(char *) * (size_t)(a->val[i].n + 1));
    if (!nv) {
        fprintf(stderr, "kumo: out of memory\n");
        exit(KX_ERROR);
    }
    a->val[i].v = nv;
    a->val[i].v[a->val[i].n++] = v;
    a->val[i].set = true;
}

static void add_opts(struct args *a, const struct opt *o)
{
    for (; o && o->name; o++)
        if (a->nopts < MAX_OPTS && find_opt(a, opt_main(o)) < 0) a->opts[a->nopts++] = o;
}

static const char *opt_label(const struct opt *o, const char *name)
{
    if (o->kind == OPT_FLAG) return fmt_str("--%s", name);
    return fmt_str("--%s %s", name, o->metavar ? o->metavar : "VALUE");
}

void args_free(struct args *a)
{
    for (int i = 0; i < MAX_OPTS; i++)
        free(a->val[i].v);
    memset(a, 0, sizeof(*a));
}

int args_parse(struct cli *c, struct args *a, const struct cmd *cmd, int argc, char **argv)
{
    memset(a, 0, sizeof(*a));
    a->cmd = cmd;
    a->dashdash = -1;
    add_opts(a, cmd->opts);
    if (cmd->waits) add_opts(a, wait_opts);
    if (cmd->confirms) add_opts(a, yes_opts);
    add_opts(a, global_opts);

    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) break;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_help(c, cmd, stdout);
            return -1;
        }
    }
    bool only_pos = false;
    for (int i = 0; i < argc; i++) {
        const char *w = argv[i];
        if (!only_pos && strcmp(w, "--") == 0) {
            only_pos = true;
            a->dashdash = a->npos;
            continue;
        }
        if (only_pos || w[0] != '-' || w[1] == 0) {
            if (a->npos >= MAX_POS || a->npos >= cmd->positionals) {
                if (cmd->positionals == 0)
                    return usage_error(c,
                                       "unexpected argument '%s' (this command takes only "
                                       "options)",
                                       w);
                return usage_error(c, "unexpected argument '%s' (the name is already '%s')", w,
                                   a->pos[0]);
            }
            a->pos[a->npos++] = w;
            continue;
        }
        int idx;
        const char *value = NULL;
        bool inline_value = false;
        if (w[1] == '-') {
            char name[96];
            const char *eq = strchr(w + 2, '=');
            size_t n = eq ? (size_t)(eq - (w + 2)) : strlen(w + 2);
            if (n >= sizeof(name)) n = sizeof(name) - 1;
            memcpy(name, w + 2, n);
            name[n] = 0;
            idx = find_opt(a, name);
            if (idx < 0) {
                const char *s = suggest_opt(a, name);
                if (s) return usage_error(c, "unknown option --%s (did you mean --%s?)", name, s);
                return usage_error(c, "unknown option --%s", name);
            }
            a->val[idx].spelled = fmt_str("%s", name);
            if (eq) {
                value = eq + 1;
                inline_value = true;
            }
        } else {
            idx = find_short(a, w[1]);
            if (idx < 0) return usage_error(c, "unknown option -%c", w[1]);
            if (w[2]) {
                value = w + 2;
                inline_value = true;
            }
        }
        const struct opt *o = a->opts[idx];
        const char *oname = spelled(a, idx);
        switch (o->kind) {
        case OPT_FLAG:
            if (inline_value) return usage_error(c, "--%s takes no value", oname);
            if (a->val[idx].set) return usage_error(c, "--%s is given twice", oname);
            add_value(a, idx, "1");
            break;
        case OPT_VALUE:
            if (a->val[idx].set) return usage_error(c, "%s is given twice", opt_label(o, oname));
            if (!inline_value) {
                if (i + 1 >= argc)
                    return usage_error(c, "%s: the option needs a value (%s)", opt_label(o, oname),
                                       o->help);
                value = argv[++i];
            }
            add_value(a, idx, value);
            break;
        case OPT_LIST:
            if (inline_value) {
                add_value(a, idx, value);
                break;
            }
            {
                int got = 0;
                while (i + 1 < argc && (argv[i + 1][0] != '-' || argv[i + 1][1] == 0)) {
                    add_value(a, idx, argv[++i]);
                    got++;
                }
                if (!got)
                    return usage_error(c, "--%s needs one or more values (%s)", oname, o->help);
            }
            break;
        }
    }
    return KX_OK;
}

const char *arg_size(const struct args *a)
{
    const char *s = arg_str(a, "size");
    if (s && strncasecmp(s, "Standard_", 9) == 0 && s[9]) return s + 9;
    return s;
}

bool arg_has(const struct args *a, const char *name)
{
    int i = find_opt(a, name);
    return i >= 0 && a->val[i].set;
}

const char *arg_str(const struct args *a, const char *name)
{
    int i = find_opt(a, name);
    if (i < 0 || !a->val[i].set) return NULL;
    return a->val[i].v[a->val[i].n - 1];
}

const char *const *arg_list(const struct args *a, const char *name, int *n)
{
    int i = find_opt(a, name);
    if (i < 0 || !a->val[i].set) {
        *n = 0;
        return NULL;
    }
    *n = a->val[i].n;
    return a->val[i].v;
}

static int parse_long(const char *s, long *out)
{
    char *end;
    if (!*s || isspace((unsigned char)*s)) return -1;
    long v = strtol(s, &end, 10);
    if (*end) return -1;
    *out = v;
    return 0;
}

int arg_long(struct cli *c, const struct args *a, const char *name, long min, long max, long *out)
{
    const char *s = arg_str(a, name);
    if (!s) return 0;
    long v;
    if (parse_long(s, &v) < 0 || v < min || v > max) {
        usage_error(c, "--%s: '%s' is not a whole number from %ld to %ld",
                    spelled(a, find_opt(a, name)), s, min, max);
        return -1;
    }
    *out = v;
    return 1;
}

int arg_double(struct cli *c, const struct args *a, const char *name, double min, double max,
               double *out)
{
    const char *s = arg_str(a, name);
    if (!s) return 0;
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end || !(v >= min && v <= max)) {
        usage_error(c, "--%s: '%s' is not a number from %g to %g", spelled(a, find_opt(a, name)), s,
                    min, max);
        return -1;
    }
    *out = v;
    return 1;
}

const char *opt_group(const struct args *a)
{
    const char *g = arg_str(a, "resource-group");
    if (!g || !*g) g = getenv("KUMO_GROUP");
    return g && *g ? g : NULL;
}

const char *need_group(struct cli *c, const struct args *a)
{
    const char *g = arg_str(a, "resource-group");
    if (!g) g = getenv("KUMO_GROUP");
    if (!g || !*g) {
        usage_error(c, "missing -g/--resource-group RG: name the resource group (or set "
                       "KUMO_GROUP); 'kumo group list' shows them, 'kumo group create -n RG' "
                       "makes one");
        return NULL;
    }
    return g;
}

const char *need_name(struct cli *c, const struct args *a, const char *what)
{
    const char *n = arg_str(a, "name");
    if (n && a->npos && strcmp(n, a->pos[0]) != 0) {
        usage_error(c, "two names given: -n %s and '%s'", n, a->pos[0]);
        return NULL;
    }
    if (!n && a->npos) n = a->pos[0];
    if (!n || !*n) {
        usage_error(c, "missing the %s's name: give it with -n NAME%s", what,
                    a->cmd->positionals ? " or as the last argument" : "");
        return NULL;
    }
    return n;
}

const char *need_opt(struct cli *c, const struct args *a, const char *name, const char *why)
{
    const char *v = arg_str(a, name);
    if (!v || !*v) {
        int i = find_opt(a, name);
        usage_error(c, "missing %s: %s",
                    i >= 0 ? opt_label(a->opts[i], opt_main(a->opts[i])) : name, why);
        return NULL;
    }
    return v;
}

json_t *parse_tags(struct cli *c, const struct args *a)
{
    int n;
    const char *const *v = arg_list(a, "tags", &n);
    json_t *o = json_object();
    for (int i = 0; i < n; i++) {
        if (!*v[i]) continue; /* --tags "" clears them */
        const char *eq = strchr(v[i], '=');
        if (!eq || eq == v[i]) {
            usage_error(c, "--tags: '%s' is not KEY=VALUE", v[i]);
            json_decref(o);
            return NULL;
        }
        char key[256];
        snprintf(key, sizeof(key), "%.*s", (int)(eq - v[i]), v[i]);
        json_object_set_new(o, key, json_string(eq + 1));
    }
    return o;
}

int tags_into(struct cli *c, const struct args *a, json_t *body)
{
    if (!arg_has(a, "tags")) return 0;
    json_t *tags = parse_tags(c, a);
    if (!tags) return -1;
    json_object_set_new(body, "tags", tags);
    return 0;
}

/* "KEY=VALUE" words of option name (after prefix, "tags." for --set) into
 * o; false after a usage error. */
static bool kv_words(struct cli *c, const struct args *a, const char *name, const char *prefix,
                     json_t *o)
{
    int n;
    const char *const *v = arg_list(a, name, &n);
    for (int i = 0; i < n; i++) {
        const char *w = v[i];
        if (*prefix && strncasecmp(w, prefix, strlen(prefix)) != 0) {
            usage_error(c, "--%s: '%s' is not %sKEY=VALUE (only tags can be set here)", name, w,
                        prefix);
            return false;
        }
        w += strlen(prefix);
        const char *eq = strchr(w, '=');
        if (!eq || eq == w) {
            usage_error(c, "--%s: '%s' is not %sKEY=VALUE", name, v[i], prefix);
            return false;
        }
        char key[256];
        snprintf(key, sizeof(key), "%.*s", (int)(eq - w), w);
        json_object_set_new(o, key, json_string(eq + 1));
    }
    return true;
}

/* Remove key from tags, case-insensitively (tag names are, as on Azure). */
static void tag_del(json_t *tags, const char *key)
{
    const char *k;
    json_t *v;
    void *tmp;
    json_object_foreach_safe(tags, tmp, k, v)
    {
        if (!strcasecmp(k, key)) json_object_del(tags, k);
    }
}

int tags_update(struct cli *c, const struct args *a, const char *path, json_t *body, bool *changed)
{
    *changed = false;
    bool merge = arg_has(a, "set") || arg_has(a, "add-tags") || arg_has(a, "remove");
    if (arg_has(a, "tags") && merge)
        return usage_error(c, "--tags replaces every tag; --set, --add-tags and --remove change "
                              "some: give one kind");
    if (arg_has(a, "tags")) {
        if (tags_into(c, a, body) < 0) return KX_USAGE;
        *changed = true;
        return KX_OK;
    }
    if (!merge) return KX_OK;
    json_t *add = json_object();
    if (!kv_words(c, a, "set", "tags.", add) || !kv_words(c, a, "add-tags", "", add)) {
        json_decref(add);
        return KX_USAGE;
    }
    int nr;
    const char *const *rm = arg_list(a, "remove", &nr);
    for (int i = 0; i < nr; i++)
        if (strncasecmp(rm[i], "tags.", 5) != 0 || !rm[i][5]) {
            json_decref(add);
            return usage_error(c, "--remove: '%s' is not tags.KEY", rm[i]);
        }
    json_t *cur;
    int rc = api(c, "GET", path, NULL, &cur);
    if (rc) {
        json_decref(add);
        return rc;
    }
    json_t *tags = json_deep_copy(json_object_get(cur, "tags"));
    json_decref(cur);
    if (!json_is_object(tags)) {
        json_decref(tags);
        tags = json_object();
    }
    const char *k;
    json_t *v;
    json_object_foreach(add, k, v)
    {
        tag_del(tags, k); /* one key, whatever its case */
        json_object_set(tags, k, v);
    }
    json_decref(add);
    for (int i = 0; i < nr; i++)
        tag_del(tags, rm[i] + 5);
    json_object_set_new(body, "tags", tags);
    *changed = true;
    return KX_OK;
}

static char *base64(const unsigned char *p, size_t n)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;
    if (!out) return NULL;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16;
        if (i + 1 < n) v |= (unsigned)p[i + 1] << 8;
        if (i + 2 < n) v |= p[i + 2];
        *o++ = tab[(v >> 18) & 63];
        *o++ = tab[(v >> 12) & 63];
        *o++ = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        *o++ = i + 2 < n ? tab[v & 63] : '=';
    }
    *o = 0;
    return out;
}

#define USER_DATA_MAX (64 * 1024)

int user_data_into(struct cli *c, const struct args *a, json_t *body)
{
    const char *file = arg_str(a, "user-data");
    if (!file) return 0;
    FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
    if (!f) {
        usage_error(c, "--user-data: cannot read %s: %s", file, strerror(errno));
        return -1;
    }
    unsigned char *buf = malloc(USER_DATA_MAX + 1);
    size_t n = buf ? fread(buf, 1, USER_DATA_MAX + 1, f) : 0;
    bool err = !buf || ferror(f);
    if (f != stdin) fclose(f);
    if (err || n > USER_DATA_MAX) {
        free(buf);
        usage_error(
            c, err ? "--user-data: cannot read %s" : "--user-data: %s is larger than 64 KiB", file);
        return -1;
    }
    char *b = base64(buf, n);
    free(buf);
    json_t *ud = b ? json_string(b) : NULL;
    free(b);
    if (!ud) {
        fprintf(stderr, "kumo: out of memory\n");
        exit(KX_ERROR);
    }
    json_object_set_new(body, "userData", ud);
    return 0;
}

const char *time_arg(struct cli *c, const struct args *a, const char *name, bool *bad)
{
    const char *s = arg_str(a, name);
    if (!s) return NULL;
    if (strcmp(s, "now") == 0) return fmt_str("%lld", (long long)time(NULL));
    size_t n = strlen(s);
    char unit = n ? s[n - 1] : 0;
    if (n >= 2 && strchr("smhd", unit)) {
        char *end;
        double v = strtod(s, &end);
        if (end == s + n - 1 && v >= 0 && isdigit((unsigned char)s[0])) {
            double mult = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : 86400;
            return fmt_str("%.3f", (double)time(NULL) - v * mult);
        }
        usage_error(c,
                    "--%s: '%s' is not a time: use RFC 3339 (2024-11-17T12:00:00Z), "
                    "seconds since the epoch, 'now', or an age such as 30m, 2h, 1d",
                    name, s);
        *bad = true;
        return NULL;
    }
    return s;
}

int confirm_delete(struct cli *c, const struct args *a, const char *question)
{
    assert(a->cmd->confirms);
    if (arg_has(a, "yes")) return KX_OK;
    if (!isatty(STDIN_FILENO))
        return usage_error(c, "stdin is not a terminal, so kumo cannot ask before it deletes: add "
                              "--yes to confirm (nothing was deleted)");
    fprintf(stderr, "%s [y/N] ", question);
    fflush(stderr);
    char line[64];
    if (fgets(line, sizeof(line), stdin) && (line[0] == 'y' || line[0] == 'Y')) return KX_OK;
    return usage_error(c, "not confirmed: nothing was deleted (--yes skips the question)");
}

/* ---- help ---- */

/* Print text wrapped at 79 columns, each line indented by `indent`, the
 * first line starting at column `col` (already printed). */
static void wrap(FILE *f, const char *text, int indent, int col)
{
    const char *p = text;
    bool first = true;
    while (*p) {
        if (*p == '\n') { /* paragraph break */
            fprintf(f, "\n\n%*s", indent, "");
            col = indent;
            first = true;
            p++;
            while (*p == ' ')
                p++;
            continue;
        }
        const char *e = p;
        while (*e && *e != ' ' && *e != '\n')
            e++;
        int wl = (int)(e - p);
        if (!first && col + 1 + wl > 79) {
            fprintf(f, "\n%*s", indent, "");
            col = indent;
            first = true;
        }
        if (!first) {
            fputc(' ', f);
            col++;
        }
        fprintf(f, "%.*s", wl, p);
        col += wl;
        first = false;
        p = e;
        while (*p == ' ')
            p++;
    }
    fputc('\n', f);
}

static void print_opts(FILE *f, const char *title, const struct opt *o)
{
    if (!o || !o->name) return;
    fprintf(f, "\n%s:\n", title);
    for (; o->name; o++) {
        char head[96];
        char names[96] = ""; /* aliases too: "lines, --tail" */
        for (const char *p = o->name; *p;) {
            size_t len = strcspn(p, "|"), at = strlen(names);
            snprintf(names + at, sizeof(names) - at, "%s%.*s", at ? ", --" : "", (int)len, p);
            p += len;
            if (*p) p++;
        }
        int n = o->short_name ? snprintf(head, sizeof(head), "  -%c, --%s", o->short_name, names)
                              : snprintf(head, sizeof(head), "      --%s", names);
        if (o->kind != OPT_FLAG && n > 0 && (size_t)n < sizeof(head))
            snprintf(head + n, sizeof(head) - (size_t)n, " %s%s", o->metavar ? o->metavar : "VALUE",
                     o->kind == OPT_LIST ? " ..." : "");
        int len = (int)strlen(head);
        fputs(head, f);
        if (len >= 31) {
            fprintf(f, "\n%*s", 32, "");
        } else {
            fprintf(f, "%*s", 32 - len, "");
        }
        wrap(f, o->help, 32, 32);
    }
}

void print_help(const struct cli *c, const struct cmd *cmd, FILE *f)
{
    if (cmd->sub) {
        fprintf(f, "Usage: %s COMMAND [options]\n\n", c->prog);
        wrap(f, cmd->help ? cmd->help : cmd->summary, 0, 0);
        fprintf(f, "\nCommands:\n");
        for (const struct cmd *const *s = cmd->sub; *s; s++) {
            int n = fprintf(f, "  %s", (*s)->name);
            fprintf(f, "%*s", n < 18 ? 18 - n : 1, "");
            wrap(f, (*s)->summary, 18, 18);
        }
        if (cmd->examples) {
            fprintf(f, "\nExamples:\n");
            fputs(cmd->examples, f);
        }
        fprintf(f, "\nRun '%s COMMAND --help' for a command's options.\n", c->prog);
        return;
    }
    int col = fprintf(f, "Usage: %s", c->prog);
    fputc(' ', f);
    const char *usage = cmd->usage ? cmd->usage : cmd->res ? res_usage(cmd) : NULL;
    wrap(f, usage ? usage : "[options]", 4, col + 1);
    fputc('\n', f);
    wrap(f, cmd->help ? cmd->help : cmd->summary, 0, 0);
    print_opts(f, "Options", cmd->opts);
    if (cmd->waits) print_opts(f, "Waiting", wait_opts);
    if (cmd->confirms) print_opts(f, "Confirmation", yes_opts);
    print_opts(f, "Global options", global_opts);
    if (cmd->examples) {
        fprintf(f, "\nExamples:\n");
        fputs(cmd->examples, f);
    }
}

void print_global_help(FILE *f)
{
    print_opts(f, "Global options (anywhere on the command line)", global_opts);
}
