/*
 * storage.c - managed disks, snapshots and images (kumo disk, snapshot,
 * image).
 */
#include "cli/cli.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- disks ---- */

static const char *disk_source(const json_t *d)
{
    const json_t *s = json_object_get(d, "source");
    if (member_str(s, "image")) return fmt_str("image %s", member_str(s, "image"));
    if (member_str(s, "snapshot")) return fmt_str("snapshot %s", member_str(s, "snapshot"));
    return "empty";
}

static const char *disk_user(const json_t *d)
{
    if (!member_str(d, "managedBy")) return NULL;
    if (member_bool(d, "osDisk")) return fmt_str("%s (OS)", member_str(d, "managedBy"));
    return fmt_str("%s (lun %lld)", member_str(d, "managedBy"), member_int(d, "lun"));
}

static const char *disk_billed(const json_t *d)
{
    const json_t *b = json_object_get(d, "billedSize");
    return fmt_str("%s (%lld GiB)", member_text(b, "name"), member_int(b, "sizeGiB"));
}

static const struct column disk_columns[] = {
    COL("Name", "name", CELL_TEXT),
    COL("Tier", "tier", CELL_TEXT),
    COL(">SizeGiB", "sizeGiB", CELL_INT),
    COL_GET_RAW("BilledAs", disk_billed, "billedSize.name"),
    COL(">IOPS", "iops", CELL_INT),
    COL(">MBps", "mbps", CELL_INT),
    COL_GET("AttachedTo", disk_user),
    COL("State", "provisioningState", CELL_TEXT),
    {0},
};

static void disk_view(struct cli *c, const json_t *d)
{
    const json_t *b = json_object_get(d, "billedSize");
    struct table *t = kv_new();
    kv_add(t, "Name", member_text(d, "name"));
    kv_add(t, "Resource group", member_text(d, "resourceGroup"));
    kv_add(t, "Tier", member_text(d, "tier"));
    kv_add(t, "Host caching", member_text(d, "caching"));
    kv_add(t, "Size",
           fmt_str("%lld GiB (billed as %s, %lld GiB)", member_int(d, "sizeGiB"),
                   member_text(b, "name"), member_int(b, "sizeGiB")));
    kv_add(t, "Performance",
           fmt_str("%lld IOPS, %lld MB/s (bursts to %lld IOPS, %lld MB/s)", member_int(d, "iops"),
                   member_int(d, "mbps"), member_int(d, "burstIops"), member_int(d, "burstMbps")));
    kv_add(t, "Source", disk_source(d));
    kv_add(t, "Attached to", disk_user(d) ? disk_user(d) : "-");
    kv_add(t, "State", fmt_state(d));
    kv_add(t, "Created", fmt_time(member_str(d, "createdAt")));
    kv_print(t, c->out);
}

static const struct resource disk = {
    .what = "disk",
    .collection = "disks",
    .scope = RES_GROUP,
    .columns = disk_columns,
    .view = disk_view,
    .ask_note = " and its data",
};

static int disk_create(struct cli *c, struct args *a)
{
    const char *n = NULL;
    char *p = res_path(c, a, &disk, false, NULL, NULL);
    if (!p || !(n = need_name(c, a, disk.what))) {
        free(p);
        return KX_USAGE;
    }
    long gb = 0;
    int r = arg_long(c, a, "size-gb", 1, 32767, &gb);
    if (r < 0) goto bad;
    if (!r && !arg_str(a, "image") && !arg_str(a, "snapshot")) {
        usage_error(c, "missing --size-gb GIB: the size of the new empty disk (or make it from "
                       "--image or --snapshot)");
        goto bad;
    }
    if (arg_str(a, "image") && arg_str(a, "snapshot")) {
        usage_error(c, "--image and --snapshot: a disk has one source, not two");
        goto bad;
    }
    json_t *body = json_pack("{ss}", "name", n);
    if (r) json_object_set_new(body, "sizeGiB", json_integer(gb));
    if (arg_str(a, "sku")) json_object_set_new(body, "tier", json_string(arg_str(a, "sku")));
    if (arg_str(a, "caching"))
        json_object_set_new(body, "caching", json_string(arg_str(a, "caching")));
    if (arg_str(a, "image")) json_object_set_new(body, "image", json_string(arg_str(a, "image")));
    if (arg_str(a, "snapshot"))
        json_object_set_new(body, "snapshot", json_string(arg_str(a, "snapshot")));
    int rc = send_show(c, "POST", p, body, disk_view);
    free(p);
    return rc;
bad:
    free(p);
    return KX_USAGE;
}

static int disk_update(struct cli *c, struct args *a)
{
    char *p = res_path(c, a, &disk, true, NULL, NULL);
    if (!p) return KX_USAGE;
    json_t *body = json_object();
    long gb;
    int r = arg_long(c, a, "size-gb", 1, 32767, &gb);
    if (r > 0) json_object_set_new(body, "sizeGiB", json_integer(gb));
    if (arg_str(a, "sku")) json_object_set_new(body, "tier", json_string(arg_str(a, "sku")));
    if (arg_str(a, "caching"))
        json_object_set_new(body, "caching", json_string(arg_str(a, "caching")));
    if (r < 0 || !json_object_size(body)) {
        json_decref(body);
        free(p);
        return r < 0 ? KX_USAGE
                     : usage_error(c, "nothing to change: give --size-gb GIB (it can only grow) "
                                      "or --sku TIER");
    }
    int rc = send_show(c, "PATCH", p, body, disk_view);
    free(p);
    return rc;
}

/* ---- snapshots ---- */

static const struct column snap_columns[] = {
    COL("Name", "name", CELL_TEXT),
    COL("SourceDisk", "sourceDisk", CELL_TEXT),
    COL(">SizeGiB", "sizeGiB", CELL_INT),
    COL("State", "provisioningState", CELL_TEXT),
    COL("Created (UTC)", "createdAt", CELL_TIME),
    {0},
};

static void snap_view(struct cli *c, const json_t *s)
{
    struct table *t = kv_new();
    kv_add(t, "Name", member_text(s, "name"));
    kv_add(t, "Resource group", member_text(s, "resourceGroup"));
    kv_add(t, "Source disk", member_text(s, "sourceDisk"));
    kv_add(t, "Size", fmt_str("%lld GiB", member_int(s, "sizeGiB")));
    kv_add(t, "State", fmt_state(s));
    kv_add(t, "Created", fmt_time(member_str(s, "createdAt")));
    kv_print(t, c->out);
}

static const struct resource snapshot = {
    .what = "snapshot",
    .collection = "snapshots",
    .scope = RES_GROUP,
    .columns = snap_columns,
    .view = snap_view,
};

static int snap_create(struct cli *c, struct args *a)
{
    const char *g, *n = NULL, *src = NULL;
    char *coll = res_path(c, a, &snapshot, false, &g, NULL);
    if (!coll || !(n = need_name(c, a, snapshot.what)) ||
        !(src = need_opt(c, a, "disk", "the disk to copy"))) {
        free(coll);
        return KX_USAGE;
    }
    json_t *s;
    int rc = api(c, "POST", coll, json_pack("{ss ss}", "name", n, "disk", src), &s);
    free(coll);
    if (rc) return rc;
    char *p = res_path_of(&snapshot, g, NULL, member_str(s, "name") ? member_str(s, "name") : n);
    json_t *final;
    rc = finish_long(c, p, s, fmt_str("snapshot '%s'", n),
                     fmt_str("kumo snapshot show -g %s %s", g, n), false, &final);
    free(p);
    if (final) print_one(c, final, snap_view);
    json_decref(final);
    return rc;
}

/* ---- images ---- */

static const struct column image_columns[] = {
    COL("Name", "name", CELL_TEXT),
    COL("Alias", "alias", CELL_TEXT),
    COL("Urn", "urn", CELL_TEXT),
    COL("OS", "os", CELL_TEXT),
    COL(">SizeGiB", "sizeGiB", CELL_INT),
    COL("Provisioning", "provisioning", CELL_TEXT),
    COL("State", "provisioningState", CELL_TEXT),
    {0},
};

static const char *provisioning_text(const json_t *i)
{
    const char *p = member_text(i, "provisioning");
    if (strcmp(p, "cloud-init") == 0)
        return "cloud-init, from a NoCloud seed disk kumod attaches (admin account, SSH keys, "
               "password, host name, user data, root file system grown)";
    if (strcmp(p, "kumo") == 0)
        return "kumo's metadata service (admin account and SSH keys, no password; user data)";
    if (strcmp(p, "none") == 0) return "none (no admin account or keys are made)";
    return p;
}

static void image_view(struct cli *c, const json_t *i)
{
    struct table *t = kv_new();
    kv_add(t, "Name", member_text(i, "name"));
    if (member_str(i, "alias")) kv_add(t, "Alias", member_str(i, "alias"));
    if (member_str(i, "urn")) kv_add(t, "URN", member_str(i, "urn"));
    if (member_str(i, "os")) kv_add(t, "OS", member_str(i, "os"));
    kv_add(t, "Provisioning", provisioning_text(i));
    kv_add(t, "Boot mode",
           strcmp(member_text(i, "bootMode"), "direct") == 0
               ? "direct (kumo-vmm loads the kernel; the disk is the root file system)"
               : fmt_str("%s (OpenSBI and U-Boot boot what the disk holds)",
                         member_text(i, "bootMode")));
    if (member_str(i, "kernel")) kv_add(t, "Kernel", member_str(i, "kernel"));
    if (member_str(i, "initrd")) kv_add(t, "Initrd", member_str(i, "initrd"));
    if (member_str(i, "kernelArgs")) kv_add(t, "Kernel args", member_str(i, "kernelArgs"));
    kv_add(t, "Disk",
           fmt_str("%s, %lld bytes (OS disks of at least %lld GiB)", member_text(i, "format"),
                   member_int(i, "sizeBytes"), member_int(i, "sizeGiB")));
    kv_add(t, "Source", member_text(i, "source"));
    kv_add(t, "Built in", member_bool(i, "builtin") ? "yes" : "no");
    kv_add(t, "State", fmt_state(i));
    kv_add(t, "Created", fmt_time(member_str(i, "createdAt")));
    kv_print(t, c->out);
}

static const struct resource image = {
    .what = "image",
    .collection = "images",
    .scope = RES_TOP,
    .columns = image_columns,
    .view = image_view,
};

/* kumod wants absolute paths on its host; resolve the user's. */
static const char *abs_file(struct cli *c, const struct args *a, const char *opt, bool *bad)
{
    const char *f = arg_str(a, opt);
    if (!f) return NULL;
    char buf[PATH_MAX];
    if (!realpath(f, buf)) {
        usage_error(c, "--%s: cannot find %s: %s", opt, f, strerror(errno));
        *bad = true;
        return NULL;
    }
    return fmt_str("%s", buf);
}

static int image_create(struct cli *c, struct args *a)
{
    const char *n = need_name(c, a, image.what);
    if (!n) return KX_USAGE;
    if (!need_opt(c, a, "source", "the disk image file to import (raw, qcow2, vhd or vmdk)"))
        return KX_USAGE;
    bool bad = false;
    const char *src = abs_file(c, a, "source", &bad);
    const char *kernel = abs_file(c, a, "kernel", &bad);
    const char *initrd = abs_file(c, a, "initrd", &bad);
    if (bad) return KX_USAGE;
    json_t *body = json_pack("{ss ss}", "name", n, "source", src);
    /* a distribution's cloud image boots its own kernel (docs/images.md):
     * firmware boot unless a kernel is given */
    if (!arg_str(a, "boot-mode") && !kernel && !initrd && !arg_str(a, "kernel-args"))
        json_object_set_new(body, "bootMode", json_string("firmware"));
    if (arg_str(a, "format"))
        json_object_set_new(body, "format", json_string(arg_str(a, "format")));
    if (arg_str(a, "boot-mode"))
        json_object_set_new(body, "bootMode", json_string(arg_str(a, "boot-mode")));
    if (kernel) json_object_set_new(body, "kernel", json_string(kernel));
    if (initrd) json_object_set_new(body, "initrd", json_string(initrd));
    if (arg_str(a, "kernel-args"))
        json_object_set_new(body, "kernelArgs", json_string(arg_str(a, "kernel-args")));
    if (arg_str(a, "provisioning"))
        json_object_set_new(body, "provisioning", json_string(arg_str(a, "provisioning")));
    if (arg_str(a, "os")) json_object_set_new(body, "os", json_string(arg_str(a, "os")));
    json_t *img;
    int rc = api(c, "POST", "/images", body, &img);
    if (rc) return rc;
    char *p =
        res_path_of(&image, NULL, NULL, member_str(img, "name") ? member_str(img, "name") : n);
    json_t *final;
    rc = finish_long(c, p, img, fmt_str("image '%s'", n), fmt_str("kumo image show %s", n), false,
                     &final);
    free(p);
    if (final) print_one(c, final, image_view);
    json_decref(final);
    return rc;
}

/* ---- command tables ---- */

static const struct opt disk_opts[] = {OPT_G("disk"), OPT_N("disk"), {0}};
static const struct opt disk_create_opts[] = {
    OPT_G("disk"),
    OPT_N("new disk"),
    {"size-gb", 0, OPT_VALUE, "GIB",
     "size, 1-32767 GiB (from an image or snapshot: at least "
     "its size; default: its size)",
     "sizeGiB"},
    {"sku", 0, OPT_VALUE, "TIER", "Standard_HDD, Standard_SSD (default) or Premium_SSD", "tier"},
    {"caching", 0, OPT_VALUE, "MODE", "host caching: None, ReadOnly or ReadWrite (default: ReadWrite for an OS disk, ReadOnly for a Premium_SSD data disk, else None)", "caching"},
    {"image", 0, OPT_VALUE, "IMAGE", "start as a copy of this image", "image"},
    {"snapshot", 0, OPT_VALUE, "SNAPSHOT", "start as a copy of this snapshot", "snapshot"},
    {0},
};
static const struct opt disk_update_opts[] = {
    OPT_G("disk"),
    OPT_N("disk"),
    {"size-gb", 0, OPT_VALUE, "GIB", "the new size (disks only grow)", "sizeGiB"},
    {"sku", 0, OPT_VALUE, "TIER", "the new tier", "tier"},
    {"caching", 0, OPT_VALUE, "MODE",
     "the new host caching: None, ReadOnly or ReadWrite (its VM stopped)", "caching"},
    {0},
};

static const struct cmd disk_create_c = {
    .name = "create",
    .summary = "Create a managed disk",
    .usage = "-g RG -n NAME --size-gb GIB [--sku TIER] [--image IMAGE | --snapshot SNAPSHOT]",
    .help = "Create a managed disk. Its tier and size set its speed and its price: it performs "
            "and bills as the smallest size of its tier's ladder at least as large (a 5 GiB "
            "Premium_SSD disk is a P2: 8 GiB, 120 IOPS, 25 MB/s). Attach it with 'kumo vm disk "
            "attach'.",
    .opts = disk_create_opts,
    .run = disk_create,
    .positionals = 1,
    .examples = "  kumo disk create -g web -n data1 --size-gb 8 --sku Premium_SSD\n"};
static const struct cmd disk_list_c =
    RES_LIST(&disk, "List disks with their tier, speed and VM", group_filter_opts);
static const struct cmd disk_show_c = RES_SHOW(&disk, "Show a disk", disk_opts);
static const struct cmd disk_update_c = {
    .name = "update",
    .summary = "Grow a disk or change its tier",
    .usage = "-g RG -n NAME [--size-gb GIB] [--sku TIER]",
    .help = "Grow a disk or move it to another tier. A disk of a VM that runs cannot change: "
            "stop or deallocate the VM first (the new limits apply at its next start).",
    .opts = disk_update_opts,
    .run = disk_update,
    .positionals = 1};
static const struct cmd disk_delete_c = RES_DELETE(&disk, "Delete a disk no VM uses", disk_opts);
const struct cmd cmd_disk = {
    .name = "disk",
    .summary = "Managed disks: create, list, show, update, delete",
    .help = "Managed disks in three tiers: Standard_HDD (cheapest, for backups), Standard_SSD "
            "(balanced) and Premium_SSD (fast, for databases). Billed per GiB-month of their "
            "billed size while they exist.",
    .sub = (const struct cmd *const[]){&disk_create_c, &disk_list_c, &disk_show_c, &disk_update_c,
                                       &disk_delete_c, NULL},
};

static const struct opt snap_opts[] = {OPT_G("snapshot"), OPT_N("snapshot"), {0}};
static const struct opt snap_create_opts[] = {
    OPT_G("snapshot"),
    OPT_N("new snapshot"),
    {"disk|source", 0, OPT_VALUE, "DISK", "the disk to copy (its VM must not be running)", "disk"},
    {0},
};
static const struct cmd snap_create_c = {
    .name = "create",
    .summary = "Snapshot a disk (a full, independent copy)",
    .usage = "-g RG -n NAME --disk DISK [--no-wait]",
    .help = "Copy a disk as it is now. The disk's VM must not run (stop it first). 'kumo disk "
            "create --snapshot' makes disks from it.",
    .opts = snap_create_opts,
    .run = snap_create,
    .positionals = 1,
    .waits = true};
static const struct cmd snap_list_c = RES_LIST(&snapshot, "List snapshots", group_filter_opts);
static const struct cmd snap_show_c = RES_SHOW(&snapshot, "Show a snapshot", snap_opts);
static const struct cmd snap_delete_c = RES_DELETE(&snapshot, "Delete a snapshot", snap_opts);
const struct cmd cmd_snapshot = {
    .name = "snapshot",
    .summary = "Disk snapshots: create, list, show, delete",
    .sub = (const struct cmd *const[]){&snap_create_c, &snap_list_c, &snap_show_c, &snap_delete_c,
                                       NULL},
};

static const struct opt image_opts[] = {OPT_N("image"), {0}};
static const struct opt image_create_opts[] = {
    OPT_N("new image"),
    {"source", 0, OPT_VALUE, "FILE", "the disk image file on kumod's host (raw, qcow2, vhd, vmdk)",
     "source"},
    {"format", 0, OPT_VALUE, "FORMAT", "auto (default), raw, qcow2, vhd or vmdk", "format"},
    {"boot-mode", 0, OPT_VALUE, "MODE",
     "firmware (default: OpenSBI and U-Boot boot what the disk holds, as a distribution's "
     "riscv64 cloud image wants; docs/images.md) or direct (kumo-vmm loads --kernel, the disk "
     "is the root file system)",
     "bootMode"},
    {"provisioning", 0, OPT_VALUE, "HOW",
     "how its guest gets its admin account, keys and user data: cloud-init (default for "
     "firmware boot: a NoCloud seed disk), kumo (kumo's metadata service, as the default "
     "guest) or none (default for direct boot)",
     "provisioning"},
    {"os", 0, OPT_VALUE, "TEXT", "what it runs, shown by kumo image list (e.g. \"Ubuntu 24.04\")",
     "os"},
    {"kernel", 0, OPT_VALUE, "FILE",
     "direct boot: the kernel Image (default: the default "
     "image's)",
     "kernel"},
    {"initrd", 0, OPT_VALUE, "FILE", "direct boot: an initrd", "initrd"},
    {"kernel-args", 0, OPT_VALUE, "ARGS", "default: console=ttyS0 root=/dev/vda rw", "kernelArgs"},
    {0},
};
static const struct cmd image_create_c = {
    .name = "create",
    .summary = "Import a disk image file (operator)",
    .usage = "-n NAME --source FILE [--format F] [--boot-mode firmware|direct] [--provisioning "
             "cloud-init|kumo|none] [--os TEXT] [--kernel FILE] [--initrd FILE] [--kernel-args "
             "ARGS] [--no-wait]",
    .help = "Import a disk image from kumod's host into kumod's image store (converted to "
            "qcow2). Images are host-wide: VMs of every group can use them.\n"
            "A riscv64 Linux cloud image that follows kumo's contract (docs/images.md: it "
            "boots through U-Boot's distro boot - extlinux.conf - or EFI, its console is "
            "ttyS0, cloud-init reads a NoCloud seed disk) boots and is provisioned as the "
            "Debian image is: that is the default (firmware boot, cloud-init). With --kernel, "
            "kumo-vmm boots that kernel directly with the disk as its root file system.",
    .opts = image_create_opts,
    .run = image_create,
    .positionals = 1,
    .waits = true,
    .examples = "  kumo image create -n ubuntu-24.04 --source ubuntu-24.04-riscv64.img --os "
                "\"Ubuntu 24.04\"\n"
                "  kumo image create -n tiny --source rootfs.ext4 --kernel Image\n"};
static const struct cmd image_list_c = RES_LIST(&image, "List images", NULL);
static const struct cmd image_show_c = RES_SHOW(&image, "Show an image", image_opts);
static const struct cmd image_delete_c =
    RES_DELETE(&image, "Delete an image no VM or disk uses", image_opts);
const struct cmd cmd_image = {
    .name = "image",
    .summary = "Images VMs boot from: create (import), list, show, delete",
    .sub = (const struct cmd *const[]){&image_create_c, &image_list_c, &image_show_c,
                                       &image_delete_c, NULL},
};
