"""Issue 11 defect 10: a fill forwards the Accept-Encoding its Vary key is built from, so the
stored variant is the one the key names."""
from origin import Response


def test_a_compress_encoded_body_never_reaches_an_identity_client(make_proxy, origin):
    def encoder(req):
        ae = req.header("accept-encoding") or ""
        headers = {"Cache-Control": "max-age=300", "Vary": "Accept-Encoding"}
        if "compress" in ae:
            headers["Content-Encoding"] = "compress"
            return Response(body=b"\x1f\x9dCOMPRESSED", headers=headers)
        return Response(body=b"plain", headers=headers)
    origin.route("/enc", handler=encoder)
    d = make_proxy(origin)
    r = d.get("/enc", headers={"Accept-Encoding": "compress"})
    assert origin.last("/enc").header("accept-encoding") == "identity"
    assert r.body == b"plain"
    r = d.get("/enc", headers={"Accept-Encoding": "identity"})
    assert r.headers["x-cache"] == "HIT"
    assert "content-encoding" not in r.headers and r.body == b"plain"


def test_the_forwarded_class_keeps_the_codings_the_client_accepts(make_proxy, origin):
    origin.route("/ae", handler=lambda req: Response(
        body=(req.header("accept-encoding") or "-").encode(),
        headers={"Cache-Control": "max-age=300", "Vary": "Accept-Encoding"}))
    d = make_proxy(origin)
    assert d.get("/ae", headers={"Accept-Encoding": "gzip, deflate, br;q=0.5, sdch"}).body == \
        b"br,deflate,gzip"
    # None sent (http.client always sends one, so a raw request), none forwarded.
    raw = d.raw(b"GET /ae HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert raw.endswith(b"\r\n\r\n-"), raw
