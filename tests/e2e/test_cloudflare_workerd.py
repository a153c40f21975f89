"""A real Worker on workerd (pinned) with its kvNamespace binding pointed at edgecached.

compat/worker.js carries the seed's cache-aside and stale-while-revalidate helpers, fetching from
a Python test origin in place of D1. Everything is checked through the Worker's own HTTP port
and against edgecached's native routes: values land with their metadata and TTLs, survive a
daemon restart, expire when the daemon's clock moves, list with cursors, and a prefix
invalidation deletes a thousand keys with Promise.all. The api_token reaches edgecached through
workerd's injectRequestHeaders. Skipped with a message when Node.js >= 20 is not installed.
"""
import http.client
import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "compat"))
import npm_env  # noqa: E402
from ectest import Daemon, short_tmpdir  # noqa: E402

COMPAT_DATE = "2026-11-01"  # pinned; workerd 1.20261117.1 supports dates up to 2026-11-17
TOKEN = "workerd-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class Origin:
    """The test origin standing in for D1: users and a stats counter, counting requests."""

    def __init__(self):
        self.lock = threading.Lock()
        self.hits = {}
        self.names = {}
        self.total = 100
        origin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def reply(self, obj, status=200):
                body = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                with origin.lock:
                    origin.hits[self.path] = origin.hits.get(self.path, 0) + 1
                    if self.path == "/stats":
                        return self.reply({"total": origin.total})
                    if self.path.startswith("/users/"):
                        uid = self.path[len("/users/"):]
                        return self.reply({"id": uid, "name": origin.names.get(uid, f"user {uid}")})
                self.reply({"error": "no route"}, 404)

            def do_PUT(self):
                data = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with origin.lock:
                    origin.names[self.path[len("/users/"):]] = data["name"]
                self.reply({"ok": True})

            def do_DELETE(self):
                with origin.lock:
                    origin.names.pop(self.path[len("/users/"):], None)
                self.reply({"ok": True})

        class Server(http.server.ThreadingHTTPServer):
            request_queue_size = 1024  # the Worker warms with Promise.all: hundreds at once

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def address(self):
        return f"127.0.0.1:{self.server.server_address[1]}"

    def count(self, path):
        with self.lock:
            return self.hits.get(path, 0)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Workerd:
    """workerd serving compat/worker.js on a socket this test binds (port 0, passed as a fd)."""

    def __init__(self, tmp, cfg, worker_js=None):
        if worker_js is None:
            shutil.copy(os.path.join(HERE, "compat", "worker.js"), tmp)
        else:
            with open(os.path.join(tmp, "worker.js"), "w") as f:
                f.write(worker_js)
        self.config = os.path.join(tmp, "workerd.capnp")
        with open(self.config, "w") as f:
            f.write(cfg)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1024)
        self.port = self.sock.getsockname()[1]
        self.log_path = os.path.join(tmp, "workerd.log")
        self.log = open(self.log_path, "wb")
        fd = self.sock.fileno()
        self.proc = subprocess.Popen(
            [npm_env.workerd_binary(), "serve", self.config, "--socket-fd", f"http={fd}"],
            pass_fds=[fd], stdout=self.log, stderr=self.log, cwd=tmp)
        deadline = time.time() + 60
        while True:
            try:
                if self.request("GET", "/health")[0] == 200:
                    break
            except OSError:
                pass
            assert self.proc.poll() is None, "workerd exited:\n" + self.output()
            assert time.time() < deadline, "workerd did not answer:\n" + self.output()
            time.sleep(0.1)

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")[-4000:]

    def request(self, method, path, body=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            if isinstance(body, str):
                data = body.encode()  # sent as is (probe puts take the raw text)
            else:
                data = json.dumps(body).encode() if body is not None else None
            conn.request(method, path, body=data)
            r = conn.getresponse()
            raw = r.read()
            try:
                return r.status, json.loads(raw)
            except ValueError:
                return r.status, raw
        finally:
            conn.close()

    def call(self, method, path, body=None, status=200):
        got, data = self.request(method, path, body)
        assert got == status, f"{method} {path}: {got} {data}\n{self.output()}"
        return data

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        self.sock.close()


@pytest.fixture(scope="module")
def env():
    npm_env.workerd_binary()  # install (or skip) first
    tmp = short_tmpdir()
    kv_sock = os.path.join(tmp, "kv.sock")
    origin = Origin()
    # drain_timeout_ms: workerd keeps idle keep-alive connections open, which the drain on
    # restart waits out.
    daemon = Daemon(tmp=tmp, listen=[], shared=True, config={
        "api_token": TOKEN, "drain_timeout_ms": 2000,
        "listen": ["127.0.0.1:0", {"address": "unix:" + kv_sock, "kv_backend": "CACHE"}]})
    daemon.start()
    worker = None
    try:
        with open(os.path.join(HERE, "compat", "workerd.capnp.in")) as f:
            cfg = f.read()
        for k, v in {"@KV_ADDRESS@": "unix:" + kv_sock, "@KV_TOKEN@": TOKEN,
                     "@ORIGIN_ADDRESS@": origin.address, "@COMPAT_DATE@": COMPAT_DATE}.items():
            cfg = cfg.replace(k, v)
        worker = Workerd(tmp, cfg)
        yield daemon, worker, origin
    finally:
        if worker:
            worker.close()
        origin.close()
        try:
            daemon.stop()
        finally:
            daemon.cleanup()


def native(daemon, path):
    """GET a native /kv/CACHE/... route (with the api_token)."""
    return daemon.get("/kv/CACHE/" + path, headers=AUTH)


def test_cache_aside_lands_in_edgecached_with_its_ttl(env):
    daemon, worker, origin = env
    r = worker.call("GET", "/api/user/1")
    assert r["user"] == {"id": "1", "name": "user 1"}
    assert origin.count("/users/1") == 1
    v = native(daemon, "user:1")
    assert v.status == 200 and json.loads(v.body) == {"id": "1", "name": "user 1"}
    assert int(v.headers["x-kv-expiration"]) == pytest.approx(daemon.now() + 3600, abs=5)
    # The second read is served from edgecached, not the origin.
    assert worker.call("GET", "/api/user/1")["user"]["name"] == "user 1"
    assert origin.count("/users/1") == 1


def test_write_through_and_invalidation(env):
    daemon, worker, origin = env
    worker.call("PUT", "/api/user/2", {"id": "2", "name": "Bea"})
    assert json.loads(native(daemon, "user:2").body) == {"id": "2", "name": "Bea"}
    assert worker.call("GET", "/api/user/2")["user"]["name"] == "Bea"
    assert origin.count("/users/2") == 0
    worker.call("DELETE", "/api/user/2")
    assert native(daemon, "user:2").status == 404
    worker.call("PUT", "/api/user/3", {"id": "3", "name": "Cy"})
    assert worker.call("POST", "/api/cache/invalidate", {"keys": ["user:3", "nope"]})["count"] == 2
    assert native(daemon, "user:3").status == 404


def test_stale_while_revalidate_keeps_metadata_and_refreshes_in_the_background(env):
    daemon, worker, origin = env
    assert worker.call("GET", "/api/stats")["stats"] == {"total": 100}
    meta = json.loads(native(daemon, "global:stats").headers["x-kv-metadata"])
    assert meta["timestamp"] == pytest.approx(time.time() * 1000, abs=60000)
    origin.total = 101
    # Fresh enough: served from KV, no origin request.
    assert worker.call("GET", "/api/stats")["stats"] == {"total": 100}
    assert origin.count("/stats") == 1
    # Stale (threshold 0): the old value at once, a refresh through ctx.waitUntil.
    assert worker.call("GET", "/api/stats?staleThreshold=0")["stats"] == {"total": 100}
    deadline = time.time() + 10
    while json.loads(native(daemon, "global:stats").body) != {"total": 101}:
        assert time.time() < deadline, "the background refresh never landed"
        time.sleep(0.05)
    meta2 = json.loads(native(daemon, "global:stats").headers["x-kv-metadata"])
    assert meta2["timestamp"] >= meta["timestamp"]
    got = worker.call("GET", "/probe/meta/global:stats")
    assert got == {"value": {"total": 101}, "metadata": meta2}


def test_list_with_cursors_and_bulk_get(env):
    daemon, worker, origin = env
    ids = [f"w{i:03d}" for i in range(250)]
    assert worker.call("POST", "/api/cache/warm", {"ids": ids})["count"] == 250
    names, cursor, pages = [], None, 0
    while True:
        q = "prefix=user%3Aw&limit=100" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else "")
        page = worker.call("GET", f"/probe/list?{q}")
        pages += 1
        names += [k["name"] for k in page["keys"]]
        for k in page["keys"]:
            assert k["expiration"] == pytest.approx(daemon.now() + 3600, abs=10)
        if page["list_complete"]:
            assert "cursor" not in page
            break
        cursor = page["cursor"]
    assert pages == 3 and names == [f"user:{i}" for i in ids]
    # Metadata comes back as objects (workerd parses the JSON strings).
    page = worker.call("GET", "/probe/list?prefix=global")
    assert page["keys"][0]["name"] == "global:stats"
    assert isinstance(page["keys"][0]["metadata"]["timestamp"], (int, float))
    got = worker.call("GET", "/probe/bulk?key=global:stats&key=user:w001&key=none")
    assert got["global:stats"]["value"] == {"total": 101}
    assert set(got["global:stats"]) == {"value", "metadata"}
    assert got["user:w001"] == {"value": {"id": "w001", "name": "user w001"}, "metadata": None}
    assert got["none"] is None


def test_keys_with_awkward_names_round_trip(env):
    daemon, worker, origin = env
    for key in ["a+b", "a b", "x/y", "q?x=1&y=2", "ünï", "100%", "!$&'()*,;=:@"]:
        enc = urllib.parse.quote(key, safe="")
        worker.call("PUT", f"/probe/put/{enc}?metadata=" + urllib.parse.quote(json.dumps({"k": key})),
                    key)
        assert worker.call("GET", f"/probe/get/{enc}") == {"value": key}
        assert native(daemon, enc).body == key.encode()
        assert worker.call("GET", f"/probe/meta/{enc}?type=text") == \
            {"value": key, "metadata": {"k": key}}
    listed = worker.call("GET", "/probe/list?prefix=a")
    assert [k["name"] for k in listed["keys"]] == ["a b", "a+b"]
    listed = worker.call("GET", "/probe/list?prefix=" + urllib.parse.quote("a+"))
    assert [k["name"] for k in listed["keys"]] == ["a+b"]
    for key in ["a+b", "a b", "x/y", "100%"]:
        worker.call("DELETE", "/probe/delete/" + urllib.parse.quote(key, safe=""))
        assert native(daemon, urllib.parse.quote(key, safe="")).status == 404


def test_rules_reach_the_worker_as_errors(env):
    daemon, worker, origin = env
    r = worker.call("PUT", "/probe/put/k?ttl=5", "v", status=500)
    assert r["error"] == "KV PUT failed: 400 Invalid expiration_ttl of 5. " \
                        "Expiration TTL must be at least 60."
    big = urllib.parse.quote(json.dumps({"m": "x" * 1100}))
    r = worker.call("PUT", f"/probe/put/k?metadata={big}", "v", status=500)
    assert r["error"].startswith("KV PUT failed: 400 ")
    assert native(daemon, "k").status == 404
    # Without the injected token the backend refuses.
    r = daemon.get("/kv/CACHE/user:1")
    assert r.status == 401


def test_values_survive_a_daemon_restart(env):
    daemon, worker, origin = env
    before = origin.count("/users/1")
    daemon.restart()
    deadline = time.time() + 10
    while True:  # workerd's pooled connections to the old process fail once at most
        status, data = worker.request("GET", "/api/user/1")
        if status == 200 or time.time() > deadline:
            break
        time.sleep(0.1)
    assert status == 200, data
    assert data["user"] == {"id": "1", "name": "user 1"}
    assert origin.count("/users/1") == before
    assert worker.call("GET", "/probe/meta/global:stats")["value"] == {"total": 101}


def test_values_expire_with_the_daemon_clock(env):
    daemon, worker, origin = env
    before = origin.count("/users/1")
    daemon.advance_clock(3601)
    assert native(daemon, "user:1").status == 404
    assert worker.call("GET", "/api/user/1")["user"]["name"] == "user 1"
    assert origin.count("/users/1") == before + 1  # expired: fetched again and re-stored
    assert native(daemon, "user:1").status == 200


def test_prefix_invalidation_deletes_a_thousand_keys_at_once(env):
    daemon, worker, origin = env
    ids = [f"p{i:04d}" for i in range(1000)]
    assert worker.call("POST", "/api/cache/warm", {"ids": ids})["count"] == 1000
    assert len(worker.call("GET", "/probe/list?prefix=user%3Ap")["keys"]) == 1000
    # One list page of 1000 keys, deleted with Promise.all: about a thousand connections.
    r = worker.call("POST", "/api/cache/invalidate/prefix", {"prefix": "user:p"})
    assert r["deletedCount"] == 1000
    assert worker.call("GET", "/probe/list?prefix=user%3Ap")["keys"] == []
    assert daemon.get("/kv/CACHE?prefix=user:p", headers=AUTH).json()["keys"] == []


README_WORKER = """
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname === '/health') return new Response('ok');
    await env.CACHE.put('readme', 'works', { metadata: { from: 'README' }, expirationTtl: 600 });
    const got = await env.CACHE.getWithMetadata('readme');
    const listed = await env.CACHE.list();
    return Response.json({ got, names: listed.keys.map((k) => k.name) });
  },
};
"""


def test_readme_workerd_snippet_works_as_written(make_daemon):
    """The README's workerd config, with the daemon's address in place of 127.0.0.1:8788."""
    npm_env.workerd_binary()
    d = make_daemon(listen=[], config={"listen": [
        "127.0.0.1:0", {"address": "127.0.0.1:0", "kv_backend": "CACHE"}]})
    with open(os.path.join(os.path.dirname(HERE), "..", "README.md")) as f:
        text = f.read()
    block = text.split("<!-- workerd-snippet:begin -->", 1)[1].split("<!-- workerd-snippet:end")[0]
    cfg = block.split("\n", 2)[2].rsplit("```", 1)[0]
    host, port = d.tcp_address(1)
    assert "127.0.0.1:8788" in cfg
    w = Workerd(d.tmp, cfg.replace("127.0.0.1:8788", f"{host}:{port}"), README_WORKER)
    try:
        got = w.call("GET", "/")
        assert got == {"got": {"value": "works", "metadata": {"from": "README"},
                               "cacheStatus": None}, "names": ["readme"]}
        assert d.get("/kv/CACHE/readme").body == b"works"
    finally:
        w.close()
