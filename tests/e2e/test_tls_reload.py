"""TLS and reloads: a reload that names other certificate files, turns TLS on or off, or changes
admin_tls acts on the listener that is already bound (same port, open connections keep their
session), and the TCP admin API over admin_tls (issue 15 item 3)."""
import http.client
import json
import os
import re
import signal
import socket
import ssl

import pytest

from tls_certs import Pki
from tls_harness import client_ctx, https_get, peer_names, tls_daemon


@pytest.fixture
def pki(tmp_path):
    return Pki(tmp_path / "pki")


def rewrite_config(d, cfg):
    d.config = cfg
    with open(os.path.join(d.tmp, "config.json"), "w") as f:
        json.dump(cfg, f)


def keep_alive(host, port, pki, name):
    """An HTTPS keep-alive connection that has answered one request."""
    ctx = client_ctx(pki)
    conn = http.client.HTTPSConnection(host, port, timeout=10, context=ctx)
    conn.sock = ctx.wrap_socket(socket.create_connection((host, port), timeout=10),
                                server_hostname=name)
    conn.request("GET", "/health", headers={"Host": name})
    r = conn.getresponse()
    assert r.status == 200
    r.read()
    return conn


def still_answers(conn):
    conn.request("GET", "/health")
    r = conn.getresponse()
    r.read()
    return r.status == 200


def listening_lines(d):
    return re.findall(r"listening on \S+ \(", d.log())


def test_reload_with_new_certificate_files_swaps_them_on_the_same_port(make_daemon, pki):
    d = tls_daemon(make_daemon, pki, [pki.leaf("a", ["a.test"])])
    host, port = d.tcp_address(0)
    conn = keep_alive(host, port, pki, "a.test")
    old_serial = conn.sock.getpeercert()["serialNumber"]
    bound = listening_lines(d)
    # Other files, another name, a second certificate: the listen entry's address is the same.
    cfg = dict(d.config)
    listener = dict(cfg["listen"][0])
    listener["tls"] = {"certificates": [
        {"cert": c, "key": k} for c, k in (pki.leaf("renewed", ["a.test", "new.test"]),
                                           pki.leaf("b", ["b.test"]))]}
    cfg["listen"] = [listener] + cfg["listen"][1:]
    rewrite_config(d, cfg)
    r = d.admin("POST", "/admin/reload")
    assert r.status == 200, r
    assert r.json()["changes"] == ["listen"]
    assert listening_lines(d) == bound, "the reload bound the address again"
    assert "no longer listening" not in d.log()
    # The connection from before keeps its session; new handshakes on the same port get the
    # new certificates, chosen by SNI.
    assert still_answers(conn)
    assert conn.sock.getpeercert()["serialNumber"] == old_serial
    conn.close()
    status, _, peer = https_get(d, pki, "/health", "a.test")
    assert status == 200 and peer_names(peer) == ["a.test", "new.test"]
    assert peer["serialNumber"] != old_serial
    assert peer_names(https_get(d, pki, "/health", "b.test")[2]) == ["b.test"]
    # /metrics lists what is served now.
    m = d.admin("GET", "/metrics").text
    served = re.findall(r'expiry_seconds\{name="([^"]+)",file="[^"]*/([^"/]+)"', m)
    assert served == [("a.test", "renewed.pem"), ("b.test", "b.pem")], m


def test_reload_turns_tls_on_and_off_on_the_same_port(make_daemon, pki):
    d = make_daemon(listen=[], config={"listen": ["127.0.0.1:0"]})
    host, port = d.tcp_address(0)
    plain = http.client.HTTPConnection(host, port, timeout=10)
    plain.request("GET", "/health")
    assert plain.getresponse().read() is not None
    cert, key = pki.leaf("a", ["a.test"])
    tls_on = {"address": "127.0.0.1:0", "tls": {"certificates": [{"cert": cert, "key": key}]}}
    rewrite_config(d, {"listen": [tls_on]})
    assert d.admin("POST", "/admin/reload").status == 200
    # New connections handshake; the plaintext one from before still works.
    status, _, peer = https_get(d, pki, "/health", "a.test")
    assert status == 200 and peer_names(peer) == ["a.test"]
    d.wait_log(rf"reload: 127\.0\.0\.1:{port} now speaks TLS")
    assert still_answers(plain)
    tls_conn = keep_alive(host, port, pki, "a.test")
    rewrite_config(d, {"listen": ["127.0.0.1:0"]})
    assert d.admin("POST", "/admin/reload").status == 200
    assert d.get("/health", fresh=True).status == 200
    d.wait_log(rf"reload: 127\.0\.0\.1:{port} no longer speaks TLS")
    assert still_answers(tls_conn)
    assert len(listening_lines(d)) == 1
    plain.close()
    tls_conn.close()


def admin_tls_daemon(make_daemon, pki, cert_key):
    cert, key = cert_key
    d = make_daemon(config={"admin_listen": "127.0.0.1:0", "admin_token": "t0ken",
                            "admin_tls": {"certificates": [{"cert": cert, "key": key}]}})
    host, port = re.search(r"admin API on (\S+):(\d+)", d.log()).groups()
    return d, host, int(port)


def admin_stats(conn):
    conn.request("GET", "/admin/stats", headers={"Authorization": "Bearer t0ken"})
    r = conn.getresponse()
    r.read()
    return r.status


def admin_conn(host, port, pki, name):
    ctx = client_ctx(pki)
    conn = http.client.HTTPSConnection(host, port, timeout=10, context=ctx)
    conn.sock = ctx.wrap_socket(socket.create_connection((host, port), timeout=10),
                                server_hostname=name)
    return conn


def test_admin_api_over_tls_and_its_reload(make_daemon, pki):
    d, host, port = admin_tls_daemon(make_daemon, pki, pki.leaf("adm", ["adm.test"]))
    conn = admin_conn(host, port, pki, "adm.test")
    assert admin_stats(conn) == 200
    assert peer_names(conn.sock.getpeercert()) == ["adm.test"]
    # Plaintext HTTP on the TLS admin port gets no answer.
    plain = http.client.HTTPConnection(host, port, timeout=10)
    with pytest.raises((http.client.HTTPException, ConnectionError)):
        admin_stats(plain)
    # Its certificate is in /metrics beside the listeners'.
    assert 'edgecached_tls_certificate_expiry_seconds{name="adm.test"' in \
        d.admin("GET", "/metrics").text
    # A reload naming other files swaps the certificate on the same port; the open admin
    # connection keeps its session.
    cert, key = pki.leaf("adm2", ["adm2.test"])
    cfg = dict(d.config, admin_tls={"certificates": [{"cert": cert, "key": key}]})
    rewrite_config(d, cfg)
    r = d.admin("POST", "/admin/reload")
    assert r.status == 200 and r.json()["changes"] == ["admin_tls"], r
    assert admin_stats(conn) == 200
    conn.close()
    fresh = admin_conn(host, port, pki, "adm2.test")
    assert admin_stats(fresh) == 200
    assert peer_names(fresh.sock.getpeercert()) == ["adm2.test"]
    fresh.close()
    m = d.admin("GET", "/metrics").text
    assert 'name="adm2.test"' in m and 'name="adm.test"' not in m
    # admin_tls removed: the same port answers plaintext.
    rewrite_config(d, {k: v for k, v in cfg.items() if k != "admin_tls"})
    assert d.admin("POST", "/admin/reload").status == 200
    plain = http.client.HTTPConnection(host, port, timeout=10)
    assert admin_stats(plain) == 200
    plain.close()
    assert "edgecached_tls_certificate_expiry_seconds{" not in d.admin("GET", "/metrics").text


def test_admin_tls_added_by_a_reload_applies_to_the_bound_admin_port(make_daemon, pki):
    d = make_daemon(config={"admin_listen": "127.0.0.1:0", "admin_token": "t0ken"})
    host, port = re.search(r"admin API on (\S+):(\d+)", d.log()).groups()
    port = int(port)
    cert, key = pki.leaf("adm", ["adm.test"])
    rewrite_config(d, dict(d.config, admin_tls={"certificates": [{"cert": cert, "key": key}]}))
    assert d.admin("POST", "/admin/reload").status == 200
    conn = admin_conn(host, port, pki, "adm.test")
    assert admin_stats(conn) == 200
    conn.close()


def test_reload_refuses_an_admin_tls_key_that_does_not_match(make_daemon, pki):
    d, host, port = admin_tls_daemon(make_daemon, pki, pki.leaf("adm", ["adm.test"]))
    cert, _ = pki.leaf("adm2", ["adm2.test"])
    _, other_key = pki.leaf("other", ["other.test"])
    rewrite_config(d, dict(d.config, admin_tls={"certificates": [{"cert": cert,
                                                                   "key": other_key}]}))
    r = d.admin("POST", "/admin/reload")
    assert r.status == 400 and "admin_tls" in r.text and "adm2.pem" in r.text, r
    conn = admin_conn(host, port, pki, "adm.test")
    assert admin_stats(conn) == 200
    assert peer_names(conn.sock.getpeercert()) == ["adm.test"]
    conn.close()


def test_a_refused_key_file_is_named_never_shown(make_daemon, pki):
    cert, key = pki.leaf("a", ["a.test"])
    d = tls_daemon(make_daemon, pki, [(cert, key)])
    with open(key, "w") as f:
        f.write("-----BEGIN PRIVATE KEY-----\nTOPSECRETKEYMATERIAL\n-----END PRIVATE KEY-----\n")
    r = d.admin("POST", "/admin/reload")
    assert r.status == 400 and "a.key" in r.text, r
    assert "TOPSECRET" not in r.text
    d.send_signal(signal.SIGHUP)
    d.wait_log("reload refused")
    assert "TOPSECRET" not in d.log()
    assert https_get(d, pki, "/health", "a.test")[0] == 200
