/*
 * id.h - Azure Resource Manager resource ids: parsing, formatting and
 * building them, case-insensitively, as ARM compares them.
 *
 *   /subscriptions/{sub}
 *   /subscriptions/{sub}/resourceGroups/{group}
 *   /subscriptions/{sub}[/resourceGroups/{group}]/providers/{Namespace}/{type}/{name}
 *                                                    [/{childType}/{childName}]...
 *
 * The id's full type is "Namespace/type[/childType...]" (what templates and
 * resourceId() use, e.g. "Microsoft.Network/virtualNetworks/subnets") and its
 * names are the names along the way ("vnet1", "default"). A trailing type
 * without a name (a collection: ".../virtualMachines") is kept as
 * `collection`.
 *
 * Contract: pure functions, no allocation. Every string in struct arm_id is
 * NUL-terminated; parsing fails (with a sentence in err) on empty segments,
 * over-long parts, a name with characters a URL segment cannot carry, or
 * a shape that is not one of the above. Repeated slashes at the start
 * ("//subscriptions", which az sends when the endpoint ends in '/') are
 * accepted; nowhere else.
 */
#ifndef KUMO_CLOUD_ARM_ID_H
#define KUMO_CLOUD_ARM_ID_H

#include <stdbool.h>
#include <stddef.h>

#define ARM_ID_MAX_DEPTH 4    /* type/name pairs under a provider namespace */
#define ARM_ID_PART      128  /* bytes of a namespace, type or name, NUL included */
#define ARM_ID_MAX       1024 /* bytes of a formatted id, NUL included */

struct arm_id {
    char sub[ARM_ID_PART];   /* "" only for ids that are not under a subscription */
    char group[ARM_ID_PART]; /* "" when not in a resource group */
    char ns[ARM_ID_PART];    /* provider namespace, "" when none */
    int depth;               /* type/name pairs */
    char types[ARM_ID_MAX_DEPTH][ARM_ID_PART];
    char names[ARM_ID_MAX_DEPTH][ARM_ID_PART];
    char collection[ARM_ID_PART]; /* a trailing type without a name, or "" */
};

/* Parse s (a path, no query) into id. 0, or -1 with a sentence in err. */
int arm_id_parse(const char *s, struct arm_id *id, char *err, size_t errlen);

/* Format id into buf ("" + -1 when it does not fit). The collection, if
 * any, is appended. Returns the length. */
int arm_id_format(const struct arm_id *id, char *buf, size_t len);

/* "Namespace/type/childType" (without the collection). -1 if it does not fit. */
int arm_id_type(const struct arm_id *id, char *buf, size_t len);

/* Build an id from a full type ("Microsoft.Network/virtualNetworks/subnets")
 * and as many names as it has types ("vnet1", "default"). sub and group may
 * be "" (then the id is not under them). 0, or -1 with a sentence in err
 * (type and name counts differ, empty parts, too long). */
int arm_id_build(struct arm_id *id, const char *sub, const char *group, const char *type,
                 const char *const *names, int nnames, char *err, size_t errlen);

/* Case-insensitive equality of two ids, ignoring the collection. */
bool arm_id_equal(const struct arm_id *a, const struct arm_id *b);

/* Does the full type equal t (case-insensitively)? */
bool arm_id_is(const struct arm_id *id, const char *t);

/* Can s be a name segment? Non-empty, < ARM_ID_PART, no '/', '?', '#',
 * control characters or '%'. */
bool arm_id_name_ok(const char *s);

/* A random (version 4) GUID, as ARM's ids of subscriptions, tenants,
 * principals and operations are. */
void arm_guid(char out[37]);

#endif
