/*
 * cloud_fixture.h - a kumod for the cloud's unit tests (src/cloud's
 * library, everything but main.c): a temporary data directory, an in-memory
 * database with one host (4 cores, 8 GiB, ratios 1.0), two sizes ("Small":
 * 1 vCPU, 512 MiB, 2 data disks; "Big": 8 vCPUs, more than the host has),
 * resource group "rg" and a ready image "default" (a 64 MiB qcow2 made
 * here), the state lock, a job queue running the test's functions, the VM
 * supervisor, and no kumo-switch (the user-mode NAT fallback). No guest
 * boots: kumo-vmm is cfg.vmm_path, the test's own program when it starts
 * VMs (tests/unit/fake_vmm.c).
 *
 * Static functions only: each test program includes it once.
 */
#ifndef KUMO_TESTS_UNIT_CLOUD_FIXTURE_H
#define KUMO_TESTS_UNIT_CLOUD_FIXTURE_H

#include "cloud/db.h"
#include "cloud/diskops.h"
#include "cloud/jobs.h"
#include "cloud/kumod.h"
#include "cloud/paths.h"
#include "cloud/runcmd.h"
#include "cloud/supervisor.h"
#include "cloud/timefmt.h"
#include "cloud/vmops.h"
#include "storage/disk.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"

struct fixture {
    struct kumod k;
    char dir[64];
    int64_t group; /* "rg" */
};

/* ---- jobs the tests record instead of running ---- */

static pthread_mutex_t recorded_mu = PTHREAD_MUTEX_INITIALIZER;
static int64_t recorded[1024];
static int nrecorded;

static inline void record_job(struct kumod *k, int64_t id)
{
    (void)k;
    pthread_mutex_lock(&recorded_mu);
    if (nrecorded < 1024) recorded[nrecorded++] = id;
    pthread_mutex_unlock(&recorded_mu);
}

/* Was a job for id run (within a few seconds: the queue is a thread)? */
static inline bool job_recorded(int64_t id)
{
    for (int tries = 0; tries < 500; tries++) {
        pthread_mutex_lock(&recorded_mu);
        bool found = false;
        for (int i = 0; i < nrecorded && !found; i++)
            found = recorded[i] == id;
        pthread_mutex_unlock(&recorded_mu);
        if (found) return true;
        usleep(10000);
    }
    return false;
}

static const job_fn record_only[JOB_KINDS] = {record_job, record_job, record_job, record_job};

/* ---- the fixture ---- */

/* Host ports [lo, lo + n) that nothing holds now (for public IPs). */
static inline int free_port_window(int n)
{
    for (int base = 40000 + (getpid() % 200) * 100; base < 60000; base += 100) {
        int ok = 1;
        for (int p = base; p < base + n && ok; p++) {
            int s = socket(AF_INET, SOCK_STREAM, 0);
            struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p)};
            sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            ok = s >= 0 && bind(s, (struct sockaddr *)&sa, sizeof(sa)) == 0;
            if (s >= 0) close(s);
        }
        if (ok) return base;
    }
    return 40000;
}

/* Count the files in the data directory's subdirectory sub. */
static inline int files_in(struct fixture *f, const char *sub)
{
    char p[PATH_MAX];
    DIR *d = opendir(path_in_data(&f->k, p, sub));
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += e->d_name[0] != '.';
    if (d) closedir(d);
    return n;
}

static inline int64_t count(struct fixture *f, const char *sql)
{
    return db_int(f->k.db, NULL, -1, sql, "");
}

/* The real job functions: VMs' operations run (with cfg.vmm_path). */
static const job_fn real_jobs[JOB_KINDS] = {vmops_run, diskops_import_image, diskops_take_snapshot,
                                            runcmd_run};

/* run: the job functions (record_only, or real_jobs); supervise: start the
 * VM supervisor (needed by vmops_run). false on failure. */
static inline bool fixture_start(struct fixture *f, const job_fn run[JOB_KINDS], bool supervise)
{
    memset(f, 0, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/kumo-test-cloud-XXXXXX");
    if (!mkdtemp(f->dir)) return false;
    struct kumod_config *c = &f->k.cfg;
    snprintf(c->data_dir, sizeof(c->data_dir), "%s", f->dir);
    snprintf(c->public_address, sizeof(c->public_address), "127.0.0.1");
    snprintf(c->switch_path, sizeof(c->switch_path), "none");
    c->port_lo = free_port_window(100);
    c->port_hi = c->port_lo + 99;
    c->stop_timeout = 5;
    c->shutdown_timeout = 0;
    c->metrics_interval = 10;
    c->metrics_retention = 86400;
    c->autoscale_interval = 3600;
    c->workers = 2;
    static const char *const subdirs[] = {"images", "disks", "snapshots", "vms"};
    char p[PATH_MAX], err[512];
    for (size_t i = 0; i < 4; i++)
        if (path_mkdirs(path_in_data(&f->k, p, subdirs[i])) < 0) return false;
    if (kumod_lock_init(&f->k) < 0) return false;
    f->k.db = db_open(":memory:", err, sizeof(err));
    CHECK(f->k.db != NULL, "in-memory database: %s", err);
    if (!f->k.db) return false;
    struct db *db = f->k.db;
    int64_t now = time_now_ms();
    db_exec(db,
            "INSERT INTO hosts (name, location, cpus, mem_mib, cpu_ratio, ram_ratio, reserved_mib,"
            " created_ms) VALUES ('box', 'local', 4, 8192, 1.0, 1.0, 0, ?)",
            "i", now);
    f->k.host_id = db_last_id(db); /* this host, which leads (single-host mode) */
    atomic_store(&f->k.leader, true);
    db_exec(db,
            "INSERT INTO sizes (name, family, vcpus, mem_mib, max_data_disks, max_iops, price_hour,"
            " created_ms) VALUES ('Small', 'B', 1, 512, 2, 0, 0.01, ?),"
            " ('Big', 'D', 8, 512, 2, 0, 0.1, ?)",
            "ii", now, now);
    db_exec(db, "INSERT INTO groups (name, location, created_ms) VALUES ('rg', 'local', ?)", "i",
            now);
    f->group = db_int(db, NULL, -1, "SELECT id FROM groups WHERE name = 'rg'", "");
    /* the image: a qcow2 file and a kernel that nothing reads */
    char img[PATH_MAX], kernel[PATH_MAX];
    db_exec(
        db,
        "INSERT INTO images (name, boot_mode, kernel, kernel_args, src_format, path,"
        " size_bytes, source, state, created_ms) VALUES ('default', 'direct', ?, 'console=ttyS0',"
        " 'qcow2', '', ?, 'test', 'Succeeded', ?)",
        "tii", path_in_data(&f->k, kernel, "Image"), (int64_t)64 << 20, now);
    int64_t image = db_last_id(db);
    path_mkdirs(path_image_dir(&f->k, p, image));
    path_image_file(&f->k, img, image, "disk.qcow2");
    db_exec(db, "UPDATE images SET path = ? WHERE id = ?", "ti", img, image);
    FILE *kf = fopen(kernel, "w");
    if (kf) fclose(kf);
    if (disk_create(img, "qcow2", (uint64_t)64 << 20, NULL, NULL, 0, err, sizeof(err)) < 0) {
        CHECK(0, "image: %s", err);
        return false;
    }
    if (supervise) {
        f->k.sup = supervisor_start(&f->k, err, sizeof(err));
        if (!f->k.sup) return false;
    }
    f->k.jobs = jobs_start(&f->k, c->workers, run);
    return f->k.jobs != NULL;
}

/* A fixture whose VMs run: kumo-vmm is the stand-in named by argv[1]
 * (tests/unit/fake_vmm.c). false (with a message) on failure. */
static inline bool fixture_start_vms(struct fixture *f, int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FAKE_VMM\n", argv[0]);
        return false;
    }
    if (!fixture_start(f, real_jobs, true)) {
        printf("fixture failed\n");
        return false;
    }
    snprintf(f->k.cfg.vmm_path, sizeof(f->k.cfg.vmm_path), "%s", argv[1]);
    return true;
}

static inline void fixture_stop(struct fixture *f)
{
    /* no kumo-vmm stand-in of the test outlives it */
    kumod_lock(&f->k);
    sqlite3_stmt *st = db_stmt(f->k.db, "SELECT pid FROM vms WHERE pid IS NOT NULL", "");
    while (st && sqlite3_step(st) == SQLITE_ROW)
        kill((pid_t)sqlite3_column_int64(st, 0), SIGKILL);
    sqlite3_finalize(st);
    kumod_unlock(&f->k);
    jobs_stop(f->k.jobs);
    supervisor_stop(f->k.sup);
    db_close(f->k.db);
    kumod_lock_destroy(&f->k);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    if (system(cmd) != 0) printf("could not remove %s\n", f->dir);
}

/* Wait (without the lock) until sql, run under the lock, counts want rows;
 * false after timeout_ms. */
static inline bool wait_count(struct fixture *f, const char *sql, int64_t want, int timeout_ms)
{
    int64_t deadline = time_mono_ms() + timeout_ms;
    for (;;) {
        kumod_lock(&f->k);
        int64_t n = count(f, sql);
        kumod_unlock(&f->k);
        if (n == want) return true;
        if (time_mono_ms() > deadline) {
            printf("  waited %d ms for %s = %lld (it is %lld)\n", timeout_ms, sql, (long long)want,
                   (long long)n);
            return false;
        }
        usleep(20000);
    }
}

#endif
