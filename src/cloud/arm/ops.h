/*
 * ops.h - the kinds of long-running operation the ARM endpoint starts, and
 * how each one's status is found while it runs (lro.h).
 *
 * Contract: probe() runs with the state lock held, looks at what the
 * operation watches (op->target, op->resource_id) and returns
 * "InProgress", "Succeeded" or "Failed" (then *error = {code, message}, a
 * new reference). result(), if set, answers the Location URL once the
 * operation succeeded (the resource, or nothing: 204 when NULL). tick(),
 * if set, is work that goes on whether or not az polls (a group's delete,
 * a deployment's end and a failed one's roll back): the endpoint's ticker
 * calls it about every second for each operation of the kind still in
 * progress, lock held, with a context that has no request (no query, no
 * headers), and it returns like probe().
 */
#ifndef KUMO_CLOUD_ARM_OPS_H
#define KUMO_CLOUD_ARM_OPS_H

#include "cloud/arm/arm.h"

struct arm_op_kind {
    const char *kind;
    const char *(*probe)(struct arm_ctx *c, const struct arm_op *op, json_t **error);
    void (*result)(struct arm_ctx *c, const struct arm_op *op);
    const char *(*tick)(struct arm_ctx *c, const struct arm_op *op, json_t **error);
};

/* NULL when unknown (an operation of a newer kumod: reported Succeeded). */
const struct arm_op_kind *arm_op_kind_find(const char *kind);

/* One round of the ticks of every operation in progress (lock held). c
 * may be a context without a request (the endpoint's ticker's). */
void arm_ops_tick(struct arm_ctx *c);

/* The kinds of the handler files (ops.c lists them). */
extern const struct arm_op_kind arm_op_group_delete, arm_op_vm, arm_op_vm_delete, arm_op_snapshot,
    arm_op_vmss, arm_op_vmss_delete, arm_op_deployment, arm_op_vm_runcmd;

#endif
