/*
 * config.h - the switch's configuration: VNets and their subnets, NICs,
 * NSGs, public IPs and conntrack limits, parsed from the JSON document of
 * docs/network.md ("Configuration") and validated as a whole. The same
 * document comes from --config FILE and from the control socket's
 * set_config; the other control operations edit the current document and
 * load the result, so there is one validator.
 *
 * A parsed configuration is immutable except for the NSG rule counters. It
 * keeps the document it came from (doc) for get_config and for editing.
 */
#ifndef KUMO_NETWORK_CONFIG_H
#define KUMO_NETWORK_CONFIG_H

#include "network/addr.h"
#include "network/conntrack.h"
#include "network/nsg.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The network between each VNet and its NAT (libslirp): the NAT's own
 * address, and the platform DNS resolver (Azure's 168.63.129.16). VNet
 * address spaces may not overlap it. */
#define NET_NAT_NETWORK  0xa83f8100u /* 168.63.129.0 */
#define NET_NAT_PREFIX   24
#define NET_NAT_HOST                                                                               \
    0xa83f8101u /* 168.63.129.1: the source of forwarded connections from the host itself */
#define NET_PLATFORM_DNS 0xa83f8110u /* 168.63.129.16 */

#define NET_VXLAN_PORT      4789 /* IANA's VXLAN port (RFC 7348) */
#define NET_VXLAN_FLOOD_MAX 64   /* hosts a VNet's broadcasts are replicated to */

#define NET_NAME_MAX     80
#define NET_HOSTNAME_MAX 63

struct net_subnet {
    char *name;
    struct net_cidr prefix;
    uint32_t gateway; /* first address after the network address */
    int nsg;          /* index into nsgs, or -1 */
};

struct net_vnet {
    char *name;
    struct net_cidr *spaces;
    size_t nspaces;
    uint32_t dns;
    struct net_subnet *subnets;
    size_t nsubnets;
    /* VXLAN between hosts (docs/network.md "Between hosts: VXLAN"): the
     * VNet's VNI (0: the VNet lives on this host alone), the underlay
     * addresses its broadcasts are replicated to (the VNet's other hosts),
     * and whether endpoints not in the configuration are learned from what
     * arrives over VXLAN. */
    uint32_t vni;
    uint32_t *flood;
    size_t nflood;
    bool learn;
};

/* What the metadata service tells a VM about itself (a NIC's "vm" object).
 * Strings are NULL when absent, except name. */
#define NET_VM_TEXT_MAX      128
#define NET_USER_DATA_MAX    65536 /* decoded bytes */
#define NET_VM_KEYS_MAX      16    /* public keys of the admin user */
#define NET_VM_KEY_MAX       8192  /* characters of one key line */
struct net_vm {
    char *name;
    char *id;             /* instance id, [A-Za-z0-9._-] */
    char *size;
    char *location;
    char *resource_group;
    char *user_data;      /* base64 (RFC 4648, padded), "" or NULL: none */
    char *admin_username; /* the account provisioning makes, NULL: none */
    char *public_keys[NET_VM_KEYS_MAX]; /* its SSH keys, one line each */
    size_t npublic_keys;
};

struct net_nic {
    char *id;
    size_t vnet, subnet; /* indexes */
    uint8_t mac[6];
    uint32_t ip;
    bool ip_static;      /* private_ip was given (else allocated) */
    int nsg;             /* -1: none */
    int public_ip;       /* -1: none */
    char *hostname;      /* NULL: none */
    struct net_vm *vm;   /* NULL: none */
    uint32_t host;       /* a remote NIC: the underlay address of its host; 0: on this switch */
};

static inline bool net_nic_remote(const struct net_nic *n)
{
    return n->host != 0;
}

struct net_pip_port {
    uint16_t host_port, nic_port;
    bool udp;
};

struct net_public_ip {
    char *name;
    uint32_t host_addr;
    struct net_pip_port *ports;
    size_t nports;
    int nic; /* the NIC it is assigned to, or -1 */
};

struct net_config {
    struct net_vnet *vnets;
    size_t nvnets;
    struct net_nic *nics;
    size_t nnics;
    struct nsg *nsgs;
    size_t nnsgs;
    struct net_public_ip *pips;
    size_t npips;
    struct ct_limits conntrack;
    /* The host's underlay: the address and UDP port the switch exchanges
     * VXLAN with other hosts on (address 0: no VXLAN). */
    uint32_t underlay_addr;
    uint16_t underlay_port;
    json_t *doc;
};

/* An empty configuration (nothing configured yet). */
struct net_config *net_config_empty(void);

/* Validate doc and build a configuration. prev (may be NULL) is the
 * configuration being replaced: NICs without a private_ip keep the address
 * they had in it. doc is referenced, not copied. 0, or -1 with a message
 * naming the offending field in err. */
int net_config_load(json_t *doc, const struct net_config *prev, struct net_config **out,
                    char *err, size_t errlen);

/* The same from JSON text. */
int net_config_parse(const char *text, size_t len, const struct net_config *prev,
                     struct net_config **out, char *err, size_t errlen);

void net_config_free(struct net_config *cfg);

int net_config_find_nic(const struct net_config *cfg, const char *id);
int net_config_find_vnet(const struct net_config *cfg, const char *name);
int net_config_find_nsg(const struct net_config *cfg, const char *name);

/* The NIC whose IP is ip in VNet v, or -1. */
int net_config_nic_by_ip(const struct net_config *cfg, size_t v, uint32_t ip);

bool net_vnet_contains(const struct net_vnet *v, uint32_t ip);

/* The VNet whose VNI is vni, or -1. */
int net_config_vnet_by_vni(const struct net_config *cfg, uint32_t vni);

#endif
