"""fleet_bench.py: issue 16's fleet figures on one machine, with the tests/fleet harness: three
clustered JetStream nats-servers and three nodes (edge-a, edge-b, edge-c, replicas 3).

  visible   write-to-visible: PUT on A, then GET on B until it has the value (p50/p99)
  put       PUT/s through the fleet (A) vs a node without a fleet (wrk, put.lua)
  catchup   stop C, write N keys on A, start C: keys/s until C's lag is 0 and it has them
  purge     purge one URL on A until every node acknowledged it (p50/p99), and until B misses

Usage: /usr/bin/python3 tools/bench/fleet_bench.py [--bin build/edgecached] [--samples 200]
       [--put-seconds 10] [--catchup-keys 10000] [--purges 50] [--out FILE.json]
The nodes are the e2e tests' daemons (tests/e2e/ectest.py): temp dirs, port 0. Nothing is
pinned: on a shared machine the load average is printed with the figures; read them with it.
"""
import argparse
import http.client
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "e2e"))
sys.path.insert(0, os.path.join(TOP, "tests", "fleet"))


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(len(v) * p / 100))]


def ms(seconds):
    return round(seconds * 1000, 2)


def summary(values):
    return {"n": len(values), "p50_ms": ms(pct(values, 50)), "p99_ms": ms(pct(values, 99)),
            "max_ms": ms(max(values))}


class Conn:
    """A kept-alive connection to one node's first listener."""

    def __init__(self, node):
        host, port = node.tcp_address()
        self.c = http.client.HTTPConnection(host, port, timeout=30)

    def req(self, method, path, body=None, headers=None):
        self.c.request(method, path, body=body, headers=headers or {})
        r = self.c.getresponse()
        return r.status, r.getheader("X-Cache"), r.read()


def wait_until(fn, timeout=60, interval=0.0005):
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if fn():
            return time.perf_counter()
        time.sleep(interval)
    raise RuntimeError("condition not met within %ss" % timeout)


def bench_visible(a, b, samples):
    """PUT on A; from A's 200 on, GET on B until the value is there. Both times count from the
    PUT's start; B is polled only after A's answer, so `visible` is never below `ack`."""
    ca, cb = Conn(a), Conn(b)
    ack, visible = [], []
    for i in range(samples):
        key, val = "/kv/vis/k%06d" % i, b"v%06d" % i
        t0 = time.perf_counter()
        st, _, body = ca.req("PUT", key, val)
        if st != 200:
            raise RuntimeError("PUT on A: %d %r" % (st, body))
        t1 = time.perf_counter()
        t2 = wait_until(lambda: cb.req("GET", key)[2] == val, interval=0)
        ack.append(t1 - t0)
        visible.append(t2 - t0)
    return {"ack_on_a": summary(ack), "visible_on_b": summary(visible)}


def wrk_put(node, seconds, conns, tag):
    host, port = node.tcp_address()
    argv = ["wrk", "-t1", "-c%d" % conns, "-d%ds" % seconds, "--timeout", "10s", "-s",
            os.path.join(HERE, "put.lua"), "http://%s:%d" % (host, port), "--", "put", tag]
    print("$ " + " ".join(argv), flush=True)
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    m = dict(re.findall(r"(\w+)=(\d+)", next(l for l in out.splitlines() if l.startswith("BENCH"))))
    n = int(m["requests"])
    return {"conns": conns, "put_per_s": round(n / (int(m["duration_us"]) / 1e6)),
            "p50_ms": int(m["p50_us"]) / 1000, "p99_ms": int(m["p99_us"]) / 1000,
            "non2xx": int(m["non2xx"]), "errors": int(m["errors"])}


def fleet_status(node):
    return node.admin("GET", "/admin/fleet").json()


def bench_catchup(a, c, keys):
    """Stops C, writes `keys` keys on A (bulk, 1000 a request), starts C and times until C's
    lag is 0, it reached A's sequence, and it has the last key."""
    c.stop()
    cl = Conn(a)
    for start in range(0, keys, 1000):
        batch = [{"key": "c%07d" % i, "value": "v%d" % i}
                 for i in range(start, min(keys, start + 1000))]
        st, _, body = cl.req("PUT", "/kv/catchup", json.dumps(batch).encode())
        if st != 200:
            raise RuntimeError("bulk PUT on A: %d %r" % (st, body))
    target = fleet_status(a)["kv"]["applied_seq"]
    last = "/kv/catchup/c%07d" % (keys - 1)
    t0 = time.perf_counter()
    c.start()
    t_ready = time.perf_counter()

    def caught_up():
        kv = fleet_status(c)["kv"]
        return kv["applied_seq"] >= target and kv["lag_messages"] == 0

    t1 = wait_until(caught_up, timeout=300, interval=0.01)
    st, _, body = Conn(c).req("GET", last)
    if (st, body) != (200, b"v%d" % (keys - 1)):
        raise RuntimeError("C caught up without %s: %d %r" % (last, st, body))
    return {"keys": keys, "start_to_ready_s": round(t_ready - t0, 3),
            "start_to_caught_up_s": round(t1 - t0, 3),
            "keys_per_s_from_start": round(keys / (t1 - t0)),
            "keys_per_s_from_ready": round(keys / (t1 - t_ready))}


def bench_purge(nodes, origin, purges):
    """Per URL: cached on every node, then POST /admin/purge on A; times A's answer, until the
    purge stream says every known node applied it (what `edgecachectl purge --wait` polls),
    and until B answers a miss."""
    a = nodes[0]
    conns = [Conn(n) for n in nodes]
    answer, all_applied, b_miss = [], [], []
    for i in range(purges):
        path = "/pf/%d" % i
        origin.route(path, body=b"x" * 512, headers={"Cache-Control": "max-age=600"})
        for c in conns:
            wait_until(lambda: c.req("GET", path)[1] == "HIT", interval=0.005)
        t0 = time.perf_counter()
        r = a.admin("POST", "/admin/purge", json.dumps({"paths": [path]}))
        t1 = time.perf_counter()
        if r.status != 200 or "seq" not in r.json():
            raise RuntimeError("purge on A: %s" % r)
        seq = r.json()["seq"]
        t_b = wait_until(lambda: conns[1].req("GET", path)[1] != "HIT", interval=0)

        def applied():
            p = a.admin("GET", "/admin/fleet/purges?seq=%d" % seq).json()
            return p["applied"] >= len(nodes) and p["known"] >= len(nodes)

        t2 = wait_until(applied, interval=0)
        answer.append(t1 - t0)
        b_miss.append(t_b - t0)
        all_applied.append(t2 - t0)
    return {"answer_on_a": summary(answer), "b_misses": summary(b_miss),
            "all_nodes_acked": summary(all_applied)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=None, help="edgecached binary (default: build/edgecached)")
    ap.add_argument("--samples", type=int, default=200)
    ap.add_argument("--put-seconds", type=int, default=10)
    ap.add_argument("--put-conns", type=int, default=16)
    ap.add_argument("--catchup-keys", type=int, default=10000)
    ap.add_argument("--purges", type=int, default=50)
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    if args.bin:
        os.environ["EDGECACHED_BIN"] = os.path.abspath(args.bin)
    import ectest  # noqa: E402  (reads EDGECACHED_BIN when imported)
    from ectest import Daemon
    from fleetutil import wait_fleet_ready
    from natscluster import NatsCluster
    from origin import Origin

    results = {"loadavg_before": os.getloadavg(), "cpus": os.cpu_count(),
               "binary": ectest.EDGECACHED}
    print("load average before: %.2f %.2f %.2f on %d CPUs" % (*os.getloadavg(), os.cpu_count()),
          flush=True)
    origin = Origin().start()
    cluster = NatsCluster(ectest.short_tmpdir(), max_payload=32 << 20).start()
    proxy = {"origins": {"o": {"url": "http://" + origin.address, "timeout_ms": 5000}},
             "routes": [{"name": "r", "prefix": "/pf/", "origin": "o"}]}
    nodes, single = [], None
    try:
        for name in ("edge-a", "edge-b", "edge-c"):
            cfg = {"fleet": {"nats": cluster.urls, "node": name, "replicas": 3,
                             "write_timeout_ms": 5000}}
            cfg.update(proxy)
            d = Daemon(config=cfg, test_hooks=False)
            d.start()
            nodes.append(d)
        for d in nodes:
            wait_fleet_ready(d)
        single = Daemon(config={}, test_hooks=False).start()
        a, b, c = nodes

        print("== write-to-visible, A -> B (%d sequential PUTs)" % args.samples, flush=True)
        results["visible"] = bench_visible(a, b, args.samples)
        print(json.dumps(results["visible"]), flush=True)

        print("== PUT/s: fleet (A) vs single node", flush=True)
        results["put_fleet"] = wrk_put(a, args.put_seconds, args.put_conns, "f%d" % time.time())
        results["put_single"] = wrk_put(single, args.put_seconds, args.put_conns,
                                        "s%d" % time.time())
        print(json.dumps({"fleet": results["put_fleet"], "single": results["put_single"]}),
              flush=True)

        print("== catch-up: %d keys written while C is stopped" % args.catchup_keys, flush=True)
        results["catchup"] = bench_catchup(a, c, args.catchup_keys)
        wait_fleet_ready(c)
        print(json.dumps(results["catchup"]), flush=True)

        print("== purge fan-out (%d URL purges on A)" % args.purges, flush=True)
        results["purge"] = bench_purge(nodes, origin, args.purges)
        print(json.dumps(results["purge"]), flush=True)
    finally:
        for d in nodes + ([single] if single else []):
            try:
                d.stop()
            except Exception as e:  # report, and still stop the rest
                print("stopping %s: %s" % (d.data_dir, e), file=sys.stderr)
            d.cleanup()
        cluster.stop()
        origin.stop()
    results["loadavg_after"] = os.getloadavg()
    print("load average after: %.2f %.2f %.2f" % os.getloadavg(), flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
