/*
 * autoscale.c - the autoscale rule engine and its JSON form (contract in
 * autoscale.h; semantics in facts.md section 8 and docs/cloud.md).
 */
#include "cloud/autoscale.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- names ---- */

static const char *const stat_names[] = {"Average", "Min", "Max", "Sum"};
static const char *const agg_names[] = {"Average", "Minimum", "Maximum", "Total", "Last", "Count"};
static const char *const op_names[] = {
    "GreaterThan", "GreaterThanOrEqual", "LessThan", "LessThanOrEqual", "Equals", "NotEquals"};
static const char *const op_symbols[] = {">", ">=", "<", "<=", "==", "!="};
static const char *const type_names[] = {"ChangeCount", "PercentChangeCount", "ExactCount"};

static int lookup(const char *s, const char *const *names, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        if (strcasecmp(s, names[i]) == 0) return (int)i;
    return -1;
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

const char *as_action_name(enum as_action a)
{
    return a == AS_SCALE_OUT ? "ScaleOut" : a == AS_SCALE_IN ? "ScaleIn" : "None";
}

/* ---- durations ---- */

int64_t as_duration_parse(const char *s)
{
    if (!s || (*s != 'P' && *s != 'p')) return -1;
    s++;
    bool in_time = false, any = false;
    int64_t ms = 0;
    while (*s) {
        if (*s == 'T' || *s == 't') {
            if (in_time) return -1;
            in_time = true;
            s++;
            continue;
        }
        if (!isdigit((unsigned char)*s)) return -1;
        char *end;
        unsigned long long v = strtoull(s, &end, 10);
        if (v > 10000000ull) return -1;
        int64_t unit;
        switch (*end) {
        case 'D':
        case 'd': unit = in_time ? -1 : 86400000; break;
        case 'H':
        case 'h': unit = in_time ? 3600000 : -1; break;
        case 'M':
        case 'm': unit = in_time ? 60000 : -1; break;
        case 'S':
        case 's': unit = in_time ? 1000 : -1; break;
        default: unit = -1;
        }
        if (unit < 0) return -1;
        ms += (int64_t)v * unit;
        if (ms > 366LL * 86400000) return -1;
        any = true;
        s = end + 1;
    }
    return any ? ms : -1;
}

void as_duration_format(int64_t ms, char *buf, size_t len)
{
    if (ms <= 0) {
        snprintf(buf, len, "PT0S");
        return;
    }
    int64_t d = ms / 86400000, h = ms / 3600000 % 24, m = ms / 60000 % 60, s = ms / 1000 % 60;
    char out[64] = "P";
    size_t o = 1;
    if (d) o += (size_t)snprintf(out + o, sizeof(out) - o, "%" PRId64 "D", d);
    if (h || m || s) {
        o += (size_t)snprintf(out + o, sizeof(out) - o, "T");
        if (h) o += (size_t)snprintf(out + o, sizeof(out) - o, "%" PRId64 "H", h);
        if (m) o += (size_t)snprintf(out + o, sizeof(out) - o, "%" PRId64 "M", m);
        if (s) snprintf(out + o, sizeof(out) - o, "%" PRId64 "S", s);
    }
    snprintf(buf, len, "%s", out);
}

/* ---- the metric ---- */

bool as_compare(enum as_op op, double v, double t)
{
    switch (op) {
    case AS_GT: return v > t;
    case AS_GE: return v >= t;
    case AS_LT: return v < t;
    case AS_LE: return v <= t;
    case AS_EQ: return v == t;
    case AS_NE: return v != t;
    }
    return false;
}

bool as_metric_value(const struct as_rule *r, const struct as_sample *s, size_t n, int64_t now,
                     double *out)
{
    int64_t start = now - r->window_ms;
    int64_t grain = r->grain_ms > 0 ? r->grain_ms : 1;
    int64_t ng = (r->window_ms + grain - 1) / grain;
    if (ng < 1) ng = 1;
    if (ng > 100000) return false;
    double *acc = calloc((size_t)ng, sizeof(double));
    size_t *cnt = calloc((size_t)ng, sizeof(size_t));
    if (!acc || !cnt) {
        free(acc);
        free(cnt);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i].at_ms < start || s[i].at_ms >= now || !isfinite(s[i].value)) continue;
        int64_t b = (s[i].at_ms - start) / grain;
        if (b >= ng) b = ng - 1;
        double v = s[i].value;
        if (cnt[b] == 0) {
            acc[b] = v;
        } else {
            switch (r->statistic) {
            case AS_STAT_AVG:
            case AS_STAT_SUM: acc[b] += v; break;
            case AS_STAT_MIN: acc[b] = v < acc[b] ? v : acc[b]; break;
            case AS_STAT_MAX: acc[b] = v > acc[b] ? v : acc[b]; break;
            }
        }
        cnt[b]++;
    }
    double res = 0;
    size_t grains = 0;
    for (int64_t b = 0; b < ng; b++) {
        if (!cnt[b]) continue;
        double g = r->statistic == AS_STAT_AVG ? acc[b] / (double)cnt[b] : acc[b];
        if (grains == 0) {
            res = g;
        } else {
            switch (r->time_agg) {
            case AS_AGG_AVG:
            case AS_AGG_TOTAL: res += g; break;
            case AS_AGG_MIN: res = g < res ? g : res; break;
            case AS_AGG_MAX: res = g > res ? g : res; break;
            case AS_AGG_LAST: res = g; break;
            case AS_AGG_COUNT: break;
            }
        }
        grains++;
    }
    free(acc);
    free(cnt);
    if (!grains) return false;
    if (r->time_agg == AS_AGG_AVG) res /= (double)grains;
    if (r->time_agg == AS_AGG_COUNT) res = (double)grains;
    *out = res;
    return true;
}

int64_t as_apply(const struct as_rule *r, int64_t cap)
{
    int64_t d;
    switch (r->type) {
    case AS_EXACT_COUNT: return r->value;
    case AS_PERCENT_CHANGE:
        /* at least one instance, rounded up: 10 % of 3 is 1 */
        d = (cap * r->value + 99) / 100;
        if (d < 1) d = 1;
        break;
    default: d = r->value;
    }
    return r->increase ? cap + d : cap - d;
}

/* ---- the decision ---- */

static int rule_desc(const struct as_rule *r, int idx, double v, char *buf, size_t len)
{
    char win[32], grain[32];
    as_duration_format(r->window_ms, win, sizeof(win));
    as_duration_format(r->grain_ms, grain, sizeof(grain));
    return snprintf(buf, len, "rule %d (%s: %s of the %s per %s %s %g over %s = %.1f)", idx,
                    r->metric, agg_names[r->time_agg], stat_names[r->statistic], grain,
                    op_symbols[r->op], r->threshold, win, v);
}

static int64_t clamp(const struct as_profile *p, int64_t c)
{
    if (c > p->maximum) c = p->maximum;
    if (c < p->minimum) c = p->minimum;
    return c;
}

void as_evaluate(const struct as_profile *p, int64_t cap, const struct as_sample *s, size_t n,
                 int64_t now, int64_t last_scale, struct as_decision *d)
{
    memset(d, 0, sizeof(*d));
    d->action = AS_NONE;
    d->capacity = cap;
    d->rule = -1;
    if (cap < p->minimum || cap > p->maximum) {
        d->capacity = clamp(p, cap);
        d->action = d->capacity > cap ? AS_SCALE_OUT : AS_SCALE_IN;
        snprintf(d->reason, sizeof(d->reason),
                 "capacity %" PRId64 " is outside the profile's range %" PRId64 "-%" PRId64
                 ": set to %" PRId64,
                 cap, p->minimum, p->maximum, d->capacity);
        return;
    }
    double val[AS_MAX_RULES];
    bool have[AS_MAX_RULES], fired[AS_MAX_RULES];
    size_t nin = 0, nin_fired = 0, nout_fired = 0;
    for (size_t i = 0; i < p->nrules; i++) {
        const struct as_rule *r = &p->rules[i];
        have[i] = as_metric_value(r, s, n, now, &val[i]);
        fired[i] = have[i] && as_compare(r->op, val[i], r->threshold);
        if (!r->increase) {
            nin++;
            nin_fired += fired[i];
        } else {
            nout_fired += fired[i];
        }
    }
    /* no metric at all (new instances, a stopped set): the default capacity */
    bool any = false;
    for (size_t i = 0; i < p->nrules; i++)
        any |= have[i];
    if (p->nrules && !any) {
        int64_t dc = clamp(p, p->dflt);
        if (dc != cap) {
            d->action = dc > cap ? AS_SCALE_OUT : AS_SCALE_IN;
            d->capacity = dc;
            snprintf(d->reason, sizeof(d->reason),
                     "no metric data in any rule's window: capacity %" PRId64
                     " -> the default %" PRId64,
                     cap, dc);
        } else {
            snprintf(d->reason, sizeof(d->reason),
                     "no action: no metric data in any rule's window (at the default capacity)");
        }
        return;
    }
    char why[512] = "";
    size_t w = 0;
#define WHY(...)                                                                                   \
    do {                                                                                           \
        if (w < sizeof(why)) w += (size_t)snprintf(why + w, sizeof(why) - w, __VA_ARGS__);         \
    } while (0)

    /* scale out: the largest result among the firing rules past cooldown */
    if (nout_fired) {
        int best = -1;
        int64_t best_cap = cap;
        for (size_t i = 0; i < p->nrules; i++) {
            const struct as_rule *r = &p->rules[i];
            if (!r->increase || !fired[i]) continue;
            char desc[200];
            rule_desc(r, (int)i, val[i], desc, sizeof(desc));
            if (last_scale >= 0 && now - last_scale < r->cooldown_ms) {
                WHY("%s%s fired but is in cooldown (%" PRId64 " s left)", w ? "; " : "", desc,
                    (r->cooldown_ms - (now - last_scale) + 999) / 1000);
                continue;
            }
            int64_t c = clamp(p, as_apply(r, cap));
            if (c <= cap) {
                WHY("%s%s fired but capacity is at the maximum %" PRId64, w ? "; " : "", desc,
                    p->maximum);
                continue;
            }
            if (best < 0 || c > best_cap) {
                best = (int)i;
                best_cap = c;
            }
        }
        if (best >= 0) {
            char desc[200];
            rule_desc(&p->rules[best], best, val[best], desc, sizeof(desc));
            d->action = AS_SCALE_OUT;
            d->capacity = best_cap;
            d->rule = best;
            snprintf(d->reason, sizeof(d->reason), "scale out %" PRId64 " -> %" PRId64 ": %s%s",
                     cap, best_cap, desc,
                     nout_fired > 1 ? " (the largest of the firing scale-out rules)" : "");
            return;
        }
        snprintf(d->reason, sizeof(d->reason), "no action: %s", why);
        return;
    }
    if (nin == 0) {
        snprintf(d->reason, sizeof(d->reason), "no action: no scale-out rule fired%s",
                 p->nrules ? " and there are no scale-in rules" : " (the profile has no rules)");
        return;
    }
    if (nin_fired < nin) {
        WHY("no action: no scale-out rule fired; ");
        if (nin_fired == 0) {
            WHY("no scale-in rule fired");
        } else {
            WHY("%zu of %zu scale-in rules fired (all must agree)", nin_fired, nin);
        }
        for (size_t i = 0; i < p->nrules; i++)
            if (!have[i]) {
                WHY("; rule %zu has no metric data in its window", i);
                break;
            }
        snprintf(d->reason, sizeof(d->reason), "%s", why);
        return;
    }
    /* every scale-in rule fired: the smallest decrease */
    int pick = -1;
    int64_t pick_cap = 0;
    for (size_t i = 0; i < p->nrules; i++) {
        const struct as_rule *r = &p->rules[i];
        if (r->increase) continue;
        int64_t c = as_apply(r, cap);
        if (pick < 0 || c > pick_cap) {
            pick = (int)i;
            pick_cap = c;
        }
    }
    const struct as_rule *r = &p->rules[pick];
    char desc[200];
    rule_desc(r, pick, val[pick], desc, sizeof(desc));
    pick_cap = clamp(p, pick_cap);
    if (pick_cap >= cap) {
        snprintf(d->reason, sizeof(d->reason),
                 "no action: all scale-in rules fired (%s) but capacity is at the minimum %" PRId64,
                 desc, p->minimum);
        return;
    }
    if (last_scale >= 0 && now - last_scale < r->cooldown_ms) {
        snprintf(
            d->reason, sizeof(d->reason),
            "no action: all scale-in rules fired (%s) but the scale-in is in cooldown (%" PRId64
            " s left)",
            desc, (r->cooldown_ms - (now - last_scale) + 999) / 1000);
        return;
    }
    /* anti-flapping: project each scale-out rule's metric onto the smaller
     * capacity; if one would fire, scaling in would be undone at once */
    for (size_t i = 0; i < p->nrules; i++) {
        const struct as_rule *o = &p->rules[i];
        if (!o->increase || !have[i]) continue;
        double projected = val[i] * (double)cap / (double)pick_cap;
        if (o->time_agg == AS_AGG_COUNT) projected = val[i];
        if (as_compare(o->op, projected, o->threshold)) {
            char odesc[200];
            rule_desc(o, (int)i, val[i], odesc, sizeof(odesc));
            snprintf(d->reason, sizeof(d->reason),
                     "no action: all scale-in rules fired (%s) but scaling in %" PRId64
                     " -> %" PRId64 " would flap: %s projects to %.1f on %" PRId64
                     " instances and would scale out again",
                     desc, cap, pick_cap, odesc, projected, pick_cap);
            return;
        }
    }
    d->action = AS_SCALE_IN;
    d->capacity = pick_cap;
    d->rule = pick;
    snprintf(d->reason, sizeof(d->reason), "scale in %" PRId64 " -> %" PRId64 ": %s%s", cap,
             pick_cap, desc, nin > 1 ? " (all scale-in rules agree; the smallest decrease)" : "");
#undef WHY
}

/* ---- JSON ---- */

#define BAD(field, ...)                                                                            \
    do {                                                                                           \
        char t_[128];                                                                              \
        snprintf(t_, sizeof(t_), "%s%s", prefix, field);                                           \
        return kerr_invalid(e, t_, __VA_ARGS__);                                                   \
    } while (0)
#define BAD_DYN(field, ...)                                                                        \
    do {                                                                                           \
        char f_[64];                                                                               \
        snprintf(f_, sizeof(f_), "metricTrigger.%s", field);                                       \
        BAD(f_, __VA_ARGS__);                                                                      \
    } while (0)

int as_rule_parse(const json_t *j, const char *prefix, struct as_rule *r, struct kerr *e)
{
    memset(r, 0, sizeof(*r));
    const json_t *mt = json_object_get(j, "metricTrigger");
    const json_t *sa = json_object_get(j, "scaleAction");
    const char *metric = json_string_value(json_object_get(mt, "metricName"));
    if (!metric) metric = "Percentage CPU";
    if (strcasecmp(metric, "Percentage CPU") != 0)
        BAD("metricTrigger.metricName",
            "%smetricTrigger.metricName: '%.40s' is not a metric kumod keeps; "
            "use \"Percentage CPU\"",
            prefix, metric);
    snprintf(r->metric, sizeof(r->metric), "Percentage CPU");
    struct {
        const char *name;
        int64_t *out;
        const char *dflt;
        int64_t min;
    } durs[] = {
        {"timeGrain", &r->grain_ms, "PT1M", 1000},
        {"timeWindow", &r->window_ms, "PT5M", 1000},
    };
    for (size_t i = 0; i < COUNT(durs); i++) {
        const char *s = json_string_value(json_object_get(mt, durs[i].name));
        *durs[i].out = as_duration_parse(s ? s : durs[i].dflt);
        if (*durs[i].out < durs[i].min)
            BAD_DYN(durs[i].name,
                    "%smetricTrigger.%s: '%.40s' is not an ISO 8601 duration of at "
                    "least a second (PT1M, PT30S, PT5M)",
                    prefix, durs[i].name, s ? s : "");
    }
    if (r->grain_ms > r->window_ms)
        BAD("metricTrigger.timeGrain",
            "%smetricTrigger.timeGrain: longer than timeWindow; the window must "
            "hold at least one grain",
            prefix);
    if (r->window_ms / r->grain_ms > 10000)
        BAD("metricTrigger.timeGrain", "%smetricTrigger.timeGrain: at most 10000 grains per window",
            prefix);
    const char *st = json_string_value(json_object_get(mt, "statistic"));
    int v = lookup(st ? st : "Average", stat_names, COUNT(stat_names));
    if (v < 0)
        BAD("metricTrigger.statistic",
            "%smetricTrigger.statistic: '%.40s' is not Average, Min, Max or Sum", prefix, st);
    r->statistic = (enum as_stat)v;
    const char *ta = json_string_value(json_object_get(mt, "timeAggregation"));
    v = lookup(ta ? ta : "Average", agg_names, COUNT(agg_names));
    if (v < 0)
        BAD("metricTrigger.timeAggregation",
            "%smetricTrigger.timeAggregation: '%.40s' is not Average, Minimum, "
            "Maximum, Total, Last or Count",
            prefix, ta);
    r->time_agg = (enum as_agg)v;
    const char *op = json_string_value(json_object_get(mt, "operator"));
    v = lookup(op, op_names, COUNT(op_names));
    if (v < 0) v = lookup(op, op_symbols, COUNT(op_symbols));
    if (v < 0)
        BAD("metricTrigger.operator",
            "%smetricTrigger.operator: '%.40s' is not GreaterThan, "
            "GreaterThanOrEqual, LessThan, LessThanOrEqual, Equals or NotEquals",
            prefix, op ? op : "");
    r->op = (enum as_op)v;
    const json_t *th = json_object_get(mt, "threshold");
    if (!json_is_number(th))
        BAD("metricTrigger.threshold", "%smetricTrigger.threshold: missing or not a number",
            prefix);
    r->threshold = json_number_value(th);
    const char *dir = json_string_value(json_object_get(sa, "direction"));
    if (dir && strcasecmp(dir, "Increase") == 0)
        r->increase = true;
    else if (dir && strcasecmp(dir, "Decrease") == 0)
        r->increase = false;
    else
        BAD("scaleAction.direction", "%sscaleAction.direction: '%.40s' is not Increase or Decrease",
            prefix, dir ? dir : "");
    const char *ty = json_string_value(json_object_get(sa, "type"));
    v = lookup(ty ? ty : "ChangeCount", type_names, COUNT(type_names));
    if (v < 0)
        BAD("scaleAction.type",
            "%sscaleAction.type: '%.40s' is not ChangeCount, PercentChangeCount "
            "or ExactCount",
            prefix, ty);
    r->type = (enum as_type)v;
    const json_t *val = json_object_get(sa, "value");
    json_int_t iv = 0;
    if (json_is_integer(val))
        iv = json_integer_value(val);
    else if (json_is_string(val))
        iv = strtoll(json_string_value(val), NULL, 10);
    else if (!val)
        iv = 1;
    else
        iv = -1;
    if (iv < (r->type == AS_EXACT_COUNT ? 0 : 1) || iv > 1000)
        BAD("scaleAction.value", "%sscaleAction.value: must be an integer from %d to 1000", prefix,
            r->type == AS_EXACT_COUNT ? 0 : 1);
    r->value = iv;
    const char *cd = json_string_value(json_object_get(sa, "cooldown"));
    r->cooldown_ms = as_duration_parse(cd ? cd : "PT5M");
    if (r->cooldown_ms < 0)
        BAD("scaleAction.cooldown",
            "%sscaleAction.cooldown: '%.40s' is not an ISO 8601 duration (PT5M)", prefix, cd);
    return 0;
}

json_t *as_rule_json(const struct as_rule *r)
{
    char grain[32], win[32], cd[32];
    as_duration_format(r->grain_ms, grain, sizeof(grain));
    as_duration_format(r->window_ms, win, sizeof(win));
    as_duration_format(r->cooldown_ms, cd, sizeof(cd));
    return json_pack("{s:{s:s,s:s,s:s,s:s,s:s,s:s,s:f},s:{s:s,s:s,s:I,s:s}}", "metricTrigger",
                     "metricName", r->metric, "timeGrain", grain, "statistic",
                     stat_names[r->statistic], "timeWindow", win, "timeAggregation",
                     agg_names[r->time_agg], "operator", op_names[r->op], "threshold", r->threshold,
                     "scaleAction", "direction", r->increase ? "Increase" : "Decrease", "type",
                     type_names[r->type], "value", (json_int_t)r->value, "cooldown", cd);
}
