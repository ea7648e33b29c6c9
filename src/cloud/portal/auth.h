/*
 * portal/auth.h - the web portal's security checks, with no HTTP server
 * around them (unit-tested in tests/unit/test_cloud_portal.c, fuzzed by
 * tests/fuzz/fuzz_cloud_portal.c): the server-side session table, the
 * Host and Origin checks, the WebSocket handshake's headers, constant-time
 * comparison. portal.c applies them to requests (docs/portal.md says why
 * each exists).
 *
 * Every function takes untrusted strings (request headers) and never reads
 * past their NUL; NULL stands for an absent header.
 */
#ifndef KUMO_CLOUD_PORTAL_AUTH_H
#define KUMO_CLOUD_PORTAL_AUTH_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PORTAL_SESSIONS_MAX 64
#define PORTAL_SECRET_LEN   64 /* hex digits of a session id or CSRF token (256 bits) */
#define PORTAL_SESSION_IDLE (8 * 3600 * 1000LL)  /* ms unused before a session ends */
#define PORTAL_SESSION_LIFE (24 * 3600 * 1000LL) /* ms after sign-in it ends anyway */
#define PORTAL_COOKIE       "kumo_session"
#define PORTAL_WS_PROTOCOL  "kumo.console" /* the subprotocol the console speaks */
#define PORTAL_WS_CSRF      "csrf."        /* prefix of the CSRF token's subprotocol */

struct portal_session {
    char id[PORTAL_SECRET_LEN + 1];   /* the cookie's value */
    char principal[64];               /* "": signed in with the API token; else the
                                         appId of a service principal (arm/identity.h) */
    char csrf[PORTAL_SECRET_LEN + 1]; /* sent back in X-CSRF-Token with every change */
    int64_t created_ms, used_ms;
    bool live;
};

/* The sessions of one kumod, in memory (a restart signs everyone out). */
struct portal_sessions {
    pthread_mutex_t lock;
    struct portal_session s[PORTAL_SESSIONS_MAX];
};

void portal_sessions_init(struct portal_sessions *ss);
/* A new session of principal ("" or an appId) at now_ms (replacing the
 * least recently used one when full): its id and CSRF token, fresh from
 * getrandom. -1 if the system has no randomness to give. */
int portal_session_create(struct portal_sessions *ss, int64_t now_ms, const char *principal,
                          struct portal_session *out);
/* The live session whose id is `id` (any string, NULL too), refreshed at
 * now_ms; false when there is none or it has expired (it is then ended). */
bool portal_session_find(struct portal_sessions *ss, const char *id, int64_t now_ms,
                         struct portal_session *out);
/* End the session with this id (sign-out); nothing if there is none. */
void portal_session_end(struct portal_sessions *ss, const char *id);

/* a and b equal, in time that depends on their lengths only. */
bool portal_secret_eq(const char *a, const char *b);

/* Is `host` (a Host header) a name this kumod answers to? A loopback
 * address (127.x.y.z, [::1]) or localhost, with or without a port, or the
 * host[:port] of public_origin (--portal-origin, "https://kumo.example";
 * NULL or "" for none). Refusing other names defeats DNS rebinding. */
bool portal_host_ok(const char *host, const char *public_origin);
/* Is `origin` (an Origin header) this kumod's own origin: "http://" + a
 * good `host`, or public_origin exactly? */
bool portal_origin_ok(const char *origin, const char *host, const char *public_origin);

/* Parse a Sec-WebSocket-Protocol header ("kumo.console, csrf.HEX"): true
 * when it offers PORTAL_WS_PROTOCOL; the CSRF token (the part after
 * PORTAL_WS_CSRF) goes to csrf ("" when absent or longer than csrf_len-1). */
bool portal_ws_protocols(const char *header, char *csrf, size_t csrf_len);
/* Sec-WebSocket-Accept for a Sec-WebSocket-Key (RFC 6455 4.2.2): false
 * when the key is not 16 bytes in base64. */
bool portal_ws_accept(const char *key, char out[29]);

/* The Content-Type of an asset by its file name's extension. */
const char *portal_content_type(const char *path);

#endif
