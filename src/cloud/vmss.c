/*
 * vmss.c - the scale set controller and the autoscale loop (contract in
 * vmss.h): instances to capacity, rolling updates with a surge of one,
 * deletes, and the evaluation of autoscale settings on stored CPU samples.
 * Its tick also advances the deletes of resource groups (provision.h's
 * prov_group_delete_step), which wait for scale sets and VMs as these do.
 */
#include "cloud/vmss.h"

#include "cloud/autoscale.h"
#include "cloud/billing.h"
#include "cloud/db.h"
#include "cloud/kumod.h"
#include "cloud/lb.h"
#include "cloud/netplane.h"
#include "cloud/provision.h"
#include "cloud/state.h"
#include "cloud/timefmt.h"
#include "lib/log.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define TICK_MS     500
#define MAX_INST    128
#define MAX_SETS    256
#define MAX_SAMPLES 200000

struct vmss_ctl {
    struct kumod *k;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool stop;
    /* per setting: the last "no action" event and its kind, so that a
     * repeated identical decision counts in that row instead of a new one */
    struct {
        int64_t setting, event;
        char kind[256];
    } last[MAX_SETS];
    size_t nlast;
};

struct inst {
    int64_t id, index, version;
    char power[32];
    bool busy, deleting;
};

/* ---- instances ---- */

static void set_error(struct kumod *k, int64_t set, const char *msg)
{
    char old[800] = "";
    db_text(k->db, old, sizeof(old), "SELECT coalesce(last_error, '') FROM vmss WHERE id = ?", "i",
            set);
    if (!strcmp(old, msg ? msg : "")) return;
    if (msg) log_warn("scale set %" PRId64 ": %s", set, msg);
    if (db_begin(k->db) == 0 &&
        db_exec(k->db, "UPDATE vmss SET last_error = ? WHERE id = ?", "ti", msg, set) == 0)
        db_commit_lazy(k->db);
    else
        db_rollback(k->db);
}

/* Create instance NAME_<next_index> from the set's current model. */
static int create_instance(struct kumod *k, int64_t set)
{
    struct db *db = k->db;
    sqlite3_stmt *st =
        db_stmt(db,
                "SELECT s.group_id, s.name, z.name, i.name, s.os_tier, s.vnet, s.subnet, n.name,"
                " s.user_data, s.model_version, s.next_index, s.lb_port, s.admin_username,"
                " s.ssh_keys, s.admin_pw_hash FROM vmss s"
                " JOIN sizes z ON z.id = s.size_id JOIN images i ON i.id = s.image_id"
                " LEFT JOIN nsgs n ON n.id = s.nsg_id WHERE s.id = ?",
                "i", set);
    if (!st || sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return -1;
    }
    int64_t g = sqlite3_column_int64(st, 0), version = sqlite3_column_int64(st, 9);
    int64_t idx = sqlite3_column_int64(st, 10), lb_port = sqlite3_column_int64(st, 11);
    char name[96], text[7][1024];
    snprintf(name, sizeof(name), "%s_%" PRId64, db_col_text(st, 1), idx);
    bool null[7];
    for (int i = 0; i < 7; i++) { /* set name, size, image, tier, vnet, subnet, NSG */
        null[i] = db_col_null(st, i + 1);
        snprintf(text[i], sizeof(text[i]), "%s", db_col_text(st, i + 1));
    }
    char *user_data = db_col_null(st, 8) ? NULL : strdup(db_col_text(st, 8));
    /* the OS profile: every instance gets the set's admin account */
    char *admin = db_col_null(st, 12) ? NULL : strdup(db_col_text(st, 12));
    char *pw_hash = db_col_null(st, 14) ? NULL : strdup(db_col_text(st, 14));
    json_t *keys = db_col_null(st, 13) ? NULL : json_loads(db_col_text(st, 13), 0, NULL);
    const char *key[PROV_MAX_SSH_KEYS];
    size_t nkeys = 0;
    for (size_t i = 0; json_is_array(keys) && i < json_array_size(keys) && nkeys < PROV_MAX_SSH_KEYS;
         i++)
        if (json_is_string(json_array_get(keys, i)))
            key[nkeys++] = json_string_value(json_array_get(keys, i));
    sqlite3_finalize(st);
    json_t *tags = json_pack("{s:s}", "kumo.scaleSet", text[0]);
    /* the instance reaches the load balancer through its own public IP's
     * port for the backend port */
    struct prov_port port = {"Tcp", lb_port, -1};
    struct prov_vm_spec spec = {
        .name = name,
        .size = text[1],
        .image = text[2],
        .os_tier = null[3] ? NULL : text[3],
        .vnet = text[4],
        .subnet = text[5],
        .nsg = null[6] ? NULL : text[6],
        .user_data = user_data,
        .tags = tags,
        .public_ip = lb_port > 0,
        .pip_ports = lb_port > 0 ? &port : NULL,
        .npip_ports = lb_port > 0 ? 1 : 0,
        .vmss_id = set,
        .vmss_index = idx,
        .model_version = version,
        .admin_username = admin,
        .ssh_keys = nkeys ? key : NULL,
        .nkeys = nkeys,
        .admin_pw_hash = pw_hash,
    };
    struct kerr e = {0};
    struct prov_tx t;
    int64_t vm = -1;
    if (prov_begin(&t, k, &e) == 0) {
        vm = prov_vm_insert(&t, g, &spec);
        /* the instance's own public IP is the load balancer's plumbing (on
         * Azure the instances have none): not billed; the set's is */
        if (vm >= 0 &&
            (db_exec(db,
                     "DELETE FROM usage WHERE resource_type = 'publicIPAddress'"
                     " AND end_ms IS NULL AND resource_id IN (SELECT public_ip_id"
                     " FROM nics WHERE vm_id = ? AND public_ip_id IS NOT NULL)",
                     "i", vm) < 0 ||
             db_exec(db, "UPDATE vmss SET next_index = ?, last_error = NULL WHERE id = ?", "ii",
                     idx + 1, set) < 0)) {
            prov_db_error(&t, NULL);
            vm = -1;
        }
        if (vm < 0 || prov_commit(&t) < 0) {
            prov_abort(&t);
            vm = -1;
        }
    }
    free(user_data);
    free(admin);
    if (pw_hash) explicit_bzero(pw_hash, strlen(pw_hash));
    free(pw_hash);
    json_decref(keys);
    json_decref(tags);
    if (vm < 0) {
        char msg[900];
        snprintf(msg, sizeof(msg), "cannot create instance %s: %s", name, e.message);
        set_error(k, set, msg);
        if (!strcmp(e.code, "AlreadyExists") && db_begin(db) == 0) {
            /* the name is taken by a VM outside the set: skip the index */
            if (db_exec(db, "UPDATE vmss SET next_index = next_index + 1 WHERE id = ?", "i", set) ==
                0)
                db_commit(db);
            else
                db_rollback(db);
        }
        return -1;
    }
    log_info("scale set %" PRId64 ": instance %s created (model %" PRId64 ")", set, name, version);
    return 0;
}

static void delete_instance(struct kumod *k, int64_t vm)
{
    struct kerr e = {0};
    if (prov_vm_delete_id(k, vm, PROV_DISKS_ALL, "delete requested by its scale set", &e) < 0 &&
        e.status != 409)
        log_warn("VM %" PRId64 ": scale set delete: %s", vm, e.message);
    lb_kick(k->lb); /* no new connections to it */
}

/* Victim order for a scale-in: older model first, then not Running, then
 * the highest index. */
static int victim_cmp(const void *a, const void *b)
{
    const struct inst *x = a, *y = b;
    if (x->version != y->version) return x->version < y->version ? -1 : 1;
    bool xr = !strcmp(x->power, PS_RUNNING), yr = !strcmp(y->power, PS_RUNNING);
    if (xr != yr) return xr ? 1 : -1;
    return x->index > y->index ? -1 : x->index < y->index ? 1 : 0;
}

static void finish_delete(struct kumod *k, int64_t set)
{
    struct db *db = k->db;
    int64_t pip =
        db_int(db, NULL, 0, "SELECT coalesce(lb_pip_id, 0) FROM vmss WHERE id = ?", "i", set);
    int64_t now = time_now_ms();
    int rc = db_begin(db);
    if (rc == 0)
        rc = db_exec(db,
                     "DELETE FROM autoscale_events WHERE autoscale_id IN"
                     " (SELECT id FROM autoscale WHERE vmss_id = ?)",
                     "i", set);
    if (rc == 0) rc = db_exec(db, "DELETE FROM autoscale WHERE vmss_id = ?", "i", set);
    if (rc == 0) rc = db_exec(db, "DELETE FROM vmss WHERE id = ?", "i", set);
    if (rc == 0 && pip > 0) rc = billing_pip_sync(db, pip, false, now);
    if (rc == 0 && pip > 0) rc = db_exec(db, "DELETE FROM public_ips WHERE id = ?", "i", pip);
    if (rc == 0) rc = db_commit(db);
    if (rc < 0) {
        log_error("scale set %" PRId64 ": delete failed: %s", set, db_errmsg(db));
        db_rollback(db);
        return;
    }
    log_info("scale set %" PRId64 ": deleted", set);
    netplane_sync(k);
    kumod_changed(k);
}

void vmss_reconcile(struct kumod *k, int64_t set)
{
    assert(kumod_lock_held(k));
    struct db *db = k->db;
    int64_t cap = 0, version = 0, deleting = 0, has_lb = 0;
    sqlite3_stmt *st = db_stmt(db,
                               "SELECT capacity, model_version, deleting, lb_pip_id IS NOT NULL"
                               " FROM vmss WHERE id = ?",
                               "i", set);
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        cap = sqlite3_column_int64(st, 0);
        version = sqlite3_column_int64(st, 1);
        deleting = sqlite3_column_int64(st, 2);
        has_lb = sqlite3_column_int64(st, 3);
    }
    sqlite3_finalize(st);
    struct inst in[MAX_INST];
    size_t n = 0;
    st = db_stmt(db,
                 "SELECT id, vmss_index, model_version, power_state, coalesce(op, '') FROM vms"
                 " WHERE vmss_id = ? ORDER BY vmss_index",
                 "i", set);
    size_t all = 0;
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        all++;
        const char *op = db_col_text(st, 4);
        if (!strncmp(op, "delete", 6)) continue;
        if (n >= MAX_INST) continue;
        in[n].id = sqlite3_column_int64(st, 0);
        in[n].index = sqlite3_column_int64(st, 1);
        in[n].version = sqlite3_column_int64(st, 2);
        snprintf(in[n].power, sizeof(in[n].power), "%s", db_col_text(st, 3));
        in[n].busy = op[0] != 0;
        n++;
    }
    sqlite3_finalize(st);
    if (deleting) {
        for (size_t i = 0; i < n; i++)
            delete_instance(k, in[i].id);
        if (all == 0) finish_delete(k, set);
        return;
    }
    size_t old = 0;
    bool settled = true;
    for (size_t i = 0; i < n; i++) {
        old += in[i].version < version;
        settled = settled && !in[i].busy && !strcmp(in[i].power, PS_RUNNING);
        /* behind a load balancer, an instance counts once its probe passes */
        if (has_lb && in[i].version == version)
            settled = settled && lb_backend_health(k->lb, in[i].id) == LB_HEALTHY;
    }
    int64_t live = (int64_t)n;
    if (live < cap) {
        for (int64_t i = live; i < cap; i++)
            if (create_instance(k, set) < 0) break;
        return;
    }
    int64_t excess = live - cap;
    if (excess > 0 && !(old > 0 && excess == 1)) {
        qsort(in, n, sizeof(in[0]), victim_cmp);
        for (int64_t i = 0; i < excess; i++)
            delete_instance(k, in[i].id);
        return;
    }
    /* healthy again (at capacity, all on the model, settled): an error of
     * the past no longer holds */
    if (old == 0 && settled && excess == 0) set_error(k, set, NULL);
    if (old == 0 || !settled) return;
    /* rolling update, a surge of one */
    if (excess == 0) {
        log_info("scale set %" PRId64 ": rolling update: %zu instance(s) on an older model", set,
                 old);
        create_instance(k, set);
    } else {
        for (size_t i = 0; i < n; i++)
            if (in[i].version < version) {
                delete_instance(k, in[i].id);
                break;
            }
    }
}

/* ---- autoscale ---- */

/* A decision's kind: its reason without numbers (values, seconds left). */
static void reason_kind(const char *reason, char *out, size_t len)
{
    size_t o = 0;
    for (const char *p = reason; *p && o + 1 < len; p++)
        if (!(*p >= '0' && *p <= '9') && *p != '.') out[o++] = *p;
    out[o] = 0;
}

static size_t last_slot(struct vmss_ctl *v, int64_t setting)
{
    for (size_t i = 0; i < v->nlast; i++)
        if (v->last[i].setting == setting) return i;
    if (v->nlast < MAX_SETS) {
        v->last[v->nlast].setting = setting;
        v->last[v->nlast].event = 0;
        v->last[v->nlast].kind[0] = 0;
        return v->nlast++;
    }
    return 0;
}

static void evaluate(struct vmss_ctl *v, int64_t as_id)
{
    struct kumod *k = v->k;
    struct db *db = k->db;
    struct as_profile p;
    memset(&p, 0, sizeof(p));
    int64_t set = 0, cap = 0, last = -1;
    char *rules_text = NULL;
    sqlite3_stmt *st = db_stmt(db,
                               "SELECT a.vmss_id, a.minimum, a.maximum, a.dflt, a.rules,"
                               " coalesce(a.last_scale_ms, -1), s.capacity FROM autoscale a"
                               " JOIN vmss s ON s.id = a.vmss_id WHERE a.id = ?",
                               "i", as_id);
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        set = sqlite3_column_int64(st, 0);
        p.minimum = sqlite3_column_int64(st, 1);
        p.maximum = sqlite3_column_int64(st, 2);
        p.dflt = sqlite3_column_int64(st, 3);
        rules_text = strdup(db_col_text(st, 4));
        last = sqlite3_column_int64(st, 5);
        cap = sqlite3_column_int64(st, 6);
    }
    sqlite3_finalize(st);
    if (!set) {
        free(rules_text);
        return;
    }
    json_t *rules = json_loads(rules_text ? rules_text : "[]", 0, NULL);
    free(rules_text);
    size_t i;
    json_t *r;
    int64_t window = 0;
    json_array_foreach(rules, i, r)
    {
        struct kerr e;
        if (p.nrules < AS_MAX_RULES && as_rule_parse(r, "", &p.rules[p.nrules], &e) == 0) {
            if (p.rules[p.nrules].window_ms > window) window = p.rules[p.nrules].window_ms;
            p.nrules++;
        }
    }
    json_decref(rules);
    int64_t now = time_now_ms();
    size_t ns = 0, cap_s = 1024;
    struct as_sample *s = malloc(cap_s * sizeof(*s));
    st = db_stmt(db,
                 "SELECT m.at_ms, m.cpu_pct FROM metrics m JOIN vms v ON v.id = m.vm_id"
                 " WHERE v.vmss_id = ? AND m.at_ms >= ? AND m.cpu_pct IS NOT NULL",
                 "ii", set, now - window);
    while (s && st && sqlite3_step(st) == SQLITE_ROW && ns < MAX_SAMPLES) {
        if (ns == cap_s) {
            struct as_sample *bigger = realloc(s, 2 * cap_s * sizeof(*s));
            if (!bigger) break;
            s = bigger;
            cap_s *= 2;
        }
        s[ns].at_ms = sqlite3_column_int64(st, 0);
        s[ns].value = sqlite3_column_double(st, 1);
        ns++;
    }
    sqlite3_finalize(st);
    struct as_decision d;
    as_evaluate(&p, cap, s, ns, now, last, &d);
    if (d.capacity > cap) { /* never more than the hosts hold: capped, and said why */
        struct kerr e = {0};
        int64_t most = prov_vmss_fit(k, set, d.capacity, &e);
        if (most < d.capacity) {
            size_t used = strlen(d.reason);
            if (used < sizeof(d.reason))
                snprintf(d.reason + used, sizeof(d.reason) - used,
                         "; capped at %" PRId64 ": %.300s", most > cap ? most : cap, e.message);
            if (most <= cap) {
                d.action = AS_NONE;
                d.capacity = cap;
            } else {
                d.capacity = most;
            }
        }
    }
    /* what each rule saw, for the log */
    json_t *metrics = json_array();
    for (i = 0; i < p.nrules; i++) {
        double val;
        bool have = as_metric_value(&p.rules[i], s, ns, now, &val);
        bool fired = have && as_compare(p.rules[i].op, val, p.rules[i].threshold);
        json_array_append_new(metrics,
                              json_pack("{s:I,s:s,s:o,s:b}", "rule", (json_int_t)i, "direction",
                                        p.rules[i].increase ? "Increase" : "Decrease", "value",
                                        have ? json_real(val) : json_null(), "fired", fired));
    }
    free(s);
    size_t slot = last_slot(v, as_id);
    char kind[256];
    reason_kind(d.reason, kind, sizeof(kind));
    bool repeat =
        d.action == AS_NONE && v->last[slot].event > 0 && !strcmp(kind, v->last[slot].kind);
    char *mtext = json_dumps(metrics, JSON_COMPACT);
    json_decref(metrics);
    int rc = db_begin(db);
    if (rc == 0 && repeat) {
        rc = db_exec(db,
                     "UPDATE autoscale_events SET repeats = repeats + 1, last_ms = ?, metrics = ?,"
                     " reason = ? WHERE id = ?",
                     "itti", now, mtext, d.reason, v->last[slot].event);
        if (rc == 0 && db_changes(db) == 0) repeat = false;
    }
    if (rc == 0 && !repeat) {
        rc = db_exec(db,
                     "INSERT INTO autoscale_events (autoscale_id, at_ms, action, old_capacity,"
                     " new_capacity, metrics, reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     "iitiitt", as_id, now, as_action_name(d.action), cap, d.capacity, mtext,
                     d.reason);
        v->last[slot].event = d.action == AS_NONE ? db_last_id(db) : 0;
        snprintf(v->last[slot].kind, sizeof(v->last[slot].kind), "%s", kind);
    }
    if (rc == 0 && d.action != AS_NONE) {
        rc = db_exec(db, "UPDATE vmss SET capacity = ?, updated_ms = ? WHERE id = ?", "iii",
                     d.capacity, now, set);
        if (rc == 0)
            rc = db_exec(db, "UPDATE autoscale SET last_scale_ms = ? WHERE id = ?", "ii", now,
                         as_id);
    }
    free(mtext);
    if (rc == 0) rc = d.action != AS_NONE ? db_commit(db) : db_commit_lazy(db);
    if (rc < 0) {
        log_error("autoscale %" PRId64 ": %s", as_id, db_errmsg(db));
        db_rollback(db);
        return;
    }
    if (d.action != AS_NONE) {
        log_info("autoscale %" PRId64 ": %s", as_id, d.reason);
        kumod_changed(k);
    }
}

/* ---- the thread ---- */

static size_t ids(struct kumod *k, const char *sql, int64_t *out, size_t max)
{
    size_t n = 0;
    sqlite3_stmt *st = db_stmt(k->db, sql, "");
    while (st && sqlite3_step(st) == SQLITE_ROW && n < max)
        out[n++] = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

static void *run(void *arg)
{
    struct vmss_ctl *v = arg;
    struct kumod *k = v->k;
    int64_t next_eval = time_now_ms() + (int64_t)k->cfg.autoscale_interval * 1000;
    for (;;) {
        pthread_mutex_lock(&v->mu);
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += TICK_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        while (!v->stop && pthread_cond_timedwait(&v->cond, &v->mu, &ts) != ETIMEDOUT) {
        }
        bool stop = v->stop;
        pthread_mutex_unlock(&v->mu);
        if (stop || atomic_load(&k->stopping)) break;
        if (!atomic_load(&k->leader)) continue; /* cluster mode: the leader's work */
        int64_t sets[MAX_SETS];
        kumod_lock(k);
        size_t n = ids(k, "SELECT id FROM vmss ORDER BY id", sets, MAX_SETS);
        for (size_t i = 0; i < n; i++)
            vmss_reconcile(k, sets[i]);
        /* resource groups being deleted: one step each (provision.h) */
        n = ids(k, "SELECT id FROM groups WHERE deleting ORDER BY id", sets, MAX_SETS);
        for (size_t i = 0; i < n; i++)
            prov_group_delete_step(k, sets[i]);
        if (time_now_ms() >= next_eval) {
            next_eval = time_now_ms() + (int64_t)k->cfg.autoscale_interval * 1000;
            /* decisions are kept as long as metrics, and at least a week */
            int64_t keep = (int64_t)k->cfg.metrics_retention * 1000;
            if (keep < 7LL * 86400000) keep = 7LL * 86400000;
            if (db_begin(k->db) == 0 &&
                db_exec(k->db, "DELETE FROM autoscale_events WHERE coalesce(last_ms, at_ms) < ?",
                        "i", time_now_ms() - keep) == 0)
                db_commit_lazy(k->db);
            else
                db_rollback(k->db);
            n = ids(k,
                    "SELECT a.id FROM autoscale a JOIN vmss s ON s.id = a.vmss_id"
                    " WHERE a.enabled AND NOT s.deleting ORDER BY a.id",
                    sets, MAX_SETS);
            for (size_t i = 0; i < n; i++)
                evaluate(v, sets[i]);
        }
        kumod_unlock(k);
    }
    return NULL;
}

struct vmss_ctl *vmss_start(struct kumod *k)
{
    struct vmss_ctl *v = calloc(1, sizeof(*v));
    if (!v) return NULL;
    v->k = k;
    pthread_mutex_init(&v->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&v->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&v->thread, NULL, run, v) != 0) {
        free(v);
        return NULL;
    }
    return v;
}

void vmss_stop(struct vmss_ctl *v)
{
    if (!v) return;
    pthread_mutex_lock(&v->mu);
    v->stop = true;
    pthread_cond_broadcast(&v->cond);
    pthread_mutex_unlock(&v->mu);
    pthread_join(v->thread, NULL);
    pthread_mutex_destroy(&v->mu);
    pthread_cond_destroy(&v->cond);
    free(v);
}
