/*
 * reap.c - deleting what a deployment made, in dependency order (contract
 * in reap.h).
 */
#include "cloud/arm/reap.h"

#include "cloud/db.h"
#include "cloud/kumod.h"
#include "cloud/provision.h"

#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Is (table, row) one to delete? rows NULL: every row. */
static bool wanted(const json_t *rows, const char *table, int64_t row)
{
    if (!rows) return true;
    size_t i;
    const json_t *r;
    json_array_foreach(rows, i, r)
    {
        const char *t = json_string_value(json_object_get(r, "table"));
        if (t && !strcmp(t, table) && json_integer_value(json_object_get(r, "row")) == row)
            return true;
    }
    return false;
}

struct item {
    int64_t id;
    char name[80];
    char op[32];
    int64_t flag; /* vmss: deleting */
};

/* The rows (id, name, extra) of a query on group g, at most max. */
static size_t rows_of(struct kumod *k, const char *sql, int64_t g, struct item *out, size_t max)
{
    sqlite3_stmt *st = db_stmt(k->db, sql, "i", g);
    size_t n = 0;
    while (st && n < max && sqlite3_step(st) == SQLITE_ROW) {
        out[n].id = sqlite3_column_int64(st, 0);
        snprintf(out[n].name, sizeof(out[n].name), "%s", db_col_text(st, 1));
        snprintf(out[n].op, sizeof(out[n].op), "%s", db_col_text(st, 2));
        out[n].flag = sqlite3_column_int64(st, 3);
        n++;
    }
    sqlite3_finalize(st);
    return n;
}

#define MAX_ITEMS 256

typedef int (*delete_fn)(struct kumod *k, int64_t g, const char *name, struct kerr *e);

/* Delete the wanted rows of a simple table with fn. -1 on a refusal. */
static int delete_all(struct kumod *k, int64_t g, const json_t *rows, const char *table,
                      delete_fn fn, int *left, struct kerr *e)
{
    char sql[160];
    snprintf(sql, sizeof(sql), "SELECT id, name, '', 0 FROM %s WHERE group_id = ? ORDER BY id DESC",
             table);
    struct item it[MAX_ITEMS];
    size_t n = rows_of(k, sql, g, it, MAX_ITEMS);
    if (n == MAX_ITEMS) (*left)++; /* more than a step takes: the next one goes on */
    for (size_t i = 0; i < n; i++) {
        if (!wanted(rows, table, it[i].id)) continue;
        struct kerr ke = {0};
        if (fn(k, g, it[i].name, &ke) < 0) {
            /* a snapshot still being taken: wait; anything else is final */
            if (!strcmp(ke.code, "InvalidState")) {
                (*left)++;
                continue;
            }
            *e = ke;
            return -1;
        }
    }
    return 0;
}

static int autoscale_delete(struct kumod *k, int64_t g, const char *name, struct kerr *e)
{
    return prov_autoscale_delete(k, g, name, e);
}

static int lb_delete(struct kumod *k, int64_t g, const char *name, struct kerr *e)
{
    return prov_exec(k, e, false, "load balancer delete",
                     "DELETE FROM arm_resources WHERE group_id = ? AND name = ? AND type = "
                     "'Microsoft.Network/loadBalancers'",
                     "it", g, name);
}

int arm_reap_rows(struct kumod *k, int64_t g, const json_t *rows, struct kerr *e)
{
    if (!rows) return 1;
    assert(kumod_lock_held(k));
    int left = 0;
    if (delete_all(k, g, rows, "autoscale", autoscale_delete, &left, e) < 0) return -1;
    struct item it[MAX_ITEMS];
    /* scale sets: marked deleting, their controller does the rest */
    size_t n =
        rows_of(k, "SELECT id, name, '', deleting FROM vmss WHERE group_id = ?", g, it, MAX_ITEMS);
    if (n == MAX_ITEMS) left++;
    for (size_t i = 0; i < n; i++) {
        if (!wanted(rows, "vmss", it[i].id)) continue;
        left++;
        if (it[i].flag) continue;
        struct kerr ke = {0};
        if (prov_vmss_delete(k, g, it[i].name, &ke) < 0) {
            *e = ke;
            return -1;
        }
    }
    /* VMs (not a scale set's: the set deletes those) */
    n = rows_of(k,
                "SELECT id, name, coalesce(op, ''), 0 FROM vms WHERE group_id = ? AND vmss_id IS"
                " NULL",
                g, it, MAX_ITEMS);
    if (n == MAX_ITEMS) left++;
    for (size_t i = 0; i < n; i++) {
        if (!wanted(rows, "vms", it[i].id)) continue;
        left++;
        if (it[i].op[0]) continue; /* deleting already, or busy: the next step sees */
        struct kerr ke = {0};
        if (prov_vm_delete_id(k, it[i].id, PROV_DISKS_OWNED, "its deployment failed", &ke) < 0 &&
            strcmp(ke.code, "OperationInProgress")) {
            *e = ke;
            return -1;
        }
    }
    if (left) return 0;
    /* the network and the storage the VMs used */
    if (delete_all(k, g, rows, "nics", prov_nic_delete, &left, e) < 0 ||
        delete_all(k, g, rows, "public_ips", prov_pip_delete, &left, e) < 0 ||
        delete_all(k, g, rows, "vnets", prov_vnet_delete, &left, e) < 0 ||
        delete_all(k, g, rows, "nsgs", prov_nsg_delete, &left, e) < 0 ||
        delete_all(k, g, rows, "disks", prov_disk_delete, &left, e) < 0 ||
        delete_all(k, g, rows, "snapshots", prov_snapshot_delete, &left, e) < 0 ||
        delete_all(k, g, rows, "arm_resources", lb_delete, &left, e) < 0)
        return -1;
    return left ? 0 : 1;
}
