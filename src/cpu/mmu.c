/*
 * mmu.c - address translation (Sv39/Sv48/Sv57), physical memory protection
 * and the software TLBs that let the interpreter skip both on a hit.
 *
 * A TLB entry is only created for a whole 4 KiB page that is host memory,
 * allowed by PMP as a whole, and (for writes) neither ROM nor a page whose
 * stores need a side effect (decoded code, the HTIF tohost word). Anything
 * else takes the slow path here on every access, which keeps the fast path
 * in exec.c a single compare.
 */
#include "cpu/internal.h"
#include "cpu/decode.h"
#include "machine/machine.h"

#include <assert.h>
#include <string.h>

#define PTE_V (1ull << 0)
#define PTE_R (1ull << 1)
#define PTE_W (1ull << 2)
#define PTE_X (1ull << 3)
#define PTE_U (1ull << 4)
#define PTE_G (1ull << 5)
#define PTE_A (1ull << 6)
#define PTE_D (1ull << 7)
#define PTE_PPN_MASK ((1ull << 44) - 1)

static const uint8_t page_fault[3] = {EXC_LOAD_PAGE, EXC_STORE_PAGE, EXC_INSN_PAGE};
static const uint8_t access_fault[3] = {EXC_LOAD_ACCESS, EXC_STORE_ACCESS, EXC_INSN_ACCESS};

/* ---- TLB ------------------------------------------------------------------ */

static void tlb_set_clear(struct tlb_set *s)
{
    /* ~0 never matches: a looked-up tag always has its low bits clear
     * except for the alignment bits, and an all-ones address is never aligned. */
    memset(s, 0xff, sizeof(*s));
}

void hart_tlb_flush(struct hart *h)
{
    for (int c = 0; c < TLB_NCTX; c++) tlb_set_clear(&h->tlb[c]);
}

void mmu_flush_tlb_page(struct hart *h, uint64_t va)
{
    /* Entries are 4 KiB pieces of possibly larger pages, so a flush by
     * address cannot find every piece of a superpage: flush everything. */
    (void)va;
    hart_tlb_flush(h);
}

void mmu_drop_write_page(struct hart *h, const uint8_t *host_page)
{
    for (int c = 0; c < TLB_NCTX; c++) {
        struct tlb_entry *e = h->tlb[c].e[ACC_WRITE];
        for (unsigned i = 0; i < TLB_SIZE; i++)
            if (e[i].tag != ~0ull && e[i].tag + e[i].addend == (uintptr_t)host_page)
                e[i].tag = ~0ull;
    }
}

static int data_priv(const struct hart *h)
{
    if (h->priv == PRIV_M && (h->mstatus & MSTATUS_MPRV))
        return (int)((h->mstatus & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT);
    return h->priv;
}

static enum tlb_ctx ctx_of(int priv, bool sum)
{
    if (priv == PRIV_M) return TLB_CTX_M;
    if (priv == PRIV_U) return TLB_CTX_U;
    return sum ? TLB_CTX_S_SUM : TLB_CTX_S;
}

void mmu_update_ctx(struct hart *h)
{
    h->tlb_fetch = &h->tlb[ctx_of(h->priv, false)];
    h->tlb_data = &h->tlb[ctx_of(data_priv(h), h->mstatus & MSTATUS_SUM)];
}

/* ---- PMP ------------------------------------------------------------------ */

bool pmp_allows(const struct hart *h, uint64_t pa, uint64_t len, enum access acc, int priv)
{
    static const uint8_t perm[3] = {1, 2, 4}; /* R, W, X bits of pmpcfg */
    uint64_t end = pa + len; /* exclusive */
    for (int i = 0; i < PMP_COUNT; i++) {
        uint8_t cfg = h->pmpcfg[i];
        uint64_t lo, hi;
        switch ((cfg >> 3) & 3) {
        case 0: continue;
        case 1: /* TOR */
            lo = i ? h->pmpaddr[i - 1] << 2 : 0;
            hi = h->pmpaddr[i] << 2;
            break;
        case 2: /* NA4 */
            lo = h->pmpaddr[i] << 2;
            hi = lo + 4;
            break;
        default: { /* NAPOT */
            uint64_t a = h->pmpaddr[i];
            int t = __builtin_ctzll(~a); /* trailing ones */
            if (t >= 54) {
                lo = 0;
                hi = ~0ull;
            } else {
                lo = (a & ~((1ull << t) - 1)) << 2;
                hi = lo + (1ull << (t + 3));
            }
            break;
        }
        }
        if (lo >= hi || end <= lo || pa >= hi) continue; /* no byte matches */
        if (pa < lo || end > hi) return false;            /* partial match fails */
        if (priv == PRIV_M && !(cfg & 0x80)) return true;
        return (cfg & perm[acc]) != 0;
    }
    /* No entry matched: M-mode succeeds; S/U fail since PMP is implemented. */
    return priv == PRIV_M;
}

/* ---- page-table walk -------------------------------------------------------- */

/*
 * Translate va for an access of type acc at privilege priv. On success sets
 * *pa. On failure returns the exception cause (tval is va).
 */
static int walk(struct hart *h, uint64_t va, enum access acc, int priv, uint64_t *pa)
{
    if (priv == PRIV_M || h->satp_mode == 0) {
        *pa = va;
        return -1;
    }
    int levels = h->satp_mode - 5; /* Sv39 = 8 -> 3 levels, Sv48 -> 4, Sv57 -> 5 */
    int vabits = 12 + 9 * levels;
    int64_t canon = (int64_t)(va << (64 - vabits)) >> (64 - vabits);
    if ((uint64_t)canon != va) return page_fault[acc];

    bool sum = h->mstatus & MSTATUS_SUM, mxr = h->mstatus & MSTATUS_MXR;
    uint64_t table = h->satp_root;
    for (int lvl = levels - 1; lvl >= 0; lvl--) {
        int shift = 12 + 9 * lvl;
        uint64_t pte_pa = table + ((va >> shift) & 511) * 8;
        if (!pmp_allows(h, pte_pa, 8, ACC_READ, PRIV_S)) return access_fault[acc];
        _Atomic uint64_t *ptep = machine_host_ptr(h->m, pte_pa, 8);
        if (!ptep) return access_fault[acc];
        uint64_t pte = atomic_load_explicit(ptep, memory_order_acquire);
    again:
        if (!(pte & PTE_V) || (!(pte & PTE_R) && (pte & PTE_W))) return page_fault[acc];
        if (pte >> 54) return page_fault[acc]; /* reserved bits, Svpbmt, Svnapot: absent */
        uint64_t ppn = (pte >> 10) & PTE_PPN_MASK;
        if (!(pte & (PTE_R | PTE_X))) { /* pointer to the next level */
            if (lvl == 0) return page_fault[acc];
            table = ppn << 12;
            continue;
        }
        /* leaf: permissions */
        if (pte & PTE_U) {
            if (priv == PRIV_S && (acc == ACC_EXEC || !sum)) return page_fault[acc];
        } else if (priv == PRIV_U) {
            return page_fault[acc];
        }
        bool ok = acc == ACC_READ  ? (pte & PTE_R) || (mxr && (pte & PTE_X))
                : acc == ACC_WRITE ? (pte & PTE_W) != 0
                                   : (pte & PTE_X) != 0;
        if (!ok) return page_fault[acc];
        uint64_t low = (1ull << (shift - 12)) - 1;
        if (ppn & low) return page_fault[acc]; /* misaligned superpage */
        /* Accessed/dirty bits: updated by the hart, atomically. */
        uint64_t need = PTE_A | (acc == ACC_WRITE ? PTE_D : 0);
        if ((pte & need) != need) {
            if (!pmp_allows(h, pte_pa, 8, ACC_WRITE, PRIV_S)) return access_fault[acc];
            if (!atomic_compare_exchange_strong(ptep, &pte, pte | need)) goto again;
            machine_memory_written(h->m, pte_pa, 8);
        }
        uint64_t mask = (1ull << shift) - 1;
        *pa = ((ppn << 12) & ~mask) | (va & mask);
        return -1;
    }
    return page_fault[acc]; /* not reached */
}

/* Translate and PMP-check an access of len bytes at va (all in one page). */
static bool translate(struct hart *h, uint64_t va, uint64_t len, enum access acc, int priv,
                      uint64_t *pa)
{
    int cause = walk(h, va, acc, priv, pa);
    if (cause >= 0) {
        hart_raise(h, (uint64_t)cause, va);
        return false;
    }
    if (!pmp_allows(h, *pa, len, acc, priv)) {
        hart_raise(h, access_fault[acc], va);
        return false;
    }
    return true;
}

bool mmu_translate(struct hart *h, uint64_t va, enum access acc, uint64_t *pa)
{
    return translate(h, va, 1, acc, acc == ACC_EXEC ? (int)h->priv : data_priv(h), pa);
}

/* Cache the translation of va's page if the whole page qualifies. */
static uint8_t *tlb_fill(struct hart *h, struct tlb_set *set, uint64_t va, uint64_t pa,
                         enum access acc, int priv)
{
    uint64_t pa_page = pa & ~PAGE_MASK, va_page = va & ~PAGE_MASK;
    const struct region *r = machine_find(h->m, pa_page, PAGE_SIZE);
    if (!r || !r->host) return NULL;
    if (acc == ACC_WRITE) {
        if (r->readonly) return NULL;
        if (r->host == h->m->ram && h->m->page_flags[ram_page_index(h->m, pa_page)]) return NULL;
    }
    if (!pmp_allows(h, pa_page, PAGE_SIZE, acc, priv)) return NULL;
    uint8_t *host_page = r->host + (pa_page - r->base);
    struct tlb_entry *e = &set->e[acc][(va >> PAGE_SHIFT) & (TLB_SIZE - 1)];
    e->tag = va_page;
    e->addend = (uintptr_t)host_page - (uintptr_t)va_page;
    /* A write entry only for a plain RAM page: stores to code, watched words
     * and ROM must take the slow path (architecture.md, "Invariants"). */
    assert(acc != ACC_WRITE ||
           (r->host == h->m->ram && !h->m->page_flags[ram_page_index(h->m, pa_page)]));
    return host_page;
}

/* ---- slow-path data access ------------------------------------------------- */

static bool access_one_page(struct hart *h, uint64_t va, int size, enum access acc,
                            uint64_t *val)
{
    int priv = data_priv(h);
    uint64_t pa;
    if (!translate(h, va, (uint64_t)size, acc, priv, &pa)) return false;
    tlb_fill(h, h->tlb_data, va, pa, acc, priv);
    bool ok;
    if ((pa & (uint64_t)(size - 1)) == 0) {
        ok = acc == ACC_WRITE ? machine_write(h->m, pa, size, *val)
                              : machine_read(h->m, pa, size, val);
    } else {
        /* Misaligned within one page: byte by byte (works for MMIO too). */
        uint64_t v = acc == ACC_WRITE ? *val : 0, b;
        ok = true;
        for (int k = 0; k < size && ok; k++) {
            if (acc == ACC_WRITE) {
                ok = machine_write(h->m, pa + (uint64_t)k, 1, (v >> (8 * k)) & 0xff);
            } else {
                ok = machine_read(h->m, pa + (uint64_t)k, 1, &b);
                v |= b << (8 * k);
            }
        }
        if (acc != ACC_WRITE) *val = v;
    }
    if (!ok) hart_raise(h, access_fault[acc], va);
    return ok;
}

static bool access_split(struct hart *h, uint64_t va, int size, enum access acc, uint64_t *val)
{
    if (((va & PAGE_MASK) + (uint64_t)size) <= PAGE_SIZE)
        return access_one_page(h, va, size, acc, val);
    /* Crosses a page boundary: both parts are checked before any byte is
     * written, then the access is done byte by byte. */
    int first = (int)(PAGE_SIZE - (va & PAGE_MASK));
    uint64_t pa, v = acc == ACC_WRITE ? *val : 0;
    int priv = data_priv(h);
    if (!translate(h, va, (uint64_t)first, acc, priv, &pa) ||
        !translate(h, va + (uint64_t)first, (uint64_t)(size - first), acc, priv, &pa))
        return false;
    for (int k = 0; k < size; k++) {
        uint64_t b = (v >> (8 * k)) & 0xff;
        if (!access_one_page(h, va + (uint64_t)k, 1, acc, &b)) return false;
        if (acc != ACC_WRITE) v |= b << (8 * k);
    }
    *val = v;
    return true;
}

bool mmu_load(struct hart *h, uint64_t va, int size, uint64_t *val)
{
    return access_split(h, va, size, ACC_READ, val);
}

bool mmu_store(struct hart *h, uint64_t va, int size, uint64_t val)
{
    return access_split(h, va, size, ACC_WRITE, &val);
}

bool mmu_atomic_ptr(struct hart *h, uint64_t va, int size, bool is_lr, void **host,
                    uint64_t *pa)
{
    enum access acc = is_lr ? ACC_READ : ACC_WRITE;
    if (va & (uint64_t)(size - 1)) {
        hart_raise(h, is_lr ? EXC_LOAD_MISALIGNED : EXC_STORE_MISALIGNED, va);
        return false;
    }
    int priv = data_priv(h);
    if (!translate(h, va, (uint64_t)size, acc, priv, pa)) return false;
    if (!is_lr && !pmp_allows(h, *pa, (uint64_t)size, ACC_READ, priv)) {
        hart_raise(h, EXC_STORE_ACCESS, va);
        return false;
    }
    if (!in_ram(h->m, *pa)) { /* atomics on ROM or device registers: not supported */
        hart_raise(h, access_fault[acc], va);
        return false;
    }
    *host = h->m->ram + (*pa - h->m->ram_base);
    if (!is_lr) machine_memory_written(h->m, *pa, (uint64_t)size);
    return true;
}

const uint8_t *mmu_fetch_ptr(struct hart *h, uint64_t pc, uint32_t *avail)
{
    uint64_t pa;
    if (!translate(h, pc, 2, ACC_EXEC, h->priv, &pa)) return NULL;
    uint8_t *page = tlb_fill(h, h->tlb_fetch, pc, pa, ACC_EXEC, h->priv);
    if (page) {
        *avail = (uint32_t)(PAGE_SIZE - (pc & PAGE_MASK));
        return page + (pc & PAGE_MASK);
    }
    /* Not cacheable as a page (PMP splits it, or not host memory). */
    uint8_t *p = machine_host_ptr(h->m, pa, 2);
    if (!p) {
        hart_raise(h, EXC_INSN_ACCESS, pc);
        return NULL;
    }
    *avail = 2;
    if (insn_length((uint16_t)(p[0] | p[1] << 8)) == 4 && (pa & PAGE_MASK) <= PAGE_SIZE - 4 &&
        pmp_allows(h, pa, 4, ACC_EXEC, h->priv) && machine_host_ptr(h->m, pa, 4))
        *avail = 4;
    return p;
}
