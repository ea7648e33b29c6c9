/*
 * conntrack.h - the connection-tracking table that makes NSGs stateful.
 *
 * An entry is created for the first packet of a flow that the NSGs allow;
 * later packets of that flow, in either direction, are admitted by the entry
 * without consulting the rules, so replies pass and rule changes only affect
 * new flows. Flows are keyed by the 5-tuple of their first packet (ICMP echo
 * uses the identifier as both ports). TCP entries follow the handshake and
 * teardown (SYN, SYN+ACK, established, FIN, RST); UDP and ICMP entries live
 * until an idle timeout.
 *
 * The table is bounded: at most max_entries flows. Each flow has an owner
 * (the NIC that sent its first packet, or received it from outside) and
 * each owner at most a quota of flows (ct_set_quota: kumo-switch gives each
 * NIC of a VNet an equal share): an owner at its quota evicts its own least
 * recently used flow, preferring one that never saw a reply, so one VM
 * cannot evict another's flows. When the whole table is full the flow is
 * taken from the owner holding the most (the same preference); a table
 * without owners evicts in the order above. The bucket array is sized once from max_entries and
 * the hash is keyed with a random secret, so a guest can neither exhaust host
 * memory nor aim collisions at a bucket.
 *
 * Times are milliseconds on any monotonic clock, passed in by the caller
 * (the unit tests drive a fake one).
 */
#ifndef KUMO_NETWORK_CONNTRACK_H
#define KUMO_NETWORK_CONNTRACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ct_key {
    uint32_t src, dst;
    uint16_t sport, dport;
    uint8_t proto;
};

enum ct_state {
    CT_TCP_SYN_SENT,    /* SYN seen */
    CT_TCP_SYN_RECV,    /* SYN+ACK seen in reply */
    CT_TCP_ESTABLISHED, /* handshake completed (or picked up mid-stream) */
    CT_TCP_FIN_WAIT,    /* one side sent FIN */
    CT_TCP_TIME_WAIT,   /* both sides sent FIN */
    CT_TCP_CLOSE,       /* RST seen */
    CT_UDP_UNREPLIED,
    CT_UDP_REPLIED,
    CT_ICMP,
    CT_STATE_COUNT
};

/* Timeouts in seconds, one per state, and the bound. */
struct ct_limits {
    uint32_t max_entries;
    uint32_t timeout[CT_STATE_COUNT];
};

struct ct_entry {
    struct ct_key key;            /* as sent by the flow's initiator */
    enum ct_state state;
    bool fin[2];                  /* FIN seen from initiator [0] / responder [1] */
    uint64_t packets[2], bytes[2];
    uint64_t created, last_seen, expires; /* ms */
    /* table links */
    struct ct_entry *hnext;
    struct ct_entry *lru_prev, *lru_next;
    struct ct_entry *olru_prev, *olru_next; /* the owner's list, most recent first */
    int owner;                              /* -1: none */
    bool on_assured;
};

struct ct_stats {
    uint64_t entries, max_entries;
    uint64_t created, evicted, expired;
};

struct ct_table;

/* Defaults (docs/network.md): 65536 flows; TCP SYN 60 s, established 7440 s
 * (RFC 5382's 2 h 4 min), FIN 120 s, TIME_WAIT 120 s, RST 10 s; UDP 30 s
 * unreplied, 180 s replied; ICMP echo 30 s. */
void ct_default_limits(struct ct_limits *lim);
const char *ct_state_name(enum ct_state s);

struct ct_table *ct_create(const struct ct_limits *lim);
void ct_destroy(struct ct_table *t);
/* New limits for an existing table: timeouts apply from the next packet of
 * each flow; a smaller bound evicts down to it. 0 or -1 (out of memory, the
 * table unchanged). */
int ct_set_limits(struct ct_table *t, const struct ct_limits *lim);

/* The live entry k belongs to, or NULL. *reply is set when k is the reverse
 * of the entry's key. Expired entries are freed, never returned. */
struct ct_entry *ct_find(struct ct_table *t, const struct ct_key *k, uint64_t now, bool *reply);

/* Start tracking a flow whose first packet is k (with TCP flags tcp_flags),
 * evicting if the table is full. NULL if out of memory. The caller then
 * accounts the packet with ct_update(). */
struct ct_entry *ct_add(struct ct_table *t, const struct ct_key *k, uint8_t tcp_flags,
                        uint64_t now);
/* The same, charged to owner (0 or more; -1: none) and its quota. */
struct ct_entry *ct_add_owned(struct ct_table *t, const struct ct_key *k, uint8_t tcp_flags,
                              uint64_t now, int owner);

/* At most quota flows per owner (0: no quota). Owners above it keep their
 * flows until they add one (then they evict their own) or they expire. */
void ct_set_quota(struct ct_table *t, uint32_t quota);

/* Flows owner holds now. */
uint32_t ct_owner_count(const struct ct_table *t, int owner);

/* Account a packet of e: counters, TCP state, timeout, recency. */
void ct_update(struct ct_table *t, struct ct_entry *e, bool reply, uint8_t tcp_flags,
               size_t bytes, uint64_t now);

void ct_remove(struct ct_table *t, struct ct_entry *e);

/* Free expired entries, examining at most budget buckets from where the last
 * call stopped. Returns the number freed. */
size_t ct_expire(struct ct_table *t, uint64_t now, size_t budget);

void ct_get_stats(const struct ct_table *t, struct ct_stats *st);

/* Visit live entries, most recently used first within each list; stop when
 * fn returns false. */
void ct_foreach(struct ct_table *t, uint64_t now, bool (*fn)(const struct ct_entry *, void *),
                void *opaque);

#endif
