"""Logs an operator can use: access log formats and fields, X-Request-Id, JSON and journald
stderr lines, and debug lines that explain cache decisions."""
import json
import os
import re
import time


def wait_lines(path, n, timeout=5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if os.path.exists(path) and len(open(path, "rb").read().splitlines()) >= n:
            break
        time.sleep(0.05)
    return open(path, "rb").read().decode("utf-8").splitlines()


def test_request_id_generated_sent_upstream_echoed_and_logged(make_proxy, origin, tmp_path):
    log = tmp_path / "access.log"
    fmt = '$request_id $host "$user_agent" $status $cache $upstream_ms $route $origin'
    d = make_proxy(origin, config={"access_log": str(log), "access_log_format": fmt})
    origin.route("/a", body=b"x", headers={"Cache-Control": "max-age=60"})
    r = d.get("/a", headers={"User-Agent": 'curl/8 "quoted"'})
    rid = r.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", rid), rid
    assert origin.last("/a").header("x-request-id") == rid
    r2 = d.get("/a", headers={"X-Request-Id": "client-id-1"})  # a hit: the client's id kept
    assert r2.headers["x-request-id"] == "client-id-1"
    lines = wait_lines(log, 2)
    first = lines[0].split(" ")
    assert first[0] == rid and first[1] == f"127.0.0.1:{d.port}"
    assert '"curl/8 \\x22quoted\\x22"' in lines[0]
    assert lines[0].endswith(" r o") and " 200 MISS " in lines[0]
    assert re.search(r" MISS \d+ r o$", lines[0]), lines[0]
    assert lines[1].startswith("client-id-1 ") and re.search(r" 200 HIT - r o$", lines[1]), lines[1]


def test_request_id_off_and_unusable_client_ids_replaced(make_proxy, origin):
    d = make_proxy(origin)
    origin.route("/b", body=b"x")
    r = d.get("/b", headers={"X-Request-Id": "x" * 200})
    assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"])
    assert origin.last("/b").header_all("x-request-id") == [r.headers["x-request-id"]]
    off = make_proxy(origin, config={"request_id": False})
    r = off.get("/b")
    assert "x-request-id" not in r.headers
    assert origin.last("/b").header("x-request-id") is None


def test_access_log_json_form(make_daemon, tmp_path):
    log = tmp_path / "access.json"
    d = make_daemon(config={"access_log": str(log), "access_log_format": "json"})
    d.put("/kv/ns/k", b"hello")
    d.raw(b'GET /kv/ns/\xff"q HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n')
    lines = wait_lines(log, 2)
    recs = [json.loads(line) for line in lines]
    assert recs[0]["method"] == "PUT" and recs[0]["target"] == "/kv/ns/k"
    assert recs[0]["status"] == 200 and isinstance(recs[0]["bytes"], int)
    assert recs[0]["upstream_ms"] is None and recs[0]["route"] is None
    assert set(recs[0]) >= {"time", "peer", "client", "protocol", "duration_ms", "cache", "host",
                            "user_agent", "referer", "request_id"}
    assert recs[1]["target"] == '/kv/ns/\ufffd"q' and recs[1]["host"] == "h"


def test_bad_access_log_format_names_the_field(make_daemon):
    import subprocess
    d = make_daemon(start=False, config={"access_log_format": "$time $bogus"})
    p = subprocess.run(d.command() + ["--check-config"], capture_output=True, text=True)
    assert p.returncode != 0
    assert "access_log_format" in p.stderr and 'unknown field "$bogus"' in p.stderr, p.stderr


def test_stderr_lines_carry_journald_priority(make_proxy, origin):
    """When JOURNAL_STREAM names stderr's device:inode, every line starts with <N>."""
    d = make_proxy(origin, config={"log_level": "debug"}, start=False)
    open(d.log_path, "ab").close()
    st = os.stat(d.log_path)
    d.env["JOURNAL_STREAM"] = f"{st.st_dev}:{st.st_ino}"
    d.start()
    origin.route("/p", body=b"x")
    d.get("/p")  # a debug line explaining the miss
    d.stop()
    lines = [line for line in d.log().splitlines() if line]
    assert lines and all(re.match(r"<[3467]>", line) for line in lines), lines[:5]
    assert any(line.startswith("<6>info") and " ready " in line for line in lines)
    assert any(line.startswith("<7>debug") for line in lines)


def test_no_priority_prefix_when_stderr_is_not_the_journal(make_daemon):
    d = make_daemon(start=False, env={"JOURNAL_STREAM": "1:2"})
    d.start()
    assert re.match(r"\d{4}-\d\d-\d\dT", d.log().splitlines()[0])


def test_log_format_json(make_daemon):
    d = make_daemon(config={"log_format": "json"})
    lines = d.log().splitlines()
    recs = [json.loads(line) for line in lines]
    assert any(r["level"] == "info" and "ready" in r["msg"] for r in recs)
    assert all(set(r) == {"time", "level", "msg"} for r in recs)


def test_debug_lines_explain_cache_decisions(make_proxy, origin):
    d = make_proxy(origin, route={"ttl": 0}, config={"log_level": "debug"})
    origin.route("/fresh", body=b"x", etag='"v1"',
                 headers={"Cache-Control": "max-age=10, stale-while-revalidate=100"})
    origin.route("/private", body=b"x", headers={"Cache-Control": "private"})
    d.get("/fresh")
    d.wait_log(r"cache /fresh: status 200 stored: lifetime 10s from origin, swr 100s, sie 0s, "
               r"keep 3600s")
    d.get("/fresh")
    d.wait_log(r"cache /fresh: HIT: stored copy \((memory|disk)\) is fresh")
    d.advance_clock(20)
    d.get("/fresh")
    d.wait_log(r"cache /fresh: STALE served, revalidating in the background: stored copy "
               r"\(\w+\) is stale-while-revalidate")
    d.get("/private")
    d.wait_log(r"cache /private: no stored copy")
    d.wait_log(r"cache /private: status 200 not stored: private; not shareable")
    d.advance_clock(200)
    d.get("/fresh")
    d.wait_log(r"cache /fresh: not served unvalidated: stored copy \(\w+\) is expired "
               r"\(past every stale window\)")


def test_debug_lines_cost_nothing_at_info(make_proxy, origin):
    d = make_proxy(origin)
    origin.route("/x", body=b"x", headers={"Cache-Control": "max-age=10"})
    d.get("/x")
    d.get("/x")
    assert "cache /x" not in d.log()
