"""Slow tier: a purge of 200k KV entries runs in slices, so another client's requests keep
being answered within a bound while it runs (tests/e2e/test_admin.py has the quick version)."""
import http.client
import json
import threading
import time

# Generous for a shared 2-core CI machine; one unsliced 200k-record delete stalls the loop
# for about a second, which the max bound catches and the p99 bound catches when it repeats.
P99_BOUND_S = 0.100
MAX_BOUND_S = 0.500


def test_large_purge_keeps_other_requests_within_bounds(daemon):
    for batch in range(20):
        entries = [{"key": f"k{batch:02d}:{i:05d}", "value": "v" * 64} for i in range(10000)]
        assert daemon.put("/kv/big", json.dumps(entries)).status == 200
    daemon.put("/kv/other/k", b"steady")
    latencies = []
    errors = []
    done = threading.Event()

    def client():
        conn = http.client.HTTPConnection(*daemon.tcp_address(), timeout=10)
        while not done.is_set():
            t0 = time.monotonic()
            conn.request("GET", "/kv/other/k")
            r = conn.getresponse()
            body = r.read()
            latencies.append(time.monotonic() - t0)
            if r.status != 200 or body != b"steady":
                errors.append(r.status)

    t = threading.Thread(target=client)
    t.start()
    try:
        while len(latencies) < 5:  # the client is running before the purge starts
            time.sleep(0.01)
        t0 = time.monotonic()
        r = daemon.admin("POST", "/admin/purge", json.dumps({"all": True, "namespace": "big"}))
        took = time.monotonic() - t0
    finally:
        done.set()
        t.join()
    assert r.json()["purged"] == 200000
    assert not errors and len(latencies) > 10
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99)]
    print(f"\nPURGE entries=200000 took={took:.2f}s requests={len(latencies)} "
          f"p99={p99 * 1000:.1f}ms max={latencies[-1] * 1000:.1f}ms")
    assert p99 < P99_BOUND_S, f"p99 {p99 * 1000:.1f} ms"
    assert latencies[-1] < MAX_BOUND_S, f"max {latencies[-1] * 1000:.1f} ms"
