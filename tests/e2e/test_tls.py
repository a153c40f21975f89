"""TLS end to end: HTTPS origins (a Python ssl origin) and TLS listeners (curl --cacert,
openssl s_client, Python ssl), with certificates the tests make with openssl (tls_certs.py)."""
import http.client
import os
import re
import socket
import ssl
import subprocess
import time

import pytest

from tls_certs import Pki
from tls_harness import TlsOrigin, client_ctx, https_get, https_proxy, peer_names, tls_daemon


@pytest.fixture
def pki(tmp_path):
    return Pki(tmp_path / "pki")


def test_https_origin_miss_then_hit(make_daemon, pki):
    cert, key = pki.leaf("origin", ["origin.test"])
    with TlsOrigin(cert, key) as origin:
        origin.route("/a", body=b"secret hello", headers={"Cache-Control": "max-age=60"})
        d = https_proxy(make_daemon, origin,
                        {"ca_file": pki.ca_cert, "server_name": "origin.test"})
        r = d.get("/a")
        assert r.status == 200 and r.body == b"secret hello"
        assert r.headers["x-cache"] == "MISS"
        r = d.get("/a")
        assert r.status == 200 and r.headers["x-cache"] == "HIT"
        assert origin.hits("/a") == 1
        # A pass-through request over a second pooled connection works too.
        origin.route("/b", body=b"b" * 100000)
        r = d.get("/b", headers={"Cache-Control": "no-store"}, fresh=True)
        assert r.status == 200 and r.body == b"b" * 100000


@pytest.mark.parametrize("case,reason", [
    ("wrong_name", "hostname mismatch"),
    ("expired", "certificate has expired"),
    ("self_signed", "self-signed certificate"),
    ("unknown_ca", "unable to get local issuer certificate"),
])
def test_https_origin_certificate_rejected_with_reason(make_daemon, pki, tmp_path, case, reason):
    if case == "wrong_name":
        cert, key = pki.leaf("origin", ["other.test"])
    elif case == "expired":
        cert, key = pki.leaf("origin", ["origin.test"], expired=True)
    elif case == "self_signed":
        cert, key = pki.leaf("origin", ["origin.test"], self_signed=True)
    else:
        cert, key = Pki(tmp_path / "other", "another CA").leaf("origin", ["origin.test"])
    with TlsOrigin(cert, key) as origin:
        origin.route("/a", body=b"never served")
        d = https_proxy(make_daemon, origin,
                        {"ca_file": pki.ca_cert, "server_name": "origin.test"})
        r = d.get("/a")
        assert r.status == 502 and r.json()["error"]["code"] == "origin_tls"
        assert origin.hits("/a") == 0
        d.wait_log(reason)


def test_https_origin_verify_false_accepts_self_signed(make_daemon, pki):
    cert, key = pki.leaf("origin", ["origin.test"], self_signed=True)
    with TlsOrigin(cert, key) as origin:
        origin.route("/a", body=b"ok")
        d = https_proxy(make_daemon, origin, {"verify": False})
        assert d.get("/a").body == b"ok"


def test_handshake_runs_under_connect_timeout(make_daemon, origin):
    # A plaintext origin never answers a ClientHello: the handshake is what times out.
    origin.route("/a", body=b"plain")
    d = make_daemon(config={"origins": {"o": {"url": f"https://{origin.address}",
                                               "connect_timeout_ms": 300, "timeout_ms": 3000}},
                            "routes": [{"prefix": "/", "origin": "o"}]})
    r = d.get("/a")
    assert r.status == 504 and b"origin_connect_timeout" in r.body


# -- TLS listeners ---------------------------------------------------------------------------

def test_tls_listener_serves_kv_and_health(make_daemon, pki):
    a = pki.leaf("a", ["a.test"])
    d = tls_daemon(make_daemon, pki, [a])
    status, body, peer = https_get(d, pki, "/health", "a.test")
    assert status == 200
    assert peer_names(peer) == ["a.test"]
    host, port = d.tcp_address(0)
    r = subprocess.run(["curl", "-sS", "--cacert", pki.ca_cert, "--resolve",
                        f"a.test:{port}:127.0.0.1", "-X", "PUT", "--data-binary", "v1",
                        f"https://a.test:{port}/kv/ns/k"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(["curl", "-sS", "--cacert", pki.ca_cert, "--resolve",
                        f"a.test:{port}:127.0.0.1", f"https://a.test:{port}/kv/ns/k"],
                       capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout == "v1", r.stderr
    # The plaintext listener beside it is unaffected.
    assert d.get("/kv/ns/k", listener=1).body == b"v1"
    # Expiry in /metrics: the certificate is valid for 30 days.
    m = d.admin("GET", "/metrics").text
    line = [l for l in m.splitlines()
            if l.startswith('edgecached_tls_certificate_expiry_seconds{name="a.test"')]
    assert line, m
    assert 29 * 86400 < float(line[0].rsplit(" ", 1)[1]) <= 30 * 86400
    # ... and in edgecachectl stats.
    from ectest import EDGECACHECTL
    r = subprocess.run([EDGECACHECTL, "--socket", d.admin_sock, "stats"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    # Made 30 days from now, within the last second or two: whole days left are 29 or 30.
    assert re.search(r"tls certificates\n  a\.test +expires in (29|30) days", r.stdout), r.stdout


def test_sni_picks_the_certificate(make_daemon, pki):
    certs = [pki.leaf("default", ["default.test"]), pki.leaf("b", ["b.test"]),
             pki.leaf("wild", ["*.wild.test"])]
    d = tls_daemon(make_daemon, pki, certs)
    assert peer_names(https_get(d, pki, "/health", "b.test")[2]) == ["b.test"]
    assert peer_names(https_get(d, pki, "/health", "x.wild.test")[2]) == ["*.wild.test"]
    host, port = d.tcp_address(0)
    out = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}",
                          "-servername", "unknown.test", "-CAfile", pki.ca_cert],
                         input="", capture_output=True, text=True, timeout=20).stdout
    assert "CN = default.test" in out


def test_tls_1_1_is_refused(make_daemon, pki):
    d = tls_daemon(make_daemon, pki, [pki.leaf("a", ["a.test"])])
    host, port = d.tcp_address(0)
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_1",
                        "-cipher", "DEFAULT@SECLEVEL=0", "-servername", "a.test"],
                       input="", capture_output=True, text=True, timeout=20)
    assert "Cipher is (NONE)" in r.stdout or r.returncode != 0
    assert "TLSv1.1" not in r.stdout.split("New,")[-1].split("\n")[0]


def test_plaintext_request_to_a_tls_port_is_closed(make_daemon, pki):
    d = tls_daemon(make_daemon, pki, [pki.leaf("a", ["a.test"])])
    out = d.raw(b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n")
    assert b"HTTP/1.1 200" not in out


def test_stalled_handshake_is_closed_at_the_timeout(make_daemon, pki):
    d = tls_daemon(make_daemon, pki, [pki.leaf("a", ["a.test"])],
                   {"handshake_timeout_ms": 300})
    host, port = d.tcp_address(0)
    s = socket.create_connection((host, port), timeout=10)
    s.sendall(b"\x16\x03\x01")  # the start of a ClientHello, then nothing
    start = time.time()
    assert s.recv(100) == b""
    assert time.time() - start < 8
    s.close()


def test_reload_swaps_the_certificate_and_keeps_open_connections(make_daemon, pki):
    cert, key = pki.leaf("a", ["a.test"])
    d = tls_daemon(make_daemon, pki, [(cert, key)])
    host, port = d.tcp_address(0)
    ctx = client_ctx(pki)
    conn = http.client.HTTPSConnection(host, port, timeout=10, context=ctx)
    conn.sock = ctx.wrap_socket(socket.create_connection((host, port)), server_hostname="a.test")
    conn.request("GET", "/health")
    assert conn.getresponse().read() is not None
    old_serial = conn.sock.getpeercert()["serialNumber"]
    # New certificate in the same files; the reload swaps it for new handshakes only.
    new_cert, new_key = pki.leaf("a2", ["a.test"])
    os.replace(new_cert, cert)
    os.replace(new_key, key)
    r = d.admin("POST", "/admin/reload")
    assert r.status == 200, r
    conn.request("GET", "/health")  # the keep-alive connection from before keeps working
    assert conn.getresponse().status == 200
    conn.close()
    status, _, peer = https_get(d, pki, "/health", "a.test")
    assert status == 200 and peer["serialNumber"] != old_serial


def test_reload_with_an_invalid_certificate_keeps_the_old_one(make_daemon, pki):
    cert, key = pki.leaf("a", ["a.test"])
    d = tls_daemon(make_daemon, pki, [(cert, key)])
    serial = https_get(d, pki, "/health", "a.test")[2]["serialNumber"]
    with open(cert, "w") as f:
        f.write("garbage\n")
    r = d.admin("POST", "/admin/reload")
    assert r.status == 400 and "no PEM certificate" in r.text
    assert https_get(d, pki, "/health", "a.test")[2]["serialNumber"] == serial


def test_health_checks_run_over_tls(make_daemon, pki):
    cert, key = pki.leaf("origin", ["origin.test"])
    with TlsOrigin(cert, key) as origin:
        origin.route("/healthz", body=b"ok")
        d = make_daemon(config={"origins": {"o": {
            "url": f"https://127.0.0.1:{origin.port}", "health_check": "/healthz",
            "health_interval_ms": 100,
            "tls": {"ca_file": pki.ca_cert, "server_name": "origin.test"}}},
            "routes": [{"prefix": "/", "origin": "o"}]})
        assert origin.wait_for_hits("/healthz", 2, timeout=10)
        servers = d.admin("GET", "/admin/origins").json()["origins"][0]["servers"]
        assert servers[0]["up"] is True


def test_https_origin_name_comes_from_the_host_override(make_daemon, pki):
    # No server_name: SNI and verification use the origin's `host` (without its port).
    cert, key = pki.leaf("origin", ["origin.test"])
    with TlsOrigin(cert, key) as origin:
        origin.route("/a", body=b"by host")
        d = make_daemon(config={"origins": {"o": {
            "url": f"https://127.0.0.1:{origin.port}", "host": "origin.test:8443",
            "tls": {"ca_file": pki.ca_cert}}},
            "routes": [{"prefix": "/", "origin": "o"}]})
        r = d.get("/a")
        assert r.status == 200 and r.body == b"by host"
        assert origin.last("/a").header("host") == "origin.test:8443"


def test_workerd_kv_backend_listener_over_tls(make_daemon, pki):
    cert, key = pki.leaf("kv", ["kv.test"])
    d = make_daemon(listen=[], config={"listen": [
        "127.0.0.1:0", {"address": "127.0.0.1:0", "kv_backend": "CACHE",
                        "tls": {"certificates": [{"cert": cert, "key": key}]}}]})
    assert d.put("/kv/CACHE/greeting", b"hello over TLS").status == 200
    host, port = d.tcp_address(1)
    ctx = client_ctx(pki)
    conn = http.client.HTTPSConnection(host, port, timeout=10, context=ctx)
    conn.sock = ctx.wrap_socket(socket.create_connection((host, port), timeout=10),
                                server_hostname="kv.test")
    conn.request("GET", "/greeting?urlencoded=true", headers={"Host": "fake-host"})
    r = conn.getresponse()
    assert r.status == 200 and r.read() == b"hello over TLS"
    conn.close()
