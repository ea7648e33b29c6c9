/*
 * urn.h - the marketplace-style names of kumo's images (pure):
 *
 *   a name that ends in a version ("debian-13", "ubuntu-24.04",
 *   "alpine3.20") is Distro:distro-VERSION:VERSION (Debian:debian-13:13);
 *   any other name is kumo:NAME:NAME (the default image: kumo:default:
 *   default);
 *   the alias (`az vm create --image ALIAS`) is the offer in CamelCase
 *   without dashes: Debian13, Default.
 *
 * Contract: pure, bounded (names longer than the fields are cut).
 */
#ifndef KUMO_CLOUD_ARM_URN_H
#define KUMO_CLOUD_ARM_URN_H

#include <stddef.h>

struct arm_urn {
    char publisher[80], offer[80], sku[80];
};

/* The URN of an image named name, from the name alone. */
void arm_urn_from_name(const char *name, struct arm_urn *u);
/* The alias of a URN ("Debian13"). */
void arm_urn_alias(const struct arm_urn *u, char *buf, size_t len);

#endif
