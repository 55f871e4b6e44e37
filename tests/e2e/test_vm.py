"""Real VMs: kubectl apply makes a QEMU guest through libvirt's embedded
driver (TCG), bootstrapped from a cidata seed; power, restart, suspend,
reservations, bad references, deletion and crash recovery.

The server runs in a network namespace of the test's own, so whatever the
guests configure stays inside it."""
import glob
import json
import os
import re
import stat
import subprocess
import tempfile
import time
import uuid

import pytest
import yaml

from conftest import CONFORMANCE, ROOT, VMSVC, isolated_server

GUEST_DIR = os.path.join(ROOT, "build", "guest")


def import_image(server, path, name, *args):
    """`vmsvc image import` into the server's ClusterContentLibrary "local":
    it returns once the image is in the catalog.  Returns the image's name."""
    p = subprocess.run(server.prefix() + [VMSVC, "image", "import", path, "--name", name,
                                          "--data-dir", server.data_dir] + list(args),
                       capture_output=True, text=True)
    assert p.returncode == 0, "image import failed:\n%s%s" % (p.stdout, p.stderr)
    return p.stdout.strip()


def wait_for(fn, timeout=60, interval=0.2, what="condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %ss waiting for %s (last: %r)" % (timeout, what, last))


@pytest.fixture(scope="module")
def tiny_image():
    if not os.path.exists("/usr/bin/qemu-system-x86_64"):
        pytest.skip("qemu-system-x86_64 is not installed")
    subprocess.run([os.path.join(ROOT, "tests", "guest", "build-tiny"), GUEST_DIR], check=True,
                   capture_output=True)
    return os.path.join(GUEST_DIR, "tiny.img")


@pytest.fixture(scope="module")
def host(tiny_image):
    with isolated_server("vmsvc-e2e", ["--accel", "tcg", "--soft-shutdown-timeout", "5",
                                       "--allocatable", "cpu=2,memory=1Gi"]) as s:
        s.images = {name: import_image(s, tiny_image, name) for name in ["tiny", "vmi-0a0044d7c690bcbea"]}
        yield s


@pytest.fixture
def vns(host):
    name = "vm-" + uuid.uuid4().hex[:8]
    host.kubectl("apply", "-f", "-", input=yaml.safe_dump({
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
    host.kubectl("apply", "-n", name, "-f", "-", input=yaml.safe_dump({
        "apiVersion": "vmoperator.vmware.com/v1alpha2", "kind": "VirtualMachineClass",
        "metadata": {"name": "small"}, "spec": {"hardware": {"cpus": 1, "memory": "256Mi"}}}))
    yield name
    host.kubectl("delete", "namespace", name, "--wait=false", check=False)


def make_vm(host, ns, name, **spec):
    s = {"className": "small", "imageName": "tiny", "storageClass": "default",
         "powerState": "PoweredOn"}
    s.update(spec)
    host.kubectl("apply", "-n", ns, "-f", "-", input=yaml.safe_dump({
        "apiVersion": "vmoperator.vmware.com/v1alpha2", "kind": "VirtualMachine",
        "metadata": {"name": name}, "spec": s}))


def vm(host, ns, name):
    return host.kubectl_json("get", "vm", name, "-n", ns)


def diagnose(host, ns=None, name=None):
    """What a failed wait prints: the VM's status, the server's last log
    lines and the host's free disk and memory."""
    out = []
    if name:
        r = host.kubectl("get", "vm", name, "-n", ns, "-o", "json", check=False)
        if r.returncode == 0:
            out.append("status: " + json.dumps(json.loads(r.stdout).get("status", {}), indent=1))
        r = host.kubectl("get", "events", "-n", ns, "--field-selector",
                         "involvedObject.name=" + name, check=False)
        out.append("events:\n" + r.stdout)
    out.append("server log tail:\n" + "\n".join(host.log().splitlines()[-40:]))
    st = os.statvfs(host.data_dir)
    out.append("free disk: %d MiB" % (st.f_bavail * st.f_frsize >> 20))
    with open("/proc/meminfo") as f:
        out.append(" ".join(l.strip() for l in f.readlines()[:3]))
    out.append("load: " + open("/proc/loadavg").read().strip())
    return "\n".join(out)


def wait_power(host, ns, name, state, timeout=90):
    try:
        return wait_for(lambda: (lambda v: v if v.get("status", {}).get("powerState") == state else None)(
            vm(host, ns, name)), timeout=timeout, what="%s/%s to be %s" % (ns, name, state))
    except AssertionError as e:
        raise AssertionError("%s\n%s" % (e, diagnose(host, ns, name))) from None


def serial(host, v):
    p = os.path.join(host.data_dir, "vms", v["metadata"]["uid"], "serial.log")
    try:
        with open(p, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def guest_lines(host, v, prefix="VMSVC-GUEST "):
    return [l.split(prefix, 1)[1].strip() for l in serial(host, v).splitlines() if prefix in l]


def wait_guest(host, ns, name, line, count=1, timeout=90):
    def check():
        v = vm(host, ns, name)
        return v if guest_lines(host, v).count(line) >= count else None
    try:
        return wait_for(check, timeout=timeout, what="guest line %r x%d" % (line, count))
    except AssertionError as e:
        v = vm(host, ns, name)
        raise AssertionError("%s\n%s\nserial log tail:\n%s" % (
            e, diagnose(host, ns, name), serial(host, v)[-2000:] if "uid" in v.get("metadata", {})
            else "")) from None


def events(host, ns, name):
    out = host.kubectl_json("get", "events", "-n", ns, "--field-selector",
                            "involvedObject.name=" + name)
    return [(e["reason"], e["message"]) for e in out["items"]]


def qemu_pid(host, v):
    p = os.path.join(host.data_dir, "libvirt", "run", "qemu", v["status"]["uniqueID"] + ".pid")
    try:
        pid = int(open(p).read())
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError):
        return None


def thread_nice(pid):
    """{thread name: set of nice values} over the threads of process `pid`."""
    out = {}
    for t in glob.glob("/proc/%d/task/*/stat" % pid):
        try:
            text = open(t).read()
        except OSError:
            continue  # the thread ended meanwhile
        name, rest = text[text.index("(") + 1:].rsplit(")", 1)
        out.setdefault(name, set()).add(int(rest.split()[16]))  # field 19, nice
    return out


def test_vm_boots_with_cloud_init_seed(host, vns):
    # The scheduling group of this test's session, before any guest starts.
    group_before = open("/proc/self/autogroup").read() if os.path.exists("/proc/self/autogroup") \
        else None
    host.kubectl("create", "secret", "generic", "boot", "-n", vns, "--from-literal=user-data=" +
                 "#cloud-config\n#vmsvc: hello-from-e2e\nruncmd:\n- echo hi\n")
    make_vm(host, vns, "web-1", bootstrap={"cloudInit": {"rawCloudConfig": {"name": "boot", "key": "user-data"}}})
    v = wait_power(host, vns, "web-1", "PoweredOn")
    st = v["status"]
    assert st["host"] and st["uniqueID"].startswith("vmsvc-")
    assert re.match(r"^[0-9a-f-]{36}$", st["biosUUID"]) and st["instanceUUID"] != st["biosUUID"]
    # spec.imageName gave the display name; status names the image itself.
    assert st["class"]["name"] == "small" and st["image"]["name"] == host.images["tiny"]
    assert st["image"]["kind"] == "ClusterVirtualMachineImage"
    conds = {c["type"]: c["status"] for c in st["conditions"]}
    for t in ["VirtualMachineClassReady", "VirtualMachineImageReady", "VirtualMachineStorageReady",
              "VirtualMachinePlacementReady", "VirtualMachineCreated"]:
        assert conds.get(t) == "True", (t, st["conditions"])
    v = wait_guest(host, vns, "web-1", "ready")
    lines = guest_lines(host, v)
    assert "hostname=web-1" in lines, lines
    assert "user-data-line=#vmsvc: hello-from-e2e" in lines, lines
    # Guests' CPU comes after the service's: every QEMU thread runs at the
    # default guest nice value, the server's threads at the one it started
    # with (this test's own).
    pid = qemu_pid(host, v)
    qemu = thread_nice(pid)
    assert set().union(*qemu.values()) == {10}, qemu
    base = os.nice(0)
    server = thread_nice(host.pid)
    assert set().union(*server.values()) == {base}, {n: v for n, v in server.items() if v != {base}}
    # Where the kernel schedules each session as a group, QEMU's session
    # (libvirt makes one for it) has that nice value too; the server's
    # session (this test's) is left as it was before the guest started.
    if group_before is not None:
        assert os.getsid(pid) != os.getsid(host.pid)
        ag = open("/proc/%d/autogroup" % pid).read()
        assert ag.split()[-2:] == ["nice", "10"], ag
        if os.getsid(host.pid) == os.getsid(0):
            assert open("/proc/%d/autogroup" % host.pid).read() == group_before
    # QEMU listens for a guest agent on a socket in the VM's own directory.
    qga = os.path.join(host.data_dir, "vms", v["metadata"]["uid"], "qga.sock")
    assert stat.S_ISSOCK(os.stat(qga).st_mode)
    reasons = [r for r, _ in events(host, vns, "web-1")]
    assert "Created" in reasons and "PoweredOn" in reasons
    # The secret's content never shows in status or events.
    assert "hello-from-e2e" not in json.dumps(v["status"])
    assert "hello-from-e2e" not in json.dumps(events(host, vns, "web-1"))
    out = host.kubectl("get", "vm", "web-1", "-n", vns).stdout
    assert "PoweredOn" in out


def test_power_off_on_suspend_resume_restart(host, vns):
    make_vm(host, vns, "pw-1", powerOffMode="Soft")
    wait_guest(host, vns, "pw-1", "ready")
    host.kubectl("patch", "vm", "pw-1", "-n", vns, "--type=merge", "-p", '{"spec":{"powerState":"PoweredOff"}}')
    v = wait_power(host, vns, "pw-1", "PoweredOff", timeout=60)
    assert not qemu_pid(host, v) or True  # the process ends with the guest
    assert "ShutdownRequested" in [r for r, _ in events(host, vns, "pw-1")]
    host.kubectl("patch", "vm", "pw-1", "-n", vns, "--type=merge", "-p", '{"spec":{"powerState":"PoweredOn"}}')
    wait_power(host, vns, "pw-1", "PoweredOn")
    v = wait_guest(host, vns, "pw-1", "ready", count=2)
    boots = guest_lines(host, v).count("boot")
    # Suspend: memory goes to disk, the QEMU process ends.
    host.kubectl("patch", "vm", "pw-1", "-n", vns, "--type=merge", "-p", '{"spec":{"powerState":"Suspended"}}')
    v = wait_power(host, vns, "pw-1", "Suspended")
    wait_for(lambda: qemu_pid(host, v) is None, timeout=30, what="QEMU to exit on suspend")
    # A suspended VM cannot be powered off directly.
    p = host.kubectl("patch", "vm", "pw-1", "-n", vns, "--type=merge", "-p",
                     '{"spec":{"powerState":"PoweredOff"}}', check=False)
    assert p.returncode != 0 and "suspended" in p.stderr
    # Resume: the guest continues; it does not boot again.
    host.kubectl("patch", "vm", "pw-1", "-n", vns, "--type=merge", "-p", '{"spec":{"powerState":"PoweredOn"}}')
    v = wait_power(host, vns, "pw-1", "PoweredOn")
    time.sleep(2)
    assert guest_lines(host, v).count("boot") == boots, "resume must not reboot the guest"
    # Restart.
    host.kubectl("patch", "vm", "pw-1", "-n", vns, "--type=merge", "-p",
                 '{"spec":{"nextRestartTime":"now","restartMode":"Hard"}}')
    v = vm(host, vns, "pw-1")
    assert re.match(r"^\d{4}-\d\d-\d\dT", v["spec"]["nextRestartTime"]), "now becomes a time"
    v = wait_guest(host, vns, "pw-1", "boot", count=boots + 1)
    v = wait_for(lambda: (lambda x: x if x["status"].get("lastRestartTime") == x["spec"]["nextRestartTime"] else None)(
        vm(host, vns, "pw-1")), what="lastRestartTime")
    assert "Restarted" in [r for r, _ in events(host, vns, "pw-1")]
    p = host.kubectl("patch", "vm", "pw-1", "-n", vns, "--type=merge", "-p",
                     '{"spec":{"nextRestartTime":"tomorrow"}}', check=False)
    assert p.returncode != 0 and "now" in p.stderr


def test_trysoft_falls_back_to_hard(host, vns):
    # This guest reports the power button and ignores it.
    host.kubectl("create", "secret", "generic", "deaf", "-n", vns,
                 "--from-literal=user-data=#cloud-config\n#vmsvc: ignore-powerdown\n")
    make_vm(host, vns, "ts-1", powerOffMode="TrySoft",
            bootstrap={"cloudInit": {"rawCloudConfig": {"name": "deaf", "key": "user-data"}}})
    v = wait_guest(host, vns, "ts-1", "ready")
    pid = qemu_pid(host, v)
    host.kubectl("patch", "vm", "ts-1", "-n", vns, "--type=merge", "-p", '{"spec":{"powerState":"PoweredOff"}}')
    t0 = time.time()
    wait_power(host, vns, "ts-1", "PoweredOff", timeout=60)
    assert time.time() - t0 >= 4, "the guest was given the soft-shutdown time (5 s) first"
    wait_for(lambda: not os.path.exists("/proc/%d" % pid), timeout=20, what="QEMU to end")
    msgs = [m for r, m in events(host, vns, "ts-1") if r == "PoweredOff"]
    assert msgs and "did not shut down within 5 s" in msgs[-1], msgs


def test_efi_image_and_boot_disk_capacity(host, vns, tiny_image):
    vmi = import_image(host, tiny_image, "tiny-efi", "--firmware", "efi")
    img = host.kubectl_json("get", "cvmi", vmi)
    assert img["status"]["name"] == "tiny-efi" and img["status"]["firmware"] == "efi"
    make_vm(host, vns, "efi-1", imageName="tiny-efi", advanced={"bootDiskCapacity": "96Mi"})
    v = wait_guest(host, vns, "efi-1", "ready", timeout=150)
    uid = v["metadata"]["uid"]
    xml = open(os.path.join(host.data_dir, "libvirt", "etc", "qemu", "vmsvc-%s.xml" % uid)).read()
    assert "OVMF" in xml and "<nvram" in xml
    disk = os.path.join(host.data_dir, "storage", "default", uid + ".qcow2")
    info = json.loads(subprocess.run(["qemu-img", "info", "-U", "--output=json", disk],
                                     capture_output=True, text=True, check=True).stdout)
    assert info["virtual-size"] == 96 << 20
    # Backed by the VM's own link to the library's file, which outlives the item.
    assert info["backing-filename"] == os.path.join(host.data_dir, "vms", uid, "base.img")
    item = img["spec"]["providerRef"]["name"]
    lib_file = [f for f in glob.glob(os.path.join(host.data_dir, "libraries", "*", "*", "*"))
                if img["status"]["providerItemID"] in f]
    assert lib_file and os.path.samefile(lib_file[0], info["backing-filename"]), lib_file
    assert item.startswith("cclitem-")
    # The SMBIOS UUID the guest sees is the VM's biosUUID.
    assert v["status"]["biosUUID"] in xml


def test_guest_powering_itself_off_shows_in_status(host, vns):
    host.kubectl("create", "secret", "generic", "off", "-n", vns,
                 "--from-literal=user-data=#cloud-config\n#vmsvc: poweroff-after 2\n")
    make_vm(host, vns, "self-1", bootstrap={"cloudInit": {"rawCloudConfig": {"name": "off", "key": "user-data"}}})
    w = subprocess.Popen(host.prefix() + ["kubectl", "get", "vm", "self-1", "-n", vns, "-w", "-o",
                                          "jsonpath={.status.powerState}{\"\\n\"}", "--request-timeout=120s"],
                         env=host.env(), stdout=subprocess.PIPE, text=True)
    try:
        seen = []
        deadline = time.time() + 120
        while time.time() < deadline:
            line = w.stdout.readline().strip()
            if line and (not seen or seen[-1] != line):
                seen.append(line)
            if seen[-3:] == ["PoweredOn", "PoweredOff", "PoweredOn"]:
                break
    finally:
        w.terminate()
        w.wait()
    assert "PoweredOff" in seen[seen.index("PoweredOn"):], seen
    assert "GuestPoweredOff" in [r for r, _ in events(host, vns, "self-1")]


def test_bad_references_then_fixed(host, vns):
    make_vm(host, vns, "ref-1", className="nope", imageName="missing", storageClass="absent")
    def conds():
        v = vm(host, vns, "ref-1")
        c = {x["type"]: x for x in v.get("status", {}).get("conditions", [])}
        return c if "VirtualMachineClassReady" in c else None
    c = wait_for(conds, what="conditions")
    assert c["VirtualMachineClassReady"]["status"] == "False" and c["VirtualMachineClassReady"]["reason"] == "NotFound"
    assert c["VirtualMachineImageReady"]["status"] == "False"
    assert c["VirtualMachineStorageReady"]["status"] == "False"
    assert "nope" in c["VirtualMachineClassReady"]["message"]
    reasons = [r for r, _ in events(host, vns, "ref-1")]
    assert reasons.count("NotFound") >= 3
    assert not vm(host, vns, "ref-1")["status"].get("host")
    # Make what it names; the VM goes on by itself.
    host.kubectl("apply", "-n", vns, "-f", "-", input=yaml.safe_dump({
        "apiVersion": "vmoperator.vmware.com/v1alpha2", "kind": "VirtualMachineClass",
        "metadata": {"name": "nope"}, "spec": {"hardware": {"cpus": 1, "memory": "128Mi"}}}))
    import_image(host, os.path.join(GUEST_DIR, "tiny.img"), "missing")
    host.kubectl("apply", "-f", "-", input=yaml.safe_dump({
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "absent"},
        "provisioner": "vmsvc.dev/local", "parameters": {"provisioning": "thick"}}))
    wait_power(host, vns, "ref-1", "PoweredOn", timeout=120)


def test_guaranteed_admission_waits_for_room(host, vns):
    host.kubectl("apply", "-n", vns, "-f", "-", input=yaml.safe_dump({
        "apiVersion": "vmoperator.vmware.com/v1alpha2", "kind": "VirtualMachineClass",
        "metadata": {"name": "g-600"}, "spec": {"hardware": {"cpus": 1, "memory": "600Mi"},
                                                 "policies": {"resources": {"requests": {"cpu": "1", "memory": "600Mi"}}}}}))
    make_vm(host, vns, "g-1", className="g-600")
    wait_power(host, vns, "g-1", "PoweredOn")
    make_vm(host, vns, "g-2", className="g-600")
    def waiting():
        v = vm(host, vns, "g-2")
        c = {x["type"]: x for x in v.get("status", {}).get("conditions", [])}
        p = c.get("VirtualMachinePlacementReady")
        return p if p and p["status"] == "False" else None
    p = wait_for(waiting, what="g-2 to wait for room")
    assert p["reason"] == "InsufficientCapacity" and "g-600" in p["message"]
    assert "InsufficientCapacity" in [r for r, _ in events(host, vns, "g-2")]
    time.sleep(2)
    assert not vm(host, vns, "g-2")["status"].get("host"), "no placement without room"
    host.kubectl("delete", "vm", "g-1", "-n", vns, "--timeout=60s")
    wait_power(host, vns, "g-2", "PoweredOn", timeout=120)


def test_delete_leaves_nothing_behind(host, vns):
    host.kubectl("apply", "-n", vns, "-f", "-", input=yaml.safe_dump({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "64Mi"}},
                 "storageClassName": "default"}}))
    make_vm(host, vns, "del-1", volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}])
    v = wait_power(host, vns, "del-1", "PoweredOn", timeout=120)
    assert v["status"]["volumes"] == [{"name": "data", "attached": True}]
    uid, pid = v["metadata"]["uid"], qemu_pid(host, v)
    disk = os.path.join(host.data_dir, "storage", "default", uid + ".qcow2")
    assert pid and os.path.exists(disk)
    host.kubectl("delete", "vm", "del-1", "-n", vns, "--timeout=60s")
    assert host.kubectl("get", "vm", "del-1", "-n", vns, check=False).returncode != 0
    wait_for(lambda: not os.path.exists("/proc/%d" % pid), timeout=20, what="QEMU to end")
    assert not os.path.exists(disk)
    assert not os.path.exists(os.path.join(host.data_dir, "vms", uid))
    assert not os.path.exists(os.path.join(host.data_dir, "libvirt", "etc", "qemu", "vmsvc-%s.xml" % uid))
    # The claim can go now that no VM uses it, and its disk with it.
    pvc = host.kubectl_json("get", "pvc", "data", "-n", vns)
    pdisk = os.path.join(host.data_dir, "storage", "default", "pvc-%s.qcow2" % pvc["metadata"]["uid"])
    assert os.path.exists(pdisk)
    host.kubectl("delete", "pvc", "data", "-n", vns, "--timeout=60s")
    assert not os.path.exists(pdisk)


def test_conformance_vms_come_up(host, tiny_image):
    """The documentation's VM manifests, with the names they refer to made first."""
    ns = "my-namespace"
    host.kubectl("apply", "-f", "-", input="apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n" % ns)
    host.kubectl("apply", "-f", "-", input=yaml.safe_dump({
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "my-storage-class"},
        "provisioner": "vmsvc.dev/local"}))
    files = sorted(f for f in os.listdir(CONFORMANCE) if f.endswith(".yaml"))
    docs = {}
    for f in files:
        for d in yaml.safe_load_all(open(os.path.join(CONFORMANCE, f))):
            if d:
                docs.setdefault(f, []).append(d)
    support = [d for f in files for d in docs[f] if d["kind"] in ("Secret", "VirtualMachineClass",
                                                                  "PersistentVolumeClaim")]
    for d in support:
        d["metadata"]["namespace"] = ns
        if d["kind"] == "VirtualMachineClass":
            d["spec"]["hardware"]["memory"] = "256Mi"
    host.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(support))
    vms = [(f, d) for f in files for d in docs[f] if d["kind"] == "VirtualMachine"]
    assert len(vms) >= 10
    have = {(d["metadata"]["name"], k) for d in support if d["kind"] == "Secret"
            for k in list(d.get("stringData", {})) + list(d.get("data", {}))}

    def refs(node):
        """Every {name, key} Secret reference in a bootstrap section."""
        if isinstance(node, dict):
            if set(node) == {"name", "key"}:
                yield node["name"], node["key"]
            for v in node.values():
                yield from refs(v)
        elif isinstance(node, list):
            for v in node:
                yield from refs(v)

    for f, d in vms:
        # Fill in the Secrets a manifest names that the docs do not show.
        for name, key in refs(d["spec"].get("bootstrap", {})):
            if (name, key) not in have:
                host.kubectl("apply", "-f", "-", input=yaml.safe_dump({
                    "apiVersion": "v1", "kind": "Secret",
                    "metadata": {"name": name, "namespace": ns},
                    "stringData": {key: "#cloud-config\n"}}))
                have.add((name, key))
        name = "c-" + re.sub(r"[^a-z0-9]+", "-", f.lower().replace(".yaml", ""))[-40:].strip("-")
        d["metadata"]["name"] = name
        d["metadata"]["namespace"] = ns
        host.kubectl("apply", "-f", "-", input=yaml.safe_dump(d))
        try:
            wait_power(host, ns, name, "PoweredOn", timeout=120)
        finally:
            host.kubectl("delete", "vm", name, "-n", ns, "--timeout=60s", check=False)


def test_kill9_during_creation_of_ten_vms(tiny_image):
    with isolated_server("vmsvc-e2e", ["--accel", "tcg"]) as s:
        d = s.data_dir
        import_image(s, tiny_image, "tiny")
        s.kubectl("apply", "-f", "-", input=yaml.safe_dump({
            "apiVersion": "vmoperator.vmware.com/v1alpha2", "kind": "VirtualMachineClass",
            "metadata": {"name": "small", "namespace": "default"},
            "spec": {"hardware": {"cpus": 1, "memory": "128Mi"}}}))
        docs = [{"apiVersion": "vmoperator.vmware.com/v1alpha2", "kind": "VirtualMachine",
                 "metadata": {"name": "k-%d" % i, "namespace": "default"},
                 "spec": {"className": "small", "imageName": "tiny", "storageClass": "default"}}
                for i in range(10)]
        s.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(docs))
        # Kill while the agent is making disks, seeds and domains.
        try:
            wait_for(lambda: len(s.qemu_pids()) >= 2, timeout=60, interval=0.05)
        except AssertionError as e:
            raise AssertionError("%s\n%s" % (e, diagnose(s))) from None
        s.kill9()
        s.start()
        def all_on():
            items = s.kubectl_json("get", "vm", "-n", "default")["items"]
            on = [i for i in items if i.get("status", {}).get("powerState") == "PoweredOn"]
            return items if len(on) == 10 else None
        items = wait_for(all_on, timeout=180, what="10 VMs powered on")
        uids = {i["metadata"]["uid"] for i in items}
        # Exactly one domain per VM: one QEMU each, one definition each.
        pids = s.qemu_pids()
        assert len(pids) == 10, pids
        defs = os.listdir(os.path.join(d, "libvirt", "etc", "qemu"))
        assert sorted(defs) == sorted("vmsvc-%s.xml" % u for u in uids), defs
        disks = [f for f in os.listdir(os.path.join(d, "storage", "default")) if f.endswith(".qcow2")]
        assert sorted(disks) == sorted(u + ".qcow2" for u in uids), disks


def iso_file(iso, name):
    """One file of a seed ISO, read with xorriso."""
    out = tempfile.mktemp()
    subprocess.run(["xorriso", "-osirrox", "on", "-indev", iso, "-extract", "/" + name, out],
                   check=True, capture_output=True)
    with open(out) as f:
        data = f.read()
    os.unlink(out)
    return data


def test_sysprep_vapp_and_linuxprep_seeds(host, vns):
    host.kubectl("create", "secret", "generic", "win", "-n", vns, "--from-literal=product-id=XXXXX-E2E42",
                 "--from-literal=admin=Sup3r-Secret", "--from-literal=ip=10.11.12.13")
    make_vm(host, vns, "win-1", powerState="PoweredOff", bootstrap={"sysprep": {"sysprep": {
        "userData": {"fullName": "Jane Doe", "orgName": "E2E & Co", "productID": {"name": "win", "key": "product-id"}},
        "guiUnattended": {"autoLogon": True, "autoLogonCount": 1,
                          "password": {"name": "win", "key": "admin"}, "timeZone": 35}}}})
    make_vm(host, vns, "vapp-1", powerState="PoweredOff", bootstrap={
        "linuxPrep": {"timeZone": "America/Chicago", "hardwareClockIsUTC": True},
        "vAppConfig": {"properties": [
            {"key": "greeting", "value": {"value": "hello <world>"}},
            {"key": "mgmt_ip", "value": {"from": {"name": "win", "key": "ip"}}}]}})
    for name in ["win-1", "vapp-1"]:
        wait_for(lambda: any(c["type"] == "VirtualMachineCreated" and c["status"] == "True"
                             for c in vm(host, vns, name).get("status", {}).get("conditions", [])),
                 what=name + " to be created")
    win = vm(host, vns, "win-1")
    iso = os.path.join(host.data_dir, "vms", win["metadata"]["uid"], "seed.iso")
    unattend = iso_file(iso, "unattend.xml")
    assert "XXXXX-E2E42" in unattend and "Jane Doe" in unattend and "E2E &amp; Co" in unattend
    assert "Eastern Standard Time" in unattend
    vapp = vm(host, vns, "vapp-1")
    iso = os.path.join(host.data_dir, "vms", vapp["metadata"]["uid"], "seed.iso")
    env = iso_file(iso, "ovf-env.xml")
    assert 'oe:key="greeting"' in env and "hello &lt;world&gt;" in env and "10.11.12.13" in env
    ud = iso_file(iso, "user-data")
    assert "America/Chicago" in ud and "UTC" in ud
    for v in (win, vapp):
        dump = json.dumps(v) + json.dumps(events(host, vns, v["metadata"]["name"]))
        assert "Sup3r-Secret" not in dump and "XXXXX-E2E42" not in dump
    assert "Sup3r-Secret" not in host.log()


def test_bootstrap_rules_refused_at_admission(host, vns):
    p = host.kubectl("apply", "-n", vns, "-f", "-", check=False, input=yaml.safe_dump({
        "apiVersion": "vmoperator.vmware.com/v1alpha2", "kind": "VirtualMachine",
        "metadata": {"name": "two"}, "spec": {"className": "small", "imageName": "tiny",
                                              "bootstrap": {"cloudInit": {"cloudConfig": {}},
                                                            "sysprep": {"sysprep": {}}}}}))
    assert p.returncode != 0 and "spec.bootstrap" in p.stderr, p.stderr
    p = host.kubectl("apply", "-n", vns, "-f", "-", check=False, input=yaml.safe_dump({
        "apiVersion": "vmoperator.vmware.com/v1alpha2", "kind": "VirtualMachine",
        "metadata": {"name": "both"}, "spec": {"className": "small", "imageName": "tiny",
                                               "bootstrap": {"cloudInit": {
                                                   "cloudConfig": {}, "rawCloudConfig": {"name": "a", "key": "b"}}}}}))
    assert p.returncode != 0 and "rawCloudConfig" in p.stderr, p.stderr
    assert host.kubectl("get", "vm", "two", "-n", vns, check=False).returncode != 0


def test_zone_label_places_only_in_that_zone(host, vns):
    host.kubectl("apply", "-n", vns, "-f", "-", input=yaml.safe_dump({
        "apiVersion": "vmoperator.vmware.com/v1alpha2", "kind": "VirtualMachine",
        "metadata": {"name": "z-1", "labels": {"topology.kubernetes.io/zone": "zone-nowhere"}},
        "spec": {"className": "small", "imageName": "tiny", "storageClass": "default"}}))

    def placement():
        c = {x["type"]: x for x in vm(host, vns, "z-1").get("status", {}).get("conditions", [])}
        return c.get("VirtualMachinePlacementReady")
    p = wait_for(placement, what="a placement condition")
    assert p["status"] == "False" and p["reason"] == "ZoneNotFound" and "zone-nowhere" in p["message"]
    # The host's own zone (none here) takes VMs that name no zone.
    node = host.kubectl_json("get", "nodes")["items"][0]
    assert "topology.kubernetes.io/zone" not in node["metadata"]["labels"]


@pytest.mark.parametrize("flag,n", [("agent-workers", "0"), ("agent-workers", "4097"),
                                    ("agent-workers", "many"), ("guest-nice", "-1"),
                                    ("guest-nice", "20")])
def test_out_of_range_flag_is_refused(tmp_path, flag, n):
    """A worker limit outside 1..4096 or a guest nice value outside 0..19
    stops the server before it touches anything: exit status 2, a message
    naming the flag, no data directory."""
    data = tmp_path / "data"
    p = subprocess.run([VMSVC, "server", "--data-dir", str(data), "--listen", "127.0.0.1:0",
                        "--" + flag, n], capture_output=True, text=True, timeout=30)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert flag in p.stderr, p.stderr
    assert not data.exists()
