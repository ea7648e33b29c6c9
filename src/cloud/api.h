/*
 * api.h - the REST API of docs/api.md: routing, authentication, the shared
 * helpers of the handlers, and the JSON renderers of every resource (used
 * across handler files: a VM's JSON embeds its NICs and disks).
 *
 * Handler contract: a handler runs with kumod's state lock held (api.c takes
 * it) and must not block, except through api_wait(), which releases the
 * lock while it waits. It either calls api_reply() or fills c->err (via the
 * kerr_* helpers) and returns. c->body is the request body, already checked
 * against the route's request kind (requests.h), or NULL for routes without
 * a body. Path parameters are in c->p[] in order of appearance.
 *
 * A handler that changes something turns the request into the provisioning
 * layer's model (provision.h) and calls it; the layer checks the change
 * against the state, commits it and does what follows (jobs, data plane).
 * The handlers themselves keep HTTP: query parameters, waiting, status
 * codes and the JSON they answer with.
 */
#ifndef KUMO_CLOUD_API_H
#define KUMO_CLOUD_API_H

#include "cloud/error.h"
#include "cloud/http.h"
#include "cloud/kumod.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define API_MAX_PARAMS 6

struct api_ctx {
    struct kumod *k;
    const struct http_request *rq;
    const char *p[API_MAX_PARAMS];
    int np;
    json_t *body;
    int status;
    json_t *out; /* JSON answer (owned) */
    char *text;  /* or a text answer (malloc'd) */
    size_t text_len;
    const char *ctype;
    char location[512];
    struct kerr err;
};

typedef void (*api_fn)(struct api_ctx *c);

struct api_route {
    const char *method;
    const char *pattern; /* "/v1/resourceGroups/{}/disks/{}": {} matches one segment */
    api_fn fn;
    int body; /* enum req_kind, or -1: no body */
};

/* The route tables of the handler files (api_routes_NAME in api_NAME.c,
 * each ended by {NULL}), in the order they are matched: a new handler file
 * is one line here. */
#define API_ROUTE_TABLES(X)                                                                        \
    X(catalog)   /* health, locations, hosts, sizes, groups */                                     \
    X(storage)   /* images, disks, snapshots */                                                    \
    X(network)   /* vnets, subnets, NICs, public IPs */                                            \
    X(nsg)       /* NSGs and rules */                                                              \
    X(vm)        /* virtual machines */                                                            \
    X(billing)   /* cost, usage, metrics */                                                        \
    X(vmss)      /* scale sets */                                                                  \
    X(autoscale) /* autoscale settings */                                                          \
    X(sp)        /* service principals (arm/api_sp.c) */
#define API_ROUTE_EXTERN(name) extern const struct api_route api_routes_##name[];
API_ROUTE_TABLES(API_ROUTE_EXTERN)
#undef API_ROUTE_EXTERN

/* The http_handler for kumod (ctx = struct kumod *). */
void api_handle(void *ctx, const struct http_request *rq, struct http_response *rs);
/* http.h's authorize: the bearer token, or GET /v1/health (for everyone). */
bool api_authorized(void *ctx, const struct http_request *rq);

/* ---- helpers for handlers ---- */

void api_reply(struct api_ctx *c, int status, json_t *out); /* takes out */
void api_reply_text(struct api_ctx *c, int status, char *text, size_t len, const char *ctype);
/* A renderer: a resource's JSON (NULL if the row is gone). */
typedef json_t *(*api_render)(struct kumod *k, int64_t id);
/* Answer 200 {"value": [...]}: render() of each id that sql selects (its
 * parameters in db.h's bind format). */
void api_reply_list(struct api_ctx *c, api_render render, const char *sql, const char *fmt, ...);
/* The same for the rows of table in the path's group (c->p[0]), by name. */
void api_list_in_group(struct api_ctx *c, const char *table, api_render render);
/* Answer status with render(id), its Location the resource's "id". */
void api_reply_at(struct api_ctx *c, int status, api_render render, int64_t id);
/* Location header: the resource's path under /v1. */
void api_set_location(struct api_ctx *c, const char *id);

/* Seconds to wait from ?wait= (0 = none); -1 with c->err on a bad value. */
int api_wait_arg(struct api_ctx *c);
/* Wait (releasing the lock) until done(c, id) or secs pass or kumod stops.
 * Returns done()'s last answer. */
bool api_wait(struct api_ctx *c, int secs, bool (*done)(struct api_ctx *c, int64_t id), int64_t id);
/* A query parameter as a time (ms); dflt when absent; false + c->err if bad. */
bool api_query_time(struct api_ctx *c, const char *name, int64_t dflt, int64_t *out);
/* A boolean query parameter (true/false/1/0); false + c->err if bad. */
bool api_query_bool(struct api_ctx *c, const char *name, bool dflt, bool *out);

/* Resource lookups by name (provision.h's prov_group and prov_find, into
 * c->err). -1 with c->err set to 404 NotFound (field NULL) or 400
 * InvalidField naming field. */
int64_t api_group(struct api_ctx *c, const char *name);
int64_t api_find(struct api_ctx *c, const char *table, int64_t group_id, const char *name,
                 const char *what, const char *field);

/* The time in JSON ("2024-...Z"), or null for ms < 0. */
json_t *api_time(int64_t ms);

/* ---- renderers (NULL if the row is gone) ---- */
json_t *api_group_json(struct kumod *k, int64_t id);
json_t *api_size_json(struct kumod *k, int64_t id);
json_t *api_host_json(struct kumod *k, int64_t id);
json_t *api_image_json(struct kumod *k, int64_t id);
json_t *api_disk_json(struct kumod *k, int64_t id);
json_t *api_snapshot_json(struct kumod *k, int64_t id);
json_t *api_vnet_json(struct kumod *k, int64_t id);
json_t *api_subnet_json(struct kumod *k, int64_t id);
json_t *api_nsg_json(struct kumod *k, int64_t id);
json_t *api_pip_json(struct kumod *k, int64_t id);
json_t *api_nic_json(struct kumod *k, int64_t id);
json_t *api_vm_json(struct kumod *k, int64_t id);
json_t *api_vmss_json(struct kumod *k, int64_t id);
json_t *api_autoscale_json(struct kumod *k, int64_t id);

#endif
