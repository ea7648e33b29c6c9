/*
 * api_sp.c - the /v1 API's side of the ARM endpoint (docs/api.md, "Service
 * principals"): operators make, list and revoke the service principals az
 * logs in with, over kumod's own authenticated API (`kumo sp ...`), and
 * read what `kumo az-login` needs (GET /v1/arm).
 *
 *   POST   /v1/servicePrincipals        {"name":"ci"} -> 201, with the secret (shown once)
 *   GET    /v1/servicePrincipals        {"value":[...]}
 *   GET    /v1/servicePrincipals/{name or appId}
 *   DELETE /v1/servicePrincipals/{name or appId}   204; its tokens stop working at once
 *   GET    /v1/arm                      endpoint, CA, subscription and tenant ids
 */
#include "cloud/api.h"
#include "cloud/arm/identity.h"
#include "cloud/body.h"
#include "cloud/requests.h"

#include <stdio.h>
#include <string.h>

static const struct body_field sp_create[] = {
    {"name", BT_STRING, true, true, 1, 64, NULL, NULL, 0},
    {NULL, 0, false, false, 0, 0, NULL, NULL, 0},
};

static void create(struct api_ctx *c)
{
    const char *text = c->rq->body_len ? c->rq->body : "{}";
    json_t *b = request_parse(text, c->rq->body_len ? c->rq->body_len : 2, &c->err);
    if (!b) return;
    json_t *out = NULL;
    if (body_check(b, sp_create, "", &c->err) == 0 &&
        arm_sp_create(c->k->db, json_string_value(json_object_get(b, "name")), &out, &c->err) ==
            0) {
        char loc[200];
        snprintf(loc, sizeof(loc), "/servicePrincipals/%s",
                 json_string_value(json_object_get(out, "appId")));
        api_set_location(c, loc);
        api_reply(c, 201, out);
    }
    json_decref(b);
}

static void list(struct api_ctx *c)
{
    json_t *out = arm_sp_get(c->k->db, NULL, &c->err);
    if (out) api_reply(c, 200, out);
}

static void show(struct api_ctx *c)
{
    json_t *out = arm_sp_get(c->k->db, c->p[0], &c->err);
    if (out) api_reply(c, 200, out);
}

static void delete (struct api_ctx *c)
{
    if (arm_sp_delete(c->k->db, c->p[0], &c->err) == 0) api_reply(c, 204, NULL);
}

static void info(struct api_ctx *c)
{
    char sub[40], tenant[40], ca[4096];
    arm_identity_ids(c->k->db, sub, tenant);
    snprintf(ca, sizeof(ca), "%s/arm/ca.crt", c->k->cfg.data_dir);
    bool on = c->k->cfg.arm_listen[0] != 0;
    json_t *o = json_pack("{s:b, s:s, s:s, s:s}", "enabled", on, "subscriptionId", sub, "tenantId",
                          tenant, "audience", ARM_AUDIENCE);
    if (on) {
        char ep[128];
        snprintf(ep, sizeof(ep), "https://%s/", c->k->cfg.arm_listen);
        json_object_set_new(o, "endpoint", json_string(ep));
        json_object_set_new(o, "caCertificate", json_string(ca));
    }
    api_reply(c, 200, o);
}

const struct api_route api_routes_sp[] = {
    {"POST", "/v1/servicePrincipals", create, -1},
    {"GET", "/v1/servicePrincipals", list, -1},
    {"GET", "/v1/servicePrincipals/{}", show, -1},
    {"DELETE", "/v1/servicePrincipals/{}", delete, -1},
    {"GET", "/v1/arm", info, -1},
    {NULL, NULL, NULL, 0},
};
