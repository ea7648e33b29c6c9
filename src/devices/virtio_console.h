/*
 * virtio_console.h - a virtio console (device ID 3) used as kumo-vmm's
 * channel to the guest, not as a terminal: one port, no multiport. The
 * host queues text for the guest (the control socket's "shutdown" sends
 * "poweroff\n": a power button the default guest's init listens to on this
 * port's /dev/hvcN; "agent_send" sends a line to the guest's agent); what
 * the guest writes to it is kept in an inbox of 64 KiB until the host
 * takes it ("agent_recv"; beyond that it is dropped and counted).
 */
#ifndef KUMO_DEVICES_VIRTIO_CONSOLE_H
#define KUMO_DEVICES_VIRTIO_CONSOLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct device_model;
struct vcon;

/* In a virtio slot of the board (machine/virt.c); it becomes m->agent. */
extern const struct device_model virtio_console_device;

#define VIRTIO_CONSOLE_QUEUE_MAX 65536 /* bytes waiting, in each direction */

/* Queue len bytes for the guest; they are delivered as the guest's driver
 * offers receive buffers (kept until then, across a driver reset). 0, or
 * -1 when more than VIRTIO_CONSOLE_QUEUE_MAX bytes would be waiting. Any
 * thread. */
int virtio_console_send(struct vcon *c, const void *buf, size_t len);

/* Take the whole lines ('\n'-ended) the guest has written, at most len
 * bytes (a full inbox without a newline is taken as it is); their length.
 * *dropped (may be NULL) gets the bytes lost to a full inbox so far. Any
 * thread. */
size_t virtio_console_recv_lines(struct vcon *c, char *buf, size_t len, uint64_t *dropped);

/* Has the guest's driver set the device up (DRIVER_OK)? */
bool virtio_console_driver_ready(struct vcon *c);

#endif
