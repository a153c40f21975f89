"""The store under a damaged data.mdb and a full disk: refusals with a way out, 507 while full."""
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile

import pytest

from ectest import EDGECACHED, Daemon

PAGE = 4096
META_OFF = 16  # LMDB page header
MAIN_DB = META_OFF + 72  # mm_dbs[MAIN_DBI] in the meta page


def run_daemon_once(data_dir, timeout=20):
    """Starts edgecached on data_dir expecting it to refuse; returns (exit code, output)."""
    p = subprocess.run([EDGECACHED, "--data-dir", data_dir, "--listen", "127.0.0.1:0"],
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


@pytest.fixture
def written_dir(make_daemon):
    """A data dir the daemon wrote 300 keys into and shut down cleanly."""
    d = make_daemon()
    for i in range(300):
        assert d.put(f"/kv/ns/k{i}", b"v" * 1000).status == 200
    d.stop()
    return d.data_dir


def assert_refused(data_dir, what):
    rc, out = run_daemon_once(data_dir)
    assert rc != 0, out
    path = os.path.join(data_dir, "data.mdb")
    assert f"{path} is damaged" in out, out
    assert what in out, out
    assert "backup" in out and "mdb_dump" in out, out  # how to recover


def test_truncated_data_file_is_refused(written_dir):
    path = os.path.join(written_dir, "data.mdb")
    size = os.path.getsize(path)
    assert size > 8 * PAGE
    os.truncate(path, 2 * PAGE)  # the meta pages survive, the trees they point at do not
    assert_refused(written_dir, "past the end of the file")
    os.truncate(path, PAGE + 100)
    assert_refused(written_dir, "second meta page is missing")


def test_emptied_main_database_is_refused_not_reinitialised(written_dir):
    # What a meta page ahead of its data looked like after a power cut: the main database's
    # root on a page without our databases. The old code took it for a new store.
    path = os.path.join(written_dir, "data.mdb")
    with open(path, "r+b") as f:
        for meta in (0, PAGE):
            f.seek(meta + MAIN_DB + 6)
            f.write(struct.pack("<H", 0))  # md_depth
            f.write(struct.pack("<QQQQQ", 0, 0, 0, 0, 0xFFFFFFFFFFFFFFFF))  # pages, entries, root
    assert_refused(written_dir, "cannot be opened")
    # Refused without writing: the damaged file is left for recovery as it was.
    with open(path, "rb") as f:
        f.seek(MAIN_DB + 40)
        assert struct.unpack("<Q", f.read(8))[0] == 0xFFFFFFFFFFFFFFFF


def test_garbage_file_is_refused(tmp_path):
    data_dir = str(tmp_path / "d")
    os.mkdir(data_dir)
    with open(os.path.join(data_dir, "data.mdb"), "wb") as f:
        f.write(os.urandom(64 * 1024))
    assert_refused(data_dir, "not an LMDB meta page")


def test_empty_or_absent_data_dir_is_initialised(make_daemon, tmp_path):
    for data_dir in (str(tmp_path / "absent"), str(tmp_path / "empty")):
        if data_dir.endswith("empty"):
            os.mkdir(data_dir)
            open(os.path.join(data_dir, "data.mdb"), "wb").close()  # zero bytes: never written
        d = make_daemon(data_dir=data_dir)
        assert "initialised a new data dir" in d.log_since_start()
        assert d.put("/kv/ns/a", b"1").status == 200
        d.restart()
        assert d.get("/kv/ns/a").body == b"1"
        assert "initialised a new data dir" not in d.log_since_start()
        d.stop()


def metric(d, name, labels):
    text = d.admin("GET", "/metrics").text
    m = re.search(re.escape(name + "{" + labels + "}") + r" (\d+)", text)
    return int(m.group(1)) if m else None


@pytest.fixture
def small_fs():
    """A 24 MiB tmpfs (we run as root), unmounted at the end."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mnt = tempfile.mkdtemp(prefix="ec-full-")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", mnt],
                       capture_output=True, text=True)
    if r.returncode != 0:
        os.rmdir(mnt)
        pytest.skip("cannot mount a tmpfs: " + r.stderr)
    yield mnt
    subprocess.run(["umount", "-l", mnt])
    shutil.rmtree(mnt, ignore_errors=True)


def test_full_disk_answers_507_then_recovers_without_restart(make_daemon, small_fs):
    data_dir = os.path.join(small_fs, "d")
    d = make_daemon(data_dir=data_dir, config={"map_size": "1GiB"})
    assert re.search(r"map_size 1073741824 bytes exceeds the \d+ bytes free", d.log_since_start())

    acked = {}
    for i in range(20):
        body = os.urandom(200) + b"%d" % i
        assert d.put(f"/kv/ns/before{i}", body).status == 200
        acked[f"before{i}"] = body
    # Fill the filesystem, leaving less than one value.
    filler = os.path.join(small_fs, "filler")
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass
    big = b"x" * (2 << 20)
    r = d.put("/kv/ns/toobig", big)
    assert r.status == 507, r
    err = r.json()["error"]
    assert err["code"] == "storage_full"
    d.wait_log(r"store: writes to " + re.escape(data_dir) + r" fail \(disk_full, \d+ bytes free")
    assert metric(d, "edgecached_store_commit_failures_total", 'reason="disk_full"') >= 1
    h = d.get("/health")
    assert h.status == 200
    assert h.json()["status"] == "degraded" and h.json()["reason"] == "disk_full"
    # Reads go on.
    assert d.get("/kv/ns/before3").body == acked["before3"]
    # The failed write did not count as one.
    stats = d.admin("GET", "/admin/stats").json()
    assert stats["namespaces"]["ns"]["writes"] == 20, stats["namespaces"]["ns"]

    os.unlink(filler)
    r = d.put("/kv/ns/after", big)
    assert r.status == 200, r
    acked["after"] = big
    assert d.get("/health").json()["status"] == "ok"
    d.wait_log("writes to .* succeed again")
    for k, v in acked.items():
        assert d.get(f"/kv/ns/{k}").body == v, k
    assert d.get("/kv/ns/toobig").status == 404
    d.restart()
    for k, v in acked.items():
        assert d.get(f"/kv/ns/{k}").body == v, k
