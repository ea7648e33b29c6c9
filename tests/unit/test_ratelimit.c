/*
 * test_ratelimit.c - the token-bucket limiter (src/storage/ratelimit.c) and
 * the disk tier table (src/storage/tiers.c), driven by a fake clock. Every
 * wait time is checked to the nanosecond against the definition in
 * ratelimit.h: a token of a bucket of `size` tokens refilled in `refill_ms`
 * accrues every refill_ms * 1e6 / size nanoseconds, and the k-th token after
 * an empty bucket exists at ceil(k * refill_ns / size).
 */
#include "storage/ratelimit.h"
#include "storage/tiers.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

#define MS  UINT64_C(1000000)
#define SEC UINT64_C(1000000000)

static struct ratelimit_config bw_only(uint64_t size, uint64_t refill_ms, uint64_t burst)
{
    struct ratelimit_config c = {0};
    c.bandwidth = (struct ratelimit_bucket_config){size, refill_ms, burst};
    return c;
}

/* A pointer to a bandwidth-only configuration, for one call. */
#define BW(size, ms, burst) (&(struct ratelimit_config){.bandwidth = {size, ms, burst}})

static struct ratelimit_config ops_only(uint64_t size, uint64_t refill_ms, uint64_t burst)
{
    struct ratelimit_config c = {0};
    c.ops = (struct ratelimit_bucket_config){size, refill_ms, burst};
    return c;
}

static uint64_t ceil_div(uint64_t a, uint64_t b)
{
    return a / b + (a % b != 0);
}

static void test_disabled(void)
{
    struct ratelimit rl;
    struct ratelimit_config c = {0};
    ratelimit_init(&rl, &c, 0);
    CHECK(!ratelimit_enabled(&rl), "all-zero config is unlimited");
    for (int i = 0; i < 1000; i++)
        CHECK(ratelimit_consume(&rl, 1ull << 40, 0) == 0, "unlimited");
    c = bw_only(100, 0, 0); /* refill 0 disables too */
    ratelimit_init(&rl, &c, 0);
    CHECK(!ratelimit_enabled(&rl) && ratelimit_consume(&rl, 1000, 0) == 0, "refill 0 = off");
    c = bw_only(0, 1000, 50);
    ratelimit_init(&rl, &c, 0);
    CHECK(ratelimit_consume(&rl, 1000, 0) == 0, "size 0 = off");
}

static void test_starts_full_then_exact_waits(void)
{
    struct ratelimit rl;
    struct ratelimit_config c = bw_only(1000, 1000, 0); /* 1 byte per ms */
    ratelimit_init(&rl, &c, 5 * SEC);
    uint64_t t = 5 * SEC;
    CHECK(ratelimit_tokens(&rl, RL_BANDWIDTH, t) == 1000, "starts full");
    CHECK(ratelimit_consume(&rl, 600, t) == 0, "600 of 1000");
    CHECK(ratelimit_consume(&rl, 400, t) == 0, "the other 400");
    CHECK(ratelimit_consume(&rl, 1, t) == MS, "1 byte: wait 1 ms, got %" PRIu64,
          ratelimit_consume(&rl, 1, t));
    CHECK(ratelimit_consume(&rl, 10, t) == 10 * MS, "10 bytes: wait 10 ms");
    CHECK(ratelimit_consume(&rl, 10, t + 10 * MS - 1) == 1, "1 ns short");
    CHECK(ratelimit_consume(&rl, 10, t + 10 * MS) == 0, "exactly on time");
    CHECK(ratelimit_tokens(&rl, RL_BANDWIDTH, t + 10 * MS) == 0, "empty again");
    /* a refused request takes nothing */
    CHECK(ratelimit_consume(&rl, 5, t + 12 * MS) == 3 * MS, "5 at 2 available: 3 ms");
    CHECK(ratelimit_tokens(&rl, RL_BANDWIDTH, t + 12 * MS) == 2, "still 2");
    /* never above size, however long the pause */
    CHECK(ratelimit_tokens(&rl, RL_BANDWIDTH, t + 3600 * SEC) == 1000, "capped at size");
}

static void test_fractional_rates_lose_nothing(void)
{
    /* 3 tokens per second: the k-th token after empty exists at ceil(k * 1e9 / 3) ns. */
    struct ratelimit rl;
    struct ratelimit_config c = ops_only(3, 1000, 0);
    ratelimit_init(&rl, &c, 0);
    for (int i = 0; i < 3; i++)
        CHECK(ratelimit_consume(&rl, 0, 0) == 0, "initial tokens");
    uint64_t now = 0;
    for (uint64_t k = 1; k <= 300; k++) {
        uint64_t due = ceil_div(k * SEC, 3);
        uint64_t w = ratelimit_consume(&rl, 0, now);
        CHECK(w == due - now, "token %" PRIu64 ": wait %" PRIu64 " want %" PRIu64, k, w, due - now);
        now += w;
        CHECK(ratelimit_consume(&rl, 0, now) == 0, "token %" PRIu64 " on time", k);
    }
    CHECK(now == 100 * SEC, "300 tokens at 3/s take exactly 100 s (%" PRIu64 ")", now);

    /* Same with 7 tokens in 1 ms and requests of 2: polling in odd steps changes nothing. */
    c = bw_only(7, 1, 0);
    ratelimit_init(&rl, &c, 0);
    CHECK(ratelimit_consume(&rl, 7, 0) == 0, "drain");
    uint64_t taken = 0;
    now = 0;
    while (now < 1000 * MS) {
        uint64_t w = ratelimit_consume(&rl, 2, now);
        if (w == 0) taken += 2;
        now += w ? (w < 12345 ? w : 12345) : 1; /* poll early, in odd steps */
    }
    /* 7000 tokens accrue in 1000 ms; the last request may be pending */
    CHECK(taken >= 6998 && taken <= 7000, "long-run rate: %" PRIu64 " of 7000", taken);
}

static void test_waiting_the_answer_always_suffices(void)
{
    uint64_t s = 88172645463325252ull;
    for (int i = 0; i < 20000; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        uint64_t size = s % 100000 + 1, refill = (s >> 20) % 5000 + 1;
        struct ratelimit rl;
        struct ratelimit_config c = bw_only(size, refill, (s >> 40) % 3 ? 0 : size / 2);
        c.ops = (struct ratelimit_bucket_config){(s >> 8) % 50 + 1, (s >> 30) % 900 + 1, 0};
        uint64_t now = s % SEC;
        ratelimit_init(&rl, &c, now);
        for (int j = 0; j < 8; j++) {
            uint64_t want = (s >> (j * 3)) % (2 * size) + 1;
            uint64_t w = ratelimit_consume(&rl, want, now);
            if (w) {
                CHECK(ratelimit_consume(&rl, want, now + w - 1) != 0, "not before the answer");
                CHECK(ratelimit_consume(&rl, want, now + w) == 0,
                      "at the answer (size %" PRIu64 " refill %" PRIu64 " want %" PRIu64 ")", size,
                      refill, want);
                now += w;
            }
            now += (s >> j) % (refill * MS / 4 + 1);
        }
    }
}

static void test_one_time_burst(void)
{
    struct ratelimit rl;
    struct ratelimit_config c = bw_only(100, 1000, 50);
    ratelimit_init(&rl, &c, 0);
    CHECK(ratelimit_burst_left(&rl, RL_BANDWIDTH) == 50, "burst granted");
    CHECK(ratelimit_consume(&rl, 30, 0) == 0, "30 from the burst");
    CHECK(ratelimit_burst_left(&rl, RL_BANDWIDTH) == 20 &&
              ratelimit_tokens(&rl, RL_BANDWIDTH, 0) == 100,
          "bucket untouched");
    CHECK(ratelimit_consume(&rl, 50, 0) == 0, "20 burst + 30 bucket");
    CHECK(ratelimit_burst_left(&rl, RL_BANDWIDTH) == 0 &&
              ratelimit_tokens(&rl, RL_BANDWIDTH, 0) == 70,
          "burst spent first");
    CHECK(ratelimit_consume(&rl, 70, 0) == 0 && ratelimit_consume(&rl, 1, 0) == 10 * MS,
          "then the bucket, then 10 ms per byte");
    CHECK(ratelimit_tokens(&rl, RL_BANDWIDTH, 100 * SEC) == 100 &&
              ratelimit_burst_left(&rl, RL_BANDWIDTH) == 0,
          "the burst never comes back");
    /* a request larger than the burst waits for the rest, keeping the burst */
    c = bw_only(100, 1000, 10);
    ratelimit_init(&rl, &c, 0);
    CHECK(ratelimit_consume(&rl, 100, 0) == 0, "10 burst + 90");
    CHECK(ratelimit_consume(&rl, 20, 0) == 100 * MS, "needs 10 more tokens: 100 ms");
    CHECK(ratelimit_burst_left(&rl, RL_BANDWIDTH) == 0, "burst used");
    c = bw_only(100, 1000, 40);
    ratelimit_init(&rl, &c, 0);
    CHECK(ratelimit_consume(&rl, 100, 0) == 0, "40 burst + 60");
    CHECK(ratelimit_consume(&rl, 70, 0) == 300 * MS, "70 > 40 left: waits for 30 more");
    CHECK(ratelimit_burst_left(&rl, RL_BANDWIDTH) == 0, "the burst was spent by the first");
}

static void test_oversize_requests(void)
{
    struct ratelimit rl;
    struct ratelimit_config c = bw_only(100, 1000, 0); /* 10 ms per token */
    ratelimit_init(&rl, &c, 0);
    CHECK(ratelimit_consume(&rl, 250, 0) == 0, "250 > size passes on a full bucket");
    CHECK(ratelimit_tokens(&rl, RL_BANDWIDTH, 0) == -150, "debt of 150");
    CHECK(ratelimit_consume(&rl, 1, 0) == 1510 * MS, "1 more waits for 151 tokens");
    CHECK(ratelimit_consume(&rl, 1, 1510 * MS) == 0, "then passes");
    /* not full: an over-size request waits until the bucket is full */
    ratelimit_init(&rl, &c, 0);
    CHECK(ratelimit_consume(&rl, 10, 0) == 0, "take 10");
    CHECK(ratelimit_consume(&rl, 1000, 0) == 100 * MS, "1000 waits until full (100 ms)");
    CHECK(ratelimit_consume(&rl, 1000, 100 * MS) == 0, "then passes");
    /* k times the size costs k refill times: no deadlock, exact long-run rate */
    ratelimit_init(&rl, &c, 0);
    uint64_t now = 0;
    for (int i = 0; i < 10; i++) {
        uint64_t w = ratelimit_consume(&rl, 300, now);
        if (w) {
            CHECK(i > 0 && w == 3 * SEC, "oversize %d waits 3 s: %" PRIu64, i, w);
            now += w;
            CHECK(ratelimit_consume(&rl, 300, now) == 0, "oversize %d", i);
        }
    }
    CHECK(now == 27 * SEC, "10 x 300 tokens at 100/s after a full start: 27 s (%" PRIu64 ")", now);
}

static void test_two_buckets(void)
{
    struct ratelimit rl;
    struct ratelimit_config c = bw_only(1 << 20, 1000, 0); /* 1 MiB/s */
    c.ops = (struct ratelimit_bucket_config){10, 1000, 0}; /* 10 ops/s */
    ratelimit_init(&rl, &c, 0);
    for (int i = 0; i < 10; i++)
        CHECK(ratelimit_consume(&rl, 512, 0) == 0, "10 small ops");
    CHECK(ratelimit_consume(&rl, 512, 0) == 100 * MS, "11th op waits for the ops bucket");
    CHECK(ratelimit_tokens(&rl, RL_BANDWIDTH, 0) == (1 << 20) - 5120, "bytes not taken");
    ratelimit_init(&rl, &c, 0);
    CHECK(ratelimit_consume(&rl, 1 << 20, 0) == 0, "1 MiB in one op");
    CHECK(ratelimit_consume(&rl, 4096, 0) == ceil_div(4096 * SEC, 1 << 20), "then bandwidth-bound");
    CHECK(ratelimit_tokens(&rl, RL_OPS, 0) == 9, "op not taken while waiting");
    CHECK(ratelimit_consume(&rl, 0, 0) == 0, "a zero-byte op (flush) needs an op token only");
    /* the wait is the longer of the two: ops 100 ms, bytes 51424 / 1 MiB/s = 49.04 ms */
    ratelimit_init(&rl, &c, 0);
    for (int i = 0; i < 10; i++)
        ratelimit_consume(&rl, 100000, 0);
    uint64_t w = ratelimit_consume(&rl, 100000, 0);
    CHECK(w == 100 * MS, "max of both: %" PRIu64, w);
    ratelimit_init(&rl, &c, 0);
    for (int i = 0; i < 9; i++)
        ratelimit_consume(&rl, 100000, 0);
    w = ratelimit_consume(&rl, 200000, 0);
    CHECK(w == ceil_div(51424 * SEC, 1 << 20), "bytes-bound: %" PRIu64, w);
}

static void test_update(void)
{
    struct ratelimit rl;
    struct ratelimit_config c = bw_only(1000, 1000, 100);
    ratelimit_init(&rl, &c, 0);
    CHECK(ratelimit_consume(&rl, 500, 0) == 0, "burst 100 + 400");
    /* halve the size: 600 tokens clamp to 500; burst 0 not re-granted... */
    struct ratelimit_config c2 = bw_only(500, 1000, 500);
    ratelimit_update(&rl, &c2, 0);
    CHECK(ratelimit_tokens(&rl, RL_BANDWIDTH, 0) == 500, "clamped to the new size");
    CHECK(ratelimit_burst_left(&rl, RL_BANDWIDTH) == 0, "spent burst is not granted again");
    CHECK(ratelimit_consume(&rl, 500, 0) == 0 && ratelimit_consume(&rl, 1, 0) == 2 * MS,
          "new rate: 2 ms per token");
    /* grow: tokens kept, rate changes at once */
    ratelimit_update(&rl, BW(10000, 1000, 0), 0);
    CHECK(ratelimit_tokens(&rl, RL_BANDWIDTH, 0) == 0, "kept 0 tokens");
    CHECK(ratelimit_consume(&rl, 10, 0) == MS, "10 tokens at 10/ms");
    /* debt carries over an update */
    ratelimit_init(&rl, BW(100, 1000, 0), 0);
    ratelimit_consume(&rl, 300, 0);
    ratelimit_update(&rl, BW(200, 1000, 0), 0);
    CHECK(ratelimit_tokens(&rl, RL_BANDWIDTH, 0) == -200, "debt kept");
    /* disable, then enable again: starts full */
    ratelimit_update(&rl, BW(0, 0, 0), 0);
    CHECK(ratelimit_consume(&rl, 1 << 30, 0) == 0, "disabled");
    ratelimit_update(&rl, BW(100, 1000, 7), 0);
    CHECK(ratelimit_tokens(&rl, RL_BANDWIDTH, 0) == 100 &&
              ratelimit_burst_left(&rl, RL_BANDWIDTH) == 7,
          "re-enabled full, with its burst");
    /* tokens accrued before the update count at the old rate */
    ratelimit_init(&rl, BW(1000, 1000, 0), 0);
    ratelimit_consume(&rl, 1000, 0);
    ratelimit_update(&rl, BW(1000, 10, 0), 100 * MS); /* 100 tokens accrued by then */
    CHECK(ratelimit_tokens(&rl, RL_BANDWIDTH, 100 * MS) == 100, "accrued at the old rate");
    CHECK(ratelimit_tokens(&rl, RL_BANDWIDTH, 101 * MS) == 200, "then 100 per ms");
    CHECK(ratelimit_tokens(&rl, RL_BANDWIDTH, 200 * MS) == 1000, "capped at the size");
}

static void test_clock_and_extremes(void)
{
    struct ratelimit rl;
    ratelimit_init(&rl, BW(100, 1000, 0), 10 * SEC);
    ratelimit_consume(&rl, 100, 10 * SEC);
    CHECK(ratelimit_consume(&rl, 1, 5 * SEC) == 10 * MS, "clock going back: no refill");
    CHECK(ratelimit_consume(&rl, 1, 10 * SEC + 10 * MS) == 0, "and no harm");
    /* huge sizes and refill times do not overflow */
    ratelimit_init(&rl, BW(UINT64_MAX, UINT64_MAX, 0), 0);
    CHECK(ratelimit_consume(&rl, UINT64_MAX, 0) == 0, "huge full bucket");
    uint64_t w = ratelimit_consume(&rl, UINT64_MAX, 0);
    CHECK(w > 0, "then a (very long) wait: %" PRIu64, w);
    ratelimit_init(&rl, BW(1, 1, 0), 0);
    CHECK(ratelimit_consume(&rl, UINT64_MAX, 0) == 0, "1-token bucket, max request");
    CHECK(ratelimit_consume(&rl, 1, 0) == UINT64_MAX || ratelimit_consume(&rl, 1, 0) > SEC,
          "debt of 2^64 tokens");
    ratelimit_consume(&rl, 1, UINT64_MAX); /* far future: no overflow (UBSan watches) */
    ratelimit_init(&rl, BW(10, 1000, 0), 0);
    ratelimit_consume(&rl, 10, 0);
    CHECK(ratelimit_consume(&rl, 10, UINT64_MAX) == 0, "refilled by the far future");
}

/* ---- tiers ---- */

static void test_tier_table(void)
{
    enum disk_tier t;
    CHECK(disk_tier_parse("Premium_SSD", &t) == 0 && t == DISK_TIER_PREMIUM_SSD, "parse");
    CHECK(disk_tier_parse("standardssd_lrs", &t) == 0 && t == DISK_TIER_STANDARD_SSD, "alias");
    CHECK(disk_tier_parse("Standard_HDD", &t) == 0 && t == DISK_TIER_STANDARD_HDD, "hdd");
    CHECK(disk_tier_parse("Ultra", &t) < 0, "unknown tier");
    /* facts.md section 5, at 128 GiB */
    const struct disk_tier_size *s = disk_tier_lookup(DISK_TIER_STANDARD_HDD, 128);
    CHECK(s && !strcmp(s->name, "S10") && s->iops == 500 && s->mbps == 60 && !s->burst_iops, "S10");
    s = disk_tier_lookup(DISK_TIER_STANDARD_SSD, 128);
    CHECK(s && !strcmp(s->name, "E10") && s->iops == 500 && s->mbps == 60 && s->burst_iops == 600 &&
              s->burst_mbps == 150 && s->burst_seconds == 1800,
          "E10");
    s = disk_tier_lookup(DISK_TIER_PREMIUM_SSD, 128);
    CHECK(s && !strcmp(s->name, "P10") && s->iops == 500 && s->mbps == 100 &&
              s->burst_iops == 3500 && s->burst_mbps == 170 && s->burst_seconds == 1800,
          "P10");
    /* the premium ladder */
    struct {
        uint64_t gib;
        const char *name;
        uint32_t size, iops, mbps;
    } p[] = {
        {1, "P1", 4, 120, 25},
        {4, "P1", 4, 120, 25},
        {5, "P2", 8, 120, 25},
        {16, "P3", 16, 120, 25},
        {30, "P4", 32, 120, 25},
        {64, "P6", 64, 240, 50},
        {200, "P15", 256, 1100, 125},
        {512, "P20", 512, 2300, 150},
        {513, "P30", 1024, 5000, 200},
        {1024, "P30", 1024, 5000, 200},
        {32767, "P80", 32767, 20000, 900},
    };
    for (size_t i = 0; i < sizeof(p) / sizeof(p[0]); i++) {
        s = disk_tier_lookup(DISK_TIER_PREMIUM_SSD, p[i].gib);
        CHECK(s && !strcmp(s->name, p[i].name) && s->size_gib == p[i].size &&
                  s->iops == p[i].iops && s->mbps == p[i].mbps,
              "%" PRIu64 " GiB bills as %s", p[i].gib, p[i].name);
    }
    CHECK(disk_tier_lookup(DISK_TIER_PREMIUM_SSD, 0) == NULL, "0 GiB");
    CHECK(disk_tier_lookup(DISK_TIER_PREMIUM_SSD, 32768) == NULL, "beyond the largest size");
    s = disk_tier_lookup(DISK_TIER_STANDARD_HDD, 1);
    CHECK(s && !strcmp(s->name, "S4") && s->size_gib == 32, "HDD starts at S4 (32 GiB)");
    s = disk_tier_lookup(DISK_TIER_STANDARD_SSD, 1000);
    CHECK(s && !strcmp(s->name, "E30") && s->burst_iops == 1000 && s->burst_mbps == 250, "E30");
    s = disk_tier_lookup(DISK_TIER_PREMIUM_SSD, 1000);
    CHECK(s && s->burst_iops == 0, "P30 has no credit burst");
    /* every ladder is sorted and non-empty */
    for (int k = 0; k < 3; k++) {
        size_t n;
        const struct disk_tier_size *l = disk_tier_sizes((enum disk_tier)k, &n);
        CHECK(n > 8, "ladder %d", k);
        for (size_t i = 1; i < n; i++)
            CHECK(l[i].size_gib > l[i - 1].size_gib && l[i].iops >= l[i - 1].iops, "sorted");
    }
}

static void test_tier_limits(void)
{
    struct ratelimit_config c;
    disk_tier_limits(disk_tier_lookup(DISK_TIER_STANDARD_HDD, 128), &c);
    CHECK(c.ops.size == 500 && c.ops.refill_time_ms == 1000, "S10 ops: 500 per second");
    CHECK(c.bandwidth.size == 60 * DISK_TIER_MB && c.bandwidth.refill_time_ms == 1000,
          "S10 bandwidth: 60 MB per second");
    CHECK(c.peak_ops.size == 0 && c.peak_bandwidth.size == 0, "no peak buckets without burst");

    /* P10 at full burst: 3500 IOPS for about 30 minutes, then 500 */
    disk_tier_limits(disk_tier_lookup(DISK_TIER_PREMIUM_SSD, 128), &c);
    CHECK(c.ops.size == 500 + 3000 * 1800 && c.ops.refill_time_ms == 10801000, "P10 credit");
    CHECK(c.peak_ops.size == 3500 && c.peak_ops.refill_time_ms == 1000, "P10 peak");
    struct ratelimit rl;
    ratelimit_init(&rl, &c, 0);
    uint64_t now = 0, ops = 0, first_second = 0, burst_end = 0;
    while (now < 2400 * SEC) {
        uint64_t w = ratelimit_consume(&rl, 4096, now);
        if (w) {
            now += w;
            continue;
        }
        ops++;
        if (now < SEC) first_second++;
        /* the guest asks at 3500/s: one request every 1/3500 s */
        now += SEC / 3500;
        if (!burst_end && ratelimit_tokens(&rl, RL_OPS, now) < 3500) burst_end = now;
    }
    CHECK(first_second >= 3500 && first_second <= 3501, "runs at the burst rate: %" PRIu64,
          first_second);
    CHECK(burst_end > 1790 * SEC && burst_end < 1810 * SEC, "credit lasts ~30 min: %" PRIu64 " s",
          burst_end / SEC);
    uint64_t before = ops;
    uint64_t t0 = now;
    while (now < t0 + 10 * SEC) {
        uint64_t w = ratelimit_consume(&rl, 4096, now);
        if (w)
            now += w;
        else
            ops++, now += SEC / 3500;
    }
    CHECK(ops - before >= 4990 && ops - before <= 5010,
          "then the 500 IOPS baseline: %" PRIu64 " in 10 s", ops - before);
    /* a guest going as fast as it can: the peak buckets hold it to one second's worth at
     * the start plus the burst rate (3500 IOPS, 170 MB/s) */
    ratelimit_init(&rl, &c, 0);
    ops = 0;
    now = 0;
    while (now < 2 * SEC) {
        uint64_t w = ratelimit_consume(&rl, 512, now);
        if (w)
            now += w;
        else
            ops++;
    }
    CHECK(ops >= 3500 * 3 - 1 && ops <= 3500 * 3 + 1, "2 s flat out: %" PRIu64 " ops", ops);
    ratelimit_init(&rl, &c, 0);
    uint64_t bytes = 0;
    now = 0;
    while (now < 10 * SEC) {
        uint64_t w = ratelimit_consume(&rl, 1 << 20, now);
        if (w)
            now += w;
        else
            bytes += 1 << 20;
    }
    CHECK(bytes / DISK_TIER_MB >= 1869 && bytes / DISK_TIER_MB <= 1871,
          "10 s flat out at the 170 MB/s peak: %" PRIu64 " MB", bytes / DISK_TIER_MB);
}

/* Flat out from t0 for `secs` seconds: operations that passed. */
static uint64_t ops_flat_out(struct ratelimit *rl, uint64_t *now, uint64_t secs)
{
    uint64_t ops = 0, end = *now + secs * SEC;
    while (*now < end) {
        uint64_t w = ratelimit_consume(rl, 4096, *now);
        if (w)
            *now += w;
        else
            ops++;
    }
    return ops;
}

static void test_rates(void)
{
    struct ratelimit_rates r = {0};
    struct ratelimit_config c;
    char err[160];
    CHECK(ratelimit_rates_set(&r, "iops_max_length", 5) == 0 && r.iops_max_length == 5,
          "set by name");
    CHECK(ratelimit_rates_set(&r, "iops_maximum", 5) < 0, "unknown name");
    /* inconsistent settings say what is wrong */
    r = (struct ratelimit_rates){.iops_max = 1000};
    CHECK(ratelimit_rates_config(&r, &c, err, sizeof(err)) < 0 && strstr(err, "needs iops"),
          "max without rate: %s", err);
    r = (struct ratelimit_rates){.iops = 200, .iops_max = 200};
    CHECK(ratelimit_rates_config(&r, &c, err, sizeof(err)) < 0 && strstr(err, "must be above"),
          "max not above rate: %s", err);
    r = (struct ratelimit_rates){.bps = 1 << 20, .bps_max_length = 3};
    CHECK(ratelimit_rates_config(&r, &c, err, sizeof(err)) < 0 && strstr(err, "needs bps_max"),
          "length without max: %s", err);
    r = (struct ratelimit_rates){.bps_burst = 5};
    CHECK(ratelimit_rates_config(&r, &c, err, sizeof(err)) < 0 && strstr(err, "needs bps"),
          "burst without rate: %s", err);
    /* plain rates: one second of tokens refilled every second */
    r = (struct ratelimit_rates){.iops = 200, .bps = 1 << 20, .iops_burst = 50};
    CHECK(ratelimit_rates_config(&r, &c, err, sizeof(err)) == 0 && c.ops.size == 200 &&
              c.ops.refill_time_ms == 1000 && c.ops.one_time_burst == 50 &&
              c.bandwidth.size == 1 << 20 && !c.peak_ops.size,
          "plain rates");
    /* a credit burst: 1000/s for about 5 s, then 200/s; idle time earns it back */
    r = (struct ratelimit_rates){.iops = 200, .iops_max = 1000, .iops_max_length = 5};
    CHECK(ratelimit_rates_config(&r, &c, err, sizeof(err)) == 0, "burst config");
    struct ratelimit rl;
    ratelimit_init(&rl, &c, 0);
    uint64_t now = 0;
    uint64_t first = ops_flat_out(&rl, &now, 1);
    CHECK(first >= 2000 - 1 && first <= 2000 + 1, "first second: the peak's full second plus "
          "a second at the burst rate: %" PRIu64, first);
    uint64_t next = ops_flat_out(&rl, &now, 3);
    CHECK(next >= 3000 - 1 && next <= 3000 + 1, "then 1000/s: %" PRIu64, next);
    ops_flat_out(&rl, &now, 5); /* the credit runs out */
    uint64_t steady = ops_flat_out(&rl, &now, 10);
    CHECK(steady >= 2000 - 1 && steady <= 2000 + 1, "then the 200/s rate: %" PRIu64, steady);
    now += 60 * SEC; /* idle: the credit comes back */
    uint64_t again = ops_flat_out(&rl, &now, 2);
    CHECK(again >= 2000 + 1000 - 1 && again <= 2000 + 1000 + 1, "burst again after idling: %" PRIu64,
          again);
    /* the tier table through rates: what kumod passes kumo-vmm is what the tier says */
    const struct disk_tier_size *p10 = disk_tier_lookup(DISK_TIER_PREMIUM_SSD, 128);
    disk_tier_rates(p10, 0, &r);
    CHECK(r.iops == 500 && r.iops_max == 3500 && r.iops_max_length == 1800 &&
              r.bps == 100 * DISK_TIER_MB && r.bps_max == 170 * DISK_TIER_MB &&
              r.bps_max_length == 1800,
          "P10 rates");
    struct ratelimit_config t;
    disk_tier_limits(p10, &t);
    CHECK(ratelimit_rates_config(&r, &c, err, sizeof(err)) == 0 && !memcmp(&c, &t, sizeof(c)),
          "P10: the same buckets either way");
    /* what a limiter enforces reads back as the rates it was given */
    struct ratelimit_rates back;
    ratelimit_init(&rl, &c, 0);
    ratelimit_rates_of(&rl, &back);
    CHECK(!memcmp(&back, &r, sizeof(r)), "P10 reads back: iops %" PRIu64 " max %" PRIu64
          " length %" PRIu64, back.iops, back.iops_max, back.iops_max_length);
    struct ratelimit_rates plain = {.iops = 200, .bps = 3 << 20};
    CHECK(ratelimit_rates_config(&plain, &c, err, sizeof(err)) == 0, "plain");
    ratelimit_init(&rl, &c, 0);
    ratelimit_rates_of(&rl, &back);
    CHECK(!memcmp(&back, &plain, sizeof(plain)), "plain rates read back");
    /* a VM size's IOPS cap bounds the burst and, lower still, the baseline */
    disk_tier_rates(p10, 1000, &r);
    CHECK(r.iops == 500 && r.iops_max == 1000, "capped burst: %" PRIu64, r.iops_max);
    disk_tier_rates(p10, 400, &r);
    CHECK(r.iops == 400 && r.iops_max == 0 && r.iops_max_length == 0, "capped below baseline");
    disk_tier_rates(disk_tier_lookup(DISK_TIER_STANDARD_HDD, 128), 0, &r);
    CHECK(r.iops == 500 && !r.iops_max && !r.bps_max, "S10 has no burst");
}

int main(void)
{
    test_disabled();
    test_starts_full_then_exact_waits();
    test_fractional_rates_lose_nothing();
    test_waiting_the_answer_always_suffices();
    test_one_time_burst();
    test_oversize_requests();
    test_two_buckets();
    test_update();
    test_clock_and_extremes();
    test_tier_table();
    test_tier_limits();
    test_rates();
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
