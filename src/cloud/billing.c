/*
 * billing.c - usage records (one open record per billed resource) and the
 * cost report computed from them (see billing.h).
 */
#include "cloud/billing.h"

#include "cloud/catalog.h"
#include "cloud/db.h"
#include "cloud/timefmt.h"
#include "storage/tiers.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

double billing_overlap_hours(int64_t start, int64_t end, int64_t from, int64_t to)
{
    if (end < 0) end = to;
    int64_t a = start > from ? start : from;
    int64_t b = end < to ? end : to;
    return b > a ? (double)(b - a) / 3600000.0 : 0.0;
}

int usage_sync(struct db *db, const char *rtype, int64_t rid, const struct meter *want,
               int64_t at_ms)
{
    sqlite3_stmt *st =
        db_stmt(db,
                "SELECT id, meter, price, qty_per_hour, group_name, resource_name, start_ms "
                "FROM usage WHERE resource_type = ? AND resource_id = ? AND end_ms IS NULL",
                "ti", rtype, rid);
    if (!st) return -1;
    int64_t open_id = -1, open_start = 0;
    bool same = false;
    if (sqlite3_step(st) == SQLITE_ROW) {
        open_id = sqlite3_column_int64(st, 0);
        open_start = sqlite3_column_int64(st, 6);
        same = want && strcmp(db_col_text(st, 1), want->meter) == 0 &&
               sqlite3_column_double(st, 2) == want->price &&
               sqlite3_column_double(st, 3) == want->qty_per_hour &&
               strcmp(db_col_text(st, 4), want->group) == 0 &&
               strcmp(db_col_text(st, 5), want->resource_name) == 0;
    }
    sqlite3_finalize(st);
    if (same) return 0;
    if (open_id >= 0) {
        /* Wall clocks can step back; a record never ends before it starts. */
        int64_t end = at_ms < open_start ? open_start : at_ms;
        if (db_exec(db, "UPDATE usage SET end_ms = ? WHERE id = ?", "ii", end, open_id) < 0)
            return -1;
        if (at_ms < end) at_ms = end;
    }
    if (!want) return 0;
    return db_exec(
        db,
        "INSERT INTO usage (group_name, resource_type, resource_id, resource_name, meter,"
        " unit, price, qty_per_hour, start_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        "ttitttddi", want->group, rtype, rid, want->resource_name, want->meter, want->unit,
        want->price, want->qty_per_hour, at_ms);
}

int billing_vm_meter(struct db *db, int64_t vm_id, struct meter *m, char *group, size_t glen,
                     char *name, size_t nlen)
{
    sqlite3_stmt *st =
        db_stmt(db,
                "SELECT g.name, v.name, s.name, s.price_hour FROM vms v"
                " JOIN groups g ON g.id = v.group_id JOIN sizes s ON s.id = v.size_id"
                " WHERE v.id = ?",
                "i", vm_id);
    if (!st) return -1;
    int rc = -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        snprintf(group, glen, "%s", db_col_text(st, 0));
        snprintf(name, nlen, "%s", db_col_text(st, 1));
        *m = (struct meter){.group = group,
                            .resource_type = "virtualMachine",
                            .resource_name = name,
                            .resource_id = vm_id,
                            .unit = "hour",
                            .price = sqlite3_column_double(st, 3),
                            .qty_per_hour = 1.0};
        snprintf(m->meter, sizeof(m->meter), "VM %s", db_col_text(st, 2));
        rc = 0;
    }
    sqlite3_finalize(st);
    return rc;
}

int billing_vm_sync(struct db *db, int64_t vm_id, bool billed, int64_t at_ms)
{
    if (!billed) return usage_sync(db, "virtualMachine", vm_id, NULL, at_ms);
    struct meter m;
    char group[80], name[80];
    if (billing_vm_meter(db, vm_id, &m, group, sizeof(group), name, sizeof(name)) < 0) return -1;
    return usage_sync(db, "virtualMachine", vm_id, &m, at_ms);
}

int billing_disk_sync(struct db *db, int64_t disk_id, bool exists, int64_t at_ms)
{
    if (!exists) return usage_sync(db, "disk", disk_id, NULL, at_ms);
    sqlite3_stmt *st = db_stmt(db,
                               "SELECT g.name, d.name, d.tier, d.size_gib FROM disks d"
                               " JOIN groups g ON g.id = d.group_id WHERE d.id = ?",
                               "i", disk_id);
    if (!st) return -1;
    int rc = -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        char group[80], name[80];
        snprintf(group, sizeof(group), "%s", db_col_text(st, 0));
        snprintf(name, sizeof(name), "%s", db_col_text(st, 1));
        enum disk_tier t = DISK_TIER_STANDARD_SSD;
        disk_tier_parse(db_col_text(st, 2), &t);
        const struct disk_tier_size *offer =
            disk_tier_lookup(t, (uint64_t)sqlite3_column_int64(st, 3));
        struct meter m = {.group = group,
                          .resource_type = "disk",
                          .resource_name = name,
                          .resource_id = disk_id,
                          .unit = "GiB-month",
                          .price = catalog_disk_price(t)};
        uint32_t gib = offer ? offer->size_gib : (uint32_t)sqlite3_column_int64(st, 3);
        m.qty_per_hour = (double)gib / CATALOG_HOURS_PER_MONTH;
        snprintf(m.meter, sizeof(m.meter), "Disk %s %s", disk_tier_name(t),
                 offer ? offer->name : "custom");
        rc = usage_sync(db, "disk", disk_id, &m, at_ms);
    }
    sqlite3_finalize(st);
    return rc;
}

int billing_pip_sync(struct db *db, int64_t pip_id, bool exists, int64_t at_ms)
{
    if (!exists) return usage_sync(db, "publicIPAddress", pip_id, NULL, at_ms);
    char group[80] = "", name[80] = "";
    db_text(db, group, sizeof(group),
            "SELECT g.name FROM public_ips p JOIN groups g ON g.id = p.group_id WHERE p.id = ?",
            "i", pip_id);
    if (!db_text(db, name, sizeof(name), "SELECT name FROM public_ips WHERE id = ?", "i", pip_id))
        return -1;
    struct meter m = {.group = group,
                      .resource_type = "publicIPAddress",
                      .resource_name = name,
                      .resource_id = pip_id,
                      .meter = "Public IP",
                      .unit = "hour",
                      .price = CATALOG_PUBLIC_IP_HOUR,
                      .qty_per_hour = 1.0};
    return usage_sync(db, "publicIPAddress", pip_id, &m, at_ms);
}

int billing_state_sync(struct db *db, int64_t vm_id, uint64_t bytes, int64_t at_ms)
{
    if (!bytes) return usage_sync(db, "vmState", vm_id, NULL, at_ms);
    char group[80] = "", name[80] = "";
    db_text(db, group, sizeof(group),
            "SELECT g.name FROM vms v JOIN groups g ON g.id = v.group_id WHERE v.id = ?", "i",
            vm_id);
    if (!db_text(db, name, sizeof(name), "SELECT name FROM vms WHERE id = ?", "i", vm_id))
        return -1;
    struct meter m = {.group = group,
                      .resource_type = "vmState",
                      .resource_name = name,
                      .resource_id = vm_id,
                      .meter = "VM state (hibernation)",
                      .unit = "GiB-month",
                      .price = catalog_disk_price(DISK_TIER_STANDARD_SSD)};
    m.qty_per_hour = (double)bytes / (1024.0 * 1024 * 1024) / CATALOG_HOURS_PER_MONTH;
    return usage_sync(db, "vmState", vm_id, &m, at_ms);
}

int64_t billing_first_ms(struct db *db, int64_t now_ms)
{
    return db_int(db, NULL, now_ms, "SELECT min(start_ms) FROM usage", "");
}

static sqlite3_stmt *records(struct db *db, int64_t from, int64_t to, const char *group)
{
    return db_stmt(db,
                   "SELECT group_name, resource_type, resource_name, meter, unit, price,"
                   " qty_per_hour, start_ms, coalesce(end_ms, -1) FROM usage"
                   " WHERE start_ms < ? AND (end_ms IS NULL OR end_ms > ?)"
                   " AND (? IS NULL OR group_name = ? COLLATE NOCASE) ORDER BY id",
                   "iitt", to, from, group, group);
}

/* Add quantity and cost to rows[key] (created with the given fields). */
static json_t *row_for(json_t *rows, const char *key)
{
    json_t *row = json_object_get(rows, key);
    if (!row) {
        row = json_pack("{s:s,s:f}", "key", key, "cost", 0.0);
        json_object_set_new(rows, key, row);
    }
    return row;
}

static void add_num(json_t *obj, const char *field, double v)
{
    json_object_set_new(obj, field, json_real(json_real_value(json_object_get(obj, field)) + v));
}

static void add_meter(json_t *row, const char *meter, const char *unit, double qty, double cost)
{
    json_t *meters = json_object_get(row, "meters");
    if (!meters) {
        meters = json_array();
        json_object_set_new(row, "meters", meters);
    }
    size_t i;
    json_t *m;
    json_array_foreach(meters, i, m)
    {
        if (strcmp(json_string_value(json_object_get(m, "meter")), meter) == 0) {
            add_num(m, "quantity", qty);
            add_num(m, "cost", cost);
            return;
        }
    }
    json_array_append_new(meters, json_pack("{s:s,s:s,s:f,s:f}", "meter", meter, "unit", unit,
                                            "quantity", qty, "cost", cost));
}

static int cmp_key(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    return strcmp(json_string_value(json_object_get(x, "key")),
                  json_string_value(json_object_get(y, "key")));
}

json_t *billing_cost_report(struct db *db, int64_t from, int64_t to, const char *group_by,
                            const char *group, struct kerr *e)
{
    sqlite3_stmt *st = records(db, from, to, group);
    if (!st) {
        kerr_internal(e, "cost: %s", db_errmsg(db));
        return NULL;
    }
    json_t *rows = json_object();
    double total = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *g = db_col_text(st, 0), *type = db_col_text(st, 1), *name = db_col_text(st, 2);
        const char *meter = db_col_text(st, 3), *unit = db_col_text(st, 4);
        double price = sqlite3_column_double(st, 5), qph = sqlite3_column_double(st, 6);
        double hours = billing_overlap_hours(sqlite3_column_int64(st, 7),
                                             sqlite3_column_int64(st, 8), from, to);
        double qty = hours * qph, cost = qty * price;
        total += cost;
        char key[256];
        json_t *row;
        if (strcmp(group_by, "meter") == 0) {
            row = row_for(rows, meter);
            if (!json_object_get(row, "unit")) {
                json_object_set_new(row, "meter", json_string(meter));
                json_object_set_new(row, "unit", json_string(unit));
                json_object_set_new(row, "quantity", json_real(0));
            }
            add_num(row, "quantity", qty);
        } else if (strcmp(group_by, "resourceGroup") == 0) {
            row = row_for(rows, g);
            json_object_set_new(row, "resourceGroup", json_string(g));
            add_meter(row, meter, unit, qty, cost);
        } else {
            snprintf(key, sizeof(key), "%s/%s/%s", g, type, name);
            row = row_for(rows, key);
            json_object_set_new(row, "resourceGroup", json_string(g));
            json_object_set_new(row, "resourceType", json_string(type));
            json_object_set_new(row, "resource", json_string(name));
            add_meter(row, meter, unit, qty, cost);
        }
        add_num(row, "cost", cost);
    }
    sqlite3_finalize(st);
    size_t n = json_object_size(rows), i = 0;
    json_t **list = calloc(n ? n : 1, sizeof(*list));
    const char *key;
    json_t *row;
    json_object_foreach(rows, key, row) list[i++] = row;
    qsort(list, n, sizeof(*list), cmp_key);
    json_t *arr = json_array();
    for (i = 0; i < n; i++) {
        json_t *r = list[i];
        if (strcmp(group_by, "meter") == 0) {
            double q = json_real_value(json_object_get(r, "quantity"));
            double c = json_real_value(json_object_get(r, "cost"));
            json_object_set_new(r, "pricePerUnit", json_real(q > 0 ? c / q : 0));
        }
        json_array_append(arr, r);
    }
    free(list);
    json_decref(rows);
    char a[TIME_STRLEN], b[TIME_STRLEN];
    return json_pack("{s:s,s:s,s:s,s:s,s:f,s:o}", "from", time_format(from, a), "to",
                     time_format(to, b), "currency", "USD", "groupBy", group_by, "total", total,
                     "rows", arr);
}

json_t *billing_usage_list(struct db *db, int64_t from, int64_t to, const char *group,
                           struct kerr *e)
{
    sqlite3_stmt *st = records(db, from, to, group);
    if (!st) {
        kerr_internal(e, "usage: %s", db_errmsg(db));
        return NULL;
    }
    json_t *arr = json_array();
    while (sqlite3_step(st) == SQLITE_ROW) {
        char a[TIME_STRLEN], b[TIME_STRLEN];
        int64_t end = sqlite3_column_int64(st, 8);
        json_array_append_new(
            arr,
            json_pack("{s:s,s:s,s:s,s:s,s:s,s:f,s:f,s:s,s:o}", "resourceGroup", db_col_text(st, 0),
                      "resourceType", db_col_text(st, 1), "resource", db_col_text(st, 2), "meter",
                      db_col_text(st, 3), "unit", db_col_text(st, 4), "pricePerUnit",
                      sqlite3_column_double(st, 5), "quantityPerHour", sqlite3_column_double(st, 6),
                      "start", time_format(sqlite3_column_int64(st, 7), a), "end",
                      end < 0 ? json_null() : json_string(time_format(end, b))));
    }
    sqlite3_finalize(st);
    return json_pack("{s:o}", "value", arr);
}
