/*
 * netdev_switch.c - a NIC's port on kumo-switch. The connection is a unix
 * SOCK_SEQPACKET socket: after a JSON hello ({"nic":ID,"mac":MAC}) and the
 * switch's answer ({"ok":true,...} or {"ok":false,"error":...}), every message
 * is one Ethernet frame. If the switch goes away, the port reconnects on its
 * own (frames meanwhile are dropped), so a restarted switch re-adopts its VMs.
 */
#include "devices/netdev.h"

#include "lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define RECONNECT_MS 1000

struct port {
    struct netdev nd;
    int fd;
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

/* Connect and greet; returns the socket or -1 with a message. */
static int port_connect(struct port *p, char *err, size_t errlen)
{
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
    if (send(fd, p->hello, strlen(p->hello), 0) >= 0) n = recv(fd, reply, sizeof(reply) - 1, 0);
    if (n <= 0) {
        snprintf(err, errlen, "the switch at %s did not answer the hello: %s", p->path,
                 n < 0 ? strerror(errno) : "connection closed");
        close(fd);
        return -1;
    }
    reply[n] = 0;
    if (!strstr(reply, "\"ok\":true") && !strstr(reply, "\"ok\": true")) {
        snprintf(err, errlen, "the switch refused the NIC: %s", reply);
        close(fd);
        return -1;
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
    return 1;
}

static void port_dispatch(struct netdev *nd, struct pollfd *fds, int n, bool error)
{
    struct port *p = (struct port *)nd;
    if (n < 1 || error || p->fd < 0) return;
    if (fds[0].revents & (POLLHUP | POLLERR)) {
        log_warn("lost the connection to the switch at %s; reconnecting", p->path);
        close(p->fd);
        p->fd = -1;
        p->next_try_ms = now_ms() + RECONNECT_MS;
        return;
    }
    if (!(fds[0].revents & POLLIN)) return;
    for (int k = 0; k < 64; k++) { /* drain a batch, then let the loop breathe */
        ssize_t len = recv(p->fd, p->buf, sizeof(p->buf), MSG_TRUNC);
        if (len < 0) break;
        if (len == 0) {
            close(p->fd);
            p->fd = -1;
            p->next_try_ms = now_ms() + RECONNECT_MS;
            return;
        }
        if ((size_t)len > NETDEV_MAX_FRAME || len < 14) {
            nd->rx_dropped++;
            continue;
        }
        if (nd->rx) nd->rx(nd->rx_opaque, p->buf, (size_t)len);
    }
}

static void port_send(struct netdev *nd, const uint8_t *frame, size_t len)
{
    struct port *p = (struct port *)nd;
    if (p->fd < 0 || send(p->fd, frame, len, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) nd->tx_dropped++;
}

static void port_close(struct netdev *nd)
{
    struct port *p = (struct port *)nd;
    if (p->fd >= 0) close(p->fd);
    free(p);
}

static const struct netdev_ops port_ops = {
    .fill = port_fill,
    .dispatch = port_dispatch,
    .send = port_send,
    .close = port_close,
};

struct netdev *netdev_switch_open(const char *path, const char *nic, const uint8_t mac[6],
                                  char *err, size_t errlen)
{
    struct port *p = calloc(1, sizeof(*p));
    if (!p) return NULL;
    p->nd.ops = &port_ops;
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
             "{\"nic\":\"%s\",\"mac\":\"%02x:%02x:%02x:%02x:%02x:%02x\"}", nic, mac[0], mac[1],
             mac[2], mac[3], mac[4], mac[5]);
    p->fd = port_connect(p, err, errlen);
    if (p->fd < 0) {
        free(p);
        return NULL;
    }
    return &p->nd;
}
