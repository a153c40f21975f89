#!/usr/bin/python3
"""commit_stall.py: KV GET latency on the loop while large write batches commit.

Starts BIN pinned to CPU 0 (durability as given, default sync) and measures sequential GETs of
one 1 KiB key on a keep-alive connection from this process (pinned to CPU 1): first alone for
--seconds, then as long again while a second connection PUTs bulk batches of --batch 1 KiB
entries (one transaction each) back to back. Prints GET p50/p99/max for both phases, the
bulk PUTs' mean time and how many ran. Issue 10 asks that the loop's GET latency not rise while
a large batch commits; run it on two binaries in one sitting to compare.

Usage: tools/bench/commit_stall.py [--bin FILE] [--seconds 5] [--batch 10000] [--durability sync]
"""
import argparse
import http.client
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TOP, start_pinned_daemon  # noqa: E402


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def probe(port, seconds, lat):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        c.request("GET", "/kv/bench/k1")
        r = c.getresponse()
        r.read()
        lat.append(time.perf_counter() - t)
        if r.status != 200:
            raise SystemExit(f"GET answered {r.status}")
    c.close()


def bulk_writer(port, body, stop, times):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    while not stop.is_set():
        t = time.perf_counter()
        c.request("PUT", "/kv/bulk", body, {"Content-Type": "application/json"})
        r = c.getresponse()
        r.read()
        if r.status != 200:
            raise SystemExit(f"bulk PUT answered {r.status}")
        times.append(time.perf_counter() - t)
    c.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(TOP, "build-bench", "edgecached"))
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--batch", type=int, default=10000)
    ap.add_argument("--durability", default="sync", choices=["sync", "batch"])
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="ecstall.")
    daemon, port, log = start_pinned_daemon(args.bin, tmp,
                                            {"map_size": "4GiB", "durability": args.durability})
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("PUT", "/kv/bench/k1", b"v" * 1024)
        c.getresponse().read()
        c.close()
        body = json.dumps([{"key": f"k{i:08d}", "value": "w" * 1024}
                           for i in range(args.batch)]).encode()

        alone = []
        probe(port, args.seconds, alone)
        loaded, times, stop = [], [], threading.Event()
        w = threading.Thread(target=bulk_writer, args=(port, body, stop, times))
        w.start()
        probe(port, args.seconds, loaded)
        stop.set()
        w.join()

        def row(name, xs):
            print(f"{name:<28} n={len(xs):>6}  p50 {pct(xs, .5) * 1e3:7.2f} ms  "
                  f"p99 {pct(xs, .99) * 1e3:7.2f} ms  max {max(xs) * 1e3:8.2f} ms")
        row("GET alone", alone)
        row(f"GET beside bulk {args.batch}", loaded)
        print(f"bulk PUTs of {args.batch} x 1 KiB: {len(times)} done, "
              f"mean {statistics.mean(times) * 1e3:.0f} ms" if times else "bulk PUTs: none done")
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
