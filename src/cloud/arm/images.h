/*
 * images.h - kumo's images as ARM shows them: marketplace-style URNs
 * (publisher:offer:sku:version) for `az vm create --image URN`, the
 * publishers/offers/skus/versions resources az resolves them with, and the
 * image alias document az fetches for `--image Debian13`-style names.
 *
 * An image's URN is its images.urn column when kumod's catalog has one;
 * otherwise it is made from its name (urn.h). Every image has the one
 * version 1.0.0 ("latest" names it too). The alias document lists each
 * image under its alias (urn.h), and the publisher's name alone ("Debian")
 * names its newest image.
 */
#ifndef KUMO_CLOUD_ARM_IMAGES_H
#define KUMO_CLOUD_ARM_IMAGES_H

#include "cloud/arm/arm.h"
#include "cloud/arm/urn.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define ARM_IMAGE_VERSION "1.0.0"

/* The URN of image id (lock held). */
void arm_image_urn(struct kumod *k, int64_t image_id, struct arm_urn *u);

/* The image an imageReference names: {publisher, offer, sku, version}
 * (version "latest" or 1.0.0) or {id: .../images/NAME}. Its id, or -1
 * with e (400 InvalidParameter naming path, 404 ImageNotFound). */
int64_t arm_image_resolve(struct arm_ctx *c, const json_t *ref, const char *path,
                          struct arm_err *e);

/* {publisher, offer, sku, version, exactVersion} of image id. */
json_t *arm_image_ref_json(struct arm_ctx *c, int64_t image_id);

#endif
