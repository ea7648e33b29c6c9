/*
 * control.c - kumo-vmm's control socket: a unix stream socket speaking one
 * JSON object per line in each direction, for kumod (or a user with socat):
 * status and counters, stop, shutdown, the guest agent's lines, CPU and disk
 * limits, the balloon, and a test aid for the sandbox. The protocol, every
 * operation with its reply and errors: docs/vmm-control.md (keep it true
 * when an operation changes).
 */
#include "vmm/control.h"

#include "cpu/hart.h"
#include "devices/virtio_balloon.h"
#include "devices/virtio_blk.h"
#include "devices/virtio_console.h"
#include "devices/virtio_input.h"
#include "devices/virtio_net.h"
#include "lib/log.h"
#include "lib/threadrole.h"
#include "machine/machine.h"
#include "machine/vmstate.h"
#include "storage/ratelimit.h"
#include "vmm/cpuctl.h"
#include "vmm/migrate.h"
#include "vmm/vcpu.h"
#include "vmm/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_CLIENTS 8
#define MAX_LINE 65536

struct client {
    int fd;
    int passed_fd; /* a descriptor that came with its bytes (SCM_RIGHTS), or -1 */
    size_t len;
    char buf[MAX_LINE];
};

struct control {
    int listen_fd;
    int wake[2];
    char *path;
    pthread_t thread;
    pthread_mutex_t lock; /* guards m */
    struct machine *m;
    bool paused; /* by a pause request (or a save that keeps it paused) */
    int req_fd;  /* the descriptor sent with the request being handled, or -1 */
    struct cpuctl *cpu;
    uint64_t start_ns;
    struct client *clients[MAX_CLIENTS];
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static json_t *error_reply(const char *msg)
{
    return json_pack("{s:b,s:s}", "ok", 0, "error", msg);
}

static json_t *cpu_config(struct control *c)
{
    struct cpuctl_config cfg;
    cpuctl_get(c->cpu, &cfg);
    char list[256] = "";
    if (cfg.has_affinity) cpuctl_format_cpulist(&cfg.affinity, list, sizeof(list));
    return json_pack("{s:f,s:i,s:s?,s:s}", "cap_pct", cfg.cap_bp ? cfg.cap_bp / 100.0 : 100.0,
                     "weight", cfg.weight, "affinity", cfg.has_affinity ? list : NULL,
                     "weight_applies_to", cpuctl_weight_target(c->cpu));
}

static json_t *status(struct control *c, struct machine *m)
{
    json_t *busy = json_array(), *idle = json_array(), *throttled = json_array();
    for (int k = 0; k < m->nharts; k++) {
        struct vcpu_times t;
        cpuctl_times(c->cpu, k, hart_idle_ns(m->harts[k]), &t);
        json_array_append_new(busy, json_integer((json_int_t)t.busy_ns));
        json_array_append_new(idle, json_integer((json_int_t)t.idle_ns));
        json_array_append_new(throttled, json_integer((json_int_t)t.throttled_ns));
    }
    json_t *disks = json_array();
    for (int k = 0; k < m->ndisks; k++) {
        struct blk_stats s;
        virtio_blk_get_stats(m->disks[k], &s);
        json_t *disk = json_pack("{s:I,s:I,s:I,s:I}", "rd_ops", (json_int_t)s.rd_ops, "rd_bytes",
                                 (json_int_t)s.rd_bytes, "wr_ops", (json_int_t)s.wr_ops,
                                 "wr_bytes", (json_int_t)s.wr_bytes);
        struct ratelimit_rates r;
        virtio_blk_get_rates(m->disks[k], &r);
        json_t *lim = json_object();
#define RATE(f)                                                                               \
    if (r.f) json_object_set_new(lim, #f, json_integer((json_int_t)r.f));
        RATE(iops)
        RATE(bps)
        RATE(iops_max)
        RATE(iops_max_length)
        RATE(bps_max)
        RATE(bps_max_length)
#undef RATE
        json_object_set_new(disk, "limits", lim);
        json_array_append_new(disks, disk);
    }
    json_t *nics = json_array();
    for (int k = 0; k < m->nnics; k++) {
        struct nic_stats s;
        virtio_net_get_stats(m->nics[k], &s);
        json_array_append_new(
            nics, json_pack("{s:I,s:I,s:I,s:I,s:I,s:I}", "rx_packets", (json_int_t)s.rx_packets,
                            "rx_bytes", (json_int_t)s.rx_bytes, "tx_packets",
                            (json_int_t)s.tx_packets, "tx_bytes", (json_int_t)s.tx_bytes,
                            "rx_dropped", (json_int_t)s.rx_dropped, "tx_dropped",
                            (json_int_t)s.tx_dropped));
    }
    return json_pack("{s:b,s:s,s:i,s:I,s:I,s:o,s:o,s:o,s:o,s:o,s:o}", "ok", 1, "state",
                     c->paused ? "paused" : "running", "vcpus", m->nharts, "mem_mib", (json_int_t)(m->ram_size >> 20),
                     "uptime_ns", (json_int_t)(now_ns() - c->start_ns), "vcpu_busy_ns", busy,
                     "vcpu_idle_ns", idle, "vcpu_throttled_ns", throttled, "cpu", cpu_config(c),
                     "disks", disks, "nics", nics);
}

static json_t *set_cpu(struct control *c, json_t *req)
{
    struct cpuctl_config cfg;
    cpuctl_get(c->cpu, &cfg);
    cfg.has_affinity = false; /* re-applied only when given */
    json_t *v = json_object_get(req, "cap_pct");
    if (v) {
        double pct = json_number_value(v);
        if (!json_is_number(v) || !(pct >= 1.0) || pct > 100.0)
            return error_reply("cap_pct: give a percentage of one host core per vCPU, from 1 "
                               "to 100 (100 = no cap)");
        cfg.cap_bp = (uint32_t)(pct * 100.0 + 0.5);
        if (cfg.cap_bp >= 10000) cfg.cap_bp = 0;
    }
    v = json_object_get(req, "weight");
    if (v) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 ||
            json_integer_value(v) > CPUCTL_WEIGHT_MAX)
            return error_reply("weight: give a share from 1 to 10000 (100 is the default)");
        cfg.weight = (int)json_integer_value(v);
    }
    v = json_object_get(req, "affinity");
    char err[256];
    if (v) {
        if (!json_is_string(v))
            return error_reply("affinity: give host CPUs as a string, e.g. \"1\" or \"0-3,6\"");
        if (!cpuctl_parse_cpulist(json_string_value(v), &cfg.affinity, err, sizeof(err)))
            return error_reply(err);
        cfg.has_affinity = true;
    }
    if (cpuctl_set(c->cpu, &cfg, err, sizeof(err)) < 0) return error_reply(err);
    json_t *r = json_pack("{s:b}", "ok", 1);
    json_object_set_new(r, "cpu", cpu_config(c));
    return r;
}

static bool get_count(json_t *req, const char *key, uint64_t *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(req, key);
    if (!v) return true;
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        snprintf(err, errlen, "%s must be a non-negative integer", key);
        return false;
    }
    *out = (uint64_t)json_integer_value(v);
    return true;
}

static json_t *set_disk_limits(struct machine *m, json_t *req)
{
    json_t *d = json_object_get(req, "disk");
    if (!json_is_integer(d)) return error_reply("disk: give the disk's index (0 is vda)");
    json_int_t i = json_integer_value(d);
    if (i < 0 || i >= m->ndisks) return error_reply("disk: no such disk");
    struct ratelimit_rates r = {0};
    char err[160];
    const char *key;
    json_t *v;
    json_object_foreach(req, key, v)
    {
        if (!strcmp(key, "op") || !strcmp(key, "disk")) continue;
        uint64_t n = 0;
        if (ratelimit_rates_set(&r, key, 0) < 0) {
            snprintf(err, sizeof(err),
                     "unknown limit '%s': use iops, bps, iops_max, bps_max, iops_max_length, "
                     "bps_max_length, iops_burst, bps_burst",
                     key);
            return error_reply(err);
        }
        if (!get_count(req, key, &n, err, sizeof(err))) return error_reply(err);
        ratelimit_rates_set(&r, key, n);
    }
    struct ratelimit_config rc;
    if (ratelimit_rates_config(&r, &rc, err, sizeof(err)) < 0) return error_reply(err);
    virtio_blk_set_limits(m->disks[i], &rc);
    return json_pack("{s:b}", "ok", 1);
}

static json_t *balloon(struct machine *m, json_t *req)
{
    if (!m->balloon) return error_reply("this VM has no balloon device");
    json_t *t = json_object_get(req, "target_mib");
    if (t) {
        if (!json_is_integer(t) || json_integer_value(t) < 1)
            return error_reply("target_mib must be a positive integer (MiB the guest keeps)");
        virtio_balloon_set_target(m->balloon, (uint64_t)json_integer_value(t));
    }
    struct balloon_info bi;
    virtio_balloon_get(m->balloon, &bi);
    json_t *r = json_pack("{s:b,s:I,s:I,s:I}", "ok", 1, "target_mib",
                          (json_int_t)((uint64_t)bi.target_pages * 4096 >> 20), "actual_mib",
                          (json_int_t)((uint64_t)bi.actual_pages * 4096 >> 20), "returned_mib",
                          (json_int_t)(bi.returned_pages * 4096 >> 20));
    if (bi.stats_valid)
        json_object_set_new(r, "guest",
                            json_pack("{s:I,s:I,s:I,s:I,s:I}", "mem_total",
                                      (json_int_t)bi.stats[BALLOON_MEMTOT], "mem_free",
                                      (json_int_t)bi.stats[BALLOON_MEMFREE], "mem_available",
                                      (json_int_t)bi.stats[BALLOON_AVAIL], "major_faults",
                                      (json_int_t)bi.stats[BALLOON_MAJFLT], "minor_faults",
                                      (json_int_t)bi.stats[BALLOON_MINFLT]));
    return r;
}

/* Pause the vCPUs and quiesce the devices; false when the VM stopped. */
static bool pause_vm(struct control *c, struct machine *m)
{
    if (c->paused) return true;
    if (!vcpu_pause(m)) return false;
    vmstate_quiesce(m, true);
    c->paused = true;
    return true;
}

static void resume_vm(struct control *c, struct machine *m)
{
    if (!c->paused) return;
    vmstate_quiesce(m, false);
    vcpu_resume(m);
    c->paused = false;
}

static double ms_since(uint64_t t0)
{
    return (double)(now_ns() - t0) / 1e6;
}

/* {"op":"save","path":P,"then":"continue"|"pause"|"stop"}, the file either
 * sent with the request (its descriptor, SCM_RIGHTS: written and synced,
 * the sender puts it in place; `path` only names it in messages) or made
 * here at `path` (not by a sandboxed VMM: it opens no files). */
static json_t *save(struct control *c, struct machine *m, json_t *req)
{
    const char *path = json_string_value(json_object_get(req, "path"));
    int fd = c->req_fd;
    if (fd < 0 && (!path || !*path))
        return error_reply("path: give the file to save the VM's state to");
    if (fd < 0 && sandbox_active())
        return error_reply("a sandboxed kumo-vmm opens no files: send the file to save to "
                           "with the request (its descriptor, SCM_RIGHTS), or run kumo-vmm "
                           "with --sandbox off");
    if (!path || !*path) path = "the file sent";
    json_t *t = json_object_get(req, "then");
    const char *then = t ? json_string_value(t) : "continue";
    if (!then || (strcmp(then, "continue") && strcmp(then, "pause") && strcmp(then, "stop")))
        return error_reply("then: give continue (the VM runs on), pause (it stays paused) or "
                           "stop (kumo-vmm exits once the state is saved)");
    bool was_paused = c->paused;
    uint64_t t0 = now_ns();
    if (!pause_vm(c, m)) return error_reply("the VM stopped before it could be saved");
    double pause_ms = ms_since(t0);
    struct vmstate_stats st;
    char err[512];
    int rc = fd >= 0 ? vmstate_save_fd(m, fd, path, &st, err, sizeof(err))
                     : vmstate_save(m, path, &st, err, sizeof(err));
    double save_ms = ms_since(t0) - pause_ms;
    if (rc < 0) {
        if (!was_paused) resume_vm(c, m);
        return error_reply(err);
    }
    if (strcmp(then, "stop") == 0)
        machine_stop(m, STOP_POWEROFF, 0);
    else if (strcmp(then, "continue") == 0 && !was_paused)
        resume_vm(c, m);
    return json_pack("{s:b,s:s,s:I,s:I,s:f,s:f,s:f,s:f,s:b}", "ok", 1, "path", path, "bytes",
                     (json_int_t)st.file_bytes, "ram_bytes", (json_int_t)(st.ram_pages * 4096),
                     "pause_ms", pause_ms, "save_ms", save_ms, "ram_ms", st.ns_ram / 1e6,
                     "sync_ms", st.ns_sync / 1e6, "paused", c->paused);
}

/* agent_send / agent_recv on the virtio console (m->agent). */
static json_t *agent(struct machine *m, const char *op, const json_t *req)
{
    bool ready = virtio_console_driver_ready(m->agent);
    if (strcmp(op, "agent_send") == 0) {
        const char *line = json_string_value(json_object_get(req, "line"));
        if (!line || strchr(line, '\n'))
            return error_reply("line: missing, or it has a newline in it");
        size_t len = strlen(line);
        char *buf = malloc(len + 1);
        if (!buf) return error_reply("out of memory");
        memcpy(buf, line, len);
        buf[len] = '\n';
        int rc = virtio_console_send(m->agent, buf, len + 1);
        free(buf);
        if (rc < 0) return error_reply("too much is waiting for the guest (64 KiB)");
        return json_pack("{s:b,s:b}", "ok", 1, "driver_ready", ready);
    }
    char *buf = malloc(VIRTIO_CONSOLE_QUEUE_MAX);
    if (!buf) return error_reply("out of memory");
    uint64_t dropped = 0;
    size_t n = virtio_console_recv_lines(m->agent, buf, VIRTIO_CONSOLE_QUEUE_MAX, &dropped);
    json_t *lines = json_array();
    for (size_t at = 0; at < n;) {
        size_t end = at;
        while (end < n && buf[end] != '\n')
            end++;
        size_t len = end - at;
        if (len && buf[at + len - 1] == '\r') len--;
        /* the guest's bytes: only what is valid UTF-8 text goes into JSON */
        json_t *s = json_stringn(buf + at, len);
        if (s) json_array_append_new(lines, s);
        at = end + 1;
    }
    free(buf);
    return json_pack("{s:b,s:o,s:I,s:b}", "ok", 1, "lines", lines, "dropped", (json_int_t)dropped,
                     "driver_ready", ready);
}

static bool migrate_pause(void *arg)
{
    struct control *c = arg;
    return pause_vm(c, c->m);
}

static void migrate_resume(void *arg)
{
    struct control *c = arg;
    resume_vm(c, c->m);
}

/* {"op":"migrate","to":PATH}: the VM to the kumo-vmm waiting on PATH
 * (--incoming), or, from a sandboxed VMM (which connects nowhere), to the
 * peer of the connected socket sent with the request (SCM_RIGHTS). Other
 * requests wait meanwhile. On success this VMM exits with status 0. */
static json_t *migrate(struct control *c, struct machine *m, json_t *req)
{
    if (c->paused) return error_reply("the VM is paused: resume it before migrating it");
    const char *to = json_string_value(json_object_get(req, "to"));
    int fd = c->req_fd;
    bool own = false;
    if (fd < 0) {
        if (!to || !*to)
            return error_reply("to: give the unix socket the destination kumo-vmm waits on "
                               "(--incoming PATH)");
        if (sandbox_active())
            return error_reply("a sandboxed kumo-vmm connects nowhere: send a socket connected "
                               "to the destination with the request (SCM_RIGHTS), or run "
                               "kumo-vmm with --sandbox off");
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        if (strlen(to) >= sizeof(a.sun_path)) return error_reply("to: path too long");
        strcpy(a.sun_path, to);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
            char msg[600];
            snprintf(msg, sizeof(msg), "cannot connect to %.400s: %s (is a kumo-vmm waiting "
                     "there with --incoming?)", to, strerror(errno));
            if (fd >= 0) close(fd);
            return error_reply(msg);
        }
        own = true;
    }
    struct migrate_ops ops = {.pause = migrate_pause, .resume = migrate_resume, .arg = c};
    struct migrate_stats st;
    bool in_doubt = false;
    char err[600];
    int rc = migrate_send(m, fd, &ops, &st, &in_doubt, err, sizeof(err));
    if (own) close(fd);
    if (rc < 0) {
        json_t *r = error_reply(err);
        json_object_set_new(r, "paused", json_boolean(c->paused));
        return r;
    }
    /* the destination runs the VM: this copy ends */
    machine_stop(m, STOP_POWEROFF, 0);
    return json_pack("{s:b,s:I,s:I,s:I,s:I,s:f,s:f}", "ok", 1, "rounds", (json_int_t)st.rounds,
                     "pages_sent", (json_int_t)st.pages_sent, "bytes_sent",
                     (json_int_t)st.bytes_sent, "last_pages", (json_int_t)st.last_pages,
                     "total_ms", st.total_ms, "downtime_ms", st.downtime_ms);
}

static json_t *handle(struct control *c, const char *line)
{
    json_error_t jerr;
    json_t *req = json_loads(line, 0, &jerr);
    if (!req || !json_is_object(req)) {
        json_decref(req);
        char msg[256];
        snprintf(msg, sizeof(msg), "not a JSON object: %s", jerr.text);
        return error_reply(msg);
    }
    const char *op = json_string_value(json_object_get(req, "op"));
    json_t *reply;
    pthread_mutex_lock(&c->lock);
    struct machine *m = c->m;
    if (!op) {
        reply = error_reply("op: missing (status, stop, shutdown, agent_send, agent_recv, "
                            "set_cpu, set_disk_limits, balloon, pause, resume, save, migrate "
                            "or sandbox_test)");
    } else if (!m) {
        reply = error_reply("the VM is between boots; try again");
    } else if (strcmp(op, "status") == 0) {
        reply = status(c, m);
    } else if (strcmp(op, "stop") == 0) {
        machine_stop(m, STOP_POWEROFF, 0);
        reply = json_pack("{s:b}", "ok", 1);
    } else if (strcmp(op, "shutdown") == 0) {
        /* Both power buttons: the virtio console's "poweroff" line (kumo's
         * default guest) and KEY_POWER on the virtio input device (systemd's
         * logind in distribution images). The console is absent when disks
         * and NICs take all the slots. */
        bool sent_line = m->agent && virtio_console_send(m->agent, "poweroff\n", 9) == 0;
        bool pressed = m->power_button && virtio_input_press_power(m->power_button) == 0;
        if (!sent_line && !pressed)
            reply = error_reply("too many requests are waiting for the guest");
        else
            reply = json_pack("{s:b,s:b}", "ok", 1, "driver_ready",
                              (m->agent && virtio_console_driver_ready(m->agent)) ||
                                  (m->power_button &&
                                   virtio_input_driver_ready(m->power_button)));
    } else if (strcmp(op, "agent_send") == 0 || strcmp(op, "agent_recv") == 0) {
        reply = m->agent
                    ? agent(m, op, req)
                    : error_reply("this VM has no guest channel (all virtio slots are in use)");
    } else if (strcmp(op, "set_disk_limits") == 0) {
        reply = set_disk_limits(m, req);
    } else if (strcmp(op, "balloon") == 0) {
        reply = balloon(m, req);
    } else if (strcmp(op, "set_cpu") == 0) {
        reply = set_cpu(c, req);
    } else if (strcmp(op, "pause") == 0) {
        uint64_t t0 = now_ns();
        reply = pause_vm(c, m) ? json_pack("{s:b,s:s,s:f}", "ok", 1, "state", "paused",
                                           "pause_ms", ms_since(t0))
                               : error_reply("the VM stopped before it could be paused");
    } else if (strcmp(op, "resume") == 0) {
        resume_vm(c, m);
        reply = json_pack("{s:b,s:s}", "ok", 1, "state", "running");
    } else if (strcmp(op, "save") == 0) {
        reply = save(c, m, req);
    } else if (strcmp(op, "migrate") == 0) {
        reply = migrate(c, m, req);
    } else if (strcmp(op, "sandbox_test") == 0) {
        const char *what = json_string_value(json_object_get(req, "test"));
        char msg[256];
        if (!what) reply = error_reply("sandbox_test: give \"test\": \"open:PATH\" or \"forbidden\"");
        else if (sandbox_test(what, msg, sizeof(msg)) < 0) reply = error_reply(msg);
        else reply = json_pack("{s:b,s:s}", "ok", 1, "result", msg);
    } else {
        char msg[128];
        snprintf(msg, sizeof(msg), "op: unknown operation '%.40s'", op);
        reply = error_reply(msg);
    }
    pthread_mutex_unlock(&c->lock);
    json_decref(req);
    return reply;
}

static void send_reply(int fd, json_t *reply)
{
    char *text = json_dumps(reply, JSON_COMPACT);
    json_decref(reply);
    if (!text) return;
    size_t len = strlen(text);
    text[len] = '\n'; /* replaces the terminator; we send len + 1 bytes */
    const char *p = text;
    size_t left = len + 1;
    while (left) {
        ssize_t n = send(fd, p, left, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        p += n;
        left -= (size_t)n;
    }
    free(text);
}

static void drop_client(struct control *c, int k)
{
    if (c->clients[k]->passed_fd >= 0) close(c->clients[k]->passed_fd);
    close(c->clients[k]->fd);
    free(c->clients[k]);
    c->clients[k] = NULL;
}

static void client_input(struct control *c, int k)
{
    struct client *cl = c->clients[k];
    /* a descriptor may come with the bytes (a save's file): it belongs to
     * the request whose line ends in them or after them */
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } cm;
    struct iovec iov = {.iov_base = cl->buf + cl->len, .iov_len = sizeof(cl->buf) - cl->len};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cm.buf,
                         .msg_controllen = sizeof(cm.buf)};
    ssize_t n = recvmsg(cl->fd, &msg, MSG_CMSG_CLOEXEC);
    for (struct cmsghdr *h = n > 0 ? CMSG_FIRSTHDR(&msg) : NULL; h; h = CMSG_NXTHDR(&msg, h)) {
        if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS) continue;
        size_t nfd = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < nfd; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof(int));
            if (cl->passed_fd >= 0) close(cl->passed_fd); /* one per request: the latest */
            cl->passed_fd = fd;
        }
    }
    if (n <= 0) {
        drop_client(c, k);
        return;
    }
    cl->len += (size_t)n;
    for (;;) {
        char *nl = memchr(cl->buf, '\n', cl->len);
        if (!nl) break;
        *nl = 0;
        c->req_fd = cl->passed_fd;
        json_t *reply = handle(c, cl->buf);
        c->req_fd = -1;
        if (cl->passed_fd >= 0) close(cl->passed_fd);
        cl->passed_fd = -1;
        send_reply(cl->fd, reply);
        size_t used = (size_t)(nl - cl->buf) + 1;
        memmove(cl->buf, nl + 1, cl->len - used);
        cl->len -= used;
    }
    if (cl->len == sizeof(cl->buf)) {
        send_reply(cl->fd, error_reply("request line longer than 64 KiB"));
        drop_client(c, k);
    }
}

static void *control_thread(void *arg)
{
    struct control *c = arg;
    pthread_setname_np(pthread_self(), "control");
    for (;;) {
        struct pollfd fds[2 + MAX_CLIENTS];
        int idx[2 + MAX_CLIENTS], n = 0;
        fds[n++] = (struct pollfd){.fd = c->wake[0], .events = POLLIN};
        fds[n++] = (struct pollfd){.fd = c->listen_fd, .events = POLLIN};
        for (int k = 0; k < MAX_CLIENTS; k++)
            if (c->clients[k]) {
                idx[n] = k;
                fds[n++] = (struct pollfd){.fd = c->clients[k]->fd, .events = POLLIN};
            }
        int rc = poll(fds, (nfds_t)n, -1);
        thread_role(ROLE_CONTROL);
        if (rc < 0) {
            if (errno == EINTR) continue;
            break;
        }
        if (fds[0].revents) break;
        for (int i = 2; i < n; i++)
            if (fds[i].revents && c->clients[idx[i]]) client_input(c, idx[i]);
        if (fds[1].revents & POLLIN) {
            int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);
            if (fd < 0) continue;
            int k = 0;
            while (k < MAX_CLIENTS && c->clients[k]) k++;
            struct client *cl = k < MAX_CLIENTS ? calloc(1, sizeof(*cl)) : NULL;
            if (!cl) {
                send_reply(fd, error_reply("too many control connections"));
                close(fd);
                continue;
            }
            cl->fd = fd;
            cl->passed_fd = -1;
            c->clients[k] = cl;
        }
    }
    return NULL;
}

struct control *control_open(const char *path, struct cpuctl *cpu, char *err, size_t errlen)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(a.sun_path)) {
        snprintf(err, errlen, "control socket path is too long (max %zu bytes)",
                 sizeof(a.sun_path) - 1);
        return NULL;
    }
    struct control *c = calloc(1, sizeof(*c));
    if (!c) return NULL;
    strcpy(a.sun_path, path);
    c->wake[0] = c->wake[1] = -1;
    c->req_fd = -1;
    c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    unlink(path);
    if (c->listen_fd < 0 || bind(c->listen_fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        listen(c->listen_fd, 4) < 0 || pipe2(c->wake, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "cannot listen on control socket %s: %s", path, strerror(errno));
        if (c->listen_fd >= 0) close(c->listen_fd);
        free(c);
        return NULL;
    }
    c->path = strdup(path);
    c->cpu = cpu;
    c->start_ns = now_ns();
    pthread_mutex_init(&c->lock, NULL);
    if (pthread_create(&c->thread, NULL, control_thread, c) != 0) {
        snprintf(err, errlen, "cannot start the control thread");
        close(c->listen_fd);
        free(c->path);
        free(c);
        return NULL;
    }
    return c;
}

void control_set_machine(struct control *c, struct machine *m)
{
    if (!c) return;
    pthread_mutex_lock(&c->lock);
    c->m = m;
    c->paused = false;
    pthread_mutex_unlock(&c->lock);
}

void control_close(struct control *c)
{
    if (!c) return;
    if (write(c->wake[1], "x", 1) < 0) { /* the thread also stops on error */ }
    pthread_join(c->thread, NULL);
    for (int k = 0; k < MAX_CLIENTS; k++)
        if (c->clients[k]) drop_client(c, k);
    close(c->listen_fd);
    close(c->wake[0]);
    close(c->wake[1]);
    unlink(c->path);
    free(c->path);
    pthread_mutex_destroy(&c->lock);
    free(c);
}
