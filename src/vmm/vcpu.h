/*
 * vcpu.h - running a machine: one host thread per hart (vCPU), parked while
 * its hart is stopped (SBI HSM), and a wait for the machine to stop.
 */
#ifndef KUMO_VMM_VCPU_H
#define KUMO_VMM_VCPU_H

struct machine;
struct cpuctl;

/* Run every hart on its own thread until the machine stops; returns the
 * stop reason (enum stop_reason). With c, each vCPU thread is accounted and
 * paced by it (src/vmm/cpuctl.h). */
int vcpu_run_machine(struct machine *m, struct cpuctl *c);

#endif
