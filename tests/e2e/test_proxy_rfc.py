"""RFC 9111 / 9110 / 9112 details (issue 13), each exchange taken from the RFC text: what the
client sees and what the origin is asked."""
from origin import Response


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
