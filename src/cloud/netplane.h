/*
 * netplane.h - the data plane of kumod's networks: what each VM's NICs are
 * plugged into, and keeping it in step with the database.
 *
 * With kumo-switch (src/network, docs/network.md; found next to kumod, in
 * the build tree, on PATH, or given with --switch): kumod runs one switch
 * per host (DATA/net/ports.sock for NICs, DATA/net/control.sock for
 * configuration), started at kumod's start or adopted if a previous kumod
 * started it, restarted if it dies. After every committed change of VNets,
 * subnets, NSGs, NICs or public IPs, netplane_sync() sends the whole
 * configuration (set_config) built from the database, so NSG changes apply
 * at once to new flows. Names in the switch are database ids: vnet-ID,
 * subnet-ID, nsg-ID, pip-ID, nic-ID; every NIC's private IP is the one
 * kumod allocated. Each NIC of a VM is a kumo-vmm --net switch=... port.
 *
 * Without kumo-switch (--switch none, or not found): the fallback of the
 * first version - a VM's first NIC is kumo-vmm's user-mode NAT (--net user),
 * with a host port forward for each public IP mapping that the NSGs (the
 * same evaluator, src/network/nsg.c) allow inbound from the Internet when
 * the VM starts; the guest gets 10.0.2.15 instead of its private IP, other
 * NICs are not connected and NSG changes apply at the next start.
 */
#ifndef KUMO_CLOUD_NETPLANE_H
#define KUMO_CLOUD_NETPLANE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kumod;

/* At start, with the lock held: find kumo-switch, adopt or start it and
 * send it the configuration. With --switch none, VMs get kumo-vmm's
 * user-mode NAT (logged). A switch wanted but not found, or one whose
 * sockets cannot be made, is an error (logged, -1): the NAT fallback is
 * only used when the operator asks for it. 0 otherwise. */
int netplane_start(struct kumod *k);
/* At stop: forget the switch (it keeps running for the VMs). */
void netplane_stop(struct kumod *k);
/* kumo-switch is in use. */
bool netplane_has_switch(const struct kumod *k);

/* kumo-vmm arguments for the VM's NICs (a JSON array of strings), read
 * under the state lock. NULL + err on failure. */
json_t *netplane_vm_args(struct kumod *k, int64_t vm_id, char *err, size_t errlen);

/* The network configuration changed (under the lock, after the commit). */
void netplane_sync(struct kumod *k);

/* The ports of public IP pip_id that kumo-switch could not forward at the
 * last netplane_sync() because their host port cannot be listened on
 * (another program holds it): a JSON array (borrowed) of {"protocol",
 * "port", "hostPort", "message"}, or NULL when all are forwarded. Each
 * sync tries them again. Lock held. */
const json_t *netplane_pip_errors(struct kumod *k, int64_t pip_id);

/* Would the NSGs of NIC nic (its subnet's, then its own) drop a packet
 * from the Internet to its port (Tcp, or Udp)? The id of the first that
 * does, and in by which NSG and rule: "network security group 'web-nsg'
 * rule DenyAllInBound"; 0 when the packet gets in. Lock held. */
int64_t netplane_port_blocked(struct kumod *k, int64_t nic, bool udp, int64_t port, char *by,
                              size_t by_len);

/* Under the lock, now and then: restart a switch that died. */
void netplane_check(struct kumod *k);

/* The provisioning reports the metadata service keeps for NIC nic_id (the
 * switch's "provisioning" operation, docs/network.md): a JSON array of the
 * latest event of each stage (a new reference), or NULL without a switch
 * or when it does not answer (err says why). clear: the switch forgets
 * them after answering. Without the lock (a request to the switch). */
json_t *netplane_provisioning(struct kumod *k, int64_t nic_id, bool clear, char *err,
                              size_t errlen);

/* What the network tells a VM about itself, shared with its seed disk: a
 * NIC's MAC address; the VM's instance id (a GUID-shaped text of its row
 * id and creation time, so that a VM made again with the same name is a
 * new instance: compute.vmId, cloud-init's instance-id); its host name
 * (an RFC 1123 label from its name; false when nothing is left). Pure. */
char *netplane_nic_mac(int64_t nic_id, char buf[24]);
char *netplane_vm_guid(int64_t vm_id, int64_t created_ms, char buf[40]);
bool netplane_hostname(const char *vm_name, char out[64]);

/* The switch configuration document for the database's networks (for
 * netplane_sync and tests). */
json_t *netplane_config(struct kumod *k);

#endif
