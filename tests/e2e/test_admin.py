"""Admin routes on the Unix socket: stats, metrics, purge, warm, inspect, reload, backup, config."""
import json
import os
import re
import shutil
import threading
import time

import pytest

from ectest import Daemon, short_tmpdir


def ndjson(r):
    return [json.loads(line) for line in r.body.decode().splitlines() if line.strip()]


def populate(d, origin, paths, cc="max-age=600"):
    for p in paths:
        origin.route(p.split("?")[0], body=b"body of " + p.encode(), headers={"Cache-Control": cc})
    for p in paths:
        assert d.get(p).status == 200


def test_admin_routes_are_not_on_the_data_plane(make_proxy, origin):
    d = make_proxy(origin, listen=["127.0.0.1:0", ])
    origin.route("/admin/stats", status=404, body=b"origin")
    assert d.get("/admin/stats").body == b"origin"  # the proxy route, not the admin API
    assert d.admin("GET", "/admin/stats").status == 200


def test_stats_and_reset(make_proxy, origin):
    origin.route("/s", body=b"x", headers={"Cache-Control": "max-age=60"})
    d = make_proxy(origin)
    d.get("/s")
    d.get("/s")
    d.get("/s")
    s = d.admin("GET", "/admin/stats").json()
    assert s["cache"]["misses"] == 1 and s["cache"]["hits"] == 2
    assert abs(s["hit_rate"] - 2 / 3) < 1e-9
    r = s["routes"]["r"]
    assert r["hits_memory"] == 2 and r["hit_rate"] > 0.6
    assert s["origins"]["o"]["servers"][0]["up"] is True
    assert s["store"]["map_size"] > 0 and s["process"]["rss_anon_bytes"] > 0
    assert d.admin("POST", "/admin/stats/reset").json() == {"reset": True}
    s = d.admin("GET", "/admin/stats").json()
    assert s["cache"]["hits"] == 0 and s["hit_rate"] == 0


def test_namespace_stats(daemon):
    daemon.put("/kv/ns1/a", b"1")
    daemon.get("/kv/ns1/a")
    daemon.get("/kv/ns1/missing")
    s = daemon.admin("GET", "/admin/stats").json()["namespaces"]["ns1"]
    assert s == {"reads": 2, "hits": 1, "writes": 1, "deletes": 0, "lists": 0}


def test_metrics_prometheus_text(make_proxy, origin):
    origin.route("/m", body=b"x", headers={"Cache-Control": "max-age=60"})
    d = make_proxy(origin)
    d.get("/m")
    d.get("/m")
    r = d.admin("GET", "/metrics")
    assert r.status == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert 'edgecached_build_info{version="' in text
    assert 'edgecached_cache_hits_total{route="r",tier="memory"} 1' in text
    assert 'edgecached_cache_misses_total{route="r"} 1' in text
    assert "edgecached_request_duration_seconds_bucket{le=\"+Inf\"}" in text
    assert "edgecached_request_duration_seconds_count" in text
    assert "process_resident_anonymous_memory_bytes" in text and "process_open_fds" in text
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            float(value)  # every sample is a number
            if name.split("{")[0].endswith("_total"):
                assert "# TYPE " + name.split("{")[0] + " counter" in text


def test_every_cache_counter_in_stats_is_in_metrics(make_proxy, origin):
    # One counter table feeds /admin/stats and /metrics (issue 12 item 9): /metrics once left out
    # background revalidations, 304s answered, stores skipped, not stored and invalidations.
    origin.route("/m", body=b"x", headers={"Cache-Control": "max-age=60"})
    d = make_proxy(origin)
    assert d.get("/m").status == 200
    route = d.admin("GET", "/admin/stats").json()["routes"]["r"]
    text = d.admin("GET", "/metrics").text
    families = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}
    derived = {"hits", "hit_rate", "prefix", "origin", "origin_errors"}
    counters = [k for k in route if k not in derived]
    assert {"background_revalidations", "not_modified", "invalidations"} <= set(counters)
    for key in counters:
        name = {"hits_memory": "hits", "hits_disk": "hits", "bytes_served": "served_bytes",
                "origin_errors_total": "origin_errors"}.get(key, key)
        family = "edgecached_cache_%s_total" % name
        assert family in families, (key, family)
        sample = re.search(r"^%s\{route=\"r\"[^}]*\} (\d+)$" % family, text, re.M)
        assert sample, family
    assert re.search(r'^edgecached_cache_requests_total\{route="r"\} 1$', text, re.M)


# Each /admin/stats section's numeric keys and the /metrics sample that carries the same value
# (family, extra label). One counter table per section feeds both (issue 12 item 9): a key added
# to /admin/stats without its metric, or a metric reading another value, fails here.
STATS_METRICS = {
    "top": {"requests": ("edgecached_http_requests_total", ""),
            "admin_requests": ("edgecached_admin_requests_total", "")},
    "connections": {"open": ("edgecached_connections_open", ""),
                    "accepted": ("edgecached_connections_accepted_total", ""),
                    "rejected": ("edgecached_connections_rejected_total", ""),
                    "admin_open": ("edgecached_admin_connections_open", ""),
                    "admin_accepted": ("edgecached_admin_connections_accepted_total", ""),
                    "bad_requests": ("edgecached_http_bad_requests_total", ""),
                    "too_large": ("edgecached_http_too_large_total", ""),
                    "shed": ("edgecached_connections_shed_total", ""),
                    "queued_output_bytes": ("edgecached_queued_output_bytes", ""),
                    "bodies_shed": ("edgecached_http_bodies_shed_total", ""),
                    "buffered_body_bytes": ("edgecached_buffered_body_bytes", ""),
                    "timeouts": ("edgecached_http_timeouts_total", ""),
                    "bytes_in": ("edgecached_http_received_bytes_total", ""),
                    "bytes_out": ("edgecached_http_sent_bytes_total", "")},
    "process": {"cpu_seconds": ("process_cpu_seconds_total", ""),
                "rss_anon_bytes": ("process_resident_anonymous_memory_bytes", ""),
                "open_fds": ("process_open_fds", ""), "max_fds": ("process_max_fds", "")},
    "cache": {"purges": ("edgecached_purged_total", ""),
              "evictions": ("edgecached_store_evicted_total", ""),
              "fills_in_flight": ("edgecached_cache_fills_in_flight", "")},
    "deferred": {k: ("edgecached_deferred_" + k + ("" if k in ("running", "queued") else "_total"),
                     "") for k in ("running", "queued", "completed", "failed", "deduplicated",
                                   "rejected")},
    "hot_tier": {"bytes": ("edgecached_hot_tier_bytes", ""),
                 "capacity": ("edgecached_hot_tier_capacity_bytes", ""),
                 "entries": ("edgecached_hot_tier_entries", ""),
                 "hits": ("edgecached_hot_tier_hits_total", ""),
                 "misses": ("edgecached_hot_tier_misses_total", ""),
                 "evictions": ("edgecached_hot_tier_evictions_total", ""),
                 "expirations": ("edgecached_hot_tier_expirations_total", "")},
    "store": {"map_size": ("edgecached_store_map_size_bytes", ""),
              "map_used": ("edgecached_store_map_used_bytes", ""),
              "map_high_water": ("edgecached_store_map_high_water_bytes", ""),
              "entries": ("edgecached_store_entries", ""),
              "namespaces": ("edgecached_store_namespaces", ""),
              "cache_entries": ("edgecached_store_records", 'kind="cache"'),
              "cache_bytes": ("edgecached_store_record_bytes", 'kind="cache"'),
              "kv_keys": ("edgecached_store_records", 'kind="kv"'),
              "kv_bytes": ("edgecached_store_record_bytes", 'kind="kv"'),
              "commits": ("edgecached_store_commits_total", ""),
              "syncs": ("edgecached_store_syncs_total", ""),
              "expirations": ("edgecached_store_expired_total", ""),
              "expired_swept": ("edgecached_store_expired_swept_total", ""),
              "expired_on_read": ("edgecached_store_expired_on_read_total", "")},
    "commit_failures": {r: ("edgecached_store_commit_failures_total", 'reason="%s"' % r)
                        for r in ("disk_full", "map_full", "io")},
    "namespace": {"reads": ("edgecached_kv_operations_total", 'op="read"'),
                  "hits": ("edgecached_kv_read_hits_total", ""),
                  "writes": ("edgecached_kv_operations_total", 'op="write"'),
                  "deletes": ("edgecached_kv_operations_total", 'op="delete"'),
                  "lists": ("edgecached_kv_operations_total", 'op="list"')},
    "origin": {"requests": ("edgecached_origin_requests_total", ""),
               "completed": ("edgecached_origin_completed_total", ""),
               "connections_open": ("edgecached_origin_connections_open", ""),
               "connections_reused": ("edgecached_origin_connections_reused_total", "")},
    "server": {"requests": ("edgecached_origin_server_requests_total", ""),
               "failures": ("edgecached_origin_server_failures_total", "")},
}


def test_every_stats_section_value_is_a_metric(make_proxy, origin):
    origin.route("/p/m", body=b"x" * 100, headers={"Cache-Control": "max-age=60"})
    d = make_proxy(origin, route={"prefix": "/p/"})
    assert d.get("/p/m").status == 200
    assert d.put("/kv/ns/a", b"1").status in (200, 201, 204)
    deadline = time.monotonic() + 10
    while d.admin("GET", "/admin/stats").json()["store"].get("cache_entries", 0) < 1:
        assert time.monotonic() < deadline, "the miss's fill was never committed"
        time.sleep(0.02)
    assert d.get("/p/m").status == 200  # a hot tier hit
    assert d.get("/kv/ns/a").status == 200
    stats = d.admin("GET", "/admin/stats").json()
    text = d.admin("GET", "/metrics").text
    samples = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    # The cache totals are the route table's (test_every_cache_counter_in_stats_is_in_metrics).
    route_keys = set(stats["routes"]["r"]) | {"hit_rate", "hits"}
    cache = {k: v for k, v in stats["cache"].items() if k not in route_keys}
    origin = stats["origins"]["o"]
    # Admin requests, bytes moved and the process's use change between the two reads: those
    # are only present.
    top = {k: v for k, v in stats.items() if k not in ("uptime_s", "hit_rate")}
    sections = [("top", "", top), ("connections", "", stats["connections"]),
                ("process", "", stats["process"]),
                ("cache", "", cache), ("deferred", "", stats["cache"]["deferred"]),
                ("hot_tier", "", stats["hot_tier"]), ("store", "", stats["store"]),
                ("commit_failures", "", stats["store"]["commit_failures"]),
                ("namespace", 'namespace="ns"', stats["namespaces"]["ns"]),
                ("origin", 'origin="o"', origin),
                ("server", 'origin="o",server="%s"' % origin["servers"][0]["server"],
                 origin["servers"][0])]
    assert stats["hot_tier"]["hits"] >= 1 and stats["store"]["kv_keys"] == 1
    assert stats["namespaces"]["ns"]["hits"] == 1 and origin["completed"] == 1
    for section, entity, values in sections:
        for key, value in values.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            if section == "store" and key == "map_used_fraction":
                continue  # derived from map_used and map_size, both metrics
            assert key in STATS_METRICS[section], "%s.%s has no metric" % (section, key)
            family, labels = STATS_METRICS[section][key]
            labels = ",".join(l for l in (entity, labels) if l)
            name = family + ("{%s}" % labels if labels else "")
            assert name in samples, (section, key, name)
            if section not in ("top", "connections", "process"):
                assert samples[name] == value, (section, key, name, samples[name], value)
        assert set(STATS_METRICS[section]) <= set(values), section


def test_metrics_on_a_listener_that_serves_them(make_daemon):
    d = make_daemon(listen=[], config={"listen": ["127.0.0.1:0", {"address": "127.0.0.1:0",
                                                                  "serve": ["metrics"]}]})
    assert d.get("/metrics", listener=1).status == 200
    assert d.get("/metrics", listener=0).status == 404
    assert d.get("/admin/stats", listener=1).status == 404


def test_metrics_takes_only_get_and_head(make_daemon):
    # The /metrics row once took any method: POST and DELETE /metrics answered 200.
    d = make_daemon(listen=[], config={"listen": ["127.0.0.1:0", {"address": "127.0.0.1:0",
                                                                  "serve": ["metrics"]}]})
    for send in (lambda m: d.admin(m, "/metrics"), lambda m: d.request(m, "/metrics", listener=1)):
        assert send("HEAD").status == 200
        for method in ("POST", "DELETE", "PUT"):
            r = send(method)
            assert r.status == 405, (method, r.status)
            assert r.headers["allow"] == "GET, HEAD"


def test_health_takes_only_get_and_head(daemon):
    # Like /metrics, /health once answered 200 to any method.
    assert daemon.request("HEAD", "/health").status == 200
    r = daemon.post("/health")
    assert r.status == 405 and r.headers["allow"] == "GET, HEAD"
    assert daemon.admin("DELETE", "/health").status == 405


@pytest.mark.parametrize("method,path,allow", [
    ("POST", "/admin/stats", "GET, HEAD"),
    ("GET", "/admin/stats/reset", "POST"),
    ("GET", "/admin/purge", "POST"),
    ("PUT", "/admin/warm", "POST"),
    ("POST", "/admin/inspect?path=/x", "GET, HEAD"),
    ("GET", "/admin/reload", "POST"),
    ("GET", "/admin/backup", "POST"),
    ("DELETE", "/admin/origins", "GET, HEAD"),
    ("GET", "/admin/origins/health", "POST"),
    ("POST", "/admin/config", "GET, HEAD"),
    ("POST", "/admin/fleet", "GET, HEAD"),
    ("POST", "/admin/fleet/purges?seq=1", "GET, HEAD"),
    ("POST", "/admin/tail", "GET"),
    ("GET", "/admin/test/clock?advance=0", "POST"),
])
def test_admin_wrong_method_is_405_with_the_routes_allow(daemon, method, path, allow):
    r = daemon.admin(method, path)
    assert r.status == 405 and r.headers["allow"] == allow
    assert r.json()["error"]["code"] == "method_not_allowed"


def test_unknown_admin_path_is_404_whatever_the_method(daemon):
    for method in ("GET", "POST", "DELETE"):
        r = daemon.admin(method, "/admin/nope")
        assert r.status == 404 and "/admin/nope" in r.json()["error"]["message"]
    assert daemon.admin("GET", "/admin/stats/").status == 404


def test_purge_paths_all_variants(make_proxy, origin):
    populate(d := make_proxy(origin), origin, ["/a?x=1&y=2", "/a", "/b"])
    d.get("/a", headers={"Host": "other.test"})
    r = d.admin("POST", "/admin/purge", json.dumps({"paths": ["/a?y=2&x=1", "/a"]}))
    assert r.status == 200 and r.json()["purged"] == 3
    assert d.get("/a?x=1&y=2").headers["x-cache"] == "MISS"
    assert d.get("/a").headers["x-cache"] == "MISS"
    assert d.get("/b").headers["x-cache"] == "HIT"


def test_purge_prefix_and_route_scope(make_daemon, origin):
    cfg = {"origins": {"o": {"url": "http://" + origin.address}},
           "routes": [{"name": "api", "prefix": "/api/", "origin": "o"},
                      {"name": "web", "prefix": "/", "origin": "o"}]}
    d = make_daemon(config=cfg)
    populate(d, origin, ["/api/1", "/api/2", "/web/1", "/apix"])
    r = d.admin("POST", "/admin/purge", json.dumps({"prefix": "/api/"}))
    assert r.json()["purged"] == 2
    assert d.get("/api/1").headers["x-cache"] == "MISS"
    assert d.get("/apix").headers["x-cache"] == "HIT"
    r = d.admin("POST", "/admin/purge", json.dumps({"all": True, "route": "api"}))
    assert r.json()["purged"] == 1
    assert d.get("/web/1").headers["x-cache"] == "HIT"
    r = d.admin("POST", "/admin/purge", json.dumps({"all": True, "route": "nope"}))
    assert r.status == 400


def test_purge_tags(make_proxy, origin):
    d = make_proxy(origin)
    origin.route("/t1", body=b"1", headers={"Cache-Control": "max-age=60", "Cache-Tag": "red,blue"})
    origin.route("/t2", body=b"2", headers={"Cache-Control": "max-age=60", "Surrogate-Key": "blue"})
    origin.route("/t3", body=b"3", headers={"Cache-Control": "max-age=60", "Cache-Tag": "green"})
    for p in ["/t1", "/t2", "/t3"]:
        d.get(p)
    r = d.admin("POST", "/admin/purge", json.dumps({"tags": ["blue"]}))
    assert r.json()["purged"] == 2
    assert d.get("/t1").headers["x-cache"] == "MISS"
    assert d.get("/t2").headers["x-cache"] == "MISS"
    assert d.get("/t3").headers["x-cache"] == "HIT"


def test_soft_purge_keeps_a_stale_copy(make_proxy, origin):
    origin.route("/soft", date=False, body=b"v1",
                 headers={"Cache-Control": "max-age=600, stale-while-revalidate=60"})
    d = make_proxy(origin)
    d.get("/soft")
    origin.route("/soft", date=False, body=b"v2",
                 headers={"Cache-Control": "max-age=600, stale-while-revalidate=60"})
    r = d.admin("POST", "/admin/purge", json.dumps({"paths": ["/soft"], "soft": True}))
    assert r.json()["purged"] == 1 and r.json()["soft"] is True
    r = d.get("/soft")
    assert r.headers["x-cache"] == "STALE" and r.body == b"v1"
    deadline = time.time() + 5
    while time.time() < deadline and d.get("/soft").body != b"v2":
        time.sleep(0.05)
    assert d.get("/soft").body == b"v2"


def test_purge_all_touches_cache_not_kv(make_proxy, origin):
    d = make_proxy(origin)
    populate(d, origin, ["/x", "/y"])
    d.put("/kv/ns/k", b"kept")
    assert d.admin("POST", "/admin/purge", json.dumps({"all": True})).json()["purged"] == 2
    assert d.get("/kv/ns/k").body == b"kept"
    assert d.get("/x").headers["x-cache"] == "MISS"


def test_purge_namespace_prefix(daemon):
    daemon.put("/kv/ns", json.dumps([{"key": f"user:{i}", "value": "v"} for i in range(10)]
                                    + [{"key": "other", "value": "v"}]))
    r = daemon.admin("POST", "/admin/purge", json.dumps({"prefix": "user:", "namespace": "ns"}))
    assert r.json()["purged"] == 10
    assert [k["name"] for k in daemon.get("/kv/ns").json()["keys"]] == ["other"]
    r = daemon.admin("POST", "/admin/purge", json.dumps({"all": True, "namespace": "nope"}))
    assert r.status == 404
    assert r.json()["error"] == {"code": "namespace_not_found",
                                 "message": "namespace 'nope' does not exist"}


@pytest.mark.parametrize("body", ['{}', '{"paths":["nope"]}', '{"prefix":"/a","tags":["x"]}',
                                  '{"all":false}', '{"bogus":1}', 'not json'])
def test_bad_purge_requests(daemon, body):
    r = daemon.admin("POST", "/admin/purge", body)
    assert r.status == 400 and "error" in r.json()


def test_large_purge_is_time_sliced_while_others_are_served(daemon):
    for batch in range(5):
        entries = [{"key": f"k{batch}:{i:05d}", "value": "v" * 64} for i in range(10000)]
        assert daemon.put("/kv/big", json.dumps(entries)).status == 200
    daemon.put("/kv/other/k", b"steady")
    latencies = []
    errors = []
    done = threading.Event()

    def client():
        import http.client
        conn = http.client.HTTPConnection(*daemon.tcp_address(), timeout=10)
        while not done.is_set():
            t0 = time.time()
            conn.request("GET", "/kv/other/k")
            r = conn.getresponse()
            body = r.read()
            latencies.append(time.time() - t0)
            if r.status != 200 or body != b"steady":
                errors.append(r.status)

    t = threading.Thread(target=client)
    t.start()
    try:
        r = daemon.admin("POST", "/admin/purge", json.dumps({"all": True, "namespace": "big"}))
    finally:
        done.set()
        t.join()
    assert r.json()["purged"] == 50000
    assert not errors and len(latencies) > 10
    assert daemon.get("/kv/big").json()["keys"] == []
    latencies.sort()
    print(f"purge of 50k: other client served {len(latencies)} requests, "
          f"p99 {latencies[int(len(latencies) * 0.99)] * 1000:.1f} ms")


def test_warm_streams_ndjson_and_skips_fresh(make_proxy, origin):
    d = make_proxy(origin)
    for p in ["/w1", "/w2", "/w3"]:
        origin.route(p, body=b"warm " + p.encode(), headers={"Cache-Control": "max-age=60"})
    origin.route("/w-missing", status=404, body=b"no")
    d.get("/w1")
    r = d.admin("POST", "/admin/warm", json.dumps({"paths": ["/w1", "/w2", "/w3", "/w-missing"],
                                                   "concurrency": 2}))
    assert r.status == 200 and r.headers["content-type"] == "application/x-ndjson"
    lines = ndjson(r)
    by_path = {l["path"]: l for l in lines[:-1]}
    assert by_path["/w1"]["cache"] == "FRESH"
    assert by_path["/w2"]["status"] == 200 and by_path["/w2"]["cache"] == "MISS"
    assert by_path["/w2"]["bytes"] == len(b"warm /w2")
    assert by_path["/w-missing"]["status"] == 404
    assert lines[-1] == {"done": 4, "failed": 1}
    assert d.get("/w3").headers["x-cache"] == "HIT"
    assert origin.hits("/w1") == 1


def test_inspect(make_proxy, origin):
    origin.route("/i", body=b"inspect me", headers={"Cache-Control": "max-age=100, stale-if-error=50",
                                                    "Cache-Tag": "x"})
    d = make_proxy(origin)
    r = d.admin("GET", "/admin/inspect?path=/i")
    assert r.status == 404
    d.get("/i")
    info = d.admin("GET", "/admin/inspect?path=/i").json()
    assert info["url"] == "/i" and info["status"] == 200 and info["tier"] in ("memory", "disk")
    assert info["lifetime"] == 100 and info["stale_if_error"] == 50 and info["state"] == "fresh"
    assert ["Cache-Control", "max-age=100, stale-if-error=50"] in info["headers"]
    assert info["tags"] == ["x"] and info["body_bytes"] == 10
    assert d.admin("GET", "/admin/inspect").status == 400


def test_config_masks_secrets(make_daemon):
    d = make_daemon(config={"api_token": "sekrit", "admin_token": "adm1nsecret",
                            "admin_listen": "127.0.0.1:0", "min_ttl": 42})
    cfg = d.admin("GET", "/admin/config").json()
    assert cfg["min_ttl"] == 42
    text = json.dumps(cfg)
    assert "sekrit" not in text and "adm1nsecret" not in text, text
    # Both are still shown as set, just not what they are.
    assert cfg["api_token"] and cfg["admin_token"], cfg


def test_reload_applies_changes_and_keeps_connections(make_daemon, origin, tmp_path):
    origin.route("/r", body=b"x")  # no freshness: stored only with a route ttl
    cfg = {"origins": {"o": {"url": "http://" + origin.address}},
           "routes": [{"name": "r", "prefix": "/", "origin": "o", "ttl": 0}],
           "listen": ["127.0.0.1:0"]}
    d = make_daemon(listen=[], config=cfg)
    conn_port = d.tcp_address()
    d.get("/r")
    assert d.get("/r").headers["x-cache"] != "HIT"
    cfg["routes"][0]["ttl"] = 100
    cfg["listen"].append("127.0.0.1:0")
    with open(os.path.join(d.tmp, "config.json"), "w") as f:
        json.dump(cfg, f)
    r = d.admin("POST", "/admin/reload")
    assert r.status == 200, r
    assert "routes" in r.json()["changes"]
    # The kept-alive connection on the listener that stayed still works.
    d.get("/r")
    assert d.get("/r").headers["x-cache"] == "HIT"
    assert d.tcp_address() == conn_port
    # An invalid file is refused with the reason; the running config stays.
    with open(os.path.join(d.tmp, "config.json"), "w") as f:
        f.write('{"routes": [{"prefix": "/", "origin": "missing"}]}')
    r = d.admin("POST", "/admin/reload")
    assert r.status == 400 and "routes[0].origin" in r.json()["error"]["message"]
    assert d.get("/r").headers["x-cache"] == "HIT"


def test_sighup_reloads(make_daemon, tmp_path):
    d = make_daemon(config={"min_ttl": 60})
    assert d.put("/kv/ns/k?ttl=10", b"x").status == 400
    with open(os.path.join(d.tmp, "config.json"), "w") as f:
        json.dump({"min_ttl": 5}, f)
    import signal
    d.send_signal(signal.SIGHUP)
    d.wait_log("configuration reloaded")
    assert d.put("/kv/ns/k?ttl=10", b"x").status == 200


def test_backup_and_restore(daemon):
    for i in range(100):
        daemon.put(f"/kv/bk/k{i}", f"v{i}".encode())
    target = os.path.join(short_tmpdir(), "backup")
    r = daemon.admin("POST", "/admin/backup", json.dumps({"path": target}))
    assert r.status == 200, r
    assert r.json()["bytes"] > 0 and os.path.exists(os.path.join(target, "data.mdb"))
    # Errors: relative path, existing target.
    assert daemon.admin("POST", "/admin/backup", json.dumps({"path": "rel/dir"})).status == 400
    assert daemon.admin("POST", "/admin/backup", json.dumps({"path": target})).status == 409
    # Restore: stop, replace the data dir, start.
    daemon.put("/kv/bk/after", b"not in the backup")
    assert daemon.stop() == 0
    shutil.rmtree(daemon.data_dir)
    shutil.copytree(target, daemon.data_dir)
    daemon.start()
    assert daemon.get("/kv/bk/k42").body == b"v42"
    assert daemon.get("/kv/bk/after").status == 404


def test_full_map_evicts_cache_entries_and_refuses_kv_with_507(make_proxy, origin):
    origin.route("/obj/*", body=b"o" * 20000, headers={"Cache-Control": "max-age=600"})
    d = make_proxy(origin, config={"map_size": "4MiB", "memory_cache": "0"})
    for i in range(400):  # ~8 MiB of cache entries through a 4 MiB map
        r = d.get(f"/obj/{i}")
        assert r.status == 200
    # Fills are stored by the store's writer thread after they are served: let them land.
    deadline = time.monotonic() + 60
    while True:
        s = d.admin("GET", "/admin/stats").json()
        if s["cache"]["fills_in_flight"] == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert s["cache"]["evictions"] > 0
    # KV data is never evicted to make room (unless its namespace is evictable): 507.
    statuses = []
    for i in range(400):
        r = d.put(f"/kv/full/k{i}", b"v" * 20000)
        statuses.append(r.status)
        if r.status == 507:
            break
    assert statuses[0] == 200 and statuses[-1] == 507  # cache entries made room, then 507
    assert r.json()["error"]["code"] == "storage_full"
    # (Not "the next write is refused too": how many pages a write needs depends on where its
    # key lands in the tree, so a write of the same size may still fit.)
    # Reads keep being served, and no accepted KV value was evicted.
    for i, status in enumerate(statuses[:-1]):
        assert d.get(f"/kv/full/k{i}").status == 200, i
    assert d.get("/health").status == 200


def test_sustained_507s_log_a_line_a_second_not_one_per_write(make_daemon):
    # Every write against a full map fails the same way; the log said so once per write.
    d = make_daemon(config={"map_size": "4MiB", "memory_cache": "0"})
    t0 = time.monotonic()
    statuses = [d.put(f"/kv/full/k{i}", b"v" * 20000).status for i in range(400)]
    assert statuses[0] == 200 and statuses.count(507) > 100, statuses.count(507)
    elapsed = time.monotonic() - t0
    lines = [l for l in d.log().splitlines() if "store: map full" in l]
    assert 1 <= len(lines) <= elapsed + 2, (len(lines), elapsed)
    assert "more since the last line" in lines[-1]


def test_namespace_stats_count_every_front_end(make_daemon):
    d = make_daemon(listen=[], config={"listen": ["127.0.0.1:0",
                                                  {"address": "127.0.0.1:0", "kv_backend": "wk"}]})
    d.put("/kv/wk/a", b"1")
    assert d.get("/a?urlencoded=true", listener=1).body == b"1"  # the workerd protocol
    ns_id = d.get("/client/v4/accounts/x/storage/kv/namespaces?per_page=100").json()["result"][0]["id"]
    assert d.get(f"/client/v4/accounts/x/storage/kv/namespaces/{ns_id}/values/a").body == b"1"
    s = d.admin("GET", "/admin/stats").json()["namespaces"]["wk"]
    assert s["reads"] == 2 and s["hits"] == 2 and s["writes"] == 1


def test_admin_over_tcp_needs_the_token(make_daemon):
    import re
    import http.client
    d = make_daemon(config={"admin_listen": "127.0.0.1:0", "admin_token": "t0ken"})
    host, port = re.search(r"admin API on (\S+):(\d+)", d.log()).groups()

    def call(path, headers=None):
        c = http.client.HTTPConnection(host, int(port), timeout=5)
        c.request("GET", path, headers=headers or {})
        r = c.getresponse()
        out = (r.status, r.read())
        c.close()
        return out

    assert call("/admin/stats")[0] == 401
    assert call("/admin/stats", {"Authorization": "Bearer wrong"})[0] == 401
    # A prefix, a suffix or an extension of the token is not the token.
    for wrong in ("t", "t0ke", "0ken", "t0ken0", "T0KEN", ""):
        assert call("/admin/stats", {"Authorization": "Bearer " + wrong})[0] == 401, wrong
    assert call("/admin/stats", {"Authorization": "Bearer t0ken"})[0] == 200
    assert call("/metrics", {"Authorization": "Bearer t0ken"})[0] == 200
    assert call("/health")[0] == 200
    # Never on the data plane.
    assert d.get("/admin/stats").status == 404


def test_admin_listen_without_token_is_a_config_error(tmp_path):
    from ectest import EDGECACHED, run_cli
    cfg = tmp_path / "c.json"
    cfg.write_text('{"admin_listen": "127.0.0.1:0"}')
    r = run_cli([EDGECACHED, "--config", str(cfg), "--check-config"], capture_output=True, text=True)
    assert r.returncode == 1 and "admin_token" in r.stderr
