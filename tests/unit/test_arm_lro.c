/*
 * test_arm_lro.c - unit tests of the ARM endpoint's long-running
 * operations (src/cloud/arm/lro.c): the status resource's JSON, the
 * Azure-AsyncOperation and Location URLs, and storing operations in a real
 * kumod database (schema migrations applied): insert, load, finish, prune.
 */
#include "check.h"

#include "cloud/arm/lro.h"
#include "cloud/db.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
    char dir[] = "/tmp/test_arm_lro.XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char path[256], err[256];
    snprintf(path, sizeof(path), "%s/kumod.db", dir);
    struct db *db = db_open(path, err, sizeof(err));
    CHECK(db != NULL, "db_open: %s", err);
    if (!db) return 1;

    struct arm_op op, back;
    const char *rid = "/subscriptions/S/resourceGroups/g/providers/Microsoft.Compute/"
                      "virtualMachines/vm1";
    CHECK(db_begin(db) == 0, "begin");
    CHECK(arm_op_insert(db, &op, "vm", "Microsoft.Compute", rid, 42, NULL, NULL, 1000) == 0,
          "insert: %s", db_errmsg(db));
    CHECK(db_commit(db) == 0, "commit");
    CHECK(strlen(op.id) == 36 && !strcmp(op.status, "InProgress") && op.ended_ms == 0,
          "a new operation runs");

    char a[1500], l[1500];
    arm_op_urls(&op, "https://127.0.0.1:8443", "S", "2020-06-01", a, l, sizeof(a));
    char want[1500];
    snprintf(want, sizeof(want),
             "https://127.0.0.1:8443/subscriptions/S/providers/Microsoft.Compute/locations/local/"
             "operations/%s?api-version=2020-06-01",
             op.id);
    CHECK(!strcmp(a, want), "async url %s", a);
    CHECK(strstr(l, "/operationResults/") && strstr(l, op.id), "location url %s", l);

    json_t *j = arm_op_json(&op, "S");
    CHECK(!strcmp(json_string_value(json_object_get(j, "status")), "InProgress") &&
              !strcmp(json_string_value(json_object_get(j, "name")), op.id) &&
              json_object_get(j, "startTime") && !json_object_get(j, "endTime") &&
              !json_object_get(j, "error"),
          "running json");
    json_decref(j);

    CHECK(arm_op_load(db, op.id, &back) == 0 && back.target == 42 && !strcmp(back.kind, "vm") &&
              !strcmp(back.resource_id, rid) && back.created_ms == 1000,
          "load");
    json_t *e = json_pack("{s:s, s:s}", "code", "AllocationFailed", "message", "no room");
    CHECK(arm_op_finish(db, &back, "Failed", e, 2500) == 0, "finish");
    json_decref(e);
    arm_op_clear(&back);
    CHECK(arm_op_load(db, op.id, &back) == 0 && !strcmp(back.status, "Failed") &&
              back.ended_ms == 2500 &&
              !strcmp(json_string_value(json_object_get(back.error, "code")), "AllocationFailed"),
          "finished");
    CHECK(arm_op_done(back.status) && !arm_op_done("InProgress"), "done");
    j = arm_op_json(&back, "S");
    CHECK(json_object_get(j, "endTime") &&
              !strcmp(json_string_value(json_object_get(json_object_get(j, "error"), "message")),
                      "no room"),
          "failed json");
    json_decref(j);
    arm_op_clear(&back);
    arm_op_clear(&op);

    /* an operation over when answered */
    struct arm_op done;
    db_begin(db);
    arm_op_insert(db, &done, "done", "Microsoft.Compute", rid, 0, "Succeeded", NULL, 5000);
    db_commit(db);
    CHECK(done.ended_ms == 5000, "done at once");
    arm_op_clear(&done);

    /* a day later the first is forgotten, the second (newer) kept */
    db_begin(db);
    arm_op_prune(db, 1000 + ARM_OP_KEEP_MS + 1);
    db_commit(db);
    CHECK(arm_op_load(db, op.id, &back) < 0, "pruned");
    CHECK(arm_op_load(db, done.id, &back) == 0, "kept");
    arm_op_clear(&back);
    CHECK(arm_op_load(db, "no-such-op", &back) < 0, "unknown");

    db_close(db);
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0) printf("could not remove %s\n", dir);
    printf("%d checks, %d failures\n", checks, failures);
    return failures != 0;
}
