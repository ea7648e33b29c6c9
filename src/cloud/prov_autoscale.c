/*
 * prov_autoscale.c - the provisioning layer's autoscale settings
 * (provision.h): one setting per scale set, its capacity bounds and its
 * rules (autoscale.h's shape, stored canonical). The controller (vmss.c)
 * evaluates them; the REST API (api_autoscale.c) and the ARM endpoint's
 * Microsoft.Insights/autoscalesettings make and change them here.
 */
#include "cloud/provision.h"

#include "cloud/autoscale.h"
#include "cloud/db.h"
#include "cloud/kumod.h"
#include "cloud/timefmt.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Rules (checked objects) in canonical form, as JSON text; NULL + e when
 * one is not understood or there are too many. */
static char *canonical_rules(const json_t *rules, struct kerr *e)
{
    if (json_array_size(rules) > AS_MAX_RULES) {
        kerr_invalid(e, "rules", "rules: at most %d rules", AS_MAX_RULES);
        return NULL;
    }
    json_t *arr = json_array();
    size_t i;
    const json_t *r;
    json_array_foreach(rules, i, r)
    {
        char prefix[32];
        snprintf(prefix, sizeof(prefix), "rules[%zu].", i);
        struct as_rule ar;
        if (as_rule_parse(r, prefix, &ar, e) < 0) {
            json_decref(arr);
            return NULL;
        }
        json_array_append_new(arr, as_rule_json(&ar));
    }
    char *text = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    if (!text) kerr_internal(e, "out of memory");
    return text;
}

static int check_bounds(int64_t lo, int64_t hi, int64_t d, struct kerr *e)
{
    if (lo > hi)
        return kerr_invalid(e, "maximum", "maximum: %" PRId64 " is less than minimum %" PRId64, hi,
                            lo);
    if (d < lo || d > hi)
        return kerr_invalid(e, "default",
                            "default: %" PRId64 " is outside minimum-maximum %" PRId64 "-%" PRId64,
                            d, lo, hi);
    return 0;
}

int64_t prov_autoscale_insert(struct prov_tx *t, int64_t g, const struct prov_autoscale_spec *s)
{
    struct kumod *k = t->k;
    struct db *db = k->db;
    struct kerr *e = t->e;
    assert(t->open && kumod_lock_held(k));
    if (prov_name_free(k, "autoscale", g, s->name, "autoscale setting", true, e) < 0) return -1;
    int64_t set = prov_find(k, "vmss", g, s->scale_set, "scale set", "scaleSet", e);
    if (set < 0) return -1;
    char other[80];
    if (db_text(db, other, sizeof(other), "SELECT name FROM autoscale WHERE vmss_id = ?", "i", set))
        return kerr_conflict(e, "AlreadyExists",
                             "scale set '%s' already has autoscale setting '%s'; update or delete "
                             "it",
                             s->scale_set, other);
    if (check_bounds(s->minimum, s->maximum, s->dflt, e) < 0) return -1;
    char *rules = canonical_rules(s->rules, e);
    if (!rules) return -1;
    int rc = db_exec(db,
                     "INSERT INTO autoscale (group_id, name, vmss_id, enabled, minimum, maximum,"
                     " dflt, rules, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     "itiiiiiti", g, s->name, set, (int64_t)s->enabled, s->minimum, s->maximum,
                     s->dflt, rules, time_now_ms());
    free(rules);
    if (rc < 0) return prov_db_error(t, "autoscale setting create");
    return db_last_id(db);
}

int64_t prov_autoscale_create(struct kumod *k, int64_t g, const struct prov_autoscale_spec *s,
                              struct kerr *e)
{
    struct prov_tx t;
    if (prov_begin(&t, k, e) < 0) return -1;
    int64_t id = prov_autoscale_insert(&t, g, s);
    if (id < 0 || prov_commit(&t) < 0) {
        prov_abort(&t);
        return -1;
    }
    return id;
}

int64_t prov_autoscale_update(struct kumod *k, int64_t g, const char *name, int64_t minimum,
                              int64_t maximum, int64_t dflt, int enabled, const json_t *rules,
                              struct kerr *e)
{
    struct db *db = k->db;
    int64_t id = prov_find(k, "autoscale", g, name, "autoscale setting", NULL, e);
    if (id < 0) return -1;
    int64_t lo = minimum >= 0
                     ? minimum
                     : db_int(db, NULL, 0, "SELECT minimum FROM autoscale WHERE id = ?", "i", id);
    int64_t hi = maximum >= 0
                     ? maximum
                     : db_int(db, NULL, 0, "SELECT maximum FROM autoscale WHERE id = ?", "i", id);
    int64_t d =
        dflt >= 0 ? dflt : db_int(db, NULL, 0, "SELECT dflt FROM autoscale WHERE id = ?", "i", id);
    if (check_bounds(lo, hi, d, e) < 0) return -1;
    char *text = NULL;
    if (rules && !(text = canonical_rules(rules, e))) return -1;
    struct prov_tx t;
    if (prov_begin(&t, k, e) < 0) {
        free(text);
        return -1;
    }
    int rc = db_exec(db,
                     "UPDATE autoscale SET minimum = ?, maximum = ?, dflt = ?,"
                     " rules = coalesce(?, rules) WHERE id = ?",
                     "iiiti", lo, hi, d, text, id);
    if (rc == 0 && enabled >= 0)
        rc = db_exec(db, "UPDATE autoscale SET enabled = ? WHERE id = ?", "ii",
                     (int64_t)(enabled > 0), id);
    free(text);
    if (rc < 0) {
        prov_db_error(&t, "autoscale setting update");
        prov_abort(&t);
        return -1;
    }
    return prov_commit(&t) < 0 ? -1 : id;
}

int prov_autoscale_delete(struct kumod *k, int64_t g, const char *name, struct kerr *e)
{
    struct db *db = k->db;
    int64_t id = prov_find(k, "autoscale", g, name, "autoscale setting", NULL, e);
    if (id < 0) return -1;
    struct prov_tx t;
    if (prov_begin(&t, k, e) < 0) return -1;
    if (db_exec(db, "DELETE FROM autoscale_events WHERE autoscale_id = ?", "i", id) < 0 ||
        db_exec(db, "DELETE FROM autoscale WHERE id = ?", "i", id) < 0) {
        prov_db_error(&t, "autoscale setting delete");
        prov_abort(&t);
        return -1;
    }
    return prov_commit(&t);
}

/* The stored rules of setting id (new reference, an array). */
static json_t *stored_rules(struct db *db, int64_t id)
{
    char text[16384] = "";
    db_text(db, text, sizeof(text), "SELECT rules FROM autoscale WHERE id = ?", "i", id);
    json_t *rules = json_loads(text, 0, NULL);
    if (json_is_array(rules)) return rules;
    json_decref(rules);
    return json_array();
}

int64_t prov_autoscale_rule_add(struct kumod *k, int64_t g, const char *name, const json_t *rule,
                                struct kerr *e)
{
    int64_t id = prov_find(k, "autoscale", g, name, "autoscale setting", NULL, e);
    if (id < 0) return -1;
    json_t *rules = stored_rules(k->db, id);
    if (json_array_size(rules) >= AS_MAX_RULES) {
        json_decref(rules);
        return kerr_conflict(e, "QuotaExceeded",
                             "autoscale setting '%s' has %d rules, the most it can have; delete "
                             "one",
                             name, AS_MAX_RULES);
    }
    json_array_append(rules, (json_t *)rule);
    int64_t rc = prov_autoscale_update(k, g, name, -1, -1, -1, -1, rules, e);
    json_decref(rules);
    return rc;
}

int64_t prov_autoscale_rule_delete(struct kumod *k, int64_t g, const char *name, const char *index,
                                   struct kerr *e)
{
    int64_t id = prov_find(k, "autoscale", g, name, "autoscale setting", NULL, e);
    if (id < 0) return -1;
    json_t *rules = stored_rules(k->db, id);
    char *end;
    long idx = strtol(index, &end, 10);
    if (*end || !*index || idx < 0 || (size_t)idx >= json_array_size(rules)) {
        json_decref(rules);
        return kerr_notfound(
            e, "autoscale setting '%s' has no rule %.16s (rules are numbered from 0)", name, index);
    }
    json_array_remove(rules, (size_t)idx);
    int64_t rc = prov_autoscale_update(k, g, name, -1, -1, -1, -1, rules, e);
    json_decref(rules);
    return rc;
}
