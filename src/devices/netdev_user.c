/*
 * netdev_user.c - user-mode networking through libslirp: the guest gets a
 * private 10.0.2.0/24 network with a NAT gateway to the host's network, DHCP
 * and DNS, and optional host port forwards into the guest. No privileges or
 * host network configuration needed.
 *
 * The NAT never reaches the host itself: libslirp's host loopback alias
 * (10.0.2.2 -> 127.0.0.1) is off, and every frame the guest sends to an
 * address outside 10.0.2.0/24 passes kumo-switch's egress policy first
 * (network/egress.h: not this host, its loopback, link-local addresses or,
 * unless allowed with egress=..., its private networks).
 */
#include "devices/netdev.h"

#include "lib/log.h"
#include "network/egress.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <slirp/libslirp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_FDS    256
#define MAX_TIMERS 8
#define RECENT     8
#define PEERS      64 /* clients that connected in through a hostfwd */

struct timer {
    bool used, armed;
    int64_t expire_ms;
    SlirpTimerCb cb;
    void *cb_opaque;
};

struct user {
    struct netdev nd;
    Slirp *slirp;
    struct pollfd *fds; /* the poll set of the current round, for get_revents */
    int nfds, maxfds;
    struct timer timers[MAX_TIMERS];
    struct egress_policy egress;
    uint64_t egress_drops;
    struct log_limit egress_log; /* a guest may try often */
    uint32_t recent[RECENT];     /* destinations warned about lately */
    struct log_limit guest_log;  /* libslirp's complaints about the guest */
    unsigned nrecent;
    /* Clients the egress policy would deny that connected in (a hostfwd
     * from the host's network: libslirp passes their address): the guest
     * may answer them, on that connection only. The newest PEERS. */
    struct peer {
        uint32_t addr;
        uint16_t port, guest_port;
        uint8_t proto;
    } peers[PEERS];
    unsigned npeers;
};

#define VNETWORK 0x0a000200u /* 10.0.2.0/24, host byte order */

/* The host's addresses, read once: a reboot in the sandbox (vmm/sandbox.h)
 * builds a new back end but may not ask the kernel again. */
static struct egress_policy base_policy;
static pthread_once_t base_once = PTHREAD_ONCE_INIT;
static void base_init(void)
{
    egress_init(&base_policy);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A TCP or UDP packet of IPv4 (not a later fragment): its addresses, ports
 * and protocol; false for anything else. */
static bool flow_of(const uint8_t *f, size_t len, uint32_t *src, uint32_t *dst, uint16_t *sport,
                    uint16_t *dport, uint8_t *proto)
{
    if (len < 34 || f[12] != 0x08 || f[13] != 0x00 || (f[14] >> 4) != 4) return false;
    size_t ihl = (size_t)(f[14] & 0x0f) * 4;
    if (ihl < 20 || len < 14 + ihl + 4 || ((f[20] & 0x1f) | f[21]) != 0) return false;
    if (f[23] != 6 && f[23] != 17) return false;
    *proto = f[23];
    *src = (uint32_t)f[26] << 24 | (uint32_t)f[27] << 16 | (uint32_t)f[28] << 8 | f[29];
    *dst = (uint32_t)f[30] << 24 | (uint32_t)f[31] << 16 | (uint32_t)f[32] << 8 | f[33];
    const uint8_t *l4 = f + 14 + ihl;
    *sport = (uint16_t)(l4[0] << 8 | l4[1]);
    *dport = (uint16_t)(l4[2] << 8 | l4[3]);
    return true;
}

static struct peer *find_peer(struct user *u, uint32_t addr, uint16_t port, uint16_t guest_port,
                              uint8_t proto)
{
    for (unsigned i = 0; i < PEERS && i < u->npeers; i++) {
        struct peer *p = &u->peers[i];
        if (p->addr == addr && p->port == port && p->guest_port == guest_port && p->proto == proto)
            return p;
    }
    return NULL;
}

/* ---- libslirp callbacks ---- */

static ssize_t cb_send(const void *buf, size_t len, void *opaque)
{
    struct user *u = opaque;
    uint32_t src, dst;
    uint16_t sport, dport;
    uint8_t proto;
    /* to the guest from a client the policy would not let it reach: one
     * that connected in; its answers may go back (user_send) */
    if (flow_of(buf, len, &src, &dst, &sport, &dport, &proto) && (src & 0xffffff00u) != VNETWORK &&
        egress_check(&u->egress, src) != EGRESS_OK && !find_peer(u, src, sport, dport, proto))
        u->peers[u->npeers++ % PEERS] = (struct peer){src, sport, dport, proto};
    if (u->nd.rx) u->nd.rx(u->nd.rx_opaque, buf, len);
    return (ssize_t)len;
}

static void cb_error(const char *msg, void *opaque)
{
    struct user *u = opaque;
    log_limited(&u->guest_log, LOG_WARN, "user network: %s", msg); /* the guest's doing */
}

static int64_t cb_clock(void *opaque)
{
    (void)opaque;
    return now_ns();
}

static void *cb_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
    struct user *u = opaque;
    for (int i = 0; i < MAX_TIMERS; i++) {
        if (u->timers[i].used) continue;
        u->timers[i] = (struct timer){.used = true, .cb = cb, .cb_opaque = cb_opaque};
        return &u->timers[i];
    }
    return NULL;
}

static void cb_timer_free(void *timer, void *opaque)
{
    (void)opaque;
    if (timer) ((struct timer *)timer)->used = false;
}

static void cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
    (void)opaque;
    if (!timer) return;
    struct timer *t = timer;
    t->expire_ms = expire_ms;
    t->armed = true;
}

static void cb_register(int fd, void *opaque)
{
    (void)fd;
    (void)opaque;
}

static void cb_notify(void *opaque)
{
    (void)opaque;
}

static const SlirpCb callbacks = {
    .send_packet = cb_send,
    .guest_error = cb_error,
    .clock_get_ns = cb_clock,
    .timer_new = cb_timer_new,
    .timer_free = cb_timer_free,
    .timer_mod = cb_timer_mod,
    .register_poll_fd = cb_register,
    .unregister_poll_fd = cb_register,
    .notify = cb_notify,
};

static int add_poll(int fd, int events, void *opaque)
{
    struct user *u = opaque;
    if (u->nfds == u->maxfds) return -1;
    short ev = 0;
    if (events & SLIRP_POLL_IN) ev |= POLLIN;
    if (events & SLIRP_POLL_OUT) ev |= POLLOUT;
    if (events & SLIRP_POLL_PRI) ev |= POLLPRI;
    u->fds[u->nfds] = (struct pollfd){.fd = fd, .events = ev};
    return u->nfds++;
}

static int get_revents(int idx, void *opaque)
{
    struct user *u = opaque;
    if (idx < 0 || idx >= u->nfds) return 0;
    short r = u->fds[idx].revents;
    int ev = 0;
    if (r & POLLIN) ev |= SLIRP_POLL_IN;
    if (r & POLLOUT) ev |= SLIRP_POLL_OUT;
    if (r & POLLPRI) ev |= SLIRP_POLL_PRI;
    if (r & POLLERR) ev |= SLIRP_POLL_ERR;
    if (r & POLLHUP) ev |= SLIRP_POLL_HUP;
    return ev;
}

/* ---- netdev ops ---- */

static int user_fill(struct netdev *nd, struct pollfd *fds, int max, int *timeout_ms)
{
    struct user *u = (struct user *)nd;
    u->fds = fds;
    u->nfds = 0;
    u->maxfds = max;
    uint32_t t = *timeout_ms < 0 ? UINT32_MAX : (uint32_t)*timeout_ms;
    slirp_pollfds_fill(u->slirp, &t, add_poll, u);
    int64_t now_ms = now_ns() / 1000000;
    for (int i = 0; i < MAX_TIMERS; i++) {
        struct timer *tm = &u->timers[i];
        if (!tm->used || !tm->armed) continue;
        int64_t left = tm->expire_ms - now_ms;
        if (left < 0) left = 0;
        if ((uint64_t)left < t) t = (uint32_t)left;
    }
    *timeout_ms = t == UINT32_MAX ? -1 : (int)t;
    return u->nfds;
}

static void user_dispatch(struct netdev *nd, struct pollfd *fds, int n, bool error)
{
    struct user *u = (struct user *)nd;
    u->fds = fds;
    u->nfds = n;
    slirp_pollfds_poll(u->slirp, error, get_revents, u);
    int64_t now_ms = now_ns() / 1000000;
    for (int i = 0; i < MAX_TIMERS; i++) {
        struct timer *tm = &u->timers[i];
        if (tm->used && tm->armed && tm->expire_ms <= now_ms) {
            tm->armed = false;
            tm->cb(tm->cb_opaque);
        }
    }
}

static void user_send(struct netdev *nd, const uint8_t *frame, size_t len)
{
    struct user *u = (struct user *)nd;
    /* IPv4 leaving the virtual network: the egress policy first */
    if (len >= 34 && frame[12] == 0x08 && frame[13] == 0x00) {
        uint32_t dst = (uint32_t)frame[30] << 24 | (uint32_t)frame[31] << 16 |
                       (uint32_t)frame[32] << 8 | frame[33];
        /* libslirp's own network (its DNS, the gateway, which answers pings
         * itself and is no longer the host's loopback) and the broadcast
         * DHCP uses stay inside libslirp */
        bool inside = (dst & 0xffffff00u) == VNETWORK || dst == 0xffffffffu;
        enum egress_verdict v = inside ? EGRESS_OK : egress_check(&u->egress, dst);
        uint32_t fs, fd;
        uint16_t sport, dport;
        uint8_t proto;
        if (v != EGRESS_OK && flow_of(frame, len, &fs, &fd, &sport, &dport, &proto) &&
            find_peer(u, fd, dport, sport, proto))
            v = EGRESS_OK; /* an answer to a client that connected in */
        if (v != EGRESS_OK) {
            u->egress_drops++;
            nd->tx_dropped++;
            /* once per destination (a connection retries), and rate-limited */
            bool seen = false;
            for (int k = 0; k < RECENT; k++) seen = seen || u->recent[k] == dst;
            if (seen) return;
            u->recent[u->nrecent++ % RECENT] = dst;
            log_limited(&u->egress_log, LOG_WARN,
                        "user network: the guest's packet to %u.%u.%u.%u dropped (%s; %llu "
                        "so far): VMs do not reach the host or its networks (--net "
                        "user,egress=... allows private ones)",
                        frame[30], frame[31], frame[32], frame[33], egress_verdict_name(v),
                        (unsigned long long)u->egress_drops);
            return;
        }
    }
    slirp_input(u->slirp, frame, (int)len);
}

static void user_close(struct netdev *nd)
{
    struct user *u = (struct user *)nd;
    if (u->slirp) slirp_cleanup(u->slirp);
    free(u);
}

static const struct netdev_ops user_ops = {
    .fill = user_fill,
    .dispatch = user_dispatch,
    .send = user_send,
    .close = user_close,
};

/* hostfwd=tcp:[HOSTIP]:HOSTPORT-[GUESTIP]:GUESTPORT */
static int add_hostfwd(struct user *u, const char *spec, char *err, size_t errlen)
{
    char proto[4] = "", hip[64] = "", gip[64] = "";
    unsigned hport = 0, gport = 0;
    int is_udp;
    const char *p = spec;
    const char *colon = strchr(p, ':');
    if (!colon || colon - p > 3) goto bad;
    memcpy(proto, p, (size_t)(colon - p));
    if (strcmp(proto, "tcp") == 0)
        is_udp = 0;
    else if (strcmp(proto, "udp") == 0)
        is_udp = 1;
    else
        goto bad;
    p = colon + 1;
    const char *dash = strchr(p, '-');
    if (!dash) goto bad;
    const char *hcolon = memchr(p, ':', (size_t)(dash - p));
    if (!hcolon || (size_t)(hcolon - p) >= sizeof(hip)) goto bad;
    memcpy(hip, p, (size_t)(hcolon - p));
    if (sscanf(hcolon + 1, "%u", &hport) != 1) goto bad;
    p = dash + 1;
    const char *gcolon = strchr(p, ':');
    if (!gcolon || (size_t)(gcolon - p) >= sizeof(gip)) goto bad;
    memcpy(gip, p, (size_t)(gcolon - p));
    if (sscanf(gcolon + 1, "%u", &gport) != 1) goto bad;
    if (hport == 0 || hport > 65535 || gport == 0 || gport > 65535) goto bad;
    struct in_addr host = {.s_addr = INADDR_ANY}, guest;
    inet_pton(AF_INET, "10.0.2.15", &guest);
    if (hip[0] && inet_pton(AF_INET, hip, &host) != 1) goto bad;
    if (gip[0] && inet_pton(AF_INET, gip, &guest) != 1) goto bad;
    if (slirp_add_hostfwd(u->slirp, is_udp, host, (int)hport, guest, (int)gport) < 0) {
        snprintf(err, errlen, "hostfwd=%s: cannot listen on host port %u (%s)", spec, hport,
                 strerror(errno));
        return -1;
    }
    return 0;
bad:
    snprintf(err, errlen,
             "hostfwd=%s: use hostfwd=tcp:[HOSTIP]:HOSTPORT-[GUESTIP]:GUESTPORT (or udp:)", spec);
    return -1;
}

struct netdev *netdev_user_open(const char *opts, char *err, size_t errlen)
{
    struct user *u = calloc(1, sizeof(*u));
    if (!u) return NULL;
    u->nd.ops = &user_ops;
    SlirpConfig cfg = {.version = 4, .in_enabled = true, .if_mtu = 1500, .if_mru = 1500};
    inet_pton(AF_INET, "10.0.2.0", &cfg.vnetwork);
    inet_pton(AF_INET, "255.255.255.0", &cfg.vnetmask);
    inet_pton(AF_INET, "10.0.2.2", &cfg.vhost);
    inet_pton(AF_INET, "10.0.2.15", &cfg.vdhcp_start);
    inet_pton(AF_INET, "10.0.2.3", &cfg.vnameserver);
    cfg.vhostname = "kumo";
    cfg.disable_host_loopback = true; /* 10.0.2.2 is not the host's 127.0.0.1 */
    pthread_once(&base_once, base_init);
    u->egress = base_policy;
    u->slirp = slirp_new(&cfg, &callbacks, u);
    if (!u->slirp) {
        snprintf(err, errlen, "cannot start user-mode networking (libslirp)");
        free(u);
        return NULL;
    }
    char *copy = strdup(opts ? opts : "");
    for (char *save = NULL, *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
        if (strncmp(kv, "hostfwd=", 8) == 0) {
            if (add_hostfwd(u, kv + 8, err, errlen) < 0) goto fail;
        } else if (strncmp(kv, "egress=", 7) == 0) {
            if (egress_add(&u->egress, kv + 7, err, errlen) < 0) goto fail;
        } else {
            snprintf(err, errlen,
                     "user network: unknown setting '%s' (hostfwd=... and egress=... are known)",
                     kv);
            goto fail;
        }
    }
    free(copy);
    return &u->nd;
fail:
    free(copy);
    user_close(&u->nd);
    return NULL;
}
