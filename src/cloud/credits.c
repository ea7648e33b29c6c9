/*
 * credits.c - B-series CPU credit arithmetic (see credits.h).
 */
#include "cloud/credits.h"

#include <jansson.h>
#include <math.h>

bool credits_policy_parse(const char *burst_json, struct credit_policy *out)
{
    if (!burst_json) return false;
    json_t *j = json_loads(burst_json, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        return false;
    }
    *out = (struct credit_policy){
        .baseline_pct = json_number_value(json_object_get(j, "baselinePercent")),
        .initial = json_number_value(json_object_get(j, "initialCredits")),
        .per_hour = json_number_value(json_object_get(j, "creditsPerHour")),
        .max = json_number_value(json_object_get(j, "maxCredits")),
    };
    json_decref(j);
    return out->baseline_pct > 0 && out->baseline_pct <= 100 && out->max >= 0 && out->per_hour >= 0;
}

struct credit_state credits_initial(const struct credit_policy *p)
{
    double c = p->initial < p->max ? p->initial : p->max;
    return (struct credit_state){.credits = c, .capped = !(c > 0)};
}

double credits_rate_per_minute(const struct credit_policy *p, double cpu_pct)
{
    if (!(cpu_pct >= 0)) cpu_pct = 0; /* NaN: no sample */
    if (cpu_pct > 100) cpu_pct = 100;
    return p->per_hour / 60.0 * (p->baseline_pct - cpu_pct) / p->baseline_pct;
}

bool credits_advance(const struct credit_policy *p, struct credit_state *s, double cpu_pct,
                     int64_t dt_ms)
{
    bool was = s->capped;
    if (dt_ms > 0) {
        s->credits += credits_rate_per_minute(p, cpu_pct) * (double)dt_ms / 60000.0;
        if (s->credits > p->max) s->credits = p->max;
        if (s->credits < 1e-9) s->credits = 0; /* and float dust */
    }
    if (!s->capped && s->credits <= 0)
        s->capped = true;
    else if (s->capped && s->credits >= (CREDITS_LIFT < p->max ? CREDITS_LIFT : p->max) &&
             s->credits > 0)
        s->capped = false;
    return s->capped != was;
}
