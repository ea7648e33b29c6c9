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
#include "cpu/jit/jit.h"
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

/* Above this many filled indexes a set is emptied with memset. */
#define TLB_SPARSE_MAX (TLB_SIZE / 4)

/* The indexes of s that may hold valid entries (way 0 or 1), in out;
 * returns how many. */
static unsigned tlb_set_filled(const struct tlb_set *s, uint16_t out[TLB_SIZE])
{
    unsigned n = 0;
    if (!s->tracked) {
        for (unsigned i = 0; i < TLB_SIZE; i++) out[n++] = (uint16_t)i;
        return n;
    }
    for (unsigned w = 0; w < TLB_SIZE / 64; w++)
        for (uint64_t bits = s->filled[w]; bits; bits &= bits - 1)
            out[n++] = (uint16_t)(w * 64 + (unsigned)__builtin_ctzll(bits));
    return n;
}

static void tlb_set_clear(struct tlb_set *s)
{
    /* ~0 never matches: a looked-up tag always has its low bits clear
     * except for the alignment bits, and an all-ones address is never aligned. */
    if (!s->tracked || s->nfilled > TLB_SPARSE_MAX) {
        memset(s->e, 0xff, sizeof(s->e));
        memset(s->w1, 0xff, sizeof(s->w1));
    } else {
        uint16_t idxs[TLB_SIZE];
        unsigned n = tlb_set_filled(s, idxs);
        for (unsigned j = 0; j < n; j++)
            for (int acc = 0; acc < 3; acc++)
                s->e[acc][idxs[j]].tag = s->w1[acc][idxs[j]].tag = ~0ull;
    }
    memset(s->victim, 0xff, sizeof(s->victim));
    memset(s->filled, 0, sizeof(s->filled));
    s->nfilled = 0;
    s->victims = false;
    s->tracked = true;
    s->nsuper = 0;
}

/* The host address of va from way 1 or the victim entries (moved to way 0,
 * way 0 to where it was found), or NULL. */
static uint8_t *victim_hit(struct tlb_set *s, uint64_t va, enum access acc)
{
    uint64_t page = va & ~PAGE_MASK;
    unsigned idx = (unsigned)(va >> PAGE_SHIFT) & (TLB_SIZE - 1);
    struct tlb_entry *e = &s->e[acc][idx], *w = &s->w1[acc][idx];
    struct tlb_entry *v = NULL;
    if (w->tag == page)
        v = w;
    else
        for (int k = 0; k < TLB_VICTIMS && !v; k++)
            if (s->victim[acc][k].tag == page) v = &s->victim[acc][k];
    if (!v) return NULL;
    struct tlb_entry t = *e;
    *e = *v;
    *v = t;
    return (uint8_t *)(e->addend + va);
}

static void space_clear(struct tlb_space *sp)
{
    for (int c = 0; c < TLB_NCTX; c++) tlb_set_clear(&sp->set[c]);
}

bool mmu_init(struct hart *h)
{
    /* Lazily backed: a space's memory is touched when first used. */
    h->spaces = machine_map_anon(TLB_SPACES * sizeof(struct tlb_space), "kumo:tlb");
    if (!h->spaces) return false;
    h->space = &h->spaces[0];
    h->space->used = true;
    space_clear(h->space);
    tlb_set_clear(&h->tlb_m);
    return true;
}

void mmu_free(struct hart *h)
{
    if (h->spaces) machine_unmap_anon(h->spaces, TLB_SPACES * sizeof(struct tlb_space));
    h->spaces = h->space = NULL;
}

void hart_tlb_flush(struct hart *h)
{
    h->stats.tlb_flush++;
    tlb_set_clear(&h->tlb_m);
    for (int k = 0; k < TLB_SPACES; k++) h->spaces[k].used = false;
    space_clear(h->space);
    h->space->used = true;
    h->space->satp = h->satp;
}

void mmu_switch_space(struct hart *h)
{
    struct tlb_space *cur = h->space;
    if (cur->satp == h->satp) return;
    struct tlb_space *pick = NULL, *spare = NULL;
    for (int k = 0; k < TLB_SPACES; k++) {
        struct tlb_space *sp = &h->spaces[k];
        if (!sp->used) {
            if (!spare || spare->used) spare = sp;
        } else if (sp->satp == h->satp) {
            pick = sp;
            break;
        } else if (!spare || (spare->used && sp->stamp < spare->stamp)) {
            spare = sp;
        }
    }
    h->stats.space_switch++;
    if (!pick) {
        h->stats.space_new++;
        pick = spare;
        space_clear(pick);
        pick->used = true;
        pick->satp = h->satp;
    }
    pick->stamp = ++h->space_clock;
    h->space = pick;
    mmu_update_ctx(h);
}

/* Drop the translations of the 4 KiB page holding va, and every piece of a
 * superpage holding it. */
static void set_flush_va(struct tlb_set *s, uint64_t va)
{
    uint64_t page = va & ~PAGE_MASK;
    unsigned idx = (unsigned)(va >> PAGE_SHIFT) & (TLB_SIZE - 1);
    /* A set's entries are cold in the host's caches: look only where the
     * bookkeeping says something may be (every set of every space is
     * visited by a flush without an ASID). */
    if (s->tracked && s->nfilled == 0) return; /* empty (victims come from filled entries) */
    if (!s->tracked || ((s->filled[idx / 64] >> (idx % 64)) & 1))
        for (int acc = 0; acc < 3; acc++) {
            if (s->e[acc][idx].tag == page) s->e[acc][idx].tag = ~0ull;
            if (s->w1[acc][idx].tag == page) s->w1[acc][idx].tag = ~0ull;
        }
    if (!s->tracked || s->victims)
        for (int acc = 0; acc < 3; acc++)
            for (int k = 0; k < TLB_VICTIMS; k++)
                if (s->victim[acc][k].tag == page) s->victim[acc][k].tag = ~0ull;
    if (s->nsuper == 0) return;
    if (s->nsuper > TLB_SUPER_MAX) {
        tlb_set_clear(s);
        return;
    }
    uint16_t idxs[TLB_SIZE];
    int n = -1; /* the filled indexes, listed at the first superpage va is in */
    for (uint32_t k = 0; k < s->nsuper;) {
        uint64_t base = s->super_base[k], mask = s->super_mask[k];
        if ((va & ~mask) != base) {
            k++;
            continue;
        }
        if (n < 0) n = (int)tlb_set_filled(s, idxs);
        for (int acc = 0; acc < 3; acc++) {
            for (int j = 0; j < n; j++) {
                unsigned i = idxs[j];
                if ((s->e[acc][i].tag & ~mask) == base) s->e[acc][i].tag = ~0ull;
                if ((s->w1[acc][i].tag & ~mask) == base) s->w1[acc][i].tag = ~0ull;
            }
            for (int v = 0; v < TLB_VICTIMS; v++)
                if ((s->victim[acc][v].tag & ~mask) == base) s->victim[acc][v].tag = ~0ull;
        }
        s->nsuper--;
        s->super_base[k] = s->super_base[s->nsuper];
        s->super_mask[k] = s->super_mask[s->nsuper];
    }
}

void mmu_sfence(struct hart *h, bool by_va, uint64_t va, bool by_asid, uint64_t asid)
{
    if (by_va)
        h->stats.sfence_va++;
    else
        h->stats.sfence_all++;
    for (int k = 0; k < TLB_SPACES; k++) {
        struct tlb_space *sp = &h->spaces[k];
        if (!sp->used) continue;
        if (by_asid && ((sp->satp >> 44) & 0xffff) != (asid & 0xffff)) continue;
        if (!by_va) {
            space_clear(sp);
            continue;
        }
        for (int c = 0; c < TLB_NCTX; c++) set_flush_va(&sp->set[c], va);
    }
}

/* Apply fn to every TLB set in use; true if any call returned true. */
static bool each_set(struct hart *h, bool (*fn)(struct hart *, struct tlb_set *, const void *),
                     const void *arg)
{
    bool any = fn(h, &h->tlb_m, arg);
    for (int k = 0; k < TLB_SPACES; k++)
        if (h->spaces[k].used)
            for (int c = 0; c < TLB_NCTX; c++) any |= fn(h, &h->spaces[k].set[c], arg);
    return any;
}

static bool drop_write_in_set(struct hart *h, struct tlb_set *s, const void *host_page)
{
    (void)h;
    uint16_t idxs[TLB_SIZE];
    unsigned n = tlb_set_filled(s, idxs);
    for (unsigned j = 0; j < n; j++) {
        struct tlb_entry *e = &s->e[ACC_WRITE][idxs[j]], *w = &s->w1[ACC_WRITE][idxs[j]];
        if (e->tag != ~0ull && e->tag + e->addend == (uintptr_t)host_page) e->tag = ~0ull;
        if (w->tag != ~0ull && w->tag + w->addend == (uintptr_t)host_page) w->tag = ~0ull;
    }
    struct tlb_entry *e = s->victim[ACC_WRITE];
    for (unsigned i = 0; i < TLB_VICTIMS; i++)
        if (e[i].tag != ~0ull && e[i].tag + e[i].addend == (uintptr_t)host_page) e[i].tag = ~0ull;
    return false;
}

void mmu_drop_write_page(struct hart *h, const uint8_t *host_page)
{
    each_set(h, drop_write_in_set, host_page);
}

static bool drop_code_writes(struct hart *h, struct tlb_entry *e, unsigned n)
{
    struct machine *m = h->m;
    bool any = false;
    for (unsigned i = 0; i < n; i++) {
        if (e[i].tag == ~0ull) continue;
        const uint8_t *host = (const uint8_t *)(e[i].tag + e[i].addend);
        if (host < m->ram || host >= m->ram + m->ram_size) continue;
        uint64_t page = (uint64_t)(host - m->ram) >> PAGE_SHIFT;
        if (!(__atomic_load_n(&m->page_flags[page], __ATOMIC_ACQUIRE) & PAGE_CODE)) continue;
        /* This hart could have stored to the page after another hart
         * decoded it, unseen: count the page as written. */
        e[i].tag = ~0ull;
        machine_memory_written(m, m->ram_base + (page << PAGE_SHIFT), 1);
        any = true;
    }
    return any;
}

static bool drop_code_writes_in_set(struct hart *h, struct tlb_set *s, const void *arg)
{
    (void)arg;
    bool any = drop_code_writes(h, s->e[ACC_WRITE], TLB_SIZE);
    any = drop_code_writes(h, s->w1[ACC_WRITE], TLB_SIZE) || any;
    return drop_code_writes(h, s->victim[ACC_WRITE], TLB_VICTIMS) || any;
}

static bool drop_all_writes_in_set(struct hart *h, struct tlb_set *s, const void *arg)
{
    (void)h;
    (void)arg;
    for (unsigned i = 0; i < TLB_SIZE; i++) s->e[ACC_WRITE][i].tag = ~0ull;
    for (unsigned i = 0; i < TLB_SIZE; i++) s->w1[ACC_WRITE][i].tag = ~0ull;
    for (unsigned i = 0; i < TLB_VICTIMS; i++) s->victim[ACC_WRITE][i].tag = ~0ull;
    return false;
}

void mmu_drop_all_writes(struct hart *h)
{
    each_set(h, drop_all_writes_in_set, NULL);
}

bool mmu_drop_code_writes(struct hart *h)
{
    bool any = each_set(h, drop_code_writes_in_set, NULL);
    h->stats.drop_writes += any;
    return any;
}

static int data_priv(const struct hart *h)
{
    if (h->priv == PRIV_M && (h->mstatus & MSTATUS_MPRV))
        return (int)((h->mstatus & MSTATUS_MPP) >> MSTATUS_MPP_SHIFT);
    return h->priv;
}

static struct tlb_set *set_of(struct hart *h, int priv, bool sum)
{
    if (priv == PRIV_M) return &h->tlb_m;
    if (priv == PRIV_U) return &h->space->set[TLB_CTX_U];
    return &h->space->set[sum ? TLB_CTX_S_SUM : TLB_CTX_S];
}

void mmu_update_ctx(struct hart *h)
{
    h->tlb_fetch = set_of(h, h->priv, false);
    h->tlb_data = set_of(h, data_priv(h), h->mstatus & MSTATUS_SUM);
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
static int walk(struct hart *h, uint64_t va, enum access acc, int priv, uint64_t *pa,
                int *leaf_shift)
{
    *leaf_shift = PAGE_SHIFT;
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
            /* a page table in the boot ROM: its A/D bits cannot be set */
            if (!machine_host_ptr_rw(h->m, pte_pa, 8)) return access_fault[acc];
            if (!atomic_compare_exchange_strong(ptep, &pte, pte | need)) goto again;
            machine_memory_written(h->m, pte_pa, 8);
        }
        uint64_t mask = (1ull << shift) - 1;
        *pa = ((ppn << 12) & ~mask) | (va & mask);
        *leaf_shift = shift;
        return -1;
    }
    return page_fault[acc]; /* not reached */
}

/* Translate and PMP-check an access of len bytes at va (all in one page). */
static bool translate(struct hart *h, uint64_t va, uint64_t len, enum access acc, int priv,
                      uint64_t *pa)
{
    h->stats.walks++;
    int cause = walk(h, va, acc, priv, pa, &h->leaf_shift);
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
        if (r->host == h->m->ram) {
            /* Say that a write entry may exist before looking for code: a
             * hart that decodes the page sets PAGE_CODE before it looks for
             * PAGE_WTLB (exec.c), so one of the two sees the other. */
            uint8_t *f = &h->m->page_flags[ram_page_index(h->m, pa_page)];
            if (__atomic_load_n(f, __ATOMIC_RELAXED) & (PAGE_CODE | PAGE_WATCH)) return NULL;
            __atomic_or_fetch(f, PAGE_WTLB, __ATOMIC_SEQ_CST);
            if (__atomic_load_n(f, __ATOMIC_SEQ_CST) & (PAGE_CODE | PAGE_WATCH)) return NULL;
            /* every write through the entry counts from now (live migration) */
            machine_note_dirty(h->m, ram_page_index(h->m, pa_page));
        }
    }
    if (!pmp_allows(h, pa_page, PAGE_SIZE, acc, priv)) return NULL;
#ifdef KUMO_JIT
    if (unlikely(h->check) && acc == ACC_WRITE) jit_check_note_write(h, pa_page, PAGE_SIZE);
#endif
    uint8_t *host_page = r->host + (pa_page - r->base);
    if (h->leaf_shift > PAGE_SHIFT && set->nsuper <= TLB_SUPER_MAX) {
        /* a piece of a superpage: remember the superpage for flushes by address */
        uint64_t mask = (1ull << h->leaf_shift) - 1, base = va & ~mask;
        uint32_t k = 0;
        while (k < set->nsuper && (set->super_base[k] != base || set->super_mask[k] != mask)) k++;
        if (k == set->nsuper) {
            if (set->nsuper < TLB_SUPER_MAX) {
                set->super_base[k] = base;
                set->super_mask[k] = mask;
            }
            set->nsuper++; /* TLB_SUPER_MAX + 1: overflow, flushes by address empty the set */
        }
    }
    unsigned idx = (unsigned)(va >> PAGE_SHIFT) & (TLB_SIZE - 1);
    struct tlb_entry *e = &set->e[acc][idx], *w = &set->w1[acc][idx];
    if (!(set->filled[idx / 64] & (1ull << (idx % 64)))) {
        set->filled[idx / 64] |= 1ull << (idx % 64);
        set->nfilled++;
    }
    for (int k = 0; k < TLB_VICTIMS; k++) /* never two entries for one page */
        if (set->victim[acc][k].tag == va_page) set->victim[acc][k].tag = ~0ull;
    if (w->tag == va_page) w->tag = ~0ull;
    if (e->tag != ~0ull && e->tag != va_page) { /* keep what the entry held */
        if (w->tag != ~0ull) {
            set->victim[acc][set->victim_next[acc]] = *w;
            set->victims = true;
            set->victim_next[acc] = (uint8_t)((set->victim_next[acc] + 1) % TLB_VICTIMS);
        }
        *w = *e;
    }
    e->tag = va_page;
    e->addend = (uintptr_t)host_page - (uintptr_t)va_page;
    /* A write entry only for a plain RAM page: stores to code, watched words
     * and ROM must take the slow path (architecture.md, "Invariants"). Another
     * hart may decode the page from now on: EV_DROP_WRITES takes care of it. */
    assert(acc != ACC_WRITE ||
           (r->host == h->m->ram &&
            !(h->m->page_flags[ram_page_index(h->m, pa_page)] & PAGE_WATCH)));
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
#ifdef KUMO_JIT
    if (unlikely(h->check)) {
        const struct region *r = machine_find(h->m, pa, (uint64_t)size);
        if (!r || !r->host) jit_check_note_device(h);
        if (acc == ACC_WRITE) jit_check_note_write(h, pa, (uint64_t)size);
    }
#endif
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
    if (!(va & (uint64_t)(size - 1))) { /* aligned: maybe a conflict miss */
        const uint8_t *p = victim_hit(h->tlb_data, va, ACC_READ);
        if (p) {
            switch (size) {
            case 1: *val = __atomic_load_n(p, __ATOMIC_RELAXED); break;
            case 2: *val = __atomic_load_n((const uint16_t *)p, __ATOMIC_RELAXED); break;
            case 4: *val = __atomic_load_n((const uint32_t *)p, __ATOMIC_RELAXED); break;
            default: *val = __atomic_load_n((const uint64_t *)p, __ATOMIC_RELAXED); break;
            }
            return true;
        }
    }
    return access_split(h, va, size, ACC_READ, val);
}

bool mmu_store(struct hart *h, uint64_t va, int size, uint64_t val)
{
    if (!(va & (uint64_t)(size - 1)) && !h->check) {
        uint8_t *p = victim_hit(h->tlb_data, va, ACC_WRITE);
        if (p) {
            switch (size) {
            case 1: __atomic_store_n(p, (uint8_t)val, __ATOMIC_RELAXED); break;
            case 2: __atomic_store_n((uint16_t *)p, (uint16_t)val, __ATOMIC_RELAXED); break;
            case 4: __atomic_store_n((uint32_t *)p, (uint32_t)val, __ATOMIC_RELAXED); break;
            default: __atomic_store_n((uint64_t *)p, val, __ATOMIC_RELAXED); break;
            }
            return true;
        }
    }
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
#ifdef KUMO_JIT
    if (unlikely(h->check) && !is_lr) jit_check_note_write(h, *pa, (uint64_t)size);
#endif
    if (!is_lr) machine_memory_written(h->m, *pa, (uint64_t)size);
    return true;
}

const uint8_t *mmu_fetch_ptr(struct hart *h, uint64_t pc, uint32_t *avail)
{
    bool whole;
    return mmu_fetch_page(h, pc, avail, &whole);
}

const uint8_t *mmu_fetch_page(struct hart *h, uint64_t pc, uint32_t *avail, bool *whole)
{
    *whole = true;
    const uint8_t *v = victim_hit(h->tlb_fetch, pc, ACC_EXEC);
    if (v) {
        *avail = (uint32_t)(PAGE_SIZE - (pc & PAGE_MASK));
        return v;
    }
    uint64_t pa;
    if (!translate(h, pc, 2, ACC_EXEC, h->priv, &pa)) return NULL;
    uint8_t *page = tlb_fill(h, h->tlb_fetch, pc, pa, ACC_EXEC, h->priv);
    if (page) {
        *avail = (uint32_t)(PAGE_SIZE - (pc & PAGE_MASK));
        return page + (pc & PAGE_MASK);
    }
    *whole = false;
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
