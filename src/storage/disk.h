/*
 * disk.h - disk images as the VMM and kumo-img see them: open a file (raw,
 * qcow2 with its backing chain, or read-only VHD/VMDK for import), read and
 * write it in 512-byte sectors, flush, discard, write zeroes, resize, create.
 *
 * Contract, for every function taking a struct disk:
 *  - Offsets and lengths are multiples of 512 (DISK_SECTOR); others give
 *    -EINVAL. A range reaching past disk_size() gives -ERANGE. Writes,
 *    discards and write-zeroes on a read-only disk give -EROFS.
 *  - Return 0 or a negative errno. When a call fails because of the image
 *    (a damaged table, a truncated file), disk_last_error() says what is wrong
 *    and how to fix it.
 *  - Calls may come from several threads at once. raw reads and writes run in
 *    parallel; qcow2 serialises requests on a per-image mutex.
 *  - Data written is durable only after disk_flush() returns 0. A process
 *    killed at any point leaves an image that `qemu-img check` accepts
 *    (leaked clusters are possible, errors are not); see docs/storage.md.
 *  - After disk_discard() or disk_write_zeroes() the range reads as zeros.
 *  - An open image is locked (QEMU-compatible OFD locks): one writer, or any
 *    number of readers; a file that is someone's backing file cannot be
 *    opened for writing. A conflicting open fails with "in use".
 */
#ifndef KUMO_STORAGE_DISK_H
#define KUMO_STORAGE_DISK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define DISK_SECTOR 512u

/* How an image uses the host's page cache (Azure's per-disk "host caching").
 * Flushes (disk_flush) make everything written durable in every mode.
 *  - READWRITE: reads and writes through the page cache (QEMU cache=writeback).
 *  - READONLY:  reads through the page cache; writes bypass it (O_DIRECT), so
 *               the host keeps no dirty data of the disk, only clean copies.
 *  - NONE:      reads and writes bypass the page cache (O_DIRECT; QEMU
 *               cache=none). Requests whose guest buffers are not aligned as
 *               the file system needs go through an aligned bounce buffer.
 * Image metadata (qcow2 tables) always goes through the page cache. */
enum disk_cache { DISK_CACHE_READWRITE = 0, DISK_CACHE_READONLY, DISK_CACHE_NONE };

struct disk; /* an open image: raw, or qcow2 with its backing chain */

struct disk_options {
    const char *format; /* NULL = probe, "raw", "qcow2", "vhd", "vmdk" (vhd/vmdk: read-only) */
    bool readonly;
    /* Refuse images that name other files (a qcow2 backing file, VMDK extents in
     * other files): set it when opening images a tenant uploaded. */
    bool no_backing;
    /* kumo-img check/info: open dirty or corrupt qcow2 images so that they can
     * be examined (read-only) or have leaked clusters repaired; the backing
     * chain is not opened. */
    bool for_check;
    /* Do not take the image lock (inspect an image another process is using). */
    bool force_share;
    /* Host caching of the image's data (backing files: always READWRITE). A
     * file system without O_DIRECT support fails the open with a message. */
    enum disk_cache cache;
};

/* The mode called `name` ("none", "readonly", "readwrite"; Azure's "None",
 * "ReadOnly", "ReadWrite" in any case), or -1. disk_cache_name: the
 * lower-case name. */
int disk_cache_parse(const char *name);
const char *disk_cache_name(enum disk_cache c);
const char *disk_cache_azure_name(enum disk_cache c); /* "None", "ReadOnly", "ReadWrite" */

/* Open `path`. On failure returns NULL with a message in err ("disk.qcow2: qcow2
 * L1 table at offset 0x... lies beyond the end of the file (truncated image?)"). */
struct disk *disk_open(const char *path, const struct disk_options *o, char *err, size_t errlen);

uint64_t disk_size(const struct disk *d); /* virtual size in bytes */
int disk_read(struct disk *d, uint64_t off, void *buf, size_t len);
int disk_write(struct disk *d, uint64_t off, const void *buf, size_t len);
int disk_flush(struct disk *d); /* data + metadata durable (fsync) */
/* Vectored reads and writes: the data is the concatenation of iov[0..iovcnt)
 * (at most DISK_IOV_MAX buffers, any alignment, total a multiple of 512),
 * moved straight between those buffers and the image file where the format
 * allows (raw; allocated qcow2 clusters), without an intermediate copy. The
 * buffers may be guest memory. Same contract as disk_read/disk_write. */
#define DISK_IOV_MAX 1024
int disk_readv(struct disk *d, uint64_t off, const struct iovec *iov, int iovcnt);
int disk_writev(struct disk *d, uint64_t off, const struct iovec *iov, int iovcnt);
int disk_discard(struct disk *d, uint64_t off, uint64_t len);
int disk_write_zeroes(struct disk *d, uint64_t off, uint64_t len, bool may_unmap);
/* Flush, release the image lock and free everything (also the backing chain). */
void disk_close(struct disk *d);

/* Hand a writable image over to another process (live migration): drop
 * this process's locks on it (its data flushed first: disk_flush), so that
 * the other can open it; disk_relock takes them again when the handover
 * fails (-1 with a message when someone else holds the image now). Read-only
 * images need neither (readers share). */
int disk_unlock(struct disk *d);
int disk_relock(struct disk *d, char *err, size_t errlen);

/* Grow the virtual size (raw may also shrink). new_size is a multiple of 512.
 * Growing a qcow2 image with a backing file makes the new range read as zeros. */
int disk_resize(struct disk *d, uint64_t new_size);

/* Create an image. format is "raw" or "qcow2" (NULL = qcow2). size 0 with a
 * backing file takes the backing file's size. backing_format NULL = probe the
 * backing file and record what was found. cluster_size 0 = 64 KiB; otherwise a
 * power of two from 512 bytes to 2 MiB. Overwrites an existing file. Returns 0
 * or -1 with a message in err. */
int disk_create(const char *path, const char *format, uint64_t size, const char *backing_path,
                const char *backing_format, uint32_t cluster_size, char *err, size_t errlen);

/* The message of the most recent failed call on d ("" if none). */
void disk_last_error(struct disk *d, char *buf, size_t len);

/* What the range starting at off holds, for sparse copies. Returns
 * DISK_STATUS_ZERO (known to read as zeros) or DISK_STATUS_DATA (may hold
 * data), or a negative errno; *pnum receives how many bytes from off (at
 * least 512, at most len) share that status. */
enum { DISK_STATUS_DATA = 1, DISK_STATUS_ZERO = 2 };
int disk_block_status(struct disk *d, uint64_t off, uint64_t len, uint64_t *pnum);

/* Facts for `kumo-img info`. Strings stay valid until disk_close. */
struct disk_info {
    const char *format;         /* "raw", "qcow2", "vhd", "vmdk" */
    const char *path;           /* as opened */
    uint64_t virtual_size;      /* bytes */
    uint64_t disk_size;         /* bytes the file occupies on the host */
    uint32_t cluster_size;      /* qcow2 cluster, VHD block, VMDK grain; 0 for raw */
    int version;                /* qcow2 2 or 3; 0 otherwise */
    unsigned refcount_bits;     /* qcow2 */
    bool dirty, corrupt;        /* qcow2 incompatible feature bits */
    bool lazy_refcounts;        /* qcow2 compatible feature bit */
    unsigned snapshots;         /* qcow2 internal snapshots */
    const char *subformat;      /* "fixed"/"dynamic" (vhd), createType (vmdk); NULL */
    const char *backing_file;   /* as stored in the image, or NULL */
    const char *backing_path;   /* resolved path of the backing file */
    const char *backing_format; /* format of the opened backing file */
};
void disk_get_info(struct disk *d, struct disk_info *out);
struct disk *disk_backing(struct disk *d); /* next image of the chain, or NULL */
const char *disk_format(const struct disk *d);
bool disk_is_readonly(const struct disk *d);

/* The format called `name` by its own name or an alias ("vpc" is "vhd"), or
 * NULL when there is no such format. */
const char *disk_format_canonical(const char *name);

/* Parse a size such as "10G", "512M", "1T", "4096" (suffixes K M G T P E are
 * powers of 1024; an optional trailing "B"/"iB"). Returns 0 or -1. */
int disk_parse_size(const char *s, uint64_t *out);

#endif
