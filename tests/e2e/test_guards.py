"""Behaviour that deliberately broken builds (tools/mutants) got past before: space-making
eviction of evictable KV namespaces, edge_ttl, the second SIGTERM, the open-file limit, and
test hooks kept out of release builds."""
import os
import resource
import signal
import time

import pytest

from ectest import EDGECACHED, EDGECACHED_NOHOOKS, request_in_progress
from test_build_options import project_default


# -- eviction ----------------------------------------------------------------------------------
def test_evictable_namespace_makes_room_soonest_expiring_first(make_daemon):
    d = make_daemon(config={"map_size": "4MiB", "memory_cache": "0",
                            "evictable_namespaces": ["ev"]})
    assert d.put("/kv/keep/k?expiration_ttl=600", b"k" * 20000).status == 200
    # ~8 MiB through a 4 MiB map; key i expires later than key i-1.
    n = 400
    for i in range(n):
        r = d.put(f"/kv/ev/k{i:03}?expiration_ttl={100000 + i * 60}", b"v" * 20000)
        assert r.status == 200, (i, r)
    s = d.admin("GET", "/admin/stats").json()
    present = {k["name"] for k in d.get("/kv/ev?limit=1000").json()["keys"]}
    gone = [i for i in range(n) if f"k{i:03}" not in present]
    kept = [i for i in range(n) if f"k{i:03}" in present]
    assert gone and kept, (len(gone), s)
    # What expires soonest was worth least: every evicted key expired before every kept one.
    assert max(gone) < min(kept), (gone[-10:], kept[:10])
    # A namespace not listed is never evicted to make room.
    assert d.get("/kv/keep/k").status == 200


def test_not_evictable_namespace_is_refused_with_507(make_daemon):
    d = make_daemon(config={"map_size": "4MiB", "memory_cache": "0",
                            "evictable_namespaces": ["other"]})
    statuses = [d.put(f"/kv/ev/k{i}", b"v" * 20000).status for i in range(400)]
    assert statuses[0] == 200 and statuses[-1] == 507
    assert d.get("/kv/ev/k0").status == 200


# -- edge_ttl ----------------------------------------------------------------------------------
def cache_stats(d):
    return d.admin("GET", "/admin/stats").json()["cache"]


def test_edge_ttl_bounds_the_memory_tier(make_proxy, origin):
    origin.route("/e", body=b"edge", headers={"Cache-Control": "max-age=3600"})
    d = make_proxy(origin, route={"edge_ttl": 5})
    assert d.get("/e").headers["x-cache"] == "MISS"
    assert d.get("/e").headers["x-cache"] == "HIT"
    assert (cache_stats(d)["hits_memory"], cache_stats(d)["hits_disk"]) == (1, 0)
    # The fill is served from memory at once and committed by the store's writer thread
    # after: let it reach LMDB before the clock jump retires the memory copy.
    deadline = time.monotonic() + 10
    while d.admin("GET", "/admin/stats").json()["store"].get("entries", 0) == 0:
        assert time.monotonic() < deadline, "the fill never reached LMDB"
        time.sleep(0.02)
    d.advance_clock(6)
    # Still fresh for an hour, but past edge_ttl: served from LMDB, not from memory.
    r = d.get("/e")
    assert r.headers["x-cache"] == "HIT" and r.body == b"edge"
    assert (cache_stats(d)["hits_memory"], cache_stats(d)["hits_disk"]) == (1, 1)
    # Re-read into memory for another edge_ttl.
    assert d.get("/e").headers["x-cache"] == "HIT"
    assert cache_stats(d)["hits_memory"] == 2
    assert origin.hits("/e") == 1


# -- shutdown ----------------------------------------------------------------------------------
def test_second_sigterm_closes_connections_at_once(make_daemon):
    d = make_daemon(config={"drain_timeout_ms": 60000})
    s = request_in_progress(d.tcp_address())  # never finished: the drain waits
    d.send_signal(signal.SIGTERM)
    d.wait_log(r"SIGTERM: draining 1 connection")
    assert d.proc.poll() is None  # the drain waits for the unfinished request
    start = time.monotonic()
    d.send_signal(signal.SIGTERM)
    assert d.wait_exit(10) == 0
    assert time.monotonic() - start < 5
    assert "SIGTERM during shutdown: closing remaining connections now" in d.log()
    s.close()


# -- open-file limit ---------------------------------------------------------------------------
def test_daemon_raises_its_open_file_limit_to_the_hard_limit(make_daemon):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    low = min(256, hard)
    if low == hard:
        pytest.skip(f"the hard open-file limit is {hard}: nothing to raise")
    resource.setrlimit(resource.RLIMIT_NOFILE, (low, hard))
    try:
        d = make_daemon()  # inherits the low soft limit
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    with open(f"/proc/{d.proc.pid}/limits") as f:
        line = next(l for l in f if l.startswith("Max open files"))
    got_soft, got_hard = line.split()[3:5]
    assert (got_soft, got_hard) == (str(hard), str(hard)), line


# -- test hooks --------------------------------------------------------------------------------
def test_test_hooks_are_off_by_default():
    assert project_default("test_hooks") is False


def test_default_build_has_no_test_clock_even_with_the_variable(make_daemon):
    # edgecached-nohooks is linked exactly as a default build's edgecached.
    with open(EDGECACHED_NOHOOKS, "rb") as f:
        assert b"/admin/test" not in f.read()
    d = make_daemon(binary=EDGECACHED_NOHOOKS, test_hooks=True)
    assert d.env["EDGECACHED_TEST_HOOKS"] == "1"
    r = d.admin("POST", "/admin/test/clock?advance=100")
    assert r.status == 404, r
    assert d.admin("GET", "/health").status == 200


def test_test_clock_rejects_an_advance_that_would_overflow(daemon):
    now = daemon.now()
    for bad in ("9223372036854775807", "-9223372036854775808", "3162240001", "x", ""):
        r = daemon.admin("POST", f"/admin/test/clock?advance={bad}")
        assert r.status == 400, (bad, r)
    assert daemon.now() - now < 5  # nothing moved
    assert daemon.advance_clock(3600) >= now + 3600
    assert daemon.admin("GET", "/admin/test/clock").status == 405


def test_test_hooks_need_the_variable(make_daemon):
    d = make_daemon(test_hooks=False, env={"EDGECACHED_TEST_HOOKS": "0"})
    assert d.admin("POST", "/admin/test/clock?advance=1").status == 404
    assert os.path.exists(EDGECACHED)
