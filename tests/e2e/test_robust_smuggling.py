"""Request smuggling through the proxy: an ambiguous request is answered 4xx and never forwarded.

test_http_server.py checks each malformed request against the KV routes; here every one is
sent to a proxy route, with a second request pipelined behind it, and the origin must see
neither. A sentinel request on a fresh connection afterwards proves the daemon forwarded
nothing late: it is single-threaded and forwards in order, so the origin's log must hold the
sentinel alone.
"""
import pytest

from ectest import Daemon, parse_responses, raw_exchange
from origin import Origin

SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"


@pytest.fixture(scope="module")
def proxy():
    o = Origin().start()
    o.route("/*", body=b"origin-body", headers={"Cache-Control": "max-age=60"})
    o.route("/sentinel", body=b"s", headers={"Cache-Control": "no-store"})
    o.route("/ok", body=b"ok", headers={"Cache-Control": "no-store"})
    d = Daemon(config={"origins": {"o": {"url": "http://" + o.address, "timeout_ms": 3000}},
                       "routes": [{"name": "r", "prefix": "/", "origin": "o"}]}, shared=True)
    d.start()
    yield d, o
    d.stop()
    d.cleanup()
    o.stop()


def only_sentinel_reached_origin(d, o):
    data = raw_exchange(*d.tcp_address(), b"GET /sentinel HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 200 "), data[:200]
    return [r.target for r in o.requests] == ["/sentinel"]


# (name, request bytes, status). Each request is followed on the wire by SMUGGLED.
AMBIGUOUS = [
    ("cl+te", b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("te+cl", b"POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n", 400),
    ("cl+te, body is a request", b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 40\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SMUGGLED, 400),
    ("two differing cl", b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 40\r\n\r\nabc", 400),
    ("cl list", b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 40\r\n\r\nabc", 400),
    ("cl with sign", b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc", 400),
    ("obs-fold", b"GET /p HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", 400),
    ("obs-fold te", b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n", 400),
    ("te chunked in http/1.0", b"POST /p HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("te + cl in http/1.0", b"POST /p HTTP/1.0\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("te not final", b"POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", 400),
    ("te xchunked", b"POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", 400),
    ("te twice", b"POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("invalid chunk size", b"POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400),
    ("chunk size overflow", b"POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\nabc\r\n0\r\n\r\n", 400),
    ("chunk size bare LF", b"POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n", 400),
    ("space before colon te", b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n", 400),
    ("space before colon host", b"GET /p HTTP/1.1\r\nHost : a\r\n\r\n", 400),
    ("space in name", b"GET /p HTTP/1.1\r\nHost: a\r\nX A: b\r\n\r\n", 400),
    ("leading whitespace line", b"GET /p HTTP/1.1\r\n Host: a\r\n\r\n", 400),
    ("bare LF", b"GET /p HTTP/1.1\nHost: a\n\n", 400),
    ("NUL in value", b"GET /p HTTP/1.1\r\nHost: a\r\nX-A: b\x00c\r\n\r\n", 400),
    ("no host", b"GET /p HTTP/1.1\r\n\r\n", 400),
    ("two hosts", b"GET /p HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    ("absolute-form, no host", b"GET http://a.test/p HTTP/1.1\r\n\r\n", 400),
    ("absolute-form https", b"GET https://a.test/p HTTP/1.1\r\nHost: a.test\r\n\r\n", 400),
    ("CR in target", b"GET /p\rx HTTP/1.1\r\nHost: a\r\n\r\n", 400),
]


@pytest.mark.parametrize("name,raw,status", AMBIGUOUS, ids=[c[0] for c in AMBIGUOUS])
def test_ambiguous_request_is_rejected_and_never_forwarded(proxy, name, raw, status):
    d, o = proxy
    o.reset()
    data = raw_exchange(*d.tcp_address(), raw + SMUGGLED)
    resps = parse_responses(data)
    # One error, then the connection ends: the pipelined request is never parsed.
    assert len(resps) == 1, data[:300]
    assert resps[0][0] == status, data[:300]
    assert resps[0][1].get("connection") == "close"
    assert only_sentinel_reached_origin(d, o), [r.target for r in o.requests]


def test_rejected_request_ends_the_pipeline_after_the_good_ones(proxy):
    d, o = proxy
    o.reset()
    raw = (b"GET /first HTTP/1.1\r\nHost: a\r\n\r\n"
           b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"0\r\n\r\n" + SMUGGLED)
    resps = parse_responses(raw_exchange(*d.tcp_address(), raw))
    assert [r[0] for r in resps] == [200, 400]
    assert [r.target for r in o.requests] == ["/first"]


def test_absolute_form_authority_replaces_host(proxy):
    # RFC 9112 §3.2.2: the target's authority wins over Host, and a proxy forwards a Host made
    # from it. The conflicting Host must never reach the origin, and the entry is cached under
    # the authority: the origin and the cache agree on which site this is.
    d, o = proxy
    o.reset()
    o.route("/abs", body=b"site-a", headers={"Cache-Control": "max-age=60"})
    data = raw_exchange(*d.tcp_address(), b"GET http://a.test/abs HTTP/1.1\r\nHost: b.test\r\n"
                                          b"Connection: close\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 200 ") and data.endswith(b"site-a")
    assert len(o.requests) == 1
    assert o.requests[0].header_all("host") == ["a.test"] and o.requests[0].target == "/abs"
    assert d.get("/abs", headers={"Host": "a.test"}).headers["x-cache"] == "HIT"
    assert d.get("/abs", headers={"Host": "b.test"}).headers["x-cache"] == "MISS"


def test_valid_chunked_request_is_forwarded_with_one_framing(proxy):
    # The proxy re-frames what it forwards: a chunked body goes upstream with Content-Length
    # and no Transfer-Encoding, so the origin cannot disagree with us about where it ends.
    d, o = proxy
    o.reset()
    raw = (b"POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
           b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n")
    resps = parse_responses(raw_exchange(*d.tcp_address(), raw))
    assert resps[0][0] == 200
    req = o.last("/up")
    assert req.body == b"hello world"
    assert req.header_all("content-length") == ["11"]
    assert req.header("transfer-encoding") is None
    assert req.header("x-trailer") is None


# Invalid Host field values and absolute-form authorities: RFC 9112 §3.2 requires a 400 for a
# Host with an invalid value, and RFC 9110 §4.2.1 says an http URI with userinfo or an empty
# host must be rejected. Forwarding them let a client choose a Host that the origin (or a
# virtual-host router in front of it) reads differently from the cache key.
BAD_AUTHORITY = [
    ("host with space", b"GET /p HTTP/1.1\r\nHost: a b\r\n\r\n"),
    ("host list", b"GET /p HTTP/1.1\r\nHost: a.test, b.test\r\n\r\n"),
    ("host with userinfo", b"GET /p HTTP/1.1\r\nHost: evil@a.test\r\n\r\n"),
    ("host with path", b"GET /p HTTP/1.1\r\nHost: a.test/x\r\n\r\n"),
    ("host bad port", b"GET /p HTTP/1.1\r\nHost: a.test:80x\r\n\r\n"),
    ("host two ports", b"GET /p HTTP/1.1\r\nHost: a.test:80:81\r\n\r\n"),
    ("absolute-form userinfo", b"GET http://evil@a.test/p HTTP/1.1\r\nHost: a.test\r\n\r\n"),
    ("absolute-form empty host", b"GET http:///p HTTP/1.1\r\nHost: a.test\r\n\r\n"),
    ("absolute-form bad port", b"GET http://a.test:x/p HTTP/1.1\r\nHost: a.test\r\n\r\n"),
]


@pytest.mark.parametrize("name,raw", BAD_AUTHORITY, ids=[c[0] for c in BAD_AUTHORITY])
def test_regress_invalid_host_is_rejected_and_never_forwarded(proxy, name, raw):
    d, o = proxy
    o.reset()
    resps = parse_responses(raw_exchange(*d.tcp_address(), raw + SMUGGLED))
    assert [r[0] for r in resps] == [400], resps
    assert only_sentinel_reached_origin(d, o), [(r.target, r.headers) for r in o.requests]


@pytest.mark.parametrize("host", ["a.test", "A.Test:8080", "127.0.0.1:1", "[::1]:80", "[::1]",
                                  "xn--bcher-kva.example", "a_b.test", "a.test:", ""])
def test_valid_hosts_still_pass(proxy, host):
    d, o = proxy
    o.reset()
    data = raw_exchange(*d.tcp_address(),
                        b"GET /ok HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % host.encode())
    assert data.startswith(b"HTTP/1.1 200 "), data[:200]
    assert o.last("/ok").header("host") == host


# RFC 9112 §6.1: a transfer coding the server does not understand gets 501. Stripping the
# framing and forwarding the still-gzip-coded bytes as if they were the body corrupted it.
UNKNOWN_CODING = [
    ("gzip then chunked", b"PUT /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
    ("two te lines", b"PUT /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
]


@pytest.mark.parametrize("name,raw", UNKNOWN_CODING, ids=[c[0] for c in UNKNOWN_CODING])
def test_regress_unknown_transfer_coding_is_501_and_never_forwarded(proxy, name, raw):
    d, o = proxy
    o.reset()
    resps = parse_responses(raw_exchange(*d.tcp_address(), raw + SMUGGLED))
    assert [r[0] for r in resps] == [501], resps
    assert only_sentinel_reached_origin(d, o), [(r.target, r.headers) for r in o.requests]
