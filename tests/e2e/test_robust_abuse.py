"""Client abuse, scaled down for every change: slowloris, idle connections at the cap, a
pipelined flood, oversized bodies, clients that never read. A well-behaved client is served
without error throughout. Full-size runs: test_slow_abuse.py."""
import json
import os
import signal
import socket
import threading
import time

import abuse_scenarios as sc
from abuse import close_all, open_many, send_unread, wait_until
from ectest import EDGECACHECTL, UnixHTTPConnection, read_to_eof, run_cli, short_tmpdir


def test_slowloris_100(make_daemon, origin):
    sc.slowloris(make_daemon, origin, n=100, header_timeout_ms=3000, unloaded_s=1,
                 during_s=1.5, interval=0.3)


def test_idle_1000_at_the_connection_cap(make_daemon, origin):
    sc.idle(make_daemon, origin, n=1000, idle_timeout_ms=5000, unloaded_s=1, during_s=1.5)


def test_pipelined_flood(make_daemon, origin):
    sc.pipeline_flood(make_daemon, origin, conns=2, depth=100, unloaded_s=1, during_s=2)


def test_oversized_bodies(make_daemon, origin):
    sc.oversized_bodies(make_daemon, origin, conns=2, limit=256 * 1024, unloaded_s=1,
                        during_s=1.5)


def test_non_reading_clients(make_daemon, origin):
    sc.non_reading(make_daemon, origin, n=4, value_size=256 * 1024, idle_timeout_ms=1500,
                   unloaded_s=1, during_s=1)


def test_regress_large_responses_share_the_loop(make_daemon):
    # A round of a pipelined connection was bounded only by request count (32): with large
    # values, every connection that pipelined GETs and never read got ~15 responses (until its
    # output congested) in one go, and a request from anyone else waited behind all of them.
    # Rounds now also end once they have queued write_low_water bytes. Observed from outside:
    # how many requests the daemon served before answering one sent right after the burst.
    n = 20
    d = make_daemon(config={"max_connections": n + 100})
    fds = d.open_fds()
    assert d.put("/kv/abuse/big", b"v" * (256 * 1024)).status == 200
    d.close_conns()
    admin = UnixHTTPConnection(d.admin_sock)
    admin.connect()
    before = d.admin("GET", "/admin/stats").json()["requests"]
    socks = open_many(d.tcp_address(), n, rcvbuf=4096)
    assert wait_until(lambda: d.open_fds() >= fds + n + 1, 10)  # all accepted, and the admin
    # Frozen, the daemon finds the whole burst and then the admin request ready at once, in
    # that order, on its next poll.
    d.send_signal(signal.SIGSTOP)
    try:
        send_unread(socks, "/kv/abuse/big", 200)
        admin.request("GET", "/admin/stats")
        time.sleep(0.1)
        d.send_signal(signal.SIGCONT)
        # "requests" counts the data plane only: the admin request is not in it.
        served = json.loads(admin.getresponse().read())["requests"] - before
    finally:
        d.send_signal(signal.SIGCONT)
        admin.close()
        close_all(socks)
    print(f"\nserved {served} requests of {n} non-readers before the admin request")
    assert served < 6 * n, served


def _unix_clients(path, n):
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        socks.append(s)
    return socks


def test_queued_output_is_bounded_in_total(make_daemon):
    # Each non-reading client may hold the 1 MiB high-water mark plus a response, so 12 of
    # them hold ~15 MiB; max_queued_output (2 MiB here) bounds the total. Over it, the daemon
    # closes the clients never seen reading: the non-readers, not a client already reading
    # slowly when they arrive, nor a keep-alive client. A Unix socket, because loopback TCP
    # autotunes its send buffer to megabytes and the kernel would hold it all.
    n, value, pipelined = 12, 256 * 1024, 16
    budget = 2 * 1024 * 1024
    tmp = short_tmpdir()
    path = os.path.join(tmp, "c.sock")
    d = make_daemon(listen=["127.0.0.1:0", "unix:" + path], tmp=tmp,
                    config={"max_queued_output": "2MiB", "max_connections": n + 100})
    assert d.put("/kv/abuse/big", b"v" * value).status == 200
    d.close_conns()
    fds0 = d.open_fds()
    slow = _unix_clients(path, 1)[0]
    slow.settimeout(30)
    got = bytearray()
    failure = []

    def read_slowly():
        try:
            while got.count(b"v") < pipelined * value:
                chunk = slow.recv(8192)
                if not chunk:
                    failure.append(f"slow reader cut off after {len(got)} bytes")
                    return
                got.extend(chunk)
                time.sleep(0.002)
        except OSError as e:
            failure.append(f"slow reader: {e!r} after {len(got)} bytes")

    slow.sendall(b"GET /kv/abuse/big HTTP/1.1\r\nHost: a\r\n\r\n" * pipelined)
    reader = threading.Thread(target=read_slowly)
    reader.start()
    socks = []
    try:
        assert wait_until(lambda: len(got) > 2 * value, 10)  # seen reading by the daemon
        socks = _unix_clients(path, n)
        send_unread(socks, "/kv/abuse/big", 100)

        def conn_stats():
            return d.admin("GET", "/admin/stats").json()["connections"]

        # Served until each holds ~1.25 MiB, so one non-reader at most fits beside the reader.
        assert wait_until(lambda: conn_stats()["shed"] >= n - 1, 10), json.dumps(conn_stats())
        assert conn_stats()["queued_output_bytes"] <= budget, json.dumps(conn_stats())
        reader.join(30)
        assert not failure and not reader.is_alive(), (failure, len(got))
        assert got.count(b"HTTP/1.1 200 OK") == pipelined
        assert d.get("/kv/abuse/big").status == 200  # and a keep-alive client is served
    finally:
        close_all(socks + [slow])
        reader.join(5)
        d.close_conns()
    assert wait_until(lambda: d.open_fds() <= fds0, 10)
    m = d.admin("GET", "/metrics").text
    assert "edgecached_connections_shed_total" in m and "edgecached_queued_output_bytes 0" in m
    assert "closed" in d.log() and "whose clients had stopped reading" in d.log()
    p = run_cli([EDGECACHECTL, "--socket", d.admin_sock, "stats"], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 0 and "shed over max_queued_output" in p.stdout, p


def test_buffered_bodies_are_bounded_in_total(make_daemon):
    # Uploads that send half a body and stall each hold it until the idle timeout; in number
    # only max_connections bounded them. max_buffered_bodies (2 MiB here) bounds the total:
    # over it, the uploads that advanced least recently get 503 and are closed, and a client
    # whose upload is moving is served.
    half = 512 * 1024
    d = make_daemon(config={"max_buffered_bodies": "2MiB"})
    stallers = []

    def held():
        c = d.admin("GET", "/admin/stats").json()["connections"]
        return c["buffered_body_bytes"], c["bodies_shed"]

    try:
        for i in range(6):
            held_before, shed_before = held()
            s = socket.create_connection(d.tcp_address())
            s.sendall(b"PUT /kv/up/stalled%d HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n"
                      % (i, 2 * half) + b"s" * half)
            stallers.append(s)
            # Arrival order is the order they last advanced: the daemon holds all of this
            # half body (or shed an older one for it) before the next one starts.
            assert wait_until(lambda: held()[0] >= held_before + half or
                              held()[1] > shed_before, 10), held()
        assert wait_until(lambda: d.admin("GET", "/admin/stats").json()["connections"][
            "bodies_shed"] >= 2, 10)
        r = d.put("/kv/up/moving", b"m" * (2 * half))
        assert r.status == 200, r
        assert d.get("/kv/up/moving").body == b"m" * (2 * half)
        c = d.admin("GET", "/admin/stats").json()["connections"]
        assert c["buffered_body_bytes"] <= 2 * 1024 * 1024, c
        assert c["bodies_shed"] >= 4, c  # two more made room for the moving upload
        # The oldest stallers were told why, then closed.
        stallers[0].settimeout(5)
        answer = read_to_eof(stallers[0])
        assert answer.startswith(b"HTTP/1.1 503 "), answer[:200]
        assert b'"code":"overloaded"' in answer and b"max_buffered_bodies" in answer
    finally:
        close_all(stallers)
    assert d.get("/kv/up/stalled0").status == 404  # nothing of a refused upload is stored
    assert "request bodies held reached" in d.log()
    m = d.admin("GET", "/metrics").text
    assert "edgecached_http_bodies_shed_total" in m and "edgecached_buffered_body_bytes" in m
