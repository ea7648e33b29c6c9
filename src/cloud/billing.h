/*
 * billing.h - meters and what they cost.
 *
 * A usage record says: resource R (of a group) ran meter M at price P per
 * unit, consuming Q units per hour, from start to end (end NULL = still
 * running). Meters (docs/api.md "Cost and usage"):
 *   "VM <size>"             unit hour,       Q = 1, while the VM is billed
 *   "Disk <tier> <offer>"   unit GiB-month,  Q = billed GiB / 730, while it exists
 *   "Public IP"             unit hour,       Q = 1, while it exists
 * usage_sync() makes the open record of a resource match what it should be
 * now, closing the old record and opening the new one at the same
 * millisecond, in the caller's transaction (so a state change and its meter
 * change commit together). Cost of a record over [from, to) =
 * overlap hours x Q x P.
 */
#ifndef KUMO_CLOUD_BILLING_H
#define KUMO_CLOUD_BILLING_H

#include "cloud/error.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

struct db;

/* Hours of [start, end) inside [from, to); end < 0 means open (use to). */
double billing_overlap_hours(int64_t start, int64_t end, int64_t from, int64_t to);

struct meter {
    const char *group, *resource_type, *resource_name;
    int64_t resource_id;
    char meter[96];
    const char *unit; /* "hour" or "GiB-month" */
    double price;     /* per unit */
    double qty_per_hour;
};

/* Make the open usage record of (type, id) match want (NULL: none open). */
int usage_sync(struct db *db, const char *resource_type, int64_t resource_id,
               const struct meter *want, int64_t at_ms);

/* The meter a VM runs while billed (its size and price now). 0 or -1. */
int billing_vm_meter(struct db *db, int64_t vm_id, struct meter *m, char *group, size_t glen,
                     char *name, size_t nlen);
/* Sync a VM's record: billed -> open with its current meter, else closed. */
int billing_vm_sync(struct db *db, int64_t vm_id, bool billed, int64_t at_ms);
/* Sync a disk's record (exists = the disk row exists). */
int billing_disk_sync(struct db *db, int64_t disk_id, bool exists, int64_t at_ms);
int billing_pip_sync(struct db *db, int64_t pip_id, bool exists, int64_t at_ms);
/* A hibernated VM's saved state: `bytes` on disk, billed per GiB-month at
 * the Standard SSD rate (0: none, the record ends). */
int billing_state_sync(struct db *db, int64_t vm_id, uint64_t bytes, int64_t at_ms);

/* GET /v1/cost and /v1/usage bodies. group may be NULL (all). */
json_t *billing_cost_report(struct db *db, int64_t from, int64_t to, const char *group_by,
                            const char *group, struct kerr *e);
json_t *billing_usage_list(struct db *db, int64_t from, int64_t to, const char *group,
                           struct kerr *e);
/* Earliest usage start (or now when none). */
int64_t billing_first_ms(struct db *db, int64_t now_ms);

#endif
