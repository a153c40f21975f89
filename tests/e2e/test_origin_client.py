"""The scriptable test origin (origin.py) itself: each scripted behaviour, seen from a raw client.

The proxy suites rely on these behaviours; this file pins them down. The origin client's own
behaviour against faulty origins is covered by the unit tests (tests/unit/origin/).
"""
import http.client
import json
import os
import socket
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from origin import Origin, Response, http_date  # noqa: E402


@pytest.fixture
def origin():
    with Origin() as o:
        yield o


def raw(o, data: bytes, timeout=2.0, until_close=True) -> bytes:
    """Sends raw bytes on a new connection; returns what came back until close or timeout."""
    s = socket.create_connection(("127.0.0.1", o.port), timeout=timeout)
    s.sendall(data)
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
            if not until_close and b"\r\n\r\n" in out:
                break
    except socket.timeout:
        pass
    except ConnectionResetError:
        out += b"<RST>"
    s.close()
    return out


def get(o, path, headers=None, method="GET", conn=None):
    c = conn or http.client.HTTPConnection("127.0.0.1", o.port, timeout=5)
    c.request(method, path, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    return r, body, c


def test_routes_hits_and_request_log(origin):
    origin.route("/a", body=b"hello", headers={"Cache-Control": "max-age=60", "Cache-Tag": "t1,t2"})
    r, body, c = get(origin, "/a?x=1", headers={"X-Test": "1"})
    assert r.status == 200 and body == b"hello"
    assert r.getheader("cache-control") == "max-age=60"
    assert r.getheader("cache-tag") == "t1,t2"
    assert r.getheader("date")
    r, body, _ = get(origin, "/a", conn=c)  # keep-alive
    assert origin.hits("/a") == 2
    assert origin.connections == 1
    last = origin.last("/a")
    assert last.method == "GET" and last.target == "/a"
    assert origin.requests[0].header("x-test") == "1"
    assert origin.requests[0].query == {"x": ["1"]}
    r, body, _ = get(origin, "/nothing")
    assert r.status == 404


def test_prefix_routes_sequences_and_handlers(origin):
    origin.route("/s/*", body=b"prefix")
    origin.route("/s/exact", body=b"exact")
    origin.route("/seq", [Response(body=b"one"), Response(status=503, body=b"down")])
    origin.route("/echo", handler=lambda req: Response(body=req.header("accept-encoding") or "none",
                                                       headers={"Vary": "Accept-Encoding"}))
    assert get(origin, "/s/x/y")[1] == b"prefix"
    assert get(origin, "/s/exact")[1] == b"exact"
    assert get(origin, "/seq")[1] == b"one"
    assert get(origin, "/seq")[0].status == 503
    assert get(origin, "/seq")[0].status == 503  # the last one repeats
    r, body, _ = get(origin, "/echo", headers={"Accept-Encoding": "gzip"})
    assert body == b"gzip" and r.getheader("vary") == "Accept-Encoding"


def test_request_bodies_are_logged(origin):
    c = http.client.HTTPConnection("127.0.0.1", origin.port, timeout=5)
    c.request("PUT", "/w", body=b"payload", headers={"Content-Type": "text/plain"})
    c.getresponse().read()
    c.request("POST", "/w", body=iter([b"chu", b"nked"]), encode_chunked=True)
    c.getresponse().read()
    reqs = origin.requests_for("/w")
    assert [(r.method, r.body) for r in reqs] == [("PUT", b"payload"), ("POST", b"chunked")]


def test_conditional_requests_get_304(origin):
    lm = time.time() - 3600
    origin.route("/v", body=b"body", etag='"abc"', last_modified=lm,
                 headers={"Cache-Control": "max-age=5", "Set-Cookie": "a=b"})
    r, body, _ = get(origin, "/v", headers={"If-None-Match": 'W/"abc"'})
    assert r.status == 304 and body == b""
    assert r.getheader("etag") == '"abc"'
    assert r.getheader("cache-control") == "max-age=5"
    assert r.getheader("set-cookie") is None
    assert origin.last("/v").status == 304
    r, _, _ = get(origin, "/v", headers={"If-None-Match": '"other"'})
    assert r.status == 200
    r, _, _ = get(origin, "/v", headers={"If-Modified-Since": http_date(lm + 10)})
    assert r.status == 304
    r, _, _ = get(origin, "/v", headers={"If-Modified-Since": http_date(lm - 10)})
    assert r.status == 200
    origin.route("/nc", body=b"x", etag='"abc"', conditional=False)
    assert get(origin, "/nc", headers={"If-None-Match": '"abc"'})[0].status == 200


def test_head_and_framing_modes(origin):
    origin.route("/len", body=b"12345")
    r, body, _ = get(origin, "/len", method="HEAD")
    assert r.status == 200 and r.getheader("content-length") == "5" and body == b""
    origin.route("/chunked", body=b"", chunks=[b"ab", b"cd", b"ef"], mode="chunked", chunk_delay=0.01)
    out = raw(origin, b"GET /chunked HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in out
    assert out.endswith(b"2\r\nab\r\n2\r\ncd\r\n2\r\nef\r\n0\r\n\r\n")
    origin.route("/close", body=b"until close", mode="close")
    out = raw(origin, b"GET /close HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"Content-Length" not in out and out.endswith(b"\r\n\r\nuntil close")


def test_delays(origin):
    origin.route("/slow", body=b"x", delay=0.2)
    t = time.time()
    get(origin, "/slow")
    assert time.time() - t >= 0.2
    origin.route("/drip", chunks=[b"a", b"b", b"c"], chunk_delay=0.1, mode="chunked")
    t = time.time()
    assert get(origin, "/drip")[1] == b"abc"
    assert time.time() - t >= 0.2


def test_faults(origin):
    origin.route("/reset", body=b"x" * 1000, reset_after=10)
    out = raw(origin, b"GET /reset HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"Content-Length: 1000" in out
    assert out.endswith(b"<RST>") or len(out.split(b"\r\n\r\n", 1)[1]) == 10
    origin.route("/short", body=b"short", content_length=100)
    out = raw(origin, b"GET /short HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"Content-Length: 100" in out and out.endswith(b"short")  # then closed
    origin.route("/garbage", raw=b"NOT HTTP AT ALL\r\n\r\n")
    assert raw(origin, b"GET /garbage HTTP/1.1\r\nHost: x\r\n\r\n") == b"NOT HTTP AT ALL\r\n\r\n"
    origin.route("/huge", body=b"x", header_bytes=70000)
    out = raw(origin, b"GET /huge HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert out.index(b"\r\n\r\n") > 70000
    origin.route("/interim", body=b"final", interim=[100, 103])
    out = raw(origin, b"GET /interim HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 200")
    origin.route("/headbody", body=b"oops", head_body=True)
    out = raw(origin, b"HEAD /headbody HTTP/1.1\r\nHost: x\r\n\r\n", timeout=0.5)
    assert out.endswith(b"\r\n\r\noops")
    origin.route("/head-only", close_after_head=True, body=b"never")
    out = raw(origin, b"GET /head-only HTTP/1.1\r\nHost: x\r\n\r\n")
    assert out.endswith(b"\r\n\r\n")


def test_hang_and_never_close(origin):
    origin.route("/hang", hang=True)
    t = time.time()
    assert raw(origin, b"GET /hang HTTP/1.1\r\nHost: x\r\n\r\n", timeout=0.3) == b""
    assert time.time() - t >= 0.3
    origin.route("/forever", body=b"data", never_close=True)
    out = raw(origin, b"GET /forever HTTP/1.1\r\nHost: x\r\n\r\n", timeout=0.3)
    assert out.endswith(b"\r\n\r\ndata") and b"Content-Length" not in out
    assert origin.hits("/hang") == 1 and origin.hits("/forever") == 1


def test_keep_alive_false_closes(origin):
    origin.route("/bye", body=b"b", keep_alive=False)
    out = raw(origin, b"GET /bye HTTP/1.1\r\nHost: x\r\n\r\n")
    assert b"Connection: close" in out and out.endswith(b"b")


def test_two_instances_and_restart_on_the_same_port():
    with Origin() as a, Origin() as b:
        a.route("/", body=b"a")
        b.route("/", body=b"b")
        assert get(a, "/")[1] == b"a" and get(b, "/")[1] == b"b"
        port = a.port
        a.stop()
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=1)
        a2 = Origin(port=port).start()
        try:
            a2.route("/", body=b"back")
            assert get(a2, "/")[1] == b"back"
        finally:
            a2.stop()


def test_stop_ends_hanging_connections_quickly(origin):
    origin.route("/hang", hang=True)
    s = socket.create_connection(("127.0.0.1", origin.port), timeout=5)
    s.sendall(b"GET /hang HTTP/1.1\r\nHost: x\r\n\r\n")
    assert origin.wait_for_hits("/hang", 1)
    t = time.time()
    origin.stop()
    assert time.time() - t < 2
    assert s.recv(10) == b""


def test_reset_clears_log_keeps_routes(origin):
    origin.route("/a", body=b"a")
    get(origin, "/a")
    origin.reset()
    assert origin.hits() == 0 and origin.requests == []
    assert get(origin, "/a")[1] == b"a"


def test_subprocess_control_endpoint():
    here = os.path.dirname(os.path.abspath(__file__))
    p = subprocess.Popen([sys.executable, os.path.join(here, "origin.py")], stdout=subprocess.PIPE,
                         text=True)
    try:
        line = p.stdout.readline()
        assert line.startswith("listening 127.0.0.1:")
        port = int(line.rsplit(":", 1)[1])
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        spec = {"path": "/x", "sequence": [{"body": "first", "headers": {"ETag": '"1"'}},
                                           {"status": 500}]}
        c.request("POST", "/__origin/route", body=json.dumps(spec))
        assert c.getresponse().read() == b'{"ok": true}'
        c.request("GET", "/x")
        r = c.getresponse()
        assert r.read() == b"first" and r.getheader("etag") == '"1"'
        c.request("GET", "/x")
        r = c.getresponse()
        r.read()
        assert r.status == 500
        c.request("GET", "/__origin/hits?path=/x")
        assert json.loads(c.getresponse().read()) == {"hits": 2}
        c.request("GET", "/__origin/requests")
        log = json.loads(c.getresponse().read())
        assert [e["path"] for e in log] == ["/x", "/x"]
        c.request("POST", "/__origin/reset")
        c.getresponse().read()
        c.request("GET", "/__origin/hits")
        assert json.loads(c.getresponse().read()) == {"hits": 0}
    finally:
        p.terminate()
        p.wait(5)
