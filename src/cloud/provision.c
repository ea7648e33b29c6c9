/*
 * provision.c - the provisioning layer's transactions, lookups and resource
 * groups (contract in provision.h). The resources are in prov_vm.c,
 * prov_disk.c, prov_net.c and prov_vmss.c.
 */
#include "cloud/provision.h"

#include "cloud/db.h"
#include "cloud/jobs.h"
#include "cloud/kumod.h"
#include "cloud/netplane.h"
#include "cloud/timefmt.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
        jobs_submit(k->jobs, JOB_VM, t->jobs[i]);
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

void prov_tx_vm_job(struct prov_tx *t, int64_t vm)
{
    assert(t->open && t->njobs < PROV_MAX_JOBS);
    for (int i = 0; i < t->njobs; i++)
        if (t->jobs[i] == vm) return;
    t->jobs[t->njobs++] = vm;
}

int prov_db_error(struct prov_tx *t, const char *what)
{
    if (what) return kerr_internal(t->e, "%s: %s", what, db_errmsg(t->k->db));
    return kerr_internal(t->e, "%s", db_errmsg(t->k->db));
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

int64_t prov_image(struct kumod *k, const char *name, const char *field, struct kerr *e)
{
    assert(kumod_lock_held(k));
    int64_t id = db_int(k->db, NULL, -1, "SELECT id FROM images WHERE name = ?", "t", name);
    if (id >= 0) return id;
    if (field)
        kerr_invalid(e, field, "%s: image '%.64s' not found (GET /v1/images lists them)", field,
                     name);
    else
        kerr_notfound(e, "image '%.64s' not found", name);
    return -1;
}

int prov_in_use(struct kerr *e, const char *what, const char *users)
{
    return kerr_conflict(e, "InUse", "%s is used by %s", what, users);
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
    struct db *db = k->db;
    if (db_int(db, NULL, -1, "SELECT id FROM groups WHERE name = ?", "t", name) >= 0)
        return kerr_conflict(e, "AlreadyExists", "resource group '%s' already exists", name);
    char *text = tags ? json_dumps(tags, JSON_COMPACT) : NULL;
    int rc = db_begin(db);
    if (rc == 0)
        rc = db_exec(
            db, "INSERT INTO groups (name, location, tags, created_ms) VALUES (?, 'local', ?, ?)",
            "tti", name, text ? text : "{}", time_now_ms());
    int64_t id = db_last_id(db);
    if (rc == 0) rc = db_commit(db);
    free(text);
    if (rc < 0) {
        kerr_internal(e, "resource group create: %s", db_errmsg(db));
        db_rollback(db);
        return -1;
    }
    kumod_changed(k);
    return id;
}

int prov_group_set_tags(struct kumod *k, int64_t group_id, const json_t *tags, struct kerr *e)
{
    assert(kumod_lock_held(k));
    struct db *db = k->db;
    char *text = json_dumps(tags, JSON_COMPACT);
    int rc = db_begin(db);
    if (rc == 0) rc = db_exec(db, "UPDATE groups SET tags = ? WHERE id = ?", "ti", text, group_id);
    if (rc == 0) rc = db_commit(db);
    free(text);
    if (rc < 0) {
        kerr_internal(e, "resource group update: %s", db_errmsg(db));
        db_rollback(db);
        return -1;
    }
    kumod_changed(k);
    return 0;
}

int prov_group_delete(struct kumod *k, int64_t id, const char *name, struct kerr *e)
{
    assert(kumod_lock_held(k));
    struct db *db = k->db;
    static const struct {
        const char *table, *kind;
    } contents[] = {
        {"vmss", "scale set"},
        {"autoscale", "autoscale setting"},
        {"vms", "virtual machine"},
        {"disks", "disk"},
        {"snapshots", "snapshot"},
        {"nics", "network interface"},
        {"public_ips", "public IP"},
        {"vnets", "virtual network"},
        {"nsgs", "network security group"},
    };
    char users[1024] = "";
    for (size_t i = 0; i < sizeof(contents) / sizeof(contents[0]); i++) {
        char sql[128];
        snprintf(sql, sizeof(sql), "SELECT name FROM %s WHERE group_id = ? ORDER BY name LIMIT 11",
                 contents[i].table);
        sqlite3_stmt *st = db_stmt(db, sql, "i", id);
        while (st && sqlite3_step(st) == SQLITE_ROW)
            prov_users_add(users, sizeof(users), contents[i].kind, db_col_text(st, 0));
        sqlite3_finalize(st);
    }
    if (users[0])
        return kerr_conflict(e, "InUse",
                             "resource group '%s' is not empty: it holds %s; delete them first",
                             name, users);
    if (db_begin(db) < 0 || db_exec(db, "DELETE FROM groups WHERE id = ?", "i", id) < 0 ||
        db_commit(db) < 0) {
        kerr_internal(e, "resource group delete: %s", db_errmsg(db));
        db_rollback(db);
        return -1;
    }
    kumod_changed(k);
    return 0;
}
