/*
 * table.c - output: tables in the style of `az -o table` (a header, a
 * dashed rule, columns two spaces apart), lists as tables from their
 * column tables, key/value blocks for one resource, tab-separated values
 * (-o tsv: no header), JSON (-o json), the JSON member accessors, and the
 * little formatters the views share.
 */
#include "cli/cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- strings kept until exit ---- */

static char **pool;
static size_t pool_len, pool_cap;

static void oom(void)
{
    fprintf(stderr, "kumo: out of memory\n");
    exit(KX_ERROR);
}

char *fmt_str(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0) oom();
    va_end(ap);
    if (pool_len == pool_cap) {
        pool_cap = pool_cap * 2 + 64;
        char **np = realloc(pool, pool_cap * sizeof(char *));
        if (!np) oom();
        pool = np;
    }
    pool[pool_len++] = s;
    return s;
}

void fmt_str_free_all(void)
{
    for (size_t i = 0; i < pool_len; i++)
        free(pool[i]);
    free(pool);
    pool = NULL;
    pool_len = pool_cap = 0;
}

/* ---- tables ---- */

struct table {
    int ncols;
    bool header, kv;
    char **cells; /* rows x ncols */
    size_t rows, cap;
    bool right[MAX_COLS];
};

struct table *table_new(int ncols, const char *const *headers)
{
    struct table *t = calloc(1, sizeof(*t));
    if (!t) oom();
    t->ncols = ncols > MAX_COLS ? MAX_COLS : ncols;
    t->header = headers != NULL;
    if (headers) {
        const char *h[MAX_COLS];
        for (int i = 0; i < t->ncols; i++) {
            t->right[i] = headers[i][0] == '>';
            h[i] = headers[i] + t->right[i];
        }
        table_add(t, h);
    }
    return t;
}

void table_add(struct table *t, const char *const *cells)
{
    if (t->rows == t->cap) {
        t->cap = t->cap * 2 + 16;
        char **np = realloc(t->cells, t->cap * (size_t)t->ncols * sizeof(char *));
        if (!np) oom();
        t->cells = np;
    }
    for (int i = 0; i < t->ncols; i++) {
        char *s = strdup(cells[i] && *cells[i] ? cells[i] : "-");
        if (!s) oom();
        for (char *p = s; *p; p++)
            if (*p == '\t' || *p == '\n' || *p == '\r') *p = ' ';
        t->cells[t->rows * (size_t)t->ncols + (size_t)i] = s;
    }
    t->rows++;
}

static size_t width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80) w++;
    return w;
}

void table_print(struct table *t, enum output out)
{
    size_t w[MAX_COLS] = {0};
    size_t first = (out == OUT_TSV && t->header) ? 1 : 0;
    for (size_t r = 0; r < t->rows; r++)
        for (int i = 0; i < t->ncols; i++) {
            size_t l = width(t->cells[r * (size_t)t->ncols + (size_t)i]);
            if (l > w[i]) w[i] = l;
        }
    for (size_t r = first; r < t->rows; r++) {
        for (int i = 0; i < t->ncols; i++) {
            const char *s = t->cells[r * (size_t)t->ncols + (size_t)i];
            if (out == OUT_TSV) {
                if (t->kv && i == 0) {
                    /* keys without their colon */
                    size_t l = strlen(s);
                    printf("%.*s", (int)(l && s[l - 1] == ':' ? l - 1 : l), s);
                } else {
                    fputs(s, stdout);
                }
                putchar(i + 1 < t->ncols ? '\t' : '\n');
                continue;
            }
            size_t pad = w[i] - width(s);
            bool last = i + 1 == t->ncols;
            if (t->right[i]) printf("%*s", (int)pad, "");
            fputs(s, stdout);
            if (last) {
                putchar('\n');
            } else {
                if (!t->right[i]) printf("%*s", (int)pad, "");
                fputs("  ", stdout);
            }
        }
        if (r == 0 && t->header && out != OUT_TSV) {
            for (int i = 0; i < t->ncols; i++) {
                for (size_t k = 0; k < w[i]; k++)
                    putchar('-');
                fputs(i + 1 < t->ncols ? "  " : "\n", stdout);
            }
        }
    }
}

void table_free(struct table *t)
{
    if (!t) return;
    for (size_t i = 0; i < t->rows * (size_t)t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
}

struct table *kv_new(void)
{
    struct table *t = table_new(2, NULL);
    t->kv = true;
    return t;
}

void kv_add(struct table *t, const char *key, const char *value)
{
    ROW(t, fmt_str("%s:", key), value);
}

void kv_print(struct table *t, enum output out)
{
    table_print(t, out);
    table_free(t);
}

void print_json(const json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(15) | JSON_ENCODE_ANY);
    if (s) {
        puts(s);
        free(s);
    }
}

/* ---- JSON members ---- */

static const json_t *member(const json_t *o, const char *key)
{
    return o && json_is_object(o) ? json_object_get(o, key) : NULL;
}

const char *member_str(const json_t *o, const char *key)
{
    const json_t *v = member(o, key);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

const char *member_text(const json_t *o, const char *key)
{
    const char *s = member_str(o, key);
    return s ? s : "-";
}

static long long int_of(const json_t *v)
{
    if (json_is_integer(v)) return (long long)json_integer_value(v);
    if (!json_is_real(v)) return 0;
    double d = json_real_value(v); /* in range, or the conversion is undefined */
    return d > -9.2e18 && d < 9.2e18 ? (long long)d : 0;
}

long long member_int(const json_t *o, const char *key)
{
    return int_of(member(o, key));
}

double member_num(const json_t *o, const char *key)
{
    const json_t *v = member(o, key);
    return json_is_number(v) ? json_number_value(v) : 0.0;
}

bool member_bool(const json_t *o, const char *key)
{
    return json_is_true(member(o, key));
}

const json_t *member_at(const json_t *o, const char *path)
{
    char key[128];
    while (o && *path) {
        size_t n = strcspn(path, ".");
        if (n >= sizeof(key)) return NULL;
        memcpy(key, path, n);
        key[n] = 0;
        if (json_is_array(o)) {
            char *end;
            unsigned long i = strtoul(key, &end, 10);
            o = *key && !*end ? json_array_get(o, i) : NULL;
        } else {
            o = member(o, key);
        }
        path += n;
        if (*path) path++;
    }
    return o;
}

/* ---- formatters ---- */

const char *fmt_mib(long long mib)
{
    if (mib >= 1024 && mib % 1024 == 0) return fmt_str("%lld GiB", mib / 1024);
    if (mib >= 512 && mib % 512 == 0) return fmt_str("%.1f GiB", (double)mib / 1024.0);
    return fmt_str("%lld MiB", mib);
}

const char *lower(const char *s)
{
    char *l = fmt_str("%s", s);
    for (char *p = l; *p; p++)
        if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
    return l;
}

const char *fmt_money(double usd)
{
    return fmt_str("%.6f", usd);
}

const char *fmt_time(const char *t)
{
    if (!t) return "-";
    /* 2024-11-17T12:00:00.250Z -> 2024-11-17 12:00:00 */
    if (strlen(t) >= 19 && t[10] == 'T') return fmt_str("%.10s %.8s", t, t + 11);
    return t;
}

const char *join_strings(const json_t *arr, const char *sep)
{
    if (!json_is_array(arr) || json_array_size(arr) == 0) return "-";
    char *out = fmt_str("%s", "");
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i, v)
    {
        if (!json_is_string(v)) continue;
        out = fmt_str("%s%s%s", out, *out ? sep : "", json_string_value(v));
    }
    return out;
}

const char *fmt_tags(const json_t *tags)
{
    if (!json_is_object(tags) || json_object_size(tags) == 0) return "-";
    char *out = fmt_str("%s", "");
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)tags, k, v)
    {
        out = fmt_str("%s%s%s=%s", out, *out ? " " : "", k,
                      json_is_string(v) ? json_string_value(v) : "");
    }
    return out;
}

bool pip_port_failed(const json_t *pip, const json_t *port)
{
    size_t i;
    const json_t *e;
    json_array_foreach(json_object_get(pip, "portErrors"), i, e)
    {
        if (member_int(e, "port") == member_int(port, "port") &&
            strcasecmp(member_text(e, "protocol"), member_text(port, "protocol")) == 0)
            return true;
    }
    return false;
}

const char *fmt_state(const json_t *o)
{
    const char *p = member_text(o, "provisioningState");
    const json_t *e = json_object_get(o, "error");
    if (strcmp(p, "Failed") == 0 && member_str(e, "message"))
        return fmt_str("Failed: %s", member_str(e, "message"));
    return p;
}

/* ---- lists ---- */

static const char *cell(const json_t *item, const struct column *col)
{
    if (col->get) return col->get(item);
    const json_t *v = member_at(item, col->field);
    switch (col->kind) {
    case CELL_TEXT: return json_is_string(v) ? json_string_value(v) : NULL;
    case CELL_INT: return fmt_str("%lld", int_of(v));
    case CELL_MIB: return fmt_mib(int_of(v));
    case CELL_TIME: return fmt_time(json_is_string(v) ? json_string_value(v) : NULL);
    case CELL_LIST: return join_strings(v, ",");
    case CELL_COUNT: return fmt_str("%zu", json_array_size(v));
    case CELL_TAGS: return fmt_tags(v);
    case CELL_YESNO: return json_is_true(v) ? "yes" : "no";
    }
    return NULL;
}

void print_items(struct cli *c, const json_t *items, const struct column *cols, bool group_column)
{
    if (c->out == OUT_JSON) {
        print_json(items);
        return;
    }
    const char *h[MAX_COLS];
    int n = 0;
    if (group_column) h[n++] = "ResourceGroup";
    for (int i = 0; cols[i].header && n < MAX_COLS; i++)
        h[n++] = cols[i].header;
    struct table *t = table_new(n, h);
    size_t i;
    const json_t *it;
    json_array_foreach(items, i, it)
    {
        const char *cells[MAX_COLS] = {0};
        int k = 0;
        if (group_column) cells[k++] = member_str(it, "resourceGroup");
        for (int col = 0; k < n; col++)
            cells[k++] = cell(it, &cols[col]);
        table_add(t, cells);
    }
    if (json_array_size(items) == 0 && c->out == OUT_TABLE)
        puts("(none)");
    else
        table_print(t, c->out);
    table_free(t);
}
