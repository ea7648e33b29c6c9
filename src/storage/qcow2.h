/*
 * qcow2.h - the qcow2-specific operations beyond the disk.h API: creating an
 * image with every knob (version, refcount width) and checking an image's
 * refcounts the way `qemu-img check` does.
 */
#ifndef KUMO_STORAGE_QCOW2_H
#define KUMO_STORAGE_QCOW2_H

#include "storage/disk.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct qcow2_create_opts {
    const char *path;
    uint64_t size;              /* bytes, multiple of 512; 0 with a backing file = its size */
    const char *backing_file;   /* stored as given; NULL = none */
    const char *backing_format; /* NULL = probe the backing file */
    uint32_t cluster_size;      /* 0 = 64 KiB */
    int version;                /* 3 (default when 0) or 2 */
    unsigned refcount_bits;     /* 1..64, power of two; 0 = 16 */
};

/* Create (or overwrite) a qcow2 image. 0, or -1 with a message in err. */
int qcow2_create_ex(const struct qcow2_create_opts *o, char *err, size_t errlen);
int qcow2_create(const char *path, uint64_t size, const char *backing_file,
                 const char *backing_format, uint32_t cluster_size, char *err, size_t errlen);

struct qcow2_check_result {
    uint64_t corruptions; /* references the refcounts do not account for, bad entries */
    uint64_t leaks;       /* clusters with a refcount but no reference */
    uint64_t leaks_fixed;
    uint64_t check_errors;       /* tables that could not be read */
    uint64_t allocated_clusters; /* guest clusters with data (normal or compressed) */
    uint64_t total_clusters;     /* guest clusters of the virtual disk */
    uint64_t compressed_clusters;
    uint64_t fragmented_clusters;
    uint64_t image_end_offset;
};

/* Check d (a qcow2 image, opened with for_check) and, with repair_leaks (the
 * image must be open read-write), drop the refcount of leaked clusters.
 * Each finding is passed to report(ctx, line). Returns 0 when the check ran to
 * the end (results in *res), -EINVAL if d is not qcow2, or -errno. */
int qcow2_check(struct disk *d, bool repair_leaks, struct qcow2_check_result *res,
                void (*report)(void *ctx, const char *line), void *ctx);

bool disk_is_qcow2(const struct disk *d);

#endif
