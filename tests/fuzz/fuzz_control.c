/*
 * fuzz_control.c - libFuzzer harness for kumo-vmm's control socket
 * (src/vmm/control.c, included for its request handler): any bytes, split
 * into lines as the socket does, handled against a real board (no disks or
 * NICs: the balloon and the guest channel are there) and real CPU controls.
 * Replies must be JSON objects with "ok"; nothing may crash or leak.
 *
 * The harness runs as root in CI: it gives up CAP_SYS_NICE first (a weight
 * must not raise this process's priority) and puts its CPU affinity back
 * after every input. The board has no vCPU threads: its harts count as
 * paused from the start (pause and resume act on the devices), and "save"
 * and "migrate" requests are skipped (they would write files or connect
 * where an input says; the state's parser has tests/fuzz/fuzz_vmstate.c,
 * the migration stream's tests/fuzz/fuzz_migrate.c).
 */
#include "../../src/vmm/control.c"

#include "machine/virt.h"

#include <linux/capability.h>
#include <sched.h>
#include <sys/syscall.h>

static struct control *ctl;
static cpu_set_t affinity;

static void drop_sys_nice(void)
{
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
    struct __user_cap_data_struct d[2];
    if (syscall(SYS_capget, &hdr, d) < 0) return;
    d[0].effective &= ~(1u << CAP_SYS_NICE);
    d[0].permitted &= ~(1u << CAP_SYS_NICE);
    syscall(SYS_capset, &hdr, d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ctl) {
        drop_sys_nice();
        sched_getaffinity(0, sizeof(affinity), &affinity);
        struct virt_config cfg = {.ram_size = 16u << 20, .ncpus = 2, .satp_mode = 10};
        ctl = calloc(1, sizeof(*ctl));
        ctl->m = virt_create(&cfg);
        ctl->cpu = cpuctl_new(2);
        ctl->req_fd = -1;
        pthread_mutex_init(&ctl->lock, NULL);
        if (!ctl->m || !ctl->cpu) abort();
        ctl->m->nquiet = ctl->m->nharts;
    }
    char *line = malloc(size + 1);
    size_t start = 0;
    for (size_t i = 0; i <= size; i++) {
        if (i < size && data[i] != '\n') continue;
        memcpy(line, data + start, i - start);
        line[i - start] = 0;
        json_t *req = json_loads(line, JSON_DISABLE_EOF_CHECK, NULL);
        const char *op = json_string_value(json_object_get(req, "op"));
        bool skip = op && (strcmp(op, "save") == 0 || strcmp(op, "migrate") == 0);
        json_decref(req);
        if (skip) {
            start = i + 1;
            continue;
        }
        json_t *reply = handle(ctl, line);
        if (!json_is_object(reply) || !json_is_boolean(json_object_get(reply, "ok"))) abort();
        char *text = json_dumps(reply, JSON_COMPACT);
        if (!text) abort();
        free(text);
        json_decref(reply);
        start = i + 1;
    }
    free(line);
    atomic_store(&ctl->m->stop, STOP_NONE); /* a "stop" request: the next input runs again */
    sched_setaffinity(0, sizeof(affinity), &affinity);
    return 0;
}
