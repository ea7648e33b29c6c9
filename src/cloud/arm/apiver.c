/*
 * apiver.c - the api-versions of kumo's ARM endpoint (contract in apiver.h).
 */
#include "cloud/arm/apiver.h"

#include "cloud/arm/err.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *const v_subscriptions[] = {
    "2022-12-01", "2021-01-01", "2020-01-01", "2019-11-01", "2019-06-01",
    "2018-06-01", "2016-06-01", "2015-01-01", NULL,
};
static const char *const v_resources[] = {
    "2022-09-01", "2021-04-01", "2020-10-01", "2020-06-01", "2019-10-01",
    "2019-07-01", "2019-05-01", "2018-05-01", "2017-05-10", "2016-09-01",
    "2016-02-01", "2015-01-01", NULL,
};
static const char *const v_compute[] = {
    "2022-11-01", "2022-08-01", "2022-03-01", "2021-11-01", "2021-07-01", "2021-04-01",
    "2021-03-01", "2020-12-01", "2020-06-01", "2019-12-01", "2019-07-01", "2019-03-01",
    "2018-10-01", "2018-06-01", "2018-04-01", "2017-12-01", "2017-03-30", "2016-04-30-preview",
    "2016-03-30", "2015-06-15", NULL,
};
static const char *const v_disks[] = {
    "2022-07-02", "2022-03-02", "2021-12-01", "2021-08-01", "2021-04-01", "2020-12-01",
    "2020-09-30", "2020-06-30", "2020-05-01", "2019-11-01", "2019-07-01", "2019-03-01",
    "2018-09-30", "2018-06-01", "2018-04-01", "2017-03-30", NULL,
};
static const char *const v_network[] = {
    "2022-07-01", "2022-05-01", "2022-01-01", "2021-08-01", "2021-05-01",
    "2021-02-01", "2020-11-01", "2020-07-01", "2020-05-01", "2019-11-01",
    "2019-09-01", "2018-11-01", "2018-01-01", "2017-10-01", "2017-03-01",
    "2016-09-01", "2016-03-30", "2015-06-15", NULL,
};
static const char *const v_autoscale[] = {
    "2022-10-01",
    "2021-05-01-preview",
    "2015-04-01",
    NULL,
};

static const struct {
    const char *type; /* a full type or a namespace */
    const char *const *versions;
} table[] = {
    {"Microsoft.Resources/subscriptions", v_subscriptions},
    {"Microsoft.Resources/tenants", v_subscriptions},
    {"Microsoft.Resources", v_resources},
    {"Microsoft.Compute/disks", v_disks},
    {"Microsoft.Compute/snapshots", v_disks},
    {"Microsoft.Compute/locations/diskOperations", v_disks},
    {"Microsoft.Compute", v_compute},
    {"Microsoft.Network", v_network},
    {"Microsoft.Insights", v_autoscale},
};

/* Resource types listed per namespace (for providers() and provider GETs). */
static const char *const t_compute[] = {
    "virtualMachines",
    "virtualMachineScaleSets",
    "disks",
    "snapshots",
    "images",
    "locations",
    "locations/vmSizes",
    "locations/publishers",
    "locations/operations",
    NULL,
};
static const char *const t_network[] = {
    "virtualNetworks",       "virtualNetworks/subnets",
    "networkSecurityGroups", "networkSecurityGroups/securityRules",
    "publicIPAddresses",     "networkInterfaces",
    "loadBalancers",         "locations",
    "locations/operations",  NULL,
};
static const char *const t_resources[] = {
    "resourceGroups", "deployments", "subscriptions", "providers", "tenants", NULL,
};
static const char *const t_insights[] = {"autoscalesettings", NULL};

static const struct {
    const char *ns;
    const char *const *types;
} namespaces[] = {
    {"Microsoft.Compute", t_compute},
    {"Microsoft.Network", t_network},
    {"Microsoft.Resources", t_resources},
    {"Microsoft.Insights", t_insights},
};

const char *const *arm_apiver_types(const char *ns)
{
    for (size_t i = 0; i < sizeof(namespaces) / sizeof(namespaces[0]); i++)
        if (!strcasecmp(namespaces[i].ns, ns)) return namespaces[i].types;
    return NULL;
}

const char *const *arm_apiver_list(const char *type)
{
    const char *const *best = NULL;
    size_t best_len = 0;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        size_t n = strlen(table[i].type);
        if (strncasecmp(type, table[i].type, n) != 0 || (type[n] && type[n] != '/')) continue;
        if (n > best_len) {
            best = table[i].versions;
            best_len = n;
        }
    }
    return best;
}

bool arm_apiver_well_formed(const char *v)
{
    static const char shape[] = "dddd-dd-dd";
    for (int i = 0; i < 10; i++) {
        if (shape[i] == 'd' ? !isdigit((unsigned char)v[i]) : v[i] != '-') return false;
    }
    if (!v[10]) return true;
    if (v[10] != '-' || !v[11] || strlen(v) > 40) return false;
    for (const char *p = v + 11; *p; p++)
        if (!isalnum((unsigned char)*p)) return false;
    return true;
}

/* Compare the dates (first 10 characters) of two well-formed versions. */
static int date_cmp(const char *a, const char *b)
{
    return strncmp(a, b, 10);
}

int arm_apiver_check(const char *type, const char *version, struct arm_err *e)
{
    if (!version || !*version)
        return arm_err_set(e, 400, "MissingApiVersionParameter", "api-version",
                           "The api-version query parameter (?api-version=) is required for all "
                           "requests.");
    if (!arm_apiver_well_formed(version))
        return arm_err_set(e, 400, "InvalidApiVersionParameter", "api-version",
                           "The api-version '%.60s' is invalid. The supported format is "
                           "'yyyy-mm-dd' or 'yyyy-mm-dd-preview'.",
                           version);
    const char *const *list = arm_apiver_list(type);
    if (!list)
        return arm_err_set(e, 400, "NoRegisteredProviderFound", NULL,
                           "No registered resource provider found for type '%.200s': kumo does "
                           "not serve it.",
                           type);
    size_t n = 0;
    while (list[n])
        n++;
    for (size_t i = 0; i < n; i++)
        if (!strcasecmp(list[i], version)) return 0;
    if (date_cmp(version, list[n - 1]) >= 0 && date_cmp(version, list[0]) <= 0) return 0;
    char supported[1024] = "";
    size_t at = 0;
    for (size_t i = 0; i < n && at < sizeof(supported) - 16; i++) {
        int w = snprintf(supported + at, sizeof(supported) - at, "%s%s", i ? ", " : "", list[i]);
        if (w > 0) at += (size_t)w;
    }
    return arm_err_set(e, 400, "NoRegisteredProviderFound", "api-version",
                       "No registered resource provider found for location 'local' and API "
                       "version '%.60s' for type '%.200s'. The supported api-versions are '%s'.",
                       version, type, supported);
}

json_t *arm_apiver_provider_json(const char *ns, const char *sub_id)
{
    const char *canon = NULL;
    const char *const *types = NULL;
    for (size_t i = 0; i < sizeof(namespaces) / sizeof(namespaces[0]); i++)
        if (!strcasecmp(namespaces[i].ns, ns)) {
            canon = namespaces[i].ns;
            types = namespaces[i].types;
        }
    if (!canon) return NULL;
    json_t *rts = json_array();
    for (size_t i = 0; types[i]; i++) {
        char full[256];
        snprintf(full, sizeof(full), "%s/%s", canon, types[i]);
        json_t *vs = json_array();
        const char *const *list = arm_apiver_list(full);
        for (size_t j = 0; list && list[j]; j++)
            json_array_append_new(vs, json_string(list[j]));
        json_array_append_new(rts, json_pack("{s:s, s:o, s:[s]}", "resourceType", types[i],
                                             "apiVersions", vs, "locations", "local"));
    }
    char id[512];
    snprintf(id, sizeof(id), "%s/providers/%s", sub_id, canon);
    return json_pack("{s:s, s:s, s:o, s:s}", "id", id, "namespace", canon, "resourceTypes", rts,
                     "registrationState", "Registered");
}
