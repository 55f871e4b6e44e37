"""A real Debian 12 guest (tests/guest/build-debian) bootstrapped by cloud-init
from the documentation's cloud-init example, then shut down cleanly.

The server runs in a network namespace of the test's own, as in
tests/e2e/test_vm.py.  What cloud-init did is read from the guest's serial
log: the image's vmsvc-check.service prints "VMSVC-CHECK ..." lines there
after cloud-final.service (see tests/guest/README.md, "debian").  Slow: the
guest boots systemd and runs cloud-init's Python under TCG."""
import hashlib
import os
import re
import shutil
import subprocess
import time

import pytest
import yaml

from vmsvc_e2e import CONFORMANCE, ROOT, VMSVC, isolated_server

GUEST_DIR = os.path.join(ROOT, "build", "guest")
NS = "my-namespace"
IMAGE = "vmi-0a0044d7c690bcbea"  # the name the documentation's manifest uses
BOOT_TIMEOUT = int(os.environ.get("VMSVC_SLOW_BOOT_TIMEOUT", "1200"))
SHUTDOWN_TIMEOUT = 300


def wait_for(fn, timeout, interval=1.0, what="condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %ss waiting for %s (last: %r)" % (timeout, what, last))


def sha256(s):
    return hashlib.sha256(s.encode() if isinstance(s, str) else s).hexdigest()


def doc(name):
    with open(os.path.join(CONFORMANCE, name)) as f:
        return [d for d in yaml.safe_load_all(f) if d]


@pytest.fixture(scope="module")
def debian_image(timings):
    if not os.path.exists("/usr/bin/qemu-system-x86_64"):
        pytest.skip("qemu-system-x86_64 is not installed")
    img = os.environ.get("VMSVC_DEBIAN_IMAGE") or os.path.join(GUEST_DIR, "debian.qcow2")
    if not os.environ.get("VMSVC_DEBIAN_IMAGE"):
        t0 = time.time()
        p = subprocess.run([os.path.join(ROOT, "tests", "guest", "build-debian"), GUEST_DIR],
                           capture_output=True, text=True)
        assert p.returncode == 0, "build-debian failed:\n" + p.stdout + p.stderr
        timings.append(("build-debian (in the test)", time.time() - t0))
    return img


@pytest.fixture(scope="module")
def host(debian_image, timings):
    with isolated_server("vmsvc-slow", ["--accel", "tcg", "--soft-shutdown-timeout",
                                        str(SHUTDOWN_TIMEOUT), "--allocatable", "cpu=2,memory=2Gi"]) as s:
        t0 = time.time()
        # Into the ClusterContentLibrary "local", through the API (which
        # listens in the namespace); it returns once the image is in the
        # catalog.  The manifest names it by its display name.
        p = subprocess.run(s.prefix() + [VMSVC, "image", "import", debian_image, "--name", IMAGE,
                                         "--data-dir", s.data_dir], capture_output=True, text=True)
        assert p.returncode == 0, "image import failed:\n" + p.stdout + p.stderr
        timings.append(("image import + publish", time.time() - t0))
        yield s
    # The server has stopped; a failed setup keeps its data for a look.
    if not os.environ.get("VMSVC_KEEP_DATA"):
        shutil.rmtree(s.data_dir, ignore_errors=True)


def vm(host, name):
    return host.kubectl_json("get", "vm", name, "-n", NS)


def serial(host, v):
    p = os.path.join(host.data_dir, "vms", v["metadata"]["uid"], "serial.log")
    try:
        with open(p, errors="replace") as f:
            return f.read().replace("\r", "")
    except OSError:
        return ""


def checks(text):
    """The guest's VMSVC-CHECK lines, without the prefix."""
    return [l.split("VMSVC-CHECK ", 1)[1].strip() for l in text.splitlines() if "VMSVC-CHECK " in l]


def events(host, name):
    out = host.kubectl_json("get", "events", "-n", NS, "--field-selector", "involvedObject.name=" + name)
    return [(e["reason"], e["message"]) for e in out["items"]]


def test_docs_cloud_init_example_on_debian(host, timings):
    if not os.path.exists(os.path.join(CONFORMANCE, "concepts_workloads_guest-03.yaml")):
        pytest.skip("the documentation's manifests are not here (set VMSVC_CONFORMANCE)")
    vm_doc, = doc("concepts_workloads_guest-03.yaml")
    secret, = doc("concepts_workloads_guest-04.yaml")
    name = vm_doc["metadata"]["name"]
    cc = vm_doc["spec"]["bootstrap"]["cloudInit"]["cloudConfig"]
    user = cc["users"][0]

    # What the manifests name, then the documentation's Secret and VM, unchanged.
    host.kubectl("apply", "-f", "-", input=yaml.safe_dump_all([
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}},
        {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
         "metadata": {"name": vm_doc["spec"]["storageClass"]}, "provisioner": "vmsvc.dev/local"},
        {"apiVersion": "vmoperator.vmware.com/v1alpha2", "kind": "VirtualMachineClass",
         "metadata": {"name": vm_doc["spec"]["className"], "namespace": NS},
         "spec": {"hardware": {"cpus": 1, "memory": "1Gi"}}}]))
    assert vm_doc["spec"]["imageName"] == IMAGE
    host.kubectl("apply", "-f", os.path.join(CONFORMANCE, "concepts_workloads_guest-04.yaml"))
    t0 = time.time()
    host.kubectl("apply", "-f", os.path.join(CONFORMANCE, "concepts_workloads_guest-03.yaml"))

    v = wait_for(lambda: (lambda x: x if x.get("status", {}).get("powerState") == "PoweredOn" else None)(
        vm(host, name)), timeout=180, what="PoweredOn")
    timings.append(("apply -> PoweredOn", time.time() - t0))

    def done():
        c = checks(serial(host, v))
        return c if "end" in c else None
    try:
        c = wait_for(done, timeout=BOOT_TIMEOUT, interval=2, what="VMSVC-CHECK end on the serial console")
    except AssertionError as e:
        raise AssertionError("%s\nserial log tail:\n%s" % (e, serial(host, v)[-6000:]))
    timings.append(("apply -> cloud-init checked (guest boot)", time.time() - t0))
    log = serial(host, v)
    why = "\n".join(c) + "\n--- serial log tail:\n" + log[-3000:]

    # cloud-init ran from the seed, every stage, without errors.
    assert "cloud-init status: done" in c, why
    assert "cloud-init errors: 0" in c, why
    assert any(l.startswith("cloud-init datasource: DataSourceNoCloud") for l in c), why
    assert "instance-id " + v["status"]["biosUUID"] in c, why
    assert "hostname " + name in c, why

    # users: jdoe, primary group jdoe, also in users; the password and the key
    # the guest has are the ones the Secret and the manifest carry.
    u = user["name"]
    line = [l for l in c if l.startswith("user %s uid=" % u)]
    assert line, why
    groups = re.search(r"groups=(\S+)", line[0]).group(1).split(",")
    assert groups[0] == user["primary_group"] and user["groups"] in groups, line
    pw = secret["stringData"][user["passwd"]["key"]]
    assert any(l.startswith("user %s password-sha256=%s " % (u, sha256(pw))) for l in c), why
    for key in user["ssh_authorized_keys"]:
        assert "user %s ssh-key-sha256=%s" % (u, sha256(key)) in c, why

    # write_files: plain content and content from the Secret, mode and owner.
    for wf in cc["write_files"]:
        content = wf["content"]
        if isinstance(content, dict):
            content = secret["stringData"][content["key"]]
        want = "file %s sha256=%s size=%d mode=%s owner=%s" % (
            wf["path"], sha256(content), len(content.encode()), wf["permissions"], wf["owner"])
        assert want in c, "%s\nnot in:\n%s" % (want, why)

    # runcmd: both commands ran; their output is what `ls /` and `ls -a -l /` print.
    assert "runcmd commands=%d script=present ran=yes" % len(cc["runcmd"]) in c, why
    out = [l.split(" ", 1)[1] if " " in l else "" for l in c if l.startswith("runcmd-output")]
    assert "etc" in out, why                                           # ls /
    assert any(re.match(r"^d\S+\s+\d+\s+root\s+root\s.*\s\.\.$", l) for l in out), why  # ls -a -l /

    # The network: the guest has the address the VM's NetworkInterface
    # holds, from the network-config cloud-init rendered for networkd.
    ip4 = v["status"].get("network", {}).get("primaryIP4")
    assert ip4, v["status"]
    nif = host.kubectl_json("get", "networkinterfaces", "-n", NS)["items"]
    cfg = [c for n in nif for c in n.get("status", {}).get("ipConfigs", []) if c.get("ip") == ip4]
    assert cfg, nif
    prefix = sum(bin(int(x)).count("1") for x in cfg[0]["subnetMask"].split("."))  # 255.255.0.0
    addrs = [l for l in c if l.startswith("addr ")]
    assert any(l.endswith(" %s/%d" % (ip4, prefix)) for l in addrs), (ip4, prefix, addrs, why)

    # The guest's own view, from its qemu-guest-agent: status.network shows
    # the interface's IPv6 link-local address, which no allocation has,
    # beside the allocated IPv4 address the guest really holds.
    mac = [n for n in nif if any(x.get("ip") == ip4 for x in n["status"].get("ipConfigs", []))][0][
        "status"]["macAddress"]

    def guest_view():
        st = vm(host, name).get("status", {}).get("network", {})
        ifs = st.get("interfaces") or [{}]
        ll = [a for a in ifs[0].get("ip", {}).get("addresses", [])
              if a["address"].startswith("fe80:") and a.get("origin") == "linklayer"]
        return st if ll else None
    t1 = time.time()
    try:
        st = wait_for(guest_view, timeout=180, interval=2, what="the guest agent's addresses")
    except AssertionError as e:
        raise AssertionError("%s\nstatus: %s\nserver log tail:\n%s" % (
            e, vm(host, name).get("status"), host.log()[-4000:]))
    timings.append(("cloud-init checked -> guest agent's addresses", time.time() - t1))
    eth0 = st["interfaces"][0]
    assert eth0["ip"]["macAddr"] == mac, st
    assert {"address": "%s/%d" % (ip4, prefix), "origin": "manual"} in eth0["ip"]["addresses"], st
    assert any(l.startswith("addr ") and " mac=%s " % mac in l for l in c), (mac, addrs)
    assert st["primaryIP4"] == ip4 and "primaryIP6" not in st, st

    # A soft power-off: the ACPI power button, systemd shuts down cleanly.
    uid = v["metadata"]["uid"]
    pidfile = os.path.join(host.data_dir, "libvirt", "run", "qemu", v["status"]["uniqueID"] + ".pid")
    pid = int(open(pidfile).read())
    t1 = time.time()
    host.kubectl("patch", "vm", name, "-n", NS, "--type=merge", "-p",
                 '{"spec":{"powerOffMode":"TrySoft","powerState":"PoweredOff"}}')
    wait_for(lambda: (lambda x: x if x.get("status", {}).get("powerState") == "PoweredOff" else None)(
        vm(host, name)), timeout=SHUTDOWN_TIMEOUT + 60, what="PoweredOff")
    timings.append(("PoweredOff asked -> PoweredOff", time.time() - t1))
    wait_for(lambda: not os.path.exists("/proc/%d" % pid), timeout=30, what="QEMU to end")
    log = serial(host, {"metadata": {"uid": uid}})
    tail = log[-4000:]
    assert "Power-Off" in log or "Power Off" in log, tail   # systemd: Reached target System Power Off
    assert "systemd-shutdown" in log and "Powering off" in log, tail
    assert "reboot: Power down" in log, tail                # the kernel, last
    # Asked once, and no hard power-off after the soft-shutdown time.
    ev = events(host, name)
    assert "ShutdownRequested" in [r for r, _ in ev], ev
    assert not any("(hard)" in m for _, m in ev), ev
    assert time.time() - t1 < SHUTDOWN_TIMEOUT, "the guest took the whole soft-shutdown time"
