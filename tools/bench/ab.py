#!/usr/bin/python3
"""ab.py: two edgecached binaries on the same cases, alternated, for a before/after figure.

Each round runs every case on binary A, then on B (a fresh daemon per run, pinned to CPU 0,
wrk on CPU 1), so drift of a shared machine hits both alike. Prints per case the median req/s,
p99 and server CPU µs per request of each binary, and B/A of CPU per request in each round
with their median. Cases: kv-get (1 KiB), kv-put-sync, kv-put-batch, proxy-hit (1 KiB),
proxy-miss (new URL each, stored).

Usage: tools/bench/ab.py A_BIN B_BIN [--rounds 3] [--duration 5] [--cases kv-put-sync,...]
"""
import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import say  # noqa: E402

CASES = ["kv-get", "kv-put-sync", "kv-put-batch", "proxy-hit", "proxy-miss"]


def run_case(b, case, origin_port):
    """One measured run of `case` on b.bin; returns harness's result row."""
    if case.startswith("kv-"):
        durability = "batch" if case == "kv-put-batch" else "sync"
        # b.seq counts every process started: a fresh name, so a fresh data dir, per run.
        proc, port, _ = b.edgecached(f"ab-{b.seq}", {"durability": durability})
        if case == "kv-get":
            harness.http_req(port, "PUT", "/kv/bench/k1", b"v" * 1024)
            r = b.wrk(proc, "ab", case, b.bin, 50, f"http://127.0.0.1:{port}/kv/bench/k1",
                      "get.lua")
        else:
            r = b.wrk(proc, "ab", case, b.bin, 50, f"http://127.0.0.1:{port}", "put.lua",
                      ["bench", "p@U@"])
    else:
        proc, port, _ = b.edgecached_proxy(f"ab-{b.seq}", origin_port)
        url = f"http://127.0.0.1:{port}"
        if case == "proxy-hit":
            harness.http_req(port, "GET", "/obj/1k.bin")
            r = b.wrk(proc, "ab", case, b.bin, 64, url + "/obj/1k.bin", "get.lua")
        else:
            r = b.wrk(proc, "ab", case, b.bin, 64, url, "miss.lua", ["/obj/1k.bin", "m@U@"])
    b.stop(proc)
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--cases", default=",".join(CASES))
    args = ap.parse_args()
    cases = args.cases.split(",")
    for c in cases:
        if c not in CASES:
            harness.die(f"unknown case {c}: one of {', '.join(CASES)}")
    bins = [os.path.abspath(args.a), os.path.abspath(args.b)]
    # Bench's own options: no waiting for an idle machine, one attempt per run.
    args.bin, args.wait_idle, args.repeat, args.keep_tmp = bins[0], 0, 1, False
    b = harness.Bench(args)
    rows = {(c, i): [] for c in cases for i in range(2)}  # by position: A and B may be one file
    try:
        _, origin_port = b.origin() if any(c.startswith("proxy") for c in cases) else (None, 0)
        for rnd in range(1, args.rounds + 1):
            say(f"\n-- round {rnd} of {args.rounds} --")
            for c in cases:
                for i, x in enumerate(bins):
                    b.bin = x
                    rows[(c, i)].append(run_case(b, c, origin_port))
    finally:
        b.close()

    def med(c, x, field):
        return statistics.median(r[field] for r in rows[(c, x)])

    say(f"\nA = {bins[0]}\nB = {bins[1]}\n{args.rounds} rounds of {args.duration} s, medians\n")
    # The machine drifts between rounds more than a change moves the figures: the ratio of the
    # two runs of one round (back to back) is the steadier statistic.
    say("| case | A req/s | B req/s | A p99 ms | B p99 ms | A CPU µs/req | B CPU µs/req "
        "| B/A CPU per round | median |")
    say("|---|---:|---:|---:|---:|---:|---:|---|---:|")
    a, bb = 0, 1
    for c in cases:
        ratios = [rb["cpu_us_per_req"] / ra["cpu_us_per_req"]
                  for ra, rb in zip(rows[(c, a)], rows[(c, bb)]) if ra["cpu_us_per_req"]]
        say(f"| {c} | {med(c, a, 'rps'):,.0f} | {med(c, bb, 'rps'):,.0f} "
            f"| {med(c, a, 'p99_us') / 1000:.2f} | {med(c, bb, 'p99_us') / 1000:.2f} "
            f"| {med(c, a, 'cpu_us_per_req'):.2f} | {med(c, bb, 'cpu_us_per_req'):.2f} "
            f"| {', '.join(f'{r:.2f}' for r in ratios)} "
            f"| {statistics.median(ratios) if ratios else 0:.2f}× |")


if __name__ == "__main__":
    main()
