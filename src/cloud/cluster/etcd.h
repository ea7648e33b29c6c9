/*
 * etcd.h - a client of etcd's v3 API (Debian's etcd-server 3.4), spoken
 * through etcd's own JSON gateway (POST /v3/kv/range, /v3/kv/txn,
 * /v3/lease/grant, /v3/watch, ... with base64 keys and values) with
 * libcurl and jansson. Debian has no C client for etcd's gRPC API (grpc's
 * C core is there, but nothing that speaks etcd's protocol buffers without
 * generating code from etcd's .proto files); the gateway is part of every
 * etcd 3.4 member and carries the same requests (docs/cluster.md).
 *
 * Endpoints: a comma list of member URLs ("http://10.0.0.1:2379,..."). A
 * request goes to the endpoint that answered last; when it cannot be
 * reached, does not answer within the timeout, or answers that it is
 * unavailable (no leader, shutting down), the next one is tried, so a
 * cluster with a member down keeps working. A write whose answer was lost
 * may have been applied: callers make writes safe to repeat (transactions
 * with comparisons).
 *
 * Keys are C strings (kumo's are "/kumo/..."); values are bytes. Thread
 * safe: every call may come from any thread (a pool of connections).
 * Errors: -1 and a message in err ("etcd http://...: ..."), naming the
 * endpoints tried.
 */
#ifndef KUMO_CLOUD_CLUSTER_ETCD_H
#define KUMO_CLOUD_CLUSTER_ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct etcd;

/* urls: "http://HOST:PORT[,http://...]" (at most 16). timeout_ms: per
 * request and endpoint. NULL + err when urls is not such a list. */
struct etcd *etcd_open(const char *urls, int timeout_ms, char *err, size_t errlen);
void etcd_close(struct etcd *e);
/* The endpoint requests go to now. */
const char *etcd_endpoint(struct etcd *e);

struct etcd_kv {
    char *key;
    char *value; /* NUL-terminated copy (values may hold NULs: use vlen) */
    size_t vlen;
    int64_t create_rev, mod_rev, version, lease;
};

struct etcd_range {
    struct etcd_kv *kvs;
    size_t n;
    bool more;        /* limit cut the answer */
    int64_t revision; /* the store's revision the answer is from */
};
void etcd_range_free(struct etcd_range *r);

/* The end of the range of every key starting with prefix (into buf). */
char *etcd_prefix_end(const char *prefix, char *buf, size_t len);

/* Keys in [key, end) (end NULL: key alone), at most limit (0: all), sorted
 * by key. 0 or -1. */
int etcd_range(struct etcd *e, const char *key, const char *end, int64_t limit,
               struct etcd_range *out, char *err, size_t errlen);
int etcd_put(struct etcd *e, const char *key, const void *val, size_t vlen, int64_t lease,
             int64_t *revision, char *err, size_t errlen);
/* *deleted (may be NULL): how many keys went. */
int etcd_delete(struct etcd *e, const char *key, const char *end, int64_t *deleted, char *err,
                size_t errlen);

/* ---- transactions: if every comparison holds, the success operations,
 * else the failure ones, atomically ---- */

enum etcd_target { ETCD_VERSION, ETCD_CREATE, ETCD_MOD, ETCD_VALUE, ETCD_LEASE };
enum etcd_op { ETCD_EQUAL, ETCD_GREATER, ETCD_LESS, ETCD_NOT_EQUAL };

struct etcd_txn;
struct etcd_txn *etcd_txn_new(void);
void etcd_txn_free(struct etcd_txn *t);
/* key's version / create_revision / mod_revision / lease op v */
void etcd_txn_cmp(struct etcd_txn *t, const char *key, enum etcd_target target, enum etcd_op op,
                  int64_t v);
void etcd_txn_cmp_value(struct etcd_txn *t, const char *key, enum etcd_op op, const void *val,
                        size_t vlen);
void etcd_txn_put(struct etcd_txn *t, bool on_success, const char *key, const void *val,
                  size_t vlen, int64_t lease);
void etcd_txn_delete(struct etcd_txn *t, bool on_success, const char *key, const char *end);
/* A read in the branch: its answer is the branch's first range result. */
void etcd_txn_get(struct etcd_txn *t, bool on_success, const char *key, const char *end);
/* Run it. *succeeded: which branch ran; *range (may be NULL): the first
 * read of that branch (empty if none). 0 or -1 (the outcome is unknown
 * when the request failed after it was sent). */
int etcd_txn_commit(struct etcd *e, struct etcd_txn *t, bool *succeeded, int64_t *revision,
                    struct etcd_range *range, char *err, size_t errlen);

/* Forget the history before revision rev (etcd's compaction): watches
 * from older revisions are cancelled. 0 or -1. */
int etcd_compact(struct etcd *e, int64_t rev, char *err, size_t errlen);

/* ---- leases ---- */

/* A lease of ttl seconds: its id, or -1. */
int64_t etcd_lease_grant(struct etcd *e, int ttl, char *err, size_t errlen);
/* Renew it: *ttl the seconds it now has, 0 when it no longer exists
 * (expired or revoked). 0 or -1 (not reached). */
int etcd_lease_keepalive(struct etcd *e, int64_t id, int64_t *ttl, char *err, size_t errlen);
int etcd_lease_revoke(struct etcd *e, int64_t id, char *err, size_t errlen);

/* ---- watches ---- */

struct etcd_event {
    bool deleted;
    struct etcd_kv kv;
};

/* Called on the watch's thread with the events of one revision batch. */
typedef void (*etcd_watch_fn)(void *opaque, const struct etcd_event *ev, size_t n);
/* Called when the watch cannot go on from where it was (the history it
 * needs was compacted): the caller resynchronises from a read, then
 * etcd_watch_restart()s it. */
typedef void (*etcd_lost_fn)(void *opaque, const char *why);

struct etcd_watch;
/* Watch [key, end) from revision start_rev (0: from now) on a thread of
 * its own. A broken connection is resumed on the next endpoint from the
 * revision after the last event seen (TCP keepalives find dead peers in a
 * few seconds). NULL + err if the thread cannot start. */
struct etcd_watch *etcd_watch_start(struct etcd *e, const char *key, const char *end,
                                    int64_t start_rev, etcd_watch_fn fn, etcd_lost_fn lost,
                                    void *opaque, char *err, size_t errlen);
/* Go on from start_rev (after a loss). */
void etcd_watch_restart(struct etcd_watch *w, int64_t start_rev);
void etcd_watch_stop(struct etcd_watch *w);

/* base64 (RFC 4648, padded) of n bytes into a new string. */
char *etcd_b64(const void *data, size_t n);

#endif
