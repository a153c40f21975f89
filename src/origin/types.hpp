// Origin client vocabulary: the request sent upstream, the response head, error kinds, the sink.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ec::origin {

// A header with its own copies of name and value: what goes upstream and comes back, and the
// headers of the fleet's NATS publishes (http::Header is the view of a client request's).
struct Header {
    std::string name;
    std::string value;
};

// One request to send upstream. The caller supplies Host and the end-to-end headers it wants
// forwarded (hop-by-hop headers already removed). The client owns message framing: any
// Content-Length, Transfer-Encoding or Connection header given here is dropped, and the client
// writes `Content-Length` (when there is a body, or for POST/PUT/PATCH) and
// `Connection: keep-alive` itself. Everything else is sent as given, in order.
struct UpstreamRequest {
    std::string method = "GET";
    std::string target = "/"; // origin-form ("/path?query") or "*"
    std::vector<Header> headers{};
    std::string body{};
    // True for GET, HEAD, OPTIONS, PUT, DELETE, TRACE (RFC 9110 §9.2.2) unless the caller knows
    // better. Decides the retry rules (see Pool::fetch).
    bool idempotent = true;
};

// The final (non-1xx) response head. `headers` are as received (names in their original case,
// values with surrounding whitespace trimmed, order kept, duplicates kept).
struct ResponseHead {
    int status = 0;
    int version_minor = 1; // HTTP/1.<minor>
    std::vector<Header> headers{};
    // Framing as the origin declared it, for the caller's information; the client has already
    // applied it. content_length is absent for chunked and close-delimited bodies.
    std::optional<uint64_t> content_length{};
    bool chunked = false;
    // Transfer codings still applied to the body, outermost last ("gzip"): those the origin
    // named in Transfer-Encoding other than a final `chunked` (removed) and `identity` (a
    // no-op). Empty for a plain body. The body is then not the representation: it can be
    // relayed with these codings to an HTTP/1.1 client, never stored or decoded here.
    std::string transfer_coding{};
    // Body bytes (or the end of the response) arrived with the head and follow at once, from the
    // same read: a caller may hold the head back to write it together with them.
    bool more_in_hand = false;
};

// An interim response the origin sent ahead of the final one (RFC 9110 §15.2): 100 Continue,
// 102 Processing, 103 Early Hints or an unknown 1xx; never 101 (refused as malformed). Headers as
// in ResponseHead; framing fields are checked like a final head's but a 1xx has no body.
struct InterimHead {
    int status = 0;
    std::vector<Header> headers{};
};

// Why a fetch failed. Errors before on_head: dns, connect_refused, connect_timeout,
// first_byte_timeout, timeout, reset, bad_response, header_too_large, no_server, overloaded,
// invalid_request, cancelled. Errors after on_head (the body was cut off; the caller must not
// treat what it got as the whole body, nor store it): truncated, timeout, bad_response (a
// malformed chunk), cancelled.
enum class ErrorKind : uint8_t {
    dns,                // the server's name did not resolve (and no earlier addresses are known)
    connect_refused,    // TCP connect refused or the host/network unreachable
    connect_timeout,    // TCP connect (including name resolution) took longer than connect_timeout
    tls,                // the TLS handshake failed: certificate refused, alert, no common version
    first_byte_timeout, // no response byte within first_byte_timeout of the request being written
    timeout,            // the whole fetch exceeded timeout_ms
    reset,              // the connection closed or reset before a complete response head
    bad_response,       // malformed or ambiguous response (see ResponseParser for the rules)
    header_too_large,   // response header section over Tuning::max_head_bytes
    truncated,          // the body ended early: EOF/reset before Content-Length or the last chunk
    no_server,          // the origin has no servers that could be tried
    overloaded,         // every connection is busy and the wait queue is full
    invalid_request, // the UpstreamRequest cannot be written safely (CR/LF in a header, bad target)
    cancelled,       // Pool::shutdown() while in flight (never reported for Fetch::cancel)
};
inline constexpr size_t kErrorKinds = static_cast<size_t>(ErrorKind::cancelled) + 1;

// "connect_timeout" etc.: stable names for stats, metrics and logs.
const char* error_kind_name(ErrorKind k);
// The status a proxy answers with when it has nothing else to serve: 504 for the timeouts,
// 503 for no_server and overloaded, 502 otherwise.
int gateway_status(ErrorKind k);

// The caller's callbacks for one fetch. Never called on the stack of Pool::fetch(). Order:
// any number of on_interim (at most 8, the parser's limit), at most one on_head, then any
// number of on_body, then exactly one of on_complete / on_error (unless the caller cancels
// first: after Fetch::cancel() returns nothing more is called). An interim response never
// ends the fetch: a failure may still follow it, and a retry never does (bytes were seen).
// Empty functions are allowed and skipped. Callbacks may call cancel(), pause_body(),
// resume_body(), Pool::fetch() and Pool::shutdown() on the same pool; they must not destroy the
// Pool itself (post that).
struct Sink {
    std::function<void(InterimHead&& head)> on_interim;
    std::function<void(ResponseHead&& head)> on_head;
    // `chunk` points into the connection's read buffer: valid only during the call. Chunked
    // framing is already removed.
    std::function<void(std::string_view chunk)> on_body;
    std::function<void()> on_complete;
    std::function<void(ErrorKind kind, std::string message)> on_error;
};

// Knobs that are not operator configuration (defaults suit production; tests shrink them).
struct Tuning {
    uint32_t idle_timeout_ms = 15000; // an idle keep-alive connection is closed after this
    size_t max_queue = 1024;          // requests waiting for a connection, per pool
    size_t max_head_bytes = 64 * 1024;
    size_t read_buffer = 64 * 1024; // per busy connection (idle ones hold none)
    uint32_t fail_threshold = 2;    // consecutive failures that mark a server down
    uint32_t down_base_ms = 1000;   // first cooldown; doubles while failures continue
    uint32_t down_max_ms = 30000;
    // A response whose downstream client took nothing for this long (one pause_body() without
    // resume) fails with timeout: the client is gone or stuck, and the connection is wanted.
    // The daemon sets it to the client idle_timeout_ms, at start and on each reload.
    uint32_t max_pause_ms = 60000;
    // A request sent on a reused keep-alive connection that the server closed meanwhile (EOF or
    // reset before any response byte) is retried once on a fresh connection. For idempotent
    // requests always; for the others only when this is true (see Pool::fetch). Off by
    // default: the origin may have acted on a POST before closing, and a proxy must never
    // send it twice (nginx's proxy_next_upstream agrees).
    bool retry_stale_non_idempotent = false;
};

// Counters since the pool was made or reset_stats(); gauges (`*_open`, `idle`, `queued`) now.
struct PoolStats {
    uint64_t requests = 0;
    std::array<uint64_t, 6> responses{}; // index = status / 100 (1xx never counted)
    uint64_t completed = 0;              // on_complete delivered
    std::array<uint64_t, kErrorKinds> errors{};
    uint64_t cancelled_by_caller = 0;
    uint64_t retries_stale = 0; // reused connection found closed, request resent
    uint64_t failovers = 0;     // attempt moved to another server (or address) before sending
    uint64_t connections_opened = 0;
    uint64_t connections_reused = 0; // requests sent on an idle keep-alive connection
    uint64_t connections_closed = 0;
    uint64_t queue_waits = 0; // requests that had to wait for a free connection
    uint64_t health_checks = 0;
    uint64_t health_check_failures = 0;
    uint64_t dns_refreshes = 0;
    uint64_t dns_failures = 0;
    uint64_t connections_open = 0; // gauges: the pool's state when stats() was taken
    uint64_t idle = 0;
    uint64_t queued = 0;
    uint64_t in_flight = 0;
};

// One configured server, for metrics and /admin/stats.
// An operator's override of a server's health (edgecachectl origin sick|healthy|drain|auto).
enum class AdminHealth : uint8_t {
    automatic, // health checks and failures decide
    sick,      // down as if every check failed: no new requests
    healthy,   // up whatever the checks and failures say
    draining,  // no new requests; in-flight ones finish, idle connections close
};
// "auto", "sick", "healthy", "drain"; parse_admin_health returns false on anything else.
const char* admin_health_name(AdminHealth h);
bool parse_admin_health(std::string_view s, AdminHealth* out);

struct ServerStatus {
    std::string server; // "host:port" as configured
    bool up = true;
    bool resolved = false; // has at least one address
    uint32_t consecutive_failures = 0;
    uint64_t down_for_ms = 0; // remaining passive cooldown; 0 when up
    bool active_check_failed = false;
    size_t open = 0, idle = 0;
    uint64_t requests = 0; // attempts sent to this server
    uint64_t failures = 0; // connect failures, first-byte timeouts, resets
    std::string last_error;
    AdminHealth admin = AdminHealth::automatic;
};

} // namespace ec::origin
