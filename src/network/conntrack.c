/*
 * conntrack.c - the bounded flow table of conntrack.h: a chained hash table
 * keyed with SipHash-2-4 under a per-table random key, plus two LRU lists
 * (flows without a reply yet, and assured flows) that give the eviction
 * order, and one LRU list per owner for its quota.
 */
#include "network/conntrack.h"

#include "network/packet.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define MIN_BUCKETS 16u
#define MAX_BUCKETS (1u << 22)

struct lru {
    struct ct_entry *head, *tail;
};

struct owner {
    struct ct_entry *head, *tail; /* linked through olru_* */
    uint32_t count;
};

#define MAX_OWNERS 65536
#define SCAN_UNREPLIED 32 /* entries of an owner's list examined for an unreplied one */

struct ct_table {
    struct ct_limits lim;
    struct ct_entry **buckets;
    size_t nbuckets; /* power of two */
    uint64_t k0, k1; /* SipHash key */
    struct lru lru[2]; /* [0] unassured, [1] assured */
    size_t count;
    size_t sweep;      /* next bucket ct_expire examines */
    struct owner *owners;
    size_t nowners;
    uint32_t quota;
    uint64_t created, evicted, expired;
};

void ct_default_limits(struct ct_limits *lim)
{
    memset(lim, 0, sizeof(*lim));
    lim->max_entries = 65536;
    lim->timeout[CT_TCP_SYN_SENT] = 60;
    lim->timeout[CT_TCP_SYN_RECV] = 60;
    lim->timeout[CT_TCP_ESTABLISHED] = 7440;
    lim->timeout[CT_TCP_FIN_WAIT] = 120;
    lim->timeout[CT_TCP_TIME_WAIT] = 120;
    lim->timeout[CT_TCP_CLOSE] = 10;
    lim->timeout[CT_UDP_UNREPLIED] = 30;
    lim->timeout[CT_UDP_REPLIED] = 180;
    lim->timeout[CT_ICMP] = 30;
}

const char *ct_state_name(enum ct_state s)
{
    static const char *const names[CT_STATE_COUNT] = {
        "SYN_SENT", "SYN_RECV", "ESTABLISHED", "FIN_WAIT", "TIME_WAIT",
        "CLOSE",    "UNREPLIED", "REPLIED",   "ICMP",
    };
    return (unsigned)s < CT_STATE_COUNT ? names[s] : "?";
}

/* ---- hashing: SipHash-2-4 of the 13-byte key, packed into two words ---- */

static inline uint64_t rotl(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

#define SIPROUND                                                                               \
    do {                                                                                       \
        v0 += v1;                                                                              \
        v1 = rotl(v1, 13);                                                                     \
        v1 ^= v0;                                                                              \
        v0 = rotl(v0, 32);                                                                     \
        v2 += v3;                                                                              \
        v3 = rotl(v3, 16);                                                                     \
        v3 ^= v2;                                                                              \
        v0 += v3;                                                                              \
        v3 = rotl(v3, 21);                                                                     \
        v3 ^= v0;                                                                              \
        v2 += v1;                                                                              \
        v1 = rotl(v1, 17);                                                                     \
        v1 ^= v2;                                                                              \
        v2 = rotl(v2, 32);                                                                     \
    } while (0)

static uint64_t hash_key(const struct ct_table *t, const struct ct_key *k)
{
    uint64_t v0 = t->k0 ^ 0x736f6d6570736575ull, v1 = t->k1 ^ 0x646f72616e646f6dull;
    uint64_t v2 = t->k0 ^ 0x6c7967656e657261ull, v3 = t->k1 ^ 0x7465646279746573ull;
    uint64_t m[2] = {
        (uint64_t)k->src << 32 | k->dst,
        (uint64_t)13 << 56 | (uint64_t)k->proto << 32 | (uint64_t)k->sport << 16 | k->dport,
    };
    for (int i = 0; i < 2; i++) {
        v3 ^= m[i];
        SIPROUND;
        SIPROUND;
        v0 ^= m[i];
    }
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

static bool key_eq(const struct ct_key *a, const struct ct_key *b)
{
    return a->src == b->src && a->dst == b->dst && a->sport == b->sport &&
           a->dport == b->dport && a->proto == b->proto;
}

static size_t bucket_of(const struct ct_table *t, const struct ct_key *k)
{
    return (size_t)hash_key(t, k) & (t->nbuckets - 1);
}

static size_t buckets_for(uint32_t max_entries)
{
    size_t n = MIN_BUCKETS;
    while (n < max_entries / 2 && n < MAX_BUCKETS) n <<= 1;
    return n;
}

/* ---- lists ---- */

static bool is_assured(const struct ct_entry *e)
{
    switch (e->state) {
    case CT_TCP_ESTABLISHED:
    case CT_TCP_FIN_WAIT:
    case CT_UDP_REPLIED: return true;
    case CT_ICMP: return e->packets[1] > 0;
    default: return false;
    }
}

static void lru_unlink(struct ct_table *t, struct ct_entry *e)
{
    struct lru *l = &t->lru[e->on_assured];
    if (e->lru_prev)
        e->lru_prev->lru_next = e->lru_next;
    else
        l->head = e->lru_next;
    if (e->lru_next)
        e->lru_next->lru_prev = e->lru_prev;
    else
        l->tail = e->lru_prev;
    e->lru_prev = e->lru_next = NULL;
}

static void lru_push(struct ct_table *t, struct ct_entry *e)
{
    e->on_assured = is_assured(e);
    struct lru *l = &t->lru[e->on_assured];
    e->lru_prev = NULL;
    e->lru_next = l->head;
    if (l->head)
        l->head->lru_prev = e;
    else
        l->tail = e;
    l->head = e;
}

static void owner_unlink(struct ct_table *t, struct ct_entry *e)
{
    if (e->owner < 0 || (size_t)e->owner >= t->nowners) return;
    struct owner *o = &t->owners[e->owner];
    if (e->olru_prev)
        e->olru_prev->olru_next = e->olru_next;
    else
        o->head = e->olru_next;
    if (e->olru_next)
        e->olru_next->olru_prev = e->olru_prev;
    else
        o->tail = e->olru_prev;
    e->olru_prev = e->olru_next = NULL;
    o->count--;
}

static void owner_push(struct ct_table *t, struct ct_entry *e)
{
    if (e->owner < 0 || (size_t)e->owner >= t->nowners) return;
    struct owner *o = &t->owners[e->owner];
    e->olru_prev = NULL;
    e->olru_next = o->head;
    if (o->head)
        o->head->olru_prev = e;
    else
        o->tail = e;
    o->head = e;
    o->count++;
}

/* Room for owner index i; false if it cannot be made (then the flow has no owner). */
static bool owner_slot(struct ct_table *t, int i)
{
    if (i < 0 || i >= MAX_OWNERS) return false;
    if ((size_t)i < t->nowners) return true;
    size_t n = t->nowners ? t->nowners : 16;
    while (n <= (size_t)i) n *= 2;
    struct owner *o = realloc(t->owners, n * sizeof(*o));
    if (!o) return false;
    memset(o + t->nowners, 0, (n - t->nowners) * sizeof(*o));
    t->owners = o;
    t->nowners = n;
    return true;
}

static void bucket_unlink(struct ct_table *t, struct ct_entry *e)
{
    struct ct_entry **pp = &t->buckets[bucket_of(t, &e->key)];
    while (*pp && *pp != e) pp = &(*pp)->hnext;
    if (*pp) *pp = e->hnext;
    e->hnext = NULL;
}

void ct_remove(struct ct_table *t, struct ct_entry *e)
{
    bucket_unlink(t, e);
    lru_unlink(t, e);
    owner_unlink(t, e);
    free(e);
    t->count--;
}

/* An owner's least recently used flow, preferring one without a reply. */
static struct ct_entry *owner_victim(struct ct_table *t, int owner)
{
    struct owner *o = &t->owners[owner];
    int n = 0;
    for (struct ct_entry *e = o->tail; e && n < SCAN_UNREPLIED; e = e->olru_prev, n++)
        if (!e->on_assured) return e;
    return o->tail;
}

static void evict_one(struct ct_table *t)
{
    /* from the owner holding the most; without owners, the global order */
    struct ct_entry *victim = NULL;
    uint32_t most = 0;
    int who = -1;
    for (size_t i = 0; i < t->nowners; i++)
        if (t->owners[i].count > most) {
            most = t->owners[i].count;
            who = (int)i;
        }
    if (who >= 0) victim = owner_victim(t, who);
    if (!victim) victim = t->lru[0].tail ? t->lru[0].tail : t->lru[1].tail;
    if (!victim) return;
    ct_remove(t, victim);
    t->evicted++;
}

/* ---- table ---- */

struct ct_table *ct_create(const struct ct_limits *lim)
{
    struct ct_table *t = calloc(1, sizeof(*t));
    if (!t) return NULL;
    t->lim = *lim;
    if (t->lim.max_entries == 0) t->lim.max_entries = 1;
    t->nbuckets = buckets_for(t->lim.max_entries);
    t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
    if (!t->buckets) {
        free(t);
        return NULL;
    }
    uint64_t key[2];
    if (getrandom(key, sizeof(key), GRND_NONBLOCK) != (ssize_t)sizeof(key)) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        key[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)(uintptr_t)t;
        key[1] = (uint64_t)ts.tv_sec * 0xc2b2ae3d27d4eb4full ^ (uint64_t)(uintptr_t)&ts;
    }
    t->k0 = key[0];
    t->k1 = key[1];
    return t;
}

void ct_destroy(struct ct_table *t)
{
    if (!t) return;
    for (int l = 0; l < 2; l++) {
        struct ct_entry *e = t->lru[l].head;
        while (e) {
            struct ct_entry *next = e->lru_next;
            free(e);
            e = next;
        }
    }
    free(t->buckets);
    free(t->owners);
    free(t);
}

int ct_set_limits(struct ct_table *t, const struct ct_limits *lim)
{
    struct ct_limits nl = *lim;
    if (nl.max_entries == 0) nl.max_entries = 1;
    size_t nb = buckets_for(nl.max_entries);
    if (nb != t->nbuckets) {
        struct ct_entry **b = calloc(nb, sizeof(*b));
        if (!b) return -1;
        free(t->buckets);
        t->buckets = b;
        t->nbuckets = nb;
        t->sweep = 0;
        for (int l = 0; l < 2; l++) {
            for (struct ct_entry *e = t->lru[l].head; e; e = e->lru_next) {
                size_t i = bucket_of(t, &e->key);
                e->hnext = b[i];
                b[i] = e;
            }
        }
    }
    t->lim = nl;
    while (t->count > t->lim.max_entries) evict_one(t);
    return 0;
}

static struct ct_entry *lookup(struct ct_table *t, const struct ct_key *k, uint64_t now)
{
    struct ct_entry *e = t->buckets[bucket_of(t, k)];
    while (e && !key_eq(&e->key, k)) e = e->hnext;
    if (e && e->expires <= now) {
        ct_remove(t, e);
        t->expired++;
        return NULL;
    }
    return e;
}

struct ct_entry *ct_find(struct ct_table *t, const struct ct_key *k, uint64_t now, bool *reply)
{
    struct ct_entry *e = lookup(t, k, now);
    if (e) {
        *reply = false;
        return e;
    }
    struct ct_key r = {k->dst, k->src, k->dport, k->sport, k->proto};
    e = lookup(t, &r, now);
    if (e) *reply = true;
    return e;
}

static uint64_t timeout_ms(const struct ct_table *t, enum ct_state s)
{
    return (uint64_t)t->lim.timeout[s] * 1000;
}

struct ct_entry *ct_add(struct ct_table *t, const struct ct_key *k, uint8_t tcp_flags,
                        uint64_t now)
{
    return ct_add_owned(t, k, tcp_flags, now, -1);
}

void ct_set_quota(struct ct_table *t, uint32_t quota)
{
    t->quota = quota;
}

uint32_t ct_owner_count(const struct ct_table *t, int owner)
{
    return owner >= 0 && (size_t)owner < t->nowners ? t->owners[owner].count : 0;
}

struct ct_entry *ct_add_owned(struct ct_table *t, const struct ct_key *k, uint8_t tcp_flags,
                              uint64_t now, int owner)
{
    if (!owner_slot(t, owner)) owner = -1;
    /* an owner at its quota pays with its own flows */
    while (owner >= 0 && t->quota && t->owners[owner].count >= t->quota) {
        ct_remove(t, owner_victim(t, owner));
        t->evicted++;
    }
    while (t->count >= t->lim.max_entries && t->count > 0) evict_one(t);
    struct ct_entry *e = calloc(1, sizeof(*e));
    if (!e) return NULL;
    e->key = *k;
    e->owner = owner;
    switch (k->proto) {
    case NET_IPPROTO_TCP:
        e->state = (tcp_flags & (NET_TCP_SYN | NET_TCP_ACK)) == NET_TCP_SYN ? CT_TCP_SYN_SENT
                                                                         : CT_TCP_ESTABLISHED;
        break;
    case NET_IPPROTO_ICMP: e->state = CT_ICMP; break;
    default: e->state = CT_UDP_UNREPLIED; break;
    }
    e->created = e->last_seen = now;
    e->expires = now + timeout_ms(t, e->state);
    size_t i = bucket_of(t, k);
    e->hnext = t->buckets[i];
    t->buckets[i] = e;
    lru_push(t, e);
    owner_push(t, e);
    t->count++;
    t->created++;
    return e;
}

static void tcp_advance(struct ct_entry *e, bool reply, uint8_t flags)
{
    if (flags & NET_TCP_RST) {
        e->state = CT_TCP_CLOSE;
        return;
    }
    switch (e->state) {
    case CT_TCP_SYN_SENT:
        if (reply && (flags & NET_TCP_SYN)) e->state = CT_TCP_SYN_RECV;
        break;
    case CT_TCP_SYN_RECV:
        if (!reply && (flags & (NET_TCP_SYN | NET_TCP_ACK)) == NET_TCP_ACK)
            e->state = CT_TCP_ESTABLISHED;
        break;
    default: break;
    }
    if ((flags & NET_TCP_FIN) &&
        (e->state == CT_TCP_ESTABLISHED || e->state == CT_TCP_FIN_WAIT)) {
        e->fin[reply] = true;
        e->state = e->fin[0] && e->fin[1] ? CT_TCP_TIME_WAIT : CT_TCP_FIN_WAIT;
    }
}

void ct_update(struct ct_table *t, struct ct_entry *e, bool reply, uint8_t tcp_flags,
               size_t bytes, uint64_t now)
{
    e->packets[reply]++;
    e->bytes[reply] += bytes;
    e->last_seen = now;
    if (e->key.proto == NET_IPPROTO_TCP)
        tcp_advance(e, reply, tcp_flags);
    else if (e->state == CT_UDP_UNREPLIED && reply)
        e->state = CT_UDP_REPLIED;
    e->expires = now + timeout_ms(t, e->state);
    lru_unlink(t, e);
    lru_push(t, e);
    owner_unlink(t, e);
    owner_push(t, e);
}

size_t ct_expire(struct ct_table *t, uint64_t now, size_t budget)
{
    size_t freed = 0;
    if (budget > t->nbuckets) budget = t->nbuckets;
    for (size_t n = 0; n < budget; n++) {
        struct ct_entry **pp = &t->buckets[t->sweep];
        while (*pp) {
            struct ct_entry *e = *pp;
            if (e->expires <= now) {
                *pp = e->hnext;
                lru_unlink(t, e);
                owner_unlink(t, e);
                free(e);
                t->count--;
                t->expired++;
                freed++;
            } else {
                pp = &e->hnext;
            }
        }
        t->sweep = (t->sweep + 1) & (t->nbuckets - 1);
    }
    return freed;
}

void ct_get_stats(const struct ct_table *t, struct ct_stats *st)
{
    st->entries = t->count;
    st->max_entries = t->lim.max_entries;
    st->created = t->created;
    st->evicted = t->evicted;
    st->expired = t->expired;
}

void ct_foreach(struct ct_table *t, uint64_t now, bool (*fn)(const struct ct_entry *, void *),
                void *opaque)
{
    for (int l = 1; l >= 0; l--)
        for (struct ct_entry *e = t->lru[l].head; e; e = e->lru_next)
            if (e->expires > now && !fn(e, opaque)) return;
}
