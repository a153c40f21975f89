// The daemon's counters beside the cache's (cache/stats.hpp): connections, TLS listeners, the
// cache's purges and fills, the deferred queue, the hot tier, the store, KV namespaces and
// origins, one table each, read by /admin/stats, /metrics and edgecachectl stats alike.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "cache/hot_tier.hpp"
#include "kv/ns_stats.hpp"
#include "loop/deferred.hpp"
#include "origin/types.hpp"
#include "store/store.hpp"
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
// when `ctl_always`, as a size when `bytes`. Rows sharing a family tell their samples apart by
// `metric_label` ("kind=\"cache\""); /metrics writes each family once, at its first row.
template <class Counts> struct StatRow {
    std::string_view json;
    const char* metric;
    bool gauge;
    const char* help;
    const char* ctl_label;
    bool ctl_always;
    bool bytes;
    uint64_t Counts::*field;
    const char* metric_label = nullptr;
};

// In /admin/stats the first `connection_top_level_rows` rows are top-level keys ("requests",
// "admin_requests") and the rest the keys of "connections"; /metrics has one family per row.
std::span<const StatRow<ConnectionCounts>> connection_rows();
constexpr size_t connection_top_level_rows = 2;

// The keys of each object in /admin/stats "tls_listeners" (after "listener"), and the families
// of /metrics (one sample per listener, labelled listener="<address>").
std::span<const StatRow<tls::HandshakeCounts>> handshake_rows();

// What the cache's counter table (cache/stats.hpp) does not hold: /admin/stats "cache" keys
// beside its totals.
struct CacheExtraCounts {
    uint64_t purges = 0;
    uint64_t evictions = 0; // the store's, for want of room
    uint64_t fills_in_flight = 0;
};
std::span<const StatRow<CacheExtraCounts>> cache_extra_rows();

// The deferred queue (background revalidations): /admin/stats "cache"."deferred".
struct DeferredCounts {
    uint64_t running = 0;
    uint64_t queued = 0;
    uint64_t completed = 0;
    uint64_t failed = 0;
    uint64_t deduplicated = 0;
    uint64_t rejected = 0;
};
DeferredCounts deferred_counts(const loop::DeferredQueue& queue);
std::span<const StatRow<DeferredCounts>> deferred_rows();

// The memory tier: /admin/stats "hot_tier". Its counters count from `baseline`, the tier's
// counts at the last stats reset (the tier's own never reset).
struct HotTierCounts {
    uint64_t bytes = 0;
    uint64_t capacity = 0;
    uint64_t entries = 0;
    uint64_t hits = 0;
    uint64_t misses = 0;
    uint64_t evictions = 0;
    uint64_t expirations = 0;
};
HotTierCounts hot_tier_counts(const cache::HotTierStats& now, const cache::HotTierStats& baseline);
std::span<const StatRow<HotTierCounts>> hot_tier_rows();

// The store: /admin/stats "store". The record rows are there only when the store could count
// its records (`has_records`); the commit failure rows are the keys of "commit_failures".
struct StoreCounts {
    uint64_t map_size = 0;
    uint64_t map_used = 0;
    uint64_t map_high_water = 0;
    bool has_records = false;
    uint64_t entries = 0;
    uint64_t namespaces = 0;
    uint64_t cache_entries = 0;
    uint64_t cache_bytes = 0;
    uint64_t kv_keys = 0;
    uint64_t kv_bytes = 0;
    uint64_t commits = 0;
    uint64_t syncs = 0;
    uint64_t expirations = 0; // swept and found on read
    uint64_t expired_swept = 0;
    uint64_t expired_on_read = 0;
    uint64_t disk_full = 0;
    uint64_t map_full = 0;
    uint64_t io = 0;
};
StoreCounts store_counts(store::Store& store);
std::span<const StatRow<StoreCounts>> store_map_rows();
std::span<const StatRow<StoreCounts>> store_record_rows();
std::span<const StatRow<StoreCounts>> store_write_rows();
std::span<const StatRow<StoreCounts>> store_commit_failure_rows();

// Each KV namespace's counters: the keys of an object in /admin/stats "namespaces", samples
// labelled namespace="<title>" in /metrics.
std::span<const StatRow<kv::NamespaceCounters>> namespace_rows();

// Each origin's: the keys of an object in /admin/stats "origins" (beside "errors" and
// "servers"), samples labelled origin="<name>" in /metrics.
std::span<const StatRow<origin::PoolStats>> origin_rows();

// Each origin server's: keys of the objects in "servers" (beside "server", "up" and
// "last_error"), samples labelled origin="<name>",server="<host:port>" in /metrics.
std::span<const StatRow<origin::ServerStatus>> origin_server_rows();

} // namespace ec::admin
