/*
 * migrate.c - live migration between two kumo-vmm processes: the pre-copy
 * rounds and the stop-and-copy at the source, the receiving side at the
 * destination. The stream and the guarantees are in migrate.h.
 */
#include "vmm/migrate.h"

#include "cpu/hart.h"
#include "devices/virtio_blk.h"
#include "machine/machine.h"
#include "machine/vmstate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MIG_MAGIC "KUMOMIG1"
#define MIG_VERSION 1
#define PAGE 4096u
#define HEADER_LEN 36
#define RUN_MAX 256u           /* pages per record (1 MiB) */
#define CONVERGED_PAGES 256u   /* this few pages left dirty: stop and copy */
#define MAX_ROUNDS 30u         /* then stop and copy whatever is left */
#define STALL_ROUNDS 5u        /* rounds without fewer dirty pages: give up converging */
#define DEVICE_STATE_MAX (64u << 20)
#define REPLY_MAX 512

static double now_ms(void)
{
    return (double)machine_now_ns() / 1e6;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static uint64_t get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static int send_all(int fd, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int recv_all(int fd, void *buf, size_t n)
{
    uint8_t *p = buf;
    while (n) {
        ssize_t k = recv(fd, p, n, 0);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static bool page_zero(const uint8_t *p)
{
    const uint64_t *w = (const uint64_t *)(const void *)p;
    for (unsigned i = 0; i < PAGE / 8; i++)
        if (w[i]) return false;
    return true;
}

static bool test_bit(const uint64_t *map, uint64_t p)
{
    return (map[p >> 6] >> (p & 63)) & 1;
}

/* ---- the source -------------------------------------------------------------------- */

struct sender {
    struct machine *m;
    int fd;
    struct migrate_stats *st;
    char *err;
    size_t errlen;
};

static int send_failed(struct sender *s)
{
    snprintf(s->err, s->errlen, "the destination went away: %s",
             errno ? strerror(errno) : "connection closed");
    return -1;
}

/* One record for pages [first, first + count), all zero or all data. */
static int send_run(struct sender *s, uint64_t first, uint32_t count, bool zero)
{
    uint8_t h[13];
    h[0] = zero ? 'Z' : 'R';
    put_le64(h + 1, first);
    put_le32(h + 9, count);
    if (send_all(s->fd, h, sizeof(h)) < 0) return send_failed(s);
    s->st->bytes_sent += sizeof(h);
    if (!zero) {
        if (send_all(s->fd, s->m->ram + first * PAGE, (size_t)count * PAGE) < 0)
            return send_failed(s);
        s->st->bytes_sent += (uint64_t)count * PAGE;
    }
    s->st->pages_sent += count;
    return 0;
}

/* Send the pages set in map, as runs of like pages. With skip_zero (the
 * first round: the destination's RAM starts as zeros) pages of zeros are
 * not sent at all. The count of pages sent. */
static int64_t send_pages(struct sender *s, const uint64_t *map, bool skip_zero)
{
    uint64_t npages = s->m->ram_size / PAGE, sent = 0;
    uint64_t run_first = 0;
    uint32_t run_len = 0;
    bool run_zero = false;
    for (uint64_t p = 0; p <= npages; p++) {
        bool take = p < npages && test_bit(map, p);
        bool zero = take && page_zero(s->m->ram + p * PAGE);
        if (take && zero && skip_zero) take = false;
        bool extends = take && run_len && zero == run_zero && run_first + run_len == p &&
                       run_len < RUN_MAX;
        if (run_len && !extends) {
            if (send_run(s, run_first, run_len, run_zero) < 0) return -1;
            sent += run_len;
            run_len = 0;
        }
        if (!take) continue;
        if (!run_len) {
            run_first = p;
            run_zero = zero;
        }
        run_len++;
    }
    return (int64_t)sent;
}

/* The pages that may hold anything (as a save takes them:
 * machine_ram_touched); all of them when out of memory. */
static void present_pages(struct machine *m, uint64_t *map)
{
    uint64_t npages = m->ram_size / PAGE;
    unsigned char *touched = machine_ram_touched(m);
    for (uint64_t p = 0; p < npages; p++)
        if (!touched || touched[p]) map[p >> 6] |= 1ull << (p & 63);
    free(touched);
}

/* The disks to the destination (flushed, unlocked): the count handed
 * over, all of them or -1 with a message (those handed over taken back). */
static int release_disks(struct machine *m, char *err, size_t errlen)
{
    for (int k = 0; k < m->ndisks; k++) {
        char why[400];
        if (virtio_blk_release(m->disks[k], why, sizeof(why)) < 0) {
            snprintf(err, errlen, "disk %d: %s", k, why);
            while (k-- > 0) virtio_blk_retake(m->disks[k], why, sizeof(why));
            return -1;
        }
    }
    return m->ndisks;
}

/* The handover failed: the disks are this VMM's again. */
static void retake_disks(struct machine *m, char *err, size_t errlen)
{
    for (int k = 0; k < m->ndisks; k++) {
        char why[400];
        if (virtio_blk_retake(m->disks[k], why, sizeof(why)) < 0) {
            size_t n = strlen(err);
            snprintf(err + n, errlen - n, "; and disk %d could not be locked again: %s", k, why);
        }
    }
}

int migrate_send(struct machine *m, int fd, const struct migrate_ops *ops,
                 struct migrate_stats *st, bool *in_doubt, char *err, size_t errlen)
{
    double t0 = now_ms();
    *st = (struct migrate_stats){0};
    *in_doubt = false;
    struct sender s = {.m = m, .fd = fd, .st = st, .err = err, .errlen = errlen};
    uint64_t npages = m->ram_size / PAGE;
    size_t words = (size_t)(npages + 63) / 64;
    uint64_t *map = calloc(words, sizeof(uint64_t));
    struct vms_out dev = {0};
    bool paused = false, released = false;
    int rc = -1;
    if (!map || machine_dirty_log_start(m) < 0) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    uint8_t h[HEADER_LEN];
    memcpy(h, MIG_MAGIC, 8);
    put_le32(h + 8, MIG_VERSION);
    put_le32(h + 12, PAGE);
    put_le64(h + 16, m->ram_size);
    put_le32(h + 24, (uint32_t)m->nharts);
    put_le32(h + 28, (uint32_t)m->ndisks);
    put_le32(h + 32, (uint32_t)m->nnics);
    if (send_all(fd, h, sizeof(h)) < 0) {
        send_failed(&s);
        goto out;
    }
    st->bytes_sent += sizeof(h);

    /* round 0: every page in use; from now on every write is logged */
    hart_drop_writes_all(m);
    present_pages(m, map);
    if (send_pages(&s, map, true) < 0) goto out;
    st->rounds = 1;
    uint64_t best = UINT64_MAX;
    unsigned stalled = 0;
    for (;;) {
        /* harvest first, then drop the harts' write entries: a page
         * written through an entry older than the drop was marked when
         * the entry was made, so it is in this harvest and its copy,
         * taken after the drop, holds that write */
        uint64_t dirty = machine_dirty_log_harvest(m, map);
        hart_drop_writes_all(m);
        if (dirty <= CONVERGED_PAGES || st->rounds >= MAX_ROUNDS || stalled >= STALL_ROUNDS) {
            /* what is left is sent with the VM paused, with what
             * becomes dirty until the pause */
            uint64_t *more = calloc(words, sizeof(uint64_t));
            if (!more) {
                snprintf(err, errlen, "out of memory");
                goto out;
            }
            double tp = now_ms();
            if (!ops->pause(ops->arg)) {
                free(more);
                snprintf(err, errlen, "the VM stopped during the migration");
                goto out;
            }
            paused = true;
            machine_dirty_log_harvest(m, more);
            for (size_t i = 0; i < words; i++) map[i] |= more[i];
            free(more);
            if (release_disks(m, err, errlen) < 0) goto out;
            released = true;
            int64_t n = send_pages(&s, map, false);
            if (n < 0) goto out;
            st->last_pages = (uint64_t)n;
            if (vmstate_save_devices(m, &dev, err, errlen) < 0) goto out;
            if (dev.failed) {
                snprintf(err, errlen, "out of memory");
                goto out;
            }
            uint8_t d[9];
            d[0] = 'D';
            put_le64(d + 1, dev.len);
            if (send_all(fd, d, sizeof(d)) < 0 || send_all(fd, dev.buf, dev.len) < 0) {
                send_failed(&s);
                goto out;
            }
            st->bytes_sent += sizeof(d) + dev.len;
            /* from here the destination may run the guest */
            char reply[REPLY_MAX];
            size_t got = 0;
            while (got < sizeof(reply) - 1) {
                ssize_t k = recv(fd, reply + got, 1, 0);
                if (k < 0 && errno == EINTR) continue;
                if (k <= 0 || reply[got] == '\n') break;
                got++;
            }
            reply[got] = 0;
            st->downtime_ms = now_ms() - tp;
            st->total_ms = now_ms() - t0;
            if (strcmp(reply, "ok") == 0) {
                rc = 0;
            } else if (!strncmp(reply, "error: ", 7)) {
                snprintf(err, errlen, "the destination refused the VM: %s", reply + 7);
            } else {
                *in_doubt = true;
                snprintf(err, errlen,
                         "the destination did not confirm it runs the VM (%s): the VM stays "
                         "paused here; resume it only if the destination is not running it",
                         got ? "an answer that is not ok" : "no answer");
            }
            goto out;
        }
        if (dirty < best) {
            best = dirty;
            stalled = 0;
        } else {
            stalled++;
        }
        if (send_pages(&s, map, false) < 0) goto out;
        st->rounds++;
    }
out:
    machine_dirty_log_stop(m);
    if (rc < 0 && released && !*in_doubt) retake_disks(m, err, errlen);
    if (rc < 0 && paused && !*in_doubt) ops->resume(ops->arg);
    if (!st->total_ms) st->total_ms = now_ms() - t0;
    vms_out_free(&dev);
    free(map);
    return rc;
}

/* ---- the destination ----------------------------------------------------------------- */

struct migrate_in {
    uint8_t *ram;
    uint64_t ram_size;
    int ncpus, ndisks, nnics;
    uint8_t *dev;
    size_t dev_len;
};

void migrate_refuse(int fd, const char *msg)
{
    char line[REPLY_MAX];
    int n = snprintf(line, sizeof(line), "error: %s", msg);
    if (n < 0) return;
    if ((size_t)n >= sizeof(line) - 1) n = (int)sizeof(line) - 2;
    for (int i = 0; i < n; i++)
        if (line[i] == '\n') line[i] = ' ';
    line[n++] = '\n';
    send_all(fd, line, (size_t)n);
}

void migrate_in_free(struct migrate_in *in)
{
    if (!in) return;
    if (in->ram) munmap(in->ram, in->ram_size);
    free(in->dev);
    free(in);
}

uint64_t migrate_in_ram_size(const struct migrate_in *in)
{
    return in->ram_size;
}

int migrate_in_ncpus(const struct migrate_in *in)
{
    return in->ncpus;
}

static struct migrate_in *receive_fail(struct migrate_in *in, int fd, char *err)
{
    migrate_refuse(fd, err);
    migrate_in_free(in);
    return NULL;
}

struct migrate_in *migrate_receive(int fd, uint64_t ram_size, int ncpus, char *err,
                                   size_t errlen)
{
    struct migrate_in *in = calloc(1, sizeof(*in));
    if (!in) {
        snprintf(err, errlen, "out of memory");
        return receive_fail(in, fd, err);
    }
    uint8_t h[HEADER_LEN];
    if (recv_all(fd, h, sizeof(h)) < 0) {
        snprintf(err, errlen, "the source sent no migration header");
        return receive_fail(in, fd, err);
    }
    if (memcmp(h, MIG_MAGIC, 8) != 0) {
        snprintf(err, errlen, "not a kumo-vmm migration stream");
        return receive_fail(in, fd, err);
    }
    if (get_le32(h + 8) != MIG_VERSION || get_le32(h + 12) != PAGE) {
        snprintf(err, errlen, "migration stream version %u (page size %u); this kumo-vmm takes %u (%u)",
                 get_le32(h + 8), get_le32(h + 12), MIG_VERSION, PAGE);
        return receive_fail(in, fd, err);
    }
    in->ram_size = get_le64(h + 16);
    in->ncpus = (int)get_le32(h + 24);
    in->ndisks = (int)get_le32(h + 28);
    in->nnics = (int)get_le32(h + 32);
    if (!in->ram_size || in->ram_size % PAGE || in->ram_size > (1ull << 40) || in->ncpus < 1 ||
        in->ncpus > MACHINE_MAX_HARTS) {
        snprintf(err, errlen, "the source's machine is impossible (%llu bytes of RAM, %d vCPUs)",
                 (unsigned long long)in->ram_size, in->ncpus);
        return receive_fail(in, fd, err);
    }
    if ((ram_size && ram_size != in->ram_size) || (ncpus && ncpus != in->ncpus)) {
        snprintf(err, errlen,
                 "the source has %llu MiB of RAM and %d vCPUs: start the destination with "
                 "--mem %llu --cpus %d",
                 (unsigned long long)(in->ram_size >> 20), in->ncpus,
                 (unsigned long long)(in->ram_size >> 20), in->ncpus);
        return receive_fail(in, fd, err);
    }
    in->ram = mmap(NULL, in->ram_size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (in->ram == MAP_FAILED) {
        in->ram = NULL;
        snprintf(err, errlen, "cannot reserve %llu MiB for the guest's RAM: %s",
                 (unsigned long long)(in->ram_size >> 20), strerror(errno));
        return receive_fail(in, fd, err);
    }
    uint64_t npages = in->ram_size / PAGE;
    for (;;) {
        uint8_t type;
        if (recv_all(fd, &type, 1) < 0) {
            snprintf(err, errlen, "the source went away before the VM's state was complete");
            return receive_fail(in, fd, err);
        }
        if (type == 'R' || type == 'Z') {
            uint8_t r[12];
            if (recv_all(fd, r, sizeof(r)) < 0) {
                snprintf(err, errlen, "the source went away in a record");
                return receive_fail(in, fd, err);
            }
            uint64_t first = get_le64(r);
            uint32_t count = get_le32(r + 8);
            if (!count || count > RUN_MAX || first >= npages || count > npages - first) {
                snprintf(err, errlen, "a record names pages %llu+%u of %llu",
                         (unsigned long long)first, count, (unsigned long long)npages);
                return receive_fail(in, fd, err);
            }
            uint8_t *dst = in->ram + first * PAGE;
            if (type == 'Z') {
                memset(dst, 0, (size_t)count * PAGE);
            } else if (recv_all(fd, dst, (size_t)count * PAGE) < 0) {
                snprintf(err, errlen, "the source went away in a record");
                return receive_fail(in, fd, err);
            }
            continue;
        }
        if (type != 'D') {
            snprintf(err, errlen, "an unknown record (type %u)", type);
            return receive_fail(in, fd, err);
        }
        uint8_t l[8];
        if (recv_all(fd, l, sizeof(l)) < 0) {
            snprintf(err, errlen, "the source went away in the device state");
            return receive_fail(in, fd, err);
        }
        uint64_t len = get_le64(l);
        if (!len || len > DEVICE_STATE_MAX) {
            snprintf(err, errlen, "a device state of %llu bytes", (unsigned long long)len);
            return receive_fail(in, fd, err);
        }
        in->dev = malloc((size_t)len);
        if (!in->dev) {
            snprintf(err, errlen, "out of memory");
            return receive_fail(in, fd, err);
        }
        in->dev_len = (size_t)len;
        if (recv_all(fd, in->dev, in->dev_len) < 0) {
            snprintf(err, errlen, "the source went away in the device state");
            return receive_fail(in, fd, err);
        }
        return in;
    }
}

int migrate_finish(struct migrate_in *in, struct machine *m, int fd, char *err, size_t errlen)
{
    if (m->ram_size != in->ram_size || m->nharts != in->ncpus || m->ndisks != in->ndisks ||
        m->nnics != in->nnics) {
        snprintf(err, errlen,
                 "the source has %d disks and %d NICs, this kumo-vmm %d and %d: give the "
                 "destination the source's devices, in the same order",
                 in->ndisks, in->nnics, m->ndisks, m->nnics);
        migrate_refuse(fd, err);
        return -1;
    }
    /* the received pages become the guest's RAM where the machine has it */
    void *p = mremap(in->ram, in->ram_size, in->ram_size, MREMAP_MAYMOVE | MREMAP_FIXED, m->ram);
    if (p == MAP_FAILED) {
        snprintf(err, errlen, "cannot move the received RAM into place: %s", strerror(errno));
        migrate_refuse(fd, err);
        return -1;
    }
    in->ram = NULL;
    if (vmstate_load_devices(m, in->dev, in->dev_len, err, errlen) < 0) {
        migrate_refuse(fd, err);
        return -1;
    }
    if (send_all(fd, "ok\n", 3) < 0) {
        /* the source cannot know: it keeps its copy paused, this one runs */
        fprintf(stderr, "kumo-vmm: warning: the source went away before it was told the "
                        "migration completed; this VM runs\n");
    }
    return 0;
}
