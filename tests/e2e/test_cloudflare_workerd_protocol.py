"""The workerd KV backend protocol on a kv_backend listener, spoken as workerd's kv.c++ does."""
import json
import selectors
import socket
import urllib.parse

import pytest

H = {"Host": "fake-host"}


@pytest.fixture
def kvd(make_daemon):
    """A daemon with a data listener (0) and a kv_backend listener (1) for namespace CACHE."""
    return make_daemon(listen=[], config={"listen": [
        "127.0.0.1:0", {"address": "127.0.0.1:0", "kv_backend": "CACHE"}]})


def kv(d, method, path, body=None, headers=None):
    return d.request(method, path, body=body, headers={**H, **(headers or {})}, listener=1)


def test_put_get_delete_with_metadata(kvd):
    r = kv(kvd, "PUT", "/greeting?urlencoded=true", b"Hello",
           {"CF-KV-Metadata": '{"lang": "en"}', "Content-Type": "text/plain;charset=UTF-8"})
    assert r.status == 200, r
    r = kv(kvd, "GET", "/greeting?urlencoded=true&cache_ttl=300")
    assert r.status == 200 and r.body == b"Hello"
    assert r.headers["cf-kv-metadata"] == '{"lang":"en"}'
    assert "expiration" not in r.headers
    kv(kvd, "PUT", "/ttl?urlencoded=true&expiration_ttl=120", b"t")
    exp = int(kv(kvd, "GET", "/ttl?urlencoded=true").headers["expiration"])
    assert exp == pytest.approx(kvd.now() + 120, abs=2)
    # The same namespace the native routes call CACHE.
    assert kvd.get("/kv/CACHE/greeting").body == b"Hello"
    assert kv(kvd, "DELETE", "/greeting?urlencoded=true").status == 200
    assert kv(kvd, "DELETE", "/greeting?urlencoded=true").status == 200
    r = kv(kvd, "GET", "/greeting?urlencoded=true")
    assert r.status == 404 and "cf-kv-metadata" not in r.headers
    r = kv(kvd, "PUT", "/plain?urlencoded=true", b"v")
    assert "cf-kv-metadata" not in kv(kvd, "GET", "/plain?urlencoded=true").headers


def test_keys_are_decoded_once_and_plus_stays_plus(kvd):
    # GET and PUT leave sub-delims raw, DELETE uses encodeURIComponent: all name one key.
    for raw, key in [("a+b", "a+b"), ("a%2Bb", "a+b"), ("x%2Fy", "x/y"), ("x/y", "x/y"),
                     ("%2541", "%41"), ("sp%20ace", "sp ace"), ("!$&'()*,;=:@", "!$&'()*,;=:@")]:
        assert kv(kvd, "PUT", f"/{raw}?urlencoded=true", key.encode()).status == 200
        assert kv(kvd, "GET", f"/{raw}?urlencoded=true").body == key.encode()
    names = [k["name"] for k in kv(kvd, "GET", "/").json()["keys"]]
    assert sorted(names) == sorted(["a+b", "x/y", "%41", "sp ace", "!$&'()*,;=:@"])
    assert kv(kvd, "DELETE", "/" + urllib.parse.quote("a+b", safe="") + "?urlencoded=true")\
        .status == 200
    assert kv(kvd, "GET", "/a+b?urlencoded=true").status == 404
    # Paths that look like other routes are keys here.
    assert kv(kvd, "PUT", "/health?urlencoded=true", b"h").status == 200
    assert kv(kvd, "GET", "/health").body == b"h"
    assert kv(kvd, "PUT", "/bulk%2Fget?urlencoded=true", b"bg").status == 200
    assert kvd.get("/kv/CACHE/bulk%2Fget").body == b"bg"


def test_list_is_form_encoded_with_metadata_as_json_strings(kvd):
    exp = kvd.now() + 3600
    kv(kvd, "PUT", f"/a%20b?urlencoded=true&expiration={exp}", b"1", {"CF-KV-Metadata": '{"m":1}'})
    kv(kvd, "PUT", "/a+b?urlencoded=true", b"2", {"CF-KV-Metadata": '"just a string"'})
    kv(kvd, "PUT", "/c?urlencoded=true", b"3")
    body = kv(kvd, "GET", "/").json()
    assert body == {"keys": [{"name": "a b", "expiration": exp, "metadata": '{"m":1}'},
                             {"name": "a+b", "metadata": '"just a string"'},
                             {"name": "c"}], "list_complete": True}
    # In the query '+' is a space: prefix=a+ is "a ", and a literal '+' comes as %2B.
    assert [k["name"] for k in kv(kvd, "GET", "/?prefix=a+").json()["keys"]] == ["a b"]
    assert [k["name"] for k in kv(kvd, "GET", "/?prefix=a%2B").json()["keys"]] == ["a+b"]


def test_list_cursor_pages_and_limit_errors(kvd):
    for i in range(7):
        kv(kvd, "PUT", f"/k{i}?urlencoded=true", b"v")
    seen, cursor = [], None
    while True:
        q = "key_count_limit=3" + (f"&cursor={urllib.parse.quote_plus(cursor)}" if cursor else "")
        page = kv(kvd, "GET", f"/?{q}").json()
        seen += [k["name"] for k in page["keys"]]
        if page["list_complete"]:
            assert "cursor" not in page
            break
        cursor = page["cursor"]
    assert seen == [f"k{i}" for i in range(7)]
    assert len(kv(kvd, "GET", "/").json()["keys"]) == 7  # no limit given: up to 1000
    r = kv(kvd, "GET", "/?key_count_limit=1001")
    assert r.status == 400 and "key_count_limit" in r.reason
    assert kv(kvd, "GET", "/?cursor=%21%21").status == 400


def test_bulk_get_returns_the_map_itself(kvd):
    kv(kvd, "PUT", "/t?urlencoded=true&expiration_ttl=600", b"text")
    kv(kvd, "PUT", "/j?urlencoded=true", b'{"a": [1, 2]}', {"CF-KV-Metadata": '{"ts":1}'})
    r = kv(kvd, "POST", "/bulk/get", b'{"keys":["t","j","none"]}',
           {"Content-Type": "application/json"})
    assert r.json() == {"t": "text", "j": '{"a": [1, 2]}', "none": None}
    r = kv(kvd, "POST", "/bulk/get", b'{"keys":["j"],"type":"json","cacheTtl":"60"}')
    assert r.json() == {"j": {"a": [1, 2]}}
    r = kv(kvd, "POST", "/bulk/get", b'{"keys":["t","j","none"],"withMetadata":true}')
    # {value, metadata} only: no expiration, as workerd's Map values carry.
    assert r.json() == {"t": {"value": "text", "metadata": None},
                        "j": {"value": '{"a": [1, 2]}', "metadata": {"ts": 1}}, "none": None}
    r = kv(kvd, "POST", "/bulk/get", b'{"keys":["t"],"type":"json"}')
    assert r.status == 400
    r = kv(kvd, "POST", "/bulk/get", json.dumps({"keys": [str(i) for i in range(101)]}).encode())
    assert r.status == 400


def test_rules_are_enforced_with_reason_phrases(kvd):
    r = kv(kvd, "PUT", "/k?urlencoded=true&expiration_ttl=5", b"v")
    assert r.status == 400
    assert r.reason == "Invalid expiration_ttl of 5. Expiration TTL must be at least 60."
    r = kv(kvd, "PUT", f"/k?urlencoded=true&expiration={kvd.now() + 10}", b"v")
    assert r.status == 400 and r.reason.startswith("Invalid expiration of ")
    r = kv(kvd, "PUT", "/k?urlencoded=true", b"v", {"CF-KV-Metadata": '"' + "m" * 1100 + '"'})
    assert r.status == 400 and "metadata" in r.reason
    r = kv(kvd, "PUT", "/k?urlencoded=true", b"v", {"CF-KV-Metadata": "{oops"})
    assert r.status == 400 and "metadata" in r.reason
    r = kv(kvd, "PUT", "/" + "k" * 513 + "?urlencoded=true", b"v")
    assert r.status == 414
    assert kv(kvd, "GET", "/k").status == 404
    assert kv(kvd, "POST", "/k").status == 405


def test_expiry_follows_the_daemon_clock(kvd):
    kv(kvd, "PUT", "/short?urlencoded=true&expiration_ttl=60", b"v")
    # Wall time keeps running under the offset: leave a second's margin either side.
    kvd.advance_clock(58)
    assert kv(kvd, "GET", "/short?urlencoded=true").status == 200
    kvd.advance_clock(3)
    assert kv(kvd, "GET", "/short?urlencoded=true").status == 404
    assert kv(kvd, "GET", "/").json()["keys"] == []


def test_api_token_is_required(make_daemon):
    d = make_daemon(listen=[], config={"api_token": "tok", "listen": [
        "127.0.0.1:0", {"address": "127.0.0.1:0", "kv_backend": "CACHE"}]})
    r = kv(d, "PUT", "/k?urlencoded=true", b"v")
    assert r.status == 401 and r.reason.startswith("Unauthorized")
    r = kv(d, "PUT", "/k?urlencoded=true", b"v", {"Authorization": "Bearer tok"})
    assert r.status == 200
    assert kv(d, "GET", "/k", headers={"Authorization": "Bearer tok"}).body == b"v"


def test_a_thousand_concurrent_connections(kvd):
    """A Worker deleting a page of keys with Promise.all opens about a thousand at once."""
    n = 1000
    entries = [{"key": f"p{i:04d}", "value": "v"} for i in range(n)]
    assert kvd.put("/kv/CACHE", json.dumps(entries).encode()).status == 200
    host, port = kvd.tcp_address(1)
    sel = selectors.DefaultSelector()
    socks = []
    try:
        for i in range(n):
            s = socket.create_connection((host, port), timeout=10)
            socks.append(s)
        # Every connection is open before any request is sent.
        for i, s in enumerate(socks):
            s.sendall(f"DELETE /p{i:04d}?urlencoded=true HTTP/1.1\r\nHost: fake-host\r\n"
                      "Content-Length: 0\r\n\r\n".encode())
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ, bytearray())
        done = 0
        statuses = set()
        while done < n:
            events = sel.select(timeout=20)
            assert events, f"only {done} of {n} answered"
            for key, _ in events:
                chunk = key.fileobj.recv(4096)
                key.data.extend(chunk)
                if b"\r\n\r\n" in key.data or not chunk:
                    statuses.add(bytes(key.data[:12]))
                    sel.unregister(key.fileobj)
                    done += 1
        assert statuses == {b"HTTP/1.1 200"}, statuses
    finally:
        for s in socks:
            s.close()
    assert kvd.get("/kv/CACHE").json()["keys"] == []
