/*
 * query.c - a subset of JMESPath for kumo's --query (see query.h): a lexer,
 * a Pratt parser with JMESPath's binding powers, and a tree interpreter
 * over jansson values. The parser follows the grammar of the JMESPath
 * specification (projections bind the rest of the expression to each
 * element; a projection stops at a token of binding power below 10).
 */
#include "cli/query.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- tokens ---- */

enum tok {
    T_EOF,
    T_IDENT,  /* unquoted identifier */
    T_QIDENT, /* "quoted identifier" */
    T_NUMBER,
    T_LITERAL, /* `json` or 'raw' */
    T_DOT,
    T_STAR,
    T_LBRACKET,
    T_RBRACKET,
    T_FILTER,  /* [? */
    T_FLATTEN, /* [] */
    T_LBRACE,
    T_RBRACE,
    T_LPAREN,
    T_RPAREN,
    T_COMMA,
    T_COLON,
    T_PIPE,
    T_OR,
    T_AND,
    T_NOT,
    T_EQ,
    T_NE,
    T_LT,
    T_LE,
    T_GT,
    T_GE,
    T_CURRENT, /* @ */
    T_EXPREF,  /* & */
};

/* JMESPath's binding powers (how tightly a token binds to its left). */
static const int power[T_EXPREF + 1] = {
    [T_PIPE] = 1,      [T_OR] = 2,      [T_AND] = 3,  [T_EQ] = 5,   [T_NE] = 5,
    [T_LT] = 5,        [T_LE] = 5,      [T_GT] = 5,   [T_GE] = 5,   [T_FLATTEN] = 9,
    [T_STAR] = 20,     [T_FILTER] = 21, [T_DOT] = 40, [T_NOT] = 45, [T_LBRACE] = 50,
    [T_LBRACKET] = 55, [T_LPAREN] = 60,
};

struct token {
    enum tok type;
    size_t pos;
    char *text;    /* identifiers */
    long long num; /* numbers */
    json_t *value; /* literals */
};

/* ---- the tree ---- */

enum node_type {
    N_CURRENT,
    N_FIELD,
    N_SUBEXPR, /* a[0] then a[1] */
    N_INDEX,
    N_SLICE,
    N_INDEX_EXPR, /* a[0] applied, then a[1] on its result */
    N_PROJECT,    /* a[0] a list; a[1] on each element */
    N_VALUES,     /* a[0] an object; a[1] on each value */
    N_FLATTEN,
    N_FILTER, /* a[0] a list; keep elements where a[2]; a[1] on each */
    N_COMPARE,
    N_OR,
    N_AND,
    N_NOT,
    N_LITERAL,
    N_LIST, /* multi-select list */
    N_HASH, /* multi-select hash: keys[i] -> a[i] */
    N_PIPE,
    N_FUNCTION,
    N_EXPREF,
};

struct node {
    enum node_type type;
    struct node **kids;
    size_t nkids;
    char **keys;   /* N_HASH */
    char *name;    /* N_FIELD, N_FUNCTION */
    long long num; /* N_INDEX */
    long long slice[3];
    bool has[3]; /* slice parts given */
    enum tok op; /* N_COMPARE */
    json_t *value;
};

struct query {
    struct node *root;
};

struct parser {
    const char *src;
    struct token *toks;
    size_t ntok, cap, at;
    int depth;
    char *err;
    size_t errlen;
    bool failed;
};

static void fail(struct parser *p, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(struct parser *p, size_t pos, const char *fmt, ...)
{
    if (p->failed) return;
    p->failed = true;
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(p->err, p->errlen, "%s at column %zu", msg, pos + 1);
}

static void *xcalloc(size_t n, size_t size)
{
    void *v = calloc(n ? n : 1, size);
    if (!v) {
        fputs("kumo: out of memory\n", stderr);
        exit(1);
    }
    return v;
}

static void node_free(struct node *n)
{
    if (!n) return;
    for (size_t i = 0; i < n->nkids; i++) {
        node_free(n->kids[i]);
        if (n->keys) free(n->keys[i]);
    }
    free(n->kids);
    free(n->keys);
    free(n->name);
    json_decref(n->value);
    free(n);
}

static struct node *mk(enum node_type t, size_t nkids, ...)
{
    struct node *n = xcalloc(1, sizeof(*n));
    n->type = t;
    n->nkids = nkids;
    n->kids = xcalloc(nkids, sizeof(*n->kids));
    va_list ap;
    va_start(ap, nkids);
    for (size_t i = 0; i < nkids; i++)
        n->kids[i] = va_arg(ap, struct node *);
    va_end(ap);
    return n;
}

static void add_kid(struct node *n, struct node *k)
{
    struct node **nk = realloc(n->kids, (n->nkids + 1) * sizeof(*nk));
    if (!nk) {
        fputs("kumo: out of memory\n", stderr);
        exit(1);
    }
    n->kids = nk;
    n->kids[n->nkids++] = k;
}

/* ---- the lexer ---- */

static void push(struct parser *p, struct token t)
{
    if (p->ntok == p->cap) {
        p->cap = p->cap * 2 + 16;
        struct token *nt = realloc(p->toks, p->cap * sizeof(*nt));
        if (!nt) {
            fputs("kumo: out of memory\n", stderr);
            exit(1);
        }
        p->toks = nt;
    }
    p->toks[p->ntok++] = t;
}

/* The text between delimiters q at s[*i] (escapes kept as they are), with
 * *i moved past the closing one; NULL when it does not close. */
static char *delimited(const char *s, size_t *i, char q)
{
    size_t start = ++*i;
    while (s[*i] && s[*i] != q) {
        if (s[*i] == '\\' && s[*i + 1]) ++*i;
        ++*i;
    }
    if (!s[*i]) return NULL;
    char *out = xcalloc(*i - start + 1, 1);
    memcpy(out, s + start, *i - start);
    ++*i;
    return out;
}

/* Remove the backslash before each `q` (and before a backslash, for raw
 * strings: \\ is one backslash). */
static void unescape(char *s, char q)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (*r == '\\' && (r[1] == q || (q == '\'' && r[1] == '\\'))) r++;
        *w++ = *r;
    }
    *w = 0;
}

static void lex(struct parser *p)
{
    const char *s = p->src;
    size_t i = 0;
    while (!p->failed) {
        while (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')
            i++;
        struct token t = {.pos = i};
        char c = s[i];
        if (!c) {
            t.type = T_EOF;
            push(p, t);
            return;
        }
        if (isalpha((unsigned char)c) || c == '_') {
            size_t j = i;
            while (isalnum((unsigned char)s[j]) || s[j] == '_')
                j++;
            t.type = T_IDENT;
            t.text = xcalloc(j - i + 1, 1);
            memcpy(t.text, s + i, j - i);
            i = j;
        } else if (isdigit((unsigned char)c) || (c == '-' && isdigit((unsigned char)s[i + 1]))) {
            char *end;
            t.type = T_NUMBER;
            t.num = strtoll(s + i, &end, 10);
            if (end - (s + i) > 18) {
                fail(p, i, "the number is too large");
                return;
            }
            i = (size_t)(end - s);
        } else if (c == '"') {
            char *raw = delimited(s, &i, '"');
            if (!raw) {
                fail(p, t.pos, "a quoted identifier does not end (no closing \")");
                return;
            }
            /* a JSON string */
            char *js = xcalloc(strlen(raw) + 3, 1);
            sprintf(js, "\"%s\"", raw);
            free(raw);
            json_t *v = json_loads(js, JSON_DECODE_ANY, NULL);
            free(js);
            if (!json_is_string(v)) {
                json_decref(v);
                fail(p, t.pos, "a quoted identifier has a bad escape");
                return;
            }
            t.type = T_QIDENT;
            t.text = strdup(json_string_value(v));
            json_decref(v);
            if (!t.text) exit(1);
        } else if (c == '\'' || c == '`') { /* 'raw string' or `json` */
            bool str = c == '\'';
            char *raw = delimited(s, &i, c);
            if (!raw) {
                fail(p, t.pos, "%s does not end (no closing %c)",
                     str ? "a raw string" : "a literal", c);
                return;
            }
            unescape(raw, c);
            t.type = T_LITERAL;
            t.value = str ? json_string(raw) : json_loads(raw, JSON_DECODE_ANY, NULL);
            free(raw);
            if (!t.value) {
                fail(p, t.pos,
                     str ? "a raw string is not valid UTF-8"
                         : "a `literal` is not JSON (strings need quotes: `\"text\"`)");
                return;
            }
        } else {
            static const struct {
                const char *text;
                enum tok type;
            } ops[] = {
                {"[?", T_FILTER}, {"[]", T_FLATTEN}, {"||", T_OR},      {"&&", T_AND},
                {"==", T_EQ},     {"!=", T_NE},      {"<=", T_LE},      {">=", T_GE},
                {"<", T_LT},      {">", T_GT},       {"!", T_NOT},      {".", T_DOT},
                {"*", T_STAR},    {"[", T_LBRACKET}, {"]", T_RBRACKET}, {"{", T_LBRACE},
                {"}", T_RBRACE},  {"(", T_LPAREN},   {")", T_RPAREN},   {",", T_COMMA},
                {":", T_COLON},   {"|", T_PIPE},     {"@", T_CURRENT},  {"&", T_EXPREF},
            };
            size_t k;
            for (k = 0; k < sizeof(ops) / sizeof(ops[0]); k++)
                if (strncmp(s + i, ops[k].text, strlen(ops[k].text)) == 0) break;
            if (k == sizeof(ops) / sizeof(ops[0])) {
                fail(p, i, "unexpected character '%c'", isprint((unsigned char)c) ? c : '?');
                return;
            }
            t.type = ops[k].type;
            i += strlen(ops[k].text);
        }
        push(p, t);
    }
}

/* ---- the parser ---- */

static enum tok cur(const struct parser *p)
{
    return p->toks[p->at].type;
}

static enum tok ahead(const struct parser *p, size_t n)
{
    return p->at + n < p->ntok ? p->toks[p->at + n].type : T_EOF;
}

static size_t cur_pos(const struct parser *p)
{
    return p->toks[p->at].pos;
}

static void advance(struct parser *p)
{
    if (p->toks[p->at].type != T_EOF) p->at++;
}

static bool match(struct parser *p, enum tok t, const char *what)
{
    if (cur(p) == t) {
        advance(p);
        return true;
    }
    fail(p, cur_pos(p), "expected %s", what);
    return false;
}

static struct node *expression(struct parser *p, int bp);

static struct node *multi_list(struct parser *p)
{
    struct node *n = mk(N_LIST, 0);
    for (;;) {
        add_kid(n, expression(p, 0));
        if (p->failed || cur(p) == T_RBRACKET) break;
        if (!match(p, T_COMMA, "',' or ']' in a multi-select list")) break;
    }
    match(p, T_RBRACKET, "']'");
    return n;
}

static struct node *multi_hash(struct parser *p)
{
    struct node *n = mk(N_HASH, 0);
    while (!p->failed) {
        enum tok t = cur(p);
        if (t != T_IDENT && t != T_QIDENT) {
            fail(p, cur_pos(p), "expected a key name in a multi-select hash");
            break;
        }
        char **nk = realloc(n->keys, (n->nkids + 1) * sizeof(char *));
        if (!nk) exit(1);
        n->keys = nk;
        n->keys[n->nkids] = strdup(p->toks[p->at].text);
        advance(p);
        if (!match(p, T_COLON, "':' after a key")) {
            add_kid(n, NULL);
            break;
        }
        add_kid(n, expression(p, 0));
        if (cur(p) == T_COMMA) {
            advance(p);
        } else {
            match(p, T_RBRACE, "',' or '}' in a multi-select hash");
            break;
        }
    }
    return n;
}

static struct node *dot_rhs(struct parser *p, int bp)
{
    enum tok t = cur(p);
    if (t == T_IDENT || t == T_QIDENT || t == T_STAR) return expression(p, bp);
    if (t == T_LBRACKET) {
        advance(p);
        return multi_list(p);
    }
    if (t == T_LBRACE) {
        advance(p);
        return multi_hash(p);
    }
    fail(p, cur_pos(p), "expected a name, '*', '[' or '{' after '.'");
    return NULL;
}

static struct node *projection_rhs(struct parser *p, int bp)
{
    enum tok t = cur(p);
    if (power[t] < 10) return mk(N_CURRENT, 0);
    if (t == T_LBRACKET || t == T_FILTER) return expression(p, bp);
    if (t == T_DOT) {
        advance(p);
        return dot_rhs(p, bp);
    }
    fail(p, cur_pos(p), "unexpected token after a projection");
    return NULL;
}

/* After '[' when a number or ':' follows: an index or a slice, and its ']'. */
static struct node *index_or_slice(struct parser *p)
{
    if (cur(p) == T_COLON || ahead(p, 1) == T_COLON) {
        struct node *n = mk(N_SLICE, 0);
        int part = 0;
        while (cur(p) != T_RBRACKET && !p->failed) {
            if (cur(p) == T_COLON) {
                if (++part == 3) fail(p, cur_pos(p), "a slice has at most three parts");
                advance(p);
            } else if (cur(p) == T_NUMBER) {
                n->slice[part] = p->toks[p->at].num;
                n->has[part] = true;
                advance(p);
            } else {
                fail(p, cur_pos(p), "expected a number or ':' in a slice");
            }
        }
        if (n->has[2] && n->slice[2] == 0) fail(p, cur_pos(p), "a slice's step cannot be 0");
        match(p, T_RBRACKET, "']'");
        return n;
    }
    struct node *n = mk(N_INDEX, 0);
    n->num = p->toks[p->at].num;
    advance(p);
    match(p, T_RBRACKET, "']' after an index");
    return n;
}

static struct node *project_if_slice(struct parser *p, struct node *left, struct node *right)
{
    struct node *ie = mk(N_INDEX_EXPR, 2, left, right);
    if (right->type == N_SLICE) return mk(N_PROJECT, 2, ie, projection_rhs(p, power[T_STAR]));
    return ie;
}

static struct node *nud(struct parser *p)
{
    struct token *t = &p->toks[p->at];
    size_t pos = t->pos;
    advance(p);
    switch (t->type) {
    case T_LITERAL: {
        struct node *n = mk(N_LITERAL, 0);
        n->value = json_incref(t->value);
        return n;
    }
    case T_IDENT:
    case T_QIDENT: {
        if (t->type == T_QIDENT && cur(p) == T_LPAREN) {
            fail(p, pos, "a function name cannot be quoted");
            return NULL;
        }
        struct node *n = mk(N_FIELD, 0);
        n->name = strdup(t->text);
        return n;
    }
    case T_STAR: {
        struct node *left = mk(N_CURRENT, 0);
        struct node *right =
            cur(p) == T_RBRACKET ? mk(N_CURRENT, 0) : projection_rhs(p, power[T_STAR]);
        return mk(N_VALUES, 2, left, right);
    }
    case T_FILTER: {
        struct node *cond = expression(p, 0);
        match(p, T_RBRACKET, "']' after a filter");
        struct node *right =
            cur(p) == T_FLATTEN ? mk(N_CURRENT, 0) : projection_rhs(p, power[T_FILTER]);
        return mk(N_FILTER, 3, mk(N_CURRENT, 0), right, cond);
    }
    case T_LBRACE: return multi_hash(p);
    case T_LPAREN: {
        struct node *n = expression(p, 0);
        match(p, T_RPAREN, "')'");
        return n;
    }
    case T_FLATTEN: {
        struct node *left = mk(N_FLATTEN, 1, mk(N_CURRENT, 0));
        return mk(N_PROJECT, 2, left, projection_rhs(p, power[T_FLATTEN]));
    }
    case T_NOT: return mk(N_NOT, 1, expression(p, power[T_NOT]));
    case T_LBRACKET:
        if (cur(p) == T_NUMBER || cur(p) == T_COLON)
            return project_if_slice(p, mk(N_CURRENT, 0), index_or_slice(p));
        if (cur(p) == T_STAR && ahead(p, 1) == T_RBRACKET) {
            advance(p);
            advance(p);
            return mk(N_PROJECT, 2, mk(N_CURRENT, 0), projection_rhs(p, power[T_STAR]));
        }
        return multi_list(p);
    case T_CURRENT: return mk(N_CURRENT, 0);
    case T_EXPREF: return mk(N_EXPREF, 1, expression(p, 0));
    case T_EOF: fail(p, pos, "the expression ends too early"); return NULL;
    default: fail(p, pos, "unexpected token"); return NULL;
    }
}

static const char *const functions[] = {
    "length", "contains",  "starts_with", "ends_with", "keys", "values", "sort", "sort_by",
    "join",   "to_string", "to_number",   "max",       "min",  "sum",    "type", "not_null",
};

static struct node *led(struct parser *p, enum tok t, struct node *left)
{
    size_t pos = cur_pos(p);
    advance(p);
    switch (t) {
    case T_DOT:
        if (cur(p) != T_STAR) {
            struct node *right = dot_rhs(p, power[T_DOT]);
            if (left->type == N_SUBEXPR) {
                add_kid(left, right);
                return left;
            }
            return mk(N_SUBEXPR, 2, left, right);
        }
        advance(p);
        return mk(N_VALUES, 2, left, projection_rhs(p, power[T_DOT]));
    case T_PIPE: return mk(N_PIPE, 2, left, expression(p, power[T_PIPE]));
    case T_OR: return mk(N_OR, 2, left, expression(p, power[T_OR]));
    case T_AND: return mk(N_AND, 2, left, expression(p, power[T_AND]));
    case T_LPAREN: {
        if (left->type != N_FIELD) {
            fail(p, pos, "'(' after something that is not a function name");
            return left;
        }
        size_t f;
        for (f = 0; f < sizeof(functions) / sizeof(functions[0]); f++)
            if (strcmp(functions[f], left->name) == 0) break;
        if (f == sizeof(functions) / sizeof(functions[0])) {
            fail(p, pos,
                 "unknown function %s() (kumo knows length, contains, starts_with, "
                 "ends_with, keys, values, sort, sort_by, join, to_string, to_number, "
                 "max, min, sum, type, not_null)",
                 left->name);
            return left;
        }
        left->type = N_FUNCTION;
        while (cur(p) != T_RPAREN && !p->failed) {
            add_kid(left, expression(p, 0));
            if (cur(p) == T_COMMA)
                advance(p);
            else if (cur(p) != T_RPAREN)
                fail(p, cur_pos(p), "expected ',' or ')'");
        }
        match(p, T_RPAREN, "')'");
        return left;
    }
    case T_FILTER: {
        struct node *cond = expression(p, 0);
        match(p, T_RBRACKET, "']' after a filter");
        struct node *right =
            cur(p) == T_FLATTEN ? mk(N_CURRENT, 0) : projection_rhs(p, power[T_FILTER]);
        return mk(N_FILTER, 3, left, right, cond);
    }
    case T_EQ:
    case T_NE:
    case T_LT:
    case T_LE:
    case T_GT:
    case T_GE: {
        struct node *n = mk(N_COMPARE, 2, left, expression(p, power[t]));
        n->op = t;
        return n;
    }
    case T_FLATTEN: {
        struct node *l = mk(N_FLATTEN, 1, left);
        return mk(N_PROJECT, 2, l, projection_rhs(p, power[T_FLATTEN]));
    }
    case T_LBRACKET:
        if (cur(p) == T_NUMBER || cur(p) == T_COLON) {
            struct node *right = index_or_slice(p);
            if (left->type == N_INDEX_EXPR && right->type != N_SLICE) {
                add_kid(left, right);
                return left;
            }
            return project_if_slice(p, left, right);
        }
        if (match(p, T_STAR, "a number, ':' or '*' after '['") &&
            match(p, T_RBRACKET, "']' after '[*'"))
            return mk(N_PROJECT, 2, left, projection_rhs(p, power[T_STAR]));
        return left;
    default: fail(p, pos, "unexpected token"); return left;
    }
}

static struct node *expression(struct parser *p, int bp)
{
    if (p->failed) return NULL;
    if (++p->depth > QUERY_MAX_DEPTH) {
        fail(p, cur_pos(p), "the expression nests deeper than %d", QUERY_MAX_DEPTH);
        p->depth--;
        return NULL;
    }
    struct node *left = nud(p);
    while (!p->failed && bp < power[cur(p)])
        left = led(p, cur(p), left);
    p->depth--;
    return left;
}

struct query *query_parse(const char *expr, char *err, size_t errlen)
{
    struct parser p = {.src = expr, .err = err, .errlen = errlen};
    if (strlen(expr) > QUERY_MAX_LEN) {
        snprintf(err, errlen, "the expression is longer than %d characters", QUERY_MAX_LEN);
        return NULL;
    }
    lex(&p);
    struct node *root = NULL;
    if (!p.failed) {
        if (cur(&p) == T_EOF) fail(&p, 0, "the expression is empty");
        root = expression(&p, 0);
        if (!p.failed && cur(&p) != T_EOF) fail(&p, cur_pos(&p), "unexpected token");
    }
    for (size_t i = 0; i < p.ntok; i++) {
        free(p.toks[i].text);
        json_decref(p.toks[i].value);
    }
    free(p.toks);
    if (p.failed) {
        node_free(root);
        return NULL;
    }
    struct query *q = xcalloc(1, sizeof(*q));
    q->root = root;
    return q;
}

void query_free(struct query *q)
{
    if (!q) return;
    node_free(q->root);
    free(q);
}

/* ---- the interpreter ---- */

struct eval {
    char *err;
    size_t errlen;
    bool failed;
};

static json_t *eval(struct eval *e, const struct node *n, json_t *v);

static void eval_fail(struct eval *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void eval_fail(struct eval *e, const char *fmt, ...)
{
    if (e->failed) return;
    e->failed = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->err, e->errlen, fmt, ap);
    va_end(ap);
}

/* JMESPath's false: null, false, "", [], {} (0 is true). */
static bool truthy(const json_t *v)
{
    if (!v || json_is_null(v) || json_is_false(v)) return false;
    if (json_is_string(v)) return json_string_length(v) > 0;
    if (json_is_array(v)) return json_array_size(v) > 0;
    if (json_is_object(v)) return json_object_size(v) > 0;
    return true;
}

static bool equal(const json_t *a, const json_t *b)
{
    if (json_is_number(a) && json_is_number(b)) return json_number_value(a) == json_number_value(b);
    if (json_is_array(a) && json_is_array(b)) {
        if (json_array_size(a) != json_array_size(b)) return false;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!equal(json_array_get(a, i), json_array_get(b, i))) return false;
        return true;
    }
    if (json_is_object(a) && json_is_object(b)) {
        if (json_object_size(a) != json_object_size(b)) return false;
        const char *k;
        json_t *va;
        json_object_foreach((json_t *)a, k, va)
        {
            if (!equal(va, json_object_get(b, k))) return false;
        }
        return true;
    }
    return json_equal(a, b);
}

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER:
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    default: return "null";
    }
}

static json_t *number(double d)
{
    if (d == floor(d) && fabs(d) < 9e15) return json_integer((json_int_t)d);
    return json_real(d);
}

/* Apply n to each element of a list (a projection), keeping non-nulls. */
static json_t *project(struct eval *e, const struct node *n, json_t *list)
{
    json_t *out = json_array();
    size_t i;
    json_t *el;
    json_array_foreach(list, i, el)
    {
        json_t *r = eval(e, n, el);
        if (!r) break;
        if (json_is_null(r))
            json_decref(r);
        else
            json_array_append_new(out, r);
    }
    return out;
}

static json_t *slice(const struct node *n, json_t *list)
{
    long long len = (long long)json_array_size(list);
    long long step = n->has[2] ? n->slice[2] : 1;
    long long start, stop;
    /* Python's slice rules, as the specification says */
    if (!n->has[0])
        start = step < 0 ? len - 1 : 0;
    else {
        start = n->slice[0];
        if (start < 0)
            start = start + len < 0 ? (step < 0 ? -1 : 0) : start + len;
        else if (start >= len)
            start = step < 0 ? len - 1 : len;
    }
    if (!n->has[1])
        stop = step < 0 ? -1 : len;
    else {
        stop = n->slice[1];
        if (stop < 0)
            stop = stop + len < 0 ? (step < 0 ? -1 : 0) : stop + len;
        else if (stop >= len)
            stop = step < 0 ? len - 1 : len;
    }
    json_t *out = json_array();
    if (step > 0)
        for (long long i = start; i < stop; i += step)
            json_array_append(out, json_array_get(list, (size_t)i));
    else
        for (long long i = start; i > stop; i += step)
            json_array_append(out, json_array_get(list, (size_t)i));
    return out;
}

struct keyed {
    json_t *key, *item;
    size_t at;
};

static int cmp_keyed(const void *x, const void *y)
{
    const struct keyed *a = x, *b = y;
    int c;
    if (json_is_string(a->key))
        c = strcmp(json_string_value(a->key), json_string_value(b->key));
    else {
        double da = json_number_value(a->key), db = json_number_value(b->key);
        c = da < db ? -1 : da > db;
    }
    if (c) return c;
    return a->at < b->at ? -1 : a->at > b->at; /* stable */
}

/* Sort items by keys (all numbers or all strings). */
static json_t *sort_keyed(struct eval *e, const char *fn, json_t *items, json_t *keys)
{
    size_t n = json_array_size(items);
    struct keyed *k = xcalloc(n, sizeof(*k));
    bool strings = n && json_is_string(json_array_get(keys, 0));
    for (size_t i = 0; i < n; i++) {
        k[i] = (struct keyed){json_array_get(keys, i), json_array_get(items, i), i};
        if (strings ? !json_is_string(k[i].key) : !json_is_number(k[i].key)) {
            eval_fail(e,
                      "%s(): the values to sort by must be all numbers or all strings "
                      "(found %s)",
                      fn, type_name(k[i].key));
            free(k);
            return NULL;
        }
    }
    qsort(k, n, sizeof(*k), cmp_keyed);
    json_t *out = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append(out, k[i].item);
    free(k);
    return out;
}

static bool want(struct eval *e, const char *fn, json_t *v, bool ok, const char *what)
{
    if (!ok) eval_fail(e, "%s(): expected %s, got %s", fn, what, type_name(v));
    return ok;
}

static json_t *function(struct eval *e, const struct node *n, json_t *v)
{
    const char *fn = n->name;
    static const struct {
        const char *name;
        size_t min, max;
    } arity[] = {
        {"length", 1, 1}, {"contains", 2, 2},  {"starts_with", 2, 2}, {"ends_with", 2, 2},
        {"keys", 1, 1},   {"values", 1, 1},    {"sort", 1, 1},        {"sort_by", 2, 2},
        {"join", 2, 2},   {"to_string", 1, 1}, {"to_number", 1, 1},   {"max", 1, 1},
        {"min", 1, 1},    {"sum", 1, 1},       {"type", 1, 1},        {"not_null", 1, 64},
    };
    for (size_t i = 0; i < sizeof(arity) / sizeof(arity[0]); i++)
        if (strcmp(arity[i].name, fn) == 0 &&
            (n->nkids < arity[i].min || n->nkids > arity[i].max)) {
            eval_fail(e, "%s() takes %zu argument%s, not %zu", fn, arity[i].min,
                      arity[i].min == 1 ? "" : "s", n->nkids);
            return NULL;
        }
    bool expref = strcmp(fn, "sort_by") == 0;
    json_t *args[64] = {0};
    json_t *out = NULL;
    for (size_t i = 0; i < n->nkids; i++) {
        if (expref && i == 1) continue;
        if (n->kids[i]->type == N_EXPREF) {
            eval_fail(e, "%s(): an &expression is not a value here", fn);
            goto done;
        }
        if (!(args[i] = eval(e, n->kids[i], v))) goto done;
    }
    json_t *a = args[0], *b = args[1];
    if (!strcmp(fn, "length")) {
        if (json_is_string(a)) {
            size_t cps = 0; /* code points */
            for (const char *s = json_string_value(a); *s; s++)
                if (((unsigned char)*s & 0xC0) != 0x80) cps++;
            out = json_integer((json_int_t)cps);
        } else if (json_is_array(a))
            out = json_integer((json_int_t)json_array_size(a));
        else if (want(e, fn, a, json_is_object(a), "a string, array or object"))
            out = json_integer((json_int_t)json_object_size(a));
    } else if (!strcmp(fn, "contains")) {
        if (json_is_string(a)) {
            out = json_boolean(json_is_string(b) &&
                               strstr(json_string_value(a), json_string_value(b)));
        } else if (want(e, fn, a, json_is_array(a), "an array or a string")) {
            bool found = false;
            for (size_t i = 0; i < json_array_size(a) && !found; i++)
                found = equal(json_array_get(a, i), b);
            out = json_boolean(found);
        }
    } else if (!strcmp(fn, "starts_with") || !strcmp(fn, "ends_with")) {
        if (want(e, fn, a, json_is_string(a), "a string") &&
            want(e, fn, b, json_is_string(b), "a string")) {
            size_t la = json_string_length(a), lb = json_string_length(b);
            const char *sa = json_string_value(a), *sb = json_string_value(b);
            out = json_boolean(lb <= la && memcmp(fn[0] == 's' ? sa : sa + la - lb, sb, lb) == 0);
        }
    } else if (!strcmp(fn, "keys") || !strcmp(fn, "values")) {
        if (want(e, fn, a, json_is_object(a), "an object")) {
            out = json_array();
            const char *k;
            json_t *val;
            json_object_foreach(a, k, val)
            {
                json_array_append_new(out, fn[0] == 'k' ? json_string(k) : json_incref(val));
            }
        }
    } else if (!strcmp(fn, "sort")) {
        if (want(e, fn, a, json_is_array(a), "an array")) out = sort_keyed(e, fn, a, a);
    } else if (!strcmp(fn, "sort_by")) {
        if (n->kids[1]->type != N_EXPREF) {
            eval_fail(e, "sort_by(): the second argument is an &expression, e.g. &name");
        } else if (want(e, fn, a, json_is_array(a), "an array")) {
            json_t *keys = json_array();
            size_t i;
            json_t *el;
            json_array_foreach(a, i, el)
            {
                json_t *k = eval(e, n->kids[1]->kids[0], el);
                if (!k) break;
                json_array_append_new(keys, k);
            }
            if (!e->failed) out = sort_keyed(e, fn, a, keys);
            json_decref(keys);
        }
    } else if (!strcmp(fn, "join")) {
        if (want(e, fn, a, json_is_string(a), "a string (the glue)") &&
            want(e, fn, b, json_is_array(b), "an array of strings")) {
            size_t len = 1;
            for (size_t i = 0; i < json_array_size(b); i++) {
                json_t *s = json_array_get(b, i);
                if (!want(e, fn, s, json_is_string(s), "an array of strings")) goto done;
                len += json_string_length(s) + json_string_length(a);
            }
            char *buf = xcalloc(len, 1), *w = buf;
            for (size_t i = 0; i < json_array_size(b); i++) {
                if (i) w = stpcpy(w, json_string_value(a));
                w = stpcpy(w, json_string_value(json_array_get(b, i)));
            }
            out = json_string(buf);
            free(buf);
        }
    } else if (!strcmp(fn, "to_string")) {
        if (json_is_string(a))
            out = json_incref(a);
        else {
            char *s = json_dumps(a, JSON_COMPACT | JSON_ENCODE_ANY);
            out = json_string(s ? s : "");
            free(s);
        }
    } else if (!strcmp(fn, "to_number")) {
        if (json_is_number(a))
            out = json_incref(a);
        else if (json_is_string(a)) {
            char *end;
            const char *s = json_string_value(a);
            double d = strtod(s, &end);
            out = *s && !*end && isfinite(d) ? number(d) : json_null();
        } else
            out = json_null();
    } else if (!strcmp(fn, "max") || !strcmp(fn, "min")) {
        if (want(e, fn, a, json_is_array(a), "an array")) {
            json_t *sorted = sort_keyed(e, fn, a, a);
            if (sorted) {
                size_t len = json_array_size(sorted);
                out = len ? json_incref(json_array_get(sorted, fn[1] == 'a' ? len - 1 : 0))
                          : json_null();
                json_decref(sorted);
            }
        }
    } else if (!strcmp(fn, "sum")) {
        if (want(e, fn, a, json_is_array(a), "an array of numbers")) {
            double s = 0;
            for (size_t i = 0; i < json_array_size(a); i++) {
                json_t *x = json_array_get(a, i);
                if (!want(e, fn, x, json_is_number(x), "an array of numbers")) goto done;
                s += json_number_value(x);
            }
            out = number(s);
        }
    } else if (!strcmp(fn, "type")) {
        out = json_string(type_name(a));
    } else if (!strcmp(fn, "not_null")) {
        for (size_t i = 0; i < n->nkids && !out; i++)
            if (!json_is_null(args[i])) out = json_incref(args[i]);
        if (!out) out = json_null();
    }
done:
    for (size_t i = 0; i < n->nkids; i++)
        json_decref(args[i]);
    if (e->failed) {
        json_decref(out);
        return NULL;
    }
    return out ? out : json_null();
}

/* Evaluate n on v when the result must be a list: 1 and *list (a new
 * reference), 0 when it is not one, -1 after an error. */
static int eval_list(struct eval *e, const struct node *n, json_t *v, json_t **list)
{
    *list = eval(e, n, v);
    if (!*list) return -1;
    if (json_is_array(*list)) return 1;
    json_decref(*list);
    *list = NULL;
    return 0;
}

static json_t *eval(struct eval *e, const struct node *n, json_t *v)
{
    if (e->failed) return NULL;
    switch (n->type) {
    case N_CURRENT: return json_incref(v);
    case N_FIELD: {
        json_t *r = json_is_object(v) ? json_object_get(v, n->name) : NULL;
        return r ? json_incref(r) : json_null();
    }
    case N_SUBEXPR:
    case N_INDEX_EXPR:
    case N_PIPE: {
        json_t *r = json_incref(v);
        for (size_t i = 0; i < n->nkids && r; i++) {
            if (n->type == N_SUBEXPR && json_is_null(r)) break;
            json_t *next = eval(e, n->kids[i], r);
            json_decref(r);
            r = next;
        }
        return r;
    }
    case N_INDEX: {
        if (!json_is_array(v)) return json_null();
        long long i = n->num, len = (long long)json_array_size(v);
        if (i < 0) i += len;
        json_t *r = i >= 0 && i < len ? json_array_get(v, (size_t)i) : NULL;
        return r ? json_incref(r) : json_null();
    }
    case N_SLICE: return json_is_array(v) ? slice(n, v) : json_null();
    case N_PROJECT: {
        json_t *base;
        int got = eval_list(e, n->kids[0], v, &base);
        if (got <= 0) return got ? NULL : json_null();
        json_t *r = project(e, n->kids[1], base);
        json_decref(base);
        return e->failed ? (json_decref(r), NULL) : r;
    }
    case N_VALUES: {
        json_t *base = eval(e, n->kids[0], v);
        if (!base) return NULL;
        json_t *r = json_null();
        if (json_is_object(base)) {
            json_t *vals = json_array();
            const char *k;
            json_t *val;
            json_object_foreach(base, k, val) json_array_append(vals, val);
            json_decref(r);
            r = project(e, n->kids[1], vals);
            json_decref(vals);
        }
        json_decref(base);
        return e->failed ? (json_decref(r), NULL) : r;
    }
    case N_FLATTEN: {
        json_t *base;
        int got = eval_list(e, n->kids[0], v, &base);
        if (got <= 0) return got ? NULL : json_null();
        json_t *r = json_array();
        size_t i;
        json_t *el;
        json_array_foreach(base, i, el)
        {
            if (json_is_array(el))
                json_array_extend(r, el);
            else
                json_array_append(r, el);
        }
        json_decref(base);
        return r;
    }
    case N_FILTER: {
        json_t *base;
        int got = eval_list(e, n->kids[0], v, &base);
        if (got <= 0) return got ? NULL : json_null();
        json_t *r = json_array();
        size_t i;
        json_t *el;
        json_array_foreach(base, i, el)
        {
            json_t *c = eval(e, n->kids[2], el);
            if (!c) break;
            bool keep = truthy(c);
            json_decref(c);
            if (!keep) continue;
            json_t *x = eval(e, n->kids[1], el);
            if (!x) break;
            if (json_is_null(x))
                json_decref(x);
            else
                json_array_append_new(r, x);
        }
        json_decref(base);
        return e->failed ? (json_decref(r), NULL) : r;
    }
    case N_COMPARE: {
        json_t *a = eval(e, n->kids[0], v), *b = a ? eval(e, n->kids[1], v) : NULL;
        json_t *r = NULL;
        if (a && b) {
            if (n->op == T_EQ || n->op == T_NE)
                r = json_boolean(equal(a, b) == (n->op == T_EQ));
            else if (json_is_number(a) && json_is_number(b)) {
                double x = json_number_value(a), y = json_number_value(b);
                r = json_boolean(n->op == T_LT   ? x < y
                                 : n->op == T_LE ? x <= y
                                 : n->op == T_GT ? x > y
                                                 : x >= y);
            } else
                r = json_null();
        }
        json_decref(a);
        json_decref(b);
        return r;
    }
    case N_OR:
    case N_AND: {
        json_t *a = eval(e, n->kids[0], v);
        if (!a) return NULL;
        if (truthy(a) == (n->type == N_OR)) return a;
        json_decref(a);
        return eval(e, n->kids[1], v);
    }
    case N_NOT: {
        json_t *a = eval(e, n->kids[0], v);
        if (!a) return NULL;
        json_t *r = json_boolean(!truthy(a));
        json_decref(a);
        return r;
    }
    case N_LITERAL: return json_incref(n->value);
    case N_LIST:
    case N_HASH: {
        if (json_is_null(v)) return json_null();
        json_t *r = n->type == N_LIST ? json_array() : json_object();
        for (size_t i = 0; i < n->nkids; i++) {
            json_t *x = eval(e, n->kids[i], v);
            if (!x) break;
            if (n->type == N_LIST)
                json_array_append_new(r, x);
            else
                json_object_set_new(r, n->keys[i], x);
        }
        return e->failed ? (json_decref(r), NULL) : r;
    }
    case N_FUNCTION: return function(e, n, v);
    case N_EXPREF: eval_fail(e, "an &expression is only a function's argument"); return NULL;
    }
    return NULL;
}

json_t *query_eval(const struct query *q, const json_t *data, char *err, size_t errlen)
{
    struct eval e = {.err = err, .errlen = errlen};
    json_t *r = eval(&e, q->root, (json_t *)data);
    if (e.failed) {
        json_decref(r);
        return NULL;
    }
    return r;
}
