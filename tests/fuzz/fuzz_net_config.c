/*
 * fuzz_net_config.c - libFuzzer harness for the switch's configuration and
 * control parsers (src/network/config.c, nsg.c, addr.c, control.c): any
 * byte string, read as a configuration document and as control protocol
 * lines, must be accepted or rejected with a message naming what is wrong,
 * never crash, read out of bounds, leak, or hit undefined behaviour. An
 * accepted configuration must also be one the switch can apply and report.
 */
#include "network/control.h"
#include "network/switch.h"

#include <stdlib.h>
#include <string.h>

static const char *base =
    "{\"vnets\":[{\"name\":\"v1\",\"address_space\":[\"10.0.0.0/16\"],\"subnets\":["
    "{\"name\":\"web\",\"prefix\":\"10.0.1.0/24\",\"nsg\":\"g\"}]}],"
    "\"nsgs\":[{\"name\":\"g\",\"rules\":[{\"name\":\"r\",\"priority\":100,"
    "\"direction\":\"Inbound\",\"access\":\"Allow\",\"protocol\":\"Tcp\","
    "\"destination_port_range\":\"80\"}]}],"
    "\"public_ips\":[{\"name\":\"p\",\"ports\":[{\"host_port\":8080,\"nic_port\":80}]}],"
    "\"nics\":[{\"id\":\"n1\",\"vnet\":\"v1\",\"subnet\":\"web\",\"mac\":\"52:54:00:00:00:01\","
    "\"public_ip\":\"p\"}]}";

static int apply_cb(void *opaque, struct net_config *cfg, char *err, size_t errlen)
{
    if (sw_apply(opaque, cfg) < 0) {
        strncpy(err, "out of memory", errlen);
        return -1;
    }
    return 0;
}

static struct sw *fresh_switch(void)
{
    struct sw *sw = sw_create();
    struct net_config *cfg;
    char err[512];
    if (!sw || net_config_parse(base, strlen(base), NULL, &cfg, err, sizeof(err)) < 0 ||
        sw_apply(sw, cfg) < 0)
        abort();
    return sw;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* 1: the whole input as a configuration document */
    struct sw *sw = fresh_switch();
    struct net_config *cfg;
    char err[1024];
    err[0] = '\0';
    if (net_config_parse((const char *)data, size, sw->cfg, &cfg, err, sizeof(err)) < 0) {
        if (err[0] == '\0' || strnlen(err, sizeof(err)) == sizeof(err)) __builtin_trap();
    } else {
        if (sw_apply(sw, cfg) < 0) __builtin_trap();
        /* every NIC has a usable address of its subnet */
        for (size_t i = 0; i < sw->cfg->nnics; i++) {
            const struct net_nic *n = &sw->cfg->nics[i];
            const struct net_subnet *s = &sw->cfg->vnets[n->vnet].subnets[n->subnet];
            if (!net_cidr_contains(s->prefix, n->ip) || n->ip < s->prefix.addr + 4 ||
                n->ip >= net_cidr_last(s->prefix))
                __builtin_trap();
        }
        json_decref(ctl_counters(sw));
    }

    /* 2: each line as a control request, against the base configuration */
    struct ctl_env env = {.sw = sw, .apply = apply_cb, .opaque = sw};
    size_t start = 0;
    for (size_t i = 0; i <= size; i++) {
        if (i < size && data[i] != '\n') continue;
        char *resp = ctl_handle_line(&env, (const char *)data + start, i - start);
        if (!resp || !strstr(resp, "\"ok\"")) __builtin_trap();
        free(resp);
        start = i + 1;
    }
    sw_destroy(sw);
    return 0;
}
