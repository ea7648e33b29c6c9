/*
 * vm.c - kumo vm: create (with the implicit network kumod makes, as
 * `az vm create` does), list, show, the power actions, resize, delete,
 * the boot diagnostics log, the state history, tags and data disks. The
 * serial console is console.c.
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

static char *vm_path(const char *g, const char *n)
{
    return res_path_of(&vm_resource, g, NULL, n);
}

static const char *show_cmd(const char *g, const char *n)
{
    return fmt_str("kumo vm show -g %s %s", g, n);
}

/* ---- views ---- */

static const char *ports_of(const json_t *pip, bool with_addr)
{
    const char *addr = member_text(pip, "ipAddress");
    char *out = fmt_str("%s", "");
    size_t i;
    const json_t *p;
    json_array_foreach(json_object_get(pip, "ports"), i, p)
    {
        const char *proto = lower(member_text(p, "protocol"));
        const char *blocked = member_str(p, "blockedBy");
        out = with_addr
                  ? fmt_str("%s%s%s/%lld -> %s:%lld%s%s%s", out, *out ? ", " : "", proto,
                            member_int(p, "port"), addr, member_int(p, "hostPort"),
                            pip_port_failed(pip, p) ? " (not forwarded: host port in use)" : "",
                            blocked ? " (blocked by " : "", blocked ? fmt_str("%s)", blocked) : "")
                  : fmt_str("%s%s%lld->%lld%s", out, *out ? "," : "", member_int(p, "port"),
                            member_int(p, "hostPort"), blocked ? "(blocked)" : "");
    }
    return *out ? out : "-";
}

static const char *vm_ports(const json_t *vm)
{
    const json_t *pip = member_at(vm, "networkInterfaces.0.publicIp");
    return json_is_object(pip) ? ports_of(pip, false) : NULL;
}

static const struct column vm_columns[] = {
    COL("Name", "name", CELL_TEXT),
    COL("Size", "size", CELL_TEXT),
    COL(">vCPUs", "vcpus", CELL_INT),
    COL(">Memory", "memoryMiB", CELL_MIB),
    COL("PowerState", "powerState", CELL_TEXT),
    COL("Provisioning", "provisioningState", CELL_TEXT),
    COL("PrivateIp", "networkInterfaces.0.privateIp", CELL_TEXT),
    COL("PublicIp", "networkInterfaces.0.publicIp.ipAddress", CELL_TEXT),
    COL_GET("Ports", vm_ports),
    {0},
};

void vm_view(struct cli *c, const json_t *vm)
{
    struct table *t = kv_new();
    const char *g = member_text(vm, "resourceGroup"), *n = member_text(vm, "name");
    kv_add(t, "Name", n);
    kv_add(t, "Resource group", g);
    kv_add(t, "Location",
           member_str(vm, "host")
               ? fmt_str("%s (host %s)", member_text(vm, "location"), member_str(vm, "host"))
               : fmt_str("%s (no host while deallocated)", member_text(vm, "location")));
    long long vc = member_int(vm, "vcpus");
    kv_add(t, "Size",
           fmt_str("%s: %lld vCPU%s, %s", member_text(vm, "size"), vc, vc == 1 ? "" : "s",
                   fmt_mib(member_int(vm, "memoryMiB"))));
    if (member_bool(vm, "dedicated"))
        kv_add(t, "Host CPUs",
               member_str(vm, "hostCpus")
                   ? fmt_str("dedicated: host cores %s, shared with no other VM",
                             member_str(vm, "hostCpus"))
                   : "dedicated (cores reserved when it is allocated)");
    const json_t *cr = json_object_get(vm, "cpuCredits");
    if (json_is_object(cr))
        kv_add(t, "CPU credits",
               fmt_str("%.2f of %.0f banked (%.0f an hour below a %g %% baseline)%s",
                       json_number_value(json_object_get(cr, "credits")),
                       json_number_value(json_object_get(cr, "maxCredits")),
                       json_number_value(json_object_get(cr, "creditsPerHour")),
                       json_number_value(json_object_get(cr, "baselinePercent")),
                       member_bool(cr, "heldToBaseline") ? "; out of credits: held to the baseline"
                                                         : ""));
    kv_add(t, "Image", member_text(vm, "image"));
    const json_t *hib = json_object_get(vm, "hibernation");
    if (json_is_object(hib))
        kv_add(t, "Power state",
               fmt_str("%s, hibernated (%s of saved state since %s; 'kumo vm start' resumes it)",
                       member_text(vm, "powerState"), fmt_mib(member_int(hib, "stateBytes") >> 20),
                       member_text(hib, "savedAt")));
    else
        kv_add(t, "Power state", member_text(vm, "powerState"));
    kv_add(t, "Provisioning", fmt_state(vm));
    const char *admin = fmt_admin_account(json_object_get(vm, "osProfile"));
    if (admin) kv_add(t, "Admin account", admin);
    const json_t *gp = json_object_get(vm, "osProvisioning");
    if (member_str(gp, "state")) {
        const char *stages = "";
        size_t si;
        const json_t *ev;
        json_array_foreach(json_object_get(gp, "stages"), si, ev)
        {
            stages = fmt_str(
                "%s%s%s %s%s", stages, *stages ? ", " : "", member_text(ev, "name"),
                member_str(ev, "result") ? member_str(ev, "result") : member_text(ev, "event_type"),
                strcmp(member_text(ev, "name"), "modules-final") == 0 ? " (user data)" : "");
        }
        kv_add(t, "Guest setup",
               fmt_str("%s%s%s", member_text(gp, "state"), *stages ? ": " : " (no report yet)",
                       stages));
    }
    size_t i;
    const json_t *nic;
    json_array_foreach(json_object_get(vm, "networkInterfaces"), i, nic)
    {
        kv_add(t, "Private IP",
               fmt_str("%s (NIC %s in %s/%s, MAC %s)", member_text(nic, "privateIp"),
                       member_text(nic, "name"), member_text(nic, "vnet"),
                       member_text(nic, "subnet"), member_text(nic, "macAddress")));
        const json_t *pip = json_object_get(nic, "publicIp");
        if (json_is_object(pip))
            kv_add(t, "Public IP",
                   fmt_str("%s (%s): %s", member_text(pip, "ipAddress"), member_text(pip, "name"),
                           ports_of(pip, true)));
    }
    const json_t *os = json_object_get(vm, "osDisk");
    if (json_is_object(os))
        kv_add(t, "OS disk",
               fmt_str("%s (%s, %lld GiB)", member_text(os, "name"), member_text(os, "tier"),
                       member_int(os, "sizeGiB")));
    const json_t *d;
    json_array_foreach(json_object_get(vm, "dataDisks"), i, d)
    {
        kv_add(t, fmt_str("Data disk %lld", member_int(d, "lun")),
               fmt_str("%s (%s, %lld GiB)", member_text(d, "name"), member_text(d, "tier"),
                       member_int(d, "sizeGiB")));
    }
    if (json_object_size(json_object_get(vm, "tags")))
        kv_add(t, "Tags", fmt_tags(json_object_get(vm, "tags")));
    if (member_bool(vm, "hasUserData")) kv_add(t, "User data", "stored");
    const json_t *iv = json_object_get(vm, "instanceView");
    const json_t *le = json_object_get(iv, "lastExit");
    if (json_is_object(le))
        kv_add(t, "Last exit",
               fmt_str("%s at %s", member_text(le, "reason"), fmt_time(member_str(le, "at"))));
    bool blocked = false;
    json_array_foreach(json_object_get(vm, "networkInterfaces"), i, nic)
    {
        const json_t *p;
        size_t j;
        json_array_foreach(member_at(nic, "publicIp.ports"), j, p) blocked =
            blocked || member_str(p, "blockedBy");
    }
    if (blocked)
        kv_add(t, "Blocked ports",
               fmt_str("an NSG drops what comes in to the ports marked blocked; 'kumo vm "
                       "open-port -g %s -n %s --port PORT' lets one in",
                       g, n));
    kv_add(t, "Created", fmt_time(member_str(vm, "createdAt")));
    const char *ps = member_text(vm, "powerState");
    if (strcmp(ps, "Running") == 0 || strcmp(ps, "Starting") == 0) {
        kv_add(t, "Console", fmt_str("kumo vm console -g %s %s", g, n));
        if (admin) kv_add(t, "SSH", fmt_str("kumo vm ssh -g %s %s", g, n));
    }
    kv_print(t, c->out);
}

static const char *state_sentence(const json_t *vm)
{
    const char *ps = member_text(vm, "powerState"), *n = member_text(vm, "name");
    if (strcmp(ps, "Running") == 0)
        return fmt_str("VM '%s' is Running on host %s (billed while it is allocated).", n,
                       member_text(vm, "host"));
    if (strcmp(ps, "Stopped") == 0)
        return fmt_str("VM '%s' is Stopped: still allocated on host %s and still billed; 'kumo vm "
                       "deallocate' releases it and stops the bill.",
                       n, member_text(vm, "host"));
    if (strcmp(ps, "Deallocated") == 0)
        return fmt_str("VM '%s' is Deallocated: its vCPUs and memory are released and it is not "
                       "billed (its disks still are).",
                       n);
    return fmt_str("VM '%s' is %s (%s).", n, ps, member_text(vm, "provisioningState"));
}

/* Print a VM after an action: JSON, the full view, or one sentence. */
static void print_vm(struct cli *c, const json_t *vm, bool full)
{
    if (!vm) return;
    if (c->out == OUT_JSON)
        print_json(vm);
    else if (full || c->out == OUT_TSV)
        vm_view(c, vm);
    else
        puts(state_sentence(vm));
}

/* ---- create ---- */

static int vm_create(struct cli *c, struct args *a)
{
    const char *g = need_group(c, a);
    if (!g) return KX_USAGE;
    const char *n = need_name(c, a, "VM");
    if (!n) return KX_USAGE;
    const char *size = arg_size(a);
    if (!size || !*size)
        return usage_error(c, "missing --size SIZE: pick the VM's vCPUs and memory from 'kumo "
                              "size list' (e.g. --size B1s: 1 vCPU, 1 GiB)");
    int nn;
    arg_list(a, "nics", &nn);
    if (nn && (arg_has(a, "vnet") || arg_has(a, "subnet") || arg_has(a, "private-ip") ||
               arg_has(a, "nsg") || arg_has(a, "no-nsg") || arg_has(a, "public-ip") ||
               arg_has(a, "public-ip-name")))
        return usage_error(c, "--nics names existing NICs, which have their network already: "
                              "leave out --vnet, --subnet, --private-ip, --nsg and --public-ip");
    if (arg_has(a, "nsg") && arg_has(a, "no-nsg"))
        return usage_error(c, "--nsg and --no-nsg contradict each other");
    if (arg_has(a, "public-ip") && arg_has(a, "public-ip-name"))
        return usage_error(c, "give --public-ip (a new public IP NAME-ip) or --public-ip-name "
                              "NAME, not both");

    json_t *body = json_pack("{ss ss}", "name", n, "size", size);
    if (arg_str(a, "image")) json_object_set_new(body, "image", json_string(arg_str(a, "image")));
    if (os_profile_into(c, a, body, arg_str(a, "image")) < 0) {
        json_decref(body);
        return KX_USAGE;
    }
    long v;
    int r;
    json_t *os = json_object();
    if (arg_str(a, "os-disk-tier"))
        json_object_set_new(os, "tier", json_string(arg_str(a, "os-disk-tier")));
    if (arg_str(a, "os-disk-caching"))
        json_object_set_new(os, "caching", json_string(arg_str(a, "os-disk-caching")));
    if ((r = arg_long(c, a, "os-disk-size-gb", 1, 32767, &v)) < 0) goto bad_os;
    if (r) json_object_set_new(os, "sizeGiB", json_integer(v));
    if (json_object_size(os))
        json_object_set_new(body, "osDisk", os);
    else
        json_decref(os);

    int nd, na;
    const char *const *sizes = arg_list(a, "data-disk-sizes-gb", &nd);
    const char *const *attach = arg_list(a, "attach-data-disks", &na);
    if (arg_has(a, "data-disk-caching") && !nd && !na) {
        json_decref(body);
        return usage_error(c, "--data-disk-caching applies to the data disks of "
                              "--data-disk-sizes-gb or --attach-data-disks, and none is given");
    }
    if (arg_has(a, "data-disk-tier") && !nd) {
        json_decref(body);
        return usage_error(c, "--data-disk-tier applies to the new disks of "
                              "--data-disk-sizes-gb, and none is given");
    }
    if (nd || na) {
        json_t *dd = json_array();
        json_object_set_new(body, "dataDisks", dd);
        for (int i = 0; i < nd; i++) {
            char *end;
            long gb = strtol(sizes[i], &end, 10);
            if (!*sizes[i] || *end || gb < 1 || gb > 32767) {
                json_decref(body);
                return usage_error(c,
                                   "--data-disk-sizes-gb: '%s' is not a size in GiB from 1 to "
                                   "32767",
                                   sizes[i]);
            }
            json_t *d = json_pack("{sI}", "sizeGiB", (json_int_t)gb);
            if (arg_str(a, "data-disk-tier"))
                json_object_set_new(d, "tier", json_string(arg_str(a, "data-disk-tier")));
            if (arg_str(a, "data-disk-caching"))
                json_object_set_new(d, "caching", json_string(arg_str(a, "data-disk-caching")));
            json_array_append_new(dd, d);
        }
        for (int i = 0; i < na; i++) {
            json_t *d = json_pack("{ss}", "disk", attach[i]);
            if (arg_str(a, "data-disk-caching"))
                json_object_set_new(d, "caching", json_string(arg_str(a, "data-disk-caching")));
            json_array_append_new(dd, d);
        }
    }
    if (nn) {
        const char *const *nics = arg_list(a, "nics", &nn);
        json_t *arr = json_array();
        for (int i = 0; i < nn; i++)
            json_array_append_new(arr, json_string(nics[i]));
        json_object_set_new(body, "networkInterfaces", arr);
    }
    if (arg_str(a, "vnet")) json_object_set_new(body, "vnet", json_string(arg_str(a, "vnet")));
    if (arg_str(a, "subnet"))
        json_object_set_new(body, "subnet", json_string(arg_str(a, "subnet")));
    if (arg_str(a, "private-ip"))
        json_object_set_new(body, "privateIp", json_string(arg_str(a, "private-ip")));
    if (arg_has(a, "no-nsg") || (arg_str(a, "nsg") && !*arg_str(a, "nsg")))
        json_object_set_new(body, "nsg", json_null());
    else if (arg_str(a, "nsg"))
        json_object_set_new(body, "nsg", json_string(arg_str(a, "nsg")));
    if (arg_has(a, "public-ip")) json_object_set_new(body, "publicIp", json_true());
    if (arg_has(a, "dedicated")) json_object_set_new(body, "dedicated", json_true());
    if (arg_str(a, "host")) json_object_set_new(body, "host", json_string(arg_str(a, "host")));
    if (arg_str(a, "public-ip-name") && *arg_str(a, "public-ip-name")) /* "": none, as az */
        json_object_set_new(body, "publicIp", json_string(arg_str(a, "public-ip-name")));
    if (user_data_into(c, a, body) < 0 || tags_into(c, a, body) < 0) {
        json_decref(body);
        return KX_USAGE;
    }

    char *coll = res_path_of(&vm_resource, g, NULL, NULL);
    json_t *vm;
    int rc = api(c, "POST", coll, body, &vm);
    free(coll);
    if (rc) return rc;
    const char *name = member_str(vm, "name") ? member_str(vm, "name") : n;
    char *p = vm_path(g, name);
    char *what = fmt_str("VM '%s'", name);
    const char *show = show_cmd(g, name);
    json_t *final;
    rc = finish_long(c, p, vm, what, show, false, &final);
    free(p);
    print_vm(c, final, true);
    json_decref(final);
    return rc;
bad_os:
    json_decref(os);
    json_decref(body);
    return KX_USAGE;
}

/* ---- actions ---- */

static int vm_action(struct cli *c, struct args *a, const char *action, json_t *body)
{
    const char *g, *n;
    char *p = res_path(c, a, &vm_resource, true, &g, &n);
    if (!p) {
        json_decref(body);
        return KX_USAGE;
    }
    char *ap = fmt_str("%s/%s", p, action);
    struct resp r;
    if (!body) body = json_object();
    int rc = http_request(c, "POST", ap, body, &r);
    json_decref(body);
    if (rc) {
        free(p);
        return rc;
    }
    if (r.status != 200 && r.status != 202) {
        rc = api_fail(c, &r);
        resp_free(&r);
        free(p);
        return rc;
    }
    json_t *vm = r.json;
    r.json = NULL;
    long status = r.status;
    resp_free(&r);
    json_t *final = vm;
    if (status == 202) {
        if (c->no_wait && c->out == OUT_TABLE) {
            printf("Accepted: VM '%s' is %s; '%s' follows it.\n", member_text(vm, "name"),
                   member_text(vm, "powerState"), show_cmd(g, n));
            json_decref(vm);
            free(p);
            return KX_OK;
        }
        rc = finish_long(c, p, vm, fmt_str("VM '%s'", n), show_cmd(g, n), false, &final);
    }
    free(p);
    if (final && c->out == OUT_TABLE && strcmp(action, "resize") == 0) {
        long long vc = member_int(final, "vcpus");
        printf("VM '%s' has size %s: %lld vCPU%s, %s.\n", member_text(final, "name"),
               member_text(final, "size"), vc, vc == 1 ? "" : "s",
               fmt_mib(member_int(final, "memoryMiB")));
    }
    print_vm(c, final, false);
    json_decref(final);
    return rc;
}

static int vm_start(struct cli *c, struct args *a)
{
    return vm_action(c, a, "start", NULL);
}

static int vm_stop(struct cli *c, struct args *a)
{
    return vm_action(c, a, arg_has(a, "skip-shutdown") ? "stop?skipShutdown=true" : "stop", NULL);
}

static int vm_deallocate(struct cli *c, struct args *a)
{
    if (arg_has(a, "hibernate") && arg_has(a, "skip-shutdown"))
        return usage_error(c, "give --hibernate (save the VM's state, no shutdown) or "
                              "--skip-shutdown (power off at once), not both");
    if (arg_has(a, "hibernate")) return vm_action(c, a, "deallocate?hibernate=true", NULL);
    return vm_action(
        c, a, arg_has(a, "skip-shutdown") ? "deallocate?skipShutdown=true" : "deallocate", NULL);
}

static int vm_restart(struct cli *c, struct args *a)
{
    return vm_action(c, a, "restart", NULL);
}

static int vm_migrate(struct cli *c, struct args *a)
{
    return vm_action(c, a, "migrate", NULL);
}

static int vm_resize(struct cli *c, struct args *a)
{
    const char *size = arg_size(a);
    if (!size || !*size)
        return usage_error(c, "missing --size SIZE: the new size ('kumo size list' lists them)");
    json_t *body = json_pack("{ss sb}", "size", size, "restart", arg_has(a, "restart"));
    return vm_action(c, a, "resize", body);
}

/* "a, b and c" */
static const char *and_list(const char *list, const char *item)
{
    return *list ? fmt_str("%s, %s", list, item) : fmt_str("%s", item);
}

static const char *finish_and(const char *list)
{
    const char *last = strrchr(list, ',');
    if (!last) return list;
    return fmt_str("%.*s and%s", (int)(last - list), list, last + 1);
}

/* What a delete of vm takes with it and what it leaves (detached), by the
 * deleteOption kumod gives each disk, NIC and public IP. disks: "owned"
 * (the default), "keep" or "all". */
static void delete_lists(const json_t *vm, const char *disks, const char **gone, const char **kept)
{
    const char *g = "", *k = "";
    const json_t *os = json_object_get(vm, "osDisk");
    if (json_is_object(os)) {
        const char *item = fmt_str("OS disk '%s'", member_text(os, "name"));
        if (!strcmp(disks, "keep"))
            k = and_list(k, item);
        else
            g = and_list(g, item);
    }
    size_t i;
    const json_t *d;
    json_array_foreach(json_object_get(vm, "dataDisks"), i, d)
    {
        const char *item = fmt_str("data disk '%s'", member_text(d, "name"));
        bool goes = !strcmp(disks, "all") ||
                    (!strcmp(disks, "owned") && !strcmp(member_text(d, "deleteOption"), "Delete"));
        if (goes)
            g = and_list(g, item);
        else
            k = and_list(k, item);
    }
    const json_t *nic;
    json_array_foreach(json_object_get(vm, "networkInterfaces"), i, nic)
    {
        bool nic_goes = !strcmp(member_text(nic, "deleteOption"), "Delete");
        const char *item = fmt_str("NIC '%s'", member_text(nic, "name"));
        if (nic_goes)
            g = and_list(g, item);
        else
            k = and_list(k, item);
        const json_t *pip = json_object_get(nic, "publicIp");
        if (!json_is_object(pip)) continue;
        item = fmt_str("public IP '%s'", member_text(pip, "name"));
        if (!strcmp(member_text(pip, "deleteOption"), "Delete"))
            g = and_list(g, item);
        else
            k = and_list(k, item);
    }
    *gone = finish_and(g);
    *kept = finish_and(k);
}

static int vm_delete(struct cli *c, struct args *a)
{
    const char *g, *n;
    char *p = res_path(c, a, &vm_resource, true, &g, &n);
    if (!p) return KX_USAGE;
    bool keep = arg_has(a, "keep-disks"), all = arg_has(a, "delete-data-disks");
    if (keep && all) {
        free(p);
        return usage_error(c, "--keep-disks keeps every disk and --delete-data-disks deletes "
                              "them: give one of them");
    }
    const char *disks = keep ? "keep" : all ? "all" : "owned";
    /* without a terminal, refuse before anything is sent */
    if (!arg_has(a, "yes") && !isatty(STDIN_FILENO)) {
        free(p);
        return confirm_delete(c, a, "");
    }
    json_t *vm;
    int rc = api(c, "GET", p, NULL, &vm);
    if (rc) {
        free(p);
        return rc;
    }
    const char *gone, *kept;
    delete_lists(vm, disks, &gone, &kept);
    json_decref(vm);
    rc = confirm_delete(c, a,
                        fmt_str("Delete VM '%s' of resource group '%s'%s%s%s%s%s?", n, g,
                                *gone ? " with its " : "", gone, *kept ? " (keeping " : "", kept,
                                *kept ? ", detached)" : ""));
    if (rc) {
        free(p);
        return rc;
    }
    long st = 0;
    const char *q = keep ? "?keepDisks=true" : all ? "?deleteDataDisks=true" : "";
    rc = api_status(c, "DELETE", fmt_str("%s%s", p, q), NULL, &vm, &st);
    json_decref(vm);
    if (rc) {
        free(p);
        return rc;
    }
    if (st == 202 && !c->no_wait)
        rc = api_wait(c, p, fmt_str("VM '%s'", n), show_cmd(g, n), true, NULL);
    free(p);
    if (rc) return rc;
    if (c->out == OUT_TABLE) {
        printf("%s VM '%s' of resource group '%s'%s%s.\n",
               st == 202 && c->no_wait ? "Deleting" : "Deleted", n, g, *gone ? " with its " : "",
               gone);
        if (*kept)
            printf("Kept, detached (still billed): %s. 'kumo disk list -g %s' lists the "
                   "disks; 'kumo disk delete' deletes one.\n",
                   kept, g);
    }
    return KX_OK;
}

/* ---- run-command ---- */

#define AGENT_WAIT_S 180 /* kumod's wait for the guest's agent (runcmd.h) */

/* The script: --script words, one line each ("@FILE": the file's text,
 * "-": stdin); NULL after a usage error. */
static char *script_of(struct cli *c, const struct args *a)
{
    int n;
    const char *const *words = arg_list(a, "script", &n);
    if (!n) {
        usage_error(c, "missing --script 'COMMANDS' (sh, as root; @FILE or - reads it)");
        return NULL;
    }
    char *out = fmt_str("%s", "");
    for (int i = 0; i < n; i++) {
        const char *w = words[i];
        if (w[0] == '@' || !strcmp(w, "-")) {
            FILE *f = !strcmp(w, "-") ? stdin : fopen(w + 1, "r");
            if (!f) {
                usage_error(c, "--script: cannot read %s: %s", w + 1, strerror(errno));
                return NULL;
            }
            char buf[16385];
            size_t got = fread(buf, 1, sizeof(buf) - 1, f);
            bool more = !feof(f) && fgetc(f) != EOF;
            if (f != stdin) fclose(f);
            if (more) {
                usage_error(c, "--script: %s is longer than 16 KiB", w);
                return NULL;
            }
            buf[got] = 0;
            w = buf;
            out = fmt_str("%s%s%s", out, *out ? "\n" : "", w);
            continue;
        }
        out = fmt_str("%s%s%s", out, *out ? "\n" : "", w);
    }
    if (strlen(out) > 16384) {
        usage_error(c,
                    "--script: %zu bytes; at most 16 KiB (copy a longer program in with a "
                    "disk, or user data)",
                    strlen(out));
        return NULL;
    }
    return out;
}

static int vm_run_command(struct cli *c, struct args *a)
{
    const char *g, *n;
    long secs = 90;
    if (arg_long(c, a, "timeout", 1, 3600, &secs) < 0) return KX_USAGE;
    char *script = script_of(c, a);
    if (!script) return KX_USAGE;
    char *p = res_path(c, a, &vm_resource, true, &g, &n);
    if (!p) return KX_USAGE;
    json_t *run;
    long st = 0;
    int rc = api_status(c, "POST", fmt_str("%s/runCommand", p),
                        json_pack("{ss sI}", "script", script, "timeoutSeconds", (json_int_t)secs),
                        &run, &st);
    free(p);
    if (rc) return rc;
    const char *what = fmt_str("command %s on VM '%s'", member_text(run, "name"), n);
    const char *path = fmt_str("/resourceGroups/%s/virtualMachines/%s/runCommands/%s", g, n,
                               member_text(run, "name"));
    char *rp = api_path("%s", path);
    /* the guest may still be booting: kumod waits for its agent first */
    c->timeout = (double)secs + AGENT_WAIT_S + 30;
    json_t *final = NULL;
    if (st == 202)
        rc = api_wait(
            c, rp, what,
            fmt_str("kumo vm run-commands -g %s -n %s --id %s", g, n, member_text(run, "name")),
            false, &final);
    else
        final = json_incref(run);
    free(rp);
    json_decref(run);
    if (!final) return rc ? rc : KX_ERROR;
    if (c->out == OUT_JSON) {
        print_json(final);
    } else {
        const char *out = member_str(final, "stdout"), *err = member_str(final, "stderr");
        if (out) fputs(out, stdout);
        fflush(stdout);
        if (err) fputs(err, stderr);
        if (member_bool(final, "truncated"))
            fprintf(stderr,
                    "%s: (the output was longer: kumod keeps its last %d KiB; stdout %lld "
                    "bytes, stderr %lld bytes)\n",
                    c->prog, 8, member_int(final, "stdoutBytes"), member_int(final, "stderrBytes"));
    }
    const char *status = member_text(final, "status");
    const json_t *code = json_object_get(final, "exitCode");
    if (!strcmp(status, "TimedOut"))
        rc = KX_TIMEOUT;
    else if (!strcmp(status, "Succeeded") && json_is_integer(code))
        rc = (int)(json_integer_value(code) & 255); /* the command's exit status, as ssh */
    else if (!rc)
        rc = KX_ERROR;
    json_decref(final);
    return rc;
}

static const struct column run_columns[] = {
    COL("Id", "name", CELL_TEXT),
    COL("Status", "status", CELL_TEXT),
    COL(">Exit", "exitCode", CELL_INT),
    COL("Started (UTC)", "startedAt", CELL_TIME),
    COL("Ended (UTC)", "endedAt", CELL_TIME),
    {0},
};

static void run_view(struct cli *c, const json_t *r)
{
    struct table *t = kv_new();
    kv_add(t, "Id", member_text(r, "name"));
    kv_add(t, "VM", member_text(r, "virtualMachine"));
    kv_add(t, "Status", member_text(r, "status"));
    const json_t *code = json_object_get(r, "exitCode");
    kv_add(t, "Exit status",
           json_is_integer(code) ? fmt_str("%lld", json_integer_value(code)) : "-");
    kv_add(t, "Error", member_text(json_object_get(r, "error"), "message"));
    kv_add(t, "Started", fmt_time(member_str(r, "startedAt")));
    kv_add(t, "Ended", fmt_time(member_str(r, "endedAt")));
    kv_add(t, "Stdout",
           member_str(r, "stdout") && *member_str(r, "stdout")
               ? fmt_str("%lld bytes:\n%s", member_int(r, "stdoutBytes"), member_str(r, "stdout"))
               : "-");
    kv_add(t, "Stderr",
           member_str(r, "stderr") && *member_str(r, "stderr")
               ? fmt_str("%lld bytes:\n%s", member_int(r, "stderrBytes"), member_str(r, "stderr"))
               : "-");
    kv_print(t, c->out);
}

static int vm_run_list(struct cli *c, struct args *a)
{
    char *p = res_path(c, a, &vm_resource, true, NULL, NULL);
    if (!p) return KX_USAGE;
    const char *id = arg_str(a, "id");
    int rc = id ? show_one(c, fmt_str("%s/runCommands/%s", p, id), run_view)
                : list_path(c, fmt_str("%s/runCommands", p), run_columns);
    free(p);
    return rc;
}

/* ---- open-port ---- */

static int vm_open_port(struct cli *c, struct args *a)
{
    const char *g, *n;
    long port = 0, prio = 0;
    int r = arg_long(c, a, "port", 1, 65535, &port);
    if (r < 0) return KX_USAGE;
    if (!r) return usage_error(c, "missing --port PORT: the port to let in (1-65535)");
    if (arg_long(c, a, "priority", 100, 4096, &prio) < 0) return KX_USAGE;
    char *p = res_path(c, a, &vm_resource, true, &g, &n);
    if (!p) return KX_USAGE;
    json_t *body = json_pack("{sI}", "port", (json_int_t)port);
    if (prio) json_object_set_new(body, "priority", json_integer(prio));
    if (arg_str(a, "protocol"))
        json_object_set_new(body, "protocol", json_string(arg_str(a, "protocol")));
    json_t *vm;
    int rc = api(c, "POST", fmt_str("%s/openPort", p), body, &vm);
    free(p);
    if (rc) return rc;
    const json_t *o = json_object_get(vm, "openedPort");
    if (c->out == OUT_TABLE && o) {
        const char *nsgs = member_text(o, "nsgs");
        if (member_str(o, "rule"))
            printf("Rule %s (priority %lld) in %s lets %s port %ld in.\n", member_text(o, "rule"),
                   member_int(o, "priority"),
                   strchr(nsgs, ',') ? fmt_str("NSGs %s", nsgs) : fmt_str("NSG %s", nsgs),
                   lower(member_text(o, "protocol")), port);
        else
            printf("No NSG drops %s port %ld: no rule was needed.\n",
                   lower(member_text(o, "protocol")), port);
        printf(
            "Public IP %s%s forwards %s:%lld to port %ld of VM '%s'%s.\n",
            member_text(o, "publicIp"), member_bool(o, "publicIpCreated") ? " (made for it)" : "",
            member_text(member_at(vm, "networkInterfaces.0.publicIp"), "ipAddress"),
            member_int(o, "hostPort"), port, n,
            member_bool(o, "live") ? "" : " from its next start (kumod runs without kumo-switch)");
    } else {
        print_one(c, vm, vm_view);
    }
    json_decref(vm);
    return KX_OK;
}

/* ---- log, history, update ---- */

#define LOG_TAIL_MAX (16 << 20) /* the most kumod gives with ?tail= */

/* The last `lines` lines of the log at path (fetched from its end, more
 * until they are there or the log is whole): 0 and printed, or an exit
 * code. *total gets the log's size when it was fetched whole, else 0. */
static int print_last_lines(struct cli *c, const char *path, long lines, size_t *total)
{
    for (long bytes = lines * 160 > 4096 ? lines * 160 : 4096;; bytes *= 4) {
        if (bytes > LOG_TAIL_MAX) bytes = LOG_TAIL_MAX;
        struct resp r;
        int rc = http_request(c, "GET", fmt_str("%s?tail=%ld", path, bytes), NULL, &r);
        if (rc) return rc;
        if (r.status != 200) {
            rc = api_fail(c, &r);
            resp_free(&r);
            return rc;
        }
        /* where the last `lines` lines start (a last line without its
         * newline counts as one) */
        size_t start = r.len, seen = 0;
        if (start && r.body[start - 1] == '\n') start--;
        while (start > 0 && seen < (size_t)lines) {
            if (r.body[start - 1] == '\n' && ++seen == (size_t)lines) break;
            start--;
        }
        bool whole = r.len < (size_t)bytes;
        if (seen >= (size_t)lines || whole || bytes == LOG_TAIL_MAX) {
            fwrite(r.body + start, 1, r.len - start, stdout);
            *total = whole ? r.len : 0;
            resp_free(&r);
            return KX_OK;
        }
        resp_free(&r);
    }
}

static int vm_log(struct cli *c, struct args *a)
{
    char *p = res_path(c, a, &vm_resource, true, NULL, NULL);
    if (!p) return KX_USAGE;
    long lines = 0;
    if (arg_long(c, a, "lines", 1, 1000000, &lines) < 0) {
        free(p);
        return KX_USAGE;
    }
    bool follow = arg_has(a, "follow");
    char *fp = fmt_str("%s/bootDiagnostics", p);
    free(p);
    size_t printed = 0;
    bool first = true;
    int rc;
    for (;;) {
        struct resp r;
        if (first && lines) {
            size_t total = 0;
            if ((rc = print_last_lines(c, fp, lines, &total))) return rc;
            first = false;
            if (!follow) break;
            printed = total;
            if (!total) { /* go on from the end of the whole log */
                if ((rc = http_request(c, "GET", fp, NULL, &r))) return rc;
                printed = r.len;
                resp_free(&r);
            }
            continue;
        }
        rc = http_request(c, "GET", fp, NULL, &r);
        if (rc) return rc;
        if (r.status != 200) {
            if (!first && r.status == 404) { /* deleted while followed */
                resp_free(&r);
                return KX_OK;
            }
            rc = api_fail(c, &r);
            resp_free(&r);
            return rc;
        }
        if (r.len > printed) fwrite(r.body + printed, 1, r.len - printed, stdout);
        if (r.len > printed) printed = r.len;
        resp_free(&r);
        first = false;
        fflush(stdout);
        if (!follow) break;
        struct timespec ts = {0, 500 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fflush(stdout);
    return KX_OK;
}

static const struct column history_columns[] = {
    COL("Time (UTC)", "at", CELL_TIME),
    COL("PowerState", "powerState", CELL_TEXT),
    COL("Provisioning", "provisioningState", CELL_TEXT),
    COL("Size", "size", CELL_TEXT),
    COL("Message", "message", CELL_TEXT),
    {0},
};

/* ---- show -d, list-ip-addresses ---- */

/* Join a member of each NIC (or of its public IP) with ",". */
static char *nic_join(const json_t *vm, const char *path)
{
    char *out = fmt_str("%s", "");
    size_t i;
    const json_t *nic;
    json_array_foreach(json_object_get(vm, "networkInterfaces"), i, nic)
    {
        const char *v = json_string_value(member_at(nic, path));
        if (v) out = fmt_str("%s%s%s", out, *out ? "," : "", v);
    }
    return out;
}

/* az vm show -d's fields, from what the VM's JSON has already. */
static void add_details(json_t *vm)
{
    json_object_set_new(vm, "privateIps", json_string(nic_join(vm, "privateIp")));
    json_object_set_new(vm, "publicIps", json_string(nic_join(vm, "publicIp.ipAddress")));
    json_object_set_new(vm, "macAddresses", json_string(nic_join(vm, "macAddress")));
    json_object_set_new(vm, "fqdns", json_string(""));
}

static int vm_show(struct cli *c, struct args *a)
{
    char *p = res_path(c, a, &vm_resource, true, NULL, NULL);
    if (!p) return KX_USAGE;
    json_t *vm;
    int rc = api(c, "GET", p, NULL, &vm);
    free(p);
    if (rc) return rc;
    if (arg_has(a, "show-details")) add_details(vm);
    print_one(c, vm, vm_view);
    json_decref(vm);
    return KX_OK;
}

static const char *ip_vm(const json_t *e)
{
    return member_str(member_at(e, "virtualMachine"), "name");
}

static const char *ip_public(const json_t *e)
{
    char *out = fmt_str("%s", "");
    size_t i;
    const json_t *pip;
    json_array_foreach(member_at(e, "virtualMachine.network.publicIpAddresses"), i, pip)
    {
        out = fmt_str("%s%s%s", out, *out ? "," : "", member_text(pip, "ipAddress"));
    }
    return *out ? out : NULL;
}

static const char *ip_ports(const json_t *e)
{
    char *out = fmt_str("%s", "");
    size_t i, k;
    const json_t *pip, *port;
    json_array_foreach(member_at(e, "virtualMachine.network.publicIpAddresses"), i, pip)
    {
        json_array_foreach(json_object_get(pip, "ports"), k, port)
        {
            out = fmt_str("%s%s%s/%lld->%lld", out, *out ? "," : "",
                          lower(member_text(port, "protocol")), member_int(port, "port"),
                          member_int(port, "hostPort"));
        }
    }
    return *out ? out : NULL;
}

static const struct column ip_columns[] = {
    COL_GET_RAW("VirtualMachine", ip_vm, "virtualMachine.name"),
    COL_GET("PublicIPAddresses", ip_public),
    COL("PrivateIPAddresses", "virtualMachine.network.privateIpAddresses", CELL_LIST),
    COL_GET("PublicPorts", ip_ports),
    {0},
};

/* az vm list-ip-addresses: the VMs' private and public IPs (and here the
 * host ports of the public IPs), from the VMs' JSON. */
static int vm_list_ips(struct cli *c, struct args *a)
{
    json_t *vms;
    enum group_column group;
    int rc = fetch_scoped(c, a, "virtualMachines", &vms, &group);
    if (rc) return rc;
    const char *only = arg_str(a, "name");
    json_t *out = json_array();
    size_t i, k;
    const json_t *vm, *nic;
    json_array_foreach(vms, i, vm)
    {
        if (only && strcasecmp(only, member_text(vm, "name")) != 0) continue;
        json_t *priv = json_array(), *pub = json_array();
        json_array_foreach(json_object_get(vm, "networkInterfaces"), k, nic)
        {
            if (member_str(nic, "privateIp"))
                json_array_append_new(priv, json_string(member_str(nic, "privateIp")));
            const json_t *pip = json_object_get(nic, "publicIp");
            if (json_is_object(pip))
                json_array_append_new(pub, json_pack("{s:s?, s:s?, s:s?, s:O*}", "name",
                                                     member_str(pip, "name"), "ipAddress",
                                                     member_str(pip, "ipAddress"), "resourceGroup",
                                                     member_str(vm, "resourceGroup"), "ports",
                                                     json_object_get(pip, "ports")));
        }
        json_array_append_new(out, json_pack("{s:{s:s?, s:s?, s:{s:o, s:o}}}", "virtualMachine",
                                             "name", member_str(vm, "name"), "resourceGroup",
                                             member_str(vm, "resourceGroup"), "network",
                                             "privateIpAddresses", priv, "publicIpAddresses", pub));
    }
    json_decref(vms);
    if (only && json_array_size(out) == 0) {
        fprintf(stderr, "%s: error: virtual machine '%s' not found%s [NotFound]\n", c->prog, only,
                group == GROUP_ONE ? " in that group" : "");
        json_decref(out);
        return KX_NOTFOUND;
    }
    (void)group;
    print_items(c, out, ip_columns, GROUP_NONE);
    json_decref(out);
    return KX_OK;
}

static int vm_history(struct cli *c, struct args *a)
{
    char *p = res_path(c, a, &vm_resource, true, NULL, NULL);
    if (!p) return KX_USAGE;
    int rc = list_path(c, fmt_str("%s/history", p), history_columns);
    free(p);
    return rc;
}

static int vm_update(struct cli *c, struct args *a)
{
    char *p = res_path(c, a, &vm_resource, true, NULL, NULL);
    if (!p) return KX_USAGE;
    json_t *body = json_object();
    bool changed;
    int rc = tags_update(c, a, p, body, &changed);
    if (rc || !changed) {
        free(p);
        json_decref(body);
        return rc ? rc
                  : usage_error(c, "nothing to change: give --set tags.KEY=VALUE, --add-tags "
                                   "KEY=VALUE, --remove tags.KEY or --tags KEY=VALUE ...");
    }
    json_t *vm;
    rc = api(c, "PATCH", p, body, &vm);
    free(p);
    if (rc) return rc;
    print_vm(c, vm, true);
    json_decref(vm);
    return KX_OK;
}

/* ---- data disks ---- */

static int disk_attach(struct cli *c, struct args *a)
{
    const char *g = need_group(c, a);
    if (!g) return KX_USAGE;
    const char *vmn = need_opt(c, a, "vm-name", "the VM to attach the disk to");
    if (!vmn) return KX_USAGE;
    const char *disk = arg_str(a, "name");
    bool isnew = arg_has(a, "new");
    long gb = 0, lun = -1;
    int r = arg_long(c, a, "size-gb", 1, 32767, &gb);
    if (r < 0 || arg_long(c, a, "lun", 0, 5, &lun) < 0) return KX_USAGE;
    json_t *body;
    if (isnew) {
        if (!gb) return usage_error(c, "--new needs --size-gb N: the new disk's size");
        body = json_pack("{sI}", "sizeGiB", (json_int_t)gb);
        if (disk) json_object_set_new(body, "name", json_string(disk));
        if (arg_str(a, "sku")) json_object_set_new(body, "tier", json_string(arg_str(a, "sku")));
    } else {
        if (!disk)
            return usage_error(c, "name the disk to attach with -n DISK, or make a new one with "
                                  "--new --size-gb N");
        if (gb || arg_has(a, "sku"))
            return usage_error(c, "--size-gb and --sku are for a new disk (--new); an existing "
                                  "disk keeps its size and tier ('kumo disk update' changes "
                                  "them)");
        body = json_pack("{ss}", "disk", disk);
    }
    if (arg_str(a, "caching"))
        json_object_set_new(body, "caching", json_string(arg_str(a, "caching")));
    if (lun >= 0) json_object_set_new(body, "lun", json_integer(lun));
    char *p = vm_path(g, vmn);
    json_t *vm;
    int rc = api(c, "POST", fmt_str("%s/dataDisks", p), body, &vm);
    free(p);
    if (rc) return rc;
    print_vm(c, vm, true);
    json_decref(vm);
    return KX_OK;
}

static int disk_detach(struct cli *c, struct args *a)
{
    const char *g = need_group(c, a);
    if (!g) return KX_USAGE;
    const char *vmn = need_opt(c, a, "vm-name", "the VM to detach the disk from");
    if (!vmn) return KX_USAGE;
    long lun = -1;
    if (arg_long(c, a, "lun", 0, 5, &lun) < 0) return KX_USAGE;
    const char *disk = arg_str(a, "name");
    if ((lun >= 0) == (disk != NULL))
        return usage_error(c, "say which disk: -n DISK or --lun N (one of them)");
    char *p = vm_path(g, vmn);
    int rc;
    if (disk) { /* find its LUN */
        json_t *vm;
        rc = api(c, "GET", p, NULL, &vm);
        if (rc) {
            free(p);
            return rc;
        }
        size_t i;
        const json_t *d;
        json_array_foreach(json_object_get(vm, "dataDisks"), i, d)
        {
            if (strcasecmp(member_text(d, "name"), disk) == 0) lun = member_int(d, "lun");
        }
        json_decref(vm);
        if (lun < 0) {
            free(p);
            fprintf(stderr,
                    "%s: error: disk '%s' is not a data disk of VM '%s' ('kumo vm show -g "
                    "%s %s' lists them)\n",
                    c->prog, disk, vmn, g, vmn);
            return KX_NOTFOUND;
        }
    }
    json_t *vm;
    rc = api(c, "DELETE", fmt_str("%s/dataDisks/%ld", p, lun), NULL, &vm);
    free(p);
    if (rc) return rc;
    print_vm(c, vm, true);
    json_decref(vm);
    return KX_OK;
}

/* ---- the command table ---- */

const struct resource vm_resource = {
    .what = "VM",
    .collection = "virtualMachines",
    .scope = RES_GROUP,
    .columns = vm_columns,
    .view = vm_view,
};

static const struct opt gn_opts[] = {OPT_G("VM"), OPT_N("VM"), {0}};

static const struct opt create_opts[] = {
    OPT_G("VM"),
    {"name", 'n', OPT_VALUE, "NAME", "the VM's name, also the guest's host name", "name"},
    {"size", 0, OPT_VALUE, "SIZE", "vCPUs and memory: a size from 'kumo size list', e.g. B1s",
     "size"},
    {"image", 0, OPT_VALUE, "IMAGE",
     "what it boots: an image's name, alias or URN from 'kumo image list' (default: default, "
     "kumo's Linux guest; e.g. Debian13 or Debian:debian-13:13:latest)",
     "image"},
    OPT_OS_PROFILE("its"),
    {"vnet|vnet-name", 0, OPT_VALUE, "VNET",
     "virtual network of its NIC (default NAME-vnet, made with 10.0.0.0/16 if missing)", "vnet"},
    {"subnet", 0, OPT_VALUE, "SUBNET", "subnet of that network (default: default, 10.0.0.0/24)",
     "subnet"},
    {"private-ip|private-ip-address", 0, OPT_VALUE, "IP",
     "a static private IP (default: the subnet's next free one)", "privateIp"},
    {"nsg|network-security-group", 0, OPT_VALUE, "NSG",
     "network security group of its NIC (default NAME-nsg, made with SSH allowed if missing); "
     "\"\" for none",
     "nsg"},
    {"no-nsg", 0, OPT_FLAG, NULL, "no NSG on its NIC (the subnet's NSG, if any, still applies)",
     "nsg"},
    {"public-ip", 0, OPT_FLAG, NULL,
     "give it a new public IP NAME-ip (TCP 22, 80 and 443 forwarded from host ports)", "publicIp"},
    {"public-ip-name|public-ip-address", 0, OPT_VALUE, "NAME",
     "use this public IP (made with the default ports if missing)", "publicIp"},
    {"nics", 0, OPT_LIST, "NIC", "existing NICs instead of the implicit network (at most 4)",
     "networkInterfaces"},
    {"os-disk-tier|storage-sku", 0, OPT_VALUE, "TIER",
     "Standard_HDD, Standard_SSD (default) or Premium_SSD", "osDisk.tier"},
    {"os-disk-size-gb", 0, OPT_VALUE, "GIB", "OS disk size (default: the image's, at least 4)",
     "osDisk"},
    {"os-disk-caching", 0, OPT_VALUE, "MODE",
     "OS disk host caching: None, ReadOnly or ReadWrite (default)", "osDisk.caching"},
    {"data-disk-sizes-gb", 0, OPT_LIST, "GIB",
     "new empty data disks NAME-data0, NAME-data1... of "
     "these sizes",
     "dataDisks"},
    {"data-disk-tier", 0, OPT_VALUE, "TIER", "tier of those new data disks (default Standard_SSD)",
     "dataDisks"},
    {"attach-data-disks", 0, OPT_LIST, "DISK", "existing disks to attach as data disks",
     "dataDisks"},
    {"data-disk-caching", 0, OPT_VALUE, "MODE",
     "host caching of those data disks: None, ReadOnly or ReadWrite (default: ReadOnly on "
     "Premium_SSD, else None)",
     "dataDisks"},
    {"user-data|custom-data", 0, OPT_VALUE, "FILE",
     "user data (up to 64 KiB; '-' reads stdin), kept with "
     "the VM",
     "userData"},
    {"dedicated", 0, OPT_FLAG, NULL,
     "run on host cores of its own (one per vCPU) that no other VM shares", "dedicated"},
    {"host", 0, OPT_VALUE, "HOST", "run on this host of the cluster (kumo host list)", "host"},
    OPT_TAGS("tags"),
    {0},
};

static const struct opt stop_opts[] = {
    OPT_G("VM"),
    OPT_N("VM"),
    {"skip-shutdown", 0, OPT_FLAG, NULL,
     "power off at once, without asking the guest to shut down first", "query.skipShutdown"},
    {0},
};
static const struct opt deallocate_opts[] = {
    OPT_G("VM"),
    OPT_N("VM"),
    {"skip-shutdown", 0, OPT_FLAG, NULL,
     "power off at once, without asking the guest to shut down first", "query.skipShutdown"},
    {"hibernate", 0, OPT_FLAG, NULL,
     "save the VM's memory and state first: 'kumo vm start' resumes it where it was",
     "query.hibernate"},
    {0},
};

static const struct opt resize_opts[] = {
    OPT_G("VM"),
    OPT_N("VM"),
    {"size", 0, OPT_VALUE, "SIZE", "the new size ('kumo size list')", "size"},
    {"restart", 0, OPT_FLAG, NULL, "a Running VM: stop it, resize, start it again", "restart"},
    {0},
};

static const struct opt delete_opts[] = {
    OPT_G("VM"),
    OPT_N("VM"),
    {"keep-disks", 0, OPT_FLAG, NULL, "detach and keep all its disks, the OS disk too", NULL},
    {"delete-data-disks", 0, OPT_FLAG, NULL,
     "also delete the data disks that were attached after its create", "query.deleteDataDisks"},
    {0},
};

static const struct opt run_command_opts[] = {
    OPT_G("VM"),
    OPT_N("VM"),
    {"script|scripts", 0, OPT_LIST, "COMMANDS",
     "the commands (sh, as root, in /root); several: one line each; @FILE or - reads them "
     "(16 KiB at most)",
     "script"},
    {"timeout", 0, OPT_VALUE, "SECONDS",
     "kill the commands after this long (1-3600, default 90); exit code 5 then", "timeoutSeconds"},
    {0},
};

static const struct opt run_show_opts[] = {
    OPT_G("VM"),
    OPT_N("VM"),
    {"id", 0, OPT_VALUE, "ID", "one run (else: the VM's last 20)", NULL},
    {0},
};

static const struct opt open_port_opts[] = {
    OPT_G("VM"),
    OPT_N("VM"),
    {"port", 0, OPT_VALUE, "PORT", "the port of the VM to let in (1-65535)", "port"},
    {"priority", 0, OPT_VALUE, "N",
     "the rule's priority, 100-4096 (default: the lowest free one from 900)", "priority"},
    {"protocol", 0, OPT_VALUE, "PROTO", "Tcp (default) or Udp", "protocol"},
    {0},
};

static const struct opt log_opts[] = {
    OPT_G("VM"),
    OPT_N("VM"),
    {"lines|tail", 0, OPT_VALUE, "N", "only the last N lines (--tail is the same)", "query.tail"},
    {"follow", 'f', OPT_FLAG, NULL, "keep printing what the VM writes (Ctrl-C ends)", NULL},
    {0},
};

static const struct opt console_opts[] = {
    OPT_G("VM"),
    OPT_N("VM"),
    {"linger", 0, OPT_VALUE, "SECONDS",
     "when stdin is not a terminal: after its end, leave once the guest is back at its prompt "
     "and quiet this long (default 1)",
     NULL},
    {"settle", 0, OPT_VALUE, "SECONDS",
     "when stdin is not a terminal: for a guest without a shell prompt, this long without "
     "output stands for one (default 10)",
     NULL},
    {0},
};

static const struct opt update_opts[] = {
    OPT_G("VM"),     OPT_N("VM"), OPT_TAGS("replace every tag (\"\" alone clears them)"),
    OPT_TAG_UPDATES, {0},
};

static const struct opt attach_opts[] = {
    OPT_G("VM"),
    {"vm-name", 0, OPT_VALUE, "VM", "the VM (Stopped or Deallocated: no disk hot-plug yet)", NULL},
    {"name", 'n', OPT_VALUE, "DISK", "an existing disk to attach (or the new disk's name)",
     "disk|name"},
    {"new", 0, OPT_FLAG, NULL, "make a new empty disk", NULL},
    {"size-gb", 0, OPT_VALUE, "GIB", "the new disk's size", "sizeGiB"},
    {"sku", 0, OPT_VALUE, "TIER", "the new disk's tier: Standard_HDD, Standard_SSD, Premium_SSD",
     "tier"},
    {"lun", 0, OPT_VALUE, "N", "logical unit number 0-5 (default: the next free one)", "lun"},
    {"caching", 0, OPT_VALUE, "MODE",
     "host caching: None, ReadOnly or ReadWrite (default: the disk's, else ReadOnly on "
     "Premium_SSD, else None)",
     "caching"},
    {0},
};

static const struct opt detach_opts[] = {
    OPT_G("VM"),
    {"vm-name", 0, OPT_VALUE, "VM", "the VM (Stopped or Deallocated)", NULL},
    {"name", 'n', OPT_VALUE, "DISK", "the data disk to detach", NULL},
    {"lun", 0, OPT_VALUE, "N", "or its logical unit number", NULL},
    {0},
};

#define GN "-g RG -n NAME"

static const struct cmd create_c = {
    .name = "create",
    .summary = "Create a VM, with its network, disks and public IP",
    .usage = "-g RG -n NAME --size SIZE [--image IMAGE] [--vnet V --subnet S] [--nsg N] "
             "[--public-ip] [--os-disk-tier TIER] [--data-disk-sizes-gb GIB ...] [--user-data "
             "FILE] [--dedicated] [--no-wait]",
    .help = "Create a virtual machine: you choose its size (vCPUs, memory, price), image, "
            "storage and networking, and kumod places it on a host with room, makes its OS "
            "disk (a copy-on-write overlay of the image) and boots it.\n"
            "As az vm create does, what you do not name is made for you in the same step: the "
            "virtual network NAME-vnet (10.0.0.0/16, subnet default 10.0.0.0/24), the network "
            "security group NAME-nsg allowing SSH, the NIC NAME-nic and, with --public-ip, the "
            "public IP NAME-ip. kumo waits until the VM runs (a progress line on a terminal) "
            "and prints it with its IPs.",
    .opts = create_opts,
    .run = vm_create,
    .positionals = 1,
    .waits = true,
    .examples = "  kumo vm create -g web -n web1 --size B1s --public-ip\n"
                "  kumo vm create -g web -n db1 --size E2s_v5 --os-disk-tier Premium_SSD \\\n"
                "      --data-disk-sizes-gb 8 16 --data-disk-tier Premium_SSD --vnet web1-vnet\n"
                "  kumo vm create -g web -n batch1 --size F2s_v2 --no-wait -o json\n"
                "  kumo vm create -g db -n db1 --size D2s_v5 --dedicated\n",
};
static const struct cmd list_c = {
    .name = "list",
    .summary = "List VMs with their state and IPs",
    .help = "List the VMs of a resource group (-g or $KUMO_GROUP), or of every group.",
    .opts = group_filter_opts,
    .run = res_list,
    .res = &vm_resource};
static const struct cmd show_c = {
    .name = "show",
    .summary = "Show a VM: size, state, IPs, disks",
    .usage = GN " [-d]",
    .help = "Show a VM. -d (--show-details) adds az's detail fields to its JSON: privateIps, "
            "publicIps and macAddresses (comma-separated) and fqdns; the table view shows them "
            "always.",
    .opts = (const struct opt[]){OPT_G("VM"),
                                 OPT_N("VM"),
                                 {"show-details", 'd', OPT_FLAG, NULL,
                                  "add privateIps, publicIps, macAddresses and fqdns to the JSON",
                                  NULL},
                                 {0}},
    .run = vm_show,
    .positionals = 1};
static const struct cmd list_ips_c = {
    .name = "list-ip-addresses",
    .summary = "List the VMs' private and public IPs",
    .usage = "[-g RG] [-n NAME]",
    .help = "The private and public IP addresses of the VMs of a group (or of every group), "
            "and the host ports their public IPs forward, as az vm list-ip-addresses.",
    .opts = (const struct opt[]){OPT_G_FILTER,
                                 {"name", 'n', OPT_VALUE, "NAME", "only this VM", NULL},
                                 {0}},
    .run = vm_list_ips};
static const struct cmd start_c = {
    .name = "start",
    .summary = "Start a Stopped or Deallocated VM",
    .usage = GN,
    .help = "Start a VM. A Deallocated one is placed on a host again (exit code 4 when no host "
            "has room).",
    .opts = gn_opts,
    .run = vm_start,
    .positionals = 1,
    .waits = true};
static const struct cmd stop_c = {
    .name = "stop",
    .summary = "Power a VM off; it stays allocated and billed",
    .help = "Power a Running VM off. kumod first asks the guest to shut down (the power "
            "button of its virtio console; kumo's default guest stops its programs, syncs and "
            "powers off) and waits for it up to kumod's --shutdown-timeout (30 s), then powers "
            "it off; --skip-shutdown powers it off at once. Like a stopped Azure VM it keeps "
            "its host reservation (vCPUs and memory) and is still billed; 'kumo vm deallocate' "
            "releases it.",
    .usage = GN " [--skip-shutdown]",
    .opts = stop_opts,
    .run = vm_stop,
    .positionals = 1,
    .waits = true};
static const struct cmd deallocate_c = {
    .name = "deallocate",
    .summary = "Power a VM off and release its host: billing stops",
    .help = "Power a VM off (if it runs; the guest is asked to shut down first, as by 'kumo vm "
            "stop') and release its vCPUs and memory on the host: it is no longer billed (its "
            "disks and public IP still are). With --hibernate a Running VM is not shut down: "
            "its whole state (memory, processes, devices) is saved first, and 'kumo vm start' "
            "resumes it where it was, its processes and uptime going on; the saved state is "
            "billed as storage meanwhile.",
    .usage = GN " [--skip-shutdown | --hibernate]",
    .opts = deallocate_opts,
    .run = vm_deallocate,
    .positionals = 1,
    .waits = true};
static const struct cmd restart_c = {.name = "restart",
                                     .summary = "Restart a Running VM",
                                     .usage = GN,
                                     .opts = gn_opts,
                                     .run = vm_restart,
                                     .positionals = 1,
                                     .waits = true};
static const struct cmd migrate_c = {
    .name = "migrate",
    .summary = "Live-migrate a Running VM to a new kumo-vmm process",
    .usage = GN,
    .help = "Move a Running VM to a new kumo-vmm process on its host while it runs: its memory "
            "is copied while the guest works, then the guest is paused for the last pages and "
            "its devices (milliseconds) and goes on in the new process, its processes, network "
            "connections and uptime intact (docs/vmstate.md, \"Live migration\"). For a VMM "
            "upgrade without a restart. A failed migration leaves the VM running where it was; "
            "'kumo vm history' says what happened and how long the guest was paused.",
    .opts = gn_opts,
    .run = vm_migrate,
    .positionals = 1,
    .waits = true};
static const struct cmd resize_c = {
    .name = "resize",
    .summary = "Change a VM's size (vertical scaling)",
    .usage = GN " --size SIZE [--restart]",
    .help = "Give a VM another size. As on Azure, vertical scaling needs a restart: a Running "
            "VM is resized only with --restart (kumod stops it, changes the size and starts "
            "it); a Stopped or Deallocated one is resized at once.",
    .opts = resize_opts,
    .run = vm_resize,
    .positionals = 1,
    .waits = true,
    .examples = "  kumo vm resize -g web -n web1 --size B2s --restart\n"};
static const struct cmd delete_c = {
    .name = "delete",
    .summary = "Delete a VM, its OS disk and what its create made",
    .usage = GN " [--delete-data-disks | --keep-disks] [--yes]",
    .help = "Power off and delete a VM with what its create made: its OS disk, the data disks "
            "of its create (--data-disk-sizes-gb), its NIC and public IP. A disk attached "
            "later, or an existing one attached at create (--attach-data-disks), is detached "
            "and kept, as az does; --delete-data-disks deletes every attached disk, "
            "--keep-disks keeps every disk, the OS disk too. Virtual networks and NSGs are "
            "kept. On a terminal kumo first asks, naming what goes and what stays; without "
            "one (a script, a pipe) it needs --yes and refuses otherwise (exit code 2).",
    .opts = delete_opts,
    .run = vm_delete,
    .positionals = 1,
    .waits = true,
    .confirms = true};
static const struct cmd console_c = {
    .name = "console",
    .summary = "Attach to a VM's serial console (Ctrl-] detaches)",
    .usage = GN " [--linger SECONDS] [--settle SECONDS]",
    .help = "Connect this terminal to the VM's serial console (the unix socket kumod gives in "
            "the VM's instanceView.consoleSocket; it must be on this machine). The terminal "
            "is in raw mode: everything, Ctrl-C included, goes to the guest. Ctrl-] detaches; "
            "so does Ctrl-A x (Ctrl-A a sends a Ctrl-A). The VM keeps running.\n"
            "When stdin is not a terminal, kumo waits until the guest shows a shell prompt (a "
            "line ending in '# ', '$ ', '> ' or '% '; a VM just started or restarted is still "
            "booting, and what is sent before Linux's serial driver is up is lost), sends stdin "
            "and prints what comes back until the guest is back at its prompt and quiet for "
            "--linger seconds after the end of stdin: echo 'uname -a' | kumo vm console -g RG "
            "NAME. The console serves one client at a time.",
    .opts = console_opts,
    .run = vm_console,
    .positionals = 1};
static const struct cmd run_command_c = {
    .name = "run-command",
    .summary = "Run commands in a VM's guest; their output and exit status come back",
    .usage = GN " --script 'COMMANDS' [--timeout SECONDS]",
    .help = "Run commands in a Running VM's guest, as az vm run-command invoke does, through "
            "the guest's agent on kumo's virtio channel (no network, no SSH: the default "
            "image's init answers it). They run with sh, as root, in /root, with stdin "
            "/dev/null; kumo prints what they wrote to stdout and stderr (the last 8 KiB of "
            "each) and exits with their exit status, as ssh does (kumo's own exit codes mean "
            "kumo failed: 5 when they ran longer than --timeout and were killed). A VM just "
            "started is waited for until its guest answers (up to 3 minutes). One command at "
            "a time per VM; 'kumo vm run-commands' lists the last ones.",
    .opts = run_command_opts,
    .run = vm_run_command,
    .positionals = 1,
    .examples = "  kumo vm run-command -g web -n web1 --script 'uname -a'\n"
                "  kumo vm run-command -g web -n web1 --script @setup.sh --timeout 600\n"
                "  kumo vm run-command -g web -n web1 --script 'httpd -p 8080 -h /www' -o json\n"};
static const struct cmd runs_c = {
    .name = "run-commands",
    .summary = "A VM's last run commands, or one of them (--id)",
    .usage = GN " [--id ID]",
    .help = "List the last 20 commands run in a VM by 'kumo vm run-command' (their status and "
            "exit status), or show one with its output.",
    .opts = run_show_opts,
    .run = vm_run_list,
    .positionals = 1};
static const struct cmd open_port_c = {
    .name = "open-port",
    .summary = "Let a port of a VM in from the Internet, live",
    .usage = GN " --port PORT [--priority N] [--protocol Udp]",
    .help = "Open a port of a VM, as az vm open-port does, and forward it: an inbound rule "
            "open-port-PORT allowing it from anywhere in each network security group that "
            "would drop it (the VM's subnet's and its NIC's), and the port on the VM's public "
            "IP (a public IP NAME-ip is made for it when the VM has none; it goes with the "
            "VM). Live: the VM is not restarted. 'kumo vm show' marks the forwarded ports an "
            "NSG still blocks.",
    .opts = open_port_opts,
    .run = vm_open_port,
    .positionals = 1,
    .examples = "  kumo vm open-port -g web -n web1 --port 8080\n"
                "  kumo vm open-port -g web -n web1 --port 53 --protocol Udp --priority 300\n"};
static const struct cmd ssh_c = {
    .name = "ssh",
    .summary = "Log into a VM with ssh, through its public IP",
    .usage = GN " [--user NAME] [-i KEY] [--ssh-arg=ARG ...] [-- COMMAND ...]",
    .help = "Run the system's ssh to the VM, as az ssh vm does: kumo finds the host port its "
            "public IP forwards to TCP 22 and its admin account (made at its create from "
            "--admin-username and the SSH keys), and ssh logs in with your key. A VM's host "
            "keys are remembered in known_hosts under its vmId (trusted at the first login). "
            "Its NSG decides: a rule denying TCP 22 refuses the connection. Words after -- are "
            "the command to run there; kumo's exit status is then ssh's (the command's).",
    .opts =
        (const struct opt[]){OPT_G("VM"),
                             OPT_N("VM"),
                             {"user|local-user", 0, OPT_VALUE, "NAME",
                              "log in as NAME (default: the VM's admin account)", NULL},
                             {"private-key-file", 'i', OPT_VALUE, "FILE",
                              "the private key (default: ssh's own, ~/.ssh/id_*)", NULL},
                             {"ssh-arg", 0, OPT_LIST, "ARG",
                              "more arguments for ssh, e.g. --ssh-arg=-L8080:localhost:80", NULL},
                             {0}},
    .run = vm_ssh,
    .positionals = MAX_POS,
    .examples = "  kumo vm ssh -g web web1\n"
                "  kumo vm ssh -g web web1 -- sudo apt-get install -y nginx\n"};
static const struct cmd log_c = {
    .name = "log",
    .summary = "Print the boot diagnostics (serial console) log",
    .usage = GN " [--lines N] [--follow]",
    .help = "Print everything the VM has written to its serial console since it was created "
            "(the boot, and later output), as kept by kumod.",
    .opts = log_opts,
    .run = vm_log,
    .positionals = 1};
static const struct cmd history_c = {.name = "history",
                                     .summary = "The VM's state changes, oldest first",
                                     .usage = GN,
                                     .opts = gn_opts,
                                     .run = vm_history,
                                     .positionals = 1};
static const struct cmd update_c = {
    .name = "update",
    .summary = "Change a VM's tags",
    .usage = GN " (--set tags.K=V ... | --add-tags K=V ... | --remove tags.K ... | --tags K=V ...)",
    .help = "Change a VM's tags: --set tags.KEY=VALUE and --add-tags KEY=VALUE add or change "
            "tags and keep the others (az's --set), --remove tags.KEY drops one; --tags "
            "replaces them all.",
    .opts = update_opts,
    .run = vm_update,
    .positionals = 1,
    .examples = "  kumo vm update -g web -n web1 --set tags.owner=ops\n"
                "  kumo vm update -g web -n web1 --remove tags.owner\n"};
static const struct cmd attach_c = {
    .name = "attach",
    .summary = "Attach an existing or new data disk",
    .usage = "-g RG --vm-name VM (-n DISK | --new --size-gb GIB [--sku TIER] [-n NAME]) [--lun N]",
    .help = "Attach a data disk to a Stopped or Deallocated VM (kumo-vmm has no disk "
            "hot-plug yet): an existing disk of the group, or a new empty one.",
    .opts = attach_opts,
    .run = disk_attach,
    .examples = "  kumo vm disk attach -g web --vm-name web1 --new --size-gb 16 --sku Premium_SSD\n"
                "  kumo vm disk attach -g web --vm-name web1 -n data1 --lun 1\n"};
static const struct cmd detach_c = {
    .name = "detach",
    .summary = "Detach a data disk (the disk is kept)",
    .usage = "-g RG --vm-name VM (-n DISK | --lun N)",
    .help = "Detach a data disk from a Stopped or Deallocated VM; the disk stays in the group.",
    .opts = detach_opts,
    .run = disk_detach};
static const struct cmd vmdisk_c = {
    .name = "disk",
    .summary = "Attach and detach data disks",
    .sub = (const struct cmd *const[]){&attach_c, &detach_c, NULL},
};

const struct cmd cmd_vm = {
    .name = "vm",
    .summary = "Virtual machines: create, list, show, start, stop, deallocate, restart, "
               "resize, delete, console, ssh, log",
    .help = "Virtual machines. A VM is billed per second by its size while it is allocated "
            "(Starting, Running, Stopping, Stopped); Deallocated VMs are not billed.",
    .sub = (const struct cmd *const[]){&create_c, &list_c, &show_c, &list_ips_c, &start_c, &stop_c,
                                       &deallocate_c, &restart_c, &migrate_c, &resize_c, &delete_c,
                                       &run_command_c, &runs_c, &open_port_c, &console_c, &ssh_c,
                                       &log_c, &history_c, &update_c, &vmdisk_c, NULL},
    .examples = "  kumo vm create -g web -n web1 --size B1s --public-ip\n"
                "  kumo vm list -g web\n"
                "  kumo vm stop -g web web1\n",
};
