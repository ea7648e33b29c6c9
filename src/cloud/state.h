/*
 * state.h - a VM's power and provisioning states (facts.md section 7) and
 * the one function that changes them.
 *
 * Power states: Creating -> Starting -> Running -> Stopping -> Stopped;
 * Deallocating -> Deallocated; start goes Stopped/Deallocated -> Starting.
 * Billed (compute meter open): Starting, Running, Stopping, Stopped.
 * Allocated (host capacity held, vms.host_id set): every state but
 * Deallocated (a Deallocating VM still holds it until it is released).
 * Provisioning states: Creating, Updating, Succeeded, Failed, Deleting.
 *
 * vm_set_state() updates the row, appends a vm_events row (the history the
 * cost report must agree with) and syncs the VM's usage record, all in the
 * caller's transaction and at the same millisecond.
 */
#ifndef KUMO_CLOUD_STATE_H
#define KUMO_CLOUD_STATE_H

#include <stdbool.h>
#include <stdint.h>

struct db;

#define PS_CREATING     "Creating"
#define PS_STARTING     "Starting"
#define PS_RUNNING      "Running"
#define PS_STOPPING     "Stopping"
#define PS_STOPPED      "Stopped"
#define PS_DEALLOCATING "Deallocating"
#define PS_DEALLOCATED  "Deallocated"
/* Cluster mode: the VM's host is down (docs/cluster.md); capacity held,
 * not billed, no process known. */
#define PS_UNAVAILABLE "Unavailable"

#define PV_CREATING  "Creating"
#define PV_UPDATING  "Updating"
#define PV_SUCCEEDED "Succeeded"
#define PV_FAILED    "Failed"
#define PV_DELETING  "Deleting"

bool power_billed(const char *power);
bool power_allocated(const char *power);
/* A kumo-vmm process may exist in this state. */
bool power_has_process(const char *power);

/* Change a VM's states (NULL = unchanged) and record why. 0 or -1. */
int vm_set_state(struct db *db, int64_t vm_id, const char *power, const char *prov,
                 const char *message, int64_t at_ms);

/* Record an event without a state change (e.g. "resized to B2s"), syncing
 * the meter (the size may have changed). */
int vm_note(struct db *db, int64_t vm_id, const char *message, int64_t at_ms);

#endif
