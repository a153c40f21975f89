"""Process lifecycle: persistence across restarts, signals, draining, crash safety, locking."""
import json
import os
import signal
import socket
import subprocess
import time

import crashcheck
from ectest import EDGECACHED, Daemon, UnixHTTPConnection, request_in_progress, seeded_rng


def test_data_survives_restart(daemon):
    for i in range(50):
        assert daemon.put(f"/kv/keep/k{i}?ttl=3600", f"v{i}".encode(),
                          headers={"X-KV-Metadata": json.dumps({"i": i})}).status == 200
    assert daemon.stop() == 0
    daemon.start()
    for i in range(50):
        r = daemon.get(f"/kv/keep/k{i}")
        assert r.body == f"v{i}".encode()
        assert json.loads(r.headers["x-kv-metadata"]) == {"i": i}
    assert len(daemon.get("/kv/keep").json()["keys"]) == 50


def test_sigterm_and_sigint_exit_zero(daemon):
    assert daemon.stop(signal.SIGTERM) == 0
    assert "SIGTERM: draining" in daemon.log()
    daemon.start()
    assert daemon.stop(signal.SIGINT) == 0


def test_health_turns_503_while_draining(daemon):
    # A request in progress keeps the daemon draining; the response it gets says so.
    s = request_in_progress(daemon.tcp_address())
    daemon.send_signal(signal.SIGTERM)
    daemon.wait_log("draining 1 connection")
    # New connections are refused once the listener is closed.
    deadline = time.monotonic() + 5
    refused = False
    while not refused and time.monotonic() < deadline:
        try:
            socket.create_connection(daemon.tcp_address(), timeout=1).close()
            time.sleep(0.01)
        except OSError:
            refused = True
    assert refused
    s.sendall(b"\r\n")
    data = b""
    while True:
        b = s.recv(4096)
        if not b:
            break
        data += b
    assert data.startswith(b"HTTP/1.1 503 "), data
    assert b'"status":"draining"' in data and b"Connection: close" in data
    assert daemon.wait_exit(10) == 0


def test_drain_timeout_bounds_shutdown(make_daemon):
    d = make_daemon(config={"drain_timeout_ms": 300})
    s = request_in_progress(d.tcp_address())  # never finished
    start = time.time()
    assert d.stop() == 0
    assert time.time() - start < 5
    assert "drain timeout" in d.log()
    s.close()


def test_second_daemon_on_same_data_dir_is_refused(daemon):
    other = Daemon(data_dir=daemon.data_dir)
    try:
        with open(other.log_path, "w"):
            pass
        other.start(wait=False)
        assert other.wait_exit(10) == 1
        assert "in use by another edgecached" in other.log()
    finally:
        other.cleanup()
    assert daemon.get("/health").status == 200


def test_admin_socket_serves_kv_and_health(daemon):
    assert daemon.admin("PUT", "/kv/adm/k", b"via-admin").status == 200
    assert daemon.get("/kv/adm/k").body == b"via-admin"
    assert daemon.admin("GET", "/health").json()["status"] == "ok"
    mode = os.stat(daemon.admin_sock).st_mode & 0o777
    assert mode == 0o660


def test_acknowledged_writes_survive_kill9(make_daemon):
    """Writers PUT, bulk-PUT, DELETE and bulk-delete under durability "sync"; kill -9 at a random
    moment; restart: every acknowledged write is there (tests/e2e/test_slow_crash.py: many
    rounds)."""
    d = make_daemon(config={"durability": "sync"})
    rng = seeded_rng("kv crash rounds")
    tally = crashcheck.kv_crash_rounds(d, rounds=4, writers=3, keys_per_writer=100, rng=rng)
    print("\n" + tally.line())
    assert tally.reopen_failures == 0 and tally.lost == 0 and not tally.problems, \
        (f"seed {rng.seed_value}", tally.problems)
    assert tally.acked > 0, "no write was acknowledged before the kills"


def test_fills_cut_by_kill9_never_come_back_truncated(make_proxy, origin):
    d = make_proxy(origin)
    rng = seeded_rng("cache crash rounds")
    total = 0
    for round_no in range(2):
        stored, problems = crashcheck.cache_crash_round(d, origin, round_no, rng, paths_n=40)
        assert not problems, (f"seed {rng.seed_value}", problems)
        total += stored
    print(f"\nCRASH-CACHE rounds=2 stored={total} truncated=0")


def test_health_shape(daemon):
    r = daemon.get("/health")
    body = r.json()
    assert body["status"] == "ok"
    assert body["version"]
    assert body["timestamp"].endswith("Z") and "T" in body["timestamp"]
