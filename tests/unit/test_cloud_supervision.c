/*
 * test_cloud_supervision.c - a VM's life under kumod's supervision
 * (src/cloud/vmops.c, supervisor.c) with the real job queue, without
 * booting a guest: kumo-vmm is tests/unit/fake_vmm (argv[1]), which stays
 * up until a signal ends it. A create starts it with kumo-vmm's command
 * line; its exits are recorded as kumod records kumo-vmm's (the guest's
 * poweroff, a crash, a start that fails, with the log's last line); stop
 * and delete end it; a kumod that restarts adopts the processes still
 * running and records the ones that ended meanwhile.
 */
#include "cloud/provision.h"

#include "cloud_fixture.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>

static int64_t create(struct fixture *f, const char *name)
{
    struct kerr e = {0};
    struct prov_vm_spec s = {.name = name, .size = "Small", .public_ip = true};
    struct prov_tx t;
    kumod_lock(&f->k);
    int64_t vm = -1;
    if (prov_begin(&t, &f->k, &e) == 0) {
        vm = prov_vm_insert(&t, f->group, &s);
        if (vm < 0 || prov_commit(&t) < 0) {
            prov_abort(&t);
            vm = -1;
        }
    }
    kumod_unlock(&f->k);
    CHECK(vm > 0, "create %s: %s", name, e.message);
    return vm;
}

static pid_t pid_of(struct fixture *f, int64_t vm)
{
    kumod_lock(&f->k);
    pid_t pid =
        (pid_t)db_int(f->k.db, NULL, 0, "SELECT coalesce(pid, 0) FROM vms WHERE id = ?", "i", vm);
    kumod_unlock(&f->k);
    return pid;
}

/* The VM's column as text (under the lock). */
static void column(struct fixture *f, int64_t vm, const char *col, char *buf, size_t len)
{
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT coalesce(%s, '') FROM vms WHERE id = ?", col);
    kumod_lock(&f->k);
    db_text(f->k.db, buf, len, sql, "i", vm);
    kumod_unlock(&f->k);
}

static bool wait_state(struct fixture *f, int64_t vm, const char *power, const char *prov)
{
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT count(*) FROM vms WHERE id = %" PRId64 " AND op IS NULL AND power_state = '%s'"
             " AND prov_state = '%s'",
             vm, power, prov);
    return wait_count(f, sql, 1, 15000);
}

static bool gone(pid_t pid)
{
    for (int i = 0; i < 500; i++) {
        if (kill(pid, 0) < 0 && errno == ESRCH) return true;
        if (proc_start_ticks(pid) == 0) return true; /* a zombie: it has ended */
        usleep(10000);
    }
    return false;
}

static int64_t op(struct fixture *f,
                  int64_t (*fn)(struct kumod *, int64_t, const char *, bool *, struct kerr *),
                  const char *name)
{
    struct kerr e = {0};
    bool begun = false;
    kumod_lock(&f->k);
    int64_t id = fn(&f->k, f->group, name, &begun, &e);
    kumod_unlock(&f->k);
    CHECK(id > 0 && begun, "operation on %s: %s", name, e.message);
    return id;
}

static int64_t stop(struct kumod *k, int64_t g, const char *name, bool *begun, struct kerr *e)
{
    return prov_vm_stop(k, g, name, false, begun, e);
}

static void lifecycle(struct fixture *f)
{
    int64_t vm = create(f, "a");
    CHECK(wait_state(f, vm, "Running", "Succeeded"), "the create ran kumo-vmm");
    pid_t pid = pid_of(f, vm);
    char dir[PATH_MAX], disk[PATH_MAX], needle[2 * PATH_MAX];
    path_vm_dir(&f->k, dir, vm);
    kumod_lock(&f->k);
    int64_t os = db_int(f->k.db, NULL, 0, "SELECT id FROM disks WHERE vm_id = ?", "i", vm);
    kumod_unlock(&f->k);
    path_disk(&f->k, disk, os);
    snprintf(needle, sizeof(needle), "path=%s,format=qcow2,serial=kumo-os", disk);
    CHECK(pid > 0 && proc_cmdline_has(pid, needle), "kumo-vmm got the OS disk: %s", needle);
    snprintf(needle, sizeof(needle), "socket:%s/console.sock", dir);
    CHECK(proc_cmdline_has(pid, needle) && proc_cmdline_has(pid, "kumo.hostname=a"),
          "its console and host name");
    CHECK(proc_cmdline_has(pid, "user,hostfwd=") || proc_cmdline_has(pid, "user"),
          "its NIC on the user-mode NAT (no kumo-switch)");
    kumod_lock(&f->k);
    CHECK(count(f, "SELECT count(*) FROM usage WHERE resource_type = 'virtualMachine'"
                   " AND end_ms IS NULL") == 1,
          "the VM's meter runs");
    kumod_unlock(&f->k);

    /* the guest powers itself off */
    kill(pid, SIGUSR1);
    CHECK(wait_state(f, vm, "Stopped", "Succeeded"), "a poweroff is recorded as Stopped");
    char last[256];
    column(f, vm, "last_exit", last, sizeof(last));
    CHECK(strstr(last, "\"exitStatus\":0") && strstr(last, "guest powered off"), "lastExit %s",
          last);
    CHECK(gone(pid), "the process has ended");

    /* started again, then it crashes */
    op(f, prov_vm_start, "a");
    CHECK(wait_state(f, vm, "Running", "Succeeded"), "started again");
    pid_t pid2 = pid_of(f, vm);
    CHECK(pid2 > 0 && pid2 != pid, "a new process (%d)", (int)pid2);
    kill(pid2, SIGKILL);
    CHECK(wait_state(f, vm, "Stopped", "Failed"), "a crash is Stopped and Failed");
    char code[64];
    column(f, vm, "error_code", code, sizeof(code));
    column(f, vm, "last_exit", last, sizeof(last));
    CHECK(!strcmp(code, "VMCrashed") && strstr(last, "\"signal\":9"), "%s %s", code, last);

    /* a start that fails: the reason comes from kumo-vmm's log */
    setenv("FAKE_VMM_FAIL", "cannot open the OS disk", 1);
    op(f, prov_vm_start, "a");
    CHECK(wait_state(f, vm, "Stopped", "Failed"), "a failed start");
    unsetenv("FAKE_VMM_FAIL");
    char msg[512];
    column(f, vm, "error_code", code, sizeof(code));
    column(f, vm, "error_msg", msg, sizeof(msg));
    CHECK(!strcmp(code, "StartFailed") && strstr(msg, "exited with status 1") &&
              strstr(msg, "cannot open the OS disk"),
          "%s: %s", code, msg);

    /* a stop ends the process (SIGTERM: this kumo-vmm has no control socket) */
    op(f, prov_vm_start, "a");
    CHECK(wait_state(f, vm, "Running", "Succeeded"), "running once more");
    pid = pid_of(f, vm);
    op(f, stop, "a");
    CHECK(wait_state(f, vm, "Stopped", "Succeeded"), "stopped");
    CHECK(gone(pid) && pid_of(f, vm) == 0, "its process is gone and forgotten");

    /* a delete of a running VM stops it first */
    op(f, prov_vm_start, "a");
    CHECK(wait_state(f, vm, "Running", "Succeeded"), "running for the delete");
    pid = pid_of(f, vm);
    struct kerr e = {0};
    kumod_lock(&f->k);
    CHECK(prov_vm_delete(&f->k, f->group, "a", PROV_DISKS_OWNED, &e) == vm, "delete: %s",
          e.message);
    kumod_unlock(&f->k);
    CHECK(wait_count(f, "SELECT count(*) FROM vms", 0, 15000), "deleted");
    CHECK(gone(pid), "with its process");
    for (int i = 0; i < 500 && access(dir, F_OK) == 0; i++)
        usleep(10000); /* removed after the rows' commit */
    CHECK(access(dir, F_OK) < 0, "and its directory");
}

/* kumod stops (its VMs keep running) and starts again. */
static void restart_kumod(struct fixture *f)
{
    int64_t a = create(f, "b"), b = create(f, "c");
    CHECK(wait_state(f, a, "Running", "Succeeded") && wait_state(f, b, "Running", "Succeeded"),
          "two VMs running");
    pid_t pa = pid_of(f, a), pb = pid_of(f, b);
    jobs_stop(f->k.jobs);
    supervisor_stop(f->k.sup);
    f->k.jobs = NULL;
    f->k.sup = NULL;
    CHECK(kill(pa, 0) == 0 && kill(pb, 0) == 0, "the VMs outlive kumod");
    kill(pb, SIGTERM); /* one ends while kumod is down */
    CHECK(gone(pb), "c's kumo-vmm ended");
    char err[256];
    f->k.sup = supervisor_start(&f->k, err, sizeof(err));
    f->k.jobs = jobs_start(&f->k, 2, real_jobs);
    CHECK(f->k.sup && f->k.jobs, "kumod again: %s", err);
    vmops_recover(&f->k);
    kumod_lock(&f->k);
    CHECK(supervisor_running(f->k.sup, a, NULL), "b's kumo-vmm is adopted");
    CHECK(!supervisor_running(f->k.sup, b, NULL), "c's is not");
    kumod_unlock(&f->k);
    CHECK(wait_state(f, a, "Running", "Succeeded"), "b still Running");
    CHECK(wait_state(f, b, "Stopped", "Succeeded"), "c recorded Stopped");
    char last[256];
    column(f, b, "last_exit", last, sizeof(last));
    CHECK(strstr(last, "exited while kumod was down"), "c's lastExit: %s", last);
    /* an adopted process's end is recorded too (its status is unknown) */
    kill(pa, SIGUSR1);
    CHECK(wait_state(f, a, "Stopped", "Succeeded"), "b's end after the restart is recorded");
    column(f, a, "last_exit", last, sizeof(last));
    CHECK(strstr(last, "\"exitStatus\":null"), "b's lastExit: %s", last);
}

int main(int argc, char **argv)
{
    struct fixture f;
    if (!fixture_start_vms(&f, argc, argv)) return 1;
    lifecycle(&f);
    restart_kumod(&f);
    fixture_stop(&f);
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
