/*
 * image: `vmsvc image import FILE|URL`, a client of the API like kubectl.
 * It creates a ContentLibraryItemImportRequest (a local FILE becomes a
 * file:// URL, which the server reads on its own host: the command runs on
 * the server's host), then follows the request's status with a progress
 * bar until the item is imported and its image is in the catalog.
 *
 * Without -n the target is the ClusterContentLibrary --library (default
 * "local", which the server makes on its first start) and the request is
 * made in vmsvc-system; with -n NS it is the ContentLibrary --library of
 * NS.  --firmware, --os-type and --os-version describe disk images that
 * carry no OVF descriptor.
 */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/kubeclient.h"
#include "ctl/catalog.h"
#include "ctl/refs.h"
#include "util/jsonutil.h"

#define DEFAULT_LIBRARY "local"
#define POLL_US (200 * 1000)

typedef struct opts {
    char *data_dir, *kubeconfig, *ns, *library, *name, *firmware, *os_type, *os_version;
    char *sha256, *type, *description;
    gboolean no_wait;
    int timeout_s;
} opts_t;

static const json_t *cond(const json_t *obj, const char *type)
{
    json_t *c;
    size_t i;
    json_array_foreach(json_path_get(obj, "status.conditions"), i, c)
        if (!g_strcmp0(json_string_value(json_object_get(c, "type")), type))
            return c;
    return NULL;
}

static bool cond_is(const json_t *obj, const char *type, const char *status)
{
    return !g_strcmp0(json_string_value(json_object_get(cond(obj, type), "status")), status);
}

/* One line of progress: a bar on a terminal, plain lines otherwise. */
static void show_progress(const json_t *req, bool tty, int *last_pct, char **last_file)
{
    json_t *ups = json_path_get(req, "status.fileUploadStatus.fileUploads"), *u, *cur = NULL;
    size_t i;
    json_array_foreach(ups, i, u)
        if (g_strcmp0(json_string_value(json_object_get(u, "transferStatus")), "Ready"))
            cur = u;
    if (!cur)
        cur = json_array_get(ups, json_array_size(ups) - 1);
    if (!cur)
        return;
    const char *file = json_string_value(json_object_get(cur, "name"));
    int64_t done = json_integer_value(json_object_get(cur, "bytesTransferred"));
    int64_t total = json_integer_value(json_object_get(cur, "size"));
    int pct = total > 0 ? (int)(done * 100 / total) : 0;
    if (tty) {
        char bar[31];
        int fill = pct * 30 / 100;
        for (int k = 0; k < 30; k++)
            bar[k] = k < fill ? '#' : '.';
        bar[30] = '\0';
        fprintf(stderr, "\r%-24.24s [%s] %3d%%  %8.1f / %.1f MiB", file ? file : "", bar, pct,
                (double)done / (1 << 20), (double)total / (1 << 20));
        fflush(stderr);
    } else if (g_strcmp0(file, *last_file) || pct / 10 != *last_pct / 10) {
        fprintf(stderr, "%s: %d%% (%lld of %lld bytes)\n", file ? file : "", pct,
                (long long)done, (long long)total);
    }
    if (g_strcmp0(file, *last_file)) {
        g_free(*last_file);
        *last_file = g_strdup(file);
    }
    *last_pct = pct;
}

static int image_import(const opts_t *o, const char *source)
{
    err_t err = ERR_INIT;
    kubeclient_t *k = kubeclient_new(o->kubeconfig, o->data_dir, &err);
    bool cluster = o->ns == NULL, tty = isatty(2);
    const char *ns = cluster ? REFS_SHARED_NS : o->ns;
    const char *library = o->library ? o->library : DEFAULT_LIBRARY;
    char *url = NULL, *path = NULL, *name = NULL, *vmi = NULL, *last_file = NULL;
    json_t *req = NULL, *created = NULL, *cur = NULL, *ann;
    int rc = 1, last_pct = -1;
    gint64 deadline;

    if (!k)
        goto fail;
    if (strstr(source, "://")) {
        url = g_strdup(source);
    } else {
        char *abs = g_canonicalize_filename(source, NULL);
        GError *gerr = NULL;
        if (!g_file_test(abs, G_FILE_TEST_IS_REGULAR)) {
            fprintf(stderr, "vmsvc image import: %s is not a file\n", source);
            g_free(abs);
            goto out;
        }
        url = g_filename_to_uri(abs, NULL, &gerr);
        g_free(abs);
        if (!url) {
            fprintf(stderr, "vmsvc image import: %s\n", gerr->message);
            g_error_free(gerr);
            goto out;
        }
    }
    req = json_pack("{s:s,s:s,s:{s:s},s:{s:{s:s},s:{s:{s:s,s:s,s:s},s:{}}}}", "apiVersion",
                    CATALOG_API_VERSION, "kind", "ContentLibraryItemImportRequest", "metadata",
                    "generateName", "import-", "spec", "source", "url", url, "target", "library",
                    "apiVersion", CATALOG_API_VERSION, "kind",
                    cluster ? "ClusterContentLibrary" : "ContentLibrary", "name", library, "item");
    if (o->name)
        json_object_set_new(json_path_get(req, "spec.target.item"), "name", json_string(o->name));
    if (o->description)
        json_object_set_new(json_path_get(req, "spec.target.item"), "description",
                            json_string(o->description));
    if (o->type)
        json_object_set_new(json_path_get(req, "spec.target.item"), "type", json_string(o->type));
    if (o->sha256)
        json_object_set_new(json_path_get(req, "spec.source"), "checksum",
                            json_pack("{s:s,s:s}", "algorithm", "SHA256", "value", o->sha256));
    ann = json_object();
    if (o->firmware)
        json_object_set_new(ann, CATALOG_FIRMWARE_ANNOTATION, json_string(o->firmware));
    if (o->os_type)
        json_object_set_new(ann, CATALOG_OS_TYPE_ANNOTATION, json_string(o->os_type));
    if (o->os_version)
        json_object_set_new(ann, CATALOG_OS_VERSION_ANNOTATION, json_string(o->os_version));
    json_object_set_new(json_object_get(req, "metadata"), "annotations", ann);
    path = g_strdup_printf("/apis/imageregistry.vmware.com/v1alpha1/namespaces/%s/"
                           "contentlibraryitemimportrequests",
                           ns);
    if (!(created = kubeclient_call(k, "POST", path, req, &err)))
        goto fail;
    name = g_strdup(json_path_str(created, "metadata.name"));
    vmi = catalog_image_name(json_path_str(created, "metadata.uid"));
    fprintf(stderr, "import request %s/%s: %s into %s %s\n", ns, name, url,
            cluster ? "ClusterContentLibrary" : "ContentLibrary", library);
    if (o->no_wait) {
        printf("%s\n", vmi);
        rc = 0;
        goto out;
    }
    g_free(path);
    path = g_strdup_printf("/apis/imageregistry.vmware.com/v1alpha1/namespaces/%s/"
                           "contentlibraryitemimportrequests/%s",
                           ns, name);
    deadline = g_get_monotonic_time() + (gint64)o->timeout_s * G_USEC_PER_SEC;
    for (;;) {
        json_decref(cur);
        if (!(cur = kubeclient_call(k, "GET", path, NULL, &err)))
            goto fail;
        show_progress(cur, tty, &last_pct, &last_file);
        if (cond_is(cur, "Complete", "True"))
            break;
        const char *bad = cond_is(cur, "SourceValid", "False")   ? "SourceValid"
                          : cond_is(cur, "TargetValid", "False") ? "TargetValid"
                          : json_path_str(cur, "status.completionTime") ? "Complete"
                                                                        : NULL;
        if (bad) {
            if (tty && last_pct >= 0)
                fputc('\n', stderr);
            fprintf(stderr, "vmsvc image import: %s (%s)\n",
                    json_string_value(json_object_get(cond(cur, bad), "message")) ?: "failed",
                    json_string_value(json_object_get(cond(cur, bad), "reason")) ?: bad);
            if (strcmp(bad, "Complete")) {
                err_t derr = ERR_INIT;
                json_decref(kubeclient_call(k, "DELETE", path, NULL, &derr));
                err_clear(&derr);
            }
            goto out;
        }
        if (g_get_monotonic_time() > deadline) {
            fprintf(stderr, "\nvmsvc image import: not done after %d s; the import goes on "
                            "(kubectl get clitemimport -n %s %s)\n",
                    o->timeout_s, ns, name);
            goto out;
        }
        g_usleep(POLL_US);
    }
    if (tty && last_pct >= 0)
        fputc('\n', stderr);
    /* The image follows the item within moments. */
    g_free(path);
    path = cluster ? g_strdup_printf("/apis/vmoperator.vmware.com/v1alpha2/"
                                     "clustervirtualmachineimages/%s", vmi)
                   : g_strdup_printf("/apis/vmoperator.vmware.com/v1alpha2/namespaces/%s/"
                                     "virtualmachineimages/%s", ns, vmi);
    for (int i = 0; i < 150; i++) {
        json_t *img = kubeclient_call(k, "GET", path, NULL, &err);
        bool ready = img && json_path_str(img, "status.providerItemID");
        json_decref(img);
        err_clear(&err);
        if (ready)
            break;
        g_usleep(POLL_US);
    }
    printf("%s\n", vmi);
    fprintf(stderr, "imported: %s %s (display name %s)\n",
            cluster ? "ClusterVirtualMachineImage" : "VirtualMachineImage", vmi,
            json_string_value(json_object_get(json_path_get(cur, "spec.target.item"), "name"))
                ?: (o->name ? o->name : "from the file name"));
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "vmsvc image import: %s\n", err.msg);
out:
    err_clear(&err);
    kubeclient_free(k);
    json_decref(req);
    json_decref(created);
    json_decref(cur);
    g_free(url);
    g_free(path);
    g_free(name);
    g_free(vmi);
    g_free(last_file);
    return rc;
}

int cmd_image(int argc, char **argv)
{
    opts_t o = {.timeout_s = 3600};
    GOptionEntry entries[] = {
        {"library", 'l', 0, G_OPTION_ARG_STRING, &o.library,
         "the library (default: the ClusterContentLibrary \"" DEFAULT_LIBRARY "\")", "NAME"},
        {"namespace", 'n', 0, G_OPTION_ARG_STRING, &o.ns,
         "the namespace of a ContentLibrary (without it: a ClusterContentLibrary)", "NS"},
        {"name", 0, 0, G_OPTION_ARG_STRING, &o.name,
         "the item's name, the image's display name (default: the file name)", "NAME"},
        {"description", 0, 0, G_OPTION_ARG_STRING, &o.description, "the item's description",
         "TEXT"},
        {"type", 0, 0, G_OPTION_ARG_STRING, &o.type, "OVF (default) or ISO", "TYPE"},
        {"sha256", 0, 0, G_OPTION_ARG_STRING, &o.sha256, "the file's SHA-256, checked", "HEX"},
        {"firmware", 0, 0, G_OPTION_ARG_STRING, &o.firmware,
         "bios or efi, for a disk image without a descriptor", "FW"},
        {"os-type", 0, 0, G_OPTION_ARG_STRING, &o.os_type, "guest OS type", "TYPE"},
        {"os-version", 0, 0, G_OPTION_ARG_STRING, &o.os_version, "guest OS version", "VERSION"},
        {"data-dir", 0, 0, G_OPTION_ARG_FILENAME, &o.data_dir,
         "use the kubeconfig of this server data directory", "DIR"},
        {"kubeconfig", 0, 0, G_OPTION_ARG_FILENAME, &o.kubeconfig, "the kubeconfig to use",
         "FILE"},
        {"no-wait", 0, 0, G_OPTION_ARG_NONE, &o.no_wait, "return once the request is made", NULL},
        {"timeout", 0, 0, G_OPTION_ARG_INT, &o.timeout_s, "seconds to wait (default 3600)", "S"},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    GOptionContext *ctx = g_option_context_new("import FILE|URL - import an image into a library");
    GError *gerr = NULL;
    int rc;

    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_summary(
        ctx, "Imports an OVA, an OVF, a disk image (qcow2, raw, vmdk, ...) or an ISO into a "
             "content library through the API (a ContentLibraryItemImportRequest) and shows its "
             "progress. A local FILE is read by the server on this host. Prints the image's "
             "name (vmi-...).");
    if (!g_option_context_parse(ctx, &argc, &argv, &gerr)) {
        fprintf(stderr, "vmsvc image: %s\n", gerr->message);
        g_error_free(gerr);
        g_option_context_free(ctx);
        return 2;
    }
    g_option_context_free(ctx);
    if (argc != 3 || strcmp(argv[1], "import") != 0) {
        fprintf(stderr, "usage: vmsvc image import FILE|URL [--library NAME] [-n NS] [--name NAME] "
                        "[--firmware bios|efi] [--sha256 HEX] [--data-dir DIR]\n");
        rc = 2;
    } else if (o.firmware && strcmp(o.firmware, "bios") && strcmp(o.firmware, "efi")) {
        fprintf(stderr, "vmsvc image import: --firmware must be bios or efi\n");
        rc = 2;
    } else if (o.type && strcmp(o.type, "OVF") && strcmp(o.type, "ISO")) {
        fprintf(stderr, "vmsvc image import: --type must be OVF or ISO\n");
        rc = 2;
    } else {
        rc = image_import(&o, argv[2]);
    }
    g_free(o.data_dir);
    g_free(o.kubeconfig);
    g_free(o.ns);
    g_free(o.library);
    g_free(o.name);
    g_free(o.firmware);
    g_free(o.os_type);
    g_free(o.os_version);
    g_free(o.sha256);
    g_free(o.type);
    g_free(o.description);
    return rc;
}
