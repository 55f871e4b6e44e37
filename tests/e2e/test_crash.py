"""Crash safety: kill -9 of the server in the middle of a stream of writes
loses no acknowledged write and leaves no half-written object."""
import random
import threading
import time

from test_api import Raw, VMS, vm


def writer(server, prefix, acked, stop, errors):
    raw = Raw(server)
    i = 0
    while not stop.is_set():
        name = "%s-%d" % (prefix, i)
        i += 1
        body = vm(name)
        body["metadata"]["labels"] = {"writer": prefix}
        body["spec"]["minHardwareVersion"] = 13 + i
        try:
            st, doc, _ = raw.request("POST", VMS % "default", body, timeout=10)
        except Exception:
            return  # the server died under us: this write was never acknowledged
        if st == 201:
            acked.append((name, i))
        elif st != 503:
            errors.append((st, doc))


def test_kill9_during_writes_loses_nothing_acknowledged(fresh_server):
    s = fresh_server.start()
    acked, errors = [], []
    for rnd in range(3):
        stop = threading.Event()
        threads = [threading.Thread(target=writer, args=(s, "r%d-w%d" % (rnd, k), acked, stop, errors))
                   for k in range(8)]
        for t in threads:
            t.start()
        time.sleep(1.0 + random.random())
        s.kill9()
        stop.set()
        for t in threads:
            t.join(30)
        s.start()
        raw = Raw(s)
        st, lst, _ = raw.request("GET", VMS % "default")
        assert st == 200
        stored = {i["metadata"]["name"]: i for i in lst["items"]}
        missing = [n for n, _ in acked if n not in stored]
        assert not missing, "acknowledged writes lost after kill -9: %s" % missing[:10]
        for name, i in acked:
            o = stored[name]
            assert o["spec"]["minHardwareVersion"] == 13 + i and o["metadata"]["uid"]
        assert not errors, errors[:3]
        revs = [int(o["metadata"]["resourceVersion"]) for o in stored.values()]
        assert len(set(revs)) == len(revs), "each write has its own revision"
        # The revision counter never goes back across a crash.
        st, a, _ = raw.request("POST", VMS % "default", vm("after-%d" % rnd))
        assert st == 201 and int(a["metadata"]["resourceVersion"]) > max(revs)
    assert len(acked) > 100, "the test wrote too little to mean anything (%d)" % len(acked)
