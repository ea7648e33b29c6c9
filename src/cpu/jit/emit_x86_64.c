/*
 * emit_x86_64.c - the translator's x86-64 back end: turns a decoded block
 * (struct insn list) into host code, and emits the shared routines (enter,
 * exit, jump-cache lookup).
 *
 * Register use in translated code:
 *   r15       the hart (struct hart *, biased by HB so that x[0..31] are
 *             within a signed byte displacement)
 *   r14       the guest pc of the running block (pc-relative values and
 *             exits are computed from it; h->pc is only written on exit)
 *   rbx, rbp, r12, r13       guest registers (callee-saved: they survive
 *                            helper calls)
 *   rsi, rdi, r8-r11         guest registers (caller-saved: spilled around
 *                            calls)
 *   rax, rcx, rdx            scratch
 * A block's most used guest registers get host registers for the whole
 * block (the front end ranks them); a register is loaded at its first read
 * and written back at every exit (dirty ones only). Everything not lowered
 * here calls exec_one, the interpreter's own code for that op.
 *
 * Memory accesses look up the software TLB inline (mmu.c: one compare of
 * the masked address against the entry's tag rejects misses and misaligned
 * accesses); a miss calls a slow-path helper out of line and comes back.
 */
#include "cpu/block.h"
#include "cpu/fpu.h"
#include "cpu/internal.h"
#include "cpu/jit/jit.h"

#include <assert.h>
#include <cpuid.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum { RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8, R9, R10, R11, R12, R13, R14, R15 };
#define RH          R15 /* the hart, biased */
#define RPC         R14 /* guest pc of the block */
#define HB          128
#define HOFF(field) ((int32_t)offsetof(struct hart, field) - HB)
#define XOFF(r)     ((int32_t)(8 * (r)) - HB)
#define FOFF(r)     ((int32_t)(offsetof(struct hart, f) + 8 * (r)) - HB)

/* x86 condition codes */
enum {
    CC_B = 2,
    CC_AE = 3,
    CC_E = 4,
    CC_NE = 5,
    CC_BE = 6,
    CC_A = 7,
    CC_L = 0xc,
    CC_GE = 0xd,
    CC_LE = 0xe,
    CC_G = 0xf
};

static const uint8_t cache_regs[] = {RBX, RBP, R12, R13, RSI, RDI, R8, R9, R10, R11};
#define NCACHE (int)(sizeof(cache_regs) / sizeof(cache_regs[0]))
#define CALLER_SAVED                                                                               \
    ((1u << RSI) | (1u << RDI) | (1u << R8) | (1u << R9) | (1u << R10) | (1u << R11))

/* the event and budget checks at the start of every block (be_fast_entry) */
#define CHECK_BYTES 28

/* TLB entry addressing: entry index * 16 = (va >> 8) & IDX_MASK */
#define IDX_MASK         ((TLB_SIZE - 1) << 4)
#define TLB_ACC_OFF(acc) ((int32_t)((acc)*TLB_SIZE * sizeof(struct tlb_entry)))
#define TLB_W1_OFF(acc)  ((int32_t)offsetof(struct tlb_set, w1) + TLB_ACC_OFF(acc))

/* operand: a register, memory [base + disp], memory [base + RAX + disp],
 * or an immediate */
enum { K_REG, K_MEM, K_IMM, K_MEMX };
struct opnd {
    uint8_t kind, reg;
    int32_t v; /* displacement or immediate */
};
static inline struct opnd R(int r) {
    return (struct opnd){K_REG, (uint8_t)r, 0};
} static inline struct opnd M(int base, int32_t disp) {
    return (struct opnd){K_MEM, (uint8_t)base, disp};
} static inline struct opnd IMM(int32_t v) {
    return (struct opnd){K_IMM, 0, v};
} static inline struct opnd MX(int base, int32_t disp) {
    return (struct opnd){K_MEMX, (uint8_t)base, disp};
}

/* code to emit after the block's main path */
enum {
    P_LOAD,
    P_STORE,
    P_HELPER,
    P_CHAIN,
    P_FPSLOW
};
struct pend {
    uint8_t kind, op, idx;
    int8_t reg; /* load: result register (-1: memory/none); store: value register (-1) */
    uint8_t g;  /* load: guest rd; store: guest rs2 */
    uint8_t fp; /* FLW/FLD: the value stays in RAX; FSW/FSD: it comes from f[g] */
    uint16_t dirty, loaded;
    uint8_t *fix;    /* rel32 in the main path that jumps to this code */
    uint8_t *resume; /* where to go back to (load/store) */
    uint8_t *hit;    /* load/store: the access itself (after a way-1 hit) */
    uint8_t acc;     /* load/store: the TLB array */
    int32_t hint;    /* load/store: the site's TLB hint (offset from RH) */
    int32_t record;  /* load/store: its followers' slot, if not its hint */
    int rec;         /* P_CHAIN: exit record index */
};

#define MAX_PEND 80
struct emit {
    struct jit *j;
    const struct jit_block_in *in;
    const struct block *b;
    uint8_t *p, *limit; /* RW */
    bool overflow;
    int8_t host_of[33];
    int8_t guest_of[16];
    uint16_t loaded, dirty;
    unsigned idx;
    struct pend pend[MAX_PEND];
    unsigned npend;
    struct jit_exit_rec *recs; /* RW address of the block's 2 exit records */
    unsigned nrec;
    bool fs_dirty; /* mstatus.FS already made dirty in this block */
    uint32_t boxed; /* f registers this block made NaN-boxed binary32s (box_store) */
    unsigned nbox;  /* box_store calls so far */
    int probe_acc;       /* the last TLB probe: its access type, ... */
    int32_t probe_hint;  /* ... its hint's offset from RH, ... */
    int32_t probe_record; /* ... the slot its followers read (not a hint), ... */
    uint8_t *probe_hit;  /* ... where a slow-path hit continues, ... */
    struct opnd probe_at; /* ... and the access's operand (K_MEMX) */
    /* a block that jumps back to its own start keeps its registers */
    bool selfloop;
    uint16_t written; /* host registers of guest registers the block writes */
    uint64_t strided; /* self-loop: guest registers written only by addi r, r, imm */
    uint8_t *body;    /* where the loop goes back to */
    /* page groups (page_groups): a load/store's leader (-1: none), the
     * accesses that lead others, and the hint slot each leader fills */
    int8_t leader[BLOCK_MAX];
    uint64_t leads;
    int32_t lead_slot[BLOCK_MAX];
};

/* ---- encoding ------------------------------------------------------------------ */

static inline void b1(struct emit *e, uint8_t v)
{
    if (e->p < e->limit)
        *e->p++ = v;
    else
        e->overflow = true;
}

static inline void b4(struct emit *e, uint32_t v)
{
    for (int k = 0; k < 4; k++)
        b1(e, (uint8_t)(v >> (8 * k)));
}

static inline void b8(struct emit *e, uint64_t v)
{
    b4(e, (uint32_t)v);
    b4(e, (uint32_t)(v >> 32));
}

static inline bool is8(int64_t v)
{
    return v >= -128 && v <= 127;
}
static inline bool is32(int64_t v)
{
    return v >= INT32_MIN && v <= INT32_MAX;
}

/* RX address of a RW position */
static inline uint8_t *rx_of(const struct emit *e, const uint8_t *rw)
{
    return e->j->rx + (rw - e->j->rw);
}

/*
 * One instruction: [66] [REX] opcode (nopc bytes, most significant first)
 * ModRM [SIB] [disp]. `reg` is the ModRM reg field (a register or an opcode
 * extension); byte: the operands are 8-bit registers (spl..dil need REX).
 */
static void enc(struct emit *e, int p66, int w, int nopc, uint32_t opc, int reg, struct opnd rm,
                bool byte)
{
    if (p66) b1(e, 0x66);
    int rex = (w ? 8 : 0) | ((reg & 8) ? 4 : 0) | ((rm.reg & 8) ? 1 : 0);
    bool need = rex != 0;
    if (byte && ((reg >= 4 && reg < 8) || (rm.kind == K_REG && rm.reg >= 4 && rm.reg < 8)))
        need = true;
    if (need) b1(e, (uint8_t)(0x40 | rex));
    for (int k = nopc - 1; k >= 0; k--)
        b1(e, (uint8_t)(opc >> (8 * k)));
    if (rm.kind == K_REG) {
        b1(e, (uint8_t)(0xc0 | (reg & 7) << 3 | (rm.reg & 7)));
        return;
    }
    int base = rm.reg & 7, mod;
    if (rm.v == 0 && base != 5)
        mod = 0;
    else if (is8(rm.v))
        mod = 1;
    else
        mod = 2;
    if (rm.kind == K_MEMX) { /* SIB: base + rax * 1 */
        b1(e, (uint8_t)(mod << 6 | (reg & 7) << 3 | 4));
        b1(e, (uint8_t)(RAX << 3 | base));
        if (mod == 1) b1(e, (uint8_t)rm.v);
        if (mod == 2) b4(e, (uint32_t)rm.v);
        return;
    }
    b1(e, (uint8_t)(mod << 6 | (reg & 7) << 3 | base));
    if (base == 4) b1(e, 0x24); /* SIB: base rsp/r12, no index */
    if (mod == 1) b1(e, (uint8_t)rm.v);
    if (mod == 2) b4(e, (uint32_t)rm.v);
}

/* 64-bit (w = 1) or 32-bit ALU op with a reg destination: opc is the
 * "r, r/m" form (03 add, 0b or, 23 and, 2b sub, 33 xor, 3b cmp, 8b mov). */
static void op_r(struct emit *e, int w, uint8_t opc, int d, struct opnd s)
{
    enc(e, 0, w, 1, opc, d, s, false);
}

enum { G_ADD = 0, G_OR = 1, G_AND = 4, G_SUB = 5, G_XOR = 6, G_CMP = 7 };
/* group-1 op with an immediate on a register or memory */
static void op_i(struct emit *e, int w, int digit, struct opnd rm, int32_t imm)
{
    if (is8(imm)) {
        enc(e, 0, w, 1, 0x83, digit, rm, false);
        b1(e, (uint8_t)imm);
    } else {
        enc(e, 0, w, 1, 0x81, digit, rm, false);
        b4(e, (uint32_t)imm);
    }
}

static void mov_rr(struct emit *e, int d, int s)
{
    if (d != s) op_r(e, 1, 0x8b, d, R(s));
}

static void mov_load(struct emit *e, int d, int base, int32_t disp)
{
    op_r(e, 1, 0x8b, d, M(base, disp));
}

static void mov_store(struct emit *e, int base, int32_t disp, int s)
{
    enc(e, 0, 1, 1, 0x89, s, M(base, disp), false);
}

static void mov_imm(struct emit *e, int d, uint64_t v)
{
    if (v == 0) {
        enc(e, 0, 0, 1, 0x33, d, R(d), false); /* xor d32, d32 */
    } else if (v <= UINT32_MAX) {
        if (d & 8) b1(e, 0x41);
        b1(e, (uint8_t)(0xb8 + (d & 7)));
        b4(e, (uint32_t)v);
    } else if (is32((int64_t)v)) {
        enc(e, 0, 1, 1, 0xc7, 0, R(d), false);
        b4(e, (uint32_t)v);
    } else {
        b1(e, (uint8_t)(0x48 | ((d & 8) ? 1 : 0)));
        b1(e, (uint8_t)(0xb8 + (d & 7)));
        b8(e, v);
    }
}

static void lea(struct emit *e, int d, int base, int32_t disp)
{
    enc(e, 0, 1, 1, 0x8d, d, M(base, disp), false);
}

enum { S_ROL = 0, S_ROR = 1, S_SHL = 4, S_SHR = 5, S_SAR = 7 };
static void shift_i(struct emit *e, int w, int digit, int r, int n)
{
    enc(e, 0, w, 1, 0xc1, digit, R(r), false);
    b1(e, (uint8_t)n);
}

static void shift_cl(struct emit *e, int w, int digit, int r)
{
    enc(e, 0, w, 1, 0xd3, digit, R(r), false);
}

static void movsxd(struct emit *e, int d, struct opnd s)
{
    enc(e, 0, 1, 1, 0x63, d, s, false);
}

/* rel32 jumps: return the position of the rel32 field */
static uint8_t *jmp32(struct emit *e)
{
    b1(e, 0xe9);
    uint8_t *f = e->p;
    b4(e, 0);
    return f;
}

static uint8_t *jcc32(struct emit *e, int cc)
{
    b1(e, 0x0f);
    b1(e, (uint8_t)(0x80 + cc));
    uint8_t *f = e->p;
    b4(e, 0);
    return f;
}

/* Point a rel32 field (RW) to a RW target in the same cache. */
static void fix(struct emit *e, uint8_t *field, const uint8_t *target)
{
    if (e->overflow || !field) return;
    int32_t rel = (int32_t)(target - (field + 4));
    memcpy(field, &rel, 4);
}

/* Point a rel32 field (RW) to an RX address (a shared routine). */
static void fix_rx(struct emit *e, uint8_t *field, const void *target_rx)
{
    if (e->overflow || !field) return;
    int32_t rel = (int32_t)((const uint8_t *)target_rx - (rx_of(e, field) + 4));
    memcpy(field, &rel, 4);
}

static void jmp_rx(struct emit *e, const void *target_rx)
{
    fix_rx(e, jmp32(e), target_rx);
}

static void jcc_rx(struct emit *e, int cc, const void *target_rx)
{
    fix_rx(e, jcc32(e, cc), target_rx);
}

static void call_abs(struct emit *e, const void *fn)
{
    mov_imm(e, RAX, (uint64_t)(uintptr_t)fn);
    enc(e, 0, 0, 1, 0xff, 2, R(RAX), false); /* call rax */
}

/* ---- guest registers ------------------------------------------------------------- */

static inline bool cached(const struct emit *e, int g)
{
    return g > 0 && g < 32 && e->host_of[g] >= 0;
}

/* A read of guest register g: its host register (loaded if needed), memory,
 * or the immediate 0 for x0. */
static struct opnd use(struct emit *e, int g)
{
    if (g == 0) return IMM(0);
    if (!cached(e, g)) return M(RH, XOFF(g));
    int r = e->host_of[g];
    if (!(e->loaded & (1u << r))) {
        mov_load(e, r, RH, XOFF(g));
        e->loaded |= (uint16_t)(1u << r);
    }
    return R(r);
}

/* Guest register g into host register d (any source kind). */
static void load_to(struct emit *e, int d, int g)
{
    struct opnd s = use(e, g);
    if (s.kind == K_IMM)
        mov_imm(e, d, 0);
    else if (s.kind == K_REG)
        mov_rr(e, d, s.reg);
    else
        mov_load(e, d, s.reg, s.v);
}

/* The register to compute guest rd into: its own host register, unless
 * that would clobber another source (avoid), then RAX. */
static int dest(struct emit *e, int rd, int avoid_g)
{
    if (cached(e, rd) &&
        (avoid_g == rd || !cached(e, avoid_g) || e->host_of[avoid_g] != e->host_of[rd]))
        return e->host_of[rd];
    return RAX;
}

/* Guest rd now holds the value in host register r. */
static void set_rd(struct emit *e, int rd, int r)
{
    if (rd == 0 || rd == 32) return;
    if (cached(e, rd)) {
        int h = e->host_of[rd];
        mov_rr(e, h, r);
        e->loaded |= (uint16_t)(1u << h);
        e->dirty |= (uint16_t)(1u << h);
    } else {
        mov_store(e, RH, XOFF(rd), r);
    }
}

static void writeback_mask(struct emit *e, uint16_t mask)
{
    for (int r = 0; r < 16; r++)
        if (mask & (1u << r)) mov_store(e, RH, XOFF(e->guest_of[r]), r);
}

static void writeback(struct emit *e)
{
    writeback_mask(e, e->dirty);
    e->dirty = 0;
}

static void reload_mask(struct emit *e, uint16_t mask)
{
    for (int r = 0; r < 16; r++)
        if (mask & (1u << r)) mov_load(e, r, RH, XOFF(e->guest_of[r]));
}

/* ---- exits --------------------------------------------------------------------------- */

/* The block at guest pc r14 through the jump cache, checked against the
 * fetch TLB's two ways (the page mapped as when the entry was made); a miss
 * leaves for the dispatcher. Emitted at each indirect jump (its own host
 * indirect branch, predicted for that site) and once as a shared routine. */
static void emit_lookup(struct emit *e)
{
    struct jit *j = e->j;
    op_r(e, 0, 0x8b, RAX, R(RPC)); /* eax = pc: jit_jc_index */
    op_r(e, 0, 0x8b, RCX, R(RPC));
    shift_i(e, 0, S_SHR, RCX, 12);
    op_r(e, 0, 0x33, RAX, R(RCX));
    shift_i(e, 0, S_SHR, RAX, 1);
    op_i(e, 0, G_AND, R(RAX), JIT_JC_SIZE - 1);
    shift_i(e, 0, S_SHL, RAX, 5); /* * sizeof(jc entry) */
    mov_imm(e, RCX, (uint64_t)(uintptr_t)j->jc);
    op_r(e, 1, 0x03, RAX, R(RCX));
    op_r(e, 1, 0x3b, RPC, M(RAX, 0)); /* cmp r14, e->pc */
    jcc_rx(e, CC_NE, j->exit_lookup);
    mov_load(e, RCX, RH, HOFF(tlb_fetch));
    op_r(e, 0, 0x8b, RDX, R(RPC));
    shift_i(e, 0, S_SHR, RDX, 8);
    op_i(e, 0, G_AND, R(RDX), IDX_MASK);
    op_r(e, 1, 0x03, RCX, R(RDX));
    mov_rr(e, RDX, RPC);
    op_i(e, 1, G_AND, R(RDX), (int32_t)0xfffff000u);
    op_r(e, 1, 0x3b, RDX, M(RCX, TLB_ACC_OFF(ACC_EXEC))); /* way 0 */
    uint8_t *way1 = jcc32(e, CC_NE);
    mov_load(e, RDX, RCX, TLB_ACC_OFF(ACC_EXEC) + 8);
    uint8_t *both = e->p;
    op_r(e, 1, 0x3b, RDX, M(RAX, 8)); /* same page mapping */
    jcc_rx(e, CC_NE, j->exit_lookup);
    enc(e, 0, 0, 1, 0xff, 4, M(RAX, 16), false); /* jmp [rax + 16] */
    fix(e, way1, e->p);
    op_r(e, 1, 0x3b, RDX, M(RCX, TLB_W1_OFF(ACC_EXEC))); /* way 1 */
    jcc_rx(e, CC_NE, j->exit_lookup);
    mov_load(e, RDX, RCX, TLB_W1_OFF(ACC_EXEC) + 8);
    fix(e, jmp32(e), both);
}

/* Leave the block for the guest pc at block pc + delta (all guest state
 * written back). A target in the same page is a patchable jump (to a stub
 * that asks the dispatcher, until patched); others go through the jump cache. */
static void exit_to(struct emit *e, int64_t delta)
{
    if (delta) {
        if (is32(delta))
            lea(e, RPC, RPC, (int32_t)delta);
        else {
            mov_imm(e, RAX, (uint64_t)delta);
            op_r(e, 1, 0x03, RPC, R(RAX));
        }
    }
    int64_t t = (int64_t)e->in->page_off + delta;
    if (e->j->chain && t >= 0 && t < (int64_t)PAGE_SIZE && e->nrec < 2 && e->npend < MAX_PEND) {
        struct pend *p = &e->pend[e->npend++];
        memset(p, 0, sizeof(*p));
        p->kind = P_CHAIN;
        p->rec = (int)e->nrec++;
        p->fix = jmp32(e);
        struct jit_exit_rec *rec = &e->recs[p->rec];
        rec->target_host = e->b->host + delta;
        rec->epoch = e->j->epoch;
        rec->forward = delta > 0;
        rec->site = rx_of(e, p->fix);
        return;
    }
    if (e->j->chain)
        emit_lookup(e);
    else
        jmp_rx(e, e->j->lookup);
}

static void exit_lookup_pc(struct emit *e)
{
    if (e->j->chain)
        emit_lookup(e);
    else
        jmp_rx(e, e->j->lookup);
}

/* ---- helpers called from translated code ------------------------------------------------ */

struct mem_ret {
    uint64_t val, ok;
};

static struct mem_ret jit_load_slow(struct hart *h, uint64_t va, uint64_t op)
{
    struct mem_ret r = {0, 0};
    uint64_t v;
    int size = op == OP_LB || op == OP_LBU   ? 1
               : op == OP_LH || op == OP_LHU ? 2
               : op == OP_LD                 ? 8
                                             : 4;
    if (!mmu_load(h, va, size, &v)) return r;
    switch (op) {
    case OP_LB: v = (uint64_t)(int64_t)(int8_t)v; break;
    case OP_LH: v = (uint64_t)(int64_t)(int16_t)v; break;
    case OP_LW: v = (uint64_t)(int64_t)(int32_t)v; break;
    case OP_LBU: v = (uint8_t)v; break;
    case OP_LHU: v = (uint16_t)v; break;
    case OP_LWU: v = (uint32_t)v; break;
    default: break;
    }
    r.val = v;
    r.ok = 1;
    return r;
}

static uint64_t jit_store_slow(struct hart *h, uint64_t va, uint64_t val, uint64_t size)
{
    return mmu_store(h, va, (int)size, val);
}

static void fp_dirty(struct emit *e);
static void box_store(struct emit *e, int rd);

/* ---- loads and stores ------------------------------------------------------------------ */

static int mem_size(int op)
{
    switch (op) {
    case OP_LB:
    case OP_LBU:
    case OP_SB: return 1;
    case OP_LH:
    case OP_LHU:
    case OP_SH: return 2;
    case OP_LW:
    case OP_LWU:
    case OP_FLW:
    case OP_FSW:
    case OP_SW: return 4;
    default: return 8;
    }
}

/* Is op a load or store that the back end lowers (emit_load, emit_store)? */
static bool is_mem(int op)
{
    switch (op) {
    case OP_LB:
    case OP_LH:
    case OP_LW:
    case OP_LD:
    case OP_LBU:
    case OP_LHU:
    case OP_LWU:
    case OP_SB:
    case OP_SH:
    case OP_SW:
    case OP_SD:
    case OP_FLW:
    case OP_FLD:
    case OP_FSW:
    case OP_FSD: return true;
    default: return false;
    }
}

static int host_bits = -1; /* bit 0: lzcnt, 1: tzcnt (BMI1), 2: popcnt, 3: BMI2 */

static int host_has(int bit)
{
    int bits = __atomic_load_n(&host_bits, __ATOMIC_RELAXED);
    if (bits < 0) { /* harts may translate at once: each computes the same, stored once */
        unsigned a, b, c, d;
        bits = 0;
        if (__get_cpuid(0x80000001, &a, &b, &c, &d) && (c & (1u << 5))) bits |= 1; /* LZCNT */
        if (__get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 3))) bits |= 2; /* BMI1 */
        if (__get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 23))) bits |= 4;       /* POPCNT */
        if (__get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 8))) bits |= 8; /* BMI2 */
        __atomic_store_n(&host_bits, bits, __ATOMIC_RELAXED);
    }
    return bits & bit;
}

/* A site's hint offset is never 0, which tlb_probe's callers read as "none" */
_Static_assert(offsetof(struct hart, jit_hint) > HB, "jit_hint must lie past RH's bias");

/* ECX = the offset of va's (RDX's) entry in a TLB array: index * 16 */
static void tlb_index(struct emit *e)
{
    if (host_has(8)) { /* rorx ecx, edx, 8 (BMI2) */
        b1(e, 0xc4);
        b1(e, 0xe3);
        b1(e, 0x7b);
        b1(e, 0xf0);
        b1(e, 0xca);
        b1(e, 8);
    } else {
        op_r(e, 0, 0x8b, RCX, R(RDX)); /* mov ecx, edx */
        shift_i(e, 0, S_SHR, RCX, 8);
    }
    op_i(e, 0, G_AND, R(RCX), IDX_MASK);
}

/* va = rs1 + imm into RDX; then the TLB probe, leaving the page's addend in
 * RAX on a hit and in e->probe_at the access's operand, [rs1 + RAX + imm]
 * (the host address without an addition of its own on the way to the
 * data); returns the rel32 of the jump to the slow path.
 *
 * The probe reads the entry va indexes, or, for an access of a loop whose
 * address register is not a stride (not only `addi r, r, imm` in the loop:
 * a table lookup, a pointer walk, a fixed address), the entry this site hit
 * last: its hint, h->jit_hint[s], an offset in the TLB set. That entry's
 * address does not depend on va, so the host address is va plus an addend
 * already loaded: one addition on the path from the address to the data
 * instead of five instructions and a dependent load (intmath's table
 * lookup: a third less time). The tag compare makes any hint safe. Strides
 * and straight-line code keep the indexed probe: their pages change, and a
 * wrong hint costs a mispredicted branch (memops: 15 % slower with hints).
 * The slow path (probe_ways) looks at both ways of va's entry and updates
 * the hint. Leaves e->probe_hint (0: none) and e->probe_hit: the addend's
 * addition, where a slow-path hit continues with RCX at the entry. */
static int32_t new_hint(struct emit *e)
{
    return HOFF(jit_hint) + (int32_t)(4 * (e->j->next_hint++ % JIT_HINTS));
}

static uint8_t *tlb_probe(struct emit *e, const struct insn *i, int acc, int size)
{
    struct opnd a = use(e, i->rs1);
    int32_t hint = 0;
    bool leads = e->idx < BLOCK_MAX && (e->leads & (1ull << e->idx));
    int f = e->idx < BLOCK_MAX ? e->leader[e->idx] : -1;
    int32_t record = 0; /* a leader's slot that its slow path keeps right */
    if (e->selfloop && !(e->strided & (1ull << i->rs1)))
        hint = new_hint(e); /* a loop's own guess (not its leader's: they may
                             * be on two pages, each missing in turn) */
    else if (f >= 0 && e->lead_slot[f])
        hint = e->lead_slot[f]; /* a follower starts from its leader's entry */
    if (leads) e->lead_slot[e->idx] = hint;
    if (hint) {
        op_r(e, 0, 0x8b, RCX, M(RH, hint));            /* mov ecx, [hint] */
        op_r(e, 1, 0x03, RCX, M(RH, HOFF(tlb_data))); /* rcx = the hinted entry */
    }
    if (a.kind == K_REG)
        lea(e, RDX, a.reg, i->imm);
    else {
        if (a.kind == K_IMM)
            mov_imm(e, RDX, 0);
        else
            mov_load(e, RDX, a.reg, a.v);
        if (i->imm) op_i(e, 1, G_ADD, R(RDX), i->imm);
    }
    if (!hint) {
        tlb_index(e);
        if (leads) { /* its followers start from this entry */
            record = e->lead_slot[e->idx] = new_hint(e);
            op_r(e, 0, 0x89, RCX, M(RH, record)); /* mov [slot], ecx */
        }
        op_r(e, 1, 0x03, RCX, M(RH, HOFF(tlb_data))); /* rcx = &entry */
    }
    mov_rr(e, RAX, RDX);
    op_i(e, 1, G_AND, R(RAX), (int32_t)(0xfffff000u | (uint32_t)(size - 1)));
    op_r(e, 1, 0x3b, RAX, M(RCX, TLB_ACC_OFF(acc))); /* cmp rax, tag */
    uint8_t *slow = jcc32(e, CC_NE);
    e->probe_acc = acc;
    e->probe_hint = hint;
    e->probe_record = record;
    e->probe_hit = e->p;
    op_r(e, 1, 0x8b, RAX, M(RCX, TLB_ACC_OFF(acc) + 8)); /* rax = addend */
    /* the access: [rs1 + addend + imm], so that the address computation is
     * the load's own (no dependent addition on the way to the data) */
    e->probe_at = a.kind == K_REG ? MX(a.reg, i->imm) : MX(RDX, 0);
    return slow;
}

/* The slow path's TLB lookup (RAX: the masked address, RDX: va, RCX: the
 * entry the fast path compared): way 0 of va's entry if that was a hint,
 * then way 1, inline; a hit makes that entry the site's hint (or, for a
 * leader without a hint, the entry its followers read: `record`) and
 * continues at `hit` (the addend's load, RCX at the entry). Falls through
 * on a miss. */
static void probe_ways(struct emit *e, int acc, int32_t hint, int32_t record, uint8_t *hit)
{
    int32_t w1 = (int32_t)offsetof(struct tlb_set, w1);
    if (hint) {
        tlb_index(e);
        op_r(e, 0, 0x89, RCX, M(RH, hint));              /* mov [hint], ecx */
        op_r(e, 1, 0x03, RCX, M(RH, HOFF(tlb_data)));    /* rcx = &entry */
        op_r(e, 1, 0x3b, RAX, M(RCX, TLB_ACC_OFF(acc))); /* way 0 */
        fix(e, jcc32(e, CC_E), hit);
    }
    op_r(e, 1, 0x3b, RAX, M(RCX, TLB_W1_OFF(acc))); /* way 1 */
    uint8_t *miss = jcc32(e, CC_NE);
    if (hint) op_i(e, 0, G_ADD, M(RH, hint), w1);
    if (record) op_i(e, 0, G_ADD, M(RH, record), w1); /* followers: way 1 too */
    op_i(e, 1, G_ADD, R(RCX), w1);
    fix(e, jmp32(e), hit);
    fix(e, miss, e->p);
}

/* Queue the slow path of the access just emitted: p as its caller filled
 * it, plus the instruction's index, tlb_probe's hint and record, and the
 * main path's current position as where to resume. */
static void pend_access(struct emit *e, const struct pend *p)
{
    if (e->npend >= MAX_PEND) {
        e->overflow = true;
        return;
    }
    struct pend *q = &e->pend[e->npend++];
    *q = *p;
    q->idx = (uint8_t)e->idx;
    q->hint = e->probe_hint;
    q->record = e->probe_record;
    q->resume = e->p;
}

static void emit_load(struct emit *e, const struct insn *i)
{
    int size = mem_size(i->op);
    /* the allocator state the slow path must reproduce */
    uint8_t *slow = tlb_probe(e, i, ACC_READ, size);
    uint8_t *hit = e->probe_hit;
    int acc = e->probe_acc;
    uint16_t dirty = e->dirty, loaded = e->loaded;
    bool fp = i->op == OP_FLW || i->op == OP_FLD;
    int d = (!fp && i->rd != 32 && cached(e, i->rd)) ? e->host_of[i->rd] : RAX;
    struct opnd src = e->probe_at;
    switch (i->op) {
    case OP_FLD:
    case OP_LD: op_r(e, 1, 0x8b, d, src); break;
    case OP_FLW:
    case OP_LW: movsxd(e, d, src); break;
    case OP_LWU: op_r(e, 0, 0x8b, d, src); break;
    case OP_LH: enc(e, 0, 1, 2, 0x0fbf, d, src, false); break;
    case OP_LHU: enc(e, 0, 0, 2, 0x0fb7, d, src, false); break;
    case OP_LB: enc(e, 0, 1, 2, 0x0fbe, d, src, false); break;
    default: enc(e, 0, 0, 2, 0x0fb6, d, src, false); break; /* LBU */
    }
    if (fp)
        ; /* the value stays in RAX (the slow path joins here too) */
    else if (d == RAX)
        set_rd(e, i->rd, RAX);
    else {
        e->loaded |= (uint16_t)(1u << d);
        e->dirty |= (uint16_t)(1u << d);
    }
    pend_access(e, &(struct pend){.kind = P_LOAD,
                                  .op = (uint8_t)(i->op == OP_FLW   ? OP_LWU
                                                  : i->op == OP_FLD ? OP_LD
                                                                    : i->op),
                                  .reg = (int8_t)(d == RAX ? -1 : d),
                                  .g = i->rd,
                                  .fp = fp,
                                  .dirty = dirty,
                                  .loaded = loaded,
                                  .fix = slow,
                                  .hit = hit,
                                  .acc = (uint8_t)acc});
    if (i->op == OP_FLW) {
        box_store(e, i->rd);
        fp_dirty(e);
    } else if (i->op == OP_FLD) {
        mov_store(e, RH, FOFF(i->rd), RAX);
        fp_dirty(e);
    }
}

static void emit_store(struct emit *e, const struct insn *i)
{
    int size = mem_size(i->op);
    bool fp = i->op == OP_FSW || i->op == OP_FSD;
    struct opnd v = fp ? M(RH, FOFF(i->rs2)) : use(e, i->rs2); /* loaded before the branch */
    uint8_t *slow = tlb_probe(e, i, ACC_WRITE, size);
    uint8_t *hit = e->probe_hit;
    int acc = e->probe_acc;
    uint16_t dirty = e->dirty, loaded = e->loaded;
    int vr;
    if (v.kind == K_REG) {
        vr = v.reg;
    } else if (v.kind == K_MEM) {
        mov_load(e, RCX, v.reg, v.v);
        vr = RCX;
    } else {
        vr = -1;
    }
    struct opnd dst = e->probe_at;
    if (vr < 0) { /* store zero */
        switch (size) {
        case 1:
            enc(e, 0, 0, 1, 0xc6, 0, dst, false);
            b1(e, 0);
            break;
        case 2:
            enc(e, 1, 0, 1, 0xc7, 0, dst, false);
            b1(e, 0);
            b1(e, 0);
            break;
        case 4:
            enc(e, 0, 0, 1, 0xc7, 0, dst, false);
            b4(e, 0);
            break;
        default:
            enc(e, 0, 1, 1, 0xc7, 0, dst, false);
            b4(e, 0);
            break;
        }
    } else {
        switch (size) {
        case 1: enc(e, 0, 0, 1, 0x88, vr, dst, true); break;
        case 2: enc(e, 1, 0, 1, 0x89, vr, dst, false); break;
        case 4: enc(e, 0, 0, 1, 0x89, vr, dst, false); break;
        default: enc(e, 0, 1, 1, 0x89, vr, dst, false); break;
        }
    }
    pend_access(e, &(struct pend){.kind = P_STORE,
                                  .op = (uint8_t)i->op,
                                  .reg = (int8_t)(v.kind == K_REG ? v.reg : -1),
                                  .g = i->rs2,
                                  .fp = fp,
                                  .dirty = dirty,
                                  .loaded = loaded,
                                  .fix = slow,
                                  .hit = hit,
                                  .acc = (uint8_t)acc});
}

/* ---- helper calls (exec_one) ----------------------------------------------------------------- */

static bool writes_int_rd(int op)
{
    switch (op) {
    case OP_FLW:
    case OP_FLD:
    case OP_FSW:
    case OP_FSD:
    case OP_FMADD_S:
    case OP_FMSUB_S:
    case OP_FNMSUB_S:
    case OP_FNMADD_S:
    case OP_FADD_S:
    case OP_FSUB_S:
    case OP_FMUL_S:
    case OP_FDIV_S:
    case OP_FSQRT_S:
    case OP_FSGNJ_S:
    case OP_FSGNJN_S:
    case OP_FSGNJX_S:
    case OP_FMIN_S:
    case OP_FMAX_S:
    case OP_FCVT_S_W:
    case OP_FCVT_S_WU:
    case OP_FCVT_S_L:
    case OP_FCVT_S_LU:
    case OP_FMV_W_X:
    case OP_FMADD_D:
    case OP_FMSUB_D:
    case OP_FNMSUB_D:
    case OP_FNMADD_D:
    case OP_FADD_D:
    case OP_FSUB_D:
    case OP_FMUL_D:
    case OP_FDIV_D:
    case OP_FSQRT_D:
    case OP_FSGNJ_D:
    case OP_FSGNJN_D:
    case OP_FSGNJX_D:
    case OP_FMIN_D:
    case OP_FMAX_D:
    case OP_FCVT_S_D:
    case OP_FCVT_D_S:
    case OP_FCVT_D_W:
    case OP_FCVT_D_WU:
    case OP_FCVT_D_L:
    case OP_FCVT_D_LU:
    case OP_FMV_D_X: return false;
    default: return true;
    }
}

static void emit_helper(struct emit *e, const struct insn *i, bool ends_block)
{
    writeback(e);
    lea(e, RDI, RH, -HB);
    mov_imm(e, RSI, (uint64_t)(uintptr_t)i);
    lea(e, RDX, RPC, i->off);
    mov_imm(e, RCX, e->in->bits[e->idx]);
    call_abs(e, (const void *)exec_one);
    e->loaded &= (uint16_t)~CALLER_SAVED;
    if (writes_int_rd(i->op) && cached(e, i->rd))
        e->loaded &= (uint16_t) ~(1u << e->host_of[i->rd]);
    enc(e, 0, 0, 1, 0x85, RAX, R(RAX), false); /* test eax, eax */
    if (e->npend < MAX_PEND) {
        struct pend *p = &e->pend[e->npend++];
        memset(p, 0, sizeof(*p));
        p->kind = P_HELPER;
        p->idx = (uint8_t)e->idx;
        p->fix = jcc32(e, CC_NE);
    } else {
        e->overflow = true;
    }
    e->j->stats.helpers++;
    if (ends_block) exit_to(e, (int64_t)i->off + i->len);
}

/* ---- ALU --------------------------------------------------------------------------------------
 */

/* rd = rs1 <op> src2, where src2 is guest rs2 or an immediate; opc is the
 * "r, r/m" opcode, digit the group-1 extension for immediates. */
static void alu(struct emit *e, const struct insn *i, uint8_t opc, int digit, bool imm, bool w32)
{
    if (i->rd == 32) return;
    struct opnd b = imm ? IMM(i->imm) : use(e, i->rs2);
    int d = dest(e, i->rd, imm ? 0 : i->rs2);
    if (d != RAX && !imm && i->rs1 != i->rd && i->rs2 == i->rd) d = RAX;
    if (!imm && i->rs1 == 0 && (opc == 0x03 || opc == 0x0b || opc == 0x33)) { /* mv */
        load_to(e, d, i->rs2);
        if (w32) movsxd(e, d, R(d));
        set_rd(e, i->rd, d);
        return;
    }
    struct opnd a = use(e, i->rs1);
    if (imm && digit == G_ADD && a.kind == K_REG && a.reg != d) { /* addi into another register */
        lea(e, d, a.reg, i->imm);
        if (w32) movsxd(e, d, R(d));
        set_rd(e, i->rd, d);
        return;
    }
    load_to(e, d, i->rs1);
    if (b.kind == K_IMM) {
        if (b.v || digit == G_AND) op_i(e, w32 ? 0 : 1, digit, R(d), b.v);
    } else {
        op_r(e, w32 ? 0 : 1, opc, d, b);
    }
    if (w32) movsxd(e, d, R(d));
    set_rd(e, i->rd, d);
}

/* BMI2 shlx/shrx/sarx d, s, count (register operands): the count need not
 * be in CL and the source is not overwritten, so a register shift is one
 * instruction instead of three. The count is masked to 6 bits (5 for w32),
 * as RISC-V masks it. */
static void shiftx(struct emit *e, int w, int digit, int d, int s, int count)
{
    assert(digit == S_SHL || digit == S_SHR || digit == S_SAR);
    uint8_t pp = digit == S_SHL ? 1 : digit == S_SHR ? 3 : 2; /* 66, F2, F3 */
    b1(e, 0xc4);
    b1(e, (uint8_t)(((d & 8) ? 0 : 0x80) | 0x40 | ((s & 8) ? 0 : 0x20) | 2)); /* ~R ~X ~B, 0F38 */
    b1(e, (uint8_t)((w ? 0x80 : 0) | ((~count & 15) << 3) | pp));
    b1(e, 0xf7);
    b1(e, (uint8_t)(0xc0 | (d & 7) << 3 | (s & 7)));
}

static void shift(struct emit *e, const struct insn *i, int digit, bool imm, bool w32)
{
    if (i->rd == 32) return;
    struct opnd b = imm ? IMM(i->imm) : use(e, i->rs2);
    if (!imm && b.kind == K_REG && host_has(8)) {
        struct opnd a = use(e, i->rs1);
        int d = cached(e, i->rd) ? e->host_of[i->rd] : RAX;
        int s = a.kind == K_REG ? a.reg : RAX;
        if (a.kind != K_REG) load_to(e, RAX, i->rs1);
        shiftx(e, w32 ? 0 : 1, digit, d, s, b.reg);
        if (w32) movsxd(e, d, R(d));
        set_rd(e, i->rd, d);
        return;
    }
    if (!imm) {
        if (b.kind == K_IMM)
            b = IMM(0);
        else if (b.kind == K_REG)
            mov_rr(e, RCX, b.reg);
        else
            mov_load(e, RCX, b.reg, b.v);
    }
    int d = dest(e, i->rd, imm ? 0 : i->rs2);
    if (d != RAX && !imm && i->rs1 != i->rd && i->rs2 == i->rd) d = RAX;
    load_to(e, d, i->rs1);
    if (imm || b.kind == K_IMM) {
        if (b.v) shift_i(e, w32 ? 0 : 1, digit, d, b.v);
    } else {
        shift_cl(e, w32 ? 0 : 1, digit, d);
    }
    if (w32) movsxd(e, d, R(d));
    set_rd(e, i->rd, d);
}

/* rd = (rs1 <cc> src2) ? 1 : 0 */
static void setcc(struct emit *e, const struct insn *i, int cc, bool imm)
{
    if (i->rd == 32) return;
    struct opnd b = imm ? IMM(i->imm) : use(e, i->rs2);
    struct opnd a = use(e, i->rs1);
    int ar;
    if (a.kind == K_REG) {
        ar = a.reg;
    } else {
        load_to(e, RCX, i->rs1);
        ar = RCX;
    }
    enc(e, 0, 0, 1, 0x33, RAX, R(RAX), false); /* xor eax, eax */
    if (b.kind == K_IMM)
        op_i(e, 1, G_CMP, R(ar), b.v);
    else
        op_r(e, 1, 0x3b, ar, b);
    enc(e, 0, 0, 2, 0x0f90 | (uint32_t)cc, 0, R(RAX), true);
    set_rd(e, i->rd, RAX);
}

static void mul(struct emit *e, const struct insn *i, bool w32)
{
    if (i->rd == 32) return;
    struct opnd b = use(e, i->rs2);
    int d = dest(e, i->rd, i->rs2);
    if (d != RAX && i->rs1 != i->rd && i->rs2 == i->rd) d = RAX;
    load_to(e, d, i->rs1);
    if (b.kind == K_IMM)
        mov_imm(e, d, 0);
    else
        enc(e, 0, w32 ? 0 : 1, 2, 0x0faf, d, b, false); /* imul d, b */
    if (w32) movsxd(e, d, R(d));
    set_rd(e, i->rd, d);
}

/* high half of the product: digit 5 imul (signed), 4 mul (unsigned) */
static void mulh(struct emit *e, const struct insn *i)
{
    if (i->rd == 32) return;
    struct opnd b = use(e, i->rs2);
    load_to(e, RAX, i->rs1);
    if (b.kind == K_IMM) {
        mov_imm(e, RDX, 0);
        set_rd(e, i->rd, RDX);
        return;
    }
    enc(e, 0, 1, 1, 0xf7, i->op == OP_MULH ? 5 : 4, b, false);
    if (i->op == OP_MULHSU) {
        /* signed x unsigned: the unsigned high half, minus rs2 if rs1 < 0 */
        load_to(e, RCX, i->rs1);
        shift_i(e, 1, S_SAR, RCX, 63);
        op_r(e, 1, 0x23, RCX, b);
        op_r(e, 1, 0x2b, RDX, R(RCX));
    }
    set_rd(e, i->rd, RDX);
}

/* ---- control transfers -------------------------------------------------------------------------
 */

/* The back edge of a self-loop: every cached register loaded again (helper
 * calls drop caller-saved ones), the event and budget checks, and back to
 * the body; leaving writes the registers back. The budget check is the
 * block entry's, a little stricter (go on while a whole iteration fits:
 * budget - n >= 0) so that it is one subtraction and a branch; leaving
 * gives the iteration's n back, as if the check came first. */
static void loop_back(struct emit *e)
{
    for (int k = 0; k < NCACHE; k++) {
        int r = cache_regs[k];
        if (e->guest_of[r] && !(e->loaded & (1u << r))) {
            mov_load(e, r, RH, XOFF(e->guest_of[r]));
            e->loaded |= (uint16_t)(1u << r);
        }
    }
    /* the body was emitted for dirty == written at its top: anything else
     * dirty (none, if written is complete) goes to the hart now */
    writeback_mask(e, e->dirty & (uint16_t)~e->written);
    e->dirty |= e->written;
    if (!e->j->chain) {
        /* the checker (--jit check) compares a run of the block with the
         * interpreter's run of it: exactly two iterations (the prologue set
         * h->jit_iters to 1), whatever the events and budget, so that the
         * interpreter can do the same (jit_check_step) */
        op_i(e, 0, G_SUB, M(RH, HOFF(jit_iters)), 1);
        uint8_t *out = jcc32(e, CC_L);
        op_i(e, 1, G_SUB, M(RH, HOFF(budget)), (int32_t)e->b->n);
        fix(e, jmp32(e), e->body);
        fix(e, out, e->p);
        writeback(e); /* r14 is already the block's pc */
        jmp_rx(e, e->j->exit_lookup);
        return;
    }
    op_i(e, 0, G_CMP, M(RH, HOFF(events)), 0);
    uint8_t *out = jcc32(e, CC_NE);
    op_i(e, 1, G_SUB, M(RH, HOFF(budget)), (int32_t)e->b->n);
    fix(e, jcc32(e, CC_GE), e->body);
    op_i(e, 1, G_ADD, M(RH, HOFF(budget)), (int32_t)e->b->n);
    fix(e, out, e->p);
    writeback(e); /* r14 is already the block's pc */
    jmp_rx(e, e->j->exit_lookup);
}

static void branch(struct emit *e, const struct insn *i, int cc)
{
    struct opnd b = use(e, i->rs2);
    struct opnd a = use(e, i->rs1);
    int ar;
    if (a.kind == K_REG) {
        ar = a.reg;
    } else {
        load_to(e, RAX, i->rs1);
        ar = RAX;
    }
    if (e->selfloop && (int64_t)i->off + i->imm == 0) {
        /* a loop: registers stay in host registers on the way back */
        if (b.kind == K_IMM)
            op_i(e, 1, G_CMP, R(ar), 0);
        else
            op_r(e, 1, 0x3b, ar, b);
        uint8_t *taken = jcc32(e, cc);
        uint16_t dirty = e->dirty, loaded = e->loaded;
        writeback(e);
        exit_to(e, (int64_t)i->off + i->len);
        e->dirty = dirty;
        e->loaded = loaded;
        fix(e, taken, e->p);
        loop_back(e);
        return;
    }
    writeback(e);
    if (b.kind == K_IMM)
        op_i(e, 1, G_CMP, R(ar), 0);
    else
        op_r(e, 1, 0x3b, ar, b);
    uint8_t *taken = jcc32(e, cc);
    exit_to(e, (int64_t)i->off + i->len);
    fix(e, taken, e->p);
    exit_to(e, (int64_t)i->off + i->imm);
}

static void jal(struct emit *e, const struct insn *i)
{
    if (i->rd != 32) {
        lea(e, RAX, RPC, (int32_t)(i->off + i->len));
        set_rd(e, i->rd, RAX);
    }
    if (e->selfloop && (int64_t)i->off + i->imm == 0) {
        loop_back(e);
        return;
    }
    writeback(e);
    exit_to(e, (int64_t)i->off + i->imm);
}

static void jalr(struct emit *e, const struct insn *i)
{
    load_to(e, RAX, i->rs1);
    if (i->imm) op_i(e, 1, G_ADD, R(RAX), i->imm);
    op_i(e, 1, G_AND, R(RAX), -2);
    if (i->rd != 32) {
        lea(e, RCX, RPC, (int32_t)(i->off + i->len));
        set_rd(e, i->rd, RCX);
    }
    writeback(e);
    mov_rr(e, RPC, RAX);
    exit_lookup_pc(e);
}

/* ---- floating point ---------------------------------------------------------------------------
 *
 * The arithmetic is fpu.c's (bit-exact with the interpreter by construction),
 * called directly: no exec_one dispatch. The block's prologue has already
 * checked that mstatus.FS is on and, if the block uses the dynamic rounding
 * mode, that frm is valid (else the interpreter runs the block, and traps). */

enum fk {
    FK_NONE, FK_BIN_S, FK_BIN_D, FK_UN_S, FK_UN_D, FK_FMA_S, FK_FMA_D, FK_MM_S, FK_MM_D,
    FK_CMP_S, FK_CMP_D, FK_CLASS_S, FK_CLASS_D, FK_F2I_S, FK_F2I_D, FK_I2F_S, FK_I2F_D,
    FK_S2D, FK_D2S,
};

static const void *fp_fn(int op, int *kind)
{
    switch (op) {
#define K(o, k, fn)                                                                                \
    case OP_##o: *kind = k; return (const void *)fn;
    K(FADD_S, FK_BIN_S, f32_add) K(FSUB_S, FK_BIN_S, f32_sub) K(FMUL_S, FK_BIN_S, f32_mul)
    K(FDIV_S, FK_BIN_S, f32_div) K(FSQRT_S, FK_UN_S, f32_sqrt)
    K(FADD_D, FK_BIN_D, f64_add) K(FSUB_D, FK_BIN_D, f64_sub) K(FMUL_D, FK_BIN_D, f64_mul)
    K(FDIV_D, FK_BIN_D, f64_div) K(FSQRT_D, FK_UN_D, f64_sqrt)
    K(FMADD_S, FK_FMA_S, f32_madd) K(FMSUB_S, FK_FMA_S, f32_msub)
    K(FNMSUB_S, FK_FMA_S, f32_nmsub) K(FNMADD_S, FK_FMA_S, f32_nmadd)
    K(FMADD_D, FK_FMA_D, f64_madd) K(FMSUB_D, FK_FMA_D, f64_msub)
    K(FNMSUB_D, FK_FMA_D, f64_nmsub) K(FNMADD_D, FK_FMA_D, f64_nmadd)
    K(FMIN_S, FK_MM_S, f32_min) K(FMAX_S, FK_MM_S, f32_max)
    K(FMIN_D, FK_MM_D, f64_min) K(FMAX_D, FK_MM_D, f64_max)
    K(FEQ_S, FK_CMP_S, f32_eq) K(FLT_S, FK_CMP_S, f32_lt) K(FLE_S, FK_CMP_S, f32_le)
    K(FEQ_D, FK_CMP_D, f64_eq) K(FLT_D, FK_CMP_D, f64_lt) K(FLE_D, FK_CMP_D, f64_le)
    K(FCLASS_S, FK_CLASS_S, f32_classify) K(FCLASS_D, FK_CLASS_D, f64_classify)
    K(FCVT_W_S, FK_F2I_S, f32_to_i32) K(FCVT_WU_S, FK_F2I_S, f32_to_u32)
    K(FCVT_L_S, FK_F2I_S, f32_to_i64) K(FCVT_LU_S, FK_F2I_S, f32_to_u64)
    K(FCVT_W_D, FK_F2I_D, f64_to_i32) K(FCVT_WU_D, FK_F2I_D, f64_to_u32)
    K(FCVT_L_D, FK_F2I_D, f64_to_i64) K(FCVT_LU_D, FK_F2I_D, f64_to_u64)
    K(FCVT_S_W, FK_I2F_S, i32_to_f32) K(FCVT_S_WU, FK_I2F_S, u32_to_f32)
    K(FCVT_S_L, FK_I2F_S, i64_to_f32) K(FCVT_S_LU, FK_I2F_S, u64_to_f32)
    K(FCVT_D_W, FK_I2F_D, i32_to_f64) K(FCVT_D_WU, FK_I2F_D, u32_to_f64)
    K(FCVT_D_L, FK_I2F_D, i64_to_f64) K(FCVT_D_LU, FK_I2F_D, u64_to_f64)
    K(FCVT_D_S, FK_S2D, f32_to_f64) K(FCVT_S_D, FK_D2S, f64_to_f32)
#undef K
    default: *kind = FK_NONE; return NULL;
    }
}

/* Does op read the rounding mode (and so need a valid frm when rm = 7)? */
static bool uses_rm(int op)
{
    int k;
    if (!fp_fn(op, &k)) return false;
    return k != FK_MM_S && k != FK_MM_D && k != FK_CMP_S && k != FK_CMP_D && k != FK_CLASS_S &&
           k != FK_CLASS_D;
}

static bool is_fp(int op)
{
    int k;
    if (fp_fn(op, &k)) return true;
    switch (op) {
    case OP_FLW: case OP_FLD: case OP_FSW: case OP_FSD:
    case OP_FSGNJ_S: case OP_FSGNJN_S: case OP_FSGNJX_S:
    case OP_FSGNJ_D: case OP_FSGNJN_D: case OP_FSGNJX_D:
    case OP_FMV_X_W: case OP_FMV_W_X: case OP_FMV_X_D: case OP_FMV_D_X:
        return true;
    default:
        return false;
    }
}

/* mstatus.FS = SD = dirty (once per block: nothing in a block clears it) */
static void fp_dirty(struct emit *e)
{
    if (e->fs_dirty) return;
    op_i(e, 0, G_OR, M(RH, HOFF(mstatus)), (int32_t)MSTATUS_FS);
    enc(e, 0, 0, 1, 0x80, 1, M(RH, HOFF(mstatus) + 7), false); /* or byte [.. + 7], 0x80 */
    b1(e, 0x80);
    e->fs_dirty = true;
}

/* d32 = the binary32 in f[r], or the canonical NaN if it is not NaN-boxed;
 * clobbers RAX. */
static void unbox32(struct emit *e, int d, int r)
{
    if (e->boxed & (1u << r)) { /* boxed by this block: mov d32, [f] */
        op_r(e, 0, 0x8b, d, M(RH, FOFF(r)));
        return;
    }
    mov_load(e, d, RH, FOFF(r));
    mov_rr(e, RAX, d);
    shift_i(e, 1, S_SHR, RAX, 32);
    op_i(e, 0, G_CMP, R(RAX), -1);
    mov_imm(e, RAX, F32_CANONICAL_NAN);
    enc(e, 0, 0, 2, 0x0f45, d, R(RAX), false); /* cmovne d32, eax */
    op_r(e, 0, 0x8b, d, R(d));                  /* mov d32, d32: zero-extend */
}

/* f[rd] = NaN-boxed eax (clobbers RCX) */
static void box_store(struct emit *e, int rd)
{
    op_r(e, 0, 0x8b, RAX, R(RAX)); /* zero-extend */
    mov_imm(e, RCX, 0xffffffff00000000ull);
    op_r(e, 1, 0x0b, RAX, R(RCX));
    mov_store(e, RH, FOFF(rd), RAX);
    e->boxed |= 1u << rd;
    e->nbox++;
}

static void spill_caller_saved(struct emit *e)
{
    writeback_mask(e, e->dirty & CALLER_SAVED);
    e->dirty &= (uint16_t)~CALLER_SAVED;
    e->loaded &= (uint16_t)~CALLER_SAVED;
}

/* the rounding mode argument: the instruction's, or frm */
static void rm_arg(struct emit *e, int d, const struct insn *i)
{
    if (i->rm == 7)
        op_r(e, 0, 0x8b, d, M(RH, HOFF(frm)));
    else
        mov_imm(e, d, i->rm);
}

static void fp_call(struct emit *e, const struct insn *i, const void *fn, int kind)
{
    static const int arg[] = {RDI, RSI, RDX, RCX, R8};
    spill_caller_saved(e);
    int n = 0;
    switch (kind) {
    case FK_BIN_S: case FK_MM_S: case FK_CMP_S:
        unbox32(e, RDI, i->rs1);
        unbox32(e, RSI, i->rs2);
        n = 2;
        break;
    case FK_BIN_D: case FK_MM_D: case FK_CMP_D:
        mov_load(e, RDI, RH, FOFF(i->rs1));
        mov_load(e, RSI, RH, FOFF(i->rs2));
        n = 2;
        break;
    case FK_UN_S: case FK_CLASS_S: case FK_F2I_S: case FK_S2D:
        unbox32(e, RDI, i->rs1);
        n = 1;
        break;
    case FK_UN_D: case FK_CLASS_D: case FK_F2I_D: case FK_D2S:
        mov_load(e, RDI, RH, FOFF(i->rs1));
        n = 1;
        break;
    case FK_FMA_S:
        unbox32(e, RDI, i->rs1);
        unbox32(e, RSI, i->rs2);
        unbox32(e, RDX, i->rs3);
        n = 3;
        break;
    case FK_FMA_D:
        mov_load(e, RDI, RH, FOFF(i->rs1));
        mov_load(e, RSI, RH, FOFF(i->rs2));
        mov_load(e, RDX, RH, FOFF(i->rs3));
        n = 3;
        break;
    case FK_I2F_S: case FK_I2F_D:
        load_to(e, RDI, i->rs1);
        e->loaded &= (uint16_t)~CALLER_SAVED; /* use() may have loaded one */
        n = 1;
        break;
    }
    bool rm = kind != FK_MM_S && kind != FK_MM_D && kind != FK_CMP_S && kind != FK_CMP_D &&
              kind != FK_CLASS_S && kind != FK_CLASS_D && kind != FK_S2D;
    if (rm) rm_arg(e, arg[n++], i);
    bool flags = kind != FK_CLASS_S && kind != FK_CLASS_D;
    if (flags) lea(e, arg[n++], RH, HOFF(fflags));
    /* ops with an integer result make FS dirty only if they raised a flag */
    bool to_int = kind == FK_CMP_S || kind == FK_CMP_D || kind == FK_F2I_S || kind == FK_F2I_D;
    if (to_int && !e->fs_dirty) {
        op_r(e, 0, 0x8b, RAX, M(RH, HOFF(fflags)));
        mov_store(e, RSP, 0, RAX); /* the spare slot of the frame */
    }
    call_abs(e, fn);
    switch (kind) {
    case FK_BIN_S: case FK_UN_S: case FK_FMA_S: case FK_MM_S: case FK_I2F_S: case FK_D2S:
        box_store(e, i->rd);
        fp_dirty(e);
        break;
    case FK_BIN_D: case FK_UN_D: case FK_FMA_D: case FK_MM_D: case FK_I2F_D: case FK_S2D:
        mov_store(e, RH, FOFF(i->rd), RAX);
        fp_dirty(e);
        break;
    case FK_CLASS_S: case FK_CLASS_D:
        op_r(e, 0, 0x8b, RAX, R(RAX));
        set_rd(e, i->rd, RAX);
        break;
    default: /* to an integer register */
        if (i->op != OP_FCVT_L_S && i->op != OP_FCVT_LU_S && i->op != OP_FCVT_L_D &&
            i->op != OP_FCVT_LU_D)
            movsxd(e, RAX, R(RAX)); /* W, WU (sign-extended too), comparisons (0 or 1) */
        set_rd(e, i->rd, RAX);
        if (!e->fs_dirty) {
            op_r(e, 0, 0x8b, RCX, M(RH, HOFF(fflags)));
            op_r(e, 0, 0x3b, RCX, M(RSP, 0));
            uint8_t *same = jcc32(e, CC_E);
            fp_dirty(e);
            e->fs_dirty = false; /* dirty only on this path */
            fix(e, same, e->p);
        }
        break;
    }
}

/* ---- floating point inline (RNE, binary64 and binary32 add/sub/mul, binary64 div/sqrt) ----
 *
 * The same exactness tests as fpu.c's host fast paths (part 2 there says why
 * they are exact), without the call and without touching MXCSR: translated
 * code runs with MXCSR at its default (round to nearest, all exceptions
 * masked), which fpu.c restores after every operation. An operand or result
 * outside the guarded range (zero, subnormal, huge, infinite, NaN) or another
 * rounding mode takes the out-of-line call to fpu.c. */

static int host_fma = -1; /* the CPU has FMA3 (and the OS AVX state) */

/* SSE: [prefix] [REX.W] 0F op /r, with xmm registers 0-7 and GPR bases */
static void sse(struct emit *e, uint8_t pfx, int w, uint8_t op, int reg, struct opnd rm)
{
    if (pfx) b1(e, pfx);
    enc(e, 0, w, 2, 0x0f00u | op, reg, rm, false);
}

enum { X0, X1, X2, X3, X4 };
static void movq_xr(struct emit *e, int x, int r) { sse(e, 0x66, 1, 0x6e, x, R(r)); }
static void movq_rx(struct emit *e, int r, int x) { sse(e, 0x66, 1, 0x7e, x, R(r)); }
static void movsd_xx(struct emit *e, int d, int s) { sse(e, 0x66, 0, 0x28, d, R(s)); } /* movapd */
static void addsd(struct emit *e, int d, int s) { sse(e, 0xf2, 0, 0x58, d, R(s)); }
static void subsd(struct emit *e, int d, int s) { sse(e, 0xf2, 0, 0x5c, d, R(s)); }
static void mulsd(struct emit *e, int d, int s) { sse(e, 0xf2, 0, 0x59, d, R(s)); }
static void divsd(struct emit *e, int d, int s) { sse(e, 0xf2, 0, 0x5e, d, R(s)); }
static void sqrtsd(struct emit *e, int d, int s) { sse(e, 0xf2, 0, 0x51, d, R(s)); }
static void cvtss2sd(struct emit *e, int d, int s) { sse(e, 0xf3, 0, 0x5a, d, R(s)); }
static void cvtsd2ss(struct emit *e, int d, int s) { sse(e, 0xf2, 0, 0x5a, d, R(s)); }
static void movd_xr(struct emit *e, int x, int r) { sse(e, 0x66, 0, 0x6e, x, R(r)); }
static void movd_rx(struct emit *e, int r, int x) { sse(e, 0x66, 0, 0x7e, x, R(r)); }

/* VEX.128.66.0F38.W1 op /r: d = FMA(s1, rm, d) forms (xmm 0-7) */
static void vfma(struct emit *e, uint8_t op, int d, int s1, int rm)
{
    b1(e, 0xc4);
    b1(e, 0xe2);                                    /* R X B = 1 (no extension), map 0F38 */
    b1(e, (uint8_t)(0x80 | ((~s1 & 15) << 3) | 1)); /* W1, vvvv = ~s1, L0, pp 66 */
    b1(e, op);
    b1(e, (uint8_t)(0xc0 | (d & 7) << 3 | (rm & 7)));
}

/* Jump to slow unless the biased exponent field of the binary64 in r is in
 * [lo, hi]; with_sign: the sign bit is part of the field (a negative value
 * is out of range). Clobbers RCX. */
static void exp_guard(struct emit *e, int r, uint32_t lo, uint32_t hi, uint8_t **slow,
                      bool with_sign)
{
    mov_rr(e, RCX, r);
    shift_i(e, 1, S_SHR, RCX, 52);
    if (!with_sign) op_i(e, 0, G_AND, R(RCX), 0x7ff);
    op_i(e, 0, G_SUB, R(RCX), (int32_t)lo);
    op_i(e, 0, G_CMP, R(RCX), (int32_t)(hi - lo));
    *slow = jcc32(e, CC_A);
}

/* fflags |= NX if the binary64 in xmm x is not +-0 (clobbers RCX) */
/* The jump over an inexact check when fflags.NX is already set (the check
 * could only set it again): test byte [fflags], NX; jnz. */
static uint8_t *skip_if_nx(struct emit *e)
{
    enc(e, 0, 0, 1, 0xf6, 0, M(RH, HOFF(fflags)), false);
    b1(e, FPU_NX);
    return jcc32(e, CC_NE);
}

static void nx_if_nonzero(struct emit *e, int x)
{
    movq_rx(e, RCX, x);
    op_r(e, 1, 0x03, RCX, R(RCX)); /* add rcx, rcx: drop the sign, ZF if zero */
    uint8_t *exact = jcc32(e, CC_E);
    op_i(e, 0, G_OR, M(RH, HOFF(fflags)), FPU_NX);
    fix(e, exact, e->p);
}

static void add_pend_fp(struct emit *e, uint8_t **slow, int n, uint8_t *resume,
                        const struct insn *i)
{
    for (int k = 0; k < n; k++) {
        if (e->npend >= MAX_PEND) {
            e->overflow = true;
            return;
        }
        struct pend *p = &e->pend[e->npend++];
        memset(p, 0, sizeof(*p));
        p->kind = P_FPSLOW;
        p->op = (uint8_t)i->op;
        p->idx = (uint8_t)e->idx;
        p->dirty = e->dirty;
        p->loaded = e->loaded;
        p->fix = slow[k];
        p->resume = resume;
    }
}

/* Inline the op if it is one of the fast ones; false: use fp_call. */
static bool fp_inline(struct emit *e, const struct insn *i)
{
    int op = i->op;
    bool dbl = op == OP_FADD_D || op == OP_FSUB_D || op == OP_FMUL_D || op == OP_FDIV_D ||
               op == OP_FSQRT_D;
    bool sgl = op == OP_FADD_S || op == OP_FSUB_S || op == OP_FMUL_S;
    if (!dbl && !sgl) return false;
    if (host_fma < 0) {
        __builtin_cpu_init();
        host_fma = __builtin_cpu_supports("avx") && __builtin_cpu_supports("fma");
    }
    bool fma_needed = op == OP_FMUL_D || op == OP_FDIV_D || op == OP_FSQRT_D;
    if ((fma_needed && !host_fma) || (i->rm != 0 && i->rm != 7)) return false;
    uint8_t *slow[8]; /* at most: frm, two operands, two result checks */
    int ns = 0;
    uint8_t *skip = NULL; /* over the inexact check when NX is set */
    if (i->rm == 7) { /* dynamic: round to nearest only */
        op_i(e, 0, G_CMP, M(RH, HOFF(frm)), 0);
        slow[ns++] = jcc32(e, CC_NE);
    }
    if (dbl) {
        mov_load(e, RAX, RH, FOFF(i->rs1));
        movq_xr(e, X0, RAX);
        if (op != OP_FSQRT_D) {
            mov_load(e, RDX, RH, FOFF(i->rs2));
            if (op == OP_FSUB_D) { /* a - b = a + (-b), exactly */
                mov_imm(e, RCX, 1ull << 63);
                op_r(e, 1, 0x33, RDX, R(RCX));
            }
            movq_xr(e, X1, RDX);
        }
        switch (op) {
        case OP_FADD_D:
        case OP_FSUB_D:
            /* s = a + b; 2Sum gives its exact error */
            movsd_xx(e, X2, X0);
            addsd(e, X2, X1);
            movq_rx(e, RAX, X2);
            mov_rr(e, RCX, RAX);
            op_r(e, 1, 0x03, RCX, R(RCX));
            shift_i(e, 1, S_SHR, RCX, 53);
            op_i(e, 0, G_CMP, R(RCX), 0x7ff); /* overflow, an infinite or NaN operand */
            slow[ns++] = jcc32(e, CC_E);
            skip = skip_if_nx(e);
            movsd_xx(e, X3, X2);
            subsd(e, X3, X0); /* bb = s - a */
            movsd_xx(e, X4, X2);
            subsd(e, X4, X3); /* s - bb */
            subsd(e, X0, X4); /* a - (s - bb) */
            subsd(e, X1, X3); /* b - bb */
            addsd(e, X0, X1); /* the error */
            nx_if_nonzero(e, X0);
            break;
        case OP_FMUL_D:
            /* normal operands with the product in [2^-958, 2^1022) */
            exp_guard(e, RAX, 0x220, 0x5fd, &slow[ns++], false);
            exp_guard(e, RDX, 0x220, 0x5fd, &slow[ns++], false);
            movsd_xx(e, X2, X0);
            mulsd(e, X2, X1);       /* p */
            movq_rx(e, RAX, X2);
            skip = skip_if_nx(e);
            movsd_xx(e, X3, X2);
            vfma(e, 0xbb, X3, X0, X1); /* vfmsub231sd: e = a*b - p */
            nx_if_nonzero(e, X3);
            break;
        case OP_FDIV_D:
            exp_guard(e, RAX, 0x220, 0x5fd, &slow[ns++], false);
            exp_guard(e, RDX, 0x220, 0x5fd, &slow[ns++], false);
            movsd_xx(e, X2, X0);
            divsd(e, X2, X1);       /* q */
            movq_rx(e, RAX, X2);
            skip = skip_if_nx(e);
            movsd_xx(e, X3, X0);
            vfma(e, 0xbd, X3, X2, X1); /* vfnmadd231sd: r = a - q*b */
            nx_if_nonzero(e, X3);
            break;
        default: /* FSQRT_D: positive, at least 2^-479 */
            exp_guard(e, RAX, 0x220, 0x7fe, &slow[ns++], true);
            sqrtsd(e, X2, X0);      /* r */
            movq_rx(e, RAX, X2);
            skip = skip_if_nx(e);
            movsd_xx(e, X3, X0);
            vfma(e, 0xbd, X3, X2, X2); /* e = a - r*r */
            nx_if_nonzero(e, X3);
            break;
        }
        fix(e, skip, e->p);
        mov_store(e, RH, FOFF(i->rd), RAX);
    } else {
        /* binary32 through binary64 (rounding twice is harmless in RNE) */
        unbox32(e, RDX, i->rs1);
        unbox32(e, RCX, i->rs2);
        if (op == OP_FSUB_S) op_i(e, 0, G_XOR, R(RCX), (int32_t)0x80000000u);
        movd_xr(e, X0, RDX);
        movd_xr(e, X1, RCX);
        /* no infinite or NaN operand */
        for (int k = 0; k < 2; k++) {
            int r = k ? RCX : RDX;
            op_i(e, 0, G_AND, R(r), 0x7f800000);
            op_i(e, 0, G_CMP, R(r), 0x7f800000);
            slow[ns++] = jcc32(e, CC_E);
        }
        cvtss2sd(e, X0, X0);
        cvtss2sd(e, X1, X1);
        movsd_xx(e, X2, X0);
        if (op == OP_FMUL_S)
            mulsd(e, X2, X1); /* exact */
        else
            addsd(e, X2, X1);
        cvtsd2ss(e, X3, X2); /* r */
        movd_rx(e, RAX, X3);
        /* result: normal and not in the binade where it could overflow;
         * a tiny sum is exact, a tiny product goes to software */
        mov_rr(e, RDX, RAX);
        op_i(e, 0, G_AND, R(RDX), 0x7fffffff);
        op_i(e, 0, G_CMP, R(RDX), 0x7f000000);
        slow[ns++] = jcc32(e, CC_AE);
        if (op == OP_FMUL_S) {
            op_i(e, 0, G_CMP, R(RDX), 0x00800000);
            slow[ns++] = jcc32(e, CC_BE);
        }
        uint8_t *skip_s = skip_if_nx(e);
        cvtss2sd(e, X3, X3); /* rd */
        if (op == OP_FMUL_S) {
            subsd(e, X3, X2); /* rd - p: exact, zero iff exact */
            nx_if_nonzero(e, X3);
        } else {
            /* inexact iff rd != s or s itself was inexact (2Sum error) */
            subsd(e, X3, X2);  /* rd - s */
            movsd_xx(e, X4, X2);
            subsd(e, X4, X0);  /* bb = s - a */
            movsd_xx(e, X2, X2);
            subsd(e, X2, X4);  /* s - bb */
            subsd(e, X0, X2);  /* a - (s - bb) */
            subsd(e, X1, X4);  /* b - bb */
            addsd(e, X0, X1);  /* the error of s */
            /* either nonzero: NX (OR of the magnitudes) */
            movq_rx(e, RCX, X3);
            op_r(e, 1, 0x03, RCX, R(RCX));
            movq_rx(e, RDX, X0);
            op_r(e, 1, 0x03, RDX, R(RDX));
            op_r(e, 1, 0x0b, RCX, R(RDX));
            uint8_t *exact = jcc32(e, CC_E);
            op_i(e, 0, G_OR, M(RH, HOFF(fflags)), FPU_NX);
            fix(e, exact, e->p);
        }
        fix(e, skip_s, e->p);
        box_store(e, i->rd);
    }
    uint8_t *resume = e->p;
    add_pend_fp(e, slow, ns, resume, i);
    fp_dirty(e);
    return true;
}

/* The out-of-line call for an inlined op: the general path. */
static void emit_fp_slow(struct emit *e, const struct pend *p)
{
    const struct insn *i = &e->b->insns[p->idx];
    int kind;
    const void *fn = fp_fn(i->op, &kind);
    writeback_mask(e, p->dirty & CALLER_SAVED);
    int n;
    if (kind == FK_BIN_S) {
        unbox32(e, RDI, i->rs1);
        unbox32(e, RSI, i->rs2);
        n = 2;
    } else {
        mov_load(e, RDI, RH, FOFF(i->rs1));
        n = 1;
        if (kind == FK_BIN_D) {
            mov_load(e, RSI, RH, FOFF(i->rs2));
            n = 2;
        }
    }
    rm_arg(e, n == 2 ? RDX : RSI, i);
    lea(e, n == 2 ? RCX : RDX, RH, HOFF(fflags));
    call_abs(e, fn);
    if (kind == FK_BIN_S)
        box_store(e, i->rd);
    else
        mov_store(e, RH, FOFF(i->rd), RAX);
    reload_mask(e, p->loaded & CALLER_SAVED);
    fix(e, jmp32(e), p->resume);
}

static bool lower_fp(struct emit *e, const struct insn *i)
{
    int kind;
    const void *fn = fp_fn(i->op, &kind);
    if (fn && fp_inline(e, i)) return true;
    if (fn) {
        fp_call(e, i, fn, kind);
        return true;
    }
    switch (i->op) {
    case OP_FSGNJ_S: case OP_FSGNJN_S: case OP_FSGNJX_S:
        unbox32(e, RDX, i->rs1);
        unbox32(e, RCX, i->rs2);
        op_i(e, 0, G_AND, R(RCX), (int32_t)0x80000000u);
        if (i->op == OP_FSGNJX_S) {
            op_r(e, 0, 0x33, RDX, R(RCX));
        } else {
            if (i->op == OP_FSGNJN_S) op_i(e, 0, G_XOR, R(RCX), (int32_t)0x80000000u);
            op_i(e, 0, G_AND, R(RDX), 0x7fffffff);
            op_r(e, 0, 0x0b, RDX, R(RCX));
        }
        mov_rr(e, RAX, RDX);
        box_store(e, i->rd);
        fp_dirty(e);
        return true;
    case OP_FSGNJ_D: case OP_FSGNJN_D: case OP_FSGNJX_D:
        mov_load(e, RDX, RH, FOFF(i->rs1));
        mov_load(e, RCX, RH, FOFF(i->rs2));
        shift_i(e, 1, S_SHR, RCX, 63);
        shift_i(e, 1, S_SHL, RCX, 63); /* the sign of rs2 */
        if (i->op == OP_FSGNJX_D) {
            op_r(e, 1, 0x33, RDX, R(RCX));
        } else {
            if (i->op == OP_FSGNJN_D) {
                mov_imm(e, RAX, 1ull << 63);
                op_r(e, 1, 0x33, RCX, R(RAX));
            }
            shift_i(e, 1, S_SHL, RDX, 1);
            shift_i(e, 1, S_SHR, RDX, 1);
            op_r(e, 1, 0x0b, RDX, R(RCX));
        }
        mov_store(e, RH, FOFF(i->rd), RDX);
        fp_dirty(e);
        return true;
    case OP_FMV_X_W:
        if (i->rd != 32) {
            movsxd(e, RAX, M(RH, FOFF(i->rs1)));
            set_rd(e, i->rd, RAX);
        }
        return true;
    case OP_FMV_X_D:
        if (i->rd != 32) {
            mov_load(e, RAX, RH, FOFF(i->rs1));
            set_rd(e, i->rd, RAX);
        }
        return true;
    case OP_FMV_W_X:
        load_to(e, RAX, i->rs1);
        box_store(e, i->rd);
        fp_dirty(e);
        return true;
    case OP_FMV_D_X:
        load_to(e, RAX, i->rs1);
        mov_store(e, RH, FOFF(i->rd), RAX);
        fp_dirty(e);
        return true;
    default:
        return false;
    }
}

/* ---- M: divide and remainder; Zba, Zbb, Zbs ---------------------------------------------- */

/* guest rs2 as a register or memory operand (x0: RCX = 0) */
static struct opnd src2(struct emit *e, int g)
{
    struct opnd b = use(e, g);
    if (b.kind == K_IMM) {
        mov_imm(e, RCX, 0);
        return R(RCX);
    }
    return b;
}

/* x86 division faults on a zero divisor and on INT_MIN / -1: RISC-V defines
 * both (all ones / the dividend, and the dividend / zero). */
static void divrem(struct emit *e, const struct insn *i)
{
    if (i->rd == 32) return;
    int op = i->op;
    bool w = op == OP_DIVW || op == OP_DIVUW || op == OP_REMW || op == OP_REMUW;
    bool sgn = op == OP_DIV || op == OP_REM || op == OP_DIVW || op == OP_REMW;
    bool rem = op == OP_REM || op == OP_REMU || op == OP_REMW || op == OP_REMUW;
    int ww = w ? 0 : 1;
    load_to(e, RCX, i->rs2);
    load_to(e, RAX, i->rs1);
    enc(e, 0, ww, 1, 0x85, RCX, R(RCX), false); /* test rcx, rcx */
    uint8_t *zero = jcc32(e, CC_E);
    uint8_t *minus1 = NULL;
    if (sgn) {
        op_i(e, ww, G_CMP, R(RCX), -1);
        minus1 = jcc32(e, CC_E);
        if (w)
            b1(e, 0x99); /* cdq */
        else {
            b1(e, 0x48);
            b1(e, 0x99); /* cqo */
        }
        enc(e, 0, ww, 1, 0xf7, 7, R(RCX), false); /* idiv */
    } else {
        mov_imm(e, RDX, 0);
        enc(e, 0, ww, 1, 0xf7, 6, R(RCX), false); /* div */
    }
    if (rem) mov_rr(e, RAX, RDX);
    uint8_t *done1 = jmp32(e);
    uint8_t *done2 = NULL;
    if (sgn) { /* divisor -1: quotient -a (INT_MIN stays), remainder 0 */
        fix(e, minus1, e->p);
        if (rem)
            mov_imm(e, RAX, 0);
        else
            enc(e, 0, ww, 1, 0xf7, 3, R(RAX), false); /* neg */
        done2 = jmp32(e);
    }
    fix(e, zero, e->p); /* divisor 0: quotient all ones, remainder a */
    if (!rem) mov_imm(e, RAX, ~0ull);
    fix(e, done1, e->p);
    if (done2) fix(e, done2, e->p);
    if (w) movsxd(e, RAX, R(RAX)); /* also 32 ones -> 64 ones */
    set_rd(e, i->rd, RAX);
}

/* rd = op(rs1) or op(rs1, rs2) for the bit-manipulation ops; false if it
 * is one of those left to the helper. */
static bool bitmanip(struct emit *e, const struct insn *i)
{
    int op = i->op;
    if (op < OP_ADD_UW || op > OP_BSETI || op == OP_ORC_B) return false; /* ops.def order */
    if (i->rd == 32) return true;
    switch (op) {
    case OP_ANDN:
    case OP_ORN:
        load_to(e, RAX, i->rs2);
        enc(e, 0, 1, 1, 0xf7, 2, R(RAX), false); /* not */
        {
            struct opnd a = use(e, i->rs1);
            if (a.kind == K_IMM)
                op_i(e, 1, op == OP_ANDN ? G_AND : G_OR, R(RAX), 0);
            else
                op_r(e, 1, op == OP_ANDN ? 0x23 : 0x0b, RAX, a);
        }
        break;
    case OP_XNOR:
        load_to(e, RAX, i->rs1);
        op_r(e, 1, 0x33, RAX, src2(e, i->rs2));
        enc(e, 0, 1, 1, 0xf7, 2, R(RAX), false);
        break;
    case OP_MAX: case OP_MIN: case OP_MAXU: case OP_MINU: {
        struct opnd b = src2(e, i->rs2);
        load_to(e, RAX, i->rs1);
        op_r(e, 1, 0x3b, RAX, b);
        int cc = op == OP_MAX ? CC_L : op == OP_MIN ? CC_G : op == OP_MAXU ? CC_B : CC_A;
        enc(e, 0, 1, 2, 0x0f40u | (uint32_t)cc, RAX, b, false); /* cmovcc rax, b */
        break;
    }
    case OP_CLZ: case OP_CLZW:
        if (!host_has(1)) return false;
        load_to(e, RAX, i->rs1);
        b1(e, 0xf3);
        enc(e, 0, op == OP_CLZ, 2, 0x0fbd, RAX, R(RAX), false); /* lzcnt */
        break;
    case OP_CTZ: case OP_CTZW:
        if (!host_has(2)) return false;
        load_to(e, RAX, i->rs1);
        b1(e, 0xf3);
        enc(e, 0, op == OP_CTZ, 2, 0x0fbc, RAX, R(RAX), false); /* tzcnt */
        break;
    case OP_CPOP: case OP_CPOPW:
        if (!host_has(4)) return false;
        load_to(e, RAX, i->rs1);
        b1(e, 0xf3);
        enc(e, 0, op == OP_CPOP, 2, 0x0fb8, RAX, R(RAX), false); /* popcnt */
        break;
    case OP_SEXT_B: case OP_SEXT_H: case OP_ZEXT_H: {
        load_to(e, RAX, i->rs1);
        uint32_t opc = op == OP_SEXT_B ? 0x0fbe : op == OP_SEXT_H ? 0x0fbf : 0x0fb7;
        enc(e, 0, op != OP_ZEXT_H, 2, opc, RAX, R(RAX), false);
        break;
    }
    case OP_REV8:
        load_to(e, RAX, i->rs1);
        b1(e, 0x48);
        b1(e, 0x0f);
        b1(e, 0xc8); /* bswap rax */
        break;
    case OP_ROL: case OP_ROR: case OP_ROLW: case OP_RORW:
        load_to(e, RCX, i->rs2);
        load_to(e, RAX, i->rs1);
        shift_cl(e, op == OP_ROL || op == OP_ROR, op == OP_ROL || op == OP_ROLW ? S_ROL : S_ROR, RAX);
        if (op == OP_ROLW || op == OP_RORW) movsxd(e, RAX, R(RAX));
        break;
    case OP_RORI: case OP_RORIW:
        load_to(e, RAX, i->rs1);
        if (i->imm) shift_i(e, op == OP_RORI, S_ROR, RAX, i->imm);
        if (op == OP_RORIW) movsxd(e, RAX, R(RAX));
        break;
    case OP_SH1ADD: case OP_SH2ADD: case OP_SH3ADD:
    case OP_ADD_UW: case OP_SH1ADD_UW: case OP_SH2ADD_UW: case OP_SH3ADD_UW: {
        int k = op == OP_SH1ADD || op == OP_SH1ADD_UW ? 1 : op == OP_SH2ADD || op == OP_SH2ADD_UW ? 2
              : op == OP_ADD_UW ? 0 : 3;
        load_to(e, RAX, i->rs1);
        if (op >= OP_ADD_UW && op != OP_SH1ADD && op != OP_SH2ADD && op != OP_SH3ADD)
            op_r(e, 0, 0x8b, RAX, R(RAX)); /* zero-extend the word */
        if (k) shift_i(e, 1, S_SHL, RAX, k);
        struct opnd b = use(e, i->rs2);
        if (b.kind != K_IMM) op_r(e, 1, 0x03, RAX, b);
        break;
    }
    case OP_SLLI_UW:
        load_to(e, RAX, i->rs1);
        op_r(e, 0, 0x8b, RAX, R(RAX));
        if (i->imm) shift_i(e, 1, S_SHL, RAX, i->imm);
        break;
    case OP_BSET: case OP_BCLR: case OP_BINV: {
        load_to(e, RCX, i->rs2);
        load_to(e, RAX, i->rs1);
        uint32_t opc = op == OP_BSET ? 0x0fab : op == OP_BCLR ? 0x0fb3 : 0x0fbb;
        enc(e, 0, 1, 2, opc, RCX, R(RAX), false); /* bts/btr/btc rax, rcx */
        break;
    }
    case OP_BSETI: case OP_BCLRI: case OP_BINVI:
        load_to(e, RAX, i->rs1);
        enc(e, 0, 1, 2, 0x0fba, op == OP_BSETI ? 5 : op == OP_BCLRI ? 6 : 7, R(RAX), false);
        b1(e, (uint8_t)i->imm);
        break;
    case OP_BEXT:
        load_to(e, RCX, i->rs2);
        load_to(e, RAX, i->rs1);
        shift_cl(e, 1, S_SHR, RAX);
        op_i(e, 0, G_AND, R(RAX), 1);
        break;
    case OP_BEXTI:
        load_to(e, RAX, i->rs1);
        if (i->imm) shift_i(e, 1, S_SHR, RAX, i->imm);
        op_i(e, 0, G_AND, R(RAX), 1);
        break;
    default: return false;
    }
    set_rd(e, i->rd, RAX);
    return true;
}

/* ---- one instruction
 * ----------------------------------------------------------------------------- */

/* Lower i inline; false if it needs the helper. */
static bool lower(struct emit *e, const struct insn *i)
{
    if (is_mem(i->op)) {
        if (i->op == OP_SB || i->op == OP_SH || i->op == OP_SW || i->op == OP_SD ||
            i->op == OP_FSW || i->op == OP_FSD)
            emit_store(e, i);
        else
            emit_load(e, i);
        return true;
    }
    switch (i->op) {
    case OP_LUI:
        if (i->rd != 32) {
            mov_imm(e, RAX, (uint64_t)(int64_t)i->imm);
            set_rd(e, i->rd, RAX);
        }
        return true;
    case OP_AUIPC:
        if (i->rd != 32) {
            int64_t d = (int64_t)i->off + i->imm;
            if (is32(d)) {
                lea(e, RAX, RPC, (int32_t)d);
            } else {
                mov_imm(e, RAX, (uint64_t)d);
                op_r(e, 1, 0x03, RAX, R(RPC));
            }
            set_rd(e, i->rd, RAX);
        }
        return true;
    case OP_JAL: jal(e, i); return true;
    case OP_JALR: jalr(e, i); return true;
    case OP_BEQ: branch(e, i, CC_E); return true;
    case OP_BNE: branch(e, i, CC_NE); return true;
    case OP_BLT: branch(e, i, CC_L); return true;
    case OP_BGE: branch(e, i, CC_GE); return true;
    case OP_BLTU: branch(e, i, CC_B); return true;
    case OP_BGEU: branch(e, i, CC_AE); return true;
    case OP_ADDI: alu(e, i, 0x03, G_ADD, true, false); return true;
    case OP_XORI: alu(e, i, 0x33, G_XOR, true, false); return true;
    case OP_ORI: alu(e, i, 0x0b, G_OR, true, false); return true;
    case OP_ANDI: alu(e, i, 0x23, G_AND, true, false); return true;
    case OP_ADD: alu(e, i, 0x03, G_ADD, false, false); return true;
    case OP_SUB: alu(e, i, 0x2b, G_SUB, false, false); return true;
    case OP_XOR: alu(e, i, 0x33, G_XOR, false, false); return true;
    case OP_OR: alu(e, i, 0x0b, G_OR, false, false); return true;
    case OP_AND: alu(e, i, 0x23, G_AND, false, false); return true;
    case OP_ADDIW: alu(e, i, 0x03, G_ADD, true, true); return true;
    case OP_ADDW: alu(e, i, 0x03, G_ADD, false, true); return true;
    case OP_SUBW: alu(e, i, 0x2b, G_SUB, false, true); return true;
    case OP_SLLI: shift(e, i, S_SHL, true, false); return true;
    case OP_SRLI: shift(e, i, S_SHR, true, false); return true;
    case OP_SRAI: shift(e, i, S_SAR, true, false); return true;
    case OP_SLL: shift(e, i, S_SHL, false, false); return true;
    case OP_SRL: shift(e, i, S_SHR, false, false); return true;
    case OP_SRA: shift(e, i, S_SAR, false, false); return true;
    case OP_SLLIW: shift(e, i, S_SHL, true, true); return true;
    case OP_SRLIW: shift(e, i, S_SHR, true, true); return true;
    case OP_SRAIW: shift(e, i, S_SAR, true, true); return true;
    case OP_SLLW: shift(e, i, S_SHL, false, true); return true;
    case OP_SRLW: shift(e, i, S_SHR, false, true); return true;
    case OP_SRAW: shift(e, i, S_SAR, false, true); return true;
    case OP_SLT: setcc(e, i, CC_L, false); return true;
    case OP_SLTU: setcc(e, i, CC_B, false); return true;
    case OP_SLTI: setcc(e, i, CC_L, true); return true;
    case OP_SLTIU: setcc(e, i, CC_B, true); return true;
    case OP_MUL: mul(e, i, false); return true;
    case OP_MULW: mul(e, i, true); return true;
    case OP_MULH:
    case OP_MULHU:
    case OP_MULHSU: mulh(e, i); return true;
    case OP_FENCE:
        if ((i->rm & 0x50) && (i->rm & 0x0a)) { /* store -> load ordering */
            b1(e, 0x0f);
            b1(e, 0xae);
            b1(e, 0xf0);
        }
        return true;
    case OP_DIV:
    case OP_DIVU:
    case OP_REM:
    case OP_REMU:
    case OP_DIVW:
    case OP_DIVUW:
    case OP_REMW:
    case OP_REMUW: divrem(e, i); return true;
    default: return bitmanip(e, i) || lower_fp(e, i);
    }
}

/* ---- out-of-line code --------------------------------------------------------------------------
 */

static void emit_pending(struct emit *e)
{
    for (unsigned k = 0; k < e->npend; k++) {
        struct pend *p = &e->pend[k];
        /* a slow path cannot know what the main path had boxed where, nor
         * trust what another slow path boxed */
        e->boxed = 0;
        fix(e, p->fix, e->p);
        switch (p->kind) {
        case P_LOAD:
        case P_STORE: {
            probe_ways(e, p->acc, p->hint, p->record, p->hit);
            uint16_t spill = p->dirty & CALLER_SAVED, reload = p->loaded & CALLER_SAVED;
            /* RDX = va */
            if (p->kind == P_STORE) {
                op_r(e, 1, 0x8b, RAX, R(RDX)); /* rax = va */
                if (p->fp)
                    mov_load(e, RDX, RH, FOFF(p->g));
                else if (p->reg >= 0)
                    mov_rr(e, RDX, p->reg);
                else if (p->g == 0)
                    mov_imm(e, RDX, 0);
                else
                    mov_load(e, RDX, RH, XOFF(p->g));
                writeback_mask(e, spill);
                mov_rr(e, RSI, RAX);
                mov_imm(e, RCX, (uint64_t)mem_size(p->op));
                lea(e, RDI, RH, -HB);
                call_abs(e, (const void *)jit_store_slow);
                reload_mask(e, reload);
                enc(e, 0, 1, 1, 0x85, RAX, R(RAX), false); /* test rax, rax */
            } else {
                writeback_mask(e, spill);
                mov_rr(e, RSI, RDX);
                mov_imm(e, RDX, p->op);
                lea(e, RDI, RH, -HB);
                call_abs(e, (const void *)jit_load_slow);
                reload_mask(e, reload);
                enc(e, 0, 1, 1, 0x85, RDX, R(RDX), false); /* test rdx, rdx */
            }
            uint8_t *exc = jcc32(e, CC_E);
            if (p->kind == P_LOAD && !p->fp) {
                if (p->reg >= 0)
                    mov_rr(e, p->reg, RAX);
                else if (p->g != 32)
                    mov_store(e, RH, XOFF(p->g), RAX);
            }
            fix(e, jmp32(e), p->resume);
            fix(e, exc, e->p);
            /* the exception: registers as they were before the access */
            writeback_mask(e, p->dirty);
            lea(e, RAX, RPC, e->b->insns[p->idx].off);
            mov_store(e, RH, HOFF(pc), RAX);
            op_i(e, 1, G_ADD, M(RH, HOFF(budget)), (int32_t)(e->b->n - p->idx));
            mov_imm(e, RAX, JIT_EXIT_EXC);
            jmp_rx(e, e->j->exit);
            break;
        }
        case P_HELPER: {
            /* eax: EXEC_JUMP, EXEC_EXC or EXEC_PARK; nothing is dirty */
            op_i(e, 0, G_CMP, R(RAX), EXEC_EXC);
            uint8_t *exc = jcc32(e, CC_E);
            op_i(e, 0, G_CMP, R(RAX), EXEC_PARK);
            uint8_t *park = jcc32(e, CC_E);
            mov_load(e, RPC, RH, HOFF(pc));
            exit_lookup_pc(e);
            fix(e, exc, e->p);
            op_i(e, 1, G_ADD, M(RH, HOFF(budget)), (int32_t)(e->b->n - p->idx));
            mov_imm(e, RAX, JIT_EXIT_EXC);
            jmp_rx(e, e->j->exit);
            fix(e, park, e->p);
            mov_imm(e, RAX, JIT_EXIT_PARK);
            jmp_rx(e, e->j->exit);
            break;
        }
        case P_FPSLOW: emit_fp_slow(e, p); break;
        case P_CHAIN: {
            mov_store(e, RH, HOFF(pc), RPC);
            mov_imm(e, RAX, (uint64_t)(uintptr_t)rx_of(e, (uint8_t *)&e->recs[p->rec]));
            mov_store(e, RH, HOFF(jit_link), RAX);
            mov_imm(e, RAX, JIT_EXIT_CHAIN);
            jmp_rx(e, e->j->exit);
            break;
        }
        }
    }
}

/* ---- blocks --------------------------------------------------------------------------------- */

/* Page groups: a load or store whose address is an earlier access's base
 * value (the same register, not written since, or one derived from it by
 * addi or mv) at an offset less than 2 KiB away is likely on the page that
 * access (its leader) just used. Its probe starts from the leader's TLB
 * entry, as a loop's hinted access starts from its own last one (tlb_probe):
 * the entry is at hand before the address is, and the tag compare keeps a
 * wrong guess safe (it only takes the slow path). Stack frames, structure
 * fields and unrolled copy loops are such groups. */
static void page_groups(struct emit *e)
{
    const struct block *b = e->b;
    uint8_t vn[33]; /* value number of each register: 0..32 its value at entry, then fresh */
    int64_t off[33];
    struct {
        uint8_t vn;
        int8_t k;
        int64_t off;
    } seen[BLOCK_MAX];
    int nseen = 0;
    uint8_t fresh = 33;
    for (int g = 0; g < 33; g++) {
        vn[g] = (uint8_t)g;
        off[g] = 0;
    }
    e->leads = 0;
    uint32_t n = b->n < BLOCK_MAX ? b->n : BLOCK_MAX;
    for (uint32_t k = 0; k < n; k++) {
        const struct insn *i = &b->insns[k];
        e->leader[k] = -1;
        if (is_mem(i->op) && i->rs1 != 0 && i->rs1 < 32) {
            int64_t a = off[i->rs1] + i->imm;
            int s;
            for (s = 0; s < nseen; s++)
                if (seen[s].vn == vn[i->rs1] && a - seen[s].off < 2048 && seen[s].off - a < 2048)
                    break;
            if (s < nseen) {
                e->leader[k] = seen[s].k;
                e->leads |= 1ull << seen[s].k;
            } else {
                seen[nseen].vn = vn[i->rs1];
                seen[nseen].k = (int8_t)k;
                seen[nseen++].off = a;
            }
        }
        int rd = i->rd;
        if (rd == 0 || rd >= 32 || !writes_int_rd(i->op)) continue;
        if (i->op == OP_ADDI && i->rs1 < 32) {
            vn[rd] = vn[i->rs1];
            off[rd] = off[i->rs1] + i->imm;
        } else if (i->op == OP_ADD && (i->rs1 == 0 || i->rs2 == 0)) {
            int s = i->rs1 ? i->rs1 : i->rs2;
            vn[rd] = vn[s];
            off[rd] = off[s];
        } else {
            vn[rd] = fresh++;
            off[rd] = 0;
        }
    }
}

void *be_translate(struct jit *j, const struct jit_block_in *in)
{
    struct emit e;
    memset(&e, 0, sizeof(e));
    e.j = j;
    e.in = in;
    e.b = in->b;
    /* two exit records, 8-aligned, then the code */
    size_t start = (j->used + 7) & ~(size_t)7;
    e.recs = (struct jit_exit_rec *)(j->rw + start);
    e.p = j->rw + start + 2 * sizeof(struct jit_exit_rec);
    e.limit = j->rw + j->size;
    if (e.p >= e.limit) return NULL;
    memset(e.recs, 0, 2 * sizeof(struct jit_exit_rec));

    memset(e.host_of, -1, sizeof(e.host_of));
    memset(e.guest_of, 0, sizeof(e.guest_of));
    for (int k = 0; k < NCACHE && in->rank[k] >= 0; k++) {
        e.host_of[in->rank[k]] = (int8_t)cache_regs[k];
        e.guest_of[cache_regs[k]] = in->rank[k];
    }

    uint8_t *entry = e.p;
    const struct block *b = in->b;
    /* events and budget: interrupts and timers are seen at block entry */
    op_i(&e, 0, G_CMP, M(RH, HOFF(events)), 0);
    jcc_rx(&e, CC_NE, j->exit_lookup);
    op_i(&e, 1, G_CMP, M(RH, HOFF(budget)), 0);
    jcc_rx(&e, CC_LE, j->exit_lookup);
    if (!e.overflow && e.p - entry != CHECK_BYTES) abort(); /* be_fast_entry relies on it */
    /* FP instructions: FS on, and a valid frm if they use it (both change
     * only between blocks); else the interpreter runs the block (and traps) */
    bool fp = false, dyn = false;
    for (uint32_t k = 0; k < b->n; k++) {
        fp |= is_fp(b->insns[k].op);
        dyn |= uses_rm(b->insns[k].op) && b->insns[k].rm == 7;
    }
    if (fp) {
        enc(&e, 0, 0, 1, 0xf7, 0, M(RH, HOFF(mstatus)), false); /* test dword [..], imm32 */
        b4(&e, (uint32_t)MSTATUS_FS);
        jcc_rx(&e, CC_E, j->exit_interp);
    }
    if (dyn) {
        op_i(&e, 0, G_CMP, M(RH, HOFF(frm)), 4);
        jcc_rx(&e, CC_A, j->exit_interp);
    }
    op_i(&e, 1, G_SUB, M(RH, HOFF(budget)), (int32_t)b->n);

    /* a loop in one block: load its registers once, keep them */
    if (in->selfloop) {
        e.selfloop = true;
        /* every x register the body writes, FP ops with an integer result
         * (fcvt.l.d, feq, fmv.x.d, fclass) included: each iteration starts
         * with them dirty */
        for (uint32_t k = 0; k < b->n; k++) {
            int rd = b->insns[k].rd;
            if (writes_int_rd(b->insns[k].op) && cached(&e, rd))
                e.written |= (uint16_t)(1u << e.host_of[rd]);
        }
        for (int k = 0; k < NCACHE; k++) {
            int r = cache_regs[k];
            if (e.guest_of[r]) {
                mov_load(&e, r, RH, XOFF(e.guest_of[r]));
                e.loaded |= (uint16_t)(1u << r);
            }
        }
        e.dirty = e.written;
        if (!j->chain) { /* mov dword [jit_iters], 1 */
            enc(&e, 0, 0, 1, 0xc7, 0, M(RH, HOFF(jit_iters)), false);
            b4(&e, 1);
        }
        e.body = e.p;
        uint64_t other = 0;
        for (uint32_t k = 0; k < b->n; k++) {
            const struct insn *i = &b->insns[k];
            if (i->op == OP_ADDI && i->rd == i->rs1)
                e.strided |= 1ull << i->rd;
            else
                other |= 1ull << i->rd; /* over-counted (stores, FP): only fewer strides */
        }
        e.strided &= ~other;
    }

    page_groups(&e);
    bool ended = false;
    for (e.idx = 0; e.idx < b->n && !e.overflow; e.idx++) {
        const struct insn *i = &b->insns[e.idx];
        bool ends = op_ends_block((enum op)i->op);
        unsigned nbox = e.nbox;
        if (!lower(&e, i)) emit_helper(&e, i, ends);
        /* an f register written other than by box_store may hold anything */
        if (is_fp(i->op) && !writes_int_rd(i->op) && i->op != OP_FSW && i->op != OP_FSD &&
            i->rd < 32 && e.nbox == nbox)
            e.boxed &= ~(1u << i->rd);
        if (ends) {
            ended = true;
            break;
        }
    }
    if (!ended) {
        writeback(&e);
        exit_to(&e, b->insns[b->n].off);
    }
    emit_pending(&e);
    if (e.overflow) return NULL;
    j->used = (size_t)(e.p - j->rw);
    return rx_of(&e, entry);
}

void *be_fast_entry(void *code)
{
    return (uint8_t *)code + CHECK_BYTES;
}

void be_patch(struct jit *j, uint8_t *site, const void *target)
{
    int32_t rel = (int32_t)((const uint8_t *)target - (site + 4));
    memcpy(jit_rw(j, site), &rel, 4);
}

/* ---- shared routines
 * ------------------------------------------------------------------------------ */

bool be_routines(struct jit *j)
{
    struct emit e;
    memset(&e, 0, sizeof(e));
    e.j = j;
    e.p = j->rw + j->used;
    e.limit = j->rw + j->size;

    /* int enter(struct hart *h, void *code) */
    uint8_t *enter = e.p;
    b1(&e, 0x53); /* push rbx */
    b1(&e, 0x55); /* push rbp */
    b1(&e, 0x41);
    b1(&e, 0x54); /* push r12 */
    b1(&e, 0x41);
    b1(&e, 0x55); /* push r13 */
    b1(&e, 0x41);
    b1(&e, 0x56); /* push r14 */
    b1(&e, 0x41);
    b1(&e, 0x57); /* push r15 */
    op_i(&e, 1, G_SUB, R(RSP), 8);
    lea(&e, RH, RDI, HB);
    mov_load(&e, RPC, RH, HOFF(pc));
    enc(&e, 0, 0, 1, 0xff, 4, R(RSI), false); /* jmp rsi */

    /* exit: eax = result */
    uint8_t *exit = e.p;
    op_i(&e, 1, G_ADD, R(RSP), 8);
    b1(&e, 0x41);
    b1(&e, 0x5f); /* pop r15 */
    b1(&e, 0x41);
    b1(&e, 0x5e);
    b1(&e, 0x41);
    b1(&e, 0x5d);
    b1(&e, 0x41);
    b1(&e, 0x5c);
    b1(&e, 0x5d);
    b1(&e, 0x5b);
    b1(&e, 0xc3); /* ret */
    j->exit = rx_of(&e, exit);

    /* exit_lookup: h->pc = r14, result JIT_EXIT_LOOKUP */
    uint8_t *exit_lookup = e.p;
    mov_store(&e, RH, HOFF(pc), RPC);
    mov_imm(&e, RAX, JIT_EXIT_LOOKUP);
    jmp_rx(&e, j->exit);
    j->exit_lookup = rx_of(&e, exit_lookup);

    /* exit_interp: h->pc = r14, result JIT_EXIT_INTERP */
    uint8_t *exit_interp = e.p;
    mov_store(&e, RH, HOFF(pc), RPC);
    mov_imm(&e, RAX, JIT_EXIT_INTERP);
    jmp_rx(&e, j->exit);
    j->exit_interp = rx_of(&e, exit_interp);

    /* lookup: the block at guest pc r14 through the jump cache, checked
     * against the fetch TLB (same page mapping as when it was entered) */
    uint8_t *lookup = e.p;
    emit_lookup(&e);
    j->lookup = rx_of(&e, lookup);

    if (e.overflow) return false;
    j->enter = (int (*)(struct hart *, void *))(void *)rx_of(&e, enter);
    j->used = (size_t)(e.p - j->rw);
    return true;
}
