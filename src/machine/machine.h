/*
 * machine.h - the board: guest memory, the physical bus and its devices,
 * the harts, and the machine-wide run state (stop requests, exit status).
 *
 * Physical memory is a list of regions. RAM and ROM regions are backed by
 * host memory and can be reached through a host pointer (the harts' TLBs
 * cache those); device regions dispatch to read/write callbacks.
 */
#ifndef KUMO_MACHINE_MACHINE_H
#define KUMO_MACHINE_MACHINE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hart;
struct device_model;

#define MACHINE_MAX_HARTS 32
#define MACHINE_MAX_REGIONS 32

struct mmio_ops {
    /* size is 1, 2, 4 or 8; off is relative to the region base */
    uint64_t (*read)(void *opaque, uint64_t off, int size);
    void (*write)(void *opaque, uint64_t off, uint64_t val, int size);
};

struct region {
    uint64_t base, size;
    const char *name;
    uint8_t *host;             /* RAM/ROM: backing memory; NULL for devices */
    bool readonly;             /* ROM */
    const struct mmio_ops *ops; /* devices */
    void *opaque;
};

/* Per-RAM-page flags (machine.page_flags) */
#define PAGE_CODE  0x01 /* some hart holds decoded instructions from this page */
#define PAGE_WATCH 0x02 /* stores must take the slow path (HTIF tohost) */
#define PAGE_WTLB  0x04 /* a hart may hold a write-TLB entry for it (src/cpu/mmu.c) */

enum { ECALL_DONE = 0, ECALL_PARK = 1 };

enum stop_reason {
    STOP_NONE = 0,
    STOP_POWEROFF, /* guest powered off / passed: exit_code holds the status */
    STOP_RESET,    /* guest asked for a reboot */
    STOP_ERROR,    /* emulator-side fatal condition, message already printed */
};

struct machine {
    struct region regions[MACHINE_MAX_REGIONS];
    int nregions;

    /* RAM, the one region harts use for page tables, LR/SC and code */
    uint8_t *ram;
    uint64_t ram_base, ram_size;
    uint8_t *page_flags;        /* one byte per RAM page */
    _Atomic uint32_t *page_gen; /* bumped whenever a PAGE_CODE page is written */
    /* RAM mapped copy-on-write from a state file (machine/vmstate.c): one
     * bit per page, set for the pages the file holds; NULL otherwise. */
    uint8_t *ram_file_pages;
    /* Dirty logging (live migration, src/vmm/migrate.c): while
     * dirty_logging, every RAM page written is marked in dirty_log (one
     * bit per page): on a hart's write-TLB refill (so writers must drop
     * their write entries when a round starts: hart_drop_writes_all) and
     * in machine_memory_written (devices, the page walker, slow stores). */
    _Atomic bool dirty_logging;
    _Atomic uint64_t *dirty_log;

    struct hart *harts[MACHINE_MAX_HARTS];
    int nharts;

    /* run state */
    _Atomic int stop;  /* enum stop_reason */
    int exit_code;
    _Atomic uint64_t time_base_ns; /* host monotonic time at mtime = 0 */

    /* HTIF (bare-metal test convention), 0 when absent */
    uint64_t tohost, fromhost;

    /* devices keep their own state; the machine knows them by role */
    struct plic *plic;
    struct uart *uart;
#define MACHINE_MAX_DEVICES 8
    struct blk *disks[MACHINE_MAX_DEVICES];
    int ndisks;
    struct vnet *nics[MACHINE_MAX_DEVICES];
    int nnics;
    struct balloon *balloon;
    struct vcon *agent; /* virtio console: the host's channel to the guest (shutdown) */
    struct vinput *power_button; /* virtio input: KEY_POWER (shutdown) */
    struct console *console;

    /* Every device the board attached, in attach order, with the object its
     * registers were mapped with: what saving and restoring the machine's
     * state walks (machine/vmstate.h; each model's save/load, device.h). */
#define MACHINE_MAX_DEVICE_ROWS 32
    struct machine_device {
        const struct device_model *model;
        void *dev;        /* the opaque of its register region */
        char name[32];    /* its device-tree node: name@base (the state's section) */
    } devs[MACHINE_MAX_DEVICE_ROWS];
    int ndevs;

    /* Pausing (src/vmm/vcpu.c): while pause_req is set, each hart leaves
     * hart_run at its next poll (HART_EXIT_PAUSE) and its vCPU thread waits;
     * nquiet counts the vCPU threads that wait (paused, or parked by SBI HSM
     * hart_stop and kept parked while the pause lasts). */
    _Atomic bool pause_req;
    int nquiet;
    pthread_mutex_t pause_lock; /* guards pause_req's changes and nquiet */
    pthread_cond_t pause_cond;  /* nquiet went up */
    /* While paused the guest's clock stands still: mtime when the pause
     * began (what a save records; a resume goes on from it). */
    bool time_frozen;
    uint64_t frozen_mtime;

    /* Built-in SBI (direct kernel boot): S-mode ECALLs are answered by the
     * VMM instead of trapping to M-mode firmware. Returns ECALL_*. */
    int (*ecall_hook)(struct hart *h);

    /* Called by each hart at its poll points (every few thousand
     * instructions); may sleep (kumo-vmm's CPU cap, src/vmm/cpuctl.h). */
    void (*pace_hook)(struct hart *h, void *arg);
    void *pace_arg;

    /* what to free with the machine, in reverse order of registration */
    struct {
        void (*fn)(void *);
        void *arg;
    } cleanup[MACHINE_MAX_REGIONS];
    int ncleanup;

    pthread_mutex_t lock; /* serialises slow, rare machine-wide operations */
};

/* Lifecycle */
struct machine *machine_new(uint64_t ram_base, uint64_t ram_size);
void machine_free(struct machine *m);
int machine_add_region(struct machine *m, const struct region *r);
int machine_add_rom(struct machine *m, uint64_t base, uint64_t size, const char *name);
/* Have fn(arg) called when the machine is freed (devices' destructors), in
 * reverse order of registration; at most MACHINE_MAX_REGIONS of them. */
void machine_on_free(struct machine *m, void (*fn)(void *), void *arg);

/* Reserve lazily-backed anonymous memory, named in /proc/PID/smaps. */
void *machine_map_anon(uint64_t size, const char *name);
void machine_unmap_anon(void *p, uint64_t size);

/* Find the region holding [pa, pa+len), or NULL. */
const struct region *machine_find(const struct machine *m, uint64_t pa, uint64_t len);

/* Host pointer for guest-physical [pa, pa+len) if it is all RAM/ROM, else NULL. */
void *machine_host_ptr(struct machine *m, uint64_t pa, uint64_t len);
/* The same for memory the guest may write: RAM only, never the boot ROM
 * (what the VMM writes on the guest's behalf: page-table A/D bits, SBI
 * console reads). */
void *machine_host_ptr_rw(struct machine *m, uint64_t pa, uint64_t len);

/* Physical access for the slow paths (MMIO, misaligned, page walks).
 * Return false on an access fault (nothing mapped, or write to ROM). */
bool machine_read(struct machine *m, uint64_t pa, int size, uint64_t *val);
bool machine_write(struct machine *m, uint64_t pa, int size, uint64_t val);

/* Copy into guest RAM/ROM (loaders); false when the range is not backed. */
bool machine_load(struct machine *m, uint64_t pa, const void *data, uint64_t len);

/* A device or loader changed guest memory: drop stale decoded code. */
void machine_memory_written(struct machine *m, uint64_t pa, uint64_t len);

/* Timebase: mtime ticks at 10 MHz from host monotonic time. */
#define MACHINE_TIMEBASE_HZ 10000000ull
uint64_t machine_time(const struct machine *m);
uint64_t machine_now_ns(void);

/* Ask every hart to stop (thread-safe); the first reason wins. */
void machine_stop(struct machine *m, enum stop_reason why, int exit_code);

/* Dirty logging (see struct machine): start (the log empty; allocated on
 * first use, 0 or -1 when out of memory), stop, and take the pages marked
 * since the last harvest into out (one bit per page, ram_size / 4 KiB
 * bits), clearing them: the count of pages taken. */
int machine_dirty_log_start(struct machine *m);
void machine_dirty_log_stop(struct machine *m);
uint64_t machine_dirty_log_harvest(struct machine *m, uint64_t *out);

/* Which RAM pages may hold anything but zeros: a malloc'd vector of one
 * byte per page, 1 for a page the VMM has touched (in memory or swapped
 * out, from /proc/self/pagemap) or one the file RAM was mapped from holds
 * (ram_file_pages); every page when the kernel does not say. NULL when out
 * of memory. What a save and a migration send (machine/vmstate.c,
 * vmm/migrate.c); mincore(2) would miss swapped-out pages. */
unsigned char *machine_ram_touched(struct machine *m);

/* Mark RAM page `page` dirty when logging (any thread). */
static inline void machine_note_dirty(struct machine *m, uint64_t page)
{
    if (__builtin_expect(atomic_load_explicit(&m->dirty_logging, memory_order_relaxed), 0))
        atomic_fetch_or_explicit(&m->dirty_log[page >> 6], 1ull << (page & 63),
                                 memory_order_relaxed);
}

static inline uint64_t ram_page_index(const struct machine *m, uint64_t pa)
{
    return (pa - m->ram_base) >> 12;
}

static inline bool in_ram(const struct machine *m, uint64_t pa)
{
    return pa - m->ram_base < m->ram_size;
}

#endif
