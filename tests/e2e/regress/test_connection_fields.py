"""Issue 11 defect 8: fields named in Connection are hop-by-hop (RFC 9110 §7.6.1): dropped on
arrival, before a Vary key is built from them, and never stored from a response."""
from origin import Response


def test_a_connection_listed_origin_does_not_choose_the_cors_variant(make_proxy, origin):
    def cors(req):
        headers = {"Cache-Control": "max-age=300", "Vary": "Origin"}
        if req.header("origin"):
            headers["Access-Control-Allow-Origin"] = req.header("origin")
        return Response(body=b"data", headers=headers)
    origin.route("/cors", handler=cors)
    d = make_proxy(origin)
    # The origin never sees this Origin, so the answer has no CORS header ...
    raw = d.raw(b"GET /cors HTTP/1.1\r\nHost: x\r\nOrigin: https://app.test\r\n"
                b"Connection: close, Origin\r\n\r\n")
    assert b" 200 " in raw.split(b"\r\n", 1)[0]
    assert origin.last("/cors").header("origin") is None
    # ... and must not be stored as app.test's variant.
    app = {"Host": "x", "Origin": "https://app.test"}
    r = d.get("/cors", headers=app)
    assert r.headers.get("access-control-allow-origin") == "https://app.test"
    r = d.get("/cors", headers=app)
    assert r.headers["x-cache"] == "HIT"
    assert r.headers.get("access-control-allow-origin") == "https://app.test"


def test_connection_listed_response_fields_are_neither_forwarded_nor_stored(make_proxy, origin):
    origin.route("/hop", body=b"h", headers={"Cache-Control": "max-age=300",
                                             "Connection": "X-Hop-Secret",
                                             "X-Hop-Secret": "for-the-proxy-only",
                                             "X-Kept": "yes"})
    origin.route("/hop-pass", body=b"p", headers={"Cache-Control": "no-store",
                                                  "Connection": "X-Hop-Secret",
                                                  "X-Hop-Secret": "for-the-proxy-only"})
    d = make_proxy(origin)
    for _ in range(2):
        r = d.get("/hop")
        assert "x-hop-secret" not in r.headers and r.headers["x-kept"] == "yes"
    assert r.headers["x-cache"] == "HIT"
    d.get("/hop-pass")
    r = d.get("/hop-pass")
    assert r.headers["x-cache"] == "BYPASS" and "x-hop-secret" not in r.headers
