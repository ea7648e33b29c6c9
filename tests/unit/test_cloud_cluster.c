/*
 * test_cloud_cluster.c - kumod's replicated state (src/cloud/cluster:
 * replica.c, cluster.c) with three real etcd members on loopback ports and
 * several "hosts" in this process, each a struct kumod with its own
 * database: what one host's provisioning layer commits appears on the
 * others with the same row ids; a lone write outside a transaction is
 * replicated too; groups created under the same names by two hosts at once
 * exist once each, the losers refused with AlreadyExists (writes are
 * serialised by the cluster's write lock, each starting from the latest
 * state); a host that joins late catches up with the whole log; one host
 * leads; writes go on with an etcd member down; a host that leaves is
 * marked Down by the leader, and another takes over the lead; a kumod with
 * another schema version, or a data directory of another cluster or of a
 * single host, is refused. Skips (77) without etcd.
 */
#include "cloud/cluster/cluster.h"
#include "cloud/cluster/etcd.h"
#include "cloud/db.h"
#include "cloud/kumod.h"
#include "cloud/provision.h"
#include "cloud/timefmt.h"

#include <pthread.h>
#include <stdatomic.h>

#include "check.h"
#include "etcd_fixture.h"

static struct etcd_cluster ec;
static char shared[300];

struct node {
    struct kumod k;
    char dir[256];
    struct cluster *c;
    bool stopped;
};

static int node_start(struct node *n, const char *name, const char *underlay)
{
    memset(n, 0, sizeof(*n));
    snprintf(n->dir, sizeof(n->dir), "/tmp/kumo-test-node-XXXXXX");
    if (!mkdtemp(n->dir)) return -1;
    struct kumod_config *c = &n->k.cfg;
    snprintf(c->data_dir, sizeof(c->data_dir), "%s", n->dir);
    snprintf(c->public_address, sizeof(c->public_address), "127.0.0.1");
    snprintf(c->switch_path, sizeof(c->switch_path), "none");
    snprintf(c->cluster, sizeof(c->cluster), "%s", ec.urls);
    snprintf(c->underlay, sizeof(c->underlay), "%s", underlay);
    snprintf(c->shared_dir, sizeof(c->shared_dir), "%s", shared);
    c->cluster_ttl = 5;
    c->cluster_snapshot_every = 10; /* snapshots (and a shorter log) within the test */
    snprintf(n->k.host_name, sizeof(n->k.host_name), "%s", name);
    char err[1024];
    if (kumod_lock_init(&n->k) < 0) return -1;
    n->k.db = db_open(":memory:", err, sizeof(err));
    if (!n->k.db) return -1;
    n->c = cluster_join(&n->k, err, sizeof(err));
    CHECK(n->c != NULL, "%s joins: %s", name, err);
    if (!n->c) return -1;
    struct db *db = n->k.db;
    kumod_lock(&n->k);
    int rc = db_begin(db);
    if (rc == 0)
        rc = db_exec(db,
                     "INSERT INTO hosts (name, location, cpus, mem_mib, cpu_ratio, ram_ratio,"
                     " reserved_mib, created_ms, address, shared_storage)"
                     " VALUES (?, 'local', 2, 4096, 1.0, 1.0, 0, ?, ?, 1)",
                     "tit", name, time_now_ms(), underlay);
    if (rc == 0) rc = db_commit(db);
    n->k.host_id = db_int(db, NULL, 0, "SELECT id FROM hosts WHERE name = ?", "t", name);
    kumod_unlock(&n->k);
    CHECK(rc == 0 && n->k.host_id > 0, "%s: its host row: %s", name, db_errmsg(db));
    if (cluster_start(n->c, err, sizeof(err)) < 0) {
        CHECK(0, "%s starts: %s", name, err);
        return -1;
    }
    return 0;
}

static void node_stop(struct node *n)
{
    if (n->stopped || !n->k.cluster) return;
    cluster_stop(n->k.cluster);
    n->stopped = true;
}

static int64_t count(struct node *n, const char *sql, const char *arg)
{
    kumod_lock(&n->k);
    int64_t v = db_int(n->k.db, NULL, -1, sql, arg ? "t" : "", arg);
    kumod_unlock(&n->k);
    return v;
}

/* Wait until sql (one text argument, or none) counts want on node n. */
static bool wait_count(struct node *n, const char *sql, const char *arg, int64_t want)
{
    for (int i = 0; i < 200; i++) {
        if (count(n, sql, arg) == want) return true;
        usleep(50000);
    }
    return false;
}

static int64_t group(struct node *n, const char *name, struct kerr *e)
{
    kumod_lock(&n->k);
    int64_t id = prov_group_create(&n->k, name, NULL, e);
    kumod_unlock(&n->k);
    return id;
}

/* The groups (id name, ...) of node n as one string. */
static void groups_of(struct node *n, char *out, size_t len)
{
    size_t used = 0;
    out[0] = 0;
    kumod_lock(&n->k);
    sqlite3_stmt *st = db_stmt(n->k.db, "SELECT id, name FROM groups ORDER BY id", "");
    while (st && sqlite3_step(st) == SQLITE_ROW && used < len)
        used += (size_t)snprintf(out + used, len - used, "%lld %s,",
                                 (long long)sqlite3_column_int64(st, 0), db_col_text(st, 1));
    sqlite3_finalize(st);
    kumod_unlock(&n->k);
}

struct racer {
    struct node *n;
    int won, lost, other;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    for (int i = 0; i < 15; i++) {
        char name[32];
        struct kerr e = {0};
        snprintf(name, sizeof(name), "race%d", i);
        if (group(r->n, name, &e) > 0)
            r->won++;
        else if (!strcmp(e.code, "AlreadyExists"))
            r->lost++;
        else {
            printf("race: %s %s\n", e.code, e.message);
            r->other++;
        }
    }
    return NULL;
}

static int leaders(struct node *ns, int n)
{
    int l = 0;
    for (int i = 0; i < n; i++)
        l += atomic_load(&ns[i].k.leader) && !atomic_load(&ns[i].k.fenced);
    return l;
}

int main(void)
{
    if (!etcd_fixture_available()) {
        printf("etcd is not installed (scripts/deps.sh): skipped\n");
        return 77;
    }
    if (etcd_cluster_start(&ec, 3) < 0) {
        printf("the etcd members did not start (logs in %s)\n", ec.dir);
        return 1;
    }
    snprintf(shared, sizeof(shared), "%.256s/shared", ec.dir);
    mkdir(shared, 0700);
    static struct node nodes[3];
    struct node *a = &nodes[0], *b = &nodes[1], *c = &nodes[2];
    if (node_start(a, "a", "127.0.0.1") < 0 || node_start(b, "b", "127.0.0.2") < 0) goto out;
    struct kerr e = {0};

    /* one host's commit appears on the other, same ids */
    int64_t id = group(a, "alpha", &e);
    CHECK(id > 0, "a makes a group: %s", e.message);
    CHECK(wait_count(b, "SELECT count(*) FROM groups WHERE name = ?", "alpha", 1), "b sees it");
    CHECK(count(b, "SELECT id FROM groups WHERE name = ?", "alpha") == id, "with the same id");
    id = group(b, "beta", &e);
    CHECK(id > 0 && wait_count(a, "SELECT id FROM groups WHERE name = ?", "beta", id),
          "and the other way, with the next id");
    /* a lone write (db_exec outside a transaction) is a replicated one too */
    kumod_lock(&a->k);
    CHECK(db_exec(a->k.db, "UPDATE groups SET tags = '{\"x\":\"1\"}' WHERE name = 'alpha'", "") ==
              0,
          "a lone UPDATE");
    kumod_unlock(&a->k);
    CHECK(wait_count(b, "SELECT count(*) FROM groups WHERE tags LIKE ?", "%\"x\"%", 1),
          "replicated");

    /* racing creates of the same names on two hosts */
    struct racer ra = {a, 0, 0, 0}, rb = {b, 0, 0, 0};
    pthread_t ta, tb;
    pthread_create(&ta, NULL, race, &ra);
    pthread_create(&tb, NULL, race, &rb);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    CHECK(ra.won + rb.won == 15 && ra.lost + rb.lost == 15 && !ra.other && !rb.other,
          "each name made once (%d + %d), the others AlreadyExists (%d + %d)", ra.won, rb.won,
          ra.lost, rb.lost);
    char ga[4096], gb[4096];
    CHECK(wait_count(b, "SELECT count(*) FROM groups WHERE name LIKE ?", "race%", 15),
          "15 race groups on b");
    groups_of(a, ga, sizeof(ga));
    groups_of(b, gb, sizeof(gb));
    CHECK(!strcmp(ga, gb), "a and b hold the same rows:\n%s\n%s", ga, gb);

    /* one leader */
    for (int i = 0; i < 100 && leaders(nodes, 2) != 1; i++)
        usleep(50000);
    CHECK(leaders(nodes, 2) == 1, "one leader of two hosts");

    /* the leader took snapshots and shortened the log */
    {
        char err[512];
        struct etcd *et = etcd_open(ec.urls, 3000, err, sizeof(err));
        struct etcd_range r;
        long long snap = 0, first = 0;
        for (int i = 0; i < 100 && snap < 10; i++) {
            if (etcd_range(et, "/kumo/snapshot", NULL, 0, &r, err, sizeof(err)) == 0 && r.n)
                snap = atoll(r.kvs[0].value);
            etcd_range_free(&r);
            if (snap < 10) usleep(100000);
        }
        CHECK(snap >= 10, "a snapshot of entry %lld", snap);
        /* the log is shortened after the snapshot is recorded (snapshot.c):
         * on a loaded host a moment later */
        for (int i = 0; i < 100 && first <= 1; i++) {
            if (etcd_range(et, "/kumo/log/", "/kumo/log0", 1, &r, err, sizeof(err)) == 0 && r.n)
                first = atoll(r.kvs[0].key + strlen("/kumo/log/"));
            etcd_range_free(&r);
            if (first <= 1) usleep(100000);
        }
        CHECK(first > 1 && first <= snap, "the log starts at entry %lld now", first);
        etcd_close(et);
    }
    /* a host that joins late starts from the snapshot and catches up */
    if (node_start(c, "c", "127.0.0.3") == 0) {
        char gc[4096];
        groups_of(c, gc, sizeof(gc));
        CHECK(!strcmp(ga, gc), "c joined with everything:\n%s\n%s", ga, gc);
    }

    /* an etcd member down: writes go on */
    etcd_member_kill(&ec, 1);
    id = -1;
    for (int i = 0; i < 20 && id < 0; i++) {
        id = group(c, "while-member-down", &e);
        if (id < 0) usleep(300000);
    }
    CHECK(id > 0, "a write with a member down: %s", e.message);
    CHECK(wait_count(a, "SELECT count(*) FROM groups WHERE name = ?", "while-member-down", 1),
          "replicated with a member down");
    etcd_member_restart(&ec, 1);

    /* the leader leaves: another leads and marks it Down */
    struct node *lead = atomic_load(&a->k.leader) ? a : b;
    struct node *rest[2] = {lead == a ? b : a, c};
    node_stop(lead);
    for (int i = 0; i < 200 && leaders(rest[0], 1) + leaders(rest[1], 1) != 1; i++)
        usleep(50000);
    CHECK(leaders(rest[0], 1) + leaders(rest[1], 1) == 1, "another host leads");
    CHECK(wait_count(rest[0], "SELECT count(*) FROM hosts WHERE name = ? AND state = 'Down'",
                     lead->k.host_name, 1),
          "the host that left is Down");
    /* a fenced host writes nothing */
    CHECK(group(lead, "from-a-fenced-host", &e) < 0 && strstr(e.message, "fenced"),
          "a host that left writes nothing: %s", e.message);

    /* joining refusals */
    {
        struct node x;
        memset(&x, 0, sizeof(x));
        snprintf(x.k.cfg.cluster, sizeof(x.k.cfg.cluster), "%s", ec.urls);
        snprintf(x.k.host_name, sizeof(x.k.host_name), "x");
        char err[1024];
        kumod_lock_init(&x.k);
        x.k.db = db_open(":memory:", err, sizeof(err));
        db_exec(x.k.db,
                "INSERT INTO hosts (name, location, cpus, mem_mib, cpu_ratio, ram_ratio,"
                " reserved_mib, created_ms) VALUES ('solo', 'local', 1, 1024, 1, 1, 0, 0)",
                "");
        CHECK(!cluster_join(&x.k, err, sizeof(err)) && strstr(err, "single-host"),
              "a single host's state is refused: %s", err);
        db_close(x.k.db);
        x.k.db = db_open(":memory:", err, sizeof(err));
        db_exec(x.k.db, "CREATE TABLE cluster_local (key TEXT PRIMARY KEY, value NOT NULL)", "");
        db_exec(x.k.db, "INSERT INTO cluster_local VALUES ('cluster', 'someone-else')", "");
        CHECK(!cluster_join(&x.k, err, sizeof(err)) && strstr(err, "another cluster"),
              "another cluster's data directory is refused: %s", err);
        db_close(x.k.db);
        struct etcd *et = etcd_open(ec.urls, 3000, err, sizeof(err));
        struct etcd_range r;
        etcd_range(et, "/kumo/schema", NULL, 0, &r, err, sizeof(err));
        char other[128];
        snprintf(other, sizeof(other), "%d%s", db_migration_count + 1,
                 r.n ? strchr(r.kvs[0].value, ' ') : " x");
        etcd_range_free(&r);
        etcd_put(et, "/kumo/schema", other, strlen(other), 0, NULL, err, sizeof(err));
        x.k.db = db_open(":memory:", err, sizeof(err));
        CHECK(!cluster_join(&x.k, err, sizeof(err)) && strstr(err, "schema version"),
              "another schema version is refused: %s", err);
        db_close(x.k.db);
        etcd_close(et);
    }

out:
    for (int i = 0; i < 3; i++)
        node_stop(&nodes[i]);
    etcd_cluster_stop(&ec);
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
