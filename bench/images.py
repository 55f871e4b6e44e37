"""bench/images.py: what bench/images runs (see that script for the figures).

Talks to the server's API directly (urllib, bearer token, its CA) so that
polling costs milliseconds; runs in the network namespace bench/images made."""
import argparse
import json
import os
import signal
import ssl
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid

API = "imageregistry.vmware.com/v1alpha1"


def log(*a):
    print("bench/images:", *a, file=sys.stderr, flush=True)


class Server:
    def __init__(self, vmsvc, data_dir):
        self.data_dir = data_dir
        logf = open(os.path.join(data_dir, "server.log"), "ab")
        self.proc = subprocess.Popen([vmsvc, "server", "--data-dir", data_dir, "--listen", "127.0.0.1:0",
                                      "--accel", "tcg"], stdout=logf, stderr=subprocess.STDOUT)
        kc = os.path.join(data_dir, "kubeconfig")
        deadline = time.time() + 30
        while not os.path.exists(kc):
            if self.proc.poll() is not None or time.time() > deadline:
                raise SystemExit("bench/images: the server did not start")
            time.sleep(0.05)
        for line in open(kc):
            if line.strip().startswith("server:"):
                self.url = line.split("server:", 1)[1].strip()
            if line.strip().startswith("token:"):
                self.token = line.split("token:", 1)[1].strip()
        self.ctx = ssl.create_default_context(cafile=os.path.join(data_dir, "pki", "ca.crt"))

    def call(self, method, path, body=None):
        req = urllib.request.Request(self.url + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": "Bearer " + self.token,
                                              "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=60) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            raise RuntimeError("%s %s: %s" % (method, path, e.read()[:500])) from None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def qemu_pids(self):
        run = os.path.join(self.data_dir, "libvirt", "run", "qemu")
        out = []
        for f in os.listdir(run) if os.path.isdir(run) else []:
            if f.endswith(".pid"):
                try:
                    pid = int(open(os.path.join(run, f)).read().strip())
                    if b"qemu" in open("/proc/%d/cmdline" % pid, "rb").read():
                        out.append(pid)
                except (OSError, ValueError):
                    pass
        return out


def cond(obj, t):
    for c in (obj or {}).get("status", {}).get("conditions", []):
        if c["type"] == t:
            return c
    return None


def sync():
    os.sync()
    # Cold caches would measure the disk, not the import: both sides read a
    # warm file (it was just written or read).


def import_file(s, ns, path, item):
    """Seconds from the request's creation to Complete."""
    body = {"apiVersion": API, "kind": "ContentLibraryItemImportRequest",
            "metadata": {"name": "imp-" + uuid.uuid4().hex[:8]},
            "spec": {"source": {"url": "file://" + path},
                     "target": {"library": {"apiVersion": API, "kind": "ContentLibrary", "name": "lib"},
                                "item": {"name": item}}}}
    base = "/apis/imageregistry.vmware.com/v1alpha1/namespaces/%s/contentlibraryitemimportrequests" % ns
    t0 = time.monotonic()
    r = s.call("POST", base, body)
    name = r["metadata"]["name"]
    while True:
        r = s.call("GET", base + "/" + name)
        c = cond(r, "Complete")
        if c and c["status"] == "True":
            return time.monotonic() - t0, r["status"]["itemRef"]["name"]
        if r.get("status", {}).get("completionTime"):
            raise RuntimeError("import of %s failed: %s" % (path, c))
        time.sleep(0.02)


def delete_item(s, ns, item):
    s.call("DELETE", "/apis/imageregistry.vmware.com/v1alpha1/namespaces/%s/contentlibraryitems/%s" % (ns, item))
    while s.call("GET", "/apis/imageregistry.vmware.com/v1alpha1/namespaces/%s/contentlibraryitems/%s" % (ns, item)):
        time.sleep(0.05)


def qemu_img_convert(src, fmt, dst):
    """Seconds of `qemu-img convert`, and of it followed by an fsync of the
    result: an import makes its files durable before the item is Ready."""
    t0 = time.monotonic()
    subprocess.run(["qemu-img", "convert", "-f", fmt, "-O", "qcow2", src, dst], check=True)
    t1 = time.monotonic()
    fd = os.open(dst, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
    return t1 - t0, time.monotonic() - t0


def provision(s, ns, image, name):
    """Seconds from the VM's creation to status.powerState PoweredOn."""
    base = "/apis/vmoperator.vmware.com/v1alpha2/namespaces/%s/virtualmachines" % ns
    body = {"apiVersion": "vmoperator.vmware.com/v1alpha2", "kind": "VirtualMachine",
            "metadata": {"name": name},
            "spec": {"className": "bench", "imageName": image, "storageClass": "default",
                     "powerState": "PoweredOn"}}
    t0 = time.monotonic()
    s.call("POST", base, body)
    while True:
        v = s.call("GET", base + "/" + name)
        if v.get("status", {}).get("powerState") == "PoweredOn":
            dt = time.monotonic() - t0
            break
        if time.monotonic() - t0 > 300:
            raise RuntimeError("VM %s did not power on: %s" % (name, v.get("status")))
        time.sleep(0.01)
    s.call("DELETE", base + "/" + name)
    while s.call("GET", base + "/" + name):
        time.sleep(0.05)
    return dt


def main():
    ap = argparse.ArgumentParser(prog="bench/images")
    ap.add_argument("--vmsvc", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--size-mib", type=int, default=1024, help="the throughput file (default 1024)")
    ap.add_argument("--runs", type=int, default=5, help="runs of each measure (default 5)")
    ap.add_argument("--tiny", required=True, help="the tiny guest's raw image")
    a = ap.parse_args()

    d = a.dir
    data = os.path.join(d, "data")
    os.makedirs(data)
    files = os.path.join(d, "files")
    os.makedirs(files)

    # The throughput file: the tiny guest's disk, then incompressible data
    # (qemu-img skips zeroes, so zeroes would measure nothing).
    raw = os.path.join(files, "data.raw")
    log("making a %d MiB raw image" % a.size_mib)
    with open(a.tiny, "rb") as f:
        head = f.read()
    with open(raw, "wb") as f:
        f.write(head)
        left = (a.size_mib << 20) - len(head)
        while left > 0:
            n = min(left, 16 << 20)
            f.write(os.urandom(n))
            left -= n
    qcow = os.path.join(files, "data.qcow2")
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, qcow], check=True)

    # Provisioning images: the tiny guest grown (sparse) to 100 MiB and 10 GiB.
    sized = {}
    for label, size in (("100MiB", 100 << 20), ("10GiB", 10 << 30)):
        p = os.path.join(files, "tiny-%s.raw" % label)
        with open(p, "wb") as f:
            f.write(head)
            f.truncate(size)
        sized[label] = p

    s = Server(a.vmsvc, data)
    rows = []
    try:
        ns = "bench"
        s.call("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
        s.call("POST", "/apis/vmoperator.vmware.com/v1alpha2/namespaces/%s/virtualmachineclasses" % ns,
               {"apiVersion": "vmoperator.vmware.com/v1alpha2", "kind": "VirtualMachineClass",
                "metadata": {"name": "bench"}, "spec": {"hardware": {"cpus": 1, "memory": "128Mi"}}})
        s.call("POST", "/apis/imageregistry.vmware.com/v1alpha1/namespaces/%s/contentlibraries" % ns,
               {"apiVersion": API, "kind": "ContentLibrary", "metadata": {"name": "lib"},
                "spec": {"writable": True, "allowImport": True}})
        while (cond(s.call("GET", "/apis/imageregistry.vmware.com/v1alpha1/namespaces/%s/contentlibraries/lib" % ns),
                    "Ready") or {}).get("status") != "True":
            time.sleep(0.05)

        # 1. Import throughput against qemu-img convert, alternating.
        for fmt, src in (("raw", raw), ("qcow2", qcow)):
            size = os.path.getsize(src)
            base_t, durable_t, imp_t = [], [], []
            for i in range(a.runs):
                out = os.path.join(files, "baseline.qcow2")
                sync()
                b, bd = qemu_img_convert(src, fmt, out)
                base_t.append(b)
                durable_t.append(bd)
                os.unlink(out)
                sync()
                t, item = import_file(s, ns, src, "tp-%s-%d" % (fmt, i))
                imp_t.append(t)
                delete_item(s, ns, item)
                log("%s run %d: qemu-img %.2f s (+fsync %.2f s), import %.2f s" % (
                    fmt, i + 1, b, bd, t))
            m = statistics.median(imp_t)
            label = "import %s %d MiB (file://)" % (fmt, size >> 20)
            mine = "%.0f MiB/s (%.2f s)" % (size / m / (1 << 20), m)
            for what, ts in (("qemu-img convert", base_t), ("qemu-img convert + fsync", durable_t)):
                b = statistics.median(ts)
                ratio = b / m
                rows.append((label, mine, "%s %.0f MiB/s (%.2f s)" % (what, size / b / (1 << 20), b),
                             "%.2fx" % ratio, ">= 0.9x", "ok" if ratio >= 0.9 else "MISSED"))
                label = mine = ""

        # 2. Provisioning time against the image's size.
        imgs = {}
        for label, p in sized.items():
            t, item = import_file(s, ns, p, "tiny-" + label)
            imgs[label] = "tiny-" + label
            log("imported the %s image in %.2f s" % (label, t))
        times = {label: [] for label in sized}
        provision(s, ns, imgs["100MiB"], "warm-up")
        for i in range(a.runs):
            for label in sized:
                dt = provision(s, ns, imgs[label], "p-%s-%d" % (label.lower(), i))
                times[label].append(dt)
                log("provision from %s: %.3f s" % (label, dt))
        small, big = statistics.median(times["100MiB"]), statistics.median(times["10GiB"])
        rows.append(("provision from 100 MiB image", "%.3f s" % small, "p50 of %d" % a.runs, "", "", ""))
        ratio = big / small
        rows.append(("provision from 10 GiB image", "%.3f s" % big, "p50 of %d" % a.runs,
                     "%.2fx of 100 MiB" % ratio, "<= 1.2x", "ok" if ratio <= 1.2 else "MISSED"))
    finally:
        s.stop()
        for pid in s.qemu_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    print("# bench/images  %s  load average %s" % (time.strftime("%Y-%m-%d %H:%M"),
                                                   open("/proc/loadavg").read().split()[0]))
    hdr = ("measure", "vmsvc", "baseline", "ratio", "target", "")
    w = [max(len(str(r[i])) for r in rows + [hdr]) for i in range(len(hdr))]
    for r in [hdr] + rows:
        print("  ".join(str(c).ljust(w[i]) for i, c in enumerate(r)).rstrip())


if __name__ == "__main__":
    main()
