"""Found while adding partial content (issue 13 item 11): a client whose request went upstream
but did not stream the answer — it revalidates a stale entry, or asks for a range that the whole
representation is fetched for — was handed back to the proxy when the answer could not be
shared. With Authorization nothing marks the key hit-for-pass (issue 11 defect 5), so it was
sent to the origin again, and again: the client never got an answer and the origin was asked in
a loop. That client now gets the answer streamed, whatever keeps it from being shared."""
import http.client
import time


def _get(d, path, headers):
    host, port = d.tcp_address(0)
    conn = http.client.HTTPConnection(host, port, timeout=5)
    try:
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def _wait_stored(d):
    deadline = time.monotonic() + 10
    while d.admin("GET", "/admin/stats").json()["store"].get("entries", 0) < 1:
        assert time.monotonic() < deadline, "the fill never reached LMDB"
        time.sleep(0.02)


def test_an_authorized_revalidation_gets_the_new_response(make_proxy, origin):
    origin.route("/stale", body=b"old", headers={"Cache-Control": "max-age=10"}, etag='"1"')
    d = make_proxy(origin)
    d.get("/stale")
    _wait_stored(d)
    d.advance_clock(60)
    origin.route("/stale", body=b"new", headers={"Cache-Control": "max-age=10"}, etag='"2"')
    assert _get(d, "/stale", {"Authorization": "Bearer alice"}) == (200, b"new")
    assert origin.hits("/stale") == 2
    # Not shared: an anonymous client still revalidates the stored copy.
    assert d.get("/stale").body == b"new"


def test_an_authorized_range_with_if_range_gets_the_response(make_proxy, origin):
    origin.route("/doc", body=b"0123456789", headers={"Cache-Control": "max-age=60"}, etag='"1"')
    d = make_proxy(origin)
    headers = {"Authorization": "Bearer alice", "Range": "bytes=0-3", "If-Range": '"1"'}
    status, body = _get(d, "/doc", headers)
    # The whole representation was asked for (If-Range: not forwarded as a range) and it is
    # this client's alone: it gets the 200 (a server MAY ignore Range, RFC 9110 §14.2).
    assert (status, body) == (200, b"0123456789")
    assert origin.hits("/doc") == 1
