"""RFC 9111 / 9110 / 9112 details (issue 13), each exchange taken from the RFC text: what the
client sees and what the origin is asked."""
import http.client
import time

import pytest

from origin import http_date


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
    # A 206 is not stored (a partial response is not the representation): each one is fetched.
    assert origin.hits("/part") == rounds


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
