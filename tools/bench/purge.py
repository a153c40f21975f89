"""purge.py: the purge case (issue 4) — a prefix purge of 200k cache entries while another
client keeps being served: that client's latency during the purge beside its latency unloaded,
the purge's duration, count and server CPU, and errors."""
import json
import os
import signal
import subprocess
import sys
import time

from harness import (CLIENT_CPU, HERE, TICK, cpu_ticks, die, http_req, pin, say, show_cmd,
                     tree, wrk_result)

PREFIX = "/purge/"
PROBE_PATH = "/obj/1k.bin"  # a hit outside the purged prefix
PROBE_INTERVAL_MS = 1


def percentile(sorted_vals, pct):
    return sorted_vals[min(len(sorted_vals) - 1, int(len(sorted_vals) * pct / 100))]


def latency(samples):
    lat = sorted(s[1] for s in samples)
    if not lat:
        return {"requests": 0, "errors": 0}
    return {"requests": len(lat), "errors": sum(1 for s in samples if not s[2]),
            "p50_us": percentile(lat, 50), "p99_us": percentile(lat, 99), "max_us": lat[-1]}


def run(b):
    entries_wanted = b.args.purge_entries
    say(f"\n== purge: POST /admin/purge {{\"prefix\":\"{PREFIX}\"}} over {entries_wanted:,} "
        f"entries while a client requests {PROBE_PATH} every {PROBE_INTERVAL_MS} ms ==")
    origin, oport = b.origin()
    docroot = b.dir("docroot")
    os.makedirs(os.path.join(docroot, "purge"), exist_ok=True)
    with open(os.path.join(docroot, "purge", "1k.bin"), "wb") as f:
        f.write(b"p" * 1024)
    proc, port, admin = b.edgecached_proxy("edgecached-purge", oport, memory_cache="256MiB")
    for _ in range(2):
        st, hdrs, _ = http_req(port, "GET", PROBE_PATH)
    if st != 200 or "HIT" not in hdrs.get("x-cache", "").upper():
        die(f"{PROBE_PATH} is not a hit: {st} {hdrs}")

    # Fill: every entry a real miss through the origin and stored (durability "sync", the
    # default), 64 connections; wrk stops once entries_wanted responses are back.
    fill = pin(CLIENT_CPU) + ["wrk", "-t1", "-c64", "-d600s", "--timeout", "10s", "-s",
                              os.path.join(HERE, "fill.lua"), f"http://127.0.0.1:{port}", "--",
                              PREFIX + "1k.bin", f"f{int(time.time())}", str(entries_wanted)]
    show_cmd(fill, f"fill {entries_wanted:,} entries under {PREFIX}")
    t0 = time.monotonic()
    p = subprocess.Popen(fill, stdout=subprocess.PIPE, text=True)
    for line in p.stdout:
        if line.startswith("FILLED"):
            fill_s = time.monotonic() - t0
            p.send_signal(signal.SIGINT)  # wrk prints its summary and exits
            break
    out = line + p.stdout.read()
    r = wrk_result(out)
    if p.wait() != 0 or r is None or r["errors"] + r["non2xx"]:
        die(f"fill failed:\n{out}")
    _, _, body = http_req(admin, "GET", "/admin/stats")
    entries = json.loads(body).get("store", {}).get("entries")
    say(f"  filled {r['requests']:,} responses in {fill_s:.1f} s "
        f"({r['requests'] / fill_s:,.0f}/s); stored entries now {entries}")

    def probe(label, during):
        """Runs the paced probe around during(); returns (its samples, during's result)."""
        out_path = os.path.join(b.tmp, f"probe-{label}.json")
        argv = pin(CLIENT_CPU) + [sys.executable, os.path.join(HERE, "probe.py"), "127.0.0.1",
                                  str(port), PROBE_PATH, str(PROBE_INTERVAL_MS), out_path]
        show_cmd(argv, label)
        p = subprocess.Popen(argv)
        time.sleep(1)
        res = during()
        time.sleep(1)
        p.send_signal(signal.SIGTERM)
        if p.wait(timeout=30) != 0:
            die("probe.py failed")
        with open(out_path) as f:
            return json.load(f)["samples"], res

    b.quiet()
    base, _ = probe("unloaded", lambda: time.sleep(5))
    base = latency(base)

    def do_purge():
        show_cmd(["curl", "--unix-socket", admin, "-X", "POST", "-d",
                  json.dumps({"prefix": PREFIX}), "http://localhost/admin/purge"])
        ticks0 = cpu_ticks(tree(proc.pid))
        t0 = time.monotonic()
        st, _, body = http_req(admin, "POST", "/admin/purge", json.dumps({"prefix": PREFIX}),
                               {"Content-Type": "application/json"}, timeout=600)
        t1 = time.monotonic()
        return st, json.loads(body), t0, t1, (cpu_ticks(tree(proc.pid)) - ticks0) / TICK

    b.quiet()
    samples, (st, answer, t0, t1, cpu_s) = probe("during the purge", do_purge)
    if st != 200:
        die(f"purge answered {st}: {answer}")
    during = latency([s for s in samples if t0 <= s[0] <= t1])
    whole = latency(samples)
    st_after, hdrs, _ = http_req(port, "GET", PREFIX + "1k.bin?u=check")
    res = {"entries_filled": r["requests"], "fill_seconds": round(fill_s, 1),
           "fill_cmd": " ".join(fill), "stored_entries_before": entries,
           "purge_answer": answer, "purge_seconds": round(t1 - t0, 3),
           "purge_server_cpu_s": round(cpu_s, 2),
           "probe_unloaded": base, "probe_during": during,
           "probe_errors_whole_run": whole["errors"], "probe_interval_ms": PROBE_INTERVAL_MS}
    b.purges.append(res)
    say(f"  -> purged {answer.get('purged')} (memory {answer.get('memory')}) in "
        f"{res['purge_seconds']} s, server CPU {cpu_s:.2f} s")
    say(f"  -> probe unloaded: {base}")
    say(f"  -> probe during the purge: {during}; errors over the whole probe run: "
        f"{whole['errors']}")
    if whole["errors"]:
        b.notes.append(f"purge: the probe client saw {whole['errors']} errors")
    b.stop(proc)
    b.stop(origin)
    b.origin_proc = None
