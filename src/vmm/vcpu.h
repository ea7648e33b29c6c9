/*
 * vcpu.h - running a machine: one host thread per hart (vCPU), parked while
 * its hart is stopped (SBI HSM), and a wait for the machine to stop.
 */
#ifndef KUMO_VMM_VCPU_H
#define KUMO_VMM_VCPU_H

struct machine;

/* Run every hart on its own thread until the machine stops; returns the
 * stop reason (enum stop_reason). */
int vcpu_run_machine(struct machine *m);

#endif
