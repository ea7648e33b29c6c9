/*
 * res.h - what the ARM endpoint's resource handlers share: ARM's resource
 * shape and ids, reading ARM request bodies, kumod's errors as ARM's, the
 * ARM properties kumo's model does not hold, and the resource kinds that
 * deployments make.
 *
 * The handlers (rg.c, net.c, compute.c, storage.c, images.c, scaleset.c,
 * insights.c, deploy.c) are thin translators: an ARM body becomes the
 * documented /v1 request body (docs/api.md), which request_check() checks
 * with the very rules the /v1 API applies (requests.h, validate.h), and
 * then a specification for the provisioning layer (provision.h), which
 * checks what needs the state and makes the change. Answers are rendered
 * from the database. Nothing here decides what is allowed: the only ARM
 * rules are about ARM's shapes (references by id, SKU names, locations).
 *
 * Contract: everything runs with kumod's state lock held (the handlers'
 * routes take it), except where a function says it takes it.
 */
#ifndef KUMO_CLOUD_ARM_RES_H
#define KUMO_CLOUD_ARM_RES_H

#include "cloud/arm/arm.h"
#include "cloud/error.h"
#include "cloud/provision.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct db;

/* ---- reading ARM bodies ---- */

/* The member at a dotted path ("properties.hardwareProfile.vmSize"),
 * matching names case-insensitively as ARM does; NULL when absent or JSON
 * null. */
const json_t *arm_get(const json_t *o, const char *path);
/* The same as a string (NULL when absent or not a string). */
const char *arm_gets(const json_t *o, const char *path);
/* An integer that ARM may send as a number or a string ("2"): dflt when
 * absent; false when present and not an integer. */
bool arm_geti(const json_t *o, const char *path, int64_t dflt, int64_t *out);
/* An ARM osProfile (a VM's, or a scale set's virtualMachineProfile's) as
 * kumo's (requests.h): kb.osProfile = {adminUsername, sshPublicKeys from
 * linuxConfiguration.ssh.publicKeys[].keyData, adminPassword}; nothing
 * when it names no admin user ("" is how a VM without one is shown back). */
void arm_os_profile_to_kumo(const json_t *osp, json_t *kb);

/* ---- ids and answers ---- */

/* "/subscriptions/S/resourceGroups/G/providers/" + the formatted rest. */
const char *arm_rid(const struct arm_ctx *c, char *buf, size_t len, const char *group,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* {id, name, type, location:"local", tags, properties}; takes tags (NULL:
 * {}) and props. */
json_t *arm_resource(const char *id, const char *name, const char *type, json_t *tags,
                     json_t *props);
/* A tags column (JSON text) as an object (new reference; {} when bad). */
json_t *arm_tags(const char *text);
/* ARM's time format ("2024-11-17T12:00:00.2500000Z"). */
json_t *arm_time(int64_t ms);
/* A deterministic GUID for a row (a VM's vmId, a scale set's uniqueId):
 * the same across restarts, different across kumods. */
void arm_row_guid(const struct arm_ctx *c, const char *kind, int64_t row, char out[37]);

/* {"value":[render(row)...]} for the rows (first column: ids) of sql. */
void arm_reply_rows(struct arm_ctx *c, json_t *(*render)(struct arm_ctx *c, int64_t row),
                    const char *sql, const char *fmt, ...);

/* ---- the model's lookups, in ARM's words ---- */

/* The group's id; -1 with 404 ResourceGroupNotFound. */
int64_t arm_group(struct arm_ctx *c, const char *name);
/* kumod's error (the provisioning layer's, request_check's) as c->err. */
void arm_fail(struct arm_ctx *c, const struct kerr *e);
/* 404 ResourceNotFound for the resource at the request's path. */
void arm_not_found(struct arm_ctx *c, const char *type, const char *name);
/* A body's location, when given, must be this kumod's ("local"). 0 or -1
 * with c->err (400 LocationNotAvailableForResourceType). */
int arm_check_location(struct arm_ctx *c, const json_t *res);

/* A reference {"id": "/subscriptions/..."} at path of o: parsed into id,
 * which must name a resource of this subscription of the given full type
 * (e.g. "Microsoft.Network/virtualNetworks/subnets"). false with e (400
 * InvalidParameter or LinkedInvalidPropertyId, naming path) when it is
 * there but wrong; *present says whether it was there. */
bool arm_ref(const struct arm_ctx *c, const json_t *o, const char *path, const char *type,
             struct arm_id *id, bool *present, struct arm_err *e);

/* VM sizes: ARM's "Standard_B1s" is kumo's "B1s" (any case; a name
 * without the prefix is taken as it is). */
const char *arm_size_to_kumo(const char *arm);
void arm_size_name(const char *kumo, char *buf, size_t len);
/* Disk tiers: ARM's SKU names (Standard_LRS, StandardSSD_LRS,
 * Premium_LRS, and the _ZRS ones) <-> kumo's tiers; NULL when unknown. */
const char *arm_tier_to_kumo(const char *sku);
const char *arm_tier_name(const char *kumo_tier);

/* ---- ARM properties kumo's model does not hold ---- */

/* The stored object of a row (kind: the row's table), new reference, or
 * NULL. */
json_t *arm_props_load(struct db *db, const char *kind, int64_t row);
/* Store (replace) it, in the caller's transaction. 0 or -1. */
int arm_props_store(struct db *db, const char *kind, int64_t row, const json_t *props);

/* ---- resource kinds (what a PUT or a deployment makes) ---- */

struct arm_apply {
    struct arm_ctx *c;
    struct prov_tx *t; /* open: the resource is made in it */
    int64_t group;     /* the id's group */
    const char *group_name;
    const struct arm_id *id;
    const json_t *res;   /* {location, tags, sku, properties, ...} */
    struct arm_err *err; /* where a refusal goes */
};

struct arm_kind {
    const char *type;  /* "Microsoft.Network/virtualNetworks" */
    const char *table; /* the rows' table (also arm_props' kind) */
    /* Make the resource in a->t: its row id, or -1 with a->err. */
    int64_t (*create)(struct arm_apply *a);
    /* The existing resource's row, or -1 (no error). */
    int64_t (*find)(struct arm_ctx *c, int64_t group, const struct arm_id *id);
    /* The resource as ARM shows it (NULL if gone). */
    json_t *(*render)(struct arm_ctx *c, int64_t row);
    /* When its creation goes on after the commit: the operation kind that
     * watches it (ops.h), else NULL. */
    const char *op_kind;
    int created_status; /* 201, or 202 (disks: az refuses 201) */
    /* A deployment that names an existing resource again: true when it
     * already is what a->res asks (it is then used as it is), else false
     * with a->err (409) saying what differs. NULL: existing is a clash. */
    bool (*same)(struct arm_apply *a, int64_t row);
};

/* The 409 of an existing resource that differs from a template's; -1. */
int arm_differs(struct arm_apply *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The kind of a full type (case-insensitive), or NULL. */
const struct arm_kind *arm_kind_find(const char *type);
/* The names kumo serves in deployments, for an error message. */
const char *arm_kind_list(void);

/* The kumod error of a->t as a->err; returns -1. */
int arm_apply_fail(struct arm_apply *a);

/* A PUT of a resource of kind k at the request's path: made when it does
 * not exist (201, or 201/202 + an operation), else handed to update (its
 * own transactions; it answers). The path's last name is the resource's. */
void arm_put(struct arm_ctx *c, const struct arm_kind *k,
             void (*update)(struct arm_ctx *c, int64_t group, int64_t row));
/* GET of one resource of kind k at the request's path. */
void arm_show(struct arm_ctx *c, const struct arm_kind *k);

/* The request path's id (the path must parse: routing matched it). */
void arm_path_id(struct arm_ctx *c, struct arm_id *id);

/* The operation after a change that goes on (kind, ns, watched row);
 * answered with status and body. */
void arm_reply_op(struct arm_ctx *c, int status, const char *kind, const char *ns, int64_t target,
                  json_t *body);
/* An operation that is already over (az wants 202 for some synchronous
 * changes, e.g. disks). */
void arm_reply_done(struct arm_ctx *c, int status, const char *ns, json_t *body);

#endif
