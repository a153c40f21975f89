"""edgecachectl against a running daemon: every subcommand, exit codes, output modes."""
import http.server
import json
import os
import pty
import re
import select
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

from ectest import EDGECACHECTL, run_cli, short_tmpdir


# -- helpers -----------------------------------------------------------------------------------
def ctl(d, *args, socket_path=None, input=None, cwd=None, env=None, timeout=60):
    """Runs edgecachectl --socket <admin socket> ARGS; returns the CompletedProcess (bytes)."""
    sock = socket_path if socket_path is not None else d.admin_sock
    cmd = [EDGECACHECTL] + (["--socket", sock] if sock else []) + [str(a) for a in args]
    e = dict(os.environ)
    e.pop("EDGECACHE_SOCKET", None)
    e.update(env or {})
    return run_cli(cmd, input=input, capture_output=True, cwd=cwd, env=e, timeout=timeout)


def out(p):
    return p.stdout.decode()


def err(p):
    return p.stderr.decode()


class Origin:
    """A tiny HTTP origin: /page/* cacheable (max-age=300, Cache-Tag), /fail/* 500."""

    def __init__(self):
        hits = self.hits = {}

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                hits[self.path] = hits.get(self.path, 0) + 1
                if self.path.startswith("/fail"):
                    body, status, cc = b"boom", 500, "no-store"
                else:
                    body, status, cc = f"body of {self.path}".encode(), 200, "max-age=300"
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", cc)
                tag = "even" if self.path[-1:] in "02468" else "odd"
                self.send_header("Cache-Tag", f"all,{tag}")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        class Server(http.server.ThreadingHTTPServer):
            request_queue_size = 128  # the default 5 drops SYNs when warm connects 8 at once

        self.server = Server(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def origin():
    o = Origin()
    yield o
    o.close()


@pytest.fixture
def proxy(make_daemon, origin):
    d = make_daemon(args=["--origin", f"http://127.0.0.1:{origin.port}"])
    d.origin = origin
    d.hostport = f"127.0.0.1:{d.port}"
    return d


# -- usage, help, exit codes -------------------------------------------------------------------
def test_version_and_help():
    p = run_cli([EDGECACHECTL, "--version"], capture_output=True)
    assert p.returncode == 0 and out(p).startswith("edgecachectl ")
    p = run_cli([EDGECACHECTL, "--help"], capture_output=True)
    assert p.returncode == 0
    for cmd in ("health", "stats", "purge", "warm", "inspect", "kv", "reload", "backup", "config"):
        assert cmd in out(p)
        h = run_cli([EDGECACHECTL, cmd, "--help"], capture_output=True)
        assert h.returncode == 0, (cmd, h)
        assert out(h).startswith("Usage: edgecachectl " + cmd), (cmd, out(h))
    assert "--watch" in out(run_cli([EDGECACHECTL, "stats", "--help"],
                                           capture_output=True))
    p = run_cli([EDGECACHECTL, "help", "kv"], capture_output=True)
    assert p.returncode == 0 and "kv import NS FILE" in out(p)


@pytest.mark.parametrize("args", [
    [],
    ["frobnicate"],
    ["stats", "--bogus"],
    ["health", "--prefix", "x"],
    ["purge"],
    ["purge", "--prefix", "/a", "--all"],
    ["warm"],
    ["inspect"],
    ["kv"],
    ["kv", "frob", "ns"],
    ["kv", "get", "ns"],
    ["kv", "put", "ns", "k"],
    ["kv", "put", "ns", "k", "v", "--ttl", "soon"],
    ["kv", "put", "ns", "k", "v", "--metadata", "{not json"],
    ["kv", "list", "ns", "--limit", "0"],
    ["stats", "--watch", "0"],
    ["backup"],
    ["stats", "--socket"],
])
def test_usage_errors_exit_2(args):
    p = run_cli([EDGECACHECTL, "--socket", "/nonexistent/admin.sock"] + args,
                       capture_output=True)
    assert p.returncode == 2, (args, p)
    assert err(p).startswith("edgecachectl: ") or err(p).startswith("Usage:"), err(p)
    assert "cannot connect" not in err(p)


def test_not_running_message():
    tmp = short_tmpdir()
    try:
        check_not_running(os.path.join(tmp, "admin.sock"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def check_not_running(sock):
    for args in (["health"], ["stats"], ["kv", "get", "ns", "k"], ["purge", "--all"]):
        p = ctl(None, *args, socket_path=sock)
        assert p.returncode == 1, p
        assert err(p) == f"cannot connect to {sock}: is edgecached running?\n"
        assert p.stdout == b""
    # A socket file left behind by a crashed daemon: connect is refused, same message.
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(sock)
    s.close()
    p = ctl(None, "health", socket_path=sock)
    assert p.returncode == 1
    assert err(p) == f"cannot connect to {sock}: is edgecached running?\n"


def test_socket_resolution(daemon, tmp_path):
    # $EDGECACHE_SOCKET when there is no --socket.
    p = ctl(daemon, "health", socket_path="", env={"EDGECACHE_SOCKET": daemon.admin_sock})
    assert p.returncode == 0, p
    # --socket wins over the environment.
    p = ctl(daemon, "health", env={"EDGECACHE_SOCKET": "/nonexistent/x.sock"})
    assert p.returncode == 0, p
    if os.path.exists("/run/edgecached/admin.sock"):
        pytest.skip("/run/edgecached/admin.sock exists here and would take precedence")
    # Neither: ./edgecache-data/admin.sock from the working directory, when it is ours.
    os.symlink(os.path.dirname(daemon.admin_sock), tmp_path / "edgecache-data")
    p = ctl(daemon, "health", socket_path="", cwd=tmp_path)
    assert p.returncode == 0, p
    p = ctl(daemon, "health", socket_path="", cwd="/")
    assert p.returncode == 1
    assert err(p) == "cannot connect to /run/edgecached/admin.sock: is edgecached running?\n"


# -- health ------------------------------------------------------------------------------------
def test_health(daemon):
    p = ctl(daemon, "health")
    assert p.returncode == 0, p
    assert out(p).startswith("ok (edgecached ")
    p = ctl(daemon, "--json", "health")
    assert p.returncode == 0
    assert json.loads(p.stdout)["status"] == "ok"


# -- kv ----------------------------------------------------------------------------------------
def test_kv_put_get_del(daemon, tmp_path):
    assert ctl(daemon, "kv", "put", "demo", "greeting", "Hello, edge").returncode == 0
    p = ctl(daemon, "kv", "get", "demo", "greeting")
    assert p.returncode == 0 and p.stdout == b"Hello, edge"
    # The daemon's view agrees.
    assert daemon.get("/kv/demo/greeting").body == b"Hello, edge"

    # --file, --metadata, --ttl; binary bytes survive.
    blob = bytes(range(256)) * 4
    (tmp_path / "blob").write_bytes(blob)
    p = ctl(daemon, "kv", "put", "demo", "bin", "--file", tmp_path / "blob",
            "--metadata", '{"kind": "binary", "n": 1}', "--ttl", "3600")
    assert p.returncode == 0, p
    assert ctl(daemon, "kv", "get", "demo", "bin").stdout == blob
    r = daemon.get("/kv/demo/bin")
    assert json.loads(r.headers["x-kv-metadata"]) == {"kind": "binary", "n": 1}
    exp = int(r.headers["x-kv-expiration"])
    assert abs(exp - (daemon.now() + 3600)) <= 2
    j = json.loads(ctl(daemon, "--json", "kv", "get", "demo", "bin").stdout)
    assert j["key"] == "bin" and j["base64"] is True and j["expiration"] == exp
    assert j["metadata"] == {"kind": "binary", "n": 1}

    # stdin, --expiration
    p = ctl(daemon, "kv", "put", "demo", "from-stdin", "--file", "-",
            "--expiration", daemon.now() + 7200, input=b"piped")
    assert p.returncode == 0, p
    assert ctl(daemon, "kv", "get", "demo", "from-stdin").stdout == b"piped"

    # The daemon's validation errors come back as its message, exit 1.
    p = ctl(daemon, "kv", "put", "demo", "k", "v", "--ttl", "5")
    assert p.returncode == 1
    assert err(p).startswith("edgecachectl: expiration_ttl of 5 is below the minimum")

    assert ctl(daemon, "kv", "del", "demo", "greeting").returncode == 0
    p = ctl(daemon, "kv", "get", "demo", "greeting")
    assert p.returncode == 3 and err(p) == "edgecachectl: key not found\n"
    # Deleting a missing key is not an error, as the API says.
    assert ctl(daemon, "kv", "del", "demo", "greeting").returncode == 0


def test_kv_keys_are_percent_encoded(daemon):
    keys = ["a/b", "sp ace", "q?x=1&y", "pct%2F", "plus+sign", "ünï", "#frag"]
    for k in keys:
        assert ctl(daemon, "kv", "put", "enc", k, "v:" + k).returncode == 0, k
    for k in keys:
        assert ctl(daemon, "kv", "get", "enc", k).stdout == ("v:" + k).encode(), k
    assert ctl(daemon, "kv", "get", "enc", "a/b").returncode == 0
    listed = out(ctl(daemon, "kv", "list", "enc")).splitlines()
    assert sorted(listed, key=lambda s: s.encode()) == listed
    assert set(listed) == set(keys)
    assert out(ctl(daemon, "kv", "list", "enc", "--prefix", "plus+")).splitlines() == ["plus+sign"]


def test_kv_list_follows_cursors(daemon, tmp_path):
    entries = [{"key": f"k{i:05d}", "value": str(i)} for i in range(2500)]
    (tmp_path / "bulk.json").write_text(json.dumps(entries))
    assert ctl(daemon, "kv", "import", "many", tmp_path / "bulk.json").returncode == 0
    names = out(ctl(daemon, "kv", "list", "many")).splitlines()
    assert names == [e["key"] for e in entries]
    names = out(ctl(daemon, "kv", "list", "many", "--limit", "1200")).splitlines()
    assert names == [e["key"] for e in entries[:1200]]
    j = json.loads(ctl(daemon, "--json", "kv", "list", "many", "--limit", "3").stdout)
    assert [k["name"] for k in j["keys"]] == ["k00000", "k00001", "k00002"]
    assert j["list_complete"] is False and j["cursor"]
    j = json.loads(ctl(daemon, "kv", "list", "many", "--prefix", "k0249", "--json").stdout)
    assert len(j["keys"]) == 10 and j["list_complete"] is True and "cursor" not in j


def test_kv_import_export_round_trip(daemon, tmp_path):
    now = daemon.now()
    entries = [
        {"key": "text", "value": "hello"},
        {"key": "meta", "value": "x", "metadata": {"a": [1, 2], "b": "c"}},
        {"key": "bin", "value": "AAEC/w==", "base64": True},
        {"key": "ttl", "value": "t", "expiration_ttl": 3600},
        {"key": "abs", "value": "e", "expiration": now + 7200},
        {"key": "dir/file name", "value": "unicode ✓"},
    ]
    src = tmp_path / "in.json"
    src.write_text(json.dumps(entries))
    p = ctl(daemon, "kv", "import", "rt", src)
    assert p.returncode == 0, p
    assert out(p) == "imported 6 keys into rt\n"
    assert ctl(daemon, "kv", "get", "rt", "bin").stdout == b"\x00\x01\x02\xff"

    dst = tmp_path / "out.json"
    p = ctl(daemon, "kv", "export", "rt", dst)
    assert p.returncode == 0, p
    assert out(p) == f"exported 6 keys from rt to {dst}\n"
    exported = {e["key"]: e for e in json.loads(dst.read_text())}
    assert set(exported) == {e["key"] for e in entries}
    assert exported["text"] == {"key": "text", "value": "hello"}
    assert exported["meta"]["metadata"] == {"a": [1, 2], "b": "c"}
    assert exported["bin"] == {"key": "bin", "value": "AAEC/w==", "base64": True}
    assert abs(exported["ttl"]["expiration"] - (now + 3600)) <= 2
    assert exported["abs"]["expiration"] == now + 7200
    assert exported["dir/file name"]["value"] == "unicode ✓"

    # Export to stdout, import into another namespace, export again: the same document.
    p = ctl(daemon, "kv", "export", "rt")
    assert p.returncode == 0
    assert json.loads(p.stdout) == json.loads(dst.read_text())
    p = ctl(daemon, "kv", "import", "rt2", "-", input=p.stdout)
    assert p.returncode == 0, p
    again = json.loads(ctl(daemon, "kv", "export", "rt2").stdout)
    assert again == json.loads(dst.read_text())

    # An empty namespace exports as an empty array.
    assert json.loads(ctl(daemon, "kv", "export", "nothing-here").stdout) == []


def test_kv_import_batches_and_errors(daemon, tmp_path):
    # More than one bulk request (10,000 entries each).
    entries = [{"key": f"b{i:06d}", "value": "v"} for i in range(12001)]
    (tmp_path / "big.json").write_text(json.dumps(entries))
    p = ctl(daemon, "kv", "import", "big", tmp_path / "big.json")
    assert p.returncode == 0, p
    assert out(p) == "imported 12,001 keys into big\n"
    assert len(out(ctl(daemon, "kv", "list", "big")).splitlines()) == 12001

    # A bad entry: the daemon refuses the batch and names the entry.
    bad = [{"key": "ok", "value": "1"}, {"key": "", "value": "2"}]
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    p = ctl(daemon, "kv", "import", "bad", tmp_path / "bad.json")
    assert p.returncode == 1
    assert "entry 1" in err(p), err(p)
    assert ctl(daemon, "kv", "get", "bad", "ok").returncode == 3

    (tmp_path / "notarray.json").write_text('{"key": "a"}')
    p = ctl(daemon, "kv", "import", "bad", tmp_path / "notarray.json")
    assert p.returncode == 1 and "expected a JSON array" in err(p)
    p = ctl(daemon, "kv", "import", "bad", tmp_path / "missing.json")
    assert p.returncode == 1 and "cannot read" in err(p)


# -- stats -------------------------------------------------------------------------------------
def test_stats(proxy):
    for _ in range(3):
        assert proxy.get("/page/1").status == 200
    p = ctl(proxy, "stats")
    assert p.returncode == 0, p
    assert "hit rate" in out(p) and "connections" in out(p)
    # Connection counters come from the daemon's table, the bytes moved among them.
    assert re.search(r"\nconnections +\d+ open, \d+ accepted, \d+ rejected\n +[^\n]*"
                     r"\d+(\.\d+)? ?\w*B received, \d+(\.\d+)? ?\w*B sent\n", out(p)), out(p)
    # So do the deferred queue's (background revalidations): running and queued always.
    assert re.search(r"\nrevalidations +0 running, 0 queued\n", out(p)), out(p)
    j = json.loads(ctl(proxy, "stats", "--json").stdout)
    for k in ("uptime_s", "hit_rate", "requests", "connections", "cache", "routes",
              "namespaces", "store", "hot_tier", "origins"):
        assert k in j, k
    assert 0 <= j["hit_rate"] <= 1
    assert j["cache"]["misses"] >= 1
    assert j["cache"]["hits_memory"] + j["cache"]["hits_disk"] >= 2


def test_stats_reset(proxy):
    proxy.get("/page/1")
    p = ctl(proxy, "stats", "reset")
    assert p.returncode == 0 and out(p) == "stats reset\n", p
    j = json.loads(ctl(proxy, "stats", "--json").stdout)
    assert j["cache"]["misses"] == 0


def test_stats_watch_lines_on_a_pipe(proxy):
    cmd = [EDGECACHECTL, "--socket", proxy.admin_sock, "stats", "--watch", "0.2"]
    w = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        lines = [w.stdout.readline().decode() for _ in range(2)]
    finally:
        w.send_signal(signal.SIGINT)
        rc = w.wait(10)
    assert rc == 0, w.stderr.read()
    for l in lines:
        assert "req/s=" in l and "hit_rate=" in l, lines


def test_stats_watch_redraws_on_a_terminal(proxy):
    data = run_on_pty([EDGECACHECTL, "--socket", proxy.admin_sock, "stats", "--watch", "0.2"],
                      until=lambda b: b.count(b"\x1b[2J") >= 3, interrupt=True)
    assert b"req/s" in data and b"hit rate" in data


# -- purge -------------------------------------------------------------------------------------
def miss_then_hit(d, path):
    assert d.get(path).status == 200
    r = d.get(path)
    assert r.headers.get("x-cache") == "HIT", (path, r.headers)


def test_purge(proxy):
    for i in range(6):
        miss_then_hit(proxy, f"/page/{i}")

    p = ctl(proxy, "purge", "--path", "/page/0")
    assert p.returncode == 0, p
    assert out(p) == "purged 1 entry\n"
    assert proxy.get("/page/0").headers.get("x-cache") == "MISS"

    p = ctl(proxy, "purge", "--tag", "odd")  # /page/1, 3, 5
    assert p.returncode == 0 and out(p) == "purged 3 entries\n", p
    assert proxy.get("/page/1").headers.get("x-cache") == "MISS"
    assert proxy.get("/page/2").headers.get("x-cache") == "HIT"

    j = json.loads(ctl(proxy, "--json", "purge", "--prefix", "/page/").stdout)
    assert j["purged"] >= 3
    assert proxy.get("/page/2").headers.get("x-cache") == "MISS"

    miss_then_hit(proxy, "/page/7")
    p = ctl(proxy, "purge", "--all", "--soft")
    assert p.returncode == 0 and out(p).startswith("marked ") and "stale" in out(p), p
    p = ctl(proxy, "purge", "--all")
    assert p.returncode == 0 and out(p).startswith("purged "), p


# -- warm --------------------------------------------------------------------------------------
def test_warm_plain_lines(proxy, tmp_path):
    p = ctl(proxy, "warm", "/page/w1", "/page/w2", "--host", proxy.hostport)
    assert p.returncode == 0, p
    lines = out(p).splitlines()
    assert lines[0].startswith("ok /page/w1 status=200") or lines[1].startswith("ok /page/w1")
    assert lines[-1].startswith("warmed 2 of 2 paths, 0 failed")
    r = proxy.get("/page/w1")
    assert r.headers.get("x-cache") == "HIT"
    assert proxy.origin.hits["/page/w1"] == 1

    f = tmp_path / "paths.txt"
    f.write_text("# a comment\n/page/w3\n\n  /page/w4  \n/fail/1\n")
    p = ctl(proxy, "warm", "--file", f, "--concurrency", "2", "--host", proxy.hostport)
    assert p.returncode == 1, p
    assert "failed /fail/1" in out(p)
    assert out(p).splitlines()[-1].startswith("warmed 2 of 3 paths, 1 failed")

    p = ctl(proxy, "--json", "warm", "/page/w5", "--host", proxy.hostport)
    assert p.returncode == 0
    docs = [json.loads(l) for l in out(p).splitlines()]
    assert docs[0]["path"] == "/page/w5" and docs[-1] == {"done": 1, "failed": 0}


def test_warm_progress_bar_on_a_terminal(proxy):
    paths = [f"/page/t{i}" for i in range(20)]
    data = run_on_pty([EDGECACHECTL, "--socket", proxy.admin_sock, "warm", "--host",
                       proxy.hostport] + paths)
    assert b"20/20" in data and b"[###" in data, data
    assert b"warmed 20 of 20 paths" in data


# -- inspect -----------------------------------------------------------------------------------
def test_inspect(proxy):
    miss_then_hit(proxy, "/page/i")
    p = ctl(proxy, "inspect", "/page/i", "--host", proxy.hostport)
    assert p.returncode == 0, p
    for word in ("key", "tier", "status", "age", "ttl", "headers"):
        assert word in out(p), word
    j = json.loads(ctl(proxy, "--json", "inspect", "/page/i", "--host", proxy.hostport).stdout)
    for k in ("key", "url", "host", "tier", "status", "headers", "age", "ttl", "tags"):
        assert k in j, k
    assert j["status"] == 200 and "all" in j["tags"]
    p = ctl(proxy, "inspect", "/page/never", "--host", proxy.hostport)
    assert p.returncode == 3
    assert err(p) == "not cached: /page/never\n"


# -- reload, backup, config --------------------------------------------------------------------
def test_reload(make_daemon):
    d = make_daemon(config={"min_ttl": 60})
    cfg_path = os.path.join(d.tmp, "config.json")
    with open(cfg_path, "w") as f:
        json.dump({"min_ttl": 30}, f)
    p = ctl(d, "reload")
    assert p.returncode == 0, p
    assert out(p).startswith("reloaded")
    assert json.loads(ctl(d, "config", "--json").stdout)["min_ttl"] == 30
    # An invalid file is refused with the reason; the running config stays.
    with open(cfg_path, "w") as f:
        json.dump({"min_ttl": "soon"}, f)
    p = ctl(d, "reload")
    assert p.returncode == 1
    assert err(p).startswith("edgecachectl: reload failed: ") and "min_ttl" in err(p), err(p)
    assert json.loads(ctl(d, "config", "--json").stdout)["min_ttl"] == 30
    with open(cfg_path, "w") as f:
        json.dump({"min_ttl": 45}, f)
    p = ctl(d, "--json", "reload")
    assert p.returncode == 0, p
    assert json.loads(p.stdout)["reloaded"] is True


def test_backup_relative_dir(daemon, tmp_path):
    assert ctl(daemon, "kv", "put", "b", "k", "v").returncode == 0
    p = ctl(daemon, "backup", "snap", cwd=tmp_path)
    assert p.returncode == 0, p
    assert out(p).startswith(f"backup written to {tmp_path}/snap")
    assert os.path.exists(tmp_path / "snap" / "data.mdb")
    # The target must not exist.
    p = ctl(daemon, "backup", tmp_path / "snap")
    assert p.returncode == 1 and "exists" in err(p)


def test_config(daemon):
    p = ctl(daemon, "config")
    assert p.returncode == 0, p
    human = json.loads(p.stdout)  # pretty-printed, still JSON
    raw = json.loads(ctl(daemon, "config", "--json").stdout)
    assert human == raw
    assert "listen" in raw and "map_size" in raw


# -- daemon errors -----------------------------------------------------------------------------
def test_daemon_errors_are_printed_with_exit_codes(daemon):
    # Whatever the admin plane serves, an unknown route is a 404 with a JSON message: exit 3.
    p = ctl(daemon, "kv", "get", "ns", "missing")
    assert p.returncode == 3
    assert err(p) == "edgecachectl: key not found\n"
    assert p.stdout == b""


# -- terminal helper ---------------------------------------------------------------------------
def run_on_pty(cmd, until=None, interrupt=False, timeout=20):
    """Runs cmd with stdout on a pseudo-terminal; returns what it wrote."""
    master, slave = pty.openpty()
    p = subprocess.Popen(cmd, stdout=slave, stderr=subprocess.PIPE)
    os.close(slave)
    data = b""
    deadline = time.time() + timeout
    try:
        while time.time() < deadline:
            if until and until(data):
                break
            r, _, _ = select.select([master], [], [], 0.1)
            if r:
                try:
                    chunk = os.read(master, 65536)
                except OSError:
                    break
                if not chunk:
                    break
                data += chunk
            elif p.poll() is not None:
                break
        if interrupt:
            p.send_signal(signal.SIGINT)
        rc = p.wait(10)
    finally:
        os.close(master)
    assert rc == 0, (rc, p.stderr.read(), data)
    return data
