"""The HTTP/1.1 server from outside: keep-alive, pipelining, bodies, limits, strictness."""
import json
import socket
import threading
import time

import pytest

from ectest import EDGECACHECTL, parse_responses, raw_exchange, read_to_eof, run_cli


def test_pipelined_requests_answer_in_order(daemon):
    daemon.put("/kv/p/a", b"A")
    daemon.put("/kv/p/b", b"BB")
    reqs = b"".join(
        f"GET /kv/p/{k} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for k in ["a", "b", "missing", "a"])
    reqs += b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    resps = parse_responses(daemon.raw(reqs))
    assert [(s, b) for s, _, b in resps[:4]] == [(200, b"A"), (200, b"BB"), (404, resps[2][2]), (200, b"A")]
    assert resps[4][0] == 200 and resps[4][1]["connection"] == "close"


def test_pipelined_write_then_read_sees_the_write(daemon):
    # A connection reads its own writes: the GET waits for the PUT's commit.
    body = b"fresh-value"
    reqs = (b"PUT /kv/ryw/k HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
            + b"GET /kv/ryw/k HTTP/1.1\r\nHost: x\r\n\r\n"
            + b"DELETE /kv/ryw/k HTTP/1.1\r\nHost: x\r\n\r\n"
            + b"GET /kv/ryw/k HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    resps = parse_responses(daemon.raw(reqs))
    assert [r[0] for r in resps] == [200, 200, 200, 404]
    assert resps[1][2] == body


def test_pipeline_longer_than_the_read_buffer_behind_deferred_writes(daemon):
    # Each PUT waits for its commit while the rest of the pipeline keeps arriving: the daemon
    # reads on into its buffer's free tail and stops when that is full. Every request is still
    # answered, in order, and each GET sees the PUT just before it.
    reqs = b""
    for i in range(400):
        reqs += b"PUT /kv/pl/k HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nv%04d" % i
        reqs += b"GET /kv/pl/k HTTP/1.1\r\nHost: x\r\n\r\n"
    reqs += b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    assert len(reqs) > 2 * 16384  # the daemon's read buffer
    resps = parse_responses(daemon.raw(reqs, timeout=30))
    assert len(resps) == 801
    assert [r[0] for r in resps] == [200] * 801
    assert [resps[2 * i + 1][2] for i in range(400)] == [b"v%04d" % i for i in range(400)]


def test_request_split_at_every_byte(daemon):
    daemon.put("/kv/split/key", b"value")
    req = b"GET /kv/split/key HTTP/1.1\r\nHost: localhost\r\nX-Long: " + b"v" * 50 + b"\r\n\r\n"
    s = socket.create_connection(daemon.tcp_address(), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    for i in range(len(req)):
        s.sendall(req[i:i + 1])
        time.sleep(0.001)
    data = b""
    while not data.endswith(b"value"):
        chunk = s.recv(4096)
        assert chunk
        data += chunk
    s.close()
    assert data.startswith(b"HTTP/1.1 200 ")


def test_chunked_request_body(daemon):
    req = (b"PUT /kv/chunk/k HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\nTrailer: t\r\n\r\n"
           b"GET /kv/chunk/k HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    resps = parse_responses(daemon.raw(req))
    assert resps[0][0] == 200
    assert resps[1][2] == b"hello world"


def test_expect_100_continue(daemon):
    s = socket.create_connection(daemon.tcp_address(), timeout=5)
    s.sendall(b"PUT /kv/e/k HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
    interim = s.recv(4096)
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    s.sendall(b"abc")
    final = s.recv(4096)
    assert final.startswith(b"HTTP/1.1 200 ")
    s.close()
    assert daemon.get("/kv/e/k").body == b"abc"


def test_expect_continue_refused_when_too_large(make_daemon):
    d = make_daemon(config={"max_value_size": 10})
    s = socket.create_connection(d.tcp_address(), timeout=5)
    s.sendall(b"PUT /kv/e/k HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n")
    data = s.recv(4096)
    assert data.startswith(b"HTTP/1.1 413 ")
    s.close()


def test_http10_keep_alive_and_close(daemon):
    r = daemon.raw(b"GET /health HTTP/1.0\r\n\r\n")
    assert r.startswith(b"HTTP/1.1 200 ") and b"Connection: close" in r
    r = daemon.raw(b"GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                   b"GET /health HTTP/1.0\r\n\r\n")
    resps = parse_responses(r)
    assert len(resps) == 2 and resps[0][1]["connection"] == "keep-alive"


def expect_error(daemon, raw, status, code=None):
    data = daemon.raw(raw)
    assert data.startswith(b"HTTP/1.1 %d " % status), data[:200]
    assert b"Connection: close" in data
    if code:
        assert code.encode() in data, data
    # Exactly one response, then EOF (the socket was shut down, not reset).
    assert len(parse_responses(data)) == 1
    return data


@pytest.mark.parametrize("name,raw,status,code", [
    ("garbage", b"HELLO\r\n\r\n", 400, None),
    ("cl+te", b"POST /kv/x/k HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, None),
    ("dup cl", b"PUT /kv/x/k HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400, None),
    ("cl list", b"PUT /kv/x/k HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nabc", 400, None),
    ("obs-fold", b"GET /health HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n", 400, "obs_fold"),
    ("bare LF", b"GET /health HTTP/1.1\nHost: a\n\n", 400, None),
    ("space in name", b"GET /health HTTP/1.1\r\nHost: a\r\nX A: b\r\n\r\n", 400, "bad_header_name"),
    ("space before colon", b"GET /health HTTP/1.1\r\nHost : a\r\n\r\n", 400, "bad_header_name"),
    ("empty name", b"GET /health HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n", 400, "bad_header_name"),
    ("no host", b"GET /health HTTP/1.1\r\n\r\n", 400, "missing_host"),
    ("two hosts", b"GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "duplicate_host"),
    ("bad chunk size", b"PUT /kv/x/k HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400, None),
    ("long chunk ext", b"PUT /kv/x/k HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;" + b"e" * 2000 + b"\r\nabc\r\n0\r\n\r\n", 400, "chunk_extension_too_long"),
    ("http/2.0", b"GET /health HTTP/2.0\r\nHost: a\r\n\r\n", 505, None),
    ("te in 1.0", b"PUT /kv/x/k HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400, None),
    ("connect", b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 405, None),
    ("bad expect", b"GET /health HTTP/1.1\r\nHost: a\r\nExpect: magic\r\n\r\n", 417, None),
])
def test_malformed_requests_get_a_clear_error(daemon, name, raw, status, code):
    data = expect_error(daemon, raw, status, code)
    assert b'"error"' in data
    # Nothing was stored by a rejected request.
    assert daemon.get("/kv/x/k").status == 404


def test_header_section_over_limit_is_431(daemon):
    expect_error(daemon, b"GET /health HTTP/1.1\r\nHost: a\r\nX-Big: " + b"v" * 17000 + b"\r\n\r\n", 431)
    many = b"".join(b"X-%d: v\r\n" % i for i in range(150))
    expect_error(daemon, b"GET /health HTTP/1.1\r\nHost: a\r\n" + many + b"\r\n", 431)


def test_error_reply_survives_unread_body(make_daemon):
    # 413 arrives while the client is still sending: the daemon must keep reading (lingering
    # close), or the kernel's reset could destroy the response before the client reads it.
    d = make_daemon(config={"max_value_size": 1000})
    s = socket.create_connection(d.tcp_address(), timeout=5)
    s.sendall(b"PUT /kv/x/k HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\n\r\n")
    try:
        for _ in range(40):
            s.sendall(b"x" * 50000)
    except (BrokenPipeError, ConnectionResetError):
        pass
    got = read_to_eof(s)
    s.close()
    assert got.startswith(b"HTTP/1.1 413 "), got[:100]


def test_head_request_has_length_but_no_body(daemon):
    daemon.put("/kv/h/k", b"12345")
    data = daemon.raw(b"HEAD /kv/h/k HTTP/1.1\r\nHost: a\r\n\r\nGET /health HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    first, _, rest = data.partition(b"\r\n\r\n")
    assert b"Content-Length: 5" in first
    assert rest.startswith(b"HTTP/1.1 200 ")


def test_absolute_form_target(daemon):
    daemon.put("/kv/abs/k", b"v")
    data = daemon.raw(b"GET http://example.test/kv/abs/k HTTP/1.1\r\nHost: other\r\nConnection: close\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 200 ") and data.endswith(b"v")


@pytest.mark.parametrize("request_head", [
    b"GET /health HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    b"CONNECT a.test:443 HTTP/1.1\r\nHost: a.test:443\r\n\r\n",
])
def test_regress_upgrade_is_answered_then_closed_and_the_rest_dropped(daemon, request_head):
    # We never switch protocols: the request is answered with Connection: close and whatever
    # follows it (another protocol's bytes) is dropped. Those bytes used to make the loop
    # re-run llhttp at the same paused position forever (found by fuzz_request_path).
    data = raw_exchange(*daemon.tcp_address(), request_head + b"\x81\x05hello GET /x HTTP/1.1\r\n\r\n")
    resps = parse_responses(data)
    assert len(resps) == 1 and resps[0][1].get("connection") == "close", data[:300]
    assert daemon.get("/health").status == 200  # the loop is still turning


def test_unknown_path_is_json_404(daemon):
    r = daemon.get("/nope")
    assert r.status == 404 and r.json()["error"]["code"] == "not_found"


def test_header_timeout_closes_slow_clients(make_daemon):
    d = make_daemon(config={"header_timeout_ms": 300})
    s = socket.create_connection(d.tcp_address(), timeout=5)
    s.sendall(b"GET /health HTTP/1.1\r\nHost: a\r\n")
    start = time.time()
    data = s.recv(4096)
    assert data.startswith(b"HTTP/1.1 408 "), data
    while s.recv(4096):
        pass
    assert time.time() - start < 3
    s.close()
    assert d.get("/health").status == 200


def test_idle_keepalive_connections_time_out(make_daemon):
    d = make_daemon(config={"idle_timeout_ms": 300})
    s = socket.create_connection(d.tcp_address(), timeout=5)
    s.sendall(b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n")
    assert s.recv(4096).startswith(b"HTTP/1.1 200 ")
    start = time.time()
    assert s.recv(4096) == b""  # closed by the server, without a response
    assert time.time() - start < 3
    s.close()


def test_connection_cap_answers_503_and_recovers(make_daemon):
    d = make_daemon(config={"max_connections": 5})
    held = [socket.create_connection(d.tcp_address(), timeout=5) for _ in range(5)]
    time.sleep(0.2)
    data = d.raw(b"")
    assert data.startswith(b"HTTP/1.1 503 "), data
    assert b"too_many_connections" in data
    for s in held:
        s.close()
    deadline = time.time() + 5
    while time.time() < deadline:
        data = d.raw(b"GET /health HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        if data.startswith(b"HTTP/1.1 200 "):
            break
        time.sleep(0.05)
    assert data.startswith(b"HTTP/1.1 200 ")


def test_regress_admin_socket_still_answers_at_the_connection_cap(make_daemon):
    # The operator's way in must not be shut by the clients filling the cap: edgecachectl got
    # the same 503 as everyone else. Admin listeners have a small reserve past the cap.
    d = make_daemon(config={"max_connections": 5})
    held = [socket.create_connection(d.tcp_address(), timeout=5) for _ in range(5)]
    time.sleep(0.2)
    assert d.raw(b"").startswith(b"HTTP/1.1 503 ")
    r = run_cli([EDGECACHECTL, "--socket", d.admin_sock, "stats", "--json"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["connections"]["rejected"] >= 1
    for s in held:
        s.close()


def test_malformed_clients_do_not_disturb_others(daemon):
    daemon.put("/kv/calm/k", b"steady")
    errors = []
    stop = threading.Event()

    def abuse():
        while not stop.is_set():
            try:
                raw_exchange(*daemon.tcp_address(), b"GET / HTTP/1.1\r\nHost: a\r\nX A: b\r\n\r\n", 2)
                raw_exchange(*daemon.tcp_address(), b"\x16\x03\x01garbage\r\n\r\n", 2)
            except OSError as e:
                errors.append(e)

    t = threading.Thread(target=abuse)
    t.start()
    try:
        for _ in range(200):
            r = daemon.get("/kv/calm/k")
            assert r.status == 200 and r.body == b"steady"
    finally:
        stop.set()
        t.join()
    assert not errors


def test_regress_idle_after_body_is_not_a_partial_request(make_daemon):
    # After a request with a body, an idle keep-alive connection used to look half-received:
    # the idle timeout answered it with an unprompted 408, and draining waited for it.
    d = make_daemon(config={"idle_timeout_ms": 300, "drain_timeout_ms": 5000})
    s = socket.create_connection(d.tcp_address(), timeout=5)
    s.sendall(b"PUT /kv/ns/k HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc")
    assert s.recv(4096).startswith(b"HTTP/1.1 200 ")
    assert s.recv(4096) == b""  # closed quietly at the idle timeout, no 408
    s.close()
    s = socket.create_connection(d.tcp_address(), timeout=5)
    s.sendall(b"PUT /kv/ns/k HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc")
    assert s.recv(4096).startswith(b"HTTP/1.1 200 ")
    start = time.time()
    assert d.stop() == 0
    assert time.time() - start < 2  # the idle connection did not hold the drain
    s.close()
