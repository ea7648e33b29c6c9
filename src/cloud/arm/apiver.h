/*
 * apiver.h - the api-versions kumo's ARM endpoint serves, per resource
 * type, and the check every ARM request's ?api-version= goes through.
 *
 * kumod answers one shape per resource type (the fields az reads are the
 * same across the versions listed), so a version is accepted when it is
 * well formed (YYYY-MM-DD, optionally -preview and the like) and lies
 * between the oldest and the newest version listed for the type; the
 * newest first is what providers(...).apiVersions returns. Lookup is by
 * the longest listed prefix of the full type ("Microsoft.Compute/disks"
 * before "Microsoft.Compute"), case-insensitively.
 *
 * Contract: pure, static tables.
 */
#ifndef KUMO_CLOUD_ARM_APIVER_H
#define KUMO_CLOUD_ARM_APIVER_H

#include <jansson.h>
#include <stdbool.h>

struct arm_err;

/* The versions of a type (newest first, NULL-terminated), or NULL when
 * kumo serves no such type. */
const char *const *arm_apiver_list(const char *type);

/* Is v of the form YYYY-MM-DD[-suffix]? */
bool arm_apiver_well_formed(const char *v);

/* Check version (NULL when the query had none) for type. 0, or -1 with
 * 400 MissingApiVersionParameter / InvalidApiVersionParameter /
 * NoRegisteredProviderFound (naming the supported versions) in e. */
int arm_apiver_check(const char *type, const char *version, struct arm_err *e);

/* {"namespace":ns,"resourceTypes":[{"resourceType":..,"apiVersions":[..],
 * "locations":["local"]}],"registrationState":"Registered"} for a
 * provider namespace kumo serves, or NULL. id is the subscription's id
 * prefix ("/subscriptions/S"). */
json_t *arm_apiver_provider_json(const char *ns, const char *sub_id);

/* The types kumo serves under ns ("virtualMachines", ...): for
 * providers(ns, type) and provider listings; NULL-terminated, or NULL. */
const char *const *arm_apiver_types(const char *ns);

#endif
