/*
 * fuzz_net_services.c - libFuzzer harness for the services the switch
 * answers itself, each fed directly so that mutations reach deep states:
 *
 *   data[0] % 3 == 0: an HTTP request to the metadata service (imds_http)
 *     with data[1] choosing the NIC and the final/full flags; the answer, if
 *     any, must be a complete HTTP/1.1 response whose Content-Length matches
 *     its body;
 *   data[0] % 3 == 1: a DNS message (dns_parse_query, then dns_build_answer
 *     with up to 8 addresses): the answer must echo the question and fit
 *     512 bytes;
 *   data[0] % 3 == 2: a TCP conversation with the metadata server
 *     (tcps_input, tcps_timer) driven by 9-byte records that are made
 *     plausible from what the server said last: [flags][seq delta (2)]
 *     [ack delta (2)][window (2)][payload bytes][time step]. The payload is
 *     cut from a real request, or is raw fuzz bytes when the record says so.
 *     Every segment the server sends must be a well-formed TCP segment from
 *     169.254.169.254:80 to the client; it never holds more than TCPS_CONNS
 *     connections, and once everything has timed out it holds none.
 */
#include "network/dns.h"
#include "network/imds.h"
#include "network/packet.h"
#include "network/tcpserv.h"

#include <stdlib.h>
#include <string.h>

static const char *doc =
    "{\"vnets\":[{\"name\":\"v\",\"address_space\":[\"10.0.0.0/16\"],\"subnets\":["
    "{\"name\":\"s\",\"prefix\":\"10.0.1.0/24\"}]}],"
    "\"public_ips\":[{\"name\":\"p\",\"ports\":[{\"host_port\":8080,\"nic_port\":80}]}],"
    "\"nics\":["
    "{\"id\":\"n1\",\"vnet\":\"v\",\"subnet\":\"s\",\"mac\":\"52:54:00:00:00:01\","
    "\"hostname\":\"vm1\",\"public_ip\":\"p\",\"vm\":{\"name\":\"vm1\",\"id\":\"i-1\","
    "\"size\":\"Tiny\",\"location\":\"local\",\"resource_group\":\"rg\","
    "\"user_data\":\"IyEvYmluL3NoCmVjaG8gaGkK\"}},"
    "{\"id\":\"n2\",\"vnet\":\"v\",\"subnet\":\"s\",\"mac\":\"52:54:00:00:00:02\","
    "\"vm\":{\"name\":\"vm1\",\"resource_group\":\"rg\"}},"
    "{\"id\":\"n3\",\"vnet\":\"v\",\"subnet\":\"s\",\"mac\":\"52:54:00:00:00:03\"}]}";

static struct net_config *cfg;

static const uint8_t GW[6] = {0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc};
static const uint8_t NIC[6] = {0x52, 0x54, 0, 0, 0, 1};
#define CLIENT_IP 0x0a000104u

static void fuzz_http(const uint8_t *data, size_t size)
{
    if (size < 2) return;
    size_t nic = data[1] % 3;
    bool final = data[1] & 4, full = data[1] & 8;
    uint8_t *resp = NULL;
    size_t len = 0;
    /* a private copy: reading past the end is caught */
    uint8_t *req = malloc(size - 2 ? size - 2 : 1);
    if (!req) abort();
    memcpy(req, data + 2, size - 2);
    json_t *report = NULL;
    int r = imds_http(cfg, nic, req, size - 2, final || full, full, &resp, &len, &report);
    json_decref(report);
    free(req);
    if (r == 0) {
        if (final || full || resp) __builtin_trap();
        return;
    }
    if (r < 0) return; /* out of memory */
    if (!resp || len < 17 || memcmp(resp, "HTTP/1.1 ", 9)) __builtin_trap();
    char *text = malloc(len + 1);
    if (!text) abort();
    memcpy(text, resp, len);
    text[len] = 0;
    char *cl = strstr(text, "Content-Length: ");
    char *end = strstr(text, "\r\n\r\n");
    if (!cl || !end || cl > end) __builtin_trap();
    if ((size_t)strtoul(cl + 16, NULL, 10) != len - (size_t)(end + 4 - text)) __builtin_trap();
    free(text);
    free(resp);
}

static void fuzz_dns(const uint8_t *data, size_t size)
{
    size_t n = size - 1;
    uint8_t *msg = malloc(n ? n : 1);
    if (!msg) abort();
    memcpy(msg, data + 1, n);
    struct dns_query q;
    if (dns_parse_query(msg, n, &q) == 0) {
        if (q.qend > n || q.qend < DNS_HEADER + 5 || strlen(q.name) > DNS_NAME_MAX) __builtin_trap();
        uint32_t addrs[DNS_ANSWERS_MAX + 2] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
        uint8_t out[DNS_UDP_MAX];
        size_t len = dns_build_answer(msg, &q, (uint8_t)(n & 3), addrs, n % 11, out, sizeof(out));
        if (len) {
            if (len > DNS_UDP_MAX || memcmp(out + DNS_HEADER, msg + DNS_HEADER, q.qend - DNS_HEADER))
                __builtin_trap();
            struct dns_query q2;
            (void)dns_parse_query(out, len, &q2); /* a response: refused, without harm */
        }
    }
    free(msg);
}

/* ---------------------------------------------------------------- TCP -- */

static uint8_t *outbuf;
static size_t nout;
static bool pending; /* outbuf holds a segment not checked yet */
static uint32_t last_seq, last_ack; /* from the server's latest segment */
static bool seen_server;

static void check_segment(void);

static uint8_t *emit(void *opaque, size_t len)
{
    (void)opaque;
    if (len > TCPS_FRAME_MAX) __builtin_trap();
    if (pending) check_segment();
    pending = true;
    nout++;
    memset(outbuf, 0xee, TCPS_FRAME_MAX);
    return outbuf;
}

static void flush(void)
{
    if (pending) check_segment();
    pending = false;
}

static int app(void *opaque, const uint8_t *req, size_t len, bool final, bool full,
               uint8_t **resp, size_t *resp_len)
{
    return imds_http(cfg, (size_t)(uintptr_t)opaque, req, len, final, full, resp, resp_len, NULL);
}

/* check the segment the server just wrote into outbuf */
static void check_segment(void)
{
    struct net_frame f;
    if (net_parse_frame(outbuf, TCPS_FRAME_MAX, &f) != NET_PARSE_OK) __builtin_trap();
    if (f.ethertype != NET_ETH_IPV4 || f.proto != NET_IPPROTO_TCP || f.src_ip != NET_IMDS_IP ||
        f.sport != 80 || f.dst_ip != CLIENT_IP || memcmp(f.dst_mac, NIC, 6) ||
        memcmp(f.src_mac, GW, 6) || f.payload_len > TCPS_MSS)
        __builtin_trap();
    pending = false;
    const uint8_t *t = f.data + f.l4_off;
    last_seq = net_rd32(t + 4) + (uint32_t)f.payload_len;
    last_ack = net_rd32(t + 8);
    seen_server = true;
}

static void fuzz_tcp(const uint8_t *data, size_t size)
{
    static const char request[] =
        "GET /metadata/instance HTTP/1.1\r\nHost: 169.254.169.254\r\nMetadata: true\r\n\r\n";
    struct tcps t;
    tcps_init(&t, 12345);
    uint8_t frame[NET_ETH_HLEN + 20 + 20 + 256];
    outbuf = malloc(TCPS_FRAME_MAX);
    pending = false;
    if (!outbuf) abort();
    memset(outbuf, 0, TCPS_FRAME_MAX);
    struct tcps_env env = {
        .ip = NET_IMDS_IP, .port = 80, .mac = GW, .peer_mac = NIC, .emit = emit,
        .emit_opaque = NULL, .app = app, .app_opaque = (void *)(uintptr_t)((data[0] >> 2) % 3),
    };
    uint64_t now = 1000;
    uint32_t cseq = 1000; /* the client's next sequence number */
    size_t reqoff = 0;
    seen_server = false;
    for (size_t i = 1; i + 9 <= size; i += 9) {
        const uint8_t *r = data + i;
        uint8_t flags = r[0] & 0x3f;
        uint16_t port = 40000 + (r[0] >> 6);
        int16_t dseq = (int16_t)net_rd16(r + 1), dack = (int16_t)net_rd16(r + 3);
        uint16_t wnd = net_rd16(r + 5);
        size_t plen = r[7] & 0x7f;
        bool raw = r[7] & 0x80;
        uint8_t step = r[8];
        const uint8_t *payload;
        if (raw) {
            payload = data + i + 9; /* whatever follows (clipped to the input) */
            if (plen > size - i - 9) plen = size - i - 9;
        } else {
            if (reqoff >= sizeof(request) - 1) reqoff = 0;
            if (plen > sizeof(request) - 1 - reqoff) plen = sizeof(request) - 1 - reqoff;
            payload = (const uint8_t *)request + reqoff;
        }
        uint32_t seq = (flags & NET_TCP_SYN) ? cseq : cseq + (uint32_t)(int32_t)dseq;
        uint32_t ack = seen_server ? last_seq + (uint32_t)(int32_t)dack : (uint32_t)dack;
        struct net_tcp_seg s = {.src_ip = CLIENT_IP, .dst_ip = NET_IMDS_IP, .sport = port,
                                .dport = 80, .seq = seq, .ack = ack, .flags = flags,
                                .window = wnd, .mss = (flags & NET_TCP_SYN) ? (uint16_t)(dack & 0x7ff) : 0};
        size_t flen = net_build_tcp(frame, GW, NIC, &s, payload, plen);
        struct net_frame f;
        if (net_parse_frame(frame, flen, &f) != NET_PARSE_OK) __builtin_trap();
        nout = 0;
        tcps_input(&t, &env, &f, now);
        flush();
        if (dseq >= 0 && !raw) {
            cseq = seq + (uint32_t)plen + ((flags & (NET_TCP_SYN | NET_TCP_FIN)) ? 1 : 0);
            reqoff += plen;
        }
        if (tcps_active(&t) > TCPS_CONNS) __builtin_trap();
        now += (uint64_t)step * (step > 200 ? 1000 : 10);
        if (tcps_deadline(&t) <= now) {
            nout = 0;
            tcps_timer(&t, &env, now);
            flush();
        }
    }
    /* everything ends: after the lifetime, nothing is held */
    for (int k = 0; k < 1000 && tcps_deadline(&t) != UINT64_MAX; k++) {
        now = tcps_deadline(&t) > now ? tcps_deadline(&t) : now;
        tcps_timer(&t, &env, now);
        flush();
    }
    if (tcps_active(&t) != 0) __builtin_trap();
    tcps_clear(&t);
    free(outbuf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!cfg) {
        char err[256];
        if (net_config_parse(doc, strlen(doc), NULL, &cfg, err, sizeof(err)) < 0) abort();
    }
    if (size < 1) return 0;
    switch (data[0] % 3) {
    case 0: fuzz_http(data, size); break;
    case 1: fuzz_dns(data, size); break;
    default: fuzz_tcp(data, size); break;
    }
    return 0;
}
