/*
 * vmops.c - a VM's operations carried out: building kumo-vmm's command line
 * from the database, starting and stopping it through the supervisor,
 * walking the power states, deleting what the VM owns; and recovery at
 * start (see vmops.h).
 */
#include "cloud/vmops.h"

#include "cloud/billing.h"
#include "cloud/credits.h"
#include "cloud/db.h"
#include "cloud/guestprov.h"
#include "cloud/jobs.h"
#include "cloud/kumod.h"
#include "cloud/lb.h"
#include "cloud/netplane.h"
#include "cloud/paths.h"
#include "cloud/placement.h"
#include "cloud/state.h"
#include "cloud/supervisor.h"
#include "cloud/timefmt.h"
#include "cloud/vmm_client.h"
#include "lib/log.h"
#include "storage/tiers.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FIRMWARE_BIOS    "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin"
#define FIRMWARE_UBOOT   "/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin"
#define START_TIMEOUT_MS 15000
#define STATE_FILE       "hibernation.state" /* a hibernated VM's saved state */
#define SAVE_TIMEOUT_MS  600000              /* a save writes all of a VM's memory */

static void add(json_t *argv, const char *s)
{
    json_array_append_new(argv, json_string(s));
}

static void addf(json_t *argv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void addf(json_t *argv, const char *fmt, ...)
{
    char buf[PATH_MAX + 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    add(argv, buf);
}

/* ",iops=N,bps=N[,iops_max=N,iops_max_length=S][,bps_max=...]": a tier's
 * limits, burst included, as kumo-vmm's --disk takes them ("" if none). */
static void disk_limit_args(const struct ratelimit_rates *r, char *out, size_t len)
{
    size_t n = 0;
    out[0] = 0;
#define LIMIT(field)                                                                               \
    if (r->field && n < len)                                                                       \
        n += (size_t)snprintf(out + n, len - n, ",%s=%" PRIu64, #field, r->field);
    LIMIT(iops)
    LIMIT(bps)
    LIMIT(iops_max)
    LIMIT(iops_max_length)
    LIMIT(bps_max)
    LIMIT(bps_max_length)
#undef LIMIT
}

/* The host cores shared VMs run on, as a CPU list ("" when no core of the
 * host is dedicated, so that shared VMs may run anywhere). */
static void shared_cpus(struct kumod *k, int64_t host, char *buf, size_t len)
{
    struct host_cap cap;
    buf[0] = 0;
    if (placement_load(k->db, host, 0, &cap) == 0 && cap.dedicated_cores)
        placement_format_cores(placement_shared_cores(&cap), buf, len);
}

/* --cpu-cap (a B-series VM held to its baseline) and --cpu-affinity (its
 * reserved cores for a dedicated VM; the unreserved ones for the others). */
static void cpu_args(struct kumod *k, int64_t vm, json_t *argv)
{
    sqlite3_stmt *st = db_stmt(k->db,
                               "SELECT v.dedicated, v.host_cpus, coalesce(v.host_id, 0),"
                               " v.cpu_capped, s.burst FROM vms v JOIN sizes s ON s.id = v.size_id"
                               " WHERE v.id = ?",
                               "i", vm);
    if (!st || sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return;
    }
    char cpus[256] = "";
    if (sqlite3_column_int(st, 0) && !db_col_null(st, 1))
        snprintf(cpus, sizeof(cpus), "%s", db_col_text(st, 1));
    else
        shared_cpus(k, sqlite3_column_int64(st, 2), cpus, sizeof(cpus));
    if (cpus[0]) {
        add(argv, "--cpu-affinity");
        add(argv, cpus);
    }
    struct credit_policy p;
    if (sqlite3_column_int(st, 3) &&
        credits_policy_parse(db_col_null(st, 4) ? NULL : db_col_text(st, 4), &p)) {
        add(argv, "--cpu-cap");
        addf(argv, "%g", p.baseline_pct);
    }
    sqlite3_finalize(st);
}

/* After a dedicated VM took or gave back cores: move the running shared
 * VMs of its host onto the cores now shared (without the lock). */
static void refresh_shared_affinity(struct kumod *k, int64_t host)
{
    char cpus[256];
    int64_t vms[64];
    int n = 0;
    kumod_lock(k);
    shared_cpus(k, host, cpus, sizeof(cpus));
    if (!cpus[0]) { /* nothing dedicated: every core */
        struct host_cap cap;
        if (placement_load(k->db, host, 0, &cap) == 0)
            placement_format_cores(placement_shared_cores(&cap), cpus, sizeof(cpus));
    }
    sqlite3_stmt *st = db_stmt(k->db,
                               "SELECT id FROM vms WHERE host_id = ? AND dedicated = 0"
                               " AND pid IS NOT NULL",
                               "i", host);
    while (st && n < 64 && sqlite3_step(st) == SQLITE_ROW)
        vms[n++] = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    kumod_unlock(k);
    if (!cpus[0] || !k->vmm_has_control) return;
    for (int i = 0; i < n; i++) {
        char sock[PATH_MAX], err[256];
        json_t *req = json_pack("{s:s,s:s}", "op", "set_cpu", "affinity", cpus);
        json_t *r =
            vmm_request(path_vm_file(k, sock, vms[i], "control.sock"), req, 2000, err, sizeof(err));
        json_decref(req);
        if (!r) log_warn("VM %" PRId64 ": cannot move it to host CPUs %s: %s", vms[i], cpus, err);
        json_decref(r);
    }
}

/* A stopped dedicated VM gives its cores back to the shared VMs, before its
 * deallocation or deletion is reported done (without the lock). */
static void release_cores(struct kumod *k, int64_t vm, int64_t host)
{
    kumod_lock(k);
    if (db_exec(k->db, "UPDATE vms SET host_cpus = NULL WHERE id = ?", "i", vm) < 0)
        log_warn("VM %" PRId64 ": %s", vm, db_errmsg(k->db));
    kumod_unlock(k);
    refresh_shared_affinity(k, host);
}

/* kumo-vmm's argv for vm (under the lock). */
static json_t *build_argv(struct kumod *k, int64_t vm, char *err, size_t errlen)
{
    struct db *db = k->db;
    sqlite3_stmt *st =
        db_stmt(db,
                "SELECT v.name, v.vcpus, v.mem_mib, i.boot_mode, i.kernel, i.initrd,"
                " i.kernel_args, s.max_iops FROM vms v JOIN images i ON i.id = v.image_id"
                " JOIN sizes s ON s.id = v.size_id WHERE v.id = ?",
                "i", vm);
    if (!st || sqlite3_step(st) != SQLITE_ROW) {
        snprintf(err, errlen, "the VM is gone");
        sqlite3_finalize(st);
        return NULL;
    }
    json_t *argv = json_array();
    char dir[PATH_MAX];
    path_vm_dir(k, dir, vm);
    add(argv, k->cfg.vmm_path);
    if (strcmp(db_col_text(st, 3), "firmware") == 0) {
        add(argv, "--bios");
        add(argv, FIRMWARE_BIOS);
        add(argv, "--kernel");
        add(argv, FIRMWARE_UBOOT);
    } else {
        add(argv, "--kernel");
        add(argv, db_col_text(st, 4));
        if (!db_col_null(st, 5)) {
            add(argv, "--initrd");
            add(argv, db_col_text(st, 5));
        }
        add(argv, "--append");
        addf(argv, "%s kumo.hostname=%s", db_col_text(st, 6), db_col_text(st, 0));
    }
    add(argv, "--cpus");
    addf(argv, "%" PRId64, (int64_t)sqlite3_column_int64(st, 1));
    add(argv, "--mem");
    addf(argv, "%" PRId64, (int64_t)sqlite3_column_int64(st, 2));
    int64_t cap = sqlite3_column_int64(st, 7);
    sqlite3_finalize(st);
    cpu_args(k, vm, argv);

    st = db_stmt(db,
                 "SELECT id, tier, size_gib, os_disk, lun, caching FROM disks WHERE vm_id = ?"
                 " ORDER BY os_disk DESC, lun",
                 "i", vm);
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        char path[PATH_MAX];
        int64_t id = sqlite3_column_int64(st, 0);
        enum disk_tier t = DISK_TIER_STANDARD_SSD;
        disk_tier_parse(db_col_text(st, 1), &t);
        const struct disk_tier_size *o = disk_tier_lookup(t, (uint64_t)sqlite3_column_int64(st, 2));
        struct ratelimit_rates r = {0};
        if (o) disk_tier_rates(o, cap > 0 ? (uint64_t)cap : 0, &r);
        char serial[32];
        if (sqlite3_column_int(st, 3))
            snprintf(serial, sizeof(serial), "kumo-os");
        else
            snprintf(serial, sizeof(serial), "kumo-lun%" PRId64,
                     (int64_t)sqlite3_column_int64(st, 4));
        add(argv, "--disk");
        char limits[256];
        disk_limit_args(&r, limits, sizeof(limits));
        enum disk_cache cache =
            disk_cache_effective(db_col_null(st, 5) ? NULL : db_col_text(st, 5),
                                 disk_tier_name(t), sqlite3_column_int(st, 3) != 0);
        addf(argv, "path=%s,format=qcow2,serial=%s,cache=%s%s", path_disk(k, path, id), serial,
             disk_cache_name(cache), limits);
    }
    sqlite3_finalize(st);
    if (guestprov_has_seed(k, vm)) { /* the NoCloud seed disk, last (guestprov.h) */
        char seed[PATH_MAX];
        add(argv, "--disk");
        addf(argv, "path=%s,format=raw,readonly=on,serial=kumo-seed",
             path_vm_file(k, seed, vm, GUESTPROV_SEED_FILE));
    }
    json_t *net = netplane_vm_args(k, vm, err, errlen);
    if (!net) {
        json_decref(argv);
        return NULL;
    }
    json_array_extend(argv, net);
    json_decref(net);
    if (db_int(db, NULL, 0, "SELECT hibernated_ms IS NOT NULL FROM vms WHERE id = ?", "i", vm)) {
        /* resume the hibernated VM where it was (docs/vmstate.md) */
        char state[PATH_MAX];
        add(argv, "--restore");
        add(argv, path_vm_file(k, state, vm, STATE_FILE));
    }
    /* its sandbox: a uid of its own (vmm/sandbox.h; docs/security.md) */
    unsigned uid, gid;
    if (kumod_vmm_ids(k, vm, &uid, &gid)) {
        add(argv, "--sandbox-uid");
        addf(argv, "%u", uid);
        add(argv, "--sandbox-gid");
        addf(argv, "%u", gid);
    }
    add(argv, "--console");
    addf(argv, "socket:%s/console.sock", dir);
    add(argv, "--console-log");
    addf(argv, "%s/console.log", dir);
    if (k->vmm_has_control) {
        add(argv, "--control");
        addf(argv, "%s/control.sock", dir);
    }
    return argv;
}

/* The end of vmm.log, for a failure message. */
static void log_tail(struct kumod *k, int64_t vm, char *out, size_t len)
{
    char path[PATH_MAX];
    out[0] = 0;
    int fd = open(path_vm_file(k, path, vm, "vmm.log"), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    off_t size = lseek(fd, 0, SEEK_END);
    off_t start = size > (off_t)len - 1 ? size - (off_t)len + 1 : 0;
    ssize_t n = pread(fd, out, len - 1, start);
    close(fd);
    if (n < 0) n = 0;
    out[n] = 0;
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
        out[--n] = 0;
    char *nl = strrchr(out, '\n'); /* the last lines are the useful ones */
    if (nl && strlen(nl + 1) > 20) memmove(out, nl + 1, strlen(nl + 1) + 1);
}

/* Commit a state change (and optionally clear the op). Lock held. */
static void set_state(struct kumod *k, int64_t vm, const char *power, const char *prov,
                      const char *msg, bool end_op)
{
    struct db *db = k->db;
    int64_t now = time_now_ms();
    int rc = db_begin(db);
    if (rc == 0 && end_op) rc = db_exec(db, "UPDATE vms SET op = NULL WHERE id = ?", "i", vm);
    if (rc == 0) rc = vm_set_state(db, vm, power, prov, msg, now);
    /* the states on the way are redone if lost; the end of an operation is not */
    if (rc == 0) rc = end_op ? db_commit(db) : db_commit_lazy(db);
    if (rc < 0) {
        db_rollback(db);
        log_error("VM %" PRId64 ": recording '%s': %s", vm, msg, db_errmsg(db));
    }
    kumod_changed(k);
}

static void fail_op(struct kumod *k, int64_t vm, const char *power, const char *code,
                    const char *msg)
{
    struct db *db = k->db;
    kumod_lock(k);
    int rc = db_begin(db);
    if (rc == 0)
        rc = db_exec(db, "UPDATE vms SET op = NULL, error_code = ?, error_msg = ? WHERE id = ?",
                     "tti", code, msg, vm);
    if (rc == 0) rc = vm_set_state(db, vm, power, PV_FAILED, msg, time_now_ms());
    if (rc == 0) rc = db_commit(db);
    if (rc < 0) db_rollback(db);
    kumod_changed(k);
    kumod_unlock(k);
    log_warn("VM %" PRId64 ": %s", vm, msg);
}

static void clear_pid(struct kumod *k, int64_t vm)
{
    db_exec(k->db, "UPDATE vms SET pid = NULL, pid_start = NULL, started_ms = NULL WHERE id = ?",
            "i", vm);
}

/* Start kumo-vmm unless it runs; wait until it answers. first: the VM's
 * first start (its create). 0 or -1 + err. */
static int start_vm(struct kumod *k, int64_t vm, bool first, char *err, size_t errlen)
{
    kumod_lock(k);
    bool running = supervisor_running(k->sup, vm, NULL);
    kumod_unlock(k);
    /* its seed disk, its NICs' old reports (guestprov.h) */
    if (!running && guestprov_prepare(k, vm, first, err, errlen) < 0) return -1;
    kumod_lock(k);
    if (supervisor_running(k->sup, vm, NULL)) {
        kumod_unlock(k);
        return 0;
    }
    char power[32] = "";
    db_text(k->db, power, sizeof(power), "SELECT power_state FROM vms WHERE id = ?", "i", vm);
    if (strcmp(power, PS_STARTING) != 0) set_state(k, vm, PS_STARTING, NULL, "starting", false);
    json_t *argv = build_argv(k, vm, err, errlen);
    kumod_unlock(k);
    if (!argv) return -1;

    char dir[PATH_MAX], logp[PATH_MAX];
    path_vm_dir(k, dir, vm);
    path_vm_file(k, logp, vm, "vmm.log");
    if (path_mkdirs(dir) < 0) {
        snprintf(err, errlen, "%.512s: %s", dir, strerror(errno));
        json_decref(argv);
        return -1;
    }
    size_t n = json_array_size(argv);
    char **av = calloc(n + 1, sizeof(*av));
    for (size_t i = 0; av && i < n; i++)
        av[i] = (char *)json_string_value(json_array_get(argv, i));
    pid_t pid = 0;
    uint64_t ticks = 0;
    int rc = av ? supervisor_spawn(k->sup, vm, av, logp, &pid, &ticks, err, errlen) : -1;
    free(av);
    json_decref(argv);
    if (rc < 0) return -1;

    kumod_lock(k);
    char msg[96];
    snprintf(msg, sizeof(msg), "kumo-vmm started (pid %d)", (int)pid);
    int64_t now = time_now_ms();
    if (db_begin(k->db) == 0 &&
        db_exec(k->db, "UPDATE vms SET pid = ?, pid_start = ?, started_ms = ? WHERE id = ?", "iiii",
                (int64_t)pid, (int64_t)ticks, now, vm) == 0 &&
        vm_note(k->db, vm, msg, now) == 0)
        db_commit_lazy(k->db); /* if lost, recovery finds the process by its command line */
    else
        db_rollback(k->db);
    kumod_unlock(k);

    /* Ready when the control socket answers (or, without one, when it is
     * still alive a moment later). */
    char sock[PATH_MAX];
    path_vm_file(k, sock, vm, "control.sock");
    int64_t deadline = time_mono_ms() + START_TIMEOUT_MS, alive_since = time_mono_ms();
    for (;;) {
        kumod_lock(k);
        bool alive = supervisor_running(k->sup, vm, NULL);
        kumod_unlock(k);
        if (!alive) break;
        if (k->vmm_has_control) {
            char e[256];
            json_t *req = json_pack("{s:s}", "op", "status");
            json_t *r = vmm_request(sock, req, 1000, e, sizeof(e));
            json_decref(req);
            if (r) {
                json_decref(r);
                return 0;
            }
        } else if (time_mono_ms() - alive_since >= 200) {
            return 0;
        }
        if (time_mono_ms() > deadline) {
            if (!k->vmm_has_control) return 0;
            snprintf(err, errlen, "kumo-vmm did not answer on its control socket within %d s",
                     START_TIMEOUT_MS / 1000);
            kumod_lock(k);
            supervisor_kill(k->sup, vm, SIGKILL);
            supervisor_wait_exit(k->sup, vm, 5000, NULL);
            clear_pid(k, vm);
            kumod_unlock(k);
            return -1;
        }
        usleep(20000);
    }
    struct vmm_exit how;
    kumod_lock(k);
    supervisor_wait_exit(k->sup, vm, 2000, &how);
    clear_pid(k, vm);
    kumod_unlock(k);
    char tail[400];
    log_tail(k, vm, tail, sizeof(tail));
    if (how.known && how.signal)
        snprintf(err, errlen, "kumo-vmm was killed by signal %d while starting: %s", how.signal,
                 tail);
    else if (how.known)
        snprintf(err, errlen, "kumo-vmm exited with status %d while starting: %s", how.status,
                 tail);
    else
        snprintf(err, errlen, "kumo-vmm ended while starting: %s", tail);
    return -1;
}

/* A graceful stop's first step: ask the guest to power itself off (kumo-vmm's
 * "shutdown", the power button of its virtio console) and wait for kumo-vmm
 * to exit, at most --shutdown-timeout seconds. true when it has exited.
 * Skipped (false) without a control socket, with a timeout of 0, and when
 * the guest has no driver for the channel (still booting, or another OS). */
#define SHUTDOWN_REPEAT_MS 2000

static bool shutdown_guest(struct kumod *k, int64_t vm, const char *interim)
{
    int timeout = k->cfg.shutdown_timeout;
    if (!k->vmm_has_control || timeout <= 0) return false;
    char sock[PATH_MAX], e[256];
    json_t *req = json_pack("{s:s}", "op", "shutdown");
    json_t *r = vmm_request(path_vm_file(k, sock, vm, "control.sock"), req, 3000, e, sizeof(e));
    json_decref(req);
    bool heard = r && json_is_true(json_object_get(r, "driver_ready"));
    json_decref(r);
    kumod_lock(k);
    if (!heard) {
        if (interim)
            set_state(k, vm, interim, NULL,
                      "the guest has no shutdown channel (booting, or no virtio console driver): "
                      "powering it off",
                      false);
        kumod_unlock(k);
        return false;
    }
    if (interim) set_state(k, vm, interim, NULL, "asked the guest to shut down", false);
    /* The request is pressed again every SHUTDOWN_REPEAT_MS: a guest still
     * booting has its driver up before anything reads the console (the
     * default guest's init starts its reader early), and a line written
     * before that is lost, as a power button pressed during boot is. */
    int64_t deadline = time_now_ms() + (int64_t)timeout * 1000;
    bool gone = false;
    for (;;) {
        int64_t left = deadline - time_now_ms();
        if (left <= 0) break;
        gone = supervisor_wait_exit(
            k->sup, vm, (int)(left < SHUTDOWN_REPEAT_MS ? left : SHUTDOWN_REPEAT_MS), NULL);
        if (gone || deadline - time_now_ms() <= 0) break;
        kumod_unlock(k);
        req = json_pack("{s:s}", "op", "shutdown");
        json_decref(vmm_request(sock, req, 3000, e, sizeof(e)));
        json_decref(req);
        kumod_lock(k);
    }
    if (interim)
        set_state(k, vm, interim, NULL,
                  gone ? "the guest shut down"
                       : "the guest did not shut down in time: powering it off",
                  false);
    if (!gone)
        log_info("VM %" PRId64 ": the guest did not shut down within %d s: powering it off", vm,
                 timeout);
    kumod_unlock(k);
    return gone;
}

/* Power off kumo-vmm if it runs (graceful: ask the guest first; then the
 * control socket's stop, else SIGTERM; SIGKILL after the stop timeout).
 * interim: the power state meanwhile, or NULL. */
static void stop_vm(struct kumod *k, int64_t vm, const char *interim, bool graceful)
{
    kumod_lock(k);
    bool running = supervisor_running(k->sup, vm, NULL);
    if (running && interim) {
        char power[32] = "";
        db_text(k->db, power, sizeof(power), "SELECT power_state FROM vms WHERE id = ?", "i", vm);
        if (strcmp(power, interim) != 0) set_state(k, vm, interim, NULL, "stopping", false);
    }
    kumod_unlock(k);
    if (running && graceful && shutdown_guest(k, vm, interim)) running = false;
    if (running) {
        bool asked = false;
        if (k->vmm_has_control) {
            char sock[PATH_MAX], e[256];
            json_t *req = json_pack("{s:s}", "op", "stop");
            json_t *r =
                vmm_request(path_vm_file(k, sock, vm, "control.sock"), req, 3000, e, sizeof(e));
            json_decref(req);
            asked = r != NULL;
            json_decref(r);
        }
        kumod_lock(k);
        if (!asked) supervisor_kill(k->sup, vm, SIGTERM);
        if (!supervisor_wait_exit(k->sup, vm, k->cfg.stop_timeout * 1000, NULL)) {
            log_warn("VM %" PRId64 ": kumo-vmm did not stop within %d s: killing it", vm,
                     k->cfg.stop_timeout);
            supervisor_kill(k->sup, vm, SIGKILL);
            supervisor_wait_exit(k->sup, vm, 5000, NULL);
        }
        kumod_unlock(k);
    }
    kumod_lock(k);
    if (!running) supervisor_wait_exit(k->sup, vm, 0, NULL); /* drop an exit already seen */
    if (db_begin(k->db) == 0) {
        clear_pid(k, vm);
        db_commit_lazy(k->db);
    }
    kumod_unlock(k);
}

/* Delete the VM's rows and files (after stop_vm). disks: "delete" (the
 * disks whose deleteOption is Delete, disks.owner_vm, go: by default the
 * OS disk and the disks its create made; the others are detached),
 * "delete-keep-disks" or "delete-all-disks" (provision.h's prov_vm_disks). */
static void delete_vm(struct kumod *k, int64_t vm, const char *op)
{
    struct db *db = k->db;
    bool keep_all = !strcmp(op, "delete-keep-disks"), delete_all = !strcmp(op, "delete-all-disks");
    kumod_lock(k);
    int64_t now = time_now_ms();
    int64_t disks[16];
    bool gone[16];
    int nd = 0;
    int rc = db_begin(db);
    if (rc == 0) rc = vm_set_state(db, vm, NULL, PV_DELETING, "deleted", now);
    if (rc == 0) rc = billing_vm_sync(db, vm, false, now);
    if (rc == 0) rc = billing_state_sync(db, vm, 0, now);
    sqlite3_stmt *st = rc == 0 ? db_stmt(db,
                                         "SELECT id, coalesce(owner_vm, 0) = ?1"
                                         " FROM disks WHERE vm_id = ?1",
                                         "i", vm)
                               : NULL;
    while (st && nd < 16 && sqlite3_step(st) == SQLITE_ROW) {
        disks[nd] = sqlite3_column_int64(st, 0);
        gone[nd++] = !keep_all && (delete_all || sqlite3_column_int(st, 1));
    }
    sqlite3_finalize(st);
    for (int i = 0; rc == 0 && i < nd; i++) {
        if (!gone[i]) {
            rc = db_exec(db,
                         "UPDATE disks SET vm_id = NULL, lun = NULL, os_disk = 0, owner_vm = NULL"
                         " WHERE id = ?",
                         "i", disks[i]);
        } else {
            rc = billing_disk_sync(db, disks[i], false, now);
            if (rc == 0) rc = db_exec(db, "DELETE FROM disks WHERE id = ?", "i", disks[i]);
        }
    }
    /* NICs and public IPs the create made go with the VM; others are detached. */
    int64_t pips[8];
    int np = 0;
    st = rc == 0 ? db_stmt(db,
                           "SELECT p.id FROM nics n JOIN public_ips p ON p.id = n.public_ip_id"
                           " WHERE n.vm_id = ?1 AND p.owner_vm = ?1",
                           "i", vm)
                 : NULL;
    while (st && np < 8 && sqlite3_step(st) == SQLITE_ROW)
        pips[np++] = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    if (rc == 0) rc = db_exec(db, "DELETE FROM nics WHERE vm_id = ?1 AND owner_vm = ?1", "i", vm);
    if (rc == 0)
        rc = db_exec(db, "UPDATE nics SET vm_id = NULL, nic_index = NULL WHERE vm_id = ?", "i", vm);
    for (int i = 0; rc == 0 && i < np; i++) {
        rc = billing_pip_sync(db, pips[i], false, now);
        if (rc == 0) rc = db_exec(db, "DELETE FROM public_ips WHERE id = ?", "i", pips[i]);
    }
    if (rc == 0) rc = db_exec(db, "DELETE FROM metrics WHERE vm_id = ?", "i", vm);
    if (rc == 0) rc = db_exec(db, "DELETE FROM run_commands WHERE vm_id = ?", "i", vm);
    if (rc == 0) rc = db_exec(db, "DELETE FROM vms WHERE id = ?", "i", vm);
    if (rc == 0) rc = db_commit(db);
    if (rc < 0) {
        log_error("VM %" PRId64 ": delete failed: %s", vm, db_errmsg(db));
        db_rollback(db);
        kumod_unlock(k);
        fail_op(k, vm, NULL, "DeleteFailed", "delete failed: see kumod's log");
        return;
    }
    kumod_crash_point("vm-delete:committed");
    netplane_sync(k);
    kumod_changed(k);
    kumod_unlock(k);
    /* a kill -9 from here on leaves files without rows: the next start
     * sweeps them (sweep()) */
    char path[PATH_MAX];
    for (int i = 0; i < nd; i++) {
        if (!gone[i]) continue;
        unlink(path_disk(k, path, disks[i]));
        kumod_crash_point("vm-delete:disk-unlinked");
    }
    path_rmdir_files(path_vm_dir(k, path, vm));
    kumod_crash_point("vm-delete:files-removed");
}

/* Is vm's operation this host's to carry out? The host it is placed on
 * does it; a VM placed nowhere is the leader's (docs/cluster.md). In
 * single-host mode every VM is this host's or nowhere, and this host
 * leads. Lock held. */
static bool mine(struct kumod *k, int64_t vm)
{
    int64_t host = db_int(k->db, NULL, -1, "SELECT coalesce(host_id, 0) FROM vms WHERE id = ?",
                          "i", vm);
    return !atomic_load(&k->fenced) &&
           (host == k->host_id || (host == 0 && atomic_load(&k->leader)));
}

/* Drain: the VM leaves this host. Stopped here, then placed on another
 * host that starts it (or, when none has room, left Stopped here with the
 * reason). */
static void relocate(struct kumod *k, int64_t vm)
{
    stop_vm(k, vm, PS_STOPPING, true);
    struct db *db = k->db;
    kumod_lock(k);
    struct kerr e = {0};
    int64_t now = time_now_ms();
    int rc = db_begin(db);
    char size[80] = "", cores[64] = "", to_name[64] = "", msg[256];
    sqlite3_stmt *st = rc == 0 ? db_stmt(db,
                                         "SELECT s.name, v.vcpus, v.mem_mib, v.dedicated,"
                                         " coalesce(v.vmss_id, 0) FROM vms v JOIN sizes s ON"
                                         " s.id = v.size_id WHERE v.id = ?",
                                         "i", vm)
                               : NULL;
    int64_t to = -1;
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        snprintf(size, sizeof(size), "%s", db_col_text(st, 0));
        struct placement_req r = {.size_name = size,
                                  .vcpus = sqlite3_column_int64(st, 1),
                                  .mib = sqlite3_column_int64(st, 2),
                                  .exclude_vm = vm,
                                  .dedicated = sqlite3_column_int(st, 3) != 0,
                                  .avoid_host = k->host_id,
                                  .spread_vmss = sqlite3_column_int64(st, 4)};
        to = placement_choose_req(db, &r, cores, sizeof(cores), &e);
    }
    sqlite3_finalize(st);
    if (rc == 0 && to > 0) {
        db_text(db, to_name, sizeof(to_name), "SELECT name FROM hosts WHERE id = ?", "i", to);
        snprintf(msg, sizeof(msg), "left its host (drain): placed on host %s", to_name);
        rc = db_exec(db,
                     "UPDATE vms SET host_id = ?, host_cpus = nullif(?, ''), op = 'start',"
                     " op_started_ms = ? WHERE id = ?",
                     "itii", to, cores, now, vm);
        if (rc == 0) rc = vm_set_state(db, vm, PS_STARTING, NULL, msg, now);
    } else if (rc == 0) {
        snprintf(msg, sizeof(msg), "stopped: no other host can take it (%.200s)", e.message);
        rc = db_exec(db, "UPDATE vms SET op = NULL WHERE id = ?", "i", vm);
        if (rc == 0) rc = vm_set_state(db, vm, PS_STOPPED, PV_SUCCEEDED, msg, now);
    }
    if (rc == 0) rc = db_commit(db);
    if (rc < 0) {
        log_error("VM %" PRId64 ": relocating: %s", vm, db_errmsg(db));
        db_rollback(db);
    }
    kumod_changed(k);
    kumod_unlock(k);
}

/* kumo-vmm runs: the operation ends, the VM provisioned or (its guest's
 * provisioning still to report) Creating (lock held). */
static void running(struct kumod *k, int64_t vm)
{
    const char *prov = guestprov_started(k, vm);
    set_state(k, vm, PS_RUNNING, prov,
              strcmp(prov, PV_CREATING) == 0
                  ? "running; waiting for the guest to report its provisioning"
                  : "running",
              true);
}

/* fsync the directory holding path (a rename in it made durable). */
static void fsync_parent(const char *path)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) return;
    *slash = 0;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    fsync(fd);
    close(fd);
}

/* Remove what a save killed while it wrote left behind (PATH.tmp-PID). */
static void remove_partial_states(struct kumod *k, int64_t vm)
{
    char dir[PATH_MAX];
    path_vm_dir(k, dir, vm);
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (!strncmp(e->d_name, STATE_FILE ".tmp-", strlen(STATE_FILE ".tmp-"))) {
            char p[PATH_MAX + 256];
            snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
            unlink(p);
        }
    if (d) closedir(d);
}

/* Hibernate: kumo-vmm saves the VM's state to STATE_FILE and exits
 * (control "save" with "then":"stop"). Without the lock. 0 with the file's
 * size on disk, or -1 + err (the VM runs on if kumo-vmm does). A VM whose
 * kumo-vmm already exited after saving (kumod restarted meanwhile) only
 * needs its file found. */
static int hibernate_vm(struct kumod *k, int64_t vm, uint64_t *bytes, char *err, size_t errlen)
{
    char path[PATH_MAX], sock[PATH_MAX];
    path_vm_file(k, path, vm, STATE_FILE);
    kumod_lock(k);
    bool running = supervisor_running(k->sup, vm, NULL);
    kumod_unlock(k);
    if (running) {
        if (!k->vmm_has_control) {
            snprintf(err, errlen, "kumo-vmm has no control socket: hibernation needs one");
            return -1;
        }
        remove_partial_states(k, vm);
        unlink(path);
        /* the sandboxed kumo-vmm opens no files: it writes and syncs the
         * one made here, which is renamed in place once complete */
        char tmp[PATH_MAX + 32];
        snprintf(tmp, sizeof(tmp), "%s.tmp-%d", path, (int)getpid());
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) {
            snprintf(err, errlen, "cannot create %.600s: %s", tmp, strerror(errno));
            return -1;
        }
        json_t *req = json_pack("{s:s,s:s,s:s}", "op", "save", "path", path, "then", "stop");
        char e[512];
        json_t *r = vmm_request_fd(path_vm_file(k, sock, vm, "control.sock"), req, fd,
                                   SAVE_TIMEOUT_MS, e, sizeof(e));
        json_decref(req);
        close(fd);
        if (!r || rename(tmp, path) < 0) {
            if (r) snprintf(e, sizeof(e), "cannot rename %.400s: %s", tmp, strerror(errno));
            unlink(tmp);
            json_decref(r);
            snprintf(err, errlen, "kumo-vmm could not save the VM's state: %s", e);
            return -1;
        }
        json_decref(r);
        fsync_parent(path);
        kumod_lock(k);
        if (!supervisor_wait_exit(k->sup, vm, k->cfg.stop_timeout * 1000, NULL)) {
            supervisor_kill(k->sup, vm, SIGKILL);
            supervisor_wait_exit(k->sup, vm, 5000, NULL);
        }
        if (db_begin(k->db) == 0) {
            clear_pid(k, vm);
            db_commit_lazy(k->db);
        }
        kumod_unlock(k);
    }
    struct stat st;
    if (stat(path, &st) < 0) {
        snprintf(err, errlen, "kumo-vmm ended before the VM's state was saved: the VM is off");
        return -1;
    }
    remove_partial_states(k, vm);
    *bytes = (uint64_t)st.st_blocks * 512;
    return 0;
}

/* After a start: a hibernated VM was resumed (its state is spent: the
 * guest and its disks moved on), or its state could not be restored (kept
 * aside for inspection; the next start boots the VM afresh). Without the
 * lock. */
static void end_hibernation(struct kumod *k, int64_t vm, bool resumed)
{
    kumod_lock(k);
    bool was = db_int(k->db, NULL, 0, "SELECT hibernated_ms IS NOT NULL FROM vms WHERE id = ?",
                      "i", vm) != 0;
    if (was) {
        int64_t now = time_now_ms();
        int rc = db_begin(k->db);
        if (rc == 0)
            rc = db_exec(k->db,
                         "UPDATE vms SET hibernated_ms = NULL, state_bytes = NULL,"
                         " state_host_id = NULL WHERE id = ?",
                         "i", vm);
        if (rc == 0) rc = billing_state_sync(k->db, vm, 0, now);
        if (rc == 0)
            rc = vm_note(k->db, vm,
                         resumed ? "resumed from hibernation"
                                 : "its hibernated state could not be restored: kept as "
                                   STATE_FILE ".failed; the next start boots it afresh",
                         now);
        if (rc == 0) rc = db_commit(k->db);
        if (rc < 0) db_rollback(k->db);
    }
    kumod_unlock(k);
    if (!was) return;
    char path[PATH_MAX], failed[PATH_MAX + 16];
    path_vm_file(k, path, vm, STATE_FILE);
    if (resumed) {
        unlink(path);
    } else {
        snprintf(failed, sizeof(failed), "%s.failed", path);
        rename(path, failed);
    }
}

/* Live migration on this host: a second kumo-vmm started with the VM's
 * options and --incoming (its sockets at temporary names), sent the VM by
 * the running one (control "migrate", with a socket connected to it), then
 * put in its place: the supervisor's, the sockets' names, the VM's pid.
 * Without the lock. 0 with what it took in msg; -1 + err, the VM running
 * where it was (or, when the old kumo-vmm did not hear the outcome, as the
 * error says). */
static int migrate_vm(struct kumod *k, int64_t vm, char *msg, size_t msglen, char *err,
                      size_t errlen)
{
    if (!k->vmm_has_control) {
        snprintf(err, errlen, "kumo-vmm has no control socket: live migration needs one");
        return -1;
    }
    char dir[PATH_MAX], in[PATH_MAX + 32], ctl[PATH_MAX + 32], con[PATH_MAX + 32],
        logp[PATH_MAX], sock[PATH_MAX];
    path_vm_dir(k, dir, vm);
    snprintf(in, sizeof(in), "%s/migrate.sock", dir);
    snprintf(ctl, sizeof(ctl), "%s/control.sock.new", dir);
    snprintf(con, sizeof(con), "%s/console.sock.new", dir);
    path_vm_file(k, logp, vm, "vmm.log");
    path_vm_file(k, sock, vm, "control.sock");
    kumod_lock(k);
    json_t *argv = build_argv(k, vm, err, errlen);
    kumod_unlock(k);
    if (!argv) return -1;
    /* the new process's sockets get their names once it runs the VM */
    char con_arg[PATH_MAX + 48];
    snprintf(con_arg, sizeof(con_arg), "socket:%s", con);
    for (size_t i = 0; i + 1 < json_array_size(argv); i++) {
        const char *a = json_string_value(json_array_get(argv, i));
        if (!strcmp(a, "--control")) json_array_set_new(argv, i + 1, json_string(ctl));
        if (!strcmp(a, "--console")) json_array_set_new(argv, i + 1, json_string(con_arg));
        /* its NICs move to it on kumo-switch as it takes the VM */
        const char *v = json_string_value(json_array_get(argv, i + 1));
        if (!strcmp(a, "--net") && !strncmp(v, "switch=", 7)) {
            char spec[PATH_MAX + 200];
            snprintf(spec, sizeof(spec), "%s,takeover=on", v);
            json_array_set_new(argv, i + 1, json_string(spec));
        }
    }
    json_array_append_new(argv, json_string("--incoming"));
    json_array_append_new(argv, json_string(in));
    size_t n = json_array_size(argv);
    char **av = calloc(n + 1, sizeof(*av));
    for (size_t i = 0; av && i < n; i++)
        av[i] = (char *)json_string_value(json_array_get(argv, i));
    unlink(in);
    pid_t pid = 0;
    int rc = av ? proc_spawn(av, logp, &pid, err, errlen) : -1;
    free(av);
    json_decref(argv);
    if (rc < 0) return -1;
    /* it listens on `in` once it is set up */
    int peer = -1;
    for (int64_t deadline = time_mono_ms() + START_TIMEOUT_MS; peer < 0;) {
        if (waitpid(pid, NULL, WNOHANG) == pid) {
            pid = 0;
            char tail[400];
            log_tail(k, vm, tail, sizeof(tail));
            snprintf(err, errlen, "the new kumo-vmm ended before it took the VM: %s", tail);
            goto fail;
        }
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        size_t inlen = strlen(in);
        if (inlen >= sizeof(a.sun_path)) {
            snprintf(err, errlen, "%.300s: too long for a unix socket (a shorter --data-dir)", in);
            goto fail;
        }
        memcpy(a.sun_path, in, inlen + 1);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
            peer = fd;
            break;
        }
        if (fd >= 0) close(fd);
        if (time_mono_ms() > deadline) {
            snprintf(err, errlen, "the new kumo-vmm did not wait for the VM within %d s",
                     START_TIMEOUT_MS / 1000);
            goto fail;
        }
        usleep(20000);
    }
    json_t *req = json_pack("{s:s}", "op", "migrate");
    char e[768];
    json_t *r = vmm_request_fd(sock, req, peer, SAVE_TIMEOUT_MS, e, sizeof(e));
    json_decref(req);
    close(peer);
    if (!r) {
        snprintf(err, errlen, "the migration failed: %.700s", e);
        goto fail;
    }
    snprintf(msg, msglen,
             "live-migrated to a new kumo-vmm (pid %d): %.0f ms in all, %.1f ms paused, %" PRId64
             " MiB in %" PRId64 " rounds",
             (int)pid, json_real_value(json_object_get(r, "total_ms")),
             json_real_value(json_object_get(r, "downtime_ms")),
             (int64_t)json_integer_value(json_object_get(r, "bytes_sent")) >> 20,
             (int64_t)json_integer_value(json_object_get(r, "rounds")));
    json_decref(r);
    /* the old process exits (status 0); the new one is the VM's */
    kumod_lock(k);
    if (!supervisor_wait_exit(k->sup, vm, 30000, NULL)) {
        supervisor_kill(k->sup, vm, SIGKILL);
        supervisor_wait_exit(k->sup, vm, 5000, NULL);
    }
    supervisor_adopt_child(k->sup, vm, pid);
    char old[PATH_MAX + 32];
    snprintf(old, sizeof(old), "%s/console.sock", dir);
    rename(ctl, sock);
    rename(con, old);
    int64_t now = time_now_ms();
    if (db_begin(k->db) == 0 &&
        db_exec(k->db, "UPDATE vms SET pid = ?, pid_start = ? WHERE id = ?", "iii", (int64_t)pid,
                (int64_t)proc_start_ticks(pid), vm) == 0)
        db_commit(k->db);
    else
        db_rollback(k->db);
    (void)now;
    kumod_unlock(k);
    return 0;
fail:
    if (pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    unlink(in);
    unlink(ctl);
    unlink(con);
    return -1;
}

/* A scale set instance behind its load balancer: before it stops, the
 * balancer sends it no new connection and the open ones finish (a rolling
 * upgrade loses no request), for at most DRAIN_MS, or until kumod stops
 * (which stops the balancer after the jobs). Lock not held. */
#define DRAIN_MS 10000

static void drain(struct kumod *k, int64_t vm)
{
    kumod_lock(k);
    bool member = db_int(k->db, NULL, 0,
                         "SELECT count(*) FROM vms v JOIN vmss s ON s.id = v.vmss_id"
                         " WHERE v.id = ? AND s.lb_pip_id IS NOT NULL",
                         "i", vm) > 0;
    kumod_unlock(k);
    if (!member || !k->lb) return;
    lb_kick(k->lb); /* the delete's op is committed: the re-read leaves it out */
    int64_t t0 = time_mono_ms();
    while (!lb_drained(k->lb, vm) && !atomic_load(&k->stopping)) {
        if (time_mono_ms() - t0 >= DRAIN_MS) {
            log_warn("VM %" PRId64 ": its load balancer connections did not end within %d s; "
                     "deleting it anyway",
                     vm, DRAIN_MS / 1000);
            return;
        }
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

void vmops_run(struct kumod *k, int64_t vm)
{
    assert(!kumod_lock_held(k));
    char op[32] = "";
    kumod_lock(k);
    bool ours = mine(k, vm);
    if (ours) db_text(k->db, op, sizeof(op), "SELECT op FROM vms WHERE id = ?", "i", vm);
    kumod_unlock(k);
    if (!op[0]) return;
    char err[768];
    kumod_lock(k);
    int64_t host =
        db_int(k->db, NULL, 0,
               "SELECT coalesce(host_id, 0) FROM vms WHERE id = ? AND dedicated = 1", "i", vm);
    kumod_unlock(k);
    if (!strcmp(op, "create") || !strcmp(op, "start")) {
        if (host > 0) refresh_shared_affinity(k, host); /* off its cores first */
        if (start_vm(k, vm, !strcmp(op, "create"), err, sizeof(err)) < 0) {
            end_hibernation(k, vm, false);
            fail_op(k, vm, PS_STOPPED, !strcmp(op, "create") ? "CreateFailed" : "StartFailed", err);
            return;
        }
        end_hibernation(k, vm, true);
        kumod_lock(k);
        running(k, vm);
        kumod_unlock(k);
    } else if (!strcmp(op, "stop") || !strcmp(op, "stop-force")) {
        stop_vm(k, vm, PS_STOPPING, strcmp(op, "stop") == 0);
        kumod_lock(k);
        set_state(k, vm, PS_STOPPED, PV_SUCCEEDED, "stopped (still allocated)", true);
        kumod_unlock(k);
    } else if (!strcmp(op, "deallocate") || !strcmp(op, "deallocate-force")) {
        stop_vm(k, vm, PS_DEALLOCATING, strcmp(op, "deallocate") == 0);
        struct db *db = k->db;
        if (host > 0) release_cores(k, vm, host);
        kumod_lock(k);
        int64_t now = time_now_ms();
        int rc = db_begin(db);
        if (rc == 0)
            rc = db_exec(db,
                         "UPDATE vms SET host_id = NULL, host_cpus = NULL, op = NULL WHERE id = ?",
                         "i", vm);
        if (rc == 0) rc = vm_set_state(db, vm, PS_DEALLOCATED, PV_SUCCEEDED, "deallocated", now);
        if (rc == 0) rc = db_commit(db);
        if (rc < 0) db_rollback(db);
        kumod_changed(k);
        kumod_unlock(k);
    } else if (!strcmp(op, "deallocate-hibernate")) {
        uint64_t bytes = 0;
        if (hibernate_vm(k, vm, &bytes, err, sizeof(err)) < 0) {
            kumod_lock(k);
            bool alive = supervisor_running(k->sup, vm, NULL);
            kumod_unlock(k);
            fail_op(k, vm, alive ? PS_RUNNING : PS_STOPPED, "HibernateFailed", err);
            return;
        }
        struct db *db = k->db;
        if (host > 0) release_cores(k, vm, host);
        kumod_lock(k);
        int64_t now = time_now_ms();
        int rc = db_begin(db);
        if (rc == 0)
            rc = db_exec(db,
                         "UPDATE vms SET host_id = NULL, host_cpus = NULL, op = NULL,"
                         " hibernated_ms = ?, state_bytes = ?, state_host_id = ? WHERE id = ?",
                         "iiii", now, (int64_t)bytes, k->host_id, vm);
        if (rc == 0) rc = billing_state_sync(db, vm, bytes, now);
        if (rc == 0)
            rc = vm_set_state(db, vm, PS_DEALLOCATED, PV_SUCCEEDED,
                              "hibernated: its state is saved, start resumes it", now);
        if (rc == 0) rc = db_commit(db);
        if (rc < 0) db_rollback(db);
        kumod_changed(k);
        kumod_unlock(k);
    } else if (!strcmp(op, "restart")) {
        stop_vm(k, vm, PS_STOPPING, true);
        if (host > 0) refresh_shared_affinity(k, host); /* a resize may hold more cores */
        if (start_vm(k, vm, false, err, sizeof(err)) < 0) {
            fail_op(k, vm, PS_STOPPED, "StartFailed", err);
            return;
        }
        kumod_lock(k);
        running(k, vm);
        kumod_unlock(k);
    } else if (!strcmp(op, "migrate")) {
        char msg[300] = "";
        if (migrate_vm(k, vm, msg, sizeof(msg), err, sizeof(err)) < 0) {
            kumod_lock(k);
            bool alive = supervisor_running(k->sup, vm, NULL);
            kumod_unlock(k);
            if (!alive) {
                fail_op(k, vm, PS_STOPPED, "MigrationFailed", err);
                return;
            }
            /* the VM runs where it was: the operation ends, saying why */
            char note[1100];
            snprintf(note, sizeof(note), "%.900s; the VM runs on where it was", err);
            kumod_lock(k);
            set_state(k, vm, PS_RUNNING, PV_SUCCEEDED, note, true);
            kumod_unlock(k);
            return;
        }
        kumod_lock(k);
        set_state(k, vm, PS_RUNNING, PV_SUCCEEDED, msg, true);
        kumod_unlock(k);
    } else if (!strcmp(op, "relocate")) {
        relocate(k, vm);
    } else if (!strncmp(op, "delete", 6)) {
        kumod_crash_point("vm-delete:begin");
        drain(k, vm);
        stop_vm(k, vm, NULL, false);
        kumod_crash_point("vm-delete:vmm-stopped");
        if (host > 0) release_cores(k, vm, host);
        delete_vm(k, vm, op);
    } else {
        snprintf(err, sizeof(err), "unknown operation '%s'", op);
        fail_op(k, vm, NULL, "InternalError", err);
    }
}

/* Files, directories and kumo-vmm processes that no row owns: what a kill
 * -9 leaves when it lands between a delete's commit and its unlinks (or
 * during them), removed at start. Names the data directory gives them:
 * vms/ID/, images/ID/, disks/ID.qcow2[.tmp], snapshots/ID.qcow2[.tmp].
 * Lock held, before any API request. */
static void sweep(struct kumod *k)
{
    static const struct {
        const char *dir, *table;
        bool is_dir;
    } kinds[] = {
        {"vms", "vms", true},
        {"images", "images", true},
        {"disks", "disks", false},
        {"snapshots", "snapshots", false},
    };
    int swept = 0;
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        /* a cluster's shared store (--shared-dir) is not swept: another host
         * may be between a new file and its row (docs/cluster.md) */
        if (k->cfg.shared_dir[0] && strcmp(kinds[i].dir, "vms") != 0) continue;
        char dir[PATH_MAX];
        path_in_data(k, dir, kinds[i].dir);
        DIR *d = opendir(dir);
        if (!d) continue;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            char *end;
            errno = 0;
            long long id = strtoll(e->d_name, &end, 10);
            if (errno || end == e->d_name || e->d_name[0] < '0' || e->d_name[0] > '9') continue;
            bool ours = kinds[i].is_dir ? *end == 0
                                        : !strcmp(end, ".qcow2") || !strcmp(end, ".qcow2.tmp");
            if (!ours) continue;
            char sql[96];
            snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE id = ?", kinds[i].table);
            if (db_int(k->db, NULL, 1, sql, "i", (int64_t)id) != 0) continue;
            char path[PATH_MAX];
            snprintf(path, sizeof(path), "%.3000s/%.200s", dir, e->d_name);
            if (!strcmp(kinds[i].dir, "vms")) { /* its kumo-vmm first, if it outlived kumod */
                char needle[PATH_MAX];
                snprintf(needle, sizeof(needle), "%.4000s/", path);
                for (int tries = 0; tries < 50; tries++) {
                    pid_t pid = proc_find(needle);
                    if (pid <= 0) break;
                    kill(pid, SIGKILL);
                    usleep(100000);
                }
            }
            if (kinds[i].is_dir)
                path_rmdir_files(path);
            else
                unlink(path);
            log_info("recovery: removed %s (no %s row owns it)", path, kinds[i].table);
            swept++;
        }
        closedir(d);
    }
    if (swept) log_info("recovery: %d leftovers of interrupted deletes removed", swept);
}

void vmops_recover(struct kumod *k)
{
    assert(!kumod_lock_held(k));
    struct db *db = k->db;
    kumod_lock(k);
    sweep(k);
    /* this host's VMs (and, for the leader, those placed nowhere) */
    sqlite3_stmt *st = db_stmt(db,
                               "SELECT id, coalesce(pid, 0), coalesce(pid_start, 0), power_state,"
                               " coalesce(op, '') FROM vms WHERE host_id = ? OR"
                               " (host_id IS NULL AND ?) ORDER BY id",
                               "ii", k->host_id, (int64_t)atomic_load(&k->leader));
    struct row {
        int64_t id, pid, start;
        char power[32], op[32];
    } *rows = NULL;
    size_t n = 0, cap = 0;
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            struct row *nr = realloc(rows, cap * sizeof(*rows));
            if (!nr) break;
            rows = nr;
        }
        struct row *r = &rows[n++];
        r->id = sqlite3_column_int64(st, 0);
        r->pid = sqlite3_column_int64(st, 1);
        r->start = sqlite3_column_int64(st, 2);
        snprintf(r->power, sizeof(r->power), "%s", db_col_text(st, 3));
        snprintf(r->op, sizeof(r->op), "%s", db_col_text(st, 4));
    }
    sqlite3_finalize(st);
    int adopted = 0, died = 0;
    for (size_t i = 0; i < n; i++) {
        struct row *r = &rows[i];
        char needle[PATH_MAX];
        path_vm_dir(k, needle, r->id);
        strncat(needle, "/", sizeof(needle) - strlen(needle) - 1);
        pid_t pid = (pid_t)r->pid;
        bool alive =
            pid > 0 && proc_start_ticks(pid) == (uint64_t)r->start && proc_cmdline_has(pid, needle);
        if (!alive && (r->op[0] || power_has_process(r->power))) {
            /* kumod may have died between spawning kumo-vmm and recording it */
            pid = proc_find(needle);
            alive = pid > 0;
            if (alive)
                db_exec(db, "UPDATE vms SET pid = ?, pid_start = ? WHERE id = ?", "iii",
                        (int64_t)pid, (int64_t)proc_start_ticks(pid), r->id);
        }
        if (alive) {
            if (supervisor_adopt(k->sup, r->id, pid) == 0) {
                adopted++;
                log_info("VM %" PRId64 ": re-adopted kumo-vmm (pid %d)", r->id, (int)pid);
            }
        } else if (k->clustered && !r->op[0] &&
                   (!strcmp(r->power, PS_RUNNING) || !strcmp(r->power, PS_STARTING))) {
            /* cluster mode: its kumo-vmm died with this host's kumod; the
             * VM was meant to run, and still is this host's: start it */
            died++;
            int64_t now = time_now_ms();
            if (db_begin(db) == 0 &&
                db_exec(db,
                        "UPDATE vms SET pid = NULL, pid_start = NULL, started_ms = NULL,"
                        " op = 'start', op_started_ms = ? WHERE id = ?",
                        "ii", now, r->id) == 0 &&
                vm_set_state(db, r->id, NULL, PV_UPDATING,
                             "restarting: kumo-vmm ended with its host's kumod", now) == 0)
                db_commit(db);
            else
                db_rollback(db);
            snprintf(r->op, sizeof(r->op), "start");
        } else if (r->pid > 0 || power_has_process(r->power)) {
            if (!r->op[0]) {
                died++;
                int64_t now = time_now_ms();
                char tbuf[TIME_STRLEN], last[160];
                snprintf(last, sizeof(last),
                         "{\"at\":\"%s\",\"exitStatus\":null,\"signal\":null,"
                         "\"reason\":\"exited while kumod was down\"}",
                         time_format(now, tbuf));
                if (db_begin(db) == 0 &&
                    db_exec(db,
                            "UPDATE vms SET pid = NULL, pid_start = NULL, started_ms = NULL,"
                            " last_exit = ? WHERE id = ?",
                            "ti", last, r->id) == 0 &&
                    vm_set_state(db, r->id, PS_STOPPED, NULL, "kumo-vmm ended while kumod was down",
                                 now) == 0)
                    db_commit(db);
                else
                    db_rollback(db);
            } else {
                clear_pid(k, r->id);
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        if (rows[i].op[0]) jobs_submit(k->jobs, JOB_VM, rows[i].id);
    if (k->clustered) { /* kumo-vmm of VMs the region placed elsewhere meanwhile: never twice */
        st = db_stmt(db, "SELECT id FROM vms WHERE coalesce(host_id, 0) != ?", "i", k->host_id);
        while (st && sqlite3_step(st) == SQLITE_ROW) {
            char needle[PATH_MAX];
            path_vm_dir(k, needle, sqlite3_column_int64(st, 0));
            strncat(needle, "/", sizeof(needle) - strlen(needle) - 1);
            if (proc_kill_all(needle, SIGKILL) > 0)
                log_warn("VM %" PRId64 ": killed a kumo-vmm of it left on this host (the VM is "
                         "another host's now)",
                         (int64_t)sqlite3_column_int64(st, 0));
        }
        sqlite3_finalize(st);
    }
    /* imports and snapshots interrupted by the stop (in a cluster, the
     * leader's: any host sees the shared storage) */
    st = db_stmt(db, "SELECT id FROM images WHERE state = 'Creating' AND ?", "i",
                 (int64_t)atomic_load(&k->leader));
    while (st && sqlite3_step(st) == SQLITE_ROW)
        jobs_submit(k->jobs, JOB_IMAGE, sqlite3_column_int64(st, 0));
    sqlite3_finalize(st);
    st = db_stmt(db, "SELECT id FROM snapshots WHERE state = 'Creating' AND ?", "i",
                 (int64_t)atomic_load(&k->leader));
    while (st && sqlite3_step(st) == SQLITE_ROW)
        jobs_submit(k->jobs, JOB_SNAPSHOT, sqlite3_column_int64(st, 0));
    sqlite3_finalize(st);
    if (n) log_info("recovery: %zu VMs, %d kumo-vmm re-adopted, %d found dead", n, adopted, died);
    free(rows);
    kumod_unlock(k);
}
