/*
 * catalog.c - the host-wide things: resource groups (and `kumo resource
 * list`, what they hold), the size catalog, locations and hosts, and `kumo
 * status` (is kumod there, what is free).
 */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

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
 * As az group create: kumod's PUT creates the group or, when it exists
 * (names are case-insensitive), answers it as it is, with --tags applied.
 * The group keeps its location (a different -l is refused).
 */
static int group_create(struct cli *c, struct args *a)
{
    const char *n = group_name(c, a);
    if (!n) return KX_USAGE;
    json_t *tags = arg_has(a, "tags") ? parse_tags(c, a) : NULL;
    if (arg_has(a, "tags") && !tags) return KX_USAGE;
    const char *loc = arg_str(a, "location");
    char *p = res_path_of(&group, NULL, NULL, n);
    if (loc) { /* a group's location cannot change */
        json_t *g = NULL;
        int found = api_get_maybe(c, p, &g);
        if (found < 0) {
            free(p);
            json_decref(tags);
            return -found;
        }
        if (found == 1 && strcasecmp(loc, member_text(g, "location")) != 0) {
            fprintf(stderr,
                    "%s: error: resource group '%s' exists in location %s, not %s (a group's "
                    "location cannot change; leave out -l, or pick another name) [Conflict]\n",
                    c->prog, member_text(g, "name"), member_text(g, "location"), loc);
            json_decref(g);
            json_decref(tags);
            free(p);
            return KX_CONFLICT;
        }
        json_decref(g);
    }
    json_t *body = json_pack("{ss}", "name", n);
    if (loc) json_object_set_new(body, "location", json_string(loc));
    if (tags) json_object_set_new(body, "tags", tags);
    int rc = send_show(c, "PUT", p, body, group_view);
    free(p);
    return rc;
}

/* ---- everything in a group: resource list, group delete ---- */

static const char *resource_state(const json_t *r)
{
    return member_str(r, "provisioningState") ? member_str(r, "provisioningState") : "-";
}

static const struct column resource_columns[] = {
    COL("Name", "name", CELL_TEXT),
    COL("Type", "type", CELL_TEXT),
    COL_GET_RAW("State", resource_state, "provisioningState"),
    COL("Tags", "tags", CELL_TAGS),
    {0},
};

static int resource_list(struct cli *c, struct args *a)
{
    json_t *items;
    enum group_column grp;
    int rc = fetch_scoped(c, a, "resources", &items, &grp);
    if (rc) return rc;
    items = filter_by_tags(c, a, items);
    if (!items) return KX_USAGE;
    print_items(c, items, resource_columns, grp);
    json_decref(items);
    return KX_OK;
}

/* A resource type in words: "virtualMachine" -> "VM". */
static const char *type_words(const char *type)
{
    static const char *const words[][2] = {
        {"virtualMachineScaleSet", "scale set"},
        {"virtualMachine", "VM"},
        {"autoscaleSetting", "autoscale setting"},
        {"networkInterface", "NIC"},
        {"publicIPAddress", "public IP"},
        {"virtualNetwork", "virtual network"},
        {"networkSecurityGroup", "NSG"},
        {"disk", "disk"},
        {"snapshot", "snapshot"},
    };
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (!strcmp(type, words[i][0])) return words[i][1];
    return type;
}

/* "2 VMs, 1 disk" of a resource list. */
static const char *count_types(const json_t *items)
{
    const char *types[32];
    int counts[32], nt = 0;
    size_t i;
    const json_t *it;
    json_array_foreach(items, i, it)
    {
        const char *t = type_words(member_text(it, "type"));
        int k = 0;
        while (k < nt && strcmp(types[k], t))
            k++;
        if (k == nt && nt < 32) {
            types[nt] = t;
            counts[nt++] = 0;
        }
        if (k < nt) counts[k]++;
    }
    char *out = fmt_str("%s", "");
    for (int k = 0; k < nt; k++)
        out = fmt_str("%s%s%d %s%s", out, k ? ", " : "", counts[k], types[k],
                      counts[k] == 1 ? "" : "s");
    return out;
}

static int group_delete(struct cli *c, struct args *a)
{
    const char *n = group_name(c, a);
    if (!n) return KX_USAGE;
    if (!arg_has(a, "yes") && !isatty(STDIN_FILENO)) return confirm_delete(c, a, "");
    char *p = res_path_of(&group, NULL, NULL, n);
    json_t *j;
    int rc = api(c, "GET", fmt_str("%s/resources", p), NULL, &j);
    if (rc) {
        free(p);
        return rc;
    }
    const json_t *items = json_object_get(j, "value");
    size_t count = json_array_size(items);
    const char *what = count ? count_types(items) : "";
    rc = confirm_delete(
        c, a,
        count ? fmt_str("Delete resource group '%s' and everything in it: %s?", n, what)
              : fmt_str("Delete the empty resource group '%s'?", n));
    json_decref(j);
    if (rc) {
        free(p);
        return rc;
    }
    long st = 0;
    json_t *g = NULL;
    rc = api_status(c, "DELETE", p, NULL, &g, &st);
    json_decref(g);
    if (!rc && st == 202 && !c->no_wait)
        rc = api_wait(c, p, fmt_str("resource group '%s'", n),
                      fmt_str("kumo resource list -g %s", n), true, NULL);
    free(p);
    if (rc || c->out != OUT_TABLE) return rc;
    if (st == 202 && c->no_wait)
        printf("Deleting resource group '%s' and its %zu resources; 'kumo group show %s' "
               "follows it.\n",
               n, count, n);
    else
        printf("Deleted resource group '%s'%s%s.\n", n, count ? " with its " : "", what);
    return KX_OK;
}

static int group_update(struct cli *c, struct args *a)
{
    const char *n = group_name(c, a);
    if (!n) return KX_USAGE;
    char *p = res_path_of(&group, NULL, NULL, n);
    json_t *body = json_object();
    bool changed;
    int rc = tags_update(c, a, p, body, &changed);
    if (rc || !changed) {
        free(p);
        json_decref(body);
        return rc ? rc
                  : usage_error(c, "nothing to change: give --set tags.KEY=VALUE, --add-tags "
                                   "KEY=VALUE, --remove tags.KEY or --tags KEY=VALUE ...");
    }
    rc = send_show(c, "PATCH", p, body, group_view);
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
    OPT_TAGS("replace every tag (up to 50); \"\" alone clears them"),
    OPT_TAG_UPDATES,
    {0},
};

static const struct cmd group_create_c = {
    .name = "create",
    .summary = "Create a resource group",
    .usage = "-n NAME [-l LOCATION] [--tags K=V ...]",
    .help = "Create a resource group: a named folder for VMs, disks, networks and their "
            "bills. Names are 1-64 letters, digits, '.', '_' or '-', unique on the host, "
            "case-insensitive. As with az, creating a group that exists is not an error: kumo "
            "shows it (after setting --tags, when given; kumod's PUT makes it idempotent).",
    .opts = group_create_opts,
    .run = group_create,
    .positionals = 1,
    .examples = "  kumo group create -n web --tags team=blue\n"};
static const struct opt group_list_opts[] = {OPT_TAG_FILTER, {0}};
static const struct cmd group_list_c =
    RES_LIST(&group, "List the resource groups", group_list_opts);
static const struct cmd group_show_c = RES_SHOW(&group, "Show a resource group", group_name_opts);
static const struct cmd group_update_c = {.name = "update",
                                          .summary = "Change a group's tags",
                                          .usage =
                                              "-n NAME (--set tags.K=V ... | --add-tags "
                                              "K=V ... | --remove tags.K ... | --tags K=V ...)",
                                          .opts = group_update_opts,
                                          .run = group_update,
                                          .positionals = 1};
static const struct cmd group_delete_c = {
    .name = "delete",
    .summary = "Delete a resource group and everything in it",
    .usage = "-n NAME [--yes] [--no-wait]",
    .help = "Delete a resource group with everything in it, as az group delete does: its scale "
            "sets, VMs (powered off, with every disk attached to them), NICs, public IPs, "
            "virtual networks, NSGs, disks, snapshots and autoscale settings, in that order. "
            "kumo first asks, naming how many of each go; without a terminal it needs --yes. "
            "kumod carries the delete out (nothing new can be made in the group meanwhile); "
            "kumo shows what it is waiting for until the group is gone. Images are the "
            "host's, not a group's: they stay.",
    .opts = group_name_opts,
    .run = group_delete,
    .positionals = 1,
    .waits = true,
    .confirms = true,
    .examples = "  kumo group delete -n web --yes\n  kumo group delete -n web --yes --no-wait\n"};

static const struct opt resource_list_opts[] = {
    OPT_G_FILTER,
    OPT_TAG_FILTER,
    {0},
};
static const struct cmd resource_list_c = {
    .name = "list",
    .summary = "List everything in a resource group (or in every group)",
    .usage = "[-g RG] [--tag KEY[=VALUE]]",
    .help = "List the resources of a group (-g or $KUMO_GROUP), or of every group: scale "
            "sets, VMs, autoscale settings, NICs, public IPs, virtual networks, NSGs, disks and "
            "snapshots, in the order a group delete removes them, with their type, state and "
            "tags.",
    .opts = resource_list_opts,
    .run = resource_list,
    .examples = "  kumo resource list -g web\n  kumo resource list --tag team=blue -o tsv\n"};
const struct cmd cmd_resource = {
    .name = "resource",
    .summary = "Everything in a resource group: list",
    .sub = (const struct cmd *const[]){&resource_list_c, NULL},
};

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

static const char *host_role(const json_t *h)
{
    return member_bool(h, "leader") ? "leader" : "";
}

static const struct column host_columns[] = {
    COL("Name", "name", CELL_TEXT),
    COL("Location", "location", CELL_TEXT),
    COL("State", "state", CELL_TEXT),
    COL_GET("Role", host_role),
    COL("Address", "underlayAddress", CELL_TEXT),
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
    kv_add(t, "State", fmt_str("%s%s", member_text(h, "state"),
                               member_bool(h, "leader") ? " (the leader)" : ""));
    if (json_object_get(h, "underlayAddress")) {
        kv_add(t, "Underlay", member_text(h, "underlayAddress"));
        kv_add(t, "Public IPs on", member_text(h, "publicAddress"));
        kv_add(t, "Storage", member_bool(h, "sharedStorage")
                                 ? "shared (its VMs restart elsewhere if it fails)"
                                 : "its own (its VMs wait for it if it fails)");
    }
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

/* drain / resume */
static int host_drain_as(struct cli *c, struct args *a, const char *action)
{
    const char *n = need_name(c, a, host.what);
    if (!n) return KX_USAGE;
    char *p = res_path_of(&host, NULL, NULL, n);
    int rc = send_show(c, "POST", fmt_str("%s/%s", p, action), NULL, host_view);
    free(p);
    return rc;
}

static int host_drain(struct cli *c, struct args *a)
{
    return host_drain_as(c, a, "drain");
}

static int host_resume(struct cli *c, struct args *a)
{
    return host_drain_as(c, a, "resume");
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
static const struct cmd host_drain_c = {
    .name = "drain",
    .summary = "Move every VM off a host (cluster mode)",
    .usage = "-n HOST",
    .help = "The host takes no new VMs, and the cluster's leader moves its VMs to other hosts: "
            "running ones are stopped there and started elsewhere (no live migration yet), "
            "stopped ones keep their reservation elsewhere. kumo host list shows it Draining; "
            "kumo host resume takes it back.",
    .opts = host_opts,
    .run = host_drain,
    .positionals = 1};
static const struct cmd host_resume_c = {
    .name = "resume",
    .summary = "Let a drained host take VMs again (cluster mode)",
    .usage = "-n HOST",
    .opts = host_opts,
    .run = host_resume,
    .positionals = 1};
const struct cmd cmd_host = {
    .name = "host",
    .summary = "Hosts (the machines VMs run on): list, show, update, drain, resume",
    .sub = (const struct cmd *const[]){&host_list_c, &host_show_c, &host_update_c, &host_drain_c,
                                       &host_resume_c, NULL},
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
