/*
 * snapshot.c - keeping the log short (docs/cluster.md, "The log"). Every
 * snapshot_every entries the leader stores the state as of its last
 * applied entry I - its SQLite database, serialised, in chunks under
 * /kumo/snap/I/ - and records it in /kumo/snapshot ("I CHUNKS BYTES");
 * then it removes the log's entries before I - SNAPSHOT_KEEP and older
 * snapshots, and compacts etcd's history. A host whose next entry is gone
 * (it was down, or joins late) restores the snapshot into its database
 * with SQLite's backup API and goes on with the entries after I.
 *
 * The image includes cluster_local, whose applied index is I and cluster
 * id the cluster's: right for whoever restores it.
 */
#include "cloud/cluster/cluster_int.h"

#include "cloud/db.h"
#include "cloud/kumod.h"
#include "lib/log.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define K_SNAPSHOT    "/kumo/snapshot"
#define K_SNAP        "/kumo/snap/"
#define SNAP_CHUNK    (512 * 1024) /* bytes per key (base64 in a request etcd takes) */
#define SNAPSHOT_KEEP 256          /* entries kept before a snapshot, for hosts a little behind */

static void chunk_key(int64_t idx, size_t k, char *buf, size_t len)
{
    snprintf(buf, len, K_SNAP "%020" PRId64 "/%06zu", idx, k);
}

/* The latest snapshot: its index (0: none), chunks and size. */
static int latest(struct cluster *c, int64_t *idx, size_t *chunks, size_t *bytes, char *err,
                  size_t errlen)
{
    struct etcd_range r;
    *idx = 0;
    *chunks = *bytes = 0;
    if (etcd_range(c->etcd, K_SNAPSHOT, NULL, 0, &r, err, errlen) < 0) return -1;
    if (r.n == 1) {
        long long i;
        size_t n, b;
        if (sscanf(r.kvs[0].value, "%lld %zu %zu", &i, &n, &b) == 3) {
            *idx = i;
            *chunks = n;
            *bytes = b;
        }
    }
    etcd_range_free(&r);
    return 0;
}

int snapshot_take(struct cluster *c, char *err, size_t errlen)
{
    struct kumod *k = c->k;
    assert(kumod_lock_held(k));
    int64_t idx = c->applied;
    sqlite3_int64 size = 0;
    unsigned char *img = sqlite3_serialize(db_handle(k->db), "main", &size, 0);
    if (!img || size <= 0) {
        snprintf(err, errlen, "serialising the database: %s", sqlite3_errmsg(db_handle(k->db)));
        return -1;
    }
    size_t n = ((size_t)size + SNAP_CHUNK - 1) / SNAP_CHUNK;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char key[96];
        size_t off = i * SNAP_CHUNK, len = (size_t)size - off;
        if (len > SNAP_CHUNK) len = SNAP_CHUNK;
        chunk_key(idx, i, key, sizeof(key));
        rc = etcd_put(c->etcd, key, img + off, len, 0, NULL, err, errlen);
    }
    sqlite3_free(img);
    char val[96];
    int64_t rev = 0;
    snprintf(val, sizeof(val), "%" PRId64 " %zu %lld", idx, n, (long long)size);
    if (rc == 0) rc = etcd_put(c->etcd, K_SNAPSHOT, val, strlen(val), 0, &rev, err, errlen);
    if (rc < 0) return -1;
    /* what the snapshot makes unnecessary */
    char from[96], to[96];
    snprintf(from, sizeof(from), K_LOG);
    int every = k->cfg.cluster_snapshot_every > 0 ? k->cfg.cluster_snapshot_every : 10000;
    int64_t keep = every < SNAPSHOT_KEEP ? every : SNAPSHOT_KEEP;
    snprintf(to, sizeof(to), K_LOG "%020" PRId64, idx > keep ? idx - keep : 0);
    int64_t gone = 0;
    if (etcd_delete(c->etcd, from, to, &gone, err, errlen) < 0) return -1;
    snprintf(to, sizeof(to), K_SNAP "%020" PRId64, idx);
    if (etcd_delete(c->etcd, K_SNAP, to, NULL, err, errlen) < 0) return -1;
    if (etcd_compact(c->etcd, rev, err, errlen) < 0) return -1;
    c->snapshot = idx;
    log_info("cluster: snapshot of the state at log entry %" PRId64 " (%lld bytes); %" PRId64
             " older entries removed",
             idx, (long long)size, gone);
    return 0;
}

int snapshot_restore(struct cluster *c, char *err, size_t errlen)
{
    struct kumod *k = c->k;
    int64_t idx;
    size_t n, bytes;
    if (latest(c, &idx, &n, &bytes, err, errlen) < 0) return -1;
    if (idx <= c->applied) {
        snprintf(err, errlen,
                 "the log has no entry %" PRId64 " and no later snapshot (the latest is of "
                 "entry %" PRId64 "): this host cannot catch up; give it an empty data directory",
                 c->applied + 1, idx);
        return -1;
    }
    unsigned char *img = sqlite3_malloc64(bytes ? bytes : 1);
    if (!img) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t got = 0;
    for (size_t i = 0; i < n; i++) {
        char key[96];
        struct etcd_range r;
        chunk_key(idx, i, key, sizeof(key));
        if (etcd_range(c->etcd, key, NULL, 0, &r, err, errlen) < 0) {
            sqlite3_free(img);
            return -1;
        }
        if (r.n != 1 || got + r.kvs[0].vlen > bytes) {
            etcd_range_free(&r);
            sqlite3_free(img);
            snprintf(err, errlen, "snapshot %" PRId64 ": chunk %zu is missing or too long", idx, i);
            return -1;
        }
        memcpy(img + got, r.kvs[0].value, r.kvs[0].vlen);
        got += r.kvs[0].vlen;
        etcd_range_free(&r);
    }
    if (got != bytes) {
        sqlite3_free(img);
        snprintf(err, errlen, "snapshot %" PRId64 ": %zu bytes of %zu", idx, got, bytes);
        return -1;
    }
    /* the image as a database of its own, copied over this host's */
    sqlite3 *src = NULL;
    int rc = sqlite3_open(":memory:", &src);
    if (rc == SQLITE_OK)
        rc = sqlite3_deserialize(src, "main", img, (sqlite3_int64)bytes, (sqlite3_int64)bytes,
                                 SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_READONLY);
    else
        sqlite3_free(img);
    sqlite3_backup *b =
        rc == SQLITE_OK ? sqlite3_backup_init(db_handle(k->db), "main", src, "main") : NULL;
    if (b) {
        rc = sqlite3_backup_step(b, -1);
        sqlite3_backup_finish(b);
    }
    if (!b || rc != SQLITE_DONE) {
        snprintf(err, errlen, "restoring snapshot %" PRId64 ": %s", idx,
                 sqlite3_errmsg(b ? db_handle(k->db) : src));
        sqlite3_close(src);
        return -1;
    }
    sqlite3_close(src);
    c->applied =
        db_int(k->db, NULL, 0, "SELECT value FROM cluster_local WHERE key = 'applied'", "");
    c->snapshot = idx;
    /* everything may have changed */
    snprintf(c->pending_tables, sizeof(c->pending_tables), ",vms,hosts,vnets,");
    log_info("cluster: restored the snapshot of log entry %" PRId64 " (%zu bytes)", idx, bytes);
    return c->applied == idx ? 0 : -1;
}

void snapshot_maybe(struct cluster *c)
{
    struct kumod *k = c->k;
    assert(kumod_lock_held(k));
    int every = k->cfg.cluster_snapshot_every > 0 ? k->cfg.cluster_snapshot_every : 10000;
    if (!c->snapshot_known) {
        int64_t idx;
        size_t n, b;
        char err[256];
        if (latest(c, &idx, &n, &b, err, sizeof(err)) < 0) return;
        c->snapshot = idx;
        c->snapshot_known = true;
    }
    if (c->applied - c->snapshot < every) return;
    char err[512];
    if (snapshot_take(c, err, sizeof(err)) < 0) log_warn("cluster: snapshot: %s", err);
}
