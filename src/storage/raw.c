/*
 * raw.c - raw disk images: the file (or block device) is the disk, byte for
 * byte. Reads and writes go straight to preadv/pwritev between the caller's
 * buffers and the file (O_DIRECT in the caching modes that bypass the page
 * cache) and may run in parallel from several threads; discard punches holes so a sparse file stays sparse.
 * A file whose size is not a multiple of 512 reads as if padded with zeros.
 */
#include "storage/driver.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

struct raw {
    struct disk d;
    int fd;
    bool is_blk;
    struct disk_dio dio; /* the data path of the cache mode */
};

static struct raw *to_raw(struct disk *d)
{
    return (struct raw *)d;
}

static int raw_readv(struct disk *d, uint64_t off, const struct iovec *iov, int cnt, size_t len)
{
    int r = dio_preadv(&to_raw(d)->dio, iov, cnt, len, off);
    if (r < 0)
        disk_set_error(d, "%s: read at offset %" PRIu64 " failed: %s", d->path, off, strerror(-r));
    return r;
}

static int raw_writev(struct disk *d, uint64_t off, const struct iovec *iov, int cnt, size_t len)
{
    int r = dio_pwritev(&to_raw(d)->dio, iov, cnt, len, off);
    if (r < 0)
        disk_set_error(d, "%s: write at offset %" PRIu64 " failed: %s", d->path, off, strerror(-r));
    return r;
}

static int raw_read(struct disk *d, uint64_t off, void *buf, size_t len)
{
    struct iovec v = {buf, len};
    return raw_readv(d, off, &v, 1, len);
}

static int raw_write(struct disk *d, uint64_t off, const void *buf, size_t len)
{
    struct iovec v = {(void *)buf, len};
    return raw_writev(d, off, &v, 1, len);
}

static int raw_flush(struct disk *d)
{
    if (fdatasync(to_raw(d)->fd) < 0) {
        int e = errno;
        disk_set_error(d, "%s: flush failed: %s", d->path, strerror(e));
        return -e;
    }
    return 0;
}

static int raw_write_zeroes(struct disk *d, uint64_t off, uint64_t len, bool unmap)
{
    struct raw *rw = to_raw(d);
    if (rw->is_blk) {
        uint64_t range[2] = {off, len};
        if (ioctl(rw->fd, BLKZEROOUT, range) == 0) return 0;
        return disk_write_zero_buffers(d, off, len);
    }
    int mode = unmap ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE
                     : FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
    if (fallocate(rw->fd, mode, (off_t)off, (off_t)len) == 0) return 0;
    if (!unmap &&
        fallocate(rw->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) == 0)
        return 0;
    return disk_write_zero_buffers(d, off, len);
}

static int raw_discard(struct disk *d, uint64_t off, uint64_t len)
{
    return raw_write_zeroes(d, off, len, true);
}

static int raw_block_status(struct disk *d, uint64_t off, uint64_t len, uint64_t *pnum)
{
    struct raw *rw = to_raw(d);
    *pnum = len;
    if (rw->is_blk) return DISK_STATUS_DATA;
    off_t data = lseek(rw->fd, (off_t)off, SEEK_DATA);
    if (data < 0) {
        /* ENXIO: nothing but hole (or end of file) from off on. */
        return errno == ENXIO ? DISK_STATUS_ZERO : DISK_STATUS_DATA;
    }
    if ((uint64_t)data > off) {
        uint64_t n = ((uint64_t)data - off) & ~(uint64_t)(DISK_SECTOR - 1);
        if (n >= DISK_SECTOR) {
            *pnum = n < len ? n : len;
            return DISK_STATUS_ZERO;
        }
    }
    off_t hole = lseek(rw->fd, (off_t)off, SEEK_HOLE);
    if (hole < 0 || (uint64_t)hole <= off) return DISK_STATUS_DATA;
    uint64_t n = ((uint64_t)hole - off + DISK_SECTOR - 1) & ~(uint64_t)(DISK_SECTOR - 1);
    *pnum = n < len ? n : len;
    return DISK_STATUS_DATA;
}

static int raw_resize(struct disk *d, uint64_t new_size)
{
    struct raw *rw = to_raw(d);
    if (rw->is_blk) {
        disk_set_error(d, "%s: a block device cannot be resized by kumo", d->path);
        return -ENOTSUP;
    }
    if (new_size > INT64_MAX || ftruncate(rw->fd, (off_t)new_size) < 0) {
        int e = new_size > INT64_MAX ? EFBIG : errno;
        disk_set_error(d, "%s: cannot resize to %" PRIu64 " bytes: %s", d->path, new_size,
                       strerror(e));
        return -e;
    }
    __atomic_store_n(&d->size, new_size, __ATOMIC_RELEASE);
    return 0;
}

static void raw_info(struct disk *d, struct disk_info *out)
{
    struct stat st;
    if (fstat(to_raw(d)->fd, &st) == 0) out->disk_size = (uint64_t)st.st_blocks * 512;
}

static void raw_close(struct disk *d)
{
    struct raw *rw = to_raw(d);
    if (!d->readonly) fdatasync(rw->fd);
    disk_dio_close(&rw->dio);
    close(rw->fd);
    disk_base_free(d);
    free(rw);
}

static struct disk *raw_open(int fd, struct disk_open_args *a, char *err, size_t errlen);
static int raw_create(const char *path, uint64_t size, const char *backing_path,
                      const char *backing_format, uint32_t cluster_size, char *err,
                      size_t errlen);

/* Every file is a raw image: the format probing settles on last. */
static bool raw_probe(const uint8_t *head, size_t n, const uint8_t *tail)
{
    (void)head;
    (void)n;
    (void)tail;
    return true;
}

const struct disk_driver raw_driver = {
    .name = "raw",
    .probe = raw_probe,
    .open = raw_open,
    .create = raw_create,
    .read = raw_read,
    .write = raw_write,
    .readv = raw_readv,
    .writev = raw_writev,
    .flush = raw_flush,
    .discard = raw_discard,
    .write_zeroes = raw_write_zeroes,
    .block_status = raw_block_status,
    .resize = raw_resize,
    .info = raw_info,
    .close = raw_close,
};

static struct disk *raw_open(int fd, struct disk_open_args *a, char *err, size_t errlen)
{
    struct stat st;
    int64_t size = disk_file_size(fd);
    if (size < 0 || fstat(fd, &st) < 0) {
        disk_errf(err, errlen, "%s: cannot get the file size: %s", a->path,
                  strerror(size < 0 ? (int)-size : errno));
        close(fd);
        return NULL;
    }
    struct raw *rw = calloc(1, sizeof(*rw));
    uint64_t vsize = ((uint64_t)size + DISK_SECTOR - 1) & ~(uint64_t)(DISK_SECTOR - 1);
    if (!rw || disk_base_init(&rw->d, &raw_driver, a->path, vsize, a->readonly) < 0) {
        disk_errf(err, errlen, "%s: out of memory", a->path);
        free(rw);
        close(fd);
        return NULL;
    }
    rw->fd = fd;
    rw->is_blk = S_ISBLK(st.st_mode);
    if (disk_dio_open(&rw->dio, fd, a->path, a->cache, err, errlen) < 0) {
        disk_base_free(&rw->d);
        free(rw);
        close(fd);
        return NULL;
    }
    return &rw->d;
}

static int raw_create(const char *path, uint64_t size, const char *backing_path,
                      const char *backing_format, uint32_t cluster_size, char *err, size_t errlen)
{
    (void)backing_format;
    (void)cluster_size;
    if (backing_path) {
        disk_errf(err, errlen, "%s: raw images cannot have a backing file (use -f qcow2)", path);
        return -1;
    }
    if (size % DISK_SECTOR) {
        disk_errf(err, errlen, "%s: size %" PRIu64 " is not a multiple of 512 bytes", path, size);
        return -1;
    }
    if (size > INT64_MAX) {
        disk_errf(err, errlen, "%s: size %" PRIu64 " is too large", path, size);
        return -1;
    }
    /* a disk is its owner's alone, whatever the caller's umask */
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        disk_errf(err, errlen, "%s: cannot create: %s", path, strerror(errno));
        return -1;
    }
    if (ftruncate(fd, (off_t)size) < 0 || fsync(fd) < 0) {
        disk_errf(err, errlen, "%s: cannot set the size to %" PRIu64 " bytes: %s", path, size,
                  strerror(errno));
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}
