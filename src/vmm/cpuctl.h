/*
 * cpuctl.h - per-VM CPU controls of kumo-vmm: a cap, a weight and a host
 * CPU affinity, enforced on the VMM's own threads, changeable while the VM
 * runs (control socket), and the per-vCPU busy/idle/throttled accounting.
 *
 * Cap: a percentage of one host core per vCPU (20 = a fifth of a core each).
 * Each vCPU thread keeps a token bucket of CPU time: it earns cap x wall
 * time, holds at most one period's worth (CPUCTL_PERIOD_NS x cap), and pays
 * for its own thread CPU time (CLOCK_THREAD_CPUTIME_ID). The interpreter
 * calls cpuctl_pace() at its existing poll points (every few thousand
 * instructions); at most every CPUCTL_CHECK_NS of wall time it reads the
 * thread clock, and when the bucket is in debt the thread sleeps for exactly
 * as long as it takes to pay it back. Runs and sleeps are a millisecond or
 * a few long, so the guest sees smooth, slower progress rather than stalls.
 * Time in WFI costs nothing (the thread sleeps, its CPU clock stands still).
 *
 * Weight: a share under contention, 1..10000 (100 = default), the scale of
 * cgroup v2 cpu.weight. It maps to a nice value the way the kernel's weight
 * table does (x1.25 per step: 100 -> 0, 200 -> -3, 50 -> 3, 10000 -> -20,
 * 1 -> 19). When kumo-vmm leads its own session and the kernel groups
 * sessions (autogroup, /proc/sys/kernel/sched_autogroup_enabled = 1) the
 * nice goes to the session's group (/proc/self/autogroup): the VM as a
 * whole against other VMs, which is what kumod's VMs are. Otherwise it goes
 * to each vCPU thread (setpriority), against the other threads of the
 * session. Raising a share above 100 needs CAP_SYS_NICE.
 *
 * Steal time: when the guest registered SBI STA shared memory for a vCPU
 * (src/machine/sbi.c), the same checks publish there the time the vCPU was
 * ready but did not run: wall time minus its thread's CPU time minus its
 * idle (WFI) time, so the cap's sleeps and waits for a host core.
 *
 * Affinity: the set of host CPUs every thread of the VMM may run on
 * (dedicated hosts: kumod gives a dedicated VM its reserved cores and the
 * other VMs the rest).
 */
#ifndef KUMO_VMM_CPUCTL_H
#define KUMO_VMM_CPUCTL_H

#include <sched.h> /* cpu_set_t (the build defines _GNU_SOURCE) */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hart;

#define CPUCTL_PERIOD_NS      10000000ull /* the bucket holds 10 ms x cap */
#define CPUCTL_CHECK_NS       500000ull   /* read the thread clock at most every 0.5 ms */
#define CPUCTL_WEIGHT_DEFAULT 100
#define CPUCTL_WEIGHT_MAX     10000

struct cpuctl_config {
    uint32_t cap_bp; /* cap in hundredths of a percent of a core per vCPU; 0 = none */
    int weight;      /* 1..10000 */
    bool has_affinity;
    cpu_set_t affinity;
};

struct vcpu_times {
    uint64_t busy_ns;      /* the vCPU thread's CPU time */
    uint64_t idle_ns;      /* waiting for an interrupt (WFI) or stopped (HSM) */
    uint64_t throttled_ns; /* held back by the cap */
};

struct cpuctl;

struct cpuctl *cpuctl_new(int nvcpus);
void cpuctl_free(struct cpuctl *c);

/* Apply a configuration (at start or while running). On error (e.g. a
 * weight above 100 without CAP_SYS_NICE, an affinity with no usable CPU)
 * writes a message for the user and returns -1; what could be applied is. */
int cpuctl_set(struct cpuctl *c, const struct cpuctl_config *cfg, char *err, size_t errlen);
void cpuctl_get(struct cpuctl *c, struct cpuctl_config *out);
/* "nice 5 on the VM's session group" / "nice 5 on each vCPU thread" */
const char *cpuctl_weight_target(struct cpuctl *c);

/* Called by each vCPU thread when it starts and just before it ends
 * (idle_ns: the idle time its hart counted). */
void cpuctl_thread_start(struct cpuctl *c, int vcpu);
void cpuctl_thread_end(struct cpuctl *c, int vcpu, uint64_t hart_idle_ns);

/* The interpreter's poll hook (machine.pace_hook): may sleep. */
void cpuctl_pace(struct hart *h, void *cpuctl);

/* Cumulative times of vCPU `vcpu` since kumo-vmm started (over reboots);
 * live_idle_ns: what the running hart counted so far (0 between boots). */
void cpuctl_times(struct cpuctl *c, int vcpu, uint64_t live_idle_ns, struct vcpu_times *out);

/* ---- pure helpers (unit-tested) ---- */

/* Parse "20", "22.5" (percent of a core, 1..100; 100 = no cap) into basis
 * points. false on a malformed or out-of-range value. */
bool cpuctl_parse_cap(const char *s, uint32_t *cap_bp);
/* weight (1..10000) -> nice (-20..19) */
int cpuctl_weight_to_nice(int weight);
/* "0-3,6" -> set; false with a message on error. */
bool cpuctl_parse_cpulist(const char *s, cpu_set_t *set, char *err, size_t errlen);
/* set -> "0-3,6" */
void cpuctl_format_cpulist(const cpu_set_t *set, char *buf, size_t len);

/* The token bucket of one vCPU. */
struct cpu_bucket {
    int64_t credit_ns;
    uint64_t last_wall_ns, last_cpu_ns;
    bool primed;
};
/* Account the wall and thread-CPU clocks read now; returns how long the
 * thread must sleep before running on (0: keep running). After a sleep,
 * call again with the new clocks. */
uint64_t cpu_bucket_step(struct cpu_bucket *b, uint64_t wall_ns, uint64_t cpu_ns, uint32_t cap_bp);

#endif
