/*
 * control.h - kumo-vmm's JSON control socket (the protocol:
 * docs/vmm-control.md): status and counters, stop, shutdown, disk and CPU
 * limits and the balloon at run time.
 */
#ifndef KUMO_VMM_CONTROL_H
#define KUMO_VMM_CONTROL_H

#include <stddef.h>

struct control;
struct cpuctl;
struct machine;

/* cpu: the VM's CPU controls and vCPU accounting (outlives the control). */
struct control *control_open(const char *path, struct cpuctl *cpu, char *err, size_t errlen);
/* The machine requests act on (NULL between boots and before teardown). */
void control_set_machine(struct control *c, struct machine *m);
void control_close(struct control *c);

#endif
