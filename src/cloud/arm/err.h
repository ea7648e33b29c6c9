/*
 * err.h - ARM's error format and the errors kumo's ARM endpoint answers:
 *
 *   {"error":{"code":"ResourceNotFound","message":"...","target":"...",
 *             "details":[{"code":..,"message":..,"target":..}, ...]}}
 *
 * struct arm_err carries one such error (with optional details, e.g. the
 * resource of a deployment that failed) from where it is found to the
 * response. arm_err_from_kerr() translates kumod's own errors (error.h:
 * InvalidField, NotFound, CapacityExceeded, ...) into ARM's codes, so the
 * rules stay in one place (kumod's) and only their names change here.
 *
 * Contract: pure. arm_err_set() always returns -1. details, when set, is a
 * JSON array owned by the struct (arm_err_clear() releases it).
 */
#ifndef KUMO_CLOUD_ARM_ERR_H
#define KUMO_CLOUD_ARM_ERR_H

#include <jansson.h>

struct kerr;

struct arm_err {
    int status;        /* HTTP status; 0 = no error */
    char code[64];     /* ARM code: "ResourceNotFound", "InvalidParameter", ... */
    char target[1024]; /* the field or resource at fault (a resource id), or "" */
    char message[1024];
    json_t *details; /* array of {code,message,target} or NULL */
};

int arm_err_set(struct arm_err *e, int status, const char *code, const char *target,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Append a detail {code, message, target} to e->details. */
void arm_err_detail(struct arm_err *e, const char *code, const char *target, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void arm_err_clear(struct arm_err *e);

/* The error body {"error":{...}} (new reference). */
json_t *arm_err_json(const struct arm_err *e);
/* Only the inner object {code,message,target,details} (new reference), as
 * operation status resources and deployments carry it. */
json_t *arm_err_inner(const struct arm_err *e);

/* kumod's error as ARM's: status and message kept, code translated
 * (arm_err_code_for); the target is kumod's, or `target` when that is not
 * NULL (the ARM field the kumod field came from). Returns -1. */
int arm_err_from_kerr(struct arm_err *e, const struct kerr *k, const char *target);

/* The ARM code for a kumod code (e.g. "NotFound" -> "ResourceNotFound"). */
const char *arm_err_code_for(const char *kumo_code);

#endif
