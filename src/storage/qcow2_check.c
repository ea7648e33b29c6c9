/*
 * qcow2_check.c - is a qcow2 image consistent? Counts every reference to
 * every host cluster (header, L1/L2 tables, data and compressed clusters,
 * refcount table and blocks, internal snapshots, persistent bitmaps) and
 * compares the counts with the stored refcounts, as `qemu-img check` does:
 * a refcount below the references is a corruption (the cluster could be
 * handed out twice), above is a leak (wasted space, no harm). Leaks can be
 * repaired by lowering the refcounts.
 */
#include "storage/qcow2_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QCOW2_EXT_BITMAPS 0x23852875u

struct ck {
    struct qcow2 *q;
    uint32_t *refs; /* references per host cluster (saturating) */
    uint64_t nclusters;
    struct qcow2_check_result *res;
    void (*report)(void *ctx, const char *line);
    void *ctx;
    uint8_t *tbuf;      /* one cluster */
    uint64_t last_host; /* for fragmentation */
};

static void say(struct ck *ck, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct ck *ck, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (ck->report) ck->report(ck->ctx, line);
}

/* Count one reference to each cluster of [off, off+len). */
static void ref(struct ck *ck, uint64_t off, uint64_t len, const char *what)
{
    if (len == 0) return;
    struct qcow2 *q = ck->q;
    uint64_t first = off >> q->cluster_bits, last = (off + len - 1) >> q->cluster_bits;
    if (off + len < off || last >= ck->nclusters) {
        say(ck, "ERROR: %s at offset 0x%" PRIx64 " lies beyond the end of the file", what, off);
        ck->res->corruptions++;
        if (first >= ck->nclusters) return;
        last = ck->nclusters - 1;
    }
    for (uint64_t c = first; c <= last; c++)
        if (ck->refs[c] != UINT32_MAX) ck->refs[c]++;
    uint64_t end = (last + 1) << q->cluster_bits;
    if (end > ck->res->image_end_offset) ck->res->image_end_offset = end;
}

static int read_exact(struct ck *ck, void *buf, uint64_t len, uint64_t off, const char *what)
{
    ssize_t n = io_pread(ck->q->fd, buf, len, off);
    if (n != (ssize_t)len) {
        say(ck, "ERROR: cannot read the %s at offset 0x%" PRIx64 "%s", what, off,
            n >= 0 ? " (beyond the end of the file)" : "");
        ck->res->check_errors++;
        return -1;
    }
    return 0;
}

static void walk_l2(struct ck *ck, uint64_t l2_off, uint64_t first_vc, bool active)
{
    struct qcow2 *q = ck->q;
    if (read_exact(ck, ck->tbuf, q->cluster_size, l2_off, "L2 table") < 0) return;
    uint64_t entries = 1ull << q->l2_bits;
    for (uint64_t i = 0; i < entries; i++) {
        uint64_t e = get_be64(ck->tbuf + 8 * i), host;
        uint64_t vc = first_vc + i;
        enum qcow2_ctype t = qcow2_entry_type(q, e, &host);
        if (t == QC_COMPRESSED) {
            uint64_t off, len;
            qcow2_compressed_range(q, e, &off, &len);
            if (e & QCOW2_OFLAG_COPIED) {
                say(ck, "ERROR: compressed cluster %" PRIu64 " has the copied flag set", vc);
                ck->res->corruptions++;
            }
            ref(ck, off, len, "compressed cluster");
            if (active) {
                ck->res->allocated_clusters++;
                ck->res->compressed_clusters++;
            }
            continue;
        }
        if (e & 0x3f000000000001feull) {
            say(ck,
                "ERROR: L2 entry of guest cluster %" PRIu64 " has reserved bits set: 0x%016" PRIx64,
                vc, e);
            ck->res->corruptions++;
        }
        if ((e & QCOW2_OFLAG_ZERO) && q->version < 3) {
            say(ck, "ERROR: zero cluster flag in a version 2 image (guest cluster %" PRIu64 ")",
                vc);
            ck->res->corruptions++;
        }
        if (!host) continue;
        if (host & (q->cluster_size - 1)) {
            say(ck,
                "ERROR: data cluster of guest cluster %" PRIu64 " at offset 0x%" PRIx64
                " is not cluster aligned",
                vc, host);
            ck->res->corruptions++;
            continue;
        }
        ref(ck, host, q->cluster_size, "data cluster");
        if (active && t == QC_NORMAL) {
            ck->res->allocated_clusters++;
            if (ck->last_host && host != ck->last_host + q->cluster_size)
                ck->res->fragmented_clusters++;
            ck->last_host = host;
        }
    }
}

static void walk_l1(struct ck *ck, uint64_t l1_off, uint32_t l1_size, bool active)
{
    struct qcow2 *q = ck->q;
    if (!l1_size) return;
    ref(ck, l1_off, (uint64_t)l1_size * 8, "L1 table");
    uint64_t *l1 = NULL;
    uint8_t *raw = NULL;
    if (active) {
        l1 = q->l1;
    } else {
        raw = malloc((size_t)l1_size * 8);
        if (!raw || read_exact(ck, raw, (uint64_t)l1_size * 8, l1_off, "snapshot L1 table") < 0) {
            free(raw);
            return;
        }
    }
    for (uint32_t i = 0; i < l1_size; i++) {
        uint64_t e = active ? l1[i] : get_be64(raw + 8 * i);
        uint64_t off = e & QCOW2_L1E_OFFSET_MASK;
        if (e & 0x7f000000000001ffull) {
            say(ck, "ERROR: L1 entry %u has reserved bits set: 0x%016" PRIx64, i, e);
            ck->res->corruptions++;
        }
        if (!off) continue;
        if (off & (q->cluster_size - 1)) {
            say(ck, "ERROR: L2 table offset 0x%" PRIx64 " (L1 entry %u) is not cluster aligned",
                off, i);
            ck->res->corruptions++;
            continue;
        }
        ref(ck, off, q->cluster_size, "L2 table");
        walk_l2(ck, off, (uint64_t)i << q->l2_bits, active);
    }
    free(raw);
}

static void walk_snapshots(struct ck *ck)
{
    struct qcow2 *q = ck->q;
    uint64_t pos = q->snapshots_offset;
    uint8_t h[40];
    for (uint32_t s = 0; s < q->nb_snapshots; s++) {
        if (read_exact(ck, h, sizeof(h), pos, "snapshot table") < 0) return;
        uint64_t l1_off = get_be64(h);
        uint32_t l1_size = get_be32(h + 8);
        uint16_t id_len = get_be16(h + 12), name_len = get_be16(h + 14);
        uint32_t extra = get_be32(h + 36);
        if ((uint64_t)l1_size * 8 > QCOW2_MAX_L1_BYTES || (l1_off & (q->cluster_size - 1))) {
            say(ck,
                "ERROR: snapshot %u has an invalid L1 table (offset 0x%" PRIx64 ", %u "
                "entries)",
                s, l1_off, l1_size);
            ck->res->corruptions++;
        } else {
            walk_l1(ck, l1_off, l1_size, false);
        }
        uint64_t len = 40 + (uint64_t)extra + id_len + name_len;
        pos += (len + 7) & ~7ull;
    }
    ref(ck, q->snapshots_offset, pos - q->snapshots_offset, "snapshot table");
}

static void walk_bitmaps(struct ck *ck, const uint8_t *ext, uint32_t len)
{
    struct qcow2 *q = ck->q;
    if (len < 24) return;
    uint32_t nb = get_be32(ext);
    uint64_t dir_size = get_be64(ext + 8), dir_off = get_be64(ext + 16);
    if (dir_size > (64u << 20)) {
        say(ck, "ERROR: bitmap directory of %" PRIu64 " bytes is too large", dir_size);
        ck->res->corruptions++;
        return;
    }
    uint8_t *dir = malloc(dir_size ? dir_size : 1);
    if (!dir || read_exact(ck, dir, dir_size, dir_off, "bitmap directory") < 0) {
        free(dir);
        return;
    }
    ref(ck, dir_off, dir_size, "bitmap directory");
    uint64_t p = 0;
    for (uint32_t b = 0; b < nb && p + 24 <= dir_size; b++) {
        uint64_t toff = get_be64(dir + p);
        uint32_t tsize = get_be32(dir + p + 8);
        uint16_t name_len = get_be16(dir + p + 18);
        uint32_t extra = get_be32(dir + p + 20);
        if ((uint64_t)tsize * 8 <= (64u << 20) && tsize) {
            uint8_t *tab = malloc((size_t)tsize * 8);
            if (tab && read_exact(ck, tab, (uint64_t)tsize * 8, toff, "bitmap table") == 0) {
                ref(ck, toff, (uint64_t)tsize * 8, "bitmap table");
                for (uint32_t i = 0; i < tsize; i++) {
                    uint64_t d = get_be64(tab + 8 * i) & QCOW2_L2E_OFFSET_MASK;
                    if (d) ref(ck, d, q->cluster_size, "bitmap data");
                }
            }
            free(tab);
        }
        p += (24 + (uint64_t)extra + name_len + 7) & ~7ull;
    }
    free(dir);
}

/* Header extensions that reference clusters (bitmaps). */
static void walk_extensions(struct ck *ck)
{
    struct qcow2 *q = ck->q;
    if (q->version < 3) return;
    uint8_t *hc = ck->tbuf;
    if (read_exact(ck, hc, q->cluster_size, 0, "header cluster") < 0) return;
    uint64_t end = get_be64(hc + QH_BACKING_OFFSET);
    if (!end || end > q->cluster_size) end = q->cluster_size;
    for (uint64_t pos = q->header_length; pos + 8 <= end;) {
        uint32_t type = get_be32(hc + pos), len = get_be32(hc + pos + 4);
        if (type == 0 || len > end - pos - 8) break;
        if (type == QCOW2_EXT_BITMAPS) {
            uint8_t ext[24];
            memcpy(ext, hc + pos + 8, len < 24 ? len : 24);
            walk_bitmaps(ck, ext, len);
            return; /* tbuf was reused */
        }
        pos += 8 + (((uint64_t)len + 7) & ~7ull);
    }
}

/* The refcount table and blocks, and the COPIED flags of the active tables. */
static void walk_refcount_structures(struct ck *ck)
{
    struct qcow2 *q = ck->q;
    ref(ck, q->rt_offset, (uint64_t)q->rt_clusters << q->cluster_bits, "refcount table");
    for (uint64_t i = 0; i < q->rt_entries; i++) {
        uint64_t off = q->rt[i] & QCOW2_RTE_OFFSET_MASK;
        if (!off) continue;
        if ((q->rt[i] & 0x1ff) || (off & (q->cluster_size - 1))) {
            say(ck,
                "ERROR: refcount block %" PRIu64 " at offset 0x%" PRIx64 " is not cluster "
                "aligned",
                i, q->rt[i]);
            ck->res->corruptions++;
            continue;
        }
        ref(ck, off, q->cluster_size, "refcount block");
    }
}

static void check_copied_flags(struct ck *ck)
{
    struct qcow2 *q = ck->q;
    for (uint32_t i = 0; i < q->l1_size; i++) {
        uint64_t e = q->l1[i], off = e & QCOW2_L1E_OFFSET_MASK, rc;
        if (!off || (off & (q->cluster_size - 1))) continue;
        if (qrc_get(q, off >> q->cluster_bits, &rc) < 0) continue;
        if ((rc == 1) != ((e & QCOW2_OFLAG_COPIED) != 0)) {
            say(ck,
                "ERROR OFLAG_COPIED L2 cluster: l1_index=%u l1_entry=%" PRIx64 " refcount=%" PRIu64,
                i, e, rc);
            ck->res->corruptions++;
        }
        if (read_exact(ck, ck->tbuf, q->cluster_size, off, "L2 table") < 0) continue;
        for (uint64_t j = 0; j < (1ull << q->l2_bits); j++) {
            uint64_t l2e = get_be64(ck->tbuf + 8 * j), host;
            enum qcow2_ctype t = qcow2_entry_type(q, l2e, &host);
            if ((t != QC_NORMAL && t != QC_ZERO) || !host || (host & (q->cluster_size - 1)))
                continue;
            if (qrc_get(q, host >> q->cluster_bits, &rc) < 0) continue;
            if ((rc == 1) != ((l2e & QCOW2_OFLAG_COPIED) != 0)) {
                say(ck, "ERROR OFLAG_COPIED data cluster: l2_entry=%" PRIx64 " refcount=%" PRIu64,
                    l2e, rc);
                ck->res->corruptions++;
            }
        }
    }
}

/* Past the end of the file, scan a refcount block's range only if the block
 * lies in the file and is the first table entry naming that cluster (a
 * damaged table naming one block many times would otherwise take forever;
 * the duplicate shows up as a corruption in the block's own reference count).
 * first_rt[cluster] = lowest rt index pointing at that cluster. */
static bool range_worth_scanning(const struct qcow2 *q, const uint64_t *first_rt, uint64_t i)
{
    if (i >= q->rt_entries) return false;
    uint64_t off = q->rt[i] & QCOW2_RTE_OFFSET_MASK;
    if (!off || off >= q->file_end || (off & (q->cluster_size - 1))) return false;
    return first_rt[off >> q->cluster_bits] == i;
}

int qcow2_check(struct disk *d, bool repair_leaks, struct qcow2_check_result *res,
                void (*report)(void *ctx, const char *line), void *ctx)
{
    if (!disk_is_qcow2(d)) return -EINVAL;
    struct qcow2 *q = to_qcow2(d);
    memset(res, 0, sizeof(*res));
    pthread_mutex_lock(&q->lock);
    int r = 0;
    uint64_t *first_rt = NULL;
    if (!d->readonly) r = qcow2_flush_locked(q);
    struct ck ck = {.q = q, .res = res, .report = report, .ctx = ctx};
    ck.nclusters = qcow2_size_to_clusters(q, q->file_end);
    ck.refs = calloc(ck.nclusters ? ck.nclusters : 1, sizeof(uint32_t));
    ck.tbuf = malloc(q->cluster_size);
    if (r < 0 || !ck.refs || !ck.tbuf) {
        r = r < 0 ? r : -ENOMEM;
        goto out;
    }
    uint64_t per = q->cluster_size;
    res->total_clusters = d->size / per + (d->size % per != 0);

    ref(&ck, 0, q->cluster_size, "header");
    walk_l1(&ck, q->l1_offset, q->l1_size, true);
    if (q->nb_snapshots) walk_snapshots(&ck);
    walk_refcount_structures(&ck);
    walk_extensions(&ck);

    /* Compare with the stored refcounts, over the file and whatever the
     * refcount blocks cover past its end. */
    uint64_t B = 1ull << q->rb_bits;
    uint64_t limit = ck.nclusters;
    first_rt = malloc((ck.nclusters ? ck.nclusters : 1) * sizeof(uint64_t));
    if (!first_rt) {
        r = -ENOMEM;
        goto out;
    }
    for (uint64_t c = 0; c < ck.nclusters; c++)
        first_rt[c] = UINT64_MAX;
    for (uint64_t i = 0; i < q->rt_entries; i++) {
        uint64_t off = q->rt[i] & QCOW2_RTE_OFFSET_MASK;
        if (off && off < q->file_end && first_rt[off >> q->cluster_bits] == UINT64_MAX)
            first_rt[off >> q->cluster_bits] = i;
    }
    for (uint64_t i = 0; i < q->rt_entries; i++)
        if ((q->rt[i] & QCOW2_RTE_OFFSET_MASK) && (i + 1) * B > limit) limit = (i + 1) * B;
    for (uint64_t c = 0; c < limit; c++) {
        uint64_t i = c / B;
        if (c >= ck.nclusters && c % B == 0 && !range_worth_scanning(q, first_rt, i)) {
            c = (i + 1) * B - 1;
            continue;
        }
        if (i >= q->rt_entries || !(q->rt[i] & QCOW2_RTE_OFFSET_MASK)) {
            for (uint64_t cc = c; cc < (i + 1) * B && cc < ck.nclusters; cc++) {
                if (ck.refs[cc]) {
                    say(&ck, "ERROR cluster %" PRIu64 " refcount=0 reference=%u", cc, ck.refs[cc]);
                    res->corruptions++;
                }
            }
            c = (i + 1) * B - 1;
            continue;
        }
        uint64_t rc;
        if (qrc_get(q, c, &rc) < 0) {
            char msg[300];
            disk_last_error(d, msg, sizeof(msg));
            say(&ck, "ERROR: %s", msg);
            res->check_errors++;
            c = (i + 1) * B - 1;
            continue;
        }
        uint64_t refs = c < ck.nclusters ? ck.refs[c] : 0;
        if (rc < refs) {
            say(&ck, "ERROR cluster %" PRIu64 " refcount=%" PRIu64 " reference=%" PRIu64, c, rc,
                refs);
            res->corruptions++;
        } else if (rc > refs) {
            say(&ck, "%s cluster %" PRIu64 " refcount=%" PRIu64 " reference=%" PRIu64,
                repair_leaks ? "Repairing" : "Leaked", c, rc, refs);
            res->leaks++;
        }
    }
    check_copied_flags(&ck);

    if (repair_leaks && res->leaks) {
        if (d->readonly) {
            r = -EROFS;
        } else if (res->corruptions || res->check_errors) {
            say(&ck, "Not repairing leaks: the image also has errors (use `qemu-img check -r "
                     "all`)");
        } else {
            for (uint64_t c = 0; c < limit && r == 0; c++) {
                uint64_t i = c / B, rc;
                if (i >= q->rt_entries || !(q->rt[i] & QCOW2_RTE_OFFSET_MASK) ||
                    (c >= ck.nclusters && c % B == 0 && !range_worth_scanning(q, first_rt, i))) {
                    c = (i + 1) * B - 1;
                    continue;
                }
                uint64_t refs = c < ck.nclusters ? ck.refs[c] : 0;
                r = qrc_get(q, c, &rc);
                if (r == 0 && rc > refs) {
                    r = qrc_update(q, c, -(int64_t)(rc - refs), NULL);
                    if (r == 0) res->leaks_fixed++;
                }
            }
            if (r == 0) r = qrc_flush_blocks(q);
            if (r == 0) r = qcow2_sync(q);
        }
    }
out:
    free(first_rt);
    free(ck.refs);
    free(ck.tbuf);
    pthread_mutex_unlock(&q->lock);
    return r;
}
