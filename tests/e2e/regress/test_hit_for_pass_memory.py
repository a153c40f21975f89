"""Issue 11 defect 2: the hit-for-pass map must not grow with the length of the URLs a client
sends (it held full cache keys: 20,000 unique 15 KB URLs took RSS from 6 MB to 301 MB)."""
import os
import socket

from procstat import is_asan, rss_anon_kb
from ectest import EDGECACHED

N = int(os.environ.get("HFP_URLS", "5000"))
PATH_BYTES = 12000


def pipeline(host, port, targets, batch=50):
    s = socket.create_connection((host, port), timeout=30)
    try:
        for i in range(0, len(targets), batch):
            part = targets[i:i + batch]
            s.sendall(b"".join(b"GET " + t + b" HTTP/1.1\r\nHost: x\r\n\r\n" for t in part))
            want = len(part)
            buf = b""
            while buf.count(b"HTTP/1.1 ") < want or not buf.endswith(b"mine"):
                chunk = s.recv(1 << 20)
                assert chunk, "connection closed"
                buf += chunk
            assert buf.count(b"HTTP/1.1 200 ") == want, buf[:300]
    finally:
        s.close()


def test_unique_long_private_urls_do_not_grow_memory(make_proxy, origin):
    origin.route("/u/*", body=b"mine", headers={"Cache-Control": "private"})
    d = make_proxy(origin)
    host, port = d.tcp_address()
    pad = b"p" * PATH_BYTES
    pipeline(host, port, [b"/u/warm%d" % i for i in range(200)])
    before = rss_anon_kb(d.proc.pid)
    pipeline(host, port, [b"/u/%d/" % i + pad for i in range(N)])
    grown_kb = rss_anon_kb(d.proc.pid) - before
    stats = d.admin("GET", "/admin/stats").json()
    print(f"RssAnon grew {grown_kb} KiB over {N} unique {PATH_BYTES}-byte private URLs")
    if is_asan(EDGECACHED):
        return
    # Keys held whole would be N * PATH_BYTES (60 MB at 5,000); hashes are a few hundred KiB.
    assert grown_kb < 16 * 1024 + N * PATH_BYTES // 1024 // 20, stats
