/*
 * prov_host.c - the provisioning layer's hosts (provision.h, cluster mode:
 * docs/cluster.md): draining a host and taking it back. The leader moves a
 * draining host's VMs (src/cloud/cluster/heal.c); here only the state is
 * recorded.
 */
#include "cloud/provision.h"

#include "cloud/db.h"
#include "cloud/kumod.h"
#include "cloud/timefmt.h"

#include <assert.h>
#include <string.h>

int64_t prov_host_drain(struct kumod *k, const char *name, bool drain, struct kerr *e)
{
    assert(kumod_lock_held(k));
    struct prov_tx t;
    if (prov_begin(&t, k, e) < 0) return -1;
    char state[16] = "";
    int64_t id = db_int(k->db, NULL, -1, "SELECT id FROM hosts WHERE name = ?", "t", name);
    db_text(k->db, state, sizeof(state), "SELECT state FROM hosts WHERE id = ?", "i", id);
    if (id < 0) {
        prov_abort(&t);
        return kerr_notfound(e, "host '%.64s' not found (kumo host list)", name);
    }
    if (!strcmp(state, "Down")) {
        prov_abort(&t);
        return kerr_conflict(e, "InvalidState",
                             "host '%s' is Down: its VMs are handled as a failed host's; it takes "
                             "VMs again when it is back",
                             name);
    }
    const char *want = drain ? "Draining" : "Up";
    if (strcmp(state, want) != 0 &&
        db_exec(k->db, "UPDATE hosts SET state = ?, state_ms = ? WHERE id = ?", "tii", want,
                time_now_ms(), id) < 0) {
        prov_db_error(&t, NULL);
        prov_abort(&t);
        return -1;
    }
    if (prov_commit(&t) < 0) return -1;
    return id;
}
