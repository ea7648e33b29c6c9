/*
 * fuzz_qcow2.c - libFuzzer harness for qcow2 (src/storage/qcow2*.c): the
 * header, header extensions, L1/L2 tables and refcount structures of any byte
 * string are parsed, read through, checked and written to (allocation and
 * refcount updates on damaged metadata), giving data or an error message,
 * never a crash or undefined behaviour. See fuzz_disk.h.
 */
#include "fuzz_disk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_disk_image(data, size, "qcow2");
}
