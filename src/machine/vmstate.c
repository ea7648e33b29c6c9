/*
 * vmstate.c - see vmstate.h; the file format is docs/vmstate.md.
 *
 * Writing: the file header, then each section (its header and its payload)
 * in order, RAM last but one: the pages that hold anything are written
 * where they belong in a RAM-sized, page-aligned payload, the others are
 * left as holes (sparse file), so that the payload can be mapped as guest
 * RAM. The end section counts the sections and chains their checksums.
 *
 * Reading: everything is checked before anything is loaded: the header,
 * each section header and payload checksum, the end section; the RAM pages
 * are hashed from the file (pread) and the holes checked to hold no data.
 */
#include "machine/vmstate.h"

#include "cpu/hart.h"
#include "devices/htif.h"
#include "lib/log.h"
#include "machine/device.h"
#include "machine/machine.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#define FILE_MAGIC "KUMOVMST"
#define FILE_HEADER_LEN 128  /* the part of the first page that is used */
#define FIRST_SECTION 4096   /* the header's page */
#define SECTION_HEADER_LEN 80
#define NAME_LEN 32
#define KIND_LEN 16
#define MAX_SECTIONS 512
#define MACHINE_STATE_VERSION 1
#define FLAG_BUILTIN_SBI 1u
#define RAM_PAGE 4096ull

/* ---- sections as bytes ------------------------------------------------------- */

static void put(struct vms_out *o, const void *p, size_t n)
{
    if (o->failed) return;
    if (o->len + n > o->cap) {
        size_t cap = o->cap ? o->cap : 256;
        while (cap < o->len + n) cap *= 2;
        uint8_t *b = realloc(o->buf, cap);
        if (!b) {
            o->failed = true;
            return;
        }
        o->buf = b;
        o->cap = cap;
    }
    memcpy(o->buf + o->len, p, n);
    o->len += n;
}

void vms_put_u8(struct vms_out *o, uint8_t v)
{
    put(o, &v, 1);
}

void vms_put_u16(struct vms_out *o, uint16_t v)
{
    put(o, &v, 2); /* little-endian host */
}

void vms_put_u32(struct vms_out *o, uint32_t v)
{
    put(o, &v, 4);
}

void vms_put_u64(struct vms_out *o, uint64_t v)
{
    put(o, &v, 8);
}

void vms_put_bool(struct vms_out *o, bool v)
{
    vms_put_u8(o, v ? 1 : 0);
}

void vms_put_bytes(struct vms_out *o, const void *p, size_t n)
{
    if (n) put(o, p, n);
}

void vms_out_free(struct vms_out *o)
{
    free(o->buf);
    *o = (struct vms_out){0};
}

void vms_in_init(struct vms_in *in, const char *section, const void *p, size_t len)
{
    *in = (struct vms_in){.p = p, .len = len, .section = section};
}

int vms_fail(struct vms_in *in, const char *fmt, ...)
{
    if (in->bad) return -1; /* keep the first problem */
    in->bad = true;
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(in->err, sizeof(in->err), "section %s: %s", in->section, msg);
    return -1;
}

static bool get(struct vms_in *in, void *dst, size_t n)
{
    if (in->bad || n > in->len - in->off) {
        if (!in->bad) vms_fail(in, "shorter than its fields (%zu bytes)", in->len);
        memset(dst, 0, n);
        return false;
    }
    memcpy(dst, in->p + in->off, n);
    in->off += n;
    return true;
}

uint8_t vms_get_u8(struct vms_in *in)
{
    uint8_t v;
    get(in, &v, 1);
    return v;
}

uint16_t vms_get_u16(struct vms_in *in)
{
    uint16_t v;
    get(in, &v, 2);
    return v;
}

uint32_t vms_get_u32(struct vms_in *in)
{
    uint32_t v;
    get(in, &v, 4);
    return v;
}

uint64_t vms_get_u64(struct vms_in *in)
{
    uint64_t v;
    get(in, &v, 8);
    return v;
}

bool vms_get_bool(struct vms_in *in)
{
    uint8_t v = vms_get_u8(in);
    if (v > 1) vms_fail(in, "a flag holds %u", v);
    return v == 1;
}

void vms_get_bytes(struct vms_in *in, void *dst, size_t n)
{
    get(in, dst, n);
}

int vms_in_end(struct vms_in *in)
{
    if (in->bad) return -1;
    if (in->off != in->len)
        return vms_fail(in, "%zu bytes left after its fields (another version?)",
                        in->len - in->off);
    return 0;
}

uint64_t vmstate_hash(const void *p, size_t len)
{
    return XXH3_64bits(p, len);
}

/* ---- little helpers --------------------------------------------------------------- */

static uint64_t realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void put_le64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static uint64_t le64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static uint32_t le32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static int write_at(int fd, uint64_t off, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    while (len) {
        ssize_t n = pwrite(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
}

static int read_at(int fd, uint64_t off, void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len) {
        ssize_t n = pread(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
}

static bool page_is_zero(const uint8_t *p)
{
    const uint64_t *w = (const uint64_t *)p;
    uint64_t acc = 0;
    for (size_t i = 0; i < RAM_PAGE / 8; i += 8)
        acc |= w[i] | w[i + 1] | w[i + 2] | w[i + 3] | w[i + 4] | w[i + 5] | w[i + 6] |
               w[i + 7];
    return acc == 0;
}

static bool bit(const uint8_t *map, uint64_t i)
{
    return (map[i >> 3] >> (i & 7)) & 1;
}

/* ---- the sections of a machine (all but RAM) ----------------------------------------- */

/* Where sections go: a file (at off) or a buffer; every section's header
 * checksum is chained for the end section. */
struct sink {
    int fd;              /* -1: mem */
    struct vms_out *mem;
    uint64_t off;
    uint32_t count;
    XXH3_state_t *chain;
    char *err;
    size_t errlen;
};

static void section_header(uint8_t h[SECTION_HEADER_LEN], const char *name, const char *kind,
                           uint64_t len, uint64_t payload_off, uint64_t sum)
{
    memset(h, 0, SECTION_HEADER_LEN);
    strncpy((char *)h, name, NAME_LEN - 1);
    if (kind) strncpy((char *)h + 32, kind, KIND_LEN - 1);
    put_le64(h + 48, len);
    put_le64(h + 56, payload_off);
    put_le64(h + 64, sum);
    put_le64(h + 72, XXH3_64bits(h, 72));
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

/* Emit one section whose payload is in memory. */
static int emit(struct sink *s, const char *name, const char *kind, const void *payload,
                size_t len)
{
    uint8_t h[SECTION_HEADER_LEN];
    uint64_t payload_off = s->off + SECTION_HEADER_LEN;
    section_header(h, name, kind, len, payload_off, XXH3_64bits(payload, len));
    XXH3_64bits_update(s->chain, h + 72, 8);
    s->count++;
    if (s->fd >= 0) {
        if (write_at(s->fd, s->off, h, sizeof(h)) < 0 ||
            (len && write_at(s->fd, payload_off, payload, len) < 0)) {
            snprintf(s->err, s->errlen, "cannot write: %s", strerror(errno));
            return -1;
        }
    } else {
        vms_put_bytes(s->mem, h, sizeof(h));
        vms_put_bytes(s->mem, payload, len);
        uint64_t pad = align_up(len, 8) - len;
        static const uint8_t zeros[8];
        vms_put_bytes(s->mem, zeros, pad);
        if (s->mem->failed) {
            snprintf(s->err, s->errlen, "out of memory");
            return -1;
        }
    }
    s->off = align_up(payload_off + len, 8);
    return 0;
}

static int emit_out(struct sink *s, const char *name, const char *kind, struct vms_out *o)
{
    int rc = -1;
    if (o->failed)
        snprintf(s->err, s->errlen, "out of memory saving %s", name);
    else
        rc = emit(s, name, kind, o->buf, o->len);
    vms_out_free(o);
    return rc;
}

/* The guest's mtime: where a pause froze it. */
static uint64_t saved_mtime(const struct machine *m)
{
    return m->time_frozen ? m->frozen_mtime : machine_time(m);
}

static uint64_t machine_flags(const struct machine *m)
{
    return m->ecall_hook ? FLAG_BUILTIN_SBI : 0;
}

/* The machine's own section, the harts, ROM and every device. */
static int emit_machine(struct machine *m, struct sink *s)
{
    struct vms_out o = {0};
    vms_put_u32(&o, MACHINE_STATE_VERSION);
    vms_put_u64(&o, saved_mtime(m));
    vms_put_u64(&o, m->tohost);
    vms_put_u64(&o, m->fromhost);
    if (emit_out(s, "machine", "riscv-virt", &o) < 0) return -1;
    for (int k = 0; k < m->nharts; k++) {
        char name[NAME_LEN];
        snprintf(name, sizeof(name), "hart.%d", k);
        hart_state_save(m->harts[k], &o);
        if (emit_out(s, name, "rv64gc", &o) < 0) return -1;
    }
    for (int i = 0; i < m->nregions; i++) {
        const struct region *r = &m->regions[i];
        if (!r->host || !r->readonly) continue;
        char name[NAME_LEN];
        snprintf(name, sizeof(name), "rom@%" PRIx64, r->base);
        if (emit(s, name, "rom", r->host, r->size) < 0) return -1;
    }
    for (int i = 0; i < m->ndevs; i++) {
        const struct machine_device *d = &m->devs[i];
        if (!d->model->save) continue;
        d->model->save(d->dev, &o);
        if (emit_out(s, d->name, d->model->state_kind, &o) < 0) return -1;
    }
    return 0;
}

int vmstate_save_devices(struct machine *m, struct vms_out *out, char *err, size_t errlen)
{
    XXH3_state_t chain;
    XXH3_64bits_reset(&chain);
    struct sink s = {.fd = -1, .mem = out, .chain = &chain, .err = err, .errlen = errlen};
    if (emit_machine(m, &s) < 0) return -1;
    uint8_t end[16];
    put_le32(end, s.count);
    put_le32(end + 4, 0);
    put_le64(end + 8, XXH3_64bits_digest(&chain));
    return emit(&s, "end", NULL, end, sizeof(end));
}

void vmstate_quiesce(struct machine *m, bool quiet)
{
    for (int i = 0; i < m->ndevs; i++) {
        const struct machine_device *d = &m->devs[i];
        if (d->model->quiesce) d->model->quiesce(d->dev, quiet);
    }
}

/* ---- saving to a file ---------------------------------------------------------------- */

static uint64_t mono_ns(void)
{
    return machine_now_ns();
}

/* Which RAM pages to write: those that may hold anything but zeros
 * (machine_ram_touched) and do. */
static int ram_pages(struct machine *m, uint8_t *map, uint64_t *npresent)
{
    uint64_t npages = m->ram_size / RAM_PAGE;
    unsigned char *touched = machine_ram_touched(m);
    if (!touched) return -1;
    uint64_t n = 0;
    for (uint64_t p = 0; p < npages; p++) {
        if (touched[p] && !page_is_zero(m->ram + p * RAM_PAGE)) {
            map[p >> 3] |= (uint8_t)(1u << (p & 7));
            n++;
        }
    }
    free(touched);
    *npresent = n;
    return 0;
}

static int fsync_dir_of(const char *path)
{
    char *copy = strdup(path);
    if (!copy) return -1;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int vmstate_save_fd(struct machine *m, int fd, const char *tmp, struct vmstate_stats *st,
                    char *err, size_t errlen)
{
    struct vmstate_stats stats = {0};
    uint64_t t0 = mono_ns();
    if (ftruncate(fd, 0) < 0) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        return -1;
    }
    uint64_t npages = m->ram_size / RAM_PAGE;
    uint8_t *map = calloc(1, (npages + 7) / 8);
    XXH3_state_t chain;
    XXH3_64bits_reset(&chain);
    struct sink s = {.fd = fd, .off = FIRST_SECTION, .chain = &chain, .err = err,
                     .errlen = errlen};
    uint8_t hdr[FILE_HEADER_LEN] = {0};
    int ndisks = m->ndisks, nnics = m->nnics;
    if (!map) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    memcpy(hdr, FILE_MAGIC, 8);
    put_le32(hdr + 8, VMSTATE_VERSION);
    put_le32(hdr + 12, FILE_HEADER_LEN);
    strncpy((char *)hdr + 16, VMSTATE_BOARD, 15);
    put_le64(hdr + 32, m->ram_base);
    put_le64(hdr + 40, m->ram_size);
    put_le32(hdr + 48, (uint32_t)m->nharts);
    put_le32(hdr + 52, (uint32_t)machine_flags(m));
    put_le64(hdr + 56, realtime_ns());
    put_le64(hdr + 64, saved_mtime(m));
    put_le32(hdr + 72, (uint32_t)(m->nharts ? m->harts[0]->max_satp_mode : 0));
    put_le32(hdr + 76, (uint32_t)ndisks);
    put_le32(hdr + 80, (uint32_t)nnics);
    put_le64(hdr + 120, XXH3_64bits(hdr, 120));
    XXH3_64bits_update(&chain, hdr + 120, 8);
    if (write_at(fd, 0, hdr, sizeof(hdr)) < 0) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        goto fail;
    }
    if (emit_machine(m, &s) < 0) goto fail;
    stats.ns_devices = mono_ns() - t0;

    /* RAM: which pages, then the pages where they belong */
    uint64_t t1 = mono_ns();
    if (ram_pages(m, map, &stats.ram_pages) < 0) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    if (emit(&s, "ram.map", "bitmap", map, (npages + 7) / 8) < 0) goto fail;
    {
        uint64_t payload_off = align_up(s.off + SECTION_HEADER_LEN, RAM_PAGE);
        XXH3_state_t sum;
        XXH3_64bits_reset(&sum);
        for (uint64_t p = 0; p < npages;) {
            if (!bit(map, p)) {
                p++;
                continue;
            }
            uint64_t q = p;
            while (q < npages && bit(map, q) && q - p < 2048) q++; /* runs of up to 8 MiB */
            const uint8_t *src = m->ram + p * RAM_PAGE;
            size_t len = (size_t)((q - p) * RAM_PAGE);
            XXH3_64bits_update(&sum, src, len);
            if (write_at(fd, payload_off + p * RAM_PAGE, src, len) < 0) {
                snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
                goto fail;
            }
            p = q;
        }
        /* the RAM's length even when its last pages are holes */
        if (ftruncate(fd, (off_t)(payload_off + m->ram_size)) < 0) {
            snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
            goto fail;
        }
        uint8_t h[SECTION_HEADER_LEN];
        section_header(h, "ram", "pages", m->ram_size, payload_off, XXH3_64bits_digest(&sum));
        XXH3_64bits_update(&chain, h + 72, 8);
        s.count++;
        if (write_at(fd, s.off, h, sizeof(h)) < 0) {
            snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
            goto fail;
        }
        s.off = payload_off + m->ram_size;
    }
    stats.ns_ram = mono_ns() - t1;
    uint8_t end[16];
    put_le32(end, s.count);
    put_le32(end + 4, 0);
    put_le64(end + 8, XXH3_64bits_digest(&chain));
    if (emit(&s, "end", NULL, end, sizeof(end)) < 0) goto fail;
    if (ftruncate(fd, (off_t)s.off) < 0) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        goto fail;
    }
    uint64_t t2 = mono_ns();
    if (fsync(fd) < 0) {
        snprintf(err, errlen, "cannot sync %s: %s", tmp, strerror(errno));
        goto fail;
    }
    stats.ns_sync = mono_ns() - t2;
    stats.file_bytes = s.off;
    free(map);
    if (st) *st = stats;
    return 0;
fail:
    free(map);
    return -1;
}

int vmstate_save(struct machine *m, const char *path, struct vmstate_stats *st, char *err,
                 size_t errlen)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp-%d", path, (int)getpid()) >= (int)sizeof(tmp)) {
        snprintf(err, errlen, "%s: path too long", path);
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
        return -1;
    }
    struct vmstate_stats stats;
    int rc = vmstate_save_fd(m, fd, tmp, &stats, err, errlen);
    close(fd);
    uint64_t t = mono_ns();
    if (rc == 0 && rename(tmp, path) < 0) {
        snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        rc = -1;
    }
    if (rc < 0) {
        unlink(tmp);
        return -1;
    }
    fsync_dir_of(path);
    stats.ns_sync += mono_ns() - t;
    if (st) *st = stats;
    return 0;
}

/* ---- reading --------------------------------------------------------------------- */

struct section {
    char name[NAME_LEN];
    char kind[KIND_LEN];
    uint64_t off, len;   /* payload */
    uint64_t sum;        /* its checksum */
    uint8_t *data;       /* the payload (NULL for RAM: checked by check_ram) */
    bool used;
};

struct vmstate_file {
    int fd;
    char *path;
    uint8_t header[FILE_HEADER_LEN];
    struct section *sec;
    int nsec;
    const struct section *ram, *ram_map;
};

/* Where sections come from: a file or a buffer. */
struct source {
    int fd;
    const uint8_t *mem;
    uint64_t size;
    const char *what; /* the file's name, for messages */
};

static int src_read(const struct source *src, uint64_t off, void *buf, size_t len)
{
    if (off > src->size || len > src->size - off) return -1;
    if (src->fd < 0) {
        memcpy(buf, src->mem + off, len);
        return 0;
    }
    return read_at(src->fd, off, buf, len);
}

static void free_sections(struct section *sec, int n)
{
    for (int i = 0; i < n; i++) free(sec[i].data);
    free(sec);
}

/* Read the sections from `off` to the end section, checking each. */
static int read_sections(const struct source *src, uint64_t off, XXH3_state_t *chain,
                         struct section **out, int *nout, char *err, size_t errlen)
{
    struct section *sec = NULL;
    int n = 0;
    for (;;) {
        uint8_t h[SECTION_HEADER_LEN];
        if (off > src->size || SECTION_HEADER_LEN > src->size - off) {
            snprintf(err, errlen,
                     "%s is truncated: it ends at byte %" PRIu64 ", before its end section "
                     "(the save did not finish; use the state saved before it)",
                     src->what, src->size);
            goto fail;
        }
        if (src_read(src, off, h, sizeof(h)) < 0) {
            snprintf(err, errlen, "cannot read %s: %s", src->what, strerror(errno));
            goto fail;
        }
        if (le64(h + 72) != XXH3_64bits(h, 72)) {
            snprintf(err, errlen,
                     "%s is corrupted: the section header at byte %" PRIu64
                     " does not match its checksum",
                     src->what, off);
            goto fail;
        }
        if (n == MAX_SECTIONS) {
            snprintf(err, errlen, "%s has more than %d sections", src->what, MAX_SECTIONS);
            goto fail;
        }
        struct section *ns = realloc(sec, sizeof(*sec) * (size_t)(n + 1));
        if (!ns) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        sec = ns;
        struct section *s = &sec[n];
        memset(s, 0, sizeof(*s));
        memcpy(s->name, h, NAME_LEN);
        memcpy(s->kind, h + 32, KIND_LEN);
        if (s->name[NAME_LEN - 1] || s->kind[KIND_LEN - 1] || !s->name[0]) {
            snprintf(err, errlen, "%s is corrupted: a section at byte %" PRIu64 " has no name",
                     src->what, off);
            goto fail;
        }
        n++;
        s->len = le64(h + 48);
        s->off = le64(h + 56);
        uint64_t sum = s->sum = le64(h + 64);
        bool is_ram = strcmp(s->name, "ram") == 0 && src->fd >= 0;
        uint64_t want = is_ram ? align_up(off + SECTION_HEADER_LEN, RAM_PAGE)
                               : off + SECTION_HEADER_LEN;
        if (s->off != want) {
            snprintf(err, errlen,
                     "%s is corrupted: section %s says its data is at byte %" PRIu64
                     ", not %" PRIu64,
                     src->what, s->name, s->off, want);
            goto fail;
        }
        if (s->off > src->size || s->len > src->size - s->off) {
            snprintf(err, errlen,
                     "%s is truncated: section %s needs bytes up to %" PRIu64
                     ", the file has %" PRIu64 " (the save did not finish; use the state "
                     "saved before it)",
                     src->what, s->name, s->off + s->len, src->size);
            goto fail;
        }
        for (int k = 0; k < n - 1; k++)
            if (strcmp(sec[k].name, s->name) == 0) {
                snprintf(err, errlen, "%s is corrupted: two sections named %s", src->what,
                         s->name);
                goto fail;
            }
        if (!is_ram) {
            if (s->len > (256u << 20)) {
                snprintf(err, errlen, "%s: section %s is too large (%" PRIu64 " bytes)",
                         src->what, s->name, s->len);
                goto fail;
            }
            s->data = malloc(s->len ? s->len : 1);
            if (!s->data) {
                snprintf(err, errlen, "out of memory");
                goto fail;
            }
            if (src_read(src, s->off, s->data, s->len) < 0) {
                snprintf(err, errlen, "cannot read %s: %s", src->what, strerror(errno));
                goto fail;
            }
            if (XXH3_64bits(s->data, s->len) != sum) {
                snprintf(err, errlen,
                         "%s is corrupted: section %s does not match its checksum", src->what,
                         s->name);
                goto fail;
            }
        }
        if (strcmp(s->name, "end") == 0) {
            uint64_t chained = XXH3_64bits_digest(chain);
            if (s->len != 16 || le32(s->data) != (uint32_t)(n - 1) ||
                le64(s->data + 8) != chained) {
                snprintf(err, errlen,
                         "%s is corrupted: its end section does not match the sections "
                         "before it",
                         src->what);
                goto fail;
            }
            uint64_t end = align_up(s->off + s->len, 8);
            if (end != src->size) {
                snprintf(err, errlen,
                         "%s has %" PRIu64 " bytes after its end section (not a state file "
                         "kumo wrote?)",
                         src->what, src->size > end ? src->size - end : 0);
                goto fail;
            }
            break;
        }
        XXH3_64bits_update(chain, h + 72, 8);
        off = align_up(s->off + s->len, 8);
    }
    *out = sec;
    *nout = n;
    return 0;
fail:
    free_sections(sec, n);
    return -1;
}

static const struct section *find(const struct section *sec, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(sec[i].name, name) == 0) return &sec[i];
    return NULL;
}

/* Check the RAM pages against their checksum, and that the holes hold no
 * data (what is mapped as guest RAM must be exactly what was saved). */
static int check_ram(struct vmstate_file *f, uint64_t ram_size, char *err, size_t errlen)
{
    const struct section *ram = f->ram, *map = f->ram_map;
    uint64_t npages = ram_size / RAM_PAGE;
    if (ram->len != ram_size || map->len != (npages + 7) / 8) {
        snprintf(err, errlen, "%s is corrupted: its RAM section does not match its RAM size",
                 f->path);
        return -1;
    }
    uint64_t want = ram->sum;
    size_t bufsize = 8u << 20;
    uint8_t *buf = malloc(bufsize);
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    XXH3_state_t sum;
    XXH3_64bits_reset(&sum);
    int rc = 0;
    for (uint64_t p = 0; p < npages && rc == 0;) {
        bool present = bit(map->data, p);
        uint64_t q = p;
        while (q < npages && bit(map->data, q) == present && q - p < bufsize / RAM_PAGE) q++;
        uint64_t off = ram->off + p * RAM_PAGE, len = (q - p) * RAM_PAGE;
        if (present) {
            if (read_at(f->fd, off, buf, (size_t)len) < 0) {
                snprintf(err, errlen, "cannot read %s: %s", f->path,
                         errno ? strerror(errno) : "end of file");
                rc = -1;
                break;
            }
            XXH3_64bits_update(&sum, buf, (size_t)len);
        } else {
            /* a hole must stay one (or hold zeros) */
            off_t data = lseek(f->fd, (off_t)off, SEEK_DATA);
            if (data >= 0 && (uint64_t)data < off + len) {
                uint64_t from = (uint64_t)data & ~(RAM_PAGE - 1);
                if (read_at(f->fd, from, buf, (size_t)(off + len - from)) < 0) {
                    snprintf(err, errlen, "cannot read %s", f->path);
                    rc = -1;
                    break;
                }
                for (uint64_t k = 0; k < off + len - from; k += RAM_PAGE)
                    if (!page_is_zero(buf + k)) {
                        snprintf(err, errlen,
                                 "%s is corrupted: guest page %" PRIu64
                                 " is marked empty but holds data",
                                 f->path, (uint64_t)((from - ram->off + k) / RAM_PAGE));
                        rc = -1;
                        break;
                    }
            }
        }
        p = q;
    }
    free(buf);
    if (rc == 0 && XXH3_64bits_digest(&sum) != want) {
        snprintf(err, errlen, "%s is corrupted: its RAM does not match its checksum", f->path);
        rc = -1;
    }
    return rc;
}

struct vmstate_file *vmstate_open(const char *path, char *err, size_t errlen)
{
    struct vmstate_file *f = calloc(1, sizeof(*f));
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    f->fd = open(path, O_RDONLY | O_CLOEXEC);
    f->path = strdup(path);
    struct stat st;
    if (f->fd < 0 || fstat(f->fd, &st) < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        goto fail;
    }
    uint8_t *h = f->header;
    if ((uint64_t)st.st_size < FILE_HEADER_LEN || read_at(f->fd, 0, h, FILE_HEADER_LEN) < 0 ||
        memcmp(h, FILE_MAGIC, 8) != 0) {
        snprintf(err, errlen, "%s is not a kumo VM state file", path);
        goto fail;
    }
    if (le64(h + 120) != XXH3_64bits(h, 120)) {
        snprintf(err, errlen, "%s is corrupted: its header does not match its checksum", path);
        goto fail;
    }
    if (le32(h + 8) != VMSTATE_VERSION || le32(h + 12) != FILE_HEADER_LEN) {
        snprintf(err, errlen,
                 "%s has state format version %u; this kumo-vmm reads version %u only (save "
                 "it again with the kumo-vmm that wrote it, or start the VM afresh)",
                 path, le32(h + 8), VMSTATE_VERSION);
        goto fail;
    }
    if (strncmp((char *)h + 16, VMSTATE_BOARD, 16) != 0) {
        snprintf(err, errlen, "%s is the state of another board (%.15s), not %s", path,
                 (char *)h + 16, VMSTATE_BOARD);
        goto fail;
    }
    uint64_t ram_size = le64(h + 40);
    if (ram_size == 0 || ram_size % (1 << 20) || le32(h + 48) == 0 ||
        le32(h + 48) > MACHINE_MAX_HARTS) {
        snprintf(err, errlen, "%s is corrupted: RAM size or vCPU count out of range", path);
        goto fail;
    }
    XXH3_state_t chain;
    XXH3_64bits_reset(&chain);
    XXH3_64bits_update(&chain, h + 120, 8);
    struct source src = {.fd = f->fd, .size = (uint64_t)st.st_size, .what = path};
    if (read_sections(&src, FIRST_SECTION, &chain, &f->sec, &f->nsec, err, errlen) < 0)
        goto fail;
    f->ram = find(f->sec, f->nsec, "ram");
    f->ram_map = find(f->sec, f->nsec, "ram.map");
    if (!f->ram || !f->ram_map || f->ram_map > f->ram) {
        snprintf(err, errlen, "%s is corrupted: it has no RAM", path);
        goto fail;
    }
    if (check_ram(f, ram_size, err, errlen) < 0) goto fail;
    return f;
fail:
    vmstate_close(f);
    return NULL;
}

void vmstate_close(struct vmstate_file *f)
{
    if (!f) return;
    if (f->fd >= 0) close(f->fd);
    free_sections(f->sec, f->nsec);
    free(f->path);
    free(f);
}

void vmstate_get_info(const struct vmstate_file *f, struct vmstate_info *out)
{
    const uint8_t *h = f->header;
    *out = (struct vmstate_info){
        .ram_size = le64(h + 40),
        .ncpus = (int)le32(h + 48),
        .builtin_sbi = le32(h + 52) & FLAG_BUILTIN_SBI,
        .saved_at_ns = le64(h + 56),
        .mtime = le64(h + 64),
        .satp_mode = (int)le32(h + 72),
        .ndisks = (int)le32(h + 76),
        .nnics = (int)le32(h + 80),
    };
}

/* ---- loading --------------------------------------------------------------------- */

static int load_section(const struct section *s, int (*fn)(void *, struct vms_in *), void *arg,
                        char *err, size_t errlen)
{
    struct vms_in in;
    vms_in_init(&in, s->name, s->data, s->len);
    if (fn(arg, &in) < 0 || vms_in_end(&in) < 0) {
        snprintf(err, errlen, "%s", in.err[0] ? in.err : "a section does not load");
        return -1;
    }
    return 0;
}

static int load_machine_section(void *arg, struct vms_in *in)
{
    struct machine *m = arg;
    uint32_t version = vms_get_u32(in);
    uint64_t mtime = vms_get_u64(in), tohost = vms_get_u64(in), fromhost = vms_get_u64(in);
    if (vms_in_end(in) < 0) return -1;
    if (version != MACHINE_STATE_VERSION)
        return vms_fail(in, "version %u (this kumo-vmm reads %u)", version,
                        MACHINE_STATE_VERSION);
    if (tohost && (!in_ram(m, tohost) || (tohost & 7) || !in_ram(m, tohost + 7)))
        return vms_fail(in, "HTIF tohost outside RAM");
    /* The guest's clock goes on from where it was saved (the time between
     * is not the guest's: its RTC tells it the real time). */
    m->time_base_ns = machine_now_ns() - mtime * (1000000000ull / MACHINE_TIMEBASE_HZ);
    if (tohost && htif_attach(m, tohost, fromhost) < 0)
        return vms_fail(in, "cannot watch HTIF tohost");
    return 0;
}

static int load_hart(void *arg, struct vms_in *in)
{
    return hart_state_load(arg, in);
}

static int load_device(void *arg, struct vms_in *in)
{
    const struct machine_device *d = arg;
    return d->model->load(d->dev, in);
}

/* Load every section but RAM into m. */
static int load_sections(struct machine *m, struct section *sec, int nsec, char *err,
                         size_t errlen)
{
    struct section *s = (struct section *)find(sec, nsec, "machine");
    if (!s) {
        snprintf(err, errlen, "the state has no machine section");
        return -1;
    }
    s->used = true;
    if (load_section(s, load_machine_section, m, err, errlen) < 0) return -1;
    for (int k = 0; k < m->nharts; k++) {
        char name[NAME_LEN];
        snprintf(name, sizeof(name), "hart.%d", k);
        s = (struct section *)find(sec, nsec, name);
        if (!s) {
            snprintf(err, errlen, "the state has no %s: it was saved with fewer vCPUs", name);
            return -1;
        }
        s->used = true;
        if (load_section(s, load_hart, m->harts[k], err, errlen) < 0) return -1;
    }
    for (int i = 0; i < m->nregions; i++) {
        struct region *r = &m->regions[i];
        if (!r->host || !r->readonly) continue;
        char name[NAME_LEN];
        snprintf(name, sizeof(name), "rom@%" PRIx64, r->base);
        s = (struct section *)find(sec, nsec, name);
        if (!s || s->len != r->size) {
            snprintf(err, errlen, "the state has no %s of %" PRIu64 " bytes", name, r->size);
            return -1;
        }
        s->used = true;
        memcpy(r->host, s->data, r->size);
    }
    for (int i = 0; i < m->ndevs; i++) {
        const struct machine_device *d = &m->devs[i];
        s = (struct section *)find(sec, nsec, d->name);
        if (!d->model->save) {
            if (s) {
                snprintf(err, errlen,
                         "the saved VM has a %s at %s, this one has none there: give the same "
                         "--disk and --net options the VM was saved with",
                         s->kind, d->name);
                return -1;
            }
            continue;
        }
        if (!s) {
            snprintf(err, errlen,
                     "the saved VM has no %s at %s: give the same --disk and --net options "
                     "the VM was saved with",
                     d->model->state_kind, d->name);
            return -1;
        }
        if (strcmp(s->kind, d->model->state_kind) != 0) {
            snprintf(err, errlen,
                     "the saved VM has a %s at %s, this one a %s: give the same --disk and "
                     "--net options the VM was saved with",
                     s->kind, d->name, d->model->state_kind);
            return -1;
        }
        s->used = true;
        if (load_section(s, load_device, (void *)d, err, errlen) < 0) return -1;
    }
    for (int i = 0; i < nsec; i++)
        if (!sec[i].used && strcmp(sec[i].name, "end") && strcmp(sec[i].name, "ram") &&
            strcmp(sec[i].name, "ram.map")) {
            snprintf(err, errlen,
                     "the saved VM has a %s (%s) this machine lacks: give the same --cpus, "
                     "--disk and --net options the VM was saved with",
                     sec[i].name, sec[i].kind);
            return -1;
        }
    return 0;
}

int vmstate_load(struct vmstate_file *f, struct machine *m, char *err, size_t errlen)
{
    struct vmstate_info info;
    vmstate_get_info(f, &info);
    if (info.ram_size != m->ram_size) {
        snprintf(err, errlen, "%s holds a VM of %" PRIu64 " MiB RAM; this one has %" PRIu64
                              " MiB: give --mem %" PRIu64,
                 f->path, info.ram_size >> 20, m->ram_size >> 20, info.ram_size >> 20);
        return -1;
    }
    if (info.ncpus != m->nharts) {
        snprintf(err, errlen, "%s holds a VM of %d vCPUs; this one has %d: give --cpus %d",
                 f->path, info.ncpus, m->nharts, info.ncpus);
        return -1;
    }
    if (info.builtin_sbi != (m->ecall_hook != NULL)) {
        snprintf(err, errlen, "%s was saved %s the built-in SBI firmware: boot it the same way "
                              "(--kernel %s --bios)",
                 f->path, info.builtin_sbi ? "with" : "without",
                 info.builtin_sbi ? "without" : "with");
        return -1;
    }
    if (le64(f->header + 32) != m->ram_base) {
        snprintf(err, errlen, "%s: RAM at another address", f->path);
        return -1;
    }
    /* RAM: the file's pages, copy-on-write, in place of the fresh mapping */
    void *p = mmap(m->ram, m->ram_size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE, f->fd, (off_t)f->ram->off);
    if (p == MAP_FAILED) {
        snprintf(err, errlen, "cannot map the RAM of %s: %s", f->path, strerror(errno));
        return -1;
    }
    uint64_t mapbytes = f->ram_map->len;
    free(m->ram_file_pages);
    m->ram_file_pages = malloc(mapbytes);
    if (!m->ram_file_pages) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(m->ram_file_pages, f->ram_map->data, mapbytes);
    for (int i = 0; i < f->nsec; i++) f->sec[i].used = false;
    return load_sections(m, f->sec, f->nsec, err, errlen);
}

int vmstate_load_devices(struct machine *m, const void *buf, size_t len, char *err,
                         size_t errlen)
{
    struct source src = {.fd = -1, .mem = buf, .size = len, .what = "the device state"};
    XXH3_state_t chain;
    XXH3_64bits_reset(&chain);
    struct section *sec;
    int n;
    if (read_sections(&src, 0, &chain, &sec, &n, err, errlen) < 0) return -1;
    int rc = load_sections(m, sec, n, err, errlen);
    free_sections(sec, n);
    return rc;
}
