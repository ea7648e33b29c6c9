/*
 * dhcp.c - the DHCP server of dhcp.h. A request is a BOOTP message
 * (RFC 951 layout) with the DHCP magic cookie and options; only the fixed
 * header and the options area are read, each length checked first.
 */
#include "network/dhcp.h"

#include "network/packet.h"

#include <string.h>

/* BOOTP fixed header offsets */
#define B_OP      0
#define B_HTYPE   1
#define B_HLEN    2
#define B_XID     4
#define B_FLAGS   10
#define B_CIADDR  12
#define B_YIADDR  16
#define B_GIADDR  24
#define B_CHADDR  28
#define B_COOKIE  236
#define B_OPTIONS 240
#define BOOTP_MIN 300 /* replies are padded to this (RFC 951's message size) */

#define OPT_PAD        0
#define OPT_MASK       1
#define OPT_ROUTER     3
#define OPT_DNS        6
#define OPT_HOSTNAME   12
#define OPT_BROADCAST  28
#define OPT_REQ_IP     50
#define OPT_LEASE      51
#define OPT_MSG_TYPE   53
#define OPT_SERVER_ID  54
#define OPT_MESSAGE    56
#define OPT_T1         58
#define OPT_T2         59
#define OPT_END        255

const uint8_t *dhcp_find_option(const uint8_t *msg, size_t len, uint8_t code, size_t *optlen)
{
    size_t i = B_OPTIONS;
    while (i < len) {
        uint8_t c = msg[i];
        if (c == OPT_PAD) {
            i++;
            continue;
        }
        if (c == OPT_END || i + 1 >= len) return NULL;
        size_t l = msg[i + 1];
        if (i + 2 + l > len) return NULL;
        if (c == code) {
            *optlen = l;
            return msg + i + 2;
        }
        i += 2 + l;
    }
    return NULL;
}

/* 0 if the option is absent or malformed, else its 4-byte address in *out. */
static bool opt_addr(const uint8_t *msg, size_t len, uint8_t code, uint32_t *out)
{
    size_t l;
    const uint8_t *p = dhcp_find_option(msg, len, code, &l);
    if (!p || l != 4) return false;
    *out = net_rd32(p);
    return true;
}

struct builder {
    uint8_t *p;
    size_t len;
};

static void put_opt(struct builder *b, uint8_t code, const void *data, size_t l)
{
    /* the largest reply (all options, a 63-byte host name) is far below the cap */
    if (b->len + 2 + l > DHCP_REPLY_MAX - 1) return;
    b->p[b->len++] = code;
    b->p[b->len++] = (uint8_t)l;
    memcpy(b->p + b->len, data, l);
    b->len += l;
}

static void put_u32(struct builder *b, uint8_t code, uint32_t v)
{
    uint8_t d[4];
    net_wr32(d, v);
    put_opt(b, code, d, 4);
}

static void build(const uint8_t *req, const struct dhcp_lease *lease, enum dhcp_msg type,
                  bool inform, struct dhcp_reply *r)
{
    uint8_t *d = r->data;
    memset(d, 0, sizeof(r->data));
    d[B_OP] = 2;
    d[B_HTYPE] = 1;
    d[B_HLEN] = 6;
    memcpy(d + B_XID, req + B_XID, 4);
    memcpy(d + B_FLAGS, req + B_FLAGS, 2);
    if (type == DHCP_ACK) memcpy(d + B_CIADDR, req + B_CIADDR, 4);
    if (type != DHCP_NAK && !inform) net_wr32(d + B_YIADDR, lease->ip);
    memcpy(d + B_CHADDR, req + B_CHADDR, 16);
    net_wr32(d + B_COOKIE, DHCP_MAGIC);

    struct builder b = {d, B_OPTIONS};
    uint8_t t = (uint8_t)type;
    put_opt(&b, OPT_MSG_TYPE, &t, 1);
    put_u32(&b, OPT_SERVER_ID, lease->server_id);
    if (type == DHCP_NAK) {
        static const char msg[] = "requested address is not this client's";
        put_opt(&b, OPT_MESSAGE, msg, sizeof(msg) - 1);
    } else {
        if (!inform) {
            put_u32(&b, OPT_LEASE, lease->lease_secs);
            put_u32(&b, OPT_T1, lease->lease_secs / 2);
            put_u32(&b, OPT_T2, (uint32_t)((uint64_t)lease->lease_secs * 7 / 8));
        }
        put_u32(&b, OPT_MASK, lease->mask);
        put_u32(&b, OPT_ROUTER, lease->router);
        put_u32(&b, OPT_DNS, lease->dns);
        put_u32(&b, OPT_BROADCAST, (lease->ip & lease->mask) | ~lease->mask);
        if (lease->hostname && lease->hostname[0]) {
            size_t hl = strlen(lease->hostname);
            put_opt(&b, OPT_HOSTNAME, lease->hostname, hl > 63 ? 63 : hl);
        }
    }
    d[b.len++] = OPT_END;
    r->len = b.len < BOOTP_MIN ? BOOTP_MIN : b.len;
    r->type = type;

    /* RFC 2131 4.1: where the reply goes when there is no relay */
    uint32_t ciaddr = net_rd32(req + B_CIADDR);
    bool bflag = net_rd16(req + B_FLAGS) & 0x8000;
    if (type == DHCP_NAK) {
        r->dst_ip = 0xffffffffu;
        r->broadcast = true;
    } else if (ciaddr) {
        r->dst_ip = ciaddr;
        r->broadcast = false;
    } else if (bflag || inform) {
        r->dst_ip = 0xffffffffu;
        r->broadcast = true;
    } else {
        r->dst_ip = lease->ip;
        r->broadcast = false;
    }
}

enum dhcp_outcome dhcp_handle(const uint8_t *req, size_t len, const struct dhcp_lease *lease,
                              struct dhcp_reply *reply)
{
    if (len < B_OPTIONS || req[B_OP] != 1 || req[B_HTYPE] != 1 || req[B_HLEN] != 6 ||
        net_rd32(req + B_COOKIE) != DHCP_MAGIC)
        return DHCP_OUT_IGNORED;
    /* A NIC may only ask for itself, and no relay agents exist in a VNet. */
    if (memcmp(req + B_CHADDR, lease->mac, 6) != 0 || net_rd32(req + B_GIADDR) != 0)
        return DHCP_OUT_IGNORED;
    size_t tl;
    const uint8_t *tp = dhcp_find_option(req, len, OPT_MSG_TYPE, &tl);
    if (!tp || tl != 1) return DHCP_OUT_IGNORED;

    uint32_t sid, want, ciaddr = net_rd32(req + B_CIADDR);
    switch (*tp) {
    case DHCP_DISCOVER: build(req, lease, DHCP_OFFER, false, reply); return DHCP_OUT_REPLY;
    case DHCP_REQUEST: {
        bool ok;
        if (opt_addr(req, len, OPT_SERVER_ID, &sid)) {
            /* SELECTING: the client answers an offer, maybe another server's */
            if (sid != lease->server_id) return DHCP_OUT_IGNORED;
            ok = opt_addr(req, len, OPT_REQ_IP, &want) && want == lease->ip;
        } else if (ciaddr) {
            ok = ciaddr == lease->ip; /* RENEWING or REBINDING */
        } else {
            ok = opt_addr(req, len, OPT_REQ_IP, &want) && want == lease->ip; /* INIT-REBOOT */
        }
        build(req, lease, ok ? DHCP_ACK : DHCP_NAK, false, reply);
        return DHCP_OUT_REPLY;
    }
    case DHCP_INFORM: build(req, lease, DHCP_ACK, true, reply); return DHCP_OUT_REPLY;
    case DHCP_RELEASE: return DHCP_OUT_RELEASED;
    case DHCP_DECLINE: return DHCP_OUT_DECLINED;
    default: return DHCP_OUT_IGNORED;
    }
}
