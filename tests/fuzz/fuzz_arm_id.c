/*
 * fuzz_arm_id.c - libFuzzer harness for what reaches kumod's ARM endpoint
 * before any handler: resource ids (src/cloud/arm/id.c; a parsed id must
 * format and parse back to an equal id), the routing of paths (route.c),
 * bearer tokens (jwt.c: never accepted without the key's signature) and
 * the token request's form fields (form.c). The input is used as each of
 * them in turn.
 */
#include "cloud/arm/apiver.h"
#include "cloud/arm/err.h"
#include "cloud/arm/form.h"
#include "cloud/arm/lenient.h"
#include "cloud/arm/id.h"
#include "cloud/arm/jwt.h"
#include "cloud/arm/route.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const struct arm_route table[] = {
    {"GET", "/subscriptions/{}/resourceGroups/{}", (void *)1, 0, NULL},
    {"PUT", "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Compute/virtualMachines/{}",
     (void *)2, 0, NULL},
    {"POST", "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Compute/"
             "virtualMachines/{}/{}",
     (void *)3, 0, NULL},
    {"*", "/metadata/endpoints", (void *)4, 0, NULL},
    {NULL, NULL, NULL, 0, NULL},
};

static const unsigned char key[32] = "fuzz-key-fuzz-key-fuzz-key-fuzz!";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = 0;

    struct arm_id id, back;
    char err[256], buf[ARM_ID_MAX], type[ARM_ID_MAX];
    if (arm_id_parse(s, &id, err, sizeof(err)) == 0) {
        int n = arm_id_format(&id, buf, sizeof(buf));
        if (n < 0 && strlen(s) < ARM_ID_MAX - 64) abort();
        if (n >= 0) {
            if (arm_id_parse(buf, &back, err, sizeof(err)) < 0 || !arm_id_equal(&id, &back))
                abort(); /* what we format, we parse back the same */
        }
        if (arm_id_type(&id, type, sizeof(type)) >= 0) {
            struct arm_err e = {0};
            arm_apiver_check(type, s, &e);
            arm_err_clear(&e);
        }
    } else if (!err[0]) {
        abort();
    }

    char rbuf[8192];
    struct arm_match m;
    int r = arm_route_match(table, size % 2 ? "GET" : "POST", s, rbuf, sizeof(rbuf), &m);
    if (r == ARM_ROUTE_FOUND && (!m.route || m.np > ARM_ROUTE_MAX_PARAMS)) abort();

    json_t *claims = NULL;
    int64_t exp;
    if (arm_jwt_verify(key, sizeof(key), s, 1000, &claims, &exp) == ARM_JWT_OK) abort();
    json_decref(claims);

    char v[128];
    arm_form_get(s, size, "client_id", v, sizeof(v));
    arm_form_get(s, size, "scope", v, sizeof(v));

    size_t qn;
    char *q = arm_json_quote_names(s, size, &qn);
    if (q && (qn > 2 * size || strlen(q) > qn)) abort(); /* stays in its bound */
    free(q);
    free(s);
    return 0;
}
