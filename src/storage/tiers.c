/*
 * tiers.c - the managed-disk tier tables (data) and their mapping to limiter
 * settings. Sources: facts.md section 5 (S10, E10, P10 and the P1-P30 ladder);
 * every other figure is from Azure's published size tables (MicrosoftDocs
 * azure-docs includes/disk-storage-{standard-hdd,standard-ssd,premium-ssd}-
 * sizes.md): Standard HDD S4-S80, Standard SSD E1-E80 with credit burst on
 * E1-E30 (600 IOPS / 150 MB/s, E30 1,000 / 250, 30 minutes), Premium SSD
 * P1-P80 with credit burst on P1-P20 (3,500 IOPS / 170 MB/s, 30 minutes).
 * Premium P30 and up only have Azure's paid on-demand bursting, which is not
 * modelled; neither are Standard SSD "performance plus" figures.
 */
#include "storage/tiers.h"

#include <strings.h>

#define MIN30 1800

static const struct disk_tier_size hdd[] = {
    {"S4", 32, 500, 60, 0, 0, 0},       {"S6", 64, 500, 60, 0, 0, 0},
    {"S10", 128, 500, 60, 0, 0, 0},     {"S15", 256, 500, 60, 0, 0, 0},
    {"S20", 512, 500, 60, 0, 0, 0},     {"S30", 1024, 500, 60, 0, 0, 0},
    {"S40", 2048, 500, 60, 0, 0, 0},    {"S50", 4096, 500, 60, 0, 0, 0},
    {"S60", 8192, 1300, 300, 0, 0, 0},  {"S70", 16384, 2000, 500, 0, 0, 0},
    {"S80", 32767, 2000, 500, 0, 0, 0},
};

static const struct disk_tier_size ssd[] = {
    {"E1", 4, 500, 60, 600, 150, MIN30},      {"E2", 8, 500, 60, 600, 150, MIN30},
    {"E3", 16, 500, 60, 600, 150, MIN30},     {"E4", 32, 500, 60, 600, 150, MIN30},
    {"E6", 64, 500, 60, 600, 150, MIN30},     {"E10", 128, 500, 60, 600, 150, MIN30},
    {"E15", 256, 500, 60, 600, 150, MIN30},   {"E20", 512, 500, 60, 600, 150, MIN30},
    {"E30", 1024, 500, 60, 1000, 250, MIN30}, {"E40", 2048, 500, 60, 0, 0, 0},
    {"E50", 4096, 500, 60, 0, 0, 0},          {"E60", 8192, 2000, 400, 0, 0, 0},
    {"E70", 16384, 4000, 600, 0, 0, 0},       {"E80", 32767, 6000, 750, 0, 0, 0},
};

static const struct disk_tier_size premium[] = {
    {"P1", 4, 120, 25, 3500, 170, MIN30},      {"P2", 8, 120, 25, 3500, 170, MIN30},
    {"P3", 16, 120, 25, 3500, 170, MIN30},     {"P4", 32, 120, 25, 3500, 170, MIN30},
    {"P6", 64, 240, 50, 3500, 170, MIN30},     {"P10", 128, 500, 100, 3500, 170, MIN30},
    {"P15", 256, 1100, 125, 3500, 170, MIN30}, {"P20", 512, 2300, 150, 3500, 170, MIN30},
    {"P30", 1024, 5000, 200, 0, 0, 0},         {"P40", 2048, 7500, 250, 0, 0, 0},
    {"P50", 4096, 7500, 250, 0, 0, 0},         {"P60", 8192, 16000, 500, 0, 0, 0},
    {"P70", 16384, 18000, 750, 0, 0, 0},       {"P80", 32767, 20000, 900, 0, 0, 0},
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

int disk_tier_parse(const char *s, enum disk_tier *t)
{
    static const struct {
        const char *name;
        enum disk_tier tier;
    } names[] = {
        {"Standard_HDD", DISK_TIER_STANDARD_HDD}, {"Standard_LRS", DISK_TIER_STANDARD_HDD},
        {"Standard_SSD", DISK_TIER_STANDARD_SSD}, {"StandardSSD_LRS", DISK_TIER_STANDARD_SSD},
        {"Premium_SSD", DISK_TIER_PREMIUM_SSD},   {"Premium_LRS", DISK_TIER_PREMIUM_SSD},
    };
    for (size_t i = 0; s && i < N(names); i++) {
        if (strcasecmp(s, names[i].name) == 0) {
            *t = names[i].tier;
            return 0;
        }
    }
    return -1;
}

const char *disk_tier_name(enum disk_tier t)
{
    switch (t) {
    case DISK_TIER_STANDARD_HDD: return "Standard_HDD";
    case DISK_TIER_STANDARD_SSD: return "Standard_SSD";
    case DISK_TIER_PREMIUM_SSD: return "Premium_SSD";
    }
    return "?";
}

const struct disk_tier_size *disk_tier_sizes(enum disk_tier t, size_t *n)
{
    switch (t) {
    case DISK_TIER_STANDARD_HDD: *n = N(hdd); return hdd;
    case DISK_TIER_STANDARD_SSD: *n = N(ssd); return ssd;
    case DISK_TIER_PREMIUM_SSD: *n = N(premium); return premium;
    }
    *n = 0;
    return NULL;
}

const struct disk_tier_size *disk_tier_lookup(enum disk_tier t, uint64_t size_gib)
{
    size_t n;
    const struct disk_tier_size *s = disk_tier_sizes(t, &n);
    if (size_gib == 0) return NULL;
    for (size_t i = 0; i < n; i++)
        if (s[i].size_gib >= size_gib) return &s[i];
    return NULL;
}

void disk_tier_limits(const struct disk_tier_size *s, struct ratelimit_config *c)
{
    struct ratelimit_rates r;
    disk_tier_rates(s, 0, &r);
    char err[128];
    if (ratelimit_rates_config(&r, c, err, sizeof(err)) < 0) *c = (struct ratelimit_config){0};
}

void disk_tier_rates(const struct disk_tier_size *s, uint64_t iops_cap, struct ratelimit_rates *r)
{
    *r = (struct ratelimit_rates){.iops = s->iops, .bps = (uint64_t)s->mbps * DISK_TIER_MB};
    if (iops_cap && r->iops > iops_cap) r->iops = iops_cap;
    if (s->burst_iops > r->iops && (!iops_cap || iops_cap > r->iops)) {
        r->iops_max = iops_cap && s->burst_iops > iops_cap ? iops_cap : s->burst_iops;
        r->iops_max_length = s->burst_seconds;
    }
    uint64_t burst_bps = (uint64_t)s->burst_mbps * DISK_TIER_MB;
    if (burst_bps > r->bps) {
        r->bps_max = burst_bps;
        r->bps_max_length = s->burst_seconds;
    }
}

enum disk_cache disk_tier_default_cache(enum disk_tier t, bool os_disk)
{
    if (os_disk) return DISK_CACHE_READWRITE;
    return t == DISK_TIER_PREMIUM_SSD ? DISK_CACHE_READONLY : DISK_CACHE_NONE;
}

enum disk_cache disk_cache_effective(const char *chosen, const char *tier, bool os_disk)
{
    int c = chosen ? disk_cache_parse(chosen) : -1;
    if (c >= 0) return (enum disk_cache)c;
    enum disk_tier t = DISK_TIER_STANDARD_SSD;
    if (tier) disk_tier_parse(tier, &t);
    return disk_tier_default_cache(t, os_disk);
}
