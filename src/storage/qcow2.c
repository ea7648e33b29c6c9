/*
 * qcow2.c - qcow2 images (QEMU's docs/interop/qcow2.txt): opening and
 * validating the header, reading through L1/L2 tables (with compressed and
 * zero clusters and a backing chain), writing with copy-on-write, zeroing and
 * discarding, flushing in crash-safe order, growing, closing.
 *
 * Crash safety. The image on disk must be consistent (no refcount lower than
 * the number of references to a cluster; leaks allowed) whatever subset of
 * the writes issued since the last fdatasync reached the disk, and whenever
 * the process is killed. The rules, and where they are enforced:
 *
 *  1. A data cluster is written, and its refcount raised (in the refcount
 *     block cache), before the L2 entry pointing to it changes; the L2 entry
 *     changes only in the L2 cache.
 *  2. A dirty L2 table reaches the file only after all dirty refcount blocks
 *     were written and an fdatasync made them and all data durable (the L2
 *     cache's before_writeback hook). So a durable L2 entry never points to a
 *     cluster whose refcount or copied-on-write contents could be lost.
 *  3. A dirty L1 entry is written only after the L2 tables are written and
 *     synced (qcow2_flush_locked), so it never points to an unwritten table.
 *  4. Refcounts only drop at a flush, after the L2/L1 changes that dropped the
 *     references are durable (qrc_free_later); freed clusters cannot be
 *     reused before that.
 *  5. New refcount blocks, a grown refcount table and a grown L1 table are
 *     written and synced before the pointer to them (header, table entry).
 *
 * Data I/O outside the lock. Reads of allocated clusters, and writes in
 * place to clusters this image alone owns (COPIED), change no metadata: the
 * request maps its range under the lock, then moves the data between the
 * caller's buffers and the file without it (so requests of several threads
 * overlap), then takes the lock again to finish. Meanwhile q->inflight > 0,
 * and qcow2_flush_locked waits for it to drop to zero before it lowers any
 * refcount (rule 4), so a cluster a request is using cannot be freed,
 * reallocated as data or metadata, and overwritten under it. A write marks
 * the image unsynced when it ends, so a flush after it syncs it. Allocating
 * and copy-on-write writes, zeroes and discards stay under the lock.
 *
 * So a crash loses only what was written since the last flush, and at worst
 * leaks clusters whose refcount was raised but whose L2 entry never landed.
 * disk_flush() ends with everything durable.
 */
#include "storage/qcow2_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* ---- small helpers ---- */

int qcow2_pwrite(struct qcow2 *q, const void *buf, size_t len, uint64_t off)
{
    int r = io_pwrite(q->fd, buf, len, off);
    if (r < 0) {
        disk_set_error(&q->d, "%s: write at offset 0x%" PRIx64 " failed: %s", q->d.path, off,
                       strerror(-r));
        return r;
    }
    q->unsynced = true;
    if (off + len > q->file_end) q->file_end = off + len;
    return 0;
}

int qcow2_sync(struct qcow2 *q)
{
    if (!q->unsynced) return 0;
    if (fdatasync(q->fd) < 0) {
        int e = errno;
        disk_set_error(&q->d, "%s: fdatasync failed: %s", q->d.path, strerror(e));
        return -e;
    }
    q->unsynced = false;
    return 0;
}

int qcow2_write_header_field(struct qcow2 *q, unsigned off, const void *buf, size_t len)
{
    return qcow2_pwrite(q, buf, len, off);
}

int qcow2_corrupt(struct qcow2 *q, const char *fmt, ...)
{
    char msg[sizeof(q->d.errmsg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (!q->d.readonly && q->version >= 3 && !(q->incompat & QCOW2_INCOMPAT_CORRUPT)) {
        q->incompat |= QCOW2_INCOMPAT_CORRUPT;
        uint8_t be[8];
        put_be64(be, q->incompat);
        if (qcow2_write_header_field(q, QH_INCOMPAT, be, 8) == 0) qcow2_sync(q);
        size_t l = strlen(msg);
        snprintf(msg + l, sizeof(msg) - l, "; the image is now marked corrupt");
    }
    if (!q->d.readonly) q->incompat |= QCOW2_INCOMPAT_CORRUPT;
    disk_set_error(&q->d, "%s", msg);
    return -EIO;
}

enum qcow2_ctype qcow2_entry_type(const struct qcow2 *q, uint64_t entry, uint64_t *host)
{
    *host = 0;
    if (entry & QCOW2_OFLAG_COMPRESSED) return QC_COMPRESSED;
    *host = entry & QCOW2_L2E_OFFSET_MASK;
    if ((entry & QCOW2_OFLAG_ZERO) && q->version >= 3) return QC_ZERO;
    return *host ? QC_NORMAL : QC_UNALLOCATED;
}

void qcow2_compressed_range(const struct qcow2 *q, uint64_t entry, uint64_t *off, uint64_t *len)
{
    uint64_t coff = entry & q->coffset_mask;
    uint64_t sectors = ((entry >> q->csize_shift) & q->csize_mask) + 1;
    *off = coff;
    *len = sectors * 512 - (coff & 511);
}

/* Header, L1 table, refcount table. */
static bool overlaps_fixed(const struct qcow2 *q, uint64_t off, uint64_t len)
{
    if (off < q->cluster_size) return true;
    uint64_t l1_bytes = (uint64_t)q->l1_size * 8;
    if (l1_bytes && off < q->l1_offset + l1_bytes && q->l1_offset < off + len) return true;
    uint64_t rt_bytes = (uint64_t)q->rt_clusters << q->cluster_bits;
    return off < q->rt_offset + rt_bytes && q->rt_offset < off + len;
}

bool qcow2_overlaps_metadata(const struct qcow2 *q, uint64_t off, uint64_t len)
{
    return overlaps_fixed(q, off, len) || qcache_overlaps(&q->l2c, off, len) ||
           qcache_overlaps(&q->rbc, off, len);
}

/* Check an L2 entry read from the image; returns its type or -EIO. */
static int checked_type(struct qcow2 *q, uint64_t vc, uint64_t entry, uint64_t *host)
{
    enum qcow2_ctype t = qcow2_entry_type(q, entry, host);
    if (t == QC_COMPRESSED) {
        if (entry & QCOW2_OFLAG_COPIED)
            return qcow2_corrupt(q,
                                 "%s: qcow2 L2 entry for guest cluster %" PRIu64
                                 " is compressed but marked copied (damaged image)",
                                 q->d.path, vc);
        uint64_t off, len;
        qcow2_compressed_range(q, entry, &off, &len);
        if (off < q->cluster_size || off >= q->file_end)
            return qcow2_corrupt(q,
                                 "%s: compressed data of guest cluster %" PRIu64
                                 " at offset 0x%" PRIx64 " lies %s (damaged or truncated "
                                 "image)",
                                 q->d.path, vc, off,
                                 off >= q->file_end ? "beyond the end of the file"
                                                    : "inside the header");
        return t;
    }
    if (entry & 0x3f000000000001feull)
        return qcow2_corrupt(q,
                             "%s: qcow2 L2 entry for guest cluster %" PRIu64
                             " has reserved bits set (damaged image)",
                             q->d.path, vc);
    if ((entry & QCOW2_OFLAG_ZERO) && q->version < 3)
        return qcow2_corrupt(q,
                             "%s: zero-cluster flag in a version 2 qcow2 image (damaged "
                             "image)",
                             q->d.path);
    if (*host & (q->cluster_size - 1))
        return qcow2_corrupt(q,
                             "%s: qcow2 data cluster offset 0x%" PRIx64
                             " for guest cluster %" PRIu64 " is not cluster aligned (damaged "
                             "image)",
                             q->d.path, *host, vc);
    if (t == QC_NORMAL && *host >= q->file_end)
        return qcow2_corrupt(q,
                             "%s: qcow2 data cluster at offset 0x%" PRIx64
                             " lies beyond the end of the file (truncated image?)",
                             q->d.path, *host);
    return (int)t;
}

/* The L2 table offset for L1 index i (0 = none), validated. */
static int l2_offset(struct qcow2 *q, uint64_t i, uint64_t *off)
{
    *off = 0;
    if (i >= q->l1_size) return 0;
    uint64_t e = q->l1[i];
    if (e & 0x7f000000000001ffull)
        return qcow2_corrupt(q,
                             "%s: qcow2 L1 entry %" PRIu64 " has reserved bits set (damaged "
                             "image)",
                             q->d.path, i);
    *off = e & QCOW2_L1E_OFFSET_MASK;
    if (*off && *off < q->cluster_size)
        return qcow2_corrupt(q,
                             "%s: qcow2 L1 entry %" PRIu64 " points into the header (damaged "
                             "image)",
                             q->d.path, i);
    return 0;
}

/* The L2 entry of guest cluster vc (0 when its table does not exist). */
static int get_entry(struct qcow2 *q, uint64_t vc, uint64_t *entry)
{
    uint64_t off;
    *entry = 0;
    int r = l2_offset(q, vc >> q->l2_bits, &off);
    if (r < 0 || !off) return r;
    uint8_t *l2;
    r = qcache_get(q, &q->l2c, off, false, &l2);
    if (r < 0) return r;
    *entry = get_be64(l2 + 8 * (vc & ((1ull << q->l2_bits) - 1)));
    return 0;
}

static int read_backing(struct qcow2 *q, uint64_t off, uint8_t *buf, size_t n)
{
    struct disk *b = q->d.backing;
    uint64_t bsize = b ? disk_size(b) : 0;
    if (!b || off >= bsize) {
        memset(buf, 0, n);
        return 0;
    }
    size_t m = bsize - off < n ? (size_t)(bsize - off) : n;
    int r = disk_read(b, off, buf, m);
    if (r < 0) {
        char msg[400];
        disk_last_error(b, msg, sizeof(msg));
        disk_set_error(&q->d, "%s: reading its backing file failed: %s", q->d.path, msg);
        return r;
    }
    if (m < n) memset(buf + m, 0, n - m);
    return 0;
}

int qcow2_decompress(struct qcow2 *q, uint64_t entry, uint8_t *out)
{
    uint64_t off, len;
    qcow2_compressed_range(q, entry, &off, &len);
    if (!q->zin) {
        q->zin = malloc(2 * q->cluster_size);
        if (!q->zin) return -ENOMEM;
    }
    if (len > 2 * q->cluster_size) len = 2 * q->cluster_size;
    ssize_t n = io_pread(q->fd, q->zin, len, off);
    if (n < 0) {
        disk_set_error(&q->d, "%s: read at offset 0x%" PRIx64 " failed: %s", q->d.path, off,
                       strerror((int)-n));
        return (int)n;
    }
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, -15) != Z_OK) return -ENOMEM;
    z.next_in = q->zin;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)q->cluster_size;
    int zr = inflate(&z, Z_FINISH);
    bool ok = (zr == Z_STREAM_END || zr == Z_BUF_ERROR || zr == Z_OK) && z.avail_out == 0;
    inflateEnd(&z);
    if (!ok)
        return qcow2_corrupt(q,
                             "%s: compressed cluster at offset 0x%" PRIx64
                             " does not decompress to a whole cluster (damaged image)",
                             q->d.path, off);
    return 0;
}

/* ---- reading ---- */

/* Data I/O outside the lock (see the top of this file). */
static void io_begin(struct qcow2 *q)
{
    q->inflight++;
    pthread_mutex_unlock(&q->lock);
}

static void io_end(struct qcow2 *q, bool wrote)
{
    pthread_mutex_lock(&q->lock);
    if (wrote) q->unsynced = true;
    if (--q->inflight == 0) pthread_cond_broadcast(&q->idle);
}

/* Read bytes [skip, skip+n) of the request (iov) from the backing file (zeros past its end). */
static int read_backing_iov(struct qcow2 *q, uint64_t off, const struct iovec *iov, int cnt,
                            size_t skip, size_t n)
{
    struct disk *b = q->d.backing;
    uint64_t bsize = b ? disk_size(b) : 0;
    size_t m = !b || off >= bsize ? 0 : bsize - off < n ? (size_t)(bsize - off) : n;
    if (m) {
        struct iovec v[DISK_IOV_MAX];
        int vn = iov_slice(iov, cnt, skip, m, v, DISK_IOV_MAX);
        if (vn < 0) return -EINVAL;
        int r = disk_readv(b, off, v, vn);
        if (r < 0) {
            char msg[400];
            disk_last_error(b, msg, sizeof(msg));
            disk_set_error(&q->d, "%s: reading its backing file failed: %s", q->d.path, msg);
            return r;
        }
    }
    if (m < n) iov_memset(iov, cnt, skip + m, n - m);
    return 0;
}

/* Read len bytes at guest offset off into iov (len bytes). Called and
 * returns with the lock held; drops it while it reads allocated clusters. */
static int readv_locked(struct qcow2 *q, uint64_t off, const struct iovec *iov, int cnt,
                        size_t len)
{
    size_t at = 0;
    while (at < len) {
        uint64_t vc = off >> q->cluster_bits;
        uint64_t in = off & (q->cluster_size - 1);
        size_t n = q->cluster_size - in < len - at ? (size_t)(q->cluster_size - in) : len - at;
        uint64_t entry, host;
        int r = get_entry(q, vc, &entry);
        if (r < 0) return r;
        int t = checked_type(q, vc, entry, &host);
        if (t < 0) return t;
        if (t == QC_NORMAL) {
            /* Extend over following clusters stored contiguously. */
            while (at + n < len && ((off + n) & (q->cluster_size - 1)) == 0) {
                uint64_t e2, h2;
                uint64_t vc2 = (off + n) >> q->cluster_bits;
                if ((vc2 >> q->l2_bits) != (vc >> q->l2_bits)) break;
                if (get_entry(q, vc2, &e2) < 0) break;
                if (checked_type(q, vc2, e2, &h2) != QC_NORMAL) break;
                if (h2 != host + (vc2 - vc) * q->cluster_size) break;
                size_t more = q->cluster_size < len - at - n ? (size_t)q->cluster_size : len - at - n;
                n += more;
            }
            struct iovec v[DISK_IOV_MAX];
            int vn = iov_slice(iov, cnt, at, n, v, DISK_IOV_MAX);
            if (vn < 0) return -EINVAL;
            io_begin(q);
            r = dio_preadv(&q->dio, v, vn, n, host + in);
            io_end(q, false);
            if (r < 0) {
                disk_set_error(&q->d, "%s: read at offset 0x%" PRIx64 " failed: %s", q->d.path,
                               host + in, strerror(-r));
                return r;
            }
        } else if (t == QC_UNALLOCATED) {
            r = read_backing_iov(q, off, iov, cnt, at, n);
            if (r < 0) return r;
        } else if (t == QC_ZERO) {
            iov_memset(iov, cnt, at, n);
        } else {
            if (!q->zout) {
                q->zout = malloc(q->cluster_size);
                if (!q->zout) return -ENOMEM;
            }
            if (q->zout_entry != entry) {
                q->zout_entry = 0;
                r = qcow2_decompress(q, entry, q->zout);
                if (r < 0) return r;
                q->zout_entry = entry;
            }
            iov_from_buf(iov, cnt, at, q->zout + in, n);
        }
        off += n;
        at += n;
    }
    return 0;
}

static int qcow2_readv(struct disk *d, uint64_t off, const struct iovec *iov, int cnt, size_t len)
{
    struct qcow2 *q = to_qcow2(d);
    pthread_mutex_lock(&q->lock);
    int r = readv_locked(q, off, iov, cnt, len);
    pthread_mutex_unlock(&q->lock);
    return r;
}

static int qcow2_read(struct disk *d, uint64_t off, void *buf, size_t len)
{
    struct iovec v = {buf, len};
    return qcow2_readv(d, off, &v, 1, len);
}

/* ---- writing ---- */

static void l1_mark_dirty(struct qcow2 *q, uint32_t i)
{
    if (q->l1_dirty_lo == q->l1_dirty_hi) {
        q->l1_dirty_lo = i;
        q->l1_dirty_hi = i + 1;
        return;
    }
    if (i < q->l1_dirty_lo) q->l1_dirty_lo = i;
    if (i + 1 > q->l1_dirty_hi) q->l1_dirty_hi = i + 1;
}

/* The L2 table for L1 index i, allocating an empty one if `alloc`; *l2 = NULL
 * when there is none and !alloc. */
static int get_l2_for_write(struct qcow2 *q, uint64_t i, bool alloc, uint8_t **l2)
{
    uint64_t off;
    *l2 = NULL;
    int r = l2_offset(q, i, &off);
    if (r < 0) return r;
    if (!off) {
        if (!alloc) return 0;
        r = qrc_alloc(q, 1, &off);
        if (r < 0) return r;
        r = qcache_get(q, &q->l2c, off, true, l2);
        if (r < 0) return r;
        q->l1[i] = off | QCOW2_OFLAG_COPIED;
        l1_mark_dirty(q, (uint32_t)i);
        return 0;
    }
    if (overlaps_fixed(q, off, q->cluster_size) || qcache_overlaps(&q->rbc, off, q->cluster_size))
        return qcow2_corrupt(
            q, "%s: qcow2 L2 table at offset 0x%" PRIx64 " overlaps other metadata (damaged image)",
            q->d.path, off);
    if (!(q->l1[i] & QCOW2_OFLAG_COPIED)) {
        uint64_t rc;
        r = qrc_get(q, off >> q->cluster_bits, &rc);
        if (r < 0) return r;
        if (rc != 1)
            return qcow2_corrupt(q,
                                 "%s: qcow2 L2 table at offset 0x%" PRIx64
                                 " is shared (refcount %" PRIu64 "); kumo cannot write it",
                                 q->d.path, off, rc);
        q->l1[i] |= QCOW2_OFLAG_COPIED;
        l1_mark_dirty(q, (uint32_t)i);
    }
    return qcache_get(q, &q->l2c, off, false, l2);
}

static void set_entry(struct qcow2 *q, uint8_t *l2, uint64_t vc, uint64_t entry)
{
    put_be64(l2 + 8 * (vc & ((1ull << q->l2_bits) - 1)), entry);
    qcache_mark_dirty(&q->l2c, l2);
}

/* Release what an L2 entry pointed to (at the next flush). */
static int release_entry(struct qcow2 *q, uint64_t entry)
{
    uint64_t host;
    enum qcow2_ctype t = qcow2_entry_type(q, entry, &host);
    if (t == QC_COMPRESSED) {
        uint64_t off, len;
        qcow2_compressed_range(q, entry, &off, &len);
        return qrc_free_bytes_later(q, off, len);
    }
    if (host) return qrc_free_later(q, host >> q->cluster_bits);
    return 0;
}

/* The current contents of guest cluster vc (entry decoded as t/host). */
static int old_contents(struct qcow2 *q, uint64_t vc, uint64_t entry, int t, uint64_t host,
                        uint8_t *out)
{
    switch (t) {
    case QC_UNALLOCATED: return read_backing(q, vc << q->cluster_bits, out, q->cluster_size);
    case QC_ZERO: memset(out, 0, q->cluster_size); return 0;
    case QC_NORMAL: {
        int r = io_pread_zero(q->fd, out, q->cluster_size, host);
        if (r < 0)
            disk_set_error(&q->d, "%s: read at offset 0x%" PRIx64 " failed: %s", q->d.path, host,
                           strerror(-r));
        return r;
    }
    default: return qcow2_decompress(q, entry, out);
    }
}

/* Is the host cluster at `host`, referenced by an entry without the copied
 * flag, in fact used only once? */
static int sole_owner(struct qcow2 *q, uint64_t entry, uint64_t host, bool *sole)
{
    *sole = (entry & QCOW2_OFLAG_COPIED) != 0;
    if (*sole) return 0;
    uint64_t rc;
    int r = qrc_get(q, host >> q->cluster_bits, &rc);
    if (r < 0) return r;
    *sole = rc == 1;
    return 0;
}

static int check_data_target(struct qcow2 *q, uint64_t host, uint64_t len)
{
    if (qcow2_overlaps_metadata(q, host, len))
        return qcow2_corrupt(q,
                             "%s: qcow2 data cluster at offset 0x%" PRIx64
                             " overlaps metadata (damaged image); refusing to write",
                             q->d.path, host);
    return 0;
}

/* Write bytes [skip, skip+len) of the request (iov) at host offset off,
 * through the data path of the cache mode; tracks file_end and unsynced. */
static int pwrite_iov(struct qcow2 *q, const struct iovec *iov, int cnt, size_t skip, size_t len,
                      uint64_t off)
{
    struct iovec v[DISK_IOV_MAX];
    int vn = iov_slice(iov, cnt, skip, len, v, DISK_IOV_MAX);
    if (vn < 0) return -EINVAL;
    int r = dio_pwritev(&q->dio, v, vn, len, off);
    if (r < 0) {
        disk_set_error(&q->d, "%s: write at offset 0x%" PRIx64 " failed: %s", q->d.path, off,
                       strerror(-r));
        return r;
    }
    q->unsynced = true;
    if (off + len > q->file_end) q->file_end = off + len;
    return 0;
}

/* A write in place the caller does outside the lock. */
struct inplace {
    uint64_t host; /* 0: none */
    size_t len;
};

/*
 * Write n bytes at offset `in` of guest cluster vc; the data is bytes
 * [skip, skip+total) of iov, n of them for this cluster. Returns the number
 * of bytes consumed (>= n: a run of whole clusters may be written at once
 * when `total` allows) or -errno. With `defer` non-NULL, a write in place
 * to clusters this image alone owns is not done but described in *defer,
 * for the caller to do without the lock.
 */
static ssize_t write_cluster(struct qcow2 *q, uint64_t vc, uint64_t in, const struct iovec *iov,
                             int cnt, size_t skip, size_t n, size_t total, struct inplace *defer)
{
    uint8_t *l2;
    int r = get_l2_for_write(q, vc >> q->l2_bits, true, &l2);
    if (r < 0) return r;
    uint64_t mask = (1ull << q->l2_bits) - 1;
    uint64_t entry = get_be64(l2 + 8 * (vc & mask)), host;
    int t = checked_type(q, vc, entry, &host);
    if (t < 0) return t;

    if (t == QC_NORMAL) {
        bool sole;
        r = sole_owner(q, entry, host, &sole);
        if (r < 0) return r;
        if (sole) {
            /* In place; extend over whole clusters stored right after it. */
            size_t len = n;
            if (in == 0 && n == q->cluster_size) {
                uint64_t k = 1;
                while ((k + 1) * q->cluster_size <= total && ((vc + k) & mask) != 0) {
                    uint64_t e2 = get_be64(l2 + 8 * ((vc + k) & mask));
                    if (!(e2 & QCOW2_OFLAG_COPIED) || (e2 & (QCOW2_OFLAG_COMPRESSED | 1)) ||
                        (e2 & ~(QCOW2_OFLAG_COPIED | QCOW2_L2E_OFFSET_MASK)) ||
                        (e2 & QCOW2_L2E_OFFSET_MASK) != host + k * q->cluster_size)
                        break;
                    k++;
                }
                len = (size_t)(k * q->cluster_size);
            }
            r = check_data_target(q, host + in, len);
            if (r < 0) return r;
            if (!(entry & QCOW2_OFLAG_COPIED)) set_entry(q, l2, vc, entry | QCOW2_OFLAG_COPIED);
            if (defer) {
                defer->host = host + in;
                defer->len = len;
                return (ssize_t)len;
            }
            r = pwrite_iov(q, iov, cnt, skip, len, host + in);
            return r < 0 ? r : (ssize_t)len;
        }
    }

    if (t == QC_ZERO && host) {
        bool sole;
        r = sole_owner(q, entry, host, &sole);
        if (r < 0) return r;
        if (sole) { /* preallocated zero cluster: fill it and clear the flag */
            r = check_data_target(q, host, q->cluster_size);
            if (r < 0) return r;
            if (n < q->cluster_size) {
                memset(q->cow, 0, q->cluster_size);
                iov_to_buf(iov, cnt, skip, q->cow + in, n);
                struct iovec c = {q->cow, q->cluster_size};
                r = pwrite_iov(q, &c, 1, 0, q->cluster_size, host);
            } else {
                r = pwrite_iov(q, iov, cnt, skip, n, host);
            }
            if (r < 0) return r;
            set_entry(q, l2, vc, host | QCOW2_OFLAG_COPIED);
            return (ssize_t)n;
        }
    }

    /* Allocate. A run of whole, empty clusters is allocated and written at once. */
    if (in == 0 && n == q->cluster_size && (t == QC_UNALLOCATED || (t == QC_ZERO && !host))) {
        uint64_t k = 1;
        while ((k + 1) * q->cluster_size <= total && ((vc + k) & mask) != 0) {
            uint64_t e2 = get_be64(l2 + 8 * ((vc + k) & mask)), h2;
            enum qcow2_ctype t2 = qcow2_entry_type(q, e2, &h2);
            if (!(t2 == QC_UNALLOCATED || (t2 == QC_ZERO && !h2)) || (e2 & ~QCOW2_OFLAG_ZERO))
                break;
            k++;
        }
        uint64_t newoff;
        r = qrc_alloc(q, k, &newoff);
        if (r < 0) return r;
        r = pwrite_iov(q, iov, cnt, skip, k * q->cluster_size, newoff);
        if (r < 0) return r;
        for (uint64_t j = 0; j < k; j++)
            set_entry(q, l2, vc + j, (newoff + j * q->cluster_size) | QCOW2_OFLAG_COPIED);
        return (ssize_t)(k * q->cluster_size);
    }

    /* Copy-on-write: the cluster's old contents, merged with the new data. */
    const struct iovec *src = iov;
    int srccnt = cnt;
    size_t srcskip = skip;
    struct iovec c = {q->cow, q->cluster_size};
    if (n < q->cluster_size) {
        r = old_contents(q, vc, entry, t, host, q->cow);
        if (r < 0) return r;
        iov_to_buf(iov, cnt, skip, q->cow + in, n);
        src = &c;
        srccnt = 1;
        srcskip = 0;
    }
    uint64_t newoff;
    r = qrc_alloc(q, 1, &newoff);
    if (r < 0) return r;
    r = pwrite_iov(q, src, srccnt, srcskip, q->cluster_size, newoff);
    if (r < 0) return r;
    set_entry(q, l2, vc, newoff | QCOW2_OFLAG_COPIED);
    if (t == QC_COMPRESSED && q->zout_entry == entry) q->zout_entry = 0;
    r = release_entry(q, entry);
    return r < 0 ? r : (ssize_t)n;
}

static int check_writable(struct qcow2 *q)
{
    if (q->incompat & QCOW2_INCOMPAT_CORRUPT) {
        char msg[sizeof(q->d.errmsg)];
        disk_last_error(&q->d, msg, sizeof(msg));
        if (!strstr(msg, "corrupt"))
            disk_set_error(&q->d,
                           "%s: the image is marked corrupt; no further writes (run "
                           "`qemu-img check -r all` on it)",
                           q->d.path);
        return -EIO;
    }
    return 0;
}

/* Write iov (len bytes) at guest offset off. Called and returns with the
 * lock held; drops it while it writes in place to clusters it owns. */
static int writev_locked(struct qcow2 *q, uint64_t off, const struct iovec *iov, int cnt,
                         size_t len)
{
    int r = check_writable(q);
    if (r < 0) return r;
    size_t at = 0;
    while (at < len) {
        uint64_t vc = off >> q->cluster_bits;
        uint64_t in = off & (q->cluster_size - 1);
        size_t n = q->cluster_size - in < len - at ? (size_t)(q->cluster_size - in) : len - at;
        struct inplace ip = {0};
        ssize_t done = write_cluster(q, vc, in, iov, cnt, at, n, len - at, &ip);
        if (done < 0) return (int)done;
        if (ip.host) {
            struct iovec v[DISK_IOV_MAX];
            int vn = iov_slice(iov, cnt, at, ip.len, v, DISK_IOV_MAX);
            if (vn < 0) return -EINVAL;
            io_begin(q);
            r = dio_pwritev(&q->dio, v, vn, ip.len, ip.host);
            io_end(q, true);
            if (r < 0) {
                disk_set_error(&q->d, "%s: write at offset 0x%" PRIx64 " failed: %s", q->d.path,
                               ip.host, strerror(-r));
                return r;
            }
            /* The lock was dropped: a flush may have seen the image clean
             * before the data landed; io_end marked it unsynced again. */
            r = check_writable(q);
            if (r < 0) return r;
        }
        off += (uint64_t)done;
        at += (size_t)done;
    }
    return 0;
}

static int qcow2_writev(struct disk *d, uint64_t off, const struct iovec *iov, int cnt, size_t len)
{
    struct qcow2 *q = to_qcow2(d);
    pthread_mutex_lock(&q->lock);
    int r = writev_locked(q, off, iov, cnt, len);
    pthread_mutex_unlock(&q->lock);
    return r;
}

static int qcow2_write(struct disk *d, uint64_t off, const void *buf, size_t len)
{
    struct iovec v = {(void *)buf, len};
    return qcow2_writev(d, off, &v, 1, len);
}

/* Does guest cluster vc read as zeros already? */
static int reads_as_zero(struct qcow2 *q, int t, uint64_t vc, bool *zero)
{
    *zero = t == QC_ZERO;
    if (t == QC_UNALLOCATED) {
        *zero = !q->d.backing || (vc << q->cluster_bits) >= disk_size(q->d.backing);
        if (!*zero) {
            uint64_t pnum, start = vc << q->cluster_bits;
            uint64_t len = q->cluster_size;
            if (start + len > disk_size(q->d.backing)) len = disk_size(q->d.backing) - start;
            int s = disk_block_status(q->d.backing, start, len, &pnum);
            if (s < 0) return s;
            *zero = s == DISK_STATUS_ZERO && pnum == len;
        }
    }
    return 0;
}

static int zero_locked(struct qcow2 *q, uint64_t off, uint64_t len, bool unmap)
{
    int r = check_writable(q);
    if (r < 0) return r;
    while (len) {
        uint64_t vc = off >> q->cluster_bits;
        uint64_t in = off & (q->cluster_size - 1);
        uint64_t n = q->cluster_size - in < len ? q->cluster_size - in : len;
        uint64_t entry, host;
        r = get_entry(q, vc, &entry);
        if (r < 0) return r;
        int t = checked_type(q, vc, entry, &host);
        if (t < 0) return t;
        bool zero;
        r = reads_as_zero(q, t, vc, &zero);
        if (r < 0) return r;
        /* The last cluster of the disk counts as whole when covered to the end. */
        bool whole = in == 0 && (n == q->cluster_size || off + n == disk_size(&q->d));
        if (zero && !(whole && unmap && t == QC_ZERO && host)) {
            /* nothing to do */
        } else if (!whole || (q->version < 3 && q->d.backing && !zero)) {
            if (!q->zout) { /* reuse the decompression buffer as a zero source */
                q->zout = malloc(q->cluster_size);
                if (!q->zout) return -ENOMEM;
            }
            q->zout_entry = 0;
            memset(q->zout, 0, q->cluster_size);
            struct iovec zv = {q->zout + in, (size_t)n};
            ssize_t w = write_cluster(q, vc, in, &zv, 1, 0, (size_t)n, (size_t)n, NULL);
            if (w < 0) return (int)w;
        } else {
            uint64_t ne;
            bool keep = !unmap && q->version >= 3 && t == QC_NORMAL && (entry & QCOW2_OFLAG_COPIED);
            if (keep)
                ne = host | QCOW2_OFLAG_ZERO | QCOW2_OFLAG_COPIED;
            else if (q->d.backing && (vc << q->cluster_bits) < disk_size(q->d.backing))
                ne = QCOW2_OFLAG_ZERO; /* v3 here: v2 with backing data took the branch above */
            else
                ne = 0;
            uint8_t *l2;
            r = get_l2_for_write(q, vc >> q->l2_bits, ne != 0, &l2);
            if (r < 0) return r;
            if (l2) {
                set_entry(q, l2, vc, ne);
                if (t == QC_COMPRESSED && q->zout_entry == entry) q->zout_entry = 0;
                if (!keep) {
                    r = release_entry(q, entry);
                    if (r < 0) return r;
                }
            }
        }
        off += n;
        len -= n;
    }
    return 0;
}

static int qcow2_write_zeroes(struct disk *d, uint64_t off, uint64_t len, bool unmap)
{
    struct qcow2 *q = to_qcow2(d);
    pthread_mutex_lock(&q->lock);
    int r = zero_locked(q, off, len, unmap);
    pthread_mutex_unlock(&q->lock);
    return r;
}

static int qcow2_discard(struct disk *d, uint64_t off, uint64_t len)
{
    return qcow2_write_zeroes(d, off, len, true);
}

/* ---- flushing (the ordering argument is at the top of this file) ---- */

static int l2_before_writeback(struct qcow2 *q)
{
    int r = qrc_flush_blocks(q);
    if (r < 0) return r;
    return qcow2_sync(q);
}

static int write_l1_range(struct qcow2 *q, uint32_t lo, uint32_t hi)
{
    size_t n = (size_t)(hi - lo) * 8;
    uint8_t *buf = malloc(n);
    if (!buf) return -ENOMEM;
    for (uint32_t i = lo; i < hi; i++)
        put_be64(buf + 8 * (i - lo), q->l1[i]);
    int r = qcow2_pwrite(q, buf, n, q->l1_offset + 8ull * lo);
    free(buf);
    return r;
}

int qcow2_flush_locked(struct qcow2 *q)
{
    /* Requests moving data outside the lock keep their clusters (rule 4),
     * and their data is part of what this flush makes durable. */
    while (q->inflight) pthread_cond_wait(&q->idle, &q->lock);
    int r = qrc_flush_blocks(q); /* rule 2: refcounts, then sync, then L2 */
    if (r < 0) return r;
    r = qcache_flush(q, &q->l2c);
    if (r < 0) return r;
    if (q->l1_dirty_lo != q->l1_dirty_hi) { /* rule 3 */
        r = qcow2_sync(q);
        if (r < 0) return r;
        r = write_l1_range(q, q->l1_dirty_lo, q->l1_dirty_hi);
        if (r < 0) return r;
        q->l1_dirty_lo = q->l1_dirty_hi = 0;
    }
    r = qcow2_sync(q);
    if (r < 0) return r;
    if (q->npending) { /* rule 4 */
        r = qrc_apply_pending(q);
        if (r < 0) return r;
        r = qcow2_sync(q);
    }
    return r;
}

static int qcow2_flush(struct disk *d)
{
    struct qcow2 *q = to_qcow2(d);
    pthread_mutex_lock(&q->lock);
    int r = qcow2_flush_locked(q);
    pthread_mutex_unlock(&q->lock);
    return r;
}

/* ---- block status, resize, info, close ---- */

static int status_locked(struct qcow2 *q, uint64_t off, uint64_t len, uint64_t *pnum)
{
    int status = 0;
    uint64_t done = 0;
    while (done < len) {
        uint64_t pos = off + done;
        uint64_t vc = pos >> q->cluster_bits;
        uint64_t n = q->cluster_size - (pos & (q->cluster_size - 1));
        if (n > len - done) n = len - done;
        uint64_t entry, host;
        int r = get_entry(q, vc, &entry);
        if (r < 0) return r;
        int t = checked_type(q, vc, entry, &host);
        if (t < 0) return t;
        int s;
        if (t == QC_UNALLOCATED && q->d.backing && pos < disk_size(q->d.backing)) {
            if (done) break; /* let the next call ask the backing file */
            uint64_t bl = disk_size(q->d.backing) - pos;
            if (bl > n) bl = n;
            s = disk_block_status(q->d.backing, pos, bl, &n);
            if (s < 0) return s;
            *pnum = n;
            return s;
        }
        s = (t == QC_NORMAL || t == QC_COMPRESSED) ? DISK_STATUS_DATA : DISK_STATUS_ZERO;
        if (status && s != status) break;
        status = s;
        done += n;
    }
    *pnum = done;
    return status;
}

static int qcow2_block_status(struct disk *d, uint64_t off, uint64_t len, uint64_t *pnum)
{
    struct qcow2 *q = to_qcow2(d);
    pthread_mutex_lock(&q->lock);
    int r = status_locked(q, off, len, pnum);
    pthread_mutex_unlock(&q->lock);
    return r;
}

static int resize_locked(struct qcow2 *q, uint64_t new_size)
{
    uint64_t old_size = disk_size(&q->d);
    if (new_size < old_size) {
        disk_set_error(&q->d,
                       "%s: shrinking a qcow2 image is not supported (it would drop "
                       "data); create a smaller image and copy what you need",
                       q->d.path);
        return -ENOTSUP;
    }
    int r = check_writable(q);
    if (r < 0) return r;
    r = qcow2_flush_locked(q);
    if (r < 0) return r;
    uint64_t per_l2 = q->cluster_size << q->l2_bits;
    uint64_t need = new_size / per_l2 + (new_size % per_l2 != 0);
    uint8_t hdr[24];
    put_be64(hdr, new_size);
    put_be32(hdr + 8, 0); /* crypt_method: encrypted images are never opened */
    if (need > q->l1_size) {
        if (need * 8 > QCOW2_MAX_L1_BYTES) {
            disk_set_error(&q->d,
                           "%s: %" PRIu64 " bytes is too large for a qcow2 image with "
                           "%" PRIu64 "-byte clusters (use larger clusters)",
                           q->d.path, new_size, q->cluster_size);
            return -EFBIG;
        }
        uint64_t clusters = qcow2_size_to_clusters(q, need * 8), newoff;
        r = qrc_alloc(q, clusters, &newoff);
        if (r < 0) return r;
        uint8_t *buf = calloc(clusters, q->cluster_size);
        uint64_t *l1 = calloc(need, 8);
        if (!buf || !l1) {
            free(buf);
            free(l1);
            return -ENOMEM;
        }
        memcpy(l1, q->l1, (size_t)q->l1_size * 8);
        for (uint64_t i = 0; i < need; i++)
            put_be64(buf + 8 * i, l1[i]);
        r = qcow2_pwrite(q, buf, clusters << q->cluster_bits, newoff);
        free(buf);
        if (r == 0) r = qrc_flush_blocks(q);
        if (r == 0) r = qcow2_sync(q);
        if (r < 0) {
            free(l1);
            return r;
        }
        put_be32(hdr + 12, (uint32_t)need);
        put_be64(hdr + 16, newoff);
        r = qcow2_write_header_field(q, QH_SIZE, hdr, sizeof(hdr));
        if (r == 0) r = qcow2_sync(q);
        if (r < 0) {
            free(l1);
            return r;
        }
        uint64_t old_off = q->l1_offset;
        uint64_t old_clusters = qcow2_size_to_clusters(q, (uint64_t)q->l1_size * 8);
        free(q->l1);
        q->l1 = l1;
        q->l1_size = (uint32_t)need;
        q->l1_offset = newoff;
        for (uint64_t c = 0; c < old_clusters && old_off; c++) {
            r = qrc_update(q, (old_off >> q->cluster_bits) + c, -1, NULL);
            if (r < 0) return r;
        }
    } else {
        r = qcow2_write_header_field(q, QH_SIZE, hdr, 8);
        if (r == 0) r = qcow2_sync(q);
        if (r < 0) return r;
    }
    __atomic_store_n(&q->d.size, new_size, __ATOMIC_RELEASE);
    /* What the backing file holds past the old end must not show through. */
    if (q->d.backing && disk_size(q->d.backing) > old_size) {
        uint64_t end = disk_size(q->d.backing) < new_size ? disk_size(q->d.backing) : new_size;
        r = zero_locked(q, old_size, end - old_size, false);
        if (r < 0) return r;
    }
    return qcow2_flush_locked(q);
}

static int qcow2_resize(struct disk *d, uint64_t new_size)
{
    struct qcow2 *q = to_qcow2(d);
    pthread_mutex_lock(&q->lock);
    int r = resize_locked(q, new_size);
    pthread_mutex_unlock(&q->lock);
    return r;
}

static void qcow2_info(struct disk *d, struct disk_info *out)
{
    struct qcow2 *q = to_qcow2(d);
    struct stat st;
    if (fstat(q->fd, &st) == 0) out->disk_size = (uint64_t)st.st_blocks * 512;
    out->cluster_size = (uint32_t)q->cluster_size;
    out->version = (int)q->version;
    out->refcount_bits = q->refcount_bits;
    out->dirty = q->incompat & QCOW2_INCOMPAT_DIRTY;
    out->corrupt = q->incompat & QCOW2_INCOMPAT_CORRUPT;
    out->lazy_refcounts = q->compat & QCOW2_COMPAT_LAZY_REFCOUNTS;
    out->snapshots = q->nb_snapshots;
    out->backing_file = q->backing_file;
    out->backing_path = q->backing_path;
    out->backing_format = q->backing_fmt;
}

static void free_qcow2(struct qcow2 *q)
{
    qcache_free(&q->l2c);
    qcache_free(&q->rbc);
    free(q->l1);
    free(q->rt);
    free(q->pending);
    free(q->cow);
    free(q->zin);
    free(q->zout);
    free(q->backing_file);
    free(q->backing_fmt);
    free(q->backing_path);
    disk_dio_close(&q->dio);
    if (q->fd >= 0) close(q->fd);
    pthread_cond_destroy(&q->idle);
    pthread_mutex_destroy(&q->lock);
}

static void qcow2_close(struct disk *d)
{
    struct qcow2 *q = to_qcow2(d);
    pthread_mutex_lock(&q->lock);
    if (!d->readonly) qcow2_flush_locked(q);
    pthread_mutex_unlock(&q->lock);
    disk_base_free(d);
    free_qcow2(q);
    free(q);
}

bool disk_is_qcow2(const struct disk *d)
{
    return d && d->drv == &qcow2_driver;
}

static struct disk *qcow2_open(int fd, struct disk_open_args *a, char *err, size_t errlen);

static bool qcow2_probe(const uint8_t *head, size_t n, const uint8_t *tail)
{
    (void)tail;
    return n >= 4 && memcmp(head, "QFI\xfb", 4) == 0;
}

const struct disk_driver qcow2_driver = {
    .name = "qcow2",
    .probe = qcow2_probe,
    .open = qcow2_open,
    .create = qcow2_create,
    .read = qcow2_read,
    .write = qcow2_write,
    .readv = qcow2_readv,
    .writev = qcow2_writev,
    .flush = qcow2_flush,
    .discard = qcow2_discard,
    .write_zeroes = qcow2_write_zeroes,
    .block_status = qcow2_block_status,
    .resize = qcow2_resize,
    .info = qcow2_info,
    .close = qcow2_close,
};

/* ---- opening ---- */

/* Find the name of incompatible feature `bit` in the feature name table. */
static void feature_name(const uint8_t *table, uint32_t len, unsigned bit, char *out, size_t n)
{
    snprintf(out, n, "unknown feature");
    for (uint32_t p = 0; table && p + 48 <= len; p += 48) {
        if (table[p] == 0 && table[p + 1] == bit) {
            size_t l = strnlen((const char *)table + p + 2, 46);
            snprintf(out, n, "'%.*s'", (int)l, (const char *)table + p + 2);
            for (char *c = out; *c; c++)
                if ((unsigned char)*c < 32 || (unsigned char)*c > 126) *c = '?';
            return;
        }
    }
}

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        disk_errf(err, errlen, __VA_ARGS__);                                                       \
        goto fail;                                                                                 \
    } while (0)

static struct disk *qcow2_open(int fd, struct disk_open_args *a, char *err, size_t errlen)
{
    const char *p = a->path;
    struct qcow2 *q = calloc(1, sizeof(*q));
    uint8_t *hc = NULL; /* header cluster */
    if (!q) {
        close(fd);
        disk_errf(err, errlen, "%s: out of memory", p);
        return NULL;
    }
    q->fd = fd;
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->idle, NULL);
    q->dio = (struct disk_dio){.fd = fd, .dfd = -1, .rfd = fd, .wfd = fd, .mem_align = 1,
                               .off_align = 1};
    bool base_ok = false;
    int64_t fsize = disk_file_size(fd);
    if (fsize < 0) FAIL("%s: cannot get the file size: %s", p, strerror((int)-fsize));
    uint8_t h[QCOW2_V3_HEADER];
    ssize_t n = io_pread(fd, h, sizeof(h), 0);
    if (n < 0) FAIL("%s: cannot read the header: %s", p, strerror((int)-n));
    if (n < 4 || get_be32(h) != QCOW2_MAGIC)
        FAIL("%s: not a qcow2 image (no QFI\\xfb magic at the start; check the -f format)", p);
    if (n < QCOW2_V2_HEADER)
        FAIL("%s: the file is too short (%zd bytes) for a qcow2 header (truncated image?)", p, n);
    q->version = get_be32(h + QH_VERSION);
    if (q->version == 1)
        FAIL("%s: qcow version 1 images are not supported (convert it with `qemu-img convert "
             "-O qcow2`)",
             p);
    if (q->version != 2 && q->version != 3)
        FAIL("%s: qcow2 version %u is not supported (kumo reads versions 2 and 3)", p, q->version);
    if (q->version == 3 && n < QCOW2_V3_HEADER)
        FAIL("%s: the file is too short for a qcow2 version 3 header (truncated image?)", p);
    q->cluster_bits = get_be32(h + QH_CLUSTER_BITS);
    if (q->cluster_bits < QCOW2_MIN_CLUSTER_BITS || q->cluster_bits > QCOW2_MAX_CLUSTER_BITS)
        FAIL("%s: qcow2 cluster_bits %u is not supported (clusters of 512 bytes to 2 MiB are)", p,
             q->cluster_bits);
    q->cluster_size = 1ull << q->cluster_bits;
    q->l2_bits = q->cluster_bits - 3;
    uint64_t size = get_be64(h + QH_SIZE);
    q->l1_size = get_be32(h + QH_L1_SIZE);
    q->l1_offset = get_be64(h + QH_L1_OFFSET);
    q->rt_offset = get_be64(h + QH_RT_OFFSET);
    q->rt_clusters = get_be32(h + QH_RT_CLUSTERS);
    q->nb_snapshots = get_be32(h + QH_NB_SNAPSHOTS);
    q->snapshots_offset = get_be64(h + QH_SNAPSHOTS_OFFSET);
    uint32_t crypt = get_be32(h + QH_CRYPT);
    if (q->version == 3) {
        q->incompat = get_be64(h + QH_INCOMPAT);
        q->compat = get_be64(h + QH_COMPAT);
        q->autoclear = get_be64(h + QH_AUTOCLEAR);
        q->refcount_order = get_be32(h + QH_REFCOUNT_ORDER);
        q->header_length = get_be32(h + QH_HEADER_LENGTH);
        if (q->header_length < QCOW2_V3_HEADER || q->header_length % 8 ||
            q->header_length > q->cluster_size)
            FAIL("%s: qcow2 header length %u is invalid (damaged image)", p, q->header_length);
        if (q->refcount_order > 6)
            FAIL("%s: qcow2 refcount order %u is invalid (at most 6: 64-bit refcounts)", p,
                 q->refcount_order);
    } else {
        q->refcount_order = 4;
        q->header_length = QCOW2_V2_HEADER;
    }
    q->refcount_bits = 1u << q->refcount_order;
    q->rb_bits = q->cluster_bits + 3 - q->refcount_order;

    /* The whole header cluster: extensions and the backing file name live there. */
    hc = calloc(1, q->cluster_size);
    if (!hc) FAIL("%s: out of memory", p);
    n = io_pread(fd, hc, q->cluster_size, 0);
    if (n < (ssize_t)q->header_length)
        FAIL("%s: the file is too short for its qcow2 header (truncated image?)", p);

    uint64_t backing_off = get_be64(h + QH_BACKING_OFFSET);
    uint32_t backing_len = get_be32(h + QH_BACKING_SIZE);
    uint64_t ext_end = q->cluster_size;
    if (backing_off) {
        if (backing_len > 1023)
            FAIL("%s: qcow2 backing file name is %u bytes long (at most 1023; damaged image)", p,
                 backing_len);
        if (backing_off < q->header_length || backing_off > q->cluster_size ||
            backing_off + backing_len > q->cluster_size || backing_off + backing_len > (uint64_t)n)
            FAIL("%s: qcow2 backing file name at offset 0x%" PRIx64
                 " lies outside the header cluster (damaged image)",
                 p, backing_off);
        if (backing_len) {
            q->backing_file = strndup((char *)hc + backing_off, backing_len);
            if (!q->backing_file) FAIL("%s: out of memory", p);
            if (strlen(q->backing_file) != backing_len)
                FAIL("%s: qcow2 backing file name contains a NUL byte (damaged image)", p);
        }
        ext_end = backing_off;
    }

    /* Header extensions. */
    const uint8_t *ftable = NULL;
    uint32_t ftable_len = 0;
    for (uint64_t pos = q->header_length; pos + 8 <= ext_end;) {
        uint32_t type = get_be32(hc + pos), len = get_be32(hc + pos + 4);
        if (type == QCOW2_EXT_END) break;
        if (len > ext_end - pos - 8)
            FAIL("%s: qcow2 header extension 0x%08x (%u bytes) reaches past the header area "
                 "(damaged image)",
                 p, type, len);
        const uint8_t *data = hc + pos + 8;
        if (type == QCOW2_EXT_BACKING_FORMAT) {
            if (len == 0 || len > 31)
                FAIL("%s: qcow2 backing format extension has a bad length (%u)", p, len);
            free(q->backing_fmt);
            q->backing_fmt = strndup((const char *)data, len);
            if (!q->backing_fmt) FAIL("%s: out of memory", p);
        } else if (type == QCOW2_EXT_FEATURE_TABLE) {
            ftable = data;
            ftable_len = len;
        }
        pos += 8 + (((uint64_t)len + 7) & ~7ull);
    }

    /* Feature bits. */
    uint64_t unknown = q->incompat & ~0x1full;
    if (unknown) {
        unsigned bit = (unsigned)__builtin_ctzll(unknown);
        char name[64];
        feature_name(ftable, ftable_len, bit, name, sizeof(name));
        FAIL("%s: the image uses an unsupported qcow2 feature: %s (incompatible bit %u); it was "
             "written by a newer QEMU (convert it with that QEMU's `qemu-img convert -O qcow2 -o "
             "compat=1.1`)",
             p, name, bit);
    }
    if (q->incompat & QCOW2_INCOMPAT_DATA_FILE)
        FAIL("%s: the image keeps its data in an external data file, which kumo does not "
             "support (make a self-contained copy with `qemu-img convert -O qcow2`)",
             p);
    if (q->incompat & QCOW2_INCOMPAT_EXTL2)
        FAIL("%s: the image uses extended L2 entries (subclusters), which kumo does not support "
             "(convert it with `qemu-img convert -O qcow2 -o extended_l2=off`)",
             p);
    if (q->incompat & QCOW2_INCOMPAT_COMPRESSION ||
        (q->header_length > QH_COMPRESSION_TYPE && hc[QH_COMPRESSION_TYPE] != 0)) {
        unsigned ct = q->header_length > QH_COMPRESSION_TYPE ? hc[QH_COMPRESSION_TYPE] : 0;
        FAIL("%s: the image compresses clusters with %s (compression type %u); kumo reads zlib "
             "only (convert it with `qemu-img convert -O qcow2 -o compression_type=zlib`)",
             p, ct == 1 ? "zstd" : "an unknown method", ct);
    }
    if ((q->incompat & QCOW2_INCOMPAT_CORRUPT) && !a->readonly)
        FAIL("%s: the image is marked corrupt (damaged metadata was found earlier); repair it "
             "with `qemu-img check -r all %s`, or open it read-only to copy data out",
             p, p);
    if ((q->incompat & QCOW2_INCOMPAT_DIRTY) && !a->readonly)
        FAIL("%s: the image was not closed cleanly while using lazy refcounts (dirty bit set); "
             "repair its refcounts with `qemu-img check -r all %s`",
             p, p);
    if (crypt)
        FAIL("%s: the image is encrypted (method %u), which kumo does not support (decrypt it "
             "with `qemu-img convert` to a plain qcow2)",
             p, crypt);
    if (q->nb_snapshots && !a->readonly && !a->for_check)
        FAIL("%s: the image has %u internal snapshot%s; kumo opens such images read-only only "
             "(delete them with `qemu-img snapshot -d`, or copy with `kumo-img convert`)",
             p, q->nb_snapshots, q->nb_snapshots == 1 ? "" : "s");
    if (q->nb_snapshots && (q->snapshots_offset & (q->cluster_size - 1)))
        FAIL("%s: qcow2 snapshot table offset 0x%" PRIx64 " is not cluster aligned (damaged "
             "image)",
             p, q->snapshots_offset);

    /* Size and L1 table. */
    if (size > (1ull << 62))
        FAIL("%s: qcow2 virtual size %" PRIu64 " is implausibly large (damaged image)", p, size);
    uint64_t per_l2 = q->cluster_size << q->l2_bits;
    uint64_t need = size / per_l2 + (size % per_l2 != 0);
    if ((uint64_t)q->l1_size * 8 > QCOW2_MAX_L1_BYTES)
        FAIL("%s: qcow2 L1 table of %u entries is too large (damaged image?)", p, q->l1_size);
    if (q->l1_size < need)
        FAIL("%s: qcow2 L1 table has %u entries, too few for the virtual size %" PRIu64
             " (damaged image)",
             p, q->l1_size, size);
    if (q->l1_size) {
        if (q->l1_offset & (q->cluster_size - 1) || q->l1_offset < q->cluster_size)
            FAIL("%s: qcow2 L1 table offset 0x%" PRIx64 " is not a valid cluster offset "
                 "(damaged image)",
                 p, q->l1_offset);
        if (q->l1_offset > (uint64_t)fsize ||
            q->l1_offset + (uint64_t)q->l1_size * 8 > (uint64_t)fsize)
            FAIL("%s: qcow2 L1 table at offset 0x%" PRIx64 " lies beyond the end of the file "
                 "(truncated image?)",
                 p, q->l1_offset);
        uint8_t *raw = malloc((size_t)q->l1_size * 8);
        q->l1 = malloc((size_t)q->l1_size * 8);
        if (!raw || !q->l1) {
            free(raw);
            FAIL("%s: out of memory", p);
        }
        n = io_pread(fd, raw, (size_t)q->l1_size * 8, q->l1_offset);
        if (n != (ssize_t)q->l1_size * 8) {
            free(raw);
            FAIL("%s: cannot read the qcow2 L1 table (truncated image?)", p);
        }
        for (uint32_t i = 0; i < q->l1_size; i++)
            q->l1[i] = get_be64(raw + 8 * i);
        free(raw);
    }

    /* Refcount table. */
    if (q->rt_offset & (q->cluster_size - 1) || q->rt_offset < q->cluster_size)
        FAIL("%s: qcow2 refcount table offset 0x%" PRIx64 " is not a valid cluster offset "
             "(damaged image)",
             p, q->rt_offset);
    if (q->rt_clusters == 0 || ((uint64_t)q->rt_clusters << q->cluster_bits) > QCOW2_MAX_RT_BYTES)
        FAIL("%s: qcow2 refcount table of %u clusters is invalid (damaged image)", p,
             q->rt_clusters);
    if (q->rt_offset >= (uint64_t)fsize ||
        q->rt_offset + ((uint64_t)q->rt_clusters << q->cluster_bits) >
            (uint64_t)fsize + q->cluster_size)
        FAIL("%s: qcow2 refcount table at offset 0x%" PRIx64 " lies beyond the end of the file "
             "(truncated image?)",
             p, q->rt_offset);
    if (qrc_load_table(q) < 0) FAIL("%s: cannot read the qcow2 refcount table", p);

    q->csize_shift = 62 - (q->cluster_bits - 8);
    q->csize_mask = (1ull << (q->cluster_bits - 8)) - 1;
    q->coffset_mask = (1ull << q->csize_shift) - 1;
    q->file_end = (uint64_t)fsize;
    q->free_hint = 1;
    q->for_check = a->for_check;
    uint64_t l2n = (4u << 20) >> q->cluster_bits, rbn = (1u << 20) >> q->cluster_bits;
    l2n = l2n < 4 ? 4 : l2n > 512 ? 512 : l2n;
    rbn = rbn < 4 ? 4 : rbn > 64 ? 64 : rbn;
    void *cow = NULL;
    if (posix_memalign(&cow, 4096, q->cluster_size)) cow = NULL;
    q->cow = cow;
    if (!q->cow ||
        qcache_init(&q->l2c, (unsigned)l2n, q->cluster_size, "L2 table", l2_before_writeback) ||
        qcache_init(&q->rbc, (unsigned)rbn, q->cluster_size, "refcount block", NULL))
        FAIL("%s: out of memory", p);

    uint64_t vsize = (size + DISK_SECTOR - 1) & ~(uint64_t)(DISK_SECTOR - 1);
    if (disk_base_init(&q->d, &qcow2_driver, p, vsize, a->readonly) < 0)
        FAIL("%s: out of memory", p);
    base_ok = true;
    if (disk_dio_open(&q->dio, fd, p, a->cache, err, errlen) < 0) goto fail;

    /* Backing file (not needed, nor wanted, to check or inspect an image). */
    if (q->backing_file && !a->for_check) {
        if (a->no_backing)
            FAIL("%s: the image names a backing file (%s), which is not allowed here (make a "
                 "self-contained copy with `kumo-img convert -O qcow2`)",
                 p, q->backing_file);
        q->backing_path = disk_resolve_relative(p, q->backing_file);
        if (!q->backing_path) FAIL("%s: out of memory", p);
        char sub[400];
        q->d.backing = disk_open_chain(a, q->backing_path, q->backing_fmt, sub, sizeof(sub));
        if (!q->d.backing) FAIL("%s: cannot open its backing file: %s", p, sub);
    } else if (q->backing_file) {
        q->backing_path = disk_resolve_relative(p, q->backing_file);
    }

    /* Clear auto-clear bits we do not maintain (the spec requires it before writing). */
    if (!a->readonly && q->autoclear) {
        uint8_t z[8] = {0};
        if (qcow2_write_header_field(q, QH_AUTOCLEAR, z, 8) < 0 || qcow2_sync(q) < 0)
            FAIL("%s: cannot update the qcow2 header: %s", p, q->d.errmsg);
        q->autoclear = 0;
    }
    free(hc);
    return &q->d;

fail:
    free(hc);
    if (base_ok) {
        disk_base_free(&q->d);
    }
    free_qcow2(q);
    free(q);
    return NULL;
}
