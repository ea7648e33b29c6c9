/*
 * exec_ops.h - what every op does, written once and expanded twice in
 * exec.c: in the interpreter (hart_run, one computed-goto label per op)
 * and in exec_one (one switch case per op), which the translator's helpers
 * and the differential checker call. The includer defines how control
 * leaves an op:
 *
 *   OPL(name)         start of the op's code (a label or a case)
 *   PC                the guest pc of the instruction `i`
 *   NEXT              go on with the next instruction of the block
 *   CHAIN(slot, pc)   direct transfer (branch, jal, the block's end); slot 0
 *                     is the taken target, 1 the fall-through
 *   JUMP(pc)          any other transfer (system instructions)
 *   JUMP_SET          a transfer whose target is already in h->pc
 *   INDIRECT(pc)      jalr
 *   EXCEPTION         trap with h->exc_cause/exc_tval (set by hart_raise)
 *   ILLEGAL_INSN      trap as an illegal instruction (tval: its bits)
 *   LEAVE(why)        return from hart_run with `why` (h->pc already set)
 *
 * and has in scope: struct hart *h, const struct insn *i, uint64_t *x, *f.
 */

#define RAISE(cause, tval)                                                                     \
    do {                                                                                       \
        hart_raise(h, (cause), (tval));                                                        \
        EXCEPTION;                                                                        \
    } while (0)
#define RD x[i->rd]
#define RS1 x[i->rs1]
#define RS2 x[i->rs2]
#define IMM ((int64_t)i->imm)
#define SX32(v) ((uint64_t)(int64_t)(int32_t)(uint32_t)(v))
#define ALU(name, expr)                                                                        \
    OPL(name)                                                                                  \
    {                                                                                          \
        uint64_t a = RS1, c = RS2;                                                             \
        (void)a;                                                                               \
        (void)c;                                                                               \
        RD = (expr);                                                                           \
        NEXT;                                                                                  \
    }
#define ALUI(name, expr)                                                                       \
    OPL(name)                                                                                  \
    {                                                                                          \
        uint64_t a = RS1;                                                                      \
        (void)a;                                                                               \
        RD = (expr);                                                                           \
        NEXT;                                                                                  \
    }
#define BRANCH(name, cond)                                                                     \
    OPL(name)                                                                                  \
    {                                                                                          \
        uint64_t a = RS1, c = RS2;                                                             \
        if (cond) CHAIN(0, PC + IMM);                                                          \
        CHAIN(1, PC + i->len);                                                                 \
    }
/* Loads and stores: one compare against the TLB for the common case. */
#define LOAD(name, type, size, conv)                                                           \
    OPL(name)                                                                                  \
    {                                                                                          \
        uint64_t va = RS1 + IMM, v;                                                            \
        const struct tlb_entry *e =                                                            \
            &h->tlb_data->e[ACC_READ][(va >> PAGE_SHIFT) & (TLB_SIZE - 1)];                    \
        if (likely(e->tag == (va & (~PAGE_MASK | (size - 1))))) {                              \
            v = conv(__atomic_load_n((type *)(e->addend + va), __ATOMIC_RELAXED));             \
        } else {                                                                               \
            if (!mmu_load(h, va, size, &v)) EXCEPTION;                                    \
            v = conv((type)v);                                                                 \
        }                                                                                      \
        RD = v;                                                                                \
        NEXT;                                                                                  \
    }
#define STORE_VALUE(size, val)                                                                 \
    do {                                                                                       \
        uint64_t va = RS1 + IMM, v = (val);                                                    \
        const struct tlb_entry *e =                                                            \
            &h->tlb_data->e[ACC_WRITE][(va >> PAGE_SHIFT) & (TLB_SIZE - 1)];                   \
        if (likely(e->tag == (va & (~PAGE_MASK | (size - 1))))) {                              \
            void *p = (void *)(e->addend + va);                                                \
            switch (size) {                                                                    \
            case 1: __atomic_store_n((uint8_t *)p, (uint8_t)v, __ATOMIC_RELAXED); break;       \
            case 2: __atomic_store_n((uint16_t *)p, (uint16_t)v, __ATOMIC_RELAXED); break;     \
            case 4: __atomic_store_n((uint32_t *)p, (uint32_t)v, __ATOMIC_RELAXED); break;     \
            default: __atomic_store_n((uint64_t *)p, v, __ATOMIC_RELAXED); break;              \
            }                                                                                  \
        } else if (!mmu_store(h, va, size, v)) {                                               \
            EXCEPTION;                                                                    \
        }                                                                                      \
    } while (0)
#define STORE(name, size)                                                                      \
    OPL(name)                                                                                  \
    STORE_VALUE(size, RS2);                                                                    \
    NEXT;

#define S8(v) ((uint64_t)(int64_t)(int8_t)(v))
#define S16(v) ((uint64_t)(int64_t)(int16_t)(v))
#define S32(v) ((uint64_t)(int64_t)(int32_t)(v))
#define U64(v) ((uint64_t)(v))

OPL(ILLEGAL)
    RAISE(EXC_ILLEGAL, (uint32_t)i->imm);

OPL(BLOCK_END)
    CHAIN(1, PC);

    /* ---- RV64I ---- */
OPL(LUI)
    RD = (uint64_t)IMM;
    NEXT;
OPL(AUIPC)
    RD = PC + (uint64_t)IMM;
    NEXT;
OPL(JAL)
{
    uint64_t pc = PC;
    RD = pc + i->len;
    CHAIN(0, pc + (uint64_t)IMM);
}
OPL(JALR)
{
    uint64_t target = (RS1 + (uint64_t)IMM) & ~1ull, pc = PC;
    RD = pc + i->len;
    INDIRECT(target);
}
    BRANCH(BEQ, a == c)
    BRANCH(BNE, a != c)
    BRANCH(BLT, (int64_t)a < (int64_t)c)
    BRANCH(BGE, (int64_t)a >= (int64_t)c)
    BRANCH(BLTU, a < c)
    BRANCH(BGEU, a >= c)

    LOAD(LB, uint8_t, 1, S8)
    LOAD(LH, uint16_t, 2, S16)
    LOAD(LW, uint32_t, 4, S32)
    LOAD(LD, uint64_t, 8, U64)
    LOAD(LBU, uint8_t, 1, U64)
    LOAD(LHU, uint16_t, 2, U64)
    LOAD(LWU, uint32_t, 4, U64)
    STORE(SB, 1)
    STORE(SH, 2)
    STORE(SW, 4)
    STORE(SD, 8)

    ALUI(ADDI, a + (uint64_t)IMM)
    ALUI(SLTI, (int64_t)a < IMM)
    ALUI(SLTIU, a < (uint64_t)IMM)
    ALUI(XORI, a ^ (uint64_t)IMM)
    ALUI(ORI, a | (uint64_t)IMM)
    ALUI(ANDI, a & (uint64_t)IMM)
    ALUI(SLLI, a << i->imm)
    ALUI(SRLI, a >> i->imm)
    ALUI(SRAI, (uint64_t)((int64_t)a >> i->imm))
    ALU(ADD, a + c)
    ALU(SUB, a - c)
    ALU(SLL, a << (c & 63))
    ALU(SLT, (int64_t)a < (int64_t)c)
    ALU(SLTU, a < c)
    ALU(XOR, a ^ c)
    ALU(SRL, a >> (c & 63))
    ALU(SRA, (uint64_t)((int64_t)a >> (c & 63)))
    ALU(OR, a | c)
    ALU(AND, a & c)
    ALUI(ADDIW, SX32(a + (uint64_t)IMM))
    ALUI(SLLIW, SX32((uint32_t)a << i->imm))
    ALUI(SRLIW, SX32((uint32_t)a >> i->imm))
    ALUI(SRAIW, (uint64_t)(int64_t)((int32_t)(uint32_t)a >> i->imm))
    ALU(ADDW, SX32(a + c))
    ALU(SUBW, SX32(a - c))
    ALU(SLLW, SX32((uint32_t)a << (c & 31)))
    ALU(SRLW, SX32((uint32_t)a >> (c & 31)))
    ALU(SRAW, (uint64_t)(int64_t)((int32_t)(uint32_t)a >> (c & 31)))

OPL(FENCE)
    /* x86 is TSO: only store->load ordering needs a real barrier. */
    if ((i->rm & 0x50) && (i->rm & 0x0a))
        atomic_thread_fence(memory_order_seq_cst);
    else
        atomic_signal_fence(memory_order_seq_cst);
    NEXT;
OPL(FENCE_I)
    hart_fence_i(h);
    JUMP(PC + 4);
OPL(ECALL)
    if (h->priv == PRIV_S && h->m->ecall_hook) {
        /* built-in firmware (direct kernel boot): the VMM answers the call */
        h->pc = PC;
        int r = h->m->ecall_hook(h);
        if (r == ECALL_PARK) {
            h->pc = PC + 4;
            LEAVE(HART_EXIT_PARK);
        }
        JUMP(PC + 4);
    }
    RAISE(EXC_ECALL_U + h->priv, 0);
OPL(EBREAK)
    RAISE(EXC_BREAKPOINT, PC);

    /* ---- privileged ---- */
OPL(MRET)
    h->pc = PC;
    if (!hart_mret(h)) ILLEGAL_INSN;
    atomic_fetch_or_explicit(&h->events, EV_CHECK, memory_order_relaxed);
    JUMP_SET;
OPL(SRET)
    h->pc = PC;
    if (!hart_sret(h)) ILLEGAL_INSN;
    atomic_fetch_or_explicit(&h->events, EV_CHECK, memory_order_relaxed);
    JUMP_SET;
OPL(WFI)
    if (h->priv == PRIV_U || (h->priv == PRIV_S && (h->mstatus & MSTATUS_TW))) ILLEGAL_INSN;
    h->pc = PC + 4;
    hart_wait_for_interrupt(h);
    JUMP_SET;
OPL(SFENCE_VMA)
    if (h->priv == PRIV_U || (h->priv == PRIV_S && (h->mstatus & MSTATUS_TVM))) ILLEGAL_INSN;
    mmu_sfence(h, i->rs1 != 0, RS1, i->rs2 != 0, RS2);
    JUMP(PC + 4);

    /* ---- Zicsr ---- */
OPL(CSRRW)
OPL(CSRRS)
OPL(CSRRC)
OPL(CSRRWI)
OPL(CSRRSI)
OPL(CSRRCI)
    h->pc = PC;
    if (!csr_exec(h, i->op, i->rd, i->rs1, (uint32_t)i->imm & 0xfff)) ILLEGAL_INSN;
    JUMP(PC + 4);

    /* ---- M ---- */
    ALU(MUL, a * c)
    ALU(MULH, (uint64_t)(((__int128)(int64_t)a * (__int128)(int64_t)c) >> 64))
    ALU(MULHSU, (uint64_t)(((__int128)(int64_t)a * (__int128)c) >> 64))
    ALU(MULHU, (uint64_t)(((unsigned __int128)a * c) >> 64))
    ALU(DIV, c == 0 ? ~0ull
             : ((int64_t)a == INT64_MIN && (int64_t)c == -1) ? a
             : (uint64_t)((int64_t)a / (int64_t)c))
    ALU(DIVU, c == 0 ? ~0ull : a / c)
    ALU(REM, c == 0 ? a
             : ((int64_t)a == INT64_MIN && (int64_t)c == -1) ? 0
             : (uint64_t)((int64_t)a % (int64_t)c))
    ALU(REMU, c == 0 ? a : a % c)
    ALU(MULW, SX32((uint32_t)a * (uint32_t)c))
    ALU(DIVW, (uint32_t)c == 0 ? ~0ull
              : ((int32_t)(uint32_t)a == INT32_MIN && (int32_t)(uint32_t)c == -1) ? SX32(a)
              : SX32((int32_t)(uint32_t)a / (int32_t)(uint32_t)c))
    ALU(DIVUW, (uint32_t)c == 0 ? ~0ull : SX32((uint32_t)a / (uint32_t)c))
    ALU(REMW, (uint32_t)c == 0 ? SX32(a)
              : ((int32_t)(uint32_t)a == INT32_MIN && (int32_t)(uint32_t)c == -1) ? 0
              : SX32((int32_t)(uint32_t)a % (int32_t)(uint32_t)c))
    ALU(REMUW, (uint32_t)c == 0 ? SX32(a) : SX32((uint32_t)a % (uint32_t)c))

    /* ---- A ---- */
#define AMO(name, type, size, expr)                                                            \
    OPL(name)                                                                                  \
    {                                                                                          \
        void *p;                                                                               \
        uint64_t pa;                                                                           \
        type src = (type)RS2;                                                                  \
        if (!mmu_atomic_ptr(h, RS1, size, false, &p, &pa)) EXCEPTION;                     \
        type old = __atomic_load_n((type *)p, __ATOMIC_RELAXED), nv;                           \
        do {                                                                                   \
            nv = (expr);                                                                       \
        } while (!__atomic_compare_exchange_n((type *)p, &old, nv, true, __ATOMIC_SEQ_CST,     \
                                              __ATOMIC_RELAXED));                              \
        RD = size == 4 ? SX32(old) : (uint64_t)old;                                            \
        NEXT;                                                                                  \
    }
    AMO(AMOSWAP_W, uint32_t, 4, src)
    AMO(AMOADD_W, uint32_t, 4, old + src)
    AMO(AMOXOR_W, uint32_t, 4, old ^ src)
    AMO(AMOAND_W, uint32_t, 4, old & src)
    AMO(AMOOR_W, uint32_t, 4, old | src)
    AMO(AMOMIN_W, uint32_t, 4, (int32_t)old < (int32_t)src ? old : src)
    AMO(AMOMAX_W, uint32_t, 4, (int32_t)old > (int32_t)src ? old : src)
    AMO(AMOMINU_W, uint32_t, 4, old < src ? old : src)
    AMO(AMOMAXU_W, uint32_t, 4, old > src ? old : src)
    AMO(AMOSWAP_D, uint64_t, 8, src)
    AMO(AMOADD_D, uint64_t, 8, old + src)
    AMO(AMOXOR_D, uint64_t, 8, old ^ src)
    AMO(AMOAND_D, uint64_t, 8, old & src)
    AMO(AMOOR_D, uint64_t, 8, old | src)
    AMO(AMOMIN_D, uint64_t, 8, (int64_t)old < (int64_t)src ? old : src)
    AMO(AMOMAX_D, uint64_t, 8, (int64_t)old > (int64_t)src ? old : src)
    AMO(AMOMINU_D, uint64_t, 8, old < src ? old : src)
    AMO(AMOMAXU_D, uint64_t, 8, old > src ? old : src)
#define LR(name, type, size)                                                                   \
    OPL(name)                                                                                  \
    {                                                                                          \
        void *p;                                                                               \
        uint64_t pa;                                                                           \
        if (!mmu_atomic_ptr(h, RS1, size, true, &p, &pa)) EXCEPTION;                      \
        type v = __atomic_load_n((type *)p, __ATOMIC_ACQUIRE);                                 \
        h->resv_addr = pa;                                                                     \
        h->resv_value = v;                                                                     \
        RD = size == 4 ? SX32(v) : (uint64_t)v;                                                \
        NEXT;                                                                                  \
    }
#define SC(name, type, size)                                                                   \
    OPL(name)                                                                                  \
    {                                                                                          \
        void *p;                                                                               \
        uint64_t pa;                                                                           \
        type src = (type)RS2;                                                                  \
        if (!mmu_atomic_ptr(h, RS1, size, false, &p, &pa)) EXCEPTION;                     \
        bool ok = false;                                                                       \
        if (h->resv_addr == pa) {                                                              \
            type expected = (type)h->resv_value;                                               \
            ok = __atomic_compare_exchange_n((type *)p, &expected, src, false,                 \
                                             __ATOMIC_SEQ_CST, __ATOMIC_RELAXED);              \
        }                                                                                      \
        h->resv_addr = ~0ull;                                                                  \
        RD = !ok;                                                                              \
        NEXT;                                                                                  \
    }
    LR(LR_W, uint32_t, 4)
    LR(LR_D, uint64_t, 8)
    SC(SC_W, uint32_t, 4)
    SC(SC_D, uint64_t, 8)

    /* ---- F and D ---- */
#define FS_ON()                                                                                \
    do {                                                                                       \
        if (unlikely(!(h->mstatus & MSTATUS_FS))) ILLEGAL_INSN;                           \
    } while (0)
#define FP_DIRTY() (h->mstatus |= MSTATUS_FS | MSTATUS_SD)
#define ROUNDING()                                                                             \
    ({                                                                                         \
        unsigned rm_ = i->rm == 7 ? h->frm : i->rm;                                            \
        if (unlikely(rm_ > 4)) ILLEGAL_INSN;                                              \
        (int)rm_;                                                                              \
    })
#define F32(r) unbox32(f[r])
#define FOP_S(name, expr)                                                                      \
    OPL(name)                                                                                  \
    {                                                                                          \
        FS_ON();                                                                               \
        uint32_t a = F32(i->rs1), c = F32(i->rs2), d = F32(i->rs3);                            \
        (void)a;                                                                               \
        (void)c;                                                                               \
        (void)d;                                                                               \
        int rm = ROUNDING();                                                                   \
        (void)rm;                                                                              \
        f[i->rd] = box32(expr);                                                                \
        FP_DIRTY();                                                                            \
        NEXT;                                                                                  \
    }
#define FOP_D(name, expr)                                                                      \
    OPL(name)                                                                                  \
    {                                                                                          \
        FS_ON();                                                                               \
        uint64_t a = f[i->rs1], c = f[i->rs2], d = f[i->rs3];                                  \
        (void)a;                                                                               \
        (void)c;                                                                               \
        (void)d;                                                                               \
        int rm = ROUNDING();                                                                   \
        (void)rm;                                                                              \
        f[i->rd] = (expr);                                                                     \
        FP_DIRTY();                                                                            \
        NEXT;                                                                                  \
    }
/* FP ops without a rounding mode (the rm field is a function code there). */
#define FOPN_S(name, expr)                                                                     \
    OPL(name)                                                                                  \
    {                                                                                          \
        FS_ON();                                                                               \
        uint32_t a = F32(i->rs1), c = F32(i->rs2);                                             \
        (void)c;                                                                               \
        f[i->rd] = box32(expr);                                                                \
        FP_DIRTY();                                                                            \
        NEXT;                                                                                  \
    }
#define FOPN_D(name, expr)                                                                     \
    OPL(name)                                                                                  \
    {                                                                                          \
        FS_ON();                                                                               \
        uint64_t a = f[i->rs1], c = f[i->rs2];                                                 \
        (void)c;                                                                               \
        f[i->rd] = (expr);                                                                     \
        FP_DIRTY();                                                                            \
        NEXT;                                                                                  \
    }
/* FP -> integer register results. */
#define FTOX(name, type, expr, needs_rm)                                                       \
    OPL(name)                                                                                  \
    {                                                                                          \
        FS_ON();                                                                               \
        type a = (type)(sizeof(type) == 4 ? F32(i->rs1) : f[i->rs1]);                          \
        type c = (type)(sizeof(type) == 4 ? F32(i->rs2) : f[i->rs2]);                          \
        (void)c;                                                                               \
        int rm = (needs_rm) ? ROUNDING() : 0;                                                  \
        (void)rm;                                                                              \
        uint32_t flags_before = h->fflags;                                                     \
        RD = (uint64_t)(expr);                                                                 \
        if (h->fflags != flags_before) FP_DIRTY();                                             \
        NEXT;                                                                                  \
    }
/* integer register -> FP */
#define XTOF(name, expr)                                                                       \
    OPL(name)                                                                                  \
    {                                                                                          \
        FS_ON();                                                                               \
        uint64_t a = RS1;                                                                      \
        int rm = ROUNDING();                                                                   \
        (void)rm;                                                                              \
        f[i->rd] = (expr);                                                                     \
        FP_DIRTY();                                                                            \
        NEXT;                                                                                  \
    }
#define FL (&h->fflags)

OPL(FLW)
{
    FS_ON();
    uint64_t va = RS1 + IMM, v;
    const struct tlb_entry *e = &h->tlb_data->e[ACC_READ][(va >> PAGE_SHIFT) & (TLB_SIZE - 1)];
    if (likely(e->tag == (va & (~PAGE_MASK | 3))))
        v = __atomic_load_n((uint32_t *)(e->addend + va), __ATOMIC_RELAXED);
    else if (!mmu_load(h, va, 4, &v))
        EXCEPTION;
    f[i->rd] = box32((uint32_t)v);
    FP_DIRTY();
    NEXT;
}
OPL(FLD)
{
    FS_ON();
    uint64_t va = RS1 + IMM, v;
    const struct tlb_entry *e = &h->tlb_data->e[ACC_READ][(va >> PAGE_SHIFT) & (TLB_SIZE - 1)];
    if (likely(e->tag == (va & (~PAGE_MASK | 7))))
        v = __atomic_load_n((uint64_t *)(e->addend + va), __ATOMIC_RELAXED);
    else if (!mmu_load(h, va, 8, &v))
        EXCEPTION;
    f[i->rd] = v;
    FP_DIRTY();
    NEXT;
}
OPL(FSW)
    FS_ON();
    STORE_VALUE(4, (uint32_t)f[i->rs2]);
    NEXT;
OPL(FSD)
    FS_ON();
    STORE_VALUE(8, f[i->rs2]);
    NEXT;

    FOP_S(FMADD_S, f32_madd(a, c, d, rm, FL))
    FOP_S(FMSUB_S, f32_msub(a, c, d, rm, FL))
    FOP_S(FNMSUB_S, f32_nmsub(a, c, d, rm, FL))
    FOP_S(FNMADD_S, f32_nmadd(a, c, d, rm, FL))
    FOP_S(FADD_S, f32_add(a, c, rm, FL))
    FOP_S(FSUB_S, f32_sub(a, c, rm, FL))
    FOP_S(FMUL_S, f32_mul(a, c, rm, FL))
    FOP_S(FDIV_S, f32_div(a, c, rm, FL))
    FOP_S(FSQRT_S, f32_sqrt(a, rm, FL))
    FOPN_S(FSGNJ_S, (a & 0x7fffffffu) | (c & 0x80000000u))
    FOPN_S(FSGNJN_S, (a & 0x7fffffffu) | (~c & 0x80000000u))
    FOPN_S(FSGNJX_S, a ^ (c & 0x80000000u))
    FOPN_S(FMIN_S, f32_min(a, c, FL))
    FOPN_S(FMAX_S, f32_max(a, c, FL))
    FTOX(FCVT_W_S, uint32_t, (int64_t)f32_to_i32(a, rm, FL), 1)
    FTOX(FCVT_WU_S, uint32_t, (int64_t)(int32_t)f32_to_u32(a, rm, FL), 1)
    FTOX(FCVT_L_S, uint32_t, f32_to_i64(a, rm, FL), 1)
    FTOX(FCVT_LU_S, uint32_t, f32_to_u64(a, rm, FL), 1)
OPL(FMV_X_W)
    FS_ON();
    RD = SX32((uint32_t)f[i->rs1]);
    NEXT;
    FTOX(FEQ_S, uint32_t, f32_eq(a, c, FL), 0)
    FTOX(FLT_S, uint32_t, f32_lt(a, c, FL), 0)
    FTOX(FLE_S, uint32_t, f32_le(a, c, FL), 0)
    FTOX(FCLASS_S, uint32_t, f32_classify(a), 0)
    XTOF(FCVT_S_W, box32(i32_to_f32((int32_t)a, rm, FL)))
    XTOF(FCVT_S_WU, box32(u32_to_f32((uint32_t)a, rm, FL)))
    XTOF(FCVT_S_L, box32(i64_to_f32((int64_t)a, rm, FL)))
    XTOF(FCVT_S_LU, box32(u64_to_f32(a, rm, FL)))
OPL(FMV_W_X)
    FS_ON();
    f[i->rd] = box32((uint32_t)RS1);
    FP_DIRTY();
    NEXT;

    FOP_D(FMADD_D, f64_madd(a, c, d, rm, FL))
    FOP_D(FMSUB_D, f64_msub(a, c, d, rm, FL))
    FOP_D(FNMSUB_D, f64_nmsub(a, c, d, rm, FL))
    FOP_D(FNMADD_D, f64_nmadd(a, c, d, rm, FL))
    FOP_D(FADD_D, f64_add(a, c, rm, FL))
    FOP_D(FSUB_D, f64_sub(a, c, rm, FL))
    FOP_D(FMUL_D, f64_mul(a, c, rm, FL))
    FOP_D(FDIV_D, f64_div(a, c, rm, FL))
    FOP_D(FSQRT_D, f64_sqrt(a, rm, FL))
    FOPN_D(FSGNJ_D, (a & ~(1ull << 63)) | (c & (1ull << 63)))
    FOPN_D(FSGNJN_D, (a & ~(1ull << 63)) | (~c & (1ull << 63)))
    FOPN_D(FSGNJX_D, a ^ (c & (1ull << 63)))
    FOPN_D(FMIN_D, f64_min(a, c, FL))
    FOPN_D(FMAX_D, f64_max(a, c, FL))
OPL(FCVT_S_D)
{
    FS_ON();
    int rm = ROUNDING();
    f[i->rd] = box32(f64_to_f32(f[i->rs1], rm, FL));
    FP_DIRTY();
    NEXT;
}
OPL(FCVT_D_S)
{
    FS_ON();
    (void)ROUNDING();
    f[i->rd] = f32_to_f64(F32(i->rs1), FL);
    FP_DIRTY();
    NEXT;
}
    FTOX(FCVT_W_D, uint64_t, (int64_t)f64_to_i32(a, rm, FL), 1)
    FTOX(FCVT_WU_D, uint64_t, (int64_t)(int32_t)f64_to_u32(a, rm, FL), 1)
    FTOX(FCVT_L_D, uint64_t, f64_to_i64(a, rm, FL), 1)
    FTOX(FCVT_LU_D, uint64_t, f64_to_u64(a, rm, FL), 1)
OPL(FMV_X_D)
    FS_ON();
    RD = f[i->rs1];
    NEXT;
    FTOX(FEQ_D, uint64_t, f64_eq(a, c, FL), 0)
    FTOX(FLT_D, uint64_t, f64_lt(a, c, FL), 0)
    FTOX(FLE_D, uint64_t, f64_le(a, c, FL), 0)
    FTOX(FCLASS_D, uint64_t, f64_classify(a), 0)
    XTOF(FCVT_D_W, i32_to_f64((int32_t)a, rm, FL))
    XTOF(FCVT_D_WU, u32_to_f64((uint32_t)a, rm, FL))
    XTOF(FCVT_D_L, i64_to_f64((int64_t)a, rm, FL))
    XTOF(FCVT_D_LU, u64_to_f64(a, rm, FL))
OPL(FMV_D_X)
    FS_ON();
    f[i->rd] = RS1;
    FP_DIRTY();
    NEXT;

    /* ---- Zba ---- */
    ALU(ADD_UW, (uint64_t)(uint32_t)a + c)
    ALU(SH1ADD, (a << 1) + c)
    ALU(SH2ADD, (a << 2) + c)
    ALU(SH3ADD, (a << 3) + c)
    ALU(SH1ADD_UW, ((uint64_t)(uint32_t)a << 1) + c)
    ALU(SH2ADD_UW, ((uint64_t)(uint32_t)a << 2) + c)
    ALU(SH3ADD_UW, ((uint64_t)(uint32_t)a << 3) + c)
    ALUI(SLLI_UW, (uint64_t)(uint32_t)a << i->imm)

    /* ---- Zbb ---- */
    ALU(ANDN, a & ~c)
    ALU(ORN, a | ~c)
    ALU(XNOR, ~(a ^ c))
    ALUI(CLZ, a ? (uint64_t)__builtin_clzll(a) : 64)
    ALUI(CLZW, (uint32_t)a ? (uint64_t)__builtin_clz((uint32_t)a) : 32)
    ALUI(CTZ, a ? (uint64_t)__builtin_ctzll(a) : 64)
    ALUI(CTZW, (uint32_t)a ? (uint64_t)__builtin_ctz((uint32_t)a) : 32)
    ALUI(CPOP, (uint64_t)__builtin_popcountll(a))
    ALUI(CPOPW, (uint64_t)__builtin_popcount((uint32_t)a))
    ALU(MAX, (int64_t)a > (int64_t)c ? a : c)
    ALU(MAXU, a > c ? a : c)
    ALU(MIN, (int64_t)a < (int64_t)c ? a : c)
    ALU(MINU, a < c ? a : c)
    ALUI(SEXT_B, S8(a))
    ALUI(SEXT_H, S16(a))
    ALUI(ZEXT_H, a & 0xffff)
    ALU(ROL, (a << (c & 63)) | (a >> ((64 - (c & 63)) & 63)))
    ALU(ROR, (a >> (c & 63)) | (a << ((64 - (c & 63)) & 63)))
    ALUI(RORI, (a >> i->imm) | (a << ((64 - i->imm) & 63)))
    ALU(ROLW, SX32(((uint32_t)a << (c & 31)) | ((uint32_t)a >> ((32 - (c & 31)) & 31))))
    ALU(RORW, SX32(((uint32_t)a >> (c & 31)) | ((uint32_t)a << ((32 - (c & 31)) & 31))))
    ALUI(RORIW, SX32(((uint32_t)a >> i->imm) | ((uint32_t)a << ((32 - i->imm) & 31))))
OPL(ORC_B)
{
    uint64_t a = RS1, r = 0;
    for (int k = 0; k < 64; k += 8)
        if ((a >> k) & 0xff) r |= 0xffull << k;
    RD = r;
    NEXT;
}
    ALUI(REV8, __builtin_bswap64(a))

    /* ---- Zbs ---- */
    ALU(BCLR, a & ~(1ull << (c & 63)))
    ALUI(BCLRI, a & ~(1ull << i->imm))
    ALU(BEXT, (a >> (c & 63)) & 1)
    ALUI(BEXTI, (a >> i->imm) & 1)
    ALU(BINV, a ^ (1ull << (c & 63)))
    ALUI(BINVI, a ^ (1ull << i->imm))
    ALU(BSET, a | (1ull << (c & 63)))
    ALUI(BSETI, a | (1ull << i->imm))

/* the helper macros above are private to this file */
#undef ALU
#undef ALUI
#undef AMO
#undef BRANCH
#undef F32
#undef FL
#undef FOPN_D
#undef FOPN_S
#undef FOP_D
#undef FOP_S
#undef FP_DIRTY
#undef FS_ON
#undef FTOX
#undef IMM
#undef LOAD
#undef LR
#undef RAISE
#undef RD
#undef ROUNDING
#undef RS1
#undef RS2
#undef S16
#undef S32
#undef S8
#undef SC
#undef STORE
#undef STORE_VALUE
#undef SX32
#undef U64
#undef XTOF
