/*
 * api_autoscale.c - the API's autoscale settings (docs/api.md "Autoscale"):
 * one setting per scale set with its profile (minimum, maximum, default
 * capacity and rules, autoscale.h), and the history of its decisions. The
 * controller (vmss.c) evaluates the settings; the changes are the
 * provisioning layer's (prov_autoscale.c).
 */
#include "cloud/api.h"

#include "cloud/autoscale.h"
#include "cloud/body.h"
#include "cloud/db.h"
#include "cloud/provision.h"
#include "cloud/requests.h"
#include "cloud/timefmt.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

json_t *api_autoscale_json(struct kumod *k, int64_t id)
{
    sqlite3_stmt *st =
        db_stmt(k->db,
                "SELECT g.name, a.name, s.name, a.enabled, a.minimum, a.maximum, a.dflt, a.rules,"
                " a.last_scale_ms, a.created_ms, s.capacity FROM autoscale a"
                " JOIN groups g ON g.id = a.group_id JOIN vmss s ON s.id = a.vmss_id"
                " WHERE a.id = ?",
                "i", id);
    json_t *out = NULL;
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        char rid[256];
        snprintf(rid, sizeof(rid), "/resourceGroups/%s/autoscaleSettings/%s", db_col_text(st, 0),
                 db_col_text(st, 1));
        json_t *rules = json_loads(db_col_text(st, 7), 0, NULL);
        out = json_pack(
            "{s:s,s:s,s:s,s:s,s:s,s:b,s:I,s:{s:I,s:I,s:I},s:o,s:o,s:o}", "id", rid, "name",
            db_col_text(st, 1), "type", "autoscaleSetting", "resourceGroup", db_col_text(st, 0),
            "scaleSet", db_col_text(st, 2), "enabled", sqlite3_column_int(st, 3), "currentCapacity",
            (json_int_t)sqlite3_column_int64(st, 10), "capacity", "minimum",
            (json_int_t)sqlite3_column_int64(st, 4), "maximum",
            (json_int_t)sqlite3_column_int64(st, 5), "default",
            (json_int_t)sqlite3_column_int64(st, 6), "rules", rules ? rules : json_array(),
            "lastScaleAt", api_time(db_col_null(st, 8) ? -1 : sqlite3_column_int64(st, 8)),
            "createdAt", api_time(sqlite3_column_int64(st, 9)));
    }
    sqlite3_finalize(st);
    return out;
}

static int64_t as_lookup(struct api_ctx *c)
{
    int64_t g = api_group(c, c->p[0]);
    if (g < 0) return -1;
    return api_find(c, "autoscale", g, c->p[1], "autoscale setting", NULL);
}

static void reply_as(struct api_ctx *c, int status, int64_t id)
{
    json_t *out = api_autoscale_json(c->k, id);
    if (!out) {
        kerr_notfound(&c->err, "autoscale setting '%s' is gone", c->p[1]);
        return;
    }
    api_set_location(c, json_string_value(json_object_get(out, "id")));
    api_reply(c, status, out);
}

static void as_create(struct api_ctx *c)
{
    const json_t *b = c->body;
    int64_t g = api_group(c, c->p[0]);
    if (g < 0) return;
    int64_t lo = body_int(b, "minimum", 0);
    struct prov_autoscale_spec s = {
        .name = body_str(b, "name", ""),
        .scale_set = body_str(b, "scaleSet", ""),
        .minimum = lo,
        .maximum = body_int(b, "maximum", 0),
        .dflt = body_int(b, "default", lo),
        .enabled = !json_is_false(json_object_get(b, "enabled")),
        .rules = json_object_get(b, "rules"),
    };
    int64_t id = prov_autoscale_create(c->k, g, &s, &c->err);
    if (id >= 0) reply_as(c, 201, id);
}

static void as_list(struct api_ctx *c)
{
    api_list_in_group(c, "autoscale", api_autoscale_json);
}

static void as_show(struct api_ctx *c)
{
    int64_t id = as_lookup(c);
    if (id >= 0) reply_as(c, 200, id);
}

static void as_update(struct api_ctx *c)
{
    const json_t *b = c->body;
    int64_t g = api_group(c, c->p[0]);
    if (g < 0) return;
    const json_t *en = json_object_get(b, "enabled");
    int64_t id = prov_autoscale_update(c->k, g, c->p[1], body_int(b, "minimum", -1),
                                       body_int(b, "maximum", -1), body_int(b, "default", -1),
                                       en ? json_is_true(en) : -1, NULL, &c->err);
    if (id >= 0) reply_as(c, 200, id);
}

static void as_delete(struct api_ctx *c)
{
    int64_t g = api_group(c, c->p[0]);
    if (g >= 0 && prov_autoscale_delete(c->k, g, c->p[1], &c->err) == 0) api_reply(c, 204, NULL);
}

static void rule_add(struct api_ctx *c)
{
    int64_t g = api_group(c, c->p[0]);
    int64_t id = g < 0 ? -1 : prov_autoscale_rule_add(c->k, g, c->p[1], c->body, &c->err);
    if (id >= 0) reply_as(c, 201, id);
}

static void rule_delete(struct api_ctx *c)
{
    int64_t g = api_group(c, c->p[0]);
    int64_t id = g < 0 ? -1 : prov_autoscale_rule_delete(c->k, g, c->p[1], c->p[2], &c->err);
    if (id >= 0) reply_as(c, 200, id);
}

static void as_history(struct api_ctx *c)
{
    int64_t id = as_lookup(c);
    if (id < 0) return;
    int64_t from;
    if (!api_query_time(c, "from", 0, &from)) return;
    sqlite3_stmt *st =
        db_stmt(c->k->db,
                "SELECT at_ms, action, old_capacity, new_capacity, metrics, reason, repeats,"
                " last_ms"
                " FROM autoscale_events WHERE autoscale_id = ? AND at_ms >= ?"
                " ORDER BY id",
                "ii", id, from);
    json_t *arr = json_array();
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        json_t *m = json_loads(db_col_text(st, 4), 0, NULL);
        json_array_append_new(
            arr, json_pack("{s:o,s:s,s:I,s:I,s:o,s:s,s:I,s:o}", "at",
                           api_time(sqlite3_column_int64(st, 0)), "action", db_col_text(st, 1),
                           "oldCapacity", (json_int_t)sqlite3_column_int64(st, 2), "newCapacity",
                           (json_int_t)sqlite3_column_int64(st, 3), "metrics", m ? m : json_array(),
                           "reason", db_col_text(st, 5), "count",
                           (json_int_t)sqlite3_column_int64(st, 6), "lastAt",
                           api_time(db_col_null(st, 7) ? -1 : sqlite3_column_int64(st, 7))));
    }
    sqlite3_finalize(st);
    api_reply(c, 200, json_pack("{s:o}", "value", arr));
}

#define AS "/v1/resourceGroups/{}/autoscaleSettings"
const struct api_route api_routes_autoscale[] = {
    {"GET", AS, as_list, -1},
    {"POST", AS, as_create, REQ_AUTOSCALE_CREATE},
    {"GET", AS "/{}", as_show, -1},
    {"PATCH", AS "/{}", as_update, REQ_AUTOSCALE_UPDATE},
    {"DELETE", AS "/{}", as_delete, -1},
    {"POST", AS "/{}/rules", rule_add, REQ_AUTOSCALE_RULE},
    {"DELETE", AS "/{}/rules/{}", rule_delete, -1},
    {"GET", AS "/{}/history", as_history, -1},
    {NULL, NULL, NULL, -1},
};
