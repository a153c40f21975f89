"""Partial content (RFC 9111 §3.3, §3.4; issue 13 item 11): 206 responses stored as parts,
ranges answered from them, parts combined into the complete response. Each exchange from the
RFC text, against an origin that answers a single byte Range with 206 as servers do."""
import http.client
import json
import threading
import time

import pytest

from ectest import EDGECACHECTL, run_cli
from origin import Response

BODY = b"0123456789abcdefghij"  # 20 bytes


def ranged(body=BODY, etag='"v1"', cc="max-age=60", extra=None, delay=0.0):
    """An origin resource answering one byte Range with 206 + Content-Range (RFC 9110 §14)."""

    def handler(req):
        headers = {"Cache-Control": cc, "Content-Type": "application/octet-stream"}
        headers.update(extra or {})
        spec = req.header("range")
        if spec is None:
            return Response(body=body, headers=headers, etag=etag, delay=delay)
        first, last = spec.split("=", 1)[1].split("-")
        if first == "":
            first, last = max(0, len(body) - int(last)), len(body) - 1
        else:
            first, last = int(first), min(int(last), len(body) - 1) if last else len(body) - 1
        if first >= len(body):
            return Response(status=416, headers={"Content-Range": f"bytes */{len(body)}"})
        headers["Content-Range"] = f"bytes {first}-{last}/{len(body)}"
        return Response(status=206, body=body[first:last + 1], headers=headers, etag=etag,
                        delay=delay)

    return Response(handler=handler)


def _store(d):
    return d.admin("GET", "/admin/stats").json()["store"]


def _get_part(d, path, spec, headers=None):
    """A range request whose fill stores a part. The store commits after the client is
    answered (a part merges inside the writer's transaction): wait for it before the next
    request relies on it."""
    commits = _store(d)["commits"]
    r = d.get(path, headers={**(headers or {}), "Range": spec})
    deadline = time.monotonic() + 10
    while _store(d)["commits"] == commits:
        assert time.monotonic() < deadline, "the part never reached LMDB"
        time.sleep(0.02)
    _store(d)  # one more loop turn: the commit's hot-tier update has run
    return r


# §3.3: "A cache MAY store incomplete responses" … "A cache MUST NOT use an incomplete response
# to answer requests unless … the request is partial and specifies data entirely within the
# incomplete response."
def test_a_206_is_stored_and_answers_the_ranges_inside_it(make_proxy, origin):
    origin.route("/p", ranged())
    d = make_proxy(origin)
    r = _get_part(d, "/p", "bytes=0-9")
    assert r.status == 206 and r.body == BODY[:10]
    assert r.headers["content-range"] == "bytes 0-9/20" and r.headers["x-cache"] == "MISS"
    assert origin.last("/p").header("range") == "bytes=0-9"  # only the part was asked for
    for spec, want, content_range in [("bytes=0-9", BODY[:10], "bytes 0-9/20"),
                                      ("bytes=3-6", BODY[3:7], "bytes 3-6/20")]:
        r = d.get("/p", headers={"Range": spec})
        assert r.status == 206 and r.body == want, spec
        assert r.headers["content-range"] == content_range and r.headers["x-cache"] == "HIT"
        assert r.headers["etag"] == '"v1"'
    # Past the end: the stored part knows the length (RFC 9110 §15.5.17).
    r = d.get("/p", headers={"Range": "bytes=25-"})
    assert r.status == 416 and r.headers["content-range"] == "bytes */20"
    assert origin.hits("/p") == 1
    # A HEAD needs the complete response's head: not answered from a part.
    r = d.request("HEAD", "/p")
    assert r.status == 200 and r.headers["content-length"] == "20"
    assert origin.last("/p").method == "HEAD" and origin.hits("/p") == 2
    st = _store(d)
    assert st["cache_entries"] == 1  # one record, counted as any entry
    assert len(BODY[:10]) < st["cache_bytes"] < 1024
    # What the operator sees: the bytes held of the whole.
    doc = d.admin("GET", "/admin/inspect?path=/p").json()
    assert doc["status"] == 206 and doc["parts"] == [[0, 9]] and doc["length"] == 20
    assert doc["body_bytes"] == 10 and doc["state"] == "fresh"
    p = run_cli([EDGECACHECTL, "--socket", d.admin_sock, "inspect", "/p"], capture_output=True,
                timeout=30)
    assert p.returncode == 0 and "[[0,9]] of 20 bytes" in p.stdout.decode(), p


def test_an_incomplete_response_answers_nothing_outside_it(make_proxy, origin):
    origin.route("/out", ranged())
    d = make_proxy(origin)
    _get_part(d, "/out", "bytes=0-9")
    # Partly outside the part: asked of the origin, as that range.
    r = d.get("/out", headers={"Range": "bytes=5-14"})
    assert r.status == 206 and r.body == BODY[5:15]
    assert origin.last("/out").header("range") == "bytes=5-14"
    # Not partial: the complete response is asked for.
    r = d.get("/out")
    assert r.status == 200 and r.body == BODY
    assert origin.last("/out").header("range") is None
    assert origin.hits("/out") == 3


# §3.4: "A cache MAY complete a stored incomplete response by making a subsequent range request
# and combining the successful response with the stored response" when both have the same
# strong validator.
def test_parts_covering_the_representation_combine_into_the_complete_response(make_proxy,
                                                                               origin):
    origin.route("/c", ranged())
    d = make_proxy(origin)
    _get_part(d, "/c", "bytes=0-9")
    _get_part(d, "/c", "bytes=10-")
    r = d.get("/c")
    assert r.status == 200 and r.body == BODY and r.headers["x-cache"] == "HIT"
    assert r.headers["etag"] == '"v1"' and "content-range" not in r.headers
    r = d.request("HEAD", "/c")
    assert r.status == 200 and r.headers["content-length"] == "20" and r.headers["x-cache"] == "HIT"
    r = d.get("/c", headers={"Range": "bytes=5-14"})  # across the two parts: one now
    assert r.status == 206 and r.body == BODY[5:15] and r.headers["x-cache"] == "HIT"
    assert origin.hits("/c") == 2
    st = _store(d)
    assert st["cache_entries"] == 1 and len(BODY) < st["cache_bytes"] < 1024


# The usual first request of a media player: `bytes=0-`, answered with every byte as a 206.
def test_a_part_holding_every_byte_is_the_complete_response(make_proxy, origin):
    origin.route("/all", ranged())
    d = make_proxy(origin)
    r = _get_part(d, "/all", "bytes=0-")
    assert r.status == 206 and r.body == BODY and r.headers["content-range"] == "bytes 0-19/20"
    r = d.get("/all")
    assert r.status == 200 and r.body == BODY and r.headers["x-cache"] == "HIT"
    assert origin.hits("/all") == 1


# §3.4: parts combine only under the same strong validator. A part of another representation
# replaces the stored one: the bytes of two representations are never mixed.
def test_a_part_with_another_validator_replaces_never_mixes(make_proxy, origin):
    origin.route("/v", ranged())
    d = make_proxy(origin)
    _get_part(d, "/v", "bytes=0-9")
    other = b"ABCDEFGHIJKLMNOPQRST"
    origin.route("/v", ranged(other, etag='"v2"'))
    r = _get_part(d, "/v", "bytes=10-19")
    assert r.body == other[10:] and r.headers["etag"] == '"v2"'
    # The v1 part is gone: 0-9 comes from the origin, from v2.
    r = _get_part(d, "/v", "bytes=0-9")
    assert r.body == other[:10] and r.headers["x-cache"] == "MISS"
    r = d.get("/v")  # the two v2 parts make the complete v2
    assert r.status == 200 and r.body == other and r.headers["x-cache"] == "HIT"
    assert origin.hits("/v") == 3


@pytest.mark.parametrize("etag", ['W/"w1"', None], ids=["weak-etag", "no-validator"])
def test_parts_without_a_strong_validator_never_combine(make_proxy, origin, etag):
    origin.route("/w", ranged(etag=etag))
    d = make_proxy(origin)
    _get_part(d, "/w", "bytes=0-9")
    r = _get_part(d, "/w", "bytes=10-19")
    assert r.status == 206 and r.body == BODY[10:]
    # Each part is served while it is the one kept...
    r = d.get("/w", headers={"Range": "bytes=12-15"})
    assert r.status == 206 and r.body == BODY[12:16] and r.headers["x-cache"] == "HIT"
    # ...but they are not combined: the whole comes from the origin.
    r = d.get("/w")
    assert r.status == 200 and r.body == BODY and r.headers["x-cache"] == "MISS"
    assert origin.hits("/w") == 3


# Memory and disk bounds as for any entry: max_object_size bounds a part, and a set.
def test_max_object_size_bounds_parts_and_sets(make_proxy, origin):
    origin.route("/big", ranged())
    d = make_proxy(origin, config={"max_object_size": "15B"})
    r = d.get("/big", headers={"Range": "bytes=0-15"})  # 16 bytes: passed through, not kept
    assert r.status == 206 and r.body == BODY[:16]
    assert d.get("/big", headers={"Range": "bytes=0-15"}).headers["x-cache"] == "MISS"
    _get_part(d, "/big", "bytes=0-9")
    # 10 + 10 bytes would outgrow the bound: the new part replaces the set.
    _get_part(d, "/big", "bytes=10-19")
    assert d.get("/big", headers={"Range": "bytes=10-19"}).headers["x-cache"] == "HIT"
    r = d.get("/big", headers={"Range": "bytes=0-9"})
    assert r.body == BODY[:10] and r.headers["x-cache"] == "MISS"
    assert origin.hits("/big") == 5


# §3.3: a stored part is used only while fresh (RFC 9111 §4.2); then it is fetched again.
def test_a_stale_part_is_fetched_again(make_proxy, origin):
    origin.route("/s", ranged(cc="max-age=60"))
    d = make_proxy(origin)
    _get_part(d, "/s", "bytes=0-9")
    d.advance_clock(120)
    r = d.get("/s", headers={"Range": "bytes=0-9"})
    assert r.status == 206 and r.body == BODY[:10] and r.headers["x-cache"] == "MISS"
    assert origin.hits("/s") == 2


@pytest.mark.parametrize("soft", [False, True])
def test_a_purge_removes_parts(make_proxy, origin, soft):
    origin.route("/pg", ranged())
    d = make_proxy(origin)
    _get_part(d, "/pg", "bytes=0-9")
    r = d.admin("POST", "/admin/purge", json.dumps({"paths": ["/pg"], "soft": soft}))
    assert r.status == 200 and r.json()["purged"] == 1
    r = d.get("/pg", headers={"Range": "bytes=0-9"})
    assert r.status == 206 and r.body == BODY[:10] and r.headers["x-cache"] == "MISS"
    assert origin.hits("/pg") == 2


# A 206 that is not one part of a known length is relayed but not kept.
@pytest.mark.parametrize("content_range", ["bytes 0-9/*", "bytes 0-8/20"])
def test_a_206_that_is_not_a_usable_part_is_not_stored(make_proxy, origin, content_range):
    origin.route("/odd", status=206, body=BODY[:10],
                 headers={"Cache-Control": "max-age=60", "Content-Range": content_range})
    d = make_proxy(origin)
    for _ in range(2):
        r = d.get("/odd", headers={"Range": "bytes=0-9"})
        assert r.status == 206 and r.body == BODY[:10]
        assert r.headers["content-range"] == content_range
    assert origin.hits("/odd") == 2


# Parts belong to the variant the request selects (RFC 9111 §4.1), as a complete response does.
def test_parts_are_kept_per_vary_variant(make_proxy, origin):
    origin.route("/vy", ranged(extra={"Vary": "Accept-Language"}))
    d = make_proxy(origin)
    en = {"Accept-Language": "en"}
    for spec in ["bytes=0-9", "bytes=10-19"]:
        assert _get_part(d, "/vy", spec, en).status == 206
    r = d.get("/vy", headers=en)
    assert r.status == 200 and r.body == BODY and r.headers["x-cache"] == "HIT"
    r = d.get("/vy", headers={"Accept-Language": "fr", "Range": "bytes=0-9"})
    assert r.status == 206 and r.headers["x-cache"] == "MISS"
    assert origin.hits("/vy") == 3


def _inspect(d, path):
    return d.admin("GET", "/admin/inspect?path=" + path).json()


# One origin request per range however many clients ask for it at once (coalescing); two
# ranges fetched at once both land in the set (merged inside the write transaction).
def test_concurrent_ranges_coalesce_per_range_and_both_are_kept(make_proxy, origin):
    origin.route("/co", ranged(delay=0.5))
    d = make_proxy(origin)
    specs = ["bytes=0-9"] * 5 + ["bytes=10-19"] * 5
    results = [None] * len(specs)

    def client(i):
        conn = http.client.HTTPConnection(*d.tcp_address(), timeout=10)
        conn.request("GET", "/co", headers={"Range": specs[i]})
        r = conn.getresponse()
        results[i] = (r.status, r.read())
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(specs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [(206, BODY[:10])] * 5 + [(206, BODY[10:])] * 5
    assert origin.hits("/co") == 2
    deadline = time.monotonic() + 10
    while _inspect(d, "/co").get("status") != 200:  # both parts merged: the complete 200
        assert time.monotonic() < deadline, _inspect(d, "/co")
        time.sleep(0.02)
    r = d.get("/co")
    assert r.status == 200 and r.body == BODY and r.headers["x-cache"] == "HIT"
    assert origin.hits("/co") == 2
