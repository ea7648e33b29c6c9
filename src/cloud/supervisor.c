/*
 * supervisor.c - spawning, watching, stopping and adopting kumo-vmm
 * processes (see supervisor.h). One thread polls a pidfd per process plus
 * an eventfd that says "the table changed".
 */
#include "cloud/supervisor.h"

#include "cloud/db.h"
#include "cloud/kumod.h"
#include "cloud/state.h"
#include "cloud/timefmt.h"
#include "lib/log.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct proc {
    int64_t vm;
    pid_t pid;
    int pidfd;
    bool child; /* we spawned it: waitpid gives its status */
    bool exited;
    struct vmm_exit how;
};

struct supervisor {
    struct kumod *k;
    struct proc *procs;
    size_t n, cap;
    int wake; /* eventfd */
    pthread_t thread;
    bool stop;
};

static int pidfd_open_(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

static void wake(struct supervisor *s)
{
    uint64_t one = 1;
    ssize_t r = write(s->wake, &one, sizeof(one));
    (void)r;
}

static struct proc *find(struct supervisor *s, int64_t vm)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->procs[i].vm == vm) return &s->procs[i];
    return NULL;
}

static void drop(struct supervisor *s, struct proc *p)
{
    if (p->pidfd >= 0) close(p->pidfd);
    *p = s->procs[--s->n];
}

static int add(struct supervisor *s, int64_t vm, pid_t pid, bool child)
{
    int fd = pidfd_open_(pid);
    if (fd < 0) return -1;
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    struct proc *old = find(s, vm);
    if (old) drop(s, old);
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        struct proc *np = realloc(s->procs, cap * sizeof(*np));
        if (!np) {
            close(fd);
            return -1;
        }
        s->procs = np;
        s->cap = cap;
    }
    s->procs[s->n++] = (struct proc){.vm = vm, .pid = pid, .pidfd = fd, .child = child};
    wake(s);
    return 0;
}

/* ---- /proc ---- */

uint64_t proc_start_ticks(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) return 0;
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* comm may hold spaces and parentheses */
    if (!p || p[1] != ' ') return 0;
    p += 2;
    if (*p == 'Z' || *p == 'X') return 0; /* zombie or dead */
    /* p is field 3 (state); starttime is field 22 */
    for (int field = 3; field < 22; field++) {
        p = strchr(p, ' ');
        if (!p) return 0;
        p++;
    }
    return strtoull(p, NULL, 10);
}

bool proc_cmdline_has(pid_t pid, const char *needle)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    char buf[16384];
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) return false;
    buf[n] = 0;
    for (ssize_t i = 0; i < n; i += (ssize_t)strlen(buf + i) + 1)
        if (strstr(buf + i, needle)) return true;
    return false;
}

pid_t proc_find(const char *needle)
{
    DIR *d = opendir("/proc");
    if (!d) return 0;
    pid_t found = 0, self = getpid();
    struct dirent *e;
    while (!found && (e = readdir(d))) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 0 || pid == self) continue;
        if (proc_cmdline_has((pid_t)pid, needle) && proc_start_ticks((pid_t)pid))
            found = (pid_t)pid;
    }
    closedir(d);
    return found;
}

int proc_kill_all(const char *needle, int sig)
{
    DIR *d = opendir("/proc");
    if (!d) return 0;
    pid_t self = getpid();
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 0 || pid == self) continue;
        if (proc_cmdline_has((pid_t)pid, needle) && kill((pid_t)pid, sig) == 0) n++;
    }
    closedir(d);
    return n;
}

/* ---- exits ---- */

/* An exit nobody asked for (no operation running): record it. Lock held. */
static void unexpected_exit(struct supervisor *s, const struct proc *p)
{
    struct kumod *k = s->k;
    struct db *db = k->db;
    char op[32] = "";
    db_text(db, op, sizeof(op), "SELECT op FROM vms WHERE id = ?", "i", p->vm);
    if (op[0]) return; /* the operation's worker handles it */
    /* cluster mode: a fenced host's VMs (killed by the fence) and VMs the
     * region placed elsewhere are the region's to record (docs/cluster.md) */
    if (atomic_load(&k->fenced) ||
        db_int(db, NULL, 0, "SELECT coalesce(host_id, 0) FROM vms WHERE id = ?", "i", p->vm) !=
            k->host_id)
        return;
    int64_t now = time_now_ms();
    const char *reason;
    char msg[256];
    bool crashed = false;
    if (!p->how.known) {
        reason = "exited while kumod was down";
        snprintf(msg, sizeof(msg), "kumo-vmm (pid %d) ended; exit status unknown", (int)p->pid);
    } else if (p->how.signal == SIGSYS) {
        reason = "stopped by its sandbox";
        crashed = true;
        snprintf(msg, sizeof(msg),
                 "kumo-vmm (pid %d) was stopped by its sandbox: it made a system call it may "
                 "not make (SIGSYS); nothing outside it was reached (see its vmm.log)",
                 (int)p->pid);
    } else if (p->how.signal) {
        reason = "crashed";
        crashed = true;
        snprintf(msg, sizeof(msg), "kumo-vmm (pid %d) was killed by signal %d", (int)p->pid,
                 p->how.signal);
    } else if (p->how.status != 0) {
        reason = "crashed";
        crashed = true;
        snprintf(msg, sizeof(msg), "kumo-vmm (pid %d) exited with status %d", (int)p->pid,
                 p->how.status);
    } else {
        reason = "guest powered off";
        snprintf(msg, sizeof(msg), "the guest powered off (kumo-vmm pid %d exited 0)", (int)p->pid);
    }
    json_t *last = json_pack(
        "{s:o,s:o,s:o,s:s}", "at", json_integer(0), "exitStatus",
        p->how.known && !p->how.signal ? json_integer(p->how.status) : json_null(), "signal",
        p->how.signal ? json_integer(p->how.signal) : json_null(), "reason", reason);
    char tbuf[TIME_STRLEN];
    json_object_set_new(last, "at", json_string(time_format(now, tbuf)));
    char *text = json_dumps(last, JSON_COMPACT);
    json_decref(last);
    int rc = db_begin(db);
    if (rc == 0)
        rc =
            db_exec(db,
                    "UPDATE vms SET pid = NULL, pid_start = NULL, started_ms = NULL, last_exit = ?,"
                    " error_code = CASE WHEN ? THEN 'VMCrashed' ELSE error_code END,"
                    " error_msg = CASE WHEN ? THEN ? ELSE error_msg END WHERE id = ?",
                    "tiiti", text, (int64_t)crashed, (int64_t)crashed, msg, p->vm);
    if (rc == 0) rc = vm_set_state(db, p->vm, PS_STOPPED, crashed ? PV_FAILED : NULL, msg, now);
    if (rc == 0) rc = db_commit(db);
    if (rc < 0) {
        db_rollback(db);
        log_error("recording the exit of VM %" PRId64 ": %s", p->vm, db_errmsg(db));
    }
    free(text);
    log_info("VM %" PRId64 ": %s", p->vm, msg);
}

static void reap(struct supervisor *s, pid_t pid)
{
    struct proc *p = NULL;
    for (size_t i = 0; i < s->n; i++)
        if (s->procs[i].pid == pid && !s->procs[i].exited) p = &s->procs[i];
    if (!p) return;
    p->exited = true;
    p->how = (struct vmm_exit){0};
    if (p->child) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            p->how.known = true;
            if (WIFSIGNALED(status))
                p->how.signal = WTERMSIG(status);
            else
                p->how.status = WEXITSTATUS(status);
        }
    }
    close(p->pidfd);
    p->pidfd = -1;
    char op[32] = "";
    db_text(s->k->db, op, sizeof(op), "SELECT op FROM vms WHERE id = ?", "i", p->vm);
    if (!op[0]) {
        unexpected_exit(s, p);
        drop(s, p);
    }
    kumod_changed(s->k);
}

static void *watch(void *arg)
{
    struct supervisor *s = arg;
    struct kumod *k = s->k;
    struct pollfd *fds = NULL;
    pid_t *pids = NULL;
    size_t cap = 0;
    for (;;) {
        kumod_lock(k);
        if (s->stop) {
            kumod_unlock(k);
            break;
        }
        size_t n = 1;
        if (cap < s->n + 1) {
            cap = s->n + 16;
            struct pollfd *nf = realloc(fds, cap * sizeof(*fds));
            pid_t *np = realloc(pids, cap * sizeof(*pids));
            if (nf) fds = nf;
            if (np) pids = np;
            if (!nf || !np) cap = 0;
        }
        if (cap) {
            fds[0] = (struct pollfd){.fd = s->wake, .events = POLLIN};
            for (size_t i = 0; i < s->n && n < cap; i++) {
                if (s->procs[i].exited || s->procs[i].pidfd < 0) continue;
                fds[n] = (struct pollfd){.fd = s->procs[i].pidfd, .events = POLLIN};
                pids[n++] = s->procs[i].pid;
            }
        }
        kumod_unlock(k);
        if (!cap) {
            usleep(100000);
            continue;
        }
        int r = poll(fds, n, 1000);
        if (r < 0 && errno != EINTR) usleep(100000);
        if (r <= 0) continue;
        if (fds[0].revents) {
            uint64_t v;
            ssize_t rd = read(s->wake, &v, sizeof(v));
            (void)rd;
        }
        kumod_lock(k);
        for (size_t i = 1; i < n; i++)
            if (fds[i].revents) reap(s, pids[i]);
        kumod_unlock(k);
    }
    free(fds);
    free(pids);
    return NULL;
}

struct supervisor *supervisor_start(struct kumod *k, char *err, size_t errlen)
{
    struct supervisor *s = calloc(1, sizeof(*s));
    if (!s) return NULL;
    s->k = k;
    s->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->wake < 0 || pthread_create(&s->thread, NULL, watch, s) != 0) {
        snprintf(err, errlen, "supervisor: %s", strerror(errno));
        if (s->wake >= 0) close(s->wake);
        free(s);
        return NULL;
    }
    return s;
}

void supervisor_stop(struct supervisor *s)
{
    assert(!s || !kumod_lock_held(s->k));
    if (!s) return;
    kumod_lock(s->k);
    s->stop = true;
    wake(s);
    kumod_unlock(s->k);
    pthread_join(s->thread, NULL);
    for (size_t i = 0; i < s->n; i++)
        if (s->procs[i].pidfd >= 0) close(s->procs[i].pidfd);
    free(s->procs);
    close(s->wake);
    free(s);
}

int proc_spawn(char *const argv[], const char *log_path, pid_t *pid, char *err, size_t errlen)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    sigset_t none, dflt;
    sigemptyset(&none);
    sigemptyset(&dflt);
    sigaddset(&dflt, SIGTERM);
    sigaddset(&dflt, SIGINT);
    sigaddset(&dflt, SIGHUP);
    sigaddset(&dflt, SIGPIPE);
    sigaddset(&dflt, SIGCHLD);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &dflt);
    /* Its own session: a signal to kumod's terminal or process group does
     * not reach the VMs, and they outlive kumod. */
    posix_spawnattr_setflags(&at,
                             POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    int rc = posix_spawn(pid, argv[0], &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start %s: %s", argv[0], strerror(rc));
        return -1;
    }
    return 0;
}

/* Cluster mode: as proc_spawn, but the process is killed when the thread
 * that started it (a job worker, alive as long as kumod) ends, so that no
 * VM outlives the kumod whose lease lets it run (docs/cluster.md). */
static int proc_spawn_tied(char *const argv[], const char *log_path, pid_t *pid, char *err,
                           size_t errlen)
{
    pid_t parent = getpid();
    int logfd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (logfd < 0) {
        snprintf(err, errlen, "%s: %s", log_path, strerror(errno));
        return -1;
    }
    pid_t p = fork();
    if (p < 0) {
        snprintf(err, errlen, "cannot start %s: %s", argv[0], strerror(errno));
        close(logfd);
        return -1;
    }
    if (p == 0) { /* only async-signal-safe calls until exec */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);
        setsid();
        int null = open("/dev/null", O_RDONLY);
        if (null >= 0) dup2(null, 0);
        dup2(logfd, 1);
        dup2(logfd, 2);
        syscall(SYS_close_range, 3, ~0U, 0);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        static const int dflt[] = {SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGCHLD};
        for (size_t i = 0; i < sizeof(dflt) / sizeof(dflt[0]); i++) signal(dflt[i], SIG_DFL);
        execve(argv[0], argv, environ);
        _exit(127);
    }
    close(logfd);
    *pid = p;
    return 0;
}

int supervisor_spawn(struct supervisor *s, int64_t vm, char *const argv[], const char *log_path,
                     pid_t *pid_out, uint64_t *start_ticks, char *err, size_t errlen)
{
    assert(!kumod_lock_held(s->k)); /* it takes the lock itself */
    pid_t pid;
    kumod_lock(s->k); /* so that the watcher cannot miss the new pidfd */
    if (atomic_load(&s->k->fenced)) {
        kumod_unlock(s->k);
        snprintf(err, errlen, "this host is cut off from the cluster (fenced): no VM starts here");
        return -1;
    }
    if ((s->k->clustered ? proc_spawn_tied : proc_spawn)(argv, log_path, &pid, err, errlen) < 0) {
        kumod_unlock(s->k);
        return -1;
    }
    if (add(s, vm, pid, true) < 0) {
        kumod_unlock(s->k);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        snprintf(err, errlen, "pidfd_open: %s", strerror(errno));
        return -1;
    }
    kumod_unlock(s->k);
    *pid_out = pid;
    *start_ticks = proc_start_ticks(pid);
    return 0;
}

int supervisor_adopt(struct supervisor *s, int64_t vm, pid_t pid)
{
    assert(kumod_lock_held(s->k));
    return add(s, vm, pid, false);
}

int supervisor_adopt_child(struct supervisor *s, int64_t vm, pid_t pid)
{
    assert(kumod_lock_held(s->k));
    return add(s, vm, pid, true);
}

bool supervisor_running(struct supervisor *s, int64_t vm, pid_t *pid)
{
    assert(kumod_lock_held(s->k));
    struct proc *p = find(s, vm);
    if (!p || p->exited) return false;
    if (pid) *pid = p->pid;
    return true;
}

bool supervisor_wait_exit(struct supervisor *s, int64_t vm, int timeout_ms, struct vmm_exit *how)
{
    assert(kumod_lock_held(s->k));
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    for (;;) {
        struct proc *p = find(s, vm);
        if (!p) {
            if (how) *how = (struct vmm_exit){0};
            return true;
        }
        if (p->exited) {
            if (how) *how = p->how;
            drop(s, p);
            return true;
        }
        if (pthread_cond_timedwait(&s->k->changed, &s->k->lock, &deadline) == ETIMEDOUT) {
            p = find(s, vm);
            if (p && p->exited) continue;
            return p == NULL;
        }
    }
}

int supervisor_kill(struct supervisor *s, int64_t vm, int sig)
{
    assert(kumod_lock_held(s->k));
    struct proc *p = find(s, vm);
    if (!p || p->exited) return -1;
    /* Through the pidfd: never a recycled pid. */
    return (int)syscall(SYS_pidfd_send_signal, p->pidfd, sig, NULL, 0);
}
