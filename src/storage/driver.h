/*
 * driver.h - what an image format driver (raw.c, qcow2.c, vhd.c, vmdk.c)
 * provides to disk.c, and the small helpers the drivers share (full-length
 * pread/pwrite, error messages, file opening with the checks every image
 * file needs). Internal to src/storage.
 *
 * A format is one struct disk_driver in its driver's file and one entry in
 * disk.c's table of drivers: its names, how to recognise it, how to open
 * (and create) it, and the operations on an open image.
 *
 * disk.c validates alignment, bounds and read-only before calling a driver,
 * so driver callbacks see in-range, 512-aligned requests only.
 */
#ifndef KUMO_STORAGE_DRIVER_H
#define KUMO_STORAGE_DRIVER_H

#include "storage/disk.h"

#include <pthread.h>
#include <stdarg.h>
#include <sys/types.h>

/* Longest backing chain followed (also catches loops a -> b -> a). */
#define DISK_MAX_CHAIN 64

struct disk_open_args;

struct disk_driver {
    const char *name;           /* "qcow2": the name disk_format() and kumo-img give */
    const char *const *aliases; /* other names accepted for it, NULL-terminated; or NULL */
    const char *qemu_name;      /* QEMU's name for it (a qcow2 backing format), if not name */
    /* Is a file that starts with head (n bytes: 512, fewer for a short file)
     * and ends with tail (its last 512 bytes; NULL for a file shorter than
     * 1 KiB, or when only the head is known) an image of this format? */
    bool (*probe)(const uint8_t *head, size_t n, const uint8_t *tail);
    /* Open the image in fd (taking ownership: closed on failure). */
    struct disk *(*open)(int fd, struct disk_open_args *a, char *err, size_t errlen);
    /* disk_create for this format; NULL: kumo does not create such images. */
    int (*create)(const char *path, uint64_t size, const char *backing_path,
                  const char *backing_format, uint32_t cluster_size, char *err, size_t errlen);
    int (*read)(struct disk *d, uint64_t off, void *buf, size_t len);
    /* NULL for a format kumo only reads (imports): disk.c refuses to open
     * it read-write, so open is only called with a->readonly then. */
    int (*write)(struct disk *d, uint64_t off, const void *buf, size_t len);
    /* Vectored forms (may be NULL: disk.c then goes through a buffer and
     * read/write). iov holds exactly len bytes, at most DISK_IOV_MAX buffers. */
    int (*readv)(struct disk *d, uint64_t off, const struct iovec *iov, int iovcnt, size_t len);
    int (*writev)(struct disk *d, uint64_t off, const struct iovec *iov, int iovcnt, size_t len);
    int (*flush)(struct disk *d);                                                /* may be NULL */
    int (*discard)(struct disk *d, uint64_t off, uint64_t len);                  /* may be NULL */
    int (*write_zeroes)(struct disk *d, uint64_t off, uint64_t len, bool unmap); /* may be NULL */
    int (*block_status)(struct disk *d, uint64_t off, uint64_t len, uint64_t *pnum);
    int (*resize)(struct disk *d, uint64_t new_size); /* may be NULL */
    void (*info)(struct disk *d, struct disk_info *out);
    void (*close)(struct disk *d);
};

/* The part of every open image that disk.c owns; drivers embed it first. */
struct disk {
    const struct disk_driver *drv;
    char *path;
    uint64_t size; /* virtual size, bytes (multiple of 512) */
    bool readonly;
    bool probed_raw; /* raw by probing: refuse writes that would change the probe */
    enum disk_cache cache;
    struct disk *backing;
    int lock_fd; /* the descriptor holding the image's locks (disk_lock_file), or -1 */
    pthread_mutex_t err_lock;
    char errmsg[512];
};

/* Settings for opening one image of a chain. */
struct disk_open_args {
    const char *path;
    const char *format; /* NULL = probe */
    bool readonly, no_backing, for_check, force_share;
    enum disk_cache cache;               /* the named image's; READWRITE for backing files */
    int depth;                           /* 0 for the image the user named */
    dev_t chain_dev[DISK_MAX_CHAIN + 1]; /* files already in the chain (loop check) */
    ino_t chain_ino[DISK_MAX_CHAIN + 1];
};

/* The drivers (disk.c lists them in probing order). */
extern const struct disk_driver raw_driver, qcow2_driver, vhd_driver, vmdk_driver;

/* The name QEMU uses for format `name` (or one of its aliases): what a
 * qcow2 image records as its backing file's format. name when unknown. */
const char *disk_format_qemu_name(const char *name);

/* Write zeroes over [off, off+len) with the driver's write, 1 MiB at a time
 * (disk_write_zeroes for formats without write_zeroes; drivers' fallback). */
int disk_write_zero_buffers(struct disk *d, uint64_t off, uint64_t len);

/* Open the next image of a chain (a backing file), read-only. */
struct disk *disk_open_chain(struct disk_open_args *parent, const char *path, const char *format,
                             char *err, size_t errlen);

/* Initialise/free the common part. */
int disk_base_init(struct disk *d, const struct disk_driver *drv, const char *path, uint64_t size,
                   bool readonly);
void disk_base_free(struct disk *d);

/* Record the message of a failed call (readable with disk_last_error). */
void disk_set_error(struct disk *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* snprintf into err that tolerates err == NULL / errlen == 0. */
void disk_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Open an image file: O_CLOEXEC, no blocking on FIFOs, must be a regular file or
 * a block device. Returns fd or -1 with a message. */
int disk_open_file(const char *path, bool readonly, char *err, size_t errlen);

/* Lock the file against other writers (OFD lock: shared for read-only opens,
 * exclusive for read-write). 0 or -1 with a message. */
int disk_lock_file(int fd, const char *path, bool readonly, char *err, size_t errlen);

/* Size of a regular file or block device, or -errno. */
int64_t disk_file_size(int fd);

/* pread/pwrite the whole range, retrying short transfers and EINTR.
 * io_pread returns the number of bytes read (less than len only at end of
 * file) or -errno; io_pwrite returns 0 or -errno. */
ssize_t io_pread(int fd, void *buf, size_t len, uint64_t off);
int io_pwrite(int fd, const void *buf, size_t len, uint64_t off);
/* Read exactly len bytes; zero-fill what lies past the end of the file. */
int io_pread_zero(int fd, void *buf, size_t len, uint64_t off);

/*
 * Data I/O in a cache mode (disk.h's enum disk_cache). A driver keeps one
 * struct disk_dio per image file: guest data is read through rfd and written
 * through wfd, which are the image's own fd (page cache) or a second,
 * O_DIRECT, open of the same file. Metadata keeps using the image's fd:
 * Linux keeps the two coherent (direct I/O writes back and drops cached
 * pages of the range it touches), and fdatasync on either makes both durable.
 */
struct disk_dio {
    int fd;             /* the image's fd (buffered): metadata and fallbacks */
    int dfd;            /* the O_DIRECT fd, or -1 */
    int rfd, wfd;       /* what data reads and writes use */
    uint32_t mem_align; /* O_DIRECT buffer and length alignment */
    uint32_t off_align; /* O_DIRECT file offset alignment */
};
/* Set up dio for image fd in mode c (opens the O_DIRECT fd if the mode needs
 * it). 0, or -1 with a message ("the file system does not support O_DIRECT:
 * use cache=readwrite"). */
int disk_dio_open(struct disk_dio *dio, int fd, const char *path, enum disk_cache c, char *err,
                  size_t errlen);
void disk_dio_close(struct disk_dio *dio); /* closes dfd only */
/* Read/write exactly len bytes between iov (len bytes, cnt buffers) and the
 * file at off, through rfd/wfd; reads zero-fill past the end of the file.
 * Buffers or offsets O_DIRECT cannot take go through an aligned bounce
 * buffer (or, offsets, through the page cache). 0 or -errno. */
int dio_preadv(const struct disk_dio *dio, const struct iovec *iov, int cnt, size_t len,
               uint64_t off);
int dio_pwritev(const struct disk_dio *dio, const struct iovec *iov, int cnt, size_t len,
                uint64_t off);

/* iovec helpers. iov_slice: the buffers holding bytes [skip, skip+len) of
 * src, into dst (at most max); returns their number, or -1 when they do not
 * fit or src is shorter. iov_to_buf/iov_from_buf copy bytes [skip, skip+len)
 * out of/into the buffers; iov_memset zeroes them. */
int iov_slice(const struct iovec *src, int cnt, size_t skip, size_t len, struct iovec *dst,
              int max);
void iov_to_buf(const struct iovec *iov, int cnt, size_t skip, void *buf, size_t len);
void iov_from_buf(const struct iovec *iov, int cnt, size_t skip, const void *buf, size_t len);
void iov_memset(const struct iovec *iov, int cnt, size_t skip, size_t len);

/* Resolve `name` (a backing file or extent name) against the directory of
 * `image_path`. Returns a malloc'd string. */
char *disk_resolve_relative(const char *image_path, const char *name);

/* Big/little-endian helpers for on-disk structures. */
static inline uint16_t get_be16(const void *p)
{
    const uint8_t *b = p;
    return (uint16_t)(b[0] << 8 | b[1]);
}
static inline uint32_t get_be32(const void *p)
{
    const uint8_t *b = p;
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}
static inline uint64_t get_be64(const void *p)
{
    const uint8_t *b = p;
    return (uint64_t)get_be32(b) << 32 | get_be32(b + 4);
}
static inline void put_be16(void *p, uint16_t v)
{
    uint8_t *b = p;
    b[0] = (uint8_t)(v >> 8);
    b[1] = (uint8_t)v;
}
static inline void put_be32(void *p, uint32_t v)
{
    uint8_t *b = p;
    b[0] = (uint8_t)(v >> 24);
    b[1] = (uint8_t)(v >> 16);
    b[2] = (uint8_t)(v >> 8);
    b[3] = (uint8_t)v;
}
static inline void put_be64(void *p, uint64_t v)
{
    put_be32(p, (uint32_t)(v >> 32));
    put_be32((uint8_t *)p + 4, (uint32_t)v);
}
static inline uint16_t get_le16(const void *p)
{
    const uint8_t *b = p;
    return (uint16_t)(b[1] << 8 | b[0]);
}
static inline uint32_t get_le32(const void *p)
{
    const uint8_t *b = p;
    return (uint32_t)b[3] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[1] << 8 | b[0];
}
static inline uint64_t get_le64(const void *p)
{
    const uint8_t *b = p;
    return (uint64_t)get_le32(b + 4) << 32 | get_le32(b);
}

#endif
