#!/usr/bin/python3
"""coalesce.py: N concurrent cold requests for one URL, sent at the same moment.

Usage: coalesce.py HOST PORT PATH N
Opens N connections, waits until every one is established, then writes one GET on each and
reads every response. Prints one JSON line: {"sent", "statuses": {code: n}, "x_cache": {...},
"failed", "seconds"}.
"""
import asyncio
import json
import resource
import sys
import time


async def read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = lines[0].split(" ")[1]
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    length = int(headers.get("content-length", "0"))
    await reader.readexactly(length)
    return status, headers.get("x-cache", "-").split(",")[0].split(" ")[0]


async def main(host, port, path, n):
    conns = await asyncio.gather(*(asyncio.open_connection(host, port) for _ in range(n)))
    req = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    start = time.monotonic()
    for _, writer in conns:
        writer.write(req)
    await asyncio.gather(*(w.drain() for _, w in conns))
    results = await asyncio.gather(*(read_response(r) for r, _ in conns), return_exceptions=True)
    seconds = time.monotonic() - start
    statuses, caches, failed = {}, {}, 0
    for res in results:
        if isinstance(res, BaseException):
            failed += 1
            continue
        statuses[res[0]] = statuses.get(res[0], 0) + 1
        caches[res[1]] = caches.get(res[1], 0) + 1
    for _, w in conns:
        w.close()
    print(json.dumps({"sent": n, "statuses": statuses, "x_cache": caches, "failed": failed,
                      "seconds": round(seconds, 3)}))


if __name__ == "__main__":
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])))
