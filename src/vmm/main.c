/*
 * main.c - kumo-vmm, the hypervisor process: parses the command line, builds
 * the virt board, loads the guest and runs its vCPUs until the guest powers
 * off, fails, or a limit is reached.
 */
#include "cpu/hart.h"
#include "devices/htif.h"
#include "lib/log.h"
#include "machine/elf.h"
#include "machine/machine.h"
#include "machine/virt.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef KUMO_VERSION
#define KUMO_VERSION "0.1.0"
#endif

/* Exit statuses other than the guest's own (see docs/user-guide.md). */
enum { EXIT_USAGE = 2, EXIT_LIMIT = 124, EXIT_SETUP = 125 };

struct options {
    const char *elf;
    uint64_t mem_mib;
    int cpus;
    uint64_t max_insns;
    int verbose;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: kumo-vmm --elf FILE [options]\n"
            "\n"
            "Runs a RISC-V RV64GC virtual machine (a software hart on a QEMU-compatible\n"
            "'virt' board).\n"
            "\n"
            "  --elf FILE        load a bare-metal ELF executable at its link addresses\n"
            "                    (RAM starts at 0x80000000) and start it in M-mode; a\n"
            "                    write to its 'tohost' symbol ends the run (riscv-tests\n"
            "                    convention: 1 = pass, exit status 0; (n << 1) | 1 = test n\n"
            "                    failed, exit status n)\n"
            "  --mem MIB         guest RAM in MiB (default 128)\n"
            "  --max-insns N     stop with an error after N instructions (default: no limit)\n"
            "  -v, --verbose     print what the VMM does (repeat for more)\n"
            "  -h, --help        show this help\n"
            "  --version         show the version\n"
            "\n"
            "Exit status: the guest's (0 on pass/poweroff), %d for usage errors, %d when\n"
            "--max-insns is reached, %d when the VM cannot be set up.\n",
            EXIT_USAGE, EXIT_LIMIT, EXIT_SETUP);
}

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!*s || *s == '-') return false;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || *end) return false;
    *out = v;
    return true;
}

static int parse_options(int argc, char **argv, struct options *o)
{
    enum { OPT_ELF = 256, OPT_MEM, OPT_MAX_INSNS, OPT_VERSION };
    static const struct option longopts[] = {
        {"elf", required_argument, NULL, OPT_ELF},
        {"mem", required_argument, NULL, OPT_MEM},
        {"max-insns", required_argument, NULL, OPT_MAX_INSNS},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    *o = (struct options){.mem_mib = 128, .cpus = 1};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_ELF: o->elf = optarg; break;
        case OPT_MEM:
            if (!parse_u64(optarg, &o->mem_mib) || o->mem_mib < 1 || o->mem_mib > 65536) {
                log_error("--mem %s: give the guest RAM size in MiB, from 1 to 65536", optarg);
                return -1;
            }
            break;
        case OPT_MAX_INSNS:
            if (!parse_u64(optarg, &o->max_insns) || o->max_insns == 0) {
                log_error("--max-insns %s: give a positive number of instructions", optarg);
                return -1;
            }
            break;
        case 'v': o->verbose++; break;
        case 'h': usage(stdout); exit(0);
        case OPT_VERSION: printf("kumo-vmm %s\n", KUMO_VERSION); exit(0);
        case '?':
        default:
            if (optopt >= OPT_ELF)
                log_error("option %s needs a value (see --help)", argv[optind - 1]);
            else if (optopt)
                log_error("unknown option -%c (see --help)", optopt);
            else
                log_error("unknown option %s (see --help)", argv[optind - 1]);
            return -1;
        }
    }
    if (optind < argc) {
        log_error("unexpected argument '%s' (see --help)", argv[optind]);
        return -1;
    }
    if (!o->elf) {
        log_error("nothing to run: give --elf FILE (see --help)");
        return -1;
    }
    return 0;
}

struct load_ctx {
    struct machine *m;
};

static int load_segment(void *ctx, uint64_t pa, const uint8_t *src, uint64_t filesz,
                        uint64_t memsz, char *err, size_t errlen)
{
    struct machine *m = ((struct load_ctx *)ctx)->m;
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

static int load_elf(struct machine *m, const char *path, struct elf_info *info)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        log_error("cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        log_error("%s is not a regular file", path);
        close(fd);
        return -1;
    }
    if (st.st_size == 0) {
        log_error("%s is empty: not an ELF file", path);
        close(fd);
        return -1;
    }
    void *data = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (data == MAP_FAILED) {
        log_error("cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    char err[256];
    struct load_ctx ctx = {m};
    int rc = elf_parse(data, (size_t)st.st_size, load_segment, &ctx, info, err, sizeof(err));
    munmap(data, (size_t)st.st_size);
    if (rc < 0) {
        log_error("%s: %s", path, err);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    log_init(argv[0], LOG_WARN);
    struct options o;
    if (parse_options(argc, argv, &o) < 0) return EXIT_USAGE;
    if (o.verbose) log_current_level = o.verbose > 1 ? LOG_DEBUG : LOG_INFO;

    struct virt_config cfg = {.ram_size = o.mem_mib << 20, .ncpus = o.cpus};
    struct machine *m = virt_create(&cfg);
    if (!m) return EXIT_SETUP;

    struct elf_info info;
    if (load_elf(m, o.elf, &info) < 0) {
        machine_free(m);
        return EXIT_SETUP;
    }
    if (info.tohost) {
        if (htif_attach(m, info.tohost, info.fromhost) < 0) {
            machine_free(m);
            return EXIT_SETUP;
        }
    } else {
        log_warn("%s has no 'tohost' symbol: the program cannot signal its end, so it runs "
                 "until --max-insns or forever", o.elf);
    }
    log_info("loaded %s, entry %#" PRIx64, o.elf, info.entry);

    struct hart *h = m->harts[0];
    hart_reset(h, info.entry);
    h->max_insns = o.max_insns;
    enum hart_exit why = hart_run(h);

    int status;
    if (why == HART_EXIT_INSN_LIMIT) {
        log_error("the guest did not finish within --max-insns %" PRIu64 " instructions "
                  "(pc %#" PRIx64 ", privilege %d)",
                  o.max_insns, h->pc, h->priv);
        status = EXIT_LIMIT;
    } else {
        status = m->exit_code;
    }
    log_info("%" PRIu64 " instructions retired", h->instret);
    machine_free(m);
    return status;
}
