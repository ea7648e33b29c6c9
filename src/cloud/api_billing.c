/*
 * api_billing.c - the API's reports: cost and usage (billing.c does the
 * arithmetic), VM metrics as JSON time series and the Prometheus text of
 * /metrics (metrics.c).
 */
#include "cloud/api.h"

#include "cloud/billing.h"
#include "cloud/db.h"
#include "cloud/metrics.h"
#include "cloud/timefmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool range(struct api_ctx *c, int64_t dflt_from, int64_t *from, int64_t *to)
{
    int64_t now = time_now_ms();
    if (!api_query_time(c, "to", now, to) || !api_query_time(c, "from", dflt_from, from))
        return false;
    if (*from > *to) {
        kerr_set(&c->err, 400, "InvalidQuery", "query.from",
                 "query.from: must not be after query.to");
        return false;
    }
    return true;
}

static bool group_filter(struct api_ctx *c, const char **group)
{
    *group = http_query(c->rq, "resourceGroup");
    if (*group && !**group) *group = NULL;
    return true;
}

static void cost(struct api_ctx *c)
{
    int64_t from, to;
    const char *group;
    if (!range(c, billing_first_ms(c->k->db, time_now_ms()), &from, &to) ||
        !group_filter(c, &group))
        return;
    const char *by = http_query(c->rq, "groupBy");
    if (!by) by = "resourceGroup";
    if (strcmp(by, "vm") && strcmp(by, "resourceGroup") && strcmp(by, "meter")) {
        kerr_set(&c->err, 400, "InvalidQuery", "query.groupBy",
                 "query.groupBy: '%.40s' is not vm, resourceGroup or meter", by);
        return;
    }
    json_t *out = billing_cost_report(c->k->db, from, to, by, group, &c->err);
    if (out) api_reply(c, 200, out);
}

static void usage(struct api_ctx *c)
{
    int64_t from, to;
    const char *group;
    if (!range(c, billing_first_ms(c->k->db, time_now_ms()), &from, &to) ||
        !group_filter(c, &group))
        return;
    json_t *out = billing_usage_list(c->k->db, from, to, group, &c->err);
    if (out) api_reply(c, 200, out);
}

static void vm_metrics(struct api_ctx *c)
{
    int64_t g = api_group(c, c->p[0]);
    if (g < 0) return;
    int64_t vm = api_find(c, "vms", g, c->p[1], "virtual machine", NULL);
    if (vm < 0) return;
    int64_t from, to;
    if (!range(c, time_now_ms() - 3600 * 1000, &from, &to)) return;
    json_t *out = metrics_vm_series(c->k, vm, from, to, http_query(c->rq, "names"), &c->err);
    if (!out) return;
    json_object_set_new(out, "vm", json_string(c->p[1]));
    json_object_set_new(out, "resourceGroup", json_string(c->p[0]));
    api_reply(c, 200, out);
}

static void prometheus(struct api_ctx *c)
{
    size_t len = 0;
    char *text = metrics_prometheus(c->k, &len);
    if (!text) {
        kerr_internal(&c->err, "cannot render the metrics");
        return;
    }
    api_reply_text(c, 200, text, len, "text/plain; version=0.0.4; charset=utf-8");
}

const struct api_route api_routes_billing[] = {
    {"GET", "/v1/cost", cost, -1},
    {"GET", "/v1/usage", usage, -1},
    {"GET", "/v1/resourceGroups/{}/virtualMachines/{}/metrics", vm_metrics, -1},
    {"GET", "/metrics", prometheus, -1},
    {NULL, NULL, NULL, -1},
};
