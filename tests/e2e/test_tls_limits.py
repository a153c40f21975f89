"""TLS under limits and failures (issue 15 items 1 and 5): the concurrent-handshake cap, clients
that stop reading TLS output against the output budgets, and stale-if-error when an HTTPS
origin's TLS fails."""
import os
import socket
import ssl
import threading
import time

import pytest

from abuse import close_all, wait_until
from ectest import EDGECACHECTL, run_cli, short_tmpdir
from tls_certs import Pki
from tls_harness import TlsOrigin, client_ctx, https_get, https_proxy, tls_daemon


@pytest.fixture
def pki(tmp_path):
    return Pki(tmp_path / "pki")


def tls_listener_stats(d):
    return d.admin("GET", "/admin/stats").json()["tls_listeners"]


def stalled_handshake(host, port):
    """A client that starts a ClientHello and sends nothing more."""
    s = socket.create_connection((host, port), timeout=10)
    s.sendall(b"\x16\x03\x01")
    return s


def test_handshakes_over_max_handshakes_are_closed_at_once(make_daemon, pki):
    d = tls_daemon(make_daemon, pki, [pki.leaf("a", ["a.test"])],
                   {"max_handshakes": 2, "handshake_timeout_ms": 30000})
    host, port = d.tcp_address(0)
    stalled = [stalled_handshake(host, port) for _ in range(2)]
    try:
        assert wait_until(lambda: tls_listener_stats(d)[0]["handshakes_in_progress"] == 2, 10)
        # A third handshake is refused at once, long before the 30 s handshake timeout.
        start = time.monotonic()
        with pytest.raises((ssl.SSLError, ConnectionError)):
            https_get(d, pki, "/health", "a.test")
        assert time.monotonic() - start < 5
        stats = tls_listener_stats(d)
        assert stats == [{"listener": f"{host}:{port}", "handshakes_in_progress": 2,
                          "handshakes_refused": 1}], stats
        m = d.admin("GET", "/metrics").text
        assert f'edgecached_tls_handshakes_refused_total{{listener="{host}:{port}"}} 1' in m
        assert f'edgecached_tls_handshakes_in_progress{{listener="{host}:{port}"}} 2' in m
        # edgecachectl stats reads the same counter table as /admin/stats and /metrics.
        p = run_cli([EDGECACHECTL, "--socket", d.admin_sock, "stats"], capture_output=True,
                    text=True, timeout=30)
        assert p.returncode == 0, p
        assert (f"tls listeners\n  {host}:{port}  2 handshakes in progress, "
                "1 refused over max_handshakes\n") in p.stdout, p.stdout
        # The plaintext listener beside it is not capped.
        assert d.get("/health", listener=1).status == 200
        # One stalled client leaves: its slot is free again, and a finished handshake frees
        # its own.
        stalled.pop().close()
        assert wait_until(lambda: tls_listener_stats(d)[0]["handshakes_in_progress"] == 1, 10)
        assert https_get(d, pki, "/health", "a.test")[0] == 200
        assert https_get(d, pki, "/health", "a.test")[0] == 200
        assert tls_listener_stats(d)[0]["handshakes_in_progress"] == 1
    finally:
        close_all(stalled)


def unix_tls_daemon(make_daemon, pki, path, **config):
    cert, key = pki.leaf("a", ["a.test"])
    tls = {"certificates": [{"cert": cert, "key": key}]}
    return make_daemon(listen=[], tmp=os.path.dirname(path), config=dict(
        {"listen": ["127.0.0.1:0", {"address": "unix:" + path, "tls": tls}]}, **config))


def unix_tls_client(pki, path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(path)
    return client_ctx(pki).wrap_socket(s, server_hostname="a.test")


def queued_output(d):
    return d.admin("GET", "/admin/stats").json()["connections"]["queued_output_bytes"]


# A Unix socket, because loopback TCP autotunes its send buffer to megabytes and the kernel would
# hold the output the daemon must hold (and bound) itself.
def test_tls_reader_that_stops_is_held_to_the_high_water_mark_and_then_served(make_daemon, pki):
    value, pipelined = 256 * 1024, 32
    path = os.path.join(short_tmpdir(), "tls.sock")
    d = unix_tls_daemon(make_daemon, pki, path)
    assert d.put("/kv/slow/big", b"v" * value).status == 200
    c = unix_tls_client(pki, path)
    try:
        c.sendall(b"GET /kv/slow/big HTTP/1.1\r\nHost: a\r\n\r\n" * pipelined)
        # Unread, the connection is served until about write_high_water (1 MiB) of encrypted
        # output waits for the socket, then it holds still: not the 8 MiB asked for. What it
        # holds counts the records and, until they are written, the responses they encrypt.
        def settled():
            before = queued_output(d)
            time.sleep(0.3)
            now = queued_output(d)
            return now if now == before and now > 0 else None

        held = wait_until(settled, 15)
        assert held and 512 * 1024 < held <= 2 * (1024 * 1024 + value) + 64 * 1024, held
        # Read slowly: every response arrives whole and in order.
        got = bytearray()
        while got.count(b"v") < pipelined * value:
            chunk = c.recv(16384)
            assert chunk, f"cut off after {len(got)} bytes"
            got.extend(chunk)
            if len(got) < 2 * value:
                time.sleep(0.001)
        assert got.count(b"HTTP/1.1 200 OK") == pipelined
        assert wait_until(lambda: queued_output(d) == 0, 10)
    finally:
        c.close()


def test_tls_clients_that_stop_reading_are_shed_over_max_queued_output(make_daemon, pki):
    # Twelve non-readers could hold ~15 MiB of encrypted output; max_queued_output (2 MiB)
    # bounds the total, counting the TLS records the daemon holds, and the rest are shed.
    n, value, pipelined = 12, 256 * 1024, 100
    path = os.path.join(short_tmpdir(), "tls.sock")
    d = unix_tls_daemon(make_daemon, pki, path, max_queued_output="2MiB",
                        max_connections=n + 100)
    assert d.put("/kv/shed/big", b"v" * value).status == 200
    clients = []
    try:
        for _ in range(n):
            c = unix_tls_client(pki, path)
            c.sendall(b"GET /kv/shed/big HTTP/1.1\r\nHost: a\r\n\r\n" * pipelined)
            clients.append(c)

        def conn_stats():
            return d.admin("GET", "/admin/stats").json()["connections"]

        assert wait_until(lambda: conn_stats()["shed"] >= n - 1, 15), conn_stats()
        assert conn_stats()["queued_output_bytes"] <= 2 * 1024 * 1024, conn_stats()
        # A new TLS client is served whole.
        c = unix_tls_client(pki, path)
        clients.append(c)
        c.sendall(b"GET /kv/shed/big HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        got = bytearray()
        while chunk := c.recv(65536):
            got.extend(chunk)
        assert got.startswith(b"HTTP/1.1 200 OK") and got.endswith(b"v" * value)
    finally:
        close_all(clients)
    assert wait_until(lambda: queued_output(d) == 0, 10)


def wait_stored(d, n=1):
    """A fill's store is committed after the client is answered: wait before a clock jump."""
    assert wait_until(lambda: d.admin("GET", "/admin/stats").json()["store"].get("entries", 0)
                      >= n, 10), "the fill never reached LMDB"


def test_stale_if_error_when_the_https_origins_tls_fails(make_daemon, pki):
    cert, key = pki.leaf("origin", ["origin.test"])
    with TlsOrigin(cert, key) as origin:
        # keep_alive=False: each fetch is a new connection, so a new handshake.
        origin.route("/sie", date=False, body=b"keep", keep_alive=False,
                     headers={"Cache-Control": "max-age=10, stale-if-error=60"})
        d = https_proxy(make_daemon, origin,
                        {"ca_file": pki.ca_cert, "server_name": "origin.test"})
        r = d.get("/sie")
        assert r.status == 200 and r.headers["x-cache"] == "MISS"
        wait_stored(d)
        d.advance_clock(20)
        # The origin now presents an expired certificate: the handshake fails, and the stale
        # copy is served within its stale-if-error window.
        origin.use_certificate(*pki.leaf("expired", ["origin.test"], expired=True))
        r = d.get("/sie")
        assert r.status == 200 and r.body == b"keep" and r.headers["x-cache"] == "STALE", r
        d.wait_log("certificate has expired")
        assert origin.hits("/sie") == 1
        # Beyond the window the failure is the client's answer, with its kind.
        d.advance_clock(60)
        r = d.get("/sie")
        assert r.status == 502 and r.json()["error"]["code"] == "origin_tls", r
        # An origin that fixes its certificate is fetched from again.
        origin.use_certificate(cert, key)
        r = d.get("/sie")
        assert r.status == 200 and r.headers["x-cache"] == "MISS"
        assert origin.hits("/sie") == 2
