"""Client abuse, scaled down for every change: slowloris, idle connections at the cap, a
pipelined flood, oversized bodies, clients that never read. A well-behaved client is served
without error throughout. Full-size runs: test_slow_abuse.py."""
import json
import signal
import time

import abuse_scenarios as sc
from abuse import close_all, open_many, send_unread, wait_until
from ectest import UnixHTTPConnection


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
        served = json.loads(admin.getresponse().read())["requests"] - before - 1
    finally:
        d.send_signal(signal.SIGCONT)
        admin.close()
        close_all(socks)
    print(f"\nserved {served} requests of {n} non-readers before the admin request")
    assert served < 6 * n, served
