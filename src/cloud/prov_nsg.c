/*
 * prov_nsg.c - the provisioning layer's network security groups and their
 * rules (provision.h). Rules arrive normalised (validate.h); here their
 * priorities are kept unique per direction and every change goes to the
 * data plane. The six default rules are not stored (api_nsg.c shows them).
 */
#include "cloud/provision.h"

#include "cloud/db.h"
#include "cloud/kumod.h"
#include "cloud/timefmt.h"

#include <assert.h>
#include <stdio.h>

/* Store r in nsg (replace: the id of the rule it replaces, or 0). */
static int rule_store(struct kumod *k, int64_t nsg, const struct rule_norm *r, int64_t replace,
                      struct kerr *e)
{
    struct db *db = k->db;
    int64_t other_p =
        db_int(db, NULL, -1,
               "SELECT id FROM nsg_rules WHERE nsg_id = ? AND direction = ? AND priority = ?"
               " AND id != ?",
               "itii", nsg, r->direction, (int64_t)r->priority, replace);
    if (other_p >= 0) {
        char other[96];
        db_text(db, other, sizeof(other), "SELECT name FROM nsg_rules WHERE id = ?", "i", other_p);
        return kerr_set(e, 409, "AlreadyExists", "priority",
                        "priority: rule '%s' already has priority %d for %s", other, r->priority,
                        r->direction);
    }
    int rc;
    if (replace > 0)
        rc = db_exec(db,
                     "UPDATE nsg_rules SET priority = ?, direction = ?, access = ?, protocol = ?,"
                     " src_prefixes = ?, dst_prefixes = ?, src_ports = ?, dst_ports = ?,"
                     " description = ? WHERE id = ?",
                     "itttttttti", (int64_t)r->priority, r->direction, r->access, r->protocol,
                     r->src_prefixes, r->dst_prefixes, r->src_ports, r->dst_ports, r->description,
                     replace);
    else
        rc = db_exec(db,
                     "INSERT INTO nsg_rules (nsg_id, name, priority, direction, access, protocol,"
                     " src_prefixes, dst_prefixes, src_ports, dst_ports, description, created_ms)"
                     " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     "iti"
                     "tttttttt"
                     "i",
                     nsg, r->name, (int64_t)r->priority, r->direction, r->access, r->protocol,
                     r->src_prefixes, r->dst_prefixes, r->src_ports, r->dst_ports, r->description,
                     time_now_ms());
    return rc < 0 ? kerr_internal(e, "%s", db_errmsg(db)) : 0;
}

int64_t prov_nsg_insert(struct prov_tx *t, int64_t g, const char *name,
                        const struct rule_norm *rules, size_t n)
{
    struct db *db = t->k->db;
    assert(t->open && kumod_lock_held(t->k));
    if (prov_name_free(t->k, "nsgs", g, name, "network security group", false, t->e) < 0) return -1;
    if (db_exec(db, "INSERT INTO nsgs (group_id, name, created_ms) VALUES (?, ?, ?)", "iti", g,
                name, time_now_ms()) < 0)
        return prov_db_error(t, NULL);
    int64_t id = db_last_id(db);
    t->net_changed = true;
    for (size_t i = 0; i < n; i++)
        if (rule_store(t->k, id, &rules[i], 0, t->e) < 0) return -1;
    return id;
}

int prov_nsg_delete(struct kumod *k, int64_t g, const char *name, struct kerr *e)
{
    int64_t id = prov_find(k, "nsgs", g, name, "network security group", NULL, e);
    if (id < 0) return -1;
    char users[1024] = "";
    prov_users_query(k, users, sizeof(users),
                     "SELECT 'subnet', v.name || '/' || s.name FROM subnets s"
                     " JOIN vnets v ON v.id = s.vnet_id WHERE s.nsg_id = ?1"
                     " UNION ALL SELECT 'network interface', name FROM nics WHERE nsg_id = ?1"
                     " UNION ALL SELECT 'scale set', name FROM vmss WHERE nsg_id = ?1"
                     " LIMIT 11",
                     "i", id);
    if (users[0]) return prov_in_use(e, users, "network security group '%s'", name);
    return prov_exec(k, e, true, NULL, "DELETE FROM nsgs WHERE id = ?", "i", id);
}

int prov_nsg_rule_set(struct kumod *k, int64_t nsg, const char *nsg_name, const struct rule_norm *r,
                      bool create_only, bool *created, struct kerr *e)
{
    int64_t existing =
        db_int(k->db, NULL, -1, "SELECT id FROM nsg_rules WHERE nsg_id = ? AND name = ?", "it", nsg,
               r->name);
    if (create_only && existing >= 0)
        return kerr_conflict(e, "AlreadyExists",
                             "rule '%s' already exists in network security group '%s'", r->name,
                             nsg_name);
    struct prov_tx t;
    if (prov_begin(&t, k, e) < 0) return -1;
    t.net_changed = true;
    if (rule_store(k, nsg, r, existing >= 0 ? existing : 0, e) < 0) {
        prov_abort(&t);
        return -1;
    }
    if (prov_commit(&t) < 0) return -1;
    *created = existing < 0;
    return 0;
}

int prov_nsg_rule_put(struct prov_tx *t, int64_t nsg, const struct rule_norm *r)
{
    assert(t->open && kumod_lock_held(t->k));
    int64_t existing =
        db_int(t->k->db, NULL, -1, "SELECT id FROM nsg_rules WHERE nsg_id = ? AND name = ?", "it",
               nsg, r->name);
    t->net_changed = true;
    return rule_store(t->k, nsg, r, existing >= 0 ? existing : 0, t->e);
}

int prov_nsg_free_priority(struct kumod *k, int64_t nsg, const char *direction, int from)
{
    for (int p = from; p <= 4096; p++)
        if (db_int(k->db, NULL, 0,
                   "SELECT count(*) FROM nsg_rules WHERE nsg_id = ? AND direction = ?"
                   " AND priority = ?",
                   "iti", nsg, direction, (int64_t)p) == 0)
            return p;
    return -1;
}

int prov_nsg_rule_delete(struct kumod *k, int64_t nsg, const char *nsg_name, const char *rule,
                         struct kerr *e)
{
    struct db *db = k->db;
    int64_t id = db_int(db, NULL, -1, "SELECT id FROM nsg_rules WHERE nsg_id = ? AND name = ?",
                        "it", nsg, rule);
    if (id < 0)
        return kerr_notfound(e, "rule '%.80s' not found in network security group '%s'", rule,
                             nsg_name);
    return prov_exec(k, e, true, NULL, "DELETE FROM nsg_rules WHERE id = ?", "i", id);
}
