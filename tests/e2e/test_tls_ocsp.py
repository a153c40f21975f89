"""OCSP stapling on a TLS listener (issue 15): a certificate's `ocsp` file is stapled for a client
that asks (status_request), for the certificate its SNI name picked; a client that does not ask
gets none; a reload rereads the file and staples the new response."""
import os
import subprocess

import pytest

from tls_certs import Pki
from tls_harness import tls_daemon


@pytest.fixture
def pki(tmp_path):
    return Pki(tmp_path / "pki")


def s_client(d, pki, name, *args):
    """openssl s_client's report of one handshake with the daemon's TLS listener."""
    host, port = d.tcp_address(0)
    r = subprocess.run(["openssl", "s_client", "-connect", f"{host}:{port}", "-servername", name,
                        "-CAfile", pki.ca_cert, "-verify_return_error", *args],
                       input="", capture_output=True, text=True, timeout=20)
    assert "Verify return code: 0 (ok)" in r.stdout, r.stdout + r.stderr
    return r.stdout


def stapled_status(report):
    """The certificate status in the stapled OCSP response, or None when none was sent."""
    if "OCSP response: no response sent" in report:
        return None
    assert "OCSP Response Status: successful" in report, report
    for line in report.splitlines():
        if line.strip().startswith("Cert Status:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError("a stapled response without a Cert Status:\n" + report)


def produced_at(report):
    lines = [l.strip() for l in report.splitlines() if l.strip().startswith("Produced At:")]
    assert len(lines) == 1, report
    return lines[0]


def openssl_text(*args):
    return subprocess.run(["openssl", *args], capture_output=True, text=True, check=True).stdout


def ocsp_daemon(make_daemon, pki, tmp_path):
    """A listener with a.test (no ocsp, the default) and b.test (stapling b.der)."""
    a = pki.leaf("a", ["a.test"])
    b_cert, b_key = pki.leaf("b", ["b.test"])
    der = pki.ocsp_response(b_cert, str(tmp_path / "b.der"))
    d = make_daemon(config={"listen": [{"address": "127.0.0.1:0", "tls": {"certificates": [
        {"cert": a[0], "key": a[1]},
        {"cert": b_cert, "key": b_key, "ocsp": der}]}}, "127.0.0.1:0"]}, listen=[])
    return d, b_cert, der


def test_the_ocsp_response_is_stapled_for_a_client_that_asks(make_daemon, pki, tmp_path):
    d, _, der = ocsp_daemon(make_daemon, pki, tmp_path)
    for version in ("-tls1_3", "-tls1_2"):
        assert stapled_status(s_client(d, pki, "b.test", "-status", version)) == "good"
    # The certificate without an ocsp file staples nothing even when asked.
    assert stapled_status(s_client(d, pki, "a.test", "-status")) is None
    # The stapled response is the file's (its own production time), not one made up.
    assert produced_at(s_client(d, pki, "b.test", "-status")) == produced_at(
        openssl_text("ocsp", "-respin", der, "-resp_text", "-noverify"))


def test_a_client_that_does_not_ask_gets_no_ocsp_response(make_daemon, pki, tmp_path):
    d, _, _ = ocsp_daemon(make_daemon, pki, tmp_path)
    # TLS 1.2 sends a stapled response as its own CertificateStatus handshake message and the
    # ServerHello acknowledges status_request; neither appears unless the client asked.
    report = s_client(d, pki, "b.test", "-tls1_2", "-msg", "-tlsextdebug")
    assert "CertificateStatus" not in report
    assert "status request" not in report
    asked = s_client(d, pki, "b.test", "-tls1_2", "-msg", "-tlsextdebug", "-status")
    assert "CertificateStatus" in asked and "status request" in asked


def test_a_reload_staples_the_new_response_file(make_daemon, pki, tmp_path):
    d, b_cert, der = ocsp_daemon(make_daemon, pki, tmp_path)
    assert stapled_status(s_client(d, pki, "b.test", "-status")) == "good"
    # The operator's refresh job writes a new response over the file, then reloads.
    pki.revoke(b_cert)
    fresh = pki.ocsp_response(b_cert, der + ".new")
    os.replace(fresh, der)
    assert stapled_status(s_client(d, pki, "b.test", "-status")) == "good", "stapled before reload"
    assert d.admin("POST", "/admin/reload").status == 200
    assert stapled_status(s_client(d, pki, "b.test", "-status")) == "revoked"


def test_a_reload_refuses_a_missing_ocsp_file_and_keeps_stapling(make_daemon, pki, tmp_path):
    d, _, der = ocsp_daemon(make_daemon, pki, tmp_path)
    os.rename(der, der + ".gone")
    r = d.admin("POST", "/admin/reload")
    assert r.status == 400
    assert "OCSP response" in r.text, r.text
    os.rename(der + ".gone", der)
    assert stapled_status(s_client(d, pki, "b.test", "-status")) == "good"
