/*
 * arm.c - the ARM endpoint's dispatch (see arm.h): start and stop, route
 * matching across the handler files' tables, bearer token checks, the
 * api-version check, JSON bodies, the state lock, and the error format.
 */
#include "cloud/arm/arm.h"

#include "cloud/arm/apiver.h"
#include "cloud/arm/jwt.h"
#include "cloud/arm/lenient.h"
#include "cloud/arm/ops.h"
#include "cloud/arm/server.h"
#include "cloud/arm/tls.h"
#include "cloud/db.h"
#include "cloud/paths.h"
#include "cloud/timefmt.h"
#include "lib/log.h"

#include <ctype.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct arm {
    struct kumod *k;
    struct arm_identity id;
    struct arm_tls tls;
    struct arm_server *server;
    char listen[64];
    char host[64];
    pthread_t ticker;
    bool ticking;
    atomic_bool stop;
};

/* The operations that go on without a client polling (ops.h's tick):
 * about every second, under the state lock. */
static void *ticker(void *arg)
{
    struct arm *a = arg;
    while (!atomic_load(&a->stop)) {
        for (int i = 0; i < 10 && !atomic_load(&a->stop); i++) {
            struct timespec ts = {0, 100 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        if (atomic_load(&a->stop) || atomic_load(&a->k->stopping)) break;
        /* a context without a request: what renders answers can run */
        struct arm_ctx c = {.a = a, .k = a->k, .id = &a->id, .method = "TICK", .path = ""};
        snprintf(c.base, sizeof(c.base), "https://%s", a->listen);
        kumod_lock(a->k);
        arm_ops_tick(&c);
        kumod_unlock(a->k);
        json_decref(c.out);
        free(c.text);
        arm_err_clear(&c.err);
    }
    return NULL;
}

static const struct arm_route *const tables[] = {
    arm_routes_adfs,     arm_routes_subs,    arm_routes_rg,     arm_routes_net,
    arm_routes_compute,  arm_routes_storage, arm_routes_images, arm_routes_scaleset,
    arm_routes_insights, arm_routes_deploy,  arm_routes_runcmd,
};

struct arm *arm_start(struct kumod *k, char *err, size_t errlen)
{
    struct arm *a = calloc(1, sizeof(*a));
    if (!a) return NULL;
    a->k = k;
    if (arm_identity_load(k, &a->id, err, errlen) < 0) goto fail;
    if (!k->cfg.arm_listen[0]) return a;
    snprintf(a->listen, sizeof(a->listen), "%s", k->cfg.arm_listen);
    int fd = arm_server_listen(a->listen, a->host, sizeof(a->host), err, errlen);
    if (fd < 0) goto fail;
    char dir[PATH_MAX];
    path_in_data(k, dir, "arm");
    if (arm_tls_setup(dir, a->host, &a->tls, err, errlen) < 0) goto fail;
    a->server =
        arm_server_start(a, fd, a->tls.cert_pem, a->tls.key_pem, k->cfg.max_body, 4, err, errlen);
    if (!a->server) goto fail;
    a->ticking = pthread_create(&a->ticker, NULL, ticker, a) == 0;
    log_info("ARM endpoint: https://%s/ (subscription %s, tenant %s)", a->listen,
             a->id.subscription, a->id.tenant);
    log_info("ARM CA certificate%s: %s (SHA-256 %s); server certificate%s: %s",
             a->tls.made_ca ? " (new)" : "", a->tls.ca_path, a->tls.fingerprint,
             a->tls.made_cert ? " (new)" : "", a->tls.cert_path);
    return a;
fail:
    arm_tls_free(&a->tls);
    free(a);
    return NULL;
}

void arm_stop(struct arm *a)
{
    if (!a) return;
    atomic_store(&a->stop, true);
    if (a->ticking) pthread_join(a->ticker, NULL);
    arm_server_stop(a->server);
    arm_tls_free(&a->tls);
    free(a);
}

const char *arm_listen_addr(const struct arm *a)
{
    return a->listen;
}

const char *arm_ca_path(const struct arm *a)
{
    return a->tls.ca_path;
}

/* ---- helpers ---- */

void arm_reply(struct arm_ctx *c, int status, json_t *out)
{
    json_decref(c->out);
    c->status = status;
    c->out = out;
    if (!out && status != 204 && status != 202 && status != 200)
        arm_err_set(&c->err, 500, "InternalServerError", NULL, "Could not render the answer.");
}

void arm_reply_text(struct arm_ctx *c, int status, char *text, const char *ctype)
{
    free(c->text);
    c->status = status;
    c->text = text;
    c->ctype = ctype;
}

void arm_header(struct arm_ctx *c, const char *name, const char *fmt, ...)
{
    if (c->nheaders == ARM_MAX_HEADERS) return;
    c->headers[c->nheaders].name = name;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->headers[c->nheaders].value, sizeof(c->headers[0].value), fmt, ap);
    va_end(ap);
    c->nheaders++;
}

const char *arm_sub_prefix(const struct arm_ctx *c, char *buf, size_t len)
{
    snprintf(buf, len, "/subscriptions/%s", c->id->subscription);
    return buf;
}

void arm_accepted(struct arm_ctx *c, int status, const struct arm_op *op, json_t *out)
{
    char async_url[1400], loc[1400];
    arm_op_urls(op, c->base, c->id->subscription, c->api_version ? c->api_version : "2020-06-01",
                async_url, loc, sizeof(async_url));
    arm_header(c, "Azure-AsyncOperation", "%s", async_url);
    arm_header(c, "Location", "%s", loc);
    arm_header(c, "Retry-After", "1");
    arm_reply(c, status, out);
}

const char *arm_query(const struct arm_ctx *c, const char *name)
{
    return c->conn ? arm_conn_query(c->conn, name) : NULL;
}

const char *arm_req_header(const struct arm_ctx *c, const char *name)
{
    return c->conn ? arm_conn_header(c->conn, name) : NULL;
}

bool arm_check_sub(struct arm_ctx *c, const char *sub)
{
    if (!strcasecmp(sub, c->id->subscription)) return true;
    arm_err_set(&c->err, 404, "SubscriptionNotFound", NULL,
                "The subscription '%.64s' could not be found: this kumod's subscription is '%s'.",
                sub, c->id->subscription);
    return false;
}

/* ---- authentication ---- */

static void fmt_utc(int64_t secs, char *buf, size_t len)
{
    time_t t = (time_t)secs;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void unauthorized(struct arm_ctx *c, const char *code, const char *desc, const char *fmt,
                         ...) __attribute__((format(printf, 4, 5)));
static void unauthorized(struct arm_ctx *c, const char *code, const char *desc, const char *fmt,
                         ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    arm_err_set(&c->err, 401, code, NULL, "%s", msg);
    arm_header(c, "WWW-Authenticate",
               "Bearer authorization_uri=\"%s/adfs\", error=\"invalid_token\", "
               "error_description=\"%s\"",
               c->base, desc);
}

/* Check the bearer token's signature and expiry (no lock needed); the
 * principal's existence is checked under the lock by the caller. */
static bool authenticate(struct arm_ctx *c)
{
    const char *auth = arm_req_header(c, "Authorization");
    if (!auth) {
        unauthorized(c, "AuthenticationFailed", "The Authorization header is missing",
                     "Authentication failed. The 'Authorization' header is missing. Log in "
                     "with `az login --service-principal` (kumo az-login prints how).");
        return false;
    }
    if (strncasecmp(auth, "Bearer ", 7) != 0) {
        unauthorized(c, "AuthenticationFailedInvalidHeader", "Not a bearer token",
                     "Authentication failed. The 'Authorization' header is provided in an "
                     "invalid format: it must be 'Bearer TOKEN'.");
        return false;
    }
    const char *t = auth + 7;
    while (*t == ' ')
        t++;
    json_t *claims = NULL;
    int64_t exp = 0, now = time_now_ms() / 1000;
    enum arm_jwt_result r = arm_jwt_verify(c->id->key, sizeof(c->id->key), t, now, &claims, &exp);
    if (r == ARM_JWT_EXPIRED) {
        char e1[40], e2[40];
        fmt_utc(exp, e1, sizeof(e1));
        fmt_utc(now, e2, sizeof(e2));
        unauthorized(c, "ExpiredAuthenticationToken", "The access token has expired",
                     "The access token expiry UTC time '%s' is earlier than current UTC time "
                     "'%s'. Get a new token (az does so by itself; `az account "
                     "get-access-token` shows it).",
                     e1, e2);
        return false;
    }
    if (r != ARM_JWT_OK) {
        unauthorized(c, "InvalidAuthenticationToken", "The access token is invalid",
                     "The access token is invalid%s: it was not issued by this kumod (or its "
                     "signing key changed). Log in again with `az login --service-principal`.",
                     r == ARM_JWT_BAD_SIGNATURE ? " (bad signature)" : "");
        return false;
    }
    const char *aud = json_string_value(json_object_get(claims, "aud"));
    const char *app = json_string_value(json_object_get(claims, "appid"));
    bool ok = aud && app && !strcmp(aud, ARM_AUDIENCE) && strlen(app) < sizeof(c->app_id);
    if (ok) snprintf(c->app_id, sizeof(c->app_id), "%s", app);
    json_decref(claims);
    if (!ok) {
        unauthorized(c, "InvalidAuthenticationTokenAudience", "The access token audience is wrong",
                     "The access token has the wrong audience or no application id: ask for a "
                     "token for '%s'.",
                     ARM_AUDIENCE);
        return false;
    }
    return true;
}

/* ---- dispatch ---- */

static void set_base(struct arm_ctx *c, const struct arm *a)
{
    const char *host = arm_req_header(c, "Host");
    bool ok = host && *host && strlen(host) < 200;
    for (const char *p = host; ok && *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr(".-:[]", *p)) ok = false;
    snprintf(c->base, sizeof(c->base), "https://%s", ok ? host : a->listen);
}

static void finish(struct arm_ctx *c)
{
    if (c->err.status) {
        json_decref(c->out);
        c->out = arm_err_json(&c->err);
        free(c->text);
        c->text = NULL;
        c->status = c->err.status;
        arm_header(c, "x-ms-failure-cause", "gateway");
    }
    char rid[37];
    arm_guid(rid);
    arm_header(c, "x-ms-request-id", "%s", rid);
    const char *crid = arm_req_header(c, "x-ms-client-request-id");
    if (crid && strlen(crid) < 100) arm_header(c, "x-ms-client-request-id", "%s", crid);
    const char *corr = arm_req_header(c, "x-ms-correlation-request-id");
    arm_header(c, "x-ms-correlation-request-id", "%s", corr && strlen(corr) < 100 ? corr : rid);
}

static void not_found(struct arm_ctx *c)
{
    struct arm_id id;
    char err[256], type[ARM_ID_MAX];
    if (arm_id_parse(c->path, &id, err, sizeof(err)) == 0 && id.ns[0]) {
        arm_id_type(&id, type, sizeof(type));
        if (id.collection[0]) {
            size_t n = strlen(type);
            snprintf(type + n, sizeof(type) - n, "/%s", id.collection);
        }
        if (!arm_apiver_list(type) || !arm_apiver_types(id.ns)) {
            arm_err_set(&c->err, 400, "NoRegisteredProviderFound", NULL,
                        "No registered resource provider found for location 'local' and type "
                        "'%.300s': kumo serves Microsoft.Compute, Microsoft.Network, "
                        "Microsoft.Resources and Microsoft.Insights.",
                        type);
            return;
        }
        arm_err_set(&c->err, 404, "InvalidResourceType", NULL,
                    "The resource type '%.300s' could not be found in the namespace '%.100s': "
                    "kumo does not serve it (docs/azure.md lists what it does).",
                    type, id.ns);
        return;
    }
    arm_err_set(&c->err, 404, "NotFound", NULL,
                "No such path on kumo's ARM endpoint: %.300s (docs/azure.md lists what it "
                "serves).",
                c->path);
}

void arm_dispatch(struct arm *a, struct arm_ctx *c)
{
    struct kumod *k = a->k;
    c->k = k;
    c->id = &a->id;
    set_base(c, a);
    c->api_version = arm_query(c, "api-version");
    if (c->err.status) goto out;
    if (atomic_load(&k->stopping)) {
        arm_err_set(&c->err, 503, "ServiceUnavailable", NULL,
                    "kumod is stopping; try again when it is back.");
        goto out;
    }
    char buf[ARM_ID_MAX + 256];
    struct arm_match m = {0};
    int found = ARM_ROUTE_NO_PATH;
    char allow[400] = "";
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]) && found != ARM_ROUTE_FOUND; i++) {
        struct arm_match t;
        int r = arm_route_match(tables[i], c->method, c->path, buf, sizeof(buf), &t);
        if (r == ARM_ROUTE_FOUND) {
            m = t;
            found = r;
        } else if (r == ARM_ROUTE_NO_METHOD) {
            found = r;
            size_t at = strlen(allow);
            snprintf(allow + at, sizeof(allow) - at, "%s%s", at ? ", " : "", t.allow);
        }
    }
    int flags = found == ARM_ROUTE_FOUND ? m.route->flags : 0;
    if (!(flags & ARM_NOAUTH) && !authenticate(c)) goto out;
    if (found == ARM_ROUTE_NO_METHOD) {
        arm_err_set(&c->err, 405, "MethodNotAllowed", NULL,
                    "The requested method '%s' is not allowed on %.300s (allowed: %s).", c->method,
                    c->path, allow);
        arm_header(c, "Allow", "%s", allow);
        goto out;
    }
    if (found != ARM_ROUTE_FOUND) {
        not_found(c);
        goto out;
    }
    memcpy(c->p, m.p, sizeof(c->p));
    c->np = m.np;
    if (!(flags & ARM_NOAPI) && arm_apiver_check(m.route->type, c->api_version, &c->err) < 0)
        goto out;
    if (!(flags & ARM_FORM) && c->raw_len &&
        (!strcmp(c->method, "PUT") || !strcmp(c->method, "POST") || !strcmp(c->method, "PATCH"))) {
        json_error_t je;
        c->body = json_loadb(c->raw, c->raw_len, 0, &je);
        if (!c->body) { /* member names without quotes, which ARM takes (lenient.h) */
            size_t n;
            char *quoted = arm_json_quote_names(c->raw, c->raw_len, &n);
            json_error_t je2;
            if (quoted) c->body = json_loadb(quoted, n, 0, &je2);
            free(quoted);
        }
        if (!c->body || !json_is_object(c->body)) {
            if (k->cfg.verbose)
                log_debug("arm: %s %s: a body that is not a JSON object: %.300s", c->method,
                          c->path, c->raw);
            arm_err_set(&c->err, 400, "InvalidRequestContent", NULL,
                        "The request content was invalid and could not be deserialized: %s "
                        "(line %d, column %d).",
                        c->body ? "the body must be a JSON object" : je.text, je.line, je.column);
            goto out;
        }
    }
    arm_fn fn = (arm_fn)m.route->fn;
    if (flags & ARM_NOLOCK) {
        fn(c);
        goto out;
    }
    kumod_lock(k);
    if (!(flags & ARM_NOAUTH) && !arm_sp_exists(k->db, c->app_id)) {
        kumod_unlock(k);
        unauthorized(c, "InvalidAuthenticationToken", "The service principal was deleted",
                     "The access token's service principal '%s' no longer exists (it was "
                     "deleted with kumo sp delete): its tokens are revoked.",
                     c->app_id);
        goto out;
    }
    fn(c);
    kumod_unlock(k);
out:
    if (k->cfg.verbose)
        log_debug("arm: %s %s -> %d%s%s", c->method, c->path,
                  c->err.status ? c->err.status : c->status, c->err.status ? " " : "", c->err.code);
    finish(c);
}
