/*
 * test_mmu.c - address translation and PMP, driven directly: page tables are
 * built in guest RAM by hand, then mmu_translate is asked for each case and
 * the resulting physical address or exception cause is checked against the
 * privileged specification (Sv39/Sv48/Sv57, A/D updates, SUM, MXR, MPRV,
 * superpages, PMP).
 */
#include "cpu/decode.h"
#include "cpu/internal.h"
#include "machine/machine.h"

#include <signal.h>
#include <stdio.h>
#include <sys/time.h>
#include <string.h>

#define RAM_BASE 0x80000000ull
#define RAM_SIZE (64ull << 20)

#define V (1u << 0)
#define R (1u << 1)
#define W (1u << 2)
#define X (1u << 3)
#define U (1u << 4)
#define A (1u << 6)
#define D (1u << 7)

static struct machine *m;
static struct hart *h;
static uint64_t next_table = RAM_BASE + 0x100000; /* page tables allocated from here */

static uint64_t *pte_ptr(uint64_t pa)
{
    return (uint64_t *)machine_host_ptr(m, pa, 8);
}

static uint64_t new_table(void)
{
    uint64_t t = next_table;
    next_table += 4096;
    memset(machine_host_ptr(m, t, 4096), 0, 4096);
    return t;
}

/* Map va -> pa at `level` (0 = 4 KiB, 1 = 2 MiB/megapage, ...) in a
 * `levels`-deep table rooted at root; returns the PTE's physical address. */
static uint64_t map(uint64_t root, int levels, uint64_t va, uint64_t pa, int level, uint64_t flags)
{
    uint64_t table = root;
    for (int l = levels - 1; l > level; l--) {
        uint64_t *p = pte_ptr(table + ((va >> (12 + 9 * l)) & 511) * 8);
        if (!(*p & V)) *p = ((new_table() >> 12) << 10) | V;
        table = ((*p >> 10) & ((1ull << 44) - 1)) << 12;
    }
    uint64_t pte_pa = table + ((va >> (12 + 9 * level)) & 511) * 8;
    *pte_ptr(pte_pa) = ((pa >> 12) << 10) | flags;
    return pte_pa;
}

static void set_satp(int mode, uint64_t root)
{
    uint64_t val = (uint64_t)mode << 60 | root >> 12;
    uint64_t old_x10 = h->x[10];
    h->x[10] = val;
    h->priv = PRIV_M;
    mmu_update_ctx(h);
    csr_exec(h, OP_CSRRW, 32, 10, 0x180);
    h->x[10] = old_x10;
}

#include "check.h"

static void as(int priv, uint64_t mstatus_set, uint64_t mstatus_clear)
{
    h->priv = (enum priv)priv;
    h->mstatus = (h->mstatus | mstatus_set) & ~mstatus_clear;
    mmu_update_ctx(h);
}

/* Expect success with the given physical address. */
static void ok(uint64_t va, enum access acc, uint64_t want_pa, int line)
{
    uint64_t pa = 0;
    bool r = mmu_translate(h, va, acc, &pa);
    checks++;
    if (!r || pa != want_pa) {
        failures++;
        printf("FAIL line %d: va %#llx acc %d: got %s pa %#llx cause %llu, want pa %#llx\n", line,
               (unsigned long long)va, acc, r ? "ok" : "fault", (unsigned long long)pa,
               (unsigned long long)h->exc_cause, (unsigned long long)want_pa);
    }
}

static void fault(uint64_t va, enum access acc, uint64_t want_cause, int line)
{
    uint64_t pa = 0;
    h->exc_cause = h->exc_tval = 0;
    bool r = mmu_translate(h, va, acc, &pa);
    checks++;
    if (r || h->exc_cause != want_cause || h->exc_tval != va) {
        failures++;
        printf("FAIL line %d: va %#llx acc %d: got %s cause %llu tval %#llx, want cause %llu\n",
               line, (unsigned long long)va, acc, r ? "ok" : "fault",
               (unsigned long long)h->exc_cause, (unsigned long long)h->exc_tval,
               (unsigned long long)want_cause);
    }
}

#define OK(va, acc, pa) ok(va, acc, pa, __LINE__)
#define FAULT(va, acc, cause) fault(va, acc, cause, __LINE__)

static void pmp_allow_all(void)
{
    h->pmpaddr[0] = (1ull << 54) - 1;
    h->pmpcfg[0] = 0x18 | 7; /* NAPOT, RWX */
    hart_tlb_flush(h);
}

static void test_sv(int mode, int levels)
{
    uint64_t root = new_table();
    uint64_t page = RAM_BASE + 0x200000;
    /* ordinary 4 KiB pages */
    uint64_t pte_rw = map(root, levels, 0x1000, page, 0, V | R | W);
    map(root, levels, 0x2000, page + 0x1000, 0, V | R | W | U | A | D);
    map(root, levels, 0x3000, page + 0x2000, 0, V | X | A);
    map(root, levels, 0x4000, page + 0x3000, 0, V | W | A); /* W without R: reserved */
    map(root, levels, 0x5000, page + 0x4000, 0, R | A);      /* not valid */
    map(root, levels, 0x6000, page + 0x5000, 0, V | R | A);  /* read-only */
    /* a megapage, and one whose PPN is not aligned to its size */
    map(root, levels, 0x40000000, RAM_BASE + 0x400000, 1, V | R | W | X | A | D);
    map(root, levels, 0x40200000, RAM_BASE + 0x401000, 1, V | R | W | A | D);
    /* a high, sign-extended address */
    uint64_t high = ~0ull << (12 + 9 * levels - 1); /* lowest canonical upper-half address */
    map(root, levels, high, page + 0x6000, 0, V | R | W | A | D);

    set_satp(mode, root);
    pmp_allow_all();
    as(PRIV_S, 0, MSTATUS_SUM | MSTATUS_MXR | MSTATUS_MPRV);

    OK(0x1123, ACC_READ, page + 0x123);
    CHECK((*pte_ptr(pte_rw) & (A | D)) == A, "Sv%d: a read sets A only (pte %#llx)", 39 + 9 * (levels - 3),
          (unsigned long long)*pte_ptr(pte_rw));
    OK(0x1ff8, ACC_WRITE, page + 0xff8);
    CHECK((*pte_ptr(pte_rw) & (A | D)) == (A | D), "a write sets D");
    FAULT(0x1000, ACC_EXEC, EXC_INSN_PAGE);

    /* U pages from S: only with SUM, and never for fetch */
    FAULT(0x2000, ACC_READ, EXC_LOAD_PAGE);
    FAULT(0x2000, ACC_WRITE, EXC_STORE_PAGE);
    as(PRIV_S, MSTATUS_SUM, 0);
    OK(0x2000, ACC_READ, page + 0x1000);
    OK(0x2008, ACC_WRITE, page + 0x1008);
    FAULT(0x2000, ACC_EXEC, EXC_INSN_PAGE);
    as(PRIV_S, 0, MSTATUS_SUM);

    /* U mode: U pages only */
    as(PRIV_U, 0, 0);
    OK(0x2010, ACC_READ, page + 0x1010);
    FAULT(0x1000, ACC_READ, EXC_LOAD_PAGE);
    FAULT(0x3000, ACC_EXEC, EXC_INSN_PAGE);
    as(PRIV_S, 0, 0);

    /* execute-only page: loads need MXR */
    OK(0x3004, ACC_EXEC, page + 0x2004);
    FAULT(0x3000, ACC_READ, EXC_LOAD_PAGE);
    as(PRIV_S, MSTATUS_MXR, 0);
    OK(0x3000, ACC_READ, page + 0x2000);
    as(PRIV_S, 0, MSTATUS_MXR);

    FAULT(0x4000, ACC_READ, EXC_LOAD_PAGE);  /* W without R */
    FAULT(0x5000, ACC_READ, EXC_LOAD_PAGE);  /* V = 0 */
    FAULT(0x6000, ACC_WRITE, EXC_STORE_PAGE); /* read-only */
    FAULT(0x7000, ACC_READ, EXC_LOAD_PAGE);  /* unmapped */

    /* megapage: offset bits below 2 MiB come from the address */
    OK(0x40123456, ACC_EXEC, RAM_BASE + 0x400000 + 0x123456);
    FAULT(0x40200000, ACC_READ, EXC_LOAD_PAGE); /* misaligned superpage */

    /* canonical addresses */
    OK(high + 0x10, ACC_READ, page + 0x6010);
    uint64_t noncanon = 1ull << (12 + 9 * levels - 1); /* top VA bit set, upper bits clear */
    FAULT(noncanon, ACC_READ, EXC_LOAD_PAGE);

    /* MPRV: M-mode loads/stores translate as MPP, fetches do not */
    as(PRIV_M, MSTATUS_MPRV, MSTATUS_MPP);
    h->mstatus |= (uint64_t)PRIV_S << MSTATUS_MPP_SHIFT;
    mmu_update_ctx(h);
    OK(0x1010, ACC_READ, page + 0x10);
    OK(RAM_BASE, ACC_EXEC, RAM_BASE);
    h->mstatus &= ~(MSTATUS_MPRV | MSTATUS_MPP);
    mmu_update_ctx(h);
    OK(0x1010, ACC_READ, 0x1010); /* M-mode: bare */
}

static void test_pmp(void)
{
    set_satp(0, 0);
    memset(h->pmpcfg, 0, sizeof(h->pmpcfg));
    memset(h->pmpaddr, 0, sizeof(h->pmpaddr));
    hart_tlb_flush(h);
    as(PRIV_S, 0, 0);
    /* no entry matches: S fails, M succeeds */
    FAULT(RAM_BASE, ACC_READ, EXC_LOAD_ACCESS);
    as(PRIV_M, 0, 0);
    OK(RAM_BASE, ACC_READ, RAM_BASE);

    /* TOR [RAM_BASE, RAM_BASE + 1 MiB) read/execute only, then NAPOT all RWX */
    h->pmpaddr[0] = RAM_BASE >> 2;
    h->pmpaddr[1] = (RAM_BASE + 0x100000) >> 2;
    h->pmpcfg[0] = 0;              /* OFF, only a base for TOR */
    h->pmpcfg[1] = 0x08 | 1 | 4;   /* TOR, R, X */
    h->pmpaddr[2] = (1ull << 54) - 1;
    h->pmpcfg[2] = 0x18 | 7;       /* NAPOT everything */
    hart_tlb_flush(h);
    as(PRIV_S, 0, 0);
    OK(RAM_BASE + 8, ACC_READ, RAM_BASE + 8);
    OK(RAM_BASE + 8, ACC_EXEC, RAM_BASE + 8);
    FAULT(RAM_BASE + 8, ACC_WRITE, EXC_STORE_ACCESS); /* first match wins */
    OK(RAM_BASE + 0x100000, ACC_WRITE, RAM_BASE + 0x100000);
    as(PRIV_M, 0, 0);
    OK(RAM_BASE + 8, ACC_WRITE, RAM_BASE + 8); /* M ignores unlocked entries */
    h->pmpcfg[1] |= 0x80;                      /* locked: applies to M too */
    hart_tlb_flush(h);
    FAULT(RAM_BASE + 8, ACC_WRITE, EXC_STORE_ACCESS);
    /* NA4 */
    memset(h->pmpcfg, 0, sizeof(h->pmpcfg));
    h->pmpaddr[0] = (RAM_BASE + 0x40) >> 2;
    h->pmpcfg[0] = 0x10 | 1; /* NA4, R */
    hart_tlb_flush(h);
    as(PRIV_U, 0, 0);
    OK(RAM_BASE + 0x40, ACC_READ, RAM_BASE + 0x40);
    FAULT(RAM_BASE + 0x44, ACC_READ, EXC_LOAD_ACCESS);
    /* an access straddling the end of a region fails (partial match) */
    CHECK(!pmp_allows(h, RAM_BASE + 0x42, 4, ACC_READ, PRIV_U), "partial match must fail");
    CHECK(pmp_allows(h, RAM_BASE + 0x40, 4, ACC_READ, PRIV_U), "NA4 covers 4 bytes");
}

/* Pages that index the same TLB entry: after one walk each, alternate
 * accesses hit (way 0, way 1, then the victim entries). */
static void test_tlb_conflicts(void)
{
    uint64_t root = new_table();
    uint64_t stride = (uint64_t)TLB_SIZE << PAGE_SHIFT; /* same index */
    const int npages = 1 + 1 + TLB_VICTIMS;          /* all of them fit */
    for (int k = 0; k < npages; k++)
        map(root, 3, 0x40000000 + (uint64_t)k * stride, RAM_BASE + 0x800000 + (uint64_t)k * 4096,
            0, V | R | W | A | D);
    pmp_allow_all();
    set_satp(8, root);
    as(PRIV_S, 0, MSTATUS_MPRV);
    for (int k = 0; k < npages; k++) {
        uint64_t v;
        mmu_load(h, 0x40000000 + (uint64_t)k * stride, 8, &v); /* one walk each */
    }
    uint64_t walks = h->stats.walks;
    for (int round = 0; round < 4; round++)
        for (int k = 0; k < npages; k++) {
            uint64_t v = 1;
            bool ok = mmu_load(h, 0x40000000 + (uint64_t)k * stride + 8, 8, &v);
            checks++;
            if (!ok || v != 0) {
                failures++;
                printf("FAIL conflicting pages: load %d failed\n", k);
            }
        }
    checks++;
    if (h->stats.walks != walks) {
        failures++;
        printf("FAIL %d pages indexing one TLB entry: %llu more walks, want 0\n", npages,
               (unsigned long long)(h->stats.walks - walks));
    }
    set_satp(0, 0);
}

/* A store through machine_write (every store that misses the write TLB)
 * is one store: another hart's atomic add landing in the middle of it is
 * never undone by a second copy of the same store (glibc's memcpy stores
 * small sizes twice). The other hart is a signal handler here, so that it
 * lands inside machine_write at random instructions: a timer interrupts the
 * loop of stores every few microseconds and adds 1 to the word. An add that
 * saw this call's value (so came after its store) must still be there when
 * the call returns. */
static uint64_t *store_word;
static volatile sig_atomic_t store_hit;
static uint64_t store_seen;

static void store_interrupt(int sig)
{
    (void)sig;
    __atomic_store_n(&store_seen, __atomic_fetch_add(store_word, 1, __ATOMIC_SEQ_CST),
                     __ATOMIC_SEQ_CST);
    store_hit = 1;
}

static void test_store_is_single(void)
{
    uint64_t pa = RAM_BASE + 0x3f0000;
    store_word = (uint64_t *)(m->ram + (pa - RAM_BASE));
    struct sigaction sa = {.sa_handler = store_interrupt};
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, 20}, {0, 20}};
    setitimer(ITIMER_REAL, &it, NULL);
    uint64_t lost = 0, hits = 0;
    for (uint64_t i = 1; i <= 4000000; i++) {
        store_hit = 0;
        machine_write(m, pa, 8, i << 32);
        if (!store_hit) continue;
        hits++;
        /* what the add saw first, then the word: an add landing in between
         * only makes the word larger */
        uint64_t seen = __atomic_load_n(&store_seen, __ATOMIC_SEQ_CST);
        uint64_t now = __atomic_load_n(store_word, __ATOMIC_SEQ_CST);
        if ((seen >> 32) == i && (now & 0xffffffff) == 0) lost++;
    }
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    signal(SIGALRM, SIG_DFL);
    CHECK(hits > 0, "the timer never interrupted a store");
    CHECK(lost == 0, "%llu of %llu adds landing in a store were undone by it",
          (unsigned long long)lost, (unsigned long long)hits);
}

int main(void)
{
    m = machine_new(RAM_BASE, RAM_SIZE);
    h = hart_new(m, 0);
    m->harts[m->nharts++] = h;
    test_sv(8, 3);
    test_sv(9, 4);
    test_sv(10, 5);
    test_pmp();
    test_tlb_conflicts();
    test_store_is_single();
    printf("mmu: %d checks, %d failures\n", checks, failures);
    machine_free(m);
    return failures != 0;
}
