/*
 * disk.c - the front door of the storage layer: opens an image file, probes
 * its format, follows backing chains, checks every request (alignment,
 * bounds, read-only) before handing it to the format driver, and holds the
 * helpers all drivers share (full-length I/O, locking, error messages).
 */
#include "storage/disk.h"

#include "lib/fileset.h"
#include "storage/driver.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

/* ---- helpers shared by the drivers ---- */

void disk_errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

void disk_set_error(struct disk *d, const char *fmt, ...)
{
    char buf[sizeof(d->errmsg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&d->err_lock);
    memcpy(d->errmsg, buf, sizeof(buf));
    pthread_mutex_unlock(&d->err_lock);
}

void disk_last_error(struct disk *d, char *buf, size_t len)
{
    if (!buf || len == 0) return;
    pthread_mutex_lock(&d->err_lock);
    snprintf(buf, len, "%s", d->errmsg);
    pthread_mutex_unlock(&d->err_lock);
}

int disk_base_init(struct disk *d, const struct disk_driver *drv, const char *path, uint64_t size,
                   bool readonly)
{
    d->drv = drv;
    d->path = strdup(path);
    d->size = size;
    d->readonly = readonly;
    d->backing = NULL;
    d->lock_fd = -1;
    d->errmsg[0] = 0;
    if (!d->path) return -1;
    pthread_mutex_init(&d->err_lock, NULL);
    return 0;
}

void disk_base_free(struct disk *d)
{
    if (d->backing) disk_close(d->backing);
    d->backing = NULL;
    pthread_mutex_destroy(&d->err_lock);
    free(d->path);
}

ssize_t io_pread(int fd, void *buf, size_t len, uint64_t off)
{
    size_t done = 0;
    if (off > INT64_MAX || len > INT64_MAX - off) return -EINVAL;
    while (done < len) {
        ssize_t n = pread(fd, (uint8_t *)buf + done, len - done, (off_t)(off + done));
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        if (n == 0) break;
        done += (size_t)n;
    }
    return (ssize_t)done;
}

int io_pread_zero(int fd, void *buf, size_t len, uint64_t off)
{
    ssize_t n = io_pread(fd, buf, len, off);
    if (n < 0) return (int)n;
    if ((size_t)n < len) memset((uint8_t *)buf + n, 0, len - (size_t)n);
    return 0;
}

int io_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
    size_t done = 0;
    if (off > INT64_MAX || len > INT64_MAX - off) return -EFBIG;
    while (done < len) {
        ssize_t n = pwrite(fd, (const uint8_t *)buf + done, len - done, (off_t)(off + done));
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        if (n == 0) return -EIO;
        done += (size_t)n;
    }
    return 0;
}

/* ---- vectored data I/O and cache modes ---- */

int iov_slice(const struct iovec *src, int cnt, size_t skip, size_t len, struct iovec *dst,
              int max)
{
    int n = 0;
    for (int k = 0; k < cnt && len; k++) {
        size_t l = src[k].iov_len;
        if (skip >= l) {
            skip -= l;
            continue;
        }
        size_t take = l - skip < len ? l - skip : len;
        if (n == max) return -1;
        dst[n].iov_base = (uint8_t *)src[k].iov_base + skip;
        dst[n].iov_len = take;
        n++;
        len -= take;
        skip = 0;
    }
    return len ? -1 : n;
}

/* Walk bytes [skip, skip+len) of iov: fn(buffer part, its offset in the range). */
#define IOV_WALK(iov, cnt, skip, len, body)                                                      \
    do {                                                                                         \
        size_t skip_ = (skip), len_ = (len), at_ = 0;                                            \
        for (int k_ = 0; k_ < (cnt) && at_ < len_; k_++) {                                       \
            size_t l_ = (iov)[k_].iov_len;                                                       \
            if (skip_ >= l_) {                                                                   \
                skip_ -= l_;                                                                     \
                continue;                                                                        \
            }                                                                                    \
            size_t n_ = l_ - skip_ < len_ - at_ ? l_ - skip_ : len_ - at_;                       \
            uint8_t *p_ = (uint8_t *)(iov)[k_].iov_base + skip_;                                 \
            body;                                                                                \
            at_ += n_;                                                                           \
            skip_ = 0;                                                                           \
        }                                                                                        \
    } while (0)

void iov_to_buf(const struct iovec *iov, int cnt, size_t skip, void *buf, size_t len)
{
    IOV_WALK(iov, cnt, skip, len, memcpy((uint8_t *)buf + at_, p_, n_));
}

void iov_from_buf(const struct iovec *iov, int cnt, size_t skip, const void *buf, size_t len)
{
    IOV_WALK(iov, cnt, skip, len, memcpy(p_, (const uint8_t *)buf + at_, n_));
}

void iov_memset(const struct iovec *iov, int cnt, size_t skip, size_t len)
{
    IOV_WALK(iov, cnt, skip, len, memset(p_, 0, n_));
}

int disk_dio_open(struct disk_dio *dio, int fd, const char *path, enum disk_cache c, char *err,
                  size_t errlen)
{
    *dio = (struct disk_dio){.fd = fd, .dfd = -1, .rfd = fd, .wfd = fd, .mem_align = 1,
                             .off_align = 1};
    if (c == DISK_CACHE_READWRITE) return 0;
    /* A second open file description of the same file (not a dup: O_DIRECT
     * is a property of the description), through the file set, so that a
     * sandboxed VMM's reboot gets it again (lib/fileset.h); checked to be
     * the same inode in case the path was replaced meanwhile. */
    int fl = fcntl(fd, F_GETFL);
    int dfd = fileset_open(path, (fl >= 0 ? fl & O_ACCMODE : O_RDWR) | O_DIRECT | O_CLOEXEC |
                                     O_NOCTTY);
    struct stat a, b;
    if (dfd >= 0 && (fstat(fd, &a) < 0 || fstat(dfd, &b) < 0 || a.st_dev != b.st_dev ||
                     a.st_ino != b.st_ino)) {
        close(dfd);
        disk_errf(err, errlen,
                  "%s: the file was replaced while it was being opened; open the disk again",
                  path);
        return -1;
    }
    if (dfd < 0) {
        int e = errno;
        if (e == EINVAL)
            disk_errf(err, errlen,
                      "%s: the file system does not support direct I/O (O_DIRECT), which "
                      "host caching '%s' needs; use caching ReadWrite or move the image",
                      path, disk_cache_name(c));
        else
            disk_errf(err, errlen, "%s: cannot reopen it for direct I/O: %s", path, strerror(e));
        return -1;
    }
    uint32_t mem = 512, offa = 512;
    struct statx sx;
    if (statx(dfd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 && (sx.stx_mask & STATX_DIOALIGN) &&
        sx.stx_dio_mem_align && sx.stx_dio_offset_align) {
        mem = sx.stx_dio_mem_align;
        offa = sx.stx_dio_offset_align;
    } else {
        /* No answer (older kernels): the logical block size is what block
         * devices need; 4096 is safe for memory on every file system. */
        struct stat st;
        mem = 4096;
        if (fstat(dfd, &st) == 0 && S_ISBLK(st.st_mode)) {
            int bs;
            if (ioctl(dfd, BLKSSZGET, &bs) == 0 && bs > 0) offa = (uint32_t)bs;
        } else {
            offa = 4096;
        }
    }
    dio->dfd = dfd;
    dio->mem_align = mem;
    dio->off_align = offa;
    dio->wfd = dfd;
    if (c == DISK_CACHE_NONE) dio->rfd = dfd;
    return 0;
}

void disk_dio_close(struct disk_dio *dio)
{
    if (dio->dfd >= 0) close(dio->dfd);
    dio->dfd = -1;
    dio->rfd = dio->wfd = dio->fd;
}

/* Can fd (dio's O_DIRECT one) take this request as it is? */
static bool dio_fits(const struct disk_dio *dio, const struct iovec *iov, int cnt, size_t len,
                     uint64_t off)
{
    if ((off | len) & (dio->off_align - 1)) return false;
    for (int k = 0; k < cnt; k++)
        if (((uintptr_t)iov[k].iov_base | iov[k].iov_len) & (dio->mem_align - 1)) return false;
    return true;
}

/* preadv/pwritev of the whole request, retrying short transfers and EINTR. A
 * read stops at the end of the file and returns the bytes read. */
static ssize_t rw_full(int fd, bool write, const struct iovec *iov, int cnt, size_t len,
                       uint64_t off)
{
    struct iovec v[DISK_IOV_MAX];
    if (cnt > DISK_IOV_MAX) return -EINVAL;
    if (off > INT64_MAX || len > INT64_MAX - off) return write ? -EFBIG : -EINVAL;
    memcpy(v, iov, sizeof(v[0]) * (size_t)cnt);
    struct iovec *p = v;
    size_t done = 0;
    while (done < len) {
        ssize_t n = write ? pwritev(fd, p, cnt, (off_t)(off + done))
                          : preadv(fd, p, cnt, (off_t)(off + done));
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        if (n == 0) {
            if (write) return -EIO;
            break;
        }
        done += (size_t)n;
        while (cnt && (size_t)n >= p->iov_len) {
            n -= (ssize_t)p->iov_len;
            p++;
            cnt--;
        }
        if (cnt) {
            p->iov_base = (uint8_t *)p->iov_base + n;
            p->iov_len -= (size_t)n;
        }
    }
    return (ssize_t)done;
}

static int dio_rw(const struct disk_dio *dio, bool write, const struct iovec *iov, int cnt,
                  size_t len, uint64_t off)
{
    int fd = write ? dio->wfd : dio->rfd;
    ssize_t n;
    if (fd == dio->fd || dio_fits(dio, iov, cnt, len, off)) {
        n = rw_full(fd, write, iov, cnt, len, off);
        if (n != -EINVAL || fd == dio->fd) goto done;
        fd = dio->fd; /* the file system refused after all: the page cache it is */
    } else if ((off | len) & (dio->off_align - 1)) {
        fd = dio->fd; /* only the page cache can do sub-block offsets */
    } else {
        /* Offsets fit but the buffers do not: one aligned bounce buffer. */
        void *b;
        if (posix_memalign(&b, dio->mem_align < 4096 ? 4096 : dio->mem_align, len)) return -ENOMEM;
        struct iovec one = {b, len};
        if (write) iov_to_buf(iov, cnt, 0, b, len);
        n = rw_full(fd, write, &one, 1, len, off);
        if (n > 0 && !write) iov_from_buf(iov, cnt, 0, b, (size_t)n);
        free(b);
        goto done;
    }
    n = rw_full(fd, write, iov, cnt, len, off);
done:
    if (n < 0) return (int)n;
    if (!write && (size_t)n < len) iov_memset(iov, cnt, (size_t)n, len - (size_t)n);
    return 0;
}

int dio_preadv(const struct disk_dio *dio, const struct iovec *iov, int cnt, size_t len,
               uint64_t off)
{
    return dio_rw(dio, false, iov, cnt, len, off);
}

int dio_pwritev(const struct disk_dio *dio, const struct iovec *iov, int cnt, size_t len,
                uint64_t off)
{
    return dio_rw(dio, true, iov, cnt, len, off);
}

int64_t disk_file_size(int fd)
{
    struct stat st;
    if (fstat(fd, &st) < 0) return -errno;
    if (S_ISBLK(st.st_mode)) {
        uint64_t sz;
        if (ioctl(fd, BLKGETSIZE64, &sz) < 0) return -errno;
        return (int64_t)sz;
    }
    return st.st_size;
}

int disk_open_file(const char *path, bool readonly, char *err, size_t errlen)
{
    /* O_NONBLOCK so that a FIFO named as an image (or as a backing file by a
     * hostile image) cannot hang the open; cleared again below. */
    int fd = fileset_open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        int e = errno;
        if (e == EACCES && fileset_sealed())
            disk_errf(err, errlen, "%s: not one of the files kumo-vmm's sandbox was given (it "
                      "opens every image before the guest starts)", path);
        else if (e == ENOENT)
            disk_errf(err, errlen, "%s: no such file (check the path)", path);
        else if (e == EACCES)
            disk_errf(err, errlen, "%s: permission denied (check the file's owner and mode%s)",
                      path, readonly ? "" : ", or open it read-only");
        else if (e == EROFS)
            disk_errf(err, errlen, "%s: the file system is read-only (open the image read-only)",
                      path);
        else if (e == EISDIR)
            disk_errf(err, errlen, "%s: is a directory, not a disk image", path);
        else
            disk_errf(err, errlen, "%s: cannot open: %s", path, strerror(e));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))) {
        disk_errf(err, errlen, "%s: not a regular file or block device, so not a disk image", path);
        close(fd);
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
}

/*
 * Image locking, compatible with QEMU's scheme so that kumo and qemu-img see
 * each other: one-byte OFD read locks at 100 + p for each permission p held
 * and at 200 + p for each permission others may not have (p: 0 consistent
 * read, 1 write, 3 resize). A conflict is someone else's lock on the byte
 * that matters: 200 + p for a permission we want, 100 + p for one we deny.
 */
enum { PERM_READ = 0, PERM_WRITE = 1, PERM_RESIZE = 3 };

static int lock_byte(int fd, int cmd, short type, off_t byte, struct flock *out)
{
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1};
    int r = fcntl(fd, cmd, &fl);
    if (out) *out = fl;
    return r;
}

int disk_lock_file(int fd, const char *path, bool readonly, char *err, size_t errlen)
{
    const int held_rw[] = {PERM_READ, PERM_WRITE, PERM_RESIZE}, held_ro[] = {PERM_READ};
    const int denied[] = {PERM_WRITE, PERM_RESIZE};
    const int *held = readonly ? held_ro : held_rw;
    int nheld = readonly ? 1 : 3;
    for (int i = 0; i < nheld; i++) {
        if (lock_byte(fd, F_OFD_SETLK, F_RDLCK, 100 + held[i], NULL) < 0) {
            if (errno == EINVAL || errno == ENOLCK || errno == EOPNOTSUPP)
                return 0; /* no OFD locks on this file system: go on unlocked */
            goto busy;
        }
    }
    for (int i = 0; i < 2; i++)
        if (lock_byte(fd, F_OFD_SETLK, F_RDLCK, 200 + denied[i], NULL) < 0) goto busy;
    /* Now look for the others (after taking ours, so two racing openers both see it). */
    for (int i = 0; i < nheld; i++) {
        struct flock fl;
        if (lock_byte(fd, F_OFD_GETLK, F_WRLCK, 200 + held[i], &fl) == 0 && fl.l_type != F_UNLCK)
            goto busy;
    }
    for (int i = 0; i < 2; i++) {
        struct flock fl;
        if (lock_byte(fd, F_OFD_GETLK, F_WRLCK, 100 + denied[i], &fl) == 0 && fl.l_type != F_UNLCK)
            goto busy;
    }
    return 0;
busy: /* the caller closes fd, which drops our locks */
    disk_errf(err, errlen,
              "%s: the image is in use: another process %s it; stop that process "
              "first%s",
              path, readonly ? "is writing" : "has opened",
              readonly ? ", or use --force-share to inspect it anyway" : "");
    return -1;
}

int disk_unlock(struct disk *d)
{
    if (d->readonly || d->lock_fd < 0) return 0; /* readers share with readers */
    struct flock fl = {.l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = 100, .l_len = 104};
    return fcntl(d->lock_fd, F_OFD_SETLK, &fl);
}

int disk_relock(struct disk *d, char *err, size_t errlen)
{
    if (d->readonly || d->lock_fd < 0) return 0;
    return disk_lock_file(d->lock_fd, d->path, false, err, errlen);
}

char *disk_resolve_relative(const char *image_path, const char *name)
{
    const char *slash = strrchr(image_path, '/');
    if (name[0] == '/' || !slash) return strdup(name);
    size_t dlen = (size_t)(slash - image_path) + 1;
    size_t nlen = strlen(name);
    char *s = malloc(dlen + nlen + 1);
    if (!s) return NULL;
    memcpy(s, image_path, dlen);
    memcpy(s + dlen, name, nlen + 1);
    return s;
}

int disk_parse_size(const char *s, uint64_t *out)
{
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    if (*s == '-' || *s == '+') return -1;
    double dv = 0;
    uint64_t v = strtoull(s, &end, 10);
    bool frac = false;
    if (errno) return -1;
    if (end == s) return -1;
    if (*end == '.') { /* "1.5G" */
        dv = strtod(s, &end);
        frac = true;
    }
    int shift = 0;
    switch (*end) {
    case 'k':
    case 'K': shift = 10; break;
    case 'm':
    case 'M': shift = 20; break;
    case 'g':
    case 'G': shift = 30; break;
    case 't':
    case 'T': shift = 40; break;
    case 'p':
    case 'P': shift = 50; break;
    case 'e':
    case 'E': shift = 60; break;
    default: break;
    }
    if (shift) end++;
    if (shift && (end[0] == 'i' && (end[1] == 'B' || end[1] == 'b')))
        end += 2;
    else if (*end == 'B' || *end == 'b')
        end++;
    if (*end) return -1;
    if (frac) {
        if (!shift) return -1;
        double r = dv * (double)(1ull << shift);
        if (!(r >= 0) || r >= 18446744073709551615.0) return -1;
        *out = (uint64_t)r;
        return 0;
    }
    if (shift && v > (UINT64_MAX >> shift)) return -1;
    *out = v << shift;
    return 0;
}

/* ---- the formats ---- */

/* Every image format, in probing order: the first whose probe accepts a
 * file is its format; raw accepts every file, so it comes last. */
static const struct disk_driver *const drivers[] = {
    &qcow2_driver,
    &vmdk_driver,
    &vhd_driver,
    &raw_driver,
};
#define NDRIVERS (sizeof(drivers) / sizeof(drivers[0]))

static const struct disk_driver *find_driver(const char *name)
{
    for (size_t i = 0; i < NDRIVERS; i++) {
        if (strcmp(drivers[i]->name, name) == 0) return drivers[i];
        for (const char *const *al = drivers[i]->aliases; al && *al; al++)
            if (strcmp(*al, name) == 0) return drivers[i];
    }
    return NULL;
}

const char *disk_format_canonical(const char *name)
{
    const struct disk_driver *drv = name ? find_driver(name) : NULL;
    return drv ? drv->name : NULL;
}

const char *disk_format_qemu_name(const char *name)
{
    const struct disk_driver *drv = find_driver(name);
    if (!drv) return name;
    return drv->qemu_name ? drv->qemu_name : drv->name;
}

/* "a, b or c": the names of the drivers that pass `which` (NULL: all). */
static void format_list(bool (*which)(const struct disk_driver *), char *out, size_t n)
{
    const char *names[NDRIVERS];
    size_t k = 0;
    for (size_t i = 0; i < NDRIVERS; i++)
        if (!which || which(drivers[i])) names[k++] = drivers[i]->name;
    size_t len = 0;
    out[0] = 0;
    for (size_t i = 0; i < k && len < n; i++) {
        const char *sep = i == 0 ? "" : i + 1 == k ? " or " : ", ";
        len += (size_t)snprintf(out + len, n - len, "%s%s", sep, names[i]);
    }
}

static bool can_create(const struct disk_driver *drv)
{
    return drv->create != NULL;
}

static const struct disk_driver *probe_head_tail(const uint8_t *head, size_t n, const uint8_t *tail)
{
    for (size_t i = 0; i < NDRIVERS; i++)
        if (drivers[i]->probe(head, n, tail)) return drivers[i];
    return &raw_driver;
}

static const struct disk_driver *probe_format(int fd, int64_t fsize)
{
    uint8_t head[512], tail[512];
    ssize_t n = io_pread(fd, head, sizeof(head), 0);
    bool have_tail =
        fsize >= 1024 && io_pread(fd, tail, sizeof(tail), (uint64_t)fsize - 512) == 512;
    return probe_head_tail(head, n > 0 ? (size_t)n : 0, have_tail ? tail : NULL);
}

/* Would writing `buf` at `off` make a probed raw image probe as something
 * else? (A guest must not turn its raw disk into a qcow2 naming host files.) */
static bool changes_probe(const struct disk *d, uint64_t off, const uint8_t *buf, size_t len)
{
    bool head = off == 0;
    bool tail = disk_size(d) >= 1024 && off + len == disk_size(d);
    if (!head && !tail) return false;
    return probe_head_tail(head ? buf : NULL, head ? len : 0, tail ? buf + len - 512 : NULL) !=
           &raw_driver;
}

static struct disk *open_image(struct disk_open_args *a, char *err, size_t errlen)
{
    int fd = disk_open_file(a->path, a->readonly, err, errlen);
    if (fd < 0) return NULL;
    struct stat st;
    if (fstat(fd, &st) == 0) {
        for (int i = 0; i < a->depth; i++) {
            if (a->chain_dev[i] == st.st_dev && a->chain_ino[i] == st.st_ino) {
                disk_errf(err, errlen,
                          "%s: the backing chain loops back to this file (fix the backing file "
                          "name with `qemu-img rebase -u`)",
                          a->path);
                close(fd);
                return NULL;
            }
        }
        a->chain_dev[a->depth] = st.st_dev;
        a->chain_ino[a->depth] = st.st_ino;
    }
    if (!a->force_share && disk_lock_file(fd, a->path, a->readonly, err, errlen) < 0) {
        close(fd);
        return NULL;
    }
    int64_t fsize = disk_file_size(fd);
    if (fsize < 0) {
        disk_errf(err, errlen, "%s: cannot get the file size: %s", a->path, strerror((int)-fsize));
        close(fd);
        return NULL;
    }
    const struct disk_driver *drv;
    if (a->format) {
        drv = find_driver(a->format);
        if (!drv) {
            char names[128];
            format_list(NULL, names, sizeof(names));
            disk_errf(err, errlen, "%s: unknown image format '%s' (use %s)", a->path, a->format,
                      names);
            close(fd);
            return NULL;
        }
    } else {
        drv = probe_format(fd, fsize);
    }
    if (!a->readonly && !drv->write) {
        char upper[16];
        size_t i = 0;
        for (; drv->name[i] && i + 1 < sizeof(upper); i++)
            upper[i] = (char)toupper((unsigned char)drv->name[i]);
        upper[i] = 0;
        disk_errf(err, errlen,
                  "%s: %s images can only be read by kumo; import it with `kumo-img convert -f "
                  "%s %s -O qcow2 disk.qcow2`",
                  a->path, upper, drv->name, a->path);
        close(fd);
        return NULL;
    }
    if (a->cache != DISK_CACHE_READWRITE && !drv->readv) {
        disk_errf(err, errlen, "%s: host caching '%s' is not available for %s images (use readwrite)",
                  a->path, disk_cache_name(a->cache), drv->name);
        close(fd);
        return NULL;
    }
    struct disk *d = drv->open(fd, a, err, errlen);
    if (d) d->cache = a->cache;
    if (d && !a->force_share) d->lock_fd = fd;
    if (d && !a->format && drv == &raw_driver) d->probed_raw = true;
    return d;
}

struct disk *disk_open(const char *path, const struct disk_options *o, char *err, size_t errlen)
{
    struct disk_options none = {0};
    if (!o) o = &none;
    if (!path || !*path) {
        disk_errf(err, errlen, "no image file name given");
        return NULL;
    }
    struct disk_open_args *a = calloc(1, sizeof(*a));
    if (!a) {
        disk_errf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    a->path = path;
    a->format = o->format;
    a->readonly = o->readonly;
    a->no_backing = o->no_backing;
    a->for_check = o->for_check;
    a->force_share = o->force_share;
    a->cache = o->cache;
    if ((unsigned)a->cache > DISK_CACHE_NONE) {
        disk_errf(err, errlen, "%s: unknown host caching mode %d", path, (int)o->cache);
        free(a);
        return NULL;
    }
    struct disk *d = open_image(a, err, errlen);
    free(a);
    return d;
}

struct disk *disk_open_chain(struct disk_open_args *parent, const char *path, const char *format,
                             char *err, size_t errlen)
{
    if (parent->depth + 1 > DISK_MAX_CHAIN) {
        disk_errf(err, errlen, "%s: backing chain longer than %d images (a loop?)", path,
                  DISK_MAX_CHAIN);
        return NULL;
    }
    struct disk_open_args *a = malloc(sizeof(*a));
    if (!a) {
        disk_errf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    *a = *parent;
    a->path = path;
    a->format = format;
    a->readonly = true;
    a->cache = DISK_CACHE_READWRITE; /* shared, read-only: the page cache serves every user */
    a->depth = parent->depth + 1;
    struct disk *d = open_image(a, err, errlen);
    free(a);
    return d;
}

/* ---- request checking and dispatch ---- */

uint64_t disk_size(const struct disk *d)
{
    return __atomic_load_n(&d->size, __ATOMIC_ACQUIRE); /* disk_resize may run meanwhile */
}

static int check_range(struct disk *d, uint64_t off, uint64_t len, bool write)
{
    uint64_t size = disk_size(d);
    if ((off | len) & (DISK_SECTOR - 1)) {
        disk_set_error(d,
                       "%s: request at offset %" PRIu64 " length %" PRIu64
                       " is not a multiple of 512 bytes",
                       d->path, off, len);
        return -EINVAL;
    }
    if (off > size || len > size - off) {
        disk_set_error(d,
                       "%s: request at offset %" PRIu64 " length %" PRIu64
                       " reaches past the end of the disk (%" PRIu64 " bytes)",
                       d->path, off, len, size);
        return -ERANGE;
    }
    if (write && d->readonly) {
        disk_set_error(d, "%s: the disk is read-only", d->path);
        return -EROFS;
    }
    return 0;
}

const char *disk_format(const struct disk *d)
{
    return d->drv->name;
}

bool disk_is_readonly(const struct disk *d)
{
    return d->readonly;
}

struct disk *disk_backing(struct disk *d)
{
    return d->backing;
}

int disk_read(struct disk *d, uint64_t off, void *buf, size_t len)
{
    int r = check_range(d, off, len, false);
    if (r < 0 || len == 0) return r;
    return d->drv->read(d, off, buf, len);
}

int disk_write(struct disk *d, uint64_t off, const void *buf, size_t len)
{
    int r = check_range(d, off, len, true);
    if (r < 0 || len == 0) return r;
    if (!d->drv->write) {
        disk_set_error(d, "%s: %s images are read-only in kumo (convert it to qcow2)", d->path,
                       d->drv->name);
        return -EROFS;
    }
    if (d->probed_raw && changes_probe(d, off, buf, len)) {
        disk_set_error(d,
                       "%s: refusing a write that would make this raw image look like "
                       "another format (open it with format \"raw\" to allow it)",
                       d->path);
        return -EPERM;
    }
    return d->drv->write(d, off, buf, len);
}

static size_t iov_total(const struct iovec *iov, int cnt)
{
    size_t n = 0;
    for (int k = 0; k < cnt; k++) n += iov[k].iov_len;
    return n;
}

int disk_readv(struct disk *d, uint64_t off, const struct iovec *iov, int iovcnt)
{
    if (iovcnt < 0 || iovcnt > DISK_IOV_MAX) return -EINVAL;
    size_t len = iov_total(iov, iovcnt);
    int r = check_range(d, off, len, false);
    if (r < 0 || len == 0) return r;
    if (d->drv->readv) return d->drv->readv(d, off, iov, iovcnt, len);
    if (iovcnt == 1) return d->drv->read(d, off, iov[0].iov_base, len);
    uint8_t *b = malloc(len);
    if (!b) return -ENOMEM;
    r = d->drv->read(d, off, b, len);
    if (r == 0) iov_from_buf(iov, iovcnt, 0, b, len);
    free(b);
    return r;
}

/* The bytes of a write that the probe looks at: its first and last sector. */
static bool changes_probe_iov(const struct disk *d, uint64_t off, const struct iovec *iov,
                              int cnt, size_t len)
{
    bool head = off == 0;
    bool tail = disk_size(d) >= 1024 && off + len == disk_size(d);
    if (!head && !tail) return false;
    uint8_t h[512], t[512];
    if (head) iov_to_buf(iov, cnt, 0, h, len < 512 ? len : 512);
    if (tail) iov_to_buf(iov, cnt, len - 512, t, 512);
    return probe_head_tail(head ? h : NULL, head ? (len < 512 ? len : 512) : 0,
                           tail ? t : NULL) != &raw_driver;
}

int disk_writev(struct disk *d, uint64_t off, const struct iovec *iov, int iovcnt)
{
    if (iovcnt < 0 || iovcnt > DISK_IOV_MAX) return -EINVAL;
    size_t len = iov_total(iov, iovcnt);
    int r = check_range(d, off, len, true);
    if (r < 0 || len == 0) return r;
    if (!d->drv->write) {
        disk_set_error(d, "%s: %s images are read-only in kumo (convert it to qcow2)", d->path,
                       d->drv->name);
        return -EROFS;
    }
    if (d->probed_raw && changes_probe_iov(d, off, iov, iovcnt, len)) {
        disk_set_error(d,
                       "%s: refusing a write that would make this raw image look like "
                       "another format (open it with format \"raw\" to allow it)",
                       d->path);
        return -EPERM;
    }
    if (d->drv->writev) return d->drv->writev(d, off, iov, iovcnt, len);
    if (iovcnt == 1) return d->drv->write(d, off, iov[0].iov_base, len);
    uint8_t *b = malloc(len);
    if (!b) return -ENOMEM;
    iov_to_buf(iov, iovcnt, 0, b, len);
    r = d->drv->write(d, off, b, len);
    free(b);
    return r;
}

int disk_write_zero_buffers(struct disk *d, uint64_t off, uint64_t len)
{
    size_t chunk = 1u << 20;
    void *z = calloc(1, chunk);
    if (!z) return -ENOMEM;
    int r = 0;
    while (len && r == 0) {
        size_t n = len < chunk ? (size_t)len : chunk;
        r = d->drv->write(d, off, z, n);
        off += n;
        len -= n;
    }
    free(z);
    return r;
}

int disk_write_zeroes(struct disk *d, uint64_t off, uint64_t len, bool may_unmap)
{
    int r = check_range(d, off, len, true);
    if (r < 0 || len == 0) return r;
    if (d->drv->write_zeroes) return d->drv->write_zeroes(d, off, len, may_unmap);
    if (!d->drv->write) return -EROFS;
    return disk_write_zero_buffers(d, off, len);
}

int disk_discard(struct disk *d, uint64_t off, uint64_t len)
{
    int r = check_range(d, off, len, true);
    if (r < 0 || len == 0) return r;
    if (d->drv->discard) return d->drv->discard(d, off, len);
    return disk_write_zeroes(d, off, len, true);
}

int disk_flush(struct disk *d)
{
    if (d->readonly || !d->drv->flush) return 0;
    return d->drv->flush(d);
}

int disk_resize(struct disk *d, uint64_t new_size)
{
    if (new_size % DISK_SECTOR) {
        disk_set_error(d, "%s: new size %" PRIu64 " is not a multiple of 512 bytes", d->path,
                       new_size);
        return -EINVAL;
    }
    if (d->readonly) {
        disk_set_error(d, "%s: the disk is read-only", d->path);
        return -EROFS;
    }
    if (!d->drv->resize) {
        disk_set_error(d, "%s: resizing %s images is not supported (convert it to qcow2 first)",
                       d->path, d->drv->name);
        return -ENOTSUP;
    }
    return d->drv->resize(d, new_size);
}

int disk_block_status(struct disk *d, uint64_t off, uint64_t len, uint64_t *pnum)
{
    int r = check_range(d, off, len, false);
    if (r < 0) return r;
    if (len == 0) {
        *pnum = 0;
        return DISK_STATUS_DATA;
    }
    if (!d->drv->block_status) {
        *pnum = len;
        return DISK_STATUS_DATA;
    }
    return d->drv->block_status(d, off, len, pnum);
}

void disk_get_info(struct disk *d, struct disk_info *out)
{
    memset(out, 0, sizeof(*out));
    out->format = d->drv->name;
    out->path = d->path;
    out->virtual_size = disk_size(d);
    if (d->drv->info) d->drv->info(d, out);
    if (d->backing) out->backing_format = d->backing->drv->name;
}

void disk_close(struct disk *d)
{
    if (!d) return;
    d->drv->close(d);
}

/* ---- creation ---- */

int disk_create(const char *path, const char *format, uint64_t size, const char *backing_path,
                const char *backing_format, uint32_t cluster_size, char *err, size_t errlen)
{
    const struct disk_driver *drv = find_driver(format ? format : "qcow2");
    if (!drv || !drv->create) {
        char names[128];
        format_list(can_create, names, sizeof(names));
        disk_errf(err, errlen, "%s: cannot create images of format '%s' (use %s)", path, format,
                  names);
        return -1;
    }
    return drv->create(path, size, backing_path, backing_format, cluster_size, err, errlen);
}
