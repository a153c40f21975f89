"""Origin faults through the proxy: the stated client result, nothing truncated stored, no fd leak.

Each fault is met twice: on a miss (the client gets 502/504, or a response cut off before its
end), and with a stale copy inside stale-if-error (the client gets the whole stale copy, and
the copy survives). After each, the daemon's open descriptors, less its pooled origin
connections, return to what they were before any fault. tests/e2e/test_slow_origin_faults.py
repeats every fault many times and watches fds and RssAnon.
"""
import socket
import time

import pytest

from ectest import Daemon
from origin import Origin

TIMEOUT_MS = 600
GOOD = {"Cache-Control": "max-age=10, stale-if-error=3600"}

# name -> (scripted fault as Response options, what the client gets on a miss)
#   an int: that status, a complete response with a JSON error
#   "cut": a 200 head, then fewer body bytes than promised (or no final chunk), then EOF
FAULTS = {
    "slow headers": (dict(delay=3, body=b"late"), 504),
    "hang": (dict(hang=True), 504),
    "slow body past the timeout": (dict(body=b"abcdef", chunks=[b"ab", b"cd", b"ef"], chunk_delay=0.4), "cut"),
    "slow chunked body past the timeout": (dict(body=b"abcdef", mode="chunked", chunks=[b"ab", b"cd", b"ef"],
                                                chunk_delay=0.4), "cut"),
    "reset mid-body": (dict(body=b"z" * 200000, reset_after=60000), "cut"),
    "reset mid-chunk": (dict(body=b"z" * 50000, mode="chunked", chunks=[b"z" * 10000] * 5, reset_after=25000), "cut"),
    "content-length larger than body": (dict(body=b"short", content_length=100), "cut"),
    "close after head": (dict(body=b"abc", close_after_head=True), "cut"),
    "never closes, close-delimited body": (dict(body=b"no-end", never_close=True), "cut"),
    "1xx flood": (dict(body=b"final", interim=[100, 103] * 50), 502),
    "closed inside the head": (dict(raw=b"HTTP/1.1 200 OK\r\nContent-Le"), 502),
    "empty reply": (dict(raw=b""), 502),
    "garbage status line": (dict(raw=b"HTPT/9.9 abc\r\n\r\n"), 502),
    "binary garbage": (dict(raw=bytes(range(256)) * 4), 502),
    "header section over the limit": (dict(body=b"x", header_bytes=80000), 502),
    "content-length and chunked": (dict(raw=b"HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 5\r\n"
                                            b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"), 502),
    "differing content-lengths": (dict(raw=b"HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 5\r\n"
                                          b"Content-Length: 3\r\n\r\nabc"), 502),
    "bad chunk size": (dict(raw=b"HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nTransfer-Encoding: chunked\r\n\r\n"
                                b"zz\r\nabc\r\n0\r\n\r\n"), "cut"),
}


def start_fault_env():
    """A test origin, and a started daemon proxying / to it and /refused/ to a dead port."""
    o = Origin().start()
    # Bound but never listening: connecting is refused, and no other test can take the port
    # while the daemon holds this socket (closing it and reusing the number could race).
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    dead_port = dead.getsockname()[1]
    d = Daemon(config={
        "origins": {"o": {"url": "http://" + o.address, "timeout_ms": TIMEOUT_MS},
                    "dead": {"url": f"http://127.0.0.1:{dead_port}", "timeout_ms": TIMEOUT_MS}},
        "routes": [{"name": "r", "prefix": "/", "origin": "o"},
                   {"name": "dead", "prefix": "/refused/", "origin": "dead"}]})
    d.start()
    d.refused_socket = dead
    return d, o


@pytest.fixture(scope="module")
def env():
    d, o = start_fault_env()
    d.shared = True
    # Warm up everything opened lazily (pool, thread pool, store) before taking the baseline.
    o.route("/warm", body=b"w", headers={"Cache-Control": "no-store"})
    assert d.get("/warm").status == 200
    assert d.put("/kv/warm/k", b"v").status == 200
    d.close_conns()
    base = net_fds(d)
    yield d, o, base
    d.stop()
    d.cleanup()
    o.stop()


def net_fds(d):
    """The daemon's open descriptors less its origin connections (pooled ones come and go)."""
    fds = d.open_fds()
    stats = d.admin("GET", "/admin/stats").json()
    return fds - sum(o["connections_open"] for o in stats["origins"].values())


def assert_fds_settle(d, base, timeout=5):
    d.close_conns()
    deadline = time.time() + timeout
    while True:
        n = net_fds(d)
        if n <= base:
            return
        if time.time() > deadline:
            raise AssertionError(f"fd leak: {n} open (less origin connections), {base} before; "
                                 f"{sorted(__import__('os').listdir(f'/proc/{d.proc.pid}/fd'))}")
        time.sleep(0.05)


def fetch(d, path, method="GET"):
    """One request on a new connection, read to EOF: (status, headers, body, complete) of the
    final response (relayed 1xx heads are skipped, as a client does)."""
    s = socket.create_connection(d.tcp_address(), timeout=10)
    s.sendall(f"{method} {path} HTTP/1.1\r\nHost: h\r\n\r\n".encode())
    data = b""
    head_end = -1
    while True:
        try:
            b = s.recv(65536)
        except ConnectionResetError:
            b = b""
        if not b:
            break
        data += b
        while head_end < 0 and b"\r\n\r\n" in data:
            head_end = data.find(b"\r\n\r\n")
            if data.startswith(b"HTTP/1.1 1"):  # an interim response relayed: the next head
                data, head_end = data[head_end + 4:], -1
        if head_end >= 0 and is_complete(data, head_end, method):
            break
    s.close()
    assert head_end >= 0, data[:200]
    head, body = data[:head_end].decode("latin-1"), data[head_end + 4:]
    lines = head.split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    return int(lines[0].split()[1]), headers, body, is_complete(data, head_end, method)


def is_complete(data, head_end, method):
    head, body = data[:head_end].lower(), data[head_end + 4:]
    if method == "HEAD":
        return True
    if b"transfer-encoding: chunked" in head:
        return body.endswith(b"0\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return len(body) >= int(line.split(b":")[1])
    return False


def dechunk(body):
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        n = int(size_line.split(b";")[0], 16)
        if n == 0:
            break
        out += rest[:n]
        body = rest[n + 2:]
    return out


def check_miss_result(d, path, expect):
    status, headers, body, complete = fetch(d, path)
    if expect == "cut":
        assert status == 200, (status, body[:200])
        assert not complete, (headers, body[:200])  # the client can tell it was cut off
    else:
        assert status == expect, (status, body[:300])
        assert complete and b'"error"' in body and b'"origin_' in body, body[:300]


@pytest.mark.parametrize("name", list(FAULTS))
def test_fault_on_a_miss(env, name):
    d, o, base = env
    path = "/miss/" + name.replace(" ", "-")
    fault, expect = FAULTS[name]
    o.route(path, date=False, headers=GOOD, **fault)
    check_miss_result(d, path, expect)
    # Nothing was stored: with the origin healthy again, the next request is a miss that gets
    # the whole body.
    o.route(path, date=False, body=b"whole", headers=GOOD)
    status, headers, body, complete = fetch(d, path)
    assert (status, headers.get("x-cache"), body, complete) == (200, "MISS", b"whole", True)
    assert_fds_settle(d, base)


@pytest.mark.parametrize("name", list(FAULTS))
def test_fault_with_stale_if_error(env, name):
    d, o, base = env
    path = "/stale/" + name.replace(" ", "-")
    fault, _ = FAULTS[name]
    o.route(path, date=False, body=b"the-good-copy", headers=GOOD)
    assert fetch(d, path)[2] == b"the-good-copy"
    d.advance_clock(11)  # stale, well inside stale-if-error
    o.route(path, date=False, headers=GOOD, **fault)
    for _ in range(2):  # the good copy is served whole, and survives the failed refresh
        status, headers, body, complete = fetch(d, path)
        assert (status, headers.get("x-cache"), body, complete) == (200, "STALE", b"the-good-copy", True)
    assert_fds_settle(d, base)


def test_refused(env):
    d, o, base = env
    status, headers, body, complete = fetch(d, "/refused/x")
    assert status == 502 and b"origin_connect_refused" in body and complete
    assert_fds_settle(d, base)


def test_slow_body_inside_the_timeout_is_served_and_stored(env):
    d, o, base = env
    o.route("/slow-ok", date=False, body=b"abcdef", headers=GOOD, chunks=[b"ab", b"cd", b"ef"],
            chunk_delay=0.1)
    assert fetch(d, "/slow-ok")[2:] == (b"abcdef", True)
    status, headers, body, complete = fetch(d, "/slow-ok")
    assert (headers["x-cache"], body) == ("HIT", b"abcdef")
    assert_fds_settle(d, base)


def test_head_answered_with_a_body_does_not_desync_the_pool(env):
    # The origin sends a body after its HEAD response, shaped like a response of its own. Read
    # as the answer to the next request on that connection, it would be cached for /victim.
    d, o, base = env
    evil = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nCache-Control: max-age=600\r\n\r\nEVIL"
    o.route("/head-body", date=False, body=evil, headers=GOOD, head_body=True)
    o.route("/victim", date=False, body=b"victim-body", headers=GOOD)
    for _ in range(3):
        status, headers, body, complete = fetch(d, "/head-body", method="HEAD")
        assert status == 200 and headers["content-length"] == str(len(evil))
        status, headers, body, complete = fetch(d, "/victim")
        assert status == 200 and body == b"victim-body", body
        d.admin("POST", "/admin/purge", b'{"paths":["/victim"]}')
    assert [r.path for r in o.requests_for("/victim")] == ["/victim"] * 3
    assert_fds_settle(d, base)


def test_a_few_interim_responses_then_the_answer(env):
    d, o, base = env
    o.route("/interim", date=False, body=b"final", headers=GOOD, interim=[100, 103, 103])
    status, headers, body, complete = fetch(d, "/interim")
    assert (status, body, complete) == (200, b"final", True)
    assert_fds_settle(d, base)
