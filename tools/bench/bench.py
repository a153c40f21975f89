#!/usr/bin/python3
"""bench.py: edgecached side by side with Redis (kv) and nginx proxy_cache / Varnish (proxy),
plus a 200k-entry prefix purge under load (purge). Run through tools/bench/run, which installs
the packages and builds the release binary first; see BENCHMARKS.md.

Suites live in kv.py, proxy.py and purge.py; processes, /proc readings and load generators in
harness.py; the markdown report in report.py.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in tools/bench

import harness  # noqa: E402
import kv  # noqa: E402
import proxy  # noqa: E402
import purge  # noqa: E402
from harness import TOP, busy_now, say  # noqa: E402
from report import report  # noqa: E402

SUITES = {"kv": [kv.run], "proxy": [proxy.run], "purge": [purge.run],
          "all": [kv.run, proxy.run, purge.run]}


def parse_args():
    ap = argparse.ArgumentParser(
        prog="tools/bench/run",
        description="edgecached vs Redis (kv) and nginx proxy_cache / Varnish (proxy), a "
                    "200k-entry purge under load (purge); servers on CPU 0, load generator on "
                    "CPU 1.")
    ap.add_argument("suite", choices=list(SUITES))
    ap.add_argument("--bin", default=os.path.join(TOP, "build-bench", "edgecached"),
                    help="edgecached binary (default: build-bench/edgecached)")
    ap.add_argument("--duration", type=int, default=10, help="seconds per case (default 10)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run every case N times, interleaved with the peers; report medians")
    ap.add_argument("--long", action="store_true",
                    help="add RssAnon flatness runs (kv mixed, proxy misses) of --long-seconds")
    ap.add_argument("--long-seconds", type=int, default=300, help="(default 300)")
    ap.add_argument("--long-map-size", default="", metavar="SIZE",
                    help="map_size for the long proxy-miss run, e.g. 512MiB, so it fills the "
                         "map and runs eviction (default: the daemon's default)")
    ap.add_argument("--perf", action="store_true",
                    help="profile (perf record, syscalls per request) KV GET/PUT and proxy "
                         "hit/miss")
    ap.add_argument("--servers", default="",
                    help="proxy servers to run, comma-separated: edgecached,nginx,varnish")
    ap.add_argument("--out", default="",
                    help="directory for results.md, results.json and perf reports "
                         "(default /tmp/edgecached-bench-<time>)")
    ap.add_argument("--wait-idle", type=int, default=120, metavar="S",
                    help="at the start, wait up to S seconds for other processes to leave the "
                         "CPUs (default 120)")
    ap.add_argument("--purge-entries", type=int, default=200_000,
                    help="entries the purge case fills and purges (default 200000)")
    ap.add_argument("--keep-tmp", action="store_true", help="keep the working directory")
    return ap.parse_args()


def describe(b):
    info = harness.machine()
    git = lambda *a: subprocess.run(["git", "-C", TOP, *a], capture_output=True,
                                    text=True).stdout.strip()
    built = time.strftime("%Y-%m-%d %H:%M", time.localtime(os.path.getmtime(b.bin)))
    dirty = " + uncommitted changes" if git("status", "--porcelain", "--untracked-files=no") \
        else ""
    info["edgecached"] = f"{b.bin} built {built} from {git('rev-parse', '--short', 'HEAD')}{dirty}"
    info["peers"] = {}
    for tool, argv in (("redis", ["redis-server", "--version"]), ("nginx", ["nginx", "-v"]),
                       ("varnish", ["varnishd", "-V"]), ("wrk", ["wrk", "--version"])):
        out = subprocess.run(argv, capture_output=True, text=True)
        info["peers"][tool] = (out.stdout + out.stderr).strip().splitlines()[0][:90]
    info["syscall_us"] = harness.syscall_cost()
    return info


def wait_idle(b, limit_s):
    deadline = time.monotonic() + limit_s
    while (busy := busy_now(2)) >= harness.OTHER_LIMIT and time.monotonic() < deadline:
        say(f"# other processes use {busy:.0f}% of a core; waiting (up to {limit_s} s)")
        time.sleep(8)
    if busy >= harness.OTHER_LIMIT:
        b.notes.append(f"other processes used {busy:.0f}% of a core when the run started: "
                       "numbers are disturbed (see the other % column)")


def main():
    args = parse_args()
    # wrk, coalesce.py and the servers want many fds.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    args.out = args.out or "/tmp/edgecached-bench-" + time.strftime("%Y%m%d-%H%M%S")
    os.makedirs(args.out, exist_ok=True)
    b = harness.Bench(args)
    try:
        info = describe(b)
        say(f"# machine: {info}")
        say(f"# working dir {b.tmp}; results in {args.out}")
        wait_idle(b, args.wait_idle)
        t0 = time.monotonic()
        for suite in SUITES[args.suite]:
            suite(b)
        md = report(b, info, ["tools/bench/run"] + sys.argv[1:])
        with open(os.path.join(args.out, "results.md"), "w") as f:
            f.write(md)
        with open(os.path.join(args.out, "results.json"), "w") as f:
            json.dump({"machine": info, "results": b.results, "coalescing": b.coalescing,
                       "purges": b.purges, "long_runs": b.long_runs, "profiles": b.profiles,
                       "notes": b.notes}, f, indent=1)
        say("\n" + md)
        say(f"# done in {time.monotonic() - t0:.0f} s; results in {args.out}/results.md")
    finally:
        b.close()


if __name__ == "__main__":
    main()
