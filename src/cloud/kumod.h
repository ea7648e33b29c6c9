/*
 * kumod.h - the daemon's shared context: its configuration (command line) and
 * the handles of its subsystems, passed to every part of kumod.
 *
 * Locking contract: `lock` is THE state lock. It guards the SQLite connection
 * (db), every in-memory table that mirrors the database (the supervisor's
 * process table, the job queue's busy set), and is the mutex of `changed`.
 * Whoever commits a change that someone may wait for (a VM's or image's
 * state) broadcasts `changed` before unlocking. Nothing slow (process spawn,
 * image copy, waiting for a VM to exit) runs with the lock held. The lock is
 * not recursive: taking it while holding it is a bug (asserted).
 *
 * Functions whose contract says "lock held" assert kumod_lock_held(k) (the
 * asserts live in the sanitized test build). The helpers are in kumod.c, so
 * that every part of kumod but main.c links into the unit-testable library.
 */
#ifndef KUMO_CLOUD_KUMOD_H
#define KUMO_CLOUD_KUMOD_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;
struct supervisor;
struct jobs;
struct metrics;
struct http;
struct netplane;
struct vmss_ctl;
struct lb;
struct cluster;
struct portal;
struct guestprov;

struct kumod_config {
    char data_dir[3072];        /* absolute (shorter than PATH_MAX, so paths under it fit) */
    char listen_tcp[64];        /* "127.0.0.1:8080" or "" */
    char arm_listen[64];        /* the ARM endpoint's "127.0.0.1:8443", or "" (src/cloud/arm) */
    char vmm_path[PATH_MAX];    /* kumo-vmm binary */
    char guest_dir[PATH_MAX];   /* default image source ("" = guest/build.sh's cache) */
    char debian_image[PATH_MAX]; /* the Debian 13 image's qcow2 ("" = guest/debian/build.sh's
                                    cache, "none" = not registered) */
    char switch_path[PATH_MAX]; /* kumo-switch ("" = find it, "none" = NAT fallback) */
    char public_address[64];    /* address public IPs map on */
    long host_cpus;             /* <0: not given on the command line */
    long host_mem_mib;
    long reserved_mib;
    double cpu_ratio, ram_ratio; /* <0: not given */
    size_t max_body;             /* request body limit, bytes */
    int metrics_interval;        /* seconds */
    int metrics_retention;       /* seconds */
    int port_lo, port_hi;        /* host ports for public IPs */
    int stop_timeout;            /* seconds before SIGKILL */
    int shutdown_timeout;        /* seconds a graceful stop waits for the guest (0: none) */
    int workers;                 /* operation threads */
    int autoscale_interval;      /* seconds between autoscale evaluations */
    long vmm_uid_lo, vmm_uid_hi; /* --vmm-uids: each VMM's own uid (kumod as root) */
    char import_dir[3100];       /* --import-dir: where image imports come from */
    long import_max_gib;         /* --import-max-gib: their size and virtual size */
    int provisioning_timeout;    /* seconds a guest has to report its provisioning */
    int verbose;
    /* cluster mode (docs/cluster.md): etcd's client URLs ("" = one host
     * alone), this host's name, underlay address, the directory every host
     * mounts for images and disks ("" = the data directory), lease seconds */
    char cluster[1024];
    char host_name[64];
    char underlay[64];
    char shared_dir[2048];
    int cluster_ttl;
    int cluster_snapshot_every; /* log entries between snapshots (0: 10000) */
    bool portal;             /* serve the web portal (portal.h); --no-portal: not */
    char portal_origin[256]; /* the portal's public origin behind a proxy, or "" */
};

struct kumod {
    struct kumod_config cfg;
    pthread_mutex_t lock; /* see above */
    pthread_cond_t changed;
    struct db *db;
    struct supervisor *sup;
    struct jobs *jobs;
    struct jobs *run_jobs; /* run commands (JOB_RUN), long: their own threads (NULL: jobs) */
    struct metrics *metrics;
    struct http *http;
    struct netplane *net; /* netplane.h */
    struct vmss_ctl *vmss; /* vmss.h: scale sets and autoscale */
    struct lb *lb;         /* lb.h: scale set load balancers */
    struct portal *portal; /* portal.h: the web portal, or NULL */
    struct guestprov *gprov; /* guestprov.h: the guests' provisioning reports */
    char token[65];       /* 64 hex digits */
    char host_name[64];   /* this host's name in the hosts table */
    int64_t host_id;      /* this host's row: the VMs it runs have vms.host_id = host_id */
    bool clustered;       /* cluster mode: the state is the cluster's (docs/cluster.md) */
    atomic_bool leader;   /* runs what runs once per region; always in single-host mode */
    atomic_bool fenced;   /* cluster mode: cut off from etcd; its VMs were stopped */
    struct cluster *cluster;
    /* cluster mode: bring the local state up to the cluster's (lock held;
     * an etcd read), so that a request reads what any host committed
     * before it; NULL on a host alone */
    void (*catch_up)(struct kumod *k);
    int64_t started_ms;   /* wall clock at start */
    bool vmm_has_control; /* kumo-vmm offers --control */
    atomic_bool stopping;
};

/* The uid and gid a VM's kumo-vmm drops to (its sandbox, vmm/sandbox.h):
 * the VM's own uid from --vmm-uids (the row id, modulo the range), and the
 * range's first id as the group every VMM shares (it may reconnect to the
 * switch's ports socket). false when kumod is not root (the VMM then
 * confines itself as kumod's user). */
bool kumod_vmm_ids(const struct kumod *k, int64_t vm, unsigned *uid, unsigned *gid);

/* Test aid: with KUMO_CRASH_AT=NAME in its environment, kumod kills itself
 * (SIGKILL, as kill -9 would) when it reaches the crash point NAME, so that
 * tests can stop it at exact places of an operation (recovery and the
 * start-up sweep must leave nothing behind). Points: vm-delete:begin,
 * vm-delete:vmm-stopped, vm-delete:committed, vm-delete:disk-unlinked,
 * vm-delete:files-removed, disk-delete:committed, snapshot-delete:committed,
 * image-delete:committed, disk-create:file-made. */
void kumod_crash_point(const char *name);

/* Initialise the lock and `changed` (a CLOCK_MONOTONIC condition, as
 * every timed wait on it computes its deadline on that clock). 0 or -1. */
int kumod_lock_init(struct kumod *k);
void kumod_lock_destroy(struct kumod *k);

/* Lock helpers: the state lock (see above). */
void kumod_lock(struct kumod *k);
void kumod_unlock(struct kumod *k);
/* Does the calling thread hold k's lock? (For asserts. A thread waiting on
 * a condition with the lock keeps "holding" it: it holds it again before
 * the wait returns.) */
bool kumod_lock_held(const struct kumod *k);
/* Broadcast `changed`; call with the lock held, after a commit. */
void kumod_changed(struct kumod *k);

#endif
