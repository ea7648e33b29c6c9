/*
 * metrics.h - VM metrics: a thread that asks every running VM's kumo-vmm for
 * its counters every cfg.metrics_interval seconds (vmm_client.h), stores a
 * sample per VM per tick and drops samples older than cfg.metrics_retention;
 * and the two ways to read them: JSON time series for one VM, and the
 * Prometheus text of /metrics (docs/api.md "Metrics").
 *
 * cpuPercent is the busy time of the VM's vCPU threads over the interval
 * divided by (interval x vCPUs): what the guest used, not what the host
 * process spent on devices. The first sample after a start has no rates.
 * Each sample also accounts the B-series CPU credits of burstable VMs
 * (credits.h) and sets kumo-vmm's cap to the baseline at zero credits (and
 * lifts it), and records the vCPUs' throttled time.
 */
#ifndef KUMO_CLOUD_METRICS_H
#define KUMO_CLOUD_METRICS_H

#include "cloud/error.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct kumod;
struct metrics;

struct metrics *metrics_start(struct kumod *k);
void metrics_stop(struct metrics *m);

/* CPU percent from two cumulative samples (pure): busy ns summed over
 * vCPUs, uptime ns, vCPU count. Clamped to 0..100. */
double metrics_cpu_percent(uint64_t busy0, uint64_t busy1, uint64_t up0, uint64_t up1, int vcpus);

/* Under the lock. names: comma list or NULL (all). */
json_t *metrics_vm_series(struct kumod *k, int64_t vm_id, int64_t from, int64_t to,
                          const char *names, struct kerr *e);
/* Under the lock: the /metrics text (malloc'd). */
char *metrics_prometheus(struct kumod *k, size_t *len);

#endif
