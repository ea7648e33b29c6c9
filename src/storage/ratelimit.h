/*
 * ratelimit.h - token-bucket throttling of disk I/O with Firecracker's
 * semantics, as pure functions of a caller-provided clock (tests pass a fake
 * one; the VMM passes CLOCK_MONOTONIC nanoseconds).
 *
 * A limiter holds a bandwidth bucket (tokens = bytes) and an ops bucket
 * (tokens = operations), plus two optional "peak" buckets of the same kinds
 * (a kumo extension to cap the rate at which burst credit is spent; see
 * tiers.h). Each bucket has:
 *   size            tokens it holds when full; 0 disables the bucket
 *   refill_time_ms  time to refill from empty to full (continuous, linear:
 *                   size / refill_time tokens per unit of time); 0 disables
 *   one_time_burst  extra tokens granted once at creation, spent before the
 *                   bucket's own tokens, never replenished
 * A bucket starts full (plus its one-time burst).
 *
 * ratelimit_consume(rl, bytes, now) asks for `bytes` bandwidth tokens and one
 * op token (from every enabled bucket) at time `now`:
 *   - if every bucket has them, they are taken and it returns 0;
 *   - otherwise nothing is taken and it returns the exact number of
 *     nanoseconds after which every bucket will have enough (rounded up), so
 *     the caller sleeps exactly that long and retries. No fixed cool-down.
 * Over-size requests (more tokens than `size`): allowed as soon as the bucket
 * is full; the bucket then goes into debt (below zero) by the excess, which
 * refills at the normal rate before anything else passes. So a request of k
 * times the bucket size costs k refill times, large requests never deadlock,
 * and the long-run rate is exactly size / refill_time.
 *
 * ratelimit_update() changes the configuration at run time: buckets keep the
 * tokens they hold (clamped to the new size; debt carries over); a bucket
 * that was disabled starts full; the remaining one-time burst can only
 * shrink (to the new one_time_burst), never be granted again.
 *
 * Exact arithmetic: a bucket's level is kept in units of 1/refill_ns tokens
 * (128-bit), so refills lose nothing to rounding. Limits: size <= 2^62,
 * refill_time_ms <= 2^40 (larger values are clamped). Not thread-safe: the
 * caller serialises calls on one limiter.
 */
#ifndef KUMO_STORAGE_RATELIMIT_H
#define KUMO_STORAGE_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ratelimit_bucket_config {
    uint64_t size;
    uint64_t refill_time_ms;
    uint64_t one_time_burst;
};

struct ratelimit_config {
    struct ratelimit_bucket_config bandwidth;                /* bytes */
    struct ratelimit_bucket_config ops;                      /* operations */
    struct ratelimit_bucket_config peak_bandwidth, peak_ops; /* optional ceilings */
};

enum ratelimit_kind { RL_BANDWIDTH, RL_OPS, RL_PEAK_BANDWIDTH, RL_PEAK_OPS, RL_NKINDS };

__extension__ typedef __int128 ratelimit_level_t;

struct ratelimit_bucket { /* private: use the functions below */
    bool enabled;
    uint64_t size;
    uint64_t refill_ns;
    ratelimit_level_t level; /* tokens * refill_ns; may be negative (debt) */
    uint64_t burst;          /* one-time burst tokens left */
    uint64_t last_ns;        /* time of the last refill */
};

struct ratelimit {
    struct ratelimit_bucket b[RL_NKINDS];
};

void ratelimit_init(struct ratelimit *rl, const struct ratelimit_config *c, uint64_t now_ns);
uint64_t ratelimit_consume(struct ratelimit *rl, uint64_t bytes, uint64_t now_ns);
void ratelimit_update(struct ratelimit *rl, const struct ratelimit_config *c, uint64_t now_ns);

/* Whole tokens a bucket holds at now_ns (negative while in debt), one-time
 * burst excluded; and the burst left. For tests and metrics. */
int64_t ratelimit_tokens(struct ratelimit *rl, enum ratelimit_kind k, uint64_t now_ns);
uint64_t ratelimit_burst_left(const struct ratelimit *rl, enum ratelimit_kind k);
bool ratelimit_enabled(const struct ratelimit *rl);

/*
 * A disk's limits as users state them (kumo-vmm --disk, the control socket,
 * kumod from the tier table), with QEMU's names for the credit burst:
 *   iops, bps                  sustained operations and bytes per second
 *                              (0: that kind is unlimited)
 *   iops_max, bps_max          burst rate per second, above the sustained rate
 *   iops_max_length, ..._length  seconds a full credit lasts at the burst rate
 *                              (default 1); idle time earns it back at the
 *                              sustained rate
 *   iops_burst, bps_burst      one-time extra tokens, never earned back
 * ratelimit_rates_from() turns them into buckets: a rate bucket that holds
 * one second at the rate plus (max - rate) x length and refills at the rate,
 * and a peak bucket of one second at max, so a full credit sustains max for
 * `length` seconds and the credit is never spent faster than max.
 */
struct ratelimit_rates {
    uint64_t iops, bps;
    uint64_t iops_max, bps_max;
    uint64_t iops_max_length, bps_max_length;
    uint64_t iops_burst, bps_burst;
};

/* The rates a limiter enforces now (one-time bursts left out: those are
 * spent), as ratelimit_rates_config would have been given them. */
void ratelimit_rates_of(const struct ratelimit *rl, struct ratelimit_rates *r);

/* Set the field named key (one of the names above) to v. -1: no such name. */
int ratelimit_rates_set(struct ratelimit_rates *r, const char *key, uint64_t v);

/* The limiter settings for r. -1 with a message in err when r is
 * inconsistent (a max not above its rate, a max, length or burst without
 * its rate, a length without a max). */
int ratelimit_rates_config(const struct ratelimit_rates *r, struct ratelimit_config *c,
                           char *err, size_t errlen);

#endif
