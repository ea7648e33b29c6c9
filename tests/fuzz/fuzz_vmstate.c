/*
 * fuzz_vmstate.c - libFuzzer harness for the loaders of a saved VM state
 * (src/machine/vmstate.c, each device's load, src/cpu/hart_state.c): a
 * state file comes from disk and may be damaged or forged, so any input
 * must end in a refusal with a message or a loaded machine, never in an
 * access outside what the machine owns (ASan) or undefined behaviour.
 *
 * Input, by its first byte:
 *   even: sections for the loaders. The rest is a list of
 *         [u8 section][u16 length][payload]; the harness frames each with
 *         the name and kind of the machine's section number `section`
 *         (machine, hart.N, rom@..., then each device), adds valid
 *         checksums and the end section, so that the fuzzer reaches the
 *         loaders past the checksums (seeds: test_vmstate
 *         --write-fuzz-seeds).
 *   odd:  the bytes as a whole file: header, section framing, checksums,
 *         RAM map and holes.
 * One machine (1 MiB of RAM, two harts, the board's own devices) takes
 * every load.
 */
#include "machine/device.h"
#include "machine/machine.h"
#include "machine/virt.h"
#include "machine/vmstate.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

static struct machine *m;
static const char *names[64], *kinds[64];
static char owned[64][32];
static int nnames;
static int memfd = -1;
static char memfd_path[64];

static void setup(void)
{
    struct virt_config cfg = {.ram_size = 1 << 20, .ncpus = 2, .satp_mode = 10,
                              .builtin_sbi = true};
    m = virt_create(&cfg);
    if (!m) abort();
    names[nnames] = "machine";
    kinds[nnames++] = "riscv-virt";
    for (int k = 0; k < m->nharts; k++) {
        snprintf(owned[nnames], sizeof(owned[0]), "hart.%d", k);
        names[nnames] = owned[nnames];
        kinds[nnames++] = "rv64gc";
    }
    for (int i = 0; i < m->nregions; i++)
        if (m->regions[i].host && m->regions[i].readonly) {
            snprintf(owned[nnames], sizeof(owned[0]), "rom@%llx",
                     (unsigned long long)m->regions[i].base);
            names[nnames] = owned[nnames];
            kinds[nnames++] = "rom";
        }
    for (int i = 0; i < m->ndevs && nnames < 60; i++)
        if (m->devs[i].model->save) {
            names[nnames] = m->devs[i].name;
            kinds[nnames++] = m->devs[i].model->state_kind;
        }
    memfd = memfd_create("fuzz-vmstate", 0);
    snprintf(memfd_path, sizeof(memfd_path), "/proc/self/fd/%d", memfd);
}

static void frame(struct vms_out *o, XXH3_state_t *chain, const char *name, const char *kind,
                  const uint8_t *p, size_t len)
{
    uint8_t h[80] = {0};
    strncpy((char *)h, name, 31);
    if (kind) strncpy((char *)h + 32, kind, 15);
    uint64_t l = len, off = o->len + 80, sum = XXH3_64bits(p, len);
    memcpy(h + 48, &l, 8);
    memcpy(h + 56, &off, 8);
    memcpy(h + 64, &sum, 8);
    uint64_t hs = XXH3_64bits(h, 72);
    memcpy(h + 72, &hs, 8);
    if (chain) XXH3_64bits_update(chain, h + 72, 8);
    vms_put_bytes(o, h, 80);
    vms_put_bytes(o, p, len);
    static const uint8_t zeros[8];
    vms_put_bytes(o, zeros, ((len + 7) & ~(size_t)7) - len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!m) setup();
    if (size < 1) return 0;
    char err[512];
    if (data[0] & 1) {
        if (ftruncate(memfd, 0) < 0 || pwrite(memfd, data + 1, size - 1, 0) != (ssize_t)(size - 1))
            return 0;
        struct vmstate_file *f = vmstate_open(memfd_path, err, sizeof(err));
        if (f) {
            vmstate_load(f, m, err, sizeof(err));
            vmstate_close(f);
        }
        return 0;
    }
    struct vms_out o = {0};
    XXH3_state_t chain;
    XXH3_64bits_reset(&chain);
    size_t off = 1;
    uint32_t count = 0;
    while (off + 3 <= size) {
        unsigned idx = data[off];
        size_t len = (size_t)data[off + 1] | (size_t)data[off + 2] << 8;
        off += 3;
        if (len > size - off) len = size - off;
        char name[32];
        const char *kind = "x";
        if ((int)idx < nnames) {
            snprintf(name, sizeof(name), "%s", names[idx]);
            kind = kinds[idx];
        } else {
            snprintf(name, sizeof(name), "x%u", idx);
        }
        frame(&o, &chain, name, kind, data + off, len);
        count++;
        off += len;
    }
    uint8_t end[16];
    uint64_t digest = XXH3_64bits_digest(&chain);
    memcpy(end, &count, 4);
    memset(end + 4, 0, 4);
    memcpy(end + 8, &digest, 8);
    frame(&o, NULL, "end", NULL, end, sizeof(end));
    if (!o.failed && vmstate_load_devices(m, o.buf, o.len, err, sizeof(err)) < 0 &&
        getenv("FUZZ_VMSTATE_DEBUG"))
        fprintf(stderr, "refused: %s\n", err);
    vms_out_free(&o);
    return 0;
}
