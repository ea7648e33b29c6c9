/*
 * main.c - kumo-img, the disk image tool: create, info, check, convert and
 * resize images, with the same storage code kumo-vmm uses (src/storage).
 * Command lines follow qemu-img's so that people and scripts know them.
 *
 *   kumo-img create [-f raw|qcow2] [-b BACKING [-F FMT]] [-o OPTS] FILE [SIZE]
 *   kumo-img info [--json] [-f FMT] [-U] FILE
 *   kumo-img check [-r leaks|all] [-f FMT] [-U] FILE
 *   kumo-img convert [-f FMT] [-O raw|qcow2] [-o OPTS] IN OUT
 *   kumo-img resize [-f FMT] [--shrink] FILE [+|-]SIZE
 *
 * Exit status: 0 success; 1 error; check: 2 corruptions, 3 leaks only,
 * 63 format without checks (as qemu-img).
 */
#include "storage/disk.h"
#include "storage/qcow2.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef KUMO_VERSION
#define KUMO_VERSION "0.1.0"
#endif

#define ERRLEN 1024

static void die_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void die_msg(const char *fmt, ...)
{
    char buf[ERRLEN + 64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    fprintf(stderr, "kumo-img: error: %s\n", buf);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: kumo-img COMMAND [options]\n"
               "\n"
               "  create [-f raw|qcow2] [-b BACKING [-F FMT]] [-o OPTIONS] FILE [SIZE]\n"
               "      OPTIONS: cluster_size=N, refcount_bits=N, compat=0.10|1.1\n"
               "  info [--json] [-f FMT] [-U] FILE\n"
               "  check [-r leaks|all] [-f FMT] [-U] FILE\n"
               "  convert [-f FMT] [-O raw|qcow2] [-o OPTIONS] IN OUT\n"
               "      FMT for IN: raw, qcow2, vhd (vpc), vmdk; probed when omitted\n"
               "  resize [-f FMT] [--shrink] FILE [+|-]SIZE\n"
               "\n"
               "SIZE: bytes, or with a suffix K, M, G, T (powers of 1024), e.g. 10G.\n"
               "-U (--force-share): inspect an image that another process has open.\n");
}

/* "1 GiB", "196 KiB", "1.52 MiB" */
static void human(uint64_t v, char *out, size_t n)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    int u = 0;
    double d = (double)v;
    while (d >= 1024 && u < 6) {
        d /= 1024;
        u++;
    }
    snprintf(out, n, "%.3g %s", d, units[u]);
}

/* A format's own name for an alias ("vpc": "vhd"); unknown names as given,
 * for disk_open to explain. */
static const char *fmt_alias(const char *f)
{
    const char *c = disk_format_canonical(f);
    return c ? c : f;
}

/* ---- create ---- */

struct create_opts {
    uint32_t cluster_size;
    unsigned refcount_bits;
    int version;
};

static int parse_o(const char *s, struct create_opts *o)
{
    char *copy = strdup(s), *save = NULL;
    if (!copy) return -1;
    int r = 0;
    for (char *kv = strtok_r(copy, ",", &save); kv && r == 0; kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq) {
            die_msg("option '%s' needs a value (e.g. cluster_size=65536)", kv);
            r = -1;
            break;
        }
        *eq = 0;
        const char *val = eq + 1;
        uint64_t v;
        if (strcmp(kv, "cluster_size") == 0) {
            if (disk_parse_size(val, &v) < 0 || v > (2u << 20)) {
                die_msg("cluster_size '%s' is invalid (a power of two from 512 to 2M)", val);
                r = -1;
            } else {
                o->cluster_size = (uint32_t)v;
            }
        } else if (strcmp(kv, "refcount_bits") == 0) {
            if (disk_parse_size(val, &v) < 0 || v > 64) {
                die_msg("refcount_bits '%s' is invalid (1, 2, 4, 8, 16, 32 or 64)", val);
                r = -1;
            } else {
                o->refcount_bits = (unsigned)v;
            }
        } else if (strcmp(kv, "compat") == 0) {
            if (strcmp(val, "0.10") == 0)
                o->version = 2;
            else if (strcmp(val, "1.1") == 0 || strcmp(val, "v3") == 0)
                o->version = 3;
            else {
                die_msg("compat '%s' is invalid (0.10 or 1.1)", val);
                r = -1;
            }
        } else {
            die_msg("unknown option '%s' (known: cluster_size, refcount_bits, compat)", kv);
            r = -1;
        }
    }
    free(copy);
    return r;
}

static int cmd_create(int argc, char **argv)
{
    const char *fmt = "qcow2", *backing = NULL, *bfmt = NULL;
    struct create_opts co = {0};
    int c;
    optind = 1;
    while ((c = getopt(argc, argv, "f:b:F:o:h")) != -1) {
        switch (c) {
        case 'f': fmt = optarg; break;
        case 'b': backing = optarg; break;
        case 'F': bfmt = fmt_alias(optarg); break;
        case 'o':
            if (parse_o(optarg, &co) < 0) return 1;
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 1;
        }
    }
    if (optind >= argc || argc - optind > 2) {
        die_msg("create needs FILE and SIZE (SIZE may be omitted with -b)");
        return 1;
    }
    const char *file = argv[optind];
    uint64_t size = 0;
    if (optind + 1 < argc) {
        if (disk_parse_size(argv[optind + 1], &size) < 0) {
            die_msg("invalid size '%s' (use e.g. 10G, 512M or a number of bytes)",
                    argv[optind + 1]);
            return 1;
        }
    } else if (!backing) {
        die_msg("create needs a SIZE (e.g. 10G) when there is no backing file");
        return 1;
    }
    if (strcmp(fmt, "raw") != 0 && strcmp(fmt, "qcow2") != 0) {
        die_msg("kumo-img creates raw and qcow2 images, not '%s'", fmt);
        return 1;
    }
    if (strcmp(fmt, "raw") == 0 && (co.cluster_size || co.refcount_bits || co.version)) {
        die_msg("-o options apply to qcow2 only");
        return 1;
    }
    if (bfmt && !backing) {
        die_msg("-F needs -b");
        return 1;
    }
    char err[ERRLEN];
    int r;
    if (strcmp(fmt, "qcow2") == 0) {
        struct qcow2_create_opts o = {.path = file,
                                      .size = size,
                                      .backing_file = backing,
                                      .backing_format = bfmt,
                                      .cluster_size = co.cluster_size,
                                      .version = co.version,
                                      .refcount_bits = co.refcount_bits};
        r = qcow2_create_ex(&o, err, sizeof(err));
    } else {
        r = disk_create(file, "raw", size, backing, bfmt, 0, err, sizeof(err));
    }
    if (r < 0) {
        die_msg("%s", err);
        return 1;
    }
    struct disk_options oo = {.format = fmt, .readonly = true, .for_check = true};
    struct disk *d = disk_open(file, &oo, err, sizeof(err));
    printf("Formatting '%s', fmt=%s", file, fmt);
    if (d) {
        struct disk_info in;
        disk_get_info(d, &in);
        if (in.cluster_size) printf(" cluster_size=%u", in.cluster_size);
        printf(" size=%" PRIu64, in.virtual_size);
        if (in.backing_file)
            printf(" backing_file=%s backing_fmt=%s", in.backing_file,
                   in.backing_format ? in.backing_format : "(probed)");
        disk_close(d);
    }
    printf("\n");
    return 0;
}

/* ---- info ---- */

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

/* The fields of one image as JSON members (no braces), indented by pad. */
static void info_json(FILE *f, const struct disk_info *in, const char *pad)
{
    fprintf(f, "%s\"filename\": ", pad);
    json_str(f, in->path);
    fprintf(f, ",\n%s\"format\": \"%s\",\n", pad, in->format);
    fprintf(f, "%s\"virtual-size\": %" PRIu64 ",\n", pad, in->virtual_size);
    fprintf(f, "%s\"actual-size\": %" PRIu64, pad, in->disk_size);
    if (in->cluster_size) fprintf(f, ",\n%s\"cluster-size\": %u", pad, in->cluster_size);
    if (strcmp(in->format, "qcow2") == 0) {
        fprintf(f, ",\n%s\"dirty-flag\": %s", pad, in->dirty ? "true" : "false");
        fprintf(f, ",\n%s\"corrupt\": %s", pad, in->corrupt ? "true" : "false");
        fprintf(f, ",\n%s\"compat\": \"%s\"", pad, in->version == 2 ? "0.10" : "1.1");
        fprintf(f, ",\n%s\"refcount-bits\": %u", pad, in->refcount_bits);
        fprintf(f, ",\n%s\"lazy-refcounts\": %s", pad, in->lazy_refcounts ? "true" : "false");
        fprintf(f, ",\n%s\"snapshots\": %u", pad, in->snapshots);
    }
    if (in->subformat) {
        fprintf(f, ",\n%s\"subformat\": ", pad);
        json_str(f, in->subformat);
    }
    if (in->backing_file) {
        fprintf(f, ",\n%s\"backing-filename\": ", pad);
        json_str(f, in->backing_file);
        fprintf(f, ",\n%s\"full-backing-filename\": ", pad);
        json_str(f, in->backing_path);
        if (in->backing_format) {
            fprintf(f, ",\n%s\"backing-filename-format\": ", pad);
            json_str(f, in->backing_format);
        }
    }
}

static void info_text(const struct disk_info *in)
{
    char a[32], b[32];
    human(in->virtual_size, a, sizeof(a));
    human(in->disk_size, b, sizeof(b));
    printf("image: %s\n", in->path);
    printf("file format: %s\n", in->format);
    printf("virtual size: %s (%" PRIu64 " bytes)\n", a, in->virtual_size);
    printf("disk size: %s\n", b);
    if (in->cluster_size) printf("cluster_size: %u\n", in->cluster_size);
    if (in->backing_file) {
        printf("backing file: %s", in->backing_file);
        if (in->backing_path && strcmp(in->backing_path, in->backing_file) != 0)
            printf(" (actual path: %s)", in->backing_path);
        printf("\n");
        if (in->backing_format) printf("backing file format: %s\n", in->backing_format);
    }
    if (strcmp(in->format, "qcow2") == 0) {
        printf("Format specific information:\n");
        printf("    compat: %s\n", in->version == 2 ? "0.10" : "1.1");
        printf("    refcount bits: %u\n", in->refcount_bits);
        printf("    lazy refcounts: %s\n", in->lazy_refcounts ? "true" : "false");
        printf("    corrupt: %s\n", in->corrupt ? "true" : "false");
        printf("    dirty: %s\n", in->dirty ? "true" : "false");
        if (in->snapshots) printf("    internal snapshots: %u\n", in->snapshots);
    } else if (in->subformat) {
        printf("Format specific information:\n    subformat: %s\n", in->subformat);
    }
}

static int cmd_info(int argc, char **argv)
{
    static const struct option lo[] = {{"json", no_argument, NULL, 'j'},
                                       {"force-share", no_argument, NULL, 'U'},
                                       {"output", required_argument, NULL, 'O'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
    const char *fmt = NULL;
    bool json = false, share = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "f:Uh", lo, NULL)) != -1) {
        switch (c) {
        case 'f': fmt = fmt_alias(optarg); break;
        case 'j': json = true; break;
        case 'O': json = strcmp(optarg, "json") == 0; break;
        case 'U': share = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 1;
        }
    }
    if (optind != argc - 1) {
        die_msg("info needs exactly one FILE");
        return 1;
    }
    char err[ERRLEN];
    struct disk *chain[65];
    int n = 0, ret = 0;
    const char *path = argv[optind];
    char *owned[65] = {0};
    while (path && n < 65) {
        struct disk_options o = {
            .format = fmt, .readonly = true, .for_check = true, .force_share = share};
        struct disk *d = disk_open(path, &o, err, sizeof(err));
        if (!d) {
            die_msg("%s", err);
            ret = 1;
            break;
        }
        chain[n++] = d;
        struct disk_info in;
        disk_get_info(d, &in);
        path = NULL;
        if (in.backing_path) {
            owned[n] = strdup(in.backing_path);
            path = owned[n];
            fmt = fmt_alias(in.backing_format);
        }
    }
    if (n > 0) {
        struct disk_info in;
        if (json) {
            disk_get_info(chain[0], &in);
            printf("{\n");
            info_json(stdout, &in, "    ");
            printf(",\n    \"backing-chain\": [");
            for (int i = 1; i < n; i++) {
                disk_get_info(chain[i], &in);
                printf("%s\n        {\n", i > 1 ? "," : "");
                info_json(stdout, &in, "            ");
                printf("\n        }");
            }
            printf("%s]\n}\n", n > 1 ? "\n    " : "");
        }
        for (int i = 0; !json && i < n; i++) {
            if (i) printf("\n");
            disk_get_info(chain[i], &in);
            info_text(&in);
        }
        if (!json && n > 1) {
            printf("\nbacking chain:");
            for (int i = 0; i < n; i++) {
                disk_get_info(chain[i], &in);
                printf(" %s%s (%s)", i ? "-> " : "", in.path, in.format);
            }
            printf("\n");
        }
    }
    for (int i = 0; i < n; i++)
        disk_close(chain[i]);
    for (int i = 0; i < 65; i++)
        free(owned[i]);
    return ret;
}

/* ---- check ---- */

static void print_line(void *ctx, const char *line)
{
    (void)ctx;
    printf("%s\n", line);
}

static int cmd_check(int argc, char **argv)
{
    static const struct option lo[] = {{"force-share", no_argument, NULL, 'U'},
                                       {"repair", required_argument, NULL, 'r'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
    const char *fmt = NULL, *repair = NULL;
    bool share = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "f:r:Uh", lo, NULL)) != -1) {
        switch (c) {
        case 'f': fmt = fmt_alias(optarg); break;
        case 'r': repair = optarg; break;
        case 'U': share = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 1;
        }
    }
    if (optind != argc - 1) {
        die_msg("check needs exactly one FILE");
        return 1;
    }
    if (repair && strcmp(repair, "leaks") != 0 && strcmp(repair, "all") != 0) {
        die_msg("-r takes 'leaks' or 'all', not '%s'", repair);
        return 1;
    }
    const char *file = argv[optind];
    char err[ERRLEN];
    struct disk_options o = {
        .format = fmt, .readonly = !repair, .for_check = true, .force_share = share && !repair};
    struct disk *d = disk_open(file, &o, err, sizeof(err));
    if (!d) {
        die_msg("%s", err);
        return 1;
    }
    if (!disk_is_qcow2(d)) {
        die_msg("%s: %s images have no metadata to check", file, disk_format(d));
        disk_close(d);
        return 63;
    }
    struct qcow2_check_result res;
    int r = qcow2_check(d, repair != NULL, &res, print_line, NULL);
    if (r < 0) {
        disk_last_error(d, err, sizeof(err));
        die_msg("%s: check failed: %s", file, err[0] ? err : strerror(-r));
        disk_close(d);
        return 1;
    }
    if (repair && res.leaks_fixed) {
        printf("The following inconsistencies were found and repaired:\n\n"
               "    %" PRIu64 " leaked clusters\n    0 corruptions\n\n"
               "Double checking the fixed image now...\n",
               res.leaks_fixed);
        r = qcow2_check(d, false, &res, print_line, NULL);
        if (r < 0) {
            die_msg("%s: check failed: %s", file, strerror(-r));
            disk_close(d);
            return 1;
        }
    }
    int status = 0;
    if (res.corruptions) {
        printf("\n%" PRIu64 " errors were found on the image.\n"
               "Data may be corrupted, or further writes to the image may corrupt it.\n",
               res.corruptions);
        if (repair) printf("kumo-img repairs leaks only; use `qemu-img check -r all %s`.\n", file);
        status = 2;
    }
    if (res.leaks) {
        printf("\n%" PRIu64 " leaked clusters were found on the image.\n"
               "This means waste of disk space, but no harm to data.\n",
               res.leaks);
        if (!status) status = 3;
    }
    if (res.check_errors) {
        printf("\n%" PRIu64 " internal errors have occurred during the check.\n", res.check_errors);
        status = 1;
    }
    if (!res.corruptions && !res.leaks && !res.check_errors)
        printf("No errors were found on the image.\n");
    if (res.total_clusters) {
        double t = (double)res.total_clusters;
        double al = (double)res.allocated_clusters;
        printf("%" PRIu64 "/%" PRIu64 " = %.2f%% allocated, %.2f%% fragmented, %.2f%% "
               "compressed clusters\n",
               res.allocated_clusters, res.total_clusters, 100.0 * al / t,
               al ? 100.0 * (double)res.fragmented_clusters / al : 0.0,
               al ? 100.0 * (double)res.compressed_clusters / al : 0.0);
    }
    printf("Image end offset: %" PRIu64 "\n", res.image_end_offset);
    disk_close(d);
    return status;
}

/* ---- convert ---- */

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i]) return false;
    return true;
}

static int cmd_convert(int argc, char **argv)
{
    const char *ifmt = NULL, *ofmt = "raw";
    struct create_opts co = {0};
    int c;
    optind = 1;
    while ((c = getopt(argc, argv, "f:O:o:ph")) != -1) {
        switch (c) {
        case 'f': ifmt = fmt_alias(optarg); break;
        case 'O': ofmt = optarg; break;
        case 'o':
            if (parse_o(optarg, &co) < 0) return 1;
            break;
        case 'p': break; /* progress: accepted for qemu-img compatibility */
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 1;
        }
    }
    if (optind != argc - 2) {
        die_msg("convert needs IN and OUT");
        return 1;
    }
    if (strcmp(ofmt, "raw") != 0 && strcmp(ofmt, "qcow2") != 0) {
        die_msg("kumo-img converts to raw or qcow2, not '%s'", ofmt);
        return 1;
    }
    const char *in_path = argv[optind], *out_path = argv[optind + 1];
    struct stat si, so;
    if (stat(in_path, &si) == 0 && stat(out_path, &so) == 0 && si.st_dev == so.st_dev &&
        si.st_ino == so.st_ino) {
        die_msg("IN and OUT are the same file (%s)", out_path);
        return 1;
    }
    char err[ERRLEN];
    struct disk_options io = {.format = ifmt, .readonly = true};
    struct disk *in = disk_open(in_path, &io, err, sizeof(err));
    if (!in) {
        die_msg("%s", err);
        return 1;
    }
    uint64_t size = disk_size(in);
    int r;
    if (strcmp(ofmt, "qcow2") == 0) {
        struct qcow2_create_opts o = {.path = out_path,
                                      .size = size,
                                      .cluster_size = co.cluster_size,
                                      .version = co.version,
                                      .refcount_bits = co.refcount_bits};
        r = qcow2_create_ex(&o, err, sizeof(err));
    } else {
        r = disk_create(out_path, "raw", size, NULL, NULL, 0, err, sizeof(err));
    }
    if (r < 0) {
        die_msg("%s", err);
        disk_close(in);
        return 1;
    }
    struct disk_options oo = {.format = ofmt};
    struct disk *out = disk_open(out_path, &oo, err, sizeof(err));
    if (!out) {
        die_msg("%s", err);
        disk_close(in);
        unlink(out_path);
        return 1;
    }
    struct disk_info oi;
    disk_get_info(out, &oi);
    size_t gran = oi.cluster_size ? oi.cluster_size : 4096;
    size_t chunk = gran > (1u << 20) ? gran : (1u << 20);
    uint8_t *buf = malloc(chunk);
    int ret = buf ? 0 : 1;
    for (uint64_t off = 0; ret == 0 && off < size;) {
        uint64_t len = size - off < chunk ? size - off : chunk, pnum;
        int s = disk_block_status(in, off, len, &pnum);
        if (s < 0) {
            disk_last_error(in, err, sizeof(err));
            die_msg("%s", err);
            ret = 1;
            break;
        }
        if (s == DISK_STATUS_ZERO) {
            off += pnum;
            continue;
        }
        /* Whole granules up to the next chunk boundary. */
        len = pnum;
        if ((r = disk_read(in, off, buf, (size_t)len)) < 0) {
            disk_last_error(in, err, sizeof(err));
            die_msg("%s", err[0] ? err : strerror(-r));
            ret = 1;
            break;
        }
        for (uint64_t p = 0; p < len && ret == 0;) {
            uint64_t g = gran - ((off + p) % gran);
            if (g > len - p) g = len - p;
            uint64_t q = p;
            while (q < len) { /* a run of non-zero granules */
                uint64_t gg = gran - ((off + q) % gran);
                if (gg > len - q) gg = len - q;
                if (all_zero(buf + q, (size_t)gg)) break;
                q += gg;
            }
            if (q > p) {
                if ((r = disk_write(out, off + p, buf + p, (size_t)(q - p))) < 0) {
                    disk_last_error(out, err, sizeof(err));
                    die_msg("%s", err[0] ? err : strerror(-r));
                    ret = 1;
                }
                p = q;
            } else {
                p += g;
            }
        }
        off += len;
    }
    if (ret == 0 && (r = disk_flush(out)) < 0) {
        disk_last_error(out, err, sizeof(err));
        die_msg("%s", err);
        ret = 1;
    }
    free(buf);
    disk_close(out);
    disk_close(in);
    if (ret) unlink(out_path);
    return ret;
}

/* ---- resize ---- */

static int cmd_resize(int argc, char **argv)
{
    static const struct option lo[] = {
        {"shrink", no_argument, NULL, 's'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const char *fmt = NULL;
    bool shrink = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "+f:h", lo, NULL)) != -1) {
        switch (c) {
        case 'f': fmt = fmt_alias(optarg); break;
        case 's': shrink = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 1;
        }
    }
    if (optind != argc - 2) {
        die_msg("resize needs FILE and SIZE (e.g. 20G, +5G, -1G)");
        return 1;
    }
    const char *file = argv[optind], *sz = argv[optind + 1];
    int sign = 0;
    if (*sz == '+' || *sz == '-') sign = *sz++ == '+' ? 1 : -1;
    uint64_t v;
    if (disk_parse_size(sz, &v) < 0) {
        die_msg("invalid size '%s' (use e.g. 20G, +5G or -1G)", argv[optind + 1]);
        return 1;
    }
    char err[ERRLEN];
    struct disk_options o = {.format = fmt};
    struct disk *d = disk_open(file, &o, err, sizeof(err));
    if (!d) {
        die_msg("%s", err);
        return 1;
    }
    uint64_t cur = disk_size(d), target = v;
    if (sign > 0) target = cur + v;
    if (sign < 0) target = v > cur ? 0 : cur - v;
    if ((sign > 0 && target < cur) || target % 512) {
        die_msg("%s: the new size must be a multiple of 512 bytes", file);
        disk_close(d);
        return 1;
    }
    if (target < cur && strcmp(disk_format(d), "raw") == 0 && !shrink) {
        die_msg("%s: shrinking drops the data past the new end; add --shrink if that is what "
                "you want (after shrinking the file system inside)",
                file);
        disk_close(d);
        return 1;
    }
    int r = disk_resize(d, target);
    if (r < 0) {
        disk_last_error(d, err, sizeof(err));
        die_msg("%s", err[0] ? err : strerror(-r));
        disk_close(d);
        return 1;
    }
    disk_close(d);
    printf("Image resized.\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 1;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
        printf("kumo-img %s\n", KUMO_VERSION);
        return 0;
    }
    argc--;
    argv++;
    if (strcmp(cmd, "create") == 0) return cmd_create(argc, argv);
    if (strcmp(cmd, "info") == 0) return cmd_info(argc, argv);
    if (strcmp(cmd, "check") == 0) return cmd_check(argc, argv);
    if (strcmp(cmd, "convert") == 0) return cmd_convert(argc, argv);
    if (strcmp(cmd, "resize") == 0) return cmd_resize(argc, argv);
    die_msg("unknown command '%s' (create, info, check, convert, resize; see --help)", cmd);
    return 1;
}
