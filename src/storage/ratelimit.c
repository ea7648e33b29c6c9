/*
 * ratelimit.c - the token buckets of ratelimit.h. The semantics (what a
 * request costs, when it may pass, how long to wait) are written down in the
 * header; this file is the arithmetic.
 */
#include "storage/ratelimit.h"

#include <stdio.h>
#include <string.h>

#define MAX_SIZE      (1ull << 62)
#define MAX_REFILL_MS (1ull << 40)
#define NS_PER_MS     1000000ull

static void bucket_init(struct ratelimit_bucket *b, const struct ratelimit_bucket_config *c,
                        uint64_t now)
{
    memset(b, 0, sizeof(*b));
    if (c->size == 0 || c->refill_time_ms == 0) return;
    b->enabled = true;
    b->size = c->size > MAX_SIZE ? MAX_SIZE : c->size;
    uint64_t ms = c->refill_time_ms > MAX_REFILL_MS ? MAX_REFILL_MS : c->refill_time_ms;
    b->refill_ns = ms * NS_PER_MS;
    b->level = (ratelimit_level_t)b->size * b->refill_ns;
    b->burst = c->one_time_burst;
    b->last_ns = now;
}

static ratelimit_level_t capacity(const struct ratelimit_bucket *b)
{
    return (ratelimit_level_t)b->size * b->refill_ns;
}

/* Add the tokens that accrued since last_ns: size tokens per refill_ns,
 * i.e. `size` level units per nanosecond. */
static void refill(struct ratelimit_bucket *b, uint64_t now)
{
    if (!b->enabled || now <= b->last_ns) return;
    uint64_t dt = now - b->last_ns;
    b->last_ns = now;
    ratelimit_level_t cap = capacity(b);
    if (b->level >= cap) return;
    ratelimit_level_t need = cap - b->level;
    /* dt * size reaches `need` once dt >= need / size: avoid the overflow. */
    if ((ratelimit_level_t)dt >= need / b->size + 1) {
        b->level = cap;
        return;
    }
    b->level += (ratelimit_level_t)dt * b->size;
    if (b->level > cap) b->level = cap;
}

/* 0 if n tokens may be taken now, else the nanoseconds until they may. */
static uint64_t bucket_wait(const struct ratelimit_bucket *b, uint64_t n)
{
    if (!b->enabled || n <= b->burst) return 0;
    uint64_t rest = n - b->burst;
    uint64_t req_tokens = rest < b->size ? rest : b->size; /* over-size: wait for full */
    ratelimit_level_t required = (ratelimit_level_t)req_tokens * b->refill_ns;
    if (b->level >= required) return 0;
    ratelimit_level_t deficit = required - b->level;
    ratelimit_level_t ns = (deficit + b->size - 1) / b->size;
    return ns > (ratelimit_level_t)UINT64_MAX ? UINT64_MAX : (uint64_t)ns;
}

static void bucket_take(struct ratelimit_bucket *b, uint64_t n)
{
    if (!b->enabled) return;
    if (n <= b->burst) {
        b->burst -= n;
        return;
    }
    uint64_t rest = n - b->burst;
    b->burst = 0;
    b->level -= (ratelimit_level_t)rest * b->refill_ns;
}

static uint64_t tokens_for(enum ratelimit_kind k, uint64_t bytes)
{
    return (k == RL_OPS || k == RL_PEAK_OPS) ? 1 : bytes;
}

void ratelimit_init(struct ratelimit *rl, const struct ratelimit_config *c, uint64_t now_ns)
{
    bucket_init(&rl->b[RL_BANDWIDTH], &c->bandwidth, now_ns);
    bucket_init(&rl->b[RL_OPS], &c->ops, now_ns);
    bucket_init(&rl->b[RL_PEAK_BANDWIDTH], &c->peak_bandwidth, now_ns);
    bucket_init(&rl->b[RL_PEAK_OPS], &c->peak_ops, now_ns);
}

uint64_t ratelimit_consume(struct ratelimit *rl, uint64_t bytes, uint64_t now_ns)
{
    uint64_t wait = 0;
    for (int k = 0; k < RL_NKINDS; k++) {
        refill(&rl->b[k], now_ns);
        uint64_t w = bucket_wait(&rl->b[k], tokens_for((enum ratelimit_kind)k, bytes));
        if (w > wait) wait = w;
    }
    if (wait) return wait;
    for (int k = 0; k < RL_NKINDS; k++)
        bucket_take(&rl->b[k], tokens_for((enum ratelimit_kind)k, bytes));
    return 0;
}

static void bucket_update(struct ratelimit_bucket *b, const struct ratelimit_bucket_config *c,
                          uint64_t now)
{
    if (!b->enabled) { /* disabled before: starts fresh (full) */
        bucket_init(b, c, now);
        return;
    }
    refill(b, now);
    ratelimit_level_t tokens = b->level / b->refill_ns; /* whole tokens, truncated toward zero */
    uint64_t burst = b->burst;
    bucket_init(b, c, now);
    if (!b->enabled) return;
    if (tokens < (ratelimit_level_t)b->size) b->level = tokens * b->refill_ns;
    if (burst < b->burst) b->burst = burst;
}

void ratelimit_update(struct ratelimit *rl, const struct ratelimit_config *c, uint64_t now_ns)
{
    bucket_update(&rl->b[RL_BANDWIDTH], &c->bandwidth, now_ns);
    bucket_update(&rl->b[RL_OPS], &c->ops, now_ns);
    bucket_update(&rl->b[RL_PEAK_BANDWIDTH], &c->peak_bandwidth, now_ns);
    bucket_update(&rl->b[RL_PEAK_OPS], &c->peak_ops, now_ns);
}

int64_t ratelimit_tokens(struct ratelimit *rl, enum ratelimit_kind k, uint64_t now_ns)
{
    struct ratelimit_bucket *b = &rl->b[k];
    if (!b->enabled) return INT64_MAX;
    refill(b, now_ns);
    ratelimit_level_t t = b->level / b->refill_ns;
    if (b->level < 0 && t * (ratelimit_level_t)b->refill_ns != b->level) t -= 1; /* floor */
    return t > INT64_MAX ? INT64_MAX : t < INT64_MIN ? INT64_MIN : (int64_t)t;
}

uint64_t ratelimit_burst_left(const struct ratelimit *rl, enum ratelimit_kind k)
{
    return rl->b[k].burst;
}

bool ratelimit_enabled(const struct ratelimit *rl)
{
    for (int k = 0; k < RL_NKINDS; k++)
        if (rl->b[k].enabled) return true;
    return false;
}

int ratelimit_rates_set(struct ratelimit_rates *r, const char *key, uint64_t v)
{
    static const struct {
        const char *name;
        size_t off;
    } fields[] = {
        {"iops", offsetof(struct ratelimit_rates, iops)},
        {"bps", offsetof(struct ratelimit_rates, bps)},
        {"iops_max", offsetof(struct ratelimit_rates, iops_max)},
        {"bps_max", offsetof(struct ratelimit_rates, bps_max)},
        {"iops_max_length", offsetof(struct ratelimit_rates, iops_max_length)},
        {"bps_max_length", offsetof(struct ratelimit_rates, bps_max_length)},
        {"iops_burst", offsetof(struct ratelimit_rates, iops_burst)},
        {"bps_burst", offsetof(struct ratelimit_rates, bps_burst)},
    };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        if (!strcmp(key, fields[i].name)) {
            memcpy((char *)r + fields[i].off, &v, sizeof(v));
            return 0;
        }
    return -1;
}

/* A bucket refilling `rate` tokens per second that holds `size` tokens. */
static struct ratelimit_bucket_config rate_bucket(uint64_t size, uint64_t rate)
{
    struct ratelimit_bucket_config b = {.size = size};
    if (size > MAX_SIZE) size = b.size = MAX_SIZE;
    /* size * 1000 / rate, to the nearest ms, without overflow */
    unsigned __int128 ms = ((unsigned __int128)size * 1000 + rate / 2) / rate;
    b.refill_time_ms = ms > MAX_REFILL_MS ? MAX_REFILL_MS : ms == 0 ? 1 : (uint64_t)ms;
    return b;
}

static int kind_config(const char *name, uint64_t rate, uint64_t max, uint64_t length,
                       uint64_t burst, struct ratelimit_bucket_config *b,
                       struct ratelimit_bucket_config *peak, char *err, size_t errlen)
{
    if (!rate) {
        const char *what = max ? "_max" : length ? "_max_length" : burst ? "_burst" : NULL;
        if (what) {
            snprintf(err, errlen, "%s%s needs %s (the sustained rate)", name, what, name);
            return -1;
        }
        return 0;
    }
    if (length && !max) {
        snprintf(err, errlen, "%s_max_length needs %s_max (the burst rate)", name, name);
        return -1;
    }
    if (max && max <= rate) {
        snprintf(err, errlen, "%s_max=%llu must be above %s=%llu", name, (unsigned long long)max,
                 name, (unsigned long long)rate);
        return -1;
    }
    if (!max) {
        *b = rate_bucket(rate, rate);
    } else {
        if (!length) length = 1;
        unsigned __int128 size = (unsigned __int128)rate + (unsigned __int128)(max - rate) * length;
        *b = rate_bucket(size > MAX_SIZE ? MAX_SIZE : (uint64_t)size, rate);
        *peak = rate_bucket(max, max);
    }
    b->one_time_burst = burst;
    return 0;
}

int ratelimit_rates_config(const struct ratelimit_rates *r, struct ratelimit_config *c,
                           char *err, size_t errlen)
{
    *c = (struct ratelimit_config){0};
    if (kind_config("iops", r->iops, r->iops_max, r->iops_max_length, r->iops_burst, &c->ops,
                    &c->peak_ops, err, errlen) < 0 ||
        kind_config("bps", r->bps, r->bps_max, r->bps_max_length, r->bps_burst, &c->bandwidth,
                    &c->peak_bandwidth, err, errlen) < 0) {
        *c = (struct ratelimit_config){0};
        return -1;
    }
    return 0;
}

/* A bucket's rate per second: size tokens per refill_ns, to the nearest. */
static uint64_t bucket_rate(const struct ratelimit_bucket *b)
{
    if (!b->enabled) return 0;
    unsigned __int128 r = ((unsigned __int128)b->size * 1000000000u + b->refill_ns / 2) / b->refill_ns;
    return r > UINT64_MAX ? UINT64_MAX : (uint64_t)r;
}

static void kind_rates(const struct ratelimit_bucket *b, const struct ratelimit_bucket *peak,
                       uint64_t *rate, uint64_t *max, uint64_t *length)
{
    *rate = bucket_rate(b);
    *max = *length = 0;
    if (!b->enabled || !peak->enabled) return;
    *max = bucket_rate(peak);
    if (*max > *rate && b->size > *rate)
        *length = (b->size - *rate + (*max - *rate) / 2) / (*max - *rate);
}

void ratelimit_rates_of(const struct ratelimit *rl, struct ratelimit_rates *r)
{
    *r = (struct ratelimit_rates){0};
    kind_rates(&rl->b[RL_OPS], &rl->b[RL_PEAK_OPS], &r->iops, &r->iops_max, &r->iops_max_length);
    kind_rates(&rl->b[RL_BANDWIDTH], &rl->b[RL_PEAK_BANDWIDTH], &r->bps, &r->bps_max,
               &r->bps_max_length);
}
