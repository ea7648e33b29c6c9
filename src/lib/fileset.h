/*
 * fileset.h - the files a process may open, for kumo-vmm's sandbox.
 *
 * Every file the VMM reads or writes on the guest's behalf (kernel, initrd,
 * firmware, ELF program, disk images and their backing chains) is opened
 * through fileset_open(). While the set is open (the default) that is a plain
 * open(2); while recording (fileset_record) each success also keeps a
 * duplicate descriptor under its path and access mode. Once sealed
 * (fileset_seal, done by the sandbox before the guest's first instruction)
 * no path is opened any more: a recorded (path, access) is served as a new
 * duplicate of the kept descriptor (so a guest reboot reopens its disks and
 * kernel), anything else fails with EACCES. The process then needs neither
 * open(2) nor the permissions of the files' owners after it drops them.
 *
 * A descriptor opened with O_DIRECT is kept apart from one of the same
 * path without it (O_DIRECT belongs to the open file description).
 *
 * Duplicates share the file offset and status flags with the kept
 * descriptor; callers use pread/pwrite or mmap (the offset is rewound to 0
 * for them anyway). OFD locks belong to the shared open file description,
 * so an image stays locked across reboots.
 *
 * Thread-safe. Outside kumo-vmm (kumo-img, kumod, the tests) nothing records
 * or seals, and fileset_open is open(2).
 */
#ifndef KUMO_LIB_FILESET_H
#define KUMO_LIB_FILESET_H

#include <stdbool.h>

/* open(path, flags) (no O_CREAT: the set serves existing files only). */
int fileset_open(const char *path, int flags);

/* Keep a duplicate of every descriptor fileset_open returns from now on. */
void fileset_record(void);

/* Serve only what was recorded; everything else fails with EACCES. */
void fileset_seal(void);

/* True once sealed: callers say "not one of the files given" on EACCES. */
bool fileset_sealed(void);

#endif
