/*
 * diskops.h - disk image work that takes time and runs on a job thread:
 * importing an image file into the data directory (checked: its format must
 * open, with no backing file), copying a disk into a snapshot, and
 * registering the built-in images at start.
 */
#ifndef KUMO_CLOUD_DISKOPS_H
#define KUMO_CLOUD_DISKOPS_H

#include <stddef.h>
#include <stdint.h>

struct kumod;

/* Jobs (no lock held on entry): carry out a pending import / snapshot and
 * record Succeeded or Failed. */
void diskops_import_image(struct kumod *k, int64_t image_id);
void diskops_take_snapshot(struct kumod *k, int64_t snapshot_id);

/* Copy src (any format disk_open reads) into dst as qcow2 (sparse: zero
 * ranges are skipped). 0 or -1 + err. */
int diskops_convert(const char *src, const char *src_format, const char *dst, char *err,
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
