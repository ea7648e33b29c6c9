/*
 * decode.c - RV64GC + Zba/Zbb/Zbs instruction decoder.
 *
 * Produces a struct insn for any 16- or 32-bit encoding; anything that is
 * not a valid instruction becomes OP_ILLEGAL with the raw bits in imm, so
 * the interpreter can report them in mtval. Compressed instructions are
 * expanded to the ops of their 32-bit equivalents (with len = 2).
 */
#include "cpu/decode.h"

#include <string.h>

static const char *const names[OP_COUNT] = {
#define OP(name) #name,
#include "cpu/ops.def"
#undef OP
};

const char *op_name(enum op op)
{
    return op < OP_COUNT ? names[op] : "?";
}

bool op_ends_block(enum op op)
{
    switch (op) {
    case OP_ILLEGAL:
    case OP_JAL:
    case OP_JALR:
    case OP_BEQ:
    case OP_BNE:
    case OP_BLT:
    case OP_BGE:
    case OP_BLTU:
    case OP_BGEU:
    case OP_FENCE_I:
    case OP_ECALL:
    case OP_EBREAK:
    case OP_MRET:
    case OP_SRET:
    case OP_WFI:
    case OP_SFENCE_VMA:
    case OP_CSRRW:
    case OP_CSRRS:
    case OP_CSRRC:
    case OP_CSRRWI:
    case OP_CSRRSI:
    case OP_CSRRCI:
        return true;
    default:
        return false;
    }
}

/* Bit-field helpers. */
static inline uint32_t bits(uint32_t v, int hi, int lo)
{
    return (v >> lo) & ((1u << (hi - lo + 1)) - 1);
}

static inline int32_t sext(uint32_t v, int width)
{
    uint32_t m = 1u << (width - 1);
    return (int32_t)((v ^ m) - m);
}

/* Integer destination: writes to x0 go to the sink register 32. */
static inline uint8_t xrd(uint32_t r)
{
    return r ? (uint8_t)r : 32;
}

static void set(struct insn *d, enum op op, uint32_t rd, uint32_t rs1, uint32_t rs2, int32_t imm)
{
    d->op = (uint16_t)op;
    d->rd = (uint8_t)rd;
    d->rs1 = (uint8_t)rs1;
    d->rs2 = (uint8_t)rs2;
    d->imm = imm;
}

static void illegal(struct insn *d, uint32_t raw)
{
    d->op = OP_ILLEGAL;
    d->rd = d->rs1 = d->rs2 = d->rs3 = 0;
    d->rm = 0;
    d->imm = (int32_t)raw;
}

/* ---- 32-bit instructions ------------------------------------------------ */

static void decode_op_imm(uint32_t w, struct insn *d, uint32_t rd, uint32_t rs1, uint32_t f3)
{
    int32_t imm = (int32_t)w >> 20;
    uint32_t f6 = bits(w, 31, 26), sh = bits(w, 25, 20);
    uint32_t imm12 = bits(w, 31, 20);
    rd = xrd(rd);
    switch (f3) {
    case 0: set(d, OP_ADDI, rd, rs1, 0, imm); return;
    case 2: set(d, OP_SLTI, rd, rs1, 0, imm); return;
    case 3: set(d, OP_SLTIU, rd, rs1, 0, imm); return;
    case 4: set(d, OP_XORI, rd, rs1, 0, imm); return;
    case 6: set(d, OP_ORI, rd, rs1, 0, imm); return;
    case 7: set(d, OP_ANDI, rd, rs1, 0, imm); return;
    case 1:
        if (f6 == 0x00) return set(d, OP_SLLI, rd, rs1, 0, (int32_t)sh);
        if (f6 == 0x0a) return set(d, OP_BSETI, rd, rs1, 0, (int32_t)sh);
        if (f6 == 0x12) return set(d, OP_BCLRI, rd, rs1, 0, (int32_t)sh);
        if (f6 == 0x1a) return set(d, OP_BINVI, rd, rs1, 0, (int32_t)sh);
        switch (imm12) {
        case 0x600: return set(d, OP_CLZ, rd, rs1, 0, 0);
        case 0x601: return set(d, OP_CTZ, rd, rs1, 0, 0);
        case 0x602: return set(d, OP_CPOP, rd, rs1, 0, 0);
        case 0x604: return set(d, OP_SEXT_B, rd, rs1, 0, 0);
        case 0x605: return set(d, OP_SEXT_H, rd, rs1, 0, 0);
        }
        break;
    case 5:
        if (f6 == 0x00) return set(d, OP_SRLI, rd, rs1, 0, (int32_t)sh);
        if (f6 == 0x10) return set(d, OP_SRAI, rd, rs1, 0, (int32_t)sh);
        if (f6 == 0x18) return set(d, OP_RORI, rd, rs1, 0, (int32_t)sh);
        if (f6 == 0x12) return set(d, OP_BEXTI, rd, rs1, 0, (int32_t)sh);
        if (imm12 == 0x287) return set(d, OP_ORC_B, rd, rs1, 0, 0);
        if (imm12 == 0x6b8) return set(d, OP_REV8, rd, rs1, 0, 0);
        break;
    }
    illegal(d, w);
}

static void decode_op_imm32(uint32_t w, struct insn *d, uint32_t rd, uint32_t rs1, uint32_t f3)
{
    uint32_t f7 = bits(w, 31, 25), sh = bits(w, 24, 20);
    rd = xrd(rd);
    switch (f3) {
    case 0: return set(d, OP_ADDIW, rd, rs1, 0, (int32_t)w >> 20);
    case 1:
        if (f7 == 0x00) return set(d, OP_SLLIW, rd, rs1, 0, (int32_t)sh);
        if (bits(w, 31, 26) == 0x02) return set(d, OP_SLLI_UW, rd, rs1, 0, (int32_t)bits(w, 25, 20));
        if (f7 == 0x30 && sh == 0) return set(d, OP_CLZW, rd, rs1, 0, 0);
        if (f7 == 0x30 && sh == 1) return set(d, OP_CTZW, rd, rs1, 0, 0);
        if (f7 == 0x30 && sh == 2) return set(d, OP_CPOPW, rd, rs1, 0, 0);
        break;
    case 5:
        if (f7 == 0x00) return set(d, OP_SRLIW, rd, rs1, 0, (int32_t)sh);
        if (f7 == 0x20) return set(d, OP_SRAIW, rd, rs1, 0, (int32_t)sh);
        if (f7 == 0x30) return set(d, OP_RORIW, rd, rs1, 0, (int32_t)sh);
        break;
    }
    illegal(d, w);
}

static void decode_op(uint32_t w, struct insn *d, uint32_t rd, uint32_t rs1, uint32_t rs2,
                      uint32_t f3)
{
    static const enum op base[8] = {OP_ADD, OP_SLL, OP_SLT, OP_SLTU,
                                    OP_XOR, OP_SRL, OP_OR,  OP_AND};
    static const enum op mul[8] = {OP_MUL, OP_MULH, OP_MULHSU, OP_MULHU,
                                   OP_DIV, OP_DIVU, OP_REM,    OP_REMU};
    enum op op = OP_ILLEGAL;
    switch (bits(w, 31, 25)) {
    case 0x00: op = base[f3]; break;
    case 0x01: op = mul[f3]; break;
    case 0x20:
        op = f3 == 0 ? OP_SUB : f3 == 5 ? OP_SRA : f3 == 4 ? OP_XNOR : f3 == 6 ? OP_ORN
           : f3 == 7 ? OP_ANDN : OP_ILLEGAL;
        break;
    case 0x05:
        op = f3 == 4 ? OP_MIN : f3 == 5 ? OP_MINU : f3 == 6 ? OP_MAX : f3 == 7 ? OP_MAXU
           : OP_ILLEGAL;
        break;
    case 0x30: op = f3 == 1 ? OP_ROL : f3 == 5 ? OP_ROR : OP_ILLEGAL; break;
    case 0x10:
        op = f3 == 2 ? OP_SH1ADD : f3 == 4 ? OP_SH2ADD : f3 == 6 ? OP_SH3ADD : OP_ILLEGAL;
        break;
    case 0x24: op = f3 == 1 ? OP_BCLR : f3 == 5 ? OP_BEXT : OP_ILLEGAL; break;
    case 0x34: op = f3 == 1 ? OP_BINV : OP_ILLEGAL; break;
    case 0x14: op = f3 == 1 ? OP_BSET : OP_ILLEGAL; break;
    }
    if (op == OP_ILLEGAL) return illegal(d, w);
    set(d, op, xrd(rd), rs1, rs2, 0);
}

static void decode_op32(uint32_t w, struct insn *d, uint32_t rd, uint32_t rs1, uint32_t rs2,
                        uint32_t f3)
{
    enum op op = OP_ILLEGAL;
    switch (bits(w, 31, 25)) {
    case 0x00: op = f3 == 0 ? OP_ADDW : f3 == 1 ? OP_SLLW : f3 == 5 ? OP_SRLW : OP_ILLEGAL; break;
    case 0x20: op = f3 == 0 ? OP_SUBW : f3 == 5 ? OP_SRAW : OP_ILLEGAL; break;
    case 0x01:
        op = f3 == 0 ? OP_MULW : f3 == 4 ? OP_DIVW : f3 == 5 ? OP_DIVUW : f3 == 6 ? OP_REMW
           : f3 == 7 ? OP_REMUW : OP_ILLEGAL;
        break;
    case 0x04:
        op = f3 == 0 ? OP_ADD_UW : (f3 == 4 && rs2 == 0) ? OP_ZEXT_H : OP_ILLEGAL;
        break;
    case 0x10:
        op = f3 == 2 ? OP_SH1ADD_UW : f3 == 4 ? OP_SH2ADD_UW : f3 == 6 ? OP_SH3ADD_UW
           : OP_ILLEGAL;
        break;
    case 0x30: op = f3 == 1 ? OP_ROLW : f3 == 5 ? OP_RORW : OP_ILLEGAL; break;
    }
    if (op == OP_ILLEGAL) return illegal(d, w);
    set(d, op, xrd(rd), rs1, rs2, 0);
}

static void decode_system(uint32_t w, struct insn *d, uint32_t rd, uint32_t rs1, uint32_t rs2,
                          uint32_t f3)
{
    static const enum op csr[8] = {OP_ILLEGAL, OP_CSRRW,  OP_CSRRS,  OP_CSRRC,
                                   OP_ILLEGAL, OP_CSRRWI, OP_CSRRSI, OP_CSRRCI};
    if (f3 == 0) {
        if (w == 0x00000073) return set(d, OP_ECALL, 0, 0, 0, 0);
        if (w == 0x00100073) return set(d, OP_EBREAK, 0, 0, 0, 0);
        if (w == 0x30200073) return set(d, OP_MRET, 0, 0, 0, 0);
        if (w == 0x10200073) return set(d, OP_SRET, 0, 0, 0, 0);
        if (w == 0x10500073) return set(d, OP_WFI, 0, 0, 0, 0);
        if (bits(w, 31, 25) == 0x09 && rd == 0) return set(d, OP_SFENCE_VMA, 0, rs1, rs2, 0);
        return illegal(d, w);
    }
    if (csr[f3] == OP_ILLEGAL) return illegal(d, w);
    /* rs1 holds the register or the 5-bit immediate; rd is kept raw (0 matters) */
    set(d, csr[f3], xrd(rd), rs1, 0, (int32_t)bits(w, 31, 20));
}

static void decode_amo(uint32_t w, struct insn *d, uint32_t rd, uint32_t rs1, uint32_t rs2,
                       uint32_t f3)
{
    static const enum op wops[32] = {
        [0x02] = OP_LR_W,     [0x03] = OP_SC_W,     [0x01] = OP_AMOSWAP_W, [0x00] = OP_AMOADD_W,
        [0x04] = OP_AMOXOR_W, [0x0c] = OP_AMOAND_W, [0x08] = OP_AMOOR_W,   [0x10] = OP_AMOMIN_W,
        [0x14] = OP_AMOMAX_W, [0x18] = OP_AMOMINU_W, [0x1c] = OP_AMOMAXU_W};
    static const enum op dops[32] = {
        [0x02] = OP_LR_D,     [0x03] = OP_SC_D,     [0x01] = OP_AMOSWAP_D, [0x00] = OP_AMOADD_D,
        [0x04] = OP_AMOXOR_D, [0x0c] = OP_AMOAND_D, [0x08] = OP_AMOOR_D,   [0x10] = OP_AMOMIN_D,
        [0x14] = OP_AMOMAX_D, [0x18] = OP_AMOMINU_D, [0x1c] = OP_AMOMAXU_D};
    uint32_t f5 = bits(w, 31, 27);
    enum op op = f3 == 2 ? wops[f5] : f3 == 3 ? dops[f5] : OP_ILLEGAL;
    /* OP_ILLEGAL is 0, so unlisted funct5 values are illegal too */
    if (op == OP_ILLEGAL || ((op == OP_LR_W || op == OP_LR_D) && rs2 != 0)) return illegal(d, w);
    set(d, op, xrd(rd), rs1, rs2, 0);
    d->rm = (uint8_t)bits(w, 26, 25); /* aq, rl */
}

static bool valid_rm(uint32_t rm)
{
    return rm != 5 && rm != 6; /* 7 (dynamic) is checked against frm at run time */
}

static void decode_fp(uint32_t w, struct insn *d, uint32_t rd, uint32_t rs1, uint32_t rs2,
                      uint32_t rm)
{
    uint32_t f7 = bits(w, 31, 25);
    enum op op = OP_ILLEGAL;
    bool int_rd = false, uses_rm = false;
    switch (f7) {
    case 0x00: op = OP_FADD_S; uses_rm = true; break;
    case 0x01: op = OP_FADD_D; uses_rm = true; break;
    case 0x04: op = OP_FSUB_S; uses_rm = true; break;
    case 0x05: op = OP_FSUB_D; uses_rm = true; break;
    case 0x08: op = OP_FMUL_S; uses_rm = true; break;
    case 0x09: op = OP_FMUL_D; uses_rm = true; break;
    case 0x0c: op = OP_FDIV_S; uses_rm = true; break;
    case 0x0d: op = OP_FDIV_D; uses_rm = true; break;
    case 0x2c: if (rs2 == 0) { op = OP_FSQRT_S; uses_rm = true; } break;
    case 0x2d: if (rs2 == 0) { op = OP_FSQRT_D; uses_rm = true; } break;
    case 0x10: op = rm == 0 ? OP_FSGNJ_S : rm == 1 ? OP_FSGNJN_S : rm == 2 ? OP_FSGNJX_S
                  : OP_ILLEGAL; break;
    case 0x11: op = rm == 0 ? OP_FSGNJ_D : rm == 1 ? OP_FSGNJN_D : rm == 2 ? OP_FSGNJX_D
                  : OP_ILLEGAL; break;
    case 0x14: op = rm == 0 ? OP_FMIN_S : rm == 1 ? OP_FMAX_S : OP_ILLEGAL; break;
    case 0x15: op = rm == 0 ? OP_FMIN_D : rm == 1 ? OP_FMAX_D : OP_ILLEGAL; break;
    case 0x20: if (rs2 == 1) { op = OP_FCVT_S_D; uses_rm = true; } break;
    case 0x21: if (rs2 == 0) { op = OP_FCVT_D_S; uses_rm = true; } break;
    case 0x50:
    case 0x51: {
        static const enum op s[3] = {OP_FLE_S, OP_FLT_S, OP_FEQ_S};
        static const enum op dd[3] = {OP_FLE_D, OP_FLT_D, OP_FEQ_D};
        if (rm < 3) op = f7 == 0x50 ? s[rm] : dd[rm];
        int_rd = true;
        break;
    }
    case 0x60:
    case 0x61: {
        static const enum op s[4] = {OP_FCVT_W_S, OP_FCVT_WU_S, OP_FCVT_L_S, OP_FCVT_LU_S};
        static const enum op dd[4] = {OP_FCVT_W_D, OP_FCVT_WU_D, OP_FCVT_L_D, OP_FCVT_LU_D};
        if (rs2 < 4) op = f7 == 0x60 ? s[rs2] : dd[rs2];
        int_rd = uses_rm = true;
        break;
    }
    case 0x68:
    case 0x69: {
        static const enum op s[4] = {OP_FCVT_S_W, OP_FCVT_S_WU, OP_FCVT_S_L, OP_FCVT_S_LU};
        static const enum op dd[4] = {OP_FCVT_D_W, OP_FCVT_D_WU, OP_FCVT_D_L, OP_FCVT_D_LU};
        if (rs2 < 4) op = f7 == 0x68 ? s[rs2] : dd[rs2];
        uses_rm = true;
        break;
    }
    case 0x70:
        if (rs2 == 0 && rm == 0) op = OP_FMV_X_W;
        else if (rs2 == 0 && rm == 1) op = OP_FCLASS_S;
        int_rd = true;
        break;
    case 0x71:
        if (rs2 == 0 && rm == 0) op = OP_FMV_X_D;
        else if (rs2 == 0 && rm == 1) op = OP_FCLASS_D;
        int_rd = true;
        break;
    case 0x78: if (rs2 == 0 && rm == 0) op = OP_FMV_W_X; break;
    case 0x79: if (rs2 == 0 && rm == 0) op = OP_FMV_D_X; break;
    }
    if (op == OP_ILLEGAL || (uses_rm && !valid_rm(rm))) return illegal(d, w);
    set(d, op, int_rd ? xrd(rd) : rd, rs1, rs2, 0);
    d->rm = (uint8_t)rm;
}

static void decode32(uint32_t w, struct insn *d)
{
    uint32_t rd = bits(w, 11, 7), rs1 = bits(w, 19, 15), rs2 = bits(w, 24, 20);
    uint32_t f3 = bits(w, 14, 12);
    int32_t imm_i = (int32_t)w >> 20;
    int32_t imm_s = (int32_t)(w & 0xfe000000) >> 20 | (int32_t)bits(w, 11, 7);
    int32_t imm_b = sext(bits(w, 31, 31) << 12 | bits(w, 7, 7) << 11 | bits(w, 30, 25) << 5 |
                             bits(w, 11, 8) << 1,
                         13);
    int32_t imm_u = (int32_t)(w & 0xfffff000);
    int32_t imm_j = sext(bits(w, 31, 31) << 20 | bits(w, 19, 12) << 12 | bits(w, 20, 20) << 11 |
                             bits(w, 30, 21) << 1,
                         21);

    switch (w & 0x7f) {
    case 0x37: return set(d, OP_LUI, xrd(rd), 0, 0, imm_u);
    case 0x17: return set(d, OP_AUIPC, xrd(rd), 0, 0, imm_u);
    case 0x6f: return set(d, OP_JAL, xrd(rd), 0, 0, imm_j);
    case 0x67:
        if (f3 != 0) break;
        return set(d, OP_JALR, xrd(rd), rs1, 0, imm_i);
    case 0x63: {
        static const enum op br[8] = {OP_BEQ, OP_BNE, OP_ILLEGAL, OP_ILLEGAL,
                                      OP_BLT, OP_BGE, OP_BLTU,    OP_BGEU};
        if (br[f3] == OP_ILLEGAL) break;
        return set(d, br[f3], 0, rs1, rs2, imm_b);
    }
    case 0x03: {
        static const enum op ld[8] = {OP_LB,  OP_LH,  OP_LW,  OP_LD,
                                      OP_LBU, OP_LHU, OP_LWU, OP_ILLEGAL};
        if (ld[f3] == OP_ILLEGAL) break;
        return set(d, ld[f3], xrd(rd), rs1, 0, imm_i);
    }
    case 0x23: {
        static const enum op st[8] = {OP_SB, OP_SH, OP_SW, OP_SD};
        if (f3 > 3) break;
        return set(d, st[f3], 0, rs1, rs2, imm_s);
    }
    case 0x13: return decode_op_imm(w, d, rd, rs1, f3);
    case 0x1b: return decode_op_imm32(w, d, rd, rs1, f3);
    case 0x33: return decode_op(w, d, rd, rs1, rs2, f3);
    case 0x3b: return decode_op32(w, d, rd, rs1, rs2, f3);
    case 0x0f:
        if (f3 == 0) {
            set(d, OP_FENCE, 0, 0, 0, 0);
            d->rm = (uint8_t)bits(w, 27, 20); /* pred (7:4) and succ (3:0) */
            return;
        }
        if (f3 == 1) return set(d, OP_FENCE_I, 0, 0, 0, 0);
        break;
    case 0x73: return decode_system(w, d, rd, rs1, rs2, f3);
    case 0x2f: return decode_amo(w, d, rd, rs1, rs2, f3);
    case 0x07:
        if (f3 == 2) return set(d, OP_FLW, rd, rs1, 0, imm_i);
        if (f3 == 3) return set(d, OP_FLD, rd, rs1, 0, imm_i);
        break;
    case 0x27:
        if (f3 == 2) return set(d, OP_FSW, 0, rs1, rs2, imm_s);
        if (f3 == 3) return set(d, OP_FSD, 0, rs1, rs2, imm_s);
        break;
    case 0x43:
    case 0x47:
    case 0x4b:
    case 0x4f: {
        static const enum op s[4] = {OP_FMADD_S, OP_FMSUB_S, OP_FNMSUB_S, OP_FNMADD_S};
        static const enum op dd[4] = {OP_FMADD_D, OP_FMSUB_D, OP_FNMSUB_D, OP_FNMADD_D};
        uint32_t fmt = bits(w, 26, 25), k = ((w & 0x7f) - 0x43) >> 2;
        if (fmt > 1 || !valid_rm(f3)) break;
        set(d, fmt ? dd[k] : s[k], rd, rs1, rs2, 0);
        d->rs3 = (uint8_t)bits(w, 31, 27);
        d->rm = (uint8_t)f3;
        return;
    }
    case 0x53: return decode_fp(w, d, rd, rs1, rs2, f3);
    }
    illegal(d, w);
}

/* ---- 16-bit (C extension) ----------------------------------------------- */

static void decode16(uint32_t c, struct insn *d)
{
    uint32_t f3 = bits(c, 15, 13);
    uint32_t rd = bits(c, 11, 7), rs2 = bits(c, 6, 2);
    uint32_t rdp = bits(c, 4, 2) + 8, rs1p = bits(c, 9, 7) + 8; /* rd', rs1' */
    int32_t imm6 = sext(bits(c, 12, 12) << 5 | bits(c, 6, 2), 6);

    switch ((c & 3) << 3 | f3) {
    /* quadrant 0 */
    case 000: {
        uint32_t imm = bits(c, 12, 11) << 4 | bits(c, 10, 7) << 6 | bits(c, 6, 6) << 2 |
                       bits(c, 5, 5) << 3;
        if (imm == 0) break; /* includes the all-zero illegal instruction */
        return set(d, OP_ADDI, rdp, 2, 0, (int32_t)imm);
    }
    case 001: return set(d, OP_FLD, rdp, rs1p, 0, (int32_t)(bits(c, 12, 10) << 3 | bits(c, 6, 5) << 6));
    case 002:
        return set(d, OP_LW, rdp, rs1p, 0,
                   (int32_t)(bits(c, 12, 10) << 3 | bits(c, 6, 6) << 2 | bits(c, 5, 5) << 6));
    case 003: return set(d, OP_LD, rdp, rs1p, 0, (int32_t)(bits(c, 12, 10) << 3 | bits(c, 6, 5) << 6));
    case 005: return set(d, OP_FSD, 0, rs1p, rdp, (int32_t)(bits(c, 12, 10) << 3 | bits(c, 6, 5) << 6));
    case 006:
        return set(d, OP_SW, 0, rs1p, rdp,
                   (int32_t)(bits(c, 12, 10) << 3 | bits(c, 6, 6) << 2 | bits(c, 5, 5) << 6));
    case 007: return set(d, OP_SD, 0, rs1p, rdp, (int32_t)(bits(c, 12, 10) << 3 | bits(c, 6, 5) << 6));

    /* quadrant 1 */
    case 010: return set(d, OP_ADDI, xrd(rd), rd, 0, imm6); /* c.nop when rd = 0 */
    case 011:
        if (rd == 0) break;
        return set(d, OP_ADDIW, rd, rd, 0, imm6);
    case 012: return set(d, OP_ADDI, xrd(rd), 0, 0, imm6); /* c.li */
    case 013:
        if (rd == 2) {
            int32_t imm = sext(bits(c, 12, 12) << 9 | bits(c, 6, 6) << 4 | bits(c, 5, 5) << 6 |
                                   bits(c, 4, 3) << 7 | bits(c, 2, 2) << 5,
                               10);
            if (imm == 0) break;
            return set(d, OP_ADDI, 2, 2, 0, imm); /* c.addi16sp */
        }
        if (imm6 == 0) break;
        return set(d, OP_LUI, xrd(rd), 0, 0, (int32_t)((uint32_t)imm6 << 12)); /* c.lui */
    case 014: {
        uint32_t shamt = bits(c, 12, 12) << 5 | bits(c, 6, 2);
        switch (bits(c, 11, 10)) {
        case 0: return set(d, OP_SRLI, rs1p, rs1p, 0, (int32_t)shamt);
        case 1: return set(d, OP_SRAI, rs1p, rs1p, 0, (int32_t)shamt);
        case 2: return set(d, OP_ANDI, rs1p, rs1p, 0, imm6);
        case 3: {
            static const enum op ops[8] = {OP_SUB,  OP_XOR,  OP_OR,      OP_AND,
                                           OP_SUBW, OP_ADDW, OP_ILLEGAL, OP_ILLEGAL};
            enum op op = ops[bits(c, 12, 12) << 2 | bits(c, 6, 5)];
            if (op == OP_ILLEGAL) break;
            return set(d, op, rs1p, rs1p, rdp, 0);
        }
        }
        break;
    }
    case 015: {
        int32_t imm = sext(bits(c, 12, 12) << 11 | bits(c, 11, 11) << 4 | bits(c, 10, 9) << 8 |
                               bits(c, 8, 8) << 10 | bits(c, 7, 7) << 6 | bits(c, 6, 6) << 7 |
                               bits(c, 5, 3) << 1 | bits(c, 2, 2) << 5,
                           12);
        return set(d, OP_JAL, 32, 0, 0, imm); /* c.j */
    }
    case 016:
    case 017: {
        int32_t imm = sext(bits(c, 12, 12) << 8 | bits(c, 11, 10) << 3 | bits(c, 6, 5) << 6 |
                               bits(c, 4, 3) << 1 | bits(c, 2, 2) << 5,
                           9);
        return set(d, f3 == 6 ? OP_BEQ : OP_BNE, 0, rs1p, 0, imm);
    }

    /* quadrant 2 */
    case 020: return set(d, OP_SLLI, xrd(rd), rd, 0, (int32_t)(bits(c, 12, 12) << 5 | bits(c, 6, 2)));
    case 021:
        return set(d, OP_FLD, rd, 2, 0,
                   (int32_t)(bits(c, 12, 12) << 5 | bits(c, 6, 5) << 3 | bits(c, 4, 2) << 6));
    case 022:
        if (rd == 0) break;
        return set(d, OP_LW, rd, 2, 0,
                   (int32_t)(bits(c, 12, 12) << 5 | bits(c, 6, 4) << 2 | bits(c, 3, 2) << 6));
    case 023:
        if (rd == 0) break;
        return set(d, OP_LD, rd, 2, 0,
                   (int32_t)(bits(c, 12, 12) << 5 | bits(c, 6, 5) << 3 | bits(c, 4, 2) << 6));
    case 024:
        if (bits(c, 12, 12) == 0) {
            if (rs2 == 0) {
                if (rd == 0) break;
                return set(d, OP_JALR, 32, rd, 0, 0); /* c.jr */
            }
            return set(d, OP_ADD, xrd(rd), 0, rs2, 0); /* c.mv */
        }
        if (rs2 == 0) {
            if (rd == 0) return set(d, OP_EBREAK, 0, 0, 0, 0);
            return set(d, OP_JALR, 1, rd, 0, 0); /* c.jalr */
        }
        return set(d, OP_ADD, xrd(rd), rd, rs2, 0); /* c.add */
    case 025:
        return set(d, OP_FSD, 0, 2, rs2, (int32_t)(bits(c, 12, 10) << 3 | bits(c, 9, 7) << 6));
    case 026:
        return set(d, OP_SW, 0, 2, rs2, (int32_t)(bits(c, 12, 9) << 2 | bits(c, 8, 7) << 6));
    case 027:
        return set(d, OP_SD, 0, 2, rs2, (int32_t)(bits(c, 12, 10) << 3 | bits(c, 9, 7) << 6));
    }
    illegal(d, c);
}

void decode(uint32_t w, struct insn *d)
{
    memset(d, 0, sizeof(*d));
    if ((w & 3) == 3) {
        d->len = 4;
        decode32(w, d);
        d->bits = w;
    } else {
        d->len = 2;
        decode16(w & 0xffff, d);
        d->bits = w & 0xffff;
    }
}
