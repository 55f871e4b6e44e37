/* netrefs: see netrefs.h. */
#include "ctl/netrefs.h"

#include <string.h>

#include "ctl/refs.h"
#include "util/jsonutil.h"

json_t *netrefs_default_network(apiserver_t *srv, const char *ns)
{
    const char *spaces[] = {ns, REFS_SHARED_NS};

    for (size_t s = 0; s < G_N_ELEMENTS(spaces); s++) {
        char *prefix = g_strconcat(NETREFS_NETWORK_PREFIX, spaces[s], "/", NULL);
        GPtrArray *all = store_list(srv->store, prefix, NULL, 0, NULL, NULL);
        json_t *found = NULL, *only = NULL;
        guint live = 0;

        for (guint i = 0; i < all->len && !found; i++) {
            store_obj_t *o = all->pdata[i];
            const char *mark = json_string_value(json_object_get(o->labels, NETREFS_DEFAULT_LABEL));
            if (mark && !strcmp(mark, "true"))
                found = store_obj_json(o);
            else if (live++ == 0)
                only = store_obj_json(o);
            else {
                json_decref(only);
                only = NULL;
            }
        }
        if (!found && live == 1)
            found = json_incref(only);
        json_decref(only);
        g_ptr_array_unref(all);
        g_free(prefix);
        if (found)
            return found;
        if (!ns || !strcmp(ns, REFS_SHARED_NS))
            break;
    }
    return NULL;
}

json_t *netrefs_network(apiserver_t *srv, const char *ns, const char *name)
{
    json_t *n;
    if (!name || !*name)
        return netrefs_default_network(srv, ns);
    n = refs_get_shared(srv, "netoperator.vmware.com", "networks", ns, name);
    if (!n)
        n = refs_get_shared(srv, "netoperator.vmware.com", "networks", REFS_SHARED_NS, name);
    return n;
}

json_t *netrefs_network_of(apiserver_t *srv, const json_t *netif)
{
    const char *ref = json_string_value(
        json_object_get(json_path_get(netif, "metadata.annotations"), NETREFS_NETWORK_ANN));
    const char *uid = json_path_str(netif, "status.networkID");
    const char *slash = ref ? strchr(ref, '/') : NULL;
    char *ns;
    json_t *n;

    if (!slash || !uid)
        return NULL;
    ns = g_strndup(ref, (gsize)(slash - ref));
    n = refs_get_shared(srv, "netoperator.vmware.com", "networks", ns, slash + 1);
    g_free(ns);
    if (n && g_strcmp0(json_path_str(n, "metadata.uid"), uid) != 0) {
        json_decref(n);
        n = NULL;
    }
    return n;
}

json_t *netrefs_netifs_of(apiserver_t *srv, const char *ns, const char *vm)
{
    /* A VM's interfaces are named "<vm>-<interface>": a range of keys, not
     * the whole namespace (the label tells "a-b-eth0" of VM "a-b" from
     * an interface "b-eth0" of VM "a"). */
    char *prefix = g_strconcat(NETREFS_NETIF_PREFIX, ns, "/", vm, "-", NULL);
    GPtrArray *all = store_list(srv->store, prefix, NULL, 0, NULL, NULL);
    json_t *out = json_object();

    for (guint i = 0; i < all->len; i++) {
        store_obj_t *o = all->pdata[i];
        if (g_strcmp0(json_string_value(json_object_get(o->labels, NETREFS_VM_LABEL)), vm) != 0)
            continue;
        json_t *j = store_obj_json(o);
        json_object_set_new(out, json_path_str(j, "metadata.name") ?: "", j);
    }
    g_ptr_array_unref(all);
    g_free(prefix);
    return out;
}

char *netrefs_bridge_name(const json_t *network)
{
    const char *name = json_path_str(network, "spec.bridge.name");
    const char *uid = json_path_str(network, "metadata.uid");
    if (name && *name)
        return g_strdup(name);
    return g_strdup_printf("vmsvc-%.8s", uid ? uid : "");
}
