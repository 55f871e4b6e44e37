/*
 * fake: an in-memory hypervisor driver for control-plane tests at scale.
 * It follows the libvirt driver's semantics without running anything:
 *
 *   - define validates the spec like the libvirt driver (model/domain.c)
 *     and (re)defines a persistent domain, SHUTOFF when new;
 *   - start runs a SHUTOFF, CRASHED or SAVED domain (SAVED: from its
 *     managed save image, which start consumes); starting an active domain
 *     is a Conflict;
 *   - suspend saves an active persistent domain to "disk" (SAVED, inactive);
 *     pause/resume keep it in memory; a guest asked to shut down while
 *     paused does so once resumed; reboot leaves the state alone;
 *   - undefining an active domain makes it transient: it vanishes when it
 *     stops, as in libvirt;
 *   - state changes are reported from the driver's own thread, in order;
 *   - pid is always 0;
 *   - a running domain's guest agent answers only where a test says so
 *     (hv_priv.h: hv_fake_set_guest_view, VMSVC_HV_FAKE_GUEST_AGENT).
 *
 * Invariants: `doms` and every domain in it change only under `lock`;
 * events are queued under `lock`, so their order is the order of the
 * changes; the event thread never takes `lock`.
 */
#include <stdlib.h>
#include <string.h>

#include "hv/hv.h"
#include "hv/hv_priv.h"
#include "model/domain.h"
#include "model/ipaddr.h"

typedef struct fake_dom {
    char *name;
    char *vm_uid;
    json_t *spec;   /* the definition, disks attached since included */
    hv_state_t state;
    bool persistent;
    bool shutdown_pending; /* asked to shut down while paused */
} fake_dom_t;

typedef struct fake_event {
    char *name; /* NULL: the thread's signal to stop */
    hv_state_t state;
} fake_event_t;

typedef struct fake {
    GMutex lock;
    GHashTable *doms; /* name -> fake_dom_t* */
    hv_accel_t accel;
    hv_event_fn on_event;
    void *event_ctx;
    GAsyncQueue *events; /* fake_event_t* */
    GThread *thread;
    char **always_fail; /* ops from VMSVC_HV_FAKE_FAIL */
    bool guest_agent;   /* VMSVC_HV_FAKE_GUEST_AGENT */
} fake_t;

/* ---- fault injection ----------------------------------------------------- */

typedef struct fault {
    char *op;
    err_code_t code;
} fault_t;

static GMutex faults_lock;
static GQueue faults = G_QUEUE_INIT;

void hv_fake_fail_next(const char *op, err_code_t code)
{
    fault_t *f = g_new(fault_t, 1);
    f->op = g_strdup(op);
    f->code = code;
    g_mutex_lock(&faults_lock);
    g_queue_push_tail(&faults, f);
    g_mutex_unlock(&faults_lock);
}

static void fault_free(gpointer p)
{
    fault_t *f = p;
    g_free(f->op);
    g_free(f);
}

void hv_fake_fail_clear(void)
{
    g_mutex_lock(&faults_lock);
    g_queue_clear_full(&faults, fault_free);
    g_mutex_unlock(&faults_lock);
}

/* -1 with an error when a fault was injected into `op`. */
static int fault_check(fake_t *f, const char *op, err_t *err)
{
    err_code_t code = ERR_NONE;

    if (f->always_fail && g_strv_contains((const char *const *)f->always_fail, op))
        code = ERR_INTERNAL;
    g_mutex_lock(&faults_lock);
    for (GList *l = faults.head; l && code == ERR_NONE; l = l->next) {
        fault_t *ft = l->data;
        if (strcmp(ft->op, op))
            continue;
        code = ft->code;
        g_queue_delete_link(&faults, l);
        fault_free(ft);
        break;
    }
    g_mutex_unlock(&faults_lock);
    if (code == ERR_NONE)
        return 0;
    err_set(err, code, "The fake hypervisor driver failed %s on purpose (injected fault).", op);
    return -1;
}

/* ---- guest agents ------------------------------------------------------- */

static GMutex views_lock;
static GHashTable *views; /* domain name -> json_t* view; guarded by views_lock */

void hv_fake_set_guest_view(const char *name, const json_t *view)
{
    g_mutex_lock(&views_lock);
    if (!views)
        views = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                      (GDestroyNotify)json_decref);
    if (view)
        g_hash_table_insert(views, g_strdup(name), json_deep_copy(view));
    else
        g_hash_table_remove(views, name);
    g_mutex_unlock(&views_lock);
}

void hv_fake_guest_views_clear(void)
{
    g_mutex_lock(&views_lock);
    if (views)
        g_hash_table_remove_all(views);
    g_mutex_unlock(&views_lock);
}

/* The view set for `name` (a new reference), or NULL. */
static json_t *view_get(const char *name)
{
    json_t *v = NULL;

    g_mutex_lock(&views_lock);
    if (views)
        v = json_deep_copy(g_hash_table_lookup(views, name));
    g_mutex_unlock(&views_lock);
    return v;
}

/* The IPv6 link-local address a guest derives from a MAC (modified
 * EUI-64, RFC 4291), with its prefix, into buf; false for a bad MAC. */
static bool eui64_link_local(const char *mac, char buf[IPNET_STRLEN])
{
    unsigned m[6];
    ipnet_t n = {.addr = {.family = AF_INET6, .b = {0xfe, 0x80}}, .prefix = 64};

    if (!mac || sscanf(mac, "%2x:%2x:%2x:%2x:%2x:%2x", &m[0], &m[1], &m[2], &m[3], &m[4],
                       &m[5]) != 6)
        return false;
    n.addr.b[8] = (uint8_t)(m[0] ^ 0x02);
    n.addr.b[9] = (uint8_t)m[1];
    n.addr.b[10] = (uint8_t)m[2];
    n.addr.b[11] = 0xff;
    n.addr.b[12] = 0xfe;
    n.addr.b[13] = (uint8_t)m[3];
    n.addr.b[14] = (uint8_t)m[4];
    n.addr.b[15] = (uint8_t)m[5];
    ipnet_format(&n, buf);
    return true;
}

/* What VMSVC_HV_FAKE_GUEST_AGENT's agent reports for a domain's nics. */
static json_t *view_of_nics(const json_t *nics)
{
    json_t *out = json_array();
    const json_t *nic;
    size_t i;

    json_array_foreach(nics, i, nic) {
        const char *mac = json_string_value(json_object_get(nic, "mac"));
        char ll[IPNET_STRLEN], name[16];
        if (!eui64_link_local(mac, ll))
            continue;
        g_snprintf(name, sizeof(name), "eth%zu", i);
        json_array_append_new(out, json_pack("{s:s,s:s,s:[s]}", "name", name, "mac", mac,
                                             "addresses", ll));
    }
    return out;
}

/* ---- domains and events -------------------------------------------------- */

static void dom_free(gpointer p)
{
    fake_dom_t *d = p;
    g_free(d->name);
    g_free(d->vm_uid);
    json_decref(d->spec);
    g_free(d);
}

static bool active(const fake_dom_t *d)
{
    return d->state == HV_STATE_RUNNING || d->state == HV_STATE_PAUSED;
}

/* Queue a state change; called with f->lock held. */
static void emit(fake_t *f, const char *name, hv_state_t state)
{
    fake_event_t *e;

    if (!f->on_event)
        return;
    e = g_new(fake_event_t, 1);
    e->name = g_strdup(name);
    e->state = state;
    g_async_queue_push(f->events, e);
}

static gpointer event_thread(gpointer p)
{
    fake_t *f = p;

    for (;;) {
        fake_event_t *e = g_async_queue_pop(f->events);
        bool stop = !e->name;
        if (!stop)
            f->on_event(f->event_ctx, e->name, e->state);
        g_free(e->name);
        g_free(e);
        if (stop)
            return NULL;
    }
}

/* Set the state of an active domain that stops; a transient one vanishes. */
static void stop(fake_t *f, fake_dom_t *d, hv_state_t state)
{
    d->state = state;
    d->shutdown_pending = false;
    emit(f, d->name, state);
    if (!d->persistent) {
        emit(f, d->name, HV_STATE_NONE);
        g_hash_table_remove(f->doms, d->name);
    }
}

/* The domain called `name`, or NULL with ERR_NOT_FOUND; with f->lock held. */
static fake_dom_t *lookup(fake_t *f, const char *name, err_t *err)
{
    fake_dom_t *d = g_hash_table_lookup(f->doms, name);
    if (!d)
        err_set(err, ERR_NOT_FOUND, "Domain %s does not exist.", name);
    return d;
}

/* Look up an active domain; ERR_CONFLICT when it is not running. */
static fake_dom_t *lookup_active(fake_t *f, const char *name, err_t *err)
{
    fake_dom_t *d = lookup(f, name, err);
    if (d && !active(d)) {
        err_set(err, ERR_CONFLICT, "Domain %s is not running.", name);
        return NULL;
    }
    return d;
}

/* ---- operations ---------------------------------------------------------- */

static void *fake_open(const hv_open_opts_t *o, err_t *err)
{
    fake_t *f = g_new0(fake_t, 1);
    const char *fail = g_getenv("VMSVC_HV_FAKE_FAIL");

    g_mutex_init(&f->lock);
    f->doms = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, dom_free);
    f->accel = o && o->accel == HV_ACCEL_KVM ? HV_ACCEL_KVM : HV_ACCEL_TCG;
    f->on_event = o ? o->on_event : NULL;
    f->event_ctx = o ? o->event_ctx : NULL;
    if (fail && *fail)
        f->always_fail = g_strsplit(fail, ",", -1);
    f->guest_agent = !g_strcmp0(g_getenv("VMSVC_HV_FAKE_GUEST_AGENT"), "1");
    if (f->on_event) {
        f->events = g_async_queue_new();
        f->thread = g_thread_new("hv-fake-events", event_thread, f);
    }
    return f;
}

static void fake_close(void *h)
{
    fake_t *f = h;

    if (f->thread) {
        g_async_queue_push(f->events, g_new0(fake_event_t, 1));
        g_thread_join(f->thread);
        g_async_queue_unref(f->events);
    }
    g_hash_table_destroy(f->doms);
    g_strfreev(f->always_fail);
    g_mutex_clear(&f->lock);
    g_free(f);
}

static hv_accel_t fake_accel(void *h)
{
    return ((fake_t *)h)->accel;
}

static int fake_define(void *h, const json_t *spec, err_t *err)
{
    fake_t *f = h;
    const char *name;
    fake_dom_t *d;
    int rc = -1;

    if (fault_check(f, "define", err) < 0 || domain_spec_validate(spec, err) < 0)
        return -1;
    name = json_string_value(json_object_get(spec, "name"));
    g_mutex_lock(&f->lock);
    d = g_hash_table_lookup(f->doms, name);
    if (d && active(d) &&
        strcmp(json_string_value(json_object_get(d->spec, "uuid")),
               json_string_value(json_object_get(spec, "uuid")))) {
        err_set(err, ERR_CONFLICT, "Domain %s is running with a different UUID; stop it first.",
                name);
        goto out;
    }
    if (!d) {
        d = g_new0(fake_dom_t, 1);
        d->name = g_strdup(name);
        d->state = HV_STATE_SHUTOFF;
        g_hash_table_insert(f->doms, d->name, d);
    }
    json_decref(d->spec);
    d->spec = json_deep_copy(spec);
    g_free(d->vm_uid);
    d->vm_uid = g_strdup(json_string_value(json_object_get(spec, "vmUID")));
    d->persistent = true;
    emit(f, name, d->state);
    rc = 0;
out:
    g_mutex_unlock(&f->lock);
    return rc;
}

static int fake_undefine(void *h, const char *name, err_t *err)
{
    fake_t *f = h;
    fake_dom_t *d;
    int rc = -1;

    if (fault_check(f, "undefine", err) < 0)
        return -1;
    g_mutex_lock(&f->lock);
    if (!(d = lookup(f, name, err)))
        goto out;
    if (active(d)) {
        d->persistent = false;
    } else {
        emit(f, name, HV_STATE_NONE);
        g_hash_table_remove(f->doms, name);
    }
    rc = 0;
out:
    g_mutex_unlock(&f->lock);
    return rc;
}

static int fake_start(void *h, const char *name, err_t *err)
{
    fake_t *f = h;
    fake_dom_t *d;
    int rc = -1;

    if (fault_check(f, "start", err) < 0)
        return -1;
    g_mutex_lock(&f->lock);
    if (!(d = lookup(f, name, err)))
        goto out;
    if (active(d)) {
        err_set(err, ERR_CONFLICT, "Domain %s is already running.", name);
        goto out;
    }
    d->state = HV_STATE_RUNNING;
    emit(f, name, d->state);
    rc = 0;
out:
    g_mutex_unlock(&f->lock);
    return rc;
}

static int fake_shutdown(void *h, const char *name, err_t *err)
{
    fake_t *f = h;
    fake_dom_t *d;
    int rc = -1;

    if (fault_check(f, "shutdown", err) < 0)
        return -1;
    g_mutex_lock(&f->lock);
    if (!(d = lookup_active(f, name, err)))
        goto out;
    if (d->state == HV_STATE_PAUSED)
        d->shutdown_pending = true;
    else
        stop(f, d, HV_STATE_SHUTOFF);
    rc = 0;
out:
    g_mutex_unlock(&f->lock);
    return rc;
}

static int fake_destroy(void *h, const char *name, err_t *err)
{
    fake_t *f = h;
    fake_dom_t *d;
    int rc = -1;

    if (fault_check(f, "destroy", err) < 0)
        return -1;
    g_mutex_lock(&f->lock);
    if (!(d = lookup_active(f, name, err)))
        goto out;
    stop(f, d, HV_STATE_SHUTOFF);
    rc = 0;
out:
    g_mutex_unlock(&f->lock);
    return rc;
}

static int fake_suspend(void *h, const char *name, err_t *err)
{
    fake_t *f = h;
    fake_dom_t *d;
    int rc = -1;

    if (fault_check(f, "suspend", err) < 0)
        return -1;
    g_mutex_lock(&f->lock);
    if (!(d = lookup_active(f, name, err)))
        goto out;
    if (!d->persistent) {
        err_set(err, ERR_CONFLICT, "Domain %s is not defined any more and cannot be saved.",
                name);
        goto out;
    }
    stop(f, d, HV_STATE_SAVED);
    rc = 0;
out:
    g_mutex_unlock(&f->lock);
    return rc;
}

static int fake_pause(void *h, const char *name, err_t *err)
{
    fake_t *f = h;
    fake_dom_t *d;
    int rc = -1;

    if (fault_check(f, "pause", err) < 0)
        return -1;
    g_mutex_lock(&f->lock);
    if (!(d = lookup_active(f, name, err)))
        goto out;
    if (d->state == HV_STATE_RUNNING) {
        d->state = HV_STATE_PAUSED;
        emit(f, name, d->state);
    }
    rc = 0;
out:
    g_mutex_unlock(&f->lock);
    return rc;
}

static int fake_resume(void *h, const char *name, err_t *err)
{
    fake_t *f = h;
    fake_dom_t *d;
    int rc = -1;

    if (fault_check(f, "resume", err) < 0)
        return -1;
    g_mutex_lock(&f->lock);
    if (!(d = lookup_active(f, name, err)))
        goto out;
    if (d->state == HV_STATE_PAUSED) {
        d->state = HV_STATE_RUNNING;
        emit(f, name, d->state);
        if (d->shutdown_pending)
            stop(f, d, HV_STATE_SHUTOFF);
    }
    rc = 0;
out:
    g_mutex_unlock(&f->lock);
    return rc;
}

static int fake_reboot(void *h, const char *name, bool hard, err_t *err)
{
    fake_t *f = h;
    int rc;

    if (fault_check(f, "reboot", err) < 0)
        return -1;
    g_mutex_lock(&f->lock);
    rc = lookup_active(f, name, err) ? 0 : -1;
    g_mutex_unlock(&f->lock);
    return rc;
}

static int fake_state(void *h, const char *name, hv_state_t *st, err_t *err)
{
    fake_t *f = h;
    fake_dom_t *d;

    if (fault_check(f, "state", err) < 0)
        return -1;
    g_mutex_lock(&f->lock);
    d = g_hash_table_lookup(f->doms, name);
    *st = d ? d->state : HV_STATE_NONE;
    g_mutex_unlock(&f->lock);
    return 0;
}

static GPtrArray *fake_list(void *h, err_t *err)
{
    fake_t *f = h;
    GPtrArray *out;
    GHashTableIter it;
    gpointer v;

    if (fault_check(f, "list", err) < 0)
        return NULL;
    g_mutex_lock(&f->lock);
    out = g_ptr_array_new_full(g_hash_table_size(f->doms), (GDestroyNotify)hv_domain_info_free);
    g_hash_table_iter_init(&it, f->doms);
    while (g_hash_table_iter_next(&it, NULL, &v)) {
        fake_dom_t *d = v;
        hv_domain_info_t *di = g_new0(hv_domain_info_t, 1);
        di->name = g_strdup(d->name);
        di->vm_uid = g_strdup(d->vm_uid);
        di->state = d->state;
        g_ptr_array_add(out, di);
    }
    g_mutex_unlock(&f->lock);
    return out;
}

/* The index in spec.disks of the disk with this target, or -1. */
static ssize_t disk_index(const json_t *spec, const char *target)
{
    const json_t *disk;
    size_t i;

    json_array_foreach(json_object_get(spec, "disks"), i, disk)
        if (!g_strcmp0(json_string_value(json_object_get(disk, "target")), target))
            return (ssize_t)i;
    return -1;
}

static int fake_attach_disk(void *h, const char *name, const json_t *disk, err_t *err)
{
    fake_t *f = h;
    const char *target;
    fake_dom_t *d;
    int rc = -1;

    if (fault_check(f, "attach_disk", err) < 0 || domain_disk_validate(disk, "disk", err) < 0)
        return -1;
    target = json_string_value(json_object_get(disk, "target"));
    g_mutex_lock(&f->lock);
    if (!(d = lookup(f, name, err)))
        goto out;
    if (disk_index(d->spec, target) >= 0) {
        err_set(err, ERR_CONFLICT, "Domain %s already has a disk with target %s.", name, target);
        goto out;
    }
    if (json_array_size(json_object_get(d->spec, "disks")) >= DOMAIN_MAX_DISKS) {
        err_set(err, ERR_CONFLICT, "Domain %s already has %d disks.", name, DOMAIN_MAX_DISKS);
        goto out;
    }
    if (!json_is_array(json_object_get(d->spec, "disks")))
        json_object_set_new(d->spec, "disks", json_array());
    json_array_append_new(json_object_get(d->spec, "disks"), json_deep_copy(disk));
    rc = 0;
out:
    g_mutex_unlock(&f->lock);
    return rc;
}

static int fake_detach_disk(void *h, const char *name, const char *target, err_t *err)
{
    fake_t *f = h;
    fake_dom_t *d;
    ssize_t i;
    int rc = -1;

    if (fault_check(f, "detach_disk", err) < 0)
        return -1;
    g_mutex_lock(&f->lock);
    if (!(d = lookup(f, name, err)))
        goto out;
    if ((i = disk_index(d->spec, target)) < 0) {
        err_set(err, ERR_NOT_FOUND, "Domain %s has no disk with target %s.", name, target);
        goto out;
    }
    json_array_remove(json_object_get(d->spec, "disks"), (size_t)i);
    rc = 0;
out:
    g_mutex_unlock(&f->lock);
    return rc;
}

static int fake_pid(void *h, const char *name)
{
    return 0;
}

/* The guest agent's view of a running domain (a new reference), or NULL
 * with an error like libvirt's when none answers. */
static json_t *guest_view(fake_t *f, const char *name, const char *what, err_t *err)
{
    json_t *nics = NULL, *v = NULL;
    fake_dom_t *d;

    g_mutex_lock(&f->lock);
    d = lookup(f, name, err);
    if (d && d->state != HV_STATE_RUNNING)
        err_set(err, ERR_CONFLICT, "Cannot %s domain %s: it is not running.", what, name);
    else if (d) /* a copy: attach_disk changes the spec in place */
        nics = json_deep_copy(json_object_get(d->spec, "nics")) ?: json_array();
    g_mutex_unlock(&f->lock);
    if (!nics)
        return NULL;
    if (!(v = view_get(name)) && f->guest_agent)
        v = view_of_nics(nics);
    if (!v)
        err_set(err, ERR_UNAVAILABLE, "Cannot %s domain %s: the guest agent is not connected.",
                what, name);
    json_decref(nics);
    return v;
}

static int fake_guest_ping(void *h, const char *name, int timeout_s, err_t *err)
{
    fake_t *f = h;
    json_t *v;

    if (fault_check(f, "guest_ping", err) < 0 ||
        !(v = guest_view(f, name, "ping the guest agent of", err)))
        return -1;
    json_decref(v);
    return 0;
}

static json_t *fake_guest_interfaces(void *h, const char *name, int timeout_s, err_t *err)
{
    fake_t *f = h;

    if (fault_check(f, "guest_interfaces", err) < 0)
        return NULL;
    return guest_view(f, name, "ask the guest agent for the interfaces of", err);
}

/* The fake driver has no guest: the copy is a blank qcow2 of the disk's
 * size when its file exists (qemu-img), for publish tests at scale. */
static int fake_backup_disk(void *h, const char *name, const char *target, const char *dest,
                            err_t *err)
{
    fake_t *f = h;
    fake_dom_t *d;
    char *path = NULL;
    int idx, rc = -1;

    if (fault_check(f, "backup_disk", err) < 0)
        return -1;
    g_mutex_lock(&f->lock);
    if ((d = lookup_active(f, name, err))) {
        if ((idx = disk_index(d->spec, target)) < 0)
            err_set(err, ERR_NOT_FOUND, "Domain %s has no disk %s.", name, target);
        else
            path = g_strdup(json_string_value(json_object_get(
                json_array_get(json_object_get(d->spec, "disks"), (size_t)idx), "path")));
    }
    g_mutex_unlock(&f->lock);
    if (path) {
        char *argv[] = {"qemu-img", "convert", "-U", "-O", "qcow2", path, (char *)dest, NULL};
        GError *gerr = NULL;
        int status = 0;
        if (!g_spawn_sync(NULL, argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
                                                G_SPAWN_STDERR_TO_DEV_NULL,
                          NULL, NULL, NULL, NULL, &status, &gerr) ||
            !g_spawn_check_wait_status(status, NULL))
            err_set(err, ERR_INTERNAL, "Cannot copy disk %s of domain %s.", target, name);
        else
            rc = 0;
        if (gerr)
            g_error_free(gerr);
    }
    g_free(path);
    return rc;
}

const hv_ops_t hv_fake_ops = {
    .name = "fake",
    .open = fake_open,
    .close = fake_close,
    .accel = fake_accel,
    .define = fake_define,
    .undefine = fake_undefine,
    .start = fake_start,
    .shutdown = fake_shutdown,
    .destroy = fake_destroy,
    .suspend = fake_suspend,
    .pause = fake_pause,
    .resume = fake_resume,
    .reboot = fake_reboot,
    .state = fake_state,
    .list = fake_list,
    .attach_disk = fake_attach_disk,
    .detach_disk = fake_detach_disk,
    .pid = fake_pid,
    .guest_ping = fake_guest_ping,
    .guest_interfaces = fake_guest_interfaces,
    .backup_disk = fake_backup_disk,
};
