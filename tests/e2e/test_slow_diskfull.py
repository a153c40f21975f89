"""Disk full mid-write (suite slow): 507 while full, 200 once space is back, nothing lost.

The data dir is on a small tmpfs mounted for the test (root only), beside ballast files that
stand for the rest of the disk. Writer threads PUT new keys until the filesystem is full: every
answer after the first refusal must be 507 storage_full (never a 500, never a crash). Deleting
one ballast file must let writes succeed again without a restart. Then the disk is filled again,
the daemon is SIGKILLed while the writers are still being refused, space is freed and the daemon
restarted on the same data dir: every acknowledged key must read back with its exact value, no
key may hold anything but what was sent to it, and a new write must succeed.
"""
import hashlib
import http.client
import os
import random
import subprocess
import threading
import time

import pytest

NS = "full"
VALUE_SIZE = 32 * 1024
TMPFS_MIB = 24
BALLAST_MIB = 6


@pytest.fixture
def small_fs(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs for the data dir needs root")
    mnt = tmp_path / "fs"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_MIB}m", "tmpfs", str(mnt)],
                   check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def ballast(path, mib):
    with open(path, "wb") as f:
        f.write(os.urandom(mib << 20))


class Writers:
    """Threads PUTting fresh keys; records what was sent and what was acknowledged."""

    def __init__(self, daemon, threads=4, stop_after_refusals=10):
        self.d, self.n, self.stop_after = daemon, threads, stop_after_refusals
        self.lock = threading.Lock()
        self.sent, self.acked = {}, {}  # key -> sha256 of the value
        self.refusals = []  # (status, body) of every non-200 answer
        self.first_refusal = threading.Event()
        self.counter = 0
        self.stop = threading.Event()

    def _one(self, conn, rng):
        with self.lock:
            self.counter += 1
            key = f"k{self.counter}"
        value = rng.randbytes(VALUE_SIZE)
        digest = hashlib.sha256(value).hexdigest()
        with self.lock:
            self.sent[key] = digest
        conn.request("PUT", f"/kv/{NS}/{key}", body=value)
        r = conn.getresponse()
        body = r.read()
        with self.lock:
            if r.status == 200:
                self.acked[key] = digest
            else:
                self.refusals.append((r.status, body[:200]))
                self.first_refusal.set()
        return r.status

    def _run(self, seed):
        rng = random.Random(seed)
        host, port = self.d.tcp_address()
        conn = http.client.HTTPConnection(host, port, timeout=30)
        refused = 0
        try:
            while not self.stop.is_set() and refused < self.stop_after:
                if self._one(conn, rng) != 200:
                    refused += 1
        except (OSError, http.client.HTTPException):
            pass  # the daemon was killed under us
        finally:
            conn.close()

    def run(self, seed, kill_when_refused=None):
        threads = [threading.Thread(target=self._run, args=(seed * 100 + i,))
                   for i in range(self.n)]
        for t in threads:
            t.start()
        if kill_when_refused is not None:
            assert self.first_refusal.wait(120), "the disk never filled"
            time.sleep(kill_when_refused)
            self.d.kill9()
            self.stop.set()
        for t in threads:
            t.join(120)


def check_refusals(refusals):
    assert refusals, "no write was refused: the disk never filled"
    for status, body in refusals:
        assert status == 507 and b'"storage_full"' in body, (status, body)


def put_ok(d, key, value):
    r = d.put(f"/kv/{NS}/{key}", value)
    assert r.status == 200, r


def test_disk_full_answers_507_and_loses_no_acknowledged_write(make_daemon, small_fs):
    seed = int(os.environ.get("DISKFULL_SEED", str(int(time.time()))))
    print(f"\nDISKFULL seed {seed}")
    ballast(small_fs / "ballast1", BALLAST_MIB)
    ballast(small_fs / "ballast2", BALLAST_MIB)
    d = make_daemon(config={"durability": "sync", "map_size": "1GiB"},
                    data_dir=str(small_fs / "data"))

    # Fill the disk: refusals are 507 storage_full, and the daemon keeps serving reads.
    first = Writers(d)
    first.run(seed)
    check_refusals(first.refusals)
    assert d.proc.poll() is None, "the daemon died on a full disk:\n" + d.log_since_start()
    assert d.get("/health").status == 200
    some = next(iter(first.acked))
    assert hashlib.sha256(d.get(f"/kv/{NS}/{some}").body).hexdigest() == first.acked[some]

    # Space comes back: writes succeed again without a restart.
    os.unlink(small_fs / "ballast1")
    for i in range(5):
        put_ok(d, f"after-free-{i}", b"x" * VALUE_SIZE)

    # Fill again and cut the process while writers are being refused; then free space, restart.
    second = Writers(d)
    second.counter = first.counter + 1000
    second.run(seed + 1, kill_when_refused=random.Random(seed).uniform(0.0, 0.5))
    check_refusals(second.refusals)
    os.unlink(small_fs / "ballast2")
    d.start()
    acked = {**first.acked, **second.acked}
    sent = {**first.sent, **second.sent}
    lost, wrong = [], []
    for key, digest in sent.items():
        r = d.get(f"/kv/{NS}/{key}")
        if r.status == 200 and hashlib.sha256(r.body).hexdigest() != digest:
            wrong.append(key)
        elif r.status == 404 and key in acked:
            lost.append(key)
        else:
            assert r.status in (200, 404), (key, r)
    for i in range(5):
        put_ok(d, f"after-restart-{i}", b"y" * VALUE_SIZE)
    print(f"DISKFULL acked={len(acked)} refused={len(first.refusals) + len(second.refusals)} "
          f"lost={len(lost)} wrong={len(wrong)}")
    assert not lost and not wrong, (lost[:10], wrong[:10])
