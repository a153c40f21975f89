"""Tiered caching (issue 16 item 5): a child edgecached whose origin is a parent edgecached
("parent": true) — Via names the node, a loop is answered 508, Cache-Status shows each layer."""
import http.client
import json
import signal
import socket
import time

from ectest import EDGECACHED, run_cli


def fetch(d, path, headers=None):
    """GET on a fresh connection; every line of a repeated field is kept (d.get keeps the last)."""
    host, port = d.tcp_address()
    conn = http.client.HTTPConnection(host, port, timeout=15)
    try:
        conn.request("GET", path, headers=headers or {})
        r = conn.getresponse()
        body = r.read()
        return r.status, r.msg, body
    finally:
        conn.close()


def wait_stored(d, path, headers, timeout=10):
    """Waits until d answers path from its cache (a fill's store commits asynchronously)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if fetch(d, path, headers)[1].get("X-Cache") == "HIT":
            return
        time.sleep(0.02)
    raise AssertionError("%s never became a hit" % path)


def parent_origin(d):
    return {"url": "http://%s:%d" % d.tcp_address(), "parent": True, "timeout_ms": 3000}


def proxy_config(origin, node=None):
    cfg = {"origins": {"o": origin}, "routes": [{"name": "r", "prefix": "/", "origin": "o"}]}
    if node:
        cfg["node"] = node
    return cfg


def test_child_parent_origin_shows_both_layers_and_names_the_child(make_daemon, origin):
    site = {"Host": "site.test"}  # children forward the client's Host: one key at the parent
    origin.route("/t", body=b"tiered", headers={"Cache-Control": "max-age=60"})
    parent = make_daemon(config=proxy_config({"url": origin.url}, node="parent-1"))
    child = make_daemon(config=proxy_config(parent_origin(parent), node="child-1"))

    status, h, body = fetch(child, "/t", site)
    assert (status, body) == (200, b"tiered")
    # RFC 9211 §2: the member of the cache nearest the origin first, ours last.
    assert h.get_all("Cache-Status") == ["parent-1; fwd=miss; fwd-status=200; stored",
                                         "child-1; fwd=miss; fwd-status=200; stored"]
    assert h.get_all("Via") == ["1.1 parent-1", "1.1 child-1"]
    assert h.get_all("X-Cache") == ["MISS", "MISS"]
    # The parent was asked with the child's name in Via, and added its own for the origin.
    assert origin.last("/t").header("via") == "1.1 child-1, 1.1 parent-1"

    # The child's hit keeps the parent's member from when the response was fetched.
    status, h, body = fetch(child, "/t", site)
    assert (status, body) == (200, b"tiered")
    cs = h.get_all("Cache-Status")
    assert cs[0] == "parent-1; fwd=miss; fwd-status=200; stored"
    assert cs[1].startswith("child-1; hit; ttl=") and len(cs) == 2
    assert h.get_all("X-Cache") == ["MISS", "HIT"]

    # A second child is served by the parent's stored copy: the origin is asked once.
    wait_stored(parent, "/t", site)
    child2 = make_daemon(config=proxy_config(parent_origin(parent), node="child-2"))
    status, h, body = fetch(child2, "/t", site)
    assert (status, body) == (200, b"tiered")
    cs = h.get_all("Cache-Status")
    assert cs[0].startswith("parent-1; hit; ttl=") and len(cs) == 2
    assert cs[1] == "child-2; fwd=miss; fwd-status=200; stored"
    assert origin.hits("/t") == 1


def test_a_loop_between_two_parents_is_answered_508(make_daemon, origin):
    origin.route("/x", body=b"never", headers={"Cache-Control": "max-age=60"})
    a = make_daemon(config=proxy_config({"url": origin.url}, node="node-a"))
    b = make_daemon(config=proxy_config(parent_origin(a), node="node-b"))
    # Now point A at B: A → B → A.
    with open(a.tmp + "/config.json", "w") as f:
        json.dump(proxy_config(parent_origin(b), node="node-a"), f)
    a.send_signal(signal.SIGHUP)
    a.wait_log("configuration reloaded")

    status, h, body = fetch(a, "/x")
    assert status == 508, body
    err = json.loads(body)["error"]
    assert err["code"] == "loop_detected" and "node-a" in err["message"]
    # A's own answer to B is not stored anywhere: asking again loops again, never the origin.
    assert fetch(a, "/x")[0] == 508
    assert fetch(b, "/x")[0] == 508
    assert origin.hits("/x") == 0
    assert "no-store" in h.get("Cache-Control", "")


def test_via_to_a_parent_defaults_to_the_host_name(make_daemon, origin):
    # origin.py stands in for the parent: it shows what a parent receives.
    origin.route("/h", body=b"ok", headers={"Cache-Control": "max-age=60"})
    child = make_daemon(config=proxy_config({"url": origin.url, "parent": True}))
    status, h, _ = fetch(child, "/h", headers={"Via": "1.0 client-proxy (Squid/6)"})
    assert status == 200
    me = socket.gethostname()
    assert origin.last("/h").header("via") == "1.0 client-proxy (Squid/6), 1.1 " + me
    # Clients are not shown the host name unless it was chosen as the node's name.
    assert h.get_all("Via") == ["1.1 edgecached"]
    assert h.get("Cache-Status").startswith("edgecached; fwd=miss")
    # A request that already passed through this host comes back: a loop, whatever the
    # protocol version, letter case or comment.
    for via in ["1.1 " + me, "1.0 other, 1.1 %s (edgecached)" % me.upper(), "HTTP/1.1 " + me]:
        assert fetch(child, "/h", headers={"Via": via})[0] == 508, via
    # A name only inside a comment, or as a prefix of another name, is not ours.
    for via in ["1.1 other (via %s)" % me, "1.1 %s-2" % me]:
        assert fetch(child, "/h", headers={"Via": via})[0] == 200, via


def test_an_ordinary_origin_is_sent_the_shown_name(make_daemon, origin):
    origin.route("/p", body=b"ok", headers={"Cache-Control": "max-age=60"})
    plain = make_daemon(config=proxy_config({"url": origin.url}))
    fetch(plain, "/p")
    assert origin.last("/p").header("via") == "1.1 edgecached"
    named = make_daemon(config=proxy_config({"url": origin.url}, node="edge-a"))
    fetch(named, "/p?n")
    assert origin.last("/p").header("via") == "1.1 edge-a"


def test_node_and_fleet_node_must_agree(tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"node": "edge-a",
                               "fleet": {"nats": ["nats://127.0.0.1:4222"], "node": "edge-b"}}))
    r = run_cli([EDGECACHED, "--config", str(cfg), "--check-config"], capture_output=True,
                text=True, timeout=10)
    assert r.returncode == 1
    assert "fleet.node" in r.stderr and "edge-a" in r.stderr and "edge-b" in r.stderr
    cfg.write_text(json.dumps({"node": "bad name"}))
    r = run_cli([EDGECACHED, "--config", str(cfg), "--check-config"], capture_output=True,
                text=True, timeout=10)
    assert r.returncode == 1 and "node" in r.stderr
