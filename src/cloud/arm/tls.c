/*
 * tls.c - the ARM endpoint's CA and server certificate (contract in
 * tls.h), through GnuTLS's X.509 API.
 */
#include "cloud/arm/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DAY (24 * 3600)

static int fail(char *err, size_t errlen, const char *what, int rc)
{
    snprintf(err, errlen, "%s: %s", what, gnutls_strerror(rc));
    return -1;
}

/* Read a whole file; NULL (errno ENOENT when it is missing). */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "re");
    if (!f) return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, cap);
            if (!nb) break;
            buf = nb;
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0) break;
    }
    fclose(f);
    if (buf) buf[len] = 0;
    return buf;
}

static int write_file(const char *path, const void *data, size_t len, mode_t mode, char *err,
                      size_t errlen)
{
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0) {
        snprintf(err, errlen, "%.3000s: %s", tmp, strerror(errno));
        return -1;
    }
    bool ok = write(fd, data, len) == (ssize_t)len && fchmod(fd, mode) == 0 && fsync(fd) == 0;
    close(fd);
    if (!ok || rename(tmp, path) < 0) {
        snprintf(err, errlen, "%.3000s: %s", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int new_key(gnutls_x509_privkey_t *key, char *err, size_t errlen)
{
    int rc = gnutls_x509_privkey_init(key);
    if (rc >= 0)
        rc = gnutls_x509_privkey_generate(*key, GNUTLS_PK_ECDSA,
                                          GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0);
    return rc < 0 ? fail(err, errlen, "making a key", rc) : 0;
}

static int save_key(gnutls_x509_privkey_t key, const char *path, char *err, size_t errlen)
{
    gnutls_datum_t d = {0};
    int rc = gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &d);
    if (rc < 0) return fail(err, errlen, "exporting a key", rc);
    rc = write_file(path, d.data, d.size, 0600, err, errlen);
    gnutls_free(d.data);
    return rc;
}

static int save_crt(gnutls_x509_crt_t crt, const char *path, char *err, size_t errlen)
{
    gnutls_datum_t d = {0};
    int rc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d);
    if (rc < 0) return fail(err, errlen, "exporting a certificate", rc);
    rc = write_file(path, d.data, d.size, 0644, err, errlen);
    gnutls_free(d.data);
    return rc;
}

static int load_key(const char *path, gnutls_x509_privkey_t *key, char *err, size_t errlen)
{
    char *pem = slurp(path);
    if (!pem) {
        snprintf(err, errlen, "%.3000s: %s", path, strerror(errno));
        return -1;
    }
    gnutls_datum_t d = {(unsigned char *)pem, (unsigned)strlen(pem)};
    int rc = gnutls_x509_privkey_init(key);
    if (rc >= 0) rc = gnutls_x509_privkey_import(*key, &d, GNUTLS_X509_FMT_PEM);
    free(pem);
    if (rc < 0) {
        snprintf(err, errlen,
                 "%.3000s: %s (remove the arm directory's ca.* files to make a new CA; clients "
                 "must then trust the new one)",
                 path, gnutls_strerror(rc));
        return -1;
    }
    return 0;
}

static int load_crt(const char *path, gnutls_x509_crt_t *crt, char *err, size_t errlen)
{
    char *pem = slurp(path);
    if (!pem) {
        snprintf(err, errlen, "%.3000s: %s", path, strerror(errno));
        return -1;
    }
    gnutls_datum_t d = {(unsigned char *)pem, (unsigned)strlen(pem)};
    int rc = gnutls_x509_crt_init(crt);
    if (rc >= 0) rc = gnutls_x509_crt_import(*crt, &d, GNUTLS_X509_FMT_PEM);
    free(pem);
    if (rc < 0) {
        snprintf(err, errlen, "%.3000s: %s", path, gnutls_strerror(rc));
        return -1;
    }
    return 0;
}

static int set_common(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key, const char *dn, long days)
{
    unsigned char serial[16];
    int rc = gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial));
    serial[0] &= 0x7f; /* a positive serial */
    time_t now = time(NULL);
    const char *bad = NULL;
    if (rc >= 0) rc = gnutls_x509_crt_set_version(crt, 3);
    if (rc >= 0) rc = gnutls_x509_crt_set_serial(crt, serial, sizeof(serial));
    if (rc >= 0) rc = gnutls_x509_crt_set_dn(crt, dn, &bad);
    if (rc >= 0) rc = gnutls_x509_crt_set_key(crt, key);
    if (rc >= 0) rc = gnutls_x509_crt_set_activation_time(crt, now - 3600);
    if (rc >= 0) rc = gnutls_x509_crt_set_expiration_time(crt, now + days * DAY);
    unsigned char kid[64];
    size_t kidlen = sizeof(kid);
    if (rc >= 0) rc = gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA1, kid, &kidlen);
    if (rc >= 0) rc = gnutls_x509_crt_set_subject_key_id(crt, kid, kidlen);
    return rc;
}

static int make_ca(const char *dir, gnutls_x509_crt_t *ca, gnutls_x509_privkey_t *cakey, char *err,
                   size_t errlen)
{
    char path[4200], host[64] = "localhost", dn[256];
    if (new_key(cakey, err, errlen) < 0) return -1;
    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = 0;
    for (char *p = host; *p; p++)
        if (*p == ',' || *p == '=' || *p == '+' || *p == '\\' || *p == '"') *p = '-';
    snprintf(dn, sizeof(dn), "CN=kumo CA (%s),O=kumo", host);
    int rc = gnutls_x509_crt_init(ca);
    if (rc >= 0) rc = set_common(*ca, *cakey, dn, 3650);
    if (rc >= 0) rc = gnutls_x509_crt_set_basic_constraints(*ca, 1, 0);
    if (rc >= 0)
        rc = gnutls_x509_crt_set_key_usage(*ca, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN);
    if (rc >= 0) rc = gnutls_x509_crt_sign2(*ca, *ca, *cakey, GNUTLS_DIG_SHA256, 0);
    if (rc < 0) return fail(err, errlen, "making the CA certificate", rc);
    snprintf(path, sizeof(path), "%s/ca.key", dir);
    if (save_key(*cakey, path, err, errlen) < 0) return -1;
    snprintf(path, sizeof(path), "%s/ca.crt", dir);
    return save_crt(*ca, path, err, errlen);
}

static int add_san_ip(gnutls_x509_crt_t crt, const char *ip)
{
    unsigned char a[16];
    if (inet_pton(AF_INET, ip, a) == 1)
        return gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, a, 4,
                                                    GNUTLS_FSAN_APPEND);
    if (inet_pton(AF_INET6, ip, a) == 1)
        return gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, a, 16,
                                                    GNUTLS_FSAN_APPEND);
    return gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, ip, (unsigned)strlen(ip),
                                                GNUTLS_FSAN_APPEND);
}

static int make_server(const char *dir, const char *host, gnutls_x509_crt_t ca,
                       gnutls_x509_privkey_t cakey, char *err, size_t errlen)
{
    gnutls_x509_privkey_t key;
    gnutls_x509_crt_t crt;
    char path[4200];
    if (new_key(&key, err, errlen) < 0) return -1;
    int rc = gnutls_x509_crt_init(&crt);
    if (rc >= 0) rc = set_common(crt, key, "CN=kumod ARM endpoint,O=kumo", 825);
    if (rc >= 0) rc = gnutls_x509_crt_set_basic_constraints(crt, 0, -1);
    if (rc >= 0)
        rc = gnutls_x509_crt_set_key_usage(crt,
                                           GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_AGREEMENT);
    if (rc >= 0) rc = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0);
    if (rc >= 0) rc = add_san_ip(crt, "127.0.0.1");
    if (rc >= 0) rc = add_san_ip(crt, "::1");
    if (rc >= 0) rc = add_san_ip(crt, "localhost");
    if (rc >= 0 && host && *host && strcmp(host, "127.0.0.1") && strcmp(host, "::1") &&
        strcmp(host, "localhost"))
        rc = add_san_ip(crt, host);
    unsigned char kid[64];
    size_t kidlen = sizeof(kid);
    if (rc >= 0) rc = gnutls_x509_crt_get_subject_key_id(ca, kid, &kidlen, NULL);
    if (rc >= 0) rc = gnutls_x509_crt_set_authority_key_id(crt, kid, kidlen);
    if (rc >= 0) rc = gnutls_x509_crt_sign2(crt, ca, cakey, GNUTLS_DIG_SHA256, 0);
    if (rc < 0) {
        gnutls_x509_crt_deinit(crt);
        gnutls_x509_privkey_deinit(key);
        return fail(err, errlen, "making the server certificate", rc);
    }
    snprintf(path, sizeof(path), "%s/server.key", dir);
    rc = save_key(key, path, err, errlen);
    snprintf(path, sizeof(path), "%s/server.crt", dir);
    if (rc == 0) rc = save_crt(crt, path, err, errlen);
    gnutls_x509_crt_deinit(crt);
    gnutls_x509_privkey_deinit(key);
    return rc;
}

/* Is the server certificate there, made by this CA, covering host and
 * valid for 30 more days? */
static bool server_ok(const char *dir, const char *host, gnutls_x509_crt_t ca)
{
    char path[4200], e[256];
    gnutls_x509_crt_t crt;
    snprintf(path, sizeof(path), "%s/server.key", dir);
    if (access(path, R_OK) < 0) return false;
    snprintf(path, sizeof(path), "%s/server.crt", dir);
    if (load_crt(path, &crt, e, sizeof(e)) < 0) return false;
    bool ok = gnutls_x509_crt_get_expiration_time(crt) > time(NULL) + 30 * DAY;
    unsigned status = 0;
    if (ok && (gnutls_x509_crt_verify(crt, &ca, 1, 0, &status) < 0 || status)) ok = false;
    unsigned char a[16];
    if (ok && host && *host) {
        if (inet_pton(AF_INET, host, a) == 1)
            ok = gnutls_x509_crt_check_ip(crt, a, 4, 0);
        else if (inet_pton(AF_INET6, host, a) == 1)
            ok = gnutls_x509_crt_check_ip(crt, a, 16, 0);
        else
            ok = gnutls_x509_crt_check_hostname(crt, host);
    }
    gnutls_x509_crt_deinit(crt);
    return ok;
}

int arm_tls_setup(const char *dir, const char *host, struct arm_tls *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof(*t));
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "%.3000s: %s", dir, strerror(errno));
        return -1;
    }
    char path[4200];
    gnutls_x509_crt_t ca = NULL;
    gnutls_x509_privkey_t cakey = NULL;
    int rc = -1;
    snprintf(t->ca_path, sizeof(t->ca_path), "%.4000s/ca.crt", dir);
    snprintf(t->cert_path, sizeof(t->cert_path), "%.4000s/server.crt", dir);
    snprintf(path, sizeof(path), "%s/ca.key", dir);
    if (access(path, F_OK) < 0 && access(t->ca_path, F_OK) < 0) {
        if (make_ca(dir, &ca, &cakey, err, errlen) < 0) goto out;
        t->made_ca = true;
    } else {
        if (load_key(path, &cakey, err, errlen) < 0 || load_crt(t->ca_path, &ca, err, errlen) < 0)
            goto out;
    }
    if (!server_ok(dir, host, ca)) {
        if (make_server(dir, host, ca, cakey, err, errlen) < 0) goto out;
        t->made_cert = true;
    }
    unsigned char fp[32];
    size_t fplen = sizeof(fp);
    if (gnutls_x509_crt_get_fingerprint(ca, GNUTLS_DIG_SHA256, fp, &fplen) < 0) fplen = 0;
    for (size_t i = 0; i < fplen && 3 * i + 3 <= sizeof(t->fingerprint); i++)
        snprintf(t->fingerprint + 3 * i, 4, i + 1 < fplen ? "%02X:" : "%02X", fp[i]);
    snprintf(path, sizeof(path), "%s/server.key", dir);
    t->key_pem = slurp(path);
    char *crt = slurp(t->cert_path), *capem = slurp(t->ca_path);
    if (!t->key_pem || !crt || !capem) {
        snprintf(err, errlen, "%.3000s: cannot read the certificates back", dir);
        free(crt);
        free(capem);
        goto out;
    }
    size_t n = strlen(crt) + strlen(capem) + 2;
    t->cert_pem = malloc(n);
    if (t->cert_pem) snprintf(t->cert_pem, n, "%s%s", crt, capem);
    free(crt);
    free(capem);
    rc = t->cert_pem ? 0 : -1;
out:
    if (ca) gnutls_x509_crt_deinit(ca);
    if (cakey) gnutls_x509_privkey_deinit(cakey);
    if (rc < 0) arm_tls_free(t);
    return rc;
}

void arm_tls_free(struct arm_tls *t)
{
    free(t->cert_pem);
    free(t->key_pem);
    t->cert_pem = t->key_pem = NULL;
}
