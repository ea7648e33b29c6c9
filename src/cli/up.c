/*
 * up.c - kumo up: "a VM of mine, running, and its console", in one
 * command, as scripts/run.sh (the README's main job) uses it.
 *
 * It makes sure the resource group and the VM exist (creating them with the
 * defaults on first use: the image `default`, a 2-vCPU size that fits the
 * location, the implicit network with a public IP so that SSH has a host
 * port), starts the VM if it is Stopped or Deallocated, prints it with its
 * IPs and ports and, with --console, attaches to its serial console. The VM
 * and its OS disk outlive the command: the next `kumo up` finds them again.
 */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SETTLE_DEFAULT 10.0 /* seconds of console quiet that stand for a prompt */

static bool is(const char *a, const char *b)
{
    return a && strcmp(a, b) == 0;
}

/*
 * The size of a new VM: of the sizes that fit the location's free vCPUs
 * and memory, a 2-vCPU one with the least memory (then one that is not
 * burstable, then the cheapest); when
 * no 2-vCPU size fits, the fitting size with the least memory. NULL (and
 * *rc) after an error; "F2s_v2" when nothing fits (kumod then explains what
 * is short).
 */
static const char *pick_size(struct cli *c, const char *location, int *rc)
{
    json_t *sizes, *loc;
    *rc = api(c, "GET", "/sizes", NULL, &sizes);
    if (*rc) return NULL;
    char *lp = api_path("/locations/%s", location);
    *rc = api(c, "GET", lp, NULL, &loc);
    free(lp);
    if (*rc) {
        json_decref(sizes);
        return NULL;
    }
    const json_t *avail = json_object_get(loc, "available");
    long long free_cpus = member_int(avail, "vcpus"), free_mib = member_int(avail, "memoryMiB");
    const json_t *best = NULL, *s;
    size_t i;
    json_array_foreach(json_object_get(sizes, "value"), i, s)
    {
        if (member_int(s, "vcpus") > free_cpus || member_int(s, "memoryMiB") > free_mib) continue;
        if (!best) {
            best = s;
            continue;
        }
        bool two = member_int(s, "vcpus") == 2, best_two = member_int(best, "vcpus") == 2;
        if (two != best_two) {
            if (two) best = s;
            continue;
        }
        if (member_int(s, "memoryMiB") != member_int(best, "memoryMiB")) {
            if (member_int(s, "memoryMiB") < member_int(best, "memoryMiB")) best = s;
            continue;
        }
        /* not burstable: a VM for interactive use is not held to a baseline
         * when its credits run out */
        bool burst = !json_is_null(json_object_get(s, "burstable"));
        bool best_burst = !json_is_null(json_object_get(best, "burstable"));
        if (burst != best_burst) {
            if (!burst) best = s;
            continue;
        }
        if (member_num(s, "pricePerHour") < member_num(best, "pricePerHour")) best = s;
    }
    const char *name = best ? fmt_str("%s", member_text(best, "name")) : "F2s_v2";
    if (best && member_int(best, "vcpus") != 2)
        fprintf(stderr,
                "%s: note: no 2-vCPU size fits the free capacity of location %s (%lld vCPUs, "
                "%lld MiB free); using %s\n",
                c->prog, location, free_cpus, free_mib, name);
    json_decref(sizes);
    json_decref(loc);
    return name;
}

/* The size of a VM's console log now (0 if it has none yet). */
static long long log_size(const json_t *vm)
{
    const char *log = member_str(json_object_get(vm, "instanceView"), "bootDiagnosticsLog");
    struct stat st;
    return log && stat(log, &st) == 0 ? (long long)st.st_size : 0;
}

static int vm_up(struct cli *c, struct args *a)
{
    const char *g = arg_str(a, "resource-group");
    if (!g || !*g) g = getenv("KUMO_GROUP");
    if (!g || !*g) g = "default";
    const char *n = arg_str(a, "name");
    if (n && a->npos && strcmp(n, a->pos[0]) != 0)
        return usage_error(c, "two names given: -n %s and '%s'", n, a->pos[0]);
    if (!n && a->npos) n = a->pos[0];
    if (!n || !*n) n = "default";
    bool console = arg_has(a, "console");
    struct attach_opts o = {
        .linger = 1.0, .prompt = true, .settle = SETTLE_DEFAULT, .quiet_close = true};
    if (arg_double(c, a, "linger", 0, 3600, &o.linger) < 0 ||
        arg_double(c, a, "settle", 0, 600, &o.settle) < 0)
        return KX_USAGE;
    if (!console && (arg_has(a, "linger") || arg_has(a, "settle")))
        return usage_error(c, "--linger and --settle are for the console: add --console");
    if (arg_has(a, "no-public-ip") && arg_has(a, "public-ip-name"))
        return usage_error(c, "--no-public-ip and --public-ip-name contradict each other");

    /* the resource group */
    char *gp = api_path("/resourceGroups/%s", g);
    json_t *grp;
    int found = api_get_maybe(c, gp, &grp);
    free(gp);
    if (found < 0) return -found;
    if (!found) {
        json_t *body = json_pack("{ss}", "name", g);
        if (arg_str(a, "location"))
            json_object_set_new(body, "location", json_string(arg_str(a, "location")));
        int rc = api(c, "POST", "/resourceGroups", body, &grp);
        if (rc) return rc;
        fprintf(stderr, "%s: created resource group '%s' in location %s\n", c->prog, g,
                member_text(grp, "location"));
    }
    const char *location = fmt_str("%s", member_text(grp, "location"));
    json_decref(grp);

    /* the VM */
    char *vp = res_path_of(&vm_resource, g, NULL, n);
    const char *what = fmt_str("VM '%s'", n);
    const char *show = fmt_str("kumo vm show -g %s %s", g, n);
    json_t *vm;
    int rc = KX_OK;
    bool started = false;
    long long boot_from = 0;
    found = api_get_maybe(c, vp, &vm);
    if (found < 0) {
        free(vp);
        return -found;
    }
    if (!found) {
        const char *size = arg_size(a);
        if (!size || !*size) size = pick_size(c, location, &rc);
        if (!size) {
            free(vp);
            return rc;
        }
        json_t *body = json_pack("{ss ss}", "name", n, "size", size);
        if (arg_str(a, "image"))
            json_object_set_new(body, "image", json_string(arg_str(a, "image")));
        if (os_profile_into(c, a, body, arg_str(a, "image")) < 0) {
            json_decref(body);
            free(vp);
            return KX_USAGE;
        }
        if (arg_str(a, "public-ip-name"))
            json_object_set_new(body, "publicIp", json_string(arg_str(a, "public-ip-name")));
        else if (!arg_has(a, "no-public-ip"))
            json_object_set_new(body, "publicIp", json_true());
        fprintf(stderr, "%s: creating VM '%s' in resource group '%s': size %s, image %s%s\n",
                c->prog, n, g, size, arg_str(a, "image") ? arg_str(a, "image") : "default",
                arg_has(a, "no-public-ip") ? "" : ", with a public IP (SSH on a host port)");
        char *coll = res_path_of(&vm_resource, g, NULL, NULL);
        json_t *accepted;
        rc = api(c, "POST", coll, body, &accepted);
        free(coll);
        if (rc) {
            free(vp);
            return rc;
        }
        json_decref(accepted);
        rc = api_wait(c, vp, what, show, false, &vm);
        started = true;
    } else {
        if (arg_has(a, "size") || arg_has(a, "image") || arg_has(a, "no-public-ip") ||
            arg_has(a, "public-ip-name") || arg_has(a, "admin-username") ||
            arg_has(a, "ssh-key-value") || arg_has(a, "generate-ssh-keys") ||
            arg_has(a, "admin-password"))
            fprintf(stderr,
                    "%s: note: VM '%s' exists already: --size, --image, the public IP and the "
                    "admin account options apply only when it is created ('kumo vm resize' "
                    "changes its size)\n",
                    c->prog, n);
        const char *prov = member_str(vm, "provisioningState");
        if (is(prov, "Creating") || is(prov, "Updating")) { /* let that finish first */
            json_decref(vm);
            rc = api_wait(c, vp, what, show, false, &vm);
        } else if (is(prov, "Deleting")) {
            fprintf(stderr, "%s: error: VM '%s' is being deleted; run this again once it is gone\n",
                    c->prog, n);
            json_decref(vm);
            free(vp);
            return KX_CONFLICT;
        }
        const char *ps = vm ? member_str(vm, "powerState") : NULL;
        if (!rc && (is(ps, "Stopped") || is(ps, "Deallocated"))) {
            boot_from = log_size(vm);
            fprintf(stderr, "%s: starting VM '%s' (it was %s)\n", c->prog, n, ps);
            json_decref(vm);
            vm = NULL;
            struct resp r;
            json_t *body = json_object();
            rc = http_request(c, "POST", fmt_str("%s/start", vp), body, &r);
            json_decref(body);
            if (!rc) {
                if (r.status != 200 && r.status != 202) rc = api_fail(c, &r);
                resp_free(&r);
            }
            if (!rc) rc = api_wait(c, vp, what, show, false, &vm);
            started = true;
        }
    }
    free(vp);
    if (rc || !vm) {
        json_decref(vm);
        return rc ? rc : KX_ERROR;
    }
    const char *ps = member_str(vm, "powerState");
    if (!is(ps, "Running") && !is(ps, "Starting")) {
        fprintf(stderr, "%s: error: VM '%s' is %s, not running ('%s' says more)\n", c->prog, n,
                member_text(vm, "powerState"), show);
        json_decref(vm);
        return KX_ERROR;
    }
    if (c->out == OUT_JSON)
        print_json(vm);
    else
        vm_view(c, vm);
    fflush(stdout);
    if (!console) {
        json_decref(vm);
        return KX_OK;
    }

    o.replay = started;
    o.replay_from = boot_from;
    o.hold = started; /* a running VM has booted already */
    bool closed = false;
    rc = console_attach(c, g, n, vm, &o, &closed);
    json_decref(vm);
    if (rc) return rc;
    if (!o.ended_line && !isatty(STDIN_FILENO)) fputc('\n', stderr); /* after a prompt */
    if (closed) { /* the VM stopped: say how it ended */
        vp = res_path_of(&vm_resource, g, NULL, n);
        json_t *now = NULL;
        for (int i = 0; i < 40; i++) { /* kumod records the exit within moments */
            json_decref(now);
            if (api_get_maybe(c, vp, &now) != 1) break;
            if (!is(member_str(now, "powerState"), "Running")) break;
            struct timespec ts = {0, 50 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        free(vp);
        const json_t *le = json_object_get(json_object_get(now, "instanceView"), "lastExit");
        fprintf(stderr, "%s: VM '%s' is %s%s%s%s; 'kumo up%s' starts it again\n", c->prog, n,
                now ? member_text(now, "powerState") : "gone", member_str(le, "reason") ? " (" : "",
                member_str(le, "reason") ? member_str(le, "reason") : "",
                member_str(le, "reason") ? ")" : "",
                strcmp(g, "default") || strcmp(n, "default") ? fmt_str(" -g %s %s", g, n) : "");
        json_decref(now);
    } else {
        fprintf(stderr,
                "%s: VM '%s' keeps running: 'kumo vm console -g %s %s' attaches again, 'kumo vm "
                "stop -g %s %s' powers it off\n",
                c->prog, n, g, n, g, n);
    }
    return KX_OK;
}

static const struct opt up_opts[] = {
    {"resource-group", 'g', OPT_VALUE, "RG",
     "the VM's resource group, made if missing (default: $KUMO_GROUP, else default)", NULL},
    {"name", 'n', OPT_VALUE, "NAME", "the VM (or give NAME as the last word; default: default)",
     "name"},
    {"size", 0, OPT_VALUE, "SIZE",
     "a new VM's size (default: the 2-vCPU size with the least memory that fits, not burstable if "
     "one is, e.g. F2s_v2)",
     "size"},
    {"image", 0, OPT_VALUE, "IMAGE", "a new VM's image (default: default, kumo's Linux guest)",
     "image"},
    {"location", 0, OPT_VALUE, "LOCATION", "a new resource group's location (default: local)",
     "location"},
    {"no-public-ip", 0, OPT_FLAG, NULL,
     "a new VM gets no public IP (default: NAME-ip, TCP 22, 80 and 443 on host ports)", NULL},
    {"public-ip-name", 0, OPT_VALUE, "NAME", "a new VM uses this public IP (made if missing)",
     "publicIp"},
    OPT_OS_PROFILE("a new VM's"),
    {"console", 0, OPT_FLAG, NULL, "then attach to its serial console (Ctrl-] detaches)", NULL},
    {"linger", 0, OPT_VALUE, "SECONDS",
     "console, stdin not a terminal: after its end, leave once the guest is back at its prompt "
     "and quiet this long (default 1)",
     NULL},
    {"settle", 0, OPT_VALUE, "SECONDS",
     "console, stdin not a terminal: for a guest without a shell prompt, this long without "
     "output stands for one (default 10)",
     NULL},
    {0},
};

const struct cmd cmd_up = {
    .name = "up",
    .summary = "Make sure a VM exists and runs (create or start it), then its console",
    .usage = "[-g RG] [-n NAME] [--size SIZE] [--image IMAGE] [--no-public-ip] "
             "[--generate-ssh-keys] [--console]",
    .help = "Make sure the VM NAME (default: default) of resource group RG (default: default) "
            "exists and runs: the group is made if missing; the VM is created if missing, with "
            "the image default, a 2-vCPU size that fits the location, its OS disk and the "
            "network az vm create makes (NAME-vnet, NAME-nsg allowing SSH, NAME-nic) with a "
            "public IP NAME-ip whose host ports reach TCP 22, 80 and 443, and, as az does, "
            "an admin account ($USER, else azureuser) with your SSH key (~/.ssh/id_ed25519.pub, "
            "id_ecdsa.pub or id_rsa.pub; --generate-ssh-keys makes one), so that 'kumo vm ssh "
            "-g RG NAME' logs in; a Stopped or Deallocated VM is started. kumo prints the VM "
            "with its IPs and ports.\n"
            "With --console it then attaches to the serial console, showing the boot when it "
            "started the VM: on a terminal as 'kumo vm console' does (Ctrl-] or Ctrl-A x "
            "detaches, the VM keeps running). When stdin is not a terminal, kumo sends it once "
            "the guest shows a shell prompt (a line ending in '# ', '$ ', '> ' or '% '; input "
            "sent while Linux boots would be lost), and returns after the end of stdin once "
            "the guest is back at its prompt and quiet for --linger seconds, or when the VM "
            "stops (the guest powered off); the VM is not stopped. The VM and its OS disk stay "
            "between runs; scripts/run.sh is this command after starting kumod.",
    .opts = up_opts,
    .run = vm_up,
    .positionals = 1,
    .examples =
        "  kumo up --console\n"
        "  kumo up -n deb --image Debian13 --generate-ssh-keys && kumo vm ssh -g default deb\n"
        "  kumo up -g web -n web1 --size B1s\n"
        "  printf 'uname -a\\npoweroff\\n' | kumo up --console\n",
};
