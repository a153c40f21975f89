"""RFC 9111 freshness, revalidation, stale-while-revalidate and stale-if-error, with a test clock.

The daemon's clock is moved forward by a test hook; an origin Date header in real time would
then look old (RFC 9111 apparent age), so routes that are revalidated after moving the clock
send no Date (date=False): the cache uses the time it received the response.
"""
import time

import pytest

from origin import Response


def wait_until(pred, timeout=5.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return pred()


@pytest.mark.parametrize("cc", ["no-store", "private", "max-age=60, no-store",
                                'private="Set-Cookie"'])
def test_not_stored(make_proxy, origin, cc):
    origin.route("/n", body=b"x", headers={"Cache-Control": cc})
    d = make_proxy(origin)
    d.get("/n")
    assert d.get("/n").headers["x-cache"] != "HIT"
    assert origin.hits("/n") == 2


def test_no_cache_is_stored_but_revalidated_on_every_use(make_proxy, origin):
    origin.route("/nc", body=b"v", headers={"Cache-Control": "no-cache"}, etag='"n1"')
    d = make_proxy(origin)
    d.get("/nc")
    for _ in range(2):
        r = d.get("/nc")
        assert r.status == 200 and r.body == b"v"
        assert r.headers["x-cache"] == "REVALIDATED"
    reqs = origin.requests_for("/nc")
    assert len(reqs) == 3
    assert reqs[1].header("if-none-match") == '"n1"' and reqs[1].status == 304


def test_expiry_then_conditional_revalidation(make_proxy, origin):
    origin.route("/e", date=False, body=b"body-1", headers={"Cache-Control": "max-age=10"}, etag='"e1"',
                 last_modified=1_700_000_000)
    d = make_proxy(origin)
    d.get("/e")
    d.advance_clock(5)
    assert d.get("/e").headers["x-cache"] == "HIT"
    d.advance_clock(6)
    r = d.get("/e")
    assert r.headers["x-cache"] == "REVALIDATED" and r.body == b"body-1"
    req = origin.last("/e")
    assert req.header("if-none-match") == '"e1"'
    assert req.header("if-modified-since") == "Tue, 14 Nov 2023 22:13:20 GMT"
    # The 304 made the entry fresh again.
    assert d.get("/e").headers["x-cache"] == "HIT"
    assert origin.hits("/e") == 2


def test_a_304_updates_stored_headers(make_proxy, origin):
    origin.route("/u", date=False, body=b"body", headers={"Cache-Control": "max-age=10", "X-Version": "1"},
                 etag='"u1"')
    d = make_proxy(origin)
    d.get("/u")
    origin.route("/u", date=False, body=b"ignored", headers={"Cache-Control": "max-age=100", "X-Version": "2"},
                 etag='"u1"')  # the origin answers our conditional with 304 + new headers
    d.advance_clock(11)
    r = d.get("/u")
    assert r.headers["x-cache"] == "REVALIDATED" and r.body == b"body"
    assert r.headers["cache-control"] == "max-age=100"  # the 304's fields replace the stored ones
    d.advance_clock(50)  # fresh for 100 s now
    assert d.get("/u").headers["x-cache"] == "HIT"


def test_changed_content_on_revalidation_replaces_the_entry(make_proxy, origin):
    origin.route("/ch", date=False, body=b"old", headers={"Cache-Control": "max-age=10"}, etag='"o"')
    d = make_proxy(origin)
    d.get("/ch")
    origin.route("/ch", date=False, body=b"new", headers={"Cache-Control": "max-age=10"}, etag='"n"')
    d.advance_clock(11)
    assert d.get("/ch").body == b"new"
    r = d.get("/ch")
    assert r.headers["x-cache"] == "HIT" and r.body == b"new"


def test_s_maxage_wins_over_max_age_and_expires(make_proxy, origin):
    origin.route("/s", body=b"s", headers={"Cache-Control": "max-age=5, s-maxage=100",
                                           "Expires": "Thu, 01 Jan 1970 00:00:00 GMT"})
    d = make_proxy(origin)
    d.get("/s")
    d.advance_clock(50)
    assert d.get("/s").headers["x-cache"] == "HIT"


def test_expires_minus_date(make_proxy, origin):
    from origin import http_date
    now = time.time()
    origin.route("/exp", handler=lambda req: Response(body=b"x", headers={
        "Date": http_date(now), "Expires": http_date(now + 30)}))
    d = make_proxy(origin)
    d.get("/exp")
    assert d.get("/exp").headers["x-cache"] == "HIT"
    d.advance_clock(40)
    assert d.get("/exp").headers["x-cache"] != "HIT"


def test_route_ttl_only_without_freshness_information(make_proxy, origin):
    origin.route("/plain", body=b"p")  # no Cache-Control, no Expires
    origin.route("/short", body=b"s", headers={"Cache-Control": "max-age=2"})
    d = make_proxy(origin, route={"ttl": 100})
    d.get("/plain")
    d.get("/short")
    d.advance_clock(50)
    assert d.get("/plain").headers["x-cache"] == "HIT"  # route ttl applied
    assert d.get("/short").headers["x-cache"] != "HIT"  # the origin's max-age wins


def test_pure_rfc9111_cache_does_not_store_without_freshness(make_daemon, origin):
    origin.route("/plain", body=b"p")
    origin.route("/cc", body=b"c", headers={"Cache-Control": "max-age=60"})
    d = make_daemon(args=["--origin", "http://" + origin.address])
    d.get("/plain")
    assert d.get("/plain").headers["x-cache"] != "HIT"
    d.get("/cc")
    assert d.get("/cc").headers["x-cache"] == "HIT"


def test_heuristic_freshness_is_off_by_default(make_proxy, origin):
    origin.route("/lm", body=b"x", last_modified=time.time() - 86400 * 10)
    d = make_proxy(origin)
    d.get("/lm")
    assert d.get("/lm").headers["x-cache"] != "HIT"
    d2 = make_proxy(origin, config={"heuristic_freshness": True})
    d2.get("/lm")
    assert d2.get("/lm").headers["x-cache"] == "HIT"


def test_force_ttl_overrides_the_origin(make_proxy, origin):
    origin.route("/f", body=b"f", headers={"Cache-Control": "max-age=0"})
    d = make_proxy(origin, route={"ttl": 300, "force_ttl": True})
    d.get("/f")
    d.advance_clock(100)
    assert d.get("/f").headers["x-cache"] == "HIT"
    origin.route("/priv", body=b"p", headers={"Cache-Control": "private"})
    d.get("/priv")
    assert d.get("/priv").headers["x-cache"] != "HIT"  # never for private


def test_ttl_by_status_negative_caching(make_proxy, origin):
    origin.route("/missing", status=404, body=b"nope")
    d = make_proxy(origin, route={"ttl_by_status": {"404": 30}})
    assert d.get("/missing").status == 404
    r = d.get("/missing")
    assert r.status == 404 and r.headers["x-cache"] == "HIT"
    d.advance_clock(31)
    assert d.get("/missing").headers["x-cache"] != "HIT"
    assert origin.hits("/missing") == 2


def test_client_no_cache_ignored_unless_honoured(make_proxy, origin):
    origin.route("/cn", body=b"x", headers={"Cache-Control": "max-age=60"}, etag='"c"')
    d = make_proxy(origin)
    d.get("/cn")
    assert d.get("/cn", headers={"Cache-Control": "no-cache"}).headers["x-cache"] == "HIT"
    d2 = make_proxy(origin, config={"honor_client_no_cache": True})
    d2.get("/cn")
    assert d2.get("/cn", headers={"Cache-Control": "no-cache"}).headers["x-cache"] == "REVALIDATED"


def test_stale_while_revalidate_serves_at_once_and_refreshes_once(make_proxy, origin):
    origin.route("/swr", date=False, body=b"v1", headers={"Cache-Control": "max-age=10, stale-while-revalidate=60"},
                 etag='"1"')
    d = make_proxy(origin)
    d.get("/swr")
    origin.route("/swr", date=False, body=b"v2", headers={"Cache-Control": "max-age=10, stale-while-revalidate=60"},
                 etag='"2"', delay=0.3)
    d.advance_clock(20)
    for _ in range(5):
        r = d.get("/swr")
        assert r.headers["x-cache"] == "STALE" and r.body == b"v1"
        assert "stale-while-revalidate" in r.headers["cache-status"]
    # One background revalidation for all of them.
    assert wait_until(lambda: origin.hits("/swr") == 2)
    assert wait_until(lambda: d.get("/swr").body == b"v2")
    time.sleep(0.4)
    assert origin.hits("/swr") == 2
    r = d.get("/swr")
    assert r.headers["x-cache"] == "HIT" and r.body == b"v2"
    stats = d.admin("GET", "/admin/stats").json()["cache"]
    assert stats["stale_served"] >= 5 and stats["background_revalidations"] == 1


def test_route_grants_stale_while_revalidate(make_proxy, origin):
    origin.route("/rs", body=b"x", headers={"Cache-Control": "max-age=10"})
    d = make_proxy(origin, route={"stale_while_revalidate": 30})
    d.get("/rs")
    d.advance_clock(20)
    assert d.get("/rs").headers["x-cache"] == "STALE"


def test_background_revalidation_failure_never_reaches_the_client(make_proxy, origin):
    origin.route("/bf", date=False, body=b"good", headers={"Cache-Control": "max-age=10, stale-while-revalidate=60"})
    d = make_proxy(origin)
    d.get("/bf")
    origin.route("/bf", date=False, status=500, body=b"broken")
    d.advance_clock(20)
    r = d.get("/bf")
    assert r.status == 200 and r.body == b"good"
    assert wait_until(lambda: d.admin("GET", "/admin/stats").json()["cache"]["background_failures"] == 1
                      or origin.hits("/bf") == 2)


def test_stale_if_error_on_refused_and_5xx(make_proxy, origin):
    origin.route("/sie", date=False, body=b"keep", headers={"Cache-Control": "max-age=10, stale-if-error=60"})
    d = make_proxy(origin)
    d.get("/sie")
    d.advance_clock(20)
    origin.route("/sie", date=False, status=503, body=b"down")
    r = d.get("/sie")
    assert r.status == 200 and r.body == b"keep" and r.headers["x-cache"] == "STALE"
    origin.stop()
    r = d.get("/sie")
    assert r.status == 200 and r.body == b"keep" and r.headers["x-cache"] == "STALE"
    d.advance_clock(60)  # beyond the window
    r = d.get("/sie")
    assert r.status == 502 and r.json()["error"]["code"] == "origin_connect_refused"


def test_must_revalidate_forbids_stale_on_error(make_proxy, origin):
    origin.route("/mr", body=b"x", headers={"Cache-Control": "max-age=10, must-revalidate"})
    d = make_proxy(origin, route={"stale_if_error": 300})
    d.get("/mr")
    d.advance_clock(20)
    origin.stop()
    assert d.get("/mr").status == 502


def test_origin_5xx_without_stale_is_passed_through(make_proxy, origin):
    origin.route("/five", status=503, body=b"maintenance")
    d = make_proxy(origin)
    r = d.get("/five")
    assert r.status == 503 and r.body == b"maintenance"


def test_timeout_gives_504_and_refused_502(make_proxy, origin):
    origin.route("/hang", body=b"x", hang=True)
    d = make_proxy(origin, origin_opts={"timeout_ms": 300})
    r = d.get("/hang")
    assert r.status == 504 and r.json()["error"]["code"].startswith("origin_")
    origin.stop()
    r = d.get("/other")
    assert r.status == 502 and r.json()["error"]["code"] == "origin_connect_refused"
