/*
 * main.c - kumo-switch: the virtual switch process. It owns three kinds of
 * sockets and one event loop:
 *
 *   --ports PATH     SOCK_SEQPACKET; each VM NIC connects, says hello
 *                    ({"nic":..,"mac":..}), is answered ({"ok":true,"ip":..}
 *                    or an error, then closed), and from then on every
 *                    message either way is one Ethernet frame. A hello with
 *                    "shm":true carries a memfd of two frame rings and two
 *                    eventfds (lib/shmring.h); answered "shm":true, the
 *                    port's frames go through the rings instead (each one
 *                    copied out of the ring before the switch looks at it).
 *   --control PATH   SOCK_STREAM; newline-delimited JSON requests (control.h).
 *   libslirp's       host sockets of each VNet's NAT (nat.h).
 *
 * The loop never blocks on a port: frames for a port whose socket is full
 * are dropped and counted. Everything runs on one thread, so the data plane
 * (switch.h) needs no locks.
 */
#include "lib/log.h"
#include "lib/shmring.h"
#include "network/config.h"
#include "network/egress.h"
#include "network/control.h"
#include "network/nat.h"
#include "network/pollset.h"
#include "network/switch.h"
#include "network/vxlan.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define HELLO_MAX        4096
#define HELLO_TIMEOUT_MS 10000
#define FRAMES_PER_ROUND 64
#define CONTROL_LINE_MAX (16u << 20)
#define CONTROL_OUT_MAX  (64u << 20)

enum port_state { PORT_FREE, PORT_HELLO, PORT_ACTIVE };

struct port {
    int fd;
    enum port_state state;
    uint64_t since_ms;
    int pidx; /* index in the pollset this round, or -1 */
    /* shared-memory rings (area != NULL): the guest's frames arrive in tx,
     * efd_tx wakes us; we put its frames in rx and write efd_rx to wake it */
    struct shmring_area *area;
    int efd_tx, efd_rx;
    struct shmring tx, rx;
    int eidx; /* efd_tx's index in the pollset this round, or -1 */
};

struct client {
    int fd;
    char *in;
    size_t inlen, incap;
    char *out;
    size_t outlen, outoff;
    bool dead;
    int pidx;
};

struct daemon {
    struct sw *sw;
    struct nat *nat;
    struct ctl_env ctl;
    int ports_fd, control_fd;
    const char *ports_path, *control_path;
    struct port *ports;
    size_t nports;
    struct client *clients;
    size_t nclients;
    struct sw_out *out, *nat_out;
    uint8_t *rx;
    /* VXLAN: the UDP socket on the configuration's underlay address */
    int vx_fd;
    uint32_t vx_addr;
    uint16_t vx_port;
    uint8_t *vx_rx;
    uint64_t vx_send_errors;
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------- ports -- */

static void port_close(struct daemon *d, size_t slot, const char *why)
{
    struct port *p = &d->ports[slot];
    if (p->state == PORT_FREE) return;
    for (size_t i = 0; i < d->sw->cfg->nnics; i++) {
        if (d->sw->nics[i].port == (int)slot) {
            log_info("port of NIC '%s' closed: %s", d->sw->cfg->nics[i].id, why);
            d->sw->nics[i].port = -1;
        }
    }
    close(p->fd);
    p->fd = -1;
    p->state = PORT_FREE;
    p->pidx = -1;
    if (p->area) shmring_unmap(p->area);
    p->area = NULL;
    if (p->efd_tx >= 0) close(p->efd_tx);
    if (p->efd_rx >= 0) close(p->efd_rx);
    p->efd_tx = p->efd_rx = -1;
    p->eidx = -1;
}

/* A frame for port p: through its rings or its socket. Returns the bytes
 * sent, or -1 with errno (EAGAIN: full). */
static ssize_t port_send(struct port *p, const uint8_t *data, size_t len)
{
    if (!p->area) return send(p->fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
    struct iovec v = {(void *)data, len};
    if (shmring_put(&p->rx, &v, 1, len) < 0) {
        errno = EAGAIN;
        return -1;
    }
    if (shmring_need_kick(&p->rx)) {
        uint64_t one = 1;
        if (write(p->efd_rx, &one, sizeof(one)) < 0) { /* counter full: a kick is pending */ }
    }
    return (ssize_t)len;
}

/* One VXLAN datagram: the header for VNet v's VNI, then the frame. */
static void vxlan_send(struct daemon *d, size_t v, uint32_t host, const uint8_t *frame, size_t len)
{
    const struct net_config *cfg = d->sw->cfg;
    if (d->vx_fd < 0 || v >= cfg->nvnets || !cfg->vnets[v].vni) return;
    uint8_t hdr[VXLAN_HLEN];
    vxlan_header(hdr, cfg->vnets[v].vni);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(d->vx_port),
                             .sin_addr.s_addr = htonl(host)};
    struct iovec iov[2] = {{hdr, sizeof(hdr)}, {(void *)frame, len}};
    struct msghdr mh = {.msg_name = &to, .msg_namelen = sizeof(to), .msg_iov = iov,
                        .msg_iovlen = 2};
    if (sendmsg(d->vx_fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) d->vx_send_errors++;
}

/* Deliver the output of one input frame. */
static void dispatch(struct daemon *d, const struct sw_out *out)
{
    for (size_t k = 0; k < out->n; k++) {
        const struct sw_out_frame *f = &out->f[k];
        if (f->dest == SW_TO_NAT) {
            nat_output(d->nat, f->index, f->data, f->len);
            continue;
        }
        if (f->dest == SW_TO_VXLAN) {
            vxlan_send(d, f->index, f->host, f->data, f->len);
            continue;
        }
        if (f->dest == SW_TO_FLOOD) {
            const struct net_config *cfg = d->sw->cfg;
            for (size_t h = 0; f->index < cfg->nvnets && h < cfg->vnets[f->index].nflood; h++)
                vxlan_send(d, f->index, cfg->vnets[f->index].flood[h], f->data, f->len);
            continue;
        }
        if (f->index >= d->sw->cfg->nnics) continue;
        struct sw_nic_rt *rt = &d->sw->nics[f->index];
        if (rt->port < 0) {
            rt->st.drops[SW_DROP_PORT_DOWN]++;
            continue;
        }
        struct port *p = &d->ports[rt->port];
        ssize_t n = port_send(p, f->data, f->len);
        if (n == (ssize_t)f->len) {
            rt->st.tx_packets++;
            rt->st.tx_bytes += f->len;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
            rt->st.drops[SW_DROP_PORT_FULL]++;
        } else {
            rt->st.drops[SW_DROP_PORT_DOWN]++;
            port_close(d, (size_t)rt->port, n < 0 ? strerror(errno) : "short send");
        }
    }
}

static void nat_deliver(void *opaque, size_t vnet, const uint8_t *frame, size_t len)
{
    struct daemon *d = opaque;
    sw_nat_input(d->sw, vnet, frame, len, now_ms(), d->nat_out);
    dispatch(d, d->nat_out);
}

static void hello_reply(struct daemon *d, size_t slot, json_t *r)
{
    char *text = json_dumps(r, JSON_COMPACT);
    json_decref(r);
    if (text) send(d->ports[slot].fd, text, strlen(text), MSG_DONTWAIT | MSG_NOSIGNAL);
    free(text);
}

static void hello_fail(struct daemon *d, size_t slot, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void hello_fail(struct daemon *d, size_t slot, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_warn("port rejected: %s", msg);
    hello_reply(d, slot, json_pack("{s:b,s:s}", "ok", 0, "error", msg));
    port_close(d, slot, msg);
}

/* Take the rings a hello offered (fds: memfd, the VMM's eventfd, ours to
 * write); false (and the fds closed) when they are not usable. */
static bool port_take_shm(struct port *p, const char *nic_id, int fds[3])
{
    char err[160];
    struct shmring_area *a;
    if (shmring_map(fds[0], &a, err, sizeof(err)) < 0) {
        log_warn("NIC '%s': %s; its frames go through the socket", nic_id, err);
        return false; /* the caller closes fds */
    }
    close(fds[0]);
    p->area = a;
    p->efd_tx = fds[1];
    p->efd_rx = fds[2];
    shmring_bind(&p->tx, a, SHMRING_TX, false);
    shmring_bind(&p->rx, a, SHMRING_RX, true);
    return true;
}

static void port_hello(struct daemon *d, size_t slot, const uint8_t *msg, size_t len, int fds[3])
{
    json_error_t je;
    json_t *h = json_loadb((const char *)msg, len, JSON_REJECT_DUPLICATES, &je);
    const char *nic_id = NULL, *mac = NULL;
    if (!h || json_unpack_ex(h, &je, 0, "{s:s,s:s}", "nic", &nic_id, "mac", &mac) < 0) {
        hello_fail(d, slot,
                   "the first message must be {\"nic\":\"<id>\",\"mac\":\"<mac>\"}: %s", je.text);
        json_decref(h);
        return;
    }
    const struct net_config *cfg = d->sw->cfg;
    int i = net_config_find_nic(cfg, nic_id);
    uint8_t m[6];
    char want[NET_MAC_STRLEN];
    if (i < 0) {
        hello_fail(d, slot, "unknown NIC '%.80s': no NIC with this id is configured", nic_id);
    } else if (net_mac_parse(mac, m) < 0) {
        hello_fail(d, slot, "NIC '%.80s': '%.40s' is not a MAC address", nic_id, mac);
    } else if (memcmp(m, cfg->nics[i].mac, 6)) {
        hello_fail(d, slot, "NIC '%.80s' has MAC %s, not %.40s", nic_id,
                   net_mac_str(cfg->nics[i].mac, want), mac);
    } else if (net_nic_remote(&cfg->nics[i])) {
        char host[NET_IP4_STRLEN];
        hello_fail(d, slot, "NIC '%.80s' lives on the host %s (reached over VXLAN), not here",
                   nic_id, net_ip4_str(cfg->nics[i].host, host));
    } else if (d->sw->nics[i].port >= 0 && !json_is_true(json_object_get(h, "takeover"))) {
        hello_fail(d, slot, "NIC '%.80s' is already connected", nic_id);
    } else {
        if (d->sw->nics[i].port >= 0) /* a live migration's new kumo-vmm takes the NIC */
            port_close(d, (size_t)d->sw->nics[i].port, "taken over by a migrated VM's new VMM");
        char ip[NET_IP4_STRLEN];
        d->ports[slot].state = PORT_ACTIVE;
        d->sw->nics[i].port = (int)slot;
        net_ip4_str(cfg->nics[i].ip, ip);
        bool asked = json_is_true(json_object_get(h, "shm"));
        bool shm = asked && fds[0] >= 0 && port_take_shm(&d->ports[slot], nic_id, fds);
        if (shm) fds[0] = fds[1] = fds[2] = -1; /* the port owns them now */
        log_info("NIC '%s' connected (%s%s)", nic_id, ip, shm ? ", shared-memory rings" : "");
        json_t *r = json_pack("{s:b,s:s}", "ok", 1, "ip", ip);
        if (asked) json_object_set_new(r, "shm", json_boolean(shm));
        hello_reply(d, slot, r);
    }
    json_decref(h);
}

/* Receive a hello and the descriptors that may come with it. */
static ssize_t recv_hello(int fd, uint8_t *buf, size_t cap, int fds[3])
{
    struct iovec iov = {buf, cap};
    union {
        struct cmsghdr h;
        char b[CMSG_SPACE(4 * sizeof(int))];
    } c;
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = c.b,
                        .msg_controllen = sizeof(c.b)};
    fds[0] = fds[1] = fds[2] = -1;
    ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_TRUNC | MSG_CMSG_CLOEXEC);
    if (n < 0) return n;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) continue;
        size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        int got[4];
        if (k > 4) k = 4;
        memcpy(got, CMSG_DATA(cm), k * sizeof(int));
        for (size_t i = 0; i < k; i++) {
            if (k == 3 && fds[i] < 0)
                fds[i] = got[i];
            else
                close(got[i]); /* not the three we expect */
        }
    }
    if ((mh.msg_flags & MSG_CTRUNC) && fds[0] >= 0) {
        for (int i = 0; i < 3; i++) close(fds[i]);
        fds[0] = fds[1] = fds[2] = -1;
    }
    return n;
}

static int nic_of_slot(struct daemon *d, size_t slot)
{
    for (size_t i = 0; i < d->sw->cfg->nnics; i++)
        if (d->sw->nics[i].port == (int)slot) return (int)i;
    return -1;
}

static void port_readable(struct daemon *d, size_t slot)
{
    for (int n = 0; n < FRAMES_PER_ROUND && d->ports[slot].state != PORT_FREE; n++) {
        int fds[3] = {-1, -1, -1};
        ssize_t len = d->ports[slot].state == PORT_HELLO
                          ? recv_hello(d->ports[slot].fd, d->rx, NET_FRAME_MAX + 1, fds)
                          : recv(d->ports[slot].fd, d->rx, NET_FRAME_MAX + 1,
                                 MSG_DONTWAIT | MSG_TRUNC);
        if (len <= 0 || d->ports[slot].state != PORT_HELLO || len > HELLO_MAX)
            for (int i = 0; i < 3; i++)
                if (fds[i] >= 0) close(fds[i]);
        if (len < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
            port_close(d, slot, strerror(errno));
            return;
        }
        if (len == 0) {
            port_close(d, slot, "disconnected");
            return;
        }
        if (d->ports[slot].state == PORT_HELLO) {
            if (len > HELLO_MAX) {
                hello_fail(d, slot, "the hello message is longer than %d bytes", HELLO_MAX);
                return;
            }
            port_hello(d, slot, d->rx, (size_t)len, fds);
            for (int i = 0; i < 3; i++)
                if (fds[i] >= 0) close(fds[i]);
            continue;
        }
        int nic = nic_of_slot(d, slot);
        if (nic < 0) {
            port_close(d, slot, "its NIC is no longer configured");
            return;
        }
        if (len > NET_FRAME_MAX) { /* truncated: count it as malformed */
            d->sw->nics[nic].st.rx_packets++;
            d->sw->nics[nic].st.drops[SW_DROP_MALFORMED]++;
            continue;
        }
        sw_port_input(d->sw, (size_t)nic, d->rx, (size_t)len, now_ms(), d->out);
        dispatch(d, d->out);
    }
}

/* The frames the guest put in the port's ring: each copied out before the
 * switch looks at it (the VMM could change the ring meanwhile). */
static void port_ring_readable(struct daemon *d, size_t slot, bool kicked)
{
    struct port *p = &d->ports[slot];
    shmring_awake(&p->tx);
    if (kicked) {
        uint64_t x;
        if (read(p->efd_tx, &x, sizeof(x)) < 0) { /* drained either way */ }
    }
    int nic = nic_of_slot(d, slot);
    for (int n = 0; n < FRAMES_PER_ROUND && p->area; n++) {
        const uint8_t *f;
        long len = shmring_peek(&p->tx, &f);
        if (len == 0) return;
        if (len < 0) {
            port_close(d, slot, "the VM broke its shared transmit ring");
            return;
        }
        if (nic < 0) {
            port_close(d, slot, "its NIC is no longer configured");
            return;
        }
        memcpy(d->rx, f, (size_t)len);
        shmring_pop(&p->tx);
        sw_port_input(d->sw, (size_t)nic, d->rx, (size_t)len, now_ms(), d->out);
        dispatch(d, d->out);
    }
}

static void accept_ports(struct daemon *d)
{
    for (;;) {
        int fd = accept4(d->ports_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;
        size_t slot = 0;
        while (slot < d->nports && d->ports[slot].state != PORT_FREE) slot++;
        if (slot == d->nports) {
            struct port *np = realloc(d->ports, (d->nports + 1) * sizeof(*np));
            if (!np) {
                close(fd);
                return;
            }
            d->ports = np;
            d->nports++;
        }
        d->ports[slot] = (struct port){.fd = fd, .state = PORT_HELLO, .since_ms = now_ms(),
                                       .pidx = -1, .efd_tx = -1, .efd_rx = -1, .eidx = -1};
    }
}

/* After a configuration change: close ports whose NIC is gone or changed. */
static void reconcile_ports(struct daemon *d)
{
    for (size_t s = 0; s < d->nports; s++)
        if (d->ports[s].state == PORT_ACTIVE && nic_of_slot(d, s) < 0)
            port_close(d, s, "its NIC was removed or its MAC or VNet changed");
}

/* The VXLAN socket for cfg's underlay: kept when the address and port do
 * not change, else bound anew (the old one is closed once the new one is
 * bound). 0, or -1 with err. */
static int vxlan_sync(struct daemon *d, const struct net_config *cfg, char *err, size_t errlen)
{
    if (cfg->underlay_addr == d->vx_addr && cfg->underlay_port == d->vx_port) return 0;
    int fd = -1;
    if (cfg->underlay_addr) {
        char a[NET_IP4_STRLEN];
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(cfg->underlay_port),
                                 .sin_addr.s_addr = htonl(cfg->underlay_addr)};
        fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int pmtu = IP_PMTUDISC_DONT, buf = 4 << 20;
        if (fd >= 0) { /* outer datagrams above the underlay's MTU are fragmented, not lost */
            setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof(pmtu));
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
            setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
        }
        if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
            snprintf(err, errlen,
                     "underlay: cannot receive VXLAN on %s port %u: %s (the address must be "
                     "one of this host's, and the port free)",
                     net_ip4_str(cfg->underlay_addr, a), cfg->underlay_port, strerror(errno));
            if (fd >= 0) close(fd);
            return -1;
        }
        log_info("VXLAN on %s port %u", net_ip4_str(cfg->underlay_addr, a), cfg->underlay_port);
    }
    if (d->vx_fd >= 0) close(d->vx_fd);
    d->vx_fd = fd;
    d->vx_addr = cfg->underlay_addr;
    d->vx_port = cfg->underlay_port;
    return 0;
}

/* Datagrams from other hosts: decapsulated and handed to the data plane. */
static void vxlan_readable(struct daemon *d)
{
    for (int n = 0; n < FRAMES_PER_ROUND && d->vx_fd >= 0; n++) {
        struct sockaddr_in from;
        socklen_t fl = sizeof(from);
        ssize_t len = recvfrom(d->vx_fd, d->vx_rx, VXLAN_DGRAM_MAX, MSG_DONTWAIT,
                               (struct sockaddr *)&from, &fl);
        if (len < 0) return;
        uint32_t vni;
        const uint8_t *inner;
        size_t ilen;
        if (fl < sizeof(from) || from.sin_family != AF_INET ||
            vxlan_decap(d->vx_rx, (size_t)len, &vni, &inner, &ilen) != VXLAN_OK) {
            d->sw->vxlan_no_vnet++;
            continue;
        }
        sw_vxlan_input(d->sw, vni, ntohl(from.sin_addr.s_addr), inner, ilen, now_ms(), d->out);
        dispatch(d, d->out);
    }
}

static int apply(void *opaque, struct net_config *cfg, char *err, size_t errlen)
{
    struct daemon *d = opaque;
    if (vxlan_sync(d, cfg, err, errlen) < 0) {
        net_config_free(cfg);
        return -1;
    }
    if (nat_sync(d->nat, cfg, err, errlen) < 0) {
        net_config_free(cfg);
        return -1;
    }
    if (sw_apply(d->sw, cfg) < 0) {
        char e2[256];
        nat_sync(d->nat, d->sw->cfg, e2, sizeof(e2));
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    reconcile_ports(d);
    return 0;
}

static json_t *public_ip_errors(void *opaque)
{
    struct daemon *d = opaque;
    const struct nat_failure *f;
    size_t n = nat_failures(d->nat, &f);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        const struct net_config *cfg = d->sw->cfg;
        if (f[i].pip >= cfg->npips || f[i].port >= cfg->pips[f[i].pip].nports) continue;
        const struct net_public_ip *p = &cfg->pips[f[i].pip];
        const struct net_pip_port *pp = &p->ports[f[i].port];
        char ip[NET_IP4_STRLEN], msg[256];
        snprintf(msg, sizeof(msg), "cannot listen on %s:%u/%s: %s", net_ip4_str(p->host_addr, ip),
                 pp->host_port, pp->udp ? "udp" : "tcp", strerror(f[i].err));
        json_array_append_new(arr, json_pack("{s:s,s:s,s:i,s:i,s:s}", "public_ip", p->name,
                                             "protocol", pp->udp ? "udp" : "tcp", "port",
                                             (int)pp->nic_port, "host_port", (int)pp->host_port,
                                             "error", msg));
    }
    return arr;
}

/* -------------------------------------------------------------- control -- */

static void client_close(struct daemon *d, size_t i)
{
    struct client *c = &d->clients[i];
    close(c->fd);
    free(c->in);
    free(c->out);
    d->clients[i] = d->clients[--d->nclients];
}

static void client_queue(struct client *c, const char *text)
{
    size_t n = strlen(text);
    if (c->outlen + n + 1 > CONTROL_OUT_MAX) {
        c->dead = true;
        return;
    }
    char *o = realloc(c->out, c->outlen + n + 1);
    if (!o) {
        c->dead = true;
        return;
    }
    memcpy(o + c->outlen, text, n);
    o[c->outlen + n] = '\n';
    c->out = o;
    c->outlen += n + 1;
}

static void client_readable(struct daemon *d, struct client *c)
{
    for (;;) {
        if (c->incap - c->inlen < 65536) {
            size_t cap = c->incap ? c->incap * 2 : 65536;
            char *b = realloc(c->in, cap);
            if (!b) {
                c->dead = true;
                return;
            }
            c->in = b;
            c->incap = cap;
        }
        ssize_t n = recv(c->fd, c->in + c->inlen, c->incap - c->inlen, MSG_DONTWAIT);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) c->dead = true;
            break;
        }
        if (n == 0) {
            c->dead = true;
            break;
        }
        c->inlen += (size_t)n;
        if (c->inlen > CONTROL_LINE_MAX) {
            client_queue(c, "{\"ok\":false,\"error\":\"request line too long\"}");
            c->dead = true;
            return;
        }
    }
    size_t start = 0;
    for (size_t i = 0; i < c->inlen; i++) {
        if (c->in[i] != '\n') continue;
        size_t len = i - start;
        if (len && !(len == 1 && c->in[start] == '\r')) {
            d->ctl.now_ms = now_ms();
            d->ctl.nat_queue_drops = nat_queue_drops(d->nat);
            char *resp = ctl_handle_line(&d->ctl, c->in + start, len);
            if (resp) client_queue(c, resp);
            free(resp);
        }
        start = i + 1;
    }
    memmove(c->in, c->in + start, c->inlen - start);
    c->inlen -= start;
}

static void client_writable(struct client *c)
{
    while (c->outoff < c->outlen) {
        ssize_t n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
                         MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) c->dead = true;
            break;
        }
        c->outoff += (size_t)n;
    }
    if (c->outoff == c->outlen) c->outoff = c->outlen = 0;
}

static void accept_clients(struct daemon *d)
{
    for (;;) {
        int fd = accept4(d->control_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) return;
        struct client *nc = realloc(d->clients, (d->nclients + 1) * sizeof(*nc));
        if (!nc) {
            close(fd);
            return;
        }
        d->clients = nc;
        d->clients[d->nclients++] = (struct client){.fd = fd, .pidx = -1};
    }
}

/* ----------------------------------------------------------------- setup -- */

static int listen_unix(const char *path, int type)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path)) {
        log_error("%s: socket path is longer than %zu bytes", path, sizeof(sa.sun_path) - 1);
        return -1;
    }
    strcpy(sa.sun_path, path);
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            log_error("%s exists and is not a socket; not replacing it", path);
            return -1;
        }
        unlink(path); /* a stale socket of an earlier run */
    }
    int fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
        log_error("cannot listen on %s: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    return fd;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
        if (n == cap) {
            char *nb = cap < (64u << 20) ? realloc(buf, cap * 2) : NULL;
            if (!nb) {
                free(buf);
                buf = NULL;
                errno = EFBIG;
                break;
            }
            buf = nb;
            cap *= 2;
        }
    }
    fclose(f);
    *len = n;
    return buf;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: kumo-switch --ports PATH [--control PATH] [--config FILE] [--egress W]... [-v]\n"
            "       kumo-switch --check --config FILE\n"
            "\n"
            "The virtual switch of kumo: VNets with DHCP, routing, NSGs with connection\n"
            "tracking, NAT to the host's network and public IP port forwarding.\n"
            "\n"
            "  --ports PATH     unix SOCK_SEQPACKET socket VM NICs connect to\n"
            "  --control PATH   unix socket for the JSON control protocol\n"
            "  --config FILE    initial configuration (JSON; see docs/network.md)\n"
            "  --check          validate --config, print the NICs' addresses, exit\n"
            "  --egress WORD    where VMs may go through NAT besides the internet:\n"
            "                   allow-private (the host's private networks), allow:CIDR,\n"
            "                   deny:CIDR; never this host, loopback or link-local\n"
            "                   (repeatable; see docs/network.md)\n"
            "  -v, --verbose    more messages (twice for debug)\n"
            "  -h, --help       this text\n"
            "  -V, --version    the version\n");
}

static int check_config(const char *path)
{
    size_t len;
    char err[1024];
    char *text = read_file(path, &len);
    if (!text) {
        log_error("cannot read %s: %s", path, strerror(errno));
        return 1;
    }
    struct net_config *cfg;
    int r = net_config_parse(text, len, NULL, &cfg, err, sizeof(err));
    free(text);
    if (r < 0) {
        log_error("%s: %s", path, err);
        return 1;
    }
    struct sw *sw = sw_create();
    if (!sw || sw_apply(sw, cfg) < 0) {
        log_error("out of memory");
        return 1;
    }
    json_t *a = json_array();
    for (size_t i = 0; i < sw->cfg->nnics; i++) json_array_append_new(a, ctl_nic_status(sw, i));
    char *out = json_dumps(a, JSON_INDENT(2));
    if (out) printf("%s\n", out);
    free(out);
    json_decref(a);
    sw_destroy(sw);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"ports", required_argument, NULL, 'p'},   {"control", required_argument, NULL, 'c'},
        {"config", required_argument, NULL, 'f'},  {"check", no_argument, NULL, 'k'},
        {"verbose", no_argument, NULL, 'v'},       {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},       {"egress", required_argument, NULL, 'e'},
        {NULL, 0, NULL, 0},
    };
    const char *egress[EGRESS_MAX_RULES * 2 + 1];
    int negress = 0;
    const char *ports = NULL, *control = NULL, *config = NULL;
    bool check = false;
    int verbose = 0, c;
    while ((c = getopt_long(argc, argv, "vhV", opts, NULL)) != -1) {
        switch (c) {
        case 'p': ports = optarg; break;
        case 'c': control = optarg; break;
        case 'f': config = optarg; break;
        case 'k': check = true; break;
        case 'e':
            if (negress == (int)(sizeof(egress) / sizeof(egress[0]))) {
                log_error("too many --egress options");
                return 2;
            }
            egress[negress++] = optarg;
            break;
        case 'v': verbose++; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("kumo-switch %s\n", KUMO_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    log_init(argv[0], verbose >= 2 ? LOG_DEBUG : verbose ? LOG_INFO : LOG_WARN);
    if (optind < argc) {
        log_error("unexpected argument '%s' (see --help)", argv[optind]);
        return 2;
    }
    if (check) {
        if (!config) {
            log_error("--check needs --config FILE");
            return 2;
        }
        return check_config(config);
    }
    if (!ports) {
        log_error("--ports PATH is required (the socket VM NICs connect to; see --help)");
        return 2;
    }

    static struct daemon d;
    d.ports_fd = d.control_fd = -1;
    d.ports_path = ports;
    d.control_path = control;
    d.sw = sw_create();
    d.nat = nat_create(nat_deliver, &d);
    d.out = malloc(sizeof(*d.out));
    d.nat_out = malloc(sizeof(*d.nat_out));
    d.rx = malloc(NET_FRAME_MAX + 1);
    d.vx_fd = -1;
    d.vx_rx = malloc(VXLAN_DGRAM_MAX);
    if (!d.sw || !d.nat || !d.out || !d.nat_out || !d.rx || !d.vx_rx) {
        log_error("out of memory");
        return 1;
    }
    for (int k = 0; k < negress; k++) {
        char err[256];
        if (egress_add(&d.sw->egress, egress[k], err, sizeof(err)) < 0) {
            log_error("--egress: %s", err);
            return 2;
        }
    }
    d.ctl = (struct ctl_env){
        .sw = d.sw, .apply = apply, .opaque = &d, .public_ip_errors = public_ip_errors};

    if (config) {
        size_t len;
        char err[1024];
        char *text = read_file(config, &len);
        if (!text) {
            log_error("cannot read %s: %s", config, strerror(errno));
            return 1;
        }
        struct net_config *cfg;
        int r = net_config_parse(text, len, NULL, &cfg, err, sizeof(err));
        free(text);
        if (r < 0 || apply(&d, cfg, err, sizeof(err)) < 0) {
            log_error("%s: %s", config, err);
            return 1;
        }
    }

    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (control && (d.control_fd = listen_unix(control, SOCK_STREAM)) < 0) return 1;
    if ((d.ports_fd = listen_unix(ports, SOCK_SEQPACKET)) < 0) {
        if (control) unlink(control);
        return 1;
    }
    log_info("listening: ports %s%s%s", ports, control ? ", control " : "",
             control ? control : "");

    struct pollset ps = {0};
    bool kick = false;
    uint64_t last_tick = now_ms(), last_host_refresh = last_tick;
    while (!stop_signal) {
        ps.n = 0;
        int ports_idx = pollset_add(&ps, d.ports_fd, POLLIN);
        int control_idx = d.control_fd >= 0 ? pollset_add(&ps, d.control_fd, POLLIN) : -1;
        int vx_idx = d.vx_fd >= 0 ? pollset_add(&ps, d.vx_fd, POLLIN) : -1;
        bool rings_busy = false;
        for (size_t s = 0; s < d.nports; s++) {
            struct port *p = &d.ports[s];
            p->pidx = p->state != PORT_FREE ? pollset_add(&ps, p->fd, POLLIN) : -1;
            p->eidx = p->area ? pollset_add(&ps, p->efd_tx, POLLIN) : -1;
            if (p->area && !shmring_sleep(&p->tx)) rings_busy = true; /* frames waiting */
        }
        for (size_t i = 0; i < d.nclients; i++)
            d.clients[i].pidx = pollset_add(
                &ps, d.clients[i].fd, (short)(POLLIN | (d.clients[i].outlen ? POLLOUT : 0)));
        int timeout = kick || rings_busy ? 0 : 1000;
        uint64_t due = sw_timer_deadline(d.sw), t0 = now_ms();
        if (due != UINT64_MAX && (due <= t0 || due - t0 < (uint64_t)timeout))
            timeout = due <= t0 ? 0 : (int)(due - t0);
        nat_fill(d.nat, &ps, &timeout);
        if (ports_idx < 0) {
            log_error("out of memory");
            break;
        }
        int r = poll(ps.fds, ps.n, timeout);
        if (r < 0 && errno != EINTR) {
            log_error("poll: %s", strerror(errno));
            break;
        }
        if (r < 0) continue;
        nat_poll(d.nat, &ps, false);
        kick = nat_flush(d.nat);

        if (ps.fds[ports_idx].revents & POLLIN) accept_ports(&d);
        if (vx_idx >= 0 && (ps.fds[vx_idx].revents & POLLIN)) {
            vxlan_readable(&d);
            kick |= nat_flush(d.nat);
        }
        if (control_idx >= 0 && (ps.fds[control_idx].revents & POLLIN)) accept_clients(&d);
        for (size_t s = 0; s < d.nports; s++) {
            int pi = d.ports[s].pidx;
            if (pi < 0 || d.ports[s].state == PORT_FREE) continue;
            short re = ps.fds[pi].revents;
            if (re & POLLIN)
                port_readable(&d, s);
            else if (re & (POLLHUP | POLLERR | POLLNVAL))
                port_close(&d, s, "disconnected");
            int ei = d.ports[s].eidx;
            if (d.ports[s].area)
                port_ring_readable(&d, s, ei >= 0 && (ps.fds[ei].revents & POLLIN));
            kick |= nat_flush(d.nat);
        }
        for (size_t i = 0; i < d.nclients;) {
            struct client *cl = &d.clients[i];
            int pi = cl->pidx;
            short re = pi >= 0 ? ps.fds[pi].revents : 0;
            if (re & (POLLIN | POLLHUP | POLLERR)) client_readable(&d, cl);
            if (cl->outlen) client_writable(cl);
            kick |= nat_flush(d.nat);
            if (cl->dead || ((re & (POLLHUP | POLLERR)) && !(re & POLLIN))) {
                client_close(&d, i);
                continue;
            }
            i++;
        }

        uint64_t now = now_ms();
        /* the metadata service's retransmissions and timeouts */
        if (sw_timer_deadline(d.sw) <= now)
            for (size_t i = 0; i < d.sw->cfg->nnics; i++) {
                if (sw_nic_deadline(d.sw, i) > now) continue;
                sw_nic_timers(d.sw, i, now, d.out);
                dispatch(&d, d.out);
            }
        if (now - last_tick >= 1000) {
            last_tick = now;
            sw_tick(d.sw, now);
            if (now - last_host_refresh >= 10000) { /* the host's addresses move (DHCP) */
                last_host_refresh = now;
                egress_refresh_host(&d.sw->egress);
            }
            for (size_t s = 0; s < d.nports; s++)
                if (d.ports[s].state == PORT_HELLO && now - d.ports[s].since_ms > HELLO_TIMEOUT_MS)
                    port_close(&d, s, "no hello within 10 s");
        }
    }

    log_info("stopping%s", stop_signal ? " (signal)" : "");
    for (size_t s = 0; s < d.nports; s++) port_close(&d, s, "switch stopping");
    while (d.nclients) client_close(&d, 0);
    close(d.ports_fd);
    unlink(ports);
    if (d.control_fd >= 0) {
        close(d.control_fd);
        unlink(control);
    }
    if (d.vx_fd >= 0) close(d.vx_fd);
    nat_destroy(d.nat);
    sw_destroy(d.sw);
    free(ps.fds);
    free(d.ports);
    free(d.clients);
    free(d.out);
    free(d.nat_out);
    free(d.rx);
    free(d.vx_rx);
    return stop_signal ? 0 : 1;
}
