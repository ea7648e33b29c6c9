/*
 * main.c - kumo-vmm, the hypervisor process: parses the command line, builds
 * the virt board, loads the guest and runs its vCPUs until the guest powers
 * off, fails, or a limit is reached. A guest reboot builds a fresh machine.
 */
#include "cpu/hart.h"
#include "devices/console.h"
#include "devices/netdev.h"
#include "devices/virtio_console.h"
#include "lib/log.h"
#include "lib/threadrole.h"
#include "machine/boot.h"
#include "machine/machine.h"
#include "machine/virt.h"
#include "machine/vmstate.h"
#include "storage/disk.h"
#include "storage/ratelimit.h"
#include "vmm/control.h"
#include "vmm/migrate.h"
#include "vmm/cpuctl.h"
#include "vmm/sandbox.h"
#include "vmm/vcpu.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef KUMO_VERSION
#define KUMO_VERSION "0.1.0"
#endif

/* Exit statuses other than the guest's own (see docs/user-guide.md). */
enum { EXIT_USAGE = 2, EXIT_LIMIT = 124, EXIT_SETUP = 125 };

struct options {
    struct boot_config boot;
    uint64_t mem_mib;
    int cpus;
    bool cpus_given, mmu_given;
    int satp_mode;
    const char *restore; /* --restore FILE */
    const char *incoming; /* --incoming PATH */
    uint64_t max_insns;
    const char *console;
    const char *console_log;
    uint64_t log_limit_mib; /* --log-limit */
    const char *control;
    struct cpuctl_config cpu; /* --cpu-cap, --cpu-weight, --cpu-affinity */
    struct blk_config disks[VIRT_MAX_DISKS];
    int ndisks;
    struct net_config nics[VIRT_MAX_NICS];
    int nnics;
    int verbose;
    struct sandbox_config sandbox; /* --sandbox, --sandbox-uid, --sandbox-gid */
    bool sandbox_gid_given;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: kumo-vmm --kernel Image [--initrd FILE] [--append CMDLINE] [options]\n"
            "       kumo-vmm --bios FIRMWARE [--kernel Image] [options]\n"
            "       kumo-vmm --elf PROGRAM [options]\n"
            "\n"
            "Runs a RISC-V RV64GC virtual machine on a board compatible with QEMU's 'virt'.\n"
            "\n"
            "Boot:\n"
            "  --kernel FILE     Linux kernel Image (or raw S-mode binary) at RAM + 2 MiB;\n"
            "                    without --bios, kumo-vmm itself is the SBI firmware\n"
            "  --initrd FILE     initial ramdisk for the kernel\n"
            "  --append CMDLINE  kernel command line (default: \"console=ttyS0\")\n"
            "  --bios FILE       M-mode firmware (e.g. OpenSBI fw_jump.bin/fw_dynamic.bin)\n"
            "                    loaded at 0x80000000 and started from the reset vector\n"
            "  --elf FILE        bare-metal ELF program started in M-mode at its entry;\n"
            "                    a write to its 'tohost' symbol ends the run (1 = pass,\n"
            "                    exit 0; (n << 1) | 1 = test n failed, exit n)\n"
            "  --dump-dtb FILE   write the device tree to FILE and exit\n"
            "  --restore FILE    continue the VM saved in FILE (control socket 'save'):\n"
            "                    give the disks and NICs it was saved with; --mem,\n"
            "                    --cpus and --mmu default to its; boot options are\n"
            "                    used if the guest reboots (docs/vmstate.md)\n"
            "  --incoming PATH   wait on the unix socket PATH for a VM migrated from\n"
            "                    another kumo-vmm (control socket 'migrate') and run it:\n"
            "                    give the options the source was started with\n"
            "Devices:\n"
            "  --disk path=FILE[,format=raw|qcow2][,readonly=on][,serial=ID]\n"
            "         [,iops=N][,bps=N][,iops_max=N][,bps_max=N][,iops_max_length=S]\n"
            "         [,bps_max_length=S][,iops_burst=N][,bps_burst=N]\n"
            "         [,cache=readwrite|readonly|none][,queues=N]\n"
            "                    a virtio disk (up to %d; the first is /dev/vda); cache is\n"
            "                    the host page cache's use (readwrite: reads and writes;\n"
            "                    readonly: reads only, writes bypass it; none: O_DIRECT);\n"
            "                    queues: virtqueues (default one per vCPU); iops and\n"
            "                    bps cap operations and bytes per second; *_max is a burst\n"
            "                    rate that a full credit sustains for *_max_length seconds\n"
            "                    (earned back when idle); *_burst: one-time extra tokens\n"
            "  --net user[,hostfwd=tcp:[HOSTIP]:PORT-[GUESTIP]:PORT]...[,mac=MAC]\n"
            "                    a virtio NIC on user-mode NAT (guest 10.0.2.15, gateway\n"
            "                    10.0.2.2, DNS 10.0.2.3), with host port forwards\n"
            "  --net switch=SOCKET,nic=ID[,mac=MAC]\n"
            "                    a virtio NIC on a kumo-switch port (virtual networks)\n"
            "Machine:\n"
            "  --mem MIB         guest RAM in MiB (default 256; 128 with --elf)\n"
            "  --cpus N          number of vCPUs, 1 to %d (default 1)\n"
            "  --mmu MODE        largest paging mode: sv39, sv48 or sv57 (default sv57)\n"
            "  --console KIND    stdio (default), none, or socket:PATH\n"
            "  --console-log F   also append the console output to file F\n"
            "  --log-limit MIB   keep the console log under MIB MiB (its older half is\n"
            "                    dropped in place) and write at most MIB MiB of messages\n"
            "                    to stderr, errors excepted (default 4; 0: no limit)\n"
            "  --control PATH    JSON control socket: status and counters, stop, disk\n"
            "                    and CPU limits at run time (see docs/user-guide.md)\n"
            "  --cpu-cap PCT     hold each vCPU to PCT %% of one host core (1 to 100,\n"
            "                    e.g. 20 or 22.5; default 100: no cap)\n"
            "  --cpu-weight N    the VM's share of contended host CPUs, 1 to 10000\n"
            "                    (default 100; above 100 needs CAP_SYS_NICE)\n"
            "  --cpu-affinity L  run only on host CPUs L, e.g. 1 or 2-3,6\n"
            "  --max-insns N     stop with an error after N instructions per vCPU\n"
            "  --jit MODE        on: translate guest code to host code (the default on\n"
            "                    x86-64 hosts; also KUMO_JIT=on|off|check); off: the\n"
            "                    interpreter only; check: run translated code and the\n"
            "                    interpreter in lockstep, stop at the first difference\n"
            "Sandbox (see docs/security.md):\n"
            "  --sandbox on|off  confine the VMM once the guest starts (default on): its\n"
            "                    own uid, namespaces, a private root, rlimits, a cgroup,\n"
            "                    no_new_privs, Landlock and a seccomp allow-list\n"
            "  --sandbox-uid N   the uid to run as (root only; default 65534, nobody)\n"
            "  --sandbox-gid N   the gid to run as (default: the uid)\n"
            "  -v, --verbose     say what the VMM does (twice: more)\n"
            "  -h, --help        show this help;  --version  show the version\n"
            "\n"
            "On a terminal the console is in raw mode: Ctrl-A x quits, Ctrl-A h helps.\n"
            "Exit status: the guest's (0 on poweroff or pass; its failure code otherwise),\n"
            "%d for usage errors, %d when --max-insns is reached, %d when the VM cannot be\n"
            "set up, 123 when --jit check found a difference, 128+N when stopped by signal N.\n",
            VIRT_MAX_DISKS, MACHINE_MAX_HARTS, EXIT_USAGE, EXIT_LIMIT, EXIT_SETUP);
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

/* --disk path=F,format=...,readonly=on,serial=...,iops=N,bps=N,iops_max=N,...
 * (the limits: ratelimit_rates_set's names)
 * (a bare FILE is path=FILE). The strings point into the (writable) argv. */
static int parse_disk(char *spec, struct blk_config *d)
{
    *d = (struct blk_config){0};
    struct ratelimit_rates rates = {0};
    const char *orig = spec;
    for (char *save = NULL, *kv = strtok_r(spec, ",", &save); kv;
         kv = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq) {
            if (d->path) goto bad;
            d->path = kv;
            continue;
        }
        *eq = 0;
        const char *k = kv, *v = eq + 1;
        uint64_t n = 0;
        if (strcmp(k, "path") == 0 || strcmp(k, "file") == 0) {
            d->path = v;
        } else if (strcmp(k, "format") == 0) {
            if (strcmp(v, "raw") && strcmp(v, "qcow2")) {
                log_error("--disk %s: format=%s: use raw or qcow2", orig, v);
                return -1;
            }
            d->format = v;
        } else if (strcmp(k, "readonly") == 0) {
            if (strcmp(v, "on") && strcmp(v, "off")) {
                log_error("--disk: readonly=%s: use on or off", v);
                return -1;
            }
            d->readonly = strcmp(v, "on") == 0;
        } else if (strcmp(k, "serial") == 0) {
            d->serial = v;
        } else if (strcmp(k, "cache") == 0) {
            int c = disk_cache_parse(v);
            if (c < 0) {
                log_error("--disk %s: cache=%s: use none, readonly or readwrite", orig, v);
                return -1;
            }
            d->cache = (enum disk_cache)c;
        } else if (strcmp(k, "queues") == 0) {
            if (!parse_u64(v, &n) || n < 1 || n > 8) {
                log_error("--disk %s: queues=%s: give 1 to 8", orig, v);
                return -1;
            }
            d->num_queues = (unsigned)n;
        } else if (ratelimit_rates_set(&rates, k, 0) == 0) {
            if (!parse_u64(v, &n) || n == 0) {
                log_error("--disk: %s=%s: give a positive number", k, v);
                return -1;
            }
            ratelimit_rates_set(&rates, k, n);
        } else {
            log_error("--disk: unknown setting '%s' (see --help)", k);
            return -1;
        }
    }
    if (!d->path || !*d->path) goto bad;
    char err[160];
    if (ratelimit_rates_config(&rates, &d->limits, err, sizeof(err)) < 0) {
        log_error("--disk %s: %s", d->path, err);
        return -1;
    }
    return 0;
bad:
    log_error("--disk: give path=FILE (see --help)");
    return -1;
}

/* --net SPEC[,mac=MAC]: the MAC is ours; the rest goes to the back end. */
static int parse_net(char *spec, struct net_config *n, int index)
{
    /* 52:54:00 is the prefix QEMU and libvirt use for virtual NICs */
    uint8_t mac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, (uint8_t)(0x56 + index)};
    char *m = strstr(spec, ",mac=");
    if (m) {
        char *end = strchr(m + 5, ',');
        char val[32] = "";
        size_t len = end ? (size_t)(end - (m + 5)) : strlen(m + 5);
        if (len < sizeof(val)) memcpy(val, m + 5, len);
        if (!netdev_parse_mac(val, mac)) {
            log_error("--net: mac=%s is not a unicast MAC address like 52:54:00:12:34:56", val);
            return -1;
        }
        memmove(m, m + 5 + len, strlen(m + 5 + len) + 1); /* cut ",mac=..." out */
    }
    n->backend = spec;
    memcpy(n->mac, mac, 6);
    return 0;
}

static int parse_options(int argc, char **argv, struct options *o)
{
    enum {
        OPT_ELF = 256, OPT_KERNEL, OPT_INITRD, OPT_APPEND, OPT_BIOS, OPT_DUMP_DTB, OPT_MEM,
        OPT_CPUS, OPT_MMU, OPT_CONSOLE, OPT_CONSOLE_LOG, OPT_MAX_INSNS, OPT_VERSION, OPT_DISK,
        OPT_NET, OPT_CONTROL, OPT_CPU_CAP, OPT_CPU_WEIGHT, OPT_CPU_AFFINITY, OPT_JIT,
        OPT_SANDBOX, OPT_SANDBOX_UID, OPT_SANDBOX_GID, OPT_LOG_LIMIT, OPT_RESTORE,
        OPT_INCOMING
    };
    static const struct option longopts[] = {
        {"elf", required_argument, NULL, OPT_ELF},
        {"kernel", required_argument, NULL, OPT_KERNEL},
        {"initrd", required_argument, NULL, OPT_INITRD},
        {"append", required_argument, NULL, OPT_APPEND},
        {"bios", required_argument, NULL, OPT_BIOS},
        {"disk", required_argument, NULL, OPT_DISK},
        {"net", required_argument, NULL, OPT_NET},
        {"control", required_argument, NULL, OPT_CONTROL},
        {"cpu-cap", required_argument, NULL, OPT_CPU_CAP},
        {"cpu-weight", required_argument, NULL, OPT_CPU_WEIGHT},
        {"cpu-affinity", required_argument, NULL, OPT_CPU_AFFINITY},
        {"dump-dtb", required_argument, NULL, OPT_DUMP_DTB},
        {"restore", required_argument, NULL, OPT_RESTORE},
        {"incoming", required_argument, NULL, OPT_INCOMING},
        {"mem", required_argument, NULL, OPT_MEM},
        {"cpus", required_argument, NULL, OPT_CPUS},
        {"mmu", required_argument, NULL, OPT_MMU},
        {"console", required_argument, NULL, OPT_CONSOLE},
        {"console-log", required_argument, NULL, OPT_CONSOLE_LOG},
        {"log-limit", required_argument, NULL, OPT_LOG_LIMIT},
        {"max-insns", required_argument, NULL, OPT_MAX_INSNS},
        {"jit", required_argument, NULL, OPT_JIT},
        {"sandbox", required_argument, NULL, OPT_SANDBOX},
        {"sandbox-uid", required_argument, NULL, OPT_SANDBOX_UID},
        {"sandbox-gid", required_argument, NULL, OPT_SANDBOX_GID},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    *o = (struct options){.cpus = 1, .satp_mode = 10, .console = "stdio",
                          .log_limit_mib = CONSOLE_LOG_MAX_DEFAULT >> 20};
    o->cpu.weight = CPUCTL_WEIGHT_DEFAULT;
    o->sandbox.on = true;
    uint64_t v;
    int c;
    char err[256];
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":vh", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_ELF: o->boot.elf = optarg; break;
        case OPT_KERNEL: o->boot.kernel = optarg; break;
        case OPT_INITRD: o->boot.initrd = optarg; break;
        case OPT_APPEND: o->boot.append = optarg; break;
        case OPT_BIOS: o->boot.bios = optarg; break;
        case OPT_DISK:
            if (o->ndisks == VIRT_MAX_DISKS) {
                log_error("too many --disk options: at most %d", VIRT_MAX_DISKS);
                return -1;
            }
            if (parse_disk(optarg, &o->disks[o->ndisks++]) < 0) return -1;
            break;
        case OPT_NET:
            if (o->nnics == VIRT_MAX_NICS) {
                log_error("too many --net options: at most %d", VIRT_MAX_NICS);
                return -1;
            }
            if (parse_net(optarg, &o->nics[o->nnics], o->nnics) < 0) return -1;
            o->nnics++;
            break;
        case OPT_DUMP_DTB: o->boot.dump_dtb = optarg; break;
        case OPT_RESTORE: o->restore = optarg; break;
        case OPT_INCOMING: o->incoming = optarg; break;
        case OPT_MEM:
            if (!parse_u64(optarg, &o->mem_mib) || o->mem_mib < 1 || o->mem_mib > 65536) {
                log_error("--mem %s: give the guest RAM size in MiB, from 1 to 65536", optarg);
                return -1;
            }
            break;
        case OPT_CPUS:
            if (!parse_u64(optarg, &v) || v < 1 || v > MACHINE_MAX_HARTS) {
                log_error("--cpus %s: give a number of vCPUs from 1 to %d", optarg,
                          MACHINE_MAX_HARTS);
                return -1;
            }
            o->cpus = (int)v;
            o->cpus_given = true;
            break;
        case OPT_MMU:
            if (strcmp(optarg, "sv39") == 0) o->satp_mode = 8;
            else if (strcmp(optarg, "sv48") == 0) o->satp_mode = 9;
            else if (strcmp(optarg, "sv57") == 0) o->satp_mode = 10;
            else {
                log_error("--mmu %s: use sv39, sv48 or sv57", optarg);
                return -1;
            }
            o->mmu_given = true;
            break;
        case OPT_CONSOLE: o->console = optarg; break;
        case OPT_CONSOLE_LOG: o->console_log = optarg; break;
        case OPT_LOG_LIMIT:
            if (!parse_u64(optarg, &o->log_limit_mib) || o->log_limit_mib > 1u << 20) {
                log_error("--log-limit %s: give MiB from 0 (no limit) to 1048576", optarg);
                return -1;
            }
            break;
        case OPT_CONTROL: o->control = optarg; break;
        case OPT_CPU_CAP:
            if (!cpuctl_parse_cap(optarg, &o->cpu.cap_bp)) {
                log_error("--cpu-cap %s: give a percentage of one host core per vCPU, from 1 "
                          "to 100 (e.g. 20 or 22.5)",
                          optarg);
                return -1;
            }
            break;
        case OPT_CPU_WEIGHT:
            if (!parse_u64(optarg, &v) || v < 1 || v > CPUCTL_WEIGHT_MAX) {
                log_error("--cpu-weight %s: give a share from 1 to %d (default 100)", optarg,
                          CPUCTL_WEIGHT_MAX);
                return -1;
            }
            o->cpu.weight = (int)v;
            break;
        case OPT_CPU_AFFINITY:
            if (!cpuctl_parse_cpulist(optarg, &o->cpu.affinity, err, sizeof(err))) {
                log_error("--cpu-affinity: %s", err);
                return -1;
            }
            o->cpu.has_affinity = true;
            break;
        case OPT_MAX_INSNS:
            if (!parse_u64(optarg, &o->max_insns) || o->max_insns == 0) {
                log_error("--max-insns %s: give a positive number of instructions", optarg);
                return -1;
            }
            break;
        case OPT_JIT: {
            int mode = !strcmp(optarg, "off") ? 0 : !strcmp(optarg, "on") ? 1
                     : !strcmp(optarg, "check") ? 2 : -1;
            if (mode < 0) {
                log_error("--jit %s: give on, off or check", optarg);
                return -1;
            }
            if (!hart_set_jit_mode(mode)) return -1;
            break;
        }
        case OPT_SANDBOX:
            if (strcmp(optarg, "on") && strcmp(optarg, "off")) {
                log_error("--sandbox %s: use on or off", optarg);
                return -1;
            }
            o->sandbox.on = strcmp(optarg, "on") == 0;
            break;
        case OPT_SANDBOX_UID:
        case OPT_SANDBOX_GID:
            if (!parse_u64(optarg, &v) || v == 0 || v >= 0xffffffffu) {
                log_error("%s %s: give a numeric id other than 0",
                          c == OPT_SANDBOX_UID ? "--sandbox-uid" : "--sandbox-gid", optarg);
                return -1;
            }
            if (c == OPT_SANDBOX_UID) {
                o->sandbox.uid_given = true;
                o->sandbox.uid = (uid_t)v;
            } else {
                o->sandbox_gid_given = true;
                o->sandbox.gid = (gid_t)v;
            }
            break;
        case 'v': o->verbose++; break;
        case 'h': usage(stdout); exit(0);
        case OPT_VERSION: printf("kumo-vmm %s\n", KUMO_VERSION); exit(0);
        case ':': log_error("option %s needs a value (see --help)", argv[optind - 1]); return -1;
        default: log_error("unknown option %s (see --help)", argv[optind - 1]); return -1;
        }
    }
    if (optind < argc) {
        log_error("unexpected argument '%s' (see --help)", argv[optind]);
        return -1;
    }
    const struct boot_config *b = &o->boot;
    if (o->restore && (b->elf || b->dump_dtb)) {
        log_error("--restore continues a saved VM: drop --elf and --dump-dtb");
        return -1;
    }
    if (o->incoming && (o->restore || b->elf || b->dump_dtb)) {
        log_error("--incoming takes a VM migrated here: drop --restore, --elf and --dump-dtb");
        return -1;
    }
    if (!b->elf && !b->kernel && !b->bios && !o->restore && !o->incoming) {
        log_error("nothing to run: give --kernel, --bios or --elf (see --help)");
        return -1;
    }
    if (b->elf && (b->kernel || b->bios || b->initrd)) {
        log_error("--elf runs a bare-metal program on its own: drop --kernel/--bios/--initrd");
        return -1;
    }
    if ((b->initrd || b->append) && !b->kernel) {
        log_error("--initrd and --append need --kernel");
        return -1;
    }
    if (!o->mem_mib && !o->restore && !o->incoming) o->mem_mib = b->elf ? 128 : 256;
    if (!o->boot.append) o->boot.append = "console=ttyS0";
    if (o->sandbox_gid_given && !o->sandbox.uid_given) {
        log_error("--sandbox-gid needs --sandbox-uid");
        return -1;
    }
    if (!o->sandbox_gid_given) o->sandbox.gid = (gid_t)o->sandbox.uid;
    struct sandbox_config *sb = &o->sandbox;
    sb->on = sb->on && !b->dump_dtb;
    sb->jit = hart_jit_mode() != 0; /* the translator maps code buffers executable */
    sb->jit_bytes = sb->jit ? 2ull * (uint64_t)o->cpus * hart_jit_cache_bytes() : 0;
    sb->ram_bytes = o->mem_mib << 20;
    sb->ncpus = o->cpus;
    sb->ndisks = o->ndisks;
    sb->nnics = o->nnics;
    for (int k = 0; k < o->nnics; k++) sandbox_add_nic(sb, o->nics[k].backend);
    const char *files[] = {b->kernel, b->initrd, b->bios, b->elf};
    for (int k = 0; k < 4; k++)
        if (files[k]) sb->boot_files[sb->nboot++] = files[k];
    return 0;
}

/* Signals stop the guest cleanly (terminal restored, status 128 + signal). */
static struct machine *volatile current;
static void *signal_thread(void *arg)
{
    sigset_t *set = arg;
    for (;;) {
        int sig;
        if (sigwait(set, &sig) != 0) continue;
        thread_role(ROLE_SIGNALS);
        struct machine *m = current;
        if (m) {
            machine_stop(m, STOP_POWEROFF, 128 + sig);
        } else {
            exit(128 + sig);
        }
    }
    return NULL;
}

/* Listen on the unix socket path and take one connection: the source of
 * a migration. The descriptor, or -1 with a message in err. */
static int accept_migration(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(a.sun_path)) {
        snprintf(err, errlen, "%s: path too long", path);
        return -1;
    }
    strcpy(a.sun_path, path);
    int l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    unlink(path);
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 1) < 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(errno));
        if (l >= 0) close(l);
        return -1;
    }
    log_info("waiting on %s for the migrated VM", path);
    int fd;
    do {
        fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) snprintf(err, errlen, "accept on %s: %s", path, strerror(errno));
    close(l);
    unlink(path);
    return fd;
}

/* Load the saved state into m (just built, never run) and tell the guest
 * it was restored (docs/vmstate.md: what a restored guest is told). */
static int restore(struct machine *m, struct vmstate_file *state, const struct options *o)
{
    uint64_t t0 = machine_now_ns();
    char err[512];
    vmstate_quiesce(m, true);
    if (vmstate_load(state, m, err, sizeof(err)) < 0) {
        log_error("--restore %s: %s", o->restore, err);
        return -1;
    }
    vmstate_quiesce(m, false);
    if (m->agent) {
        /* a new generation: the guest reseeds its random numbers, sets its
         * clock, takes its NICs' addresses and renews its leases */
        uint8_t id[16];
        if (getrandom(id, sizeof(id), 0) != (ssize_t)sizeof(id)) memset(id, 0, sizeof(id));
        char msg[1024];
        int n = 0;
        if (o->boot.append)
            n += snprintf(msg + n, sizeof(msg) - (size_t)n, "cmdline %s\n", o->boot.append);
        if (n >= (int)sizeof(msg) - 200) n = 0; /* a command line too long to send */
        n += snprintf(msg + n, sizeof(msg) - (size_t)n, "restored genid=");
        for (int k = 0; k < 16; k++) n += snprintf(msg + n, sizeof(msg) - (size_t)n, "%02x", id[k]);
        /* the real time now (the guest's kernel may have no /dev/rtc to read) */
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        n += snprintf(msg + n, sizeof(msg) - (size_t)n, " time=%lld", (long long)now.tv_sec);
        for (int k = 0; k < o->nnics; k++) {
            const uint8_t *a = o->nics[k].mac;
            n += snprintf(msg + n, sizeof(msg) - (size_t)n, " eth%d=%02x:%02x:%02x:%02x:%02x:%02x",
                          k, a[0], a[1], a[2], a[3], a[4], a[5]);
        }
        n += snprintf(msg + n, sizeof(msg) - (size_t)n, "\n");
        if (virtio_console_send(m->agent, msg, (size_t)n) < 0)
            log_warn("the restored guest was not told of its restore (its channel is full)");
    }
    log_info("restored %s in %.1f ms", o->restore, (machine_now_ns() - t0) / 1e6);
    return 0;
}

int main(int argc, char **argv)
{
    log_init(argv[0], LOG_WARN);
    struct options o;
    if (parse_options(argc, argv, &o) < 0) return EXIT_USAGE;
    if (o.verbose) log_current_level = o.verbose > 1 ? LOG_DEBUG : LOG_INFO;
    umask(077); /* sockets and logs are the caller's alone */
    log_set_budget(o.log_limit_mib << 20);

    char err[256];
    /* namespaces need a single-threaded process: before anything starts */
    if (sandbox_prepare(&o.sandbox, err, sizeof(err)) < 0) {
        log_error("--sandbox: %s", err);
        return EXIT_USAGE;
    }

    static sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    pthread_t sig_thread;
    pthread_create(&sig_thread, NULL, signal_thread, &sigs);

    struct console *con = NULL;
    if (!o.boot.dump_dtb) {
        con = console_open(o.console, err, sizeof(err));
        if (!con) {
            log_error("--console: %s", err);
            return EXIT_USAGE;
        }
        if (o.console_log &&
            console_set_log(con, o.console_log, o.log_limit_mib << 20, err, sizeof(err)) < 0) {
            log_error("--console-log: %s", err);
            console_close(con);
            return EXIT_SETUP;
        }
    }
    struct cpuctl *cpu = NULL;
    if (!o.boot.dump_dtb) {
        cpu = cpuctl_new(o.cpus);
        if (!cpu) {
            console_close(con);
            return EXIT_SETUP;
        }
        if (cpuctl_set(cpu, &o.cpu, err, sizeof(err)) < 0) {
            log_error("--cpu-*: %s", err);
            cpuctl_free(cpu);
            console_close(con);
            return EXIT_SETUP;
        }
        if (o.cpu.weight != CPUCTL_WEIGHT_DEFAULT)
            log_info("CPU weight %d: nice %d on the %s", o.cpu.weight,
                     cpuctl_weight_to_nice(o.cpu.weight), cpuctl_weight_target(cpu));
    }
    struct control *ctl = NULL;
    if (o.control && !o.boot.dump_dtb) {
        ctl = control_open(o.control, cpu, err, sizeof(err));
        if (!ctl) {
            log_error("--control: %s", err);
            cpuctl_free(cpu);
            console_close(con);
            return EXIT_SETUP;
        }
    }
    struct vmstate_file *state = NULL;
    if (o.restore) {
        state = vmstate_open(o.restore, err, sizeof(err));
        if (!state) {
            log_error("--restore: %s", err);
            control_close(ctl);
            cpuctl_free(cpu);
            console_close(con);
            return EXIT_SETUP;
        }
        struct vmstate_info info;
        vmstate_get_info(state, &info);
        bool boots = o.boot.kernel || o.boot.bios;
        if (boots && info.builtin_sbi != (o.boot.kernel && !o.boot.bios)) {
            log_error("--restore %s: the VM was saved %s kumo-vmm's built-in SBI firmware; "
                      "give the boot options it was started with (%s)",
                      o.restore, info.builtin_sbi ? "with" : "without",
                      info.builtin_sbi ? "--kernel without --bios" : "--bios");
            vmstate_close(state);
            control_close(ctl);
            cpuctl_free(cpu);
            console_close(con);
            return EXIT_USAGE;
        }
        if (!o.mem_mib) o.mem_mib = info.ram_size >> 20;
        if (!o.cpus_given) o.cpus = info.ncpus;
        if (!o.mmu_given && info.satp_mode >= 8 && info.satp_mode <= 10)
            o.satp_mode = info.satp_mode;
        if (!boots) o.boot.append = NULL;
    }
    struct migrate_in *incoming = NULL;
    int incoming_fd = -1;
    if (o.incoming) {
        incoming_fd = accept_migration(o.incoming, err, sizeof(err));
        if (incoming_fd >= 0) {
            uint64_t t0 = machine_now_ns();
            incoming = migrate_receive(incoming_fd, o.mem_mib << 20, o.cpus_given ? o.cpus : 0,
                                       err, sizeof(err));
            if (incoming) {
                log_info("received the migrated VM's RAM in %.1f ms",
                         (machine_now_ns() - t0) / 1e6);
                if (!o.mem_mib) o.mem_mib = migrate_in_ram_size(incoming) >> 20;
                if (!o.cpus_given) o.cpus = migrate_in_ncpus(incoming);
            }
        }
        if (!incoming) {
            log_error("--incoming: %s", err);
            if (incoming_fd >= 0) close(incoming_fd);
            control_close(ctl);
            cpuctl_free(cpu);
            console_close(con);
            return EXIT_SETUP;
        }
    }
    struct virt_config cfg = {
        .ram_size = o.mem_mib << 20,
        .ncpus = o.cpus,
        .satp_mode = o.satp_mode,
        .builtin_sbi = o.boot.kernel && !o.boot.bios,
        /* (a restored VM's: vmstate_get_info; set below) */
        .console = con,
        .ndisks = o.ndisks,
        .nnics = o.nnics,
    };
    memcpy(cfg.disks, o.disks, sizeof(o.disks));
    memcpy(cfg.nics, o.nics, sizeof(o.nics));
    if (state) {
        struct vmstate_info info;
        vmstate_get_info(state, &info);
        cfg.builtin_sbi = info.builtin_sbi;
    }

    int status = EXIT_SETUP;
    bool console_started = false;
    for (;;) {
        struct machine *m = virt_create(&cfg);
        if (!m && incoming) {
            migrate_refuse(incoming_fd, "the destination could not build the machine (its log "
                                        "says why: a disk or NIC it could not open?)");
            migrate_in_free(incoming);
            close(incoming_fd);
        }
        if (!m) {
            status = EXIT_SETUP; /* also when a reboot cannot rebuild it */
            break;
        }
        for (int k = 0; k < m->nharts; k++) m->harts[k]->max_insns = o.max_insns;
        if (state) {
            if (restore(m, state, &o) < 0) {
                status = EXIT_SETUP;
                machine_free(m);
                vmstate_close(state);
                state = NULL;
                break;
            }
            vmstate_close(state);
            state = NULL;
        } else if (incoming) {
            int rc = migrate_finish(incoming, m, incoming_fd, err, sizeof(err));
            migrate_in_free(incoming);
            incoming = NULL;
            close(incoming_fd);
            incoming_fd = -1;
            if (rc < 0) {
                log_error("--incoming: %s", err);
                status = EXIT_SETUP;
                machine_free(m);
                break;
            }
            log_info("the migrated VM runs here");
        } else if ((o.restore || o.incoming) && !o.boot.kernel && !o.boot.bios && !o.boot.elf) {
            log_error("the restored or migrated guest rebooted, and kumo-vmm has no --kernel or "
                      "--bios to boot it with (give the boot options it was started with)");
            status = EXIT_SETUP;
            machine_free(m);
            break;
        } else if (boot_load(m, &cfg, &o.boot) < 0) {
            status = EXIT_SETUP;
            machine_free(m);
            break;
        }
        if (o.boot.dump_dtb) {
            machine_free(m);
            status = 0;
            break;
        }
        /* the first guest instruction runs sandboxed (vmm/sandbox.h) */
        if (!sandbox_active() && sandbox_activate(m, err, sizeof(err)) < 0) {
            log_error("sandbox: %s (or run with --sandbox off)", err);
            machine_free(m);
            break;
        }
        current = m;
        console_set_machine(con, m);
        control_set_machine(ctl, m);
        if (!console_started && con) {
            if (console_start(con) < 0) log_warn("console input is not available");
            console_started = true;
        }
        int why = vcpu_run_machine(m, cpu);
        console_set_machine(con, NULL);
        control_set_machine(ctl, NULL);
        current = NULL;
        status = m->exit_code;
        if (why == STOP_RESET) {
            log_info("guest reboot: starting a fresh machine");
            machine_free(m);
            continue;
        }
        uint64_t insns = 0;
        for (int k = 0; k < m->nharts; k++) insns += m->harts[k]->instret;
        log_info("%" PRIu64 " instructions retired", insns);
        machine_free(m);
        break;
    }
    control_close(ctl);
    cpuctl_free(cpu);
    console_close(con);
    return status;
}
