/*
 * cluster_int.h - what the files of the cluster module share: the struct
 * behind cluster.h, the keys in etcd, and the functions each file offers
 * the others (replica.c: the replicated state; heal.c: the leader's work;
 * cluster.c: membership, lease, fencing, election).
 */
#ifndef KUMO_CLOUD_CLUSTER_INT_H
#define KUMO_CLOUD_CLUSTER_INT_H

#include "cloud/cluster/cluster.h"
#include "cloud/cluster/etcd.h"
#include "cloud/db.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define K_SCHEMA "/kumo/schema"
#define K_HEAD   "/kumo/head"
#define K_LOG    "/kumo/log/"
#define K_WLOCK  "/kumo/wlock"
#define K_HOSTS  "/kumo/hosts/"
#define K_LEADER "/kumo/leader"

/* The leader moves a down host's VMs this long after it saw the host's
 * lease expire: the host fenced itself (stopped its VMs) at least a second
 * before the expiry, by its own clock (docs/cluster.md). */
#define CLUSTER_GRACE_MS 2000
/* How long a write waits for the cluster's write lock. */
#define CLUSTER_LOCK_WAIT_MS 15000

struct cluster {
    struct kumod *k;
    struct etcd *etcd;
    char host[64];
    int ttl; /* lease seconds */

    /* membership (cluster.c) */
    _Atomic int64_t lease;
    _Atomic int64_t lease_until; /* monotonic ms before which the lease surely holds */
    atomic_bool stop;
    pthread_t keeper, leader_thread, watchdog;
    bool threads;

    /* the replicated state (replica.c); under kumod's lock */
    struct db_replicator repl;
    int64_t applied;  /* the last log entry in the local database */
    int64_t lock_rev; /* create revision of our /kumo/wlock, 0: not held */
    uint64_t txn_seq;
    struct etcd_watch *watch;
    char pending_tables[512]; /* tables touched by entries applied since the last hooks */
    int64_t snapshot;         /* the latest snapshot's entry (snapshot.c) */
    bool snapshot_known;
};

/* replica.c */
int replica_init(struct cluster *c, char *err, size_t errlen);     /* lock not held */
int replica_catch_up(struct cluster *c, char *err, size_t errlen); /* lock held */
int replica_watch(struct cluster *c, char *err, size_t errlen);    /* lock not held */
void replica_stop(struct cluster *c);
/* After entries of other hosts were applied (lock held): wake waiters,
 * reconfigure the switch, take up this host's VM operations. */
void replica_after_apply(struct cluster *c);
int64_t replica_head(struct cluster *c); /* etcd's head, -1 if unknown */

/* snapshot.c (lock held): the leader's snapshot when one is due; taking
 * one; a host behind the log's first entry restoring the latest. */
void snapshot_maybe(struct cluster *c);
int snapshot_take(struct cluster *c, char *err, size_t errlen);
int snapshot_restore(struct cluster *c, char *err, size_t errlen);

/* heal.c: one round of the leader's work (lock not held). */
void heal_round(struct cluster *c, uint64_t now_mono);

/* cluster.c */
int64_t cluster_mono_ms(void);
bool cluster_fenced(struct cluster *c);

#endif
