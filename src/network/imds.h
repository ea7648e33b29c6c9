/*
 * imds.h - the instance metadata service (docs/network.md, "Instance
 * metadata service"): what a VM's request to http://169.254.169.254/ is
 * answered with, loosely after Azure's IMDS. The switch terminates the TCP
 * connection itself (tcpserv.h) and knows which NIC asks, so each VM gets
 * its own data: the "vm" object of its NIC's configuration, its
 * addresses, and its user data.
 *
 *   GET /metadata/instance[/compute[/FIELD]|/network[/...]][?format=json|text]
 *   GET /metadata/userdata                      the user data, base64 (text/plain)
 *   POST /kumo/v1/provisioning                  the guest reports how its
 *                                               provisioning went (below)
 *
 * Every GET needs the header "Metadata: true" (400 without it, as in
 * Azure, so that a request a guest is tricked into making through a proxy
 * or redirect - which cannot add it - gets nothing; a request carrying
 * X-Forwarded-For is refused too). HTTP/1.0 and 1.1, one request per
 * connection (the response says Connection: close).
 *
 * The provisioning report is one event of cloud-init's webhook reporting
 * (cloud-init posts them itself when its configuration names this URL; the
 * default guest's init posts the same), a JSON object of at most
 * IMDS_REPORT_MAX bytes with a Content-Length: {"name": "init-network",
 * "event_type": "start"|"finish", "result": "SUCCESS"|"WARN"|"FAIL",
 * "description": "...", "origin": "...", ...}. It needs no Metadata header
 * (cloud-init's webhook cannot add one; a report reveals nothing).
 * Events of a whole stage (a name without '/') are handed to the caller;
 * those of single modules ("init-network/config-ssh") are acknowledged and
 * dropped.
 */
#ifndef KUMO_NETWORK_IMDS_H
#define KUMO_NETWORK_IMDS_H

#include "network/config.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NET_IMDS_IP   0xa9fea9feu /* 169.254.169.254 */
#define NET_IMDS_PORT 80
#define IMDS_REPORT_MAX 2048 /* bytes of a report's body */
#define IMDS_REPORT_TEXT_MAX 256 /* characters kept of a report's description */

/* The JSON document of /metadata/instance for NIC nic. */
json_t *imds_document(const struct net_config *cfg, size_t nic);

/* The HTTP exchange, for tcpserv's application callback: req holds the
 * len bytes received so far; final: no more will come (full: because the
 * request reached the size limit). Returns 0 while the request is
 * incomplete (never when final), else 1 with a malloc'd response in
 * *resp; -1 if out of memory. When the request was a stage's provisioning
 * report, *report is that event (a new reference the caller owns: name,
 * event_type, result, description, origin; strings, checked and
 * shortened), else NULL. report may be NULL (reports are then dropped). */
int imds_http(const struct net_config *cfg, size_t nic, const uint8_t *req, size_t len,
              bool final, bool full, uint8_t **resp, size_t *resp_len, json_t **report);

#endif
