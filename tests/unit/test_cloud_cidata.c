/*
 * test_cloud_cidata.c - a VM's cloud-init instance data (src/cloud/cidata.c)
 * and the verdict on its guest's reports (guestprov.c): the seed's YAML
 * files parse (as JSON, which YAML reads) into the values given, with the
 * admin account, its keys, sudo and the password rules, reporting and one
 * DHCP entry per NIC; quotes and newlines in values stay values; the user
 * data is passed byte for byte; the password hash is a SHA-512 crypt(3)
 * hash that verifies; the reports' verdicts.
 */
#include "cloud/cidata.h"
#include "cloud/guestprov.h"

#include <crypt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* The JSON document of a seed file, after its first line when skip. */
static json_t *parse(const char *text, bool skip)
{
    const char *p = text;
    if (skip) {
        CHECK(!strncmp(p, "#cloud-config\n", 14), "vendor-data starts with #cloud-config");
        p = strchr(p, '\n') + 1;
    }
    json_error_t err;
    json_t *j = json_loads(p, 0, &err);
    CHECK(j != NULL, "parses: %s", err.text);
    return j;
}

static const char *str_at(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static void keys_and_no_password(void)
{
    const char *keys[] = {"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA k1", "ssh-rsa AAAAB3Nza k\"2"};
    const char *macs[] = {"02:6b:75:00:00:01", "02:6b:75:00:00:07"};
    const unsigned char ud[] = "#!/bin/sh\n\0binary\xff";
    struct cidata_in in = {
        .instance_id = "0001-id",
        .hostname = "web-1",
        .admin_user = "azureuser",
        .ssh_keys = keys,
        .nkeys = 2,
        .user_data = ud,
        .user_data_len = sizeof(ud) - 1,
        .macs = macs,
        .nmacs = 2,
        .report_url = GUESTPROV_REPORT_URL,
    };
    struct cidata d;
    CHECK(cidata_build(&in, &d) == 0, "build");
    json_t *meta = parse(d.meta_data, false);
    CHECK(!strcmp(str_at(meta, "instance-id") ?: "", "0001-id") &&
              !strcmp(str_at(meta, "local-hostname") ?: "", "web-1"),
          "meta-data: %s", d.meta_data);
    json_t *v = parse(d.vendor_data, true);
    json_t *users = json_object_get(v, "users");
    CHECK(json_array_size(users) == 1, "one user");
    json_t *u = json_array_get(users, 0);
    CHECK(!strcmp(str_at(u, "name") ?: "", "azureuser"), "the admin's name");
    CHECK(!strcmp(str_at(u, "sudo") ?: "", "ALL=(ALL) NOPASSWD:ALL"),
          "key-only: sudo without a password (sudo -n works)");
    CHECK(json_is_true(json_object_get(u, "lock_passwd")) && !json_object_get(u, "hashed_passwd"),
          "no password: locked");
    json_t *ak = json_object_get(u, "ssh_authorized_keys");
    CHECK(json_array_size(ak) == 2 && !strcmp(json_string_value(json_array_get(ak, 1)), keys[1]),
          "both keys, the quote kept");
    json_t *groups = json_object_get(u, "groups");
    CHECK(json_array_size(groups) == 2 &&
              !strcmp(json_string_value(json_array_get(groups, 1)), "sudo"),
          "groups adm and sudo");
    CHECK(json_is_false(json_object_get(v, "ssh_pwauth")), "no password logins over SSH");
    CHECK(json_is_true(json_object_get(v, "disable_root")), "root logins refused");
    json_t *rep = json_object_get(json_object_get(v, "reporting"), "kumo");
    CHECK(!strcmp(str_at(rep, "type") ?: "", "webhook") &&
              !strcmp(str_at(rep, "endpoint") ?: "", GUESTPROV_REPORT_URL),
          "webhook reporting to the metadata service");
    json_t *net = parse(d.network_config, false);
    CHECK(json_integer_value(json_object_get(net, "version")) == 2, "network config v2");
    json_t *eth = json_object_get(net, "ethernets");
    CHECK(json_object_size(eth) == 2, "one entry per NIC");
    json_t *n1 = json_object_get(eth, "nic1");
    CHECK(!strcmp(str_at(json_object_get(n1, "match"), "macaddress") ?: "", macs[1]) &&
              json_is_true(json_object_get(n1, "dhcp4")),
          "nic1: DHCP on its MAC");
    CHECK(d.user_data_len == sizeof(ud) - 1 && !memcmp(d.user_data, ud, sizeof(ud) - 1),
          "user data byte for byte (NUL and 0xff included)");
    json_decref(meta);
    json_decref(v);
    json_decref(net);
    cidata_free(&d);
}

static void password_and_no_admin(void)
{
    char hash[GUESTPROV_PASSWORD_MAX], err[256];
    CHECK(guestprov_hash_password("Correct-Horse-9", hash, sizeof(hash), err, sizeof(err)) == 0,
          "hash: %s", err);
    CHECK(!strncmp(hash, "$6$", 3), "SHA-512 crypt: %s", hash);
    struct crypt_data cd;
    memset(&cd, 0, sizeof(cd));
    const char *again = crypt_r("Correct-Horse-9", hash, &cd);
    CHECK(again && !strcmp(again, hash), "the hash verifies the password");
    memset(&cd, 0, sizeof(cd));
    again = crypt_r("correct-horse-9", hash, &cd);
    CHECK(!again || strcmp(again, hash), "and not another one");
    char hash2[GUESTPROV_PASSWORD_MAX];
    guestprov_hash_password("Correct-Horse-9", hash2, sizeof(hash2), err, sizeof(err));
    CHECK(strcmp(hash, hash2) != 0, "a new salt each time");

    struct cidata_in in = {
        .instance_id = "i\"d\nx", .hostname = "h", .admin_user = "ops", .password_hash = hash};
    struct cidata d;
    CHECK(cidata_build(&in, &d) == 0, "build");
    json_t *meta = parse(d.meta_data, false);
    CHECK(!strcmp(str_at(meta, "instance-id") ?: "", "i\"d\nx"),
          "quotes and newlines stay inside the value");
    json_t *v = parse(d.vendor_data, true);
    json_t *u = json_array_get(json_object_get(v, "users"), 0);
    CHECK(!strcmp(str_at(u, "hashed_passwd") ?: "", hash) &&
              json_is_false(json_object_get(u, "lock_passwd")),
          "the hash, unlocked");
    CHECK(!strcmp(str_at(u, "sudo") ?: "", "ALL=(ALL) ALL"), "sudo asks for the password");
    CHECK(!json_object_get(u, "ssh_authorized_keys"), "no keys");
    CHECK(json_is_true(json_object_get(v, "ssh_pwauth")), "password logins over SSH");
    CHECK(!json_object_get(v, "reporting"), "no report URL: no reporting");
    CHECK(d.user_data_len == 0 && d.user_data, "no user data: an empty file");
    json_decref(meta);
    json_decref(v);
    cidata_free(&d);

    struct cidata_in none = {.instance_id = "i", .hostname = "h"};
    CHECK(cidata_build(&none, &d) == 0, "build");
    v = parse(d.vendor_data, true);
    CHECK(!json_object_get(v, "users") && !json_object_get(v, "ssh_pwauth"),
          "no admin: no users (the image's defaults)");
    json_decref(v);
    json_t *net = parse(d.network_config, false);
    CHECK(json_object_size(json_object_get(net, "ethernets")) == 0, "no NICs");
    json_decref(net);
    cidata_free(&d);
}

static void verdicts(void)
{
    const char *why;
    json_t *e = json_loads("[]", 0, NULL);
    CHECK(guestprov_judge(e, &why) == 0, "no report: not yet");
    json_decref(e);
    e = json_loads("[{\"name\":\"init-local\",\"event_type\":\"finish\",\"result\":\"SUCCESS\"},"
                   "{\"name\":\"init-network\",\"event_type\":\"start\",\"description\":\"x\"}]",
                   0, NULL);
    CHECK(guestprov_judge(e, &why) == 0, "init-network only started: not yet");
    json_decref(e);
    e = json_loads("[{\"name\":\"init-network\",\"event_type\":\"finish\",\"result\":\"WARN\","
                   "\"description\":\"running 'init'\"}]",
                   0, NULL);
    CHECK(guestprov_judge(e, &why) == 1 && why && !strcmp(why, "running 'init'"),
          "finished with a warning: done");
    json_decref(e);
    e = json_loads("[{\"name\":\"modules-final\",\"event_type\":\"finish\",\"result\":\"FAIL\"},"
                   "{\"name\":\"init-network\",\"event_type\":\"finish\",\"result\":\"FAIL\","
                   "\"description\":\"config-users-groups failed\"}]",
                   0, NULL);
    CHECK(guestprov_judge(e, &why) == -1 && why && strstr(why, "users-groups"),
          "init-network failed: failed, with its description");
    json_decref(e);
    e = json_loads("[{\"name\":\"modules-final\",\"event_type\":\"finish\",\"result\":\"FAIL\"}]",
                   0, NULL);
    CHECK(guestprov_judge(e, &why) == 0, "a failed user data alone decides nothing");
    json_decref(e);
}

int main(void)
{
    keys_and_no_password();
    password_and_no_admin();
    verdicts();
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
