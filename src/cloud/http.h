/*
 * http.h - kumod's HTTP server (libmicrohttpd): a unix socket and,
 * optionally, a loopback TCP port, request bodies collected up to a limit,
 * and one handler for every request.
 *
 * Connections cost no thread: one event loop (epoll) holds them all, up to
 * HTTP_MAX_CONNECTIONS, so thousands of idle ones lock nobody out. A
 * connection that has not sent an authorized request is closed after
 * HTTP_IDLE_UNAUTH seconds of silence; once a request passed the authorize
 * callback, after HTTP_IDLE_AUTH. Authorization is decided on the request's
 * headers, before any of its body is read: a refused request is answered
 * at once (the handler makes the 401) and its body never collected.
 *
 * Contract: an authorized request's handler runs on a thread of its own
 * (at most HTTP_MAX_WORKERS at once; beyond that the request is answered
 * 503) and may block (the ?wait of long operations) while the connection
 * waits suspended. Refusals (401, 413, 503) run the handler on the event
 * loop and must not block. The body the handler sees is complete; a body
 * over max_body is never collected - the request reaches the handler with
 * body_too_large set (and no body). The handler fills a struct
 * http_response; http.c sends it and frees body.
 */
#ifndef KUMO_CLOUD_HTTP_H
#define KUMO_CLOUD_HTTP_H

#include <stdbool.h>
#include <stddef.h>

struct MHD_Connection;
struct http;

struct http_request {
    const char *method;
    const char *path; /* without the query */
    const char *body; /* NUL-terminated copy of the body ("" when none) */
    size_t body_len;
    bool body_too_large;
    struct MHD_Connection *conn;
    bool session_auth; /* authenticated by a portal session (portal.h), not a token */
    /* Without a connection (tests, tests/fuzz/fuzz_cloud_api.c): the query
     * arguments and the headers, NAME, VALUE, ..., NULL. */
    const char *const *args, *const *headers;
};

/* After a 101 answer: the connection's socket belongs to fn (see
 * http_response.upgrade), with the bytes the client sent after its
 * request already (extra). fn runs on a thread of its own (counted among
 * the workers: http_stop waits for it, so it must end once its owner is
 * stopping), may block, and must not close fd; http.c closes it when fn
 * returns. */
typedef void (*http_upgrade_fn)(void *ctx, int fd, const char *extra, size_t extra_len);

#define HTTP_MAX_HEADERS 10

struct http_response {
    int status;
    char *body; /* malloc'd; http.c frees it */
    size_t len;
    const char *content_type; /* static string */
    char location[512];       /* Location header, or "" */
    char allow[96];           /* Allow header (405), or "" */
    bool www_authenticate;    /* 401 */
    /* More headers (name: a static string); a "Cache-Control" one replaces
     * the default no-store. */
    struct {
        const char *name;
        char value[512];
    } headers[HTTP_MAX_HEADERS];
    int nheaders;
    /* status 101: switch protocols, then upgrade(upgrade_ctx, ...) */
    http_upgrade_fn upgrade;
    void *upgrade_ctx;
};

#define HTTP_MAX_CONNECTIONS 16384
#define HTTP_IDLE_UNAUTH     10  /* seconds */
#define HTTP_IDLE_AUTH       120 /* seconds */
#define HTTP_MAX_WORKERS     256

/* Add a header to a response (value truncated to 511 bytes; ignored past
 * HTTP_MAX_HEADERS). */
void http_add_header(struct http_response *rs, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

typedef void (*http_handler)(void *ctx, const struct http_request *rq, struct http_response *rs);
/* Whether a request may go on: read its body and run its handler on a
 * worker. rq has the method, path and headers (http_header) but no body
 * yet. Runs on the event loop: must not block. */
typedef bool (*http_authorize)(void *ctx, const struct http_request *rq);

/* Listen on unix_path (created, mode 0660, replacing a stale socket) and on
 * tcp ("127.0.0.1:8080", "[::1]:8080", "localhost:8080"; "" = none; only
 * loopback addresses are accepted). NULL with a message in err. */
struct http *http_start(const char *unix_path, const char *tcp, size_t max_body,
                        http_handler handler, http_authorize authorize, void *ctx, char *err,
                        size_t errlen);
/* Stop accepting, wait for running handlers, close everything. */
void http_stop(struct http *h);

/* A query parameter of the request (NULL when absent). */
const char *http_query(const struct http_request *rq, const char *name);
/* A request header (NULL when absent). */
const char *http_header(const struct http_request *rq, const char *name);

#endif
