/*
 * fuzz_jit.c - libFuzzer harness for the translator (src/cpu/jit): random
 * RISC-V programs run under the differential checker (--jit check), which
 * executes every block through the interpreter and as translated code from
 * the same state and compares registers, CSRs, pc, instruction count and
 * memory. A difference (or a crash, or ASan/UBSan) is a finding.
 *
 * Input: a header chooses the privilege mode (M, S or U, with or without
 * Sv39 paging and 4 KiB pages of assorted permissions), where the program
 * starts relative to a page boundary (blocks and instructions straddling
 * pages), the initial registers (pointers into the data, code and paged
 * areas, near page ends, or arbitrary values) and a seed for the data. The
 * rest is the program, two bytes per instruction that choose an op (every
 * op the decoder knows: RV64GC, Zba/Zbb/Zbs, Zicsr, Zifencei, the
 * privileged ones) and its form (16 or 32 bits), with random operands;
 * some random words too (illegal instructions). What an op's encodings
 * look like is learnt from the decoder at start-up. Registers point into the program too, so stores rewrite
 * code (self-modifying code, with or without FENCE.I). Every trap goes to
 * an M-mode handler that resumes after the faulting instruction, or at the
 * program start when that is outside the program.
 *
 * KUMO_FUZZ_JIT_STATS=1 prints the blocks compared so far every 2000 runs
 * and at exit (the long campaign's count), and how many of the blocks
 * translated were loops (a block that branches to its own start).
 */
#include "cpu/decode.h"
#include "cpu/hart.h"
#include "cpu/internal.h"
#include "cpu/jit/jit.h"
#include "machine/machine.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RAM_BASE 0x40000000ull /* 1 GiB aligned: a gigapage maps it */
#define RAM_SIZE (1u << 20)
#define HANDLER (RAM_BASE + 0x1000)
#define CODE_PAGE (RAM_BASE + 0x10000) /* programs start just before this page */
#define CODE_MAX 0x2000
#define DATA (RAM_BASE + 0x20000) /* 64 KiB of data */
#define DATA_SIZE 0x10000
#define PT_ROOT (RAM_BASE + 0x80000)
#define PT_L1 (RAM_BASE + 0x81000)
#define PT_L0 (RAM_BASE + 0x82000)
#define PAGED_VA 0x80000000ull /* 16 4 KiB pages onto the data area, assorted rights */

static struct machine *m;
static struct hart *h;
static uint64_t runs;

/* ---- a few encoders for the handler ---- */
static uint32_t rv_i(uint32_t op, uint32_t rd, uint32_t f3, uint32_t rs1, int32_t imm)
{
    return ((uint32_t)imm & 0xfff) << 20 | rs1 << 15 | f3 << 12 | rd << 7 | op;
}
static uint32_t rv_b(uint32_t f3, uint32_t rs1, uint32_t rs2, int32_t off)
{
    uint32_t u = (uint32_t)off;
    return ((u >> 12) & 1) << 31 | ((u >> 5) & 0x3f) << 25 | rs2 << 20 | rs1 << 15 | f3 << 12 |
           ((u >> 1) & 0xf) << 8 | ((u >> 11) & 1) << 7 | 0x63;
}
static uint32_t rv_lui(uint32_t rd, uint32_t v)
{
    return (v & 0xfffff000u) | rd << 7 | 0x37;
}
#define T5 30
#define T6 31
#define CSR_MEPC 0x341

static void put32(uint64_t pa, uint32_t w)
{
    machine_load(m, pa, &w, 4);
}

static void put64(uint64_t pa, uint64_t v)
{
    machine_load(m, pa, &v, 8);
}

/* li rd, v for v < 2^31 with any low 12 bits: lui + addi */
static int li32(uint32_t *w, uint32_t rd, uint32_t v)
{
    uint32_t hi = (v + 0x800) & 0xfffff000u;
    w[0] = rv_lui(rd, hi);
    w[1] = rv_i(0x13, rd, 0, rd, (int32_t)(v - hi));
    return 2;
}

/* mepc += 4; if outside [start, end): mepc = start; mret */
static void write_handler(uint64_t start, uint64_t end)
{
    uint32_t w[32];
    int n = 0;
    w[n++] = rv_i(0x73, T6, 2, 0, CSR_MEPC); /* csrr t6, mepc */
    w[n++] = rv_i(0x13, T6, 0, T6, 4);
    n += li32(w + n, T5, (uint32_t)end);
    w[n++] = rv_b(7, T6, T5, 20); /* bgeu t6, t5, reset (5 insns on) */
    n += li32(w + n, T5, (uint32_t)start);
    w[n++] = rv_b(6, T6, T5, 12); /* bltu t6, t5, reset */
    w[n++] = rv_i(0x73, 0, 1, T6, CSR_MEPC); /* csrw mepc, t6 */
    w[n++] = 0x30200073;                      /* mret */
    n += li32(w + n, T5, (uint32_t)start);    /* reset: */
    w[n++] = rv_i(0x73, 0, 1, T5, CSR_MEPC);
    w[n++] = 0x30200073;
    for (int k = 0; k < n; k++) put32(HANDLER + 4u * (unsigned)k, w[k]);
}

/* ---- the program ---- */

/* The shape of each op's 32-bit encodings, learnt from the decoder once:
 * bits that never vary among an op's samples (mask) and their value. */
struct shape {
    uint32_t mask, match;
    bool seen;
};
static struct shape shape32[OP_COUNT];
static uint16_t *c_words[OP_COUNT]; /* every 16-bit encoding of each op */
static unsigned c_count[OP_COUNT];
static enum op ops32[OP_COUNT], opsc[OP_COUNT];
static unsigned nops32, nopsc;

static const uint8_t majors[] = {0x03, 0x07, 0x0f, 0x13, 0x17, 0x1b, 0x23, 0x27, 0x2f, 0x33, 0x37,
                                 0x3b, 0x43, 0x47, 0x4b, 0x4f, 0x53, 0x63, 0x67, 0x6f, 0x73};
static const uint16_t csrs[] = {
    0x001, 0x002, 0x003, 0xc00, 0xc02, 0x100, 0x104, 0x105, 0x106, 0x140, 0x141, 0x142,
    0x143, 0x180, 0x300, 0x301, 0x302, 0x303, 0x304, 0x305, 0x306, 0x340, 0x341, 0x342,
    0x343, 0x30a, 0x10a, 0xb00, 0xb02, 0xf14, 0x3a0, 0x3b0, 0x7a0, 0x7a1, 0x123,
};

static uint64_t rng;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void learn(uint32_t w)
{
    struct insn in;
    decode(w, &in);
    struct shape *s = &shape32[in.op];
    if (!s->seen) {
        s->seen = true;
        s->mask = ~0u;
        s->match = w;
    } else {
        s->mask &= ~(s->match ^ w);
        s->match &= s->mask;
    }
}

static void learn_encodings(void)
{
    rng = 1;
    for (unsigned k = 0; k < sizeof(majors); k++)
        for (int n = 0; n < 1500000; n++) learn(((uint32_t)next() & ~0x7fu) | majors[k]);
    /* the fixed encodings random sampling cannot find */
    static const uint32_t fixed[] = {0x00000073, 0x00100073, 0x30200073, 0x10200073,
                                     0x10500073, 0x0000100f, 0x12000073};
    for (unsigned k = 0; k < sizeof(fixed) / 4; k++) learn(fixed[k]);
    for (int op = 1; op < OP_COUNT; op++)
        if (shape32[op].seen && op != OP_WFI && op != OP_BLOCK_END) ops32[nops32++] = (enum op)op;
    /* compressed: all of them */
    static uint16_t words[65536];
    unsigned start[OP_COUNT + 1] = {0};
    for (uint32_t w = 0; w < 65536; w++) {
        if ((w & 3) == 3) continue;
        struct insn in;
        decode(w, &in);
        c_count[in.op]++;
    }
    unsigned at = 0;
    for (int op = 0; op < OP_COUNT; op++) {
        start[op] = at;
        c_words[op] = words + at;
        at += c_count[op];
        if (c_count[op] && op != OP_ILLEGAL) opsc[nopsc++] = (enum op)op;
        c_count[op] = 0;
    }
    for (uint32_t w = 0; w < 65536; w++) {
        if ((w & 3) == 3) continue;
        struct insn in;
        decode(w, &in);
        c_words[in.op][c_count[in.op]++] = (uint16_t)w;
    }
}

/* The program: one instruction per two input bytes, then (short inputs)
 * more from the seed, up to `min` instructions. */
static size_t write_program(uint64_t start, const uint8_t *p, size_t n, size_t min)
{
    size_t at = 0;
    for (size_t k = 0; (k + 2 <= n || k < 2 * min) && at + 4 <= CODE_MAX; k += 2) {
        uint64_t r = next();
        uint8_t sel = k + 2 <= n ? p[k] : (uint8_t)r, arg = k + 2 <= n ? p[k + 1] : (uint8_t)(r >> 8);
        if ((sel & 7) == 7) { /* some illegal or raw bits too */
            uint32_t w = (uint32_t)next();
            if (w == 0x10500073) w = 0x13;
            machine_load(m, start + at, &w, 4);
            at += 4;
            continue;
        }
        if (sel & 1) { /* compressed */
            enum op op = opsc[arg % nopsc];
            uint16_t w = c_words[op][next() % c_count[op]];
            machine_load(m, start + at, &w, 2);
            at += 2;
            continue;
        }
        enum op op = ops32[(unsigned)(arg | (sel >> 1) << 8) % nops32];
        uint32_t w = ((uint32_t)next() & ~shape32[op].mask) | shape32[op].match;
        switch (w & 0x7f) {
        case 0x73:
            if (((w >> 12) & 7) != 0) /* CSR ops: mostly real CSRs */
                w = (w & 0x000fffffu) | (uint32_t)csrs[(w >> 20) % (sizeof(csrs) / 2)] << 20;
            break;
        case 0x63: /* mostly short branches: stay in the program */
            if ((sel >> 4) & 1) {
                uint32_t s = w >> 31;
                w = (w & ~(0x3fu << 25 | 1u << 7)) | (s ? 0x3fu << 25 | 1u << 7 : 0);
            }
            break;
        case 0x6f: /* jal: the same */
            if ((sel >> 4) & 1) {
                uint32_t s = w >> 31;
                uint32_t mask = 0x1fu << 26 | 1u << 20 | 0xffu << 12;
                w = (w & ~mask) | (s ? mask : 0);
            }
            break;
        }
        machine_load(m, start + at, &w, 4);
        at += 4;
    }
    return at;
}

static uint64_t pick_value(uint8_t kind, uint64_t code, size_t len)
{
    uint64_t r = next();
    switch (kind & 7) {
    case 0: return DATA + (r % DATA_SIZE);                   /* data */
    case 1: return DATA + ((r & 15) << 12) + 4096 - (r >> 4 & 15); /* near a page end */
    case 2: return code + (len ? r % len : 0);               /* the program: self-modifying */
    case 3: return PAGED_VA + (r % (16 * 4096));             /* 4 KiB pages (paging on) */
    case 4: return r & 0xff;
    case 5: return (uint64_t)(int64_t)(int32_t)r;
    case 6: return r;
    default: return 0xffffffff00000000ull | (uint32_t)r;     /* a NaN-boxed single */
    }
}

static void setup_paging(uint8_t perms_seed, bool user)
{
    uint64_t rwx = 0xe | 0xc0 | 1; /* X W R, A D, V */
    uint64_t u = user ? 0x10 : 0;
    for (int k = 0; k < 512; k++) put64(PT_ROOT + 8u * (unsigned)k, 0);
    /* the gigapage holding RAM: identity, every right */
    put64(PT_ROOT + 8 * (RAM_BASE >> 30), (RAM_BASE >> 12) << 10 | rwx | u);
    /* PAGED_VA: a level-1 and a level-0 table, 16 pages onto the data area */
    put64(PT_ROOT + 8 * (PAGED_VA >> 30), (PT_L1 >> 12) << 10 | 1);
    for (int k = 0; k < 512; k++) put64(PT_L1 + 8u * (unsigned)k, 0);
    put64(PT_L1, (PT_L0 >> 12) << 10 | 1);
    for (int k = 0; k < 512; k++) {
        uint64_t pte = 0;
        if (k < 16) {
            uint64_t bits = (perms_seed + (unsigned)k * 0x9d) & 0xff;
            pte = ((DATA >> 12) + (unsigned)k) << 10 | bits;
            if (bits & 1) pte |= 0x40; /* mostly accessed */
        }
        put64(PT_L0 + 8u * (unsigned)k, pte);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!m) {
        if (!hart_set_jit_mode(JIT_CHECK)) abort();
        learn_encodings();
        m = machine_new(RAM_BASE, RAM_SIZE);
        h = hart_new(m, 0);
        if (!m || !h) abort();
        m->harts[m->nharts++] = h;
    }
    if (size < 39) return 0;
    uint8_t mode = data[0], straddle = data[1], perms = data[2];
    uint16_t limit = (uint16_t)(data[3] | data[4] << 8);
    rng = 0x9e3779b97f4a7c15ull ^ ((uint64_t)data[5] << 32 | data[6] << 16 | data[7]);
    const uint8_t *kinds = data + 8; /* 31 register kinds */
    data += 39;
    size -= 39;

    memset(m->ram, 0, 0x30000);
    memset(m->ram + (PT_ROOT - RAM_BASE), 0, 0x3000);
    for (uint64_t a = DATA; a < DATA + DATA_SIZE; a += 8) put64(a, next());
    uint64_t start = CODE_PAGE - 2 * (uint64_t)(straddle & 63);
    size_t len = write_program(start, data, size, 16 + (limit >> 12));
    write_handler(start, start + len);

    hart_reset(h, start);
    atomic_store(&m->stop, STOP_NONE);
    for (int r = 1; r < 32; r++) h->x[r] = pick_value(kinds[r - 1], start, len);
    for (int r = 0; r < 32; r++) h->f[r] = pick_value((uint8_t)(kinds[r % 31] >> 3), start, len);
    /* PMP open for S and U; the handler; FP on; interrupts: see below */
    h->pmpaddr[0] = (1ull << 54) - 1;
    h->pmpcfg[0] = 0x18 | 7;
    h->mtvec = HANDLER;
    h->frm = (mode >> 5) & 7;
    h->mstatus |= 1ull << 13; /* FS = initial */
    int priv = mode & 3;
    if (priv == 2) priv = 1;
    if (priv == 3) {
        /* M: a pending, enabled, masked timer interrupt: a WFI would return */
        h->mie = MIP_MTIP;
    } else {
        h->mstatus |= MSTATUS_TW; /* WFI traps */
        if (mode & 4) {
            setup_paging(perms, priv == PRIV_U);
            h->satp = 8ull << 60 | (uint64_t)((mode >> 3) & 3) << 44 | PT_ROOT >> 12;
            h->satp_mode = 8;
            h->satp_root = PT_ROOT;
        }
        if (priv == PRIV_S && (mode & 0x80)) h->mstatus |= MSTATUS_SUM;
    }
    h->priv = (enum priv)priv;
    hart_tlb_flush(h);
    h->max_insns = 200 + (limit % 4000);
    /* keep instret counting from 0 for every run */
    h->instret = 0;
    mmu_update_ctx(h);

    enum hart_exit why = hart_run(h);
    if (why == HART_EXIT_STOP && atomic_load(&m->stop) == STOP_ERROR) abort(); /* a difference */
    runs++;
    if (getenv("KUMO_FUZZ_JIT_STATS") && runs % 2000 == 0)
        fprintf(stderr,
                "fuzz_jit: %" PRIu64 " runs, %" PRIu64 " blocks compared, %" PRIu64
                " loops translated\n",
                runs, jit_check_compared(h->check), h->jit ? h->jit->stats.selfloops : 0);
    return 0;
}

__attribute__((destructor)) static void stats(void)
{
    if (h && getenv("KUMO_FUZZ_JIT_STATS"))
        fprintf(stderr,
                "fuzz_jit: %" PRIu64 " runs, %" PRIu64 " blocks compared, %" PRIu64
                " loops translated\n",
                runs, jit_check_compared(h->check), h->jit ? h->jit->stats.selfloops : 0);
}
