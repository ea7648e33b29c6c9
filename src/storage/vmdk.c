/*
 * vmdk.c - reading VMware VMDK images, for import. A VMDK disk is a list of
 * extents, described by a text descriptor:
 *   - monolithicSparse / streamOptimized: one file starting with a hosted
 *     sparse extent header ("KDMV"), the descriptor embedded in it;
 *   - monolithicFlat, twoGbMaxExtentFlat/Sparse, vmfs: a descriptor file
 *     naming FLAT (raw), SPARSE (hosted sparse) and ZERO extents.
 * A sparse extent maps grains (usually 64 KiB) through a grain directory of
 * grain tables; entries are sector numbers (little-endian), 0 = not
 * allocated, 1 = zeroed grain. streamOptimized grains are deflate-compressed
 * behind a 12-byte marker, and the grain directory may sit in a footer at the
 * end of the file. Disks with a parent (snapshot deltas) are refused.
 */
#include "storage/driver.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define VMDK_MAGIC             0x564d444bu /* "KDMV" little-endian */
#define VMDK_GD_AT_END         0xffffffffffffffffull
#define VMDK_FLAG_ZEROED_GTE   (1u << 2)
#define VMDK_FLAG_COMPRESSED   (1u << 16)
#define VMDK_FLAG_MARKERS      (1u << 17)
#define VMDK_MAX_DESCRIPTOR    (1u << 20)
#define VMDK_MAX_EXTENTS       4096
#define VMDK_MAX_GD_BYTES      (64u << 20)
#define VMDK_MAX_GRAIN_SECTORS 2048

enum { EXT_FLAT, EXT_SPARSE, EXT_ZERO };

struct extent {
    int type;
    uint64_t start, len; /* virtual bytes */
    int fd;              /* -1: none (zero); may be the descriptor file itself */
    bool own_fd;
    uint64_t flat_off; /* FLAT: byte offset in its file */
    uint64_t file_size;
    /* SPARSE */
    uint64_t grain; /* bytes */
    uint32_t gtes;  /* entries per grain table */
    uint32_t gd_entries;
    uint32_t *gd;
    uint32_t flags;
    uint32_t *gt;         /* the last grain table read */
    uint32_t gt_index;    /* which (UINT32_MAX = none) */
    uint8_t *zin, *gout;  /* compressed grain, decompressed grain */
    uint64_t gout_sector; /* grain held in gout (0 = none) */
};

struct vmdk {
    struct disk d;
    int fd;
    int n;
    struct extent *e;
    char create_type[64];
    uint64_t grain; /* of the first sparse extent, for info */
};

static struct vmdk *to_vmdk(struct disk *d)
{
    return (struct vmdk *)d;
}

/* ---- reading ---- */

static int load_gt(struct disk *d, struct extent *x, uint32_t gdi)
{
    if (x->gt_index == gdi) return 0;
    uint64_t off = (uint64_t)x->gd[gdi] * 512, len = (uint64_t)x->gtes * 4;
    if (off > x->file_size || x->file_size - off < len) {
        disk_set_error(d,
                       "%s: VMDK grain table at offset 0x%" PRIx64
                       " lies beyond the end of the file (truncated image?)",
                       d->path, off);
        return -EIO;
    }
    uint8_t *raw = malloc(len);
    if (!raw) return -ENOMEM;
    ssize_t n = io_pread(x->fd, raw, len, off);
    if (n != (ssize_t)len) {
        free(raw);
        disk_set_error(d, "%s: cannot read the VMDK grain table at offset 0x%" PRIx64, d->path,
                       off);
        return n < 0 ? (int)n : -EIO;
    }
    for (uint32_t i = 0; i < x->gtes; i++)
        x->gt[i] = get_le32(raw + 4 * i);
    free(raw);
    x->gt_index = gdi;
    return 0;
}

static int read_compressed_grain(struct disk *d, struct extent *x, uint64_t sector, uint64_t want)
{
    if (x->gout_sector == sector) return 0;
    uint64_t off = sector * 512;
    uint64_t max_in = 2 * x->grain + 512;
    if (off >= x->file_size) {
        disk_set_error(d,
                       "%s: VMDK grain at offset 0x%" PRIx64 " lies beyond the end of the "
                       "file (truncated image?)",
                       d->path, off);
        return -EIO;
    }
    ssize_t n = io_pread(x->fd, x->zin, max_in, off);
    if (n < 0) return (int)n;
    const uint8_t *data = x->zin;
    uint64_t dlen = (uint64_t)n;
    if (x->flags & VMDK_FLAG_MARKERS) {
        if (n < 12) {
            disk_set_error(d, "%s: truncated VMDK grain marker at offset 0x%" PRIx64, d->path, off);
            return -EIO;
        }
        uint32_t size = get_le32(x->zin + 8);
        if (size == 0 || size > dlen - 12) {
            disk_set_error(d,
                           "%s: VMDK grain marker at offset 0x%" PRIx64 " has a bad size "
                           "(%u; damaged or truncated image)",
                           d->path, off, size);
            return -EIO;
        }
        data += 12;
        dlen = size;
    }
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (inflateInit(&z) != Z_OK) return -ENOMEM;
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)dlen;
    z.next_out = x->gout;
    z.avail_out = (uInt)x->grain;
    int zr = inflate(&z, Z_FINISH);
    uint64_t got = x->grain - z.avail_out;
    inflateEnd(&z);
    if ((zr != Z_STREAM_END && zr != Z_BUF_ERROR && zr != Z_OK) || got < want) {
        disk_set_error(d,
                       "%s: VMDK compressed grain at offset 0x%" PRIx64 " does not "
                       "decompress (damaged image)",
                       d->path, off);
        return -EIO;
    }
    memset(x->gout + got, 0, x->grain - got);
    x->gout_sector = sector;
    return 0;
}

/* Read n bytes at extent-relative offset off, not crossing a grain. */
static int read_sparse(struct disk *d, struct extent *x, uint64_t off, uint8_t *buf, size_t n)
{
    uint64_t grain = off / x->grain, in = off % x->grain;
    uint64_t gdi = grain / x->gtes;
    if (gdi >= x->gd_entries || x->gd[gdi] == 0) {
        memset(buf, 0, n);
        return 0;
    }
    int r = load_gt(d, x, (uint32_t)gdi);
    if (r < 0) return r;
    uint32_t ge = x->gt[grain % x->gtes];
    if (ge == 0 || ge == 1) { /* unallocated, or a zeroed grain */
        memset(buf, 0, n);
        return 0;
    }
    if (x->flags & VMDK_FLAG_COMPRESSED) {
        uint64_t want = x->len - grain * x->grain;
        if (want > x->grain) want = x->grain;
        r = read_compressed_grain(d, x, ge, want);
        if (r < 0) return r;
        memcpy(buf, x->gout + in, n);
        return 0;
    }
    uint64_t src = (uint64_t)ge * 512 + in;
    ssize_t got = io_pread(x->fd, buf, n, src);
    if (got < 0) return (int)got;
    if ((size_t)got < n) {
        disk_set_error(d,
                       "%s: VMDK grain at offset 0x%" PRIx64 " lies beyond the end of the "
                       "file (truncated image?)",
                       d->path, (uint64_t)ge * 512);
        return -EIO;
    }
    return 0;
}

static struct extent *find_extent(struct vmdk *v, uint64_t off)
{
    int lo = 0, hi = v->n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        struct extent *x = &v->e[mid];
        if (off < x->start)
            hi = mid - 1;
        else if (off >= x->start + x->len)
            lo = mid + 1;
        else
            return x;
    }
    return NULL;
}

static int vmdk_read(struct disk *d, uint64_t off, void *buf, size_t len)
{
    struct vmdk *v = to_vmdk(d);
    uint8_t *out = buf;
    while (len) {
        struct extent *x = find_extent(v, off);
        if (!x) { /* cannot happen: extents cover the disk */
            memset(out, 0, len);
            return 0;
        }
        uint64_t rel = off - x->start;
        size_t n = x->len - rel < len ? (size_t)(x->len - rel) : len;
        int r = 0;
        if (x->type == EXT_ZERO) {
            memset(out, 0, n);
        } else if (x->type == EXT_FLAT) {
            r = io_pread_zero(x->fd, out, n, x->flat_off + rel);
        } else {
            uint64_t in = rel % x->grain;
            if (x->grain - in < n) n = (size_t)(x->grain - in);
            r = read_sparse(d, x, rel, out, n);
        }
        if (r < 0) {
            if (r != -EIO) disk_set_error(d, "%s: read failed: %s", d->path, strerror(-r));
            return r;
        }
        off += n;
        out += n;
        len -= n;
    }
    return 0;
}

static int vmdk_block_status(struct disk *d, uint64_t off, uint64_t len, uint64_t *pnum)
{
    struct vmdk *v = to_vmdk(d);
    struct extent *x = find_extent(v, off);
    *pnum = len;
    if (!x) return DISK_STATUS_DATA;
    uint64_t rel = off - x->start;
    uint64_t n = x->len - rel < len ? x->len - rel : len;
    if (x->type == EXT_ZERO) {
        *pnum = n;
        return DISK_STATUS_ZERO;
    }
    if (x->type == EXT_FLAT) {
        *pnum = n;
        return DISK_STATUS_DATA;
    }
    uint64_t in = rel % x->grain;
    if (x->grain - in < n) n = x->grain - in;
    *pnum = n;
    uint64_t grain = rel / x->grain, gdi = grain / x->gtes;
    if (gdi >= x->gd_entries || x->gd[gdi] == 0) return DISK_STATUS_ZERO;
    int r = load_gt(d, x, (uint32_t)gdi);
    if (r < 0) return r;
    uint32_t ge = x->gt[grain % x->gtes];
    return ge <= 1 ? DISK_STATUS_ZERO : DISK_STATUS_DATA;
}

static void vmdk_info(struct disk *d, struct disk_info *out)
{
    struct vmdk *v = to_vmdk(d);
    struct stat st;
    if (fstat(v->fd, &st) == 0) out->disk_size = (uint64_t)st.st_blocks * 512;
    out->subformat = v->create_type[0] ? v->create_type : NULL;
    out->cluster_size = (uint32_t)v->grain;
}

static void free_extents(struct vmdk *v)
{
    for (int i = 0; i < v->n; i++) {
        struct extent *x = &v->e[i];
        if (x->own_fd && x->fd >= 0) close(x->fd);
        free(x->gd);
        free(x->gt);
        free(x->zin);
        free(x->gout);
    }
    free(v->e);
    v->e = NULL;
    v->n = 0;
}

static void vmdk_close(struct disk *d)
{
    struct vmdk *v = to_vmdk(d);
    free_extents(v);
    close(v->fd);
    disk_base_free(d);
    free(v);
}

static struct disk *vmdk_open(int fd, struct disk_open_args *a, char *err, size_t errlen);

/* A hosted sparse extent ("KDMV") or a text descriptor. */
static bool vmdk_probe(const uint8_t *head, size_t n, const uint8_t *tail)
{
    (void)tail;
    return (n >= 4 && memcmp(head, "KDMV", 4) == 0) ||
           (n >= 21 && memcmp(head, "# Disk DescriptorFile", 21) == 0);
}

const struct disk_driver vmdk_driver = {
    .name = "vmdk",
    .probe = vmdk_probe,
    .open = vmdk_open,
    .read = vmdk_read,
    .block_status = vmdk_block_status,
    .info = vmdk_info,
    .close = vmdk_close,
};

/* ---- opening ---- */

/* Parse a hosted sparse extent header (at offset 0 of fd) into x. */
static int parse_sparse(struct extent *x, const char *path, char *err, size_t errlen,
                        uint64_t *capacity, uint64_t *desc_off, uint64_t *desc_size)
{
    uint8_t h[512];
    if (x->file_size < 512 || io_pread(x->fd, h, 512, 0) != 512 || get_le32(h) != VMDK_MAGIC) {
        disk_errf(err, errlen, "%s: not a VMDK sparse extent (no KDMV header)", path);
        return -1;
    }
    uint32_t version = get_le32(h + 4);
    x->flags = get_le32(h + 8);
    uint64_t gd_off = get_le64(h + 56);
    if (version < 1 || version > 3) {
        disk_errf(err, errlen, "%s: VMDK sparse extent version %u is not supported", path, version);
        return -1;
    }
    if (gd_off == VMDK_GD_AT_END) {
        /* streamOptimized: the real header is a footer 1024 bytes before the end. */
        if (x->file_size < 1536 || io_pread(x->fd, h, 512, x->file_size - 1024) != 512 ||
            get_le32(h) != VMDK_MAGIC) {
            disk_errf(err, errlen,
                      "%s: VMDK footer (grain directory at the end) is missing "
                      "(truncated image?)",
                      path);
            return -1;
        }
        x->flags = get_le32(h + 8);
        gd_off = get_le64(h + 56);
    }
    *capacity = get_le64(h + 12);
    uint64_t gsec = get_le64(h + 20);
    *desc_off = get_le64(h + 28);
    *desc_size = get_le64(h + 36);
    x->gtes = get_le32(h + 44);
    if (gd_off == 0) gd_off = get_le64(h + 48); /* the redundant directory */
    if (gsec < 1 || gsec > VMDK_MAX_GRAIN_SECTORS || (gsec & (gsec - 1))) {
        disk_errf(err, errlen, "%s: VMDK grain size of %" PRIu64 " sectors is not supported", path,
                  gsec);
        return -1;
    }
    if (x->gtes < 1 || x->gtes > 65536) {
        disk_errf(err, errlen, "%s: VMDK grain table size %u is invalid (damaged image)", path,
                  x->gtes);
        return -1;
    }
    if (*capacity > (1ull << 42)) {
        disk_errf(err, errlen,
                  "%s: VMDK capacity of %" PRIu64 " sectors is implausible "
                  "(damaged image)",
                  path, *capacity);
        return -1;
    }
    if ((x->flags & VMDK_FLAG_COMPRESSED) && get_le16(h + 77) != 1) {
        disk_errf(err, errlen,
                  "%s: VMDK compression algorithm %u is not supported (deflate "
                  "is)",
                  path, get_le16(h + 77));
        return -1;
    }
    x->grain = gsec * 512;
    uint64_t per_gt = gsec * x->gtes;
    uint64_t entries = *capacity / per_gt + (*capacity % per_gt != 0);
    if (entries * 4 > VMDK_MAX_GD_BYTES) {
        disk_errf(err, errlen, "%s: VMDK grain directory is too large (damaged image?)", path);
        return -1;
    }
    x->gd_entries = (uint32_t)entries;
    uint64_t off = gd_off * 512;
    if (entries && (gd_off > x->file_size / 512 || x->file_size - off < entries * 4)) {
        disk_errf(err, errlen,
                  "%s: VMDK grain directory at offset 0x%" PRIx64 " lies beyond "
                  "the end of the file (truncated image?)",
                  path, off);
        return -1;
    }
    x->gd = malloc(entries * 4 + 4);
    x->gt = malloc((size_t)x->gtes * 4);
    x->gout = malloc(x->grain);
    x->zin = (x->flags & VMDK_FLAG_COMPRESSED) ? malloc(2 * x->grain + 512) : NULL;
    uint8_t *raw = malloc(entries * 4 + 4);
    if (!x->gd || !x->gt || !x->gout || !raw || ((x->flags & VMDK_FLAG_COMPRESSED) && !x->zin)) {
        free(raw);
        disk_errf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    if (entries && io_pread(x->fd, raw, entries * 4, off) != (ssize_t)(entries * 4)) {
        free(raw);
        disk_errf(err, errlen, "%s: cannot read the VMDK grain directory", path);
        return -1;
    }
    for (uint64_t i = 0; i < entries; i++)
        x->gd[i] = get_le32(raw + 4 * i);
    free(raw);
    x->gt_index = UINT32_MAX;
    x->gout_sector = 0;
    x->type = EXT_SPARSE;
    return 0;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t l = strlen(s);
    while (l && (s[l - 1] == ' ' || s[l - 1] == '\t' || s[l - 1] == '\r'))
        s[--l] = 0;
    return s;
}

static int add_extent(struct vmdk *v, char *err, size_t errlen, const char *path)
{
    if (v->n >= VMDK_MAX_EXTENTS) {
        disk_errf(err, errlen, "%s: VMDK descriptor lists more than %d extents", path,
                  VMDK_MAX_EXTENTS);
        return -1;
    }
    struct extent *e = realloc(v->e, (size_t)(v->n + 1) * sizeof(*e));
    if (!e) {
        disk_errf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    v->e = e;
    memset(&v->e[v->n], 0, sizeof(*e));
    v->e[v->n].fd = -1;
    v->n++;
    return 0;
}

/* One extent line: ACCESS SECTORS TYPE ["FILE" [OFFSET]]. */
static int parse_extent_line(struct vmdk *v, char *line, struct disk_open_args *a, bool embedded,
                             uint64_t *pos, char *err, size_t errlen)
{
    const char *p = a->path;
    char *save, *access = strtok_r(line, " \t", &save);
    char *secs = strtok_r(NULL, " \t", &save);
    char *type = strtok_r(NULL, " \t", &save);
    char *rest = save ? trim(save) : NULL;
    char *end;
    if (!access || !secs || !type) {
        disk_errf(err, errlen, "%s: malformed VMDK extent line", p);
        return -1;
    }
    uint64_t sectors = strtoull(secs, &end, 10);
    if (*end || sectors == 0 || sectors > (1ull << 42) || *pos + sectors * 512 < *pos) {
        disk_errf(err, errlen, "%s: VMDK extent size '%s' is invalid", p, secs);
        return -1;
    }
    if (embedded) { /* the extent is this very file: already set up */
        return 0;
    }
    char *fname = NULL;
    uint64_t offset = 0;
    if (rest && *rest == '"') {
        fname = rest + 1;
        char *q = strchr(fname, '"');
        if (!q) {
            disk_errf(err, errlen, "%s: unterminated file name in a VMDK extent line", p);
            return -1;
        }
        *q = 0;
        char *o = trim(q + 1);
        if (*o) {
            offset = strtoull(o, &end, 10);
            if (*trim(end) || offset > (1ull << 42)) {
                disk_errf(err, errlen, "%s: VMDK extent offset '%s' is invalid", p, o);
                return -1;
            }
        }
    }
    if (add_extent(v, err, errlen, p) < 0) return -1;
    struct extent *x = &v->e[v->n - 1];
    x->start = *pos;
    x->len = sectors * 512;
    *pos += x->len;
    if (strcmp(type, "ZERO") == 0) {
        x->type = EXT_ZERO;
        return 0;
    }
    bool flat = strcmp(type, "FLAT") == 0 || strcmp(type, "VMFS") == 0;
    bool sparse = strcmp(type, "SPARSE") == 0;
    if (!flat && !sparse) {
        disk_errf(err, errlen,
                  "%s: VMDK extent type %s is not supported (FLAT, SPARSE, VMFS and "
                  "ZERO are)",
                  p, type);
        return -1;
    }
    if (!fname || !*fname) {
        disk_errf(err, errlen, "%s: VMDK %s extent without a file name", p, type);
        return -1;
    }
    if (a->no_backing) {
        disk_errf(err, errlen,
                  "%s: the VMDK descriptor names other files (%s), which is not "
                  "allowed here",
                  p, fname);
        return -1;
    }
    char *full = disk_resolve_relative(p, fname);
    if (!full) {
        disk_errf(err, errlen, "%s: out of memory", p);
        return -1;
    }
    char sub[300];
    x->fd = disk_open_file(full, true, sub, sizeof(sub));
    if (x->fd < 0) {
        disk_errf(err, errlen, "%s: cannot open VMDK extent: %s", p, sub);
        free(full);
        return -1;
    }
    x->own_fd = true;
    int64_t fs = disk_file_size(x->fd);
    x->file_size = fs > 0 ? (uint64_t)fs : 0;
    int r = 0;
    if (flat) {
        x->type = EXT_FLAT;
        x->flat_off = offset * 512;
        if (x->flat_off > x->file_size || x->file_size - x->flat_off < x->len) {
            disk_errf(err, errlen,
                      "%s: VMDK flat extent %s holds %" PRIu64 " bytes, fewer than "
                      "the %" PRIu64 " its descriptor claims (truncated file?)",
                      p, full, x->file_size > x->flat_off ? x->file_size - x->flat_off : 0, x->len);
            r = -1;
        }
    } else {
        uint64_t cap, doff, dsize;
        r = parse_sparse(x, full, err, errlen, &cap, &doff, &dsize);
    }
    free(full);
    return r;
}

/* Walk a descriptor; with `embedded` (inside a sparse file) only the header
 * keys matter. */
static int parse_descriptor(struct vmdk *v, char *text, struct disk_open_args *a, bool embedded,
                            char *err, size_t errlen)
{
    uint64_t pos = 0;
    char *save;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        line = trim(line);
        if (!*line || *line == '#') continue;
        if (strncmp(line, "createType", 10) == 0) {
            char *q = strchr(line, '"');
            if (q) {
                char *e = strchr(q + 1, '"');
                if (e) *e = 0;
                snprintf(v->create_type, sizeof(v->create_type), "%s", q + 1);
            }
        } else if (strncmp(line, "parentCID", 9) == 0) {
            char *eq = strchr(line, '=');
            if (eq && strcasecmp(trim(eq + 1), "ffffffff") != 0) {
                disk_errf(err, errlen,
                          "%s: this VMDK is a delta of a parent disk (a snapshot); "
                          "consolidate the snapshots in VMware first",
                          a->path);
                return -1;
            }
        } else if (strncmp(line, "RW ", 3) == 0 || strncmp(line, "RDONLY ", 7) == 0 ||
                   strncmp(line, "NOACCESS ", 9) == 0) {
            if (parse_extent_line(v, line, a, embedded, &pos, err, errlen) < 0) return -1;
        }
    }
    if (!embedded && v->n == 0) {
        disk_errf(err, errlen, "%s: the VMDK descriptor lists no extents (damaged file?)", a->path);
        return -1;
    }
    return 0;
}

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        disk_errf(err, errlen, __VA_ARGS__);                                                       \
        goto fail;                                                                                 \
    } while (0)

static struct disk *vmdk_open(int fd, struct disk_open_args *a, char *err, size_t errlen)
{
    const char *p = a->path;
    struct vmdk *v = calloc(1, sizeof(*v));
    char *text = NULL;
    if (!v) {
        close(fd);
        disk_errf(err, errlen, "%s: out of memory", p);
        return NULL;
    }
    v->fd = fd;
    int64_t fsize = disk_file_size(fd);
    uint8_t magic[4] = {0};
    if (fsize < 0) FAIL("%s: cannot get the file size", p);
    io_pread(fd, magic, 4, 0);
    uint64_t size = 0;
    if (get_le32(magic) == VMDK_MAGIC) {
        if (add_extent(v, err, errlen, p) < 0) goto fail;
        struct extent *x = &v->e[0];
        x->fd = fd;
        x->file_size = (uint64_t)fsize;
        uint64_t cap, doff, dsize;
        if (parse_sparse(x, p, err, errlen, &cap, &doff, &dsize) < 0) goto fail;
        x->len = cap * 512;
        size = x->len;
        v->grain = x->grain;
        snprintf(v->create_type, sizeof(v->create_type), "%s",
                 (x->flags & VMDK_FLAG_COMPRESSED) ? "streamOptimized" : "monolithicSparse");
        if (doff && dsize) {
            if (dsize > VMDK_MAX_DESCRIPTOR / 512 || doff > (uint64_t)fsize / 512 ||
                (uint64_t)fsize - doff * 512 < dsize * 512)
                FAIL("%s: embedded VMDK descriptor lies beyond the end of the file (truncated "
                     "image?)",
                     p);
            text = calloc(1, dsize * 512 + 1);
            if (!text) FAIL("%s: out of memory", p);
            if (io_pread(fd, text, dsize * 512, doff * 512) != (ssize_t)(dsize * 512))
                FAIL("%s: cannot read the embedded VMDK descriptor", p);
            if (parse_descriptor(v, text, a, true, err, errlen) < 0) goto fail;
        }
    } else if (memcmp(magic, "COWD", 4) == 0) {
        FAIL("%s: ESX sparse (COWD) VMDK extents are not supported", p);
    } else {
        if (fsize > VMDK_MAX_DESCRIPTOR)
            FAIL("%s: not a VMDK image (no KDMV header, and too large for a descriptor file)", p);
        text = calloc(1, (size_t)fsize + 1);
        if (!text) FAIL("%s: out of memory", p);
        if (io_pread(fd, text, (size_t)fsize, 0) != fsize)
            FAIL("%s: cannot read the VMDK descriptor", p);
        /* The descriptor is the text before the first NUL, as QEMU reads it:
         * QEMU pads its descriptor files to a sector, and rewriting the CID
         * with fewer hex digits leaves the old text's last bytes after the
         * new NUL. The text itself must be text. */
        size_t tl = strlen(text);
        for (size_t i = 0; i < tl; i++) {
            unsigned char c = (unsigned char)text[i];
            if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
                FAIL("%s: not a VMDK image (binary data in a text descriptor)", p);
        }
        if (!strstr(text, "createType"))
            FAIL("%s: not a VMDK image (neither a KDMV sparse header nor a text descriptor)", p);
        if (parse_descriptor(v, text, a, false, err, errlen) < 0) goto fail;
        for (int i = 0; i < v->n; i++) {
            size += v->e[i].len;
            if (v->e[i].type == EXT_SPARSE && !v->grain) v->grain = v->e[i].grain;
        }
    }
    free(text);
    text = NULL;
    if (disk_base_init(&v->d, &vmdk_driver, p, size, true) < 0) FAIL("%s: out of memory", p);
    return &v->d;
fail:
    free(text);
    free_extents(v);
    close(v->fd);
    free(v);
    return NULL;
}
