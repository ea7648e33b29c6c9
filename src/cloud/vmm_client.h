/*
 * vmm_client.h - kumod's side of kumo-vmm's control socket (--control PATH):
 * one JSON object per line each way (docs/vmm-control.md, every operation):
 *   {"op":"status"} -> {"ok":true,"state","vcpus","mem_mib","uptime_ns",
 *                       "vcpu_busy_ns":[..],"vcpu_idle_ns":[..],"vcpu_throttled_ns":[..],
 *                       "cpu":{"cap_pct","weight","affinity"},
 *                       "disks":[{rd_ops,..}],"nics":[{rx_packets,..}]}
 *   {"op":"stop"}   -> {"ok":true}; the VM powers off and kumo-vmm exits 0
 *   {"op":"set_disk_limits","disk":I,"iops":N,"bps":N}
 *   {"op":"set_cpu","cap_pct":P,"affinity":"0-1"} (B-series caps, dedicated cores)
 * Errors are {"ok":false,"error":"..."}. kumo-switch's control socket speaks
 * the same line protocol (docs/network.md), so netplane.c uses it too.
 */
#ifndef KUMO_CLOUD_VMM_CLIENT_H
#define KUMO_CLOUD_VMM_CLIENT_H

#include <jansson.h>
#include <stddef.h>

/* Send req to the socket at path and read one reply line, within timeout_ms
 * overall. Returns the reply object when "ok" is true; NULL with a message
 * in err otherwise (connection failure, timeout, {"ok":false}). */
json_t *vmm_request(const char *path, json_t *req, int timeout_ms, char *err, size_t errlen);
/* The same with a descriptor sent along (SCM_RIGHTS; -1: none): a file the
 * sandboxed kumo-vmm writes but could not open (a save's). */
json_t *vmm_request_fd(const char *path, json_t *req, int pass_fd, int timeout_ms, char *err,
                       size_t errlen);

#endif
