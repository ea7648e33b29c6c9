/*
 * test_net_config.c - the configuration document (src/network/config.c):
 * every validation error names its field; address allocation (first usable
 * is .4, statics are skipped, addresses stay stable across changes, a full
 * subnet is an error); and the control protocol (src/network/control.c)
 * driving a switch without sockets.
 */
#include "network/config.h"
#include "network/control.h"
#include "network/switch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))

static const char *VNET = "{\"name\":\"v1\",\"address_space\":[\"10.0.0.0/16\"],\"subnets\":["
                          "{\"name\":\"web\",\"prefix\":\"10.0.1.0/"
                          "24\"},{\"name\":\"tiny\",\"prefix\":\"10.0.9.0/29\"}]}";

static struct net_config *load(const char *doc, const struct net_config *prev, char *err)
{
    struct net_config *cfg = NULL;
    net_config_parse(doc, strlen(doc), prev, &cfg, err, 512);
    return cfg;
}

static void expect(const char *doc, const char *want)
{
    char err[512] = "";
    struct net_config *cfg = load(doc, NULL, err);
    CHECK(!cfg && strstr(err, want), "want '%s', got '%s'", want, cfg ? "(accepted)" : err);
    net_config_free(cfg);
}

static void test_errors(void)
{
    char doc[4096];
    expect("{", "invalid JSON");
    expect("[]", "configuration: expected an object, not an array");
    expect("{\"vnet\":[]}", "unknown field 'vnet'");
    expect("{\"vnets\":{}}", "vnets: expected an array, not an object");
    expect("{\"vnets\":[{\"name\":\"a\",\"address_space\":[\"10.0.0.0/16\"]},"
           "{\"name\":\"a\",\"address_space\":[\"10.1.0.0/16\"]}]}",
           "vnets[1]: name 'a' is already used by vnets[0]");
    expect("{\"vnets\":[{\"name\":\"a\"}]}", "vnets[0].address_space: missing (required)");
    expect("{\"vnets\":[{\"name\":\"a\",\"address_space\":[]}]}", "must list at least one");
    expect("{\"vnets\":[{\"name\":\"a\",\"address_space\":[\"10.0.0.1/16\"]}]}",
           "vnets[0].address_space[0]: '10.0.0.1/16' has host bits set (did you mean "
           "10.0.0.0/16?)");
    expect("{\"vnets\":[{\"name\":\"a\",\"address_space\":[\"127.0.0.0/16\"]}]}",
           "overlaps 127.0.0.0/8, which is reserved (loopback)");
    expect("{\"vnets\":[{\"name\":\"a\",\"address_space\":[\"168.63.0.0/16\"]}]}",
           "used by the platform");
    expect("{\"vnets\":[{\"name\":\"a\",\"address_space\":[\"10.0.0.0/16\",\"10.0.128.0/17\"]}]}",
           "address_space[1]: 10.0.128.0/17 overlaps address_space[0] 10.0.0.0/16");
    expect("{\"vnets\":[{\"name\":\"a\",\"address_space\":[\"10.1.0.0/16\"],\"subnets\":["
           "{\"name\":\"s\",\"prefix\":\"10.0.1.0/24\"}]}]}",
           "vnets[0].subnets[0].prefix: subnet 10.0.1.0/24 is not inside the VNet's address "
           "space 10.1.0.0/16");
    expect("{\"vnets\":[{\"name\":\"a\",\"address_space\":[\"10.0.0.0/16\"],\"subnets\":["
           "{\"name\":\"s\",\"prefix\":\"10.0.0.0/17\"},{\"name\":\"t\",\"prefix\":\"10.0.1.0/"
           "24\"}]}]}",
           "subnets[1].prefix: subnet 10.0.1.0/24 overlaps subnets[0] 's' 10.0.0.0/17");
    expect("{\"vnets\":[{\"name\":\"a\",\"address_space\":[\"10.0.0.0/16\"],\"subnets\":["
           "{\"name\":\"s\",\"prefix\":\"10.0.1.0/30\"}]}]}",
           "the prefix length must be 8-29");
    expect("{\"vnets\":[{\"name\":\"a\",\"address_space\":[\"10.0.0.0/16\"],\"subnets\":["
           "{\"name\":\"s\",\"prefix\":\"10.0.1.0/24\",\"nsg\":\"nope\"}]}]}",
           "vnets[0].subnets[0].nsg: no NSG is named 'nope'");
    expect("{\"vnets\":[{\"name\":\"a\",\"address_space\":[\"10.0.0.0/16\"],\"dns\":\"8.8.8\"}]}",
           "vnets[0].dns: '8.8.8' is not an IPv4 address");

    /* NICs */
#define NICS(x) snprintf(doc, sizeof(doc), "{\"vnets\":[%s],\"nics\":[%s]}", VNET, x)
    NICS("{\"id\":\"n1\",\"vnet\":\"v9\",\"subnet\":\"web\",\"mac\":\"52:54:00:00:00:01\"}");
    expect(doc, "nics[0].vnet: no VNet is named 'v9'");
    NICS("{\"id\":\"n1\",\"vnet\":\"v1\",\"subnet\":\"db\",\"mac\":\"52:54:00:00:00:01\"}");
    expect(doc, "nics[0].subnet: VNet 'v1' has no subnet named 'db'");
    NICS("{\"id\":\"n1\",\"vnet\":\"v1\",\"subnet\":\"web\",\"mac\":\"52:54:00:00:00:0g\"}");
    expect(doc, "nics[0].mac: '52:54:00:00:00:0g' is not a MAC address");
    NICS("{\"id\":\"n1\",\"vnet\":\"v1\",\"subnet\":\"web\",\"mac\":\"01:00:5e:00:00:01\"}");
    expect(doc, "cannot be a NIC's address");
    NICS("{\"id\":\"nic-2\",\"vnet\":\"v1\",\"subnet\":\"web\",\"mac\":\"52:54:00:00:00:01\"},"
         "{\"id\":\"nic-3\",\"vnet\":\"v1\",\"subnet\":\"web\",\"mac\":\"52:54:00:00:00:01\"}");
    expect(doc, "nics[1].mac: NIC mac 52:54:00:00:00:01 is already used by nic-2");
    NICS("{\"id\":\"n1\",\"vnet\":\"v1\",\"subnet\":\"web\",\"mac\":\"52:54:00:00:00:01\"},"
         "{\"id\":\"n1\",\"vnet\":\"v1\",\"subnet\":\"web\",\"mac\":\"52:54:00:00:00:02\"}");
    expect(doc, "nics[1]: id 'n1' is already used by nics[0]");
    NICS("{\"id\":\"n1\",\"vnet\":\"v1\",\"subnet\":\"web\",\"mac\":\"52:54:00:00:00:01\","
         "\"private_ip\":\"10.0.2.4\"}");
    expect(doc, "nics[0].private_ip: 10.0.2.4 is not inside subnet 'web' 10.0.1.0/24");
    const char *reserved[] = {"10.0.1.0", "10.0.1.1", "10.0.1.2", "10.0.1.3", "10.0.1.255"};
    for (int i = 0; i < 5; i++) {
        char nic[256];
        snprintf(nic, sizeof(nic),
                 "{\"id\":\"n1\",\"vnet\":\"v1\",\"subnet\":\"web\",\"mac\":\"52:54:00:00:00:01\","
                 "\"private_ip\":\"%s\"}",
                 reserved[i]);
        NICS(nic);
        expect(doc, "is reserved");
    }
    NICS("{\"id\":\"n1\",\"vnet\":\"v1\",\"subnet\":\"web\",\"mac\":\"52:54:00:00:00:01\","
         "\"private_ip\":\"10.0.1.9\"},"
         "{\"id\":\"n2\",\"vnet\":\"v1\",\"subnet\":\"web\",\"mac\":\"52:54:00:00:00:02\","
         "\"private_ip\":\"10.0.1.9\"}");
    expect(doc, "nics[1].private_ip: 10.0.1.9 is already used by n1");
    NICS("{\"id\":\"n1\",\"vnet\":\"v1\",\"subnet\":\"web\",\"mac\":\"52:54:00:00:00:01\","
         "\"nsg\":\"x\"}");
    expect(doc, "nics[0].nsg: no NSG is named 'x'");
    NICS("{\"id\":\"n1\",\"vnet\":\"v1\",\"subnet\":\"web\",\"mac\":\"52:54:00:00:00:01\","
         "\"public_ip\":\"p\"}");
    expect(doc, "nics[0].public_ip: no public IP is named 'p'");
    NICS("{\"id\":\"n1\",\"vnet\":\"v1\",\"subnet\":\"web\",\"mac\":\"52:54:00:00:00:01\","
         "\"hostname\":\"-bad\"}");
    expect(doc, "nics[0].hostname");
    NICS("{\"id\":\"n1\",\"vnet\":\"v1\",\"subnet\":\"web\"}");
    expect(doc, "nics[0].mac: missing (required)");
    NICS("{\"id\":\"n1\",\"vnet\":\"v1\",\"subnet\":\"web\",\"mac\":\"52:54:00:00:00:01\","
         "\"ip\":\"10.0.1.4\"}");
    expect(doc, "nics[0]: unknown field 'ip'");
    /* a /29 has three usable addresses */
    NICS("{\"id\":\"a\",\"vnet\":\"v1\",\"subnet\":\"tiny\",\"mac\":\"52:54:00:00:00:01\"},"
         "{\"id\":\"b\",\"vnet\":\"v1\",\"subnet\":\"tiny\",\"mac\":\"52:54:00:00:00:02\"},"
         "{\"id\":\"c\",\"vnet\":\"v1\",\"subnet\":\"tiny\",\"mac\":\"52:54:00:00:00:03\"},"
         "{\"id\":\"d\",\"vnet\":\"v1\",\"subnet\":\"tiny\",\"mac\":\"52:54:00:00:00:04\"}");
    expect(doc, "nics[3]: subnet 'tiny' 10.0.9.0/29 has no free address left");

    /* public IPs */
    snprintf(doc, sizeof(doc),
             "{\"vnets\":[%s],\"public_ips\":[{\"name\":\"p\",\"ports\":[{\"host_port\":8080,"
             "\"nic_port\":80}]},{\"name\":\"q\",\"host_address\":\"0.0.0.0\",\"ports\":[{"
             "\"host_port\":8080,\"nic_port\":81}]}]}",
             VNET);
    expect(doc, "public_ips[1].ports[0]: host port 0.0.0.0:8080/tcp is already used by "
                "public_ips[0] 'p'");
    snprintf(doc, sizeof(doc),
             "{\"vnets\":[%s],\"public_ips\":[{\"name\":\"p\",\"ports\":[{\"host_port\":0,"
             "\"nic_port\":80}]}]}",
             VNET);
    expect(doc, "public_ips[0].ports[0].host_port: 0 is outside 1-65535");
    snprintf(doc, sizeof(doc),
             "{\"vnets\":[%s],\"public_ips\":[{\"name\":\"p\",\"ports\":[{\"host_port\":1,"
             "\"nic_port\":80,\"protocol\":\"Icmp\"}]}]}",
             VNET);
    expect(doc, "public_ips[0].ports[0].protocol: 'Icmp' is not Tcp or Udp");
    snprintf(doc, sizeof(doc),
             "{\"vnets\":[%s],\"public_ips\":[{\"name\":\"p\"}],\"nics\":["
             "{\"id\":\"a\",\"vnet\":\"v1\",\"subnet\":\"web\",\"mac\":\"52:54:00:00:00:01\","
             "\"public_ip\":\"p\"},"
             "{\"id\":\"b\",\"vnet\":\"v1\",\"subnet\":\"web\",\"mac\":\"52:54:00:00:00:02\","
             "\"public_ip\":\"p\"}]}",
             VNET);
    expect(doc, "nics[1].public_ip: public IP 'p' is already assigned to a");

    /* conntrack */
    expect("{\"conntrack\":{\"max_entries\":0}}", "conntrack.max_entries: 0 is outside");
    expect("{\"conntrack\":{\"tcp_establish\":5}}", "conntrack: unknown field 'tcp_establish'");

    /* overlapping VNets are fine: they are isolated */
    char err[512];
    struct net_config *cfg = load(
        "{\"vnets\":[{\"name\":\"a\",\"address_space\":[\"10.0.0.0/16\"]},"
        "{\"name\":\"b\",\"address_space\":[\"10.0.0.0/16\"]}],\"conntrack\":{\"max_entries\":9,"
        "\"udp_replied\":5}}",
        NULL, err);
    CHECK(cfg != NULL, "overlapping VNets: %s", err);
    CHECK(cfg && cfg->conntrack.max_entries == 9 && cfg->conntrack.timeout[CT_UDP_REPLIED] == 5,
          "conntrack limits parsed");
    net_config_free(cfg);
}

static void test_allocation(void)
{
    char doc[4096], err[512];
    snprintf(doc, sizeof(doc),
             "{\"vnets\":[%s],\"nics\":["
             "{\"id\":\"n1\",\"vnet\":\"v1\",\"subnet\":\"web\",\"mac\":\"52:54:00:00:00:01\"},"
             "{\"id\":\"n2\",\"vnet\":\"v1\",\"subnet\":\"web\",\"mac\":\"52:54:00:00:00:02\","
             "\"private_ip\":\"10.0.1.5\"},"
             "{\"id\":\"n3\",\"vnet\":\"v1\",\"subnet\":\"web\",\"mac\":\"52:54:00:00:00:03\"},"
             "{\"id\":\"n4\",\"vnet\":\"v1\",\"subnet\":\"tiny\",\"mac\":\"52:54:00:00:00:04\"}]}",
             VNET);
    struct net_config *a = load(doc, NULL, err);
    CHECK(a != NULL, "load: %s", err);
    if (!a) return;
    CHECK(a->nics[0].ip == IP(10, 0, 1, 4), "first usable is .4");
    CHECK(a->nics[1].ip == IP(10, 0, 1, 5) && a->nics[1].ip_static, "static .5");
    CHECK(a->nics[2].ip == IP(10, 0, 1, 6), "next free skips the static");
    CHECK(a->nics[3].ip == IP(10, 0, 9, 4), "tiny subnet .4");
    CHECK(a->vnets[0].subnets[0].gateway == IP(10, 0, 1, 1), "gateway is .1");
    CHECK(a->vnets[0].dns == IP(168, 63, 129, 16), "default DNS is the platform's");

    /* n1 removed: n3 keeps .6, a new NIC gets the lowest free address .4 */
    snprintf(doc, sizeof(doc),
             "{\"vnets\":[%s],\"nics\":["
             "{\"id\":\"n5\",\"vnet\":\"v1\",\"subnet\":\"web\",\"mac\":\"52:54:00:00:00:05\"},"
             "{\"id\":\"n3\",\"vnet\":\"v1\",\"subnet\":\"web\",\"mac\":\"52:54:00:00:00:03\"},"
             "{\"id\":\"n2\",\"vnet\":\"v1\",\"subnet\":\"web\",\"mac\":\"52:54:00:00:00:02\","
             "\"private_ip\":\"10.0.1.5\"}]}",
             VNET);
    struct net_config *b = load(doc, a, err);
    CHECK(b != NULL, "reload: %s", err);
    if (b) {
        CHECK(b->nics[1].ip == IP(10, 0, 1, 6), "n3 kept its address");
        CHECK(b->nics[0].ip == IP(10, 0, 1, 4), "n5 got .4");
    }
    /* a static address taking a previously allocated one moves the dynamic NIC */
    snprintf(doc, sizeof(doc),
             "{\"vnets\":[%s],\"nics\":["
             "{\"id\":\"n3\",\"vnet\":\"v1\",\"subnet\":\"web\",\"mac\":\"52:54:00:00:00:03\"},"
             "{\"id\":\"n6\",\"vnet\":\"v1\",\"subnet\":\"web\",\"mac\":\"52:54:00:00:00:06\","
             "\"private_ip\":\"10.0.1.6\"}]}",
             VNET);
    struct net_config *c = load(doc, b, err);
    CHECK(c && c->nics[0].ip == IP(10, 0, 1, 4) && c->nics[1].ip == IP(10, 0, 1, 6),
          "static wins, dynamic reallocated");
    net_config_free(a);
    net_config_free(b);
    net_config_free(c);
}

/* ------------------------------------------------------------ control -- */

static int apply_cb(void *opaque, struct net_config *cfg, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    return sw_apply(opaque, cfg);
}

static json_t *req(struct ctl_env *env, const char *line)
{
    char *text = ctl_handle_line(env, line, strlen(line));
    json_t *r = json_loads(text, 0, NULL);
    free(text);
    return r;
}

static bool ok(json_t *r)
{
    return json_is_true(json_object_get(r, "ok"));
}

static const char *error_of(json_t *r)
{
    const char *e = json_string_value(json_object_get(r, "error"));
    return e ? e : "";
}

static void test_control(void)
{
    struct sw *sw = sw_create();
    struct ctl_env env = {.sw = sw, .apply = apply_cb, .opaque = sw, .now_ms = 0};
    json_t *r;

    r = req(&env, "{\"op\":\"ping\",\"id\":7}");
    CHECK(ok(r) && json_integer_value(json_object_get(r, "id")) == 7, "ping echoes id");
    json_decref(r);
    r = req(&env, "{\"op\":\"frobnicate\"}");
    CHECK(!ok(r) && strstr(error_of(r), "unknown op 'frobnicate'"), "unknown op");
    json_decref(r);
    r = req(&env, "{\"op\":");
    CHECK(!ok(r) && strstr(error_of(r), "invalid JSON"), "invalid JSON");
    json_decref(r);

    char line[4096];
    snprintf(line, sizeof(line),
             "{\"op\":\"set_config\",\"config\":{\"vnets\":[%s],\"nsgs\":[{\"name\":\"g\","
             "\"rules\":[]}],\"nics\":[{\"id\":\"n1\",\"vnet\":\"v1\",\"subnet\":\"web\","
             "\"mac\":\"52:54:00:00:00:01\"}]}}",
             VNET);
    r = req(&env, line);
    CHECK(ok(r), "set_config: %s", error_of(r));
    json_t *nics = json_object_get(r, "nics");
    CHECK(json_array_size(nics) == 1 &&
              !strcmp(json_string_value(json_object_get(json_array_get(nics, 0), "ip")),
                      "10.0.1.4"),
          "set_config reports allocated addresses");
    json_decref(r);

    r = req(&env, "{\"op\":\"add_nic\",\"nic\":{\"id\":\"n2\",\"vnet\":\"v1\",\"subnet\":\"web\","
                  "\"mac\":\"52:54:00:00:00:02\",\"nsg\":\"g\"}}");
    CHECK(ok(r), "add_nic: %s", error_of(r));
    json_decref(r);
    r = req(&env, "{\"op\":\"get_nic\",\"id\":\"n2\"}");
    json_t *nic = json_object_get(r, "nic");
    CHECK(ok(r) && !strcmp(json_string_value(json_object_get(nic, "ip")), "10.0.1.5") &&
              !strcmp(json_string_value(json_object_get(nic, "gateway")), "10.0.1.1") &&
              json_is_false(json_object_get(nic, "connected")),
          "get_nic");
    json_decref(r);
    r = req(&env, "{\"op\":\"add_nic\",\"nic\":{\"id\":\"n2\",\"vnet\":\"v1\",\"subnet\":\"web\","
                  "\"mac\":\"52:54:00:00:00:03\"}}");
    CHECK(!ok(r) && strstr(error_of(r), "nic 'n2' already exists"), "duplicate add: %s",
          error_of(r));
    json_decref(r);
    r = req(&env, "{\"op\":\"add_nic\",\"nic\":{\"id\":\"n3\",\"vnet\":\"v1\",\"subnet\":\"web\","
                  "\"mac\":\"52:54:00:00:00:01\"}}");
    CHECK(!ok(r) && strstr(error_of(r), "add_nic 'n3': nics[2].mac: NIC mac 52:54:00:00:00:01 is "
                                        "already used by n1"),
          "validation error through add_nic: %s", error_of(r));
    json_decref(r);
    r = req(&env, "{\"op\":\"remove_nsg\",\"name\":\"g\"}");
    CHECK(!ok(r) && strstr(error_of(r), "no NSG is named 'g'"),
          "cannot remove an NSG in use: %s", error_of(r));
    json_decref(r);
    r = req(&env, "{\"op\":\"update_nsg\",\"nsg\":{\"name\":\"g\",\"rules\":[{\"name\":\"r\","
                  "\"priority\":100,\"direction\":\"Inbound\",\"access\":\"Deny\","
                  "\"protocol\":\"*\"}]}}");
    CHECK(ok(r), "update_nsg: %s", error_of(r));
    json_decref(r);
    r = req(&env, "{\"op\":\"update_nsg\",\"nsg\":{\"name\":\"zz\"}}");
    CHECK(!ok(r) && strstr(error_of(r), "there is no nsg 'zz'"), "update of a missing nsg");
    json_decref(r);
    r = req(&env, "{\"op\":\"remove_vnet\",\"name\":\"v1\"}");
    CHECK(!ok(r) && strstr(error_of(r), "no VNet is named 'v1'"), "vnet with NICs: %s",
          error_of(r));
    json_decref(r);
    r = req(&env, "{\"op\":\"add_public_ip\",\"public_ip\":{\"name\":\"p\",\"ports\":["
                  "{\"host_port\":18080,\"nic_port\":80}]}}");
    CHECK(ok(r), "add_public_ip: %s", error_of(r));
    json_decref(r);

    r = req(&env, "{\"op\":\"counters\"}");
    CHECK(ok(r), "counters");
    json_t *p = json_object_get(json_object_get(r, "ports"), "n2");
    CHECK(p && json_is_integer(json_object_get(p, "rx_packets")) &&
              json_is_object(json_object_get(p, "drops")),
          "port counters");
    json_t *g = json_object_get(json_object_get(r, "nsgs"), "g");
    CHECK(g && json_array_size(json_object_get(g, "rules")) == 7, "rule counters (1 + 6)");
    json_t *ct = json_object_get(json_object_get(json_object_get(r, "vnets"), "v1"), "conntrack");
    CHECK(ct && json_integer_value(json_object_get(ct, "max_entries")) == 65536,
          "conntrack counters");
    json_decref(r);

    r = req(&env, "{\"op\":\"flows\",\"vnet\":\"v1\"}");
    CHECK(ok(r) && json_array_size(json_object_get(r, "flows")) == 0, "flows");
    json_decref(r);
    r = req(&env, "{\"op\":\"get_config\"}");
    json_t *cfgj = json_object_get(r, "config");
    CHECK(ok(r) && json_array_size(json_object_get(cfgj, "nics")) == 2 &&
              json_array_size(json_object_get(cfgj, "public_ips")) == 1,
          "get_config");
    json_decref(r);
    r = req(&env, "{\"op\":\"remove_nic\",\"id\":\"n1\"}");
    CHECK(ok(r) && sw->cfg->nnics == 1, "remove_nic");
    json_decref(r);
    r = req(&env, "{\"op\":\"nics\"}");
    CHECK(ok(r) && json_array_size(json_object_get(r, "nics")) == 1 &&
              !strcmp(json_string_value(json_object_get(json_array_get(json_object_get(r, "nics"),
                                                                       0),
                                                        "ip")),
                      "10.0.1.5"),
          "n2 kept .5 after n1 left");
    json_decref(r);
    sw_destroy(sw);
}

int main(void)
{
    test_errors();
    test_allocation();
    test_control();
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
