/*
 * scale.c - kumo vmss (scale sets: create, list, show, scale, update,
 * list-instances, delete) and kumo autoscale (settings, rules with
 * az monitor autoscale's --condition and --scale syntax, history).
 */
#include "cli/cli.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct resource scale_set, autoscale;

static char *set_path(const char *g, const char *n)
{
    return res_path_of(&scale_set, g, NULL, n);
}

static char *as_path(const char *g, const char *n)
{
    return res_path_of(&autoscale, g, NULL, n);
}

/* ---- scale set views ---- */

static const char *lb_text(const json_t *s)
{
    const json_t *lb = json_object_get(s, "loadBalancer");
    if (!json_is_object(lb)) return NULL;
    return fmt_str("%s:%lld -> :%lld", member_text(lb, "ipAddress"), member_int(lb, "frontendPort"),
                   member_int(lb, "backendPort"));
}

static const struct column set_columns[] = {
    COL("Name", "name", CELL_TEXT),
    COL("Size", "model.size", CELL_TEXT),
    COL(">Capacity", "capacity", CELL_INT),
    COL(">Running", "instances.running", CELL_INT),
    COL(">Model", "model.version", CELL_INT),
    COL_GET("LoadBalancer", lb_text),
    COL("Provisioning", "provisioningState", CELL_TEXT),
    {0},
};

static void set_view(struct cli *c, const json_t *s)
{
    struct table *t = kv_new();
    const json_t *m = json_object_get(s, "model"), *in = json_object_get(s, "instances");
    kv_add(t, "Name", member_text(s, "name"));
    kv_add(t, "Resource group", member_text(s, "resourceGroup"));
    kv_add(t, "Capacity",
           fmt_str("%lld (%lld instance%s, %lld running, %lld on the latest model)",
                   member_int(s, "capacity"), member_int(in, "total"),
                   member_int(in, "total") == 1 ? "" : "s", member_int(in, "running"),
                   member_int(in, "latestModel")));
    kv_add(t, "Model",
           fmt_str("version %lld: size %s, image %s, OS disk %s%s", member_int(m, "version"),
                   member_text(m, "size"), member_text(m, "image"),
                   member_text(json_object_get(m, "osDisk"), "tier"),
                   member_bool(m, "hasUserData") ? ", user data" : ""));
    kv_add(t, "Network",
           fmt_str("%s/%s, NSG %s", member_text(m, "vnet"), member_text(m, "subnet"),
                   member_text(m, "nsg")));
    const char *admin = fmt_admin_account(json_object_get(m, "osProfile"));
    kv_add(t, "Admin account", admin ? admin : "none");
    const json_t *lb = json_object_get(s, "loadBalancer");
    if (json_is_object(lb)) {
        const json_t *p = json_object_get(lb, "probe");
        kv_add(t, "Load balancer",
               fmt_str("%s:%lld (public IP %s) -> instances' port %lld, round robin",
                       member_text(lb, "ipAddress"), member_int(lb, "frontendPort"),
                       member_text(lb, "publicIp"), member_int(lb, "backendPort")));
        kv_add(t, "Health probe",
               fmt_str("%s%s%s every %lld s", member_text(p, "protocol"),
                       strcasecmp(member_text(p, "protocol"), "Http") ? "" : " GET ",
                       strcasecmp(member_text(p, "protocol"), "Http") ? "" : member_text(p, "path"),
                       member_int(p, "intervalSeconds")));
    }
    if (member_str(s, "autoscaleSetting"))
        kv_add(t, "Autoscale", member_str(s, "autoscaleSetting"));
    kv_add(t, "Provisioning", member_text(s, "provisioningState"));
    if (member_str(s, "lastError")) kv_add(t, "Last error", member_str(s, "lastError"));
    if (json_object_size(json_object_get(s, "tags")))
        kv_add(t, "Tags", fmt_tags(json_object_get(s, "tags")));
    kv_add(t, "Created", fmt_time(member_str(s, "createdAt")));
    kv_print(t, c->out);
}

static const struct resource scale_set = {
    .what = "scale set",
    .collection = "virtualMachineScaleSets",
    .scope = RES_GROUP,
    .columns = set_columns,
    .view = set_view,
};

static const struct column inst_columns[] = {
    COL("Name", "name", CELL_TEXT),
    COL(">InstanceId", "instanceId", CELL_INT),
    COL("PowerState", "powerState", CELL_TEXT),
    COL("Provisioning", "provisioningState", CELL_TEXT),
    COL("Health", "health", CELL_TEXT),
    COL("LatestModel", "latestModel", CELL_YESNO),
    COL("PrivateIp", "networkInterfaces.0.privateIp", CELL_TEXT),
    COL(">LbConnections", "lbConnections", CELL_INT),
    {0},
};

/* POST/PATCH then wait for the set to settle (unless --no-wait). */
static int send_and_wait(struct cli *c, const char *method, const char *path, const char *g,
                         const char *n, json_t *body)
{
    json_t *s;
    int rc = api(c, method, path, body, &s);
    if (rc) return rc;
    const char *name = member_str(s, "name") ? member_str(s, "name") : n;
    char *p = set_path(g, name);
    json_t *final;
    rc = finish_long(c, p, s, fmt_str("scale set '%s'", name),
                     fmt_str("kumo vmss show -g %s %s", g, name), false, &final);
    free(p);
    if (final) print_one(c, final, set_view);
    json_decref(final);
    return rc;
}

static int vmss_create(struct cli *c, struct args *a)
{
    const char *g = need_group(c, a), *n = g ? need_name(c, a, "scale set") : NULL;
    if (!n) return KX_USAGE;
    const char *size = arg_size(a);
    if (!size || !*size)
        return usage_error(c, "missing --size SIZE: the instances' vCPUs and memory, from 'kumo "
                              "size list' (e.g. --size B1s)");
    if (arg_has(a, "lb-port") && arg_has(a, "no-lb"))
        return usage_error(c, "--lb-port and --no-lb contradict each other");
    long count = 2, port = 0, interval = 0;
    if (arg_long(c, a, "instance-count", 0, 100, &count) < 0) return KX_USAGE;
    if (arg_long(c, a, "lb-port", 1, 65535, &port) < 0) return KX_USAGE;
    if (arg_long(c, a, "probe-interval", 1, 300, &interval) < 0) return KX_USAGE;
    if (!arg_has(a, "lb-port") && !arg_has(a, "no-lb")) port = 80;
    json_t *body = json_pack("{ss ss sI}", "name", n, "size", size, "capacity", (json_int_t)count);
    static const char *const strs[][2] = {
        {"image", "image"}, {"vnet", "vnet"}, {"subnet", "subnet"}, {"nsg", "nsg"}};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        if (arg_str(a, strs[i][0]))
            json_object_set_new(body, strs[i][1], json_string(arg_str(a, strs[i][0])));
    if (arg_str(a, "os-disk-tier"))
        json_object_set_new(body, "osDisk", json_pack("{ss}", "tier", arg_str(a, "os-disk-tier")));
    if (port > 0) {
        json_t *probe = json_object();
        if (arg_str(a, "probe-protocol"))
            json_object_set_new(probe, "protocol", json_string(arg_str(a, "probe-protocol")));
        if (arg_str(a, "probe-path"))
            json_object_set_new(probe, "path", json_string(arg_str(a, "probe-path")));
        if (interval) json_object_set_new(probe, "intervalSeconds", json_integer(interval));
        json_object_set_new(body, "loadBalancer",
                            json_pack("{sI so}", "port", (json_int_t)port, "probe", probe));
    } else if (arg_has(a, "probe-protocol") || arg_has(a, "probe-path") ||
               arg_has(a, "probe-interval")) {
        json_decref(body);
        return usage_error(c, "--probe-* options need the load balancer (leave out --no-lb)");
    }
    if (user_data_into(c, a, body) < 0 || tags_into(c, a, body) < 0 ||
        os_profile_into(c, a, body, arg_str(a, "image")) < 0) {
        json_decref(body);
        return KX_USAGE;
    }
    char *coll = res_path_of(&scale_set, g, NULL, NULL);
    int rc = send_and_wait(c, "POST", coll, g, n, body);
    free(coll);
    return rc;
}

static int vmss_scale(struct cli *c, struct args *a)
{
    const char *g = need_group(c, a), *n = g ? need_name(c, a, "scale set") : NULL;
    if (!n) return KX_USAGE;
    long cap;
    int r = arg_long(c, a, "new-capacity", 0, 100, &cap);
    if (r < 0) return KX_USAGE;
    if (r == 0) return usage_error(c, "missing --new-capacity N: how many instances to run");
    char *p = set_path(g, n);
    int rc = send_and_wait(c, "POST", fmt_str("%s/scale", p), g, n,
                           json_pack("{sI}", "capacity", (json_int_t)cap));
    free(p);
    return rc;
}

static int vmss_update(struct cli *c, struct args *a)
{
    const char *g = need_group(c, a), *n = g ? need_name(c, a, "scale set") : NULL;
    if (!n) return KX_USAGE;
    json_t *body = json_object();
    if (arg_size(a)) json_object_set_new(body, "size", json_string(arg_size(a)));
    if (arg_str(a, "image")) json_object_set_new(body, "image", json_string(arg_str(a, "image")));
    if (user_data_into(c, a, body) < 0) {
        json_decref(body);
        return KX_USAGE;
    }
    char *p = set_path(g, n);
    bool changed;
    int rc = tags_update(c, a, p, body, &changed);
    if (rc) {
        json_decref(body);
        free(p);
        return rc;
    }
    if (!json_object_size(body)) {
        json_decref(body);
        free(p);
        return usage_error(c, "nothing to update: give --size, --image, --user-data, --set "
                              "tags.K=V, --add-tags, --remove or --tags");
    }
    rc = send_and_wait(c, "PATCH", p, g, n, body);
    free(p);
    return rc;
}

static int vmss_instances(struct cli *c, struct args *a)
{
    const char *g = need_group(c, a), *n = g ? need_name(c, a, "scale set") : NULL;
    if (!n) return KX_USAGE;
    char *p = set_path(g, n);
    int rc = list_path(c, fmt_str("%s/instances", p), inst_columns);
    free(p);
    return rc;
}

static int vmss_delete(struct cli *c, struct args *a)
{
    const char *g = need_group(c, a), *n = g ? need_name(c, a, "scale set") : NULL;
    if (!n) return KX_USAGE;
    int rc = confirm_delete(
        c, a,
        fmt_str("Delete scale set '%s' in resource group '%s' with all its instances and their "
                "disks?",
                n, g));
    if (rc) return rc;
    char *p = set_path(g, n);
    json_t *s;
    long st = 0;
    rc = api_status(c, "DELETE", p, NULL, &s, &st);
    json_decref(s);
    if (!rc && st == 202 && !c->no_wait)
        rc = api_wait(c, p, fmt_str("scale set '%s'", n), fmt_str("kumo vmss show -g %s %s", g, n),
                      true, NULL);
    free(p);
    if (!rc && c->out == OUT_TABLE)
        printf(st == 202 && c->no_wait ? "Deleting scale set '%s'.\n" : "Deleted scale set '%s'.\n",
               n);
    return rc;
}

/* ---- autoscale ---- */

/* "5m", "30s", "1h", "2" (minutes, as az's --cooldown) or ISO 8601 ->
 * ISO 8601; NULL if not understood. */
static const char *iso_duration(const char *s, bool bare_is_minutes)
{
    if (!s || !*s) return NULL;
    if (s[0] == 'P' || s[0] == 'p') return s;
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || v < 0 || v > 1000000) return NULL;
    if (!*end) return bare_is_minutes ? fmt_str("PT%ldM", v) : NULL;
    if (end[1]) return NULL;
    switch (tolower((unsigned char)*end)) {
    case 's': return fmt_str("PT%ldS", v);
    case 'm': return fmt_str("PT%ldM", v);
    case 'h': return fmt_str("PT%ldH", v);
    case 'd': return fmt_str("P%ldD", v);
    }
    return NULL;
}

static const char *agg_word(const char *w)
{
    static const char *const map[][2] = {
        {"avg", "Average"}, {"average", "Average"}, {"min", "Minimum"}, {"minimum", "Minimum"},
        {"max", "Maximum"}, {"maximum", "Maximum"}, {"total", "Total"}, {"sum", "Total"},
        {"count", "Count"}, {"last", "Last"}};
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (!strcasecmp(w, map[i][0])) return map[i][1];
    return NULL;
}

/* --condition "Percentage CPU > 70 avg 5m" -> a metricTrigger. */
static json_t *parse_condition(struct cli *c, const char *cond)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", cond);
    char *w[32];
    int n = 0;
    for (char *t = strtok(buf, " \t"); t && n < 32; t = strtok(NULL, " \t"))
        w[n++] = t;
    static const char *const ops[][2] = {{">", "GreaterThan"}, {">=", "GreaterThanOrEqual"},
                                         {"<", "LessThan"},    {"<=", "LessThanOrEqual"},
                                         {"==", "Equals"},     {"!=", "NotEquals"}};
    const char *op = NULL;
    if (n >= 5)
        for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
            if (!strcmp(w[n - 4], ops[i][0])) op = ops[i][1];
    char *end = NULL;
    double th = n >= 5 ? strtod(w[n - 3], &end) : 0;
    const char *agg = n >= 5 ? agg_word(w[n - 2]) : NULL;
    const char *win = n >= 5 ? iso_duration(w[n - 1], false) : NULL;
    if (!op || !end || *end || !agg || !win) {
        usage_error(c,
                    "--condition: '%s' is not \"METRIC OP THRESHOLD AGGREGATION WINDOW\", e.g. "
                    "\"Percentage CPU > 70 avg 5m\" (OP: > >= < <= == !=; AGGREGATION: avg min "
                    "max total count last; WINDOW: 30s, 5m, 1h)",
                    cond);
        return NULL;
    }
    char metric[128] = "";
    for (int i = 0; i < n - 4; i++)
        snprintf(metric + strlen(metric), sizeof(metric) - strlen(metric), "%s%s", i ? " " : "",
                 w[i]);
    return json_pack("{ss ss ss sf ss}", "metricName", metric, "operator", op, "timeAggregation",
                     agg, "threshold", th, "timeWindow", win);
}

static int rule_create(struct cli *c, struct args *a)
{
    const char *g = need_group(c, a);
    if (!g) return KX_USAGE;
    const char *asn = need_opt(c, a, "autoscale-name", "the autoscale setting");
    if (!asn) return KX_USAGE;
    const char *cond = need_opt(c, a, "condition", "when the rule fires");
    if (!cond) return KX_USAGE;
    int ns;
    const char *const *scale = arg_list(a, "scale", &ns);
    if (ns != 2)
        return usage_error(c, "--scale: give a direction and an amount: out N, in N, out N%%, "
                              "in N%% or to N");
    json_t *mt = parse_condition(c, cond);
    if (!mt) return KX_USAGE;
    const char *dir = scale[0];
    char *end;
    long v = strtol(scale[1], &end, 10);
    const char *type = "ChangeCount";
    if (*end == '%' && !end[1]) {
        type = "PercentChangeCount";
    } else if (*end || end == scale[1]) {
        json_decref(mt);
        return usage_error(c, "--scale: '%s' is not a whole number (or N%%)", scale[1]);
    }
    const char *direction;
    if (!strcasecmp(dir, "out")) {
        direction = "Increase";
    } else if (!strcasecmp(dir, "in")) {
        direction = "Decrease";
    } else if (!strcasecmp(dir, "to")) {
        direction = "Increase";
        type = "ExactCount";
    } else {
        json_decref(mt);
        return usage_error(c, "--scale: '%s' is not out, in or to", dir);
    }
    const char *grain = arg_str(a, "time-grain");
    if (grain) {
        /* az's form "avg 1m": the statistic, then the grain */
        char gb[64];
        snprintf(gb, sizeof(gb), "%s", grain);
        char *sp = strchr(gb, ' ');
        const char *gw = gb;
        if (sp) {
            *sp = 0;
            const char *stat = agg_word(gb);
            static const char *const st_map[][2] = {
                {"Average", "Average"}, {"Minimum", "Min"}, {"Maximum", "Max"}, {"Total", "Sum"}};
            const char *sv = NULL;
            for (size_t i = 0; stat && i < 4; i++)
                if (!strcmp(stat, st_map[i][0])) sv = st_map[i][1];
            if (!sv) {
                json_decref(mt);
                return usage_error(c, "--time-grain: '%s' is not avg, min, max or sum", gb);
            }
            json_object_set_new(mt, "statistic", json_string(sv));
            gw = sp + 1;
        }
        const char *iso = iso_duration(gw, false);
        if (!iso) {
            json_decref(mt);
            return usage_error(c, "--time-grain: '%s' is not a duration like 1m or 10s", gw);
        }
        json_object_set_new(mt, "timeGrain", json_string(iso));
    }
    json_t *sa =
        json_pack("{ss ss sI}", "direction", direction, "type", type, "value", (json_int_t)v);
    if (arg_str(a, "cooldown")) {
        const char *iso = iso_duration(arg_str(a, "cooldown"), true);
        if (!iso) {
            json_decref(mt);
            json_decref(sa);
            return usage_error(c, "--cooldown: '%s' is not minutes or a duration like 30s or 5m",
                               arg_str(a, "cooldown"));
        }
        json_object_set_new(sa, "cooldown", json_string(iso));
    }
    char *p = as_path(g, asn);
    json_t *out;
    int rc = api(c, "POST", fmt_str("%s/rules", p),
                 json_pack("{so so}", "metricTrigger", mt, "scaleAction", sa), &out);
    free(p);
    if (rc) return rc;
    if (c->out == OUT_JSON) {
        const json_t *rules = json_object_get(out, "rules");
        print_json(json_array_get(rules, json_array_size(rules) - 1));
    } else {
        printf("Rule %zu added to autoscale setting '%s'.\n",
               json_array_size(json_object_get(out, "rules")) - 1, asn);
    }
    json_decref(out);
    return KX_OK;
}

static const char *rule_text(const json_t *r)
{
    const json_t *mt = json_object_get(r, "metricTrigger"), *sa = json_object_get(r, "scaleAction");
    const char *ops[][2] = {{"GreaterThan", ">"}, {"GreaterThanOrEqual", ">="},
                            {"LessThan", "<"},    {"LessThanOrEqual", "<="},
                            {"Equals", "=="},     {"NotEquals", "!="}};
    const char *op = member_text(mt, "operator");
    for (size_t i = 0; i < 6; i++)
        if (!strcmp(op, ops[i][0])) op = ops[i][1];
    const char *type = member_text(sa, "type");
    const char *act =
        !strcmp(type, "ExactCount")
            ? fmt_str("to %lld", member_int(sa, "value"))
            : fmt_str("%s %lld%s", strcmp(member_text(sa, "direction"), "Increase") ? "in" : "out",
                      member_int(sa, "value"), strcmp(type, "PercentChangeCount") ? "" : "%");
    return fmt_str("%s %s %g %s %s (grain %s %s): scale %s, cooldown %s",
                   member_text(mt, "metricName"), op, member_num(mt, "threshold"),
                   lower(member_text(mt, "timeAggregation")), member_text(mt, "timeWindow"),
                   lower(member_text(mt, "statistic")), member_text(mt, "timeGrain"), act,
                   member_text(sa, "cooldown"));
}

static void as_view(struct cli *c, const json_t *s)
{
    struct table *t = kv_new();
    const json_t *cap = json_object_get(s, "capacity");
    kv_add(t, "Name", member_text(s, "name"));
    kv_add(t, "Resource group", member_text(s, "resourceGroup"));
    kv_add(t, "Scale set", member_text(s, "scaleSet"));
    kv_add(t, "Enabled", member_bool(s, "enabled") ? "yes" : "no");
    kv_add(t, "Capacity",
           fmt_str("minimum %lld, maximum %lld, default %lld (now %lld)",
                   member_int(cap, "minimum"), member_int(cap, "maximum"),
                   member_int(cap, "default"), member_int(s, "currentCapacity")));
    size_t i;
    const json_t *r;
    json_array_foreach(json_object_get(s, "rules"), i, r)
        kv_add(t, fmt_str("Rule %zu", i), rule_text(r));
    if (member_str(s, "lastScaleAt"))
        kv_add(t, "Last scale action", fmt_time(member_str(s, "lastScaleAt")));
    kv_print(t, c->out);
}

static const char *as_range(const json_t *s)
{
    const json_t *cap = json_object_get(s, "capacity");
    return fmt_str("%lld-%lld", member_int(cap, "minimum"), member_int(cap, "maximum"));
}

static const struct column as_columns[] = {
    COL("Name", "name", CELL_TEXT),
    COL("ScaleSet", "scaleSet", CELL_TEXT),
    COL("Enabled", "enabled", CELL_YESNO),
    COL_GET("Range", as_range),
    COL(">Capacity", "currentCapacity", CELL_INT),
    COL(">Rules", "rules", CELL_COUNT),
    {0},
};

static const struct resource autoscale = {
    .what = "autoscale setting",
    .collection = "autoscaleSettings",
    .scope = RES_GROUP,
    .columns = as_columns,
    .view = as_view,
};

static int as_create(struct cli *c, struct args *a)
{
    const char *g = need_group(c, a), *n = g ? need_name(c, a, "autoscale setting") : NULL;
    if (!n) return KX_USAGE;
    const char *res = need_opt(c, a, "resource", "the scale set to scale");
    if (!res) return KX_USAGE;
    long lo, hi, d;
    int rl = arg_long(c, a, "min-count", 0, 100, &lo);
    int rh = arg_long(c, a, "max-count", 0, 100, &hi);
    int rd = arg_long(c, a, "count", 0, 100, &d);
    if (rl < 0 || rh < 0 || rd < 0) return KX_USAGE;
    if (!rl || !rh) return usage_error(c, "give --min-count N and --max-count N");
    if (!rd) d = lo;
    char *coll = res_path_of(&autoscale, g, NULL, NULL);
    int rc =
        send_show(c, "POST", coll,
                  json_pack("{ss ss sI sI sI}", "name", n, "scaleSet", res, "minimum",
                            (json_int_t)lo, "maximum", (json_int_t)hi, "default", (json_int_t)d),
                  as_view);
    free(coll);
    return rc;
}

static int as_update(struct cli *c, struct args *a)
{
    const char *g = need_group(c, a), *n = g ? need_name(c, a, "autoscale setting") : NULL;
    if (!n) return KX_USAGE;
    json_t *body = json_object();
    static const char *const nums[][2] = {
        {"min-count", "minimum"}, {"max-count", "maximum"}, {"count", "default"}};
    for (size_t i = 0; i < 3; i++) {
        long v;
        int r = arg_long(c, a, nums[i][0], 0, 100, &v);
        if (r < 0) {
            json_decref(body);
            return KX_USAGE;
        }
        if (r) json_object_set_new(body, nums[i][1], json_integer(v));
    }
    const char *en = arg_str(a, "enabled");
    if (en) {
        if (strcasecmp(en, "true") && strcasecmp(en, "false")) {
            json_decref(body);
            return usage_error(c, "--enabled: '%s' is not true or false", en);
        }
        json_object_set_new(body, "enabled", json_boolean(!strcasecmp(en, "true")));
    }
    if (!json_object_size(body)) {
        json_decref(body);
        return usage_error(c, "nothing to update: give --min-count, --max-count, --count or "
                              "--enabled");
    }
    char *p = as_path(g, n);
    int rc = send_show(c, "PATCH", p, body, as_view);
    free(p);
    return rc;
}

static int rule_list(struct cli *c, struct args *a)
{
    const char *g = need_group(c, a);
    if (!g) return KX_USAGE;
    const char *asn = need_opt(c, a, "autoscale-name", "the autoscale setting");
    if (!asn) return KX_USAGE;
    char *p = as_path(g, asn);
    json_t *s;
    int rc = api(c, "GET", p, NULL, &s);
    free(p);
    if (rc) return rc;
    const json_t *rules = json_object_get(s, "rules");
    if (c->out == OUT_JSON) {
        print_json(rules);
    } else {
        struct table *t = TABLE(">Index", "Rule");
        size_t i;
        const json_t *r;
        json_array_foreach(rules, i, r) ROW(t, fmt_str("%zu", i), rule_text(r));
        table_print(t, c->out);
        table_free(t);
    }
    json_decref(s);
    return KX_OK;
}

static int rule_delete(struct cli *c, struct args *a)
{
    const char *g = need_group(c, a);
    if (!g) return KX_USAGE;
    const char *asn = need_opt(c, a, "autoscale-name", "the autoscale setting");
    if (!asn) return KX_USAGE;
    long idx;
    int r = arg_long(c, a, "index", 0, 100, &idx);
    if (r < 0) return KX_USAGE;
    if (!r) return usage_error(c, "missing --index N (see 'kumo autoscale rule list')");
    int rc = confirm_delete(
        c, a,
        fmt_str("Delete rule %ld of autoscale setting '%s' in resource group '%s'?", idx, asn, g));
    if (rc) return rc;
    char *p = as_path(g, asn);
    rc = api(c, "DELETE", fmt_str("%s/rules/%ld", p, idx), NULL, NULL);
    free(p);
    if (!rc && c->out == OUT_TABLE) printf("Rule %ld deleted from '%s'.\n", idx, asn);
    return rc;
}

static const char *hist_capacity(const json_t *e)
{
    return fmt_str("%lld -> %lld", member_int(e, "oldCapacity"), member_int(e, "newCapacity"));
}

static const struct column hist_columns[] = {
    COL("At", "at", CELL_TIME),
    COL("Action", "action", CELL_TEXT),
    COL_GET_RAW("Capacity", hist_capacity, "newCapacity"),
    COL(">Times", "count", CELL_INT),
    COL("Reason", "reason", CELL_TEXT),
    {0},
};

static int as_history(struct cli *c, struct args *a)
{
    const char *g = need_group(c, a), *n = g ? need_name(c, a, "autoscale setting") : NULL;
    if (!n) return KX_USAGE;
    bool bad = false;
    const char *from = time_arg(c, a, "from", &bad);
    if (bad) return KX_USAGE;
    char *p = as_path(g, n);
    char *q = from ? query_escape(from) : NULL;
    int rc = list_path(c, q ? fmt_str("%s/history?from=%s", p, q) : fmt_str("%s/history", p),
                       hist_columns);
    free(q);
    free(p);
    return rc;
}

/* ---- the command tree ---- */

static const struct opt gn_set[] = {OPT_G("scale set"), OPT_N("scale set"), {0}};
static const struct opt gn_as[] = {OPT_G("autoscale setting"), OPT_N("autoscale setting"), {0}};

static const struct opt create_opts[] = {
    OPT_G("scale set"),
    OPT_N("scale set; instances are NAME_0, NAME_1, ..."),
    {"size|vm-sku", 0, OPT_VALUE, "SIZE", "the instances' size, from 'kumo size list'", "size"},
    {"image", 0, OPT_VALUE, "IMAGE", "what they boot (default: default)", "image"},
    {"instance-count", 0, OPT_VALUE, "N", "how many instances (default 2)", "capacity"},
    {"vnet|vnet-name", 0, OPT_VALUE, "VNET",
     "their virtual network (default NAME-vnet, made if missing)", "vnet"},
    {"subnet", 0, OPT_VALUE, "SUBNET", "their subnet (default: default)", "subnet"},
    {"nsg|network-security-group", 0, OPT_VALUE, "NSG",
     "their NSG (default NAME-nsg, made allowing SSH and the load balancer's port)", "nsg"},
    {"os-disk-tier|storage-sku", 0, OPT_VALUE, "TIER", "Standard_HDD, Standard_SSD or Premium_SSD",
     "osDisk.tier"},
    {"user-data|custom-data", 0, OPT_VALUE, "FILE",
     "a script each instance runs at its first boot (- : stdin)", "userData"},
    OPT_OS_PROFILE("the instances'"),
    {"lb-port", 0, OPT_VALUE, "PORT",
     "the port the instances serve, behind the load balancer (default 80)", "loadBalancer.port"},
    {"no-lb", 0, OPT_FLAG, NULL, "no load balancer", NULL},
    {"probe-protocol", 0, OPT_VALUE, "Tcp|Http", "the health probe (default Tcp)",
     "loadBalancer.probe.protocol"},
    {"probe-path", 0, OPT_VALUE, "PATH", "the Http probe's path (default /)",
     "loadBalancer.probe.path"},
    {"probe-interval", 0, OPT_VALUE, "SECONDS", "seconds between probes (default 5)",
     "loadBalancer.probe.intervalSeconds"},
    OPT_TAGS("tags"),
    {0},
};

static const struct opt scale_opts[] = {
    OPT_G("scale set"),
    OPT_N("scale set"),
    {"new-capacity", 0, OPT_VALUE, "N", "the number of instances", "capacity"},
    {0},
};

static const struct opt update_opts[] = {
    OPT_G("scale set"),
    OPT_N("scale set"),
    {"size", 0, OPT_VALUE, "SIZE", "a new size for the model", "size"},
    {"image", 0, OPT_VALUE, "IMAGE", "a new image for the model", "image"},
    {"user-data|custom-data", 0, OPT_VALUE, "FILE", "new user data for the model (- : stdin)",
     "userData"},
    OPT_TAGS("replace the tags (not a model change)"),
    OPT_TAG_UPDATES,
    {0},
};

static const struct cmd vmss_create_c = {
    .name = "create",
    .summary = "Create a scale set: N identical VMs behind a load balancer",
    .usage = "-g RG -n NAME --size SIZE [--instance-count N] [--image IMAGE] [--vnet V] "
             "[--lb-port PORT | --no-lb] [--user-data FILE] [--no-wait]",
    .help = "Create a virtual machine scale set: a model (size, image, OS disk tier, network, "
            "user data) and a capacity. kumod makes the instances NAME_0, NAME_1, ... as "
            "ordinary VMs from the model and keeps their number at the capacity. With a load "
            "balancer (the default, port 80), the public IP NAME-lb forwards TCP connections "
            "round robin to the instances that pass the health probe; each instance gets a "
            "public IP of its own for the load balancer's port. kumo waits until every "
            "instance runs.",
    .opts = create_opts,
    .run = vmss_create,
    .positionals = 1,
    .waits = true,
    .examples = "  kumo vmss create -g web -n front --image default --size B1s --instance-count 3 "
                "\\\n      --vnet web-vnet --lb-port 80 --user-data start-httpd.sh\n"};
static const struct cmd vmss_list_c = RES_LIST(&scale_set, "List scale sets", group_filter_opts);
static const struct cmd vmss_show_c =
    RES_SHOW(&scale_set, "Show a scale set: model, capacity, load balancer", gn_set);
static const struct cmd vmss_scale_c = {
    .name = "scale",
    .summary = "Change the number of instances",
    .usage = "-g RG -n NAME --new-capacity N",
    .help = "Set the capacity. Scaling out makes new instances from the model; scaling in "
            "deletes instances on an older model first, then ones not running, then the "
            "highest-numbered. An autoscale setting may change it again at its next "
            "evaluation.",
    .opts = scale_opts,
    .run = vmss_scale,
    .positionals = 1,
    .waits = true};
static const struct cmd vmss_update_c = {
    .name = "update",
    .summary = "Change the model: a rolling update of the instances",
    .usage = "-g RG -n NAME [--size SIZE] [--image IMAGE] [--user-data FILE]",
    .help = "Change the model's size, image or user data. The instances are then replaced one "
            "at a time: kumod makes one more instance from the new model, waits until it runs, "
            "deletes one instance of the old model, and so on, so that capacity instances keep "
            "serving throughout.",
    .opts = update_opts,
    .run = vmss_update,
    .positionals = 1,
    .waits = true,
    .examples = "  kumo vmss update -g web -n front --size B2s\n"};
static const struct cmd vmss_inst_c = {
    .name = "list-instances",
    .summary = "List a scale set's instances with their health",
    .usage = "-g RG -n NAME",
    .help = "The instances (VMs) of the set: power state, load balancer health (Healthy, "
            "Unhealthy, or Unknown before the first probe), whether they run the latest model, "
            "and how many connections the load balancer gave each.",
    .opts = gn_set,
    .run = vmss_instances,
    .positionals = 1};
static const struct cmd vmss_delete_c = {.name = "delete",
                                         .summary = "Delete a scale set and all its instances",
                                         .usage = "-g RG -n NAME [--yes]",
                                         .opts = gn_set,
                                         .run = vmss_delete,
                                         .positionals = 1,
                                         .waits = true,
                                         .confirms = true};

const struct cmd cmd_vmss = {
    .name = "vmss",
    .summary = "Scale sets: identical VMs behind a load balancer, scaled by hand or autoscale",
    .help = "Virtual machine scale sets: a model and a capacity; kumod keeps that many "
            "instances of the model running behind a TCP load balancer. See also 'kumo "
            "autoscale'.",
    .sub = (const struct cmd *const[]){&vmss_create_c, &vmss_list_c, &vmss_show_c, &vmss_scale_c,
                                       &vmss_update_c, &vmss_inst_c, &vmss_delete_c, NULL},
    .examples = "  kumo vmss create -g web -n front --size B1s --instance-count 2 --lb-port 80\n"
                "  kumo vmss scale -g web -n front --new-capacity 4\n"
                "  kumo vmss list-instances -g web -n front\n"};

static const struct opt as_create_opts[] = {
    OPT_G("autoscale setting"),
    OPT_N("autoscale setting"),
    {"resource", 0, OPT_VALUE, "VMSS", "the scale set it scales", "scaleSet"},
    {"min-count", 0, OPT_VALUE, "N", "the fewest instances", "minimum"},
    {"max-count", 0, OPT_VALUE, "N", "the most instances", "maximum"},
    {"count", 0, OPT_VALUE, "N", "instances when there are no metrics (default: min-count)",
     "default"},
    {0},
};

static const struct opt as_update_opts[] = {
    OPT_G("autoscale setting"),
    OPT_N("autoscale setting"),
    {"min-count", 0, OPT_VALUE, "N", "the fewest instances", "minimum"},
    {"max-count", 0, OPT_VALUE, "N", "the most instances", "maximum"},
    {"count", 0, OPT_VALUE, "N", "the default", "default"},
    {"enabled", 0, OPT_VALUE, "true|false", "evaluate the rules or not", "enabled"},
    {0},
};

static const struct opt as_history_opts[] = {
    OPT_G("autoscale setting"),
    OPT_N("autoscale setting"),
    {"from", 0, OPT_VALUE, "TIME", "only decisions since TIME (RFC 3339, or 30m, 2h ago)",
     "query.from"},
    {0},
};

static const struct opt rule_create_opts[] = {
    OPT_G("autoscale setting"),
    {"autoscale-name", 0, OPT_VALUE, "NAME", "the autoscale setting", NULL},
    {"condition", 0, OPT_VALUE, "\"METRIC OP N AGG WINDOW\"",
     "when it fires, e.g. \"Percentage CPU > 70 avg 5m\"", "metricTrigger"},
    {"scale", 0, OPT_LIST, "out N|in N|to N", "what it does (N% for a percentage)", "scaleAction"},
    {"cooldown", 0, OPT_VALUE, "MINUTES|DURATION",
     "no further scaling this long after a scale action (default 5 minutes; 30s, 2m...)",
     "scaleAction.cooldown"},
    {"time-grain", 0, OPT_VALUE, "[STAT] DURATION",
     "how samples are grouped and combined across instances, e.g. \"avg 1m\" (default)",
     "metricTrigger.timeGrain"},
    {0},
};

static const struct opt rule_list_opts[] = {
    OPT_G("autoscale setting"),
    {"autoscale-name", 0, OPT_VALUE, "NAME", "the autoscale setting", NULL},
    {0},
};

static const struct opt rule_delete_opts[] = {
    OPT_G("autoscale setting"),
    {"autoscale-name", 0, OPT_VALUE, "NAME", "the autoscale setting", NULL},
    {"index", 0, OPT_VALUE, "N", "the rule's number in 'kumo autoscale rule list'", NULL},
    {0},
};

static const struct cmd rule_create_c = {
    .name = "create",
    .summary = "Add a rule: a metric condition and a scale action",
    .usage = "-g RG --autoscale-name NAME --condition \"METRIC OP N AGG WINDOW\" --scale out|in|to "
             "N [--cooldown MIN] [--time-grain \"avg 1m\"]",
    .help = "Add a rule to an autoscale setting, as az monitor autoscale rule create does. The "
            "metric is \"Percentage CPU\" (the instances' vCPU busy time). Every evaluation "
            "(kumod --autoscale-interval, 30 s by default), the samples of the window are "
            "grouped by time grain, combined across instances by the grain's statistic, and "
            "the grains by the aggregation; the result is compared with the threshold. Any "
            "scale-out rule that fires scales out (the largest wins); scaling in needs every "
            "scale-in rule to fire (the smallest wins) and is skipped when it would make a "
            "scale-out rule fire at once.",
    .opts = rule_create_opts,
    .run = rule_create,
    .examples = "  kumo autoscale rule create -g web --autoscale-name front-as \\\n"
                "      --condition \"Percentage CPU > 70 avg 5m\" --scale out 2 --cooldown 5\n"
                "  kumo autoscale rule create -g web --autoscale-name front-as \\\n"
                "      --condition \"Percentage CPU < 20 avg 10m\" --scale in 1\n"};
static const struct cmd rule_list_c = {.name = "list",
                                       .summary = "List a setting's rules",
                                       .usage = "-g RG --autoscale-name NAME",
                                       .opts = rule_list_opts,
                                       .run = rule_list};
static const struct cmd rule_delete_c = {.name = "delete",
                                         .summary = "Delete a rule by its index",
                                         .usage = "-g RG --autoscale-name NAME --index N [--yes]",
                                         .opts = rule_delete_opts,
                                         .run = rule_delete,
                                         .confirms = true};
static const struct cmd rule_c = {
    .name = "rule",
    .summary = "Autoscale rules: create, list, delete",
    .sub = (const struct cmd *const[]){&rule_create_c, &rule_list_c, &rule_delete_c, NULL},
};

static const struct cmd as_create_c = {
    .name = "create",
    .summary = "Create an autoscale setting for a scale set",
    .usage = "-g RG -n NAME --resource VMSS --min-count N --max-count N [--count N]",
    .help = "Create the autoscale setting of a scale set (one per set) with its capacity "
            "range; add rules with 'kumo autoscale rule create'.",
    .opts = as_create_opts,
    .run = as_create,
    .positionals = 1,
    .examples = "  kumo autoscale create -g web -n front-as --resource front --min-count 1 "
                "--max-count 5 --count 2\n"};
static const struct cmd as_show_c =
    RES_SHOW(&autoscale, "Show an autoscale setting and its rules", gn_as);
static const struct cmd as_list_c =
    RES_LIST(&autoscale, "List autoscale settings", group_filter_opts);
static const struct cmd as_update_c = {
    .name = "update",
    .summary = "Change the capacity range or enable/disable",
    .usage = "-g RG -n NAME [--min-count N] [--max-count N] [--count N] [--enabled true|false]",
    .opts = as_update_opts,
    .run = as_update,
    .positionals = 1};
static const struct cmd as_delete_c = RES_DELETE(&autoscale, "Delete an autoscale setting", gn_as);
static const struct cmd as_history_c = {
    .name = "history",
    .summary = "The setting's decisions with their reasons, oldest first",
    .usage = "-g RG -n NAME [--from TIME]",
    .help = "Every scale action, and every evaluation where a rule fired but nothing was done "
            "(cooldown, at the maximum or minimum, not all scale-in rules agree, flapping), with "
            "the reason. The same decision repeated at consecutive evaluations is one line "
            "with a count (Times).",
    .opts = as_history_opts,
    .run = as_history,
    .positionals = 1};

const struct cmd cmd_autoscale = {
    .name = "autoscale",
    .summary = "Autoscale settings of scale sets: capacity range, rules, history",
    .help = "Autoscale changes a scale set's capacity from the instances' CPU metrics, with the "
            "semantics of Azure Monitor autoscale (as az monitor autoscale).",
    .sub = (const struct cmd *const[]){&as_create_c, &as_show_c, &as_list_c, &as_update_c,
                                       &as_delete_c, &rule_c, &as_history_c, NULL},
    .examples = "  kumo autoscale create -g web -n front-as --resource front --min-count 1 "
                "--max-count 5\n"
                "  kumo autoscale rule create -g web --autoscale-name front-as \\\n"
                "      --condition \"Percentage CPU > 70 avg 5m\" --scale out 1\n"
                "  kumo autoscale history -g web -n front-as\n"};
