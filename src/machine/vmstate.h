/*
 * vmstate.h - a running machine's whole state as bytes: saved to a file
 * (kumo-vmm's `save`, hibernation, the snapshots new VMs are restored from)
 * and loaded into a freshly built machine (`kumo-vmm --restore FILE`,
 * the destination of a live migration). The file format is
 * docs/vmstate.md.
 *
 * The state is a list of sections: the machine's own (its clock, HTIF
 * words), one per hart (registers and CSRs), one per device that has state
 * (each device's file writes and reads its own: struct device_model's
 * save/load, machine/device.h), the ROM and the RAM. Every section carries
 * a checksum (XXH3-64) and the file ends with a section that counts and
 * chains the others, so a truncated, corrupted or foreign file is refused
 * before anything of it is loaded.
 *
 * Writing a section: append fields with vms_put_*; reading one: vms_get_*
 * return 0 past the end and remember it, and vms_in_end says whether the
 * whole section was read, exactly. A device's load checks every value it
 * takes (nothing in the file is trusted: tests/fuzz/fuzz_vmstate.c).
 */
#ifndef KUMO_MACHINE_VMSTATE_H
#define KUMO_MACHINE_VMSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct machine;

#define VMSTATE_VERSION 1
#define VMSTATE_BOARD "riscv-virt"

/* ---- sections as bytes ------------------------------------------------------- */

/* A section being written: little-endian fields appended to a growing
 * buffer. Out of memory is remembered (failed) and reported by the writer. */
struct vms_out {
    uint8_t *buf;
    size_t len, cap;
    bool failed;
};

void vms_put_u8(struct vms_out *o, uint8_t v);
void vms_put_u16(struct vms_out *o, uint16_t v);
void vms_put_u32(struct vms_out *o, uint32_t v);
void vms_put_u64(struct vms_out *o, uint64_t v);
void vms_put_bool(struct vms_out *o, bool v);
void vms_put_bytes(struct vms_out *o, const void *p, size_t n);
void vms_out_free(struct vms_out *o);

/* A section being read. The first problem (a read past the end, a value a
 * load refuses) is kept in err with the section's name; later reads return
 * zeros. */
struct vms_in {
    const uint8_t *p;
    size_t len, off;
    const char *section; /* its name, for messages */
    bool bad;
    char err[200];
};

void vms_in_init(struct vms_in *in, const char *section, const void *p, size_t len);
uint8_t vms_get_u8(struct vms_in *in);
uint16_t vms_get_u16(struct vms_in *in);
uint32_t vms_get_u32(struct vms_in *in);
uint64_t vms_get_u64(struct vms_in *in);
/* A byte that must be 0 or 1 (another value: bad). */
bool vms_get_bool(struct vms_in *in);
void vms_get_bytes(struct vms_in *in, void *dst, size_t n);
/* Refuse the section: "section NAME: <message>". Returns -1. */
int vms_fail(struct vms_in *in, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* 0 when the section was read without a problem and to its last byte;
 * otherwise -1 (the message in in->err). */
int vms_in_end(struct vms_in *in);

/* ---- the machine's state ---------------------------------------------------------- */

/* Quiesce every device (quiet) or let them carry on (device_model.quiesce):
 * with the harts paused and the devices quiet, nothing changes the
 * machine's state or guest RAM. */
void vmstate_quiesce(struct machine *m, bool quiet);

/* What a save wrote. */
struct vmstate_stats {
    uint64_t file_bytes;    /* the file's length (holes included) */
    uint64_t ram_pages;     /* RAM pages written (the others read as zeros) */
    uint64_t ns_devices;    /* collecting the harts' and devices' sections */
    uint64_t ns_ram;        /* writing RAM */
    uint64_t ns_sync;       /* fsync (and rename) */
};

/* Write the state of m (its harts paused, its devices quiet: the caller's
 * business, src/vmm/vcpu.h) to `path`, atomically: into a temporary file
 * next to it, synced, then renamed over it, so that a crash at any moment
 * leaves either the previous file or the new one. 0, or -1 with a message
 * in err (and no file left behind). */
int vmstate_save(struct machine *m, const char *path, struct vmstate_stats *st, char *err,
                 size_t errlen);
/* The same into fd, a file opened for writing (its old content is
 * dropped), synced but not renamed: the caller that made the file (kumod
 * for a sandboxed kumo-vmm, which opens no files) puts it in place. `name`
 * is the file's name for messages. 0, or -1 with a message in err. */
int vmstate_save_fd(struct machine *m, int fd, const char *name, struct vmstate_stats *st,
                    char *err, size_t errlen);

/* The sections of the state other than RAM and ROM, as one buffer (live
 * migration sends it after the RAM; vmstate_load_devices reads it). */
int vmstate_save_devices(struct machine *m, struct vms_out *o, char *err, size_t errlen);

/* A state file read and checked (every checksum, the end section): the
 * sections in memory, the RAM pages where they are in the file. */
struct vmstate_file;

/* Open and check `path`. NULL with a message in err when the file cannot be
 * read, is not a state file, is from another format version or board, is
 * truncated or corrupted: nothing of it is used then. */
struct vmstate_file *vmstate_open(const char *path, char *err, size_t errlen);
void vmstate_close(struct vmstate_file *f);

/* What the machine must be like for the state to load into it. */
struct vmstate_info {
    uint64_t ram_size;
    int ncpus;
    int satp_mode;         /* the largest MMU mode the harts accept */
    bool builtin_sbi;      /* direct kernel boot: kumo-vmm was the SBI firmware */
    uint64_t saved_at_ns;  /* host realtime of the save */
    uint64_t mtime;        /* the guest's mtime when saved */
    int ndisks, nnics;     /* virtio disks and NICs */
};
void vmstate_get_info(const struct vmstate_file *f, struct vmstate_info *out);

/* Load the state into m, a machine just built (virt_create) with the
 * configuration the state was saved with and never run: RAM (mapped
 * copy-on-write from the file: pages are read when the guest touches them
 * and shared with every other machine restored from the same file until
 * written), the harts, every device. Refused, with a message in err, when
 * the machine does not match (RAM size, vCPUs, a device another kind or
 * missing) or a section holds what its device cannot have saved; the
 * machine must then be freed, never run. 0 or -1. */
int vmstate_load(struct vmstate_file *f, struct machine *m, char *err, size_t errlen);

/* Load the sections vmstate_save_devices wrote (RAM already in place). */
int vmstate_load_devices(struct machine *m, const void *buf, size_t len, char *err,
                         size_t errlen);

/* 64-bit checksum of the file format (XXH3-64). */
uint64_t vmstate_hash(const void *p, size_t len);

#endif
