/*
 * fuzz_elf.c - libFuzzer harness for the ELF loader (src/machine/elf.c): any
 * byte string must produce either a clean parse or an error message, never a
 * crash, an out-of-bounds read or undefined behaviour. Segments are "loaded"
 * into a small fake RAM with the same bounds checks the real loader makes.
 */
#include "machine/elf.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static uint8_t ram[1 << 16];
#define RAM_BASE 0x80000000ull

static int load(void *ctx, uint64_t pa, const uint8_t *src, uint64_t filesz, uint64_t memsz,
                char *err, size_t errlen)
{
    (void)ctx;
    if (pa < RAM_BASE || memsz > sizeof(ram) || pa - RAM_BASE > sizeof(ram) - memsz) {
        strncpy(err, "does not fit", errlen);
        return -1;
    }
    memcpy(ram + (pa - RAM_BASE), src, filesz);
    memset(ram + (pa - RAM_BASE) + filesz, 0, memsz - filesz);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct elf_info info;
    char err[256];
    if (elf_parse(data, size, load, NULL, &info, err, sizeof(err)) < 0) {
        if (strnlen(err, sizeof(err)) == 0 || strnlen(err, sizeof(err)) == sizeof(err))
            __builtin_trap(); /* every failure must explain itself */
    }
    return 0;
}
