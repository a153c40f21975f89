"""Found making Fill a state machine (issue 12): a background revalidation waiting in the
deferred queue took its purge-generation snapshot only when its task ran, so a purge of the URL
while it waited did not stop it; the origin's 304 then refreshed the purged copy and stored it
again — purged content came back. The queued revalidation now holds the snapshot taken when it
was scheduled, and is not sent at all once its entry was purged."""
import json
import threading

from abuse import wait_until
from origin import Response

SWR = {"Cache-Control": "max-age=10, stale-while-revalidate=600"}


def test_purge_stops_a_queued_revalidation(make_proxy, origin):
    gate = threading.Event()

    def hold(req):
        gate.wait(30)
        return Response(body=b"h2", headers=SWR, date=False, etag='"h2"')

    origin.route("/h", body=b"h1", headers=SWR, date=False, etag='"h1"')
    origin.route("/p", body=b"p1", headers=SWR, date=False, etag='"p1"')
    # One deferred task at a time: /h's revalidation hangs, /p's waits behind it.
    d = make_proxy(origin, config={"deferred_concurrency": 1},
                   origin_opts={"timeout_ms": 60000})
    assert d.get("/h").body == b"h1"
    assert d.get("/p").body == b"p1"
    assert wait_until(lambda: d.admin("GET", "/admin/stats").json()["store"]["entries"] >= 2, 10)
    origin.route("/h", handler=hold)
    d.advance_clock(20)
    assert d.get("/h").headers["x-cache"] == "STALE"
    assert origin.wait_for_hits("/h", 2, 10)  # running, held by the origin
    r = d.get("/p")
    assert r.headers["x-cache"] == "STALE" and r.body == b"p1"  # its revalidation is queued
    r = d.admin("POST", "/admin/purge", json.dumps({"paths": ["/p"]}))
    assert r.status == 200, r.body
    gate.set()

    def idle():
        dq = d.admin("GET", "/admin/stats").json()["cache"]["deferred"]
        return dq["running"] == 0 and dq["queued"] == 0

    assert wait_until(idle, 10)
    # The purged copy stays purged: the next request goes to the origin for the whole
    # representation, not a 304 that would revive "p1".
    r = d.get("/p")
    assert r.headers["x-cache"] == "MISS"
    assert r.body == b"p1"
    assert origin.requests_for("/p")[-1].header("if-none-match") is None
