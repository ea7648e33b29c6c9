/*
 * qcow2_cache.c - how a qcow2 L2 table (or refcount block) is cached: a small
 * least-recently-used set of whole tables, kept as on disk (big-endian).
 * Tables are written back lazily: when evicted, or when the image is flushed.
 * Before a dirty table is written, the cache's before_writeback hook runs;
 * for L2 tables it writes the refcount blocks and syncs, so that an L2 entry
 * never reaches the disk before the refcount and the data it depends on.
 */
#include "storage/qcow2_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

int qcache_init(struct qcow2_cache *c, unsigned n, size_t table_size, const char *what,
                int (*before_writeback)(struct qcow2 *q))
{
    memset(c, 0, sizeof(*c));
    c->e = calloc(n, sizeof(*c->e));
    if (!c->e) return -ENOMEM;
    c->n = n;
    c->size = table_size;
    c->what = what;
    c->before_writeback = before_writeback;
    return 0;
}

void qcache_free(struct qcow2_cache *c)
{
    if (!c->e) return;
    for (unsigned i = 0; i < c->n; i++)
        free(c->e[i].data);
    free(c->e);
    c->e = NULL;
}

static int write_entry(struct qcow2 *q, struct qcow2_cache *c, struct qcow2_cache_entry *e)
{
    int r = qcow2_pwrite(q, e->data, c->size, e->offset);
    if (r < 0) {
        disk_set_error(&q->d, "%s: writing the qcow2 %s at offset 0x%" PRIx64 " failed: %s",
                       q->d.path, c->what, e->offset, strerror(-r));
        return r;
    }
    e->dirty = false;
    return 0;
}

int qcache_get(struct qcow2 *q, struct qcow2_cache *c, uint64_t offset, bool fresh, uint8_t **data)
{
    struct qcow2_cache_entry *victim = NULL;
    for (unsigned i = 0; i < c->n; i++) {
        struct qcow2_cache_entry *e = &c->e[i];
        if (e->offset == offset && e->data) {
            e->lru = ++c->tick;
            if (fresh) {
                memset(e->data, 0, c->size);
                e->dirty = true;
            }
            *data = e->data;
            return 0;
        }
        if (!victim || e->offset == 0 || (victim->offset != 0 && e->lru < victim->lru)) victim = e;
    }
    if (!fresh) {
        if (offset == 0 || (offset & (q->cluster_size - 1)) || offset >= QCOW2_MAX_HOST_OFFSET)
            return qcow2_corrupt(
                q, "%s: qcow2 %s offset 0x%" PRIx64 " is not aligned to a cluster (damaged image)",
                q->d.path, c->what, offset);
        if (offset + c->size > q->file_end)
            return qcow2_corrupt(q,
                                 "%s: qcow2 %s at offset 0x%" PRIx64
                                 " lies beyond the end of the file (truncated image?)",
                                 q->d.path, c->what, offset);
    }
    if (victim->dirty) {
        if (c->before_writeback) {
            int r = c->before_writeback(q);
            if (r < 0) return r;
        }
        int r = write_entry(q, c, victim);
        if (r < 0) return r;
    }
    if (!victim->data) {
        victim->data = malloc(c->size);
        if (!victim->data) return -ENOMEM;
    }
    victim->offset = 0;
    if (fresh) {
        memset(victim->data, 0, c->size);
        victim->dirty = true;
    } else {
        ssize_t n = io_pread(q->fd, victim->data, c->size, offset);
        if (n < 0) {
            disk_set_error(&q->d, "%s: reading the qcow2 %s at offset 0x%" PRIx64 " failed: %s",
                           q->d.path, c->what, offset, strerror((int)-n));
            return (int)n;
        }
        if ((size_t)n < c->size)
            return qcow2_corrupt(q,
                                 "%s: qcow2 %s at offset 0x%" PRIx64
                                 " lies beyond the end of the file (truncated image?)",
                                 q->d.path, c->what, offset);
        victim->dirty = false;
    }
    victim->offset = offset;
    victim->lru = ++c->tick;
    *data = victim->data;
    return 0;
}

void qcache_mark_dirty(struct qcow2_cache *c, const uint8_t *data)
{
    for (unsigned i = 0; i < c->n; i++) {
        if (c->e[i].data == data) {
            c->e[i].dirty = true;
            return;
        }
    }
}

bool qcache_dirty(const struct qcow2_cache *c)
{
    for (unsigned i = 0; i < c->n; i++)
        if (c->e[i].offset && c->e[i].dirty) return true;
    return false;
}

int qcache_flush(struct qcow2 *q, struct qcow2_cache *c)
{
    if (!qcache_dirty(c)) return 0;
    if (c->before_writeback) {
        int r = c->before_writeback(q);
        if (r < 0) return r;
    }
    for (unsigned i = 0; i < c->n; i++) {
        struct qcow2_cache_entry *e = &c->e[i];
        if (e->offset && e->dirty) {
            int r = write_entry(q, c, e);
            if (r < 0) return r;
        }
    }
    return 0;
}

void qcache_drop(struct qcow2_cache *c, uint64_t offset)
{
    for (unsigned i = 0; i < c->n; i++) {
        if (c->e[i].offset == offset) {
            c->e[i].offset = 0;
            c->e[i].dirty = false;
        }
    }
}

bool qcache_overlaps(const struct qcow2_cache *c, uint64_t off, uint64_t len)
{
    for (unsigned i = 0; i < c->n; i++) {
        uint64_t o = c->e[i].offset;
        if (o && off < o + c->size && o < off + len) return true;
    }
    return false;
}
