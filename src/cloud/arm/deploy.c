/*
 * deploy.c - Microsoft.Resources/deployments: how `az vm create` and `az
 * vmss create` make things, applied as one unit.
 *
 *   PUT  .../resourcegroups/G/providers/Microsoft.Resources/deployments/N
 *   POST .../deployments/N/validate
 *   GET  .../deployments/N, .../deployments;  DELETE .../deployments/N
 *
 * A deployment is checked whole first (template.c's phase 1, plus: every
 * resource of a type kumo makes, in the deployment's group, not there
 * yet unless it is a network resource that already is as the template
 * asks, which is then used as it is; mode Incremental). Then its resources are made in dependency
 * order by their kinds (res.h), all in one transaction of the provisioning layer with the
 * deployment's record: the first refusal rolls everything back, and the deployment fails naming the
 * resource and why. What goes on after the commit (VMs booting, scale set instances) is watched by
 * the deployment's operation; if a VM then fails, the deployment fails
 * and what it made is deleted again (reap.c) before the operation ends,
 * so a failed deployment leaves nothing half made either way.
 *
 * The record (arm_deployments) keeps the template, the parameters (secure
 * ones without their value), the rows made ([{table, row, type, id}]), the
 * outputs and the state: Running, Succeeded, Failed, or RollingBack (shown
 * as Running) while a failed deployment's resources are deleted.
 */
#include "cloud/arm/ops.h"
#include "cloud/arm/reap.h"
#include "cloud/arm/res.h"
#include "cloud/arm/template.h"
#include "cloud/db.h"
#include "cloud/state.h"
#include "cloud/timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEP_TYPE "Microsoft.Resources/deployments"

/* ---- rendering ---- */

static json_t *load_json(const char *text)
{
    json_t *j = text && *text ? json_loads(text, 0, NULL) : NULL;
    return j;
}

static json_t *dep_json(struct arm_ctx *c, int64_t id)
{
    sqlite3_stmt *st =
        db_stmt(c->k->db,
                "SELECT g.name, d.name, d.parameters, d.mode, d.resources, d.outputs, d.state,"
                " d.error, d.correlation_id, d.created_ms, d.updated_ms FROM arm_deployments d"
                " JOIN groups g ON g.id = d.group_id WHERE d.id = ?",
                "i", id);
    json_t *out = NULL;
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        char rid[ARM_ID_MAX], dur[64];
        snprintf(rid, sizeof(rid), "/subscriptions/%s/resourceGroups/%s/providers/%s/%s",
                 c->id->subscription, db_col_text(st, 0), DEP_TYPE, db_col_text(st, 1));
        const char *state = db_col_text(st, 6);
        int64_t ms = sqlite3_column_int64(st, 10) - sqlite3_column_int64(st, 9);
        snprintf(dur, sizeof(dur), "PT%lld.%03lldS", (long long)(ms / 1000),
                 (long long)(ms % 1000));
        json_t *res = load_json(db_col_text(st, 4));
        json_t *made = json_array();
        size_t i;
        json_t *r;
        json_array_foreach(res, i, r)
        {
            json_array_append_new(made, json_pack("{s:O}", "id", json_object_get(r, "id")));
        }
        json_decref(res);
        json_t *params = load_json(db_col_text(st, 2));
        json_t *outputs = db_col_null(st, 5) ? NULL : load_json(db_col_text(st, 5));
        json_t *p =
            json_pack("{s:s, s:s, s:o, s:s, s:s, s:o, s:o, s:o, s:o, s:[]}", "provisioningState",
                      !strcmp(state, "RollingBack") ? "Running" : state, "mode", db_col_text(st, 3),
                      "timestamp", arm_time(sqlite3_column_int64(st, 10)), "duration", dur,
                      "correlationId", db_col_text(st, 8), "parameters",
                      params ? params : json_object(), "outputs", outputs ? outputs : json_object(),
                      "outputResources", made, "providers", json_array(), "dependencies");
        if (!db_col_null(st, 7)) {
            json_t *err = load_json(db_col_text(st, 7));
            if (err) json_object_set_new(p, "error", err);
        }
        out = json_pack("{s:s, s:s, s:s, s:o}", "id", rid, "name", db_col_text(st, 1), "type",
                        DEP_TYPE, "properties", p);
    }
    sqlite3_finalize(st);
    return out;
}

/* ---- applying ---- */

struct deploy {
    struct arm_ctx *c;
    struct prov_tx *t;
    int64_t group;
    const char *group_name;
    json_t *made; /* [{table, row, type, id}] */
    bool async;   /* something goes on after the commit */
};

static int apply(void *ctx, const char *rid, const json_t *res, struct arm_err *e)
{
    struct deploy *d = ctx;
    struct arm_id id;
    char err[256];
    if (arm_id_parse(rid, &id, err, sizeof(err)) < 0)
        return arm_err_set(e, 400, "InvalidTemplate", rid, "%s", err);
    char type[ARM_ID_MAX];
    arm_id_type(&id, type, sizeof(type));
    const struct arm_kind *k = arm_kind_find(type);
    if (!k) /* checked before; defensive */
        return arm_err_set(e, 400, "InvalidTemplate", rid, "kumo does not deploy %s.", type);
    const char *loc = arm_gets(res, "location");
    if (loc && strcasecmp(loc, "local"))
        return arm_err_set(e, 400, "LocationNotAvailableForResourceType", rid,
                           "The provided location '%.60s' is not available: this kumod's location "
                           "is 'local'.",
                           loc);
    struct arm_apply a = {d->c, d->t, d->group, d->group_name, &id, res, e};
    int64_t row = k->find(d->c, d->group, &id);
    if (row >= 0) { /* named again: used as it is when it is what is asked */
        if (k->same && k->same(&a, row)) return 0;
        if (!e->status)
            arm_err_set(e, 409, "Conflict", rid, "The resource '%s' already exists.", rid);
        return -1;
    }
    /* the disks a VM's create makes come after this one (one transaction) */
    int64_t last_disk = db_int(d->c->k->db, NULL, 0, "SELECT coalesce(max(id), 0) FROM disks", "");
    row = k->create(&a);
    if (row < 0) { /* the resource is the target; the field is in the message */
        snprintf(e->target, sizeof(e->target), "%s", rid);
        return -1;
    }
    json_array_append_new(d->made, json_pack("{s:s, s:I, s:s, s:s}", "table", k->table, "row",
                                             (json_int_t)row, "type", k->type, "id", rid));
    if (!strcmp(k->table, "vms")) {
        /* the disks its create made (its OS disk, its new data disks): a
         * roll back deletes them whatever their deleteOption */
        sqlite3_stmt *st = db_stmt(d->c->k->db, "SELECT id FROM disks WHERE vm_id = ? AND id > ?",
                                   "ii", row, last_disk);
        while (st && sqlite3_step(st) == SQLITE_ROW)
            json_array_append_new(d->made, json_pack("{s:s, s:I}", "table", "disks", "row",
                                                     (json_int_t)sqlite3_column_int64(st, 0)));
        sqlite3_finalize(st);
    }
    if (k->op_kind) d->async = true;
    return 0;
}

static json_t *reference(void *ctx, const char *rid, const char *api_version, bool full,
                         struct arm_err *e)
{
    (void)api_version;
    struct deploy *d = ctx;
    struct arm_id id;
    char err[256], type[ARM_ID_MAX];
    if (arm_id_parse(rid, &id, err, sizeof(err)) < 0) {
        arm_err_set(e, 400, "InvalidTemplate", rid, "reference(): %s", err);
        return NULL;
    }
    arm_id_type(&id, type, sizeof(type));
    const struct arm_kind *k = arm_kind_find(type);
    int64_t g =
        db_int(d->c->k->db, NULL, -1, "SELECT id FROM groups WHERE name = ?", "t", id.group);
    int64_t row = k && g >= 0 ? k->find(d->c, g, &id) : -1;
    json_t *r = row >= 0 ? k->render(d->c, row) : NULL;
    if (!r) {
        arm_err_set(e, 404, "ResourceNotFound", rid,
                    "reference(): the resource '%s' was not found.", rid);
        return NULL;
    }
    if (full) return r;
    json_t *p = json_incref(json_object_get(r, "properties"));
    json_decref(r);
    return p ? p : json_object();
}

/* A deployment body's checks before phase 1; 0 or -1 with c->err. */
static int check_body(struct arm_ctx *c, const json_t **tpl, const json_t **params)
{
    if (!c->body)
        return arm_err_set(&c->err, 400, "InvalidRequestContent", NULL,
                           "The request content is missing: a deployment needs properties.");
    const char *mode = arm_gets(c->body, "properties.mode");
    if (mode && strcasecmp(mode, "Incremental"))
        return arm_err_set(&c->err, 400, "InvalidDeploymentMode", "properties.mode",
                           "The deployment mode '%.40s' is not supported: kumo deploys "
                           "Incremental (it never deletes what a template leaves out).",
                           mode);
    if (arm_get(c->body, "properties.templateLink"))
        return arm_err_set(&c->err, 400, "InvalidTemplate", "properties.templateLink",
                           "properties.templateLink: kumod does not fetch templates; send the "
                           "template itself (az does, with --template-file).");
    if (arm_get(c->body, "properties.parametersLink"))
        return arm_err_set(&c->err, 400, "InvalidTemplate", "properties.parametersLink",
                           "properties.parametersLink: send the parameters themselves.");
    *tpl = arm_get(c->body, "properties.template");
    *params = arm_get(c->body, "properties.parameters");
    if (!json_is_object(*tpl))
        return arm_err_set(&c->err, 400, "InvalidTemplate", "properties.template",
                           "properties.template: missing or not an object.");
    return 0;
}

/* Phase 1 and kumo's own checks: the plan, or NULL with c->err. */
static struct tpl_plan *prepare(struct arm_ctx *c, struct tpl_host *h, const json_t *tpl,
                                const json_t *params)
{
    struct tpl_plan *p = tpl_prepare(tpl, params, h, &c->err);
    if (!p) return NULL;
    int vms = 0;
    for (size_t i = 0; i < tpl_count(p); i++) {
        const char *rid = tpl_resource_id(p, i), *type = tpl_resource_type(p, i);
        const struct arm_kind *k = arm_kind_find(type);
        struct arm_id id;
        char err[256];
        if (!k) {
            arm_err_set(&c->err, 400, "InvalidTemplate", rid,
                        "Deployment template validation failed: the resource '%s' is of type "
                        "'%s', which kumo does not deploy (it deploys %s).",
                        rid, type, arm_kind_list());
            goto fail;
        }
        if (arm_id_parse(rid, &id, err, sizeof(err)) < 0 || strcasecmp(id.group, h->group) ||
            strcasecmp(id.sub, h->subscription)) {
            arm_err_set(&c->err, 400, "InvalidTemplate", rid,
                        "Deployment template validation failed: the resource '%s' is not in the "
                        "deployment's resource group '%s' (kumo deploys into one group).",
                        rid, h->group);
            goto fail;
        }
        int64_t g =
            db_int(c->k->db, NULL, -1, "SELECT id FROM groups WHERE name = ?", "t", id.group);
        if (!k->same && k->find(c, g, &id) >= 0) {
            arm_err_set(&c->err, 409, "Conflict", rid,
                        "The resource '%s' already exists: kumo's deployments make new resources "
                        "only; delete it, or leave it out of the template and refer to it by id.",
                        rid);
            goto fail;
        }
        if (!strcmp(k->table, "vms")) vms++;
    }
    if (vms > PROV_MAX_JOBS) {
        arm_err_set(&c->err, 400, "InvalidTemplate", NULL,
                    "The template makes %d virtual machines: kumo deploys at most %d at once "
                    "(use a scale set, or several deployments).",
                    vms, PROV_MAX_JOBS);
        goto fail;
    }
    return p;
fail:
    tpl_free(p);
    return NULL;
}

static void host_for(struct arm_ctx *c, struct tpl_host *h, struct deploy *d, const char *group,
                     const char *name)
{
    *h = (struct tpl_host){
        .ctx = d,
        .subscription = c->id->subscription,
        .tenant = c->id->tenant,
        .group = group,
        .location = "local",
        .deployment = name,
        .apply = apply,
        .reference = reference,
    };
}

/* Store the record of a deployment that failed before anything stayed
 * made (own transaction); its row id or -1. */
static int64_t record_failure(struct arm_ctx *c, int64_t g, const char *name, const char *tpl_text,
                              const char *corr, const struct arm_err *e)
{
    struct db *db = c->k->db;
    json_t *inner = arm_err_inner(e);
    char *err = json_dumps(inner, JSON_COMPACT);
    json_decref(inner);
    int64_t now = time_now_ms(), id = -1;
    if (db_begin(db) == 0) {
        if (db_exec(db, "DELETE FROM arm_deployments WHERE group_id = ? AND name = ?", "it", g,
                    name) == 0 &&
            db_exec(db,
                    "INSERT INTO arm_deployments (group_id, name, template, mode, state, error,"
                    " correlation_id, created_ms, updated_ms) VALUES (?, ?, ?, 'Incremental',"
                    " 'Failed', ?, ?, ?, ?)",
                    "ittttii", g, name, tpl_text, err, corr, now, now) == 0) {
            id = db_last_id(db);
            if (db_commit(db) < 0) id = -1;
        }
        if (id < 0) db_rollback(db);
    }
    free(err);
    return id;
}

/* The failed deployment's error: its resource's error as a detail. */
static void deployment_error(struct arm_err *e)
{
    struct arm_err top = {0};
    arm_err_set(&top, e->status >= 500 ? 500 : 400, "DeploymentFailed", e->target,
                "At least one resource deployment operation failed: %s (%s: %s)",
                e->target[0] ? e->target : "the deployment", e->code, e->message);
    arm_err_detail(&top, e->code, e->target, "%s", e->message);
    if (e->details) {
        size_t i;
        json_t *d;
        json_array_foreach(e->details, i, d)
        {
            json_array_append(top.details, d);
        }
    }
    arm_err_clear(e);
    *e = top;
}

static void put(struct arm_ctx *c)
{
    struct db *db = c->k->db;
    const char *group = c->p[1], *name = c->p[2];
    if (!arm_check_sub(c, c->p[0])) return;
    int64_t g = arm_group(c, group);
    const json_t *tpl, *params;
    if (g < 0 || check_body(c, &tpl, &params) < 0) return;
    if (strlen(name) > 64) {
        arm_err_set(&c->err, 400, "InvalidDeploymentName", NULL,
                    "The deployment name '%.80s...' is longer than 64 characters.", name);
        return;
    }
    char state[32] = "";
    if (db_text(db, state, sizeof(state),
                "SELECT state FROM arm_deployments WHERE group_id = ? AND name = ?", "it", g,
                name) &&
        (!strcmp(state, "Running") || !strcmp(state, "RollingBack"))) {
        arm_err_set(&c->err, 409, "DeploymentActive", NULL,
                    "The deployment '%s' is still running; wait for it to end.", name);
        return;
    }
    char gname[ARM_ID_PART];
    prov_group_name(c->k, g, gname, sizeof(gname));
    struct deploy d = {c, NULL, g, gname, json_array(), false};
    struct tpl_host h;
    host_for(c, &h, &d, gname, name);
    struct tpl_plan *plan = prepare(c, &h, tpl, params);
    if (!plan) {
        json_decref(d.made);
        return;
    }
    char corr[37];
    arm_guid(corr);
    char *tpl_text = json_dumps(tpl, JSON_COMPACT);
    struct kerr ke = {0};
    struct prov_tx t;
    struct arm_err e = {0};
    int64_t id = -1;
    json_t *outputs = NULL;
    if (prov_begin(&t, c->k, &ke) < 0) {
        arm_fail(c, &ke);
        goto out;
    }
    d.t = &t;
    if (tpl_apply(plan, &e) == 0 && (outputs = tpl_outputs(plan, &e))) {
        json_t *pj = tpl_parameters_json(plan);
        char *ptext = json_dumps(pj, JSON_COMPACT), *mtext = json_dumps(d.made, JSON_COMPACT),
             *otext = json_dumps(outputs, JSON_COMPACT);
        json_decref(pj);
        int64_t now = time_now_ms();
        int rc = db_exec(db, "DELETE FROM arm_deployments WHERE group_id = ? AND name = ?", "it", g,
                         name);
        if (rc == 0)
            rc = db_exec(db,
                         "INSERT INTO arm_deployments (group_id, name, template, parameters, mode,"
                         " resources, outputs, state, correlation_id, created_ms, updated_ms)"
                         " VALUES (?, ?, ?, ?, 'Incremental', ?, ?, ?, ?, ?, ?)",
                         "itttttttii", g, name, tpl_text, ptext, mtext, otext,
                         d.async ? "Running" : "Succeeded", corr, now, now);
        id = db_last_id(db);
        free(ptext);
        free(mtext);
        free(otext);
        if (rc < 0) {
            prov_db_error(&t, "deployment record");
            arm_fail(c, &ke);
            prov_abort(&t);
            goto out;
        }
        if (prov_commit(&t) < 0) {
            arm_fail(c, &ke);
            goto out;
        }
        arm_reply_op(c, 201, "deployment", "Microsoft.Resources", id, dep_json(c, id));
        goto out;
    }
    /* nothing stays: the transaction goes, the failure is recorded */
    prov_abort(&t);
    deployment_error(&e);
    id = record_failure(c, g, name, tpl_text, corr, &e);
    if (id < 0) {
        c->err = e;
        memset(&e, 0, sizeof(e));
        goto out;
    }
    {
        struct arm_op op;
        json_t *inner = arm_err_inner(&e);
        if (db_begin(db) == 0 &&
            arm_op_insert(db, &op, "deployment", "Microsoft.Resources", c->path, id, "Failed",
                          inner, time_now_ms()) == 0 &&
            db_commit(db) == 0) {
            arm_accepted(c, 201, &op, dep_json(c, id));
            arm_op_clear(&op);
        } else {
            db_rollback(db);
            c->err = e;
            memset(&e, 0, sizeof(e));
        }
        json_decref(inner);
    }
out:
    arm_err_clear(&e);
    json_decref(outputs);
    json_decref(d.made);
    free(tpl_text);
    tpl_free(plan);
}

static void validate(struct arm_ctx *c)
{
    if (!arm_check_sub(c, c->p[0])) return;
    int64_t g = arm_group(c, c->p[1]);
    const json_t *tpl, *params;
    if (g < 0 || check_body(c, &tpl, &params) < 0) return;
    char gname[ARM_ID_PART];
    prov_group_name(c->k, g, gname, sizeof(gname));
    struct deploy d = {c, NULL, g, gname, NULL, false};
    struct tpl_host h;
    host_for(c, &h, &d, gname, c->p[2]);
    struct tpl_plan *plan = prepare(c, &h, tpl, params);
    if (!plan) return;
    json_t *res = json_array();
    for (size_t i = 0; i < tpl_count(plan); i++)
        json_array_append_new(res, json_pack("{s:s}", "id", tpl_resource_id(plan, i)));
    char rid[ARM_ID_MAX];
    snprintf(rid, sizeof(rid), "/subscriptions/%s/resourceGroups/%s/providers/%s/%s",
             c->id->subscription, gname, DEP_TYPE, c->p[2]);
    arm_reply(c, 200,
              json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:o, s:o}}", "id", rid, "name", c->p[2],
                        "type", DEP_TYPE, "properties", "provisioningState", "Succeeded", "mode",
                        "Incremental", "parameters", tpl_parameters_json(plan),
                        "validatedResources", res));
    tpl_free(plan);
}

static int64_t dep_find(struct arm_ctx *c, int64_t *g)
{
    if (!arm_check_sub(c, c->p[0])) return -1;
    *g = arm_group(c, c->p[1]);
    if (*g < 0) return -1;
    int64_t id =
        db_int(c->k->db, NULL, -1, "SELECT id FROM arm_deployments WHERE group_id = ? AND name = ?",
               "it", *g, c->p[2]);
    if (id < 0)
        arm_err_set(&c->err, 404, "DeploymentNotFound", NULL,
                    "Deployment '%.100s' could not be found.", c->p[2]);
    return id;
}

static void get(struct arm_ctx *c)
{
    int64_t g, id = dep_find(c, &g);
    if (id >= 0) arm_reply(c, 200, dep_json(c, id));
}

static void list(struct arm_ctx *c)
{
    if (!arm_check_sub(c, c->p[0])) return;
    int64_t g = arm_group(c, c->p[1]);
    if (g >= 0)
        arm_reply_rows(c, dep_json,
                       "SELECT id FROM arm_deployments WHERE group_id = ? ORDER BY created_ms", "i",
                       g);
}

/* DELETE removes the record only (as ARM's does), not what it made. */
static void delete (struct arm_ctx *c)
{
    int64_t g, id = dep_find(c, &g);
    if (id < 0) {
        if (c->err.status == 404) {
            arm_err_clear(&c->err);
            arm_reply(c, 204, NULL);
        }
        return;
    }
    char state[32] = "";
    db_text(c->k->db, state, sizeof(state), "SELECT state FROM arm_deployments WHERE id = ?", "i",
            id);
    if (!strcmp(state, "Running") || !strcmp(state, "RollingBack")) {
        arm_err_set(&c->err, 409, "DeploymentActive", NULL,
                    "The deployment '%s' is still running; wait for it to end.", c->p[2]);
        return;
    }
    struct kerr ke = {0};
    if (prov_exec(c->k, &ke, false, "deployment delete", "DELETE FROM arm_deployments WHERE id = ?",
                  "i", id) < 0)
        arm_fail(c, &ke);
    else
        arm_reply(c, 200, NULL);
}

/* ---- the operation ---- */

/* Is everything the deployment made settled? 1 yes, 0 not yet, -1 a
 * resource failed (e filled). */
static int settled(struct kumod *k, const json_t *made, struct arm_err *e)
{
    struct db *db = k->db;
    int done = 1;
    size_t i;
    const json_t *r;
    json_array_foreach(made, i, r)
    {
        const char *table = json_string_value(json_object_get(r, "table"));
        const char *rid = json_string_value(json_object_get(r, "id"));
        int64_t row = json_integer_value(json_object_get(r, "row"));
        if (!table) continue;
        if (!strcmp(table, "vms")) {
            sqlite3_stmt *st = db_stmt(db,
                                       "SELECT coalesce(op, ''), prov_state, error_code, error_msg"
                                       " FROM vms WHERE id = ?",
                                       "i", row);
            if (!st || sqlite3_step(st) != SQLITE_ROW) {
                arm_err_set(e, 409, "ResourceNotFound", rid,
                            "The virtual machine was deleted while the deployment ran.");
                done = -1;
            } else if (!strcmp(db_col_text(st, 1), PV_FAILED)) {
                arm_err_set(e, 409, db_col_null(st, 2) ? "VMCreateFailed" : db_col_text(st, 2), rid,
                            "%s",
                            db_col_null(st, 3) ? "The virtual machine failed to start."
                                               : db_col_text(st, 3));
                done = -1;
            } else if (*db_col_text(st, 0)) {
                done = done < 0 ? done : 0;
            }
            sqlite3_finalize(st);
        } else if (!strcmp(table, "vmss")) {
            int64_t cap = db_int(db, NULL, -1, "SELECT capacity FROM vmss WHERE id = ?", "i", row);
            int64_t ready = db_int(db, NULL, 0,
                                   "SELECT count(*) FROM vms WHERE vmss_id = ? AND op IS NULL"
                                   " AND prov_state = 'Succeeded'",
                                   "i", row);
            int64_t all =
                db_int(db, NULL, 0, "SELECT count(*) FROM vms WHERE vmss_id = ?", "i", row);
            char err[600] = "";
            if (cap < 0) {
                arm_err_set(e, 409, "ResourceNotFound", rid,
                            "The scale set was deleted while the deployment ran.");
                done = -1;
            } else if (db_text(db, err, sizeof(err),
                               "SELECT last_error FROM vmss WHERE id = ? AND last_error IS NOT"
                               " NULL",
                               "i", row) &&
                       db_int(db, NULL, 0,
                              "SELECT count(*) FROM vms WHERE vmss_id = ? AND op IS NOT NULL", "i",
                              row) == 0 &&
                       ready < cap) {
                arm_err_set(e, 409, "InstanceCreateFailed", rid, "%s", err);
                done = -1;
            } else if (ready != cap || all != cap) {
                done = done < 0 ? done : 0;
            }
        }
        if (done < 0) break;
    }
    return done;
}

static int set_state(struct db *db, int64_t id, const char *state, const json_t *error)
{
    char *err = error ? json_dumps(error, JSON_COMPACT) : NULL;
    int rc = -1;
    if (db_begin(db) == 0) {
        rc = db_exec(db,
                     "UPDATE arm_deployments SET state = ?, error = coalesce(?, error),"
                     " updated_ms = ? WHERE id = ?",
                     "ttii", state, err, time_now_ms(), id);
        if (rc == 0) rc = db_commit(db);
        if (rc < 0) db_rollback(db);
    }
    free(err);
    return rc;
}

/* A finished deployment's outputs evaluated again, now that what it made
 * has settled (reference() shows it as it is, not as it was made). Kept
 * as they were when a secure parameter's value is needed (not stored). */
static void refresh_outputs(struct arm_ctx *c, int64_t id)
{
    struct db *db = c->k->db;
    sqlite3_stmt *st =
        db_stmt(db,
                "SELECT d.template, d.parameters, d.name, g.name, g.id FROM"
                " arm_deployments d JOIN groups g ON g.id = d.group_id WHERE d.id = ?",
                "i", id);
    if (!st || sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return;
    }
    json_t *tpl = load_json(db_col_text(st, 0)), *stored = load_json(db_col_text(st, 1));
    char name[80], group[ARM_ID_PART];
    snprintf(name, sizeof(name), "%s", db_col_text(st, 2));
    snprintf(group, sizeof(group), "%s", db_col_text(st, 3));
    int64_t g = sqlite3_column_int64(st, 4);
    sqlite3_finalize(st);
    json_t *params = json_object();
    bool complete = tpl != NULL;
    const char *k;
    json_t *v;
    json_object_foreach(stored, k, v)
    {
        json_t *val = json_object_get(v, "value");
        if (!val)
            complete = false;
        else
            json_object_set_new(params, k, json_pack("{s:O}", "value", val));
    }
    json_t *defs = json_object_get(tpl, "outputs");
    if (complete && json_object_size(defs)) {
        struct deploy d = {c, NULL, g, group, NULL, false};
        struct tpl_host h;
        host_for(c, &h, &d, group, name);
        struct arm_err e = {0};
        struct tpl_plan *plan = tpl_prepare(tpl, params, &h, &e);
        json_t *out = NULL;
        if (plan) {
            tpl_mark_applied(plan);
            out = tpl_outputs(plan, &e);
        }
        char *text = out ? json_dumps(out, JSON_COMPACT) : NULL;
        if (text && db_begin(db) == 0) {
            if (db_exec(db, "UPDATE arm_deployments SET outputs = ? WHERE id = ?", "ti", text,
                        id) == 0)
                db_commit(db);
            else
                db_rollback(db);
        }
        free(text);
        json_decref(out);
        tpl_free(plan);
        arm_err_clear(&e);
    }
    json_decref(params);
    json_decref(stored);
    json_decref(tpl);
}

static const char *tick(struct arm_ctx *c, const struct arm_op *op, json_t **error)
{
    struct kumod *k = c->k;
    struct db *db = k->db;
    sqlite3_stmt *st = db_stmt(db,
                               "SELECT state, resources, group_id FROM arm_deployments"
                               " WHERE id = ?",
                               "i", op->target);
    if (!st || sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        *error = json_pack("{s:s, s:s}", "code", "DeploymentNotFound", "message",
                           "The deployment was deleted while it ran.");
        return "Failed";
    }
    char state[32];
    snprintf(state, sizeof(state), "%s", db_col_text(st, 0));
    json_t *made = load_json(db_col_text(st, 1));
    int64_t g = sqlite3_column_int64(st, 2);
    sqlite3_finalize(st);
    const char *out = "InProgress";
    if (!strcmp(state, "Running")) {
        struct arm_err e = {0};
        int s = settled(k, made, &e);
        if (s == 1) {
            refresh_outputs(c, op->target);
            set_state(db, op->target, "Succeeded", NULL);
            out = "Succeeded";
        } else if (s < 0) {
            deployment_error(&e);
            json_t *inner = arm_err_inner(&e);
            char msg[1400];
            snprintf(msg, sizeof(msg), "%s; kumod deleted what the deployment made",
                     json_string_value(json_object_get(inner, "message")));
            json_object_set_new(inner, "message", json_string(msg));
            set_state(db, op->target, "RollingBack", inner);
            json_decref(inner);
            arm_err_clear(&e);
            snprintf(state, sizeof(state), "RollingBack");
        }
    }
    if (!strcmp(state, "RollingBack")) {
        struct kerr ke = {0};
        int rc = arm_reap_rows(k, g, made, &ke);
        if (rc != 0) { /* gone, or something refuses: the deployment's error stays */
            set_state(db, op->target, "Failed", NULL);
            snprintf(state, sizeof(state), "Failed");
        }
    }
    if (!strcmp(state, "Failed")) {
        char text[4096] = "";
        db_text(db, text, sizeof(text),
                "SELECT coalesce(error, '') FROM arm_deployments WHERE id = ?", "i", op->target);
        *error = load_json(text);
        if (!*error)
            *error = json_pack("{s:s, s:s}", "code", "DeploymentFailed", "message",
                               "The deployment failed.");
        out = "Failed";
    } else if (!strcmp(state, "Succeeded")) {
        out = "Succeeded";
    }
    json_decref(made);
    return out;
}

static void result(struct arm_ctx *c, const struct arm_op *op)
{
    json_t *d = dep_json(c, op->target);
    if (d)
        arm_reply(c, 200, d);
    else
        arm_reply(c, 204, NULL);
}

const struct arm_op_kind arm_op_deployment = {"deployment", tick, result, tick};

#define DEP "/subscriptions/{}/resourcegroups/{}/providers/Microsoft.Resources/deployments"
const struct arm_route arm_routes_deploy[] = {
    {"GET", DEP, (void *)list, 0, DEP_TYPE},
    {"GET", DEP "/{}", (void *)get, 0, DEP_TYPE},
    {"PUT", DEP "/{}", (void *)put, 0, DEP_TYPE},
    {"DELETE", DEP "/{}", (void *)delete, 0, DEP_TYPE},
    {"POST", DEP "/{}/validate", (void *)validate, 0, DEP_TYPE},
    {NULL, NULL, NULL, 0, NULL},
};
