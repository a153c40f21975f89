"""report.py: results.md from a Bench's rows — tables, ratios to the peers, the issues' targets."""
import json
import shlex

from harness import CLIENT_CPU, SERVER_CPU

# Targets from issues 2, 3 and 4.
KV_GET_RPS = 150_000
KV_PUT_BATCH_RPS = 100_000
P99_US = 2_000
HIT_VS_NGINX = 1.5
HIT_CPU_US = 5.0
MISS_CPU_US = 30.0
MISS_GROUP = "miss 1 KiB (new URL each, stored)"


def summarize(results):
    """One row per (suite, case, server, conns): the run with the median req/s, with the
    spread of all its repeats."""
    groups = {}
    for r in results:
        groups.setdefault((r["suite"], r["group"], r["server"], r["conns"]), []).append(r)
    out = []
    for runs in groups.values():
        ranked = sorted(runs, key=lambda r: r["rps"])
        med = dict(ranked[(len(ranked) - 1) // 2])
        med["n"] = len(runs)
        med["rps_min"], med["rps_max"] = ranked[0]["rps"], ranked[-1]["rps"]
        out.append(med)
    return out


def mib(kb):
    return f"{kb / 1024:.1f}"


def ms(us):
    return f"{us / 1000:.2f}"


def table(rows):
    lines = ["| case | server | conns | req/s | p50 ms | p99 ms | server CPU µs/req | "
             "RssAnon MiB before → after | CPU0 / CPU1 busy | other % | errors |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        spread = (f" ({r['rps_min'] / 1000:.1f}k–{r['rps_max'] / 1000:.1f}k)"
                  if r.get("n", 1) > 1 else "")
        lines.append(
            f"| {r['group']} | {r['server']} | {r['conns']} | {r['rps']:,.0f}{spread} | "
            f"{ms(r['p50_us'])} | {ms(r['p99_us'])} | {r['cpu_us_per_req']:.2f} | "
            f"{mib(r['rss_before_kb'])} → {mib(r['rss_after_kb'])} | "
            f"{r['server_core_busy']:.0f}% / {r['client_core_busy']:.0f}% | "
            f"{r['other_pct']:.0f} | {r['errors']} |")
    return "\n".join(lines)


def ratios(rows):
    lines = ["| case | conns | edgecached | vs | req/s ratio | CPU/req ratio | p99 ratio |",
             "|---|---:|---|---|---:|---:|---:|"]
    for r in rows:
        if not r["server"].startswith("edgecached"):
            continue
        for p in rows:
            if p["server"].startswith("edgecached") or p["group"] != r["group"] \
                    or p["conns"] != r["conns"]:
                continue
            lines.append(
                f"| {r['group']} | {r['conns']} | {r['server']} | {p['server']} | "
                f"{r['rps'] / p['rps']:.2f}× | {r['cpu_us_per_req'] / p['cpu_us_per_req']:.2f}× | "
                f"{r['p99_us'] / p['p99_us']:.2f}× |")
    return "\n".join(lines) if len(lines) > 2 else ""


def targets(b):
    rows, out = summarize(b.results), []

    def find(group, server, conns):
        return next((r for r in rows if r["group"] == group and r["server"] == server
                     and r["conns"] == conns), None)

    def check(ok, text):
        out.append(f"- {'MET' if ok else 'MISSED'}: {text}")

    for c in (50, 64):
        if r := find("GET 1 KiB", "edgecached", c):
            check(r["rps"] >= KV_GET_RPS,
                  f"KV GET c{c}: {r['rps']:,.0f} req/s (target ≥ {KV_GET_RPS:,})")
    if r := find("GET 1 KiB", "edgecached", 64):
        check(r["p99_us"] <= P99_US, f"KV GET c64 p99: {ms(r['p99_us'])} ms (target ≤ 2 ms)")
    if r := find("PUT 1 KiB, new keys", "edgecached (batch)", 50):
        check(r["rps"] >= KV_PUT_BATCH_RPS,
              f"KV PUT batch c50: {r['rps']:,.0f} req/s (target ≥ {KV_PUT_BATCH_RPS:,})")
    for c in (64, 256):
        e, n = find("hit 1 KiB", "edgecached", c), find("hit 1 KiB", "nginx proxy_cache", c)
        if e and n:
            check(e["rps"] >= HIT_VS_NGINX * n["rps"],
                  f"proxy hit 1 KiB c{c}: {e['rps']:,.0f} req/s = {e['rps'] / n['rps']:.2f}× "
                  f"nginx's {n['rps']:,.0f} (target ≥ {HIT_VS_NGINX}×)")
        if e:
            check(e["cpu_us_per_req"] <= HIT_CPU_US,
                  f"proxy hit 1 KiB c{c}: {e['cpu_us_per_req']:.2f} µs CPU/hit "
                  f"(target ≤ {HIT_CPU_US:g})")
    for size in ("1 KiB", "16 KiB"):
        if e := find(f"hit {size}", "edgecached", 256):
            check(e["p99_us"] <= P99_US,
                  f"proxy hit {size} c256 p99: {ms(e['p99_us'])} ms (target ≤ 2 ms)")
    for name in ("edgecached", "edgecached (batch)"):
        if e := find(MISS_GROUP, name, 64):
            check(e["cpu_us_per_req"] <= MISS_CPU_US,
                  f"proxy miss with store, {name}: {e['cpu_us_per_req']:.2f} µs CPU/miss "
                  f"(target ≤ {MISS_CPU_US:g})")
    for c in b.coalescing:
        if c["server"] == "edgecached":
            check(c["origin_requests"] == 1,
                  f"coalescing: {c['origin_requests']} origin request(s) for {c['sent']} "
                  "concurrent cold requests (target 1)")
    for p in b.purges:
        check(p["probe_errors_whole_run"] == 0 and p["probe_during"]["errors"] == 0,
              f"purge of {p['purge_answer'].get('purged')} entries: "
              f"{p['probe_errors_whole_run']} errors for the other client (target 0)")
    for lr in b.long_runs:
        check(lr["second_half_growth_kb"] <= 1024,
              f"RssAnon flat over {lr['seconds']} s ({lr['label']}): "
              f"{mib(lr['min_kb'])}–{mib(lr['max_kb'])} MiB, second-half growth "
              f"{lr['second_half_growth_kb']} KiB (≤ 1 MiB counted as flat)")
    return "\n".join(out)


def purge_section(p):
    u, d = p["probe_unloaded"], p["probe_during"]
    a = p["purge_answer"]
    return [
        f"Filled {p['entries_filled']:,} entries (real misses through the origin, stored) in "
        f"{p['fill_seconds']} s: `{p['fill_cmd']}`.", "",
        f"Purge answer `{json.dumps(a)}` after {p['purge_seconds']} s; server CPU "
        f"{p['purge_server_cpu_s']} s during it.", "",
        f"Other client: one GET (a hit outside the purged prefix) every "
        f"{p['probe_interval_ms']} ms on one keep-alive connection (tools/bench/probe.py).", "",
        "| other client | requests | p50 ms | p99 ms | max ms | errors |",
        "|---|---:|---:|---:|---:|---:|",
        f"| unloaded (5 s) | {u['requests']} | {ms(u['p50_us'])} | {ms(u['p99_us'])} | "
        f"{ms(u['max_us'])} | {u['errors']} |",
        f"| during the purge | {d['requests']} | {ms(d.get('p50_us', 0))} | "
        f"{ms(d.get('p99_us', 0))} | {ms(d.get('max_us', 0))} | {d['errors']} |", "",
        f"Errors over the whole probe run (1 s before to 1 s after the purge): "
        f"{p['probe_errors_whole_run']}.", ""]


def report(b, info, argv):
    md = [f"# edgecached bench — {info['date']}", "",
          f"Command: `{shlex.join(argv)}`", "",
          f"Machine: {info['nproc']} CPUs, {info['cpu']}, kernel {info['kernel']}, "
          f"{info['memory']} RAM, {info['virtualized']}; load average at the start "
          f"{' '.join(info['loadavg'])}. Servers on CPU {SERVER_CPU}, load generator on CPU "
          f"{CLIENT_CPU} (taskset); loopback.", "",
          f"edgecached: {info['edgecached']}", "",
          f"One trivial syscall (getppid, `perf bench syscall basic`) costs "
          f"{info.get('syscall_us')} µs of CPU here.", "",
          "Peers: " + "; ".join(info["peers"].values()), ""]
    if b.args.repeat > 1:
        md += [f"Each case ran {b.args.repeat} times, interleaved with the peers; the row is "
               "the run with the median req/s, (min–max) in brackets.", ""]
    for suite in ("kv", "proxy", "long"):
        rows = [r for r in summarize(b.results) if r["suite"] == suite]
        if not rows:
            continue
        md += [f"## {suite}", "", table(rows), ""]
        if rt := ratios(rows):
            md += ["Ratios: edgecached ÷ peer (req/s: higher is better; CPU/req and p99: lower "
                   "is better).", "", rt, ""]
        md += ["Load commands (one run of each):", "", "```"] + \
              [f"{r['server']}: {r['cmd']}" for r in rows] + ["```", ""]
    if b.coalescing:
        md += ["## coalescing: 1000 concurrent cold requests for one key", "",
               "| server | origin requests | statuses | X-Cache | failed | seconds |",
               "|---|---:|---|---|---:|---:|"]
        counts = lambda d: ", ".join(f"{k} ×{v}" for k, v in sorted(d.items()))
        md += [f"| {c['server']} | {c['origin_requests']} | {counts(c['statuses'])} | "
               f"{counts(c['x_cache'])} | {c['failed']} | {c['seconds']} |" for c in b.coalescing]
        md += ["", "```"] + [f"{c['server']}: {c['cmd']}" for c in b.coalescing] + ["```", ""]
    for p in b.purges:
        md += [f"## purge: {p['purge_answer'].get('purged', 0):,} entries by prefix while "
               "another client is served", ""]
        md += purge_section(p)
    if b.long_runs:
        md += ["## RssAnon over long runs", ""]
        md += [f"- {lr['label']}: {lr['rps']:,.0f} req/s; samples (s, KiB) {lr['samples_kb']}; "
               f"second-half growth {lr['second_half_growth_kb']} KiB" for lr in b.long_runs]
        md.append("")
    if b.profiles:
        md += ["## profiles", ""]
        for p in b.profiles:
            md += [f"### {p['label']}", "",
                   f"syscalls/request ({p['syscalls_total_per_req']:.2f} in all): " +
                   ", ".join(f"{k} {v:.2f}" for k, v in p["syscalls_per_req"].items()),
                   "", "```"] + p["top"] + ["```", ""]
    md += ["## targets", "", targets(b), ""]
    if b.notes:
        md += ["## notes", ""] + [f"- {n}" for n in b.notes] + [""]
    return "\n".join(md)
