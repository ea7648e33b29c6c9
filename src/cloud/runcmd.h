/*
 * runcmd.h - run commands carried out: a script run in a VM's guest by its
 * agent, and its outcome recorded (the rows of run_commands that the
 * provisioning layer's prov_vm_run_command() makes; docs/cloud.md "Run
 * commands").
 *
 * The transport is the guest agent on kumo-vmm's virtio console (the
 * default guest's init, guest/init): kumod sends lines through kumo-vmm's
 * control socket ("agent_send") and takes the guest's ("agent_recv"); the
 * lines are agent.h's. Any image whose guest answers them can be driven; an
 * image without such an agent (one with SSH and cloud-init) would get a
 * second transport here, chosen per image, with the same rows and API.
 *
 * A run: Pending (recorded) -> Running (the job has it) -> Succeeded (the
 * script ran, whatever its exit status), TimedOut (killed after its
 * timeout; what it wrote is kept) or Failed (it could not run: the agent
 * did not answer, the VM stopped). One run per VM at a time.
 */
#ifndef KUMO_CLOUD_RUNCMD_H
#define KUMO_CLOUD_RUNCMD_H

#include <stdint.h>

struct kumod;

/* How long a run waits for the guest's agent to answer a ping (a VM that
 * is still booting), before its script's own timeout starts. */
#define RUNCMD_AGENT_WAIT_S 180
/* The longest script (bytes): the agent's line to the guest must fit in
 * kumo-vmm's control socket's (64 KiB, with the script escaped). */
#define RUNCMD_SCRIPT_MAX 16384
/* The end of each output a run keeps (bytes), as the agent sends it. */
#define RUNCMD_TAIL 8192

/* The job of run id (no lock held): carry it out and record the outcome. */
void runcmd_run(struct kumod *k, int64_t id);

/* At start (no lock held): runs that a stop of kumod cut short are Failed. */
void runcmd_recover(struct kumod *k);

#endif
