/*
 * shmring.h - the shared-memory frame path between kumo-vmm and kumo-switch.
 *
 * One memfd, made by kumo-vmm and passed to kumo-switch with the port's
 * hello (SCM_RIGHTS, with two eventfds), holds two single-producer,
 * single-consumer rings of Ethernet frames: SHMRING_TX (the guest's frames,
 * kumo-vmm -> kumo-switch) and SHMRING_RX (kumo-switch -> kumo-vmm). A frame
 * is a record of an 8-byte header {u32 len, u32 flags} and its bytes padded
 * to 8; a record never wraps: a WRAP header sends the consumer back to the
 * start. Head and tail are free-running byte counters in the shared area;
 * each side keeps its own cursor privately and only publishes it, so a peer
 * that scribbles over the area can make the other side drop frames, never
 * read or write outside the ring (every record is checked: SHMRING_CORRUPT).
 *
 * Notifications are suppressed: the consumer raises want_kick only when it
 * is about to sleep (shmring_sleep) and the producer writes the consumer's
 * eventfd only then (shmring_need_kick), so a busy path makes no system
 * calls at all. Frames are copied once per direction: into the ring by the
 * producer (from guest memory, or the switch's output), and out of it by the
 * consumer (into guest memory, or - the switch - into its own buffer before
 * any check, so the VMM cannot change a frame after it was inspected).
 */
#ifndef KUMO_LIB_SHMRING_H
#define KUMO_LIB_SHMRING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define SHMRING_MAGIC     0x676e69726f6d756bull /* "kumoring" */
#define SHMRING_VERSION   1
#define SHMRING_BYTES     (512u << 10) /* per direction (a power of two) */
#define SHMRING_MAX_FRAME 65535u

enum { SHMRING_TX = 0, SHMRING_RX = 1 };

struct shmring_ctl {
    _Atomic uint32_t head; /* bytes produced (producer) */
    uint8_t pad0[60];
    _Atomic uint32_t tail; /* bytes consumed (consumer) */
    uint8_t pad1[60];
    _Atomic uint32_t want_kick; /* the consumer sleeps: write its eventfd */
    uint8_t pad2[60];
};

struct shmring_area {
    uint64_t magic;
    uint32_t version, ring_bytes;
    uint8_t pad[48];
    struct shmring_ctl ctl[2];
    /* then the two rings' bytes: [SHMRING_TX] then [SHMRING_RX] */
};

/* Bytes of the area for rings of ring_bytes each (a multiple of the page). */
size_t shmring_area_size(uint32_t ring_bytes);

/* One side's view of one ring. */
struct shmring {
    struct shmring_ctl *ctl;
    uint8_t *data;
    uint32_t size;   /* ring bytes (a power of two) */
    uint32_t pos;    /* our own cursor: head for a producer, tail for a consumer */
    uint32_t peeked; /* consumer: bytes of the record shmring_peek returned */
};

/* Make a fresh area in a sealed memfd (the kumo-vmm side). Returns the fd
 * and the mapping in *area, or -1 with errno. */
int shmring_create(uint32_t ring_bytes, struct shmring_area **area);
/* Map an area passed by the peer (the kumo-switch side): checks size, seals
 * (it cannot shrink under us), magic and version. 0, or -1 with a message. */
int shmring_map(int fd, struct shmring_area **area, char *err, size_t errlen);
void shmring_unmap(struct shmring_area *area);

/* Bind r to ring `which` of area, as its producer or its consumer. */
void shmring_bind(struct shmring *r, struct shmring_area *area, int which, bool producer);

/* Producer: append a frame of len bytes gathered from iov (n buffers).
 * 0, or -1 when the ring has no room (the frame is dropped by the caller). */
int shmring_put(struct shmring *r, const struct iovec *iov, int n, size_t len);
/* Producer, after a batch: does the consumer need its eventfd written? (Clears the request.) */
bool shmring_need_kick(struct shmring *r);

#define SHMRING_CORRUPT (-2)
/* Consumer: the next frame (pointer into the ring, valid until
 * shmring_pop), its length; 0 when the ring is empty, SHMRING_CORRUPT when
 * the peer broke the ring. */
long shmring_peek(struct shmring *r, const uint8_t **frame);
void shmring_pop(struct shmring *r);
/* Consumer, before it sleeps: ask for a kick. false when frames arrived
 * meanwhile (do not sleep; the request is withdrawn). */
bool shmring_sleep(struct shmring *r);
/* Consumer, awake again: withdraw the request (the producer need not kick
 * while we are draining; shmring_sleep asks again before the next sleep). */
void shmring_awake(struct shmring *r);

#endif
