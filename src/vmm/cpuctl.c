/*
 * cpuctl.c - kumo-vmm's CPU cap, weight and affinity, and the per-vCPU
 * time accounting (see cpuctl.h).
 */
#include "vmm/cpuctl.h"

#include "cpu/hart.h"
#include "machine/machine.h"
#include "machine/sbi.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

struct vcpu {
    pthread_mutex_t lock; /* guards running, tid, cid, busy_done, idle_done */
    bool running;
    pid_t tid;
    clockid_t cid;
    uint64_t busy_done, idle_done; /* from threads that have ended (reboots) */
    _Atomic uint64_t throttled_ns;
    /* owned by the vCPU thread */
    struct cpu_bucket bucket;
    uint64_t next_check_ns;
    /* steal time for SBI STA: wall - busy - idle since the first check */
    bool sta_primed;
    uint64_t sta_wall0, sta_cpu0, sta_idle0, sta_last;
};

struct cpuctl {
    _Atomic uint32_t cap_bp;
    pthread_mutex_t cfg_lock; /* guards cfg and applying it */
    struct cpuctl_config cfg;
    bool own_group; /* the nice goes to /proc/self/autogroup */
    /* /proc/self/autogroup and /proc/self/task, opened at start: a
     * sandboxed VMM (vmm/sandbox.h) opens nothing later and has no /proc */
    int autogroup_fd, task_fd;
    int n;
    struct vcpu v[];
};

static uint64_t clock_ns(clockid_t id)
{
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0) return 0;
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- pure helpers ----------------------------------------------------------- */

uint64_t cpu_bucket_step(struct cpu_bucket *b, uint64_t wall_ns, uint64_t cpu_ns, uint32_t cap_bp)
{
    int64_t quota = (int64_t)(CPUCTL_PERIOD_NS * cap_bp / 10000);
    if (!b->primed) {
        *b = (struct cpu_bucket){
            .credit_ns = quota, .last_wall_ns = wall_ns, .last_cpu_ns = cpu_ns, .primed = true};
        return 0;
    }
    uint64_t dw = wall_ns > b->last_wall_ns ? wall_ns - b->last_wall_ns : 0;
    uint64_t dc = cpu_ns > b->last_cpu_ns ? cpu_ns - b->last_cpu_ns : 0;
    if (dw > 10000000000ull) dw = 10000000000ull; /* the bucket is full long before */
    if (dc > 10000000000ull) dc = 10000000000ull;
    b->last_wall_ns = wall_ns;
    b->last_cpu_ns = cpu_ns;
    b->credit_ns += (int64_t)(dw * cap_bp / 10000);
    if (b->credit_ns > quota) b->credit_ns = quota;
    b->credit_ns -= (int64_t)dc;
    if (b->credit_ns >= 0 || cap_bp == 0) return 0;
    return ((uint64_t)(-b->credit_ns) * 10000 + cap_bp - 1) / cap_bp; /* rounded up */
}

bool cpuctl_parse_cap(const char *s, uint32_t *cap_bp)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 1.0) || v > 100.0) return false;
    uint32_t bp = (uint32_t)lround(v * 100.0);
    *cap_bp = bp >= 10000 ? 0 : bp;
    return true;
}

int cpuctl_weight_to_nice(int weight)
{
    if (weight < 1) weight = 1;
    if (weight > CPUCTL_WEIGHT_MAX) weight = CPUCTL_WEIGHT_MAX;
    /* the kernel's weights step by about 1.25 per nice level, 1024 at 0 */
    double n = log(100.0 / weight) / log(1.25);
    long r = lround(n);
    return r < -20 ? -20 : r > 19 ? 19 : (int)r;
}

bool cpuctl_parse_cpulist(const char *s, cpu_set_t *set, char *err, size_t errlen)
{
    CPU_ZERO(set);
    const char *p = s;
    if (!*p) goto bad;
    while (*p) {
        char *end;
        errno = 0;
        if (*p < '0' || *p > '9') goto bad;
        unsigned long a = strtoul(p, &end, 10), b = a;
        if (errno) goto bad;
        p = end;
        if (*p == '-') {
            p++;
            if (*p < '0' || *p > '9') goto bad;
            b = strtoul(p, &end, 10);
            if (errno) goto bad;
            p = end;
        }
        if (b < a || b >= CPU_SETSIZE) {
            snprintf(err, errlen, "CPU list '%s': range %lu-%lu is empty or beyond CPU %d", s, a, b,
                     CPU_SETSIZE - 1);
            return false;
        }
        for (unsigned long k = a; k <= b; k++)
            CPU_SET(k, set);
        if (*p == ',') {
            p++;
            if (!*p) goto bad;
        } else if (*p) {
            goto bad;
        }
    }
    return true;
bad:
    snprintf(err, errlen, "CPU list '%s': write host CPU numbers and ranges like 0-3,6", s);
    return false;
}

void cpuctl_format_cpulist(const cpu_set_t *set, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = 0;
    for (int k = 0; k < CPU_SETSIZE; k++) {
        if (!CPU_ISSET(k, set)) continue;
        int e = k;
        while (e + 1 < CPU_SETSIZE && CPU_ISSET(e + 1, set))
            e++;
        int n = e > k ? snprintf(buf + used, len - used, "%s%d-%d", used ? "," : "", k, e)
                      : snprintf(buf + used, len - used, "%s%d", used ? "," : "", k);
        if (n < 0 || (size_t)n >= len - used) return;
        used += (size_t)n;
        k = e;
    }
}

/* ---- applying a configuration ---------------------------------------------- */

static bool autogroup_enabled(void)
{
    char buf[8] = "";
    int fd = open("/proc/sys/kernel/sched_autogroup_enabled", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return false;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    return n > 0 && buf[0] == '1';
}

struct cpuctl *cpuctl_new(int nvcpus)
{
    struct cpuctl *c = calloc(1, sizeof(*c) + (size_t)nvcpus * sizeof(struct vcpu));
    if (!c) return NULL;
    c->n = nvcpus;
    c->cfg.weight = CPUCTL_WEIGHT_DEFAULT;
    pthread_mutex_init(&c->cfg_lock, NULL);
    for (int k = 0; k < nvcpus; k++)
        pthread_mutex_init(&c->v[k].lock, NULL);
    c->autogroup_fd = -1;
    if (getsid(0) == getpid() && autogroup_enabled())
        c->autogroup_fd = open("/proc/self/autogroup", O_WRONLY | O_CLOEXEC);
    c->own_group = c->autogroup_fd >= 0;
    c->task_fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return c;
}

void cpuctl_free(struct cpuctl *c)
{
    if (!c) return;
    for (int k = 0; k < c->n; k++)
        pthread_mutex_destroy(&c->v[k].lock);
    pthread_mutex_destroy(&c->cfg_lock);
    if (c->autogroup_fd >= 0) close(c->autogroup_fd);
    if (c->task_fd >= 0) close(c->task_fd);
    free(c);
}

const char *cpuctl_weight_target(struct cpuctl *c)
{
    return c->own_group ? "session group" : "vCPU threads";
}

static int nice_error(int weight, int nice, int err, char *msg, size_t len)
{
    if (err == EACCES || err == EPERM)
        snprintf(msg, len,
                 "weight %d (nice %d) needs CAP_SYS_NICE: run kumo-vmm as root or with that "
                 "capability, or give a weight of 100 or less",
                 weight, nice);
    else
        snprintf(msg, len, "cannot set weight %d (nice %d): %s", weight, nice, strerror(err));
    return -1;
}

/* Under cfg_lock. */
static int apply_weight(struct cpuctl *c, char *err, size_t errlen)
{
    int nice = cpuctl_weight_to_nice(c->cfg.weight);
    if (c->own_group) {
        char buf[16];
        int n = snprintf(buf, sizeof(buf), "%d", nice);
        ssize_t w = write(c->autogroup_fd, buf, (size_t)n);
        return w == n ? 0 : nice_error(c->cfg.weight, nice, errno, err, errlen);
    }
    int rc = 0, running = 0;
    for (int k = 0; k < c->n; k++) {
        struct vcpu *v = &c->v[k];
        pthread_mutex_lock(&v->lock);
        running += v->running;
        if (v->running && setpriority(PRIO_PROCESS, (id_t)v->tid, nice) < 0 && rc == 0)
            rc = nice_error(c->cfg.weight, nice, errno, err, errlen);
        pthread_mutex_unlock(&v->lock);
    }
    /* At start (no vCPU thread yet): the calling thread, main, whose nice the
     * threads it starts inherit; it is set while the VMM still has the
     * privileges a nice below the current one needs (vmm/sandbox.h). */
    if (!running && setpriority(PRIO_PROCESS, 0, nice) < 0)
        rc = nice_error(c->cfg.weight, nice, errno, err, errlen);
    return rc;
}

/* Every thread of the process (the vCPUs, the devices' and the control
 * socket's); threads started later inherit the mask of their creator. */
static int apply_affinity(struct cpuctl *c, const cpu_set_t *set, char *err, size_t errlen)
{
    int fd = c->task_fd >= 0 ? fcntl(c->task_fd, F_DUPFD_CLOEXEC, 0) : -1;
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0) close(fd);
        snprintf(err, errlen, "cannot list the VMM's threads: %s", strerror(errno));
        return -1;
    }
    int rc = 0;
    rewinddir(d); /* the duplicate shares the offset of the last listing */
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9') continue;
        pid_t tid = (pid_t)atoi(de->d_name);
        if (sched_setaffinity(tid, sizeof(*set), set) < 0 && errno != ESRCH && rc == 0) {
            char list[256];
            cpuctl_format_cpulist(set, list, sizeof(list));
            snprintf(err, errlen,
                     "cannot run on host CPUs %s: %s (see /proc/self/status "
                     "Cpus_allowed_list for the CPUs this process may use)",
                     list, strerror(errno));
            rc = -1;
        }
    }
    closedir(d);
    return rc;
}

int cpuctl_set(struct cpuctl *c, const struct cpuctl_config *cfg, char *err, size_t errlen)
{
    if (cfg->weight < 1 || cfg->weight > CPUCTL_WEIGHT_MAX) {
        snprintf(err, errlen, "weight %d: give a share from 1 to %d (100 is the default)",
                 cfg->weight, CPUCTL_WEIGHT_MAX);
        return -1;
    }
    if (cfg->cap_bp > 10000) {
        snprintf(err, errlen, "cap: give a percentage of a core from 1 to 100");
        return -1;
    }
    pthread_mutex_lock(&c->cfg_lock);
    int rc = 0;
    if (cfg->has_affinity && apply_affinity(c, &cfg->affinity, err, errlen) < 0) {
        rc = -1;
    } else if (cfg->has_affinity) {
        c->cfg.has_affinity = true;
        c->cfg.affinity = cfg->affinity;
    }
    if (rc == 0 && cfg->weight != c->cfg.weight) {
        int old = c->cfg.weight;
        c->cfg.weight = cfg->weight;
        if (apply_weight(c, err, errlen) < 0) {
            c->cfg.weight = old;
            rc = -1;
        }
    }
    if (rc == 0) {
        c->cfg.cap_bp = cfg->cap_bp == 10000 ? 0 : cfg->cap_bp;
        atomic_store(&c->cap_bp, c->cfg.cap_bp);
    }
    pthread_mutex_unlock(&c->cfg_lock);
    return rc;
}

void cpuctl_get(struct cpuctl *c, struct cpuctl_config *out)
{
    pthread_mutex_lock(&c->cfg_lock);
    *out = c->cfg;
    pthread_mutex_unlock(&c->cfg_lock);
}

/* ---- vCPU threads ------------------------------------------------------------- */

void cpuctl_thread_start(struct cpuctl *c, int vcpu)
{
    if (!c || vcpu < 0 || vcpu >= c->n) return;
    struct vcpu *v = &c->v[vcpu];
    pthread_mutex_lock(&c->cfg_lock);
    pthread_mutex_lock(&v->lock);
    v->tid = gettid();
    if (pthread_getcpuclockid(pthread_self(), &v->cid) != 0) v->cid = CLOCK_THREAD_CPUTIME_ID;
    v->running = true;
    pthread_mutex_unlock(&v->lock);
    int nice = cpuctl_weight_to_nice(c->cfg.weight);
    if (!c->own_group && nice != 0 && setpriority(PRIO_PROCESS, (id_t)v->tid, nice) < 0) {
        /* cpuctl_set already told the user at start; keep running unweighted */
    }
    pthread_mutex_unlock(&c->cfg_lock);
    v->bucket.primed = false;
    v->next_check_ns = 0;
    v->sta_primed = false;
    v->sta_last = 0;
}

void cpuctl_thread_end(struct cpuctl *c, int vcpu, uint64_t hart_idle_ns)
{
    if (!c || vcpu < 0 || vcpu >= c->n) return;
    struct vcpu *v = &c->v[vcpu];
    pthread_mutex_lock(&v->lock);
    v->busy_done += clock_ns(CLOCK_THREAD_CPUTIME_ID);
    v->idle_done += hart_idle_ns;
    v->running = false;
    pthread_mutex_unlock(&v->lock);
}

/* Steal time as the guest should see it: time its vCPU was neither running
 * (thread CPU time) nor idle (WFI): throttled by the cap, or waiting for a
 * host core. Never decreases. */
static void publish_steal(struct hart *h, struct vcpu *v, uint64_t now, uint64_t cpu)
{
    uint64_t idle = atomic_load_explicit(&h->idle_ns, memory_order_relaxed);
    if (!v->sta_primed) {
        v->sta_primed = true;
        v->sta_wall0 = now;
        v->sta_cpu0 = cpu;
        v->sta_idle0 = idle;
    }
    uint64_t wall = now - v->sta_wall0, used = (cpu - v->sta_cpu0) + (idle - v->sta_idle0);
    uint64_t steal = wall > used ? wall - used : 0;
    if (steal > v->sta_last) v->sta_last = steal;
    sbi_sta_publish(h, v->sta_last);
}

void cpuctl_pace(struct hart *h, void *arg)
{
    struct cpuctl *c = arg;
    if (h->id < 0 || h->id >= c->n) return;
    struct vcpu *v = &c->v[h->id];
    uint32_t cap = atomic_load_explicit(&c->cap_bp, memory_order_relaxed);
    if (!cap) v->bucket.primed = false;
    if (!cap && !h->sta_shmem) return;
    uint64_t now = clock_ns(CLOCK_MONOTONIC);
    if (now < v->next_check_ns) return;
    v->next_check_ns = now + CPUCTL_CHECK_NS;
    uint64_t cpu = clock_ns(CLOCK_THREAD_CPUTIME_ID);
    uint64_t wait = cap ? cpu_bucket_step(&v->bucket, now, cpu, cap) : 0;
    while (wait) {
        /* sleep in slices, so a stop or a lifted cap is seen within 10 ms */
        uint64_t slice = wait < 10000000ull ? wait : 10000000ull;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)slice};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
        }
        uint64_t t = clock_ns(CLOCK_MONOTONIC);
        atomic_fetch_add_explicit(&v->throttled_ns, t - now, memory_order_relaxed);
        now = t;
        cpu = clock_ns(CLOCK_THREAD_CPUTIME_ID);
        if (atomic_load_explicit(&h->m->stop, memory_order_relaxed)) return;
        cap = atomic_load_explicit(&c->cap_bp, memory_order_relaxed);
        if (!cap) {
            v->bucket.primed = false;
            break;
        }
        wait = cpu_bucket_step(&v->bucket, now, cpu, cap);
    }
    v->next_check_ns = now + CPUCTL_CHECK_NS;
    if (h->sta_shmem) publish_steal(h, v, now, cpu);
}

void cpuctl_times(struct cpuctl *c, int vcpu, uint64_t live_idle_ns, struct vcpu_times *out)
{
    *out = (struct vcpu_times){0};
    if (!c || vcpu < 0 || vcpu >= c->n) return;
    struct vcpu *v = &c->v[vcpu];
    pthread_mutex_lock(&v->lock);
    out->busy_ns = v->busy_done + (v->running ? clock_ns(v->cid) : 0);
    out->idle_ns = v->idle_done + (v->running ? live_idle_ns : 0);
    pthread_mutex_unlock(&v->lock);
    out->throttled_ns = atomic_load(&v->throttled_ns);
}
