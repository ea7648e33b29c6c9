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
#define EV_CHECK     1u /* re-evaluate timers and interrupts */
#define EV_TLB_FLUSH 2u /* drop every TLB entry (another hart marked a code page) */
#define EV_STOP      4u /* the machine is stopping */
#define EV_FLUSH_CODE 8u /* drop decoded blocks (remote FENCE.I) */

/* Instructions between polls of timers and stop requests. */
#define HART_BUDGET 8192

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
/* Re-select the TLB sets after a change of privilege, SUM, MPRV or MPP. */
void mmu_update_ctx(struct hart *h);
/* Drop write-TLB entries pointing at the given host page (it now holds code). */
void mmu_drop_write_page(struct hart *h, const uint8_t *host_page);
void mmu_flush_tlb_page(struct hart *h, uint64_t va);
/* PMP: may [pa, pa+len) be accessed with acc at privilege priv? */
bool pmp_allows(const struct hart *h, uint64_t pa, uint64_t len, enum access acc, int priv);

/* ---- trap.c ---- */
void hart_take_trap(struct hart *h, uint64_t cause, uint64_t tval, bool interrupt);
/* Take the highest-priority pending enabled interrupt, if any. */
bool hart_check_interrupts(struct hart *h);
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
void block_cache_flush(struct hart *h);
struct block_cache *block_cache_new(void);
void block_cache_free(struct block_cache *bc);

#endif
