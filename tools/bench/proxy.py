"""proxy.py: the proxy suite — edgecached beside nginx proxy_cache and Varnish (issue 3): hits of
1 KiB and 16 KiB objects, misses that are stored, and 1000 concurrent cold requests for a key."""
import json
import os
import shlex
import subprocess
import sys
import time

from harness import CLIENT_CPU, HERE, SERVER_CPU, die, free_port, http_req, pin, say, show_cmd
from report import MISS_GROUP

OBJECTS = {"1 KiB": ("/obj/1k.bin", 1024), "16 KiB": ("/obj/16k.bin", 16384)}



def servers(b, origin_port):
    """[(name, start() -> (proc, port))] for the servers --servers selects."""
    all_ = [
        ("edgecached", lambda: b.edgecached_proxy("edgecached-proxy", origin_port,
                                                  memory_cache="256MiB")[:2]),
        ("nginx proxy_cache", lambda: b.nginx("nginx-cache", "nginx-cache.conf", SERVER_CPU,
                                              ORIGIN_PORT=origin_port)),
        ("varnish", lambda: b.varnish("varnish", origin_port)),
        # Cache fills need no fsync (nginx and Varnish never sync their caches): the miss
        # case also runs edgecached with durability "batch" beside the default "sync".
        ("edgecached (batch)", lambda: b.edgecached_proxy(
            "edgecached-proxy-batch", origin_port, memory_cache="256MiB",
            durability="batch")[:2]),
    ]
    only = set(b.args.servers.split(",")) if b.args.servers else None
    return [(n, s) for n, s in all_ if not only or n.split()[0] in only]


def run(b):
    say("\n== proxy: edgecached vs nginx proxy_cache vs Varnish, one origin ==")
    origin, oport = b.origin()
    running = []  # (name, proc, port), all on CPU 0, idle unless under load
    for name, start in servers(b, oport):
        proc, port = start()
        for path, size in OBJECTS.values():
            http_req(port, "GET", path)
            st, hdrs, body = http_req(port, "GET", path)
            xc = hdrs.get("x-cache", "")
            if st != 200 or len(body) != size or "HIT" not in xc.upper():
                die(f"{name}: second GET {path} was not a hit: {st}, {len(body)} bytes, "
                    f"X-Cache {xc!r}")
        # Warm-up (not measured): connections, threads, allocator.
        warm = pin(CLIENT_CPU) + ["wrk", "-t1", "-c256", "-d2s",
                                  f"http://127.0.0.1:{port}" + OBJECTS["1 KiB"][0]]
        show_cmd(warm, "warm-up, not measured")
        subprocess.run(warm, capture_output=True)
        running.append((name, proc, port))

    def hit(name, proc, port, label, path, conns):
        return lambda: b.wrk(proc, "proxy", f"hit {label}", name, conns,
                             f"http://127.0.0.1:{port}{path}", "get.lua")

    def miss(name, proc, port):
        def run_miss():
            r = b.wrk(proc, "proxy", MISS_GROUP, name, 64, f"http://127.0.0.1:{port}",
                      "miss.lua", ["/obj/1k.bin", "m@U@"])
            # The misses were stored: an early one is a hit now.
            _, hdrs, _ = http_req(port, "GET", f"/obj/1k.bin?u={r['script_args'][1]}-100")
            r["stored_check"] = hdrs.get("x-cache", "")
            if "HIT" not in r["stored_check"].upper():
                b.notes.append(f"{name}: a URL from the miss run was not a hit afterwards "
                               f"(X-Cache {r['stored_check']!r})")
            return r
        return run_miss

    cases = [[hit(n, p, port, label, path, conns) for n, p, port in running
              if n != "edgecached (batch)"]
             for label, (path, _) in OBJECTS.items() for conns in (64, 256)]
    cases.append([miss(n, p, port) for n, p, port in running])
    b.rounds(cases)

    if b.args.perf:
        import perf_profile
        for name, proc, port in running:
            if name != "edgecached (batch)":
                perf_profile.proxy(b, name, proc, port)
    for _, proc, _ in running:
        b.stop(proc)
    b.stop(origin)
    b.origin_proc = None

    coalesce(b)
    if b.args.long:
        run_long(b)


def coalesce(b):
    say("\n== proxy: 1000 concurrent cold requests for one key (origin answers after 0.5 s) ==")
    cport = free_port()
    corigin = b.start("count-origin", [sys.executable, os.path.join(HERE, "count_origin.py"),
                                       str(cport), "0.5"], CLIENT_CPU)
    b.wait_port(corigin, cport)
    starters = {
        "edgecached": lambda: b.edgecached_proxy("edgecached-coalesce", cport)[:2],
        "nginx proxy_cache": lambda: b.nginx("nginx-coalesce", "nginx-cache.conf", SERVER_CPU,
                                             ORIGIN_PORT=cport),
        "varnish": lambda: b.varnish("varnish-coalesce", cport),
    }
    for name, _ in servers(b, cport):
        if name not in starters:
            continue
        proc, port = starters[name]()
        path = f"/coalesce/{name.split()[0]}-{int(time.time())}"
        argv = pin(CLIENT_CPU) + [sys.executable, os.path.join(HERE, "coalesce.py"), "127.0.0.1",
                                  str(port), path, "1000"]
        show_cmd(argv)
        out = subprocess.run(argv, capture_output=True, text=True)
        if out.returncode != 0:
            die(f"coalesce.py failed: {out.stderr.strip()}")
        res = json.loads(out.stdout.strip().splitlines()[-1])
        _, _, n = http_req(cport, "GET", f"/__count?path={path}")
        res.update({"server": name, "origin_requests": int(n), "cmd": shlex.join(argv)})
        b.coalescing.append(res)
        say(f"  -> {name}: {res['origin_requests']} origin request(s) for {res['sent']} "
            f"clients; statuses {res['statuses']}, X-Cache {res['x_cache']}, "
            f"{res['failed']} failed, {res['seconds']} s")
        b.stop(proc)
    b.stop(corigin)


def run_long(b):
    cfg, label = {"memory_cache": "64MiB"}, "proxy misses (new URL each), memory_cache 64MiB"
    if b.args.long_map_size:
        cfg["map_size"] = b.args.long_map_size
        label += f", map_size {b.args.long_map_size}"
    say(f"\n== proxy --long: RssAnon over a long run ({label}) ==")
    origin, oport = b.origin()
    proc, port, _ = b.edgecached_proxy("edgecached-proxy-long", oport, **cfg)
    b.long_run(proc, label, 64,
               f"http://127.0.0.1:{port}", "miss.lua", ["/obj/1k.bin", "L@U@"])
    b.stop(proc)
    b.stop(origin)
    b.origin_proc = None
