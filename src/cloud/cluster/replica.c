/*
 * replica.c - kumod's state as a replica of a log kept in etcd
 * (docs/cluster.md, "The state"). The db.h replicator: a write transaction
 * takes the cluster's write lock (/kumo/wlock, bound to the host's lease)
 * and catches up before BEGIN, and its changeset becomes log entry N+1 in
 * one etcd transaction before COMMIT; entries of other hosts are applied
 * in order as a watch brings them, each in a local transaction with its
 * index (cluster_local.applied); after them, kumod does what a local
 * commit would have done (replica_after_apply).
 *
 * An entry's value: "K1 HOST TXID\n" then the SQLite changeset.
 */
#include "cloud/cluster/cluster_int.h"

#include "cloud/db.h"
#include "cloud/jobs.h"
#include "cloud/kumod.h"
#include "cloud/netplane.h"
#include "lib/log.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

static void log_key(int64_t idx, char *buf, size_t len)
{
    snprintf(buf, len, K_LOG "%020" PRId64, idx);
}

static int64_t key_index(const char *key)
{
    if (strncmp(key, K_LOG, strlen(K_LOG)) != 0) return -1;
    char *end;
    long long v = strtoll(key + strlen(K_LOG), &end, 10);
    return *end || v <= 0 ? -1 : (int64_t)v;
}

static int64_t local_applied(struct db *db)
{
    return db_int(db, NULL, 0, "SELECT value FROM cluster_local WHERE key = 'applied'", "");
}

/* ------------------------------------------------------- the write lock -- */

static int lock_acquire(struct cluster *c, char *err, size_t errlen)
{
    int64_t deadline = cluster_mono_ms() + CLUSTER_LOCK_WAIT_MS;
    useconds_t wait = 500;
    char holder[160] = "nobody answered";
    for (;;) {
        if (cluster_fenced(c)) {
            snprintf(err, errlen,
                     "host %s is cut off from etcd (fenced): it cannot change the state now; "
                     "ask another host of the cluster",
                     c->host);
            return -1;
        }
        int64_t lease = atomic_load(&c->lease);
        /* a read first: an attempt to take a held lock would be a write
         * (a Raft proposal, an fsync on every member) for nothing */
        struct etcd_range held;
        char e1[512];
        if (etcd_range(c->etcd, K_WLOCK, NULL, 0, &held, e1, sizeof(e1)) == 0 && held.n == 1 &&
            !(held.kvs[0].lease == lease && !strcmp(held.kvs[0].value, c->host))) {
            snprintf(holder, sizeof(holder), "host %.60s", held.kvs[0].value);
            etcd_range_free(&held);
            if (cluster_mono_ms() > deadline) {
                snprintf(err, errlen,
                         "the cluster's write lock was not free for %d s (holder: %s); try again",
                         CLUSTER_LOCK_WAIT_MS / 1000, holder);
                return -1;
            }
            usleep(wait);
            if (wait < 4000) wait *= 2;
            continue;
        }
        etcd_range_free(&held);
        struct etcd_txn *t = etcd_txn_new();
        if (!t) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        etcd_txn_cmp(t, K_WLOCK, ETCD_CREATE, ETCD_EQUAL, 0);
        etcd_txn_put(t, true, K_WLOCK, c->host, strlen(c->host), lease);
        etcd_txn_get(t, false, K_WLOCK, NULL);
        bool ok = false;
        int64_t rev = 0;
        struct etcd_range r;
        char e2[512];
        int rc = etcd_txn_commit(c->etcd, t, &ok, &rev, &r, e2, sizeof(e2));
        etcd_txn_free(t);
        if (rc == 0 && ok) {
            c->lock_rev = rev;
            return 0;
        }
        if (rc == 0 && r.n == 1) {
            bool ours = !strcmp(r.kvs[0].value, c->host) && r.kvs[0].lease == lease;
            snprintf(holder, sizeof(holder), "host %.60s", r.kvs[0].value);
            if (ours) { /* left by a transaction of ours whose release was lost */
                c->lock_rev = r.kvs[0].create_rev;
                etcd_range_free(&r);
                return 0;
            }
        } else if (rc < 0) {
            snprintf(holder, sizeof(holder), "unknown (%.120s)", e2);
        }
        etcd_range_free(&r);
        if (cluster_mono_ms() > deadline) {
            snprintf(err, errlen,
                     "the cluster's write lock was not free for %d s (holder: %s); try again",
                     CLUSTER_LOCK_WAIT_MS / 1000, holder);
            return -1;
        }
        usleep(wait);
        if (wait < 4000) wait *= 2; /* the lock changes hands often: look again soon */
    }
}

static void lock_release(struct cluster *c)
{
    if (!c->lock_rev) return;
    struct etcd_txn *t = etcd_txn_new();
    if (t) {
        bool ok;
        char e2[256];
        etcd_txn_cmp(t, K_WLOCK, ETCD_CREATE, ETCD_EQUAL, c->lock_rev);
        etcd_txn_delete(t, true, K_WLOCK, NULL);
        if (etcd_txn_commit(c->etcd, t, &ok, NULL, NULL, e2, sizeof(e2)) < 0)
            log_warn("cluster: releasing the write lock: %s (it goes with the lease)", e2);
        etcd_txn_free(t);
    }
    c->lock_rev = 0;
}

/* ------------------------------------------------------------ applying -- */

static void note_tables(struct cluster *c, const char *tables)
{
    /* tables is ",a,b,"; keep a union in pending_tables */
    char copy[512];
    snprintf(copy, sizeof(copy), "%s", tables);
    for (char *save = NULL, *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char needle[96];
        snprintf(needle, sizeof(needle), ",%s,", t);
        if (strstr(c->pending_tables, needle)) continue;
        size_t used = strlen(c->pending_tables);
        snprintf(c->pending_tables + used, sizeof(c->pending_tables) - used, "%s",
                 used ? needle + 1 : needle);
    }
}

/* Entry idx (its value) into the local database. */
static int apply_entry(struct cluster *c, int64_t idx, const char *value, size_t vlen, char *err,
                       size_t errlen)
{
    const char *nl = memchr(value, '\n', vlen);
    if (vlen < 3 || memcmp(value, "K1 ", 3) != 0 || !nl) {
        snprintf(err, errlen, "log entry %" PRId64 " is not a kumod entry", idx);
        return -1;
    }
    const char *cs = nl + 1;
    size_t n = vlen - (size_t)(cs - value);
    char tables[512];
    struct db *db = c->k->db;
    if (db_apply_changeset(db, cs, (int)n,
                           "UPDATE cluster_local SET value = ? WHERE key = 'applied'", idx, tables,
                           sizeof(tables)) < 0) {
        snprintf(err, errlen, "applying log entry %" PRId64 ": %s", idx, db_errmsg(db));
        return -1;
    }
    c->applied = idx;
    note_tables(c, tables);
    return 0;
}

int replica_catch_up(struct cluster *c, char *err, size_t errlen)
{
    char from[64], end[64];
    etcd_prefix_end(K_LOG, end, sizeof(end));
    for (;;) {
        log_key(c->applied + 1, from, sizeof(from));
        struct etcd_range r;
        if (etcd_range(c->etcd, from, end, 64, &r, err, errlen) < 0) return -1;
        int rc = 0;
        bool restored = false;
        for (size_t i = 0; rc == 0 && i < r.n; i++) {
            int64_t idx = key_index(r.kvs[i].key);
            if (idx <= c->applied) continue;
            if (idx != c->applied + 1) { /* removed after a snapshot: start from it */
                rc = snapshot_restore(c, err, errlen);
                restored = true;
                break;
            }
            rc = apply_entry(c, idx, r.kvs[i].value, r.kvs[i].vlen, err, errlen);
        }
        /* (no entry after ours means none is missing: a snapshot keeps
         * the entries before it that are recent, and all after it) */
        bool more = r.more;
        etcd_range_free(&r);
        if (rc < 0) return -1;
        if (restored) continue;
        if (!more) return 0;
    }
}

int64_t replica_head(struct cluster *c)
{
    struct etcd_range r;
    char err[256];
    if (etcd_range(c->etcd, K_HEAD, NULL, 0, &r, err, sizeof(err)) < 0) return -1;
    int64_t head = r.n ? strtoll(r.kvs[0].value, NULL, 10) : 0;
    etcd_range_free(&r);
    return head;
}

void replica_after_apply(struct cluster *c)
{
    struct kumod *k = c->k;
    assert(kumod_lock_held(k));
    if (!c->pending_tables[0]) return;
    static const char *const net_tables[] = {
        ",vnets,",      ",subnets,",         ",nsgs,", ",nsg_rules,", ",nics,",
        ",public_ips,", ",public_ip_ports,", ",vms,",  ",hosts,",     NULL};
    bool net = false;
    for (const char *const *t = net_tables; *t && !net; t++)
        net = strstr(c->pending_tables, *t) != NULL;
    bool vms = strstr(c->pending_tables, ",vms,") != NULL;
    c->pending_tables[0] = 0;
    if (net) netplane_sync(k);
    if (vms) { /* operations this host is to carry out */
        sqlite3_stmt *st = db_stmt(k->db,
                                   "SELECT id FROM vms WHERE op IS NOT NULL AND"
                                   " (host_id = ? OR (host_id IS NULL AND ?))",
                                   "ii", k->host_id, (int64_t)atomic_load(&k->leader));
        while (st && sqlite3_step(st) == SQLITE_ROW)
            if (k->jobs) jobs_submit(k->jobs, JOB_VM, sqlite3_column_int64(st, 0));
        sqlite3_finalize(st);
    }
    kumod_changed(k);
}

/* kumod's catch_up hook (an API request's start; lock held). */
static void request_catch_up(struct kumod *k)
{
    struct cluster *c = k->cluster;
    char err[512];
    if (!c || atomic_load(&k->fenced)) return; /* it answers from what it has */
    if (replica_catch_up(c, err, sizeof(err)) < 0) log_warn("cluster: %s", err);
    replica_after_apply(c);
}

/* ------------------------------------------------------ the replicator -- */

static int repl_begin(void *opaque, char *err, size_t errlen)
{
    struct cluster *c = opaque;
    if (lock_acquire(c, err, errlen) < 0) return -1;
    if (replica_catch_up(c, err, errlen) < 0) {
        lock_release(c);
        return -1;
    }
    /* (not before kumod has its threads, nor on paths that run alone) */
    if (c->k->jobs && kumod_lock_held(c->k)) replica_after_apply(c);
    return 0;
}

static int repl_commit(void *opaque, const void *cs, int n, char *err, size_t errlen)
{
    struct cluster *c = opaque;
    if (n == 0) return 0; /* nothing changed: no entry */
    int64_t idx = c->applied + 1;
    char key[64], head[32], next[32], hdr[160];
    log_key(idx, key, sizeof(key));
    snprintf(head, sizeof(head), "%" PRId64, c->applied);
    snprintf(next, sizeof(next), "%" PRId64, idx);
    int hl = snprintf(hdr, sizeof(hdr), "K1 %s %016" PRIx64 "-%" PRIu64 "\n", c->host,
                      (uint64_t)c->lock_rev, ++c->txn_seq);
    size_t vlen = (size_t)hl + (size_t)n;
    char *value = malloc(vlen);
    struct etcd_txn *t = etcd_txn_new();
    if (!value || !t) {
        free(value);
        etcd_txn_free(t);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(value, hdr, (size_t)hl);
    memcpy(value + hl, cs, (size_t)n);
    etcd_txn_cmp_value(t, K_HEAD, ETCD_EQUAL, head, strlen(head));
    etcd_txn_cmp(t, K_WLOCK, ETCD_CREATE, ETCD_EQUAL, c->lock_rev);
    etcd_txn_put(t, true, key, value, vlen, 0);
    etcd_txn_put(t, true, K_HEAD, next, strlen(next), 0);
    etcd_txn_delete(t, true, K_WLOCK, NULL);
    bool ok = false;
    char e2[512];
    int rc = etcd_txn_commit(c->etcd, t, &ok, NULL, NULL, e2, sizeof(e2));
    etcd_txn_free(t);
    if (rc < 0) { /* did it get there? the entry says whose it is */
        struct etcd_range r;
        if (etcd_range(c->etcd, key, NULL, 0, &r, err, errlen) == 0) {
            ok =
                r.n == 1 && r.kvs[0].vlen >= (size_t)hl && !memcmp(r.kvs[0].value, hdr, (size_t)hl);
            rc = 0;
            etcd_range_free(&r);
        }
        if (rc < 0 || !ok) {
            free(value);
            snprintf(err, errlen,
                     "etcd did not answer (%.300s): the change was not made; try again", e2);
            return -1;
        }
    }
    free(value);
    if (!ok) {
        snprintf(err, errlen,
                 "host %s lost the cluster's write lock before its change was committed (its "
                 "lease expired?): the change was not made; try again",
                 c->host);
        return -1;
    }
    c->lock_rev = 0; /* released by the transaction */
    c->applied = idx;
    if (db_exec(c->k->db, "UPDATE cluster_local SET value = ? WHERE key = 'applied'", "i", idx) <
        0) {
        snprintf(err, errlen, "recording log entry %" PRId64 ": %s", idx, db_errmsg(c->k->db));
        return -1; /* rolled back; the entry is applied from the log */
    }
    return 0;
}

static void repl_end(void *opaque, bool committed)
{
    struct cluster *c = opaque;
    lock_release(c);
    if (!committed) c->applied = local_applied(c->k->db);
}

/* ------------------------------------------------------------- the watch -- */

static void on_log(void *opaque, const struct etcd_event *ev, size_t n)
{
    struct cluster *c = opaque;
    struct kumod *k = c->k;
    kumod_lock(k);
    char err[512] = "";
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (ev[i].deleted) continue;
        int64_t idx = key_index(ev[i].kv.key);
        if (idx <= c->applied) continue; /* ours, or seen */
        if (idx == c->applied + 1)
            rc = apply_entry(c, idx, ev[i].kv.value, ev[i].kv.vlen, err, sizeof(err));
        else
            rc = replica_catch_up(c, err, sizeof(err));
    }
    if (rc < 0) log_error("cluster: %s", err);
    replica_after_apply(c);
    kumod_unlock(k);
}

static void on_lost(void *opaque, const char *why)
{
    struct cluster *c = opaque;
    log_warn("cluster: the log's watch: %s; reading the log again", why);
    kumod_lock(c->k);
    char err[512];
    if (replica_catch_up(c, err, sizeof(err)) < 0) log_error("cluster: %s", err);
    replica_after_apply(c);
    kumod_unlock(c->k);
    etcd_watch_restart(c->watch, 0);
}

int replica_watch(struct cluster *c, char *err, size_t errlen)
{
    char end[64];
    /* from the entry after the last applied: the watch's own start
     * revision is "now", and the catch-up in on_log fills any gap */
    c->watch = etcd_watch_start(c->etcd, K_LOG, etcd_prefix_end(K_LOG, end, sizeof(end)), 0, on_log,
                                on_lost, c, err, errlen);
    if (!c->watch) return -1;
    /* entries written between the catch-up and the watch's start */
    kumod_lock(c->k);
    int rc = replica_catch_up(c, err, errlen);
    replica_after_apply(c);
    kumod_unlock(c->k);
    return rc;
}

void replica_stop(struct cluster *c)
{
    etcd_watch_stop(c->watch);
    c->watch = NULL;
}

/* ------------------------------------------------------------ joining -- */

int replica_init(struct cluster *c, char *err, size_t errlen)
{
    struct db *db = c->k->db;
    if (db_exec(db,
                "CREATE TABLE IF NOT EXISTS cluster_local (key TEXT PRIMARY KEY, value NOT NULL)",
                "") < 0 ||
        db_exec(db, "INSERT OR IGNORE INTO cluster_local (key, value) VALUES ('applied', 0)", "") <
            0) {
        snprintf(err, errlen, "cluster_local: %s", db_errmsg(db));
        return -1;
    }
    /* the cluster: made by the first kumod (schema version and an id), or
     * joined if its schema is this kumod's */
    char want[96], id[40];
    uint64_t rnd[2] = {0, 0};
    if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) rnd[0] = (uint64_t)getpid();
    snprintf(id, sizeof(id), "%016" PRIx64 "%016" PRIx64, rnd[0], rnd[1]);
    snprintf(want, sizeof(want), "%d %s", db_migration_count, id);
    struct etcd_txn *t = etcd_txn_new();
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    etcd_txn_cmp(t, K_SCHEMA, ETCD_CREATE, ETCD_EQUAL, 0);
    etcd_txn_put(t, true, K_SCHEMA, want, strlen(want), 0);
    etcd_txn_put(t, true, K_HEAD, "0", 1, 0);
    etcd_txn_get(t, false, K_SCHEMA, NULL);
    bool made = false;
    struct etcd_range r;
    int rc = etcd_txn_commit(c->etcd, t, &made, NULL, &r, err, errlen);
    etcd_txn_free(t);
    if (rc < 0) return -1;
    char have[96];
    snprintf(have, sizeof(have), "%s", made ? want : (r.n ? r.kvs[0].value : ""));
    etcd_range_free(&r);
    int version = atoi(have);
    const char *sp = strchr(have, ' ');
    const char *cluster_id = sp ? sp + 1 : "";
    if (version != db_migration_count) {
        snprintf(err, errlen,
                 "the cluster's state has schema version %d and this kumod's is %d: every host "
                 "of a cluster runs the same kumod",
                 version, db_migration_count);
        return -1;
    }
    char mine[40] = "";
    db_text(db, mine, sizeof(mine), "SELECT value FROM cluster_local WHERE key = 'cluster'", "");
    if (mine[0] && strcmp(mine, cluster_id) != 0) {
        snprintf(err, errlen,
                 "this data directory belongs to another cluster (%s, not %s): give this host "
                 "an empty data directory to join",
                 mine, cluster_id);
        return -1;
    }
    if (!mine[0]) {
        if (db_int(db, NULL, 0, "SELECT count(*) FROM hosts", "") > 0) {
            snprintf(err, errlen,
                     "this data directory holds a single-host kumod's state: a host joins a "
                     "cluster with an empty data directory (taking a single host's state into "
                     "a cluster is not done)");
            return -1;
        }
        if (db_exec(db, "INSERT INTO cluster_local (key, value) VALUES ('cluster', ?)", "t",
                    cluster_id) < 0) {
            snprintf(err, errlen, "cluster_local: %s", db_errmsg(db));
            return -1;
        }
    }
    c->applied = local_applied(db);
    if (made) log_info("cluster: made a new cluster %s (schema %d)", cluster_id, version);
    c->repl = (struct db_replicator){
        .opaque = c, .begin = repl_begin, .commit = repl_commit, .end = repl_end};
    if (replica_catch_up(c, err, errlen) < 0) return -1;
    c->pending_tables[0] = 0;
    db_set_replicator(db, &c->repl);
    c->k->catch_up = request_catch_up;
    log_info("cluster: %s joined at log entry %" PRId64, c->host, c->applied);
    return 0;
}
