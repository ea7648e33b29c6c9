/*
 * validate.h - the rules for values in kumod's requests: resource names,
 * tags, disk tiers, IPv4 addresses and CIDR prefixes, NSG rule fields
 * (facts.md section 6, through src/network's parsers so that kumod accepts
 * exactly what kumo-switch enforces), user data, file paths. Also the
 * network checks that only need numbers: address spaces that overlap,
 * subnets that do not fit.
 *
 * Checkers have the body_checker signature (body.h): 0, or -1 with a 400
 * InvalidField error whose message starts with the target. All functions
 * here are pure.
 */
#ifndef KUMO_CLOUD_VALIDATE_H
#define KUMO_CLOUD_VALIDATE_H

#include "cloud/error.h"
#include "network/addr.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NAME_MAX_LEN    64
#define RULE_NAME_MAX   80
#define USER_DATA_MAX   65536 /* decoded bytes */
#define TAGS_MAX        50
#define VNET_PREFIX_MIN 8  /* largest address space: /8 */
#define VNET_PREFIX_MAX 29 /* smallest subnet: /29 (8 addresses) */

/* 1-64 of [A-Za-z0-9._-], starting with a letter or digit, not ending in
 * '.' or '-'. */
bool valid_name(const char *s);

int check_name(const json_t *v, const char *target, struct kerr *e);
int check_rule_name(const json_t *v, const char *target, struct kerr *e);
int check_family(const json_t *v, const char *target, struct kerr *e);
int check_tier(const json_t *v, const char *target, struct kerr *e);
/* A host caching mode: None, ReadOnly or ReadWrite (any case). */
int check_caching(const json_t *v, const char *target, struct kerr *e);
int check_tags(const json_t *v, const char *target, struct kerr *e);
int check_cidr(const json_t *v, const char *target, struct kerr *e); /* prefix 8..29 */
int check_ipv4(const json_t *v, const char *target, struct kerr *e);
int check_nsg_prefix(const json_t *v, const char *target, struct kerr *e);
int check_nsg_ports(const json_t *v, const char *target, struct kerr *e);
int check_nsg_protocol(const json_t *v, const char *target, struct kerr *e);
int check_direction(const json_t *v, const char *target, struct kerr *e);
int check_access(const json_t *v, const char *target, struct kerr *e);
int check_pip_protocol(const json_t *v, const char *target, struct kerr *e);
int check_abs_path(const json_t *v, const char *target, struct kerr *e);
int check_image_format(const json_t *v, const char *target, struct kerr *e);
int check_boot_mode(const json_t *v, const char *target, struct kerr *e);
/* An image's provisioning: cloud-init, kumo or none. */
/* An image named by its name, alias or URN: 1-IMAGE_REF_MAX of
 * [A-Za-z0-9._:-]. */
#define IMAGE_REF_MAX 256
int check_image_ref(const json_t *v, const char *target, struct kerr *e);
int check_provisioning(const json_t *v, const char *target, struct kerr *e);
int check_user_data(const json_t *v, const char *target, struct kerr *e);
int check_location(const json_t *v, const char *target, struct kerr *e);

/* A VM's admin account (osProfile.adminUsername): 1-32 of [a-z0-9_-],
 * starting with a letter or '_' (what Debian's adduser and busybox accept),
 * not a name the images use for themselves (root, daemon, ..., as Azure
 * refuses admin, root, ...). */
#define ADMIN_NAME_MAX 32
int check_admin_username(const json_t *v, const char *target, struct kerr *e);
/* One line of an authorized_keys file as `ssh-keygen -y` writes it:
 * "TYPE BASE64 [COMMENT]", TYPE one of ssh-ed25519, ssh-rsa,
 * ecdsa-sha2-nistp256/384/521, sk-ssh-ed25519@openssh.com,
 * sk-ecdsa-sha2-nistp256@openssh.com, the base64 decoding to a key blob
 * whose first string is TYPE; at most SSH_KEY_MAX characters, printable
 * ASCII. The message says what is wrong and how to get a key. */
#define SSH_KEY_MAX 8192
int check_ssh_public_key(const json_t *v, const char *target, struct kerr *e);

/* A VM's admin password (osProfile.adminPassword), as Azure takes it:
 * 12-123 characters, no control characters, 3 of: lower-case, upper-case,
 * digits, others. */
#define ADMIN_PASSWORD_MIN 12
#define ADMIN_PASSWORD_MAX 123
int check_admin_password(const json_t *v, const char *target, struct kerr *e);

/* Canonical spellings ("inbound" -> "Inbound"); NULL if not valid. */
const char *canon_direction(const char *s);
const char *canon_access(const char *s);
const char *canon_protocol(const char *s);     /* Tcp, Udp, Icmp, * ("Any" -> "*") */
const char *canon_pip_protocol(const char *s); /* Tcp, Udp */

/* Standard base64 (RFC 4648, padding required). Returns the decoded length,
 * or -1 if s is not base64. out may be NULL (length only). */
long base64_decode(const char *s, unsigned char *out, size_t outlen);

/* An NSG rule as stored: canonical strings; prefix lists as JSON arrays. */
struct rule_norm {
    char name[RULE_NAME_MAX + 1];
    int priority;
    const char *direction, *access, *protocol; /* static strings */
    char *src_prefixes, *dst_prefixes;         /* JSON array text, malloc'd */
    char *src_ports, *dst_ports;               /* "80,443" or "*", malloc'd */
    char description[160];
};

/* Check a rule object (docs/api.md "Rule fields") and normalise it. The
 * body_check of its fields has been done by the caller (requests.c);
 * this adds the cross-field rules. 0 or -1 + e. */
int rule_normalize(const json_t *r, const char *prefix, struct rule_norm *out, struct kerr *e);
void rule_norm_free(struct rule_norm *r);

/* Address spaces of one VNet: no two overlap, none overlaps the NAT network
 * (168.63.129.0/24) or 0/8, 127/8, 169.254/16, 224/3. target names the list. */
int check_spaces_disjoint(const struct net_cidr *s, size_t n, const char *target, struct kerr *e);

/* A subnet prefix must lie in one of the spaces and overlap none of the
 * siblings (names given for the message). */
int check_subnet_fits(struct net_cidr p, const struct net_cidr *spaces, size_t nspaces,
                      const struct net_cidr *sib, const char *const *sib_names, size_t nsib,
                      const char *target, struct kerr *e);

#endif
