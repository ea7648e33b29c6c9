/*
 * reap.h - deleting what a failed deployment made (its roll back), in the
 * order their dependencies allow, through the provisioning layer's
 * deletes. (A resource group's delete is the provisioning layer's own:
 * prov_group_delete and its steps.)
 *
 * A VM's delete takes a while (its job stops kumo-vmm), a scale set's
 * takes its controller's steps, and the network a VM used can only go
 * after the VM: so reaping is done in steps, each one starting what can
 * start now. The ARM endpoint calls a step when az polls the operation and
 * about every second besides (arm.c's ticker), so a `--no-wait` delete
 * finishes too.
 *
 * Order: autoscale settings, scale sets, VMs (their own disks, NICs and
 * public IPs go with them); once none is left: NICs, public IPs, virtual
 * networks, NSGs, disks (a VM's own, listed by the deployment, whatever
 * their deleteOption), snapshots, the load balancers kumo keeps for ARM.
 *
 * Contract: lock held. A step returns 1 when everything is gone, 0 while
 * deletes are under way, -1 with e when something refuses in a way that
 * waiting will not change (e.g. a NIC of another group uses a subnet).
 */
#ifndef KUMO_CLOUD_ARM_REAP_H
#define KUMO_CLOUD_ARM_REAP_H

#include "cloud/error.h"

#include <jansson.h>
#include <stdint.h>

struct kumod;

/* Only the rows listed: [{"table":"vms","row":12}, ...] (the tables of
 * res.h's kinds, and "arm_resources"), all in group g. */
int arm_reap_rows(struct kumod *k, int64_t g, const json_t *rows, struct kerr *e);

#endif
