/*
 * api.c - request dispatch for kumod's REST API: authentication, routing by
 * method and path pattern, body parsing and checking, the error format, and
 * the helpers handlers share (see api.h).
 */
#include "cloud/api.h"

#include "cloud/body.h"
#include "cloud/db.h"
#include "cloud/provision.h"
#include "cloud/requests.h"
#include "cloud/timefmt.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define MAX_SEGS 12

#define API_ROUTE_TABLE(name) api_routes_##name,
static const struct api_route *const tables[] = {API_ROUTE_TABLES(API_ROUTE_TABLE)};
#undef API_ROUTE_TABLE

/* Split a path ("/v1/a/b") into segments in buf. -1 if malformed (empty
 * segments, too long, too many). A trailing slash is ignored. */
static int split_path(const char *path, char *buf, size_t buflen, char **segs)
{
    size_t len = strlen(path);
    if (len == 0 || len >= buflen || path[0] != '/') return -1;
    memcpy(buf, path, len + 1);
    if (len > 1 && buf[len - 1] == '/') buf[--len] = 0;
    int n = 0;
    char *p = buf + 1;
    if (!*p) return 0;
    for (;;) {
        if (n == MAX_SEGS) return -1;
        char *slash = strchr(p, '/');
        if (slash) *slash = 0;
        if (!*p) return -1;
        segs[n++] = p;
        if (!slash) break;
        p = slash + 1;
    }
    return n;
}

static bool match(const char *pattern, char **segs, int nseg, const char **params, int *np)
{
    char buf[256];
    char *ps[MAX_SEGS];
    int n = split_path(pattern, buf, sizeof(buf), ps);
    if (n != nseg) return false;
    int k = 0;
    for (int i = 0; i < n; i++) {
        if (strcmp(ps[i], "{}") == 0) {
            if (k < API_MAX_PARAMS) params[k++] = segs[i];
        } else if (strcasecmp(ps[i], segs[i]) != 0) {
            return false;
        }
    }
    *np = k;
    return true;
}

static bool token_ok(struct kumod *k, const char *auth)
{
    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0) return false;
    const char *t = auth + 7;
    while (*t == ' ')
        t++;
    size_t n = strlen(t);
    while (n && (t[n - 1] == ' ' || t[n - 1] == '\t'))
        n--;
    if (n != 64) return false;
    unsigned char diff = 0; /* constant time over the token's length */
    for (size_t i = 0; i < 64; i++)
        diff |= (unsigned char)(t[i] ^ k->token[i]);
    return diff == 0;
}

static void finish(struct api_ctx *c, struct http_response *rs)
{
    if (c->err.status) {
        json_t *err = json_pack("{s:s,s:s}", "code", c->err.code, "message", c->err.message);
        if (c->err.target[0]) json_object_set_new(err, "target", json_string(c->err.target));
        json_decref(c->out);
        c->out = json_pack("{s:o}", "error", err);
        c->status = c->err.status;
        free(c->text);
        c->text = NULL;
        rs->www_authenticate = c->status == 401;
    }
    rs->status = c->status;
    snprintf(rs->location, sizeof(rs->location), "%s", c->location);
    if (c->text) {
        rs->body = c->text;
        rs->len = c->text_len;
        rs->content_type = c->ctype;
        c->text = NULL;
    } else if (c->status == 204) {
        rs->body = NULL;
        rs->len = 0;
    } else {
        char *s = c->out ? json_dumps(c->out, JSON_INDENT(2) | JSON_REAL_PRECISION(15)) : NULL;
        if (!s) s = strdup("{}");
        size_t n = s ? strlen(s) : 0;
        char *t = s ? realloc(s, n + 2) : NULL;
        if (t) {
            t[n] = '\n';
            t[n + 1] = 0;
            rs->body = t;
            rs->len = n + 1;
        } else {
            free(s);
            rs->body = NULL;
            rs->len = 0;
        }
        rs->content_type = "application/json";
    }
    json_decref(c->out);
    c->out = NULL;
}

bool api_authorized(void *ctx, const struct http_request *rq)
{
    struct kumod *k = ctx;
    char buf[2048];
    char *segs[MAX_SEGS];
    int nseg = split_path(rq->path, buf, sizeof(buf), segs);
    if (nseg == 2 && strcmp(segs[0], "v1") == 0 && strcmp(segs[1], "health") == 0 &&
        strcmp(rq->method, "GET") == 0)
        return true; /* the only request without the token */
    return token_ok(k, http_header(rq, "Authorization"));
}

void api_handle(void *ctx, const struct http_request *rq, struct http_response *rs)
{
    struct kumod *k = ctx;
    struct api_ctx c = {.k = k, .rq = rq, .status = 200};
    char buf[2048];
    char *segs[MAX_SEGS];
    int nseg = split_path(rq->path, buf, sizeof(buf), segs);
    bool health = nseg == 2 && strcmp(segs[0], "v1") == 0 && strcmp(segs[1], "health") == 0 &&
                  strcmp(rq->method, "GET") == 0;
    /* rq->session_auth: portal.c checked the portal session (and its CSRF token) */
    if (!health && !rq->session_auth && !token_ok(k, http_header(rq, "Authorization"))) {
        kerr_set(&c.err, 401, "Unauthorized", NULL,
                 http_header(rq, "Authorization")
                     ? "the bearer token is wrong (it is in DATA/token of kumod's data directory)"
                     : "send the API token: Authorization: Bearer TOKEN (from DATA/token of "
                       "kumod's data directory)");
        finish(&c, rs);
        return;
    }
    if (rq->body_too_large) {
        kerr_set(&c.err, 413, "PayloadTooLarge", NULL,
                 "the request body is larger than %zu bytes (kumod --max-body)", k->cfg.max_body);
        finish(&c, rs);
        return;
    }
    if (atomic_load(&k->stopping)) {
        kerr_set(&c.err, 503, "ShuttingDown", NULL, "kumod is stopping; try again when it is back");
        finish(&c, rs);
        return;
    }
    const struct api_route *route = NULL;
    char allow[96] = "";
    if (nseg >= 0) {
        for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]) && !route; t++) {
            for (const struct api_route *r = tables[t]; r->method; r++) {
                const char *params[API_MAX_PARAMS];
                int np = 0;
                if (!match(r->pattern, segs, nseg, params, &np)) continue;
                if (strcmp(r->method, rq->method) == 0) {
                    route = r;
                    memcpy(c.p, params, sizeof(params));
                    c.np = np;
                    break;
                }
                if (!strstr(allow, r->method)) {
                    size_t used = strlen(allow);
                    snprintf(allow + used, sizeof(allow) - used, "%s%s", used ? ", " : "",
                             r->method);
                }
            }
        }
    }
    if (!route) {
        if (allow[0]) {
            kerr_set(&c.err, 405, "MethodNotAllowed", NULL, "%s is not allowed on %s (allowed: %s)",
                     rq->method, rq->path, allow);
            snprintf(rs->allow, sizeof(rs->allow), "%s", allow);
        } else {
            kerr_notfound(&c.err, "no such path: %s (docs/api.md lists the API)", rq->path);
        }
        finish(&c, rs);
        return;
    }
    if (route->body >= 0) {
        const char *text = rq->body_len ? rq->body : "{}";
        size_t len = rq->body_len ? rq->body_len : 2;
        c.body = request_parse(text, len, &c.err);
        if (c.body && request_check((enum req_kind)route->body, c.body, &c.err) < 0) {
            json_decref(c.body);
            c.body = NULL;
        }
        if (!c.body) {
            finish(&c, rs);
            return;
        }
    }
    kumod_lock(k);
    if (k->catch_up) k->catch_up(k); /* cluster mode: what other hosts committed first */
    route->fn(&c);
    kumod_unlock(k);
    json_decref(c.body);
    finish(&c, rs);
}

void api_reply(struct api_ctx *c, int status, json_t *out)
{
    json_decref(c->out);
    c->status = status;
    c->out = out;
    if (!out && status != 204) kerr_internal(&c->err, "could not render the answer");
}

void api_reply_text(struct api_ctx *c, int status, char *text, size_t len, const char *ctype)
{
    free(c->text);
    c->status = status;
    c->text = text;
    c->text_len = len;
    c->ctype = ctype;
}

void api_reply_list(struct api_ctx *c, api_render render, const char *sql, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *st = db_vstmt(c->k->db, sql, fmt, ap);
    va_end(ap);
    json_t *arr = json_array();
    while (st && sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(arr, render(c->k, sqlite3_column_int64(st, 0)));
    sqlite3_finalize(st);
    api_reply(c, 200, json_pack("{s:o}", "value", arr));
}

void api_list_in_group(struct api_ctx *c, const char *table, api_render render)
{
    int64_t g = api_group(c, c->p[0]);
    if (g < 0) return;
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT id FROM %s WHERE group_id = ? ORDER BY name", table);
    api_reply_list(c, render, sql, "i", g);
}

void api_reply_at(struct api_ctx *c, int status, api_render render, int64_t id)
{
    json_t *out = render(c->k, id);
    api_set_location(c, json_string_value(json_object_get(out, "id")));
    api_reply(c, status, out);
}

void api_set_location(struct api_ctx *c, const char *id)
{
    snprintf(c->location, sizeof(c->location), "/v1%s", id);
}

int api_wait_arg(struct api_ctx *c)
{
    const char *w = http_query(c->rq, "wait");
    if (!w || !strcmp(w, "false") || !strcmp(w, "0")) return 0;
    if (!strcmp(w, "true") || !*w) return 300;
    char *end;
    errno = 0;
    long v = strtol(w, &end, 10);
    if (errno || *end || v < 0 || v > 3600) {
        kerr_set(&c->err, 400, "InvalidQuery", "query.wait",
                 "query.wait: '%.40s' is not true, false or a number of seconds from 0 to 3600", w);
        return -1;
    }
    return (int)v;
}

bool api_wait(struct api_ctx *c, int secs, bool (*done)(struct api_ctx *c, int64_t id), int64_t id)
{
    assert(kumod_lock_held(c->k)); /* the handler's; released while waiting */
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += secs;
    for (;;) {
        if (done(c, id)) return true;
        if (secs <= 0 || atomic_load(&c->k->stopping)) return false;
        int rc = pthread_cond_timedwait(&c->k->changed, &c->k->lock, &deadline);
        if (rc == ETIMEDOUT) return done(c, id);
    }
}

bool api_query_time(struct api_ctx *c, const char *name, int64_t dflt, int64_t *out)
{
    const char *v = http_query(c->rq, name);
    if (!v) {
        *out = dflt;
        return true;
    }
    if (!time_parse(v, out)) {
        char t[64];
        snprintf(t, sizeof(t), "query.%s", name);
        kerr_set(&c->err, 400, "InvalidQuery", t,
                 "%s: '%.40s' is not a time (RFC 3339 like 2024-11-17T12:00:00Z, or seconds "
                 "since the epoch)",
                 t, v);
        return false;
    }
    return true;
}

bool api_query_bool(struct api_ctx *c, const char *name, bool dflt, bool *out)
{
    const char *v = http_query(c->rq, name);
    if (!v) {
        *out = dflt;
        return true;
    }
    if (!strcmp(v, "true") || !strcmp(v, "1") || !*v) {
        *out = true;
        return true;
    }
    if (!strcmp(v, "false") || !strcmp(v, "0")) {
        *out = false;
        return true;
    }
    char t[64];
    snprintf(t, sizeof(t), "query.%s", name);
    kerr_set(&c->err, 400, "InvalidQuery", t, "%s: '%.40s' is not true or false", t, v);
    return false;
}

int64_t api_group(struct api_ctx *c, const char *name)
{
    return prov_group(c->k, name, &c->err);
}

int64_t api_find(struct api_ctx *c, const char *table, int64_t group_id, const char *name,
                 const char *what, const char *field)
{
    return prov_find(c->k, table, group_id, name, what, field, &c->err);
}

json_t *api_time(int64_t ms)
{
    char buf[TIME_STRLEN];
    return ms < 0 ? json_null() : json_string(time_format(ms, buf));
}
