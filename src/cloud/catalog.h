/*
 * catalog.h - the prices and sizes kumod starts with: the B, D, E and F
 * VM families of facts.md section 4 with a price per hour, the price of a
 * GiB-month of each disk tier, and of a public IP hour. Loaded into the
 * database at first start (sizes can then be added or repriced through the
 * API); docs/cloud.md explains where the figures come from. And the
 * built-in images: what kumod registers at start when their files exist
 * (docs/images.md).
 */
#ifndef KUMO_CLOUD_CATALOG_H
#define KUMO_CLOUD_CATALOG_H

#include "storage/tiers.h"

#include <stddef.h>
#include <stdint.h>

struct catalog_size {
    const char *name, *family;
    int vcpus;
    int mem_mib;
    int max_data_disks; /* kumo-vmm has 7 virtio disk slots: OS + 6 */
    int max_iops;       /* per-disk IOPS cap */
    double price_hour;  /* USD */
    /* B-series CPU credits (baseline_pct 0: not burstable) */
    double baseline_pct;
    int initial_credits, credits_per_hour, max_credits;
};

const struct catalog_size *catalog_sizes(size_t *n);

/* A built-in image: its catalog entry and where kumod finds its files. */
struct catalog_image {
    const char *name;         /* kumo's name for it */
    const char *urn;          /* Publisher:offer:sku:version, as Azure's marketplace */
    const char *alias;        /* the friendly name (az vm create --image ALIAS) */
    const char *os;           /* what it runs, for people */
    const char *provisioning; /* none, kumo or cloud-init (schema.c) */
    const char *boot_mode;    /* direct or firmware */
    const char *build;        /* the script that builds it, for messages */
};

const struct catalog_image *catalog_images(size_t *n);
/* The built-in image named name (any case), or NULL. */
const struct catalog_image *catalog_image(const char *name);

/* USD per GiB-month (730 hours) of the billed (rounded-up) size. */
double catalog_disk_price(enum disk_tier t);
#define CATALOG_HOURS_PER_MONTH 730.0
/* USD per hour of a public IP. */
#define CATALOG_PUBLIC_IP_HOUR 0.005

#endif
