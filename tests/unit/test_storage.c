/*
 * test_storage.c - the disk image layer (src/storage) against a shadow copy
 * of what each disk should contain: raw and qcow2 round trips with random
 * offsets and lengths, backing chains, copy-on-write of partial clusters,
 * discard and write-zeroes, sparseness, resize, refcount table growth,
 * concurrent writers, VHD/VMDK import, and interoperability with qemu-img
 * (images each tool writes are read and checked by the other). The qemu-img
 * parts are skipped, with a message, when it is not installed.
 */
#include "storage/disk.h"
#include "storage/qcow2.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/kumo-test-storage-XXXXXX";
static bool have_qemu;

#include "check.h"

static const char *P(const char *name)
{
    static char buf[8][512];
    static int i;
    i = (i + 1) % 8;
    snprintf(buf[i], sizeof(buf[i]), "%s/%s", tmpdir, name);
    return buf[i];
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void fill_random(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)rnd();
    /* some runs of zeros, so zero detection gets exercised too */
    if (n >= 4096 && rnd() % 4 == 0) memset(p + n / 4, 0, n / 2);
}

static struct disk *open_disk(const char *path, const char *fmt, bool ro)
{
    char err[512];
    struct disk_options o = {.format = fmt, .readonly = ro};
    struct disk *d = disk_open(path, &o, err, sizeof(err));
    CHECK(d != NULL, "open %s: %s", path, err);
    return d;
}

static bool create(const char *path, const char *fmt, uint64_t size, const char *backing,
                   const char *bfmt, uint32_t cs)
{
    char err[512];
    int r = disk_create(path, fmt, size, backing, bfmt, cs, err, sizeof(err));
    CHECK(r == 0, "create %s: %s", path, err);
    return r == 0;
}

/* Compare the whole disk with the shadow. */
static bool verify(struct disk *d, const uint8_t *shadow, uint64_t size, const char *what)
{
    size_t chunk = 1 << 20;
    uint8_t *buf = malloc(chunk);
    bool ok = true;
    for (uint64_t off = 0; off < size && ok; off += chunk) {
        size_t n = size - off < chunk ? (size_t)(size - off) : chunk;
        int r = disk_read(d, off, buf, n);
        if (r < 0) {
            char e[512];
            disk_last_error(d, e, sizeof(e));
            CHECK(0, "%s: read at %" PRIu64 " failed: %d %s", what, off, r, e);
            ok = false;
            break;
        }
        if (memcmp(buf, shadow + off, n) != 0) {
            size_t i = 0;
            while (buf[i] == shadow[off + i])
                i++;
            CHECK(0, "%s: mismatch at byte %" PRIu64 " (got %02x want %02x)", what, off + i, buf[i],
                  shadow[off + i]);
            ok = false;
        }
    }
    free(buf);
    checks++;
    return ok;
}

/* Random writes, zeroes, discards and reads, mirrored in the shadow. */
static void random_io(struct disk *d, uint8_t *shadow, uint64_t size, int iters, size_t maxlen,
                      bool zeroes)
{
    uint8_t *buf = malloc(maxlen), *rb = malloc(maxlen);
    for (int i = 0; i < iters; i++) {
        size_t len = (size_t)(rnd() % (maxlen / 512) + 1) * 512;
        if (len > size) len = (size_t)size;
        uint64_t off = rnd() % ((size - len) / 512 + 1) * 512;
        unsigned op = (unsigned)(rnd() % 10);
        int r;
        if (op < 5) {
            fill_random(buf, len);
            r = disk_write(d, off, buf, len);
            CHECK(r == 0, "write %" PRIu64 "+%zu: %d", off, len, r);
            memcpy(shadow + off, buf, len);
        } else if (op < 8 || !zeroes) {
            r = disk_read(d, off, rb, len);
            CHECK(r == 0 && memcmp(rb, shadow + off, len) == 0, "read %" PRIu64 "+%zu: %d", off,
                  len, r);
        } else if (op == 8) {
            r = disk_write_zeroes(d, off, len, rnd() & 1);
            CHECK(r == 0, "write_zeroes %" PRIu64 "+%zu: %d", off, len, r);
            memset(shadow + off, 0, len);
        } else {
            r = disk_discard(d, off, len);
            CHECK(r == 0, "discard %" PRIu64 "+%zu: %d", off, len, r);
            memset(shadow + off, 0, len);
        }
        if (rnd() % 16 == 0) CHECK(disk_flush(d) == 0, "flush");
    }
    free(buf);
    free(rb);
}

static int kumo_check(const char *path)
{
    char err[512];
    struct disk_options o = {.readonly = true, .for_check = true};
    struct disk *d = disk_open(path, &o, err, sizeof(err));
    if (!d) {
        printf("  check open %s: %s\n", path, err);
        return -1;
    }
    struct qcow2_check_result res;
    int r = qcow2_check(d, false, &res, NULL, NULL);
    disk_close(d);
    if (r < 0) return -1;
    return res.corruptions ? 2 : res.leaks ? 3 : 0;
}

static void qemu_check_ok(const char *path, bool leaks_ok)
{
    int k = kumo_check(path);
    CHECK(k == 0 || (leaks_ok && k == 3), "kumo check %s: %d", path, k);
    if (!have_qemu) return;
    int r = sh("qemu-img check -q %s >%s/check.log 2>&1", path, tmpdir);
    CHECK(r == 0 || (leaks_ok && r == 3), "qemu-img check %s exited %d", path, r);
    if (r != 0 && !(leaks_ok && r == 3)) sh("head -20 %s/check.log", tmpdir);
}

/* ---- tests ---- */

static void test_raw(void)
{
    uint64_t size = 8 << 20;
    uint8_t *shadow = calloc(1, size);
    if (!create(P("r.raw"), "raw", size, NULL, NULL, 0)) return;
    struct disk *d = open_disk(P("r.raw"), "raw", false);
    if (!d) return;
    CHECK(disk_size(d) == size, "raw size");
    random_io(d, shadow, size, 400, 256 << 10, true);
    verify(d, shadow, size, "raw");
    /* errors a caller can make */
    uint8_t b[1024];
    CHECK(disk_read(d, 1, b, 512) == -EINVAL, "unaligned offset");
    CHECK(disk_read(d, 0, b, 100) == -EINVAL, "unaligned length");
    CHECK(disk_read(d, size, b, 512) == -ERANGE, "read past end");
    CHECK(disk_write(d, size - 512, b, 1024) == -ERANGE, "write past end");
    disk_close(d);
    d = open_disk(P("r.raw"), NULL, true);
    if (!d) return;
    CHECK(strcmp(disk_format(d), "raw") == 0, "probe raw");
    verify(d, shadow, size, "raw reopened");
    CHECK(disk_write(d, 0, b, 512) == -EROFS, "write to read-only");
    disk_close(d);
    /* a probed raw image must not be turned into a qcow2 by a guest */
    d = open_disk(P("r.raw"), NULL, false);
    memset(b, 0, 512);
    memcpy(b, "QFI\xfb", 4);
    CHECK(disk_write(d, 0, b, 512) == -EPERM, "probed raw refuses a qcow2 header");
    disk_close(d);
    d = open_disk(P("r.raw"), "raw", false);
    CHECK(disk_write(d, 0, b, 512) == 0, "explicit raw allows it");
    disk_close(d);
    free(shadow);
}

static void qcow2_roundtrip(uint32_t cs, int version, unsigned rbits, uint64_t size, int iters,
                            size_t maxlen)
{
    char name[64];
    snprintf(name, sizeof(name), "rt-%u-v%d-%u.qcow2", cs, version, rbits);
    const char *path = P(name);
    struct qcow2_create_opts o = {
        .path = path, .size = size, .cluster_size = cs, .version = version, .refcount_bits = rbits};
    char err[512];
    int r = qcow2_create_ex(&o, err, sizeof(err));
    CHECK(r == 0, "create %s: %s", name, err);
    if (r) return;
    uint8_t *shadow = calloc(1, size);
    struct disk *d = open_disk(path, "qcow2", false);
    if (!d) return;
    random_io(d, shadow, size, iters, maxlen, true);
    verify(d, shadow, size, name);
    disk_close(d);
    d = open_disk(path, NULL, true);
    if (d) {
        CHECK(disk_is_qcow2(d), "probe qcow2");
        verify(d, shadow, size, name);
        disk_close(d);
    }
    qemu_check_ok(path, false);
    if (have_qemu) { /* qemu reads what kumo wrote */
        CHECK(sh("qemu-img convert -O raw %s %s/out.raw", path, tmpdir) == 0, "qemu convert");
        d = open_disk(P("out.raw"), "raw", true);
        if (d) {
            verify(d, shadow, size, "qemu's view");
            disk_close(d);
        }
    }
    free(shadow);
}

static void test_qcow2_roundtrips(void)
{
    qcow2_roundtrip(65536, 3, 16, 32 << 20, 600, 512 << 10);
    qcow2_roundtrip(4096, 3, 16, 16 << 20, 600, 64 << 10);
    qcow2_roundtrip(2 << 20, 3, 16, 24 << 20, 100, 3 << 20);
    qcow2_roundtrip(65536, 2, 16, 16 << 20, 300, 256 << 10);
    qcow2_roundtrip(4096, 3, 1, 8 << 20, 300, 64 << 10);
    qcow2_roundtrip(4096, 3, 8, 8 << 20, 300, 64 << 10);
    /* 512-byte clusters, 64-bit refcounts: the refcount table grows many times */
    qcow2_roundtrip(512, 3, 64, 6 << 20, 400, 64 << 10);
}

static void test_backing_chain(void)
{
    uint64_t size = 8 << 20;
    uint8_t *shadow = malloc(size), *base = malloc(size);
    fill_random(base, size);
    int fd = open(P("base.raw"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0 && write(fd, base, size) == (ssize_t)size, "write base");
    close(fd);
    memcpy(shadow, base, size);
    if (!create(P("mid.qcow2"), "qcow2", 0, "base.raw", "raw", 4096)) return;
    struct disk *d = open_disk(P("mid.qcow2"), "qcow2", false);
    if (!d) return;
    CHECK(disk_size(d) == size, "size from backing");
    random_io(d, shadow, size, 150, 32 << 10, true);
    disk_close(d);
    if (!create(P("top.qcow2"), "qcow2", size, "mid.qcow2", NULL, 65536)) return;
    d = open_disk(P("top.qcow2"), NULL, false);
    if (!d) return;
    CHECK(disk_backing(d) && disk_backing(disk_backing(d)), "chain of three");
    verify(d, shadow, size, "top before writes");
    /* copy-on-write of a partial cluster: the rest comes from below */
    uint8_t sec[512];
    memset(sec, 0x5a, sizeof(sec));
    CHECK(disk_write(d, 65536 + 4096, sec, 512) == 0, "partial write");
    memcpy(shadow + 65536 + 4096, sec, 512);
    verify(d, shadow, 3 * 65536, "COW partial cluster");
    random_io(d, shadow, size, 300, 200 << 10, true);
    verify(d, shadow, size, "top");
    disk_close(d);
    d = open_disk(P("top.qcow2"), NULL, true);
    if (d) {
        verify(d, shadow, size, "top reopened");
        disk_close(d);
    }
    /* the base file is untouched */
    uint8_t *now = malloc(size);
    fd = open(P("base.raw"), O_RDONLY);
    CHECK(fd >= 0 && read(fd, now, size) == (ssize_t)size && memcmp(now, base, size) == 0,
          "base is byte-identical");
    close(fd);
    qemu_check_ok(P("mid.qcow2"), false);
    qemu_check_ok(P("top.qcow2"), false);
    if (have_qemu) {
        CHECK(sh("qemu-img convert -O raw %s %s/chain.raw", P("top.qcow2"), tmpdir) == 0,
              "qemu reads the chain");
        d = open_disk(P("chain.raw"), "raw", true);
        if (d) {
            verify(d, shadow, size, "qemu's view of the chain");
            disk_close(d);
        }
    }
    /* a chain that loops is refused with a message */
    create(P("loop1.qcow2"), "qcow2", 1 << 20, NULL, NULL, 0);
    create(P("loop2.qcow2"), "qcow2", 1 << 20, "loop1.qcow2", "qcow2", 0);
    if (have_qemu) {
        sh("qemu-img rebase -u -F qcow2 -b loop2.qcow2 %s", P("loop1.qcow2"));
        char err[512];
        struct disk_options o = {.readonly = true};
        d = disk_open(P("loop2.qcow2"), &o, err, sizeof(err));
        CHECK(!d && strstr(err, "loop"), "backing loop: %s", err);
        if (d) disk_close(d);
    }
    free(now);
    free(base);
    free(shadow);
}

static void test_zeroes(void)
{
    /* v3 without backing, v3 with backing, v2 with backing, raw */
    uint64_t size = 4 << 20;
    uint8_t *data = malloc(size), *shadow = malloc(size);
    fill_random(data, size);
    int fd = open(P("zb.raw"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(write(fd, data, size) == (ssize_t)size, "base");
    close(fd);
    const char *names[] = {"z3.qcow2", "z3b.qcow2", "z2b.qcow2", "z.raw"};
    for (int k = 0; k < 4; k++) {
        const char *path = P(names[k]);
        char err[512];
        if (k < 3) {
            struct qcow2_create_opts o = {.path = path,
                                          .size = size,
                                          .cluster_size = 65536,
                                          .version = k == 2 ? 2 : 3,
                                          .backing_file = k ? "zb.raw" : NULL,
                                          .backing_format = k ? "raw" : NULL};
            CHECK(qcow2_create_ex(&o, err, sizeof(err)) == 0, "%s: %s", names[k], err);
        } else {
            create(path, "raw", size, NULL, NULL, 0);
        }
        struct disk *d = open_disk(path, k < 3 ? "qcow2" : "raw", false);
        if (!d) continue;
        if (k == 0 || k == 3)
            memset(shadow, 0, size);
        else
            memcpy(shadow, data, size);
        /* write everything, then zero and discard ranges (aligned and not) */
        CHECK(disk_write(d, 0, data, size / 2) == 0, "fill");
        memcpy(shadow, data, size / 2);
        struct {
            uint64_t off, len;
            int how;
        } ops[] = {
            {0, 65536, 0},
            {65536, 512, 1},
            {131072 + 512, 70000 & ~511, 2},
            {1 << 20, 1 << 20, 1},
            {3 << 20, 65536 * 3, 0},
            {(2 << 20) + 4096, 8192, 2},
            {size - 65536, 65536, 1},
        };
        for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
            int r = ops[i].how == 0   ? disk_write_zeroes(d, ops[i].off, ops[i].len, false)
                    : ops[i].how == 1 ? disk_write_zeroes(d, ops[i].off, ops[i].len, true)
                                      : disk_discard(d, ops[i].off, ops[i].len);
            CHECK(r == 0, "%s zero op %zu: %d", names[k], i, r);
            memset(shadow + ops[i].off, 0, ops[i].len);
        }
        verify(d, shadow, size, names[k]);
        disk_close(d);
        d = open_disk(path, NULL, true);
        if (d) {
            verify(d, shadow, size, names[k]);
            disk_close(d);
        }
        if (k < 3) qemu_check_ok(path, false);
    }
    free(data);
    free(shadow);
}

static void test_sparse_and_resize(void)
{
    const char *path = P("big.qcow2");
    if (!create(path, "qcow2", 1ull << 30, NULL, NULL, 0)) return;
    struct disk *d = open_disk(path, "qcow2", false);
    if (!d) return;
    uint8_t buf[4096];
    memset(buf, 0xa5, sizeof(buf));
    uint64_t offs[] = {0, 300 << 20, (1ull << 30) - 4096, 512 << 20, 77 << 20};
    for (int i = 0; i < 5; i++)
        CHECK(disk_write(d, offs[i], buf, sizeof(buf)) == 0, "write");
    disk_close(d);
    struct stat st;
    stat(path, &st);
    CHECK((uint64_t)st.st_blocks * 512 < (2u << 20),
          "1 GiB image with 5 writes takes %" PRIu64 " bytes", (uint64_t)st.st_blocks * 512);
    qemu_check_ok(path, false);

    /* grow a qcow2 past its L1 table, write at the new end */
    const char *small = P("grow.qcow2");
    if (!create(small, "qcow2", 1 << 20, NULL, NULL, 4096)) return;
    d = open_disk(small, "qcow2", false);
    CHECK(disk_write(d, 0, buf, sizeof(buf)) == 0, "write before resize");
    CHECK(disk_resize(d, 100 << 20) == 0, "grow qcow2");
    CHECK(disk_size(d) == 100 << 20, "new size");
    CHECK(disk_write(d, (100 << 20) - 4096, buf, sizeof(buf)) == 0, "write at new end");
    CHECK(disk_resize(d, 50 << 20) == -ENOTSUP, "shrink qcow2 refused");
    disk_close(d);
    d = open_disk(small, NULL, true);
    uint8_t rb[4096];
    CHECK(d && disk_size(d) == 100 << 20, "size after reopen");
    CHECK(d && disk_read(d, 0, rb, 4096) == 0 && memcmp(rb, buf, 4096) == 0, "old data");
    CHECK(d && disk_read(d, (100 << 20) - 4096, rb, 4096) == 0 && memcmp(rb, buf, 4096) == 0,
          "new data");
    CHECK(d && disk_read(d, 50 << 20, rb, 4096) == 0 && rb[0] == 0 && rb[4095] == 0,
          "zeros in the new range");
    if (d) disk_close(d);
    qemu_check_ok(small, false);

    /* growing over a longer backing file: the new range reads zeros */
    uint64_t bsize = 4 << 20;
    uint8_t *bd = malloc(bsize);
    memset(bd, 0x77, bsize);
    int fd = open(P("long.raw"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(write(fd, bd, bsize) == (ssize_t)bsize, "long base");
    close(fd);
    create(P("short.qcow2"), "qcow2", 1 << 20, "long.raw", "raw", 65536);
    d = open_disk(P("short.qcow2"), "qcow2", false);
    CHECK(d && disk_resize(d, 3 << 20) == 0, "grow over backing");
    CHECK(d && disk_read(d, (1 << 20) - 4096, rb, 4096) == 0 && rb[0] == 0x77, "old range");
    CHECK(d && disk_read(d, (2 << 20), rb, 4096) == 0 && rb[0] == 0 && rb[4095] == 0,
          "new range is zero, not backing data");
    if (d) disk_close(d);
    qemu_check_ok(P("short.qcow2"), false);
    free(bd);

    /* raw: grow and shrink */
    create(P("rs.raw"), "raw", 1 << 20, NULL, NULL, 0);
    d = open_disk(P("rs.raw"), "raw", false);
    CHECK(d && disk_resize(d, 2 << 20) == 0 && disk_size(d) == 2 << 20, "raw grow");
    CHECK(d && disk_resize(d, 512 << 10) == 0 && disk_size(d) == 512 << 10, "raw shrink");
    if (d) disk_close(d);
}

struct thread_arg {
    struct disk *d;
    uint8_t *shadow;
    uint64_t base, len;
    uint64_t seed;
    int bad; /* reads that did not match the shadow */
};

/* Random writes (plain, or vectored in three pieces misaligned in memory)
 * and vectored reads checked against the shadow, in the thread's own region. */
static void *writer(void *p)
{
    struct thread_arg *a = p;
    uint64_t s = a->seed;
    uint8_t *mem = malloc((64 << 10) + 8192), *buf = mem + 4096;
    uint8_t *rd = malloc((64 << 10) + 8192);
    for (int i = 0; i < 300; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        size_t len = (size_t)(s % 128 + 1) * 512;
        uint64_t off = a->base + (s >> 20) % ((a->len - len) / 512 + 1) * 512;
        size_t cut1 = (size_t)(s >> 8) % (len + 1), cut2 = (size_t)(s >> 24) % (len + 1);
        if (cut1 > cut2) {
            size_t t = cut1;
            cut1 = cut2;
            cut2 = t;
        }
        uint8_t *at = buf + (s % 3 == 0 ? 0 : (s >> 40) % 4096); /* page aligned, or not */
        if (i % 3 == 2) { /* read back and compare */
            struct iovec v[3] = {{rd + 1, cut1}, {rd + 1 + cut1, cut2 - cut1},
                                 {rd + 1 + cut2, len - cut2}};
            if (disk_readv(a->d, off, v, 3) != 0 || memcmp(rd + 1, a->shadow + off, len)) a->bad++;
            continue;
        }
        for (size_t j = 0; j < len; j++)
            at[j] = (uint8_t)(s >> (j % 56));
        int r;
        if (i % 2) {
            struct iovec v[3] = {{at, cut1}, {at + cut1, cut2 - cut1}, {at + cut2, len - cut2}};
            r = disk_writev(a->d, off, v, 3);
        } else {
            r = disk_write(a->d, off, at, len);
        }
        if (r != 0) {
            a->bad++;
            break;
        }
        memcpy(a->shadow + off, at, len);
        if (i % 50 == 0) disk_flush(a->d);
    }
    free(mem);
    free(rd);
    return NULL;
}

/* Four threads at once on one image, in each format and host caching mode
 * (over a backing file for qcow2, so that copy-on-write meets writes in place). */
static void test_threads(void)
{
    uint64_t size = 16 << 20;
    const char *fmts[] = {"qcow2", "raw"};
    uint8_t *base = malloc(size);
    for (uint64_t i = 0; i < size; i++)
        base[i] = (uint8_t)(i * 13 + i / 4096);
    int fd = open(P("mt-base.raw"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0 && write(fd, base, size) == (ssize_t)size, "backing file for the threads");
    if (fd >= 0) close(fd);
    for (int f = 0; f < 2; f++) {
        for (int c = 0; c < 3; c++) {
            const char *name = f == 0 ? "mt.qcow2" : "mt.raw";
            if (f == 0 && !create(P(name), "qcow2", size, P("mt-base.raw"), "raw", 4096)) return;
            if (f == 1 && !create(P(name), "raw", size, NULL, NULL, 0)) return;
            char err[512];
            struct disk_options o = {.format = fmts[f], .cache = (enum disk_cache)c};
            struct disk *d = disk_open(P(name), &o, err, sizeof(err));
            CHECK(d, "open %s cache=%s: %s", name, disk_cache_name(o.cache), err);
            if (!d) continue;
            uint8_t *shadow = f == 0 ? malloc(size) : calloc(1, size);
            if (f == 0) memcpy(shadow, base, size);
            pthread_t t[4];
            struct thread_arg a[4];
            for (int i = 0; i < 4; i++) {
                a[i] = (struct thread_arg){d, shadow, (uint64_t)i * (size / 4), size / 4,
                                           1234567u + (uint64_t)i + 10 * (uint64_t)c, 0};
                pthread_create(&t[i], NULL, writer, &a[i]);
            }
            int bad = 0;
            for (int i = 0; i < 4; i++) {
                pthread_join(t[i], NULL);
                bad += a[i].bad;
            }
            char what[96];
            snprintf(what, sizeof(what), "four threads, %s, cache=%s", fmts[f],
                     disk_cache_name(o.cache));
            CHECK(bad == 0, "%s: %d reads or writes went wrong", what, bad);
            verify(d, shadow, size, what);
            disk_close(d);
            if (f == 0) qemu_check_ok(P(name), false);
            free(shadow);
        }
    }
    free(base);
}

static void test_errors(void)
{
    char err[512];
    struct disk_options o = {.readonly = true};
    /* a file that is not an image, forced as qcow2 */
    int fd = open(P("text.txt"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(write(fd, "hello world\n", 12) == 12, "text");
    close(fd);
    o.format = "qcow2";
    struct disk *d = disk_open(P("text.txt"), &o, err, sizeof(err));
    CHECK(!d && strstr(err, "not a qcow2 image"), "non-image: %s", err);
    o.format = NULL;
    d = disk_open(P("missing.qcow2"), &o, err, sizeof(err));
    CHECK(!d && strstr(err, "no such file"), "missing: %s", err);
    d = disk_open(tmpdir, &o, err, sizeof(err));
    CHECK(!d && strstr(err, "not a regular file"), "directory: %s", err);
    /* a truncated qcow2: header intact, tables gone */
    create(P("trunc.qcow2"), "qcow2", 64 << 20, NULL, NULL, 0);
    CHECK(truncate(P("trunc.qcow2"), 70000) == 0, "truncate");
    d = disk_open(P("trunc.qcow2"), &o, err, sizeof(err));
    CHECK(!d && strstr(err, "beyond the end of the file"), "truncated: %s", err);
    /* a backing file that is missing */
    create(P("orphan.qcow2"), "qcow2", 1 << 20, "base.raw", "raw", 0);
    d = disk_open(P("orphan.qcow2"), &o, err, sizeof(err));
    CHECK(d != NULL, "orphan opens while its backing exists: %s", err);
    if (d) disk_close(d);
    /* no_backing refuses images naming other files */
    o.no_backing = true;
    d = disk_open(P("orphan.qcow2"), &o, err, sizeof(err));
    CHECK(!d && strstr(err, "backing file"), "no_backing: %s", err);
    o.no_backing = false;
    /* an L2 table pointer beyond the end of the file: the read fails with a message */
    create(P("badl2.qcow2"), "qcow2", 1 << 20, NULL, NULL, 65536);
    fd = open(P("badl2.qcow2"), O_RDWR);
    uint8_t e[8] = {0x80, 0, 0, 0, 0x10, 0, 0, 0}; /* COPIED | 0x10000000 */
    CHECK(pwrite(fd, e, 8, 3 * 65536) == 8, "poke L1");
    close(fd);
    d = disk_open(P("badl2.qcow2"), &o, err, sizeof(err));
    CHECK(d != NULL, "opens: %s", err);
    if (d) {
        uint8_t b[512];
        CHECK(disk_read(d, 0, b, 512) == -EIO, "read through a bad L2 pointer");
        disk_last_error(d, err, sizeof(err));
        CHECK(strstr(err, "beyond the end of the file") != NULL, "message: %s", err);
        disk_close(d);
    }
    /* the same, read-write: the image gets marked corrupt and refuses to open again */
    struct disk_options rw = {0};
    d = disk_open(P("badl2.qcow2"), &rw, err, sizeof(err));
    if (d) {
        uint8_t b[512] = {1};
        CHECK(disk_write(d, 0, b, 512) == -EIO, "write through a bad L2 pointer");
        disk_close(d);
    }
    d = disk_open(P("badl2.qcow2"), &rw, err, sizeof(err));
    CHECK(!d && strstr(err, "marked corrupt"), "corrupt bit: %s", err);
    if (d) disk_close(d);
    /* unknown incompatible feature bits are refused by name */
    create(P("feat.qcow2"), "qcow2", 1 << 20, NULL, NULL, 0);
    fd = open(P("feat.qcow2"), O_RDWR);
    uint8_t inc[8] = {0, 0, 0, 0, 0, 0, 0, 0x20}; /* bit 5 */
    CHECK(pwrite(fd, inc, 8, 72) == 8, "poke incompat");
    close(fd);
    d = disk_open(P("feat.qcow2"), &o, err, sizeof(err));
    CHECK(!d && strstr(err, "incompatible bit 5"), "unknown feature: %s", err);
    /* a backing file name offset that wraps around (found by review, kept as a test) */
    create(P("wrap.qcow2"), "qcow2", 1 << 20, NULL, NULL, 0);
    fd = open(P("wrap.qcow2"), O_RDWR);
    uint8_t bo[12] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xf0, 0, 0, 0, 32};
    CHECK(pwrite(fd, bo, 12, 8) == 12, "poke backing offset");
    close(fd);
    d = disk_open(P("wrap.qcow2"), &o, err, sizeof(err));
    CHECK(!d && strstr(err, "backing file name at offset"), "wrapping offset: %s", err);
    /* the lock: a second writer is refused */
    create(P("lock.qcow2"), "qcow2", 1 << 20, NULL, NULL, 0);
    struct disk *d1 = disk_open(P("lock.qcow2"), &rw, err, sizeof(err));
    struct disk *d2 = disk_open(P("lock.qcow2"), &rw, err, sizeof(err));
    CHECK(d1 && !d2 && strstr(err, "in use"), "lock: %s", err);
    if (d1) disk_close(d1);
    if (d2) disk_close(d2);
}

/* ---- the table of formats: names, aliases, probing ---- */

static void test_formats(void)
{
    char err[512];
    CHECK(disk_format_canonical("vpc") && strcmp(disk_format_canonical("vpc"), "vhd") == 0,
          "vpc is vhd");
    CHECK(disk_format_canonical("qcow2") && strcmp(disk_format_canonical("qcow2"), "qcow2") == 0,
          "qcow2 is qcow2");
    CHECK(disk_format_canonical("qcow3") == NULL, "no such format");
    /* an unknown name: the message lists every format */
    create(P("fmt.raw"), "raw", 64 << 10, NULL, NULL, 0);
    struct disk_options o = {.format = "qcow3"};
    struct disk *d = disk_open(P("fmt.raw"), &o, err, sizeof(err));
    CHECK(!d && strstr(err, "unknown image format 'qcow3'") && strstr(err, "raw") &&
              strstr(err, "qcow2") && strstr(err, "vhd") && strstr(err, "vmdk"),
          "unknown format: %s", err);
    /* only some formats can be created, and the message says which */
    CHECK(disk_create(P("fmt.vmdk"), "vmdk", 1 << 20, NULL, NULL, 0, err, sizeof(err)) < 0 &&
              strstr(err, "cannot create images of format 'vmdk'") && strstr(err, "qcow2") &&
              strstr(err, "raw") && !strstr(err, "vhd"),
          "create vmdk: %s", err);
    /* a probed raw image refuses writes that would make it probe as another
     * format, at its start (qcow2, VMDK, VHD magics) and at its end (VHD footer) */
    d = open_disk(P("fmt.raw"), NULL, false);
    if (d) {
        CHECK(strcmp(disk_format(d), "raw") == 0, "probed as raw: %s", disk_format(d));
        static const char *const magics[] = {"QFI\xfb", "KDMV", "# Disk DescriptorFile",
                                             "conectix"};
        uint8_t sector[512];
        for (size_t i = 0; i < sizeof(magics) / sizeof(magics[0]); i++) {
            memset(sector, 0, sizeof(sector));
            memcpy(sector, magics[i], strlen(magics[i]));
            CHECK(disk_write(d, 0, sector, 512) == -EPERM, "magic %zu at the start refused", i);
            CHECK(disk_write(d, 4096, sector, 512) == 0, "magic %zu elsewhere is data", i);
        }
        disk_last_error(d, err, sizeof(err));
        CHECK(strstr(err, "look like another format") != NULL, "message: %s", err);
        memset(sector, 0, sizeof(sector));
        memcpy(sector, "conectix", 8);
        CHECK(disk_write(d, (64 << 10) - 512, sector, 512) == -EPERM, "VHD footer refused");
        memset(sector, 0xab, sizeof(sector));
        CHECK(disk_write(d, 0, sector, 512) == 0, "plain data at the start");
        disk_close(d);
    }
    /* named raw, it is the user's data to write */
    d = open_disk(P("fmt.raw"), "raw", false);
    if (d) {
        uint8_t sector[512] = "QFI\xfb";
        CHECK(disk_write(d, 0, sector, 512) == 0, "explicit raw takes any data");
        disk_close(d);
    }
    struct disk_options ro = {.readonly = true};
    d = disk_open(P("fmt.raw"), &ro, err, sizeof(err));
    CHECK(!d && strstr(err, "qcow2"), "now the file probes as a (broken) qcow2: %s", err);
    if (d) disk_close(d);
    if (!have_qemu) return;
    /* the alias opens a VHD, and a qcow2 over it records QEMU's name, vpc */
    create(P("fmt2.raw"), "raw", 1 << 20, NULL, NULL, 0);
    CHECK(sh("qemu-img convert -f raw -O vpc %s %s", P("fmt2.raw"), P("fmt.vhd")) == 0,
          "qemu-img makes a VHD");
    d = open_disk(P("fmt.vhd"), "vpc", true);
    CHECK(d && strcmp(disk_format(d), "vhd") == 0, "vpc opens as vhd");
    if (d) disk_close(d);
    create(P("over-vhd.qcow2"), "qcow2", 0, P("fmt.vhd"), "vhd", 0);
    CHECK(sh("qemu-img info %s | grep -q 'backing file format: vpc'", P("over-vhd.qcow2")) == 0,
          "the backing format is stored as vpc");
}

/* ---- qemu-img interoperability ---- */

static void test_qemu_images(void)
{
    if (!have_qemu) {
        printf("SKIP qemu-made images: qemu-img not found (apt-get install qemu-utils)\n");
        return;
    }
    uint64_t size = 8 << 20;
    uint8_t *data = malloc(size);
    fill_random(data, size);
    memset(data + (1 << 20), 0, 1 << 20); /* a zero hole */
    for (uint64_t i = 3 << 20; i < (4u << 20); i++)
        data[i] = (uint8_t)(i % 7); /* compressible */
    int fd = open(P("src.raw"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(write(fd, data, size) == (ssize_t)size, "src");
    close(fd);
    struct {
        const char *name, *opts;
    } conv[] = {
        {"q-plain.qcow2", "-O qcow2"},
        {"q-comp.qcow2", "-c -O qcow2"},
        {"q-comp4k.qcow2", "-c -O qcow2 -o cluster_size=4096"},
        {"q-v2.qcow2", "-O qcow2 -o compat=0.10"},
        {"q-2m.qcow2", "-O qcow2 -o cluster_size=2M"},
        {"q-512.qcow2", "-O qcow2 -o cluster_size=512,refcount_bits=1"},
        {"q-vhd.vhd", "-O vpc"},
        {"q-vhdf.vhd", "-O vpc -o subformat=fixed"},
        {"q-vhd2.vhd", "-O vpc -o force_size=on"},
        {"q-sparse.vmdk", "-O vmdk"},
        {"q-stream.vmdk", "-O vmdk -o subformat=streamOptimized"},
        {"q-flat.vmdk", "-O vmdk -o subformat=monolithicFlat"},
        {"q-2gb.vmdk", "-O vmdk -o subformat=twoGbMaxExtentSparse"},
    };
    for (size_t i = 0; i < sizeof(conv) / sizeof(conv[0]); i++) {
        const char *path = P(conv[i].name);
        if (sh("qemu-img convert -f raw %s %s %s", conv[i].opts, P("src.raw"), path) != 0) {
            CHECK(0, "qemu-img convert %s", conv[i].opts);
            continue;
        }
        struct disk *d = open_disk(path, NULL, true);
        if (!d) continue;
        CHECK(disk_size(d) >= size, "%s size %" PRIu64, conv[i].name, disk_size(d));
        verify(d, data, size, conv[i].name);
        disk_close(d);
    }
    /* compressed clusters are copied on write */
    struct disk *d = open_disk(P("q-comp.qcow2"), "qcow2", false);
    uint8_t *shadow = malloc(size);
    memcpy(shadow, data, size);
    if (d) {
        uint8_t s[4096];
        memset(s, 0xee, sizeof(s));
        CHECK(disk_write(d, (3 << 20) + 1000 * 512, s, sizeof(s)) == 0, "write into compressed");
        memcpy(shadow + (3 << 20) + 1000 * 512, s, sizeof(s));
        random_io(d, shadow, size, 200, 128 << 10, true);
        verify(d, shadow, size, "compressed after writes");
        disk_close(d);
        qemu_check_ok(P("q-comp.qcow2"), false);
        CHECK(sh("qemu-img compare -f qcow2 -F raw %s %s >/dev/null 2>&1", P("q-comp.qcow2"),
                 P("src.raw")) == 1,
              "qemu sees the change");
    }
    /* v2 image written by kumo */
    memcpy(shadow, data, size);
    d = open_disk(P("q-v2.qcow2"), "qcow2", false);
    if (d) {
        random_io(d, shadow, size, 200, 128 << 10, true);
        verify(d, shadow, size, "v2 after writes");
        disk_close(d);
        qemu_check_ok(P("q-v2.qcow2"), false);
        CHECK(sh("qemu-img convert -O raw %s %s", P("q-v2.qcow2"), P("v2.raw")) == 0, "conv");
        struct disk *r = open_disk(P("v2.raw"), "raw", true);
        if (r) {
            verify(r, shadow, size, "qemu's view of v2");
            disk_close(r);
        }
    }
    /* qemu-made overlay on a qemu-made base, written by qemu-io, read by kumo */
    sh("qemu-img create -q -f qcow2 -b q-plain.qcow2 -F qcow2 %s", P("q-top.qcow2"));
    if (sh("qemu-io -c 'write -P 0x3c 1M 64k' -c 'write -P 0x11 100k 3k' -c 'write -z 5M 1M' %s"
           " >/dev/null 2>&1",
           P("q-top.qcow2")) == 0) {
        memcpy(shadow, data, size);
        memset(shadow + (1 << 20), 0x3c, 64 << 10);
        memset(shadow + (100 << 10), 0x11, 3 << 10);
        memset(shadow + (5 << 20), 0, 1 << 20);
        d = open_disk(P("q-top.qcow2"), NULL, true);
        if (d) {
            verify(d, shadow, size, "qemu-io overlay");
            disk_close(d);
        }
        /* and qemu-io reads what kumo writes in a kumo-made image */
        create(P("k.qcow2"), "qcow2", size, NULL, NULL, 0);
        d = open_disk(P("k.qcow2"), "qcow2", false);
        uint8_t s[8192];
        memset(s, 0x42, sizeof(s));
        CHECK(d && disk_write(d, 12288, s, sizeof(s)) == 0, "kumo write");
        if (d) disk_close(d);
        CHECK(sh("qemu-io -c 'read -P 0x42 12288 8192' -c 'read -P 0 0 12288' %s | grep -q "
                 "'read 8192/8192'",
                 P("k.qcow2")) == 0,
              "qemu-io reads kumo's data");
    } else {
        printf("SKIP qemu-io checks: qemu-io not found\n");
    }
    /* the image locks are QEMU's: each side sees the other */
    create(P("lk.qcow2"), "qcow2", 1 << 20, NULL, NULL, 0);
    d = open_disk(P("lk.qcow2"), "qcow2", false);
    CHECK(sh("qemu-img info %s >/dev/null 2>&1", P("lk.qcow2")) != 0,
          "qemu-img info refused while kumo writes");
    CHECK(sh("qemu-img info -U %s >/dev/null 2>&1", P("lk.qcow2")) == 0, "-U allowed");
    if (d) disk_close(d);
    d = open_disk(P("lk.qcow2"), "qcow2", true);
    CHECK(sh("qemu-img info %s >/dev/null 2>&1", P("lk.qcow2")) == 0,
          "qemu-img info allowed while kumo reads");
    CHECK(sh("qemu-io -c 'write 0 512' %s >/dev/null 2>&1", P("lk.qcow2")) != 0,
          "qemu-io may not write while kumo reads");
    if (d) disk_close(d);
    free(shadow);
    free(data);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    have_qemu = sh("qemu-img --version >/dev/null 2>&1") == 0;
    if (!have_qemu) printf("SKIP interop: qemu-img not found (apt-get install qemu-utils)\n");
    test_raw();
    test_qcow2_roundtrips();
    test_backing_chain();
    test_zeroes();
    test_sparse_and_resize();
    test_threads();
    test_errors();
    test_formats();
    test_qemu_images();
    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
