/*
 * migrate.h - live migration of a running VM from one kumo-vmm to another
 * over a stream socket (docs/vmstate.md, "Live migration").
 *
 * The source (control operation "migrate") copies guest RAM while the
 * guest runs, in rounds: the first sends every page in use, each later one
 * the pages written meanwhile (dirty logging, machine.h), until what is
 * left is small; then it pauses the VM, quiesces its devices, flushes its
 * disks, sends the last pages and the state of the harts and devices
 * (vmstate_save_devices), and waits for the destination to say it has
 * loaded them. The destination (`kumo-vmm --incoming PATH`, started with
 * the same machine options) receives the RAM into memory of its own before
 * it builds the machine, so that it opens the disks only once the source
 * has flushed them; then it loads the state and runs the guest.
 *
 * Stream (all integers little-endian):
 *   header   "KUMOMIG1" u32 version, u32 page size, u64 RAM size,
 *            u32 vCPUs, u32 disks, u32 NICs
 *   'R' u64 first page, u32 count, count pages of data
 *   'Z' u64 first page, u32 count            (pages that are all zeros)
 *   'D' u64 length, the device state         (the last record)
 * and back from the destination one line: "ok" or "error: MESSAGE".
 * Everything received is checked: a wrong header, a page past the RAM, an
 * oversized record or a device state that does not load is refused and
 * the source's VM runs on.
 */
#ifndef KUMO_VMM_MIGRATE_H
#define KUMO_VMM_MIGRATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct machine;

struct migrate_stats {
    unsigned rounds;          /* copy rounds while the guest ran */
    uint64_t pages_sent;      /* pages sent in all (zero pages included) */
    uint64_t bytes_sent;      /* bytes on the stream */
    uint64_t last_pages;      /* pages sent while paused */
    double total_ms;          /* from the start to the destination's "ok" */
    double downtime_ms;       /* from the pause to the destination's "ok" */
};

/* How the source pauses its VM (vCPUs and devices) and resumes it. */
struct migrate_ops {
    bool (*pause)(void *arg); /* false: the VM stopped */
    void (*resume)(void *arg);
    void *arg;
};

/* Source: migrate m, running, to the destination on fd (a connected
 * stream, blocking). 0: the destination confirmed it runs the VM; this
 * one is left paused for the caller to stop. -1 with a message in err:
 * the VM runs here again (resumed), except when the destination did not
 * answer after the device state was sent: then *in_doubt is set and the
 * VM stays paused here (the destination may be running it). */
int migrate_send(struct machine *m, int fd, const struct migrate_ops *ops,
                 struct migrate_stats *st, bool *in_doubt, char *err, size_t errlen);

/* Destination, before the machine exists: the RAM and the device state
 * received from fd. */
struct migrate_in;

/* Read the stream up to the device state. NULL with a message in err
 * (also sent back to the source) when it is broken or not for this
 * machine: ram_size and ncpus are what the destination was started with
 * (0: take the source's). */
struct migrate_in *migrate_receive(int fd, uint64_t ram_size, int ncpus, char *err,
                                   size_t errlen);
/* The RAM size and vCPU count the source has. */
uint64_t migrate_in_ram_size(const struct migrate_in *in);
int migrate_in_ncpus(const struct migrate_in *in);
/* Move the received RAM into m (built since, with that RAM size: no copy)
 * and load the device state; tell the source "ok" or the error. 0 or -1
 * (m must then be freed, never run). */
int migrate_finish(struct migrate_in *in, struct machine *m, int fd, char *err, size_t errlen);
void migrate_in_free(struct migrate_in *in);
/* Send "error: MSG" to the source (the destination gives up). */
void migrate_refuse(int fd, const char *msg);

#endif
