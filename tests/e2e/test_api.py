"""API semantics through raw HTTPS and the Python Kubernetes client: metadata
rules, concurrency, selectors, watch, garbage collection, namespaces,
authentication and bad input."""
import http.client
import json
import socket
import ssl
import threading
import time
import uuid

import pytest

VMS = "/apis/vmoperator.vmware.com/v1alpha2/namespaces/%s/virtualmachines"
# A kind no controller writes to, for tests of the API's own semantics.
RPS = "/apis/vmoperator.vmware.com/v1alpha2/namespaces/%s/virtualmachinesetresourcepolicies"


class Raw:
    """A minimal HTTPS client that shows exactly what the server answers."""

    def __init__(self, server, token=True):
        self.server = server
        self.ctx = ssl.create_default_context(cafile=server.ca)
        self.host = server.url.split("//")[1].rsplit(":", 1)[0]
        self.port = server.port
        self.token = server.token if token is True else token

    def conn(self, timeout=30):
        return http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=timeout)

    def request(self, method, path, body=None, ctype="application/json", headers=None, timeout=30):
        c = self.conn(timeout)
        h = {"Accept": "application/json"}
        if self.token:
            h["Authorization"] = "Bearer " + self.token
        if body is not None:
            if not isinstance(body, (bytes, str)):
                body = json.dumps(body)
            h["Content-Type"] = ctype
        h.update(headers or {})
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        try:
            doc = json.loads(data) if data else None
        except ValueError:
            doc = data
        return r.status, doc, r


@pytest.fixture
def raw(server):
    return Raw(server)


def vm(name, **spec):
    s = {"className": "best-effort-small", "imageName": "vmi-test", "storageClass": "default"}
    s.update(spec)
    return {"apiVersion": "vmoperator.vmware.com/v1alpha2", "kind": "VirtualMachine",
            "metadata": {"name": name}, "spec": s}


def rp(name, **spec):
    s = {"folder": "f", "resourcePool": {"name": "pool"}}
    s.update(spec)
    return {"apiVersion": "vmoperator.vmware.com/v1alpha2", "kind": "VirtualMachineSetResourcePolicy",
            "metadata": {"name": name}, "spec": s}


def test_health_and_version_without_token(server):
    r = Raw(server, token=None)
    for p in ["/healthz", "/livez", "/readyz"]:
        st, body, _ = r.request("GET", p)
        assert st == 200
    st, body, _ = r.request("GET", "/version")
    assert st == 200 and body["major"] == "1"


def test_authentication_required(server, ns):
    for token in [None, "wrong", server.token[:-1] + ("0" if server.token[-1] != "0" else "1")]:
        st, body, _ = Raw(server, token=token).request("GET", VMS % ns)
        assert st == 401 and body["reason"] == "Unauthorized"
    # Plain HTTP is not served.
    s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    s.sendall(b"GET /api HTTP/1.1\r\nHost: x\r\n\r\n")
    try:
        data = s.recv(100)
    except (ConnectionResetError, socket.timeout):
        data = b""
    s.close()
    assert not data.startswith(b"HTTP/1.1 200")


def test_discovery(raw):
    st, body, _ = raw.request("GET", "/apis")
    groups = {g["name"]: g for g in body["groups"]}
    assert groups["vmoperator.vmware.com"]["preferredVersion"]["version"] == "v1alpha2"
    assert "imageregistry.vmware.com" in groups and "storage.k8s.io" in groups
    st, body, _ = raw.request("GET", "/apis/vmoperator.vmware.com/v1alpha2")
    names = {r["name"] for r in body["resources"]}
    assert {"virtualmachines", "virtualmachines/status", "virtualmachineclasses"} <= names
    st, body, r = raw.request("GET", "/apis", headers={
        "Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"})
    assert st == 200 and body["kind"] == "APIGroupDiscoveryList"
    assert "apidiscovery.k8s.io" in r.getheader("Content-Type")
    st, body, _ = raw.request("GET", "/openapi/v3")
    assert "apis/vmoperator.vmware.com/v1alpha2" in body["paths"]
    url = body["paths"]["apis/vmoperator.vmware.com/v1alpha2"]["serverRelativeURL"]
    st, doc, _ = raw.request("GET", url)
    assert st == 200 and any("VirtualMachine" in k for k in doc["components"]["schemas"])


def test_metadata_and_optimistic_concurrency(raw, ns):
    st, a, _ = raw.request("POST", RPS % ns, rp("meta-1"))
    assert st == 201
    md = a["metadata"]
    assert md["uid"] and md["creationTimestamp"] and md["generation"] == 1
    assert md["namespace"] == ns
    rv1 = md["resourceVersion"]
    # Update with the current resourceVersion works and bumps generation.
    a["spec"]["folder"] = "g"
    st, b, _ = raw.request("PUT", RPS % ns + "/meta-1", a)
    assert st == 200 and b["metadata"]["generation"] == 2
    assert int(b["metadata"]["resourceVersion"]) > int(rv1)
    assert b["metadata"]["uid"] == md["uid"]
    # A stale one is a 409 Conflict and changes nothing.
    a["spec"]["folder"] = "h"
    st, c, _ = raw.request("PUT", RPS % ns + "/meta-1", a)
    assert st == 409 and c["reason"] == "Conflict"
    st, cur, _ = raw.request("GET", RPS % ns + "/meta-1")
    assert cur["spec"]["folder"] == "g"
    # A metadata-only change keeps the generation.
    cur["metadata"]["labels"] = {"x": "y"}
    st, d, _ = raw.request("PUT", RPS % ns + "/meta-1", cur)
    assert st == 200 and d["metadata"]["generation"] == 2
    # Server-owned fields cannot be overwritten.
    d["metadata"]["uid"] = "forged"
    d["metadata"]["creationTimestamp"] = "2000-01-01T00:00:00Z"
    st, e, _ = raw.request("PUT", RPS % ns + "/meta-1", d)
    assert e["metadata"]["uid"] == md["uid"]
    assert e["metadata"]["creationTimestamp"] == md["creationTimestamp"]
    # Creating it again is AlreadyExists.
    st, f, _ = raw.request("POST", RPS % ns, rp("meta-1"))
    assert st == 409 and f["reason"] == "AlreadyExists"


def test_status_subresource(raw, ns):
    st, a, _ = raw.request("POST", RPS % ns, dict(rp("stat-1"), status={"resourcePoolName": "x"}))
    assert st == 201 and not a.get("status"), "status is ignored on create"
    a["status"] = {"clustermodules": [{"clusterMoID": "c1", "groupName": "g", "moduleUUID": "u"}]}
    a["spec"]["folder"] = "changed"
    st, b, _ = raw.request("PUT", RPS % ns + "/stat-1/status", a)
    assert st == 200
    assert b["status"]["clustermodules"][0]["clusterMoID"] == "c1"
    assert b["spec"]["folder"] == "f", "a status write ignores spec"
    assert b["metadata"]["generation"] == 1
    b["status"] = {}
    b["spec"]["folder"] = "g"
    st, c, _ = raw.request("PUT", RPS % ns + "/stat-1", b)
    assert c["status"]["clustermodules"][0]["clusterMoID"] == "c1", "a spec write ignores status"
    assert c["spec"]["folder"] == "g" and c["metadata"]["generation"] == 2
    st, d, _ = raw.request("PATCH", RPS % ns + "/stat-1/status",
                           {"status": {"clustermodules": None}}, ctype="application/merge-patch+json")
    assert st == 200 and not d["status"].get("clustermodules")


def test_generate_name(raw, ns):
    body = vm("")
    del body["metadata"]["name"]
    body["metadata"]["generateName"] = "gen-"
    names = set()
    for _ in range(5):
        st, a, _ = raw.request("POST", VMS % ns, body)
        assert st == 201
        assert a["metadata"]["name"].startswith("gen-") and len(a["metadata"]["name"]) == 9
        names.add(a["metadata"]["name"])
    assert len(names) == 5


def test_yaml_body_and_yaml_output(raw, ns):
    text = ("apiVersion: vmoperator.vmware.com/v1alpha2\nkind: VirtualMachine\n"
            "metadata:\n  name: yaml-1\nspec:\n  className: c\n  imageName: i\n")
    st, a, _ = raw.request("POST", VMS % ns, text, ctype="application/yaml")
    assert st == 201 and a["spec"]["className"] == "c"
    c = raw.conn()
    c.request("GET", VMS % ns + "/yaml-1",
              headers={"Authorization": "Bearer " + raw.token, "Accept": "application/yaml"})
    r = c.getresponse()
    assert r.getheader("Content-Type").startswith("application/yaml")
    assert b"className: c" in r.read()


def test_selectors(raw, ns):
    for i, (app, tier) in enumerate([("web", "a"), ("web", "b"), ("db", "a"), ("cache", None)]):
        b = vm("sel-%d" % i)
        b["metadata"]["labels"] = {"app": app}
        if tier:
            b["metadata"]["labels"]["tier"] = tier
        assert raw.request("POST", VMS % ns, b)[0] == 201

    def names(q):
        st, body, _ = raw.request("GET", VMS % ns + "?" + q)
        assert st == 200, body
        return sorted(i["metadata"]["name"] for i in body["items"])

    from urllib.parse import quote
    assert names("labelSelector=" + quote("app=web")) == ["sel-0", "sel-1"]
    assert names("labelSelector=" + quote("app!=web")) == ["sel-2", "sel-3"]
    assert names("labelSelector=" + quote("app in (db,cache)")) == ["sel-2", "sel-3"]
    assert names("labelSelector=" + quote("app notin (db,cache),tier=b")) == ["sel-1"]
    assert names("labelSelector=tier") == ["sel-0", "sel-1", "sel-2"]
    assert names("labelSelector=" + quote("!tier")) == ["sel-3"]
    assert names("fieldSelector=" + quote("metadata.name=sel-2")) == ["sel-2"]
    assert names("fieldSelector=" + quote("metadata.name!=sel-2") + "&labelSelector=app%3Dweb") == ["sel-0", "sel-1"]
    assert names("fieldSelector=" + quote("metadata.namespace=" + ns) + "&labelSelector=app%3Ddb") == ["sel-2"]
    st, body, _ = raw.request("GET", VMS % ns + "?labelSelector=" + quote("app in (db"))
    assert st == 400 and body["reason"] == "BadRequest"
    st, body, _ = raw.request("GET", VMS % ns + "?fieldSelector=spec.className%3Dx")
    assert st == 400 and "field label not supported" in body["message"]
    # Paging: limit and continue walk the whole list once.
    seen, cont = [], ""
    while True:
        st, body, _ = raw.request("GET", VMS % ns + "?limit=3" + ("&continue=" + quote(cont) if cont else ""))
        seen += [i["metadata"]["name"] for i in body["items"]]
        cont = body["metadata"].get("continue")
        if not cont:
            break
    assert seen == ["sel-0", "sel-1", "sel-2", "sel-3"]


def read_watch(raw, path, until, timeout=15):
    """Open a watch and collect events until `until(events)` is true."""
    c = raw.conn(timeout)
    c.request("GET", path, headers={"Authorization": "Bearer " + raw.token})
    r = c.getresponse()
    assert r.status == 200
    events = []
    deadline = time.time() + timeout
    while time.time() < deadline and not until(events):
        chunk = r.readline()
        if not chunk:
            break
        events.append(json.loads(chunk))
    c.close()
    return events


def test_watch_from_resource_version(raw, ns):
    st, a, _ = raw.request("POST", RPS % ns, rp("wv-1"))
    rv = a["metadata"]["resourceVersion"]
    raw.request("POST", RPS % ns, rp("wv-2"))
    raw.request("DELETE", RPS % ns + "/wv-1")
    events = read_watch(raw, RPS % ns + "?watch=1&resourceVersion=" + rv, lambda e: len(e) >= 2)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "wv-2"), ("DELETED", "wv-1")]
    rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert rvs == sorted(rvs) and rvs[0] > int(rv)


def test_watch_initial_state_bookmarks_and_timeout(raw, ns):
    raw.request("POST", RPS % ns, rp("wb-1"))
    t0 = time.time()
    events = read_watch(raw, RPS % ns + "?watch=1&sendInitialEvents=true&allowWatchBookmarks=true"
                        "&resourceVersionMatch=NotOlderThan&timeoutSeconds=2",
                        lambda e: False, timeout=20)
    assert time.time() - t0 < 10, "the stream ends on timeoutSeconds"
    assert events[0]["type"] == "ADDED" and events[0]["object"]["metadata"]["name"] == "wb-1"
    bm = [e for e in events if e["type"] == "BOOKMARK"]
    assert bm and bm[0]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"] == "true"


def test_watch_too_old_is_gone(fresh_server):
    fresh_server.start()
    raw = Raw(fresh_server)
    st, a, _ = raw.request("POST", VMS % "default", vm("old-1"))
    rv = a["metadata"]["resourceVersion"]
    raw.request("POST", VMS % "default", vm("old-2"))
    fresh_server.restart()
    raw = Raw(fresh_server)
    st, body, _ = raw.request("GET", VMS % "default" + "?watch=1&resourceVersion=" + rv + "&timeoutSeconds=5")
    # Kubernetes answers 200 with one ERROR event carrying a 410 Status.
    if isinstance(body, bytes):
        body = json.loads(body.splitlines()[0])
    if st == 200:
        assert body["type"] == "ERROR" and body["object"]["code"] == 410
    else:
        assert st == 410


def test_watch_delivers_every_event_in_order(raw, ns):
    st, a, _ = raw.request("POST", RPS % ns, rp("ord-0"))
    rv = a["metadata"]["resourceVersion"]
    n = 200
    done = []

    def writer():
        for i in range(1, n + 1):
            raw.request("POST", RPS % ns, rp("ord-%d" % i))
        done.append(True)

    t = threading.Thread(target=writer)
    t.start()
    events = read_watch(raw, RPS % ns + "?watch=1&resourceVersion=" + rv, lambda e: len(e) >= n, timeout=60)
    t.join()
    assert [e["object"]["metadata"]["name"] for e in events] == ["ord-%d" % i for i in range(1, n + 1)]


def test_watch_events_larger_than_a_chunk_arrive_whole(raw, ns):
    # Objects far larger than one read's buffer (32 KiB), between small ones,
    # all committed before the watch opens so that they go out in one burst.
    st, a, _ = raw.request("POST", RPS % ns, rp("big-0"))
    rv = a["metadata"]["resourceVersion"]
    sizes = {}
    for i in range(1, 7):
        body = rp("big-%d" % i)
        if i % 2:
            sizes["big-%d" % i] = 90000 + i
            body["metadata"]["annotations"] = {"pad": "x" * sizes["big-%d" % i]}
        st, _, _ = raw.request("POST", RPS % ns, body)
        assert st == 201
    events = read_watch(raw, RPS % ns + "?watch=1&resourceVersion=" + rv, lambda e: len(e) >= 6)
    assert [e["object"]["metadata"]["name"] for e in events] == ["big-%d" % i for i in range(1, 7)]
    for e in events:
        pad = e["object"]["metadata"].get("annotations", {}).get("pad", "")
        assert len(pad) == sizes.get(e["object"]["metadata"]["name"], 0)


def owner_ref(obj, **kw):
    r = {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": obj["metadata"]["name"],
         "uid": obj["metadata"]["uid"]}
    r.update(kw)
    return r


CMS = "/api/v1/namespaces/%s/configmaps"


def cm(name, owners=None):
    b = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}}
    if owners:
        b["metadata"]["ownerReferences"] = owners
    return b


def wait_gone(raw, path, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if raw.request("GET", path)[0] == 404:
            return True
        time.sleep(0.1)
    return False


def test_gc_background(raw, ns):
    st, owner, _ = raw.request("POST", RPS % ns, rp("own-bg"))
    st, dep, _ = raw.request("POST", CMS % ns, cm("dep-bg", [owner_ref(owner)]))
    assert st == 201
    assert raw.request("DELETE", RPS % ns + "/own-bg")[0] == 200
    assert wait_gone(raw, CMS % ns + "/dep-bg"), "a dependent goes with its owner"


def test_gc_foreground(raw, ns):
    st, owner, _ = raw.request("POST", RPS % ns, rp("own-fg"))
    st, dep, _ = raw.request("POST", CMS % ns, dict(cm("dep-fg", [owner_ref(owner, blockOwnerDeletion=True)])))
    dep["metadata"]["finalizers"] = ["e2e.vmsvc/hold"]
    st, dep, _ = raw.request("PUT", CMS % ns + "/dep-fg", dep)
    st, body, _ = raw.request("DELETE", RPS % ns + "/own-fg", {"propagationPolicy": "Foreground"})
    assert st == 200
    time.sleep(1)
    st, o, _ = raw.request("GET", RPS % ns + "/own-fg")
    assert st == 200 and "foregroundDeletion" in o["metadata"]["finalizers"]
    st, d, _ = raw.request("GET", CMS % ns + "/dep-fg")
    assert d["metadata"].get("deletionTimestamp"), "the dependent is being deleted first"
    raw.request("PATCH", CMS % ns + "/dep-fg", {"metadata": {"finalizers": None}},
                ctype="application/merge-patch+json")
    assert wait_gone(raw, CMS % ns + "/dep-fg")
    assert wait_gone(raw, RPS % ns + "/own-fg"), "the owner goes once its dependents are gone"


def test_gc_orphan(raw, ns):
    st, owner, _ = raw.request("POST", RPS % ns, rp("own-or"))
    raw.request("POST", CMS % ns, cm("dep-or", [owner_ref(owner)]))
    st, body, _ = raw.request("DELETE", RPS % ns + "/own-or", {"propagationPolicy": "Orphan"})
    assert st == 200
    assert wait_gone(raw, RPS % ns + "/own-or")
    st, d, _ = raw.request("GET", CMS % ns + "/dep-or")
    assert st == 200 and not d["metadata"].get("ownerReferences")


def test_namespace_deletion_removes_everything(raw):
    name = "nsdel-" + uuid.uuid4().hex[:6]
    assert raw.request("POST", "/api/v1/namespaces",
                       {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})[0] == 201
    for i in range(3):
        raw.request("POST", VMS % name, vm("v-%d" % i))
    raw.request("POST", CMS % name, cm("c-1"))
    held = cm("c-held")
    held["metadata"]["finalizers"] = ["e2e.vmsvc/hold"]
    raw.request("POST", CMS % name, held)
    st, body, _ = raw.request("DELETE", "/api/v1/namespaces/" + name)
    assert st == 200
    time.sleep(0.5)
    st, nsobj, _ = raw.request("GET", "/api/v1/namespaces/" + name)
    assert nsobj["status"]["phase"] == "Terminating"
    st, body, _ = raw.request("POST", VMS % name, vm("late"))
    assert st == 403 and "being terminated" in body["message"]
    st, body, _ = raw.request("GET", VMS % name)
    assert body["items"] == []
    raw.request("PATCH", CMS % name + "/c-held", {"metadata": {"finalizers": None}},
                ctype="application/merge-patch+json")
    assert wait_gone(raw, "/api/v1/namespaces/" + name)


def test_deletecollection(raw, ns):
    for i in range(4):
        b = rp("dc-%d" % i)
        b["metadata"]["labels"] = {"grp": "a" if i < 2 else "b"}
        raw.request("POST", RPS % ns, b)
    st, body, _ = raw.request("DELETE", RPS % ns + "?labelSelector=grp%3Da")
    assert st == 200
    st, body, _ = raw.request("GET", RPS % ns)
    assert sorted(i["metadata"]["name"] for i in body["items"]) == ["dc-2", "dc-3"]


# ---- bad input ---------------------------------------------------------------

@pytest.mark.parametrize("body,ctype,code", [
    (b"{not json", "application/json", 400),
    (b"[1,2,3]", "application/json", 400),
    (b'{"apiVersion":"vmoperator.vmware.com/v1alpha2","kind":"VirtualMachine","metadata":{"name":"x"}}garbage',
     "application/json", 400),
    (b"a: [unclosed", "application/yaml", 400),
    (b"\xff\xfe\x00", "application/json", 400),
    (b"<xml/>", "application/xml", 415),
    (b"", "application/json", 400),
    (b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}', "application/json", 400),
    (b'{"apiVersion":"vmoperator.vmware.com/v1alpha2","kind":"VirtualMachine","metadata":{"name":"Bad_Name"},"spec":{}}',
     "application/json", 422),
    (b'{"apiVersion":"vmoperator.vmware.com/v1alpha2","kind":"VirtualMachine","metadata":{"name":"x","labels":{"a":1}},"spec":{}}',
     "application/json", 422),
    (b'{"apiVersion":"vmoperator.vmware.com/v1alpha2","kind":"VirtualMachine","metadata":{"name":"x"},"spec":{"powerState":7}}',
     "application/json", 422),
    (b'{"apiVersion":"vmoperator.vmware.com/v1alpha2","kind":"VirtualMachine","metadata":{"name":"x"},"spec":"no"}',
     "application/json", 422),
    (b'{"apiVersion":"vmoperator.vmware.com/v1alpha2","kind":"VirtualMachine","metadata":"x"}',
     "application/json", 400),
])
def test_bad_create_bodies(raw, ns, body, ctype, code):
    st, doc, _ = raw.request("POST", VMS % ns, body, ctype=ctype)
    assert st == code, doc
    assert doc["kind"] == "Status" and doc["code"] == code and doc["message"]
    st, lst, _ = raw.request("GET", VMS % ns)
    assert lst["items"] == [], "nothing is stored from a refused request"


def test_invalid_gives_field_paths(raw, ns):
    b = vm("inv-1", powerState="Sideways")
    b["spec"]["volumes"] = [{"name": "Bad Name!"}]
    st, doc, _ = raw.request("POST", VMS % ns, b)
    assert st == 422 and doc["reason"] == "Invalid"
    fields = {c["field"] for c in doc["details"]["causes"]}
    assert "spec.powerState" in fields
    assert doc["details"]["name"] == "inv-1" and doc["details"]["kind"] == "virtualmachines"


def test_strict_field_validation(raw, ns):
    b = vm("strict-1")
    b["spec"]["nonsense"] = True
    st, doc, _ = raw.request("POST", VMS % ns + "?fieldValidation=Strict", b)
    assert st == 400 and 'unknown field "spec.nonsense"' in doc["message"]
    st, doc, r = raw.request("POST", VMS % ns + "?fieldValidation=Warn", b)
    assert st == 201 and "nonsense" in (r.getheader("Warning") or "")
    assert "nonsense" not in doc["spec"]
    st, doc, _ = raw.request("POST", VMS % ns + "?fieldValidation=Bogus", vm("strict-2"))
    assert st == 400


def test_huge_and_deep_bodies(raw, ns):
    big = b'{"a":"' + b"x" * (4 * 1024 * 1024) + b'"}'
    st, doc, _ = raw.request("POST", VMS % ns, big)
    assert st == 413
    deep = b"[" * 5000 + b"]" * 5000
    st, doc, _ = raw.request("POST", VMS % ns, deep)
    assert st == 400
    deep_yaml = ("a:\n" + "".join("  " * (i + 1) + "b:\n" for i in range(300))).encode()
    st, doc, _ = raw.request("POST", VMS % ns, deep_yaml, ctype="application/yaml")
    assert st == 400
    bomb = b"a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n"
    st, doc, _ = raw.request("POST", VMS % ns, bomb, ctype="application/yaml")
    assert st == 400


@pytest.mark.parametrize("method,path,body,ctype,code", [
    ("GET", "/apis/vmoperator.vmware.com/v1alpha2/namespaces/%s/nosuchkinds", None, None, 404),
    ("GET", "/apis/nosuch.group/v1/things", None, None, 404),
    ("GET", "/apis/vmoperator.vmware.com/v1alpha2/namespaces/%s/virtualmachines/nope", None, None, 404),
    ("GET", "/apis/vmoperator.vmware.com/v1alpha2/namespaces/%s/virtualmachines/a/b/c/d", None, None, 404),
    ("PATCH", "/apis/vmoperator.vmware.com/v1alpha2/namespaces/%s/virtualmachinesetresourcepolicies/bp-1",
     b'{"op":"nope"}', "application/json-patch+json", 400),
    ("PATCH", "/apis/vmoperator.vmware.com/v1alpha2/namespaces/%s/virtualmachinesetresourcepolicies/bp-1",
     b'[{"op":"explode","path":"/spec"}]', "application/json-patch+json", 400),
    ("PATCH", "/apis/vmoperator.vmware.com/v1alpha2/namespaces/%s/virtualmachinesetresourcepolicies/bp-1",
     b'[{"op":"remove","path":"/spec/nothing/here"}]', "application/json-patch+json", 422),
    ("PATCH", "/apis/vmoperator.vmware.com/v1alpha2/namespaces/%s/virtualmachinesetresourcepolicies/bp-1",
     b'{"spec":', "application/merge-patch+json", 400),
    ("PATCH", "/apis/vmoperator.vmware.com/v1alpha2/namespaces/%s/virtualmachinesetresourcepolicies/bp-1",
     b'{"spec":{"resourcePool":{"limits":{"cpu":"lots"}}}}', "application/merge-patch+json", 422),
    ("PATCH", "/apis/vmoperator.vmware.com/v1alpha2/namespaces/%s/virtualmachinesetresourcepolicies/bp-1",
     b'{}', "text/plain", 415),
    ("GET", "/apis/vmoperator.vmware.com/v1alpha2/namespaces/%s/virtualmachines?limit=abc", None, None, 400),
    ("GET", "/apis/vmoperator.vmware.com/v1alpha2/namespaces/%s/virtualmachines?continue=%%%%%%", None, None, 400),
    ("GET", "/apis/vmoperator.vmware.com/v1alpha2/namespaces/%s/virtualmachines?watch=1&resourceVersion=abc",
     None, None, 400),
    ("POST", "/apis/vmoperator.vmware.com/v1alpha2/namespaces/%s/virtualmachinesetresourcepolicies/bp-1", b"{}", "application/json", 405),
    ("GET", "/apis/vmoperator.vmware.com/v1alpha2/namespaces/%s/virtualmachinesetresourcepolicies/bp-1/scale", None, None, 404),
    ("DELETE", "/apis/vmoperator.vmware.com/v1alpha2/namespaces/%s/virtualmachinesetresourcepolicies/bp-1",
     b'{"propagationPolicy":"Sometimes"}', "application/json", 400),
])
def test_bad_requests(raw, ns, method, path, body, ctype, code):
    raw.request("POST", RPS % ns, rp("bp-1"))
    before = raw.request("GET", RPS % ns + "/bp-1")[1]
    st, doc, _ = raw.request(method, path % ns if "%s" in path else path, body, ctype=ctype or "application/json")
    assert st == code, doc
    assert doc["kind"] == "Status" and doc["code"] == code
    after = raw.request("GET", RPS % ns + "/bp-1")[1]
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def test_many_bad_requests_do_not_hurt(raw, ns):
    """A burst of garbage on raw sockets leaves the server answering."""
    for payload in [b"\x16\x03\x01\x00\x05hello", b"GET / HTTP/1.1\r\n\r\n", b"\x00" * 1000]:
        s = socket.create_connection(("127.0.0.1", raw.port), timeout=5)
        s.sendall(payload)
        s.close()
    ctx = raw.ctx
    for _ in range(20):
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", raw.port), timeout=5),
                            server_hostname="127.0.0.1")
        s.sendall(b"POST /api/v1/namespaces HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\nxx")
        s.close()
    assert raw.request("GET", "/healthz")[0] == 200
    assert raw.request("GET", VMS % ns)[0] == 200


# ---- the Python client ---------------------------------------------------------

def test_python_client_list_watch_patch(server, api, ns):
    from kubernetes import client, watch
    co = client.CustomObjectsApi(api)
    g, v, pl = "vmoperator.vmware.com", "v1alpha2", "virtualmachinesetresourcepolicies"
    co.create_namespaced_custom_object(g, v, ns, pl, rp("py-1"))
    lst = co.list_namespaced_custom_object(g, v, ns, pl)
    assert [i["metadata"]["name"] for i in lst["items"]] == ["py-1"]
    rv = lst["metadata"]["resourceVersion"]
    got = []

    def watcher():
        w = watch.Watch()
        for ev in w.stream(co.list_namespaced_custom_object, g, v, ns, pl,
                           resource_version=rv, timeout_seconds=10):
            got.append((ev["type"], ev["object"]["metadata"]["name"]))
            if len(got) >= 3:
                w.stop()

    t = threading.Thread(target=watcher)
    t.start()
    time.sleep(0.5)
    co.create_namespaced_custom_object(g, v, ns, pl, rp("py-2"))
    co.patch_namespaced_custom_object(g, v, ns, pl, "py-1", {"spec": {"folder": "patched"}})
    co.delete_namespaced_custom_object(g, v, ns, pl, "py-2")
    t.join(20)
    assert got == [("ADDED", "py-2"), ("MODIFIED", "py-1"), ("DELETED", "py-2")]
    assert co.get_namespaced_custom_object(g, v, ns, pl, "py-1")["spec"]["folder"] == "patched"

    core = client.CoreV1Api(api)
    core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="py-cm"),
                                                             data={"a": "1"}))
    core.patch_namespaced_config_map("py-cm", ns, {"data": {"b": "2"}})
    m = core.read_namespaced_config_map("py-cm", ns)
    assert m.data == {"a": "1", "b": "2"}
    names = [n.metadata.name for n in core.list_namespace().items]
    assert ns in names and "default" in names
    with pytest.raises(client.exceptions.ApiException) as e:
        core.read_namespaced_config_map("nope", ns)
    assert e.value.status == 404
    sec = core.create_namespaced_secret(ns, client.V1Secret(metadata=client.V1ObjectMeta(name="py-s"),
                                                            string_data={"k": "v"}))
    assert sec.data == {"k": "dg=="} and not sec.string_data
