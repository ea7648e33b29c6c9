/*
 * template.h - the deployment template engine behind
 * Microsoft.Resources/deployments: what `az vm create` and `az vmss create`
 * send, and templates written by hand in the same language.
 *
 * Two phases, so that a deployment is applied as one unit:
 *
 *  1. tpl_prepare() checks the whole template before anything is made:
 *     its sections, every expression's syntax, the parameters (declared
 *     types, allowedValues, min/max, defaults; undeclared or missing ones
 *     are errors), the variables, copy loops (count, copyIndex()),
 *     conditions, each resource's type, name and id, and the dependsOn
 *     graph (unknown targets and cycles are errors). The result is a plan:
 *     the resources in an order where each comes after what it depends on
 *     (template order among equals).
 *  2. tpl_apply() evaluates each resource's body in that order, right
 *     before handing it to the host's apply(), so reference() sees the
 *     resources made before it; then tpl_outputs() evaluates the outputs.
 *     The first resource that fails stops the deployment: the error names
 *     it (target = its resource id, details = its own error). The caller
 *     runs phase 2 in one database transaction and rolls it back on
 *     failure, so a failed deployment leaves nothing half made.
 *
 * Functions available to expressions besides expr.c's pure ones:
 * parameters, variables, copyIndex, resourceId, subscriptionResourceId,
 * tenantResourceId, reference (with 'Full'), providers, subscription,
 * resourceGroup, deployment.
 *
 * Contract: the template and parameters are untrusted JSON; every error is
 * a sentence naming where (InvalidTemplate for phase 1). The host's
 * callbacks run on the caller's thread.
 */
#ifndef KUMO_CLOUD_ARM_TEMPLATE_H
#define KUMO_CLOUD_ARM_TEMPLATE_H

#include "cloud/arm/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define TPL_MAX_RESOURCES 800 /* after copy loops (ARM's limit) */

struct tpl_host {
    void *ctx;
    const char *subscription; /* subscription id (a GUID) */
    const char *tenant;       /* tenant id */
    const char *group;        /* the deployment's resource group */
    const char *location;     /* the group's location */
    const char *deployment;   /* the deployment's name */
    /* Make (or update) one resource. id is its resource id; res the
     * evaluated resource (type, name, apiVersion, location, properties,
     * sku, tags, ...; no copy, condition or dependsOn). 0, or -1 with e. */
    int (*apply)(void *ctx, const char *id, const json_t *res, struct arm_err *e);
    /* reference(): the resource's properties (full: the whole resource,
     * with id, name, type, location, properties). New reference or NULL
     * with e. */
    json_t *(*reference)(void *ctx, const char *id, const char *api_version, bool full,
                         struct arm_err *e);
};

struct tpl_plan;

/* Phase 1. deploy_params is the deployment's "parameters" object
 * ({"name":{"value":..}}, may be NULL). NULL with e (400 InvalidTemplate,
 * or InvalidParameter... for the parameters). */
struct tpl_plan *tpl_prepare(const json_t *tpl, const json_t *deploy_params,
                             const struct tpl_host *h, struct arm_err *e);
/* Phase 2: apply every resource in order. 0, or -1 with e naming the
 * resource that failed (the resources before it were applied). */
int tpl_apply(struct tpl_plan *p, struct arm_err *e);
/* The outputs {"name":{"type":..,"value":..}} after tpl_apply. NULL + e. */
/* For the outputs of a deployment whose resources exist already (made by an
 * earlier tpl_apply): reference() may name them without tpl_apply. */
void tpl_mark_applied(struct tpl_plan *p);
json_t *tpl_outputs(struct tpl_plan *p, struct arm_err *e);

/* The planned resources, in apply order. */
size_t tpl_count(const struct tpl_plan *p);
const char *tpl_resource_id(const struct tpl_plan *p, size_t i);
const char *tpl_resource_type(const struct tpl_plan *p, size_t i);
/* The deployment's parameters as ARM echoes them ({"n":{"type","value"}};
 * secure ones without a value). New reference. */
json_t *tpl_parameters_json(const struct tpl_plan *p);

void tpl_free(struct tpl_plan *p);

#endif
