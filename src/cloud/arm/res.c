/*
 * res.c - what the ARM resource handlers share (contract in res.h).
 */
#include "cloud/arm/res.h"

#include "cloud/db.h"
#include "cloud/timefmt.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- reading ARM bodies ---- */

static const json_t *member(const json_t *o, const char *name, size_t len)
{
    if (!json_is_object(o)) return NULL;
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)o, key, v)
    {
        if (strlen(key) == len && !strncmp(key, name, len)) return v;
    }
    json_object_foreach((json_t *)o, key, v)
    {
        if (strlen(key) == len && !strncasecmp(key, name, len)) return v;
    }
    return NULL;
}

const json_t *arm_get(const json_t *o, const char *path)
{
    const char *p = path;
    while (o && *p) {
        const char *dot = strchr(p, '.');
        size_t len = dot ? (size_t)(dot - p) : strlen(p);
        o = member(o, p, len);
        p += len;
        if (*p == '.') p++;
    }
    return json_is_null(o) ? NULL : o;
}

const char *arm_gets(const json_t *o, const char *path)
{
    return json_string_value(arm_get(o, path));
}

void arm_os_profile_to_kumo(const json_t *osp, json_t *kb)
{
    const char *admin = json_is_object(osp) ? arm_gets(osp, "adminUsername") : NULL;
    if (!admin || !*admin) return;
    json_t *ko = json_pack("{s:s}", "adminUsername", admin);
    json_object_set_new(kb, "osProfile", ko);
    json_t *keys = json_array();
    size_t i;
    const json_t *d;
    json_array_foreach(arm_get(osp, "linuxConfiguration.ssh.publicKeys"), i, d)
    {
        const char *kd = arm_gets(d, "keyData");
        if (kd) json_array_append_new(keys, json_string(kd));
    }
    if (json_array_size(keys)) json_object_set(ko, "sshPublicKeys", keys);
    json_decref(keys);
    if (arm_gets(osp, "adminPassword"))
        json_object_set_new(ko, "adminPassword", json_string(arm_gets(osp, "adminPassword")));
}

bool arm_geti(const json_t *o, const char *path, int64_t dflt, int64_t *out)
{
    const json_t *v = arm_get(o, path);
    *out = dflt;
    if (!v) return true;
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return true;
    }
    const char *s = json_string_value(v);
    if (!s || !*s) return false;
    char *end;
    long long n = strtoll(s, &end, 10);
    if (*end) return false;
    *out = n;
    return true;
}

/* ---- ids and answers ---- */

const char *arm_rid(const struct arm_ctx *c, char *buf, size_t len, const char *group,
                    const char *fmt, ...)
{
    int n = snprintf(buf, len, "/subscriptions/%s/resourceGroups/%s/providers/",
                     c->id->subscription, group);
    if (n < 0 || (size_t)n >= len) return buf;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, len - (size_t)n, fmt, ap);
    va_end(ap);
    return buf;
}

json_t *arm_resource(const char *id, const char *name, const char *type, json_t *tags,
                     json_t *props)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o}", "id", id, "name", name, "type", type,
                     "location", "local", "tags", tags ? tags : json_object(), "properties",
                     props ? props : json_object());
}

json_t *arm_tags(const char *text)
{
    json_t *t = text ? json_loads(text, 0, NULL) : NULL;
    if (json_is_object(t)) return t;
    json_decref(t);
    return json_object();
}

json_t *arm_time(int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[64], out[80];
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, sizeof(out), "%s.%03d0000Z", buf, (int)(ms % 1000));
    return json_string(out);
}

void arm_row_guid(const struct arm_ctx *c, const char *kind, int64_t row, char out[37])
{
    char in[200];
    int n = snprintf(in, sizeof(in), "%s/%s/%lld", c->id->subscription, kind, (long long)row);
    unsigned char h[32];
    gnutls_hash_fast(GNUTLS_DIG_SHA256, in, (size_t)n, h);
    h[6] = (unsigned char)((h[6] & 0x0f) | 0x50); /* a name-based GUID (version 5 layout) */
    h[8] = (unsigned char)((h[8] & 0x3f) | 0x80);
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", h[0],
             h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9], h[10], h[11], h[12], h[13],
             h[14], h[15]);
}

void arm_reply_rows(struct arm_ctx *c, json_t *(*render)(struct arm_ctx *c, int64_t row),
                    const char *sql, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *st = db_vstmt(c->k->db, sql, fmt, ap);
    va_end(ap);
    if (!st) {
        arm_err_set(&c->err, 500, "InternalServerError", NULL, "%s", db_errmsg(c->k->db));
        return;
    }
    int64_t ids[4096];
    size_t n = 0;
    while (n < sizeof(ids) / sizeof(ids[0]) && sqlite3_step(st) == SQLITE_ROW)
        ids[n++] = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *r = render(c, ids[i]);
        if (r) json_array_append_new(arr, r);
    }
    arm_reply(c, 200, json_pack("{s:o}", "value", arr));
}

/* ---- the model's lookups ---- */

int64_t arm_group(struct arm_ctx *c, const char *name)
{
    int64_t id = db_int(c->k->db, NULL, -1, "SELECT id FROM groups WHERE name = ?", "t", name);
    if (id < 0)
        arm_err_set(&c->err, 404, "ResourceGroupNotFound", NULL,
                    "Resource group '%.100s' could not be found.", name);
    return id;
}

void arm_fail(struct arm_ctx *c, const struct kerr *e)
{
    arm_err_from_kerr(&c->err, e, NULL);
}

void arm_not_found(struct arm_ctx *c, const char *type, const char *name)
{
    struct arm_id id;
    char err[128];
    const char *group = "";
    if (arm_id_parse(c->path, &id, err, sizeof(err)) == 0) group = id.group;
    arm_err_set(&c->err, 404, "ResourceNotFound", NULL,
                "The Resource '%s/%.100s' under resource group '%.100s' was not found.", type, name,
                group);
}

int arm_check_location(struct arm_ctx *c, const json_t *res)
{
    const char *loc = arm_gets(res, "location");
    if (!loc || !strcasecmp(loc, "local")) return 0;
    return arm_err_set(&c->err, 400, "LocationNotAvailableForResourceType", "location",
                       "The provided location '%.60s' is not available: this kumod's location is "
                       "'local'.",
                       loc);
}

bool arm_ref(const struct arm_ctx *c, const json_t *o, const char *path, const char *type,
             struct arm_id *id, bool *present, struct arm_err *e)
{
    const json_t *ref = arm_get(o, path);
    *present = ref != NULL;
    if (!ref) return true;
    const char *s = arm_gets(ref, "id");
    char err[256];
    if (!s) {
        arm_err_set(e, 400, "InvalidParameter", path, "%s: a reference needs an 'id'.", path);
        return false;
    }
    if (arm_id_parse(s, id, err, sizeof(err)) < 0 || !arm_id_is(id, type) || !id->group[0] ||
        id->collection[0]) {
        arm_err_set(e, 400, "LinkedInvalidPropertyId", path,
                    "Property id '%.300s' at path '%s' is invalid: expected the id of a %s (%s).",
                    s, path, type, err[0] && !arm_id_is(id, type) ? err : "resource");
        return false;
    }
    if (strcasecmp(id->sub, c->id->subscription)) {
        arm_err_set(e, 400, "LinkedInvalidPropertyId", path,
                    "Property id '%.300s' at path '%s' names subscription '%s', not this "
                    "kumod's ('%s').",
                    s, path, id->sub, c->id->subscription);
        return false;
    }
    return true;
}

const char *arm_size_to_kumo(const char *arm)
{
    if (arm && !strncasecmp(arm, "Standard_", 9) && arm[9]) return arm + 9;
    return arm;
}

void arm_size_name(const char *kumo, char *buf, size_t len)
{
    snprintf(buf, len, "Standard_%s", kumo);
}

static const struct {
    const char *arm, *kumo;
} tiers[] = {
    {"Standard_LRS", "Standard_HDD"}, {"StandardSSD_LRS", "Standard_SSD"},
    {"Premium_LRS", "Premium_SSD"},   {"StandardSSD_ZRS", "Standard_SSD"},
    {"Premium_ZRS", "Premium_SSD"},   {"PremiumV2_LRS", "Premium_SSD"},
    {"UltraSSD_LRS", "Premium_SSD"},
};

const char *arm_tier_to_kumo(const char *sku)
{
    for (size_t i = 0; i < sizeof(tiers) / sizeof(tiers[0]); i++)
        if (!strcasecmp(sku, tiers[i].arm)) return tiers[i].kumo;
    return NULL;
}

const char *arm_tier_name(const char *kumo_tier)
{
    for (size_t i = 0; i < sizeof(tiers) / sizeof(tiers[0]); i++)
        if (!strcasecmp(kumo_tier, tiers[i].kumo)) return tiers[i].arm;
    return "StandardSSD_LRS";
}

/* ---- ARM properties ---- */

json_t *arm_props_load(struct db *db, const char *kind, int64_t row)
{
    sqlite3_stmt *st =
        db_stmt(db, "SELECT props FROM arm_props WHERE kind = ? AND row_id = ?", "ti", kind, row);
    json_t *out = NULL;
    if (st && sqlite3_step(st) == SQLITE_ROW) out = json_loads(db_col_text(st, 0), 0, NULL);
    sqlite3_finalize(st);
    return out;
}

int arm_props_store(struct db *db, const char *kind, int64_t row, const json_t *props)
{
    char *text = json_dumps(props, JSON_COMPACT);
    if (!text) return -1;
    int rc = db_exec(db, "INSERT OR REPLACE INTO arm_props (kind, row_id, props) VALUES (?, ?, ?)",
                     "tit", kind, row, text);
    free(text);
    return rc;
}

/* ---- resource kinds ---- */

extern const struct arm_kind arm_kind_vnet, arm_kind_nsg, arm_kind_pip, arm_kind_nic, arm_kind_lb,
    arm_kind_vm, arm_kind_disk, arm_kind_vmss, arm_kind_autoscale;

static const struct arm_kind *const kinds[] = {
    &arm_kind_vnet, &arm_kind_nsg,  &arm_kind_pip,  &arm_kind_nic,       &arm_kind_lb,
    &arm_kind_vm,   &arm_kind_disk, &arm_kind_vmss, &arm_kind_autoscale,
};

const struct arm_kind *arm_kind_find(const char *type)
{
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (!strcasecmp(kinds[i]->type, type)) return kinds[i];
    return NULL;
}

const char *arm_kind_list(void)
{
    static char list[1024];
    if (!list[0]) {
        size_t at = 0;
        for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]) && at < sizeof(list); i++) {
            int n = snprintf(list + at, sizeof(list) - at, "%s%s", i ? ", " : "", kinds[i]->type);
            if (n > 0) at += (size_t)n;
        }
    }
    return list;
}

int arm_differs(struct arm_apply *a, const char *fmt, ...)
{
    char what[700], id[ARM_ID_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    arm_id_format(a->id, id, sizeof(id));
    return arm_err_set(a->err, 409, "Conflict", id,
                       "The resource '%s' already exists and differs from the template: %s. "
                       "kumo's deployments do not change existing resources: change it with its "
                       "own command, or delete it first.",
                       id, what);
}

int arm_apply_fail(struct arm_apply *a)
{
    return arm_err_from_kerr(a->err, a->t->e, NULL);
}

void arm_path_id(struct arm_ctx *c, struct arm_id *id)
{
    char err[128];
    if (arm_id_parse(c->path, id, err, sizeof(err)) < 0) memset(id, 0, sizeof(*id));
}

void arm_show(struct arm_ctx *c, const struct arm_kind *k)
{
    struct arm_id id;
    arm_path_id(c, &id);
    int64_t g = arm_group(c, id.group);
    if (g < 0) return;
    int64_t row = k->find(c, g, &id);
    json_t *out = row >= 0 ? k->render(c, row) : NULL;
    if (!out) {
        arm_not_found(c, k->type, id.names[id.depth - 1]);
        return;
    }
    arm_reply(c, 200, out);
}

static int insert_op(struct arm_ctx *c, struct arm_op *op, const char *kind, const char *ns,
                     int64_t target, const char *status)
{
    struct db *db = c->k->db;
    if (db_begin(db) < 0) return -1;
    arm_op_prune(db, time_now_ms());
    if (arm_op_insert(db, op, kind, ns, c->path, target, status, NULL, time_now_ms()) < 0 ||
        db_commit(db) < 0) {
        db_rollback(db);
        return -1;
    }
    return 0;
}

void arm_reply_op(struct arm_ctx *c, int status, const char *kind, const char *ns, int64_t target,
                  json_t *body)
{
    struct arm_op op;
    if (insert_op(c, &op, kind, ns, target, NULL) < 0) {
        json_decref(body);
        arm_err_set(&c->err, 500, "InternalServerError", NULL, "cannot record the operation: %s",
                    db_errmsg(c->k->db));
        return;
    }
    arm_accepted(c, status, &op, body);
    arm_op_clear(&op);
}

void arm_reply_done(struct arm_ctx *c, int status, const char *ns, json_t *body)
{
    struct arm_op op;
    if (insert_op(c, &op, "done", ns, 0, "Succeeded") < 0) {
        json_decref(body);
        arm_err_set(&c->err, 500, "InternalServerError", NULL, "cannot record the operation: %s",
                    db_errmsg(c->k->db));
        return;
    }
    arm_accepted(c, status, &op, body);
    arm_op_clear(&op);
}

void arm_put(struct arm_ctx *c, const struct arm_kind *k,
             void (*update)(struct arm_ctx *c, int64_t group, int64_t row))
{
    struct arm_id id;
    arm_path_id(c, &id);
    int64_t g = arm_group(c, id.group);
    if (g < 0) return;
    if (!c->body) {
        arm_err_set(&c->err, 400, "InvalidRequestContent", NULL,
                    "The request content is missing: a PUT needs the resource as JSON.");
        return;
    }
    if (arm_check_location(c, c->body) < 0) return;
    int64_t row = k->find(c, g, &id);
    if (row >= 0) {
        update(c, g, row);
        return;
    }
    char gname[ARM_ID_PART];
    prov_group_name(c->k, g, gname, sizeof(gname));
    struct kerr ke = {0};
    struct prov_tx t;
    if (prov_begin(&t, c->k, &ke) < 0) {
        arm_fail(c, &ke);
        return;
    }
    struct arm_apply a = {c, &t, g, gname, &id, c->body, &c->err};
    row = k->create(&a);
    if (row < 0) {
        if (!c->err.status) arm_fail(c, &ke);
        prov_abort(&t);
        return;
    }
    if (prov_commit(&t) < 0) {
        arm_fail(c, &ke);
        return;
    }
    json_t *out = k->render(c, row);
    char ns[ARM_ID_PART]; /* the type's namespace: its operations' */
    snprintf(ns, sizeof(ns), "%.*s", (int)strcspn(k->type, "/"), k->type);
    if (k->op_kind)
        arm_reply_op(c, k->created_status, k->op_kind, ns, row, out);
    else if (k->created_status == 202)
        arm_reply_done(c, 202, ns, out);
    else
        arm_reply(c, k->created_status, out);
}
