/*
 * test_storage_crash.c - crash safety of qcow2 writes. A child process writes,
 * zeroes and discards at random in a qcow2 image, flushing now and then, and
 * is killed with SIGKILL at a random moment; 20 times in a row on the same
 * images (two layouts: 4 KiB clusters over a backing file, and 512-byte
 * clusters with 64-bit refcounts so that refcount blocks and the refcount
 * table grow all the time), rotating through the host caching modes
 * (readwrite, readonly, none: O_DIRECT). Writes are plain or vectored (three
 * pieces, misaligned in memory at times), and a second thread of the child
 * flushes and reads meanwhile, so flushes meet writes that move data outside
 * the image lock. After every kill:
 *   - the image passes `qemu-img check` and kumo's check (leaks allowed);
 *   - every sector not written since the child's last completed flush reads
 *     back exactly as it was at that flush.
 * The child publishes what it flushed through shared memory: two copies of
 * the disk contents (the last flushed one selected by an index) and a bitmap
 * of sectors touched since that flush, set before each request is issued.
 */
#include "storage/disk.h"
#include "storage/qcow2.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SIZE    (8u << 20)
#define SECTORS (SIZE / 512)

struct shared {
    int active;        /* which copy holds the contents at the last flush */
    unsigned long ops; /* requests completed (progress) */
    uint8_t copy[2][SIZE];
    uint8_t dirty[SECTORS]; /* touched since the last flush */
};

static char tmpdir[] = "/tmp/kumo-test-crash-XXXXXX";
static bool have_qemu;

#include "check.h"

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static uint64_t rnd_state;
static uint64_t rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;
    return rnd_state;
}

static void mark(struct shared *s, uint64_t off, uint64_t len)
{
    memset(s->dirty + off / 512, 1, len / 512);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* The child's second thread: flushes and reads at random while the first
 * writes, so flushes meet writes moving data outside the image lock. */
static void *side(void *arg)
{
    struct disk *d = arg;
    uint64_t x = 88172645463325252ull;
    uint8_t *buf = malloc((128 << 10) + 8); /* +1: the reads start misaligned at buf + 1 */
    for (;;) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        if (x % 3 == 0) {
            if (disk_flush(d) < 0) _exit(4);
        } else {
            size_t len = (size_t)(x % 256 + 1) * 512;
            uint64_t off = (x >> 9) % ((SIZE - len) / 512 + 1) * 512;
            struct iovec v[2] = {{buf + 1, len / 2}, {buf + 1 + len / 2, len - len / 2}};
            if (disk_readv(d, off, v, 2) < 0) _exit(5);
        }
    }
    return NULL;
}

/* The child: random requests until killed. */
static void child(struct shared *s, const char *path, uint64_t seed, enum disk_cache cache)
{
    char err[512];
    struct disk_options o = {.format = "qcow2", .cache = cache};
    struct disk *d = NULL;
    for (int i = 0; i < 200 && !d; i++) { /* the previous child's lock may linger briefly */
        d = disk_open(path, &o, err, sizeof(err));
        if (!d) usleep(10000);
    }
    if (!d) {
        fprintf(stderr, "child: %s\n", err);
        _exit(2);
    }
    uint8_t *cur = malloc(SIZE), *buf = malloc((256 << 10) + 4096);
    memcpy(cur, s->copy[s->active], SIZE);
    rnd_state = seed;
    pthread_t t;
    if (pthread_create(&t, NULL, side, d) != 0) _exit(6);
    for (;;) {
        unsigned op = (unsigned)(rnd() % 20);
        size_t len = (size_t)(rnd() % 256 + 1) * 512;
        if (rnd() % 4 == 0) len = (size_t)(rnd() % 8 + 1) * 512;
        uint64_t off = rnd() % ((SIZE - len) / 512 + 1) * 512;
        int r = 0;
        if (op < 13) {
            for (size_t i = 0; i < len; i++)
                buf[i] = (uint8_t)(rnd() >> 11);
            mark(s, off, len);
            if (op < 7) {
                r = disk_write(d, off, buf, len);
            } else { /* vectored, in up to three pieces, sometimes misaligned in memory */
                size_t a = (size_t)(rnd() % (len + 1)), b = (size_t)(rnd() % (len + 1));
                if (a > b) {
                    size_t tmp = a;
                    a = b;
                    b = tmp;
                }
                size_t shift = rnd() % 2 ? 4096 : 0; /* page aligned, else as malloc gave */
                memmove(buf + shift, buf, len);
                struct iovec v[3] = {{buf + shift, a}, {buf + shift + a, b - a},
                                     {buf + shift + b, len - b}};
                r = disk_writev(d, off, v, 3);
                memmove(buf, buf + shift, len);
            }
            memcpy(cur + off, buf, len);
        } else if (op < 15) {
            mark(s, off, len);
            r = disk_write_zeroes(d, off, len, op == 13);
            memset(cur + off, 0, len);
        } else if (op < 16) {
            mark(s, off, len);
            r = disk_discard(d, off, len);
            memset(cur + off, 0, len);
        } else {
            r = disk_flush(d);
            if (r == 0) {
                int next = 1 - s->active;
                memcpy(s->copy[next], cur, SIZE);
                __atomic_store_n(&s->active, next, __ATOMIC_SEQ_CST);
                memset(s->dirty, 0, SECTORS);
            }
        }
        if (r < 0) {
            disk_last_error(d, err, sizeof(err));
            fprintf(stderr, "child: request failed: %d %s\n", r, err);
            _exit(3);
        }
        __atomic_add_fetch(&s->ops, 1, __ATOMIC_SEQ_CST);
    }
}

static int kumo_check(const char *path, bool repair)
{
    char err[512];
    struct disk_options o = {.readonly = !repair, .for_check = true};
    struct disk *d = disk_open(path, &o, err, sizeof(err));
    if (!d) {
        printf("  kumo check: %s\n", err);
        return -1;
    }
    struct qcow2_check_result res;
    int r = qcow2_check(d, repair, &res, NULL, NULL);
    disk_close(d);
    if (r < 0) return -1;
    return res.corruptions ? 2 : res.leaks > res.leaks_fixed ? 3 : 0;
}

/* After a kill: check, compare, and make the image's contents the new baseline. */
static void after_kill(struct shared *s, const char *path, int round)
{
    int k = kumo_check(path, false);
    CHECK(k == 0 || k == 3, "round %d: kumo check says %d", round, k);
    if (have_qemu) {
        int q = sh("qemu-img check -q %s >%s/qcheck.log 2>&1", path, tmpdir);
        CHECK(q == 0 || q == 3, "round %d: qemu-img check exited %d", round, q);
        if (q != 0 && q != 3) sh("head -20 %s/qcheck.log", tmpdir);
    }
    char err[512];
    struct disk_options o = {.format = "qcow2", .readonly = true};
    struct disk *d = disk_open(path, &o, err, sizeof(err));
    CHECK(d != NULL, "round %d: reopen: %s", round, err);
    if (!d) return;
    uint8_t *now = malloc(SIZE);
    int r = disk_read(d, 0, now, SIZE);
    CHECK(r == 0, "round %d: read back: %d", round, r);
    const uint8_t *flushed = s->copy[s->active];
    unsigned bad = 0, dirty = 0;
    for (unsigned i = 0; i < SECTORS; i++) {
        if (s->dirty[i]) {
            dirty++;
            continue;
        }
        if (memcmp(now + i * 512, flushed + i * 512, 512) != 0) {
            if (!bad) printf("  round %d: sector %u differs from the flushed data\n", round, i);
            bad++;
        }
    }
    CHECK(bad == 0, "round %d: %u flushed sectors lost", round, bad);
    memcpy(s->copy[s->active], now, SIZE);
    memset(s->dirty, 0, SECTORS);
    free(now);
    disk_close(d);
    printf("  round %2d: %lu requests, killed with %u sectors unflushed, check %s\n", round, s->ops,
           dirty, k == 0 ? "clean" : "leaks only");
}

/* Rounds rotate through the host caching modes. */
static void run(struct shared *s, const char *path, int rounds, uint64_t seed)
{
    for (int round = 0; round < rounds; round++) {
        s->ops = 0;
        enum disk_cache cache = (enum disk_cache)(round % 3);
        printf("  round %d: cache=%s\n", round, disk_cache_name(cache));
        pid_t pid = fork();
        if (pid == 0) child(s, path, seed * 1000 + (uint64_t)round + 1, cache);
        /* let it get going, then kill it at a random moment */
        struct timespec ts = {0, (long)(5 + rnd() % 120) * 1000000L};
        while (__atomic_load_n(&s->ops, __ATOMIC_SEQ_CST) < 20) {
            int st;
            if (waitpid(pid, &st, WNOHANG) == pid) {
                CHECK(0, "round %d: child exited early (status %d)", round, st);
                return;
            }
            usleep(1000);
        }
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int st;
        waitpid(pid, &st, 0);
        CHECK(WIFSIGNALED(st), "round %d: child died by itself (status %d)", round, st);
        after_kill(s, path, round);
    }
    /* the leaks can be repaired */
    CHECK(kumo_check(path, true) == 0, "repairing leaks");
    if (have_qemu) CHECK(sh("qemu-img check -q %s", path) == 0, "qemu-img check after repair");
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) return 1;
    have_qemu = sh("qemu-img --version >/dev/null 2>&1") == 0;
    if (!have_qemu) printf("SKIP qemu-img check: not found (apt-get install qemu-utils)\n");
    rnd_state = (uint64_t)time(NULL) | 1;
    printf("seed %" PRIu64 "\n", rnd_state);
    struct shared *s =
        mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (s == MAP_FAILED) return 1;
    char err[512], path[256], base[256];

    /* Layout 1: 4 KiB clusters over a raw backing file. */
    snprintf(base, sizeof(base), "%s/base.raw", tmpdir);
    int fd = open(base, O_RDWR | O_CREAT | O_TRUNC, 0644);
    for (unsigned i = 0; i < SIZE; i++)
        s->copy[0][i] = (uint8_t)(i * 7 + i / 4096);
    CHECK(write(fd, s->copy[0], SIZE) == SIZE, "base");
    close(fd);
    snprintf(path, sizeof(path), "%s/crash1.qcow2", tmpdir);
    CHECK(disk_create(path, "qcow2", SIZE, "base.raw", "raw", 4096, err, sizeof(err)) == 0, "%s",
          err);
    s->active = 0;
    memset(s->dirty, 0, SECTORS);
    printf("4 KiB clusters over a backing file:\n");
    run(s, path, 12, 1);

    /* Layout 2: 512-byte clusters, 64-bit refcounts, no backing file. */
    snprintf(path, sizeof(path), "%s/crash2.qcow2", tmpdir);
    struct qcow2_create_opts o = {
        .path = path, .size = SIZE, .cluster_size = 512, .refcount_bits = 64};
    CHECK(qcow2_create_ex(&o, err, sizeof(err)) == 0, "%s", err);
    memset(s->copy[0], 0, SIZE);
    s->active = 0;
    memset(s->dirty, 0, SECTORS);
    printf("512-byte clusters, 64-bit refcounts:\n");
    run(s, path, 8, 2);

    nftw(tmpdir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
