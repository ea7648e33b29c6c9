/*
 * hart.h - one RISC-V RV64GC hardware thread: architectural state and the
 * interface the board uses to run it.
 *
 * A hart owns its registers, CSRs, software TLBs and its cache of decoded
 * instruction blocks. It reaches memory only through the machine's bus
 * (src/machine/machine.h). Everything another thread may touch (pending
 * interrupt bits, the wake-up flag, stop requests) is an atomic field.
 *
 * The board (src/machine) uses this header only, never cpu/internal.h: the
 * functions at the end are what its firmware parts (boot.c, the built-in
 * SBI in sbi.c) need beyond running the hart.
 */
#ifndef KUMO_CPU_HART_H
#define KUMO_CPU_HART_H

#include <stdatomic.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdint.h>

struct machine;
struct block_cache;
struct vms_in;
struct vms_out;

enum priv { PRIV_U = 0, PRIV_S = 1, PRIV_M = 3 };

/* mstatus bits */
#define MSTATUS_SIE   (1ull << 1)
#define MSTATUS_MIE   (1ull << 3)
#define MSTATUS_SPIE  (1ull << 5)
#define MSTATUS_UBE   (1ull << 6)
#define MSTATUS_MPIE  (1ull << 7)
#define MSTATUS_SPP   (1ull << 8)
#define MSTATUS_VS    (3ull << 9)
#define MSTATUS_MPP   (3ull << 11)
#define MSTATUS_FS    (3ull << 13)
#define MSTATUS_XS    (3ull << 15)
#define MSTATUS_MPRV  (1ull << 17)
#define MSTATUS_SUM   (1ull << 18)
#define MSTATUS_MXR   (1ull << 19)
#define MSTATUS_TVM   (1ull << 20)
#define MSTATUS_TW    (1ull << 21)
#define MSTATUS_TSR   (1ull << 22)
#define MSTATUS_UXL   (3ull << 32)
#define MSTATUS_SXL   (3ull << 34)
#define MSTATUS_SBE   (1ull << 36)
#define MSTATUS_MBE   (1ull << 37)
#define MSTATUS_SD    (1ull << 63)
#define MSTATUS_FS_SHIFT 13
#define MSTATUS_MPP_SHIFT 11

/* interrupt numbers (bit positions in mip/mie) */
#define IRQ_S_SOFT  1
#define IRQ_M_SOFT  3
#define IRQ_S_TIMER 5
#define IRQ_M_TIMER 7
#define IRQ_S_EXT   9
#define IRQ_M_EXT   11
#define MIP_SSIP (1ull << IRQ_S_SOFT)
#define MIP_MSIP (1ull << IRQ_M_SOFT)
#define MIP_STIP (1ull << IRQ_S_TIMER)
#define MIP_MTIP (1ull << IRQ_M_TIMER)
#define MIP_SEIP (1ull << IRQ_S_EXT)
#define MIP_MEIP (1ull << IRQ_M_EXT)
#define MIP_S_MASK (MIP_SSIP | MIP_STIP | MIP_SEIP)

/* exception causes */
enum exc {
    EXC_INSN_MISALIGNED = 0,
    EXC_INSN_ACCESS = 1,
    EXC_ILLEGAL = 2,
    EXC_BREAKPOINT = 3,
    EXC_LOAD_MISALIGNED = 4,
    EXC_LOAD_ACCESS = 5,
    EXC_STORE_MISALIGNED = 6,
    EXC_STORE_ACCESS = 7,
    EXC_ECALL_U = 8,
    EXC_ECALL_S = 9,
    EXC_ECALL_M = 11,
    EXC_INSN_PAGE = 12,
    EXC_LOAD_PAGE = 13,
    EXC_STORE_PAGE = 15,
};

/* memory access types: index into the per-type TLBs */
enum access { ACC_READ = 0, ACC_WRITE = 1, ACC_EXEC = 2 };

/*
 * Software TLB: direct-mapped, one array per access type. An entry maps a
 * virtual page to a host pointer. `tag` is the virtual page address; an
 * aligned access of size n hits when (va & (~PAGE_MASK | (n-1))) == tag, so
 * one compare rejects both misses and misaligned accesses. `addend` is
 * host_address - virtual_address. Invalid entries hold tag = ~0 (never
 * equal to a looked-up value: those have the page-offset bits clear except
 * alignment bits, and an all-ones address is never aligned).
 */
#define TLB_BITS 9
#define TLB_SIZE (1u << TLB_BITS)
#define PAGE_SHIFT 12
#define PAGE_SIZE (1ull << PAGE_SHIFT)
#define PAGE_MASK (PAGE_SIZE - 1)

/* TLB hints of translated code (struct hart's jit_hint) */
#define JIT_HINTS 4096

struct tlb_entry {
    uint64_t tag;
    uintptr_t addend;
};

/*
 * Translation contexts: S-mode with and without SUM and U-mode see
 * different permissions for the same page table, so each gets its own TLB
 * set and switching SUM or privilege is a pointer change, not a flush.
 * M-mode uses its own set (identity map, PMP applied).
 */
enum tlb_ctx { TLB_CTX_U = 0, TLB_CTX_S = 1, TLB_CTX_S_SUM = 2, TLB_NCTX = 3 };

/* Superpages a set holds 4 KiB pieces of (a flush by address inside one
 * must drop every piece); more than this many: any flush by address
 * empties the set. */
#define TLB_SUPER_MAX 8

/* Two-way set associative: a lookup tries e (way 0, one compare in the
 * fast paths), then w1 (way 1: inline in translated code, in the slow path
 * otherwise), then a small victim array, before a page walk. A refill goes
 * to way 0 and pushes way 0 to way 1 and way 1 to the victims: two pages
 * that index the same entry (a stack page and a table, say) both stay. */
#define TLB_VICTIMS 8

struct tlb_set {
    struct tlb_entry e[3][TLB_SIZE];  /* [enum access][index] */
    struct tlb_entry w1[3][TLB_SIZE]; /* way 1 */
    struct tlb_entry victim[3][TLB_VICTIMS];
    uint8_t victim_next[3];
    uint32_t nsuper;                 /* entries used in super_base/super_mask, or
                                        TLB_SUPER_MAX + 1 after an overflow */
    uint64_t super_base[TLB_SUPER_MAX], super_mask[TLB_SUPER_MAX];
    /* The indexes tlb_fill wrote since the set was last emptied: emptying
     * it (a new address space, SFENCE.VMA, thousands of times in a boot)
     * and scanning it touch only those. Untracked (fresh zeroed memory,
     * whose tags would match page 0): emptied whole, then tracked. */
    uint64_t filled[TLB_SIZE / 64];
    uint32_t nfilled;
    bool tracked;
    bool victims; /* a victim entry was written since then */
};

/*
 * Address spaces: the TLB is tagged by satp (mode, ASID and root), as the
 * privileged spec allows: a hart keeps the translations of the last
 * TLB_SPACES address spaces it ran, so a context switch (a satp write) is
 * a pointer change, and SFENCE.VMA flushes by address and by ASID.
 */
#define TLB_SPACES 8

struct tlb_space {
    uint64_t satp;  /* the satp value these translations belong to */
    uint64_t stamp; /* last use (least recently used is replaced) */
    bool used;      /* false: free, its sets hold garbage */
    struct tlb_set set[TLB_NCTX];
};

#define PMP_COUNT 16

/* Why hart_run returned. */
enum hart_exit {
    HART_EXIT_NONE = 0,
    HART_EXIT_STOP,      /* machine asked all harts to stop (poweroff, reset, tohost) */
    HART_EXIT_INSN_LIMIT, /* --max-insns reached */
    HART_EXIT_PARK,       /* the hart stopped itself (SBI HSM hart_stop) */
    HART_EXIT_PAUSE       /* the machine asked harts to pause (machine.pause_req) */
};

/* SBI HSM states */
enum hsm_state {
    HSM_STARTED = 0,
    HSM_STOPPED = 1,
    HSM_START_PENDING = 2,
    HSM_STOP_PENDING = 3,
    HSM_SUSPENDED = 4,
};

/* Event counts for tuning (printed by hart_free at -vv). */
struct hart_stats {
    uint64_t space_switch, space_new; /* satp writes to another address space; new ones */
    uint64_t sfence_all, sfence_va;   /* SFENCE.VMA (local or remote): everything, one page */
    uint64_t fence_i, drop_writes;    /* FENCE.I; pages counted written by EV_DROP_WRITES */
    uint64_t tlb_flush;               /* whole-TLB flushes (PMP, MXR, reset) */
    uint64_t walks;                   /* translations done the long way (page walk or bare) */
    uint64_t blocks, block_flush;     /* blocks decoded; block cache flushes */
    uint64_t straddles;               /* of those: one instruction across two pages */
    uint64_t folds;                   /* jumps folded into the block they end (exec.c) */
};

struct hart {
    /* --- hot state, used on every instruction --- */
    uint64_t x[33];      /* x[32] is a write sink for rd = x0 */
    uint64_t f[32];      /* FP registers; single values are NaN-boxed */
    uint64_t pc;
    struct tlb_set *tlb_fetch; /* TLB set for fetches (current privilege) */
    struct tlb_set *tlb_data;  /* TLB set for loads/stores (MPRV-aware) */
    int64_t budget;            /* instructions left before the next slow check */
    atomic_uint events;        /* set by other threads: re-check interrupts/stop */
    enum priv priv;
    uint32_t fflags;           /* accrued FP exception flags */
    uint32_t frm;              /* dynamic rounding mode */
    void *jit_link;            /* translated code: the exit record of a pending chain */
    /* Translated code's TLB hints: for each load and store site (numbered
     * by the translator, modulo JIT_HINTS), the offset in a tlb_set of the
     * entry the site last hit. A guess, checked against that entry's tag
     * before use, so it only has to be an entry's offset: index * 16, plus
     * offsetof(struct tlb_set, w1) for way 1 (0, the initial value, is one). */
    uint32_t jit_hint[JIT_HINTS];
    int32_t jit_iters; /* --jit check: the iterations a loop may still run */

    /* --- CSRs --- */
    uint64_t mstatus;
    uint64_t misa;
    uint64_t medeleg, mideleg;
    uint64_t mie;
    _Atomic uint64_t mip; /* bits set asynchronously by devices */
    uint64_t mip_sw;      /* SEIP as written by software (ORed with the external line) */
    uint64_t mtvec, stvec;
    uint64_t mscratch, sscratch;
    uint64_t mepc, sepc;
    uint64_t mcause, scause;
    uint64_t mtval, stval;
    uint64_t satp;
    uint32_t mcounteren, scounteren;
    uint64_t menvcfg, senvcfg;
    uint64_t mcountinhibit;
    uint64_t stimecmp;
    uint64_t mhartid;
    uint8_t pmpcfg[PMP_COUNT];
    uint64_t pmpaddr[PMP_COUNT];
    uint64_t instret;     /* retired instructions (also the cycle counter) */
    uint64_t traps;        /* exceptions taken (--max-insns counts them: a trap loop ends) */
    int64_t instret_off;  /* minstret = instret + instret_off */
    int64_t cycle_off;    /* mcycle = instret + cycle_off */

    /* LR/SC reservation */
    uint64_t resv_addr;  /* physical address, or ~0 when none */
    uint64_t resv_value; /* value loaded by LR, compared by SC */

    /* pending trap raised by a helper (cause, tval) */
    uint64_t exc_cause;
    uint64_t exc_tval;

    /* --- slower-moving state --- */
    struct tlb_set tlb_m;       /* M-mode: no translation, PMP only */
    struct tlb_space *spaces;   /* TLB_SPACES address spaces (mmu.c) */
    struct tlb_space *space;    /* the current one (satp) */
    uint64_t space_clock;       /* stamps for LRU */
    int leaf_shift;             /* page size (log2) of the last successful walk */
    int satp_mode;    /* 0 bare, 8 sv39, 9 sv48, 10 sv57 */
    uint64_t satp_root; /* physical address of the root page table */
    _Atomic uint64_t mtimecmp; /* the CLINT comparator for this hart */
    int64_t budget_start;      /* budget at the last poll (instret accounting) */
    atomic_bool wfi;           /* sleeping in WFI */
    _Atomic uint64_t idle_ns;  /* wall time spent waiting in WFI (and stopped, vcpu.c) */
    uint64_t idle_since_ns;    /* CLOCK_MONOTONIC start of the wait in progress, 0 when
                                * none; guarded by wfi_lock (see hart_idle_ns) */
    pthread_mutex_t wfi_lock;
    pthread_cond_t wfi_cond;
    uint64_t max_insns; /* 0 = unlimited */
    int max_satp_mode;  /* 8 (Sv39), 9 (Sv48) or 10 (Sv57): the largest accepted */
    _Atomic int hsm_state;      /* enum hsm_state */
    uint64_t start_pc, start_arg; /* HSM hart_start parameters */
    uint64_t sta_shmem;         /* SBI STA shared memory (guest physical), 0: none */
    atomic_uint fence_req;      /* remote fence requests posted to this hart */
    atomic_uint fence_done;     /* ... and how many it has carried out */
    pthread_mutex_t fence_lock; /* guards sfence_req */
    struct {
        bool all;   /* flush everything (overflow, or asked for) */
        int n;      /* ranges below */
        struct {
            uint64_t va, size, asid; /* asid ~0: every address space */
        } r[4];
    } sfence_req;               /* remote SFENCE.VMA requests not yet carried out */
    struct hart_stats stats;
    struct machine *m;
    struct block_cache *bc;
    struct jit *jit;            /* the translator's state, NULL with --jit off */
    struct jit_check *check;    /* the differential checker's, with --jit check */
    int jit_mode;               /* enum jit_mode (cpu/jit/jit.h) */
    int jit_threshold;          /* runs of a block before it is translated */
    uint64_t jit_link_epoch;    /* the code cache epoch of jit_link */
    int id;
    pthread_t thread;  /* the vCPU thread running this hart (for CPU accounting) */
    bool has_thread;
};

/* How harts run guest code (enum jit_mode in cpu/jit/jit.h: 0 off, 1 on,
 * 2 check), for harts created from now on. The default is the environment
 * variable KUMO_JIT (off, on or check), else on where this build has a
 * translator (x86-64 hosts). False (with a message) if the mode is not
 * available in this build. */
bool hart_set_jit_mode(int mode);
int hart_jit_mode(void);
/* The size of each hart's code cache (KUMO_JIT_CACHE_MB or the default);
 * 0 when the translator is off. */
size_t hart_jit_cache_bytes(void);

/* Creation and reset */
struct hart *hart_new(struct machine *m, int id);
void hart_free(struct hart *h);
void hart_reset(struct hart *h, uint64_t pc);

/* Run until the machine asks harts to stop or the instruction limit hits. */
enum hart_exit hart_run(struct hart *h);

/* Sleep until an interrupt is pending in mip & mie, an event is posted, or
 * the machine stops (WFI; also the built-in SBI's suspend). */
void hart_wait_for_interrupt(struct hart *h);
/* Idle time so far (idle_ns), the wait in progress included: what another
 * thread reads while the hart sleeps (a tickless guest's WFI lasts seconds). */
uint64_t hart_idle_ns(struct hart *h);

/* Asynchronous interface for devices and other harts (thread-safe). */
void hart_set_irq(struct hart *h, uint64_t mip_bits, bool level);
void hart_kick(struct hart *h); /* re-check pending events soon; wakes WFI */
/* A page holding decoded code was written (machine.c): every hart forgets
 * the shortcuts to translated code it keeps for indirect jumps. */
void hart_code_written(struct machine *m);

/* Flush every cached translation (PMP change, reset, full SFENCE.VMA). */
void hart_tlb_flush(struct hart *h);

/* Remote fences (SBI RFENCE): ask `target` to carry out a FENCE.I
 * (hart_remote_fence_i) or an SFENCE.VMA of [va, va + size) (size 0 with
 * va 0, or size ~0: everything) in the address spaces of `asid` (~0: all),
 * and wait until it has. `self` keeps serving its own fence requests while
 * it waits, so two harts fencing each other cannot deadlock. */
void hart_remote_fence_i(struct hart *self, struct hart *target);
void hart_remote_sfence(struct hart *self, struct hart *target, uint64_t va, uint64_t size,
                        uint64_t asid);

/* Carry out the requests other harts posted to h (remote fences), on h's
 * own thread while it is outside hart_run (paused), so that they do not
 * wait for the pause to end. */
void hart_serve_requests(struct hart *h);

/* From any thread but a vCPU's: make every hart of m drop its write-TLB
 * entries, and wait until each has (or the machine stops). After it,
 * every store to RAM refills its entry and is seen by dirty logging
 * (machine_note_dirty). The harts' threads must be running. */
void hart_drop_writes_all(struct machine *m);

/* ---- the hart's state (machine/vmstate.h), while it is outside hart_run ---- */

/* Append every architectural register and CSR, the timer comparators, the
 * LR/SC reservation and the SBI HSM state (hart_state.c). */
void hart_state_save(const struct hart *h, struct vms_out *out);
/* Take what hart_state_save wrote, into a hart of the same id; checks every
 * value (-1 with vms_fail's message) and drops cached translations and
 * decoded code. */
int hart_state_load(struct hart *h, struct vms_in *in);

/* ---- for the board's firmware (built-in SBI, boot), on the hart's own thread
 * or before it runs ---- */

/* Set the supervisor timer comparator (stimecmp) and re-evaluate the
 * timer interrupt at once (SBI set_timer). */
void hart_set_stimecmp(struct hart *h, uint64_t when);

/* Load `size` bytes from virtual address va as the hart's data accesses see
 * it now (translation, PMP, MMIO). false: the access would fault; the
 * hart's pending-exception fields say why, no trap is taken. */
bool hart_load_virtual(struct hart *h, uint64_t va, int size, uint64_t *val);

/* The board wrote privilege, mstatus, PMP or delegation fields of struct
 * hart directly (what M-mode firmware would set up): drop cached
 * translations and re-select the translation contexts. */
void hart_csrs_written(struct hart *h);

#endif
