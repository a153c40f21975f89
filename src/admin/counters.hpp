// The daemon's counters beside the cache's (cache/stats.hpp): connections and TLS listeners, one
// table each, read by /admin/stats, /metrics and edgecachectl stats alike.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "tls/listener_tls.hpp"

namespace ec::http {
class Server;
}

namespace ec::admin {

// The client-facing server's counters and gauges at one moment.
struct ConnectionCounts {
    uint64_t requests = 0;       // data-plane requests
    uint64_t admin_requests = 0; // requests on the admin socket and admin_listen
    uint64_t open = 0;           // data-plane connections open
    uint64_t accepted = 0;
    uint64_t rejected = 0;
    uint64_t admin_open = 0;
    uint64_t admin_accepted = 0;
    uint64_t bad_requests = 0;
    uint64_t too_large = 0;
    uint64_t shed = 0;
    uint64_t queued_output_bytes = 0;
    uint64_t bodies_shed = 0;
    uint64_t buffered_body_bytes = 0;
    uint64_t timeouts = 0;
    uint64_t bytes_in = 0;
    uint64_t bytes_out = 0;
};

// The server's counts now; admin connections are counted apart from the data plane's.
ConnectionCounts connection_counts(const http::Server& server);

// One counter as every reader shows it: its key in /admin/stats, its Prometheus family, whether
// it is a gauge (else a counter), the help text, and the words edgecachectl stats writes after
// the number (nullptr: the summary leaves it out or shows it elsewhere), shown even when zero
// when `ctl_always`, as a size when `bytes`.
template <class Counts> struct StatRow {
    std::string_view json;
    const char* metric;
    bool gauge;
    const char* help;
    const char* ctl_label;
    bool ctl_always;
    bool bytes;
    uint64_t Counts::*field;
};

// In /admin/stats the first `connection_top_level_rows` rows are top-level keys ("requests",
// "admin_requests") and the rest the keys of "connections"; /metrics has one family per row.
std::span<const StatRow<ConnectionCounts>> connection_rows();
constexpr size_t connection_top_level_rows = 2;

// The keys of each object in /admin/stats "tls_listeners" (after "listener"), and the families
// of /metrics (one sample per listener, labelled listener="<address>").
std::span<const StatRow<tls::HandshakeCounts>> handshake_rows();

} // namespace ec::admin
