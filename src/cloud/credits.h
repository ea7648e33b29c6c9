/*
 * credits.h - B-series (burstable) CPU credits: the arithmetic, with no
 * clock or database of its own (metrics.c drives it once per sample).
 *
 * A credit is one vCPU at 100 % for one minute. A burstable size has a
 * baseline (percent of each vCPU) and, from its row in the size catalog
 * (sizes.burst, facts.md section 4): initial credits, credits banked per
 * hour when idle, and the most it can bank. Over a sample of dt at CPU
 * percent c (busy time of the VM's vCPUs over dt x vCPUs):
 *
 *     credits += creditsPerHour / 60 x (baseline - c) / baseline x minutes(dt)
 *
 * then clamped to maxCredits. creditsPerHour is the table's figure; for
 * every built-in size it equals baseline x vCPUs x 60 / 100, so this is
 * facts.md's "credits per minute = (baseline% x vCPUs - CPU% x vCPUs) / 100"
 * (facts.md writes a further "/ 2", which its own table contradicts by a
 * factor of 2: kumo follows the table, as Azure publishes it).
 *
 * Below baseline the VM banks, above it spends. When the balance reaches
 * zero the VM is held to its baseline (kumo-vmm's cap = baseline % per
 * vCPU); the balance never goes below zero (the part of one sample that
 * overdrew is forgiven: at most one metrics interval of burst). The cap is
 * lifted once the VM has banked CREDITS_LIFT credits again, so it does not
 * flap at every sample while it runs at baseline.
 */
#ifndef KUMO_CLOUD_CREDITS_H
#define KUMO_CLOUD_CREDITS_H

#include <stdbool.h>
#include <stdint.h>

#define CREDITS_LIFT 1.0

struct credit_policy {
    double baseline_pct; /* per vCPU, 0 < b <= 100 */
    double initial, per_hour, max;
};

struct credit_state {
    double credits;
    bool capped; /* held to baseline */
};

/* Parse a size's burst JSON ({"baselinePercent":..,"initialCredits":..,
 * "creditsPerHour":..,"maxCredits":..}); false when NULL or not burstable. */
bool credits_policy_parse(const char *burst_json, struct credit_policy *out);

/* The start of a VM's life: the initial credits, not capped. */
struct credit_state credits_initial(const struct credit_policy *p);

/* Credits per minute at cpu_pct (percent of the VM's vCPUs, 0..100):
 * positive banks, negative spends. */
double credits_rate_per_minute(const struct credit_policy *p, double cpu_pct);

/* Account dt_ms at cpu_pct; returns true when `capped` changed. */
bool credits_advance(const struct credit_policy *p, struct credit_state *s, double cpu_pct,
                     int64_t dt_ms);

#endif
