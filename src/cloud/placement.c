/*
 * placement.c - capacity arithmetic and host choice (see placement.h).
 */
#include "cloud/placement.h"

#include "cloud/db.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* floor() with a little slack for ratios such as 0.1 that binary floating
 * point cannot hold exactly (2 x 1.5 must be 3, not 2.9999...). */
static int64_t floor_product(int64_t a, double r)
{
    double v = (double)a * r;
    if (!(v > 0)) return 0;
    if (v > 9e15) return (int64_t)9e15;
    return (int64_t)floor(v + 1e-6);
}

static int64_t host_cores(const struct host_cap *h)
{
    return h->cpus < PLACEMENT_MAX_CORES ? h->cpus : PLACEMENT_MAX_CORES;
}

static int64_t ncores(uint64_t set)
{
    int64_t n = 0;
    for (; set; set &= set - 1) n++;
    return n;
}

int64_t placement_cap_vcpus(const struct host_cap *h)
{
    int64_t cores = h->cpus - ncores(h->dedicated_cores);
    return floor_product(cores > 0 ? cores : 0, h->cpu_ratio);
}

uint64_t placement_shared_cores(const struct host_cap *h)
{
    int64_t n = host_cores(h);
    uint64_t all = n >= 64 ? ~0ull : (1ull << n) - 1;
    return all & ~h->dedicated_cores;
}

bool placement_fits_dedicated(const struct host_cap *h, int64_t vcpus, int64_t mib,
                              uint64_t *cores)
{
    *cores = 0;
    if (vcpus < 1 || h->used_mib + mib > placement_cap_mib(h)) return false;
    uint64_t pick = 0;
    int64_t got = 0;
    for (int64_t k = host_cores(h) - 1; k >= 1 && got < vcpus; k--) /* never core 0 */
        if (!(h->dedicated_cores & (1ull << k))) {
            pick |= 1ull << k;
            got++;
        }
    if (got < vcpus) return false;
    /* the shared VMs already here must still fit in the cores left */
    struct host_cap after = *h;
    after.dedicated_cores |= pick;
    if (h->used_vcpus > placement_cap_vcpus(&after)) return false;
    *cores = pick;
    return true;
}

void placement_format_cores(uint64_t cores, char *buf, size_t len)
{
    size_t used = 0;
    if (len) buf[0] = 0;
    for (int k = 0; k < 64; k++) {
        if (!(cores & (1ull << k))) continue;
        int e = k;
        while (e + 1 < 64 && (cores & (1ull << (e + 1)))) e++;
        int n = e > k ? snprintf(buf + used, len - used, "%s%d-%d", used ? "," : "", k, e)
                      : snprintf(buf + used, len - used, "%s%d", used ? "," : "", k);
        if (n < 0 || (size_t)n >= len - used) return;
        used += (size_t)n;
        k = e;
    }
}

bool placement_parse_cores(const char *s, uint64_t *cores)
{
    *cores = 0;
    if (!s || !*s) return false;
    while (*s) {
        char *end;
        if (*s < '0' || *s > '9') return false;
        long a = strtol(s, &end, 10), b = a;
        s = end;
        if (*s == '-') {
            if (s[1] < '0' || s[1] > '9') return false;
            b = strtol(s + 1, &end, 10);
            s = end;
        }
        if (b < a || b >= 64) return false;
        for (long k = a; k <= b; k++) *cores |= 1ull << k;
        if (*s == ',' && s[1]) s++;
        else if (*s) return false;
    }
    return true;
}

int64_t placement_cap_mib(const struct host_cap *h)
{
    int64_t m = floor_product(h->mem_mib, h->ram_ratio) - h->reserved_mib;
    return m > 0 ? m : 0;
}

bool placement_fits(const struct host_cap *h, int64_t vcpus, int64_t mib)
{
    return h->used_vcpus + vcpus <= placement_cap_vcpus(h) &&
           h->used_mib + mib <= placement_cap_mib(h);
}

void placement_describe(const char *host, const struct host_cap *h, int64_t vcpus, int64_t mib,
                        char *buf, size_t len)
{
    int64_t cv = placement_cap_vcpus(h), cm = placement_cap_mib(h);
    int64_t fv = cv - h->used_vcpus, fm = cm - h->used_mib;
    if (fv < 0) fv = 0;
    if (fm < 0) fm = 0;
    int n = snprintf(buf, len,
                     "host %s has %" PRId64 " of %" PRId64 " vCPUs and %" PRId64 " of %" PRId64
                     " MiB free",
                     host, fv, cv, fm, cm);
    if (n < 0 || (size_t)n >= len) return;
    const char *sep = " (";
    if (vcpus > fv) {
        n += snprintf(buf + n, len - (size_t)n, "%svCPUs short by %" PRId64, sep, vcpus - fv);
        sep = ", ";
    }
    if (n < 0 || (size_t)n >= len) return;
    if (mib > fm) {
        n += snprintf(buf + n, len - (size_t)n, "%smemory short by %" PRId64 " MiB", sep, mib - fm);
        sep = ", ";
    }
    if (n < 0 || (size_t)n >= len) return;
    if (strcmp(sep, ", ") == 0) snprintf(buf + n, len - (size_t)n, ")");
}

/* "host box has 1 of 1 dedicable cores free (core 0 stays shared)..." */
static void describe_dedicated(const char *host, const struct host_cap *h, int64_t vcpus,
                               int64_t mib, char *buf, size_t len)
{
    int64_t cores = host_cores(h) - 1, held = ncores(h->dedicated_cores & ~1ull);
    int64_t free_cores = cores > held ? cores - held : 0;
    int64_t fm = placement_cap_mib(h) - h->used_mib;
    if (fm < 0) fm = 0;
    int n = snprintf(buf, len,
                     "host %s has %" PRId64 " of %" PRId64
                     " cores free for dedicated VMs (core 0 stays shared) and %" PRId64
                     " MiB free",
                     host, free_cores, cores > 0 ? cores : 0, fm);
    if (n < 0 || (size_t)n >= len) return;
    if (vcpus > free_cores)
        snprintf(buf + n, len - (size_t)n, " (cores short by %" PRId64 ")", vcpus - free_cores);
    else if (mib > fm)
        snprintf(buf + n, len - (size_t)n, " (memory short by %" PRId64 " MiB)", mib - fm);
    else
        snprintf(buf + n, len - (size_t)n,
                 " (its %" PRId64 " shared vCPUs would not fit in the cores left)",
                 h->used_vcpus);
}

int placement_load(struct db *db, int64_t host_id, int64_t exclude_vm, struct host_cap *out)
{
    sqlite3_stmt *st =
        db_stmt(db,
                "SELECT h.cpus, h.mem_mib, h.reserved_mib, h.cpu_ratio, h.ram_ratio,"
                " (SELECT coalesce(sum(vcpus), 0) FROM vms WHERE host_id = h.id AND id != ?"
                "  AND dedicated = 0),"
                " (SELECT coalesce(sum(mem_mib), 0) FROM vms WHERE host_id = h.id AND id != ?),"
                " (SELECT count(*) FROM vms WHERE host_id = h.id AND id != ?)"
                " FROM hosts h WHERE h.id = ?",
                "iiii", exclude_vm, exclude_vm, exclude_vm, host_id);
    if (!st) return -1;
    int rc = -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        out->cpus = sqlite3_column_int64(st, 0);
        out->mem_mib = sqlite3_column_int64(st, 1);
        out->reserved_mib = sqlite3_column_int64(st, 2);
        out->cpu_ratio = sqlite3_column_double(st, 3);
        out->ram_ratio = sqlite3_column_double(st, 4);
        out->used_vcpus = sqlite3_column_int64(st, 5);
        out->used_mib = sqlite3_column_int64(st, 6);
        out->vms = sqlite3_column_int64(st, 7);
        out->dedicated_cores = 0;
        rc = 0;
    }
    sqlite3_finalize(st);
    if (rc < 0) return rc;
    st = db_stmt(db,
                 "SELECT host_cpus FROM vms WHERE host_id = ? AND id != ? AND dedicated = 1"
                 " AND host_cpus IS NOT NULL",
                 "ii", host_id, exclude_vm);
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        uint64_t c;
        if (placement_parse_cores(db_col_text(st, 0), &c)) out->dedicated_cores |= c;
    }
    sqlite3_finalize(st);
    return rc;
}

int64_t placement_choose(struct db *db, const char *size_name, int64_t vcpus, int64_t mib,
                         int64_t exclude_vm, struct kerr *e)
{
    return placement_choose_vm(db, size_name, vcpus, mib, exclude_vm, false, NULL, 0, e);
}

int64_t placement_choose_vm(struct db *db, const char *size_name, int64_t vcpus, int64_t mib,
                            int64_t exclude_vm, bool dedicated, char *cores, size_t cores_len,
                            struct kerr *e)
{
    struct placement_req r = {.size_name = size_name, .vcpus = vcpus, .mib = mib,
                              .exclude_vm = exclude_vm, .dedicated = dedicated};
    return placement_choose_req(db, &r, cores, cores_len, e);
}

int64_t placement_choose_req(struct db *db, const struct placement_req *r, char *cores,
                             size_t cores_len, struct kerr *e)
{
    const char *size_name = r->size_name;
    int64_t vcpus = r->vcpus, mib = r->mib, exclude_vm = r->exclude_vm;
    bool dedicated = r->dedicated;
    uint64_t best_cores = 0;
    sqlite3_stmt *st = db_stmt(db,
                               "SELECT h.id, h.name, h.location, h.state, h.shared_storage,"
                               " (SELECT count(*) FROM vms WHERE host_id = h.id AND vmss_id = ?"
                               "  AND id != ?)"
                               " FROM hosts h ORDER BY h.id",
                               "ii", r->spread_vmss, exclude_vm);
    if (!st) return kerr_internal(e, "placement: %s", db_errmsg(db));
    int64_t best = -1, best_set = 0;
    struct host_cap best_cap = {0};
    char why[512] = "", location[64] = "local";
    size_t hosts = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        char name[64];
        snprintf(name, sizeof(name), "%s", db_col_text(st, 1));
        snprintf(location, sizeof(location), "%s", db_col_text(st, 2));
        if ((r->only_host && id != r->only_host) || id == r->avoid_host) continue;
        if (r->shared_only && !sqlite3_column_int(st, 4)) continue;
        if (strcmp(db_col_text(st, 3), "Up") != 0) {
            size_t used = strlen(why);
            snprintf(why + used, sizeof(why) - used, "%shost %s is %s", used ? "; " : "", name,
                     db_col_text(st, 3));
            continue;
        }
        int64_t in_set = sqlite3_column_int64(st, 5);
        struct host_cap cap;
        if (placement_load(db, id, exclude_vm, &cap) < 0) continue;
        hosts++;
        uint64_t picked = 0;
        if (dedicated ? !placement_fits_dedicated(&cap, vcpus, mib, &picked)
                      : !placement_fits(&cap, vcpus, mib)) {
            size_t used = strlen(why);
            if (used < sizeof(why) - 1) {
                char *w = why + used + (used ? 2 : 0);
                size_t wl = sizeof(why) - used - (used ? 2 : 0);
                if (dedicated)
                    describe_dedicated(name, &cap, vcpus, mib, w, wl);
                else
                    placement_describe(name, &cap, vcpus, mib, w, wl);
            }
            if (used && used + 2 < sizeof(why)) memcpy(why + used, "; ", 2);
            continue;
        }
        int64_t free_mib = placement_cap_mib(&cap) - cap.used_mib;
        int64_t best_free = placement_cap_mib(&best_cap) - best_cap.used_mib;
        /* a scale set's instances apart first, then the fewest VMs, then
         * the most free memory */
        if (best < 0 || in_set < best_set ||
            (in_set == best_set &&
             (cap.vms < best_cap.vms || (cap.vms == best_cap.vms && free_mib > best_free)))) {
            best = id;
            best_set = in_set;
            best_cap = cap;
            best_cores = picked;
        }
    }
    sqlite3_finalize(st);
    if (best >= 0) {
        if (cores && cores_len) placement_format_cores(best_cores, cores, cores_len);
        return best;
    }
    if (hosts == 0 && !why[0]) return kerr_internal(e, "placement: no hosts are registered");
    return kerr_conflict(e, "CapacityExceeded",
                         "not enough capacity for %ssize %s (%" PRId64 " vCPUs, %" PRId64
                         " MiB) in location %s: %s",
                         dedicated ? "a dedicated VM of " : "", size_name, vcpus, mib, location,
                         why);
}

int64_t placement_room(struct db *db, int64_t vcpus, int64_t mib, int64_t limit, char *why,
                       size_t why_len)
{
    if (why_len) why[0] = 0;
    if (vcpus <= 0 || mib <= 0) return 0;
    sqlite3_stmt *st = db_stmt(db, "SELECT id, name FROM hosts ORDER BY id", "");
    int64_t room = 0;
    while (st && room < limit && sqlite3_step(st) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        struct host_cap cap;
        if (placement_load(db, id, 0, &cap) < 0) continue;
        /* what VMs being deleted hold is about to be free */
        cap.used_vcpus -= db_int(db, NULL, 0,
                                 "SELECT coalesce(sum(vcpus), 0) FROM vms WHERE host_id = ?"
                                 " AND dedicated = 0 AND coalesce(op, '') LIKE 'delete%'",
                                 "i", id);
        cap.used_mib -= db_int(db, NULL, 0,
                               "SELECT coalesce(sum(mem_mib), 0) FROM vms WHERE host_id = ?"
                               " AND coalesce(op, '') LIKE 'delete%'",
                               "i", id);
        int64_t fv = placement_cap_vcpus(&cap) - cap.used_vcpus;
        int64_t fm = placement_cap_mib(&cap) - cap.used_mib;
        int64_t n = fv / vcpus < fm / mib ? fv / vcpus : fm / mib;
        if (n > 0) room += n;
        size_t used = why_len ? strlen(why) : 0;
        if (why_len && used + 3 < why_len) {
            if (used) memcpy(why + used, "; ", 3), used += 2;
            placement_describe(db_col_text(st, 1), &cap, 0, 0, why + used, why_len - used);
        }
    }
    sqlite3_finalize(st);
    return room < limit ? room : limit;
}
