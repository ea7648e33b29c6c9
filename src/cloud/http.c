/*
 * http.c - libmicrohttpd glue for kumod (contract in http.h): listening
 * sockets, one epoll event loop per socket, authorization on the headers,
 * body collection with a size limit, handlers on worker threads while the
 * connection is suspended, and turning a struct http_response into a
 * queued MHD response.
 */
#include "cloud/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

struct http {
    struct MHD_Daemon *daemons[2];
    int ndaemons;
    http_handler handler;
    http_authorize authorize;
    void *ctx;
    size_t max_body;
    char unix_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    pthread_mutex_t lock; /* guards workers */
    pthread_cond_t idle;  /* workers reached 0 */
    int workers;          /* handlers running on their threads */
};

struct pending {
    struct http *h;
    struct MHD_Connection *conn;
    const char *method, *url; /* the connection's own copies (valid while it lives) */
    char *buf;
    size_t len, cap;
    bool too_large;
    _Atomic bool done;        /* the worker filled rs */
    struct http_response rs;
};

static int listen_unix(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(a.sun_path)) {
        snprintf(err, errlen,
                 "%s: path too long for a unix socket (%zu bytes max): use a shorter --data-dir",
                 path, sizeof(a.sun_path) - 1);
        return -1;
    }
    strcpy(a.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) goto fail;
    unlink(path); /* a stale socket of a previous kumod (the pid lock says it is gone) */
    mode_t old = umask(0117);
    int rc = bind(fd, (struct sockaddr *)&a, sizeof(a));
    umask(old);
    if (rc < 0 || listen(fd, 128) < 0) goto fail;
    return fd;
fail:
    snprintf(err, errlen, "%.512s: %s", path, strerror(errno));
    if (fd >= 0) close(fd);
    return -1;
}

static int listen_tcp(const char *spec, char *err, size_t errlen)
{
    char host[128];
    const char *colon = strrchr(spec, ':');
    if (!colon || colon == spec || !colon[1]) {
        snprintf(err, errlen, "--listen-tcp %s: give ADDRESS:PORT, e.g. 127.0.0.1:8080", spec);
        return -1;
    }
    size_t hl = (size_t)(colon - spec);
    if (spec[0] == '[' && hl >= 2 && spec[hl - 1] == ']') {
        spec++;
        hl -= 2;
    }
    if (hl >= sizeof(host)) hl = sizeof(host) - 1;
    memcpy(host, spec, hl);
    host[hl] = 0;
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host, colon + 1, &hints, &res);
    if (gai != 0) {
        snprintf(err, errlen, "--listen-tcp %s: %s", host, gai_strerror(gai));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        bool loopback =
            (ai->ai_family == AF_INET &&
             (ntohl(((struct sockaddr_in *)ai->ai_addr)->sin_addr.s_addr) >> 24) == 127) ||
            (ai->ai_family == AF_INET6 &&
             IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr));
        if (!loopback) {
            snprintf(err, errlen,
                     "--listen-tcp %s: not a loopback address; kumod serves TCP on 127.0.0.0/8 "
                     "or ::1 only",
                     host);
            continue;
        }
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 128) == 0) break;
        snprintf(err, errlen, "--listen-tcp %s: %s", spec, strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

struct upgrade {
    http_upgrade_fn fn;
    void *ctx;
};

struct upgraded {
    struct upgrade u;
    struct http *h;
    MHD_socket sock;
    const char *extra;
    size_t extra_len;
    struct MHD_UpgradeResponseHandle *urh;
};

static void worker_done(struct http *h)
{
    pthread_mutex_lock(&h->lock);
    if (--h->workers == 0) pthread_cond_broadcast(&h->idle);
    pthread_mutex_unlock(&h->lock);
}

/* An upgraded connection's own thread (the event loop must not block). */
static void *upgraded_run(void *arg)
{
    struct upgraded *g = arg;
    g->u.fn(g->u.ctx, g->sock, g->extra, g->extra_len);
    MHD_upgrade_action(g->urh, MHD_UPGRADE_ACTION_CLOSE);
    struct http *h = g->h;
    free(g);
    worker_done(h);
    return NULL;
}

static void upgrade_cb(void *cls, struct MHD_Connection *conn, void *con_cls, const char *extra_in,
                       size_t extra_in_size, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
    (void)conn;
    struct pending *p = con_cls;
    struct upgrade *u = cls;
    if (!p) { /* a refusal is never upgraded (handlers only upgrade authorized requests) */
        shutdown(sock, SHUT_RDWR);
        u->fn(u->ctx, sock, extra_in, extra_in_size);
        MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
        free(u);
        return;
    }
    struct upgraded *g = malloc(sizeof(*g));
    struct http *h = p->h;
    pthread_mutex_lock(&h->lock);
    h->workers++;
    pthread_mutex_unlock(&h->lock);
    pthread_t t;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    if (g) *g = (struct upgraded){*u, h, sock, extra_in, extra_in_size, urh};
    if (!g || pthread_create(&t, &at, upgraded_run, g) != 0) {
        /* no thread: fn still gets (and releases) its context, on a closed
         * connection it leaves at once */
        shutdown(sock, SHUT_RDWR);
        u->fn(u->ctx, sock, extra_in, extra_in_size);
        MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
        free(g);
        worker_done(h);
    }
    pthread_attr_destroy(&at);
    free(u);
}

void http_add_header(struct http_response *rs, const char *name, const char *fmt, ...)
{
    if (rs->nheaders >= HTTP_MAX_HEADERS) return;
    rs->headers[rs->nheaders].name = name;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rs->headers[rs->nheaders].value, sizeof(rs->headers[0].value), fmt, ap);
    va_end(ap);
    rs->nheaders++;
}

static enum MHD_Result send_response(struct MHD_Connection *conn, struct http_response *rs)
{
    struct MHD_Response *r;
    struct upgrade *u = NULL;
    if (rs->upgrade) {
        free(rs->body);
        rs->body = NULL;
        u = malloc(sizeof(*u));
        r = u ? MHD_create_response_for_upgrade(upgrade_cb, u) : NULL;
        if (!r) {
            free(u);
            return MHD_NO;
        }
        *u = (struct upgrade){rs->upgrade, rs->upgrade_ctx};
    } else {
        r = MHD_create_response_from_buffer(rs->len, rs->body, MHD_RESPMEM_MUST_FREE);
        if (!r) {
            free(rs->body);
            return MHD_NO;
        }
        rs->body = NULL;
        MHD_add_response_header(r, "Content-Type",
                                rs->content_type ? rs->content_type : "application/json");
    }
    bool cache = false;
    for (int i = 0; i < rs->nheaders; i++) {
        MHD_add_response_header(r, rs->headers[i].name, rs->headers[i].value);
        cache |= strcasecmp(rs->headers[i].name, "Cache-Control") == 0;
    }
    if (!cache && !rs->upgrade) MHD_add_response_header(r, "Cache-Control", "no-store");
    if (rs->location[0]) MHD_add_response_header(r, "Location", rs->location);
    if (rs->allow[0]) MHD_add_response_header(r, "Allow", rs->allow);
    if (rs->www_authenticate)
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"kumo\"");
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)rs->status, r);
    MHD_destroy_response(r);
    /* MHD calls upgrade_cb (which frees u) only once the 101 is sent */
    return ret;
}

/* A refusal (401, 413, 503) answered on the event loop: the handler makes
 * it without blocking (http.h). */
static enum MHD_Result answer_now(struct http *h, struct MHD_Connection *conn, const char *method,
                                  const char *url, bool too_large)
{
    struct http_request rq = {
        .method = method, .path = url, .body = "", .body_too_large = too_large, .conn = conn};
    struct http_response rs = {.status = 500};
    h->handler(h->ctx, &rq, &rs);
    return send_response(conn, &rs);
}

static void *worker(void *arg)
{
    struct pending *p = arg;
    struct http *h = p->h;
    struct http_request rq = {.method = p->method,
                              .path = p->url,
                              .body = p->buf ? p->buf : "",
                              .body_len = p->len,
                              .body_too_large = p->too_large,
                              .conn = p->conn};
    p->rs = (struct http_response){.status = 500};
    h->handler(h->ctx, &rq, &p->rs);
    atomic_store(&p->done, true);
    MHD_resume_connection(p->conn); /* the event loop sends p->rs */
    worker_done(h);
    return NULL;
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    (void)version;
    struct http *h = cls;
    struct pending *p = *con_cls;
    if (!p) {
        /* the headers are in: decide before reading any of the body */
        struct http_request head = {.method = method, .path = url, .body = "", .conn = conn};
        if (!h->authorize(h->ctx, &head)) return answer_now(h, conn, method, url, false);
        p = calloc(1, sizeof(*p));
        if (!p) return MHD_NO;
        *con_cls = p;
        p->h = h;
        p->conn = conn;
        p->method = method;
        p->url = url;
        MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, (unsigned)HTTP_IDLE_AUTH);
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl) {
            char *end;
            errno = 0;
            unsigned long long n = strtoull(cl, &end, 10);
            if (errno || *end || n > h->max_body) p->too_large = true;
        }
        if (p->too_large) return answer_now(h, conn, method, url, true); /* body never read */
        return MHD_YES;
    }
    if (atomic_load(&p->done)) /* resumed: the worker's answer */
        return send_response(conn, &p->rs);
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (p->too_large) return MHD_YES;
        if (p->len + n > h->max_body) {
            p->too_large = true;
            free(p->buf);
            p->buf = NULL;
            p->len = p->cap = 0;
            return MHD_YES;
        }
        if (p->len + n + 1 > p->cap) {
            size_t cap = p->cap ? p->cap : 4096;
            while (cap < p->len + n + 1)
                cap *= 2;
            char *nb = realloc(p->buf, cap);
            if (!nb) return MHD_NO;
            p->buf = nb;
            p->cap = cap;
        }
        memcpy(p->buf + p->len, upload_data, n);
        p->len += n;
        p->buf[p->len] = 0;
        return MHD_YES;
    }
    /* the whole request: its handler on a thread of its own, the
     * connection suspended until the answer is ready */
    pthread_mutex_lock(&h->lock);
    bool room = h->workers < HTTP_MAX_WORKERS;
    if (room) h->workers++;
    pthread_mutex_unlock(&h->lock);
    pthread_t t;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    MHD_suspend_connection(conn);
    if (!room || pthread_create(&t, &at, worker, p) != 0) {
        pthread_attr_destroy(&at);
        if (room) worker_done(h);
        p->rs = (struct http_response){.status = 503};
        p->rs.body = strdup("{\"error\":{\"code\":\"TooManyRequests\",\"message\":\"kumod is "
                            "answering as many requests as it can; try again\"}}\n");
        p->rs.len = p->rs.body ? strlen(p->rs.body) : 0;
        atomic_store(&p->done, true);
        MHD_resume_connection(conn);
        return MHD_YES;
    }
    pthread_attr_destroy(&at);
    return MHD_YES;
}

static void completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    struct pending *p = *con_cls;
    if (!p) return;
    free(p->buf);
    free(p->rs.body); /* an answer that was not sent (the client left) */
    free(p);
    *con_cls = NULL;
}

static struct MHD_Daemon *start_on(struct http *h, int fd)
{
    return MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
                                MHD_ALLOW_SUSPEND_RESUME | MHD_ALLOW_UPGRADE |
                                MHD_USE_ERROR_LOG,
                            0, NULL, NULL, access_cb, h, MHD_OPTION_LISTEN_SOCKET, fd,
                            MHD_OPTION_NOTIFY_COMPLETED, completed_cb, h,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_MAX_CONNECTIONS,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_IDLE_UNAUTH,
                            MHD_OPTION_END);
}

struct http *http_start(const char *unix_path, const char *tcp, size_t max_body,
                        http_handler handler, http_authorize authorize, void *ctx, char *err,
                        size_t errlen)
{
    struct http *h = calloc(1, sizeof(*h));
    if (!h) return NULL;
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->idle, NULL);
    h->handler = handler;
    h->authorize = authorize;
    h->ctx = ctx;
    h->max_body = max_body;
    snprintf(h->unix_path, sizeof(h->unix_path), "%s", unix_path);
    int fds[2] = {-1, -1};
    fds[0] = listen_unix(unix_path, err, errlen);
    if (fds[0] < 0) goto fail;
    if (tcp && *tcp) {
        fds[1] = listen_tcp(tcp, err, errlen);
        if (fds[1] < 0) goto fail;
    }
    for (int i = 0; i < 2; i++) {
        if (fds[i] < 0) continue;
        struct MHD_Daemon *d = start_on(h, fds[i]);
        if (!d) {
            snprintf(err, errlen, "cannot start the HTTP server (libmicrohttpd)");
            goto fail;
        }
        fds[i] = -1; /* MHD owns it now */
        h->daemons[h->ndaemons++] = d;
    }
    return h;
fail:
    for (int i = 0; i < 2; i++)
        if (fds[i] >= 0) close(fds[i]);
    http_stop(h);
    return NULL;
}

void http_stop(struct http *h)
{
    if (!h) return;
    /* running handlers first: they resume their connections */
    for (int i = 0; i < h->ndaemons; i++) {
        MHD_socket fd = MHD_quiesce_daemon(h->daemons[i]); /* no new connections */
        if (fd != MHD_INVALID_SOCKET) close(fd);
    }
    pthread_mutex_lock(&h->lock);
    while (h->workers) pthread_cond_wait(&h->idle, &h->lock);
    pthread_mutex_unlock(&h->lock);
    for (int i = 0; i < h->ndaemons; i++) {
        MHD_stop_daemon(h->daemons[i]); /* closes the listening socket too */
    }
    if (h->unix_path[0]) unlink(h->unix_path);
    free(h);
}

/* NAME, VALUE, ..., NULL: the value of name (headers: any case), or NULL */
static const char *lookup(const char *const *kv, const char *name, bool nocase)
{
    for (; kv && kv[0] && kv[1]; kv += 2)
        if (nocase ? !strcasecmp(kv[0], name) : !strcmp(kv[0], name)) return kv[1];
    return NULL;
}

const char *http_query(const struct http_request *rq, const char *name)
{
    if (!rq->conn) return lookup(rq->args, name, false);
    return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_header(const struct http_request *rq, const char *name)
{
    if (!rq->conn) return lookup(rq->headers, name, true);
    return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}
