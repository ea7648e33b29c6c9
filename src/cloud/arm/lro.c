/*
 * lro.c - long-running operation status resources (contract in lro.h).
 */
#include "cloud/arm/lro.h"

#include "cloud/arm/id.h"
#include "cloud/db.h"
#include "cloud/timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool arm_op_done(const char *status)
{
    return !strcmp(status, "Succeeded") || !strcmp(status, "Failed") || !strcmp(status, "Canceled");
}

json_t *arm_op_json(const struct arm_op *op, const char *sub)
{
    char id[ARM_ID_MAX + 200], t[TIME_STRLEN];
    snprintf(id, sizeof(id), "/subscriptions/%s/providers/%s/locations/local/operations/%s", sub,
             op->ns, op->id);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "id", id, "name", op->id, "status", op->status,
                          "startTime", time_format(op->created_ms, t));
    if (!o) return NULL;
    if (op->ended_ms > 0)
        json_object_set_new(o, "endTime", json_string(time_format(op->ended_ms, t)));
    if (op->error) json_object_set(o, "error", op->error);
    return o;
}

void arm_op_urls(const struct arm_op *op, const char *base, const char *sub,
                 const char *api_version, char *async_url, char *location_url, size_t len)
{
    snprintf(async_url, len,
             "%s/subscriptions/%s/providers/%s/locations/local/operations/%s?api-version=%s", base,
             sub, op->ns, op->id, api_version);
    snprintf(location_url, len,
             "%s/subscriptions/%s/providers/%s/locations/local/operationResults/%s?api-version=%s",
             base, sub, op->ns, op->id, api_version);
}

int arm_op_insert(struct db *db, struct arm_op *op, const char *kind, const char *ns,
                  const char *resource_id, int64_t target, const char *status, const json_t *error,
                  int64_t now_ms)
{
    memset(op, 0, sizeof(*op));
    char g[37];
    arm_guid(g);
    snprintf(op->id, sizeof(op->id), "%s", g);
    snprintf(op->kind, sizeof(op->kind), "%s", kind);
    snprintf(op->ns, sizeof(op->ns), "%s", ns);
    snprintf(op->resource_id, sizeof(op->resource_id), "%s", resource_id);
    op->target = target;
    snprintf(op->status, sizeof(op->status), "%s", status ? status : "InProgress");
    op->error = error ? json_deep_copy(error) : NULL;
    op->created_ms = now_ms;
    op->ended_ms = arm_op_done(op->status) ? now_ms : 0;
    char *err = op->error ? json_dumps(op->error, JSON_COMPACT) : NULL;
    int rc = db_exec(db,
                     "INSERT INTO arm_operations (id, kind, namespace, resource_id, target_id, "
                     "status, error, created_ms, ended_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     "ttttittii", op->id, op->kind, op->ns, op->resource_id, target, op->status,
                     err, now_ms, op->ended_ms ? op->ended_ms : (int64_t)0);
    free(err);
    return rc;
}

int arm_op_load(struct db *db, const char *id, struct arm_op *op)
{
    memset(op, 0, sizeof(*op));
    sqlite3_stmt *st = db_stmt(db,
                               "SELECT id, kind, namespace, resource_id, target_id, status, "
                               "error, created_ms, ended_ms FROM arm_operations WHERE id = ?",
                               "t", id);
    if (!st) return -1;
    int rc = -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        snprintf(op->id, sizeof(op->id), "%s", db_col_text(st, 0));
        snprintf(op->kind, sizeof(op->kind), "%s", db_col_text(st, 1));
        snprintf(op->ns, sizeof(op->ns), "%s", db_col_text(st, 2));
        snprintf(op->resource_id, sizeof(op->resource_id), "%s", db_col_text(st, 3));
        op->target = sqlite3_column_int64(st, 4);
        snprintf(op->status, sizeof(op->status), "%s", db_col_text(st, 5));
        if (!db_col_null(st, 6)) op->error = json_loads(db_col_text(st, 6), 0, NULL);
        op->created_ms = sqlite3_column_int64(st, 7);
        op->ended_ms = sqlite3_column_int64(st, 8);
        rc = 0;
    }
    sqlite3_finalize(st);
    return rc;
}

int arm_op_finish(struct db *db, struct arm_op *op, const char *status, const json_t *error,
                  int64_t now_ms)
{
    snprintf(op->status, sizeof(op->status), "%s", status);
    json_decref(op->error);
    op->error = error ? json_deep_copy(error) : NULL;
    op->ended_ms = now_ms;
    char *err = op->error ? json_dumps(op->error, JSON_COMPACT) : NULL;
    int rc = -1;
    if (db_begin(db) == 0) {
        rc = db_exec(db,
                     "UPDATE arm_operations SET status = ?, error = ?, ended_ms = ? WHERE id = ?",
                     "ttit", status, err, now_ms, op->id);
        if (rc == 0) rc = db_commit(db);
        if (rc < 0) db_rollback(db);
    }
    free(err);
    return rc;
}

void arm_op_prune(struct db *db, int64_t now_ms)
{
    db_exec(db, "DELETE FROM arm_operations WHERE created_ms < ?", "i", now_ms - ARM_OP_KEEP_MS);
}

void arm_op_clear(struct arm_op *op)
{
    json_decref(op->error);
    op->error = NULL;
}
