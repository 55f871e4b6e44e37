/* hostnet: the wrappers of the driver table (see hostnet.h). */
#include "hostnet/hostnet.h"

#include <glib.h>

struct hostnet {
    const hostnet_ops_t *ops;
    void *h;
};

hostnet_t *hostnet_open(const hostnet_ops_t *ops, err_t *err)
{
    void *h = ops->open(err);
    hostnet_t *n;
    if (!h)
        return NULL;
    n = g_new0(hostnet_t, 1);
    n->ops = ops;
    n->h = h;
    return n;
}

void hostnet_close(hostnet_t *n)
{
    if (!n)
        return;
    n->ops->close(n->h);
    g_free(n);
}

const char *hostnet_driver_name(const hostnet_t *n)
{
    return n->ops->name;
}

int hostnet_bridge_ensure(hostnet_t *n, const hostnet_bridge_t *b, err_t *err)
{
    return n->ops->bridge_ensure(n->h, b, err);
}

int hostnet_bridge_remove(hostnet_t *n, const char *name, err_t *err)
{
    return n->ops->bridge_remove(n->h, name, err);
}

bool hostnet_link_exists(hostnet_t *n, const char *name)
{
    return n->ops->link_exists(n->h, name);
}

int hostnet_rules_apply(hostnet_t *n, const json_t *batch, err_t *err)
{
    return n->ops->rules_apply(n->h, batch, err);
}

int hostnet_forwarding_enable(hostnet_t *n, err_t *err)
{
    return n->ops->forwarding_enable(n->h, err);
}

int hostnet_local_route(hostnet_t *n, const char *ip, bool add, err_t *err)
{
    return n->ops->local_route(n->h, ip, add, err);
}

json_t *hostnet_fake_state(hostnet_t *n)
{
    extern json_t *hostnet_fake_state_of(void *h);
    if (n->ops != &hostnet_fake_ops)
        return NULL;
    return hostnet_fake_state_of(n->h);
}
