/*
 * nat.c - libslirp instances, one per VNet, for nat.h: their callbacks
 * (frames out, clock, timers, poll), their public IP forwards, and the
 * queue that keeps libslirp from being re-entered from its own callbacks.
 */
#include "network/nat.h"

#include "lib/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <slirp/libslirp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define QUEUE_MAX 256

struct fwd {
    bool udp;
    uint32_t host_addr, guest_addr;
    uint16_t host_port, guest_port;
};

struct timer {
    SlirpTimerId id;
    void *cb_opaque;
    SlirpTimerCb cb; /* for timer_new (older libslirp) */
    int64_t expire_ms; /* -1: not armed */
    struct timer *next;
};

struct qframe {
    size_t len;
    uint8_t *data;
};

struct inst {
    char *name;
    Slirp *slirp;
    struct nat *nat;
    size_t vnet; /* index in the last synced configuration */
    struct fwd *fwds;
    size_t nfwds;
    struct timer *timers;
    struct qframe q[QUEUE_MAX];
    size_t qhead, qlen;
    struct inst *next;
};

struct nat {
    nat_deliver_fn deliver;
    void *opaque;
    struct inst *insts;
    struct inst **by_vnet; /* index -> instance for the synced configuration */
    size_t nvnets;
    struct pollset *cur_ps; /* during nat_fill/nat_poll */
    uint64_t queue_drops;
    struct nat_failure *fails; /* forwards the last nat_sync could not make */
    size_t nfails;
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ---------------------------------------------------- libslirp callbacks -- */

static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque)
{
    struct inst *in = opaque;
    if (in->vnet != SIZE_MAX) in->nat->deliver(in->nat->opaque, in->vnet, buf, len);
    return (ssize_t)len;
}

static void cb_guest_error(const char *msg, void *opaque)
{
    struct inst *in = opaque;
    log_debug("nat %s: %s", in->name, msg);
}

static int64_t cb_clock_get_ns(void *opaque)
{
    (void)opaque;
    return now_ns();
}

static struct timer *timer_alloc(struct inst *in)
{
    struct timer *t = calloc(1, sizeof(*t));
    if (!t) return NULL;
    t->expire_ms = -1;
    t->next = in->timers;
    in->timers = t;
    return t;
}

static void *cb_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
    struct timer *t = timer_alloc(opaque);
    if (t) {
        t->cb = cb;
        t->cb_opaque = cb_opaque;
    }
    return t;
}

static void *cb_timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque)
{
    struct timer *t = timer_alloc(opaque);
    if (t) {
        t->id = id;
        t->cb_opaque = cb_opaque;
    }
    return t;
}

static void cb_timer_free(void *timer, void *opaque)
{
    struct inst *in = opaque;
    for (struct timer **pp = &in->timers; *pp; pp = &(*pp)->next) {
        if (*pp == timer) {
            *pp = (*pp)->next;
            free(timer);
            return;
        }
    }
}

static void cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
    (void)opaque;
    if (timer) ((struct timer *)timer)->expire_ms = expire_ms;
}

static void cb_register_poll_fd(int fd, void *opaque)
{
    (void)fd;
    (void)opaque;
}

static void cb_unregister_poll_fd(int fd, void *opaque)
{
    (void)fd;
    (void)opaque;
}

static void cb_notify(void *opaque)
{
    (void)opaque;
}

static const SlirpCb callbacks = {
    .send_packet = cb_send_packet,
    .guest_error = cb_guest_error,
    .clock_get_ns = cb_clock_get_ns,
    .timer_new = cb_timer_new,
    .timer_free = cb_timer_free,
    .timer_mod = cb_timer_mod,
    .register_poll_fd = cb_register_poll_fd,
    .unregister_poll_fd = cb_unregister_poll_fd,
    .notify = cb_notify,
    .timer_new_opaque = cb_timer_new_opaque,
};

/* ------------------------------------------------------------ instances -- */

static struct in_addr in4(uint32_t host_order)
{
    struct in_addr a = {htonl(host_order)};
    return a;
}

static struct inst *inst_create(struct nat *nat, const char *name)
{
    struct inst *in = calloc(1, sizeof(*in));
    if (!in) return NULL;
    in->nat = nat;
    in->vnet = SIZE_MAX;
    in->name = strdup(name);
    SlirpConfig sc;
    memset(&sc, 0, sizeof(sc));
    sc.version = 4;
    sc.restricted = 0;
    sc.in_enabled = true;
    sc.vnetwork = in4(NET_NAT_NETWORK);
    sc.vnetmask = in4(net_mask(NET_NAT_PREFIX));
    sc.vhost = in4(NET_NAT_HOST);
    sc.in6_enabled = false;
    sc.vdhcp_start = in4(NET_NAT_NETWORK + 100); /* unused: DHCP is off */
    sc.vnameserver = in4(NET_PLATFORM_DNS);
    sc.disable_host_loopback = true;
    sc.enable_emu = false;
    sc.disable_dns = false;
    sc.disable_dhcp = true;
    if (in->name) in->slirp = slirp_new(&sc, &callbacks, in);
    if (!in->slirp) {
        free(in->name);
        free(in);
        return NULL;
    }
    return in;
}

static void inst_destroy(struct inst *in)
{
    slirp_cleanup(in->slirp);
    while (in->timers) {
        struct timer *t = in->timers;
        in->timers = t->next;
        free(t);
    }
    for (size_t i = 0; i < in->qlen; i++) free(in->q[(in->qhead + i) % QUEUE_MAX].data);
    free(in->fwds);
    free(in->name);
    free(in);
}

static struct inst *find_inst(struct nat *nat, const char *name)
{
    for (struct inst *in = nat->insts; in; in = in->next)
        if (!strcmp(in->name, name)) return in;
    return NULL;
}

struct nat *nat_create(nat_deliver_fn deliver, void *opaque)
{
    struct nat *nat = calloc(1, sizeof(*nat));
    if (!nat) return NULL;
    nat->deliver = deliver;
    nat->opaque = opaque;
    return nat;
}

void nat_destroy(struct nat *nat)
{
    if (!nat) return;
    while (nat->insts) {
        struct inst *in = nat->insts;
        nat->insts = in->next;
        inst_destroy(in);
    }
    free(nat->by_vnet);
    free(nat->fails);
    free(nat);
}

/* ------------------------------------------------------------- forwards -- */

struct want {
    struct inst *in;
    struct fwd f;
    size_t pip, port; /* for messages */
};

static bool fwd_eq(const struct fwd *a, const struct fwd *b)
{
    return a->udp == b->udp && a->host_addr == b->host_addr && a->guest_addr == b->guest_addr &&
           a->host_port == b->host_port && a->guest_port == b->guest_port;
}

static int fwd_add(struct inst *in, const struct fwd *f)
{
    struct fwd *nf = realloc(in->fwds, (in->nfwds + 1) * sizeof(*nf));
    if (!nf) return -1;
    in->fwds = nf;
    if (slirp_add_hostfwd(in->slirp, f->udp, in4(f->host_addr), f->host_port, in4(f->guest_addr),
                          f->guest_port) < 0)
        return -1;
    nf[in->nfwds++] = *f;
    return 0;
}

static void fwd_del(struct inst *in, size_t i)
{
    const struct fwd *f = &in->fwds[i];
    slirp_remove_hostfwd(in->slirp, f->udp, in4(f->host_addr), f->host_port);
    in->fwds[i] = in->fwds[--in->nfwds];
}

static bool wanted(const struct want *w, size_t nw, const struct inst *in, const struct fwd *f)
{
    for (size_t i = 0; i < nw; i++)
        if (w[i].in == in && fwd_eq(&w[i].f, f)) return true;
    return false;
}

static bool present(const struct inst *in, const struct fwd *f)
{
    for (size_t i = 0; i < in->nfwds; i++)
        if (fwd_eq(&in->fwds[i], f)) return true;
    return false;
}

int nat_sync(struct nat *nat, const struct net_config *cfg, char *err, size_t errlen)
{
    struct inst *created = NULL; /* new instances, not yet on nat->insts */
    struct inst **map = cfg->nvnets ? calloc(cfg->nvnets, sizeof(*map)) : NULL;
    size_t nw = 0, cap = 0;
    struct want *w = NULL;
    struct nat_failure *fails = NULL;
    size_t nfails = 0;
    if (cfg->nvnets && !map) goto oom;

    for (size_t v = 0; v < cfg->nvnets; v++) {
        struct inst *in = find_inst(nat, cfg->vnets[v].name);
        if (!in) {
            in = inst_create(nat, cfg->vnets[v].name);
            if (!in) {
                snprintf(err, errlen, "vnets[%zu]: cannot create its NAT (libslirp)", v);
                goto fail;
            }
            in->next = created;
            created = in;
        }
        map[v] = in;
    }
    for (size_t i = 0; i < cfg->nnics; i++) {
        const struct net_nic *n = &cfg->nics[i];
        if (n->public_ip < 0) continue;
        const struct net_public_ip *p = &cfg->pips[n->public_ip];
        for (size_t k = 0; k < p->nports; k++) {
            if (nw == cap) {
                cap = cap ? cap * 2 : 16;
                struct want *nw_ = realloc(w, cap * sizeof(*w));
                if (!nw_) goto oom;
                w = nw_;
            }
            w[nw].in = map[n->vnet];
            w[nw].f = (struct fwd){p->ports[k].udp, p->host_addr, n->ip, p->ports[k].host_port,
                                   p->ports[k].nic_port};
            w[nw].pip = (size_t)n->public_ip;
            w[nw].port = k;
            nw++;
        }
    }
    fails = calloc(nw + 1, sizeof(*fails));
    if (!fails) goto oom;
    /* remove what is no longer wanted, then add what is missing */
    for (struct inst *in = nat->insts; in; in = in->next) {
        for (size_t i = 0; i < in->nfwds;) {
            if (wanted(w, nw, in, &in->fwds[i])) {
                i++;
                continue;
            }
            fwd_del(in, i);
        }
    }
    for (size_t i = 0; i < nw; i++) {
        if (present(w[i].in, &w[i].f)) continue;
        errno = 0;
        if (fwd_add(w[i].in, &w[i].f) < 0) {
            /* only this forward fails (its host port is taken, most likely):
             * recorded for the caller, tried again at the next sync */
            fails[nfails++] = (struct nat_failure){w[i].pip, w[i].port, errno ? errno : EADDRINUSE};
            continue;
        }
    }
    /* commit: drop instances of VNets that are gone, adopt the new ones */
    for (struct inst **pp = &nat->insts; *pp;) {
        struct inst *in = *pp;
        if (net_config_find_vnet(cfg, in->name) < 0) {
            *pp = in->next;
            inst_destroy(in);
        } else {
            pp = &in->next;
        }
    }
    while (created) {
        struct inst *in = created;
        created = in->next;
        in->next = nat->insts;
        nat->insts = in;
    }
    for (struct inst *in = nat->insts; in; in = in->next) in->vnet = SIZE_MAX;
    for (size_t v = 0; v < cfg->nvnets; v++) map[v]->vnet = v;
    free(nat->by_vnet);
    nat->by_vnet = map;
    nat->nvnets = cfg->nvnets;
    free(nat->fails);
    nat->fails = fails;
    nat->nfails = nfails;
    for (size_t i = 0; i < nfails; i++) {
        const struct net_public_ip *p = &cfg->pips[fails[i].pip];
        const struct net_pip_port *pp = &p->ports[fails[i].port];
        char ip[NET_IP4_STRLEN];
        log_warn("public IP %s: cannot listen on %s:%u/%s: %s", p->name,
                 net_ip4_str(p->host_addr, ip), pp->host_port, pp->udp ? "udp" : "tcp",
                 strerror(fails[i].err));
    }
    free(w);
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
fail:
    while (created) {
        struct inst *in = created;
        created = in->next;
        inst_destroy(in);
    }
    free(map);
    free(w);
    free(fails);
    return -1;
}

/* ---------------------------------------------------------------- frames -- */

void nat_output(struct nat *nat, size_t vnet, const uint8_t *frame, size_t len)
{
    if (vnet >= nat->nvnets) return;
    struct inst *in = nat->by_vnet[vnet];
    uint8_t *copy = in->qlen < QUEUE_MAX ? malloc(len) : NULL;
    if (!copy) {
        nat->queue_drops++;
        return;
    }
    memcpy(copy, frame, len);
    struct qframe *q = &in->q[(in->qhead + in->qlen) % QUEUE_MAX];
    q->data = copy;
    q->len = len;
    in->qlen++;
}

bool nat_flush(struct nat *nat)
{
    bool fed = false;
    for (int round = 0; round < 4; round++) {
        bool any = false;
        for (struct inst *in = nat->insts; in; in = in->next) {
            while (in->qlen) {
                struct qframe q = in->q[in->qhead];
                in->qhead = (in->qhead + 1) % QUEUE_MAX;
                in->qlen--;
                slirp_input(in->slirp, q.data, (int)q.len);
                free(q.data);
                any = true;
            }
        }
        if (!any) break;
        fed = true;
    }
    return fed;
}

size_t nat_failures(const struct nat *nat, const struct nat_failure **out)
{
    *out = nat->fails;
    return nat->nfails;
}

uint64_t nat_queue_drops(const struct nat *nat)
{
    return nat->queue_drops;
}

/* ------------------------------------------------------------------ poll -- */

static int cb_add_poll(int fd, int events, void *opaque)
{
    struct nat *nat = opaque;
    short ev = 0;
    if (events & SLIRP_POLL_IN) ev |= POLLIN;
    if (events & SLIRP_POLL_OUT) ev |= POLLOUT;
    if (events & SLIRP_POLL_PRI) ev |= POLLPRI;
    if (events & SLIRP_POLL_ERR) ev |= POLLERR;
    if (events & SLIRP_POLL_HUP) ev |= POLLHUP;
    return pollset_add(nat->cur_ps, fd, ev);
}

static int cb_get_revents(int idx, void *opaque)
{
    struct nat *nat = opaque;
    if (idx < 0 || (size_t)idx >= nat->cur_ps->n) return 0;
    short r = nat->cur_ps->fds[idx].revents;
    int ev = 0;
    if (r & POLLIN) ev |= SLIRP_POLL_IN;
    if (r & POLLOUT) ev |= SLIRP_POLL_OUT;
    if (r & POLLPRI) ev |= SLIRP_POLL_PRI;
    if (r & POLLERR) ev |= SLIRP_POLL_ERR;
    if (r & (POLLHUP | POLLNVAL)) ev |= SLIRP_POLL_HUP;
    return ev;
}

void nat_fill(struct nat *nat, struct pollset *ps, int *timeout_ms)
{
    nat->cur_ps = ps;
    int64_t now_ms = now_ns() / 1000000;
    for (struct inst *in = nat->insts; in; in = in->next) {
        uint32_t t = *timeout_ms < 0 ? UINT32_MAX : (uint32_t)*timeout_ms;
        slirp_pollfds_fill(in->slirp, &t, cb_add_poll, nat);
        if (t != UINT32_MAX && (*timeout_ms < 0 || t < (uint32_t)*timeout_ms))
            *timeout_ms = (int)t;
        for (struct timer *tm = in->timers; tm; tm = tm->next) {
            if (tm->expire_ms < 0) continue;
            int64_t d = tm->expire_ms - now_ms;
            if (d < 0) d = 0;
            if (*timeout_ms < 0 || d < *timeout_ms) *timeout_ms = (int)d;
        }
    }
}

void nat_poll(struct nat *nat, struct pollset *ps, bool poll_failed)
{
    nat->cur_ps = ps;
    int64_t now_ms = now_ns() / 1000000;
    for (struct inst *in = nat->insts; in; in = in->next) {
        slirp_pollfds_poll(in->slirp, poll_failed, cb_get_revents, nat);
        for (struct timer *tm = in->timers; tm; tm = tm->next) {
            if (tm->expire_ms < 0 || tm->expire_ms > now_ms) continue;
            tm->expire_ms = -1;
            if (tm->cb)
                tm->cb(tm->cb_opaque);
            else
                slirp_handle_timer(in->slirp, tm->id, tm->cb_opaque);
            break; /* the callback may have changed the list */
        }
    }
}
