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


# -- every family of reloadable rows reaches what it configures on a reload --------------------
# The option table's reloadable column decides what a reload applies: the daemon hands each
# subsystem its whole settings struct again, and what reads the configuration itself reads the
# new one. One case per way a row is applied; each shows the old value at work, reloads, and
# shows the new one at work, so a family the reload forgot fails here.
def reload_applies(d, cfg, *changed):
    report = reload_with(d, cfg)
    assert sorted(report["changes"]) == sorted(changed), report
    assert report["pending_restart"] == [], report


def test_a_reloaded_client_limit_reaches_the_server(make_daemon):
    # ClientLimits: http::Server::set_limits.
    d = make_daemon(config={"max_header_size": "1KiB"})
    big = {"X-Filler": "f" * 2000}
    assert d.get("/health", headers=big, fresh=True).status == 431
    reload_applies(d, {"max_header_size": "16KiB"}, "max_header_size")
    assert d.get("/health", headers=big, fresh=True).status == 200


def test_a_reloaded_kv_limit_reaches_the_kv_operations(make_daemon):
    # KvLimits: kv::Ops::set_rules.
    d = make_daemon(config={"max_value_size": "1KiB"})
    assert d.put("/kv/ns/k", b"v" * 2048, fresh=True).status == 413
    reload_applies(d, {"max_value_size": "1MiB"}, "max_value_size")
    assert d.put("/kv/ns/k", b"v" * 2048, fresh=True).status == 200
    assert d.get("/kv/ns/k").body == b"v" * 2048


def test_a_reloaded_cache_setting_reaches_the_proxy(make_proxy, origin):
    # CacheSettings: cache::Proxy::configure (ProxySettings::apply).
    for path in ("/a", "/b"):
        origin.route(path, body=b"x", headers={"Cache-Control": "max-age=60", "Cache-Tag": "t1"})
    d = make_proxy(origin, config={"expose_tags": False})
    assert "cache-tag" not in d.get("/a").headers
    reload_applies(d, dict(d.config, expose_tags=True), "expose_tags")
    assert d.get("/b").headers["cache-tag"] == "t1"


def test_reloaded_origins_reach_the_origin_pools(make_proxy, origin):
    # origins: origin::Origins::configure.
    from origin import Origin
    other = Origin().start()
    try:
        origin.route("/p", body=b"first", headers={"Cache-Control": "no-store"})
        other.route("/p", body=b"second", headers={"Cache-Control": "no-store"})
        d = make_proxy(origin)
        assert d.get("/p").body == b"first"
        cfg = dict(d.config, origins={"o": {"url": "http://" + other.address}})
        reload_applies(d, cfg, "origins")
        assert d.get("/p", fresh=True).body == b"second"
    finally:
        other.stop()


def test_reloaded_tokens_and_request_ids_reach_the_router(make_daemon):
    # Rows the router reads from the running config on each request.
    d = make_daemon(config={"request_id": True})
    assert d.put("/kv/ns/k", b"v").status == 200
    assert "x-request-id" in d.get("/health").headers
    reload_applies(d, {"request_id": False, "api_token": "t0ken"}, "request_id", "api_token")
    assert "x-request-id" not in d.get("/health").headers
    assert d.get("/kv/ns/k").status == 401
    r = d.get("/kv/ns/k", headers={"Authorization": "Bearer t0ken"})
    assert (r.status, r.body) == (200, b"v")


def test_reloaded_log_and_access_log_formats_reach_the_loggers(make_daemon):
    # Daemon::apply_runtime_settings: the log format and the access log's template.
    d = make_daemon(config={})
    access = os.path.join(d.tmp, "access.log")
    reload_applies(d, {"access_log": access}, "access_log")
    assert d.get("/health").status == 200
    assert wait_until(lambda: os.path.exists(access) and "GET /health" in open(access).read())
    reload_applies(d, {"access_log": access, "access_log_format": "$method $target $status",
                       "log_format": "json"}, "access_log_format", "log_format")
    assert d.get("/health").status == 200
    # Every exchange is logged, the admin socket's too: the reload's POST may come first.
    assert wait_until(lambda: "\nGET /health 200\n" in open(access).read()), open(access).read()
    # The reload's own closing line is already written as JSON.
    d.wait_log(r'\{"time":"[^"]+","level":"info","msg":"configuration reloaded')
