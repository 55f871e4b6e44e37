"""kubectl against the real server: every verb a user reaches for."""
import copy
import glob
import json
import os
import subprocess
import sys
import textwrap
import time

import pytest
import yaml

from conftest import CONFORMANCE

VM = """
apiVersion: vmoperator.vmware.com/v1alpha2
kind: VirtualMachine
metadata:
  name: {name}
  labels:
    app: {app}
spec:
  className: best-effort-small
  imageName: vmi-test
  storageClass: default
  powerState: PoweredOff
"""


def vm_yaml(name, app="web"):
    return VM.format(name=name, app=app)


def subset(want, got, path=""):
    """Every field of `want` is in `got` with the same value."""
    if isinstance(want, dict):
        assert isinstance(got, dict), path
        for k, v in want.items():
            assert k in got, "%s.%s missing" % (path, k)
            subset(v, got[k], "%s.%s" % (path, k))
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), path
        for i, (a, b) in enumerate(zip(want, got)):
            subset(a, b, "%s[%d]" % (path, i))
    else:
        assert want == got, "%s: %r != %r" % (path, want, got)


def parse_table(text):
    """Rows of a kubectl table as dicts, cut at the header's column offsets
    (cells may be empty, so splitting on blanks would shift them)."""
    lines = text.splitlines()
    header = lines[0]
    starts = [i for i, c in enumerate(header) if c != " " and (i == 0 or header[i - 1] == " ")]
    names = header.split()
    rows = []
    for line in lines[1:]:
        cells = [line[a:b].strip() for a, b in zip(starts, starts[1:] + [None])]
        rows.append(dict(zip(names, cells)))
    return names, rows


def test_api_resources(server):
    out = server.kubectl("api-resources", "-o", "wide").stdout
    for plural, short in [("virtualmachines", "vm"), ("virtualmachineclasses", "vmclass"),
                          ("virtualmachineimages", "vmi"), ("clustervirtualmachineimages", "cvmi"),
                          ("virtualmachinepublishrequests", "vmpub"),
                          ("virtualmachineservices", "vmservice"),
                          ("virtualmachinesetresourcepolicies", None),
                          ("virtualmachinewebconsolerequests", None),
                          ("contentlibraries", "cl"), ("clustercontentlibraries", "ccl"),
                          ("contentlibraryitems", "clitem"), ("clustercontentlibraryitems", "cclitem"),
                          ("namespaces", "ns"), ("secrets", None), ("configmaps", "cm"),
                          ("events", "ev"), ("persistentvolumeclaims", "pvc"), ("nodes", "no"),
                          ("storageclasses", "sc")]:
        line = [l for l in out.splitlines() if l.split()[0] == plural]
        assert line, plural + " missing from api-resources"
        if short:
            assert short in line[0].split()[1].split(","), line[0]
    # Every verb kubectl needs is advertised.
    vmline = [l for l in out.splitlines() if l.startswith("virtualmachines ")][0]
    for verb in ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]:
        assert verb in vmline


def conformance_docs():
    files = sorted(glob.glob(os.path.join(CONFORMANCE, "*.yaml")))
    assert files, "no conformance manifests in " + CONFORMANCE
    return files


@pytest.mark.parametrize("path", conformance_docs(), ids=os.path.basename)
def test_apply_conformance_manifest(server, ns, path):
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    for d in docs:
        d["metadata"]["namespace"] = ns
        if d["kind"] == "VirtualMachineClass":
            d["metadata"]["name"] += "-" + ns
    text = yaml.safe_dump_all(docs)
    out = server.kubectl("apply", "-f", "-", input=text).stdout
    assert out.count(" created") == len(docs), out
    for d in docs:
        kind = d["kind"].lower()
        got = server.kubectl_json("get", "%s.%s" % (kind, d["apiVersion"].split("/")[0])
                                  if "/" in d["apiVersion"] else kind,
                                  d["metadata"]["name"], "-n", ns)
        for field in ("spec", "data"):
            if field in d and d["kind"] != "Secret":
                subset(d[field], got[field])
        assert got["metadata"]["uid"]
        assert int(got["metadata"]["resourceVersion"]) > 0
    # Apply again, changed: a label on every object and, for VMs, a new spec value.
    changed = copy.deepcopy(docs)
    for d in changed:
        d["metadata"].setdefault("labels", {})["e2e/changed"] = "yes"
        if d["kind"] == "VirtualMachine":
            d["spec"]["powerState"] = "PoweredOff"
    out = server.kubectl("apply", "-f", "-", input=yaml.safe_dump_all(changed)).stdout
    assert out.count(" configured") == len(docs), out
    for d in changed:
        kind = d["kind"].lower()
        if "/" in d["apiVersion"]:
            kind += "." + d["apiVersion"].split("/")[0]
        got = server.kubectl_json("get", kind, d["metadata"]["name"], "-n", ns)
        assert got["metadata"]["labels"]["e2e/changed"] == "yes"
        if d["kind"] == "VirtualMachine":
            assert got["spec"]["powerState"] == "PoweredOff"
            assert got["metadata"]["generation"] == 2


def test_get_output_forms(server, ns):
    server.kubectl("apply", "-n", ns, "-f", "-", input=vm_yaml("web-1") + "---" + vm_yaml("db-1", "db"))
    header, rows = parse_table(server.kubectl("get", "vm", "-n", ns).stdout)
    for col in ["NAME", "POWER-STATE", "CLASS", "IMAGE", "PRIMARY-IP4", "AGE"]:
        assert col in header, header
    rows = {r["NAME"]: r for r in rows}
    assert set(rows) == {"web-1", "db-1"}
    assert rows["web-1"]["CLASS"] == "best-effort-small"
    assert rows["web-1"]["IMAGE"] == "vmi-test"
    assert rows["web-1"]["AGE"][-1] in "smhdy" and rows["web-1"]["AGE"][0].isdigit(), rows["web-1"]

    wide = server.kubectl("get", "vm", "-n", ns, "-o", "wide").stdout.splitlines()
    assert len(wide[0].split()) >= len(header)

    y = yaml.safe_load(server.kubectl("get", "vm", "web-1", "-n", ns, "-o", "yaml").stdout)
    assert y["kind"] == "VirtualMachine" and y["spec"]["imageName"] == "vmi-test"
    j = server.kubectl_json("get", "vm", "-n", ns)
    assert j["kind"] == "List" and len(j["items"]) == 2

    allns = server.kubectl("get", "vm", "-A").stdout.splitlines()
    assert allns[0].split()[0] == "NAMESPACE"
    assert any(l.split()[0] == ns and l.split()[1] == "web-1" for l in allns[1:])

    sel = server.kubectl("get", "vm", "-n", ns, "-l", "app=db", "-o", "name").stdout.split()
    assert sel == ["virtualmachine.vmoperator.vmware.com/db-1"]
    sel = server.kubectl("get", "vm", "-n", ns, "-l", "app in (db,web),app!=web", "-o", "name").stdout.split()
    assert sel == ["virtualmachine.vmoperator.vmware.com/db-1"]
    sel = server.kubectl("get", "vm", "-n", ns, "--field-selector", "metadata.name=web-1",
                         "-o", "name").stdout.split()
    assert sel == ["virtualmachine.vmoperator.vmware.com/web-1"]
    jp = server.kubectl("get", "vm", "web-1", "-n", ns, "-o", "jsonpath={.spec.className}").stdout
    assert jp == "best-effort-small"


def test_describe_shows_events(server, ns):
    server.kubectl("apply", "-n", ns, "-f", "-", input=vm_yaml("desc-1"))
    vm = server.kubectl_json("get", "vm", "desc-1", "-n", ns)
    event = {
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": "desc-1.e2e", "namespace": ns},
        "involvedObject": {"apiVersion": "vmoperator.vmware.com/v1alpha2", "kind": "VirtualMachine",
                           "name": "desc-1", "namespace": ns, "uid": vm["metadata"]["uid"]},
        "reason": "E2EReason", "message": "something the user should see", "type": "Warning",
        "source": {"component": "e2e"},
    }
    server.kubectl("create", "-f", "-", input=json.dumps(event))
    out = server.kubectl("describe", "vm", "desc-1", "-n", ns).stdout
    assert "Name:         desc-1" in out
    assert "Class Name:" in out and "best-effort-small" in out
    events = out.split("Events:")[1]
    assert "E2EReason" in events and "something the user should see" in events, out


def test_edit_with_scripted_editor(server, ns, tmp_path):
    server.kubectl("apply", "-n", ns, "-f", "-", input=vm_yaml("edit-1"))
    editor = tmp_path / "editor.py"
    editor.write_text(textwrap.dedent("""\
        import sys
        p = sys.argv[1]
        s = open(p).read()
        s = s.replace("powerState: PoweredOff", "powerState: PoweredOn")
        open(p, "w").write(s)
        """))
    server.kubectl("edit", "vm", "edit-1", "-n", ns,
                   env={"KUBE_EDITOR": "%s %s" % (sys.executable, editor), "EDITOR": ""})
    got = server.kubectl_json("get", "vm", "edit-1", "-n", ns)
    assert got["spec"]["powerState"] == "PoweredOn"
    assert got["metadata"]["generation"] == 2


def test_patch_kinds(server, ns):
    server.kubectl("apply", "-n", ns, "-f", "-", input=vm_yaml("patch-1"))
    server.kubectl("patch", "vm", "patch-1", "-n", ns, "--type=merge",
                   "-p", '{"spec":{"powerState":"PoweredOn"}}')
    server.kubectl("patch", "vm", "patch-1", "-n", ns, "--type=json",
                   "-p", '[{"op":"add","path":"/spec/minHardwareVersion","value":17}]')
    got = server.kubectl_json("get", "vm", "patch-1", "-n", ns)
    assert got["spec"]["powerState"] == "PoweredOn"
    assert got["spec"]["minHardwareVersion"] == 17
    # A JSON patch whose test fails changes nothing.
    p = server.kubectl("patch", "vm", "patch-1", "-n", ns, "--type=json",
                       "-p", '[{"op":"test","path":"/spec/className","value":"nope"},'
                             '{"op":"remove","path":"/spec/powerState"}]', check=False)
    assert p.returncode != 0
    assert server.kubectl_json("get", "vm", "patch-1", "-n", ns)["spec"]["powerState"] == "PoweredOn"
    # An immutable field cannot change.
    p = server.kubectl("patch", "vm", "patch-1", "-n", ns, "--type=json",
                       "-p", '[{"op":"replace","path":"/spec/className","value":"other"}]', check=False)
    assert p.returncode != 0 and "spec.className" in p.stderr and "immutable" in p.stderr
    # Strategic merge patch on a core kind: merges maps, keeps the rest.
    server.kubectl("create", "configmap", "cm-1", "-n", ns, "--from-literal=a=1", "--from-literal=b=2")
    server.kubectl("patch", "configmap", "cm-1", "-n", ns, "--type=strategic",
                   "-p", '{"data":{"b":null,"c":"3"}}')
    cm = server.kubectl_json("get", "configmap", "cm-1", "-n", ns)
    assert cm["data"] == {"a": "1", "c": "3"}
    # Custom resources refuse strategic merge patch, as Kubernetes does.
    p = server.kubectl("patch", "vm", "patch-1", "-n", ns, "--type=strategic",
                       "-p", '{"spec":{"powerState":"PoweredOff"}}', check=False)
    assert p.returncode != 0 and "strategic-merge-patch+json is not supported" in p.stderr, p.stderr


def test_label_and_annotate(server, ns):
    server.kubectl("apply", "-n", ns, "-f", "-", input=vm_yaml("lab-1"))
    server.kubectl("label", "vm", "lab-1", "-n", ns, "tier=gold")
    server.kubectl("annotate", "vm", "lab-1", "-n", ns, "owner=ops team")
    got = server.kubectl_json("get", "vm", "lab-1", "-n", ns)
    assert got["metadata"]["labels"]["tier"] == "gold"
    assert got["metadata"]["annotations"]["owner"] == "ops team"
    assert got["metadata"]["generation"] == 1, "metadata changes do not bump generation"
    p = server.kubectl("label", "vm", "lab-1", "-n", ns, "tier=silver", check=False)
    assert p.returncode != 0 and "--overwrite" in p.stderr
    server.kubectl("label", "vm", "lab-1", "-n", ns, "tier-")
    assert "tier" not in server.kubectl_json("get", "vm", "lab-1", "-n", ns)["metadata"]["labels"]
    p = server.kubectl("label", "vm", "lab-1", "-n", ns, "bad key=x", check=False)
    assert p.returncode != 0


def test_delete_with_finalizer_and_wait(server, ns):
    doc = yaml.safe_load(vm_yaml("fin-1"))
    doc["metadata"]["finalizers"] = ["e2e.vmsvc/hold"]
    server.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(doc))
    server.kubectl("delete", "vm", "fin-1", "-n", ns, "--wait=false")
    got = server.kubectl_json("get", "vm", "fin-1", "-n", ns)
    assert got["metadata"].get("deletionTimestamp"), "held by its finalizer"
    # No new finalizer may be added now.
    p = server.kubectl("patch", "vm", "fin-1", "-n", ns, "--type=json",
                       "-p", '[{"op":"add","path":"/metadata/finalizers/-","value":"x.io/y"}]',
                       check=False)
    assert p.returncode != 0
    waiter = subprocess.Popen(["kubectl", "delete", "vm", "fin-1", "-n", ns, "--wait=true", "--timeout=30s"],
                              env=server.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1)
    assert waiter.poll() is None, "delete --wait returned while the finalizer holds the object"
    server.kubectl("patch", "vm", "fin-1", "-n", ns, "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    out, err = waiter.communicate(timeout=30)
    assert waiter.returncode == 0, err
    p = server.kubectl("get", "vm", "fin-1", "-n", ns, check=False)
    assert p.returncode != 0 and "NotFound" in p.stderr


def test_get_watch(server, ns):
    server.kubectl("apply", "-n", ns, "-f", "-", input=vm_yaml("w-1"))
    w = subprocess.Popen(["kubectl", "get", "vm", "-n", ns, "-w", "-o", "name", "--request-timeout=20s"],
                         env=server.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1)
        server.kubectl("apply", "-n", ns, "-f", "-", input=vm_yaml("w-2"))
        server.kubectl("delete", "vm", "w-1", "-n", ns)
        seen = []
        deadline = time.time() + 15
        while time.time() < deadline and len(seen) < 3:
            line = w.stdout.readline()
            if not line:
                break
            seen.append(line.strip())
    finally:
        w.terminate()
        w.wait()
    assert seen[0] == "virtualmachine.vmoperator.vmware.com/w-1"
    assert "virtualmachine.vmoperator.vmware.com/w-2" in seen[1:]


def test_wait_for_jsonpath(server, ns):
    server.kubectl("apply", "-n", ns, "-f", "-", input=vm_yaml("wait-1"))
    waiter = subprocess.Popen(["kubectl", "wait", "vm/wait-1", "-n", ns,
                               "--for=jsonpath={.metadata.labels.ready}=yes", "--timeout=30s"],
                              env=server.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1)
    assert waiter.poll() is None
    server.kubectl("label", "vm", "wait-1", "-n", ns, "ready=yes")
    out, err = waiter.communicate(timeout=30)
    assert waiter.returncode == 0, err
    assert "condition met" in out


def test_explain(server):
    out = server.kubectl("explain", "vm.spec.powerState").stdout
    assert "PoweredOn" in out and "Suspended" in out
    out = server.kubectl("explain", "virtualmachineclass.spec").stdout
    assert "hardware" in out
    out = server.kubectl("explain", "vm", "--recursive").stdout
    assert "bootstrap" in out and "cloudInit" in out


def test_create_secret_and_namespace(server):
    server.kubectl("create", "namespace", "e2e-created")
    ns = server.kubectl_json("get", "namespace", "e2e-created")
    assert ns["status"]["phase"] == "Active"
    server.kubectl("create", "secret", "generic", "s-1", "-n", "e2e-created",
                   "--from-literal=password=hunter2")
    s = server.kubectl_json("get", "secret", "s-1", "-n", "e2e-created")
    assert s["data"]["password"] == "aHVudGVyMg=="
    assert s["type"] == "Opaque"
    p = server.kubectl("create", "namespace", "e2e-created", check=False)
    assert p.returncode != 0 and "AlreadyExists" in p.stderr
    p = server.kubectl("create", "namespace", "Bad_Name", check=False)
    assert p.returncode != 0 and "Invalid" in p.stderr
    server.kubectl("delete", "namespace", "e2e-created", "--timeout=30s")
    p = server.kubectl("get", "secret", "s-1", "-n", "e2e-created", check=False)
    assert p.returncode != 0


def test_strict_validation_errors(server, ns):
    bad = vm_yaml("strict-1").replace("powerState: PoweredOff", "powerState: Sideways\n  bogusField: 1")
    p = server.kubectl("apply", "-n", ns, "-f", "-", input=bad, check=False)
    assert p.returncode != 0
    assert "bogusField" in p.stderr or "Sideways" in p.stderr, p.stderr
    p = server.kubectl("get", "vm", "strict-1", "-n", ns, check=False)
    assert p.returncode != 0, "nothing is stored from a refused request"
    bad = vm_yaml("strict-2").replace("powerState: PoweredOff", "powerState: Sideways")
    p = server.kubectl("apply", "-n", ns, "-f", "-", input=bad, check=False)
    assert p.returncode != 0 and "spec.powerState" in p.stderr and "Unsupported value" in p.stderr
