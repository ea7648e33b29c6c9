/*
 * fuzz_vmdk.c - libFuzzer harness for the vmdk image reader (src/storage): any
 * byte string opened as a vmdk image gives a readable disk or an error
 * message, never a crash or undefined behaviour. See fuzz_disk.h.
 */
#include "fuzz_disk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_disk_image(data, size, "vmdk");
}
