/*
 * subs.c - the ARM endpoint's resources above resource groups: the one
 * subscription of this kumod, its tenant, its location, the resource
 * providers with their api-versions, and the operation status resources
 * long-running operations point at (lro.h). The probes that tell whether
 * an operation is still running belong to the handler file that started
 * it; they are found by kind in arm_op_kinds (ops.c).
 */
#include "cloud/arm/arm.h"
#include "cloud/arm/apiver.h"
#include "cloud/arm/ops.h"
#include "cloud/timefmt.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static json_t *sub_json(struct arm_ctx *c)
{
    char id[100];
    arm_sub_prefix(c, id, sizeof(id));
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:[], s:{s:s, s:s, s:s}}", "id", id,
                     "subscriptionId", c->id->subscription, "tenantId", c->id->tenant,
                     "displayName", "kumo", "state", "Enabled", "authorizationSource", "RoleBased",
                     "managedByTenants", "subscriptionPolicies", "locationPlacementId",
                     "Public_2014-09-01", "quotaId", "PayAsYouGo_2014-09-01", "spendingLimit",
                     "Off");
}

static void list_subs(struct arm_ctx *c)
{
    arm_reply(c, 200, json_pack("{s:[o]}", "value", sub_json(c)));
}

static void get_sub(struct arm_ctx *c)
{
    if (!arm_check_sub(c, c->p[0])) return;
    arm_reply(c, 200, sub_json(c));
}

static void list_tenants(struct arm_ctx *c)
{
    char id[100];
    snprintf(id, sizeof(id), "/tenants/%s", c->id->tenant);
    arm_reply(c, 200,
              json_pack("{s:[{s:s, s:s, s:s, s:s}]}", "value", "id", id, "tenantId", c->id->tenant,
                        "tenantCategory", "Home", "displayName", "kumo"));
}

static void list_locations(struct arm_ctx *c)
{
    if (!arm_check_sub(c, c->p[0])) return;
    char id[160];
    snprintf(id, sizeof(id), "/subscriptions/%s/locations/local", c->id->subscription);
    arm_reply(c, 200,
              json_pack("{s:[{s:s, s:s, s:s, s:s, s:{s:s, s:s}}]}", "value", "id", id, "name",
                        "local", "displayName", "kumo (local)", "regionalDisplayName",
                        "kumo (local)", "metadata", "regionType", "Physical", "physicalLocation",
                        "this host"));
}

static void list_providers(struct arm_ctx *c)
{
    if (!arm_check_sub(c, c->p[0])) return;
    static const char *const ns[] = {"Microsoft.Compute", "Microsoft.Network",
                                     "Microsoft.Resources", "Microsoft.Insights"};
    char sub[100];
    arm_sub_prefix(c, sub, sizeof(sub));
    json_t *v = json_array();
    for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++)
        json_array_append_new(v, arm_apiver_provider_json(ns[i], sub));
    arm_reply(c, 200, json_pack("{s:o}", "value", v));
}

static void get_provider(struct arm_ctx *c)
{
    if (!arm_check_sub(c, c->p[0])) return;
    char sub[100];
    arm_sub_prefix(c, sub, sizeof(sub));
    json_t *p = arm_apiver_provider_json(c->p[1], sub);
    if (!p) {
        arm_err_set(&c->err, 404, "InvalidResourceNamespace", NULL,
                    "The resource namespace '%.100s' is invalid: kumo serves "
                    "Microsoft.Compute, Microsoft.Network, Microsoft.Resources and "
                    "Microsoft.Insights.",
                    c->p[1]);
        return;
    }
    arm_reply(c, 200, p);
}

/* Load the operation of the path and bring its status up to date. */
static bool current_op(struct arm_ctx *c, struct arm_op *op)
{
    if (!arm_check_sub(c, c->p[0])) return false;
    if (arm_op_load(c->k->db, c->p[3], op) < 0 || strcasecmp(op->ns, c->p[1])) {
        arm_err_set(&c->err, 404, "OperationNotFound", NULL,
                    "The operation '%.64s' was not found (operations are kept for a day).",
                    c->p[3]);
        return false;
    }
    if (arm_op_done(op->status)) return true;
    const struct arm_op_kind *kind = arm_op_kind_find(op->kind);
    json_t *error = NULL;
    const char *status = kind ? kind->probe(c, op, &error) : "Succeeded";
    if (arm_op_done(status)) arm_op_finish(c->k->db, op, status, error, time_now_ms());
    json_decref(error);
    return true;
}

static void get_op(struct arm_ctx *c)
{
    struct arm_op op;
    if (!current_op(c, &op)) return;
    arm_reply(c, 200, arm_op_json(&op, c->id->subscription));
    if (!arm_op_done(op.status)) arm_header(c, "Retry-After", "1");
    arm_op_clear(&op);
}

static void get_op_result(struct arm_ctx *c)
{
    struct arm_op op;
    if (!current_op(c, &op)) return;
    if (!arm_op_done(op.status)) {
        arm_header(c, "Location", "%s%s?api-version=%s", c->base, c->path,
                   c->api_version ? c->api_version : "");
        arm_header(c, "Retry-After", "1");
        arm_reply(c, 202, NULL);
    } else if (strcmp(op.status, "Succeeded")) {
        json_t *e = op.error ? op.error : NULL;
        const char *code = json_string_value(json_object_get(e, "code"));
        const char *msg = json_string_value(json_object_get(e, "message"));
        arm_err_set(&c->err, 409, code ? code : "OperationFailed", NULL, "%s",
                    msg ? msg : "The operation failed.");
    } else {
        const struct arm_op_kind *kind = arm_op_kind_find(op.kind);
        if (kind && kind->result)
            kind->result(c, &op);
        else
            arm_reply(c, 204, NULL);
    }
    arm_op_clear(&op);
}

#define SUBS "Microsoft.Resources/subscriptions"

const struct arm_route arm_routes_subs[] = {
    {"GET", "/subscriptions", (void *)list_subs, 0, SUBS},
    {"GET", "/subscriptions/{}", (void *)get_sub, 0, SUBS},
    {"GET", "/tenants", (void *)list_tenants, 0, "Microsoft.Resources/tenants"},
    {"GET", "/subscriptions/{}/locations", (void *)list_locations, 0, SUBS},
    {"GET", "/subscriptions/{}/providers", (void *)list_providers, 0, "Microsoft.Resources"},
    {"GET", "/subscriptions/{}/providers/{}", (void *)get_provider, 0, "Microsoft.Resources"},
    {"POST", "/subscriptions/{}/providers/{}/register", (void *)get_provider, 0,
     "Microsoft.Resources"},
    {"GET", "/subscriptions/{}/providers/{}/locations/{}/operations/{}", (void *)get_op, ARM_NOAPI,
     NULL},
    {"GET", "/subscriptions/{}/providers/{}/locations/{}/operationResults/{}",
     (void *)get_op_result, ARM_NOAPI, NULL},
    {NULL, NULL, NULL, 0, NULL},
};
