// The daemon's counter tables (connections, TLS listeners, the cache's extras, deferred queue,
// hot tier, store, namespaces, origins), and reading each section's counts.
#include "admin/counters.hpp"

#include "http/server.hpp"

namespace ec::admin {

namespace {

using C = ConnectionCounts;

// Field order: json, metric, gauge, help, ctl_label, ctl_always, bytes, field.
const StatRow<ConnectionCounts> g_connection_rows[] = {
    {"requests", "edgecached_http_requests_total", false,
     "HTTP requests handled on data-plane listeners.", nullptr, false, false, &C::requests},
    {"admin_requests", "edgecached_admin_requests_total", false,
     "Requests on the admin socket and admin_listen.", nullptr, false, false, &C::admin_requests},
    {"open", "edgecached_connections_open", true,
     "Client connections open on data-plane listeners.", "open", true, false, &C::open},
    {"accepted", "edgecached_connections_accepted_total", false,
     "Client connections accepted on data-plane listeners.", "accepted", true, false, &C::accepted},
    {"rejected", "edgecached_connections_rejected_total", false,
     "Connections answered 503 at the connection cap.", "rejected", true, false, &C::rejected},
    // edgecachectl's own connection is among these: its summary leaves them out.
    {"admin_open", "edgecached_admin_connections_open", true,
     "Connections open on the admin socket and admin_listen.", nullptr, false, false,
     &C::admin_open},
    {"admin_accepted", "edgecached_admin_connections_accepted_total", false,
     "Connections accepted on the admin socket and admin_listen.", nullptr, false, false,
     &C::admin_accepted},
    {"bad_requests", "edgecached_http_bad_requests_total", false,
     "Requests refused as malformed (4xx).", "bad requests", false, false, &C::bad_requests},
    {"too_large", "edgecached_http_too_large_total", false,
     "Requests refused as too large (413/414/431).", "too large", false, false, &C::too_large},
    {"shed", "edgecached_connections_shed_total", false,
     "Connections closed because queued output exceeded max_queued_output.",
     "shed over max_queued_output", false, false, &C::shed},
    {"queued_output_bytes", "edgecached_queued_output_bytes", true,
     "Response bytes copied for clients and not yet written.", "output queued", false, true,
     &C::queued_output_bytes},
    {"bodies_shed", "edgecached_http_bodies_shed_total", false,
     "Uploads refused with 503 because request bodies exceeded max_buffered_bodies.",
     "uploads refused over max_buffered_bodies", false, false, &C::bodies_shed},
    {"buffered_body_bytes", "edgecached_buffered_body_bytes", true,
     "Request body bytes held until their responses are done.", "of request bodies held", false,
     true, &C::buffered_body_bytes},
    {"timeouts", "edgecached_http_timeouts_total", false, "Connections closed by a timeout.",
     "timed out", false, false, &C::timeouts},
    {"bytes_in", "edgecached_http_received_bytes_total", false, "Bytes read from clients.",
     "received", false, true, &C::bytes_in},
    {"bytes_out", "edgecached_http_sent_bytes_total", false, "Bytes written to clients.", "sent",
     false, true, &C::bytes_out},
};

using H = tls::HandshakeCounts;

const StatRow<tls::HandshakeCounts> g_handshake_rows[] = {
    {"handshakes_in_progress", "edgecached_tls_handshakes_in_progress", true,
     "TLS handshakes a listener is running now.", "handshakes in progress", true, false,
     &H::in_progress},
    {"handshakes_refused", "edgecached_tls_handshakes_refused_total", false,
     "Connections a TLS listener closed at once: max_handshakes were in progress.",
     "refused over max_handshakes", true, false, &H::refused},
};

using InCache = CacheExtraCounts;

// edgecachectl stats names purges and evictions after the cache table's counters.
const StatRow<CacheExtraCounts> g_cache_extra_rows[] = {
    {"purges", "edgecached_purged_total", false, "Entries purged.", "purges", false, false,
     &InCache::purges},
    {"evictions", "edgecached_store_evicted_total", false,
     "Records evicted because the map was full.", "evictions", false, false, &InCache::evictions},
    {"fills_in_flight", "edgecached_cache_fills_in_flight", true,
     "Origin fetches for the cache running now.", nullptr, false, false, &InCache::fills_in_flight},
};

using InDeferred = DeferredCounts;

const StatRow<DeferredCounts> g_deferred_rows[] = {
    {"running", "edgecached_deferred_running", true,
     "Deferred tasks (background revalidations) running now.", "running", true, false,
     &InDeferred::running},
    {"queued", "edgecached_deferred_queued", true, "Deferred tasks waiting for a free slot.",
     "queued", true, false, &InDeferred::queued},
    {"completed", "edgecached_deferred_completed_total", false, "Deferred tasks that succeeded.",
     "completed", false, false, &InDeferred::completed},
    {"failed", "edgecached_deferred_failed_total", false, "Deferred tasks that failed.", "failed",
     false, false, &InDeferred::failed},
    {"deduplicated", "edgecached_deferred_deduplicated_total", false,
     "Deferred tasks not queued: the same key was already queued or running.", "deduplicated",
     false, false, &InDeferred::deduplicated},
    {"rejected", "edgecached_deferred_rejected_total", false,
     "Deferred tasks not queued: the queue was full or the daemon stopping.", "rejected", false,
     false, &InDeferred::rejected},
};

using InHot = HotTierCounts;

// edgecachectl stats writes the hot tier's line itself (a hit rate from hits and misses).
const StatRow<HotTierCounts> g_hot_tier_rows[] = {
    {"bytes", "edgecached_hot_tier_bytes", true, "Bytes held by the memory tier.", nullptr, false,
     true, &InHot::bytes},
    {"capacity", "edgecached_hot_tier_capacity_bytes", true, "Capacity of the memory tier.",
     nullptr, false, true, &InHot::capacity},
    {"entries", "edgecached_hot_tier_entries", true, "Entries in the memory tier.", nullptr, false,
     false, &InHot::entries},
    {"hits", "edgecached_hot_tier_hits_total", false, "Lookups the memory tier answered.", nullptr,
     false, false, &InHot::hits},
    {"misses", "edgecached_hot_tier_misses_total", false,
     "Lookups the memory tier could not answer (expired entries included).", nullptr, false, false,
     &InHot::misses},
    {"evictions", "edgecached_hot_tier_evictions_total", false, "Memory-tier evictions.", nullptr,
     false, false, &InHot::evictions},
    {"expirations", "edgecached_hot_tier_expirations_total", false,
     "Memory-tier entries dropped because they expired.", nullptr, false, false,
     &InHot::expirations},
};

using InStore = StoreCounts;

// edgecachectl stats writes the store's line itself (map use and what the records hold).
const StatRow<StoreCounts> g_store_map_rows[] = {
    {"map_size", "edgecached_store_map_size_bytes", true, "LMDB map size.", nullptr, false, true,
     &InStore::map_size},
    {"map_used", "edgecached_store_map_used_bytes", true, "LMDB map in use.", nullptr, false, true,
     &InStore::map_used},
    {"map_high_water", "edgecached_store_map_high_water_bytes", true,
     "The data file's extent: the most of the map ever used (never shrinks).", nullptr, false, true,
     &InStore::map_high_water},
};

const StatRow<StoreCounts> g_store_record_rows[] = {
    {"entries", "edgecached_store_entries", true,
     "Records in the store of every kind (namespaces included).", nullptr, false, false,
     &InStore::entries},
    {"namespaces", "edgecached_store_namespaces", true, "KV namespaces in the store.", nullptr,
     false, false, &InStore::namespaces},
    {"cache_entries", "edgecached_store_records", true,
     "Records stored, by kind (cache entries, KV keys).", nullptr, false, false,
     &InStore::cache_entries, "kind=\"cache\""},
    {"cache_bytes", "edgecached_store_record_bytes", true,
     "Key and value bytes of the records stored, by kind (page overhead not included).", nullptr,
     false, true, &InStore::cache_bytes, "kind=\"cache\""},
    {"kv_keys", "edgecached_store_records", true, "", nullptr, false, false, &InStore::kv_keys,
     "kind=\"kv\""},
    {"kv_bytes", "edgecached_store_record_bytes", true, "", nullptr, false, true,
     &InStore::kv_bytes, "kind=\"kv\""},
};

const StatRow<StoreCounts> g_store_write_rows[] = {
    {"commits", "edgecached_store_commits_total", false, "Write transactions committed.", nullptr,
     false, false, &InStore::commits},
    {"syncs", "edgecached_store_syncs_total", false,
     "mdb_env_sync calls (batch durability's periodic syncs).", nullptr, false, false,
     &InStore::syncs},
    {"expirations", "edgecached_store_expired_total", false,
     "Records expired (swept or found on read).", nullptr, false, false, &InStore::expirations},
    {"expired_swept", "edgecached_store_expired_swept_total", false,
     "Expired records the sweeper deleted.", nullptr, false, false, &InStore::expired_swept},
    {"expired_on_read", "edgecached_store_expired_on_read_total", false,
     "Point reads that found an expired record (answered as absent).", nullptr, false, false,
     &InStore::expired_on_read},
};

const StatRow<StoreCounts> g_store_commit_failure_rows[] = {
    {"disk_full", "edgecached_store_commit_failures_total", false,
     "Writes refused for lack of room or a failing disk, by reason.", nullptr, false, false,
     &InStore::disk_full, "reason=\"disk_full\""},
    {"map_full", "edgecached_store_commit_failures_total", false, "", nullptr, false, false,
     &InStore::map_full, "reason=\"map_full\""},
    {"io", "edgecached_store_commit_failures_total", false, "", nullptr, false, false, &InStore::io,
     "reason=\"io\""},
};

using InNamespace = kv::NamespaceCounters;

// edgecachectl stats: "N reads, N writes, N deletes" after the namespace's title.
const StatRow<kv::NamespaceCounters> g_namespace_rows[] = {
    {"reads", "edgecached_kv_operations_total", false, "KV operations by namespace.", "reads", true,
     false, &InNamespace::reads, "op=\"read\""},
    {"hits", "edgecached_kv_read_hits_total", false, "KV reads that found a live value.", nullptr,
     false, false, &InNamespace::hits},
    {"writes", "edgecached_kv_operations_total", false, "", "writes", true, false,
     &InNamespace::writes, "op=\"write\""},
    {"deletes", "edgecached_kv_operations_total", false, "", "deletes", true, false,
     &InNamespace::deletes, "op=\"delete\""},
    {"lists", "edgecached_kv_operations_total", false, "", nullptr, false, false,
     &InNamespace::lists, "op=\"list\""},
};

using InOrigin = origin::PoolStats;

const StatRow<origin::PoolStats> g_origin_rows[] = {
    {"requests", "edgecached_origin_requests_total", false, "Requests sent to an origin.", nullptr,
     false, false, &InOrigin::requests},
    {"completed", "edgecached_origin_completed_total", false,
     "Origin requests whose response was delivered.", nullptr, false, false, &InOrigin::completed},
    {"connections_open", "edgecached_origin_connections_open", true,
     "Connections open to an origin.", nullptr, false, false, &InOrigin::connections_open},
    {"connections_reused", "edgecached_origin_connections_reused_total", false,
     "Origin requests sent on an idle keep-alive connection.", nullptr, false, false,
     &InOrigin::connections_reused},
};

using InServer = origin::ServerStatus;

const StatRow<origin::ServerStatus> g_origin_server_rows[] = {
    {"requests", "edgecached_origin_server_requests_total", false,
     "Attempts sent to an origin server.", nullptr, false, false, &InServer::requests},
    {"failures", "edgecached_origin_server_failures_total", false,
     "Connect failures, first-byte timeouts and resets of an origin server.", nullptr, false, false,
     &InServer::failures},
};

} // namespace

ConnectionCounts connection_counts(const http::Server& server) {
    const http::ServerStats& ss = server.stats();
    const size_t admin_open = server.admin_connection_count();
    ConnectionCounts c;
    c.requests = ss.requests;
    c.admin_requests = ss.admin_requests;
    c.open = server.connection_count() - admin_open;
    c.accepted = ss.accepted;
    c.rejected = ss.rejected_busy;
    c.admin_open = admin_open;
    c.admin_accepted = ss.admin_accepted;
    c.bad_requests = ss.bad_requests;
    c.too_large = ss.too_large;
    c.shed = ss.shed;
    c.queued_output_bytes = server.queued_output();
    c.bodies_shed = ss.bodies_shed;
    c.buffered_body_bytes = server.buffered_bodies();
    c.timeouts = ss.timeouts;
    c.bytes_in = ss.bytes_in;
    c.bytes_out = ss.bytes_out;
    return c;
}

std::span<const StatRow<ConnectionCounts>> connection_rows() {
    return g_connection_rows;
}

std::span<const StatRow<tls::HandshakeCounts>> handshake_rows() {
    return g_handshake_rows;
}

std::span<const StatRow<CacheExtraCounts>> cache_extra_rows() {
    return g_cache_extra_rows;
}

DeferredCounts deferred_counts(const loop::DeferredQueue& queue) {
    const loop::DeferredQueue::Stats& st = queue.stats();
    DeferredCounts c;
    c.running = queue.running();
    c.queued = queue.queued();
    c.completed = st.completed;
    c.failed = st.failed;
    c.deduplicated = st.deduplicated;
    c.rejected = st.rejected;
    return c;
}

std::span<const StatRow<DeferredCounts>> deferred_rows() {
    return g_deferred_rows;
}

HotTierCounts hot_tier_counts(const cache::HotTierStats& now, const cache::HotTierStats& baseline) {
    HotTierCounts c;
    c.bytes = now.bytes;
    c.capacity = now.capacity;
    c.entries = now.entries;
    c.hits = now.hits - baseline.hits;
    c.misses = now.misses - baseline.misses;
    c.evictions = now.evictions - baseline.evictions;
    c.expirations = now.expirations - baseline.expirations;
    return c;
}

std::span<const StatRow<HotTierCounts>> hot_tier_rows() {
    return g_hot_tier_rows;
}

StoreCounts store_counts(store::Store& store) {
    const store::StoreStats& st = store.stats();
    const store::Store::MapUsage mu = store.map_usage();
    StoreCounts c;
    c.map_size = mu.map_size;
    c.map_used = mu.used_bytes;
    c.map_high_water = mu.high_water_bytes;
    if (auto counts = store.entry_counts()) {
        c.has_records = true;
        c.entries = counts->records;
        c.namespaces = counts->namespaces;
        c.cache_entries = counts->cache_entries;
        c.cache_bytes = counts->cache_bytes;
        c.kv_keys = counts->kv_records;
        c.kv_bytes = counts->kv_bytes;
    }
    c.commits = st.commits;
    c.syncs = st.syncs;
    c.expirations = st.expired_swept + st.expired_on_read;
    c.expired_swept = st.expired_swept;
    c.expired_on_read = st.expired_on_read;
    c.disk_full = st.commit_failures[2];
    c.map_full = st.commit_failures[1];
    c.io = st.commit_failures[3];
    return c;
}

std::span<const StatRow<StoreCounts>> store_map_rows() {
    return g_store_map_rows;
}

std::span<const StatRow<StoreCounts>> store_record_rows() {
    return g_store_record_rows;
}

std::span<const StatRow<StoreCounts>> store_write_rows() {
    return g_store_write_rows;
}

std::span<const StatRow<StoreCounts>> store_commit_failure_rows() {
    return g_store_commit_failure_rows;
}

std::span<const StatRow<kv::NamespaceCounters>> namespace_rows() {
    return g_namespace_rows;
}

std::span<const StatRow<origin::PoolStats>> origin_rows() {
    return g_origin_rows;
}

std::span<const StatRow<origin::ServerStatus>> origin_server_rows() {
    return g_origin_server_rows;
}

} // namespace ec::admin
