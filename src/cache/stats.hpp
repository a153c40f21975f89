// Cache counters: per route and in total, read by /admin/stats and /metrics.
#pragma once

#include <array>
#include <cstdint>

#include "origin/types.hpp"

namespace ec::cache {

struct CacheCounters {
    uint64_t requests = 0;       // GET/HEAD requests routed to the cache
    uint64_t hits_memory = 0;    // fresh hits answered from the hot tier
    uint64_t hits_disk = 0;      // fresh hits answered from LMDB
    uint64_t misses = 0;         // fills started (one origin request each)
    uint64_t coalesced = 0;      // requests that waited on another request's fill
    uint64_t stale_served = 0;   // stale-while-revalidate answers
    uint64_t stale_if_error = 0; // stale answers because the origin failed
    uint64_t revalidations = 0;  // conditional requests sent (foreground and background)
    uint64_t revalidated = 0;    // ... answered 304
    uint64_t background_revalidations = 0;
    uint64_t background_failures = 0;
    uint64_t hit_for_pass = 0; // requests passed because the key is marked hit-for-pass
    uint64_t passes = 0; // requests forwarded without caching (unsafe methods, HEAD misses, ...)
    uint64_t not_modified = 0;   // 304s answered to clients from the cache
    uint64_t stores = 0;         // entries written to LMDB
    uint64_t stores_skipped = 0; // fills whose store a purge cancelled
    uint64_t not_stored = 0;     // fills whose response was not storable
    uint64_t invalidations = 0;  // URLs invalidated by unsafe requests
    uint64_t origin_errors = 0;
    std::array<uint64_t, origin::kErrorKinds> origin_errors_by_kind{};
    uint64_t bytes_served = 0; // body bytes answered from the cache

    uint64_t hits() const { return hits_memory + hits_disk; }
    // Hits (fresh and stale) over requests that could have been hits.
    double hit_rate() const {
        uint64_t served = hits() + stale_served + coalesced;
        uint64_t total = served + misses;
        return total ? static_cast<double>(served) / static_cast<double>(total) : 0.0;
    }
    void add(const CacheCounters& o);
};

} // namespace ec::cache
