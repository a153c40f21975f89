-- report.lua: the done() hook every bench script shares; prints one machine-readable line.
-- Latencies are wrk's (microseconds); "errors" counts socket errors, "non2xx" bad statuses.
function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        "BENCH requests=%d duration_us=%d bytes=%d p50_us=%d p95_us=%d p99_us=%d max_us=%d " ..
        "errors=%d non2xx=%d timeouts=%d\n",
        summary.requests, summary.duration, summary.bytes,
        latency:percentile(50.0), latency:percentile(95.0), latency:percentile(99.0), latency.max,
        e.connect + e.read + e.write + e.timeout, e.status, e.timeout))
end
