/*
 * check.c - the differential checker (kumo-vmm --jit check): every block
 * runs twice from the same state, first through the interpreter's own code
 * (exec_one, instruction by instruction), then as translated code, and the
 * whole architectural state is compared afterwards: x and f registers, pc,
 * privilege, every CSR, the reservation, the instruction count, and every
 * byte of guest memory either run wrote. The first difference stops the
 * machine with both states printed. A block that branches to itself (a
 * loop, kept in host registers) runs two iterations per comparison when
 * its back edge is taken, so its prologue, back edge and TLB hints are
 * compared too; chaining is off.
 *
 * Memory: before each run the hart's write-TLB entries are dropped, so the
 * first store to each page takes the slow path, where mmu.c calls
 * jit_check_note_write and the page's contents are saved; the interpreter's
 * stores are undone from those copies before the translated code runs.
 * Blocks that cannot run twice are run once, by the interpreter: those that
 * touched a device register (a second read or write would have an effect),
 * and those with instructions whose result depends on the moment (the time
 * and interrupt-pending CSRs, WFI, calls into the built-in SBI) or that
 * empty the TLB (SFENCE.VMA, PMP writes: a stale translation the first run
 * used would be gone for the second; the spec allows both). Harts take
 * turns to run a block, checked or run once, so another hart cannot change
 * memory between the two runs (a block run once stores too: smc.S's hart
 * stored the flag another hart's checked block was spinning on, between
 * that block's two runs). A hart gives up its turn while it sleeps (WFI, an
 * SBI suspend: hart_wait_for_interrupt), since the hart that would wake it
 * may need the turn first. Device DMA does not take turns.
 */
#include "cpu/jit/jit.h"

#include "cpu/block.h"
#include "cpu/internal.h"
#include "lib/log.h"
#include "machine/machine.h"

#include <assert.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK_PAGES 192

struct check_page {
    uint8_t *host;
    bool by_ref, by_jit;
    uint8_t pre[PAGE_SIZE];
    uint8_t post_ref[PAGE_SIZE];
};

struct jit_check {
    int phase;  /* 0 idle, 1 the interpreter's run, 2 the translated run */
    bool turn;  /* this hart holds the turn */
    bool slept; /* it gave the turn up to sleep, inside a block */
    bool device;
    bool overflow;
    int npages;
    struct check_page pages[CHECK_PAGES];
    uint64_t compared, ref_only, device_blocks;
};

/* The architectural state compared and restored. */
struct arch {
    uint64_t x[32], f[32], pc;
    uint64_t priv, fflags, frm;
    uint64_t mstatus, medeleg, mideleg, mie, mip_sw, mtvec, stvec, mscratch, sscratch;
    uint64_t mepc, sepc, mcause, scause, mtval, stval, satp, mcounteren, scounteren;
    uint64_t menvcfg, senvcfg, stimecmp, instret, instret_off, cycle_off;
    uint64_t resv_addr, resv_value, pmpaddr[PMP_COUNT];
    uint8_t pmpcfg[PMP_COUNT];
    /* not architectural, restored only */
    int64_t budget;
    int satp_mode;
    uint64_t satp_root;
};

static pthread_mutex_t turn = PTHREAD_MUTEX_INITIALIZER;

struct jit_check *jit_check_new(void)
{
    return calloc(1, sizeof(struct jit_check));
}

void jit_check_free(struct jit_check *c, int hart_id)
{
    if (!c) return;
    log_info("hart %d: jit check: %" PRIu64 " blocks compared, %" PRIu64
             " run by the interpreter alone (%" PRIu64 " touched a device)",
             hart_id, c->compared, c->ref_only + c->device_blocks, c->device_blocks);
    free(c);
}

uint64_t jit_check_compared(const struct jit_check *c)
{
    return c ? c->compared : 0;
}

static void save(const struct hart *h, struct arch *a)
{
    memset(a, 0, sizeof(*a));
    memcpy(a->x, h->x, sizeof(a->x));
    memcpy(a->f, h->f, sizeof(a->f));
    a->pc = h->pc;
    a->priv = h->priv;
    a->fflags = h->fflags;
    a->frm = h->frm;
    a->mstatus = h->mstatus;
    a->medeleg = h->medeleg;
    a->mideleg = h->mideleg;
    a->mie = h->mie;
    a->mip_sw = h->mip_sw;
    a->mtvec = h->mtvec;
    a->stvec = h->stvec;
    a->mscratch = h->mscratch;
    a->sscratch = h->sscratch;
    a->mepc = h->mepc;
    a->sepc = h->sepc;
    a->mcause = h->mcause;
    a->scause = h->scause;
    a->mtval = h->mtval;
    a->stval = h->stval;
    a->satp = h->satp;
    a->mcounteren = h->mcounteren;
    a->scounteren = h->scounteren;
    a->menvcfg = h->menvcfg;
    a->senvcfg = h->senvcfg;
    a->stimecmp = h->stimecmp;
    a->instret = hart_instret_now(h);
    a->instret_off = (uint64_t)h->instret_off;
    a->cycle_off = (uint64_t)h->cycle_off;
    a->resv_addr = h->resv_addr;
    a->resv_value = h->resv_value;
    memcpy(a->pmpaddr, h->pmpaddr, sizeof(a->pmpaddr));
    memcpy(a->pmpcfg, h->pmpcfg, sizeof(a->pmpcfg));
    a->budget = h->budget;
    a->satp_mode = h->satp_mode;
    a->satp_root = h->satp_root;
}

static void restore(struct hart *h, const struct arch *a)
{
    memcpy(h->x, a->x, sizeof(a->x));
    h->x[32] = 0;
    memcpy(h->f, a->f, sizeof(a->f));
    h->pc = a->pc;
    h->priv = (enum priv)a->priv;
    h->fflags = (uint32_t)a->fflags;
    h->frm = (uint32_t)a->frm;
    h->mstatus = a->mstatus;
    h->medeleg = a->medeleg;
    h->mideleg = a->mideleg;
    h->mie = a->mie;
    h->mip_sw = a->mip_sw;
    h->mtvec = a->mtvec;
    h->stvec = a->stvec;
    h->mscratch = a->mscratch;
    h->sscratch = a->sscratch;
    h->mepc = a->mepc;
    h->sepc = a->sepc;
    h->mcause = a->mcause;
    h->scause = a->scause;
    h->mtval = a->mtval;
    h->stval = a->stval;
    h->mcounteren = (uint32_t)a->mcounteren;
    h->scounteren = (uint32_t)a->scounteren;
    h->menvcfg = a->menvcfg;
    h->senvcfg = a->senvcfg;
    h->stimecmp = a->stimecmp;
    h->instret_off = (int64_t)a->instret_off;
    h->cycle_off = (int64_t)a->cycle_off;
    h->resv_addr = a->resv_addr;
    h->resv_value = a->resv_value;
    h->budget = a->budget;
    bool pmp = memcmp(h->pmpaddr, a->pmpaddr, sizeof(a->pmpaddr)) ||
               memcmp(h->pmpcfg, a->pmpcfg, sizeof(a->pmpcfg));
    memcpy(h->pmpaddr, a->pmpaddr, sizeof(a->pmpaddr));
    memcpy(h->pmpcfg, a->pmpcfg, sizeof(a->pmpcfg));
    h->satp = a->satp;
    h->satp_mode = a->satp_mode;
    h->satp_root = a->satp_root;
    if (pmp) hart_tlb_flush(h); /* the cached translations were made under other PMP rules */
    mmu_switch_space(h);
    mmu_update_ctx(h);
}

void jit_check_note_write(struct hart *h, uint64_t pa, uint64_t len)
{
    struct jit_check *c = h->check;
    struct machine *m = h->m;
    if (!c || !c->phase || len == 0) return;
    for (uint64_t p = pa & ~PAGE_MASK; p < pa + len; p += PAGE_SIZE) {
        if (!in_ram(m, p)) continue;
        uint8_t *host = m->ram + (p - m->ram_base);
        int k = 0;
        while (k < c->npages && c->pages[k].host != host)
            k++;
        if (k == c->npages) {
            if (c->npages == CHECK_PAGES) {
                c->overflow = true;
                return;
            }
            c->npages++;
            c->pages[k].host = host;
            c->pages[k].by_ref = c->pages[k].by_jit = false;
            memcpy(c->pages[k].pre, host, PAGE_SIZE);
        }
        if (c->phase == 1)
            c->pages[k].by_ref = true;
        else
            c->pages[k].by_jit = true;
    }
}

void jit_check_note_device(struct hart *h)
{
    if (h->check && h->check->phase) h->check->device = true;
}

/* Can the block run twice with the same outcome? */
static bool replayable(const struct hart *h, const struct block *b)
{
    for (uint32_t k = 0; k < b->n; k++) {
        const struct insn *i = &b->insns[k];
        switch (i->op) {
        case OP_WFI: return false;
        case OP_SFENCE_VMA: return false; /* the TLB it empties is not restored */
        case OP_ECALL:
            if (h->m->ecall_hook) return false;
            break;
        case OP_CSRRW:
        case OP_CSRRS:
        case OP_CSRRC:
        case OP_CSRRWI:
        case OP_CSRRSI:
        case OP_CSRRCI: {
            uint32_t csr = (uint32_t)i->imm & 0xfff;
            /* time, mip, sip (device lines), stimecmp and menvcfg (timers); PMP
             * (a write empties the TLB, which is not restored) */
            if (csr == 0xc01 || csr == 0x344 || csr == 0x144 || csr == 0x14d || csr == 0x30a ||
                (csr >= 0x3a0 && csr <= 0x3ef))
                return false;
            break;
        }
        default: break;
        }
    }
    return true;
}

static void drop_write_tlb(struct hart *h)
{
    memset(h->tlb_data->e[ACC_WRITE], 0xff, sizeof(h->tlb_data->e[ACC_WRITE]));
    memset(h->tlb_data->w1[ACC_WRITE], 0xff, sizeof(h->tlb_data->w1[ACC_WRITE]));
    memset(h->tlb_data->victim[ACC_WRITE], 0xff, sizeof(h->tlb_data->victim[ACC_WRITE]));
}

/* The interpreter's run of b: returns an enum jit_exit. */
static int run_reference(struct hart *h, const struct block *b)
{
    uint64_t pc = h->pc;
    h->budget -= b->n;
    for (uint32_t k = 0; k < b->n; k++) {
        const struct insn *i = &b->insns[k];
        switch (exec_one(h, i, pc + i->off, block_insn_bits(b, i))) {
        case EXEC_NEXT: continue;
        case EXEC_JUMP: return JIT_EXIT_LOOKUP;
        case EXEC_PARK: return JIT_EXIT_PARK;
        default:
            h->budget += (int64_t)(b->n - k);
            hart_take_trap(h, h->exc_cause, h->exc_tval, false);
            return JIT_EXIT_EXC;
        }
    }
    h->pc = pc + b->insns[b->n].off;
    return JIT_EXIT_LOOKUP;
}

static void take_turn(struct hart *h)
{
    /* Serve fence requests while waiting: the hart holding the turn may
     * be waiting for this one (a remote fence). */
    while (pthread_mutex_trylock(&turn) != 0) {
        unsigned req = atomic_load(&h->fence_req);
        unsigned mine = atomic_exchange(&h->events, 0);
        if (mine) {
            hart_serve_fences(h, mine);
            atomic_store(&h->fence_done, req);
            atomic_fetch_or(&h->events,
                            mine & ~(EV_SFENCE | EV_FENCE_I | EV_DROP_WRITES | EV_DROP_ALL_W));
        }
        sched_yield();
    }
    h->check->turn = true;
}

static void give_turn(struct hart *h)
{
    assert(h->check->turn);
    h->check->turn = false;
    pthread_mutex_unlock(&turn);
}

void jit_check_sleep(struct hart *h, bool asleep)
{
    struct jit_check *c = h->check;
    if (!c) return;
    if (asleep && c->turn) {
        give_turn(h);
        c->slept = true;
    } else if (!asleep && c->slept) {
        c->slept = false;
        take_turn(h);
    }
}

static const char *const xname[32] = {"zero", "ra", "sp",  "gp",  "tp", "t0", "t1", "t2",
                                      "s0",   "s1", "a0",  "a1",  "a2", "a3", "a4", "a5",
                                      "a6",   "a7", "s2",  "s3",  "s4", "s5", "s6", "s7",
                                      "s8",   "s9", "s10", "s11", "t3", "t4", "t5", "t6"};

#define FIELD(name)                                                                                \
    {                                                                                              \
#name, offsetof(struct arch, name)                                                         \
    }
static const struct {
    const char *name;
    size_t off;
} fields[] = {
    FIELD(pc),         FIELD(priv),        FIELD(fflags),    FIELD(frm),       FIELD(mstatus),
    FIELD(medeleg),    FIELD(mideleg),     FIELD(mie),       FIELD(mip_sw),    FIELD(mtvec),
    FIELD(stvec),      FIELD(mscratch),    FIELD(sscratch),  FIELD(mepc),      FIELD(sepc),
    FIELD(mcause),     FIELD(scause),      FIELD(mtval),     FIELD(stval),     FIELD(satp),
    FIELD(mcounteren), FIELD(scounteren),  FIELD(menvcfg),   FIELD(senvcfg),   FIELD(stimecmp),
    FIELD(instret),    FIELD(instret_off), FIELD(cycle_off), FIELD(resv_addr), FIELD(resv_value),
};

static uint64_t field(const struct arch *a, size_t off)
{
    uint64_t v;
    memcpy(&v, (const char *)a + off, 8);
    return v;
}

static void print_block(FILE *o, const struct block *b, uint64_t pc)
{
    fprintf(o, "block at pc %#" PRIx64 " (%u instructions):\n", pc, b->n);
    for (uint32_t k = 0; k < b->n; k++) {
        const struct insn *i = &b->insns[k];
        uint32_t bits = block_insn_bits(b, i);
        fprintf(o, "  %#" PRIx64 ": %0*x  %-10s rd %u rs1 %u rs2 %u rs3 %u imm %d\n", pc + i->off,
                i->len * 2, bits, op_name((enum op)i->op), i->rd, i->rs1, i->rs2, i->rs3, i->imm);
    }
}

static void print_state(FILE *o, const char *title, const struct arch *a, const struct arch *other)
{
    fprintf(o, "%s:\n", title);
    for (int r = 0; r < 32; r++)
        fprintf(o, "  %c x%-2d %-4s %016" PRIx64 "%s", a->x[r] != other->x[r] ? '*' : ' ', r,
                xname[r], a->x[r], r % 4 == 3 ? "\n" : "");
    for (int r = 0; r < 32; r++)
        fprintf(o, "  %c f%-2d      %016" PRIx64 "%s", a->f[r] != other->f[r] ? '*' : ' ', r,
                a->f[r], r % 4 == 3 ? "\n" : "");
    for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++)
        fprintf(o, "  %c %-11s %016" PRIx64 "%s",
                field(a, fields[k].off) != field(other, fields[k].off) ? '*' : ' ', fields[k].name,
                field(a, fields[k].off), k % 3 == 2 ? "\n" : "");
    fprintf(o, "\n");
}

static bool same(const struct arch *a, const struct arch *b)
{
    if (memcmp(a->x, b->x, sizeof(a->x)) || memcmp(a->f, b->f, sizeof(a->f))) return false;
    for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++)
        if (field(a, fields[k].off) != field(b, fields[k].off)) return false;
    return !memcmp(a->pmpaddr, b->pmpaddr, sizeof(a->pmpaddr)) &&
           !memcmp(a->pmpcfg, b->pmpcfg, sizeof(a->pmpcfg)) && a->budget == b->budget;
}

static void report(struct hart *h, const struct block *b, const struct arch *before,
                   const struct arch *ref, int r_ref, const struct arch *jit, int r_jit)
{
    FILE *o = stderr;
    fprintf(o, "kumo-vmm: jit check: hart %d: the translated block and the interpreter differ\n",
            h->id);
    print_block(o, b, before->pc);
    print_state(o, "state before the block", before, before);
    fprintf(o, "exit: interpreter %d, translated %d (0 lookup, 2 exception, 3 park)\n", r_ref,
            r_jit);
    print_state(o, "interpreter (reference) after the block; * marks differences", ref, jit);
    print_state(o, "translated code after the block", jit, ref);
    if (ref->budget != jit->budget)
        fprintf(o, "instruction budget: interpreter %" PRId64 ", translated %" PRId64 "\n",
                ref->budget, jit->budget);
    struct jit_check *c = h->check;
    for (int k = 0; k < c->npages; k++) {
        const struct check_page *p = &c->pages[k];
        const uint8_t *want = p->by_ref ? p->post_ref : p->pre;
        for (unsigned off = 0; off < PAGE_SIZE; off++) {
            if (p->host[off] == want[off]) continue;
            uint64_t pa = h->m->ram_base + (uint64_t)(p->host + off - h->m->ram);
            fprintf(o, "memory %#" PRIx64 ": interpreter %02x, translated %02x\n", pa, want[off],
                    p->host[off]);
        }
    }
    fflush(o);
}

int jit_check_step(struct hart *h, struct block *b)
{
    struct jit_check *c = h->check;
    bool replay = replayable(h, b);
    take_turn(h);
    struct arch before, ref, jit;
    save(h, &before);
    c->npages = 0;
    c->device = c->overflow = false;
    drop_write_tlb(h);
    c->phase = 1;
    int r_ref = run_reference(h, b);
    /* a loop runs two iterations translated (loop_back): here too, if the
     * first one took the back edge */
    if (r_ref == JIT_EXIT_LOOKUP && h->pc == before.pc && jit_block_selfloop(b) && !c->device)
        r_ref = run_reference(h, b);
    c->phase = 0;
    if (!replay || c->device || c->overflow) {
        if (c->device)
            c->device_blocks++;
        else
            c->ref_only++;
        give_turn(h);
        return r_ref;
    }
    save(h, &ref);
    for (int k = 0; k < c->npages; k++) {
        struct check_page *p = &c->pages[k];
        memcpy(p->post_ref, p->host, PAGE_SIZE);
        memcpy(p->host, p->pre, PAGE_SIZE);
    }
    restore(h, &before);
    drop_write_tlb(h);
    unsigned ev = atomic_exchange(&h->events, 0), more;
    c->phase = 2;
    int r_jit = jit_run(h->jit, b->code);
    /* Another hart (or a device, or a timer) may post an event at any time,
     * turn or not; the translated block then leaves at its entry check
     * before running anything (no instruction charged). Run it again. */
    while (r_jit == JIT_EXIT_LOOKUP && h->budget == before.budget &&
           (more = atomic_exchange(&h->events, 0)) != 0) {
        ev |= more;
        r_jit = jit_run(h->jit, b->code);
    }
    if (r_jit == JIT_EXIT_EXC) hart_take_trap(h, h->exc_cause, h->exc_tval, false);
    c->phase = 0;
    atomic_fetch_or(&h->events, ev);
    if (r_jit == JIT_EXIT_INTERP) {
        /* the translated block declined (FP off or a bad frm: it would trap):
         * nothing ran; the interpreter's result stands */
        c->ref_only++;
        r_ref = run_reference(h, b);
        give_turn(h);
        return r_ref;
    }
    save(h, &jit);
    bool ok = r_ref == r_jit && same(&ref, &jit) && !c->overflow;
    for (int k = 0; ok && k < c->npages; k++) {
        const struct check_page *p = &c->pages[k];
        ok = !memcmp(p->host, p->by_ref ? p->post_ref : p->pre, PAGE_SIZE);
    }
    c->compared++;
    if (!ok) report(h, b, &before, &ref, r_ref, &jit, r_jit);
    give_turn(h);
    return ok ? r_jit : -1;
}
