/*
 * api_autoscale.c - the API's autoscale settings (docs/api.md "Autoscale"):
 * one setting per scale set with its profile (minimum, maximum, default
 * capacity and rules, autoscale.h), and the history of its decisions. The
 * controller (vmss.c) evaluates the settings.
 */
#include "cloud/api.h"

#include "cloud/autoscale.h"
#include "cloud/body.h"
#include "cloud/db.h"
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

/* Rules in canonical form (parsed and rendered again). */
static json_t *canonical_rules(const json_t *rules)
{
    json_t *arr = json_array();
    size_t i;
    const json_t *r;
    json_array_foreach(rules, i, r)
    {
        struct as_rule ar;
        struct kerr e;
        if (as_rule_parse(r, "", &ar, &e) == 0) json_array_append_new(arr, as_rule_json(&ar));
    }
    return arr;
}

static int commit_or_fail(struct api_ctx *c, int rc)
{
    struct db *db = c->k->db;
    if (rc == 0) rc = db_commit(db);
    if (rc < 0) {
        db_rollback(db);
        return kerr_internal(&c->err, "%s", db_errmsg(db));
    }
    kumod_changed(c->k);
    return 0;
}

static void as_create(struct api_ctx *c)
{
    struct db *db = c->k->db;
    const json_t *b = c->body;
    int64_t g = api_group(c, c->p[0]);
    if (g < 0) return;
    const char *name = body_str(b, "name", "");
    if (db_int(db, NULL, -1, "SELECT id FROM autoscale WHERE group_id = ? AND name = ?", "it", g,
               name) >= 0) {
        kerr_conflict(&c->err, "AlreadyExists",
                      "autoscale setting '%s' already exists in resource group '%s'", name,
                      c->p[0]);
        return;
    }
    int64_t set = api_find(c, "vmss", g, body_str(b, "scaleSet", ""), "scale set", "scaleSet");
    if (set < 0) return;
    char other[80];
    if (db_text(db, other, sizeof(other), "SELECT name FROM autoscale WHERE vmss_id = ?", "i",
                set)) {
        kerr_conflict(&c->err, "AlreadyExists",
                      "scale set '%s' already has autoscale setting '%s'; update or delete it",
                      body_str(b, "scaleSet", ""), other);
        return;
    }
    int64_t lo = body_int(b, "minimum", 0);
    json_t *rules = canonical_rules(json_object_get(b, "rules"));
    char *text = json_dumps(rules, JSON_COMPACT);
    json_decref(rules);
    int rc = db_begin(db);
    if (rc == 0)
        rc = db_exec(db,
                     "INSERT INTO autoscale (group_id, name, vmss_id, enabled, minimum, maximum,"
                     " dflt, rules, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     "itiiiiiti", g, name, set,
                     (int64_t)!json_is_false(json_object_get(b, "enabled")), lo,
                     body_int(b, "maximum", 0), body_int(b, "default", lo), text, time_now_ms());
    free(text);
    int64_t id = db_last_id(db);
    if (commit_or_fail(c, rc) == 0) reply_as(c, 201, id);
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
    struct db *db = c->k->db;
    const json_t *b = c->body;
    int64_t id = as_lookup(c);
    if (id < 0) return;
    int64_t lo = body_int(
        b, "minimum", db_int(db, NULL, 0, "SELECT minimum FROM autoscale WHERE id = ?", "i", id));
    int64_t hi = body_int(
        b, "maximum", db_int(db, NULL, 0, "SELECT maximum FROM autoscale WHERE id = ?", "i", id));
    int64_t d = body_int(b, "default",
                         db_int(db, NULL, 0, "SELECT dflt FROM autoscale WHERE id = ?", "i", id));
    if (lo > hi) {
        kerr_invalid(&c->err, "maximum", "maximum: %" PRId64 " is less than minimum %" PRId64, hi,
                     lo);
        return;
    }
    if (d < lo || d > hi) {
        kerr_invalid(&c->err, "default",
                     "default: %" PRId64 " is outside minimum-maximum %" PRId64 "-%" PRId64, d, lo,
                     hi);
        return;
    }
    int rc = db_begin(db);
    if (rc == 0)
        rc = db_exec(db,
                     "UPDATE autoscale SET minimum = ?, maximum = ?, dflt = ?,"
                     " enabled = coalesce(?, enabled) WHERE id = ?",
                     body_has(b, "enabled") ? "iiiii" : "iiini", lo, hi, d,
                     (int64_t)json_is_true(json_object_get(b, "enabled")), id);
    if (commit_or_fail(c, rc) == 0) reply_as(c, 200, id);
}

static void as_delete(struct api_ctx *c)
{
    struct db *db = c->k->db;
    int64_t id = as_lookup(c);
    if (id < 0) return;
    int rc = db_begin(db);
    if (rc == 0) rc = db_exec(db, "DELETE FROM autoscale_events WHERE autoscale_id = ?", "i", id);
    if (rc == 0) rc = db_exec(db, "DELETE FROM autoscale WHERE id = ?", "i", id);
    if (commit_or_fail(c, rc) == 0) api_reply(c, 204, NULL);
}

static void rule_add(struct api_ctx *c)
{
    struct db *db = c->k->db;
    int64_t id = as_lookup(c);
    if (id < 0) return;
    char text[16384] = "";
    db_text(db, text, sizeof(text), "SELECT rules FROM autoscale WHERE id = ?", "i", id);
    json_t *rules = json_loads(text, 0, NULL);
    if (!json_is_array(rules)) {
        json_decref(rules);
        rules = json_array();
    }
    if (json_array_size(rules) >= AS_MAX_RULES) {
        json_decref(rules);
        kerr_conflict(&c->err, "QuotaExceeded",
                      "autoscale setting '%s' has %d rules, the most it can have; delete one",
                      c->p[1], AS_MAX_RULES);
        return;
    }
    struct as_rule ar;
    if (as_rule_parse(c->body, "", &ar, &c->err) < 0) {
        json_decref(rules);
        return;
    }
    json_array_append_new(rules, as_rule_json(&ar));
    char *out = json_dumps(rules, JSON_COMPACT);
    json_decref(rules);
    int rc = db_begin(db);
    if (rc == 0) rc = db_exec(db, "UPDATE autoscale SET rules = ? WHERE id = ?", "ti", out, id);
    free(out);
    if (commit_or_fail(c, rc) == 0) reply_as(c, 201, id);
}

static void rule_delete(struct api_ctx *c)
{
    struct db *db = c->k->db;
    int64_t id = as_lookup(c);
    if (id < 0) return;
    char text[16384] = "";
    db_text(db, text, sizeof(text), "SELECT rules FROM autoscale WHERE id = ?", "i", id);
    json_t *rules = json_loads(text, 0, NULL);
    char *end;
    long idx = strtol(c->p[2], &end, 10);
    if (*end || idx < 0 || (size_t)idx >= json_array_size(rules)) {
        kerr_notfound(&c->err,
                      "autoscale setting '%s' has no rule %.16s (rules are numbered from 0)",
                      c->p[1], c->p[2]);
        json_decref(rules);
        return;
    }
    json_array_remove(rules, (size_t)idx);
    char *out = json_dumps(rules, JSON_COMPACT);
    json_decref(rules);
    int rc = db_begin(db);
    if (rc == 0) rc = db_exec(db, "UPDATE autoscale SET rules = ? WHERE id = ?", "ti", out, id);
    free(out);
    if (commit_or_fail(c, rc) == 0) reply_as(c, 200, id);
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
