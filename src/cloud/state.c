/*
 * state.c - VM state changes with their history and meters (see state.h).
 */
#include "cloud/state.h"

#include "cloud/billing.h"
#include "cloud/db.h"

#include <stdio.h>
#include <string.h>

static bool in(const char *s, const char *const *set)
{
    for (; *set; set++)
        if (strcmp(s, *set) == 0) return true;
    return false;
}

bool power_billed(const char *power)
{
    static const char *const billed[] = {PS_STARTING, PS_RUNNING, PS_STOPPING, PS_STOPPED, NULL};
    return power && in(power, billed);
}

bool power_allocated(const char *power)
{
    return power && strcmp(power, PS_DEALLOCATED) != 0;
}

bool power_has_process(const char *power)
{
    static const char *const running[] = {PS_STARTING, PS_RUNNING, PS_STOPPING, PS_DEALLOCATING,
                                          NULL};
    return power && in(power, running);
}

static int record(struct db *db, int64_t vm_id, const char *message, int64_t at_ms)
{
    char power[32], prov[32], size[80];
    if (!db_text(db, power, sizeof(power), "SELECT power_state FROM vms WHERE id = ?", "i", vm_id))
        return -1;
    db_text(db, prov, sizeof(prov), "SELECT prov_state FROM vms WHERE id = ?", "i", vm_id);
    db_text(db, size, sizeof(size),
            "SELECT s.name FROM vms v JOIN sizes s ON s.id = v.size_id WHERE v.id = ?", "i", vm_id);
    if (db_exec(db,
                "INSERT INTO vm_events (vm_id, at_ms, power_state, prov_state, size, message)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                "iitttt", vm_id, at_ms, power, prov, size, message ? message : "") < 0)
        return -1;
    return billing_vm_sync(db, vm_id, power_billed(power), at_ms);
}

int vm_set_state(struct db *db, int64_t vm_id, const char *power, const char *prov,
                 const char *message, int64_t at_ms)
{
    if (db_exec(db,
                "UPDATE vms SET power_state = coalesce(?, power_state),"
                " prov_state = coalesce(?, prov_state), updated_ms = ? WHERE id = ?",
                "ttii", power, prov, at_ms, vm_id) < 0)
        return -1;
    return record(db, vm_id, message, at_ms);
}

int vm_note(struct db *db, int64_t vm_id, const char *message, int64_t at_ms)
{
    if (db_exec(db, "UPDATE vms SET updated_ms = ? WHERE id = ?", "ii", at_ms, vm_id) < 0)
        return -1;
    return record(db, vm_id, message, at_ms);
}
