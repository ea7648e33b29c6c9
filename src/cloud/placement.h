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
 * Dedicated VMs (a host slice no other tenant shares): a dedicated VM holds
 * one whole host core per vCPU, chosen among cores 1..cpus-1 (core 0 always
 * stays shared: the host itself, kumod, the switch and the shared VMs run
 * there) and recorded in vms.host_cpus. Reserved cores leave the shared
 * pool: shared VMs get floor((cpus - reserved cores) x cpu_ratio) vCPUs and
 * run pinned to the unreserved cores; a dedicated VM runs pinned to its own.
 * Reserving cores is refused when the shared VMs already placed would no
 * longer fit in what remains.
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

#define PLACEMENT_MAX_CORES 64

struct host_cap {
    int64_t cpus, mem_mib, reserved_mib;
    double cpu_ratio, ram_ratio;
    int64_t used_vcpus, used_mib, vms; /* allocated now (vCPUs: shared VMs only) */
    uint64_t dedicated_cores;          /* bit k: core k is held by a dedicated VM */
};

/* vCPUs for shared VMs: the unreserved cores x cpu_ratio. */
int64_t placement_cap_vcpus(const struct host_cap *h);
int64_t placement_cap_mib(const struct host_cap *h); /* never negative */
bool placement_fits(const struct host_cap *h, int64_t vcpus, int64_t mib);
/* A dedicated VM of vcpus cores: picks the highest free cores into *cores
 * (or leaves it 0 and returns false). */
bool placement_fits_dedicated(const struct host_cap *h, int64_t vcpus, int64_t mib,
                              uint64_t *cores);
/* The host cores shared VMs run on (every core not dedicated). */
uint64_t placement_shared_cores(const struct host_cap *h);
/* Core sets as CPU lists ("0", "1-3,5"), the form of vms.host_cpus and of
 * kumo-vmm's --cpu-affinity. parse: false on anything else. */
void placement_format_cores(uint64_t cores, char *buf, size_t len);
bool placement_parse_cores(const char *s, uint64_t *cores);

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
/* What a placement asks for beyond the size (cluster mode, docs/cluster.md):
 * only_host pins it to that host (409 naming the host when it does not fit
 * or is not Up); avoid_host takes it off that host (a VM leaving it);
 * spread_vmss prefers the hosts with the fewest instances of that scale set
 * (its fault domains are hosts). 0: none. Hosts that are not Up take
 * nothing. */
struct placement_req {
    const char *size_name;
    int64_t vcpus, mib;
    int64_t exclude_vm;
    bool dedicated;
    int64_t only_host, avoid_host, spread_vmss;
    bool shared_only; /* only hosts whose disks are on the shared storage */
};
int64_t placement_choose_req(struct db *db, const struct placement_req *r, char *cores,
                             size_t cores_len, struct kerr *e);

/* The same for a VM that may be dedicated: then its cores come back in
 * cores (a CPU list) for the caller to store in vms.host_cpus. */
int64_t placement_choose_vm(struct db *db, const char *size_name, int64_t vcpus, int64_t mib,
                            int64_t exclude_vm, bool dedicated, char *cores, size_t cores_len,
                            struct kerr *e);

/* How many more VMs of vcpus/mib (shared, not dedicated) fit the hosts now,
 * counting what VMs being deleted hold as free; at most limit. why (may
 * be empty) gets each host's free vCPUs and memory, for a refusal. */
int64_t placement_room(struct db *db, int64_t vcpus, int64_t mib, int64_t limit, char *why,
                       size_t why_len);

#endif
