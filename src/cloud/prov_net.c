/*
 * prov_net.c - the provisioning layer's networks (provision.h): virtual
 * networks and their subnets, public IPs (host port mappings: the lowest
 * free host port of kumod's range that the host can bind) and network
 * interfaces (addresses from ipam.c), and a VM's open ports (NSG rules
 * and forwards, `az vm open-port`). Every committed change goes to the data
 * plane (the transaction's net_changed).
 */
#include "cloud/provision.h"

#include "cloud/billing.h"
#include "cloud/db.h"
#include "cloud/ipam.h"
#include "cloud/kumod.h"
#include "cloud/netplane.h"
#include "cloud/timefmt.h"
#include "cloud/validate.h"

#include <arpa/inet.h>
#include <assert.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int64_t nsg_ref(struct kumod *k, int64_t g, const char *name, const char *field,
                       struct kerr *e)
{
    if (!name) return 0;
    return prov_find(k, "nsgs", g, name, "network security group", field, e);
}

/* ---- virtual networks and subnets ---- */

static int64_t subnet_insert(struct prov_tx *t, int64_t g, int64_t vnet,
                             const struct prov_subnet_spec *s, const char *prefix)
{
    struct db *db = t->k->db;
    char f[96];
    snprintf(f, sizeof(f), "%s%snsg", prefix, *prefix ? "." : "");
    int64_t nsg = nsg_ref(t->k, g, s->nsg, f, t->e);
    if (nsg < 0) return -1;
    if (db_exec(db,
                "INSERT INTO subnets (vnet_id, name, prefix, nsg_id, created_ms)"
                " VALUES (?, ?, ?, nullif(?, 0), ?)",
                "ittii", vnet, s->name, s->prefix, nsg, time_now_ms()) < 0)
        return prov_db_error(t, "subnet create");
    t->net_changed = true;
    return db_last_id(db);
}

int64_t prov_vnet_insert(struct prov_tx *t, int64_t g, const struct prov_vnet_spec *s)
{
    assert(t->open && kumod_lock_held(t->k));
    struct db *db = t->k->db;
    if (prov_name_free(t->k, "vnets", g, s->name, "virtual network", false, t->e) < 0) return -1;
    json_t *spaces = json_array();
    for (size_t i = 0; i < s->nspaces; i++)
        json_array_append_new(spaces, json_string(s->spaces[i]));
    char *text = json_dumps(spaces, JSON_COMPACT);
    json_decref(spaces);
    int rc = db_exec(
        db, "INSERT INTO vnets (group_id, name, address_spaces, created_ms) VALUES (?, ?, ?, ?)",
        "itti", g, s->name, text, time_now_ms());
    free(text);
    if (rc < 0) return prov_db_error(t, "virtual network create");
    int64_t id = db_last_id(db);
    t->net_changed = true;
    for (size_t i = 0; i < s->nsubnets; i++) {
        char prefix[32];
        snprintf(prefix, sizeof(prefix), "subnets[%zu]", i);
        if (subnet_insert(t, g, id, &s->subnets[i], prefix) < 0) return -1;
    }
    return id;
}

int64_t prov_create_subnet(struct prov_tx *t, int64_t g, const char *vnet_name,
                           const char *subnet_name)
{
    struct db *db = t->k->db;
    int64_t vnet = db_int(db, NULL, -1, "SELECT id FROM vnets WHERE group_id = ? AND name = ?",
                          "it", g, vnet_name);
    if (vnet < 0) {
        const char *space = "10.0.0.0/16";
        struct prov_subnet_spec sub = {subnet_name, "10.0.0.0/24", NULL};
        struct prov_vnet_spec vs = {vnet_name, &space, 1, &sub, 1};
        vnet = prov_vnet_insert(t, g, &vs);
        if (vnet < 0) return -1;
    }
    int64_t subnet = db_int(db, NULL, -1, "SELECT id FROM subnets WHERE vnet_id = ? AND name = ?",
                            "it", vnet, subnet_name);
    if (subnet < 0)
        return kerr_invalid(t->e, "subnet", "subnet: subnet '%s' not found in virtual network '%s'",
                            subnet_name, vnet_name);
    return subnet;
}

int prov_vnet_set_spaces(struct kumod *k, int64_t g, const char *name, const char *const *spaces,
                         size_t n, struct kerr *e)
{
    struct db *db = k->db;
    int64_t id = prov_find(k, "vnets", g, name, "virtual network", NULL, e);
    if (id < 0) return -1;
    struct net_cidr sp[16];
    size_t nsp = 0;
    for (size_t i = 0; i < n; i++)
        if (nsp < 16) net_cidr_parse(spaces[i], &sp[nsp++], false, false);
    sqlite3_stmt *st =
        db_stmt(db, "SELECT name, prefix FROM subnets WHERE vnet_id = ? ORDER BY name", "i", id);
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        struct net_cidr p;
        net_cidr_parse(db_col_text(st, 1), &p, false, false);
        bool inside = false;
        for (size_t i = 0; i < nsp && !inside; i++)
            inside = net_cidr_inside(p, sp[i]);
        if (!inside) {
            kerr_conflict(e, "InUse",
                          "subnet '%s' (%s) would no longer be inside the address spaces; "
                          "delete it or keep a space that holds it",
                          db_col_text(st, 0), db_col_text(st, 1));
            sqlite3_finalize(st);
            return -1;
        }
    }
    sqlite3_finalize(st);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_string(spaces[i]));
    char *text = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    int rc = prov_exec(k, e, true, NULL, "UPDATE vnets SET address_spaces = ? WHERE id = ?", "ti",
                       text, id);
    free(text);
    return rc;
}

int prov_vnet_delete(struct kumod *k, int64_t g, const char *name, struct kerr *e)
{
    int64_t id = prov_find(k, "vnets", g, name, "virtual network", NULL, e);
    if (id < 0) return -1;
    char users[1024] = "";
    prov_users_query(k, users, sizeof(users),
                     "SELECT 'network interface', n.name FROM nics n JOIN subnets s"
                     " ON s.id = n.subnet_id WHERE s.vnet_id = ? ORDER BY n.name LIMIT 11",
                     "i", id);
    prov_users_query(k, users, sizeof(users),
                     "SELECT 'scale set', name FROM vmss WHERE group_id = ? AND vnet = ?"
                     " COLLATE NOCASE ORDER BY name LIMIT 11",
                     "it", g, name);
    if (users[0]) return prov_in_use(e, users, "virtual network '%s'", name);
    return prov_exec(k, e, true, NULL, "DELETE FROM vnets WHERE id = ?", "i", id);
}

int64_t prov_subnet(struct kumod *k, int64_t g, const char *vnet, const char *subnet,
                    struct kerr *e)
{
    int64_t v = prov_find(k, "vnets", g, vnet, "virtual network", NULL, e);
    if (v < 0) return -1;
    int64_t id = db_int(k->db, NULL, -1, "SELECT id FROM subnets WHERE vnet_id = ? AND name = ?",
                        "it", v, subnet);
    if (id < 0) kerr_notfound(e, "subnet '%.64s' not found in virtual network '%s'", subnet, vnet);
    return id;
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

int64_t prov_subnet_create(struct kumod *k, int64_t g, const char *vnet_name,
                           const struct prov_subnet_spec *s, struct kerr *e)
{
    struct db *db = k->db;
    int64_t vnet = prov_find(k, "vnets", g, vnet_name, "virtual network", NULL, e);
    if (vnet < 0) return -1;
    if (db_int(db, NULL, -1, "SELECT id FROM subnets WHERE vnet_id = ? AND name = ?", "it", vnet,
               s->name) >= 0)
        return kerr_conflict(e, "AlreadyExists",
                             "subnet '%s' already exists in virtual network '%s'", s->name,
                             vnet_name);
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
    net_cidr_parse(s->prefix, &p, false, false);
    if (check_subnet_fits(p, sp, nsp, sib, np, nsib, "addressPrefix", e) < 0) return -1;
    struct prov_tx t;
    if (prov_begin(&t, k, e) < 0) return -1;
    int64_t id = subnet_insert(&t, g, vnet, s, "");
    if (id < 0 || prov_commit(&t) < 0) {
        prov_abort(&t);
        return -1;
    }
    return id;
}

int64_t prov_subnet_set_nsg(struct kumod *k, int64_t g, const char *vnet, const char *subnet,
                            const char *nsg_name, struct kerr *e)
{
    int64_t id = prov_subnet(k, g, vnet, subnet, e);
    if (id < 0) return -1;
    int64_t nsg = nsg_ref(k, g, nsg_name, "nsg", e);
    if (nsg < 0) return -1;
    if (prov_exec(k, e, true, NULL, "UPDATE subnets SET nsg_id = nullif(?, 0) WHERE id = ?", "ii",
                  nsg, id) < 0)
        return -1;
    return id;
}

int prov_subnet_delete(struct kumod *k, int64_t g, const char *vnet, const char *subnet,
                       struct kerr *e)
{
    int64_t id = prov_subnet(k, g, vnet, subnet, e);
    if (id < 0) return -1;
    char users[1024] = "";
    prov_users_query(k, users, sizeof(users),
                     "SELECT 'network interface', name FROM nics WHERE subnet_id = ?"
                     " ORDER BY name LIMIT 11",
                     "i", id);
    if (users[0]) return prov_in_use(e, users, "subnet '%s/%s'", vnet, subnet);
    return prov_exec(k, e, true, NULL, "DELETE FROM subnets WHERE id = ?", "i", id);
}

/* ---- public IPs ---- */

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

/* Forward protocol/port of public IP pip from host port hp (-1: the lowest
 * free one) in t; field names the host port for errors. */
static int add_port(struct prov_tx *t, int64_t pip, const char *protocol, int64_t port, int64_t hp,
                    const char *field)
{
    struct kumod *k = t->k;
    struct db *db = k->db;
    const char *proto = canon_pip_protocol(protocol ? protocol : "Tcp");
    if (hp >= 0) {
        if (db_int(db, NULL, -1,
                   "SELECT host_port FROM public_ip_ports WHERE protocol = ? AND host_port = ?",
                   "ti", proto, hp) >= 0)
            return kerr_set(t->e, 409, "AlreadyExists", field,
                            "%s: host port %s %" PRId64 " is already mapped", field, proto, hp);
    } else {
        hp = free_host_port(k, proto);
        if (hp < 0)
            return kerr_conflict(t->e, "QuotaExceeded",
                                 "no free %s host port left in %d-%d (kumod --public-ports)", proto,
                                 k->cfg.port_lo, k->cfg.port_hi);
    }
    t->net_changed = true;
    if (db_exec(db,
                "INSERT INTO public_ip_ports (public_ip_id, protocol, port, host_port)"
                " VALUES (?, ?, ?, ?)",
                "itii", pip, proto, port, hp) < 0)
        return prov_db_error(t, "public IP port");
    return 0;
}

int64_t prov_pip_insert(struct prov_tx *t, int64_t g, const char *name,
                        const struct prov_port *ports, size_t n, int64_t owner_vm)
{
    struct kumod *k = t->k;
    struct db *db = k->db;
    assert(t->open && kumod_lock_held(k));
    if (prov_name_free(k, "public_ips", g, name, "public IP", false, t->e) < 0) return -1;
    static const struct prov_port dflt[] = {
        {"Tcp", 22, -1},
        {"Tcp", 80, -1},
        {"Tcp", 443, -1},
    };
    if (!ports) {
        ports = dflt;
        n = sizeof(dflt) / sizeof(dflt[0]);
    }
    int rc = db_exec(db,
                     "INSERT INTO public_ips (group_id, name, owner_vm, created_ms) VALUES (?, ?, "
                     "nullif(?, 0), ?)",
                     "itii", g, name, owner_vm, time_now_ms());
    if (rc < 0) return prov_db_error(t, "public IP create");
    int64_t id = db_last_id(db);
    t->net_changed = true;
    for (size_t i = 0; i < n; i++) {
        char f[48];
        snprintf(f, sizeof(f), "ports[%zu].hostPort", i);
        if (add_port(t, id, ports[i].protocol, ports[i].port, ports[i].host_port, f) < 0) return -1;
    }
    if (billing_pip_sync(db, id, true, time_now_ms()) < 0)
        return prov_db_error(t, "public IP create");
    return id;
}

int64_t prov_pip_set_ports(struct kumod *k, int64_t g, const char *name,
                           const struct prov_port *ports, size_t n, struct kerr *e)
{
    struct db *db = k->db;
    int64_t id = prov_find(k, "public_ips", g, name, "public IP", NULL, e);
    if (id < 0) return -1;
    char user[80];
    if (db_text(db, user, sizeof(user), "SELECT name FROM vmss WHERE lb_pip_id = ?", "i", id))
        return kerr_conflict(e, "InUse",
                             "public IP '%s' is scale set '%s''s load balancer: its port is the "
                             "set's --lb-port",
                             name, user);
    struct prov_tx t;
    if (prov_begin(&t, k, e) < 0) return -1;
    t.net_changed = true;
    /* the ports that stay keep their host port (unless another is asked) */
    int rc = 0;
    sqlite3_stmt *st = db_stmt(db,
                               "SELECT id, protocol, port, host_port FROM public_ip_ports"
                               " WHERE public_ip_id = ?",
                               "i", id);
    while (rc == 0 && st && sqlite3_step(st) == SQLITE_ROW) {
        const char *proto = db_col_text(st, 1);
        int64_t port = sqlite3_column_int64(st, 2), hp = sqlite3_column_int64(st, 3);
        bool keep = false;
        for (size_t i = 0; i < n && !keep; i++)
            keep =
                !strcmp(canon_pip_protocol(ports[i].protocol ? ports[i].protocol : "Tcp"), proto) &&
                ports[i].port == port && (ports[i].host_port < 0 || ports[i].host_port == hp);
        if (!keep)
            rc = db_exec(db, "DELETE FROM public_ip_ports WHERE id = ?", "i",
                         sqlite3_column_int64(st, 0));
    }
    sqlite3_finalize(st);
    if (rc < 0) {
        prov_db_error(&t, "public IP update");
        prov_abort(&t);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        const char *proto = canon_pip_protocol(ports[i].protocol ? ports[i].protocol : "Tcp");
        if (db_int(db, NULL, 0,
                   "SELECT count(*) FROM public_ip_ports WHERE public_ip_id = ? AND protocol = ?"
                   " AND port = ?",
                   "iti", id, proto, ports[i].port) > 0)
            continue;
        char f[48];
        snprintf(f, sizeof(f), "ports[%zu].hostPort", i);
        if (add_port(&t, id, ports[i].protocol, ports[i].port, ports[i].host_port, f) < 0) {
            prov_abort(&t);
            return -1;
        }
    }
    return prov_commit(&t) < 0 ? -1 : id;
}

int prov_pip_delete(struct kumod *k, int64_t g, const char *name, struct kerr *e)
{
    struct db *db = k->db;
    int64_t id = prov_find(k, "public_ips", g, name, "public IP", NULL, e);
    if (id < 0) return -1;
    char user[80], users[128];
    if (db_text(db, user, sizeof(user), "SELECT name FROM nics WHERE public_ip_id = ?", "i", id)) {
        snprintf(users, sizeof(users), "network interface '%s'", user);
        return prov_in_use(e, users, "public IP '%s'", name);
    }
    if (db_text(db, user, sizeof(user), "SELECT name FROM vmss WHERE lb_pip_id = ?", "i", id)) {
        snprintf(users, sizeof(users), "scale set '%s' (its load balancer)", user);
        return prov_in_use(e, users, "public IP '%s'", name);
    }
    struct prov_tx t;
    if (prov_begin(&t, k, e) < 0) return -1;
    t.net_changed = true;
    if (billing_pip_sync(db, id, false, time_now_ms()) < 0 ||
        db_exec(db, "DELETE FROM public_ips WHERE id = ?", "i", id) < 0) {
        prov_db_error(&t, NULL);
        prov_abort(&t);
        return -1;
    }
    return prov_commit(&t);
}

/* ---- a VM's open ports ---- */

/* An inbound rule allowing protocol to port from anywhere. */
static int allow_rule(struct rule_norm *out, const char *name, int priority, const char *protocol,
                      int64_t port, struct kerr *e)
{
    char ports[24];
    snprintf(ports, sizeof(ports), "%" PRId64, port);
    json_t *r = json_pack("{s:s,s:i,s:s,s:s,s:s,s:s,s:s,s:s}", "name", name, "priority", priority,
                          "direction", "Inbound", "access", "Allow", "protocol", protocol,
                          "sourceAddressPrefix", "*", "destinationPortRange", ports, "description",
                          "made by open-port");
    int rc = r ? rule_normalize(r, "", out, e) : kerr_internal(e, "out of memory");
    json_decref(r);
    return rc;
}

/* The NSG that drops protocol/port on its way to nic, or 0. */
static int64_t blocking_nsg(struct kumod *k, int64_t nic, bool udp, int64_t port)
{
    return netplane_port_blocked(k, nic, udp, port, NULL, 0);
}

int64_t prov_vm_open_port(struct kumod *k, int64_t g, const char *vm_name, const char *protocol,
                          int64_t port, int priority, struct prov_opened *out, struct kerr *e)
{
    assert(kumod_lock_held(k));
    struct db *db = k->db;
    memset(out, 0, sizeof(*out));
    const char *proto = canon_pip_protocol(protocol ? protocol : "Tcp");
    bool udp = !strcmp(proto, "Udp");
    int64_t vm = prov_find(k, "vms", g, vm_name, "virtual machine", NULL, e);
    if (vm < 0) return -1;
    int64_t nic = 0, pip = 0;
    sqlite3_stmt *st = db_stmt(db,
                               "SELECT id, coalesce(public_ip_id, 0) FROM nics WHERE vm_id = ?"
                               " ORDER BY nic_index LIMIT 1",
                               "i", vm);
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        nic = sqlite3_column_int64(st, 0);
        pip = sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    if (!nic)
        return kerr_conflict(e, "InvalidState", "virtual machine '%s' has no network interface",
                             vm_name);
    struct prov_tx t;
    if (prov_begin(&t, k, e) < 0) return -1;
    snprintf(out->rule, sizeof(out->rule), "open-port-%" PRId64, port);
    /* the NSGs that drop it get the rule (read inside t: the second sees
     * the first's rule) */
    for (int i = 0; i < 2; i++) {
        int64_t nsg = blocking_nsg(k, nic, udp, port);
        if (!nsg) break;
        int p = priority;
        if (!p && (p = prov_nsg_free_priority(k, nsg, "Inbound", 900)) < 0) {
            kerr_conflict(e, "QuotaExceeded", "no inbound priority is free from 900 to 4096");
            goto fail;
        }
        struct rule_norm r;
        if (allow_rule(&r, out->rule, p, proto, port, e) < 0) goto fail;
        int rc = prov_nsg_rule_put(&t, nsg, &r);
        rule_norm_free(&r);
        if (rc < 0) goto fail;
        out->priority = p;
        char name[80] = "";
        db_text(db, name, sizeof(name), "SELECT name FROM nsgs WHERE id = ?", "i", nsg);
        size_t used = strlen(out->nsgs);
        snprintf(out->nsgs + used, sizeof(out->nsgs) - used, "%s%s", used ? ", " : "", name);
    }
    if (blocking_nsg(k, nic, udp, port)) { /* a deny rule above the priority given */
        kerr_conflict(e, "InUse",
                      "a rule of higher priority still drops %s port %" PRId64
                      ": give --priority lower than it",
                      proto, port);
        goto fail;
    }
    /* the forward */
    if (!pip) {
        char base[96];
        snprintf(base, sizeof(base), "%.60s-ip", vm_name);
        snprintf(out->pip, sizeof(out->pip), "%s", base);
        if (db_int(db, NULL, 0, "SELECT count(*) FROM public_ips WHERE group_id = ? AND name = ?",
                   "it", g, base) > 0)
            snprintf(out->pip, sizeof(out->pip), "%.60s-ip-%" PRId64, vm_name, vm);
        struct prov_port pp = {proto, port, -1};
        pip = prov_pip_insert(&t, g, out->pip, &pp, 1, vm);
        if (pip < 0) goto fail;
        if (db_exec(db, "UPDATE nics SET public_ip_id = ? WHERE id = ?", "ii", pip, nic) < 0) {
            prov_db_error(&t, NULL);
            goto fail;
        }
        out->pip_created = true;
    } else {
        db_text(db, out->pip, sizeof(out->pip), "SELECT name FROM public_ips WHERE id = ?", "i",
                pip);
        if (db_int(db, NULL, 0,
                   "SELECT count(*) FROM public_ip_ports WHERE public_ip_id = ? AND protocol = ?"
                   " AND port = ?",
                   "iti", pip, proto, port) == 0 &&
            add_port(&t, pip, proto, port, -1, "port") < 0)
            goto fail;
    }
    out->host_port = db_int(db, NULL, 0,
                            "SELECT host_port FROM public_ip_ports WHERE public_ip_id = ?"
                            " AND protocol = ? AND port = ?",
                            "iti", pip, proto, port);
    t.net_changed = true;
    return prov_commit(&t) < 0 ? -1 : vm;
fail:
    prov_abort(&t);
    return -1;
}

/* ---- network interfaces ---- */

/* Refuse a public IP already associated with another NIC. */
static int pip_free(struct kumod *k, int64_t pip, int64_t nic, const char *field, struct kerr *e)
{
    char other[80];
    if (pip > 0 &&
        db_text(k->db, other, sizeof(other),
                "SELECT name FROM nics WHERE public_ip_id = ? AND id != ?", "ii", pip, nic))
        return kerr_set(e, 409, "InUse", field,
                        "%s: the public IP is already associated with network interface '%s'",
                        field, other);
    return 0;
}

int64_t prov_nic_insert(struct prov_tx *t, int64_t g, const char *name, int64_t subnet_id,
                        const char *private_ip, int64_t nsg_id, int64_t pip_id, int64_t owner_vm,
                        const char *ip_field)
{
    struct kumod *k = t->k;
    struct db *db = k->db;
    struct kerr *e = t->e;
    assert(t->open && kumod_lock_held(k));
    if (prov_name_free(k, "nics", g, name, "network interface", false, e) < 0) return -1;
    if (pip_free(k, pip_id, 0, "publicIp", e) < 0) return -1;
    char text[64] = "";
    db_text(db, text, sizeof(text), "SELECT prefix FROM subnets WHERE id = ?", "i", subnet_id);
    struct net_cidr sn;
    if (net_cidr_parse(text, &sn, false, false) < 0)
        return kerr_internal(e, "subnet %" PRId64 " has a bad prefix '%s'", subnet_id, text);
    uint32_t ip;
    if (private_ip) {
        char buf[NET_CIDR_STRLEN];
        net_ip4_parse(private_ip, &ip);
        if (!ipam_usable(sn, ip))
            return kerr_invalid(e, ip_field,
                                "%s: %s is not a usable address of subnet %s (the first four and "
                                "the last are reserved)",
                                ip_field, private_ip, net_cidr_str(sn, buf));
        char other[80];
        if (db_text(db, other, sizeof(other),
                    "SELECT name FROM nics WHERE subnet_id = ? AND private_ip = ?", "ii", subnet_id,
                    (int64_t)ip))
            return kerr_set(e, 409, "AlreadyExists", ip_field,
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
            return kerr_conflict(e, "QuotaExceeded", "subnet %s has no free address left",
                                 net_cidr_str(sn, buf));
        }
    }
    if (db_exec(db,
                "INSERT INTO nics (group_id, name, subnet_id, private_ip, static_ip, nsg_id,"
                " public_ip_id, owner_vm, created_ms)"
                " VALUES (?, ?, ?, ?, ?, nullif(?, 0), nullif(?, 0), nullif(?, 0), ?)",
                "itiiiiiii", g, name, subnet_id, (int64_t)ip, (int64_t)(private_ip != NULL), nsg_id,
                pip_id, owner_vm, time_now_ms()) < 0)
        return prov_db_error(t, "network interface create");
    t->net_changed = true;
    return db_last_id(db);
}

static int64_t pip_ref(struct kumod *k, int64_t g, const char *name, const char *field,
                       struct kerr *e)
{
    if (!name) return 0;
    return prov_find(k, "public_ips", g, name, "public IP", field, e);
}

int64_t prov_nic_create(struct kumod *k, int64_t g, const struct prov_nic_spec *s, struct kerr *e)
{
    struct db *db = k->db;
    int64_t vnet = prov_find(k, "vnets", g, s->vnet, "virtual network", "vnet", e);
    if (vnet < 0) return -1;
    int64_t subnet = db_int(db, NULL, -1, "SELECT id FROM subnets WHERE vnet_id = ? AND name = ?",
                            "it", vnet, s->subnet);
    if (subnet < 0)
        return kerr_invalid(e, "subnet", "subnet: subnet '%s' not found in virtual network '%s'",
                            s->subnet, s->vnet);
    int64_t nsg = nsg_ref(k, g, s->nsg, "nsg", e);
    if (nsg < 0) return -1;
    int64_t pip = pip_ref(k, g, s->public_ip, "publicIp", e);
    if (pip < 0) return -1;
    struct prov_tx t;
    if (prov_begin(&t, k, e) < 0) return -1;
    int64_t id = prov_nic_insert(&t, g, s->name, subnet, s->private_ip, nsg, pip, 0, "privateIp");
    if (id < 0 || prov_commit(&t) < 0) {
        prov_abort(&t);
        return -1;
    }
    return id;
}

int64_t prov_nic_update(struct kumod *k, int64_t g, const char *name, bool set_nsg,
                        const char *nsg_name, bool set_pip, const char *pip_name, struct kerr *e)
{
    struct db *db = k->db;
    int64_t id = prov_find(k, "nics", g, name, "network interface", NULL, e);
    if (id < 0) return -1;
    struct prov_tx t;
    if (prov_begin(&t, k, e) < 0) return -1;
    t.net_changed = true;
    int rc = 0;
    if (set_nsg) {
        int64_t nsg = nsg_ref(k, g, nsg_name, "nsg", e);
        rc = nsg < 0
                 ? -1
                 : db_exec(db, "UPDATE nics SET nsg_id = nullif(?, 0) WHERE id = ?", "ii", nsg, id);
    }
    if (rc == 0 && set_pip) {
        int64_t pip = pip_ref(k, g, pip_name, "publicIp", e);
        rc = pip < 0 || pip_free(k, pip, id, "publicIp", e) < 0
                 ? -1
                 : db_exec(db, "UPDATE nics SET public_ip_id = nullif(?, 0) WHERE id = ?", "ii",
                           pip, id);
    }
    if (rc < 0) {
        if (!e->status) prov_db_error(&t, NULL);
        prov_abort(&t);
        return -1;
    }
    return prov_commit(&t) < 0 ? -1 : id;
}

int prov_nic_delete(struct kumod *k, int64_t g, const char *name, struct kerr *e)
{
    int64_t id = prov_find(k, "nics", g, name, "network interface", NULL, e);
    if (id < 0) return -1;
    char vm[80];
    if (db_text(k->db, vm, sizeof(vm),
                "SELECT v.name FROM nics n JOIN vms v ON v.id = n.vm_id WHERE n.id = ?", "i", id)) {
        char users[128];
        snprintf(users, sizeof(users), "virtual machine '%s'", vm);
        return prov_in_use(e, users, "network interface '%s'", name);
    }
    return prov_exec(k, e, true, NULL, "DELETE FROM nics WHERE id = ?", "i", id);
}
