/*
 * portal.c - kumod's web portal: routing of /portal, the app's files and
 * security headers, sign-in and sessions, the checks on API requests made
 * with a session, and the console's WebSocket handshake (see portal.h;
 * the checks themselves are portal/auth.c, the bridge portal/console.c).
 */
#include "cloud/portal/portal.h"

#include "cloud/api.h"
#include "cloud/arm/identity.h"
#include "cloud/db.h"
#include "cloud/paths.h"
#include "cloud/portal/assets.h"
#include "cloud/portal/auth.h"
#include "cloud/portal/console.h"
#include "cloud/timefmt.h"
#include "lib/log.h"

#include <jansson.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

struct portal {
    struct kumod *k;
    struct portal_sessions sessions;
    atomic_int consoles; /* console bridges running */
    bool secure_cookie;  /* the public origin is https: the cookie says Secure */
};

/* Scripts only from kumod, no inline script, no eval; data only from
 * kumod (connect-src 'self' covers the console's ws:); no frames. Inline
 * styles are allowed: xterm.js writes its cell sizes and colours into
 * <style> elements (docs/portal.md). */
static const char csp[] =
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; manifest-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

struct portal *portal_start(struct kumod *k)
{
    struct portal *p = calloc(1, sizeof(*p));
    if (!p) return NULL;
    p->k = k;
    portal_sessions_init(&p->sessions);
    p->secure_cookie = strncasecmp(k->cfg.portal_origin, "https://", 8) == 0;
    if (portal_nassets == 0)
        log_warn("this kumod was built without the web portal (no npm, or meson "
                 "-Dportal=disabled): /portal explains how to build it");
    return p;
}

void portal_quiesce(struct portal *p)
{
    for (int i = 0; p && i < 50 && atomic_load(&p->consoles) > 0; i++)
        usleep(20000); /* each notices k->stopping within 0.1 s and closes */
}

void portal_stop(struct portal *p)
{
    if (!p) return;
    pthread_mutex_destroy(&p->sessions.lock);
    free(p);
}

static const char *cookie(const struct http_request *rq)
{
    return MHD_lookup_connection_value(rq->conn, MHD_COOKIE_KIND, PORTAL_COOKIE);
}

static void security_headers(struct http_response *rs)
{
    http_add_header(rs, "Content-Security-Policy", "%s", csp);
    http_add_header(rs, "X-Content-Type-Options", "nosniff");
    http_add_header(rs, "X-Frame-Options", "DENY");
    http_add_header(rs, "Referrer-Policy", "no-referrer");
    http_add_header(rs, "Cross-Origin-Opener-Policy", "same-origin");
}

static void reply_json(struct http_response *rs, int status, json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    rs->status = status;
    rs->content_type = "application/json";
    if (status == 204 || !s) {
        free(s);
        rs->body = NULL;
        rs->len = 0;
        return;
    }
    rs->body = s;
    rs->len = strlen(s);
}

/* The API's error format (docs/api.md "Errors"). */
static void reply_error(struct http_response *rs, int status, const char *code, const char *fmt,
                        ...) __attribute__((format(printf, 4, 5)));
static void reply_error(struct http_response *rs, int status, const char *code, const char *fmt,
                        ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    reply_json(rs, status, json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg));
}

static void reply_text(struct http_response *rs, int status, const char *ctype, const void *data,
                       size_t len)
{
    rs->status = status;
    rs->content_type = ctype;
    rs->body = malloc(len ? len : 1);
    rs->len = rs->body ? len : 0;
    if (rs->body && len) memcpy(rs->body, data, len);
}

static const struct portal_asset *asset(const char *path)
{
    for (size_t i = 0; i < portal_nassets; i++)
        if (strcmp(portal_assets[i].path, path) == 0) return &portal_assets[i];
    return NULL;
}

static bool is_get(const struct http_request *rq)
{
    return strcmp(rq->method, "GET") == 0 || strcmp(rq->method, "HEAD") == 0;
}

/* ---- checks ---- */

static bool host_checked(struct portal *p, const struct http_request *rq, struct http_response *rs)
{
    const char *host = http_header(rq, "Host");
    if (portal_host_ok(host, p->k->cfg.portal_origin)) return true;
    reply_error(rs, 403, "Forbidden",
                "the Host header '%.100s' is not a name of this kumod: open the portal at "
                "http://127.0.0.1:PORT/ or localhost (or give kumod --portal-origin with the "
                "address its proxy serves)",
                host ? host : "");
    return false;
}

static bool origin_checked(struct portal *p, const struct http_request *rq,
                           struct http_response *rs)
{
    const char *origin = http_header(rq, "Origin");
    if (portal_origin_ok(origin, http_header(rq, "Host"), p->k->cfg.portal_origin)) return true;
    reply_error(rs, 403, "Forbidden",
                origin ? "the request comes from another site (Origin %.100s): the portal only "
                         "accepts changes made from its own pages"
                       : "the request has no Origin header%.0s: changes made with a portal session "
                         "must come from the portal's pages (scripts use the API token instead)",
                origin ? origin : "");
    return false;
}

/* The session of a request with the cookie, or a 401 answer. */
static bool session_checked(struct portal *p, const struct http_request *rq,
                            struct http_response *rs, struct portal_session *s)
{
    if (portal_session_find(&p->sessions, cookie(rq), time_now_ms(), s)) {
        if (!s->principal[0]) return true;
        kumod_lock(p->k);
        bool exists = arm_sp_exists(p->k->db, s->principal);
        kumod_unlock(p->k);
        if (exists) return true;
        portal_session_end(&p->sessions, s->id); /* deleting a principal revokes its sessions */
        reply_error(rs, 401, "Unauthorized",
                    "the service principal of your portal session (%.64s) was deleted: sign in "
                    "again",
                    s->principal);
        return false;
    }
    reply_error(rs, 401, "Unauthorized",
                "your portal session has ended (signed out, unused for 8 hours, older than 24 "
                "hours, or kumod restarted): sign in again with the API token");
    return false;
}

static bool csrf_checked(const struct portal_session *s, const char *token,
                         struct http_response *rs)
{
    if (portal_secret_eq(token, s->csrf)) return true;
    reply_error(rs, 403, "Forbidden",
                token ? "the X-CSRF-Token header does not match your session: reload the portal"
                      : "the X-CSRF-Token header is missing: changes made with a portal session "
                        "must send the session's CSRF token (GET /portal/api/session gives it)");
    return false;
}

/* ---- /portal/api/session ---- */

static void set_cookie(struct portal *p, struct http_response *rs, const char *value, bool clear)
{
    http_add_header(rs, "Set-Cookie", "%s=%s; Path=/; HttpOnly; SameSite=Strict%s%s", PORTAL_COOKIE,
                    value, p->secure_cookie ? "; Secure" : "", clear ? "; Max-Age=0" : "");
}

static json_t *session_json(const struct portal_session *s)
{
    int64_t end = s->created_ms + PORTAL_SESSION_LIFE;
    if (s->used_ms + PORTAL_SESSION_IDLE < end) end = s->used_ms + PORTAL_SESSION_IDLE;
    json_t *who = s->principal[0]
                      ? json_pack("{s:s,s:s}", "type", "servicePrincipal", "appId", s->principal)
                      : json_pack("{s:s}", "type", "apiToken");
    return json_pack("{s:b,s:s,s:o,s:o,s:o}", "signedIn", 1, "csrfToken", s->csrf, "signedInAt",
                     api_time(s->created_ms), "expiresAt", api_time(end), "principal", who);
}

/* Sign-in with a service principal's appId and secret (kumo sp create):
 * the same check as the ARM endpoint's token request. */
static void sign_in_sp(struct portal *p, struct http_response *rs, const char *app,
                       const char *secret)
{
    char salt[64], hash[96];
    int64_t iters = 0;
    kumod_lock(p->k);
    bool found = arm_sp_secret(p->k->db, app, salt, hash, &iters);
    kumod_unlock(p->k);
    if (!found || !arm_secret_matches(secret, salt, hash, iters)) { /* PBKDF2: unlocked */
        log_warn("portal: a sign-in with a wrong service principal secret (appId %.64s)", app);
        reply_json(rs, 401,
                   json_pack("{s:{s:s,s:s,s:s}}", "error", "code", "Unauthorized", "target",
                             "secret", "message",
                             "secret: no service principal has this application id and secret "
                             "(`kumo sp list` shows the application ids; a secret is shown "
                             "once, by `kumo sp create`)"));
        return;
    }
    struct portal_session s;
    if (portal_session_create(&p->sessions, time_now_ms(), app, &s) < 0) {
        reply_error(rs, 500, "InternalError", "no randomness for a session id (getrandom failed)");
        return;
    }
    log_info("portal: service principal %.64s signed in", app);
    set_cookie(p, rs, s.id, false);
    reply_json(rs, 201, session_json(&s));
}

static void session_api(struct portal *p, const struct http_request *rq, struct http_response *rs)
{
    struct portal_session s;
    if (is_get(rq)) {
        if (session_checked(p, rq, rs, &s)) reply_json(rs, 200, session_json(&s));
        return;
    }
    if (strcmp(rq->method, "DELETE") == 0) {
        if (!origin_checked(p, rq, rs) || !session_checked(p, rq, rs, &s) ||
            !csrf_checked(&s, http_header(rq, "X-CSRF-Token"), rs))
            return;
        portal_session_end(&p->sessions, s.id);
        set_cookie(p, rs, "", true);
        reply_json(rs, 204, NULL);
        return;
    }
    if (strcmp(rq->method, "POST") != 0) {
        snprintf(rs->allow, sizeof(rs->allow), "GET, POST, DELETE");
        reply_error(rs, 405, "MethodNotAllowed",
                    "%.16s is not allowed on /portal/api/session (allowed: GET, POST, DELETE)",
                    rq->method);
        return;
    }
    /* Sign-in: an Origin check too, so that no other site signs a browser
     * in to a session of its choosing. */
    if (!origin_checked(p, rq, rs)) return;
    if (rq->body_too_large) {
        reply_error(rs, 413, "PayloadTooLarge", "the sign-in body is too large");
        return;
    }
    json_error_t jerr;
    json_t *b = json_loadb(rq->body, rq->body_len, 0, &jerr);
    const char *token = json_is_object(b) ? json_string_value(json_object_get(b, "token")) : NULL;
    const char *app = json_is_object(b) ? json_string_value(json_object_get(b, "appId")) : NULL;
    const char *secret = json_is_object(b) ? json_string_value(json_object_get(b, "secret")) : NULL;
    if (!token && app && secret) {
        sign_in_sp(p, rs, app, secret);
        json_decref(b);
        return;
    }
    if (!token) {
        json_decref(b);
        reply_json(rs, 400,
                   json_pack("{s:{s:s,s:s,s:s}}", "error", "code", "MissingField", "target",
                             app ? "secret" : "token", "message",
                             app ? "secret: give the service principal's secret with its appId"
                                 : "token: give kumod's API token, {\"token\": \"...\"}, or a "
                                   "service principal's {\"appId\", \"secret\"}"));
        return;
    }
    char t[80];
    size_t tl = strspn(token, " \t\r\n");
    snprintf(t, sizeof(t), "%s", token + tl);
    t[strcspn(t, " \t\r\n")] = 0;
    bool ok = portal_secret_eq(t, p->k->token);
    json_decref(b);
    if (!ok) {
        log_warn("portal: a sign-in with a wrong token (from %s)", http_header(rq, "Origin"));
        reply_json(rs, 401,
                   json_pack("{s:{s:s,s:s,s:s}}", "error", "code", "Unauthorized", "target",
                             "token", "message",
                             "token: this is not kumod's API token. It is the 64 hex digits in "
                             "the file `token` of kumod's data directory (cat "
                             "~/.local/state/kumo/token, or /var/lib/kumo/token for root)"));
        return;
    }
    if (portal_session_create(&p->sessions, time_now_ms(), "", &s) < 0) {
        reply_error(rs, 500, "InternalError", "no randomness for a session id (getrandom failed)");
        return;
    }
    set_cookie(p, rs, s.id, false);
    reply_json(rs, 201, session_json(&s));
}

/* ---- /portal/api/console/RG/VM ---- */

static void console_upgrade(void *ctx, int fd, const char *extra, size_t extra_len)
{
    portal_console_run(ctx, fd, extra, extra_len);
}

static void console_api(struct portal *p, const struct http_request *rq, struct http_response *rs,
                        const char *rest)
{
    char rg[80], vm[80];
    const char *slash = strchr(rest, '/');
    if (!slash || slash == rest || (size_t)(slash - rest) >= sizeof(rg) || !slash[1] ||
        strchr(slash + 1, '/') || strlen(slash + 1) >= sizeof(vm)) {
        reply_error(rs, 404, "NotFound",
                    "no such path: %.200s (the console is /portal/api/console/GROUP/VM)", rq->path);
        return;
    }
    memcpy(rg, rest, (size_t)(slash - rest));
    rg[slash - rest] = 0;
    snprintf(vm, sizeof(vm), "%s", slash + 1);
    const char *upgrade = http_header(rq, "Upgrade");
    if (!is_get(rq) || !upgrade || strcasecmp(upgrade, "websocket") != 0) {
        reply_error(rs, 400, "InvalidRequest",
                    "this is the VM's console as a WebSocket: connect with a WebSocket client "
                    "(the portal's console tab does)");
        return;
    }
    struct portal_session s;
    char csrf[PORTAL_SECRET_LEN + 2];
    if (!host_checked(p, rq, rs) || !origin_checked(p, rq, rs) || !session_checked(p, rq, rs, &s))
        return;
    bool proto = portal_ws_protocols(http_header(rq, "Sec-WebSocket-Protocol"), csrf, sizeof(csrf));
    if (!proto) {
        reply_error(rs, 400, "InvalidRequest",
                    "offer the WebSocket subprotocol " PORTAL_WS_PROTOCOL);
        return;
    }
    if (!csrf_checked(&s, csrf[0] ? csrf : NULL, rs)) return;
    const char *version = http_header(rq, "Sec-WebSocket-Version");
    char accept[29];
    if (!version || strcmp(version, "13") != 0 ||
        !portal_ws_accept(http_header(rq, "Sec-WebSocket-Key"), accept)) {
        http_add_header(rs, "Sec-WebSocket-Version", "13");
        reply_error(rs, 400, "InvalidRequest",
                    "a WebSocket handshake needs Sec-WebSocket-Version 13 and a 16-byte "
                    "Sec-WebSocket-Key");
        return;
    }
    struct kumod *k = p->k;
    char state[32] = "";
    kumod_lock(k);
    int64_t id = db_int(k->db, NULL, -1,
                        "SELECT v.id FROM vms v JOIN groups g ON g.id = v.group_id"
                        " WHERE g.name = ? AND v.name = ?",
                        "tt", rg, vm);
    if (id >= 0)
        db_text(k->db, state, sizeof(state), "SELECT power_state FROM vms WHERE id = ?", "i", id);
    kumod_unlock(k);
    if (id < 0) {
        reply_error(rs, 404, "NotFound",
                    "virtual machine '%.64s' not found in resource group '%.64s'", vm, rg);
        return;
    }
    if (strcmp(state, "Running") != 0 && strcmp(state, "Starting") != 0 &&
        strcmp(state, "Stopping") != 0) {
        reply_error(rs, 409, "InvalidState",
                    "virtual machine '%.64s' is %s: its console exists while it runs (start it)",
                    vm, state);
        return;
    }
    struct portal_console *pc = calloc(1, sizeof(*pc));
    if (!pc) {
        reply_error(rs, 500, "InternalError", "out of memory");
        return;
    }
    char path[PATH_MAX];
    snprintf(pc->socket_path, sizeof(pc->socket_path), "%s",
             path_vm_file(k, path, id, "console.sock"));
    snprintf(pc->log_path, sizeof(pc->log_path), "%s", path_vm_file(k, path, id, "console.log"));
    pc->stopping = &k->stopping;
    pc->running = &p->consoles;
    rs->status = 101;
    http_add_header(rs, "Upgrade", "websocket");
    http_add_header(rs, "Connection", "Upgrade");
    http_add_header(rs, "Sec-WebSocket-Accept", "%s", accept);
    http_add_header(rs, "Sec-WebSocket-Protocol", PORTAL_WS_PROTOCOL);
    rs->upgrade = console_upgrade;
    rs->upgrade_ctx = pc;
    log_info("portal: console of %s/%s opened", rg, vm);
}

/* ---- the app ---- */

static const char not_built[] =
    "<!doctype html><meta charset=utf-8><title>kumo portal</title>"
    "<h1>This kumod was built without its web portal</h1>"
    "<p>The portal is built from web/ with Node.js and npm. Install them (scripts/deps.sh does), "
    "make sure the build may use them (<code>meson configure build -Dportal=auto</code>) and "
    "rebuild kumo (scripts/build.sh): meson then builds the portal into kumod.</p>";

static void serve_app(struct portal *p, const struct http_request *rq, struct http_response *rs)
{
    const char *path = rq->path;
    if (strcmp(path, "/") == 0 || strcmp(path, "/portal") == 0) {
        rs->status = 302;
        snprintf(rs->location, sizeof(rs->location), "/portal/");
        rs->content_type = "text/plain; charset=utf-8";
        return;
    }
    if (strncmp(path, "/portal/api/", 12) == 0) {
        if (strcmp(path + 12, "session") == 0) {
            if (host_checked(p, rq, rs)) session_api(p, rq, rs);
            return;
        }
        if (strncmp(path + 12, "console/", 8) == 0) {
            console_api(p, rq, rs, path + 20);
            return;
        }
        reply_error(rs, 404, "NotFound", "no such path: %.200s (docs/portal.md)", path);
        return;
    }
    if (!is_get(rq)) {
        snprintf(rs->allow, sizeof(rs->allow), "GET, HEAD");
        reply_error(rs, 405, "MethodNotAllowed", "%.16s is not allowed on the portal's pages",
                    rq->method);
        return;
    }
    if (!host_checked(p, rq, rs)) return;
    security_headers(rs);
    const struct portal_asset *a = asset(path);
    if (a) {
        if (strncmp(path, "/portal/assets/", 15) == 0)
            http_add_header(rs, "Cache-Control", "public, max-age=31536000, immutable");
        reply_text(rs, 200, portal_content_type(path), a->data, a->len);
        return;
    }
    if (strncmp(path, "/portal/assets/", 15) == 0) {
        reply_text(rs, 404, "text/plain; charset=utf-8", "no such file\n", 13);
        return;
    }
    a = asset("/portal/index.html");
    http_add_header(rs, "Cache-Control", "no-cache");
    if (!a) {
        reply_text(rs, 503, "text/html; charset=utf-8", not_built, sizeof(not_built) - 1);
        return;
    }
    reply_text(rs, 200, "text/html; charset=utf-8", a->data, a->len);
}

/* What only the operator (the API token) does: change hosts, sizes and
 * images, and see or change service principals. */
static bool operator_route(const struct http_request *rq)
{
    const char *path = rq->path;
    if (strncasecmp(path, "/v1/servicePrincipals", 21) == 0) return true;
    if (is_get(rq)) return false;
    return strncasecmp(path, "/v1/hosts", 9) == 0 || strncasecmp(path, "/v1/sizes", 9) == 0 ||
           strncasecmp(path, "/v1/images", 10) == 0;
}

static bool portal_path(const char *path)
{
    return strcmp(path, "/") == 0 || strcmp(path, "/portal") == 0 ||
           strncmp(path, "/portal/", 8) == 0;
}

bool portal_authorized(void *ctx, const struct http_request *rq)
{
    struct kumod *k = ctx;
    struct portal *p = k->portal;
    if (p && portal_path(rq->path)) return true;
    if (p && cookie(rq) && !http_header(rq, "Authorization")) {
        struct portal_session s;
        return portal_session_find(&p->sessions, cookie(rq), time_now_ms(), &s);
    }
    return api_authorized(ctx, rq);
}

void portal_handle(void *ctx, const struct http_request *rq, struct http_response *rs)
{
    struct kumod *k = ctx;
    struct portal *p = k->portal;
    if (p && portal_path(rq->path)) {
        serve_app(p, rq, rs);
        return;
    }
    struct http_request r = *rq;
    if (p && cookie(rq) && !http_header(rq, "Authorization")) {
        struct portal_session s;
        if (!host_checked(p, rq, rs) || !session_checked(p, rq, rs, &s)) return;
        if (!is_get(rq) &&
            (!origin_checked(p, rq, rs) || !csrf_checked(&s, http_header(rq, "X-CSRF-Token"), rs)))
            return;
        if (s.principal[0] && operator_route(rq)) {
            reply_error(rs, 403, "Forbidden",
                        "a service principal's session cannot %s %.100s: hosts, sizes, images and "
                        "service principals are the operator's (sign in with the API token)",
                        is_get(rq) ? "read" : "change", rq->path);
            return;
        }
        r.session_auth = true;
    }
    api_handle(k, &r, rs);
}
