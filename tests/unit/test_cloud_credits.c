/*
 * test_cloud_credits.c - B-series CPU credits (src/cloud/credits.c) over
 * hours of simulated time with a fake clock: banking below baseline up to
 * the maximum, spending above it, the cap at zero and its lifting, and the
 * built-in credit table against facts.md's per-minute formula.
 */
#include "cloud/catalog.h"
#include "cloud/credits.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

#define NEAR(a, b, eps) (fabs((a) - (b)) <= (eps))
#define SEC             1000LL
#define MIN             (60 * SEC)
#define HOUR            (60 * MIN)

static struct credit_policy policy(const char *size)
{
    size_t n;
    const struct catalog_size *s = catalog_sizes(&n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(s[i].name, size) == 0) {
            char json[256];
            snprintf(json, sizeof(json),
                     "{\"baselinePercent\":%g,\"initialCredits\":%d,\"creditsPerHour\":%d,"
                     "\"maxCredits\":%d}",
                     s[i].baseline_pct, s[i].initial_credits, s[i].credits_per_hour,
                     s[i].max_credits);
            struct credit_policy p;
            CHECK(credits_policy_parse(json, &p), "%s parses", size);
            return p;
        }
    CHECK(0, "no size %s", size);
    return (struct credit_policy){0};
}

/* Run at cpu_pct for `span`, sampling every `step` (the metrics interval);
 * returns the time at which the cap first changed (or -1). */
static long long run(const struct credit_policy *p, struct credit_state *s, double cpu_pct,
                     long long span, long long step)
{
    long long changed = -1;
    for (long long t = 0; t < span; t += step)
        if (credits_advance(p, s, cpu_pct, step) && changed < 0) changed = t + step;
    return changed;
}

static void test_table_matches_formula(void)
{
    size_t n;
    const struct catalog_size *s = catalog_sizes(&n);
    int burstable = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i].baseline_pct <= 0) continue;
        burstable++;
        struct credit_policy p = policy(s[i].name);
        /* idle: (baseline% x vCPUs - 0) / 100 credits a minute */
        double per_min = s[i].baseline_pct * s[i].vcpus / 100.0;
        CHECK(NEAR(credits_rate_per_minute(&p, 0), per_min, 1e-9), "%s banks %.4f/min, want %.4f",
              s[i].name, credits_rate_per_minute(&p, 0), per_min);
        CHECK(NEAR(per_min * 60, s[i].credits_per_hour, 1e-9), "%s: table's banked/hour",
              s[i].name);
        /* at 100 %: (baseline% x vCPUs - 100 x vCPUs) / 100 */
        double spend = (s[i].baseline_pct - 100.0) * s[i].vcpus / 100.0;
        CHECK(NEAR(credits_rate_per_minute(&p, 100), spend, 1e-9), "%s spends %.4f/min at 100%%",
              s[i].name, credits_rate_per_minute(&p, 100));
        CHECK(NEAR(credits_rate_per_minute(&p, s[i].baseline_pct), 0, 1e-12),
              "%s: at baseline the balance holds", s[i].name);
    }
    CHECK(burstable == 6, "six B sizes, got %d", burstable);
    struct credit_policy p;
    CHECK(!credits_policy_parse(NULL, &p), "no burst: not burstable");
    CHECK(!credits_policy_parse("{\"baselinePercent\":0}", &p), "0 baseline: not burstable");
    CHECK(!credits_policy_parse("nonsense", &p), "bad JSON: not burstable");
}

static void test_banking(void)
{
    struct credit_policy p = policy("B1s");
    struct credit_state s = credits_initial(&p);
    CHECK(s.credits == 30 && !s.capped, "B1s starts with 30 credits, uncapped");
    run(&p, &s, 0, HOUR, 10 * SEC);
    CHECK(NEAR(s.credits, 36, 1e-6), "an idle hour banks 6: %.6f", s.credits);
    run(&p, &s, 5, 2 * HOUR, 10 * SEC);
    CHECK(NEAR(s.credits, 42, 1e-6), "two hours at half baseline bank 6: %.6f", s.credits);
    run(&p, &s, 0, 48 * HOUR, 10 * SEC);
    CHECK(s.credits == 144, "the bank stops at its maximum: %.6f", s.credits);
    /* B4ms, 4 vCPUs, 22.5 %: 54 an hour, max 1296 (24 h) */
    struct credit_policy q = policy("B4ms");
    struct credit_state t = {.credits = 0, .capped = false};
    run(&q, &t, 0, 24 * HOUR, 60 * SEC);
    CHECK(NEAR(t.credits, 1296, 1e-6), "B4ms fills 1296 in a day: %.6f", t.credits);
}

static void test_spending_and_cap(void)
{
    struct credit_policy p = policy("B1s");
    struct credit_state s = credits_initial(&p);
    /* 100 %: 0.9 credits a minute, 30 credits last 33 min 20 s */
    long long t = run(&p, &s, 100, 2 * HOUR, 10 * SEC);
    CHECK(t == 33 * MIN + 20 * SEC, "capped after %lld s, want 2000", t / SEC);
    CHECK(s.capped && s.credits == 0, "held to baseline at zero");
    /* held to baseline, the guest uses its 10 %: the balance stays at zero */
    CHECK(run(&p, &s, 10, 5 * HOUR, 10 * SEC) < 0 && s.capped && s.credits == 0,
          "at baseline it stays capped: %.6f", s.credits);
    /* idle: banks 0.1 a minute, the cap lifts at CREDITS_LIFT after 10 min */
    t = run(&p, &s, 0, HOUR, 10 * SEC);
    CHECK(t == (long long)(CREDITS_LIFT / 0.1 * MIN), "lifted after %lld s", t / SEC);
    CHECK(!s.capped && NEAR(s.credits, 6, 1e-6), "an idle hour later: %.6f", s.credits);
    /* a sample that overdraws is forgiven, not carried */
    s = (struct credit_state){.credits = 0.05, .capped = false};
    CHECK(credits_advance(&p, &s, 100, MIN) && s.capped && s.credits == 0, "overdraw clamps");
    /* 1 ms samples over 3 hours give the same as one-minute samples */
    struct credit_state a = {.credits = 50}, b = {.credits = 50};
    for (int h = 0; h < 3; h++) {
        double pct = h == 1 ? 40 : 3;
        run(&p, &a, pct, HOUR, 1);
        run(&p, &b, pct, HOUR, MIN);
    }
    /* 3 h: +5.9, -1.5x... computed: 0.07*60 + (-0.3*60) + 0.07*60 = -9.6 */
    CHECK(NEAR(a.credits, 40.4, 1e-3) && NEAR(b.credits, 40.4, 1e-6),
          "sampling does not change the sum: %.6f %.6f", a.credits, b.credits);
    /* NaN (a sample without a rate) counts as idle, never as a burst */
    s = (struct credit_state){.credits = 10};
    credits_advance(&p, &s, NAN, MIN);
    CHECK(NEAR(s.credits, 10.1, 1e-9), "NaN is idle: %.6f", s.credits);
    /* a size with no initial credits starts capped */
    struct credit_policy z = p;
    z.initial = 0;
    CHECK(credits_initial(&z).capped, "no initial credits: capped from the start");
}

int main(void)
{
    test_table_matches_formula();
    test_banking();
    test_spending_and_cap();
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
