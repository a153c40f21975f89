"""Purges through the fleet: a purge on one node reaches every node through the purge stream;
a KV namespace purge is deletes in the KV bucket instead; without NATS a purge answers 503
fleet_unavailable and nothing is purged anywhere."""
import json

import pytest
from ectest import EDGECACHECTL, run_cli
from origin import Origin  # tests/e2e/origin.py (conftest puts tests/e2e on the path)

from fleetutil import eventually  # noqa: E402


@pytest.fixture
def origin():
    o = Origin().start()
    yield o
    o.stop()


def proxy_config(origin):
    return {"origins": {"o": {"url": "http://" + origin.address, "timeout_ms": 3000}},
            "routes": [{"name": "r", "prefix": "/", "origin": "o"}], "access_log": "-"}


def cached(node, path):
    """Fetches path until this node serves it from its cache (the fill commits async)."""
    return eventually(lambda: node.get(path, fresh=True).headers.get("x-cache") == "HIT")


def test_purge_without_nats_is_refused_and_purges_nothing(make_node, nats_cluster, origin):
    origin.route("/p", body=b"p", headers={"Cache-Control": "max-age=600"})
    a = make_node("edge-a", config=proxy_config(origin), fleet={"write_timeout_ms": 300})
    a.get("/p")
    cached(a, "/p")
    nats_cluster.stop()
    r = a.admin("POST", "/admin/purge", json.dumps({"paths": ["/p"]}))
    assert r.status == 503
    assert r.json()["error"]["code"] == "fleet_unavailable"
    # Reads keep being served from the cache; /health says why writes are refused.
    assert a.get("/p", fresh=True).headers["x-cache"] == "HIT"
    h = eventually(lambda: (lambda j: j if j.get("status") == "degraded" else None)(
        a.get("/health", fresh=True).json()))
    assert h["reason"] == "fleet_unavailable"


def test_purge_by_tag_on_a_reaches_b_and_c(make_node, origin):
    origin.route("/t1", body=b"1", headers={"Cache-Control": "max-age=600", "Cache-Tag": "blue"})
    origin.route("/t2", body=b"2", headers={"Cache-Control": "max-age=600", "Cache-Tag": "green"})
    nodes = [make_node(n, config=proxy_config(origin)) for n in ("edge-a", "edge-b", "edge-c")]
    for n in nodes:
        for p in ("/t1", "/t2"):
            n.get(p)
            cached(n, p)
    r = nodes[0].admin("POST", "/admin/purge", json.dumps({"tags": ["blue"]}))
    assert r.status == 200, r.text
    body = r.json()
    assert body["purged"] == 1 and body["seq"] >= 1
    # Every node drops /t1 (its next request goes to the origin) and keeps /t2.
    for n in nodes:
        eventually(lambda: n.get("/t1", fresh=True).headers.get("x-cache") != "HIT",
                   what=lambda: n.log()[-3000:])
        assert n.get("/t2", fresh=True).headers["x-cache"] == "HIT"
    # The CLI purges through the fleet and waits until every node applied it.
    for n in nodes:
        n.get("/t2")
    p = run_cli([EDGECACHECTL, "--socket", nodes[1].admin_sock, "purge", "--tag", "green",
                 "--wait", "20"])
    assert p.returncode == 0, p.stderr
    assert b"applied on 3 of 3 node(s)" in p.stdout, p.stdout
    p = run_cli([EDGECACHECTL, "--socket", nodes[2].admin_sock, "fleet", "status"])
    assert p.returncode == 0, p.stderr
    assert b"node        edge-c" in p.stdout and b"3 known to the purge stream" in p.stdout, \
        p.stdout




def kv_keys(node, ns, prefix=""):
    r = node.get("/kv/%s?prefix=%s" % (ns, prefix), fresh=True)
    return [k["name"] for k in r.json()["keys"]] if r.status == 200 else None


def test_namespace_purge_deletes_the_keys_through_the_bucket(make_node):
    """A KV namespace purge deletes keys, so it travels as deletes in the KV bucket: every node
    drops them, and a node that catches up from the stream later does not get them back."""
    a = make_node("edge-a")
    b = make_node("edge-b")
    entries = [{"key": "user:%02d" % i, "value": "u"} for i in range(30)]
    entries.append({"key": "keep", "value": "k"})
    assert a.put("/kv/np", json.dumps(entries).encode()).status == 200
    eventually(lambda: len(kv_keys(b, "np") or []) == 31)
    r = a.admin("POST", "/admin/purge", json.dumps({"prefix": "user:", "namespace": "np"}))
    assert r.status == 200, r.text
    assert r.json()["purged"] == 30
    assert kv_keys(a, "np") == ["keep"]  # applied on A when the purge answers
    eventually(lambda: kv_keys(b, "np") == ["keep"])
    # C joins afterwards and builds its copy from the stream: the purged keys stay purged.
    c = make_node("edge-c")
    eventually(lambda: kv_keys(c, "np") == ["keep"], what=lambda: c.log()[-3000:])
    r = a.admin("POST", "/admin/purge", json.dumps({"all": True, "namespace": "nope"}))
    assert r.status == 404
    r = a.admin("POST", "/admin/purge",
                json.dumps({"all": True, "namespace": "np", "soft": True}))
    assert r.status == 400 and r.json()["error"]["code"] == "bad_purge"
