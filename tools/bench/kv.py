"""kv.py: the KV suite — edgecached's KV API beside redis-server, 1 KiB values (issue 2)."""
import json
import subprocess

from harness import http_req, die, say, show_cmd

VALUE = b"v" * 1024
# redis-benchmark's GET reads this key when -r is not given.
REDIS_GET_KEY = "key:__rand_int__"
REDIS_PEERS = (("redis-aof.conf", "redis (AOF everysec)"),
               ("redis-nopersist.conf", "redis (no persistence)"),
               ("redis-aof-always.conf", "redis (AOF always)"))


def run(b):
    say("\n== kv: edgecached KV API vs redis-server, every server on CPU 0 ==")
    ec, ec_port, _ = b.edgecached("edgecached-kv-batch", {"durability": "batch"})
    ecs, ecs_port, _ = b.edgecached("edgecached-kv-sync", {"durability": "sync"})
    for port in (ec_port, ecs_port):
        st, _, _ = http_req(port, "PUT", "/kv/bench/k1", VALUE)
        st2, _, got = http_req(port, "GET", "/kv/bench/k1")
        if st != 200 or st2 != 200 or got != VALUE:
            die(f"edgecached KV preload failed: PUT {st}, GET {st2} ({len(got)} bytes)")
    redis = []
    for conf, label in REDIS_PEERS:
        proc, port = b.redis("redis-" + conf.split(".")[0], conf)
        say(f"# tools/bench/{conf}")
        argv = ["redis-cli", "-p", str(port), "-x", "set", REDIS_GET_KEY]
        show_cmd(argv, "stdin: 1024 bytes")
        subprocess.run(argv, input=VALUE, check=True, capture_output=True)
        redis.append((proc, port, label))

    # redis-benchmark runs a request count, not a duration: about --duration seconds' worth.
    get_n, set_n, always_n = b.dur * 60_000, b.dur * 40_000, b.dur * 5_000

    def ec_get(c):
        return lambda: b.wrk(ec, "kv", "GET 1 KiB", "edgecached", c,
                             f"http://127.0.0.1:{ec_port}/kv/bench/k1", "get.lua")

    def ec_put(proc, port, label, prefix):
        return lambda: b.wrk(proc, "kv", "PUT 1 KiB, new keys", label, 50,
                             f"http://127.0.0.1:{port}", "put.lua", ["bench", prefix + "@U@"])

    def redis_get(proc, port, label, c):
        return lambda: b.redis_bench(proc, port, "GET 1 KiB", label, "get", c, get_n)

    def redis_set(proc, port, label):
        # -r: a random key out of 10^9 per SET, as edgecached's PUTs write new keys. The
        # fsync-bound "always" is far slower: fewer requests keep it near --duration.
        n = always_n if "always" in label else set_n
        return lambda: b.redis_bench(proc, port, "PUT 1 KiB, new keys", label, "set", 50, n,
                                     ["-r", "1000000000"])

    cases = [[ec_get(c)] + [redis_get(p, port, l, c) for p, port, l in redis[:2]]
             for c in (50, 64)]
    cases.append([ec_put(ec, ec_port, "edgecached (batch)", "b"),
                  ec_put(ecs, ecs_port, "edgecached (sync)", "s")]
                 + [redis_set(p, port, l) for p, port, l in redis])
    b.rounds(cases)

    if b.args.perf:
        import perf_profile
        perf_profile.kv(b, ec, ec_port, redis[0])
    for p in [ec, ecs] + [r[0] for r in redis]:
        b.stop(p)
    if b.args.long:
        run_long(b)


def run_long(b):
    say("\n== kv --long: RssAnon over a long mixed run (90% GET / 10% PUT, durability sync) ==")
    proc, port, _ = b.edgecached("edgecached-kv-long", {"durability": "sync"})
    keys = 10000
    bulk = json.dumps([{"key": f"mix-{i}", "value": "m" * 1024} for i in range(keys)])
    st, _, body = http_req(port, "PUT", "/kv/bench", bulk.encode())
    if st != 200:
        die(f"bulk preload failed: {st} {body[:200]!r}")
    b.long_run(proc, "kv mixed 90/10 GET/PUT, 10k keys, sync", 50, f"http://127.0.0.1:{port}",
               "mixed.lua", ["bench", str(keys)])
    b.stop(proc)
