/*
 * qcow2_refcount.c - how qcow2 knows which host clusters are in use: the
 * refcount table (kept in memory) points to refcount blocks (cached), whose
 * entries of 1 to 64 bits count the references to each host cluster.
 *
 * Allocation is first-fit from a hint. Increments reach the disk whenever a
 * refcount block is written (any time is safe: at worst a cluster leaks).
 * Decrements are deferred: a freed cluster is queued and its refcount drops
 * only at the next flush, after the L2/L1 entries that stopped pointing to it
 * are durable, so the cluster is never reused while the on-disk tables still
 * reference it.
 *
 * A missing refcount block is put in the lowest free cluster (counting itself
 * when that cluster is in the range it describes); it is written and synced
 * before the refcount table points to it. When the table itself is full, a
 * bigger one is written past the end of everything it covers, with refcount
 * blocks for its own clusters, synced, and only then does the header switch
 * to it (see grow_table).
 */
#include "storage/qcow2_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

uint64_t qrc_block_get(const struct qcow2 *q, const uint8_t *block, uint64_t idx)
{
    switch (q->refcount_order) {
    case 0: return (block[idx / 8] >> (idx % 8)) & 1;
    case 1: return (block[idx / 4] >> (2 * (idx % 4))) & 3;
    case 2: return (block[idx / 2] >> (4 * (idx % 2))) & 15;
    case 3: return block[idx];
    case 4: return get_be16(block + 2 * idx);
    case 5: return get_be32(block + 4 * idx);
    default: return get_be64(block + 8 * idx);
    }
}

void qrc_block_set(const struct qcow2 *q, uint8_t *block, uint64_t idx, uint64_t val)
{
    unsigned sh;
    switch (q->refcount_order) {
    case 0:
        sh = idx % 8;
        block[idx / 8] = (uint8_t)((block[idx / 8] & ~(1u << sh)) | (val & 1) << sh);
        break;
    case 1:
        sh = 2 * (idx % 4);
        block[idx / 4] = (uint8_t)((block[idx / 4] & ~(3u << sh)) | (val & 3) << sh);
        break;
    case 2:
        sh = 4 * (idx % 2);
        block[idx / 2] = (uint8_t)((block[idx / 2] & ~(15u << sh)) | (val & 15) << sh);
        break;
    case 3: block[idx] = (uint8_t)val; break;
    case 4: put_be16(block + 2 * idx, (uint16_t)val); break;
    case 5: put_be32(block + 4 * idx, (uint32_t)val); break;
    default: put_be64(block + 8 * idx, val); break;
    }
}

static uint64_t refcount_max(const struct qcow2 *q)
{
    return q->refcount_bits == 64 ? UINT64_MAX : (1ull << q->refcount_bits) - 1;
}

int qrc_load_table(struct qcow2 *q)
{
    uint64_t bytes = (uint64_t)q->rt_clusters << q->cluster_bits;
    uint8_t *buf = malloc(bytes);
    q->rt_entries = bytes / 8;
    q->rt = malloc(bytes);
    if (!buf || !q->rt) {
        free(buf);
        return -ENOMEM;
    }
    ssize_t n = io_pread(q->fd, buf, bytes, q->rt_offset);
    if (n < 0) {
        free(buf);
        return (int)n;
    }
    if ((uint64_t)n < bytes) memset(buf + n, 0, bytes - (uint64_t)n);
    for (uint64_t i = 0; i < q->rt_entries; i++)
        q->rt[i] = get_be64(buf + 8 * i);
    free(buf);
    return 0;
}

/* The refcount block for rt index i, or NULL in *block when there is none. */
static int get_block(struct qcow2 *q, uint64_t i, uint8_t **block)
{
    *block = NULL;
    if (i >= q->rt_entries) return 0;
    uint64_t off = q->rt[i] & QCOW2_RTE_OFFSET_MASK;
    if (!off) return 0;
    if (q->rt[i] & 0x1ff)
        return qcow2_corrupt(
            q, "%s: qcow2 refcount table entry %" PRIu64 " has reserved bits set (damaged image)",
            q->d.path, i);
    return qcache_get(q, &q->rbc, off, false, block);
}

int qrc_get(struct qcow2 *q, uint64_t cluster, uint64_t *val)
{
    uint8_t *block;
    int r = get_block(q, cluster >> q->rb_bits, &block);
    if (r < 0) return r;
    *val = block ? qrc_block_get(q, block, cluster & ((1ull << q->rb_bits) - 1)) : 0;
    return 0;
}

static int write_table_entry(struct qcow2 *q, uint64_t i)
{
    uint8_t be[8];
    put_be64(be, q->rt[i]);
    return qcow2_pwrite(q, be, 8, q->rt_offset + 8 * i);
}

/*
 * Replace the refcount table by one with room for index `need`. The new table
 * and the refcount blocks describing its clusters go in a fresh area past both
 * the end of the file and the end of what the old table covers, so none of
 * their refcounts live in existing blocks. Order: blocks and table written,
 * sync, header switched, sync, old table freed.
 */
static int grow_table(struct qcow2 *q, uint64_t need)
{
    uint64_t B = 1ull << q->rb_bits;
    uint64_t per_cluster = q->cluster_size / 8;
    uint64_t old_n = q->rt_entries;
    uint64_t a = qcow2_size_to_clusters(q, q->file_end);
    if (a < old_n * B) a = old_n * B;
    uint64_t new_n = need + 1 > old_n + old_n / 2 ? need + 1 : old_n + old_n / 2;
    uint64_t tc, k, first_i, last_i;
    for (;;) {
        new_n = (new_n + per_cluster - 1) / per_cluster * per_cluster;
        tc = new_n / per_cluster;
        k = 0;
        first_i = a / B;
        for (;;) {
            last_i = (a + tc + k - 1) / B;
            if (last_i - first_i + 1 == k) break;
            k = last_i - first_i + 1;
        }
        if (last_i < new_n) break;
        new_n = last_i + 1;
    }
    if ((tc << q->cluster_bits) > QCOW2_MAX_RT_BYTES ||
        (a + tc + k) << q->cluster_bits >= QCOW2_MAX_HOST_OFFSET) {
        disk_set_error(&q->d,
                       "%s: the qcow2 refcount table cannot grow any further (the image "
                       "is at its size limit)",
                       q->d.path);
        return -ENOSPC;
    }
    uint8_t *blk = calloc(1, q->cluster_size);
    uint8_t *tab = calloc(tc, q->cluster_size);
    uint64_t *rt = calloc(new_n, sizeof(uint64_t));
    int r = -ENOMEM;
    if (!blk || !tab || !rt) goto out;
    memcpy(rt, q->rt, old_n * sizeof(uint64_t));
    for (uint64_t j = 0; j < k; j++) {
        uint64_t i = first_i + j;
        memset(blk, 0, q->cluster_size);
        for (uint64_t c = a; c < a + tc + k; c++)
            if (c / B == i) qrc_block_set(q, blk, c % B, 1);
        uint64_t off = (a + tc + j) << q->cluster_bits;
        r = qcow2_pwrite(q, blk, q->cluster_size, off);
        if (r < 0) goto out;
        rt[i] = off;
    }
    for (uint64_t i = 0; i < new_n; i++)
        put_be64(tab + 8 * i, rt[i]);
    r = qcow2_pwrite(q, tab, tc << q->cluster_bits, a << q->cluster_bits);
    if (r < 0) goto out;
    r = qcow2_sync(q);
    if (r < 0) goto out;
    uint8_t hdr[12];
    put_be64(hdr, a << q->cluster_bits);
    put_be32(hdr + 8, (uint32_t)tc);
    r = qcow2_write_header_field(q, QH_RT_OFFSET, hdr, sizeof(hdr));
    if (r < 0) goto out;
    r = qcow2_sync(q);
    if (r < 0) goto out;
    uint64_t old_off = q->rt_offset, old_clusters = q->rt_clusters;
    free(q->rt);
    q->rt = rt;
    rt = NULL;
    q->rt_entries = new_n;
    q->rt_offset = a << q->cluster_bits;
    q->rt_clusters = (uint32_t)tc;
    for (uint64_t c = 0; c < old_clusters; c++) {
        r = qrc_update(q, (old_off >> q->cluster_bits) + c, -1, NULL);
        if (r < 0) goto out;
    }
    r = 0;
out:
    if (r < 0 && r != -ENOSPC)
        disk_set_error(&q->d, "%s: growing the qcow2 refcount table failed: %s", q->d.path,
                       strerror(-r));
    free(blk);
    free(tab);
    free(rt);
    return r;
}

static bool has_block(const struct qcow2 *q, uint64_t i)
{
    return i < q->rt_entries && (q->rt[i] & QCOW2_RTE_OFFSET_MASK);
}

/* Is host cluster c free? Clusters no refcount block covers are. */
static int is_free(struct qcow2 *q, uint64_t c, bool *free_)
{
    *free_ = false;
    if ((c + 1) << q->cluster_bits >= QCOW2_MAX_HOST_OFFSET) {
        disk_set_error(&q->d, "%s: no room for more clusters in this qcow2 image", q->d.path);
        return -ENOSPC;
    }
    if (!has_block(q, c >> q->rb_bits)) {
        *free_ = true;
        return 0;
    }
    /* Past the end of the file only recently allocated, not yet written
     * clusters (or leaks of a crash) can be in use; endless used clusters
     * there mean a damaged refcount table (e.g. every entry naming one block). */
    if (c > qcow2_size_to_clusters(q, q->file_end) + 65536 + (1ull << q->rb_bits))
        return qcow2_corrupt(q,
                             "%s: qcow2 refcounts mark clusters far beyond the end of the "
                             "file as used (damaged refcount table; run `kumo-img check`)",
                             q->d.path);
    uint64_t v;
    int r = qrc_get(q, c, &v);
    *free_ = v == 0;
    return r;
}

/*
 * Make sure rt index i has a refcount block. The block goes in the lowest
 * free cluster: if that cluster lies in the range the new block describes,
 * the block counts itself; otherwise its refcount lives in an existing block
 * (a range without a block gets one first). The block, and the refcount of
 * its cluster, are written and synced before the table entry points to it.
 */
static int ensure_block(struct qcow2 *q, uint64_t i, int depth)
{
    if (depth > 2)
        return qcow2_corrupt(q,
                             "%s: cannot place a new qcow2 refcount block (damaged refcount "
                             "table?)",
                             q->d.path);
    while (!has_block(q, i)) {
        int r;
        if (i >= q->rt_entries) {
            r = grow_table(q, i);
            if (r < 0) return r;
            continue;
        }
        uint64_t c = q->free_hint;
        bool free_ = false;
        for (;; c++) {
            r = is_free(q, c, &free_);
            if (r < 0) return r;
            if (free_) break;
        }
        q->free_hint = c;
        uint64_t j = c >> q->rb_bits;
        if (j != i && !has_block(q, j)) {
            r = ensure_block(q, j, depth + 1);
            if (r < 0) return r;
            continue;
        }
        uint64_t off = c << q->cluster_bits;
        uint8_t *block;
        r = qcache_get(q, &q->rbc, off, true, &block);
        if (r < 0) return r;
        if (j == i) qrc_block_set(q, block, c & ((1ull << q->rb_bits) - 1), 1);
        r = qcow2_pwrite(q, block, q->cluster_size, off);
        if (r < 0) return r;
        if (j != i) {
            r = qrc_update(q, c, 1, NULL);
            if (r == 0) r = qrc_flush_blocks(q);
            if (r < 0) return r;
        }
        r = qcow2_sync(q);
        if (r < 0) return r;
        q->rt[i] = off;
        r = write_table_entry(q, i);
        if (r < 0) return r;
        if (c == q->free_hint) q->free_hint = c + 1;
    }
    return 0;
}

int qrc_update(struct qcow2 *q, uint64_t cluster, int64_t delta, uint64_t *newval)
{
    uint64_t i = cluster >> q->rb_bits;
    if (delta > 0) {
        int r = ensure_block(q, i, 0);
        if (r < 0) return r;
    }
    uint8_t *block;
    int r = get_block(q, i, &block);
    if (r < 0) return r;
    uint64_t idx = cluster & ((1ull << q->rb_bits) - 1);
    uint64_t v = block ? qrc_block_get(q, block, idx) : 0;
    if (delta < 0 && v < (uint64_t)-delta)
        return qcow2_corrupt(q,
                             "%s: qcow2 refcount of host cluster %" PRIu64
                             " would drop below zero (damaged image; run `kumo-img check`)",
                             q->d.path, cluster);
    if (delta > 0 && refcount_max(q) - v < (uint64_t)delta) {
        disk_set_error(&q->d,
                       "%s: qcow2 refcount of host cluster %" PRIu64
                       " would overflow %u bits (recreate the image with wider "
                       "refcounts: -o refcount_bits=16)",
                       q->d.path, cluster, q->refcount_bits);
        return -EOVERFLOW;
    }
    v += (uint64_t)delta;
    qrc_block_set(q, block, idx, v);
    qcache_mark_dirty(&q->rbc, block);
    if (v == 0 && cluster < q->free_hint) q->free_hint = cluster;
    if (newval) *newval = v;
    return 0;
}

/*
 * n contiguous free clusters, refcount 1 each. Refcount blocks missing for
 * the run are created first; as they may land inside the run, the search
 * then starts over (it converges: new blocks take the lowest free clusters).
 */
int qrc_alloc(struct qcow2 *q, uint64_t n, uint64_t *host_off)
{
    for (int tries = 0;; tries++) {
        if (tries > 100000)
            return qcow2_corrupt(q,
                                 "%s: cannot allocate %" PRIu64 " qcow2 clusters (damaged "
                                 "refcounts?)",
                                 q->d.path, n);
        uint64_t c = q->free_hint ? q->free_hint : 1, start = c, run = 0;
        bool hint_set = false;
        while (run < n) {
            bool free_ = false;
            int r = is_free(q, c, &free_);
            if (r < 0) return r;
            if (free_) {
                if (run++ == 0) start = c;
                if (!hint_set) {
                    q->free_hint = c;
                    hint_set = true;
                }
            } else {
                run = 0;
            }
            c++;
        }
        bool created = false;
        for (uint64_t i = start >> q->rb_bits; i <= (start + n - 1) >> q->rb_bits; i++) {
            if (!has_block(q, i)) {
                int r = ensure_block(q, i, 0);
                if (r < 0) return r;
                created = true;
            }
        }
        if (created) continue;
        for (uint64_t j = 0; j < n; j++) {
            int r = qrc_update(q, start + j, 1, NULL);
            if (r < 0) return r;
        }
        if (start == q->free_hint) q->free_hint = start + n;
        *host_off = start << q->cluster_bits;
        return 0;
    }
}

int qrc_free_later(struct qcow2 *q, uint64_t cluster)
{
    if (q->npending == q->cap_pending) {
        size_t cap = q->cap_pending ? q->cap_pending * 2 : 64;
        uint64_t *p = realloc(q->pending, cap * sizeof(*p));
        if (!p) return -ENOMEM;
        q->pending = p;
        q->cap_pending = cap;
    }
    q->pending[q->npending++] = cluster;
    return 0;
}

int qrc_free_bytes_later(struct qcow2 *q, uint64_t off, uint64_t len)
{
    if (len == 0) return 0;
    uint64_t first = off >> q->cluster_bits, last = (off + len - 1) >> q->cluster_bits;
    for (uint64_t c = first; c <= last; c++) {
        int r = qrc_free_later(q, c);
        if (r < 0) return r;
    }
    return 0;
}

int qrc_flush_blocks(struct qcow2 *q)
{
    return qcache_flush(q, &q->rbc);
}

int qrc_apply_pending(struct qcow2 *q)
{
    int ret = 0;
    for (size_t j = 0; j < q->npending; j++) {
        int r = qrc_update(q, q->pending[j], -1, NULL);
        if (r < 0 && ret == 0) ret = r;
    }
    q->npending = 0;
    int r = qrc_flush_blocks(q);
    return ret ? ret : r;
}
