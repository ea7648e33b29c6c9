/*
 * fuzz_vhd.c - libFuzzer harness for the vhd image reader (src/storage): any
 * byte string opened as a vhd image gives a readable disk or an error
 * message, never a crash or undefined behaviour. See fuzz_disk.h.
 */
#include "fuzz_disk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_disk_image(data, size, "vhd");
}
