"""Cloudflare KV REST v4 routes over raw HTTP: envelope, codes, multipart, listing, bulk, auth."""
import json
import urllib.parse

import pytest

API = "/client/v4/accounts/acct123/storage/kv/namespaces"


def ok(r):
    assert r.status == 200, r
    body = r.json()
    assert body["success"] is True and body["errors"] == [] and body["messages"] == [], body
    return body


def err(r, status, code):
    assert r.status == status, r
    body = r.json()
    assert body["success"] is False and body["result"] is None, body
    assert body["messages"] == []
    assert body["errors"][0]["code"] == code, body
    return body["errors"][0]["message"]


def create(d, title):
    return ok(d.post(API, json.dumps({"title": title}).encode()))["result"]


def form(parts, boundary="XbOuNdArY"):
    """multipart/form-data body from (name, bytes, filename-or-None) tuples."""
    out = b""
    for name, data, filename in parts:
        disp = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{boundary}\r\nContent-Disposition: {disp}\r\n".encode()
        if filename:
            out += b"Content-Type: application/octet-stream\r\n"
        out += b"\r\n" + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return out, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


@pytest.fixture
def ns(daemon):
    return create(daemon, "rest")


def test_namespace_crud_and_envelope(daemon):
    a = create(daemon, "alpha")
    assert set(a) == {"id", "title", "supports_url_encoding"}
    assert len(a["id"]) == 32 and a["title"] == "alpha"
    assert ok(daemon.get(f"{API}/{a['id']}"))["result"] == a
    msg = err(daemon.post(API, b'{"title":"alpha"}'), 400, 10014)
    assert msg == "a namespace with this account ID and title already exists"
    err(daemon.post(API, b'{"title":"a/b"}'), 400, 10019)
    err(daemon.post(API, b'{"title":""}'), 400, 10019)
    err(daemon.post(API, b'{"name":"x"}'), 400, 10012)
    err(daemon.post(API, b"not json"), 400, 10012)
    r = ok(daemon.put(f"{API}/{a['id']}", b'{"title":"beta"}'))["result"]
    assert r == {"id": a["id"], "title": "beta", "supports_url_encoding": True}
    assert ok(daemon.delete(f"{API}/{a['id']}"))["result"] == {}
    assert err(daemon.get(f"{API}/{a['id']}"), 404, 10013) == "namespace not found"
    err(daemon.delete(f"{API}/{a['id']}"), 404, 10013)
    err(daemon.put(f"{API}/{a['id']}", b'{"title":"x"}'), 404, 10013)
    # Ids that are not 32 lowercase hex name no namespace either.
    for bad in ["xyz", a["id"].upper(), a["id"] + "0"]:
        err(daemon.get(f"{API}/{bad}"), 404, 10013)


def test_namespace_listing_pages_order_and_bounds(daemon):
    titles = [f"t{i:02d}" for i in range(25)]
    for t in titles:
        create(daemon, t)
    body = ok(daemon.get(f"{API}"))
    assert [n["title"] for n in body["result"]] == titles[:20]  # per_page defaults to 20
    assert body["result_info"] == {"page": 1, "per_page": 20, "count": 20, "total_count": 25,
                                   "total_pages": 2}
    body = ok(daemon.get(f"{API}?page=2&per_page=20"))
    assert [n["title"] for n in body["result"]] == titles[20:]
    body = ok(daemon.get(f"{API}?page=3&per_page=20"))
    assert body["result"] == [] and body["result_info"]["count"] == 0
    desc = ok(daemon.get(f"{API}?order=title&direction=desc&per_page=1000"))["result"]
    assert [n["title"] for n in desc] == titles[::-1]
    by_id = ok(daemon.get(f"{API}?order=id&per_page=1000"))["result"]
    assert [n["id"] for n in by_id] == sorted(n["id"] for n in by_id)
    for q in ["per_page=0", "per_page=1001", "page=0", "page=x", "order=size", "direction=up"]:
        err(daemon.get(f"{API}?{q}"), 400, 10024)


def test_native_and_cloudflare_routes_share_namespaces(daemon):
    assert daemon.put("/kv/shared/k", b"native").status == 200
    listed = ok(daemon.get(f"{API}?per_page=1000"))["result"]
    sid = next(n["id"] for n in listed if n["title"] == "shared")
    assert daemon.get(f"{API}/{sid}/values/k").body == b"native"
    ok(daemon.put(f"{API}/{sid}/values/k2", b"cf"))
    assert daemon.get("/kv/shared/k2").body == b"cf"
    # A rename moves the native path; a delete takes the keys along.
    ok(daemon.put(f"{API}/{sid}", b'{"title":"moved"}'))
    assert daemon.get("/kv/moved/k").body == b"native"
    assert daemon.get("/kv/shared/k").status == 404
    ok(daemon.delete(f"{API}/{sid}"))
    assert daemon.get("/kv/moved/k").status == 404
    assert daemon.put("/kv/moved/k3", b"new").status == 200  # a fresh namespace, empty
    assert daemon.get("/kv/moved?prefix=k").json()["keys"] == [{"name": "k3"}]


def test_values_raw_and_multipart(daemon, ns):
    base = f"{API}/{ns['id']}"
    ok(daemon.put(f"{base}/values/raw", b"\x00raw bytes\xff"))
    r = daemon.get(f"{base}/values/raw")
    assert r.status == 200 and r.body == b"\x00raw bytes\xff"
    assert r.headers["content-type"] == "application/octet-stream"
    assert "expiration" not in r.headers
    assert ok(daemon.get(f"{base}/metadata/raw"))["result"] is None

    body, h = form([("value", b"from a form\r\n--XbOuNdAr", None),
                    ("metadata", b'{ "lang" : "en" }', None),
                    ("metadata[lang]", b"ignored", None), ("other", b"ignored", None)])
    ok(daemon.put(f"{base}/values/form?expiration_ttl=300", body, headers=h))
    r = daemon.get(f"{base}/values/form")
    assert r.body == b"from a form\r\n--XbOuNdAr"
    assert int(r.headers["expiration"]) == pytest.approx(daemon.now() + 300, abs=2)
    assert ok(daemon.get(f"{base}/metadata/form"))["result"] == {"lang": "en"}

    body, h = form([("value", bytes(range(256)), "blob.bin")], boundary="a'()+_,-./:=? b")
    h["Content-Type"] = "multipart/form-data; boundary=\"a'()+_,-./:=? b\""
    ok(daemon.put(f"{base}/values/file", body, headers=h))
    assert daemon.get(f"{base}/values/file").body == bytes(range(256))

    # Bracketed metadata fields alone give no metadata; a raw PUT replaces the metadata too.
    body, h = form([("value", b"v", None), ("metadata[a]", b"1", None)])
    ok(daemon.put(f"{base}/values/form", body, headers=h))
    assert ok(daemon.get(f"{base}/metadata/form"))["result"] is None


def test_multipart_errors_are_clear_400s(daemon, ns):
    base = f"{API}/{ns['id']}/values/k"
    h = {"Content-Type": "multipart/form-data; boundary=b"}
    assert "no opening" in err(daemon.put(base, b"garbage", headers=h), 400, 10012)
    assert "no closing" in err(daemon.put(base, b"--b\r\nContent-Disposition: form-data; "
                                          b"name=value\r\n\r\nv", headers=h), 400, 10012)
    assert "boundary" in err(daemon.put(base, b"x", headers={
        "Content-Type": "multipart/form-data"}), 400, 10012)
    body, h2 = form([("metadata", b"{}", None)])
    assert '"value"' in err(daemon.put(base, body, headers=h2), 400, 10012)
    body, h2 = form([("value", b"1", None), ("value", b"2", None)])
    assert "two" in err(daemon.put(base, body, headers=h2), 400, 10012)
    body, h2 = form([("value", b"v", None), ("metadata", b"{not json", None)])
    err(daemon.put(base, body, headers=h2), 400, 10022)
    body, h2 = form([("value", b"v", None), ("metadata", b'"' + b"m" * 1100 + b'"', None)])
    err(daemon.put(base, body, headers=h2), 400, 10022)
    assert daemon.get(base).status == 404  # nothing was written


def test_expirations_min_ttl_and_expiry(daemon, ns):
    base = f"{API}/{ns['id']}/values"
    now = daemon.now()
    assert err(daemon.put(f"{base}/k?expiration_ttl=59", b"v"), 400, 10021) == \
        "Invalid expiration_ttl of 59. Expiration TTL must be at least 60."
    err(daemon.put(f"{base}/k?expiration_ttl=abc", b"v"), 400, 10021)
    err(daemon.put(f"{base}/k?expiration={now + 30}", b"v"), 400, 10021)
    # The TTL wins over the expiration, even a bad one.
    ok(daemon.put(f"{base}/k?expiration_ttl=60&expiration=1", b"v"))
    assert int(daemon.get(f"{base}/k").headers["expiration"]) == pytest.approx(now + 60, abs=2)
    ok(daemon.put(f"{base}/abs?expiration={now + 120}", b"v"))
    keys = ok(daemon.get(f"{API}/{ns['id']}/keys"))["result"]
    assert keys == [{"name": "abs", "expiration": now + 120},
                    {"name": "k", "expiration": pytest.approx(now + 60, abs=2)}]
    daemon.advance_clock(61)
    err(daemon.get(f"{base}/k"), 404, 10009)
    err(daemon.get(f"{API}/{ns['id']}/metadata/k"), 404, 10009)
    assert [k["name"] for k in ok(daemon.get(f"{API}/{ns['id']}/keys"))["result"]] == ["abs"]


def test_keys_are_decoded_exactly_once(daemon, ns):
    base = f"{API}/{ns['id']}/values"
    for raw, key in [("a%2Fb", "a/b"), ("a/b/c", "a/b/c"), ("c+d", "c+d"), ("%2541", "%41"),
                     ("sp%20ace", "sp ace"), ("%C3%BC", "ü"), ("!$&'()*,;=:@", "!$&'()*,;=:@")]:
        ok(daemon.put(f"{base}/{raw}", key.encode()))
        assert daemon.get(f"/kv/rest/{urllib.parse.quote(key, safe='')}").body == key.encode()
    names = [k["name"] for k in ok(daemon.get(f"{API}/{ns['id']}/keys?limit=1000"))["result"]]
    assert sorted(names) == names and "c+d" in names and "%41" in names and "a/b" in names
    err(daemon.put(f"{base}/%zz", b"v"), 400, 10020)
    err(daemon.put(f"{base}/" + "k" * 513, b"v"), 414, 10020)
    err(daemon.put(f"{base}/..", b"v"), 400, 10020)
    # An empty key leaves no key at all: "values/" is no key.
    err(daemon.get(f"{base}/"), 400, 10020)


def test_key_listing_cursor_and_limits(daemon, ns):
    entries = [{"key": f"k{i:04d}", "value": "v"} for i in range(25)]
    ok(daemon.put(f"{API}/{ns['id']}/bulk", json.dumps(entries).encode()))
    seen, cursor, pages = [], None, 0
    while True:
        q = "limit=10" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else "")
        body = ok(daemon.get(f"{API}/{ns['id']}/keys?{q}"))
        pages += 1
        assert body["result_info"]["count"] == len(body["result"])
        seen += [k["name"] for k in body["result"]]
        cursor = body["result_info"]["cursor"]
        if cursor == "":
            break
    assert seen == [e["key"] for e in entries] and pages == 3
    assert ok(daemon.get(f"{API}/{ns['id']}/keys?prefix=k002"))["result_info"] == \
        {"count": 5, "cursor": ""}
    for q in ["limit=0", "limit=1001", "limit=x", "cursor=%21%21"]:
        err(daemon.get(f"{API}/{ns['id']}/keys?{q}"), 400, 10024)


def test_key_listing_never_returns_an_empty_page_with_a_cursor(daemon, ns):
    # 1500 expired keys before a live one: one scan passes over at most 1000 expired keys,
    # but the Cloudflare route keeps scanning so the client's pagination does not stop early.
    now = daemon.now()
    # now + 120, not the 60 s minimum: wall time may pass a second before the daemon checks.
    entries = [{"key": f"a{i:05d}", "value": "v", "expiration": now + 120} for i in range(1500)]
    entries.append({"key": "b", "value": "live"})
    ok(daemon.put(f"{API}/{ns['id']}/bulk", json.dumps(entries).encode()))
    daemon.advance_clock(121)
    body = ok(daemon.get(f"{API}/{ns['id']}/keys?limit=10"))
    assert body["result"] == [{"name": "b"}] and body["result_info"]["cursor"] == ""


def test_bulk_routes(daemon, ns):
    base = f"{API}/{ns['id']}"
    entries = [{"key": "a", "value": "1"},
               {"key": "b", "value": "aGk=", "base64": True, "metadata": {"n": 2}},
               {"key": "j", "value": '{"x": [1]}', "expiration_ttl": 600}]
    r = ok(daemon.put(f"{base}/bulk", json.dumps(entries).encode()))
    assert r["result"] == {"successful_key_count": 3, "unsuccessful_keys": []}
    r = ok(daemon.post(f"{base}/bulk/get", b'{"keys":["a","b","zz"]}'))
    assert r["result"] == {"values": {"a": "1", "b": "hi", "zz": None}}
    r = ok(daemon.post(f"{base}/bulk/get", b'{"keys":["j"],"type":"json","withMetadata":true}'))
    assert r["result"]["values"]["j"]["value"] == {"x": [1]}
    assert r["result"]["values"]["j"]["metadata"] is None
    assert r["result"]["values"]["j"]["expiration"] == pytest.approx(daemon.now() + 600, abs=2)
    err(daemon.post(f"{base}/bulk/get", b'{"keys":["b"],"type":"json"}'), 400, 10012)
    err(daemon.post(f"{base}/bulk/get", json.dumps({"keys": [str(i) for i in range(101)]})
                    .encode()), 400, 10012)

    bad = [{"key": "ok", "value": "v"}, {"key": "", "value": "v"},
           {"key": "t", "value": "v", "expiration_ttl": 1}]
    r = daemon.put(f"{base}/bulk", json.dumps(bad).encode())
    err(r, 400, 10012)
    errors = r.json()["errors"]
    assert [e["code"] for e in errors] == [10012, 10020, 10021]
    assert "entry 1" in errors[1]["message"] and "entry 2" in errors[2]["message"]
    assert daemon.get(f"{base}/values/ok").status == 404

    r = ok(daemon.post(f"{base}/bulk/delete", b'["a","b","never"]'))
    assert r["result"] == {"successful_key_count": 3, "unsuccessful_keys": []}
    assert [k["name"] for k in ok(daemon.get(f"{base}/keys"))["result"]] == ["j"]
    err(daemon.post(f"{base}/bulk/delete", b'["a", 1]'), 400, 10012)
    # wrangler's bulk delete: DELETE .../bulk with the array.
    r = ok(daemon.request("DELETE", f"{base}/bulk", body=b'["j"]'))
    assert r["result"]["successful_key_count"] == 1
    assert ok(daemon.get(f"{base}/keys"))["result"] == []


def test_limits_routes_and_methods(make_daemon):
    d = make_daemon(config={"max_value_size": "1KiB"})
    n = create(d, "lim")
    base = f"{API}/{n['id']}"
    err(d.put(f"{base}/values/big", b"x" * 1025), 413, 10023)
    body, h = form([("value", b"x" * 1025, None)])
    err(d.put(f"{base}/values/big", body, headers=h), 413, 10023)
    ok(d.put(f"{base}/values/fits", b"x" * 1024))
    err(d.get("/client/v4/accounts/a/storage/kv/nope"), 404, 7000)
    err(d.get("/client/v4/zones/a/dns_records"), 404, 7000)
    err(d.get(f"{base}/whatever"), 404, 7000)
    r = d.request("PATCH", f"{base}/values/fits")
    err(r, 405, 7001)
    assert "PUT" in r.headers["allow"]
    err(d.request("DELETE", API), 405, 7001)
    err(d.get(f"{base}/bulk"), 405, 7001)
    r = d.request("HEAD", f"{base}/values/fits")
    assert r.status == 200 and r.body == b"" and r.headers["content-length"] == "1024"


def test_api_token_is_required_with_the_cloudflare_envelope(make_daemon):
    d = make_daemon(config={"api_token": "tok"})
    err(d.get(API), 401, 10000)
    err(d.get(API, headers={"Authorization": "Bearer nope"}), 401, 10000)
    assert d.get(API, headers={"Authorization": "Bearer tok"}).status == 200
    # The admin socket is guarded by its file mode, not the token.
    assert d.admin("GET", API).status == 200


def test_deleting_a_big_namespace_finishes_in_the_background(daemon):
    big = create(daemon, "big")
    for chunk in range(3):
        entries = [{"key": f"k{chunk}-{i:05d}", "value": "v" * 20} for i in range(10000)]
        ok(daemon.put(f"{API}/{big['id']}/bulk", json.dumps(entries).encode()))
    ok(daemon.delete(f"{API}/{big['id']}"))
    # Answered while batches still run; the daemon stays responsive meanwhile.
    assert daemon.get("/health").status == 200
    err(daemon.get(f"{API}/{big['id']}/keys"), 404, 10013)
    again = create(daemon, "big")
    assert ok(daemon.get(f"{API}/{again['id']}/keys"))["result"] == []
