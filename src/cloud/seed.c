/*
 * seed.c - see seed.h. libisofs builds the image in memory streams (one per
 * file, each a private copy) and hands it out 2 KiB block by block through
 * a burn_source, which is written to a temporary file and renamed.
 */
#include "cloud/seed.h"

/* libisofs.h needs these first; and its copy of struct burn_source (this
 * file reads the image through it without libburn) */
#define LIBISOFS_WITHOUT_LIBBURN 1
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <libisofs/libisofs.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_rc;

static void init_lib(void)
{
    init_rc = iso_init();
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static int check_name(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 32) return -1;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return -1;
    }
    return 0;
}

/* The image of files (an IsoImage with them in its root). NULL with err. */
static IsoImage *build_image(const struct seed_file *files, size_t n, char *err, size_t errlen)
{
    IsoImage *image = NULL;
    int rc = iso_image_new(SEED_LABEL, &image);
    if (rc < 0) {
        fail(err, errlen, "libisofs: cannot make an image (error %d)", rc);
        return NULL;
    }
    iso_image_set_volume_id(image, SEED_LABEL);
    IsoDir *root = iso_image_get_root(image);
    for (size_t i = 0; i < n; i++) {
        unsigned char *copy = malloc(files[i].len ? files[i].len : 1);
        if (!copy) {
            fail(err, errlen, "out of memory");
            goto bad;
        }
        memcpy(copy, files[i].data, files[i].len);
        IsoStream *stream = NULL;
        rc = iso_memory_stream_new(copy, files[i].len, &stream); /* takes copy */
        if (rc < 0) {
            free(copy);
            fail(err, errlen, "libisofs: cannot make a stream for %s (error %d)", files[i].name,
                 rc);
            goto bad;
        }
        IsoFile *file = NULL;
        rc = iso_image_add_new_file(image, root, files[i].name, stream, &file); /* takes stream */
        if (rc < 0) {
            iso_stream_unref(stream);
            fail(err, errlen, "libisofs: cannot add %s (error %d)", files[i].name, rc);
            goto bad;
        }
        iso_node_set_permissions((IsoNode *)file, 0444);
    }
    return image;
bad:
    iso_image_unref(image);
    return NULL;
}

int seed_write(const char *path, const struct seed_file *files, size_t n, char *err, size_t errlen)
{
    if (n > SEED_MAX_FILES) return fail(err, errlen, "%zu files; at most %d", n, SEED_MAX_FILES);
    for (size_t i = 0; i < n; i++) {
        if (check_name(files[i].name) < 0)
            return fail(err, errlen, "'%.40s' is not a seed file name", files[i].name);
        if (files[i].len > SEED_FILE_MAX)
            return fail(err, errlen, "%s: %zu bytes; at most %u", files[i].name, files[i].len,
                        SEED_FILE_MAX);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(files[i].name, files[j].name))
                return fail(err, errlen, "%s is given twice", files[i].name);
    }
    pthread_once(&init_once, init_lib);
    if (init_rc < 0) return fail(err, errlen, "libisofs does not start (error %d)", init_rc);

    IsoImage *image = build_image(files, n, err, errlen);
    if (!image) return -1;
    IsoWriteOpts *opts = NULL;
    struct burn_source *src = NULL;
    int rc = iso_write_opts_new(&opts, 2); /* profile 2: distribution (fixed owner, mode) */
    if (rc < 0) {
        iso_image_unref(image);
        return fail(err, errlen, "libisofs: no write options (error %d)", rc);
    }
    iso_write_opts_set_rockridge(opts, 1); /* Linux reads the names from here */
    iso_write_opts_set_joliet(opts, 1);
    rc = iso_image_create_burn_source(image, opts, &src);
    iso_write_opts_free(opts);
    iso_image_unref(image); /* the burn source keeps what it needs */
    if (rc < 0) return fail(err, errlen, "libisofs: cannot write the image (error %d)", rc);

    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
        src->free_data(src);
        free(src);
        return fail(err, errlen, "path too long");
    }
    int ret = -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        fail(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
    } else {
        unsigned char block[2048];
        for (;;) {
            int got = src->read_xt(src, block, sizeof(block));
            if (got == 0) {
                ret = 0;
                break;
            }
            if (got < 0) {
                fail(err, errlen, "libisofs: writing the image failed (error %d)", got);
                break;
            }
            ssize_t w = write(fd, block, (size_t)got);
            if (w != got) {
                fail(err, errlen, "cannot write %s: %s", tmp,
                     w < 0 ? strerror(errno) : "short write");
                break;
            }
        }
        if (ret == 0 && (fsync(fd) < 0 || close(fd) < 0)) {
            fail(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
            ret = -1;
        } else if (ret < 0) {
            close(fd);
        }
        if (ret == 0 && rename(tmp, path) < 0) {
            fail(err, errlen, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
            ret = -1;
        }
        if (ret < 0) unlink(tmp);
    }
    /* reading to the end lets libisofs's writer thread finish; cancel it otherwise */
    if (ret < 0 && src->cancel) src->cancel(src);
    src->free_data(src);
    free(src);
    return ret;
}
