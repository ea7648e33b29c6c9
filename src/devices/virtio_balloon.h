/*
 * virtio_balloon.h - the memory balloon: lets the host take back memory a
 * guest does not need (and give it back), and reports the guest's memory use.
 */
#ifndef KUMO_DEVICES_VIRTIO_BALLOON_H
#define KUMO_DEVICES_VIRTIO_BALLOON_H

#include <stdbool.h>
#include <stdint.h>

struct balloon;
struct device_model;

/* Statistics tags of the virtio spec (5.5.6.3), indexes into stats[]. */
enum {
    BALLOON_SWAP_IN = 0,
    BALLOON_SWAP_OUT = 1,
    BALLOON_MAJFLT = 2,
    BALLOON_MINFLT = 3,
    BALLOON_MEMFREE = 4,
    BALLOON_MEMTOT = 5,
    BALLOON_AVAIL = 6,
    BALLOON_CACHES = 7,
    BALLOON_NSTATS = 16,
};

struct balloon_info {
    uint32_t target_pages, actual_pages; /* 4 KiB pages asked for / given by the guest */
    uint64_t returned_pages;             /* pages returned to the host right now */
    bool stats_valid;
    uint64_t stats[BALLOON_NSTATS];
};

/* In a virtio slot of the board (machine/virt.c); it becomes m->balloon. */
extern const struct device_model virtio_balloon_device;
/* Ask the guest to shrink to (or grow back to) guest_mib of usable memory. */
void virtio_balloon_set_target(struct balloon *b, uint64_t guest_mib);
void virtio_balloon_get(struct balloon *b, struct balloon_info *out);

#endif
