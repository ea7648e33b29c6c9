/*
 * cluster.c - a host's part in a cluster (cluster.h, docs/cluster.md):
 * joining (etcd, the schema, a lease, the replica), announcing the host,
 * the keeper thread (the lease kept alive every ttl/5 seconds; fencing
 * when it cannot be: every VM of the host killed a second before etcd
 * would let the lease expire; joining again with a new lease when etcd is
 * back; the leader election) and the background thread (catching up when
 * a watch event was missed, restarting this host's VMs after it came
 * back, the leader's work in heal.c).
 *
 * The keeper never takes kumod's lock: a host whose lock is held by a
 * write that waits for etcd still fences itself in time.
 */
#include "cloud/cluster/cluster_int.h"

#include "cloud/db.h"
#include "cloud/kumod.h"
#include "cloud/paths.h"
#include "cloud/state.h"
#include "cloud/supervisor.h"
#include "cloud/timefmt.h"
#include "lib/log.h"

#include <assert.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int64_t cluster_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool cluster_fenced(struct cluster *c)
{
    return atomic_load(&c->k->fenced);
}

/* ---------------------------------------------------------------- lease -- */

/* A new lease and this host's key under it. 0 or -1 + err. */
static int announce(struct cluster *c, char *err, size_t errlen)
{
    int64_t t0 = cluster_mono_ms();
    int64_t lease = etcd_lease_grant(c->etcd, c->ttl, err, errlen);
    if (lease < 0) return -1;
    struct kumod *k = c->k;
    char key[128], val[512];
    snprintf(key, sizeof(key), K_HOSTS "%s", c->host);
    snprintf(val, sizeof(val),
             "{\"name\":\"%s\",\"underlay\":\"%s\",\"publicAddress\":\"%s\",\"pid\":%d}", c->host,
             k->cfg.underlay, k->cfg.public_address, (int)getpid());
    if (etcd_put(c->etcd, key, val, strlen(val), lease, NULL, err, errlen) < 0) {
        char e2[128];
        etcd_lease_revoke(c->etcd, lease, e2, sizeof(e2));
        return -1;
    }
    atomic_store(&c->lease, lease);
    atomic_store(&c->lease_until, t0 + (int64_t)c->ttl * 1000);
    return 0;
}

/* Stop every VM of this host, now (no lock: a write may hold kumod's lock
 * while it waits for etcd). */
static void fence(struct cluster *c, const char *why)
{
    struct kumod *k = c->k;
    if (atomic_exchange(&k->fenced, true)) return;
    atomic_store(&k->leader, false);
    char needle[PATH_MAX];
    path_in_data(k, needle, "vms/");
    int n = proc_kill_all(needle, SIGKILL);
    log_error("cluster: %s: host %s fenced itself: %d kumo-vmm killed before its lease could "
              "expire (the region restarts its VMs elsewhere); it writes nothing until etcd "
              "answers again",
              why, c->host, n);
}

static atomic_bool rejoined; /* the background thread restarts this host's VMs */

/* The fence's own clock: whatever the keeper is blocked on (an etcd
 * request to a member that does not answer takes seconds), the host fences
 * itself one second before its lease can expire. Takes no lock. */
static void *watchdog(void *opaque)
{
    struct cluster *c = opaque;
    while (!atomic_load(&c->stop)) {
        usleep(50000);
        if (!atomic_load(&c->k->fenced) && cluster_mono_ms() > atomic_load(&c->lease_until) - 1000)
            fence(c, "no etcd member renewed its lease in time");
    }
    return NULL;
}

/* After a fence, with etcd answering again: a new lease, the host's key
 * again, and the background thread restarts its VMs that are still its
 * own (the region may have moved them meanwhile). */
static void rejoin(struct cluster *c, int64_t old_lease)
{
    char err[512];
    if (old_lease > 0) etcd_lease_revoke(c->etcd, old_lease, err, sizeof(err));
    if (announce(c, err, sizeof(err)) < 0) {
        log_warn("cluster: joining again: %s", err);
        return;
    }
    atomic_store(&c->k->fenced, false);
    atomic_store(&rejoined, true);
    log_info("cluster: host %s joined again with a new lease", c->host);
}

static void keep(struct cluster *c)
{
    struct kumod *k = c->k;
    char err[512];
    int64_t t0 = cluster_mono_ms(), left = 0, lease = atomic_load(&c->lease);
    int rc = etcd_lease_keepalive(c->etcd, lease, &left, err, sizeof(err));
    if (rc == 0 && left > 0 && !atomic_load(&k->fenced)) {
        atomic_store(&c->lease_until, t0 + (int64_t)c->ttl * 1000);
    } else if (rc == 0) { /* etcd answers again after a fence, or the lease is gone */
        fence(c, "its lease expired");
        rejoin(c, left > 0 ? lease : 0);
    } else if (cluster_mono_ms() > atomic_load(&c->lease_until) - 1000) {
        char why[600];
        snprintf(why, sizeof(why), "no etcd member renewed its lease (%.500s)", err);
        fence(c, why);
    } else {
        log_warn("cluster: renewing the lease: %s", err);
    }
}

/* The leader election: the key /kumo/leader, made only when absent, under
 * this host's lease. */
static void elect(struct cluster *c)
{
    struct kumod *k = c->k;
    if (atomic_load(&k->fenced)) return;
    int64_t lease = atomic_load(&c->lease);
    char err[512];
    struct etcd_txn *t = etcd_txn_new();
    if (!t) return;
    etcd_txn_cmp(t, K_LEADER, ETCD_CREATE, ETCD_EQUAL, 0);
    etcd_txn_put(t, true, K_LEADER, c->host, strlen(c->host), lease);
    etcd_txn_get(t, false, K_LEADER, NULL);
    bool won = false;
    struct etcd_range r;
    if (etcd_txn_commit(c->etcd, t, &won, NULL, &r, err, sizeof(err)) == 0) {
        bool mine =
            won || (r.n == 1 && !strcmp(r.kvs[0].value, c->host) && r.kvs[0].lease == lease);
        if (mine && !atomic_exchange(&k->leader, true))
            log_info("cluster: host %s is the leader", c->host);
        if (!mine && atomic_exchange(&k->leader, false))
            log_warn("cluster: host %s is no longer the leader (%s is)", c->host,
                     r.n ? r.kvs[0].value : "nobody");
    }
    etcd_range_free(&r);
    etcd_txn_free(t);
}

static void *keeper(void *opaque)
{
    struct cluster *c = opaque;
    int64_t period = (int64_t)c->ttl * 1000 / 5;
    if (period < 200) period = 200;
    while (!atomic_load(&c->stop)) {
        int64_t t0 = cluster_mono_ms();
        keep(c);
        elect(c);
        int64_t left = t0 + period - cluster_mono_ms();
        while (left > 0 && !atomic_load(&c->stop)) {
            usleep((useconds_t)(left > 100 ? 100 : left) * 1000);
            left = t0 + period - cluster_mono_ms();
        }
    }
    return NULL;
}

/* ------------------------------------------------------------ background -- */

/* After this host was fenced and joined again: its VMs that the region did
 * not move elsewhere were killed by the fence; start them again. */
static void restart_own(struct cluster *c)
{
    struct kumod *k = c->k;
    kumod_lock(k);
    int64_t ids[256];
    int n = 0;
    sqlite3_stmt *st = db_stmt(k->db,
                               "SELECT id FROM vms WHERE host_id = ? AND op IS NULL AND"
                               " power_state IN ('Starting', 'Running', 'Unavailable')",
                               "i", k->host_id);
    while (st && n < 256 && sqlite3_step(st) == SQLITE_ROW)
        ids[n++] = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    for (int i = 0; i < n; i++) {
        struct db *db = k->db;
        int64_t now = time_now_ms();
        int rc = db_begin(db);
        /* still this host's and idle, now that the state is fresh */
        if (rc == 0 &&
            db_int(db, NULL, 0,
                   "SELECT count(*) FROM vms WHERE id = ? AND host_id = ? AND op IS NULL", "ii",
                   ids[i], k->host_id) == 1) {
            rc = db_exec(db,
                         "UPDATE vms SET op = 'start', op_started_ms = ?, pid = NULL,"
                         " pid_start = NULL WHERE id = ?",
                         "ii", now, ids[i]);
            if (rc == 0)
                rc = vm_set_state(db, ids[i], NULL, PV_UPDATING,
                                  "restarting: its host was cut off from the cluster and is back",
                                  now);
        }
        if (rc == 0) rc = db_commit(db);
        if (rc < 0) {
            log_warn("cluster: VM %" PRId64 ": %s", ids[i], db_errmsg(db));
            db_rollback(db);
        }
    }
    replica_after_apply(c);
    kumod_unlock(k);
}

/* The leader's name in the state, for `kumo host list` on any host. */
static void record_leader(struct cluster *c)
{
    struct kumod *k = c->k;
    struct db *db = k->db;
    kumod_lock(k);
    char now[64] = "";
    db_text(db, now, sizeof(now), "SELECT value FROM meta WHERE key = 'cluster.leader'", "");
    if (strcmp(now, c->host) != 0) {
        int rc = db_begin(db);
        if (rc == 0)
            rc =
                db_exec(db, "INSERT OR REPLACE INTO meta (key, value) VALUES ('cluster.leader', ?)",
                        "t", c->host);
        if (rc == 0) rc = db_commit(db);
        if (rc < 0) {
            log_warn("cluster: recording the leader: %s", db_errmsg(db));
            db_rollback(db);
        }
    }
    kumod_unlock(k);
}

static void *background(void *opaque)
{
    struct cluster *c = opaque;
    struct kumod *k = c->k;
    int64_t last_poll = 0;
    bool recorded = false;
    while (!atomic_load(&c->stop)) {
        usleep(250000);
        if (atomic_load(&k->fenced)) continue;
        bool leads = atomic_load(&k->leader);
        if (leads && !recorded) record_leader(c);
        recorded = leads;
        if (atomic_exchange(&rejoined, false)) restart_own(c);
        int64_t now = cluster_mono_ms();
        if (now - last_poll >= 2000) { /* in case a watch event was missed */
            last_poll = now;
            int64_t head = replica_head(c);
            kumod_lock(k);
            if (head > c->applied) {
                char err[512];
                if (replica_catch_up(c, err, sizeof(err)) < 0) log_warn("cluster: %s", err);
                replica_after_apply(c);
            }
            kumod_unlock(k);
        }
        if (atomic_load(&k->leader)) {
            heal_round(c, (uint64_t)now);
            kumod_lock(k);
            if (atomic_load(&k->leader) && !atomic_load(&k->fenced)) snapshot_maybe(c);
            kumod_unlock(k);
        }
    }
    return NULL;
}

/* --------------------------------------------------------------- public -- */

/* One API token for the region, so that a client's token works on every
 * host: the first host's, kept in /kumo/token; a host with another one
 * takes the region's (and writes it to its token file). */
static int share_token(struct cluster *c, char *err, size_t errlen)
{
    struct kumod *k = c->k;
    struct etcd_txn *t = etcd_txn_new();
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    etcd_txn_cmp(t, "/kumo/token", ETCD_CREATE, ETCD_EQUAL, 0);
    etcd_txn_put(t, true, "/kumo/token", k->token, strlen(k->token), 0);
    etcd_txn_get(t, false, "/kumo/token", NULL);
    bool made = false;
    struct etcd_range r;
    int rc = etcd_txn_commit(c->etcd, t, &made, NULL, &r, err, errlen);
    etcd_txn_free(t);
    if (rc < 0) return -1;
    if (!made && r.n == 1 && r.kvs[0].vlen == 64 && strcmp(r.kvs[0].value, k->token) != 0) {
        char path[PATH_MAX], tmp[PATH_MAX + 8];
        path_in_data(k, path, "token");
        snprintf(tmp, sizeof(tmp), "%s.new", path);
        FILE *f = fopen(tmp, "w");
        bool ok = f && fprintf(f, "%s\n", r.kvs[0].value) > 0;
        if (f) ok = fflush(f) == 0 && fsync(fileno(f)) == 0 && ok;
        if (f) fclose(f);
        if (!ok || rename(tmp, path) < 0) {
            snprintf(err, errlen, "%s: cannot write the cluster's API token", path);
            etcd_range_free(&r);
            return -1;
        }
        snprintf(k->token, sizeof(k->token), "%s", r.kvs[0].value);
        log_info("cluster: this host takes the cluster's API token (%s)", path);
    }
    etcd_range_free(&r);
    return 0;
}

struct cluster *cluster_join(struct kumod *k, char *err, size_t errlen)
{
    struct cluster *c = calloc(1, sizeof(*c));
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->k = k;
    c->ttl = k->cfg.cluster_ttl > 0 ? k->cfg.cluster_ttl : 5;
    snprintf(c->host, sizeof(c->host), "%s", k->host_name);
    c->etcd = etcd_open(k->cfg.cluster, 3000, err, errlen);
    if (!c->etcd) goto fail;
    if (announce(c, err, errlen) < 0) goto fail; /* a lease for the write lock */
    if (share_token(c, err, errlen) < 0) goto fail;
    k->clustered = true;
    k->cluster = c;
    if (replica_init(c, err, errlen) < 0) goto fail;
    return c;
fail:
    k->clustered = false;
    k->cluster = NULL;
    if (c->etcd) etcd_close(c->etcd);
    free(c);
    return NULL;
}

int cluster_start(struct cluster *c, char *err, size_t errlen)
{
    if (replica_watch(c, err, errlen) < 0) return -1;
    elect(c);
    if (pthread_create(&c->keeper, NULL, keeper, c) != 0) {
        snprintf(err, errlen, "cannot start the cluster's keeper thread");
        return -1;
    }
    if (pthread_create(&c->leader_thread, NULL, background, c) != 0) {
        atomic_store(&c->stop, true);
        pthread_join(c->keeper, NULL);
        snprintf(err, errlen, "cannot start the cluster's background thread");
        return -1;
    }
    if (pthread_create(&c->watchdog, NULL, watchdog, c) != 0) {
        atomic_store(&c->stop, true);
        pthread_join(c->keeper, NULL);
        pthread_join(c->leader_thread, NULL);
        snprintf(err, errlen, "cannot start the cluster's watchdog thread");
        return -1;
    }
    c->threads = true;
    return 0;
}

void cluster_stop(struct cluster *c)
{
    if (!c) return;
    atomic_store(&c->stop, true);
    if (c->threads) {
        pthread_join(c->keeper, NULL);
        pthread_join(c->leader_thread, NULL);
        pthread_join(c->watchdog, NULL);
        c->threads = false;
    }
    replica_stop(c);
    /* the host leaves: its VMs stop with it (they must not outlive its
     * lease), and the lease goes now, so that the region need not wait for
     * it to expire. Writes fail from here on (fenced). */
    fence(c, "kumod is stopping");
    char err[256];
    if (etcd_lease_revoke(c->etcd, atomic_load(&c->lease), err, sizeof(err)) < 0)
        log_warn("cluster: revoking the lease: %s (it expires in %d s)", err, c->ttl);
    /* c stays: the database's replicator points at it until kumod ends */
}
