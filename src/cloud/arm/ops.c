/*
 * ops.c - the table of long-running operation kinds (contract in ops.h).
 * "done": an operation that was over when it was answered (a disk made at
 * once, which az still wants as 202 + Azure-AsyncOperation).
 */
#include "cloud/arm/ops.h"

#include "cloud/db.h"
#include "cloud/timefmt.h"

#include <string.h>

static const char *done_probe(struct arm_ctx *c, const struct arm_op *op, json_t **error)
{
    (void)c;
    (void)op;
    (void)error;
    return "Succeeded";
}

static const struct arm_op_kind done = {"done", done_probe, NULL, NULL};

static const struct arm_op_kind *const kinds[] = {
    &done,        &arm_op_group_delete, &arm_op_vm,         &arm_op_vm_delete, &arm_op_snapshot,
    &arm_op_vmss, &arm_op_vmss_delete,  &arm_op_deployment, &arm_op_vm_runcmd,
};

const struct arm_op_kind *arm_op_kind_find(const char *kind)
{
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (!strcmp(kinds[i]->kind, kind)) return kinds[i];
    return NULL;
}

void arm_ops_tick(struct arm_ctx *c)
{
    struct db *db = c->k->db;
    char ids[64][40];
    int n = 0;
    sqlite3_stmt *st = db_stmt(db,
                               "SELECT id, kind FROM arm_operations WHERE status = 'InProgress'"
                               " ORDER BY created_ms LIMIT 64",
                               "");
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        const struct arm_op_kind *kind = arm_op_kind_find(db_col_text(st, 1));
        if (kind && kind->tick) snprintf(ids[n++], sizeof(ids[0]), "%s", db_col_text(st, 0));
    }
    sqlite3_finalize(st);
    for (int i = 0; i < n; i++) {
        struct arm_op op;
        if (arm_op_load(db, ids[i], &op) < 0) continue;
        json_t *error = NULL;
        const char *status = arm_op_kind_find(op.kind)->tick(c, &op, &error);
        if (arm_op_done(status)) arm_op_finish(db, &op, status, error, time_now_ms());
        json_decref(error);
        arm_op_clear(&op);
    }
}
