/*
 * err.c - ARM's error format (contract in err.h).
 */
#include "cloud/arm/err.h"

#include "cloud/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int arm_err_set(struct arm_err *e, int status, const char *code, const char *target,
                const char *fmt, ...)
{
    e->status = status;
    snprintf(e->code, sizeof(e->code), "%s", code);
    snprintf(e->target, sizeof(e->target), "%s", target ? target : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof(e->message), fmt, ap);
    va_end(ap);
    return -1;
}

void arm_err_detail(struct arm_err *e, const char *code, const char *target, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (!e->details) e->details = json_array();
    json_t *d = json_pack("{s:s, s:s}", "code", code, "message", msg);
    if (d && target && *target) json_object_set_new(d, "target", json_string(target));
    if (d) json_array_append_new(e->details, d);
}

void arm_err_clear(struct arm_err *e)
{
    json_decref(e->details);
    memset(e, 0, sizeof(*e));
}

json_t *arm_err_inner(const struct arm_err *e)
{
    json_t *o = json_pack("{s:s, s:s}", "code", e->code[0] ? e->code : "InternalServerError",
                          "message", e->message);
    if (!o) return json_object();
    if (e->target[0]) json_object_set_new(o, "target", json_string(e->target));
    if (e->details && json_array_size(e->details)) json_object_set(o, "details", e->details);
    return o;
}

json_t *arm_err_json(const struct arm_err *e)
{
    json_t *o = json_object();
    json_object_set_new(o, "error", arm_err_inner(e));
    return o;
}

static const struct {
    const char *kumo, *arm;
} codes[] = {
    {"NotFound", "ResourceNotFound"},
    {"InvalidField", "InvalidParameter"},
    {"MissingField", "InvalidParameter"},
    {"UnknownField", "InvalidParameter"},
    {"InvalidJson", "InvalidRequestContent"},
    {"InvalidQuery", "InvalidParameter"},
    {"AlreadyExists", "Conflict"},
    {"InUse", "InUse"},
    {"InvalidState", "OperationNotAllowed"},
    {"OperationInProgress", "OperationNotAllowed"},
    {"CapacityExceeded", "AllocationFailed"},
    {"QuotaExceeded", "QuotaExceeded"},
    {"PayloadTooLarge", "RequestEntityTooLarge"},
    {"Unauthorized", "AuthenticationFailed"},
    {"ShuttingDown", "ServiceUnavailable"},
    {"MethodNotAllowed", "MethodNotAllowed"},
    {"InternalError", "InternalServerError"},
};

const char *arm_err_code_for(const char *kumo_code)
{
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        if (!strcmp(codes[i].kumo, kumo_code)) return codes[i].arm;
    return kumo_code;
}

int arm_err_from_kerr(struct arm_err *e, const struct kerr *k, const char *target)
{
    int status = k->status ? k->status : 500;
    return arm_err_set(e, status, arm_err_code_for(k->code), target ? target : k->target, "%s",
                       k->message);
}
