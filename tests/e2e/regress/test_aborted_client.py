"""Issue 11 defect 1: a client that stops reading a streamed, unstored response and then leaves
must not keep its paused origin fetch (and the origin connection) forever."""
import socket
import time

from origin import Response


def origin_stats(d):
    return d.admin("GET", "/admin/stats").json()["origins"]["o"]


def wait_for(pred, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def stall_and_close(d, path, n):
    """n clients ask for path, read nothing, then close (with unread data: an RST)."""
    host, port = d.tcp_address()
    socks = []
    for _ in range(n):
        s = socket.create_connection((host, port), timeout=5)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        socks.append(s)
    return socks


def test_aborted_clients_give_their_origin_connections_back(make_proxy, origin):
    big = b"u" * (48 << 20)  # far beyond the socket buffers and the client's high-water mark
    origin.route("/big", body=big, headers={"Cache-Control": "no-store"})
    origin.route("/small", body=b"fine", headers={"Cache-Control": "no-store"})
    d = make_proxy(origin, origin_opts={"max_connections": 2, "timeout_ms": 3000})
    socks = stall_and_close(d, "/big", 2)
    assert origin.wait_for_hits("/big", 2)
    # Both fetches are paused behind their stalled clients, longer than timeout_ms: pausing is
    # the client's doing, so the origin timeout does not end them.
    time.sleep(3.5)
    assert origin_stats(d)["connections_open"] == 2
    for s in socks:
        s.close()
    # The pool is usable again at once (before: every later request queued and got 504).
    r = d.get("/small")
    assert r.status == 200 and r.body == b"fine"
    assert wait_for(lambda: origin_stats(d)["connections_open"] <= 1)
    st = origin_stats(d)
    assert st["errors"] == {}


def test_a_paused_fetch_still_ends_when_its_client_stalls_forever(make_proxy, origin):
    # The client never reads and never closes: the client idle timeout closes it, and the
    # origin fetch ends with it.
    origin.route("/big", body=b"v" * (48 << 20), headers={"Cache-Control": "no-store"})
    origin.route("/small", body=b"fine", headers={"Cache-Control": "no-store"})
    d = make_proxy(origin, origin_opts={"max_connections": 1},
                   config={"idle_timeout_ms": 1000})
    socks = stall_and_close(d, "/big", 1)
    assert origin.wait_for_hits("/big", 1)
    assert wait_for(lambda: origin_stats(d)["connections_open"] == 0, timeout=10)
    r = d.get("/small")
    assert r.status == 200 and r.body == b"fine"
    socks[0].close()


def test_an_aborted_unsafe_request_runs_to_completion_and_frees_its_connection(make_proxy, origin):
    origin.route("/upload", handler=lambda req: Response(
        body=b"w" * (48 << 20), headers={"Cache-Control": "no-store"}))
    origin.route("/small", body=b"fine", headers={"Cache-Control": "no-store"})
    d = make_proxy(origin, origin_opts={"max_connections": 1})
    host, port = d.tcp_address()
    s = socket.create_connection((host, port), timeout=5)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
    assert origin.wait_for_hits("/upload", 1)
    time.sleep(0.5)
    s.close()
    r = d.get("/small")
    assert r.status == 200 and r.body == b"fine"
    assert wait_for(lambda: origin_stats(d)["connections_open"] <= 1)
