/*
 * imds.c - the metadata service's document and its HTTP front (imds.h).
 * The request is untrusted: it is at most TCPS_REQ_MAX bytes, parsed from
 * a NUL-terminated copy, and anything that is not a plain HTTP/1.x request
 * line followed by "Name: value" header lines gets a 400.
 */
#include "network/imds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define IMDS_REQ_MAX 8192 /* larger requests are never complete (tcpserv's limit is lower) */

/* ------------------------------------------------------------ document -- */

static json_t *str_or_empty(const char *s)
{
    return json_string(s ? s : "");
}

static json_t *interface_json(const struct net_config *cfg, const struct net_nic *n)
{
    const struct net_subnet *sn = &cfg->vnets[n->vnet].subnets[n->subnet];
    char mac[13], ip[NET_IP4_STRLEN], pub[NET_IP4_STRLEN] = "", net[NET_IP4_STRLEN], len[4];
    snprintf(mac, sizeof(mac), "%02X%02X%02X%02X%02X%02X", n->mac[0], n->mac[1], n->mac[2],
             n->mac[3], n->mac[4], n->mac[5]);
    snprintf(len, sizeof(len), "%u", (unsigned)sn->prefix.len);
    json_t *ports = json_array();
    if (n->public_ip >= 0) {
        const struct net_public_ip *p = &cfg->pips[n->public_ip];
        net_ip4_str(p->host_addr, pub);
        for (size_t k = 0; k < p->nports; k++)
            json_array_append_new(ports, json_pack("{s:i,s:i,s:s}", "hostPort",
                                                   p->ports[k].host_port, "nicPort",
                                                   p->ports[k].nic_port, "protocol",
                                                   p->ports[k].udp ? "Udp" : "Tcp"));
    }
    json_t *addr = json_pack("{s:s,s:s,s:o}", "privateIpAddress", net_ip4_str(n->ip, ip),
                             "publicIpAddress", pub, "publicIpPorts", ports);
    json_t *subnet =
        json_pack("{s:s,s:s}", "address", net_ip4_str(sn->prefix.addr, net), "prefix", len);
    return json_pack("{s:s,s:{s:[o],s:[o]},s:{s:[]}}", "macAddress", mac, "ipv4", "ipAddress",
                     addr, "subnet", subnet, "ipv6", "ipAddress");
}

static bool same_vm(const struct net_vm *a, const struct net_vm *b)
{
    if (!a || !b || strcmp(a->name, b->name)) return false;
    const char *ga = a->resource_group ? a->resource_group : "";
    const char *gb = b->resource_group ? b->resource_group : "";
    return !strcmp(ga, gb);
}

/* compute.osProfile and compute.publicKeys, as Azure's metadata service
 * has them: the admin account provisioning makes and its SSH keys (with the
 * authorized_keys path Azure reports). */
static void add_os_profile(json_t *compute, const struct net_vm *vm, const char *computer)
{
    const char *user = vm && vm->admin_username ? vm->admin_username : "";
    json_object_set_new(compute, "osProfile",
                        json_pack("{s:s,s:s,s:s}", "adminUsername", user, "computerName",
                                  computer ? computer : "", "disablePasswordAuthentication",
                                  "true"));
    json_t *keys = json_array();
    for (size_t i = 0; vm && *user && i < vm->npublic_keys; i++) {
        char path[NET_VM_TEXT_MAX + 64];
        snprintf(path, sizeof(path), "/home/%s/.ssh/authorized_keys", user);
        json_array_append_new(keys, json_pack("{s:s,s:s}", "keyData", vm->public_keys[i],
                                              "path", path));
    }
    json_object_set_new(compute, "publicKeys", keys);
}

json_t *imds_document(const struct net_config *cfg, size_t nic)
{
    if (nic >= cfg->nnics) return NULL;
    const struct net_nic *n = &cfg->nics[nic];
    const struct net_vm *vm = n->vm;
    json_t *compute = json_pack(
        "{s:o,s:o,s:o,s:o,s:o,s:o,s:s,s:o}", "name", str_or_empty(vm ? vm->name : n->id), "vmId",
        str_or_empty(vm ? vm->id : NULL), "vmSize", str_or_empty(vm ? vm->size : NULL), "location",
        str_or_empty(vm ? vm->location : NULL), "resourceGroupName",
        str_or_empty(vm ? vm->resource_group : NULL), "computerName", str_or_empty(n->hostname),
        "osType", "Linux", "userData", str_or_empty(vm ? vm->user_data : NULL));
    add_os_profile(compute, vm, n->hostname);
    /* the asking NIC first, then the VM's other NICs in configuration order */
    json_t *ifaces = json_array();
    json_array_append_new(ifaces, interface_json(cfg, n));
    for (size_t i = 0; vm && i < cfg->nnics; i++)
        if (i != nic && same_vm(vm, cfg->nics[i].vm))
            json_array_append_new(ifaces, interface_json(cfg, &cfg->nics[i]));
    return json_pack("{s:o,s:{s:o}}", "compute", compute, "network", "interface", ifaces);
}

/* ------------------------------------------------------------ responses -- */

static int respond(uint8_t **resp, size_t *resp_len, int status, const char *type,
                   const char *body, size_t body_len)
{
    const char *reason = status == 200   ? "OK"
                         : status == 400 ? "Bad Request"
                         : status == 404 ? "Not Found"
                         : status == 405 ? "Method Not Allowed"
                         : status == 411 ? "Length Required"
                         : status == 413 ? "Content Too Large"
                         : status == 431 ? "Request Header Fields Too Large"
                                         : "Internal Server Error";
    char head[512];
    int h = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Server: kumo-switch\r\n%sConnection: close\r\n\r\n",
                     status, reason, type, body_len, status == 405 ? "Allow: GET\r\n" : "");
    if (h < 0 || (size_t)h >= sizeof(head)) return -1;
    uint8_t *r = malloc((size_t)h + body_len);
    if (!r) return -1;
    memcpy(r, head, (size_t)h);
    if (body_len) memcpy(r + h, body, body_len);
    *resp = r;
    *resp_len = (size_t)h + body_len;
    return 1;
}

static int http_error(uint8_t **resp, size_t *resp_len, int status, const char *msg)
{
    char body[256];
    int n = snprintf(body, sizeof(body), "{\"error\":\"%s\"}", msg);
    if (n < 0 || (size_t)n >= sizeof(body)) return -1;
    return respond(resp, resp_len, status, "application/json; charset=utf-8", body, (size_t)n);
}

/* The text form of a node (format=text): a leaf's value; the names of an
 * object's members or an array's indexes, one a line, '/' after those
 * that are not leaves. */
static char *text_of(json_t *node)
{
    char num[64];
    switch (json_typeof(node)) {
    case JSON_STRING: return strdup(json_string_value(node));
    case JSON_INTEGER:
        snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(node));
        return strdup(num);
    case JSON_REAL: snprintf(num, sizeof(num), "%.17g", json_real_value(node)); return strdup(num);
    case JSON_TRUE: return strdup("true");
    case JSON_FALSE: return strdup("false");
    case JSON_NULL: return strdup("");
    default: break;
    }
    size_t cap = 256, len = 0;
    char *out = malloc(cap);
    if (!out) return NULL;
    out[0] = 0;
    size_t n = json_is_object(node) ? json_object_size(node) : json_array_size(node);
    void *it = json_is_object(node) ? json_object_iter(node) : NULL;
    for (size_t i = 0; i < n; i++) {
        char idx[24];
        const char *name;
        json_t *child;
        if (json_is_object(node)) {
            name = json_object_iter_key(it);
            child = json_object_iter_value(it);
            it = json_object_iter_next(node, it);
        } else {
            snprintf(idx, sizeof(idx), "%zu", i);
            name = idx;
            child = json_array_get(node, i);
        }
        size_t need = len + strlen(name) + 3;
        if (need > cap) {
            while (cap < need) cap *= 2;
            char *o = realloc(out, cap);
            if (!o) {
                free(out);
                return NULL;
            }
            out = o;
        }
        len += (size_t)sprintf(out + len, "%s%s%s", i ? "\n" : "", name,
                               json_is_object(child) || json_is_array(child) ? "/" : "");
    }
    return out;
}

/* ---------------------------------------------------------------- HTTP -- */

static bool is_tchar(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* Trim spaces and tabs at both ends (in place). */
static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) s[--n] = 0;
    return s;
}

/* The value of parameter key in a query string (a copy, NUL-terminated in
 * out), or NULL. */
static const char *query_param(const char *query, const char *key, char *out, size_t outlen)
{
    size_t klen = strlen(key);
    for (const char *p = query; p && *p;) {
        const char *amp = strchr(p, '&');
        size_t plen = amp ? (size_t)(amp - p) : strlen(p);
        if (plen > klen && !strncmp(p, key, klen) && p[klen] == '=') {
            size_t vlen = plen - klen - 1;
            if (vlen >= outlen) vlen = outlen - 1;
            memcpy(out, p + klen + 1, vlen);
            out[vlen] = 0;
            return out;
        }
        p = amp ? amp + 1 : NULL;
    }
    return NULL;
}

static int serve(const struct net_config *cfg, size_t nic, char *target, uint8_t **resp,
                 size_t *resp_len)
{
    char *query = strchr(target, '?');
    if (query) *query++ = 0;
    char fmtbuf[16];
    const char *fmt = query ? query_param(query, "format", fmtbuf, sizeof(fmtbuf)) : NULL;
    bool text = false;
    if (fmt && !strcmp(fmt, "text"))
        text = true;
    else if (fmt && strcmp(fmt, "json"))
        return http_error(resp, resp_len, 400, "Bad request. Invalid format: use json or text");
    size_t plen = strlen(target);
    while (plen > 1 && target[plen - 1] == '/') target[--plen] = 0;

    const struct net_nic *n = &cfg->nics[nic];
    if (!strcmp(target, "/metadata/userdata")) {
        const char *ud = n->vm && n->vm->user_data ? n->vm->user_data : "";
        return respond(resp, resp_len, 200, "text/plain; charset=utf-8", ud, strlen(ud));
    }
    static const char root[] = "/metadata/instance";
    if (strncmp(target, root, sizeof(root) - 1) ||
        (target[sizeof(root) - 1] && target[sizeof(root) - 1] != '/'))
        return http_error(resp, resp_len, 404, "Not found");
    json_t *doc = imds_document(cfg, nic);
    if (!doc) return -1;
    json_t *node = doc;
    char *save = NULL;
    for (char *seg = strtok_r(target + sizeof(root) - 1, "/", &save); seg && node;
         seg = strtok_r(NULL, "/", &save)) {
        if (json_is_object(node)) {
            node = json_object_get(node, seg);
        } else if (json_is_array(node)) {
            char *end;
            unsigned long i = strtoul(seg, &end, 10);
            bool digits = seg[0] >= '0' && seg[0] <= '9' && !*end;
            node = digits && i < json_array_size(node) ? json_array_get(node, i) : NULL;
        } else {
            node = NULL;
        }
    }
    if (!node) {
        json_decref(doc);
        return http_error(resp, resp_len, 404, "Not found");
    }
    char *body = text ? text_of(node) : json_dumps(node, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(doc);
    if (!body) return -1;
    int r = respond(resp, resp_len, 200,
                    text ? "text/plain; charset=utf-8" : "application/json; charset=utf-8", body,
                    strlen(body));
    free(body);
    return r;
}

/* ------------------------------------------------ provisioning report -- */

static const char report_path[] = "/kumo/v1/provisioning";

/* A copy of s of at most max characters, printable ASCII only (others
 * become '?'); NULL if s is not a string. */
static json_t *clean_string(json_t *s, size_t max)
{
    if (!json_is_string(s)) return NULL;
    size_t n = json_string_length(s);
    if (n > max) n = max;
    char buf[IMDS_REPORT_TEXT_MAX + 1];
    const char *v = json_string_value(s);
    for (size_t i = 0; i < n; i++)
        buf[i] = (unsigned char)v[i] >= 0x20 && (unsigned char)v[i] < 0x7f ? v[i] : '?';
    buf[n] = 0;
    return json_string(buf);
}

/* The report in body (n bytes): 1 with *event (a stage's event) or NULL (a
 * module's, dropped); 0 with *why when it is not a valid event. */
static int parse_report(const uint8_t *body, size_t n, json_t **event, const char **why)
{
    *event = NULL;
    json_error_t err;
    json_t *j = json_loadb((const char *)body, n, JSON_REJECT_DUPLICATES, &err);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        *why = "Bad request. The body must be a JSON object";
        return 0;
    }
    json_t *name = json_object_get(j, "name"), *type = json_object_get(j, "event_type");
    json_t *result = json_object_get(j, "result");
    const char *nm = json_string_value(name), *ty = json_string_value(type);
    const char *rs = json_string_value(result);
    int ok = 0;
    if (!nm || !json_string_length(name) || json_string_length(name) > 64) {
        *why = "Bad request. name: a string of 1-64 characters";
    } else if (!ty || (strcmp(ty, "start") && strcmp(ty, "finish"))) {
        *why = "Bad request. event_type: start or finish";
    } else if (result &&
               (!rs || (strcmp(rs, "SUCCESS") && strcmp(rs, "WARN") && strcmp(rs, "FAIL")))) {
        *why = "Bad request. result: SUCCESS, WARN or FAIL";
    } else if (!strcmp(ty, "finish") && !result) {
        *why = "Bad request. A finish event needs a result";
    } else {
        ok = 1;
        if (!strchr(nm, '/')) { /* a whole stage */
            json_t *e = json_object();
            json_object_set_new(e, "name", clean_string(name, 64));
            json_object_set_new(e, "event_type", json_string(ty));
            if (rs) json_object_set_new(e, "result", json_string(rs));
            json_t *d = clean_string(json_object_get(j, "description"), IMDS_REPORT_TEXT_MAX);
            json_object_set_new(e, "description", d ? d : json_string(""));
            json_t *o = clean_string(json_object_get(j, "origin"), 32);
            json_object_set_new(e, "origin", o ? o : json_string(""));
            *event = e;
        }
    }
    json_decref(j);
    return ok;
}

int imds_http(const struct net_config *cfg, size_t nic, const uint8_t *req, size_t len,
              bool final, bool full, uint8_t **resp, size_t *resp_len, json_t **report)
{
    *resp = NULL;
    *resp_len = 0;
    if (report) *report = NULL;
    if (nic >= cfg->nnics) return -1;
    /* leading empty lines are ignored (RFC 9112 2.2); find the empty line
     * that ends the header */
    size_t start = 0;
    while (start < len && (req[start] == '\r' || req[start] == '\n')) start++;
    size_t end = 0; /* just after the empty line */
    for (size_t i = start; i < len; i++) {
        if (req[i] != '\n') continue;
        if (i + 1 < len && req[i + 1] == '\n') {
            end = i + 2;
            break;
        }
        if (i + 2 < len && req[i + 1] == '\r' && req[i + 2] == '\n') {
            end = i + 3;
            break;
        }
    }
    if (!end) {
        if (full || len >= IMDS_REQ_MAX)
            return http_error(resp, resp_len, 431, "Request header too large");
        if (final) return http_error(resp, resp_len, 400, "Bad request. Incomplete request");
        return 0;
    }
    size_t hlen = end - start;
    if (hlen > IMDS_REQ_MAX) return http_error(resp, resp_len, 431, "Request header too large");
    char *buf = malloc(hlen + 1);
    if (!buf) return -1;
    memcpy(buf, req + start, hlen);
    buf[hlen] = 0;
    int r;
    for (size_t i = 0; i < hlen; i++) {
        unsigned char ch = (unsigned char)buf[i];
        if ((ch < 0x20 && ch != '\r' && ch != '\n' && ch != '\t') || ch == 0x7f) {
            r = http_error(resp, resp_len, 400, "Bad request. Control character in the header");
            goto out;
        }
    }
    /* request line: METHOD SP TARGET SP HTTP/1.x */
    char *save = NULL;
    char *line = strtok_r(buf, "\n", &save);
    size_t ll = line ? strlen(line) : 0;
    if (ll && line[ll - 1] == '\r') line[--ll] = 0;
    char *sp1 = line ? strchr(line, ' ') : NULL;
    char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (!sp1 || !sp2 || strchr(sp2 + 1, ' ') || sp1 == line || sp2 == sp1 + 1) {
        r = http_error(resp, resp_len, 400, "Bad request. Malformed request line");
        goto out;
    }
    if (strchr(line, '\r')) {
        r = http_error(resp, resp_len, 400, "Bad request. Bare CR in the request line");
        goto out;
    }
    *sp1 = *sp2 = 0;
    const char *method = line, *version = sp2 + 1;
    char *target = sp1 + 1;
    if (strncmp(version, "HTTP/1.", 7) || version[7] < '0' || version[7] > '9' || version[8]) {
        r = http_error(resp, resp_len, 400, "Bad request. Not HTTP/1.x");
        goto out;
    }
    for (const char *m = method; *m; m++)
        if (!is_tchar(*m)) {
            r = http_error(resp, resp_len, 400, "Bad request. Malformed method");
            goto out;
        }
    if (target[0] != '/') {
        r = http_error(resp, resp_len, 400, "Bad request. The target must be a path");
        goto out;
    }
    /* header fields */
    bool metadata = false, forwarded = false, has_length = false, bad_length = false;
    bool chunked = false;
    unsigned long long content_length = 0;
    for (char *h = strtok_r(NULL, "\n", &save); h; h = strtok_r(NULL, "\n", &save)) {
        size_t hl = strlen(h);
        if (hl && h[hl - 1] == '\r') h[--hl] = 0;
        if (!hl) break; /* the empty line */
        if (strchr(h, '\r')) {
            r = http_error(resp, resp_len, 400, "Bad request. Bare CR in a header field");
            goto out;
        }
        char *colon = strchr(h, ':');
        if (h[0] == ' ' || h[0] == '\t' || !colon || colon == h) {
            r = http_error(resp, resp_len, 400, "Bad request. Malformed header field");
            goto out;
        }
        *colon = 0;
        for (const char *c = h; *c; c++)
            if (!is_tchar(*c)) {
                r = http_error(resp, resp_len, 400, "Bad request. Malformed header field");
                goto out;
            }
        char *value = trim(colon + 1);
        if (!strcasecmp(h, "Metadata") && !strcasecmp(value, "true")) metadata = true;
        if (!strcasecmp(h, "X-Forwarded-For")) forwarded = true;
        if (!strcasecmp(h, "Transfer-Encoding")) chunked = true;
        if (!strcasecmp(h, "Content-Length")) {
            char *e;
            unsigned long long v = strtoull(value, &e, 10);
            if (value[0] < '0' || value[0] > '9' || *e || (has_length && v != content_length))
                bad_length = true;
            has_length = true;
            content_length = v;
        }
    }
    char *query = strchr(target, '?');
    size_t tlen = query ? (size_t)(query - target) : strlen(target);
    bool to_report = tlen == sizeof(report_path) - 1 && !strncmp(target, report_path, tlen);
    if (!strcmp(method, "POST") && to_report) {
        if (forwarded) {
            r = http_error(resp, resp_len, 400,
                           "Bad request. X-Forwarded-For header is not allowed");
        } else if (chunked || bad_length) {
            r = http_error(resp, resp_len, 400,
                           "Bad request. Send the body with one Content-Length");
        } else if (!has_length) {
            r = http_error(resp, resp_len, 411, "Length required");
        } else if (content_length > IMDS_REPORT_MAX) {
            r = http_error(resp, resp_len, 413, "A report is at most 2048 bytes");
        } else if (len - end < content_length) {
            r = final ? http_error(resp, resp_len, 400, "Bad request. Incomplete body") : 0;
        } else {
            json_t *event = NULL;
            const char *why = NULL;
            if (!parse_report(req + end, (size_t)content_length, &event, &why)) {
                r = http_error(resp, resp_len, 400, why);
            } else {
                r = respond(resp, resp_len, 200, "application/json; charset=utf-8", "{}", 2);
                if (report && r == 1)
                    *report = event;
                else
                    json_decref(event);
            }
        }
    } else if (strcmp(method, "GET") || to_report) {
        r = http_error(resp, resp_len, 405, "Method not allowed");
    } else if (forwarded) {
        r = http_error(resp, resp_len, 400, "Bad request. X-Forwarded-For header is not allowed");
    } else if (!metadata) {
        r = http_error(resp, resp_len, 400, "Bad request. Required metadata header not specified");
    } else {
        r = serve(cfg, nic, target, resp, resp_len);
    }
out:
    free(buf);
    return r;
}
