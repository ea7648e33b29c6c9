/*
 * cidata.h - the instance data kumod gives cloud-init on a VM's NoCloud
 * seed disk (docs/images.md, "Provisioning"): the four files of a seed,
 * made from the VM's model. seed.h writes them into the ISO image.
 *
 *   meta-data       instance-id (the VM's vmId: a new one for every VM, so
 *                   cloud-init's per-instance work runs once per VM) and
 *                   local-hostname
 *   user-data       the VM's user data, byte for byte (cloud-config, a
 *                   script, MIME multipart: whatever cloud-init takes)
 *   vendor-data     kumod's cloud-config: the admin account (sudo; its SSH
 *                   keys; its password hash, or a locked password), SSH
 *                   password logins on only with a password, and webhook
 *                   reporting to the metadata service; the user data can
 *                   override it (cloud-init merges user data over it)
 *   network-config  version 2: DHCP on every NIC, matched by MAC address
 *
 * The YAML documents are written as JSON (a subset of the YAML cloud-init
 * reads), so every value is quoted and escaped by jansson.
 *
 * Contract: pure; the caller has checked the values (validate.h's admin
 * user name and SSH key rules); cidata_build allocates the texts, which
 * cidata_free releases.
 */
#ifndef KUMO_CLOUD_CIDATA_H
#define KUMO_CLOUD_CIDATA_H

#include <stddef.h>

#define CIDATA_MAX_NICS 8
#define CIDATA_MAX_KEYS 16

struct cidata_in {
    const char *instance_id; /* the VM's vmId */
    const char *hostname;    /* an RFC 1123 label */
    const char *admin_user;  /* NULL: no admin account */
    const char *const *ssh_keys;
    size_t nkeys;                   /* at most CIDATA_MAX_KEYS */
    const char *password_hash;      /* crypt(3) hash, or NULL: password locked */
    const unsigned char *user_data; /* decoded; NULL: none */
    size_t user_data_len;
    const char *const *macs; /* "02:6b:75:00:00:01", one per NIC */
    size_t nmacs;            /* at most CIDATA_MAX_NICS */
    const char *report_url;  /* cloud-init's webhook endpoint, or NULL: no reporting */
};

struct cidata {
    char *meta_data, *vendor_data, *network_config; /* NUL-terminated */
    unsigned char *user_data;                       /* user_data_len bytes (may be 0) */
    size_t user_data_len;
};

/* 0, or -1 when out of memory (out is then empty). */
int cidata_build(const struct cidata_in *in, struct cidata *out);
void cidata_free(struct cidata *d);

#endif
