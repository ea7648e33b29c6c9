/*
 * ops.h - the kinds of long-running operation the ARM endpoint starts, and
 * how each one's status is found while it runs (lro.h).
 *
 * Contract: probe() runs with the state lock held, looks at what the
 * operation watches (op->target, op->resource_id) and returns
 * "InProgress", "Succeeded" or "Failed" (then *error = {code, message}, a
 * new reference). result(), if set, answers the Location URL once the
 * operation succeeded (the resource, or nothing: 204 when NULL).
 */
#ifndef KUMO_CLOUD_ARM_OPS_H
#define KUMO_CLOUD_ARM_OPS_H

#include "cloud/arm/arm.h"

struct arm_op_kind {
    const char *kind;
    const char *(*probe)(struct arm_ctx *c, const struct arm_op *op, json_t **error);
    void (*result)(struct arm_ctx *c, const struct arm_op *op);
};

/* NULL when unknown (an operation of a newer kumod: reported Succeeded). */
const struct arm_op_kind *arm_op_kind_find(const char *kind);

#endif
