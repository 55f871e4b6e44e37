/*
 * libvirt: the hypervisor driver that runs domains through libvirt, by
 * default its embedded QEMU driver (qemu:///embed?root=DIR: no daemon, the
 * driver lives in this process and keeps its state under DIR), or any URI
 * such as qemu:///system.
 *
 * libvirt needs an event loop for its QEMU monitors and for events: the
 * process registers libvirt's default implementation once and runs it in
 * one thread for as long as any driver handle is open.  QEMU processes
 * outlive the process that started them; a new process on the same root
 * finds them again, which is how a restarted agent adopts its domains.
 *
 * The embedded driver, once opened, stays initialized until the process
 * exits (libvirt has no public call that shuts it down): closing our handle
 * closes the connection and stops the event loop, a later open in the same
 * process finds the same driver, another process cannot open the same root
 * meanwhile (libvirt locks run/qemu/driver.pid), and one process can embed
 * only one root.
 *
 * States: libvirt's states map onto hv_state_t, with a shut-off domain that
 * has a managed save image reported as HV_STATE_SAVED.  Lifecycle events
 * reach the caller's callback from the event loop thread; once hv_close has
 * begun, none is delivered.
 *
 * The accelerator is chosen at open: KVM only where a guest really runs
 * under /dev/kvm (hv_kvm_usable: the KVM ioctls, then QEMU's firmware under
 * KVM, each with a deadline), else TCG.
 *
 * Guests' CPU comes after the service's: once a domain has started, every
 * thread of its QEMU gets the guest nice value (hv_open_opts_t), and the
 * threads QEMU makes later take it from them; so does QEMU's session,
 * where the kernel schedules sessions as groups (renice_session).  The
 * service's threads (store, controllers, API, libvirt's own) keep a larger
 * share of the CPU however many guests are busy, and QEMU's start-up,
 * which a caller waits for, runs at the service's priority.
 *
 * UEFI domains use the loader and nvram template named in model/domain.h;
 * QEMU's pid comes from the pid file libvirt keeps under the root's
 * run/qemu (or /run/libvirt/qemu for qemu:///system; unknown elsewhere: 0).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/libvirt-qemu.h>
#include <libvirt/virterror.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include <glib/gstdio.h>

#include "hv/hv.h"
#include "hv/hv_priv.h"
#include "model/domain.h"
#include "model/guestnet.h"
#include "util/fs.h"
#include "util/log.h"

#define KVM_PROBE_TIMEOUT_MS 2000
#define PID_FILE_MAX 64
#define QEMU_LOG_TAIL_MAX (16 * 1024)

/* What libvirt's event callback reaches; freed by libvirt when the
 * callback is deregistered.  `lock` is held while the caller's callback
 * runs, so that once `closed` is set no callback is running or will run. */
typedef struct lv_sink {
    GMutex lock;
    bool closed;
    hv_event_fn fn;
    void *ctx;
    GHashTable *persistent; /* names of the persistent domains; under `lock` */
} lv_sink_t;

typedef struct lv {
    virConnectPtr conn;
    char *uri;
    hv_accel_t accel;
    int guest_nice;  /* nice value of a started domain's QEMU; 0: left as it is */
    char *run_dir; /* where QEMU's pid files are; NULL if unknown */
    char *log_dir; /* where QEMU's per-domain logs are; NULL if unknown */
    int cb_id;     /* lifecycle callback, -1 when none */
    lv_sink_t *sink;
} lv_t;

/* ---- process-wide libvirt state ------------------------------------------ */

static int lv_init_rc = -1;
static GMutex loop_lock;
static int loop_users;      /* open handles; guarded by loop_lock */
static GThread *loop_thread; /* guarded by loop_lock */
static gint loop_quit;

/* libvirt reports errors to stderr unless told otherwise; we read them
 * with virGetLastError where the call failed. */
static void lv_quiet(void *opaque, virErrorPtr e)
{
}

static void lv_global_init(void)
{
    static gsize once;

    if (!g_once_init_enter(&once))
        return;
    virSetErrorFunc(NULL, lv_quiet);
    if (virInitialize() == 0 && virEventRegisterDefaultImpl() == 0)
        lv_init_rc = 0;
    g_once_init_leave(&once, 1);
}

static gpointer loop_run(gpointer p)
{
    while (!g_atomic_int_get(&loop_quit)) {
        if (virEventRunDefaultImpl() < 0) {
            virErrorPtr e = virGetLastError();
            log_warn("hv: the libvirt event loop failed: %s",
                     e && e->message ? e->message : "unknown error");
            g_usleep(100 * 1000);
        }
    }
    return NULL;
}

/* A timer that fires at once: adding it wakes the loop, which then sees
 * loop_quit. */
static void loop_wake(int timer, void *opaque)
{
    virEventRemoveTimeout(timer);
}

static void loop_ref(void)
{
    g_mutex_lock(&loop_lock);
    if (loop_users++ == 0) {
        g_atomic_int_set(&loop_quit, 0);
        loop_thread = g_thread_new("hv-libvirt-events", loop_run, NULL);
    }
    g_mutex_unlock(&loop_lock);
}

/* The last user stops the loop.  The join happens under loop_lock on
 * purpose: a new user must not start a second loop while the old one is
 * still running; the loop thread never takes loop_lock. */
static void loop_unref(void)
{
    g_mutex_lock(&loop_lock);
    if (--loop_users == 0) {
        g_atomic_int_set(&loop_quit, 1);
        if (virEventAddTimeout(0, loop_wake, NULL, NULL) < 0)
            log_warn("hv: cannot wake the libvirt event loop; it stops with its next event");
        g_thread_join(loop_thread);
        loop_thread = NULL;
    }
    g_mutex_unlock(&loop_lock);
}

/* ---- KVM probe ------------------------------------------------------------ */

/* In a child process: run one vCPU on `hlt` in real mode.  The exit status
 * is 0 when KVM_RUN came back with KVM_EXIT_HLT. */
static int kvm_probe_child(void)
{
    struct kvm_userspace_memory_region region = {0};
    struct kvm_sregs sregs;
    struct kvm_regs regs = {0};
    struct kvm_run *run;
    uint8_t *mem;
    int kvm, vm, vcpu, size;

    if ((kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC)) < 0)
        return 1;
    if (ioctl(kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
        return 2;
    if ((vm = ioctl(kvm, KVM_CREATE_VM, 0UL)) < 0)
        return 3;
    (void)ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000UL); /* needed by some Intel hosts */
    mem = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED)
        return 4;
    mem[0] = 0xf4; /* hlt */
    region.slot = 0;
    region.guest_phys_addr = 0x1000;
    region.memory_size = 0x1000;
    region.userspace_addr = (uint64_t)(uintptr_t)mem;
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
        return 5;
    if ((vcpu = ioctl(vm, KVM_CREATE_VCPU, 0UL)) < 0)
        return 6;
    if ((size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, NULL)) <= 0)
        return 7;
    run = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    if (run == MAP_FAILED)
        return 8;
    if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
        return 9;
    sregs.cs.base = 0;
    sregs.cs.selector = 0;
    if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
        return 10;
    regs.rip = 0x1000;
    regs.rflags = 0x2;
    if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
        return 11;
    if (ioctl(vcpu, KVM_RUN, 0) < 0)
        return 12;
    return run->exit_reason == KVM_EXIT_HLT ? 0 : 13;
}

/* Wait for `pid` at most `ms` milliseconds; its wait status, or -1. */
static int wait_bounded(pid_t pid, int ms)
{
    int status;

    for (int waited = 0; waited <= ms; waited += 10) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        if (r < 0 && errno != EINTR)
            return -1;
        g_usleep(10 * 1000);
    }
    return -1;
}

static bool kvm_probe(void)
{
    pid_t pid;
    int status;

    if (access("/dev/kvm", R_OK | W_OK) < 0)
        return false;
    pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0)
        _exit(kvm_probe_child());
    status = wait_bounded(pid, KVM_PROBE_TIMEOUT_MS);
    if (status == -1) {
        kill(pid, SIGKILL);
        /* A vCPU stuck in the kernel may not even die; do not wait for ever. */
        wait_bounded(pid, 1000);
        return false;
    }
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Stage two: a real guest.  KVM can pass the vCPU test and still crawl
 * (some nested setups run firmware many times slower than emulation), so
 * QEMU boots SeaBIOS under KVM with nothing to boot, and the firmware must
 * reach its boot menu ("No bootable device.") within the deadline; TCG
 * gets there in about 0.2 s. */
static bool kvm_probe_guest(void)
{
    char *qemu = g_find_program_in_path("qemu-system-x86_64");
    char *dir = NULL, *log = NULL, *chardev = NULL;
    bool ok = false;
    GPid pid = 0;

    if (!qemu)
        return false;
    dir = g_dir_make_tmp("vmsvc-kvm-probe-XXXXXX", NULL);
    if (!dir)
        goto out;
    log = g_build_filename(dir, "firmware.log", NULL);
    chardev = g_strdup_printf("file,id=fw,path=%s", log);
    {
        char *argv[] = {qemu, "-accel", "kvm", "-machine", "q35", "-m", "16", "-nodefaults",
                        "-no-user-config", "-display", "none", "-chardev", chardev,
                        "-device", "isa-debugcon,iobase=0x402,chardev=fw", "-no-reboot", NULL};
        if (!g_spawn_async(NULL, argv, NULL,
                           G_SPAWN_DO_NOT_REAP_CHILD | G_SPAWN_STDOUT_TO_DEV_NULL |
                               G_SPAWN_STDERR_TO_DEV_NULL | G_SPAWN_CLOEXEC_PIPES,
                           NULL, NULL, &pid, NULL))
            goto out;
    }
    for (int waited = 0; waited <= KVM_PROBE_TIMEOUT_MS && !ok; waited += 20) {
        char *text = NULL;
        if (g_file_get_contents(log, &text, NULL, NULL))
            ok = strstr(text, "No bootable device") || strstr(text, "Booting from");
        g_free(text);
        if (!ok) {
            int status;
            if (waitpid(pid, &status, WNOHANG) == pid) {
                pid = 0; /* QEMU gave up: no KVM for it */
                break;
            }
            g_usleep(20 * 1000);
        }
    }
out:
    if (pid > 0) {
        kill(pid, SIGKILL);
        wait_bounded(pid, 2000);
    }
    if (log)
        g_unlink(log);
    if (dir)
        g_rmdir(dir);
    g_free(chardev);
    g_free(log);
    g_free(dir);
    g_free(qemu);
    return ok;
}

bool hv_kvm_usable(void)
{
    static gsize once;
    static bool usable;

    if (g_once_init_enter(&once)) {
        usable = kvm_probe() && kvm_probe_guest();
        g_once_init_leave(&once, 1);
    }
    return usable;
}

/* ---- errors, lookups, states ---------------------------------------------- */

static err_code_t lv_code(const virErrorPtr e)
{
    switch (e ? e->code : VIR_ERR_OK) {
    case VIR_ERR_NO_DOMAIN:
        return ERR_NOT_FOUND;
    case VIR_ERR_OPERATION_INVALID:
        return ERR_CONFLICT;
    case VIR_ERR_OPERATION_TIMEOUT:
    case VIR_ERR_AGENT_UNRESPONSIVE:
        return ERR_TIMEOUT;
    case VIR_ERR_XML_ERROR:
    case VIR_ERR_XML_DETAIL:
    case VIR_ERR_CONFIG_UNSUPPORTED:
    case VIR_ERR_INVALID_ARG:
        return ERR_INVALID;
    default:
        return ERR_INTERNAL;
    }
}

/* Report libvirt's last error as "Cannot <what> domain <name>: <message>." */
static void lv_error(err_t *err, const char *what, const char *name)
{
    virErrorPtr e = virGetLastError();
    const char *msg = e && e->message ? e->message : "libvirt gave no reason";
    size_t n = strlen(msg);

    err_set(err, lv_code(e), "Cannot %s domain %s: %s%s", what, name, msg,
            n && msg[n - 1] == '.' ? "" : ".");
    virResetLastError();
}

static virDomainPtr lv_lookup(lv_t *l, const char *name, const char *what, err_t *err)
{
    virDomainPtr dom = virDomainLookupByName(l->conn, name);
    virErrorPtr e;

    if (dom)
        return dom;
    e = virGetLastError();
    if (e && e->code == VIR_ERR_NO_DOMAIN) {
        err_set(err, ERR_NOT_FOUND, "Cannot %s domain %s: it does not exist.", what, name);
        virResetLastError();
    } else {
        lv_error(err, what, name);
    }
    return NULL;
}

static int lv_state_of(virDomainPtr dom, hv_state_t *st)
{
    int state, reason;

    if (virDomainGetState(dom, &state, &reason, 0) < 0)
        return -1;
    switch (state) {
    case VIR_DOMAIN_RUNNING:
    case VIR_DOMAIN_BLOCKED:
    case VIR_DOMAIN_SHUTDOWN: /* shutting down, still running */
        *st = HV_STATE_RUNNING;
        break;
    case VIR_DOMAIN_PAUSED:
    case VIR_DOMAIN_PMSUSPENDED:
        *st = HV_STATE_PAUSED;
        break;
    case VIR_DOMAIN_CRASHED:
        *st = HV_STATE_CRASHED;
        break;
    default:
        if (state == VIR_DOMAIN_SHUTOFF && reason == VIR_DOMAIN_SHUTOFF_CRASHED)
            *st = HV_STATE_CRASHED;
        else if (virDomainHasManagedSaveImage(dom, 0) > 0)
            *st = HV_STATE_SAVED;
        else
            *st = HV_STATE_SHUTOFF;
        break;
    }
    return 0;
}

/* ---- events --------------------------------------------------------------- */

static void sink_deliver(lv_sink_t *s, const char *name, hv_state_t st)
{
    g_mutex_lock(&s->lock);
    if (!s->closed && s->fn)
        s->fn(s->ctx, name, st);
    g_mutex_unlock(&s->lock);
}

static void sink_free(void *p)
{
    lv_sink_t *s = p;
    g_mutex_clear(&s->lock);
    g_hash_table_unref(s->persistent);
    g_free(s);
}

/* Whether an event's domain was running when the event was made: the
 * event carries the domain's id (-1 when inactive), read here without a
 * call into the driver. */
static bool event_active(virDomainPtr dom)
{
    return virDomainGetID(dom) != (unsigned int)-1;
}

static void persistent_set(lv_sink_t *s, const char *name, bool on)
{
    g_mutex_lock(&s->lock);
    if (on)
        g_hash_table_add(s->persistent, g_strdup(name));
    else
        g_hash_table_remove(s->persistent, name);
    g_mutex_unlock(&s->lock);
}

/* The event loop's callback.  It never calls into the driver for the
 * domain: such a call waits for the domain's lock while holding the
 * driver's list of domains, and a domain that is starting holds its lock
 * for seconds under load, which would stall every define in the process
 * and this loop with it.  What the event does not say (persistence) comes
 * from the sink's own record. */
static int lv_on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail,
                           void *opaque)
{
    lv_sink_t *s = opaque;
    const char *name = virDomainGetName(dom);
    hv_state_t st;
    bool transient;

    switch (event) {
    case VIR_DOMAIN_EVENT_DEFINED:
        persistent_set(s, name, true);
        /* A new definition of a domain that already had a state changes
         * nothing; a new domain is shut off. */
        if (detail == VIR_DOMAIN_EVENT_DEFINED_UPDATED || event_active(dom))
            return 0;
        st = HV_STATE_SHUTOFF;
        break;
    case VIR_DOMAIN_EVENT_UNDEFINED:
        persistent_set(s, name, false);
        if (event_active(dom))
            return 0; /* it runs on, transient, until it stops */
        st = HV_STATE_NONE;
        break;
    case VIR_DOMAIN_EVENT_STARTED:
    case VIR_DOMAIN_EVENT_RESUMED:
        st = HV_STATE_RUNNING;
        break;
    case VIR_DOMAIN_EVENT_SUSPENDED:
    case VIR_DOMAIN_EVENT_PMSUSPENDED:
        st = HV_STATE_PAUSED;
        break;
    case VIR_DOMAIN_EVENT_STOPPED:
        st = detail == VIR_DOMAIN_EVENT_STOPPED_SAVED     ? HV_STATE_SAVED
             : detail == VIR_DOMAIN_EVENT_STOPPED_CRASHED ? HV_STATE_CRASHED
                                                          : HV_STATE_SHUTOFF;
        g_mutex_lock(&s->lock);
        transient = !g_hash_table_contains(s->persistent, name);
        g_mutex_unlock(&s->lock);
        sink_deliver(s, name, st);
        if (transient)
            sink_deliver(s, name, HV_STATE_NONE); /* a transient domain is gone once it stops */
        return 0;
    case VIR_DOMAIN_EVENT_CRASHED:
        st = HV_STATE_CRASHED;
        break;
    default: /* SHUTDOWN: the guest is on its way down; STOPPED follows */
        return 0;
    }
    sink_deliver(s, name, st);
    return 0;
}

/* The persistent domains there are, into the sink's record.  Called once
 * the callback is registered, so that a define or undefine from then on
 * is seen by one or the other. */
static int persistent_load(lv_t *l, err_t *err)
{
    virDomainPtr *doms = NULL;
    int n = virConnectListAllDomains(l->conn, &doms, VIR_CONNECT_LIST_DOMAINS_PERSISTENT);

    if (n < 0) {
        virErrorPtr e = virGetLastError();
        err_set(err, ERR_INTERNAL, "Cannot list libvirt's domains: %s",
                e && e->message ? e->message : "libvirt gave no reason");
        virResetLastError();
        return -1;
    }
    for (int i = 0; i < n; i++) {
        persistent_set(l->sink, virDomainGetName(doms[i]), true);
        virDomainFree(doms[i]);
    }
    free(doms);
    return 0;
}

/* ---- open and close ------------------------------------------------------- */

/* The embedded driver reads DIR/etc/qemu.conf: QEMU runs as root where we
 * are root (Debian's default user may not reach our files), and without
 * virtlogd its output goes straight to files. */
static int write_qemu_conf(const char *root, err_t *err)
{
    char *etc = g_build_filename(root, "etc", NULL);
    char *path = g_build_filename(etc, "qemu.conf", NULL);
    const char *conf = geteuid() == 0 ? "user = \"root\"\ngroup = \"root\"\nstdio_handler = \"file\"\n"
                                      : "stdio_handler = \"file\"\n";
    int rc = -1;

    if (fs_mkdir_p(etc, 0700, err) < 0 ||
        fs_write_atomic(path, conf, strlen(conf), 0600, err) < 0)
        goto out;
    rc = 0;
out:
    g_free(etc);
    g_free(path);
    return rc;
}

static hv_accel_t choose_accel(hv_accel_t want, err_t *err, bool *ok)
{
    *ok = true;
    if (want == HV_ACCEL_TCG)
        return HV_ACCEL_TCG;
    if (hv_kvm_usable())
        return HV_ACCEL_KVM;
    if (want == HV_ACCEL_KVM) {
        err_set(err, ERR_UNAVAILABLE,
                "KVM was requested, but a test guest does not run under /dev/kvm on this host; "
                "use TCG or fix KVM.");
        *ok = false;
        return HV_ACCEL_LAST;
    }
    log_warn("hv: KVM does not run guests on this host; guests run under TCG (emulation), "
             "which is much slower");
    return HV_ACCEL_TCG;
}

static void lv_free(lv_t *l)
{
    g_free(l->uri);
    g_free(l->run_dir);
    g_free(l->log_dir);
    g_free(l);
}

/* Whether libvirt's status file of a running domain says its start never
 * finished: paused "starting up", or a start job still recorded. */
static bool status_half_started(const char *path)
{
    xmlDocPtr doc = xmlReadFile(path, NULL, XML_PARSE_NONET | XML_PARSE_NOWARNING |
                                                XML_PARSE_NOERROR);
    xmlNodePtr root = doc ? xmlDocGetRootElement(doc) : NULL;
    bool half = false;

    if (root && !xmlStrcmp(root->name, BAD_CAST "domstatus")) {
        xmlChar *state = xmlGetProp(root, BAD_CAST "state");
        xmlChar *reason = xmlGetProp(root, BAD_CAST "reason");
        half = state && reason && !xmlStrcmp(state, BAD_CAST "paused") &&
               !xmlStrcmp(reason, BAD_CAST "starting up");
        for (xmlNodePtr n = root->children; n && !half; n = n->next) {
            xmlChar *async;
            if (n->type != XML_ELEMENT_NODE || xmlStrcmp(n->name, BAD_CAST "job"))
                continue;
            async = xmlGetProp(n, BAD_CAST "async");
            half = async && !xmlStrcmp(async, BAD_CAST "start");
            xmlFree(async);
        }
        xmlFree(state);
        xmlFree(reason);
    }
    if (doc)
        xmlFreeDoc(doc);
    return half;
}

/* The pid file libvirt keeps in `run_dir` for a running domain (g_free). */
static char *pid_file_path(const char *run_dir, const char *name)
{
    return g_strconcat(run_dir, "/", name, ".pid", NULL);
}

/* A QEMU process of ours, by its pid file, or 0. */
static pid_t qemu_pid_from_file(const char *pidfile)
{
    err_t err = ERR_INIT;
    char *text = fs_read_all(pidfile, PID_FILE_MAX, NULL, &err), *cmd = NULL, *path;
    long pid = text ? strtol(text, NULL, 10) : 0;
    gsize len = 0;
    bool qemu = false;

    err_clear(&err);
    g_free(text);
    if (pid <= 1)
        return 0;
    path = g_strdup_printf("/proc/%ld/cmdline", pid);
    if (g_file_get_contents(path, &cmd, &len, NULL))
        qemu = g_strstr_len(cmd, (gssize)len, "qemu") != NULL;
    g_free(cmd);
    g_free(path);
    return qemu ? (pid_t)pid : 0;
}

/* Domains in the embedded root whose start was cut off by the death of the
 * process that started them (QEMU may run, but libvirt's start job never
 * finished and, recorded in the status file, would block every later
 * operation on them).  Before connecting, their QEMU is stopped and their
 * status removed, so that libvirt sees them shut off and the agent starts
 * them afresh. */
static void recover_interrupted_starts(const char *run_dir)
{
    GDir *d = g_dir_open(run_dir, 0, NULL);
    const char *n;

    while (d && (n = g_dir_read_name(d))) {
        char *xml, *name, *pidfile;
        pid_t pid;
        if (!g_str_has_suffix(n, ".xml"))
            continue;
        xml = g_build_filename(run_dir, n, NULL);
        if (!status_half_started(xml)) {
            g_free(xml);
            continue;
        }
        name = g_strndup(n, strlen(n) - 4);
        pidfile = pid_file_path(run_dir, name);
        log_warn("hv: domain %s was left half-started by an earlier run; stopping it", name);
        if ((pid = qemu_pid_from_file(pidfile)) > 0) {
            kill(pid, SIGKILL);
            for (int i = 0; i < 100 && kill(pid, 0) == 0; i++)
                g_usleep(50 * 1000);
        }
        unlink(xml);
        unlink(pidfile);
        g_free(xml);
        g_free(name);
        g_free(pidfile);
    }
    if (d)
        g_dir_close(d);
}

static void lv_close(void *h);

static void *lv_open(const hv_open_opts_t *o, err_t *err)
{
    lv_t *l;
    bool ok;

    lv_global_init();
    if (lv_init_rc < 0) {
        err_set(err, ERR_INTERNAL, "Cannot initialize libvirt.");
        return NULL;
    }
    l = g_new0(lv_t, 1);
    l->cb_id = -1;
    l->accel = choose_accel(o->accel, err, &ok);
    if (!ok)
        goto fail;
    if (o->uri) {
        l->uri = g_strdup(o->uri);
        if (!strcmp(o->uri, "qemu:///system")) {
            l->run_dir = g_strdup("/run/libvirt/qemu");
            l->log_dir = g_strdup("/var/log/libvirt/qemu");
        }
    } else {
        char *root, *escaped;
        if (!o->root_dir || !*o->root_dir) {
            err_set(err, ERR_INTERNAL,
                    "The libvirt driver needs a root directory for its embedded driver.");
            goto fail;
        }
        root = g_canonicalize_filename(o->root_dir, NULL);
        if (write_qemu_conf(root, err) < 0) {
            g_free(root);
            goto fail;
        }
        escaped = g_uri_escape_string(root, "/", FALSE);
        l->uri = g_strdup_printf("qemu:///embed?root=%s", escaped);
        l->run_dir = g_build_filename(root, "run", "qemu", NULL);
        l->log_dir = g_build_filename(root, "log", "qemu", NULL);
        g_free(escaped);
        g_free(root);
    }

    l->guest_nice = CLAMP(o->guest_nice, 0, 19);
    if (!o->uri)
        recover_interrupted_starts(l->run_dir);
    loop_ref();
    l->conn = virConnectOpen(l->uri);
    if (!l->conn) {
        virErrorPtr e = virGetLastError();
        err_set(err, ERR_UNAVAILABLE, "Cannot connect to libvirt at %s: %s", l->uri,
                e && e->message ? e->message : "libvirt gave no reason");
        virResetLastError();
        loop_unref();
        goto fail;
    }
    l->sink = g_new0(lv_sink_t, 1);
    g_mutex_init(&l->sink->lock);
    l->sink->persistent = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    l->sink->fn = o->on_event;
    l->sink->ctx = o->event_ctx;
    l->cb_id = virConnectDomainEventRegisterAny(l->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                VIR_DOMAIN_EVENT_CALLBACK(lv_on_lifecycle),
                                                l->sink, sink_free);
    if (l->cb_id < 0) {
        virErrorPtr e = virGetLastError();
        err_set(err, ERR_INTERNAL, "Cannot subscribe to libvirt's domain events: %s",
                e && e->message ? e->message : "libvirt gave no reason");
        virResetLastError();
        sink_free(l->sink);
        virConnectClose(l->conn);
        loop_unref();
        goto fail;
    }
    if (persistent_load(l, err) < 0) {
        lv_close(l);
        return NULL;
    }
    log_info("hv: libvirt at %s, guests under %s at nice %d", l->uri,
             l->accel == HV_ACCEL_KVM ? "KVM" : "TCG", l->guest_nice);
    return l;
fail:
    lv_free(l);
    return NULL;
}

static void lv_close(void *h)
{
    lv_t *l = h;

    g_mutex_lock(&l->sink->lock);
    l->sink->closed = true;
    g_mutex_unlock(&l->sink->lock);
    /* libvirt frees the sink (sink_free) once the callback is gone. */
    virConnectDomainEventDeregisterAny(l->conn, l->cb_id);
    virConnectClose(l->conn);
    loop_unref();
    lv_free(l);
}

static hv_accel_t lv_accel(void *h)
{
    return ((lv_t *)h)->accel;
}

/* ---- operations ------------------------------------------------------------ */

/* An existing domain with the same name but another UUID is another VM:
 * undefine it (when stopped) so that the new definition can take the name. */
static int replace_other(lv_t *l, const char *name, const char *uuid, err_t *err)
{
    virDomainPtr old = virDomainLookupByName(l->conn, name);
    char old_uuid[VIR_UUID_STRING_BUFLEN];
    int rc = -1;

    if (!old) {
        virResetLastError();
        return 0;
    }
    if (virDomainGetUUIDString(old, old_uuid) < 0) {
        lv_error(err, "redefine", name);
        goto out;
    }
    if (!g_ascii_strcasecmp(old_uuid, uuid)) {
        rc = 0;
        goto out;
    }
    if (virDomainIsActive(old) == 1) {
        err_set(err, ERR_CONFLICT,
                "Cannot redefine domain %s: it runs with another UUID (%s); stop it first.", name,
                old_uuid);
        goto out;
    }
    if (virDomainUndefineFlags(old, VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
                                        VIR_DOMAIN_UNDEFINE_NVRAM |
                                        VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
                                        VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA) < 0) {
        lv_error(err, "replace", name);
        goto out;
    }
    rc = 0;
out:
    virDomainFree(old);
    return rc;
}

static int lv_define(void *h, const json_t *spec, err_t *err)
{
    lv_t *l = h;
    char *xml = domain_render(spec, l->accel == HV_ACCEL_KVM ? DOMAIN_VIRT_KVM : DOMAIN_VIRT_QEMU,
                              err);
    const char *name = json_string_value(json_object_get(spec, "name"));
    virDomainPtr dom = NULL;
    int rc = -1;

    if (!xml)
        return -1;
    if (replace_other(l, name, json_string_value(json_object_get(spec, "uuid")), err) < 0)
        goto out;
    dom = virDomainDefineXMLFlags(l->conn, xml, VIR_DOMAIN_DEFINE_VALIDATE);
    if (!dom) {
        lv_error(err, "define", name);
        goto out;
    }
    rc = 0;
out:
    if (dom)
        virDomainFree(dom);
    g_free(xml);
    return rc;
}

static int lv_undefine(void *h, const char *name, err_t *err)
{
    virDomainPtr dom = lv_lookup(h, name, "undefine", err);
    int rc = -1;

    if (!dom)
        return -1;
    if (virDomainUndefineFlags(dom, VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_NVRAM |
                                        VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
                                        VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA) < 0)
        lv_error(err, "undefine", name);
    else
        rc = 0;
    virDomainFree(dom);
    return rc;
}

/* The operations on one domain that are a single libvirt call. */
typedef enum {
    OP_START,
    OP_SHUTDOWN,
    OP_DESTROY,
    OP_SUSPEND,
    OP_PAUSE,
    OP_RESUME,
    OP_REBOOT,
    OP_RESET,
    OP_LAST
} lv_op_t;

static const char *const op_names[OP_LAST] = {
    [OP_START] = "start",   [OP_SHUTDOWN] = "shut down", [OP_DESTROY] = "power off",
    [OP_SUSPEND] = "save",  [OP_PAUSE] = "pause",        [OP_RESUME] = "resume",
    [OP_REBOOT] = "reboot", [OP_RESET] = "reset",
};

/* What QEMU's log says since the domain's last start that `known` (the
 * error so far) does not: QEMU's own messages ("qemu-system-x86_64: ...")
 * and libvirt's "shutting down, reason=...", the last two at most,
 * without their timestamps.  When QEMU dies after launch libvirt often
 * reports only "domain is no longer running"; this says why.  NULL when
 * there is nothing to add. */
static char *qemu_log_news(const lv_t *l, const char *name, const char *known)
{
    char *path, *text, *from, *out = NULL;
    const char *said[2] = {NULL, NULL};
    gchar **lines;

    if (!l->log_dir || strchr(name, '/'))
        return NULL;
    path = g_strconcat(l->log_dir, "/", name, ".log", NULL);
    text = fs_read_tail(path, QEMU_LOG_TAIL_MAX);
    g_free(path);
    if (!text)
        return NULL;
    from = g_strrstr(text, ": starting up ");
    lines = g_strsplit(from ? from : text, "\n", -1);
    for (gchar **line = lines; *line; line++) {
        const char *m = strstr(*line, "qemu-system-");
        if (m && m[strcspn(m, " :")] != ':')
            m = NULL; /* the command line, not a message */
        if (!m)
            m = strstr(*line, "shutting down, reason=");
        if (m && !strstr(known, m)) {
            said[0] = said[1];
            said[1] = m;
        }
    }
    if (said[1])
        out = said[0] ? g_strdup_printf("%s; %s", said[0], said[1]) : g_strdup(said[1]);
    g_strfreev(lines);
    g_free(text);
    return out;
}

/* Set every thread of process `pid` to nice value `nice`, over again
 * until a pass changes none: a thread that QEMU makes meanwhile takes the
 * value of the thread that made it, which may not have had its turn.
 * 0, or -1 with errno when one could not be changed. */
static int renice_process(pid_t pid, int nice)
{
    char *dir = g_strdup_printf("/proc/%d/task", (int)pid);
    int rc = 0, saved = 0;

    for (int pass = 0; pass < 8; pass++) {
        GDir *d = g_dir_open(dir, 0, NULL);
        const char *ent;
        int changed = 0;

        if (!d)
            break; /* the process is gone */
        while ((ent = g_dir_read_name(d))) {
            id_t tid = (id_t)strtol(ent, NULL, 10);
            int cur;

            errno = 0;
            cur = getpriority(PRIO_PROCESS, tid);
            if ((cur == -1 && errno) || cur == nice)
                continue; /* gone, or done */
            if (setpriority(PRIO_PROCESS, tid, nice) == 0)
                changed++;
            else if (errno != ESRCH) {
                rc = -1;
                saved = errno;
            }
        }
        g_dir_close(d);
        if (!changed)
            break;
    }
    g_free(dir);
    errno = saved;
    return rc;
}

/* Where the kernel groups processes by session (autogroups, on by default
 * in Debian's kernels), a nice value weighs a thread only against the
 * others of its session, and every session's group gets an equal share of
 * the CPU.  libvirt starts each QEMU in a session of its own, so thread
 * nice values alone left a host of 100 guests giving the service about a
 * hundredth of the CPU.  The session's group takes `nice` too, unless it
 * is the service's own.  0 (also where the kernel has no autogroups), or
 * -1 with errno. */
static int renice_session(pid_t pid, int nice)
{
    char path[64], val[16];
    int fd, n, rc = 0;
    pid_t sid = getsid(pid);

    if (sid < 0)
        return errno == ESRCH ? 0 : -1; /* gone */
    if (sid == getsid(0))
        return 0;
    snprintf(path, sizeof(path), "/proc/%d/autogroup", (int)pid);
    if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
        return errno == ENOENT ? 0 : -1;
    n = snprintf(val, sizeof(val), "%d", nice);
    /* Without CAP_SYS_ADMIN the kernel takes one such write a tenth of a
     * second, host-wide, and says EAGAIN to the others. */
    for (int tries = 1; fs_write_full(fd, val, (size_t)n) < 0; tries++) {
        if (errno != EAGAIN || tries == 10) {
            rc = -1;
            break;
        }
        g_usleep(G_USEC_PER_SEC / 10);
    }
    close(fd);
    return rc;
}

/* Start domain `dom`, then put its QEMU at l->guest_nice (see the top of
 * the file).  A nice value that cannot be set is worth a warning, not a
 * failed start. */
static int start_domain(lv_t *l, virDomainPtr dom, const char *name)
{
    int r = virDomainCreate(dom); /* restores the managed save image if any */

    /* It runs: its pid file is there, with no second lookup of the domain. */
    if (r == 0 && l->guest_nice && l->run_dir) {
        char *pidfile = pid_file_path(l->run_dir, name);
        pid_t pid = qemu_pid_from_file(pidfile);
        if (pid > 0) {
            /* Both, whatever the first gives: a thread that would not take
             * the value does not keep the session's group from it. */
            int rc = renice_process(pid, l->guest_nice), err = errno;
            if (renice_session(pid, l->guest_nice) < 0 && rc == 0) {
                rc = -1;
                err = errno;
            }
            if (rc < 0)
                log_warn("hv: cannot set nice %d on domain %s's QEMU (pid %d): %s",
                         l->guest_nice, name, (int)pid, g_strerror(err));
        }
        g_free(pidfile);
    }
    return r;
}

static int lv_do(lv_t *l, const char *name, lv_op_t op, err_t *err)
{
    virDomainPtr dom = lv_lookup(l, name, op_names[op], err);
    int r = -1;

    if (!dom)
        return -1;
    switch (op) {
    case OP_START:
        r = start_domain(l, dom, name);
        break;
    case OP_SHUTDOWN:
        r = virDomainShutdownFlags(dom, VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN);
        break;
    case OP_DESTROY:
        r = virDomainDestroy(dom);
        break;
    case OP_SUSPEND:
        r = virDomainManagedSave(dom, VIR_DOMAIN_SAVE_RUNNING);
        break;
    case OP_PAUSE:
        r = virDomainSuspend(dom);
        break;
    case OP_RESUME:
        r = virDomainResume(dom);
        break;
    case OP_REBOOT:
        r = virDomainReboot(dom, VIR_DOMAIN_REBOOT_ACPI_POWER_BTN);
        break;
    case OP_RESET:
        r = virDomainReset(dom, 0);
        break;
    case OP_LAST:
        break;
    }
    if (r < 0) {
        lv_error(err, op_names[op], name);
        if (op == OP_START) {
            char *said = err ? qemu_log_news(l, name, err->msg) : NULL;
            if (said) {
                size_t n = strlen(err->msg);
                snprintf(err->msg + n, sizeof(err->msg) - n, " QEMU's log: %s", said);
            }
            g_free(said);
        }
    }
    virDomainFree(dom);
    return r < 0 ? -1 : 0;
}

static int lv_start(void *h, const char *name, err_t *err)
{
    return lv_do(h, name, OP_START, err);
}

static int lv_shutdown(void *h, const char *name, err_t *err)
{
    return lv_do(h, name, OP_SHUTDOWN, err);
}

static int lv_destroy(void *h, const char *name, err_t *err)
{
    return lv_do(h, name, OP_DESTROY, err);
}

static int lv_suspend(void *h, const char *name, err_t *err)
{
    return lv_do(h, name, OP_SUSPEND, err);
}

static int lv_pause(void *h, const char *name, err_t *err)
{
    return lv_do(h, name, OP_PAUSE, err);
}

static int lv_resume(void *h, const char *name, err_t *err)
{
    return lv_do(h, name, OP_RESUME, err);
}

static int lv_reboot(void *h, const char *name, bool hard, err_t *err)
{
    return lv_do(h, name, hard ? OP_RESET : OP_REBOOT, err);
}

static int lv_state(void *h, const char *name, hv_state_t *st, err_t *err)
{
    lv_t *l = h;
    virDomainPtr dom = virDomainLookupByName(l->conn, name);
    int rc = 0;

    *st = HV_STATE_NONE;
    if (!dom) {
        virErrorPtr e = virGetLastError();
        if (e && e->code == VIR_ERR_NO_DOMAIN) {
            virResetLastError();
            return 0;
        }
        lv_error(err, "look up", name);
        return -1;
    }
    if (lv_state_of(dom, st) < 0) {
        lv_error(err, "read the state of", name);
        rc = -1;
    }
    virDomainFree(dom);
    return rc;
}

static char *vm_uid_of(virDomainPtr dom)
{
    char *meta = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, DOMAIN_XMLNS,
                                      VIR_DOMAIN_AFFECT_CURRENT);
    char *uid;

    if (!meta) {
        virResetLastError(); /* a foreign domain: no metadata of ours */
        return NULL;
    }
    uid = domain_metadata_vm_uid(meta);
    free(meta);
    return uid;
}

static GPtrArray *lv_list(void *h, err_t *err)
{
    lv_t *l = h;
    virDomainPtr *doms = NULL;
    GPtrArray *out;
    int n = virConnectListAllDomains(l->conn, &doms, 0);

    if (n < 0) {
        virErrorPtr e = virGetLastError();
        err_set(err, ERR_INTERNAL, "Cannot list the domains: %s",
                e && e->message ? e->message : "libvirt gave no reason");
        virResetLastError();
        return NULL;
    }
    out = g_ptr_array_new_full((guint)n, (GDestroyNotify)hv_domain_info_free);
    for (int i = 0; i < n; i++) {
        hv_domain_info_t *di = g_new0(hv_domain_info_t, 1);
        di->name = g_strdup(virDomainGetName(doms[i]));
        di->vm_uid = vm_uid_of(doms[i]);
        if (lv_state_of(doms[i], &di->state) < 0) {
            /* Undefined between the listing and now. */
            virResetLastError();
            hv_domain_info_free(di);
        } else {
            g_ptr_array_add(out, di);
        }
        virDomainFree(doms[i]);
    }
    free(doms);
    return out;
}

/* Live when it runs, and in the definition when it has one. */
static unsigned int device_flags(virDomainPtr dom)
{
    unsigned int flags = 0;

    if (virDomainIsActive(dom) == 1)
        flags |= VIR_DOMAIN_AFFECT_LIVE;
    if (virDomainIsPersistent(dom) == 1)
        flags |= VIR_DOMAIN_AFFECT_CONFIG;
    virResetLastError();
    return flags;
}

static int lv_attach_disk(void *h, const char *name, const json_t *disk, err_t *err)
{
    char *xml = domain_render_disk(disk, err);
    virDomainPtr dom;
    int rc = -1;

    if (!xml)
        return -1;
    if (!(dom = lv_lookup(h, name, "attach a disk to", err)))
        goto out;
    if (virDomainAttachDeviceFlags(dom, xml, device_flags(dom)) < 0)
        lv_error(err, "attach a disk to", name);
    else
        rc = 0;
    virDomainFree(dom);
out:
    g_free(xml);
    return rc;
}

static int lv_detach_disk(void *h, const char *name, const char *target, err_t *err)
{
    virDomainPtr dom = lv_lookup(h, name, "detach a disk from", err);
    char *domain_xml = NULL, *xml = NULL;
    unsigned int flags;
    int rc = -1;

    if (!dom)
        return -1;
    flags = device_flags(dom);
    /* The definition's element when there is one: it has no live-only parts. */
    domain_xml = virDomainGetXMLDesc(dom, flags & VIR_DOMAIN_AFFECT_CONFIG
                                              ? VIR_DOMAIN_XML_INACTIVE
                                              : 0);
    if (!domain_xml) {
        lv_error(err, "detach a disk from", name);
        goto out;
    }
    if (!(xml = domain_xml_disk_dup(domain_xml, target, err)))
        goto out;
    if (virDomainDetachDeviceFlags(dom, xml, flags) < 0) {
        lv_error(err, "detach a disk from", name);
        goto out;
    }
    rc = 0;
out:
    free(domain_xml);
    g_free(xml);
    virDomainFree(dom);
    return rc;
}

/* qemu-guest-agent's guest-ping through libvirt's own agent connection. */
static int lv_guest_ping(void *h, const char *name, int timeout_s, err_t *err)
{
    virDomainPtr dom = lv_lookup(h, name, "ping the guest agent of", err);
    char *reply;

    if (!dom)
        return -1;
    reply = virDomainQemuAgentCommand(dom, "{\"execute\":\"guest-ping\"}", timeout_s, 0);
    if (!reply)
        lv_error(err, "ping the guest agent of", name);
    free(reply);
    virDomainFree(dom);
    return reply ? 0 : -1;
}

/* qemu-guest-agent's guest-network-get-interfaces, through the same
 * connection as the ping: unlike virDomainInterfaceAddresses it takes a
 * timeout, and the reply is parsed (and bounded) by model/guestnet. */
static json_t *lv_guest_interfaces(void *h, const char *name, int timeout_s, err_t *err)
{
    virDomainPtr dom = lv_lookup(h, name, "ask the guest agent for the interfaces of", err);
    json_t *view = NULL;
    char *reply;

    if (!dom)
        return NULL;
    reply = virDomainQemuAgentCommand(dom, "{\"execute\":\"guest-network-get-interfaces\"}",
                                      timeout_s, 0);
    if (!reply)
        lv_error(err, "ask the guest agent for the interfaces of", name);
    else
        view = guestnet_parse_qga(reply, strlen(reply), err);
    free(reply);
    virDomainFree(dom);
    return view;
}

/* QEMU's pid, from the pid file libvirt keeps for a running domain. */
static int lv_pid(void *h, const char *name)
{
    lv_t *l = h;
    virDomainPtr dom;
    char *path;
    pid_t pid;
    bool running;

    if (!l->run_dir || strchr(name, '/'))
        return 0;
    dom = virDomainLookupByName(l->conn, name);
    if (!dom) {
        virResetLastError();
        return 0;
    }
    running = virDomainIsActive(dom) == 1;
    virResetLastError();
    virDomainFree(dom);
    if (!running)
        return 0;
    path = pid_file_path(l->run_dir, name);
    pid = qemu_pid_from_file(path);
    g_free(path);
    return (int)pid;
}

/* The targets of a domain's disks, from its live XML (freed by caller). */
static GPtrArray *disk_targets(const char *xml)
{
    GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
    xmlDoc *doc = xmlReadMemory(xml, (int)strlen(xml), "domain.xml", NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;
    for (xmlNode *dev = root ? root->children : NULL; dev; dev = dev->next) {
        if (dev->type != XML_ELEMENT_NODE || strcmp((const char *)dev->name, "devices"))
            continue;
        for (xmlNode *d = dev->children; d; d = d->next) {
            if (d->type != XML_ELEMENT_NODE || strcmp((const char *)d->name, "disk"))
                continue;
            for (xmlNode *t = d->children; t; t = t->next)
                if (t->type == XML_ELEMENT_NODE && !strcmp((const char *)t->name, "target")) {
                    xmlChar *v = xmlGetProp(t, (const xmlChar *)"dev");
                    if (v)
                        g_ptr_array_add(out, g_strdup((const char *)v));
                    xmlFree(v);
                }
        }
    }
    xmlFreeDoc(doc);
    return out;
}

/* A push-mode backup job (virDomainBackupBegin): QEMU copies the disk as
 * it was when the job began while the guest keeps running, writing the
 * guest's changes to the source only after their old data was copied. */
static int lv_backup_disk(void *h, const char *name, const char *target, const char *dest,
                          err_t *err)
{
    virDomainPtr dom = lv_lookup(h, name, "back up", err);
    char *xml = NULL;
    GPtrArray *targets = NULL;
    GString *b;
    int rc = -1;

    if (!dom)
        return -1;
    if (!(xml = virDomainGetXMLDesc(dom, 0))) {
        lv_error(err, "back up", name);
        goto out;
    }
    targets = disk_targets(xml);
    b = g_string_new("<domainbackup mode='push'><disks>");
    for (guint i = 0; i < targets->len; i++) {
        const char *t = targets->pdata[i];
        char *e = !strcmp(t, target)
                      ? g_markup_printf_escaped("<disk name='%s' backup='yes' type='file'>"
                                                "<driver type='qcow2'/><target file='%s'/></disk>",
                                                t, dest)
                      : g_markup_printf_escaped("<disk name='%s' backup='no'/>", t);
        g_string_append(b, e);
        g_free(e);
    }
    g_string_append(b, "</disks></domainbackup>");
    if (virDomainBackupBegin(dom, b->str, NULL, 0) < 0) {
        lv_error(err, "back up", name);
        g_string_free(b, TRUE);
        goto out;
    }
    g_string_free(b, TRUE);
    /* Wait for the job to end, then ask how it ended. */
    for (;;) {
        virDomainJobInfo info;
        if (virDomainGetJobInfo(dom, &info) < 0) {
            lv_error(err, "follow the backup of", name);
            goto out;
        }
        if (info.type == VIR_DOMAIN_JOB_NONE)
            break;
        g_usleep(100 * 1000);
    }
    {
        int type = VIR_DOMAIN_JOB_NONE, n = 0;
        virTypedParameterPtr params = NULL;
        if (virDomainGetJobStats(dom, &type, &params, &n, VIR_DOMAIN_JOB_STATS_COMPLETED) == 0) {
            virTypedParamsFree(params, n);
            if (type == VIR_DOMAIN_JOB_FAILED || type == VIR_DOMAIN_JOB_CANCELLED) {
                err_set(err, ERR_INTERNAL, "The backup of disk %s of domain %s %s.", target, name,
                        type == VIR_DOMAIN_JOB_FAILED ? "failed" : "was cancelled");
                goto out;
            }
        }
        virResetLastError();
    }
    if (!g_file_test(dest, G_FILE_TEST_IS_REGULAR)) {
        err_set(err, ERR_INTERNAL, "The backup of disk %s of domain %s wrote nothing.", target,
                name);
        goto out;
    }
    rc = 0;
out:
    if (targets)
        g_ptr_array_unref(targets);
    free(xml);
    virDomainFree(dom);
    return rc;
}

const hv_ops_t hv_libvirt_ops = {
    .name = "libvirt",
    .open = lv_open,
    .close = lv_close,
    .accel = lv_accel,
    .define = lv_define,
    .undefine = lv_undefine,
    .start = lv_start,
    .shutdown = lv_shutdown,
    .destroy = lv_destroy,
    .suspend = lv_suspend,
    .pause = lv_pause,
    .resume = lv_resume,
    .reboot = lv_reboot,
    .state = lv_state,
    .list = lv_list,
    .attach_disk = lv_attach_disk,
    .detach_disk = lv_detach_disk,
    .pid = lv_pid,
    .guest_ping = lv_guest_ping,
    .guest_interfaces = lv_guest_interfaces,
    .backup_disk = lv_backup_disk,
};
