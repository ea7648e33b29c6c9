/*
 * prov_vmss.c - the provisioning layer's scale sets (provision.h): what is
 * wanted (the model, the capacity, the load balancer and its public IP, the
 * set's network) is recorded here; the controller (vmss.c) makes the
 * instances, through prov_vm_insert and prov_vm_delete_id.
 */
#include "cloud/provision.h"

#include "cloud/db.h"
#include "cloud/guestprov.h"
#include "cloud/kumod.h"
#include "cloud/placement.h"
#include "cloud/timefmt.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The set's network in t: its VNet and subnet (made like a VM create's
 * implicit VNet when missing), and its NSG (given, or NAME-nsg allowing
 * SSH and the load balancer's backend port). */
static int set_network(struct prov_tx *t, int64_t g, const struct prov_vmss_spec *s,
                       const char *vnet, const char *subnet, int64_t *nsg)
{
    struct kumod *k = t->k;
    struct db *db = k->db;
    if (prov_create_subnet(t, g, vnet, subnet) < 0) return -1;
    if (s->nsg) {
        *nsg = prov_find(k, "nsgs", g, s->nsg, "network security group", "nsg", t->e);
        return *nsg < 0 ? -1 : 0;
    }
    char nsg_name[96];
    snprintf(nsg_name, sizeof(nsg_name), "%s-nsg", s->name);
    *nsg = db_int(db, NULL, -1, "SELECT id FROM nsgs WHERE group_id = ? AND name = ?", "it", g,
                  nsg_name);
    if (*nsg >= 0) return 0;
    struct rule_norm rules[2];
    size_t n = 0;
    if (prov_allow_tcp_rule(&rules[n], "AllowSSH", 1000, 22, "made by scale set create", t->e) < 0)
        return -1;
    n++;
    if (s->lb_port > 0 && s->lb_port != 22) {
        if (prov_allow_tcp_rule(&rules[n], "AllowLoadBalancer", 1010, s->lb_port,
                                "the scale set's load balancer backend port", t->e) < 0) {
            rule_norm_free(&rules[0]);
            return -1;
        }
        n++;
    }
    *nsg = prov_nsg_insert(t, g, nsg_name, rules, n);
    for (size_t i = 0; i < n; i++)
        rule_norm_free(&rules[i]);
    return *nsg < 0 ? -1 : 0;
}

/* The most instances of a set of size (vcpus, mib) with live ones now
 * that the hosts can hold, up to want; e set (409 CapacityExceeded, what
 * names the set) when that is fewer than want. */
static int64_t fit(struct kumod *k, const char *what, const char *size, int64_t vcpus, int64_t mib,
                   int64_t live, int64_t want, struct kerr *e)
{
    if (want <= live) return want;
    char why[512];
    int64_t room = placement_room(k->db, vcpus, mib, want - live, why, sizeof(why));
    if (live + room >= want) return want;
    kerr_conflict(e, "CapacityExceeded",
                  "%s: %" PRId64 " more instance%s of size %s (%" PRId64 " vCPU%s, %" PRId64
                  " MiB each) %s not fit: the hosts have room for %" PRId64
                  " more, so the capacity can be at most %" PRId64 " (%s); nothing was changed",
                  what, want - live, want - live == 1 ? "" : "s", size, vcpus,
                  vcpus == 1 ? "" : "s", mib, want - live == 1 ? "does" : "do", room, live + room,
                  why);
    return live + room;
}

int64_t prov_vmss_fit(struct kumod *k, int64_t set, int64_t capacity, struct kerr *e)
{
    assert(kumod_lock_held(k));
    struct db *db = k->db;
    int64_t vcpus = 0, mib = 0;
    char size[80] = "", name[80] = "";
    sqlite3_stmt *st = db_stmt(db,
                               "SELECT z.vcpus, z.mem_mib, z.name, s.name FROM vmss s"
                               " JOIN sizes z ON z.id = s.size_id WHERE s.id = ?",
                               "i", set);
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        vcpus = sqlite3_column_int64(st, 0);
        mib = sqlite3_column_int64(st, 1);
        snprintf(size, sizeof(size), "%s", db_col_text(st, 2));
        snprintf(name, sizeof(name), "%s", db_col_text(st, 3));
    }
    sqlite3_finalize(st);
    int64_t live = db_int(db, NULL, 0,
                          "SELECT count(*) FROM vms WHERE vmss_id = ?"
                          " AND coalesce(op, '') NOT LIKE 'delete%'",
                          "i", set);
    char what[120];
    snprintf(what, sizeof(what), "scale set '%s'", name);
    return fit(k, what, size, vcpus, mib, live, capacity, e);
}

int64_t prov_vmss_insert(struct prov_tx *t, int64_t g, const struct prov_vmss_spec *s)
{
    struct kumod *k = t->k;
    struct db *db = k->db;
    struct kerr *e = t->e;
    assert(t->open && kumod_lock_held(k));
    if (prov_name_free(k, "vmss", g, s->name, "scale set", true, e) < 0) return -1;
    struct prov_size size;
    if (!prov_size_lookup(k, s->size, &size, e)) return -1;
    int64_t sid = size.id, iid = prov_ready_image(k, s->image ? s->image : "default", e);
    if (iid < 0) return -1;
    /* the instances' admin account: what a VM of the image could have */
    struct prov_vm_spec os = {.admin_username = s->admin_username,
                              .ssh_keys = s->ssh_keys,
                              .nkeys = s->nkeys,
                              .admin_password = s->admin_password};
    if (prov_check_os_profile(k, iid, &os, e) < 0) return -1;
    char what[120];
    snprintf(what, sizeof(what), "scale set '%s'", s->name);
    if (fit(k, what, size.name, size.vcpus, size.mem_mib, 0, s->capacity, e) < s->capacity)
        return -1;
    char dflt_vnet[96];
    snprintf(dflt_vnet, sizeof(dflt_vnet), "%s-vnet", s->name);
    const char *vnet = s->vnet ? s->vnet : dflt_vnet, *subnet = s->subnet ? s->subnet : "default";
    const char *proto = s->probe_protocol ? s->probe_protocol : "Tcp";
    int64_t nsg = 0, pip = 0, now = time_now_ms();
    if (set_network(t, g, s, vnet, subnet, &nsg) < 0) return -1;
    if (s->lb_port > 0) {
        char pip_name[96];
        snprintf(pip_name, sizeof(pip_name), "%s-lb", s->name);
        struct prov_port port = {"Tcp", s->lb_port, -1};
        pip = prov_pip_insert(t, g, pip_name, &port, 1, 0);
        if (pip < 0) return -1;
    }
    char hash[GUESTPROV_PASSWORD_MAX], *keys;
    if (prov_os_profile_encode(&os, hash, sizeof(hash), &keys, e) < 0) return -1;
    char *tags = s->tags ? json_dumps(s->tags, JSON_COMPACT) : NULL;
    int rc = db_exec(
        db,
        "INSERT INTO vmss (group_id, name, size_id, image_id, os_tier, vnet, subnet, nsg_id,"
        " user_data, capacity, lb_port, lb_pip_id, probe_protocol, probe_path, probe_interval,"
        " tags, created_ms, updated_ms, admin_username, ssh_keys, admin_pw_hash) VALUES (?, ?,"
        " ?, ?, ?, ?, ?, nullif(?, 0), ?, ?, nullif(?, 0), nullif(?, 0), ?, ?, ?, ?, ?, ?, ?, ?,"
        " nullif(?, ''))",
        "itiitttitiiittiiiittt", g, s->name, sid, iid, s->os_tier, vnet, subnet, nsg,
        s->user_data, s->capacity, s->lb_port, pip, strcasecmp(proto, "Http") ? "Tcp" : "Http",
        s->probe_path ? s->probe_path : "/", s->probe_interval, tags ? tags : "{}", now, now,
        s->admin_username, keys, hash);
    free(tags);
    free(keys);
    explicit_bzero(hash, sizeof(hash));
    int64_t id = db_last_id(db);
    if (rc < 0) return prov_db_error(t, NULL);
    t->net_changed = true;
    return id;
}

int64_t prov_vmss_create(struct kumod *k, int64_t g, const struct prov_vmss_spec *s, struct kerr *e)
{
    struct prov_tx t;
    if (prov_begin(&t, k, e) < 0) return -1;
    int64_t id = prov_vmss_insert(&t, g, s);
    if (id < 0 || prov_commit(&t) < 0) {
        prov_abort(&t);
        return -1;
    }
    return id;
}

static int64_t vmss_lookup(struct kumod *k, int64_t g, const char *name, struct kerr *e)
{
    int64_t id = prov_find(k, "vmss", g, name, "scale set", NULL, e);
    if (id >= 0 && db_int(k->db, NULL, 0, "SELECT deleting FROM vmss WHERE id = ?", "i", id))
        return kerr_conflict(e, "InvalidState", "scale set '%s' is being deleted", name);
    return id;
}

/* Can image iid take scale set id's OS profile (a model's new image)? 0, or
 * -1 with prov_check_os_profile's 400. */
static int vmss_os_profile_fits(struct kumod *k, int64_t id, int64_t iid, struct kerr *e)
{
    sqlite3_stmt *st = db_stmt(k->db,
                               "SELECT admin_username, json_array_length(coalesce(ssh_keys, '[]')),"
                               " admin_pw_hash FROM vmss WHERE id = ?",
                               "i", id);
    if (!st || sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return 0;
    }
    char user[64], hash[GUESTPROV_PASSWORD_MAX];
    snprintf(user, sizeof(user), "%s", db_col_text(st, 0));
    snprintf(hash, sizeof(hash), "%s", db_col_text(st, 2));
    struct prov_vm_spec os = {.admin_username = db_col_null(st, 0) ? NULL : user,
                              .nkeys = (size_t)sqlite3_column_int64(st, 1),
                              .admin_pw_hash = db_col_null(st, 2) ? NULL : hash};
    sqlite3_finalize(st);
    return prov_check_os_profile(k, iid, &os, e);
}

int64_t prov_vmss_update(struct kumod *k, int64_t g, const char *name, const char *size,
                         const char *image, bool set_user_data, const char *user_data,
                         const json_t *tags, struct kerr *e)
{
    struct db *db = k->db;
    int64_t id = vmss_lookup(k, g, name, e);
    if (id < 0) return -1;
    struct prov_size sz = {.id = -1};
    int64_t sid = -1, iid = -1;
    if (size && !prov_size_lookup(k, size, &sz, e)) return -1;
    sid = sz.id;
    if (image && (iid = prov_ready_image(k, image, e)) < 0) return -1;
    if (iid >= 0 && vmss_os_profile_fits(k, id, iid, e) < 0) return -1;
    bool changed = false;
    struct prov_tx t;
    if (prov_begin(&t, k, e) < 0) return -1;
    int rc = 0;
    if (sid >= 0 && db_int(db, NULL, 0, "SELECT size_id FROM vmss WHERE id = ?", "i", id) != sid) {
        rc = db_exec(db, "UPDATE vmss SET size_id = ? WHERE id = ?", "ii", sid, id);
        changed = true;
    }
    if (rc == 0 && iid >= 0 &&
        db_int(db, NULL, 0, "SELECT image_id FROM vmss WHERE id = ?", "i", id) != iid) {
        rc = db_exec(db, "UPDATE vmss SET image_id = ? WHERE id = ?", "ii", iid, id);
        changed = true;
    }
    if (rc == 0 && set_user_data) {
        rc = db_exec(db, "UPDATE vmss SET user_data = ? WHERE id = ?", "ti", user_data, id);
        changed = true;
    }
    if (rc == 0 && tags) {
        char *text = json_dumps(tags, JSON_COMPACT);
        rc = db_exec(db, "UPDATE vmss SET tags = ? WHERE id = ?", "ti", text, id);
        free(text);
    }
    if (rc == 0 && changed)
        rc = db_exec(db, "UPDATE vmss SET model_version = model_version + 1 WHERE id = ?", "i", id);
    if (rc == 0)
        rc = db_exec(db, "UPDATE vmss SET updated_ms = ? WHERE id = ?", "ii", time_now_ms(), id);
    if (rc < 0) {
        prov_db_error(&t, NULL);
        prov_abort(&t);
        return -1;
    }
    return prov_commit(&t) < 0 ? -1 : id;
}

int64_t prov_vmss_scale(struct kumod *k, int64_t g, const char *name, int64_t capacity,
                        struct kerr *e)
{
    int64_t id = vmss_lookup(k, g, name, e);
    if (id < 0) return -1;
    /* a scale out that cannot fit is refused up front: nothing is made */
    if (prov_vmss_fit(k, id, capacity, e) < capacity) return -1;
    return prov_exec(k, e, false, NULL, "UPDATE vmss SET capacity = ?, updated_ms = ? WHERE id = ?",
                     "iii", capacity, time_now_ms(), id) < 0
               ? -1
               : id;
}

int64_t prov_vmss_delete(struct kumod *k, int64_t g, const char *name, struct kerr *e)
{
    int64_t id = prov_find(k, "vmss", g, name, "scale set", NULL, e);
    if (id < 0) return -1;
    return prov_exec(k, e, false, NULL,
                     "UPDATE vmss SET deleting = 1, capacity = 0, updated_ms = ? WHERE id = ?",
                     "ii", time_now_ms(), id) < 0
               ? -1
               : id;
}
