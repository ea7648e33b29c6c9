/*
 * test_net_services.c - the platform services the switch answers itself:
 * the NIC "vm" object of the configuration (validation), the instance
 * metadata service (HTTP: imds_http; TCP: the minimal server of
 * tcpserv.c through sw_port_input and sw_nic_timers: handshake, request,
 * response within the peer's window and MSS, retransmission on timeout,
 * duplicate SYNs, resets, zero windows, the per-NIC bound, timeouts) and
 * the internal DNS (dns.c and its use in switch.c).
 */
#include "network/control.h"
#include "network/dns.h"
#include "network/imds.h"
#include "network/packet.h"
#include "network/switch.h"
#include "network/tcpserv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))

static const uint8_t GW[6] = {0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc};
static const uint8_t MAC1[6] = {0x52, 0x54, 0, 0, 0, 1}; /* v1 10.0.1.4 vm1 (2 NICs) */
static const uint8_t MAC3[6] = {0x52, 0x54, 0, 0, 0, 3}; /* v1 10.0.1.6 vm2 */
static const uint8_t MAC4[6] = {0x52, 0x54, 0, 0, 0, 4}; /* v2 10.0.1.4, no vm object */
enum { N1, N2, N3, N4 };
static const uint32_t IP1 = IP(10, 0, 1, 4), IP3 = IP(10, 0, 1, 6), IMDS = IP(169, 254, 169, 254),
                      PDNS = IP(168, 63, 129, 16);

/* "#!/bin/sh\necho hi\n" */
#define UD "IyEvYmluL3NoCmVjaG8gaGkK"

static char *user_data_big; /* base64 of 60000 bytes */

static const char *config(void)
{
    static char *doc;
    free(doc);
    size_t cap = 200000;
    doc = malloc(cap);
    snprintf(
        doc, cap,
        "{\"vnets\":["
        " {\"name\":\"v1\",\"address_space\":[\"10.0.0.0/16\"],\"subnets\":["
        "  {\"name\":\"web\",\"prefix\":\"10.0.1.0/24\"},{\"name\":\"db\",\"prefix\":\"10.0.2.0/24\"}]},"
        " {\"name\":\"v2\",\"address_space\":[\"10.0.0.0/16\"],\"subnets\":["
        "  {\"name\":\"web\",\"prefix\":\"10.0.1.0/24\"}]}],"
        "\"public_ips\":[{\"name\":\"p1\",\"host_address\":\"127.0.0.1\","
        "  \"ports\":[{\"host_port\":8080,\"nic_port\":80}]}],"
        "\"nics\":["
        " {\"id\":\"n1\",\"vnet\":\"v1\",\"subnet\":\"web\",\"mac\":\"52:54:00:00:00:01\","
        "  \"hostname\":\"vm1\",\"public_ip\":\"p1\",\"vm\":{\"name\":\"vm1\",\"id\":\"id-1\","
        "  \"size\":\"Tiny\",\"location\":\"local\",\"resource_group\":\"rg\","
        "  \"user_data\":\"" UD "\",\"admin_username\":\"azureuser\","
        "  \"public_keys\":[\"ssh-ed25519 AAAAC3Nza k1\",\"ssh-rsa AAAAB3Nza k2\"]}},"
        " {\"id\":\"n2\",\"vnet\":\"v1\",\"subnet\":\"db\",\"mac\":\"52:54:00:00:00:02\","
        "  \"hostname\":\"vm1\",\"vm\":{\"name\":\"vm1\",\"resource_group\":\"rg\"}},"
        " {\"id\":\"n3\",\"vnet\":\"v1\",\"subnet\":\"web\",\"mac\":\"52:54:00:00:00:03\","
        "  \"private_ip\":\"10.0.1.6\",\"hostname\":\"VM2\",\"vm\":{\"name\":\"vm2\","
        "  \"user_data\":\"%s\"}},"
        " {\"id\":\"n4\",\"vnet\":\"v2\",\"subnet\":\"web\",\"mac\":\"52:54:00:00:00:04\","
        "  \"hostname\":\"other\"}]}",
        user_data_big);
    return doc;
}

static struct sw *new_switch(void)
{
    struct sw *sw = sw_create();
    struct net_config *cfg;
    char err[512];
    const char *doc = config();
    if (net_config_parse(doc, strlen(doc), NULL, &cfg, err, sizeof(err)) < 0) {
        printf("config: %s\n", err);
        exit(1);
    }
    if (sw_apply(sw, cfg) < 0) exit(1);
    return sw;
}

static void make_big_user_data(void)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = 60000;
    user_data_big = malloc(n / 3 * 4 + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t w = (uint32_t)((i * 7) & 0xff) << 16 | (uint32_t)((i * 13) & 0xff) << 8 |
                     (uint32_t)((i * 31) & 0xff);
        user_data_big[o++] = tbl[(w >> 18) & 63];
        user_data_big[o++] = tbl[(w >> 12) & 63];
        user_data_big[o++] = tbl[(w >> 6) & 63];
        user_data_big[o++] = tbl[w & 63];
    }
    user_data_big[o] = 0;
}

/* ------------------------------------------------------------ config -- */

static void expect_config_error(const char *vm, const char *want)
{
    char doc[2048], err[512];
    snprintf(doc, sizeof(doc),
             "{\"vnets\":[{\"name\":\"v\",\"address_space\":[\"10.0.0.0/16\"],\"subnets\":["
             "{\"name\":\"s\",\"prefix\":\"10.0.0.0/24\"}]}],\"nics\":[{\"id\":\"n\",\"vnet\":\"v\","
             "\"subnet\":\"s\",\"mac\":\"52:54:00:00:00:01\",\"vm\":%s}]}",
             vm);
    struct net_config *cfg = NULL;
    int r = net_config_parse(doc, strlen(doc), NULL, &cfg, err, sizeof(err));
    if (!want) {
        CHECK(r == 0 && cfg && cfg->nics[0].vm, "%s: %s", vm, err);
    } else {
        CHECK(r < 0 && strstr(err, want), "%s: got '%s', want '%s'", vm, r < 0 ? err : "ok",
              want);
    }
    net_config_free(cfg);
}

static void test_config(void)
{
    expect_config_error("{\"name\":\"a\"}", NULL);
    expect_config_error("{\"name\":\"a b (c)\",\"user_data\":\"\",\"size\":\"Standard_B1s\"}",
                        NULL);
    expect_config_error("{\"name\":\"a\",\"user_data\":\"YQ==\"}", NULL);
    expect_config_error("{\"name\":\"a\",\"user_data\":\"YWI=\"}", NULL);
    expect_config_error("{}", "nics[0].vm.name: missing (required)");
    expect_config_error("[]", "nics[0].vm: expected an object");
    expect_config_error("{\"name\":\"a\",\"userdata\":\"\"}", "nics[0].vm: unknown field 'userdata'");
    expect_config_error("{\"name\":\"\"}", "nics[0].vm.name: must be 1-128 characters");
    expect_config_error("{\"name\":\"a\\nb\"}", "nics[0].vm.name: may only contain printable");
    expect_config_error("{\"name\":\"a\",\"user_data\":\"YQ=\"}",
                        "nics[0].vm.user_data: is not base64 (its length");
    expect_config_error("{\"name\":\"a\",\"user_data\":\"Y===\"}",
                        "nics[0].vm.user_data: is not base64 (RFC 4648");
    expect_config_error("{\"name\":\"a\",\"user_data\":\"Y Q=\"}",
                        "nics[0].vm.user_data: is not base64");
    expect_config_error("{\"name\":\"a\",\"id\":\"../x\"}", "nics[0].vm.id:");
    expect_config_error("{\"name\":\"a\",\"location\":7}", "nics[0].vm.location: expected a string");
    expect_config_error("{\"name\":\"a\",\"admin_username\":\"u\",\"public_keys\":[]}", NULL);
    expect_config_error("{\"name\":\"a\",\"public_keys\":\"ssh-rsa A\"}",
                        "nics[0].vm.public_keys: expected an array");
    expect_config_error("{\"name\":\"a\",\"public_keys\":[\"ssh-rsa A\",7]}",
                        "nics[0].vm.public_keys[1]: expected a string");
    expect_config_error("{\"name\":\"a\",\"public_keys\":[\"ssh-rsa A\\nssh-rsa B\"]}",
                        "nics[0].vm.public_keys[0]: may only contain printable ASCII");
    expect_config_error("{\"name\":\"a\",\"public_keys\":[\"\"]}",
                        "nics[0].vm.public_keys[0]: must be 1-8192 characters");
    expect_config_error("{\"name\":\"a\",\"public_keys\":[\"a\",\"a\",\"a\",\"a\",\"a\","
                        "\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\"]}",
                        "nics[0].vm.public_keys: 17 keys; at most 16");
    /* 65536 decoded bytes are allowed, one more is not */
    size_t n = 65536 / 3 * 4 + 4;
    char *big = malloc(n + 64), *vm = malloc(n + 128);
    memset(big, 'A', n);
    strcpy(big + n - 4, "AA=="); /* 21845*3 + 1 = 65536 */
    big[n] = 0;
    snprintf(vm, n + 128, "{\"name\":\"a\",\"user_data\":\"%s\"}", big);
    char doc[256];
    (void)doc;
    {
        char *d = malloc(n + 512), err[512];
        snprintf(d, n + 512,
                 "{\"vnets\":[{\"name\":\"v\",\"address_space\":[\"10.0.0.0/16\"],\"subnets\":["
                 "{\"name\":\"s\",\"prefix\":\"10.0.0.0/24\"}]}],\"nics\":[{\"id\":\"n\","
                 "\"vnet\":\"v\",\"subnet\":\"s\",\"mac\":\"52:54:00:00:00:01\",\"vm\":%s}]}",
                 vm);
        struct net_config *cfg = NULL;
        CHECK(net_config_parse(d, strlen(d), NULL, &cfg, err, sizeof(err)) == 0, "64 KiB: %s", err);
        net_config_free(cfg);
        strcpy(big + n - 4, "AAA=");
        snprintf(d, n + 512,
                 "{\"vnets\":[{\"name\":\"v\",\"address_space\":[\"10.0.0.0/16\"],\"subnets\":["
                 "{\"name\":\"s\",\"prefix\":\"10.0.0.0/24\"}]}],\"nics\":[{\"id\":\"n\","
                 "\"vnet\":\"v\",\"subnet\":\"s\",\"mac\":\"52:54:00:00:00:01\",\"vm\":{\"name\":"
                 "\"a\",\"user_data\":\"%s\"}}]}",
                 big);
        cfg = NULL;
        CHECK(net_config_parse(d, strlen(d), NULL, &cfg, err, sizeof(err)) < 0 &&
                  strstr(err, "65537 bytes decoded; at most 65536"),
              "64 KiB + 1: %s", err);
        net_config_free(cfg);
        free(d);
    }
    free(big);
    free(vm);
}

/* -------------------------------------------------------------- HTTP -- */

static char *http(const struct net_config *cfg, size_t nic, const char *req, int *status)
{
    uint8_t *resp = NULL;
    size_t len = 0;
    int r = imds_http(cfg, nic, (const uint8_t *)req, strlen(req), true, false, &resp, &len, NULL);
    *status = -1;
    if (r != 1) return NULL;
    char *s = malloc(len + 1);
    memcpy(s, resp, len);
    s[len] = 0;
    free(resp);
    sscanf(s, "HTTP/1.1 %d", status);
    return s;
}

static const char *body_of(const char *resp)
{
    const char *b = strstr(resp, "\r\n\r\n");
    return b ? b + 4 : "";
}

static void expect_http(const struct net_config *cfg, size_t nic, const char *req, int status,
                        const char *in_body)
{
    int st;
    char *r = http(cfg, nic, req, &st);
    CHECK(r && st == status && (!in_body || strstr(body_of(r), in_body)),
          "%.60s: got %d '%.300s', want %d '%s'", req, st, r ? r : "(none)", status,
          in_body ? in_body : "");
    free(r);
}

static void test_http(void)
{
    struct sw *sw = new_switch();
    const struct net_config *cfg = sw->cfg;
    const char *H = " HTTP/1.1\r\nHost: 169.254.169.254\r\nMetadata: true\r\n\r\n";
    char req[512];
    snprintf(req, sizeof(req), "GET /metadata/instance?api-version=2021-02-01%s", H);
    expect_http(cfg, N1, req, 200, "\"compute\":{\"name\":\"vm1\",\"vmId\":\"id-1\","
                                   "\"vmSize\":\"Tiny\",\"location\":\"local\","
                                   "\"resourceGroupName\":\"rg\",\"computerName\":\"vm1\"");
    expect_http(cfg, N1, req, 200, "\"userData\":\"" UD "\"");
    expect_http(cfg, N1, req, 200,
                "\"osProfile\":{\"adminUsername\":\"azureuser\",\"computerName\":\"vm1\","
                "\"disablePasswordAuthentication\":\"true\"},\"publicKeys\":[{\"keyData\":"
                "\"ssh-ed25519 AAAAC3Nza k1\",\"path\":\"/home/azureuser/.ssh/authorized_keys\"},"
                "{\"keyData\":\"ssh-rsa AAAAB3Nza k2\"");
    /* no admin user: no keys */
    expect_http(cfg, N3, req, 200, "\"adminUsername\":\"\",\"computerName\":\"VM2\"");
    expect_http(cfg, N3, req, 200, "\"publicKeys\":[]");
    expect_http(cfg, N1, req, 200,
                "\"interface\":[{\"macAddress\":\"525400000001\",\"ipv4\":{\"ipAddress\":[{"
                "\"privateIpAddress\":\"10.0.1.4\",\"publicIpAddress\":\"127.0.0.1\","
                "\"publicIpPorts\":[{\"hostPort\":8080,\"nicPort\":80,\"protocol\":\"Tcp\"}]}],"
                "\"subnet\":[{\"address\":\"10.0.1.0\",\"prefix\":\"24\"}]}");
    /* the VM's second NIC is listed after the asking one; asked from it, first */
    expect_http(cfg, N1, req, 200, "},{\"macAddress\":\"525400000002\"");
    expect_http(cfg, N2, req, 200, "\"interface\":[{\"macAddress\":\"525400000002\"");
    expect_http(cfg, N2, req, 200, "\"privateIpAddress\":\"10.0.2.4\",\"publicIpAddress\":\"\"");
    /* without a vm object: the NIC id, no user data */
    expect_http(cfg, N4, req, 200, "\"name\":\"n4\",\"vmId\":\"\"");
    snprintf(req, sizeof(req), "GET /metadata/instance/compute/name%s", H);
    expect_http(cfg, N3, req, 200, "\"vm2\"");
    snprintf(req, sizeof(req), "GET /metadata/instance/compute/vmId?format=text%s", H);
    expect_http(cfg, N1, req, 200, NULL);
    {
        int st;
        char *r = http(cfg, N1, req, &st);
        CHECK(r && !strcmp(body_of(r), "id-1") && strstr(r, "Content-Type: text/plain"), "%s", r ? r : "");
        CHECK(r && strstr(r, "Content-Length: 4\r\n") && strstr(r, "Connection: close\r\n"), "%s", r ? r : "");
        free(r);
    }
    snprintf(req, sizeof(req), "GET /metadata/instance/network/interface/0/ipv4/ipAddress/0/"
                               "privateIpAddress?format=text&api-version=1%s", H);
    expect_http(cfg, N3, req, 200, "10.0.1.6");
    snprintf(req, sizeof(req), "GET /metadata/instance/compute/publicKeys/1/keyData?format=text%s",
             H);
    expect_http(cfg, N1, req, 200, "ssh-rsa AAAAB3Nza k2");
    snprintf(req, sizeof(req), "GET /metadata/instance/compute/publicKeys/2/keyData?format=text%s",
             H);
    expect_http(cfg, N1, req, 404, NULL);
    snprintf(req, sizeof(req),
             "GET /metadata/instance/compute/osProfile/adminUsername?format=text%s", H);
    expect_http(cfg, N1, req, 200, "azureuser");
    snprintf(req, sizeof(req), "GET /metadata/instance/compute/?format=text%s", H);
    expect_http(cfg, N1, req, 200, "name\nvmId\nvmSize");
    snprintf(req, sizeof(req), "GET /metadata/instance/network/interface?format=text%s", H);
    expect_http(cfg, N1, req, 200, "0/\n1/");
    snprintf(req, sizeof(req), "GET /metadata/userdata%s", H);
    {
        int st;
        char *r = http(cfg, N1, req, &st);
        CHECK(r && st == 200 && !strcmp(body_of(r), UD), "%s", r ? r : "");
        free(r);
        r = http(cfg, N4, req, &st);
        CHECK(r && st == 200 && !strcmp(body_of(r), "") && strstr(r, "Content-Length: 0\r\n"),
              "%s", r ? r : "");
        free(r);
    }
    snprintf(req, sizeof(req), "GET /metadata/instance/compute/nope%s", H);
    expect_http(cfg, N1, req, 404, "Not found");
    snprintf(req, sizeof(req), "GET /metadata/instance/network/interface/2%s", H);
    expect_http(cfg, N1, req, 404, NULL);
    snprintf(req, sizeof(req), "GET /metadata/instance/network/interface/-1%s", H);
    expect_http(cfg, N1, req, 404, NULL);
    snprintf(req, sizeof(req), "GET /metadata/instancex%s", H);
    expect_http(cfg, N1, req, 404, NULL);
    snprintf(req, sizeof(req), "GET /%s", H);
    expect_http(cfg, N1, req, 404, NULL);
    snprintf(req, sizeof(req), "GET /metadata/instance?format=xml%s", H);
    expect_http(cfg, N1, req, 400, "Invalid format");
    snprintf(req, sizeof(req), "POST /metadata/instance%s", H);
    expect_http(cfg, N1, req, 405, NULL);
    /* the Metadata header is required, and no proxy may have relayed it */
    expect_http(cfg, N1, "GET /metadata/instance HTTP/1.1\r\nHost: x\r\n\r\n", 400,
                "Required metadata header not specified");
    expect_http(cfg, N1, "GET /metadata/instance HTTP/1.1\r\nMetadata: false\r\n\r\n", 400,
                "Required metadata header");
    expect_http(cfg, N1, "GET /metadata/instance HTTP/1.0\nmetadata:TRUE \n\n", 200, "vm1");
    expect_http(cfg, N1,
                "GET /metadata/instance HTTP/1.1\r\nMetadata: true\r\nX-Forwarded-For: 1.2.3.4"
                "\r\n\r\n",
                400, "X-Forwarded-For");
    /* malformed */
    expect_http(cfg, N1, "GET /metadata/instance\r\nMetadata: true\r\n\r\n", 400, "request line");
    expect_http(cfg, N1, "GET  /metadata/instance HTTP/1.1\r\n\r\n", 400, "request line");
    expect_http(cfg, N1, "GET /m HTTP/2.0\r\n\r\n", 400, "Not HTTP/1.x");
    expect_http(cfg, N1, "GET http://x/metadata/instance HTTP/1.1\r\n\r\n", 400, "path");
    expect_http(cfg, N1, "GET /metadata/instance HTTP/1.1\r\nMetadata true\r\n\r\n", 400,
                "header field");
    expect_http(cfg, N1, "GET /metadata/instance HTTP/1.1\r\n Metadata: true\r\n\r\n", 400,
                "header field");
    expect_http(cfg, N1, "GET /metadata/instance HTTP/1.1\r\nMeta\rdata: true\r\n\r\n", 400,
                NULL);
    expect_http(cfg, N1, "G\x01T /metadata/instance HTTP/1.1\r\n\r\n", 400, "Control character");
    expect_http(cfg, N1, "GET /metadata/instance HTTP/1.1\r\nMetadata: true\r\n", 400,
                "Incomplete");
    expect_http(cfg, N1, "\r\n\r\nGET /metadata/instance HTTP/1.1\r\nMetadata: true\r\n\r\n",
                200, "vm1");
    {
        /* incomplete and not final: wait; full: 431 */
        uint8_t *resp = NULL;
        size_t len = 0;
        const char *part = "GET /metadata/instance HTTP/1.1\r\nMetad";
        CHECK(imds_http(cfg, N1, (const uint8_t *)part, strlen(part), false, false, &resp, &len, NULL) ==
                  0 && !resp,
              "partial");
        CHECK(imds_http(cfg, N1, (const uint8_t *)part, strlen(part), true, true, &resp, &len, NULL) ==
                  1 && resp && !memcmp(resp, "HTTP/1.1 431", 12),
              "full");
        free(resp);
        CHECK(imds_http(cfg, 99, (const uint8_t *)part, strlen(part), true, true, &resp, &len, NULL) < 0,
              "bad nic");
    }
    sw_destroy(sw);
}

/* ------------------------------------------------ provisioning reports -- */

static void expect_report(struct sw *sw, size_t nic, const char *body, int status,
                          const char *in_body, bool stored)
{
    char req[4096];
    snprintf(req, sizeof(req),
             "POST /kumo/v1/provisioning HTTP/1.1\r\nHost: 169.254.169.254\r\n"
             "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
             strlen(body), body);
    uint8_t *resp = NULL;
    size_t len = 0;
    json_t *report = NULL;
    int r = imds_http(sw->cfg, nic, (const uint8_t *)req, strlen(req), true, false, &resp, &len,
                      &report);
    char *s = r == 1 ? strndup((const char *)resp, len) : NULL;
    int st = -1;
    if (s) sscanf(s, "HTTP/1.1 %d", &st);
    CHECK(r == 1 && st == status && (!in_body || strstr(body_of(s), in_body)) &&
              (report != NULL) == stored,
          "%.80s: got %d '%.200s' report %p, want %d '%s' %s", body, st, s ? s : "", (void *)report,
          status, in_body ? in_body : "", stored ? "stored" : "not stored");
    if (report) sw_add_report(sw, nic, report);
    free(s);
    free(resp);
}

static json_t *provisioning(struct sw *sw, const char *nic, bool clear)
{
    struct ctl_env env = {.sw = sw};
    json_t *req = json_pack("{s:s,s:s,s:b}", "op", "provisioning", "nic", nic, "clear", clear);
    json_t *r = ctl_handle(&env, req);
    json_decref(req);
    return r;
}

static void test_reports(void)
{
    struct sw *sw = new_switch();
    /* cloud-init's webhook events: stages are kept, modules are not */
    expect_report(sw, N1,
                  "{\"name\":\"init-network\",\"description\":\"searching for network "
                  "datasources\",\"event_type\":\"start\",\"origin\":\"cloudinit\","
                  "\"timestamp\":1700000000.5}",
                  200, "{}", true);
    expect_report(sw, N1,
                  "{\"name\":\"init-network/config-ssh\",\"description\":\"running config-ssh\","
                  "\"event_type\":\"finish\",\"origin\":\"cloudinit\",\"result\":\"SUCCESS\"}",
                  200, NULL, false);
    expect_report(sw, N1,
                  "{\"name\":\"init-network\",\"description\":\"searching for network "
                  "datasources\",\"event_type\":\"finish\",\"origin\":\"cloudinit\","
                  "\"result\":\"SUCCESS\"}",
                  200, NULL, true);
    expect_report(sw, N1,
                  "{\"name\":\"modules-final\",\"description\":\"bad\\u00e9\\n\","
                  "\"event_type\":\"finish\",\"result\":\"FAIL\"}",
                  200, NULL, true);
    /* bad reports: 400 with the reason, nothing kept */
    expect_report(sw, N1, "[1]", 400, "JSON object", false);
    expect_report(sw, N1, "{\"name\":\"x\"", 400, "JSON object", false);
    expect_report(sw, N1, "{\"event_type\":\"finish\",\"result\":\"FAIL\"}", 400, "name", false);
    expect_report(sw, N1, "{\"name\":\"x\",\"event_type\":\"finish\"}", 400, "needs a result",
                  false);
    expect_report(sw, N1, "{\"name\":\"x\",\"event_type\":\"end\",\"result\":\"FAIL\"}", 400,
                  "event_type", false);
    expect_report(sw, N1, "{\"name\":\"x\",\"event_type\":\"finish\",\"result\":\"OK\"}", 400,
                  "result", false);
    expect_report(sw, N1, "{\"name\":\"x\",\"name\":\"y\",\"event_type\":\"start\"}", 400,
                  "JSON object", false);
    json_t *r = provisioning(sw, "n1", false);
    json_t *ev = json_object_get(r, "events");
    CHECK(json_is_true(json_object_get(r, "ok")) && json_array_size(ev) == 2 &&
              json_integer_value(json_object_get(r, "seq")) == 3,
          "provisioning: %s", json_dumps(r, 0));
    json_t *e0 = json_array_get(ev, 0), *e1 = json_array_get(ev, 1);
    CHECK(!strcmp(json_string_value(json_object_get(e0, "name")), "init-network") &&
              !strcmp(json_string_value(json_object_get(e0, "event_type")), "finish") &&
              !strcmp(json_string_value(json_object_get(e0, "result")), "SUCCESS") &&
              json_integer_value(json_object_get(e0, "seq")) == 2 &&
              !json_object_get(e0, "timestamp"),
          "the stage's latest event, without unknown fields");
    CHECK(!strcmp(json_string_value(json_object_get(e1, "description")), "bad???") &&
              !strcmp(json_string_value(json_object_get(e1, "origin")), ""),
          "description: printable ASCII only: %s",
          json_string_value(json_object_get(e1, "description")));
    json_decref(r);
    /* clear: answered, then gone; the count goes on */
    json_decref(provisioning(sw, "n1", true));
    r = provisioning(sw, "n1", false);
    CHECK(json_array_size(json_object_get(r, "events")) == 0 &&
              json_integer_value(json_object_get(r, "seq")) == 3,
          "cleared");
    json_decref(r);
    r = provisioning(sw, "nope", false);
    CHECK(!json_is_true(json_object_get(r, "ok")), "unknown nic");
    json_decref(r);
    /* at most SW_REPORTS_MAX stages, the oldest goes */
    for (int i = 0; i < SW_REPORTS_MAX + 2; i++) {
        char body[128];
        snprintf(body, sizeof(body), "{\"name\":\"s%d\",\"event_type\":\"start\"}", i);
        expect_report(sw, N2, body, 200, NULL, true);
    }
    r = provisioning(sw, "n2", false);
    ev = json_object_get(r, "events");
    CHECK(json_array_size(ev) == SW_REPORTS_MAX &&
              !strcmp(json_string_value(json_object_get(json_array_get(ev, 0), "name")), "s2"),
          "bounded");
    json_decref(r);
    /* reports survive a new configuration (same NIC) */
    {
        struct net_config *cfg;
        char err[512];
        const char *doc = config();
        CHECK(net_config_parse(doc, strlen(doc), NULL, &cfg, err, sizeof(err)) == 0, "%s", err);
        CHECK(sw_apply(sw, cfg) == 0, "apply");
        r = provisioning(sw, "n2", false);
        CHECK(json_array_size(json_object_get(r, "events")) == SW_REPORTS_MAX, "carried over");
        json_decref(r);
    }
    /* HTTP: no Metadata header needed; limits; only POST; elsewhere 405 */
    const char *H = " HTTP/1.1\r\nHost: 169.254.169.254\r\n";
    char req[4096];
    snprintf(req, sizeof(req), "POST /kumo/v1/provisioning%s\r\n", H);
    expect_http(sw->cfg, N1, req, 411, NULL);
    snprintf(req, sizeof(req), "POST /kumo/v1/provisioning%sContent-Length: 3000\r\n\r\n", H);
    expect_http(sw->cfg, N1, req, 413, NULL);
    snprintf(req, sizeof(req), "POST /kumo/v1/provisioning%sContent-Length: 10\r\n\r\n{}", H);
    expect_http(sw->cfg, N1, req, 400, "Incomplete body");
    snprintf(req, sizeof(req),
             "POST /kumo/v1/provisioning%sContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", H);
    expect_http(sw->cfg, N1, req, 400, "Content-Length");
    snprintf(req, sizeof(req),
             "POST /kumo/v1/provisioning%sTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
             H);
    expect_http(sw->cfg, N1, req, 400, "Content-Length");
    snprintf(req, sizeof(req),
             "POST /kumo/v1/provisioning%sX-Forwarded-For: 1.2.3.4\r\n"
             "Content-Length: 2\r\n\r\n{}",
             H);
    expect_http(sw->cfg, N1, req, 400, "X-Forwarded-For");
    snprintf(req, sizeof(req), "GET /kumo/v1/provisioning%sMetadata: true\r\n\r\n", H);
    expect_http(sw->cfg, N1, req, 405, NULL);
    {
        /* the body may arrive after the header: wait for it */
        uint8_t *resp = NULL;
        size_t len = 0;
        snprintf(req, sizeof(req), "POST /kumo/v1/provisioning%sContent-Length: 40\r\n\r\n{\"na",
                 H);
        CHECK(imds_http(sw->cfg, N1, (const uint8_t *)req, strlen(req), false, false, &resp, &len,
                        NULL) == 0 &&
                  !resp,
              "body pending");
    }
    sw_destroy(sw);
}

/* --------------------------------------------------------------- TCP -- */

static uint8_t frame[NET_FRAME_MAX];
static struct sw_out out;

static size_t tcp_frame(const uint8_t mac[6], uint32_t src, uint16_t sport, uint32_t seq,
                        uint32_t ack, uint8_t flags, uint16_t wnd, uint16_t mss, const char *data)
{
    struct net_tcp_seg s = {.src_ip = src, .dst_ip = IMDS, .sport = sport, .dport = 80,
                            .seq = seq, .ack = ack, .flags = flags, .window = wnd, .mss = mss};
    return net_build_tcp(frame, GW, mac, &s, data, data ? strlen(data) : 0);
}

struct seg {
    uint32_t seq, ack;
    uint8_t flags;
    uint16_t wnd, mss;
    size_t len;
    const uint8_t *data;
    uint32_t src, dst;
    uint16_t sport, dport;
    bool csum_ok;
};

static bool parse_seg(size_t k, struct seg *s)
{
    struct net_frame f;
    if (k >= out.n || out.f[k].dest != SW_TO_PORT) return false;
    if (net_parse_frame(out.f[k].data, out.f[k].len, &f) != NET_PARSE_OK) return false;
    if (f.proto != NET_IPPROTO_TCP) return false;
    const uint8_t *t = f.data + f.l4_off;
    memset(s, 0, sizeof(*s));
    s->seq = net_rd32(t + 4);
    s->ack = net_rd32(t + 8);
    s->flags = t[13];
    s->wnd = net_rd16(t + 14);
    if (f.payload_off - f.l4_off >= 24 && t[20] == 2) s->mss = net_rd16(t + 22);
    s->len = f.payload_len;
    s->data = f.data + f.payload_off;
    s->src = f.src_ip;
    s->dst = f.dst_ip;
    s->sport = f.sport;
    s->dport = f.dport;
    uint8_t pseudo[12];
    net_wr32(pseudo, f.src_ip);
    net_wr32(pseudo + 4, f.dst_ip);
    pseudo[8] = 0;
    pseudo[9] = 6;
    net_wr16(pseudo + 10, (uint16_t)f.l4_len);
    s->csum_ok = net_csum(t, f.l4_len, net_csum_add(pseudo, 12, 0)) == 0 &&
                 !memcmp(f.dst_mac, out.f[k].index == N1 ? MAC1 : MAC3, 6) &&
                 !memcmp(f.src_mac, GW, 6);
    return true;
}

/* A client on nic: connect, send req, read everything with window wnd and
 * MSS mss, ACKing each segment in order, until the FIN; retransmissions by
 * the switch's timer when drop_every (> 0) loses every nth segment. */
struct client_result {
    char *body;
    size_t len;
    bool fin, reset;
    unsigned segments, max_seg;
};

static void run_client(struct sw *sw, size_t nic, const uint8_t *mac, uint32_t ip, uint16_t port,
                       const char *req, uint16_t wnd, uint16_t mss, unsigned drop_every,
                       struct client_result *res, uint64_t *now)
{
    memset(res, 0, sizeof(*res));
    size_t cap = 1 << 20;
    res->body = calloc(1, cap);
    uint32_t iss = 1000, rcv = 0;
    struct seg s;
    sw_port_input(sw, nic, frame, tcp_frame(mac, ip, port, iss, 0, NET_TCP_SYN, wnd, mss, NULL),
                  *now, &out);
    CHECK(out.n == 1 && parse_seg(0, &s) && s.flags == (NET_TCP_SYN | NET_TCP_ACK) &&
              s.ack == iss + 1 && s.mss == TCPS_MSS && s.csum_ok && s.src == IMDS && s.dst == ip &&
              s.sport == 80 && s.dport == port,
          "SYN+ACK (n=%zu flags=%x ack=%u mss=%u)", out.n, s.flags, s.ack, s.mss);
    rcv = s.seq + 1;
    sw_port_input(sw, nic, frame,
                  tcp_frame(mac, ip, port, iss + 1, rcv, NET_TCP_ACK | NET_TCP_PSH, wnd, 0, req),
                  *now, &out);
    uint32_t myseq = iss + 1 + (uint32_t)strlen(req);
    unsigned seen = 0;
    for (int rounds = 0; rounds < 10000 && !res->fin && !res->reset; rounds++) {
        bool progress = false;
        for (size_t k = 0; k < out.n; k++) {
            if (!parse_seg(k, &s)) continue;
            CHECK(s.csum_ok, "segment checksum/MACs");
            if (s.flags & NET_TCP_RST) {
                res->reset = true;
                break;
            }
            seen++;
            if (drop_every && seen % drop_every == 0) continue; /* lost */
            res->segments++;
            if (s.len > res->max_seg) res->max_seg = s.len;
            if (s.seq == rcv && s.len) {
                if (res->len + s.len < cap) memcpy(res->body + res->len, s.data, s.len);
                res->len += s.len;
                rcv += (uint32_t)s.len;
                progress = true;
            }
            if (s.seq + s.len == rcv && (s.flags & NET_TCP_FIN) && !res->fin) {
                rcv++;
                res->fin = true;
                progress = true;
            }
        }
        if (res->fin || res->reset) break;
        if (progress) {
            sw_port_input(sw, nic, frame,
                          tcp_frame(mac, ip, port, myseq, rcv, NET_TCP_ACK, wnd, 0, NULL), *now,
                          &out);
        } else {
            /* nothing new: let the switch's timer retransmit */
            uint64_t d = sw_nic_deadline(sw, nic);
            if (d == UINT64_MAX) break;
            *now = d > *now ? d : *now;
            sw_nic_timers(sw, nic, *now, &out);
        }
    }
    /* close our side; the switch acknowledges and lingers */
    sw_port_input(sw, nic, frame,
                  tcp_frame(mac, ip, port, myseq, rcv, NET_TCP_ACK | NET_TCP_FIN, wnd, 0, NULL),
                  *now, &out);
    res->body[res->len < cap ? res->len : cap - 1] = 0;
}

static void test_tcp(void)
{
    struct sw *sw = new_switch();
    uint64_t now = 1000;
    struct client_result r;
    const char *req = "GET /metadata/instance/compute/name HTTP/1.1\r\nMetadata: true\r\n\r\n";
    run_client(sw, N1, MAC1, IP1, 40000, req, 65535, 1460, 0, &r, &now);
    CHECK(r.fin && !r.reset && strstr(r.body, "HTTP/1.1 200 OK") && strstr(r.body, "\r\n\r\n\"vm1\""),
          "small response: %s", r.body);
    CHECK(sw->nics[N1].st.metadata_requests == 1, "counted");
    struct seg s;
    CHECK(out.n == 1 && parse_seg(0, &s) && s.flags == NET_TCP_ACK, "our FIN acknowledged");
    CHECK(sw->nics[N1].imds && tcps_active(sw->nics[N1].imds) == 1, "lingers");
    /* a retransmitted FIN in linger is acknowledged again */
    sw_port_input(sw, N1, frame, tcp_frame(MAC1, IP1, 40000, 1001 + (uint32_t)strlen(req), 0,
                                           NET_TCP_ACK | NET_TCP_FIN, 65535, 0, NULL),
                  now, &out);
    CHECK(out.n == 1 && parse_seg(0, &s) && s.flags == NET_TCP_ACK, "FIN again -> ACK");
    now += TCPS_LINGER_MS;
    sw_nic_timers(sw, N1, now, &out);
    CHECK(out.n == 0 && !sw->nics[N1].imds, "linger over: nothing held");
    free(r.body);

    /* 60000 bytes of user data: small window and MSS, every 5th segment lost */
    req = "GET /metadata/userdata HTTP/1.1\r\nMetadata: true\r\n\r\n";
    run_client(sw, N3, MAC3, IP3, 40001, req, 3000, 536, 5, &r, &now);
    const char *b = strstr(r.body, "\r\n\r\n");
    CHECK(r.fin && b && !strcmp(b + 4, user_data_big), "big response (%zu bytes, fin %d)", r.len,
          r.fin);
    CHECK(r.max_seg == 536, "MSS respected: %u", r.max_seg);
    now += TCPS_LINGER_MS;
    sw_nic_timers(sw, N3, now, &out);
    free(r.body);

    /* a retransmitted SYN gets the same SYN+ACK; an ACK for nothing an RST */
    sw_port_input(sw, N1, frame, tcp_frame(MAC1, IP1, 41000, 5000, 0, NET_TCP_SYN, 65535, 0, NULL),
                  now, &out);
    struct seg a, b2;
    CHECK(parse_seg(0, &a) && a.mss == TCPS_MSS, "SYN+ACK");
    sw_port_input(sw, N1, frame, tcp_frame(MAC1, IP1, 41000, 5000, 0, NET_TCP_SYN, 65535, 0, NULL),
                  now, &out);
    CHECK(parse_seg(0, &b2) && b2.seq == a.seq && b2.flags == (NET_TCP_SYN | NET_TCP_ACK),
          "same SYN+ACK");
    /* not acknowledged: retransmitted by the timer, with backoff */
    uint64_t d = sw_nic_deadline(sw, N1);
    CHECK(d == now + TCPS_RTO_MS, "RTO armed: %llu", (unsigned long long)(d - now));
    sw_nic_timers(sw, N1, d, &out);
    CHECK(out.n == 1 && parse_seg(0, &b2) && b2.seq == a.seq, "SYN+ACK retransmitted");
    CHECK(sw_nic_deadline(sw, N1) == d + 2 * TCPS_RTO_MS, "backoff");
    /* a bad ACK of the handshake: reset for it, the connection stays */
    sw_port_input(sw, N1, frame,
                  tcp_frame(MAC1, IP1, 41000, 5001, a.seq + 7, NET_TCP_ACK, 65535, 0, NULL), now,
                  &out);
    CHECK(out.n == 1 && parse_seg(0, &b2) && b2.flags == NET_TCP_RST && b2.seq == a.seq + 7,
          "RST for a wrong ACK");
    /* the client resets: gone */
    sw_port_input(sw, N1, frame, tcp_frame(MAC1, IP1, 41000, 5001, 0, NET_TCP_RST, 0, 0, NULL),
                  now, &out);
    CHECK(out.n == 0 && !sw->nics[N1].imds, "reset frees");
    /* segments of no connection */
    sw_port_input(sw, N1, frame,
                  tcp_frame(MAC1, IP1, 41001, 77, 99, NET_TCP_ACK | NET_TCP_PSH, 65535, 0, "x"),
                  now, &out);
    CHECK(out.n == 1 && parse_seg(0, &s) && s.flags == NET_TCP_RST && s.seq == 99, "RST for ACK");
    sw_port_input(sw, N1, frame, tcp_frame(MAC1, IP1, 41001, 77, 0, NET_TCP_FIN, 65535, 0, NULL),
                  now, &out);
    CHECK(out.n == 1 && parse_seg(0, &s) && s.flags == (NET_TCP_RST | NET_TCP_ACK) && s.ack == 78,
          "RST+ACK for a bare FIN");
    sw_port_input(sw, N1, frame, tcp_frame(MAC1, IP1, 41001, 77, 0, NET_TCP_RST, 65535, 0, NULL),
                  now, &out);
    CHECK(out.n == 0, "never an RST for an RST");
    /* other ports and protocols of 169.254.169.254: nothing */
    uint64_t nr = sw->nics[N1].st.drops[SW_DROP_NO_ROUTE];
    uint64_t ne = sw->nics[N1].st.drops[SW_DROP_EGRESS];
    struct net_tcp_seg ts = {.src_ip = IP1, .dst_ip = IMDS, .sport = 1, .dport = 443,
                             .flags = NET_TCP_SYN};
    sw_port_input(sw, N1, frame, net_build_tcp(frame, GW, MAC1, &ts, NULL, 0), now, &out);
    CHECK(out.n == 0 && sw->nics[N1].st.drops[SW_DROP_NO_ROUTE] == nr + 1, "port 443");
    /* nor other link-local addresses: never to the NAT */
    ts.dst_ip = IP(169, 254, 1, 1);
    ts.dport = 80;
    sw_port_input(sw, N1, frame, net_build_tcp(frame, GW, MAC1, &ts, NULL, 0), now, &out);
    CHECK(out.n == 0 && sw->nics[N1].st.drops[SW_DROP_EGRESS] == ne + 1, "169.254.1.1");
    /* to the metadata address but switched to a NIC's MAC: no */
    ts.dst_ip = IMDS;
    sw_port_input(sw, N1, frame, net_build_tcp(frame, MAC3, MAC1, &ts, NULL, 0), now, &out);
    CHECK(out.n == 0, "not routed");
    /* spoofed source: dropped before the service */
    ts.src_ip = IP3;
    sw_port_input(sw, N1, frame, net_build_tcp(frame, GW, MAC1, &ts, NULL, 0), now, &out);
    CHECK(out.n == 0 && sw->nics[N1].st.drops[SW_DROP_SPOOFED] == 1, "spoofed");

    /* the bound: TCPS_CONNS connections; one more evicts the oldest */
    for (unsigned k = 0; k <= TCPS_CONNS; k++) {
        sw_port_input(sw, N1, frame,
                      tcp_frame(MAC1, IP1, (uint16_t)(42000 + k), 9000, 0, NET_TCP_SYN, 65535, 0,
                                NULL),
                      now + k, &out);
        if (k < TCPS_CONNS) CHECK(out.n == 1, "SYN+ACK %u", k);
    }
    CHECK(out.n == 2 && parse_seg(0, &s) && s.flags & NET_TCP_RST && s.dport == 42000 &&
              parse_seg(1, &a) && a.flags == (NET_TCP_SYN | NET_TCP_ACK) && a.dport == 42000 + TCPS_CONNS,
          "oldest reset, newest accepted");
    CHECK(tcps_active(sw->nics[N1].imds) == TCPS_CONNS, "bounded");
    /* a request never completed: reset after TCPS_REQUEST_MS */
    for (unsigned k = 1; k <= TCPS_CONNS; k++)
        sw_port_input(sw, N1, frame,
                      tcp_frame(MAC1, IP1, (uint16_t)(42000 + k), 9001, a.seq + 1 - (k == TCPS_CONNS ? 0 : 0),
                                NET_TCP_ACK, 65535, 0, "GET / HT"),
                      now, &out);
    uint64_t t = now;
    unsigned resets = 0;
    while ((d = sw_nic_deadline(sw, N1)) != UINT64_MAX && d < now + 60000) {
        t = d;
        sw_nic_timers(sw, N1, t, &out);
        for (size_t k = 0; k < out.n; k++)
            if (parse_seg(k, &s) && (s.flags & NET_TCP_RST)) resets++;
    }
    CHECK(!sw->nics[N1].imds && resets == TCPS_CONNS && t >= now + TCPS_REQUEST_MS &&
              t < now + TCPS_REQUEST_MS + 100,
          "request timeout: %u resets at +%llu", resets, (unsigned long long)(t - now));
    now = t;

    /* a zero window: the switch probes, then sends once the window opens */
    req = "GET /metadata/instance/compute/vmSize?format=text HTTP/1.0\r\nMetadata: true\r\n\r\n";
    sw_port_input(sw, N1, frame, tcp_frame(MAC1, IP1, 43000, 100, 0, NET_TCP_SYN, 0, 0, NULL), now,
                  &out);
    parse_seg(0, &a);
    sw_port_input(sw, N1, frame,
                  tcp_frame(MAC1, IP1, 43000, 101, a.seq + 1, NET_TCP_ACK, 0, 0, req), now, &out);
    CHECK(out.n == 1 && parse_seg(0, &s) && s.len == 0 && s.flags == NET_TCP_ACK,
          "only an ACK into a zero window");
    d = sw_nic_deadline(sw, N1);
    sw_nic_timers(sw, N1, d, &out);
    CHECK(out.n == 1 && parse_seg(0, &s) && s.len == 1 && s.seq == a.seq + 1 && s.data[0] == 'H',
          "zero window probe: %zu bytes", s.len);
    uint32_t myseq = 101 + (uint32_t)strlen(req);
    sw_port_input(sw, N1, frame,
                  tcp_frame(MAC1, IP1, 43000, myseq, a.seq + 2, NET_TCP_ACK, 1000, 0, NULL), d,
                  &out);
    CHECK(out.n == 1 && parse_seg(0, &s) && s.seq == a.seq + 2 && (s.flags & NET_TCP_FIN) &&
              s.len > 8 && !memcmp(s.data + s.len - 8, "\r\n\r\nTiny", 8),
          "rest with FIN after the window opens (n=%zu)", out.n);
    /* three duplicate ACKs: fast retransmit from the first unacknowledged byte */
    for (int k = 0; k < 3; k++)
        sw_port_input(sw, N1, frame,
                      tcp_frame(MAC1, IP1, 43000, myseq, a.seq + 2, NET_TCP_ACK, 1000, 0, NULL),
                      d, &out);
    CHECK(out.n == 1 && parse_seg(0, &s) && s.seq == a.seq + 2, "fast retransmit");
    /* an ACK beyond what was sent: re-ACKed, ignored */
    sw_port_input(sw, N1, frame,
                  tcp_frame(MAC1, IP1, 43000, myseq, a.seq + 100000, NET_TCP_ACK, 1000, 0, NULL),
                  d, &out);
    CHECK(out.n == 1 && parse_seg(0, &s) && s.len == 0 && s.flags == NET_TCP_ACK, "ack of unsent");
    /* never acknowledged: retransmitted TCPS_RETRIES times, then reset */
    unsigned rtx = 0;
    resets = 0;
    while ((d = sw_nic_deadline(sw, N1)) != UINT64_MAX) {
        sw_nic_timers(sw, N1, d, &out);
        for (size_t k = 0; k < out.n; k++)
            if (parse_seg(k, &s)) (s.flags & NET_TCP_RST) ? resets++ : rtx++;
        now = d;
    }
    CHECK(resets == 1 && rtx >= TCPS_RETRIES - 1, "gave up: %u retransmissions, %u resets", rtx,
          resets);

    /* a request longer than TCPS_REQ_MAX: 431, the rest acknowledged and dropped */
    sw_port_input(sw, N1, frame, tcp_frame(MAC1, IP1, 44000, 0, 0, NET_TCP_SYN, 65535, 0, NULL),
                  now, &out);
    parse_seg(0, &a);
    char *chunk = malloc(1401);
    memset(chunk, 'a', 1400);
    chunk[1400] = 0;
    memcpy(chunk, "GET / HTTP/1.1\r\nX: ", 19);
    uint32_t seq = 1;
    bool got431 = false;
    for (int k = 0; k < 4; k++) {
        sw_port_input(sw, N1, frame,
                      tcp_frame(MAC1, IP1, 44000, seq, a.seq + 1, NET_TCP_ACK, 65535, 0, chunk),
                      now, &out);
        seq += 1400;
        for (size_t j = 0; j < out.n; j++)
            if (parse_seg(j, &s) && s.len && !memcmp(s.data, "HTTP/1.1 431", 12)) got431 = true;
        CHECK(out.n >= 1 && parse_seg(out.n - 1, &s) && s.ack == seq, "all acknowledged");
        chunk[0] = 'b';
    }
    CHECK(got431, "431");
    free(chunk);

    /* connections survive a configuration change of their NIC's VNet */
    struct net_config *cfg;
    char err[256];
    const char *doc = config();
    CHECK(net_config_parse(doc, strlen(doc), sw->cfg, &cfg, err, sizeof(err)) == 0, "%s", err);
    sw_apply(sw, cfg);
    CHECK(sw->nics[N1].imds && tcps_active(sw->nics[N1].imds) == 1, "kept over a config change");
    sw_destroy(sw);
}

/* --------------------------------------------------------------- DNS -- */

static size_t dns_query(uint8_t *m, uint16_t id, const char *name, uint16_t qtype, bool edns)
{
    memset(m, 0, 12);
    net_wr16(m, id);
    net_wr16(m + 2, 0x0100);
    net_wr16(m + 4, 1);
    net_wr16(m + 10, edns ? 1 : 0);
    size_t i = 12;
    const char *p = name;
    while (*p) {
        const char *dot = strchr(p, '.');
        size_t l = dot ? (size_t)(dot - p) : strlen(p);
        m[i++] = (uint8_t)l;
        memcpy(m + i, p, l);
        i += l;
        p += l + (dot ? 1 : 0);
    }
    m[i++] = 0;
    net_wr16(m + i, qtype);
    net_wr16(m + i + 2, 1);
    i += 4;
    if (edns) {
        static const uint8_t opt[] = {0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0};
        memcpy(m + i, opt, sizeof(opt));
        i += sizeof(opt);
    }
    return i;
}

/* Send a query from n1 to dst; returns the answer's rcode and fills addrs,
 * or -1 if it went to the NAT, -2 for nothing. */
static int ask(struct sw *sw, size_t nic, const uint8_t *mac, uint32_t ip, uint32_t dst,
               const char *name, uint16_t qtype, uint32_t *addrs, size_t *n)
{
    uint8_t q[600];
    size_t ql = dns_query(q, 0x4242, name, qtype, true);
    sw_port_input(sw, nic, frame, net_build_udp(frame, GW, mac, ip, dst, 5353, 53, q, ql), 1000,
                  &out);
    *n = 0;
    if (out.n != 1) return -2;
    if (out.f[0].dest == SW_TO_NAT) return -1;
    struct net_frame f;
    if (net_parse_frame(out.f[0].data, out.f[0].len, &f) != NET_PARSE_OK ||
        f.proto != NET_IPPROTO_UDP || f.sport != 53 || f.dport != 5353 || f.src_ip != dst ||
        f.dst_ip != ip || memcmp(f.dst_mac, mac, 6))
        return -3;
    const uint8_t *a = f.data + f.payload_off;
    if (f.payload_len < 12 || net_rd16(a) != 0x4242 || !(a[2] & 0x80) || !(a[2] & 0x04) ||
        !(a[2] & 0x01) || net_rd16(a + 4) != 1 || net_rd16(a + 10) != 0)
        return -4;
    size_t an = net_rd16(a + 6), off = ql - 11; /* the answers follow the question */
    for (size_t k = 0; k < an && off + 16 <= f.payload_len; k++, off += 16) {
        if (net_rd16(a + off) != 0xc00c || net_rd16(a + off + 2) != 1 ||
            net_rd32(a + off + 6) != DNS_TTL)
            return -5;
        addrs[(*n)++] = net_rd32(a + off + 12);
    }
    return a[3] & 0xf;
}

static void test_dns(void)
{
    struct sw *sw = new_switch();
    uint32_t addrs[8];
    size_t n;
    int r = ask(sw, N1, MAC1, IP1, PDNS, "vm2", DNS_TYPE_A, addrs, &n);
    CHECK(r == 0 && n == 1 && addrs[0] == IP3, "vm2: %d %zu", r, n);
    r = ask(sw, N3, MAC3, IP3, PDNS, "VM1.Internal", DNS_TYPE_A, addrs, &n);
    CHECK(r == 0 && n == 2 && addrs[0] == IP1 && addrs[1] == IP(10, 0, 2, 4),
          "vm1.internal: both NICs: %d %zu", r, n);
    r = ask(sw, N1, MAC1, IP1, PDNS, "vm2", DNS_TYPE_AAAA, addrs, &n);
    CHECK(r == 0 && n == 0, "AAAA: no data: %d %zu", r, n);
    r = ask(sw, N1, MAC1, IP1, PDNS, "nope.internal", DNS_TYPE_A, addrs, &n);
    CHECK(r == DNS_RCODE_NXDOMAIN && n == 0, "nope.internal: %d", r);
    r = ask(sw, N1, MAC1, IP1, PDNS, "a.b.internal", DNS_TYPE_A, addrs, &n);
    CHECK(r == DNS_RCODE_NXDOMAIN, "a.b.internal: %d", r);
    /* not ours: to the upstream (the NAT), as before */
    r = ask(sw, N1, MAC1, IP1, PDNS, "example.com", DNS_TYPE_A, addrs, &n);
    CHECK(r == -1, "example.com forwarded: %d", r);
    r = ask(sw, N1, MAC1, IP1, PDNS, "nope", DNS_TYPE_A, addrs, &n);
    CHECK(r == -1, "unknown single label forwarded: %d", r);
    r = ask(sw, N1, MAC1, IP1, PDNS, "vm2.example.com", DNS_TYPE_A, addrs, &n);
    CHECK(r == -1, "vm2.example.com forwarded: %d", r);
    /* isolation: v2 does not see v1's names, and v1 not v2's */
    r = ask(sw, N4, MAC4, IP1, PDNS, "vm2", DNS_TYPE_A, addrs, &n);
    CHECK(r == -1, "vm2 from v2: forwarded: %d", r);
    r = ask(sw, N4, MAC4, IP1, PDNS, "vm2.internal", DNS_TYPE_A, addrs, &n);
    CHECK(r == DNS_RCODE_NXDOMAIN, "vm2.internal from v2: %d", r);
    r = ask(sw, N1, MAC1, IP1, PDNS, "other", DNS_TYPE_A, addrs, &n);
    CHECK(r == -1, "v2's name from v1: %d", r);
    r = ask(sw, N4, MAC4, IP1, PDNS, "other", DNS_TYPE_A, addrs, &n);
    CHECK(r == 0 && n == 1 && addrs[0] == IP1, "other from v2: %d", r);
    /* another resolver: not answered by the switch */
    r = ask(sw, N1, MAC1, IP1, IP(8, 8, 8, 8), "vm2", DNS_TYPE_A, addrs, &n);
    CHECK(r == -1, "to 8.8.8.8: %d", r);
    CHECK(sw->nics[N1].st.dns_answers == 4, "counted: %llu",
          (unsigned long long)sw->nics[N1].st.dns_answers);

    /* the parser */
    uint8_t m[600];
    struct dns_query q;
    size_t l = dns_query(m, 1, "vm2.internal", 1, false);
    CHECK(dns_parse_query(m, l, &q) == 0 && q.nlabels == 2 && !strcmp(q.name, "vm2.internal") &&
              q.qend == l && q.plain,
          "parse");
    for (size_t cut = 0; cut < l; cut++) CHECK(dns_parse_query(m, cut, &q) < 0, "cut at %zu", cut);
    m[12] = 0xc0; /* a compression pointer */
    CHECK(dns_parse_query(m, l, &q) < 0, "pointer");
    m[12] = 64;
    CHECK(dns_parse_query(m, l, &q) < 0, "label type");
    l = dns_query(m, 1, "vm2", 1, false);
    net_wr16(m + 2, 0x8100);
    CHECK(dns_parse_query(m, l, &q) < 0, "a response");
    net_wr16(m + 2, 0x2900);
    CHECK(dns_parse_query(m, l, &q) < 0, "opcode 5");
    net_wr16(m + 2, 0x0100);
    net_wr16(m + 4, 2);
    CHECK(dns_parse_query(m, l, &q) < 0, "two questions");
    net_wr16(m + 4, 1);
    net_wr16(m + 6, 1);
    CHECK(dns_parse_query(m, l, &q) < 0, "answers in a query");
    net_wr16(m + 6, 0);
    m[13] = 'V';
    m[14] = '.';
    CHECK(dns_parse_query(m, l, &q) == 0 && !q.plain, "a dot in a label is not plain");
    /* the longest name: 255 bytes on the wire */
    char name[300];
    size_t o = 0;
    for (int k = 0; k < 4; k++) {
        memset(name + o, 'a', 62);
        o += 62;
        name[o++] = '.';
    }
    name[o - 1] = 0; /* 4 labels of 62 = 252 + 4 length bytes + 1 = 253 */
    l = dns_query(m, 1, name, 1, false);
    CHECK(dns_parse_query(m, l, &q) == 0, "253 bytes");
    strcat(name, ".ab");
    l = dns_query(m, 1, name, 1, false);
    CHECK(dns_parse_query(m, l, &q) < 0, "256 bytes");
    sw_destroy(sw);
}

int main(void)
{
    make_big_user_data();
    test_config();
    test_http();
    test_reports();
    test_tcp();
    test_dns();
    free(user_data_big);
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
