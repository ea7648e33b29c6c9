/*
 * paths.h - where kumod keeps things under its data directory:
 *   kumod.db (+ -wal, -shm)  the state          token        the API token (0600)
 *   kumod.sock               the API socket     kumod.lock   one kumod per directory
 *   images/ID/               an image: disk.qcow2 or disk.raw, Image, initrd
 *   disks/ID.qcow2           a managed disk     snapshots/ID.qcow2  a snapshot
 *   vms/ID/                  console.sock, console.log, control.sock, vmm.log
 * IDs are database row ids (AUTOINCREMENT: never reused). In a cluster,
 * images/, disks/ and snapshots/ are under --shared-dir, the directory
 * every host mounts (docs/cluster.md); the rest is the host's own.
 */
#ifndef KUMO_CLOUD_PATHS_H
#define KUMO_CLOUD_PATHS_H

#include "cloud/kumod.h"

#include <stddef.h>
#include <stdint.h>

/* Each writes into buf (PATH_MAX bytes) and returns buf. */
char *path_in_data(const struct kumod *k, char *buf, const char *name);
char *path_disk(const struct kumod *k, char *buf, int64_t disk_id);
char *path_snapshot(const struct kumod *k, char *buf, int64_t snap_id);
char *path_image_dir(const struct kumod *k, char *buf, int64_t image_id);
char *path_vm_dir(const struct kumod *k, char *buf, int64_t vm_id);
/* A file of the image's directory ("disk.qcow2"). */
char *path_image_file(const struct kumod *k, char *buf, int64_t image_id, const char *file);
/* A file of the VM's directory ("console.log"). */
char *path_vm_file(const struct kumod *k, char *buf, int64_t vm_id, const char *file);

/* mkdir -p with mode 0700 for the directories kumod makes. 0 or -1 (errno). */
int path_mkdirs(const char *dir);
/* Remove a directory and the files in it (one level). */
void path_rmdir_files(const char *dir);

#endif
