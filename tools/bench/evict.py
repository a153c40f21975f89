#!/usr/bin/python3
"""evict.py: PUT latency while the map fills and eviction runs ahead of it.

Starts BIN (default build-bench/edgecached) pinned to CPU 0 with a small map, durability
batch and an evictable namespace, and has --threads client threads (this process, pinned to
CPU 1) PUT --puts unique 1.4 KB values each on keep-alive connections, so the map crosses
85% again and again. Prints PUT latency percentiles and max, the run time, the daemon's peak
RssAnon and how many eviction episodes its log reported. Used for the eviction slicing
change in BENCHMARKS.md; run it on two binaries in one sitting to compare.

Usage: tools/bench/evict.py [--bin FILE] [--map-size 256MiB] [--threads 4] [--puts 50000]
"""
import argparse
import http.client
import os
import shutil
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import TOP, rss_anon_kb, start_pinned_daemon  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(TOP, "build-bench", "edgecached"))
    ap.add_argument("--map-size", default="256MiB")
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--puts", type=int, default=50000, help="PUTs per thread")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="ecevict.")
    cfg = {"map_size": args.map_size, "durability": "batch", "evictable_namespaces": ["ev"]}
    daemon, port, log = start_pinned_daemon(args.bin, tmp, cfg)
    try:
        lat, errors, peak, done = [], [], [0], threading.Event()

        def sampler():
            while not done.is_set():
                peak[0] = max(peak[0], rss_anon_kb([daemon.pid]))
                time.sleep(0.02)

        def worker(t):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            value = os.urandom(700).hex().encode()
            mine = []
            for i in range(args.puts):
                t0 = time.perf_counter()
                conn.request("PUT", f"/kv/ev/t{t}-{i:08d}?expiration_ttl={3600 + i}", body=value)
                r = conn.getresponse()
                r.read()
                mine.append((time.perf_counter() - t0) * 1000)
                if r.status != 200:
                    errors.append(r.status)
                    break
            lat.extend(mine)

        s = threading.Thread(target=sampler)
        s.start()
        started = time.time()
        threads = [threading.Thread(target=worker, args=(t,)) for t in range(args.threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.time() - started
        done.set()
        s.join()
    finally:
        daemon.terminate()
        daemon.wait()
        log.close()
    with open(os.path.join(tmp, "log")) as f:
        # ("map full: evicted" is how binaries before the slicing change logged each one.)
        episodes = sum("evicting down to" in line or "map full: evicted" in line for line in f)
    shutil.rmtree(tmp, ignore_errors=True)
    lat.sort()

    def pct(p):
        return lat[min(len(lat) - 1, int(len(lat) * p))]

    print(f"puts={len(lat)} errors={len(errors)} seconds={seconds:.1f} p50={pct(0.5):.2f} "
          f"p99={pct(0.99):.2f} p99.9={pct(0.999):.2f} max={lat[-1]:.1f} ms "
          f"rss_anon_peak_kb={peak[0]} eviction_episodes={episodes}")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
