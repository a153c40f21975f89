"""Issue 11 defect 7: routes are chosen on the path an origin may resolve the target to; a
target whose raw and normalised paths would choose different routes is refused (400), so a
victim's /api/..%2Faccount is never cached under the /api/ rule (web cache deception)."""
from origin import Response


def resolving_origin(origin):
    # An origin that decodes %2F and resolves dot-segments, like many frameworks do.
    def handler(req):
        if "account" in req.path.replace("%2F", "/").replace("%2f", "/"):
            cookie = req.header("cookie") or ""
            return Response(body=b"account of " + cookie.encode())
        return Response(body=b"public api")
    origin.route("/*", handler=handler)


def proxy(make_proxy, origin):
    return make_proxy(origin, config={"routes": [
        {"name": "api", "prefix": "/api/", "origin": "o", "ttl": 60},
        {"name": "site", "prefix": "/", "origin": "o", "ttl": 0}]})


def test_cache_deception_through_an_encoded_dot_segment_is_refused(make_proxy, origin):
    resolving_origin(origin)
    d = proxy(make_proxy, origin)
    for target in ["/api/..%2Faccount", "/api/%2e%2e/account", "/api/..%2faccount",
                   "/api/../account", "/api/..\\account", "/api/%2E%2E%2Faccount"]:
        r = d.get(target, headers={"Cookie": "session=victim"})
        assert r.status == 400, (target, r)
        assert r.json()["error"]["code"] == "ambiguous_path"
        r = d.get(target)
        assert r.status == 400 and b"victim" not in r.body
    assert origin.hits() == 0


def test_the_reverse_direction_is_refused_too(make_proxy, origin):
    # Raw /account/... routes to the uncached rule, but an origin resolving it answers /api/.
    resolving_origin(origin)
    d = proxy(make_proxy, origin)
    assert d.get("/account/..%2Fapi/x").status == 400


def test_normalisation_inside_one_route_is_served(make_proxy, origin):
    resolving_origin(origin)
    d = proxy(make_proxy, origin)
    r = d.get("/api/v1/../x")
    assert r.status == 200 and r.body == b"public api"
    assert d.get("/api/v1/../x").headers["x-cache"] == "HIT"
    assert d.get("/%61pi/x").status == 400  # an escaped route prefix chooses another route
