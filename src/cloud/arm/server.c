/*
 * server.c - the ARM endpoint's HTTPS listener: libmicrohttpd with its
 * GnuTLS support (MHD_USE_TLS), a small pool of threads polling with
 * epoll, bodies collected up to kumod's --max-body, and a struct arm_ctx
 * per request handed to arm_dispatch() (arm.c). Contract in server.h.
 */
#include "cloud/arm/server.h"

#include "cloud/arm/arm.h"
#include "lib/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct arm_server {
    struct MHD_Daemon *d;
    struct arm *a;
    size_t max_body;
};

struct pending {
    char *buf;
    size_t len, cap;
    bool too_large;
};

int arm_server_listen(const char *spec, char *host, size_t hostlen, char *err, size_t errlen)
{
    const char *colon = strrchr(spec, ':');
    if (!colon || colon == spec || !colon[1]) {
        snprintf(err, errlen, "--arm %s: give ADDRESS:PORT, e.g. 127.0.0.1:8443", spec);
        return -1;
    }
    size_t hl = (size_t)(colon - spec);
    const char *h = spec;
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl >= hostlen) {
        snprintf(err, errlen, "--arm %s: the address is too long", spec);
        return -1;
    }
    memcpy(host, h, hl);
    host[hl] = 0;
    struct addrinfo hints = {
        .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(host, colon + 1, &hints, &res);
    if (gai != 0) {
        snprintf(err, errlen, "--arm %s: %s", spec, gai_strerror(gai));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 256) == 0) break;
        snprintf(err, errlen, "--arm %s: %s", spec, strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static enum MHD_Result send_ctx(struct MHD_Connection *conn, struct arm_ctx *c)
{
    char *body = NULL;
    size_t len = 0;
    if (c->text) {
        body = c->text;
        len = strlen(body);
        c->text = NULL;
    } else if (c->out) {
        body = json_dumps(c->out, JSON_COMPACT | JSON_REAL_PRECISION(15));
        len = body ? strlen(body) : 0;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(
        len, body ? body : (void *)"", body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    if (body)
        MHD_add_response_header(r, "Content-Type",
                                c->ctype ? c->ctype : "application/json; charset=utf-8");
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    for (int i = 0; i < c->nheaders; i++)
        MHD_add_response_header(r, c->headers[i].name, c->headers[i].value);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)c->status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result run(struct arm_server *s, struct MHD_Connection *conn, const char *url,
                           const char *method, struct pending *p)
{
    struct arm_ctx c = {.a = s->a,
                        .conn = conn,
                        .method = method,
                        .path = url,
                        .raw = p->buf ? p->buf : "",
                        .raw_len = p->len,
                        .status = 500};
    if (p->too_large)
        arm_err_set(&c.err, 413, "RequestEntityTooLarge", NULL,
                    "The request body is larger than %zu bytes (kumod --max-body).", s->max_body);
    arm_dispatch(s->a, &c);
    enum MHD_Result r = send_ctx(conn, &c);
    json_decref(c.out);
    json_decref(c.body);
    free(c.text);
    arm_err_clear(&c.err);
    return r;
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    (void)version;
    struct arm_server *s = cls;
    struct pending *p = *con_cls;
    if (!p) {
        p = calloc(1, sizeof(*p));
        if (!p) return MHD_NO;
        *con_cls = p;
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl) {
            char *end;
            errno = 0;
            unsigned long long n = strtoull(cl, &end, 10);
            if (errno || *end || n > s->max_body) p->too_large = true;
        }
        if (p->too_large) return run(s, conn, url, method, p);
        return MHD_YES;
    }
    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (p->too_large) return MHD_YES;
        if (p->len + n > s->max_body) {
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
    return run(s, conn, url, method, p);
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
    free(p);
    *con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && msg[n - 1] == '\n')
        msg[--n] = 0;
    log_debug("arm: %s", msg);
}

struct arm_server *arm_server_start(struct arm *a, int fd, const char *cert_pem,
                                    const char *key_pem, size_t max_body, int threads, char *err,
                                    size_t errlen)
{
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        snprintf(err, errlen,
                 "this libmicrohttpd has no TLS support: the ARM endpoint needs it "
                 "(Debian's libmicrohttpd12 has it)");
        return NULL;
    }
    struct arm_server *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    s->a = a;
    s->max_body = max_body;
    s->d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TLS | MHD_USE_ERROR_LOG, 0, NULL,
        NULL, access_cb, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_HTTPS_MEM_CERT, cert_pem, MHD_OPTION_HTTPS_MEM_KEY, key_pem,
        MHD_OPTION_HTTPS_PRIORITIES, "NORMAL:-VERS-SSL3.0:-VERS-TLS1.0:-VERS-TLS1.1",
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned)threads, MHD_OPTION_NOTIFY_COMPLETED, completed_cb,
        s, MHD_OPTION_CONNECTION_LIMIT, 1000u, MHD_OPTION_CONNECTION_TIMEOUT, 120u, MHD_OPTION_END);
    if (!s->d) {
        snprintf(err, errlen, "cannot start the ARM endpoint's HTTPS server (libmicrohttpd)");
        close(fd);
        free(s);
        return NULL;
    }
    return s;
}

void arm_server_stop(struct arm_server *s)
{
    if (!s) return;
    MHD_stop_daemon(s->d);
    free(s);
}

const char *arm_conn_query(struct MHD_Connection *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *arm_conn_header(struct MHD_Connection *conn, const char *name)
{
    return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}
