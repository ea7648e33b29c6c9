/*
 * boot.c - see boot.h.
 *
 * Memory layout at boot (as QEMU's virt board lays it out):
 *   0x1000      reset vector ROM (firmware boot): jump to 0x80000000 with
 *               a0 = hart id, a1 = device tree, a2 = fw_dynamic_info
 *   RAM + 0     firmware (--bios), or nothing (direct boot)
 *   RAM + 2 MiB kernel Image
 *   ...         initrd, just below the device tree
 *   top         device tree, 2 MiB aligned, below 4 GiB
 */
#include "machine/boot.h"

#include "cpu/hart.h"
#include "devices/htif.h"
#include "lib/fileset.h"
#include "lib/log.h"
#include "machine/elf.h"
#include "machine/machine.h"
#include "machine/sbi.h"
#include "machine/virt.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIB (1ull << 20)
#define FDT_MAX_SIZE (64 * 1024)
#define FW_DYNAMIC_MAGIC 0x4942534full /* "OSBI" */
#define FW_DYNAMIC_VERSION 2
#define FW_DYNAMIC_NEXT_MODE_S 1

struct file {
    uint8_t *data;
    size_t size;
};

static int read_file(const char *path, const char *what, struct file *f)
{
    int fd = fileset_open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == EACCES && fileset_sealed())
            log_error("cannot open %s %s: not one of the files kumo-vmm's sandbox was given",
                      what, path);
        else
            log_error("cannot open %s %s: %s", what, path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        log_error("%s %s is not a regular file", what, path);
        close(fd);
        return -1;
    }
    if (st.st_size == 0) {
        log_error("%s %s is empty", what, path);
        close(fd);
        return -1;
    }
    f->size = (size_t)st.st_size;
    f->data = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (f->data == MAP_FAILED) {
        log_error("cannot read %s %s: %s", what, path, strerror(errno));
        return -1;
    }
    return 0;
}

static void free_file(struct file *f)
{
    if (f->data && f->data != MAP_FAILED) munmap(f->data, f->size);
    f->data = NULL;
}

/* Copy [data, data+len) to RAM at pa, or explain why it does not fit. */
static int place(struct machine *m, uint64_t pa, const void *data, uint64_t len,
                 const char *what)
{
    if (pa < m->ram_base || len > m->ram_size || pa - m->ram_base > m->ram_size - len) {
        log_error("%s (%" PRIu64 " KiB at %#" PRIx64 ") does not fit in guest RAM "
                  "(%" PRIu64 " MiB at %#" PRIx64 "): raise --mem",
                  what, len >> 10, pa, m->ram_size >> 20, m->ram_base);
        return -1;
    }
    return machine_load(m, pa, data, len) ? 0 : -1;
}

/* ---- bare-metal ELF -------------------------------------------------------- */

static int elf_segment(void *ctx, uint64_t pa, const uint8_t *src, uint64_t filesz,
                       uint64_t memsz, char *err, size_t errlen)
{
    struct machine *m = ctx;
    if (pa < m->ram_base || memsz > m->ram_size || pa - m->ram_base > m->ram_size - memsz) {
        snprintf(err, errlen,
                 "segment at %#" PRIx64 "-%#" PRIx64 " does not fit in guest RAM "
                 "%#" PRIx64 "-%#" PRIx64 " (link the program at 0x80000000, or raise --mem)",
                 pa, pa + memsz, m->ram_base, m->ram_base + m->ram_size);
        return -1;
    }
    uint8_t *dst = m->ram + (pa - m->ram_base);
    memcpy(dst, src, filesz);
    memset(dst + filesz, 0, memsz - filesz);
    machine_memory_written(m, pa, memsz);
    return 0;
}

static int boot_elf(struct machine *m, const char *path)
{
    struct file f;
    if (read_file(path, "ELF program", &f) < 0) return -1;
    char err[256];
    struct elf_info info;
    int rc = elf_parse(f.data, f.size, elf_segment, m, &info, err, sizeof(err));
    free_file(&f);
    if (rc < 0) {
        log_error("%s: %s", path, err);
        return -1;
    }
    if (info.tohost) {
        if (htif_attach(m, info.tohost, info.fromhost) < 0) return -1;
    } else {
        log_warn("%s has no 'tohost' symbol: the program can only end by powering off "
                 "through the test device, or at --max-insns",
                 path);
    }
    /* Like a bare machine: every hart starts at the entry point in M-mode. */
    for (int k = 0; k < m->nharts; k++) {
        hart_reset(m->harts[k], info.entry);
        atomic_store(&m->harts[k]->hsm_state, HSM_STARTED);
    }
    log_info("loaded %s, entry %#" PRIx64, path, info.entry);
    return 0;
}

/* ---- kernels and firmware ------------------------------------------------------ */

struct kernel_layout {
    uint64_t entry, end;
};

static int load_kernel(struct machine *m, const char *path, struct kernel_layout *k)
{
    struct file f;
    if (read_file(path, "kernel", &f) < 0) return -1;
    uint64_t load = m->ram_base + BOOT_KERNEL_OFFSET, size = f.size;
    if (f.size >= 64 && memcmp(f.data + 56, "RSC\x05", 4) == 0) {
        uint64_t text_offset, image_size;
        memcpy(&text_offset, f.data + 8, 8);
        memcpy(&image_size, f.data + 16, 8);
        if (text_offset) load = m->ram_base + text_offset;
        if (image_size > size) size = image_size; /* room for .bss */
        log_info("kernel: Linux Image, %zu KiB, loaded at %#" PRIx64, f.size >> 10, load);
    } else if (f.size >= 4 && memcmp(f.data, "\177ELF", 4) == 0) {
        log_error("kernel %s is an ELF file: give the raw Image (arch/riscv/boot/Image), "
                  "or use --elf for bare-metal programs",
                  path);
        free_file(&f);
        return -1;
    } else {
        log_info("kernel: %s has no Linux Image header: loaded as a raw binary at %#" PRIx64,
                 path, load);
    }
    int rc = place(m, load, f.data, f.size, "the kernel");
    if (rc == 0 && size > f.size) {
        if (load + size > m->ram_base + m->ram_size) {
            log_error("the kernel needs %" PRIu64 " MiB of RAM from %#" PRIx64 ": raise --mem",
                      size >> 20, load);
            rc = -1;
        }
    }
    free_file(&f);
    k->entry = load;
    k->end = load + size;
    return rc;
}

/* The reset vector QEMU's board has at 0x1000, for firmware boot. */
static int write_reset_vector(struct machine *m, uint64_t start, uint64_t fdt, uint64_t next)
{
    uint32_t code[6] = {
        0x00000297, /* auipc t0, 0          */
        0x02828613, /* addi  a2, t0, 40     fw_dynamic_info */
        0xf1402573, /* csrr  a0, mhartid    */
        0x0202b583, /* ld    a1, 32(t0)     device tree */
        0x0182b283, /* ld    t0, 24(t0)     firmware entry */
        0x00028067, /* jr    t0             */
    };
    uint64_t data[2 + 6] = {
        start, fdt,
        /* struct fw_dynamic_info */
        FW_DYNAMIC_MAGIC, FW_DYNAMIC_VERSION, next, FW_DYNAMIC_NEXT_MODE_S, 0, 0 /* boot hart */,
    };
    uint64_t rom = VIRT_MROM_BASE;
    if (!machine_load(m, rom, code, sizeof(code)) ||
        !machine_load(m, rom + sizeof(code), data, sizeof(data)))
        return -1;
    return 0;
}

static int write_dtb(const char *path, const void *fdt, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(fdt, 1, size, f) != size || fclose(f) != 0) {
        log_error("cannot write the device tree to %s: %s", path, strerror(errno));
        if (f) fclose(f);
        return -1;
    }
    return 0;
}

int boot_load(struct machine *m, const struct virt_config *vc, const struct boot_config *bc)
{
    if (bc->elf) return boot_elf(m, bc->elf);

    struct kernel_layout k = {0, m->ram_base};
    uint64_t fw_end = m->ram_base;
    if (bc->bios) {
        struct file f;
        if (read_file(bc->bios, "firmware", &f) < 0) return -1;
        if (f.size > BOOT_KERNEL_OFFSET) {
            log_error("firmware %s is %zu KiB: it must fit below the kernel at RAM + 2 MiB",
                      bc->bios, f.size >> 10);
            free_file(&f);
            return -1;
        }
        int rc = place(m, m->ram_base, f.data, f.size, "the firmware");
        fw_end = m->ram_base + f.size;
        free_file(&f);
        if (rc < 0) return -1;
    }
    if (bc->kernel) {
        if (load_kernel(m, bc->kernel, &k) < 0) return -1;
    } else {
        k.entry = m->ram_base + BOOT_KERNEL_OFFSET; /* where fw_jump looks */
        k.end = fw_end;
    }

    /* Device tree at the top of RAM (below 4 GiB), initrd just below it. */
    uint64_t top = m->ram_base + m->ram_size;
    if (top > 0x100000000ull) top = 0x100000000ull;
    if (top - m->ram_base < 4 * MIB) {
        log_error("--mem %" PRIu64 " is too small to boot a kernel: give at least 16 MiB",
                  m->ram_size >> 20);
        return -1;
    }
    uint64_t fdt_addr = (top - FDT_MAX_SIZE) & ~(2 * MIB - 1);
    struct fdt_params fp = {.bootargs = bc->append};
    struct file initrd = {0};
    if (bc->initrd) {
        if (read_file(bc->initrd, "initrd", &initrd) < 0) return -1;
        fp.initrd_start = (fdt_addr - initrd.size) & ~(PAGE_SIZE - 1);
        fp.initrd_end = fp.initrd_start + initrd.size;
        if (initrd.size > fdt_addr - m->ram_base || fp.initrd_start < k.end) {
            log_error("kernel and initrd (%zu KiB) do not fit in %" PRIu64 " MiB of RAM: "
                      "raise --mem",
                      initrd.size >> 10, m->ram_size >> 20);
            free_file(&initrd);
            return -1;
        }
        int rc = place(m, fp.initrd_start, initrd.data, initrd.size, "the initrd");
        free_file(&initrd);
        if (rc < 0) return -1;
    } else if (fdt_addr < k.end) {
        log_error("the kernel does not fit below the device tree: raise --mem");
        return -1;
    }

    static uint8_t fdt[FDT_MAX_SIZE];
    int fdt_size = virt_build_fdt(m, vc, &fp, fdt, sizeof(fdt));
    if (fdt_size < 0) return -1;
    if (bc->dump_dtb) return write_dtb(bc->dump_dtb, fdt, (size_t)fdt_size);
    if (place(m, fdt_addr, fdt, (uint64_t)fdt_size, "the device tree") < 0) return -1;

    if (bc->bios) {
        /* Firmware boot: every hart runs the reset vector in M-mode. */
        if (write_reset_vector(m, m->ram_base, fdt_addr, k.entry) < 0) return -1;
        for (int i = 0; i < m->nharts; i++) {
            hart_reset(m->harts[i], VIRT_MROM_BASE);
            atomic_store(&m->harts[i]->hsm_state, HSM_STARTED);
        }
        return 0;
    }
    /* Direct boot: hart 0 enters the kernel in S-mode; the others wait for
     * SBI HSM hart_start. */
    for (int i = 0; i < m->nharts; i++) {
        struct hart *h = m->harts[i];
        hart_reset(h, k.entry);
        sbi_prepare_hart(h);
        atomic_store(&h->hsm_state, i == 0 ? HSM_STARTED : HSM_STOPPED);
    }
    m->harts[0]->x[10] = 0;
    m->harts[0]->x[11] = fdt_addr;
    return 0;
}
