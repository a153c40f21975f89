"""Options reach the subsystem they configure, at start and on reload: the option table's rows
feed the settings structs the store, the cache and the server read (issue 12 item 9)."""
import json
import os
import time

from ectest import EDGECACHECTL, run_cli


def ctl(d, *args):
    e = {k: v for k, v in os.environ.items()
         if k not in ("EDGECACHE_SOCKET", "EDGECACHE_URL", "EDGECACHE_TOKEN")}
    return run_cli([EDGECACHECTL, "--socket", d.admin_sock] + list(args),
                   capture_output=True, text=True, env=e, timeout=30)


def stats(d):
    return json.loads(ctl(d, "--json", "stats").stdout)


def reload_with(d, cfg):
    with open(os.path.join(d.tmp, "config.json"), "w") as f:
        json.dump(cfg, f)
    p = ctl(d, "--json", "reload")
    assert p.returncode == 0, p
    return json.loads(p.stdout)


def wait_until(pred, timeout=10):
    deadline = time.time() + timeout
    while not pred():
        if time.time() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_a_reloaded_sync_interval_ms_times_the_next_batch_sync(make_daemon):
    # durability "batch" acknowledges at commit and syncs the meta page sync_interval_ms later.
    # The reload used to be reported but never reached the writer thread: the sync stayed an
    # hour away.
    cfg = {"durability": "batch", "sync_interval_ms": 3600000}
    d = make_daemon(config=cfg)
    assert d.put("/kv/s/k", b"v").status == 200
    assert stats(d)["store"]["syncs"] == 0
    report = reload_with(d, dict(cfg, sync_interval_ms=10))
    assert report["changes"] == ["sync_interval_ms"] and report["pending_restart"] == []
    # The commit already waiting for its sync gets it 10 ms after the commit, not in an hour.
    assert wait_until(lambda: stats(d)["store"]["syncs"] == 1), stats(d)["store"]
    # And the next commit too.
    assert d.put("/kv/s/k2", b"v").status == 200
    assert wait_until(lambda: stats(d)["store"]["syncs"] == 2), stats(d)["store"]
    assert d.get("/kv/s/k2").body == b"v"


def test_hot_object_max_above_one_mebibyte_keeps_such_entries_in_memory(make_proxy, origin):
    # The memory tier was built with a fixed 1 MiB object limit, so a larger hot_object_max
    # never kept anything above 1 MiB in memory.
    big = b"b" * (2 << 20)
    origin.route("/big", body=big, headers={"Cache-Control": "max-age=300"})
    d = make_proxy(origin, config={"hot_object_max": "4MiB"})
    r = d.get("/big")
    assert (r.status, r.headers["x-cache"], len(r.body)) == (200, "MISS", len(big))
    assert wait_until(lambda: stats(d)["store"]["cache_entries"] == 1)
    r = d.get("/big")
    assert (r.status, r.headers["x-cache"], r.body) == (200, "HIT", big)
    hot = stats(d)["hot_tier"]
    assert hot["entries"] == 1 and hot["bytes"] > len(big), hot
    # A hit now comes from memory.
    r = d.get("/big")
    assert (r.headers["x-cache"], r.body) == ("HIT", big)
    assert stats(d)["hot_tier"]["hits"] >= 1
    assert origin.hits("/big") == 1


def test_a_reloaded_hot_object_max_decides_what_the_memory_tier_keeps(make_proxy, origin):
    origin.route("/a", body=b"a" * 300000, headers={"Cache-Control": "max-age=300"})
    origin.route("/b", body=b"b" * 300000, headers={"Cache-Control": "max-age=300"})
    d = make_proxy(origin, config={"hot_object_max": "256KiB"})
    assert d.get("/a").status == 200
    assert wait_until(lambda: stats(d)["store"]["cache_entries"] == 1)
    assert d.get("/a").headers["x-cache"] == "HIT"
    assert stats(d)["hot_tier"]["entries"] == 0  # over the limit: served from LMDB
    cfg = {"origins": {"o": {"url": "http://" + origin.address, "timeout_ms": 3000}},
           "routes": [{"name": "r", "prefix": "/", "origin": "o"}], "hot_object_max": "1MiB"}
    assert reload_with(d, cfg)["changes"] == ["hot_object_max"]
    assert d.get("/b").status == 200
    assert wait_until(lambda: stats(d)["store"]["cache_entries"] == 2)
    assert d.get("/b").headers["x-cache"] == "HIT"
    assert stats(d)["hot_tier"]["entries"] == 1
