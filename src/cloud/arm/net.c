/*
 * net.c - ARM's Microsoft.Network resources on kumod's networks
 * (docs/azure.md): virtualNetworks and their subnets,
 * networkSecurityGroups and their securityRules, publicIPAddresses,
 * networkInterfaces, and loadBalancers as far as scale sets need them.
 *
 * Each ARM body becomes the /v1 body of docs/api.md (request_check()'s
 * rules) and a call of the provisioning layer; references by id must name
 * resources of the same resource group where kumo's model joins them by
 * name (a subnet's or NIC's NSG, a NIC's public IP), while a NIC's subnet
 * may be in any group. What kumo's model does not keep (tags, a public
 * IP's SKU, a NIC's IP configuration name) is kept in arm_props and shown
 * back. A load balancer is kept whole (arm_resources): kumo balances a
 * scale set through the set itself (scaleset.c reads its rules).
 */
#include "cloud/arm/res.h"
#include "cloud/db.h"
#include "cloud/ipam.h"
#include "cloud/netplane.h"
#include "cloud/requests.h"
#include "cloud/timefmt.h"
#include "cloud/validate.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NET       "Microsoft.Network"
#define VNET_TYPE NET "/virtualNetworks"
#define SUB_TYPE  NET "/virtualNetworks/subnets"
#define NSG_TYPE  NET "/networkSecurityGroups"
#define RULE_TYPE NET "/networkSecurityGroups/securityRules"
#define PIP_TYPE  NET "/publicIPAddresses"
#define NIC_TYPE  NET "/networkInterfaces"
#define LB_TYPE   NET "/loadBalancers"
#define MAX_ITEMS 64

/* ---- shared ---- */

static json_t *ref(const char *id)
{
    return json_pack("{s:s}", "id", id);
}

/* Tags (and the rest) kept for a row: the stored object (new reference,
 * {} when none). */
static json_t *props_of(struct arm_ctx *c, const char *table, int64_t row)
{
    json_t *p = arm_props_load(c->k->db, table, row);
    return p ? p : json_object();
}

static json_t *tags_of(struct arm_ctx *c, const char *table, int64_t row)
{
    json_t *p = props_of(c, table, row);
    json_t *t = json_object_get(p, "tags");
    t = json_is_object(t) ? json_incref(t) : json_object();
    json_decref(p);
    return t;
}

/* Store the body's tags (and extra members of more) for a row. */
static int keep_props(struct db *db, const char *table, int64_t row, const json_t *res,
                      json_t *more)
{
    json_t *p = more ? more : json_object();
    const json_t *tags = arm_get(res, "tags");
    json_object_set_new(p, "tags", json_is_object(tags) ? json_deep_copy(tags) : json_object());
    int rc = arm_props_store(db, table, row, p);
    json_decref(p);
    return rc;
}

/* Check the tags of a body with kumod's rules (as a group's). */
static int check_tags_of(const json_t *res, struct kerr *e)
{
    const json_t *tags = arm_get(res, "tags");
    if (!tags) return 0;
    json_t *kb = json_pack("{s:s, s:O}", "name", "x", "tags", tags);
    int rc = request_check(REQ_GROUP_CREATE, kb, e);
    json_decref(kb);
    return rc;
}

/* A reference that kumo joins by name within the group: its name, or NULL
 * (absent). false with e when it is wrong or in another group. */
static bool same_group_ref(const struct arm_ctx *c, const json_t *o, const char *path,
                           const char *type, const char *group, const char **name,
                           struct arm_id *id, struct arm_err *e)
{
    bool present;
    *name = NULL;
    if (!arm_ref(c, o, path, type, id, &present, e)) return false;
    if (!present) return true;
    if (strcasecmp(id->group, group)) {
        arm_err_set(e, 400, "InvalidResourceReference", path,
                    "%s: kumo joins a %s by name within a resource group: '%.100s' is in resource "
                    "group '%s', not '%s'.",
                    path, type, id->names[id->depth - 1], id->group, group);
        return false;
    }
    *name = id->names[id->depth - 1];
    return true;
}

/* Run request_check on a /v1 body; false with c's error from kumod's. */
static bool checked(enum req_kind kind, const json_t *kb, struct kerr *ke, struct arm_err *e)
{
    if (request_check(kind, kb, ke) == 0) return true;
    arm_err_from_kerr(e, ke, NULL);
    return false;
}

static int64_t find_in(struct arm_ctx *c, const char *table, int64_t g, const char *name)
{
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT id FROM %s WHERE group_id = ? AND name = ?", table);
    return db_int(c->k->db, NULL, -1, sql, "it", g, name);
}

/* ---- subnets ---- */

static json_t *subnet_json(struct arm_ctx *c, int64_t id)
{
    sqlite3_stmt *st = db_stmt(c->k->db,
                               "SELECT g.name, v.name, s.name, s.prefix, ns.name, ng.name"
                               " FROM subnets s JOIN vnets v ON v.id = s.vnet_id"
                               " JOIN groups g ON g.id = v.group_id"
                               " LEFT JOIN nsgs ns ON ns.id = s.nsg_id"
                               " LEFT JOIN groups ng ON ng.id = ns.group_id WHERE s.id = ?",
                               "i", id);
    json_t *out = NULL;
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        char rid[ARM_ID_MAX], nid[ARM_ID_MAX];
        arm_rid(c, rid, sizeof(rid), db_col_text(st, 0), VNET_TYPE "/%s/subnets/%s",
                db_col_text(st, 1), db_col_text(st, 2));
        json_t *p = json_pack("{s:s, s:s}", "provisioningState", "Succeeded", "addressPrefix",
                              db_col_text(st, 3));
        if (!db_col_null(st, 4))
            json_object_set_new(p, "networkSecurityGroup",
                                ref(arm_rid(c, nid, sizeof(nid), db_col_text(st, 5), NSG_TYPE "/%s",
                                            db_col_text(st, 4))));
        json_t *ipc = json_array();
        sqlite3_stmt *ns = db_stmt(c->k->db,
                                   "SELECT g.name, n.name, n.id FROM nics n JOIN groups g"
                                   " ON g.id = n.group_id WHERE n.subnet_id = ? ORDER BY n.name",
                                   "i", id);
        while (ns && sqlite3_step(ns) == SQLITE_ROW) {
            json_t *np = arm_props_load(c->k->db, "nics", sqlite3_column_int64(ns, 2));
            const char *ipn = json_string_value(json_object_get(np, "ipConfiguration"));
            json_array_append_new(ipc, ref(arm_rid(c, nid, sizeof(nid), db_col_text(ns, 0),
                                                   NIC_TYPE "/%s/ipConfigurations/%s",
                                                   db_col_text(ns, 1), ipn ? ipn : "ipconfig1")));
            json_decref(np);
        }
        sqlite3_finalize(ns);
        json_object_set_new(p, "ipConfigurations", ipc);
        out = json_pack("{s:s, s:s, s:s, s:o}", "id", rid, "name", db_col_text(st, 2), "type",
                        SUB_TYPE, "properties", p);
    }
    sqlite3_finalize(st);
    return out;
}

/* One subnet of an ARM body as /v1's {name, addressPrefix, nsg}; NULL +
 * e. at names it ("properties.subnets[0]"). */
static json_t *subnet_body(const struct arm_ctx *c, const json_t *s, const char *name,
                           const char *group, const char *at, struct arm_err *e)
{
    const char *prefix = arm_gets(s, "properties.addressPrefix");
    const json_t *list = arm_get(s, "properties.addressPrefixes");
    if (!prefix && json_array_size(list) == 1) prefix = json_string_value(json_array_get(list, 0));
    if (json_array_size(list) > 1) {
        arm_err_set(e, 400, "InvalidParameter", at,
                    "%s.properties.addressPrefixes: kumo's subnets have one address prefix.", at);
        return NULL;
    }
    char path[160];
    snprintf(path, sizeof(path), "properties.networkSecurityGroup");
    const char *nsg;
    struct arm_id id;
    if (!same_group_ref(c, s, path, NSG_TYPE, group, &nsg, &id, e)) return NULL;
    json_t *kb = json_pack("{s:s*, s:s*}", "name", name, "addressPrefix", prefix);
    if (nsg) json_object_set_new(kb, "nsg", json_string(nsg));
    return kb;
}

static int64_t subnet_find(struct arm_ctx *c, int64_t g, const struct arm_id *id)
{
    int64_t v = find_in(c, "vnets", g, id->names[0]);
    if (v < 0) return -1;
    return db_int(c->k->db, NULL, -1, "SELECT id FROM subnets WHERE vnet_id = ? AND name = ?", "it",
                  v, id->names[1]);
}

/* ---- virtual networks ---- */

static json_t *vnet_json(struct arm_ctx *c, int64_t id)
{
    sqlite3_stmt *st = db_stmt(c->k->db,
                               "SELECT g.name, v.name, v.address_spaces FROM vnets v"
                               " JOIN groups g ON g.id = v.group_id WHERE v.id = ?",
                               "i", id);
    json_t *out = NULL;
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        char rid[ARM_ID_MAX], guid[37];
        arm_rid(c, rid, sizeof(rid), db_col_text(st, 0), VNET_TYPE "/%s", db_col_text(st, 1));
        json_t *spaces = json_loads(db_col_text(st, 2), 0, NULL);
        json_t *subnets = json_array();
        sqlite3_stmt *ss =
            db_stmt(c->k->db, "SELECT id FROM subnets WHERE vnet_id = ? ORDER BY id", "i", id);
        while (ss && sqlite3_step(ss) == SQLITE_ROW) {
            json_t *s = subnet_json(c, sqlite3_column_int64(ss, 0));
            if (s) json_array_append_new(subnets, s);
        }
        sqlite3_finalize(ss);
        arm_row_guid(c, "vnets", id, guid);
        json_t *p = json_pack(
            "{s:s, s:s, s:{s:o}, s:{s:[]}, s:o, s:[], s:b, s:b}", "provisioningState", "Succeeded",
            "resourceGuid", guid, "addressSpace", "addressPrefixes", spaces ? spaces : json_array(),
            "dhcpOptions", "dnsServers", "subnets", subnets, "virtualNetworkPeerings",
            "enableDdosProtection", 0, "enableVmProtection", 0);
        out = arm_resource(rid, db_col_text(st, 1), VNET_TYPE, tags_of(c, "vnets", id), p);
    }
    sqlite3_finalize(st);
    return out;
}

static int64_t vnet_find(struct arm_ctx *c, int64_t g, const struct arm_id *id)
{
    return find_in(c, "vnets", g, id->names[0]);
}

/* The /v1 body of a VNet's ARM body; NULL + e. */
static json_t *vnet_body(const struct arm_ctx *c, const char *name, const char *group,
                         const json_t *res, struct arm_err *e)
{
    const json_t *spaces = arm_get(res, "properties.addressSpace.addressPrefixes");
    json_t *kb =
        json_pack("{s:s, s:O}", "name", name, "addressSpaces", spaces ? spaces : json_array());
    json_t *subnets = json_array();
    json_object_set_new(kb, "subnets", subnets);
    size_t i;
    const json_t *s;
    json_array_foreach(arm_get(res, "properties.subnets"), i, s)
    {
        char at[64];
        snprintf(at, sizeof(at), "properties.subnets[%zu]", i);
        json_t *sb = subnet_body(c, s, arm_gets(s, "name"), group, at, e);
        if (!sb) {
            json_decref(kb);
            return NULL;
        }
        json_array_append_new(subnets, sb);
    }
    return kb;
}

/* Strings of a checked array. */
static size_t strings(const json_t *arr, const char **out, size_t max)
{
    size_t n = 0, i;
    const json_t *el;
    json_array_foreach(arr, i, el)
    {
        if (n < max) out[n++] = json_string_value(el);
    }
    return n;
}

static int64_t vnet_create(struct arm_apply *a)
{
    const char *name = a->id->names[0];
    json_t *kb = vnet_body(a->c, name, a->group_name, a->res, a->err);
    if (!kb) return -1;
    const char *spaces[16];
    struct prov_subnet_spec subnets[MAX_ITEMS];
    struct prov_vnet_spec s = {.name = name, .spaces = spaces, .subnets = subnets};
    int64_t id = -1;
    if (check_tags_of(a->res, a->t->e) < 0 || !checked(REQ_VNET_CREATE, kb, a->t->e, a->err))
        goto out;
    s.nspaces = strings(json_object_get(kb, "addressSpaces"), spaces, 16);
    size_t i;
    const json_t *sb;
    json_array_foreach(json_object_get(kb, "subnets"), i, sb)
    {
        if (s.nsubnets < MAX_ITEMS)
            subnets[s.nsubnets++] =
                (struct prov_subnet_spec){json_string_value(json_object_get(sb, "name")),
                                          json_string_value(json_object_get(sb, "addressPrefix")),
                                          json_string_value(json_object_get(sb, "nsg"))};
    }
    id = prov_vnet_insert(a->t, a->group, &s);
    if (id >= 0 && keep_props(a->t->k->db, "vnets", id, a->res, NULL) < 0)
        id = prov_db_error(a->t, "virtual network create");
out:
    if (id < 0 && !a->err->status) arm_apply_fail(a);
    json_decref(kb);
    return id;
}

/* PUT of an existing VNet: its address spaces, its subnets (added, their
 * NSG changed, the missing ones deleted), its tags. */
static void vnet_update(struct arm_ctx *c, int64_t g, int64_t row)
{
    struct arm_id id;
    arm_path_id(c, &id);
    const char *name = id.names[0];
    struct kerr ke = {0};
    json_t *kb = vnet_body(c, name, id.group, c->body, &c->err);
    if (!kb) return;
    if (check_tags_of(c->body, &ke) < 0 || !checked(REQ_VNET_CREATE, kb, &ke, &c->err)) {
        if (!c->err.status) arm_fail(c, &ke);
        json_decref(kb);
        return;
    }
    const char *spaces[16];
    size_t ns = strings(json_object_get(kb, "addressSpaces"), spaces, 16);
    int rc = 0;
    if (arm_get(c->body, "properties.addressSpace"))
        rc = prov_vnet_set_spaces(c->k, g, name, spaces, ns, &ke);
    const json_t *given = json_object_get(kb, "subnets");
    size_t i;
    const json_t *sb;
    if (rc == 0 && arm_get(c->body, "properties.subnets")) {
        json_array_foreach(given, i, sb)
        {
            const char *sn = json_string_value(json_object_get(sb, "name"));
            const char *prefix = json_string_value(json_object_get(sb, "addressPrefix"));
            const char *nsg = json_string_value(json_object_get(sb, "nsg"));
            char cur[64] = "";
            if (db_text(c->k->db, cur, sizeof(cur),
                        "SELECT prefix FROM subnets WHERE vnet_id = ? AND name = ?", "it", row,
                        sn)) {
                if (strcmp(cur, prefix)) {
                    arm_err_set(&c->err, 400, "InvalidParameter", "properties.subnets",
                                "Subnet '%s' has the address prefix %s: kumo cannot change it "
                                "(to %s); delete the subnet and make it again.",
                                sn, cur, prefix);
                    rc = -1;
                    break;
                }
                rc = prov_subnet_set_nsg(c->k, g, name, sn, nsg, &ke) < 0 ? -1 : 0;
            } else {
                struct prov_subnet_spec s = {sn, prefix, nsg};
                rc = prov_subnet_create(c->k, g, name, &s, &ke) < 0 ? -1 : 0;
            }
            if (rc < 0) break;
        }
        /* the subnets not in the body go */
        char names[MAX_ITEMS][80];
        size_t n = 0;
        sqlite3_stmt *st =
            db_stmt(c->k->db, "SELECT name FROM subnets WHERE vnet_id = ?", "i", row);
        while (st && n < MAX_ITEMS && sqlite3_step(st) == SQLITE_ROW)
            snprintf(names[n++], sizeof(names[0]), "%s", db_col_text(st, 0));
        sqlite3_finalize(st);
        for (size_t j = 0; rc == 0 && j < n; j++) {
            bool keep = false;
            json_array_foreach(given, i, sb)
            {
                if (!strcasecmp(json_string_value(json_object_get(sb, "name")), names[j]))
                    keep = true;
            }
            if (!keep) rc = prov_subnet_delete(c->k, g, name, names[j], &ke);
        }
    }
    json_decref(kb);
    if (rc == 0 && arm_get(c->body, "tags")) {
        if (db_begin(c->k->db) == 0 && keep_props(c->k->db, "vnets", row, c->body, NULL) == 0)
            db_commit(c->k->db);
        else
            db_rollback(c->k->db);
    }
    if (rc < 0) {
        if (!c->err.status) arm_fail(c, &ke);
        return;
    }
    arm_reply(c, 200, vnet_json(c, row));
}

/* The VNet has the template's address spaces and at least its subnets,
 * with their prefixes and NSGs. */
static bool vnet_same(struct arm_apply *a, int64_t row)
{
    struct db *db = a->t->k->db;
    json_t *kb = vnet_body(a->c, a->id->names[0], a->group_name, a->res, a->err);
    if (!kb) return false;
    bool same = false;
    char text[1024] = "";
    db_text(db, text, sizeof(text), "SELECT address_spaces FROM vnets WHERE id = ?", "i", row);
    json_t *have = json_loads(text, 0, NULL);
    const json_t *want = json_object_get(kb, "addressSpaces");
    size_t i, j;
    const json_t *w, *h;
    bool spaces = json_array_size(have) == json_array_size(want);
    json_array_foreach(want, i, w)
    {
        bool found = false;
        json_array_foreach(have, j, h)
        {
            if (json_equal(w, h)) found = true;
        }
        spaces = spaces && found;
    }
    json_decref(have);
    if (!spaces) {
        arm_differs(a, "its address spaces are %s", text);
        goto out;
    }
    json_array_foreach(json_object_get(kb, "subnets"), i, w)
    {
        const char *sn = json_string_value(json_object_get(w, "name"));
        const char *nsg = json_string_value(json_object_get(w, "nsg"));
        char prefix[64] = "", cur_nsg[80] = "";
        if (!db_text(db, prefix, sizeof(prefix),
                     "SELECT prefix FROM subnets WHERE vnet_id = ? AND name = ?", "it", row, sn)) {
            arm_differs(a, "it has no subnet '%s'", sn);
            goto out;
        }
        db_text(db, cur_nsg, sizeof(cur_nsg),
                "SELECT n.name FROM subnets s JOIN nsgs n ON n.id = s.nsg_id WHERE s.vnet_id = ?"
                " AND s.name = ?",
                "it", row, sn);
        if (strcmp(prefix, json_string_value(json_object_get(w, "addressPrefix"))) ||
            strcasecmp(cur_nsg, nsg ? nsg : "")) {
            arm_differs(a, "its subnet '%s' has prefix %s and NSG '%s'", sn, prefix, cur_nsg);
            goto out;
        }
    }
    same = true;
out:
    json_decref(kb);
    return same;
}

const struct arm_kind arm_kind_vnet = {VNET_TYPE, "vnets", vnet_create, vnet_find,
                                       vnet_json, NULL,    201,         vnet_same};

static void vnet_put(struct arm_ctx *c)
{
    arm_put(c, &arm_kind_vnet, vnet_update);
}

static void vnet_get(struct arm_ctx *c)
{
    arm_show(c, &arm_kind_vnet);
}

static void vnet_list(struct arm_ctx *c)
{
    int64_t g = arm_group(c, c->p[1]);
    if (g >= 0)
        arm_reply_rows(c, vnet_json, "SELECT id FROM vnets WHERE group_id = ? ORDER BY name", "i",
                       g);
}

static void vnet_list_all(struct arm_ctx *c)
{
    arm_reply_rows(c, vnet_json, "SELECT id FROM vnets ORDER BY name", "");
}

static void vnet_delete(struct arm_ctx *c)
{
    int64_t g = arm_group(c, c->p[1]);
    if (g < 0) return;
    struct kerr ke = {0};
    if (find_in(c, "vnets", g, c->p[2]) < 0) {
        arm_reply(c, 204, NULL);
        return;
    }
    if (prov_vnet_delete(c->k, g, c->p[2], &ke) < 0)
        arm_fail(c, &ke);
    else
        arm_reply(c, 200, NULL);
}

/* ---- subnets (as children) ---- */

static void subnet_get(struct arm_ctx *c)
{
    struct arm_id id;
    arm_path_id(c, &id);
    int64_t g = arm_group(c, id.group);
    if (g < 0) return;
    int64_t row = subnet_find(c, g, &id);
    if (row < 0) {
        arm_not_found(c, SUB_TYPE, id.names[1]);
        return;
    }
    arm_reply(c, 200, subnet_json(c, row));
}

static void subnet_list(struct arm_ctx *c)
{
    int64_t g = arm_group(c, c->p[1]);
    if (g < 0) return;
    int64_t v = find_in(c, "vnets", g, c->p[2]);
    if (v < 0) {
        arm_not_found(c, VNET_TYPE, c->p[2]);
        return;
    }
    arm_reply_rows(c, subnet_json, "SELECT id FROM subnets WHERE vnet_id = ? ORDER BY id", "i", v);
}

static void subnet_put(struct arm_ctx *c)
{
    struct arm_id id;
    arm_path_id(c, &id);
    int64_t g = arm_group(c, id.group);
    if (g < 0) return;
    if (find_in(c, "vnets", g, id.names[0]) < 0) {
        arm_not_found(c, VNET_TYPE, id.names[0]);
        return;
    }
    json_t *kb = subnet_body(c, c->body, id.names[1], id.group, "", &c->err);
    if (!kb) return;
    struct kerr ke = {0};
    int64_t row = subnet_find(c, g, &id);
    int status = 200;
    const char *prefix = json_string_value(json_object_get(kb, "addressPrefix"));
    const char *nsg = json_string_value(json_object_get(kb, "nsg"));
    if (!checked(REQ_SUBNET_CREATE, kb, &ke, &c->err)) {
        json_decref(kb);
        return;
    }
    if (row >= 0) {
        char cur[64] = "";
        db_text(c->k->db, cur, sizeof(cur), "SELECT prefix FROM subnets WHERE id = ?", "i", row);
        if (strcmp(cur, prefix))
            arm_err_set(&c->err, 400, "InvalidParameter", "properties.addressPrefix",
                        "Subnet '%s' has the address prefix %s: kumo cannot change it (to %s); "
                        "delete the subnet and make it again.",
                        id.names[1], cur, prefix);
        else if (prov_subnet_set_nsg(c->k, g, id.names[0], id.names[1], nsg, &ke) < 0)
            arm_fail(c, &ke);
    } else {
        struct prov_subnet_spec s = {id.names[1], prefix, nsg};
        row = prov_subnet_create(c->k, g, id.names[0], &s, &ke);
        if (row < 0) arm_fail(c, &ke);
        status = 201;
    }
    json_decref(kb);
    if (!c->err.status) arm_reply(c, status, subnet_json(c, row));
}

static void subnet_delete(struct arm_ctx *c)
{
    struct arm_id id;
    arm_path_id(c, &id);
    int64_t g = arm_group(c, id.group);
    if (g < 0) return;
    if (subnet_find(c, g, &id) < 0) {
        arm_reply(c, 204, NULL);
        return;
    }
    struct kerr ke = {0};
    if (prov_subnet_delete(c->k, g, id.names[0], id.names[1], &ke) < 0)
        arm_fail(c, &ke);
    else
        arm_reply(c, 200, NULL);
}

/* ---- network security groups and rules ---- */

static const struct {
    const char *name, *direction, *src, *dst, *access;
    int priority;
} default_rules[] = {
    {"AllowVnetInBound", "Inbound", "VirtualNetwork", "VirtualNetwork", "Allow", 65000},
    {"AllowAzureLoadBalancerInBound", "Inbound", "AzureLoadBalancer", "*", "Allow", 65001},
    {"DenyAllInBound", "Inbound", "*", "*", "Deny", 65500},
    {"AllowVnetOutBound", "Outbound", "VirtualNetwork", "VirtualNetwork", "Allow", 65000},
    {"AllowInternetOutBound", "Outbound", "*", "Internet", "Allow", 65001},
    {"DenyAllOutBound", "Outbound", "*", "*", "Deny", 65500},
};

/* One list member as ARM writes it: "x" for one, [..] for more. */
static void one_or_many(json_t *p, const char *one, const char *many, json_t *list)
{
    if (json_array_size(list) == 1) {
        json_object_set(p, one, json_array_get(list, 0));
        json_object_set_new(p, many, json_array());
    } else {
        json_object_set_new(p, one, json_string(""));
        json_object_set(p, many, list);
    }
}

/* "80,443" -> ["80","443"] */
static json_t *split_ports(const char *s)
{
    json_t *arr = json_array();
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s", s);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
        json_array_append_new(arr, json_string(t));
    return arr;
}

static json_t *rule_json(struct arm_ctx *c, int64_t id)
{
    sqlite3_stmt *st =
        db_stmt(c->k->db,
                "SELECT g.name, n.name, r.name, r.priority, r.direction, r.access, r.protocol,"
                " r.src_prefixes, r.dst_prefixes, r.src_ports, r.dst_ports, r.description"
                " FROM nsg_rules r JOIN nsgs n ON n.id = r.nsg_id JOIN groups g"
                " ON g.id = n.group_id WHERE r.id = ?",
                "i", id);
    json_t *out = NULL;
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        char rid[ARM_ID_MAX];
        arm_rid(c, rid, sizeof(rid), db_col_text(st, 0), NSG_TYPE "/%s/securityRules/%s",
                db_col_text(st, 1), db_col_text(st, 2));
        json_t *p = json_pack("{s:s, s:s, s:s, s:I, s:s, s:s}", "provisioningState", "Succeeded",
                              "protocol", db_col_text(st, 6), "access", db_col_text(st, 5),
                              "priority", (json_int_t)sqlite3_column_int64(st, 3), "direction",
                              db_col_text(st, 4), "description", db_col_text(st, 11));
        json_t *sp = json_loads(db_col_text(st, 7), 0, NULL),
               *dp = json_loads(db_col_text(st, 8), 0, NULL);
        json_t *so = split_ports(db_col_text(st, 9)), *dpo = split_ports(db_col_text(st, 10));
        one_or_many(p, "sourceAddressPrefix", "sourceAddressPrefixes", sp);
        one_or_many(p, "destinationAddressPrefix", "destinationAddressPrefixes", dp);
        one_or_many(p, "sourcePortRange", "sourcePortRanges", so);
        one_or_many(p, "destinationPortRange", "destinationPortRanges", dpo);
        json_decref(sp);
        json_decref(dp);
        json_decref(so);
        json_decref(dpo);
        out = json_pack("{s:s, s:s, s:s, s:o}", "id", rid, "name", db_col_text(st, 2), "type",
                        RULE_TYPE, "properties", p);
    }
    sqlite3_finalize(st);
    return out;
}

/* An ARM rule's properties as /v1's rule object; NULL + e. */
static json_t *rule_body(const char *name, const json_t *p, const char *at, struct arm_err *e)
{
    json_t *kb = json_object();
    if (name) json_object_set_new(kb, "name", json_string(name));
    static const char *const copy[] = {"priority",
                                       "direction",
                                       "access",
                                       "protocol",
                                       "description",
                                       "sourceAddressPrefix",
                                       "destinationAddressPrefix"};
    for (size_t i = 0; i < sizeof(copy) / sizeof(copy[0]); i++) {
        const json_t *v = arm_get(p, copy[i]);
        if (v && !(json_is_string(v) && !*json_string_value(v) && i >= 5))
            json_object_set(kb, copy[i], (json_t *)v);
    }
    static const char *const lists[][2] = {
        {"sourceAddressPrefixes", "sourceAddressPrefix"},
        {"destinationAddressPrefixes", "destinationAddressPrefix"},
    };
    for (size_t i = 0; i < 2; i++) {
        const json_t *v = arm_get(p, lists[i][0]);
        if (json_array_size(v) == 0) continue;
        if (json_object_get(kb, lists[i][1])) {
            arm_err_set(e, 400, "SecurityRuleParameterContainsUnsupportedValue", at,
                        "%s: give %s or %s, not both.", at, lists[i][1], lists[i][0]);
            json_decref(kb);
            return NULL;
        }
        json_object_set(kb, lists[i][0], (json_t *)v);
    }
    static const char *const ports[][2] = {
        {"sourcePortRange", "sourcePortRanges"},
        {"destinationPortRange", "destinationPortRanges"},
    };
    for (size_t i = 0; i < 2; i++) {
        const char *one = arm_gets(p, ports[i][0]);
        const json_t *many = arm_get(p, ports[i][1]);
        if (one && !*one) one = NULL;
        if (one && json_array_size(many)) {
            arm_err_set(e, 400, "SecurityRuleParameterContainsUnsupportedValue", at,
                        "%s: give %s or %s, not both.", at, ports[i][0], ports[i][1]);
            json_decref(kb);
            return NULL;
        }
        if (one) {
            json_object_set_new(kb, ports[i][0], json_string(one));
        } else if (json_array_size(many)) {
            char joined[1024] = "";
            size_t j, at2 = 0;
            const json_t *el;
            json_array_foreach(many, j, el)
            {
                const char *s = json_string_value(el);
                int w =
                    snprintf(joined + at2, sizeof(joined) - at2, "%s%s", j ? "," : "", s ? s : "?");
                if (w > 0 && (size_t)w < sizeof(joined) - at2) at2 += (size_t)w;
            }
            json_object_set_new(kb, ports[i][0], json_string(joined));
        }
    }
    return kb;
}

/* A checked and normalised rule for prov; false + e. */
static bool rule_norm_of(const char *name, const json_t *props, enum req_kind kind, const char *at,
                         struct rule_norm *out, struct kerr *ke, struct arm_err *e)
{
    json_t *kb = rule_body(name, props, at, e);
    if (!kb) return false;
    bool ok = checked(kind, kb, ke, e) && rule_normalize(kb, "", out, ke) == 0;
    if (!ok && !e->status) arm_err_from_kerr(e, ke, NULL);
    json_decref(kb);
    return ok;
}

static json_t *nsg_json(struct arm_ctx *c, int64_t id)
{
    sqlite3_stmt *st = db_stmt(c->k->db,
                               "SELECT g.name, n.name FROM nsgs n JOIN groups g"
                               " ON g.id = n.group_id WHERE n.id = ?",
                               "i", id);
    json_t *out = NULL;
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        char rid[ARM_ID_MAX], x[ARM_ID_MAX * 2], guid[37];
        const char *group = db_col_text(st, 0);
        arm_rid(c, rid, sizeof(rid), group, NSG_TYPE "/%s", db_col_text(st, 1));
        json_t *rules = json_array(), *defaults = json_array(), *nics = json_array(),
               *subnets = json_array();
        sqlite3_stmt *rs = db_stmt(
            c->k->db, "SELECT id FROM nsg_rules WHERE nsg_id = ? ORDER BY priority", "i", id);
        while (rs && sqlite3_step(rs) == SQLITE_ROW) {
            json_t *r = rule_json(c, sqlite3_column_int64(rs, 0));
            if (r) json_array_append_new(rules, r);
        }
        sqlite3_finalize(rs);
        for (size_t i = 0; i < sizeof(default_rules) / sizeof(default_rules[0]); i++) {
            snprintf(x, sizeof(x), "%s/defaultSecurityRules/%s", rid, default_rules[i].name);
            json_array_append_new(
                defaults,
                json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:[], "
                          "s:[], s:[], s:[]}}",
                          "id", x, "name", default_rules[i].name, "type",
                          NSG_TYPE "/defaultSecurityRules", "properties", "provisioningState",
                          "Succeeded", "protocol", "*", "sourcePortRange", "*",
                          "destinationPortRange", "*", "sourceAddressPrefix", default_rules[i].src,
                          "destinationAddressPrefix", default_rules[i].dst, "access",
                          default_rules[i].access, "priority", default_rules[i].priority,
                          "direction", default_rules[i].direction, "sourcePortRanges",
                          "destinationPortRanges", "sourceAddressPrefixes",
                          "destinationAddressPrefixes"));
        }
        sqlite3_stmt *us = db_stmt(c->k->db,
                                   "SELECT g.name, n.name FROM nics n JOIN groups g"
                                   " ON g.id = n.group_id WHERE n.nsg_id = ? ORDER BY n.name",
                                   "i", id);
        while (us && sqlite3_step(us) == SQLITE_ROW)
            json_array_append_new(nics, ref(arm_rid(c, x, sizeof(x), db_col_text(us, 0),
                                                    NIC_TYPE "/%s", db_col_text(us, 1))));
        sqlite3_finalize(us);
        us = db_stmt(c->k->db,
                     "SELECT g.name, v.name, s.name FROM subnets s JOIN vnets v ON v.id ="
                     " s.vnet_id JOIN groups g ON g.id = v.group_id WHERE s.nsg_id = ?"
                     " ORDER BY v.name, s.name",
                     "i", id);
        while (us && sqlite3_step(us) == SQLITE_ROW)
            json_array_append_new(subnets, ref(arm_rid(c, x, sizeof(x), db_col_text(us, 0),
                                                       VNET_TYPE "/%s/subnets/%s",
                                                       db_col_text(us, 1), db_col_text(us, 2))));
        sqlite3_finalize(us);
        arm_row_guid(c, "nsgs", id, guid);
        json_t *p = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o}", "provisioningState", "Succeeded",
                              "resourceGuid", guid, "securityRules", rules, "defaultSecurityRules",
                              defaults, "networkInterfaces", nics, "subnets", subnets);
        out = arm_resource(rid, db_col_text(st, 1), NSG_TYPE, tags_of(c, "nsgs", id), p);
    }
    sqlite3_finalize(st);
    return out;
}

static int64_t nsg_find(struct arm_ctx *c, int64_t g, const struct arm_id *id)
{
    return find_in(c, "nsgs", g, id->names[0]);
}

/* The rules of an NSG body, checked as /v1's NSG create checks its list
 * (each rule, unique names, unique priorities per direction) and
 * normalised; -1 + e. n gets the count. */
static int nsg_rules(const char *name, const json_t *res, struct rule_norm *rules, size_t *n,
                     struct kerr *ke, struct arm_err *e)
{
    *n = 0;
    json_t *list = json_array();
    json_t *kb = json_pack("{s:s, s:o}", "name", name, "rules", list);
    size_t i;
    const json_t *r;
    json_array_foreach(arm_get(res, "properties.securityRules"), i, r)
    {
        char at[64];
        snprintf(at, sizeof(at), "properties.securityRules[%zu]", i);
        json_t *kr = rule_body(arm_gets(r, "name"), arm_get(r, "properties"), at, e);
        if (!kr) {
            json_decref(kb);
            return -1;
        }
        json_array_append_new(list, kr);
    }
    int rc = checked(REQ_NSG_CREATE, kb, ke, e) ? 0 : -1;
    json_array_foreach(list, i, r)
    {
        if (rc < 0) break;
        if (rule_normalize(r, "", &rules[*n], ke) < 0) {
            arm_err_from_kerr(e, ke, NULL);
            rc = -1;
        } else {
            (*n)++;
        }
    }
    if (rc < 0)
        for (size_t j = 0; j < *n; j++)
            rule_norm_free(&rules[j]);
    json_decref(kb);
    return rc;
}

static int64_t nsg_create(struct arm_apply *a)
{
    const char *name = a->id->names[0];
    struct rule_norm rules[200];
    size_t n;
    if (check_tags_of(a->res, a->t->e) < 0) return arm_apply_fail(a);
    if (nsg_rules(name, a->res, rules, &n, a->t->e, a->err) < 0) return -1;
    int64_t id = prov_nsg_insert(a->t, a->group, name, rules, n);
    for (size_t i = 0; i < n; i++)
        rule_norm_free(&rules[i]);
    if (id >= 0 && keep_props(a->t->k->db, "nsgs", id, a->res, NULL) < 0)
        id = prov_db_error(a->t, "network security group create");
    if (id < 0 && !a->err->status) arm_apply_fail(a);
    return id;
}

/* PUT of an existing NSG: with securityRules, they replace its rules. */
static void nsg_update(struct arm_ctx *c, int64_t g, int64_t row)
{
    struct arm_id id;
    arm_path_id(c, &id);
    struct kerr ke = {0};
    if (check_tags_of(c->body, &ke) < 0) {
        arm_fail(c, &ke);
        return;
    }
    (void)g;
    if (arm_get(c->body, "properties.securityRules")) {
        struct rule_norm rules[200];
        size_t n;
        if (nsg_rules(id.names[0], c->body, rules, &n, &ke, &c->err) < 0) return;
        int rc = 0;
        char names[256][RULE_NAME_MAX + 1];
        size_t nn = 0;
        sqlite3_stmt *st =
            db_stmt(c->k->db, "SELECT name FROM nsg_rules WHERE nsg_id = ?", "i", row);
        while (st && nn < 256 && sqlite3_step(st) == SQLITE_ROW)
            snprintf(names[nn++], sizeof(names[0]), "%s", db_col_text(st, 0));
        sqlite3_finalize(st);
        for (size_t j = 0; rc == 0 && j < nn; j++) {
            bool keep = false;
            for (size_t i = 0; i < n; i++)
                if (!strcasecmp(rules[i].name, names[j])) keep = true;
            if (!keep) rc = prov_nsg_rule_delete(c->k, row, id.names[0], names[j], &ke);
        }
        for (size_t i = 0; i < n; i++) {
            bool created;
            if (rc == 0)
                rc = prov_nsg_rule_set(c->k, row, id.names[0], &rules[i], false, &created, &ke);
            rule_norm_free(&rules[i]);
        }
        if (rc < 0) {
            arm_fail(c, &ke);
            return;
        }
    }
    if (arm_get(c->body, "tags")) {
        if (db_begin(c->k->db) == 0 && keep_props(c->k->db, "nsgs", row, c->body, NULL) == 0)
            db_commit(c->k->db);
        else
            db_rollback(c->k->db);
    }
    arm_reply(c, 200, nsg_json(c, row));
}

/* The NSG has exactly the template's rules. */
static bool nsg_same(struct arm_apply *a, int64_t row)
{
    struct rule_norm rules[200];
    size_t n;
    struct kerr ke = {0};
    if (nsg_rules(a->id->names[0], a->res, rules, &n, &ke, a->err) < 0) return false;
    struct db *db = a->t->k->db;
    bool same = db_int(db, NULL, -1, "SELECT count(*) FROM nsg_rules WHERE nsg_id = ?", "i", row) ==
                (int64_t)n;
    for (size_t i = 0; i < n && same; i++)
        same = db_int(db, NULL, 0,
                      "SELECT count(*) FROM nsg_rules WHERE nsg_id = ? AND name = ? AND"
                      " priority = ? AND direction = ? AND access = ? AND protocol = ? AND"
                      " src_prefixes = ? AND dst_prefixes = ? AND src_ports = ? AND dst_ports = ?",
                      "itittttttt", row, rules[i].name, (int64_t)rules[i].priority,
                      rules[i].direction, rules[i].access, rules[i].protocol, rules[i].src_prefixes,
                      rules[i].dst_prefixes, rules[i].src_ports, rules[i].dst_ports) == 1;
    for (size_t i = 0; i < n; i++)
        rule_norm_free(&rules[i]);
    if (!same) arm_differs(a, "its security rules are not the template's");
    return same;
}

const struct arm_kind arm_kind_nsg = {NSG_TYPE, "nsgs", nsg_create, nsg_find,
                                      nsg_json, NULL,   201,        nsg_same};

static void nsg_put(struct arm_ctx *c)
{
    arm_put(c, &arm_kind_nsg, nsg_update);
}

static void nsg_get(struct arm_ctx *c)
{
    arm_show(c, &arm_kind_nsg);
}

static void nsg_list(struct arm_ctx *c)
{
    int64_t g = arm_group(c, c->p[1]);
    if (g >= 0)
        arm_reply_rows(c, nsg_json, "SELECT id FROM nsgs WHERE group_id = ? ORDER BY name", "i", g);
}

static void nsg_list_all(struct arm_ctx *c)
{
    arm_reply_rows(c, nsg_json, "SELECT id FROM nsgs ORDER BY name", "");
}

static void nsg_delete(struct arm_ctx *c)
{
    int64_t g = arm_group(c, c->p[1]);
    if (g < 0) return;
    if (find_in(c, "nsgs", g, c->p[2]) < 0) {
        arm_reply(c, 204, NULL);
        return;
    }
    struct kerr ke = {0};
    if (prov_nsg_delete(c->k, g, c->p[2], &ke) < 0)
        arm_fail(c, &ke);
    else
        arm_reply(c, 200, NULL);
}

static int64_t rule_find(struct arm_ctx *c, int64_t nsg, const char *name)
{
    return db_int(c->k->db, NULL, -1, "SELECT id FROM nsg_rules WHERE nsg_id = ? AND name = ?",
                  "it", nsg, name);
}

/* The NSG of a rule's path (c->p[1] group, p[2] NSG); -1 with c->err. */
static int64_t rule_nsg(struct arm_ctx *c)
{
    int64_t g = arm_group(c, c->p[1]);
    if (g < 0) return -1;
    int64_t nsg = find_in(c, "nsgs", g, c->p[2]);
    if (nsg < 0) arm_not_found(c, NSG_TYPE, c->p[2]);
    return nsg;
}

static void rule_get(struct arm_ctx *c)
{
    int64_t nsg = rule_nsg(c);
    if (nsg < 0) return;
    int64_t r = rule_find(c, nsg, c->p[3]);
    if (r < 0)
        arm_not_found(c, RULE_TYPE, c->p[3]);
    else
        arm_reply(c, 200, rule_json(c, r));
}

static void rule_list(struct arm_ctx *c)
{
    int64_t nsg = rule_nsg(c);
    if (nsg >= 0)
        arm_reply_rows(c, rule_json, "SELECT id FROM nsg_rules WHERE nsg_id = ? ORDER BY priority",
                       "i", nsg);
}

static void rule_put(struct arm_ctx *c)
{
    int64_t nsg = rule_nsg(c);
    if (nsg < 0) return;
    struct rule_norm r;
    struct kerr ke = {0};
    if (!rule_norm_of(c->p[3], arm_get(c->body, "properties"), REQ_RULE_PUT, "properties", &r, &ke,
                      &c->err))
        return;
    bool created = false;
    int rc = prov_nsg_rule_set(c->k, nsg, c->p[2], &r, false, &created, &ke);
    rule_norm_free(&r);
    if (rc < 0) {
        arm_fail(c, &ke);
        return;
    }
    arm_reply(c, created ? 201 : 200, rule_json(c, rule_find(c, nsg, c->p[3])));
}

static void rule_delete(struct arm_ctx *c)
{
    int64_t nsg = rule_nsg(c);
    if (nsg < 0) return;
    if (rule_find(c, nsg, c->p[3]) < 0) {
        arm_reply(c, 204, NULL);
        return;
    }
    struct kerr ke = {0};
    if (prov_nsg_rule_delete(c->k, nsg, c->p[2], c->p[3], &ke) < 0)
        arm_fail(c, &ke);
    else
        arm_reply(c, 200, NULL);
}

/* ---- public IPs ---- */

static json_t *pip_json(struct arm_ctx *c, int64_t id)
{
    sqlite3_stmt *st =
        db_stmt(c->k->db,
                "SELECT g.name, p.name, n.id, n.name, ng.name FROM public_ips p"
                " JOIN groups g ON g.id = p.group_id LEFT JOIN nics n ON n.public_ip_id = p.id"
                " LEFT JOIN groups ng ON ng.id = n.group_id WHERE p.id = ?",
                "i", id);
    json_t *out = NULL;
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        char rid[ARM_ID_MAX], x[ARM_ID_MAX], guid[37];
        arm_rid(c, rid, sizeof(rid), db_col_text(st, 0), PIP_TYPE "/%s", db_col_text(st, 1));
        json_t *props = props_of(c, "public_ips", id);
        json_t *ports = json_array();
        sqlite3_stmt *ps = db_stmt(c->k->db,
                                   "SELECT protocol, port, host_port FROM public_ip_ports"
                                   " WHERE public_ip_id = ? ORDER BY protocol DESC, port",
                                   "i", id);
        while (ps && sqlite3_step(ps) == SQLITE_ROW)
            json_array_append_new(ports,
                                  json_pack("{s:s, s:I, s:I}", "protocol", db_col_text(ps, 0),
                                            "port", (json_int_t)sqlite3_column_int64(ps, 1),
                                            "hostPort", (json_int_t)sqlite3_column_int64(ps, 2)));
        sqlite3_finalize(ps);
        arm_row_guid(c, "public_ips", id, guid);
        const char *alloc = json_string_value(json_object_get(props, "allocation"));
        json_t *p = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:[], s:o}", "provisioningState",
                              "Succeeded", "resourceGuid", guid, "ipAddress",
                              c->k->cfg.public_address, "publicIPAddressVersion", "IPv4",
                              "publicIPAllocationMethod", alloc ? alloc : "Static",
                              "idleTimeoutInMinutes", 4, "ipTags", "ports", ports);
        if (!db_col_null(st, 2)) {
            json_t *np = arm_props_load(c->k->db, "nics", sqlite3_column_int64(st, 2));
            const char *ipn = json_string_value(json_object_get(np, "ipConfiguration"));
            json_object_set_new(
                p, "ipConfiguration",
                ref(arm_rid(c, x, sizeof(x), db_col_text(st, 4), NIC_TYPE "/%s/ipConfigurations/%s",
                            db_col_text(st, 3), ipn ? ipn : "ipconfig1")));
            json_decref(np);
        }
        const char *sku = json_string_value(json_object_get(props, "sku"));
        json_t *tags = json_object_get(props, "tags");
        out = arm_resource(rid, db_col_text(st, 1), PIP_TYPE,
                           json_is_object(tags) ? json_incref(tags) : NULL, p);
        json_object_set_new(
            out, "sku", json_pack("{s:s, s:s}", "name", sku ? sku : "Basic", "tier", "Regional"));
        json_decref(props);
    }
    sqlite3_finalize(st);
    return out;
}

static int64_t pip_find(struct arm_ctx *c, int64_t g, const struct arm_id *id)
{
    return find_in(c, "public_ips", g, id->names[0]);
}

/* The SKU and allocation a PIP body asks for; false + e when unknown. */
static bool pip_options(const json_t *res, const char **sku, const char **alloc, struct arm_err *e)
{
    *sku = arm_gets(res, "sku.name");
    *alloc = arm_gets(res, "properties.publicIPAllocationMethod");
    if (*sku && strcasecmp(*sku, "Basic") && strcasecmp(*sku, "Standard")) {
        arm_err_set(e, 400, "InvalidParameter", "sku.name",
                    "sku.name: '%.40s' is not a public IP SKU (Basic or Standard).", *sku);
        return false;
    }
    if (*alloc && strcasecmp(*alloc, "Static") && strcasecmp(*alloc, "Dynamic")) {
        arm_err_set(e, 400, "InvalidParameter", "properties.publicIPAllocationMethod",
                    "properties.publicIPAllocationMethod: '%.40s' is not Static or Dynamic.",
                    *alloc);
        return false;
    }
    if (*sku) *sku = !strcasecmp(*sku, "Basic") ? "Basic" : "Standard";
    if (*alloc) *alloc = !strcasecmp(*alloc, "Static") ? "Static" : "Dynamic";
    return true;
}

#define MAX_PORTS 16

static int64_t pip_create(struct arm_apply *a)
{
    const char *name = a->id->names[0], *sku, *alloc;
    if (!pip_options(a->res, &sku, &alloc, a->err)) return -1;
    /* kumo's own property: the guest ports the address forwards
     * (properties.ports, as /v1's; default 22, 80 and 443) */
    const json_t *given = arm_get(a->res, "properties.ports");
    json_t *kb = json_pack("{s:s}", "name", name);
    if (given) json_object_set(kb, "ports", (json_t *)given);
    int64_t id = -1;
    if (check_tags_of(a->res, a->t->e) < 0 || !checked(REQ_PIP_CREATE, kb, a->t->e, a->err))
        goto out;
    struct prov_port ports[MAX_PORTS];
    size_t n = 0, i;
    const json_t *p;
    json_array_foreach(given, i, p)
    {
        if (n < MAX_PORTS) {
            const json_t *hp = json_object_get(p, "hostPort");
            ports[n++] = (struct prov_port){json_string_value(json_object_get(p, "protocol")),
                                            json_integer_value(json_object_get(p, "port")),
                                            hp ? json_integer_value(hp) : -1};
        }
    }
    id = prov_pip_insert(a->t, a->group, name, given ? ports : NULL, n, 0);
    if (id >= 0 &&
        keep_props(a->t->k->db, "public_ips", id, a->res,
                   json_pack("{s:s, s:s}", "sku", sku ? sku : "Basic", "allocation",
                             alloc ? alloc
                                   : (sku && !strcmp(sku, "Standard") ? "Static" : "Dynamic"))) < 0)
        id = prov_db_error(a->t, "public IP create");
out:
    json_decref(kb);
    if (id < 0 && !a->err->status) arm_apply_fail(a);
    return id;
}

static void pip_update(struct arm_ctx *c, int64_t g, int64_t row)
{
    (void)g;
    const char *sku, *alloc;
    struct kerr ke = {0};
    if (!pip_options(c->body, &sku, &alloc, &c->err)) return;
    if (check_tags_of(c->body, &ke) < 0) {
        arm_fail(c, &ke);
        return;
    }
    json_t *props = props_of(c, "public_ips", row);
    if (sku) json_object_set_new(props, "sku", json_string(sku));
    if (alloc) json_object_set_new(props, "allocation", json_string(alloc));
    if (db_begin(c->k->db) == 0 && keep_props(c->k->db, "public_ips", row, c->body, props) == 0)
        db_commit(c->k->db);
    else
        db_rollback(c->k->db);
    arm_reply(c, 200, pip_json(c, row));
}

/* A public IP of the template's SKU. */
static bool pip_same(struct arm_apply *a, int64_t row)
{
    const char *sku, *alloc;
    if (!pip_options(a->res, &sku, &alloc, a->err)) return false;
    json_t *props = arm_props_load(a->t->k->db, "public_ips", row);
    const char *cur = json_string_value(json_object_get(props, "sku"));
    bool same = !sku || !strcmp(sku, cur ? cur : "Basic");
    if (!same) arm_differs(a, "its SKU is %s", cur ? cur : "Basic");
    json_decref(props);
    return same;
}

const struct arm_kind arm_kind_pip = {PIP_TYPE, "public_ips", pip_create, pip_find,
                                      pip_json, NULL,         201,        pip_same};

static void pip_put(struct arm_ctx *c)
{
    arm_put(c, &arm_kind_pip, pip_update);
}

static void pip_get(struct arm_ctx *c)
{
    arm_show(c, &arm_kind_pip);
}

static void pip_list(struct arm_ctx *c)
{
    int64_t g = arm_group(c, c->p[1]);
    if (g >= 0)
        arm_reply_rows(c, pip_json, "SELECT id FROM public_ips WHERE group_id = ? ORDER BY name",
                       "i", g);
}

static void pip_list_all(struct arm_ctx *c)
{
    arm_reply_rows(c, pip_json, "SELECT id FROM public_ips ORDER BY name", "");
}

static void pip_delete(struct arm_ctx *c)
{
    int64_t g = arm_group(c, c->p[1]);
    if (g < 0) return;
    if (find_in(c, "public_ips", g, c->p[2]) < 0) {
        arm_reply(c, 204, NULL);
        return;
    }
    struct kerr ke = {0};
    if (prov_pip_delete(c->k, g, c->p[2], &ke) < 0)
        arm_fail(c, &ke);
    else
        arm_reply(c, 200, NULL);
}

/* ---- network interfaces ---- */

static json_t *nic_json(struct arm_ctx *c, int64_t id)
{
    sqlite3_stmt *st = db_stmt(
        c->k->db,
        "SELECT g.name, n.name, sg.name, v.name, s.name, n.private_ip, n.static_ip,"
        " ns.name, nsg_g.name, p.name, pg.name, vm.name, vmg.name, n.nic_index"
        " FROM nics n JOIN groups g ON g.id = n.group_id JOIN subnets s ON s.id = n.subnet_id"
        " JOIN vnets v ON v.id = s.vnet_id JOIN groups sg ON sg.id = v.group_id"
        " LEFT JOIN nsgs ns ON ns.id = n.nsg_id LEFT JOIN groups nsg_g ON nsg_g.id = ns.group_id"
        " LEFT JOIN public_ips p ON p.id = n.public_ip_id LEFT JOIN groups pg ON pg.id ="
        " p.group_id LEFT JOIN vms vm ON vm.id = n.vm_id LEFT JOIN groups vmg ON vmg.id ="
        " vm.group_id WHERE n.id = ?",
        "i", id);
    json_t *out = NULL;
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        char rid[ARM_ID_MAX], x[ARM_ID_MAX * 2], ip[NET_IP4_STRLEN], mac[24], guid[37];
        const char *group = db_col_text(st, 0), *name = db_col_text(st, 1);
        arm_rid(c, rid, sizeof(rid), group, NIC_TYPE "/%s", name);
        json_t *props = props_of(c, "nics", id);
        const char *ipn = json_string_value(json_object_get(props, "ipConfiguration"));
        if (!ipn) ipn = "ipconfig1";
        snprintf(x, sizeof(x), "%s/ipConfigurations/%s", rid, ipn);
        json_t *ipp =
            json_pack("{s:s, s:s, s:s, s:b, s:s}", "provisioningState", "Succeeded",
                      "privateIPAddress", net_ip4_str((uint32_t)sqlite3_column_int64(st, 5), ip),
                      "privateIPAllocationMethod", sqlite3_column_int(st, 6) ? "Static" : "Dynamic",
                      "primary", 1, "privateIPAddressVersion", "IPv4");
        char sid[ARM_ID_MAX];
        json_object_set_new(
            ipp, "subnet",
            ref(arm_rid(c, sid, sizeof(sid), db_col_text(st, 2), VNET_TYPE "/%s/subnets/%s",
                        db_col_text(st, 3), db_col_text(st, 4))));
        if (!db_col_null(st, 9)) {
            char pid[ARM_ID_MAX];
            json_object_set_new(ipp, "publicIPAddress",
                                ref(arm_rid(c, pid, sizeof(pid), db_col_text(st, 10),
                                            PIP_TYPE "/%s", db_col_text(st, 9))));
        }
        snprintf(x, sizeof(x), "%s/ipConfigurations/%s", rid, ipn);
        json_t *ipc = json_pack("{s:s, s:s, s:s, s:o}", "id", x, "name", ipn, "type",
                                NIC_TYPE "/ipConfigurations", "properties", ipp);
        netplane_nic_mac(id, mac);
        for (char *m = mac; *m; m++)
            *m = *m == ':' ? '-' : (char)(*m >= 'a' && *m <= 'f' ? *m - 32 : *m);
        arm_row_guid(c, "nics", id, guid);
        json_t *p = json_pack(
            "{s:s, s:s, s:[o], s:s, s:b, s:b, s:b, s:{s:[], s:[]}, s:s}", "provisioningState",
            "Succeeded", "resourceGuid", guid, "ipConfigurations", ipc, "macAddress", mac,
            "primary", db_col_null(st, 13) || sqlite3_column_int64(st, 13) == 0,
            "enableAcceleratedNetworking", 0, "enableIPForwarding", 0, "dnsSettings", "dnsServers",
            "appliedDnsServers", "nicType", "Standard");
        if (!db_col_null(st, 7))
            json_object_set_new(p, "networkSecurityGroup",
                                ref(arm_rid(c, x, sizeof(x), db_col_text(st, 8), NSG_TYPE "/%s",
                                            db_col_text(st, 7))));
        if (!db_col_null(st, 11))
            json_object_set_new(
                p, "virtualMachine",
                ref(arm_rid(c, x, sizeof(x), db_col_text(st, 12),
                            "Microsoft.Compute/virtualMachines/%s", db_col_text(st, 11))));
        json_t *tags = json_object_get(props, "tags");
        out = arm_resource(rid, name, NIC_TYPE, json_is_object(tags) ? json_incref(tags) : NULL, p);
        json_decref(props);
    }
    sqlite3_finalize(st);
    return out;
}

static int64_t nic_find(struct arm_ctx *c, int64_t g, const struct arm_id *id)
{
    return find_in(c, "nics", g, id->names[0]);
}

/* What a NIC body names: the subnet (its row), NSG and public IP (names
 * in the group, or NULL), the private IP (or NULL), the IP configuration's
 * name. false + e. */
struct nic_refs {
    int64_t subnet;
    const char *vnet, *subnet_name, *nsg, *pip, *ip, *ipc_name;
    struct arm_id sid, pid, nid; /* where the names above point */
};

static bool nic_refs(struct arm_ctx *c, const json_t *res, const char *group, struct nic_refs *r,
                     struct arm_err *e)
{
    memset(r, 0, sizeof(*r));
    const json_t *ipcs = arm_get(res, "properties.ipConfigurations");
    if (json_array_size(ipcs) != 1)
        return arm_err_set(e, 400, "InvalidParameter", "properties.ipConfigurations",
                           "properties.ipConfigurations: kumo's network interfaces have exactly "
                           "one IP configuration (this has %zu).",
                           json_array_size(ipcs)) == 0;
    const json_t *ipc = json_array_get(ipcs, 0);
    r->ipc_name = arm_gets(ipc, "name");
    bool present;
    if (!arm_ref(c, ipc, "properties.subnet", SUB_TYPE, &r->sid, &present, e)) return false;
    if (!present)
        return arm_err_set(e, 400, "InvalidParameter", "properties.ipConfigurations[0]",
                           "properties.ipConfigurations[0].properties.subnet: missing (a network "
                           "interface is in a subnet).") == 0;
    int64_t sg =
        db_int(c->k->db, NULL, -1, "SELECT id FROM groups WHERE name = ?", "t", r->sid.group);
    int64_t v = sg < 0 ? -1 : find_in(c, "vnets", sg, r->sid.names[0]);
    r->subnet =
        v < 0 ? -1
              : db_int(c->k->db, NULL, -1, "SELECT id FROM subnets WHERE vnet_id = ? AND name = ?",
                       "it", v, r->sid.names[1]);
    if (r->subnet < 0)
        return arm_err_set(e, 400, "InvalidResourceReference",
                           "properties.ipConfigurations[0].properties.subnet",
                           "Resource %s/%s/subnets/%s referenced by the network interface was "
                           "not found (resource group '%s').",
                           VNET_TYPE, r->sid.names[0], r->sid.names[1], r->sid.group) == 0;
    r->vnet = r->sid.names[0];
    r->subnet_name = r->sid.names[1];
    if (!same_group_ref(c, ipc, "properties.publicIPAddress", PIP_TYPE, group, &r->pip, &r->pid,
                        e) ||
        !same_group_ref(c, res, "properties.networkSecurityGroup", NSG_TYPE, group, &r->nsg,
                        &r->nid, e))
        return false;
    const char *method = arm_gets(ipc, "properties.privateIPAllocationMethod");
    if (method && !strcasecmp(method, "Static"))
        r->ip = arm_gets(ipc, "properties.privateIPAddress");
    return true;
}

static int64_t nic_create(struct arm_apply *a)
{
    struct kumod *k = a->t->k;
    const char *name = a->id->names[0];
    struct nic_refs r;
    if (!nic_refs(a->c, a->res, a->group_name, &r, a->err)) return -1;
    json_t *kb =
        json_pack("{s:s, s:s, s:s, s:s*, s:s*, s:s*}", "name", name, "vnet", r.vnet, "subnet",
                  r.subnet_name, "privateIp", r.ip, "nsg", r.nsg, "publicIp", r.pip);
    int64_t id = -1;
    if (check_tags_of(a->res, a->t->e) < 0 || !checked(REQ_NIC_CREATE, kb, a->t->e, a->err))
        goto out;
    int64_t nsg = 0, pip = 0;
    if (r.nsg && (nsg = prov_find(k, "nsgs", a->group, r.nsg, "network security group",
                                  "networkSecurityGroup", a->t->e)) < 0)
        goto out;
    if (r.pip && (pip = prov_find(k, "public_ips", a->group, r.pip, "public IP", "publicIPAddress",
                                  a->t->e)) < 0)
        goto out;
    id = prov_nic_insert(a->t, a->group, name, r.subnet, r.ip, nsg, pip, 0, "privateIPAddress");
    if (id >= 0 && keep_props(k->db, "nics", id, a->res,
                              json_pack("{s:s}", "ipConfiguration",
                                        r.ipc_name ? r.ipc_name : "ipconfig1")) < 0)
        id = prov_db_error(a->t, "network interface create");
out:
    json_decref(kb);
    if (id < 0 && !a->err->status) arm_apply_fail(a);
    return id;
}

/* PUT of an existing NIC: its NSG and public IP (the subnet and address
 * stay). */
static void nic_update(struct arm_ctx *c, int64_t g, int64_t row)
{
    struct arm_id id;
    arm_path_id(c, &id);
    struct nic_refs r;
    if (!nic_refs(c, c->body, id.group, &r, &c->err)) return;
    if (r.subnet !=
        db_int(c->k->db, NULL, 0, "SELECT subnet_id FROM nics WHERE id = ?", "i", row)) {
        arm_err_set(&c->err, 400, "InvalidParameter", "properties.ipConfigurations[0]",
                    "Network interface '%s' is in another subnet: kumo cannot move it; make a "
                    "new one.",
                    id.names[0]);
        return;
    }
    struct kerr ke = {0};
    if (check_tags_of(c->body, &ke) < 0 ||
        prov_nic_update(c->k, g, id.names[0], true, r.nsg, true, r.pip, &ke) < 0) {
        arm_fail(c, &ke);
        return;
    }
    json_t *props = props_of(c, "nics", row);
    if (db_begin(c->k->db) == 0 && keep_props(c->k->db, "nics", row, c->body, props) == 0)
        db_commit(c->k->db);
    else
        db_rollback(c->k->db);
    arm_reply(c, 200, nic_json(c, row));
}

/* A NIC no VM has, in the template's subnet, with its NSG and public IP. */
static bool nic_same(struct arm_apply *a, int64_t row)
{
    struct nic_refs r;
    if (!nic_refs(a->c, a->res, a->group_name, &r, a->err)) return false;
    struct db *db = a->t->k->db;
    char nsg[80] = "", pip[80] = "", vm[80] = "";
    int64_t subnet = db_int(db, NULL, -1, "SELECT subnet_id FROM nics WHERE id = ?", "i", row);
    db_text(db, nsg, sizeof(nsg),
            "SELECT s.name FROM nics n JOIN nsgs s ON s.id = n.nsg_id WHERE n.id = ?", "i", row);
    db_text(db, pip, sizeof(pip),
            "SELECT p.name FROM nics n JOIN public_ips p ON p.id = n.public_ip_id WHERE n.id = ?",
            "i", row);
    if (db_text(db, vm, sizeof(vm),
                "SELECT v.name FROM nics n JOIN vms v ON v.id = n.vm_id WHERE"
                " n.id = ?",
                "i", row))
        return arm_differs(a, "virtual machine '%s' has it", vm) == 0;
    if (subnet != r.subnet || strcasecmp(nsg, r.nsg ? r.nsg : "") ||
        strcasecmp(pip, r.pip ? r.pip : ""))
        return arm_differs(a, "its subnet, NSG ('%s') or public IP ('%s') differ", nsg, pip) == 0;
    return true;
}

const struct arm_kind arm_kind_nic = {NIC_TYPE, "nics", nic_create, nic_find,
                                      nic_json, NULL,   201,        nic_same};

static void nic_put(struct arm_ctx *c)
{
    arm_put(c, &arm_kind_nic, nic_update);
}

static void nic_get(struct arm_ctx *c)
{
    arm_show(c, &arm_kind_nic);
}

static void nic_list(struct arm_ctx *c)
{
    int64_t g = arm_group(c, c->p[1]);
    if (g >= 0)
        arm_reply_rows(c, nic_json, "SELECT id FROM nics WHERE group_id = ? ORDER BY name", "i", g);
}

static void nic_list_all(struct arm_ctx *c)
{
    arm_reply_rows(c, nic_json, "SELECT id FROM nics ORDER BY name", "");
}

static void nic_delete(struct arm_ctx *c)
{
    int64_t g = arm_group(c, c->p[1]);
    if (g < 0) return;
    if (find_in(c, "nics", g, c->p[2]) < 0) {
        arm_reply(c, 204, NULL);
        return;
    }
    struct kerr ke = {0};
    if (prov_nic_delete(c->k, g, c->p[2], &ke) < 0)
        arm_fail(c, &ke);
    else
        arm_reply(c, 200, NULL);
}

/* ---- load balancers ---- */

/* The stored body with ARM's ids on its parts (new reference). */
static json_t *lb_json(struct arm_ctx *c, int64_t id)
{
    sqlite3_stmt *st = db_stmt(c->k->db,
                               "SELECT g.name, r.name, r.body FROM arm_resources r JOIN groups g"
                               " ON g.id = r.group_id WHERE r.id = ?",
                               "i", id);
    json_t *out = NULL;
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        char rid[ARM_ID_MAX], guid[37];
        arm_rid(c, rid, sizeof(rid), db_col_text(st, 0), LB_TYPE "/%s", db_col_text(st, 1));
        json_t *body = json_loads(db_col_text(st, 2), 0, NULL);
        json_t *p = json_object_get(body, "properties");
        p = json_is_object(p) ? json_deep_copy(p) : json_object();
        static const char *const parts[] = {
            "frontendIPConfigurations", "backendAddressPools", "loadBalancingRules", "probes",
            "inboundNatRules",          "inboundNatPools",     "outboundRules"};
        for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
            json_t *list = json_object_get(p, parts[i]);
            if (!json_is_array(list)) {
                json_object_set_new(p, parts[i], json_array());
                continue;
            }
            size_t j;
            json_t *el;
            json_array_foreach(list, j, el)
            {
                const char *n = json_string_value(json_object_get(el, "name"));
                if (!json_is_object(el) || !n) continue;
                char x[ARM_ID_MAX * 2];
                snprintf(x, sizeof(x), "%s/%s/%s", rid, parts[i], n);
                json_object_set_new(el, "id", json_string(x));
            }
        }
        arm_row_guid(c, "arm_resources", id, guid);
        json_object_set_new(p, "provisioningState", json_string("Succeeded"));
        json_object_set_new(p, "resourceGuid", json_string(guid));
        json_t *tags = json_object_get(body, "tags");
        out = arm_resource(rid, db_col_text(st, 1), LB_TYPE,
                           json_is_object(tags) ? json_incref(tags) : NULL, p);
        json_t *sku = json_object_get(body, "sku");
        json_object_set_new(out, "sku",
                            json_is_object(sku) ? json_incref(sku)
                                                : json_pack("{s:s}", "name", "Basic"));
        json_decref(body);
    }
    sqlite3_finalize(st);
    return out;
}

static int64_t lb_find(struct arm_ctx *c, int64_t g, const struct arm_id *id)
{
    return db_int(c->k->db, NULL, -1,
                  "SELECT id FROM arm_resources WHERE group_id = ? AND type = ? AND name = ?",
                  "itt", g, LB_TYPE, id->names[0]);
}

/* A load balancer's body as kept: tags, sku, properties; its frontends'
 * public IPs must exist. NULL + e. */
static json_t *lb_body(struct arm_ctx *c, const json_t *res, struct kerr *ke, struct arm_err *e)
{
    if (check_tags_of(res, ke) < 0) {
        arm_err_from_kerr(e, ke, NULL);
        return NULL;
    }
    size_t i;
    const json_t *fe;
    json_array_foreach(arm_get(res, "properties.frontendIPConfigurations"), i, fe)
    {
        struct arm_id id;
        bool present;
        if (!arm_ref(c, fe, "properties.publicIPAddress", PIP_TYPE, &id, &present, e)) return NULL;
        if (!present) continue;
        int64_t g =
            db_int(c->k->db, NULL, -1, "SELECT id FROM groups WHERE name = ?", "t", id.group);
        if (g < 0 || find_in(c, "public_ips", g, id.names[0]) < 0) {
            arm_err_set(e, 400, "InvalidResourceReference", "properties.frontendIPConfigurations",
                        "Resource %s/%s referenced by the load balancer was not found.", PIP_TYPE,
                        id.names[0]);
            return NULL;
        }
    }
    json_t *body = json_object();
    static const char *const keep[] = {"tags", "sku", "properties"};
    for (size_t j = 0; j < 3; j++) {
        const json_t *v = arm_get(res, keep[j]);
        if (v) json_object_set(body, keep[j], (json_t *)v);
    }
    return body;
}

static int64_t lb_create(struct arm_apply *a)
{
    json_t *body = lb_body(a->c, a->res, a->t->e, a->err);
    if (!body) return -1;
    struct db *db = a->t->k->db;
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    json_t *name = json_string(a->id->names[0]);
    bool ok = check_name(name, "name", a->t->e) == 0; /* kumod's rule for names */
    json_decref(name);
    int rc = ok ? db_exec(db,
                          "INSERT INTO arm_resources (group_id, type, name, body, created_ms)"
                          " VALUES (?, ?, ?, ?, ?)",
                          "ittti", a->group, LB_TYPE, a->id->names[0], text, time_now_ms())
                : -1;
    free(text);
    if (!ok) return arm_apply_fail(a);
    if (rc < 0) {
        prov_db_error(a->t, "load balancer create");
        return arm_apply_fail(a);
    }
    return db_last_id(db);
}

static void lb_update(struct arm_ctx *c, int64_t g, int64_t row)
{
    (void)g;
    struct kerr ke = {0};
    json_t *body = lb_body(c, c->body, &ke, &c->err);
    if (!body) return;
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (prov_exec(c->k, &ke, false, "load balancer update",
                  "UPDATE arm_resources SET body = ? WHERE id = ?", "ti", text, row) < 0)
        arm_fail(c, &ke);
    else
        arm_reply(c, 200, lb_json(c, row));
    free(text);
}

const struct arm_kind arm_kind_lb = {
    LB_TYPE, "arm_resources", lb_create, lb_find, lb_json, NULL, 201, NULL};

static void lb_put(struct arm_ctx *c)
{
    arm_put(c, &arm_kind_lb, lb_update);
}

static void lb_get(struct arm_ctx *c)
{
    arm_show(c, &arm_kind_lb);
}

static void lb_list(struct arm_ctx *c)
{
    int64_t g = arm_group(c, c->p[1]);
    if (g >= 0)
        arm_reply_rows(c, lb_json,
                       "SELECT id FROM arm_resources WHERE group_id = ? AND type = ? ORDER BY name",
                       "it", g, LB_TYPE);
}

static void lb_delete(struct arm_ctx *c)
{
    int64_t g = arm_group(c, c->p[1]);
    if (g < 0) return;
    struct arm_id id;
    arm_path_id(c, &id);
    int64_t row = lb_find(c, g, &id);
    if (row < 0) {
        arm_reply(c, 204, NULL);
        return;
    }
    char pattern[ARM_ID_MAX], user[80];
    snprintf(pattern, sizeof(pattern), "%%/loadBalancers/%s/%%", c->p[2]);
    if (db_text(c->k->db, user, sizeof(user),
                "SELECT s.name FROM arm_props p JOIN vmss s ON s.id = p.row_id WHERE p.kind ="
                " 'vmss' AND s.group_id = ? AND p.props LIKE ?",
                "it", g, pattern)) {
        arm_err_set(&c->err, 409, "InUse", NULL,
                    "Load balancer '%s' is used by scale set '%s': delete the scale set first.",
                    c->p[2], user);
        return;
    }
    struct kerr ke = {0};
    if (prov_exec(c->k, &ke, false, "load balancer delete",
                  "DELETE FROM arm_resources WHERE id = ?", "i", row) < 0)
        arm_fail(c, &ke);
    else
        arm_reply(c, 200, NULL);
}

/* ---- routes ---- */

#define RGP  "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Network"
#define SUBP "/subscriptions/{}/providers/Microsoft.Network"
const struct arm_route arm_routes_net[] = {
    {"GET", RGP "/virtualNetworks", (void *)vnet_list, 0, VNET_TYPE},
    {"GET", SUBP "/virtualNetworks", (void *)vnet_list_all, 0, VNET_TYPE},
    {"GET", RGP "/virtualNetworks/{}", (void *)vnet_get, 0, VNET_TYPE},
    {"PUT", RGP "/virtualNetworks/{}", (void *)vnet_put, 0, VNET_TYPE},
    {"DELETE", RGP "/virtualNetworks/{}", (void *)vnet_delete, 0, VNET_TYPE},
    {"GET", RGP "/virtualNetworks/{}/subnets", (void *)subnet_list, 0, SUB_TYPE},
    {"GET", RGP "/virtualNetworks/{}/subnets/{}", (void *)subnet_get, 0, SUB_TYPE},
    {"PUT", RGP "/virtualNetworks/{}/subnets/{}", (void *)subnet_put, 0, SUB_TYPE},
    {"DELETE", RGP "/virtualNetworks/{}/subnets/{}", (void *)subnet_delete, 0, SUB_TYPE},
    {"GET", RGP "/networkSecurityGroups", (void *)nsg_list, 0, NSG_TYPE},
    {"GET", SUBP "/networkSecurityGroups", (void *)nsg_list_all, 0, NSG_TYPE},
    {"GET", RGP "/networkSecurityGroups/{}", (void *)nsg_get, 0, NSG_TYPE},
    {"PUT", RGP "/networkSecurityGroups/{}", (void *)nsg_put, 0, NSG_TYPE},
    {"DELETE", RGP "/networkSecurityGroups/{}", (void *)nsg_delete, 0, NSG_TYPE},
    {"GET", RGP "/networkSecurityGroups/{}/securityRules", (void *)rule_list, 0, RULE_TYPE},
    {"GET", RGP "/networkSecurityGroups/{}/securityRules/{}", (void *)rule_get, 0, RULE_TYPE},
    {"PUT", RGP "/networkSecurityGroups/{}/securityRules/{}", (void *)rule_put, 0, RULE_TYPE},
    {"DELETE", RGP "/networkSecurityGroups/{}/securityRules/{}", (void *)rule_delete, 0, RULE_TYPE},
    {"GET", RGP "/publicIPAddresses", (void *)pip_list, 0, PIP_TYPE},
    {"GET", SUBP "/publicIPAddresses", (void *)pip_list_all, 0, PIP_TYPE},
    {"GET", RGP "/publicIPAddresses/{}", (void *)pip_get, 0, PIP_TYPE},
    {"PUT", RGP "/publicIPAddresses/{}", (void *)pip_put, 0, PIP_TYPE},
    {"DELETE", RGP "/publicIPAddresses/{}", (void *)pip_delete, 0, PIP_TYPE},
    {"GET", RGP "/networkInterfaces", (void *)nic_list, 0, NIC_TYPE},
    {"GET", SUBP "/networkInterfaces", (void *)nic_list_all, 0, NIC_TYPE},
    {"GET", RGP "/networkInterfaces/{}", (void *)nic_get, 0, NIC_TYPE},
    {"PUT", RGP "/networkInterfaces/{}", (void *)nic_put, 0, NIC_TYPE},
    {"DELETE", RGP "/networkInterfaces/{}", (void *)nic_delete, 0, NIC_TYPE},
    {"GET", RGP "/loadBalancers", (void *)lb_list, 0, LB_TYPE},
    {"GET", RGP "/loadBalancers/{}", (void *)lb_get, 0, LB_TYPE},
    {"PUT", RGP "/loadBalancers/{}", (void *)lb_put, 0, LB_TYPE},
    {"DELETE", RGP "/loadBalancers/{}", (void *)lb_delete, 0, LB_TYPE},
    {NULL, NULL, NULL, 0, NULL},
};
