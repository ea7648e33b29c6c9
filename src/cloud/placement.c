/*
 * placement.c - capacity arithmetic and host choice (see placement.h).
 */
#include "cloud/placement.h"

#include "cloud/db.h"

#include <inttypes.h>
#include <math.h>
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

int64_t placement_cap_vcpus(const struct host_cap *h)
{
    return floor_product(h->cpus, h->cpu_ratio);
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

int placement_load(struct db *db, int64_t host_id, int64_t exclude_vm, struct host_cap *out)
{
    sqlite3_stmt *st =
        db_stmt(db,
                "SELECT h.cpus, h.mem_mib, h.reserved_mib, h.cpu_ratio, h.ram_ratio,"
                " (SELECT coalesce(sum(vcpus), 0) FROM vms WHERE host_id = h.id AND id != ?),"
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
        rc = 0;
    }
    sqlite3_finalize(st);
    return rc;
}

int64_t placement_choose(struct db *db, const char *size_name, int64_t vcpus, int64_t mib,
                         int64_t exclude_vm, struct kerr *e)
{
    sqlite3_stmt *st = db_stmt(db, "SELECT id, name, location FROM hosts ORDER BY id", "");
    if (!st) return kerr_internal(e, "placement: %s", db_errmsg(db));
    int64_t best = -1;
    struct host_cap best_cap = {0};
    char why[512] = "", location[64] = "local";
    size_t hosts = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        char name[64];
        snprintf(name, sizeof(name), "%s", db_col_text(st, 1));
        snprintf(location, sizeof(location), "%s", db_col_text(st, 2));
        struct host_cap cap;
        if (placement_load(db, id, exclude_vm, &cap) < 0) continue;
        hosts++;
        if (!placement_fits(&cap, vcpus, mib)) {
            size_t used = strlen(why);
            if (used < sizeof(why) - 1)
                placement_describe(name, &cap, vcpus, mib, why + used + (used ? 2 : 0),
                                   sizeof(why) - used - (used ? 2 : 0));
            if (used && used + 2 < sizeof(why)) memcpy(why + used, "; ", 2);
            continue;
        }
        int64_t free_mib = placement_cap_mib(&cap) - cap.used_mib;
        int64_t best_free = placement_cap_mib(&best_cap) - best_cap.used_mib;
        if (best < 0 || cap.vms < best_cap.vms ||
            (cap.vms == best_cap.vms && free_mib > best_free)) {
            best = id;
            best_cap = cap;
        }
    }
    sqlite3_finalize(st);
    if (best >= 0) return best;
    if (hosts == 0) return kerr_internal(e, "placement: no hosts are registered");
    return kerr_conflict(e, "CapacityExceeded",
                         "not enough capacity for size %s (%" PRId64 " vCPUs, %" PRId64
                         " MiB) in location %s: %s",
                         size_name, vcpus, mib, location, why);
}
