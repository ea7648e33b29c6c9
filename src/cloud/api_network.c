/*
 * api_network.c - the API's network resources: virtual networks and their
 * subnets, public IPs (host port mappings) and network interfaces
 * (docs/api.md). NSGs are in api_nsg.c. Every change is committed here and
 * then handed to the data plane (netplane.h).
 */
#include "cloud/api.h"

#include "cloud/billing.h"
#include "cloud/body.h"
#include "cloud/db.h"
#include "cloud/ipam.h"
#include "cloud/netplane.h"
#include "cloud/requests.h"
#include "cloud/timefmt.h"
#include "cloud/validate.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void api_network_changed(struct api_ctx *c)
{
    netplane_sync(c->k);
}

static json_t *name_or_null(sqlite3_stmt *st, int col)
{
    return db_col_null(st, col) ? json_null() : json_string(db_col_text(st, col));
}

/* A JSON array text of CIDR strings -> parsed prefixes (at most max). */
static size_t load_spaces(const char *text, struct net_cidr *out, size_t max)
{
    json_t *arr = json_loads(text, 0, NULL);
    size_t n = 0, i;
    json_t *el;
    json_array_foreach(arr, i, el)
    {
        if (n < max && net_cidr_parse(json_string_value(el), &out[n], false, false) == 0) n++;
    }
    json_decref(arr);
    return n;
}

/* ---- subnets and VNets ---- */

json_t *api_subnet_json(struct kumod *k, int64_t id)
{
    sqlite3_stmt *st =
        db_stmt(k->db,
                "SELECT g.name, v.name, s.name, s.prefix, n.name, s.created_ms,"
                " (SELECT count(*) FROM nics WHERE subnet_id = s.id)"
                " FROM subnets s JOIN vnets v ON v.id = s.vnet_id"
                " JOIN groups g ON g.id = v.group_id LEFT JOIN nsgs n ON n.id = s.nsg_id"
                " WHERE s.id = ?",
                "i", id);
    if (!st) return NULL;
    json_t *out = NULL;
    if (sqlite3_step(st) == SQLITE_ROW) {
        char rid[320], gw[NET_IP4_STRLEN];
        snprintf(rid, sizeof(rid), "/resourceGroups/%s/virtualNetworks/%s/subnets/%s",
                 db_col_text(st, 0), db_col_text(st, 1), db_col_text(st, 2));
        struct net_cidr p = {0, 32};
        net_cidr_parse(db_col_text(st, 3), &p, false, false);
        int64_t avail = (int64_t)ipam_capacity(p) - sqlite3_column_int64(st, 6);
        out = json_pack("{s:s,s:s,s:s,s:s,s:o,s:s,s:I,s:s,s:o}", "id", rid, "name",
                        db_col_text(st, 2), "type", "subnet", "addressPrefix", db_col_text(st, 3),
                        "nsg", name_or_null(st, 4), "gateway", net_ip4_str(ipam_gateway(p), gw),
                        "availableAddresses", (json_int_t)(avail > 0 ? avail : 0),
                        "provisioningState", "Succeeded", "createdAt",
                        api_time(sqlite3_column_int64(st, 5)));
    }
    sqlite3_finalize(st);
    return out;
}

json_t *api_vnet_json(struct kumod *k, int64_t id)
{
    sqlite3_stmt *st = db_stmt(k->db,
                               "SELECT g.name, v.name, v.address_spaces, v.created_ms FROM vnets v"
                               " JOIN groups g ON g.id = v.group_id WHERE v.id = ?",
                               "i", id);
    if (!st) return NULL;
    json_t *out = NULL;
    if (sqlite3_step(st) == SQLITE_ROW) {
        char rid[256];
        snprintf(rid, sizeof(rid), "/resourceGroups/%s/virtualNetworks/%s", db_col_text(st, 0),
                 db_col_text(st, 1));
        json_t *spaces = json_loads(db_col_text(st, 2), 0, NULL);
        json_t *subnets = json_array();
        sqlite3_stmt *ss =
            db_stmt(k->db, "SELECT id FROM subnets WHERE vnet_id = ? ORDER BY name", "i", id);
        while (ss && sqlite3_step(ss) == SQLITE_ROW)
            json_array_append_new(subnets, api_subnet_json(k, sqlite3_column_int64(ss, 0)));
        sqlite3_finalize(ss);
        out = json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:s,s:o}", "id", rid, "name",
                        db_col_text(st, 1), "type", "virtualNetwork", "resourceGroup",
                        db_col_text(st, 0), "location", "local", "addressSpaces",
                        spaces ? spaces : json_array(), "subnets", subnets, "provisioningState",
                        "Succeeded", "createdAt", api_time(sqlite3_column_int64(st, 3)));
    }
    sqlite3_finalize(st);
    return out;
}

static int64_t nsg_ref(struct api_ctx *c, int64_t g, const json_t *v, const char *field)
{
    if (!v || json_is_null(v)) return 0;
    return api_find(c, "nsgs", g, json_string_value(v), "network security group", field);
}

static int64_t subnet_insert(struct api_ctx *c, int64_t g, int64_t vnet, const json_t *s,
                             const char *prefix)
{
    struct db *db = c->k->db;
    char f[96];
    snprintf(f, sizeof(f), "%s%snsg", prefix, *prefix ? "." : "");
    int64_t nsg = nsg_ref(c, g, json_object_get(s, "nsg"), f);
    if (nsg < 0) return -1;
    if (db_exec(db,
                "INSERT INTO subnets (vnet_id, name, prefix, nsg_id, created_ms)"
                " VALUES (?, ?, ?, nullif(?, 0), ?)",
                "ittii", vnet, body_str(s, "name", ""), body_str(s, "addressPrefix", ""), nsg,
                time_now_ms()) < 0)
        return kerr_internal(&c->err, "subnet create: %s", db_errmsg(db));
    return db_last_id(db);
}

int64_t api_vnet_insert(struct api_ctx *c, int64_t g, const char *name, const json_t *spaces,
                        const json_t *subnets)
{
    struct db *db = c->k->db;
    if (db_int(db, NULL, -1, "SELECT id FROM vnets WHERE group_id = ? AND name = ?", "it", g,
               name) >= 0)
        return kerr_conflict(&c->err, "AlreadyExists", "virtual network '%s' already exists", name);
    char *text = json_dumps(spaces, JSON_COMPACT);
    int rc = db_exec(
        db, "INSERT INTO vnets (group_id, name, address_spaces, created_ms) VALUES (?, ?, ?, ?)",
        "itti", g, name, text, time_now_ms());
    free(text);
    if (rc < 0) return kerr_internal(&c->err, "virtual network create: %s", db_errmsg(db));
    int64_t id = db_last_id(db);
    size_t i;
    const json_t *s;
    json_array_foreach(subnets, i, s)
    {
        char prefix[32];
        snprintf(prefix, sizeof(prefix), "subnets[%zu]", i);
        if (subnet_insert(c, g, id, s, prefix) < 0) return -1;
    }
    return id;
}

static void vnets_list(struct api_ctx *c)
{
    int64_t g = api_group(c, c->p[0]);
    if (g < 0) return;
    sqlite3_stmt *st =
        db_stmt(c->k->db, "SELECT id FROM vnets WHERE group_id = ? ORDER BY name", "i", g);
    json_t *arr = json_array();
    while (st && sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(arr, api_vnet_json(c->k, sqlite3_column_int64(st, 0)));
    sqlite3_finalize(st);
    api_reply(c, 200, json_pack("{s:o}", "value", arr));
}

static int64_t vnet_lookup(struct api_ctx *c, int64_t *g)
{
    *g = api_group(c, c->p[0]);
    if (*g < 0) return -1;
    return api_find(c, "vnets", *g, c->p[1], "virtual network", NULL);
}

static void vnet_show(struct api_ctx *c)
{
    int64_t g, id = vnet_lookup(c, &g);
    if (id >= 0) api_reply(c, 200, api_vnet_json(c->k, id));
}

static void vnet_create(struct api_ctx *c)
{
    struct db *db = c->k->db;
    int64_t g = api_group(c, c->p[0]);
    if (g < 0) return;
    if (db_begin(db) < 0) {
        kerr_internal(&c->err, "%s", db_errmsg(db));
        return;
    }
    int64_t id = api_vnet_insert(c, g, body_str(c->body, "name", ""),
                                 json_object_get(c->body, "addressSpaces"),
                                 json_object_get(c->body, "subnets"));
    if (id < 0 || db_commit(db) < 0) {
        db_rollback(db);
        if (!c->err.status) kerr_internal(&c->err, "%s", db_errmsg(db));
        return;
    }
    api_network_changed(c);
    json_t *out = api_vnet_json(c->k, id);
    api_set_location(c, json_string_value(json_object_get(out, "id")));
    api_reply(c, 201, out);
}

static void vnet_update(struct api_ctx *c)
{
    struct db *db = c->k->db;
    int64_t g, id = vnet_lookup(c, &g);
    if (id < 0) return;
    const json_t *spaces = json_object_get(c->body, "addressSpaces");
    struct net_cidr sp[16];
    size_t n = 0, i;
    const json_t *el;
    json_array_foreach(spaces, i, el)
    {
        if (n < 16) net_cidr_parse(json_string_value(el), &sp[n++], false, false);
    }
    sqlite3_stmt *st =
        db_stmt(db, "SELECT name, prefix FROM subnets WHERE vnet_id = ? ORDER BY name", "i", id);
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        struct net_cidr p;
        net_cidr_parse(db_col_text(st, 1), &p, false, false);
        bool inside = false;
        for (i = 0; i < n && !inside; i++)
            inside = net_cidr_inside(p, sp[i]);
        if (!inside) {
            kerr_conflict(&c->err, "InUse",
                          "subnet '%s' (%s) would no longer be inside the address spaces; "
                          "delete it or keep a space that holds it",
                          db_col_text(st, 0), db_col_text(st, 1));
            sqlite3_finalize(st);
            return;
        }
    }
    sqlite3_finalize(st);
    char *text = json_dumps(spaces, JSON_COMPACT);
    int rc = db_begin(db);
    if (rc == 0)
        rc = db_exec(db, "UPDATE vnets SET address_spaces = ? WHERE id = ?", "ti", text, id);
    if (rc == 0) rc = db_commit(db);
    free(text);
    if (rc < 0) {
        db_rollback(db);
        kerr_internal(&c->err, "%s", db_errmsg(db));
        return;
    }
    api_network_changed(c);
    api_reply(c, 200, api_vnet_json(c->k, id));
}

static void vnet_delete(struct api_ctx *c)
{
    struct db *db = c->k->db;
    int64_t g, id = vnet_lookup(c, &g);
    if (id < 0) return;
    char users[1024] = "";
    sqlite3_stmt *st = db_stmt(db,
                               "SELECT n.name FROM nics n JOIN subnets s ON s.id = n.subnet_id"
                               " WHERE s.vnet_id = ? ORDER BY n.name LIMIT 11",
                               "i", id);
    while (st && sqlite3_step(st) == SQLITE_ROW)
        api_users_add(users, sizeof(users), "network interface", db_col_text(st, 0));
    sqlite3_finalize(st);
    st = db_stmt(db, "SELECT name FROM vmss WHERE group_id = ? AND vnet = ? COLLATE NOCASE ORDER BY name LIMIT 11",
                 "it", g, c->p[1]);
    while (st && sqlite3_step(st) == SQLITE_ROW)
        api_users_add(users, sizeof(users), "scale set", db_col_text(st, 0));
    sqlite3_finalize(st);
    if (users[0]) {
        char what[128];
        snprintf(what, sizeof(what), "virtual network '%s'", c->p[1]);
        api_in_use(c, what, users);
        return;
    }
    if (db_begin(db) < 0 || db_exec(db, "DELETE FROM vnets WHERE id = ?", "i", id) < 0 ||
        db_commit(db) < 0) {
        db_rollback(db);
        kerr_internal(&c->err, "%s", db_errmsg(db));
        return;
    }
    api_network_changed(c);
    api_reply(c, 204, NULL);
}

static int64_t subnet_lookup(struct api_ctx *c, int64_t *g, int64_t *vnet)
{
    *vnet = vnet_lookup(c, g);
    if (*vnet < 0) return -1;
    int64_t id = db_int(c->k->db, NULL, -1, "SELECT id FROM subnets WHERE vnet_id = ? AND name = ?",
                        "it", *vnet, c->p[2]);
    if (id < 0)
        kerr_notfound(&c->err, "subnet '%.64s' not found in virtual network '%s'", c->p[2],
                      c->p[1]);
    return id;
}

static void subnets_list(struct api_ctx *c)
{
    int64_t g, id = vnet_lookup(c, &g);
    if (id < 0) return;
    sqlite3_stmt *st =
        db_stmt(c->k->db, "SELECT id FROM subnets WHERE vnet_id = ? ORDER BY name", "i", id);
    json_t *arr = json_array();
    while (st && sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(arr, api_subnet_json(c->k, sqlite3_column_int64(st, 0)));
    sqlite3_finalize(st);
    api_reply(c, 200, json_pack("{s:o}", "value", arr));
}

static void subnet_show(struct api_ctx *c)
{
    int64_t g, v, id = subnet_lookup(c, &g, &v);
    if (id >= 0) api_reply(c, 200, api_subnet_json(c->k, id));
}

static void subnet_create(struct api_ctx *c)
{
    struct db *db = c->k->db;
    int64_t g, vnet = vnet_lookup(c, &g);
    if (vnet < 0) return;
    const char *name = body_str(c->body, "name", "");
    if (db_int(db, NULL, -1, "SELECT id FROM subnets WHERE vnet_id = ? AND name = ?", "it", vnet,
               name) >= 0) {
        kerr_conflict(&c->err, "AlreadyExists",
                      "subnet '%s' already exists in virtual network '%s'", name, c->p[1]);
        return;
    }
    char text[1024] = "";
    db_text(db, text, sizeof(text), "SELECT address_spaces FROM vnets WHERE id = ?", "i", vnet);
    struct net_cidr sp[16], sib[64], p;
    size_t nsp = load_spaces(text, sp, 16), nsib = 0;
    char names[64][NAME_MAX_LEN + 1];
    const char *np[64];
    sqlite3_stmt *st = db_stmt(db, "SELECT name, prefix FROM subnets WHERE vnet_id = ?", "i", vnet);
    while (st && nsib < 64 && sqlite3_step(st) == SQLITE_ROW) {
        snprintf(names[nsib], sizeof(names[0]), "%s", db_col_text(st, 0));
        np[nsib] = names[nsib];
        net_cidr_parse(db_col_text(st, 1), &sib[nsib], false, false);
        nsib++;
    }
    sqlite3_finalize(st);
    net_cidr_parse(body_str(c->body, "addressPrefix", ""), &p, false, false);
    if (check_subnet_fits(p, sp, nsp, sib, np, nsib, "addressPrefix", &c->err) < 0) return;
    if (db_begin(db) < 0) {
        kerr_internal(&c->err, "%s", db_errmsg(db));
        return;
    }
    int64_t id = subnet_insert(c, g, vnet, c->body, "");
    if (id < 0 || db_commit(db) < 0) {
        db_rollback(db);
        if (!c->err.status) kerr_internal(&c->err, "%s", db_errmsg(db));
        return;
    }
    api_network_changed(c);
    json_t *out = api_subnet_json(c->k, id);
    api_set_location(c, json_string_value(json_object_get(out, "id")));
    api_reply(c, 201, out);
}

static void subnet_update(struct api_ctx *c)
{
    struct db *db = c->k->db;
    int64_t g, v, id = subnet_lookup(c, &g, &v);
    if (id < 0) return;
    int64_t nsg = nsg_ref(c, g, json_object_get(c->body, "nsg"), "nsg");
    if (nsg < 0) return;
    if (db_begin(db) < 0 ||
        db_exec(db, "UPDATE subnets SET nsg_id = nullif(?, 0) WHERE id = ?", "ii", nsg, id) < 0 ||
        db_commit(db) < 0) {
        db_rollback(db);
        kerr_internal(&c->err, "%s", db_errmsg(db));
        return;
    }
    api_network_changed(c);
    api_reply(c, 200, api_subnet_json(c->k, id));
}

static void subnet_delete(struct api_ctx *c)
{
    struct db *db = c->k->db;
    int64_t g, v, id = subnet_lookup(c, &g, &v);
    if (id < 0) return;
    char users[1024] = "";
    sqlite3_stmt *st =
        db_stmt(db, "SELECT name FROM nics WHERE subnet_id = ? ORDER BY name LIMIT 11", "i", id);
    while (st && sqlite3_step(st) == SQLITE_ROW)
        api_users_add(users, sizeof(users), "network interface", db_col_text(st, 0));
    sqlite3_finalize(st);
    if (users[0]) {
        char what[160];
        snprintf(what, sizeof(what), "subnet '%s/%s'", c->p[1], c->p[2]);
        api_in_use(c, what, users);
        return;
    }
    if (db_begin(db) < 0 || db_exec(db, "DELETE FROM subnets WHERE id = ?", "i", id) < 0 ||
        db_commit(db) < 0) {
        db_rollback(db);
        kerr_internal(&c->err, "%s", db_errmsg(db));
        return;
    }
    api_network_changed(c);
    api_reply(c, 204, NULL);
}

/* ---- public IPs ---- */

json_t *api_pip_json(struct kumod *k, int64_t id)
{
    sqlite3_stmt *st = db_stmt(
        k->db,
        "SELECT g.name, p.name, p.created_ms, (SELECT name FROM nics WHERE public_ip_id = p.id)"
        " FROM public_ips p JOIN groups g ON g.id = p.group_id WHERE p.id = ?",
        "i", id);
    if (!st) return NULL;
    json_t *out = NULL;
    if (sqlite3_step(st) == SQLITE_ROW) {
        char rid[256];
        snprintf(rid, sizeof(rid), "/resourceGroups/%s/publicIPAddresses/%s", db_col_text(st, 0),
                 db_col_text(st, 1));
        json_t *ports = json_array();
        sqlite3_stmt *ps = db_stmt(k->db,
                                   "SELECT protocol, port, host_port FROM public_ip_ports"
                                   " WHERE public_ip_id = ? ORDER BY protocol DESC, port",
                                   "i", id);
        while (ps && sqlite3_step(ps) == SQLITE_ROW)
            json_array_append_new(ports,
                                  json_pack("{s:s,s:I,s:I}", "protocol", db_col_text(ps, 0), "port",
                                            (json_int_t)sqlite3_column_int64(ps, 1), "hostPort",
                                            (json_int_t)sqlite3_column_int64(ps, 2)));
        sqlite3_finalize(ps);
        /* ports the switch could not forward: their host port is taken */
        const json_t *errs = netplane_pip_errors(k, id);
        out =
            json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:s,s:o}", "id", rid, "name",
                      db_col_text(st, 1), "type", "publicIPAddress", "resourceGroup",
                      db_col_text(st, 0), "location", "local", "ipAddress", k->cfg.public_address,
                      "ports", ports, "networkInterface", name_or_null(st, 3), "provisioningState",
                      errs ? "Failed" : "Succeeded", "createdAt",
                      api_time(sqlite3_column_int64(st, 2)));
        if (out && errs) {
            const json_t *e0 = json_array_get(errs, 0);
            json_object_set_new(out, "portErrors", json_deep_copy(errs));
            json_object_set_new(
                out, "error",
                json_pack("{s:s,s:s}", "code", "HostPortInUse", "message",
                          json_string_value(json_object_get(e0, "message"))));
        }
    }
    sqlite3_finalize(st);
    return out;
}

/* Can a socket of this kind be bound to addr:port on the host right now? */
static bool host_port_bindable(const char *addr, int64_t port, bool udp)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) return true; /* the switch will say */
    int s = socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
    if (s < 0) return true;
    int one = 1; /* as libslirp listens: a port in TIME_WAIT is usable */
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    bool ok = bind(s, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    close(s);
    return ok;
}

/* The lowest host port of protocol in the configured range that no public
 * IP has and that no other program on the host holds (of the first few
 * candidates; else the lowest one not mapped, and the switch reports it);
 * -1 when every port of the range is mapped. */
static int64_t free_host_port(struct kumod *k, const char *proto)
{
    sqlite3_stmt *st =
        db_stmt(k->db,
                "WITH RECURSIVE r(p) AS (SELECT ?1 UNION ALL SELECT p + 1 FROM r WHERE p < ?2)"
                " SELECT p FROM r WHERE p NOT IN"
                " (SELECT host_port FROM public_ip_ports WHERE protocol = ?3) LIMIT 64",
                "iit", (int64_t)k->cfg.port_lo, (int64_t)k->cfg.port_hi, proto);
    int64_t first = -1, found = -1;
    while (st && found < 0 && sqlite3_step(st) == SQLITE_ROW) {
        int64_t p = sqlite3_column_int64(st, 0);
        if (first < 0) first = p;
        if (host_port_bindable(k->cfg.public_address, p, strcmp(proto, "Udp") == 0)) found = p;
    }
    sqlite3_finalize(st);
    return found >= 0 ? found : first;
}

int64_t api_pip_insert(struct api_ctx *c, int64_t g, const char *name, const json_t *ports,
                       int64_t owner_vm)
{
    struct db *db = c->k->db;
    if (db_int(db, NULL, -1, "SELECT id FROM public_ips WHERE group_id = ? AND name = ?", "it", g,
               name) >= 0)
        return kerr_conflict(&c->err, "AlreadyExists", "public IP '%s' already exists", name);
    json_t *dflt = NULL;
    if (!ports) {
        dflt = json_pack("[{s:s,s:i},{s:s,s:i},{s:s,s:i}]", "protocol", "Tcp", "port", 22,
                         "protocol", "Tcp", "port", 80, "protocol", "Tcp", "port", 443);
        ports = dflt;
    }
    int rc = db_exec(db,
                     "INSERT INTO public_ips (group_id, name, owner_vm, created_ms) VALUES (?, ?, "
                     "nullif(?, 0), ?)",
                     "itii", g, name, owner_vm, time_now_ms());
    int64_t id = db_last_id(db);
    size_t i;
    const json_t *p;
    json_array_foreach(ports, i, p)
    {
        if (rc < 0) break;
        const char *proto = canon_pip_protocol(body_str(p, "protocol", "Tcp"));
        int64_t hp = body_int(p, "hostPort", -1);
        if (hp >= 0) {
            if (db_int(db, NULL, -1,
                       "SELECT host_port FROM public_ip_ports WHERE protocol = ? AND host_port = ?",
                       "ti", proto, hp) >= 0) {
                json_decref(dflt);
                char t[48];
                snprintf(t, sizeof(t), "ports[%zu].hostPort", i);
                return kerr_set(&c->err, 409, "AlreadyExists", t,
                                "%s: host port %s %" PRId64 " is already mapped", t, proto, hp);
            }
        } else {
            hp = free_host_port(c->k, proto);
            if (hp < 0) {
                json_decref(dflt);
                return kerr_conflict(&c->err, "QuotaExceeded",
                                     "no free %s host port left in %d-%d (kumod --public-ports)",
                                     proto, c->k->cfg.port_lo, c->k->cfg.port_hi);
            }
        }
        rc = db_exec(db,
                     "INSERT INTO public_ip_ports (public_ip_id, protocol, port, host_port)"
                     " VALUES (?, ?, ?, ?)",
                     "itii", id, proto, body_int(p, "port", 0), hp);
    }
    json_decref(dflt);
    if (rc == 0) rc = billing_pip_sync(db, id, true, time_now_ms());
    if (rc < 0) return kerr_internal(&c->err, "public IP create: %s", db_errmsg(db));
    return id;
}

static void pips_list(struct api_ctx *c)
{
    int64_t g = api_group(c, c->p[0]);
    if (g < 0) return;
    sqlite3_stmt *st =
        db_stmt(c->k->db, "SELECT id FROM public_ips WHERE group_id = ? ORDER BY name", "i", g);
    json_t *arr = json_array();
    while (st && sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(arr, api_pip_json(c->k, sqlite3_column_int64(st, 0)));
    sqlite3_finalize(st);
    api_reply(c, 200, json_pack("{s:o}", "value", arr));
}

static void pip_show(struct api_ctx *c)
{
    int64_t g = api_group(c, c->p[0]);
    if (g < 0) return;
    int64_t id = api_find(c, "public_ips", g, c->p[1], "public IP", NULL);
    if (id >= 0) api_reply(c, 200, api_pip_json(c->k, id));
}

static void pip_create(struct api_ctx *c)
{
    struct db *db = c->k->db;
    int64_t g = api_group(c, c->p[0]);
    if (g < 0) return;
    if (db_begin(db) < 0) {
        kerr_internal(&c->err, "%s", db_errmsg(db));
        return;
    }
    int64_t id =
        api_pip_insert(c, g, body_str(c->body, "name", ""), json_object_get(c->body, "ports"), 0);
    if (id < 0 || db_commit(db) < 0) {
        db_rollback(db);
        if (!c->err.status) kerr_internal(&c->err, "%s", db_errmsg(db));
        return;
    }
    api_network_changed(c);
    json_t *out = api_pip_json(c->k, id);
    api_set_location(c, json_string_value(json_object_get(out, "id")));
    api_reply(c, 201, out);
}

static void pip_delete(struct api_ctx *c)
{
    struct db *db = c->k->db;
    int64_t g = api_group(c, c->p[0]);
    if (g < 0) return;
    int64_t id = api_find(c, "public_ips", g, c->p[1], "public IP", NULL);
    if (id < 0) return;
    char nic[80];
    if (db_text(db, nic, sizeof(nic), "SELECT name FROM nics WHERE public_ip_id = ?", "i", id)) {
        char what[128], users[128];
        snprintf(what, sizeof(what), "public IP '%s'", c->p[1]);
        snprintf(users, sizeof(users), "network interface '%s'", nic);
        api_in_use(c, what, users);
        return;
    }
    if (db_text(db, nic, sizeof(nic), "SELECT name FROM vmss WHERE lb_pip_id = ?", "i", id)) {
        char what[128], users[128];
        snprintf(what, sizeof(what), "public IP '%s'", c->p[1]);
        snprintf(users, sizeof(users), "scale set '%s' (its load balancer)", nic);
        api_in_use(c, what, users);
        return;
    }
    if (db_begin(db) < 0 || billing_pip_sync(db, id, false, time_now_ms()) < 0 ||
        db_exec(db, "DELETE FROM public_ips WHERE id = ?", "i", id) < 0 || db_commit(db) < 0) {
        db_rollback(db);
        kerr_internal(&c->err, "%s", db_errmsg(db));
        return;
    }
    api_network_changed(c);
    api_reply(c, 204, NULL);
}

/* ---- network interfaces ---- */

json_t *api_nic_json(struct kumod *k, int64_t id)
{
    sqlite3_stmt *st =
        db_stmt(k->db,
                "SELECT g.name, n.name, v.name, s.name, n.private_ip, n.static_ip,"
                " ns.name, p.name, vm.name, n.created_ms FROM nics n"
                " JOIN groups g ON g.id = n.group_id JOIN subnets s ON s.id = n.subnet_id"
                " JOIN vnets v ON v.id = s.vnet_id LEFT JOIN nsgs ns ON ns.id = n.nsg_id"
                " LEFT JOIN public_ips p ON p.id = n.public_ip_id"
                " LEFT JOIN vms vm ON vm.id = n.vm_id WHERE n.id = ?",
                "i", id);
    if (!st) return NULL;
    json_t *out = NULL;
    if (sqlite3_step(st) == SQLITE_ROW) {
        char rid[256], ip[NET_IP4_STRLEN], mac[24];
        snprintf(rid, sizeof(rid), "/resourceGroups/%s/networkInterfaces/%s", db_col_text(st, 0),
                 db_col_text(st, 1));
        snprintf(mac, sizeof(mac), "02:6b:75:%02x:%02x:%02x", (unsigned)(id >> 16) & 0xff,
                 (unsigned)(id >> 8) & 0xff, (unsigned)id & 0xff);
        out = json_pack(
            "{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:o,s:s,s:o}", "id", rid, "name",
            db_col_text(st, 1), "type", "networkInterface", "resourceGroup", db_col_text(st, 0),
            "location", "local", "vnet", db_col_text(st, 2), "subnet", db_col_text(st, 3),
            "privateIp", net_ip4_str((uint32_t)sqlite3_column_int64(st, 4), ip),
            "privateIpAllocation", sqlite3_column_int(st, 5) ? "Static" : "Dynamic", "macAddress",
            mac, "nsg", name_or_null(st, 6), "publicIp", name_or_null(st, 7), "virtualMachine",
            name_or_null(st, 8), "provisioningState", "Succeeded", "createdAt",
            api_time(sqlite3_column_int64(st, 9)));
    }
    sqlite3_finalize(st);
    return out;
}

/* Refuse a public IP already associated with another NIC. */
static int pip_free(struct api_ctx *c, int64_t pip, int64_t nic, const char *field)
{
    char other[80];
    if (pip > 0 &&
        db_text(c->k->db, other, sizeof(other),
                "SELECT name FROM nics WHERE public_ip_id = ? AND id != ?", "ii", pip, nic))
        return kerr_set(&c->err, 409, "InUse", field,
                        "%s: the public IP is already associated with network interface '%s'",
                        field, other);
    return 0;
}

int64_t api_nic_insert(struct api_ctx *c, int64_t g, const char *name, int64_t subnet_id,
                       const char *private_ip, int64_t nsg_id, int64_t pip_id, int64_t owner_vm,
                       const char *ip_field)
{
    struct db *db = c->k->db;
    if (db_int(db, NULL, -1, "SELECT id FROM nics WHERE group_id = ? AND name = ?", "it", g,
               name) >= 0)
        return kerr_conflict(&c->err, "AlreadyExists", "network interface '%s' already exists",
                             name);
    if (pip_free(c, pip_id, 0, "publicIp") < 0) return -1;
    char text[64] = "";
    db_text(db, text, sizeof(text), "SELECT prefix FROM subnets WHERE id = ?", "i", subnet_id);
    struct net_cidr sn;
    if (net_cidr_parse(text, &sn, false, false) < 0)
        return kerr_internal(&c->err, "subnet %" PRId64 " has a bad prefix '%s'", subnet_id, text);
    uint32_t ip;
    if (private_ip) {
        char buf[NET_CIDR_STRLEN];
        net_ip4_parse(private_ip, &ip);
        if (!ipam_usable(sn, ip))
            return kerr_invalid(&c->err, ip_field,
                                "%s: %s is not a usable address of subnet %s (the first four and "
                                "the last are reserved)",
                                ip_field, private_ip, net_cidr_str(sn, buf));
        char other[80];
        if (db_text(db, other, sizeof(other),
                    "SELECT name FROM nics WHERE subnet_id = ? AND private_ip = ?", "ii", subnet_id,
                    (int64_t)ip))
            return kerr_set(&c->err, 409, "AlreadyExists", ip_field,
                            "%s: %s is taken by network interface '%s'", ip_field, private_ip,
                            other);
    } else {
        uint32_t used[4096];
        size_t n = 0;
        sqlite3_stmt *st =
            db_stmt(db, "SELECT private_ip FROM nics WHERE subnet_id = ?", "i", subnet_id);
        while (st && n < 4096 && sqlite3_step(st) == SQLITE_ROW)
            used[n++] = (uint32_t)sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        if (ipam_next(sn, used, n, &ip) < 0) {
            char buf[NET_CIDR_STRLEN];
            return kerr_conflict(&c->err, "QuotaExceeded", "subnet %s has no free address left",
                                 net_cidr_str(sn, buf));
        }
    }
    if (db_exec(db,
                "INSERT INTO nics (group_id, name, subnet_id, private_ip, static_ip, nsg_id,"
                " public_ip_id, owner_vm, created_ms)"
                " VALUES (?, ?, ?, ?, ?, nullif(?, 0), nullif(?, 0), nullif(?, 0), ?)",
                "itiiiiiii", g, name, subnet_id, (int64_t)ip, (int64_t)(private_ip != NULL), nsg_id,
                pip_id, owner_vm, time_now_ms()) < 0)
        return kerr_internal(&c->err, "network interface create: %s", db_errmsg(db));
    return db_last_id(db);
}

static void nics_list(struct api_ctx *c)
{
    int64_t g = api_group(c, c->p[0]);
    if (g < 0) return;
    sqlite3_stmt *st =
        db_stmt(c->k->db, "SELECT id FROM nics WHERE group_id = ? ORDER BY name", "i", g);
    json_t *arr = json_array();
    while (st && sqlite3_step(st) == SQLITE_ROW)
        json_array_append_new(arr, api_nic_json(c->k, sqlite3_column_int64(st, 0)));
    sqlite3_finalize(st);
    api_reply(c, 200, json_pack("{s:o}", "value", arr));
}

static void nic_show(struct api_ctx *c)
{
    int64_t g = api_group(c, c->p[0]);
    if (g < 0) return;
    int64_t id = api_find(c, "nics", g, c->p[1], "network interface", NULL);
    if (id >= 0) api_reply(c, 200, api_nic_json(c->k, id));
}

static int64_t pip_ref(struct api_ctx *c, int64_t g, const json_t *v, const char *field)
{
    if (!v || json_is_null(v)) return 0;
    return api_find(c, "public_ips", g, json_string_value(v), "public IP", field);
}

static void nic_create(struct api_ctx *c)
{
    struct db *db = c->k->db;
    int64_t g = api_group(c, c->p[0]);
    if (g < 0) return;
    int64_t vnet =
        api_find(c, "vnets", g, body_str(c->body, "vnet", ""), "virtual network", "vnet");
    if (vnet < 0) return;
    int64_t subnet = db_int(db, NULL, -1, "SELECT id FROM subnets WHERE vnet_id = ? AND name = ?",
                            "it", vnet, body_str(c->body, "subnet", ""));
    if (subnet < 0) {
        kerr_invalid(&c->err, "subnet", "subnet: subnet '%s' not found in virtual network '%s'",
                     body_str(c->body, "subnet", ""), body_str(c->body, "vnet", ""));
        return;
    }
    int64_t nsg = nsg_ref(c, g, json_object_get(c->body, "nsg"), "nsg");
    if (nsg < 0) return;
    int64_t pip = pip_ref(c, g, json_object_get(c->body, "publicIp"), "publicIp");
    if (pip < 0) return;
    if (db_begin(db) < 0) {
        kerr_internal(&c->err, "%s", db_errmsg(db));
        return;
    }
    int64_t id = api_nic_insert(c, g, body_str(c->body, "name", ""), subnet,
                                body_str(c->body, "privateIp", NULL), nsg, pip, 0, "privateIp");
    if (id < 0 || db_commit(db) < 0) {
        db_rollback(db);
        if (!c->err.status) kerr_internal(&c->err, "%s", db_errmsg(db));
        return;
    }
    api_network_changed(c);
    json_t *out = api_nic_json(c->k, id);
    api_set_location(c, json_string_value(json_object_get(out, "id")));
    api_reply(c, 201, out);
}

static void nic_update(struct api_ctx *c)
{
    struct db *db = c->k->db;
    int64_t g = api_group(c, c->p[0]);
    if (g < 0) return;
    int64_t id = api_find(c, "nics", g, c->p[1], "network interface", NULL);
    if (id < 0) return;
    int rc = db_begin(db);
    if (rc == 0 && body_has(c->body, "nsg")) {
        int64_t nsg = nsg_ref(c, g, json_object_get(c->body, "nsg"), "nsg");
        rc = nsg < 0
                 ? -1
                 : db_exec(db, "UPDATE nics SET nsg_id = nullif(?, 0) WHERE id = ?", "ii", nsg, id);
    }
    if (rc == 0 && body_has(c->body, "publicIp")) {
        int64_t pip = pip_ref(c, g, json_object_get(c->body, "publicIp"), "publicIp");
        rc = pip < 0 || pip_free(c, pip, id, "publicIp") < 0
                 ? -1
                 : db_exec(db, "UPDATE nics SET public_ip_id = nullif(?, 0) WHERE id = ?", "ii",
                           pip, id);
    }
    if (rc == 0) rc = db_commit(db);
    if (rc < 0) {
        db_rollback(db);
        if (!c->err.status) kerr_internal(&c->err, "%s", db_errmsg(db));
        return;
    }
    api_network_changed(c);
    api_reply(c, 200, api_nic_json(c->k, id));
}

static void nic_delete(struct api_ctx *c)
{
    struct db *db = c->k->db;
    int64_t g = api_group(c, c->p[0]);
    if (g < 0) return;
    int64_t id = api_find(c, "nics", g, c->p[1], "network interface", NULL);
    if (id < 0) return;
    char vm[80];
    if (db_text(db, vm, sizeof(vm),
                "SELECT v.name FROM nics n JOIN vms v ON v.id = n.vm_id WHERE n.id = ?", "i", id)) {
        char what[128], users[128];
        snprintf(what, sizeof(what), "network interface '%s'", c->p[1]);
        snprintf(users, sizeof(users), "virtual machine '%s'", vm);
        api_in_use(c, what, users);
        return;
    }
    if (db_begin(db) < 0 || db_exec(db, "DELETE FROM nics WHERE id = ?", "i", id) < 0 ||
        db_commit(db) < 0) {
        db_rollback(db);
        kerr_internal(&c->err, "%s", db_errmsg(db));
        return;
    }
    api_network_changed(c);
    api_reply(c, 204, NULL);
}

#define RG "/v1/resourceGroups/{}"
const struct api_route api_routes_network[] = {
    {"GET", RG "/virtualNetworks", vnets_list, -1},
    {"POST", RG "/virtualNetworks", vnet_create, REQ_VNET_CREATE},
    {"GET", RG "/virtualNetworks/{}", vnet_show, -1},
    {"PATCH", RG "/virtualNetworks/{}", vnet_update, REQ_VNET_UPDATE},
    {"DELETE", RG "/virtualNetworks/{}", vnet_delete, -1},
    {"GET", RG "/virtualNetworks/{}/subnets", subnets_list, -1},
    {"POST", RG "/virtualNetworks/{}/subnets", subnet_create, REQ_SUBNET_CREATE},
    {"GET", RG "/virtualNetworks/{}/subnets/{}", subnet_show, -1},
    {"PATCH", RG "/virtualNetworks/{}/subnets/{}", subnet_update, REQ_SUBNET_UPDATE},
    {"DELETE", RG "/virtualNetworks/{}/subnets/{}", subnet_delete, -1},
    {"GET", RG "/publicIPAddresses", pips_list, -1},
    {"POST", RG "/publicIPAddresses", pip_create, REQ_PIP_CREATE},
    {"GET", RG "/publicIPAddresses/{}", pip_show, -1},
    {"DELETE", RG "/publicIPAddresses/{}", pip_delete, -1},
    {"GET", RG "/networkInterfaces", nics_list, -1},
    {"POST", RG "/networkInterfaces", nic_create, REQ_NIC_CREATE},
    {"GET", RG "/networkInterfaces/{}", nic_show, -1},
    {"PATCH", RG "/networkInterfaces/{}", nic_update, REQ_NIC_UPDATE},
    {"DELETE", RG "/networkInterfaces/{}", nic_delete, -1},
    {NULL, NULL, NULL, -1},
};
