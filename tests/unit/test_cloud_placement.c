/*
 * test_cloud_placement.c - capacity arithmetic and host choice
 * (src/cloud/placement.c): allocation ratios, the host reserve, what the
 * refusal message says, and placement_choose against a real (in-memory)
 * database, including that reservations add up and never oversubscribe.
 */
#include "cloud/db.h"
#include "cloud/placement.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "check.h"

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

static void math(void)
{
    struct host_cap h = {
        .cpus = 2, .mem_mib = 24105, .reserved_mib = 2410, .cpu_ratio = 4.0, .ram_ratio = 1.0};
    CHECK(placement_cap_vcpus(&h) == 8, "2 cores x 4.0 = 8 vCPUs");
    CHECK(placement_cap_mib(&h) == 21695, "memory minus reserve: %lld",
          (long long)placement_cap_mib(&h));
    CHECK(placement_fits(&h, 8, 21695), "exactly full fits");
    CHECK(!placement_fits(&h, 9, 1), "one vCPU too many");
    CHECK(!placement_fits(&h, 1, 21696), "one MiB too many");
    h.used_vcpus = 7;
    h.used_mib = 21000;
    CHECK(placement_fits(&h, 1, 695) && !placement_fits(&h, 2, 1), "what is left");
    h.cpu_ratio = 1.5;
    h.cpus = 3;
    CHECK(placement_cap_vcpus(&h) == 4, "3 x 1.5 = 4.5 -> 4");
    h.cpus = 2;
    CHECK(placement_cap_vcpus(&h) == 3, "2 x 1.5 = 3 exactly (no floating-point loss)");
    h.cpus = 10;
    h.cpu_ratio = 0.1;
    CHECK(placement_cap_vcpus(&h) == 1, "10 x 0.1 = 1");
    h.reserved_mib = 30000;
    CHECK(placement_cap_mib(&h) == 0, "a reserve above the memory leaves nothing, not a negative");

    struct host_cap g = {.cpus = 2,
                         .mem_mib = 4096,
                         .reserved_mib = 512,
                         .cpu_ratio = 4.0,
                         .ram_ratio = 1.0,
                         .used_vcpus = 5,
                         .used_mib = 3000};
    char msg[256];
    placement_describe("box", &g, 8, 1024, msg, sizeof(msg));
    CHECK(strstr(msg, "host box has 3 of 8 vCPUs and 584 of 3584 MiB free") != NULL, "%s", msg);
    CHECK(strstr(msg, "vCPUs short by 5") && strstr(msg, "memory short by 440 MiB"), "%s", msg);
    placement_describe("box", &g, 1, 1, msg, sizeof(msg));
    CHECK(!strstr(msg, "short"), "nothing short: %s", msg);
}

static void database(void)
{
    char err[256];
    struct db *db = open_temp_db(err, sizeof(err));
    CHECK(db != NULL, "open: %s", err);
    if (!db) return;
    CHECK(db_schema_version(db) == db_migration_count, "migrated");
    db_exec(db,
            "INSERT INTO hosts (id, name, location, cpus, mem_mib, cpu_ratio, ram_ratio,"
            " reserved_mib, created_ms) VALUES (1, 'box', 'local', 2, 2048, 4.0, 1.0, 512, 0)",
            "");
    db_exec(db, "INSERT INTO groups (id, name, location, created_ms) VALUES (1, 'g', 'local', 0)",
            "");
    db_exec(db,
            "INSERT INTO sizes (id, name, family, vcpus, mem_mib, max_data_disks, max_iops,"
            " price_hour, created_ms) VALUES (1, 'T', 'T', 1, 256, 2, 0, 0.01, 0)",
            "");
    db_exec(db,
            "INSERT INTO images (id, name, boot_mode, kernel_args, src_format, path, source,"
            " state, created_ms) VALUES (1, 'i', 'direct', '', 'raw', '', '', 'Succeeded', 0)",
            "");
    /* 1536 MiB / 256 = 6 VMs by memory, 8 by vCPUs: the 7th is refused */
    int placed = 0;
    struct kerr e = {0};
    for (int i = 0; i < 10; i++) {
        int64_t host = placement_choose(db, "T", 1, 256, 0, &e);
        if (host < 0) break;
        char name[16];
        snprintf(name, sizeof(name), "vm%d", i);
        db_exec(db,
                "INSERT INTO vms (group_id, name, size_id, vcpus, mem_mib, image_id, host_id,"
                " prov_state, power_state, created_ms, updated_ms)"
                " VALUES (1, ?, 1, 1, 256, 1, ?, 'Succeeded', 'Running', 0, 0)",
                "ti", name, host);
        placed++;
    }
    CHECK(placed == 6, "placed %d, want 6", placed);
    CHECK(e.status == 409 && !strcmp(e.code, "CapacityExceeded"), "refusal: %d %s", e.status,
          e.code);
    CHECK(strstr(e.message, "size T (1 vCPUs, 256 MiB)") &&
              strstr(e.message, "memory short by 256 MiB"),
          "%s", e.message);
    struct host_cap h;
    CHECK(placement_load(db, 1, 0, &h) == 0 && h.used_vcpus == 6 && h.used_mib == 1536 &&
              h.vms == 6,
          "allocations add up");
    /* resizing vm0 in place: its own reservation does not count against it */
    int64_t vm0 = db_int(db, NULL, -1, "SELECT id FROM vms WHERE name = 'vm0'", "");
    e = (struct kerr){0};
    CHECK(placement_choose(db, "T", 1, 256, vm0, &e) == 1, "same size fits when excluding itself");
    CHECK(placement_choose(db, "T2", 2, 512, vm0, &e) < 0, "a bigger one does not");
    /* deallocated VMs hold nothing */
    db_exec(db, "UPDATE vms SET host_id = NULL WHERE name IN ('vm1', 'vm2')", "");
    e = (struct kerr){0};
    CHECK(placement_choose(db, "T", 1, 512, 0, &e) == 1, "freed memory is placeable again");
    db_close(db);
}

/* Dedicated VMs: whole cores, never core 0, out of the shared pool. */
static void dedicated_math(void)
{
    struct host_cap h = {
        .cpus = 4, .mem_mib = 8192, .reserved_mib = 0, .cpu_ratio = 4.0, .ram_ratio = 1.0};
    uint64_t c;
    CHECK(placement_fits_dedicated(&h, 2, 1024, &c) && c == 0xc, "takes the top cores: %#llx",
          (unsigned long long)c);
    h.dedicated_cores = c;
    CHECK(placement_cap_vcpus(&h) == 8, "2 shared cores x 4 = 8 vCPUs, got %lld",
          (long long)placement_cap_vcpus(&h));
    CHECK(placement_shared_cores(&h) == 0x3, "shared VMs run on cores 0-1");
    CHECK(placement_fits_dedicated(&h, 1, 1024, &c) && c == 0x2, "next: core 1");
    CHECK(!placement_fits_dedicated(&h, 2, 1024, &c) && c == 0, "core 0 is never dedicated");
    /* shared VMs already placed must keep fitting */
    h.used_vcpus = 5;
    CHECK(!placement_fits_dedicated(&h, 1, 1024, &c), "5 shared vCPUs need 2 cores at 4.0");
    h.used_vcpus = 4;
    CHECK(!placement_fits_dedicated(&h, 1, 9000, &c), "memory still counts");
    CHECK(placement_fits_dedicated(&h, 1, 1024, &c), "4 shared vCPUs fit on core 0");
    h.dedicated_cores |= c;
    CHECK(placement_fits(&h, 0, 0) && !placement_fits(&h, 1, 0), "shared pool: 4 of 4 used");
    /* a single-core host has nothing to dedicate */
    struct host_cap one = {.cpus = 1, .mem_mib = 4096, .cpu_ratio = 4.0, .ram_ratio = 1.0};
    CHECK(!placement_fits_dedicated(&one, 1, 256, &c), "one core: no dedicated VMs");
    char buf[64];
    placement_format_cores(0x2e, buf, sizeof(buf));
    CHECK(!strcmp(buf, "1-3,5"), "format: %s", buf);
    CHECK(placement_parse_cores("1-3,5", &c) && c == 0x2e, "parse 1-3,5");
    CHECK(placement_parse_cores("0", &c) && c == 1, "parse 0");
    CHECK(!placement_parse_cores("", &c) && !placement_parse_cores("1-", &c) &&
              !placement_parse_cores("64", &c) && !placement_parse_cores("2,", &c) &&
              !placement_parse_cores("3-1", &c),
          "bad lists are refused");
}

static void dedicated_database(void)
{
    char err[256];
    struct db *db = open_temp_db(err, sizeof(err));
    CHECK(db != NULL, "open: %s", err);
    if (!db) return;
    db_exec(db,
            "INSERT INTO hosts (id, name, location, cpus, mem_mib, cpu_ratio, ram_ratio,"
            " reserved_mib, created_ms) VALUES (1, 'box', 'local', 3, 8192, 2.0, 1.0, 0, 0)",
            "");
    db_exec(db, "INSERT INTO groups (id, name, location, created_ms) VALUES (1, 'g', 'local', 0)",
            "");
    db_exec(db,
            "INSERT INTO sizes (id, name, family, vcpus, mem_mib, max_data_disks, max_iops,"
            " price_hour, created_ms) VALUES (1, 'T', 'T', 1, 256, 2, 0, 0.01, 0)",
            "");
    db_exec(db,
            "INSERT INTO images (id, name, boot_mode, kernel_args, src_format, path, source,"
            " state, created_ms) VALUES (1, 'i', 'direct', '', 'raw', '', '', 'Succeeded', 0)",
            "");
    struct kerr e = {0};
    char cores[64] = "";
    int64_t host = placement_choose_vm(db, "T", 1, 256, 0, true, cores, sizeof(cores), &e);
    CHECK(host == 1 && !strcmp(cores, "2"), "first dedicated VM gets core 2: %s", cores);
    db_exec(db,
            "INSERT INTO vms (group_id, name, size_id, vcpus, mem_mib, image_id, host_id,"
            " prov_state, power_state, created_ms, updated_ms, dedicated, host_cpus)"
            " VALUES (1, 'd1', 1, 1, 256, 1, 1, 'Succeeded', 'Running', 0, 0, 1, ?)",
            "t", cores);
    host = placement_choose_vm(db, "T", 1, 256, 0, true, cores, sizeof(cores), &e);
    CHECK(host == 1 && !strcmp(cores, "1"), "second gets core 1: %s", cores);
    db_exec(db,
            "INSERT INTO vms (group_id, name, size_id, vcpus, mem_mib, image_id, host_id,"
            " prov_state, power_state, created_ms, updated_ms, dedicated, host_cpus)"
            " VALUES (1, 'd2', 1, 1, 256, 1, 1, 'Succeeded', 'Running', 0, 0, 1, ?)",
            "t", cores);
    e = (struct kerr){0};
    CHECK(placement_choose_vm(db, "T", 1, 256, 0, true, cores, sizeof(cores), &e) < 0 &&
              e.status == 409 && strstr(e.message, "dedicated") &&
              strstr(e.message, "0 of 2 cores free for dedicated VMs"),
          "third is refused: %s", e.message);
    /* the shared pool is core 0 at 2.0: two shared vCPUs, not a third */
    struct host_cap h;
    CHECK(placement_load(db, 1, 0, &h) == 0 && h.dedicated_cores == 0x6 && h.used_vcpus == 0,
          "dedicated cores add up: %#llx", (unsigned long long)h.dedicated_cores);
    for (int i = 0; i < 2; i++) {
        e = (struct kerr){0};
        CHECK(placement_choose(db, "T", 1, 256, 0, &e) == 1, "shared VM %d fits", i);
        char name[16];
        snprintf(name, sizeof(name), "s%d", i);
        db_exec(db,
                "INSERT INTO vms (group_id, name, size_id, vcpus, mem_mib, image_id, host_id,"
                " prov_state, power_state, created_ms, updated_ms)"
                " VALUES (1, ?, 1, 1, 256, 1, 1, 'Succeeded', 'Running', 0, 0)",
                "t", name);
    }
    e = (struct kerr){0};
    CHECK(placement_choose(db, "T", 1, 256, 0, &e) < 0 && strstr(e.message, "0 of 2 vCPUs"),
          "third shared VM is refused: %s", e.message);
    /* deallocating a dedicated VM gives its core back to the shared pool */
    db_exec(db, "UPDATE vms SET host_id = NULL, host_cpus = NULL WHERE name = 'd2'", "");
    e = (struct kerr){0};
    CHECK(placement_choose(db, "T", 1, 256, 0, &e) == 1, "core 1 is shared again");
    /* re-allocating d1 (its own cores do not count against it) */
    int64_t d1 = db_int(db, NULL, -1, "SELECT id FROM vms WHERE name = 'd1'", "");
    CHECK(placement_choose_vm(db, "T", 1, 256, d1, true, cores, sizeof(cores), &e) == 1 &&
              !strcmp(cores, "2"),
          "d1 fits again on core 2: %s", cores);
    db_close(db);
}

int main(void)
{
    math();
    database();
    dedicated_math();
    dedicated_database();
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
