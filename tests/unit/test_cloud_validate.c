/*
 * test_cloud_validate.c - kumod's request checking (src/cloud/requests.c,
 * validate.c, body.c, timefmt.c, ipam.c): names, tags, CIDRs, NSG rules as
 * facts.md section 6 gives them, VM create bodies, error targets and
 * messages, times, base64 and private IP allocation.
 */
#include "cloud/body.h"
#include "cloud/ipam.h"
#include "cloud/requests.h"
#include "cloud/timefmt.h"
#include "cloud/validate.h"

#include <stdio.h>
#include <string.h>

#include "check.h"

/* Check text as request k; expect ok (code NULL) or the given code/target. */
static void expect(enum req_kind k, const char *text, const char *code, const char *target,
                   const char *in_message, int line)
{
    struct kerr e = {0};
    json_t *body = request_parse(text, strlen(text), &e);
    int rc = body ? request_check(k, body, &e) : -1;
    json_decref(body);
    checks++;
    bool ok = code ? rc < 0 && strcmp(e.code, code) == 0 &&
                         (!target || strcmp(e.target, target) == 0) &&
                         (!in_message || strstr(e.message, in_message))
                   : rc == 0;
    if (!ok) {
        failures++;
        printf("FAIL line %d: %s %s\n  want %s target=%s msg~%s\n  got rc=%d %s target=%s: %s\n",
               line, request_name(k), text, code ? code : "ok", target ? target : "-",
               in_message ? in_message : "-", rc, e.code, e.target, e.message);
    }
    if (rc < 0 && e.status != 400 && e.status != 0) {
        failures++;
        printf("FAIL line %d: status %d for a body error\n", line, e.status);
    }
}
#define OK(k, text)                     expect(k, text, NULL, NULL, NULL, __LINE__)
#define BAD(k, text, code, target, msg) expect(k, text, code, target, msg, __LINE__)

static void names(void)
{
    const char *good[] = {"a", "web-1", "Web_1.prod", "0x",
                          "a234567890123456789012345678901234567890123456789012345678901234"};
    const char *bad[] = {
        "",    "-a",
        ".a",  "a-",
        "a.",  "a b",
        "a/b", "ä",
        "_a",  "a2345678901234567890123456789012345678901234567890123456789012345"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        CHECK(valid_name(good[i]), "'%s' should be a valid name", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(!valid_name(bad[i]), "'%s' should not be a valid name", bad[i]);
}

static void groups(void)
{
    OK(REQ_GROUP_CREATE, "{\"name\":\"web\"}");
    OK(REQ_GROUP_CREATE, "{\"name\":\"web\",\"location\":\"LOCAL\",\"tags\":{\"a\":\"b\"}}");
    BAD(REQ_GROUP_CREATE, "{}", "MissingField", "name", "name: missing");
    BAD(REQ_GROUP_CREATE, "{\"name\":5}", "InvalidField", "name",
        "expected a string, got an integer");
    BAD(REQ_GROUP_CREATE, "{\"name\":\"a b\"}", "InvalidField", "name", "not a valid name");
    BAD(REQ_GROUP_CREATE, "{\"name\":\"x\",\"nmae\":1}", "UnknownField", "nmae", "unknown field");
    BAD(REQ_GROUP_CREATE, "{\"name\":\"x\",\"location\":\"mars\"}", "InvalidField", "location",
        "unknown location");
    BAD(REQ_GROUP_CREATE, "{\"name\":\"x\",\"tags\":{\"a\":1}}", "InvalidField", "tags",
        "expected a string");
    BAD(REQ_GROUP_CREATE, "[1]", "InvalidJson", NULL, "JSON object");
    BAD(REQ_GROUP_CREATE, "{\"name\":", "InvalidJson", NULL, "not valid JSON");
    BAD(REQ_GROUP_CREATE, "{\"name\":\"a\",\"name\":\"b\"}", "InvalidJson", NULL, "duplicate");
    BAD(REQ_GROUP_UPDATE, "{}", "MissingField", "tags", NULL);
}

static void sizes_hosts_disks(void)
{
    OK(REQ_SIZE_CREATE, "{\"name\":\"T1\",\"vcpus\":1,\"memoryMiB\":128,\"pricePerHour\":0.001}");
    BAD(REQ_SIZE_CREATE, "{\"name\":\"T1\",\"vcpus\":0,\"memoryMiB\":128,\"pricePerHour\":0}",
        "InvalidField", "vcpus", "out of range (1 to 32)");
    BAD(REQ_SIZE_CREATE, "{\"name\":\"T1\",\"vcpus\":1.5,\"memoryMiB\":128,\"pricePerHour\":0}",
        "InvalidField", "vcpus", "expected an integer");
    BAD(REQ_SIZE_CREATE, "{\"name\":\"T1\",\"vcpus\":1,\"memoryMiB\":128,\"pricePerHour\":-1}",
        "InvalidField", "pricePerHour", "out of range");
    BAD(REQ_SIZE_CREATE,
        "{\"name\":\"T1\",\"vcpus\":1,\"memoryMiB\":128,\"pricePerHour\":0,\"burstable\":{"
        "\"baselinePercent\":5}}",
        "MissingField", "burstable.initialCredits", NULL);
    OK(REQ_HOST_UPDATE, "{\"cpuAllocationRatio\":2,\"reservedMemoryMiB\":0}");
    BAD(REQ_HOST_UPDATE, "{\"cpuAllocationRatio\":100}", "InvalidField", "cpuAllocationRatio",
        NULL);
    OK(REQ_DISK_CREATE, "{\"name\":\"d\",\"sizeGiB\":8,\"tier\":\"premium_ssd\"}");
    OK(REQ_DISK_CREATE, "{\"name\":\"d\",\"image\":\"default\"}");
    BAD(REQ_DISK_CREATE, "{\"name\":\"d\"}", "MissingField", "sizeGiB", NULL);
    BAD(REQ_DISK_CREATE, "{\"name\":\"d\",\"sizeGiB\":8,\"tier\":\"Gold\"}", "InvalidField", "tier",
        "not a disk tier");
    BAD(REQ_DISK_CREATE, "{\"name\":\"d\",\"sizeGiB\":0}", "InvalidField", "sizeGiB",
        "out of range");
    BAD(REQ_DISK_CREATE, "{\"name\":\"d\",\"image\":\"i\",\"snapshot\":\"s\"}", "InvalidField",
        "snapshot", "not both");
    BAD(REQ_IMAGE_CREATE, "{\"name\":\"i\",\"source\":\"relative.qcow2\"}", "InvalidField",
        "source", "absolute path");
    BAD(REQ_IMAGE_CREATE, "{\"name\":\"i\",\"source\":\"/x\",\"format\":\"iso\"}", "InvalidField",
        "format", NULL);
}

static void networks(void)
{
    OK(REQ_VNET_CREATE, "{\"name\":\"v\",\"addressSpaces\":[\"10.0.0.0/16\"],"
                        "\"subnets\":[{\"name\":\"a\",\"addressPrefix\":\"10.0.1.0/24\"}]}");
    BAD(REQ_VNET_CREATE, "{\"name\":\"v\",\"addressSpaces\":[\"10.0.0.1/16\"]}", "InvalidField",
        "addressSpaces[0]", "did you mean 10.0.0.0/16");
    BAD(REQ_VNET_CREATE, "{\"name\":\"v\",\"addressSpaces\":[\"10.0.0.0/33\"]}", "InvalidField",
        "addressSpaces[0]", "not an IPv4 CIDR");
    BAD(REQ_VNET_CREATE, "{\"name\":\"v\",\"addressSpaces\":[\"300.0.0.0/8\"]}", "InvalidField",
        "addressSpaces[0]", NULL);
    BAD(REQ_VNET_CREATE, "{\"name\":\"v\",\"addressSpaces\":[\"10.0.0.0/30\"]}", "InvalidField",
        "addressSpaces[0]", "/30 is outside");
    BAD(REQ_VNET_CREATE, "{\"name\":\"v\",\"addressSpaces\":[]}", "InvalidField", "addressSpaces",
        "1 to 16 elements");
    BAD(REQ_VNET_CREATE, "{\"name\":\"v\",\"addressSpaces\":[\"10.0.0.0/8\",\"10.1.0.0/16\"]}",
        "InvalidField", "addressSpaces", "overlaps");
    BAD(REQ_VNET_CREATE, "{\"name\":\"v\",\"addressSpaces\":[\"168.63.0.0/16\"]}", "InvalidField",
        "addressSpaces", "NAT");
    BAD(REQ_VNET_CREATE, "{\"name\":\"v\",\"addressSpaces\":[\"127.1.0.0/16\"]}", "InvalidField",
        "addressSpaces", "loopback");
    BAD(REQ_VNET_CREATE, "{\"name\":\"v\",\"addressSpaces\":[\"169.254.0.0/24\"]}", "InvalidField",
        "addressSpaces", "link-local");
    BAD(REQ_VNET_CREATE, "{\"name\":\"v\",\"addressSpaces\":[\"224.0.0.0/8\"]}", "InvalidField",
        "addressSpaces", "multicast");
    BAD(REQ_VNET_CREATE,
        "{\"name\":\"v\",\"addressSpaces\":[\"10.0.0.0/16\"],"
        "\"subnets\":[{\"name\":\"a\",\"addressPrefix\":\"10.1.0.0/24\"}]}",
        "InvalidField", "subnets[0].addressPrefix", "not inside");
    BAD(REQ_VNET_CREATE,
        "{\"name\":\"v\",\"addressSpaces\":[\"10.0.0.0/16\"],"
        "\"subnets\":[{\"name\":\"a\",\"addressPrefix\":\"10.0.0.0/24\"},"
        "{\"name\":\"b\",\"addressPrefix\":\"10.0.0.128/25\"}]}",
        "InvalidField", "subnets[1].addressPrefix", "overlaps subnet 'a'");
    BAD(REQ_VNET_CREATE,
        "{\"name\":\"v\",\"addressSpaces\":[\"10.0.0.0/16\"],"
        "\"subnets\":[{\"name\":\"a\",\"addressPrefix\":\"10.0.0.0/24\"},"
        "{\"name\":\"A\",\"addressPrefix\":\"10.0.1.0/24\"}]}",
        "InvalidField", "subnets[1].name", "already has the name");
    BAD(REQ_SUBNET_CREATE, "{\"name\":\"a\"}", "MissingField", "addressPrefix", NULL);
    OK(REQ_NIC_CREATE,
       "{\"name\":\"n\",\"vnet\":\"v\",\"subnet\":\"s\",\"privateIp\":\"10.0.0.9\",\"nsg\":null}");
    BAD(REQ_NIC_CREATE,
        "{\"name\":\"n\",\"vnet\":\"v\",\"subnet\":\"s\",\"privateIp\":\"10.0.0.09\"}",
        "InvalidField", "privateIp", "not an IPv4 address");
    OK(REQ_PIP_CREATE, "{\"name\":\"p\",\"ports\":[{\"protocol\":\"tcp\",\"port\":80}]}");
    BAD(REQ_PIP_CREATE,
        "{\"name\":\"p\",\"ports\":[{\"protocol\":\"tcp\",\"port\":80},{\"protocol\":\"Tcp\","
        "\"port\":80}]}",
        "InvalidField", "ports[1].port", "already maps port 80");
    BAD(REQ_PIP_CREATE, "{\"name\":\"p\",\"ports\":[{\"protocol\":\"Sctp\",\"port\":80}]}",
        "InvalidField", "ports[0].protocol", NULL);
    BAD(REQ_PIP_CREATE,
        "{\"name\":\"p\",\"ports\":[{\"protocol\":\"Tcp\",\"port\":80,\"hostPort\":80}]}",
        "InvalidField", "ports[0].hostPort", "out of range (1024 to 65535)");
}

static void rules(void)
{
    const char *r =
        "{\"name\":\"web\",\"priority\":100,\"direction\":\"inbound\",\"access\":\"allow\","
        "\"protocol\":\"Tcp\",\"destinationPortRange\":\"80,443,8000-8080\","
        "\"sourceAddressPrefix\":\"Internet\"}";
    OK(REQ_RULE, r);
    BAD(REQ_RULE, "{\"name\":\"x\",\"priority\":99,\"direction\":\"Inbound\",\"access\":\"Allow\"}",
        "InvalidField", "priority", "out of range (100 to 4096)");
    BAD(REQ_RULE,
        "{\"name\":\"x\",\"priority\":4097,\"direction\":\"Inbound\",\"access\":\"Allow\"}",
        "InvalidField", "priority", NULL);
    BAD(REQ_RULE, "{\"name\":\"x\",\"priority\":100,\"direction\":\"In\",\"access\":\"Allow\"}",
        "InvalidField", "direction", "Inbound or Outbound");
    BAD(REQ_RULE,
        "{\"name\":\"x\",\"priority\":100,\"direction\":\"Inbound\",\"access\":\"Permit\"}",
        "InvalidField", "access", "Allow or Deny");
    BAD(REQ_RULE,
        "{\"name\":\"x\",\"priority\":100,\"direction\":\"Inbound\",\"access\":\"Allow\","
        "\"protocol\":\"Gre\"}",
        "InvalidField", "protocol", NULL);
    BAD(REQ_RULE,
        "{\"name\":\"x\",\"priority\":100,\"direction\":\"Inbound\",\"access\":\"Allow\","
        "\"destinationPortRange\":\"90-80\"}",
        "InvalidField", "destinationPortRange", "ends before it starts");
    BAD(REQ_RULE,
        "{\"name\":\"x\",\"priority\":100,\"direction\":\"Inbound\",\"access\":\"Allow\","
        "\"destinationPortRange\":\"70000\"}",
        "InvalidField", "destinationPortRange", NULL);
    BAD(REQ_RULE,
        "{\"name\":\"x\",\"priority\":100,\"direction\":\"Inbound\",\"access\":\"Allow\","
        "\"sourceAddressPrefix\":\"10.0.0.0/8\",\"sourceAddressPrefixes\":[\"1.2.3.4\"]}",
        "InvalidField", "sourceAddressPrefixes", "not both");
    BAD(REQ_RULE,
        "{\"name\":\"x\",\"priority\":100,\"direction\":\"Inbound\",\"access\":\"Allow\","
        "\"sourceAddressPrefix\":\"10.0.0.1/8\"}",
        "InvalidField", "sourceAddressPrefix", "host bits");
    BAD(REQ_RULE,
        "{\"name\":\"DenyAllInBound\",\"priority\":100,\"direction\":\"Inbound\",\"access\":"
        "\"Allow\"}",
        "InvalidField", "name", "default rule");
    BAD(REQ_RULE,
        "{\"name\":\"web-\",\"priority\":100,\"direction\":\"Inbound\",\"access\":\"Allow\"}",
        "InvalidField", "name", "ending with a letter, digit or _");
    OK(REQ_RULE,
       "{\"name\":\"web_\",\"priority\":100,\"direction\":\"Inbound\",\"access\":\"Allow\","
       "\"protocol\":\"Icmp\"}");
    BAD(REQ_RULE,
        "{\"name\":\"p\",\"priority\":100,\"direction\":\"Inbound\",\"access\":\"Allow\","
        "\"protocol\":\"icmp\",\"destinationPortRange\":\"80\"}",
        "InvalidField", "destinationPortRange", "must be * for protocol Icmp");
    char name81[120];
    memset(name81, 'a', 81);
    name81[81] = 0;
    char buf[300];
    snprintf(buf, sizeof(buf),
             "{\"name\":\"%s\",\"priority\":100,\"direction\":\"Inbound\",\"access\":\"Allow\"}",
             name81);
    BAD(REQ_RULE, buf, "InvalidField", "name", "1-80");
    BAD(REQ_NSG_CREATE,
        "{\"name\":\"n\",\"rules\":[{\"name\":\"a\",\"priority\":100,\"direction\":\"Inbound\","
        "\"access\":\"Allow\"},"
        "{\"name\":\"b\",\"priority\":100,\"direction\":\"inbound\",\"access\":\"Deny\"}]}",
        "InvalidField", "rules[1].priority", "already has priority 100");
    OK(REQ_NSG_CREATE,
       "{\"name\":\"n\",\"rules\":[{\"name\":\"a\",\"priority\":100,\"direction\":\"Inbound\","
       "\"access\":\"Allow\"},"
       "{\"name\":\"b\",\"priority\":100,\"direction\":\"Outbound\",\"access\":\"Deny\"}]}");
    BAD(REQ_NSG_CREATE,
        "{\"name\":\"n\",\"rules\":[{\"name\":\"a\",\"priority\":\"100\",\"direction\":\"Inbound\","
        "\"access\":\"Allow\"}]}",
        "InvalidField", "rules[0].priority", "expected an integer, got a string");

    struct kerr e = {0};
    json_t *j = request_parse(r, strlen(r), &e);
    struct rule_norm n;
    CHECK(j && rule_normalize(j, "", &n, &e) == 0, "normalize: %s", e.message);
    CHECK(!strcmp(n.direction, "Inbound") && !strcmp(n.access, "Allow") &&
              !strcmp(n.protocol, "Tcp"),
          "canonical spellings");
    CHECK(!strcmp(n.dst_ports, "80,443,8000-8080") && !strcmp(n.src_ports, "*"), "ports %s %s",
          n.dst_ports, n.src_ports);
    CHECK(!strcmp(n.src_prefixes, "[\"Internet\"]") && !strcmp(n.dst_prefixes, "[\"*\"]"),
          "prefixes %s %s", n.src_prefixes, n.dst_prefixes);
    rule_norm_free(&n);
    json_decref(j);
}

static void vms(void)
{
    OK(REQ_VM_CREATE, "{\"name\":\"vm1\",\"size\":\"B1s\"}");
    OK(REQ_VM_CREATE,
       "{\"name\":\"vm1\",\"size\":\"B1s\",\"image\":\"default\",\"osDisk\":{\"tier\":\"Premium_"
       "SSD\",\"sizeGiB\":8},"
       "\"dataDisks\":[{\"sizeGiB\":8},{\"disk\":\"d1\",\"lun\":3}],\"publicIp\":true,\"nsg\":null,"
       "\"userData\":\"aGVsbG8=\",\"tags\":{}}");
    BAD(REQ_VM_CREATE, "{\"size\":\"B1s\"}", "MissingField", "name", NULL);
    BAD(REQ_VM_CREATE, "{\"name\":\"vm1\"}", "MissingField", "size", NULL);
    BAD(REQ_VM_CREATE, "{\"name\":\"vm1\",\"size\":1}", "InvalidField", "size",
        "expected a string");
    BAD(REQ_VM_CREATE, "{\"name\":\"vm1\",\"size\":\"B1s\",\"osDisk\":{\"sizeGiB\":\"8\"}}",
        "InvalidField", "osDisk.sizeGiB", NULL);
    BAD(REQ_VM_CREATE, "{\"name\":\"vm1\",\"size\":\"B1s\",\"osDisk\":{\"size\":8}}",
        "UnknownField", "osDisk.size", "osDisk takes: tier, sizeGiB");
    BAD(REQ_VM_CREATE,
        "{\"name\":\"vm1\",\"size\":\"B1s\",\"dataDisks\":[{\"tier\":\"Premium_SSD\"}]}",
        "MissingField", "dataDisks[0]", NULL);
    BAD(REQ_VM_CREATE,
        "{\"name\":\"vm1\",\"size\":\"B1s\",\"dataDisks\":[{\"disk\":\"d\",\"sizeGiB\":4}]}",
        "InvalidField", "dataDisks[0]", "not both");
    BAD(REQ_VM_CREATE,
        "{\"name\":\"vm1\",\"size\":\"B1s\",\"dataDisks\":[{\"sizeGiB\":4,\"lun\":1},{\"sizeGiB\":"
        "4,\"lun\":1}]}",
        "InvalidField", "dataDisks[1].lun", "already uses LUN 1");
    BAD(REQ_VM_CREATE,
        "{\"name\":\"vm1\",\"size\":\"B1s\",\"networkInterfaces\":[\"n\"],\"vnet\":\"v\"}",
        "InvalidField", "vnet", "not both");
    BAD(REQ_VM_CREATE, "{\"name\":\"vm1\",\"size\":\"B1s\",\"userData\":\"not base64!\"}",
        "InvalidField", "userData", "base64");
    BAD(REQ_VM_CREATE, "{\"name\":\"vm1\",\"size\":\"B1s\",\"publicIp\":3}", "InvalidField",
        "publicIp", "a string or a boolean");
    /* images by name, alias or URN; the OS profile */
    OK(REQ_VM_CREATE,
       "{\"name\":\"vm1\",\"size\":\"B1s\",\"image\":\"Debian:debian-13:13:latest\"}");
    BAD(REQ_VM_CREATE, "{\"name\":\"vm1\",\"size\":\"B1s\",\"image\":\"Debian 13\"}",
        "InvalidField", "image", "not an image's name, alias or URN");
    OK(REQ_VM_CREATE,
       "{\"name\":\"vm1\",\"size\":\"B1s\",\"osProfile\":{\"adminUsername\":\"azureuser\","
       "\"sshPublicKeys\":[\"ssh-ed25519 "
       "AAAAC3NzaC1lZDI1NTE5AAAAIDe6REI/2AtI4Y0zRx7GqE2gXIrs+aTpMs3zSEWAlAzk t\"],"
       "\"adminPassword\":\"Correct-Horse-9\"}}");
    BAD(REQ_VM_CREATE,
        "{\"name\":\"vm1\",\"size\":\"B1s\",\"osProfile\":{\"adminUsername\":\"u\","
        "\"sshPublicKeys\":[\"ssh-ed25519 AAAA\"]}}",
        "InvalidField", "osProfile.sshPublicKeys[0]", NULL);
    BAD(REQ_VM_CREATE,
        "{\"name\":\"vm1\",\"size\":\"B1s\",\"osProfile\":{\"sshPublicKeys\":[\"ssh-ed25519 "
        "AAAAC3NzaC1lZDI1NTE5AAAAIDe6REI/2AtI4Y0zRx7GqE2gXIrs+aTpMs3zSEWAlAzk\"]}}",
        "MissingField", "osProfile.adminUsername", "give its user name");
    BAD(REQ_VM_CREATE,
        "{\"name\":\"vm1\",\"size\":\"B1s\",\"osProfile\":{\"adminUsername\":\"u\"}}",
        "MissingField", "osProfile.sshPublicKeys", "needs SSH keys");
    BAD(REQ_VM_CREATE,
        "{\"name\":\"vm1\",\"size\":\"B1s\",\"osProfile\":{\"adminUsername\":\"u\","
        "\"adminPassword\":\"password\"}}",
        "InvalidField", "osProfile.adminPassword", "12-123 characters");
    BAD(REQ_VM_CREATE, "{\"name\":\"vm1\",\"size\":\"B1s\",\"osProfile\":{\"user\":\"u\"}}",
        "UnknownField", "osProfile.user", NULL);
    BAD(REQ_VM_RESIZE, "{\"size\":\"B2s\",\"restart\":\"yes\"}", "InvalidField", "restart", NULL);
    BAD(REQ_VM_ATTACH, "{}", "MissingField", "disk", NULL);
}

static void times(void)
{
    int64_t ms;
    CHECK(time_parse("2024-11-17T12:00:00Z", &ms) && ms == 1731844800000LL, "rfc3339 %lld",
          (long long)ms);
    CHECK(time_parse("2024-11-17T12:00:00.25Z", &ms) && ms == 1731844800250LL, "fraction");
    CHECK(time_parse("2024-11-17T13:00:00+01:00", &ms) && ms == 1731844800000LL, "offset");
    CHECK(time_parse("1731844800", &ms) && ms == 1731844800000LL, "epoch");
    CHECK(time_parse("1731844800.5", &ms) && ms == 1731844800500LL, "epoch fraction");
    CHECK(time_parse("2024-02-29T00:00:00Z", &ms), "leap day");
    const char *bad[] = {"",
                         "2023-02-29T00:00:00Z",
                         "2024-13-01T00:00:00Z",
                         "2024-11-17",
                         "2024-11-17T12:00:00",
                         "2024-11-17T25:00:00Z",
                         "1e9",
                         "-5",
                         "2024-11-17T12:00:00.Z",
                         "12345678901234"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(!time_parse(bad[i], &ms), "'%s' should not parse", bad[i]);
    char buf[TIME_STRLEN];
    CHECK(!strcmp(time_format(1731844800250LL, buf), "2024-11-17T12:00:00.250Z"), "format %s", buf);
}

static void base64(void)
{
    unsigned char out[16];
    CHECK(base64_decode("aGVsbG8=", out, sizeof(out)) == 5 && !memcmp(out, "hello", 5), "hello");
    CHECK(base64_decode("", out, sizeof(out)) == 0, "empty");
    CHECK(base64_decode("aGVsbG8", NULL, 0) < 0, "no padding");
    CHECK(base64_decode("a=Vs", NULL, 0) < 0, "padding inside");
    CHECK(base64_decode("aGV$bG8=", NULL, 0) < 0, "bad character");
}

/* A checker on a string value: 0 (ok) or the message of its error. */
static const char *check_str(int (*fn)(const json_t *, const char *, struct kerr *),
                             const char *value, struct kerr *e)
{
    json_t *v = json_string(value);
    memset(e, 0, sizeof(*e));
    int rc = fn(v, "x", e);
    json_decref(v);
    return rc == 0 ? NULL : e->message;
}

static void admin_and_keys(void)
{
    struct kerr e;
    const char *good_users[] = {"azureuser", "a", "_svc", "web-admin2",
                                "a2345678901234567890123456789012"};
    for (size_t i = 0; i < sizeof(good_users) / sizeof(good_users[0]); i++)
        CHECK(!check_str(check_admin_username, good_users[i], &e), "%s: %s", good_users[i],
              e.message);
    const char *m = check_str(check_admin_username, "root", &e);
    CHECK(m && strstr(m, "'root' is reserved") && e.status == 400, "root: %s", m ? m : "ok");
    m = check_str(check_admin_username, "Azure", &e);
    CHECK(m && strstr(m, "lower-case"), "upper case: %s", m ? m : "ok");
    CHECK(check_str(check_admin_username, "1abc", &e), "a digit first");
    CHECK(check_str(check_admin_username, "-abc", &e), "'-' first");
    CHECK(check_str(check_admin_username, "a b", &e), "space");
    CHECK(check_str(check_admin_username, "", &e), "empty");
    CHECK(check_str(check_admin_username, "a23456789012345678901234567890123", &e), "33");
    CHECK(check_str(check_admin_username, "admin", &e), "admin");
    /* keys: real ones (ssh-keygen's output) pass, with or without a comment */
    const char *good_keys[] = {
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDe6REI/2AtI4Y0zRx7GqE2gXIrs+aTpMs3zSEWAlAzk t",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDe6REI/2AtI4Y0zRx7GqE2gXIrs+aTpMs3zSEWAlAzk",
        "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBGUn8QOlYgXaa8G"
        "fkB26f5koRYOl7uUyIrRl03hQWWL6p2PQiPmBh4ICWhOFaVyrc+nBUzYlGS18k2I52cPZAmc= e",
        "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC8yV5c+T10UZC0ZhXbR6ZPtwclYXNWx3s0iJMcL2yIdXwviF"
        "GqFBSh9XiXTqB5qsyXDX1V927OFqqBkN6CONMJ6BNFjZM9+xxhSn+ZkOqAorcgxQhAGEn1e6DQ7Q6nI5rm6BLv"
        "5BNpuxXDeM8v7a7NyU54H1l+XpcJUTr6m4eySw== r",
    };
    for (size_t i = 0; i < sizeof(good_keys) / sizeof(good_keys[0]); i++)
        CHECK(!check_str(check_ssh_public_key, good_keys[i], &e), "key %zu: %s", i, e.message);
    struct {
        const char *key, *msg;
    } bad_keys[] = {
        {"", "expected an OpenSSH public key"},
        {"ssh-dss AAAAB3NzaC1kc3M= x", "not a key type kumo knows"},
        {"ssh-ed25519", "base64 part is missing"},
        {"ssh-ed25519 not*base64 c", "not base64"},
        /* an ed25519 type with an rsa blob */
        {"ssh-ed25519 AAAAB3NzaC1yc2EAAAADAQAB c", "does not hold a ssh-ed25519 key"},
        /* the type string only: no key material */
        {"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5", "does not hold"},
        {"-----BEGIN OPENSSH PRIVATE KEY-----", "private key"},
        {"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDe6REI/2AtI4Y0zRx7GqE2gXIrs+aTpMs3zSEWAlAzk\nx",
         "one line"},
    };
    for (size_t i = 0; i < sizeof(bad_keys) / sizeof(bad_keys[0]); i++) {
        m = check_str(check_ssh_public_key, bad_keys[i].key, &e);
        CHECK(m && strstr(m, bad_keys[i].msg) && !strcmp(e.target, "x"), "'%.30s': %s",
              bad_keys[i].key, m ? m : "accepted");
    }
    /* passwords, as Azure takes them: 12-123 characters, 3 classes of 4 */
    const char *good_pw[] = {"Correct-Horse", "correcthorse9!", "CORRECT HORSE 9", "aB3aB3aB3aB3"};
    for (size_t i = 0; i < sizeof(good_pw) / sizeof(good_pw[0]); i++)
        CHECK(!check_str(check_admin_password, good_pw[i], &e), "%s: %s", good_pw[i], e.message);
    m = check_str(check_admin_password, "Sh0rt!", &e);
    CHECK(m && strstr(m, "12-123 characters (this one has 6)"), "short: %s", m ? m : "ok");
    m = check_str(check_admin_password, "correcthorsebattery", &e);
    CHECK(m && strstr(m, "too simple"), "one class: %s", m ? m : "ok");
    CHECK(check_str(check_admin_password, "correcthorse99", &e), "two classes");
    CHECK(check_str(check_admin_password, "Correct-Horse\n9", &e), "a newline");
    char longpw[130];
    memset(longpw, 'a', sizeof(longpw) - 1);
    longpw[0] = 'A';
    longpw[1] = '1';
    longpw[124] = 0;
    CHECK(check_str(check_admin_password, longpw, &e), "124 characters");
    longpw[123] = 0;
    CHECK(!check_str(check_admin_password, longpw, &e), "123 characters: %s", e.message);
    /* image references and provisioning kinds */
    const char *good_refs[] = {"default", "Debian13", "Debian:debian-13:13:latest", "a.b_c-d"};
    for (size_t i = 0; i < sizeof(good_refs) / sizeof(good_refs[0]); i++)
        CHECK(!check_str(check_image_ref, good_refs[i], &e), "%s: %s", good_refs[i], e.message);
    CHECK(check_str(check_image_ref, "", &e) && check_str(check_image_ref, "a/b", &e) &&
              check_str(check_image_ref, "a b", &e),
          "empty, slash, space");
    CHECK(!check_str(check_provisioning, "cloud-init", &e) &&
              !check_str(check_provisioning, "kumo", &e) &&
              !check_str(check_provisioning, "none", &e),
          "cloud-init, kumo, none");
    m = check_str(check_provisioning, "Cloud-Init", &e);
    CHECK(m && strstr(m, "NoCloud seed disk"), "other spelling: %s", m ? m : "ok");
}

static void ipam(void)
{
    struct net_cidr s;
    net_cidr_parse("10.0.0.0/29", &s, false, false);
    CHECK(ipam_capacity(s) == 3, "a /29 has 3 usable addresses");
    uint32_t ip, used[3];
    CHECK(ipam_next(s, NULL, 0, &ip) == 0 && ip == 0x0a000004, "first is .4");
    used[0] = 0x0a000004;
    used[1] = 0x0a000006;
    CHECK(ipam_next(s, used, 2, &ip) == 0 && ip == 0x0a000005, "fills the hole");
    used[2] = 0x0a000005;
    CHECK(ipam_next(s, used, 3, &ip) < 0, ".7 is the broadcast: full");
    CHECK(!ipam_usable(s, 0x0a000001) && !ipam_usable(s, 0x0a000007) && ipam_usable(s, 0x0a000006),
          "reserved addresses");
    net_cidr_parse("10.0.0.0/24", &s, false, false);
    CHECK(ipam_capacity(s) == 251, "a /24 has 251");
    CHECK(ipam_gateway(s) == 0x0a000001, "gateway .1");
}

static void scale_sets(void)
{
    OK(REQ_VMSS_CREATE, "{\"name\":\"web\",\"size\":\"B1s\"}");
    OK(REQ_VMSS_CREATE, "{\"name\":\"web\",\"size\":\"B1s\",\"capacity\":3,\"loadBalancer\":"
                        "{\"port\":80,\"probe\":{\"protocol\":\"http\",\"path\":\"/h\","
                        "\"intervalSeconds\":2}},\"osDisk\":{\"tier\":\"Premium_SSD\"}}");
    OK(REQ_VMSS_CREATE, "{\"name\":\"web\",\"size\":\"B1s\",\"loadBalancer\":null}");
    BAD(REQ_VMSS_CREATE, "{\"name\":\"web\"}", "MissingField", "size", NULL);
    /* the instances' admin account: checked as a VM's */
    OK(REQ_VMSS_CREATE,
       "{\"name\":\"web\",\"size\":\"B1s\",\"osProfile\":{\"adminUsername\":\"azureuser\","
       "\"sshPublicKeys\":[\"ssh-ed25519 "
       "AAAAC3NzaC1lZDI1NTE5AAAAIDe6REI/2AtI4Y0zRx7GqE2gXIrs+aTpMs3zSEWAlAzk t\"]}}");
    BAD(REQ_VMSS_CREATE,
        "{\"name\":\"web\",\"size\":\"B1s\",\"osProfile\":{\"adminUsername\":\"u\"}}",
        "MissingField", "osProfile.sshPublicKeys", "needs SSH keys");
    BAD(REQ_VMSS_CREATE,
        "{\"name\":\"web\",\"size\":\"B1s\",\"osProfile\":{\"adminUsername\":\"root\","
        "\"adminPassword\":\"Correct-Horse-9\"}}",
        "InvalidField", "osProfile.adminUsername", NULL);
    BAD(REQ_VMSS_CREATE, "{\"name\":\"web\",\"size\":\"B1s\",\"capacity\":101}", "InvalidField",
        "capacity", NULL);
    BAD(REQ_VMSS_CREATE,
        "{\"name\":\"a23456789012345678901234567890123456789012345678901234567\",\"size\":\"B1s\"}",
        "InvalidField", "name", "at most 56 characters");
    BAD(REQ_VMSS_CREATE, "{\"name\":\"web\",\"size\":\"B1s\",\"loadBalancer\":{\"port\":0}}",
        "InvalidField", "loadBalancer.port", NULL);
    BAD(REQ_VMSS_CREATE,
        "{\"name\":\"web\",\"size\":\"B1s\",\"loadBalancer\":{\"port\":80,\"probe\":"
        "{\"protocol\":\"Icmp\"}}}",
        "InvalidField", "loadBalancer.probe.protocol", "not Tcp or Http");
    BAD(REQ_VMSS_CREATE, "{\"name\":\"web\",\"size\":\"B1s\",\"osDisk\":{\"sizeGiB\":8}}",
        "UnknownField", "osDisk.sizeGiB", NULL);
    OK(REQ_VMSS_UPDATE, "{\"userData\":null}");
    BAD(REQ_VMSS_UPDATE, "{\"capacity\":2}", "UnknownField", "capacity", NULL);
    OK(REQ_VMSS_SCALE, "{\"capacity\":0}");
    BAD(REQ_VMSS_SCALE, "{}", "MissingField", "capacity", NULL);

    const char *rule = "{\"metricTrigger\":{\"operator\":\"GreaterThan\",\"threshold\":70},"
                       "\"scaleAction\":{\"direction\":\"Increase\"}}";
    OK(REQ_AUTOSCALE_RULE, rule);
    BAD(REQ_AUTOSCALE_RULE, "{\"metricTrigger\":{\"operator\":\"GreaterThan\",\"threshold\":70}}",
        "MissingField", "scaleAction", NULL);
    BAD(REQ_AUTOSCALE_RULE,
        "{\"metricTrigger\":{\"operator\":\"GreaterThan\",\"threshold\":70,\"timeWindow\":"
        "\"5 min\"},\"scaleAction\":{\"direction\":\"Increase\"}}",
        "InvalidField", "metricTrigger.timeWindow", "ISO 8601");
    BAD(REQ_AUTOSCALE_RULE,
        "{\"metricTrigger\":{\"operator\":\"GreaterThan\",\"threshold\":\"70\"},"
        "\"scaleAction\":{\"direction\":\"Increase\"}}",
        "InvalidField", "metricTrigger.threshold", NULL);
    OK(REQ_AUTOSCALE_CREATE, "{\"name\":\"as\",\"scaleSet\":\"web\",\"minimum\":1,\"maximum\":3}");
    BAD(REQ_AUTOSCALE_CREATE, "{\"name\":\"as\",\"scaleSet\":\"web\",\"minimum\":3,\"maximum\":1}",
        "InvalidField", "maximum", "less than minimum");
    BAD(REQ_AUTOSCALE_CREATE,
        "{\"name\":\"as\",\"scaleSet\":\"web\",\"minimum\":1,\"maximum\":3,\"default\":4}",
        "InvalidField", "default", "outside");
    BAD(REQ_AUTOSCALE_CREATE,
        "{\"name\":\"as\",\"scaleSet\":\"web\",\"minimum\":1,\"maximum\":3,\"rules\":[{"
        "\"metricTrigger\":{\"operator\":\"Above\",\"threshold\":70},\"scaleAction\":"
        "{\"direction\":\"Increase\"}}]}",
        "InvalidField", "rules[0].metricTrigger.operator", "rules[0].metricTrigger.operator");
    OK(REQ_AUTOSCALE_UPDATE, "{\"enabled\":false}");
}

int main(void)
{
    names();
    groups();
    sizes_hosts_disks();
    networks();
    rules();
    vms();
    times();
    base64();
    admin_and_keys();
    ipam();
    scale_sets();
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
