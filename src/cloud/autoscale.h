/*
 * autoscale.h - the autoscale rule engine of facts.md section 8, as a pure
 * function of a profile, the current capacity, a metric series and the
 * time of the last scale action. No database, no clock: kumod's scale set
 * controller (vmss.c) feeds it the stored CPU samples of a set's instances,
 * and tests/unit/test_cloud_autoscale.c feeds it synthetic series.
 *
 * How a rule's metric value is computed (Azure Monitor autoscale's
 * semantics): the window [now - timeWindow, now) is cut into time grains
 * aligned on the window's start; the samples of all instances that fall in
 * one grain are combined by `statistic` (Average, Min, Max, Sum: how the
 * instances' values are combined); the grains that have samples are then
 * combined by `timeAggregation` (Average, Minimum, Maximum, Total, Last,
 * Count). A window with no sample gives no value and the rule does not fire.
 *
 * How a decision is made:
 *  - capacity outside [minimum, maximum] is brought inside first;
 *  - when no rule has any sample in its window, the capacity goes to the
 *    default (Azure's "instance count when metrics are not available");
 *  - if any scale-out (Increase) rule fires, the largest new capacity among
 *    them wins (capped at maximum);
 *  - otherwise, if every scale-in (Decrease) rule fires (and there is at
 *    least one), the smallest decrease among them is taken (floored at
 *    minimum), unless the metric projected onto the smaller capacity
 *    (value x old / new, for each scale-out rule) would make a scale-out
 *    rule fire at once: that is flapping and the scale-in is skipped;
 *  - a firing rule whose cooldown has not passed since the last scale
 *    action is blocked;
 *  - every outcome comes with a reason, including the "no action" ones.
 */
#ifndef KUMO_CLOUD_AUTOSCALE_H
#define KUMO_CLOUD_AUTOSCALE_H

#include "cloud/error.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum as_stat { AS_STAT_AVG, AS_STAT_MIN, AS_STAT_MAX, AS_STAT_SUM };
enum as_agg { AS_AGG_AVG, AS_AGG_MIN, AS_AGG_MAX, AS_AGG_TOTAL, AS_AGG_LAST, AS_AGG_COUNT };
enum as_op { AS_GT, AS_GE, AS_LT, AS_LE, AS_EQ, AS_NE };
enum as_type { AS_CHANGE_COUNT, AS_PERCENT_CHANGE, AS_EXACT_COUNT };

#define AS_MAX_RULES 10

struct as_rule {
    char metric[32]; /* "Percentage CPU" */
    int64_t grain_ms, window_ms;
    enum as_stat statistic;
    enum as_agg time_agg;
    enum as_op op;
    double threshold;
    bool increase; /* scaleAction.direction */
    enum as_type type;
    int64_t value;
    int64_t cooldown_ms;
};

struct as_profile {
    int64_t minimum, maximum, dflt;
    struct as_rule rules[AS_MAX_RULES];
    size_t nrules;
};

struct as_sample {
    int64_t at_ms;
    double value;
};

enum as_action { AS_NONE, AS_SCALE_OUT, AS_SCALE_IN };

struct as_decision {
    enum as_action action;
    int64_t capacity; /* new capacity (== current for AS_NONE) */
    int rule;         /* index of the deciding rule, -1 if none */
    char reason[600];
};

/* A rule's metric value over samples (any order) at now; false if the
 * window holds no sample. */
bool as_metric_value(const struct as_rule *r, const struct as_sample *s, size_t n, int64_t now_ms,
                     double *out);

/* Does value compare true against the rule's threshold? */
bool as_compare(enum as_op op, double value, double threshold);

/* The new capacity a rule's action asks for from capacity (not bounded). */
int64_t as_apply(const struct as_rule *r, int64_t capacity);

/* The decision (see above). last_scale_ms < 0: never scaled. */
void as_evaluate(const struct as_profile *p, int64_t capacity, const struct as_sample *s, size_t n,
                 int64_t now_ms, int64_t last_scale_ms, struct as_decision *d);

/* ---- JSON (docs/api.md "Autoscale") ---- */

/* Parse a checked rule object (metricTrigger + scaleAction) into r. -1 with
 * e (400, target prefix + field) when a value is not understood. */
int as_rule_parse(const json_t *j, const char *prefix, struct as_rule *r, struct kerr *e);
json_t *as_rule_json(const struct as_rule *r);

/* ISO 8601 durations as Azure writes them (PT1M, PT30S, PT1H5M, P1D) <->
 * milliseconds. -1 if not understood. */
int64_t as_duration_parse(const char *s);
void as_duration_format(int64_t ms, char *buf, size_t len);

const char *as_action_name(enum as_action a);

#endif
