/*
 * elf.h - reading bare-metal RISC-V ELF64 executables: their loadable
 * segments, entry point and the HTIF symbols (tohost, fromhost).
 *
 * The parser works on a buffer and never trusts a length or offset in it;
 * a malformed file yields a message that names what is wrong.
 */
#ifndef KUMO_MACHINE_ELF_H
#define KUMO_MACHINE_ELF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct elf_info {
    uint64_t entry;
    uint64_t tohost, fromhost; /* 0 when the symbol is absent */
};

/* Called for each PT_LOAD segment: copy filesz bytes from src to guest
 * physical address pa and zero the rest up to memsz. Return 0, or -1 after
 * writing a reason into err. */
typedef int (*elf_segment_fn)(void *ctx, uint64_t pa, const uint8_t *src, uint64_t filesz,
                              uint64_t memsz, char *err, size_t errlen);

/* Parse `data` and hand every loadable segment to `load`. Returns 0, or -1
 * with a human-readable reason in err. */
int elf_parse(const uint8_t *data, size_t size, elf_segment_fn load, void *ctx,
              struct elf_info *info, char *err, size_t errlen);

#endif
