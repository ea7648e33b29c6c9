/*
 * expr.c - the ARM template expression language (contract in expr.h):
 * a recursive-descent parser into a small tree, and an evaluator with the
 * pure functions of the language. Functions that need the deployment go to
 * the caller through expr_env.call.
 */
#include "cloud/arm/expr.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum nkind { N_STR, N_INT, N_CALL, N_MEMBER, N_INDEX };

struct node {
    enum nkind kind;
    char *s;        /* string literal, function name or member name */
    long long i;    /* integer literal */
    struct node *a; /* the value a member or index applies to */
    struct node *b; /* the index */
    struct node **args;
    int nargs;
};

struct expr {
    struct node *root;
    void **allocs; /* everything the tree owns */
    size_t nalloc, cap;
};

#define MAX_NODES 4096

/* ---- parser ---- */

struct parser {
    const char *s;
    size_t i, n;
    struct expr *x;
    struct arm_err *e;
    int depth;
    size_t nodes;
};

static void *own(struct parser *p, size_t size)
{
    struct expr *x = p->x;
    if (x->nalloc == x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 32;
        void **na = realloc(x->allocs, cap * sizeof(*na));
        if (!na) return NULL;
        x->allocs = na;
        x->cap = cap;
    }
    void *m = calloc(1, size);
    if (m) x->allocs[x->nalloc++] = m;
    return m;
}

static int perr(struct parser *p, const char *what)
{
    if (p->e->status) return -1;
    size_t show = p->n > 80 ? 80 : p->n;
    return arm_err_set(p->e, 400, "InvalidTemplate", NULL,
                       "The template language expression '[%.*s%s]' is not valid: %s at "
                       "position %zu.",
                       (int)show, p->s, show < p->n ? "..." : "", what, p->i + 1);
}

static void ws(struct parser *p)
{
    while (p->i < p->n &&
           (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r'))
        p->i++;
}

static bool name_char(char c, bool first)
{
    return isalpha((unsigned char)c) || c == '_' || c == '$' ||
           (!first && (isdigit((unsigned char)c) || c == '.' || c == '-'));
}

static struct node *new_node(struct parser *p, enum nkind k)
{
    if (++p->nodes > MAX_NODES) {
        perr(p, "the expression is too large");
        return NULL;
    }
    struct node *nd = own(p, sizeof(*nd));
    if (!nd) {
        perr(p, "out of memory");
        return NULL;
    }
    nd->kind = k;
    return nd;
}

static char *copy_range(struct parser *p, const char *from, size_t len)
{
    char *s = own(p, len + 1);
    if (!s) return NULL;
    memcpy(s, from, len);
    s[len] = 0;
    return s;
}

static struct node *parse_expr(struct parser *p);

static struct node *parse_string(struct parser *p)
{
    p->i++; /* the opening quote */
    /* the literal is at most as long as its source */
    size_t start = p->i, len = 0;
    char *buf = own(p, p->n - start + 1);
    if (!buf) {
        perr(p, "out of memory");
        return NULL;
    }
    for (;;) {
        if (p->i >= p->n) {
            p->i = start - 1;
            perr(p, "a string is not closed (a quote is missing)");
            return NULL;
        }
        char c = p->s[p->i++];
        if (c == '\'') {
            if (p->i < p->n && p->s[p->i] == '\'') {
                buf[len++] = '\'';
                p->i++;
                continue;
            }
            break;
        }
        buf[len++] = c;
    }
    buf[len] = 0;
    struct node *nd = new_node(p, N_STR);
    if (!nd) return NULL;
    nd->s = buf;
    return nd;
}

static struct node *parse_number(struct parser *p)
{
    size_t start = p->i;
    if (p->s[p->i] == '-') p->i++;
    if (p->i >= p->n || !isdigit((unsigned char)p->s[p->i]))
        return perr(p, "a number has no digits"), NULL;
    long long v = 0;
    bool neg = p->s[start] == '-';
    while (p->i < p->n && isdigit((unsigned char)p->s[p->i])) {
        int d = p->s[p->i] - '0';
        if (v > (LLONG_MAX - d) / 10) return perr(p, "a number is too large"), NULL;
        v = v * 10 + d;
        p->i++;
    }
    if (p->i < p->n && (p->s[p->i] == '.' || name_char(p->s[p->i], true)))
        return perr(p, "only whole numbers can be written in an expression (use json('1.5'))"),
               NULL;
    struct node *nd = new_node(p, N_INT);
    if (!nd) return NULL;
    nd->i = neg ? -v : v;
    return nd;
}

static struct node *parse_call(struct parser *p)
{
    size_t start = p->i;
    while (p->i < p->n && name_char(p->s[p->i], p->i == start))
        p->i++;
    size_t len = p->i - start;
    ws(p);
    if (p->i >= p->n || p->s[p->i] != '(') {
        p->i = start;
        return perr(p, "a name must be a function call: '(' is missing after it"), NULL;
    }
    p->i++;
    struct node *nd = new_node(p, N_CALL);
    if (!nd || !(nd->s = copy_range(p, p->s + start, len))) return perr(p, "out of memory"), NULL;
    struct node *args[EXPR_MAX_ARGS];
    int na = 0;
    ws(p);
    if (p->i < p->n && p->s[p->i] == ')') {
        p->i++;
        return nd;
    }
    for (;;) {
        if (na == EXPR_MAX_ARGS) return perr(p, "a function has too many arguments"), NULL;
        struct node *a = parse_expr(p);
        if (!a) return NULL;
        args[na++] = a;
        ws(p);
        if (p->i < p->n && p->s[p->i] == ',') {
            p->i++;
            continue;
        }
        if (p->i < p->n && p->s[p->i] == ')') {
            p->i++;
            break;
        }
        return perr(p, "',' or ')' expected in the arguments of a function"), NULL;
    }
    nd->args = own(p, sizeof(*nd->args) * (size_t)na);
    if (!nd->args) return perr(p, "out of memory"), NULL;
    memcpy(nd->args, args, sizeof(*args) * (size_t)na);
    nd->nargs = na;
    return nd;
}

static struct node *parse_expr(struct parser *p)
{
    if (++p->depth > EXPR_MAX_DEPTH) return perr(p, "the expression nests too deeply"), NULL;
    ws(p);
    struct node *nd;
    if (p->i >= p->n) {
        perr(p, "an expression ends where a value was expected");
        return NULL;
    }
    char c = p->s[p->i];
    if (c == '\'')
        nd = parse_string(p);
    else if (c == '-' || isdigit((unsigned char)c))
        nd = parse_number(p);
    else if (name_char(c, true))
        nd = parse_call(p);
    else
        return perr(p, "a value (a 'string', a number or a function call) was expected"), NULL;
    int chain = 0;
    while (nd) {
        ws(p);
        if (p->i >= p->n) break;
        if (p->s[p->i] == '.') {
            p->i++;
            ws(p);
            size_t start = p->i;
            while (p->i < p->n && (isalnum((unsigned char)p->s[p->i]) || p->s[p->i] == '_' ||
                                   p->s[p->i] == '$' || p->s[p->i] == '-'))
                p->i++;
            if (p->i == start) return perr(p, "a property name is missing after '.'"), NULL;
            struct node *m = new_node(p, N_MEMBER);
            if (!m || !(m->s = copy_range(p, p->s + start, p->i - start))) return NULL;
            m->a = nd;
            nd = m;
        } else if (p->s[p->i] == '[') {
            p->i++;
            struct node *ix = new_node(p, N_INDEX);
            if (!ix) return NULL;
            ix->a = nd;
            if (!(ix->b = parse_expr(p))) return NULL;
            ws(p);
            if (p->i >= p->n || p->s[p->i] != ']') return perr(p, "']' expected"), NULL;
            p->i++;
            nd = ix;
        } else {
            break;
        }
        if (++chain > EXPR_MAX_DEPTH) return perr(p, "the expression nests too deeply"), NULL;
    }
    p->depth--;
    return nd;
}

bool expr_is_expression(const char *s)
{
    size_t n = strlen(s);
    return n >= 2 && s[0] == '[' && s[1] != '[' && s[n - 1] == ']';
}

const char *expr_unescape(const char *s)
{
    size_t n = strlen(s);
    return (n >= 2 && s[0] == '[' && s[1] == '[' && s[n - 1] == ']') ? s + 1 : s;
}

void expr_free(struct expr *x)
{
    if (!x) return;
    for (size_t i = 0; i < x->nalloc; i++)
        free(x->allocs[i]);
    free(x->allocs);
    free(x);
}

struct expr *expr_parse(const char *s, struct arm_err *err)
{
    size_t n = strlen(s);
    if (n > EXPR_MAX_LEN)
        return arm_err_set(err, 400, "InvalidTemplate", NULL,
                           "A template language expression is %zu bytes long: %d at most.", n,
                           EXPR_MAX_LEN),
               NULL;
    if (!expr_is_expression(s))
        return arm_err_set(err, 400, "InvalidTemplate", NULL,
                           "'%.80s' is not a template language expression ('[...]').", s),
               NULL;
    struct expr *x = calloc(1, sizeof(*x));
    if (!x) return NULL;
    struct parser p = {.s = s + 1, .n = n - 2, .x = x, .e = err};
    x->root = parse_expr(&p);
    if (x->root) {
        ws(&p);
        if (p.i < p.n) {
            perr(&p, "unexpected text after the expression");
            x->root = NULL;
        }
    }
    if (!x->root) {
        if (!err->status) perr(&p, "not an expression");
        expr_free(x);
        return NULL;
    }
    return x;
}

static void visit(const struct node *nd, void (*fn)(void *, const char *, int), void *ctx)
{
    if (!nd) return;
    if (nd->kind == N_CALL) {
        fn(ctx, nd->s, nd->nargs);
        for (int i = 0; i < nd->nargs; i++)
            visit(nd->args[i], fn, ctx);
    }
    visit(nd->a, fn, ctx);
    visit(nd->b, fn, ctx);
}

void expr_visit_calls(const struct expr *x, void (*fn)(void *ctx, const char *name, int nargs),
                      void *ctx)
{
    visit(x->root, fn, ctx);
}

/* ---- evaluation ---- */

struct ev {
    const struct expr_env *env;
    struct arm_err *e;
};

static json_t *fail(struct ev *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static json_t *fail(struct ev *v, const char *fmt, ...)
{
    if (v->e->status) return NULL;
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    arm_err_set(v->e, 400, "InvalidTemplate", NULL, "%s", msg);
    return NULL;
}

static const char *tname(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "Object";
    case JSON_ARRAY: return "Array";
    case JSON_STRING: return "String";
    case JSON_INTEGER: return "Integer";
    case JSON_REAL: return "Float";
    case JSON_TRUE:
    case JSON_FALSE: return "Boolean";
    default: return "Null";
    }
}

/* A growing string. */
struct sb {
    char *s;
    size_t len, cap;
    bool oom;
};

static void sb_add(struct sb *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        if (cap > (1u << 24)) {
            b->oom = true;
            return;
        }
        char *ns = realloc(b->s, cap);
        if (!ns) {
            b->oom = true;
            return;
        }
        b->s = ns;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

static void sb_str(struct sb *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static json_t *sb_done(struct ev *v, struct sb *b)
{
    if (b->oom) {
        free(b->s);
        return fail(v, "A template function's result is too large (16 MiB at most).");
    }
    json_t *r = json_stringn(b->s ? b->s : "", b->len);
    free(b->s);
    if (!r) return fail(v, "A template function's result is not valid UTF-8 text.");
    return r;
}

/* Scalar to text as ARM's string()/concat()/format() write it. */
static bool scalar_text(const json_t *j, struct sb *b)
{
    char num[64];
    switch (json_typeof(j)) {
    case JSON_STRING: sb_add(b, json_string_value(j), json_string_length(j)); return true;
    case JSON_INTEGER:
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(j));
        sb_str(b, num);
        return true;
    case JSON_REAL:
        snprintf(num, sizeof(num), "%.17g", json_real_value(j));
        sb_str(b, num);
        return true;
    case JSON_TRUE: sb_str(b, "True"); return true;
    case JSON_FALSE: sb_str(b, "False"); return true;
    case JSON_NULL: return true;
    default: return false;
    }
}

static bool truthy(struct ev *v, const char *fn, const json_t *j, bool *out)
{
    if (json_is_boolean(j)) {
        *out = json_is_true(j);
        return true;
    }
    fail(v, "The template function '%s' expects a Boolean, not %s.", fn, tname(j));
    return false;
}

static bool want_int(struct ev *v, const char *fn, const json_t *j, long long *out)
{
    if (json_is_integer(j)) {
        *out = json_integer_value(j);
        return true;
    }
    fail(v, "The template function '%s' expects an Integer, not %s.", fn, tname(j));
    return false;
}

static bool want_str(struct ev *v, const char *fn, const json_t *j, const char **out)
{
    if (json_is_string(j)) {
        *out = json_string_value(j);
        return true;
    }
    fail(v, "The template function '%s' expects a String, not %s.", fn, tname(j));
    return false;
}

static json_t *eval_node(struct ev *v, const struct node *nd, int depth);

/* Case-insensitive object member. */
static json_t *member(const json_t *o, const char *name)
{
    json_t *r = json_object_get(o, name);
    if (r) return r;
    const char *k;
    json_t *val;
    json_object_foreach((json_t *)o, k, val)
    {
        if (!strcasecmp(k, name)) return val;
    }
    return NULL;
}

/* ---- uniqueString / guid: MurmurHash64A ---- */

static uint64_t murmur64(const void *key, size_t len, uint64_t seed)
{
    const uint64_t m = 0xc6a4a7935bd1e995ULL;
    const int r = 47;
    uint64_t h = seed ^ (len * m);
    const unsigned char *data = key;
    size_t blocks = len / 8;
    for (size_t i = 0; i < blocks; i++) {
        uint64_t k;
        memcpy(&k, data + 8 * i, 8);
        k *= m;
        k ^= k >> r;
        k *= m;
        h ^= k;
        h *= m;
    }
    const unsigned char *tail = data + 8 * blocks;
    switch (len & 7) {
    case 7: h ^= (uint64_t)tail[6] << 48; /* fall through */
    case 6: h ^= (uint64_t)tail[5] << 40; /* fall through */
    case 5: h ^= (uint64_t)tail[4] << 32; /* fall through */
    case 4: h ^= (uint64_t)tail[3] << 24; /* fall through */
    case 3: h ^= (uint64_t)tail[2] << 16; /* fall through */
    case 2: h ^= (uint64_t)tail[1] << 8;  /* fall through */
    case 1: h ^= (uint64_t)tail[0]; h *= m;
    }
    h ^= h >> r;
    h *= m;
    h ^= h >> r;
    return h;
}

static uint64_t hash_parts(const char *const *parts, int n, uint64_t seed)
{
    struct sb b = {0};
    for (int i = 0; i < n; i++) {
        if (i) sb_add(&b, "-", 1);
        sb_str(&b, parts[i]);
    }
    uint64_t h = murmur64(b.s ? b.s : "", b.len, seed);
    free(b.s);
    return h;
}

void expr_unique_string(const char *const *parts, int n, char out[14])
{
    static const char alpha[] = "abcdefghijklmnopqrstuvwxyz234567";
    uint64_t h = hash_parts(parts, n, 0);
    for (int i = 0; i < 13; i++) {
        out[i] = alpha[h & 31];
        h >>= 5;
    }
    out[13] = 0;
}

/* ---- base64 ---- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void b64_encode(const unsigned char *in, size_t n, struct sb *b)
{
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) |
                     (i + 2 < n ? in[i + 2] : 0);
        char q[4] = {b64[v >> 18], b64[(v >> 12) & 63], i + 1 < n ? b64[(v >> 6) & 63] : '=',
                     i + 2 < n ? b64[v & 63] : '='};
        sb_add(b, q, 4);
    }
}

static bool b64_decode(const char *s, struct sb *b)
{
    unsigned acc = 0;
    int bits = 0;
    size_t pad = 0;
    for (; *s; s++) {
        if (*s == '=') {
            pad++;
            continue;
        }
        if (pad) return false;
        const char *p = strchr(b64, *s);
        if (!p || !*s) return false;
        acc = (acc << 6) | (unsigned)(p - b64);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            char c = (char)((acc >> bits) & 0xff);
            sb_add(b, &c, 1);
        }
    }
    return pad <= 2;
}

/* ---- the functions ---- */

#define ARGC(lo, hi)                                                                               \
    do {                                                                                           \
        if (n < (lo) || n > (hi)) {                                                                \
            if ((lo) == (hi))                                                                      \
                return fail(v, "The template function '%s' expects %d argument%s, not %d.", name,  \
                            (lo), (lo) == 1 ? "" : "s", n);                                        \
            return fail(v, "The template function '%s' expects %d to %d arguments, not %d.", name, \
                        (lo), (hi), n);                                                            \
        }                                                                                          \
    } while (0)

static json_t *f_concat(struct ev *v, const char *name, json_t *const *a, int n)
{
    if (n == 0) return json_string("");
    if (json_is_array(a[0])) {
        json_t *r = json_array();
        for (int i = 0; i < n; i++) {
            if (!json_is_array(a[i])) {
                json_decref(r);
                return fail(v,
                            "The template function '%s' joins arrays or strings: argument %d "
                            "is %s.",
                            name, i + 1, tname(a[i]));
            }
            json_array_extend(r, a[i]);
        }
        return r;
    }
    struct sb b = {0};
    for (int i = 0; i < n; i++) {
        if (!scalar_text(a[i], &b)) {
            free(b.s);
            return fail(v, "The template function '%s' joins strings: argument %d is %s.", name,
                        i + 1, tname(a[i]));
        }
    }
    return sb_done(v, &b);
}

static json_t *f_format(struct ev *v, const char *name, json_t *const *a, int n)
{
    ARGC(1, EXPR_MAX_ARGS);
    const char *f;
    if (!want_str(v, name, a[0], &f)) return NULL;
    struct sb b = {0};
    for (const char *p = f; *p; p++) {
        if (*p == '{' && p[1] == '{') {
            sb_add(&b, "{", 1);
            p++;
        } else if (*p == '}' && p[1] == '}') {
            sb_add(&b, "}", 1);
            p++;
        } else if (*p == '{') {
            char *end;
            errno = 0;
            long ix = strtol(p + 1, &end, 10);
            int width = 0;
            char spec = 0;
            if (end == p + 1 || errno || ix < 0) goto bad;
            if (*end == ':') {
                spec = end[1];
                if (spec != 'D' && spec != 'd') goto bad;
                width = (int)strtol(end + 2, &end, 10);
                if (width < 0 || width > 64) goto bad;
            }
            if (*end != '}') goto bad;
            if (ix + 1 >= n) {
                free(b.s);
                return fail(v,
                            "The template function '%s': the format item {%ld} has no "
                            "argument (%d given after the format).",
                            name, ix, n - 1);
            }
            const json_t *arg = a[ix + 1];
            if (spec && json_is_integer(arg)) {
                char num[96];
                snprintf(num, sizeof(num), "%0*" JSON_INTEGER_FORMAT, width,
                         json_integer_value(arg));
                sb_str(&b, num);
            } else if (!scalar_text(arg, &b)) {
                char *t = json_dumps(arg, JSON_COMPACT | JSON_ENCODE_ANY);
                if (t) sb_str(&b, t);
                free(t);
            }
            p = end;
        } else if (*p == '}') {
            goto bad;
        } else {
            sb_add(&b, p, 1);
        }
    }
    return sb_done(v, &b);
bad:
    free(b.s);
    return fail(v,
                "The template function '%s': the format string '%.100s' is not valid "
                "('{0}', '{1:D3}'; '{{' and '}}' for braces).",
                name, f);
}

static json_t *f_string(struct ev *v, const char *name, json_t *const *a, int n)
{
    ARGC(1, 1);
    if (json_is_object(a[0]) || json_is_array(a[0])) {
        char *t = json_dumps(a[0], JSON_COMPACT);
        if (!t) return fail(v, "The template function '%s' could not write its argument.", name);
        json_t *r = json_string(t);
        free(t);
        return r;
    }
    struct sb b = {0};
    scalar_text(a[0], &b);
    return sb_done(v, &b);
}

static json_t *f_length(struct ev *v, const char *name, json_t *const *a, int n)
{
    ARGC(1, 1);
    if (json_is_string(a[0])) return json_integer((json_int_t)json_string_length(a[0]));
    if (json_is_array(a[0])) return json_integer((json_int_t)json_array_size(a[0]));
    if (json_is_object(a[0])) return json_integer((json_int_t)json_object_size(a[0]));
    return fail(v, "The template function '%s' expects a String, Array or Object, not %s.", name,
                tname(a[0]));
}

static bool is_empty(const json_t *j)
{
    return json_is_null(j) || (json_is_string(j) && json_string_length(j) == 0) ||
           (json_is_array(j) && json_array_size(j) == 0) ||
           (json_is_object(j) && json_object_size(j) == 0);
}

static json_t *f_contains(struct ev *v, const char *name, json_t *const *a, int n)
{
    ARGC(2, 2);
    if (json_is_string(a[0])) {
        struct sb b = {0};
        if (!scalar_text(a[1], &b)) {
            free(b.s);
            return fail(v, "The template function '%s' looks for a String in a String.", name);
        }
        bool r = strstr(json_string_value(a[0]), b.s ? b.s : "") != NULL;
        free(b.s);
        return json_boolean(r);
    }
    if (json_is_array(a[0])) {
        size_t i;
        json_t *x;
        json_array_foreach(a[0], i, x)
        {
            if (json_equal(x, a[1])) return json_true();
        }
        return json_false();
    }
    if (json_is_object(a[0])) {
        if (!json_is_string(a[1]))
            return fail(v, "The template function '%s' looks for a String key in an Object.", name);
        return json_boolean(member(a[0], json_string_value(a[1])) != NULL);
    }
    return fail(v, "The template function '%s' expects a String, Array or Object, not %s.", name,
                tname(a[0]));
}

static json_t *f_compare(struct ev *v, const char *name, json_t *const *a, int n)
{
    ARGC(2, 2);
    int c;
    if (json_is_integer(a[0]) && json_is_integer(a[1])) {
        json_int_t x = json_integer_value(a[0]), y = json_integer_value(a[1]);
        c = x < y ? -1 : x > y;
    } else if (json_is_number(a[0]) && json_is_number(a[1])) {
        double x = json_number_value(a[0]), y = json_number_value(a[1]);
        c = x < y ? -1 : x > y;
    } else if (json_is_string(a[0]) && json_is_string(a[1])) {
        c = strcmp(json_string_value(a[0]), json_string_value(a[1]));
    } else {
        return fail(v,
                    "The template function '%s' compares two Integers or two Strings, not %s "
                    "and %s.",
                    name, tname(a[0]), tname(a[1]));
    }
    if (!strcasecmp(name, "less")) return json_boolean(c < 0);
    if (!strcasecmp(name, "lessOrEquals")) return json_boolean(c <= 0);
    if (!strcasecmp(name, "greater")) return json_boolean(c > 0);
    return json_boolean(c >= 0);
}

static json_t *f_arith(struct ev *v, const char *name, json_t *const *a, int n)
{
    ARGC(2, 2);
    long long x, y, r;
    if (!want_int(v, name, a[0], &x) || !want_int(v, name, a[1], &y)) return NULL;
    bool ovf = false;
    if (!strcasecmp(name, "add"))
        ovf = __builtin_add_overflow(x, y, &r);
    else if (!strcasecmp(name, "sub"))
        ovf = __builtin_sub_overflow(x, y, &r);
    else if (!strcasecmp(name, "mul"))
        ovf = __builtin_mul_overflow(x, y, &r);
    else {
        if (y == 0) return fail(v, "The template function '%s' divides by zero.", name);
        if (x == LLONG_MIN && y == -1) {
            ovf = true;
            r = 0;
        } else {
            r = !strcasecmp(name, "div") ? x / y : x % y;
        }
    }
    if (ovf) return fail(v, "The template function '%s' overflows a 64-bit integer.", name);
    return json_integer(r);
}

static json_t *f_minmax(struct ev *v, const char *name, json_t *const *a, int n)
{
    ARGC(1, EXPR_MAX_ARGS);
    const json_t *const *vals = (const json_t *const *)a;
    size_t count = (size_t)n;
    json_t **tmp = NULL;
    if (n == 1 && json_is_array(a[0])) {
        count = json_array_size(a[0]);
        if (!count) return fail(v, "The template function '%s' got an empty array.", name);
        tmp = malloc(count * sizeof(*tmp));
        if (!tmp) return NULL;
        for (size_t i = 0; i < count; i++)
            tmp[i] = json_array_get(a[0], i);
        vals = (const json_t *const *)tmp;
    }
    bool max = !strcasecmp(name, "max");
    long long best = 0;
    for (size_t i = 0; i < count; i++) {
        if (!json_is_integer(vals[i])) {
            free(tmp);
            return fail(v, "The template function '%s' expects Integers, not %s.", name,
                        tname(vals[i]));
        }
        long long x = json_integer_value(vals[i]);
        if (i == 0 || (max ? x > best : x < best)) best = x;
    }
    free(tmp);
    return json_integer(best);
}

static json_t *f_case(struct ev *v, const char *name, json_t *const *a, int n)
{
    ARGC(1, 1);
    const char *s;
    if (!want_str(v, name, a[0], &s)) return NULL;
    char *c = strdup(s);
    if (!c) return NULL;
    bool upper = !strcasecmp(name, "toUpper");
    for (char *p = c; *p; p++)
        *p = (char)(upper ? toupper((unsigned char)*p) : tolower((unsigned char)*p));
    json_t *r = json_string(c);
    free(c);
    return r;
}

static json_t *f_trim(struct ev *v, const char *name, json_t *const *a, int n)
{
    ARGC(1, 1);
    const char *s;
    if (!want_str(v, name, a[0], &s)) return NULL;
    size_t len = strlen(s);
    while (len && isspace((unsigned char)s[len - 1]))
        len--;
    while (len && isspace((unsigned char)*s)) {
        s++;
        len--;
    }
    return json_stringn(s, len);
}

static json_t *f_replace(struct ev *v, const char *name, json_t *const *a, int n)
{
    ARGC(3, 3);
    const char *s, *from, *to;
    if (!want_str(v, name, a[0], &s) || !want_str(v, name, a[1], &from) ||
        !want_str(v, name, a[2], &to))
        return NULL;
    if (!*from) return json_string(s);
    struct sb b = {0};
    size_t fl = strlen(from);
    for (const char *p = s;;) {
        const char *hit = strstr(p, from);
        if (!hit) {
            sb_str(&b, p);
            break;
        }
        sb_add(&b, p, (size_t)(hit - p));
        sb_str(&b, to);
        p = hit + fl;
    }
    return sb_done(v, &b);
}

static json_t *f_substring(struct ev *v, const char *name, json_t *const *a, int n)
{
    ARGC(2, 3);
    const char *s;
    long long start, len;
    if (!want_str(v, name, a[0], &s) || !want_int(v, name, a[1], &start)) return NULL;
    long long sl = (long long)strlen(s);
    if (n == 3) {
        if (!want_int(v, name, a[2], &len)) return NULL;
    } else {
        len = sl - start;
    }
    if (start < 0 || len < 0 || start > sl || len > sl - start)
        return fail(v,
                    "The template function '%s': start %lld and length %lld do not fit in a "
                    "string of %lld characters.",
                    name, start, len, sl);
    return json_stringn(s + start, (size_t)len);
}

static json_t *f_split(struct ev *v, const char *name, json_t *const *a, int n)
{
    ARGC(2, 2);
    const char *s;
    if (!want_str(v, name, a[0], &s)) return NULL;
    json_t *delims = json_is_string(a[1]) ? json_pack("[O]", a[1]) : json_incref(a[1]);
    if (!json_is_array(delims) || !json_array_size(delims)) {
        json_decref(delims);
        return fail(v, "The template function '%s' splits on a String or an Array of Strings.",
                    name);
    }
    json_t *r = json_array();
    const char *p = s;
    for (;;) {
        const char *best = NULL;
        size_t blen = 0, i;
        json_t *d;
        json_array_foreach(delims, i, d)
        {
            const char *ds = json_string_value(d);
            if (!ds || !*ds) continue;
            const char *hit = strstr(p, ds);
            if (hit && (!best || hit < best)) {
                best = hit;
                blen = strlen(ds);
            }
        }
        if (!best) {
            json_array_append_new(r, json_string(p));
            break;
        }
        json_array_append_new(r, json_stringn(p, (size_t)(best - p)));
        p = best + blen;
    }
    json_decref(delims);
    return r;
}

static json_t *f_affix(struct ev *v, const char *name, json_t *const *a, int n)
{
    ARGC(2, 2);
    const char *s, *x;
    if (!want_str(v, name, a[0], &s) || !want_str(v, name, a[1], &x)) return NULL;
    size_t sl = strlen(s), xl = strlen(x);
    if (!strcasecmp(name, "startsWith")) return json_boolean(sl >= xl && !strncasecmp(s, x, xl));
    if (!strcasecmp(name, "endsWith"))
        return json_boolean(sl >= xl && !strncasecmp(s + sl - xl, x, xl));
    bool last = !strcasecmp(name, "lastIndexOf");
    long long found = -1;
    for (size_t i = 0; i + xl <= sl; i++)
        if (!strncasecmp(s + i, x, xl)) {
            found = (long long)i;
            if (!last) break;
        }
    return json_integer(found);
}

static json_t *f_padleft(struct ev *v, const char *name, json_t *const *a, int n)
{
    ARGC(2, 3);
    struct sb b = {0};
    if (!scalar_text(a[0], &b) || json_is_null(a[0])) {
        free(b.s);
        return fail(v, "The template function '%s' pads a String or an Integer.", name);
    }
    long long total;
    const char *pad = " ";
    if (!want_int(v, name, a[1], &total) || (n == 3 && !want_str(v, name, a[2], &pad))) {
        free(b.s);
        return NULL;
    }
    if (strlen(pad) != 1 || total < 0 || total > 16384) {
        free(b.s);
        return fail(v,
                    "The template function '%s' pads to at most 16384 characters with one "
                    "character.",
                    name);
    }
    struct sb r = {0};
    for (long long i = (long long)b.len; i < total; i++)
        sb_add(&r, pad, 1);
    sb_add(&r, b.s ? b.s : "", b.len);
    free(b.s);
    return sb_done(v, &r);
}

static json_t *f_base64(struct ev *v, const char *name, json_t *const *a, int n)
{
    ARGC(1, 1);
    const char *s;
    if (!want_str(v, name, a[0], &s)) return NULL;
    struct sb b = {0};
    if (!strcasecmp(name, "base64")) {
        b64_encode((const unsigned char *)s, strlen(s), &b);
        return sb_done(v, &b);
    }
    if (!b64_decode(s, &b)) {
        free(b.s);
        return fail(v, "The template function '%s': '%.60s' is not base64.", name, s);
    }
    return sb_done(v, &b);
}

static json_t *f_json(struct ev *v, const char *name, json_t *const *a, int n)
{
    ARGC(1, 1);
    const char *s;
    if (!want_str(v, name, a[0], &s)) return NULL;
    json_error_t je;
    json_t *r = json_loads(s, JSON_DECODE_ANY, &je);
    if (!r) return fail(v, "The template function '%s': not JSON: %s.", name, je.text);
    return r;
}

static json_t *f_int(struct ev *v, const char *name, json_t *const *a, int n)
{
    ARGC(1, 1);
    if (json_is_integer(a[0])) return json_incref(a[0]);
    if (json_is_string(a[0])) {
        const char *s = json_string_value(a[0]);
        char *end;
        errno = 0;
        long long x = strtoll(s, &end, 10);
        if (*s && !*end && !errno) return json_integer(x);
    }
    if (json_is_real(a[0])) return json_integer((json_int_t)json_real_value(a[0]));
    return fail(v, "The template function '%s' cannot make an Integer of %s.", name, tname(a[0]));
}

static json_t *f_bool(struct ev *v, const char *name, json_t *const *a, int n)
{
    ARGC(1, 1);
    if (json_is_boolean(a[0])) return json_incref(a[0]);
    if (json_is_integer(a[0])) return json_boolean(json_integer_value(a[0]) != 0);
    if (json_is_string(a[0])) {
        const char *s = json_string_value(a[0]);
        if (!strcasecmp(s, "true")) return json_true();
        if (!strcasecmp(s, "false")) return json_false();
    }
    return fail(v, "The template function '%s' cannot make a Boolean of %s.", name, tname(a[0]));
}

static json_t *f_firstlast(struct ev *v, const char *name, json_t *const *a, int n)
{
    ARGC(1, 1);
    bool first = !strcasecmp(name, "first");
    if (json_is_array(a[0])) {
        size_t sz = json_array_size(a[0]);
        if (!sz) return json_null();
        return json_incref(json_array_get(a[0], first ? 0 : sz - 1));
    }
    if (json_is_string(a[0])) {
        size_t sz = json_string_length(a[0]);
        if (!sz) return json_string("");
        return json_stringn(json_string_value(a[0]) + (first ? 0 : sz - 1), 1);
    }
    return fail(v, "The template function '%s' expects an Array or a String, not %s.", name,
                tname(a[0]));
}

static json_t *f_takeskip(struct ev *v, const char *name, json_t *const *a, int n)
{
    ARGC(2, 2);
    long long k;
    if (!want_int(v, name, a[1], &k)) return NULL;
    bool take = !strcasecmp(name, "take");
    if (json_is_array(a[0])) {
        long long sz = (long long)json_array_size(a[0]);
        if (k < 0) k = 0;
        if (k > sz) k = sz;
        json_t *r = json_array();
        for (long long i = take ? 0 : k; i < (take ? k : sz); i++)
            json_array_append(r, json_array_get(a[0], (size_t)i));
        return r;
    }
    if (json_is_string(a[0])) {
        long long sz = (long long)json_string_length(a[0]);
        if (k < 0) k = 0;
        if (k > sz) k = sz;
        const char *s = json_string_value(a[0]);
        return take ? json_stringn(s, (size_t)k) : json_stringn(s + k, (size_t)(sz - k));
    }
    return fail(v, "The template function '%s' expects an Array or a String, not %s.", name,
                tname(a[0]));
}

static json_t *f_union(struct ev *v, const char *name, json_t *const *a, int n)
{
    ARGC(1, EXPR_MAX_ARGS);
    bool obj = json_is_object(a[0]);
    json_t *r = obj ? json_object() : json_array();
    for (int i = 0; i < n; i++) {
        if (obj ? !json_is_object(a[i]) : !json_is_array(a[i])) {
            json_decref(r);
            return fail(v, "The template function '%s' combines Objects or Arrays, not %s.", name,
                        tname(a[i]));
        }
        if (obj) {
            json_object_update(r, a[i]);
            continue;
        }
        size_t j;
        json_t *x;
        json_array_foreach(a[i], j, x)
        {
            bool seen = false;
            size_t q;
            json_t *y;
            json_array_foreach(r, q, y)
            {
                if (json_equal(x, y)) seen = true;
            }
            if (!seen) json_array_append(r, x);
        }
    }
    return r;
}

static json_t *f_create_object(struct ev *v, const char *name, json_t *const *a, int n)
{
    if (n % 2) return fail(v, "The template function '%s' takes key, value pairs.", name);
    json_t *r = json_object();
    for (int i = 0; i < n; i += 2) {
        if (!json_is_string(a[i])) {
            json_decref(r);
            return fail(v, "The template function '%s': key %d is %s, not a String.", name,
                        i / 2 + 1, tname(a[i]));
        }
        json_object_set(r, json_string_value(a[i]), a[i + 1]);
    }
    return r;
}

static json_t *f_range(struct ev *v, const char *name, json_t *const *a, int n)
{
    ARGC(2, 2);
    long long start, count;
    if (!want_int(v, name, a[0], &start) || !want_int(v, name, a[1], &count)) return NULL;
    if (count < 0 || count > 10000 || start > LLONG_MAX - count)
        return fail(v, "The template function '%s' makes 0 to 10000 integers.", name);
    json_t *r = json_array();
    for (long long i = 0; i < count; i++)
        json_array_append_new(r, json_integer(start + i));
    return r;
}

static json_t *f_join(struct ev *v, const char *name, json_t *const *a, int n)
{
    ARGC(2, 2);
    const char *d;
    if (!json_is_array(a[0]) || !want_str(v, name, a[1], &d))
        return v->e->status ? NULL : fail(v, "The template function '%s' joins an Array.", name);
    struct sb b = {0};
    size_t i;
    json_t *x;
    json_array_foreach(a[0], i, x)
    {
        if (i) sb_str(&b, d);
        if (!json_is_string(x)) {
            free(b.s);
            return fail(v, "The template function '%s' joins Strings: item %zu is %s.", name, i,
                        tname(x));
        }
        sb_str(&b, json_string_value(x));
    }
    return sb_done(v, &b);
}

static json_t *f_unique(struct ev *v, const char *name, json_t *const *a, int n)
{
    ARGC(1, EXPR_MAX_ARGS);
    const char *parts[EXPR_MAX_ARGS];
    for (int i = 0; i < n; i++)
        if (!want_str(v, name, a[i], &parts[i])) return NULL;
    if (!strcasecmp(name, "uniqueString")) {
        char out[14];
        expr_unique_string(parts, n, out);
        return json_string(out);
    }
    /* guid(): a name-based UUID (version 5 layout) from two hashes */
    uint64_t h1 = hash_parts(parts, n, 0x6b756d6f), h2 = hash_parts(parts, n, 0x61726d21);
    unsigned char u[16];
    memcpy(u, &h1, 8);
    memcpy(u + 8, &h2, 8);
    u[6] = (unsigned char)((u[6] & 0x0f) | 0x50);
    u[8] = (unsigned char)((u[8] & 0x3f) | 0x80);
    char s[37];
    snprintf(s, sizeof(s), "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
             u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
             u[14], u[15]);
    return json_string(s);
}

typedef json_t *(*fn_t)(struct ev *v, const char *name, json_t *const *a, int n);

static const struct {
    const char *name;
    fn_t fn;
} fns[] = {
    {"concat", f_concat},
    {"format", f_format},
    {"string", f_string},
    {"length", f_length},
    {"contains", f_contains},
    {"less", f_compare},
    {"lessOrEquals", f_compare},
    {"greater", f_compare},
    {"greaterOrEquals", f_compare},
    {"add", f_arith},
    {"sub", f_arith},
    {"mul", f_arith},
    {"div", f_arith},
    {"mod", f_arith},
    {"min", f_minmax},
    {"max", f_minmax},
    {"toLower", f_case},
    {"toUpper", f_case},
    {"trim", f_trim},
    {"replace", f_replace},
    {"substring", f_substring},
    {"split", f_split},
    {"startsWith", f_affix},
    {"endsWith", f_affix},
    {"indexOf", f_affix},
    {"lastIndexOf", f_affix},
    {"padLeft", f_padleft},
    {"base64", f_base64},
    {"base64ToString", f_base64},
    {"json", f_json},
    {"int", f_int},
    {"bool", f_bool},
    {"first", f_firstlast},
    {"last", f_firstlast},
    {"take", f_takeskip},
    {"skip", f_takeskip},
    {"union", f_union},
    {"createObject", f_create_object},
    {"range", f_range},
    {"join", f_join},
    {"uniqueString", f_unique},
    {"guid", f_unique},
};

/* Evaluate the arguments of a call; 0 or -1. */
static int eval_args(struct ev *v, const struct node *nd, json_t **out, int depth)
{
    for (int i = 0; i < nd->nargs; i++) {
        out[i] = eval_node(v, nd->args[i], depth + 1);
        if (!out[i]) {
            for (int j = 0; j < i; j++)
                json_decref(out[j]);
            return -1;
        }
    }
    return 0;
}

static void free_args(json_t **a, int n)
{
    for (int i = 0; i < n; i++)
        json_decref(a[i]);
}

/* The lazy ones: if, and, or, coalesce. NULL + *handled=false otherwise. */
static json_t *lazy(struct ev *v, const struct node *nd, int depth, bool *handled)
{
    const char *name = nd->s;
    int n = nd->nargs;
    *handled = true;
    if (!strcasecmp(name, "if")) {
        ARGC(3, 3);
        json_t *c = eval_node(v, nd->args[0], depth + 1);
        if (!c) return NULL;
        bool t;
        bool ok = truthy(v, name, c, &t);
        json_decref(c);
        if (!ok) return NULL;
        return eval_node(v, nd->args[t ? 1 : 2], depth + 1);
    }
    if (!strcasecmp(name, "and") || !strcasecmp(name, "or")) {
        ARGC(1, EXPR_MAX_ARGS);
        bool is_and = !strcasecmp(name, "and");
        for (int i = 0; i < n; i++) {
            json_t *c = eval_node(v, nd->args[i], depth + 1);
            if (!c) return NULL;
            bool t;
            bool ok = truthy(v, name, c, &t);
            json_decref(c);
            if (!ok) return NULL;
            if (is_and && !t) return json_false();
            if (!is_and && t) return json_true();
        }
        return json_boolean(is_and);
    }
    if (!strcasecmp(name, "coalesce")) {
        for (int i = 0; i < n; i++) {
            json_t *c = eval_node(v, nd->args[i], depth + 1);
            if (!c) return NULL;
            if (!json_is_null(c)) return c;
            json_decref(c);
        }
        return json_null();
    }
    *handled = false;
    return NULL;
}

static json_t *call(struct ev *v, const struct node *nd, int depth)
{
    bool handled;
    json_t *r = lazy(v, nd, depth, &handled);
    if (handled) return r;
    const char *name = nd->s;
    json_t *a[EXPR_MAX_ARGS];
    int n = nd->nargs;
    if (eval_args(v, nd, a, depth) < 0) return NULL;
    r = NULL;
    bool done = true;
    if (!strcasecmp(name, "true") || !strcasecmp(name, "false") || !strcasecmp(name, "null")) {
        if (n)
            fail(v, "The template function '%s' takes no arguments.", name);
        else
            r = !strcasecmp(name, "null") ? json_null() : json_boolean(!strcasecmp(name, "true"));
    } else if (!strcasecmp(name, "not")) {
        bool t;
        if (n != 1)
            fail(v, "The template function 'not' expects 1 argument, not %d.", n);
        else if (truthy(v, name, a[0], &t))
            r = json_boolean(!t);
    } else if (!strcasecmp(name, "equals")) {
        if (n != 2)
            fail(v, "The template function 'equals' expects 2 arguments, not %d.", n);
        else
            r = json_boolean(json_equal(a[0], a[1]));
    } else if (!strcasecmp(name, "empty")) {
        if (n != 1)
            fail(v, "The template function 'empty' expects 1 argument, not %d.", n);
        else
            r = json_boolean(is_empty(a[0]));
    } else if (!strcasecmp(name, "createArray")) {
        r = json_array();
        for (int i = 0; i < n; i++)
            json_array_append(r, a[i]);
    } else if (!strcasecmp(name, "array")) {
        if (n != 1)
            fail(v, "The template function 'array' expects 1 argument, not %d.", n);
        else
            r = json_is_array(a[0]) ? json_incref(a[0]) : json_pack("[O]", a[0]);
    } else {
        done = false;
        for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
            if (!strcasecmp(fns[i].name, name)) {
                r = fns[i].fn(v, fns[i].name, a, n);
                done = true;
                break;
            }
    }
    if (!done) {
        bool unknown = false;
        if (v->env && v->env->call)
            r = v->env->call(v->env->ctx, name, a, n, &unknown, v->e);
        else
            unknown = true;
        if (unknown)
            fail(v, "The template function '%.60s' is not valid: kumo does not know it.", name);
    }
    free_args(a, n);
    if (!r && !v->e->status) fail(v, "The template function '%.60s' failed.", name);
    return r;
}

static json_t *eval_node(struct ev *v, const struct node *nd, int depth)
{
    if (depth > 4 * EXPR_MAX_DEPTH) return fail(v, "The expression nests too deeply.");
    switch (nd->kind) {
    case N_STR: {
        json_t *s = json_string(nd->s);
        return s ? s : fail(v, "A string literal is not valid UTF-8 text.");
    }
    case N_INT: return json_integer(nd->i);
    case N_CALL: return call(v, nd, depth);
    case N_MEMBER: {
        json_t *o = eval_node(v, nd->a, depth + 1);
        if (!o) return NULL;
        if (!json_is_object(o)) {
            const char *t = tname(o);
            json_decref(o);
            return fail(v,
                        "The language expression property '%.60s' cannot be read from %s: "
                        "only an Object has properties.",
                        nd->s, t);
        }
        json_t *m = member(o, nd->s);
        if (!m) {
            json_decref(o);
            return fail(v, "The language expression property '%.60s' doesn't exist.", nd->s);
        }
        json_incref(m);
        json_decref(o);
        return m;
    }
    case N_INDEX: {
        json_t *o = eval_node(v, nd->a, depth + 1);
        if (!o) return NULL;
        json_t *ix = eval_node(v, nd->b, depth + 1);
        if (!ix) {
            json_decref(o);
            return NULL;
        }
        json_t *r = NULL;
        if (json_is_array(o) && json_is_integer(ix)) {
            json_int_t i = json_integer_value(ix);
            if (i < 0 || (size_t)i >= json_array_size(o))
                fail(v,
                     "The language expression index %" JSON_INTEGER_FORMAT
                     " is out of range: the array has %zu items.",
                     i, json_array_size(o));
            else
                r = json_incref(json_array_get(o, (size_t)i));
        } else if (json_is_object(o) && json_is_string(ix)) {
            r = member(o, json_string_value(ix));
            if (r)
                json_incref(r);
            else
                fail(v, "The language expression property '%.60s' doesn't exist.",
                     json_string_value(ix));
        } else {
            fail(v,
                 "The language expression cannot index %s with %s (an Array takes an "
                 "Integer, an Object a String).",
                 tname(o), tname(ix));
        }
        json_decref(o);
        json_decref(ix);
        return r;
    }
    }
    return fail(v, "Bad expression node.");
}

json_t *expr_eval(const struct expr *x, const struct expr_env *env, struct arm_err *err)
{
    struct ev v = {.env = env, .e = err};
    return eval_node(&v, x->root, 0);
}

json_t *expr_eval_string(const char *s, const struct expr_env *env, struct arm_err *err)
{
    struct expr *x = expr_parse(s, err);
    if (!x) return NULL;
    json_t *r = expr_eval(x, env, err);
    expr_free(x);
    return r;
}
