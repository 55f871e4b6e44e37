"""Guest networking: Networks and their address pools, NetworkInterfaces,
guest configuration through the seed, readiness probes, and the conditions
of what cannot be allocated.

Every server here runs in a network namespace the test makes, so the
bridges, taps and nftables rules it creates, and every packet the tests
send, stay inside it.  Tests that need no real guest run the fake
hypervisor."""
import json
import subprocess
import threading

import pytest
import yaml

from conftest import isolated_server
from test_vm import diagnose, guest_lines, import_image, tiny_image, vm, wait_for, wait_guest  # noqa: F401  (tiny_image: a fixture)

SHELL_PORT = 9000



def apply(s, *docs, ns=None):
    args = ["apply", "-f", "-"] + (["-n", ns] if ns else [])
    s.kubectl(*args, input=yaml.safe_dump_all(docs))


def vm_doc(name, ns, user_data=None, **spec):
    s = {"className": "small", "imageName": "tiny", "storageClass": "default",
         "powerState": "PoweredOn"}
    if user_data:
        s["bootstrap"] = {"cloudInit": {"rawCloudConfig": {"name": name, "key": "user-data"}}}
    s.update(spec)
    return {"apiVersion": "vmoperator.vmware.com/v1alpha2", "kind": "VirtualMachine",
            "metadata": {"name": name, "namespace": ns}, "spec": s}


def secret_doc(name, ns, user_data):
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns},
            "stringData": {"user-data": user_data}}


def network_doc(name, ns, gateway, ranges=None, bridge=None):
    spec = {"gateway4": gateway}
    if ranges:
        spec["ipRanges"] = ranges
    if bridge:
        spec["bridge"] = {"name": bridge, "managed": True, "nat": True}
    return {"apiVersion": "netoperator.vmware.com/v1alpha1", "kind": "Network",
            "metadata": {"name": name, "namespace": ns}, "spec": spec}


def cond(v, t):
    for c in v.get("status", {}).get("conditions", []):
        if c["type"] == t:
            return c
    return None


def guest_sh(s, ip, cmd, timeout=30):
    """Run a shell command in a tiny guest through its shell-port hook (a
    TCP connection from the server's namespace); returns its output."""
    # A guest under TCG on a loaded host can miss ARP for a moment even
    # after it said ready: an unreachable or refused connect is tried again
    # until the timeout.
    code = ("import errno,socket,sys,time\n"
            "end=time.monotonic()+%d\n"
            "while True:\n"
            "    try:\n"
            "        c=socket.create_connection((sys.argv[1],%d),timeout=%d); break\n"
            "    except OSError as e:\n"
            "        if e.errno not in (errno.EHOSTUNREACH,errno.ECONNREFUSED) or time.monotonic()>end: raise\n"
            "        time.sleep(0.5)\n"
            "c.sendall(sys.argv[2].encode()+b'\\n'); c.shutdown(socket.SHUT_WR)\n"
            "out=b''\n"
            "while True:\n"
            "    b=c.recv(4096)\n"
            "    if not b: break\n"
            "    out+=b\n"
            "sys.stdout.write(out.decode(errors='replace'))\n") % (timeout, SHELL_PORT, timeout)
    p = subprocess.run(s.prefix() + ["/usr/bin/python3", "-c", code, ip, cmd],
                       capture_output=True, text=True, timeout=timeout + 10)
    if p.returncode != 0:
        raise AssertionError("guest shell on %s failed: %s" % (ip, p.stderr[-1000:]))
    return p.stdout


def tcp_open(s, ip, port):
    code = ("import socket,sys\n"
            "try:\n"
            "    socket.create_connection((sys.argv[1],int(sys.argv[2])),timeout=5).close()\n"
            "except OSError:\n"
            "    sys.exit(1)\n")
    return subprocess.run(s.prefix() + ["/usr/bin/python3", "-c", code, ip, str(port)],
                          capture_output=True).returncode == 0


# ---- real guests ---------------------------------------------------------------

@pytest.fixture(scope="module")
def nethost(tiny_image):
    with isolated_server("vmsvc-net", ["--accel", "tcg", "--soft-shutdown-timeout", "5",
                                       "--allocatable", "cpu=2,memory=1Gi"]) as s:
        import_image(s, tiny_image, "tiny")
        apply(s, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "net"}},
              {"apiVersion": "vmoperator.vmware.com/v1alpha2", "kind": "VirtualMachineClass",
               "metadata": {"name": "small", "namespace": "net"},
               "spec": {"hardware": {"cpus": 1, "memory": "256Mi"}}})
        yield s


@pytest.fixture(scope="module")
def pair(nethost):
    """Two tiny guests on the default network: g-a with a TCP readiness
    probe on port 8080, g-b with a guestInfo probe; both run a shell on
    SHELL_PORT for the tests."""
    s = nethost
    ud = "#cloud-config\n#vmsvc: shell-port %d\n" % SHELL_PORT
    apply(s, secret_doc("g-a", "net", ud), secret_doc("g-b", "net", ud),
          vm_doc("g-a", "net", ud, readinessProbe={"tcpSocket": {"port": 8080}, "periodSeconds": 1,
                                                   "timeoutSeconds": 1}),
          vm_doc("g-b", "net", ud, readinessProbe={
              "guestInfo": [{"key": "app.state", "value": "^run"}], "periodSeconds": 1}))
    try:
        for n in ["g-a", "g-b"]:
            wait_guest(s, "net", n, "ready", timeout=420)
    except AssertionError as e:
        raise AssertionError("%s\n%s" % (e, diagnose(s, "net", "g-a"))) from None
    return s


def primary_ip(s, name):
    return wait_for(lambda: vm(s, "net", name).get("status", {}).get("network", {}).get("primaryIP4"),
                    what="the primary IP of %s" % name)


def test_two_guests_get_distinct_addresses_and_reach_each_other(pair):
    s = pair
    ips = {n: primary_ip(s, n) for n in ["g-a", "g-b"]}
    assert ips["g-a"] != ips["g-b"] and all(ip.startswith("10.200.") for ip in ips.values()), ips
    for n, ip in ips.items():
        v = vm(s, "net", n)
        nif = s.kubectl_json("get", "networkinterfaces", n + "-eth0", "-n", "net")
        mac = nif["status"]["macAddress"]
        assert nif["status"]["ipConfigs"][0]["ip"] == ip
        assert nif["metadata"]["ownerReferences"][0]["uid"] == v["metadata"]["uid"]
        # The guest applied what its seed's network-config said (matched by MAC).
        line = "iface=eth0 mac=%s address=%s/16 gateway=10.200.0.1 mtu=1500" % (mac, ip)
        assert line in guest_lines(s, v), guest_lines(s, v)
        st = v["status"]["network"]
        assert st["interfaces"][0]["ip"]["macAddr"] == mac
        # No guest agent in the tiny guest: the addresses are the allocation's.
        assert st["interfaces"][0]["ip"]["addresses"] == [
            {"address": ip + "/16", "origin": "manual", "state": "preferred"}], st
    # The host reaches each guest, and each guest the other.
    assert "hello" in guest_sh(s, ips["g-a"], "echo hello")
    out = guest_sh(s, ips["g-a"], "ping -c 2 -W 5 %s" % ips["g-b"])
    assert " 0% packet loss" in out, out
    out = guest_sh(s, ips["g-b"], "ping -c 2 -W 5 %s" % ips["g-a"])
    assert " 0% packet loss" in out, out
    # kubectl get vm -o wide shows the primary IP.
    out = s.kubectl("get", "vm", "-n", "net", "-o", "wide").stdout
    assert ips["g-a"] in out and ips["g-b"] in out, out
    pool = s.kubectl_json("get", "networks", "default", "-n", "vmsvc-system")
    assert pool["status"]["addresses"]["used"] >= 2, pool["status"]


def ready(s, name):
    c = cond(vm(s, "net", name), "Ready")
    return c and c["status"]


def test_tcp_probe_follows_the_guest_listening(pair):
    s = pair
    ip = primary_ip(s, "g-a")
    wait_for(lambda: ready(s, "g-a") == "False", timeout=30, what="g-a not Ready (nothing listens)")
    assert cond(vm(s, "net", "g-a"), "Ready")["reason"] == "ProbeFailed"
    guest_sh(s, ip, "nc -ll -p 8080 -e /bin/true </dev/null >/dev/null 2>&1 & echo $! >/tmp/l.pid")
    wait_for(lambda: ready(s, "g-a") == "True", timeout=60, what="g-a Ready once it listens")
    guest_sh(s, ip, "kill $(cat /tmp/l.pid)")
    wait_for(lambda: ready(s, "g-a") == "False", timeout=60, what="g-a not Ready once it stops")


def test_guestinfo_probe_through_the_channel(pair):
    s = pair
    ip = primary_ip(s, "g-b")
    wait_for(lambda: ready(s, "g-b") == "False", timeout=30, what="g-b not Ready (no guestinfo)")
    port = "/dev/virtio-ports/org.vmsvc.guestinfo"
    out = guest_sh(s, ip, "ls -l %s; echo guestinfo.app.state=running > %s" % (port, port))
    assert "org.vmsvc.guestinfo" in out, out
    wait_for(lambda: ready(s, "g-b") == "True", timeout=60, what="g-b Ready once guestinfo says so")
    guest_sh(s, ip, "echo guestinfo.app.state=stopped > %s" % port)
    wait_for(lambda: ready(s, "g-b") == "False", timeout=60, what="g-b not Ready once it changes")


def tcp_read(s, ip, port, n):
    """Open n connections to ip:port from the server's namespace; the
    replies (one line each, or "refused"/"timeout")."""
    code = ("import socket,sys\n"
            "for _ in range(int(sys.argv[3])):\n"
            "    try:\n"
            "        c=socket.create_connection((sys.argv[1],int(sys.argv[2])),timeout=3)\n"
            "        c.settimeout(5); out=b''\n"
            "        while True:\n"
            "            b=c.recv(100)\n"
            "            if not b: break\n"
            "            out+=b\n"
            "        print(out.decode().strip() or 'empty'); c.close()\n"
            "    except ConnectionRefusedError:\n"
            "        print('refused')\n"
            "    except OSError:\n"
            "        print('timeout')\n")
    p = subprocess.run(s.prefix() + ["/usr/bin/python3", "-c", code, ip, str(port), str(n)],
                       capture_output=True, text=True, timeout=30 + 10 * n)
    return p.stdout.split()


def endpoints(s, name):
    r = s.kubectl("get", "endpoints", name, "-n", "net", "-o", "json", check=False)
    if r.returncode != 0:
        return None, None
    subs = json.loads(r.stdout).get("subsets") or [{}]
    return ([a["targetRef"]["name"] for a in subs[0].get("addresses", [])],
            [a["targetRef"]["name"] for a in subs[0].get("notReadyAddresses", [])])


def test_service_spreads_over_ready_vms(pair):
    s = pair
    ips = {n: primary_ip(s, n) for n in ["g-a", "g-b"]}
    port = "/dev/virtio-ports/org.vmsvc.guestinfo"
    # Both answer on 8080 with their host name and are Ready.
    for n, ip in ips.items():
        guest_sh(s, ip, "kill $(cat /tmp/l.pid 2>/dev/null) 2>/dev/null; "
                 "nc -ll -p 8080 -e /bin/hostname </dev/null >/dev/null 2>&1 & echo $! >/tmp/l.pid")
    guest_sh(s, ips["g-b"], "echo guestinfo.app.state=running > %s" % port)
    s.kubectl("label", "vm", "g-a", "g-b", "app=web", "-n", "net", "--overwrite")
    for n in ["g-a", "g-b"]:
        wait_for(lambda: ready(s, n) == "True", timeout=60, what=n + " Ready")
    apply(s, {"apiVersion": "vmoperator.vmware.com/v1alpha2", "kind": "VirtualMachineService",
              "metadata": {"name": "web", "namespace": "net"},
              "spec": {"type": "LoadBalancer", "selector": {"app": "web"},
                       "ports": [{"name": "http", "port": 80, "targetPort": 8080,
                                  "protocol": "TCP"}]}})
    wait_for(lambda: sorted(endpoints(s, "web")[0] or []) == ["g-a", "g-b"], timeout=60,
             what="both VMs as endpoints")
    svc = wait_for(lambda: (lambda v: v if v.get("status", {}).get("loadBalancer", {}).get("ingress")
                            and v["spec"].get("clusterIp") else None)(
        s.kubectl_json("get", "vmservice", "web", "-n", "net")), what="addresses of the service")
    cip = svc["spec"]["clusterIp"]
    ing = svc["status"]["loadBalancer"]["ingress"][0]["ip"]
    assert cip.startswith("10.96.") and ing.startswith("10.97."), (cip, ing)
    ep = s.kubectl_json("get", "endpoints", "web", "-n", "net")
    assert ep["metadata"]["ownerReferences"][0]["name"] == "web"
    assert ep["subsets"][0]["ports"][0]["port"] == 8080
    # Connections to either address spread over both VMs.
    wait_for(lambda: (lambda r: r if set(r) == {"g-a", "g-b"} else None)(tcp_read(s, cip, 80, 20)),
             timeout=60, what="replies from both VMs through the cluster IP")
    assert set(tcp_read(s, ing, 80, 20)) == {"g-a", "g-b"}
    # g-b turns unready: it leaves the endpoints and gets no more connections.
    guest_sh(s, ips["g-b"], "echo guestinfo.app.state=stopped > %s" % port)
    wait_for(lambda: endpoints(s, "web") == (["g-a"], ["g-b"]), timeout=60,
             what="g-b among the not-ready addresses")
    wait_for(lambda: set(tcp_read(s, cip, 80, 20)) == {"g-a"}, timeout=30,
             what="only g-a to answer")
    # loadBalancerSourceRanges: a client outside them is dropped at the ingress address.
    s.kubectl("patch", "vmservice", "web", "-n", "net", "--type=merge", "-p",
              json.dumps({"spec": {"loadBalancerSourceRanges": ["192.0.2.0/24"]}}))
    wait_for(lambda: tcp_read(s, ing, 80, 1) == ["timeout"], timeout=30,
             what="the ingress address to drop the host")
    s.kubectl("patch", "vmservice", "web", "-n", "net", "--type=merge", "-p",
              json.dumps({"spec": {"loadBalancerSourceRanges": ["0.0.0.0/0"]}}))
    wait_for(lambda: tcp_read(s, ing, 80, 1) == ["g-a"], timeout=30, what="the ingress address back")
    # Deleting the service takes its Endpoints and its rules with it.
    s.kubectl("delete", "vmservice", "web", "-n", "net", "--timeout=30s")
    wait_for(lambda: endpoints(s, "web") == (None, None), timeout=30, what="the endpoints to go")
    wait_for(lambda: tcp_read(s, cip, 80, 1) != ["g-a"], timeout=30, what="the cluster IP to stop")


def test_guest_heartbeat_needs_a_guest_agent(pair):
    """The tiny guest runs no qemu-guest-agent: a guestHeartbeat probe
    asks libvirt for a ping, never gets one, and keeps the VM unready with
    the heartbeat's colour in the message."""
    s = pair
    s.kubectl("patch", "vm", "g-b", "-n", "net", "--type=merge", "-p", json.dumps(
        {"spec": {"readinessProbe": {"guestInfo": None, "guestHeartbeat": {"thresholdStatus": "green"},
                                     "periodSeconds": 2, "timeoutSeconds": 1}}}))
    c = wait_for(lambda: (lambda c: c if c and "heartbeat" in c["message"] else None)(
        cond(vm(s, "net", "g-b"), "Ready")), timeout=60, what="the heartbeat's verdict")
    assert c["status"] == "False" and "gray" in c["message"], c


def test_network_bridge_and_nat_follow_the_network(nethost):
    """A managed Network gets its bridge (with the gateway address) and NAT
    rule when its first VM needs them, and loses both once it is gone."""
    s = nethost
    apply(s, network_doc("lab", "net", "10.220.0.1/24", bridge="vmsvc-lab"))
    apply(s, vm_doc("lab-1", "net", network={"interfaces": [{"name": "eth0", "network": {"name": "lab"}}]}))
    wait_for(lambda: vm(s, "net", "lab-1").get("status", {}).get("powerState") == "PoweredOn",
             timeout=120, what="lab-1 powered on")
    ns = s.prefix()
    link = subprocess.run(ns + ["ip", "-br", "addr", "show", "dev", "vmsvc-lab"], capture_output=True, text=True)
    assert "10.220.0.1/24" in link.stdout and "UP" in link.stdout, link.stdout + link.stderr
    rules = subprocess.run(ns + ["nft", "list", "table", "inet", "vmsvc"], capture_output=True, text=True).stdout
    assert "10.220.0.0/24" in rules and "masquerade" in rules, rules
    assert vm(s, "net", "lab-1")["status"]["network"]["primaryIP4"].startswith("10.220.0.")
    s.kubectl("delete", "vm", "lab-1", "-n", "net", "--timeout=60s")
    s.kubectl("delete", "network", "lab", "-n", "net", "--timeout=60s")
    wait_for(lambda: subprocess.run(ns + ["ip", "link", "show", "dev", "vmsvc-lab"],
                                    capture_output=True).returncode != 0, timeout=60,
             what="the bridge to go")
    wait_for(lambda: "10.220.0.0/24" not in subprocess.run(
        ns + ["nft", "list", "table", "inet", "vmsvc"], capture_output=True, text=True).stdout,
        timeout=30, what="the NAT rule to go")


# ---- the allocator, on the fake hypervisor ---------------------------------------

@pytest.fixture
def fakehost():
    with isolated_server("vmsvc-net", ["--hypervisor", "fake"]) as s:
        apply(s, {"apiVersion": "vmoperator.vmware.com/v1alpha2", "kind": "VirtualMachineClass",
                  "metadata": {"name": "small", "namespace": "default"},
                  "spec": {"hardware": {"cpus": 1, "memory": "128Mi"}}})
        yield s


def net_cond(s, name, ns="default"):
    def get():
        c = cond(s.kubectl_json("get", "vm", name, "-n", ns), "VirtualMachineNetworkReady")
        return c
    return wait_for(get, what="the network condition of " + name)


def wait_net_cond(s, name, status, reason=None, ns="default", timeout=30):
    def check():
        c = cond(s.kubectl_json("get", "vm", name, "-n", ns), "VirtualMachineNetworkReady")
        return c if c and c["status"] == status and (reason is None or c["reason"] == reason) else None
    return wait_for(check, timeout=timeout, what="%s: network %s %s" % (name, status, reason))


def events_of(s, name, ns="default"):
    out = s.kubectl_json("get", "events", "-n", ns, "--field-selector", "involvedObject.name=" + name)
    return [(e["reason"], e["message"]) for e in out["items"]]


def link_local(mac):
    """The IPv6 link-local address a Linux guest derives from a MAC."""
    b = [int(x, 16) for x in mac.split(":")]
    b[0] ^= 2
    words = [b[0] << 8 | b[1], b[2] << 8 | 0xff, 0xfe << 8 | b[3], b[4] << 8 | b[5]]
    return "fe80::%s/64" % ":".join("%x" % w for w in words)


def test_guest_agent_addresses_replace_the_allocation(fakehost, tiny_image):
    """With a guest agent that answers (the fake driver's, which reports
    each NIC with only its link-local address), status.network shows the
    guest's own addresses; without one, the allocation's."""
    s = fakehost
    s.stop()
    s.server_env["VMSVC_HV_FAKE_GUEST_AGENT"] = "1"
    s.start()
    import_image(s, tiny_image, "tiny")
    apply(s, vm_doc("ga-1", "default", readinessProbe={"guestHeartbeat": {}, "periodSeconds": 1}))
    nif = wait_for(lambda: s.kubectl_json("get", "networkinterfaces", "ga-1-eth0")
                   .get("status", {}).get("macAddress") and
                   s.kubectl_json("get", "networkinterfaces", "ga-1-eth0"), what="the allocation")
    mac, ip = nif["status"]["macAddress"], nif["status"]["ipConfigs"][0]["ip"]

    def shows(addresses):
        st = vm(s, "default", "ga-1").get("status", {}).get("network", {})
        ifs = st.get("interfaces") or [{}]
        return st if ifs[0].get("ip", {}).get("addresses") == addresses else None
    st = wait_for(lambda: shows([{"address": link_local(mac), "origin": "linklayer"}]),
                  timeout=60, what="the guest agent's addresses")
    assert st["interfaces"][0]["name"] == "eth0" and st["interfaces"][0]["ip"]["macAddr"] == mac
    # The guest has no IPv4 address, and a link-local one is nobody's primary.
    assert "primaryIP4" not in st and "primaryIP6" not in st, st
    # The agent answers pings too.
    wait_for(lambda: (cond(vm(s, "default", "ga-1"), "Ready") or {}).get("status") == "True",
             what="the heartbeat")
    # No agent any more: back to the allocation.
    s.stop()
    del s.server_env["VMSVC_HV_FAKE_GUEST_AGENT"]
    s.start()
    st = wait_for(lambda: shows([{"address": ip + "/16", "origin": "manual", "state": "preferred"}]),
                  timeout=60, what="the allocation's addresses")
    assert st["primaryIP4"] == ip, st


def test_a_new_vm_gets_its_conditions_in_one_write(fakehost):
    """A new VM's first status carries the network's condition with the VM
    controller's: a watcher sees it ADDED, then one MODIFIED with all of
    them, not one per controller.  With an interface (made before that
    write) and with networking disabled."""
    s = fakehost
    path = "/apis/vmoperator.vmware.com/v1alpha2/namespaces/default/virtualmachines"
    rv = json.loads(s.kubectl("get", "--raw", path).stdout)["metadata"]["resourceVersion"]
    apply(s, vm_doc("one-1", "default"), vm_doc("one-2", "default", network={"disabled": True}))
    for n in ["one-1", "one-2"]:
        wait_net_cond(s, n, "True")
    watch = path + "?watch=1&resourceVersion=%s&timeoutSeconds=2" % rv
    events = [json.loads(line) for line in s.kubectl("get", "--raw", watch).stdout.splitlines()
              if line.strip()]
    for name, message in [("one-1", "Every interface has its allocation."),
                          ("one-2", "The VM has no network interfaces.")]:
        mine = [e for e in events if e["object"]["metadata"]["name"] == name]
        assert [e["type"] for e in mine] == ["ADDED", "MODIFIED"], [
            (e["type"], e["object"].get("status")) for e in mine]
        written = mine[1]["object"]
        types = {c["type"] for c in written["status"]["conditions"]}
        assert {"VirtualMachineClassReady", "VirtualMachineImageReady",
                "VirtualMachineStorageReady", "VirtualMachineNetworkReady"} <= types, types
        assert cond(written, "VirtualMachineNetworkReady")["message"] == message
    assert s.kubectl_json("get", "networkinterfaces", "one-1-eth0")["status"]["ipConfigs"]
    assert s.kubectl("get", "networkinterfaces", "-l", "vmsvc.dev/vm=one-2",
                     "-o", "name").stdout.strip() == ""


def test_full_pool_taken_address_missing_and_deleted_network(fakehost):
    s = fakehost
    apply(s, network_doc("tiny-pool", "default", "10.210.0.1/24", ["10.210.0.10-10.210.0.11"]))
    iface = lambda **kw: {"network": {"interfaces": [dict(name="eth0", network={"name": "tiny-pool"}, **kw)]}}
    apply(s, vm_doc("p-1", "default", **iface()), vm_doc("p-2", "default", **iface()))
    for n in ["p-1", "p-2"]:
        wait_net_cond(s, n, "True")
    # A full pool: a condition and a Warning event.
    apply(s, vm_doc("p-3", "default", **iface()))
    c = wait_net_cond(s, "p-3", "False", "AddressPoolExhausted")
    assert "tiny-pool" in c["message"] and "no free address" in c["message"], c
    assert "AddressPoolExhausted" in [r for r, _ in events_of(s, "p-3")]
    # Taken: an address the spec names that another interface holds.
    taken = s.kubectl_json("get", "networkinterfaces", "p-1-eth0")["status"]["ipConfigs"][0]["ip"]
    apply(s, vm_doc("p-4", "default", **iface(addresses=[taken + "/24"])))
    c = wait_net_cond(s, "p-4", "False", "AddressInUse")
    assert taken in c["message"], c
    # A free address the spec names is honoured, also outside the ranges.
    apply(s, vm_doc("p-5", "default", **iface(addresses=["10.210.0.50/24"])))
    wait_net_cond(s, "p-5", "True")
    assert s.kubectl_json("get", "networkinterfaces", "p-5-eth0")["status"]["ipConfigs"][0]["ip"] == "10.210.0.50"
    # Freeing an address lets the waiting VM have it.
    s.kubectl("delete", "vm", "p-2", "--timeout=30s")
    wait_net_cond(s, "p-3", "True")
    # A missing network.
    apply(s, vm_doc("m-1", "default", network={"interfaces": [{"name": "eth0", "network": {"name": "nope"}}]}))
    c = wait_net_cond(s, "m-1", "False", "NetworkNotFound")
    assert "nope" in c["message"], c
    # A network deleted while in use: it waits for its users; they are told.
    s.kubectl("delete", "network", "tiny-pool", "--wait=false")
    c = wait_net_cond(s, "p-1", "False", "NetworkDeleted")
    assert "tiny-pool" in c["message"], c
    assert s.kubectl("get", "network", "tiny-pool", check=False).returncode == 0
    apply(s, vm_doc("p-6", "default", **iface()))
    wait_net_cond(s, "p-6", "False", "NetworkDeleted")
    s.kubectl("delete", "vm", "p-1", "p-3", "p-4", "p-5", "p-6", "--timeout=60s")
    wait_for(lambda: s.kubectl("get", "network", "tiny-pool", check=False).returncode != 0,
             what="the network to go once unused")


def test_bad_networks_and_services_refused(fakehost):
    s = fakehost
    def refused(doc, *words):
        r = s.kubectl("apply", "-f", "-", input=yaml.safe_dump(doc), check=False)
        assert r.returncode != 0 and "is invalid" in r.stderr, r.stderr
        for w in words:
            assert w in r.stderr, r.stderr
    refused(network_doc("bad-1", "default", "10.0.0.300/24"), "spec.gateway4")
    refused(network_doc("bad-2", "default", "10.0.0.1/24", ["10.1.0.5-10.1.0.9"]), "spec.ipRanges")
    refused(network_doc("bad-3", "default", "10.0.0.1/8"), "spec.ipRanges")  # 2^24 addresses
    refused(network_doc("bad-4", "default", "10.0.0.1/24", ["10.0.0.%d" % i for i in range(2, 70)]),
            "ipRanges")
    svc = {"apiVersion": "vmoperator.vmware.com/v1alpha2", "kind": "VirtualMachineService",
           "metadata": {"name": "bad-svc", "namespace": "default"},
           "spec": {"type": "LoadBalancer", "selector": {"a": "b"},
                    "loadBalancerSourceRanges": ["10.0.0.0/33"],
                    "ports": [{"port": 70000, "targetPort": 80, "protocol": "SCTP"}]}}
    refused(svc, "loadBalancerSourceRanges[0]", "spec.ports[0]", "SCTP")


def test_kill9_during_20_concurrent_creates(fakehost):
    s = fakehost
    errors = []

    def create(i):
        try:
            s.kubectl("apply", "-f", "-", input=yaml.safe_dump(vm_doc("c-%d" % i, "default")))
        except AssertionError as e:
            errors.append(str(e))

    threads = [threading.Thread(target=create, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    # Kill once allocation is under way.
    wait_for(lambda: s.kubectl("get", "networkinterfaces", "-o", "name", check=False).stdout.count("\n") >= 3,
             timeout=60, interval=0.05, what="some allocations")
    s.kill9()
    for t in threads:
        t.join()
    s.start()
    # Creates the kill cut off are made again.
    for i in range(20):
        if s.kubectl("get", "vm", "c-%d" % i, check=False).returncode != 0:
            create(i)

    def all_ready():
        items = s.kubectl_json("get", "vm")["items"]
        ok = [v for v in items if (cond(v, "VirtualMachineNetworkReady") or {}).get("status") == "True"]
        return items if len(ok) == 20 else None
    wait_for(all_ready, timeout=120, what="20 VMs with their allocation")
    nifs = s.kubectl_json("get", "networkinterfaces")["items"]
    ips = [n["status"]["ipConfigs"][0]["ip"] for n in nifs]
    macs = [n["status"]["macAddress"] for n in nifs]
    assert len(nifs) == 20 and len(set(ips)) == 20 and len(set(macs)) == 20, (ips, macs)
    net = s.kubectl_json("get", "network", "default", "-n", "vmsvc-system")
    wait_for(lambda: s.kubectl_json("get", "network", "default", "-n", "vmsvc-system")
             ["status"]["addresses"]["used"] == 20, what="20 addresses in use")
    # Deleting the VMs gives every address back.
    s.kubectl("delete", "vm", "--all", "--timeout=120s")
    wait_for(lambda: not s.kubectl_json("get", "networkinterfaces")["items"], timeout=60,
             what="the interfaces to go")
    wait_for(lambda: s.kubectl_json("get", "network", "default", "-n", "vmsvc-system")
             ["status"]["addresses"] == {"total": net["status"]["addresses"]["total"], "used": 0,
                                         "free": net["status"]["addresses"]["total"]},
             what="every address free again")
