/*
 * qcow2_int.h - the in-memory state of an open qcow2 image and the contracts
 * between the files that implement it (internal to src/storage):
 *
 *   qcow2.c           open (header, extensions, validation), read, write,
 *                     zeroes/discard, flush ordering, resize, close
 *   qcow2_cache.c     LRU caches of L2 tables and refcount blocks
 *   qcow2_refcount.c  refcounts: lookup, update, cluster allocation, deferred
 *                     frees, new refcount blocks, refcount table growth
 *   qcow2_check.c     consistency check and leak repair (kumo-img check)
 *   qcow2_create.c    creating new images
 *
 * All functions taking a struct qcow2 expect q->lock to be held (or the image
 * not yet shared). The one exception is the data transfer of a request to
 * clusters it found allocated (QC_NORMAL, and for writes owned by this image
 * alone): that runs unlocked between qcow2_io_begin and qcow2_io_end, which
 * keeps every such cluster allocated (rule 4 waits for it) until it ends. Offsets are host file offsets in bytes unless named
 * "cluster" (host cluster index = offset >> cluster_bits).
 */
#ifndef KUMO_STORAGE_QCOW2_INT_H
#define KUMO_STORAGE_QCOW2_INT_H

#include "storage/driver.h"
#include "storage/qcow2.h"

#include <pthread.h>

#define QCOW2_MAGIC 0x514649fbu

#define QCOW2_INCOMPAT_DIRTY        (1ull << 0)
#define QCOW2_INCOMPAT_CORRUPT      (1ull << 1)
#define QCOW2_INCOMPAT_DATA_FILE    (1ull << 2)
#define QCOW2_INCOMPAT_COMPRESSION  (1ull << 3)
#define QCOW2_INCOMPAT_EXTL2        (1ull << 4)
#define QCOW2_COMPAT_LAZY_REFCOUNTS (1ull << 0)

#define QCOW2_EXT_END            0x00000000u
#define QCOW2_EXT_BACKING_FORMAT 0xe2792acau
#define QCOW2_EXT_FEATURE_TABLE  0x6803f857u

/* Header field offsets. */
#define QH_VERSION          4
#define QH_BACKING_OFFSET   8
#define QH_BACKING_SIZE     16
#define QH_CLUSTER_BITS     20
#define QH_SIZE             24
#define QH_CRYPT            32
#define QH_L1_SIZE          36
#define QH_L1_OFFSET        40
#define QH_RT_OFFSET        48
#define QH_RT_CLUSTERS      56
#define QH_NB_SNAPSHOTS     60
#define QH_SNAPSHOTS_OFFSET 64
#define QH_INCOMPAT         72
#define QH_COMPAT           80
#define QH_AUTOCLEAR        88
#define QH_REFCOUNT_ORDER   96
#define QH_HEADER_LENGTH    100
#define QH_COMPRESSION_TYPE 104
#define QCOW2_V2_HEADER     72
#define QCOW2_V3_HEADER     104

/* Table entries. */
#define QCOW2_OFLAG_COPIED     (1ull << 63)
#define QCOW2_OFLAG_COMPRESSED (1ull << 62)
#define QCOW2_OFLAG_ZERO       (1ull << 0)
#define QCOW2_L1E_OFFSET_MASK  0x00fffffffffffe00ull
#define QCOW2_L2E_OFFSET_MASK  0x00fffffffffffe00ull
#define QCOW2_RTE_OFFSET_MASK  0xfffffffffffffe00ull
#define QCOW2_MAX_HOST_OFFSET  (1ull << 56)

/* Implementation limits (as QEMU's): refuse images beyond them. */
#define QCOW2_MAX_L1_BYTES     (32u << 20)
#define QCOW2_MAX_RT_BYTES     (8u << 20)
#define QCOW2_MAX_CLUSTER_BITS 21
#define QCOW2_MIN_CLUSTER_BITS 9

struct qcow2_cache_entry {
    uint64_t offset; /* host offset of the table; 0 = empty slot */
    uint8_t *data;   /* the table as on disk (big-endian) */
    uint64_t lru;
    bool dirty;
};

struct qcow2;
struct qcow2_cache {
    struct qcow2_cache_entry *e;
    unsigned n;
    size_t size; /* bytes per table (one cluster) */
    uint64_t tick;
    const char *what; /* "L2 table" / "refcount block", for messages */
    /* Called before a dirty entry is written (the L2 cache flushes refcounts
     * and syncs here: refcount increments before L2 entries). */
    int (*before_writeback)(struct qcow2 *q);
};

/* Kinds of guest cluster, decoded from an L2 entry. */
enum qcow2_ctype {
    QC_UNALLOCATED, /* read from the backing file, or zeros */
    QC_ZERO,        /* reads as zeros; host offset may be preallocated */
    QC_NORMAL,      /* data at host offset */
    QC_COMPRESSED,  /* deflate stream at an unaligned host offset */
};

struct qcow2 {
    struct disk d;
    int fd;
    pthread_mutex_t lock;
    struct disk_dio dio; /* guest data I/O in the image's cache mode (fd for metadata) */
    /* Data I/O on allocated clusters runs without the lock (qcow2.c, "Data
     * I/O outside the lock"): inflight counts it, and nothing frees a
     * cluster (qrc_apply_pending) while it is non-zero; idle is signalled
     * when it drops to zero. */
    unsigned inflight;
    pthread_cond_t idle;

    /* header */
    uint32_t version;
    uint32_t cluster_bits;
    uint64_t cluster_size;
    uint32_t l2_bits; /* log2 of entries per L2 table */
    uint32_t refcount_order, refcount_bits;
    uint32_t rb_bits; /* log2 of entries per refcount block */
    uint64_t incompat, compat, autoclear;
    uint32_t header_length;
    uint32_t nb_snapshots;
    uint64_t snapshots_offset;
    uint32_t csize_shift; /* compressed descriptor layout */
    uint64_t csize_mask, coffset_mask;

    /* L1 table (host byte order in memory) */
    uint64_t l1_offset;
    uint32_t l1_size;
    uint64_t *l1;
    uint32_t l1_dirty_lo, l1_dirty_hi; /* dirty entries [lo, hi); lo == hi: clean */

    /* refcount table (host byte order in memory) */
    uint64_t rt_offset;
    uint32_t rt_clusters;
    uint64_t *rt;
    uint64_t rt_entries;

    char *backing_file; /* as stored */
    char *backing_fmt;  /* from the header extension, or NULL */
    char *backing_path; /* resolved */

    uint64_t file_end; /* bytes; grows as clusters are written past the old end */
    struct qcow2_cache l2c, rbc;
    uint64_t free_hint; /* no free cluster below this index */

    uint64_t *pending; /* host clusters whose refcount drops at the next flush */
    size_t npending, cap_pending;

    uint8_t *cow;        /* one cluster: copy-on-write buffer */
    uint8_t *zin;        /* compressed input (two clusters) */
    uint8_t *zout;       /* decompressed cluster */
    uint64_t zout_entry; /* L2 entry zout holds, 0 = none */

    bool for_check;
    bool unsynced; /* writes since the last fdatasync */
};

static inline struct qcow2 *to_qcow2(struct disk *d)
{
    return (struct qcow2 *)d;
}

static inline uint64_t qcow2_size_to_clusters(const struct qcow2 *q, uint64_t bytes)
{
    return (bytes >> q->cluster_bits) + ((bytes & (q->cluster_size - 1)) != 0);
}

/* Report metadata that cannot be right: records the message, marks the image
 * corrupt on disk when it is open read-write (as QEMU does) so nothing writes
 * to it until it is repaired, and returns -EIO. */
int qcow2_corrupt(struct qcow2 *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Decode an L2 entry; returns the type and the host offset (normal/zero). */
enum qcow2_ctype qcow2_entry_type(const struct qcow2 *q, uint64_t entry, uint64_t *host);
/* Host byte range of a compressed cluster. */
void qcow2_compressed_range(const struct qcow2 *q, uint64_t entry, uint64_t *off, uint64_t *len);

/* Does [off, off+len) overlap the header, L1 table or refcount table? */
bool qcow2_overlaps_metadata(const struct qcow2 *q, uint64_t off, uint64_t len);

/* qcow2_cache.c */
int qcache_init(struct qcow2_cache *c, unsigned n, size_t table_size, const char *what,
                int (*before_writeback)(struct qcow2 *q));
void qcache_free(struct qcow2_cache *c);
/* The table at offset (read from the file unless `fresh`: then zero-filled and
 * dirty). The pointer is valid until the next qcache_get on the same cache. */
int qcache_get(struct qcow2 *q, struct qcow2_cache *c, uint64_t offset, bool fresh, uint8_t **data);
void qcache_mark_dirty(struct qcow2_cache *c, const uint8_t *data);
int qcache_flush(struct qcow2 *q, struct qcow2_cache *c); /* write dirty entries */
bool qcache_dirty(const struct qcow2_cache *c);
void qcache_drop(struct qcow2_cache *c, uint64_t offset); /* forget (no write) */
bool qcache_overlaps(const struct qcow2_cache *c, uint64_t off, uint64_t len);

/* qcow2_refcount.c */
int qrc_get(struct qcow2 *q, uint64_t cluster, uint64_t *val);
int qrc_update(struct qcow2 *q, uint64_t cluster, int64_t delta, uint64_t *newval);
int qrc_alloc(struct qcow2 *q, uint64_t n, uint64_t *host_off);
int qrc_free_later(struct qcow2 *q, uint64_t cluster);
int qrc_free_bytes_later(struct qcow2 *q, uint64_t off, uint64_t len);
int qrc_flush_blocks(struct qcow2 *q);
int qrc_apply_pending(struct qcow2 *q);
uint64_t qrc_block_get(const struct qcow2 *q, const uint8_t *block, uint64_t idx);
void qrc_block_set(const struct qcow2 *q, uint8_t *block, uint64_t idx, uint64_t val);
int qrc_load_table(struct qcow2 *q);

/* qcow2.c */
int qcow2_pwrite(struct qcow2 *q, const void *buf, size_t len, uint64_t off); /* tracks file_end */
int qcow2_sync(struct qcow2 *q); /* fdatasync if anything was written since the last one */
int qcow2_flush_locked(struct qcow2 *q);
int qcow2_write_header_field(struct qcow2 *q, unsigned off, const void *buf, size_t len);
int qcow2_decompress(struct qcow2 *q, uint64_t entry, uint8_t *out);

#endif
