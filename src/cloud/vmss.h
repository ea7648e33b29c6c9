/*
 * vmss.h - the scale set controller: a kumod thread that makes each scale
 * set's instances match its capacity and model, and runs the autoscale
 * engine (autoscale.h) on the stored CPU samples.
 *
 * Every half second, for each set (under the state lock, one transaction per
 * change, so a kill -9 leaves the database consistent and the next kumod
 * carries on):
 *  - fewer live instances than capacity: create them (NAME_<next index>)
 *    from the current model;
 *  - more: delete the surplus, older model first, then the ones not
 *    Running, then the highest index;
 *  - a rolling update (instances of an older model version): when every
 *    instance is settled and Running (and, behind a load balancer, every
 *    new-model instance passes its health probe), create one extra
 *    instance from the new model (a surge of one), and when it is settled
 *    too, delete one old one; the others keep serving through the load
 *    balancer meanwhile. An instance that never gets healthy halts the
 *    update (as Azure's rolling upgrades do);
 *  - a set being deleted: delete its instances, then its load balancer's
 *    public IP, its autoscale setting and the set itself.
 * Then, for each resource group being deleted, one step of its delete
 * (provision.h's prov_group_delete_step).
 *
 * Every cfg.autoscale_interval seconds, each enabled autoscale setting is
 * evaluated and its decision (with the reason, including "no action" ones
 * where a rule fired) is appended to autoscale_events; a scale action sets
 * the set's capacity.
 */
#ifndef KUMO_CLOUD_VMSS_H
#define KUMO_CLOUD_VMSS_H

#include <stdint.h>

struct kumod;
struct vmss_ctl;

struct vmss_ctl *vmss_start(struct kumod *k);
void vmss_stop(struct vmss_ctl *v);

/* One step of the controller for scale set set_id (lock held): what the
 * thread does every half second (above), for the thread and for tests. */
void vmss_reconcile(struct kumod *k, int64_t set_id);

#endif
