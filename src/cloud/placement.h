/*
 * placement.h - where a VM runs, and whether it fits at all.
 *
 * A host offers floor(cpus x cpu_ratio) vCPUs (time-sliced: OpenStack's
 * default ratio is 4.0) and floor(mem_mib x ram_ratio) - reserved_mib MiB of
 * guest memory (memory is rigid: ratio 1.0, minus what the host itself and
 * the VMMs' overhead need). A VM holds its size's vCPUs and memory while it
 * is allocated (vms.host_id is set). A VM fits a host when both its vCPUs
 * and its memory fit in what is left. Among the hosts it fits, the one with
 * the fewest VMs wins, then the one with the most free memory (Incus's rule;
 * there is one host today).
 *
 * placement_choose() reads the allocations and the caller then writes the
 * VM's host_id in the same BEGIN IMMEDIATE transaction, under kumod's lock:
 * two creates can never both take the last slot.
 */
#ifndef KUMO_CLOUD_PLACEMENT_H
#define KUMO_CLOUD_PLACEMENT_H

#include "cloud/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;

struct host_cap {
    int64_t cpus, mem_mib, reserved_mib;
    double cpu_ratio, ram_ratio;
    int64_t used_vcpus, used_mib, vms; /* allocated now */
};

int64_t placement_cap_vcpus(const struct host_cap *h);
int64_t placement_cap_mib(const struct host_cap *h); /* never negative */
bool placement_fits(const struct host_cap *h, int64_t vcpus, int64_t mib);

/* "host box has 3 of 8 vCPUs and 900 of 21695 MiB free (vCPUs short by 5)" */
void placement_describe(const char *host, const struct host_cap *h, int64_t vcpus, int64_t mib,
                        char *buf, size_t len);

/* Read a host's capacity and current allocation, not counting exclude_vm's
 * reservation (0 = none). 0 or -1. */
int placement_load(struct db *db, int64_t host_id, int64_t exclude_vm, struct host_cap *out);

/* The host for a VM needing vcpus/mib (exclude_vm: a VM whose current
 * reservation is being replaced, or 0). Returns the host id, or -1 with e
 * set to 409 CapacityExceeded naming what is short (or 500). Call inside the
 * transaction that then sets vms.host_id. */
int64_t placement_choose(struct db *db, const char *size_name, int64_t vcpus, int64_t mib,
                         int64_t exclude_vm, struct kerr *e);

#endif
