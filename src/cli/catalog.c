/*
 * catalog.c - the host-wide things: resource groups, the size catalog,
 * locations and hosts, and `kumo status` (is kumod there, what is free).
 */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- resource groups ---- */

static const struct opt group_name_opts[] = {
    {"name", 'n', OPT_VALUE, "NAME", "the resource group", "name"},
    {"resource-group", 'g', OPT_VALUE, "NAME", "the same as -n", "name"},
    {0},
};

static const char *group_name(struct cli *c, const struct args *a)
{
    const char *n = arg_str(a, "name"), *g = arg_str(a, "resource-group");
    const char *p = a->npos ? a->pos[0] : NULL;
    const char *v = n ? n : g ? g : p;
    if ((n && g && strcmp(n, g)) || (p && v && strcmp(p, v))) {
        usage_error(c, "the group is named twice, differently");
        return NULL;
    }
    if (!v || !*v) {
        usage_error(c, "missing the resource group's name: give it with -n NAME (or -g NAME)");
        return NULL;
    }
    return v;
}

static const struct column group_columns[] = {
    COL("Name", "name", CELL_TEXT),
    COL("Location", "location", CELL_TEXT),
    COL("Tags", "tags", CELL_TAGS),
    {0},
};

static void group_view(struct cli *c, const json_t *g)
{
    struct table *t = kv_new();
    kv_add(t, "Name", member_text(g, "name"));
    kv_add(t, "Location", member_text(g, "location"));
    kv_add(t, "Tags", fmt_tags(json_object_get(g, "tags")));
    kv_add(t, "State", fmt_state(g));
    kv_add(t, "Created", fmt_time(member_str(g, "createdAt")));
    kv_print(t, c->out);
}

static const struct resource group = {
    .what = "resource group",
    .collection = "resourceGroups",
    .scope = RES_TOP,
    .columns = group_columns,
    .view = group_view,
    .name = group_name,
};

/*
 * As az group create: creating a group that exists (by the same name) is
 * not an error. kumod answers 409; kumo then shows the group, after
 * applying --tags. The group keeps its location (a different -l is
 * refused); a name that differs only in case is still a conflict (a
 * mistake, most likely).
 */
static int group_create(struct cli *c, struct args *a)
{
    const char *n = group_name(c, a);
    if (!n) return KX_USAGE;
    json_t *tags = arg_has(a, "tags") ? parse_tags(c, a) : NULL;
    if (arg_has(a, "tags") && !tags) return KX_USAGE;
    const char *loc = arg_str(a, "location");
    json_t *body = json_pack("{ss}", "name", n);
    if (loc) json_object_set_new(body, "location", json_string(loc));
    if (tags) json_object_set_new(body, "tags", json_incref(tags));
    struct resp r;
    int rc = http_request(c, "POST", "/resourceGroups", body, &r);
    json_decref(body);
    if (rc || r.status != 409) {
        if (!rc && r.status >= 200 && r.status < 300 && r.json)
            print_one(c, r.json, group_view);
        else if (!rc)
            rc = api_fail(c, &r);
        resp_free(&r);
        json_decref(tags);
        return rc;
    }
    char *p = res_path_of(&group, NULL, NULL, n);
    json_t *g = NULL;
    int found = api_get_maybe(c, p, &g);
    if (found != 1 || strcmp(member_text(g, "name"), n) != 0) {
        rc = found < 0 ? -found : api_fail(c, &r);
    } else if (loc && strcasecmp(loc, member_text(g, "location")) != 0) {
        fprintf(stderr,
                "%s: error: resource group '%s' exists in location %s, not %s (a group's "
                "location cannot change; leave out -l, or pick another name) [Conflict]\n",
                c->prog, n, member_text(g, "location"), loc);
        rc = KX_CONFLICT;
    } else if (tags) {
        rc = send_show(c, "PATCH", p, json_pack("{sO}", "tags", tags), group_view);
    } else {
        print_one(c, g, group_view);
    }
    resp_free(&r);
    json_decref(g);
    json_decref(tags);
    free(p);
    return rc;
}

static int group_update(struct cli *c, struct args *a)
{
    const char *n = group_name(c, a);
    if (!n) return KX_USAGE;
    if (!arg_has(a, "tags")) return usage_error(c, "nothing to change: give --tags KEY=VALUE ...");
    json_t *tags = parse_tags(c, a);
    if (!tags) return KX_USAGE;
    char *p = res_path_of(&group, NULL, NULL, n);
    int rc = send_show(c, "PATCH", p, json_pack("{so}", "tags", tags), group_view);
    free(p);
    return rc;
}

static const struct opt group_create_opts[] = {
    {"name", 'n', OPT_VALUE, "NAME", "the new group's name", "name"},
    {"resource-group", 'g', OPT_VALUE, "NAME", "the same as -n", "name"},
    {"location", 'l', OPT_VALUE, "LOCATION", "where its resources live (default: local)",
     "location"},
    OPT_TAGS("tags (up to 50); \"\" alone clears them"),
    {0},
};

static const struct opt group_update_opts[] = {
    {"name", 'n', OPT_VALUE, "NAME", "the resource group", "name"},
    {"resource-group", 'g', OPT_VALUE, "NAME", "the same as -n", "name"},
    OPT_TAGS("tags (up to 50); \"\" alone clears them"),
    {0},
};

static const struct cmd group_create_c = {
    .name = "create",
    .summary = "Create a resource group",
    .usage = "-n NAME [-l LOCATION] [--tags K=V ...]",
    .help = "Create a resource group: a named folder for VMs, disks, networks and their "
            "bills. Names are 1-64 letters, digits, '.', '_' or '-', unique on the host, "
            "case-insensitive. As with az, creating a group that exists is not an error: kumo "
            "shows it (after setting --tags, when given).",
    .opts = group_create_opts,
    .run = group_create,
    .positionals = 1,
    .examples = "  kumo group create -n web --tags team=blue\n"};
static const struct cmd group_list_c = RES_LIST(&group, "List the resource groups", NULL);
static const struct cmd group_show_c = RES_SHOW(&group, "Show a resource group", group_name_opts);
static const struct cmd group_update_c = {.name = "update",
                                          .summary = "Replace a group's tags",
                                          .usage = "-n NAME --tags K=V ...",
                                          .opts = group_update_opts,
                                          .run = group_update,
                                          .positionals = 1};
static const struct cmd group_delete_c = {
    .name = "delete",
    .summary = "Delete an empty resource group",
    .help = "Delete a resource group. kumod refuses while the group holds anything (exit code "
            "4, with a list of what is left): delete its VMs, disks and networks first.",
    .opts = group_name_opts,
    .run = res_delete,
    .res = &group,
    .positionals = 1};

const struct cmd cmd_group = {
    .name = "group",
    .summary = "Resource groups: create, list, show, update, delete",
    .help = "Resource groups hold a project's resources; almost every other command takes "
            "one with -g (or $KUMO_GROUP).",
    .sub = (const struct cmd *const[]){&group_create_c, &group_list_c, &group_show_c,
                                       &group_update_c, &group_delete_c, NULL},
};

/* ---- sizes ---- */

static const char *size_iops(const json_t *s)
{
    return member_int(s, "maxDiskIops") ? fmt_str("%lld", member_int(s, "maxDiskIops")) : "no cap";
}

static const char *size_price(const json_t *s)
{
    return fmt_str("%.4f", member_num(s, "pricePerHour"));
}

static const char *size_baseline(const json_t *s)
{
    const json_t *b = json_object_get(s, "burstable");
    return json_is_object(b) ? fmt_str("%g%%", member_num(b, "baselinePercent")) : "-";
}

static const struct column size_columns[] = {
    COL("Name", "name", CELL_TEXT),
    COL("Family", "family", CELL_TEXT),
    COL(">vCPUs", "vcpus", CELL_INT),
    COL(">Memory", "memoryMiB", CELL_MIB),
    COL(">DataDisks", "maxDataDisks", CELL_INT),
    COL_GET_RAW(">DiskIops", size_iops, "maxDiskIops"),
    COL_GET_RAW(">USD/hour", size_price, "pricePerHour"),
    COL_GET_RAW(">Baseline", size_baseline, "burstable.baselinePercent"),
    {0},
};

static void size_view(struct cli *c, const json_t *s)
{
    const json_t *b = json_object_get(s, "burstable");
    struct table *t = kv_new();
    kv_add(t, "Name", member_text(s, "name"));
    kv_add(t, "Family", member_text(s, "family"));
    kv_add(t, "vCPUs", fmt_str("%lld", member_int(s, "vcpus")));
    kv_add(
        t, "Memory",
        fmt_str("%s (%lld MiB)", fmt_mib(member_int(s, "memoryMiB")), member_int(s, "memoryMiB")));
    kv_add(t, "Max data disks", fmt_str("%lld", member_int(s, "maxDataDisks")));
    kv_add(t, "Max disk IOPS",
           member_int(s, "maxDiskIops") ? fmt_str("%lld per disk", member_int(s, "maxDiskIops"))
                                        : "no cap");
    kv_add(t, "Price",
           fmt_str("%g USD/hour (%.2f USD per 730-hour month)", member_num(s, "pricePerHour"),
                   member_num(s, "pricePerHour") * 730));
    if (json_is_object(b))
        kv_add(t, "Burstable",
               fmt_str("baseline %g%% of each vCPU, %lld initial credits, %lld per hour, %lld max",
                       member_num(b, "baselinePercent"), member_int(b, "initialCredits"),
                       member_int(b, "creditsPerHour"), member_int(b, "maxCredits")));
    kv_add(t, "Built in", member_bool(s, "builtin") ? "yes" : "no (added by the operator)");
    kv_print(t, c->out);
}

static const struct resource size = {
    .what = "size",
    .collection = "sizes",
    .scope = RES_TOP,
    .columns = size_columns,
    .view = size_view,
};

static int size_list(struct cli *c, struct args *a)
{
    json_t *j;
    int rc = api(c, "GET", "/sizes", NULL, &j);
    if (rc) return rc;
    const char *fam = arg_str(a, "family");
    long minc = 0, minm = 0;
    if (arg_long(c, a, "min-vcpus", 1, 4096, &minc) < 0 ||
        arg_long(c, a, "min-memory-mib", 1, 1 << 30, &minm) < 0) {
        json_decref(j);
        return KX_USAGE;
    }
    json_t *out = json_array();
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(j, "value"), i, s)
    {
        if (fam && strcasecmp(member_text(s, "family"), fam) != 0) continue;
        if (member_int(s, "vcpus") < minc || member_int(s, "memoryMiB") < minm) continue;
        json_array_append(out, s);
    }
    print_items(c, out, size_columns, GROUP_NONE);
    json_decref(out);
    json_decref(j);
    return KX_OK;
}

static int size_body(struct cli *c, const struct args *a, json_t *body)
{
    long v;
    double d;
    int r;
    if ((r = arg_long(c, a, "vcpus", 1, 32, &v)) < 0) return KX_USAGE;
    if (r) json_object_set_new(body, "vcpus", json_integer(v));
    if ((r = arg_long(c, a, "memory-mib", 64, 65536, &v)) < 0) return KX_USAGE;
    if (r) json_object_set_new(body, "memoryMiB", json_integer(v));
    if ((r = arg_long(c, a, "max-data-disks", 0, 6, &v)) < 0) return KX_USAGE;
    if (r) json_object_set_new(body, "maxDataDisks", json_integer(v));
    if ((r = arg_long(c, a, "max-disk-iops", 0, 1L << 40, &v)) < 0) return KX_USAGE;
    if (r) json_object_set_new(body, "maxDiskIops", json_integer(v));
    if ((r = arg_double(c, a, "price-per-hour", 0, 1000, &d)) < 0) return KX_USAGE;
    if (r) json_object_set_new(body, "pricePerHour", json_real(d));
    if (arg_str(a, "family"))
        json_object_set_new(body, "family", json_string(arg_str(a, "family")));
    return KX_OK;
}

static int size_create(struct cli *c, struct args *a)
{
    const char *n = need_name(c, a, size.what);
    if (!n) return KX_USAGE;
    if (!need_opt(c, a, "vcpus", "how many vCPUs (1 to 32)") ||
        !need_opt(c, a, "memory-mib", "the memory in MiB (64 to 65536)") ||
        !need_opt(c, a, "price-per-hour", "what an hour of it costs, in USD"))
        return KX_USAGE;
    json_t *body = json_pack("{ss}", "name", n);
    if (size_body(c, a, body)) {
        json_decref(body);
        return KX_USAGE;
    }
    return send_show(c, "POST", "/sizes", body, size_view);
}

static int size_update(struct cli *c, struct args *a)
{
    const char *n = need_name(c, a, size.what);
    if (!n) return KX_USAGE;
    json_t *body = json_object();
    if (size_body(c, a, body)) {
        json_decref(body);
        return KX_USAGE;
    }
    if (json_object_size(body) == 0) {
        json_decref(body);
        return usage_error(c, "nothing to change: give --price-per-hour, --max-data-disks or "
                              "--max-disk-iops");
    }
    char *p = res_path_of(&size, NULL, NULL, n);
    int rc = send_show(c, "PATCH", p, body, size_view);
    free(p);
    return rc;
}

static const struct opt size_name_opts[] = {
    {"name", 'n', OPT_VALUE, "SIZE", "the size, e.g. B1s", "name"},
    {0},
};

static const struct opt size_list_opts[] = {
    {"family", 0, OPT_VALUE, "FAMILY",
     "only this family: B (burstable), D (general purpose), "
     "E (memory optimised), F (compute optimised)",
     NULL},
    {"min-vcpus", 0, OPT_VALUE, "N", "only sizes with at least N vCPUs", NULL},
    {"min-memory-mib", 0, OPT_VALUE, "MIB", "only sizes with at least this much memory", NULL},
    {0},
};

#define SIZE_SETTINGS                                                                              \
    {"max-data-disks", 0, OPT_VALUE, "N", "data disks a VM of this size takes (0-6, default 2)",   \
     "maxDataDisks"},                                                                              \
        {"max-disk-iops", 0, OPT_VALUE, "N", "IOPS cap of each disk (0: none)", "maxDiskIops"},    \
    {                                                                                              \
        "price-per-hour", 0, OPT_VALUE, "USD", "price of an hour", "pricePerHour"                  \
    }

static const struct opt size_create_opts[] = {
    {"name", 'n', OPT_VALUE, "SIZE", "the new size's name", "name"},
    {"vcpus", 0, OPT_VALUE, "N", "vCPUs (1-32)", "vcpus"},
    {"memory-mib", 0, OPT_VALUE, "MIB", "memory (64-65536 MiB)", "memoryMiB"},
    {"family", 0, OPT_VALUE, "FAMILY", "family (default: the name's leading letters)", "family"},
    SIZE_SETTINGS,
    {0},
};

static const struct opt size_update_opts[] = {
    {"name", 'n', OPT_VALUE, "SIZE", "the size", "name"},
    SIZE_SETTINGS,
    {0},
};

static const struct cmd size_list_c = {
    .name = "list",
    .summary = "List the VM sizes with their vCPUs, memory and price",
    .usage = "[--family B] [--min-vcpus N] [--min-memory-mib MIB]",
    .help = "List the size catalog: the B (burstable), D (general purpose), E (memory "
            "optimised) and F (compute optimised) families, with what an hour costs, and the "
            "sizes the operator added.",
    .opts = size_list_opts,
    .run = size_list,
    .examples = "  kumo size list --family B\n  kumo size list --min-vcpus 4 -o json\n"};
static const struct cmd size_show_c = RES_SHOW(&size, "Show a size", size_name_opts);
static const struct cmd size_create_c = {
    .name = "create",
    .summary = "Add a size to the catalog (operator)",
    .usage = "-n NAME --vcpus N --memory-mib MIB --price-per-hour USD [options]",
    .help = "Add a size to the catalog, e.g. a small one for tests.",
    .opts = size_create_opts,
    .run = size_create,
    .positionals = 1,
    .examples = "  kumo size create -n Tiny --vcpus 1 --memory-mib 128 --price-per-hour 0.002\n"};
static const struct cmd size_update_c = {
    .name = "update",
    .summary = "Reprice a size or change its disk limits (operator)",
    .usage = "-n SIZE [--price-per-hour USD] [--max-data-disks N] [--max-disk-iops N]",
    .help = "Change a size's price or disk limits. Running VMs keep the price they started "
            "with until their next state change. vCPUs and memory cannot change: make a new "
            "size.",
    .opts = size_update_opts,
    .run = size_update,
    .positionals = 1};
static const struct cmd size_delete_c =
    RES_DELETE(&size, "Remove a size no VM uses (operator)", size_name_opts);
const struct cmd cmd_size = {
    .name = "size",
    .summary = "VM sizes: list, show (and create, update, delete for operators)",
    .help = "A size is a VM's vCPUs and memory, how many data disks it takes, how fast its "
            "disks may go and what an hour of it costs.",
    .sub = (const struct cmd *const[]){&size_list_c, &size_show_c, &size_create_c, &size_update_c,
                                       &size_delete_c, NULL},
};

/* ---- locations and hosts ---- */

static const char *usage_of(const json_t *o, const char *what)
{
    const json_t *cap = json_object_get(o, "capacity"), *al = json_object_get(o, "allocated");
    if (strcmp(what, "vcpus") == 0)
        return fmt_str("%lld/%lld", member_int(al, "vcpus"), member_int(cap, "vcpus"));
    return fmt_str("%lld/%lld MiB", member_int(al, "memoryMiB"), member_int(cap, "memoryMiB"));
}

static const char *vcpus_used(const json_t *o)
{
    return usage_of(o, "vcpus");
}

static const char *memory_used(const json_t *o)
{
    return usage_of(o, "memory");
}

static const struct column location_columns[] = {
    COL("Name", "name", CELL_TEXT),
    COL("Hosts", "hosts", CELL_LIST),
    COL_GET_RAW(">vCPUs used", vcpus_used, "allocated.vcpus"),
    COL_GET_RAW(">Memory used", memory_used, "allocated.memoryMiB"),
    COL(">VMs", "allocated.vms", CELL_INT),
    {0},
};

/* The capacity, allocated and available lines of a location or host. */
static void kv_capacity(struct table *t, const json_t *o)
{
    const json_t *cap = json_object_get(o, "capacity"), *al = json_object_get(o, "allocated"),
                 *av = json_object_get(o, "available");
    kv_add(t, "Capacity",
           fmt_str("%lld vCPUs, %lld MiB", member_int(cap, "vcpus"), member_int(cap, "memoryMiB")));
    kv_add(t, "Allocated",
           fmt_str("%lld vCPUs, %lld MiB (%lld VM%s)", member_int(al, "vcpus"),
                   member_int(al, "memoryMiB"), member_int(al, "vms"),
                   member_int(al, "vms") == 1 ? "" : "s"));
    kv_add(t, "Available",
           fmt_str("%lld vCPUs, %lld MiB", member_int(av, "vcpus"), member_int(av, "memoryMiB")));
}

static void location_view(struct cli *c, const json_t *l)
{
    struct table *t = kv_new();
    kv_add(t, "Name", member_text(l, "name"));
    kv_add(t, "Hosts", join_strings(json_object_get(l, "hosts"), ", "));
    kv_capacity(t, l);
    kv_print(t, c->out);
}

static const struct resource location = {
    .what = "location",
    .collection = "locations",
    .scope = RES_TOP,
    .columns = location_columns,
    .view = location_view,
    .default_name = "local",
};

static const char *host_memory(const json_t *h)
{
    return fmt_str("%lld MiB", member_int(h, "memoryMiB"));
}

static const char *host_ratios(const json_t *h)
{
    return fmt_str("%g/%g", member_num(h, "cpuAllocationRatio"),
                   member_num(h, "ramAllocationRatio"));
}

static const struct column host_columns[] = {
    COL("Name", "name", CELL_TEXT),
    COL("Location", "location", CELL_TEXT),
    COL(">CPUs", "cpus", CELL_INT),
    COL_GET_RAW(">Memory", host_memory, "memoryMiB"),
    COL_GET(">Ratios cpu/ram", host_ratios),
    COL_GET_RAW(">vCPUs used", vcpus_used, "allocated.vcpus"),
    COL_GET_RAW(">Memory used", memory_used, "allocated.memoryMiB"),
    {0},
};

static void host_view(struct cli *c, const json_t *h)
{
    struct table *t = kv_new();
    kv_add(t, "Name", member_text(h, "name"));
    kv_add(t, "Location", member_text(h, "location"));
    kv_add(t, "CPUs",
           fmt_str("%lld (x %g allocation ratio)", member_int(h, "cpus"),
                   member_num(h, "cpuAllocationRatio")));
    kv_add(t, "Memory",
           fmt_str("%lld MiB (x %g allocation ratio, %lld MiB reserved for the host)",
                   member_int(h, "memoryMiB"), member_num(h, "ramAllocationRatio"),
                   member_int(h, "reservedMemoryMiB")));
    kv_capacity(t, h);
    kv_print(t, c->out);
}

static const struct resource host = {
    .what = "host",
    .collection = "hosts",
    .scope = RES_TOP,
    .columns = host_columns,
    .view = host_view,
};

static int host_update(struct cli *c, struct args *a)
{
    const char *n = need_name(c, a, host.what);
    if (!n) return KX_USAGE;
    json_t *body = json_object();
    long v;
    double d;
    int r;
    if ((r = arg_long(c, a, "cpus", 1, 4096, &v)) < 0) goto bad;
    if (r) json_object_set_new(body, "cpus", json_integer(v));
    if ((r = arg_long(c, a, "memory-mib", 64, 16777216, &v)) < 0) goto bad;
    if (r) json_object_set_new(body, "memoryMiB", json_integer(v));
    if ((r = arg_long(c, a, "reserved-memory-mib", 0, 16777216, &v)) < 0) goto bad;
    if (r) json_object_set_new(body, "reservedMemoryMiB", json_integer(v));
    if ((r = arg_double(c, a, "cpu-ratio", 0.1, 64, &d)) < 0) goto bad;
    if (r) json_object_set_new(body, "cpuAllocationRatio", json_real(d));
    if ((r = arg_double(c, a, "ram-ratio", 0.1, 4, &d)) < 0) goto bad;
    if (r) json_object_set_new(body, "ramAllocationRatio", json_real(d));
    if (json_object_size(body) == 0) {
        json_decref(body);
        return usage_error(c, "nothing to change: give --cpus, --memory-mib, "
                              "--reserved-memory-mib, --cpu-ratio or --ram-ratio");
    }
    char *p = res_path_of(&host, NULL, NULL, n);
    int rc = send_show(c, "PATCH", p, body, host_view);
    free(p);
    return rc;
bad:
    json_decref(body);
    return KX_USAGE;
}

static const struct opt location_opts[] = {
    {"name", 'n', OPT_VALUE, "LOCATION", "the location (default: local)", NULL},
    {0},
};
static const struct opt host_opts[] = {
    {"name", 'n', OPT_VALUE, "HOST", "the host (kumo host list names it)", NULL},
    {0},
};
static const struct opt host_update_opts[] = {
    {"name", 'n', OPT_VALUE, "HOST", "the host", NULL},
    {"cpus", 0, OPT_VALUE, "N", "cores the host offers (1-4096)", "cpus"},
    {"memory-mib", 0, OPT_VALUE, "MIB", "memory the host offers", "memoryMiB"},
    {"reserved-memory-mib", 0, OPT_VALUE, "MIB", "memory kept for the host itself",
     "reservedMemoryMiB"},
    {"cpu-ratio", 0, OPT_VALUE, "R", "vCPUs per core (0.1-64; default 4)", "cpuAllocationRatio"},
    {"ram-ratio", 0, OPT_VALUE, "R", "memory overcommit (0.1-4; default 1)", "ramAllocationRatio"},
    {0},
};

static const struct cmd location_list_c =
    RES_LIST(&location, "List locations with their capacity", NULL);
static const struct cmd location_show_c =
    RES_SHOW(&location, "Show a location's capacity", location_opts);
const struct cmd cmd_location = {
    .name = "location",
    .summary = "Locations (regions) and their capacity: list, show",
    .help = "A location is a set of hosts; today there is one, 'local', this machine.",
    .sub = (const struct cmd *const[]){&location_list_c, &location_show_c, NULL},
};

static const struct cmd host_list_c = RES_LIST(&host, "List hosts with their capacity", NULL);
static const struct cmd host_show_c = RES_SHOW(&host, "Show a host", host_opts);
static const struct cmd host_update_c = {
    .name = "update",
    .summary = "Change a host's capacity settings (operator)",
    .usage = "-n HOST [--cpus N] [--memory-mib MIB] [--cpu-ratio R] [--ram-ratio R] "
             "[--reserved-memory-mib MIB]",
    .help = "Change what a host offers: capacity is cpus x cpu-ratio vCPUs and memory x "
            "ram-ratio - reserved MiB. Running VMs keep their reservation.",
    .opts = host_update_opts,
    .run = host_update,
    .positionals = 1};
const struct cmd cmd_host = {
    .name = "host",
    .summary = "Hosts (the machines VMs run on): list, show, update",
    .sub = (const struct cmd *const[]){&host_list_c, &host_show_c, &host_update_c, NULL},
};

/* ---- status ---- */

static int status(struct cli *c, struct args *a)
{
    (void)a;
    json_t *health;
    struct resp r;
    int rc = http_request(c, "GET", "/health", NULL, &r);
    if (rc) return rc;
    if (r.status != 200 || !r.json) {
        rc = api_fail(c, &r);
        resp_free(&r);
        return rc;
    }
    health = r.json;
    r.json = NULL;
    resp_free(&r);
    json_t *locs = NULL;
    rc = api(c, "GET", "/locations", NULL, &locs);
    if (c->out == OUT_JSON) {
        json_t *j = json_pack("{ss sO}", "endpoint", endpoint(c), "health", health);
        if (locs) json_object_set(j, "locations", json_object_get(locs, "value"));
        print_json(j);
        json_decref(j);
    } else {
        struct table *t = kv_new();
        kv_add(t, "kumod",
               fmt_str("%s, version %s, up %.0f s", member_text(health, "status"),
                       member_text(health, "version"), member_num(health, "uptimeSeconds")));
        kv_add(t, "Endpoint", endpoint(c));
        kv_add(t, "Network", member_text(health, "network"));
        size_t i;
        json_t *l;
        json_array_foreach(json_object_get(locs, "value"), i, l)
        {
            const json_t *cap = json_object_get(l, "capacity"),
                         *al = json_object_get(l, "allocated");
            kv_add(t, fmt_str("Location %s", member_text(l, "name")),
                   fmt_str("%lld of %lld vCPUs and %lld of %lld MiB allocated, %lld VM%s",
                           member_int(al, "vcpus"), member_int(cap, "vcpus"),
                           member_int(al, "memoryMiB"), member_int(cap, "memoryMiB"),
                           member_int(al, "vms"), member_int(al, "vms") == 1 ? "" : "s"));
        }
        kv_print(t, c->out);
    }
    json_decref(locs);
    json_decref(health);
    return rc;
}

const struct cmd cmd_status = {
    .name = "status",
    .summary = "Is kumod running? Its version, network mode and free capacity",
    .usage = "[--data-dir DIR | --url URL]",
    .help = "Ask kumod for its health (no token needed) and each location's capacity. Exit "
            "code 6 when kumod cannot be reached.",
    .run = status,
};
