/*
 * internal.h - functions shared by the files of the hart (src/cpu/), not
 * part of its public interface (hart.h).
 */
#ifndef KUMO_CPU_INTERNAL_H
#define KUMO_CPU_INTERNAL_H

#include "cpu/hart.h"

#include <stdbool.h>
#include <stdint.h>

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* hart.events bits */
#define EV_CHECK       1u  /* re-evaluate timers and interrupts */
#define EV_SFENCE      2u  /* remote SFENCE.VMA (hart.sfence_req) */
#define EV_STOP        4u  /* the machine is stopping */
#define EV_FENCE_I     8u  /* remote FENCE.I */
#define EV_DROP_WRITES 16u /* another hart decoded a page: drop write-TLB entries to code */
#define EV_CODE        32u /* a page holding decoded code was written */
#define EV_DROP_ALL_W  64u /* drop every write-TLB entry (dirty logging: hart_drop_writes_all) */

/* Instructions between polls of timers and stop requests. */
#define HART_BUDGET 8192
/* ... with the translator, which runs them faster (tens of microseconds) */
#define HART_BUDGET_JIT 65536

/* ---- mmu.c ---- */
/* Translate va for an access; on failure sets h->exc_* and returns false. */
bool mmu_translate(struct hart *h, uint64_t va, enum access acc, uint64_t *pa);
/* Slow paths behind the TLB fast paths; false = exception pending. */
bool mmu_load(struct hart *h, uint64_t va, int size, uint64_t *val);
bool mmu_store(struct hart *h, uint64_t va, int size, uint64_t val);
/* Physical address and host pointer of an aligned naturally-sized atomic
 * access (AMO/LR/SC); false = exception pending (misaligned, fault, MMIO). */
bool mmu_atomic_ptr(struct hart *h, uint64_t va, int size, bool is_lr, void **host,
                    uint64_t *pa);
/* Host pointer of the instruction at pc (refills the fetch TLB), or NULL
 * with an exception pending. *avail = bytes from pc that may be decoded
 * (to the page end, or just this instruction if the page is not cacheable). */
const uint8_t *mmu_fetch_ptr(struct hart *h, uint64_t pc, uint32_t *avail);
/* The same, and whether the whole page may be fetched (it has, or got, a
 * fetch TLB entry: not split by PMP, host memory). */
const uint8_t *mmu_fetch_page(struct hart *h, uint64_t pc, uint32_t *avail, bool *whole);
/* Re-select the TLB sets after a change of privilege, SUM, MPRV or MPP. */
void mmu_update_ctx(struct hart *h);
/* Drop write-TLB entries pointing at the given host page (it now holds code). */
void mmu_drop_write_page(struct hart *h, const uint8_t *host_page);
/* Drop write-TLB entries to pages that became code since they were made
 * (another hart decoded them), counting those pages as written (their
 * generation moves on). True if there were any. */
bool mmu_drop_code_writes(struct hart *h);
/* Drop every write entry of every TLB set: the next store to each page refills (and is logged). */
void mmu_drop_all_writes(struct hart *h);
/* SFENCE.VMA: drop the translations of va (by_va) or all, of the address
 * spaces with ASID asid (by_asid) or all. */
void mmu_sfence(struct hart *h, bool by_va, uint64_t va, bool by_asid, uint64_t asid);
/* satp changed: switch to the TLB of its address space (kept or new). */
void mmu_switch_space(struct hart *h);
/* The TLB's memory: allocated with the hart. */
bool mmu_init(struct hart *h);
void mmu_free(struct hart *h);
/* PMP: may [pa, pa+len) be accessed with acc at privilege priv? */
bool pmp_allows(const struct hart *h, uint64_t pa, uint64_t len, enum access acc, int priv);

/* ---- trap.c ---- */
void hart_take_trap(struct hart *h, uint64_t cause, uint64_t tval, bool interrupt);
/* Take the highest-priority pending enabled interrupt, if any. */
bool hart_check_interrupts(struct hart *h);
/* Would hart_check_interrupts take one now (mip as it stands, timers as
 * last updated)? No side effects. */
bool hart_irq_takeable(struct hart *h);
/* Interrupts pending and enabled in mie, regardless of global enables (WFI). */
uint64_t hart_pending_irqs(struct hart *h);
void hart_update_timers(struct hart *h, uint64_t now);
bool hart_mret(struct hart *h);
bool hart_sret(struct hart *h);

static inline void hart_raise(struct hart *h, uint64_t cause, uint64_t tval)
{
    h->exc_cause = cause;
    h->exc_tval = tval;
}

/* ---- csr.c ---- */
/* Execute a CSR instruction at the current h->pc; false = exception pending. */
bool csr_exec(struct hart *h, int op, int rd, int rs1, uint32_t csr);
uint64_t hart_instret_now(const struct hart *h);
uint64_t hart_read_mip(struct hart *h);

/* ---- exec.c ---- */
/* Carry out fence requests posted by other harts (TLB/code flushes). */
void hart_serve_fences(struct hart *h, unsigned events);
/* FENCE.I: later fetches see every store that precedes it. */
void hart_fence_i(struct hart *h);
void block_cache_flush(struct hart *h);
/* Execute one decoded instruction at pc (bits: its encoding, for the
 * illegal-instruction tval) with the interpreter's semantics. */
enum exec_result {
    EXEC_NEXT,  /* go on at pc + i->len (h->pc untouched) */
    EXEC_JUMP,  /* go on at h->pc */
    EXEC_EXC,   /* exception pending (h->exc_*), h->pc = pc */
    EXEC_PARK,  /* the hart stopped itself (SBI HSM), h->pc = where to resume */
};
struct insn;
int exec_one(struct hart *h, const struct insn *i, uint64_t pc, uint32_t bits);
struct block_cache *block_cache_new(void);
void block_cache_free(struct block_cache *bc);

#endif
