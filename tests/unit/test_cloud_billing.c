/*
 * test_cloud_billing.c - metering and cost (src/cloud/billing.c, state.c):
 * overlap arithmetic, one open record per resource, a VM's meter following
 * its power states to the millisecond (billed: Starting, Running, Stopping,
 * Stopped; not Creating, Deallocating, Deallocated), size changes, disk
 * GiB-months by billed size, and the cost report's groupings.
 */
#include "cloud/billing.h"
#include "cloud/catalog.h"
#include "cloud/db.h"
#include "cloud/state.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "check.h"

#define NEAR(a, b) (fabs((a) - (b)) < 1e-9 * (1 + fabs(b)))
#define H          3600000LL

/* A fresh database file (WAL needs a real file); removed at exit. */
static char db_dir[] = "/tmp/kumo-test-cloud-XXXXXX";
static int db_seq;

static void cleanup(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", db_dir);
    if (system(cmd) != 0) printf("could not remove %s\n", db_dir);
}

static struct db *open_temp_db(char *err, size_t len)
{
    if (db_seq == 0) {
        if (!mkdtemp(db_dir)) return NULL;
        atexit(cleanup);
    }
    char path[128];
    snprintf(path, sizeof(path), "%s/%d.db", db_dir, ++db_seq);
    return db_open(path, err, len);
}

static void overlap(void)
{
    CHECK(NEAR(billing_overlap_hours(0, H, 0, H), 1.0), "whole");
    CHECK(NEAR(billing_overlap_hours(0, H, H / 2, 2 * H), 0.5), "cut at from");
    CHECK(NEAR(billing_overlap_hours(0, -1, 0, 3 * H), 3.0), "open record runs to `to`");
    CHECK(billing_overlap_hours(0, H, H, 2 * H) == 0, "touching is not overlapping");
    CHECK(billing_overlap_hours(2 * H, 3 * H, 0, H) == 0, "after");
    CHECK(NEAR(billing_overlap_hours(1000, 2500, 0, H), 1500.0 / H), "milliseconds");
}

static double cost_of(struct db *db, int64_t from, int64_t to, const char *by, const char *key)
{
    struct kerr e = {0};
    json_t *r = billing_cost_report(db, from, to, by, NULL, &e);
    double c = -1;
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(r, "rows"), i, row)
    {
        if (key && strcmp(json_string_value(json_object_get(row, "key")), key) == 0)
            c = json_real_value(json_object_get(row, "cost"));
    }
    if (!key) c = json_real_value(json_object_get(r, "total"));
    json_decref(r);
    return c;
}

static void states(void)
{
    char err[256];
    struct db *db = open_temp_db(err, sizeof(err));
    CHECK(db != NULL, "%s", err);
    if (!db) return;
    db_exec(db, "INSERT INTO groups (id, name, location, created_ms) VALUES (1, 'g', 'local', 0)",
            "");
    db_exec(db,
            "INSERT INTO sizes (id, name, family, vcpus, mem_mib, max_data_disks, max_iops,"
            " price_hour, created_ms) VALUES (1, 'S1', 'S', 1, 256, 2, 0, 0.10, 0),"
            " (2, 'S2', 'S', 2, 512, 2, 0, 0.20, 0)",
            "");
    db_exec(db,
            "INSERT INTO images (id, name, boot_mode, kernel_args, src_format, path, source,"
            " state, created_ms) VALUES (1, 'i', 'direct', '', 'raw', '', '', 'Succeeded', 0)",
            "");
    db_exec(db,
            "INSERT INTO vms (id, group_id, name, size_id, vcpus, mem_mib, image_id,"
            " prov_state, power_state, created_ms, updated_ms)"
            " VALUES (1, 1, 'vm', 1, 1, 256, 1, 'Creating', 'Creating', 0, 0)",
            "");
    /* t=0 created (not billed), 1h starting, 1h+10s running, 3h stopped (billed),
     * 4h deallocating, 4h+5s deallocated, 5h started, 6h resized to S2, 7h delete */
    CHECK(vm_set_state(db, 1, NULL, NULL, "created", 0) == 0, "created");
    CHECK(db_int(db, NULL, -1, "SELECT count(*) FROM usage", "") == 0, "Creating is not billed");
    vm_set_state(db, 1, PS_STARTING, NULL, "start", H);
    vm_set_state(db, 1, PS_RUNNING, PV_SUCCEEDED, "running", H + 10000);
    CHECK(db_int(db, NULL, -1, "SELECT count(*) FROM usage WHERE end_ms IS NULL", "") == 1,
          "one open record through Starting -> Running");
    vm_set_state(db, 1, PS_STOPPING, NULL, "stop", 3 * H - 1000);
    vm_set_state(db, 1, PS_STOPPED, NULL, "stopped", 3 * H);
    vm_set_state(db, 1, PS_DEALLOCATING, NULL, "deallocate", 4 * H);
    vm_set_state(db, 1, PS_DEALLOCATED, NULL, "deallocated", 4 * H + 5000);
    vm_set_state(db, 1, PS_STARTING, NULL, "start", 5 * H);
    vm_set_state(db, 1, PS_RUNNING, NULL, "running", 5 * H + 1);
    db_exec(db, "UPDATE vms SET size_id = 2 WHERE id = 1", "");
    vm_note(db, 1, "resized", 6 * H);
    billing_vm_sync(db, 1, false, 7 * H);
    CHECK(db_int(db, NULL, -1, "SELECT count(*) FROM usage", "") == 3, "records: %lld",
          (long long)db_int(db, NULL, -1, "SELECT count(*) FROM usage", ""));
    CHECK(db_int(db, NULL, -1, "SELECT count(*) FROM usage WHERE end_ms IS NULL", "") == 0,
          "all closed");
    /* billed: 1h..4h at 0.10 (3 h), 5h..6h at 0.10 (1 h), 6h..7h at 0.20 (1 h) */
    double total = cost_of(db, 0, 8 * H, "vm", NULL);
    CHECK(NEAR(total, 3 * 0.10 + 0.10 + 0.20), "total %.12f", total);
    CHECK(NEAR(cost_of(db, 0, 8 * H, "meter", "VM S1"), 0.40), "S1 meter");
    CHECK(NEAR(cost_of(db, 0, 8 * H, "meter", "VM S2"), 0.20), "S2 meter");
    CHECK(NEAR(cost_of(db, 2 * H, 5 * H + H / 2, "resourceGroup", "g"), 2 * 0.10 + 0.05),
          "window cuts records");
    CHECK(NEAR(cost_of(db, 0, 8 * H, "vm", "g/virtualMachine/vm"), 0.60), "by vm");
    /* history agrees with the records to the millisecond */
    int64_t billed_ms = db_int(db, NULL, -1, "SELECT sum(end_ms - start_ms) FROM usage", "");
    CHECK(billed_ms == 5 * H, "billed %lld ms", (long long)billed_ms);
    db_close(db);
}

static void disks_and_ips(void)
{
    char err[256];
    struct db *db = open_temp_db(err, sizeof(err));
    if (!db) return;
    db_exec(db, "INSERT INTO groups (id, name, location, created_ms) VALUES (1, 'g', 'local', 0)",
            "");
    db_exec(db,
            "INSERT INTO disks (id, group_id, name, tier, size_gib, state, created_ms)"
            " VALUES (1, 1, 'd', 'Premium_SSD', 5, 'Succeeded', 0)",
            "");
    CHECK(billing_disk_sync(db, 1, true, 0) == 0, "disk meter");
    char meter[96] = "";
    db_text(db, meter, sizeof(meter), "SELECT meter FROM usage", "");
    CHECK(!strcmp(meter, "Disk Premium_SSD P2"), "5 GiB bills as P2 (8 GiB): %s", meter);
    int64_t month = (int64_t)(CATALOG_HOURS_PER_MONTH * H);
    double c = cost_of(db, 0, month, "meter", "Disk Premium_SSD P2");
    CHECK(NEAR(c, 8 * catalog_disk_price(DISK_TIER_PREMIUM_SSD)), "a month of 8 GiB: %f", c);
    db_exec(db, "UPDATE disks SET size_gib = 100 WHERE id = 1", "");
    billing_disk_sync(db, 1, true, month);
    billing_disk_sync(db, 1, false, 2 * month);
    c = cost_of(db, 0, 3 * month, "vm", "g/disk/d");
    CHECK(NEAR(c, (8 + 128) * 0.15), "grown to 100 GiB bills as P10 (128): %f", c);
    db_exec(db, "INSERT INTO public_ips (id, group_id, name, created_ms) VALUES (1, 1, 'ip', 0)",
            "");
    billing_pip_sync(db, 1, true, 0);
    billing_pip_sync(db, 1, false, 10 * H);
    CHECK(NEAR(cost_of(db, 0, 10 * H, "meter", "Public IP"), 10 * CATALOG_PUBLIC_IP_HOUR),
          "ip hours");
    db_close(db);
}

int main(void)
{
    overlap();
    states();
    disks_and_ips();
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
