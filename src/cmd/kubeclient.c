/* kubeclient: see kubeclient.h. */
#include "cmd/kubeclient.h"

#include <curl/curl.h>
#include <glib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "model/yaml.h"
#include "util/fs.h"
#include "util/jsonutil.h"

#define KUBECONFIG_MAX (1024 * 1024)
#define RESPONSE_MAX (16 * 1024 * 1024)

struct kubeclient {
    char *server;
    char *ca_pem;     /* NULL: the system's CAs */
    char *token;
    char *ns;
    CURL *curl;
};

static char *find_config(const char *path, const char *data_dir)
{
    const char *env = g_getenv("KUBECONFIG");
    char *p;
    if (path)
        return g_strdup(path);
    if (data_dir)
        return g_build_filename(data_dir, "kubeconfig", NULL);
    if (env && *env) {
        char **parts = g_strsplit(env, ":", 2);
        p = g_strdup(parts[0]);
        g_strfreev(parts);
        return p;
    }
    p = g_build_filename(g_get_home_dir(), ".kube", "config", NULL);
    if (g_file_test(p, G_FILE_TEST_EXISTS))
        return p;
    g_free(p);
    return g_build_filename(CMD_DEFAULT_DATA_DIR, "kubeconfig", NULL);
}

/* The entry of list `key` whose name is `name`, its member `member`. */
static json_t *named(const json_t *cfg, const char *key, const char *name, const char *member)
{
    json_t *e;
    size_t i;
    json_array_foreach(json_object_get(cfg, key), i, e)
        if (!name || !g_strcmp0(json_string_value(json_object_get(e, "name")), name))
            return json_object_get(e, member);
    return NULL;
}

kubeclient_t *kubeclient_new(const char *path, const char *data_dir, err_t *err)
{
    char *file = find_config(path, data_dir), *text;
    size_t len = 0;
    json_t *cfg = NULL, *ctx, *cluster, *user;
    const char *cur, *ca64, *cafile;
    kubeclient_t *k = NULL;

    if (!(text = fs_read_all(file, KUBECONFIG_MAX, &len, err)))
        goto out;
    if (!(cfg = yaml_parse(text, len, err)))
        goto out;
    cur = json_string_value(json_object_get(cfg, "current-context"));
    ctx = named(cfg, "contexts", cur, "context");
    cluster = named(cfg, "clusters", json_string_value(json_object_get(ctx, "cluster")), "cluster");
    user = named(cfg, "users", json_string_value(json_object_get(ctx, "user")), "user");
    if (!json_string_value(json_object_get(cluster, "server")) ||
        !json_string_value(json_object_get(user, "token"))) {
        err_set(err, ERR_INVALID, "The kubeconfig %s names no server or no token.", file);
        goto out;
    }
    k = g_new0(kubeclient_t, 1);
    k->server = g_strdup(json_string_value(json_object_get(cluster, "server")));
    k->token = g_strdup(json_string_value(json_object_get(user, "token")));
    k->ns = g_strdup(json_string_value(json_object_get(ctx, "namespace")) ?: "default");
    ca64 = json_string_value(json_object_get(cluster, "certificate-authority-data"));
    cafile = json_string_value(json_object_get(cluster, "certificate-authority"));
    if (ca64) {
        gsize n = 0;
        guchar *pem = g_base64_decode(ca64, &n);
        k->ca_pem = g_strndup((const char *)pem, n);
        g_free(pem);
    } else if (cafile && !(k->ca_pem = fs_read_all(cafile, KUBECONFIG_MAX, NULL, err))) {
        kubeclient_free(k);
        k = NULL;
        goto out;
    }
    k->curl = curl_easy_init();
out:
    g_free(file);
    g_free(text);
    json_decref(cfg);
    return k;
}

void kubeclient_free(kubeclient_t *k)
{
    if (!k)
        return;
    if (k->curl)
        curl_easy_cleanup(k->curl);
    g_free(k->server);
    g_free(k->ca_pem);
    g_free(k->token);
    g_free(k->ns);
    g_free(k);
}

const char *kubeclient_namespace(const kubeclient_t *k)
{
    return k->ns;
}

static size_t collect(char *ptr, size_t size, size_t nmemb, void *p)
{
    GString *s = p;
    if (s->len + size * nmemb > RESPONSE_MAX)
        return 0;
    g_string_append_len(s, ptr, (gssize)(size * nmemb));
    return size * nmemb;
}

static err_code_t code_of(long status)
{
    switch (status) {
    case 400: return ERR_BAD_REQUEST;
    case 401: return ERR_UNAUTHORIZED;
    case 403: return ERR_FORBIDDEN;
    case 404: return ERR_NOT_FOUND;
    case 409: return ERR_ALREADY_EXISTS;
    case 422: return ERR_INVALID;
    case 503: return ERR_UNAVAILABLE;
    default: return ERR_INTERNAL;
    }
}

json_t *kubeclient_call(kubeclient_t *k, const char *method, const char *path,
                        const json_t *body, err_t *err)
{
    char *url = g_strconcat(k->server, path, NULL), *auth = g_strconcat("Authorization: Bearer ",
                                                                         k->token, NULL);
    char *payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
    GString *resp = g_string_new(NULL);
    struct curl_slist *hdrs = NULL;
    char ebuf[CURL_ERROR_SIZE] = "";
    json_t *out = NULL;
    long status = 0;
    CURLcode rc;

    curl_easy_reset(k->curl);
    hdrs = curl_slist_append(hdrs, auth);
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    if (payload)
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    curl_easy_setopt(k->curl, CURLOPT_URL, url);
    curl_easy_setopt(k->curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(k->curl, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(k->curl, CURLOPT_PROTOCOLS_STR, "https,http");
    curl_easy_setopt(k->curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(k->curl, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(k->curl, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(k->curl, CURLOPT_ERRORBUFFER, ebuf);
    curl_easy_setopt(k->curl, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(k->curl, CURLOPT_WRITEDATA, resp);
    if (payload)
        curl_easy_setopt(k->curl, CURLOPT_POSTFIELDS, payload);
    if (k->ca_pem) {
        struct curl_blob blob = {.data = k->ca_pem, .len = strlen(k->ca_pem),
                                 .flags = CURL_BLOB_COPY};
        curl_easy_setopt(k->curl, CURLOPT_CAINFO_BLOB, &blob);
    }
    rc = curl_easy_perform(k->curl);
    if (rc != CURLE_OK) {
        err_set(err, ERR_UNAVAILABLE, "Cannot reach the server at %s: %s", k->server,
                *ebuf ? ebuf : curl_easy_strerror(rc));
        goto out;
    }
    curl_easy_getinfo(k->curl, CURLINFO_RESPONSE_CODE, &status);
    out = json_loadb(resp->str, resp->len, 0, NULL);
    if (status < 200 || status >= 300) {
        const char *msg = json_string_value(json_object_get(out, "message"));
        err_set(err, code_of(status), "%s", msg ? msg : "The server refused the request.");
        json_decref(out);
        out = NULL;
    } else if (!out) {
        err_set(err, ERR_INTERNAL, "The server's answer is not JSON.");
    }
out:
    curl_slist_free_all(hdrs);
    g_string_free(resp, TRUE);
    g_free(url);
    g_free(auth);
    free(payload);
    return out;
}
