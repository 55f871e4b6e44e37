/*
 * kubeclient: what the command-line helpers need to talk to a server the
 * way kubectl does: the kubeconfig (its current context's server, CA and
 * bearer token) and JSON requests over HTTPS with libcurl.
 *
 * The kubeconfig is the first of: an explicit path, DIR/kubeconfig for a
 * data directory, $KUBECONFIG (its first file), ~/.kube/config, and the
 * default data directory's kubeconfig.
 */
#ifndef VMSVC_KUBECLIENT_H
#define VMSVC_KUBECLIENT_H

#include <jansson.h>

#include "util/err.h"

typedef struct kubeclient kubeclient_t;

/* `path` or `data_dir` may be NULL. */
kubeclient_t *kubeclient_new(const char *path, const char *data_dir, err_t *err);
void kubeclient_free(kubeclient_t *k);
/* The namespace of the current context ("default" when it names none). */
const char *kubeclient_namespace(const kubeclient_t *k);

/* One request: `method` to `path` ("/apis/..."), with `body` (may be NULL).
 * Returns the decoded response for 2xx, else NULL with err set from the
 * server's Status (code and message). */
json_t *kubeclient_call(kubeclient_t *k, const char *method, const char *path,
                        const json_t *body, err_t *err);

#endif
