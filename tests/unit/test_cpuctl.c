/*
 * test_cpuctl.c - kumo-vmm's CPU controls (src/vmm/cpuctl.c) without a
 * guest: the pacing token bucket driven by a fake clock (a simulated vCPU
 * that always wants to run, one that idles, caps changed on the way), the
 * weight -> nice mapping, and the parsing of caps and CPU lists.
 */
#include "vmm/cpuctl.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

#define US  UINT64_C(1000)
#define MS  UINT64_C(1000000)
#define SEC UINT64_C(1000000000)

/* A vCPU that always has work: it runs in steps of `step` (the time between
 * two poll points) and asks the bucket at each check, as cpuctl_pace does.
 * Returns the CPU time it got in `span` of wall time; the longest run and
 * longest sleep come back through the pointers. */
static uint64_t simulate_busy(uint32_t cap_bp, uint64_t span, uint64_t step, uint64_t *max_run,
                              uint64_t *max_sleep)
{
    struct cpu_bucket b = {0};
    uint64_t wall = 1 * SEC, cpu = 0, end = wall + span, run_start = wall, next_check = 0;
    *max_run = *max_sleep = 0;
    cpu_bucket_step(&b, wall, cpu, cap_bp);
    while (wall < end) {
        wall += step;
        cpu += step;
        if (wall < next_check) continue;
        next_check = wall + CPUCTL_CHECK_NS;
        uint64_t wait = cpu_bucket_step(&b, wall, cpu, cap_bp);
        if (wait) {
            if (wall - run_start > *max_run) *max_run = wall - run_start;
            if (wait > *max_sleep) *max_sleep = wait;
            wall += wait;
            CHECK(cpu_bucket_step(&b, wall, cpu, cap_bp) == 0,
                  "after sleeping the time asked, the bucket is paid back");
            run_start = wall;
        }
    }
    return cpu;
}

static void test_bucket_rate(void)
{
    static const uint32_t caps[] = {500, 1000, 2000, 2250, 5000, 9000};
    for (size_t k = 0; k < sizeof(caps) / sizeof(caps[0]); k++) {
        uint64_t max_run, max_sleep, span = 60 * SEC;
        uint64_t cpu = simulate_busy(caps[k], span, 50 * US, &max_run, &max_sleep);
        double got = 100.0 * (double)cpu / (double)span;
        double want = caps[k] / 100.0;
        /* the first period's worth may come on top (the bucket starts full) */
        double slack = 100.0 * (double)(CPUCTL_PERIOD_NS * caps[k] / 10000 + MS) / (double)span;
        CHECK(got >= want - 0.05 && got <= want + slack + 0.05,
              "cap %.2f%%: a busy vCPU got %.3f%% of a core over 60 s", want, got);
        /* smooth: sleeps of a few ms, never a stall; a run is at most what it
         * takes a full bucket to drain while earning cap (quota / (1 - cap)) */
        uint64_t quota = CPUCTL_PERIOD_NS * caps[k] / 10000;
        uint64_t longest = quota * 10000 / (10000 - caps[k]) + 2 * MS;
        CHECK(max_run <= longest, "cap %.2f%%: longest run %" PRIu64 " us", want, max_run / US);
        CHECK(max_sleep <= 25 * MS, "cap %.2f%%: longest sleep %" PRIu64 " us", want,
              max_sleep / US);
    }
    /* a coarse poll (1 ms between checks) still holds the rate */
    uint64_t max_run, max_sleep;
    uint64_t cpu = simulate_busy(2000, 60 * SEC, 1 * MS, &max_run, &max_sleep);
    double got = 100.0 * (double)cpu / (double)(60 * SEC);
    CHECK(got >= 19.9 && got <= 20.1, "cap 20%% with 1 ms polls: got %.3f%%", got);
}

static void test_bucket_idle_and_burst(void)
{
    struct cpu_bucket b = {0};
    const uint32_t cap = 2000; /* 20 %: the bucket holds 2 ms */
    uint64_t wall = SEC, cpu = 0;
    CHECK(cpu_bucket_step(&b, wall, cpu, cap) == 0, "first step primes");
    CHECK(b.credit_ns == (int64_t)(2 * MS), "starts with a full bucket: %" PRId64, b.credit_ns);
    /* an hour idle banks no more than one period's worth */
    wall += 3600 * SEC;
    CHECK(cpu_bucket_step(&b, wall, cpu, cap) == 0, "idle never waits");
    CHECK(b.credit_ns == (int64_t)(2 * MS), "idle credit is capped: %" PRId64, b.credit_ns);
    /* then 3 ms of CPU in 1 ms of wall time: the bucket is already full (2 ms),
     * 3 ms are spent: 1 ms in debt, paid back in 5 ms at 20 % */
    wall += 1 * MS;
    cpu += 3 * MS;
    uint64_t wait = cpu_bucket_step(&b, wall, cpu, cap);
    CHECK(b.credit_ns == -(int64_t)(1 * MS), "debt after a burst: %" PRId64, b.credit_ns);
    CHECK(wait == 5 * MS, "a 1 ms debt at 20 %% is paid in 5 ms: %" PRIu64, wait);
    /* clocks that go backwards (a new thread after a reboot) are ignored */
    CHECK(cpu_bucket_step(&b, wall - MS, 0, cap) > 0, "no credit from a clock going back");
    /* a cap raised while in debt shortens the wait */
    struct cpu_bucket c = b;
    uint64_t w20 = cpu_bucket_step(&b, wall, 0, 2000);
    uint64_t w80 = cpu_bucket_step(&c, wall, 0, 8000);
    CHECK(w80 < w20, "a higher cap waits less: %" PRIu64 " vs %" PRIu64, w80, w20);
}

static void test_weight_to_nice(void)
{
    static const struct {
        int weight, nice;
    } cases[] = {{100, 0}, {200, -3},   {50, 3},  {10000, -20}, {1, 19},     {125, -1},
                 {80, 1},  {1000, -10}, {10, 10}, {0, 19},      {20000, -20}};
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        int n = cpuctl_weight_to_nice(cases[k].weight);
        CHECK(n == cases[k].nice, "weight %d -> nice %d, want %d", cases[k].weight, n,
              cases[k].nice);
    }
}

static void test_parse(void)
{
    uint32_t bp = 7;
    CHECK(cpuctl_parse_cap("20", &bp) && bp == 2000, "20 -> %u", bp);
    CHECK(cpuctl_parse_cap("22.5", &bp) && bp == 2250, "22.5 -> %u", bp);
    CHECK(cpuctl_parse_cap("100", &bp) && bp == 0, "100 is no cap -> %u", bp);
    CHECK(cpuctl_parse_cap("1", &bp) && bp == 100, "1 -> %u", bp);
    CHECK(!cpuctl_parse_cap("0", &bp), "0 is refused");
    CHECK(!cpuctl_parse_cap("101", &bp), "101 is refused");
    CHECK(!cpuctl_parse_cap("20%", &bp), "20%% is refused");
    CHECK(!cpuctl_parse_cap("", &bp), "empty is refused");
    CHECK(!cpuctl_parse_cap("nan", &bp), "nan is refused");

    cpu_set_t s;
    char err[128], buf[64];
    CHECK(cpuctl_parse_cpulist("0-3,6", &s, err, sizeof(err)), "0-3,6: %s", err);
    CHECK(CPU_COUNT(&s) == 5 && CPU_ISSET(6, &s) && !CPU_ISSET(4, &s), "0-3,6 has 5 CPUs");
    cpuctl_format_cpulist(&s, buf, sizeof(buf));
    CHECK(strcmp(buf, "0-3,6") == 0, "formats back: %s", buf);
    CHECK(cpuctl_parse_cpulist("1", &s, err, sizeof(err)) && CPU_COUNT(&s) == 1, "1");
    cpuctl_format_cpulist(&s, buf, sizeof(buf));
    CHECK(strcmp(buf, "1") == 0, "formats back: %s", buf);
    const char *bad[] = {"", "a", "1-", "3-1", "1,", ",1", "1;2", "-1", "99999"};
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        err[0] = 0;
        CHECK(!cpuctl_parse_cpulist(bad[k], &s, err, sizeof(err)) && err[0],
              "'%s' is refused with a message", bad[k]);
    }
}

int main(void)
{
    test_bucket_rate();
    test_bucket_idle_and_burst();
    test_weight_to_nice();
    test_parse();
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
