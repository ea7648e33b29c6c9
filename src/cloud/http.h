/*
 * http.h - kumod's HTTP server (libmicrohttpd): a unix socket and,
 * optionally, a loopback TCP port, one thread per connection, request
 * bodies collected up to a limit, and one handler for every request.
 *
 * Contract: the handler runs on the connection's own thread and may block
 * (the ?wait of long operations). The body it sees is complete; a body over
 * max_body is never collected - the request reaches the handler with
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
};

/* After a 101 answer: the connection's socket belongs to fn (see
 * http_response.upgrade), with the bytes the client sent after its
 * request already (extra). fn runs on the connection's thread, may block,
 * and must not close fd; http.c closes it when fn returns. */
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

/* Add a header to a response (value truncated to 511 bytes; ignored past
 * HTTP_MAX_HEADERS). */
void http_add_header(struct http_response *rs, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

typedef void (*http_handler)(void *ctx, const struct http_request *rq, struct http_response *rs);

/* Listen on unix_path (created, mode 0660, replacing a stale socket) and on
 * tcp ("127.0.0.1:8080", "[::1]:8080", "localhost:8080"; "" = none; only
 * loopback addresses are accepted). NULL with a message in err. */
struct http *http_start(const char *unix_path, const char *tcp, size_t max_body,
                        http_handler handler, void *ctx, char *err, size_t errlen);
/* Stop accepting, wait for running handlers, close everything. */
void http_stop(struct http *h);

/* A query parameter of the request (NULL when absent). */
const char *http_query(const struct http_request *rq, const char *name);
/* A request header (NULL when absent). */
const char *http_header(const struct http_request *rq, const char *name);

#endif
