"""Client abuse at full size (the `slow` suite): 1,000 slowloris connections, 10,000 idle
connections at the cap, long pipelined floods, oversized bodies, 200 clients that never read.
A well-behaved client is served without error throughout; each test prints an ABUSE line with
its p50/p99 unloaded and during the attack, RssAnon and fds, for RELIABILITY.md."""
import abuse_scenarios as sc


def test_slowloris_1000(make_daemon, origin):
    # The default header timeout (10 s): every one of them answered 408 and closed by it.
    sc.slowloris(make_daemon, origin, n=1000, header_timeout_ms=10000, unloaded_s=5,
                 during_s=6, interval=1.0)


def test_idle_10000_at_the_connection_cap(make_daemon, origin):
    sc.idle(make_daemon, origin, n=10000, idle_timeout_ms=30000, unloaded_s=5, during_s=10,
            probes=100)


def test_pipelined_flood(make_daemon, origin):
    sc.pipeline_flood(make_daemon, origin, conns=8, depth=200, unloaded_s=5, during_s=30)


def test_oversized_bodies(make_daemon, origin):
    sc.oversized_bodies(make_daemon, origin, conns=8, limit=1 << 20, unloaded_s=5,
                        during_s=20)


def test_non_reading_clients(make_daemon, origin):
    sc.non_reading(make_daemon, origin, n=200, value_size=512 * 1024, idle_timeout_ms=10000,
                   unloaded_s=5, during_s=8)
