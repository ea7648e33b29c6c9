/*
 * rg.c - ARM's resource groups (Microsoft.Resources/resourceGroups) on
 * kumod's resource groups, and the generic listings of what they hold:
 *
 *   GET|HEAD|PUT|PATCH|DELETE /subscriptions/S/resourcegroups/G
 *   GET /subscriptions/S/resourcegroups          (az group list)
 *   GET /subscriptions/S/resourcegroups/G/resources, /subscriptions/S/resources
 *
 * A DELETE removes everything in the group, as ARM does, by the
 * provisioning layer's group delete (prov_group_delete: at once when
 * empty, else in steps that the scale set controller's ticks and az's
 * polls carry out): it answers 202 and the group shows provisioningState
 * "Deleting" until it is gone (az polls the Location URL).
 */
#include "cloud/arm/ops.h"
#include "cloud/provision.h"
#include "cloud/arm/res.h"
#include "cloud/db.h"
#include "cloud/requests.h"
#include "cloud/timefmt.h"

#include <stdio.h>
#include <string.h>

#define RG_TYPE "Microsoft.Resources/resourceGroups"

static json_t *group_json(struct arm_ctx *c, int64_t g)
{
    sqlite3_stmt *st =
        db_stmt(c->k->db, "SELECT name, location, tags FROM groups WHERE id = ?", "i", g);
    json_t *out = NULL;
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        char id[300];
        snprintf(id, sizeof(id), "/subscriptions/%s/resourceGroups/%s", c->id->subscription,
                 db_col_text(st, 0));
        out = json_pack("{s:s, s:s, s:s, s:s, s:o, s:{s:s}, s:n}", "id", id, "name",
                        db_col_text(st, 0), "type", RG_TYPE, "location", db_col_text(st, 1), "tags",
                        arm_tags(db_col_text(st, 2)), "properties", "provisioningState",
                        prov_group_deleting(c->k, g) ? "Deleting" : "Succeeded", "managedBy");
    }
    sqlite3_finalize(st);
    return out;
}

static void list(struct arm_ctx *c)
{
    if (!arm_check_sub(c, c->p[0])) return;
    arm_reply_rows(c, group_json, "SELECT id FROM groups ORDER BY name", "");
}

static void show(struct arm_ctx *c)
{
    if (!arm_check_sub(c, c->p[0])) return;
    int64_t g = arm_group(c, c->p[1]);
    if (g >= 0) arm_reply(c, 200, group_json(c, g));
}

/* HEAD (az group exists): 204 when it exists, 404 when not. */
static void exists(struct arm_ctx *c)
{
    if (!arm_check_sub(c, c->p[0])) return;
    if (arm_group(c, c->p[1]) >= 0) arm_reply(c, 204, NULL);
}

/* The tags of a body: an object of strings (request_check's rules). */
static bool body_tags(struct arm_ctx *c, const json_t **tags)
{
    *tags = arm_get(c->body, "tags");
    json_t *kbody = json_pack("{s:s}", "name", "x");
    if (*tags) json_object_set(kbody, "tags", (json_t *)*tags);
    struct kerr e = {0};
    int rc = request_check(REQ_GROUP_CREATE, kbody, &e);
    json_decref(kbody);
    if (rc < 0) arm_fail(c, &e);
    return rc == 0;
}

static void put(struct arm_ctx *c)
{
    if (!arm_check_sub(c, c->p[0])) return;
    if (!c->body) {
        arm_err_set(&c->err, 400, "InvalidRequestContent", NULL,
                    "The request content is missing: a resource group needs a location.");
        return;
    }
    const char *loc = arm_gets(c->body, "location");
    if (!loc) {
        arm_err_set(&c->err, 400, "LocationRequired", "location",
                    "The location property is required for this definition: use 'local'.");
        return;
    }
    const json_t *tags;
    if (arm_check_location(c, c->body) < 0 || !body_tags(c, &tags)) return;
    struct kerr e = {0};
    int64_t g = db_int(c->k->db, NULL, -1, "SELECT id FROM groups WHERE name = ?", "t", c->p[1]);
    if (g >= 0) {
        if (prov_group_deleting(c->k, g)) {
            arm_err_set(&c->err, 409, "ResourceGroupBeingDeleted", NULL,
                        "The resource group '%.100s' is in deprovisioning state and cannot "
                        "perform this operation.",
                        c->p[1]);
            return;
        }
        if (tags && prov_group_set_tags(c->k, g, tags, &e) < 0) {
            arm_fail(c, &e);
            return;
        }
        arm_reply(c, 200, group_json(c, g));
        return;
    }
    json_t *kbody = json_pack("{s:s}", "name", c->p[1]);
    int rc = request_check(REQ_GROUP_CREATE, kbody, &e);
    json_decref(kbody);
    if (rc < 0 || (g = prov_group_create(c->k, c->p[1], tags, &e)) < 0) {
        arm_fail(c, &e);
        return;
    }
    arm_reply(c, 201, group_json(c, g));
}

static void patch(struct arm_ctx *c)
{
    if (!arm_check_sub(c, c->p[0])) return;
    int64_t g = arm_group(c, c->p[1]);
    const json_t *tags;
    if (g < 0 || !body_tags(c, &tags)) return;
    struct kerr e = {0};
    if (tags && prov_group_set_tags(c->k, g, tags, &e) < 0) {
        arm_fail(c, &e);
        return;
    }
    arm_reply(c, 200, group_json(c, g));
}

static void delete (struct arm_ctx *c)
{
    if (!arm_check_sub(c, c->p[0])) return;
    int64_t g = arm_group(c, c->p[1]);
    if (g < 0) return;
    /* one delete at a time: a second DELETE follows the first's operation */
    char op_id[40] = "";
    db_text(c->k->db, op_id, sizeof(op_id),
            "SELECT id FROM arm_operations WHERE kind = 'group-delete' AND target_id = ? AND"
            " status = 'InProgress'",
            "i", g);
    struct arm_op op;
    if (op_id[0] && arm_op_load(c->k->db, op_id, &op) == 0) {
        arm_accepted(c, 202, &op, NULL);
        arm_op_clear(&op);
        return;
    }
    struct kerr e = {0};
    bool at_once;
    if (prov_group_delete(c->k, g, c->p[1], &at_once, &e) < 0) {
        arm_fail(c, &e);
        return;
    }
    /* an empty group is gone at once: the operation says so at its first poll */
    arm_reply_op(c, 202, "group-delete", "Microsoft.Resources", g, NULL);
    arm_ops_tick(c); /* start at once: what can go now goes now */
}

/* ---- the operation ---- */

/* The group's delete goes on in steps (the scale set controller takes one
 * each tick; a poll takes one more); it is done when the group is gone. */
static const char *tick(struct arm_ctx *c, const struct arm_op *op, json_t **error)
{
    (void)error;
    struct kumod *k = c->k;
    if (db_int(k->db, NULL, 0, "SELECT count(*) FROM groups WHERE id = ?", "i", op->target) == 0)
        return "Succeeded";
    prov_group_delete_step(k, op->target);
    if (db_int(k->db, NULL, 0, "SELECT count(*) FROM groups WHERE id = ?", "i", op->target) == 0)
        return "Succeeded";
    return "InProgress";
}

static void result(struct arm_ctx *c, const struct arm_op *op)
{
    (void)op;
    arm_reply(c, 200, NULL);
}

const struct arm_op_kind arm_op_group_delete = {"group-delete", tick, result, tick};

/* ---- what groups hold ---- */

/* {"value":[...]} of every resource of the kinds in group g (all groups
 * when g < 0). */
static void list_resources(struct arm_ctx *c, int64_t g)
{
    static const char *const types[] = {
        "Microsoft.Network/virtualNetworks",
        "Microsoft.Network/networkSecurityGroups",
        "Microsoft.Network/publicIPAddresses",
        "Microsoft.Network/networkInterfaces",
        "Microsoft.Network/loadBalancers",
        "Microsoft.Compute/virtualMachines",
        "Microsoft.Compute/disks",
        "Microsoft.Compute/virtualMachineScaleSets",
        "Microsoft.Insights/autoscalesettings",
    };
    json_t *arr = json_array();
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        const struct arm_kind *k = arm_kind_find(types[i]);
        char sql[300];
        if (!strcmp(k->table, "arm_resources"))
            snprintf(sql, sizeof(sql),
                     "SELECT id FROM arm_resources WHERE type = '%s' AND (?1 < 0 OR group_id = ?1)"
                     " ORDER BY name",
                     k->type);
        else if (!strcmp(k->table, "vms"))
            snprintf(sql, sizeof(sql),
                     "SELECT id FROM vms WHERE vmss_id IS NULL AND (?1 < 0 OR group_id = ?1)"
                     " ORDER BY name");
        else
            snprintf(sql, sizeof(sql),
                     "SELECT id FROM %s WHERE (?1 < 0 OR group_id = ?1) ORDER BY name", k->table);
        sqlite3_stmt *st = db_stmt(c->k->db, sql, "i", g);
        int64_t rows[1024];
        size_t n = 0;
        while (st && n < 1024 && sqlite3_step(st) == SQLITE_ROW)
            rows[n++] = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        for (size_t j = 0; j < n; j++) {
            json_t *r = k->render(c, rows[j]);
            if (!r) continue;
            /* the generic listing shows the envelope, as ARM's does */
            json_t *e = json_pack(
                "{s:O, s:O, s:O, s:O, s:O}", "id", json_object_get(r, "id"), "name",
                json_object_get(r, "name"), "type", json_object_get(r, "type"), "location",
                json_object_get(r, "location"), "tags", json_object_get(r, "tags"));
            if (json_object_get(r, "sku")) json_object_set(e, "sku", json_object_get(r, "sku"));
            json_array_append_new(arr, e);
            json_decref(r);
        }
    }
    arm_reply(c, 200, json_pack("{s:o}", "value", arr));
}

static void group_resources(struct arm_ctx *c)
{
    if (!arm_check_sub(c, c->p[0])) return;
    int64_t g = arm_group(c, c->p[1]);
    if (g >= 0) list_resources(c, g);
}

static void sub_resources(struct arm_ctx *c)
{
    if (!arm_check_sub(c, c->p[0])) return;
    list_resources(c, -1);
}

#define RG "/subscriptions/{}/resourcegroups"
const struct arm_route arm_routes_rg[] = {
    {"GET", RG, (void *)list, 0, RG_TYPE},
    {"GET", RG "/{}", (void *)show, 0, RG_TYPE},
    {"HEAD", RG "/{}", (void *)exists, 0, RG_TYPE},
    {"PUT", RG "/{}", (void *)put, 0, RG_TYPE},
    {"PATCH", RG "/{}", (void *)patch, 0, RG_TYPE},
    {"DELETE", RG "/{}", (void *)delete, 0, RG_TYPE},
    {"GET", RG "/{}/resources", (void *)group_resources, 0, "Microsoft.Resources"},
    {"GET", "/subscriptions/{}/resources", (void *)sub_resources, 0, "Microsoft.Resources"},
    {NULL, NULL, NULL, 0, NULL},
};
