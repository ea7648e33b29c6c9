/*
 * provision.c - the provisioning layer's transactions, lookups and resource
 * groups, their delete with everything in them included (contract in
 * provision.h). The resources are in prov_vm.c, prov_storage.c, prov_net.c,
 * prov_nsg.c and prov_vmss.c.
 */
#include "cloud/provision.h"

#include "cloud/billing.h"
#include "cloud/db.h"
#include "cloud/jobs.h"
#include "cloud/kumod.h"
#include "cloud/netplane.h"
#include "cloud/paths.h"
#include "cloud/state.h"
#include "cloud/timefmt.h"
#include "lib/log.h"

#include <assert.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ---- transactions ---- */

int prov_begin(struct prov_tx *t, struct kumod *k, struct kerr *e)
{
    assert(kumod_lock_held(k));
    memset(t, 0, sizeof(*t));
    t->k = k;
    t->e = e;
    if (db_begin(k->db) < 0) return kerr_internal(e, "%s", db_errmsg(k->db));
    t->open = true;
    return 0;
}

static void drop_files(struct prov_tx *t, bool unlink_them)
{
    for (int i = 0; i < t->nfiles; i++) {
        if (unlink_them) unlink(t->files[i]);
        free(t->files[i]);
    }
    free(t->files);
    t->files = NULL;
    t->nfiles = t->capfiles = 0;
}

void prov_abort(struct prov_tx *t)
{
    if (!t->open) return;
    assert(kumod_lock_held(t->k));
    db_rollback(t->k->db);
    drop_files(t, true);
    t->open = false;
}

int prov_commit(struct prov_tx *t)
{
    assert(t->open && kumod_lock_held(t->k));
    struct kumod *k = t->k;
    if (db_commit(k->db) < 0) {
        prov_db_error(t, NULL);
        prov_abort(t);
        return -1;
    }
    t->open = false;
    drop_files(t, false);
    for (int i = 0; i < t->njobs; i++)
        jobs_submit(t->jobs[i].kind == JOB_RUN && k->run_jobs ? k->run_jobs : k->jobs,
                    t->jobs[i].kind, t->jobs[i].id);
    if (t->net_changed) netplane_sync(k);
    kumod_changed(k);
    return 0;
}

void prov_tx_file(struct prov_tx *t, const char *path)
{
    assert(t->open);
    if (t->nfiles == t->capfiles) {
        int cap = t->capfiles ? t->capfiles * 2 : 8;
        char **f = realloc(t->files, (size_t)cap * sizeof(*f));
        if (!f) { /* cannot remember it: remove it now rather than leak it */
            unlink(path);
            return;
        }
        t->files = f;
        t->capfiles = cap;
    }
    char *copy = strdup(path);
    if (!copy) {
        unlink(path);
        return;
    }
    t->files[t->nfiles++] = copy;
}

void prov_tx_job(struct prov_tx *t, enum job_kind kind, int64_t id)
{
    assert(t->open && t->njobs < PROV_MAX_JOBS);
    for (int i = 0; i < t->njobs; i++)
        if (t->jobs[i].kind == kind && t->jobs[i].id == id) return;
    t->jobs[t->njobs].kind = kind;
    t->jobs[t->njobs++].id = id;
}

int prov_db_error(struct prov_tx *t, const char *what)
{
    struct db *db = t->k->db;
    /* a uniqueness or reference the checks before the write found free but
     * that a change made meanwhile took (another host, in cluster mode) */
    if (db_errcode(db) == SQLITE_CONSTRAINT) {
        bool unique = strstr(db_errmsg(db), "UNIQUE") != NULL;
        return kerr_conflict(t->e, unique ? "AlreadyExists" : "InUse",
                             "%s%sconflicts with a change made at the same time (%s); look at "
                             "the resources again and retry",
                             what ? what : "", what ? ": " : "", db_errmsg(db));
    }
    if (what) return kerr_internal(t->e, "%s: %s", what, db_errmsg(db));
    return kerr_internal(t->e, "%s", db_errmsg(db));
}

/* ---- lookups ---- */

int64_t prov_group(struct kumod *k, const char *name, struct kerr *e)
{
    assert(kumod_lock_held(k));
    int64_t id = db_int(k->db, NULL, -1, "SELECT id FROM groups WHERE name = ?", "t", name);
    if (id < 0) kerr_notfound(e, "resource group '%.64s' not found", name);
    return id;
}

void prov_group_name(struct kumod *k, int64_t group_id, char *buf, size_t len)
{
    db_text(k->db, buf, len, "SELECT name FROM groups WHERE id = ?", "i", group_id);
}

int64_t prov_find(struct kumod *k, const char *table, int64_t group_id, const char *name,
                  const char *what, const char *field, struct kerr *e)
{
    assert(kumod_lock_held(k));
    char sql[160];
    snprintf(sql, sizeof(sql), "SELECT id FROM %s WHERE group_id = ? AND name = ?", table);
    int64_t id = db_int(k->db, NULL, -1, sql, "it", group_id, name);
    if (id >= 0) return id;
    char g[80];
    prov_group_name(k, group_id, g, sizeof(g));
    if (field)
        kerr_invalid(e, field, "%s: %s '%.64s' not found in resource group '%s'", field, what, name,
                     g);
    else
        kerr_notfound(e, "%s '%.64s' not found in resource group '%s'", what, name, g);
    return -1;
}

/* Does urn ("P:O:S:V" as stored) match ref ("P:O:S" or "P:O:S:V", V
 * "latest" or the stored version; any case)? */
static bool urn_matches(const char *urn, const char *ref)
{
    const char *u = urn, *r = ref;
    for (int part = 0; part < 3; part++) {
        size_t ul = strcspn(u, ":"), rl = strcspn(r, ":");
        if (ul != rl || strncasecmp(u, r, ul) != 0) return false;
        if ((part < 2 && (!u[ul] || !r[rl]))) return false;
        u += ul + (u[ul] ? 1 : 0);
        r += rl + (r[rl] ? 1 : 0);
    }
    /* u, r: the versions (r may have none) */
    return !*r || strcasecmp(r, "latest") == 0 || strcasecmp(r, u) == 0;
}

int64_t prov_image_ref(struct kumod *k, const char *ref)
{
    assert(kumod_lock_held(k));
    int64_t id = db_int(k->db, NULL, -1, "SELECT id FROM images WHERE name = ?", "t", ref);
    if (id < 0) id = db_int(k->db, NULL, -1, "SELECT id FROM images WHERE alias = ?", "t", ref);
    if (id >= 0 || !strchr(ref, ':')) return id;
    sqlite3_stmt *st =
        db_stmt(k->db, "SELECT id, urn FROM images WHERE urn IS NOT NULL ORDER BY id", "");
    while (st && sqlite3_step(st) == SQLITE_ROW)
        if (urn_matches(db_col_text(st, 1), ref)) {
            id = sqlite3_column_int64(st, 0);
            break;
        }
    sqlite3_finalize(st);
    return id;
}

/* The images' names and aliases, for a message: "default (Default), ..." */
static void image_names(struct kumod *k, char *out, size_t len)
{
    size_t n = 0;
    out[0] = 0;
    sqlite3_stmt *st = db_stmt(k->db, "SELECT name, alias, urn FROM images ORDER BY name", "");
    while (st && sqlite3_step(st) == SQLITE_ROW && n + 1 < len) {
        const char *alias = db_col_null(st, 1) ? NULL : db_col_text(st, 1);
        const char *urn = db_col_null(st, 2) ? NULL : db_col_text(st, 2);
        int w = snprintf(out + n, len - n, "%s%s%s%s%s%s%s", n ? ", " : "", db_col_text(st, 0),
                         alias || urn ? " (" : "", alias ? alias : "", alias && urn ? ", " : "",
                         urn ? urn : "", alias || urn ? ")" : "");
        if (w < 0 || (size_t)w >= len - n) break;
        n += (size_t)w;
    }
    sqlite3_finalize(st);
}

int64_t prov_image(struct kumod *k, const char *name, const char *field, struct kerr *e)
{
    assert(kumod_lock_held(k));
    int64_t id = prov_image_ref(k, name);
    if (id >= 0) return id;
    char names[1024];
    image_names(k, names, sizeof(names));
    if (field)
        kerr_invalid(e, field, "%s: image '%.64s' not found; the images are: %s", field, name,
                     names[0] ? names : "none");
    else
        kerr_notfound(e, "image '%.64s' not found; the images are: %s", name,
                      names[0] ? names : "none");
    return -1;
}

int prov_exec(struct kumod *k, struct kerr *e, bool net_changed, const char *what, const char *sql,
              const char *fmt, ...)
{
    struct prov_tx t;
    if (prov_begin(&t, k, e) < 0) return -1;
    t.net_changed = net_changed;
    va_list ap;
    va_start(ap, fmt);
    int rc = db_vexec(k->db, sql, fmt, ap);
    va_end(ap);
    if (rc < 0) {
        prov_db_error(&t, what);
        prov_abort(&t);
        return -1;
    }
    return prov_commit(&t);
}

int64_t prov_ready_image(struct kumod *k, const char *name, struct kerr *e)
{
    int64_t id = prov_image_ref(k, name);
    if (id < 0) {
        char names[1024];
        image_names(k, names, sizeof(names));
        return kerr_invalid(e, "image",
                            "image: unknown image '%.64s': give an image's name, alias or URN "
                            "(kumo image list shows them: %s)",
                            name, names[0] ? names : "none");
    }
    char state[32] = "", iname[80] = "", why[512] = "";
    db_text(k->db, state, sizeof(state), "SELECT state FROM images WHERE id = ?", "i", id);
    db_text(k->db, iname, sizeof(iname), "SELECT name FROM images WHERE id = ?", "i", id);
    db_text(k->db, why, sizeof(why), "SELECT coalesce(error, '') FROM images WHERE id = ?", "i",
            id);
    if (strcmp(state, "Unavailable") == 0)
        return kerr_invalid(e, "image", "image: image '%s' is %s", iname, why);
    if (strcmp(state, PV_SUCCEEDED) != 0)
        return kerr_invalid(e, "image", "image: image '%s' is %s, not ready%s%s", iname, state,
                            why[0] ? ": " : "", why);
    return id;
}

bool prov_size_lookup(struct kumod *k, const char *name, struct prov_size *s, struct kerr *e)
{
    sqlite3_stmt *st =
        db_stmt(k->db, "SELECT id, name, vcpus, mem_mib, max_data_disks FROM sizes WHERE name = ?",
                "t", name);
    s->id = -1;
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        s->id = sqlite3_column_int64(st, 0);
        snprintf(s->name, sizeof(s->name), "%s", db_col_text(st, 1));
        s->vcpus = sqlite3_column_int64(st, 2);
        s->mem_mib = sqlite3_column_int64(st, 3);
        s->max_data_disks = sqlite3_column_int64(st, 4);
    }
    sqlite3_finalize(st);
    if (s->id < 0)
        kerr_invalid(e, "size", "size: unknown size '%s'; GET /v1/sizes lists the sizes", name);
    return s->id >= 0;
}

int prov_name_free(struct kumod *k, const char *table, int64_t g, const char *name,
                   const char *what, bool in_group, struct kerr *e)
{
    if (prov_group_deleting(k, g)) {
        char gname[80];
        prov_group_name(k, g, gname, sizeof(gname));
        return kerr_conflict(e, "InvalidState",
                             "resource group '%s' is being deleted: nothing new can be made in it",
                             gname);
    }
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE group_id = ? AND name = ?", table);
    if (db_int(k->db, NULL, 0, sql, "it", g, name) == 0) return 0;
    if (!in_group) return kerr_conflict(e, "AlreadyExists", "%s '%s' already exists", what, name);
    char gname[80];
    prov_group_name(k, g, gname, sizeof(gname));
    return kerr_conflict(e, "AlreadyExists", "%s '%s' already exists in resource group '%s'", what,
                         name, gname);
}

int prov_in_use(struct kerr *e, const char *users, const char *what_fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, what_fmt);
    vsnprintf(what, sizeof(what), what_fmt, ap);
    va_end(ap);
    return kerr_conflict(e, "InUse", "%s is used by %s", what, users);
}

void prov_users_query(struct kumod *k, char *list, size_t len, const char *sql, const char *fmt,
                      ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *st = db_vstmt(k->db, sql, fmt, ap);
    va_end(ap);
    while (st && sqlite3_step(st) == SQLITE_ROW)
        prov_users_add(list, len, db_col_text(st, 0), db_col_text(st, 1));
    sqlite3_finalize(st);
}

void prov_users_add(char *list, size_t len, const char *kind, const char *name)
{
    size_t used = strlen(list);
    int count = 0;
    for (const char *p = list; (p = strchr(p, '\'')); p++)
        count++;
    if (count / 2 >= 10) {
        if (!strstr(list, ", ...")) snprintf(list + used, len - used, ", ...");
        return;
    }
    snprintf(list + used, len - used, "%s%s '%s'", used ? ", " : "", kind, name);
}

/* ---- resource groups ---- */

int64_t prov_group_create(struct kumod *k, const char *name, const json_t *tags, struct kerr *e)
{
    assert(kumod_lock_held(k));
    struct prov_tx t;
    if (prov_begin(&t, k, e) < 0) return -1;
    int64_t old = db_int(k->db, NULL, -1, "SELECT id FROM groups WHERE name = ?", "t", name);
    if (old >= 0) {
        prov_abort(&t);
        if (prov_group_deleting(k, old))
            return kerr_conflict(e, "InvalidState",
                                 "resource group '%s' is being deleted: create it again once it "
                                 "is gone",
                                 name);
        return kerr_conflict(e, "AlreadyExists", "resource group '%s' already exists", name);
    }
    char *text = tags ? json_dumps(tags, JSON_COMPACT) : NULL;
    int rc =
        db_exec(k->db,
                "INSERT INTO groups (name, location, tags, created_ms) VALUES (?, 'local', ?, ?)",
                "tti", name, text ? text : "{}", time_now_ms());
    free(text);
    int64_t id = db_last_id(k->db);
    if (rc < 0) {
        prov_db_error(&t, "resource group create");
        prov_abort(&t);
        return -1;
    }
    return prov_commit(&t) < 0 ? -1 : id;
}

int prov_group_set_tags(struct kumod *k, int64_t group_id, const json_t *tags, struct kerr *e)
{
    char *text = json_dumps(tags, JSON_COMPACT);
    int rc = prov_exec(k, e, false, "resource group update",
                       "UPDATE groups SET tags = ? WHERE id = ?", "ti", text, group_id);
    free(text);
    return rc;
}

/* What a group holds, in the order a group delete removes it (dependency
 * order: a row goes before what it references). kind names it in
 * messages. */
static const struct {
    const char *table, *kind;
} contents[] = {
    {"vmss", "scale set"},
    {"vms", "virtual machine"},
    {"autoscale", "autoscale setting"},
    {"nics", "network interface"},
    {"public_ips", "public IP"},
    {"vnets", "virtual network"},
    {"nsgs", "network security group"},
    {"disks", "disk"},
    {"snapshots", "snapshot"},
};
#define NCONTENTS (sizeof(contents) / sizeof(contents[0]))

bool prov_group_deleting(struct kumod *k, int64_t group_id)
{
    return db_int(k->db, NULL, 0, "SELECT deleting FROM groups WHERE id = ?", "i", group_id) != 0;
}

int prov_group_delete(struct kumod *k, int64_t id, const char *name, bool *at_once, struct kerr *e)
{
    assert(kumod_lock_held(k));
    *at_once = false;
    if (prov_group_deleting(k, id)) return 0; /* already on its way */
    int64_t n = 0;
    for (size_t i = 0; i < NCONTENTS; i++) {
        char sql[128];
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE group_id = ?", contents[i].table);
        n += db_int(k->db, NULL, 0, sql, "i", id);
    }
    if (n == 0) { /* empty: at once */
        *at_once = true;
        return prov_exec(k, e, false, "resource group delete", "DELETE FROM groups WHERE id = ?",
                         "i", id);
    }
    if (prov_exec(k, e, false, "resource group delete",
                  "UPDATE groups SET deleting = 1, delete_started_ms = ?,"
                  " delete_status = 'deleting its resources' WHERE id = ?",
                  "ii", time_now_ms(), id) < 0)
        return -1;
    log_info("resource group '%s': deleting it with its %" PRId64 " resources", name, n);
    return 0;
}

/* Record what the group's delete is doing (when it changed). */
static void set_delete_status(struct kumod *k, int64_t g, const char *status)
{
    char old[512] = "";
    db_text(k->db, old, sizeof(old), "SELECT coalesce(delete_status, '') FROM groups WHERE id = ?",
            "i", g);
    if (!strcmp(old, status)) return;
    if (db_begin(k->db) == 0 &&
        db_exec(k->db, "UPDATE groups SET delete_status = ? WHERE id = ?", "ti", status, g) == 0)
        db_commit_lazy(k->db);
    else
        db_rollback(k->db);
    kumod_changed(k);
}

/* "2 virtual machines, 1 scale set" from counts of the contents. */
static void describe_counts(const int64_t *counts, char *out, size_t len)
{
    size_t used = 0;
    out[0] = 0;
    for (size_t i = 0; i < NCONTENTS && used < len; i++) {
        if (!counts[i]) continue;
        used += (size_t)snprintf(out + used, len - used, "%s%" PRId64 " %s%s", used ? ", " : "",
                                 counts[i], contents[i].kind, counts[i] == 1 ? "" : "s");
    }
}

/* The rows of a group that hold no process: removed in one transaction,
 * files after the commit. */
static int delete_rows(struct kumod *k, int64_t g, const char *name)
{
    struct db *db = k->db;
    int64_t now = time_now_ms();
    int64_t *disks = NULL, *snaps = NULL;
    size_t nd = 0, ns = 0;
    int rc = db_begin(db);
    sqlite3_stmt *st =
        rc == 0 ? db_stmt(db, "SELECT id FROM disks WHERE group_id = ?", "i", g) : NULL;
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        int64_t *more = realloc(disks, (nd + 1) * sizeof(*disks));
        if (!more) break;
        disks = more;
        disks[nd++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    st = rc == 0 ? db_stmt(db, "SELECT id FROM snapshots WHERE group_id = ?", "i", g) : NULL;
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        int64_t *more = realloc(snaps, (ns + 1) * sizeof(*snaps));
        if (!more) break;
        snaps = more;
        snaps[ns++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    for (size_t i = 0; rc == 0 && i < nd; i++)
        rc = billing_disk_sync(db, disks[i], false, now);
    st = rc == 0 ? db_stmt(db, "SELECT id FROM public_ips WHERE group_id = ?", "i", g) : NULL;
    while (rc == 0 && st && sqlite3_step(st) == SQLITE_ROW)
        rc = billing_pip_sync(db, sqlite3_column_int64(st, 0), false, now);
    sqlite3_finalize(st);
    static const char *const sql[] = {
        "DELETE FROM autoscale_events WHERE autoscale_id IN"
        " (SELECT id FROM autoscale WHERE group_id = ?)",
        "DELETE FROM autoscale WHERE group_id = ?",
        "DELETE FROM nics WHERE group_id = ?",
        "DELETE FROM public_ips WHERE group_id = ?",
        "DELETE FROM vnets WHERE group_id = ?",
        "DELETE FROM nsgs WHERE group_id = ?",
        "DELETE FROM disks WHERE group_id = ?",
        "DELETE FROM snapshots WHERE group_id = ?",
        "DELETE FROM groups WHERE id = ?",
    };
    for (size_t i = 0; rc == 0 && i < sizeof(sql) / sizeof(sql[0]); i++)
        rc = db_exec(db, sql[i], "i", g);
    if (rc == 0) rc = db_commit(db);
    if (rc < 0) {
        log_error("resource group '%s': delete failed: %s", name, db_errmsg(db));
        db_rollback(db);
    } else {
        char path[PATH_MAX];
        for (size_t i = 0; i < nd; i++)
            unlink(path_disk(k, path, disks[i]));
        for (size_t i = 0; i < ns; i++)
            unlink(path_snapshot(k, path, snaps[i]));
        log_info("resource group '%s': deleted", name);
        netplane_sync(k);
        kumod_changed(k);
    }
    free(disks);
    free(snaps);
    return rc;
}

void prov_group_delete_step(struct kumod *k, int64_t g)
{
    assert(kumod_lock_held(k));
    struct db *db = k->db;
    if (!prov_group_deleting(k, g)) return;
    char name[80] = "";
    prov_group_name(k, g, name, sizeof(name));
    /* scale sets: their controller deletes the instances, then the set */
    if (db_int(db, NULL, 0, "SELECT count(*) FROM vmss WHERE group_id = ? AND NOT deleting", "i",
               g) > 0 &&
        db_begin(db) == 0) {
        if (db_exec(db,
                    "UPDATE vmss SET deleting = 1, capacity = 0, updated_ms = ?"
                    " WHERE group_id = ? AND NOT deleting",
                    "ii", time_now_ms(), g) == 0)
            db_commit(db);
        else
            db_rollback(db);
    }
    /* VMs of no scale set, with every disk attached to them; a VM busy
     * with another operation is deleted once that ends */
    int64_t vms[64];
    size_t nv = 0;
    sqlite3_stmt *st = db_stmt(db,
                               "SELECT id FROM vms WHERE group_id = ? AND vmss_id IS NULL"
                               " AND op IS NULL ORDER BY id LIMIT 64",
                               "i", g);
    while (st && sqlite3_step(st) == SQLITE_ROW)
        vms[nv++] = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    for (size_t i = 0; i < nv; i++) {
        struct kerr e = {0};
        if (prov_vm_delete_id(k, vms[i], PROV_DISKS_ALL, "deleted with its resource group", &e) < 0)
            log_warn("resource group '%s': VM %" PRId64 ": %s", name, vms[i], e.message);
    }
    /* what still holds a process or a job */
    int64_t counts[NCONTENTS] = {0};
    counts[0] = db_int(db, NULL, 0, "SELECT count(*) FROM vmss WHERE group_id = ?", "i", g);
    counts[1] = db_int(db, NULL, 0, "SELECT count(*) FROM vms WHERE group_id = ?", "i", g);
    int64_t busy =
        db_int(db, NULL, 0,
               "SELECT (SELECT count(*) FROM disks WHERE group_id = ?1 AND state = 'Creating') +"
               " (SELECT count(*) FROM snapshots WHERE group_id = ?1 AND state = 'Creating')",
               "i", g);
    if (counts[0] || counts[1] || busy) {
        char what[400], status[512];
        describe_counts(counts, what, sizeof(what));
        snprintf(status, sizeof(status), "deleting %s%s%s", what, *what && busy ? ", " : "",
                 busy ? "waiting for disk copies to end" : "");
        set_delete_status(k, g, status);
        return;
    }
    for (size_t i = 2; i < NCONTENTS; i++) {
        char sql[128];
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE group_id = ?", contents[i].table);
        counts[i] = db_int(db, NULL, 0, sql, "i", g);
    }
    char what[400], status[512];
    describe_counts(counts, what, sizeof(what));
    snprintf(status, sizeof(status), "deleting %s", *what ? what : "the group");
    set_delete_status(k, g, status);
    delete_rows(k, g, name);
}

int prov_group_contents(struct kumod *k, int64_t group_id,
                        void (*each)(void *ctx, const char *table, int64_t id), void *ctx)
{
    assert(kumod_lock_held(k));
    int n = 0;
    for (size_t i = 0; i < NCONTENTS; i++) {
        char sql[128];
        snprintf(sql, sizeof(sql), "SELECT id FROM %s WHERE group_id = ? ORDER BY name",
                 contents[i].table);
        sqlite3_stmt *st = db_stmt(k->db, sql, "i", group_id);
        while (st && sqlite3_step(st) == SQLITE_ROW) {
            each(ctx, contents[i].table, sqlite3_column_int64(st, 0));
            n++;
        }
        sqlite3_finalize(st);
    }
    return n;
}
