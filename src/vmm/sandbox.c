/*
 * sandbox.c - see sandbox.h: namespaces, a private root, cgroup, rlimits,
 * uid/gid, no_new_privs, Landlock and per-thread seccomp allow-lists.
 */
#include "vmm/sandbox.h"

#include "devices/virtio_blk.h"
#include "lib/fileset.h"
#include "lib/log.h"
#include "lib/threadrole.h"
#include "machine/machine.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/landlock.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#define NOBODY 65534

/* ---- the allow-lists -------------------------------------------------------------------- */

#define R(role)   (1u << (role))
#define MAIN      R(ROLE_MAIN)
#define VCPU      R(ROLE_VCPU)
#define DISK      R(ROLE_DISK)
#define NET       R(ROLE_NET)
#define CONSOLE_T R(ROLE_CONSOLE)
#define CONTROL_T R(ROLE_CONTROL)
#define SIGS      R(ROLE_SIGNALS)
#define TIMER     R(ROLE_TIMER)
#define ALL       (R(ROLE_COUNT) - 1)

/* How a rule checks its arguments (beyond the number). */
enum check {
    PLAIN,       /* any arguments */
    NO_EXEC,     /* mmap/mprotect: arg 2 (prot) without PROT_EXEC */
    THREAD_ONLY, /* clone: arg 0 (flags) with CLONE_THREAD: threads, never processes */
    SELF,        /* tgkill: arg 0 is this process */
    EMPTY_PATH,  /* newfstatat/statx: on a descriptor (AT_EMPTY_PATH), not a path */
    FCNTL_CMDS,  /* fcntl: descriptor flags, duplicates, OFD locks */
    IOCTL_CMDS,  /* ioctl: terminal attributes, FIONREAD/FIONBIO, block device size */
    PRCTL_NAME,  /* prctl: thread names only */
    SOCK_UNIX,   /* socket: AF_UNIX (switch ports) */
    SOCK_IP,     /* socket: AF_INET/AF_INET6, only with a user-mode NIC */
    READ_ONLY,   /* openat: O_RDONLY without O_CREAT, only with a user-mode NIC */
    DENY_EACCES, /* fails with EACCES instead of killing (probes that have a fallback) */
    DENY_ENOSYS, /* fails with ENOSYS (clone3: glibc falls back to clone) */
};

struct rule {
    const char *name;
    unsigned roles;
    enum check check;
    const char *why;
};

/* Every system call a sandboxed kumo-vmm makes, by the kinds of thread that
 * make it. The main thread's list is the union of the others' (it builds the
 * threads, which inherit its filter before narrowing themselves). */
static const struct rule rules[] = {
    /* every thread: memory, locks, time, logging, ending */
    {"futex", ALL, PLAIN, "mutexes and condition variables"},
    {"clock_gettime", ALL, PLAIN, "time (vDSO fallback), thread CPU clocks"},
    {"clock_getres", ALL, PLAIN, "time"},
    {"gettimeofday", ALL, PLAIN, "time (vDSO fallback)"},
    {"clock_nanosleep", ALL, PLAIN, "CPU cap pacing, throttles, polling back-off"},
    {"nanosleep", ALL, PLAIN, "usleep"},
    {"sched_yield", ALL, PLAIN, "spin back-off"},
    {"getpid", ALL, PLAIN, "raise(), logging"},
    {"gettid", ALL, PLAIN, "per-thread CPU accounting"},
    {"getuid", ALL, PLAIN, "harmless identity queries (glibc, sanitizers)"},
    {"geteuid", ALL, PLAIN, "harmless identity queries"},
    {"getgid", ALL, PLAIN, "harmless identity queries"},
    {"getegid", ALL, PLAIN, "harmless identity queries"},
    {"restart_syscall", ALL, PLAIN, "interrupted sleeps"},
    {"rt_sigreturn", ALL, PLAIN, "signal handlers"},
    {"rt_sigprocmask", ALL, PLAIN, "pthread internals"},
    {"rt_sigaction", ALL, PLAIN, "abort() resets SIGABRT before raising it again"},
    {"sigaltstack", ALL, PLAIN, "sanitizers' per-thread signal stacks"},
    {"tgkill", ALL, SELF, "raise()/abort(): only this process's own threads"},
    {"exit", ALL, PLAIN, "thread exit"},
    {"exit_group", ALL, PLAIN, "process exit from any thread"},
    {"write", ALL, PLAIN, "stderr logging, console output, eventfd/pipe kicks"},
    {"writev", ALL, PLAIN, "logging"},
    {"close", ALL, PLAIN, "descriptors of finished clients, connections, images"},
    {"brk", ALL, PLAIN, "malloc"},
    {"mmap", ALL, NO_EXEC, "malloc, thread stacks, guest RAM: never executable"},
    {"mprotect", ALL, NO_EXEC, "thread stack guards: never executable"},
    {"munmap", ALL, PLAIN, "free, thread stacks, guest RAM"},
    {"mremap", ALL, PLAIN, "realloc of large blocks"},
    {"madvise", ALL, PLAIN, "free, balloon (MADV_DONTNEED)"},
    {"rseq", ALL, PLAIN, "glibc registers each new thread"},
    {"set_robust_list", ALL, PLAIN, "glibc, each new thread"},
    {"sched_getaffinity", ALL, PLAIN, "glibc/sanitizers: number of CPUs"},
    {"sysinfo", ALL, PLAIN, "glibc qsort: physical memory size"},
    {"prctl", ALL, PRCTL_NAME, "names of threads and mappings (PR_SET_NAME/GET_NAME/SET_VMA)"},
    {"fcntl", ALL, FCNTL_CMDS, "non-blocking flags, duplicates of recorded files, OFD locks"},
    {"ioctl", ALL, IOCTL_CMDS, "terminal restore at exit, FIONREAD, block device size"},
    {"getrandom", ALL, PLAIN, "virtio-rng, libslirp, glibc"},
    {"openat", ALL & ~NET, DENY_EACCES, "nothing is opened by path once sealed (lib/fileset.h)"},
    {"open", ALL & ~NET, DENY_EACCES, "nothing is opened by path once sealed"},
    {"openat", NET, READ_ONLY, "libslirp reads /etc/resolv.conf (private root)"},
    {"unlink", ALL, DENY_EACCES, "socket clean-up at exit (kumod removes them)"},
    {"readlink", ALL, DENY_EACCES, "sanitizer reports: /proc/self/exe"},
    {"newfstatat", ALL & ~NET, EMPTY_PATH, "fstat() on open descriptors"},
    {"newfstatat", NET, PLAIN, "libslirp stats /etc/resolv.conf"},
    {"fstat", ALL, PLAIN, "fstat() on open descriptors"},
    {"statx", ALL, EMPTY_PATH, "fstat() on open descriptors"},
    {"lseek", ALL, PLAIN, "recorded files are rewound; stdio"},
    {"getrlimit", ALL, PLAIN, "sanitizers: stack size of a new thread"},
    {"prlimit64", ALL, PLAIN, "getrlimit (setting is harmless: limits only go down)"},

    /* the main thread: machines built and torn down on reboot */
    {"clone", MAIN, THREAD_ONLY, "vCPU and device threads (never a process)"},
    {"clone3", MAIN, DENY_ENOSYS, "flags are out of reach of seccomp: glibc falls back to clone"},
    {"seccomp", MAIN, PLAIN, "threads narrow their own filter (only ever stricter)"},
    {"eventfd2", MAIN | NET, PLAIN, "a NIC's kick descriptor; a switch port's ring wake-ups"},
    {"memfd_create", MAIN | NET, PLAIN,
     "a switch port's shared-memory rings, made again at a reconnect or a reboot"},
    {"pipe2", MAIN, PLAIN, "wake-up pipes"},
    {"uname", MAIN, PLAIN, "glibc"},

    /* image I/O: the main thread opens images on reboot (headers, chains) */
    {"read", MAIN | NET | CONSOLE_T | CONTROL_T | SIGS, PLAIN,
     "sockets, pipes, eventfds, the terminal"},
    {"pread64", MAIN | DISK | VCPU | CONSOLE_T | CONTROL_T, PLAIN,
     "image reads; console log trimming; /proc/self/pagemap (a save's touched RAM pages)"},
    {"pwrite64", MAIN | DISK | VCPU | CONSOLE_T | CONTROL_T, PLAIN,
     "image writes; console log trimming; a saved state into the file sent (save)"},
    {"preadv", MAIN | DISK, PLAIN, "image reads"},
    {"pwritev", MAIN | DISK | CONTROL_T, PLAIN, "image writes (a migration flushes qcow2 tables)"},
    {"preadv2", MAIN | DISK, PLAIN, "image reads"},
    {"pwritev2", MAIN | DISK, PLAIN, "image writes"},
    {"fsync", MAIN | DISK | CONTROL_T, PLAIN,
     "flush requests, qcow2 metadata order; a saved state synced"},
    {"fdatasync", MAIN | DISK | CONTROL_T, PLAIN, "flush requests (and a migration's)"},
    {"fallocate", MAIN | DISK, PLAIN, "discard and write-zeroes (punch hole)"},
    {"ftruncate", MAIN | DISK | VCPU | CONSOLE_T | NET | CONTROL_T, PLAIN,
     "qcow2 growth; console log trimming; a switch port's ring memory; a saved state's length"},

    /* sockets: NIC back ends (libslirp on the NIC thread, host forwards bound
     * on the main thread; switch ports), console and control clients */
    {"poll", MAIN | NET | CONSOLE_T | CONTROL_T, PLAIN, "event loops"},
    {"ppoll", MAIN | NET | CONSOLE_T | CONTROL_T, PLAIN, "event loops"},
    {"socket", MAIN | NET, SOCK_UNIX, "switch ports (reconnect)"},
    {"socket", MAIN | NET, SOCK_IP, "libslirp's NAT and host forwards"},
    {"connect", MAIN | NET, PLAIN, "switch ports; libslirp's outgoing connections"},
    {"bind", MAIN | NET, PLAIN, "libslirp host forwards, UDP"},
    {"listen", MAIN | NET, PLAIN, "libslirp host forwards"},
    {"accept", NET, PLAIN, "libslirp host forwards"},
    {"accept4", NET | CONSOLE_T | CONTROL_T, PLAIN, "forwards, console and control clients"},
    {"setsockopt", MAIN | NET, PLAIN, "socket options (slirp, switch ports)"},
    {"getsockopt", MAIN | NET, PLAIN, "SO_ERROR of connecting sockets"},
    {"getsockname", MAIN | NET, PLAIN, "libslirp"},
    {"getpeername", NET, PLAIN, "libslirp"},
    {"sendto", MAIN | NET | CONSOLE_T | CONTROL_T, PLAIN, "send()"},
    {"recvfrom", MAIN | NET | CONSOLE_T | CONTROL_T, PLAIN, "recv()"},
    {"sendmsg", MAIN | NET, PLAIN, "libslirp"},
    {"recvmsg", MAIN | NET | CONTROL_T, PLAIN,
     "libslirp; control requests (a save's file comes as a descriptor)"},
    {"shutdown", MAIN | NET, PLAIN, "libslirp"},

    /* CPU controls at run time (cpuctl.c) */
    {"setpriority", MAIN | VCPU | CONTROL_T, PLAIN,
     "weights: nice on vCPU threads (own only by uid)"},
    {"sched_setaffinity", MAIN | CONTROL_T, PLAIN, "affinity of this VMM's threads"},
    {"getdents64", MAIN | CONTROL_T, PLAIN, "the VMM's thread list (pre-opened /proc/self/task)"},
    {"getrusage", ALL, PLAIN, "CPU accounting"},


    /* the signal thread */
    {"rt_sigtimedwait", MAIN | SIGS, PLAIN, "sigwait"},
};

/* The JIT hook (sandbox.h): executable code buffers for the vCPU threads. */
static const struct rule jit_rules[] = {
    {"mmap", MAIN | VCPU, PLAIN, "JIT code buffers (PROT_EXEC)"},
    {"mprotect", MAIN | VCPU, PLAIN, "JIT code buffers (W^X flips)"},
    {"memfd_create", MAIN | VCPU, PLAIN, "JIT double mapping"},
    {"ftruncate", VCPU, PLAIN, "JIT double mapping size"},
};

/* ---- state ------------------------------------------------------------------------------ */

struct bpf {
    struct sock_filter *insns;
    unsigned short len;
};

static struct sandbox_config cfg;
static bool prepared;
static bool have_mntns, have_userns;
static _Atomic bool active;
static struct bpf filters[ROLE_COUNT];
static _Thread_local int narrowed_to = -1;

bool sandbox_active(void)
{
    return atomic_load(&active);
}

static bool audit_mode(void)
{
    const char *a = getenv("KUMO_SANDBOX_AUDIT");
    return a && *a && strcmp(a, "0") != 0;
}

/* ---- namespaces (before any thread) ----------------------------------------------------- */

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = write(fd, text, strlen(text));
    int e = errno;
    close(fd);
    errno = e;
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

static void try_unshare(int flag, const char *what, const char *without)
{
    if (unshare(flag) == 0) return;
    log_warn("sandbox: no %s namespace (%s): %s", what, strerror(errno), without);
}

static void cgroup_join_start(void);

int sandbox_prepare(const struct sandbox_config *c, char *err, size_t errlen)
{
    cfg = *c;
    prepared = true;
    if (!cfg.on) return 0;
    bool root = geteuid() == 0;
    if (cfg.uid_given && !root) {
        snprintf(err, errlen,
                 "--sandbox-uid needs root (kumo-vmm runs as uid %u): drop it, or "
                 "run kumo-vmm as root",
                 (unsigned)geteuid());
        return -1;
    }
    if (cfg.uid_given && cfg.uid == 0) {
        snprintf(err, errlen, "--sandbox-uid 0: give an unprivileged uid");
        return -1;
    }
    if (!cfg.uid_given && root) {
        cfg.uid = NOBODY;
        cfg.gid = NOBODY;
        cfg.uid_given = true;
    }
    if (!root) {
        /* a user namespace gives an unprivileged caller its own mount, IPC
         * and network namespaces; inside it the uid stays the caller's */
        uid_t uid = geteuid();
        gid_t gid = getegid();
        if (unshare(CLONE_NEWUSER) == 0) {
            char map[64];
            snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)uid, (unsigned)uid);
            int ok = write_file("/proc/self/uid_map", map) == 0;
            ok = ok && (write_file("/proc/self/setgroups", "deny") == 0 || errno == ENOENT);
            snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)gid, (unsigned)gid);
            ok = ok && write_file("/proc/self/gid_map", map) == 0;
            if (ok)
                have_userns = true;
            else
                log_warn("sandbox: cannot map the user namespace's ids (%s)", strerror(errno));
        } else {
            log_warn("sandbox: no user namespace (%s): without root, kumo-vmm has no private "
                     "root, IPC or network namespace (allow unprivileged user namespaces, or "
                     "run it as root)",
                     strerror(errno));
        }
    }
    if (root || have_userns) {
        if (unshare(CLONE_NEWNS) == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0) {
            have_mntns = true;
        } else {
            log_warn("sandbox: no mount namespace (%s): no private root, files are confined by "
                     "Landlock and seccomp only",
                     strerror(errno));
        }
        try_unshare(CLONE_NEWIPC, "IPC", "System V IPC and POSIX message queues stay shared");
        if (!cfg.host_network)
            try_unshare(CLONE_NEWNET, "network",
                        "the VMM keeps the host's network (seccomp still forbids IP sockets)");
    }
    fileset_record();
    if (root || have_userns) cgroup_join_start();
    return 0;
}

/* ---- cgroup ----------------------------------------------------------------------------- */

/* The mount point of the cgroup v1 hierarchy with controller `ctl`, or of
 * cgroup v2 when ctl is NULL; "" when there is none. */
static void cgroup_mount(const char *ctl, char *out, size_t len)
{
    out[0] = 0;
    FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f) return;
    char line[1024];
    while (fgets(line, sizeof(line), f)) {
        /* ... mountpoint ... - fstype source superoptions */
        char *sep = strstr(line, " - ");
        if (!sep) continue;
        char mnt[512], fstype[32], src[64], opts[512];
        if (sscanf(line, "%*s %*s %*s %*s %511s", mnt) != 1) continue;
        if (sscanf(sep + 3, "%31s %63s %511s", fstype, src, opts) != 3) continue;
        if (ctl ? strcmp(fstype, "cgroup") != 0 : strcmp(fstype, "cgroup2") != 0) continue;
        if (ctl) {
            bool has = false;
            for (char *save = NULL, *o = strtok_r(opts, ",", &save); o;
                 o = strtok_r(NULL, ",", &save))
                if (strcmp(o, ctl) == 0) has = true;
            if (!has) continue;
        }
        snprintf(out, len, "%s", mnt);
        break;
    }
    fclose(f);
}

/* This process's path in the hierarchy with controller ctl (v2: NULL). */
static bool cgroup_path(const char *ctl, char *out, size_t len)
{
    FILE *f = fopen("/proc/self/cgroup", "re");
    if (!f) return false;
    char line[1024];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f)) {
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2) continue;
        *c2 = 0;
        char *path = c2 + 1;
        path[strcspn(path, "\n")] = 0;
        if (!ctl) {
            found = strcmp(line, "0") == 0 && c1[1] == 0;
        } else {
            for (char *save = NULL, *o = strtok_r(c1 + 1, ",", &save); o;
                 o = strtok_r(NULL, ",", &save))
                if (strcmp(o, ctl) == 0) found = true;
        }
        if (found) snprintf(out, len, "%s", strcmp(path, "/") == 0 ? "" : path);
    }
    fclose(f);
    return found;
}

/* Remove the empty cgroups of VMMs that are gone (a cgroup is removed by the
 * next VMM that starts: the VMM cannot remove its own, it is inside). */
static void cgroup_sweep(const char *parent)
{
    DIR *d = opendir(parent);
    if (!d) return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        unsigned long pid;
        char tail;
        if (sscanf(de->d_name, "kumo-vmm-%lu%c", &pid, &tail) != 1) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        char p[PATH_MAX];
        snprintf(p, sizeof(p), "%s/%s", parent, de->d_name);
        rmdir(p); /* fails while it still has processes: then it is not stale */
    }
    closedir(d);
}

/* Create kumo-vmm-PID below this process's cgroup, set its limit, join it.
 * v1: in the pids and memory hierarchies; v2: when both controllers are
 * delegated to this process's cgroup. */
static void cgroup_join(void)
{
    uint64_t mem = cfg.ram_bytes + (1ull << 30);
#ifdef __SANITIZE_ADDRESS__
    mem = cfg.ram_bytes * 3 + (2ull << 30); /* shadow memory and quarantine */
#endif
    int pids = cfg.ncpus + cfg.ndisks * VIRTIO_BLK_WORKERS + cfg.nnics + 16;
    char v2[512], path[2048], dir[PATH_MAX], val[32];
    const char *done[2];
    int ndone = 0;
    cgroup_mount(NULL, v2, sizeof(v2));
    if (v2[0] && cgroup_path(NULL, path, sizeof(path))) {
        char ctl[256] = "";
        snprintf(dir, sizeof(dir), "%s%s/cgroup.subtree_control", v2, path);
        FILE *f = fopen(dir, "re");
        if (f) {
            if (!fgets(ctl, sizeof(ctl), f)) ctl[0] = 0;
            fclose(f);
        }
        if (strstr(ctl, "pids") && strstr(ctl, "memory")) {
            snprintf(dir, sizeof(dir), "%s%s", v2, path);
            cgroup_sweep(dir);
            snprintf(dir, sizeof(dir), "%s%s/kumo-vmm-%d", v2, path, (int)getpid());
            char f2[PATH_MAX + 32];
            bool ok = mkdir(dir, 0755) == 0 || errno == EEXIST;
            snprintf(f2, sizeof(f2), "%s/pids.max", dir);
            snprintf(val, sizeof(val), "%d", pids);
            ok = ok && write_file(f2, val) == 0;
            snprintf(f2, sizeof(f2), "%s/memory.max", dir);
            snprintf(val, sizeof(val), "%llu", (unsigned long long)mem);
            ok = ok && write_file(f2, val) == 0;
            snprintf(f2, sizeof(f2), "%s/cgroup.procs", dir);
            snprintf(val, sizeof(val), "%d", (int)getpid());
            ok = ok && write_file(f2, val) == 0;
            if (ok) {
                log_info("sandbox: cgroup %s (pids.max %d, memory.max %llu)", dir, pids,
                         (unsigned long long)mem);
                return;
            }
            log_warn("sandbox: cannot use cgroup %s (%s): threads and memory are bounded by "
                     "rlimits only",
                     dir, strerror(errno));
            return;
        }
    }
    static const struct {
        const char *ctl, *file;
    } v1[] = {{"pids", "pids.max"}, {"memory", "memory.limit_in_bytes"}};
    for (size_t k = 0; k < sizeof(v1) / sizeof(v1[0]); k++) {
        char mnt[512];
        cgroup_mount(v1[k].ctl, mnt, sizeof(mnt));
        if (!mnt[0] || !cgroup_path(v1[k].ctl, path, sizeof(path))) continue;
        snprintf(dir, sizeof(dir), "%s%s", mnt, path);
        cgroup_sweep(dir);
        snprintf(dir, sizeof(dir), "%s%s/kumo-vmm-%d", mnt, path, (int)getpid());
        char f2[PATH_MAX + 32];
        bool ok = mkdir(dir, 0755) == 0 || errno == EEXIST;
        snprintf(f2, sizeof(f2), "%s/%s", dir, v1[k].file);
        if (k == 0)
            snprintf(val, sizeof(val), "%d", pids);
        else
            snprintf(val, sizeof(val), "%llu", (unsigned long long)mem);
        ok = ok && write_file(f2, val) == 0;
        snprintf(f2, sizeof(f2), "%s/cgroup.procs", dir);
        snprintf(val, sizeof(val), "%d", (int)getpid());
        ok = ok && write_file(f2, val) == 0;
        if (!ok) {
            log_warn("sandbox: cannot use cgroup %s (%s): %s bounded by rlimits only", dir,
                     strerror(errno), k == 0 ? "threads are" : "memory is");
            rmdir(dir);
            continue;
        }
        done[ndone++] = v1[k].ctl;
    }
    if (ndone == 0 && !v2[0])
        log_warn("sandbox: the host has no cgroup hierarchy for pids or memory: threads and "
                 "memory are bounded by rlimits only");
    else if (ndone == 0)
        log_warn("sandbox: no cgroup with pids and memory controllers is delegated here: "
                 "threads and memory are bounded by rlimits only");
    else
        log_info("sandbox: cgroup v1 kumo-vmm-%d (%s%s%s; pids %d, memory %llu)", (int)getpid(),
                 done[0], ndone > 1 ? ", " : "", ndone > 1 ? done[1] : "", pids,
                 (unsigned long long)mem);
}

/* ---- private root ------------------------------------------------------------------------ */

/* The private root's directories are 0755 whatever the umask (kumod's is
 * 077): the VMM, under its own uid, must pass through them to the switch's
 * ports socket when its NIC reconnects (a guest reboot, a switch restart). */
static int mkdir_0755(const char *path)
{
    if (mkdir(path, 0755) < 0) return errno == EEXIST ? 0 : -1;
    return chmod(path, 0755);
}

static int mkdirs(char *path)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        int rc = mkdir_0755(path);
        *p = '/';
        if (rc < 0) return -1;
    }
    return 0;
}

/* Bind src (an O_PATH descriptor) read-only at NEWROOT/abs. */
static int bind_into(const char *newroot, int fd, const char *abs, bool dir)
{
    char target[PATH_MAX], src[64];
    if (snprintf(target, sizeof(target), "%s%s", newroot, abs) >= (int)sizeof(target)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (mkdirs(target) < 0) return -1;
    if (dir) {
        if (mkdir_0755(target) < 0) return -1;
    } else {
        int t = open(target, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (t < 0) return -1;
        close(t);
    }
    snprintf(src, sizeof(src), "/proc/self/fd/%d", fd);
    if (mount(src, target, NULL, MS_BIND, NULL) < 0) return -1;
    /* read-only, keeping the flags a less privileged mount may not drop */
    struct statvfs sv;
    unsigned long fl = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
    if (fstatvfs(fd, &sv) == 0) {
        if (sv.f_flag & ST_NOATIME) fl |= MS_NOATIME;
        if (sv.f_flag & ST_NODIRATIME) fl |= MS_NODIRATIME;
        if (sv.f_flag & ST_RELATIME) fl |= MS_RELATIME;
    }
    if (mount(NULL, target, NULL, fl, NULL) < 0)
        log_warn("sandbox: %s stays writable in the private root: %s", abs, strerror(errno));
    return 0;
}

/* An empty read-only tmpfs as / with only what the NICs need. */
static int private_root(char *why, size_t len)
{
    const char *paths[SANDBOX_MAX_KEEP + 1];
    int fds[SANDBOX_MAX_KEEP + 1], n = 0;
    bool dirs[SANDBOX_MAX_KEEP + 1];
    if (cfg.host_network) {
        paths[n] = "/etc/resolv.conf";
        dirs[n] = false;
        fds[n] = open(paths[n], O_PATH | O_CLOEXEC);
        if (fds[n] >= 0) n++;
    }
    for (int k = 0; k < cfg.nkeep; k++) {
        paths[n] = cfg.keep[k];
        fds[n] = open(paths[n], O_PATH | O_CLOEXEC);
        if (fds[n] < 0) continue;
        struct stat st;
        dirs[n] = fstat(fds[n], &st) == 0 && S_ISDIR(st.st_mode);
        n++;
    }
    const char *base = "/tmp";
    struct stat st;
    if (stat(base, &st) < 0 || !S_ISDIR(st.st_mode)) base = "/mnt";
    int rc = -1;
    if (mount("kumo-vmm", base, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755,size=64k") <
        0) {
        snprintf(why, len, "cannot mount a tmpfs on %s: %s", base, strerror(errno));
        goto out;
    }
    for (int k = 0; k < n; k++)
        if (bind_into(base, fds[k], paths[k], dirs[k]) < 0) {
            snprintf(why, len, "cannot bind %s into the private root: %s", paths[k],
                     strerror(errno));
            goto out;
        }
    if (chdir(base) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 || umount2(".", MNT_DETACH) < 0 ||
        chdir("/") < 0) {
        snprintf(why, len, "cannot enter the private root: %s", strerror(errno));
        goto out;
    }
    if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        log_warn("sandbox: the private root stays writable: %s", strerror(errno));
    rc = 0;
out:
    for (int k = 0; k < n; k++)
        close(fds[k]);
    return rc;
}

/* ---- rlimits ---------------------------------------------------------------------------- */

static int highest_fd(void)
{
    int hi = 2;
    DIR *d = opendir("/proc/self/fd");
    if (!d) return 64;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        int fd = atoi(de->d_name);
        if (fd > hi) hi = fd;
    }
    closedir(d);
    return hi;
}

static void set_limit(int res, uint64_t v, const char *what)
{
    struct rlimit cur;
    if (getrlimit(res, &cur) == 0 && cur.rlim_max != RLIM_INFINITY && cur.rlim_max < v)
        v = cur.rlim_max; /* never above what we were given */
    struct rlimit r = {.rlim_cur = v, .rlim_max = v};
    if (setrlimit(res, &r) < 0)
        log_warn("sandbox: cannot limit %s to %llu: %s", what, (unsigned long long)v,
                 strerror(errno));
}

static void limits(bool privileged, int fds_open, uint64_t max_file_size, uint64_t mapped)
{
    /* descriptors: those open now, plus libslirp's connections or a margin */
    set_limit(RLIMIT_NOFILE, (uint64_t)fds_open + (cfg.host_network ? 1024 : 64), "open files");
    /* the largest file it writes: a disk grown to its full size (qcow2 metadata
     * included), a log; writes beyond fail with EFBIG instead of SIGXFSZ */
    signal(SIGXFSZ, SIG_IGN);
    uint64_t fsize = max_file_size;
    if (fsize < (1ull << 30)) fsize = 1ull << 30;
    /* a saved state (control "save", hibernation) holds all of RAM, the
     * ROM and the devices' sections */
    if (fsize < cfg.ram_bytes + (256ull << 20)) fsize = cfg.ram_bytes + (256ull << 20);
    set_limit(RLIMIT_FSIZE, fsize, "file size");
    set_limit(RLIMIT_CORE, 0, "core dumps");
    set_limit(RLIMIT_MEMLOCK, 0, "locked memory");
#ifndef __SANITIZE_ADDRESS__
    /* guest RAM, files mapped at boot, and per thread its stack and malloc arena */
    uint64_t threads = (uint64_t)(cfg.ncpus + cfg.ndisks * VIRTIO_BLK_WORKERS + cfg.nnics + 8);
    set_limit(RLIMIT_AS,
              cfg.ram_bytes + mapped + cfg.jit_bytes + (1ull << 30) + threads * (80ull << 20),
              "address space");
#else
    (void)mapped;
    log_info("sandbox: no address-space limit under AddressSanitizer (its shadow reserves TiBs)");
#endif
    /* a weight raised at run time lowers the nice value; that needs
     * CAP_SYS_NICE, gone with the uid, or RLIMIT_NICE: up to -20 if root may
     * raise it (CAP_SYS_RESOURCE); otherwise only the weight given at start
     * (applied before this) can be above the caller's */
    struct rlimit nl = {40, 40};
    if (privileged && setrlimit(RLIMIT_NICE, &nl) < 0)
        log_info("sandbox: RLIMIT_NICE stays (%s): weights raised at run time need the nice "
                 "the VMM started with",
                 strerror(errno));
}

/* ---- identity and capabilities ---------------------------------------------------------- */

static int drop_privileges(char *why, size_t len)
{
    /* the bounding set first (needs CAP_SETPCAP, which root or the user
     * namespace's owner has), then the uid, then whatever is left */
    for (int cap = 0; cap <= 63; cap++)
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno == EINVAL) break;
    if (cfg.uid_given) {
        if (setgroups(0, NULL) < 0 || setresgid(cfg.gid, cfg.gid, cfg.gid) < 0 ||
            setresuid(cfg.uid, cfg.uid, cfg.uid) < 0) {
            snprintf(why, len, "cannot drop to uid %u gid %u: %s", (unsigned)cfg.uid,
                     (unsigned)cfg.gid, strerror(errno));
            return -1;
        }
        if (getuid() == 0 || geteuid() == 0) {
            snprintf(why, len, "still root after dropping to uid %u", (unsigned)cfg.uid);
            return -1;
        }
    }
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
    struct __user_cap_data_struct data[2] = {{0}};
    if (syscall(SYS_capset, &hdr, data) < 0) {
        snprintf(why, len, "cannot drop capabilities: %s", strerror(errno));
        return -1;
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
        snprintf(why, len, "cannot set no_new_privs: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* ---- Landlock ---------------------------------------------------------------------------- */

#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif
#define LL_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#define LL_SCOPE_SIGNAL               (1ULL << 1)

struct ll_ruleset_attr {
    uint64_t handled_access_fs, handled_access_net, scoped;
};

/* No file system access but reading /etc/resolv.conf (with a user-mode NIC);
 * no signals or abstract sockets outside the VMM (ABI 6). */
static void landlock(void)
{
    long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
    if (abi < 1) {
        log_warn("sandbox: no Landlock (%s): files are confined by %s", strerror(errno),
                 have_mntns ? "the private root and seccomp" : "seccomp alone");
        return;
    }
    struct ll_ruleset_attr attr = {0};
    attr.handled_access_fs = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1; /* ABI 1: bits 0-12 */
    if (abi >= 2) attr.handled_access_fs |= LANDLOCK_ACCESS_FS_REFER;
    if (abi >= 3) attr.handled_access_fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
    if (abi >= 5) attr.handled_access_fs |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
    size_t size = sizeof(uint64_t);
    if (abi >= 4) size = 2 * sizeof(uint64_t);
    if (abi >= 6) {
        attr.scoped = LL_SCOPE_ABSTRACT_UNIX_SOCKET | LL_SCOPE_SIGNAL;
        size = sizeof(attr);
    }
    int rs = (int)syscall(SYS_landlock_create_ruleset, &attr, size, 0);
    if (rs < 0) {
        log_warn("sandbox: cannot create a Landlock ruleset: %s", strerror(errno));
        return;
    }
    if (cfg.host_network) {
        struct landlock_path_beneath_attr pb = {.allowed_access = LANDLOCK_ACCESS_FS_READ_FILE};
        pb.parent_fd = open("/etc/resolv.conf", O_PATH | O_CLOEXEC);
        if (pb.parent_fd >= 0) {
            if (syscall(SYS_landlock_add_rule, rs, LANDLOCK_RULE_PATH_BENEATH, &pb, 0) < 0)
                log_warn("sandbox: Landlock: /etc/resolv.conf: %s", strerror(errno));
            close(pb.parent_fd);
        }
    }
    if (syscall(SYS_landlock_restrict_self, rs, 0) < 0)
        log_warn("sandbox: cannot enforce Landlock: %s", strerror(errno));
    else
        log_info("sandbox: Landlock ABI %ld", abi);
    close(rs);
}

/* ---- seccomp ----------------------------------------------------------------------------- */

static int add_rule(scmp_filter_ctx ctx, const struct rule *r, int nr)
{
    uint32_t allow = SCMP_ACT_ALLOW;
    pid_t self = getpid();
    switch (r->check) {
    case PLAIN: return seccomp_rule_add(ctx, allow, nr, 0);
    case NO_EXEC:
        return seccomp_rule_add(ctx, allow, nr, 1, SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
    case THREAD_ONLY:
        return seccomp_rule_add(ctx, allow, nr, 1,
                                SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
    case SELF: return seccomp_rule_add(ctx, allow, nr, 1, SCMP_A0(SCMP_CMP_EQ, (uint64_t)self));
    case EMPTY_PATH: {
        int arg = strcmp(r->name, "statx") == 0 ? 2 : 3;
        struct scmp_arg_cmp c = {(unsigned)arg, SCMP_CMP_MASKED_EQ, AT_EMPTY_PATH, AT_EMPTY_PATH};
        return seccomp_rule_add_array(ctx, allow, nr, 1, &c);
    }
    case FCNTL_CMDS: {
        static const int cmds[] = {F_GETFL,         F_SETFL,     F_GETFD,     F_SETFD,
                                   F_DUPFD_CLOEXEC, F_OFD_GETLK, F_OFD_SETLK, F_OFD_SETLKW,
                                   F_GETLK,         F_SETLK,     F_SETLKW,
                                   F_ADD_SEALS,     F_GET_SEALS};
        for (size_t k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++)
            if (seccomp_rule_add(ctx, allow, nr, 1, SCMP_A1(SCMP_CMP_EQ, (uint64_t)cmds[k])) < 0)
                return -1;
        return 0;
    }
    case IOCTL_CMDS: {
        static const unsigned long cmds[] = {TCGETS,    TCSETS,     TCSETSW,    TCSETSF,
                                             FIONREAD,  FIONBIO,    TIOCGWINSZ, BLKGETSIZE64,
                                             BLKSSZGET, BLKDISCARD, BLKZEROOUT};
        for (size_t k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++)
            if (seccomp_rule_add(ctx, allow, nr, 1, SCMP_A1(SCMP_CMP_EQ, (uint64_t)cmds[k])) < 0)
                return -1;
        return 0;
    }
    case PRCTL_NAME:
        if (seccomp_rule_add(ctx, allow, nr, 1, SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME)) < 0) return -1;
        if (seccomp_rule_add(ctx, allow, nr, 1, SCMP_A0(SCMP_CMP_EQ, PR_SET_VMA)) < 0) return -1;
        return seccomp_rule_add(ctx, allow, nr, 1, SCMP_A0(SCMP_CMP_EQ, PR_GET_NAME));
    case SOCK_UNIX: return seccomp_rule_add(ctx, allow, nr, 1, SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
    case SOCK_IP:
        if (!cfg.host_network) return 0;
        if (seccomp_rule_add(ctx, allow, nr, 1, SCMP_A0(SCMP_CMP_EQ, AF_INET)) < 0) return -1;
        return seccomp_rule_add(ctx, allow, nr, 1, SCMP_A0(SCMP_CMP_EQ, AF_INET6));
    case READ_ONLY: {
        const uint64_t bad[] = {O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND, __O_TMPFILE};
        if (!cfg.host_network) return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), nr, 0);
        uint64_t mask = 0;
        for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
            mask |= bad[k];
        if (seccomp_rule_add(ctx, allow, nr, 1, SCMP_A2(SCMP_CMP_MASKED_EQ, mask, 0)) < 0)
            return -1;
        for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
            if (seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), nr, 1,
                                 SCMP_A2(SCMP_CMP_MASKED_EQ, bad[k], bad[k])) < 0)
                return -1;
        return 0;
    }
    case DENY_EACCES: return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), nr, 0);
    case DENY_ENOSYS: return seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0);
    }
    return -1;
}

/* How permissive a check is: of two rules for one system call in a list,
 * the more permissive wins (the main thread's list is the union of all). */
static int rank(enum check c)
{
    switch (c) {
    case PLAIN: return 3;
    case READ_ONLY: return 2;
    case DENY_EACCES:
    case DENY_ENOSYS: return 0;
    default: return 1;
    }
}

static int add_rules(scmp_filter_ctx ctx, const struct rule **list, size_t n, unsigned roles)
{
    for (size_t k = 0; k < n; k++) {
        if (!(list[k]->roles & roles)) continue;
        bool beaten = false;
        for (size_t j = 0; j < n && !beaten; j++)
            beaten = j != k && (list[j]->roles & roles) &&
                     strcmp(list[j]->name, list[k]->name) == 0 &&
                     rank(list[j]->check) > rank(list[k]->check);
        if (beaten) continue;
        int nr = seccomp_syscall_resolve_name(list[k]->name);
        if (nr == __NR_SCMP_ERROR) continue; /* not on this architecture */
        int rc = add_rule(ctx, list[k], nr);
        if (rc < 0 && rc != -EEXIST) {
            log_error("sandbox: seccomp rule for %s: %s", list[k]->name, strerror(-rc));
            return -1;
        }
    }
    return 0;
}

/* Joining the cgroups takes a cgroup migration per hierarchy, each waiting
 * for an RCU grace period (15 ms in all on a cgroup v1 host): a thread does
 * it while the VMM loads the guest, and sandbox_activate waits for it. */
static pthread_t join_thread;
static bool joining;

static void *cgroup_join_main(void *arg)
{
    (void)arg;
    cgroup_join();
    return NULL;
}

static void cgroup_join_start(void)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old); /* signals stay the signal thread's */
    joining = pthread_create(&join_thread, NULL, cgroup_join_main, NULL) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void cgroup_join_finish(bool root)
{
    if (joining)
        pthread_join(join_thread, NULL);
    else if (root || have_userns)
        cgroup_join();
    joining = false;
}

/* Compile one kind's list into a BPF program (exported through a pipe:
 * libseccomp 2.5 exports to a descriptor only). */
static int build(enum thread_role role, struct bpf *out)
{
    uint32_t deny = audit_mode() ? SCMP_ACT_LOG : SCMP_ACT_KILL_PROCESS;
    scmp_filter_ctx ctx = seccomp_init(deny);
    if (!ctx) return -1;
    int rc = -1, p[2] = {-1, -1};
    /* the main thread's threads inherit its filter before narrowing
     * themselves: its list is the union of every kind's */
    const struct rule
        *list[sizeof(rules) / sizeof(rules[0]) + sizeof(jit_rules) / sizeof(jit_rules[0])];
    size_t n = 0;
    for (size_t k = 0; k < sizeof(rules) / sizeof(rules[0]); k++)
        list[n++] = &rules[k];
    for (size_t k = 0; cfg.jit && k < sizeof(jit_rules) / sizeof(jit_rules[0]); k++)
        list[n++] = &jit_rules[k];
    if (add_rules(ctx, list, n, role == ROLE_MAIN ? ALL : R(role)) < 0) goto out;
    if (pipe2(p, O_CLOEXEC) < 0 || fcntl(p[1], F_SETPIPE_SZ, 1 << 20) < 0) goto out;
    if (seccomp_export_bpf(ctx, p[1]) < 0) goto out;
    close(p[1]);
    p[1] = -1;
    size_t cap = 4096 * sizeof(struct sock_filter), len = 0;
    uint8_t *buf = malloc(cap);
    for (ssize_t n; buf && (n = read(p[0], buf + len, cap - len)) > 0;) {
        len += (size_t)n;
        if (len == cap) break;
    }
    if (!buf || len == 0 || len % sizeof(struct sock_filter) || len == cap) {
        free(buf);
        goto out;
    }
    out->insns = (struct sock_filter *)buf;
    out->len = (unsigned short)(len / sizeof(struct sock_filter));
    rc = 0;
out:
    if (p[0] >= 0) close(p[0]);
    if (p[1] >= 0) close(p[1]);
    seccomp_release(ctx);
    return rc;
}

static int install(enum thread_role role, unsigned flags)
{
    struct sock_fprog prog = {.len = filters[role].len, .filter = filters[role].insns};
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &prog);
}

/* threadrole.h's hook: narrow the calling thread once. */
static void narrow(enum thread_role role)
{
    if (narrowed_to == (int)role || role == ROLE_MAIN) return;
    if (narrowed_to >= 0) {
        /* a thread never changes its kind; if it did, keep the first list */
        return;
    }
    if (install(role, 0) < 0) {
        log_error("sandbox: cannot narrow a thread's system calls: %s", strerror(errno));
        _exit(125);
    }
    narrowed_to = (int)role;
}

#ifdef __SANITIZE_ADDRESS__
/* LeakSanitizer's exit check stops the world with ptrace from a cloned
 * process: nothing a sandboxed VMM may do. Run with --sandbox off to check
 * leaks (the test suite does for its leak runs). */
int __lsan_is_turned_off(void);
int __lsan_is_turned_off(void)
{
    return atomic_load(&active);
}
#endif

void sandbox_add_nic(struct sandbox_config *c, const char *backend)
{
    if (strncmp(backend, "user", 4) == 0) {
        c->host_network = true;
        return;
    }
    if (strncmp(backend, "switch=", 7) != 0 || c->nkeep == SANDBOX_MAX_KEEP) return;
    /* the socket's directory: a restarted switch makes a new socket there */
    const char *path = backend + 7;
    size_t len = strcspn(path, ",");
    char *dir = strndup(path, len);
    char *slash = dir ? strrchr(dir, '/') : NULL;
    if (!slash) {
        free(dir);
        return;
    }
    if (slash == dir)
        slash[1] = 0;
    else
        *slash = 0;
    c->keep[c->nkeep++] = dir; /* lives as long as the process */
}

int sandbox_activate(struct machine *m, char *err, size_t errlen)
{
    if (!prepared || !cfg.on) return 0;
    bool root = geteuid() == 0;
    /* the largest file the VM writes: a disk at its full size with format
     * metadata (qcow2: tables, refcounts; an eighth is ample) */
    uint64_t max_file = 0, mapped = 0;
    for (int k = 0; k < m->ndisks; k++) {
        uint64_t sz = virtio_blk_size(m->disks[k]);
        sz += sz / 8 + (64ull << 20);
        if (sz > max_file) max_file = sz;
    }
    for (int k = 0; k < cfg.nboot; k++) {
        struct stat st;
        if (cfg.boot_files[k] && stat(cfg.boot_files[k], &st) == 0) mapped += (uint64_t)st.st_size;
    }
    for (int r = 0; r < ROLE_COUNT; r++)
        if (build((enum thread_role)r, &filters[r]) < 0) {
            snprintf(err, errlen, "cannot build the seccomp filters (libseccomp)");
            return -1;
        }
    cgroup_join_finish(root);
    int fds_open = highest_fd(); /* before /proc goes away with the old root */
    char why[256];
    if (have_mntns && private_root(why, sizeof(why)) < 0) {
        /* half a private root is still a namespace of our own: go on without it */
        log_warn("sandbox: no private root (%s): files are confined by Landlock and seccomp", why);
        have_mntns = false;
    }
    limits(root, fds_open, max_file, mapped);
    if (drop_privileges(err, errlen) < 0) return -1;
    landlock();
    if (audit_mode())
        log_warn("sandbox: KUMO_SANDBOX_AUDIT is set: forbidden system calls are logged "
                 "(kernel audit log), not stopped");
    long rc = install(ROLE_MAIN, SECCOMP_FILTER_FLAG_TSYNC);
    if (rc != 0) {
        snprintf(err, errlen, "cannot install the seccomp filter: %s",
                 rc < 0 ? strerror(errno) : "a thread refused it");
        return -1;
    }
    narrowed_to = ROLE_MAIN;
    fileset_seal();
    atomic_store(&active, true);
    atomic_store_explicit(&thread_role_hook, narrow, memory_order_release);
    log_info("sandbox: on (uid %u, gid %u; %s%s%sseccomp on every thread)", (unsigned)getuid(),
             (unsigned)getgid(), have_userns ? "user namespace, " : "",
             have_mntns ? "private root, " : "", cfg.host_network ? "" : "no IP sockets, ");
    return 0;
}

/* ---- test-only triggers ------------------------------------------------------------------ */

int sandbox_test(const char *what, char *msg, size_t len)
{
    if (!sandbox_active()) {
        snprintf(msg, len, "the sandbox is off: nothing to test");
        return -1;
    }
    if (strncmp(what, "open:", 5) == 0) {
        int fd = open(what + 5, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            close(fd);
            snprintf(msg, len, "opened");
        } else {
            snprintf(msg, len, "refused: %s", strerror(errno));
        }
        return 0;
    }
    if (strcmp(what, "forbidden") == 0) {
        log_warn("sandbox test: making a forbidden system call (execve); the VMM dies with "
                 "SIGSYS");
        char *argv[] = {"/bin/sh", NULL};
        execve("/bin/sh", argv, NULL);
        snprintf(msg, len, "execve returned: %s (the sandbox did not stop it)", strerror(errno));
        return -1;
    }
    snprintf(msg, len, "unknown test '%.40s': use open:PATH or forbidden", what);
    return -1;
}
