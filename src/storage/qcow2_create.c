/*
 * qcow2_create.c - how a new qcow2 image is laid out: cluster 0 holds the
 * header, its extensions (backing format, feature names) and the backing file
 * name; then the refcount table, the refcount blocks covering the metadata,
 * and an all-zero L1 table sized for the virtual disk. Everything else is
 * allocated on first write.
 */
#include "storage/qcow2_int.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct {
    uint8_t type, bit;
    const char *name;
} feature_names[] = {
    {0, 0, "dirty bit"},        {0, 1, "corrupt bit"},         {0, 2, "external data file"},
    {0, 3, "compression type"}, {0, 4, "extended L2 entries"}, {1, 0, "lazy refcounts"},
    {2, 0, "bitmaps"},          {2, 1, "raw external data"},
};

static bool is_pow2(uint64_t v)
{
    return v && !(v & (v - 1));
}

static int write_all(int fd, const void *buf, size_t len, uint64_t off, const char *path, char *err,
                     size_t errlen)
{
    int r = io_pwrite(fd, buf, len, off);
    if (r < 0) disk_errf(err, errlen, "%s: write failed: %s", path, strerror(-r));
    return r;
}

int qcow2_create_ex(const struct qcow2_create_opts *o, char *err, size_t errlen)
{
    const char *p = o->path;
    uint64_t cs = o->cluster_size ? o->cluster_size : 65536;
    int version = o->version ? o->version : 3;
    unsigned rbits = o->refcount_bits ? o->refcount_bits : 16;
    uint64_t size = o->size;
    if (!is_pow2(cs) || cs < 512 || cs > (2u << 20)) {
        disk_errf(err, errlen,
                  "%s: cluster size %" PRIu64 " is invalid (a power of two from 512 "
                  "bytes to 2 MiB, e.g. 65536)",
                  p, cs);
        return -1;
    }
    if (version != 2 && version != 3) {
        disk_errf(err, errlen, "%s: qcow2 version %d cannot be created (use 2 or 3)", p, version);
        return -1;
    }
    if (!is_pow2(rbits) || rbits > 64 || (version == 2 && rbits != 16)) {
        disk_errf(err, errlen,
                  "%s: refcount width %u bits is invalid (a power of two up to 64; "
                  "16 for version 2)",
                  p, rbits);
        return -1;
    }
    if (o->backing_file && strlen(o->backing_file) > 1023) {
        disk_errf(err, errlen, "%s: backing file name longer than 1023 bytes", p);
        return -1;
    }

    /* Look at the backing file: it must open, and gives the size and format. */
    const char *bfmt = o->backing_format;
    if (o->backing_file) {
        if (!*o->backing_file) {
            disk_errf(err, errlen, "%s: empty backing file name", p);
            return -1;
        }
        char *bpath = disk_resolve_relative(p, o->backing_file);
        if (!bpath) {
            disk_errf(err, errlen, "%s: out of memory", p);
            return -1;
        }
        char sub[400];
        struct disk_options bo = {.format = bfmt, .readonly = true};
        struct disk *b = disk_open(bpath, &bo, sub, sizeof(sub));
        free(bpath);
        if (!b) {
            disk_errf(err, errlen, "%s: cannot open the backing file: %s", p, sub);
            return -1;
        }
        if (!bfmt) bfmt = disk_format(b);
        bfmt = disk_format_qemu_name(bfmt); /* what QEMU reads back ("vpc" for vhd) */
        if (size == 0) size = disk_size(b);
        disk_close(b);
    }
    if (size % DISK_SECTOR) {
        disk_errf(err, errlen, "%s: size %" PRIu64 " is not a multiple of 512 bytes", p, size);
        return -1;
    }

    unsigned cbits = (unsigned)__builtin_ctzll(cs);
    uint64_t per_l2 = cs * (cs / 8);
    uint64_t l1_size = size / per_l2 + (size % per_l2 != 0);
    if (l1_size * 8 > QCOW2_MAX_L1_BYTES) {
        disk_errf(err, errlen,
                  "%s: %" PRIu64 " bytes is too large for %" PRIu64
                  "-byte clusters (use a larger cluster_size)",
                  p, size, cs);
        return -1;
    }
    uint64_t l1c = (l1_size * 8 + cs - 1) / cs;
    uint64_t B = cs * 8 / rbits; /* clusters per refcount block */
    uint64_t rtc = 1, rbc = 1, meta;
    for (;;) {
        meta = 1 + rtc + rbc + l1c;
        uint64_t rbc2 = (meta + B - 1) / B;
        uint64_t rtc2 = (rbc2 * 8 + cs - 1) / cs;
        if (rbc2 == rbc && rtc2 == rtc) break;
        rbc = rbc2;
        rtc = rtc2;
    }

    /* Header cluster. */
    uint8_t *hc = calloc(1, cs);
    uint8_t *buf = calloc(1, cs);
    if (!hc || !buf) {
        free(hc);
        free(buf);
        disk_errf(err, errlen, "%s: out of memory", p);
        return -1;
    }
    uint32_t hlen = version == 3 ? 112 : QCOW2_V2_HEADER;
    put_be32(hc, QCOW2_MAGIC);
    put_be32(hc + QH_VERSION, (uint32_t)version);
    put_be32(hc + QH_CLUSTER_BITS, cbits);
    put_be64(hc + QH_SIZE, size);
    put_be32(hc + QH_L1_SIZE, (uint32_t)l1_size);
    put_be64(hc + QH_L1_OFFSET, (1 + rtc + rbc) * cs);
    put_be64(hc + QH_RT_OFFSET, cs);
    put_be32(hc + QH_RT_CLUSTERS, (uint32_t)rtc);
    if (version == 3) {
        put_be32(hc + QH_REFCOUNT_ORDER, (uint32_t)__builtin_ctz(rbits));
        put_be32(hc + QH_HEADER_LENGTH, hlen);
    }
    size_t blen = o->backing_file ? strlen(o->backing_file) : 0;
    size_t fmtlen = bfmt ? strlen(bfmt) : 0;
    size_t ftab = sizeof(feature_names) / sizeof(feature_names[0]) * 48;
    size_t need = hlen + (o->backing_file ? 8 + ((fmtlen + 7) & ~7u) : 0) + 8 + blen;
    bool with_table = version == 3 && need + 8 + ftab <= cs;
    if (need > cs) {
        disk_errf(err, errlen,
                  "%s: the backing file name does not fit in a %" PRIu64
                  "-byte header cluster (use a larger cluster_size)",
                  p, cs);
        free(hc);
        free(buf);
        return -1;
    }
    size_t pos = hlen;
    if (o->backing_file) {
        put_be32(hc + pos, QCOW2_EXT_BACKING_FORMAT);
        put_be32(hc + pos + 4, (uint32_t)fmtlen);
        memcpy(hc + pos + 8, bfmt, fmtlen);
        pos += 8 + ((fmtlen + 7) & ~7u);
    }
    if (with_table) {
        put_be32(hc + pos, QCOW2_EXT_FEATURE_TABLE);
        put_be32(hc + pos + 4, (uint32_t)ftab);
        pos += 8;
        for (size_t i = 0; i < sizeof(feature_names) / sizeof(feature_names[0]); i++) {
            hc[pos] = feature_names[i].type;
            hc[pos + 1] = feature_names[i].bit;
            memcpy(hc + pos + 2, feature_names[i].name, strlen(feature_names[i].name));
            pos += 48;
        }
    }
    pos += 8; /* end of extensions (zeros) */
    if (o->backing_file) {
        put_be64(hc + QH_BACKING_OFFSET, pos);
        put_be32(hc + QH_BACKING_SIZE, (uint32_t)blen);
        memcpy(hc + pos, o->backing_file, blen);
    }

    /* a disk is its owner's alone, whatever the caller's umask */
    int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        disk_errf(err, errlen, "%s: cannot create: %s", p, strerror(errno));
        free(hc);
        free(buf);
        return -1;
    }
    int r = disk_lock_file(fd, p, false, err, errlen);
    if (r == 0 && ftruncate(fd, 0) < 0) {
        disk_errf(err, errlen, "%s: cannot truncate: %s", p, strerror(errno));
        r = -1;
    }
    if (r == 0) r = write_all(fd, hc, cs, 0, p, err, errlen);
    /* Refcount table, then the refcount blocks (every metadata cluster counted once). */
    for (uint64_t c = 0; r == 0 && c < rtc; c++) {
        memset(buf, 0, cs);
        for (uint64_t i = 0; i < cs / 8; i++) {
            uint64_t idx = c * (cs / 8) + i;
            if (idx < rbc) put_be64(buf + 8 * i, (1 + rtc + idx) * cs);
        }
        r = write_all(fd, buf, cs, (1 + c) * cs, p, err, errlen);
    }
    struct qcow2 tmp = {.refcount_order = (uint32_t)__builtin_ctz(rbits)};
    for (uint64_t b = 0; r == 0 && b < rbc; b++) {
        memset(buf, 0, cs);
        for (uint64_t i = 0; i < B && b * B + i < meta; i++)
            qrc_block_set(&tmp, buf, i, 1);
        r = write_all(fd, buf, cs, (1 + rtc + b) * cs, p, err, errlen);
    }
    if (r == 0 && ftruncate(fd, (off_t)(meta * cs)) < 0) {
        disk_errf(err, errlen, "%s: cannot extend the file: %s", p, strerror(errno));
        r = -1;
    }
    if (r == 0 && fsync(fd) < 0) {
        disk_errf(err, errlen, "%s: fsync failed: %s", p, strerror(errno));
        r = -1;
    }
    close(fd);
    free(hc);
    free(buf);
    return r < 0 ? -1 : 0;
}

int qcow2_create(const char *path, uint64_t size, const char *backing_file,
                 const char *backing_format, uint32_t cluster_size, char *err, size_t errlen)
{
    struct qcow2_create_opts o = {.path = path,
                                  .size = size,
                                  .backing_file = backing_file,
                                  .backing_format = backing_format,
                                  .cluster_size = cluster_size};
    return qcow2_create_ex(&o, err, errlen);
}
