/*
 * schema.c - kumod's database schema, as an ordered list of migrations.
 * db.c applies the ones a database has not seen yet, each in its own
 * transaction, and records the version in schema_version.
 *
 * Rules: never edit a migration that has shipped; add a new one. Names are
 * case-insensitive (COLLATE NOCASE) and unique in their scope. Times are
 * milliseconds since the Unix epoch. A VM holds host capacity while host_id
 * is not NULL; vcpus/mem_mib are what it holds. Usage records (billing) and
 * VM events keep names, not references, so they outlive what they describe.
 */
#include "cloud/db.h"

const char *const db_migrations[] = {
    /* 1: the whole model */
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"

    "CREATE TABLE hosts ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
    "  location TEXT NOT NULL COLLATE NOCASE,"
    "  cpus INTEGER NOT NULL CHECK (cpus > 0),"
    "  mem_mib INTEGER NOT NULL CHECK (mem_mib > 0),"
    "  cpu_ratio REAL NOT NULL CHECK (cpu_ratio > 0),"
    "  ram_ratio REAL NOT NULL CHECK (ram_ratio > 0),"
    "  reserved_mib INTEGER NOT NULL CHECK (reserved_mib >= 0),"
    "  created_ms INTEGER NOT NULL);"

    "CREATE TABLE sizes ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
    "  family TEXT NOT NULL,"
    "  vcpus INTEGER NOT NULL CHECK (vcpus > 0),"
    "  mem_mib INTEGER NOT NULL CHECK (mem_mib > 0),"
    "  max_data_disks INTEGER NOT NULL,"
    "  max_iops INTEGER NOT NULL,"
    "  price_hour REAL NOT NULL CHECK (price_hour >= 0),"
    "  burst TEXT,"
    "  builtin INTEGER NOT NULL DEFAULT 0,"
    "  created_ms INTEGER NOT NULL);"

    "CREATE TABLE groups ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
    "  location TEXT NOT NULL,"
    "  tags TEXT NOT NULL DEFAULT '{}',"
    "  created_ms INTEGER NOT NULL);"

    "CREATE TABLE images ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
    "  boot_mode TEXT NOT NULL CHECK (boot_mode IN ('direct', 'firmware')),"
    "  kernel TEXT,"
    "  initrd TEXT,"
    "  kernel_args TEXT NOT NULL,"
    "  src_format TEXT NOT NULL,"
    "  path TEXT NOT NULL,"
    "  size_bytes INTEGER NOT NULL DEFAULT 0,"
    "  source TEXT NOT NULL,"
    "  src_kernel TEXT,"
    "  src_initrd TEXT,"
    "  builtin INTEGER NOT NULL DEFAULT 0,"
    "  state TEXT NOT NULL,"
    "  error TEXT,"
    "  created_ms INTEGER NOT NULL);"

    "CREATE TABLE snapshots ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  group_id INTEGER NOT NULL REFERENCES groups(id),"
    "  name TEXT NOT NULL COLLATE NOCASE,"
    "  source_disk TEXT NOT NULL,"
    "  source_path TEXT NOT NULL,"
    "  size_gib INTEGER NOT NULL,"
    "  state TEXT NOT NULL,"
    "  error TEXT,"
    "  created_ms INTEGER NOT NULL,"
    "  UNIQUE (group_id, name));"

    "CREATE TABLE vms ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  group_id INTEGER NOT NULL REFERENCES groups(id),"
    "  name TEXT NOT NULL COLLATE NOCASE,"
    "  size_id INTEGER NOT NULL REFERENCES sizes(id),"
    "  vcpus INTEGER NOT NULL,"
    "  mem_mib INTEGER NOT NULL,"
    "  image_id INTEGER NOT NULL REFERENCES images(id),"
    "  host_id INTEGER REFERENCES hosts(id),"
    "  prov_state TEXT NOT NULL,"
    "  power_state TEXT NOT NULL,"
    "  op TEXT,"
    "  op_started_ms INTEGER,"
    "  error_code TEXT,"
    "  error_msg TEXT,"
    "  user_data TEXT,"
    "  tags TEXT NOT NULL DEFAULT '{}',"
    "  pid INTEGER,"
    "  pid_start INTEGER,"
    "  started_ms INTEGER,"
    "  last_exit TEXT,"
    "  created_ms INTEGER NOT NULL,"
    "  updated_ms INTEGER NOT NULL,"
    "  UNIQUE (group_id, name));"
    "CREATE INDEX vms_host ON vms(host_id);"

    "CREATE TABLE disks ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  group_id INTEGER NOT NULL REFERENCES groups(id),"
    "  name TEXT NOT NULL COLLATE NOCASE,"
    "  tier TEXT NOT NULL,"
    "  size_gib INTEGER NOT NULL CHECK (size_gib > 0),"
    "  image_id INTEGER REFERENCES images(id),"
    "  snapshot_id INTEGER REFERENCES snapshots(id),"
    "  vm_id INTEGER REFERENCES vms(id),"
    "  lun INTEGER,"
    "  os_disk INTEGER NOT NULL DEFAULT 0,"
    "  state TEXT NOT NULL,"
    "  error TEXT,"
    "  created_ms INTEGER NOT NULL,"
    "  UNIQUE (group_id, name),"
    "  UNIQUE (vm_id, lun));"
    "CREATE UNIQUE INDEX disks_os ON disks(vm_id) WHERE os_disk = 1;"

    "CREATE TABLE nsgs ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  group_id INTEGER NOT NULL REFERENCES groups(id),"
    "  name TEXT NOT NULL COLLATE NOCASE,"
    "  created_ms INTEGER NOT NULL,"
    "  UNIQUE (group_id, name));"

    "CREATE TABLE nsg_rules ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  nsg_id INTEGER NOT NULL REFERENCES nsgs(id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL COLLATE NOCASE,"
    "  priority INTEGER NOT NULL,"
    "  direction TEXT NOT NULL,"
    "  access TEXT NOT NULL,"
    "  protocol TEXT NOT NULL,"
    "  src_prefixes TEXT NOT NULL,"
    "  dst_prefixes TEXT NOT NULL,"
    "  src_ports TEXT NOT NULL,"
    "  dst_ports TEXT NOT NULL,"
    "  description TEXT NOT NULL DEFAULT '',"
    "  created_ms INTEGER NOT NULL,"
    "  UNIQUE (nsg_id, name),"
    "  UNIQUE (nsg_id, direction, priority));"

    "CREATE TABLE vnets ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  group_id INTEGER NOT NULL REFERENCES groups(id),"
    "  name TEXT NOT NULL COLLATE NOCASE,"
    "  address_spaces TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL,"
    "  UNIQUE (group_id, name));"

    "CREATE TABLE subnets ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  vnet_id INTEGER NOT NULL REFERENCES vnets(id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL COLLATE NOCASE,"
    "  prefix TEXT NOT NULL,"
    "  nsg_id INTEGER REFERENCES nsgs(id),"
    "  created_ms INTEGER NOT NULL,"
    "  UNIQUE (vnet_id, name));"

    "CREATE TABLE public_ips ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  group_id INTEGER NOT NULL REFERENCES groups(id),"
    "  name TEXT NOT NULL COLLATE NOCASE,"
    "  owner_vm INTEGER,"
    "  created_ms INTEGER NOT NULL,"
    "  UNIQUE (group_id, name));"

    "CREATE TABLE public_ip_ports ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  public_ip_id INTEGER NOT NULL REFERENCES public_ips(id) ON DELETE CASCADE,"
    "  protocol TEXT NOT NULL,"
    "  port INTEGER NOT NULL,"
    "  host_port INTEGER NOT NULL,"
    "  UNIQUE (protocol, host_port),"
    "  UNIQUE (public_ip_id, protocol, port));"

    "CREATE TABLE nics ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  group_id INTEGER NOT NULL REFERENCES groups(id),"
    "  name TEXT NOT NULL COLLATE NOCASE,"
    "  subnet_id INTEGER NOT NULL REFERENCES subnets(id),"
    "  private_ip INTEGER NOT NULL,"
    "  static_ip INTEGER NOT NULL DEFAULT 0,"
    "  nsg_id INTEGER REFERENCES nsgs(id),"
    "  public_ip_id INTEGER UNIQUE REFERENCES public_ips(id),"
    "  vm_id INTEGER REFERENCES vms(id),"
    "  nic_index INTEGER,"
    "  owner_vm INTEGER,"
    "  created_ms INTEGER NOT NULL,"
    "  UNIQUE (group_id, name),"
    "  UNIQUE (subnet_id, private_ip),"
    "  UNIQUE (vm_id, nic_index));"

    "CREATE TABLE vm_events ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  vm_id INTEGER NOT NULL,"
    "  at_ms INTEGER NOT NULL,"
    "  power_state TEXT NOT NULL,"
    "  prov_state TEXT NOT NULL,"
    "  size TEXT NOT NULL,"
    "  message TEXT NOT NULL);"
    "CREATE INDEX vm_events_vm ON vm_events(vm_id, id);"

    "CREATE TABLE usage ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  group_name TEXT NOT NULL,"
    "  resource_type TEXT NOT NULL,"
    "  resource_id INTEGER NOT NULL,"
    "  resource_name TEXT NOT NULL,"
    "  meter TEXT NOT NULL,"
    "  unit TEXT NOT NULL,"
    "  price REAL NOT NULL,"
    "  qty_per_hour REAL NOT NULL,"
    "  start_ms INTEGER NOT NULL,"
    "  end_ms INTEGER,"
    "  CHECK (end_ms IS NULL OR end_ms >= start_ms));"
    "CREATE UNIQUE INDEX usage_open ON usage(resource_type, resource_id) WHERE end_ms IS NULL;"
    "CREATE INDEX usage_start ON usage(start_ms);"

    "CREATE TABLE metrics ("
    "  vm_id INTEGER NOT NULL,"
    "  at_ms INTEGER NOT NULL,"
    "  cpu_pct REAL,"
    "  mem_mib INTEGER NOT NULL,"
    "  mem_used_mib REAL,"
    "  uptime_ns INTEGER NOT NULL,"
    "  disk_rd_ops INTEGER NOT NULL, disk_rd_bytes INTEGER NOT NULL,"
    "  disk_wr_ops INTEGER NOT NULL, disk_wr_bytes INTEGER NOT NULL,"
    "  net_rx_packets INTEGER NOT NULL, net_rx_bytes INTEGER NOT NULL,"
    "  net_tx_packets INTEGER NOT NULL, net_tx_bytes INTEGER NOT NULL);"
    "CREATE INDEX metrics_vm ON metrics(vm_id, at_ms);"
    "CREATE INDEX metrics_at ON metrics(at_ms);",

    /* 2: vCPU scheduling: B-series credits (cpu_credits NULL: not burstable;
     * credits_ms: when they were last accounted; cpu_capped: held to the
     * baseline), dedicated VMs (host_cpus: the host cores reserved for the
     * VM while it is allocated, "1" or "2-3"), and the samples' credits and
     * throttled time */
    "ALTER TABLE vms ADD COLUMN cpu_credits REAL;"
    "ALTER TABLE vms ADD COLUMN credits_ms INTEGER;"
    "ALTER TABLE vms ADD COLUMN cpu_capped INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE vms ADD COLUMN dedicated INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE vms ADD COLUMN host_cpus TEXT;"
    "ALTER TABLE metrics ADD COLUMN cpu_credits REAL;"
    "ALTER TABLE metrics ADD COLUMN cpu_throttled_pct REAL;",
    /* 3: scale sets, their load balancer's public IP, autoscale settings
     * and the autoscale decision log. A scale set's instances are ordinary
     * VMs with vmss_id set; model_version says which model they were made
     * from (a rolling update replaces the older ones). */
    "CREATE TABLE vmss ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  group_id INTEGER NOT NULL REFERENCES groups(id),"
    "  name TEXT NOT NULL COLLATE NOCASE,"
    "  size_id INTEGER NOT NULL REFERENCES sizes(id),"
    "  image_id INTEGER NOT NULL REFERENCES images(id),"
    "  os_tier TEXT,"
    "  vnet TEXT NOT NULL,"
    "  subnet TEXT NOT NULL,"
    "  nsg_id INTEGER REFERENCES nsgs(id),"
    "  user_data TEXT,"
    "  capacity INTEGER NOT NULL CHECK (capacity >= 0),"
    "  model_version INTEGER NOT NULL DEFAULT 1,"
    "  next_index INTEGER NOT NULL DEFAULT 0,"
    "  lb_port INTEGER,"
    "  lb_pip_id INTEGER REFERENCES public_ips(id),"
    "  probe_protocol TEXT NOT NULL DEFAULT 'Tcp',"
    "  probe_path TEXT NOT NULL DEFAULT '/',"
    "  probe_interval INTEGER NOT NULL DEFAULT 5,"
    "  deleting INTEGER NOT NULL DEFAULT 0,"
    "  last_error TEXT,"
    "  tags TEXT NOT NULL DEFAULT '{}',"
    "  created_ms INTEGER NOT NULL,"
    "  updated_ms INTEGER NOT NULL,"
    "  UNIQUE (group_id, name));"
    "ALTER TABLE vms ADD COLUMN vmss_id INTEGER REFERENCES vmss(id);"
    "ALTER TABLE vms ADD COLUMN vmss_index INTEGER;"
    "ALTER TABLE vms ADD COLUMN model_version INTEGER;"
    "CREATE INDEX vms_vmss ON vms(vmss_id);"

    "CREATE TABLE autoscale ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  group_id INTEGER NOT NULL REFERENCES groups(id),"
    "  name TEXT NOT NULL COLLATE NOCASE,"
    "  vmss_id INTEGER NOT NULL UNIQUE REFERENCES vmss(id),"
    "  enabled INTEGER NOT NULL DEFAULT 1,"
    "  minimum INTEGER NOT NULL,"
    "  maximum INTEGER NOT NULL,"
    "  dflt INTEGER NOT NULL,"
    "  rules TEXT NOT NULL DEFAULT '[]',"
    "  last_scale_ms INTEGER,"
    "  created_ms INTEGER NOT NULL,"
    "  UNIQUE (group_id, name));"

    "CREATE TABLE autoscale_events ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  autoscale_id INTEGER NOT NULL,"
    "  at_ms INTEGER NOT NULL,"
    "  action TEXT NOT NULL,"
    "  old_capacity INTEGER NOT NULL,"
    "  new_capacity INTEGER NOT NULL,"
    "  metrics TEXT NOT NULL DEFAULT '[]',"
    "  reason TEXT NOT NULL,"
    "  repeats INTEGER NOT NULL DEFAULT 1,"
    "  last_ms INTEGER);"
    "CREATE INDEX autoscale_events_as ON autoscale_events(autoscale_id, id);",
    /* 4: the Azure Resource Manager endpoint (src/cloud/arm, docs/azure.md):
     * service principals (secrets stored as PBKDF2-HMAC-SHA256 hashes),
     * long-running operations (their status once known; while running it is
     * derived from what they watch), deployments (template, parameters,
     * outputs, the ids of what they made), and the ARM properties of
     * resources that kumo's model does not hold (an OS profile, an image
     * reference, a SKU), echoed back on GET. The subscription and tenant
     * ids are meta rows (arm.subscriptionId, arm.tenantId). */
    "CREATE TABLE arm_principals ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  app_id TEXT NOT NULL UNIQUE COLLATE NOCASE,"
    "  name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
    "  salt TEXT NOT NULL,"
    "  hash TEXT NOT NULL,"
    "  iterations INTEGER NOT NULL,"
    "  created_ms INTEGER NOT NULL,"
    "  last_token_ms INTEGER);"

    "CREATE TABLE arm_operations ("
    "  id TEXT PRIMARY KEY,"
    "  kind TEXT NOT NULL,"
    "  namespace TEXT NOT NULL,"
    "  resource_id TEXT NOT NULL,"
    "  target_id INTEGER,"
    "  status TEXT NOT NULL,"
    "  error TEXT,"
    "  created_ms INTEGER NOT NULL,"
    "  ended_ms INTEGER);"
    "CREATE INDEX arm_operations_created ON arm_operations(created_ms);"

    "CREATE TABLE arm_deployments ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL COLLATE NOCASE,"
    "  template TEXT NOT NULL,"
    "  parameters TEXT NOT NULL DEFAULT '{}',"
    "  mode TEXT NOT NULL,"
    "  resources TEXT NOT NULL DEFAULT '[]',"
    "  outputs TEXT,"
    "  state TEXT NOT NULL,"
    "  error TEXT,"
    "  correlation_id TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL,"
    "  updated_ms INTEGER NOT NULL,"
    "  UNIQUE (group_id, name));"

    "CREATE TABLE arm_props ("
    "  kind TEXT NOT NULL,"
    "  row_id INTEGER NOT NULL,"
    "  props TEXT NOT NULL,"
    "  PRIMARY KEY (kind, row_id));",
    /* 5: deletes that lose nothing unasked, and run commands.
     * disks.owner_vm: the VM whose create made the disk (its OS disk and
     * the data disks of its create); a VM's delete deletes those and
     * detaches the others. OS disks made before this migration are theirs.
     * groups.deleting: the group is being emptied and deleted (the
     * provisioning layer's prov_group_delete_step); delete_status says
     * what it waits for. run_commands: scripts run in a VM's guest through
     * its agent (runcmd.c), with their outcome. */
    "ALTER TABLE disks ADD COLUMN owner_vm INTEGER;"
    "UPDATE disks SET owner_vm = vm_id WHERE os_disk = 1;"
    "ALTER TABLE groups ADD COLUMN deleting INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE groups ADD COLUMN delete_started_ms INTEGER;"
    "ALTER TABLE groups ADD COLUMN delete_status TEXT;"
    "CREATE TABLE run_commands ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  vm_id INTEGER NOT NULL,"
    "  script TEXT NOT NULL,"
    "  timeout_s INTEGER NOT NULL,"
    "  state TEXT NOT NULL,"
    "  exit_code INTEGER,"
    "  stdout TEXT,"
    "  stderr TEXT,"
    "  stdout_bytes INTEGER,"
    "  stderr_bytes INTEGER,"
    "  error TEXT,"
    "  created_ms INTEGER NOT NULL,"
    "  started_ms INTEGER,"
    "  ended_ms INTEGER);"
    "CREATE INDEX run_commands_vm ON run_commands(vm_id, id);",
    /* 6: cluster mode (docs/cluster.md). Hosts get their underlay address
     * (VXLAN between their switches), the address their public IPs are on,
     * a state (Up, Down, Draining; since state_ms) and whether their disks
     * are on storage the other hosts see. metrics gets a primary key:
     * SQLite's session extension, which records the changes each host
     * sends the others, ignores tables without one. */
    "ALTER TABLE hosts ADD COLUMN address TEXT;"
    "ALTER TABLE hosts ADD COLUMN public_address TEXT;"
    "ALTER TABLE hosts ADD COLUMN state TEXT NOT NULL DEFAULT 'Up';"
    "ALTER TABLE hosts ADD COLUMN state_ms INTEGER;"
    "ALTER TABLE hosts ADD COLUMN shared_storage INTEGER NOT NULL DEFAULT 0;"
    "CREATE TABLE metrics_pk ("
    "  vm_id INTEGER NOT NULL,"
    "  at_ms INTEGER NOT NULL,"
    "  cpu_pct REAL,"
    "  mem_mib INTEGER NOT NULL,"
    "  mem_used_mib REAL,"
    "  uptime_ns INTEGER NOT NULL,"
    "  disk_rd_ops INTEGER NOT NULL, disk_rd_bytes INTEGER NOT NULL,"
    "  disk_wr_ops INTEGER NOT NULL, disk_wr_bytes INTEGER NOT NULL,"
    "  net_rx_packets INTEGER NOT NULL, net_rx_bytes INTEGER NOT NULL,"
    "  net_tx_packets INTEGER NOT NULL, net_tx_bytes INTEGER NOT NULL,"
    "  cpu_credits REAL,"
    "  cpu_throttled_pct REAL,"
    "  PRIMARY KEY (vm_id, at_ms));"
    "INSERT OR REPLACE INTO metrics_pk SELECT vm_id, at_ms, cpu_pct, mem_mib, mem_used_mib,"
    "  uptime_ns, disk_rd_ops, disk_rd_bytes, disk_wr_ops, disk_wr_bytes, net_rx_packets,"
    "  net_rx_bytes, net_tx_packets, net_tx_bytes, cpu_credits, cpu_throttled_pct FROM metrics;"
    "DROP TABLE metrics;"
    "ALTER TABLE metrics_pk RENAME TO metrics;"
    "CREATE INDEX metrics_at ON metrics(at_ms);",
    /* 7: images as a catalog and VMs as provisioned servers (docs/images.md).
     * images: urn (Azure's "Publisher:offer:sku:version"), alias (the
     * friendly name az and kumo take for it, e.g. Debian13), os (what it
     * runs, for people) and provisioning: how its guest is given its admin
     * account, keys and user data - 'none', 'kumo' (the default guest's
     * init reads kumo's metadata service; SSH keys only) or 'cloud-init' (a
     * NoCloud seed disk kumod attaches; keys and a password).
     * vms: the OS profile (admin_username; ssh_keys, a JSON array of
     * authorized_keys lines; admin_pw_hash, a SHA-512 crypt(3) hash: the
     * password itself is never stored) and the guest's provisioning as it
     * reports it: os_prov Pending, Succeeded or Failed (NULL: not tracked,
     * the image does none or no metadata service can hear it), its latest
     * report per stage (os_prov_events, a JSON object), and when the
     * current wait for it began (os_prov_ms, for the timeout). */
    "ALTER TABLE images ADD COLUMN urn TEXT;"
    "ALTER TABLE images ADD COLUMN alias TEXT COLLATE NOCASE;"
    "ALTER TABLE images ADD COLUMN os TEXT;"
    "ALTER TABLE images ADD COLUMN provisioning TEXT NOT NULL DEFAULT 'none'"
    "  CHECK (provisioning IN ('none', 'kumo', 'cloud-init'));"
    "CREATE UNIQUE INDEX images_alias ON images(alias) WHERE alias IS NOT NULL;"
    "CREATE UNIQUE INDEX images_urn ON images(urn COLLATE NOCASE) WHERE urn IS NOT NULL;"
    "UPDATE images SET provisioning = 'kumo', urn = 'kumo:default:default:latest',"
    "  alias = 'Default', os = 'Linux 6.1 and busybox (kumo''s default guest)'"
    "  WHERE name = 'default' AND builtin = 1;"
    "ALTER TABLE vms ADD COLUMN admin_username TEXT;"
    "ALTER TABLE vms ADD COLUMN ssh_keys TEXT;"
    "ALTER TABLE vms ADD COLUMN admin_pw_hash TEXT;"
    "ALTER TABLE vms ADD COLUMN os_prov TEXT;"
    "ALTER TABLE vms ADD COLUMN os_prov_events TEXT;"
    "ALTER TABLE vms ADD COLUMN os_prov_ms INTEGER;",
    /* 8: the ARM endpoint's resources (docs/azure.md): ARM resources that
     * kumo's model has no table for (load balancers: a scale set's balancer
     * is part of the set), kept as the body ARM echoes; and the ARM
     * properties of a row (arm_props, kind = the row's table) go with the
     * row, whichever front end deletes it. */
    "CREATE TABLE arm_resources ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,"
    "  type TEXT NOT NULL COLLATE NOCASE,"
    "  name TEXT NOT NULL COLLATE NOCASE,"
    "  body TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL,"
    "  UNIQUE (group_id, type, name));"
    "CREATE TRIGGER arm_props_groups AFTER DELETE ON groups BEGIN"
    "  DELETE FROM arm_props WHERE kind = 'groups' AND row_id = OLD.id; END;"
    "CREATE TRIGGER arm_props_vms AFTER DELETE ON vms BEGIN"
    "  DELETE FROM arm_props WHERE kind = 'vms' AND row_id = OLD.id; END;"
    "CREATE TRIGGER arm_props_vmss AFTER DELETE ON vmss BEGIN"
    "  DELETE FROM arm_props WHERE kind = 'vmss' AND row_id = OLD.id; END;"
    "CREATE TRIGGER arm_props_disks AFTER DELETE ON disks BEGIN"
    "  DELETE FROM arm_props WHERE kind = 'disks' AND row_id = OLD.id; END;"
    "CREATE TRIGGER arm_props_snapshots AFTER DELETE ON snapshots BEGIN"
    "  DELETE FROM arm_props WHERE kind = 'snapshots' AND row_id = OLD.id; END;"
    "CREATE TRIGGER arm_props_images AFTER DELETE ON images BEGIN"
    "  DELETE FROM arm_props WHERE kind = 'images' AND row_id = OLD.id; END;"
    "CREATE TRIGGER arm_props_vnets AFTER DELETE ON vnets BEGIN"
    "  DELETE FROM arm_props WHERE kind = 'vnets' AND row_id = OLD.id; END;"
    "CREATE TRIGGER arm_props_nsgs AFTER DELETE ON nsgs BEGIN"
    "  DELETE FROM arm_props WHERE kind = 'nsgs' AND row_id = OLD.id; END;"
    "CREATE TRIGGER arm_props_public_ips AFTER DELETE ON public_ips BEGIN"
    "  DELETE FROM arm_props WHERE kind = 'public_ips' AND row_id = OLD.id; END;"
    "CREATE TRIGGER arm_props_nics AFTER DELETE ON nics BEGIN"
    "  DELETE FROM arm_props WHERE kind = 'nics' AND row_id = OLD.id; END;"
    "CREATE TRIGGER arm_props_autoscale AFTER DELETE ON autoscale BEGIN"
    "  DELETE FROM arm_props WHERE kind = 'autoscale' AND row_id = OLD.id; END;",
    /* 9: host caching per disk (attachment): None, ReadOnly, ReadWrite;
     * NULL: the default of its role and tier (disk_tier_default_cache) */
    "ALTER TABLE disks ADD COLUMN caching TEXT;",
    /* 10: hibernation (docs/vmstate.md): a deallocated VM whose state
     * (memory, devices) kumo-vmm saved to DATA/vms/ID/hibernation.state;
     * hibernated_ms when, state_bytes the file's size on disk (billed),
     * state_host_id the host whose data directory holds it (where the VM
     * resumes, in cluster mode). */
    "ALTER TABLE vms ADD COLUMN hibernated_ms INTEGER;"
    "ALTER TABLE vms ADD COLUMN state_bytes INTEGER;"
    "ALTER TABLE vms ADD COLUMN state_host_id INTEGER;",
    /* 11: a scale set's OS profile, given to each instance as a VM's
     * (docs/images.md): the admin account, its SSH keys (a JSON array) and
     * its password's hash (SHA-512 crypt); NULL: none. */
    "ALTER TABLE vmss ADD COLUMN admin_username TEXT;"
    "ALTER TABLE vmss ADD COLUMN ssh_keys TEXT;"
    "ALTER TABLE vmss ADD COLUMN admin_pw_hash TEXT;",
};

const int db_migration_count = (int)(sizeof(db_migrations) / sizeof(db_migrations[0]));
