/*
 * netplane.c - wiring kumod's networks to kumo-switch, or to kumo-vmm's
 * user-mode NAT when there is no switch (see netplane.h).
 */
#include "cloud/netplane.h"

#include "cloud/db.h"
#include "cloud/kumod.h"
#include "cloud/paths.h"
#include "cloud/supervisor.h"
#include "cloud/vmm_client.h"
#include "lib/locate.h"
#include "lib/log.h"
#include "network/addr.h"
#include "network/nsg.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define INTERNET_PROBE 0xcb00710au /* 203.0.113.10 (TEST-NET-3): an Internet source */
#define MAX_NICS       8

struct netplane {
    bool has_switch;
    char bin[PATH_MAX];
    char ports[PATH_MAX], control[PATH_MAX], log[PATH_MAX];
    pid_t pid;
    uint64_t start_ticks;
    bool child;
    int64_t last_fail_ms;
    bool pending;       /* the configuration is still to be sent (the switch did not answer yet) */
    json_t *pip_errors; /* "pip-ID" -> [{protocol, port, hostPort, message}] */
    json_t *last;       /* cluster mode: the configuration the switch has */
};

char *netplane_nic_mac(int64_t nic, char buf[24])
{
    snprintf(buf, 24, "02:6b:75:%02x:%02x:%02x", (unsigned)(nic >> 16) & 0xff,
             (unsigned)(nic >> 8) & 0xff, (unsigned)nic & 0xff);
    return buf;
}

bool netplane_has_switch(const struct kumod *k)
{
    return k->net && k->net->has_switch;
}

/* ---- the switch process ---- */

static bool find_switch(struct kumod *k, char *out, size_t len)
{
    const char *want = k->cfg.switch_path;
    if (want[0]) {
        if (!strcmp(want, "none")) return false;
        snprintf(out, len, "%s", want);
        struct stat st;
        return stat(out, &st) == 0 && S_ISREG(st.st_mode) && access(out, X_OK) == 0;
    }
    /* installed side by side, or in the build tree (kumod is in src/cloud/) */
    static const char *const rel[] = {"../..", "../network", NULL};
    return kumo_find_program("kumo-switch", rel, out, len);
}

static bool switch_alive(struct netplane *n)
{
    if (n->pid <= 0) return false;
    if (n->child) {
        /* our own child lives until it is reaped (its pid cannot be reused
         * before), whatever its command line says: right after the spawn
         * that is still empty (posix_spawn returns once the exec has swapped
         * the memory, before the new program's arguments are in it) */
        pid_t r = waitpid(n->pid, NULL, WNOHANG);
        if (r == 0) return true;
        if (r == n->pid) return false;
        /* reaped elsewhere (ECHILD): as for an adopted one */
    }
    return proc_start_ticks(n->pid) == n->start_ticks && proc_cmdline_has(n->pid, n->control);
}

/* The ports socket for sandboxed VMMs (kumod_vmm_ids): their shared group
 * may enter net/ and connect, so a NIC reconnects to a restarted switch. */
static void share_ports(struct kumod *k, struct netplane *n)
{
    unsigned uid, gid;
    if (!kumod_vmm_ids(k, 0, &uid, &gid)) return;
    char dir[PATH_MAX];
    path_in_data(k, dir, "net");
    if (chown(dir, 0, gid) < 0 || chmod(dir, 0710) < 0 || chown(n->ports, 0, gid) < 0 ||
        chmod(n->ports, 0660) < 0)
        log_warn("%s: cannot give the VMMs' group %u access (%s): a VM's NIC will not "
                 "reconnect to a restarted kumo-switch",
                 n->ports, gid, strerror(errno));
}

static bool ping(struct netplane *n, int timeout_ms)
{
    char err[256];
    json_t *req = json_pack("{s:s}", "op", "ping");
    json_t *r = vmm_request(n->control, req, timeout_ms, err, sizeof(err));
    json_decref(req);
    json_decref(r);
    return r != NULL;
}

/* Wait up to ms for the switch's control socket to answer: 1 it does, 0
 * it still runs without answering, -1 it is gone. */
static int await_switch(struct netplane *n, int ms)
{
    /* ms of the clock, not a count of rounds: on a loaded host a round takes
     * far longer than its 20 ms sleep */
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        if (ping(n, 500)) return 1;
        if (!switch_alive(n)) return -1;
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 >= ms) return 0;
        usleep(20000);
    }
}

/* Adopt a running switch of this data directory, or start one. 0 when it
 * answers; 1 when the one started runs but does not answer yet (a loaded
 * host): n->pending says its configuration is still to be sent, which
 * netplane_sync (or netplane_check, now and then) does once it answers;
 * -1 when none could be started. */
static int ensure_switch(struct kumod *k)
{
    struct netplane *n = k->net;
    if (switch_alive(n)) return n->pending && !ping(n, 500) ? 1 : 0;
    pid_t pid = proc_find(n->control);
    if (pid > 0) {
        n->pid = pid;
        n->start_ticks = proc_start_ticks(pid);
        n->child = false;
        /* a switch of an earlier kumod (its VMs' NICs are plugged into it):
         * kept; one that was stopping (scripts/run.sh --stop) and ends
         * meanwhile gives way to a new one */
        int rc = await_switch(n, 5000);
        if (rc == 1) {
            log_info("adopted kumo-switch (pid %d)", (int)pid);
            return 0;
        }
        if (rc == 0) {
            log_info("adopted kumo-switch (pid %d); it does not answer on %s yet: its "
                     "configuration goes to it once it does",
                     (int)pid, n->control);
            n->pending = true;
            return 1;
        }
        n->pid = 0;
    }
    char *argv[] = {n->bin, "--ports", n->ports, "--control", n->control, NULL};
    char err[512];
    if (proc_spawn(argv, n->log, &pid, err, sizeof(err)) < 0) {
        log_error("kumo-switch: %s", err);
        return -1;
    }
    n->pid = pid;
    n->start_ticks = proc_start_ticks(pid);
    n->child = true;
    int rc = await_switch(n, 5000);
    if (rc == 1) {
        log_info("started kumo-switch (pid %d)", (int)pid);
        return 0;
    }
    if (rc == 0) {
        log_info("started kumo-switch (pid %d); it does not answer on %s yet: its configuration "
                 "goes to it once it does",
                 (int)pid, n->control);
        n->pending = true;
        return 1;
    }
    log_error("kumo-switch (pid %d) exited at its start; see %s", (int)pid, n->log);
    n->pid = 0;
    return -1;
}

int netplane_start(struct kumod *k)
{
    assert(kumod_lock_held(k));
    struct netplane *n = calloc(1, sizeof(*n));
    if (!n) return -1;
    k->net = n;
    char dir[PATH_MAX];
    path_in_data(k, dir, "net");
    if (!strcmp(k->cfg.switch_path, "none")) {
        log_warn("kumo-switch disabled (--switch none): VMs get kumo-vmm's user-mode NAT (one "
                 "NIC, public IP ports filtered by the NSGs when the VM starts; no VNets between "
                 "VMs, no metadata service)");
        return 0;
    }
    if (!find_switch(k, n->bin, sizeof(n->bin))) {
        if (k->cfg.switch_path[0])
            log_error("kumo-switch: %s is not an executable file: give the path of kumo-switch "
                      "(--switch PATH), or --switch none for kumo-vmm's user-mode NAT instead",
                      k->cfg.switch_path);
        else
            log_error("kumo-switch not found (looked next to kumod, in the build tree and on "
                      "PATH): build it (scripts/build.sh) or install it beside kumod, give its "
                      "path (--switch PATH), or start kumod with --switch none for kumo-vmm's "
                      "user-mode NAT instead (one NIC per VM, no VNets between VMs)");
        return -1;
    }
    if (path_mkdirs(dir) < 0) {
        log_error("%s: %s", dir, strerror(errno));
        return -1;
    }
    snprintf(n->ports, sizeof(n->ports), "%.3000s/ports.sock", dir);
    snprintf(n->control, sizeof(n->control), "%.3000s/control.sock", dir);
    snprintf(n->log, sizeof(n->log), "%.3000s/switch.log", dir);
    if (strlen(n->ports) >= 100) {
        log_error("%s: too long for kumo-switch's unix sockets (under 100 bytes): use a shorter "
                  "--data-dir, "
                  "or --switch none for kumo-vmm's user-mode NAT",
                  n->ports);
        return -1;
    }
    n->has_switch = true;
    n->pending = true; /* the first configuration: sent now, or as soon as it answers */
    if (ensure_switch(k) == 0) netplane_sync(k);
    return 0;
}

void netplane_stop(struct kumod *k)
{
    if (k->net) {
        json_decref(k->net->pip_errors);
        json_decref(k->net->last);
    }
    free(k->net);
    k->net = NULL;
}

void netplane_check(struct kumod *k)
{
    assert(kumod_lock_held(k));
    struct netplane *n = k->net;
    if (!n || !n->has_switch) return;
    if (switch_alive(n)) {
        if (n->pending && ping(n, 200)) netplane_sync(k); /* it answers now */
        return;
    }
    log_warn("kumo-switch (pid %d) is gone: starting it again", (int)n->pid);
    n->pid = 0;
    n->pending = true;
    if (ensure_switch(k) == 0) netplane_sync(k);
}

json_t *netplane_provisioning(struct kumod *k, int64_t nic_id, bool clear, char *err, size_t errlen)
{
    struct netplane *n = k->net;
    if (!n || !n->has_switch) {
        snprintf(err, errlen, "no kumo-switch (no metadata service)");
        return NULL;
    }
    char nic[32];
    snprintf(nic, sizeof(nic), "nic-%" PRId64, nic_id);
    json_t *req = json_pack("{s:s,s:s,s:b}", "op", "provisioning", "nic", nic, "clear", clear);
    json_t *r = vmm_request(n->control, req, 2000, err, errlen);
    json_decref(req);
    json_t *events = json_incref(json_object_get(r, "events"));
    if (r && !json_is_array(events)) {
        const char *why = json_string_value(json_object_get(r, "error"));
        snprintf(err, errlen, "kumo-switch: %s", why ? why : "no events in its answer");
        json_decref(events);
        events = NULL;
    }
    json_decref(r);
    return events;
}

/* ---- the configuration document ---- */

static json_t *string_list(const char *json_text)
{
    json_t *a = json_loads(json_text, 0, NULL);
    return json_is_array(a) ? a : (json_decref(a), json_array());
}

bool netplane_hostname(const char *vm, char out[64])
{
    size_t n = 0;
    for (; *vm && n < 63; vm++)
        out[n++] = (*vm == '_' || *vm == '.') ? '-' : *vm;
    while (n && out[n - 1] == '-')
        n--;
    out[n] = 0;
    return n > 0;
}

/* A DHCP host name (RFC 1123 label) from a VM name, or NULL. */
static json_t *hostname(const char *vm)
{
    char h[64];
    return netplane_hostname(vm, h) ? json_string(h) : NULL;
}

char *netplane_vm_guid(int64_t vm_id, int64_t created_ms, char buf[40])
{
    uint64_t id = (uint64_t)vm_id, created = (uint64_t)created_ms;
    snprintf(buf, 40, "%08" PRIx64 "-%04" PRIx64 "-4%03" PRIx64 "-8%03" PRIx64 "-%012" PRIx64,
             (created >> 16) & 0xffffffffu, created & 0xffff, (id >> 60) & 0xfff,
             (id >> 48) & 0xfff, id & 0xffffffffffffu);
    return buf;
}

/* The metadata service's view of a NIC's VM (docs/network.md, the NIC's
 * "vm"): columns 6.. of netplane_config's NIC query; the admin account and
 * its SSH keys only when its image is provisioned (the default guest's
 * init reads them there; cloud-init images show them as Azure's IMDS
 * does). */
static json_t *vm_object(sqlite3_stmt *st)
{
    char vmid[40];
    netplane_vm_guid(sqlite3_column_int64(st, 7), sqlite3_column_int64(st, 8), vmid);
    json_t *vm = json_pack("{s:s,s:s}", "name", db_col_text(st, 6), "id", vmid);
    if (!db_col_null(st, 9)) json_object_set_new(vm, "size", json_string(db_col_text(st, 9)));
    if (!db_col_null(st, 10))
        json_object_set_new(vm, "resource_group", json_string(db_col_text(st, 10)));
    if (!db_col_null(st, 11)) json_object_set_new(vm, "location", json_string(db_col_text(st, 11)));
    if (!db_col_null(st, 12))
        json_object_set_new(vm, "user_data", json_string(db_col_text(st, 12)));
    if (!db_col_null(st, 15)) {
        json_object_set_new(vm, "admin_username", json_string(db_col_text(st, 15)));
        json_t *keys = db_col_null(st, 16) ? NULL : json_loads(db_col_text(st, 16), 0, NULL);
        if (json_is_array(keys) && json_array_size(keys))
            json_object_set_new(vm, "public_keys", keys);
        else
            json_decref(keys);
    }
    return vm;
}

/* Cluster mode: every VNet is a VXLAN network (its VNI its id) flooding
 * to the other hosts' underlay addresses (docs/cluster.md, "Networks"). */
static json_t *vxlan_of(int64_t vnet_id, const json_t *flood)
{
    return json_pack("{s:I,s:O}", "vni", (json_int_t)vnet_id, "flood", (json_t *)flood);
}

json_t *netplane_config(struct kumod *k)
{
    struct db *db = k->db;
    json_t *vnets = json_array(), *nsgs = json_array(), *pips = json_array(), *nics = json_array();
    char name[64], ip[NET_IP4_STRLEN], mac[24];
    json_t *flood = json_array();
    char underlay[64] = "";
    if (k->clustered) {
        db_text(db, underlay, sizeof(underlay),
                "SELECT coalesce(address, '') FROM hosts WHERE id = ?", "i", k->host_id);
        sqlite3_stmt *hs = db_stmt(db,
                                   "SELECT address FROM hosts WHERE id != ? AND address IS NOT NULL"
                                   " AND state != 'Down' ORDER BY id",
                                   "i", k->host_id);
        while (hs && sqlite3_step(hs) == SQLITE_ROW)
            json_array_append_new(flood, json_string(db_col_text(hs, 0)));
        sqlite3_finalize(hs);
    }
    sqlite3_stmt *st = db_stmt(db, "SELECT id, address_spaces FROM vnets ORDER BY id", "");
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        json_t *subnets = json_array();
        sqlite3_stmt *ss = db_stmt(
            db, "SELECT id, prefix, nsg_id FROM subnets WHERE vnet_id = ? ORDER BY id", "i", id);
        while (ss && sqlite3_step(ss) == SQLITE_ROW) {
            snprintf(name, sizeof(name), "subnet-%" PRId64, (int64_t)sqlite3_column_int64(ss, 0));
            json_t *s = json_pack("{s:s,s:s}", "name", name, "prefix", db_col_text(ss, 1));
            if (!db_col_null(ss, 2)) {
                snprintf(name, sizeof(name), "nsg-%" PRId64, (int64_t)sqlite3_column_int64(ss, 2));
                json_object_set_new(s, "nsg", json_string(name));
            }
            json_array_append_new(subnets, s);
        }
        sqlite3_finalize(ss);
        snprintf(name, sizeof(name), "vnet-%" PRId64, id);
        json_t *vn = json_pack("{s:s,s:o,s:o}", "name", name, "address_space",
                               string_list(db_col_text(st, 1)), "subnets", subnets);
        if (underlay[0]) json_object_set_new(vn, "vxlan", vxlan_of(id, flood));
        json_array_append_new(vnets, vn);
    }
    sqlite3_finalize(st);

    st = db_stmt(db, "SELECT id FROM nsgs ORDER BY id", "");
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        json_t *rules = json_array();
        sqlite3_stmt *rs =
            db_stmt(db,
                    "SELECT name, priority, direction, access, protocol, src_prefixes,"
                    " dst_prefixes, src_ports, dst_ports, description FROM nsg_rules"
                    " WHERE nsg_id = ? ORDER BY id",
                    "i", id);
        while (rs && sqlite3_step(rs) == SQLITE_ROW)
            json_array_append_new(
                rules,
                json_pack("{s:s,s:I,s:s,s:s,s:s,s:o,s:o,s:s,s:s,s:s}", "name", db_col_text(rs, 0),
                          "priority", (json_int_t)sqlite3_column_int64(rs, 1), "direction",
                          db_col_text(rs, 2), "access", db_col_text(rs, 3), "protocol",
                          db_col_text(rs, 4), "source_address_prefix",
                          string_list(db_col_text(rs, 5)), "destination_address_prefix",
                          string_list(db_col_text(rs, 6)), "source_port_range", db_col_text(rs, 7),
                          "destination_port_range", db_col_text(rs, 8), "description",
                          db_col_text(rs, 9)));
        sqlite3_finalize(rs);
        snprintf(name, sizeof(name), "nsg-%" PRId64, id);
        json_array_append_new(nsgs, json_pack("{s:s,s:o}", "name", name, "rules", rules));
    }
    sqlite3_finalize(st);

    /* public IPs: those of this host's VMs (each host forwards its own) */
    st = db_stmt(db,
                 "SELECT p.id FROM public_ips p WHERE NOT ? OR NOT EXISTS (SELECT 1 FROM nics n"
                 " JOIN vms v ON v.id = n.vm_id WHERE n.public_ip_id = p.id AND v.host_id IS NOT"
                 " NULL AND v.host_id != ?) ORDER BY p.id",
                 "ii", (int64_t)k->clustered, k->host_id);
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        json_t *ports = json_array();
        sqlite3_stmt *ps = db_stmt(db,
                                   "SELECT protocol, port, host_port FROM public_ip_ports"
                                   " WHERE public_ip_id = ? ORDER BY id",
                                   "i", id);
        while (ps && sqlite3_step(ps) == SQLITE_ROW)
            json_array_append_new(ports,
                                  json_pack("{s:I,s:I,s:s}", "host_port",
                                            (json_int_t)sqlite3_column_int64(ps, 2), "nic_port",
                                            (json_int_t)sqlite3_column_int64(ps, 1), "protocol",
                                            db_col_text(ps, 0)));
        sqlite3_finalize(ps);
        snprintf(name, sizeof(name), "pip-%" PRId64, id);
        json_array_append_new(pips, json_pack("{s:s,s:s,s:o}", "name", name, "host_address",
                                              k->cfg.public_address, "ports", ports));
    }
    sqlite3_finalize(st);

    st = db_stmt(
        db,
        "SELECT n.id, s.vnet_id, n.subnet_id, n.private_ip, n.nsg_id, n.public_ip_id, v.name,"
        " v.id, v.created_ms, z.name, g.name, g.location, v.user_data, coalesce(v.host_id, 0),"
        " h.address, v.admin_username, v.ssh_keys"
        " FROM nics n JOIN subnets s ON s.id = n.subnet_id LEFT JOIN vms v ON v.id = n.vm_id"
        " LEFT JOIN sizes z ON z.id = v.size_id LEFT JOIN groups g ON g.id = v.group_id"
        " LEFT JOIN hosts h ON h.id = v.host_id"
        " ORDER BY n.id",
        "");
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        char vnet[32], subnet[32];
        snprintf(name, sizeof(name), "nic-%" PRId64, id);
        snprintf(vnet, sizeof(vnet), "vnet-%" PRId64, (int64_t)sqlite3_column_int64(st, 1));
        snprintf(subnet, sizeof(subnet), "subnet-%" PRId64, (int64_t)sqlite3_column_int64(st, 2));
        json_t *nic = json_pack("{s:s,s:s,s:s,s:s,s:s}", "id", name, "vnet", vnet, "subnet", subnet,
                                "mac", netplane_nic_mac(id, mac), "private_ip",
                                net_ip4_str((uint32_t)sqlite3_column_int64(st, 3), ip));
        int64_t host = sqlite3_column_int64(st, 13);
        if (underlay[0] && host && host != k->host_id && !db_col_null(st, 14) &&
            strcmp(db_col_text(st, 14), underlay) != 0) {
            /* a NIC of a VM on another host: reached over VXLAN; its own
             * host has its NSGs, public IP and metadata */
            json_object_set_new(nic, "host", json_string(db_col_text(st, 14)));
            json_t *h = db_col_null(st, 6) ? NULL : hostname(db_col_text(st, 6));
            if (h) json_object_set_new(nic, "hostname", h);
            json_array_append_new(nics, nic);
            continue;
        }
        if (!db_col_null(st, 4)) {
            snprintf(name, sizeof(name), "nsg-%" PRId64, (int64_t)sqlite3_column_int64(st, 4));
            json_object_set_new(nic, "nsg", json_string(name));
        }
        if (!db_col_null(st, 5)) {
            snprintf(name, sizeof(name), "pip-%" PRId64, (int64_t)sqlite3_column_int64(st, 5));
            json_object_set_new(nic, "public_ip", json_string(name));
        }
        json_t *h = db_col_null(st, 6) ? NULL : hostname(db_col_text(st, 6));
        if (h) json_object_set_new(nic, "hostname", h);
        if (!db_col_null(st, 6)) json_object_set_new(nic, "vm", vm_object(st));
        json_array_append_new(nics, nic);
    }
    sqlite3_finalize(st);
    json_t *doc = json_pack("{s:o,s:o,s:o,s:o}", "vnets", vnets, "nsgs", nsgs, "public_ips", pips,
                            "nics", nics);
    if (underlay[0]) json_object_set_new(doc, "underlay", json_pack("{s:s}", "address", underlay));
    json_decref(flood);
    return doc;
}

/* Keep the switch's public_ip_errors (an array of {"public_ip",
 * "protocol", "port", "host_port", "error"}) by public IP, as messages
 * that say what to do; log the ports that newly fail. */
static void record_pip_errors(struct kumod *k, const json_t *list)
{
    struct netplane *n = k->net;
    json_t *by = json_object();
    size_t i;
    const json_t *e;
    json_array_foreach(list, i, e)
    {
        const char *pip = json_string_value(json_object_get(e, "public_ip"));
        const char *proto = json_string_value(json_object_get(e, "protocol"));
        const char *why = json_string_value(json_object_get(e, "error"));
        json_int_t port = json_integer_value(json_object_get(e, "port"));
        json_int_t hp = json_integer_value(json_object_get(e, "host_port"));
        if (!pip || !proto || !why) continue;
        bool udp = strcmp(proto, "udp") == 0;
        char msg[512];
        snprintf(msg, sizeof(msg),
                 "%s port %" JSON_INTEGER_FORMAT " is not forwarded: kumo-switch %s (does "
                 "another program on the host use that port?). Stop that program (kumod tries "
                 "again at every network change), or give the NIC a new public IP (kumod picks "
                 "host ports that are free) and delete this one",
                 udp ? "UDP" : "TCP", port, why);
        json_t *arr = json_object_get(by, pip);
        if (!arr) {
            arr = json_array();
            json_object_set_new(by, pip, arr);
        }
        json_array_append_new(arr, json_pack("{s:s,s:I,s:I,s:s}", "protocol", udp ? "Udp" : "Tcp",
                                             "port", port, "hostPort", hp, "message", msg));
        const json_t *old = n->pip_errors ? json_object_get(n->pip_errors, pip) : NULL;
        if (!old) log_warn("public IP %s (host port %" JSON_INTEGER_FORMAT "): %s", pip, hp, msg);
    }
    json_decref(n->pip_errors);
    n->pip_errors = by;
}

void netplane_sync(struct kumod *k)
{
    assert(kumod_lock_held(k));
    struct netplane *n = k->net;
    if (!n || !n->has_switch) return; /* the NAT fallback reads the database at VM start */
    bool must_send = false;           /* a new switch, or a configuration it has not had */
    if (!switch_alive(n) || n->pending) {
        if (!switch_alive(n)) n->pending = true;
        if (ensure_switch(k) != 0) return; /* sent once it answers (netplane_check) */
        must_send = true;
    }
    json_t *cfg = netplane_config(k);
    /* cluster mode applies other hosts' changes often: the same
     * configuration again (and no port to retry) is not sent */
    if (k->clustered && !must_send && n->last && json_equal(cfg, n->last) &&
        (!n->pip_errors || json_object_size(n->pip_errors) == 0)) {
        json_decref(cfg);
        return;
    }
    json_decref(n->last); /* remembered again once the switch has it */
    n->last = NULL;
    json_t *sent = k->clustered ? json_incref(cfg) : NULL;
    json_t *req = json_pack("{s:s,s:o}", "op", "set_config", "config", cfg);
    char err[1024];
    json_t *r = vmm_request(n->control, req, 5000, err, sizeof(err));
    json_decref(req);
    if (!r) log_error("kumo-switch refused the network configuration: %s", err);
    if (r) {
        if (must_send) share_ports(k, n); /* a switch new to this kumod: its socket */
        n->pending = false;
        n->last = json_incref(sent);
        record_pip_errors(k, json_object_get(r, "public_ip_errors"));
    }
    json_decref(sent);
    json_decref(r);
}

const json_t *netplane_pip_errors(struct kumod *k, int64_t pip_id)
{
    assert(kumod_lock_held(k));
    struct netplane *n = k->net;
    if (!n || !n->pip_errors) return NULL;
    char name[40];
    snprintf(name, sizeof(name), "pip-%" PRId64, pip_id);
    return json_object_get(n->pip_errors, name);
}

/* ---- a VM's NICs ---- */

static int parse_list(const char *json_text, struct nsg_prefix **out, size_t *n)
{
    json_t *arr = json_loads(json_text, 0, NULL);
    size_t cnt = json_array_size(arr), i;
    *out = calloc(cnt ? cnt : 1, sizeof(**out));
    *n = 0;
    if (!*out) {
        json_decref(arr);
        return -1;
    }
    json_t *el;
    char err[256];
    json_array_foreach(arr, i, el)
    {
        if (nsg_parse_prefix(json_string_value(el) ? json_string_value(el) : "", &(*out)[*n], err,
                             sizeof(err)) == 0)
            (*n)++;
    }
    json_decref(arr);
    return *n ? 0 : -1;
}

/* Build an evaluable NSG from the database. 0 or -1. */
static int load_nsg(struct db *db, int64_t id, struct nsg *nsg)
{
    memset(nsg, 0, sizeof(*nsg));
    sqlite3_stmt *st =
        db_stmt(db,
                "SELECT name, priority, direction, access, protocol, src_prefixes,"
                " dst_prefixes, src_ports, dst_ports FROM nsg_rules WHERE nsg_id = ?",
                "i", id);
    char err[256];
    int rc = 0;
    while (st && rc == 0 && sqlite3_step(st) == SQLITE_ROW) {
        struct nsg_rule *rules = realloc(nsg->rules, (nsg->nrules + 1) * sizeof(*rules));
        if (!rules) {
            rc = -1;
            break;
        }
        nsg->rules = rules;
        struct nsg_rule *r = &rules[nsg->nrules++];
        memset(r, 0, sizeof(*r));
        snprintf(r->name, sizeof(r->name), "%s", db_col_text(st, 0));
        r->priority = (uint16_t)sqlite3_column_int(st, 1);
        bool any;
        if (nsg_parse_direction(db_col_text(st, 2), &r->direction, err, sizeof(err)) < 0 ||
            nsg_parse_access(db_col_text(st, 3), &r->allow, err, sizeof(err)) < 0 ||
            nsg_parse_protocol(db_col_text(st, 4), &r->protocol, err, sizeof(err)) < 0 ||
            parse_list(db_col_text(st, 5), &r->src, &r->nsrc) < 0 ||
            parse_list(db_col_text(st, 6), &r->dst, &r->ndst) < 0 ||
            nsg_parse_ports(db_col_text(st, 7), &r->sports, &r->nsports, &any, err, sizeof(err)) <
                0 ||
            nsg_parse_ports(db_col_text(st, 8), &r->dports, &r->ndports, &any, err, sizeof(err)) <
                0)
            rc = -1;
    }
    sqlite3_finalize(st);
    if (rc == 0 && nsg_finish(nsg, err, sizeof(err)) < 0) rc = -1;
    if (rc < 0) nsg_clear(nsg);
    return rc;
}

/* Does NSG id (0 = none) let an Internet packet to ip:port in? rule (may
 * be NULL) gets the name of the rule that decided. */
static bool nsg_allows_by(struct db *db, int64_t id, uint32_t ip, bool udp, uint16_t port,
                          const struct nsg_vnet_ctx *vnet, char *rule, size_t rule_len)
{
    if (rule_len) rule[0] = 0;
    if (id <= 0) return true; /* no NSG: nothing is filtered */
    struct nsg nsg;
    if (load_nsg(db, id, &nsg) < 0) return false;
    struct nsg_packet p = {.src = INTERNET_PROBE,
                           .dst = ip,
                           .proto = udp ? 17 : 6,
                           .has_ports = true,
                           .sport = 40000,
                           .dport = port,
                           .bytes = 60};
    const struct nsg_rule *r = nsg_evaluate(&nsg, NSG_INBOUND, &p, vnet);
    bool allow = r && r->allow;
    if (r && rule_len) snprintf(rule, rule_len, "%s", r->name);
    nsg_clear(&nsg);
    return allow;
}

static bool nsg_allows(struct db *db, int64_t id, uint32_t ip, bool udp, uint16_t port,
                       const struct nsg_vnet_ctx *vnet)
{
    return nsg_allows_by(db, id, ip, udp, port, vnet, NULL, 0);
}

/* A VNet's address spaces (JSON array text) as CIDRs; their number. */
static size_t parse_spaces(const char *text, struct net_cidr *spaces, size_t max)
{
    size_t n = 0, i;
    json_t *sp = json_loads(text, 0, NULL), *el;
    json_array_foreach(sp, i, el)
    {
        if (n < max && net_cidr_parse(json_string_value(el), &spaces[n], false, false) == 0) n++;
    }
    json_decref(sp);
    return n;
}

int64_t netplane_port_blocked(struct kumod *k, int64_t nic, bool udp, int64_t port, char *by,
                              size_t by_len)
{
    assert(kumod_lock_held(k));
    struct db *db = k->db;
    if (by_len) by[0] = 0;
    sqlite3_stmt *st = db_stmt(db,
                               "SELECT n.private_ip, coalesce(s.nsg_id, 0), coalesce(n.nsg_id, 0),"
                               " v.address_spaces FROM nics n JOIN subnets s ON s.id = n.subnet_id"
                               " JOIN vnets v ON v.id = s.vnet_id WHERE n.id = ?",
                               "i", nic);
    if (!st || sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return 0;
    }
    uint32_t ip = (uint32_t)sqlite3_column_int64(st, 0);
    int64_t nsgs[2] = {sqlite3_column_int64(st, 1), sqlite3_column_int64(st, 2)};
    struct net_cidr spaces[16];
    size_t nspaces = parse_spaces(db_col_text(st, 3), spaces, 16);
    sqlite3_finalize(st);
    struct nsg_vnet_ctx vctx = {spaces, nspaces};
    /* inbound: the subnet's NSG, then the NIC's; both must allow */
    for (int i = 0; i < 2; i++) {
        char rule[96];
        if (port < 1 || port > 65535 ||
            nsg_allows_by(db, nsgs[i], ip, udp, (uint16_t)port, &vctx, rule, sizeof(rule)))
            continue;
        char name[80] = "";
        db_text(db, name, sizeof(name), "SELECT name FROM nsgs WHERE id = ?", "i", nsgs[i]);
        if (by_len) snprintf(by, by_len, "network security group '%s', rule %s", name, rule);
        return nsgs[i];
    }
    return 0;
}

/* The NAT fallback: the first NIC on --net user with filtered forwards. */
static json_t *user_args(struct kumod *k, int64_t vm)
{
    struct db *db = k->db;
    json_t *args = json_array();
    sqlite3_stmt *st =
        db_stmt(db,
                "SELECT n.id, n.private_ip, coalesce(n.nsg_id, 0), coalesce(s.nsg_id, 0),"
                " coalesce(n.public_ip_id, 0), v.address_spaces FROM nics n"
                " JOIN subnets s ON s.id = n.subnet_id JOIN vnets v ON v.id = s.vnet_id"
                " WHERE n.vm_id = ? ORDER BY n.nic_index LIMIT 1",
                "i", vm);
    if (!st || sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return args; /* no NIC: no network */
    }
    int64_t nic = sqlite3_column_int64(st, 0);
    uint32_t ip = (uint32_t)sqlite3_column_int64(st, 1);
    int64_t nic_nsg = sqlite3_column_int64(st, 2), subnet_nsg = sqlite3_column_int64(st, 3);
    int64_t pip = sqlite3_column_int64(st, 4);
    struct net_cidr spaces[16];
    size_t nspaces = parse_spaces(db_col_text(st, 5), spaces, 16);
    sqlite3_finalize(st);
    struct nsg_vnet_ctx vctx = {spaces, nspaces};
    char spec[4096], mac[24];
    int len = snprintf(spec, sizeof(spec), "user");
    st = db_stmt(db,
                 "SELECT protocol, port, host_port FROM public_ip_ports WHERE public_ip_id = ?"
                 " ORDER BY protocol, port",
                 "i", pip);
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        bool udp = strcmp(db_col_text(st, 0), "Udp") == 0;
        uint16_t port = (uint16_t)sqlite3_column_int(st, 1);
        int hp = sqlite3_column_int(st, 2);
        /* inbound: the subnet's NSG, then the NIC's; both must allow */
        if (!nsg_allows(db, subnet_nsg, ip, udp, port, &vctx) ||
            !nsg_allows(db, nic_nsg, ip, udp, port, &vctx))
            continue;
        if (len > 0 && (size_t)len < sizeof(spec))
            len += snprintf(spec + len, sizeof(spec) - (size_t)len, ",hostfwd=%s:%s:%d-:%u",
                            udp ? "udp" : "tcp", k->cfg.public_address, hp, port);
    }
    sqlite3_finalize(st);
    if (len > 0 && (size_t)len < sizeof(spec))
        snprintf(spec + len, sizeof(spec) - (size_t)len, ",mac=%s", netplane_nic_mac(nic, mac));
    json_array_append_new(args, json_string("--net"));
    json_array_append_new(args, json_string(spec));
    return args;
}

json_t *netplane_vm_args(struct kumod *k, int64_t vm, char *err, size_t errlen)
{
    assert(kumod_lock_held(k));
    if (!netplane_has_switch(k)) return user_args(k, vm);
    struct netplane *n = k->net;
    /* (re)send the configuration: it has what the metadata service tells the
     * VM (its size may have changed since the last change of the networks) */
    if (switch_alive(n) || ensure_switch(k) == 0) netplane_sync(k);
    json_t *args = json_array();
    sqlite3_stmt *st =
        db_stmt(k->db, "SELECT id FROM nics WHERE vm_id = ? ORDER BY nic_index", "i", vm);
    int count = 0;
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        if (++count > MAX_NICS) {
            snprintf(err, errlen, "more than %d network interfaces", MAX_NICS);
            sqlite3_finalize(st);
            json_decref(args);
            return NULL;
        }
        int64_t id = sqlite3_column_int64(st, 0);
        char spec[PATH_MAX + 128], mac[24];
        snprintf(spec, sizeof(spec), "switch=%s,nic=nic-%" PRId64 ",mac=%s", n->ports, id,
                 netplane_nic_mac(id, mac));
        json_array_append_new(args, json_string("--net"));
        json_array_append_new(args, json_string(spec));
    }
    sqlite3_finalize(st);
    return args;
}
