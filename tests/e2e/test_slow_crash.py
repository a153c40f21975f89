"""Crash consistency, many rounds (suite slow): kill -9 under write load, restart, check.

Each round: writer threads PUT, bulk-PUT, DELETE and bulk-delete keys they own; the daemon is
killed with SIGKILL at a random moment; the data dir is walked with mdb_dump (when lmdb-utils is
installed) and the daemon restarted on it. Every acknowledged write must be readable with its
value, every acknowledged delete must stay deleted, unless an operation sent later (acknowledged
or not) explains the difference (crashcheck.py). Rounds accumulate on one data dir, so later
rounds run on a file with freed pages being reused.

CRASH_ROUNDS (default 60) and CRASH_CACHE_ROUNDS (default 20) set the counts; each test prints a
summary line (CRASH rounds=... acked=... lost=0 reopen_failures=0) for RELIABILITY.md.
tests/e2e/test_lifecycle.py runs a few of the same rounds in the default suite.
"""
import os
import random
import time

import crashcheck

ROUNDS = int(os.environ.get("CRASH_ROUNDS", "60"))
CACHE_ROUNDS = int(os.environ.get("CRASH_CACHE_ROUNDS", "20"))


def _run(d, rounds, label):
    seed = int(os.environ.get("CRASH_SEED", str(int(time.time()))))
    print(f"\n{label}: seed {seed}")
    started = time.time()
    tally = crashcheck.kv_crash_rounds(d, rounds=rounds, rng=random.Random(seed), writers=4,
                                       keys_per_writer=200, kill_after=(0.1, 1.5))
    print(tally.line(label) + f" seconds={time.time() - started:.0f}")
    assert tally.reopen_failures == 0 and tally.lost == 0 and not tally.problems, \
        tally.problems[:20]
    assert tally.acked > rounds, "too few writes were acknowledged to mean anything"


def test_sync_acknowledged_writes_survive_kill9(make_daemon):
    _run(make_daemon(config={"durability": "sync"}), ROUNDS, "CRASH")


def test_batch_acknowledged_writes_survive_kill9(make_daemon):
    # batch acknowledges at commit, before any fsync; a process kill leaves the page cache, so
    # nothing is lost either (a power loss could lose the last sync_interval_ms: RELIABILITY.md).
    _run(make_daemon(config={"durability": "batch", "sync_interval_ms": 1000}), ROUNDS // 3,
         "CRASH-BATCH")


def test_fills_cut_by_kill9_never_come_back_truncated(make_proxy, origin):
    d = make_proxy(origin)
    rng = random.Random(int(os.environ.get("CRASH_SEED", str(int(time.time())))))
    stored = 0
    for round_no in range(CACHE_ROUNDS):
        n, problems = crashcheck.cache_crash_round(d, origin, round_no, rng, paths_n=60)
        assert not problems, (round_no, problems)
        stored += n
    print(f"\nCRASH-CACHE rounds={CACHE_ROUNDS} stored={stored} truncated=0")
    assert stored > 0
