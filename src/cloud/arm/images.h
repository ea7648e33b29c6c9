/*
 * images.h - kumo's images as ARM shows them: marketplace-style URNs
 * (publisher:offer:sku:version) for `az vm create --image URN`, the
 * publishers/offers/skus/versions resources az resolves them with, and the
 * image alias document az fetches for `--image Debian13`-style names.
 *
 * The URNs and aliases are those of kumod's image catalog (images.urn,
 * images.alias; docs/images.md), resolved by the provisioning layer's
 * prov_image_ref: one catalog for kumo and az. An image without a URN (a
 * custom image) is a managed image only (Microsoft.Compute/images/NAME).
 * ARM lists the one version 1.0.0 of each ("latest" names it too). The
 * alias document lists each image with an alias under it, and the
 * publisher's name alone ("Debian") names its newest image.
 */
#ifndef KUMO_CLOUD_ARM_IMAGES_H
#define KUMO_CLOUD_ARM_IMAGES_H

#include "cloud/arm/arm.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARM_IMAGE_VERSION "1.0.0"

struct arm_urn {
    char publisher[80], offer[80], sku[80];
};

/* The URN of image id from the catalog (lock held); false when it has
 * none. */
bool arm_image_urn(struct kumod *k, int64_t image_id, struct arm_urn *u);

/* The image an imageReference names: {publisher, offer, sku, version}
 * (version "latest" or 1.0.0) or {id: .../images/NAME}. Its id, or -1
 * with e (400 InvalidParameter naming path, 404 ImageNotFound). */
int64_t arm_image_resolve(struct arm_ctx *c, const json_t *ref, const char *path,
                          struct arm_err *e);

/* {publisher, offer, sku, version, exactVersion} of image id, or {id} of
 * the managed image of that name in group when it has no URN. */
json_t *arm_image_ref_json(struct arm_ctx *c, int64_t image_id, const char *group);

#endif
