/*
 * test_cloud_seed.c - kumod's NoCloud seed disk (src/cloud/seed.c): the
 * image is ISO 9660 labelled "cidata" whose files, read back with libisofs
 * (Rock Ridge names, as Linux reads them), are exactly what was given;
 * bad names, duplicates and sizes are refused and leave nothing behind.
 */
#include "cloud/seed.h"

/* libisofs.h needs these first */
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <libisofs/libisofs.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

/* The contents of `name` in the image at path (malloc'd, *len), or NULL. */
static char *read_back(const char *path, const char *name, size_t *len, char *volid, size_t vlen)
{
    IsoDataSource *src = NULL;
    IsoReadOpts *ropts = NULL;
    IsoImage *image = NULL;
    char *out = NULL;
    if (iso_data_source_new_from_file(path, &src) < 0 || iso_read_opts_new(&ropts, 0) < 0 ||
        iso_image_new("check", &image) < 0)
        goto done;
    iso_read_opts_set_no_joliet(ropts, 1); /* the Rock Ridge names */
    if (iso_image_import(image, src, ropts, NULL) < 0) goto done;
    snprintf(volid, vlen, "%s", iso_image_get_volume_id(image));
    char p[64];
    snprintf(p, sizeof(p), "/%s", name);
    IsoNode *node = NULL;
    if (iso_tree_path_to_node(image, p, &node) != 1 || iso_node_get_type(node) != LIBISO_FILE)
        goto done;
    IsoStream *s = iso_file_get_stream((IsoFile *)node);
    if (iso_stream_open(s) < 0) goto done;
    size_t cap = 1 << 21;
    out = malloc(cap);
    *len = 0;
    for (;;) {
        int n = iso_stream_read(s, out + *len, cap - *len);
        if (n <= 0) break;
        *len += (size_t)n;
    }
    iso_stream_close(s);
done:
    if (image) iso_image_unref(image);
    if (ropts) iso_read_opts_free(ropts);
    if (src) iso_data_source_unref(src);
    return out;
}

int main(void)
{
    char dir[] = "/tmp/kumo-seed-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char path[256], err[256];
    snprintf(path, sizeof(path), "%s/seed.iso", dir);
    const char *meta = "instance-id: 3f2a-id\nlocal-hostname: web1\n";
    const char *user = "#!/bin/sh\necho hi > /root/ud\n";
    size_t big_len = 300000;
    char *big = malloc(big_len);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (char)("abcdefgh\n"[i % 9]);
    struct seed_file files[] = {
        {"meta-data", meta, strlen(meta)},
        {"user-data", user, strlen(user)},
        {"vendor-data", big, big_len},
        {"network-config", "", 0},
    };
    CHECK(seed_write(path, files, 4, err, sizeof(err)) == 0, "write: %s", err);
    struct stat st;
    CHECK(stat(path, &st) == 0 && st.st_size % 2048 == 0 && (st.st_mode & 0777) == 0600,
          "an image of whole 2 KiB blocks, mode 0600");
    /* the primary volume descriptor: ISO 9660, label cidata */
    FILE *f = fopen(path, "rb");
    unsigned char pvd[2048] = {0};
    CHECK(f && fseek(f, 16 * 2048, SEEK_SET) == 0 && fread(pvd, 1, sizeof(pvd), f) == sizeof(pvd),
          "read the volume descriptor");
    if (f) fclose(f);
    /* ISO 9660 volume ids are upper case (d-characters); cloud-init
     * accepts CIDATA as well as cidata */
    CHECK(pvd[0] == 1 && !memcmp(pvd + 1, "CD001", 5) && !memcmp(pvd + 40, "CIDATA ", 7),
          "primary volume descriptor with label CIDATA: '%.8s'", pvd + 40);
    for (size_t i = 0; i < 4; i++) {
        size_t len = 0;
        char volid[64] = "";
        char *got = read_back(path, files[i].name, &len, volid, sizeof(volid));
        CHECK(got && len == files[i].len && !memcmp(got, files[i].data, len),
              "%s: read back %zu bytes, want %zu", files[i].name, got ? len : 0, files[i].len);
        CHECK(!strcasecmp(volid, "cidata"), "volume id '%s'", volid);
        free(got);
    }
    char tmp[300];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    CHECK(access(tmp, F_OK) != 0, "no temporary file left");
    /* refused: nothing written, the old image stays */
    struct seed_file bad[] = {{"user-data", "x", 1}, {"User_Data", "x", 1}};
    CHECK(seed_write(path, bad, 2, err, sizeof(err)) < 0 && strstr(err, "'User_Data'"),
          "bad name: %s", err);
    struct seed_file dup[] = {{"user-data", "x", 1}, {"user-data", "y", 1}};
    CHECK(seed_write(path, dup, 2, err, sizeof(err)) < 0 && strstr(err, "given twice"),
          "duplicate: %s", err);
    struct seed_file huge[] = {{"user-data", big, SEED_FILE_MAX + 1}};
    char *hugebuf = calloc(1, SEED_FILE_MAX + 1);
    huge[0].data = hugebuf;
    CHECK(seed_write(path, huge, 1, err, sizeof(err)) < 0 && strstr(err, "at most"), "too big: %s",
          err);
    free(hugebuf);
    char nowhere[300];
    snprintf(nowhere, sizeof(nowhere), "%s/missing/seed.iso", dir);
    CHECK(seed_write(nowhere, files, 1, err, sizeof(err)) < 0 && strstr(err, "cannot create"),
          "unwritable: %s", err);
    size_t len = 0;
    char volid[64];
    char *still = read_back(path, "meta-data", &len, volid, sizeof(volid));
    CHECK(still && len == strlen(meta), "the earlier image is untouched");
    free(still);
    free(big);
    unlink(path);
    rmdir(dir);
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
