/*
 * requests.h - the shape of every request body kumod accepts (docs/api.md):
 * one field table per request plus the rules that involve several fields
 * (image or snapshot, not both; no overlapping address spaces; unique rule
 * priorities within one request...). Everything that can be decided from
 * the body alone is decided here, before the database is touched.
 *
 * Pure functions; tests/fuzz/fuzz_cloud_body.c feeds them arbitrary bytes.
 */
#ifndef KUMO_CLOUD_REQUESTS_H
#define KUMO_CLOUD_REQUESTS_H

#include "cloud/error.h"

#include <jansson.h>

enum req_kind {
    REQ_GROUP_CREATE,
    REQ_GROUP_UPDATE,
    REQ_GROUP_PUT, /* as REQ_GROUP_CREATE; name optional (it is in the path) */
    REQ_HOST_UPDATE,
    REQ_SIZE_CREATE,
    REQ_SIZE_UPDATE,
    REQ_IMAGE_CREATE,
    REQ_DISK_CREATE,
    REQ_DISK_UPDATE,
    REQ_SNAPSHOT_CREATE,
    REQ_VNET_CREATE,
    REQ_VNET_UPDATE,
    REQ_SUBNET_CREATE,
    REQ_SUBNET_UPDATE,
    REQ_NSG_CREATE,
    REQ_RULE,
    REQ_RULE_PUT, /* as REQ_RULE; name optional (it is in the path) */
    REQ_PIP_CREATE,
    REQ_PIP_UPDATE,
    REQ_NIC_CREATE,
    REQ_NIC_UPDATE,
    REQ_VM_CREATE,
    REQ_VM_UPDATE,
    REQ_VM_RESIZE,
    REQ_VM_ATTACH,
    REQ_VM_OPEN_PORT,
    REQ_VM_RUN_COMMAND,
    REQ_VMSS_CREATE,
    REQ_VMSS_UPDATE,
    REQ_VMSS_SCALE,
    REQ_AUTOSCALE_CREATE,
    REQ_AUTOSCALE_UPDATE,
    REQ_AUTOSCALE_RULE,
    REQ_COUNT
};

/* "vm create" etc., for tests and the fuzzer. */
const char *request_name(enum req_kind k);

/* Check body against request k. 0, or -1 with e filled (400). */
int request_check(enum req_kind k, const json_t *body, struct kerr *e);

/* Parse text as a request body: a JSON object (duplicate keys refused,
 * at most 64 levels deep by jansson's limit). NULL + e (400 InvalidJson). */
json_t *request_parse(const char *text, size_t len, struct kerr *e);

#endif
