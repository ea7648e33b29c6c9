/*
 * api_nsg.c - the API's network security groups and their rules
 * (docs/api.md "Network security groups"). Rule fields are checked by
 * requests.c/validate.c with src/network's parsers; the provisioning layer
 * (prov_nsg.c) stores them; here they are listed with the six default
 * rules.
 */
#include "cloud/api.h"

#include "cloud/body.h"
#include "cloud/db.h"
#include "cloud/provision.h"
#include "cloud/requests.h"
#include "cloud/validate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
    const char *name;
    int priority;
    const char *direction, *src, *dst, *access;
} default_rules[] = {
    {"AllowVNetInBound", 65000, "Inbound", "VirtualNetwork", "VirtualNetwork", "Allow"},
    {"AllowAzureLoadBalancerInBound", 65001, "Inbound", "AzureLoadBalancer", "*", "Allow"},
    {"DenyAllInBound", 65500, "Inbound", "*", "*", "Deny"},
    {"AllowVnetOutBound", 65000, "Outbound", "VirtualNetwork", "VirtualNetwork", "Allow"},
    {"AllowInternetOutBound", 65001, "Outbound", "*", "Internet", "Allow"},
    {"DenyAllOutBound", 65500, "Outbound", "*", "*", "Deny"},
};
#define NDEFAULT (sizeof(default_rules) / sizeof(default_rules[0]))

static json_t *default_rule_json(size_t i)
{
    return json_pack("{s:s,s:i,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:b}", "name", default_rules[i].name,
                     "priority", default_rules[i].priority, "direction", default_rules[i].direction,
                     "access", default_rules[i].access, "protocol", "*", "sourceAddressPrefix",
                     default_rules[i].src, "sourcePortRange", "*", "destinationAddressPrefix",
                     default_rules[i].dst, "destinationPortRange", "*", "description",
                     "default rule", "default", 1);
}

/* One prefix -> "xAddressPrefix": "p"; several -> "xAddressPrefixes": [..]. */
static void put_prefixes(json_t *r, const char *one, const char *many, const char *text)
{
    json_t *arr = json_loads(text, 0, NULL);
    if (json_array_size(arr) == 1) {
        json_object_set(r, one, json_array_get(arr, 0));
        json_decref(arr);
    } else {
        json_object_set_new(r, many, arr ? arr : json_array());
    }
}

static json_t *rule_row_json(sqlite3_stmt *st)
{
    json_t *r = json_pack("{s:s,s:I,s:s,s:s,s:s}", "name", db_col_text(st, 0), "priority",
                          (json_int_t)sqlite3_column_int64(st, 1), "direction", db_col_text(st, 2),
                          "access", db_col_text(st, 3), "protocol", db_col_text(st, 4));
    put_prefixes(r, "sourceAddressPrefix", "sourceAddressPrefixes", db_col_text(st, 5));
    json_object_set_new(r, "sourcePortRange", json_string(db_col_text(st, 7)));
    put_prefixes(r, "destinationAddressPrefix", "destinationAddressPrefixes", db_col_text(st, 6));
    json_object_set_new(r, "destinationPortRange", json_string(db_col_text(st, 8)));
    json_object_set_new(r, "description", json_string(db_col_text(st, 9)));
    return r;
}

#define RULE_COLS                                                                                  \
    "name, priority, direction, access, protocol, src_prefixes, dst_prefixes, src_ports,"          \
    " dst_ports, description"

json_t *api_nsg_json(struct kumod *k, int64_t id)
{
    sqlite3_stmt *st = db_stmt(k->db,
                               "SELECT g.name, n.name, n.created_ms FROM nsgs n"
                               " JOIN groups g ON g.id = n.group_id WHERE n.id = ?",
                               "i", id);
    if (!st) return NULL;
    json_t *out = NULL;
    if (sqlite3_step(st) == SQLITE_ROW) {
        char rid[256];
        snprintf(rid, sizeof(rid), "/resourceGroups/%s/networkSecurityGroups/%s",
                 db_col_text(st, 0), db_col_text(st, 1));
        json_t *rules = json_array(), *defaults = json_array(), *subnets = json_array(),
               *nics = json_array();
        sqlite3_stmt *rs = db_stmt(k->db,
                                   "SELECT " RULE_COLS " FROM nsg_rules WHERE nsg_id = ?"
                                   " ORDER BY direction, priority",
                                   "i", id);
        while (rs && sqlite3_step(rs) == SQLITE_ROW)
            json_array_append_new(rules, rule_row_json(rs));
        sqlite3_finalize(rs);
        for (size_t i = 0; i < NDEFAULT; i++)
            json_array_append_new(defaults, default_rule_json(i));
        rs =
            db_stmt(k->db,
                    "SELECT v.name || '/' || s.name FROM subnets s JOIN vnets v ON v.id = s.vnet_id"
                    " WHERE s.nsg_id = ? ORDER BY 1",
                    "i", id);
        while (rs && sqlite3_step(rs) == SQLITE_ROW)
            json_array_append_new(subnets, json_string(db_col_text(rs, 0)));
        sqlite3_finalize(rs);
        rs = db_stmt(k->db, "SELECT name FROM nics WHERE nsg_id = ? ORDER BY name", "i", id);
        while (rs && sqlite3_step(rs) == SQLITE_ROW)
            json_array_append_new(nics, json_string(db_col_text(rs, 0)));
        sqlite3_finalize(rs);
        out =
            json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:s,s:o}", "id", rid, "name",
                      db_col_text(st, 1), "type", "networkSecurityGroup", "resourceGroup",
                      db_col_text(st, 0), "location", "local", "rules", rules, "defaultRules",
                      defaults, "subnets", subnets, "networkInterfaces", nics, "provisioningState",
                      "Succeeded", "createdAt", api_time(sqlite3_column_int64(st, 2)));
    }
    sqlite3_finalize(st);
    return out;
}

static void nsgs_list(struct api_ctx *c)
{
    api_list_in_group(c, "nsgs", api_nsg_json);
}

static int64_t nsg_lookup(struct api_ctx *c)
{
    int64_t g = api_group(c, c->p[0]);
    if (g < 0) return -1;
    return api_find(c, "nsgs", g, c->p[1], "network security group", NULL);
}

static void nsg_show(struct api_ctx *c)
{
    int64_t id = nsg_lookup(c);
    if (id >= 0) api_reply(c, 200, api_nsg_json(c->k, id));
}

static void nsg_create(struct api_ctx *c)
{
    int64_t g = api_group(c, c->p[0]);
    if (g < 0) return;
    const json_t *given = json_object_get(c->body, "rules");
    struct rule_norm *rules = calloc(json_array_size(given) + 1, sizeof(*rules));
    size_t n = 0, i;
    const json_t *r;
    int rc = rules ? 0 : kerr_internal(&c->err, "out of memory");
    json_array_foreach(given, i, r)
    {
        char prefix[64];
        snprintf(prefix, sizeof(prefix), "rules[%zu]", i);
        if (rc < 0 || (rc = rule_normalize(r, prefix, &rules[n], &c->err)) < 0) break;
        n++;
    }
    int64_t id = -1;
    struct prov_tx t;
    if (rc == 0 && prov_begin(&t, c->k, &c->err) == 0) {
        id = prov_nsg_insert(&t, g, body_str(c->body, "name", ""), rules, n);
        if (id < 0 || prov_commit(&t) < 0) {
            prov_abort(&t);
            id = -1;
        }
    }
    for (i = 0; i < n; i++)
        rule_norm_free(&rules[i]);
    free(rules);
    if (id < 0) return;
    api_reply_at(c, 201, api_nsg_json, id);
}

static void nsg_delete(struct api_ctx *c)
{
    int64_t g = api_group(c, c->p[0]);
    if (g >= 0 && prov_nsg_delete(c->k, g, c->p[1], &c->err) == 0) api_reply(c, 204, NULL);
}

static void rules_list(struct api_ctx *c)
{
    int64_t id = nsg_lookup(c);
    if (id < 0) return;
    sqlite3_stmt *st = db_stmt(c->k->db,
                               "SELECT " RULE_COLS " FROM nsg_rules WHERE nsg_id = ?"
                               " ORDER BY direction, priority",
                               "i", id);
    json_t *arr = json_array();
    while (st && sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(arr, rule_row_json(st));
    sqlite3_finalize(st);
    api_reply(c, 200, json_pack("{s:o}", "value", arr));
}

static int default_index(const char *name)
{
    for (size_t i = 0; i < NDEFAULT; i++)
        if (strcasecmp(name, default_rules[i].name) == 0) return (int)i;
    return -1;
}

static void rule_show(struct api_ctx *c)
{
    int64_t id = nsg_lookup(c);
    if (id < 0) return;
    int d = default_index(c->p[2]);
    if (d >= 0) {
        api_reply(c, 200, default_rule_json((size_t)d));
        return;
    }
    sqlite3_stmt *st =
        db_stmt(c->k->db, "SELECT " RULE_COLS " FROM nsg_rules WHERE nsg_id = ? AND name = ?", "it",
                id, c->p[2]);
    if (st && sqlite3_step(st) == SQLITE_ROW)
        api_reply(c, 200, rule_row_json(st));
    else
        kerr_notfound(&c->err, "rule '%.80s' not found in network security group '%s'", c->p[2],
                      c->p[1]);
    sqlite3_finalize(st);
}

static void rule_write(struct api_ctx *c, bool put)
{
    struct db *db = c->k->db;
    int64_t nsg = nsg_lookup(c);
    if (nsg < 0) return;
    const char *name = put ? c->p[2] : body_str(c->body, "name", "");
    if (put && body_has(c->body, "name") && strcasecmp(body_str(c->body, "name", ""), name) != 0) {
        kerr_invalid(&c->err, "name", "name: '%s' does not match the rule name in the path ('%s')",
                     body_str(c->body, "name", ""), name);
        return;
    }
    if (default_index(name) >= 0) {
        if (put)
            kerr_conflict(&c->err, "InvalidState",
                          "'%s' is a default rule: it cannot be changed; override it with a rule "
                          "of lower priority number",
                          name);
        else
            kerr_invalid(&c->err, "name", "name: '%s' is the name of a default rule", name);
        return;
    }
    json_t *pn = json_string(name);
    int bad = check_rule_name(pn, "name", &c->err);
    json_decref(pn);
    if (bad < 0) return;
    json_t *r = json_deep_copy(c->body);
    json_object_set_new(r, "name", json_string(name));
    struct rule_norm n;
    if (rule_normalize(r, "", &n, &c->err) < 0) {
        json_decref(r);
        return;
    }
    json_decref(r);
    bool created;
    int rc = prov_nsg_rule_set(c->k, nsg, c->p[1], &n, !put, &created, &c->err);
    rule_norm_free(&n);
    if (rc < 0) return;
    sqlite3_stmt *st = db_stmt(
        db, "SELECT " RULE_COLS " FROM nsg_rules WHERE nsg_id = ? AND name = ?", "it", nsg, name);
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        char loc[512];
        snprintf(loc, sizeof(loc), "/resourceGroups/%s/networkSecurityGroups/%s/rules/%s", c->p[0],
                 c->p[1], name);
        api_set_location(c, loc);
        api_reply(c, created ? 201 : 200, rule_row_json(st));
    } else {
        kerr_internal(&c->err, "the rule vanished");
    }
    sqlite3_finalize(st);
}

static void rule_create(struct api_ctx *c)
{
    rule_write(c, false);
}

static void rule_put(struct api_ctx *c)
{
    rule_write(c, true);
}

static void rule_delete(struct api_ctx *c)
{
    int64_t nsg = nsg_lookup(c);
    if (nsg < 0) return;
    if (default_index(c->p[2]) >= 0) {
        kerr_conflict(&c->err, "InvalidState",
                      "'%s' is a default rule: it cannot be deleted; override it with a rule of "
                      "lower priority number",
                      c->p[2]);
        return;
    }
    if (prov_nsg_rule_delete(c->k, nsg, c->p[1], c->p[2], &c->err) == 0) api_reply(c, 204, NULL);
}

#define NSG "/v1/resourceGroups/{}/networkSecurityGroups"
const struct api_route api_routes_nsg[] = {
    {"GET", NSG, nsgs_list, -1},
    {"POST", NSG, nsg_create, REQ_NSG_CREATE},
    {"GET", NSG "/{}", nsg_show, -1},
    {"DELETE", NSG "/{}", nsg_delete, -1},
    {"GET", NSG "/{}/rules", rules_list, -1},
    {"POST", NSG "/{}/rules", rule_create, REQ_RULE},
    {"GET", NSG "/{}/rules/{}", rule_show, -1},
    {"PUT", NSG "/{}/rules/{}", rule_put, REQ_RULE_PUT},
    {"DELETE", NSG "/{}/rules/{}", rule_delete, -1},
    {NULL, NULL, NULL, -1},
};
