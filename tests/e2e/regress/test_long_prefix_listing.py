"""Issue 11 defect 4: listing cost grew with the whole run of keys sharing a long prefix.
100,000 keys sharing their first 500 bytes made `GET /kv/long?limit=1` take 200 ms and a cursor
walk O(R^2/limit): each page read and sorted the whole run. The run index walks a run in key
order; the cost per page is asserted at the unit level (store_long_runs_test.cpp counts the
records a page reads), here the user-visible result: every key, in order, exactly once.
"""
import json
import time
import urllib.parse

SHARED = "s" * 500
N = 100_000


def test_listing_100000_keys_sharing_500_bytes(daemon):
    d = daemon
    keys = [SHARED + "%05d" % i for i in range(N)]
    for i in range(0, N, 10_000):  # ten bulk PUTs, written out of order
        batch = [{"key": k, "value": "v"} for k in reversed(keys[i:i + 10_000])]
        r = d.put("/kv/long", json.dumps(batch).encode(), headers={"Content-Type": "application/json"})
        assert r.status == 200, r.text

    t0 = time.monotonic()
    r = d.get("/kv/long?limit=1")
    first_ms = (time.monotonic() - t0) * 1000
    assert r.status == 200
    page = r.json()
    assert [k["name"] for k in page["keys"]] == [keys[0]] and not page["list_complete"]

    seen, cursor, pages = [], None, 0
    t0 = time.monotonic()
    while True:
        q = "limit=1000" + ("&cursor=" + urllib.parse.quote(cursor) if cursor else "")
        page = d.get("/kv/long?" + q).json()
        seen += [k["name"] for k in page["keys"]]
        pages += 1
        if page["list_complete"]:
            break
        cursor = page["cursor"]
    walk_s = time.monotonic() - t0
    assert seen == keys  # all of them, in byte order, exactly once
    # Resuming inside the run from a cursor, and a prefix that selects part of it.
    page = d.get("/kv/long?limit=3&prefix=" + SHARED + "0999").json()
    assert [k["name"] for k in page["keys"]] == keys[9990:9993]
    print(f"LISTING limit=1 {first_ms:.1f} ms; walk of {N} keys in {pages} pages {walk_s:.1f} s")
