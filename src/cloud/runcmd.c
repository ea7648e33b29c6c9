/*
 * runcmd.c - run commands carried out through the guest agent on kumo-vmm's
 * virtio console (see runcmd.h): wait for the agent, send the script, wait
 * for its result, record it. Runs on a job thread without the state lock,
 * except to read and write the run's row.
 */
#include "cloud/runcmd.h"

#include "cloud/agent.h"
#include "cloud/db.h"
#include "cloud/kumod.h"
#include "cloud/paths.h"
#include "cloud/supervisor.h"
#include "cloud/timefmt.h"
#include "cloud/vmm_client.h"
#include "lib/log.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define POLL_MS  200
#define GRACE_MS 15000 /* past the script's timeout, for the agent's answer */

struct outcome {
    const char *state; /* Succeeded, TimedOut, Failed */
    int64_t exit_code; /* -1: none */
    char *out, *err;   /* NULL: none (malloc'd) */
    int64_t out_bytes, err_bytes;
    char error[512];
};

static bool vm_alive(struct kumod *k, int64_t vm)
{
    kumod_lock(k);
    bool alive = supervisor_running(k->sup, vm, NULL);
    kumod_unlock(k);
    return alive;
}

/* One request to the VM's control socket; NULL + err. */
static json_t *agent_op(const char *sock, json_t *req, char *err, size_t errlen)
{
    json_t *r = vmm_request(sock, req, 5000, err, errlen);
    json_decref(req);
    return r;
}

/* The run's outcome from its result line. */
static void from_result(const char *line, int64_t id, struct outcome *o)
{
    struct agent_result r;
    if (!agent_parse_result(line, id, &r)) {
        snprintf(o->error, sizeof(o->error), "the guest agent's answer is not understood");
        return;
    }
    o->exit_code = r.exit_code;
    o->state = r.timed_out ? "TimedOut" : "Succeeded";
    o->out_bytes = r.out_bytes;
    o->err_bytes = r.err_bytes;
    o->out = r.out;
    o->err = r.err;
    if (r.timed_out)
        snprintf(o->error, sizeof(o->error),
                 "the script ran longer than its timeout and was killed (exit status %" PRId64 ")",
                 o->exit_code);
}

/* Wait for a line starting with want (taking the lines that come), until
 * deadline (monotonic ms); every resend_ms, send `resend` again (NULL:
 * never). Returns the line (malloc'd), or NULL with why in o->error. */
static char *wait_line(struct kumod *k, int64_t vm, const char *sock, const char *want,
                       const char *resend, int64_t resend_ms, int64_t deadline, struct outcome *o)
{
    int64_t next_send = 0;
    char err[256];
    while (!atomic_load(&k->stopping)) {
        int64_t now = time_mono_ms();
        if (resend && now >= next_send) {
            json_t *r = agent_op(sock, json_pack("{s:s,s:s}", "op", "agent_send", "line", resend),
                                 err, sizeof(err));
            json_decref(r);
            next_send = now + resend_ms;
        }
        json_t *r = agent_op(sock, json_pack("{s:s}", "op", "agent_recv"), err, sizeof(err));
        size_t i;
        json_t *line;
        json_array_foreach(json_object_get(r, "lines"), i, line)
        {
            const char *s = json_string_value(line);
            if (s && !strncmp(s, want, strlen(want))) {
                char *found = strdup(s);
                json_decref(r);
                return found;
            }
        }
        json_decref(r);
        if (!vm_alive(k, vm)) {
            snprintf(o->error, sizeof(o->error), "the VM stopped while the command ran");
            return NULL;
        }
        if (time_mono_ms() >= deadline) return NULL;
        usleep(POLL_MS * 1000);
    }
    snprintf(o->error, sizeof(o->error), "kumod stopped while the command ran");
    return NULL;
}

static void record(struct kumod *k, int64_t id, const struct outcome *o)
{
    struct db *db = k->db;
    kumod_lock(k);
    int rc = db_begin(db);
    if (rc == 0)
        rc = db_exec(db,
                     "UPDATE run_commands SET state = ?, exit_code = nullif(?, -1), stdout = ?,"
                     " stderr = ?, stdout_bytes = ?, stderr_bytes = ?, error = nullif(?, ''),"
                     " ended_ms = ? WHERE id = ?",
                     "tittiitii", o->state, o->exit_code, o->out, o->err, o->out_bytes,
                     o->err_bytes, o->error, time_now_ms(), id);
    if (rc == 0) rc = db_commit(db);
    if (rc < 0) {
        db_rollback(db);
        log_error("run command %" PRId64 ": %s", id, db_errmsg(db));
    }
    kumod_changed(k);
    kumod_unlock(k);
}

void runcmd_run(struct kumod *k, int64_t id)
{
    assert(!kumod_lock_held(k));
    struct db *db = k->db;
    int64_t vm = 0, timeout_s = 0;
    char state[32] = "", *script = NULL;
    kumod_lock(k);
    sqlite3_stmt *st = db_stmt(
        db, "SELECT vm_id, timeout_s, state, script FROM run_commands WHERE id = ?", "i", id);
    if (st && sqlite3_step(st) == SQLITE_ROW) {
        vm = sqlite3_column_int64(st, 0);
        timeout_s = sqlite3_column_int64(st, 1);
        snprintf(state, sizeof(state), "%s", db_col_text(st, 2));
        script = strdup(db_col_text(st, 3));
    }
    sqlite3_finalize(st);
    bool go = !strcmp(state, "Pending") && script;
    if (go && (db_begin(db) < 0 ||
               db_exec(db, "UPDATE run_commands SET state = 'Running', started_ms = ? WHERE id = ?",
                       "ii", time_now_ms(), id) < 0 ||
               db_commit(db) < 0)) {
        db_rollback(db);
        go = false;
    }
    kumod_changed(k);
    kumod_unlock(k);
    if (!go) {
        free(script);
        return;
    }
    struct outcome o = {.state = "Failed", .exit_code = -1};
    char sock[PATH_MAX];
    path_vm_file(k, sock, vm, "control.sock");
    /* the script, base64, on one line */
    char *run = agent_run_line(id, timeout_s, script, strlen(script));
    free(script);
    if (!run) {
        snprintf(o.error, sizeof(o.error), "out of memory");
        record(k, id, &o);
        return;
    }
    char ping[64], pong[64], head[64];
    snprintf(ping, sizeof(ping), "ping %" PRId64, id);
    snprintf(pong, sizeof(pong), "kumo-agent pong %" PRId64, id);
    /* 1: the agent answers (a VM just started may still be booting) */
    char *line =
        wait_line(k, vm, sock, pong, ping, 2000, time_mono_ms() + RUNCMD_AGENT_WAIT_S * 1000LL, &o);
    if (!line) {
        if (!o.error[0])
            snprintf(o.error, sizeof(o.error),
                     "the guest agent did not answer within %d s (a guest without kumo's agent on "
                     "its virtio console, or one that has not booted yet)",
                     RUNCMD_AGENT_WAIT_S);
        free(run);
        record(k, id, &o);
        return;
    }
    free(line);
    /* 2: the script */
    char err[256];
    json_t *sent =
        agent_op(sock, json_pack("{s:s,s:s}", "op", "agent_send", "line", run), err, sizeof(err));
    free(run);
    if (!sent) {
        snprintf(o.error, sizeof(o.error), "cannot send the script to the guest: %s", err);
        record(k, id, &o);
        return;
    }
    json_decref(sent);
    /* 3: its result */
    snprintf(head, sizeof(head), "kumo-agent result %" PRId64 " ", id);
    line = wait_line(k, vm, sock, head, NULL, 0, time_mono_ms() + timeout_s * 1000 + GRACE_MS, &o);
    if (!line) {
        if (!o.error[0]) {
            o.state = "TimedOut";
            snprintf(o.error, sizeof(o.error),
                     "no result from the guest %d s after the script's timeout of %" PRId64 " s",
                     GRACE_MS / 1000, timeout_s);
        }
    } else {
        from_result(line, id, &o);
    }
    free(line);
    record(k, id, &o);
    free(o.out);
    free(o.err);
}

void runcmd_recover(struct kumod *k)
{
    assert(!kumod_lock_held(k));
    kumod_lock(k);
    struct db *db = k->db;
    if (db_begin(db) == 0 && db_exec(db,
                                     "UPDATE run_commands SET state = 'Failed', ended_ms = ?,"
                                     " error = 'kumod stopped while the command ran; run it again'"
                                     " WHERE state IN ('Pending', 'Running') AND vm_id IN"
                                     " (SELECT id FROM vms WHERE coalesce(host_id, 0) IN (0, ?))",
                                     "ii", time_now_ms(), k->host_id) == 0)
        db_commit(db);
    else
        db_rollback(db);
    kumod_unlock(k);
}
