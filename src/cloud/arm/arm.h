/*
 * arm.h - kumod's Azure Resource Manager endpoint (docs/azure.md): a second
 * front end over the same model as the /v1 API, which the real az CLI
 * drives after `az cloud register` and `az login --service-principal`.
 *
 *   server.c     HTTPS listener (libmicrohttpd + GnuTLS), bodies, headers
 *   arm.c        dispatch: routing, authentication, api-version, the lock
 *   adfs.c       /metadata/endpoints, the ADFS-style token endpoint
 *   subs.c       subscriptions, tenants, providers, operation statuses
 *   rg.c, net.c, compute.c, storage.c, images.c, scaleset.c, insights.c,
 *   deploy.c     the resources (res.h: thin translators onto provision.h)
 *   reap.c       group deletes and deployment roll backs; ops.c the
 *                operation kinds and the ticker's round
 *   tls.c        the CA and server certificate; identity.c: principals,
 *                tokens; jwt.c, lro.c, id.c, route.c, err.c, apiver.c,
 *                expr.c, template.c: the pure plumbing
 *
 * Handler contract: a handler runs on a connection thread with kumod's
 * state lock held (unless its route has ARM_NOLOCK) and must not block. It
 * answers through arm_reply()/arm_fail()/arm_accepted(); the JSON body, if
 * the request had one, is c->body (an object; invalid JSON was refused
 * before). Path captures are c->p[] in order.
 */
#ifndef KUMO_CLOUD_ARM_ARM_H
#define KUMO_CLOUD_ARM_ARM_H

#include "cloud/arm/err.h"
#include "cloud/arm/identity.h"
#include "cloud/arm/lro.h"
#include "cloud/arm/route.h"
#include "cloud/kumod.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct arm;
struct MHD_Connection;

/* Route flags. */
enum {
    ARM_NOAUTH = 1, /* no bearer token (metadata, login, the alias document) */
    ARM_NOLOCK = 2, /* the handler takes the state lock itself */
    ARM_NOAPI = 4,  /* no api-version needed */
    ARM_FORM = 8,   /* the body is a form (application/x-www-form-urlencoded), not JSON */
};

#define ARM_MAX_HEADERS 8

struct arm_ctx {
    struct arm *a;
    struct kumod *k;
    const struct arm_identity *id;
    struct MHD_Connection *conn;
    const char *method;
    const char *path;
    const char *api_version; /* the query's, or NULL */
    const char *p[ARM_ROUTE_MAX_PARAMS];
    int np;
    const char *raw; /* the body as received (NUL-terminated) */
    size_t raw_len;
    json_t *body;    /* parsed JSON object, or NULL */
    char base[300];  /* "https://HOST:PORT" as the client addressed us */
    char app_id[64]; /* the authenticated principal */
    /* the answer */
    int status;
    json_t *out;
    char *text; /* or a non-JSON body (malloc'd) */
    const char *ctype;
    struct {
        const char *name;
        char value[1400];
    } headers[ARM_MAX_HEADERS];
    int nheaders;
    struct arm_err err;
};

typedef void (*arm_fn)(struct arm_ctx *c);

/* Route tables of the handler files, each ended by {NULL}. */
extern const struct arm_route arm_routes_adfs[];
extern const struct arm_route arm_routes_subs[];
extern const struct arm_route arm_routes_rg[];
extern const struct arm_route arm_routes_net[];
extern const struct arm_route arm_routes_compute[];
extern const struct arm_route arm_routes_storage[];
extern const struct arm_route arm_routes_images[];
extern const struct arm_route arm_routes_scaleset[];
extern const struct arm_route arm_routes_insights[];
extern const struct arm_route arm_routes_deploy[];
extern const struct arm_route arm_routes_runcmd[];

/* Start the endpoint: identity always (the /v1 service principal API needs
 * it); the HTTPS listener when k->cfg.arm_listen is set, with the
 * certificates' paths logged. NULL with err. */
struct arm *arm_start(struct kumod *k, char *err, size_t errlen);
void arm_stop(struct arm *a);

/* Server side (server.c calls it): handle one complete request. */
void arm_dispatch(struct arm *a, struct arm_ctx *c);
/* The endpoint's listen address ("127.0.0.1:8443") and CA path. */
const char *arm_listen_addr(const struct arm *a);
const char *arm_ca_path(const struct arm *a);

/* ---- helpers for handlers ---- */

void arm_reply(struct arm_ctx *c, int status, json_t *out); /* takes out */
void arm_reply_text(struct arm_ctx *c, int status, char *text, const char *ctype);
void arm_header(struct arm_ctx *c, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* 201/202 (status) for a long-running operation: the Azure-AsyncOperation,
 * Location and Retry-After headers of op; out is the body (may be NULL). */
void arm_accepted(struct arm_ctx *c, int status, const struct arm_op *op, json_t *out);
/* A query parameter (NULL when absent), a request header. */
const char *arm_query(const struct arm_ctx *c, const char *name);
const char *arm_req_header(const struct arm_ctx *c, const char *name);
/* "/subscriptions/S" of this kumod. */
const char *arm_sub_prefix(const struct arm_ctx *c, char *buf, size_t len);
/* Is the captured subscription ours? false with 404 SubscriptionNotFound. */
bool arm_check_sub(struct arm_ctx *c, const char *sub);

#endif
