/*
 * vmops.h - carrying out a VM's pending operation (vms.op: create, start,
 * stop, deallocate, restart, delete, delete-keep-disks) on a job thread,
 * moving it through its power and provisioning states (state.h), and the
 * recovery of all VMs when kumod starts.
 *
 * Every step is idempotent and the operation stays recorded until its last
 * step commits, so a kumod killed at any point finishes the operation when
 * it starts again: a kumo-vmm that is already running (adopted) is not
 * started twice, a VM being deleted is deleted.
 */
#ifndef KUMO_CLOUD_VMOPS_H
#define KUMO_CLOUD_VMOPS_H

#include <stdint.h>

struct kumod;

/* Run vm_id's pending operation to its end (no lock held on entry). */
void vmops_run(struct kumod *k, int64_t vm_id);

/* At start, before the API serves (no lock held): adopt the kumo-vmm
 * processes that still run, record the ones that died while kumod was
 * down, and submit every pending operation. */
void vmops_recover(struct kumod *k);

#endif
