/*
 * htif.h - the Host-Target Interface used by bare-metal test suites: the
 * guest writes commands to a `tohost` word in RAM (found from the ELF symbol
 * table) and reads replies from `fromhost`. Supported: exit (pass/fail
 * code), console putchar (device 1, command 1) and the proxied write/exit
 * system calls (device 0, pointer to a 64-bit argument block).
 */
#ifndef KUMO_DEVICES_HTIF_H
#define KUMO_DEVICES_HTIF_H

#include <stdint.h>

struct machine;

/* Watch `tohost` (and remember `fromhost`, 0 if absent) at these physical addresses. */
int htif_attach(struct machine *m, uint64_t tohost, uint64_t fromhost);

/* Called by the bus after a store to the tohost word. */
void htif_tohost_written(struct machine *m);

#endif
