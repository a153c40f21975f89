"""Issue 11 defect 14, what origins learn about the client: X-Forwarded-For, X-Forwarded-Proto, Forwarded, and
trusted_proxies deciding whether a client's own forwarding headers are believed."""


def fetch(d, origin, path, headers=None):
    origin.route(path, body=b"ok")
    r = d.get(path, headers=headers or {})
    assert r.status == 200
    return origin.last(path)


def test_regress_origin_learns_client_address(make_proxy, origin):
    """Issue 11 defect 14: the origin never learnt the client address. A client's own
    X-Forwarded-For is not believed from an untrusted peer: it is replaced, not appended to."""
    d = make_proxy(origin)
    req = fetch(d, origin, "/plain")
    assert req.header_all("x-forwarded-for") == ["127.0.0.1"]
    assert req.header("x-forwarded-proto") == "http"
    assert req.header_all("forwarded") == ["for=127.0.0.1;proto=http"]

    req = fetch(d, origin, "/spoof", {"X-Forwarded-For": "203.0.113.9",
                                      "X-Forwarded-Proto": "https",
                                      "Forwarded": "for=203.0.113.9"})
    assert req.header_all("x-forwarded-for") == ["127.0.0.1"]
    assert req.header("x-forwarded-proto") == "http"
    assert req.header_all("forwarded") == ["for=127.0.0.1;proto=http"]


def test_trusted_proxy_chain_is_kept_and_appended(make_proxy, origin):
    d = make_proxy(origin, config={"trusted_proxies": ["10.0.0.0/8", "127.0.0.1"]})
    req = fetch(d, origin, "/chain", {"X-Forwarded-For": "203.0.113.9, 10.1.2.3",
                                      "X-Forwarded-Proto": "https",
                                      "Forwarded": "for=203.0.113.9;proto=https"})
    assert req.header_all("x-forwarded-for") == ["203.0.113.9, 10.1.2.3, 127.0.0.1"]
    assert req.header("x-forwarded-proto") == "https"
    assert req.header_all("forwarded") == [
        "for=203.0.113.9;proto=https, for=127.0.0.1;proto=http"]


def test_untrusted_range_does_not_match(make_proxy, origin):
    d = make_proxy(origin, config={"trusted_proxies": ["127.0.0.2/32", "::1"]})
    req = fetch(d, origin, "/other", {"X-Forwarded-For": "203.0.113.9"})
    assert req.header_all("x-forwarded-for") == ["127.0.0.1"]


def test_forwarding_headers_can_be_turned_off(make_proxy, origin):
    """Off means untouched: the client's headers pass as they came, nothing is added."""
    d = make_proxy(origin, config={"x_forwarded": False, "forwarded": False})
    req = fetch(d, origin, "/off", {"X-Forwarded-For": "203.0.113.9"})
    assert req.header_all("x-forwarded-for") == ["203.0.113.9"]
    assert req.header("x-forwarded-proto") is None
    assert req.header("forwarded") is None


def test_bad_trusted_proxies_entry_is_refused(make_daemon):
    from ectest import Daemon
    d = make_daemon(start=False, config={"trusted_proxies": ["10.0.0.0/33"]})
    import subprocess
    p = subprocess.run(d.command() + ["--check-config"], capture_output=True, text=True)
    assert p.returncode != 0
    assert "trusted_proxies[0]" in p.stderr and "prefix length must be 0 to 32" in p.stderr, \
        p.stderr
