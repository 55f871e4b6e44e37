/* hostnet fake: remembers what it was asked, touches nothing (see hostnet.h). */
#include "hostnet/hostnet.h"

#include <glib.h>

typedef struct fake {
    GMutex lock;
    json_t *state;
} fake_t;

static void *fake_open(err_t *err)
{
    fake_t *f = g_new0(fake_t, 1);
    g_mutex_init(&f->lock);
    f->state = json_pack("{s:{},s:n,s:b,s:{}}", "bridges", "rules", "forwarding", 0,
                         "localRoutes");
    return f;
}

static void fake_close(void *h)
{
    fake_t *f = h;
    json_decref(f->state);
    g_mutex_clear(&f->lock);
    g_free(f);
}

static int fake_bridge_ensure(void *h, const hostnet_bridge_t *b, err_t *err)
{
    fake_t *f = h;
    g_mutex_lock(&f->lock);
    json_object_set_new(json_object_get(f->state, "bridges"), b->name,
                        json_pack("{s:s?,s:i}", "address", b->address, "mtu", b->mtu));
    g_mutex_unlock(&f->lock);
    return 0;
}

static int fake_bridge_remove(void *h, const char *name, err_t *err)
{
    fake_t *f = h;
    g_mutex_lock(&f->lock);
    json_object_del(json_object_get(f->state, "bridges"), name);
    g_mutex_unlock(&f->lock);
    return 0;
}

static bool fake_link_exists(void *h, const char *name)
{
    fake_t *f = h;
    bool r;
    g_mutex_lock(&f->lock);
    r = json_object_get(json_object_get(f->state, "bridges"), name) != NULL;
    g_mutex_unlock(&f->lock);
    return r;
}

static int fake_rules_apply(void *h, const json_t *batch, err_t *err)
{
    fake_t *f = h;
    g_mutex_lock(&f->lock);
    json_object_set_new(f->state, "rules", json_deep_copy(batch));
    g_mutex_unlock(&f->lock);
    return 0;
}

static int fake_forwarding_enable(void *h, err_t *err)
{
    fake_t *f = h;
    g_mutex_lock(&f->lock);
    json_object_set_new(f->state, "forwarding", json_true());
    g_mutex_unlock(&f->lock);
    return 0;
}

static int fake_local_route(void *h, const char *ip, bool add, err_t *err)
{
    fake_t *f = h;
    (void)err;
    g_mutex_lock(&f->lock);
    if (add)
        json_object_set_new(json_object_get(f->state, "localRoutes"), ip, json_true());
    else
        json_object_del(json_object_get(f->state, "localRoutes"), ip);
    g_mutex_unlock(&f->lock);
    return 0;
}

json_t *hostnet_fake_state_of(void *h);
json_t *hostnet_fake_state_of(void *h)
{
    fake_t *f = h;
    json_t *s;
    g_mutex_lock(&f->lock);
    s = json_deep_copy(f->state);
    g_mutex_unlock(&f->lock);
    return s;
}

const hostnet_ops_t hostnet_fake_ops = {
    .name = "fake",
    .open = fake_open,
    .close = fake_close,
    .bridge_ensure = fake_bridge_ensure,
    .bridge_remove = fake_bridge_remove,
    .link_exists = fake_link_exists,
    .rules_apply = fake_rules_apply,
    .forwarding_enable = fake_forwarding_enable,
    .local_route = fake_local_route,
};
