"""Command line and configuration: flags, validation errors, precedence, --check-config."""
import json
import os
import shutil
import subprocess

import pytest

from ectest import (EDGECACHED, UnixHTTPConnection, crash_problems, do_request, run_cli,
                    short_tmpdir)


def run(*args, cwd=None, timeout=10):
    return run_cli([EDGECACHED, *args], capture_output=True, text=True, cwd=cwd,
                   timeout=timeout)


def test_version_and_help():
    r = run("--version")
    assert r.returncode == 0 and r.stdout.startswith("edgecached ")
    r = run("--help")
    assert r.returncode == 0
    for word in ["--config", "--listen", "--origin", "--check-config", "map_size", "durability",
                 "max_value_size", "idle_timeout_ms"]:
        assert word in r.stdout


def test_unknown_flag_is_usage_error():
    r = run("--frobnicate")
    assert r.returncode == 2
    assert "--frobnicate" in r.stderr


def test_check_config(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"listen": ["127.0.0.1:0"], "min_ttl": 30}))
    r = run("--config", str(good), "--check-config")
    assert r.returncode == 0, r.stderr
    assert "valid" in r.stdout

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"routes": [{"prefix": "/a/", "origin": "nope"}]}))
    r = run("--config", str(bad), "--check-config")
    assert r.returncode == 1
    assert "routes[0].origin" in r.stderr

    bad.write_text(json.dumps({"map_size": "lots"}))
    r = run("--config", str(bad), "--check-config")
    assert r.returncode == 1 and "map_size" in r.stderr

    bad.write_text(json.dumps({"origins": {"o": {"url": "ftp://example.com"}}}))
    r = run("--config", str(bad), "--check-config")
    assert r.returncode == 1 and "origins.o.url" in r.stderr and "https://" in r.stderr

    bad.write_text('{"listen": [')
    r = run("--config", str(bad), "--check-config")
    assert r.returncode == 1 and "bad.json" in r.stderr


def test_unknown_key_names_its_path(tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"origins": {"api": {"url": "http://127.0.0.1:1", "timeoutms": 5}}}))
    r = run("--config", str(cfg), "--check-config")
    assert r.returncode == 1
    assert "origins.api.timeoutms" in r.stderr


def test_invalid_config_at_startup_exits_nonzero(tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"durability": "sometimes"}))
    r = run("--config", str(cfg), "--data-dir", str(tmp_path / "d"))
    assert r.returncode == 1 and "durability" in r.stderr


def test_flags_override_config_file(make_daemon):
    d = make_daemon(config={"listen": ["127.0.0.1:1"], "min_ttl": 1})
    # --listen 127.0.0.1:0 (from the fixture) replaced the file's listen list.
    assert d.get("/health").status == 200
    assert d.put("/kv/ns/k?ttl=1", b"x").status == 200  # min_ttl from the file


def test_multiple_listeners_and_unix_socket(make_daemon):
    tmp = short_tmpdir()
    path = os.path.join(tmp, "kv.sock")
    d = make_daemon(listen=["127.0.0.1:0", "[::1]:0", "unix:" + path], tmp=tmp)
    assert len(d.addresses) == 3
    assert d.put("/kv/ns/k", b"one").status == 200
    assert d.get("/kv/ns/k", listener=1).body == b"one"
    from ectest import UnixHTTPConnection, do_request
    conn = UnixHTTPConnection(path)
    assert do_request(conn, "GET", "/kv/ns/k").body == b"one"
    conn.close()


def test_listen_roles_from_config(make_daemon):
    d = make_daemon(listen=[], config={"listen": [
        "127.0.0.1:0", {"address": "127.0.0.1:0", "serve": ["health"]}]})
    assert d.get("/kv/ns/k", listener=0).status == 404
    assert d.get("/health", listener=1).status == 200
    r = d.get("/kv/ns/k", listener=1)
    assert r.status == 404 and r.json()["error"]["code"] == "not_found"


def in_private_network(cmd):
    """cmd run in a network namespace of its own (its own loopback), so the fixed default port
    8787 is free whatever runs on this machine: root needs --net, anyone else a user namespace
    too. The admin socket (a file) stays reachable from here."""
    unshare = shutil.which("unshare")
    if not unshare:
        pytest.skip("unshare (util-linux) is not installed")
    ns = ["--net"] if os.geteuid() == 0 else ["--net", "--user", "--map-root-user"]
    return [unshare] + ns + ["sh", "-c", 'ip link set lo up && exec "$@"', "sh"] + cmd


def test_embedded_default_runs_without_arguments():
    cwd = short_tmpdir()
    p = subprocess.Popen(in_private_network([EDGECACHED]), cwd=cwd, stderr=subprocess.PIPE,
                         text=True)
    try:
        lines = []
        for line in p.stderr:
            lines.append(line)
            if " ready " in line:
                break
        text = "".join(lines)
        assert "listening on 127.0.0.1:8787" in text, text
        assert os.path.isdir(os.path.join(cwd, "edgecache-data"))
        sock = os.path.join(cwd, "edgecache-data", "admin.sock")
        conn = UnixHTTPConnection(sock)
        assert do_request(conn, "GET", "/health").status == 200
        conn.close()
    finally:
        p.terminate()
        rest = p.stderr.read()
        assert p.wait(10) == 0, "".join(lines) + rest
        assert not crash_problems(p.returncode, "".join(lines) + rest, "edgecached")
        shutil.rmtree(cwd, ignore_errors=True)
