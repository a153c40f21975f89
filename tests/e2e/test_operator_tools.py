"""The operator's tools through the real CLI: --print-config, config, origin list/sick/healthy/
drain/auto, tail and top."""
import json
import subprocess
import threading
import time

from ectest import EDGECACHED
from test_ctl import ctl, err, out


def test_print_config_needs_no_daemon_and_fills_defaults(tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"min_ttl": 120, "admin_token": "secret"}))
    p = subprocess.run([EDGECACHED, "--config", str(cfg), "--print-config", "--log-level",
                        "warn", "--data-dir", str(tmp_path / "d")], capture_output=True,
                       text=True)
    assert p.returncode == 0, p.stderr
    c = json.loads(p.stdout)
    assert c["min_ttl"] == 120 and c["log_level"] == "warn"  # file and flag applied
    assert c["access_log_format"] == "default" and c["x_forwarded"] is True  # defaults filled
    assert c["admin_token"] == "***"
    assert not (tmp_path / "d").exists()  # nothing started, nothing created
    assert p.stdout.startswith("{\n  \"")  # indented for reading


def test_print_config_reports_errors(tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text('{"min_ttl": "soon"}')
    p = subprocess.run([EDGECACHED, "--config", str(cfg), "--print-config"],
                       capture_output=True, text=True)
    assert p.returncode == 1 and "min_ttl" in p.stderr


def test_ctl_config_shows_running_config_with_defaults(make_daemon):
    d = make_daemon(config={"min_ttl": 90})
    p = ctl(d, "config", "--json")
    c = json.loads(out(p))
    assert c["min_ttl"] == 90 and c["request_id"] is True and c["trusted_proxies"] == []


def test_origin_list_sick_drain_healthy_auto(make_daemon, origin):
    from origin import Origin
    with Origin() as other:
        d = make_daemon(config={
            "origins": {"o": {"servers": [origin.address, other.address], "timeout_ms": 3000}},
            "routes": [{"name": "r", "prefix": "/", "origin": "o"}]})
        origin.route("/*", body=b"a")
        other.route("/*", body=b"b")
        p = ctl(d, "origin", "list")
        assert p.returncode == 0, err(p)
        lines = out(p).splitlines()
        assert len(lines) == 2 and all(l.startswith("o  ") and "  up  " in l for l in lines), lines

        p = ctl(d, "origin", "sick", "o", "--server", other.address)
        assert p.returncode == 0, err(p)
        assert f"o  {other.address}  down (set sick)" in out(p)
        before = other.hits()
        for i in range(6):
            assert d.get(f"/s{i}").body == b"a"
        assert other.hits() == before  # a sick server gets nothing

        p = ctl(d, "origin", "drain", "o")
        assert "draining (set drain)" in out(p)
        r = d.get("/drained")
        assert r.status == 503  # every server drained: no new requests anywhere
        assert origin.hits("/drained") == 0 and other.hits("/drained") == 0

        p = ctl(d, "origin", "healthy", "o", "--json")
        servers = json.loads(out(p))["servers"]
        assert [s["admin"] for s in servers] == ["healthy", "healthy"]
        assert d.get("/back").status == 200

        ctl(d, "origin", "auto", "o")
        listing = json.loads(out(ctl(d, "origin", "list", "--json")))
        assert [s["admin"] for s in listing["origins"][0]["servers"]] == ["auto", "auto"]

        p = ctl(d, "origin", "sick", "nope")
        assert p.returncode == 3 and 'no origin "nope" (configured: o)' in err(p)
        p = ctl(d, "origin", "sick", "o", "--server", "10.9.9.9:1")
        assert p.returncode == 3 and "has no server" in err(p)
        p = ctl(d, "origin", "poke", "o")
        assert p.returncode == 2


def start_tail(d, *args):
    """edgecachectl tail ARGS in the background, returned once the daemon has subscribed it."""
    from ectest import EDGECACHECTL
    n = d.log_since_start().count("tail: a client subscribed")
    proc = subprocess.Popen([EDGECACHECTL, "--socket", d.admin_sock, "tail", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 10
    while d.log_since_start().count("tail: a client subscribed") <= n:
        assert time.time() < deadline and proc.poll() is None, proc.stderr.read()
        time.sleep(0.02)
    return proc


def test_tail_streams_filtered_records(make_proxy, origin):
    d = make_proxy(origin)
    origin.route("/ok", body=b"x", headers={"Cache-Control": "max-age=60"})
    origin.route("/bad", status=502, body=b"no")
    proc = start_tail(d, "--filter", "status>=500", "--count", "2", "--json")
    d.get("/ok")
    d.get("/bad")
    d.get("/ok")
    d.get("/bad?x=1")
    o, e = proc.communicate(timeout=20)
    assert proc.returncode == 0, e
    recs = [json.loads(l) for l in o.decode().splitlines()]
    assert [r["target"] for r in recs] == ["/bad", "/bad?x=1"]
    assert all(r["status"] == 502 and r["route"] == "r" and r["origin"] == "o" for r in recs)


def test_tail_text_lines_and_path_and_cache_filters(make_proxy, origin):
    d = make_proxy(origin)
    origin.route("/api/*", body=b"x", headers={"Cache-Control": "max-age=60"})
    proc = start_tail(d, "--filter", "/api/", "--filter", "cache=HIT", "--count", "1")
    d.get("/api/a")   # MISS
    d.get("/other")   # another path
    d.get("/api/a")   # HIT
    o, e = proc.communicate(timeout=20)
    assert proc.returncode == 0, e
    line = o.decode()
    assert '"GET /api/a HTTP/1.1" 200 1 ' in line and line.rstrip().endswith(" HIT"), line


def test_tail_bad_filter_is_refused(daemon):
    p = ctl(daemon, "tail", "--filter", "colour=red")
    assert p.returncode == 1 and 'unknown key "colour"' in err(p)


def test_tail_slow_reader_loses_records_without_slowing_the_daemon(make_proxy, origin):
    """A tail reader that never reads: the daemon keeps answering at full speed and counts
    what the reader lost."""
    import socket
    d = make_proxy(origin)
    origin.route("/*", body=b"y", headers={"Cache-Control": "max-age=600"})
    s = socket.socket(socket.AF_UNIX)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(d.admin_sock)
    s.sendall(b"GET /admin/tail HTTP/1.1\r\nHost: x\r\n\r\n")
    d.wait_log("tail: a client subscribed")
    pad = "p" * 2000  # ~2 KB records: 1500 of them are well over the 1 MiB high-water mark
    t0 = time.time()
    for i in range(1500):
        assert d.get(f"/k{i % 10}?{pad}").status == 200
    elapsed = time.time() - t0
    s.settimeout(5)
    s.setblocking(True)
    data = b""
    deadline = time.time() + 10
    # Read what was queued, then make one more request so the dropped count is reported.
    while time.time() < deadline and b'"dropped":' not in data:
        s.settimeout(0.5)
        try:
            chunk = s.recv(1 << 20)
        except socket.timeout:
            d.get(f"/k0?{pad}")
            continue
        if not chunk:
            break
        data += chunk
    s.close()
    assert b'"dropped":' in data
    dropped = int(data.split(b'"dropped":')[1].split(b"}")[0])
    assert dropped > 0
    assert elapsed < 60


def test_top_one_shot_report(make_proxy, origin):
    d = make_proxy(origin)
    origin.route("/hot", body=b"x", headers={"Cache-Control": "max-age=60"})
    origin.route("/err", status=500, body=b"e")
    done = threading.Event()

    def traffic():
        time.sleep(0.5)
        for _ in range(5):
            d.get("/hot")
        d.get("/err")
        done.set()

    t = threading.Thread(target=traffic)
    t.start()
    p = ctl(d, "top", "--once", "2", "--json")
    t.join()
    assert p.returncode == 0, err(p)
    rep = json.loads(out(p))
    assert rep["paths"][0] == {"path": "/hot", "requests": 5, "misses": 1, "errors": 0}
    assert {"path": "/err", "requests": 1, "misses": 1, "errors": 1} in rep["paths"]
    assert rep["routes"] == [{"route": "r", "origin": "o", "requests": 6, "misses": 2,
                              "errors": 1}]

    p = ctl(d, "top", "--once", "1")  # text, not a terminal
    assert p.returncode == 0 and "PATH" in out(p) and "ROUTE" in out(p)


def overview_commands():
    from ectest import EDGECACHECTL
    text = subprocess.run([EDGECACHECTL, "help"], capture_output=True, text=True).stdout
    body = text.split("\nCommands:\n", 1)[1].split("\n\n", 1)[0]
    names = []
    for line in body.splitlines():
        if line.startswith("  ") and line[2:3].isalpha():
            name = line[2:].split()[0].split("|")[0]
            if name not in names:
                names.append(name)
    return names


def test_man_pages_are_generated_from_the_binaries():
    import os
    from ectest import BUILD
    ctl_man = open(os.path.join(BUILD, "tools", "edgecachectl.8")).read()
    for c in overview_commands():
        assert f".SS {c}\n" in ctl_man, c
    conf_man = open(os.path.join(BUILD, "tools", "edgecached.json.5")).read()
    for name in ("trusted_proxies", "access_log_format", "log_format", "request_id",
                 "routes[]", "origins.<name>"):
        assert name in conf_man.replace("\\-", "-"), name
    daemon_man = open(os.path.join(BUILD, "tools", "edgecached.8")).read()
    assert "print\\-config" in daemon_man and "SIGUSR1" in daemon_man
    p = subprocess.run(["man", "-l", "-P", "cat", os.path.join(BUILD, "tools", "edgecachectl.8")],
                       capture_output=True, text=True, env=dict(os.environ, MANWIDTH="100"))
    if p.returncode == 0:  # man-db is optional in the test image
        assert "edgecachectl origin sick|healthy|drain|auto NAME" in p.stdout


def test_bash_completion_knows_every_command():
    from ectest import ROOT
    import os
    script = os.path.join(ROOT, "tools", "completion", "edgecachectl.bash")

    def complete(line):
        words = line.split(" ")
        prog = (f"source {script}; COMP_WORDS=({' '.join(repr(w) for w in words)}); "
                f"COMP_CWORD={len(words) - 1}; _edgecachectl; printf '%s\\n' \"${{COMPREPLY[@]}}\"")
        return subprocess.run(["bash", "-c", prog], capture_output=True, text=True).stdout.split()

    assert set(overview_commands()) <= set(complete("edgecachectl "))
    assert complete("edgecachectl origin ") [:5] == ["list", "sick", "healthy", "drain", "auto"]
    assert "--filter" in complete("edgecachectl tail --")
    assert "cache=MISS" in complete("edgecachectl tail --filter cache=M")

