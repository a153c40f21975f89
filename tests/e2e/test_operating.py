"""The operator's day, through the real binaries: stats that show what is stored, errors that say
where and why, TCP admin access, error pages, sizes (issue 14 items 2, 4, 6-10)."""
import json
import os
import re
import socket
import subprocess
import time

from ectest import BUILD, EDGECACHECTL, EDGECACHED, ROOT, run_cli, short_tmpdir


def ctl(d, *args, env=None, socket_path=None, timeout=30):
    e = dict(os.environ)
    for k in ("EDGECACHE_SOCKET", "EDGECACHE_URL", "EDGECACHE_TOKEN"):
        e.pop(k, None)
    e.update(env or {})
    sock = d.admin_sock if socket_path is None else socket_path
    cmd = [EDGECACHECTL] + (["--socket", sock] if sock else []) + list(args)
    return run_cli(cmd, capture_output=True, text=True, env=e, timeout=timeout)


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# -- item 2: stats -----------------------------------------------------------------------------
def test_stats_shows_what_is_stored_and_watch_does_not_count_its_own_polls(make_proxy, origin):
    origin.route("/a", body=b"x" * 1000, headers={"Cache-Control": "max-age=300"})
    origin.route("/b", body=b"y" * 2000, headers={"Cache-Control": "max-age=300"})
    d = make_proxy(origin)
    for p in ("/a", "/b"):
        assert d.get(p).status == 200
    assert d.put("/kv/s/k", b"v" * 500).status == 200

    def stored():
        return json.loads(ctl(d, "--json", "stats").stdout)["store"]

    # The fills are stored by the writer thread after the answers went out.
    deadline = time.time() + 10
    while stored()["cache_entries"] < 2 and time.time() < deadline:
        time.sleep(0.02)
    stats = json.loads(ctl(d, "--json", "stats").stdout)
    st = stats["store"]
    # Cache entries and KV keys apart, each with the bytes they hold.
    assert (st["cache_entries"], st["kv_keys"]) == (2, 1), st
    assert 3000 < st["cache_bytes"] < 3000 + 2048, st
    assert 500 < st["kv_bytes"] < 600, st
    assert st["entries"] == 3 and stats["hot_tier"]["entries"] == 2
    text = ctl(d, "stats").stdout
    assert re.search(r"^hot tier .* 2 entries,", text, re.M), text
    assert re.search(r"^store .*, 2 cache entries \(3\d\d\dB\), 1 KV keys \(5\d\dB\)$", text,
                     re.M), text
    metrics = d.admin("GET", "/metrics").text
    assert 'edgecached_store_records{kind="cache"} 2\n' in metrics
    assert 'edgecached_store_records{kind="kv"} 1\n' in metrics
    # A purge takes the entries out of the count.
    assert ctl(d, "purge", "--all").returncode == 0
    deadline = time.time() + 10
    while stored()["cache_entries"] and time.time() < deadline:
        time.sleep(0.02)
    assert stored()["cache_entries"] == 0 and stored()["cache_bytes"] == 0

    # An idle daemon watched five times a second shows no traffic: neither the polls nor their
    # connections are requests or clients.
    d.close_conns()
    deadline = time.time() + 10
    while json.loads(ctl(d, "--json", "stats").stdout)["connections"]["open"]:
        assert time.time() < deadline
        time.sleep(0.02)
    before = json.loads(ctl(d, "--json", "stats").stdout)
    timed = re.search(r"^edgecached_request_duration_seconds_count (\d+)$",
                      d.admin("GET", "/metrics").text, re.M).group(1)
    p = subprocess.Popen([EDGECACHECTL, "--socket", d.admin_sock, "stats", "--watch", "0.2"],
                         stdout=subprocess.PIPE, text=True)
    lines = [p.stdout.readline() for _ in range(4)]
    p.terminate()
    p.wait(10)
    for line in lines:
        assert " req/s=0.00 " in line and " open=0 " in line, lines
        assert re.search(r" records=1 cache_entries=0 cache_bytes=0 kv_keys=1 kv_bytes=5\d\d "
                         r"map_used=\d+ hot_entries=0 hot_bytes=\d+$", line), line
    after = json.loads(ctl(d, "--json", "stats").stdout)
    assert after["requests"] == before["requests"]
    assert after["connections"]["accepted"] == before["connections"]["accepted"]
    assert after["connections"]["open"] == 0
    # Nor are they timed as requests: the latency histogram is the data plane's.
    assert re.search(r"^edgecached_request_duration_seconds_count %s$" % timed,
                     d.admin("GET", "/metrics").text, re.M)
    assert after["admin_requests"] > before["admin_requests"] + 4
    assert after["connections"]["admin_accepted"] > before["connections"]["admin_accepted"] + 4


# -- item 4: edgecachectl on PATH after tools/run --------------------------------------------
def test_link_ctl_puts_this_builds_edgecachectl_on_path():
    bindir = short_tmpdir()
    env = dict(os.environ, EDGECACHED_LINK_DIR=bindir)
    p = subprocess.run([os.path.join(ROOT, "tools", "link-ctl"), BUILD], env=env,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p
    link = os.path.join(bindir, "edgecachectl")
    assert os.path.realpath(link) == os.path.realpath(EDGECACHECTL)
    assert p.stderr == f"edgecachectl: {link} -> {os.path.realpath(EDGECACHECTL)}\n"
    v = subprocess.run(["edgecachectl", "--version"], capture_output=True, text=True,
                       env=dict(env, PATH=bindir + ":" + os.environ["PATH"]))
    assert v.stdout.startswith("edgecachectl ")
    # An edgecachectl installed there (meson install) is never replaced.
    os.unlink(link)
    open(link, "w").close()
    p = subprocess.run([os.path.join(ROOT, "tools", "link-ctl"), BUILD], env=env,
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0 and "using the installed" in p.stderr
    assert not os.path.islink(link)
    assert "tools/link-ctl" in open(os.path.join(ROOT, "tools", "run")).read()


# -- item 6: --origin keeps the daemon's own paths, and says which ----------------------------
def test_origin_flag_proxies_everything_but_the_daemons_own_paths(make_daemon, origin):
    origin.route("/*", body=b"from origin")
    helptext = " ".join(run_cli([EDGECACHED, "--help"], capture_output=True,
                                       text=True).stdout.split())
    assert "except those the daemon answers itself on a plain" in helptext
    assert "/health, /kv/... and /client/v4/..." in helptext
    d = make_daemon(args=["--origin", origin.url])
    assert d.get("/anything/else").body == b"from origin"
    assert d.get("/health").json()["status"] == "ok"
    assert d.get("/kv/ns/missing").status == 404 and origin.hits("/kv/ns/missing") == 0
    # A proxy-only listener passes those paths on too.
    p = make_daemon(args=["--origin", origin.url], listen=[],
                    config={"listen": [{"address": "127.0.0.1:0", "serve": ["proxy"]}]})
    assert p.get("/kv/ns/k").body == b"from origin"
    assert p.get("/health").body == b"from origin"


# -- item 7: the installed config is the built-in default ------------------------------------
def test_installed_config_is_the_builtin_default_and_the_example_loads(make_daemon):
    plain = make_daemon()
    installed = make_daemon(args=["--config", os.path.join(ROOT, "systemd", "edgecached.json")])
    a = json.loads(ctl(plain, "--json", "config").stdout)
    b = json.loads(ctl(installed, "--json", "config").stdout)
    for cfg in (a, b):
        cfg.pop("admin_socket")
        cfg.pop("data_dir")
    assert a == b
    assert b["routes"] == [] and b["origins"] == {}
    example = os.path.join(ROOT, "systemd", "edgecached.example.json")
    assert open(example).read().startswith("// edgecached configuration: an example")
    p = run_cli([EDGECACHED, "--config", example, "--check-config", "--data-dir",
                        short_tmpdir() + "/d", "--listen", "127.0.0.1:0"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p


# -- item 8: invalid JSON says where -------------------------------------------------------------
def test_invalid_json_names_line_column_and_text():
    tmp = short_tmpdir()
    path = os.path.join(tmp, "bad.json")
    with open(path, "w") as f:
        f.write('{\n  "min_ttl": 60\n  "log_level": "debug"\n}\n')
    p = run_cli([EDGECACHED, "--config", path, "--check-config"], capture_output=True,
                       text=True)
    assert p.returncode == 1
    assert p.stderr == (f"edgecached: {path}:3:3: invalid JSON: expected \",\" or \"}}\" after "
                        "an object member, at: \"log_level\": \"debug\"\n")


# -- item 9: clients get a generic 502/504; the detail goes to the log; error pages --------------
def test_gateway_errors_do_not_leak_origin_internals(make_daemon):
    port = closed_port()
    d = make_daemon(config={"origins": {"backend-7": {"url": f"http://127.0.0.1:{port}"}},
                            "routes": [{"prefix": "/", "origin": "backend-7"}]})
    r = d.get("/x")
    assert r.status == 502
    assert r.json() == {"error": {"code": "origin_connect_refused",
                                  "message": "the origin could not be reached"}}
    for secret in (b"backend-7", b"127.0.0.1", str(port).encode(), b"refused"):
        assert secret not in r.body.replace(b"connect_refused", b""), r.body
    d.wait_log(rf"warn  origin backend-7: .*127\.0\.0\.1:{port}.*: answered 502")


def test_error_pages_are_served_and_an_unreadable_one_refuses_the_config(make_daemon):
    pages = short_tmpdir()
    with open(os.path.join(pages, "502.html"), "w") as f:
        f.write("<h1>We'll be right back</h1>\n")
    port = closed_port()
    cfg = {"error_pages": pages, "origins": {"o": {"url": f"http://127.0.0.1:{port}"}},
           "routes": [{"prefix": "/", "origin": "o"}]}
    d = make_daemon(config=cfg)
    r = d.get("/x")
    assert r.status == 502 and r.body == b"<h1>We'll be right back</h1>\n"
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    # A page for a status the proxy never makes is refused by reload (and by a start).
    with open(os.path.join(pages, "500.html"), "w") as f:
        f.write("x")
    p = ctl(d, "reload")
    assert p.returncode == 1
    assert p.stderr == (f"edgecachectl: reload failed: error_pages: {pages}/500.html: only 502, "
                        "503 and 504 pages are used\n")
    assert d.get("/x").body == b"<h1>We'll be right back</h1>\n"
    os.unlink(os.path.join(pages, "500.html"))
    with open(os.path.join(pages, "504.json"), "w") as f:
        f.write('{"error":"timeout"}')
    assert ctl(d, "reload").returncode == 0
    assert d.get("/x").status == 502


def test_an_unreadable_error_page_refuses_start_and_check_config():
    pages = short_tmpdir()
    os.mkdir(os.path.join(pages, "504.html"))  # a directory cannot be read as a page
    tmp = short_tmpdir()
    path = os.path.join(tmp, "c.json")
    with open(path, "w") as f:
        json.dump({"error_pages": pages}, f)
    for extra in (["--check-config"], []):
        p = run_cli([EDGECACHED, "--config", path, "--data-dir", tmp + "/d", "--listen",
                            "127.0.0.1:0", *extra], capture_output=True, text=True, timeout=30)
        assert p.returncode == 1, p
        assert f"error_pages: cannot read {pages}/504.html" in p.stderr, p.stderr


# -- item 10: sizes, warm, inspect, socket activation names, --url/--token, --json errors --------
def test_sizes_in_gb_mb_kb_are_decimal(make_daemon):
    d = make_daemon(config={"max_value_size": "1 MB"})
    assert d.put("/kv/s/ok", b"x" * 1000000).status == 200
    assert d.put("/kv/s/big", b"x" * 1000001).status == 413
    assert json.loads(ctl(d, "--json", "config").stdout)["max_value_size"] == "1000000B"


def test_warm_failure_lines_say_why(make_daemon):
    port = closed_port()
    d = make_daemon(config={"origins": {"o": {"url": f"http://127.0.0.1:{port}"}},
                            "routes": [{"prefix": "/", "origin": "o"}]})
    p = ctl(d, "warm", "/w", "--host", "h.test")
    assert p.returncode == 1
    assert p.stdout.splitlines()[0] == ("failed /w status=502 cache=- bytes=%d "
                                        "error=origin_connect_refused: the origin could not be "
                                        "reached" % len(d.get("/w").body))


def test_inspect_of_an_entry_under_another_host_hints_at_host(make_proxy, origin):
    origin.route("/p", body=b"x", headers={"Cache-Control": "max-age=300"})
    d = make_proxy(origin)
    assert d.get("/p", headers={"Host": "www.example.test"}).status == 200
    p = ctl(d, "inspect", "/p")
    assert p.returncode == 3
    assert p.stderr == (f"not cached: /p\nlooked up under Host 127.0.0.1:{d.port} (the daemon's "
                        "first listener); entries are stored per Host: pass --host with the Host "
                        "your clients send\n")
    assert ctl(d, "inspect", "/p", "--host", "www.example.test").returncode == 0


def test_ctl_reaches_admin_listen_over_tcp_with_a_token(make_daemon):
    d = make_daemon(config={"admin_listen": "127.0.0.1:0", "admin_token": "s3cret"})
    port = re.search(r"admin API on 127\.0\.0\.1:(\d+)", d.log()).group(1)
    url = f"http://127.0.0.1:{port}"
    p = ctl(d, "--url", url, "--token", "s3cret", "health", socket_path="")
    assert (p.returncode, p.stdout) == (0, "ok (edgecached 0.1.0)\n"), p
    p = ctl(d, "kv", "put", "t", "k", "v", socket_path="",
            env={"EDGECACHE_URL": url, "EDGECACHE_TOKEN": "s3cret"})
    assert p.returncode == 0, p
    assert d.get("/kv/t/k").body == b"v"
    p = ctl(d, "--url", url, "--token", "wrong", "stats", socket_path="")
    assert (p.returncode, p.stderr) == (1, "edgecachectl: invalid admin token\n")
    p = ctl(d, "--url", f"http://127.0.0.1:{closed_port()}", "health", socket_path="")
    assert p.returncode == 1 and "is edgecached running?" in p.stderr
    p = ctl(d, "--url", "https://x", "health", socket_path="")
    assert p.returncode == 2 and "--url takes http://HOST:PORT" in p.stderr


def test_json_errors_are_json_on_stdout_too(daemon):
    p = ctl(daemon, "--json", "kv", "get", "nope", "k")
    assert p.returncode == 3
    assert json.loads(p.stdout) == {"error": {"code": "not_found", "message": "key not found",
                                              "exit": 3}}
    assert p.stderr == "edgecachectl: key not found\n"
    p = ctl(daemon, "--json", "health", socket_path="/nonexistent/admin.sock")
    assert p.returncode == 1
    assert json.loads(p.stdout)["error"]["message"] == (
        "cannot connect to /nonexistent/admin.sock: is edgecached running?")
    p = ctl(daemon, "--json", "frobnicate")
    assert p.returncode == 2 and json.loads(p.stdout)["error"]["code"] == "usage"
