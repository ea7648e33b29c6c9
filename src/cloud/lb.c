/*
 * lb.c - the scale sets' TCP load balancers (contract in lb.h): one event
 * loop thread with the listeners, the spliced connections and the health
 * probes, re-reading its configuration from the database every second.
 */
#include "cloud/lb.h"

#include "cloud/db.h"
#include "cloud/kumod.h"
#include "cloud/state.h"
#include "cloud/timefmt.h"
#include "lib/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_FRONTENDS 64
#define MAX_BACKENDS  64
#define MAX_CONNS     256
#define BUF_SIZE      16384
#define SYNC_MS       1000
#define CONNECT_MS    3000 /* a probe's connect and (Http) answer */
#define TCP_GRACE_MS  1500 /* a Tcp probe's connection must stay open this long */
#define FAILS_DOWN    2    /* consecutive failed probes that make a healthy backend unhealthy */

enum probe_phase { P_IDLE, P_CONNECTING, P_WAITING };

struct backend {
    int64_t vm;
    int port;      /* host port of the instance's forward */
    uint32_t addr; /* on its host's public address (cluster mode), network order; 0: ours */
    enum lb_health health;
    int fails;
    uint64_t conns;
    /* probe */
    enum probe_phase phase;
    int fd;
    int64_t deadline, next_probe;
    char resp[32];
    size_t rlen;
    bool seen;
};

struct frontend {
    int64_t set;
    int port; /* listening host port */
    int fd;
    bool http;
    char path[200];
    int interval_s;
    struct backend b[MAX_BACKENDS];
    size_t nb;
    size_t rr;
    bool seen;
};

struct buf {
    char data[BUF_SIZE];
    size_t len, off;
};

struct conn {
    int cfd, bfd;
    int64_t set, vm; /* the frontend's set and the backend chosen */
    int attempts;
    bool connecting, c_eof, b_eof, c_shut, b_shut;
    struct buf c2b, b2c;
};

struct lb {
    struct kumod *k;
    pthread_t thread;
    pthread_mutex_t mu; /* frontends and backends (health read by the API) */
    atomic_bool stop;
    atomic_bool resync; /* lb_kick(): re-read the configuration now */
    int wake[2];
    struct frontend *fe[MAX_FRONTENDS];
    size_t nfe;
    struct conn *conns[MAX_CONNS];
    size_t nconns;
    uint32_t addr; /* cfg.public_address, network order */
};

const char *lb_health_name(enum lb_health h)
{
    return h == LB_HEALTHY ? "Healthy" : h == LB_UNHEALTHY ? "Unhealthy" : "Unknown";
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int nonblock_socket(void)
{
    return socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
}

static int connect_to(struct lb *lb, uint32_t addr, int port)
{
    int fd = nonblock_socket();
    if (fd < 0) return -1;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = addr ? addr : lb->addr;
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
        close(fd);
        return -1;
    }
    return fd;
}

/* ---- configuration from the database ---- */

struct cfg_be {
    int64_t set, vm;
    int port;
    uint32_t addr;
};

struct cfg_fe {
    int64_t set;
    int port;
    bool http;
    char path[200];
    int interval_s;
};

static void close_probe(struct backend *b)
{
    if (b->fd >= 0) close(b->fd);
    b->fd = -1;
    b->phase = P_IDLE;
    b->rlen = 0;
}

static void sync_config(struct lb *lb)
{
    struct kumod *k = lb->k;
    static struct cfg_fe fes[MAX_FRONTENDS];
    static struct cfg_be bes[MAX_FRONTENDS * MAX_BACKENDS];
    size_t nf = 0, nbe = 0;
    kumod_lock(k);
    sqlite3_stmt *st = db_stmt(
        k->db,
        "SELECT s.id, p.host_port, s.probe_protocol, s.probe_path, s.probe_interval FROM vmss s"
        " JOIN public_ip_ports p ON p.public_ip_id = s.lb_pip_id WHERE NOT s.deleting",
        "");
    while (st && sqlite3_step(st) == SQLITE_ROW && nf < MAX_FRONTENDS) {
        fes[nf].set = sqlite3_column_int64(st, 0);
        fes[nf].port = sqlite3_column_int(st, 1);
        fes[nf].http = !strcasecmp(db_col_text(st, 2), "Http");
        snprintf(fes[nf].path, sizeof(fes[nf].path), "%s", db_col_text(st, 3));
        fes[nf].interval_s = sqlite3_column_int(st, 4);
        nf++;
    }
    sqlite3_finalize(st);
    st = db_stmt(k->db,
                 "SELECT v.vmss_id, v.id, p.host_port, h.public_address FROM vms v"
                 " JOIN vmss s ON s.id = v.vmss_id LEFT JOIN hosts h ON h.id = v.host_id"
                 " JOIN nics n ON n.vm_id = v.id AND n.nic_index = 0"
                 " JOIN public_ip_ports p ON p.public_ip_id = n.public_ip_id"
                 " AND p.protocol = 'Tcp' AND p.port = s.lb_port"
                 " WHERE v.power_state = ? AND (v.op IS NULL OR v.op NOT LIKE 'delete%')"
                 " ORDER BY v.vmss_index",
                 "t", PS_RUNNING);
    while (st && sqlite3_step(st) == SQLITE_ROW && nbe < MAX_FRONTENDS * MAX_BACKENDS) {
        bes[nbe].set = sqlite3_column_int64(st, 0);
        bes[nbe].vm = sqlite3_column_int64(st, 1);
        bes[nbe].port = sqlite3_column_int(st, 2);
        /* cluster mode: an instance's public IP is on its own host */
        bes[nbe].addr = 0;
        if (k->clustered && !db_col_null(st, 3) &&
            inet_pton(AF_INET, db_col_text(st, 3), &bes[nbe].addr) != 1)
            bes[nbe].addr = 0;
        nbe++;
    }
    sqlite3_finalize(st);
    kumod_unlock(k);

    pthread_mutex_lock(&lb->mu);
    for (size_t i = 0; i < lb->nfe; i++)
        lb->fe[i]->seen = false;
    for (size_t i = 0; i < nf; i++) {
        struct frontend *f = NULL;
        for (size_t j = 0; j < lb->nfe; j++)
            if (lb->fe[j]->set == fes[i].set && lb->fe[j]->port == fes[i].port) f = lb->fe[j];
        if (!f && lb->nfe < MAX_FRONTENDS) {
            int fd = nonblock_socket();
            int one = 1;
            struct sockaddr_in sa = {.sin_family = AF_INET,
                                     .sin_port = htons((uint16_t)fes[i].port)};
            sa.sin_addr.s_addr = lb->addr;
            if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
            if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
                static int64_t warned_port;
                if (warned_port != fes[i].port)
                    log_warn("load balancer of scale set %" PRId64 ": cannot listen on port %d: %s",
                             fes[i].set, fes[i].port, strerror(errno));
                warned_port = fes[i].port;
                if (fd >= 0) close(fd);
                continue;
            }
            f = calloc(1, sizeof(*f));
            if (!f) {
                close(fd);
                continue;
            }
            f->set = fes[i].set;
            f->port = fes[i].port;
            f->fd = fd;
            lb->fe[lb->nfe++] = f;
            log_info("load balancer of scale set %" PRId64 " listens on port %d", f->set, f->port);
        }
        if (!f) continue;
        f->seen = true;
        f->http = fes[i].http;
        snprintf(f->path, sizeof(f->path), "%s", fes[i].path);
        f->interval_s = fes[i].interval_s > 0 ? fes[i].interval_s : 5;
        for (size_t j = 0; j < f->nb; j++)
            f->b[j].seen = false;
        for (size_t j = 0; j < nbe; j++) {
            if (bes[j].set != f->set) continue;
            struct backend *b = NULL;
            for (size_t x = 0; x < f->nb; x++)
                if (f->b[x].vm == bes[j].vm) b = &f->b[x];
            if (!b && f->nb < MAX_BACKENDS) {
                b = &f->b[f->nb++];
                memset(b, 0, sizeof(*b));
                b->vm = bes[j].vm;
                b->fd = -1;
                b->next_probe = 0;
            }
            if (!b) continue;
            if (b->port != bes[j].port || b->addr != bes[j].addr) {
                close_probe(b);
                b->port = bes[j].port;
                b->addr = bes[j].addr;
            }
            b->seen = true;
        }
        for (size_t j = 0; j < f->nb;) {
            if (f->b[j].seen) {
                j++;
                continue;
            }
            close_probe(&f->b[j]);
            f->b[j] = f->b[--f->nb];
        }
    }
    for (size_t i = 0; i < lb->nfe;) {
        struct frontend *f = lb->fe[i];
        if (f->seen) {
            i++;
            continue;
        }
        log_info("load balancer of scale set %" PRId64 " on port %d closed", f->set, f->port);
        close(f->fd);
        for (size_t j = 0; j < f->nb; j++)
            close_probe(&f->b[j]);
        free(f);
        lb->fe[i] = lb->fe[--lb->nfe];
    }
    pthread_mutex_unlock(&lb->mu);
}

/* ---- probes ---- */

static void probe_done(struct frontend *f, struct backend *b, bool ok, const char *why, int64_t now)
{
    close_probe(b);
    b->next_probe = now + (int64_t)f->interval_s * 1000;
    enum lb_health before = b->health;
    if (ok) {
        b->fails = 0;
        b->health = LB_HEALTHY;
    } else {
        b->fails++;
        if (b->health != LB_HEALTHY || b->fails >= FAILS_DOWN) b->health = LB_UNHEALTHY;
    }
    if (before != b->health)
        log_info("load balancer of scale set %" PRId64 ": VM %" PRId64 " is %s%s%s", f->set, b->vm,
                 lb_health_name(b->health), ok ? "" : ": ", ok ? "" : why);
}

static void probe_start(struct lb *lb, struct frontend *f, struct backend *b, int64_t now)
{
    b->fd = connect_to(lb, b->addr, b->port);
    if (b->fd < 0) {
        probe_done(f, b, false, "cannot connect", now);
        return;
    }
    b->phase = P_CONNECTING;
    b->deadline = now + CONNECT_MS;
    b->rlen = 0;
}

static void probe_event(struct frontend *f, struct backend *b, short rev, int64_t now)
{
    if (b->phase == P_CONNECTING) {
        if (!(rev & (POLLOUT | POLLERR | POLLHUP))) return;
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(b->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
            probe_done(f, b, false, "connection refused", now);
            return;
        }
        if (f->http) {
            char req[300];
            int n = snprintf(
                req, sizeof(req),
                "GET %s HTTP/1.0\r\nHost: kumo-lb\r\nUser-Agent: kumo-lb-probe\r\n\r\n", f->path);
            if (send(b->fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
                probe_done(f, b, false, "send failed", now);
                return;
            }
            b->deadline = now + CONNECT_MS;
        } else {
            b->deadline = now + TCP_GRACE_MS;
        }
        b->phase = P_WAITING;
        return;
    }
    if (!(rev & (POLLIN | POLLERR | POLLHUP))) return;
    ssize_t n = recv(b->fd, b->resp + b->rlen, sizeof(b->resp) - 1 - b->rlen, 0);
    if (n <= 0) {
        probe_done(f, b, false, "closed by the backend", now);
        return;
    }
    if (!f->http) { /* the server spoke first: it is there */
        probe_done(f, b, true, "", now);
        return;
    }
    b->rlen += (size_t)n;
    b->resp[b->rlen] = 0;
    if (b->rlen < 12) return;
    bool ok = !strncmp(b->resp, "HTTP/1.", 7) && (b->resp[9] == '2' || b->resp[9] == '3');
    probe_done(f, b, ok, "HTTP status not 2xx or 3xx", now);
}

static void probe_timeout(struct frontend *f, struct backend *b, int64_t now)
{
    if (b->phase == P_IDLE || now < b->deadline) return;
    if (b->phase == P_WAITING && !f->http)
        probe_done(f, b, true, "", now); /* still open after the grace time */
    else
        probe_done(f, b, false, "timed out", now);
}

/* ---- connections ---- */

static void conn_free(struct lb *lb, size_t i)
{
    struct conn *c = lb->conns[i];
    close(c->cfd);
    if (c->bfd >= 0) close(c->bfd);
    free(c);
    lb->conns[i] = lb->conns[--lb->nconns];
}

/* The next healthy backend of f after the round robin position, other
 * than `not` (0: any). */
static struct backend *pick(struct frontend *f, int64_t not )
{
    for (size_t i = 0; i < f->nb; i++) {
        struct backend *x = &f->b[(f->rr + i) % f->nb];
        if (x->health == LB_HEALTHY && x->vm != not ) {
            f->rr = (f->rr + i + 1) % f->nb;
            return x;
        }
    }
    return NULL;
}

static struct frontend *frontend_of(struct lb *lb, int64_t set)
{
    for (size_t i = 0; i < lb->nfe; i++)
        if (lb->fe[i]->set == set) return lb->fe[i];
    return NULL;
}

/* Connect c to a backend of f (other than the one that just failed);
 * false if there is none left to try. */
static bool connect_backend(struct lb *lb, struct frontend *f, struct conn *c)
{
    while (f && c->attempts < 3) {
        struct backend *b = pick(f, c->vm);
        if (!b) return false;
        c->attempts++;
        c->vm = b->vm;
        c->bfd = connect_to(lb, b->addr, b->port);
        if (c->bfd < 0) continue;
        c->connecting = true;
        b->conns++;
        return true;
    }
    return false;
}

static void accept_on(struct lb *lb, struct frontend *f)
{
    for (int tries = 0; tries < 16; tries++) {
        int cfd = accept4(f->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) return;
        struct conn *c = lb->nconns < MAX_CONNS ? calloc(1, sizeof(*c)) : NULL;
        if (!c) {
            close(cfd);
            continue;
        }
        c->cfd = cfd;
        c->bfd = -1;
        c->set = f->set;
        if (!connect_backend(lb, f, c)) { /* nobody healthy: refuse */
            close(cfd);
            free(c);
            continue;
        }
        int one = 1;
        setsockopt(c->cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        lb->conns[lb->nconns++] = c;
    }
}

/* Move bytes from fd into b; false on EOF or error (eof set). */
static void pump_in(int fd, struct buf *b, bool *eof)
{
    if (*eof || b->len == BUF_SIZE) return;
    ssize_t n = recv(fd, b->data + b->len, BUF_SIZE - b->len, 0);
    if (n > 0)
        b->len += (size_t)n;
    else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
        *eof = true;
}

/* Send what b holds to fd; -1 on a hard error. */
static int pump_out(int fd, struct buf *b)
{
    while (b->off < b->len) {
        ssize_t n = send(fd, b->data + b->off, b->len - b->off, MSG_NOSIGNAL);
        if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
        b->off += (size_t)n;
    }
    b->off = b->len = 0;
    return 0;
}

/* One connection after poll; false when it is over. */
static bool conn_step(struct lb *lb, struct conn *c, short crev, short brev)
{
    if (c->connecting) {
        if (!(brev & (POLLOUT | POLLERR | POLLHUP))) return true;
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(c->bfd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
            /* refused (the instance's forward is gone): mark it down and
             * try another one; nothing was sent to it yet */
            struct frontend *f = frontend_of(lb, c->set);
            for (size_t i = 0; f && i < f->nb; i++)
                if (f->b[i].vm == c->vm) {
                    f->b[i].health = LB_UNHEALTHY;
                    f->b[i].fails = FAILS_DOWN;
                }
            close(c->bfd);
            c->bfd = -1;
            return connect_backend(lb, f, c);
        }
        c->connecting = false;
    }
    if (crev & (POLLIN | POLLHUP | POLLERR)) pump_in(c->cfd, &c->c2b, &c->c_eof);
    if (brev & (POLLIN | POLLHUP | POLLERR)) pump_in(c->bfd, &c->b2c, &c->b_eof);
    if (pump_out(c->bfd, &c->c2b) < 0 || pump_out(c->cfd, &c->b2c) < 0) return false;
    if (c->c_eof && !c->c2b.len && !c->b_shut) {
        shutdown(c->bfd, SHUT_WR);
        c->b_shut = true;
    }
    if (c->b_eof && !c->b2c.len && !c->c_shut) {
        shutdown(c->cfd, SHUT_WR);
        c->c_shut = true;
    }
    return !(c->b_shut && c->c_shut);
}

/* ---- the loop ---- */

enum { K_WAKE, K_LISTEN, K_PROBE, K_CLIENT, K_BACKEND };

static void *run(void *arg)
{
    struct lb *lb = arg;
    int64_t next_sync = 0;
    size_t cap = 1 + MAX_FRONTENDS * (1 + MAX_BACKENDS) + 2 * MAX_CONNS;
    struct pollfd *pf = calloc(cap, sizeof(*pf));
    struct {
        int kind;
        void *a, *b;
    } *who = calloc(cap, sizeof(*who));
    if (!pf || !who) {
        free(pf);
        free(who);
        return NULL;
    }
    while (!atomic_load(&lb->stop)) {
        int64_t now = now_ms();
        if (now >= next_sync || atomic_exchange(&lb->resync, false)) {
            sync_config(lb);
            next_sync = now + SYNC_MS;
        }
        pthread_mutex_lock(&lb->mu);
        size_t n = 0;
        int timeout = (int)(next_sync - now);
        pf[n] = (struct pollfd){.fd = lb->wake[0], .events = POLLIN};
        who[n++].kind = K_WAKE;
        for (size_t i = 0; i < lb->nfe; i++) {
            struct frontend *f = lb->fe[i];
            pf[n] = (struct pollfd){.fd = f->fd, .events = POLLIN};
            who[n].kind = K_LISTEN;
            who[n++].a = f;
            for (size_t j = 0; j < f->nb; j++) {
                struct backend *b = &f->b[j];
                if (b->phase == P_IDLE && now >= b->next_probe) probe_start(lb, f, b, now);
                if (b->phase == P_IDLE) {
                    int64_t t = b->next_probe - now;
                    if (t < timeout) timeout = (int)t;
                    continue;
                }
                int64_t t = b->deadline - now;
                if (t < timeout) timeout = (int)t;
                pf[n] = (struct pollfd){.fd = b->fd,
                                        .events = b->phase == P_CONNECTING ? POLLOUT : POLLIN};
                who[n].kind = K_PROBE;
                who[n].a = f;
                who[n++].b = b;
            }
        }
        for (size_t i = 0; i < lb->nconns; i++) {
            struct conn *c = lb->conns[i];
            short ce = 0, be = 0;
            if (c->connecting) {
                be = POLLOUT;
            } else {
                if (!c->c_eof && c->c2b.len < BUF_SIZE) ce |= POLLIN;
                if (!c->b_eof && c->b2c.len < BUF_SIZE) be |= POLLIN;
                if (c->c2b.len) be |= POLLOUT;
                if (c->b2c.len) ce |= POLLOUT;
            }
            pf[n] = (struct pollfd){.fd = c->cfd, .events = ce};
            who[n].kind = K_CLIENT;
            who[n++].a = c;
            pf[n] = (struct pollfd){.fd = c->bfd, .events = be};
            who[n].kind = K_BACKEND;
            who[n++].a = c;
        }
        pthread_mutex_unlock(&lb->mu);
        if (timeout < 0) timeout = 0;
        int rc = poll(pf, n, timeout);
        if (rc < 0 && errno != EINTR) break;
        now = now_ms();
        pthread_mutex_lock(&lb->mu);
        if (pf[0].revents & POLLIN) {
            char drain[16];
            while (read(lb->wake[0], drain, sizeof(drain)) > 0) {
            }
        }
        for (size_t i = 1; i < n; i++) {
            if (who[i].kind == K_LISTEN && (pf[i].revents & POLLIN)) accept_on(lb, who[i].a);
            if (who[i].kind == K_PROBE) {
                struct backend *b = who[i].b;
                if (pf[i].revents && b->fd == pf[i].fd)
                    probe_event(who[i].a, b, pf[i].revents, now);
            }
        }
        /* connections: each has its client then its backend entry */
        for (size_t i = 1; i + 1 < n; i++) {
            if (who[i].kind != K_CLIENT) continue;
            struct conn *c = who[i].a;
            if (!conn_step(lb, c, pf[i].revents, pf[i + 1].revents)) {
                for (size_t j = 0; j < lb->nconns; j++)
                    if (lb->conns[j] == c) {
                        conn_free(lb, j);
                        break;
                    }
                /* later entries may point to moved connections: they are
                 * found by pointer, so nothing else changes */
            }
            i++;
        }
        for (size_t i = 0; i < lb->nfe; i++)
            for (size_t j = 0; j < lb->fe[i]->nb; j++)
                probe_timeout(lb->fe[i], &lb->fe[i]->b[j], now);
        pthread_mutex_unlock(&lb->mu);
    }
    free(pf);
    free(who);
    return NULL;
}

struct lb *lb_start(struct kumod *k)
{
    struct lb *lb = calloc(1, sizeof(*lb));
    if (!lb) return NULL;
    lb->k = k;
    if (inet_pton(AF_INET, k->cfg.public_address, &lb->addr) != 1)
        lb->addr = htonl(INADDR_LOOPBACK);
    pthread_mutex_init(&lb->mu, NULL);
    if (pipe2(lb->wake, O_NONBLOCK | O_CLOEXEC) < 0) {
        free(lb);
        return NULL;
    }
    if (pthread_create(&lb->thread, NULL, run, lb) != 0) {
        close(lb->wake[0]);
        close(lb->wake[1]);
        free(lb);
        return NULL;
    }
    return lb;
}

void lb_stop(struct lb *lb)
{
    if (!lb) return;
    atomic_store(&lb->stop, true);
    ssize_t w = write(lb->wake[1], "x", 1);
    (void)w;
    pthread_join(lb->thread, NULL);
    for (size_t i = 0; i < lb->nfe; i++) {
        close(lb->fe[i]->fd);
        for (size_t j = 0; j < lb->fe[i]->nb; j++)
            close_probe(&lb->fe[i]->b[j]);
        free(lb->fe[i]);
    }
    while (lb->nconns)
        conn_free(lb, 0);
    close(lb->wake[0]);
    close(lb->wake[1]);
    pthread_mutex_destroy(&lb->mu);
    free(lb);
}

void lb_kick(struct lb *lb)
{
    if (!lb) return;
    atomic_store(&lb->resync, true);
    ssize_t w = write(lb->wake[1], "x", 1);
    (void)w;
}

static struct backend *find_backend(struct lb *lb, int64_t vm)
{
    for (size_t i = 0; i < lb->nfe; i++)
        for (size_t j = 0; j < lb->fe[i]->nb; j++)
            if (lb->fe[i]->b[j].vm == vm) return &lb->fe[i]->b[j];
    return NULL;
}

enum lb_health lb_backend_health(struct lb *lb, int64_t vm)
{
    if (!lb) return LB_UNKNOWN;
    pthread_mutex_lock(&lb->mu);
    struct backend *b = find_backend(lb, vm);
    enum lb_health h = b ? b->health : LB_UNKNOWN;
    pthread_mutex_unlock(&lb->mu);
    return h;
}

bool lb_drained(struct lb *lb, int64_t vm)
{
    if (!lb) return true;
    pthread_mutex_lock(&lb->mu);
    /* a pending re-read may still hold vm; the one running swaps the
     * configuration under mu */
    bool busy = atomic_load(&lb->resync) || find_backend(lb, vm);
    for (size_t i = 0; !busy && i < lb->nconns; i++) busy = lb->conns[i]->vm == vm;
    pthread_mutex_unlock(&lb->mu);
    return !busy;
}

uint64_t lb_backend_connections(struct lb *lb, int64_t vm)
{
    if (!lb) return 0;
    pthread_mutex_lock(&lb->mu);
    struct backend *b = find_backend(lb, vm);
    uint64_t n = b ? b->conns : 0;
    pthread_mutex_unlock(&lb->mu);
    return n;
}
