/*
 * heal.c - the leader's work on hosts (docs/cluster.md, "Host failure and
 * fencing", "Draining"), one round every quarter second:
 *
 *   - a host whose /kumo/hosts/ key is gone (its lease expired) is marked
 *     Down, and its VMs that ran are Unavailable (no operation, no process);
 *   - a Down host whose key is back is Up again, and its Unavailable VMs
 *     are started;
 *   - CLUSTER_GRACE_MS after a host went Down, its Unavailable VMs are
 *     placed on other hosts and started there, when their disks are on
 *     storage the other hosts see (the host's shared_storage) - each in a
 *     transaction that moves it only if it is still on the down host, so
 *     a VM is restarted once whoever leads;
 *   - a Draining host's VMs leave it: running ones get the "relocate"
 *     operation (stopped there, placed and started elsewhere, vmops.c),
 *     stopped ones are placed elsewhere at once.
 *
 * Times are the wall clock (hosts.state_ms), so a new leader goes on from
 * where the old one was.
 */
#include "cloud/cluster/cluster_int.h"

#include "cloud/db.h"
#include "cloud/jobs.h"
#include "cloud/kumod.h"
#include "cloud/placement.h"
#include "cloud/state.h"
#include "cloud/timefmt.h"
#include "lib/log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_HOSTS 64
#define MAX_VMS   512

struct host_row {
    int64_t id, state_ms;
    char name[64], state[16];
    bool shared, alive;
};

static size_t vm_ids(struct db *db, int64_t *ids, size_t max, const char *sql, int64_t host)
{
    size_t n = 0;
    sqlite3_stmt *st = db_stmt(db, sql, "i", host);
    while (st && n < max && sqlite3_step(st) == SQLITE_ROW)
        ids[n++] = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static void commit_or_log(struct db *db, int rc, const char *what)
{
    if (rc == 0) rc = db_commit(db);
    if (rc < 0) {
        log_warn("cluster: %s: %s", what, db_errmsg(db));
        db_rollback(db);
    }
}

static void mark_down(struct kumod *k, const struct host_row *h)
{
    struct db *db = k->db;
    int64_t now = time_now_ms();
    char msg[160];
    snprintf(msg, sizeof(msg), "unavailable: its host %s is down", h->name);
    int rc = db_begin(db);
    if (rc == 0)
        rc = db_exec(db, "UPDATE hosts SET state = 'Down', state_ms = ? WHERE id = ?", "ii", now,
                     h->id);
    int64_t ids[MAX_VMS];
    size_t n = rc == 0 ? vm_ids(db, ids, MAX_VMS,
                                "SELECT id FROM vms WHERE host_id = ? AND (op IS NOT NULL OR"
                                " power_state IN ('Starting', 'Running', 'Stopping'))",
                                h->id)
                       : 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = db_exec(db,
                     "UPDATE vms SET op = NULL, pid = NULL, pid_start = NULL, started_ms = NULL"
                     " WHERE id = ?",
                     "i", ids[i]);
        if (rc == 0) rc = vm_set_state(db, ids[i], PS_UNAVAILABLE, NULL, msg, now);
    }
    log_warn("cluster: host %s is down (its lease expired): %zu VMs unavailable", h->name, n);
    commit_or_log(db, rc, "marking a host down");
}

static void mark_up(struct kumod *k, const struct host_row *h)
{
    struct db *db = k->db;
    int64_t now = time_now_ms();
    int rc = db_begin(db);
    if (rc == 0)
        rc = db_exec(db, "UPDATE hosts SET state = 'Up', state_ms = ? WHERE id = ?", "ii", now,
                     h->id);
    int64_t ids[MAX_VMS];
    size_t n = rc == 0 ? vm_ids(db, ids, MAX_VMS,
                                "SELECT id FROM vms WHERE host_id = ? AND op IS NULL AND"
                                " power_state = 'Unavailable'",
                                h->id)
                       : 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rc = db_exec(db, "UPDATE vms SET op = 'start', op_started_ms = ? WHERE id = ?", "ii", now,
                     ids[i]);
        if (rc == 0)
            rc = vm_set_state(db, ids[i], NULL, PV_UPDATING, "its host is back: starting", now);
    }
    log_info("cluster: host %s is up again: %zu VMs to start", h->name, n);
    commit_or_log(db, rc, "marking a host up");
    for (size_t i = 0; i < n; i++)
        if (k->jobs) jobs_submit(k->jobs, JOB_VM, ids[i]);
}

/* Place VM vm elsewhere than host from and record op there (NULL: none):
 * one transaction, done only if the VM still is on from with no operation.
 * true when it moved. */
static bool move_vm(struct kumod *k, int64_t vm, const struct host_row *from, const char *op,
                    const char *why)
{
    struct db *db = k->db;
    struct kerr e = {0};
    int64_t now = time_now_ms();
    if (db_begin(db) < 0) {
        log_warn("cluster: VM %" PRId64 ": %s", vm, db_errmsg(db));
        return false;
    }
    sqlite3_stmt *st =
        db_stmt(db,
                "SELECT s.name, v.vcpus, v.mem_mib, v.dedicated,"
                " coalesce(v.vmss_id, 0), v.name FROM vms v JOIN sizes s ON"
                " s.id = v.size_id WHERE v.id = ? AND v.host_id = ? AND v.op IS NULL",
                "ii", vm, from->id);
    if (!st || sqlite3_step(st) != SQLITE_ROW) { /* moved meanwhile, or busy */
        sqlite3_finalize(st);
        db_rollback(db);
        return false;
    }
    char size[80], name[80], cores[64] = "";
    snprintf(size, sizeof(size), "%s", db_col_text(st, 0));
    snprintf(name, sizeof(name), "%s", db_col_text(st, 5));
    struct placement_req r = {.size_name = size,
                              .vcpus = sqlite3_column_int64(st, 1),
                              .mib = sqlite3_column_int64(st, 2),
                              .exclude_vm = vm,
                              .dedicated = sqlite3_column_int(st, 3) != 0,
                              .avoid_host = from->id,
                              .spread_vmss = sqlite3_column_int64(st, 4),
                              .shared_only = true};
    sqlite3_finalize(st);
    int64_t to = placement_choose_req(db, &r, cores, sizeof(cores), &e);
    if (to < 0) {
        db_rollback(db);
        static int64_t warned[64];
        bool said = false;
        for (size_t i = 0; i < 64; i++)
            said |= warned[i] == vm;
        if (!said) {
            warned[vm % 64] = vm;
            log_warn("cluster: VM %s cannot leave host %s: %s", name, from->name, e.message);
        }
        return false;
    }
    char to_name[64] = "", msg[256];
    db_text(db, to_name, sizeof(to_name), "SELECT name FROM hosts WHERE id = ?", "i", to);
    snprintf(msg, sizeof(msg), "%s: placed on host %s", why, to_name);
    int rc = db_exec(db,
                     "UPDATE vms SET host_id = ?, host_cpus = nullif(?, ''), op = ?,"
                     " op_started_ms = ?, pid = NULL, pid_start = NULL WHERE id = ?",
                     "ittii", to, cores, op, now, vm);
    if (rc == 0) rc = vm_set_state(db, vm, NULL, op ? PV_UPDATING : NULL, msg, now);
    if (rc == 0) rc = db_commit(db);
    if (rc < 0) {
        log_warn("cluster: VM %s: %s", name, db_errmsg(db));
        db_rollback(db);
        return false;
    }
    log_info("cluster: VM %s: %s", name, msg);
    if (op && k->jobs) jobs_submit(k->jobs, JOB_VM, vm);
    return true;
}

static void heal_down(struct kumod *k, const struct host_row *h)
{
    if (!h->shared) return; /* its VMs' disks are its own: they wait for it */
    if (time_now_ms() - h->state_ms < CLUSTER_GRACE_MS) return;
    int64_t ids[MAX_VMS];
    size_t n = vm_ids(k->db, ids, MAX_VMS,
                      "SELECT id FROM vms WHERE host_id = ? AND op IS NULL AND"
                      " power_state = 'Unavailable' ORDER BY id",
                      h->id);
    char why[128];
    snprintf(why, sizeof(why), "restarting: its host %s is down", h->name);
    for (size_t i = 0; i < n; i++)
        move_vm(k, ids[i], h, "start", why);
}

static void drain(struct kumod *k, const struct host_row *h)
{
    struct db *db = k->db;
    int64_t ids[MAX_VMS];
    /* running VMs: stopped on this host and started elsewhere (vmops.c) */
    size_t n = vm_ids(db, ids, MAX_VMS,
                      "SELECT id FROM vms WHERE host_id = ? AND op IS NULL AND"
                      " power_state = 'Running'",
                      h->id);
    for (size_t i = 0; i < n; i++) {
        int64_t now = time_now_ms();
        int rc = db_begin(db);
        if (rc == 0)
            rc = db_exec(db,
                         "UPDATE vms SET op = 'relocate', op_started_ms = ? WHERE id = ? AND"
                         " host_id = ? AND op IS NULL",
                         "iii", now, ids[i], h->id);
        if (rc == 0 && db_changes(db) == 1)
            rc = vm_set_state(db, ids[i], NULL, PV_UPDATING,
                              "leaving its host (drain): stopping it there", now);
        commit_or_log(db, rc, "draining a host");
        if (rc == 0 && k->jobs) jobs_submit(k->jobs, JOB_VM, ids[i]);
    }
    /* stopped but allocated VMs: their reservation moves */
    n = vm_ids(db, ids, MAX_VMS,
               "SELECT id FROM vms WHERE host_id = ? AND op IS NULL AND"
               " power_state = 'Stopped'",
               h->id);
    for (size_t i = 0; i < n; i++)
        move_vm(k, ids[i], h, NULL, "its host is drained");
}

void heal_round(struct cluster *c, uint64_t now_mono)
{
    (void)now_mono;
    struct kumod *k = c->k;
    struct etcd_range r;
    char err[512], end[64];
    if (etcd_range(c->etcd, K_HOSTS, etcd_prefix_end(K_HOSTS, end, sizeof(end)), 0, &r, err,
                   sizeof(err)) < 0)
        return; /* cannot tell who is alive: judge nothing */
    kumod_lock(k);
    if (!atomic_load(&k->leader) || atomic_load(&k->fenced)) {
        kumod_unlock(k);
        etcd_range_free(&r);
        return;
    }
    struct host_row hosts[MAX_HOSTS];
    size_t nh = 0;
    sqlite3_stmt *st = db_stmt(k->db,
                               "SELECT id, name, state, coalesce(state_ms, 0), shared_storage"
                               " FROM hosts ORDER BY id",
                               "");
    while (st && nh < MAX_HOSTS && sqlite3_step(st) == SQLITE_ROW) {
        struct host_row *h = &hosts[nh++];
        h->id = sqlite3_column_int64(st, 0);
        snprintf(h->name, sizeof(h->name), "%s", db_col_text(st, 1));
        snprintf(h->state, sizeof(h->state), "%s", db_col_text(st, 2));
        h->state_ms = sqlite3_column_int64(st, 3);
        h->shared = sqlite3_column_int(st, 4) != 0;
        h->alive = false;
        for (size_t i = 0; i < r.n; i++)
            if (!strcmp(r.kvs[i].key + strlen(K_HOSTS), h->name)) h->alive = true;
    }
    sqlite3_finalize(st);
    etcd_range_free(&r);
    for (size_t i = 0; i < nh; i++) {
        struct host_row *h = &hosts[i];
        bool down = !strcmp(h->state, "Down");
        if (!down && !h->alive) {
            mark_down(k, h);
        } else if (down && h->alive) {
            mark_up(k, h);
        } else if (down) {
            heal_down(k, h);
        } else if (!strcmp(h->state, "Draining")) {
            drain(k, h);
        }
    }
    kumod_unlock(k);
}
