/*
 * test_cloud_autoscale.c - the autoscale rule engine (src/cloud/autoscale.c)
 * on synthetic metric series: durations, time grains and aggregations,
 * operators and action types, largest scale-out wins, scale-in only when
 * all scale-in rules agree (smallest decrease), cooldowns, min/max bounds,
 * anti-flapping (a scale-in that would scale out again at once is skipped),
 * a simulated hour of load with a fake clock that must not flap, and the
 * JSON parser's refusals.
 */
#include "cloud/autoscale.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define NEAR(a, b) (fabs((double)(a) - (double)(b)) < 1e-9 * (1 + fabs((double)(b))))
#define S          1000LL
#define MIN        60000LL

static struct as_rule rule(bool increase, enum as_op op, double threshold, int64_t value,
                           int64_t cooldown_ms)
{
    struct as_rule r;
    memset(&r, 0, sizeof(r));
    snprintf(r.metric, sizeof(r.metric), "Percentage CPU");
    r.grain_ms = MIN;
    r.window_ms = 5 * MIN;
    r.statistic = AS_STAT_AVG;
    r.time_agg = AS_AGG_AVG;
    r.op = op;
    r.threshold = threshold;
    r.increase = increase;
    r.type = AS_CHANGE_COUNT;
    r.value = value;
    r.cooldown_ms = cooldown_ms;
    return r;
}

/* n samples, one per `step` ms ending just before now, all at value v. */
static size_t flat(struct as_sample *s, size_t n, int64_t now, int64_t step, double v)
{
    for (size_t i = 0; i < n; i++) {
        s[i].at_ms = now - (int64_t)(n - i) * step;
        s[i].value = v;
    }
    return n;
}

static void durations(void)
{
    CHECK(as_duration_parse("PT1M") == MIN, "PT1M");
    CHECK(as_duration_parse("PT30S") == 30 * S, "PT30S");
    CHECK(as_duration_parse("PT1H5M") == 65 * MIN, "PT1H5M");
    CHECK(as_duration_parse("P1D") == 1440 * MIN, "P1D");
    CHECK(as_duration_parse("P1DT2S") == 1440 * MIN + 2 * S, "P1DT2S");
    CHECK(as_duration_parse("pt2s") == 2 * S, "lower case");
    CHECK(as_duration_parse("PT") == -1, "PT alone");
    CHECK(as_duration_parse("P1M") == -1, "months are not durations here");
    CHECK(as_duration_parse("PT1D") == -1, "days after T");
    CHECK(as_duration_parse("1M") == -1, "no P");
    CHECK(as_duration_parse("PT5X") == -1, "bad unit");
    CHECK(as_duration_parse("PT99999999999S") == -1, "overflow refused");
    CHECK(as_duration_parse(NULL) == -1, "NULL");
    char buf[32];
    as_duration_format(65 * MIN + 3 * S, buf, sizeof(buf));
    CHECK(!strcmp(buf, "PT1H5M3S"), "format %s", buf);
    as_duration_format(2 * S, buf, sizeof(buf));
    CHECK(!strcmp(buf, "PT2S"), "format %s", buf);
    as_duration_format(1440 * MIN, buf, sizeof(buf));
    CHECK(!strcmp(buf, "P1D"), "format %s", buf);
    as_duration_format(0, buf, sizeof(buf));
    CHECK(!strcmp(buf, "PT0S"), "format %s", buf);
}

static void metric_values(void)
{
    int64_t now = 1000 * MIN;
    struct as_rule r = rule(true, AS_GT, 70, 1, 0);
    struct as_sample s[64] = {{0, 0}};
    double v;
    CHECK(!as_metric_value(&r, s, 0, now, &v), "no samples, no value");
    /* samples outside the window do not count, neither does one at now */
    s[0] = (struct as_sample){now - 6 * MIN, 100};
    s[1] = (struct as_sample){now, 100};
    CHECK(!as_metric_value(&r, s, 2, now, &v), "outside the window");
    s[2] = (struct as_sample){now - 5 * MIN, 40}; /* the window's first ms counts */
    CHECK(as_metric_value(&r, s, 3, now, &v) && NEAR(v, 40), "start inclusive: %g", v);

    /* two instances, grains of a minute: instance A at 90, B at 10 in the
     * first two grains, only A (90) in the third */
    size_t n = 0;
    for (int g = 0; g < 3; g++) {
        s[n++] = (struct as_sample){now - 5 * MIN + g * MIN + 10 * S, 90};
        if (g < 2) s[n++] = (struct as_sample){now - 5 * MIN + g * MIN + 20 * S, 10};
    }
    /* grains: 50, 50, 90 */
    r.statistic = AS_STAT_AVG;
    r.time_agg = AS_AGG_AVG;
    CHECK(as_metric_value(&r, s, n, now, &v) && NEAR(v, 190.0 / 3), "avg/avg %g", v);
    r.time_agg = AS_AGG_MAX;
    CHECK(as_metric_value(&r, s, n, now, &v) && NEAR(v, 90), "avg/max %g", v);
    r.time_agg = AS_AGG_MIN;
    CHECK(as_metric_value(&r, s, n, now, &v) && NEAR(v, 50), "avg/min %g", v);
    r.time_agg = AS_AGG_LAST;
    CHECK(as_metric_value(&r, s, n, now, &v) && NEAR(v, 90), "avg/last %g", v);
    r.time_agg = AS_AGG_TOTAL;
    CHECK(as_metric_value(&r, s, n, now, &v) && NEAR(v, 190), "avg/total %g", v);
    r.time_agg = AS_AGG_COUNT;
    CHECK(as_metric_value(&r, s, n, now, &v) && NEAR(v, 3), "count %g", v);
    r.statistic = AS_STAT_MAX;
    r.time_agg = AS_AGG_AVG;
    CHECK(as_metric_value(&r, s, n, now, &v) && NEAR(v, 90), "max/avg %g", v);
    r.statistic = AS_STAT_MIN;
    CHECK(as_metric_value(&r, s, n, now, &v) && NEAR(v, (10 + 10 + 90) / 3.0), "min/avg %g", v);
    r.statistic = AS_STAT_SUM;
    CHECK(as_metric_value(&r, s, n, now, &v) && NEAR(v, (100 + 100 + 90) / 3.0), "sum/avg %g", v);
    /* a grain longer than the rest of the window: one grain */
    r.statistic = AS_STAT_AVG;
    r.grain_ms = 5 * MIN;
    CHECK(as_metric_value(&r, s, n, now, &v) && NEAR(v, 290.0 / 5), "one grain %g", v);
    /* order does not matter */
    struct as_sample rev[64];
    for (size_t i = 0; i < n; i++)
        rev[i] = s[n - 1 - i];
    double v2;
    CHECK(as_metric_value(&r, rev, n, now, &v2) && NEAR(v, v2), "order %g %g", v, v2);
    /* NaN samples are ignored */
    s[n] = (struct as_sample){now - MIN, NAN};
    CHECK(as_metric_value(&r, s, n + 1, now, &v2) && NEAR(v, v2), "NaN ignored");

    CHECK(as_compare(AS_GT, 71, 70) && !as_compare(AS_GT, 70, 70), "GT");
    CHECK(as_compare(AS_GE, 70, 70) && !as_compare(AS_GE, 69.9, 70), "GE");
    CHECK(as_compare(AS_LT, 29, 30) && !as_compare(AS_LT, 30, 30), "LT");
    CHECK(as_compare(AS_LE, 30, 30) && !as_compare(AS_LE, 30.1, 30), "LE");
    CHECK(as_compare(AS_EQ, 5, 5) && !as_compare(AS_EQ, 5, 6), "EQ");
    CHECK(as_compare(AS_NE, 5, 6) && !as_compare(AS_NE, 5, 5), "NE");

    struct as_rule a = rule(true, AS_GT, 0, 2, 0);
    CHECK(as_apply(&a, 3) == 5, "change count +2");
    a.increase = false;
    CHECK(as_apply(&a, 3) == 1, "change count -2");
    a.type = AS_PERCENT_CHANGE;
    a.value = 10;
    CHECK(as_apply(&a, 3) == 2, "10 %% of 3 rounds up to 1");
    a.value = 50;
    a.increase = true;
    CHECK(as_apply(&a, 10) == 15, "50 %% of 10");
    a.type = AS_EXACT_COUNT;
    a.value = 7;
    CHECK(as_apply(&a, 2) == 7, "exact");
}

static struct as_profile profile(int64_t lo, int64_t hi)
{
    struct as_profile p;
    memset(&p, 0, sizeof(p));
    p.minimum = lo;
    p.maximum = hi;
    p.dflt = lo;
    return p;
}

static void decisions(void)
{
    int64_t now = 1000 * MIN;
    struct as_sample s[64];
    struct as_decision d;

    /* out at > 70 by 1, in at < 30 by 1: the classic pair */
    struct as_profile p = profile(1, 5);
    p.rules[p.nrules++] = rule(true, AS_GT, 70, 1, 5 * MIN);
    p.rules[p.nrules++] = rule(false, AS_LT, 30, 1, 5 * MIN);

    size_t n = flat(s, 10, now, 30 * S, 90);
    as_evaluate(&p, 2, s, n, now, -1, &d);
    CHECK(d.action == AS_SCALE_OUT && d.capacity == 3 && d.rule == 0, "out: %s", d.reason);
    CHECK(strstr(d.reason, "scale out 2 -> 3"), "%s", d.reason);

    as_evaluate(&p, 5, s, n, now, -1, &d);
    CHECK(d.action == AS_NONE && d.capacity == 5 && strstr(d.reason, "maximum"), "max: %s",
          d.reason);

    as_evaluate(&p, 2, s, n, now, now - 2 * MIN, &d);
    CHECK(d.action == AS_NONE && strstr(d.reason, "cooldown (180 s left)"), "cooldown: %s",
          d.reason);
    as_evaluate(&p, 2, s, n, now, now - 5 * MIN, &d);
    CHECK(d.action == AS_SCALE_OUT, "cooldown over: %s", d.reason);

    n = flat(s, 10, now, 30 * S, 50);
    as_evaluate(&p, 2, s, n, now, -1, &d);
    CHECK(d.action == AS_NONE && strstr(d.reason, "no scale-in rule fired"), "quiet: %s", d.reason);

    n = flat(s, 10, now, 30 * S, 5);
    as_evaluate(&p, 3, s, n, now, -1, &d);
    CHECK(d.action == AS_SCALE_IN && d.capacity == 2 && d.rule == 1, "in: %s", d.reason);
    as_evaluate(&p, 1, s, n, now, -1, &d);
    CHECK(d.action == AS_NONE && strstr(d.reason, "minimum 1"), "min: %s", d.reason);
    as_evaluate(&p, 3, s, n, now, now - MIN, &d);
    CHECK(d.action == AS_NONE && strstr(d.reason, "cooldown"), "in cooldown: %s", d.reason);

    as_evaluate(&p, 3, s, 0, now, -1, &d);
    CHECK(d.action == AS_SCALE_IN && d.capacity == 1 && strstr(d.reason, "no metric data"),
          "no data: default: %s", d.reason);
    as_evaluate(&p, 1, s, 0, now, -1, &d);
    CHECK(d.action == AS_NONE && strstr(d.reason, "no metric data"), "no data at default: %s",
          d.reason);
    p.dflt = 2;
    as_evaluate(&p, 1, s, 0, now, -1, &d);
    CHECK(d.action == AS_SCALE_OUT && d.capacity == 2, "no data: up to default: %s", d.reason);
    p.dflt = 1;

    /* bounds first */
    as_evaluate(&p, 0, s, n, now, -1, &d);
    CHECK(d.action == AS_SCALE_OUT && d.capacity == 1, "below min: %s", d.reason);
    as_evaluate(&p, 9, s, n, now, -1, &d);
    CHECK(d.action == AS_SCALE_IN && d.capacity == 5, "above max: %s", d.reason);

    /* largest scale-out wins */
    struct as_profile q = profile(1, 10);
    q.rules[q.nrules++] = rule(true, AS_GT, 50, 1, 0);
    q.rules[q.nrules++] = rule(true, AS_GT, 80, 3, 0);
    q.rules[q.nrules++] = rule(true, AS_GT, 95, 5, 0); /* does not fire at 90 */
    n = flat(s, 10, now, 30 * S, 90);
    as_evaluate(&q, 2, s, n, now, -1, &d);
    CHECK(d.action == AS_SCALE_OUT && d.capacity == 5 && d.rule == 1, "largest: %s", d.reason);
    /* ... capped at maximum */
    as_evaluate(&q, 8, s, n, now, -1, &d);
    CHECK(d.action == AS_SCALE_OUT && d.capacity == 10, "capped: %s", d.reason);
    /* one rule in cooldown, the other not: the one that may act does */
    q.rules[1].cooldown_ms = 10 * MIN;
    as_evaluate(&q, 2, s, n, now, now - MIN, &d);
    CHECK(d.action == AS_SCALE_OUT && d.capacity == 3 && d.rule == 0, "cooldown per rule: %s",
          d.reason);
    /* a scale-out rule that fires beats scale-in rules that fire too */
    q.rules[q.nrules++] = rule(false, AS_GT, 10, 1, 0);
    as_evaluate(&q, 4, s, n, now, -1, &d);
    CHECK(d.action == AS_SCALE_OUT, "out beats in: %s", d.reason);

    /* scale in only when all scale-in rules agree, by the smallest amount */
    struct as_profile r = profile(1, 10);
    r.rules[r.nrules++] = rule(false, AS_LT, 30, 3, 0);
    r.rules[r.nrules++] = rule(false, AS_LT, 20, 1, 0);
    n = flat(s, 10, now, 30 * S, 25); /* only the first fires */
    as_evaluate(&r, 6, s, n, now, -1, &d);
    CHECK(d.action == AS_NONE && strstr(d.reason, "1 of 2 scale-in rules"), "not all: %s",
          d.reason);
    n = flat(s, 10, now, 30 * S, 10); /* both fire */
    as_evaluate(&r, 6, s, n, now, -1, &d);
    CHECK(d.action == AS_SCALE_IN && d.capacity == 5 && d.rule == 1, "smallest: %s", d.reason);
    /* a different window per rule: the long one still sees the old load */
    r.rules[0].window_ms = 10 * MIN;
    size_t m = flat(s, 20, now, 30 * S, 10);
    for (size_t i = 0; i < 10; i++)
        s[i].value = 90; /* the older 5 minutes busy */
    as_evaluate(&r, 6, s, m, now, -1, &d);
    CHECK(d.action == AS_NONE, "long window disagrees: %s", d.reason);
}

static void flapping(void)
{
    int64_t now = 1000 * MIN;
    struct as_sample s[64];
    struct as_decision d;
    /* out > 60, in < 40: at 2 instances and 35 %, going to 1 would make it
     * 70 % and scale out again: skipped */
    struct as_profile p = profile(1, 5);
    p.rules[p.nrules++] = rule(true, AS_GT, 60, 1, 0);
    p.rules[p.nrules++] = rule(false, AS_LT, 40, 1, 0);
    size_t n = flat(s, 10, now, 30 * S, 35);
    as_evaluate(&p, 2, s, n, now, -1, &d);
    CHECK(d.action == AS_NONE && strstr(d.reason, "flap") && strstr(d.reason, "70.0"), "flap: %s",
          d.reason);
    /* at 4 instances, 35 % on 3 is 46.7 %: fine */
    as_evaluate(&p, 4, s, n, now, -1, &d);
    CHECK(d.action == AS_SCALE_IN && d.capacity == 3, "no flap: %s", d.reason);
    /* exactly at the threshold does not fire (GreaterThan): 30 % x 2 = 60 */
    n = flat(s, 10, now, 30 * S, 30);
    as_evaluate(&p, 2, s, n, now, -1, &d);
    CHECK(d.action == AS_SCALE_IN && d.capacity == 1, "edge: %s", d.reason);
    /* a larger scale-in step projects further: 4 -> 2 at 35 % = 70 % */
    p.rules[1].value = 2;
    n = flat(s, 10, now, 30 * S, 35);
    as_evaluate(&p, 4, s, n, now, -1, &d);
    CHECK(d.action == AS_NONE && strstr(d.reason, "flap"), "flap by 2: %s", d.reason);

    /* a fake clock over an hour: load 100 % on one instance for 20 min, then
     * 0; samples every 10 s of the average over instances, the load spread
     * over the capacity (a fixed amount of work: 100 % x 1 core). The engine
     * runs every 30 s. It must scale out, then in, and never flap (no
     * scale-in directly followed by a scale-out). */
    struct as_profile h = profile(1, 4);
    h.rules[h.nrules++] = rule(true, AS_GT, 40, 1, 60 * S);
    h.rules[h.nrules++] = rule(false, AS_LT, 15, 1, 60 * S);
    for (size_t i = 0; i < h.nrules; i++) {
        h.rules[i].grain_ms = 30 * S;
        h.rules[i].window_ms = 60 * S;
    }
    static struct as_sample hist[400];
    size_t nh = 0;
    int64_t cap = 1, last = -1, t0 = 0;
    int outs = 0, ins = 0, flaps = 0;
    enum as_action prev = AS_NONE;
    for (int64_t t = t0; t < t0 + 60 * MIN; t += 10 * S) {
        double load = t < t0 + 20 * MIN ? 100.0 : 0.0;
        if (nh < 400) hist[nh++] = (struct as_sample){t, load / (double)cap};
        if ((t - t0) % (30 * S) == 0 && t > t0) {
            as_evaluate(&h, cap, hist, nh, t, last, &d);
            if (d.action != AS_NONE) {
                if (d.action == AS_SCALE_OUT && prev == AS_SCALE_IN) flaps++;
                outs += d.action == AS_SCALE_OUT;
                ins += d.action == AS_SCALE_IN;
                prev = d.action;
                cap = d.capacity;
                last = t;
            }
        }
    }
    CHECK(outs >= 1 && ins >= 1, "outs %d ins %d", outs, ins);
    CHECK(flaps == 0, "flaps %d", flaps);
    CHECK(cap == 1, "back at the minimum: %lld", (long long)cap);
}

static void parsing(void)
{
    struct kerr e;
    struct as_rule r;
    json_t *j = json_pack("{s:{s:s,s:s,s:s,s:s,s:s,s:s,s:i},s:{s:s,s:s,s:i,s:s}}", "metricTrigger",
                          "metricName", "Percentage CPU", "timeGrain", "PT2S", "statistic", "Max",
                          "timeWindow", "PT10S", "timeAggregation", "Maximum", "operator",
                          "GreaterThan", "threshold", 70, "scaleAction", "direction", "Increase",
                          "type", "ChangeCount", "value", 2, "cooldown", "PT5S");
    memset(&e, 0, sizeof(e));
    CHECK(as_rule_parse(j, "rules[0].", &r, &e) == 0, "parse: %s", e.message);
    CHECK(r.grain_ms == 2 * S && r.window_ms == 10 * S && r.statistic == AS_STAT_MAX &&
              r.time_agg == AS_AGG_MAX && r.op == AS_GT && NEAR(r.threshold, 70) && r.increase &&
              r.value == 2 && r.cooldown_ms == 5 * S,
          "parsed fields");
    json_t *back = as_rule_json(&r);
    struct as_rule r2;
    CHECK(as_rule_parse(back, "", &r2, &e) == 0 && !memcmp(&r, &r2, sizeof(r)), "round trip");
    json_decref(back);

    struct {
        const char *obj, *key, *val, *target;
    } bad[] = {
        {"metricTrigger", "metricName", "Disk Read Bytes", "rules[0].metricTrigger.metricName"},
        {"metricTrigger", "timeGrain", "1M", "rules[0].metricTrigger.timeGrain"},
        {"metricTrigger", "timeWindow", "PT0S", "rules[0].metricTrigger.timeWindow"},
        {"metricTrigger", "timeGrain", "PT1M", "rules[0].metricTrigger.timeGrain"}, /* > window */
        {"metricTrigger", "statistic", "Median", "rules[0].metricTrigger.statistic"},
        {"metricTrigger", "timeAggregation", "P99", "rules[0].metricTrigger.timeAggregation"},
        {"metricTrigger", "operator", "About", "rules[0].metricTrigger.operator"},
        {"scaleAction", "direction", "Sideways", "rules[0].scaleAction.direction"},
        {"scaleAction", "type", "Double", "rules[0].scaleAction.type"},
        {"scaleAction", "cooldown", "5 minutes", "rules[0].scaleAction.cooldown"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *c = json_deep_copy(j);
        json_object_set_new(json_object_get(c, bad[i].obj), bad[i].key, json_string(bad[i].val));
        memset(&e, 0, sizeof(e));
        int rc = as_rule_parse(c, "rules[0].", &r, &e);
        CHECK(rc < 0 && e.status == 400 && !strcmp(e.target, bad[i].target) &&
                  strstr(e.message, bad[i].target),
              "bad %s=%s: rc %d target '%s' message '%s'", bad[i].key, bad[i].val, rc, e.target,
              e.message);
        json_decref(c);
    }
    json_t *c = json_deep_copy(j);
    json_object_set_new(json_object_get(c, "scaleAction"), "value", json_integer(0));
    CHECK(as_rule_parse(c, "", &r, &e) < 0 && strstr(e.message, "scaleAction.value"), "value 0");
    json_object_del(json_object_get(c, "metricTrigger"), "threshold");
    CHECK(as_rule_parse(c, "", &r, &e) < 0, "no threshold");
    json_decref(c);
    /* symbols are accepted for operators */
    c = json_deep_copy(j);
    json_object_set_new(json_object_get(c, "metricTrigger"), "operator", json_string("<="));
    CHECK(as_rule_parse(c, "", &r, &e) == 0 && r.op == AS_LE, "symbol operator");
    json_decref(c);
    json_decref(j);
}

int main(void)
{
    durations();
    metric_values();
    decisions();
    flapping();
    parsing();
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
