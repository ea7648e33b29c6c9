/*
 * elf.c - see elf.h. Only what a loader needs: the file header, program
 * headers of type PT_LOAD, and the symbol table for tohost/fromhost.
 */
#include "machine/elf.h"

#include <stdio.h>
#include <string.h>

#define EM_RISCV 243
#define PT_LOAD 1
#define SHT_SYMTAB 2
#define ET_EXEC 2

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
    return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

/* Is [off, off + len) inside a buffer of `size` bytes? */
static bool within(uint64_t off, uint64_t len, size_t size)
{
    return off <= size && len <= size - off;
}

static int fail(char *err, size_t errlen, const char *msg)
{
    snprintf(err, errlen, "%s", msg);
    return -1;
}

static void find_symbols(const uint8_t *d, size_t size, struct elf_info *info)
{
    uint64_t shoff = rd64(d + 0x28);
    uint16_t shentsize = rd16(d + 0x3a), shnum = rd16(d + 0x3c);
    if (shoff == 0 || shentsize < 64 || !within(shoff, (uint64_t)shnum * shentsize, size)) return;
    for (unsigned s = 0; s < shnum; s++) {
        const uint8_t *sh = d + shoff + (uint64_t)s * shentsize;
        if (rd32(sh + 4) != SHT_SYMTAB) continue;
        uint64_t symoff = rd64(sh + 0x18), symsize = rd64(sh + 0x20), entsize = rd64(sh + 0x38);
        uint32_t link = rd32(sh + 0x28);
        if (entsize < 24 || link >= shnum || !within(symoff, symsize, size)) continue;
        const uint8_t *strh = d + shoff + (uint64_t)link * shentsize;
        uint64_t stroff = rd64(strh + 0x18), strsize = rd64(strh + 0x20);
        if (!within(stroff, strsize, size)) continue;
        for (uint64_t k = 0; k + entsize <= symsize; k += entsize) {
            const uint8_t *sym = d + symoff + k;
            uint32_t name = rd32(sym);
            if (name >= strsize) continue;
            const char *str = (const char *)d + stroff + name;
            size_t maxlen = strsize - name;
            if (strnlen(str, maxlen) == maxlen) continue; /* unterminated */
            if (strcmp(str, "tohost") == 0) info->tohost = rd64(sym + 8);
            if (strcmp(str, "fromhost") == 0) info->fromhost = rd64(sym + 8);
        }
    }
}

int elf_parse(const uint8_t *d, size_t size, elf_segment_fn load, void *ctx,
              struct elf_info *info, char *err, size_t errlen)
{
    memset(info, 0, sizeof(*info));
    if (size < 64 || memcmp(d, "\177ELF", 4) != 0)
        return fail(err, errlen, "not an ELF file (bad magic number)");
    if (d[4] != 2) return fail(err, errlen, "not a 64-bit ELF file (kumo-vmm runs RV64 programs)");
    if (d[5] != 1) return fail(err, errlen, "not a little-endian ELF file");
    if (rd16(d + 0x12) != EM_RISCV)
        return fail(err, errlen, "not a RISC-V ELF file (e_machine is not EM_RISCV)");
    if (rd16(d + 0x10) != ET_EXEC)
        return fail(err, errlen,
                    "not an executable ELF file (link it with a fixed address, not -shared/-pie)");
    info->entry = rd64(d + 0x18);
    uint64_t phoff = rd64(d + 0x20);
    uint16_t phentsize = rd16(d + 0x36), phnum = rd16(d + 0x38);
    if (phnum == 0) return fail(err, errlen, "ELF file has no program headers");
    if (phentsize < 56 || !within(phoff, (uint64_t)phnum * phentsize, size))
        return fail(err, errlen, "ELF program header table lies outside the file (truncated?)");
    int loaded = 0;
    for (unsigned k = 0; k < phnum; k++) {
        const uint8_t *ph = d + phoff + (uint64_t)k * phentsize;
        if (rd32(ph) != PT_LOAD) continue;
        uint64_t off = rd64(ph + 0x08), paddr = rd64(ph + 0x18);
        uint64_t filesz = rd64(ph + 0x20), memsz = rd64(ph + 0x28);
        if (filesz > memsz) {
            snprintf(err, errlen, "ELF segment %u: file size %#llx exceeds memory size %#llx", k,
                     (unsigned long long)filesz, (unsigned long long)memsz);
            return -1;
        }
        if (!within(off, filesz, size)) {
            snprintf(err, errlen, "ELF segment %u: data at offset %#llx+%#llx is past the end "
                     "of the file (truncated?)", k, (unsigned long long)off,
                     (unsigned long long)filesz);
            return -1;
        }
        if (memsz == 0) continue;
        if (load(ctx, paddr, d + off, filesz, memsz, err, errlen) < 0) return -1;
        loaded++;
    }
    if (!loaded) return fail(err, errlen, "ELF file has no loadable segments");
    find_symbols(d, size, info);
    return 0;
}
