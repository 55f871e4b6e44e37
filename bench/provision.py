#!/usr/bin/python3
"""bench/provision.py: the driver behind bench/provision (see that script).

Runs inside the network namespace bench/provision made, as root, with
Debian's /usr/bin/python3 (python3-libvirt).  Every figure is measured next
to its baseline in the same run:

  1. one VM on an idle host, POST -> status.powerState PoweredOn seen on a
     watch, p50 of --runs; against a qcow2 overlay (qemu-img create) +
     define + start of the same domain XML straight through libvirt's
     embedded driver in a root of its own (the "raw" process, this script
     with `raw`), runs alternating A/B after one warm-up of each;
  2. --burst VMs created --interval apart, p50/p95 of creation ->
     PoweredOn; against the same number of domains started straight through
     libvirt at the same pace, each in its own thread (vmsvc's guests run at
     its --guest-nice, raw ones at nice 0); then once more with each raw
     QEMU put at that nice value as the server puts its own (a note);
  3. the control plane alone (--hypervisor fake): --fake-vms creates over
     N connections (asyncio, one process), each sending its next create as
     soon as the previous one is answered, while another process (this
     script with `watch`) timestamps PoweredOn on a watch; against the
     create request's own latency.  One run, on a fresh server, for each N
     in --conns: 1 is one client at the API's own pace; 64 floods it, so
     that creates are accepted faster than the controllers and the agent
     finish VMs and the figure shows the queue that builds up; a note
     gives the throughput that N outstanding creates would need for a
     50 ms mean (Little's law), next to the throughput measured;
  4. the server's VmRSS/VmHWM with 0 and with --rss-vms running VMs.

Times are CLOCK_MONOTONIC (time.monotonic), comparable across processes.
The table goes to stdout, progress to stderr.  Exit 0 when every figure was
measured (missed targets included); 1 when a step failed.

Every process this script starts is written to TMP/pids (one pid a line)
before it is waited for, so that bench/provision can stop what is left by
pid; QEMU processes are found from the pid files libvirt keeps under each
root's run/qemu.
"""
import argparse
import asyncio
import base64
import glob
import http.client
import json
import math
import os
import queue
import re
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import time
import uuid

GROUP = "/apis/vmoperator.vmware.com/v1alpha2"
VM_API = "vmoperator.vmware.com/v1alpha2"
CLASS = "bench-128"
IMAGE = "tiny"
GUEST_NICE_DEFAULT = 10  # the server's --guest-nice when none is given


def log(msg):
    print("provision: " + msg, file=sys.stderr, flush=True)


def now():
    return time.monotonic()


def pct(vals, p):
    """Percentile with linear interpolation between closest ranks."""
    v = sorted(vals)
    if not v:
        return float("nan")
    k = (len(v) - 1) * p / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)


def note_pid(tmp, pid):
    with open(os.path.join(tmp, "pids"), "a") as f:
        f.write("%d\n" % pid)


def qemu_pids(root, tmp):
    """QEMU processes of one libvirt root, from its pid files; only those
    whose command line names our temporary directory."""
    out = []
    for f in glob.glob(os.path.join(root, "run", "qemu", "*.pid")):
        try:
            pid = int(open(f).read().strip())
            with open("/proc/%d/cmdline" % pid, "rb") as c:
                cmd = c.read()
            if b"qemu" in cmd and tmp.encode() in cmd:
                out.append(pid)
        except (OSError, ValueError):
            pass
    return out


def kill_pids(pids):
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def wait_gone(pids, timeout=30):
    deadline = now() + timeout
    for pid in pids:
        while os.path.exists("/proc/%d" % pid) and now() < deadline:
            # a zombie of ours is gone for our purpose
            try:
                st = open("/proc/%d/stat" % pid).read()
                if st.rsplit(")", 1)[1].split()[0] == "Z":
                    break
            except OSError:
                break
            time.sleep(0.05)


WALL_OFFSET = time.time() - time.monotonic()
LOG_DOM = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z debug agent: domain "
                     r"vmsvc-([0-9a-f-]{36}) is (\w+)")


def domain_times(log_path):
    """From a server log at --log-level debug: per VM uid, when its domain was
    first reported defined (Shutoff) and running, on the monotonic clock."""
    import datetime
    out = {}
    with open(log_path, errors="replace") as f:
        for line in f:
            m = LOG_DOM.match(line)
            if not m:
                continue
            t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f").replace(
                tzinfo=datetime.timezone.utc).timestamp() - WALL_OFFSET
            d = out.setdefault(m.group(2), {})
            d.setdefault(m.group(3), t)
    return out


def breakdown(log_path, items):
    """Where creation -> PoweredOn went, from the watch (created, placed,
    PoweredOn) and the server log (domain defined, running): p50/p95 of each
    stage in ms.  `items` is [(t_create, t_placed, t_on, uid)]."""
    doms = domain_times(log_path)
    st = {"API+placement": [], "agent queue+provision+define": [], "hv start": [],
          "status write+watch": []}
    for t0, tp, ton, uid in items:
        d = doms.get(uid, {})
        td, tr = d.get("Shutoff"), d.get("Running")
        if tp is None or td is None or tr is None or not (t0 <= tp <= td <= tr):
            continue
        st["API+placement"].append((tp - t0) * 1000)
        st["agent queue+provision+define"].append((td - tp) * 1000)
        st["hv start"].append((tr - td) * 1000)
        st["status write+watch"].append((ton - tr) * 1000)
    n = len(st["hv start"])
    if not n:
        return "no stage times (no debug log?)"
    return "stages over %d VMs, p50/p95 ms: " % n + "; ".join(
        "%s %.0f/%.0f" % (k, pct(v, 50), pct(v, 95)) for k, v in st.items())


def qemu_exec_times(root):
    """Domain name -> when its QEMU process started (monotonic clock, 1/HZ
    resolution), for the running domains of one libvirt root."""
    hz = os.sysconf("SC_CLK_TCK")
    boot = time.clock_gettime(time.CLOCK_BOOTTIME) - time.monotonic()
    out = {}
    for f in glob.glob(os.path.join(root, "run", "qemu", "*.pid")):
        try:
            pid = int(open(f).read().strip())
            st = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
            out[os.path.basename(f)[:-4]] = int(st[19]) / hz - boot
        except (OSError, ValueError, IndexError):
            pass
    return out


def exec_split(t0s, execs, ends):
    """p50/p95 of creation -> QEMU exec and QEMU exec -> PoweredOn."""
    a = [(e - t) * 1000 for t, e in zip(t0s, execs) if e is not None]
    b = [(x - e) * 1000 for e, x in zip(execs, ends) if e is not None]
    if not a:
        return "no QEMU start times"
    return "creation -> QEMU exec %.0f/%.0f, QEMU exec -> PoweredOn %.0f/%.0f (p50/p95 ms, " \
        "%d VMs)" % (pct(a, 50), pct(a, 95), pct(b, 50), pct(b, 95), len(a))


def by_order(ms, groups=10):
    """Mean latency (s) of each tenth of the VMs, in creation order."""
    k = max(1, len(ms) // groups)
    return " ".join("%.0f" % (sum(ms[i:i + k]) / len(ms[i:i + k]) / 1000.0)
                    for i in range(0, len(ms), k))


def proc_status(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "Threads"):
                out[k] = int(v.split()[0])
    return out


# ---- the API ------------------------------------------------------------------


class Api:
    """Server URL, CA and token from a kubeconfig; plain http.client."""

    def __init__(self, kubeconfig):
        server = ca = token = None
        for line in open(kubeconfig):
            s = line.strip()
            if s.startswith("server:") and not server:
                server = s.split(":", 1)[1].strip()
            elif s.startswith("certificate-authority-data:") and not ca:
                ca = base64.b64decode(s.split(":", 1)[1].strip()).decode()
            elif s.startswith("token:") and not token:
                token = s.split(":", 1)[1].strip()
        m = re.match(r"https://([^:/]+):(\d+)", server)
        self.host, self.port = m.group(1), int(m.group(2))
        self.ca, self.token = ca, token
        self.ctx = ssl.create_default_context(cadata=ca)
        self.headers = {"Authorization": "Bearer " + token, "Accept": "application/json",
                        "Content-Type": "application/json"}

    def conn(self, timeout=120):
        c = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=timeout)
        c.connect()
        return c

    def call(self, method, path, body=None, conn=None, ok=(200, 201, 202)):
        own = conn is None
        c = conn or self.conn()
        try:
            data = json.dumps(body).encode() if body is not None else None
            c.request(method, path, body=data, headers=self.headers)
            r = c.getresponse()
            text = r.read()
            if r.status not in ok:
                raise RuntimeError("%s %s -> %d: %s" % (method, path, r.status, text[:500]))
            return r.status, json.loads(text) if text else None
        finally:
            if own:
                c.close()


def vm_body(name):
    return {"apiVersion": VM_API, "kind": "VirtualMachine", "metadata": {"name": name},
            "spec": {"className": CLASS, "imageName": IMAGE, "storageClass": "default",
                     "powerState": "PoweredOn"}}


def vms_path(ns):
    return "%s/namespaces/%s/virtualmachines" % (GROUP, ns)


def make_namespace(api, ns, mem="128Mi"):
    api.call("POST", "/api/v1/namespaces",
             {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    api.call("POST", "%s/namespaces/%s/virtualmachineclasses" % (GROUP, ns),
             {"apiVersion": VM_API, "kind": "VirtualMachineClass", "metadata": {"name": CLASS},
              "spec": {"hardware": {"cpus": 1, "memory": mem}}})


class Watcher(threading.Thread):
    """One watch on a namespace's VMs: when each name was first seen
    PoweredOn, and when it was deleted."""

    def __init__(self, api, ns):
        super().__init__(daemon=True)
        self.api, self.ns = api, ns
        self.cond = threading.Condition()
        self.on, self.gone, self.uid, self.placed, self.added = {}, {}, {}, {}, {}
        self.error = None
        _, lst = api.call("GET", vms_path(ns))
        self.rv = lst["metadata"]["resourceVersion"]
        self.live = threading.Event()
        self.start()
        if not self.live.wait(30):
            raise RuntimeError("the watch on %s did not open" % ns)

    def run(self):
        try:
            c = self.api.conn(timeout=None)
            c.request("GET", vms_path(self.ns) + "?watch=1&timeoutSeconds=7200&resourceVersion="
                      + self.rv, headers=self.api.headers)
            r = c.getresponse()
            if r.status != 200:
                raise RuntimeError("watch -> %d" % r.status)
            self.live.set()
            while True:
                line = r.readline()
                t = now()
                if not line:
                    break
                ev = json.loads(line)
                o = ev.get("object", {})
                name = o.get("metadata", {}).get("name")
                if not name or ev.get("type") == "BOOKMARK":
                    continue
                with self.cond:
                    if ev["type"] == "DELETED":
                        self.gone.setdefault(name, t)
                    else:
                        self.uid[name] = o["metadata"].get("uid")
                        self.added.setdefault(name, t)
                        st = o.get("status", {})
                        if st.get("host"):
                            self.placed.setdefault(name, t)
                        if st.get("powerState") == "PoweredOn":
                            self.on.setdefault(name, t)
                    self.cond.notify_all()
        except Exception as e:  # noqa: BLE001 - reported to the waiter
            with self.cond:
                self.error = e
                self.cond.notify_all()
        finally:
            self.live.set()

    def wait(self, pred, timeout, what):
        deadline = now() + timeout
        with self.cond:
            while not pred():
                if self.error:
                    raise RuntimeError("watch failed: %s" % self.error)
                left = deadline - now()
                if left <= 0:
                    raise RuntimeError("timed out after %d s waiting for %s" % (timeout, what))
                self.cond.wait(min(left, 1.0))


class Server:
    def __init__(self, vmsvc, tmp, name, args):
        self.vmsvc, self.tmp = vmsvc, tmp
        self.dir = os.path.join(tmp, name)
        self.log_path = os.path.join(tmp, name + ".log")
        self.args = args
        self.proc = None

    def start(self):
        os.makedirs(self.dir, exist_ok=True)
        log_f = open(self.log_path, "ab")
        self.proc = subprocess.Popen([self.vmsvc, "server", "--data-dir", self.dir, "--listen",
                                      "127.0.0.1:0"] + self.args, stdout=log_f,
                                     stderr=subprocess.STDOUT)
        log_f.close()
        note_pid(self.tmp, self.proc.pid)
        kc = os.path.join(self.dir, "kubeconfig")
        deadline = now() + 60
        while not os.path.exists(kc):
            if self.proc.poll() is not None:
                raise RuntimeError("the server exited at start:\n" + self.log_tail())
            if now() > deadline:
                raise RuntimeError("the server wrote no kubeconfig in 60 s")
            time.sleep(0.05)
        self.api = Api(kc)
        log("server %s: pid %d, data in %s" % (name_of(self), self.proc.pid, self.dir))
        return self

    def import_image(self, image):
        """Into the cluster library through the API; the VMs name the image
        by its display name, IMAGE."""
        p = subprocess.run([self.vmsvc, "image", "import", image, "--name", IMAGE, "--data-dir",
                            self.dir], check=True, capture_output=True, text=True)
        vmi = p.stdout.split()[-1]
        deadline = now() + 60
        while now() < deadline:
            st, o = self.api.call("GET", GROUP + "/clustervirtualmachineimages/" + vmi,
                                  ok=(200, 404))
            if st == 200 and o.get("status", {}).get("providerItemID"):
                return o
            time.sleep(0.2)
        raise RuntimeError("the image was not published in 60 s")

    def libvirt_root(self):
        return os.path.join(self.dir, "libvirt")

    def qemu_pids(self):
        return qemu_pids(self.libvirt_root(), self.tmp)

    def status(self):
        return proc_status(self.proc.pid)

    def stop(self):
        if not self.proc or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        kill_pids(self.qemu_pids())

    def log_tail(self, n=30):
        try:
            return "".join(open(self.log_path, errors="replace").readlines()[-n:])
        except OSError:
            return ""


def name_of(server):
    return os.path.basename(server.dir)


# ---- the raw libvirt process ----------------------------------------------------
# `provision.py raw --root DIR --image FILE --tmp TMP`: reads one JSON command a
# line on stdin, answers one JSON line on stdout.
#   {"cmd": "template", "xml": "...", "seed": "path", "uid": "...", "bios": "...",
#    "inst": "...", "dir": "<server data dir>"}
#   {"cmd": "single"}                  -> {"ms": float}      (then torn down)
#   {"cmd": "burst", "n": N, "interval": S, "nice": K} -> {"ms": [...]} (then
#    torn down); K > 0: each QEMU, once started, at nice K, its threads and
#    its session's scheduling group, as the server does with its guests
#   {"cmd": "quit"}


def renice_guest(pidfile, nice):
    """What the server does to a guest it has started (src/hv/libvirt.c):
    every thread of its QEMU, then its session's scheduling group where the
    kernel has such groups, at `nice`."""
    pid = int(open(pidfile).read().strip())
    for _ in range(8):  # again while threads made meanwhile still change
        changed = 0
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                if os.getpriority(os.PRIO_PROCESS, int(tid)) != nice:
                    os.setpriority(os.PRIO_PROCESS, int(tid), nice)
                    changed += 1
            except ProcessLookupError:
                pass
        if not changed:
            break
    if os.path.exists("/proc/self/autogroup") and os.getsid(pid) != os.getsid(0):
        with open("/proc/%d/autogroup" % pid, "w") as f:
            f.write(str(nice))


class Raw:
    def __init__(self, root, image, tmp):
        import libvirt  # Debian's python3-libvirt

        self.lv = libvirt
        self.tmp = tmp
        self.data = os.path.dirname(root)
        self.root = root
        os.makedirs(os.path.join(root, "etc"), exist_ok=True)
        # As the server writes it (src/hv/libvirt.c, write_qemu_conf).
        conf = 'user = "root"\ngroup = "root"\nstdio_handler = "file"\n' if os.geteuid() == 0 \
            else 'stdio_handler = "file"\n'
        with open(os.path.join(root, "etc", "qemu.conf"), "w") as f:
            f.write(conf)
        # The backing image at the same place relative to the data dir.
        os.makedirs(os.path.join(self.data, "images"), exist_ok=True)
        self.image = os.path.join(self.data, "images", os.path.basename(image))
        shutil.copyfile(image, self.image)
        info = json.loads(subprocess.run(["qemu-img", "info", "--output=json", self.image],
                                         check=True, capture_output=True).stdout)
        self.image_fmt, self.image_size = info["format"], info["virtual-size"]
        os.makedirs(os.path.join(self.data, "storage", "default"), 0o700, exist_ok=True)
        libvirt.registerErrorHandler(lambda *a: None, None)
        libvirt.virEventRegisterDefaultImpl()
        threading.Thread(target=self._loop, daemon=True).start()
        self.conn = libvirt.open("qemu:///embed?root=" + root)
        self.conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                         lambda *a: 0, None)
        self.template = None
        self.names = []
        self.stages = []  # (overlay, define, start) ms of each start
        self.times = {}   # domain name -> (start of the work, start returned)
        self.nice = 0     # guests' nice value, as the server's --guest-nice

    def _loop(self):
        while True:
            self.lv.virEventRunDefaultImpl()

    def set_template(self, cmd):
        xml = cmd["xml"]
        self.t_uid, self.t_bios, self.t_inst = cmd["uid"], cmd["bios"], cmd["inst"]
        # The server's data dir becomes ours: disks, seed, serial log.
        self.template = xml.replace(cmd["dir"].rstrip("/") + "/", self.data + "/")
        self.seed = cmd["seed"]

    def _one(self):
        """qemu-img overlay + define + start of a fresh copy of the domain."""
        uid, bios, inst = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
        vdir = os.path.join(self.data, "vms", uid)
        os.makedirs(vdir, 0o700)
        shutil.copyfile(self.seed, os.path.join(vdir, "seed.iso"))
        xml = (self.template.replace(self.t_uid, uid).replace(self.t_bios, bios)
               .replace(self.t_inst, inst))
        disk = os.path.join(self.data, "storage", "default", uid + ".qcow2")
        name = "vmsvc-" + uid
        self.names.append(name)
        t0 = now()
        tmpdisk = disk + ".tmp"
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", self.image_fmt, "-b",
                        self.image, "-o", "cluster_size=64k", tmpdisk, str(self.image_size)],
                       check=True, capture_output=True)
        os.rename(tmpdisk, disk)
        t1 = now()
        dom = self.conn.defineXMLFlags(xml, self.lv.VIR_DOMAIN_DEFINE_VALIDATE)
        t2 = now()
        dom.create()
        if self.nice:
            renice_guest(os.path.join(self.root, "run", "qemu", name + ".pid"), self.nice)
        t3 = now()
        self.stages.append(((t1 - t0) * 1000, (t2 - t1) * 1000, (t3 - t2) * 1000))
        self.times[name] = (t0, t3)
        return (t3 - t0) * 1000.0

    def teardown(self):
        pids = qemu_pids(self.root, self.tmp)
        for name in self.names:
            try:
                dom = self.conn.lookupByName(name)
                if dom.isActive():
                    dom.destroy()
                dom.undefine()
            except self.lv.libvirtError as e:
                log("raw: %s: %s" % (name, e))
            uid = name[len("vmsvc-"):]
            try:
                os.unlink(os.path.join(self.data, "storage", "default", uid + ".qcow2"))
            except OSError:
                pass
            shutil.rmtree(os.path.join(self.data, "vms", uid), ignore_errors=True)
        self.names = []
        self.nice = 0
        wait_gone(pids)

    def single(self):
        ms = self._one()
        self.teardown()
        return ms

    def burst(self, n, interval, nice=0):
        self.nice = nice
        res = [None] * n
        errs = []
        threads = []
        start = now() + 0.2

        def one(i):
            try:
                res[i] = self._one()
            except Exception as e:  # noqa: BLE001
                errs.append(str(e))

        for i in range(n):
            delay = start + i * interval - now()
            if delay > 0:
                time.sleep(delay)
            th = threading.Thread(target=one, args=(i,))
            th.start()
            threads.append(th)
        for th in threads:
            th.join()
        running = len(qemu_pids(self.root, self.tmp))
        ex = qemu_exec_times(self.root)
        names = [x for x in self.names if x in self.times]
        split = exec_split([self.times[x][0] for x in names], [ex.get(x) for x in names],
                           [self.times[x][1] for x in names])
        self.teardown()
        if errs:
            raise RuntimeError("raw burst: %d failed, first: %s" % (len(errs), errs[0]))
        return res, running, split


def raw_main(args):
    raw = Raw(args.root, args.image, args.tmp)
    out = sys.stdout
    for line in sys.stdin:
        cmd = json.loads(line)
        try:
            if cmd["cmd"] == "template":
                raw.set_template(cmd)
                r = {"ok": True}
            elif cmd["cmd"] == "stages":
                r = {"stages": raw.stages}
                raw.stages = []
            elif cmd["cmd"] == "single":
                r = {"ms": raw.single()}
            elif cmd["cmd"] == "burst":
                ms, running, split = raw.burst(cmd["n"], cmd["interval"], cmd.get("nice", 0))
                r = {"ms": ms, "running": running, "split": split}
            elif cmd["cmd"] == "quit":
                break
            else:
                r = {"error": "unknown command"}
        except Exception as e:  # noqa: BLE001
            raw.teardown()
            r = {"error": str(e)}
        out.write(json.dumps(r) + "\n")
        out.flush()
    raw.teardown()
    raw.conn.close()
    return 0


class RawProc:
    def __init__(self, tmp, image):
        self.root = os.path.join(tmp, "r", "libvirt")
        os.makedirs(self.root, exist_ok=True)
        # libvirt's own warnings go to stderr: into a log, like the server's.
        self.log_path = os.path.join(tmp, "raw.log")
        with open(self.log_path, "ab") as log_f:
            self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "raw",
                                          "--root", self.root, "--image", image, "--tmp", tmp],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=log_f, text=True)
        note_pid(tmp, self.proc.pid)
        self.tmp = tmp

    def ask(self, **cmd):
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the raw libvirt process ended")
        r = json.loads(line)
        if "error" in r:
            raise RuntimeError("raw libvirt: " + r["error"])
        return r

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(json.dumps({"cmd": "quit"}) + "\n")
                self.proc.stdin.close()
                self.proc.wait(60)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        kill_pids(qemu_pids(self.root, self.tmp))


# ---- the watch process for the fake-driver run -------------------------------------
# `provision.py watch --kubeconfig K --ns NS --rv RV --count N --timeout S`:
# prints "live" once the watch answered, then "NAME T" for each VM first seen
# PoweredOn, and exits after N of them (or the time-out).


def watch_main(args):
    api = Api(args.kubeconfig)
    c = api.conn(timeout=args.timeout)
    c.request("GET", vms_path(args.ns) + "?watch=1&timeoutSeconds=%d&resourceVersion=%s"
              % (args.timeout, args.rv), headers=api.headers)
    r = c.getresponse()
    if r.status != 200:
        print("error %d" % r.status, flush=True)
        return 1
    print("live", flush=True)
    seen, placed, uids = {}, {}, {}
    events = 0
    while len(seen) < args.count:
        line = r.readline()
        t = now()
        if not line:
            break
        events += 1
        if b'"host"' not in line:
            continue
        ev = json.loads(line)
        o = ev.get("object", {})
        name = o.get("metadata", {}).get("name")
        st = o.get("status", {})
        if ev.get("type") == "DELETED" or not st.get("host"):
            continue
        placed.setdefault(name, t)
        uids[name] = o["metadata"]["uid"]
        if st.get("powerState") == "PoweredOn":
            seen.setdefault(name, t)
    for name, t in seen.items():
        print("%s %.6f %.6f %s" % (name, t, placed[name], uids[name]))
    print("events %d" % events, flush=True)
    return 0


# ---- the figures -----------------------------------------------------------------


def create_vm(api, ns, name, conn=None):
    t0 = now()
    api.call("POST", vms_path(ns), vm_body(name), conn=conn)
    return t0


def delete_all(srv, w, ns, names, timeout=300):
    pids = srv.qemu_pids()
    c = srv.api.conn()
    for n in names:
        srv.api.call("DELETE", vms_path(ns) + "/" + n, conn=c, ok=(200, 202, 404))
    c.close()
    w.wait(lambda: all(n in w.gone for n in names), timeout, "the VMs to be deleted")
    wait_gone(pids)


def fig_single(srv, raw, args):
    ns = "prov-single"
    make_namespace(srv.api, ns)
    w = Watcher(srv.api, ns)
    c = srv.api.conn()
    vm_ms, raw_ms, items = [], [], []
    for i in range(-1, args.runs):
        name = "one-%02d" % (i + 1)
        t0 = create_vm(srv.api, ns, name, conn=c)
        w.wait(lambda: name in w.on, 120, name + " to be PoweredOn")
        ms = (w.on[name] - t0) * 1000.0
        if i < 0:
            # The server's definition of the domain, for the raw runs.
            _, vm = srv.api.call("GET", vms_path(ns) + "/" + name)
            st, uid = vm["status"], vm["metadata"]["uid"]
            xml = open(os.path.join(srv.libvirt_root(), "etc", "qemu",
                                    "vmsvc-%s.xml" % uid)).read()
            seed = os.path.join(args.tmp, "seed.iso")
            shutil.copyfile(os.path.join(srv.dir, "vms", uid, "seed.iso"), seed)
            with open(os.path.join(args.tmp, "domain.xml"), "w") as f:
                f.write(xml)
            raw.ask(cmd="template", xml=xml, seed=seed, uid=uid, bios=st["biosUUID"],
                    inst=st["instanceUUID"], dir=srv.dir)
        delete_all(srv, w, ns, [name])
        time.sleep(args.settle)
        rms = raw.ask(cmd="single")["ms"]
        time.sleep(args.settle)
        if i >= 0:
            vm_ms.append(ms)
            raw_ms.append(rms)
            items.append((t0, w.placed.get(name), w.on[name], w.uid[name]))
        log("single %s: vmsvc %.0f ms, raw %.0f ms%s" % (name, ms, rms,
                                                          " (warm-up)" if i < 0 else ""))
    c.close()
    rs = raw.ask(cmd="stages")["stages"][1:]  # without the warm-up
    return vm_ms, raw_ms, breakdown(srv.log_path, items), raw_stages(rs)


def raw_stages(rs):
    if not rs:
        return "no raw stage times"
    return "raw stages over %d starts, p50/p95 ms: qemu-img overlay %.0f/%.0f; define %.0f/%.0f; " \
        "start %.0f/%.0f" % (len(rs), pct([x[0] for x in rs], 50), pct([x[0] for x in rs], 95),
                             pct([x[1] for x in rs], 50), pct([x[1] for x in rs], 95),
                             pct([x[2] for x in rs], 50), pct([x[2] for x in rs], 95))


def fig_rss(srv, args):
    ns = "prov-rss"
    make_namespace(srv.api, ns)
    w = Watcher(srv.api, ns)
    time.sleep(args.settle * 2)
    s0 = srv.status()
    names = ["rss-%03d" % i for i in range(args.rss_vms)]
    c = srv.api.conn()
    for n in names:
        create_vm(srv.api, ns, n, conn=c)
        time.sleep(0.1)
    c.close()
    w.wait(lambda: all(n in w.on for n in names), 600, "the RSS VMs to be PoweredOn")
    time.sleep(args.settle * 5)
    s1 = srv.status()
    running = len(srv.qemu_pids())
    log("rss: %d QEMU processes; server %s -> %s" % (running, s0, s1))
    delete_all(srv, w, ns, names)
    return s0, s1, running


def fig_burst(srv, raw, args):
    ns = "prov-burst"
    make_namespace(srv.api, ns)
    w = Watcher(srv.api, ns)
    n = args.burst
    names = ["b-%03d" % i for i in range(n)]
    pool = queue.Queue()
    for _ in range(min(16, n)):
        pool.put(srv.api.conn())
    t0s = [None] * n
    errs = []

    def post(i):
        c = pool.get()
        try:
            t0s[i] = create_vm(srv.api, ns, names[i], conn=c)
        except Exception as e:  # noqa: BLE001
            errs.append(str(e))
            c.close()
            c = srv.api.conn()
        pool.put(c)

    start = now() + 0.2
    threads = []
    for i in range(n):
        delay = start + i * args.interval - now()
        if delay > 0:
            time.sleep(delay)
        th = threading.Thread(target=post, args=(i,))
        th.start()
        threads.append(th)
    for th in threads:
        th.join()
    if errs:
        raise RuntimeError("creates failed: %s" % errs[0])
    w.wait(lambda: all(x in w.on for x in names), 1800, "the burst VMs to be PoweredOn")
    vm_ms = [(w.on[names[i]] - t0s[i]) * 1000.0 for i in range(n)]
    stages = breakdown(srv.log_path, [(t0s[i], w.placed.get(names[i]), w.on[names[i]],
                                       w.uid[names[i]]) for i in range(n)])
    ex = qemu_exec_times(srv.libvirt_root())
    split = exec_split(t0s, [ex.get("vmsvc-" + w.uid[x]) for x in names],
                       [w.on[x] for x in names])
    running = len(srv.qemu_pids())
    log("burst vmsvc: p50 %.0f ms, p95 %.0f ms, max %.0f ms, %d QEMU running"
        % (pct(vm_ms, 50), pct(vm_ms, 95), max(vm_ms), running))
    while not pool.empty():
        pool.get().close()
    delete_all(srv, w, ns, names, timeout=900)
    time.sleep(args.settle * 3)
    raw.ask(cmd="stages")
    r = raw.ask(cmd="burst", n=n, interval=args.interval)
    raw_ms = r["ms"]
    stages += "\n# burst: " + raw_stages(raw.ask(cmd="stages")["stages"])
    stages += "\n# burst vmsvc: " + split + "\n# burst raw: " + r["split"]
    log("burst raw: p50 %.0f ms, p95 %.0f ms, max %.0f ms, %d QEMU running"
        % (pct(raw_ms, 50), pct(raw_ms, 95), max(raw_ms), r["running"]))
    # The same raw starts with the guests put below them as the server puts
    # its own: what is left of the difference is vmsvc's path itself.
    time.sleep(args.settle * 3)
    m = re.search(r"--guest-nice[= ](\d+)", args.server_args)
    nice = int(m.group(1)) if m else GUEST_NICE_DEFAULT
    rn = raw.ask(cmd="burst", n=n, interval=args.interval, nice=nice)
    nice_ms = rn["ms"]
    stages += ("\n# burst raw, guests at nice %d as vmsvc's: p50 %.0f ms, p95 %.0f ms, max %.0f "
               "ms, %d QEMU running; vmsvc / this: p50 %.2fx, p95 %.2fx; %s" % (
                   nice, pct(nice_ms, 50), pct(nice_ms, 95), max(nice_ms), rn["running"],
                   pct(vm_ms, 50) / pct(nice_ms, 50), pct(vm_ms, 95) / pct(nice_ms, 95),
                   rn["split"]))
    log("burst raw at nice %d: p50 %.0f ms, p95 %.0f ms" % (nice, pct(nice_ms, 50),
                                                           pct(nice_ms, 95)))
    return vm_ms, raw_ms, running, r["running"], stages


async def _creator(api, ns, names, nconns):
    """Creates `names` over `nconns` keep-alive connections as fast as the
    server answers; returns {name: (t_send, t_answer, status)}."""
    out = {}
    it = iter(names)
    hdr = ("POST %s HTTP/1.1\r\nHost: %s:%d\r\nAuthorization: Bearer %s\r\n"
           "Accept: application/json\r\nContent-Type: application/json\r\n"
           "Content-Length: %%d\r\n\r\n" % (vms_path(ns), api.host, api.port, api.token))

    async def one_conn():
        r, wr = await asyncio.open_connection(api.host, api.port, ssl=api.ctx)
        for name in it:
            body = json.dumps(vm_body(name), separators=(",", ":")).encode()
            req = (hdr % len(body)).encode() + body
            t0 = now()
            wr.write(req)
            head = await r.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
            if m:
                await r.readexactly(int(m.group(1)))
            else:  # chunked
                while True:
                    size = int((await r.readline()).strip().split(b";")[0], 16)
                    await r.readexactly(size + 2)
                    if size == 0:
                        break
            out[name] = (t0, now(), status)
        wr.close()

    await asyncio.gather(*[one_conn() for _ in range(nconns)])
    return out


def fig_fake(vmsvc, image, args, conns):
    srv = Server(vmsvc, args.tmp, "f%d" % conns, ["--hypervisor", "fake", "--log-level", "debug"]
                 + args.server_args.split()).start()
    perf = None
    try:
        srv.import_image(image)
        ns = "prov-fake"
        make_namespace(srv.api, ns)
        _, lst = srv.api.call("GET", vms_path(ns))
        n = args.fake_vms
        wp = subprocess.Popen([sys.executable, os.path.abspath(__file__), "watch", "--kubeconfig",
                               os.path.join(srv.dir, "kubeconfig"), "--ns", ns, "--rv",
                               lst["metadata"]["resourceVersion"], "--count", str(n),
                               "--timeout", "600"], stdout=subprocess.PIPE, text=True)
        note_pid(args.tmp, wp.pid)
        if wp.stdout.readline().strip() != "live":
            raise RuntimeError("the watch process failed")
        names = ["f-%04d" % i for i in range(n)]
        if os.environ.get("BENCH_PERF"):
            # System-wide: the server and the processes it spawns.
            perf = subprocess.Popen(["perf", "record", "-a", "-g", "-q", "-o",
                                     os.path.join(args.tmp, "fake%d.perf.data" % conns)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            note_pid(args.tmp, perf.pid)
            time.sleep(1)
        t_start = now()
        res = asyncio.run(_creator(srv.api, ns, names, conns))
        t_end = now()
        bad = [x for x in res.values() if x[2] != 201]
        if bad or len(res) != n:
            raise RuntimeError("%d of %d creates failed (first status %s)"
                               % (n - len(res) + len(bad), n, bad[0][2] if bad else "-"))
        out, _ = wp.communicate(timeout=900)
        if perf:
            perf.send_signal(signal.SIGINT)
            perf.wait(120)
            log("perf data in %s" % os.path.join(args.tmp, "fake%d.perf.data" % conns))
        on, placed, uids, events = {}, {}, {}, 0
        for line in out.splitlines():
            f = line.split()
            if f[0] == "events":
                events = int(f[1])
            else:
                on[f[0]], placed[f[0]], uids[f[0]] = float(f[1]), float(f[2]), f[3]
        if len(on) != n:
            raise RuntimeError("only %d of %d VMs were seen PoweredOn" % (len(on), n))
        create_ms = [(res[x][1] - res[x][0]) * 1000.0 for x in names]
        on_ms = [(on[x] - res[x][0]) * 1000.0 for x in names]
        last_on = max(on.values())
        rate = n / (t_end - t_start)
        log("fake: %d creates in %.2f s (%.0f/s) over %d connections; all PoweredOn %.2f s "
            "after the first create; %d watch events" % (n, t_end - t_start, rate, conns,
                                                          last_on - t_start, events))
        hwm = srv.status()
        stages = breakdown(srv.log_path, [(res[x][0], placed.get(x), on[x], uids[x])
                                          for x in names])
        tp, to = sorted(placed.values()), sorted(on.values())
        stages += "\n# fake: placed %.0f VMs/s (%.1f ms apart), PoweredOn %.0f VMs/s, over the " \
            "middle 80%% of each" % (
                0.8 * n / (tp[int(n * 0.9) - 1] - tp[int(n * 0.1)]),
                1000 * (tp[int(n * 0.9) - 1] - tp[int(n * 0.1)]) / (0.8 * n),
                0.8 * n / (to[int(n * 0.9) - 1] - to[int(n * 0.1)]))
        return create_ms, on_ms, rate, last_on - t_start, hwm, stages
    finally:
        if perf and perf.poll() is None:
            perf.send_signal(signal.SIGINT)
            perf.wait(120)
        srv.stop()


# ---- the table -----------------------------------------------------------------------


def fmt_ms(v):
    return "%.0f ms" % v if v >= 10 else "%.1f ms" % v


def main_run(args):
    vmsvc, image, tmp = args.vmsvc, args.image, args.tmp
    rows = []
    notes = []
    failed = False
    srv = raw = None
    figures = set(args.only.split(",")) if args.only else {"single", "rss", "burst", "fake"}
    try:
        if figures & {"single", "rss", "burst"}:
            # Short directory names: libvirt's UNIX socket paths under the root
            # (e.g. lib/qemu/channel/target/domain-N-NAME/...) must fit in 108 bytes.
            srv = Server(vmsvc, tmp, "v", ["--accel", "tcg", "--log-level", "debug",
                                               "--soft-shutdown-timeout", "5"]
                         + args.server_args.split()).start()
            srv.import_image(image)
            raw = RawProc(tmp, image)
            if "single" in figures or "burst" in figures:
                vm_ms, raw_ms, stages, rstages = fig_single(srv, raw, args)
                a, b = pct(vm_ms, 50), pct(raw_ms, 50)
                rows.append(("1 VM, POST -> PoweredOn, p50 of %d" % args.runs, fmt_ms(a),
                             "<= raw + 100 ms", fmt_ms(b), "%.2fx (+%.0f ms)" % (a / b, a - b),
                             a - b <= 100))
                notes.append("1 VM: vmsvc runs (ms) %s; raw runs (ms) %s" % (
                    " ".join("%.0f" % x for x in vm_ms), " ".join("%.0f" % x for x in raw_ms)))
                notes.append("1 VM: " + stages)
                notes.append("1 VM: " + rstages)
            if "rss" in figures:
                s0, s1, running = fig_rss(srv, args)
                n = args.rss_vms
                d_rss = (s1["VmRSS"] - s0["VmRSS"]) / 1024.0 / n
                d_hwm = (s1["VmHWM"] - s0["VmHWM"]) / 1024.0 / n
                rows.append(("server VmRSS per running VM (0 -> %d)" % n, "%.2f MiB" % d_rss,
                             "< 2 MiB", "%.1f MiB at 0" % (s0["VmRSS"] / 1024.0),
                             "%.2fx" % (s1["VmRSS"] / s0["VmRSS"]), d_rss < 2))
                rows.append(("server VmHWM per running VM (0 -> %d)" % n, "%.2f MiB" % d_hwm,
                             "< 2 MiB", "%.1f MiB at 0" % (s0["VmHWM"] / 1024.0),
                             "%.2fx" % (s1["VmHWM"] / s0["VmHWM"]), d_hwm < 2))
                notes.append("RSS: %d QEMU processes running at the second reading; server "
                             "VmRSS %d -> %d KiB, VmHWM %d -> %d KiB, threads %d -> %d" % (
                                 running, s0["VmRSS"], s1["VmRSS"], s0["VmHWM"], s1["VmHWM"],
                                 s0["Threads"], s1["Threads"]))
            if "burst" in figures:
                vm_ms, raw_ms, r1, r2, stages = fig_burst(srv, raw, args)
                for p in (50, 95):
                    a, b = pct(vm_ms, p), pct(raw_ms, p)
                    rows.append(("%d VMs @%d ms, create -> PoweredOn p%d" % (
                        args.burst, args.interval * 1000, p), fmt_ms(a), "<= 1.2x raw",
                        fmt_ms(b), "%.2fx" % (a / b), a <= 1.2 * b))
                notes.append("burst: max vmsvc %.0f ms, raw %.0f ms; QEMU processes at the end: "
                             "vmsvc %d, raw %d" % (max(vm_ms), max(raw_ms), r1, r2))
                notes.append("burst: mean s by creation order, tenths: vmsvc %s; raw %s" % (
                    by_order(vm_ms), by_order(raw_ms)))
                notes.append("burst: " + stages)
            srv.stop()
            raw.close()
            srv = raw = None
        for conns in (args.conns if "fake" in figures else []):
            create_ms, on_ms, rate, all_on, st, stages = fig_fake(vmsvc, image, args, conns)
            for p, target in ((50, 50), (99, 250)):
                a, b = pct(on_ms, p), pct(create_ms, p)
                rows.append(("fake hv, %d VMs over %d conn%s: create -> PoweredOn p%d"
                             % (args.fake_vms, conns, "" if conns == 1 else "s", p),
                             fmt_ms(a), "<= %d ms" % target, fmt_ms(b) + " (create)",
                             "%.1fx" % (a / b), a <= target))
            notes.append("fake: %.0f creates/s over %d connections; last VM PoweredOn %.1f s "
                         "after the first create; create p50 %.1f ms p99 %.1f ms; PoweredOn max "
                         "%.0f ms; server VmHWM %d KiB" % (
                             rate, conns, all_on, pct(create_ms, 50), pct(create_ms, 99),
                             max(on_ms), st["VmHWM"]))
            notes.append("fake: " + stages)
            if conns > 1:
                # Little's law: with `conns` creates always outstanding, the
                # mean time in the system is at least conns / throughput,
                # whatever order the server does its work in.
                notes.append("fake: %d creates always outstanding: a mean of <= 50 ms needs "
                             ">= %.0f VMs/s through the whole pipeline (Little's law); it ran "
                             "%.0f VMs/s, first create to last PoweredOn" % (
                                 conns, conns / 0.050, args.fake_vms / all_on))
    except Exception as e:  # noqa: BLE001
        log("FAILED: %s" % e)
        if srv:
            log("server log tail:\n" + srv.log_tail())
            try:
                _, evs = srv.api.call("GET", "/api/v1/events")
                warn = [x for x in evs.get("items", []) if x.get("type") == "Warning"]
                for x in warn[-5:]:
                    log("Warning event %s %s: %s" % (x.get("involvedObject", {}).get("name"),
                                                     x.get("reason"), x.get("message")))
            except Exception:  # noqa: BLE001
                pass
        failed = True
    finally:
        if srv:
            srv.stop()
        if raw:
            raw.close()

    la = open("/proc/loadavg").read().split()[:3]
    print("# bench/provision: %d cores, load average %s; TCG; tiny guest, 1 vCPU, 128 MiB"
          % (os.cpu_count(), " ".join(la)))
    head = ("figure", "value", "target", "baseline", "ratio", "")
    table = [head] + [r[:5] + ("ok" if r[5] else "MISSED",) for r in rows]
    widths = [max(len(str(r[i])) for r in table) for i in range(len(head))]
    for r in table:
        print("  ".join(str(c).ljust(widths[i]) for i, c in enumerate(r)).rstrip())
    for n in notes:
        print("# " + n)
    sys.stdout.flush()
    return 1 if failed else 0


def conns_list(text):
    """--conns: positive numbers separated by commas, each once (a run's
    server directory is named after its number)."""
    try:
        out = [int(x) for x in text.split(",")]
    except ValueError:
        out = []
    if not out or min(out) < 1:
        raise argparse.ArgumentTypeError("want positive numbers separated by commas, not %r"
                                         % text)
    return list(dict.fromkeys(out))


def main():
    p = argparse.ArgumentParser(prog="bench/provision")
    sub = p.add_subparsers(dest="mode")
    r = sub.add_parser("run")
    r.add_argument("--vmsvc", required=True)
    r.add_argument("--image", required=True)
    r.add_argument("--tmp", required=True)
    r.add_argument("--runs", type=int, default=10, help="figure 1 runs (default 10)")
    r.add_argument("--burst", type=int, default=100, help="figure 2 VMs (default 100)")
    r.add_argument("--interval", type=float, default=0.1,
                   help="figure 2 seconds between creates (default 0.1)")
    r.add_argument("--rss-vms", type=int, default=20, help="figure 4 VMs (default 20)")
    r.add_argument("--fake-vms", type=int, default=1000, help="figure 3 VMs (default 1000)")
    r.add_argument("--conns", type=conns_list, default="1,64",
                   help="figure 3: comma-separated numbers of concurrent connections, one "
                        "run (and server) each (default 1,64)")
    r.add_argument("--settle", type=float, default=1.0,
                   help="seconds of quiet between steps (default 1)")
    r.add_argument("--only", help="comma-separated subset of single,rss,burst,fake")
    r.add_argument("--server-args", default="",
                   help="more `vmsvc server` flags for both servers, e.g. '--agent-workers 32' "
                        "(for experiments; the standard run has none)")
    w = sub.add_parser("watch")
    w.add_argument("--kubeconfig", required=True)
    w.add_argument("--ns", required=True)
    w.add_argument("--rv", required=True)
    w.add_argument("--count", type=int, required=True)
    w.add_argument("--timeout", type=int, default=600)
    x = sub.add_parser("raw")
    x.add_argument("--root", required=True)
    x.add_argument("--image", required=True)
    x.add_argument("--tmp", required=True)
    args = p.parse_args()
    if args.mode == "run":
        return main_run(args)
    if args.mode == "watch":
        return watch_main(args)
    if args.mode == "raw":
        return raw_main(args)
    p.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
