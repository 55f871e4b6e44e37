/* agent: see agent.h. */
#include "agent/agent_priv.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "agent/disk.h"
#include "agent/probe.h"
#include "api/events.h"
#include "api/objects.h"
#include "ctl/ctl_priv.h"
#include "ctl/queue.h"
#include "ctl/catalog.h"
#include "ctl/refs.h"
#include "agent/library.h"
#include "guest/seed.h"
#include "model/conditions.h"
#include "model/domain.h"
#include "model/meta.h"
#include "model/quantity.h"
#include "util/fs.h"
#include "util/jsonutil.h"
#include "util/log.h"

#define DOMAIN_PREFIX "vmsvc-"
#define AGENT_RECHECK_MS 1000   /* while a soft power-off or reboot is in flight */




static char *vm_dir(agent_t *a, const char *uid)
{
    return g_build_filename(a->data_dir, "vms", uid, NULL);
}

static char *boot_disk_path(agent_t *a, const char *sc, const char *uid)
{
    char *file = g_strconcat(uid, ".qcow2", NULL);
    char *p = g_build_filename(a->data_dir, "storage", sc, file, NULL);
    g_free(file);
    return p;
}

/* ---- following VMs ------------------------------------------------------ */

static bool placed_here(agent_t *a, const json_t *vm)
{
    return g_strcmp0(json_path_str(vm, "status.host"), a->node) == 0;
}

/* Whether `o` is the version the agent's own last status write of it
 * stored: the reconcile that wrote it had seen everything before it, and
 * whatever changes after it comes with an event of its own. */
static bool own_version(agent_t *a, const store_obj_t *o)
{
    gint64 *rv;
    bool own;

    g_mutex_lock(&a->lock);
    rv = g_hash_table_lookup(a->own_rv, o->key);
    own = rv && *rv == o->rv;
    g_mutex_unlock(&a->lock);
    return own;
}

static void own_version_note(agent_t *a, const char *key, const store_obj_t *r, bool written)
{
    g_mutex_lock(&a->lock);
    if (written) {
        gint64 *rv = g_new(gint64, 1);
        *rv = r->rv;
        g_hash_table_replace(a->own_rv, g_strdup(key), rv);
    } else {
        g_hash_table_remove(a->own_rv, key);
    }
    g_mutex_unlock(&a->lock);
}

/* Note a VM's uid (which never changes, so its text is parsed only the
 * first time its key is seen) and queue it when it is placed here.  Most
 * VM changes concern other hosts or nothing the agent does; a look at the
 * text spares parsing them. */
static void follow_observe(agent_t *a, store_obj_t *o, bool gone)
{
    const json_t *vm = NULL;
    bool known;

    g_mutex_lock(&a->lock);
    if (gone) {
        const char *uid = g_hash_table_lookup(a->key_uid, o->key);
        if (uid)
            g_hash_table_remove(a->uid_key, uid);
        g_hash_table_remove(a->key_uid, o->key);
        g_hash_table_remove(a->own_rv, o->key);
    }
    known = g_hash_table_contains(a->key_uid, o->key);
    g_mutex_unlock(&a->lock);
    if (gone)
        return;
    if (!known) {
        const char *uid;
        vm = store_obj_json(o); /* shared: read only */
        uid = json_path_str(vm, "metadata.uid");
        if (uid) {
            g_mutex_lock(&a->lock);
            g_hash_table_insert(a->uid_key, g_strdup(uid), g_strdup(o->key));
            g_hash_table_insert(a->key_uid, g_strdup(o->key), g_strdup(uid));
            g_mutex_unlock(&a->lock);
        }
    }
    if (g_strstr_len(o->json, (gssize)o->len, a->host_mark)) {
        if (!vm)
            vm = store_obj_json(o);
        if (placed_here(a, vm) && !own_version(a, o))
            queue_add(a->q, o->key);
    }
    json_decref((json_t *)vm);
}

static void follow_event(ctl_t *c, const store_event_t *ev)
{
    follow_observe(c->state, ev->obj, ev->type == STORE_EV_DELETED);
}

static void sweep(agent_t *a);

static void follow_resync(ctl_t *c)
{
    agent_t *a = c->state;
    GPtrArray *all;

    sweep(a);
    all = store_list(a->srv->store, a->vm_res->key_prefix, NULL, 0, NULL, NULL);
    for (guint i = 0; i < all->len; i++)
        follow_observe(a, all->pdata[i], false);
    g_ptr_array_unref(all);
}

static const ctl_ops_t follow_ops = {
    .name = "agent-follow",
    .prefix = "vmoperator.vmware.com/virtualmachines/",
    .resync = follow_resync,
    .event = follow_event,
    .resync_ms = 60 * 1000,
};

/* A domain changed state: look at its VM again. */
static void on_hv_event(void *ctx, const char *name, hv_state_t state)
{
    agent_t *a = ctx;
    char *key = NULL;

    if (!g_str_has_prefix(name, DOMAIN_PREFIX))
        return;
    g_mutex_lock(&a->lock);
    key = g_strdup(g_hash_table_lookup(a->uid_key, name + strlen(DOMAIN_PREFIX)));
    g_mutex_unlock(&a->lock);
    if (key) {
        log_debug("agent: domain %s is %s", name, hv_state_name(state));
        queue_add(a->q, key);
    }
    g_free(key);
}

/* ---- leftovers ------------------------------------------------------------ */

static bool uid_exists(agent_t *a, const char *uid)
{
    bool found;
    g_mutex_lock(&a->lock);
    found = g_hash_table_contains(a->uid_key, uid);
    g_mutex_unlock(&a->lock);
    return found;
}

/* Copies of images from other file systems (bases/) that no VM links to
 * any more: a link count of one is the cache's own name. */
static void sweep_bases(agent_t *a)
{
    char *dir = g_build_filename(a->data_dir, "bases", NULL);
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *n;
    while (d && (n = g_dir_read_name(d))) {
        char *p = g_build_filename(dir, n, NULL);
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_nlink == 1) {
            log_info("agent: removing %s: no VM uses it", p);
            unlink(p);
        }
        g_free(p);
    }
    if (d)
        g_dir_close(d);
    g_free(dir);
}

/* Remove domains and files of VMs that no longer exist.  What is on the
 * host is listed before the VMs are, so a VM made meanwhile is never taken
 * for a leftover: VM uids are never reused. */
static void sweep(agent_t *a)
{
    err_t err = ERR_INIT;
    GPtrArray *doms = hv_list(a->hv, &err);
    GPtrArray *files = g_ptr_array_new_with_free_func(g_free);
    char *vmsdir = g_build_filename(a->data_dir, "vms", NULL);
    char *stdir = g_build_filename(a->data_dir, "storage", NULL);
    GDir *d;
    const char *n;
    GPtrArray *vms;

    if (!doms) {
        log_warn("agent: cannot list domains: %s", err.msg);
        err_clear(&err);
        doms = g_ptr_array_new();
    }
    if ((d = g_dir_open(vmsdir, 0, NULL))) {
        while ((n = g_dir_read_name(d)))
            g_ptr_array_add(files, g_build_filename(vmsdir, n, NULL));
        g_dir_close(d);
    }
    if ((d = g_dir_open(stdir, 0, NULL))) {
        while ((n = g_dir_read_name(d))) {
            char *pool = g_build_filename(stdir, n, NULL);
            GDir *pd = g_dir_open(pool, 0, NULL);
            const char *f;
            while (pd && (f = g_dir_read_name(pd)))
                if (g_str_has_suffix(f, ".qcow2"))
                    g_ptr_array_add(files, g_build_filename(pool, f, NULL));
            if (pd)
                g_dir_close(pd);
            g_free(pool);
        }
        g_dir_close(d);
    }

    /* Now the VMs that exist. */
    vms = store_list(a->srv->store, a->vm_res->key_prefix, NULL, 0, NULL, NULL);
    g_mutex_lock(&a->lock);
    g_hash_table_remove_all(a->uid_key);
    g_hash_table_remove_all(a->key_uid);
    g_mutex_unlock(&a->lock);
    for (guint i = 0; i < vms->len; i++)
        follow_observe(a, vms->pdata[i], false);
    g_ptr_array_unref(vms);

    for (guint i = 0; i < doms->len; i++) {
        hv_domain_info_t *di = doms->pdata[i];
        if (!di->vm_uid || !g_str_has_prefix(di->name, DOMAIN_PREFIX) || uid_exists(a, di->vm_uid))
            continue;
        log_info("agent: removing domain %s: its VM no longer exists", di->name);
        if (di->state == HV_STATE_RUNNING || di->state == HV_STATE_PAUSED)
            hv_destroy(a->hv, di->name, &err);
        err_clear(&err);
        if (hv_undefine(a->hv, di->name, &err) < 0)
            log_warn("agent: %s", err.msg);
        err_clear(&err);
    }
    for (guint i = 0; i < files->len; i++) {
        const char *path = files->pdata[i];
        char *base = g_path_get_basename(path);
        char *uid = g_str_has_suffix(base, ".qcow2") ? g_strndup(base, strlen(base) - 6)
                                                       : g_strdup(base);
        if (strlen(uid) == 36 && !uid_exists(a, uid)) {
            log_info("agent: removing %s: its VM no longer exists", path);
            if (g_file_test(path, G_FILE_TEST_IS_DIR)) {
                GDir *vd = g_dir_open(path, 0, NULL);
                const char *f;
                while (vd && (f = g_dir_read_name(vd))) {
                    char *fp = g_build_filename(path, f, NULL);
                    unlink(fp);
                    g_free(fp);
                }
                if (vd)
                    g_dir_close(vd);
                rmdir(path);
            } else {
                unlink(path);
            }
        }
        g_free(uid);
        g_free(base);
    }
    g_ptr_array_unref(files);
    g_ptr_array_unref(doms);
    g_free(vmsdir);
    g_free(stdir);
    sweep_bases(a);
}

/* ---- building a domain ------------------------------------------------------ */

static json_t *jstr_take(char *s)
{
    json_t *j = json_string(s);
    g_free(s);
    return j;
}

/* Secrets the VM's bootstrap names, as {name: {key: decoded value}}. */
static json_t *load_secrets(agent_t *a, const char *ns, const json_t *vm)
{
    json_t *names = seed_secret_refs(vm), *out = json_object(), *n;
    size_t i;

    json_array_foreach(names, i, n) {
        json_t *s = refs_get(a->srv, "", "secrets", ns, json_string_value(n));
        json_t *data = json_object_get(s, "data"), *v, *dec = json_object();
        const char *k;
        if (!s) {
            json_decref(dec);
            continue;
        }
        json_object_foreach(data, k, v) {
            gsize len = 0;
            guchar *raw = g_base64_decode(json_string_value(v) ?: "", &len);
            json_t *str = json_stringn_nocheck((const char *)raw, len);
            json_object_set_new(dec, k, str);
            g_free(raw);
        }
        json_object_set_new(out, json_string_value(n), dec);
        json_decref(s);
    }
    json_decref(names);
    return out;
}

/* ---- volumes ---------------------------------------------------------------
 * Which volume sits at which disk target is kept in vms/<uid>/volumes.json
 * ({"<volume name>": "vdb", ...}), written by the agent alone, so targets stay
 * put while volumes come and go. */

static json_t *volumes_load(agent_t *a, const char *uid)
{
    char *dir = vm_dir(a, uid), *path = g_build_filename(dir, "volumes.json", NULL);
    err_t err = ERR_INIT;
    char *text = fs_read_all(path, 64 * 1024, NULL, &err);
    json_t *rec = text ? json_loads(text, 0, NULL) : NULL;
    err_clear(&err);
    g_free(text);
    g_free(path);
    g_free(dir);
    return json_is_object(rec) ? rec : (json_decref(rec), json_object());
}

static int volumes_save(agent_t *a, const char *uid, const json_t *rec, err_t *err)
{
    char *dir = vm_dir(a, uid), *path = g_build_filename(dir, "volumes.json", NULL);
    char *text = json_dumps(rec, JSON_SORT_KEYS);
    int rc = fs_write_atomic(path, text, strlen(text), 0600, err);
    free(text);
    g_free(path);
    g_free(dir);
    return rc;
}

/* The disk of one volume at `target`, or NULL with err set. */
static json_t *volume_disk(agent_t *a, const char *ns, const json_t *vol, const char *target,
                           err_t *err)
{
    const char *claim = json_path_str(vol, "persistentVolumeClaim.claimName");
    json_t *pvc = claim ? refs_get(a->srv, "", "persistentvolumeclaims", ns, claim) : NULL;
    char *path = pvc ? pvc_disk_path(a, pvc) : NULL;
    json_t *d = NULL;

    if (!claim)
        err_set(err, ERR_INVALID, "Volume %s names no claim.",
                json_string_value(json_object_get(vol, "name")));
    else if (!path)
        err_set(err, ERR_NOT_FOUND, "PersistentVolumeClaim %s is %s.", claim,
                pvc ? "not bound yet" : "missing");
    else
        d = json_pack("{s:s,s:s,s:s,s:s,s:s,s:b}", "path", path, "format", "qcow2", "target",
                      target, "bus", "virtio", "device", "disk", "readonly",
                      json_is_true(json_path_get(vol, "persistentVolumeClaim.readOnly")));
    json_decref(pvc);
    g_free(path);
    return d;
}

static bool target_used(const json_t *rec, const char *t)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)rec, k, v)
        if (!g_strcmp0(json_string_value(v), t))
            return true;
    return false;
}

/* Attach what spec.volumes adds and detach what it drops, on the defined
 * domain `dom` (or only into `disks` when the domain is about to be
 * defined); fills `status` with one entry per volume. */
static int volumes_sync(agent_t *a, const json_t *vm, const char *dom, json_t *disks,
                        json_t *status, err_t *err)
{
    const char *ns = json_path_str(vm, "metadata.namespace");
    const char *uid = json_path_str(vm, "metadata.uid");
    json_t *rec = volumes_load(a, uid), *vol, *want = json_object();
    const char *k;
    json_t *v;
    void *tmp;
    size_t i;
    int rc = 0;
    bool changed = false;

    json_array_foreach(json_path_get(vm, "spec.volumes"), i, vol)
        json_object_set(want, json_string_value(json_object_get(vol, "name")) ?: "", vol);
    /* Dropped volumes. */
    json_object_foreach_safe(rec, tmp, k, v) {
        if (json_object_get(want, k))
            continue;
        if (!disks && hv_detach_disk(a->hv, dom, json_string_value(v), err) < 0) {
            rc = -1;
            continue;
        }
        json_object_del(rec, k);
        changed = true;
    }
    /* Kept and added ones. */
    json_array_foreach(json_path_get(vm, "spec.volumes"), i, vol) {
        const char *name = json_string_value(json_object_get(vol, "name")) ?: "";
        const char *target = json_string_value(json_object_get(rec, name));
        char tbuf[8];
        err_t verr = ERR_INIT;
        json_t *d;

        if (!target) {
            for (char c = 'b'; c <= 'z'; c++) {
                snprintf(tbuf, sizeof(tbuf), "vd%c", c);
                if (!target_used(rec, tbuf))
                    break;
            }
            target = tbuf;
        }
        d = volume_disk(a, ns, vol, target, &verr);
        if (d && !json_object_get(rec, name)) {
            if (disks)
                json_array_append(disks, d);
            else if (hv_attach_disk(a->hv, dom, d, &verr) < 0) {
                json_decref(d);
                d = NULL;
            }
            if (d) {
                json_object_set_new(rec, name, json_string(target));
                changed = true;
            }
        } else if (d && disks) {
            json_array_append(disks, d);
        }
        json_decref(d);
        json_t *entry = json_pack("{s:s,s:b}", "name", name, "attached",
                                  json_object_get(rec, name) != NULL);
        if (err_is_set(&verr))
            json_object_set_new(entry, "error", json_string(verr.msg));
        json_array_append_new(status, entry);
        err_clear(&verr);
    }
    if (changed && volumes_save(a, uid, rec, err) < 0)
        rc = -1;
    json_decref(rec);
    json_decref(want);
    return rc;
}

/* Everything a VM's domain needs, made idempotently; fills `spec`. */
static int provision(agent_t *a, const json_t *vm, json_t **spec_out, err_t *err)
{
    const char *ns = json_path_str(vm, "metadata.namespace");
    const char *uid = json_path_str(vm, "metadata.uid");
    const char *sc_name = json_path_str(vm, "spec.storageClass");
    json_t *cls = refs_class(a->srv, ns, json_path_str(vm, "spec.className"));
    json_t *img = refs_image(a->srv, ns, json_path_str(vm, "spec.imageName"));
    json_t *sc = sc_name ? refs_storage_class(a->srv, sc_name) : NULL;
    json_t *secrets = NULL, *spec = NULL, *macs = NULL;
    json_t *nics = NULL, *resolved = NULL, *seed_vm = NULL;
    GPtrArray *seed = NULL;
    char *dir = vm_dir(a, uid), *image = NULL, *disk = NULL, *pool = NULL, *seed_path = NULL;
    int64_t mem = 0, size = 0;
    int rc = -1;

    if (!cls || !img || !sc) {
        err_set(err, ERR_NOT_FOUND, "The VM's %s is not available.",
                !cls ? "class" : !img ? "image" : "storage class");
        goto out;
    }
    if (!(image = catalog_image_disk(a->srv, a->data_dir, img, err)))
        goto out;
    if (quantity_parse(json_path_get(cls, "spec.hardware.memory"), 1, &mem, err) < 0)
        goto out;
    if (json_path_get(vm, "spec.advanced.bootDiskCapacity") &&
        quantity_parse(json_path_get(vm, "spec.advanced.bootDiskCapacity"), 1, &size, err) < 0)
        goto out;

    pool = g_build_filename(a->data_dir, "storage", sc_name, NULL);
    if (fs_mkdir_p(pool, 0700, err) < 0 || fs_mkdir_p(dir, 0700, err) < 0)
        goto out;
    disk = boot_disk_path(a, sc_name, uid);
    /* The overlay's backing file is the VM's own link to the image. */
    {
        char *base = g_build_filename(dir, "base.img", NULL);
        char *cache = g_build_filename(a->data_dir, "bases", NULL);
        char *key = g_strconcat(json_path_str(img, "status.providerItemID"), "-",
                                strrchr(image, '/') + 1, NULL);
        int lrc = disk_link_base(image, base, cache, key, err);
        g_free(image);
        image = base;
        g_free(cache);
        g_free(key);
        if (lrc < 0)
            goto out;
    }
    if (disk_overlay_create(disk, image, size,
                            g_strcmp0(json_path_str(sc, "parameters.provisioning"), "thick") == 0,
                            err) < 0)
        goto out;

    secrets = load_secrets(a, ns, vm);
    /* The interfaces: bridges on this host, and what the guest is told. */
    if (agent_net_vm_prepare(a, vm, &nics, &resolved, err) < 0)
        goto out;
    macs = json_array();
    seed_vm = json_deep_copy(vm);
    {
        json_t *r;
        size_t i;
        json_array_foreach(resolved, i, r) {
            json_array_append(macs, json_object_get(r, "macAddress"));
            json_object_del(r, "macAddress");
        }
        if (json_array_size(resolved) > 0)
            json_path_set_new(seed_vm, "spec.network.interfaces", json_incref(resolved));
    }
    seed = seed_render(seed_vm, secrets, macs, err);
    if (!seed)
        goto out;
    seed_path = g_build_filename(dir, "seed.iso", NULL);
    if (seed_iso_write(seed_path, "cidata", seed, err) < 0)
        goto out;

    spec = json_pack("{s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:s}",
                     "name", json_path_str(vm, "status.uniqueID"),
                     "uuid", json_path_str(vm, "status.biosUUID"),
                     "vmUID", uid, "vmName", json_path_str(vm, "metadata.name"),
                     "vmNamespace", ns,
                     "vcpus", (json_int_t)json_integer_value(json_path_get(cls, "spec.hardware.cpus")),
                     "memoryMiB", (json_int_t)(mem / (1024 * 1024)),
                     "firmware", g_strcmp0(json_path_str(img, "status.firmware"), "efi") == 0
                                     ? "efi" : "bios");
    if (json_path_str(vm, "status.instanceUUID"))
        json_object_set_new(spec, "instanceUUID",
                            json_string(json_path_str(vm, "status.instanceUUID")));
    if (!strcmp(json_path_str(spec, "firmware"), "efi"))
        json_object_set_new(spec, "nvramPath",
                            jstr_take(g_build_filename(dir, "nvram.fd", NULL)));
    {
        /* Reservations and limits from the class policy. */
        const json_t *req = json_path_get(cls, "spec.policies.resources.requests");
        const json_t *lim = json_path_get(cls, "spec.policies.resources.limits");
        int64_t rcpu = 0, lcpu = 0, rmem = 0, lmem = 0;
        json_int_t vcpus = json_integer_value(json_path_get(cls, "spec.hardware.cpus"));
        err_t qe = ERR_INIT;
        if (json_object_get(req, "cpu"))
            quantity_parse(json_object_get(req, "cpu"), 1000, &rcpu, &qe);
        if (json_object_get(lim, "cpu"))
            quantity_parse(json_object_get(lim, "cpu"), 1000, &lcpu, &qe);
        if (json_object_get(req, "memory"))
            quantity_parse(json_object_get(req, "memory"), 1, &rmem, &qe);
        if (json_object_get(lim, "memory"))
            quantity_parse(json_object_get(lim, "memory"), 1, &lmem, &qe);
        err_clear(&qe);
        if (rcpu || lcpu) {
            json_t *cpu = json_object();
            /* Shares weigh reserved CPU: 1024 per reserved vCPU, at least 2. */
            if (rcpu)
                json_object_set_new(cpu, "sharesPerVCPU",
                                    json_integer(MAX(2, rcpu * 1024 / 1000 / MAX(vcpus, 1))));
            if (lcpu)
                json_object_set_new(cpu, "quotaPercent",
                                    json_integer(MAX(1, lcpu / 10 / MAX(vcpus, 1))));
            json_object_set_new(spec, "cpu", cpu);
        }
        if ((rmem >= mem && mem > 0) || lmem) {
            /* A full memory reservation is allocated up front, so the guest never
             * waits for (or is refused) memory the host promised it; admission
             * already made sure reservations never exceed what the host offers.
             * A memory limit caps the guest plus what QEMU itself uses. */
            json_t *mt = json_object();
            if (rmem >= mem && mem > 0)
                json_object_set_new(mt, "preallocate", json_true());
            if (lmem)
                json_object_set_new(mt, "hardLimitMiB",
                                    json_integer((MAX(lmem, mem) / (1024 * 1024)) + 512));
            json_object_set_new(spec, "memoryTune", mt);
        }
    }
    json_object_set_new(spec, "disks",
                        json_pack("[{s:s,s:s,s:s,s:s,s:s,s:i},{s:s,s:s,s:s,s:s,s:s,s:b}]",
                                  "path", disk, "format", "qcow2", "target", "vda", "bus",
                                  "virtio", "device", "disk", "boot", 1,
                                  "path", seed_path, "format", "raw", "target", "sda", "bus",
                                  "sata", "device", "cdrom", "readonly", 1));
    {
        json_t *vst = json_array();
        rc = volumes_sync(a, vm, NULL, json_object_get(spec, "disks"), vst, err);
        json_decref(vst);
        if (rc < 0)
            goto out;
        rc = -1;
    }
    json_object_set_new(spec, "serialLog",
                        jstr_take(g_build_filename(dir, "serial.log", NULL)));
    json_object_set_new(spec, "vnc", json_true());
    /* The channel readiness probes read guestinfo key=value lines from. */
    json_object_set_new(spec, "guestInfoLog", jstr_take(agent_guestinfo_path(a, uid)));
    /* A channel for qemu-guest-agent, for guests that run one. */
    {
        char *qga = g_build_filename(dir, "qga.sock", NULL);
        if (strlen(qga) < DOMAIN_SOCKET_PATH_MAX)
            json_object_set_new(spec, "guestAgentSocket", jstr_take(qga));
        else {
            log_warn("agent: VM %s has no guest agent channel: its socket path %s is too long "
                     "for a UNIX socket; use a shorter --data-dir", uid, qga);
            g_free(qga);
        }
    }
    if (json_array_size(nics) > 0)
        json_object_set(spec, "nics", nics);
    *spec_out = spec;
    spec = NULL;
    rc = 0;
out:
    json_decref(cls);
    json_decref(img);
    json_decref(sc);
    json_decref(secrets);
    json_decref(macs);
    json_decref(nics);
    json_decref(resolved);
    json_decref(seed_vm);
    json_decref(spec);
    if (seed)
        g_ptr_array_unref(seed);
    g_free(dir);
    g_free(image);
    g_free(disk);
    g_free(pool);
    g_free(seed_path);
    return rc;
}

/* ---- reconciling one VM ------------------------------------------------------ */

static const char *power_state_of(hv_state_t s)
{
    switch (s) {
    case HV_STATE_RUNNING: return "PoweredOn";
    case HV_STATE_PAUSED:
    case HV_STATE_SAVED: return "Suspended";
    case HV_STATE_SHUTOFF:
    case HV_STATE_CRASHED: return "PoweredOff";
    default: return NULL;
    }
}

static void soft_clear(agent_t *a, const char *key)
{
    g_mutex_lock(&a->lock);
    g_hash_table_remove(a->soft_since, key);
    g_mutex_unlock(&a->lock);
}

/* Seconds since a soft power-off of `key` was asked for; starts the clock
 * and sets *first on the first call. */
static gint64 soft_elapsed(agent_t *a, const char *key, bool *first)
{
    gint64 now = g_get_monotonic_time(), *t;
    g_mutex_lock(&a->lock);
    t = g_hash_table_lookup(a->soft_since, key);
    *first = !t;
    if (!t) {
        t = g_new(gint64, 1);
        *t = now;
        g_hash_table_insert(a->soft_since, g_strdup(key), t);
    }
    now = (now - *t) / G_USEC_PER_SEC;
    g_mutex_unlock(&a->lock);
    return now;
}

static int teardown(agent_t *a, const char *key, const json_t *vm, const char *dom)
{
    const char *uid = json_path_str(vm, "metadata.uid");
    const char *sc = json_path_str(vm, "spec.storageClass");
    err_t err = ERR_INIT;
    hv_state_t st = HV_STATE_NONE;
    char *dir = vm_dir(a, uid), *disk = sc ? boot_disk_path(a, sc, uid) : NULL;
    int rc = -1;

    if (hv_state(a->hv, dom, &st, &err) < 0)
        goto fail;
    if ((st == HV_STATE_RUNNING || st == HV_STATE_PAUSED) && hv_destroy(a->hv, dom, &err) < 0)
        goto fail;
    if (st != HV_STATE_NONE && hv_undefine(a->hv, dom, &err) < 0)
        goto fail;
    if (disk && disk_remove(disk, &err) < 0)
        goto fail;
    if (g_file_test(dir, G_FILE_TEST_IS_DIR)) {
        GDir *d = g_dir_open(dir, 0, NULL);
        const char *f;
        while (d && (f = g_dir_read_name(d))) {
            char *p = g_build_filename(dir, f, NULL);
            disk_remove(p, &err);
            g_free(p);
        }
        if (d)
            g_dir_close(d);
        rmdir(dir);
        err_clear(&err);
    }
    soft_clear(a, key);
    if (ctl_finalizer(a->srv, a->vm_res, json_path_str(vm, "metadata.namespace"),
                      json_path_str(vm, "metadata.name"), AGENT_FINALIZER, false, &err) < 0 &&
        err.code != ERR_NOT_FOUND)
        goto fail;
    log_info("agent: VM %s deleted with its disks", key);
    rc = 0;
    goto out;
fail:
    event_record(a->ev, vm, "Warning", "DeleteFailed", "Deleting the VM failed: %s", err.msg);
out:
    err_clear(&err);
    g_free(dir);
    g_free(disk);
    return rc;
}

/* Act once towards the desired power state.  Returns -1 on failure, else
 * the milliseconds after which to look again (0: no need). */
static int power(agent_t *a, const char *key, const json_t *vm, const char *dom, hv_state_t st,
                 err_t *err)
{
    const char *want = json_path_str(vm, "spec.powerState");
    const char *off_mode = json_path_str(vm, "spec.powerOffMode");
    int rc = 0;

    if (!want)
        want = "PoweredOn";
    if (!off_mode)
        off_mode = "TrySoft";
    if (!strcmp(want, "PoweredOn")) {
        soft_clear(a, key);
        if (st == HV_STATE_SHUTOFF || st == HV_STATE_CRASHED || st == HV_STATE_SAVED) {
            rc = hv_start(a->hv, dom, err);
            if (rc == 0)
                event_record(a->ev, vm, "Normal", "PoweredOn", "The VM was powered on%s.",
                             st == HV_STATE_SAVED ? " from its suspended state" : "");
        } else if (st == HV_STATE_PAUSED) {
            rc = hv_resume(a->hv, dom, err);
        }
        return rc < 0 ? -1 : 0;
    }
    if (!strcmp(want, "PoweredOff")) {
        if (st == HV_STATE_SAVED) {
            /* Discard the saved state: start it and pull the plug. */
            if (hv_start(a->hv, dom, err) < 0 || hv_destroy(a->hv, dom, err) < 0)
                return -1;
            event_record(a->ev, vm, "Normal", "PoweredOff", "The suspended VM was powered off.");
            return 0;
        }
        if (st != HV_STATE_RUNNING && st != HV_STATE_PAUSED) {
            soft_clear(a, key);
            return 0;
        }
        if (!strcmp(off_mode, "Hard") || st == HV_STATE_PAUSED) {
            if (hv_destroy(a->hv, dom, err) < 0)
                return -1;
            soft_clear(a, key);
            event_record(a->ev, vm, "Normal", "PoweredOff", "The VM was powered off (hard).");
            return 0;
        }
        bool first;
        gint64 waited = soft_elapsed(a, key, &first);
        if (first) {
            if (hv_shutdown(a->hv, dom, err) < 0) {
                if (!strcmp(off_mode, "Soft"))
                    return -1;
                err_clear(err);
                waited = a->soft_timeout_s; /* TrySoft: fall through to hard */
            } else {
                event_record(a->ev, vm, "Normal", "ShutdownRequested",
                             "The guest was asked to shut down.");
            }
        }
        if (waited >= a->soft_timeout_s && !strcmp(off_mode, "TrySoft")) {
            if (hv_destroy(a->hv, dom, err) < 0)
                return -1;
            soft_clear(a, key);
            event_record(a->ev, vm, "Normal", "PoweredOff",
                         "The guest did not shut down within %d s; the VM was powered off (hard).",
                         a->soft_timeout_s);
            return 0;
        }
        if (waited >= a->soft_timeout_s && waited % 60 == 0)
            event_record(a->ev, vm, "Warning", "ShutdownPending",
                         "The guest has not shut down after %lld s.", (long long)waited);
        return AGENT_RECHECK_MS;
    }
    /* Suspended: memory to disk; the VM resumes where it was on power-on. */
    soft_clear(a, key);
    if (st == HV_STATE_RUNNING || st == HV_STATE_PAUSED) {
        if (hv_suspend(a->hv, dom, err) < 0)
            return -1;
        event_record(a->ev, vm, "Normal", "Suspended", "The VM was suspended.");
    } else if (st == HV_STATE_SHUTOFF || st == HV_STATE_CRASHED) {
        /* A powered-off VM cannot be suspended; it stays off. */
    }
    return 0;
}

/* Restart when spec.nextRestartTime is newer than status.lastRestartTime. */
static int restart(agent_t *a, const json_t *vm, const char *dom, hv_state_t st, json_t *set,
                   err_t *err)
{
    const char *next = json_path_str(vm, "spec.nextRestartTime");
    const char *last = json_path_str(vm, "status.lastRestartTime");
    const char *mode = json_path_str(vm, "spec.restartMode");

    if (!next || !*next || (last && g_strcmp0(next, last) <= 0))
        return 0;
    if (st == HV_STATE_RUNNING) {
        bool hard = mode && !strcmp(mode, "Hard");
        if (hv_reboot(a->hv, dom, hard, err) < 0) {
            if (hard || (mode && !strcmp(mode, "Soft")))
                return -1;
            err_clear(err);
            if (hv_reboot(a->hv, dom, true, err) < 0)
                return -1;
        }
        event_record(a->ev, vm, "Normal", "Restarted", "The VM was restarted (%s).",
                     mode ? mode : "TrySoft");
    }
    json_object_set_new(set, "lastRestartTime", json_string(next));
    return 0;
}

/* guestHeartbeat probes: qemu-guest-agent's ping, through the driver. */
static int probe_ping(void *ctx, const char *dom, int timeout_s)
{
    agent_t *a = ctx;
    err_t err = ERR_INIT;
    int rc = hv_guest_ping(a->hv, dom, timeout_s, &err);
    if (rc < 0)
        log_debug("agent: guest heartbeat of %s: %s", dom, err.msg);
    err_clear(&err);
    return rc;
}

/* status.network: the guest agent's view of the guest's interfaces. */
static json_t *probe_guestnet(void *ctx, const char *dom, int timeout_s)
{
    agent_t *a = ctx;
    err_t err = ERR_INIT;
    json_t *view = hv_guest_interfaces(a->hv, dom, timeout_s, &err);
    if (!view)
        log_debug("agent: guest interfaces of %s: %s", dom, err.msg);
    err_clear(&err);
    return view;
}

/* A readiness probe changed its verdict, or a guest its interfaces: look
 * at its VM again. */
static void on_probe_change(void *ctx, const char *key)
{
    agent_t *a = ctx;
    queue_add(a->q, key);
}

static int reconcile(void *ctx, const char *key)
{
    agent_t *a = ctx;
    store_obj_t *o = store_get(a->srv->store, key);
    const json_t *vm = NULL;
    json_t *set = NULL, *conds = NULL, *spec = NULL;
    const char *dom, *ns, *name;
    hv_state_t st = HV_STATE_NONE;
    err_t err = ERR_INIT;
    int rc = 0, again = 0;

    if (!o)
        return 0;
    vm = store_obj_json(o); /* shared: read only */
    store_obj_unref(o);
    if (!placed_here(a, vm) || !(dom = json_path_str(vm, "status.uniqueID")) ||
        !g_str_has_prefix(dom, DOMAIN_PREFIX))
        goto out;
    ns = json_path_str(vm, "metadata.namespace");
    name = json_path_str(vm, "metadata.name");
    if (json_path_get(vm, "metadata.deletionTimestamp")) {
        probe_remove(a->probes, key);
        probe_guestnet_unwatch(a->probes, key);
        rc = teardown(a, key, vm, dom);
        goto out;
    }
    if (!meta_has_finalizer(vm, AGENT_FINALIZER))
        goto out; /* the controller adds it before placing; wait for it */

    set = json_object();
    conds = json_array();
    if (hv_state(a->hv, dom, &st, &err) < 0)
        goto fail;
    if (st == HV_STATE_NONE && !cond_is_true(vm, "VirtualMachineNetworkReady"))
        goto out; /* the network controller has not given every interface its address yet */
    if (st == HV_STATE_NONE) {
        if (provision(a, vm, &spec, &err) < 0 || hv_define(a->hv, spec, &err) < 0) {
            json_array_append_new(conds, ctl_cond("VirtualMachineCreated", false, "CreateFailed",
                                                  "%s", err.msg));
            event_record(a->ev, vm, "Warning", "CreateFailed", "Creating the VM failed: %s",
                         err.msg);
            goto fail_status;
        }
        event_record(a->ev, vm, "Normal", "Created", "The VM was created on host %s.", a->node);
        st = HV_STATE_SHUTOFF;
    }
    json_array_append_new(conds, ctl_cond("VirtualMachineCreated", true, "Created", "%s", ""));
    {
        json_t *vols = json_array();
        if (volumes_sync(a, vm, dom, NULL, vols, &err) < 0) {
            event_record(a->ev, vm, "Warning", "VolumeFailed", "%s", err.msg);
            err_clear(&err);
        }
        json_object_set_new(set, "volumes", vols);
    }

    /* The guest powered itself off (or crashed): show it, then act on the
     * spec a moment later, so that watchers see what happened. */
    if ((st == HV_STATE_SHUTOFF || st == HV_STATE_CRASHED) &&
        !g_strcmp0(json_path_str(vm, "status.powerState"), "PoweredOn") &&
        g_strcmp0(json_path_str(vm, "spec.powerState"), "PoweredOff") != 0) {
        event_record(a->ev, vm, st == HV_STATE_CRASHED ? "Warning" : "Normal",
                     st == HV_STATE_CRASHED ? "GuestCrashed" : "GuestPoweredOff",
                     st == HV_STATE_CRASHED ? "The guest crashed; it will be powered on again."
                                            : "The guest powered itself off; the spec asks for "
                                              "%s, so it will be powered on again.",
                     json_path_str(vm, "spec.powerState") ?: "PoweredOn");
        json_object_set_new(set, "powerState", json_string("PoweredOff"));
        again = AGENT_RECHECK_MS;
        goto write;
    }
    if ((again = power(a, key, vm, dom, st, &err)) < 0) {
        event_record(a->ev, vm, "Warning", "PowerStateFailed",
                     "Changing the power state failed: %s", err.msg);
        goto fail_status;
    }
    if (hv_state(a->hv, dom, &st, &err) < 0)
        goto fail_status;
    if (restart(a, vm, dom, st, set, &err) < 0) {
        event_record(a->ev, vm, "Warning", "RestartFailed", "Restarting the VM failed: %s",
                     err.msg);
        goto fail_status;
    }
    if (power_state_of(st))
        json_object_set_new(set, "powerState", json_string(power_state_of(st)));
    {
        int recheck = agent_net_vm_status(a, key, vm, dom, st, set, conds);
        if (recheck > 0 && (again == 0 || recheck < again))
            again = recheck;
    }
    goto write;

fail_status:
    rc = -1;
write : {
    err_t werr = ERR_INIT;
    bool written = false;
    store_obj_t *r = ctl_status_write(a->srv, a->vm_res, ns, name, set, conds, &written, &werr);
    own_version_note(a, key, r, written);
    if (!r && werr.code != ERR_NOT_FOUND) {
        log_warn("agent: cannot update the status of %s: %s", key, werr.msg);
        rc = -1;
    }
    store_obj_unref(r);
    err_clear(&werr);
    if (rc == 0 && again > 0)
        queue_add_after(a->q, key, again);
    goto out;
}
fail:
    log_warn("agent: %s: %s", key, err.msg);
    rc = -1;
out:
    err_clear(&err);
    json_decref((json_t *)vm);
    json_decref(set);
    json_decref(conds);
    json_decref(spec);
    return rc;
}

/* ---- the Node ------------------------------------------------------------- */

static int64_t host_memory(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    return pages > 0 && size > 0 ? (int64_t)pages * size : 0;
}

static json_t *mutate_node_labels(const json_t *cur, void *ctx, err_t *err)
{
    agent_t *a = ctx;
    json_t *next = json_deep_copy(cur);
    json_t *labels = json_object_ensure(json_object_ensure(next, "metadata"), "labels");
    json_object_set_new(labels, "kubernetes.io/hostname", json_string(a->node));
    if (a->zone)
        json_object_set_new(labels, "topology.kubernetes.io/zone", json_string(a->zone));
    else
        json_object_del(labels, "topology.kubernetes.io/zone");
    return next;
}

static int register_node(agent_t *a, err_t *err)
{
    const resource_t *res = a->node_res;
    int64_t cpus = sysconf(_SC_NPROCESSORS_ONLN) * 1000, mem = host_memory();
    int64_t acpu = a->alloc_cpu_milli ? a->alloc_cpu_milli : cpus;
    int64_t amem = a->alloc_mem_bytes ? a->alloc_mem_bytes : mem;
    char now[32], cbuf[32], acbuf[32];
    struct utsname un;
    char *m1 = quantity_format_bytes(mem), *m2 = quantity_format_bytes(amem);
    obj_opts_t o = {.fv = FIELD_VALIDATION_IGNORE};
    json_t *node, *status;
    store_obj_t *r;

    uname(&un);
    meta_now(now, sizeof(now));
    snprintf(cbuf, sizeof(cbuf), cpus % 1000 ? "%lldm" : "%lld",
             (long long)(cpus % 1000 ? cpus : cpus / 1000));
    snprintf(acbuf, sizeof(acbuf), acpu % 1000 ? "%lldm" : "%lld",
             (long long)(acpu % 1000 ? acpu : acpu / 1000));
    status = json_pack("{s:{s:s,s:s},s:{s:s,s:s},s:[{s:s,s:s,s:s,s:s,s:s,s:s}],"
                       "s:[{s:s,s:s}],s:{s:s,s:s,s:s,s:s,s:s}}",
                       "capacity", "cpu", cbuf, "memory", m1,
                       "allocatable", "cpu", acbuf, "memory", m2,
                       "conditions", "type", "Ready", "status", "True", "reason", "AgentReady",
                       "message", "vmsvc agent is running", "lastHeartbeatTime", now,
                       "lastTransitionTime", now,
                       "addresses", "type", "Hostname", "address", a->node,
                       "nodeInfo", "architecture", un.machine, "kernelVersion", un.release,
                       "operatingSystem", "linux", "osImage", un.sysname,
                       "kubeletVersion", "vmsvc-" VMSVC_VERSION);
    node = json_pack("{s:s,s:s,s:{s:s,s:{s:s}}}", "apiVersion", "v1", "kind", "Node", "metadata",
                     "name", a->node, "labels", "kubernetes.io/hostname", a->node);
    if (a->zone)
        json_object_set_new(json_path_get(node, "metadata.labels"), "topology.kubernetes.io/zone",
                            json_string(a->zone));
    r = obj_create(a->srv, res, NULL, json_incref(node), &o, err);
    if (!r && err->code != ERR_ALREADY_EXISTS)
        goto fail;
    err_clear(err);
    store_obj_unref(r);
    /* Labels may have changed since the last start (another zone). */
    r = obj_update(a->srv, res, NULL, a->node, NULL, mutate_node_labels, a, &o, err);
    if (!r)
        goto fail;
    store_obj_unref(r);
    r = ctl_status_update(a->srv, res, NULL, a->node, status, NULL, err);
    if (!r)
        goto fail;
    store_obj_unref(r);
    json_decref(status);
    json_decref(node);
    g_free(m1);
    g_free(m2);
    return 0;
fail:
    json_decref(status);
    json_decref(node);
    g_free(m1);
    g_free(m2);
    return -1;
}

/* ---- start and stop ------------------------------------------------------------ */

agent_t *agent_start(apiserver_t *srv, const agent_opts_t *o, err_t *err)
{
    agent_t *a = g_new0(agent_t, 1);
    char hn[256] = "localhost";
    char *root = g_build_filename(o->data_dir, "libvirt", NULL);
    hv_open_opts_t ho = {.uri = o->libvirt_uri, .root_dir = root, .accel = o->accel,
                         .guest_nice = o->guest_nice, .on_event = on_hv_event, .event_ctx = a};

    a->srv = srv;
    a->data_dir = g_strdup(o->data_dir);
    gethostname(hn, sizeof(hn) - 1);
    a->node = g_ascii_strdown(o->node_name ? o->node_name : hn, -1);
    {
        json_t *name = json_string(a->node);
        char *text = json_dumps(name, JSON_ENCODE_ANY | JSON_COMPACT);
        a->host_mark = g_strconcat("\"host\":", text, NULL);
        free(text);
        json_decref(name);
    }
    a->zone = g_strdup(o->zone);
    a->soft_timeout_s = o->soft_timeout_s > 0 ? o->soft_timeout_s : 300;
    a->alloc_cpu_milli = o->alloc_cpu_milli;
    a->alloc_mem_bytes = o->alloc_mem_bytes;
    a->vm_res = registry_find(srv->reg, "vmoperator.vmware.com", "v1alpha2", "virtualmachines");
    a->node_res = registry_find(srv->reg, "", "v1", "nodes");
    g_mutex_init(&a->lock);
    a->uid_key = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    a->key_uid = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    a->soft_since = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    a->own_rv = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    a->ev = event_recorder_new(srv, "vmsvc-agent");

    if (!(a->hv = hv_open(o->hv_ops, &ho, err)))
        goto fail;
    if (!(a->net = agent_net_start(a, o->net_ops ? o->net_ops : &hostnet_linux_ops, err)))
        goto fail;
    if (register_node(a, err) < 0)
        goto fail;
    a->probes = probe_sched_new(on_probe_change, probe_ping, probe_guestnet, a);
    a->q = queue_new("agent", o->workers > 0 ? o->workers : 4, reconcile, a);
    a->follow = ctl_start(srv, &follow_ops, a);
    a->pvcs = pvc_start(a);
    a->lib = library_start(a);
    log_info("agent: node %s%s%s, %s driver, %s", a->node, a->zone ? " in zone " : "",
             a->zone ? a->zone : "", hv_driver_name(a->hv),
             hv_accel(a->hv) == HV_ACCEL_KVM ? "KVM" : "TCG");
    g_free(root);
    return a;
fail:
    g_free(root);
    agent_stop(a);
    return NULL;
}

void agent_stop(agent_t *a)
{
    if (!a)
        return;
    library_stop(a->lib);
    ctl_stop(a->pvcs);
    ctl_stop(a->follow);
    probe_sched_stop(a->probes);
    queue_free(a->q);
    probe_sched_free(a->probes);
    agent_net_stop(a->net);
    hv_close(a->hv);
    event_recorder_free(a->ev);
    g_hash_table_unref(a->uid_key);
    g_hash_table_unref(a->key_uid);
    g_hash_table_unref(a->soft_since);
    g_hash_table_unref(a->own_rv);
    g_mutex_clear(&a->lock);
    g_free(a->data_dir);
    g_free(a->node);
    g_free(a->host_mark);
    g_free(a->zone);
    g_free(a);
}
