"""Unsafe methods through the proxy: forwarding, invalidation (RFC 9111 §4.4), write-through."""
import socket

from origin import Response


def cached(d, path, **kw):
    d.get(path, **kw)
    return d.get(path, **kw).headers["x-cache"] == "HIT"


def test_post_is_forwarded_with_its_body_and_invalidates(make_proxy, origin):
    origin.route("/item", handler=lambda req: Response(
        status=201 if req.method == "POST" else 200, body=b"got:" + req.body,
        headers={"Cache-Control": "max-age=60"}))
    d = make_proxy(origin)
    assert cached(d, "/item")
    r = d.post("/item", b"payload", headers={"Content-Type": "text/plain"})
    assert r.status == 201 and r.body == b"got:payload"
    post = origin.requests_for("/item")[-1]
    assert post.method == "POST" and post.body == b"payload"
    assert post.header("content-type") == "text/plain"
    assert d.get("/item").headers["x-cache"] == "MISS"  # invalidated


def test_all_variants_on_the_requests_host_are_invalidated(make_proxy, origin):
    origin.route("/var", handler=lambda req: Response(
        body=(req.header("accept-encoding") or "-").encode(),
        headers={"Cache-Control": "max-age=60", "Vary": "Accept-Encoding"}))
    d = make_proxy(origin)
    for enc in ["gzip", "br"]:
        assert cached(d, "/var", headers={"Accept-Encoding": enc})
    assert cached(d, "/var", headers={"Host": "other.test", "Accept-Encoding": "gzip"})
    assert d.delete("/var").status == 200
    for enc in ["gzip", "br"]:
        assert d.get("/var", headers={"Accept-Encoding": enc}).headers["x-cache"] == "MISS"
    # RFC 9111 §4.4: the target URI, host included; another host's copy is not this one.
    assert d.get("/var", headers={"Host": "other.test", "Accept-Encoding": "gzip"}).headers["x-cache"] == "HIT"


def test_location_and_content_location_are_invalidated(make_proxy, origin):
    origin.route("/list", body=b"list", headers={"Cache-Control": "max-age=60"})
    origin.route("/thing/1", body=b"thing", headers={"Cache-Control": "max-age=60"})
    origin.route("/create", status=201, body=b"made",
                 headers={"Location": "/thing/1", "Content-Location": "http://elsewhere.test/list"})
    d = make_proxy(origin)
    assert cached(d, "/list") and cached(d, "/thing/1")
    assert d.post("/create", b"{}").status == 201
    assert d.get("/thing/1").headers["x-cache"] == "MISS"  # same-origin Location
    assert d.get("/list").headers["x-cache"] == "HIT"  # another host: not ours to invalidate


def test_failed_unsafe_request_invalidates_nothing(make_proxy, origin):
    origin.route("/keep", handler=lambda req: Response(
        status=409 if req.method == "PUT" else 200, body=b"k",
        headers={"Cache-Control": "max-age=60"}))
    d = make_proxy(origin)
    assert cached(d, "/keep")
    assert d.put("/keep", b"x").status == 409
    assert d.get("/keep").headers["x-cache"] == "HIT"


def test_non_idempotent_requests_are_never_retried(make_proxy, origin):
    # The origin reads the request, then closes without answering: a GET may be retried
    # elsewhere, a POST must not be (the origin may have acted on it).
    origin.route("/once", raw=b"")
    d = make_proxy(origin)
    r = d.post("/once", b"charge-the-card")
    assert r.status == 502
    assert len(origin.requests_for("/once")) == 1
    # Also on a kept-alive connection the origin closed meanwhile.
    origin.route("/warm", body=b"w")
    d.get("/warm")
    r = d.post("/once", b"charge-again")
    assert r.status == 502
    assert len(origin.requests_for("/once")) == 2


def test_write_through_put_becomes_the_cached_representation(make_proxy, origin):
    origin.route("/doc", handler=lambda req: Response(status=204 if req.method == "PUT" else 200,
                                                      body=b"" if req.method == "PUT" else b"origin"))
    d = make_proxy(origin, route={"write": "through", "ttl": 120})
    r = d.put("/doc", b'{"v":2}', headers={"Content-Type": "application/json"})
    assert r.status == 204
    r = d.get("/doc")
    assert r.headers["x-cache"] == "HIT" and r.body == b'{"v":2}'
    assert r.headers["content-type"] == "application/json"
    assert [q.method for q in origin.requests_for("/doc")] == ["PUT"]
    d.advance_clock(121)
    assert d.get("/doc").body == b"origin"


def test_truncated_origin_body_is_cut_off_and_never_stored(make_proxy, origin):
    body = b"z" * 100000
    origin.route("/trunc", body=body, headers={"Cache-Control": "max-age=60"}, reset_after=30000)
    d = make_proxy(origin)
    host, port = d.tcp_address()
    s = socket.create_connection((host, port), timeout=5)
    s.sendall(b"GET /trunc HTTP/1.1\r\nHost: x\r\n\r\n")
    got = b""
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        got += chunk
    s.close()
    head, _, rest = got.partition(b"\r\n\r\n")
    assert b"Content-Length: 100000" in head
    assert len(rest) < 100000  # the client can tell: fewer bytes than promised, then EOF
    origin.route("/trunc", body=b"whole", headers={"Cache-Control": "max-age=60"})
    r = d.get("/trunc")
    assert r.body == b"whole" and r.headers["x-cache"] == "MISS"


def test_truncated_chunked_body_has_no_final_chunk(make_proxy, origin):
    origin.route("/tc", body=b"a" * 50000, headers={"Cache-Control": "max-age=60"}, mode="chunked",
                 chunks=[b"a" * 10000] * 5, reset_after=25000)
    d = make_proxy(origin)
    host, port = d.tcp_address()
    s = socket.create_connection((host, port), timeout=5)
    s.sendall(b"GET /tc HTTP/1.1\r\nHost: x\r\n\r\n")
    got = b""
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        got += chunk
    s.close()
    assert b"Transfer-Encoding: chunked" in got
    assert not got.endswith(b"0\r\n\r\n")
    origin.route("/tc", body=b"whole", headers={"Cache-Control": "max-age=60"})
    r = d.get("/tc")
    assert r.body == b"whole" and r.headers["x-cache"] == "MISS"
