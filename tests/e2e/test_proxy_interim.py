"""Interim (1xx) responses through the proxy (issue 13 item 4), each exchange from RFC 9110
§15.2: "A proxy MUST forward 1xx responses unless the proxy itself requested the generation of
the 1xx response", and "a server MUST NOT send a 1xx response to an HTTP/1.0 client"."""
import socket
import threading
import time

HINTS = [("Link", "</s.css>; rel=preload; as=style"), ("Link", "</a.js>; rel=preload; as=script")]


class Conn:
    """A raw client connection that reads responses head by head, 1xx included."""

    def __init__(self, d):
        host, port = d.tcp_address(0)
        self.s = socket.create_connection((host, port), timeout=10)
        self.host = f"{host}:{port}"  # as d.get() sends it: the same cache key
        self.buf = b""

    def get(self, path):
        self.s.sendall(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode())

    def send(self, data):
        self.s.sendall(data)

    def _fill(self):
        b = self.s.recv(65536)
        if not b:
            raise EOFError(f"connection closed; unread: {self.buf[:200]!r}")
        self.buf += b

    def head(self):
        """(status line, status, [(lower-case name, value)]) of the next head."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        fields = [(k.strip().lower(), v.strip()) for k, _, v in (l.partition(":") for l in lines[1:])]
        return lines[0], int(lines[0].split()[1]), fields

    def body(self, fields):
        f = dict(fields)
        if "content-length" in f:
            n = int(f["content-length"])
            while len(self.buf) < n:
                self._fill()
            body, self.buf = self.buf[:n], self.buf[n:]
            return body
        assert f.get("transfer-encoding") == "chunked", fields
        body = b""
        while True:
            while b"\r\n" not in self.buf:
                self._fill()
            size_line, rest = self.buf.split(b"\r\n", 1)
            n = int(size_line, 16)
            while len(rest) < n + 2:
                self._fill()
                size_line, rest = self.buf.split(b"\r\n", 1)
            body += rest[:n]
            self.buf = rest[n + 2:]
            if n == 0:
                return body

    def response(self):
        """([(status, fields) of each 1xx], status, fields, body) of the next response."""
        interim = []
        while True:
            _, status, fields = self.head()
            if status >= 200:
                return interim, status, fields, self.body(fields)
            interim.append((status, fields))

    def close(self):
        self.s.close()


def stats(d):
    return d.admin("GET", "/admin/stats").json()["cache"]


def wait_for(pred, what):
    deadline = time.monotonic() + 10
    while not pred():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def wait_stored(d):
    """A fill's store is committed after the client is answered: wait for it."""
    wait_for(lambda: d.admin("GET", "/admin/stats").json()["store"].get("entries", 0) >= 1,
             "the fill never reached LMDB")


# "A proxy MUST forward 1xx responses": 103 Early Hints reaches the client while the origin is
# still working on the final response, with its Link fields; the fields are not the final
# response's, and nothing of the 1xx is stored (a hit carries neither).
def test_early_hints_reach_the_client_ahead_of_the_final_response(make_proxy, origin):
    gate = threading.Event()
    hop = [("Connection", "X-Hop"), ("X-Hop", "1"), ("Keep-Alive", "timeout=5")]
    origin.route("/page", body=b"<html>", headers={"Cache-Control": "max-age=600"},
                 interim=[(103, HINTS + hop)], interim_gate=gate)
    d = make_proxy(origin)
    c = Conn(d)
    try:
        c.get("/page")
        line, status, fields = c.head()  # before the origin has sent its final response
        assert line == "HTTP/1.1 103 Early Hints"
        # Hop-by-hop fields (and those Connection names) are the origin's connection's only.
        assert fields == [(k.lower(), v) for k, v in HINTS]
        gate.set()
        interim, status, fields, body = c.response()
        assert (interim, status, body) == ([], 200, b"<html>")
        assert "link" not in dict(fields) and dict(fields)["x-cache"] == "MISS"
        wait_stored(d)
        c.get("/page")
        interim, status, fields, body = c.response()
        assert (interim, status, body) == ([], 200, b"<html>")
        assert dict(fields)["x-cache"] == "HIT" and "link" not in dict(fields)
    finally:
        c.close()
    assert origin.hits("/page") == 1
    assert stats(d)["interim_relayed"] == 1


# 100 (Continue) and 102 (Processing) on a forwarded unsafe request, in the order sent; the
# final response follows on the same connection, which stays usable.
def test_100_and_102_on_a_passed_request_are_relayed_in_order(make_proxy, origin):
    origin.route("/submit", status=201, body=b"created", interim=[100, (102, {"X-Step": "1"})])
    d = make_proxy(origin)
    c = Conn(d)
    try:
        c.send(b"POST /submit HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\ndata")
        interim, status, fields, body = c.response()
        assert interim == [(100, []), (102, [("x-step", "1")])]
        assert (status, body) == (201, b"created") and "x-step" not in dict(fields)
        c.get("/submit")  # the connection goes on
        assert c.response()[1] == 201
    finally:
        c.close()
    assert origin.requests_for("/submit")[0].body == b"data"


# RFC 9110 §10.1.1: a client sending Expect: 100-continue waits for a 100 before its body.
# edgecached reads the whole body before forwarding, so it answers the expectation itself and
# sends the request upstream whole and without Expect: the origin never waits for a body, and
# no 1xx reaches the client that edgecached asked for (the origin's own are relayed as usual).
def test_expect_100_continue_is_answered_here_and_not_forwarded(make_proxy, origin):
    origin.route("/upload", status=201, body=b"stored", interim=[(103, HINTS)])
    d = make_proxy(origin)
    c = Conn(d)
    try:
        c.send(f"POST /upload HTTP/1.1\r\nHost: {c.host}\r\nExpect: 100-continue\r\n"
               "Content-Length: 4\r\n\r\n".encode())
        assert c.head()[:2] == ("HTTP/1.1 100 Continue", 100)  # before the body is sent
        c.send(b"data")
        interim, status, _, body = c.response()
    finally:
        c.close()
    assert interim == [(103, [(k.lower(), v) for k, v in HINTS])]
    assert (status, body) == (201, b"stored")
    sent = origin.requests_for("/upload")[0]
    assert sent.header("expect") is None and sent.body == b"data"


# "A server MUST NOT send a 1xx response to an HTTP/1.0 client": the final response alone.
def test_an_http_1_0_client_gets_no_interim_response(make_proxy, origin):
    origin.route("/old", body=b"final", interim=[100, (103, HINTS)])
    d = make_proxy(origin)
    out = d.raw(b"GET /old HTTP/1.0\r\nHost: h\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 200 OK\r\n"), out[:200]
    assert b" 103 " not in out and b" 100 " not in out and b"Link:" not in out
    assert out.endswith(b"\r\n\r\nfinal")
    assert stats(d)["interim_relayed"] == 0


# Coalescing: one origin request answers two clients, but only the client whose request went
# upstream asked the origin anything; the waiter gets the final response alone.
def test_a_coalesced_waiter_gets_no_interim_response(make_proxy, origin):
    gate = threading.Event()
    origin.route("/co", body=b"shared", headers={"Cache-Control": "max-age=600"},
                 interim=[(103, HINTS)], interim_gate=gate)
    d = make_proxy(origin)
    first, second = Conn(d), Conn(d)
    try:
        first.get("/co")
        assert first.head()[1] == 103
        second.get("/co")
        wait_for(lambda: stats(d)["coalesced"] == 1, "the second client never joined the fill")
        gate.set()
        interim, status, _, body = first.response()
        assert (interim, status, body) == ([], 200, b"shared")
        interim, status, fields, body = second.response()
        assert (interim, status, body) == ([], 200, b"shared") and "link" not in dict(fields)
    finally:
        first.close()
        second.close()
    assert origin.hits("/co") == 1


# A revalidation: the client waits for the origin's 304 (it is not streamed the response), and
# still gets the origin's 103 first, then the refreshed stored response.
def test_a_revalidating_client_gets_the_interim_response_then_the_entry(make_proxy, origin):
    origin.route("/rv", body=b"v1", etag='"v1"', headers={"Cache-Control": "max-age=1"})
    d = make_proxy(origin)
    assert d.get("/rv").status == 200
    wait_stored(d)
    d.advance_clock(5)
    origin.route("/rv", body=b"v1", etag='"v1"', headers={"Cache-Control": "max-age=1"},
                 interim=[(103, HINTS)])
    c = Conn(d)
    try:
        c.get("/rv")
        interim, status, fields, body = c.response()
    finally:
        c.close()
    assert interim == [(103, [(k.lower(), v) for k, v in HINTS])]
    assert (status, body) == (200, b"v1") and dict(fields)["x-cache"] == "REVALIDATED"
    assert origin.last("/rv").status == 304


# More 1xx than the origin client accepts (8): those before the limit were relayed, then the
# client gets the 502 for the malformed response — a complete answer either way.
def test_an_interim_flood_ends_in_a_gateway_error(make_proxy, origin):
    origin.route("/flood", body=b"final", interim=[103] * 20)
    d = make_proxy(origin)
    c = Conn(d)
    try:
        c.get("/flood")
        interim, status, _, _ = c.response()
    finally:
        c.close()
    assert status == 502 and len(interim) <= 8
