/*
 * billing.c - what things cost and what VMs do: kumo cost (the report of
 * GET /v1/cost), kumo usage (the usage records behind it) and kumo metrics
 * (a VM's time series, or the Prometheus text).
 */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Append "&key=value" (escaped) to a query when value is set. */
static char *add_q(char *q, const char *key, const char *value)
{
    if (!value) return q;
    char *e = query_escape(value);
    char *r = fmt_str("%s%s%s=%s", q, *q ? "&" : "?", key, e);
    free(e);
    return r;
}

/* --from, --to and -g as a query string; NULL after a usage error. */
static char *range_query(struct cli *c, const struct args *a, bool group)
{
    bool bad = false;
    const char *from = time_arg(c, a, "from", &bad);
    const char *to = bad ? NULL : time_arg(c, a, "to", &bad);
    if (bad) return NULL;
    char *q = fmt_str("%s", "");
    q = add_q(q, "from", from);
    q = add_q(q, "to", to);
    if (group) q = add_q(q, "resourceGroup", opt_group(a));
    return q;
}

static const char *type_word(const char *t)
{
    if (!t) return "-";
    if (strcmp(t, "virtualMachine") == 0) return "VM";
    if (strcmp(t, "disk") == 0) return "disk";
    if (strcmp(t, "publicIPAddress") == 0) return "public IP";
    return t;
}

static const char *qty(double q, const char *unit)
{
    if (unit && strcmp(unit, "hour") == 0) return fmt_str("%.4f h", q);
    return fmt_str("%.6f %s", q, unit ? unit : "");
}

static int cost(struct cli *c, struct args *a)
{
    const char *by = arg_str(a, "group-by");
    const char *api_by = "resourceGroup";
    if (by) {
        if (!strcmp(by, "resource-group") || !strcmp(by, "resourceGroup") || !strcmp(by, "group") ||
            !strcmp(by, "rg"))
            api_by = "resourceGroup";
        else if (!strcmp(by, "vm") || !strcmp(by, "resource"))
            api_by = "vm";
        else if (!strcmp(by, "meter"))
            api_by = "meter";
        else
            return usage_error(c,
                               "--group-by: '%s' is not one of resource-group, vm (one row per "
                               "resource) or meter",
                               by);
    }
    char *q = range_query(c, a, true);
    if (!q) return KX_USAGE;
    q = add_q(q, "groupBy", api_by);
    json_t *j;
    int rc = api(c, "GET", fmt_str("/cost%s", q), NULL, &j);
    if (rc) return rc;
    if (c->out == OUT_JSON) {
        print_json(j);
        json_decref(j);
        return KX_OK;
    }
    const json_t *rows = json_object_get(j, "rows");
    struct table *t;
    size_t i;
    const json_t *r;
    if (!strcmp(api_by, "resourceGroup")) {
        t = TABLE("ResourceGroup", ">Cost (USD)");
        json_array_foreach(rows, i, r)
            ROW(t, member_str(r, "key"), fmt_money(member_num(r, "cost")));
    } else if (!strcmp(api_by, "vm")) {
        t = TABLE("ResourceGroup", "Type", "Resource", "Usage", ">Cost (USD)");
        json_array_foreach(rows, i, r)
        {
            char *use = fmt_str("%s", "");
            size_t k;
            const json_t *m;
            json_array_foreach(json_object_get(r, "meters"), k, m) use =
                fmt_str("%s%s%s: %s", use, *use ? ", " : "", member_text(m, "meter"),
                        qty(member_num(m, "quantity"), member_str(m, "unit")));
            ROW(t, member_str(r, "resourceGroup"), type_word(member_str(r, "resourceType")),
                member_str(r, "resource"), use, fmt_money(member_num(r, "cost")));
        }
    } else {
        t = TABLE("Meter", ">Quantity", ">Price (USD)", ">Cost (USD)");
        json_array_foreach(rows, i, r)
            ROW(t, member_str(r, "key"), qty(member_num(r, "quantity"), member_str(r, "unit")),
                fmt_str("%g/%s", member_num(r, "pricePerUnit"), member_text(r, "unit")),
                fmt_money(member_num(r, "cost")));
    }
    if (json_array_size(rows) && c->out == OUT_TABLE)
        table_print(t, c->out);
    else if (c->out == OUT_TSV)
        table_print(t, c->out);
    else
        puts("(no usage in this period)");
    table_free(t);
    if (c->out == OUT_TABLE)
        printf("\nTotal: %s %s from %s to %s (UTC)\n", fmt_money(member_num(j, "total")),
               member_text(j, "currency"), fmt_time(member_str(j, "from")),
               fmt_time(member_str(j, "to")));
    json_decref(j);
    return KX_OK;
}

static const char *usage_type(const json_t *u)
{
    return type_word(member_str(u, "resourceType"));
}

static const char *usage_price(const json_t *u)
{
    return fmt_str("%g/%s", member_num(u, "pricePerUnit"), member_text(u, "unit"));
}

static const char *usage_end(const json_t *u)
{
    return member_str(u, "end") ? fmt_time(member_str(u, "end")) : "(open)";
}

static const struct column usage_columns[] = {
    COL("ResourceGroup", "resourceGroup", CELL_TEXT),
    COL_GET_RAW("Type", usage_type, "resourceType"),
    COL("Resource", "resource", CELL_TEXT),
    COL("Meter", "meter", CELL_TEXT),
    COL_GET_RAW(">Price (USD)", usage_price, "pricePerUnit"),
    COL("Start (UTC)", "start", CELL_TIME),
    COL_GET_RAW("End (UTC)", usage_end, "end"),
    {0},
};

static int usage(struct cli *c, struct args *a)
{
    char *q = range_query(c, a, true);
    if (!q) return KX_USAGE;
    return list_path(c, fmt_str("/usage%s", q), usage_columns);
}

/* ---- metrics ---- */

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static const char *metric_value(const char *name, double v)
{
    if (!strcmp(name, "cpuPercent")) return fmt_str("%.1f", v);
    if (strstr(name, "MiB") || strstr(name, "Bytes")) return fmt_str("%.0f", v);
    return fmt_str("%.1f", v);
}

static int metrics_vm(struct cli *c, struct args *a)
{
    const char *g = need_group(c, a), *n = g ? need_name(c, a, "VM") : NULL;
    if (!n) return KX_USAGE;
    char *q = range_query(c, a, false);
    if (!q) return KX_USAGE;
    int nn;
    const char *const *names = arg_list(a, "names", &nn);
    char *list = fmt_str("%s", "");
    for (int i = 0; i < nn; i++)
        list = fmt_str("%s%s%s", list, i ? "," : "", names[i]);
    if (nn) q = add_q(q, "names", list);
    char *p = api_path("/resourceGroups/%s/virtualMachines/%s/metrics", g, n);
    json_t *j;
    int rc = api(c, "GET", fmt_str("%s%s", p, q), NULL, &j);
    free(p);
    if (rc) return rc;
    if (c->out == OUT_JSON) {
        print_json(j);
        json_decref(j);
        return KX_OK;
    }
    static const char *const dflt[] = {"cpuPercent",   "memoryUsedMiB",  "diskReadOps",
                                       "diskWriteOps", "networkInBytes", "networkOutBytes"};
    const json_t *m = json_object_get(j, "metrics");
    const char *cols[MAX_COLS];
    int ncols = 0;
    if (nn) {
        /* the column order of the request, split at commas */
        char *all = fmt_str("%s", list);
        for (char *save, *tok = strtok_r(all, ",", &save); tok && ncols < MAX_COLS - 1;
             tok = strtok_r(NULL, ",", &save))
            cols[ncols++] = tok;
    } else {
        for (size_t i = 0; i < sizeof(dflt) / sizeof(dflt[0]); i++)
            cols[ncols++] = dflt[i];
    }
    /* the union of sample times */
    size_t nt = 0, cap = 0;
    const char **times = NULL;
    for (int k = 0; k < ncols; k++) {
        size_t i;
        const json_t *s;
        json_array_foreach(json_object_get(m, cols[k]), i, s)
        {
            if (!member_str(s, "at")) continue;
            if (nt == cap) {
                cap = cap * 2 + 64;
                const char **nt2 = realloc(times, cap * sizeof(char *));
                if (!nt2) {
                    free(times);
                    json_decref(j);
                    return KX_ERROR;
                }
                times = nt2;
            }
            times[nt++] = member_str(s, "at");
        }
    }
    if (nt) qsort(times, nt, sizeof(char *), cmp_str);
    const char *hdr[MAX_COLS];
    hdr[0] = "Time (UTC)";
    for (int k = 0; k < ncols; k++)
        hdr[k + 1] = fmt_str(">%s", cols[k]);
    struct table *t = table_new(ncols + 1, hdr);
    size_t rows = 0;
    for (size_t i = 0; i < nt; i++) {
        if (i && !strcmp(times[i], times[i - 1])) continue;
        const char *cells[MAX_COLS] = {fmt_time(times[i])};
        for (int k = 0; k < ncols; k++) {
            size_t x;
            const json_t *s;
            json_array_foreach(json_object_get(m, cols[k]), x, s)
            {
                if (member_str(s, "at") && !strcmp(member_str(s, "at"), times[i])) {
                    cells[k + 1] = metric_value(cols[k], member_num(s, "value"));
                    break;
                }
            }
        }
        table_add(t, cells);
        rows++;
    }
    if (rows || c->out == OUT_TSV)
        table_print(t, c->out);
    else
        printf("(no samples in this period: kumod samples running VMs every %lld s)\n",
               member_int(j, "intervalSeconds"));
    table_free(t);
    free(times);
    json_decref(j);
    return KX_OK;
}

static int metrics_prometheus(struct cli *c, struct args *a)
{
    (void)a;
    struct resp r;
    int rc = http_request(c, "GET", "//metrics", NULL, &r);
    if (rc) return rc;
    if (r.status != 200) {
        rc = api_fail(c, &r);
        resp_free(&r);
        return rc;
    }
    fwrite(r.body, 1, r.len, stdout);
    resp_free(&r);
    return KX_OK;
}

/* ---- command tables ---- */

#define OPT_RANGE                                                                                  \
    {"from",                                                                                       \
     0,                                                                                            \
     OPT_VALUE,                                                                                    \
     "TIME",                                                                                       \
     "start: RFC 3339, seconds since the epoch, or an age (30m, 2h, 1d); default: the first "      \
     "record",                                                                                     \
     "query.from"},                                                                                \
    {                                                                                              \
        "to", 0, OPT_VALUE, "TIME", "end (default: now)", "query.to"                               \
    }

static const struct opt range_opts[] = {
    {"resource-group", 'g', OPT_VALUE, "RG", "only this group (default: $KUMO_GROUP, else all)",
     NULL},
    OPT_RANGE,
    {0},
};

static const struct opt cost_opts[] = {
    {"group-by", 0, OPT_VALUE, "BY",
     "resource-group (default), vm (one row per VM, disk and public IP) or meter", "query.groupBy"},
    {"resource-group", 'g', OPT_VALUE, "RG", "only this group (default: $KUMO_GROUP, else all)",
     "query.resourceGroup"},
    OPT_RANGE,
    {0},
};

static const struct opt metrics_opts[] = {
    {"resource-group", 'g', OPT_VALUE, "RG", "the VM's resource group (default: $KUMO_GROUP)",
     NULL},
    {"name", 'n', OPT_VALUE, "VM", "the VM (or give it as the last word)", NULL},
    {"names", 0, OPT_LIST, "METRIC",
     "which metrics (default in a table: cpuPercent memoryUsedMiB diskReadOps diskWriteOps "
     "networkInBytes networkOutBytes; also memoryMiB, cpuCredits, cpuThrottledPercent, "
     "diskReadBytes, diskWriteBytes, networkInPackets, networkOutPackets)",
     "query.names"},
    {"from", 0, OPT_VALUE, "TIME",
     "start (default: an hour ago); RFC 3339, epoch or an age "
     "(10m)",
     "query.from"},
    {"to", 0, OPT_VALUE, "TIME", "end (default: now)", "query.to"},
    {0},
};

const struct cmd cmd_cost = {
    .name = "cost",
    .summary = "What resources cost, by resource group, resource or meter",
    .usage = "[--group-by resource-group|vm|meter] [-g RG] [--from TIME] [--to TIME]",
    .help = "The cost report: VMs billed per second by size while allocated (Starting, "
            "Running, Stopping, Stopped), disks per GiB-month of their billed size while they "
            "exist, public IPs per hour. Costs are in USD, unrounded.",
    .opts = cost_opts,
    .run = cost,
    .examples = "  kumo cost\n  kumo cost --group-by vm -g web --from 1h\n"
                "  kumo cost --group-by meter -o json\n",
};

const struct cmd cmd_usage = {
    .name = "usage",
    .summary = "The usage records behind the cost report",
    .usage = "[-g RG] [--from TIME] [--to TIME]",
    .help = "Every usage record: one per resource and billed state, with its meter, price and "
            "interval (an open record has no end).",
    .opts = range_opts,
    .run = usage,
};

static const struct cmd metrics_vm_c = {
    .name = "vm",
    .summary = "A VM's CPU, memory, disk and network time series",
    .usage = "-g RG NAME [--names METRIC ...] [--from TIME] [--to TIME]",
    .help = "kumod samples each running VM every few seconds (kumod --metrics-interval): CPU "
            "percent of its vCPUs, memory, disk and network rates.",
    .opts = metrics_opts,
    .run = metrics_vm,
    .positionals = 1,
    .examples = "  kumo metrics vm -g web web1 --from 10m\n"
                "  kumo metrics vm -g web web1 --names cpuPercent -o json\n",
};

static const struct cmd metrics_prom_c = {
    .name = "prometheus",
    .summary = "The latest sample of every VM, as Prometheus text (GET /metrics)",
    .run = metrics_prometheus,
};

const struct cmd cmd_metrics = {
    .name = "metrics",
    .summary = "Metrics: vm, prometheus",
    .sub = (const struct cmd *const[]){&metrics_vm_c, &metrics_prom_c, NULL},
};
