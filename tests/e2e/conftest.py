"""Fixtures for the end-to-end tests: a real `vmsvc server` on a free port in a
temporary data directory, kubectl pointed at it, and the Python Kubernetes
client configured from the same kubeconfig."""
import contextlib
import glob
import json
import os
import signal
import subprocess
import tempfile
import time
import uuid

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VMSVC = os.environ.get("VMSVC_BIN", os.path.join(ROOT, "build", "vmsvc"))
# The documentation's manifests: VMSVC_CONFORMANCE, else the shared folder
# beside this checkout, else the workplace's.
CONFORMANCE = next((d for d in [os.environ.get("VMSVC_CONFORMANCE", ""),
                                os.path.join(os.path.dirname(ROOT), "shared", "conformance",
                                             "vm-operator-docs"),
                                "/work/shared/conformance/vm-operator-docs"]
                    if d and os.path.isdir(d)), "")


class Server:
    """One server process and its data directory."""

    def __init__(self, data_dir, extra_args=(), netns=None, server_env=None):
        self.netns = netns
        self.server_env = dict(server_env or {})  # added to the server's environment
        self.data_dir = data_dir
        self.kubeconfig = os.path.join(data_dir, "kubeconfig")
        self.log_path = os.path.join(data_dir, "server.log")
        self.extra_args = list(extra_args)
        self.proc = None
        self.port = 0

    def start(self, timeout=20):
        os.makedirs(self.data_dir, exist_ok=True)
        if os.path.exists(self.kubeconfig):
            os.unlink(self.kubeconfig)
        log = open(self.log_path, "ab")
        listen = "127.0.0.1:%d" % self.port
        self.proc = subprocess.Popen(
            self.prefix() + [VMSVC, "server", "--data-dir", self.data_dir, "--listen", listen]
            + self.extra_args, stdout=log, stderr=subprocess.STDOUT,
            env=dict(os.environ, **self.server_env))
        log.close()
        deadline = time.time() + timeout
        while not os.path.exists(self.kubeconfig):
            if self.proc.poll() is not None:
                raise RuntimeError("server exited with %d:\n%s" % (self.proc.returncode, self.log()))
            if time.time() > deadline:
                raise RuntimeError("server did not start:\n" + self.log())
            time.sleep(0.02)
        with open(self.kubeconfig) as f:
            for line in f:
                if line.strip().startswith("server:"):
                    self.url = line.split("server:", 1)[1].strip()
                if line.strip().startswith("token:"):
                    self.token = line.split("token:", 1)[1].strip()
        # Keep the port across restarts, so the kubeconfig stays valid.
        self.port = int(self.url.rsplit(":", 1)[1])
        self.ca = os.path.join(self.data_dir, "pki", "ca.crt")
        return self

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            self.proc = None
            raise AssertionError("server did not stop on %s:\n%s" % (sig, self.log()[-4000:]))
        self.proc = None
        return rc

    def kill9(self):
        return self.stop(signal.SIGKILL)

    def restart(self):
        self.stop()
        return self.start()

    @property
    def pid(self):
        return self.proc.pid

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def env(self):
        env = dict(os.environ)
        env["KUBECONFIG"] = self.kubeconfig
        env.pop("HTTPS_PROXY", None)
        env.pop("https_proxy", None)
        return env

    def prefix(self):
        """Commands that reach the server run in its network namespace."""
        return ["ip", "netns", "exec", self.netns] if self.netns else []

    def qemu_pids(self):
        """QEMU processes of this server's domains, from libvirt's pid files."""
        pids = []
        run = os.path.join(self.data_dir, "libvirt", "run", "qemu")
        for f in glob.glob(os.path.join(run, "*.pid")):
            try:
                pid = int(open(f).read().strip())
                # A stale pid file's pid may belong to another process by
                # now, even another test's QEMU: this server's QEMU names
                # files under its libvirt root on its command line.
                with open("/proc/%d/cmdline" % pid, "rb") as c:
                    cmd = c.read()
                if b"qemu" in cmd and os.path.join(self.data_dir, "libvirt").encode() in cmd:
                    pids.append(pid)
            except (OSError, ValueError):
                pass
        return pids

    def kill_guests(self):
        for pid in self.qemu_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass

    def kubectl(self, *args, input=None, check=True, timeout=60, env=None):
        e = self.env()
        if env:
            e.update(env)
        p = subprocess.run(self.prefix() + ["kubectl"] + [str(a) for a in args], input=input, env=e,
                           capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError("kubectl %s failed (%d):\n%s%s" % (
                " ".join(map(str, args)), p.returncode, p.stdout, p.stderr))
        return p

    def kubectl_json(self, *args, **kw):
        return json.loads(self.kubectl(*args, "-o", "json", **kw).stdout)


@contextlib.contextmanager
def isolated_server(prefix, extra_args=()):
    """A started server with a data directory of its own, inside a network
    namespace of its own with only loopback up: every address a VM gets
    lives there.  On exit the server stops, its guests are killed by pid
    and the namespace goes."""
    netns = "%s-%s" % (prefix, uuid.uuid4().hex[:8])
    subprocess.run(["ip", "netns", "add", netns], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", netns, "ip", "link", "set", "lo", "up"], check=True)
        s = Server(tempfile.mkdtemp(prefix=prefix + "-"), netns=netns, extra_args=extra_args)
        try:
            s.start()
            yield s
        finally:
            try:
                s.stop()
            finally:
                s.kill_guests()
    finally:
        subprocess.run(["ip", "netns", "del", netns], check=False)


def _sanitizer_errors(text):
    return [l for l in text.splitlines()
            if "ERROR: AddressSanitizer" in l or "runtime error:" in l or "LeakSanitizer" in l]


# The API tests run outside any network namespace, so their servers use the
# fake hypervisor: no guest, bridge or packet rule is ever made on the host.
API_ARGS = ["--hypervisor", "fake"]


@pytest.fixture(scope="session")
def server():
    d = tempfile.mkdtemp(prefix="vmsvc-e2e-")
    s = Server(d, extra_args=API_ARGS).start()
    yield s
    rc = s.stop()
    errs = _sanitizer_errors(s.log())
    assert not errs, "sanitizer reports:\n" + "\n".join(errs)
    assert rc == 0, "server exited with %s on SIGTERM:\n%s" % (rc, s.log()[-4000:])


@pytest.fixture
def fresh_server():
    """A server of its own, for tests that restart or kill it."""
    d = tempfile.mkdtemp(prefix="vmsvc-e2e-")
    s = Server(d, extra_args=API_ARGS)
    yield s
    if s.proc is not None:
        s.stop()


@pytest.fixture
def ns(server):
    """A namespace of the test's own, deleted afterwards."""
    name = "t-" + uuid.uuid4().hex[:10]
    server.kubectl("apply", "-f", "-", input="apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n" % name)
    yield name
    server.kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(scope="session")
def api(server):
    """The Python Kubernetes client (Debian's python3-kubernetes)."""
    from kubernetes import client, config
    cfg = client.Configuration()
    config.load_kube_config(config_file=server.kubeconfig, client_configuration=cfg)
    return client.ApiClient(cfg)
