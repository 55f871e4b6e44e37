/*
 * server: `vmsvc server`, the control plane in one process: the store, the
 * HTTPS API, and the controllers.  Start-up order: data directory, schemas,
 * store, credentials, listener, built-in objects, controllers, and last the
 * kubeconfig, so that a kubeconfig on disk means a server that answers.
 */
#include <errno.h>
#include <glib.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/agent.h"
#include "api/api.h"
#include "api/objects.h"
#include "api/pki.h"
#include "cmd/cmd.h"
#include "ctl/ctl.h"
#include "ctl/net.h"
#include "model/quantity.h"
#include "model/validate.h"
#include "util/fs.h"
#include "util/log.h"

int cmd_parse_listen(const char *s, char **host, int *port)
{
    const char *colon;
    char *end;
    long p;

    if (!s || !*s)
        return -1;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return -1;
        *host = g_strndup(s + 1, (gsize)(close - s - 1));
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return -1;
        *host = g_strndup(s, (gsize)(colon - s));
    }
    p = strtol(colon + 1, &end, 10);
    if (*end || colon[1] == '\0' || p < 0 || p > 65535) {
        g_free(*host);
        *host = NULL;
        return -1;
    }
    if (!**host) {
        g_free(*host);
        *host = g_strdup("0.0.0.0");
    }
    *port = (int)p;
    return 0;
}

/* The URL clients use: a wildcard listen address is reached on loopback. */
static char *server_url(const char *host, int port)
{
    if (!strcmp(host, "0.0.0.0"))
        return g_strdup_printf("https://127.0.0.1:%d", port);
    if (!strcmp(host, "::"))
        return g_strdup_printf("https://[::1]:%d", port);
    if (strchr(host, ':'))
        return g_strdup_printf("https://[%s]:%d", host, port);
    return g_strdup_printf("https://%s:%d", host, port);
}

/* Namespaces every cluster has. */
static int ensure_namespaces(apiserver_t *srv, err_t *err)
{
    static const char *const names[] = {"default", "kube-system", "kube-public",
                                        "vmsvc-system"};
    const resource_t *res = registry_find(srv->reg, "", "v1", "namespaces");

    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        obj_opts_t o = {.fv = FIELD_VALIDATION_STRICT};
        json_t *ns = json_pack("{s:s,s:s,s:{s:s}}", "apiVersion", "v1", "kind", "Namespace",
                               "metadata", "name", names[i]);
        store_obj_t *r = obj_create(srv, res, NULL, ns, &o, err);
        if (!r && err->code != ERR_ALREADY_EXISTS)
            return -1;
        err_clear(err);
        store_obj_unref(r);
    }
    return 0;
}

/* "cpu=2,memory=8Gi" into millicores and bytes. */
static int parse_allocatable(const char *s, int64_t *cpu, int64_t *mem)
{
    char **parts = g_strsplit(s, ",", -1);
    err_t err = ERR_INIT;
    int rc = 0;

    for (char **p = parts; *p && rc == 0; p++) {
        if (g_str_has_prefix(*p, "cpu="))
            rc = quantity_parse_str(*p + 4, 1000, cpu, &err);
        else if (g_str_has_prefix(*p, "memory="))
            rc = quantity_parse_str(*p + 7, 1, mem, &err);
        else
            rc = -1;
    }
    err_clear(&err);
    g_strfreev(parts);
    return rc;
}

static int parse_log_level(const char *s, log_level_t *out)
{
    static const char *const names[LOG_LAST] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < LOG_LAST; i++)
        if (!strcmp(s, names[i])) {
            *out = (log_level_t)i;
            return 0;
        }
    return -1;
}

/* glibc gives threads up to 8 malloc arenas per CPU.  The server's many
 * threads (a connection each, libvirt's one per running VM) mostly wait
 * on I/O, and each arena they touch stays resident: one arena per CPU
 * keeps the memory a running VM costs the server under 2 MiB.  An
 * explicit MALLOC_ARENA_MAX in the environment wins. */
static void limit_malloc_arenas(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (g_getenv("MALLOC_ARENA_MAX"))
        return;
    mallopt(M_ARENA_MAX, (int)(cpus > 0 ? cpus : 1));
}

int cmd_server(int argc, char **argv)
{
    /* Freed on every return, the early ones on bad flags included. */
    g_autofree char *data_dir = NULL, *listen = NULL, *level = NULL, *uri = NULL, *accel = NULL,
                    *hypervisor = NULL, *node = NULL, *zone = NULL, *alloc = NULL;
    int soft_timeout = 300, workers = 256, guest_nice = 10;
    GOptionEntry entries[] = {
        {"data-dir", 0, 0, G_OPTION_ARG_FILENAME, &data_dir,
         "where the store, credentials and VM disks live (default " CMD_DEFAULT_DATA_DIR ")",
         "DIR"},
        {"listen", 0, 0, G_OPTION_ARG_STRING, &listen,
         "address and port of the HTTPS API (default " CMD_DEFAULT_LISTEN "; port 0 picks one)",
         "HOST:PORT"},
        {"log-level", 0, 0, G_OPTION_ARG_STRING, &level, "debug, info, warn or error (default info)",
         "LEVEL"},
        {"libvirt-uri", 0, 0, G_OPTION_ARG_STRING, &uri,
         "libvirt connection (default: the embedded QEMU driver under DIR/libvirt; e.g. "
         "qemu:///system)", "URI"},
        {"accel", 0, 0, G_OPTION_ARG_STRING, &accel,
         "auto (KVM where a guest really runs under it, else TCG), kvm or tcg (default auto)",
         "ACCEL"},
        {"hypervisor", 0, 0, G_OPTION_ARG_STRING, &hypervisor,
         "libvirt (default) or fake (in memory, for control-plane scale tests)", "DRIVER"},
        {"node-name", 0, 0, G_OPTION_ARG_STRING, &node, "this host's Node name (default: host name)",
         "NAME"},
        {"zone", 0, 0, G_OPTION_ARG_STRING, &zone, "this host's zone (topology.kubernetes.io/zone)",
         "ZONE"},
        {"allocatable", 0, 0, G_OPTION_ARG_STRING, &alloc,
         "capacity offered to reservations, e.g. cpu=2,memory=8Gi (default: the whole host)",
         "LIST"},
        {"soft-shutdown-timeout", 0, 0, G_OPTION_ARG_INT, &soft_timeout,
         "seconds a TrySoft power-off waits for the guest before a hard one (default 300)", "S"},
        {"agent-workers", 0, 0, G_OPTION_ARG_INT, &workers,
         "the most VM operations at work at once; threads start as needed "
         "(default 256, at most 4096)", "N"},
        {"guest-nice", 0, 0, G_OPTION_ARG_INT, &guest_nice,
         "CPU nice value of the guests' QEMU processes, 0 to 19, so that the service stays "
         "responsive when guests are busy (default 10)", "N"},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    GOptionContext *octx = g_option_context_new("- run the vmsvc control plane");
    GError *gerr = NULL;
    err_t err = ERR_INIT;
    apiserver_t srv = {0};
    pki_t *pki = NULL;
    ctl_t *gc = NULL, *nsc = NULL, *vmc = NULL, *imgc = NULL, *netc = NULL, *svcc = NULL;
    agent_t *agent = NULL;
    agent_opts_t ao = {0};
    char *kc = NULL, *kc_path = NULL;
    sigset_t sigs;
    int rc = 1, sig = 0;
    log_level_t lv = LOG_INFO;

    g_option_context_add_main_entries(octx, entries, NULL);
    g_option_context_set_summary(octx,
                                 "Serves the VM Service API over HTTPS with its embedded store. "
                                 "On first start it makes a CA, a serving certificate and an "
                                 "admin token, and writes DIR/kubeconfig for kubectl.");
    if (!g_option_context_parse(octx, &argc, &argv, &gerr)) {
        fprintf(stderr, "vmsvc server: %s\n", gerr->message);
        g_error_free(gerr);
        g_option_context_free(octx);
        return 2;
    }
    g_option_context_free(octx);
    if (argc > 1) {
        fprintf(stderr, "vmsvc server: unexpected argument \"%s\"\n", argv[1]);
        return 2;
    }
    if (level && parse_log_level(level, &lv) < 0) {
        fprintf(stderr, "vmsvc server: --log-level must be debug, info, warn or error\n");
        return 2;
    }
    log_set_level(lv);
    limit_malloc_arenas();
    ao.accel = HV_ACCEL_AUTO;
    if (accel && !strcmp(accel, "kvm"))
        ao.accel = HV_ACCEL_KVM;
    else if (accel && !strcmp(accel, "tcg"))
        ao.accel = HV_ACCEL_TCG;
    else if (accel && strcmp(accel, "auto")) {
        fprintf(stderr, "vmsvc server: --accel must be auto, kvm or tcg\n");
        return 2;
    }
    ao.hv_ops = &hv_libvirt_ops;
    if (hypervisor && !strcmp(hypervisor, "fake")) {
        ao.hv_ops = &hv_fake_ops;
        ao.net_ops = &hostnet_fake_ops; /* no guests, so no bridges or rules on the host */
    }
    else if (hypervisor && strcmp(hypervisor, "libvirt")) {
        fprintf(stderr, "vmsvc server: --hypervisor must be libvirt or fake\n");
        return 2;
    }
    if (alloc && parse_allocatable(alloc, &ao.alloc_cpu_milli, &ao.alloc_mem_bytes) < 0) {
        fprintf(stderr, "vmsvc server: --allocatable wants cpu=N,memory=Q, got \"%s\"\n", alloc);
        return 2;
    }
    if (soft_timeout < 1 || workers < 1 || workers > 4096) {
        fprintf(stderr, "vmsvc server: --soft-shutdown-timeout must be positive and "
                        "--agent-workers from 1 to 4096\n");
        return 2;
    }
    if (guest_nice < 0 || guest_nice > 19) {
        fprintf(stderr, "vmsvc server: --guest-nice must be from 0 to 19\n");
        return 2;
    }
    if (!data_dir)
        data_dir = g_strdup(CMD_DEFAULT_DATA_DIR);
    if (cmd_parse_listen(listen ? listen : CMD_DEFAULT_LISTEN, &srv.listen_host, &srv.port) < 0) {
        fprintf(stderr, "vmsvc server: --listen wants HOST:PORT, got \"%s\"\n", listen);
        goto out;
    }

    /* Signals are taken by sigwait below; every thread inherits the mask. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    umask(077);
    if (fs_mkdir_p(data_dir, 0700, &err) < 0)
        goto fail;
    g_mutex_init(&srv.docs_lock);
    if (!(srv.reg = registry_load_embedded(&err)))
        goto fail;
    if (!(srv.store = store_open(data_dir, &store_sqlite_ops, &err)))
        goto fail;
    if (!(pki = pki_ensure(data_dir, srv.listen_host, &err)))
        goto fail;
    srv.token = g_strdup(pki->token);
    if (apiserver_start(&srv, pki->cert_pem, pki->key_pem, &err) < 0)
        goto fail;
    srv.server_url = server_url(srv.listen_host, srv.port);
    if (ensure_namespaces(&srv, &err) < 0)
        goto fail;
    if (defaults_ensure(&srv, &err) < 0)
        goto fail;
    if (net_defaults_ensure(&srv, &err) < 0)
        goto fail;
    gc = ctl_gc_start(&srv);
    nsc = ctl_namespace_start(&srv);
    imgc = ctl_catalog_start(&srv);
    vmc = ctl_vm_start(&srv);
    netc = ctl_netif_start(&srv);
    svcc = ctl_vmservice_start(&srv, NULL);
    ao.data_dir = data_dir;
    ao.node_name = node;
    ao.zone = zone;
    ao.libvirt_uri = uri;
    ao.soft_timeout_s = soft_timeout;
    ao.workers = workers;
    ao.guest_nice = guest_nice;
    if (!(agent = agent_start(&srv, &ao, &err)))
        goto fail;

    kc = pki_kubeconfig_render(pki, srv.server_url);
    kc_path = g_build_filename(data_dir, "kubeconfig", NULL);
    if (fs_write_atomic(kc_path, kc, strlen(kc), 0600, &err) < 0)
        goto fail;
    log_info("vmsvc %s serving on %s; kubeconfig: %s", VMSVC_VERSION, srv.server_url, kc_path);

    while (sigwait(&sigs, &sig) != 0 || (sig != SIGINT && sig != SIGTERM))
        ;
    log_info("received %s; shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
    rc = 0;
    goto out;

fail:
    log_error("%s", err.msg);
out:
    agent_stop(agent);
    ctl_stop(svcc);
    ctl_stop(netc);
    ctl_stop(vmc);
    ctl_stop(imgc);
    ctl_stop(nsc);
    ctl_stop(gc);
    apiserver_stop(&srv);
    store_close(srv.store);
    registry_free(srv.reg);
    schema_validate_cache_clear();
    if (srv.openapi) {
        g_hash_table_unref(srv.openapi);
        g_hash_table_unref(srv.openapi_hash);
    }
    g_free(srv.openapi_index);
    pki_free(pki);
    g_free(srv.token);
    g_free(srv.server_url);
    g_free(srv.listen_host);
    g_free(kc);
    g_free(kc_path);
    err_clear(&err);
    return rc;
}
