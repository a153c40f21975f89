"""POST responses reused for GET (issue 13 item 12), from RFC 9110 §9.3.3: "Responses to POST
requests are only cacheable when they include explicit freshness information (see Section
4.2.1 of [CACHING]) and a Content-Location header field that has the same value as the POST's
target URI. A cached POST response can be reused to satisfy a later GET or HEAD request. In
contrast, a POST request cannot be satisfied by a cached POST response because POST is
potentially unsafe" — and RFC 9111 §4, which reuses a stored response only for a request whose
method allows it."""
import time

import pytest

from origin import Response

FRESH = {"Cache-Control": "max-age=600", "Content-Location": "/doc", "Content-Type": "text/plain"}


def cache_stats(d):
    return d.admin("GET", "/admin/stats").json()["cache"]


def wait_entries(d, n):
    """A store is committed after the client is answered: wait for it."""
    deadline = time.monotonic() + 10
    while d.admin("GET", "/admin/stats").json()["store"].get("entries", 0) < n:
        assert time.monotonic() < deadline, "the store never reached LMDB"
        time.sleep(0.02)


@pytest.mark.parametrize("location", ["/doc", "absolute"])
def test_a_fresh_post_response_for_its_own_uri_answers_a_later_get(make_proxy, origin, location):
    d = make_proxy(origin)
    host, port = d.tcp_address(0)
    cl = "/doc" if location == "/doc" else f"http://{host}:{port}/doc"
    origin.route("/doc", body=b"after the post", headers=dict(FRESH, **{"Content-Location": cl}))
    r = d.post("/doc", b"x=1")
    assert r.status == 200 and r.body == b"after the post"
    assert r.headers["x-cache"] == "BYPASS" and r.headers["cache-status"].endswith("; stored")
    wait_entries(d, 1)
    r = d.get("/doc")
    assert (r.status, r.body, r.headers["x-cache"]) == (200, b"after the post", "HIT")
    assert r.headers["content-type"] == "text/plain" and r.headers["content-location"] == cl
    r = d.request("HEAD", "/doc")
    assert (r.status, r.body, r.headers["x-cache"]) == (200, b"", "HIT")
    # A POST is never answered from the cache, not even from a stored POST response.
    assert d.post("/doc", b"x=2").body == b"after the post"
    assert [q.method for q in origin.requests_for("/doc")] == ["POST", "POST"]
    assert origin.requests_for("/doc")[1].body == b"x=2"


# Every condition of §9.3.3 (and of storing at all) is needed; without one, a later GET goes to
# the origin.
@pytest.mark.parametrize("case, script, route, post_headers", [
    ("no Content-Location", dict(headers={"Cache-Control": "max-age=600"}), {}, {}),
    ("another URI", dict(headers=dict(FRESH, **{"Content-Location": "/elsewhere"})), {}, {}),
    ("another host", dict(headers=dict(FRESH, **{"Content-Location": "http://other.example/doc"})),
     {}, {}),
    ("relative to the path", dict(headers=dict(FRESH, **{"Content-Location": "doc"})), {}, {}),
    # Freshness only from the route's ttl is not the origin's explicit freshness.
    ("no explicit freshness", dict(headers={"Content-Location": "/doc"}), {"ttl": 600}, {}),
    # no-cache says how to reuse, not for how long: no freshness information either.
    ("no-cache alone", dict(headers={"Cache-Control": "no-cache", "Content-Location": "/doc"},
                            etag='"e"'), {}, {}),
    ("private", dict(headers=dict(FRESH, **{"Cache-Control": "private, max-age=600"})), {}, {}),
    ("no-store", dict(headers=dict(FRESH, **{"Cache-Control": "no-store, max-age=600"})), {}, {}),
    ("not a 2xx", dict(status=404, headers=FRESH), {}, {}),
    ("request no-store", dict(headers=FRESH), {}, {"Cache-Control": "no-store"}),
    ("request with credentials", dict(headers=FRESH), {}, {"Authorization": "Bearer t"}),
])
def test_a_post_response_short_of_the_conditions_is_not_reused(make_proxy, origin, case, script,
                                                              route, post_headers):
    origin.route("/doc", [Response(body=b"posted", **script), Response(body=b"from the origin")])
    d = make_proxy(origin, route=route)
    assert d.post("/doc", b"x", headers=post_headers).body == b"posted"
    assert cache_stats(d)["stores"] == 0  # decided when the POST completed, before we read it
    r = d.get("/doc")
    assert r.body == b"from the origin" and r.headers["x-cache"] == "MISS"
    assert [q.method for q in origin.requests_for("/doc")] == ["POST", "GET"]


# RFC 9111 §4.4 invalidates the stored GET response on a successful POST; a reusable POST
# response then takes its place.
def test_a_post_response_replaces_the_stored_get_response(make_proxy, origin):
    origin.route("/doc", [Response(body=b"v1", headers=FRESH), Response(body=b"v2", headers=FRESH)])
    d = make_proxy(origin)
    assert d.get("/doc").body == b"v1"
    wait_entries(d, 1)
    assert d.get("/doc").headers["x-cache"] == "HIT"
    assert d.post("/doc", b"update").body == b"v2"
    deadline = time.monotonic() + 10
    while (r := d.get("/doc")).body != b"v2":  # the invalidation, then the store, commit
        assert time.monotonic() < deadline, r
        time.sleep(0.02)
    assert r.headers["x-cache"] == "HIT"
    assert [q.method for q in origin.requests_for("/doc")] == ["GET", "POST"]


# The stored POST response answers the GETs of its own variant only (RFC 9111 §4.1).
def test_a_post_response_with_vary_is_keyed_on_the_posts_headers(make_proxy, origin):
    origin.route("/doc", [Response(body=b"deutsch", headers=dict(FRESH, Vary="Accept-Language")),
                          Response(body=b"french", headers=dict(FRESH, Vary="Accept-Language"))])
    d = make_proxy(origin)
    assert d.post("/doc", b"x", headers={"Accept-Language": "de"}).body == b"deutsch"
    wait_entries(d, 2)  # the variant and its Vary marker
    r = d.get("/doc", headers={"Accept-Language": "de"})
    assert (r.body, r.headers["x-cache"]) == (b"deutsch", "HIT")
    r = d.get("/doc", headers={"Accept-Language": "fr"})
    assert (r.body, r.headers["x-cache"]) == (b"french", "MISS")


# Bounds as for any entry: a response above max_object_size streams to the client unstored.
def test_a_post_response_larger_than_max_object_size_is_not_kept(make_proxy, origin):
    big = b"x" * 4096
    origin.route("/doc", [Response(body=big, headers=FRESH, mode="chunked"), Response(body=b"get")])
    d = make_proxy(origin, config={"max_object_size": 1024})
    assert d.post("/doc", b"x").body == big
    assert cache_stats(d)["stores"] == 0
    assert d.get("/doc").body == b"get"
