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
    char *e = qesc(value);
    char *r = tmp("%s%s%s=%s", q, *q ? "&" : "?", key, e);
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
    char *q = tmp("%s", "");
    q = add_q(q, "from", from);
    q = add_q(q, "to", to);
    if (group) {
        const char *g = arg_str(a, "resource-group");
        if (!g) g = getenv("KUMO_GROUP");
        if (g && *g) q = add_q(q, "resourceGroup", g);
    }
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
    if (unit && strcmp(unit, "hour") == 0) return tmp("%.4f h", q);
    return tmp("%.6f %s", q, unit ? unit : "");
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
    int rc = api(c, "GET", tmp("/cost%s", q), NULL, &j);
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
        json_array_foreach(rows, i, r) ROW(t, js(r, "key"), fmt_money(jd(r, "cost")));
    } else if (!strcmp(api_by, "vm")) {
        t = TABLE("ResourceGroup", "Type", "Resource", "Usage", ">Cost (USD)");
        json_array_foreach(rows, i, r)
        {
            char *use = tmp("%s", "");
            size_t k;
            const json_t *m;
            json_array_foreach(json_object_get(r, "meters"), k, m) use =
                tmp("%s%s%s: %s", use, *use ? ", " : "", jsn(m, "meter"),
                    qty(jd(m, "quantity"), js(m, "unit")));
            ROW(t, js(r, "resourceGroup"), type_word(js(r, "resourceType")), js(r, "resource"), use,
                fmt_money(jd(r, "cost")));
        }
    } else {
        t = TABLE("Meter", ">Quantity", ">Price (USD)", ">Cost (USD)");
        json_array_foreach(rows, i, r)
            ROW(t, js(r, "key"), qty(jd(r, "quantity"), js(r, "unit")),
                tmp("%g/%s", jd(r, "pricePerUnit"), jsn(r, "unit")), fmt_money(jd(r, "cost")));
    }
    if (json_array_size(rows) && c->out == OUT_TABLE)
        table_print(t, c->out);
    else if (c->out == OUT_TSV)
        table_print(t, c->out);
    else
        puts("(no usage in this period)");
    table_free(t);
    if (c->out == OUT_TABLE)
        printf("\nTotal: %s %s from %s to %s (UTC)\n", fmt_money(jd(j, "total")),
               jsn(j, "currency"), fmt_time(js(j, "from")), fmt_time(js(j, "to")));
    json_decref(j);
    return KX_OK;
}

static void usage_row(const json_t *u, const char **cells)
{
    cells[0] = js(u, "resourceGroup");
    cells[1] = type_word(js(u, "resourceType"));
    cells[2] = js(u, "resource");
    cells[3] = js(u, "meter");
    cells[4] = tmp("%g/%s", jd(u, "pricePerUnit"), jsn(u, "unit"));
    cells[5] = fmt_time(js(u, "start"));
    cells[6] = js(u, "end") ? fmt_time(js(u, "end")) : "(open)";
}

static const struct view usage_view = {(const char *[]){"ResourceGroup", "Type", "Resource",
                                                        "Meter", ">Price (USD)", "Start (UTC)",
                                                        "End (UTC)", NULL},
                                       usage_row};

static int usage(struct cli *c, struct args *a)
{
    char *q = range_query(c, a, true);
    if (!q) return KX_USAGE;
    return list_path(c, tmp("/usage%s", q), &usage_view);
}

/* ---- metrics ---- */

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static const char *metric_value(const char *name, double v)
{
    if (!strcmp(name, "cpuPercent")) return tmp("%.1f", v);
    if (strstr(name, "MiB") || strstr(name, "Bytes")) return tmp("%.0f", v);
    return tmp("%.1f", v);
}

static int metrics_vm(struct cli *c, struct args *a)
{
    const char *g = need_group(c, a), *n = g ? need_name(c, a, "VM") : NULL;
    if (!n) return KX_USAGE;
    char *q = range_query(c, a, false);
    if (!q) return KX_USAGE;
    int nn;
    const char *const *names = arg_list(a, "names", &nn);
    char *list = tmp("%s", "");
    for (int i = 0; i < nn; i++)
        list = tmp("%s%s%s", list, i ? "," : "", names[i]);
    if (nn) q = add_q(q, "names", list);
    char *p = upath("/resourceGroups/%s/virtualMachines/%s/metrics", g, n);
    json_t *j;
    int rc = api(c, "GET", tmp("%s%s", p, q), NULL, &j);
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
        char *all = tmp("%s", list);
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
            if (!js(s, "at")) continue;
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
            times[nt++] = js(s, "at");
        }
    }
    if (nt) qsort(times, nt, sizeof(char *), cmp_str);
    const char *hdr[MAX_COLS];
    hdr[0] = "Time (UTC)";
    for (int k = 0; k < ncols; k++)
        hdr[k + 1] = tmp(">%s", cols[k]);
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
                if (js(s, "at") && !strcmp(js(s, "at"), times[i])) {
                    cells[k + 1] = metric_value(cols[k], jd(s, "value"));
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
               ji(j, "intervalSeconds"));
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

static const struct opt range_opts[] = {
    {"resource-group", 'g', OPT_VALUE, "RG", "only this group (default: $KUMO_GROUP, else all)",
     NULL},
    {"from", 0, OPT_VALUE, "TIME",
     "start: RFC 3339, seconds since the epoch, or an age (30m, 2h, 1d); default: the first "
     "record",
     "query.from"},
    {"to", 0, OPT_VALUE, "TIME", "end (default: now)", "query.to"},
    {0},
};

static const struct opt cost_opts[] = {
    {"group-by", 0, OPT_VALUE, "BY",
     "resource-group (default), vm (one row per VM, disk and public IP) or meter", "query.groupBy"},
    {"resource-group", 'g', OPT_VALUE, "RG", "only this group (default: $KUMO_GROUP, else all)",
     "query.resourceGroup"},
    {"from", 0, OPT_VALUE, "TIME",
     "start: RFC 3339, seconds since the epoch, or an age (30m, 2h, 1d); default: the first "
     "record",
     "query.from"},
    {"to", 0, OPT_VALUE, "TIME", "end (default: now)", "query.to"},
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
