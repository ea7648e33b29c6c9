/*
 * cluster.h - kumod's cluster mode (docs/cluster.md): several hosts, one
 * region, the state in etcd.
 *
 *   cluster_join()   before anything touches the state: connects to etcd,
 *                    checks the cluster's schema version, takes a lease,
 *                    applies the log to the local database and makes every
 *                    later write transaction the cluster's (replica.c).
 *   cluster_start()  once this host's row exists (k->host_id): announces
 *                    the host (/kumo/hosts/NAME, with the lease), applies
 *                    other hosts' writes as they come (a watch), keeps the
 *                    lease alive and fences the host when it cannot, and
 *                    takes part in the leader election; the leader handles
 *                    host failures and drains (heal.c).
 *   cluster_stop()   at kumod's stop.
 *
 * Only main.c includes this header; the rest of kumod sees cluster mode
 * through db.h's replicator, k->clustered, k->leader, k->fenced and
 * k->host_id.
 */
#ifndef KUMO_CLOUD_CLUSTER_CLUSTER_H
#define KUMO_CLOUD_CLUSTER_CLUSTER_H

#include <stddef.h>

struct kumod;
struct cluster;

/* k->cfg.cluster ("http://...:2379,...") and its companions; k->db open
 * and migrated, nothing else started. NULL + err. */
struct cluster *cluster_join(struct kumod *k, char *err, size_t errlen);
/* After k->host_id is set (no lock held). 0 or -1 + err. */
int cluster_start(struct cluster *c, char *err, size_t errlen);
/* Stop the threads (no lock held). The lease is left to expire. */
void cluster_stop(struct cluster *c);

#endif
