/*
 * runcmd.c - ARM's run command on kumod's VMs (az vm run-command invoke):
 *
 *   POST .../virtualMachines/N/runCommand
 *        {"commandId": "RunShellScript", "script": [lines],
 *         "parameters": [{"name", "value"}]}
 *   POST .../virtualMachineScaleSets/S/virtualMachines/I/runCommand
 *        the same in instance I of scale set S (az vmss run-command invoke)
 *
 * answers 202 with an operation that ends when the run does; its result
 * (the Location URL, az's final state for this POST) is a RunCommandResult
 * as Azure's Linux agent gives it: {"value": [{"code":
 * "ProvisioningState/succeeded", "level": "Info", "displayStatus",
 * "message": "Enable succeeded: \n[stdout]\n...\n[stderr]\n..."}]}.
 *
 * The run is kumo's own (prov_vm_run_command, runcmd.h): the script runs as
 * root through the guest's agent, one run per VM at a time, killed after
 * an hour, and shows in `kumo vm run-command list` too. The parameters are
 * the script's positional arguments in order ($1, $2: az names unnamed
 * ones arg1, arg2), and those whose name is a shell variable name are also
 * in its environment. A script that exits non-zero still "succeeds", as
 * Azure's does (its output says what happened); a run that could not
 * start (no agent answered, the VM stopped) or was killed fails.
 */
#include "cloud/arm/ops.h"
#include "cloud/arm/res.h"
#include "cloud/db.h"
#include "cloud/provision.h"
#include "cloud/runcmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define COMPUTE "Microsoft.Compute"
#define VM_TYPE COMPUTE "/virtualMachines"
/* Azure's limit is 90 minutes; kumo's run commands stop at an hour */
#define ARM_RUN_TIMEOUT_S 3600

/* s single-quoted for sh */
static void put_quoted(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++)
        if (*s == '\'')
            fputs("'\\''", f);
        else
            fputc(*s, f);
    fputc('\'', f);
}

static bool shell_name(const char *s)
{
    if (!*s || (*s >= '0' && *s <= '9')) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_'))
            return false;
    return true;
}

/* The script kumo runs: the parameters set, then the lines. NULL with
 * c->err. */
static char *build_script(struct arm_ctx *c)
{
    const json_t *id = json_object_get(c->body, "commandId");
    if (!json_is_string(id)) {
        arm_err_set(&c->err, 400, "InvalidParameter", "commandId",
                    "commandId: missing; kumo's VMs run 'RunShellScript' (a shell script, "
                    "az vm run-command invoke --command-id RunShellScript --scripts ...).");
        return NULL;
    }
    if (strcasecmp(json_string_value(id), "RunShellScript")) {
        arm_err_set(&c->err, 400, "InvalidParameter", "commandId",
                    "commandId: '%.60s' is not a command of kumo's Linux VMs; use "
                    "'RunShellScript' with the commands as --scripts.",
                    json_string_value(id));
        return NULL;
    }
    const json_t *lines = json_object_get(c->body, "script");
    const json_t *params = json_object_get(c->body, "parameters");
    if (lines && !json_is_array(lines)) lines = NULL;
    if (!lines || !json_array_size(lines)) {
        arm_err_set(&c->err, 400, "InvalidParameter", "script",
                    "script: no commands given (az vm run-command invoke ... --scripts "
                    "'COMMAND' ['COMMAND' ...]).");
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        arm_err_set(&c->err, 500, "InternalServerError", NULL, "out of memory");
        return NULL;
    }
    size_t i;
    const json_t *p;
    if (json_is_array(params) && json_array_size(params)) {
        json_array_foreach(params, i, p) {
            const char *name = json_string_value(json_object_get(p, "name"));
            const char *value = json_string_value(json_object_get(p, "value"));
            if (name && shell_name(name)) {
                fprintf(f, "export %s=", name);
                put_quoted(f, value ? value : "");
                fputc('\n', f);
            }
        }
        fputs("set --", f);
        json_array_foreach(params, i, p) {
            const char *value = json_string_value(json_object_get(p, "value"));
            fputc(' ', f);
            put_quoted(f, value ? value : "");
        }
        fputc('\n', f);
    }
    json_array_foreach(lines, i, p) {
        const char *s = json_string_value(p);
        if (!s) {
            fclose(f);
            free(buf);
            arm_err_set(&c->err, 400, "InvalidParameter", "script",
                        "script[%zu]: not a string; each element is one line of the script.", i);
            return NULL;
        }
        fprintf(f, "%s\n", s);
    }
    bool failed = ferror(f) != 0;
    if (fclose(f) != 0) failed = true;
    if (failed) {
        free(buf);
        arm_err_set(&c->err, 500, "InternalServerError", NULL, "out of memory");
        return NULL;
    }
    return buf;
}

/* Run the body's script in VM vm of group g and answer the operation. */
static void run_in(struct arm_ctx *c, int64_t g, const char *vm)
{
    char *script = build_script(c);
    if (!script) return;
    struct kerr ke = {0};
    int64_t id = prov_vm_run_command(c->k, g, vm, script, ARM_RUN_TIMEOUT_S, &ke);
    free(script);
    if (id < 0) {
        arm_fail(c, &ke);
        return;
    }
    arm_reply_op(c, 202, "vm-runcmd", COMPUTE, id, NULL);
}

static void vm_run_command(struct arm_ctx *c)
{
    if (!arm_check_sub(c, c->p[0])) return;
    int64_t g = arm_group(c, c->p[1]);
    if (g >= 0) run_in(c, g, c->p[2]);
}

/* An instance is a VM of kumo's (NAME_INDEX), found by its set and index. */
static void vmss_vm_run_command(struct arm_ctx *c)
{
    if (!arm_check_sub(c, c->p[0])) return;
    int64_t g = arm_group(c, c->p[1]);
    if (g < 0) return;
    char vm[128] = "";
    db_text(c->k->db, vm, sizeof(vm),
            "SELECT v.name FROM vms v JOIN vmss s ON s.id = v.vmss_id WHERE s.group_id = ? AND"
            " lower(s.name) = lower(?) AND CAST(v.vmss_index AS TEXT) = ?",
            "itt", g, c->p[2], c->p[3]);
    if (!vm[0]) {
        arm_err_set(&c->err, 404, "NotFound", NULL,
                    "The scale set '%.80s' has no instance '%.20s' in resource group '%.80s'.",
                    c->p[2], c->p[3], c->p[1]);
        return;
    }
    run_in(c, g, vm);
}

static const char *run_probe(struct arm_ctx *c, const struct arm_op *op, json_t **error)
{
    sqlite3_stmt *st = db_stmt(c->k->db, "SELECT state, error FROM run_commands WHERE id = ?", "i",
                               op->target);
    const char *out = "Failed";
    if (!st) {
        out = "InProgress"; /* the database failed: ask again at the next poll */
    } else if (sqlite3_step(st) != SQLITE_ROW) {
        *error = json_pack("{s:s, s:s}", "code", "ResourceNotFound", "message",
                           "The virtual machine was deleted while the command ran.");
    } else {
        const char *state = db_col_text(st, 0);
        if (!strcmp(state, "Pending") || !strcmp(state, "Running"))
            out = "InProgress";
        else if (!strcmp(state, "Succeeded"))
            out = "Succeeded";
        else
            *error = json_pack("{s:s, s:s}", "code",
                               !strcmp(state, "TimedOut") ? "RunCommandTimedOut"
                                                          : "RunCommandFailed",
                               "message",
                               db_col_null(st, 1) ? "The command did not run." : db_col_text(st, 1));
    }
    sqlite3_finalize(st);
    return out;
}

/* The RunCommandResult of a finished run */
static void run_result(struct arm_ctx *c, const struct arm_op *op)
{
    sqlite3_stmt *st = db_stmt(c->k->db,
                               "SELECT coalesce(stdout, ''), coalesce(stderr, '') FROM run_commands"
                               " WHERE id = ?",
                               "i", op->target);
    if (!st || sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        arm_reply(c, 204, NULL);
        return;
    }
    const char *out = db_col_text(st, 0), *err = db_col_text(st, 1);
    size_t n = strlen(out) + strlen(err) + 64;
    char *msg = malloc(n);
    if (msg) snprintf(msg, n, "Enable succeeded: \n[stdout]\n%s\n[stderr]\n%s", out, err);
    sqlite3_finalize(st);
    json_t *status = json_pack("{s:s, s:s, s:s, s:s}", "code", "ProvisioningState/succeeded",
                               "level", "Info", "displayStatus", "Provisioning succeeded",
                               "message", msg ? msg : "");
    free(msg);
    arm_reply(c, 200, json_pack("{s:[o]}", "value", status));
}

const struct arm_op_kind arm_op_vm_runcmd = {"vm-runcmd", run_probe, run_result, NULL};

#define VMP "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Compute/virtualMachines"
#define SSP                                                                                        \
    "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Compute/virtualMachineScaleSets"
const struct arm_route arm_routes_runcmd[] = {
    {"POST", VMP "/{}/runCommand", (void *)vm_run_command, 0, VM_TYPE},
    {"POST", SSP "/{}/virtualMachines/{}/runCommand", (void *)vmss_vm_run_command, 0,
     COMPUTE "/virtualMachineScaleSets"},
    {NULL, NULL, NULL, 0, NULL},
};
