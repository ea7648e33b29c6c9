/*
 * tls.h - the ARM endpoint's certificates, made with GnuTLS at first start:
 * a certificate authority of this kumod (DATA/arm/ca.crt, ca.key) and a
 * server certificate it signs (server.crt, server.key) for 127.0.0.1, ::1,
 * localhost and the --arm address. Clients trust the CA
 * (REQUESTS_CA_BUNDLE=DATA/arm/ca.crt for az).
 *
 * Contract: the files are reused at later starts; the server certificate
 * is made again (by the same CA) when it does not cover the --arm address
 * or expires within 30 days. Keys are ECDSA P-256, files written
 * atomically with mode 0600 (keys) and 0644 (certificates). The PEM texts
 * stay in struct arm_tls for the listener.
 */
#ifndef KUMO_CLOUD_ARM_TLS_H
#define KUMO_CLOUD_ARM_TLS_H

#include <stdbool.h>
#include <stddef.h>

struct arm_tls {
    char *cert_pem; /* server certificate, then the CA's (the chain) */
    char *key_pem;  /* server key */
    char ca_path[4096];
    char cert_path[4096];
    char fingerprint[100]; /* the CA's SHA-256, "AB:CD:..." */
    bool made_ca;          /* made at this start */
    bool made_cert;
};

/* Make or load the certificates in dir (created, 0700) for host (the
 * --arm address's host part, an IP or a name). 0, or -1 with err. */
int arm_tls_setup(const char *dir, const char *host, struct arm_tls *t, char *err, size_t errlen);
void arm_tls_free(struct arm_tls *t);

#endif
