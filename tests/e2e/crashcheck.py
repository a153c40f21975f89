"""Crash-consistency rounds: load the daemon, kill -9 it at a random moment, restart, check.

Used by test_lifecycle.py (a few rounds, default suite) and test_slow_crash.py (many rounds).

KV rounds: writer threads send PUTs, bulk PUTs, DELETEs and bulk deletes under
`durability: "sync"` and record, per key, every operation they sent and whether it was
acknowledged (status 200). Each key belongs to one writer, so its operations are issued one
after another; the daemon commits them in that order. After a kill and restart a key's value
must therefore be what its last acknowledged operation left — or what one of the operations sent
after it left, since an unacknowledged operation may or may not have landed. Anything else is a
lost write (or a resurrected delete). A key's observed value becomes the known state the next
round starts from.

Cache rounds: clients fetch large proxied responses that the origin sends slowly, so fills are in
progress when the daemon dies. After the restart the origin is gone: every path must answer
either with the whole body from the cache, or with an origin error — never with a part of it.
"""
import hashlib
import http.client
import json
import os
import random
import shutil
import subprocess
import threading
import time

from ectest import do_request
from origin import Response

NS = "crash"


class KeyLedger:
    """What each key may hold after a crash: the known state, then what was sent since."""

    def __init__(self):
        self.known = {}    # key -> value (str) or None (absent); as last verified
        self.pending = {}  # key -> [(value or None, acked)] sent since the last verification

    def sent(self, key, value, acked):
        self.pending.setdefault(key, []).append((value, acked))

    def allowed(self, key):
        """The values the key may hold: from its last acknowledged op (or the known state) on."""
        ops = self.pending.get(key, [])
        last_acked = max((i for i, (_, a) in enumerate(ops) if a), default=-1)
        if last_acked < 0:
            base = {self.known.get(key)}
        else:
            base = {ops[last_acked][0]}
        return base | {v for v, _ in ops[last_acked + 1:]}

    def keys(self):
        return set(self.known) | set(self.pending)


class KvLoad:
    """Writer threads against one daemon; each owns `keys_per_writer` keys."""

    def __init__(self, daemon, ledger, round_no, writers=4, keys_per_writer=150, rng=None):
        self.d = daemon
        self.ledger = ledger
        self.round_no = round_no
        self.writers = writers
        self.keys_per_writer = keys_per_writer
        self.rng = rng or random.Random()
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.acked = 0      # acknowledged operations (a bulk request counts its entries)
        self.requests = 0
        self.errors = []    # answers that are wrong whatever the crash (4xx)
        self.threads = []

    def start(self):
        for w in range(self.writers):
            t = threading.Thread(target=self._writer, args=(w, self.rng.randrange(1 << 30)),
                                 daemon=True)
            t.start()
            self.threads.append(t)

    def join(self):
        self.stop.set()
        for t in self.threads:
            t.join(30)

    def _value(self, rng, key, seq):
        # Mostly small values; some big enough for LMDB overflow pages, so pages churn.
        size = rng.choice([0, 8, 100, 1000, 3000, 9000, 40000])
        head = f"{key}|r{self.round_no}|s{seq}|"
        return head + "x" * size

    def _record(self, pairs, acked):
        with self.lock:
            for key, value in pairs:
                self.ledger.sent(key, value, acked)
            self.requests += 1
            if acked:
                self.acked += len(pairs)

    def _writer(self, w, seed):
        rng = random.Random(seed)
        keys = [f"w{w}k{i}" for i in range(self.keys_per_writer)]
        conn = http.client.HTTPConnection(*self.d.tcp_address(), timeout=10)
        seq = 0
        while not self.stop.is_set():
            seq += 1
            op = rng.random()
            if op < 0.55:
                key = rng.choice(keys)
                pairs = [(key, self._value(rng, key, seq))]
                method, path, body = "PUT", f"/kv/{NS}/{key}", pairs[0][1].encode()
            elif op < 0.75:
                key = rng.choice(keys)
                pairs = [(key, None)]
                method, path, body = "DELETE", f"/kv/{NS}/{key}", None
            elif op < 0.92:
                chosen = rng.sample(keys, rng.randint(2, 20))
                pairs = [(k, self._value(rng, k, seq)) for k in chosen]
                method, path = "PUT", f"/kv/{NS}"
                body = json.dumps([{"key": k, "value": v} for k, v in pairs]).encode()
            else:
                chosen = rng.sample(keys, rng.randint(2, 20))
                pairs = [(k, None) for k in chosen]
                method, path = "POST", f"/kv/{NS}/_bulk/delete"
                body = json.dumps(chosen).encode()
            try:
                r = do_request(conn, method, path, body)
            except Exception:
                # No answer: the op may or may not have landed. This writer is done (the
                # daemon is gone), so nothing follows it on these keys.
                self._record(pairs, False)
                conn.close()
                return
            self._record(pairs, r.status == 200)
            if r.status != 200 and r.status < 500:
                with self.lock:
                    self.errors.append(f"{method} {path}: {r.status} {r.body[:200]!r}")


def bulk_get(d, keys):
    """{key: value or None} for keys, 100 per request."""
    out = {}
    keys = sorted(keys)
    for i in range(0, len(keys), 100):
        chunk = keys[i:i + 100]
        r = d.post(f"/kv/{NS}/_bulk/get", json.dumps({"keys": chunk}).encode())
        assert r.status == 200, r
        out.update(r.json()["values"])
    return out


def verify_kv(d, ledger):
    """Checks every key against the ledger; returns (lost, problems). Resets pending to known."""
    observed = bulk_get(d, ledger.keys())
    problems = []
    for key, value in observed.items():
        allowed = ledger.allowed(key)
        if value not in allowed:
            problems.append((key, _short(value), sorted(_short(v) for v in allowed)))
        ledger.known[key] = value
    ledger.pending.clear()
    # The listing agrees with point reads (no dangling index entries).
    listed = set()
    cursor = ""
    while True:
        r = d.get(f"/kv/{NS}?limit=1000" + (f"&cursor={cursor}" if cursor else ""))
        assert r.status == 200, r
        page = r.json()
        listed.update(k["name"] for k in page["keys"])
        if page["list_complete"]:
            break
        cursor = page["cursor"]
    present = {k for k, v in ledger.known.items() if v is not None}
    if listed != present:
        problems.append(("listing", sorted(listed ^ present)[:10], "listing differs from reads"))
    return len(problems), problems


def _short(v):
    return None if v is None else v[:40] + (f"...({len(v)})" if len(v) > 40 else "")


def check_env_offline(data_dir):
    """With the daemon dead, walks every database with mdb_dump when lmdb-utils is installed.
    Returns an error string, or None."""
    tool = shutil.which("mdb_dump")
    if not tool:
        return None
    p = subprocess.run([tool, "-a", data_dir], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, timeout=120)
    if p.returncode != 0:
        return f"mdb_dump -a failed ({p.returncode}): {p.stderr.decode(errors='replace')[:300]}"
    return None


class CrashTally:
    def __init__(self):
        self.rounds = 0
        self.acked = 0
        self.requests = 0
        self.lost = 0
        self.reopen_failures = 0
        self.problems = []

    def line(self, kind="CRASH"):
        return (f"{kind} rounds={self.rounds} acked={self.acked} requests={self.requests} "
                f"lost={self.lost} reopen_failures={self.reopen_failures}")


def kv_crash_rounds(d, rounds, tally=None, rng=None, kill_after=(0.15, 0.9), writers=4,
                    keys_per_writer=150, log=None):
    """Runs `rounds` load/kill -9/restart/verify rounds against daemon d (started, durability
    sync). Returns the tally; the caller asserts on it."""
    rng = rng or random.Random()
    tally = tally or CrashTally()
    ledger = KeyLedger()
    for round_no in range(rounds):
        load = KvLoad(d, ledger, round_no, writers=writers, keys_per_writer=keys_per_writer,
                      rng=rng)
        load.start()
        time.sleep(rng.uniform(*kill_after))
        d.kill9()
        load.join()
        tally.rounds += 1
        tally.acked += load.acked
        tally.requests += load.requests
        tally.problems += [(round_no, "bad answer", e) for e in load.errors[:5]]
        err = check_env_offline(d.data_dir)
        try:
            if err:
                raise RuntimeError(err)
            d.start()
        except Exception as e:
            tally.reopen_failures += 1
            tally.problems.append((round_no, "reopen", str(e)[:500]))
            return tally
        lost, problems = verify_kv(d, ledger)
        tally.lost += lost
        tally.problems += [(round_no,) + p for p in problems[:20]]
        if log:
            log(f"round {round_no}: acked {load.acked} of {load.requests} requests, lost {lost}")
    return tally


# ---- cache side -----------------------------------------------------------------------------

# The cache key includes Host; the port changes across restarts, so send a fixed one.
HOST = {"Host": "crash.test"}


def cache_body(path, size):
    seed = hashlib.sha256(path.encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


def script_slow_origin(origin, paths, rng):
    """Routes each path to a large body sent in pieces, with a length, chunked or close-delimited;
    returns {path: body}."""
    bodies = {}
    for p in paths:
        size = rng.choice([20000, 150000, 600000, 1500000])
        body = cache_body(p, size)
        n = rng.randint(2, 10)
        step = -(-size // n)
        # Some finish quickly (stored before the kill), some are still arriving when it comes.
        delay = rng.choice([0, 0, 0.002, 0.01, 0.05])
        origin.route(p, body=body, mode=rng.choice(["length", "chunked", "close"]),
                     chunks=[body[i:i + step] for i in range(0, size, step)],
                     chunk_delay=delay,
                     headers={"Cache-Control": "max-age=3600"})
        bodies[p] = body
    return bodies


def cache_crash_round(d, origin, round_no, rng, clients=6, paths_n=60, kill_after=(0.2, 0.8)):
    """One cache round: fills in flight, kill -9, restart with the origin down, check.
    Returns (stored, problems): how many paths came back from the cache, and what was wrong."""
    paths = [f"/c{round_no}/p{i}" for i in range(paths_n)]
    bodies = script_slow_origin(origin, paths, rng)
    stop = threading.Event()

    def client(ps):
        conn = http.client.HTTPConnection(*d.tcp_address(), timeout=10)
        for p in ps:
            if stop.is_set():
                break
            try:
                do_request(conn, "GET", p, headers=HOST)
            except Exception:
                conn.close()
                conn = http.client.HTTPConnection(*d.tcp_address(), timeout=10)
                if stop.is_set() or d.proc.poll() is not None:
                    break
        conn.close()

    threads = [threading.Thread(target=client, args=(paths[i::clients],), daemon=True)
               for i in range(clients)]
    for t in threads:
        t.start()
    time.sleep(rng.uniform(*kill_after))
    d.kill9()
    stop.set()
    for t in threads:
        t.join(30)
    # The origin now answers 503 to everything: a 200 can only come from the cache.
    origin.clear_routes()
    saved = origin.default
    origin.default = Response(status=503, body=b"origin down")
    try:
        d.start()
        stored, problems = 0, []
        for p in paths:
            r = d.get(p, headers=HOST)
            if r.status == 200 and r.body == bodies[p]:
                stored += 1
            elif r.status not in (502, 503, 504):
                problems.append((p, r.status, len(r.body), len(bodies[p]),
                                 r.headers.get("x-cache")))
    finally:
        origin.default = saved
    return stored, problems
