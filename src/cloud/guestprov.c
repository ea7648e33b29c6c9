/*
 * guestprov.c - a VM's guest provisioning: its seed disk, and its
 * provisioning state from its guest's reports (contract in guestprov.h).
 */
#include "cloud/guestprov.h"

#include "cloud/cidata.h"
#include "cloud/db.h"
#include "cloud/kumod.h"
#include "cloud/netplane.h"
#include "cloud/paths.h"
#include "cloud/seed.h"
#include "cloud/state.h"
#include "cloud/timefmt.h"
#include "cloud/validate.h"
#include "lib/log.h"

#include <assert.h>
#include <crypt.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TICK_MS           1000
#define DEFAULT_TIMEOUT_S 1200
#define MAX_WATCHED       64

static bool is(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/* ---- the password ---- */

int guestprov_hash_password(const char *password, char *out, size_t len, char *err, size_t errlen)
{
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    /* rbytes NULL: libxcrypt takes the salt's randomness from the kernel */
    if (!crypt_gensalt_rn("$6$", 0, NULL, 0, salt, sizeof(salt))) {
        snprintf(err, errlen, "cannot make a password salt: %s", strerror(errno));
        return -1;
    }
    struct crypt_data *cd = calloc(1, sizeof(*cd));
    if (!cd) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    const char *h = crypt_r(password, salt, cd);
    int rc = -1;
    if (!h || strncmp(h, "$6$", 3) != 0)
        snprintf(err, errlen, "cannot hash the password (crypt: %s)", strerror(errno));
    else if (strlen(h) >= len)
        snprintf(err, errlen, "the password hash is too long");
    else {
        memcpy(out, h, strlen(h) + 1);
        rc = 0;
    }
    explicit_bzero(cd, sizeof(*cd));
    free(cd);
    return rc;
}

/* ---- before the start: the seed disk ---- */

static void image_provisioning(struct kumod *k, int64_t vm, char *out, size_t len)
{
    db_text(k->db, out, len,
            "SELECT i.provisioning FROM vms v JOIN images i ON i.id = v.image_id WHERE v.id = ?",
            "i", vm);
}

bool guestprov_has_seed(struct kumod *k, int64_t vm)
{
    assert(kumod_lock_held(k));
    char prov[32] = "";
    image_provisioning(k, vm, prov, sizeof(prov));
    return is(prov, "cloud-init");
}

/* What the seed is made of, read under the lock. */
struct seed_src {
    char name[80], guid[40], prov[32], os_prov[32];
    char admin[64], pw_hash[GUESTPROV_PASSWORD_MAX];
    bool has_admin, has_pw;
    json_t *keys;    /* array of strings, or NULL */
    char *user_data; /* base64, or NULL */
    int64_t nics[CIDATA_MAX_NICS];
    size_t nnics;
};

static bool read_src(struct kumod *k, int64_t vm, struct seed_src *s)
{
    memset(s, 0, sizeof(*s));
    sqlite3_stmt *st =
        db_stmt(k->db,
                "SELECT v.name, v.created_ms, i.provisioning, coalesce(v.os_prov, ''),"
                " v.admin_username, v.admin_pw_hash, v.ssh_keys, v.user_data"
                " FROM vms v JOIN images i ON i.id = v.image_id WHERE v.id = ?",
                "i", vm);
    bool found = st && sqlite3_step(st) == SQLITE_ROW;
    if (found) {
        snprintf(s->name, sizeof(s->name), "%s", db_col_text(st, 0));
        netplane_vm_guid(vm, sqlite3_column_int64(st, 1), s->guid);
        snprintf(s->prov, sizeof(s->prov), "%s", db_col_text(st, 2));
        snprintf(s->os_prov, sizeof(s->os_prov), "%s", db_col_text(st, 3));
        if ((s->has_admin = !db_col_null(st, 4)))
            snprintf(s->admin, sizeof(s->admin), "%s", db_col_text(st, 4));
        if ((s->has_pw = !db_col_null(st, 5)))
            snprintf(s->pw_hash, sizeof(s->pw_hash), "%s", db_col_text(st, 5));
        if (!db_col_null(st, 6)) s->keys = json_loads(db_col_text(st, 6), 0, NULL);
        if (!db_col_null(st, 7)) s->user_data = strdup(db_col_text(st, 7));
    }
    sqlite3_finalize(st);
    st = db_stmt(k->db, "SELECT id FROM nics WHERE vm_id = ? ORDER BY nic_index", "i", vm);
    while (st && s->nnics < CIDATA_MAX_NICS && sqlite3_step(st) == SQLITE_ROW)
        s->nics[s->nnics++] = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return found;
}

static void free_src(struct seed_src *s)
{
    json_decref(s->keys);
    free(s->user_data);
}

static int write_seed(struct kumod *k, int64_t vm, const struct seed_src *s, char *err,
                      size_t errlen)
{
    const char *keys[CIDATA_MAX_KEYS];
    size_t nkeys = 0, i;
    const json_t *v;
    json_array_foreach(s->keys, i, v)
    {
        if (nkeys < CIDATA_MAX_KEYS && json_is_string(v)) keys[nkeys++] = json_string_value(v);
    }
    char macs[CIDATA_MAX_NICS][24];
    const char *mac_ptrs[CIDATA_MAX_NICS];
    for (i = 0; i < s->nnics; i++)
        mac_ptrs[i] = netplane_nic_mac(s->nics[i], macs[i]);
    char host[64];
    if (!netplane_hostname(s->name, host)) snprintf(host, sizeof(host), "vm%" PRId64, vm);
    unsigned char *ud = NULL;
    long udlen = 0;
    if (s->user_data) {
        udlen = base64_decode(s->user_data, NULL, 0);
        ud = udlen >= 0 ? malloc((size_t)udlen + 1) : NULL;
        if (!ud || base64_decode(s->user_data, ud, (size_t)udlen + 1) != udlen) {
            free(ud);
            snprintf(err, errlen, "the VM's user data is not base64");
            return -1;
        }
    }
    struct cidata_in in = {
        .instance_id = s->guid,
        .hostname = host,
        .admin_user = s->has_admin ? s->admin : NULL,
        .ssh_keys = keys,
        .nkeys = nkeys,
        .password_hash = s->has_pw ? s->pw_hash : NULL,
        .user_data = ud,
        .user_data_len = ud ? (size_t)udlen : 0,
        .macs = mac_ptrs,
        .nmacs = s->nnics,
        .report_url = netplane_has_switch(k) ? GUESTPROV_REPORT_URL : NULL,
    };
    struct cidata d;
    int rc = cidata_build(&in, &d);
    free(ud);
    if (rc < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    struct seed_file files[] = {
        {"meta-data", d.meta_data, strlen(d.meta_data)},
        {"user-data", d.user_data, d.user_data_len},
        {"vendor-data", d.vendor_data, strlen(d.vendor_data)},
        {"network-config", d.network_config, strlen(d.network_config)},
    };
    char dir[PATH_MAX], path[PATH_MAX], why[512];
    path_vm_dir(k, dir, vm);
    path_vm_file(k, path, vm, GUESTPROV_SEED_FILE);
    rc = path_mkdirs(dir);
    if (rc < 0)
        snprintf(err, errlen, "%.512s: %s", dir, strerror(errno));
    else if ((rc = seed_write(path, files, sizeof(files) / sizeof(files[0]), why, sizeof(why))) < 0)
        snprintf(err, errlen, "the seed disk: %s", why);
    cidata_free(&d);
    return rc;
}

int guestprov_prepare(struct kumod *k, int64_t vm, bool first_start, char *err, size_t errlen)
{
    assert(!kumod_lock_held(k));
    struct seed_src s;
    kumod_lock(k);
    bool found = read_src(k, vm, &s);
    kumod_unlock(k);
    int rc = 0;
    if (!found) {
        snprintf(err, errlen, "the VM is gone");
        rc = -1;
    }
    if (rc == 0 && first_start && is(s.os_prov, "Pending")) {
        for (size_t i = 0; i < s.nnics; i++) { /* a NIC given to a new VM: no old reports */
            char why[256];
            json_decref(netplane_provisioning(k, s.nics[i], true, why, sizeof(why)));
        }
    }
    if (rc == 0 && is(s.prov, "cloud-init")) rc = write_seed(k, vm, &s, err, errlen);
    free_src(&s);
    return rc;
}

const char *guestprov_started(struct kumod *k, int64_t vm)
{
    assert(kumod_lock_held(k));
    char os_prov[32] = "";
    db_text(k->db, os_prov, sizeof(os_prov), "SELECT os_prov FROM vms WHERE id = ?", "i", vm);
    if (!is(os_prov, "Pending")) return PV_SUCCEEDED;
    if (db_exec(k->db, "UPDATE vms SET os_prov_ms = ? WHERE id = ?", "ii", time_now_ms(), vm) < 0)
        log_warn("VM %" PRId64 ": %s", vm, db_errmsg(k->db));
    return PV_CREATING;
}

/* ---- the reports ---- */

static const json_t *stage(const json_t *events, const char *name)
{
    size_t i;
    const json_t *e;
    json_array_foreach(events, i, e)
    {
        if (is(json_string_value(json_object_get(e, "name")), name) &&
            is(json_string_value(json_object_get(e, "event_type")), "finish"))
            return e;
    }
    return NULL;
}

int guestprov_judge(const json_t *events, const char **why)
{
    const json_t *e = stage(events, "init-network");
    *why = NULL;
    if (!e) return 0;
    const char *result = json_string_value(json_object_get(e, "result"));
    *why = json_string_value(json_object_get(e, "description"));
    if (is(result, "SUCCESS") || is(result, "WARN")) return 1;
    return -1;
}

struct guestprov {
    struct kumod *k;
    pthread_t thread;
    pthread_cond_t cv;
    bool stop;
};

struct watched {
    int64_t vm, nic, since_ms;
    char power[32], op[32], prov[32], os_prov[32];
    bool final_seen; /* the last stage (modules-final) has reported */
};

/* Record a verdict or new events for w (lock held). */
static void record(struct kumod *k, const struct watched *w, json_t *events)
{
    struct db *db = k->db;
    char now_prov[32] = "", os_prov[32] = "";
    db_text(db, now_prov, sizeof(now_prov), "SELECT prov_state FROM vms WHERE id = ?", "i", w->vm);
    db_text(db, os_prov, sizeof(os_prov), "SELECT coalesce(os_prov, '') FROM vms WHERE id = ?", "i",
            w->vm);
    if (!is(os_prov, w->os_prov)) return; /* changed meanwhile (deleted, restarted) */
    int64_t now = time_now_ms();
    int timeout = k->cfg.provisioning_timeout > 0 ? k->cfg.provisioning_timeout : DEFAULT_TIMEOUT_S;
    const char *why = NULL;
    int verdict = events ? guestprov_judge(events, &why) : 0;
    char msg[512] = "";
    const char *code = NULL, *state = NULL;
    if (is(w->os_prov, "Pending")) {
        if (verdict > 0) {
            state = PV_SUCCEEDED;
            snprintf(msg, sizeof(msg), "the guest reported its provisioning done%s%.300s%s",
                     why && *why ? " (" : "", why ? why : "", why && *why ? ")" : "");
        } else if (verdict < 0) {
            state = PV_FAILED;
            code = "OSProvisioningClientError";
            snprintf(msg, sizeof(msg),
                     "the guest's provisioning failed: %.300s ('kumo vm log' shows its console)",
                     why && *why ? why : "no reason given");
        } else if (now - w->since_ms > (int64_t)timeout * 1000) {
            state = PV_FAILED;
            code = "OSProvisioningTimedOut";
            snprintf(msg, sizeof(msg),
                     "the guest did not report its provisioning within %d s of its start "
                     "('kumo vm log' shows its console; an image must follow the contract of "
                     "docs/images.md)",
                     timeout);
        }
    }
    int rc = db_begin(db);
    if (rc == 0 && events && json_array_size(events)) {
        char *text = json_dumps(events, JSON_COMPACT);
        rc = db_exec(db, "UPDATE vms SET os_prov_events = ? WHERE id = ?", "ti", text, w->vm);
        free(text);
    }
    if (rc == 0 && state) {
        rc = db_exec(db, "UPDATE vms SET os_prov = ? WHERE id = ?", "ti", state, w->vm);
        if (rc == 0 && code)
            rc = db_exec(db, "UPDATE vms SET error_code = ?, error_msg = ? WHERE id = ?", "tti",
                         code, msg, w->vm);
        /* the VM's provisioning state follows while its create (or a later
         * start) waits for the guest; a failure shows in any case */
        if (rc == 0)
            rc = is(now_prov, PV_CREATING) || code ? vm_set_state(db, w->vm, NULL, state, msg, now)
                                                   : vm_note(db, w->vm, msg, now);
    }
    if (rc == 0) rc = db_commit(db);
    if (rc < 0) {
        log_warn("VM %" PRId64 ": recording its provisioning: %s", w->vm, db_errmsg(db));
        db_rollback(db);
    }
    if (state) {
        log_info("VM %" PRId64 ": %s", w->vm, msg);
        kumod_changed(k);
    }
}

/* A pending VM whose guest stopped before it reported (lock held). */
static void interrupted(struct kumod *k, const struct watched *w)
{
    struct db *db = k->db;
    const char *msg = "the VM stopped before its guest reported its provisioning; it is waited "
                      "for again at the next start";
    int rc = db_begin(db);
    if (rc == 0)
        rc = db_exec(db,
                     "UPDATE vms SET error_code = 'OSProvisioningInterrupted', error_msg = ?"
                     " WHERE id = ?",
                     "ti", msg, w->vm);
    if (rc == 0) rc = vm_set_state(db, w->vm, NULL, PV_FAILED, msg, time_now_ms());
    if (rc == 0) rc = db_commit(db);
    if (rc < 0) db_rollback(db);
    kumod_changed(k);
}

static size_t collect(struct kumod *k, struct watched *w, size_t max)
{
    size_t n = 0;
    sqlite3_stmt *st = db_stmt(
        k->db,
        "SELECT v.id, v.power_state, coalesce(v.op, ''), v.prov_state, v.os_prov,"
        " coalesce(v.os_prov_ms, v.created_ms), coalesce(v.os_prov_events, '[]'),"
        " (SELECT n.id FROM nics n WHERE n.vm_id = v.id ORDER BY n.nic_index LIMIT 1)"
        " FROM vms v WHERE v.os_prov = 'Pending' OR (v.os_prov = 'Succeeded'"
        " AND v.power_state = 'Running' AND coalesce(v.os_prov_ms, 0) > ?)"
        " ORDER BY v.id",
        "i",
        time_now_ms() - (int64_t)(k->cfg.provisioning_timeout > 0 ? k->cfg.provisioning_timeout
                                                                  : DEFAULT_TIMEOUT_S) *
                            1000);
    while (st && n < max && sqlite3_step(st) == SQLITE_ROW) {
        struct watched *x = &w[n];
        memset(x, 0, sizeof(*x));
        x->vm = sqlite3_column_int64(st, 0);
        snprintf(x->power, sizeof(x->power), "%s", db_col_text(st, 1));
        snprintf(x->op, sizeof(x->op), "%s", db_col_text(st, 2));
        snprintf(x->prov, sizeof(x->prov), "%s", db_col_text(st, 3));
        snprintf(x->os_prov, sizeof(x->os_prov), "%s", db_col_text(st, 4));
        x->since_ms = sqlite3_column_int64(st, 5);
        json_t *ev = json_loads(db_col_text(st, 6), 0, NULL);
        x->final_seen = stage(ev, "modules-final") != NULL;
        json_decref(ev);
        x->nic = db_col_null(st, 7) ? 0 : sqlite3_column_int64(st, 7);
        if (is(x->os_prov, "Succeeded") && x->final_seen) continue; /* nothing more to hear */
        n++;
    }
    sqlite3_finalize(st);
    return n;
}

static void tick(struct guestprov *g)
{
    struct kumod *k = g->k;
    struct watched w[MAX_WATCHED];
    kumod_lock(k);
    size_t n = collect(k, w, MAX_WATCHED);
    kumod_unlock(k);
    for (size_t i = 0; i < n; i++) {
        if (w[i].op[0]) continue; /* an operation runs: it decides */
        if (!is(w[i].power, PS_RUNNING)) {
            if (is(w[i].os_prov, "Pending") && is(w[i].prov, PV_CREATING) &&
                !is(w[i].power, PS_STARTING)) {
                kumod_lock(k);
                interrupted(k, &w[i]);
                kumod_unlock(k);
            }
            continue;
        }
        char err[256];
        json_t *events =
            w[i].nic ? netplane_provisioning(k, w[i].nic, false, err, sizeof(err)) : NULL;
        kumod_lock(k);
        record(k, &w[i], events);
        kumod_unlock(k);
        json_decref(events);
    }
}

static void *run(void *arg)
{
    struct guestprov *g = arg;
    struct kumod *k = g->k;
    for (;;) {
        kumod_lock(k);
        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_nsec += (long)TICK_MS * 1000000L;
        while (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
        while (!g->stop && pthread_cond_timedwait(&g->cv, &k->lock, &deadline) != ETIMEDOUT) {
        }
        bool stop = g->stop;
        kumod_unlock(k);
        if (stop) break;
        tick(g);
    }
    return NULL;
}

struct guestprov *guestprov_start(struct kumod *k)
{
    struct guestprov *g = calloc(1, sizeof(*g));
    if (!g) return NULL;
    g->k = k;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&g->thread, NULL, run, g) != 0) {
        pthread_cond_destroy(&g->cv);
        free(g);
        return NULL;
    }
    return g;
}

void guestprov_stop(struct guestprov *g)
{
    if (!g) return;
    kumod_lock(g->k);
    g->stop = true;
    pthread_cond_signal(&g->cv);
    kumod_unlock(g->k);
    pthread_join(g->thread, NULL);
    pthread_cond_destroy(&g->cv);
    free(g);
}
