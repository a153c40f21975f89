"""RFC 9111 / 9110 / 9112 details (issue 13), each exchange taken from the RFC text: what the
client sees and what the origin is asked."""
import http.client
import time

import pytest

from origin import Response, http_date


# RFC 9111 §5.1: "Age = delta-seconds"; a cache seeing a list or several lines uses the first
# member, and ignores an invalid value as if the field were absent.
def test_age_list_uses_the_first_member(make_proxy, origin):
    origin.route("/age-list", date=False, body=b"a",
                 headers={"Cache-Control": "max-age=3600", "Age": "7200, 0"})
    d = make_proxy(origin)
    d.get("/age-list")
    # 7200 s old with a 3600 s lifetime: already stale on arrival, so not reused.
    assert d.get("/age-list").headers["x-cache"] != "HIT"
    assert origin.hits("/age-list") == 2


def test_several_age_lines_use_the_first(make_proxy, origin):
    origin.route("/age-lines", date=False, body=b"a",
                 headers=[("Cache-Control", "max-age=3600"), ("Age", "10"), ("Age", "7200")])
    d = make_proxy(origin)
    d.get("/age-lines")
    r = d.get("/age-lines")
    assert r.headers["x-cache"] == "HIT" and r.body == b"a"
    assert int(r.headers["age"]) < 3600
    assert origin.hits("/age-lines") == 1


def test_invalid_age_is_ignored_as_if_absent(make_proxy, origin):
    origin.route("/age-bad", date=False, body=b"a",
                 headers=[("Cache-Control", "max-age=3600"), ("Age", "soon"), ("Age", "7200")])
    d = make_proxy(origin)
    d.get("/age-bad")
    r = d.get("/age-bad")
    assert r.headers["x-cache"] == "HIT" and int(r.headers["age"]) < 3600
    assert origin.hits("/age-bad") == 1


def _fetch_all_headers(d, path, headers):
    """(status, [(name, value), ...] with repeats, body): the dict form would hide a repeat."""
    host, port = d.tcp_address(0)
    conn = http.client.HTTPConnection(host, port, timeout=10)
    try:
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        return r.status, [(k.lower(), v) for k, v in r.getheaders()], r.read()
    finally:
        conn.close()


# RFC 9110 §14.4: a 206 carries one Content-Range, the origin's, when passed through.
@pytest.mark.parametrize("rounds", [1, 2])
def test_a_206_from_the_origin_keeps_its_single_content_range(make_proxy, origin, rounds):
    origin.route("/part", status=206, body=b"0123",
                 headers={"Content-Range": "bytes 0-3/10", "Cache-Control": "max-age=60"})
    d = make_proxy(origin)
    for _ in range(rounds):  # the second round meets whatever the first left (hit-for-pass)
        status, fields, body = _fetch_all_headers(d, "/part", {"Range": "bytes=0-3"})
        assert status == 206 and body == b"0123"
        assert [v for k, v in fields if k == "content-range"] == ["bytes 0-3/10"]
    # The 206 answers the range asked for: kept as a part (RFC 9111 §3.3), the second round is
    # answered from it, with the one Content-Range the part set names.
    assert origin.hits("/part") == 1


# RFC 9111 §5.2.2.3: "a cache ... SHOULD ignore the no-store directive if it understands and
# implements the status code's caching requirements"; one that does not MUST NOT store it.
@pytest.mark.parametrize("status, stored", [(200, True), (404, True), (299, False)])
def test_must_understand_lifts_no_store_for_an_understood_status(make_proxy, origin, status,
                                                                 stored):
    origin.route("/mu", status=status, body=b"m",
                 headers={"Cache-Control": "max-age=60, must-understand, no-store"})
    d = make_proxy(origin)
    assert d.get("/mu").status == status
    r = d.get("/mu")
    assert r.status == status and r.body == b"m"
    assert (r.headers["x-cache"] == "HIT") == stored
    assert origin.hits("/mu") == (1 if stored else 2)


# RFC 9111 §4.3.2: "If a request contains an If-Modified-Since header field and the
# Last-Modified header field is not present in a stored response, a cache SHOULD use the stored
# response's Date field value ... to evaluate the conditional."
def test_if_modified_since_without_last_modified_uses_the_stored_date(make_proxy, origin):
    stored_date = time.time() - 100
    origin.route("/nolm", date=False, body=b"d",
                 headers={"Date": http_date(stored_date), "Cache-Control": "max-age=600"})
    d = make_proxy(origin)
    assert d.get("/nolm").status == 200
    # Not modified since the stored Date (nor since a later time): 304 from the cache.
    for since in (stored_date, stored_date + 50):
        r = d.get("/nolm", headers={"If-Modified-Since": http_date(since)})
        assert r.status == 304 and r.body == b"" and r.headers["x-cache"] == "HIT"
    # Asked about a time before the stored Date: the full response.
    r = d.get("/nolm", headers={"If-Modified-Since": http_date(stored_date - 10)})
    assert r.status == 200 and r.body == b"d" and r.headers["x-cache"] == "HIT"
    assert origin.hits("/nolm") == 1


def _rfc850(ts):
    return time.strftime("%A, %d-%b-%y %H:%M:%S GMT", time.gmtime(ts))


def _asctime(ts):
    t = time.gmtime(ts)
    return time.strftime("%a %b ", t) + f"{t.tm_mday:2d}" + time.strftime(" %H:%M:%S %Y", t)


# RFC 9110 §5.6.7: "A recipient that parses a timestamp value in an HTTP header field MUST
# accept all three HTTP-date formats"; an rfc850-date year "more than 50 years in the future"
# is the most recent past one; HTTP-date is case-sensitive.
@pytest.mark.parametrize("form", ["imf", "rfc850", "asctime"])
def test_expires_in_each_http_date_form(make_proxy, origin, form):
    fmt = {"imf": http_date, "rfc850": _rfc850, "asctime": _asctime}[form]
    now = time.time()
    origin.route("/when", date=False, body=b"w",
                 headers={"Date": fmt(now), "Expires": fmt(now + 300)})
    d = make_proxy(origin)
    d.get("/when")
    assert d.get("/when").headers["x-cache"] == "HIT"
    d.advance_clock(400)
    assert d.get("/when").headers["x-cache"] != "HIT"
    assert origin.hits("/when") == 2


def test_rfc850_two_digit_year_within_50_years_is_in_the_future(make_proxy, origin):
    year = time.gmtime().tm_year + 47  # "yy" 47 years ahead: that future year, not a past one
    expires = time.strftime("%A, %d-%b-", time.gmtime()) + f"{year % 100:02d} 00:00:00 GMT"
    origin.route("/far", body=b"f", headers={"Expires": expires})
    d = make_proxy(origin)
    d.get("/far")
    assert d.get("/far").headers["x-cache"] == "HIT"
    assert origin.hits("/far") == 1


@pytest.mark.parametrize("zone", ["gmt", "UTC"])
def test_a_wrong_case_zone_makes_expires_invalid(make_proxy, origin, zone):
    # An invalid Expires means "already expired" (RFC 9111 §5.3): stored only to revalidate.
    expires = http_date(time.time() + 300)[:-3] + zone
    origin.route("/zone", body=b"z", headers={"Expires": expires})
    d = make_proxy(origin)
    d.get("/zone")
    assert d.get("/zone").headers["x-cache"] != "HIT"
    assert origin.hits("/zone") == 2


def _wait_stored(d, n=1):
    """A fill's store is committed after the client is answered: wait before a clock jump."""
    deadline = time.monotonic() + 10
    while d.admin("GET", "/admin/stats").json()["store"].get("entries", 0) < n:
        assert time.monotonic() < deadline, "the fill never reached LMDB"
        time.sleep(0.02)


# RFC 9213 §2.2: a cache with CDN-Cache-Control on its target list "MUST ... use its value to
# determine the caching policy for the response, and it MUST ignore the Cache-Control and
# Expires header fields"; Cache-Control still goes downstream, to the browsers it is for.
def test_cdn_cache_control_governs_this_cache(make_proxy, origin):
    origin.route("/cdn", body=b"c", headers={"Cache-Control": "no-store",
                                             "Expires": "Thu, 01 Jan 1970 00:00:00 GMT",
                                             "CDN-Cache-Control": "max-age=600"})
    d = make_proxy(origin)
    d.get("/cdn")
    r = d.get("/cdn")
    assert r.status == 200 and r.body == b"c" and r.headers["x-cache"] == "HIT"
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["cdn-cache-control"] == "max-age=600"  # other CDNs below may use it
    assert origin.hits("/cdn") == 1


@pytest.mark.parametrize("cdn", ["private", "no-store", "max-age=0"])
def test_cdn_cache_control_restricts_what_cache_control_allows(make_proxy, origin, cdn):
    origin.route("/cdn-r", body=b"c", headers={"Cache-Control": "public, max-age=600",
                                               "CDN-Cache-Control": cdn})
    d = make_proxy(origin)
    d.get("/cdn-r")
    assert d.get("/cdn-r").headers["x-cache"] != "HIT"
    assert origin.hits("/cdn-r") == 2


# RFC 9213 §2.1: a targeted field that is not a valid, non-empty Dictionary is ignored "as if
# the field were not present"; Cache-Control then governs.
@pytest.mark.parametrize("bad", ["max-age=600,", "Max-Age=600", "max-age=600;;"])
def test_an_invalid_cdn_cache_control_falls_back_to_cache_control(make_proxy, origin, bad):
    origin.route("/cdn-bad", body=b"c", headers={"Cache-Control": "no-store",
                                                 "CDN-Cache-Control": bad})
    d = make_proxy(origin)
    d.get("/cdn-bad")
    assert d.get("/cdn-bad").headers["x-cache"] != "HIT"
    assert origin.hits("/cdn-bad") == 2


# RFC 9213 §2.2: the target list is ordered, most specific first: our own field, then
# CDN-Cache-Control. A field aimed at this cache alone is not passed on.
def test_our_targeted_field_comes_first_and_is_not_passed_on(make_proxy, origin):
    origin.route("/ours", body=b"o", headers={"Cache-Control": "max-age=5",
                                              "CDN-Cache-Control": "no-store",
                                              "Edgecached-Cache-Control": "max-age=600"})
    d = make_proxy(origin)
    for expect in ("MISS", "HIT"):
        status, fields, body = _fetch_all_headers(d, "/ours", {})
        names = [k for k, _ in fields]
        assert status == 200 and body == b"o" and dict(fields)["x-cache"] == expect
        assert "edgecached-cache-control" not in names
        assert ("cdn-cache-control", "no-store") in fields
        assert ("cache-control", "max-age=5") in fields
    _wait_stored(d)
    d.advance_clock(100)  # past Cache-Control's 5 s, inside our 600 s
    assert d.get("/ours").headers["x-cache"] == "HIT"
    assert origin.hits("/ours") == 1


def test_the_targeted_field_name_is_configurable(make_proxy, origin):
    origin.route("/acme", body=b"a", headers={"Cache-Control": "no-store",
                                              "Edgecached-Cache-Control": "max-age=600",
                                              "Acme-Cache-Control": "max-age=600"})
    origin.route("/plain", body=b"p", headers={"Cache-Control": "no-store",
                                               "Edgecached-Cache-Control": "max-age=600"})
    d = make_proxy(origin, config={"targeted_cache_control": "Acme-Cache-Control"})
    d.get("/acme")
    r = d.get("/acme")
    assert r.headers["x-cache"] == "HIT" and "acme-cache-control" not in r.headers
    # Not on our target list any more: "MUST NOT change that cache's behavior and MUST be
    # passed through" (RFC 9213 §2.2).
    d.get("/plain")
    r = d.get("/plain")
    assert r.headers["x-cache"] != "HIT" and r.headers["edgecached-cache-control"] == "max-age=600"
    assert origin.hits("/acme") == 1 and origin.hits("/plain") == 2


# RFC 9111 §5.2.2.4: with no-cache="field", "a cache MAY use the response to satisfy a
# subsequent request ... However, any header fields in the response that have the field
# name(s) listed MUST NOT be sent in the response to a subsequent request without successful
# revalidation".
def test_qualified_no_cache_reuses_the_response_without_the_named_field(make_proxy, origin):
    origin.route("/nc", body=b"n", headers={"Cache-Control": 'max-age=600, no-cache="Set-Cookie"',
                                            "Set-Cookie": "session=abc"})
    d = make_proxy(origin)
    first = d.get("/nc")
    assert first.headers["set-cookie"] == "session=abc"  # the requester's own response
    r = d.get("/nc")
    assert r.status == 200 and r.body == b"n" and r.headers["x-cache"] == "HIT"
    assert "set-cookie" not in r.headers
    assert origin.hits("/nc") == 1


# RFC 9111 §5.2.2.7: with private="field", "a shared cache MUST NOT store the listed header
# fields ... but MAY store the remainder of the response message without those header fields".
def test_qualified_private_stores_the_rest_of_the_response(make_proxy, origin):
    origin.route("/pv", body=b"p", headers={"Cache-Control": 'max-age=600, private="X-User"',
                                            "X-User": "alice", "X-Shared": "yes"})
    d = make_proxy(origin)
    assert d.get("/pv").headers["x-user"] == "alice"
    r = d.get("/pv")
    assert r.headers["x-cache"] == "HIT" and r.headers["x-shared"] == "yes"
    assert "x-user" not in r.headers
    assert origin.hits("/pv") == 1


# RFC 9111 §4.2.2: "a cache MAY assign a heuristic expiration time" to a response without
# explicit freshness whose status is heuristically cacheable, "no more than some fraction of
# the interval since" Last-Modified (10% here), bounded by heuristic_freshness_max.
def test_heuristic_freshness_is_bounded_by_its_configured_maximum(make_proxy, origin):
    origin.route("/old", body=b"h", last_modified=time.time() - 100 * 86400)  # 10% = 10 days
    origin.route("/moved", status=302, body=b"m", last_modified=time.time() - 100 * 86400,
                 headers={"Location": "/old"})
    d = make_proxy(origin, config={"heuristic_freshness": True, "heuristic_freshness_max": 60})
    d.get("/old")
    assert d.get("/old").headers["x-cache"] == "HIT"
    _wait_stored(d)
    d.advance_clock(61)
    assert d.get("/old").headers["x-cache"] != "HIT"
    assert origin.hits("/old") == 2
    # 302 is not heuristically cacheable (RFC 9110 §15.1): never given a heuristic lifetime.
    d.get("/moved")
    assert d.get("/moved").headers["x-cache"] != "HIT"
    assert origin.hits("/moved") == 2


# RFC 9111 §4.1: selecting header fields match when one can be transformed into the other by
# "adding or removing whitespace", "combining multiple header field lines" or "normalizing both
# header field values in a way that is known to have identical semantics ... (e.g., reordering
# field values when order is not significant; case-normalization ...)". A fill asks the origin
# with that normal form, so the stored variant is the one every request of the key names.
def test_vary_matches_requests_after_list_normalisation(make_proxy, origin):
    origin.route("/lang", handler=lambda req: Response(
        body=(req.header("accept-language") or "-").encode(),
        headers={"Cache-Control": "max-age=300", "Vary": "Accept-Language"}))
    d = make_proxy(origin)
    r = d.get("/lang", headers={"Accept-Language": "en-US, en;q=0.9, fr;q=0.5"})
    assert r.headers["x-cache"] == "MISS" and r.body == b"en-us,en;q=0.9,fr;q=0.5"
    for same in ("en-us,EN;q=0.90,fr;q=0.500", "fr;q=0.5 , en;q=0.9,en-US"):
        r = d.get("/lang", headers={"Accept-Language": same})
        assert r.headers["x-cache"] == "HIT" and r.body == b"en-us,en;q=0.9,fr;q=0.5", same
    # Other preferences are another variant.
    r = d.get("/lang", headers={"Accept-Language": "fr, en;q=0.5"})
    assert r.headers["x-cache"] == "MISS" and r.body == b"fr,en;q=0.5"
    assert origin.hits("/lang") == 2


def test_vary_on_accept_ignores_the_order_of_equally_weighted_types(make_proxy, origin):
    origin.route("/neg", handler=lambda req: Response(
        body=(req.header("accept") or "-").encode(),
        headers={"Cache-Control": "max-age=300", "Vary": "Accept"}))
    d = make_proxy(origin)
    assert d.get("/neg", headers={"Accept": "text/html, application/json;q=0.5, */*;q=0.1"}) \
        .body == b"text/html,application/json;q=0.5,*/*;q=0.1"
    # Two field lines, another order, other case and spacing: the same request.
    host = "%s:%d" % d.tcp_address(0)  # the Host http.client sent: the same URL
    raw = d.raw(b"GET /neg HTTP/1.1\r\nHost: " + host.encode() +
                b"\r\nAccept: */*; q=0.1, Application/JSON;q=0.5\r\n"
                b"Accept: TEXT/HTML\r\nConnection: close\r\n\r\n")
    assert b"\r\nX-Cache: HIT\r\n" in raw, raw
    assert origin.hits("/neg") == 1


def _dechunk(body):
    out = b""
    while True:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return out
        out, body = out + body[:size], body[size + 2:]


# RFC 9112 §6.3: "If a Transfer-Encoding header field is present in a response and the chunked
# transfer coding is not the final encoding, the message body length is determined by reading
# the connection until it is closed by the server."
def test_identity_transfer_coding_is_read_to_close_and_stored(make_proxy, origin):
    origin.route("/te-id", raw=b"HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\n"
                               b"Transfer-Encoding: identity\r\n\r\nread until close")
    d = make_proxy(origin)
    r = d.get("/te-id")
    assert r.status == 200 and r.body == b"read until close"
    r = d.get("/te-id")
    assert r.headers["x-cache"] == "HIT" and r.body == b"read until close"
    assert origin.hits("/te-id") == 1


@pytest.mark.parametrize("coding, framing", [("gzip", "close"), ("gzip, chunked", "chunked")])
def test_a_body_left_transfer_coded_is_relayed_with_its_coding_and_not_stored(
        make_proxy, origin, coding, framing):
    import gzip
    coded = gzip.compress(b"the representation")
    body = coded if framing == "close" else b"%x\r\n" % len(coded) + coded + b"\r\n0\r\n\r\n"
    origin.route("/te-gz", raw=b"HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\n"
                               b"Transfer-Encoding: " + coding.encode() + b"\r\n\r\n" + body)
    d = make_proxy(origin)
    host = "%s:%d" % d.tcp_address(0)
    for _ in range(2):
        raw = d.raw(b"GET /te-gz HTTP/1.1\r\nHost: " + host.encode() +
                    b"\r\nConnection: close\r\n\r\n")
        head, _, payload = raw.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 "), raw
        assert b"\r\nTransfer-Encoding: gzip, chunked" in head, head
        assert gzip.decompress(_dechunk(payload)) == b"the representation"
    # The coded bytes are not the representation: never stored, never shared.
    assert origin.hits("/te-gz") == 2


def test_a_transfer_coded_body_is_not_sent_to_an_http_1_0_client(make_proxy, origin):
    origin.route("/te-10", raw=b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxx")
    d = make_proxy(origin)
    raw = d.raw(b"GET /te-10 HTTP/1.0\r\nHost: x\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 502 ") and b"transfer-encoding" not in raw.lower(), raw
