/*
 * metrics.c - sampling kumo-vmm's counters, keeping them for the retention
 * period, and serving them as JSON time series and Prometheus text (see
 * metrics.h).
 */
#include "cloud/metrics.h"

#include "cloud/credits.h"
#include "cloud/db.h"
#include "cloud/kumod.h"
#include "cloud/netplane.h"
#include "cloud/paths.h"
#include "cloud/placement.h"
#include "cloud/timefmt.h"
#include "cloud/vmm_client.h"
#include "lib/log.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct prev {
    int64_t vm;
    uint64_t busy, up, throttled;
};

struct metrics {
    struct kumod *k;
    pthread_t thread;
    pthread_cond_t cv;
    bool stop;
    struct prev *prev;
    size_t nprev;
    int64_t last_prune;
};

struct sample {
    int64_t vm, pid, vcpus;
    bool ok;
    double cpu;       /* NAN: no rate yet */
    double throttled; /* percent of the vCPUs' time held back by the cap; NAN: no rate */
    int64_t mem_mib;
    double rss_mib;
    uint64_t up, busy, thr, rd_ops, rd_bytes, wr_ops, wr_bytes, rx_p, rx_b, tx_p, tx_b;
    /* B-series credits (burstable: the size has a credit policy) */
    bool burstable;
    struct credit_policy policy;
    struct credit_state credits;
    int64_t credits_ms;
    double vmm_cap; /* the cap kumo-vmm reports, percent (100: none) */
};

double metrics_cpu_percent(uint64_t busy0, uint64_t busy1, uint64_t up0, uint64_t up1, int vcpus)
{
    if (vcpus <= 0 || up1 <= up0 || busy1 < busy0) return 0.0;
    double pct = 100.0 * (double)(busy1 - busy0) / ((double)(up1 - up0) * vcpus);
    return pct < 0 ? 0 : pct > 100 ? 100 : pct;
}

static uint64_t u64(json_t *o, const char *key)
{
    json_int_t v = json_integer_value(json_object_get(o, key));
    return v > 0 ? (uint64_t)v : 0;
}

static double rss_mib(pid_t pid)
{
    char path[64], buf[4096];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NAN;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) return NAN;
    buf[n] = 0;
    char *p = strstr(buf, "VmRSS:");
    return p ? strtod(p + 6, NULL) / 1024.0 : NAN;
}

static void take(struct metrics *m, struct sample *s)
{
    struct kumod *k = m->k;
    char sock[PATH_MAX], err[256];
    json_t *req = json_pack("{s:s}", "op", "status");
    json_t *r =
        vmm_request(path_vm_file(k, sock, s->vm, "control.sock"), req, 2000, err, sizeof(err));
    json_decref(req);
    if (!r) return;
    size_t i;
    json_t *el;
    json_array_foreach(json_object_get(r, "vcpu_busy_ns"), i, el) s->busy +=
        (uint64_t)json_integer_value(el);
    json_array_foreach(json_object_get(r, "vcpu_throttled_ns"), i, el) s->thr +=
        (uint64_t)json_integer_value(el);
    json_t *cap = json_object_get(json_object_get(r, "cpu"), "cap_pct");
    s->vmm_cap = json_is_number(cap) ? json_number_value(cap) : 100.0;
    json_array_foreach(json_object_get(r, "disks"), i, el)
    {
        s->rd_ops += u64(el, "rd_ops");
        s->rd_bytes += u64(el, "rd_bytes");
        s->wr_ops += u64(el, "wr_ops");
        s->wr_bytes += u64(el, "wr_bytes");
    }
    json_array_foreach(json_object_get(r, "nics"), i, el)
    {
        s->rx_p += u64(el, "rx_packets");
        s->rx_b += u64(el, "rx_bytes");
        s->tx_p += u64(el, "tx_packets");
        s->tx_b += u64(el, "tx_bytes");
    }
    s->up = u64(r, "uptime_ns");
    s->mem_mib = (int64_t)u64(r, "mem_mib");
    int vcpus = (int)u64(r, "vcpus");
    json_decref(r);
    s->rss_mib = rss_mib((pid_t)s->pid);
    s->cpu = s->throttled = NAN;
    for (size_t j = 0; j < m->nprev; j++) {
        if (m->prev[j].vm != s->vm) continue;
        if (s->up > m->prev[j].up && s->busy >= m->prev[j].busy) {
            s->cpu = metrics_cpu_percent(m->prev[j].busy, s->busy, m->prev[j].up, s->up, vcpus);
            if (s->thr >= m->prev[j].throttled)
                s->throttled =
                    metrics_cpu_percent(m->prev[j].throttled, s->thr, m->prev[j].up, s->up, vcpus);
        }
        m->prev[j].busy = s->busy;
        m->prev[j].up = s->up;
        m->prev[j].throttled = s->thr;
        s->ok = true;
        return;
    }
    struct prev *np = realloc(m->prev, (m->nprev + 1) * sizeof(*np));
    if (np) {
        m->prev = np;
        m->prev[m->nprev++] = (struct prev){s->vm, s->busy, s->up, s->thr};
    }
    s->ok = true;
}

static void tick(struct metrics *m)
{
    struct kumod *k = m->k;
    struct db *db = k->db;
    struct sample *s = NULL;
    size_t n = 0;
    kumod_lock(k);
    netplane_check(k); /* a good moment to see that the switch still runs */
    sqlite3_stmt *st = db_stmt(db,
                               "SELECT v.id, v.pid, v.vcpus, s.burst, v.cpu_credits,"
                               " coalesce(v.credits_ms, 0), v.cpu_capped FROM vms v"
                               " JOIN sizes s ON s.id = v.size_id WHERE v.pid IS NOT NULL"
                               " AND v.power_state = 'Running' AND v.host_id = ? ORDER BY v.id",
                               "i", k->host_id);
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        struct sample *ns = realloc(s, (n + 1) * sizeof(*s));
        if (!ns) break;
        s = ns;
        s[n] = (struct sample){.vm = sqlite3_column_int64(st, 0),
                               .pid = sqlite3_column_int64(st, 1),
                               .vcpus = sqlite3_column_int64(st, 2)};
        s[n].burstable =
            !db_col_null(st, 4) &&
            credits_policy_parse(db_col_null(st, 3) ? NULL : db_col_text(st, 3), &s[n].policy);
        s[n].credits = (struct credit_state){.credits = sqlite3_column_double(st, 4),
                                             .capped = sqlite3_column_int(st, 6) != 0};
        s[n].credits_ms = sqlite3_column_int64(st, 5);
        n++;
    }
    sqlite3_finalize(st);
    kumod_unlock(k);
    if (k->vmm_has_control)
        for (size_t i = 0; i < n; i++)
            take(m, &s[i]);
    int64_t now = time_now_ms();
    /* B-series credits: account the interval at the measured CPU percent;
     * the first sample after a start has no rate and only restarts the
     * clock (a stopped VM neither banks nor spends) */
    for (size_t i = 0; i < n; i++) {
        if (!s[i].ok || !s[i].burstable) continue;
        if (!isnan(s[i].cpu) && s[i].credits_ms > 0 && now > s[i].credits_ms)
            credits_advance(&s[i].policy, &s[i].credits, s[i].cpu, now - s[i].credits_ms);
        else
            credits_advance(&s[i].policy, &s[i].credits, 0, 0);
        s[i].credits_ms = now;
        /* kumo-vmm's cap follows the state (and is put right if it drifted) */
        double want = s[i].credits.capped ? s[i].policy.baseline_pct : 100.0;
        if (fabs(s[i].vmm_cap - want) > 0.005 && k->vmm_has_control) {
            char sock[PATH_MAX], err[256];
            json_t *req = json_pack("{s:s,s:f}", "op", "set_cpu", "cap_pct", want);
            json_t *r = vmm_request(path_vm_file(k, sock, s[i].vm, "control.sock"), req, 2000, err,
                                    sizeof(err));
            json_decref(req);
            if (!r)
                log_warn("VM %" PRId64 ": cannot set its CPU cap to %g %%: %s", s[i].vm, want, err);
            else
                log_info("VM %" PRId64 ": %.3f CPU credits, %s", s[i].vm, s[i].credits.credits,
                         s[i].credits.capped ? "held to its baseline" : "may burst");
            json_decref(r);
        }
    }
    kumod_lock(k);
    if (db_begin(db) == 0) {
        int rc = 0;
        for (size_t i = 0; rc == 0 && i < n; i++) {
            if (!s[i].ok) continue;
            sqlite3_stmt *ins =
                db_stmt(db,
                        "INSERT OR REPLACE INTO metrics (vm_id, at_ms, cpu_pct, mem_mib, mem_used_mib,"
                        " uptime_ns, disk_rd_ops, disk_rd_bytes, disk_wr_ops, disk_wr_bytes,"
                        " net_rx_packets, net_rx_bytes, net_tx_packets, net_tx_bytes,"
                        " cpu_credits, cpu_throttled_pct)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        "ii", s[i].vm, now);
            if (!ins) {
                rc = -1;
                break;
            }
            if (isnan(s[i].cpu))
                sqlite3_bind_null(ins, 3);
            else
                sqlite3_bind_double(ins, 3, s[i].cpu);
            sqlite3_bind_int64(ins, 4, s[i].mem_mib);
            if (isnan(s[i].rss_mib))
                sqlite3_bind_null(ins, 5);
            else
                sqlite3_bind_double(ins, 5, s[i].rss_mib);
            uint64_t v[] = {s[i].up,   s[i].rd_ops, s[i].rd_bytes, s[i].wr_ops, s[i].wr_bytes,
                            s[i].rx_p, s[i].rx_b,   s[i].tx_p,     s[i].tx_b};
            for (int j = 0; j < 9; j++)
                sqlite3_bind_int64(ins, 6 + j, (int64_t)(v[j] & INT64_MAX));
            if (s[i].burstable)
                sqlite3_bind_double(ins, 15, s[i].credits.credits);
            else
                sqlite3_bind_null(ins, 15);
            if (isnan(s[i].throttled))
                sqlite3_bind_null(ins, 16);
            else
                sqlite3_bind_double(ins, 16, s[i].throttled);
            if (sqlite3_step(ins) != SQLITE_DONE) rc = -1;
            sqlite3_finalize(ins);
            if (rc == 0 && s[i].burstable)
                rc = db_exec(db,
                             "UPDATE vms SET cpu_credits = ?, credits_ms = ?, cpu_capped = ?"
                             " WHERE id = ? AND cpu_credits IS NOT NULL",
                             "diii", s[i].credits.credits, now, (int64_t)s[i].credits.capped,
                             s[i].vm);
        }
        if (rc == 0 && now - m->last_prune > 60000) {
            rc = db_exec(db, "DELETE FROM metrics WHERE at_ms < ?", "i",
                         now - (int64_t)k->cfg.metrics_retention * 1000);
            m->last_prune = now;
        }
        if (rc == 0) rc = db_commit_lazy(db); /* samples need no fsync */
        if (rc < 0) {
            log_warn("metrics: %s", db_errmsg(db));
            db_rollback(db);
        }
    }
    /* forget the previous counters of VMs that stopped */
    for (size_t j = 0; j < m->nprev;) {
        bool live = false;
        for (size_t i = 0; i < n && !live; i++)
            live = s[i].vm == m->prev[j].vm && s[i].ok;
        if (live)
            j++;
        else
            m->prev[j] = m->prev[--m->nprev];
    }
    kumod_unlock(k);
    free(s);
}

static void *run(void *arg)
{
    struct metrics *m = arg;
    struct kumod *k = m->k;
    for (;;) {
        kumod_lock(k);
        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        deadline.tv_sec += k->cfg.metrics_interval;
        while (!m->stop && pthread_cond_timedwait(&m->cv, &k->lock, &deadline) != ETIMEDOUT) {
        }
        bool stop = m->stop;
        kumod_unlock(k);
        if (stop) break;
        tick(m);
    }
    return NULL;
}

struct metrics *metrics_start(struct kumod *k)
{
    struct metrics *m = calloc(1, sizeof(*m));
    if (!m) return NULL;
    m->k = k;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&m->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&m->thread, NULL, run, m) != 0) {
        free(m);
        return NULL;
    }
    return m;
}

void metrics_stop(struct metrics *m)
{
    if (!m) return;
    kumod_lock(m->k);
    m->stop = true;
    pthread_cond_broadcast(&m->cv);
    kumod_unlock(m->k);
    pthread_join(m->thread, NULL);
    pthread_cond_destroy(&m->cv);
    free(m->prev);
    free(m);
}

/* ---- JSON series ---- */

static const struct {
    const char *name, *column;
    bool rate; /* per second between samples (cumulative counter) */
} series[] = {
    {"cpuPercent", "cpu_pct", false},
    {"memoryMiB", "mem_mib", false},
    {"memoryUsedMiB", "mem_used_mib", false},
    {"cpuCredits", "cpu_credits", false},
    {"cpuThrottledPercent", "cpu_throttled_pct", false},
    {"diskReadOps", "disk_rd_ops", true},
    {"diskWriteOps", "disk_wr_ops", true},
    {"diskReadBytes", "disk_rd_bytes", true},
    {"diskWriteBytes", "disk_wr_bytes", true},
    {"networkInPackets", "net_rx_packets", true},
    {"networkOutPackets", "net_tx_packets", true},
    {"networkInBytes", "net_rx_bytes", true},
    {"networkOutBytes", "net_tx_bytes", true},
};
#define NSERIES (sizeof(series) / sizeof(series[0]))
#define NGAUGES 5 /* the first NGAUGES series are values, the rest rates */

static bool wanted(const char *names, const char *name)
{
    if (!names || !*names) return true;
    size_t n = strlen(name);
    for (const char *p = names; (p = strstr(p, name)); p += n)
        if ((p == names || p[-1] == ',') && (p[n] == ',' || p[n] == 0)) return true;
    return false;
}

json_t *metrics_vm_series(struct kumod *k, int64_t vm, int64_t from, int64_t to, const char *names,
                          struct kerr *e)
{
    assert(kumod_lock_held(k));
    if (names && *names) { /* every name must be known */
        char buf[512];
        snprintf(buf, sizeof(buf), "%s", names);
        char *save = NULL;
        for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            bool known = false;
            for (size_t i = 0; i < NSERIES && !known; i++)
                known = strcmp(t, series[i].name) == 0;
            if (!known) {
                kerr_set(
                    e, 400, "InvalidQuery", "query.names",
                    "query.names: unknown metric '%.40s' (cpuPercent, memoryMiB, memoryUsedMiB, "
                    "cpuCredits, cpuThrottledPercent, diskReadOps, diskWriteOps, diskReadBytes, "
                    "diskWriteBytes, networkInPackets, "
                    "networkOutPackets, networkInBytes, networkOutBytes)",
                    t);
                return NULL;
            }
        }
    }
    json_t *out = json_object();
    for (size_t i = 0; i < NSERIES; i++)
        if (wanted(names, series[i].name)) json_object_set_new(out, series[i].name, json_array());
    sqlite3_stmt *st =
        db_stmt(k->db,
                "SELECT at_ms, uptime_ns, cpu_pct, mem_mib, mem_used_mib, cpu_credits,"
                " cpu_throttled_pct, disk_rd_ops,"
                " disk_wr_ops, disk_rd_bytes, disk_wr_bytes, net_rx_packets, net_tx_packets,"
                " net_rx_bytes, net_tx_bytes FROM metrics"
                " WHERE vm_id = ? AND at_ms >= ? AND at_ms <= ? ORDER BY at_ms",
                "iii", vm, from, to);
    int64_t pt = -1, pup = 0;
    double prev[8] = {0};
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        int64_t at = sqlite3_column_int64(st, 0), up = sqlite3_column_int64(st, 1);
        char tb[TIME_STRLEN];
        json_t *t = json_string(time_format(at, tb));
        for (size_t i = 0; i < NGAUGES; i++) {
            json_t *arr = json_object_get(out, series[i].name);
            if (arr && !db_col_null(st, 2 + (int)i))
                json_array_append_new(arr, json_pack("{s:O,s:f}", "at", t, "value",
                                                     sqlite3_column_double(st, 2 + (int)i)));
        }
        bool have_prev = pt >= 0 && at > pt && up > pup;
        for (size_t i = NGAUGES; i < NSERIES; i++) {
            double v = sqlite3_column_double(st, 2 + (int)i);
            json_t *arr = json_object_get(out, series[i].name);
            if (arr && have_prev && v >= prev[i - NGAUGES])
                json_array_append_new(
                    arr, json_pack("{s:O,s:f}", "at", t, "value",
                                   (v - prev[i - NGAUGES]) * 1000.0 / (double)(at - pt)));
            prev[i - NGAUGES] = v;
        }
        json_decref(t);
        pt = at;
        pup = up;
    }
    sqlite3_finalize(st);
    return json_pack("{s:i,s:o}", "intervalSeconds", k->cfg.metrics_interval, "metrics", out);
}

/* ---- Prometheus ---- */

struct buf {
    char *p;
    size_t len, cap;
};

static void put(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct buf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) return;
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 8192;
        while (cap < b->len + (size_t)n + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) return;
        b->p = np;
        b->cap = cap;
    }
}

/* Label values: escape backslash, quote and newline. */
static void label(char *out, size_t len, const char *s)
{
    size_t o = 0;
    for (; *s && o + 3 < len; s++) {
        if (*s == '\\' || *s == '"') out[o++] = '\\';
        if (*s == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
            continue;
        }
        out[o++] = *s;
    }
    out[o] = 0;
}

char *metrics_prometheus(struct kumod *k, size_t *len)
{
    assert(kumod_lock_held(k));
    static const struct {
        const char *name, *type, *help;
        int col;
        double scale;
    } m[] = {
        {"kumo_vm_cpu_percent", "gauge", "Busy time of the VM's vCPUs, percent of its vCPUs.", 0,
         1},
        {"kumo_vm_memory_bytes", "gauge", "Guest memory size.", 1, 1048576},
        {"kumo_vm_memory_used_bytes", "gauge", "Host memory the VM's process uses.", 2, 1048576},
        {"kumo_vm_disk_read_ops_total", "counter", "Disk read operations since the VM started.", 3,
         1},
        {"kumo_vm_disk_read_bytes_total", "counter", "Disk bytes read since the VM started.", 4, 1},
        {"kumo_vm_disk_write_ops_total", "counter", "Disk write operations since the VM started.",
         5, 1},
        {"kumo_vm_disk_write_bytes_total", "counter", "Disk bytes written since the VM started.", 6,
         1},
        {"kumo_vm_network_receive_packets_total", "counter", "Packets the guest received.", 7, 1},
        {"kumo_vm_network_receive_bytes_total", "counter", "Bytes the guest received.", 8, 1},
        {"kumo_vm_network_transmit_packets_total", "counter", "Packets the guest sent.", 9, 1},
        {"kumo_vm_network_transmit_bytes_total", "counter", "Bytes the guest sent.", 10, 1},
        {"kumo_vm_cpu_credits", "gauge", "B-series CPU credits banked (burstable sizes only).", 11,
         1},
        {"kumo_vm_cpu_throttled_percent", "gauge",
         "Time the VM's vCPUs were held back by their CPU cap, percent of its vCPUs.", 12, 1},
    };
    struct buf b = {0};
    put(&b, "%s", "");
    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
        put(&b, "# HELP %s %s\n# TYPE %s %s\n", m[i].name, m[i].help, m[i].name, m[i].type);
        sqlite3_stmt *st =
            db_stmt(k->db,
                    "SELECT g.name, v.name, x.cpu_pct, x.mem_mib, x.mem_used_mib, x.disk_rd_ops,"
                    " x.disk_rd_bytes, x.disk_wr_ops, x.disk_wr_bytes, x.net_rx_packets,"
                    " x.net_rx_bytes, x.net_tx_packets, x.net_tx_bytes, x.cpu_credits,"
                    " x.cpu_throttled_pct FROM vms v"
                    " JOIN groups g ON g.id = v.group_id JOIN metrics x ON x.vm_id = v.id"
                    " WHERE v.pid IS NOT NULL AND x.at_ms = (SELECT max(at_ms) FROM metrics"
                    " WHERE vm_id = v.id) ORDER BY g.name, v.name",
                    "");
        while (st && sqlite3_step(st) == SQLITE_ROW) {
            if (db_col_null(st, 2 + m[i].col)) continue;
            char g[160], v[160];
            label(g, sizeof(g), db_col_text(st, 0));
            label(v, sizeof(v), db_col_text(st, 1));
            put(&b, "%s{resource_group=\"%s\",vm=\"%s\"} %.17g\n", m[i].name, g, v,
                sqlite3_column_double(st, 2 + m[i].col) * m[i].scale);
        }
        sqlite3_finalize(st);
    }
    put(&b, "# HELP kumo_host_vcpus_capacity vCPUs the host offers (cores x allocation ratio).\n"
            "# TYPE kumo_host_vcpus_capacity gauge\n");
    sqlite3_stmt *st = db_stmt(k->db, "SELECT id, name FROM hosts ORDER BY name", "");
    struct {
        char name[160];
        struct host_cap cap;
    } hosts[16];
    size_t nh = 0;
    while (st && nh < 16 && sqlite3_step(st) == SQLITE_ROW) {
        label(hosts[nh].name, sizeof(hosts[nh].name), db_col_text(st, 1));
        if (placement_load(k->db, sqlite3_column_int64(st, 0), 0, &hosts[nh].cap) == 0) nh++;
    }
    sqlite3_finalize(st);
    for (size_t i = 0; i < nh; i++)
        put(&b, "kumo_host_vcpus_capacity{host=\"%s\"} %" PRId64 "\n", hosts[i].name,
            placement_cap_vcpus(&hosts[i].cap));
    put(&b, "# HELP kumo_host_vcpus_allocated vCPUs held by allocated VMs.\n"
            "# TYPE kumo_host_vcpus_allocated gauge\n");
    for (size_t i = 0; i < nh; i++)
        put(&b, "kumo_host_vcpus_allocated{host=\"%s\"} %" PRId64 "\n", hosts[i].name,
            hosts[i].cap.used_vcpus);
    put(&b, "# HELP kumo_host_memory_bytes_capacity Guest memory the host offers.\n"
            "# TYPE kumo_host_memory_bytes_capacity gauge\n");
    for (size_t i = 0; i < nh; i++)
        put(&b, "kumo_host_memory_bytes_capacity{host=\"%s\"} %" PRId64 "\n", hosts[i].name,
            placement_cap_mib(&hosts[i].cap) * 1048576);
    put(&b, "# HELP kumo_host_memory_bytes_allocated Guest memory held by allocated VMs.\n"
            "# TYPE kumo_host_memory_bytes_allocated gauge\n");
    for (size_t i = 0; i < nh; i++)
        put(&b, "kumo_host_memory_bytes_allocated{host=\"%s\"} %" PRId64 "\n", hosts[i].name,
            hosts[i].cap.used_mib * 1048576);
    put(&b, "# HELP kumo_vms Virtual machines by power state.\n# TYPE kumo_vms gauge\n");
    st =
        db_stmt(k->db, "SELECT power_state, count(*) FROM vms GROUP BY power_state ORDER BY 1", "");
    while (st && sqlite3_step(st) == SQLITE_ROW)
        put(&b, "kumo_vms{power_state=\"%s\"} %" PRId64 "\n", db_col_text(st, 0),
            (int64_t)sqlite3_column_int64(st, 1));
    sqlite3_finalize(st);
    *len = b.len;
    return b.p;
}
