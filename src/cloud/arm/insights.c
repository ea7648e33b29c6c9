/*
 * insights.c - ARM's Microsoft.Insights/autoscalesettings on kumod's
 * autoscale settings (one per scale set; vmss.c evaluates them):
 *
 *   PUT|GET|DELETE .../providers/Microsoft.Insights/autoscalesettings/N
 *   GET            .../providers/Microsoft.Insights/autoscalesettings
 *
 * A setting's targetResourceUri names a scale set of its group; its one
 * profile (kumo has no schedules) gives the capacity bounds (ARM writes
 * them as strings) and the rules, whose metricTrigger and scaleAction are
 * kumo's own rule shape (autoscale.h). Notifications are kept and shown
 * back; kumo sends none. az's `monitor autoscale` commands exist only in
 * the `latest` profile, so with Debian's az this is reached through
 * `az rest` (docs/azure.md).
 */
#include "cloud/arm/res.h"
#include "cloud/db.h"
#include "cloud/requests.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define AS_TYPE   "Microsoft.Insights/autoscalesettings"
#define VMSS_TYPE "Microsoft.Compute/virtualMachineScaleSets"

static json_t *as_json(struct arm_ctx *c, int64_t id)
{
    sqlite3_stmt *st =
        db_stmt(c->k->db,
                "SELECT g.name, a.name, s.name, a.enabled, a.minimum, a.maximum, a.dflt, a.rules"
                " FROM autoscale a JOIN groups g ON g.id = a.group_id JOIN vmss s"
                " ON s.id = a.vmss_id WHERE a.id = ?",
                "i", id);
    json_t *out = NULL;
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        char rid[ARM_ID_MAX], target[ARM_ID_MAX], n[3][24];
        const char *group = db_col_text(st, 0);
        arm_rid(c, rid, sizeof(rid), group, AS_TYPE "/%s", db_col_text(st, 1));
        arm_rid(c, target, sizeof(target), group, VMSS_TYPE "/%s", db_col_text(st, 2));
        for (int i = 0; i < 3; i++)
            snprintf(n[i], sizeof(n[i]), "%lld", (long long)sqlite3_column_int64(st, 4 + i));
        json_t *rules = json_loads(db_col_text(st, 7), 0, NULL);
        if (!json_is_array(rules)) {
            json_decref(rules);
            rules = json_array();
        }
        size_t i;
        json_t *r;
        json_array_foreach(rules, i, r)
        {
            json_t *mt = json_object_get(r, "metricTrigger"),
                   *sa = json_object_get(r, "scaleAction");
            json_object_set_new(mt, "metricResourceUri", json_string(target));
            json_t *v = json_object_get(sa, "value");
            if (json_is_integer(v)) {
                char s[24];
                snprintf(s, sizeof(s), "%lld", (long long)json_integer_value(v));
                json_object_set_new(sa, "value", json_string(s));
            }
        }
        json_t *props = arm_props_load(c->k->db, "autoscale", id);
        json_t *notes = json_object_get(props, "notifications");
        json_t *tags = json_object_get(props, "tags");
        json_t *pname = json_object_get(props, "profileName");
        json_t *p =
            json_pack("{s:s, s:b, s:s, s:s, s:[{s:s, s:{s:s, s:s, s:s}, s:o}], s:o}", "name",
                      db_col_text(st, 1), "enabled", sqlite3_column_int(st, 3), "targetResourceUri",
                      target, "targetResourceLocation", "local", "profiles", "name",
                      json_is_string(pname) ? json_string_value(pname) : "default", "capacity",
                      "minimum", n[0], "maximum", n[1], "default", n[2], "rules", rules,
                      "notifications", json_is_array(notes) ? json_incref(notes) : json_array());
        out = arm_resource(rid, db_col_text(st, 1), AS_TYPE,
                           json_is_object(tags) ? json_incref(tags) : NULL, p);
        json_decref(props);
    }
    sqlite3_finalize(st);
    return out;
}

static int64_t as_find(struct arm_ctx *c, int64_t g, const struct arm_id *id)
{
    return db_int(c->k->db, NULL, -1, "SELECT id FROM autoscale WHERE group_id = ? AND name = ?",
                  "it", g, id->names[0]);
}

/* The /v1 body of a setting's ARM body; NULL + e. */
static json_t *as_body(const char *name, const char *group, const json_t *res, struct arm_err *e)
{
    const json_t *p = arm_get(res, "properties");
    const char *target = arm_gets(p, "targetResourceUri");
    struct arm_id id;
    char err[200];
    if (!target || arm_id_parse(target, &id, err, sizeof(err)) < 0 || !arm_id_is(&id, VMSS_TYPE) ||
        strcasecmp(id.group, group)) {
        arm_err_set(e, 400, "InvalidParameter", "properties.targetResourceUri",
                    "properties.targetResourceUri: kumo scales a scale set of the setting's "
                    "resource group ('%.300s' is not one).",
                    target ? target : "");
        return NULL;
    }
    const json_t *profiles = arm_get(p, "profiles");
    if (json_array_size(profiles) != 1) {
        arm_err_set(e, 400, "InvalidParameter", "properties.profiles",
                    "properties.profiles: kumo's autoscale settings have exactly one profile "
                    "(this has %zu).",
                    json_array_size(profiles));
        return NULL;
    }
    const json_t *prof = json_array_get(profiles, 0);
    if (arm_get(prof, "fixedDate") || arm_get(prof, "recurrence")) {
        arm_err_set(e, 400, "InvalidParameter", "properties.profiles[0]",
                    "properties.profiles[0]: kumo has no scheduled profiles (fixedDate, "
                    "recurrence).");
        return NULL;
    }
    int64_t lo, hi, d;
    if (!arm_geti(prof, "capacity.minimum", -1, &lo) ||
        !arm_geti(prof, "capacity.maximum", -1, &hi) ||
        !arm_geti(prof, "capacity.default", -1, &d) || lo < 0 || hi < 0) {
        arm_err_set(e, 400, "InvalidParameter", "properties.profiles[0].capacity",
                    "properties.profiles[0].capacity: minimum, maximum and default are "
                    "integers.");
        return NULL;
    }
    json_t *kb = json_pack("{s:s, s:s, s:I, s:I}", "name", name, "scaleSet", id.names[0], "minimum",
                           (json_int_t)lo, "maximum", (json_int_t)hi);
    if (d >= 0) json_object_set_new(kb, "default", json_integer(d));
    const json_t *en = arm_get(p, "enabled");
    if (json_is_boolean(en)) json_object_set(kb, "enabled", (json_t *)en);
    json_t *rules = json_array();
    json_object_set_new(kb, "rules", rules);
    size_t i;
    const json_t *r;
    json_array_foreach(arm_get(prof, "rules"), i, r)
    {
        /* kumo's rule shape is ARM's, less the metric's resource (its set) */
        json_t *mt = json_object(), *sa = json_object();
        static const char *const mk[] = {"metricName",      "timeGrain", "statistic", "timeWindow",
                                         "timeAggregation", "operator",  "threshold"};
        static const char *const sk[] = {"direction", "type", "cooldown"};
        for (size_t j = 0; j < sizeof(mk) / sizeof(mk[0]); j++) {
            const json_t *v = arm_get(arm_get(r, "metricTrigger"), mk[j]);
            if (v) json_object_set(mt, mk[j], (json_t *)v);
        }
        for (size_t j = 0; j < sizeof(sk) / sizeof(sk[0]); j++) {
            const json_t *v = arm_get(arm_get(r, "scaleAction"), sk[j]);
            if (v) json_object_set(sa, sk[j], (json_t *)v);
        }
        int64_t value;
        if (!arm_geti(r, "scaleAction.value", 1, &value)) value = -1;
        json_object_set_new(sa, "value", json_integer(value));
        json_array_append_new(rules,
                              json_pack("{s:o, s:o}", "metricTrigger", mt, "scaleAction", sa));
    }
    return kb;
}

static json_t *as_props(const json_t *res)
{
    json_t *out = json_object();
    const json_t *tags = arm_get(res, "tags");
    if (json_is_object(tags)) json_object_set(out, "tags", (json_t *)tags);
    const json_t *notes = arm_get(res, "properties.notifications");
    if (json_is_array(notes)) json_object_set(out, "notifications", (json_t *)notes);
    const char *pn = arm_gets(json_array_get(arm_get(res, "properties.profiles"), 0), "name");
    if (pn) json_object_set_new(out, "profileName", json_string(pn));
    return out;
}

static int64_t as_create(struct arm_apply *a)
{
    json_t *kb = as_body(a->id->names[0], a->group_name, a->res, a->err);
    if (!kb) return -1;
    int64_t id = -1;
    if (request_check(REQ_AUTOSCALE_CREATE, kb, a->t->e) < 0) goto out;
    int64_t lo = json_integer_value(json_object_get(kb, "minimum"));
    const json_t *d = json_object_get(kb, "default");
    struct prov_autoscale_spec s = {
        .name = a->id->names[0],
        .scale_set = json_string_value(json_object_get(kb, "scaleSet")),
        .minimum = lo,
        .maximum = json_integer_value(json_object_get(kb, "maximum")),
        .dflt = d ? json_integer_value(d) : lo,
        .enabled = !json_is_false(json_object_get(kb, "enabled")),
        .rules = json_object_get(kb, "rules"),
    };
    id = prov_autoscale_insert(a->t, a->group, &s);
    if (id >= 0) {
        json_t *props = as_props(a->res);
        if (arm_props_store(a->t->k->db, "autoscale", id, props) < 0)
            id = prov_db_error(a->t, "autoscale setting create");
        json_decref(props);
    }
out:
    json_decref(kb);
    if (id < 0 && !a->err->status) arm_apply_fail(a);
    return id;
}

/* PUT of an existing setting: bounds, enabled and rules replace the
 * stored ones (its scale set cannot change). */
static void as_update(struct arm_ctx *c, int64_t g, int64_t row)
{
    struct arm_id id;
    arm_path_id(c, &id);
    json_t *kb = as_body(id.names[0], id.group, c->body, &c->err);
    if (!kb) return;
    struct kerr ke = {0};
    char set[80] = "";
    db_text(c->k->db, set, sizeof(set),
            "SELECT s.name FROM autoscale a JOIN vmss s ON s.id = a.vmss_id WHERE a.id = ?", "i",
            row);
    if (strcasecmp(set, json_string_value(json_object_get(kb, "scaleSet")))) {
        arm_err_set(&c->err, 409, "PropertyChangeNotAllowed", "properties.targetResourceUri",
                    "Autoscale setting '%s' scales scale set '%s': its target cannot change.",
                    id.names[0], set);
        json_decref(kb);
        return;
    }
    const json_t *d = json_object_get(kb, "default");
    const json_t *en = json_object_get(kb, "enabled");
    if (request_check(REQ_AUTOSCALE_CREATE, kb, &ke) < 0 ||
        prov_autoscale_update(
            c->k, g, id.names[0], json_integer_value(json_object_get(kb, "minimum")),
            json_integer_value(json_object_get(kb, "maximum")),
            d ? json_integer_value(d) : json_integer_value(json_object_get(kb, "minimum")),
            en ? json_is_true(en) : -1, json_object_get(kb, "rules"), &ke) < 0) {
        arm_fail(c, &ke);
        json_decref(kb);
        return;
    }
    json_decref(kb);
    json_t *props = as_props(c->body);
    if (db_begin(c->k->db) == 0 && arm_props_store(c->k->db, "autoscale", row, props) == 0)
        db_commit(c->k->db);
    else
        db_rollback(c->k->db);
    json_decref(props);
    arm_reply(c, 200, as_json(c, row));
}

const struct arm_kind arm_kind_autoscale = {AS_TYPE, "autoscale", as_create, as_find,
                                            as_json, NULL,        201,       NULL};

static void as_put(struct arm_ctx *c)
{
    arm_put(c, &arm_kind_autoscale, as_update);
}

static void as_get(struct arm_ctx *c)
{
    arm_show(c, &arm_kind_autoscale);
}

static void as_list(struct arm_ctx *c)
{
    int64_t g = arm_group(c, c->p[1]);
    if (g >= 0)
        arm_reply_rows(c, as_json, "SELECT id FROM autoscale WHERE group_id = ? ORDER BY name", "i",
                       g);
}

static void as_delete(struct arm_ctx *c)
{
    int64_t g = arm_group(c, c->p[1]);
    if (g < 0) return;
    struct arm_id id;
    arm_path_id(c, &id);
    if (as_find(c, g, &id) < 0) {
        arm_reply(c, 204, NULL);
        return;
    }
    struct kerr ke = {0};
    if (prov_autoscale_delete(c->k, g, c->p[2], &ke) < 0)
        arm_fail(c, &ke);
    else
        arm_reply(c, 200, NULL);
}

#define ASP "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Insights/autoscalesettings"
const struct arm_route arm_routes_insights[] = {
    {"GET", ASP, (void *)as_list, 0, AS_TYPE},
    {"GET", ASP "/{}", (void *)as_get, 0, AS_TYPE},
    {"PUT", ASP "/{}", (void *)as_put, 0, AS_TYPE},
    {"DELETE", ASP "/{}", (void *)as_delete, 0, AS_TYPE},
    {NULL, NULL, NULL, 0, NULL},
};
