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

#define OPT_G(what)                                                                                \
    {                                                                                              \
        "resource-group", 'g', OPT_VALUE, "RG",                                                    \
            "the " what "'s resource group (default: "                                             \
            "$KUMO_GROUP)",                                                                        \
            NULL                                                                                   \
    }
#define OPT_GL                                                                                     \
    {                                                                                              \
        "resource-group", 'g', OPT_VALUE, "RG",                                                    \
            "only this group (default: $KUMO_GROUP, else every group)", NULL                       \
    }
#define OPT_N(what)                                                                                \
    {                                                                                              \
        "name", 'n', OPT_VALUE, "NAME", "the " what, "name"                                        \
    }

static char *gn(struct cli *c, const struct args *a, const char *what, const char *fmt,
                const char **g_out, const char **n_out)
{
    const char *g = need_group(c, a), *n = g ? need_name(c, a, what) : NULL;
    if (!n) return NULL;
    if (g_out) *g_out = g;
    if (n_out) *n_out = n;
    return upath(fmt, g, n);
}

/* ---- disks ---- */

static const char *disk_source(const json_t *d)
{
    const json_t *s = json_object_get(d, "source");
    if (js(s, "image")) return tmp("image %s", js(s, "image"));
    if (js(s, "snapshot")) return tmp("snapshot %s", js(s, "snapshot"));
    return "empty";
}

static const char *disk_user(const json_t *d)
{
    if (!js(d, "managedBy")) return NULL;
    if (jb(d, "osDisk")) return tmp("%s (OS)", js(d, "managedBy"));
    return tmp("%s (lun %lld)", js(d, "managedBy"), ji(d, "lun"));
}

static void disk_row(const json_t *d, const char **cells)
{
    const json_t *b = json_object_get(d, "billedSize");
    cells[0] = js(d, "name");
    cells[1] = js(d, "tier");
    cells[2] = tmp("%lld", ji(d, "sizeGiB"));
    cells[3] = tmp("%s (%lld GiB)", jsn(b, "name"), ji(b, "sizeGiB"));
    cells[4] = tmp("%lld", ji(d, "iops"));
    cells[5] = tmp("%lld", ji(d, "mbps"));
    cells[6] = disk_user(d);
    cells[7] = js(d, "provisioningState");
}

static const struct view disk_view = {(const char *[]){"Name", "Tier", ">SizeGiB", "BilledAs",
                                                       ">IOPS", ">MBps", "AttachedTo", "State",
                                                       NULL},
                                      disk_row};

static void disk_show(struct cli *c, const json_t *d)
{
    const json_t *b = json_object_get(d, "billedSize");
    struct table *t = kv_new();
    kv_add(t, "Name", jsn(d, "name"));
    kv_add(t, "Resource group", jsn(d, "resourceGroup"));
    kv_add(t, "Tier", jsn(d, "tier"));
    kv_add(t, "Size",
           tmp("%lld GiB (billed as %s, %lld GiB)", ji(d, "sizeGiB"), jsn(b, "name"),
               ji(b, "sizeGiB")));
    kv_add(t, "Performance",
           tmp("%lld IOPS, %lld MB/s (bursts to %lld IOPS, %lld MB/s)", ji(d, "iops"),
               ji(d, "mbps"), ji(d, "burstIops"), ji(d, "burstMbps")));
    kv_add(t, "Source", disk_source(d));
    kv_add(t, "Attached to", disk_user(d) ? disk_user(d) : "-");
    kv_add(t, "State", fmt_state(d));
    kv_add(t, "Created", fmt_time(js(d, "createdAt")));
    kv_print(t, c->out);
}

static int disk_create(struct cli *c, struct args *a)
{
    const char *g, *n;
    char *p = gn(c, a, "disk", "/resourceGroups/%s/disks", &g, &n);
    if (!p) return KX_USAGE;
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
    if (arg_str(a, "image")) json_object_set_new(body, "image", json_string(arg_str(a, "image")));
    if (arg_str(a, "snapshot"))
        json_object_set_new(body, "snapshot", json_string(arg_str(a, "snapshot")));
    json_t *d;
    int rc = api(c, "POST", p, body, &d);
    free(p);
    if (rc) return rc;
    if (c->out == OUT_JSON)
        print_json(d);
    else
        disk_show(c, d);
    json_decref(d);
    return KX_OK;
bad:
    free(p);
    return KX_USAGE;
}

static int disk_list(struct cli *c, struct args *a)
{
    return list_scoped(c, a, "disks", &disk_view);
}

static int disk_show_cmd(struct cli *c, struct args *a)
{
    char *p = gn(c, a, "disk", "/resourceGroups/%s/disks/%s", NULL, NULL);
    if (!p) return KX_USAGE;
    int rc = show_one(c, p, disk_show);
    free(p);
    return rc;
}

static int disk_update(struct cli *c, struct args *a)
{
    char *p = gn(c, a, "disk", "/resourceGroups/%s/disks/%s", NULL, NULL);
    if (!p) return KX_USAGE;
    json_t *body = json_object();
    long gb;
    int r = arg_long(c, a, "size-gb", 1, 32767, &gb);
    if (r > 0) json_object_set_new(body, "sizeGiB", json_integer(gb));
    if (arg_str(a, "sku")) json_object_set_new(body, "tier", json_string(arg_str(a, "sku")));
    if (r < 0 || !json_object_size(body)) {
        json_decref(body);
        free(p);
        return r < 0 ? KX_USAGE
                     : usage_error(c, "nothing to change: give --size-gb GIB (it can only grow) "
                                      "or --sku TIER");
    }
    json_t *d;
    int rc = api(c, "PATCH", p, body, &d);
    free(p);
    if (rc) return rc;
    if (c->out == OUT_JSON)
        print_json(d);
    else
        disk_show(c, d);
    json_decref(d);
    return KX_OK;
}

static int disk_delete(struct cli *c, struct args *a)
{
    const char *g, *n;
    char *p = gn(c, a, "disk", "/resourceGroups/%s/disks/%s", &g, &n);
    if (!p) return KX_USAGE;
    if (!arg_has(a, "yes") &&
        !confirm(tmp("Delete disk '%s' in resource group '%s' and its data?", n, g))) {
        free(p);
        return usage_error(c, "not confirmed: nothing deleted (--yes skips the question)");
    }
    int rc = delete_one(c, p, tmp("disk '%s'", n));
    free(p);
    return rc;
}

/* ---- snapshots ---- */

static void snap_row(const json_t *s, const char **cells)
{
    cells[0] = js(s, "name");
    cells[1] = js(s, "sourceDisk");
    cells[2] = tmp("%lld", ji(s, "sizeGiB"));
    cells[3] = js(s, "provisioningState");
    cells[4] = fmt_time(js(s, "createdAt"));
}

static const struct view snap_view = {
    (const char *[]){"Name", "SourceDisk", ">SizeGiB", "State", "Created (UTC)", NULL}, snap_row};

static void snap_show(struct cli *c, const json_t *s)
{
    struct table *t = kv_new();
    kv_add(t, "Name", jsn(s, "name"));
    kv_add(t, "Resource group", jsn(s, "resourceGroup"));
    kv_add(t, "Source disk", jsn(s, "sourceDisk"));
    kv_add(t, "Size", tmp("%lld GiB", ji(s, "sizeGiB")));
    kv_add(t, "State", fmt_state(s));
    kv_add(t, "Created", fmt_time(js(s, "createdAt")));
    kv_print(t, c->out);
}

static int snap_create(struct cli *c, struct args *a)
{
    const char *g, *n;
    char *coll = gn(c, a, "snapshot", "/resourceGroups/%s/snapshots", &g, &n);
    if (!coll) return KX_USAGE;
    const char *disk = need_opt(c, a, "disk", "the disk to copy");
    if (!disk) {
        free(coll);
        return KX_USAGE;
    }
    json_t *s;
    int rc = api(c, "POST", coll, json_pack("{ss ss}", "name", n, "disk", disk), &s);
    free(coll);
    if (rc) return rc;
    char *p = upath("/resourceGroups/%s/snapshots/%s", g, js(s, "name") ? js(s, "name") : n);
    json_t *final;
    rc = finish_long(c, p, s, tmp("snapshot '%s'", n), tmp("kumo snapshot show -g %s %s", g, n),
                     false, &final);
    free(p);
    if (final) {
        if (c->out == OUT_JSON)
            print_json(final);
        else
            snap_show(c, final);
    }
    json_decref(final);
    return rc;
}

static int snap_list(struct cli *c, struct args *a)
{
    return list_scoped(c, a, "snapshots", &snap_view);
}

static int snap_show_cmd(struct cli *c, struct args *a)
{
    char *p = gn(c, a, "snapshot", "/resourceGroups/%s/snapshots/%s", NULL, NULL);
    if (!p) return KX_USAGE;
    int rc = show_one(c, p, snap_show);
    free(p);
    return rc;
}

static int snap_delete(struct cli *c, struct args *a)
{
    const char *n;
    char *p = gn(c, a, "snapshot", "/resourceGroups/%s/snapshots/%s", NULL, &n);
    if (!p) return KX_USAGE;
    int rc = delete_one(c, p, tmp("snapshot '%s'", n));
    free(p);
    return rc;
}

/* ---- images ---- */

static void image_row(const json_t *i, const char **cells)
{
    cells[0] = js(i, "name");
    cells[1] = js(i, "bootMode");
    cells[2] = tmp("%lld", ji(i, "sizeGiB"));
    cells[3] = js(i, "format");
    cells[4] = jb(i, "builtin") ? "yes" : "no";
    cells[5] = js(i, "provisioningState");
}

static const struct view image_view = {
    (const char *[]){"Name", "BootMode", ">MinDiskGiB", "Format", "BuiltIn", "State", NULL},
    image_row};

static void image_show(struct cli *c, const json_t *i)
{
    struct table *t = kv_new();
    kv_add(t, "Name", jsn(i, "name"));
    kv_add(t, "Boot mode",
           strcmp(jsn(i, "bootMode"), "direct") == 0
               ? "direct (kumo-vmm loads the kernel; the disk is the root file system)"
               : tmp("%s (OpenSBI and U-Boot boot what the disk holds)", jsn(i, "bootMode")));
    if (js(i, "kernel")) kv_add(t, "Kernel", js(i, "kernel"));
    if (js(i, "initrd")) kv_add(t, "Initrd", js(i, "initrd"));
    if (js(i, "kernelArgs")) kv_add(t, "Kernel args", js(i, "kernelArgs"));
    kv_add(t, "Disk",
           tmp("%s, %lld bytes (OS disks of at least %lld GiB)", jsn(i, "format"),
               ji(i, "sizeBytes"), ji(i, "sizeGiB")));
    kv_add(t, "Source", jsn(i, "source"));
    kv_add(t, "Built in", jb(i, "builtin") ? "yes" : "no");
    kv_add(t, "State", fmt_state(i));
    kv_add(t, "Created", fmt_time(js(i, "createdAt")));
    kv_print(t, c->out);
}

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
    return tmp("%s", buf);
}

static int image_create(struct cli *c, struct args *a)
{
    const char *n = need_name(c, a, "image");
    if (!n) return KX_USAGE;
    if (!need_opt(c, a, "source", "the disk image file to import (raw, qcow2, vhd or vmdk)"))
        return KX_USAGE;
    bool bad = false;
    const char *src = abs_file(c, a, "source", &bad);
    const char *kernel = abs_file(c, a, "kernel", &bad);
    const char *initrd = abs_file(c, a, "initrd", &bad);
    if (bad) return KX_USAGE;
    json_t *body = json_pack("{ss ss}", "name", n, "source", src);
    if (arg_str(a, "format"))
        json_object_set_new(body, "format", json_string(arg_str(a, "format")));
    if (arg_str(a, "boot-mode"))
        json_object_set_new(body, "bootMode", json_string(arg_str(a, "boot-mode")));
    if (kernel) json_object_set_new(body, "kernel", json_string(kernel));
    if (initrd) json_object_set_new(body, "initrd", json_string(initrd));
    if (arg_str(a, "kernel-args"))
        json_object_set_new(body, "kernelArgs", json_string(arg_str(a, "kernel-args")));
    json_t *img;
    int rc = api(c, "POST", "/images", body, &img);
    if (rc) return rc;
    char *p = upath("/images/%s", js(img, "name") ? js(img, "name") : n);
    json_t *final;
    rc = finish_long(c, p, img, tmp("image '%s'", n), tmp("kumo image show %s", n), false, &final);
    free(p);
    if (final) {
        if (c->out == OUT_JSON)
            print_json(final);
        else
            image_show(c, final);
    }
    json_decref(final);
    return rc;
}

static int image_list(struct cli *c, struct args *a)
{
    (void)a;
    return list_path(c, "/images", &image_view);
}

static int image_show_cmd(struct cli *c, struct args *a)
{
    const char *n = need_name(c, a, "image");
    if (!n) return KX_USAGE;
    char *p = upath("/images/%s", n);
    int rc = show_one(c, p, image_show);
    free(p);
    return rc;
}

static int image_delete(struct cli *c, struct args *a)
{
    const char *n = need_name(c, a, "image");
    if (!n) return KX_USAGE;
    char *p = upath("/images/%s", n);
    int rc = delete_one(c, p, tmp("image '%s'", n));
    free(p);
    return rc;
}

/* ---- command tables ---- */

static const struct opt disk_gn[] = {OPT_G("disk"), OPT_N("disk"), {0}};
static const struct opt disk_list_opts[] = {OPT_GL, {0}};
static const struct opt disk_create_opts[] = {
    OPT_G("disk"),
    OPT_N("new disk"),
    {"size-gb", 0, OPT_VALUE, "GIB",
     "size, 1-32767 GiB (from an image or snapshot: at least "
     "its size; default: its size)",
     "sizeGiB"},
    {"sku", 0, OPT_VALUE, "TIER", "Standard_HDD, Standard_SSD (default) or Premium_SSD", "tier"},
    {"image", 0, OPT_VALUE, "IMAGE", "start as a copy of this image", "image"},
    {"snapshot", 0, OPT_VALUE, "SNAPSHOT", "start as a copy of this snapshot", "snapshot"},
    {0},
};
static const struct opt disk_update_opts[] = {
    OPT_G("disk"),
    OPT_N("disk"),
    {"size-gb", 0, OPT_VALUE, "GIB", "the new size (disks only grow)", "sizeGiB"},
    {"sku", 0, OPT_VALUE, "TIER", "the new tier", "tier"},
    {0},
};
static const struct opt disk_delete_opts[] = {
    OPT_G("disk"),
    OPT_N("disk"),
    {"yes", 'y', OPT_FLAG, NULL, "do not ask (kumo asks only on a terminal)", NULL},
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
static const struct cmd disk_list_c = {.name = "list",
                                       .summary = "List disks with their tier, speed and VM",
                                       .usage = "[-g RG]",
                                       .opts = disk_list_opts,
                                       .run = disk_list};
static const struct cmd disk_show_c = {.name = "show",
                                       .summary = "Show a disk",
                                       .usage = "-g RG -n NAME",
                                       .opts = disk_gn,
                                       .run = disk_show_cmd,
                                       .positionals = 1};
static const struct cmd disk_update_c = {
    .name = "update",
    .summary = "Grow a disk or change its tier",
    .usage = "-g RG -n NAME [--size-gb GIB] [--sku TIER]",
    .help = "Grow a disk or move it to another tier. A disk of a VM that runs cannot change: "
            "stop or deallocate the VM first (the new limits apply at its next start).",
    .opts = disk_update_opts,
    .run = disk_update,
    .positionals = 1};
static const struct cmd disk_delete_c = {.name = "delete",
                                         .summary = "Delete a disk no VM uses",
                                         .usage = "-g RG -n NAME [--yes]",
                                         .opts = disk_delete_opts,
                                         .run = disk_delete,
                                         .positionals = 1};
const struct cmd cmd_disk = {
    .name = "disk",
    .summary = "Managed disks: create, list, show, update, delete",
    .help = "Managed disks in three tiers: Standard_HDD (cheapest, for backups), Standard_SSD "
            "(balanced) and Premium_SSD (fast, for databases). Billed per GiB-month of their "
            "billed size while they exist.",
    .sub = (const struct cmd *const[]){&disk_create_c, &disk_list_c, &disk_show_c, &disk_update_c,
                                       &disk_delete_c, NULL},
};

static const struct opt snap_gn[] = {OPT_G("snapshot"), OPT_N("snapshot"), {0}};
static const struct opt snap_list_opts[] = {OPT_GL, {0}};
static const struct opt snap_create_opts[] = {
    OPT_G("snapshot"),
    OPT_N("new snapshot"),
    {"disk", 0, OPT_VALUE, "DISK", "the disk to copy (its VM must not be running)", "disk"},
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
static const struct cmd snap_list_c = {.name = "list",
                                       .summary = "List snapshots",
                                       .usage = "[-g RG]",
                                       .opts = snap_list_opts,
                                       .run = snap_list};
static const struct cmd snap_show_c = {.name = "show",
                                       .summary = "Show a snapshot",
                                       .usage = "-g RG -n NAME",
                                       .opts = snap_gn,
                                       .run = snap_show_cmd,
                                       .positionals = 1};
static const struct cmd snap_delete_c = {.name = "delete",
                                         .summary = "Delete a snapshot",
                                         .usage = "-g RG -n NAME",
                                         .opts = snap_gn,
                                         .run = snap_delete,
                                         .positionals = 1};
const struct cmd cmd_snapshot = {
    .name = "snapshot",
    .summary = "Disk snapshots: create, list, show, delete",
    .sub = (const struct cmd *const[]){&snap_create_c, &snap_list_c, &snap_show_c, &snap_delete_c,
                                       NULL},
};

static const struct opt image_n[] = {OPT_N("image"), {0}};
static const struct opt image_create_opts[] = {
    OPT_N("new image"),
    {"source", 0, OPT_VALUE, "FILE", "the disk image file on kumod's host (raw, qcow2, vhd, vmdk)",
     "source"},
    {"format", 0, OPT_VALUE, "FORMAT", "auto (default), raw, qcow2, vhd or vmdk", "format"},
    {"boot-mode", 0, OPT_VALUE, "MODE",
     "direct (default: kumo-vmm loads --kernel, the disk is the root) or firmware (OpenSBI "
     "and U-Boot boot the disk, as for a distribution's riscv64 cloud image)",
     "bootMode"},
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
    .usage = "-n NAME --source FILE [--format F] [--boot-mode direct|firmware] [--kernel FILE] "
             "[--initrd FILE] [--kernel-args ARGS] [--no-wait]",
    .help = "Import a disk image from kumod's host into kumod's image store (converted to "
            "qcow2). Images are host-wide: VMs of every group can use them.",
    .opts = image_create_opts,
    .run = image_create,
    .positionals = 1,
    .waits = true,
    .examples = "  kumo image create -n debian --source debian-12-riscv64.qcow2 --boot-mode "
                "firmware\n"};
static const struct cmd image_list_c = {
    .name = "list", .summary = "List images", .run = image_list};
static const struct cmd image_show_c = {.name = "show",
                                        .summary = "Show an image",
                                        .usage = "-n NAME",
                                        .opts = image_n,
                                        .run = image_show_cmd,
                                        .positionals = 1};
static const struct cmd image_delete_c = {.name = "delete",
                                          .summary = "Delete an image no VM or disk uses",
                                          .usage = "-n NAME",
                                          .opts = image_n,
                                          .run = image_delete,
                                          .positionals = 1};
const struct cmd cmd_image = {
    .name = "image",
    .summary = "Images VMs boot from: create (import), list, show, delete",
    .sub = (const struct cmd *const[]){&image_create_c, &image_list_c, &image_show_c,
                                       &image_delete_c, NULL},
};
