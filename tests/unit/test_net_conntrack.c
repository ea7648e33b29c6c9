/*
 * test_net_conntrack.c - the flow table (src/network/conntrack.c) on a fake
 * clock: TCP states from SYN to FIN/RST, reply lookup, idle timeouts per
 * state, the bound and the eviction order (unreplied flows first), the
 * incremental sweep, and resizing.
 */
#include "network/conntrack.h"
#include "network/packet.h"

#include <stdio.h>
#include <string.h>

#include "check.h"

#define SYN NET_TCP_SYN
#define ACK NET_TCP_ACK
#define FIN NET_TCP_FIN
#define RST NET_TCP_RST

static struct ct_key tcp(uint16_t sport)
{
    return (struct ct_key){0x0a000104, 0x0a000205, sport, 80, NET_IPPROTO_TCP};
}

static struct ct_key rev(struct ct_key k)
{
    return (struct ct_key){k.dst, k.src, k.dport, k.sport, k.proto};
}

/* Account a packet: find its flow (creating it for the initiator) and update. */
static struct ct_entry *pkt(struct ct_table *t, struct ct_key k, uint8_t flags, uint64_t now,
                            bool *reply_out)
{
    bool reply = false;
    struct ct_entry *e = ct_find(t, &k, now, &reply);
    if (!e) e = ct_add(t, &k, flags, now);
    if (e) ct_update(t, e, reply, flags, 60, now);
    if (reply_out) *reply_out = reply;
    return e;
}

static void test_tcp_states(void)
{
    struct ct_limits lim;
    ct_default_limits(&lim);
    struct ct_table *t = ct_create(&lim);
    struct ct_key k = tcp(40000);
    bool reply;
    uint64_t now = 1000;
    struct ct_entry *e = pkt(t, k, SYN, now, &reply);
    CHECK(e && !reply && e->state == CT_TCP_SYN_SENT, "SYN -> SYN_SENT");
    CHECK(e->expires == now + 60 * 1000, "SYN timeout 60 s");
    e = pkt(t, rev(k), SYN | ACK, now, &reply);
    CHECK(e && reply && e->state == CT_TCP_SYN_RECV, "SYN+ACK reply -> SYN_RECV");
    e = pkt(t, k, ACK, now, &reply);
    CHECK(e && !reply && e->state == CT_TCP_ESTABLISHED, "ACK -> ESTABLISHED");
    CHECK(e->expires == now + 7440ull * 1000, "established timeout 2 h 4 min");
    e = pkt(t, rev(k), ACK, now, &reply);
    CHECK(e && reply && e->state == CT_TCP_ESTABLISHED, "data both ways");
    CHECK(e->packets[0] == 2 && e->packets[1] == 2 && e->bytes[1] == 120, "counters");
    e = pkt(t, k, FIN | ACK, now, &reply);
    CHECK(e->state == CT_TCP_FIN_WAIT && e->fin[0] && !e->fin[1], "FIN -> FIN_WAIT");
    e = pkt(t, rev(k), FIN | ACK, now, &reply);
    CHECK(e->state == CT_TCP_TIME_WAIT, "both FINs -> TIME_WAIT");
    e = pkt(t, k, ACK, now, &reply);
    CHECK(e->state == CT_TCP_TIME_WAIT && e->expires == now + 120 * 1000, "TIME_WAIT 120 s");
    ct_remove(t, e);

    /* RST in any state */
    k = tcp(40001);
    pkt(t, k, SYN, now, NULL);
    pkt(t, rev(k), SYN | ACK, now, NULL);
    e = pkt(t, rev(k), RST, now, &reply);
    CHECK(e && e->state == CT_TCP_CLOSE && e->expires == now + 10 * 1000, "RST -> CLOSE 10 s");

    /* a reply SYN+ACK does not establish by itself; a data packet before the
     * handshake completes does not either */
    k = tcp(40002);
    pkt(t, k, SYN, now, NULL);
    e = pkt(t, k, ACK, now, NULL);
    CHECK(e->state == CT_TCP_SYN_SENT, "initiator ACK before SYN+ACK: still SYN_SENT");

    /* picked up mid-stream (a flow the table did not see start) */
    k = tcp(40003);
    e = pkt(t, k, ACK, now, NULL);
    CHECK(e && e->state == CT_TCP_ESTABLISHED, "loose pickup -> ESTABLISHED");

    /* UDP and ICMP */
    struct ct_key u = {0x0a000104, 0x08080808, 5353, 53, NET_IPPROTO_UDP};
    e = pkt(t, u, 0, now, NULL);
    CHECK(e->state == CT_UDP_UNREPLIED && e->expires == now + 30 * 1000, "UDP unreplied 30 s");
    e = pkt(t, rev(u), 0, now, &reply);
    CHECK(reply && e->state == CT_UDP_REPLIED && e->expires == now + 180 * 1000,
          "UDP replied 180 s");
    struct ct_key ic = {0x0a000104, 0x08080808, 77, 77, NET_IPPROTO_ICMP};
    e = pkt(t, ic, 0, now, NULL);
    CHECK(e->state == CT_ICMP && e->expires == now + 30 * 1000, "ICMP 30 s");
    e = pkt(t, rev(ic), 0, now, &reply);
    CHECK(reply, "echo reply direction found");
    ct_destroy(t);
}

static void test_timeouts(void)
{
    struct ct_limits lim;
    ct_default_limits(&lim);
    struct ct_table *t = ct_create(&lim);
    struct ct_key u = {1, 2, 3, 4, NET_IPPROTO_UDP};
    bool reply;
    pkt(t, u, 0, 0, NULL);
    CHECK(ct_find(t, &u, 29999, &reply) != NULL, "alive before 30 s");
    pkt(t, u, 0, 29999, NULL); /* refreshed */
    CHECK(ct_find(t, &u, 59000, &reply) != NULL, "a packet refreshes the timeout");
    CHECK(ct_find(t, &u, 59999, &reply) == NULL, "gone after 30 s idle");
    struct ct_stats st;
    ct_get_stats(t, &st);
    CHECK(st.entries == 0 && st.expired == 1, "expired entry freed on lookup");

    /* the sweep frees idle entries nobody looks up */
    for (uint16_t i = 0; i < 100; i++) {
        struct ct_key k = {1, 2, i, 9, NET_IPPROTO_UDP};
        pkt(t, k, 0, 1000, NULL);
    }
    size_t freed = ct_expire(t, 2000, 1u << 20);
    CHECK(freed == 0, "nothing expired yet");
    freed = ct_expire(t, 1000 + 30000, 1u << 20);
    CHECK(freed == 100, "sweep freed %zu", freed);
    ct_get_stats(t, &st);
    CHECK(st.entries == 0, "table empty after the sweep");
    ct_destroy(t);
}

static void test_bound_and_eviction(void)
{
    struct ct_limits lim;
    ct_default_limits(&lim);
    lim.max_entries = 4;
    struct ct_table *t = ct_create(&lim);
    uint64_t now = 0;
    /* two established flows */
    for (uint16_t p = 1; p <= 2; p++) {
        struct ct_key k = tcp(p);
        pkt(t, k, SYN, now, NULL);
        pkt(t, rev(k), SYN | ACK, now, NULL);
        pkt(t, k, ACK, now, NULL);
        now++;
    }
    /* a SYN flood of 100 flows */
    for (uint16_t p = 1000; p < 1100; p++) {
        struct ct_key k = tcp(p);
        pkt(t, k, SYN, now++, NULL);
    }
    struct ct_stats st;
    ct_get_stats(t, &st);
    CHECK(st.entries == 4, "bounded at 4 (%llu)", (unsigned long long)st.entries);
    CHECK(st.evicted == 98, "98 evictions (%llu)", (unsigned long long)st.evicted);
    bool reply;
    struct ct_key k1 = tcp(1), k2 = tcp(2), last = tcp(1099), first = tcp(1000);
    CHECK(ct_find(t, &k1, now, &reply) && ct_find(t, &k2, now, &reply),
          "established flows survive a SYN flood");
    CHECK(ct_find(t, &last, now, &reply) != NULL, "newest SYN kept");
    CHECK(ct_find(t, &first, now, &reply) == NULL, "oldest SYN evicted");

    /* when every flow is established, the least recently used one goes */
    for (uint16_t p = 3; p <= 4; p++) {
        struct ct_key k = tcp(p);
        pkt(t, k, SYN, now, NULL);
        pkt(t, rev(k), SYN | ACK, now, NULL);
        pkt(t, k, ACK, now, NULL);
        now++;
    }
    pkt(t, k1, ACK, now++, NULL); /* flow 1 is used again: flow 2 is now the LRU */
    struct ct_key k5 = tcp(5);
    pkt(t, k5, SYN, now++, NULL);
    CHECK(ct_find(t, &k2, now, &reply) == NULL, "LRU established flow evicted");
    CHECK(ct_find(t, &k1, now, &reply) != NULL, "recently used flow kept");
    ct_get_stats(t, &st);
    CHECK(st.entries == 4, "still 4");

    /* shrinking the bound evicts down to it; growing rehashes */
    lim.max_entries = 2;
    CHECK(ct_set_limits(t, &lim) == 0, "shrink");
    ct_get_stats(t, &st);
    CHECK(st.entries == 2 && st.max_entries == 2, "2 left");
    CHECK(ct_find(t, &k1, now, &reply) != NULL, "assured flow 1 kept over unreplied SYN");
    lim.max_entries = 100000;
    CHECK(ct_set_limits(t, &lim) == 0, "grow");
    CHECK(ct_find(t, &k1, now, &reply) != NULL, "findable after rehash");
    ct_destroy(t);
}

static void test_many(void)
{
    struct ct_limits lim;
    ct_default_limits(&lim);
    lim.max_entries = 20000;
    struct ct_table *t = ct_create(&lim);
    for (uint32_t i = 0; i < 30000; i++) {
        struct ct_key k = {0x0a000000 + (i % 250), 0x08080808, (uint16_t)(i / 250), 53,
                           NET_IPPROTO_UDP};
        pkt(t, k, 0, i, NULL);
    }
    struct ct_stats st;
    ct_get_stats(t, &st);
    CHECK(st.entries == 20000 && st.evicted == 10000, "bounded at 20000");
    int found = 0;
    bool reply;
    for (uint32_t i = 10000; i < 30000; i++) {
        struct ct_key k = {0x08080808, 0x0a000000 + (i % 250), 53, (uint16_t)(i / 250),
                           NET_IPPROTO_UDP};
        if (ct_find(t, &k, 30000, &reply) && reply) found++;
    }
    CHECK(found == 20000, "all 20000 newest flows found in reply direction (%d)", found);
    ct_destroy(t);
}

/* Per-owner quotas: a NIC at its share evicts only its own flows, and a
 * full table takes from the owner holding the most. */
static void test_owner_quotas(void)
{
    struct ct_limits lim;
    ct_default_limits(&lim);
    lim.max_entries = 100;
    struct ct_table *t = ct_create(&lim);
    ct_set_quota(t, 50); /* two NICs, an equal share each */
    uint64_t now = 0;
    bool reply;
    /* the victim (owner 1) has 10 established flows and 5 just opened */
    for (uint16_t p = 1; p <= 15; p++) {
        struct ct_key k = {0x0a000105, 0x08080808, p, 443, NET_IPPROTO_TCP};
        struct ct_entry *e = ct_add_owned(t, &k, SYN, now, 1);
        ct_update(t, e, false, SYN, 60, now);
        if (p <= 10) {
            struct ct_key r = rev(k);
            e = ct_find(t, &r, now, &reply);
            ct_update(t, e, true, SYN | ACK, 60, now);
            ct_update(t, e, false, ACK, 60, now);
        }
        now++;
    }
    /* the attacker (owner 0) opens 10000 flows, replied to or not */
    for (uint32_t i = 0; i < 10000; i++) {
        struct ct_key k = {0x0a000104, 0x01000000 + i, (uint16_t)(i % 60000 + 1), 53,
                           NET_IPPROTO_UDP};
        struct ct_entry *e = ct_add_owned(t, &k, 0, now, 0);
        ct_update(t, e, false, 0, 60, now);
        if (i % 2) ct_update(t, e, true, 0, 60, now);
        now++;
    }
    CHECK(ct_owner_count(t, 0) == 50, "attacker held to its quota (%u)", ct_owner_count(t, 0));
    CHECK(ct_owner_count(t, 1) == 15, "victim keeps all 15 flows (%u)", ct_owner_count(t, 1));
    int kept = 0;
    for (uint16_t p = 1; p <= 15; p++) {
        struct ct_key k = {0x0a000105, 0x08080808, p, 443, NET_IPPROTO_TCP};
        kept += ct_find(t, &k, now, &reply) != NULL;
    }
    CHECK(kept == 15, "the victim's flows, even the unreplied ones, survive (%d)", kept);
    /* at its quota the attacker evicted its unreplied flows first */
    struct ct_key last = {0x0a000104, 0x01000000 + 9999, 9999 % 60000 + 1, 53, NET_IPPROTO_UDP};
    CHECK(ct_find(t, &last, now, &reply) != NULL, "the attacker's newest flow is there");

    /* a smaller quota (a third NIC joined): the table fills, and the owner
     * with the most pays */
    ct_set_quota(t, 33);
    lim.max_entries = 70;
    CHECK(ct_set_limits(t, &lim) == 0, "shrink to 70");
    CHECK(ct_owner_count(t, 1) == 15, "victim still has 15 (%u)", ct_owner_count(t, 1));
    CHECK(ct_owner_count(t, 0) == 50, "65 flows fit in 70: nothing evicted yet (%u)",
          ct_owner_count(t, 0));
    for (uint16_t p = 1; p <= 20; p++) {
        struct ct_key k = {0x0a000106, 0x08080404, p, 80, NET_IPPROTO_TCP};
        struct ct_entry *e = ct_add_owned(t, &k, SYN, now++, 2);
        ct_update(t, e, false, SYN, 60, now);
    }
    CHECK(ct_owner_count(t, 2) == 20, "the newcomer got its 20 (%u)", ct_owner_count(t, 2));
    CHECK(ct_owner_count(t, 1) == 15, "the victim still 15 (%u)", ct_owner_count(t, 1));
    CHECK(ct_owner_count(t, 0) == 35, "taken from the largest (%u)", ct_owner_count(t, 0));
    struct ct_stats st;
    ct_get_stats(t, &st);
    CHECK(st.entries == 70, "full at 70 (%llu)", (unsigned long long)st.entries);
    /* expiry keeps the owners' counts right */
    now += 8000ull * 1000;
    ct_expire(t, now, 1u << 20);
    CHECK(ct_owner_count(t, 0) == 0 && ct_owner_count(t, 1) == 0 && ct_owner_count(t, 2) == 0,
          "all expired: %u %u %u", ct_owner_count(t, 0), ct_owner_count(t, 1),
          ct_owner_count(t, 2));
    ct_destroy(t);
}

int main(void)
{
    test_tcp_states();
    test_timeouts();
    test_bound_and_eviction();
    test_many();
    test_owner_quotas();
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
