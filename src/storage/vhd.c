/*
 * vhd.c - reading Microsoft VHD images (Virtual PC / Hyper-V / Azure page
 * blobs), for import: fixed disks (raw data followed by a 512-byte footer)
 * and dynamic disks (footer copy, dynamic header, block allocation table,
 * blocks of a sector bitmap plus data). Differencing disks are refused.
 *
 * All fields are big-endian. Like QEMU, the per-block sector bitmap is not
 * consulted: an allocated block is read as stored (writers zero new blocks).
 *
 * The virtual size: Virtual PC (creator "vpc ") and older QEMU ("qemu") size
 * a disk by its CHS geometry, everyone else (Hyper-V, Azure, disk2vhd, QEMU
 * with force_size) by the footer's current size. As QEMU does, the geometry
 * wins only for those two creators, and never when it is the maximal
 * 65535/16/255 geometry that cannot express larger disks.
 */
#include "storage/driver.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define VHD_FIXED         2
#define VHD_DYNAMIC       3
#define VHD_DIFF          4
#define VHD_BAT_UNUSED    0xffffffffu
#define VHD_MAX_BAT_BYTES (64u << 20)

struct vhd {
    struct disk d;
    int fd;
    uint32_t type;
    uint64_t file_size;
    uint32_t block_size;  /* dynamic: bytes of data per block */
    uint32_t bitmap_size; /* dynamic: bytes of sector bitmap before each block */
    uint32_t bat_entries;
    uint32_t *bat;
};

static struct vhd *to_vhd(struct disk *d)
{
    return (struct vhd *)d;
}

static uint32_t checksum(const uint8_t *p, size_t len, size_t field)
{
    uint32_t sum = 0;
    for (size_t i = 0; i < len; i++)
        if (i < field || i >= field + 4) sum += p[i];
    return ~sum;
}

static int vhd_read(struct disk *d, uint64_t off, void *buf, size_t len)
{
    struct vhd *v = to_vhd(d);
    uint8_t *out = buf;
    while (len) {
        size_t n = len;
        uint64_t src = off;
        bool zero = false;
        if (v->type == VHD_DYNAMIC) {
            uint64_t blk = off / v->block_size, in = off % v->block_size;
            if (v->block_size - in < n) n = (size_t)(v->block_size - in);
            uint32_t e = blk < v->bat_entries ? v->bat[blk] : VHD_BAT_UNUSED;
            if (e == VHD_BAT_UNUSED) {
                zero = true;
            } else {
                src = (uint64_t)e * 512 + v->bitmap_size + in;
                if (src + n > v->file_size) {
                    disk_set_error(d,
                                   "%s: VHD block %" PRIu64 " at offset 0x%" PRIx64
                                   " lies beyond the end of the file (truncated image?)",
                                   d->path, blk, (uint64_t)e * 512);
                    return -EIO;
                }
            }
        }
        if (zero) {
            memset(out, 0, n);
        } else {
            ssize_t r = io_pread(v->fd, out, n, src);
            if (r < 0) {
                disk_set_error(d, "%s: read at offset %" PRIu64 " failed: %s", d->path, src,
                               strerror((int)-r));
                return (int)r;
            }
            if ((size_t)r < n) {
                disk_set_error(d,
                               "%s: VHD data at offset %" PRIu64 " lies beyond the end of "
                               "the file (truncated image?)",
                               d->path, src);
                return -EIO;
            }
        }
        off += n;
        out += n;
        len -= n;
    }
    return 0;
}

static int vhd_block_status(struct disk *d, uint64_t off, uint64_t len, uint64_t *pnum)
{
    struct vhd *v = to_vhd(d);
    *pnum = len;
    if (v->type != VHD_DYNAMIC) return DISK_STATUS_DATA;
    uint64_t done = 0;
    int status = 0;
    while (done < len) {
        uint64_t pos = off + done;
        uint64_t blk = pos / v->block_size;
        uint64_t n = v->block_size - pos % v->block_size;
        if (n > len - done) n = len - done;
        uint32_t e = blk < v->bat_entries ? v->bat[blk] : VHD_BAT_UNUSED;
        int s = e == VHD_BAT_UNUSED ? DISK_STATUS_ZERO : DISK_STATUS_DATA;
        if (status && s != status) break;
        status = s;
        done += n;
    }
    *pnum = done;
    return status;
}

static void vhd_info(struct disk *d, struct disk_info *out)
{
    struct vhd *v = to_vhd(d);
    struct stat st;
    if (fstat(v->fd, &st) == 0) out->disk_size = (uint64_t)st.st_blocks * 512;
    out->subformat = v->type == VHD_FIXED ? "fixed" : "dynamic";
    out->cluster_size = v->type == VHD_DYNAMIC ? v->block_size : 0;
}

static void vhd_close(struct disk *d)
{
    struct vhd *v = to_vhd(d);
    close(v->fd);
    free(v->bat);
    disk_base_free(d);
    free(v);
}

static struct disk *vhd_open(int fd, struct disk_open_args *a, char *err, size_t errlen);

/* The footer's cookie: at the end of every VHD, and also at the start of a
 * dynamic one (its copy of the footer). */
static bool vhd_probe(const uint8_t *head, size_t n, const uint8_t *tail)
{
    return (n >= 8 && memcmp(head, "conectix", 8) == 0) ||
           (tail && memcmp(tail, "conectix", 8) == 0);
}

static const char *const vhd_aliases[] = {"vpc", NULL};

const struct disk_driver vhd_driver = {
    .name = "vhd",
    .aliases = vhd_aliases,
    .qemu_name = "vpc",
    .probe = vhd_probe,
    .open = vhd_open,
    .read = vhd_read,
    .block_status = vhd_block_status,
    .info = vhd_info,
    .close = vhd_close,
};

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        disk_errf(err, errlen, __VA_ARGS__);                                                       \
        goto fail;                                                                                 \
    } while (0)

static uint64_t virtual_size(const uint8_t *f)
{
    uint64_t cur = get_be64(f + 48);
    uint64_t chs = (uint64_t)get_be16(f + 56) * f[58] * f[59] * 512;
    bool max_chs = get_be16(f + 56) == 65535 && f[58] == 16 && f[59] == 255;
    bool by_chs = memcmp(f + 28, "vpc ", 4) == 0 || memcmp(f + 28, "qemu", 4) == 0;
    return by_chs && !max_chs ? chs : cur;
}

static struct disk *vhd_open(int fd, struct disk_open_args *a, char *err, size_t errlen)
{
    const char *p = a->path;
    struct vhd *v = calloc(1, sizeof(*v));
    uint8_t f[512], dh[1024];
    if (!v) {
        close(fd);
        disk_errf(err, errlen, "%s: out of memory", p);
        return NULL;
    }
    v->fd = fd;
    int64_t fsize = disk_file_size(fd);
    if (fsize < 512) FAIL("%s: too small to be a VHD image (no 512-byte footer)", p);
    v->file_size = (uint64_t)fsize;
    /* Dynamic disks start with a copy of the footer; fixed ones only end with it. */
    ssize_t n = io_pread(fd, f, 512, 0);
    if (n != 512 || memcmp(f, "conectix", 8) != 0) {
        n = io_pread(fd, f, 512, v->file_size - 512);
        if (n != 512 || memcmp(f, "conectix", 8) != 0)
            FAIL("%s: not a VHD image (no \"conectix\" footer at the start or the end)", p);
    }
    if (checksum(f, 512, 64) != get_be32(f + 64))
        FAIL("%s: VHD footer checksum mismatch (0x%08x stored, 0x%08x computed): the file is "
             "damaged",
             p, get_be32(f + 64), checksum(f, 512, 64));
    v->type = get_be32(f + 60);
    uint64_t size = virtual_size(f);
    if (size % 512) size = (size + 511) & ~511ull;
    if (v->type == VHD_DIFF)
        FAIL("%s: differencing VHD images (with a parent disk) are not supported; merge it "
             "into its parent first (Hyper-V: Edit Disk > Merge)",
             p);
    if (v->type == VHD_FIXED) {
        if (size > v->file_size - 512)
            FAIL("%s: fixed VHD claims %" PRIu64 " bytes but the file holds only %" PRIu64
                 " (truncated image?)",
                 p, size, v->file_size - 512);
    } else if (v->type == VHD_DYNAMIC) {
        uint64_t dh_off = get_be64(f + 16);
        if (dh_off > v->file_size || v->file_size - dh_off < sizeof(dh))
            FAIL("%s: VHD dynamic disk header at offset 0x%" PRIx64 " lies beyond the end of "
                 "the file (truncated image?)",
                 p, dh_off);
        if (io_pread(fd, dh, sizeof(dh), dh_off) != (ssize_t)sizeof(dh) ||
            memcmp(dh, "cxsparse", 8) != 0)
            FAIL("%s: no VHD dynamic disk header (\"cxsparse\") at offset 0x%" PRIx64
                 " (damaged image)",
                 p, dh_off);
        if (checksum(dh, sizeof(dh), 36) != get_be32(dh + 36))
            FAIL("%s: VHD dynamic disk header checksum mismatch: the file is damaged", p);
        uint64_t bat_off = get_be64(dh + 16);
        v->bat_entries = get_be32(dh + 28);
        v->block_size = get_be32(dh + 32);
        if (v->block_size < 512 || (v->block_size & (v->block_size - 1)) ||
            v->block_size > (256u << 20))
            FAIL("%s: VHD block size %u is invalid (a power of two, usually 2 MiB)", p,
                 v->block_size);
        uint64_t spb = v->block_size / 512;
        v->bitmap_size = (uint32_t)(((spb + 7) / 8 + 511) & ~511ull);
        if ((uint64_t)v->bat_entries * 4 > VHD_MAX_BAT_BYTES)
            FAIL("%s: VHD block allocation table of %u entries is too large (damaged image?)", p,
                 v->bat_entries);
        if ((uint64_t)v->bat_entries * v->block_size < size)
            FAIL("%s: VHD block allocation table (%u blocks of %u bytes) does not cover the "
                 "disk size %" PRIu64 " (damaged image)",
                 p, v->bat_entries, v->block_size, size);
        if (bat_off > v->file_size || v->file_size - bat_off < (uint64_t)v->bat_entries * 4)
            FAIL("%s: VHD block allocation table at offset 0x%" PRIx64 " lies beyond the end "
                 "of the file (truncated image?)",
                 p, bat_off);
        v->bat = malloc((size_t)v->bat_entries * 4 + 4);
        uint8_t *raw = malloc((size_t)v->bat_entries * 4 + 4);
        if (!v->bat || !raw) {
            free(raw);
            FAIL("%s: out of memory", p);
        }
        if (io_pread(fd, raw, (size_t)v->bat_entries * 4, bat_off) != (ssize_t)v->bat_entries * 4) {
            free(raw);
            FAIL("%s: cannot read the VHD block allocation table", p);
        }
        for (uint32_t i = 0; i < v->bat_entries; i++)
            v->bat[i] = get_be32(raw + 4 * i);
        free(raw);
    } else {
        FAIL("%s: unknown VHD disk type %u (damaged image?)", p, v->type);
    }
    if (disk_base_init(&v->d, &vhd_driver, p, size, true) < 0) FAIL("%s: out of memory", p);
    return &v->d;
fail:
    close(v->fd);
    free(v->bat);
    free(v);
    return NULL;
}
