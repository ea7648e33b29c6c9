/*
 * images.c - kumo's images as marketplace images, managed images and
 * aliases (contract in images.h):
 *
 *   GET /subscriptions/S/providers/Microsoft.Compute/locations/L/publishers
 *       .../publishers/P/artifacttypes/vmimage/offers[/O/skus[/K/versions[/V]]]
 *   GET|PUT|DELETE .../resourceGroups/G/providers/Microsoft.Compute/images/N
 *   GET /aliases.json            (no token: az fetches it without one)
 *
 * The listings are bare JSON arrays, as ARM's are for these. kumo's
 * images are host-wide: a managed image id in any resource group names
 * the kumo image of that name (so `az vm create --image NAME` finds it in
 * the VM's group); a PUT makes a kumo image from a snapshot's file, the
 * way Azure captures an image from a disk.
 */
#include "cloud/arm/images.h"

#include "cloud/arm/res.h"
#include "cloud/db.h"
#include "cloud/paths.h"
#include "cloud/provision.h"
#include "cloud/state.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define COMPUTE    "Microsoft.Compute"
#define IMAGE_TYPE COMPUTE "/images"
#define GIB        (1024ull * 1024 * 1024)

/* ---- URNs ---- */

/* Parse "P:O:S[:V]" into u; false when it is not one. */
static bool parse_urn(const char *s, struct arm_urn *u)
{
    memset(u, 0, sizeof(*u));
    char buf[400];
    snprintf(buf, sizeof(buf), "%s", s);
    char *save = NULL, *parts[4] = {0};
    int n = 0;
    for (char *t = strtok_r(buf, ":", &save); t && n < 4; t = strtok_r(NULL, ":", &save))
        parts[n++] = t;
    if (n < 3) return false;
    snprintf(u->publisher, sizeof(u->publisher), "%.79s", parts[0]);
    snprintf(u->offer, sizeof(u->offer), "%.79s", parts[1]);
    snprintf(u->sku, sizeof(u->sku), "%.79s", parts[2]);
    return true;
}

bool arm_image_urn(struct kumod *k, int64_t image_id, struct arm_urn *u)
{
    char urn[400] = "";
    memset(u, 0, sizeof(*u));
    return db_text(k->db, urn, sizeof(urn),
                   "SELECT urn FROM images WHERE id = ? AND urn IS NOT NULL", "i", image_id) &&
           parse_urn(urn, u);
}

/* Every image with a URN: ids[i] and urns[i]; the count. */
#define MAX_IMAGES 256
static size_t all_images(struct kumod *k, int64_t *ids, struct arm_urn *urns, bool ready_only)
{
    sqlite3_stmt *st =
        db_stmt(k->db, "SELECT id, state FROM images WHERE urn IS NOT NULL ORDER BY id", "");
    size_t n = 0;
    while (st && n < MAX_IMAGES && sqlite3_step(st) == SQLITE_ROW) {
        if (ready_only && strcmp(db_col_text(st, 1), PV_SUCCEEDED)) continue;
        ids[n++] = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (arm_image_urn(k, ids[i], &urns[m])) ids[m++] = ids[i];
    return m;
}

static bool version_ok(const char *v)
{
    return !v || !strcasecmp(v, "latest") || !strcmp(v, ARM_IMAGE_VERSION);
}

int64_t arm_image_resolve(struct arm_ctx *c, const json_t *ref, const char *path, struct arm_err *e)
{
    const char *id = arm_gets(ref, "id");
    if (id) {
        struct arm_id aid;
        char err[200];
        if (arm_id_parse(id, &aid, err, sizeof(err)) < 0 || !arm_id_is(&aid, IMAGE_TYPE))
            return arm_err_set(e, 400, "InvalidParameter", path,
                               "%s.id: '%.300s' is not the id of a Microsoft.Compute/images "
                               "resource (kumo serves no galleries).",
                               path, id);
        int64_t img =
            db_int(c->k->db, NULL, -1, "SELECT id FROM images WHERE name = ?", "t", aid.names[0]);
        if (img < 0)
            return arm_err_set(e, 404, "ImageNotFound", path,
                               "The platform image '%.100s' is not available: kumod has no image "
                               "of that name (az vm image list shows them).",
                               aid.names[0]);
        return img;
    }
    const char *pub = arm_gets(ref, "publisher"), *offer = arm_gets(ref, "offer"),
               *sku = arm_gets(ref, "sku"), *ver = arm_gets(ref, "version");
    if (!pub || !offer || !sku)
        return arm_err_set(e, 400, "InvalidParameter", path,
                           "%s: give publisher, offer, sku and version (or an image id).", path);
    /* the catalog's URN resolution (version: latest or ARM's one) */
    char urn[300];
    snprintf(urn, sizeof(urn), "%s:%s:%s", pub, offer, sku);
    int64_t img = version_ok(ver) ? prov_image_ref(c->k, urn) : -1;
    if (img >= 0 &&
        db_int(c->k->db, NULL, 0, "SELECT urn IS NOT NULL FROM images WHERE id = ?", "i", img))
        return img;
    return arm_err_set(e, 404, "ImageNotFound", path,
                       "The platform image '%.80s:%.80s:%.80s:%.40s' is not available: kumod "
                       "has no such image (az vm image list shows them).",
                       pub, offer, sku, ver ? ver : "latest");
}

json_t *arm_image_ref_json(struct arm_ctx *c, int64_t image_id, const char *group)
{
    struct arm_urn u;
    if (!arm_image_urn(c->k, image_id, &u)) {
        char name[80] = "", rid[ARM_ID_MAX];
        db_text(c->k->db, name, sizeof(name), "SELECT name FROM images WHERE id = ?", "i",
                image_id);
        return json_pack("{s:s}", "id",
                         arm_rid(c, rid, sizeof(rid), group, IMAGE_TYPE "/%s", name));
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "publisher", u.publisher, "offer", u.offer, "sku",
                     u.sku, "version", "latest", "exactVersion", ARM_IMAGE_VERSION);
}

/* ---- publishers, offers, skus, versions ---- */

/* The listing of one level: the distinct names at that level among the
 * images matching the parts given (NULL: any). */
static void listing(struct arm_ctx *c, const char *pub, const char *offer, const char *sku)
{
    if (!arm_check_sub(c, c->p[0])) return;
    int64_t ids[MAX_IMAGES];
    struct arm_urn urns[MAX_IMAGES];
    size_t n = all_images(c->k, ids, urns, true);
    json_t *arr = json_array();
    char base[ARM_ID_MAX];
    snprintf(base, sizeof(base), "/Subscriptions/%s/Providers/Microsoft.Compute/Locations/%s",
             c->id->subscription, c->p[1]);
    for (size_t i = 0; i < n; i++) {
        const struct arm_urn *u = &urns[i];
        if ((pub && strcasecmp(u->publisher, pub)) || (offer && strcasecmp(u->offer, offer)) ||
            (sku && strcasecmp(u->sku, sku)))
            continue;
        const char *name = !pub     ? u->publisher
                           : !offer ? u->offer
                           : !sku   ? u->sku
                                    : ARM_IMAGE_VERSION;
        bool seen = false;
        size_t j;
        json_t *el;
        json_array_foreach(arr, j, el)
        {
            if (!strcasecmp(json_string_value(json_object_get(el, "name")), name)) seen = true;
        }
        if (seen) continue;
        char id[ARM_ID_MAX * 2];
        if (!pub)
            snprintf(id, sizeof(id), "%s/Publishers/%s", base, name);
        else if (!offer)
            snprintf(id, sizeof(id), "%s/Publishers/%s/ArtifactTypes/VMImage/Offers/%s", base,
                     u->publisher, name);
        else if (!sku)
            snprintf(id, sizeof(id), "%s/Publishers/%s/ArtifactTypes/VMImage/Offers/%s/Skus/%s",
                     base, u->publisher, u->offer, name);
        else
            snprintf(id, sizeof(id),
                     "%s/Publishers/%s/ArtifactTypes/VMImage/Offers/%s/Skus/%s/Versions/%s", base,
                     u->publisher, u->offer, u->sku, name);
        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:s}", "name", name, "location", c->p[1], "id", id));
    }
    arm_reply(c, 200, arr);
}

static void publishers(struct arm_ctx *c)
{
    listing(c, NULL, NULL, NULL);
}

static void offers(struct arm_ctx *c)
{
    listing(c, c->p[2], NULL, NULL);
}

static void skus(struct arm_ctx *c)
{
    listing(c, c->p[2], c->p[3], NULL);
}

static void versions(struct arm_ctx *c)
{
    listing(c, c->p[2], c->p[3], c->p[4]);
}

static void version(struct arm_ctx *c)
{
    if (!arm_check_sub(c, c->p[0])) return;
    json_t *ref = json_pack("{s:s, s:s, s:s, s:s}", "publisher", c->p[2], "offer", c->p[3], "sku",
                            c->p[4], "version", c->p[5]);
    int64_t img = arm_image_resolve(c, ref, "version", &c->err);
    json_decref(ref);
    if (img < 0) return;
    struct arm_urn u;
    arm_image_urn(c->k, img, &u);
    int64_t bytes =
        db_int(c->k->db, NULL, 0, "SELECT size_bytes FROM images WHERE id = ?", "i", img);
    int64_t gib = (int64_t)(((uint64_t)bytes + GIB - 1) / GIB);
    char id[ARM_ID_MAX * 2];
    snprintf(id, sizeof(id),
             "/Subscriptions/%s/Providers/Microsoft.Compute/Locations/%s/Publishers/%s/"
             "ArtifactTypes/VMImage/Offers/%s/Skus/%s/Versions/%s",
             c->id->subscription, c->p[1], u.publisher, u.offer, u.sku, ARM_IMAGE_VERSION);
    arm_reply(c, 200,
              json_pack("{s:s, s:s, s:s, s:{s:s, s:{s:s, s:I}, s:[], s:{s:b}}}", "id", id, "name",
                        ARM_IMAGE_VERSION, "location", c->p[1], "properties", "hyperVGeneration",
                        "V1", "osDiskImage", "operatingSystem", "Linux", "sizeInGb",
                        (json_int_t)(gib > 0 ? gib : 1), "dataDiskImages",
                        "automaticOSUpgradeProperties", "automaticOSUpgradeSupported", 0));
}

/* ---- the alias document ---- */

static void aliases(struct arm_ctx *c)
{
    kumod_lock(c->k);
    int64_t ids[MAX_IMAGES];
    struct arm_urn urns[MAX_IMAGES];
    size_t n = all_images(c->k, ids, urns, true);
    char aliases_of[MAX_IMAGES][96];
    for (size_t i = 0; i < n; i++)
        if (!db_text(c->k->db, aliases_of[i], sizeof(aliases_of[i]),
                     "SELECT alias FROM images WHERE id = ? AND alias IS NOT NULL", "i", ids[i]))
            aliases_of[i][0] = 0;
    kumod_unlock(c->k);
    json_t *linux_ = json_object();
    for (size_t i = 0; i < n; i++) {
        const char *alias = aliases_of[i];
        json_t *entry = json_pack("{s:s, s:s, s:s, s:s, s:s}", "publisher", urns[i].publisher,
                                  "offer", urns[i].offer, "sku", urns[i].sku, "version", "latest",
                                  "architecture", "x64");
        if (alias[0]) json_object_set(linux_, alias, entry);
        /* the publisher's name: its newest image (the latest id) */
        if (strcasecmp(urns[i].publisher, "kumo"))
            json_object_set(linux_, urns[i].publisher, entry);
        json_decref(entry);
    }
    json_t *doc =
        json_pack("{s:s, s:s, s:{}, s:{}, s:[], s:{s:{s:s, s:{s:o, s:{}}}}}", "$schema",
                  "https://schema.management.azure.com/schemas/2015-01-01/deploymentTemplate.json#",
                  "contentVersion", "1.0.0.0", "parameters", "variables", "resources", "outputs",
                  "aliases", "type", "object", "value", "Linux", linux_, "Windows");
    arm_reply(c, 200, doc);
}

/* ---- managed images ---- */

static json_t *image_json(struct arm_ctx *c, int64_t img, const char *group)
{
    sqlite3_stmt *st =
        db_stmt(c->k->db, "SELECT name, size_bytes, state FROM images WHERE id = ?", "i", img);
    json_t *out = NULL;
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        char rid[ARM_ID_MAX];
        arm_rid(c, rid, sizeof(rid), group, IMAGE_TYPE "/%s", db_col_text(st, 0));
        uint64_t gib = ((uint64_t)sqlite3_column_int64(st, 1) + GIB - 1) / GIB;
        const char *state = db_col_text(st, 2);
        json_t *p =
            json_pack("{s:{s:{s:s, s:s, s:s, s:I}, s:[]}, s:s, s:s}", "storageProfile", "osDisk",
                      "osType", "Linux", "osState", "Generalized", "caching", "ReadWrite",
                      "diskSizeGB", (json_int_t)(gib ? gib : 1), "dataDisks", "provisioningState",
                      !strcmp(state, PV_SUCCEEDED) ? "Succeeded"
                      : !strcmp(state, PV_FAILED)  ? "Failed"
                                                   : "Creating",
                      "hyperVGeneration", "V1");
        out = arm_resource(rid, db_col_text(st, 0), IMAGE_TYPE, NULL, p);
    }
    sqlite3_finalize(st);
    return out;
}

static void image_get(struct arm_ctx *c)
{
    if (!arm_check_sub(c, c->p[0]) || arm_group(c, c->p[1]) < 0) return;
    int64_t img = db_int(c->k->db, NULL, -1, "SELECT id FROM images WHERE name = ?", "t", c->p[2]);
    if (img < 0) {
        arm_not_found(c, IMAGE_TYPE, c->p[2]);
        return;
    }
    arm_reply(c, 200, image_json(c, img, c->p[1]));
}

static void image_list(struct arm_ctx *c)
{
    if (!arm_check_sub(c, c->p[0]) || arm_group(c, c->p[1]) < 0) return;
    json_t *arr = json_array();
    sqlite3_stmt *st = db_stmt(c->k->db, "SELECT id FROM images ORDER BY name", "");
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        json_t *j = image_json(c, sqlite3_column_int64(st, 0), c->p[1]);
        if (j) json_array_append_new(arr, j);
    }
    sqlite3_finalize(st);
    arm_reply(c, 200, json_pack("{s:o}", "value", arr));
}

/* PUT: a new kumo image from a snapshot (storageProfile.osDisk.snapshot)
 * or an unattached disk (.managedDisk): its file is imported as the
 * image's disk; the kernel is the default image's. */
static void image_put(struct arm_ctx *c)
{
    if (!arm_check_sub(c, c->p[0])) return;
    int64_t g = arm_group(c, c->p[1]);
    if (g < 0 || arm_check_location(c, c->body) < 0) return;
    if (db_int(c->k->db, NULL, -1, "SELECT id FROM images WHERE name = ?", "t", c->p[2]) >= 0) {
        arm_err_set(&c->err, 409, "Conflict", NULL,
                    "Image '%s' already exists (kumo's images are host-wide and do not "
                    "change).",
                    c->p[2]);
        return;
    }
    struct arm_id id;
    bool present;
    char src[PATH_MAX] = "";
    if (!arm_ref(c, c->body, "properties.storageProfile.osDisk.snapshot", COMPUTE "/snapshots", &id,
                 &present, &c->err))
        return;
    if (present) {
        int64_t sg =
            db_int(c->k->db, NULL, -1, "SELECT id FROM groups WHERE name = ?", "t", id.group);
        int64_t snap = db_int(c->k->db, NULL, -1,
                              "SELECT id FROM snapshots WHERE group_id = ? AND name = ? AND"
                              " state = 'Succeeded'",
                              "it", sg, id.names[0]);
        if (snap >= 0) path_snapshot(c->k, src, snap);
    } else {
        if (!arm_ref(c, c->body, "properties.storageProfile.osDisk.managedDisk", COMPUTE "/disks",
                     &id, &present, &c->err))
            return;
        int64_t sg = present ? db_int(c->k->db, NULL, -1, "SELECT id FROM groups WHERE name = ?",
                                      "t", id.group)
                             : -1;
        int64_t disk = db_int(c->k->db, NULL, -1,
                              "SELECT id FROM disks WHERE group_id = ? AND name = ? AND vm_id IS"
                              " NULL",
                              "it", sg, id.names[0]);
        if (disk >= 0) path_disk(c->k, src, disk);
    }
    if (!src[0]) {
        arm_err_set(&c->err, 400, "InvalidParameter", "properties.storageProfile.osDisk",
                    "properties.storageProfile.osDisk: name a snapshot (snapshot.id) or a disk no "
                    "VM uses (managedDisk.id) of this kumod to make the image from.");
        return;
    }
    json_t *name = json_string(c->p[2]);
    struct kerr ke = {0};
    int rc = check_name(name, "name", &ke);
    json_decref(name);
    struct prov_image_spec s = {.name = c->p[2], .source = src, .format = "qcow2"};
    int64_t img = rc < 0 ? -1 : prov_image_create(c->k, &s, &ke);
    if (img < 0) {
        arm_fail(c, &ke);
        return;
    }
    arm_reply(c, 201, image_json(c, img, c->p[1]));
}

static void image_delete(struct arm_ctx *c)
{
    if (!arm_check_sub(c, c->p[0]) || arm_group(c, c->p[1]) < 0) return;
    struct kerr ke = {0};
    if (db_int(c->k->db, NULL, -1, "SELECT id FROM images WHERE name = ?", "t", c->p[2]) < 0) {
        arm_reply(c, 204, NULL);
        return;
    }
    if (prov_image_delete(c->k, c->p[2], &ke) < 0)
        arm_fail(c, &ke);
    else
        arm_reply(c, 200, NULL);
}

#define LOC "/subscriptions/{}/providers/Microsoft.Compute/locations/{}/publishers"
#define IMG "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Compute/images"
const struct arm_route arm_routes_images[] = {
    {"GET", LOC, (void *)publishers, 0, COMPUTE},
    {"GET", LOC "/{}/artifacttypes/vmimage/offers", (void *)offers, 0, COMPUTE},
    {"GET", LOC "/{}/artifacttypes/vmimage/offers/{}/skus", (void *)skus, 0, COMPUTE},
    {"GET", LOC "/{}/artifacttypes/vmimage/offers/{}/skus/{}/versions", (void *)versions, 0,
     COMPUTE},
    {"GET", LOC "/{}/artifacttypes/vmimage/offers/{}/skus/{}/versions/{}", (void *)version, 0,
     COMPUTE},
    {"GET", IMG, (void *)image_list, 0, IMAGE_TYPE},
    {"GET", IMG "/{}", (void *)image_get, 0, IMAGE_TYPE},
    {"PUT", IMG "/{}", (void *)image_put, 0, IMAGE_TYPE},
    {"DELETE", IMG "/{}", (void *)image_delete, 0, IMAGE_TYPE},
    {"GET", "/aliases.json", (void *)aliases, ARM_NOAUTH | ARM_NOAPI | ARM_NOLOCK, NULL},
    {NULL, NULL, NULL, 0, NULL},
};
