/*
 * diskops.h - disk image work that takes time and runs on a job thread:
 * importing an image file into the data directory (checked: its format must
 * open, with no backing file), copying a disk into a snapshot, and
 * registering the built-in images at start.
 */
#ifndef KUMO_CLOUD_DISKOPS_H
#define KUMO_CLOUD_DISKOPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kumod;

/* Jobs (no lock held on entry): carry out a pending import / snapshot and
 * record Succeeded or Failed. */
void diskops_import_image(struct kumod *k, int64_t image_id);
void diskops_take_snapshot(struct kumod *k, int64_t snapshot_id);

/* Copy src (any format disk_open reads) into dst as qcow2 (sparse: zero
 * ranges are skipped). no_backing: refuse an image that names a backing
 * file (a tenant's image must not make kumod read another file). 0 or -1
 * + err. */
int diskops_convert(const char *src, const char *src_format, bool no_backing, const char *dst,
                    char *err, size_t errlen);

/*
 * Tenants' files for image imports come from one directory the operator
 * chose (kumod --import-dir, default DATA/import), nowhere else. A path is
 * opened once, beneath that directory with no symbolic link on the way
 * (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, or a component-by-
 * component walk with O_NOFOLLOW), non-blocking (a FIFO cannot hang it),
 * and must be a regular file of at most --import-max-gib GiB. The returned
 * descriptor is what the import probes and converts (through
 * /proc/self/fd/N: the same file, whatever happens to its name). -1 and a
 * message naming the field otherwise.
 */
int diskops_import_open(const struct kumod *k, const char *field, const char *path, char *err,
                        size_t errlen);

/* At start (no lock): register the built-in images (catalog.h) unless an
 * image of that name exists: "default" from cfg.guest_dir or the newest
 * guest/build.sh cache entry (missing: a warning); "debian-13" from
 * cfg.debian_image or the newest guest/debian/build.sh cache entry
 * (missing: registered as Unavailable, with the build to run; found at a
 * later start: imported then). Imports run here (a built-in qcow2 from
 * the cache is hard-linked when it can be, not copied). */
void diskops_register_builtin(struct kumod *k);

#endif
