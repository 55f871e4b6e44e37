"""Content libraries end to end: an administrator makes a library in a
namespace and imports a qcow2, an OVA (an OVF descriptor and a
streamOptimized VMDK made here) and an ISO through kubectl; the images show
up in the catalog; a VM boots from the OVA's image; a VM writes a
marker to its disk, is published into the library while it runs, and a
second VM boots from the result and finds the marker.  Every
failure (corrupt qcow2, truncated OVA, checksum mismatch, unreachable URL,
restart mid-import) ends with a failed condition and nothing left in the
library.

The server runs in a network namespace of the module's own (test_vm's
`host` fixture); HTTP sources are served from 127.0.0.1 inside it."""
import glob
import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import uuid

import pytest
import yaml

from conftest import VMSVC, isolated_server
from test_vm import host, tiny_image, vm, wait_for, wait_guest  # noqa: F401  (fixtures)

API = "imageregistry.vmware.com/v1alpha1"
MARKER = b"VMSVC-PUBLISH-MARKER-" + uuid.uuid4().hex.encode()
MARKER_OFFSET = 300 * 512  # where the tiny guest's write-marker hook writes (tests/guest/README.md)

OVF = """<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1"
  xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"
  xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData"
  xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData"
  xmlns:vmw="http://www.vmware.com/schema/ovf">
  <References><File ovf:href="tiny-disk1.vmdk" ovf:id="file1" ovf:size="%(size)d"/></References>
  <DiskSection>
    <Info>Virtual disk information</Info>
    <Disk ovf:capacity="%(capacity)d" ovf:capacityAllocationUnits="byte" ovf:diskId="vmdisk1"
      ovf:fileRef="file1" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>
  </DiskSection>
  <VirtualSystem ovf:id="tiny-ova">
    <Info>A virtual machine</Info>
    <Name>tiny-ova</Name>
    <OperatingSystemSection ovf:id="101" vmw:osType="otherLinux64Guest">
      <Info>The guest operating system</Info>
      <Description>Tiny Linux</Description>
    </OperatingSystemSection>
    <VirtualHardwareSection>
      <Info>Virtual hardware requirements</Info>
      <System><vssd:ElementName>Virtual Hardware Family</vssd:ElementName><vssd:InstanceID>0</vssd:InstanceID>
        <vssd:VirtualSystemType>vmx-19</vssd:VirtualSystemType></System>
      <Item><rasd:AllocationUnits>hertz * 10^6</rasd:AllocationUnits><rasd:ElementName>1 virtual CPU</rasd:ElementName>
        <rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>1</rasd:VirtualQuantity></Item>
      <Item><rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits><rasd:ElementName>128MB of memory</rasd:ElementName>
        <rasd:InstanceID>2</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>128</rasd:VirtualQuantity></Item>
      <Item><rasd:AddressOnParent>0</rasd:AddressOnParent><rasd:ElementName>Hard Disk 1</rasd:ElementName>
        <rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource><rasd:InstanceID>5</rasd:InstanceID><rasd:ResourceType>17</rasd:ResourceType></Item>
    </VirtualHardwareSection>
    <ProductSection ovf:required="false">
      <Info>Information about the installed software</Info>
      <Product>Tiny</Product>
      <Vendor>vmsvc tests</Vendor>
      <Version>1.0</Version>
      <FullVersion>1.0-test</FullVersion>
      <Property ovf:key="hostname" ovf:type="string" ovf:userConfigurable="true" ovf:value="tiny"/>
    </ProductSection>
  </VirtualSystem>
</Envelope>
"""


def run(*cmd):
    return subprocess.run([str(c) for c in cmd], check=True, capture_output=True, text=True)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


@pytest.fixture(scope="module")
def files(tiny_image):
    """The files the tests import, made from the tiny guest's raw image."""
    d = tempfile.mkdtemp(prefix="vmsvc-img-")
    out = {"dir": d}
    out["qcow2"] = os.path.join(d, "tiny.qcow2")
    run("qemu-img", "convert", "-O", "qcow2", tiny_image, out["qcow2"])
    # The OVA: descriptor first, then the streamOptimized VMDK.
    vmdk = os.path.join(d, "tiny-disk1.vmdk")
    run("qemu-img", "convert", "-O", "vmdk", "-o", "subformat=streamOptimized", tiny_image, vmdk)
    ovf = os.path.join(d, "tiny.ovf")
    with open(ovf, "w") as f:
        f.write(OVF % {"size": os.path.getsize(vmdk), "capacity": os.path.getsize(tiny_image)})
    out["ova"] = os.path.join(d, "tiny.ova")
    with tarfile.open(out["ova"], "w", format=tarfile.USTAR_FORMAT) as t:
        t.add(ovf, arcname="tiny.ovf")
        t.add(vmdk, arcname="tiny-disk1.vmdk")
    # An ISO 9660 image.
    iso_root = os.path.join(d, "iso-root")
    os.makedirs(iso_root)
    with open(os.path.join(iso_root, "README.TXT"), "w") as f:
        f.write("tools\n")
    out["iso"] = os.path.join(d, "tools.iso")
    run("xorrisofs", "-quiet", "-V", "TOOLS", "-o", out["iso"], iso_root)
    # Broken ones.
    out["corrupt"] = os.path.join(d, "corrupt.qcow2")
    shutil.copy(out["qcow2"], out["corrupt"])
    with open(out["corrupt"], "r+b") as f:
        # The L1 table offset (header bytes 40..47) points far past the end.
        f.seek(40)
        f.write((1 << 50).to_bytes(8, "big"))
    out["truncated"] = os.path.join(d, "truncated.ova")
    with open(out["ova"], "rb") as f, open(out["truncated"], "wb") as g:
        g.write(f.read(os.path.getsize(out["ova"]) * 2 // 3))
    yield out
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def lib(host):
    """A namespace with a VM class and a writable library that allows imports."""
    ns = "img-" + uuid.uuid4().hex[:8]
    host.kubectl("apply", "-f", "-", input=yaml.safe_dump_all([
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}},
        {"apiVersion": "vmoperator.vmware.com/v1alpha2", "kind": "VirtualMachineClass",
         "metadata": {"name": "small", "namespace": ns},
         "spec": {"hardware": {"cpus": 1, "memory": "256Mi"}}},
        {"apiVersion": API, "kind": "ContentLibrary",
         "metadata": {"name": "lib", "namespace": ns,
                      "labels": {"imageregistry.vmware.com/default": "true"}},
         "spec": {"writable": True, "allowImport": True}}]))
    c = wait_for(lambda: cond(host.kubectl_json("get", "contentlibrary", "lib", "-n", ns), "Ready"),
                 what="the library to be ready")
    assert c["status"] == "True", c
    yield ns
    host.kubectl("delete", "namespace", ns, "--wait=false", check=False)


def cond(obj, t):
    for c in obj.get("status", {}).get("conditions", []):
        if c["type"] == t:
            return c
    return None


def library_dir(host, ns, name="lib"):
    l = host.kubectl_json("get", "contentlibrary", name, "-n", ns)
    d = l["status"]["storageBacking"]["datastoreID"]
    assert d.startswith(host.data_dir), d
    return d


def import_request(host, ns, url, item, sha=None, item_type=None, name=None):
    name = name or "imp-" + uuid.uuid4().hex[:6]
    spec = {"source": {"url": url},
            "target": {"library": {"apiVersion": API, "kind": "ContentLibrary", "name": "lib"},
                       "item": {"name": item}}}
    if sha:
        spec["source"]["checksum"] = {"algorithm": "SHA256", "value": sha}
    if item_type:
        spec["target"]["item"]["type"] = item_type
    host.kubectl("apply", "-n", ns, "-f", "-", input=yaml.safe_dump({
        "apiVersion": API, "kind": "ContentLibraryItemImportRequest",
        "metadata": {"name": name}, "spec": spec}))
    return name


def wait_import(host, ns, name, timeout=120):
    """The request once it finished (Complete true, or a completion time)."""
    def done():
        r = host.kubectl_json("get", "contentlibraryitemimportrequest", name, "-n", ns)
        c = cond(r, "Complete")
        if c and (c["status"] == "True" or r["status"].get("completionTime")):
            return r
        return None
    try:
        return wait_for(done, timeout=timeout, what="import %s to finish" % name)
    except AssertionError as e:
        raise AssertionError("%s\n%s" % (e, "\n".join(host.log().splitlines()[-30:]))) from None


def image_of(host, ns, display):
    imgs = [i for i in host.kubectl_json("get", "vmi", "-n", ns)["items"]
            if i.get("status", {}).get("name") == display]
    return imgs[0] if len(imgs) == 1 else None


def assert_nothing_left(host, ns, display):
    """No item, no image, no files (also no staging leftovers) in the library."""
    d = library_dir(host, ns)
    items = [i for i in host.kubectl_json("get", "contentlibraryitems", "-n", ns)["items"]
             if i.get("status", {}).get("name") == display]
    assert not items, items
    assert image_of(host, ns, display) is None
    wait_for(lambda: _only_known_items(host, ns, d), timeout=20,
             what="the library directory to hold only its items")


def _only_known_items(host, ns, d):
    uuids = {i["spec"]["uuid"] for i in host.kubectl_json("get", "contentlibraryitems", "-n", ns)["items"]}
    present = {os.path.basename(p) for p in glob.glob(os.path.join(d, "*"))}
    staging = glob.glob(os.path.join(d, ".staging", "*"))
    return present <= uuids and not staging


def qemu_info(path):
    return json.loads(run("qemu-img", "info", "-U", "--output=json", path).stdout)


def test_library_imports_qcow2_ova_iso_and_a_vm_boots_from_the_ova(host, lib, files):
    ns = lib
    l = host.kubectl_json("get", "contentlibrary", "lib", "-n", ns)
    assert l["spec"]["uuid"] and l["status"]["type"] == "Local"
    assert l["status"]["storageBacking"]["type"] == "Datastore"
    # The qcow2 from a terminal, with progress.
    p = subprocess.run(host.prefix() + [VMSVC, "image", "import", files["qcow2"], "--library", "lib",
                                        "-n", ns, "--name", "tiny-qcow2", "--data-dir", host.data_dir],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "100%" in p.stderr and "import request" in p.stderr, p.stderr
    vmi_qcow2 = p.stdout.strip()
    # The OVA and the ISO through kubectl, checked against their digests.
    ova = import_request(host, ns, "file://" + files["ova"], "tiny-ova", sha=sha256(files["ova"]))
    iso = import_request(host, ns, "file://" + files["iso"], "tools", item_type="ISO")
    for name in (ova, iso):
        r = wait_import(host, ns, name)
        assert cond(r, "Complete")["status"] == "True", r["status"]
        for t in ("SourceValid", "TargetValid", "ContentLibraryItemCreated", "TemplateUploaded",
                  "ContentLibraryItemReady"):
            assert cond(r, t)["status"] == "True", (t, r["status"])
        assert r["status"]["itemRef"]["kind"] == "ContentLibraryItem"
        ups = r["status"]["fileUploadStatus"]
        assert ups and all(u["transferStatus"] == "Ready" for u in ups["fileUploads"]), ups
        assert r["status"]["startTime"] and r["status"]["completionTime"]

    # Items and images.
    items = {i["status"]["name"]: i for i in host.kubectl_json("get", "contentlibraryitems", "-n", ns)["items"]}
    assert set(items) == {"tiny-qcow2", "tiny-ova", "tools"}, list(items)
    for i in items.values():
        assert cond(i, "Ready")["status"] == "True", i["status"]
        assert i["status"]["contentLibraryRef"] == {"kind": "ContentLibrary", "name": "lib"}
        assert i["status"]["cached"] is True and i["status"]["sizeInBytes"] > 0
        assert i["status"]["fileInfo"], i["status"]
    assert items["tools"]["status"]["type"] == "ISO" and items["tiny-ova"]["status"]["type"] == "OVF"
    q = wait_for(lambda: image_of(host, ns, "tiny-qcow2"), what="the qcow2's image")
    assert q["metadata"]["name"] == vmi_qcow2
    o = wait_for(lambda: image_of(host, ns, "tiny-ova"), what="the OVA's image")
    i = wait_for(lambda: image_of(host, ns, "tools"), what="the ISO's image")
    for img, item in ((q, "tiny-qcow2"), (o, "tiny-ova"), (i, "tools")):
        assert img["metadata"]["name"] == "vmi-" + items[item]["metadata"]["name"].split("-", 1)[1]
        assert img["spec"]["providerRef"]["name"] == items[item]["metadata"]["name"]
        assert img["status"]["providerItemID"] == items[item]["spec"]["uuid"]
        assert cond(img, "Ready")["status"] == "True"
    assert i["status"]["type"] == "ISO" and q["status"]["type"] == "OVF"
    st = o["status"]
    assert st["firmware"] == "bios"
    assert st["productInfo"]["product"] == "Tiny" and st["productInfo"]["vendor"] == "vmsvc tests"
    assert st["productInfo"]["version"] == "1.0" and st["productInfo"]["fullVersion"] == "1.0-test"
    assert st["osInfo"]["type"] == "otherLinux64Guest" and st["osInfo"]["id"] == "101"
    assert [p["key"] for p in st["ovfProperties"]] == ["hostname"]
    assert st["disks"][0]["capacity"] == "13Mi", st["disks"]
    assert o["metadata"]["labels"]["os.image.vmoperator.vmware.com/type"] == "otherLinux64Guest"
    # The library keeps standalone qcow2 disks and the ISO as it came.
    d = library_dir(host, ns)
    disk = glob.glob(os.path.join(d, items["tiny-ova"]["spec"]["uuid"], "*.qcow2"))
    assert len(disk) == 1 and qemu_info(disk[0])["format"] == "qcow2"
    assert "backing-filename" not in qemu_info(disk[0])
    run("qemu-img", "check", "-U", disk[0])
    isof = glob.glob(os.path.join(d, items["tools"]["spec"]["uuid"], "*.iso"))
    assert len(isof) == 1 and sha256(isof[0]) == sha256(files["iso"])
    assert not glob.glob(os.path.join(d, ".staging", "*"))

    # A VM boots from the OVA's image, named by its display name.
    host.kubectl("apply", "-n", ns, "-f", "-", input=yaml.safe_dump({
        "apiVersion": "vmoperator.vmware.com/v1alpha2", "kind": "VirtualMachine",
        "metadata": {"name": "from-ova"},
        "spec": {"className": "small", "imageName": "tiny-ova", "storageClass": "default"}}))
    v = wait_guest(host, ns, "from-ova", "ready", timeout=120)
    assert v["status"]["image"] == {"kind": "VirtualMachineImage", "name": o["metadata"]["name"]} or \
        v["status"]["image"]["name"] == o["metadata"]["name"], v["status"]["image"]

    # Deleting an item removes its image and its files; the VM made from it
    # runs on, its disk backed by its own link to the image's file.
    for item in ("tools", "tiny-ova"):
        host.kubectl("delete", "contentlibraryitem", items[item]["metadata"]["name"], "-n", ns,
                     "--timeout=30s")
        wait_for(lambda: image_of(host, ns, item) is None, what="the image of %s to go" % item)
        wait_for(lambda: not os.path.exists(os.path.join(d, items[item]["spec"]["uuid"])),
                 what="the files of %s to go" % item)
    base = os.path.join(host.data_dir, "vms", v["metadata"]["uid"], "base.img")
    assert os.path.exists(base) and qemu_info(base)["format"] == "qcow2"
    time.sleep(2)
    v = vm(host, ns, "from-ova")
    assert v["status"]["powerState"] == "PoweredOn", v["status"]
    assert [p for p in host.qemu_pids() if v["metadata"]["uid"] in open("/proc/%d/cmdline" % p).read()]
    host.kubectl("delete", "vm", "from-ova", "-n", ns, "--timeout=60s", check=False)


def test_publish_running_vm_and_boot_from_the_published_image(host, lib, files):
    """The guest writes a marker to its disk; the VM is published while it
    runs; a second VM boots from the published image and finds the marker."""
    ns = lib
    mark = MARKER.decode()
    host.kubectl("create", "secret", "generic", "writer", "-n", ns,
                 "--from-literal=user-data=#cloud-config\n#vmsvc: write-marker %s\n" % mark)
    host.kubectl("create", "secret", "generic", "reader", "-n", ns,
                 "--from-literal=user-data=#cloud-config\n#vmsvc: read-marker\n")
    host.kubectl("apply", "-n", ns, "-f", "-", input=yaml.safe_dump({
        "apiVersion": "vmoperator.vmware.com/v1alpha2", "kind": "VirtualMachine",
        "metadata": {"name": "src"},
        "spec": {"className": "small", "imageName": host.images["tiny"], "storageClass": "default",
                 "bootstrap": {"cloudInit": {"rawCloudConfig": {"name": "writer", "key": "user-data"}}}}}))
    wait_guest(host, ns, "src", "marker-written=" + mark, timeout=240)
    wait_guest(host, ns, "src", "ready", timeout=60)
    host.kubectl("apply", "-n", ns, "-f", "-", input=yaml.safe_dump({
        "apiVersion": "vmoperator.vmware.com/v1alpha2", "kind": "VirtualMachinePublishRequest",
        "metadata": {"name": "src"}, "spec": {}}))

    def complete():
        p = host.kubectl_json("get", "virtualmachinepublishrequest", "src", "-n", ns)
        c = cond(p, "Complete")
        return p if c and c["status"] == "True" else None
    try:
        p = wait_for(complete, timeout=180, what="the publication")
    except AssertionError as e:
        p = host.kubectl_json("get", "virtualmachinepublishrequest", "src", "-n", ns)
        raise AssertionError("%s\n%s\n%s" % (e, json.dumps(p.get("status"), indent=1),
                                             "\n".join(host.log().splitlines()[-30:]))) from None
    # The defaults: the VM of the request's name, "<vm>-image", the default library.
    assert p["status"]["sourceRef"]["name"] == "src"
    assert p["status"]["targetRef"]["item"]["name"] == "src-image"
    assert p["status"]["targetRef"]["location"]["name"] == "lib"
    for t in ("SourceValid", "TargetValid", "Uploaded", "ImageAvailable"):
        assert cond(p, t)["status"] == "True", (t, p["status"])
    assert p["status"]["attempts"] == 1 and p["status"]["completionTime"]
    img = image_of(host, ns, "src-image")
    assert img and p["status"]["imageName"] == img["metadata"]["name"], (img, p["status"])
    # The source VM ran through it all.
    assert vm(host, ns, "src")["status"]["powerState"] == "PoweredOn"

    # A standalone, consistent qcow2 that holds what the VM's disk held.
    item = [i for i in host.kubectl_json("get", "contentlibraryitems", "-n", ns)["items"]
            if i["status"].get("name") == "src-image"][0]
    disk = glob.glob(os.path.join(library_dir(host, ns), item["spec"]["uuid"], "*.qcow2"))
    assert len(disk) == 1, disk
    info = qemu_info(disk[0])
    assert info["format"] == "qcow2" and "backing-filename" not in info, info
    run("qemu-img", "check", "-U", disk[0])
    raw = os.path.join(files["dir"], "published.raw")
    run("qemu-img", "convert", "-U", "-O", "raw", disk[0], raw)
    with open(raw, "rb") as f:
        f.seek(MARKER_OFFSET)
        assert f.read(len(MARKER)) == MARKER
    os.unlink(raw)

    # A second VM boots from the published image.
    host.kubectl("apply", "-n", ns, "-f", "-", input=yaml.safe_dump({
        "apiVersion": "vmoperator.vmware.com/v1alpha2", "kind": "VirtualMachine",
        "metadata": {"name": "second"},
        "spec": {"className": "small", "imageName": "src-image", "storageClass": "default",
                 "bootstrap": {"cloudInit": {"rawCloudConfig": {"name": "reader", "key": "user-data"}}}}}))
    v = wait_guest(host, ns, "second", "disk-marker=" + mark, timeout=240)
    assert v["status"]["image"]["name"] == img["metadata"]["name"]
    for n in ("src", "second"):
        host.kubectl("delete", "vm", n, "-n", ns, "--timeout=60s", check=False)


def pub(host, ns, name, spec):
    host.kubectl("apply", "-n", ns, "-f", "-", input=yaml.safe_dump({
        "apiVersion": "vmoperator.vmware.com/v1alpha2", "kind": "VirtualMachinePublishRequest",
        "metadata": {"name": name}, "spec": spec}))

    def cond_of(t):
        return lambda: cond(host.kubectl_json("get", "virtualmachinepublishrequest", name, "-n", ns), t)
    return cond_of


def test_requests_are_validated_and_expire(host, lib, files):
    ns = lib
    # A publication of a VM that does not exist, then an attempt to retarget it.
    c = wait_for(pub(host, ns, "ghost", {"source": {"name": "ghost"}})("SourceValid"), what="SourceValid")
    assert c["status"] == "False" and c["reason"] == "SourceVirtualMachineNotExist", c
    p = host.kubectl("patch", "virtualmachinepublishrequest", "ghost", "-n", ns, "--type=merge",
                     "-p", '{"spec":{"source":{"name":"other"}}}', check=False)
    assert p.returncode != 0 and "immutable" in p.stderr, p.stderr
    # The target it left out (to be defaulted) cannot be given later either.
    p = host.kubectl("patch", "virtualmachinepublishrequest", "ghost", "-n", ns, "--type=merge",
                     "-p", '{"spec":{"target":{"item":{"name":"later"}}}}', check=False)
    assert p.returncode != 0 and "spec.target: field is immutable" in p.stderr, p.stderr
    # A stopped VM; a library that is not writable; an item name in use.
    host.kubectl("apply", "-n", ns, "-f", "-", input=yaml.safe_dump_all([
        {"apiVersion": API, "kind": "ContentLibrary", "metadata": {"name": "ro"},
         "spec": {"writable": False, "allowImport": False}},
        {"apiVersion": "vmoperator.vmware.com/v1alpha2", "kind": "VirtualMachine",
         "metadata": {"name": "off"},
         "spec": {"className": "small", "imageName": host.images["tiny"], "storageClass": "default",
                  "powerState": "PoweredOff"}}]))
    wait_for(lambda: (cond(vm(host, ns, "off"), "VirtualMachineCreated") or {}).get("status") == "True",
             what="the VM to be created")
    c = wait_for(pub(host, ns, "to-ro", {"source": {"name": "off"},
                                          "target": {"location": {"name": "ro"}}})("TargetValid"),
                 what="TargetValid")
    assert c["status"] == "False" and c["reason"] == "TargetContentLibraryNotWritable", c
    r = wait_import(host, ns, import_request(host, ns, "file://" + files["qcow2"], "taken"))
    assert cond(r, "Complete")["status"] == "True"
    c = wait_for(pub(host, ns, "dup", {"source": {"name": "off"},
                                        "target": {"item": {"name": "taken"}}})("TargetValid"),
                 what="TargetValid")
    assert c["status"] == "False" and c["reason"] == "TargetItemAlreadyExists", c
    # A stopped VM publishes too (its disk is converted).
    pub(host, ns, "off", {"ttlSecondsAfterFinished": 3})
    assert wait_for(lambda: image_of(host, ns, "off-image"), timeout=180,
                    what="the stopped VM's published image")
    # Finished requests go after their time to live; what they made stays.
    wait_for(lambda: host.kubectl("get", "virtualmachinepublishrequest", "off", "-n", ns,
                                  check=False).returncode != 0, timeout=30, what="the request to expire")
    assert image_of(host, ns, "off-image")
    # Imports into a library that does not allow them are refused.
    host.kubectl("apply", "-n", ns, "-f", "-", input=yaml.safe_dump({
        "apiVersion": API, "kind": "ContentLibraryItemImportRequest", "metadata": {"name": "into-ro"},
        "spec": {"source": {"url": "file://" + files["qcow2"]},
                 "target": {"library": {"apiVersion": API, "kind": "ContentLibrary", "name": "ro"}}}}))
    c = wait_for(lambda: cond(host.kubectl_json("get", "clitemimport", "into-ro", "-n", ns), "TargetValid"),
                 what="TargetValid")
    assert c["status"] == "False" and c["reason"] == "TargetLibraryInvalid", c
    host.kubectl("delete", "vm", "off", "-n", ns, "--timeout=60s", check=False)


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_failed_imports_leave_nothing(host, lib, files):
    ns = lib
    cases = [
        ("corrupt", "file://" + files["corrupt"], None),
        ("truncated", "file://" + files["truncated"], None),
        ("badsum", "file://" + files["qcow2"], "0" * 64),
        # Nothing listens there: the namespace has only loopback.  The
        # credentials in the URL are shown nowhere.
        ("unreachable", "http://user:s3cret-pw@127.0.0.1:%d/tiny.qcow2?token=s3cret-tok" % closed_port(),
         None),
    ]
    reqs = {item: import_request(host, ns, url, item, sha=sha) for item, url, sha in cases}
    for item, name in reqs.items():
        r = wait_import(host, ns, name)
        c = cond(r, "Complete")
        assert c["status"] == "False" and c["reason"] == "UploadFailure", (item, r["status"])
        assert cond(r, "TemplateUploaded")["status"] == "False"
        assert cond(r, "ContentLibraryItemReady")["status"] == "False"
        assert c["message"], item
        evs = host.kubectl_json("get", "events", "-n", ns, "--field-selector",
                                "involvedObject.name=" + name)["items"]
        assert "UploadFailure" in [e["reason"] for e in evs], (item, evs)
        assert_nothing_left(host, ns, item)
    msg = {item: cond(host.kubectl_json("get", "clitemimport", name, "-n", ns), "Complete")["message"]
           for item, name in reqs.items()}
    assert "checksum" in msg["badsum"].lower() or "sha" in msg["badsum"].lower(), msg
    assert "127.0.0.1" in msg["unreachable"] and "s3cret" not in msg["unreachable"], msg
    evs = host.kubectl("get", "events", "-n", ns, "-o", "yaml").stdout
    assert "UploadFailure" in evs and "s3cret" not in evs
    assert "s3cret" not in host.log()
    # A bad request is refused by the API itself.
    p = host.kubectl("apply", "-n", ns, "-f", "-", check=False, input=yaml.safe_dump({
        "apiVersion": API, "kind": "ContentLibraryItemImportRequest", "metadata": {"name": "nourl"},
        "spec": {"source": {}, "target": {"library": {"kind": "ContentLibrary", "name": "lib"}}}}))
    assert p.returncode != 0 or cond(host.kubectl_json("get", "clitemimport", "nourl", "-n", ns),
                                     "SourceValid") is not None


HTTP_SERVER = r"""
import functools, http.server, ssl, sys, time
class H(http.server.SimpleHTTPRequestHandler):
    def copyfile(self, src, dst):
        delay = float(sys.argv[3])
        while True:
            b = src.read(64 << 10)
            if not b:
                break
            dst.write(b)
            time.sleep(delay)
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])),
                                    functools.partial(H, directory=sys.argv[2]))
if len(sys.argv) > 4:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[4], sys.argv[5])
    s.socket = ctx.wrap_socket(s.socket, server_side=True)
print("ready", flush=True)
s.serve_forever()
"""


class HttpServer:
    """python3 http.server on 127.0.0.1 inside the server's namespace; HTTPS
    with `tls` = (certificate file, key file)."""

    def __init__(self, server, directory, delay=0.0, tls=None):
        self.port = closed_port()
        self.scheme = "https" if tls else "http"
        self.proc = subprocess.Popen(server.prefix() + [sys.executable, "-c", HTTP_SERVER, str(self.port),
                                                        directory, str(delay)] + list(tls or ()),
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready"

    def url(self, name):
        return "%s://127.0.0.1:%d/%s" % (self.scheme, self.port, name)

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None


def test_full_disk_leaves_nothing(host, lib, files):
    """A library on an 8 MiB file system: a 13 MiB qcow2 is refused before
    any copy, a download of the same size fails when the disk fills up."""
    ns = lib
    mnt = tempfile.mkdtemp(prefix="vmsvc-full-")
    # In the server's mount namespace (`ip netns exec` made it one).
    in_server = ["nsenter", "-t", str(host.pid), "-m"]
    run(*in_server, "mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", mnt)
    web = None
    try:
        host.kubectl("apply", "-n", ns, "-f", "-", input=yaml.safe_dump({
            "apiVersion": API, "kind": "ContentLibrary",
            "metadata": {"name": "small", "annotations": {"vmsvc.dev/storage-path": mnt}},
            "spec": {"writable": True, "allowImport": True}}))
        l = wait_for(lambda: (lambda x: x if (cond(x, "Ready") or {}).get("status") == "True" else None)(
            host.kubectl_json("get", "contentlibrary", "small", "-n", ns)), what="the library")
        assert l["status"]["storageBacking"]["type"] == "Other"
        web = HttpServer(host, files["dir"])
        reqs = []
        for item, url in (("too-big", "file://" + files["qcow2"]), ("fills-up", web.url("tiny.qcow2"))):
            name = "imp-" + item
            host.kubectl("apply", "-n", ns, "-f", "-", input=yaml.safe_dump({
                "apiVersion": API, "kind": "ContentLibraryItemImportRequest", "metadata": {"name": name},
                "spec": {"source": {"url": url},
                         "target": {"library": {"apiVersion": API, "kind": "ContentLibrary", "name": "small"},
                                    "item": {"name": item}}}}))
            reqs.append(name)
        for name in reqs:
            r = wait_import(host, ns, name)
            c = cond(r, "Complete")
            assert c["status"] == "False" and c["reason"] == "UploadFailure", r["status"]
            assert "space" in c["message"].lower(), c
        assert not [i for i in host.kubectl_json("get", "contentlibraryitems", "-n", ns)["items"]
                    if i["status"].get("contentLibraryRef", {}).get("name") == "small"]
        left = run(*in_server, "find", mnt, "-type", "f").stdout.split()
        assert not left, left
        used = int(run(*in_server, "df", "-B1", "--output=used", mnt).stdout.split()[-1])
        assert used < 256 << 10, used
    finally:
        if web:
            web.stop()
        host.kubectl("delete", "contentlibrary", "small", "-n", ns, "--timeout=30s", check=False)
        subprocess.run(in_server + ["umount", mnt], check=False)
        os.rmdir(mnt)


def test_http_import_with_checksum(host, lib, files):
    ns = lib
    web = HttpServer(host, files["dir"])
    try:
        r = wait_import(host, ns, import_request(host, ns, web.url("tiny.ova"), "web-ova",
                                                 sha=sha256(files["ova"])))
        # An OVF descriptor: its disk is fetched from beside it.
        r2 = wait_import(host, ns, import_request(host, ns, web.url("tiny.ovf"), "web-ovf"))
    finally:
        web.stop()
    for item, req in (("web-ova", r), ("web-ovf", r2)):
        assert cond(req, "Complete")["status"] == "True", req["status"]
        img = wait_for(lambda: image_of(host, ns, item), what="the image of " + item)
        assert img["status"]["productInfo"]["product"] == "Tiny"
        assert img["status"]["disks"][0]["capacity"] == "13Mi", img["status"]


def self_signed(directory, name):
    """A self-signed certificate for a name that is not the server's address."""
    crt, key = os.path.join(directory, name + ".crt"), os.path.join(directory, name + ".key")
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
        "/CN=%s.example" % name, "-keyout", key, "-out", crt)
    return crt, key


def test_https_import_trusts_the_given_certificate(host, lib, files):
    """Over HTTPS the item's certificate is the one trusted: with it the
    import completes (whatever the name in it); without it, or with another
    one, it fails and leaves nothing."""
    ns = lib
    d = tempfile.mkdtemp(prefix="vmsvc-tls-")
    crt, key = self_signed(d, "images")
    other, _ = self_signed(d, "other")
    web = HttpServer(host, files["dir"], tls=(crt, key))
    names = {}
    try:
        for item, pem in (("tls-ok", crt), ("tls-none", None), ("tls-other", other)):
            name = "imp-" + item
            source = {"url": web.url("tiny.qcow2")}
            if pem:
                with open(pem) as f:
                    source["sslCertificate"] = f.read()
            host.kubectl("apply", "-n", ns, "-f", "-", input=yaml.safe_dump({
                "apiVersion": API, "kind": "ContentLibraryItemImportRequest", "metadata": {"name": name},
                "spec": {"source": source,
                         "target": {"library": {"apiVersion": API, "kind": "ContentLibrary", "name": "lib"},
                                    "item": {"name": item}}}}))
            names[item] = name
        done = {item: wait_import(host, ns, name) for item, name in names.items()}
    finally:
        web.stop()
        shutil.rmtree(d)
    assert cond(done["tls-ok"], "Complete")["status"] == "True", done["tls-ok"]["status"]
    assert wait_for(lambda: image_of(host, ns, "tls-ok"), what="the image of tls-ok")
    for item in ("tls-none", "tls-other"):
        c = cond(done[item], "Complete")
        assert c["status"] == "False" and c["reason"] == "UploadFailure", (item, done[item]["status"])
        assert "certificate" in c["message"].lower(), c
        assert not image_of(host, ns, item)
    items = [i["status"].get("name") for i in host.kubectl_json("get", "contentlibraryitems", "-n", ns)["items"]]
    assert "tls-none" not in items and "tls-other" not in items, items


def test_restart_mid_import(files, tiny_image):
    """The server dies (SIGKILL) while an import copies.  At the next start
    the partial file goes and the import starts over: with its source still
    there it completes whole; with its source gone it ends failed, and
    nothing is left in the library."""
    big = os.path.join(files["dir"], "big.raw")
    web = None
    try:
        with isolated_server("vmsvc-e2e") as s:
            s.kubectl("apply", "-f", "-", input=yaml.safe_dump({
                "apiVersion": API, "kind": "ContentLibrary", "metadata": {"name": "lib", "namespace": "default"},
                "spec": {"writable": True, "allowImport": True}}))
            wait_for(lambda: (cond(s.kubectl_json("get", "contentlibrary", "lib"), "Ready") or {}).get("status") == "True")
            with open(big, "wb") as f:
                f.write(os.urandom(8 << 20))
            lib_dir = library_dir(s, "default")

            def kill_while_copying(name):
                def copying():
                    r = s.kubectl_json("get", "clitemimport", name)
                    ups = (r.get("status", {}).get("fileUploadStatus") or {}).get("fileUploads") or []
                    return any(u.get("bytesTransferred", 0) > 0 for u in ups) and \
                        glob.glob(os.path.join(lib_dir, ".staging", "*", "*"))
                wait_for(copying, timeout=30, interval=0.05, what="the copy to start")
                s.kill9()
                assert glob.glob(os.path.join(lib_dir, ".staging", "*", "*")), "a partial file was there"

            # 8 MiB at 64 KiB per 50 ms: about 6 s.
            web = HttpServer(s, files["dir"], delay=0.05)
            name = import_request(s, "default", web.url("big.raw"), "big", sha=sha256(big))
            kill_while_copying(name)
            s.start()
            r = wait_import(s, "default", name)
            assert cond(r, "Complete")["status"] == "True", r["status"]
            item = r["status"]["itemRef"]["name"]
            uid = s.kubectl_json("get", "contentlibraryitem", item)["spec"]["uuid"]
            disk = glob.glob(os.path.join(lib_dir, uid, "*.qcow2"))
            assert len(disk) == 1
            raw = os.path.join(files["dir"], "big.back")
            run("qemu-img", "convert", "-U", "-O", "raw", disk[0], raw)
            assert sha256(raw) == sha256(big), "the import is whole"
            os.unlink(raw)
            assert not glob.glob(os.path.join(lib_dir, ".staging", "*"))

            # Again, and the source is gone when the server comes back.
            name = import_request(s, "default", web.url("big.raw"), "big-2")
            kill_while_copying(name)
            web.stop()
            s.start()
            r = wait_import(s, "default", name)
            c = cond(r, "Complete")
            assert c["status"] == "False" and c["reason"] == "UploadFailure", r["status"]
            assert_nothing_left(s, "default", "big-2")
    finally:
        if os.path.exists(big):
            os.unlink(big)
        if web:
            web.stop()
