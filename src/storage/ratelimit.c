/*
 * ratelimit.c - the token buckets of ratelimit.h. The semantics (what a
 * request costs, when it may pass, how long to wait) are written down in the
 * header; this file is the arithmetic.
 */
#include "storage/ratelimit.h"

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
