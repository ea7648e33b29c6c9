/*
 * shmring.c - the shared-memory frame rings between kumo-vmm and
 * kumo-switch (see shmring.h for the layout and the rules).
 */
#include "lib/shmring.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define HDR       8u
#define FLAG_WRAP 1u
#define SEALS     (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

static uint32_t align8(uint32_t n)
{
    return (n + 7u) & ~7u;
}

size_t shmring_area_size(uint32_t ring_bytes)
{
    size_t n = sizeof(struct shmring_area) + 2 * (size_t)ring_bytes;
    size_t page = 4096;
    return (n + page - 1) & ~(page - 1);
}

int shmring_create(uint32_t ring_bytes, struct shmring_area **area)
{
    if (ring_bytes < 4096 || (ring_bytes & (ring_bytes - 1))) {
        errno = EINVAL;
        return -1;
    }
    int fd = memfd_create("kumo-port", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) return -1;
    size_t size = shmring_area_size(ring_bytes);
    void *p = MAP_FAILED;
    if (ftruncate(fd, (off_t)size) < 0 || fcntl(fd, F_ADD_SEALS, SEALS) < 0 ||
        (p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    struct shmring_area *a = p;
    a->magic = SHMRING_MAGIC;
    a->version = SHMRING_VERSION;
    a->ring_bytes = ring_bytes;
    *area = a;
    return fd;
}

int shmring_map(int fd, struct shmring_area **area, char *err, size_t errlen)
{
    struct stat st;
    int seals = fcntl(fd, F_GET_SEALS);
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || seals < 0 ||
        (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) != (F_SEAL_SHRINK | F_SEAL_GROW)) {
        snprintf(err, errlen, "the shared memory is not a sealed memfd");
        return -1;
    }
    if (st.st_size < (off_t)sizeof(struct shmring_area) || st.st_size > (64 << 20)) {
        snprintf(err, errlen, "the shared memory has a wrong size (%lld bytes)",
                 (long long)st.st_size);
        return -1;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        snprintf(err, errlen, "cannot map the shared memory: %s", strerror(errno));
        return -1;
    }
    struct shmring_area *a = p;
    uint32_t rb = a->ring_bytes; /* read once: the peer may change it */
    if (a->magic != SHMRING_MAGIC || a->version != SHMRING_VERSION || rb < 4096 ||
        (rb & (rb - 1)) || shmring_area_size(rb) != (size_t)st.st_size) {
        munmap(p, (size_t)st.st_size);
        snprintf(err, errlen, "the shared memory does not hold kumo's rings (version %d)",
                 SHMRING_VERSION);
        return -1;
    }
    *area = a;
    return 0;
}

void shmring_unmap(struct shmring_area *area)
{
    if (area) munmap(area, shmring_area_size(area->ring_bytes));
}

void shmring_bind(struct shmring *r, struct shmring_area *area, int which, bool producer)
{
    uint32_t rb = area->ring_bytes;
    r->ctl = &area->ctl[which];
    r->data = (uint8_t *)(area + 1) + (size_t)which * rb;
    r->size = rb;
    r->pos = producer ? atomic_load(&r->ctl->head) : atomic_load(&r->ctl->tail);
    r->pos &= ~7u;
    r->peeked = 0;
}

int shmring_put(struct shmring *r, const struct iovec *iov, int n, size_t len)
{
    if (len > SHMRING_MAX_FRAME) return -1;
    uint32_t total = HDR + align8((uint32_t)len);
    uint32_t tail = atomic_load_explicit(&r->ctl->tail, memory_order_acquire);
    uint32_t used = r->pos - tail;
    if (used > r->size) return -1; /* the consumer published nonsense: treat as full */
    uint32_t at = r->pos & (r->size - 1);
    uint32_t to_end = r->size - at;
    uint32_t need = total <= to_end ? total : to_end + total;
    if (r->size - used < need) return -1;
    if (total > to_end) {
        uint32_t wrap[2] = {0, FLAG_WRAP};
        memcpy(r->data + at, wrap, HDR);
        r->pos += to_end;
        at = 0;
    }
    uint32_t hdr[2] = {(uint32_t)len, 0};
    memcpy(r->data + at, hdr, HDR);
    uint8_t *dst = r->data + at + HDR;
    size_t done = 0;
    for (int k = 0; k < n && done < len; k++) {
        size_t c = iov[k].iov_len < len - done ? iov[k].iov_len : len - done;
        memcpy(dst + done, iov[k].iov_base, c);
        done += c;
    }
    r->pos += total;
    atomic_store_explicit(&r->ctl->head, r->pos, memory_order_release);
    return 0;
}

bool shmring_need_kick(struct shmring *r)
{
    atomic_thread_fence(memory_order_seq_cst); /* head published before reading want_kick */
    if (!atomic_load_explicit(&r->ctl->want_kick, memory_order_relaxed)) return false;
    return atomic_exchange(&r->ctl->want_kick, 0) != 0;
}

long shmring_peek(struct shmring *r, const uint8_t **frame)
{
    for (;;) {
        uint32_t head = atomic_load_explicit(&r->ctl->head, memory_order_acquire);
        uint32_t avail = head - r->pos;
        if (avail == 0) return 0;
        if (avail > r->size || (avail & 7u)) return SHMRING_CORRUPT;
        uint32_t at = r->pos & (r->size - 1);
        uint32_t hdr[2];
        memcpy(hdr, (const void *)(r->data + at), HDR); /* one read: the peer may change it */
        if (hdr[1] & FLAG_WRAP) {
            uint32_t skip = r->size - at;
            if (skip > avail || at == 0) return SHMRING_CORRUPT;
            r->pos += skip;
            atomic_store_explicit(&r->ctl->tail, r->pos, memory_order_release);
            continue;
        }
        uint32_t len = hdr[0];
        if (len > SHMRING_MAX_FRAME) return SHMRING_CORRUPT;
        uint32_t total = HDR + align8(len);
        if (total > avail || total > r->size - at) return SHMRING_CORRUPT;
        *frame = r->data + at + HDR;
        r->peeked = total;
        return (long)len;
    }
}

void shmring_pop(struct shmring *r)
{
    r->pos += r->peeked;
    r->peeked = 0;
    atomic_store_explicit(&r->ctl->tail, r->pos, memory_order_release);
}

void shmring_awake(struct shmring *r)
{
    atomic_store_explicit(&r->ctl->want_kick, 0, memory_order_relaxed);
}

bool shmring_sleep(struct shmring *r)
{
    atomic_store(&r->ctl->want_kick, 1);
    atomic_thread_fence(memory_order_seq_cst); /* want_kick visible before reading head */
    if (atomic_load_explicit(&r->ctl->head, memory_order_acquire) == r->pos) return true;
    atomic_store(&r->ctl->want_kick, 0);
    return false;
}
