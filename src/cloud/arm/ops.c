/*
 * ops.c - the table of long-running operation kinds (contract in ops.h).
 * "done": an operation that was over when it was answered (a disk made at
 * once, which az still wants as 202 + Azure-AsyncOperation).
 */
#include "cloud/arm/ops.h"

#include <string.h>

static const char *done_probe(struct arm_ctx *c, const struct arm_op *op, json_t **error)
{
    (void)c;
    (void)op;
    (void)error;
    return "Succeeded";
}

static const struct arm_op_kind kinds[] = {
    {"done", done_probe, NULL},
};

const struct arm_op_kind *arm_op_kind_find(const char *kind)
{
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (!strcmp(kinds[i].kind, kind)) return &kinds[i];
    return NULL;
}
