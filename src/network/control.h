/*
 * control.h - kumo-switch's control protocol: one JSON object per line in,
 * one JSON object per line out (docs/network.md, "Control protocol").
 * Operations: ping, set_config, get_config, add_/update_/remove_ for vnet,
 * nsg, nic and public_ip, nics, provisioning, counters, flows. Every
 * response has "ok"; failures have "error"; a request's "id", if any, is
 * echoed.
 *
 * This file only turns requests into calls on the switch; applying a new
 * configuration (which also involves the NAT) is the caller's callback, so
 * the unit tests can drive it without sockets.
 */
#ifndef KUMO_NETWORK_CONTROL_H
#define KUMO_NETWORK_CONTROL_H

#include "network/switch.h"

#include <jansson.h>

struct ctl_env {
    struct sw *sw;
    /* Apply cfg (always consumed). 0, or -1 with a message in err. */
    int (*apply)(void *opaque, struct net_config *cfg, char *err, size_t errlen);
    void *opaque;
    /* Public IP ports the last apply could not forward: a JSON array of
     * {"public_ip", "protocol", "port", "host_port", "error"} (new
     * reference), put in set_config's and the edits' answers. May be NULL. */
    json_t *(*public_ip_errors)(void *opaque);
    uint64_t now_ms; /* for flows: set by the caller before each request */
    uint64_t nat_queue_drops;
};

/* The response to one request (a new reference). */
json_t *ctl_handle(struct ctl_env *env, json_t *req);

/* The same for one line of text; returns a malloc'd compact JSON text
 * without the newline. */
char *ctl_handle_line(struct ctl_env *env, const char *line, size_t len);

/* JSON views used by responses (exposed for tests and logs). */
json_t *ctl_counters(struct sw *sw);
json_t *ctl_nic_status(struct sw *sw, size_t nic);

#endif
