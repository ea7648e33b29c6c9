/*
 * server.h - the ARM endpoint's HTTPS listener (server.c).
 *
 * Contract: arm_server_listen() binds ADDRESS:PORT (any address: the
 * endpoint is TLS with bearer tokens, unlike the /v1 API's loopback TCP)
 * and returns the socket; arm_server_start() owns it from then on (closed
 * also when it fails). Requests run on the pool's threads; each complete
 * request is one arm_dispatch() call.
 */
#ifndef KUMO_CLOUD_ARM_SERVER_H
#define KUMO_CLOUD_ARM_SERVER_H

#include <stddef.h>

struct arm;
struct arm_server;
struct MHD_Connection;

/* Bind spec ("127.0.0.1:8443", "[::1]:8443"); host gets the address part.
 * The socket, or -1 with err. */
int arm_server_listen(const char *spec, char *host, size_t hostlen, char *err, size_t errlen);

struct arm_server *arm_server_start(struct arm *a, int fd, const char *cert_pem,
                                    const char *key_pem, size_t max_body, int threads, char *err,
                                    size_t errlen);
void arm_server_stop(struct arm_server *s);

const char *arm_conn_query(struct MHD_Connection *conn, const char *name);
const char *arm_conn_header(struct MHD_Connection *conn, const char *name);

#endif
