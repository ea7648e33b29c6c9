/*
 * tiers.h - managed-disk performance tiers as data: Standard_HDD (S sizes),
 * Standard_SSD (E sizes) and Premium_SSD (P sizes), each a ladder of offered
 * sizes with baseline IOPS and throughput and, where the tier has it, credit
 * burst figures. A disk is billed, and performs, as the smallest offered size
 * at least as large as its provisioned size ("rounded up to the next offered
 * size"). disk_tier_limits() turns a size's figures into limiter settings.
 *
 * Throughput figures are MB/s as Azure publishes them; kumo reads 1 MB as
 * 1,048,576 bytes (Azure's older tables said "MiB/sec").
 */
#ifndef KUMO_STORAGE_TIERS_H
#define KUMO_STORAGE_TIERS_H

#include "storage/disk.h"
#include "storage/ratelimit.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum disk_tier { DISK_TIER_STANDARD_HDD, DISK_TIER_STANDARD_SSD, DISK_TIER_PREMIUM_SSD };

struct disk_tier_size {
    const char *name;                /* "P10" */
    uint32_t size_gib;               /* offered (and billed) size */
    uint32_t iops, mbps;             /* baseline */
    uint32_t burst_iops, burst_mbps; /* credit-based burst; 0 = none */
    uint32_t burst_seconds;          /* how long a full credit lasts at the burst rate */
};

#define DISK_TIER_MB UINT64_C(1048576)

/* "Standard_HDD", "Standard_SSD", "Premium_SSD" (also Azure's SKU names
 * Standard_LRS, StandardSSD_LRS, Premium_LRS; case-insensitive). 0 or -1. */
int disk_tier_parse(const char *s, enum disk_tier *t);
const char *disk_tier_name(enum disk_tier t);

/* The whole ladder of a tier, smallest first. */
const struct disk_tier_size *disk_tier_sizes(enum disk_tier t, size_t *n);

/* The offered size a disk of size_gib is billed and throttled as: the smallest
 * at least that large. NULL when size_gib is 0 or above the largest size. */
const struct disk_tier_size *disk_tier_lookup(enum disk_tier t, uint64_t size_gib);

/*
 * Limiter settings for an offered size. Without burst: one second of tokens
 * refilled every second (bandwidth = mbps MB, ops = iops). With burst: the
 * bandwidth/ops buckets hold one second at the baseline plus the credit for
 * burst_seconds at (burst - baseline), and refill at the baseline rate, so
 * idle time earns credit back as on Azure; the peak buckets (one second at
 * the burst rate) stop the credit from being spent faster than the burst rate.
 */
void disk_tier_limits(const struct disk_tier_size *s, struct ratelimit_config *c);

/* The same as rates (what kumod hands kumo-vmm's --disk), with the IOPS,
 * sustained and burst, capped at iops_cap (a VM size's disk IOPS limit;
 * 0: none). */
void disk_tier_rates(const struct disk_tier_size *s, uint64_t iops_cap, struct ratelimit_rates *r);

/* Host caching of a disk whose caching was not chosen, as Azure defaults
 * it: ReadWrite for OS disks, ReadOnly for Premium data disks, None for
 * other data disks. */
enum disk_cache disk_tier_default_cache(enum disk_tier t, bool os_disk);

/* A disk's host caching: `chosen` (a caching name, as stored: NULL or
 * unknown when none was chosen), else the default of its tier (by name)
 * and role. What every view of a disk shows and kumo-vmm is given. */
enum disk_cache disk_cache_effective(const char *chosen, const char *tier, bool os_disk);

#endif
