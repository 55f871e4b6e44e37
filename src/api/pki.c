/* pki: see pki.h. */
#include "api/pki.h"

#include <arpa/inet.h>
#include <glib.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <ifaddrs.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/fs.h"
#include "util/log.h"

#define PKI_MAX_FILE (64 * 1024)
#define PKI_CA_DAYS (10 * 365)
#define PKI_SERVER_DAYS 365
#define PKI_RENEW_DAYS 30 /* reissue the serving certificate this close to expiry */

/* An IP address in binary form, for a subjectAltName. */
typedef struct san_ip {
    unsigned char addr[16];
    size_t len;
} san_ip_t;

typedef struct sans {
    GPtrArray *dns;  /* char* */
    GArray *ips;     /* san_ip_t */
} sans_t;

static bool parse_ip(const char *s, san_ip_t *ip)
{
    if (inet_pton(AF_INET, s, ip->addr) == 1) {
        ip->len = 4;
        return true;
    }
    if (inet_pton(AF_INET6, s, ip->addr) == 1) {
        ip->len = 16;
        return true;
    }
    return false;
}

static bool is_wildcard(const char *host)
{
    return !host || !*host || !strcmp(host, "0.0.0.0") || !strcmp(host, "::");
}

static void sans_add_ip(sans_t *s, const char *text)
{
    san_ip_t ip;
    if (parse_ip(text, &ip))
        g_array_append_val(s->ips, ip);
}

/* The names a client may use: loopback always, the listen address, and for
 * a wildcard address every address of this host. */
static void sans_build(sans_t *s, const char *host)
{
    char hn[256];
    s->dns = g_ptr_array_new_with_free_func(g_free);
    s->ips = g_array_new(FALSE, TRUE, sizeof(san_ip_t));
    g_ptr_array_add(s->dns, g_strdup("localhost"));
    sans_add_ip(s, "127.0.0.1");
    sans_add_ip(s, "::1");
    if (gethostname(hn, sizeof(hn)) == 0 && *hn) {
        hn[sizeof(hn) - 1] = '\0';
        g_ptr_array_add(s->dns, g_strdup(hn));
    }
    if (is_wildcard(host)) {
        struct ifaddrs *ifa = NULL;
        if (getifaddrs(&ifa) == 0) {
            for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
                san_ip_t ip = {0};
                if (!i->ifa_addr)
                    continue;
                if (i->ifa_addr->sa_family == AF_INET) {
                    memcpy(ip.addr, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, 4);
                    ip.len = 4;
                } else if (i->ifa_addr->sa_family == AF_INET6) {
                    memcpy(ip.addr, &((struct sockaddr_in6 *)i->ifa_addr)->sin6_addr, 16);
                    ip.len = 16;
                } else {
                    continue;
                }
                g_array_append_val(s->ips, ip);
            }
            freeifaddrs(ifa);
        }
    } else {
        san_ip_t ip;
        if (parse_ip(host, &ip))
            g_array_append_val(s->ips, ip);
        else
            g_ptr_array_add(s->dns, g_strdup(host));
    }
}

static void sans_clear(sans_t *s)
{
    g_ptr_array_unref(s->dns);
    g_array_unref(s->ips);
}

static int gt_fail(err_t *err, const char *what, int rc)
{
    err_set(err, ERR_INTERNAL, "Cannot %s: %s", what, gnutls_strerror(rc));
    return -1;
}

static char *export_crt(gnutls_x509_crt_t crt)
{
    gnutls_datum_t d = {0};
    char *out;
    if (gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d) < 0)
        abort();
    out = g_strndup((const char *)d.data, d.size);
    gnutls_free(d.data);
    return out;
}

static char *export_key(gnutls_x509_privkey_t key)
{
    gnutls_datum_t d = {0};
    char *out;
    if (gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &d) < 0)
        abort();
    out = g_strndup((const char *)d.data, d.size);
    gnutls_free(d.data);
    return out;
}

static int new_key(gnutls_x509_privkey_t *key, err_t *err)
{
    int rc = gnutls_x509_privkey_init(key);
    if (rc < 0)
        return gt_fail(err, "make a private key", rc);
    rc = gnutls_x509_privkey_generate(*key, GNUTLS_PK_ECDSA,
                                      GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0);
    if (rc < 0) {
        gnutls_x509_privkey_deinit(*key);
        return gt_fail(err, "make a private key", rc);
    }
    return 0;
}

/* The fields every certificate here shares. */
static int crt_base(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key, const char *dn, int days,
                    err_t *err)
{
    unsigned char serial[16];
    const char *bad = NULL;
    time_t now = time(NULL);
    int rc;

    gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial));
    serial[0] &= 0x7f; /* a positive serial number */
    if ((rc = gnutls_x509_crt_set_version(crt, 3)) < 0 ||
        (rc = gnutls_x509_crt_set_serial(crt, serial, sizeof(serial))) < 0 ||
        (rc = gnutls_x509_crt_set_activation_time(crt, now - 3600)) < 0 ||
        (rc = gnutls_x509_crt_set_expiration_time(crt, now + (time_t)days * 86400)) < 0 ||
        (rc = gnutls_x509_crt_set_key(crt, key)) < 0 ||
        (rc = gnutls_x509_crt_set_dn(crt, dn, &bad)) < 0)
        return gt_fail(err, "fill in a certificate", rc);
    return 0;
}

static int make_ca(char **crt_pem, char **key_pem, err_t *err)
{
    gnutls_x509_privkey_t key;
    gnutls_x509_crt_t crt;
    unsigned char kid[64];
    size_t kid_len = sizeof(kid);
    int rc;

    if (new_key(&key, err) < 0)
        return -1;
    gnutls_x509_crt_init(&crt);
    if (crt_base(crt, key, "CN=vmsvc-ca,O=vmsvc", PKI_CA_DAYS, err) < 0)
        goto fail;
    if ((rc = gnutls_x509_crt_set_basic_constraints(crt, 1, -1)) < 0 ||
        (rc = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_KEY_CERT_SIGN |
                                                     GNUTLS_KEY_CRL_SIGN |
                                                     GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0 ||
        (rc = gnutls_x509_crt_get_key_id(crt, 0, kid, &kid_len)) < 0 ||
        (rc = gnutls_x509_crt_set_subject_key_id(crt, kid, kid_len)) < 0 ||
        (rc = gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0)) < 0) {
        gt_fail(err, "make the CA certificate", rc);
        goto fail;
    }
    *crt_pem = export_crt(crt);
    *key_pem = export_key(key);
    gnutls_x509_crt_deinit(crt);
    gnutls_x509_privkey_deinit(key);
    return 0;
fail:
    gnutls_x509_crt_deinit(crt);
    gnutls_x509_privkey_deinit(key);
    return -1;
}

static int make_server(const char *ca_pem, const char *ca_key_pem, const sans_t *s,
                       char **crt_pem, char **key_pem, err_t *err)
{
    gnutls_x509_privkey_t key = NULL, ca_key = NULL;
    gnutls_x509_crt_t crt = NULL, ca = NULL;
    gnutls_datum_t d;
    unsigned char kid[64];
    size_t kid_len = sizeof(kid);
    int rc, ret = -1;

    gnutls_x509_crt_init(&ca);
    gnutls_x509_privkey_init(&ca_key);
    d.data = (unsigned char *)ca_pem;
    d.size = (unsigned)strlen(ca_pem);
    if ((rc = gnutls_x509_crt_import(ca, &d, GNUTLS_X509_FMT_PEM)) < 0) {
        gt_fail(err, "read the CA certificate", rc);
        goto out;
    }
    d.data = (unsigned char *)ca_key_pem;
    d.size = (unsigned)strlen(ca_key_pem);
    if ((rc = gnutls_x509_privkey_import(ca_key, &d, GNUTLS_X509_FMT_PEM)) < 0) {
        gt_fail(err, "read the CA key", rc);
        goto out;
    }
    if (new_key(&key, err) < 0)
        goto out;
    gnutls_x509_crt_init(&crt);
    if (crt_base(crt, key, "CN=vmsvc-apiserver,O=vmsvc", PKI_SERVER_DAYS, err) < 0)
        goto out;
    for (guint i = 0; i < s->dns->len; i++) {
        const char *n = s->dns->pdata[i];
        if ((rc = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, n,
                                                       (unsigned)strlen(n),
                                                       GNUTLS_FSAN_APPEND)) < 0) {
            gt_fail(err, "name the serving certificate", rc);
            goto out;
        }
    }
    for (guint i = 0; i < s->ips->len; i++) {
        const san_ip_t *ip = &g_array_index(s->ips, san_ip_t, i);
        if ((rc = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip->addr,
                                                       (unsigned)ip->len,
                                                       GNUTLS_FSAN_APPEND)) < 0) {
            gt_fail(err, "name the serving certificate", rc);
            goto out;
        }
    }
    if ((rc = gnutls_x509_crt_set_basic_constraints(crt, 0, -1)) < 0 ||
        (rc = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE |
                                                     GNUTLS_KEY_KEY_ENCIPHERMENT)) < 0 ||
        (rc = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0)) < 0 ||
        (rc = gnutls_x509_crt_get_subject_key_id(ca, kid, &kid_len, NULL)) < 0 ||
        (rc = gnutls_x509_crt_set_authority_key_id(crt, kid, kid_len)) < 0 ||
        (rc = gnutls_x509_crt_sign2(crt, ca, ca_key, GNUTLS_DIG_SHA256, 0)) < 0) {
        gt_fail(err, "sign the serving certificate", rc);
        goto out;
    }
    *crt_pem = export_crt(crt);
    *key_pem = export_key(key);
    ret = 0;
out:
    if (crt)
        gnutls_x509_crt_deinit(crt);
    if (key)
        gnutls_x509_privkey_deinit(key);
    gnutls_x509_crt_deinit(ca);
    gnutls_x509_privkey_deinit(ca_key);
    return ret;
}

/* Whether a stored serving certificate still serves: issued by this CA, not
 * close to expiry, and naming every address and name wanted. */
static bool server_cert_ok(const char *ca_pem, const char *crt_pem, const sans_t *s)
{
    gnutls_x509_crt_t crt, ca;
    gnutls_datum_t d;
    bool ok = false;
    unsigned verify = 0;

    gnutls_x509_crt_init(&crt);
    gnutls_x509_crt_init(&ca);
    d.data = (unsigned char *)crt_pem;
    d.size = (unsigned)strlen(crt_pem);
    if (gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM) < 0)
        goto out;
    d.data = (unsigned char *)ca_pem;
    d.size = (unsigned)strlen(ca_pem);
    if (gnutls_x509_crt_import(ca, &d, GNUTLS_X509_FMT_PEM) < 0)
        goto out;
    if (gnutls_x509_crt_verify(crt, &ca, 1, 0, &verify) < 0 || verify != 0)
        goto out;
    if (gnutls_x509_crt_get_expiration_time(crt) < time(NULL) + PKI_RENEW_DAYS * 86400)
        goto out;
    for (guint i = 0; i < s->dns->len; i++)
        if (!gnutls_x509_crt_check_hostname(crt, s->dns->pdata[i]))
            goto out;
    for (guint i = 0; i < s->ips->len; i++) {
        const san_ip_t *ip = &g_array_index(s->ips, san_ip_t, i);
        if (!gnutls_x509_crt_check_ip(crt, ip->addr, (unsigned)ip->len, 0))
            goto out;
    }
    ok = true;
out:
    gnutls_x509_crt_deinit(crt);
    gnutls_x509_crt_deinit(ca);
    return ok;
}

static char *read_opt(const char *dir, const char *name, err_t *err, bool *missing)
{
    char *path = g_build_filename(dir, name, NULL);
    err_t e = ERR_INIT;
    char *text = fs_read_all(path, PKI_MAX_FILE, NULL, &e);
    g_free(path);
    *missing = !text && e.code == ERR_NOT_FOUND;
    if (!text && !*missing)
        err_move(err, &e);
    err_clear(&e);
    return text;
}

static int write_file(const char *dir, const char *name, const char *text, err_t *err)
{
    char *path = g_build_filename(dir, name, NULL);
    int rc = fs_write_atomic(path, text, strlen(text), 0600, err);
    g_free(path);
    return rc;
}

static char *token_new(void)
{
    unsigned char raw[32];
    GString *s = g_string_sized_new(64);
    if (gnutls_rnd(GNUTLS_RND_KEY, raw, sizeof(raw)) < 0)
        abort();
    for (size_t i = 0; i < sizeof(raw); i++)
        g_string_append_printf(s, "%02x", raw[i]);
    return g_string_free(s, FALSE);
}

pki_t *pki_ensure(const char *dir, const char *host, err_t *err)
{
    pki_t *p = g_new0(pki_t, 1);
    char *pkidir = g_build_filename(dir, "pki", NULL);
    char *ca_key = NULL;
    bool m1, m2;
    sans_t s;

    sans_build(&s, host);
    if (fs_mkdir_p(pkidir, 0700, err) < 0)
        goto fail;

    p->ca_pem = read_opt(pkidir, "ca.crt", err, &m1);
    ca_key = read_opt(pkidir, "ca.key", err, &m2);
    if (err_is_set(err))
        goto fail;
    if (!p->ca_pem || !ca_key) {
        if (!(m1 && m2)) {
            err_set(err, ERR_INTERNAL,
                    "Only one of %s/ca.crt and %s/ca.key exists; restore the other or "
                    "remove both to make a new CA.", pkidir, pkidir);
            goto fail;
        }
        if (make_ca(&p->ca_pem, &ca_key, err) < 0 ||
            write_file(pkidir, "ca.key", ca_key, err) < 0 ||
            write_file(pkidir, "ca.crt", p->ca_pem, err) < 0)
            goto fail;
        log_info("pki: made a new cluster CA in %s", pkidir);
    }

    p->cert_pem = read_opt(pkidir, "server.crt", err, &m1);
    p->key_pem = read_opt(pkidir, "server.key", err, &m2);
    if (err_is_set(err))
        goto fail;
    if (!p->cert_pem || !p->key_pem || !server_cert_ok(p->ca_pem, p->cert_pem, &s)) {
        g_free(p->cert_pem);
        g_free(p->key_pem);
        p->cert_pem = p->key_pem = NULL;
        if (make_server(p->ca_pem, ca_key, &s, &p->cert_pem, &p->key_pem, err) < 0 ||
            write_file(pkidir, "server.key", p->key_pem, err) < 0 ||
            write_file(pkidir, "server.crt", p->cert_pem, err) < 0)
            goto fail;
        log_info("pki: issued a serving certificate for %s", is_wildcard(host) ? "every local address" : host);
    }

    p->token = read_opt(dir, "admin.token", err, &m1);
    if (err_is_set(err))
        goto fail;
    if (p->token)
        g_strstrip(p->token);
    if (!p->token || strlen(p->token) < 32) {
        g_free(p->token);
        p->token = token_new();
        if (write_file(dir, "admin.token", p->token, err) < 0)
            goto fail;
    }
    sans_clear(&s);
    if (ca_key)
        memset(ca_key, 0, strlen(ca_key));
    g_free(ca_key);
    g_free(pkidir);
    return p;

fail:
    sans_clear(&s);
    g_free(ca_key);
    g_free(pkidir);
    pki_free(p);
    return NULL;
}

void pki_free(pki_t *p)
{
    if (!p)
        return;
    g_free(p->ca_pem);
    g_free(p->cert_pem);
    if (p->key_pem)
        memset(p->key_pem, 0, strlen(p->key_pem));
    g_free(p->key_pem);
    g_free(p->token);
    g_free(p);
}

char *pki_kubeconfig_render(const pki_t *p, const char *url)
{
    char *ca64 = g_base64_encode((const guchar *)p->ca_pem, strlen(p->ca_pem));
    char *out = g_strdup_printf("apiVersion: v1\n"
                                "kind: Config\n"
                                "clusters:\n"
                                "- name: vmsvc\n"
                                "  cluster:\n"
                                "    server: %s\n"
                                "    certificate-authority-data: %s\n"
                                "users:\n"
                                "- name: vmsvc-admin\n"
                                "  user:\n"
                                "    token: %s\n"
                                "contexts:\n"
                                "- name: vmsvc\n"
                                "  context:\n"
                                "    cluster: vmsvc\n"
                                "    user: vmsvc-admin\n"
                                "    namespace: default\n"
                                "current-context: vmsvc\n",
                                url, ca64, p->token);
    g_free(ca64);
    return out;
}
