/*
 * diskops.c - image imports, snapshot copies and the default image (see
 * diskops.h). Copies go through src/storage, so every format it reads can
 * be imported; the result is always a sparse qcow2 in the data directory.
 */
#include "cloud/diskops.h"

#include "cloud/catalog.h"
#include "cloud/db.h"
#include "cloud/kumod.h"
#include "cloud/paths.h"
#include "cloud/state.h"
#include "cloud/timefmt.h"
#include "lib/log.h"
#include "storage/disk.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CHUNK (1u << 20)

int diskops_convert(const char *src, const char *src_format, bool no_backing, const char *dst,
                    char *err, size_t errlen)
{
    struct disk_options in_o = {.format = src_format && strcmp(src_format, "auto") ? src_format
                                                                                   : NULL,
                                .readonly = true,
                                .no_backing = no_backing};
    struct disk *in = disk_open(src, &in_o, err, errlen);
    if (!in) return -1;
    uint64_t size = disk_size(in);
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s.tmp", dst);
    struct disk *out = NULL;
    char *buf = malloc(CHUNK);
    int rc = -1;
    if (!buf) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    if (disk_create(tmp, "qcow2", size, NULL, NULL, 0, err, errlen) < 0) goto done;
    struct disk_options out_o = {.format = "qcow2"};
    out = disk_open(tmp, &out_o, err, errlen);
    if (!out) goto done;
    for (uint64_t off = 0; off < size;) {
        uint64_t len = size - off < CHUNK ? size - off : CHUNK, pnum = len;
        int st = disk_block_status(in, off, len, &pnum);
        if (st < 0) {
            disk_last_error(in, err, errlen);
            goto done;
        }
        if (pnum == 0 || pnum > len) pnum = len;
        if (st == DISK_STATUS_DATA) {
            if (disk_read(in, off, buf, (size_t)pnum) < 0) {
                disk_last_error(in, err, errlen);
                goto done;
            }
            bool zero = true;
            for (size_t i = 0; i < pnum && zero; i++)
                zero = buf[i] == 0;
            if (!zero && disk_write(out, off, buf, (size_t)pnum) < 0) {
                disk_last_error(out, err, errlen);
                goto done;
            }
        }
        off += pnum;
    }
    if (disk_flush(out) < 0) {
        disk_last_error(out, err, errlen);
        goto done;
    }
    disk_close(out);
    out = NULL;
    if (rename(tmp, dst) < 0) {
        snprintf(err, errlen, "%.512s: %s", dst, strerror(errno));
        goto done;
    }
    rc = 0;
done:
    if (out) disk_close(out);
    if (rc < 0) unlink(tmp);
    disk_close(in);
    free(buf);
    return rc;
}

/* ---- the import directory ---- */

#ifndef RESOLVE_NO_MAGICLINKS
#define RESOLVE_NO_MAGICLINKS 0x02
#define RESOLVE_NO_SYMLINKS   0x04
#define RESOLVE_BENEATH       0x08
#endif
struct open_how_ {
    uint64_t flags, mode, resolve;
};

/* rel beneath dirfd, no symbolic link anywhere on the way. */
static int open_beneath(int dirfd, const char *rel)
{
    const int flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY;
#ifdef SYS_openat2
    struct open_how_ how = {.flags = (uint64_t)flags,
                            .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
                                       RESOLVE_NO_MAGICLINKS};
    int fd = (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
    if (fd >= 0 || errno != ENOSYS) return fd;
#endif
    /* an older kernel: one component at a time */
    char buf[PATH_MAX];
    snprintf(buf, sizeof(buf), "%s", rel);
    int at = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    char *save = NULL, *c = strtok_r(buf, "/", &save);
    while (at >= 0 && c) {
        char *next = strtok_r(NULL, "/", &save);
        int nfd = -1;
        if (strcmp(c, "..") == 0)
            errno = EXDEV; /* never above the directory */
        else
            nfd = openat(at, c, next ? O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC : flags);
        int e = errno;
        close(at);
        errno = e;
        at = nfd;
        c = next;
    }
    return at;
}

int diskops_import_open(const struct kumod *k, const char *field, const char *path, char *err,
                        size_t errlen)
{
    const char *dir = k->cfg.import_dir;
    size_t dl = strlen(dir);
    if (path[0] != '/' || strncmp(path, dir, dl) != 0 || path[dl] != '/' || !path[dl + 1]) {
        snprintf(err, errlen,
                 "%s: %.512s is outside the import directory %.512s: copy the file there "
                 "(kumod --import-dir chooses it)",
                 field, path, dir);
        return -1;
    }
    int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        snprintf(err, errlen, "%s: the import directory %.512s: %s", field, dir, strerror(errno));
        return -1;
    }
    int fd = open_beneath(dfd, path + dl + 1);
    int e = errno;
    close(dfd);
    if (fd < 0) {
        if (e == ELOOP || e == EXDEV)
            snprintf(err, errlen,
                     "%s: %.512s is, or goes through, a symbolic link or '..': give the file "
                     "itself, inside the import directory",
                     field, path);
        else
            snprintf(err, errlen, "%s: cannot open %.512s: %s", field, path, strerror(e));
        return -1;
    }
    struct stat st;
    uint64_t max = (uint64_t)k->cfg.import_max_gib << 30;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen,
                 "%s: %.512s is not a regular file (a device, FIFO or socket is never imported)",
                 field, path);
        close(fd);
        return -1;
    }
    if ((uint64_t)st.st_size > max) {
        snprintf(err, errlen, "%s: %.512s is %.1f GiB; imports are at most %ld GiB (kumod "
                 "--import-max-gib)", field, path, (double)st.st_size / (1u << 30),
                 k->cfg.import_max_gib);
        close(fd);
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
}

static int copy_file(const char *src, const char *dst, char *err, size_t errlen)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        snprintf(err, errlen, "%.512s: %s", src, strerror(errno));
        return -1;
    }
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s.tmp", dst);
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0) {
        snprintf(err, errlen, "%.512s: %s", tmp, strerror(errno));
        close(in);
        return -1;
    }
    char buf[65536];
    ssize_t n;
    int rc = 0;
    while ((n = read(in, buf, sizeof(buf))) > 0) {
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0) {
                rc = -1;
                break;
            }
            off += w;
        }
        if (rc) break;
    }
    if (n < 0 || rc || fsync(out) < 0) {
        snprintf(err, errlen, "copying %s: %s", src, strerror(errno));
        rc = -1;
    }
    close(in);
    close(out);
    if (rc == 0 && rename(tmp, dst) < 0) {
        snprintf(err, errlen, "%.512s: %s", dst, strerror(errno));
        rc = -1;
    }
    if (rc) unlink(tmp);
    return rc;
}

static uint64_t virtual_size(const char *path)
{
    struct disk_options o = {.readonly = true, .force_share = true};
    char err[256];
    struct disk *d = disk_open(path, &o, err, sizeof(err));
    if (!d) return 0;
    uint64_t s = disk_size(d);
    disk_close(d);
    return s;
}

void diskops_import_image(struct kumod *k, int64_t id)
{
    assert(!kumod_lock_held(k));
    struct db *db = k->db;
    char source[PATH_MAX] = "", fmt[16] = "", kernel[PATH_MAX] = "", initrd[PATH_MAX] = "";
    char state[32] = "";
    kumod_lock(k);
    bool builtin = db_int(db, NULL, 0, "SELECT builtin FROM images WHERE id = ?", "i", id) == 1;
    db_text(db, state, sizeof(state), "SELECT state FROM images WHERE id = ?", "i", id);
    db_text(db, source, sizeof(source), "SELECT source FROM images WHERE id = ?", "i", id);
    db_text(db, fmt, sizeof(fmt), "SELECT src_format FROM images WHERE id = ?", "i", id);
    bool has_kernel =
        db_text(db, kernel, sizeof(kernel), "SELECT src_kernel FROM images WHERE id = ?", "i", id);
    bool has_initrd =
        db_text(db, initrd, sizeof(initrd), "SELECT src_initrd FROM images WHERE id = ?", "i", id);
    kumod_unlock(k);
    if (strcmp(state, PV_CREATING) != 0) return;

    char dir[PATH_MAX], disk[PATH_MAX], kpath[PATH_MAX], ipath[PATH_MAX], err[768] = "";
    path_image_dir(k, dir, id);
    path_image_file(k, disk, id, "disk.qcow2");
    path_image_file(k, kpath, id, "Image");
    path_image_file(k, ipath, id, "initrd");
    /* A tenant's files come from the import directory, opened once there;
     * the default image's (and its kernel, the default for others) are
     * kumod's own. */
    kumod_lock(k);
    char dflt_kernel[PATH_MAX] = "";
    db_text(db, dflt_kernel, sizeof(dflt_kernel),
            "SELECT kernel FROM images WHERE builtin = 1 AND state = 'Succeeded'", "");
    kumod_unlock(k);
    int fds[3] = {-1, -1, -1};
    char *paths[3] = {source, kernel, initrd};
    const char *fields[3] = {"source", "kernel", "initrd"};
    bool want[3] = {true, has_kernel, has_initrd};
    int rc = 0;
    for (int i = 0; i < 3 && rc == 0; i++) {
        if (!want[i] || builtin || (i == 1 && dflt_kernel[0] && !strcmp(kernel, dflt_kernel)))
            continue;
        fds[i] = diskops_import_open(k, fields[i], paths[i], err, sizeof(err));
        if (fds[i] < 0) rc = -1;
        else snprintf(paths[i], PATH_MAX, "/proc/self/fd/%d", fds[i]);
    }
    if (rc == 0) rc = path_mkdirs(dir);
    if (rc < 0 && !err[0]) snprintf(err, sizeof(err), "%.300s: %s", dir, strerror(errno));
    if (rc == 0) {
        /* A tenant's file: it must not make us read other files. */
        struct disk_options o = {
            .format = strcmp(fmt, "auto") ? fmt : NULL, .readonly = true, .no_backing = true};
        struct disk *d = disk_open(source, &o, err, sizeof(err));
        uint64_t max = (uint64_t)k->cfg.import_max_gib << 30;
        if (!d) {
            rc = -1;
        } else if (!builtin && disk_size(d) > max) {
            snprintf(err, sizeof(err),
                     "source: its virtual size is %.1f GiB; images are at most %ld GiB (kumod "
                     "--import-max-gib)",
                     (double)disk_size(d) / (1u << 30), k->cfg.import_max_gib);
            rc = -1;
        }
        if (d) disk_close(d);
    }
    /* A built-in qcow2 (a build cache's entry, never changed in place) is
     * hard-linked when it can be: the Debian image is a GiB and more. */
    bool linked = rc == 0 && builtin && !strcmp(fmt, "qcow2") &&
                  (unlink(disk) == 0 || errno == ENOENT) && link(source, disk) == 0;
    if (rc == 0 && !linked) rc = diskops_convert(source, fmt, true, disk, err, sizeof(err));
    if (rc == 0 && has_kernel) rc = copy_file(kernel, kpath, err, sizeof(err));
    if (rc == 0 && has_initrd) rc = copy_file(initrd, ipath, err, sizeof(err));
    for (int i = 0; i < 3; i++)
        if (fds[i] >= 0) close(fds[i]);
    uint64_t size = rc == 0 ? virtual_size(disk) : 0;

    kumod_lock(k);
    int drc = db_begin(db);
    if (drc == 0 && rc == 0)
        drc = db_exec(db,
                      "UPDATE images SET state = 'Succeeded', error = NULL, path = ?, kernel = ?,"
                      " initrd = ?, size_bytes = ? WHERE id = ?",
                      "tttii", disk, has_kernel ? kpath : NULL, has_initrd ? ipath : NULL,
                      (int64_t)size, id);
    else if (drc == 0)
        drc = db_exec(db, "UPDATE images SET state = 'Failed', error = ? WHERE id = ?", "ti", err,
                      id);
    if (drc == 0) drc = db_commit(db);
    if (drc < 0) db_rollback(db);
    kumod_changed(k);
    kumod_unlock(k);
    if (rc < 0) log_warn("image %" PRId64 ": import failed: %s", id, err);
}

void diskops_take_snapshot(struct kumod *k, int64_t id)
{
    assert(!kumod_lock_held(k));
    struct db *db = k->db;
    char src[PATH_MAX] = "", state[32] = "", dst[PATH_MAX], err[768] = "";
    kumod_lock(k);
    db_text(db, state, sizeof(state), "SELECT state FROM snapshots WHERE id = ?", "i", id);
    db_text(db, src, sizeof(src), "SELECT source_path FROM snapshots WHERE id = ?", "i", id);
    kumod_unlock(k);
    if (strcmp(state, PV_CREATING) != 0) return;
    char dir[PATH_MAX];
    path_mkdirs(path_in_data(k, dir, "snapshots"));
    int rc = diskops_convert(src, "qcow2", false, path_snapshot(k, dst, id), err, sizeof(err));
    kumod_lock(k);
    int drc = db_begin(db);
    if (drc == 0)
        drc =
            rc == 0
                ? db_exec(db, "UPDATE snapshots SET state = 'Succeeded', error = NULL WHERE id = ?",
                          "i", id)
                : db_exec(db, "UPDATE snapshots SET state = 'Failed', error = ? WHERE id = ?", "ti",
                          err, id);
    if (drc == 0) drc = db_commit(db);
    if (drc < 0) db_rollback(db);
    kumod_changed(k);
    kumod_unlock(k);
}

static bool has_file(const char *dir, const char *name)
{
    char p[PATH_MAX + 64];
    snprintf(p, sizeof(p), "%.4000s/%.32s", dir, name);
    return access(p, R_OK) == 0;
}

/* The newest directory of <cache>/SUB (<cache>: guest/lib.sh's, from
 * KUMO_CACHE, XDG_CACHE_HOME or HOME) holding file1 (and file2 when
 * given); with dashed, only names with a '-' (guest/build.sh's <K>-<U>
 * entries, not its kernel/ and userland/ stages). */
static bool find_cache_entry(const char *sub, bool dashed, const char *file1, const char *file2,
                             char *out, size_t len)
{
    char root[PATH_MAX];
    const char *c = getenv("KUMO_CACHE"), *x = getenv("XDG_CACHE_HOME"), *h = getenv("HOME");
    if (c && *c)
        snprintf(root, sizeof(root), "%.3000s/guest%s%s", c, *sub ? "/" : "", sub);
    else if (x && *x)
        snprintf(root, sizeof(root), "%.3000s/kumo/guest%s%s", x, *sub ? "/" : "", sub);
    else if (h && *h)
        snprintf(root, sizeof(root), "%.3000s/.cache/kumo/guest%s%s", h, *sub ? "/" : "", sub);
    else
        return false;
    DIR *d = opendir(root);
    if (!d) return false;
    struct dirent *e;
    time_t best = 0;
    bool found = false;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || (dashed && !strchr(e->d_name, '-'))) continue;
        char p[PATH_MAX + 260];
        snprintf(p, sizeof(p), "%s/%s", root, e->d_name);
        struct stat sb;
        if (stat(p, &sb) < 0 || !S_ISDIR(sb.st_mode)) continue;
        if (!has_file(p, file1) || (file2 && !has_file(p, file2))) continue;
        if (!found || sb.st_mtime > best) {
            best = sb.st_mtime;
            snprintf(out, len, "%.*s", (int)(len ? len - 1 : 0), p);
            found = true;
        }
    }
    closedir(d);
    return found;
}

/* Insert built-in image ci (lock not held): state Creating from source,
 * or, without a source, Unavailable saying how to build it. Its id, -1. */
static int64_t insert_builtin(struct kumod *k, const struct catalog_image *ci, const char *source,
                              const char *format, const char *kernel, const char *kernel_args)
{
    struct db *db = k->db;
    char why[256] = "";
    if (!source)
        snprintf(why, sizeof(why),
                 "not built on this host: run %s (cached after the first build), then restart "
                 "kumod",
                 ci->build);
    int64_t id = -1;
    bool taken = false; /* cluster mode: another host registered it meanwhile */
    kumod_lock(k);
    if (db_begin(db) == 0 &&
        !(taken = db_int(db, NULL, -1, "SELECT id FROM images WHERE name = ?", "t", ci->name) >=
                  0) &&
        db_exec(db,
                "INSERT INTO images (name, boot_mode, kernel_args, src_format, path, source,"
                " src_kernel, builtin, state, error, created_ms, urn, alias, os, provisioning)"
                " VALUES (?, ?, ?, ?, '', ?, ?, 1, ?, nullif(?, ''), ?, ?, ?, ?, ?)",
                "ttttttttitttt", ci->name, ci->boot_mode, kernel_args, format, source ? source : "",
                kernel, source ? "Creating" : "Unavailable", why, time_now_ms(), ci->urn, ci->alias,
                ci->os, ci->provisioning) == 0 &&
        db_commit(db) == 0)
        id = db_last_id(db);
    else
        db_rollback(db);
    kumod_unlock(k);
    if (id < 0 && !taken) log_error("registering the image '%s': %s", ci->name, db_errmsg(db));
    return id;
}

static void register_default(struct kumod *k)
{
    struct db *db = k->db;
    const struct catalog_image *ci = catalog_image("default");
    kumod_lock(k);
    int64_t id = db_int(db, NULL, -1, "SELECT id FROM images WHERE name = 'default'", "");
    kumod_unlock(k);
    if (id < 0) {
        char dir[PATH_MAX];
        if (k->cfg.guest_dir[0]) {
            snprintf(dir, sizeof(dir), "%s", k->cfg.guest_dir);
        } else if (!find_cache_entry("", true, "Image", "rootfs.ext4", dir, sizeof(dir))) {
            log_warn("no default guest found (run guest/build.sh, or give --guest-dir): the image "
                     "'default' is not registered yet");
            return;
        }
        if (!has_file(dir, "Image") || !has_file(dir, "rootfs.ext4")) {
            log_warn("%s has no Image and rootfs.ext4: the image 'default' is not registered", dir);
            return;
        }
        char src[PATH_MAX + 16], kernel[PATH_MAX + 16];
        snprintf(src, sizeof(src), "%s/rootfs.ext4", dir);
        snprintf(kernel, sizeof(kernel), "%s/Image", dir);
        id = insert_builtin(k, ci, src, "raw", kernel, "console=ttyS0 root=/dev/vda rw");
        if (id < 0) return;
        log_info("registering the default image from %s", dir);
    }
    diskops_import_image(k, id); /* no-op unless it is still Creating */
}

#define DEBIAN_FILE "debian-13.qcow2"

static void register_debian(struct kumod *k)
{
    struct db *db = k->db;
    const struct catalog_image *ci = catalog_image("debian-13");
    const char *want = k->cfg.debian_image;
    if (!strcmp(want, "none")) return;
    char state[32] = "";
    kumod_lock(k);
    int64_t id = db_int(db, NULL, -1, "SELECT id FROM images WHERE name = ?", "t", ci->name);
    if (id >= 0)
        db_text(db, state, sizeof(state), "SELECT state FROM images WHERE id = ?", "i", id);
    kumod_unlock(k);
    /* (an import, new or interrupted, is a job vmops_recover submits: a
     * copy would delay kumod's start) */
    if (id >= 0 && strcmp(state, "Unavailable") != 0) return;
    char src[PATH_MAX + 32] = "", dir[PATH_MAX];
    if (want[0])
        snprintf(src, sizeof(src), "%s", want);
    else if (find_cache_entry("debian", false, DEBIAN_FILE, NULL, dir, sizeof(dir)))
        snprintf(src, sizeof(src), "%s/%s", dir, DEBIAN_FILE);
    if (src[0] && access(src, R_OK) != 0) {
        log_warn("--debian-image %s: %s: the image '%s' is not registered", src, strerror(errno),
                 ci->name);
        return;
    }
    if (id < 0) {
        id = insert_builtin(k, ci, src[0] ? src : NULL, "qcow2", NULL, "");
        if (id < 0 || !src[0]) return;
    } else {
        if (!src[0]) return; /* still not built */
        kumod_lock(k);
        if (db_exec(db,
                    "UPDATE images SET state = 'Creating', error = NULL, source = ? WHERE id = ?",
                    "ti", src, id) < 0)
            log_error("registering the image '%s': %s", ci->name, db_errmsg(db));
        kumod_unlock(k);
    }
    log_info("registering the image '%s' (%s) from %s", ci->name, ci->urn, src);
}

void diskops_register_builtin(struct kumod *k)
{
    assert(!kumod_lock_held(k));
    register_default(k);
    register_debian(k);
}
