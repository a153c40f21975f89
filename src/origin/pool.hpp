// Pool: the client for one configured origin — keep-alive connections, servers, health, DNS.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "loop/loop.hpp"
#include "net/stream.hpp"
#include "origin/fetch.hpp"
#include "origin/types.hpp"

namespace ec::origin {

class PoolCore;

// Runs on the daemon's one loop thread; nothing here blocks (DNS runs on libuv's thread pool).
//
// Servers and selection: round-robin over the servers that are up. A server goes down after
// Tuning::fail_threshold consecutive failures (connect refused/unreachable, connect timeout,
// first-byte timeout, reset before any response byte on a fresh connection) for a cooldown of
// down_base_ms, doubling while failures continue up to down_max_ms; any response head brings it
// back. With `health_check` configured, `GET <health_check>` is sent to every server every
// health_interval_ms on its own connection; 2xx/3xx = up, anything else (or no answer) = down
// until a check passes. When every server is down the pool still tries the one whose cooldown
// ends first ("panic mode", as Envoy does): a health signal that is wrong, or a single-server
// origin that blipped, must not turn into a total outage while the origin may be fine.
//
// Connections: at most max_connections per server (connecting + busy + idle); a request that
// finds none free waits in a FIFO queue (Tuning::max_queue, else `overloaded`). Idle
// connections are reused most-recent-first and closed after Tuning::idle_timeout_ms or when the
// server sends anything while idle. A connection is reused only after a complete response that
// allows keep-alive, with nothing after it. A connection that answered HEAD is closed: a broken
// origin may send a body anyway, which would desynchronise the next response.
//
// DNS: IP literals need none; names are resolved with uv_getaddrinfo, every address is tried in
// turn on connect failure, the one that worked is tried first next time, and the set is
// re-resolved in the background when older than dns_refresh_ms (0 = never) at the next use. A
// failed refresh keeps the previous addresses.
class Pool {
public:
    // Throws nothing; a server string that does not parse makes that server permanently failed
    // (config validation rejects such strings before they get here).
    Pool(loop::Loop& loop, const config::OriginSpec& spec, Tuning tuning = {});
    // Calls shutdown().
    ~Pool();
    Pool(const Pool&) = delete;
    Pool& operator=(const Pool&) = delete;

    // Starts a fetch; returns its handle (never null). Callbacks run later, never on this
    // stack; an immediate failure (no servers, queue full, invalid request, pool shut down) is
    // delivered as on_error from a posted callback.
    //
    // Retries (the request is sent again only in these cases):
    //  - connect failed or timed out, or DNS failed: nothing was sent, so any method moves to the
    //    next address of the server, then to the next server not yet tried (failover);
    //  - the request went out on a reused idle connection and the connection closed or reset
    //    before any response byte: resent once on a fresh connection to the same server
    //    (non-idempotent requests only with Tuning::retry_stale_non_idempotent);
    //  - an idempotent request whose fresh connection closed or reset before any response byte:
    //    moved to the next server not yet tried.
    // Nothing is retried after a response byte arrived, nor on a timeout once the request was
    // written.
    // Timeouts (from the spec at the time of fetch): connect_timeout_ms per connection attempt
    // including DNS; first_byte_timeout_ms (0 = timeout_ms) from the request being fully written
    // to the first response byte; timeout_ms for the whole fetch including queueing.
    std::shared_ptr<Fetch> fetch(UpstreamRequest request, Sink sink);

    // Applies a reloaded spec: servers kept by name keep their connections and health; new ones
    // start up; removed ones take no new requests and close their connections once the
    // in-flight fetches on them finish. New timeouts apply to later fetches.
    void update(const config::OriginSpec& spec);
    // Tuning::max_pause_ms for later fetches.
    void set_max_pause_ms(uint32_t ms);

    // Closes every connection and cancels DNS and timers. Fetches still in flight get
    // on_error(cancelled) synchronously, from inside this call. Later fetch() calls fail with
    // `cancelled`. Idempotent.
    void shutdown();

    // Calls fn (from a posted callback) once nothing is in flight any more; for retiring a
    // pool on reload. Replaces any earlier callback.
    void on_drained(std::function<void()> fn);

    const std::string& name() const;
    const config::OriginSpec& spec() const;
    PoolStats stats() const;
    std::vector<ServerStatus> servers() const;
    void reset_stats();
    // The operator's override for one server ("host:port" as configured) or, with an empty
    // name, every server of the origin. Returns false when no server has that name. Servers a
    // reload keeps keep their override; queued requests re-pick at once.
    bool set_admin_health(std::string_view server, AdminHealth h);
    // Every connection opened from now on goes through wrap(plain socket, server host), e.g.
    // TLS for an https origin; connections already open keep what they have.
    void set_stream_wrap(net::StreamWrap wrap);

private:
    std::unique_ptr<PoolCore> core_;
};

} // namespace ec::origin
