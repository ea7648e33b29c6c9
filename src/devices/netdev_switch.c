/*
 * netdev_switch.c - a NIC's port on kumo-switch. The connection is a unix
 * SOCK_SEQPACKET socket: after a JSON hello ({"nic":ID,"mac":MAC}) and the
 * switch's answer ({"ok":true,...} or {"ok":false,"error":...}), every message
 * is one Ethernet frame. If the switch goes away, the port reconnects on its
 * own (frames meanwhile are dropped), so a restarted switch re-adopts its VMs.
 *
 * The fast path: the hello also carries (SCM_RIGHTS) a sealed memfd holding
 * two frame rings and two eventfds (lib/shmring.h). When the switch answers
 * "shm":true, frames go through the rings instead of the socket: a frame the
 * guest sends is copied from its buffers into the ring (sendv), a batch ends
 * with at most one eventfd write (flush), and only when the switch sleeps;
 * frames for the guest are delivered from the ring into its buffers. The
 * socket stays open: its hang-up says the switch is gone. A switch that does
 * not know the rings ignores them, and the socket carries the frames.
 */
#include "devices/netdev.h"

#include "lib/log.h"
#include "lib/shmring.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define RECONNECT_MS 1000

struct port {
    struct netdev nd;
    int fd;
    bool want_shm;
    /* the rings, while the switch uses them (area != NULL) */
    struct shmring_area *area;
    int efd_tx, efd_rx; /* we write efd_tx to wake the switch; it writes efd_rx */
    struct shmring tx, rx;
    bool tx_pending; /* frames put since the last flush */
    char path[108];
    char hello[256];
    uint64_t next_try_ms;
    uint8_t buf[NETDEV_MAX_FRAME + 1];
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void shm_drop(struct port *p)
{
    if (p->area) shmring_unmap(p->area);
    p->area = NULL;
    if (p->efd_tx >= 0) close(p->efd_tx);
    if (p->efd_rx >= 0) close(p->efd_rx);
    p->efd_tx = p->efd_rx = -1;
}

/* The hello, with the rings' memfd and eventfds when we offer them. */
static ssize_t send_hello(struct port *p, int fd)
{
    struct iovec iov = {p->hello, strlen(p->hello)};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(3 * sizeof(int))];
    } c;
    int memfd = -1;
    if (p->want_shm) {
        memfd = shmring_create(SHMRING_BYTES, &p->area);
        p->efd_tx = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        p->efd_rx = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (memfd < 0 || p->efd_tx < 0 || p->efd_rx < 0) {
            log_warn("switch port: no shared-memory rings (%s); frames go through the socket",
                     strerror(errno));
            if (memfd < 0) p->area = NULL;
            shm_drop(p);
        } else {
            memset(&c, 0, sizeof(c));
            mh.msg_control = c.buf;
            mh.msg_controllen = sizeof(c.buf);
            struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
            cm->cmsg_level = SOL_SOCKET;
            cm->cmsg_type = SCM_RIGHTS;
            cm->cmsg_len = CMSG_LEN(3 * sizeof(int));
            int fds[3] = {memfd, p->efd_tx, p->efd_rx};
            memcpy(CMSG_DATA(cm), fds, sizeof(fds));
        }
    }
    ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL);
    if (memfd >= 0) close(memfd); /* the mapping (and the switch's copy) keep it */
    return n;
}

/* Connect and greet; returns the socket or -1 with a message. */
static int port_connect(struct port *p, char *err, size_t errlen)
{
    shm_drop(p);
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strcpy(a.sun_path, p->path);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
        snprintf(err, errlen, "cannot connect to the switch at %s: %s (is kumo-switch running?)",
                 p->path, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char reply[1024];
    ssize_t n = -1;
    if (send_hello(p, fd) >= 0) n = recv(fd, reply, sizeof(reply) - 1, 0);
    if (n <= 0) {
        snprintf(err, errlen, "the switch at %s did not answer the hello: %s", p->path,
                 n < 0 ? strerror(errno) : "connection closed");
        close(fd);
        shm_drop(p);
        return -1;
    }
    reply[n] = 0;
    if (!strstr(reply, "\"ok\":true") && !strstr(reply, "\"ok\": true")) {
        snprintf(err, errlen, "the switch refused the NIC: %s", reply);
        close(fd);
        shm_drop(p);
        return -1;
    }
    if (p->area && (strstr(reply, "\"shm\":true") || strstr(reply, "\"shm\": true"))) {
        shmring_bind(&p->tx, p->area, SHMRING_TX, true);
        shmring_bind(&p->rx, p->area, SHMRING_RX, false);
        p->tx_pending = false;
    } else {
        shm_drop(p); /* an older switch: the socket carries the frames */
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

static int port_fill(struct netdev *nd, struct pollfd *fds, int max, int *timeout_ms)
{
    struct port *p = (struct port *)nd;
    if (p->fd < 0) {
        uint64_t now = now_ms();
        if (now >= p->next_try_ms) {
            char err[256];
            p->fd = port_connect(p, err, sizeof(err));
            if (p->fd < 0) p->next_try_ms = now + RECONNECT_MS;
            else log_info("reconnected to the switch at %s", p->path);
        }
        if (p->fd < 0) {
            int wait = (int)(p->next_try_ms - now);
            if (*timeout_ms < 0 || wait < *timeout_ms) *timeout_ms = wait < 0 ? 0 : wait;
            return 0;
        }
    }
    if (max < 1) return 0;
    fds[0] = (struct pollfd){.fd = p->fd, .events = POLLIN};
    if (!p->area || max < 2) return 1;
    fds[1] = (struct pollfd){.fd = p->efd_rx, .events = POLLIN};
    if (!shmring_sleep(&p->rx)) *timeout_ms = 0; /* frames are waiting already */
    return 2;
}

static void lost(struct port *p, const char *why)
{
    log_warn("lost the connection to the switch at %s (%s); reconnecting", p->path, why);
    close(p->fd);
    p->fd = -1;
    shm_drop(p);
    p->next_try_ms = now_ms() + RECONNECT_MS;
}

/* Deliver what the switch put in the receive ring (a batch). */
static void shm_receive(struct port *p)
{
    struct netdev *nd = &p->nd;
    for (int k = 0; k < 256; k++) {
        const uint8_t *f;
        long len = shmring_peek(&p->rx, &f);
        if (len == 0) return;
        if (len < 0) {
            lost(p, "the switch broke the shared receive ring");
            return;
        }
        if (len < 14)
            nd->rx_dropped++;
        else if (nd->rx)
            nd->rx(nd->rx_opaque, f, (size_t)len);
        shmring_pop(&p->rx);
    }
}

static void port_dispatch(struct netdev *nd, struct pollfd *fds, int n, bool error)
{
    struct port *p = (struct port *)nd;
    if (n < 1 || error || p->fd < 0) return;
    if (fds[0].revents & (POLLHUP | POLLERR)) {
        lost(p, "hang-up");
        return;
    }
    if (p->area) {
        shmring_awake(&p->rx);
        if (n > 1 && (fds[1].revents & POLLIN)) {
            uint64_t x;
            if (read(p->efd_rx, &x, sizeof(x)) < 0) { /* drained either way */ }
        }
        shm_receive(p);
        if (p->fd < 0) return;
    }
    if (!(fds[0].revents & POLLIN)) return;
    for (int k = 0; k < 64; k++) { /* drain a batch, then let the loop breathe */
        ssize_t len = recv(p->fd, p->buf, sizeof(p->buf), MSG_TRUNC);
        if (len < 0) break;
        if (len == 0) {
            lost(p, "closed");
            return;
        }
        if ((size_t)len > NETDEV_MAX_FRAME || len < 14) {
            nd->rx_dropped++;
            continue;
        }
        if (nd->rx) nd->rx(nd->rx_opaque, p->buf, (size_t)len);
    }
}

static void port_flush(struct netdev *nd)
{
    struct port *p = (struct port *)nd;
    if (!p->area || !p->tx_pending) return;
    p->tx_pending = false;
    if (shmring_need_kick(&p->tx)) {
        uint64_t one = 1;
        if (write(p->efd_tx, &one, sizeof(one)) < 0) { /* counter full: a kick is pending */ }
    }
}

static void port_sendv(struct netdev *nd, const struct iovec *iov, int n, size_t len)
{
    struct port *p = (struct port *)nd;
    if (p->area) {
        if (shmring_put(&p->tx, iov, n, len) < 0)
            nd->tx_dropped++; /* ring full: as a full socket, the frame is dropped */
        else
            p->tx_pending = true;
        return;
    }
    struct msghdr mh = {.msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)n};
    if (p->fd < 0 || sendmsg(p->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) nd->tx_dropped++;
}

static void port_send(struct netdev *nd, const uint8_t *frame, size_t len)
{
    struct iovec v = {(void *)frame, len};
    port_sendv(nd, &v, 1, len);
    port_flush(nd);
}

static void port_close(struct netdev *nd)
{
    struct port *p = (struct port *)nd;
    if (p->fd >= 0) close(p->fd);
    shm_drop(p);
    free(p);
}

static const struct netdev_ops port_ops = {
    .fill = port_fill,
    .dispatch = port_dispatch,
    .send = port_send,
    .sendv = port_sendv,
    .flush = port_flush,
    .close = port_close,
};

struct netdev *netdev_switch_open(const char *path, const char *nic, const uint8_t mac[6],
                                  bool shm, bool takeover, char *err, size_t errlen)
{
    struct port *p = calloc(1, sizeof(*p));
    if (!p) return NULL;
    p->nd.ops = &port_ops;
    p->want_shm = shm;
    p->efd_tx = p->efd_rx = -1;
    if (strlen(path) >= sizeof(p->path)) {
        snprintf(err, errlen, "switch socket path is too long");
        free(p);
        return NULL;
    }
    strcpy(p->path, path);
    for (const char *c = nic; *c; c++)
        if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20) {
            snprintf(err, errlen, "nic=%s: the NIC id may not contain quotes or control "
                     "characters", nic);
            free(p);
            return NULL;
        }
    snprintf(p->hello, sizeof(p->hello),
             "{\"nic\":\"%s\",\"mac\":\"%02x:%02x:%02x:%02x:%02x:%02x\"%s%s}", nic, mac[0],
             mac[1], mac[2], mac[3], mac[4], mac[5], shm ? ",\"shm\":true" : "",
             takeover ? ",\"takeover\":true" : "");
    p->fd = port_connect(p, err, errlen);
    if (p->fd < 0) {
        shm_drop(p);
        free(p);
        return NULL;
    }
    return &p->nd;
}
