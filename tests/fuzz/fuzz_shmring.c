/*
 * fuzz_shmring.c - libFuzzer harness for the shared-memory frame rings
 * (src/lib/shmring.c) as the side that does not trust its peer sees them:
 * kumo-switch consumes a ring kumo-vmm writes, and produces into a ring
 * whose tail kumo-vmm publishes. Any ring contents and any published
 * cursor must end in frames inside the ring, an empty ring, or
 * SHMRING_CORRUPT: never a read or write outside the ring's bytes.
 *
 * Input: the first bytes set the published head/tail and want_kick; the
 * rest fills the ring's bytes; the last byte decides how many frames are
 * produced afterwards.
 */
#include "lib/shmring.h"

#include <stdlib.h>
#include <string.h>

#define RING 4096u

static struct shmring_area *area;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!area) {
        area = aligned_alloc(64, shmring_area_size(RING));
        if (!area) abort();
    }
    if (size < 16) return 0;
    memset(area, 0, shmring_area_size(RING));
    area->magic = SHMRING_MAGIC;
    area->version = SHMRING_VERSION;
    area->ring_bytes = RING;
    uint32_t v[4];
    memcpy(v, data, sizeof(v));
    uint8_t *bytes = (uint8_t *)(area + 1);
    size_t n = size - 16 < 2 * RING ? size - 16 : 2 * RING;
    memcpy(bytes, data + 16, n);

    /* Consume the TX ring as the switch does, from a cursor the peer chose. */
    struct shmring c;
    atomic_store(&area->ctl[SHMRING_TX].tail, v[0]);
    shmring_bind(&c, area, SHMRING_TX, false);
    atomic_store(&area->ctl[SHMRING_TX].head, v[1]);
    static uint8_t copy[SHMRING_MAX_FRAME];
    for (int k = 0; k < 64; k++) {
        const uint8_t *f;
        long len = shmring_peek(&c, &f);
        if (len <= 0) break;
        if (f < bytes || f + len > bytes + RING) abort(); /* outside the TX ring */
        memcpy(copy, f, (size_t)len);
        shmring_pop(&c);
    }
    shmring_sleep(&c);

    /* Produce into the RX ring whose tail the peer published. */
    struct shmring p;
    shmring_bind(&p, area, SHMRING_RX, true);
    atomic_store(&area->ctl[SHMRING_RX].tail, v[2]);
    atomic_store(&area->ctl[SHMRING_RX].want_kick, v[3] & 1);
    unsigned frames = data[size - 1] % 16;
    for (unsigned k = 0; k < frames; k++) {
        size_t len = (size_t)((v[3] >> 1) + k * 97) % 1600;
        struct iovec io[2] = {{copy, len / 2}, {copy + len / 2, len - len / 2}};
        if (shmring_put(&p, io, 2, len) < 0) break;
    }
    shmring_need_kick(&p);
    return 0;
}
