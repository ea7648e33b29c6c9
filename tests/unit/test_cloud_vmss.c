/*
 * test_cloud_vmss.c - the scale set controller (src/cloud/vmss.c), one step
 * at a time (vmss_reconcile, as its thread runs it every half second), with
 * the real job queue and VM supervision and tests/unit/fake_vmm (argv[1])
 * as kumo-vmm: instances made to capacity from the model (names, index,
 * model version, tags, the set's network); scale-in victims (the highest
 * index, but first the ones not Running); a rolling update with a surge of
 * one; an instance name taken by another VM (skipped, recorded); a model
 * that does not fit (recorded, nothing made); the set's delete; the OS
 * profile each instance gets (and images that cannot take it).
 */
#include "cloud/provision.h"
#include "cloud/vmss.h"

#include "cloud_fixture.h"

#include <inttypes.h>
#include <signal.h>

static int64_t set_id;

static void reconcile(struct fixture *f)
{
    kumod_lock(&f->k);
    vmss_reconcile(&f->k, set_id);
    kumod_unlock(&f->k);
}

/* The set's instances, by index, as "name:model:power" words. */
static void instances(struct fixture *f, char *out, size_t len)
{
    out[0] = 0;
    kumod_lock(&f->k);
    sqlite3_stmt *st = db_stmt(f->k.db,
                               "SELECT name, model_version, power_state FROM vms WHERE vmss_id = ?"
                               " ORDER BY vmss_index",
                               "i", set_id);
    size_t n = 0;
    while (st && sqlite3_step(st) == SQLITE_ROW && n < len)
        n += (size_t)snprintf(out + n, len - n, "%s%s:%lld:%s", n ? " " : "", db_col_text(st, 0),
                              (long long)sqlite3_column_int64(st, 1), db_col_text(st, 2));
    sqlite3_finalize(st);
    kumod_unlock(&f->k);
}

/* Wait until the set's instances are exactly want (see instances()). */
static bool wait_instances(struct fixture *f, const char *want)
{
    char got[512];
    for (int i = 0; i < 750; i++) {
        instances(f, got, sizeof(got));
        if (!strcmp(got, want)) return true;
        usleep(20000);
    }
    printf("  instances: '%s', want '%s'\n", got, want);
    return false;
}

static void set_capacity(struct fixture *f, int64_t n)
{
    struct kerr e = {0};
    kumod_lock(&f->k);
    CHECK(prov_vmss_scale(&f->k, f->group, "ss", n, &e) == set_id, "scale to %lld: %s",
          (long long)n, e.message);
    kumod_unlock(&f->k);
}

static void last_error(struct fixture *f, char *buf, size_t len)
{
    kumod_lock(&f->k);
    db_text(f->k.db, buf, len, "SELECT coalesce(last_error, '') FROM vmss WHERE id = ?", "i",
            set_id);
    kumod_unlock(&f->k);
}

static void scale_out_and_in(struct fixture *f)
{
    struct kerr e = {0};
    struct prov_vmss_spec s = {.name = "ss", .size = "Small", .capacity = 2, .probe_interval = 5};
    kumod_lock(&f->k);
    set_id = prov_vmss_create(&f->k, f->group, &s, &e);
    CHECK(set_id > 0, "create: %s", e.message);
    CHECK(count(f, "SELECT count(*) FROM vms") == 0, "the create itself makes no instance");
    vmss_reconcile(&f->k, set_id);
    CHECK(count(f, "SELECT count(*) FROM vms WHERE op = 'create'") == 2, "two creates");
    CHECK(count(f, "SELECT count(*) FROM vms v JOIN nics n ON n.vm_id = v.id"
                   " JOIN nsgs g ON g.id = n.nsg_id JOIN subnets s ON s.id = n.subnet_id"
                   " JOIN vnets w ON w.id = s.vnet_id WHERE g.name = 'ss-nsg'"
                   " AND w.name = 'ss-vnet' AND v.tags = '{\"kumo.scaleSet\":\"ss\"}'") == 2,
          "on the set's network and NSG, tagged with the set");
    CHECK(count(f, "SELECT next_index FROM vmss") == 2, "the next index");
    kumod_unlock(&f->k);
    CHECK(wait_instances(f, "ss_0:1:Running ss_1:1:Running"), "two instances running");
    reconcile(f);
    CHECK(wait_instances(f, "ss_0:1:Running ss_1:1:Running"), "at capacity: nothing changes");
    /* an error of the past (a failed scale) goes once the set is healthy */
    kumod_lock(&f->k);
    db_exec(f->k.db, "UPDATE vmss SET last_error = 'cannot create instance ss_9: no room'", "");
    kumod_unlock(&f->k);
    reconcile(f);
    char err[900];
    last_error(f, err, sizeof(err));
    CHECK(!err[0], "a healthy set clears its error (%s)", err);

    set_capacity(f, 1);
    reconcile(f);
    CHECK(wait_instances(f, "ss_0:1:Running"), "scale-in deletes the highest index");
}

static void rolling_update(struct fixture *f)
{
    struct kerr e = {0};
    kumod_lock(&f->k);
    CHECK(prov_vmss_update(&f->k, f->group, "ss", NULL, NULL, true, "aGVsbG8=", NULL, &e) == set_id,
          "update: %s", e.message);
    CHECK(count(f, "SELECT model_version FROM vmss") == 2, "a new model");
    kumod_unlock(&f->k);
    reconcile(f);
    CHECK(wait_instances(f, "ss_0:1:Running ss_2:2:Running"), "a surge of one on the new model");
    reconcile(f);
    CHECK(wait_instances(f, "ss_2:2:Running"), "then the old one goes");
    kumod_lock(&f->k);
    CHECK(count(f, "SELECT count(*) FROM vms WHERE user_data = 'aGVsbG8='") == 1,
          "the new instance has the new model's user data");
    kumod_unlock(&f->k);
}

static void victims(struct fixture *f)
{
    set_capacity(f, 3);
    reconcile(f);
    CHECK(wait_instances(f, "ss_2:2:Running ss_3:2:Running ss_4:2:Running"), "three");
    struct kerr e = {0};
    bool begun;
    kumod_lock(&f->k);
    CHECK(prov_vm_stop(&f->k, f->group, "ss_2", true, &begun, &e) > 0, "stop: %s", e.message);
    kumod_unlock(&f->k);
    CHECK(wait_instances(f, "ss_2:2:Stopped ss_3:2:Running ss_4:2:Running"), "ss_2 stopped");
    set_capacity(f, 2);
    reconcile(f);
    CHECK(wait_instances(f, "ss_3:2:Running ss_4:2:Running"),
          "the instance that is not Running goes first, whatever its index");
}

static void refusals(struct fixture *f)
{
    /* a VM outside the set holds the next instance's name */
    struct kerr e = {0};
    struct prov_vm_spec other = {.name = "ss_5", .size = "Small"};
    struct prov_tx t;
    kumod_lock(&f->k);
    CHECK(prov_begin(&t, &f->k, &e) == 0 && prov_vm_insert(&t, f->group, &other) > 0 &&
              prov_commit(&t) == 0,
          "ss_5 outside the set: %s", e.message);
    kumod_unlock(&f->k);
    set_capacity(f, 3);
    reconcile(f);
    char err[900];
    last_error(f, err, sizeof(err));
    CHECK(strstr(err, "cannot create instance ss_5") && strstr(err, "already exists"), "%s", err);
    reconcile(f);
    CHECK(wait_instances(f, "ss_3:2:Running ss_4:2:Running ss_6:2:Running"),
          "the taken index is skipped");
    last_error(f, err, sizeof(err));
    CHECK(!err[0], "a success clears the error (%s)", err);

    /* a model that does not fit the host */
    kumod_lock(&f->k);
    CHECK(prov_vmss_update(&f->k, f->group, "ss", "Big", NULL, false, NULL, NULL, &e) == set_id,
          "update to Big: %s", e.message);
    kumod_unlock(&f->k);
    reconcile(f);
    last_error(f, err, sizeof(err));
    CHECK(strstr(err, "cannot create instance ss_7") && strstr(err, "vCPUs short by"), "%s", err);
    CHECK(wait_instances(f, "ss_3:2:Running ss_4:2:Running ss_6:2:Running"),
          "nothing made, nothing deleted: the update halts");
    kumod_lock(&f->k);
    CHECK(count(f, "SELECT next_index FROM vmss") == 7, "the index is kept for the next try");
    /* a scale out that cannot fit is refused up front: 4 Big instances
     * (8 vCPUs each) on a host of 4 */
    e = (struct kerr){0};
    CHECK(prov_vmss_scale(&f->k, f->group, "ss", 4, &e) < 0 && e.status == 409 &&
              !strcmp(e.code, "CapacityExceeded") && strstr(e.message, "does not fit") &&
              strstr(e.message, "capacity can be at most 3"),
          "too many: %s", e.message);
    CHECK(count(f, "SELECT capacity FROM vmss") == 3 && count(f, "SELECT count(*) FROM vms") == 4,
          "nothing changed, nothing made");
    kumod_unlock(&f->k);
}

static void delete_set(struct fixture *f)
{
    struct kerr e = {0};
    kumod_lock(&f->k);
    CHECK(prov_vmss_delete(&f->k, f->group, "ss", &e) == set_id, "delete: %s", e.message);
    e = (struct kerr){0};
    CHECK(prov_vmss_scale(&f->k, f->group, "ss", 5, &e) < 0 && !strcmp(e.code, "InvalidState"),
          "a set being deleted cannot scale: %s", e.message);
    kumod_unlock(&f->k);
    reconcile(f);
    CHECK(wait_instances(f, ""), "its instances go");
    reconcile(f);
    CHECK(wait_count(f, "SELECT count(*) FROM vmss", 0, 5000), "then the set");
    kumod_lock(&f->k);
    CHECK(prov_vm_delete(&f->k, f->group, "ss_5", PROV_DISKS_OWNED, &e) > 0, "ss_5: %s", e.message);
    kumod_unlock(&f->k);
    CHECK(wait_count(f, "SELECT count(*) FROM vms", 0, 15000), "no VM left");
}

/* A set's OS profile: every instance gets the set's admin account, its SSH
 * keys and its password's hash (never the password); an image whose
 * provisioning cannot take it is refused, at the create (nothing made) and
 * as a model's new image. */
static void os_profiles(struct fixture *f)
{
    static const char *const keys[] = {
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOz7q3fQ9rN1tqH6x5p0mJ4y8zq2Xl3bV0k1w2e3r4t5 a@b"};
    struct prov_vmss_spec s = {.name = "adm",
                               .size = "Small",
                               .capacity = 1,
                               .probe_interval = 5,
                               .admin_username = "azureuser",
                               .ssh_keys = keys,
                               .nkeys = 1,
                               .admin_password = "Sup3r-secret!"};
    struct kerr e = {0};
    kumod_lock(&f->k);
    db_exec(f->k.db, "UPDATE images SET provisioning = 'none'", "");
    CHECK(prov_vmss_create(&f->k, f->group, &s, &e) < 0 &&
              !strcmp(e.target, "osProfile.adminUsername"),
          "an image provisioned by nothing cannot make the account: %s", e.message);
    CHECK(count(f, "SELECT count(*) FROM vmss") == 0, "nothing made");
    db_exec(f->k.db, "UPDATE images SET provisioning = 'kumo'", "");
    e = (struct kerr){0};
    CHECK(prov_vmss_create(&f->k, f->group, &s, &e) < 0 &&
              !strcmp(e.target, "osProfile.adminPassword"),
          "kumo's guest takes no password: %s", e.message);
    db_exec(f->k.db, "UPDATE images SET provisioning = 'cloud-init'", "");
    e = (struct kerr){0};
    set_id = prov_vmss_create(&f->k, f->group, &s, &e);
    CHECK(set_id > 0, "create with an admin account: %s", e.message);
    CHECK(count(f, "SELECT count(*) FROM vmss WHERE admin_username = 'azureuser'"
                   " AND json_array_length(ssh_keys) = 1 AND admin_pw_hash LIKE '$6$%'"
                   " AND instr(admin_pw_hash, 'Sup3r') = 0") == 1,
          "the set keeps the account, the key and a hash of the password");
    vmss_reconcile(&f->k, set_id);
    CHECK(count(f, "SELECT count(*) FROM vms v JOIN vmss s ON s.id = v.vmss_id"
                   " WHERE v.admin_username = s.admin_username AND v.ssh_keys = s.ssh_keys"
                   " AND v.admin_pw_hash = s.admin_pw_hash") == 1,
          "its instance has the set's admin account");
    /* a model whose new image cannot take the account */
    int64_t now = time_now_ms();
    db_exec(f->k.db,
            "INSERT INTO images (name, boot_mode, kernel, kernel_args, src_format, path,"
            " size_bytes, source, state, created_ms, provisioning) SELECT 'plain', boot_mode,"
            " kernel, kernel_args, src_format, path, size_bytes, source, state, ?, 'none'"
            " FROM images WHERE name = 'default'",
            "i", now);
    e = (struct kerr){0};
    CHECK(prov_vmss_update(&f->k, f->group, "adm", NULL, "plain", false, NULL, NULL, &e) < 0 &&
              !strcmp(e.target, "osProfile.adminUsername"),
          "a new image without provisioning: %s", e.message);
    CHECK(count(f, "SELECT model_version FROM vmss") == 1, "the model unchanged");
    kumod_unlock(&f->k);
    CHECK(wait_instances(f, "adm_0:1:Running"), "the instance runs");
    e = (struct kerr){0};
    kumod_lock(&f->k);
    CHECK(prov_vmss_delete(&f->k, f->group, "adm", &e) == set_id, "delete: %s", e.message);
    kumod_unlock(&f->k);
    reconcile(f);
    CHECK(wait_instances(f, ""), "its instance goes");
    reconcile(f);
    CHECK(wait_count(f, "SELECT count(*) FROM vmss", 0, 5000), "then the set");
}

int main(int argc, char **argv)
{
    struct fixture f;
    if (!fixture_start_vms(&f, argc, argv)) return 1;
    scale_out_and_in(&f);
    rolling_update(&f);
    victims(&f);
    refusals(&f);
    delete_set(&f);
    os_profiles(&f);
    fixture_stop(&f);
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
