/*
 * vcpu.h - running a machine: one host thread per hart (vCPU), parked while
 * its hart is stopped (SBI HSM), and a wait for the machine to stop.
 */
#ifndef KUMO_VMM_VCPU_H
#define KUMO_VMM_VCPU_H

#include <stdbool.h>

struct machine;
struct cpuctl;

/* Run every hart on its own thread until the machine stops; returns the
 * stop reason (enum stop_reason). With c, each vCPU thread is accounted and
 * paced by it (src/vmm/cpuctl.h). */
int vcpu_run_machine(struct machine *m, struct cpuctl *c);

/* Pause every vCPU at an instruction boundary (any thread but a vCPU's):
 * returns once each has left the guest's code and waits, with the guest's
 * clock standing still; false when the machine stopped meanwhile. While
 * paused, the harts' state may be read and written (machine/vmstate.h).
 * Devices run on: quiesce them too (vmstate_quiesce). */
bool vcpu_pause(struct machine *m);
/* End a pause: the guest's clock goes on from where it stood. */
void vcpu_resume(struct machine *m);

#endif
