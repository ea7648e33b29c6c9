/*
 * seed.h - a VM's NoCloud seed disk: the instance data cloud-init reads at
 * first boot (docs/images.md, "Provisioning"), as an ISO 9660 image with
 * Rock Ridge and Joliet names and the volume label "cidata" (written
 * CIDATA: ISO 9660 volume ids are upper case; cloud-init looks for both),
 * which cloud-init's ds-identify finds on any platform. The files are given as
 * they are to appear (meta-data, user-data, vendor-data, network-config);
 * this module only writes the image (with Debian's libisofs).
 */
#ifndef KUMO_CLOUD_SEED_H
#define KUMO_CLOUD_SEED_H

#include <stddef.h>

#define SEED_LABEL     "cidata"
#define SEED_MAX_FILES 8
#define SEED_FILE_MAX  (1u << 20) /* bytes of one file */

struct seed_file {
    const char *name; /* [a-z0-9-]{1,32}, e.g. "user-data" */
    const void *data;
    size_t len;
};

/* Write the seed image of the n files to path (created 0600, replaced if
 * it exists: written to path.tmp and renamed). 0, or -1 with a message in
 * err (bad name or size, libisofs or I/O failure; nothing left behind). */
int seed_write(const char *path, const struct seed_file *files, size_t n, char *err, size_t errlen);

#endif
