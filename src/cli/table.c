/*
 * table.c - output: tables in the style of `az -o table` (a header, a
 * dashed rule, columns two spaces apart), lists as tables from their
 * column tables, key/value blocks for one resource, tab-separated values
 * (-o tsv: no header), JSON (-o json), the JSON member accessors, and the
 * little formatters the views share.
 */
#include "cli/cli.h"
#include "cli/query.h"

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
    const char *empty; /* what a missing cell prints */
    char **cells;      /* rows x ncols */
    size_t rows, cap;
    bool right[MAX_COLS];
};

struct table *table_new(int ncols, const char *const *headers)
{
    struct table *t = calloc(1, sizeof(*t));
    if (!t) oom();
    t->ncols = ncols > MAX_COLS ? MAX_COLS : ncols;
    t->header = headers != NULL;
    t->empty = "-";
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
        char *s = strdup(cells[i] && *cells[i] ? cells[i] : t->empty);
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

static void dump_json(const json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(15) | JSON_ENCODE_ANY);
    if (s) {
        puts(s);
        free(s);
    }
}

static const struct query *query;
static enum output query_fmt;
static bool query_failed;

void output_query(const struct query *q, enum output fmt)
{
    query = q;
    query_fmt = fmt;
}

bool output_failed(void)
{
    return query_failed;
}

static void print_result(const json_t *r, enum output fmt);

void print_json(const json_t *j)
{
    if (!query) {
        dump_json(j);
        return;
    }
    char err[256];
    json_t *r = query_eval(query, j, err, sizeof(err));
    if (!r) {
        fprintf(stderr, "kumo: --query: %s\n", err);
        query_failed = true;
        return;
    }
    print_result(r, query_fmt);
    json_decref(r);
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

/* A value as -o tsv prints it: strings as they are, numbers, true/false,
 * nothing for null, arrays of scalars joined by ",", other values as
 * compact JSON. */
static const char *raw_text(const json_t *v)
{
    if (!v) return NULL;
    switch (json_typeof(v)) {
    case JSON_STRING: return json_string_value(v);
    case JSON_INTEGER: return fmt_str("%lld", (long long)json_integer_value(v));
    case JSON_REAL: return fmt_str("%.15g", json_real_value(v));
    case JSON_TRUE: return "true";
    case JSON_FALSE: return "false";
    case JSON_ARRAY: {
        char *out = fmt_str("%s", "");
        size_t i;
        const json_t *x;
        json_array_foreach(v, i, x)
        {
            if (json_is_array(x) || json_is_object(x)) goto compact;
            const char *t = raw_text(x);
            out = fmt_str("%s%s%s", out, i ? "," : "", t ? t : "");
        }
        return out;
    }
    case JSON_OBJECT:
    compact : {
        char *s = json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(15) | JSON_ENCODE_ANY);
        const char *out = fmt_str("%s", s ? s : "");
        free(s);
        return out;
    }
    default: return NULL;
    }
}

static const char *cell(const json_t *item, const struct column *col, bool raw)
{
    if (raw && col->raw) return raw_text(member_at(item, col->raw));
    if (col->get) return col->get(item);
    const json_t *v = member_at(item, col->field);
    if (raw) {
        if (col->kind == CELL_COUNT) return fmt_str("%zu", json_array_size(v));
        if (col->kind == CELL_TAGS) return json_object_size(v) ? fmt_tags(v) : NULL;
        if (col->kind == CELL_INT || col->kind == CELL_MIB) return fmt_str("%lld", int_of(v));
        return raw_text(v);
    }
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

void print_items(struct cli *c, const json_t *items, const struct column *cols,
                 enum group_column group)
{
    if (c->out == OUT_JSON) {
        print_json(items);
        return;
    }
    bool tsv = c->out == OUT_TSV;
    bool first = group == GROUP_ALL && !tsv, last = group != GROUP_NONE && tsv;
    const char *h[MAX_COLS];
    int n = 0;
    if (first) h[n++] = "ResourceGroup";
    for (int i = 0; cols[i].header && n < MAX_COLS - 1; i++)
        h[n++] = cols[i].header;
    if (last) h[n++] = "ResourceGroup";
    struct table *t = table_new(n, h);
    if (tsv) t->empty = "";
    size_t i;
    const json_t *it;
    json_array_foreach(items, i, it)
    {
        const char *cells[MAX_COLS] = {0};
        int k = 0;
        if (first) cells[k++] = member_str(it, "resourceGroup");
        for (int col = 0; cols[col].header && k < MAX_COLS - 1; col++)
            cells[k++] = cell(it, &cols[col], tsv);
        if (last) cells[k++] = member_str(it, "resourceGroup");
        table_add(t, cells);
    }
    if (json_array_size(items) == 0 && c->out == OUT_TABLE)
        puts("(none)");
    else
        table_print(t, c->out);
    table_free(t);
}

/* ---- --query results ---- */

/* A column header from a key, as az prints them: "name" -> "Name". */
static const char *key_header(const char *k)
{
    char *h = fmt_str("%s", k);
    if (*h >= 'a' && *h <= 'z') *h = (char)(*h - 'a' + 'A');
    return h;
}

/* The columns of a result's rows: the union of the objects' keys, in
 * order of appearance; 0 when no row is an object. */
static int result_keys(const json_t *rows, const char **keys)
{
    int nk = 0;
    size_t i;
    const json_t *row;
    json_array_foreach(rows, i, row)
    {
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)row, k, v)
        {
            int j = 0;
            while (j < nk && strcmp(keys[j], k))
                j++;
            if (j == nk && nk < MAX_COLS) keys[nk++] = fmt_str("%s", k);
        }
    }
    return nk;
}

/* One row's cells: an object's values under keys, an array's elements, or
 * a scalar. */
static int result_cells(const json_t *row, const char **keys, int nk, const char **cells)
{
    int n = 0;
    if (json_is_object(row)) {
        for (; n < nk; n++)
            cells[n] = raw_text(json_object_get(row, keys[n]));
    } else if (json_is_array(row)) {
        for (; n < MAX_COLS && (size_t)n < json_array_size(row); n++)
            cells[n] = raw_text(json_array_get(row, (size_t)n));
    } else {
        cells[n++] = raw_text(row);
    }
    return n;
}

/* A --query result as az prints it with -o table (a table whose columns
 * are the objects' keys, or one "Result" column) or -o tsv (a line per
 * row, values tab-separated). */
static void print_result(const json_t *r, enum output fmt)
{
    if (fmt == OUT_JSON) {
        dump_json(r);
        return;
    }
    json_t *rows = json_is_array(r) ? json_incref((json_t *)r) : json_pack("[O]", r);
    const char *keys[MAX_COLS];
    int nk = result_keys(rows, keys);
    size_t i;
    const json_t *row;
    if (fmt == OUT_TSV) {
        json_array_foreach(rows, i, row)
        {
            const char *cells[MAX_COLS] = {0};
            int n = result_cells(row, keys, nk, cells);
            for (int k = 0; k < n; k++) {
                for (const char *p = cells[k] ? cells[k] : ""; *p; p++)
                    putchar(*p == '\t' || *p == '\n' || *p == '\r' ? ' ' : *p);
                putchar(k + 1 < n ? '\t' : '\n');
            }
            if (!n) putchar('\n');
        }
    } else if (!json_is_array(r) && !json_is_object(r)) {
        const char *s = raw_text(r);
        puts(s ? s : "");
    } else if (json_array_size(rows) == 0) {
        puts("(none)");
    } else {
        /* columns: the objects' keys; else ColumnN for lists of lists; else Result */
        size_t lists = 0, width = 0;
        json_array_foreach(rows, i, row)
        {
            if (!json_is_array(row)) continue;
            lists++;
            if (json_array_size(row) > width) width = json_array_size(row);
        }
        bool columns = !nk && lists == json_array_size(rows) && width;
        int ncols = nk ? nk : columns ? (int)(width < MAX_COLS ? width : MAX_COLS) : 1;
        const char *h[MAX_COLS] = {"Result"};
        for (int j = 0; j < nk; j++)
            h[j] = key_header(keys[j]);
        for (int j = 0; columns && j < ncols; j++)
            h[j] = fmt_str("Column%d", j + 1);
        struct table *t = table_new(ncols, h);
        json_array_foreach(rows, i, row)
        {
            const char *cells[MAX_COLS] = {0};
            if (nk && !json_is_object(row)) continue;
            if (nk || columns)
                result_cells(row, keys, nk, cells);
            else
                cells[0] = raw_text(row);
            table_add(t, cells);
        }
        table_print(t, fmt);
        table_free(t);
    }
    json_decref(rows);
}
