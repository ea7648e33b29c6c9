/*
 * catalog.c - the built-in size catalog and price list (see catalog.h).
 *
 * Sizes and B-series credit figures are facts.md section 4. Prices are
 * plausible list prices modelled on Azure's pay-as-you-go Linux prices in
 * an inexpensive US region (late 2024), rounded; kumo bills no real money,
 * the point is that a bigger or faster thing costs more in the same ratios.
 * Data disks beyond 6 do not fit kumo-vmm's 7 virtio disk slots, so larger
 * sizes are capped at 6.
 */
#include "cloud/catalog.h"

#include <strings.h>

static const struct catalog_size sizes[] = {
    /* name, family, vCPUs, MiB, data disks, disk IOPS, $/h, baseline %, credits */
    {"B1ls", "B", 1, 512, 2, 160, 0.0052, 5, 30, 3, 72},
    {"B1s", "B", 1, 1024, 2, 320, 0.0104, 10, 30, 6, 144},
    {"B1ms", "B", 1, 2048, 2, 640, 0.0207, 20, 30, 12, 288},
    {"B2s", "B", 2, 4096, 4, 1280, 0.0416, 20, 60, 24, 576},
    {"B2ms", "B", 2, 8192, 4, 1920, 0.0832, 30, 60, 36, 864},
    {"B4ms", "B", 4, 16384, 6, 2880, 0.166, 22.5, 120, 54, 1296},
    {"D2s_v5", "D", 2, 8192, 4, 3750, 0.096, 0, 0, 0, 0},
    {"D4s_v5", "D", 4, 16384, 6, 6400, 0.192, 0, 0, 0, 0},
    {"D8s_v5", "D", 8, 32768, 6, 12800, 0.384, 0, 0, 0, 0},
    {"E2s_v5", "E", 2, 16384, 4, 3750, 0.126, 0, 0, 0, 0},
    {"E4s_v5", "E", 4, 32768, 6, 6400, 0.252, 0, 0, 0, 0},
    {"E8s_v5", "E", 8, 65536, 6, 12800, 0.504, 0, 0, 0, 0},
    {"F2s_v2", "F", 2, 4096, 4, 3200, 0.0846, 0, 0, 0, 0},
    {"F4s_v2", "F", 4, 8192, 6, 6400, 0.169, 0, 0, 0, 0},
    {"F8s_v2", "F", 8, 16384, 6, 12800, 0.338, 0, 0, 0, 0},
};

const struct catalog_size *catalog_sizes(size_t *n)
{
    *n = sizeof(sizes) / sizeof(sizes[0]);
    return sizes;
}

double catalog_disk_price(enum disk_tier t)
{
    switch (t) {
    case DISK_TIER_STANDARD_HDD: return 0.045;
    case DISK_TIER_STANDARD_SSD: return 0.075;
    case DISK_TIER_PREMIUM_SSD: return 0.15;
    }
    return 0;
}

/* The default guest (guest/build.sh: Linux 6.1 and busybox, direct boot)
 * and the Debian 13 cloud image (guest/debian/build.sh: its own kernel
 * through OpenSBI and U-Boot, cloud-init). */
static const struct catalog_image images[] = {
    {"default", "kumo:default:default:latest", "Default",
     "Linux 6.1 and busybox (kumo's default guest)", "kumo", "direct", "guest/build.sh"},
    {"debian-13", "Debian:debian-13:13:latest", "Debian13", "Debian GNU/Linux 13 (trixie)",
     "cloud-init", "firmware", "guest/debian/build.sh"},
};

const struct catalog_image *catalog_images(size_t *n)
{
    *n = sizeof(images) / sizeof(images[0]);
    return images;
}

const struct catalog_image *catalog_image(const char *name)
{
    for (size_t i = 0; i < sizeof(images) / sizeof(images[0]); i++)
        if (strcasecmp(images[i].name, name) == 0) return &images[i];
    return NULL;
}
