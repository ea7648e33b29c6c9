/*
 * netdev.h - the host side of a virtual NIC: where the frames a guest sends
 * go, and where the frames it receives come from.
 *
 * Back ends:
 *   user[,hostfwd=tcp|udp:[HOSTIP]:HOSTPORT-[GUESTIP]:GUESTPORT]...[,egress=WORD]...
 *       user-mode NAT through libslirp (10.0.2.0/24, gateway 10.0.2.2,
 *       DNS 10.0.2.3, DHCP from 10.0.2.15), as QEMU's "-netdev user", but
 *       never to the host: no host loopback, and the egress policy of
 *       network/egress.h (egress=allow-private|allow:CIDR|deny:CIDR)
 *   switch=PATH,nic=ID[,shm=off][,takeover=on]
 *       a port on kumo-switch: a SOCK_SEQPACKET unix socket; a JSON hello
 *       {"nic":ID,"mac":MAC,"shm":BYTES} carrying a memfd of frame rings and
 *       two eventfds (lib/shmring.h); when the switch takes them, frames
 *       travel through the rings, else (or with shm=off) one Ethernet frame
 *       per socket message. takeover=on: the NIC moves to this port even
 *       when another has it (a live migration's destination)
 *
 * A back end is driven by one thread (the NIC's, in virtio_net.c): it adds
 * its file descriptors to that thread's poll set, handles what became
 * ready, and delivers received frames through the rx callback.
 */
#ifndef KUMO_DEVICES_NETDEV_H
#define KUMO_DEVICES_NETDEV_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct netdev;

typedef void (*netdev_rx_fn)(void *opaque, const uint8_t *frame, size_t len);

struct netdev_ops {
    /* Add up to `max` descriptors to fds; may lower *timeout_ms. Returns how many. */
    int (*fill)(struct netdev *nd, struct pollfd *fds, int max, int *timeout_ms);
    /* The same descriptors after poll() (error: poll failed). */
    void (*dispatch)(struct netdev *nd, struct pollfd *fds, int n, bool error);
    /* Send one frame the guest transmitted. Never blocks; may drop. */
    void (*send)(struct netdev *nd, const uint8_t *frame, size_t len);
    /* The same, the frame gathered from n buffers (may be NULL: the caller
     * then copies into one buffer and calls send). */
    void (*sendv)(struct netdev *nd, const struct iovec *iov, int n, size_t len);
    /* End of a batch of sends: notify the other side once (may be NULL). */
    void (*flush)(struct netdev *nd);
    void (*close)(struct netdev *nd);
};

struct netdev {
    const struct netdev_ops *ops;
    netdev_rx_fn rx;
    void *rx_opaque;
    uint64_t tx_dropped, rx_dropped;
};

#define NETDEV_MAX_FRAME 65535

/* Open a back end from its spec (see above); mac is the NIC's address.
 * NULL with a message in err when the spec is wrong or it cannot connect. */
struct netdev *netdev_open(const char *spec, const uint8_t mac[6], char *err, size_t errlen);

/* Back-end constructors (netdev_user.c, netdev_switch.c). `opts` is the
 * spec after the back-end name. */
struct netdev *netdev_user_open(const char *opts, char *err, size_t errlen);
/* takeover: the switch gives this port the NIC even if another port has it
 * (a live migration's new kumo-vmm, docs/vmstate.md). */
struct netdev *netdev_switch_open(const char *path, const char *nic, const uint8_t mac[6],
                                  bool shm, bool takeover, char *err, size_t errlen);

/* Parse "52:54:00:12:34:56"; false if malformed or multicast. */
bool netdev_parse_mac(const char *s, uint8_t mac[6]);

#endif
