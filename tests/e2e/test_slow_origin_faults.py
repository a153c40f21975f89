"""Origin faults, many rounds (suite slow): every fault of test_robust_origin_faults.py's FAULTS
table again and again, on a miss and inside stale-if-error; open fds and RssAnon stay flat.

FAULT_ROUNDS (default 200) rounds; round i meets FAULTS' fault i % len(FAULTS) twice (on a
miss, then with a stale copy) and a refused connection once. The first pass over the table is
the warm-up; RssAnon and the daemon's open fds (less pooled origin connections) are taken after
it and at the end. Prints
FAULT-LOOP rounds=... fds before=... after=... rss_anon_kb before=... after=... peak=...
"""
import json
import os
import time

import pytest

import procstat
from ectest import EDGECACHED
from test_robust_origin_faults import (FAULTS, GOOD, check_miss_result, fetch, net_fds,
                                       start_fault_env)

ROUNDS = int(os.environ.get("FAULT_ROUNDS", "200"))
RSS_TOLERANCE_KB = 4096


@pytest.fixture
def env():
    d, o = start_fault_env()
    yield d, o
    d.stop()
    d.cleanup()
    o.stop()


def settled_fds(d, target, timeout):
    """Polls net fds (each poll's own admin connection may still be closing when the next one
    counts) until at most `target`, or the timeout; returns the lowest seen."""
    d.close_conns()
    deadline = time.time() + timeout
    low = net_fds(d)
    while low > target and time.time() < deadline:
        time.sleep(0.1)
        low = min(low, net_fds(d))
    return low


def purge(d, path):
    r = d.admin("POST", "/admin/purge", json.dumps({"paths": [path]}).encode())
    assert r.status == 200, r


def one_round(d, o, name):
    slug = name.replace(" ", "-")
    fault, expect = FAULTS[name]
    # On a miss: the stated result, then nothing stored.
    path = "/miss/" + slug
    purge(d, path)
    o.route(path, date=False, headers=GOOD, **fault)
    check_miss_result(d, path, expect)
    o.route(path, date=False, body=b"whole", headers=GOOD)
    status, headers, body, complete = fetch(d, path)
    assert (status, headers.get("x-cache"), body, complete) == (200, "MISS", b"whole", True), name
    # With a stale copy inside stale-if-error: the whole copy, which survives.
    path = "/stale/" + slug
    purge(d, path)
    o.route(path, date=False, body=b"the-good-copy", headers=GOOD)
    assert fetch(d, path)[2] == b"the-good-copy"
    d.advance_clock(11)
    o.route(path, date=False, headers=GOOD, **fault)
    status, headers, body, complete = fetch(d, path)
    assert (status, headers.get("x-cache"), body, complete) == \
        (200, "STALE", b"the-good-copy", True), name
    # And a refused connection.
    status, headers, body, complete = fetch(d, "/refused/x")
    assert status == 502 and complete


def test_faults_repeated_leave_fds_and_rss_flat(env):
    d, o = env
    names = list(FAULTS)
    pid = d.proc.pid
    for name in names:  # warm-up: one pass over the table
        one_round(d, o, name)
    fds0 = settled_fds(d, 0, 2)  # the lowest count within 2 s
    rss0 = procstat.rss_anon_kb(pid)
    trace = [rss0]  # RssAnon after each pass over the table: a leak shows as a steady climb
    for i in range(ROUNDS):
        one_round(d, o, names[i % len(names)])
        if i % len(names) == len(names) - 1:
            o.reset()  # the origin's own request log
            trace.append(procstat.rss_anon_kb(pid))
    fds1 = settled_fds(d, fds0, 10)
    rss1 = procstat.rss_anon_kb(pid)
    peak = max(trace + [rss1])
    print(f"\nRssAnon KiB after each pass: {trace}")
    print(f"FAULT-LOOP rounds={ROUNDS} faults={len(names)} fds before={fds0} after={fds1} "
          f"rss_anon_kb before={rss0} after={rss1} peak={peak}")
    assert fds1 <= fds0
    if not procstat.is_asan(EDGECACHED):
        assert rss1 - rss0 <= RSS_TOLERANCE_KB, f"RssAnon grew from {rss0} to {rss1} KiB"
