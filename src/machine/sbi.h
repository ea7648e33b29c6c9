/*
 * sbi.h - the built-in Supervisor Binary Interface for direct kernel boot.
 */
#ifndef KUMO_MACHINE_SBI_H
#define KUMO_MACHINE_SBI_H

#include <stdint.h>

struct hart;

/* Handle an ECALL from S-mode; returns ECALL_DONE or ECALL_PARK (machine.h). */
int sbi_ecall(struct hart *h);

/* Put a hart in the state firmware leaves it in before entering S-mode:
 * PMP open, traps and interrupts delegated, counters and Sstc enabled. */
void sbi_prepare_hart(struct hart *h);

/* Steal-time accounting (SBI STA): publish the hart's steal time in the
 * shared memory its supervisor registered (h->sta_shmem; nothing when none),
 * with the extension's sequence protocol. Called by the hart's own thread. */
void sbi_sta_publish(struct hart *h, uint64_t steal_ns);

#endif
