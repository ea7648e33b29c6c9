/*
 * test_cloud_provision.c - the provisioning layer (src/cloud/provision.h)
 * against an in-memory database and a temporary data directory: a VM
 * created with its OS and data disks, implicit network and public IP (the
 * rows, the files, the meters, the job); what a delete leaves (with and
 * without its disks); name clashes, capacity refusal, a failure after files
 * were made (they go with the rollback), busy VMs, states an operation does
 * not apply to; the network resources' references and refusals; autoscale
 * settings.
 *
 * Jobs are recorded, not run, except where a delete is carried out: then
 * vmops_run does it (no kumo-vmm process exists, so there is none to stop).
 */
#include "cloud/provision.h"
#include "cloud/vmops.h"

#include "cloud_fixture.h"

#include <inttypes.h>
#include <stdint.h>
#include <time.h>

static struct prov_vm_spec small_vm(const char *name)
{
    return (struct prov_vm_spec){.name = name, .size = "Small", .public_ip = true};
}

/* Create a VM in a transaction of its own: its id, or -1 with e. */
static int64_t create_vm(struct fixture *f, const struct prov_vm_spec *s, struct kerr *e)
{
    struct prov_tx t;
    if (prov_begin(&t, &f->k, e) < 0) return -1;
    int64_t vm = prov_vm_insert(&t, f->group, s);
    if (vm < 0 || prov_commit(&t) < 0) {
        prov_abort(&t);
        return -1;
    }
    return vm;
}

static void vm_create_and_delete(void)
{
    struct fixture f;
    if (!fixture_start(&f, record_only, true)) return;
    struct kumod *k = &f.k;
    struct kerr e = {0};
    struct prov_data_disk data = {.size_gib = 2, .lun = -1};
    struct prov_vm_spec s = small_vm("web");
    s.data_disks = &data;
    s.ndata = 1;
    kumod_lock(k);
    int64_t vm = create_vm(&f, &s, &e);
    CHECK(vm > 0, "create: %s", e.message);
    CHECK(count(&f, "SELECT count(*) FROM vms WHERE op = 'create' AND power_state = 'Creating'"
                    " AND host_id IS NOT NULL") == 1,
          "the VM is placed and its create is pending");
    CHECK(count(&f, "SELECT count(*) FROM disks WHERE os_disk = 1 AND size_gib = 4"
                    " AND name = 'web-osdisk'") == 1,
          "an OS disk of 4 GiB (the image is smaller)");
    CHECK(count(&f, "SELECT count(*) FROM disks WHERE os_disk = 0 AND lun = 0 AND size_gib = 2"
                    " AND name = 'web-data0'") == 1,
          "a data disk at LUN 0");
    CHECK(files_in(&f, "disks") == 2, "two disk files, found %d", files_in(&f, "disks"));
    CHECK(count(&f, "SELECT count(*) FROM vnets WHERE name = 'web-vnet'"
                    " AND address_spaces = '[\"10.0.0.0/16\"]'") == 1,
          "the implicit VNet");
    CHECK(count(&f, "SELECT count(*) FROM subnets WHERE name = 'default'"
                    " AND prefix = '10.0.0.0/24'") == 1,
          "its subnet");
    CHECK(count(&f, "SELECT count(*) FROM nsg_rules r JOIN nsgs n ON n.id = r.nsg_id"
                    " WHERE n.name = 'web-nsg' AND r.name = 'AllowSSH' AND r.dst_ports = '22'"
                    " AND r.priority = 1000") == 1,
          "an NSG allowing SSH");
    CHECK(count(&f, "SELECT count(*) FROM nics WHERE name = 'web-nic' AND nic_index = 0"
                    " AND owner_vm = vm_id AND private_ip = 167772164") == 1,
          "NIC web-nic at 10.0.0.4, the first usable address, owned by the VM");
    CHECK(count(&f, "SELECT count(*) FROM public_ip_ports p JOIN public_ips i"
                    " ON i.id = p.public_ip_id WHERE i.name = 'web-ip'") == 3,
          "a public IP with the three default ports");
    CHECK(count(&f, "SELECT count(*) FROM usage WHERE end_ms IS NULL") == 3,
          "meters open for the two disks and the public IP (the VM's opens when it starts)");
    kumod_unlock(k);
    CHECK(job_recorded(vm), "the create went to the job queue");

    /* the same name again: refused, nothing added */
    kumod_lock(k);
    e = (struct kerr){0};
    CHECK(create_vm(&f, &s, &e) < 0 && e.status == 409 && !strcmp(e.code, "AlreadyExists"),
          "a second 'web': %d %s", e.status, e.code);
    CHECK(strstr(e.message, "virtual machine 'web' already exists in resource group 'rg'"), "%s",
          e.message);
    CHECK(count(&f, "SELECT count(*) FROM disks") == 2 && files_in(&f, "disks") == 2,
          "no disk added");

    /* busy: the create is still pending */
    bool begun = true;
    e = (struct kerr){0};
    CHECK(prov_vm_stop(k, f.group, "web", false, &begun, &e) < 0 &&
              !strcmp(e.code, "OperationInProgress") && strstr(e.message, "create in progress"),
          "stop while creating: %s", e.message);

    /* pretend the create finished, then delete it */
    db_exec(k->db, "UPDATE vms SET op = NULL, power_state = 'Stopped', prov_state = 'Succeeded'",
            "");
    e = (struct kerr){0};
    CHECK(prov_vm_start(k, f.group, "nope", &begun, &e) < 0 && e.status == 404 &&
              strstr(e.message, "virtual machine 'nope' not found in resource group 'rg'"),
          "unknown VM: %s", e.message);
    e = (struct kerr){0};
    CHECK(prov_vm_restart(k, f.group, "web", &e) < 0 && !strcmp(e.code, "InvalidState"),
          "restart of a Stopped VM: %s", e.message);
    e = (struct kerr){0};
    CHECK(prov_vm_delete(k, f.group, "web", PROV_DISKS_OWNED, &e) == vm, "delete: %s", e.message);
    CHECK(count(&f, "SELECT count(*) FROM vms WHERE op = 'delete' AND prov_state = 'Deleting'") ==
              1,
          "the delete is recorded");
    kumod_unlock(k);
    vmops_run(k, vm); /* no process: straight to the rows */
    kumod_lock(k);
    CHECK(count(&f, "SELECT count(*) FROM vms") == 0, "the VM is gone");
    CHECK(count(&f, "SELECT count(*) FROM disks") == 0 && files_in(&f, "disks") == 0,
          "its disks and their files are gone");
    CHECK(count(&f, "SELECT count(*) FROM nics") == 0, "the NIC it made is gone");
    CHECK(count(&f, "SELECT count(*) FROM public_ips") == 0, "the public IP it made is gone");
    CHECK(count(&f, "SELECT count(*) FROM vnets") == 1 &&
              count(&f, "SELECT count(*) FROM nsgs") == 1,
          "the VNet and the NSG stay (as on Azure)");
    CHECK(count(&f, "SELECT count(*) FROM usage WHERE end_ms IS NULL") == 0, "every meter closed");
    kumod_unlock(k);
    fixture_stop(&f);
}

static void delete_keeping_disks(void)
{
    struct fixture f;
    if (!fixture_start(&f, record_only, true)) return;
    struct kumod *k = &f.k;
    struct kerr e = {0};
    struct prov_vm_spec s = small_vm("db");
    s.public_ip = false;
    kumod_lock(k);
    int64_t vm = create_vm(&f, &s, &e);
    db_exec(k->db, "UPDATE vms SET op = NULL, power_state = 'Running', prov_state = 'Succeeded'",
            "");
    CHECK(prov_vm_delete(k, f.group, "db", PROV_DISKS_KEEP, &e) == vm, "delete: %s", e.message);
    kumod_unlock(k);
    vmops_run(k, vm);
    kumod_lock(k);
    CHECK(count(&f, "SELECT count(*) FROM vms") == 0, "the VM is gone");
    CHECK(count(&f, "SELECT count(*) FROM disks WHERE vm_id IS NULL AND name = 'db-osdisk'") == 1 &&
              files_in(&f, "disks") == 1,
          "its OS disk stays, detached, with its file");
    kumod_unlock(k);
    fixture_stop(&f);
}

/* A delete takes the OS disk and the data disks its create made; a disk
 * made on its own and attached later stays, detached, unless every disk
 * is asked for. */
static void delete_keeps_attached_disks(void)
{
    struct fixture f;
    if (!fixture_start(&f, record_only, true)) return;
    struct kumod *k = &f.k;
    struct kerr e = {0};
    struct prov_data_disk data = {.size_gib = 2, .lun = -1};
    struct prov_vm_spec s = small_vm("app");
    s.public_ip = false;
    s.data_disks = &data;
    s.ndata = 1;
    kumod_lock(k);
    int64_t vm = create_vm(&f, &s, &e);
    CHECK(vm > 0, "create: %s", e.message);
    CHECK(count(&f, "SELECT count(*) FROM disks WHERE owner_vm = vm_id") == 2,
          "the OS disk and the create's data disk are the VM's own");
    struct prov_disk_spec ds = {.name = "keep", .size_gib = 1};
    CHECK(prov_disk_create(k, f.group, &ds, &e) > 0, "disk create: %s", e.message);
    db_exec(k->db, "UPDATE vms SET op = NULL, power_state = 'Stopped', prov_state = 'Succeeded'",
            "");
    struct prov_data_disk att = {.disk = "keep", .lun = -1};
    CHECK(prov_vm_attach_disk(k, f.group, "app", &att, &e) == vm, "attach: %s", e.message);
    struct prov_data_disk fresh = {.size_gib = 1, .lun = -1, .name = "later"};
    CHECK(prov_vm_attach_disk(k, f.group, "app", &fresh, &e) < 0 && e.status == 409,
          "Small takes 2 data disks: %s", e.message);
    CHECK(count(&f, "SELECT count(*) FROM disks WHERE name = 'keep' AND owner_vm IS NULL"
                    " AND vm_id IS NOT NULL") == 1,
          "an attached disk is not the VM's own");
    e = (struct kerr){0};
    CHECK(prov_vm_delete(k, f.group, "app", PROV_DISKS_OWNED, &e) == vm, "delete: %s", e.message);
    CHECK(count(&f, "SELECT count(*) FROM vms WHERE op = 'delete'") == 1, "op 'delete'");
    kumod_unlock(k);
    vmops_run(k, vm);
    kumod_lock(k);
    CHECK(count(&f, "SELECT count(*) FROM vms") == 0, "the VM is gone");
    CHECK(count(&f, "SELECT count(*) FROM disks") == 1 &&
              count(&f, "SELECT count(*) FROM disks WHERE name = 'keep' AND vm_id IS NULL"
                        " AND lun IS NULL") == 1 &&
              files_in(&f, "disks") == 1,
          "only the attached disk stays, detached, with its file");

    /* the same VM again, the disk attached at create: --delete-data-disks
     * (PROV_DISKS_ALL) takes it too */
    struct prov_data_disk given = {.disk = "keep", .lun = -1};
    s.data_disks = &given;
    vm = create_vm(&f, &s, &e);
    CHECK(vm > 0, "create: %s", e.message);
    CHECK(count(&f, "SELECT count(*) FROM disks WHERE name = 'keep' AND owner_vm IS NULL") == 1,
          "a disk given to the create stays the user's");
    db_exec(k->db, "UPDATE vms SET op = NULL, power_state = 'Stopped', prov_state = 'Succeeded'",
            "");
    CHECK(prov_vm_delete(k, f.group, "app", PROV_DISKS_ALL, &e) == vm, "delete: %s", e.message);
    CHECK(count(&f, "SELECT count(*) FROM vms WHERE op = 'delete-all-disks'") == 1,
          "op 'delete-all-disks'");
    kumod_unlock(k);
    vmops_run(k, vm);
    kumod_lock(k);
    CHECK(count(&f, "SELECT count(*) FROM disks") == 0 && files_in(&f, "disks") == 0,
          "every disk is gone");
    CHECK(count(&f, "SELECT count(*) FROM usage WHERE end_ms IS NULL") == 0, "every meter closed");
    kumod_unlock(k);
    fixture_stop(&f);
}

/* Azure's deleteOption (the ARM endpoint's VMs): a disk or NIC made with
 * Detach stays after the VM's delete, one with Delete goes. */
static void delete_options(void)
{
    struct fixture f;
    if (!fixture_start(&f, record_only, true)) return;
    struct kumod *k = &f.k;
    struct kerr e = {0};
    kumod_lock(k);
    struct prov_tx t;
    const char *space = "10.6.0.0/16";
    struct prov_subnet_spec sub = {"s", "10.6.0.0/24", NULL};
    struct prov_vnet_spec net = {"net", &space, 1, &sub, 1};
    CHECK(prov_begin(&t, k, &e) == 0 && prov_vnet_insert(&t, f.group, &net) > 0 &&
              prov_commit(&t) == 0,
          "VNet net: %s", e.message);
    struct prov_nic_spec n1 = {"n1", "net", "s", NULL, NULL, NULL};
    struct prov_nic_spec n2 = {"n2", "net", "s", NULL, NULL, NULL};
    CHECK(prov_nic_create(k, f.group, &n1, &e) > 0 && prov_nic_create(k, f.group, &n2, &e) > 0,
          "nics: %s", e.message);
    struct prov_data_disk data[2] = {{.name = "stays", .size_gib = 1, .lun = -1, .detach = true},
                                     {.name = "goes", .size_gib = 1, .lun = -1}};
    const char *nics[] = {"n1", "n2"};
    const bool nic_delete[] = {true, false};
    struct prov_vm_spec s = {.name = "az",
                             .size = "Small",
                             .os_disk_detach = true,
                             .data_disks = data,
                             .ndata = 2,
                             .nics_given = true,
                             .nics = nics,
                             .nnics = 2,
                             .nic_delete = nic_delete};
    int64_t vm = create_vm(&f, &s, &e);
    CHECK(vm > 0, "create: %s", e.message);
    CHECK(count(&f, "SELECT count(*) FROM disks WHERE owner_vm = vm_id") == 1,
          "only the data disk made with Delete is the VM's own");
    db_exec(k->db, "UPDATE vms SET op = NULL, power_state = 'Stopped', prov_state = 'Succeeded'",
            "");
    CHECK(prov_vm_delete(k, f.group, "az", PROV_DISKS_OWNED, &e) == vm, "delete: %s", e.message);
    kumod_unlock(k);
    vmops_run(k, vm);
    kumod_lock(k);
    CHECK(count(&f, "SELECT count(*) FROM vms") == 0, "the VM is gone");
    CHECK(count(&f, "SELECT count(*) FROM disks WHERE vm_id IS NULL AND owner_vm IS NULL") == 2 &&
              count(&f, "SELECT count(*) FROM disks WHERE name = 'goes'") == 0 &&
              count(&f, "SELECT count(*) FROM disks WHERE name = 'stays'") == 1 &&
              files_in(&f, "disks") == 2,
          "the OS disk and the data disk made with Detach stay, detached, with their files");
    CHECK(count(&f, "SELECT count(*) FROM nics WHERE name = 'n1'") == 0 &&
              count(&f, "SELECT count(*) FROM nics WHERE name = 'n2' AND vm_id IS NULL") == 1,
          "the NIC given with Delete went with the VM, the other is detached");
    kumod_unlock(k);
    fixture_stop(&f);
}

static void refusals_leave_nothing(void)
{
    struct fixture f;
    if (!fixture_start(&f, record_only, false)) return;
    struct kumod *k = &f.k;
    kumod_lock(k);
    /* capacity: 8 vCPUs on a host of 4 */
    struct kerr e = {0};
    struct prov_vm_spec big = small_vm("big");
    big.size = "Big";
    CHECK(create_vm(&f, &big, &e) < 0 && e.status == 409 && !strcmp(e.code, "CapacityExceeded"),
          "Big: %d %s", e.status, e.code);
    CHECK(strstr(e.message, "vCPUs short by 4"), "the refusal says what is short: %s", e.message);
    /* a failure after the OS disk's file was made: the file goes too */
    struct prov_data_disk missing = {.disk = "nope", .lun = -1};
    struct prov_vm_spec s = small_vm("late");
    s.data_disks = &missing;
    s.ndata = 1;
    e = (struct kerr){0};
    CHECK(create_vm(&f, &s, &e) < 0 && e.status == 400 && !strcmp(e.target, "dataDisks[0].disk"),
          "a missing data disk: %d %s", e.status, e.target);
    CHECK(count(&f, "SELECT count(*) FROM vms") == 0 &&
              count(&f, "SELECT count(*) FROM disks") == 0,
          "no rows");
    CHECK(files_in(&f, "disks") == 0, "no disk file left (%d)", files_in(&f, "disks"));
    CHECK(count(&f, "SELECT count(*) FROM vnets") == 0 &&
              count(&f, "SELECT count(*) FROM usage") == 0,
          "no network, no meter");
    /* unknown size and image, too many data disks */
    s = small_vm("x");
    s.size = "Huge";
    e = (struct kerr){0};
    CHECK(create_vm(&f, &s, &e) < 0 && !strcmp(e.target, "size"), "unknown size: %s", e.message);
    s = small_vm("x");
    s.image = "nope";
    e = (struct kerr){0};
    CHECK(create_vm(&f, &s, &e) < 0 && !strcmp(e.target, "image"), "unknown image: %s", e.message);
    struct prov_data_disk three[3] = {
        {.size_gib = 1, .lun = -1}, {.size_gib = 1, .lun = -1}, {.size_gib = 1, .lun = -1}};
    s = small_vm("x");
    s.data_disks = three;
    s.ndata = 3;
    e = (struct kerr){0};
    CHECK(create_vm(&f, &s, &e) < 0 && strstr(e.message, "at most 2 data disks"), "%s", e.message);
    /* a subnet that the VNet does not have */
    struct prov_tx t;
    const char *space = "10.9.0.0/16";
    struct prov_subnet_spec front = {"front", "10.9.0.0/24", NULL};
    struct prov_vnet_spec vs = {"net", &space, 1, &front, 1};
    CHECK(prov_begin(&t, k, &e) == 0 && prov_vnet_insert(&t, f.group, &vs) > 0 &&
              prov_commit(&t) == 0,
          "VNet net: %s", e.message);
    s = small_vm("x");
    s.vnet = "net";
    s.subnet = "other";
    e = (struct kerr){0};
    CHECK(create_vm(&f, &s, &e) < 0 && !strcmp(e.target, "subnet") &&
              strstr(e.message, "subnet 'other' not found in virtual network 'net'"),
          "%s", e.message);
    CHECK(count(&f, "SELECT count(*) FROM vms") == 0 && files_in(&f, "disks") == 0 &&
              count(&f, "SELECT count(*) FROM subnets") == 1,
          "nothing of x stays");
    kumod_unlock(k);
    fixture_stop(&f);
}

static void networks(void)
{
    struct fixture f;
    if (!fixture_start(&f, record_only, false)) return;
    struct kumod *k = &f.k;
    struct kerr e = {0};
    kumod_lock(k);
    /* a VNet with a subnet bound to an NSG */
    struct prov_tx t;
    CHECK(prov_begin(&t, k, &e) == 0, "begin");
    struct rule_norm web;
    CHECK(prov_allow_tcp_rule(&web, "AllowWeb", 200, 80, "web", &e) == 0, "rule");
    int64_t nsg = prov_nsg_insert(&t, f.group, "fw", &web, 1);
    rule_norm_free(&web);
    const char *space = "10.5.0.0/16";
    struct prov_subnet_spec sub = {"front", "10.5.1.0/24", "fw"};
    struct prov_vnet_spec vs = {"net", &space, 1, &sub, 1};
    int64_t vnet = prov_vnet_insert(&t, f.group, &vs);
    CHECK(nsg > 0 && vnet > 0 && prov_commit(&t) == 0, "commit: %s", e.message);
    CHECK(count(&f, "SELECT count(*) FROM subnets s JOIN nsgs n ON n.id = s.nsg_id"
                    " WHERE n.name = 'fw'") == 1,
          "the subnet is bound to the NSG");
    /* NICs: a static address, then the same address again */
    struct prov_nic_spec nic = {"n1", "net", "front", "10.5.1.10", NULL, NULL};
    CHECK(prov_nic_create(k, f.group, &nic, &e) > 0, "n1: %s", e.message);
    nic.name = "n2";
    e = (struct kerr){0};
    CHECK(prov_nic_create(k, f.group, &nic, &e) < 0 && e.status == 409 &&
              !strcmp(e.target, "privateIp") &&
              strstr(e.message, "taken by network interface 'n1'"),
          "the same address: %s", e.message);
    nic.private_ip = "10.5.1.1";
    e = (struct kerr){0};
    CHECK(prov_nic_create(k, f.group, &nic, &e) < 0 && e.status == 400 &&
              strstr(e.message, "not a usable address"),
          "a reserved address: %s", e.message);
    /* public IPs: a host port taken by another public IP */
    e = (struct kerr){0};
    CHECK(prov_begin(&t, k, &e) == 0, "begin");
    struct prov_port port = {"tcp", 22, k->cfg.port_lo + 7};
    CHECK(prov_pip_insert(&t, f.group, "p1", &port, 1, 0) > 0 && prov_commit(&t) == 0, "p1: %s",
          e.message);
    CHECK(prov_begin(&t, k, &e) == 0, "begin");
    CHECK(prov_pip_insert(&t, f.group, "p2", &port, 1, 0) < 0 && e.status == 409 &&
              !strcmp(e.target, "ports[0].hostPort"),
          "the same host port: %s", e.message);
    prov_abort(&t);
    CHECK(count(&f, "SELECT count(*) FROM public_ips") == 1, "p2 rolled back");
    CHECK(prov_nic_update(k, f.group, "n1", false, NULL, true, "p1", &e) > 0, "p1 on n1: %s",
          e.message);
    e = (struct kerr){0};
    CHECK(prov_pip_delete(k, f.group, "p1", &e) < 0 && !strcmp(e.code, "InUse") &&
              strstr(e.message, "network interface 'n1'"),
          "a public IP in use: %s", e.message);
    /* deletes refused while used, in order of use */
    e = (struct kerr){0};
    CHECK(prov_nsg_delete(k, f.group, "fw", &e) < 0 && strstr(e.message, "subnet 'net/front'"),
          "an NSG in use: %s", e.message);
    e = (struct kerr){0};
    CHECK(prov_vnet_delete(k, f.group, "net", &e) < 0 &&
              strstr(e.message, "network interface 'n1'"),
          "a VNet in use: %s", e.message);
    e = (struct kerr){0};
    CHECK(prov_subnet_set_nsg(k, f.group, "net", "front", NULL, &e) > 0 &&
              prov_nic_delete(k, f.group, "n1", &e) == 0 &&
              prov_pip_delete(k, f.group, "p1", &e) == 0 &&
              prov_nsg_delete(k, f.group, "fw", &e) == 0 &&
              prov_vnet_delete(k, f.group, "net", &e) == 0,
          "then they go: %s", e.message);
    CHECK(count(&f, "SELECT count(*) FROM subnets") == 0 &&
              count(&f, "SELECT count(*) FROM nsg_rules") == 0 &&
              count(&f, "SELECT count(*) FROM usage WHERE end_ms IS NULL") == 0,
          "with their subnets, rules and meters");
    /* the group, empty now, goes at once */
    bool at_once = false;
    CHECK(prov_group_delete(k, f.group, "rg", &at_once, &e) == 0 && at_once &&
              count(&f, "SELECT count(*) FROM groups") == 0,
          "an empty group goes at once: %s", e.message);
    kumod_unlock(k);
    fixture_stop(&f);
}

static int64_t group_rows(struct fixture *f)
{
    return count(f, "SELECT (SELECT count(*) FROM vms) + (SELECT count(*) FROM disks) +"
                    " (SELECT count(*) FROM nics) + (SELECT count(*) FROM public_ips) +"
                    " (SELECT count(*) FROM vnets) + (SELECT count(*) FROM subnets) +"
                    " (SELECT count(*) FROM nsgs) + (SELECT count(*) FROM nsg_rules) +"
                    " (SELECT count(*) FROM snapshots) + (SELECT count(*) FROM groups)");
}

/* A group's delete: nothing new in it meanwhile, its VM deleted with every
 * disk attached, then the rest in dependency order, the files too. */
static void group_delete(void)
{
    struct fixture f;
    if (!fixture_start(&f, record_only, true)) return;
    struct kumod *k = &f.k;
    struct kerr e = {0};
    struct prov_vm_spec s = small_vm("web");
    kumod_lock(k);
    int64_t vm = create_vm(&f, &s, &e);
    CHECK(vm > 0, "create: %s", e.message);
    struct prov_disk_spec d = {.name = "loose", .size_gib = 1};
    CHECK(prov_disk_create(k, f.group, &d, &e) > 0, "a disk of its own: %s", e.message);
    bool at_once = true;
    CHECK(prov_group_delete(k, f.group, "rg", &at_once, &e) == 0 && !at_once &&
              count(&f, "SELECT count(*) FROM groups WHERE deleting = 1") == 1,
          "a group that holds things is marked: %s", e.message);
    struct prov_disk_spec d2 = {.name = "late", .size_gib = 1};
    e = (struct kerr){0};
    CHECK(prov_disk_create(k, f.group, &d2, &e) < 0 && e.status == 409 &&
              strstr(e.message, "is being deleted"),
          "nothing new meanwhile: %s", e.message);
    e = (struct kerr){0};
    CHECK(prov_group_create(k, "RG", NULL, &e) < 0 && strstr(e.message, "is being deleted"),
          "nor the group again: %s", e.message);
    /* its VM is busy creating: the step waits for it */
    prov_group_delete_step(k, f.group);
    CHECK(count(&f, "SELECT count(*) FROM vms WHERE op = 'create'") == 1,
          "a busy VM is left to its operation");
    CHECK(count(&f, "SELECT count(*) FROM groups WHERE delete_status ="
                    " 'deleting 1 virtual machine'") == 1,
          "the status says what it waits for");
    db_exec(k->db, "UPDATE vms SET op = NULL, power_state = 'Running', prov_state = 'Succeeded'",
            "");
    prov_group_delete_step(k, f.group);
    CHECK(count(&f, "SELECT count(*) FROM vms WHERE op = 'delete-all-disks'") == 1,
          "then it is deleted with every disk");
    kumod_unlock(k);
    vmops_run(k, vm); /* the job the step submitted */
    kumod_lock(k);
    CHECK(count(&f, "SELECT count(*) FROM vms") == 0 && files_in(&f, "disks") == 1,
          "the VM and its OS disk are gone");
    prov_group_delete_step(k, f.group);
    CHECK(group_rows(&f) == 0 && files_in(&f, "disks") == 0,
          "then the rest and the group: %" PRId64 " rows left", group_rows(&f));
    CHECK(count(&f, "SELECT count(*) FROM usage WHERE end_ms IS NULL") == 0, "every meter closed");
    kumod_unlock(k);
    fixture_stop(&f);
}

/* kumod_lock_held(): the asserts' lock-owner check. */
static void *other_thread(void *arg)
{
    return (void *)(intptr_t)kumod_lock_held(arg);
}

static void *waiter(void *arg)
{
    struct kumod *k = arg;
    kumod_lock(k);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += 5;
    bool before = kumod_lock_held(k);
    pthread_cond_timedwait(&k->changed, &k->lock, &ts); /* woken by the main thread */
    bool after = kumod_lock_held(k);
    kumod_unlock(k);
    return (void *)(intptr_t)(before && after);
}

static void lock_owner(void)
{
    struct fixture f;
    if (!fixture_start(&f, record_only, false)) return;
    struct kumod *k = &f.k;
    CHECK(!kumod_lock_held(k), "not held at first");
    kumod_lock(k);
    CHECK(kumod_lock_held(k), "held after kumod_lock");
    pthread_t t;
    void *r = (void *)1;
    if (pthread_create(&t, NULL, other_thread, k) == 0) pthread_join(t, &r);
    CHECK(r == NULL, "another thread does not hold it");
    kumod_unlock(k);
    CHECK(!kumod_lock_held(k), "not held after kumod_unlock");
    /* a thread waiting on `changed` holds it again when the wait returns,
     * and meanwhile another thread can take it */
    if (pthread_create(&t, NULL, waiter, k) == 0) {
        int held = 0;
        for (int i = 0; i < 100; i++) {
            usleep(10000);
            kumod_lock(k);
            kumod_changed(k);
            held += kumod_lock_held(k);
            kumod_unlock(k);
        }
        CHECK(held == 100, "the waker held it each time (%d of 100)", held);
        pthread_join(t, &r);
        CHECK(r == (void *)1, "the waiter held it before and after its wait");
    }
    fixture_stop(&f);
}

/* Autoscale settings: one per set, bounds checked, rules added, removed and
 * replaced, enabled changed alone (each keeps what it does not name). */
static void autoscale_settings(void)
{
    struct fixture f;
    if (!fixture_start(&f, record_only, false)) return;
    struct kumod *k = &f.k;
    struct kerr e = {0};
    kumod_lock(k);
    struct prov_vmss_spec vs = {.name = "web", .size = "Small", .capacity = 0};
    CHECK(prov_vmss_create(k, f.group, &vs, &e) > 0, "scale set: %s", e.message);
    struct prov_autoscale_spec s = {"as", "web", 1, 3, 2, true, NULL};
    struct prov_autoscale_spec bad = {"as2", "web", 3, 1, 1, true, NULL};
    CHECK(prov_autoscale_create(k, f.group, &bad, &e) < 0 && !strcmp(e.target, "maximum"),
          "maximum below minimum refused: %s", e.message);
    CHECK(prov_autoscale_create(k, f.group, &s, &e) > 0, "create: %s", e.message);
    CHECK(prov_autoscale_create(k, f.group, &s, &e) < 0 && !strcmp(e.code, "AlreadyExists"),
          "a second one for the set");
    json_t *rule = json_pack("{s:{s:s, s:f}, s:{s:s}}", "metricTrigger", "operator", "GreaterThan",
                             "threshold", 70.0, "scaleAction", "direction", "Increase");
    CHECK(prov_autoscale_rule_add(k, f.group, "as", rule, &e) > 0, "rule: %s", e.message);
    CHECK(prov_autoscale_rule_add(k, f.group, "as", rule, &e) > 0, "rule 2: %s", e.message);
    CHECK(count(&f, "SELECT json_array_length(rules) FROM autoscale") == 2, "two rules stored");
    CHECK(prov_autoscale_update(k, f.group, "as", -1, -1, -1, 0, NULL, &e) > 0 &&
              count(&f, "SELECT enabled FROM autoscale") == 0 &&
              count(&f, "SELECT json_array_length(rules) FROM autoscale") == 2 &&
              count(&f, "SELECT maximum FROM autoscale") == 3,
          "disabled, the rest kept");
    CHECK(prov_autoscale_rule_delete(k, f.group, "as", "1", &e) > 0 &&
              count(&f, "SELECT json_array_length(rules) FROM autoscale") == 1,
          "rule 1 removed");
    CHECK(prov_autoscale_rule_delete(k, f.group, "as", "5", &e) < 0 && e.status == 404,
          "no rule 5");
    CHECK(prov_autoscale_update(k, f.group, "as", 2, 1, -1, -1, NULL, &e) < 0 &&
              count(&f, "SELECT minimum FROM autoscale") == 1,
          "bounds checked on update, nothing changed");
    json_t *none = json_array();
    CHECK(prov_autoscale_update(k, f.group, "as", 1, 4, 1, 1, none, &e) > 0 &&
              count(&f, "SELECT json_array_length(rules) FROM autoscale") == 0 &&
              count(&f, "SELECT enabled FROM autoscale") == 1,
          "rules replaced, enabled again");
    CHECK(prov_autoscale_delete(k, f.group, "as", &e) == 0 &&
              count(&f, "SELECT count(*) FROM autoscale") == 0,
          "deleted");
    json_decref(none);
    json_decref(rule);
    kumod_unlock(k);
    fixture_stop(&f);
}

/* Images by name, alias and URN; the OS profile each image's provisioning
 * can honour (no kumo-switch here: kumo's metadata provisioning cannot be
 * used, and nothing is tracked); a password kept only as its hash. */
static void images_and_os_profiles(void)
{
    struct fixture f;
    if (!fixture_start(&f, record_only, true)) return;
    struct kumod *k = &f.k;
    struct db *db = k->db;
    kumod_lock(k);
    /* the fixture's image as the default guest, and a cloud-init image */
    db_exec(db,
            "UPDATE images SET provisioning = 'kumo', urn = 'kumo:default:default:latest',"
            " alias = 'Default' WHERE name = 'default'",
            "");
    db_exec(db,
            "INSERT INTO images (name, boot_mode, kernel_args, src_format, path, size_bytes,"
            " source, state, created_ms, urn, alias, provisioning) SELECT 'debian-13',"
            " 'firmware', '', 'qcow2', path, size_bytes, 'test', 'Succeeded', created_ms,"
            " 'Debian:debian-13:13:latest', 'Debian13', 'cloud-init' FROM images"
            " WHERE name = 'default'",
            "");
    db_exec(db,
            "INSERT INTO images (name, boot_mode, kernel_args, src_format, path, source, state,"
            " error, created_ms, provisioning) VALUES ('later', 'firmware', '', 'qcow2', '', '',"
            " 'Unavailable', 'not built on this host: run x', 0, 'cloud-init')",
            "");
    int64_t deb = db_int(db, NULL, -1, "SELECT id FROM images WHERE name = 'debian-13'", "");
    const char *refs[] = {"debian-13",
                          "Debian13",
                          "debian13",
                          "Debian:debian-13:13:latest",
                          "debian:Debian-13:13",
                          "Debian:debian-13:13:LATEST"};
    for (size_t i = 0; i < sizeof(refs) / sizeof(refs[0]); i++)
        CHECK(prov_image_ref(k, refs[i]) == deb, "'%s' names debian-13", refs[i]);
    const char *not_refs[] = {"Debian:debian-13:12", "Debian:debian-13", "Debian:debian-13:13:2.0",
                              "Debian:debian-13:13:latest:x", "Debian"};
    for (size_t i = 0; i < sizeof(not_refs) / sizeof(not_refs[0]); i++)
        CHECK(prov_image_ref(k, not_refs[i]) < 0, "'%s' names no image", not_refs[i]);
    struct kerr e = {0};
    CHECK(prov_ready_image(k, "later", &e) < 0 && strstr(e.message, "not built on this host"),
          "an Unavailable image says why: %s", e.message);
    memset(&e, 0, sizeof(e));
    CHECK(prov_ready_image(k, "Ubuntu:x:y", &e) < 0 && strstr(e.message, "Debian13") &&
              strstr(e.message, "Debian:debian-13:13:latest"),
          "an unknown image lists the names, aliases and URNs: %s", e.message);

    const char *key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDe6REI/2AtI4Y0zRx7GqE2gXIrs+aTpMs3z k";
    struct prov_vm_spec s = small_vm("pw");
    s.image = "Debian13";
    s.admin_username = "ops";
    s.admin_password = "Correct-Horse-9";
    s.ssh_keys = &key;
    s.nkeys = 1;
    memset(&e, 0, sizeof(e));
    int64_t vm = create_vm(&f, &s, &e);
    CHECK(vm > 0, "cloud-init image with keys and a password: %s", e.message);
    char hash[200] = "", keys[400] = "";
    db_text(db, hash, sizeof(hash), "SELECT admin_pw_hash FROM vms WHERE id = ?", "i", vm);
    db_text(db, keys, sizeof(keys), "SELECT ssh_keys FROM vms WHERE id = ?", "i", vm);
    CHECK(!strncmp(hash, "$6$", 3) && !strstr(hash, "Correct-Horse"),
          "the password is kept as a SHA-512 crypt hash: %s", hash);
    CHECK(strstr(keys, "AAAAC3NzaC1lZDI1NTE5") && keys[0] == '[', "the keys as a JSON array");
    CHECK(count(&f, "SELECT count(*) FROM vms WHERE name = 'pw' AND os_prov IS NULL") == 1,
          "without kumo-switch no report can come: not tracked");

    /* the default guest (provisioning kumo): no password; no switch here */
    s = small_vm("nopw");
    s.admin_username = "ops";
    s.admin_password = "Correct-Horse-9";
    memset(&e, 0, sizeof(e));
    CHECK(create_vm(&f, &s, &e) < 0 && !strcmp(e.target, "osProfile.adminPassword") &&
              strstr(e.message, "cannot take a password") && e.status == 400,
          "a password for the default image: %s", e.message);
    s.admin_password = NULL;
    s.ssh_keys = &key;
    s.nkeys = 1;
    memset(&e, 0, sizeof(e));
    CHECK(create_vm(&f, &s, &e) < 0 && !strcmp(e.target, "osProfile.adminUsername") &&
              strstr(e.message, "kumo-switch"),
          "metadata provisioning without kumo-switch: %s", e.message);
    /* an image that is not provisioned */
    db_exec(db, "UPDATE images SET provisioning = 'none' WHERE name = 'default'", "");
    memset(&e, 0, sizeof(e));
    CHECK(create_vm(&f, &s, &e) < 0 && strstr(e.message, "is not provisioned"),
          "keys for an image without provisioning: %s", e.message);
    s.admin_username = NULL;
    s.nkeys = 0;
    memset(&e, 0, sizeof(e));
    CHECK(create_vm(&f, &s, &e) > 0, "without an OS profile it is made: %s", e.message);
    CHECK(count(&f, "SELECT count(*) FROM vms WHERE name = 'nopw' AND admin_username IS NULL") == 1,
          "no admin account");
    /* the seed disk takes a device slot: 6 disks and NICs at most */
    struct prov_data_disk dd[4] = {{.size_gib = 1, .lun = -1},
                                   {.size_gib = 1, .lun = -1},
                                   {.size_gib = 1, .lun = -1},
                                   {.size_gib = 1, .lun = -1}};
    db_exec(db, "UPDATE sizes SET max_data_disks = 6 WHERE name = 'Small'", "");
    s = small_vm("many");
    s.image = "debian-13";
    s.data_disks = dd;
    s.ndata = 4;
    memset(&e, 0, sizeof(e));
    CHECK(create_vm(&f, &s, &e) < 0 && !strcmp(e.target, "dataDisks") &&
              strstr(e.message, "seed disk"),
          "OS disk, 4 data disks, the seed and a NIC are too many: %s", e.message);
    CHECK(count(&f, "SELECT count(*) FROM vms WHERE name = 'many'") == 0 &&
              count(&f, "SELECT count(*) FROM disks WHERE name LIKE 'many%'") == 0,
          "nothing left of the refused creates");
    kumod_unlock(k);
    fixture_stop(&f);
}

int main(void)
{
    lock_owner();
    vm_create_and_delete();
    delete_keeping_disks();
    delete_keeps_attached_disks();
    delete_options();
    refusals_leave_nothing();
    networks();
    autoscale_settings();
    group_delete();
    images_and_os_profiles();
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
