/*
 * adfs.c - how az finds and logs in to kumod's ARM endpoint, the way it
 * does with Azure Stack Hub (docs/azure.md, "Logging in"):
 *
 *   GET  /metadata/endpoints                   what `az cloud register` reads
 *   GET  /adfs/.well-known/openid-configuration  MSAL's ADFS discovery
 *   POST /adfs/oauth2/token                    client credentials -> bearer token
 *
 * The authority is ADFS-style (".../adfs") because MSAL then skips the
 * instance discovery it would otherwise make at login.microsoftonline.com.
 * Token errors are OAuth's ({"error","error_description"}), which MSAL
 * shows; the AADSTS numbers are the ones Azure uses for the same cases.
 */
#include "cloud/arm/arm.h"
#include "cloud/arm/form.h"
#include "cloud/db.h"
#include "cloud/timefmt.h"
#include "lib/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void endpoints(struct arm_ctx *c)
{
    char login[400], graph[400], portal[400], mgmt[400];
    snprintf(login, sizeof(login), "%s/adfs", c->base);
    snprintf(graph, sizeof(graph), "%s/graph/", c->base);
    snprintf(portal, sizeof(portal), "%s/portal/", c->base);
    snprintf(mgmt, sizeof(mgmt), "%s/", c->base);
    arm_reply(c, 200,
              json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:[s,s], s:s}}", "galleryEndpoint", mgmt,
                        "graphEndpoint", graph, "portalEndpoint", portal, "resourceManager", mgmt,
                        "authentication", "loginEndpoint", login, "audiences", ARM_AUDIENCE, mgmt,
                        "identityProvider", "ADFS"));
}

static void openid(struct arm_ctx *c)
{
    char issuer[400], token[400], authz[400], keys[400];
    /* with a tenant in the path (az login --tenant NAME), the issuer's
     * fourth segment is the tenant id, which is what az takes from it */
    if (c->np == 1)
        snprintf(issuer, sizeof(issuer), "%s/%s/", c->base, c->id->tenant);
    else
        snprintf(issuer, sizeof(issuer), "%s/adfs", c->base);
    snprintf(token, sizeof(token), "%s/adfs/oauth2/token", c->base);
    snprintf(authz, sizeof(authz), "%s/adfs/oauth2/authorize", c->base);
    snprintf(keys, sizeof(keys), "%s/adfs/discovery/keys", c->base);
    arm_reply(c, 200,
              json_pack("{s:s, s:s, s:s, s:s, s:[s], s:[s], s:[s], s:[s], s:[s], s:[s]}", "issuer",
                        issuer, "token_endpoint", token, "authorization_endpoint", authz,
                        "jwks_uri", keys, "response_types_supported", "token",
                        "subject_types_supported", "pairwise", "grant_types_supported",
                        "client_credentials", "token_endpoint_auth_methods_supported",
                        "client_secret_post", "id_token_signing_alg_values_supported", "HS256",
                        "scopes_supported", "openid"));
}

static void keys(struct arm_ctx *c)
{
    /* tokens are signed with a key only kumod has (HS256): nothing to publish */
    arm_reply(c, 200, json_pack("{s:[]}", "keys"));
}

static void oauth_error(struct arm_ctx *c, int status, const char *error, int code, const char *fmt,
                        ...) __attribute__((format(printf, 5, 6)));
static void oauth_error(struct arm_ctx *c, int status, const char *error, int code, const char *fmt,
                        ...)
{
    char msg[700], full[800], t[TIME_STRLEN], trace[37];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(full, sizeof(full), "AADSTS%d: %s", code, msg);
    arm_guid(trace);
    arm_reply(c, status,
              json_pack("{s:s, s:s, s:[i], s:s, s:s, s:s}", "error", error, "error_description",
                        full, "error_codes", code, "timestamp", time_format(time_now_ms(), t),
                        "trace_id", trace, "correlation_id", trace));
}

static bool scope_ok(const char *scope)
{
    /* "<audience>/.default"; az's audience ends in '/', so "...local//.default" */
    char want[200];
    snprintf(want, sizeof(want), "%s/.default", ARM_AUDIENCE);
    if (!strcmp(scope, want)) return true;
    snprintf(want, sizeof(want), "%s.default", ARM_AUDIENCE);
    return !strcmp(scope, want);
}

static void token(struct arm_ctx *c)
{
    char grant[64], client[100], secret[300], scope[400], resource[300];
    if (!arm_form_get(c->raw, c->raw_len, "grant_type", grant, sizeof(grant))) {
        oauth_error(c, 400, "invalid_request", 900144,
                    "The request body must contain the following parameter: "
                    "'grant_type'.");
        return;
    }
    if (strcmp(grant, "client_credentials")) {
        oauth_error(c, 400, "unsupported_grant_type", 70003,
                    "The app requested an unsupported grant type '%.60s': kumo issues "
                    "tokens to service principals (client_credentials) only.",
                    grant);
        return;
    }
    if (!arm_form_get(c->raw, c->raw_len, "client_id", client, sizeof(client)) || !client[0]) {
        oauth_error(c, 400, "invalid_request", 900144,
                    "The request body must contain the following parameter: "
                    "'client_id'.");
        return;
    }
    if (!arm_form_get(c->raw, c->raw_len, "client_secret", secret, sizeof(secret))) {
        oauth_error(c, 400, "invalid_client", 7000218,
                    "The request body must contain the following parameter: "
                    "'client_secret' (kumo's service principals log in with a secret).");
        return;
    }
    bool has_scope = arm_form_get(c->raw, c->raw_len, "scope", scope, sizeof(scope));
    bool has_res = arm_form_get(c->raw, c->raw_len, "resource", resource, sizeof(resource));
    if (has_scope ? !scope_ok(scope) : (!has_res || strcmp(resource, ARM_AUDIENCE))) {
        oauth_error(c, 400, "invalid_scope", 70011,
                    "The provided request must include a 'scope' of '%s/.default' (the "
                    "resource kumo's ARM endpoint serves); got '%.100s'.",
                    ARM_AUDIENCE,
                    has_scope ? scope
                    : has_res ? resource
                              : "");
        return;
    }
    char salt[64], hash[96];
    int64_t iters = 0;
    kumod_lock(c->k);
    bool found = arm_sp_secret(c->k->db, client, salt, hash, &iters);
    kumod_unlock(c->k);
    if (!found) {
        oauth_error(c, 400, "unauthorized_client", 700016,
                    "Application with identifier '%.64s' was not found in the directory "
                    "of this kumod. `kumo sp list` shows the service principals.",
                    client);
        return;
    }
    if (!arm_secret_matches(secret, salt, hash, iters)) {
        log_info("arm: wrong secret for service principal %s", client);
        oauth_error(c, 401, "invalid_client", 7000215,
                    "Invalid client secret provided. Ensure the secret being sent in the "
                    "request is the client secret value of '%.64s' (shown once by kumo "
                    "sp create).",
                    client);
        return;
    }
    int64_t now = time_now_ms() / 1000;
    char issuer[400];
    snprintf(issuer, sizeof(issuer), "%s/adfs", c->base);
    char *tok = arm_token_issue(c->id, issuer, client, now, ARM_TOKEN_LIFETIME);
    if (!tok) {
        arm_err_set(&c->err, 500, "InternalServerError", NULL, "Could not sign a token.");
        return;
    }
    kumod_lock(c->k);
    arm_sp_touch(c->k->db, client, now * 1000);
    kumod_unlock(c->k);
    char exp_on[32], nbf[32];
    snprintf(exp_on, sizeof(exp_on), "%lld", (long long)(now + ARM_TOKEN_LIFETIME));
    snprintf(nbf, sizeof(nbf), "%lld", (long long)now);
    arm_reply(c, 200,
              json_pack("{s:s, s:i, s:i, s:s, s:s, s:s, s:s}", "token_type", "Bearer", "expires_in",
                        ARM_TOKEN_LIFETIME - 1, "ext_expires_in", ARM_TOKEN_LIFETIME - 1,
                        "expires_on", exp_on, "not_before", nbf, "resource", ARM_AUDIENCE,
                        "access_token", tok));
    free(tok);
}

#define PUBLIC (ARM_NOAUTH | ARM_NOAPI | ARM_NOLOCK)

const struct arm_route arm_routes_adfs[] = {
    {"GET", "/metadata/endpoints", (void *)endpoints, PUBLIC, NULL},
    {"GET", "/adfs/.well-known/openid-configuration", (void *)openid, PUBLIC, NULL},
    {"GET", "/adfs/{}/.well-known/openid-configuration", (void *)openid, PUBLIC, NULL},
    {"GET", "/adfs/discovery/keys", (void *)keys, PUBLIC, NULL},
    {"POST", "/adfs/oauth2/token", (void *)token, PUBLIC | ARM_FORM, NULL},
    {"POST", "/adfs/{}/oauth2/token", (void *)token, PUBLIC | ARM_FORM, NULL},
    {NULL, NULL, NULL, 0, NULL},
};
