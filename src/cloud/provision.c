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
#include "cloud/state.h"
#include "cloud/timefmt.h"

#include <assert.h>
#include <stdarg.h>
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
        jobs_submit(k->jobs, t->jobs[i].kind, t->jobs[i].id);
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
    int64_t id = db_int(k->db, NULL, -1, "SELECT id FROM images WHERE name = ?", "t", name);
    if (id < 0)
        return kerr_invalid(e, "image",
                            "image: unknown image '%s'; GET /v1/images lists the images", name);
    char state[32] = "";
    db_text(k->db, state, sizeof(state), "SELECT state FROM images WHERE id = ?", "i", id);
    if (strcmp(state, PV_SUCCEEDED) != 0)
        return kerr_invalid(e, "image", "image: image '%s' is %s, not ready", name, state);
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
    if (db_int(k->db, NULL, -1, "SELECT id FROM groups WHERE name = ?", "t", name) >= 0)
        return kerr_conflict(e, "AlreadyExists", "resource group '%s' already exists", name);
    char *text = tags ? json_dumps(tags, JSON_COMPACT) : NULL;
    int rc =
        prov_exec(k, e, false, "resource group create",
                  "INSERT INTO groups (name, location, tags, created_ms) VALUES (?, 'local', ?, ?)",
                  "tti", name, text ? text : "{}", time_now_ms());
    free(text);
    return rc < 0 ? -1 : db_last_id(k->db);
}

int prov_group_set_tags(struct kumod *k, int64_t group_id, const json_t *tags, struct kerr *e)
{
    char *text = json_dumps(tags, JSON_COMPACT);
    int rc = prov_exec(k, e, false, "resource group update",
                       "UPDATE groups SET tags = ? WHERE id = ?", "ti", text, group_id);
    free(text);
    return rc;
}

int prov_group_delete(struct kumod *k, int64_t id, const char *name, struct kerr *e)
{
    assert(kumod_lock_held(k));
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
        snprintf(sql, sizeof(sql),
                 "SELECT ?, name FROM %s WHERE group_id = ? ORDER BY name LIMIT 11",
                 contents[i].table);
        prov_users_query(k, users, sizeof(users), sql, "ti", contents[i].kind, id);
    }
    if (users[0])
        return kerr_conflict(e, "InUse",
                             "resource group '%s' is not empty: it holds %s; delete them first",
                             name, users);
    return prov_exec(k, e, false, "resource group delete", "DELETE FROM groups WHERE id = ?", "i",
                     id);
}
