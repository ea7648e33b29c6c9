/*
 * test_cloud_etcd.c - kumod's etcd client (src/cloud/cluster/etcd.c)
 * against three real etcd members on loopback ports (etcd_fixture.h):
 * put, range and delete with binary values; transactions (create if
 * absent, the failure branch's read); leases (keys that go with them,
 * keep-alive, revoke); watches (events in order, from a past revision);
 * and a member killed: requests and the watch go on on the others. Skips
 * (exit 77) when etcd is not installed.
 */
#include "cloud/cluster/etcd.h"

#include <pthread.h>
#include <stdatomic.h>

#include "check.h"
#include "etcd_fixture.h"

static struct etcd_cluster cl;
static char err[1024];

struct seen {
    pthread_mutex_t lock;
    char keys[64][64];
    bool deleted[64];
    int n;
};

static void on_events(void *opaque, const struct etcd_event *ev, size_t n)
{
    struct seen *s = opaque;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < n && s->n < 64; i++) {
        snprintf(s->keys[s->n], sizeof(s->keys[0]), "%s", ev[i].kv.key);
        s->deleted[s->n++] = ev[i].deleted;
    }
    pthread_mutex_unlock(&s->lock);
}

static void on_lost(void *opaque, const char *why)
{
    (void)opaque;
    printf("watch lost: %s\n", why);
}

static int seen_count(struct seen *s, int want, int timeout_ms)
{
    for (int t = 0; t < timeout_ms; t += 20) {
        pthread_mutex_lock(&s->lock);
        int n = s->n;
        pthread_mutex_unlock(&s->lock);
        if (n >= want) return n;
        usleep(20000);
    }
    return s->n;
}

static void test_kv(struct etcd *e)
{
    static const char bin[] = {'a', 0, 'b', (char)0xff};
    int64_t rev = 0;
    CHECK(etcd_put(e, "/t/kv/a", bin, sizeof(bin), 0, &rev, err, sizeof(err)) == 0 && rev > 0,
          "put: %s", err);
    CHECK(etcd_put(e, "/t/kv/b", "2", 1, 0, NULL, err, sizeof(err)) == 0, "put b");
    CHECK(etcd_put(e, "/t/kw", "x", 1, 0, NULL, err, sizeof(err)) == 0, "put outside");
    struct etcd_range r;
    char end[64];
    CHECK(etcd_range(e, "/t/kv/", etcd_prefix_end("/t/kv/", end, sizeof(end)), 0, &r, err,
                     sizeof(err)) == 0,
          "range: %s", err);
    CHECK(r.n == 2 && !strcmp(r.kvs[0].key, "/t/kv/a") && r.kvs[0].vlen == 4 &&
              !memcmp(r.kvs[0].value, bin, 4) && !strcmp(r.kvs[1].key, "/t/kv/b") &&
              r.kvs[0].mod_rev == rev && r.revision >= rev,
          "the prefix's two keys, binary value intact");
    etcd_range_free(&r);
    CHECK(etcd_range(e, "/t/kv/", end, 1, &r, err, sizeof(err)) == 0 && r.n == 1 && r.more,
          "limit 1: more");
    etcd_range_free(&r);
    CHECK(etcd_range(e, "/t/none", NULL, 0, &r, err, sizeof(err)) == 0 && r.n == 0,
          "a missing key: empty");
    etcd_range_free(&r);
    int64_t del = 0;
    CHECK(etcd_delete(e, "/t/kv/", end, &del, err, sizeof(err)) == 0 && del == 2, "delete 2");
    CHECK(etcd_range(e, "/t/kv/a", NULL, 0, &r, err, sizeof(err)) == 0 && r.n == 0, "gone");
    etcd_range_free(&r);
}

static void test_txn(struct etcd *e)
{
    bool ok = false;
    for (int round = 0; round < 2; round++) {
        struct etcd_txn *t = etcd_txn_new();
        etcd_txn_cmp(t, "/t/lock", ETCD_CREATE, ETCD_EQUAL, 0);
        etcd_txn_put(t, true, "/t/lock", round ? "two" : "one", 3, 0);
        etcd_txn_get(t, false, "/t/lock", NULL);
        struct etcd_range r;
        int rc = etcd_txn_commit(e, t, &ok, NULL, &r, err, sizeof(err));
        etcd_txn_free(t);
        CHECK(rc == 0, "txn: %s", err);
        if (round == 0) {
            CHECK(ok && r.n == 0, "create if absent: created");
        } else {
            CHECK(!ok && r.n == 1 && !strcmp(r.kvs[0].value, "one"),
                  "second create refused; the failure branch read the holder");
        }
        etcd_range_free(&r);
    }
    struct etcd_txn *t = etcd_txn_new();
    etcd_txn_cmp_value(t, "/t/lock", ETCD_EQUAL, "one", 3);
    etcd_txn_delete(t, true, "/t/lock", NULL);
    CHECK(etcd_txn_commit(e, t, &ok, NULL, NULL, err, sizeof(err)) == 0 && ok,
          "delete if the value is ours");
    etcd_txn_free(t);
}

static void test_lease(struct etcd *e)
{
    int64_t id = etcd_lease_grant(e, 3, err, sizeof(err));
    CHECK(id > 0, "grant: %s", err);
    CHECK(etcd_put(e, "/t/alive", "1", 1, id, NULL, err, sizeof(err)) == 0, "put with lease");
    int64_t ttl = -1;
    CHECK(etcd_lease_keepalive(e, id, &ttl, err, sizeof(err)) == 0 && ttl == 3,
          "keepalive ttl %lld", (long long)ttl);
    struct etcd_range r;
    CHECK(etcd_range(e, "/t/alive", NULL, 0, &r, err, sizeof(err)) == 0 && r.n == 1 &&
              r.kvs[0].lease == id,
          "the key carries the lease");
    etcd_range_free(&r);
    CHECK(etcd_lease_revoke(e, id, err, sizeof(err)) == 0, "revoke");
    CHECK(etcd_range(e, "/t/alive", NULL, 0, &r, err, sizeof(err)) == 0 && r.n == 0,
          "the key went with the lease");
    etcd_range_free(&r);
    CHECK(etcd_lease_keepalive(e, id, &ttl, err, sizeof(err)) == 0 && ttl == 0,
          "a revoked lease keeps alive with ttl 0");
    /* expiry */
    id = etcd_lease_grant(e, 1, err, sizeof(err));
    etcd_put(e, "/t/short", "1", 1, id, NULL, err, sizeof(err));
    bool gone = false;
    for (int i = 0; i < 60 && !gone; i++) {
        usleep(100000);
        if (etcd_range(e, "/t/short", NULL, 0, &r, err, sizeof(err)) == 0) gone = r.n == 0;
        etcd_range_free(&r);
    }
    CHECK(gone, "a lease that is not kept alive expires with its keys");
}

static void test_watch_and_failover(struct etcd *e)
{
    struct seen s = {.lock = PTHREAD_MUTEX_INITIALIZER};
    int64_t rev = 0;
    etcd_put(e, "/t/w/0", "old", 3, 0, &rev, err, sizeof(err));
    char end[64];
    /* from a past revision: the event before the watch started is seen */
    struct etcd_watch *w = etcd_watch_start(e, "/t/w/", etcd_prefix_end("/t/w/", end, sizeof(end)),
                                            rev, on_events, on_lost, &s, err, sizeof(err));
    CHECK(w != NULL, "watch: %s", err);
    etcd_put(e, "/t/w/1", "a", 1, 0, NULL, err, sizeof(err));
    etcd_put(e, "/t/x", "outside", 7, 0, NULL, err, sizeof(err));
    etcd_delete(e, "/t/w/0", NULL, NULL, err, sizeof(err));
    CHECK(seen_count(&s, 3, 10000) == 3, "three events (%d)", s.n);
    CHECK(!strcmp(s.keys[0], "/t/w/0") && !s.deleted[0] && !strcmp(s.keys[1], "/t/w/1") &&
              !strcmp(s.keys[2], "/t/w/0") && s.deleted[2],
          "in order: put, put, delete; nothing outside the prefix");

    /* kill the member the client talks to: requests and the watch go on */
    const char *ep = etcd_endpoint(e);
    int victim = 0;
    for (int i = 0; i < cl.n; i++) {
        char u[64];
        snprintf(u, sizeof(u), "http://127.0.0.1:%d", cl.m[i].client_port);
        if (!strcmp(u, ep)) victim = i;
    }
    etcd_member_kill(&cl, victim);
    int rc = -1;
    for (int i = 0; i < 50 && rc < 0; i++) { /* a new raft leader may take a moment */
        rc = etcd_put(e, "/t/w/2", "after", 5, 0, NULL, err, sizeof(err));
        if (rc < 0) usleep(200000);
    }
    CHECK(rc == 0, "a put after member %d died: %s", victim, err);
    CHECK(strcmp(etcd_endpoint(e), ep) != 0, "another endpoint answers (%s)", etcd_endpoint(e));
    CHECK(seen_count(&s, 4, 20000) == 4 && !strcmp(s.keys[3], "/t/w/2"),
          "the watch resumed on another member (%d events)", s.n);
    etcd_watch_stop(w);
    etcd_member_restart(&cl, victim);
}

int main(void)
{
    if (!etcd_fixture_available()) {
        printf("etcd is not installed (scripts/deps.sh): skipped\n");
        return 77;
    }
    if (etcd_cluster_start(&cl, 3) < 0) {
        printf("the etcd members did not start (logs in %s)\n", cl.dir);
        return 1;
    }
    struct etcd *e = etcd_open(cl.urls, 3000, err, sizeof(err));
    CHECK(e != NULL, "open: %s", err);
    CHECK(etcd_open("ftp://x", 1000, err, sizeof(err)) == NULL && strstr(err, "ftp://x"),
          "bad URL refused: %s", err);
    CHECK(etcd_open("", 1000, err, sizeof(err)) == NULL && strstr(err, "no etcd endpoint"),
          "no URL refused");
    if (e) {
        test_kv(e);
        test_txn(e);
        test_lease(e);
        test_watch_and_failover(e);
        etcd_close(e);
    }
    etcd_cluster_stop(&cl);
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
