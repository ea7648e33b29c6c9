/*
 * images.h - kumo's images as ARM shows them: marketplace-style URNs
 * (publisher:offer:sku:version) for `az vm create --image URN`, the
 * publishers/offers/skus/versions resources az resolves them with, and the
 * image alias document az fetches for `--image Debian13`-style names.
 *
 * An image's URN is its images.urn column when kumod's catalog has one;
 * otherwise it is made from its name: a name that ends in a version
 * ("debian-13", "ubuntu-24.04", "alpine3.20") is Distro:distro-VERSION:
 * VERSION (Debian:debian-13:13), any other name is kumo:NAME:NAME. Every
 * image has the one version 1.0.0 ("latest" names it too). Its alias is
 * the offer in CamelCase without dashes ("Debian13"); the publisher's name
 * alone ("Debian") is the alias of its newest image.
 */
#ifndef KUMO_CLOUD_ARM_IMAGES_H
#define KUMO_CLOUD_ARM_IMAGES_H

#include "cloud/arm/arm.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define ARM_IMAGE_VERSION "1.0.0"

struct arm_urn {
    char publisher[80], offer[80], sku[80];
};

/* The URN of an image named name, from the name alone (pure). */
void arm_urn_from_name(const char *name, struct arm_urn *u);
/* The alias of a URN ("Debian13"), pure. */
void arm_urn_alias(const struct arm_urn *u, char *buf, size_t len);

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
