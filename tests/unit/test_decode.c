/*
 * test_decode.c - the decoder against encodings made by GNU as (an
 * independent encoder, see gen_decode_cases.py) and hand-derived illegal
 * encodings from the ISA manual.
 */
#include "cpu/decode.h"

#include <stdio.h>
#include <string.h>

#define NOIMM 0x7fffffff

struct decode_case {
    uint32_t bits;
    const char *asm_text;
    int op, rd, rs1, rs2, rs3;
    int32_t imm;
};

#include "decode_cases.h"

static const struct {
    uint32_t bits;
    const char *why;
} illegal_cases[] = {
    {0x0000, "all-zero 16-bit instruction"},
    {0xffffffff, "all-ones (reserved longer encoding)"},
    {0x6101, "c.addi16sp with a zero immediate"},
    {0x6501, "c.lui with a zero immediate"},
    {0x4002, "c.lwsp with rd = x0"},
    {0x6002, "c.ldsp with rd = x0"},
    {0x8002, "c.jr with rs1 = x0"},
    {0x2005, "c.addiw with rd = x0"},
    {0x9c41, "reserved C.Q1 arithmetic encoding"},
    {0x00004073, "SYSTEM funct3 = 4"},
    {0x1015a52f, "lr.w with rs2 != 0"},
    {0x00c5d553, "fadd.s with reserved rounding mode 5"},
    {0x00c5e553, "fadd.s with reserved rounding mode 6"},
    {0x00002063, "branch funct3 = 2"},
    {0x00001067, "jalr funct3 = 1"},
    {0x00007003, "load funct3 = 7"},
    {0x00004023, "store funct3 = 4"},
    {0x30300073, "unknown SYSTEM instruction"},
    {0x120000f3, "sfence.vma with rd != 0"},
    {0x0400002b, "unused major opcode (custom-1)"},
    {0x04c58543, "fmadd with fmt = 2 (half precision, not implemented)"},
};

int main(void)
{
    int failures = 0, n = 0;
    for (size_t k = 0; k < sizeof(decode_cases) / sizeof(decode_cases[0]); k++) {
        const struct decode_case *c = &decode_cases[k];
        struct insn in;
        decode(c->bits, &in);
        n++;
        int len = (c->bits & 3) == 3 ? 4 : 2;
        bool ok = in.op == c->op && in.len == len && (c->rd < 0 || in.rd == c->rd) &&
                  (c->rs1 < 0 || in.rs1 == c->rs1) && (c->rs2 < 0 || in.rs2 == c->rs2) &&
                  (c->rs3 < 0 || in.rs3 == c->rs3) && (c->imm == NOIMM || in.imm == c->imm);
        if (!ok) {
            failures++;
            printf("FAIL %-32s %08x: got %s rd=%d rs1=%d rs2=%d rs3=%d imm=%d len=%d; "
                   "want %s rd=%d rs1=%d rs2=%d rs3=%d imm=%d len=%d\n",
                   c->asm_text, c->bits, op_name(in.op), in.rd, in.rs1, in.rs2, in.rs3, in.imm,
                   in.len, op_name(c->op), c->rd, c->rs1, c->rs2, c->rs3, c->imm, len);
        }
    }
    for (size_t k = 0; k < sizeof(illegal_cases) / sizeof(illegal_cases[0]); k++) {
        struct insn in;
        decode(illegal_cases[k].bits, &in);
        n++;
        uint32_t raw = (illegal_cases[k].bits & 3) == 3 ? illegal_cases[k].bits
                                                         : illegal_cases[k].bits & 0xffff;
        if (in.op != OP_ILLEGAL || (uint32_t)in.imm != raw) {
            failures++;
            printf("FAIL illegal %08x (%s): decoded as %s imm=%#x\n", illegal_cases[k].bits,
                   illegal_cases[k].why, op_name(in.op), (unsigned)in.imm);
        }
    }
    /* Block-ending ops: control flow and system instructions, nothing else. */
    static const int enders[] = {OP_JAL, OP_JALR, OP_BEQ, OP_ECALL, OP_MRET, OP_CSRRW,
                                 OP_FENCE_I, OP_SFENCE_VMA, OP_WFI, OP_ILLEGAL};
    for (size_t k = 0; k < sizeof(enders) / sizeof(enders[0]); k++, n++)
        if (!op_ends_block(enders[k])) {
            failures++;
            printf("FAIL %s should end a block\n", op_name(enders[k]));
        }
    static const int plain[] = {OP_ADD, OP_LD, OP_SD, OP_FADD_D, OP_AMOADD_W, OP_FENCE};
    for (size_t k = 0; k < sizeof(plain) / sizeof(plain[0]); k++, n++)
        if (op_ends_block(plain[k])) {
            failures++;
            printf("FAIL %s should not end a block\n", op_name(plain[k]));
        }
    printf("decode: %d checks, %d failures\n", n, failures);
    return failures != 0;
}
