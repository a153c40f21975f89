"""Client abuse, scaled down for every change: slowloris, idle connections at the cap, a
pipelined flood, oversized bodies, clients that never read. A well-behaved client is served
without error throughout. Full-size runs: test_slow_abuse.py."""
import abuse_scenarios as sc


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

