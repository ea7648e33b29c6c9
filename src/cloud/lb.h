/*
 * lb.h - the scale sets' load balancers: one thread in kumod that listens
 * on each set's load balancer public IP (cfg.public_address and the host
 * port of the public IP's one port), accepts TCP connections and splices
 * each with a connection to the next healthy instance, round robin.
 *
 * Instances are reached through their own public IP port for the set's
 * backend port (slirp's host forward in kumo-switch, subject to the NSG),
 * so kumod never needs a route into the VNets. The health probe connects
 * the same way every probe interval: Tcp is healthy when the connection
 * is accepted and not closed at once (a refused port is closed by the
 * forward within the probe's grace time); Http sends "GET path" and is
 * healthy on a 2xx/3xx status line. A backend starts Unknown and gets no
 * traffic until a probe says Healthy (docs/cloud.md "Scale sets").
 *
 * The set of listeners and backends is re-read from the database every
 * second (under the state lock; the event loop itself runs without it).
 */
#ifndef KUMO_CLOUD_LB_H
#define KUMO_CLOUD_LB_H

#include <stdbool.h>
#include <stdint.h>

struct kumod;
struct lb;

enum lb_health { LB_UNKNOWN, LB_HEALTHY, LB_UNHEALTHY };

struct lb *lb_start(struct kumod *k);
void lb_stop(struct lb *lb);

/* Re-read the configuration now (a backend is going away). Any thread. */
void lb_kick(struct lb *lb);

/* A VM's health as a backend (LB_UNKNOWN when it is none). Any thread. */
enum lb_health lb_backend_health(struct lb *lb, int64_t vm_id);
/* True once vm is no backend of the configuration the balancer runs (it
 * re-read it since the last lb_kick) and no open connection goes to it: a
 * scale set instance being deleted has drained. Any thread. */
bool lb_drained(struct lb *lb, int64_t vm_id);
/* Connections a VM has been given as a backend since kumod started. */
uint64_t lb_backend_connections(struct lb *lb, int64_t vm_id);
const char *lb_health_name(enum lb_health h);

#endif
