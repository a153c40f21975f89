// Proxy: the caching reverse proxy — lookup, coalesced fills, revalidation, stale serving, pass.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "cache/entry.hpp"
#include "cache/error_pages.hpp"
#include "cache/fill.hpp"
#include "cache/generations.hpp"
#include "cache/hot_tier.hpp"
#include "cache/purge.hpp"
#include "cache/respond.hpp"
#include "cache/routes.hpp"
#include "cache/stats.hpp"
#include "config/config.hpp"
#include "http/exchange.hpp"
#include "http/handler.hpp"
#include "loop/deferred.hpp"
#include "loop/loop.hpp"
#include "origin/origins.hpp"
#include "store/store.hpp"
#include "util/ip.hpp"
#include "util/log.hpp"

namespace ec::cache {

// What sits in the hot tier: an entry and the generations it was valid for, so one counter
// bump invalidates every variant of a URL in memory without finding them.
struct HotItem {
    std::shared_ptr<const Entry> entry;
    Generations::Slots gen;
};

// Request flow for GET (HEAD is answered from stored GETs; a HEAD miss is passed as HEAD):
//   hot tier → LMDB (following a Vary marker to the variant) → decide_reuse():
//     fresh            → answer (304 / 206 / 416 as the client's headers ask)          HIT
//     stale in SWR     → answer, schedule one background revalidation (deferred task)  STALE
//     otherwise        → conditional fill; 304 refreshes the entry              REVALIDATED
//   miss → a fill (fill.hpp): one origin request per key however many clients wait
//   (coalescing); the first client streams the response as it arrives, the others are
//   answered from the buffered copy when it is complete. Origin failure (refused, timeout,
//   reset, 5xx) with an entry inside stale-if-error → the stale entry; else 502 / 504.
//   Background revalidations are fills too, queued in the same map (one per key) and run by
//   a deferred task. Clients a fill cannot answer come back through hand_back().
//   Partial content (partial.hpp): a stored part set answers the ranges it holds while fresh;
//   a range miss with nothing complete stored is fetched as that range and its 206 kept.
// Unsafe and unknown methods are forwarded with their bodies; a 2xx/3xx answer invalidates
// the target URL on the request's host (all variants) and same-origin Location / Content-Location.
// With write: "through", a successful PUT's body becomes the stored representation.
class Proxy final : private FillHost {
public:
    // The hot tier is sized by settings.memory_cache, once; configure() applies the rest.
    Proxy(loop::Loop& loop, store::Store& store, origin::Origins& origins,
          const config::CacheSettings& settings);
    ~Proxy();
    Proxy(const Proxy&) = delete;
    Proxy& operator=(const Proxy&) = delete;

    // Applies routes and settings (at start and on reload). Fills in flight keep their route.
    void configure(const config::Config& cfg);
    // Who this node is to other hops, set once at start (ProxySettings::node, shown_name):
    // `node` goes in Via to parent origins and is the loop check's name ("" = no check);
    // `shown` names this cache in the Via and Cache-Status of responses.
    void set_node(std::string node, std::string shown) {
        settings_.node = std::move(node);
        settings_.shown_name = std::move(shown);
    }
    // The operator's bodies for the 502/503/504 answers the proxy makes (error_pages); without
    // one a status gets a generic JSON error. Loaded by the caller (start, reload).
    void set_error_pages(ErrorPages pages) { error_pages_ = std::move(pages); }

    // True when a route matches this path.
    bool routes(std::string_view path) const { return table_.match(path) != nullptr; }
    http::BodyLimit body_limit(const http::Request& req) const;
    // Handles a request whose path matches a route (404 otherwise).
    void handle(http::Exchange& ex);

    // Invalidates every stored variant of a target ("/path?query") on one host (RFC 9111
    // §4.4): LMDB records, hot-tier entries (by generation) and fills in flight. The key is
    // derived as a lookup derives it. Returns at once; the delete is a write op.
    void invalidate(std::string_view host, std::string_view target);
    // The same on this node only (invalidate() also tells the fleet, when there is one).
    void invalidate_here(std::string_view host, std::string_view target);
    // Called with every invalidation this node makes, so a fleet can repeat it on the others.
    void set_invalidation_fanout(std::function<void(std::string host, std::string target)> fn) {
        invalidation_fanout_ = std::move(fn);
    }
    // The cache key of a target on a host, with the matching route's query rules.
    std::string target_key(std::string_view host, std::string_view target) const;

    // The stored entry for a URL on a host, as a request without Vary-relevant headers would
    // find it (a Vary marker is returned as such), without going to the origin.
    struct Peek {
        std::string base;
        std::shared_ptr<const Entry> entry;
        bool memory = false;
    };
    Peek peek(std::string_view host, std::string_view target);

    // Stops background work and cancels fills (shutdown).
    void shutdown();

    // Counters summed over routes (plus those of routes removed by reloads).
    CacheCounters totals() const;
    void reset_stats();
    const RouteTable& route_table() const { return table_; }
    HotTier<HotItem>& hot() { return hot_; }
    loop::DeferredQueue& deferred() { return deferred_; }
    Generations& generations() { return gens_; }
    const ProxySettings& settings() const override { return settings_; }
    // Fills with an origin request out or settling (queued revalidations not counted).
    size_t fills_in_flight() const;

    Purger& purger() { return *purger_; }

private:
    struct Found {
        std::shared_ptr<const Entry> entry;
        std::string key; // the variant's storage key (the base key when there is no Vary)
        bool memory = false;
    };
    // Hot tier, then LMDB; follows a Vary marker. Always fills `key` with the key a fill for
    // this request should store under when the Vary names are known.
    Found lookup(const std::string& base, const http::Request& req);
    std::shared_ptr<const Entry> load(const std::string& key, bool* memory);
    // Puts e in the memory tier; false when the tier takes no object of its size.
    bool remember(const std::string& key, const std::shared_ptr<const Entry>& e);
    // Drops key's memory-tier entry if it is still `e` (a store of it failed).
    void forget(const std::string& key, const std::shared_ptr<const Entry>& e);

    void handle_get(http::Exchange& ex, const std::shared_ptr<Route>& route);
    // The debug line explaining how a stored copy was (or was not) used.
    void log_reuse(const std::string& base, const Freshness& f, Reuse reuse, int64_t now,
                   bool memory);
    // `forward_range`: the Range the fill asks the origin for ("" = the whole representation).
    void start_fill(http::Exchange& ex, const std::shared_ptr<Route>& route, std::string base,
                    std::string key, std::shared_ptr<const Entry> stale,
                    std::string forward_range = {});
    // Answers a GET from a fresh part set when it holds the range asked for (or the range lies
    // past the end); false when the request needs the origin (proxy_parts.cpp).
    bool serve_parts(http::Exchange& ex, Route& route, const Entry& parts, const CacheControl& cc,
                     int64_t now, bool memory);
    void schedule_revalidation(const std::shared_ptr<Route>& route, const std::string& base,
                               const std::string& key, std::shared_ptr<const Entry> stale,
                               const http::Request& req);
    void pass(http::Exchange& ex, const std::shared_ptr<Route>& route, bool counted_hfp);

    // FillHost: what fills ask of the proxy (fill.hpp).
    loop::Loop& loop() override { return loop_; }
    origin::Pool* pool_for(const Route& route) override;
    void store(StoreRequest req, Route& route, std::function<void()> settled) override;
    bool purged_since(const std::string& base, const Generations::Snapshot& snap) override;
    void mark_hit_for_pass(const std::string& base) override;
    void send_gateway_error(http::Exchange& ex, origin::ErrorKind kind, std::string_view origin,
                            std::string_view message) override;
    void fill_done(const Fill& fill) override;
    void hand_back(std::vector<http::ExchangeRef> clients,
                   const std::shared_ptr<Route>& route) override;

    // Stores a completed response (and the Vary marker) unless a purge moved the generation
    // since `snap`; updates the hot tier after the commit. `settled` (optional) runs once the
    // entry is visible to lookups — or will never be (skipped, failed).
    void store_entry(const std::string& base, const std::string& key,
                     std::shared_ptr<const Entry> e, std::vector<std::string> vary_names,
                     std::vector<std::string> tags, Generations::Snapshot snap, Route& route,
                     std::function<void()> settled = nullptr);

    // store_entry() for a part (partial.hpp): merged with the stored record inside the write
    // transaction; the hot tier gets the result after the commit (proxy_parts.cpp).
    void store_part(const std::string& base, const std::string& key,
                    std::shared_ptr<const Entry> part, std::vector<std::string> vary_names,
                    std::vector<std::string> tags, Generations::Snapshot snap, Route& route,
                    std::function<void()> settled);

    // Deletes every record whose key starts with `range`, in committed slices.
    void delete_range(std::string range);
    bool hit_for_pass(const std::string& base);

    loop::Loop& loop_;
    store::Store& store_;
    origin::Origins& origins_;
    RouteTable table_;
    ProxySettings settings_;
    ErrorPages error_pages_;
    log::Throttle gateway_error_log_;
    HotTier<HotItem> hot_;
    Generations gens_;
    loop::DeferredQueue deferred_;
    std::unordered_map<std::string, std::shared_ptr<Fill>> fills_;
    // Bytes held by queued revalidations; shared with the tasks, which may outlive the proxy's
    // queue during destruction.
    struct QueuedBytes {
        size_t held = 0;
    };
    std::shared_ptr<QueuedBytes> revalidation_bytes_ = std::make_shared<QueuedBytes>();
    // Base keys whose invalidation has not committed yet, with how many are in flight: their
    // records (every variant) are not loaded from LMDB meanwhile.
    std::unordered_map<std::string, int> invalidating_;
    std::function<void(std::string host, std::string target)> invalidation_fanout_;
    // Hit-for-pass: hash of the base key → until (unix s). Hashes, not keys, so a client
    // sending long unique URLs cannot grow it past its count bound; a collision only passes a
    // request that could have waited for a fill.
    std::unordered_map<size_t, int64_t> hfp_;
    CacheCounters retired_; // counters of routes removed by reloads
    std::unique_ptr<Purger> purger_;
    bool shut_down_ = false;
};

} // namespace ec::cache
