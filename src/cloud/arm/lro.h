/*
 * lro.h - ARM's long-running operations: the operation status resources
 * az polls (Azure-AsyncOperation), their result URLs (Location), and how
 * kumod stores them.
 *
 * An operation is answered 201/202 with
 *   Azure-AsyncOperation: BASE/subscriptions/S/providers/NS/locations/local/
 *                         operations/ID?api-version=V
 *   Location:             .../operationResults/ID?api-version=V
 *   Retry-After:          1
 * GET on the first gives {"id","name","status","startTime"[,"endTime"]
 * [,"error"]} with status InProgress, Succeeded, Failed or Canceled; GET on
 * the second answers 202 (with Location and Retry-After) while it runs and
 * the operation's result when it is done.
 *
 * While an operation runs its status is not stored but derived from what
 * it watches (a VM's provisioning state, a deployment's resources, a row
 * that must disappear): the caller's probe decides, and arm_op_finish()
 * freezes the outcome. Operations are kept for a day.
 *
 * Contract: the JSON and URL functions are pure; the others use the
 * database under kumod's state lock (arm_op_insert inside the caller's
 * transaction, the others in their own).
 */
#ifndef KUMO_CLOUD_ARM_LRO_H
#define KUMO_CLOUD_ARM_LRO_H

#include "cloud/arm/id.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;

#define ARM_OP_KEEP_MS (24LL * 3600 * 1000)

struct arm_op {
    char id[40];
    char kind[32]; /* what it watches: "vm", "vm-delete", "deployment", ... */
    char ns[64];   /* provider namespace of the status URL */
    char resource_id[ARM_ID_MAX];
    int64_t target;  /* the watched row's id (kind-specific) */
    char status[16]; /* InProgress, Succeeded, Failed, Canceled */
    json_t *error;   /* {code, message, ...} when Failed, else NULL (owned) */
    int64_t created_ms, ended_ms;
};

/* ---- pure ---- */

/* Is status one of the final ones? */
bool arm_op_done(const char *status);
/* The status resource's JSON (new reference). sub is the subscription. */
json_t *arm_op_json(const struct arm_op *op, const char *sub);
/* The Azure-AsyncOperation and Location URLs of op (base: "https://h:p"). */
void arm_op_urls(const struct arm_op *op, const char *base, const char *sub,
                 const char *api_version, char *async_url, char *location_url, size_t len);

/* ---- stored (under the state lock) ---- */

/* Record an operation in the caller's transaction; status InProgress
 * unless given (an operation that is already over). Fills op (a new id).
 * 0 or -1. */
int arm_op_insert(struct db *db, struct arm_op *op, const char *kind, const char *ns,
                  const char *resource_id, int64_t target, const char *status, const json_t *error,
                  int64_t now_ms);
/* Load by id; 0, or -1 when there is none. Free with arm_op_clear. */
int arm_op_load(struct db *db, const char *id, struct arm_op *op);
/* Freeze the outcome (own transaction). */
int arm_op_finish(struct db *db, struct arm_op *op, const char *status, const json_t *error,
                  int64_t now_ms);
/* Forget operations older than ARM_OP_KEEP_MS (caller's transaction). */
void arm_op_prune(struct db *db, int64_t now_ms);
void arm_op_clear(struct arm_op *op);

#endif
