"""Issue 11 defect 5: one request with Authorization must not make a URL uncacheable for
everyone (Varnish passes such a request without a hit-for-miss object)."""


def test_an_authorized_get_does_not_poison_the_url_for_anonymous_clients(make_proxy, origin):
    origin.route("/page", body=b"public page", headers={"Cache-Control": "max-age=300"})
    d = make_proxy(origin)
    r = d.get("/page", headers={"Authorization": "Bearer alice"})
    assert r.status == 200 and r.body == b"public page"
    assert d.get("/page").headers["x-cache"] == "MISS"  # the credentialed answer was not kept
    for _ in range(5):
        r = d.get("/page")
        assert r.headers["x-cache"] == "HIT" and r.body == b"public page"
    assert origin.hits("/page") == 2


def test_a_private_answer_still_sends_the_url_past_the_cache(make_proxy, origin):
    # What hit-for-pass is for: the origin itself said the URL is not shareable.
    origin.route("/me", body=b"mine", headers={"Cache-Control": "private"})
    d = make_proxy(origin)
    assert d.get("/me").headers["x-cache"] == "MISS"
    assert d.get("/me").headers["x-cache"] == "BYPASS"
