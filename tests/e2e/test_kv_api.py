"""The native KV API from outside: values, metadata, TTLs, listing, bulk, errors, auth."""
import json
import urllib.parse

import pytest


def test_put_get_head_delete_roundtrip(daemon):
    r = daemon.put("/kv/users/alice", b"\x00\x01binary\xff", headers={"X-KV-Metadata": '{"role": "admin"}'})
    assert r.status == 200, r
    assert r.json() == {"success": True}

    r = daemon.get("/kv/users/alice")
    assert r.status == 200
    assert r.body == b"\x00\x01binary\xff"
    assert json.loads(r.headers["x-kv-metadata"]) == {"role": "admin"}
    assert "x-kv-expiration" not in r.headers

    r = daemon.request("HEAD", "/kv/users/alice")
    assert r.status == 200 and r.body == b""
    assert r.headers["content-length"] == str(len(b"\x00\x01binary\xff"))

    assert daemon.delete("/kv/users/alice").status == 200
    r = daemon.get("/kv/users/alice")
    assert r.status == 404
    assert r.json()["error"]["code"] == "not_found"
    # Deleting what is not there is still a success.
    assert daemon.delete("/kv/users/alice").status == 200


def test_key_is_percent_decoded_once(daemon):
    assert daemon.put("/kv/ns/a%2Fb", b"slash").status == 200
    assert daemon.get("/kv/ns/a/b").body == b"slash"
    # %25 decodes to a literal '%' once, not twice; '+' stays '+'.
    assert daemon.put("/kv/ns/100%2541", b"pct").status == 200
    keys = [k["name"] for k in daemon.get("/kv/ns").json()["keys"]]
    assert "100%41" in keys and "a/b" in keys
    assert daemon.put("/kv/ns/a+b", b"plus").status == 200
    assert daemon.get("/kv/ns/a%2Bb").body == b"plus"


def test_overwrite_replaces_value_and_metadata(daemon):
    daemon.put("/kv/ns/k", b"one", headers={"X-KV-Metadata": '{"v":1}'})
    daemon.put("/kv/ns/k", b"two")
    r = daemon.get("/kv/ns/k")
    assert r.body == b"two"
    assert "x-kv-metadata" not in r.headers


def test_expiration_ttl_and_lazy_expiry(daemon):
    now = daemon.now()
    r = daemon.put("/kv/ns/t?expiration_ttl=120", b"soon")
    assert r.status == 200
    r = daemon.get("/kv/ns/t")
    exp = int(r.headers["x-kv-expiration"])
    assert now + 119 <= exp <= now + 122
    daemon.advance_clock(118)  # wall time runs on under the offset: keep a second's margin
    assert daemon.get("/kv/ns/t").status == 200
    daemon.advance_clock(4)
    assert daemon.get("/kv/ns/t").status == 404
    assert daemon.get("/kv/ns").json()["keys"] == []


def test_ttl_alias_and_absolute_expiration(daemon):
    now = daemon.now()
    assert daemon.put("/kv/ns/a?ttl=300", b"x").status == 200
    assert daemon.put(f"/kv/ns/b?expiration={now + 600}", b"x").status == 200
    # Both given: the TTL wins.
    assert daemon.put(f"/kv/ns/c?expiration={now + 9000}&expiration_ttl=100", b"x").status == 200
    exps = {k["name"]: k["expiration"] for k in daemon.get("/kv/ns").json()["keys"]}
    assert now + 299 <= exps["a"] <= now + 302
    assert exps["b"] == now + 600
    assert now + 99 <= exps["c"] <= now + 102


@pytest.mark.parametrize("query", ["expiration_ttl=59", "expiration_ttl=abc", "ttl=-5",
                                   "expiration=1", "expiration=soon"])
def test_bad_expirations_are_400(daemon, query):
    r = daemon.put(f"/kv/ns/k?{query}", b"x")
    assert r.status == 400, r
    assert r.json()["error"]["code"] == "invalid_expiration"
    assert daemon.get("/kv/ns/k").status == 404


def test_min_ttl_is_configurable(make_daemon):
    d = make_daemon(config={"min_ttl": 1})
    assert d.put("/kv/ns/k?expiration_ttl=1", b"x").status == 200


def test_key_rules(daemon):
    assert daemon.put("/kv/ns/" + "k" * 512, b"max").status == 200
    assert daemon.get("/kv/ns/" + "k" * 512).body == b"max"
    r = daemon.put("/kv/ns/" + "k" * 513, b"x")
    assert r.status == 414 and r.json()["error"]["code"] == "key_too_long"
    # Percent-encoded, since clients normalise literal dot segments away.
    for bad in ["%2E", "%2E%2E"]:
        r = daemon.put("/kv/ns/" + bad, b"x")
        assert r.status == 400 and r.json()["error"]["code"] == "invalid_key", r


def test_metadata_rules(daemon):
    r = daemon.put("/kv/ns/k", b"x", headers={"X-KV-Metadata": "{not json"})
    assert r.status == 400 and r.json()["error"]["code"] == "invalid_metadata"
    big = json.dumps({"x": "y" * 1020})
    r = daemon.put("/kv/ns/k", b"x", headers={"X-KV-Metadata": big})
    assert r.status == 400 and r.json()["error"]["code"] == "metadata_too_large"
    ok = json.dumps({"x": "y" * 1000})
    assert len(ok) <= 1024
    assert daemon.put("/kv/ns/k", b"x", headers={"X-KV-Metadata": ok}).status == 200


def test_value_size_limit_is_413(make_daemon):
    d = make_daemon(config={"max_value_size": 1024})
    assert d.put("/kv/ns/k", b"v" * 1024).status == 200
    r = d.raw(b"PUT /kv/ns/big HTTP/1.1\r\nHost: x\r\nContent-Length: 1025\r\n\r\n" + b"v" * 1025)
    assert r.startswith(b"HTTP/1.1 413 ")
    assert b"value_too_large" in r
    assert d.get("/kv/ns/big").status == 404


def test_wrong_method_is_405(daemon):
    r = daemon.post("/kv/ns/k", b"x")
    assert r.status == 405
    assert "PUT" in r.headers["allow"]
    assert r.json()["error"]["code"] == "method_not_allowed"


def test_missing_namespace_reads_as_empty(daemon):
    assert daemon.get("/kv/nothing/k").status == 404
    assert daemon.get("/kv/nothing").json() == {"keys": [], "list_complete": True}


def test_list_prefix_limit_cursor(daemon):
    keys = [f"item:{i:03d}" for i in range(25)] + ["other"]
    for k in keys:
        assert daemon.put(f"/kv/ns/{k}", k.encode()).status == 200
    seen = []
    cursor = None
    pages = 0
    while True:
        q = "prefix=item%3A&limit=10" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else "")
        page = daemon.get(f"/kv/ns?{q}").json()
        pages += 1
        seen += [k["name"] for k in page["keys"]]
        if page["list_complete"]:
            assert "cursor" not in page
            break
        cursor = page["cursor"]
        assert pages < 10
    assert seen == sorted(k for k in keys if k.startswith("item:"))
    assert pages == 3
    # "/kv/ns/" lists too.
    assert len(daemon.get("/kv/ns/").json()["keys"]) == 26


@pytest.mark.parametrize("limit", ["0", "1001", "x", "-1"])
def test_list_limit_bounds(daemon, limit):
    r = daemon.get(f"/kv/ns?limit={limit}")
    assert r.status == 400 and r.json()["error"]["code"] == "invalid_limit"


def test_list_is_byte_ordered_across_the_lmdb_key_limit(daemon):
    # Debian's LMDB refuses keys over 511 bytes; long keys must still list in byte order.
    base = "p" * 495
    keys = [base + s for s in ["", "a", "b" * 17, "b", "c" * 10, "zz"]] + ["p" * 512, "a", "q"]
    for k in keys:
        assert daemon.put("/kv/ns/" + k, k.encode()).status == 200, len(k)
    names = []
    cursor = ""
    while True:
        page = daemon.get(f"/kv/ns?limit=2&cursor={urllib.parse.quote(cursor)}").json()
        names += [k["name"] for k in page["keys"]]
        if page["list_complete"]:
            break
        cursor = page["cursor"]
    assert names == sorted(keys, key=lambda k: k.encode())
    for k in keys:
        assert daemon.get("/kv/ns/" + k).body == k.encode()


def test_bulk_put_get_delete(daemon):
    now = daemon.now()
    entries = [
        {"key": "a", "value": "1"},
        {"key": "b", "value": "aGVsbG8=", "base64": True, "metadata": {"n": 2}},
        {"key": "c", "value": "3", "expiration_ttl": 600},
    ]
    r = daemon.put("/kv/bulk", json.dumps(entries))
    assert r.status == 200, r
    assert r.json()["written"] == 3
    assert daemon.get("/kv/bulk/b").body == b"hello"
    r = daemon.post("/kv/bulk/_bulk/get", json.dumps({"keys": ["a", "b", "c", "zz"], "withMetadata": True}))
    assert r.status == 200, r
    vals = r.json()["values"]
    assert vals["a"] == {"value": "1", "metadata": None}
    assert vals["b"] == {"value": "hello", "metadata": {"n": 2}}
    assert now + 599 <= vals["c"]["expiration"] <= now + 602
    assert vals["zz"] is None
    r = daemon.post("/kv/bulk/_bulk/get", json.dumps({"keys": ["a"]}))
    assert r.json() == {"values": {"a": "1"}}

    r = daemon.post("/kv/bulk/_bulk/delete", json.dumps(["a", "b", "nope"]))
    assert r.status == 200 and r.json()["deleted"] == 2
    assert [k["name"] for k in daemon.get("/kv/bulk").json()["keys"]] == ["c"]


def test_bulk_put_is_all_or_nothing(daemon):
    entries = [{"key": "good", "value": "1"}, {"key": "x" * 600, "value": "2"},
               {"key": "ttl", "value": "3", "expiration_ttl": 5}, {"value": "nokey"}]
    r = daemon.put("/kv/atomic", json.dumps(entries))
    assert r.status == 400
    err = r.json()["error"]
    assert err["code"] == "invalid_bulk"
    assert sorted(e["index"] for e in err["entries"]) == [1, 2, 3]
    assert {e["code"] for e in err["entries"]} >= {"key_too_long", "invalid_expiration"}
    assert daemon.get("/kv/atomic/good").status == 404


def test_bulk_bad_json_and_limits(daemon):
    r = daemon.put("/kv/ns", b"[{")
    assert r.status == 400 and r.json()["error"]["code"] == "invalid_json"
    r = daemon.post("/kv/ns/_bulk/get", json.dumps({"keys": [str(i) for i in range(101)]}))
    assert r.status == 400 and r.json()["error"]["code"] == "too_many_keys"
    r = daemon.put("/kv/ns", json.dumps([{"key": str(i), "value": "v"} for i in range(10001)]))
    assert r.status == 413


def test_api_token_guards_kv_routes(make_daemon):
    d = make_daemon(config={"api_token": "s3cret"})
    r = d.put("/kv/ns/k", b"x")
    assert r.status == 401 and r.json()["error"]["code"] == "unauthorized"
    assert r.headers["www-authenticate"] == "Bearer"
    for wrong in ("s", "s3cre", "3cret", "s3crets", "S3CRET", ""):
        r = d.put("/kv/ns/k", b"x", headers={"Authorization": "Bearer " + wrong})
        assert r.status == 401, wrong
    r = d.put("/kv/ns/k", b"x", headers={"Authorization": "Bearer wrong"})
    assert r.status == 401
    assert d.put("/kv/ns/k", b"x", headers={"Authorization": "Bearer s3cret"}).status == 200
    assert d.get("/kv/ns/k", headers={"Authorization": "Bearer s3cret"}).body == b"x"
    # Health stays open.
    assert d.get("/health").status == 200
