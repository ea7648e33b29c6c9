/*
 * diskio: block-device I/O benchmark for the disk workloads of bench/run. It
 * runs in the guest on /dev/vdX, and natively on the image file (for the
 * reference checksum and to check what a guest wrote).
 *
 *   diskio randread DEV -n OPS [-t THREADS] [-w WARMUP] [-s SEED]
 *       4 KiB reads (-b KIB) at random 4 KiB-aligned offsets over the whole
 *       device, O_DIRECT. THREADS threads each keep one read in flight, so the
 *       queue depth is THREADS. Op i reads the block splitmix(SEED + i) mod
 *       blocks, whichever thread takes it, so the checksum does not depend on
 *       THREADS. -d SECS instead of -n: run for SECS seconds (no checksum).
 *       Prints "iops R ops N secs S qd T", "lat_us p50 A p99 B max C" and
 *       "check HEX". With -w W the rate is taken from the moment the W-th op
 *       completed (e.g. to leave a rate limiter's initial bucket out), and the
 *       rate over all ops is printed as "iops_all".
 *   diskio seqread DEV -c MIB [-b KIB] [-w WARMUP_MIB]
 *       sequential reads of -b KiB (default 1024) from offset 0 (wrapping at
 *       the end of the device) until MIB MiB were read; prints "mibps R bytes N
 *       secs S" and "check HEX" (with -w, as for randread: "mibps_all" too).
 *   diskio seqwrite DEV -c MIB [-b KIB] -s SEED
 *       sequential writes of -b KiB from offset 0, then fsync; the rate counts
 *       the fsync. Prints "mibps R bytes N secs S write_secs W fsync_secs F"
 *       and "seed SEED". The data is 4 pseudo-random blocks (from SEED, made
 *       before the clock starts) in turn, with the first 8 bytes of every
 *       512-byte sector replaced by its offset xor a key from SEED, so a
 *       misplaced or missing sector is seen by:
 *   diskio verify DEV -c MIB [-b KIB] -s SEED
 *       reads the first MIB MiB back and compares them with what seqwrite
 *       wrote; prints "verify ok MIB" or names the first bad sector (exit 1).
 *   diskio fill FILE -c MIB -s SEED
 *       writes MIB MiB of pseudo-random data (a function of SEED and the
 *       offset) to FILE: the host makes the test images with it.
 *
 * The checksum of reads is a sum over every 4 KiB page read of a hash of one
 * of its 512-byte sectors (the position rotates with the page number): the
 * sector's offset, its first and its last 8 bytes. It is cheap (a few guest
 * instructions per page, next to the thousand or so the guest kernel spends
 * on each page of an O_DIRECT read, so it does not slow the measurement
 * down), and a page or sector read from the wrong place changes it. The sum
 * does not depend on the order of the reads.
 *
 * -B: buffered I/O (no O_DIRECT). O_DIRECT is also dropped, with a note on
 * stderr, where the file system refuses it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SECTOR 512u
#define PAGE 4096u
#define MAX_THREADS 64
#define LAT_CAP (1u << 20) /* latencies kept (µs), for the percentiles */
#define POOL 4

static const char *dev;
static int fd = -1;
static uint64_t dev_size;
static long ops = -1;       /* -n */
static double duration = 0; /* -d */
static long threads = 1;    /* -t */
static long warmup = 0;     /* -w: ops (randread) or MiB (seqread) */
static long block_kib = -1; /* -b */
static long mib = -1;       /* -c */
static uint64_t seed = 1;   /* -s */
static int have_seed = 0;
static int buffered = 0;    /* -B */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("diskio: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t splitmix(uint64_t n)
{
    uint64_t z = n + 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Pseudo-random bytes for [off, off + len), a function of (seed, 8-byte word
 * index): the same whatever the block size (fill). */
static void gen_random(uint8_t *buf, uint64_t off, size_t len, uint64_t sd)
{
    for (size_t i = 0; i < len; i += 8) {
        uint64_t v = splitmix(sd ^ ((off + i) >> 3));
        memcpy(buf + i, &v, 8);
    }
}

/* The sampled checksum of `len` bytes (whole pages) read at device offset
 * `off` (page-aligned): one sector of each page. */
static uint64_t sum_sectors(const uint8_t *buf, uint64_t off, size_t len)
{
    uint64_t sum = 0;
    for (size_t p = 0; p < len; p += PAGE) {
        size_t s = p + (size_t)(((off + p) / PAGE) % (PAGE / SECTOR)) * SECTOR;
        uint64_t first, last;
        memcpy(&first, buf + s, 8);
        memcpy(&last, buf + s + SECTOR - 8, 8);
        sum += splitmix(splitmix((off + s) ^ first) ^ last);
    }
    return sum;
}

static void *alloc(size_t n)
{
    void *p;
    if (posix_memalign(&p, 4096, n) != 0) die("out of memory (%zu bytes)", n);
    memset(p, 0, n);
    return p;
}

static void open_dev(int flags)
{
    if (!buffered) {
        fd = open(dev, flags | O_DIRECT);
        if (fd < 0 && errno == EINVAL) {
            fprintf(stderr, "diskio: %s: no O_DIRECT here, using buffered I/O\n", dev);
            buffered = 1;
        }
    }
    if (buffered) fd = open(dev, flags);
    if (fd < 0) die("%s: %s", dev, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0) die("%s: %s", dev, strerror(errno));
    if (S_ISBLK(st.st_mode)) {
        if (ioctl(fd, BLKGETSIZE64, &dev_size) < 0) die("%s: BLKGETSIZE64: %s", dev, strerror(errno));
    } else {
        dev_size = (uint64_t)st.st_size;
    }
}

static void read_at(uint8_t *buf, size_t len, uint64_t off)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, buf + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) die("read %zu bytes at %" PRIu64 ": %s", len, off, strerror(errno));
        if (n == 0) die("read at %" PRIu64 ": unexpected end of device", off + done);
        done += (size_t)n;
    }
}

static void write_at(const uint8_t *buf, size_t len, uint64_t off)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pwrite(fd, buf + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) die("write %zu bytes at %" PRIu64 ": %s", len, off, n < 0 ? strerror(errno) : "0");
        done += (size_t)n;
    }
}

/* --- randread -------------------------------------------------------------- */

static struct {
    size_t bs;
    uint64_t blocks;
    long limit;           /* ops to do (count mode) */
    double deadline;      /* time mode */
    atomic_long next;     /* next op index to take */
    atomic_long done;     /* ops completed */
    double t_warm;        /* when op number `warmup` completed */
    uint32_t *lat;        /* µs per op, by op index (up to LAT_CAP) */
    uint64_t sums[MAX_THREADS];
} rr;

static void *rr_worker(void *arg)
{
    long t = (long)arg;
    uint8_t *buf = alloc(rr.bs);
    uint64_t sum = 0;
    for (;;) {
        long i = atomic_fetch_add(&rr.next, 1);
        if (rr.limit >= 0 && i >= rr.limit) break;
        double t0 = now();
        if (rr.limit < 0 && t0 >= rr.deadline) break;
        uint64_t off = (splitmix(seed + (uint64_t)i) % rr.blocks) * rr.bs;
        read_at(buf, rr.bs, off);
        double t1 = now();
        if (i < (long)LAT_CAP) rr.lat[i] = (uint32_t)((t1 - t0) * 1e6 + 0.5);
        if (atomic_fetch_add(&rr.done, 1) + 1 == warmup) rr.t_warm = t1;
        sum += sum_sectors(buf, off, rr.bs);
    }
    rr.sums[t] = sum;
    free(buf);
    return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static int randread(void)
{
    open_dev(O_RDONLY);
    rr.bs = (size_t)(block_kib > 0 ? block_kib : 4) * 1024;
    rr.blocks = dev_size / rr.bs;
    if (rr.blocks == 0) die("%s: smaller than one block", dev);
    if ((ops < 0) == (duration <= 0)) die("randread: give -n OPS or -d SECS");
    rr.limit = ops;
    rr.lat = alloc(sizeof(uint32_t) * LAT_CAP);
    pthread_t tid[MAX_THREADS];
    double t0 = now();
    rr.deadline = t0 + duration;
    for (long t = 1; t < threads; t++)
        if (pthread_create(&tid[t], NULL, rr_worker, (void *)t) != 0) die("pthread_create failed");
    rr_worker((void *)0);
    for (long t = 1; t < threads; t++) pthread_join(tid[t], NULL);
    double t1 = now();
    long n = atomic_load(&rr.done);
    uint64_t sum = 0;
    for (long t = 0; t < threads; t++) sum += rr.sums[t];

    printf("iops %.1f ops %ld secs %.3f qd %ld\n",
           warmup > 0 && rr.t_warm > 0 ? (double)(n - warmup) / (t1 - rr.t_warm)
                                       : (double)n / (t1 - t0),
           n, t1 - t0, threads);
    if (warmup > 0) printf("iops_all %.1f warmup_ops %ld\n", (double)n / (t1 - t0), warmup);
    long nl = n < (long)LAT_CAP ? n : (long)LAT_CAP;
    if (nl > 0) {
        qsort(rr.lat, (size_t)nl, sizeof(uint32_t), cmp_u32);
        printf("lat_us p50 %u p99 %u max %u\n", rr.lat[nl / 2], rr.lat[(nl * 99) / 100],
               rr.lat[nl - 1]);
    }
    if (ops >= 0) printf("check %016" PRIx64 "\n", sum);
    return 0;
}

/* --- sequential ------------------------------------------------------------- */

static size_t seq_bs(void)
{
    size_t bs = (size_t)(block_kib > 0 ? block_kib : 1024) * 1024;
    if (mib <= 0) die("give -c MIB");
    if (((uint64_t)mib << 20) % bs) die("-c must be a multiple of the block size");
    return bs;
}

static int seqread(void)
{
    open_dev(O_RDONLY);
    size_t bs = seq_bs();
    uint64_t total = (uint64_t)mib << 20, span = dev_size / bs * bs;
    if (span == 0) die("%s: smaller than one block", dev);
    uint8_t *buf = alloc(bs);
    uint64_t sum = 0, done = 0, off = 0;
    double t0 = now(), t_warm = 0;
    while (done < total) {
        if (off >= span) off = 0;
        read_at(buf, bs, off);
        sum += sum_sectors(buf, off, bs);
        off += bs;
        done += bs;
        if (warmup > 0 && t_warm == 0 && done >= ((uint64_t)warmup << 20)) t_warm = now();
    }
    double t1 = now();
    double rate = (double)total / (1 << 20) / (t1 - t0);
    if (warmup > 0 && t_warm > 0 && t1 > t_warm)
        rate = (double)(total - ((uint64_t)warmup << 20)) / (1 << 20) / (t1 - t_warm);
    printf("mibps %.2f bytes %" PRIu64 " secs %.3f\n", rate, total, t1 - t0);
    if (warmup > 0)
        printf("mibps_all %.2f warmup_mib %ld\n", (double)total / (1 << 20) / (t1 - t0), warmup);
    printf("check %016" PRIx64 "\n", sum);
    return 0;
}

/* What seqwrite puts at [off, off + bs), block number k: pool block k mod
 * POOL, stamped. Stamping the pool block in place costs the guest a store
 * per sector, where a copy of the block would cost as much guest CPU as the
 * I/O it measures. */
static uint8_t *pattern(uint8_t *const *pool, uint64_t k, uint64_t off, size_t bs)
{
    uint64_t key = splitmix(seed ^ 0x5EEDull);
    uint8_t *b = pool[k % POOL];
    for (size_t s = 0; s < bs; s += SECTOR) {
        uint64_t stamp = (off + s) ^ key;
        memcpy(b + s, &stamp, 8);
    }
    return b;
}

static void make_pool(uint8_t **pool, size_t bs)
{
    for (int p = 0; p < POOL; p++) {
        pool[p] = alloc(bs);
        uint64_t s = splitmix(seed * POOL + (uint64_t)p) | 1;
        for (size_t i = 0; i < bs; i += 8) {
            uint64_t v = xorshift(&s);
            memcpy(pool[p] + i, &v, 8);
        }
    }
}

static int seqwrite(void)
{
    if (!have_seed) die("seqwrite: give -s SEED");
    open_dev(O_RDWR);
    size_t bs = seq_bs();
    uint64_t total = (uint64_t)mib << 20;
    if (total > dev_size) die("%s: -c %ld MiB is more than the device holds", dev, mib);
    uint8_t *pool[POOL];
    make_pool(pool, bs);
    double t0 = now();
    for (uint64_t k = 0, off = 0; off < total; k++, off += bs)
        write_at(pattern(pool, k, off, bs), bs, off);
    double t1 = now();
    if (fsync(fd) < 0) die("fsync: %s", strerror(errno));
    double t2 = now();
    printf("mibps %.2f bytes %" PRIu64 " secs %.3f write_secs %.3f fsync_secs %.3f\n",
           (double)total / (1 << 20) / (t2 - t0), total, t2 - t0, t1 - t0, t2 - t1);
    printf("seed %" PRIu64 "\n", seed);
    return 0;
}

static int verify(void)
{
    if (!have_seed) die("verify: give -s SEED");
    open_dev(O_RDONLY);
    size_t bs = seq_bs();
    uint64_t total = (uint64_t)mib << 20;
    if (total > dev_size) die("%s: -c %ld MiB is more than the device holds", dev, mib);
    uint8_t *pool[POOL], *buf = alloc(bs);
    make_pool(pool, bs);
    for (uint64_t k = 0, off = 0; off < total; k++, off += bs) {
        read_at(buf, bs, off);
        const uint8_t *want = pattern(pool, k, off, bs);
        if (memcmp(buf, want, bs) == 0) continue;
        for (size_t s = 0; s < bs; s += SECTOR)
            if (memcmp(buf + s, want + s, SECTOR)) {
                printf("verify FAILED: sector at byte %" PRIu64 " differs\n", off + s);
                return 1;
            }
    }
    printf("verify ok %ld MiB\n", mib);
    return 0;
}

static int fill(void)
{
    if (mib <= 0 || !have_seed) die("fill: give -c MIB -s SEED");
    fd = open(dev, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) die("%s: %s", dev, strerror(errno));
    size_t bs = 1 << 20;
    uint8_t *buf = alloc(bs);
    for (uint64_t off = 0; off < ((uint64_t)mib << 20); off += bs) {
        gen_random(buf, off, bs, seed);
        write_at(buf, bs, off);
    }
    if (fsync(fd) < 0 || close(fd) < 0) die("%s: %s", dev, strerror(errno));
    return 0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: diskio randread DEV (-n OPS | -d SECS) [-t THREADS] [-w WARMUP_OPS] [-b KIB] [-s SEED]\n"
            "       diskio seqread DEV -c MIB [-b KIB] [-w WARMUP_MIB]\n"
            "       diskio seqwrite DEV -c MIB [-b KIB] -s SEED\n"
            "       diskio verify DEV -c MIB [-b KIB] -s SEED\n"
            "       diskio fill FILE -c MIB -s SEED\n"
            "  -B: buffered I/O instead of O_DIRECT; -b: a multiple of 4 KiB\n");
    exit(2);
}

static long num(const char *s, long min)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min) usage();
    return v;
}

int main(int argc, char **argv)
{
    if (argc < 3) usage();
    const char *mode = argv[1];
    dev = argv[2];
    optind = 3;
    int opt;
    while ((opt = getopt(argc, argv, "n:d:t:w:b:c:s:B")) != -1) {
        switch (opt) {
        case 'n': ops = num(optarg, 1); break;
        case 'd': duration = (double)num(optarg, 1); break;
        case 't':
            threads = num(optarg, 1);
            if (threads > MAX_THREADS) usage();
            break;
        case 'w': warmup = num(optarg, 0); break;
        case 'b':
            block_kib = num(optarg, 4);
            if (block_kib % 4) usage(); /* whole pages */
            break;
        case 'c': mib = num(optarg, 1); break;
        case 's':
            seed = strtoull(optarg, NULL, 10);
            have_seed = 1;
            break;
        case 'B': buffered = 1; break;
        default: usage();
        }
    }
    if (optind != argc) usage();
    if (!strcmp(mode, "randread")) return randread();
    if (!strcmp(mode, "seqread")) return seqread();
    if (!strcmp(mode, "seqwrite")) return seqwrite();
    if (!strcmp(mode, "verify")) return verify();
    if (!strcmp(mode, "fill")) return fill();
    usage();
    return 2;
}
