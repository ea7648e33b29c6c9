/*
 * decode.h - turning instruction bits into a compact, pre-digested form.
 *
 * The interpreter never looks at raw instruction bits on its hot path: each
 * instruction is decoded once into a struct insn (op, registers, immediate)
 * and cached in a block (see block.h). Register numbers are already mapped
 * so that a write to x0 lands in the sink x[32].
 */
#ifndef KUMO_CPU_DECODE_H
#define KUMO_CPU_DECODE_H

#include <stdbool.h>
#include <stdint.h>

enum op {
#define OP(name) OP_##name,
#include "ops.def"
#undef OP
    OP_COUNT
};

struct insn {
    const void *handler; /* the interpreter's label for op (set by exec.c) */
    uint16_t op;  /* enum op */
    int16_t off;  /* byte offset of this instruction from its block's start (a
                     block that folded a jump has some before its start) */
    uint8_t rd;   /* destination (integer rd 0 is mapped to 32) */
    uint8_t rs1, rs2, rs3;
    uint8_t rm;   /* FP rounding mode field, or other small operand */
    uint8_t len;  /* 2 (compressed) or 4 */
    uint16_t pad;
    int32_t imm;  /* immediate, CSR number, or raw bits for ILLEGAL */
    uint32_t bits; /* the encoding as decoded (the tval of an illegal instruction:
                      the bytes in memory may have changed since) */
};

/* Decode a 32-bit (or, when (bits & 3) != 3, 16-bit) instruction. */
void decode(uint32_t bits, struct insn *out);

/* Does this op end a block (control flow, or state the block depends on)? */
bool op_ends_block(enum op op);

/* Human-readable op name, for traces and tests. */
const char *op_name(enum op op);

/* Length in bytes of the instruction whose low 16 bits are `lo`. */
static inline int insn_length(uint16_t lo)
{
    return (lo & 3) == 3 ? 4 : 2;
}

#endif
