/*
 * main.c - kumod, kumo's control plane daemon: command line, data
 * directory (one kumod per directory, by lock file), first-start setup
 * (token, host, size catalog, default image), recovery of running VMs, then
 * the API until SIGTERM/SIGINT. Stopping kumod leaves the VMs running; the
 * next kumod re-adopts them.
 */
#include "cloud/api.h"
#include "cloud/arm/arm.h"
#include "cloud/catalog.h"
#include "cloud/cluster/cluster.h"
#include "cloud/db.h"
#include "cloud/diskops.h"
#include "cloud/guestprov.h"
#include "cloud/http.h"
#include "cloud/jobs.h"
#include "cloud/kumod.h"
#include "cloud/lb.h"
#include "cloud/metrics.h"
#include "cloud/netplane.h"
#include "cloud/paths.h"
#include "cloud/portal/portal.h"
#include "cloud/runcmd.h"
#include "cloud/supervisor.h"
#include "cloud/timefmt.h"
#include "cloud/token.h"
#include "cloud/vmops.h"
#include "cloud/vmss.h"
#include "lib/locate.h"
#include "lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef KUMO_VERSION
#define KUMO_VERSION "0.1.0"
#endif

#define RUN_WORKERS 4 /* run commands at once, host-wide */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: kumod [--data-dir DIR] [--listen-tcp 127.0.0.1:PORT] [options]\n"
            "\n"
            "kumo's control plane: the REST API of docs/api.md on DIR/kumod.sock (and on a\n"
            "loopback TCP port), state in DIR/kumod.db, one kumo-vmm per running VM.\n"
            "\n"
            "  --data-dir DIR          state, images, disks and VM logs (default:\n"
            "                          $XDG_STATE_HOME/kumo, ~/.local/state/kumo, or\n"
            "                          /var/lib/kumo for root)\n"
            "  --listen-tcp ADDR:PORT  also serve on a loopback TCP address\n"
            "  --arm ADDR:PORT         serve the Azure Resource Manager API over HTTPS there\n"
            "                          (for the az CLI; docs/azure.md)\n"
            "  --vmm PATH              the kumo-vmm binary (default: next to kumod, else PATH)\n"
            "  --switch PATH|none      kumo-switch for virtual networks (default: next to\n"
            "                          kumod, in the build tree, else PATH); none: each VM's\n"
            "                          first NIC on kumo-vmm's user-mode NAT\n"
            "  --guest-dir DIR         where the default image comes from at first start\n"
            "                          (Image + rootfs.ext4; default: guest/build.sh's cache)\n"
            "  --debian-image FILE|none the Debian 13 image registered as debian-13 at start\n"
            "                          (default: guest/debian/build.sh's newest cache entry;\n"
            "                          none: not registered)\n"
            "  --host-cpus N           cores this host offers (default: online CPUs)\n"
            "  --host-memory-mib N     memory this host offers (default: MemTotal)\n"
            "  --reserved-memory-mib N memory kept for the host (default: 1/10, >= 512)\n"
            "  --cpu-ratio R           CPU allocation ratio (default 4.0)\n"
            "  --ram-ratio R           RAM allocation ratio (default 1.0)\n"
            "  --public-address IP     address public IPs map on (default 127.0.0.1)\n"
            "  --public-ports LO-HI    host ports for public IPs (default 20000-29999)\n"
            "  --max-body BYTES        request body limit (default 1048576)\n"
            "  --metrics-interval S    seconds between VM samples (default 10)\n"
            "  --metrics-retention S   seconds samples are kept (default 86400)\n"
            "  --shutdown-timeout S    seconds stop, deallocate and restart wait for the guest\n"
            "                          to shut down when asked, before powering it off\n"
            "                          (default 30; 0: power off at once)\n"
            "  --stop-timeout S        seconds before a stopping VM is killed (default 30)\n"
            "  --workers N             threads for long operations (default 4)\n"
            "  --autoscale-interval S  seconds between autoscale evaluations (default 30)\n"
            "  --import-dir DIR        where image imports may come from (default DATA/import):\n"
            "                          regular files beneath it, no symbolic links\n"
            "  --import-max-gib N      largest image file and virtual size (default 64)\n"
            "  --vmm-uids LO-HI        uids kumo-vmm processes drop to, one per VM, when kumod\n"
            "                          runs as root; LO is also their shared group (default\n"
            "                          300000-399999; use ids no user or service has)\n"
            "  --provisioning-timeout S seconds a new VM's guest has to report that its\n"
            "                          provisioning is done, before the VM is Failed\n"
            "                          (OSProvisioningTimedOut; default 1200, as Azure)\n"
            "  --no-portal             do not serve the web portal (docs/portal.md) at /portal/\n"
            "  --portal-origin URL     the portal's address when a proxy serves it\n"
            "                          (https://kumo.example): its requests are accepted\n"
            "\n"
            "Cluster mode (several hosts, one region; docs/cluster.md):\n"
            "  --cluster etcd=URL[,URL...]  keep the state in etcd (its members' client URLs)\n"
            "  --host-name NAME        this host's name in the cluster (default: hostname)\n"
            "  --underlay IP           this host's address for VXLAN between the hosts'\n"
            "                          switches (required with --cluster)\n"
            "  --shared-dir DIR        images, disks and snapshots on storage every host\n"
            "                          mounts (VMs of a failed host restart elsewhere)\n"
            "  --cluster-ttl S         seconds a silent host is counted alive (default 5)\n"
            "  -v, --verbose           more log output\n"
            "  -h, --help, --version\n"
            "\n"
            "The API token is DIR/token (created at first start, mode 0600).\n");
}

static bool num(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || !*s || v < lo || v > hi) return false;
    *out = v;
    return true;
}

static bool real(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !*s || !(v >= lo && v <= hi)) return false;
    *out = v;
    return true;
}

static int parse(int argc, char **argv, struct kumod_config *c)
{
    enum {
        O_DATA = 256,
        O_TCP,
        O_VMM,
        O_GUEST,
        O_CPUS,
        O_MEM,
        O_RES,
        O_CPUR,
        O_RAMR,
        O_PUBADDR,
        O_PORTS,
        O_BODY,
        O_MINT,
        O_MRET,
        O_STOP,
        O_SHUTDOWN,
        O_WORKERS,
        O_ASINT,
        O_VERSION,
        O_SWITCH,
        O_ARM,
        O_UIDS,
        O_IMPDIR,
        O_IMPMAX,
        O_CLUSTER,
        O_HOSTNAME,
        O_UNDERLAY,
        O_SHARED,
        O_CTTL,
        O_NOPORTAL,
        O_PORIGIN,
        O_DEBIAN,
        O_PROVTO
    };
    static const struct option opts[] = {
        {"data-dir", required_argument, NULL, O_DATA},
        {"listen-tcp", required_argument, NULL, O_TCP},
        {"arm", required_argument, NULL, O_ARM},
        {"vmm", required_argument, NULL, O_VMM},
        {"switch", required_argument, NULL, O_SWITCH},
        {"guest-dir", required_argument, NULL, O_GUEST},
        {"debian-image", required_argument, NULL, O_DEBIAN},
        {"provisioning-timeout", required_argument, NULL, O_PROVTO},
        {"host-cpus", required_argument, NULL, O_CPUS},
        {"host-memory-mib", required_argument, NULL, O_MEM},
        {"reserved-memory-mib", required_argument, NULL, O_RES},
        {"cpu-ratio", required_argument, NULL, O_CPUR},
        {"ram-ratio", required_argument, NULL, O_RAMR},
        {"public-address", required_argument, NULL, O_PUBADDR},
        {"public-ports", required_argument, NULL, O_PORTS},
        {"max-body", required_argument, NULL, O_BODY},
        {"metrics-interval", required_argument, NULL, O_MINT},
        {"metrics-retention", required_argument, NULL, O_MRET},
        {"stop-timeout", required_argument, NULL, O_STOP},
        {"shutdown-timeout", required_argument, NULL, O_SHUTDOWN},
        {"workers", required_argument, NULL, O_WORKERS},
        {"autoscale-interval", required_argument, NULL, O_ASINT},
        {"vmm-uids", required_argument, NULL, O_UIDS},
        {"import-dir", required_argument, NULL, O_IMPDIR},
        {"import-max-gib", required_argument, NULL, O_IMPMAX},
        {"cluster", required_argument, NULL, O_CLUSTER},
        {"host-name", required_argument, NULL, O_HOSTNAME},
        {"underlay", required_argument, NULL, O_UNDERLAY},
        {"shared-dir", required_argument, NULL, O_SHARED},
        {"cluster-ttl", required_argument, NULL, O_CTTL},
        {"no-portal", no_argument, NULL, O_NOPORTAL},
        {"portal-origin", required_argument, NULL, O_PORIGIN},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, O_VERSION},
        {NULL, 0, NULL, 0},
    };
    *c = (struct kumod_config){.host_cpus = -1,
                               .host_mem_mib = -1,
                               .reserved_mib = -1,
                               .cpu_ratio = -1,
                               .ram_ratio = -1,
                               .max_body = 1 << 20,
                               .metrics_interval = 10,
                               .metrics_retention = 86400,
                               .port_lo = 20000,
                               .port_hi = 29999,
                               .stop_timeout = 30,
                               .workers = 4,
                               .shutdown_timeout = 30,
                               .autoscale_interval = 30,
                               .vmm_uid_lo = 300000,
                               .vmm_uid_hi = 399999,
                               .import_max_gib = 64,
                               .provisioning_timeout = 1200,
                               .portal = true};
    snprintf(c->public_address, sizeof(c->public_address), "127.0.0.1");
    int o;
    long v;
    opterr = 0;
    while ((o = getopt_long(argc, argv, ":vh", opts, NULL)) != -1) {
        switch (o) {
        case O_DATA: snprintf(c->data_dir, sizeof(c->data_dir), "%s", optarg); break;
        case O_TCP: snprintf(c->listen_tcp, sizeof(c->listen_tcp), "%s", optarg); break;
        case O_ARM: snprintf(c->arm_listen, sizeof(c->arm_listen), "%s", optarg); break;
        case O_VMM: snprintf(c->vmm_path, sizeof(c->vmm_path), "%s", optarg); break;
        case O_SWITCH: snprintf(c->switch_path, sizeof(c->switch_path), "%s", optarg); break;
        case O_GUEST: snprintf(c->guest_dir, sizeof(c->guest_dir), "%s", optarg); break;
        case O_DEBIAN: snprintf(c->debian_image, sizeof(c->debian_image), "%s", optarg); break;
        case O_PROVTO:
            if (!num(optarg, 1, 86400, &v)) goto bad;
            c->provisioning_timeout = (int)v;
            break;
        case O_CPUS:
            if (!num(optarg, 1, 4096, &c->host_cpus)) goto bad;
            break;
        case O_MEM:
            if (!num(optarg, 64, 16777216, &c->host_mem_mib)) goto bad;
            break;
        case O_RES:
            if (!num(optarg, 0, 16777216, &c->reserved_mib)) goto bad;
            break;
        case O_CPUR:
            if (!real(optarg, 0.1, 64, &c->cpu_ratio)) goto bad;
            break;
        case O_RAMR:
            if (!real(optarg, 0.1, 4, &c->ram_ratio)) goto bad;
            break;
        case O_PUBADDR: snprintf(c->public_address, sizeof(c->public_address), "%s", optarg); break;
        case O_IMPDIR: snprintf(c->import_dir, sizeof(c->import_dir), "%s", optarg); break;
        case O_IMPMAX:
            if (!num(optarg, 1, 65536, &c->import_max_gib)) goto bad;
            break;
        case O_UIDS: {
            long lo, hi;
            char buf[64], *dash;
            snprintf(buf, sizeof(buf), "%s", optarg);
            dash = strchr(buf, '-');
            if (!dash) goto bad;
            *dash = 0;
            if (!num(buf, 1000, 2000000000L, &lo) || !num(dash + 1, lo, 2000000000L, &hi)) goto bad;
            c->vmm_uid_lo = lo;
            c->vmm_uid_hi = hi;
            break;
        }
        case O_PORTS: {
            long lo, hi;
            char buf[64], *dash;
            snprintf(buf, sizeof(buf), "%s", optarg);
            dash = strchr(buf, '-');
            if (!dash) goto bad;
            *dash = 0;
            if (!num(buf, 1024, 65535, &lo) || !num(dash + 1, lo, 65535, &hi)) goto bad;
            c->port_lo = (int)lo;
            c->port_hi = (int)hi;
            break;
        }
        case O_BODY:
            if (!num(optarg, 1024, 1 << 30, &v)) goto bad;
            c->max_body = (size_t)v;
            break;
        case O_MINT:
            if (!num(optarg, 1, 3600, &v)) goto bad;
            c->metrics_interval = (int)v;
            break;
        case O_MRET:
            if (!num(optarg, 60, 365L * 86400, &v)) goto bad;
            c->metrics_retention = (int)v;
            break;
        case O_STOP:
            if (!num(optarg, 1, 3600, &v)) goto bad;
            c->stop_timeout = (int)v;
            break;
        case O_ASINT:
            if (!num(optarg, 1, 3600, &v)) goto bad;
            c->autoscale_interval = (int)v;
            break;
        case O_SHUTDOWN:
            if (!num(optarg, 0, 3600, &v)) goto bad;
            c->shutdown_timeout = (int)v;
            break;
        case O_WORKERS:
            if (!num(optarg, 1, 64, &v)) goto bad;
            c->workers = (int)v;
            break;
        case O_CLUSTER:
            if (strncmp(optarg, "etcd=", 5) != 0 || !optarg[5]) {
                fprintf(stderr, "kumod: --cluster %s: give etcd=URL[,URL...], the etcd members' "
                                "client URLs (http://HOST:2379)\n",
                        optarg);
                return -1;
            }
            snprintf(c->cluster, sizeof(c->cluster), "%s", optarg + 5);
            break;
        case O_HOSTNAME:
            if (!*optarg || strlen(optarg) >= sizeof(c->host_name) || strchr(optarg, '/')) goto bad;
            snprintf(c->host_name, sizeof(c->host_name), "%s", optarg);
            break;
        case O_UNDERLAY: snprintf(c->underlay, sizeof(c->underlay), "%s", optarg); break;
        case O_SHARED: snprintf(c->shared_dir, sizeof(c->shared_dir), "%s", optarg); break;
        case O_CTTL:
            if (!num(optarg, 2, 600, &v)) goto bad;
            c->cluster_ttl = (int)v;
            break;
        case O_NOPORTAL: c->portal = false; break;
        case O_PORIGIN:
            if (strncmp(optarg, "http://", 7) && strncmp(optarg, "https://", 8)) goto bad;
            snprintf(c->portal_origin, sizeof(c->portal_origin), "%s", optarg);
            break;
        case 'v': c->verbose++; break;
        case 'h': usage(stdout); exit(0);
        case O_VERSION: printf("kumod %s\n", KUMO_VERSION); exit(0);
        case ':':
            fprintf(stderr, "kumod: %s needs a value (see --help)\n", argv[optind - 1]);
            return -1;
        default:
            fprintf(stderr, "kumod: unknown option %s (see --help)\n", argv[optind - 1]);
            return -1;
        }
        continue;
    bad:
        fprintf(stderr, "kumod: %s %s: bad value (see --help)\n", argv[optind - 2], optarg);
        return -1;
    }
    if (optind < argc) {
        fprintf(stderr, "kumod: unexpected argument '%s' (see --help)\n", argv[optind]);
        return -1;
    }
    if (c->cluster[0] && !c->underlay[0]) {
        fprintf(stderr, "kumod: --cluster needs --underlay IP, this host's address the other "
                        "hosts' switches reach for VXLAN\n");
        return -1;
    }
    if (!c->cluster[0] && (c->underlay[0] || c->shared_dir[0] || c->host_name[0])) {
        fprintf(stderr, "kumod: --underlay, --shared-dir and --host-name are for cluster mode "
                        "(--cluster etcd=URL,...)\n");
        return -1;
    }
    return 0;
}

/* kumo-vmm: --vmm, else next to this executable (or at the build tree's
 * top when kumod is build/src/cloud/kumod), else on PATH. */
static int find_vmm(struct kumod_config *c)
{
    if (c->vmm_path[0]) return access(c->vmm_path, X_OK);
    static const char *const rel[] = {"../..", NULL};
    if (kumo_find_program("kumo-vmm", rel, c->vmm_path, sizeof(c->vmm_path))) return 0;
    c->vmm_path[0] = 0;
    return -1;
}

/* Does kumo-vmm --help mention --control? */
static bool vmm_has_control(const char *vmm)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) return false;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) dup2(null, 2);
        execl(vmm, vmm, "--help", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    char buf[16384];
    size_t got = 0;
    ssize_t n;
    while (pid > 0 && got < sizeof(buf) - 1 &&
           (n = read(fds[0], buf + got, sizeof(buf) - 1 - got)) > 0)
        got += (size_t)n;
    buf[got] = 0;
    close(fds[0]);
    if (pid > 0) waitpid(pid, NULL, 0);
    return strstr(buf, "--control") != NULL;
}

static int64_t mem_total_mib(void)
{
    FILE *f = fopen("/proc/meminfo", "re");
    long long kb = 0;
    char line[256];
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "MemTotal: %lld kB", &kb) == 1) break;
    if (f) fclose(f);
    return kb > 0 ? kb / 1024 : 1024;
}

/* Sizes and the host at first start; command-line overrides at every start. */
static int seed(struct kumod *k, char *err, size_t errlen)
{
    struct db *db = k->db;
    struct kumod_config *c = &k->cfg;
    if (db_begin(db) < 0) goto fail;
    if (db_int(db, NULL, 0, "SELECT count(*) FROM sizes", "") == 0) {
        size_t n;
        const struct catalog_size *s = catalog_sizes(&n);
        for (size_t i = 0; i < n; i++) {
            char burst[256];
            snprintf(burst, sizeof(burst),
                     "{\"baselinePercent\":%g,\"initialCredits\":%d,\"creditsPerHour\":%d,"
                     "\"maxCredits\":%d}",
                     s[i].baseline_pct, s[i].initial_credits, s[i].credits_per_hour,
                     s[i].max_credits);
            if (db_exec(db,
                        "INSERT INTO sizes (name, family, vcpus, mem_mib, max_data_disks, max_iops,"
                        " price_hour, burst, builtin, created_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
                        "1, ?)",
                        "ttiiiidti", s[i].name, s[i].family, (int64_t)s[i].vcpus,
                        (int64_t)s[i].mem_mib, (int64_t)s[i].max_data_disks, (int64_t)s[i].max_iops,
                        s[i].price_hour, s[i].baseline_pct > 0 ? burst : NULL, time_now_ms()) < 0)
                goto fail;
        }
    }
    if (k->clustered) { /* this host's row, by its name */
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        int64_t mem = mem_total_mib();
        int64_t res = mem / 10 > 512 ? mem / 10 : 512;
        if (db_int(db, NULL, 0, "SELECT count(*) FROM hosts WHERE name = ?", "t", k->host_name) ==
                0 &&
            db_exec(db,
                    "INSERT INTO hosts (name, location, cpus, mem_mib, cpu_ratio, ram_ratio,"
                    " reserved_mib, created_ms) VALUES (?, 'local', ?, ?, 4.0, 1.0, ?, ?)",
                    "tiiii", k->host_name, (int64_t)(cpus > 0 ? cpus : 1), mem, res,
                    time_now_ms()) < 0)
            goto fail;
        if (db_exec(db,
                    "UPDATE hosts SET address = ?, public_address = ?, shared_storage = ?"
                    " WHERE name = ?",
                    "ttit", c->underlay, c->public_address, (int64_t)(c->shared_dir[0] != 0),
                    k->host_name) < 0)
            goto fail;
    } else if (db_int(db, NULL, 0, "SELECT count(*) FROM hosts", "") == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        int64_t mem = mem_total_mib();
        int64_t res = mem / 10 > 512 ? mem / 10 : 512;
        if (db_exec(db,
                    "INSERT INTO hosts (name, location, cpus, mem_mib, cpu_ratio, ram_ratio,"
                    " reserved_mib, created_ms) VALUES (?, 'local', ?, ?, 4.0, 1.0, ?, ?)",
                    "tiiii", k->host_name, (int64_t)(cpus > 0 ? cpus : 1), mem, res,
                    time_now_ms()) < 0)
            goto fail;
    } else {
        db_text(db, k->host_name, sizeof(k->host_name),
                "SELECT name FROM hosts ORDER BY id LIMIT 1", "");
    }
    k->host_id = db_int(db, NULL, 0, "SELECT id FROM hosts WHERE name = ?", "t", k->host_name);
    int64_t h = k->host_id;
    if ((c->host_cpus > 0 &&
         db_exec(db, "UPDATE hosts SET cpus = ? WHERE id = ?", "ii", (int64_t)c->host_cpus, h) <
             0) ||
        (c->host_mem_mib > 0 && db_exec(db, "UPDATE hosts SET mem_mib = ? WHERE id = ?", "ii",
                                        (int64_t)c->host_mem_mib, h) < 0) ||
        (c->reserved_mib >= 0 && db_exec(db, "UPDATE hosts SET reserved_mib = ? WHERE id = ?",
                                         "ii", (int64_t)c->reserved_mib, h) < 0) ||
        (c->cpu_ratio > 0 &&
         db_exec(db, "UPDATE hosts SET cpu_ratio = ? WHERE id = ?", "di", c->cpu_ratio, h) < 0) ||
        (c->ram_ratio > 0 &&
         db_exec(db, "UPDATE hosts SET ram_ratio = ? WHERE id = ?", "di", c->ram_ratio, h) < 0))
        goto fail;
    /* a reserve larger than the memory would make the capacity negative */
    if (db_exec(db, "UPDATE hosts SET reserved_mib = mem_mib WHERE reserved_mib > mem_mib", "") < 0)
        goto fail;
    if (db_commit(db) < 0) goto fail;
    return 0;
fail:
    snprintf(err, errlen, "first-start setup: %s", db_errmsg(db));
    db_rollback(db);
    return -1;
}

int main(int argc, char **argv)
{
    static struct kumod k;
    if (parse(argc, argv, &k.cfg) < 0) return 2;
    kumod_crash_point("start"); /* reads KUMO_CRASH_AT while single-threaded */
    log_init("kumod", k.cfg.verbose ? LOG_DEBUG : LOG_INFO);
    umask(077); /* the database, disks and logs are the tenants' */
    /* every connection is a descriptor (http.h holds thousands), every VM a
     * few: as many as the hard limit allows */
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        setrlimit(RLIMIT_NOFILE, &nofile);
    }
    struct kumod_config *c = &k.cfg;
    if (!c->data_dir[0]) kumo_default_data_dir(c->data_dir, sizeof(c->data_dir));
    if (path_mkdirs(c->data_dir) < 0) {
        log_error("%s: %s", c->data_dir, strerror(errno));
        return 1;
    }
    char abs[PATH_MAX];
    if (!realpath(c->data_dir, abs)) {
        log_error("%s: %s", c->data_dir, strerror(errno));
        return 1;
    }
    if (strlen(abs) >= 2048) {
        log_error("%s: the data directory's path is too long (2047 bytes at most)", abs);
        return 1;
    }
    memcpy(c->data_dir, abs, strlen(abs) + 1);
    static const char *const subdirs[] = {"images", "disks", "snapshots", "vms", "import"};
    for (size_t i = 0; i < 5; i++) {
        char p[PATH_MAX];
        if (path_mkdirs(path_in_data(&k, p, subdirs[i])) < 0) {
            log_error("%s: %s", p, strerror(errno));
            return 1;
        }
    }
    if (!c->import_dir[0]) path_in_data(&k, c->import_dir, "import");
    {
        /* as given or made absolute: what paths in requests are compared with */
        char real[PATH_MAX];
        if (!realpath(c->import_dir, real)) {
            log_error("--import-dir %s: %s", c->import_dir, strerror(errno));
            return 1;
        }
        if (strlen(real) >= sizeof(c->import_dir)) {
            log_error("--import-dir %s: the path is too long", real);
            return 1;
        }
        memcpy(c->import_dir, real, strlen(real) + 1);
    }
    char p[PATH_MAX], err[1024];
    int lock_fd = open(path_in_data(&k, p, "kumod.lock"), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock_fd < 0 || flock(lock_fd, LOCK_EX | LOCK_NB) < 0) {
        char other[32] = "?";
        if (lock_fd >= 0) {
            ssize_t n = pread(lock_fd, other, sizeof(other) - 1, 0);
            other[n > 0 ? n : 0] = 0;
            other[strcspn(other, "\n")] = 0;
        }
        log_error("%s is in use by another kumod (pid %s): one kumod per data directory",
                  c->data_dir, other);
        return 1;
    }
    char pidline[32];
    int pl = snprintf(pidline, sizeof(pidline), "%d\n", (int)getpid());
    if (ftruncate(lock_fd, 0) < 0 || pwrite(lock_fd, pidline, (size_t)pl, 0) < 0)
        log_warn("cannot write the pid to kumod.lock");

    if (find_vmm(c) < 0) {
        log_error("kumo-vmm not found (give --vmm PATH, or build it: scripts/build.sh)");
        return 1;
    }
    k.vmm_has_control = vmm_has_control(c->vmm_path);
    if (!k.vmm_has_control)
        log_warn("%s has no --control socket: metrics are not collected and VMs are stopped "
                 "with SIGTERM",
                 c->vmm_path);
    if (token_load(path_in_data(&k, p, "token"), k.token, err, sizeof(err)) < 0) {
        log_error("%s", err);
        return 1;
    }
    k.db = db_open(path_in_data(&k, p, "kumod.db"), err, sizeof(err));
    if (!k.db) {
        log_error("%s", err);
        return 1;
    }
    if (kumod_lock_init(&k) < 0) {
        log_error("cannot initialise the state lock");
        return 1;
    }
    if (c->host_name[0]) {
        snprintf(k.host_name, sizeof(k.host_name), "%s", c->host_name);
    } else if (gethostname(k.host_name, sizeof(k.host_name)) < 0 || !k.host_name[0]) {
        snprintf(k.host_name, sizeof(k.host_name), "localhost");
    }
    k.host_name[sizeof(k.host_name) - 1] = 0;
    atomic_store(&k.leader, !c->cluster[0]); /* a host alone leads itself */
    if (c->cluster[0]) {
        if (c->shared_dir[0]) {
            static const char *const shared[] = {"images", "disks", "snapshots"};
            for (size_t i = 0; i < 3; i++) {
                char sp[PATH_MAX];
                snprintf(sp, sizeof(sp), "%s/%s", c->shared_dir, shared[i]);
                if (path_mkdirs(sp) < 0) {
                    log_error("--shared-dir: %s: %s", sp, strerror(errno));
                    return 1;
                }
            }
        }
        if (!cluster_join(&k, err, sizeof(err))) {
            log_error("cluster: %s", err);
            return 1;
        }
    }
    if (seed(&k, err, sizeof(err)) < 0) {
        log_error("%s", err);
        return 1;
    }
    k.started_ms = time_now_ms();

    /* Every thread inherits this mask: the main thread alone takes the
     * signals, with sigwait. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    k.sup = supervisor_start(&k, err, sizeof(err));
    if (!k.sup) {
        log_error("%s", err);
        return 1;
    }
    static const job_fn job_kinds[JOB_KINDS] = {
        [JOB_VM] = vmops_run,
        [JOB_IMAGE] = diskops_import_image,
        [JOB_SNAPSHOT] = diskops_take_snapshot,
        [JOB_RUN] = runcmd_run,
    };
    k.jobs = jobs_start(&k, c->workers, job_kinds);
    /* run commands last as long as their scripts: threads of their own */
    k.run_jobs = jobs_start(&k, RUN_WORKERS, job_kinds);
    if (!k.jobs || !k.run_jobs) {
        log_error("cannot start the worker threads");
        return 1;
    }
    runcmd_recover(&k);
    diskops_register_builtin(&k);
    kumod_lock(&k);
    int net = netplane_start(&k);
    kumod_unlock(&k);
    if (net < 0) return 1;
    if (k.cluster && cluster_start(k.cluster, err, sizeof(err)) < 0) {
        log_error("cluster: %s", err);
        return 1;
    }
    k.lb = lb_start(&k); /* before the resumed operations: a delete drains through it */
    if (!k.lb) {
        log_error("cannot start the load balancer thread");
        return 1;
    }
    vmops_recover(&k);
    k.metrics = metrics_start(&k);
    k.gprov = guestprov_start(&k);
    if (!k.gprov) {
        log_error("cannot start the provisioning watcher thread");
        return 1;
    }
    k.vmss = vmss_start(&k);
    if (!k.vmss) {
        log_error("cannot start the scale set threads");
        return 1;
    }
    /* The ARM endpoint first: once the API socket answers, kumod is whole
     * (its certificates exist, its port listens). */
    struct arm *arm = arm_start(&k, err, sizeof(err));
    if (!arm) {
        log_error("%s", err);
        return 1;
    }
    if (c->portal) k.portal = portal_start(&k);
    k.http = http_start(path_in_data(&k, p, "kumod.sock"), c->listen_tcp, c->max_body,
                        portal_handle, portal_authorized, &k, err, sizeof(err));
    if (!k.http) {
        log_error("%s", err);
        return 1;
    }
    log_info("ready: %s%s%s (kumo-vmm %s, data %s)", p, c->listen_tcp[0] ? " and http://" : "",
             c->listen_tcp, c->vmm_path, c->data_dir);
    if (k.portal && c->listen_tcp[0]) log_info("web portal: http://%s/portal/", c->listen_tcp);

    int sig = 0;
    while (sigwait(&sigs, &sig) == 0 && sig == SIGHUP) {
    }
    log_info("stopping on signal %d (%s)", sig,
             k.cluster ? "its VMs stop: the cluster restarts them elsewhere" : "VMs keep running");
    atomic_store(&k.stopping, true);
    /* cluster mode: this host leaves; its VMs stop with it and the region
     * restarts them elsewhere (docs/cluster.md) */
    cluster_stop(k.cluster);
    kumod_lock(&k);
    kumod_changed(&k);
    kumod_unlock(&k);
    portal_quiesce(k.portal);
    arm_stop(arm);
    http_stop(k.http);
    portal_stop(k.portal);
    vmss_stop(k.vmss);
    metrics_stop(k.metrics);
    jobs_stop(k.run_jobs);
    guestprov_stop(k.gprov);
    jobs_stop(k.jobs);
    lb_stop(k.lb); /* after the jobs: a delete may be draining through it */
    supervisor_stop(k.sup);
    netplane_stop(&k);
    db_close(k.db);
    close(lock_fd);
    return 0;
}
