/*
 * fuzz_disk.h - shared body of the disk image harnesses (fuzz_qcow2.c,
 * fuzz_vhd.c, fuzz_vmdk.c): the fuzz input becomes an image file in memory
 * (memfd), which is opened with the given format and read; qcow2 images are
 * also checked and written. Any input must give a working disk or an error
 * message, never a crash, a hang, an out-of-bounds access or undefined
 * behaviour. Files named by the image (backing files, VMDK extents) are not
 * opened (no_backing), so the harness touches nothing but its input.
 */
#ifndef KUMO_FUZZ_DISK_H
#define KUMO_FUZZ_DISK_H

#include "storage/disk.h"
#include "storage/qcow2.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void fuzz_expect_message(const char *err, size_t len)
{
    size_t n = strnlen(err, len);
    if (n == 0 || n == len) __builtin_trap(); /* every failure must explain itself */
}

static void fuzz_read_some(struct disk *d)
{
    static uint8_t buf[64 * 1024];
    uint64_t size = disk_size(d), pnum;
    uint64_t offs[4] = {0, size / 2, size > sizeof(buf) ? size - sizeof(buf) : 0, 4096};
    for (int i = 0; i < 4; i++) {
        uint64_t off = offs[i] & ~511ull;
        uint64_t len = size - off < sizeof(buf) ? size - off : sizeof(buf);
        if (off >= size) continue;
        if (disk_read(d, off, buf, (size_t)len) < 0) {
            char e[512];
            disk_last_error(d, e, sizeof(e));
            fuzz_expect_message(e, sizeof(e));
        }
        disk_block_status(d, off, len, &pnum);
    }
}

static int fuzz_disk_image(const uint8_t *data, size_t size, const char *format)
{
    int fd = memfd_create("fuzz-image", MFD_CLOEXEC);
    if (fd < 0) return 0;
    if (size && write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64], err[512];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);

    struct disk_options o = {.format = format, .readonly = true, .no_backing = true};
    struct disk *d = disk_open(path, &o, err, sizeof(err));
    if (!d) {
        fuzz_expect_message(err, sizeof(err));
    } else {
        fuzz_read_some(d);
        disk_close(d);
    }
    if (format && strcmp(format, "qcow2") == 0) {
        /* the consistency check, then writes (allocation on damaged metadata) */
        struct disk_options c = {.format = format, .readonly = true, .for_check = true};
        d = disk_open(path, &c, err, sizeof(err));
        if (d) {
            struct qcow2_check_result res;
            qcow2_check(d, false, &res, NULL, NULL);
            disk_close(d);
        }
        struct disk_options w = {.format = format, .no_backing = true};
        d = disk_open(path, &w, err, sizeof(err));
        if (d) {
            static uint8_t sec[4096];
            memset(sec, 0xa5, sizeof(sec));
            uint64_t vs = disk_size(d);
            if (vs >= sizeof(sec)) {
                disk_write(d, 0, sec, sizeof(sec));
                disk_write(d, (vs / 3) & ~511ull, sec, 512);
                disk_write_zeroes(d, (vs / 2) & ~511ull, 512, true);
                disk_flush(d);
                fuzz_read_some(d);
            }
            disk_close(d);
        }
    }
    close(fd);
    return 0;
}

#endif
