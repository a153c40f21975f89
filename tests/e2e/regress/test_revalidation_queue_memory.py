"""Found hunting issue 11's "every map a client can grow": queued background revalidations
(stale-while-revalidate) were bounded in count (10,000) but not in bytes, and each holds its
cache key several times and a copy of the request: unique long URLs made that hundreds of MiB."""
import os
import socket
import threading

from procstat import is_asan, rss_anon_kb
from ectest import EDGECACHED
from origin import Response

N = int(os.environ.get("REVAL_URLS", "3000"))
PATH_BYTES = 12000


def pipeline(host, port, targets, batch=50):
    s = socket.create_connection((host, port), timeout=60)
    try:
        for i in range(0, len(targets), batch):
            part = targets[i:i + batch]
            s.sendall(b"".join(b"GET " + t + b" HTTP/1.1\r\nHost: x\r\n\r\n" for t in part))
            buf = b""
            while buf.count(b"HTTP/1.1 200 ") < len(part) or not buf.endswith(b"body"):
                chunk = s.recv(1 << 20)
                assert chunk, "connection closed"
                buf += chunk
    finally:
        s.close()


def test_queued_revalidations_are_bounded_in_bytes(make_proxy, origin):
    gate = threading.Event()  # set: the origin answers at once; clear: revalidations hang

    def handler(req):
        if not gate.is_set():
            gate.wait(30)
        return Response(body=b"body", headers={"Cache-Control": "max-age=1, stale-while-revalidate=600"})
    gate.set()
    origin.route("/s/*", handler=handler)
    d = make_proxy(origin, config={"deferred_concurrency": 1},
                   origin_opts={"timeout_ms": 60000})
    host, port = d.tcp_address()
    pad = b"q" * PATH_BYTES
    targets = [b"/s/%d/" % i + pad for i in range(N)]
    pipeline(host, port, targets)
    d.advance_clock(5)
    gate.clear()
    before = rss_anon_kb(d.proc.pid)
    pipeline(host, port, targets)  # all STALE: each schedules a revalidation, one runs
    grown_kb = rss_anon_kb(d.proc.pid) - before
    gate.set()
    print(f"RssAnon grew {grown_kb} KiB queueing {N} revalidations of {PATH_BYTES}-byte URLs")
    if is_asan(EDGECACHED):
        return
    # Unbounded: about 4 copies of each key plus the request, N × ~60 KB; bounded: 16 MiB.
    assert grown_kb < 40 * 1024
