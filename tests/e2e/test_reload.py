"""Reloads that never take the daemon down, report what waits for a restart, and fail loudly;
--check-config trying what a start opens (issue 11's reload crash, issue 14 item 3)."""
import json
import os
import re
import signal
import socket
import subprocess
import time

from ectest import BUILD, EDGECACHECTL, EDGECACHED, ROOT, run_cli, short_tmpdir


def ctl(d, *args, env=None):
    e = dict(os.environ)
    for k in ("EDGECACHE_SOCKET", "EDGECACHE_URL", "EDGECACHE_TOKEN"):
        e.pop(k, None)
    e.update(env or {})
    return run_cli([EDGECACHECTL, "--socket", d.admin_sock] + list(args),
                          capture_output=True, text=True, env=e, timeout=30)


def write_config(d, cfg):
    with open(os.path.join(d.tmp, "config.json"), "w") as f:
        json.dump(cfg, f)


def check_config(cfg, tmp, *extra):
    path = os.path.join(tmp, "check.json")
    with open(path, "w") as f:
        f.write(cfg if isinstance(cfg, str) else json.dumps(cfg))
    return run_cli([EDGECACHED, "--config", path, "--check-config", *extra],
                          capture_output=True, text=True, timeout=30, cwd=tmp)


# -- a reload never takes the daemon down ------------------------------------------------------
def test_reload_naming_an_unopenable_access_log_is_refused_and_the_daemon_stays(make_daemon):
    d = make_daemon(config={"access_log": "access.log"})
    assert d.put("/kv/r/k", b"v").status == 200
    bad = {"access_log": "/nonexistent-dir/access.log", "log_level": "debug"}
    write_config(d, bad)
    d.send_signal(signal.SIGHUP)
    d.wait_log(r"reload refused, keeping the running configuration: cannot open access log "
               r"/nonexistent-dir/access.log: No such file or directory")
    assert d.proc.poll() is None, d.log()
    p = ctl(d, "reload")
    assert p.returncode == 1, p
    assert p.stderr == ("edgecachectl: reload failed: cannot open access log "
                        "/nonexistent-dir/access.log: No such file or directory\n")
    # Still serving, on the old configuration: the old log still gets lines, debug stays off.
    assert d.get("/kv/r/k").body == b"v"
    cfg = json.loads(ctl(d, "--json", "config").stdout)
    assert cfg["access_log"] == "access.log" and cfg["log_level"] == "info"
    assert d.stop() == 0
    assert "GET /kv/r/k" in open(os.path.join(d.tmp, "access.log")).read()


def test_reload_refused_for_a_taken_admin_listen_keeps_everything(make_daemon):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    d = make_daemon(listen=[], config={"listen": ["127.0.0.1:0"]})
    write_config(d, {"listen": ["127.0.0.1:0", "127.0.0.2:0"],
                     "admin_listen": f"127.0.0.1:{port}", "admin_token": "t0k"})
    p = ctl(d, "reload")
    assert p.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in p.stderr and "(admin_listen)" in p.stderr
    # The listener the new config added was bound first, then closed again by the refusal.
    added = re.search(r"listening on 127\.0\.0\.2:(\d+)", d.log())
    assert added, d.log()
    try:
        socket.create_connection(("127.0.0.2", int(added.group(1))), timeout=2).close()
        raise AssertionError("the refused reload left its new listener open")
    except ConnectionRefusedError:
        pass
    assert "admin API on" not in d.log()
    assert d.get("/health").status == 200
    taken.close()


def test_reload_changes_are_reported_and_restart_only_ones_are_pending(make_daemon):
    d = make_daemon(config={"memory_cache": "256MiB"})
    write_config(d, {"memory_cache": "128MiB", "log_level": "debug"})
    p = ctl(d, "reload")
    # log_level applied; memory_cache (reloadable: no) waits for a restart: exit 1.
    assert p.returncode == 1, p
    assert p.stdout == "reloaded, 1 change:\n  log_level\n"
    assert p.stderr == ("edgecachectl: pending restart: memory_cache changed but only a restart "
                        "applies them (the running values stay); restart edgecached, or pass "
                        "--allow-pending\n")
    p = ctl(d, "reload", "--allow-pending")
    assert p.returncode == 0, p
    assert p.stdout == ("reloaded (no changes)\n"
                        "pending restart: memory_cache (the running values stay until a restart)\n")
    p = ctl(d, "--json", "reload")
    assert p.returncode == 1
    assert json.loads(p.stdout) == {"reloaded": True, "changes": [],
                                    "pending_restart": ["memory_cache"]}
    assert json.loads(ctl(d, "--json", "config").stdout)["memory_cache"] == "256MiB"
    write_config(d, {"memory_cache": "256MiB", "log_level": "debug"})
    p = ctl(d, "reload")
    assert (p.returncode, p.stdout) == (0, "reloaded (no changes)\n")


def unit_exec_reload():
    path = os.path.join(BUILD, "systemd", "edgecached.service")
    for line in open(path):
        if line.startswith("ExecReload="):
            return line.strip().split("=", 1)[1].split()
    raise AssertionError("no ExecReload in " + path)


def test_the_units_exec_reload_fails_when_the_daemon_refuses(make_daemon):
    d = make_daemon(config={})
    argv = unit_exec_reload()
    assert os.path.basename(argv[0]) == "edgecachectl", argv
    argv[0] = EDGECACHECTL  # the build's, not the installed path
    env = dict(os.environ, EDGECACHE_SOCKET=d.admin_sock)
    write_config(d, {"log_level": "debug"})
    assert subprocess.run(argv, env=env, capture_output=True).returncode == 0
    write_config(d, {"log_level": "loud"})
    p = subprocess.run(argv, env=env, capture_output=True, text=True)
    assert p.returncode == 1 and "log_level" in p.stderr, p
    assert d.get("/health").status == 200


# -- --check-config tries what a start opens -----------------------------------------------------
def test_check_config_tries_the_access_log_listeners_and_data_dir():
    tmp = short_tmpdir()
    p = check_config({"access_log": "/nonexistent-dir/a.log"}, tmp, "--data-dir", tmp + "/d")
    assert p.returncode == 1
    assert p.stderr == ("edgecached: cannot open access log /nonexistent-dir/a.log: "
                        "No such file or directory\n")

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    p = check_config({"listen": [f"127.0.0.1:{port}"]}, tmp, "--data-dir", tmp + "/d")
    assert p.returncode == 1
    assert f"edgecached: cannot listen on 127.0.0.1:{port}: address already in use" in p.stderr
    taken.close()

    open(tmp + "/file", "w").close()
    p = check_config({"listen": ["127.0.0.1:0"]}, tmp, "--data-dir", tmp + "/file")
    assert (p.returncode, p.stderr) == (1, f"edgecached: data_dir {tmp}/file: not a directory\n")

    p = check_config({"listen": ["127.0.0.1:0"], "access_log": "a.log"}, tmp,
                     "--data-dir", tmp + "/new/d")
    assert (p.returncode, p.stderr) == (0, ""), p
    assert p.stdout == f"edgecached: configuration {tmp}/check.json is valid\n"
    assert not os.path.exists(tmp + "/new")  # nothing created but the log file


def test_check_config_beside_a_running_daemon_says_its_listeners_were_not_tried(make_daemon):
    d = make_daemon(config={})
    p = check_config({"listen": [d.addresses[0]]}, d.tmp, "--data-dir", d.data_dir)
    assert p.returncode == 0, p
    assert p.stdout.endswith(f"edgecached: note: data dir {d.data_dir} is in use by a running "
                             "edgecached: its listeners were not tried (edgecachectl reload "
                             "binds the new ones or refuses)\n")


# -- a reload reaches the origin client ------------------------------------------------------
def test_reload_of_idle_timeout_reaches_the_origin_clients_pause_limit(make_proxy, origin):
    # A client that stops reading a proxied response may stall for idle_timeout_ms; the origin
    # fetch feeding it is paused meanwhile and given up after the same time. A reload that
    # lengthens idle_timeout_ms must lengthen both, or the response is cut at the old limit.
    from origin import Response
    size = 8 * 1024 * 1024  # far over the daemon's output high-water mark and the socket buffers
    origin.route("/big", Response(body=b"b" * size, headers={"Cache-Control": "no-store"}))
    tmp = short_tmpdir()
    path = os.path.join(tmp, "c.sock")  # a Unix socket: loopback TCP buffers megabytes
    d = make_proxy(origin, listen=["127.0.0.1:0", "unix:" + path], tmp=tmp,
                   config={"idle_timeout_ms": 300})
    cfg = dict(d.config, idle_timeout_ms=60000)
    write_config(d, cfg)
    assert d.admin("POST", "/admin/reload").status == 200
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.settimeout(10)
    s.sendall(b"GET /big HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    got = bytearray(s.recv(65536))
    # Stalled well past the old 300 ms (the fetch is paused once the output backs up).
    time.sleep(1.5)
    while True:
        chunk = s.recv(1 << 20)
        if not chunk:
            break
        got.extend(chunk)
    s.close()
    head, _, body = bytes(got).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head
    assert len(body) == size, f"cut after {len(body)} of {size} bytes"
    assert "took no data" not in d.log()
