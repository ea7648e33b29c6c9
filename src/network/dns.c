/*
 * dns.c - reading DNS queries and writing answers for dns.h (RFC 1035).
 *
 * Header (12 bytes): ID, flags (QR | opcode(4) | AA | TC | RD | RA | Z(3) |
 * RCODE(4)), QDCOUNT, ANCOUNT, NSCOUNT, ARCOUNT; then the question: QNAME
 * as length-prefixed labels ending with a zero byte, QTYPE, QCLASS.
 */
#include "network/dns.h"

#include "network/packet.h"

#include <string.h>

int dns_parse_query(const uint8_t *msg, size_t len, struct dns_query *q)
{
    memset(q, 0, sizeof(*q));
    if (len < DNS_HEADER) return -1;
    uint16_t flags = net_rd16(msg + 2);
    if (flags & 0x8000) return -1;          /* a response */
    if ((flags >> 11) & 0xf) return -1;     /* not a standard query */
    if (flags & 0x0200) return -1;          /* truncated */
    if (net_rd16(msg + 4) != 1 || net_rd16(msg + 6) != 0 || net_rd16(msg + 8) != 0 ||
        net_rd16(msg + 10) > 1)
        return -1;
    q->id = net_rd16(msg);
    q->rd = flags & 0x0100;
    q->plain = true;
    size_t i = DNS_HEADER, wire = 0, out = 0;
    for (;;) {
        if (i >= len) return -1;
        uint8_t l = msg[i];
        wire += 1 + (size_t)l;
        if (wire > DNS_NAME_MAX) return -1;
        if (l == 0) {
            i++;
            break;
        }
        if (l > 63) return -1; /* a compression pointer or a reserved label type */
        if (len - i - 1 < l) return -1;
        if (q->nlabels) q->name[out++] = '.';
        for (size_t k = 0; k < l; k++) {
            uint8_t ch = msg[i + 1 + k];
            if (ch >= 'A' && ch <= 'Z') ch = (uint8_t)(ch - 'A' + 'a');
            bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
                      ch == '_';
            if (!ok) {
                q->plain = false;
                ch = '?'; /* the text form is only used for matching */
            }
            q->name[out++] = (char)ch;
        }
        q->nlabels++;
        i += 1 + (size_t)l;
    }
    q->name[out] = 0;
    if (len - i < 4) return -1;
    q->qtype = net_rd16(msg + i);
    q->qclass = net_rd16(msg + i + 2);
    q->qend = i + 4;
    return 0;
}

size_t dns_build_answer(const uint8_t *msg, const struct dns_query *q, uint8_t rcode,
                        const uint32_t *addrs, size_t n, uint8_t *out, size_t cap)
{
    if (n > DNS_ANSWERS_MAX) n = DNS_ANSWERS_MAX;
    size_t need = q->qend + n * 16;
    if (q->qend < DNS_HEADER || need > cap || need > DNS_UDP_MAX) return 0;
    memcpy(out, msg, q->qend);
    /* QR, opcode 0, AA, RD as asked, RA, rcode */
    uint16_t flags = (uint16_t)(0x8000 | 0x0400 | (q->rd ? 0x0100 : 0) | 0x0080 | (rcode & 0xf));
    net_wr16(out + 2, flags);
    net_wr16(out + 4, 1);
    net_wr16(out + 6, (uint16_t)n);
    net_wr16(out + 8, 0);
    net_wr16(out + 10, 0);
    uint8_t *p = out + q->qend;
    for (size_t k = 0; k < n; k++) {
        net_wr16(p, 0xc000 | DNS_HEADER); /* the name: a pointer to the question's */
        net_wr16(p + 2, DNS_TYPE_A);
        net_wr16(p + 4, DNS_CLASS_IN);
        net_wr32(p + 6, DNS_TTL);
        net_wr16(p + 10, 4);
        net_wr32(p + 12, addrs[k]);
        p += 16;
    }
    return need;
}
