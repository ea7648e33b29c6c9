/*
 * provision.h - the provisioning layer: every change to kumod's resources
 * (resource groups, virtual machines and their power operations, managed
 * disks, virtual networks and subnets, network security groups and their
 * rules, public IPs, network interfaces, scale sets and their autoscale
 * settings) as C functions of the model. The front ends call it: the REST
 * handlers (api_*.c, which the web portal's requests reach too), the scale
 * set controller (vmss.c) and the Azure ARM endpoint (arm/). HTTP, request
 * bodies and the rendering of answers stay in the front ends; the
 * database, the rules of the model, the job queue and the data plane are
 * reached from here.
 *
 * Contract:
 *  - Every function runs with kumod's state lock held (asserted) and
 *    returns without waiting for anything slow: operations that take time
 *    (a VM's start, stop, delete) are recorded (vms.op) and handed to the
 *    job queue, which carries them out (vmops.c).
 *  - Resources are named as in docs/api.md: by resource group (its id,
 *    from prov_group()) and name; names in messages are the caller's
 *    spelling. Values have been checked against validate.h's rules by the
 *    front end (requests.c does it for REST bodies); the layer checks what
 *    needs the state: existence, uniqueness, capacity, references, the
 *    state a resource is in.
 *  - Errors: -1 (or a negative id) with *e filled (error.h): a code from
 *    docs/api.md's table (AlreadyExists, NotFound, InvalidField, InUse,
 *    InvalidState, OperationInProgress, CapacityExceeded, QuotaExceeded,
 *    InternalError), a message for a person, the target (the model field at
 *    fault, named as docs/api.md names it: "dataDisks[1].lun", "privateIp";
 *    "" when none) and the error's class as an HTTP status (400 a value is
 *    wrong, 404 what is named does not exist, 409 the state refuses it, 500
 *    kumod failed). The REST API answers with that status; another front
 *    end maps code and class to its own.
 *
 * Transactions. The *_insert functions work inside a transaction (struct
 * prov_tx) that the caller opens with prov_begin() and ends with
 * prov_commit() or prov_abort(), so that several changes commit together
 * (a VM with its disks and implicit network; a scale set instance with its
 * set's counter) and a failure leaves nothing behind. The caller may run
 * its own statements on k->db inside it. After the commit, prov_commit()
 * does what the changes need: VM operations go to the job queue, a changed
 * network configuration goes to the data plane (netplane_sync), waiters are
 * woken (kumod_changed). Files created inside the transaction (disk
 * images) are removed when it does not commit. The other functions are one
 * transaction each.
 */
#ifndef KUMO_CLOUD_PROVISION_H
#define KUMO_CLOUD_PROVISION_H

#include "cloud/error.h"
#include "cloud/jobs.h"
#include "cloud/validate.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kumod;

/* ---- transactions ---- */

#define PROV_MAX_JOBS 8

struct prov_tx {
    struct kumod *k;
    struct kerr *e; /* where errors go */
    bool open;
    bool net_changed; /* netplane_sync after the commit */
    int njobs;        /* operations to submit after the commit */
    struct {
        enum job_kind kind;
        int64_t id;
    } jobs[PROV_MAX_JOBS];
    char **files; /* created inside: removed unless committed */
    int nfiles, capfiles;
};

/* BEGIN (IMMEDIATE). 0, or -1 with e set (the tx is not open). */
int prov_begin(struct prov_tx *t, struct kumod *k, struct kerr *e);
/* COMMIT, then the after-commit work above. 0, or -1 with t->e set (500)
 * after rolling back and removing the files. The tx is closed either way. */
int prov_commit(struct prov_tx *t);
/* ROLLBACK and remove the files created inside (no-op on a closed tx). */
void prov_abort(struct prov_tx *t);

/* For the layer's own files and for callers that add statements: */
void prov_tx_file(struct prov_tx *t, const char *path);              /* created in t */
void prov_tx_job(struct prov_tx *t, enum job_kind kind, int64_t id); /* submit after commit */
/* 500 InternalError with the database's message ("WHAT: message" when
 * what is given); returns -1. */
int prov_db_error(struct prov_tx *t, const char *what);
/* One statement (db.h's bind format) as a transaction of its own;
 * net_changed: it changed the network configuration. 0, or -1 with e (500,
 * "WHAT: " before the database's message when what is given). */
int prov_exec(struct kumod *k, struct kerr *e, bool net_changed, const char *what, const char *sql,
              const char *fmt, ...);

/* ---- lookups (lock held) ---- */

/* A resource group's id by name; -1 with 404 NotFound. */
int64_t prov_group(struct kumod *k, const char *name, struct kerr *e);
/* The group's name as stored (canonical case); "" if gone. */
void prov_group_name(struct kumod *k, int64_t group_id, char *buf, size_t len);
/* The id of row `name` of table (vms, disks, nics, ...) in the group; -1
 * with 404 NotFound "WHAT 'NAME' not found in resource group 'G'", or,
 * when field is given (the name came from a field), 400 InvalidField. */
int64_t prov_find(struct kumod *k, const char *table, int64_t group_id, const char *name,
                  const char *what, const char *field, struct kerr *e);
/* The image ref names: its name, its alias ("Debian13") or its URN
 * ("Debian:debian-13:13:latest"; "Publisher:offer:sku", any case, the
 * version "latest" or the image's); -1 when none. */
int64_t prov_image_ref(struct kumod *k, const char *ref);
/* An image's id by name, alias or URN: 404, or 400 naming field when
 * given (the message lists the images). */
int64_t prov_image(struct kumod *k, const char *name, const char *field, struct kerr *e);
/* An image a VM can be made from (imported): its id, or -1 with 400 naming
 * "image" (unknown, not built on this host, or not ready). */
int64_t prov_ready_image(struct kumod *k, const char *name, struct kerr *e);

struct prov_size {
    int64_t id, vcpus, mem_mib, max_data_disks;
    char name[80]; /* as stored */
};
/* A size by name; false with 400 naming "size" when there is none. */
bool prov_size_lookup(struct kumod *k, const char *name, struct prov_size *out, struct kerr *e);

/* 0 when no row of table in the group has the name; else -1 with 409
 * AlreadyExists "WHAT 'NAME' already exists" (and " in resource group 'G'"
 * with in_group). */
int prov_name_free(struct kumod *k, const char *table, int64_t group_id, const char *name,
                   const char *what, bool in_group, struct kerr *e);

/* A "WHAT is used by USERS" refusal (409 InUse; what from a format);
 * returns -1. */
int prov_in_use(struct kerr *e, const char *users, const char *what_fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Append "kind 'name'" to a comma list of users, at most 10 entries. */
void prov_users_add(char *list, size_t len, const char *kind, const char *name);
/* Append the users that query sql (rows of kind, name) finds. */
void prov_users_query(struct kumod *k, char *list, size_t len, const char *sql, const char *fmt,
                      ...);

/* ---- resource groups ---- */

/* tags: a JSON object of strings, or NULL ({}). */
int64_t prov_group_create(struct kumod *k, const char *name, const json_t *tags, struct kerr *e);
int prov_group_set_tags(struct kumod *k, int64_t group_id, const json_t *tags, struct kerr *e);
/* Delete a group with everything in it, as Azure does. An empty group goes
 * at once (*at_once); else the group is marked (groups.deleting: nothing
 * new can be made in it, 409 InvalidState) and prov_group_delete_step()
 * carries the delete out. Again while it runs: 0, nothing more. */
int prov_group_delete(struct kumod *k, int64_t group_id, const char *name, bool *at_once,
                      struct kerr *e);
/* One step of a group's delete (a no-op unless it is being deleted);
 * never waits: the scale set controller calls it every tick. Scale sets
 * are marked deleted (the controller deletes their instances), VMs are
 * deleted with every disk attached to them (a busy one once its operation
 * ends); when no VM, scale set or disk copy is left, the rest (autoscale
 * settings, NICs, public IPs, VNets, NSGs, disks, snapshots) and the group
 * go in one transaction, in that order, their files after. What it waits
 * for is in groups.delete_status. */
void prov_group_delete_step(struct kumod *k, int64_t group_id);
bool prov_group_deleting(struct kumod *k, int64_t group_id);
/* Call each(ctx, table, id) for every resource in the group, in the
 * order a delete removes them (tables: vmss, vms, autoscale, nics,
 * public_ips, vnets, nsgs, disks, snapshots). Their number. */
int prov_group_contents(struct kumod *k, int64_t group_id,
                        void (*each)(void *ctx, const char *table, int64_t id), void *ctx);

/* ---- images (host-wide) and snapshots ---- */

struct prov_image_spec {
    const char *name;
    const char *source;      /* a disk image file on the host */
    const char *format;      /* its format, NULL: probed ("auto") */
    const char *boot_mode;   /* "direct" (NULL) or "firmware" */
    const char *kernel;      /* direct boot: NULL takes the default image's */
    const char *initrd;      /* or NULL */
    const char *kernel_args; /* NULL: "console=ttyS0 root=/dev/vda rw" */
    /* How its guest is provisioned (docs/images.md, "Custom images"):
     * "cloud-init" (a NoCloud seed disk), "kumo" (kumo's metadata service,
     * as the default guest), "none"; NULL: cloud-init for firmware boot,
     * none for direct boot. */
    const char *provisioning;
    const char *os; /* what it runs, for people ("Ubuntu 24.04"), or NULL */
};
/* Record an image; its import is submitted as a job (state Creating until
 * it ends). The files named must be readable now. */
int64_t prov_image_create(struct kumod *k, const struct prov_image_spec *s, struct kerr *e);
/* Refused while it is imported or VMs or disks use it. */
int prov_image_delete(struct kumod *k, const char *name, struct kerr *e);
/* A snapshot of disk (name in the group), taken by a job; refused while a
 * VM that may write the disk has it. */
int64_t prov_snapshot_create(struct kumod *k, int64_t group_id, const char *name, const char *disk,
                             struct kerr *e);
/* Refused while it is taken or disks are made from it. */
int prov_snapshot_delete(struct kumod *k, int64_t group_id, const char *name, struct kerr *e);

/* ---- managed disks ---- */

/* A new empty disk, or an overlay of an image or snapshot (ids, 0 = none)
 * of size_gib (0 = the source's size, at least 1). tier NULL = the
 * default. size_field names the size for errors. The disk's id. */
int64_t prov_disk_insert(struct prov_tx *t, int64_t group_id, const char *name, const char *tier,
                         int64_t size_gib, int64_t image_id, int64_t snapshot_id,
                         const char *size_field);

struct prov_disk_spec {
    const char *name;
    const char *tier;     /* NULL: Standard_SSD */
    int64_t size_gib;     /* 0: the source's size */
    const char *image;    /* source image (name), or NULL */
    const char *snapshot; /* source snapshot (name in the group), or NULL */
    const char *caching;  /* host caching (None/ReadOnly/ReadWrite), or NULL: the default */
};
int64_t prov_disk_create(struct kumod *k, int64_t group_id, const struct prov_disk_spec *s,
                         struct kerr *e);
/* Change a disk's tier (NULL: keep; applied live to a running VM), size
 * (0: keep; grows only, only while no kumo-vmm has it open) and host caching
 * (NULL: keep; only while no kumo-vmm has it open). Its id. */
int64_t prov_disk_update(struct kumod *k, int64_t group_id, const char *name, const char *tier,
                         int64_t size_gib, const char *caching, struct kerr *e);
/* Record disk id's host caching (validated name, stored as Azure spells it;
 * NULL: leave it). */
int prov_disk_set_caching(struct prov_tx *t, int64_t id, const char *caching, const char *field);
/* Refused while a VM has it; the file goes with the row. */
int prov_disk_delete(struct kumod *k, int64_t group_id, const char *name, struct kerr *e);

/* ---- virtual networks and subnets ---- */

struct prov_subnet_spec {
    const char *name;
    const char *prefix; /* "10.0.1.0/24" */
    const char *nsg;    /* associated NSG (name in the group), or NULL */
};

struct prov_vnet_spec {
    const char *name;
    const char *const *spaces; /* address spaces (CIDR) */
    size_t nspaces;
    const struct prov_subnet_spec *subnets;
    size_t nsubnets;
    /* that the spaces are disjoint and the subnets inside them, without
     * overlaps, the front end has checked (validate.h) */
};

int64_t prov_vnet_insert(struct prov_tx *t, int64_t group_id, const struct prov_vnet_spec *s);
/* The subnet of a VM's or scale set's create: VNet vnet is made when
 * missing, as `az vm create` makes it (10.0.0.0/16, the subnet 10.0.0.0/24);
 * an existing VNet must have the subnet (400 naming "subnet"). Its id. */
int64_t prov_create_subnet(struct prov_tx *t, int64_t group_id, const char *vnet,
                           const char *subnet);
/* New address spaces: refused (409 InUse) when a subnet would fall out. */
int prov_vnet_set_spaces(struct kumod *k, int64_t group_id, const char *name,
                         const char *const *spaces, size_t n, struct kerr *e);
/* Refused while NICs or scale sets use it. */
int prov_vnet_delete(struct kumod *k, int64_t group_id, const char *name, struct kerr *e);

int64_t prov_subnet_create(struct kumod *k, int64_t group_id, const char *vnet,
                           const struct prov_subnet_spec *s, struct kerr *e);
/* nsg: the NSG to associate (name), or NULL for none. The subnet's id. */
int64_t prov_subnet_set_nsg(struct kumod *k, int64_t group_id, const char *vnet, const char *subnet,
                            const char *nsg, struct kerr *e);
int prov_subnet_delete(struct kumod *k, int64_t group_id, const char *vnet, const char *subnet,
                       struct kerr *e);
/* A subnet's id (404 naming the subnet and the VNet as given). */
int64_t prov_subnet(struct kumod *k, int64_t group_id, const char *vnet, const char *subnet,
                    struct kerr *e);

/* ---- network security groups ---- */

/* An inbound rule allowing Tcp to port from anywhere (the rule the VM and
 * scale set creates put in the NSGs they make). 0, or -1 with e; free it
 * with rule_norm_free. */
int prov_allow_tcp_rule(struct rule_norm *out, const char *name, int priority, int64_t port,
                        const char *description, struct kerr *e);
/* rules: normalised (validate.h rule_normalize). */
int64_t prov_nsg_insert(struct prov_tx *t, int64_t group_id, const char *name,
                        const struct rule_norm *rules, size_t n);
/* Refused while subnets, NICs or scale sets use it. */
int prov_nsg_delete(struct kumod *k, int64_t group_id, const char *name, struct kerr *e);
/* Create rule r (create_only: 409 AlreadyExists if it exists) or replace
 * it. *created says which. Its priority must be free in its direction. */
int prov_nsg_rule_set(struct kumod *k, int64_t nsg_id, const char *nsg_name,
                      const struct rule_norm *r, bool create_only, bool *created, struct kerr *e);
int prov_nsg_rule_delete(struct kumod *k, int64_t nsg_id, const char *nsg_name, const char *rule,
                         struct kerr *e);
/* Create or replace rule r of nsg in t (its priority must be free in its
 * direction: 409 naming "priority"). */
int prov_nsg_rule_put(struct prov_tx *t, int64_t nsg_id, const struct rule_norm *r);
/* The lowest priority from `from` up that no rule of nsg has in direction
 * ("Inbound", "Outbound"); -1 when none is left. */
int prov_nsg_free_priority(struct kumod *k, int64_t nsg_id, const char *direction, int from);

/* ---- public IPs ---- */

struct prov_port {
    const char *protocol; /* "Tcp" (default when NULL) or "Udp", any case */
    int64_t port;         /* the guest's port */
    int64_t host_port;    /* the host's port, or -1: the lowest free one */
};

/* ports NULL: the defaults (Tcp 22, 80, 443); n may be 0 with a non-NULL
 * pointer (no ports). owner_vm: the VM whose delete deletes it, or 0. */
int64_t prov_pip_insert(struct prov_tx *t, int64_t group_id, const char *name,
                        const struct prov_port *ports, size_t n, int64_t owner_vm);
/* Refused while a NIC or a scale set's load balancer uses it. */
int prov_pip_delete(struct kumod *k, int64_t group_id, const char *name, struct kerr *e);
/* Replace its ports: those that stay keep their host port (unless another
 * is given), new ones get one; live (the switch forwards them at once).
 * Refused for a scale set's load balancer. Its id. */
int64_t prov_pip_set_ports(struct kumod *k, int64_t group_id, const char *name,
                           const struct prov_port *ports, size_t n, struct kerr *e);

/* What prov_vm_open_port did, for its answer. */
struct prov_opened {
    char nsgs[200];   /* the NSGs given the rule ("" when none needed one) */
    char rule[96];    /* the rule's name, "open-port-P" */
    int priority;     /* its priority (0: no rule made) */
    char pip[96];     /* the public IP that forwards the port */
    bool pip_created; /* made for it (the VM had none) */
    int64_t host_port;
};
/* az vm open-port: let protocol ("Tcp", "Udp"; NULL: Tcp) port of the VM's
 * first NIC in from anywhere, live, without a restart: an inbound allow
 * rule "open-port-PORT" (priority: the given one, which must be free, or
 * the lowest free from 900) in each NSG on its path that would drop it
 * (its subnet's, its own), and a forward of the port on its public IP (one
 * made for it, NAME-ip, deleted with it, when it has none). The VM's id. */
int64_t prov_vm_open_port(struct kumod *k, int64_t group_id, const char *vm, const char *protocol,
                          int64_t port, int priority, struct prov_opened *out, struct kerr *e);

/* ---- network interfaces ---- */

/* A NIC in subnet_id with private_ip (NULL: the next free address),
 * nsg_id / pip_id (0: none); owner_vm: the VM whose delete deletes it (0:
 * none); ip_field names the address for errors. */
int64_t prov_nic_insert(struct prov_tx *t, int64_t group_id, const char *name, int64_t subnet_id,
                        const char *private_ip, int64_t nsg_id, int64_t pip_id, int64_t owner_vm,
                        const char *ip_field);

struct prov_nic_spec {
    const char *name;
    const char *vnet, *subnet;
    const char *private_ip; /* NULL: dynamic */
    const char *nsg;        /* NULL: none */
    const char *public_ip;  /* NULL: none */
};
int64_t prov_nic_create(struct kumod *k, int64_t group_id, const struct prov_nic_spec *s,
                        struct kerr *e);
/* set_nsg / set_pip: change that association to nsg / public_ip (a name,
 * or NULL for none). The NIC's id. */
int64_t prov_nic_update(struct kumod *k, int64_t group_id, const char *name, bool set_nsg,
                        const char *nsg, bool set_pip, const char *public_ip, struct kerr *e);
/* Refused while a VM has it. */
int prov_nic_delete(struct kumod *k, int64_t group_id, const char *name, struct kerr *e);

/* ---- virtual machines ---- */

#define PROV_MAX_SSH_KEYS 16 /* the metadata service's and the seed's limit */

/* A data disk of a create or an attach: an existing disk, or a new one. */
struct prov_data_disk {
    const char *disk; /* attach this existing disk (name), or NULL: a new one */
    const char *name; /* the new disk's name (NULL: VM-dataLUN, or VM-dataLUN-ID if taken) */
    const char *tier; /* the new disk's tier (NULL: the default) */
    int64_t size_gib; /* the new disk's size */
    int64_t lun;      /* -1: the lowest free LUN */
    bool detach;      /* a new disk stays after the VM's delete (Azure's deleteOption
                       * Detach); else it goes with the VM (Delete, kumo's default) */
    const char *caching; /* host caching of the attachment (NULL: keep, or the default) */
};

struct prov_vm_spec {
    const char *name, *size;
    const char *image;   /* NULL: "default" */
    const char *os_tier; /* NULL: the default */
    int64_t os_size_gib; /* 0: the image's size, at least 4 GiB */
    bool os_disk_detach; /* the OS disk stays after the VM's delete (Azure's
                          * osDisk.deleteOption Detach); else it goes with the
                          * VM (Delete, kumo's default) */
    const char *os_caching; /* NULL: ReadWrite (the OS disk default) */
    const struct prov_data_disk *data_disks;
    size_t ndata;
    /* Network: given NICs (nics_given), or the implicit network of `az vm
     * create`: VNet vnet (NULL, with subnet NULL too: the group's first
     * VNet's first subnet when it has one, as az does, else NAME-vnet, made
     * with 10.0.0.0/16 when missing), subnet (NULL: "default"), an NSG
     * (nsg, NULL: NAME-nsg, found or made allowing SSH, except on a reused
     * subnet that has an NSG: none of its own then; none with no_nsg), a
     * public IP when public_ip (public_ip_name, NULL: NAME-ip; found or made
     * with pip_ports, NULL: the defaults) and a NIC NAME-nic with
     * private_ip. */
    bool nics_given;
    const char *const *nics;
    /* Given NICs: nic_delete[i] (NULL: all false) says NIC i goes with the
     * VM's delete (Azure's deleteOption Delete); else it is detached. */
    const bool *nic_delete;
    size_t nnics;
    const char *vnet, *subnet, *nsg;
    bool no_nsg;
    bool public_ip;
    const char *public_ip_name;
    const struct prov_port *pip_ports;
    size_t npip_ports;
    const char *private_ip;
    const char *user_data; /* base64, or NULL */
    const json_t *tags;    /* object of strings, or NULL */
    bool dedicated;
    const char *host; /* run on this host (name; cluster mode), or NULL: placement chooses */
    /* The OS profile (docs/images.md): the admin account the image's
     * provisioning makes in the guest (NULL: none), its SSH public keys
     * (authorized_keys lines) and its password (NULL: none; kumod keeps
     * only a SHA-512 crypt hash). Checked by the front end with
     * validate.h's check_admin_username, check_ssh_public_key and
     * check_admin_password (at most PROV_MAX_SSH_KEYS keys; keys and a
     * password need the user name). The layer refuses (400, naming the
     * field "osProfile.adminPassword" or "osProfile.adminUsername") what the
     * image cannot do: a password where its provisioning is not cloud-init,
     * anything where it is none, and kumo's metadata provisioning without
     * kumo-switch. */
    const char *admin_username;
    const char *const *ssh_keys;
    size_t nkeys;
    const char *admin_password;
    /* Instead of admin_password: its hash already made (a scale set's
     * model, prov_vmss_spec). */
    const char *admin_pw_hash;
    /* A scale set's instance: vmss_id > 0. */
    int64_t vmss_id, vmss_index, model_version;
};

/* Create a VM in t: placement (409 CapacityExceeded when it does not fit),
 * its OS disk (an overlay of the image), data disks, network; its create
 * operation is submitted at the commit. The VM's id. */
int64_t prov_vm_insert(struct prov_tx *t, int64_t group_id, const struct prov_vm_spec *s);

/* The VM operations. Each returns the VM's id (a name is looked up in the
 * group: 404), or -1. An operation is refused (409 OperationInProgress)
 * while another one runs, and (409 InvalidState) in a power state it does
 * not apply to. *begun: an operation was recorded (the VM's op is set
 * until a worker finishes it); false when the VM already is as asked. */
int64_t prov_vm_start(struct kumod *k, int64_t group_id, const char *name, bool *begun,
                      struct kerr *e);
/* skip_shutdown: power off without asking the guest first. */
int64_t prov_vm_stop(struct kumod *k, int64_t group_id, const char *name, bool skip_shutdown,
                     bool *begun, struct kerr *e);
int64_t prov_vm_deallocate(struct kumod *k, int64_t group_id, const char *name, bool skip_shutdown,
                           bool *begun, struct kerr *e);
/* Hibernate a Running VM: its state (memory included) is saved, then it is
 * deallocated; start resumes it where it was (docs/vmstate.md). */
int64_t prov_vm_hibernate(struct kumod *k, int64_t group_id, const char *name, bool *begun,
                          struct kerr *e);
int64_t prov_vm_restart(struct kumod *k, int64_t group_id, const char *name, struct kerr *e);
/* Live-migrate a Running VM to a new kumo-vmm process on its host: the
 * guest runs on, paused only for the last copy (docs/vmstate.md, "Live
 * migration"). */
int64_t prov_vm_migrate(struct kumod *k, int64_t group_id, const char *name, struct kerr *e);
/* A new size: it must fit the host when the VM is allocated; a Running VM
 * is restarted (only when restart; else 409); *begun when it is. */
int64_t prov_vm_resize(struct kumod *k, int64_t group_id, const char *name, const char *size,
                       bool restart, bool *begun, struct kerr *e);
/* What a VM's delete does with its disks. OWNED (0, az's default): it
 * deletes the disks whose deleteOption is Delete (disks.owner_vm: the OS
 * disk and the data disks its own create made, unless its spec said
 * Detach) and detaches every other disk, which stays in the group; KEEP:
 * detaches them all; ALL: deletes every disk attached to it. The NICs and
 * public IPs that go with it (owner_vm: the ones its create made, given
 * NICs with nic_delete) go in every case. */
enum prov_vm_disks { PROV_DISKS_OWNED = 0, PROV_DISKS_KEEP = 1, PROV_DISKS_ALL = 2 };
/* The operation that carries it out (vms.op): "delete", "delete-keep-disks"
 * or "delete-all-disks". */
const char *prov_vm_delete_op(enum prov_vm_disks disks);
int64_t prov_vm_delete(struct kumod *k, int64_t group_id, const char *name,
                       enum prov_vm_disks disks, struct kerr *e);
/* The same by id, with the reason recorded in the VM's history. 0 also
 * when the VM is gone. */
int prov_vm_delete_id(struct kumod *k, int64_t vm_id, enum prov_vm_disks disks, const char *reason,
                      struct kerr *e);
int64_t prov_vm_set_tags(struct kumod *k, int64_t group_id, const char *name, const json_t *tags,
                         struct kerr *e);
/* Data disks change only while the VM is Stopped or Deallocated. */
int64_t prov_vm_attach_disk(struct kumod *k, int64_t group_id, const char *name,
                            const struct prov_data_disk *d, struct kerr *e);
/* lun: as the caller named it; anything but 0-5 is a LUN with no disk. */
int64_t prov_vm_detach_disk(struct kumod *k, int64_t group_id, const char *name, const char *lun,
                            struct kerr *e);

/* Run script (sh, as root, in /root) in the VM's guest through its agent
 * (runcmd.h), killed after timeout_s seconds: a run recorded Pending and
 * handed to the run command threads. Refused (409) unless the VM is
 * Running and idle and no other run of it is pending or running. The
 * run's id; the VM keeps its last 20 runs. */
int64_t prov_vm_run_command(struct kumod *k, int64_t group_id, const char *vm, const char *script,
                            int64_t timeout_s, struct kerr *e);

/* ---- hosts (cluster mode, docs/cluster.md) ---- */

/* drain: nothing new is placed on the host and its VMs leave it (the
 * leader moves them); else the host takes VMs again. 404 for an unknown
 * host, 409 InvalidState for a host that is Down. The host's id. */
int64_t prov_host_drain(struct kumod *k, const char *name, bool drain, struct kerr *e);

/* ---- scale sets ---- */

struct prov_vmss_spec {
    const char *name, *size;
    const char *image;   /* NULL: "default" */
    const char *os_tier; /* NULL: the default */
    const char *vnet;    /* NULL: NAME-vnet, made like a VM create's */
    const char *subnet;  /* NULL: "default" */
    const char *nsg;     /* NULL: NAME-nsg, found or made allowing SSH and lb_port */
    const char *user_data;
    const json_t *tags;
    int64_t capacity;
    int64_t lb_port;            /* the load balancer's backend port, 0: none */
    const char *probe_protocol; /* "Tcp" or "Http" (any case; NULL: Tcp) */
    const char *probe_path;     /* NULL: "/" */
    int64_t probe_interval;     /* seconds */
    /* The instances' OS profile, as prov_vm_spec's (checked against the
     * set's image the same way; the password kept as a hash only). */
    const char *admin_username;
    const char *const *ssh_keys;
    size_t nkeys;
    const char *admin_password;
};

/* What image image_id's provisioning (none, kumo, cloud-init) can honour
 * of s's OS profile (admin_username, nkeys, admin_password or
 * admin_pw_hash; only the number of keys counts, ssh_keys may be NULL): 0,
 * or -1 with a 400 naming the field. */
int prov_check_os_profile(struct kumod *k, int64_t image_id, const struct prov_vm_spec *s,
                          struct kerr *e);

/* The stored form of s's OS profile, as the vms and vmss tables hold it:
 * *keys = its SSH keys as a JSON array (NULL when none; free it) and hash =
 * the password's hash (admin_pw_hash when no password is given; "" when
 * neither is). 0, or -1 with a 500 in e (the hash could not be made). The
 * caller wipes hash (explicit_bzero) when done. */
int prov_os_profile_encode(const struct prov_vm_spec *s, char *hash, size_t hashlen, char **keys,
                           struct kerr *e);

/* Record a scale set (its controller makes the instances). The set's id. */
int64_t prov_vmss_create(struct kumod *k, int64_t group_id, const struct prov_vmss_spec *s,
                         struct kerr *e);
/* The same in t (with what else t makes: a deployment's network). */
int64_t prov_vmss_insert(struct prov_tx *t, int64_t group_id, const struct prov_vmss_spec *s);
/* A new model: size / image (NULL: keep), user data (set_user_data: to
 * user_data, NULL clears), tags (NULL: keep). A changed model starts a
 * rolling update. The set's id. */
int64_t prov_vmss_update(struct kumod *k, int64_t group_id, const char *name, const char *size,
                         const char *image, bool set_user_data, const char *user_data,
                         const json_t *tags, struct kerr *e);
/* A new capacity. A scale out is refused up front (409 CapacityExceeded,
 * nothing changed) when the new instances do not all fit the hosts now;
 * prov_vmss_create checks its capacity the same way. */
int64_t prov_vmss_scale(struct kumod *k, int64_t group_id, const char *name, int64_t capacity,
                        struct kerr *e);
/* The largest capacity up to `capacity` that set's instances can reach
 * now (its live instances, plus what fits the hosts); e is set (409) when
 * that is less than capacity. Autoscale caps its scale outs with it. */
int64_t prov_vmss_fit(struct kumod *k, int64_t set, int64_t capacity, struct kerr *e);
/* Mark it deleted: the controller deletes its instances, then the set. */
int64_t prov_vmss_delete(struct kumod *k, int64_t group_id, const char *name, struct kerr *e);

/* ---- autoscale settings ---- */

struct prov_autoscale_spec {
    const char *name;
    const char *scale_set; /* in the same group */
    int64_t minimum, maximum, dflt;
    bool enabled;
    const json_t *rules; /* array of rule objects (autoscale.h's JSON), or NULL */
};

/* One setting per scale set; minimum <= default <= maximum. Its id. */
int64_t prov_autoscale_create(struct kumod *k, int64_t group_id,
                              const struct prov_autoscale_spec *s, struct kerr *e);
int64_t prov_autoscale_insert(struct prov_tx *t, int64_t group_id,
                              const struct prov_autoscale_spec *s);
/* New bounds (-1: keep), enabled (-1: keep, 0, 1) and rules (NULL: keep;
 * else the whole list). Its id. */
int64_t prov_autoscale_update(struct kumod *k, int64_t group_id, const char *name, int64_t minimum,
                              int64_t maximum, int64_t dflt, int enabled, const json_t *rules,
                              struct kerr *e);
/* The setting and its decision history. */
int prov_autoscale_delete(struct kumod *k, int64_t group_id, const char *name, struct kerr *e);
/* Append a rule (at most AS_MAX_RULES) / remove rule number index (as the
 * caller wrote it: 404 when there is none). The setting's id. */
int64_t prov_autoscale_rule_add(struct kumod *k, int64_t group_id, const char *name,
                                const json_t *rule, struct kerr *e);
int64_t prov_autoscale_rule_delete(struct kumod *k, int64_t group_id, const char *name,
                                   const char *index, struct kerr *e);

#endif
