/*
 * pki: the server's credentials in its data directory.
 *
 *   pki/ca.crt, pki/ca.key   the cluster CA, made once on first start
 *   pki/server.crt, .key     the serving certificate, issued by the CA for the
 *                            names and addresses the server listens on; made
 *                            anew when they change, the CA stays
 *   admin.token              the admin bearer token (mode 0600)
 *   kubeconfig               the admin kubeconfig (mode 0600)
 *
 * Keys are ECDSA P-256, made with GnuTLS.  Key files and the token are never
 * logged.
 */
#ifndef VMSVC_PKI_H
#define VMSVC_PKI_H

#include "util/err.h"

typedef struct pki {
    char *ca_pem;
    char *cert_pem;
    char *key_pem;
    char *token;
} pki_t;

/* Load or create the credentials in `dir` for a server reachable at `host`
 * (an IP address or DNS name; wildcard addresses mean every local one). */
pki_t *pki_ensure(const char *dir, const char *host, err_t *err);
void pki_free(pki_t *p);

/* The admin kubeconfig for `url` (g_free). */
char *pki_kubeconfig_render(const pki_t *p, const char *url);

#endif
