/*
 * validate.c - value rules for kumod's requests (contract in validate.h).
 * NSG fields go through src/network/nsg.c's parsers: one definition of what
 * a prefix or port range is, shared with kumo-switch.
 */
#include "cloud/validate.h"

#include "network/config.h"
#include "network/nsg.h"
#include "storage/tiers.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool valid_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > NAME_MAX_LEN) return false;
    if (!isalnum((unsigned char)s[0])) return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '.' && c != '_' && c != '-') return false;
    }
    return s[n - 1] != '.' && s[n - 1] != '-';
}

int check_name(const json_t *v, const char *target, struct kerr *e)
{
    const char *s = json_string_value(v);
    if (!s || !valid_name(s))
        return kerr_invalid(e, target,
                            "%s: '%.80s' is not a valid name (1-64 of A-Z a-z 0-9 . _ -, "
                            "starting with a letter or digit, not ending in . or -)",
                            target, s ? s : "");
    return 0;
}

int check_rule_name(const json_t *v, const char *target, struct kerr *e)
{
    const char *s = json_string_value(v);
    size_t n = s ? strlen(s) : 0;
    bool ok = n >= 1 && n <= RULE_NAME_MAX && isalnum((unsigned char)s[0]) &&
              (isalnum((unsigned char)s[n - 1]) || s[n - 1] == '_');
    for (size_t i = 0; ok && i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        ok = isalnum(c) || c == '.' || c == '_' || c == '-';
    }
    if (!ok)
        return kerr_invalid(e, target,
                            "%s: '%.90s' is not a valid rule name (1-80 of A-Z a-z 0-9 . _ -, "
                            "starting with a letter or digit, ending with a letter, digit or _)",
                            target, s ? s : "");
    return 0;
}

int check_family(const json_t *v, const char *target, struct kerr *e)
{
    const char *s = json_string_value(v);
    size_t n = s ? strlen(s) : 0;
    bool ok = n >= 1 && n <= 16;
    for (size_t i = 0; ok && i < n; i++)
        ok = isalnum((unsigned char)s[i]);
    if (!ok)
        return kerr_invalid(e, target, "%s: give 1 to 16 letters or digits, like \"D\"", target);
    return 0;
}

int check_caching(const json_t *v, const char *target, struct kerr *e)
{
    const char *s = json_string_value(v);
    if (!s || disk_cache_parse(s) < 0)
        return kerr_invalid(e, target,
                            "%s: '%.40s' is not a host caching mode (None, ReadOnly or ReadWrite)",
                            target, s ? s : "");
    return 0;
}

int check_tier(const json_t *v, const char *target, struct kerr *e)
{
    enum disk_tier t;
    const char *s = json_string_value(v);
    if (!s || disk_tier_parse(s, &t) < 0)
        return kerr_invalid(e, target,
                            "%s: '%.40s' is not a disk tier (Standard_HDD, Standard_SSD or "
                            "Premium_SSD)",
                            target, s ? s : "");
    return 0;
}

int check_tags(const json_t *v, const char *target, struct kerr *e)
{
    if (!json_is_object(v))
        return kerr_invalid(e, target, "%s: expected an object of strings", target);
    if (json_object_size(v) > TAGS_MAX)
        return kerr_invalid(e, target, "%s: at most %d tags", target, TAGS_MAX);
    const char *key;
    const json_t *val;
    json_object_foreach((json_t *)v, key, val)
    {
        size_t kl = strlen(key);
        if (kl == 0 || kl > 128)
            return kerr_invalid(e, target, "%s: tag names are 1 to 128 characters", target);
        if (!json_is_string(val))
            return kerr_invalid(e, target, "%s.%.64s: expected a string", target, key);
        if (strlen(json_string_value(val)) > 256)
            return kerr_invalid(e, target, "%s.%.64s: at most 256 characters", target, key);
    }
    return 0;
}

int check_cidr(const json_t *v, const char *target, struct kerr *e)
{
    const char *s = json_string_value(v);
    struct net_cidr c;
    if (!s) return kerr_invalid(e, target, "%s: expected a CIDR string", target);
    int r = net_cidr_parse(s, &c, false, false);
    if (r == -2) {
        char buf[NET_CIDR_STRLEN];
        net_cidr_parse(s, &c, false, true);
        return kerr_invalid(e, target, "%s: '%.40s' has host bits set (did you mean %s?)", target,
                            s, net_cidr_str(c, buf));
    }
    if (r < 0)
        return kerr_invalid(e, target, "%s: '%.40s' is not an IPv4 CIDR prefix like 10.0.0.0/16",
                            target, s);
    if (c.len < VNET_PREFIX_MIN || c.len > VNET_PREFIX_MAX)
        return kerr_invalid(e, target, "%s: prefix length /%u is outside /%d to /%d", target, c.len,
                            VNET_PREFIX_MIN, VNET_PREFIX_MAX);
    return 0;
}

int check_ipv4(const json_t *v, const char *target, struct kerr *e)
{
    const char *s = json_string_value(v);
    uint32_t ip;
    if (!s || net_ip4_parse(s, &ip) < 0)
        return kerr_invalid(e, target, "%s: '%.40s' is not an IPv4 address like 10.0.0.4", target,
                            s ? s : "");
    return 0;
}

int check_nsg_prefix(const json_t *v, const char *target, struct kerr *e)
{
    const char *s = json_string_value(v);
    struct nsg_prefix p;
    char err[256];
    if (!s) return kerr_invalid(e, target, "%s: expected a string", target);
    if (nsg_parse_prefix(s, &p, err, sizeof(err)) < 0)
        return kerr_invalid(e, target, "%s: %s", target, err);
    return 0;
}

int check_nsg_ports(const json_t *v, const char *target, struct kerr *e)
{
    const char *s = json_string_value(v);
    struct nsg_port_range *r = NULL;
    size_t n = 0;
    bool any;
    char err[256];
    if (!s) return kerr_invalid(e, target, "%s: expected a string", target);
    int rc = nsg_parse_ports(s, &r, &n, &any, err, sizeof(err));
    free(r);
    if (rc < 0) return kerr_invalid(e, target, "%s: %s", target, err);
    return 0;
}

static const char *canon(const char *s, const char *const *names)
{
    if (!s) return NULL;
    for (; *names; names += 2)
        if (strcasecmp(s, names[0]) == 0) return names[1];
    return NULL;
}

const char *canon_direction(const char *s)
{
    static const char *const n[] = {"Inbound", "Inbound", "Outbound", "Outbound", NULL};
    return canon(s, n);
}

const char *canon_access(const char *s)
{
    static const char *const n[] = {"Allow", "Allow", "Deny", "Deny", NULL};
    return canon(s, n);
}

const char *canon_protocol(const char *s)
{
    static const char *const n[] = {"Tcp", "Tcp", "Udp", "Udp", "Icmp", "Icmp",
                                    "Any", "*",   "*",   "*",   NULL};
    return canon(s, n);
}

const char *canon_pip_protocol(const char *s)
{
    static const char *const n[] = {"Tcp", "Tcp", "Udp", "Udp", NULL};
    return canon(s, n);
}

#define ENUM_CHECK(fn, canonfn, what)                                                              \
    int fn(const json_t *v, const char *target, struct kerr *e)                                    \
    {                                                                                              \
        const char *s = json_string_value(v);                                                      \
        if (!canonfn(s))                                                                           \
            return kerr_invalid(e, target, "%s: '%.40s' is not %s", target, s ? s : "", what);     \
        return 0;                                                                                  \
    }

ENUM_CHECK(check_nsg_protocol, canon_protocol, "a protocol (Tcp, Udp, Icmp, Any or *)")
ENUM_CHECK(check_direction, canon_direction, "a direction (Inbound or Outbound)")
ENUM_CHECK(check_access, canon_access, "an access (Allow or Deny)")
ENUM_CHECK(check_pip_protocol, canon_pip_protocol, "a protocol (Tcp or Udp)")

int check_abs_path(const json_t *v, const char *target, struct kerr *e)
{
    const char *s = json_string_value(v);
    if (!s || s[0] != '/' || strlen(s) >= 4000)
        return kerr_invalid(e, target, "%s: give an absolute path on the host", target);
    return 0;
}

int check_image_format(const json_t *v, const char *target, struct kerr *e)
{
    static const char *const n[] = {"auto", "auto", "raw",  "raw",  "qcow2", "qcow2",
                                    "vhd",  "vhd",  "vmdk", "vmdk", NULL};
    const char *s = json_string_value(v);
    if (!s || !canon(s, n) || strcmp(canon(s, n), s) != 0)
        return kerr_invalid(e, target, "%s: '%.40s' is not a format (auto, raw, qcow2, vhd, vmdk)",
                            target, s ? s : "");
    return 0;
}

int check_boot_mode(const json_t *v, const char *target, struct kerr *e)
{
    const char *s = json_string_value(v);
    if (!s || (strcmp(s, "direct") && strcmp(s, "firmware")))
        return kerr_invalid(e, target, "%s: '%.40s' is not a boot mode (direct or firmware)",
                            target, s ? s : "");
    return 0;
}

int check_image_ref(const json_t *v, const char *target, struct kerr *e)
{
    const char *s = json_string_value(v);
    size_t n = s ? strlen(s) : 0;
    bool ok = n > 0 && n <= IMAGE_REF_MAX;
    for (size_t i = 0; ok && i < n; i++) {
        char c = s[i];
        ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
             c == '.' || c == '_' || c == '-' || c == ':';
    }
    if (!ok)
        return kerr_invalid(e, target,
                            "%s: '%.80s' is not an image's name, alias or URN (letters, digits, "
                            "'.', '_', '-'; a URN is Publisher:offer:sku:version, e.g. "
                            "Debian:debian-13:13:latest)",
                            target, s ? s : "");
    return 0;
}

int check_provisioning(const json_t *v, const char *target, struct kerr *e)
{
    const char *s = json_string_value(v);
    if (!s || (strcmp(s, "cloud-init") && strcmp(s, "kumo") && strcmp(s, "none")))
        return kerr_invalid(e, target,
                            "%s: '%.40s' is not a way of provisioning (cloud-init: a NoCloud seed "
                            "disk; kumo: kumo's metadata service; none)",
                            target, s ? s : "");
    return 0;
}

int check_location(const json_t *v, const char *target, struct kerr *e)
{
    const char *s = json_string_value(v);
    if (!s || strcasecmp(s, "local") != 0)
        return kerr_invalid(e, target, "%s: unknown location '%.40s' (this host's is 'local')",
                            target, s ? s : "");
    return 0;
}

static int b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

long base64_decode(const char *s, unsigned char *out, size_t outlen)
{
    size_t n = strlen(s);
    if (n % 4) return -1;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4], pad = 0;
        for (int j = 0; j < 4; j++) {
            unsigned char c = (unsigned char)s[i + j];
            if (c == '=' && i + 4 == n && j >= 2) {
                v[j] = 0;
                pad++;
                continue;
            }
            if (pad) return -1; /* data after padding */
            v[j] = b64val(c);
            if (v[j] < 0) return -1;
        }
        uint32_t w =
            (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        unsigned char b[3] = {(unsigned char)(w >> 16), (unsigned char)(w >> 8), (unsigned char)w};
        for (int j = 0; j < 3 - pad; j++) {
            if (out) {
                if (o >= outlen) return -1;
                out[o] = b[j];
            }
            o++;
        }
    }
    return (long)o;
}

int check_user_data(const json_t *v, const char *target, struct kerr *e)
{
    const char *s = json_string_value(v);
    long n = s ? base64_decode(s, NULL, 0) : -1;
    if (n < 0) return kerr_invalid(e, target, "%s: not base64 (RFC 4648, with padding)", target);
    if (n > USER_DATA_MAX)
        return kerr_invalid(e, target, "%s: %ld bytes decoded; at most %d", target, n,
                            USER_DATA_MAX);
    return 0;
}

int check_admin_username(const json_t *v, const char *target, struct kerr *e)
{
    static const char *const reserved[] = {"root",
                                           "daemon",
                                           "bin",
                                           "sys",
                                           "sync",
                                           "games",
                                           "man",
                                           "lp",
                                           "mail",
                                           "news",
                                           "uucp",
                                           "proxy",
                                           "www-data",
                                           "backup",
                                           "list",
                                           "irc",
                                           "nobody",
                                           "systemd-network",
                                           "systemd-resolve",
                                           "systemd-timesync",
                                           "messagebus",
                                           "sshd",
                                           "_apt",
                                           "admin",
                                           "administrator",
                                           "debian",
                                           NULL};
    const char *s = json_string_value(v);
    size_t n = s ? strlen(s) : 0;
    if (!s || n == 0 || n > ADMIN_NAME_MAX)
        return kerr_invalid(e, target, "%s: a user name of 1-%d characters", target,
                            ADMIN_NAME_MAX);
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok =
            (c >= 'a' && c <= 'z') || c == '_' || (i > 0 && ((c >= '0' && c <= '9') || c == '-'));
        if (!ok)
            return kerr_invalid(e, target,
                                "%s: '%.40s' is not a user name: use lower-case letters, digits, "
                                "'_' and '-', starting with a letter or '_' (e.g. azureuser)",
                                target, s);
    }
    for (size_t i = 0; reserved[i]; i++)
        if (!strcmp(s, reserved[i]))
            return kerr_invalid(e, target,
                                "%s: '%s' is reserved (the image has an account of that name or "
                                "it is too easy to guess): choose another, e.g. azureuser",
                                target, s);
    return 0;
}

/* The big-endian length-prefixed string at *p of the blob (n bytes left). */
static bool ssh_string(const unsigned char **p, size_t *n, const unsigned char **s, size_t *len)
{
    if (*n < 4) return false;
    uint32_t l = (uint32_t)(*p)[0] << 24 | (uint32_t)(*p)[1] << 16 | (uint32_t)(*p)[2] << 8 |
                 (uint32_t)(*p)[3];
    if (l > *n - 4) return false;
    *s = *p + 4;
    *len = l;
    *p += 4 + l;
    *n -= 4 + l;
    return true;
}

int check_ssh_public_key(const json_t *v, const char *target, struct kerr *e)
{
    static const char *const types[] = {"ssh-ed25519",
                                        "ssh-rsa",
                                        "ecdsa-sha2-nistp256",
                                        "ecdsa-sha2-nistp384",
                                        "ecdsa-sha2-nistp521",
                                        "sk-ssh-ed25519@openssh.com",
                                        "sk-ecdsa-sha2-nistp256@openssh.com",
                                        NULL};
    static const char how[] = "an OpenSSH public key line (the .pub file ssh-keygen writes, "
                              "e.g. ~/.ssh/id_ed25519.pub: 'ssh-ed25519 AAAA... comment')";
    const char *s = json_string_value(v);
    size_t n = s ? strlen(s) : 0;
    if (!s || n == 0 || n > SSH_KEY_MAX)
        return kerr_invalid(e, target, "%s: expected %s of at most %d characters", target, how,
                            SSH_KEY_MAX);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return kerr_invalid(e, target, "%s: expected one line of %s", target, how);
    if (!strncmp(s, "-----BEGIN", 10))
        return kerr_invalid(e, target,
                            "%s: this is a private key or a PEM file, not a public key: give %s",
                            target, how);
    const char *sp = strchr(s, ' ');
    size_t tlen = sp ? (size_t)(sp - s) : n;
    const char *type = NULL;
    for (size_t i = 0; types[i]; i++)
        if (strlen(types[i]) == tlen && !strncmp(s, types[i], tlen)) type = types[i];
    if (!type)
        return kerr_invalid(e, target, "%s: '%.40s' is not a key type kumo knows; expected %s",
                            target, tlen ? s : "(empty)", how);
    if (!sp)
        return kerr_invalid(e, target, "%s: the key's base64 part is missing; expected %s", target,
                            how);
    const char *b64 = sp + 1;
    const char *end = strchr(b64, ' ');
    size_t blen = end ? (size_t)(end - b64) : strlen(b64);
    char *copy = strndup(b64, blen);
    unsigned char *blob = copy ? malloc(blen + 1) : NULL;
    long dn = copy && blob ? base64_decode(copy, blob, blen + 1) : -1;
    free(copy);
    int rc = 0;
    const unsigned char *p = blob, *name;
    size_t left = dn > 0 ? (size_t)dn : 0, nlen;
    if (dn <= 0)
        rc = kerr_invalid(e, target, "%s: the key's second field is not base64; expected %s",
                          target, how);
    else if (!ssh_string(&p, &left, &name, &nlen) || nlen != strlen(type) ||
             memcmp(name, type, nlen) || left == 0)
        rc = kerr_invalid(e, target,
                          "%s: the key data does not hold a %s key (damaged or truncated?); "
                          "expected %s",
                          target, type, how);
    free(blob);
    return rc;
}

int check_admin_password(const json_t *v, const char *target, struct kerr *e)
{
    const char *s = json_string_value(v);
    size_t n = s ? strlen(s) : 0;
    if (!s || n < ADMIN_PASSWORD_MIN || n > ADMIN_PASSWORD_MAX)
        return kerr_invalid(e, target, "%s: a password of %d-%d characters (this one has %zu)",
                            target, ADMIN_PASSWORD_MIN, ADMIN_PASSWORD_MAX, n);
    bool lower = false, upper = false, digit = false, other = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return kerr_invalid(e, target, "%s: control characters are not allowed", target);
        lower |= c >= 'a' && c <= 'z';
        upper |= c >= 'A' && c <= 'Z';
        digit |= c >= '0' && c <= '9';
        other |= !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9');
    }
    if ((int)lower + (int)upper + (int)digit + (int)other < 3)
        return kerr_invalid(e, target,
                            "%s: too simple: use 3 of lower-case letters, upper-case letters, "
                            "digits and other characters (as Azure asks)",
                            target);
    return 0;
}

/* A string or array of strings as a JSON array of strings (text). */
static char *prefix_list(const json_t *one, const json_t *many)
{
    json_t *arr = json_array();
    if (one) {
        json_array_append_new(arr, json_string(json_string_value(one)));
    } else if (many) {
        size_t i;
        const json_t *el;
        json_array_foreach(many, i, el)
            json_array_append_new(arr, json_string(json_string_value(el)));
    } else {
        json_array_append_new(arr, json_string("*"));
    }
    char *text = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    return text;
}

/* Canonical text of a port list: as given without spaces; "*" stays. */
static char *ports_text(const json_t *v)
{
    const char *s = v ? json_string_value(v) : "*";
    size_t n = strlen(s);
    char *out = malloc(n + 1);
    if (!out) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t') out[o++] = s[i];
    out[o] = 0;
    return out;
}

int rule_normalize(const json_t *r, const char *prefix, struct rule_norm *out, struct kerr *e)
{
    memset(out, 0, sizeof(*out));
    char t[sizeof(e->target)];
    const char *pairs[][2] = {{"sourceAddressPrefix", "sourceAddressPrefixes"},
                              {"destinationAddressPrefix", "destinationAddressPrefixes"}};
    for (int i = 0; i < 2; i++) {
        if (json_object_get(r, pairs[i][0]) && json_object_get(r, pairs[i][1])) {
            snprintf(t, sizeof(t), "%s%s%s", prefix, *prefix ? "." : "", pairs[i][1]);
            return kerr_invalid(e, t, "%s: give %s or %s, not both", t, pairs[i][0], pairs[i][1]);
        }
    }
    const char *name = json_string_value(json_object_get(r, "name"));
    snprintf(out->name, sizeof(out->name), "%s", name ? name : "");
    /* A default rule's name cannot be reused (nsg_finish refuses it too). */
    static const char *const defaults[] = {
        "AllowVNetInBound",  "AllowAzureLoadBalancerInBound", "DenyAllInBound",
        "AllowVnetOutBound", "AllowInternetOutBound",         "DenyAllOutBound",
    };
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
        if (strcasecmp(out->name, defaults[i]) == 0) {
            snprintf(t, sizeof(t), "%s%sname", prefix, *prefix ? "." : "");
            return kerr_invalid(e, t, "%s: '%s' is the name of a default rule", t, defaults[i]);
        }
    }
    out->priority = (int)json_integer_value(json_object_get(r, "priority"));
    out->direction = canon_direction(json_string_value(json_object_get(r, "direction")));
    out->access = canon_access(json_string_value(json_object_get(r, "access")));
    const json_t *proto = json_object_get(r, "protocol");
    out->protocol = proto ? canon_protocol(json_string_value(proto)) : "*";
    if (!out->direction || !out->access || !out->protocol)
        return kerr_invalid(e, prefix, "%s: rule fields not checked", prefix); /* caller bug */
    const char *desc = json_string_value(json_object_get(r, "description"));
    snprintf(out->description, sizeof(out->description), "%s", desc ? desc : "");
    out->src_prefixes = prefix_list(json_object_get(r, "sourceAddressPrefix"),
                                    json_object_get(r, "sourceAddressPrefixes"));
    out->dst_prefixes = prefix_list(json_object_get(r, "destinationAddressPrefix"),
                                    json_object_get(r, "destinationAddressPrefixes"));
    out->src_ports = ports_text(json_object_get(r, "sourcePortRange"));
    out->dst_ports = ports_text(json_object_get(r, "destinationPortRange"));
    if (!out->src_prefixes || !out->dst_prefixes || !out->src_ports || !out->dst_ports) {
        rule_norm_free(out);
        return kerr_internal(e, "out of memory");
    }
    if (strcmp(out->protocol, "Icmp") == 0 &&
        (strcmp(out->src_ports, "*") || strcmp(out->dst_ports, "*"))) {
        snprintf(t, sizeof(t), "%s%s%s", prefix, *prefix ? "." : "",
                 strcmp(out->dst_ports, "*") ? "destinationPortRange" : "sourcePortRange");
        rule_norm_free(out);
        return kerr_invalid(e, t, "%s: must be * for protocol Icmp (ICMP has no ports)", t);
    }
    return 0;
}

void rule_norm_free(struct rule_norm *r)
{
    free(r->src_prefixes);
    free(r->dst_prefixes);
    free(r->src_ports);
    free(r->dst_ports);
    r->src_prefixes = r->dst_prefixes = r->src_ports = r->dst_ports = NULL;
}

int check_spaces_disjoint(const struct net_cidr *s, size_t n, const char *target, struct kerr *e)
{
    static const struct {
        struct net_cidr net;
        const char *why;
    } reserved[] = {
        {{NET_NAT_NETWORK, NET_NAT_PREFIX}, "which kumo keeps for its NAT and DNS"},
        {{0x00000000u, 8}, "which is 'this network' (0.0.0.0/8)"},
        {{0x7f000000u, 8}, "which is loopback (127.0.0.0/8)"},
        {{0xa9fe0000u, 16}, "which is link-local (169.254.0.0/16)"},
        {{0xe0000000u, 3}, "which is multicast and reserved space (224.0.0.0/3)"},
    };
    char a[NET_CIDR_STRLEN], b[NET_CIDR_STRLEN];
    for (size_t i = 0; i < n; i++) {
        for (size_t r = 0; r < sizeof(reserved) / sizeof(reserved[0]); r++)
            if (net_cidr_overlap(s[i], reserved[r].net))
                return kerr_invalid(e, target, "%s: %s overlaps %s, %s", target,
                                    net_cidr_str(s[i], a), net_cidr_str(reserved[r].net, b),
                                    reserved[r].why);
        for (size_t j = 0; j < i; j++)
            if (net_cidr_overlap(s[i], s[j]))
                return kerr_invalid(e, target, "%s: %s overlaps %s", target, net_cidr_str(s[i], a),
                                    net_cidr_str(s[j], b));
    }
    return 0;
}

int check_subnet_fits(struct net_cidr p, const struct net_cidr *spaces, size_t nspaces,
                      const struct net_cidr *sib, const char *const *sib_names, size_t nsib,
                      const char *target, struct kerr *e)
{
    char a[NET_CIDR_STRLEN], b[NET_CIDR_STRLEN];
    bool inside = false;
    for (size_t i = 0; i < nspaces && !inside; i++)
        inside = net_cidr_inside(p, spaces[i]);
    if (!inside) {
        char list[256] = "";
        for (size_t i = 0; i < nspaces; i++) {
            size_t used = strlen(list);
            snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "",
                     net_cidr_str(spaces[i], b));
        }
        return kerr_invalid(e, target, "%s: %s is not inside the address spaces of the VNet (%s)",
                            target, net_cidr_str(p, a), list[0] ? list : "none");
    }
    for (size_t i = 0; i < nsib; i++)
        if (net_cidr_overlap(p, sib[i]))
            return kerr_invalid(e, target, "%s: %s overlaps subnet '%s' (%s)", target,
                                net_cidr_str(p, a), sib_names[i], net_cidr_str(sib[i], b));
    return 0;
}
