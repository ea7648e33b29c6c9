/*
 * dhcp.h - the DHCP server each subnet's gateway runs (RFC 2131, options of
 * RFC 2132). It hands a NIC the address the configuration gives it - there is
 * no pool to run out of - with the subnet mask, router (the gateway), DNS
 * server, broadcast address, lease time and optionally a host name.
 *
 * dhcp_handle() is a pure function from a request (the UDP payload a NIC sent
 * to port 67) to a reply payload and where to send it; the switch wraps it
 * in UDP/IPv4/Ethernet.
 */
#ifndef KUMO_NETWORK_DHCP_H
#define KUMO_NETWORK_DHCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DHCP_SERVER_PORT 67
#define DHCP_CLIENT_PORT 68
#define DHCP_MAGIC       0x63825363u
#define DHCP_REPLY_MAX   576 /* every reply fits the minimum IP datagram */
#define DHCP_LEASE_SECS  86400

enum dhcp_msg {
    DHCP_DISCOVER = 1,
    DHCP_OFFER = 2,
    DHCP_REQUEST = 3,
    DHCP_DECLINE = 4,
    DHCP_ACK = 5,
    DHCP_NAK = 6,
    DHCP_RELEASE = 7,
    DHCP_INFORM = 8,
};

/* What the server knows about the asking NIC. */
struct dhcp_lease {
    uint8_t mac[6];
    uint32_t ip, mask, router, dns, server_id;
    uint32_t lease_secs;
    const char *hostname; /* NULL: no option 12 */
};

struct dhcp_reply {
    enum dhcp_msg type;  /* OFFER, ACK or NAK */
    size_t len;          /* bytes in data */
    uint32_t dst_ip;     /* IPv4 destination of the reply */
    bool broadcast;      /* Ethernet broadcast (else to the NIC's MAC) */
    uint8_t data[DHCP_REPLY_MAX];
};

/* What happened to a request. */
enum dhcp_outcome {
    DHCP_OUT_REPLY,    /* send *reply */
    DHCP_OUT_IGNORED,  /* malformed, not for us, or for another client hardware address */
    DHCP_OUT_RELEASED, /* RELEASE: nothing to send */
    DHCP_OUT_DECLINED, /* DECLINE: the client saw its address in use */
};

enum dhcp_outcome dhcp_handle(const uint8_t *req, size_t len, const struct dhcp_lease *lease,
                              struct dhcp_reply *reply);

/* Find option code in a BOOTP message's options (after the magic cookie).
 * Returns a pointer to its data and sets *optlen, or NULL. */
const uint8_t *dhcp_find_option(const uint8_t *msg, size_t len, uint8_t code, size_t *optlen);

#endif
