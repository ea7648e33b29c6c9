/*
 * guestprov.h - a VM's guest provisioning (docs/images.md, "Provisioning"):
 * what its image's provisioning needs before kumo-vmm starts, and the
 * VM's provisioning state as its guest reports it.
 *
 * An image provisions its guest one of three ways (images.provisioning):
 * 'cloud-init' - kumod writes the VM's NoCloud seed disk (cidata.h,
 * seed.h) into DATA/vms/ID/seed.iso before each start and kumo-vmm gets it
 * as the last, read-only disk (serial kumo-seed); 'kumo' - the default
 * guest's init reads the metadata service (netplane.h sends it the admin
 * account and keys); 'none'.
 *
 * The guest reports its provisioning to the metadata service (cloud-init's
 * webhook events, which the default guest's init imitates), which keeps the
 * latest event of each stage per NIC; a watcher thread reads them for the
 * VMs whose provisioning is tracked (vms.os_prov Pending: a new VM of an
 * image that provisions, on kumo-switch) and moves the VM on:
 *   init-network finished SUCCESS or WARN   os_prov and provisioningState
 *                                           Succeeded (the admin can log in)
 *   init-network finished FAIL              Failed, error
 *                                           OSProvisioningClientError
 *   no such report within --provisioning-timeout of the start
 *                                           Failed, OSProvisioningTimedOut
 *   the VM stopped first                    Failed, OSProvisioningInterrupted
 *                                           (a later start waits again)
 * and records the later stages (modules-final: the user data) in
 * os_prov_events without changing the state, as on Azure, where a failing
 * custom data script does not fail the deployment.
 *
 * Locking: as each function says; the watcher takes the state lock only
 * to read and record, never while it asks the switch.
 */
#ifndef KUMO_CLOUD_GUESTPROV_H
#define KUMO_CLOUD_GUESTPROV_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kumod;
struct guestprov;

#define GUESTPROV_SEED_FILE    "seed.iso"
#define GUESTPROV_REPORT_URL   "http://169.254.169.254/kumo/v1/provisioning"
#define GUESTPROV_PASSWORD_MAX 128 /* bytes of a crypt(3) hash */

/* A SHA-512 crypt(3) hash of password with a random salt, for the seed
 * (cloud-init's hashed_passwd): 0, or -1 with err. */
int guestprov_hash_password(const char *password, char *out, size_t len, char *err, size_t errlen);

/* Does vm's image use a seed disk? (lock held) */
bool guestprov_has_seed(struct kumod *k, int64_t vm);

/* Before vm's kumo-vmm starts (no lock): write its seed disk when its image
 * uses one; on the VM's first start (its create), make the switch forget
 * old reports of its NICs (a NIC given to a new VM may have some). 0, or
 * -1 with err (the start fails). */
int guestprov_prepare(struct kumod *k, int64_t vm, bool first_start, char *err, size_t errlen);

/* After vm's kumo-vmm started (lock held, inside the caller's
 * transaction or not): the provisioning state its operation ends in -
 * "Creating" while the guest's provisioning is pending (the wait for it
 * begins now), else "Succeeded". */
const char *guestprov_started(struct kumod *k, int64_t vm);

/* The verdict on a VM's reports (an array of events as the switch keeps
 * them): 1 provisioning succeeded, -1 failed (*why: the report's
 * description), 0 not yet reported. Pure. */
int guestprov_judge(const json_t *events, const char **why);

/* The watcher thread (no lock); NULL if it cannot start. */
struct guestprov *guestprov_start(struct kumod *k);
void guestprov_stop(struct guestprov *g);

#endif
