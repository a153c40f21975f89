"""Purges through the fleet: a purge on one node reaches every node through the purge stream;
without NATS a purge answers 503 fleet_unavailable and nothing is purged anywhere."""
import json

import pytest
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
