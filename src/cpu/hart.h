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
 * equal to an address with clear low bits ... except itself, see tlb.c).
 */
#define TLB_BITS 8
#define TLB_SIZE (1u << TLB_BITS)
#define PAGE_SHIFT 12
#define PAGE_SIZE (1ull << PAGE_SHIFT)
#define PAGE_MASK (PAGE_SIZE - 1)

struct tlb_entry {
    uint64_t tag;
    uintptr_t addend;
};

/*
 * Translation contexts: S-mode with and without SUM and U-mode see
 * different permissions for the same page table, so each gets its own TLB
 * set and switching SUM or privilege is a pointer change, not a flush.
 * M-mode (and bare satp) uses TLB_CTX_M (identity map, PMP applied).
 */
enum tlb_ctx { TLB_CTX_U = 0, TLB_CTX_S = 1, TLB_CTX_S_SUM = 2, TLB_CTX_M = 3, TLB_NCTX = 4 };

struct tlb_set {
    struct tlb_entry e[3][TLB_SIZE]; /* [enum access][index] */
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
    int64_t instret_off;  /* minstret = instret + instret_off */
    int64_t cycle_off;    /* mcycle = instret + cycle_off */

    /* LR/SC reservation */
    uint64_t resv_addr;  /* physical address, or ~0 when none */
    uint64_t resv_value; /* value loaded by LR, compared by SC */

    /* pending trap raised by a helper (cause, tval) */
    uint64_t exc_cause;
    uint64_t exc_tval;

    /* --- slower-moving state --- */
    struct tlb_set tlb[TLB_NCTX];
    int satp_mode;    /* 0 bare, 8 sv39, 9 sv48, 10 sv57 */
    uint64_t satp_root; /* physical address of the root page table */
    _Atomic uint64_t mtimecmp; /* the CLINT comparator for this hart */
    int64_t budget_start;      /* budget at the last poll (instret accounting) */
    atomic_bool wfi;           /* sleeping in WFI */
    _Atomic uint64_t idle_ns;  /* wall time spent waiting in WFI (and stopped, vcpu.c) */
    pthread_mutex_t wfi_lock;
    pthread_cond_t wfi_cond;
    uint64_t max_insns; /* 0 = unlimited */
    int max_satp_mode;  /* 8 (Sv39), 9 (Sv48) or 10 (Sv57): the largest accepted */
    _Atomic int hsm_state;      /* enum hsm_state */
    uint64_t start_pc, start_arg; /* HSM hart_start parameters */
    uint64_t sta_shmem;         /* SBI STA shared memory (guest physical), 0: none */
    atomic_uint fence_req;      /* remote fence requests posted to this hart */
    atomic_uint fence_done;     /* ... and how many it has carried out */
    struct machine *m;
    struct block_cache *bc;
    int id;
    pthread_t thread;  /* the vCPU thread running this hart (for CPU accounting) */
    bool has_thread;
};

/* Creation and reset */
struct hart *hart_new(struct machine *m, int id);
void hart_free(struct hart *h);
void hart_reset(struct hart *h, uint64_t pc);

/* Run until the machine asks harts to stop or the instruction limit hits. */
enum hart_exit hart_run(struct hart *h);

/* Sleep until an interrupt is pending in mip & mie, an event is posted, or
 * the machine stops (WFI; also the built-in SBI's suspend). */
void hart_wait_for_interrupt(struct hart *h);

/* Asynchronous interface for devices and other harts (thread-safe). */
void hart_set_irq(struct hart *h, uint64_t mip_bits, bool level);
void hart_kick(struct hart *h); /* re-check pending events soon; wakes WFI */

/* Flush every cached translation (satp change, sfence.vma, PMP change). */
void hart_tlb_flush(struct hart *h);

/* Remote fences (SBI RFENCE): ask `target` to flush its TLB (and, with
 * icache, its decoded blocks) and wait until it has. `self` keeps serving
 * its own fence requests while it waits, so two harts fencing each other
 * cannot deadlock. */
void hart_remote_fence(struct hart *self, struct hart *target, bool icache);

/* Carry out the requests other harts posted to h (remote fences), on h's
 * own thread while it is outside hart_run (paused), so that they do not
 * wait for the pause to end. */
void hart_serve_requests(struct hart *h);

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
