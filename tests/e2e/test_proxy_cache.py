"""The caching proxy from outside: cache-aside, keys, Vary, HEAD, Range, conditionals, headers."""
import http.client
import threading

from origin import Response


def test_miss_then_hit_with_cache_headers(make_proxy, origin):
    origin.route("/a", body=b"hello", headers={"Cache-Control": "max-age=60", "X-Custom": "kept"},
                 etag='"v1"')
    d = make_proxy(origin)
    r = d.get("/a")
    assert r.status == 200 and r.body == b"hello"
    assert r.headers["x-cache"] == "MISS"
    assert "fwd=miss" in r.headers["cache-status"] and "stored" in r.headers["cache-status"]
    assert r.headers["via"] == "1.1 edgecached"
    assert r.headers["x-custom"] == "kept"
    r = d.get("/a")
    assert r.status == 200 and r.body == b"hello"
    assert r.headers["x-cache"] == "HIT"
    assert r.headers["cache-status"].startswith("edgecached; hit; ttl=")
    assert r.headers["etag"] == '"v1"' and r.headers["x-custom"] == "kept"
    assert origin.hits("/a") == 1
    # Age grows with the (test) clock; the origin is not asked again while fresh.
    d.advance_clock(30)
    r = d.get("/a")
    assert r.headers["x-cache"] == "HIT" and 30 <= int(r.headers["age"]) <= 31
    assert origin.hits("/a") == 1


def test_upstream_age_counts(make_proxy, origin):
    origin.route("/aged", body=b"x", headers={"Cache-Control": "max-age=100", "Age": "40"})
    d = make_proxy(origin)
    d.get("/aged")
    r = d.get("/aged")
    assert r.headers["x-cache"] == "HIT" and 40 <= int(r.headers["age"]) <= 41
    d.advance_clock(61)
    assert d.get("/aged").headers["x-cache"] != "HIT"  # 40 + 61 > 100


def test_request_reaches_origin_as_sent(make_proxy, origin):
    origin.route("/echo", body=b"ok", headers={"Cache-Control": "max-age=60"})
    d = make_proxy(origin)
    d.get("/echo?b=2&a=1", headers={"X-Trace": "t1", "Connection": "keep-alive, X-Hop", "X-Hop": "h"})
    req = origin.last("/echo")
    assert req.target == "/echo?b=2&a=1"  # the original target goes upstream
    assert req.header("x-trace") == "t1"
    assert req.header("x-hop") is None  # listed in Connection: hop-by-hop
    assert "edgecached" in req.header("via")
    assert req.header("host") == "%s:%d" % d.tcp_address()


def test_query_is_normalised_and_filtered(make_proxy, origin):
    origin.route("/q", handler=lambda req: Response(body=req.target.encode(),
                                                    headers={"Cache-Control": "max-age=60"}))
    d = make_proxy(origin, route={"ignore_query_params": ["utm_*", "fbclid"]})
    assert d.get("/q?b=2&a=1&utm_source=x").headers["x-cache"] == "MISS"
    r = d.get("/q?a=1&fbclid=zz&b=2")
    assert r.headers["x-cache"] == "HIT" and r.body == b"/q?b=2&a=1&utm_source=x"
    assert d.get("/q?a=2&b=2").headers["x-cache"] == "MISS"
    assert origin.hits("/q") == 2


def test_host_is_part_of_the_key(make_proxy, origin):
    origin.route("/h", handler=lambda req: Response(body=req.header("host").encode(),
                                                    headers={"Cache-Control": "max-age=60"}))
    d = make_proxy(origin)
    assert d.get("/h", headers={"Host": "one.test"}).body == b"one.test"
    assert d.get("/h", headers={"Host": "two.test"}).body == b"two.test"
    assert d.get("/h", headers={"Host": "ONE.test"}).headers["x-cache"] == "HIT"
    assert origin.hits("/h") == 2


def test_origin_host_override(make_proxy, origin):
    origin.route("/ho", body=b"x", headers={"Cache-Control": "max-age=60"})
    d = make_proxy(origin, origin_opts={"host": "backend.internal"})
    d.get("/ho", headers={"Host": "public.test"})
    assert origin.last("/ho").header("host") == "backend.internal"


def test_vary_accept_encoding_variants(make_proxy, origin):
    origin.route("/v", handler=lambda req: Response(
        body=("enc:" + (req.header("accept-encoding") or "none")).encode(),
        headers={"Cache-Control": "max-age=60", "Vary": "Accept-Encoding"}))
    d = make_proxy(origin)
    assert d.get("/v", headers={"Accept-Encoding": "gzip"}).body == b"enc:gzip"
    assert d.get("/v", headers={"Accept-Encoding": "br"}).body == b"enc:br"
    r = d.get("/v", headers={"Accept-Encoding": "gzip;q=1.0"})  # same class as "gzip"
    assert r.headers["x-cache"] == "HIT" and r.body == b"enc:gzip"
    r = d.get("/v", headers={"Accept-Encoding": "br"})
    assert r.headers["x-cache"] == "HIT" and r.body == b"enc:br"
    assert d.get("/v").body == b"enc:identity"  # http.client sends "identity"
    assert origin.hits("/v") == 3


def test_vary_star_is_never_reused(make_proxy, origin):
    origin.route("/star", body=b"x", headers={"Cache-Control": "max-age=60", "Vary": "*"})
    d = make_proxy(origin)
    d.get("/star")
    assert d.get("/star").headers["x-cache"] != "HIT"
    assert origin.hits("/star") == 2


def test_head_from_stored_get_and_head_miss_forwarded(make_proxy, origin):
    origin.route("/doc", body=b"0123456789", headers={"Cache-Control": "max-age=60"})
    d = make_proxy(origin)
    # A HEAD miss goes upstream as HEAD, and nothing is stored from it.
    r = d.request("HEAD", "/doc")
    assert r.status == 200 and r.body == b"" and r.headers["content-length"] == "10"
    assert origin.last("/doc").method == "HEAD"
    assert d.get("/doc").headers["x-cache"] == "MISS"
    r = d.request("HEAD", "/doc")
    assert r.headers["x-cache"] == "HIT" and r.headers["content-length"] == "10" and r.body == b""
    assert [q.method for q in origin.requests_for("/doc")] == ["HEAD", "GET"]


def test_range_on_a_stored_response(make_proxy, origin):
    origin.route("/r", body=b"0123456789", headers={"Cache-Control": "max-age=60"}, etag='"r1"')
    d = make_proxy(origin)
    d.get("/r")
    r = d.get("/r", headers={"Range": "bytes=2-5"})
    assert r.status == 206 and r.body == b"2345"
    assert r.headers["content-range"] == "bytes 2-5/10"
    r = d.get("/r", headers={"Range": "bytes=-3"})
    assert r.status == 206 and r.body == b"789"
    r = d.get("/r", headers={"Range": "bytes=50-60"})
    assert r.status == 416 and r.headers["content-range"] == "bytes */10"
    # If-Range with another validator: the whole body.
    r = d.get("/r", headers={"Range": "bytes=2-5", "If-Range": '"other"'})
    assert r.status == 200 and r.body == b"0123456789"
    assert origin.hits("/r") == 1


def test_range_on_a_miss_to_an_origin_ignoring_range(make_proxy, origin):
    # The range is asked for as such (test_proxy_partial.py); an origin that ignores it and
    # sends the whole 200 has it stored, and the client still gets its 206.
    origin.route("/rm", body=b"abcdefghij", headers={"Cache-Control": "max-age=60"})
    d = make_proxy(origin)
    r = d.get("/rm", headers={"Range": "bytes=0-2"})
    assert r.status == 206 and r.body == b"abc" and r.headers["content-range"] == "bytes 0-2/10"
    assert origin.last("/rm").header("range") == "bytes=0-2"
    assert d.get("/rm").body == b"abcdefghij"
    assert origin.hits("/rm") == 1


def test_client_conditional_gets_304_from_fresh_entry(make_proxy, origin):
    origin.route("/c", body=b"body", headers={"Cache-Control": "max-age=60"}, etag='"e1"',
                 last_modified=1_700_000_000)
    d = make_proxy(origin)
    r = d.get("/c", headers={"If-None-Match": '"e1"'})  # a miss: the origin sends the full body
    assert r.status == 304
    assert origin.last("/c").header("if-none-match") is None
    r = d.get("/c", headers={"If-None-Match": 'W/"e1", "zz"'})
    assert r.status == 304 and r.headers["etag"] == '"e1"' and r.body == b""
    assert d.get("/c", headers={"If-None-Match": '"nope"'}).status == 200
    r = d.get("/c", headers={"If-Modified-Since": "Wed, 15 Nov 2023 00:00:00 GMT"})
    assert r.status == 304
    assert d.get("/c", headers={"If-Modified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"}).status == 200
    assert origin.hits("/c") == 1


def test_coalescing_one_origin_request_for_many_clients(make_proxy, origin):
    origin.route("/slow", body=b"x" * 5000, headers={"Cache-Control": "max-age=60"}, delay=0.5)
    d = make_proxy(origin)
    results = []

    def client():
        conn = http.client.HTTPConnection(*d.tcp_address(), timeout=10)
        conn.request("GET", "/slow")
        r = conn.getresponse()
        results.append((r.status, r.read(), r.getheader("x-cache")))
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert origin.hits("/slow") == 1
    assert len(results) == 50
    assert all(s == 200 and b == b"x" * 5000 for s, b, _ in results)
    # Clients that arrive after the fill completed are hits; the others waited on the fill.
    assert all(xc in ("MISS", "HIT") for *_, xc in results)
    stats = d.admin("GET", "/admin/stats").json()
    assert stats["cache"]["coalesced"] >= 40


def test_unshareable_responses_release_waiters_and_mark_hit_for_pass(make_proxy, origin):
    origin.route("/me", body=b"private", headers={"Cache-Control": "private"}, delay=0.3)
    d = make_proxy(origin)
    results = []

    def client():
        conn = http.client.HTTPConnection(*d.tcp_address(), timeout=10)
        conn.request("GET", "/me")
        r = conn.getresponse()
        results.append(r.status)
        r.read()
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 5
    # Not shareable: each waiter went to the origin itself.
    assert origin.hits("/me") == 5
    # Marked hit-for-pass: later requests bypass coalescing.
    r = d.get("/me")
    assert r.headers["x-cache"] == "BYPASS"
    stats = d.admin("GET", "/admin/stats").json()
    assert stats["cache"]["hit_for_pass"] >= 1


def test_set_cookie_is_not_shared(make_proxy, origin):
    origin.route("/cookie", body=b"c", headers={"Cache-Control": "max-age=60", "Set-Cookie": "a=b"})
    d = make_proxy(origin)
    d.get("/cookie")
    assert d.get("/cookie").headers["x-cache"] != "HIT"
    assert origin.hits("/cookie") == 2


def test_large_objects_stream_through_unstored(make_proxy, origin):
    big = bytes(range(256)) * 4096  # 1 MiB
    origin.route("/big", body=big, headers={"Cache-Control": "max-age=60"}, mode="chunked",
                 chunks=[big[i:i + 65536] for i in range(0, len(big), 65536)])
    d = make_proxy(origin, config={"max_object_size": "256KiB"})
    r = d.get("/big")
    assert r.status == 200 and r.body == big
    r = d.get("/big")
    assert r.body == big and r.headers["x-cache"] != "HIT"
    assert origin.hits("/big") == 2


def test_head_reaches_the_client_before_a_late_body(make_proxy, origin):
    # A head that comes with its body is written together with it; one whose body is late
    # must not wait for it (a miss, and a pass for an unsafe method).
    gate = threading.Event()
    origin.route("/late", body=b"late body", headers={"Cache-Control": "max-age=60"},
                 body_gate=gate)
    d = make_proxy(origin)
    for method in ("GET", "POST"):
        gate.clear()
        conn = http.client.HTTPConnection(*d.tcp_address(), timeout=5)
        conn.request(method, "/late", body=b"" if method == "POST" else None)
        r = conn.getresponse()  # times out if the head waits for the body
        assert r.status == 200 and r.getheader("x-cache") in ("MISS", "BYPASS")
        gate.set()
        assert r.read() == b"late body"
        conn.close()


def test_memory_then_disk_hits_survive_restart(make_proxy, origin):
    origin.route("/p", body=b"persist", headers={"Cache-Control": "max-age=600"})
    d = make_proxy(origin)
    H = {"Host": "site.test"}  # the ephemeral port changes across the restart
    d.get("/p", headers=H)
    assert d.get("/p", headers=H).headers["x-cache"] == "HIT"
    s = d.admin("GET", "/admin/stats").json()["cache"]
    assert s["hits_memory"] == 1 and s["hits_disk"] == 0
    d.restart()
    r = d.get("/p", headers=H)
    assert r.headers["x-cache"] == "HIT" and r.body == b"persist"
    s = d.admin("GET", "/admin/stats").json()["cache"]
    assert s["hits_disk"] == 1
    assert d.get("/p", headers=H).headers["x-cache"] == "HIT"
    assert d.admin("GET", "/admin/stats").json()["cache"]["hits_memory"] == 1
    assert origin.hits("/p") == 1


def test_tags_are_stripped_unless_exposed(make_proxy, origin):
    origin.route("/t", body=b"t", headers={"Cache-Control": "max-age=60", "Cache-Tag": "a,b",
                                           "Surrogate-Key": "c d"})
    d = make_proxy(origin)
    r = d.get("/t")
    assert "cache-tag" not in r.headers and "surrogate-key" not in r.headers
    assert "cache-tag" not in d.get("/t").headers
    info = d.admin("GET", "/admin/inspect?path=/t").json()
    assert sorted(info["tags"]) == ["a", "b", "c", "d"]
    d2 = make_proxy(origin, config={"expose_tags": True})
    d2.get("/t")
    assert sorted(d2.get("/t").headers["cache-tag"].split(",")) == ["a", "b", "c", "d"]


def test_origin_preconditions_go_to_the_origin(make_proxy, origin):
    # If-Match / If-Unmodified-Since are evaluated by the origin, not a cache (RFC 9111 §4.3.2).
    origin.route("/pre", handler=lambda req: Response(
        status=412 if req.header("if-match") else 200, body=b"x",
        headers={"Cache-Control": "max-age=60"}))
    d = make_proxy(origin)
    d.get("/pre")
    assert d.get("/pre").headers["x-cache"] == "HIT"
    r = d.get("/pre", headers={"If-Match": '"other"'})
    assert r.status == 412
    assert origin.requests_for("/pre")[-1].header("if-match") == '"other"'


def test_only_if_cached(make_proxy, origin):
    origin.route("/oic", body=b"x", headers={"Cache-Control": "max-age=60"})
    d = make_proxy(origin)
    r = d.get("/oic", headers={"Cache-Control": "only-if-cached"})
    assert r.status == 504 and origin.hits("/oic") == 0
    d.get("/oic")
    r = d.get("/oic", headers={"Cache-Control": "only-if-cached"})
    assert r.status == 200 and r.headers["x-cache"] == "HIT"
