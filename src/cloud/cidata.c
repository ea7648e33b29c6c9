/*
 * cidata.c - the NoCloud seed's files from a VM's model (contract in
 * cidata.h). cloud-init reads each YAML file with a YAML 1.1 parser, which
 * reads JSON as it is; jansson writes it (no "\/" escapes, which YAML
 * would not take).
 */
#include "cloud/cidata.h"

#include <assert.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* json_dumps of j with a first line (NULL: none); j is released. */
static char *dump(json_t *j, const char *first_line)
{
    if (!j) return NULL;
    char *body = json_dumps(j, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    json_decref(j);
    if (!body) return NULL;
    if (!first_line) return body;
    size_t a = strlen(first_line), b = strlen(body);
    char *out = malloc(a + b + 3);
    if (out) {
        memcpy(out, first_line, a);
        out[a] = '\n';
        memcpy(out + a + 1, body, b);
        out[a + 1 + b] = '\n';
        out[a + 2 + b] = 0;
    }
    free(body);
    return out;
}

static json_t *string_array(const char *const *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, json_string(v[i]));
    return a;
}

static json_t *vendor_config(const struct cidata_in *in)
{
    json_t *cfg = json_object();
    if (in->admin_user) {
        bool pw = in->password_hash != NULL;
        /* as Azure's agent: sudo without a password for a key-only
         * account, with the password when it has one */
        json_t *user = json_pack("{s:s,s:s,s:[s,s],s:s,s:s,s:b}", "name", in->admin_user, "gecos",
                                 "admin account (kumo)", "groups", "adm", "sudo", "sudo",
                                 pw ? "ALL=(ALL) ALL" : "ALL=(ALL) NOPASSWD:ALL", "shell",
                                 "/bin/bash", "lock_passwd", !pw);
        if (pw) json_object_set_new(user, "hashed_passwd", json_string(in->password_hash));
        if (in->nkeys)
            json_object_set_new(user, "ssh_authorized_keys", string_array(in->ssh_keys, in->nkeys));
        json_object_set_new(cfg, "users", json_pack("[o]", user));
        json_object_set_new(cfg, "ssh_pwauth", json_boolean(pw));
    }
    json_object_set_new(cfg, "disable_root", json_true());
    json_object_set_new(cfg, "manage_etc_hosts", json_true());
    if (in->report_url)
        json_object_set_new(cfg, "reporting",
                            json_pack("{s:{s:s,s:s,s:i,s:i}}", "kumo", "type", "webhook",
                                      "endpoint", in->report_url, "timeout", 5, "retries", 3));
    return cfg;
}

static json_t *network_config(const struct cidata_in *in)
{
    json_t *eth = json_object();
    for (size_t i = 0; i < in->nmacs; i++) {
        char name[32];
        snprintf(name, sizeof(name), "nic%zu", i);
        json_object_set_new(
            eth, name, json_pack("{s:{s:s},s:b}", "match", "macaddress", in->macs[i], "dhcp4", 1));
    }
    return json_pack("{s:i,s:o}", "version", 2, "ethernets", eth);
}

int cidata_build(const struct cidata_in *in, struct cidata *out)
{
    assert(in->instance_id && in->hostname);
    assert(in->nkeys <= CIDATA_MAX_KEYS && in->nmacs <= CIDATA_MAX_NICS);
    memset(out, 0, sizeof(*out));
    out->meta_data =
        dump(json_pack("{s:s,s:s}", "instance-id", in->instance_id, "local-hostname", in->hostname),
             NULL);
    out->vendor_data = dump(vendor_config(in), "#cloud-config");
    out->network_config = dump(network_config(in), NULL);
    out->user_data_len = in->user_data ? in->user_data_len : 0;
    out->user_data = malloc(out->user_data_len + 1);
    if (out->user_data && out->user_data_len)
        memcpy(out->user_data, in->user_data, out->user_data_len);
    if (!out->meta_data || !out->vendor_data || !out->network_config || !out->user_data) {
        cidata_free(out);
        return -1;
    }
    return 0;
}

void cidata_free(struct cidata *d)
{
    free(d->meta_data);
    free(d->vendor_data);
    free(d->network_config);
    free(d->user_data);
    memset(d, 0, sizeof(*d));
}
