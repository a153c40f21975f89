"""The fleet under faults (slow tier): NATS servers killed, all of NATS down, a node stopped
while the others write and purge, a node killed mid-apply. Nothing acknowledged is lost and
every node converges."""
import json
import threading
import time

from fleetutil import eventually, wait_fleet_ready


def value(node, ns, key):
    r = node.get("/kv/%s/%s" % (ns, key), fresh=True)
    return r.body if r.status == 200 else None


def keys_of(node, ns):
    out, cursor = [], ""
    while True:
        r = node.get("/kv/%s?cursor=%s" % (ns, cursor), fresh=True)
        doc = r.json()
        out += [k["name"] for k in doc["keys"]]
        if doc["list_complete"]:
            return out
        cursor = doc["cursor"]


def fleet_status(node):
    return node.admin("GET", "/admin/fleet").json()


def test_all_nats_down_reads_ok_writes_503_then_recover(make_node, nats_cluster):
    a = make_node("edge-a", fleet={"write_timeout_ms": 500})
    b = make_node("edge-b", fleet={"write_timeout_ms": 500})
    assert a.put("/kv/ns/k", b"before").status == 200
    eventually(lambda: value(b, "ns", "k") == b"before")
    nats_cluster.stop()
    t0 = time.monotonic()
    r = a.put("/kv/ns/k", b"during", fresh=True)
    assert r.status == 503 and r.json()["error"]["code"] == "fleet_unavailable"
    assert time.monotonic() - t0 < 3  # within write_timeout_ms, not hanging
    r = b.post("/client/v4/accounts/x/storage/kv/namespaces",
               json.dumps({"title": "t"}).encode(), headers={"Content-Type": "application/json"})
    assert r.status == 503 and r.json()["success"] is False
    assert value(a, "ns", "k") == b"before" and value(b, "ns", "k") == b"before"
    assert a.get("/health", fresh=True).json()["reason"] == "fleet_unavailable"
    nats_cluster.start()
    for n in (a, b):
        wait_fleet_ready(n, timeout=60)
    eventually(lambda: a.put("/kv/ns/k", b"after", fresh=True).status == 200, timeout=30)
    eventually(lambda: value(b, "ns", "k") == b"after")


def test_kill9_a_nats_server_during_writes_loses_no_acknowledged_write(make_node,
                                                                      nats_cluster):
    """The server killed is the bucket stream's leader: writes wait out the election (within
    write_timeout_ms) instead of failing at once with no responders."""
    a = make_node("edge-a")
    b = make_node("edge-b")
    acked = []
    refused = []

    def write():
        for i in range(10000):
            try:
                r = a.put("/kv/w/k%05d" % i, b"v%d" % i)
            except OSError:
                continue
            if r.status == 200:
                acked.append(i)
            else:
                refused.append((i, r.status, r.body[:200]))

    t = threading.Thread(target=write)
    t.start()
    eventually(lambda: len(acked) > 1000, timeout=120)
    leader = nats_cluster.leader_of("KV_edgecached")
    assert leader is not None
    leader.kill9()
    t.join(timeout=600)
    leader.start()
    # An election takes a few seconds; a write may time out waiting for it, not more.
    assert len(acked) > 9900, "%d acknowledged, %d refused, e.g. %s" % (
        len(acked), len(refused), refused[:2])
    for n in (a, b):
        have = set(eventually(lambda: (lambda ks: ks if len(ks) >= len(acked) else None)(
            keys_of(n, "w")), timeout=120))
        missing = [i for i in acked if "k%05d" % i not in have]
        assert not missing, "%d acknowledged writes missing, e.g. %s" % (len(missing), missing[:5])


def test_stopped_node_catches_up_on_writes_and_purges(make_node, nats_cluster):
    a = make_node("edge-a")
    c = make_node("edge-c")
    assert a.put("/kv/cu/first", b"1").status == 200
    eventually(lambda: value(c, "cu", "first") == b"1")
    c.stop()
    entries = [{"key": "k%05d" % i, "value": "v%d" % i} for i in range(10000)]
    assert a.put("/kv/cu", json.dumps(entries).encode()).status == 200
    assert a.delete("/kv/cu/first").status == 200
    r = a.admin("POST", "/admin/purge", json.dumps({"tags": ["x"]}))
    assert r.status == 200
    seq = r.json()["seq"]
    c.start()
    wait_fleet_ready(c, timeout=60)
    eventually(lambda: len(keys_of(c, "cu")) == 10000, timeout=120)
    assert value(c, "cu", "first") is None and value(c, "cu", "k09999") == b"v9999"
    # C's durable purge consumer applied the purge it missed.
    prog = eventually(lambda: (lambda j: j if j["applied"] == j["known"] else None)(
        a.admin("GET", "/admin/fleet/purges?seq=%d" % seq).json()), timeout=60)
    assert prog["known"] == 2


def test_node_killed_mid_apply_converges_without_applying_twice(make_node, nats_cluster):
    a = make_node("edge-a")
    c = make_node("edge-c")
    entries = [{"key": "k%05d" % i, "value": "v%d" % i} for i in range(5000)]
    for batch in range(4):
        assert a.put("/kv/mid", json.dumps(entries).encode()).status == 200
    # C is applying 20,000 changes; kill it part way through.
    eventually(lambda: fleet_status(c)["kv"]["applied_seq"] > 2000, timeout=60, interval=0.005)
    c.kill9()
    c.start()
    wait_fleet_ready(c, timeout=60)
    last = fleet_status(a)["kv"]["applied_seq"]
    eventually(lambda: fleet_status(c)["kv"]["applied_seq"] == last, timeout=120)
    st = fleet_status(c)
    # Applied after the restart: only what was not committed before the kill.
    assert st["kv"]["applied_total"] <= last - 2000
    assert len(keys_of(c, "mid")) == 5000
