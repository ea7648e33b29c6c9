/*
 * api_network.c - the API's network resources: virtual networks and their
 * subnets, public IPs (host port mappings) and network interfaces
 * (docs/api.md). NSGs are in api_nsg.c. The changes are the provisioning
 * layer's (prov_net.c); here are the requests and the answers.
 */
#include "cloud/api.h"

#include "cloud/body.h"
#include "cloud/db.h"
#include "cloud/ipam.h"
#include "cloud/netplane.h"
#include "cloud/provision.h"
#include "cloud/requests.h"

#include <stdio.h>
#include <string.h>

#define MAX_SPACES  16 /* requests.c's bounds */
#define MAX_SUBNETS 64
#define MAX_PORTS   16

static json_t *name_or_null(sqlite3_stmt *st, int col)
{
    return db_col_null(st, col) ? json_null() : json_string(db_col_text(st, col));
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

/* The address a public IP's ports are on: its host's (cluster mode: the
 * host that runs the VM of its NIC), else this kumod's --public-address. */
static const char *pip_address(struct kumod *k, int64_t pip)
{
    static _Thread_local char addr[64];
    snprintf(addr, sizeof(addr), "%s", k->cfg.public_address);
    if (k->clustered)
        db_text(k->db, addr, sizeof(addr),
                "SELECT coalesce(h.public_address, ?) FROM nics n JOIN vms v ON v.id = n.vm_id"
                " JOIN hosts h ON h.id = v.host_id WHERE n.public_ip_id = ?",
                "ti", k->cfg.public_address, pip);
    if (!addr[0]) snprintf(addr, sizeof(addr), "%s", k->cfg.public_address);
    return addr;
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
        /* cluster mode: its VXLAN network id, for VTEPs outside kumo */
        if (k->clustered) json_object_set_new(out, "vxlanVni", json_integer(id));
    }
    sqlite3_finalize(st);
    return out;
}

/* The strings of a checked array (at most max). */
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

static void vnets_list(struct api_ctx *c)
{
    api_list_in_group(c, "vnets", api_vnet_json);
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
    int64_t g = api_group(c, c->p[0]);
    if (g < 0) return;
    const char *spaces[MAX_SPACES];
    struct prov_subnet_spec subnets[MAX_SUBNETS];
    struct prov_vnet_spec s = {
        .name = body_str(c->body, "name", ""), .spaces = spaces, .subnets = subnets};
    s.nspaces = strings(json_object_get(c->body, "addressSpaces"), spaces, MAX_SPACES);
    size_t i;
    const json_t *sub;
    json_array_foreach(json_object_get(c->body, "subnets"), i, sub)
    {
        if (s.nsubnets < MAX_SUBNETS)
            subnets[s.nsubnets++] = (struct prov_subnet_spec){body_str(sub, "name", ""),
                                                              body_str(sub, "addressPrefix", ""),
                                                              body_str(sub, "nsg", NULL)};
    }
    struct prov_tx t;
    if (prov_begin(&t, c->k, &c->err) < 0) return;
    int64_t id = prov_vnet_insert(&t, g, &s);
    if (id < 0 || prov_commit(&t) < 0) {
        prov_abort(&t);
        return;
    }
    api_reply_at(c, 201, api_vnet_json, id);
}

static void vnet_update(struct api_ctx *c)
{
    int64_t g, id = vnet_lookup(c, &g);
    if (id < 0) return;
    const char *spaces[MAX_SPACES];
    size_t n = strings(json_object_get(c->body, "addressSpaces"), spaces, MAX_SPACES);
    if (prov_vnet_set_spaces(c->k, g, c->p[1], spaces, n, &c->err) == 0)
        api_reply(c, 200, api_vnet_json(c->k, id));
}

static void vnet_delete(struct api_ctx *c)
{
    int64_t g = api_group(c, c->p[0]);
    if (g >= 0 && prov_vnet_delete(c->k, g, c->p[1], &c->err) == 0) api_reply(c, 204, NULL);
}

static int64_t subnet_lookup(struct api_ctx *c)
{
    int64_t g = api_group(c, c->p[0]);
    if (g < 0) return -1;
    return prov_subnet(c->k, g, c->p[1], c->p[2], &c->err);
}

static void subnets_list(struct api_ctx *c)
{
    int64_t g, id = vnet_lookup(c, &g);
    if (id >= 0)
        api_reply_list(c, api_subnet_json, "SELECT id FROM subnets WHERE vnet_id = ? ORDER BY name",
                       "i", id);
}

static void subnet_show(struct api_ctx *c)
{
    int64_t id = subnet_lookup(c);
    if (id >= 0) api_reply(c, 200, api_subnet_json(c->k, id));
}

static void subnet_create(struct api_ctx *c)
{
    int64_t g = api_group(c, c->p[0]);
    if (g < 0) return;
    struct prov_subnet_spec s = {body_str(c->body, "name", ""),
                                 body_str(c->body, "addressPrefix", ""),
                                 body_str(c->body, "nsg", NULL)};
    int64_t id = prov_subnet_create(c->k, g, c->p[1], &s, &c->err);
    if (id < 0) return;
    api_reply_at(c, 201, api_subnet_json, id);
}

static void subnet_update(struct api_ctx *c)
{
    int64_t g = api_group(c, c->p[0]);
    int64_t id = g < 0 ? -1
                       : prov_subnet_set_nsg(c->k, g, c->p[1], c->p[2],
                                             body_str(c->body, "nsg", NULL), &c->err);
    if (id >= 0) api_reply(c, 200, api_subnet_json(c->k, id));
}

static void subnet_delete(struct api_ctx *c)
{
    int64_t g = api_group(c, c->p[0]);
    if (g >= 0 && prov_subnet_delete(c->k, g, c->p[1], c->p[2], &c->err) == 0)
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
        out = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:s,s:o}", "id", rid, "name",
                        db_col_text(st, 1), "type", "publicIPAddress", "resourceGroup",
                        db_col_text(st, 0), "location", "local", "ipAddress", pip_address(k, id),
                        "ports", ports, "networkInterface", name_or_null(st, 3),
                        "provisioningState", errs ? "Failed" : "Succeeded", "createdAt",
                        api_time(sqlite3_column_int64(st, 2)));
        if (out && errs) {
            const json_t *e0 = json_array_get(errs, 0);
            json_object_set_new(out, "portErrors", json_deep_copy(errs));
            json_object_set_new(out, "error",
                                json_pack("{s:s,s:s}", "code", "HostPortInUse", "message",
                                          json_string_value(json_object_get(e0, "message"))));
        }
    }
    sqlite3_finalize(st);
    return out;
}

static void pips_list(struct api_ctx *c)
{
    api_list_in_group(c, "public_ips", api_pip_json);
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
    int64_t g = api_group(c, c->p[0]);
    if (g < 0) return;
    const json_t *given = json_object_get(c->body, "ports");
    struct prov_port ports[MAX_PORTS];
    size_t n = 0, i;
    const json_t *p;
    json_array_foreach(given, i, p)
    {
        if (n < MAX_PORTS)
            ports[n++] = (struct prov_port){body_str(p, "protocol", "Tcp"), body_int(p, "port", 0),
                                            body_int(p, "hostPort", -1)};
    }
    struct prov_tx t;
    if (prov_begin(&t, c->k, &c->err) < 0) return;
    int64_t id = prov_pip_insert(&t, g, body_str(c->body, "name", ""), given ? ports : NULL, n, 0);
    if (id < 0 || prov_commit(&t) < 0) {
        prov_abort(&t);
        return;
    }
    api_reply_at(c, 201, api_pip_json, id);
}

/* PATCH {"ports": [...]}: its ports replaced, live. */
static void pip_update(struct api_ctx *c)
{
    int64_t g = api_group(c, c->p[0]);
    if (g < 0) return;
    struct prov_port ports[MAX_PORTS];
    size_t n = 0, i;
    const json_t *p;
    json_array_foreach(json_object_get(c->body, "ports"), i, p)
    {
        if (n < MAX_PORTS)
            ports[n++] = (struct prov_port){body_str(p, "protocol", "Tcp"), body_int(p, "port", 0),
                                            body_int(p, "hostPort", -1)};
    }
    int64_t id = prov_pip_set_ports(c->k, g, c->p[1], ports, n, &c->err);
    if (id >= 0) api_reply(c, 200, api_pip_json(c->k, id));
}

static void pip_delete(struct api_ctx *c)
{
    int64_t g = api_group(c, c->p[0]);
    if (g >= 0 && prov_pip_delete(c->k, g, c->p[1], &c->err) == 0) api_reply(c, 204, NULL);
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
        netplane_nic_mac(id, mac);
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

static void nics_list(struct api_ctx *c)
{
    api_list_in_group(c, "nics", api_nic_json);
}

static void nic_show(struct api_ctx *c)
{
    int64_t g = api_group(c, c->p[0]);
    if (g < 0) return;
    int64_t id = api_find(c, "nics", g, c->p[1], "network interface", NULL);
    if (id >= 0) api_reply(c, 200, api_nic_json(c->k, id));
}

static void nic_create(struct api_ctx *c)
{
    int64_t g = api_group(c, c->p[0]);
    if (g < 0) return;
    struct prov_nic_spec s = {
        .name = body_str(c->body, "name", ""),
        .vnet = body_str(c->body, "vnet", ""),
        .subnet = body_str(c->body, "subnet", ""),
        .private_ip = body_str(c->body, "privateIp", NULL),
        .nsg = body_str(c->body, "nsg", NULL),
        .public_ip = body_str(c->body, "publicIp", NULL),
    };
    int64_t id = prov_nic_create(c->k, g, &s, &c->err);
    if (id < 0) return;
    api_reply_at(c, 201, api_nic_json, id);
}

static void nic_update(struct api_ctx *c)
{
    int64_t g = api_group(c, c->p[0]);
    int64_t id =
        g < 0 ? -1
              : prov_nic_update(c->k, g, c->p[1], body_has(c->body, "nsg"),
                                body_str(c->body, "nsg", NULL), body_has(c->body, "publicIp"),
                                body_str(c->body, "publicIp", NULL), &c->err);
    if (id >= 0) api_reply(c, 200, api_nic_json(c->k, id));
}

static void nic_delete(struct api_ctx *c)
{
    int64_t g = api_group(c, c->p[0]);
    if (g >= 0 && prov_nic_delete(c->k, g, c->p[1], &c->err) == 0) api_reply(c, 204, NULL);
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
    {"PATCH", RG "/publicIPAddresses/{}", pip_update, REQ_PIP_UPDATE},
    {"DELETE", RG "/publicIPAddresses/{}", pip_delete, -1},
    {"GET", RG "/networkInterfaces", nics_list, -1},
    {"POST", RG "/networkInterfaces", nic_create, REQ_NIC_CREATE},
    {"GET", RG "/networkInterfaces/{}", nic_show, -1},
    {"PATCH", RG "/networkInterfaces/{}", nic_update, REQ_NIC_UPDATE},
    {"DELETE", RG "/networkInterfaces/{}", nic_delete, -1},
    {NULL, NULL, NULL, -1},
};
