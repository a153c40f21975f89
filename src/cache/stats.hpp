// Cache counters and their one table: per route and in total, read by /admin/stats, /metrics
// and edgecachectl stats.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "origin/types.hpp"

namespace ec::cache {

// The counters themselves; what each one counts is said once, in cache_counter_table().
struct CacheCounters {
    uint64_t requests = 0;
    uint64_t hits_memory = 0;
    uint64_t hits_disk = 0;
    uint64_t misses = 0;
    uint64_t coalesced = 0;
    uint64_t stale_served = 0;
    uint64_t stale_if_error = 0;
    uint64_t revalidations = 0;
    uint64_t revalidated = 0;
    uint64_t background_revalidations = 0;
    uint64_t background_failures = 0;
    uint64_t hit_for_pass = 0;
    uint64_t passes = 0;
    uint64_t not_modified = 0;
    uint64_t stores = 0;
    uint64_t stores_skipped = 0;
    uint64_t not_stored = 0;
    uint64_t invalidations = 0;
    uint64_t interim_relayed = 0;
    uint64_t origin_errors = 0;
    std::array<uint64_t, origin::kErrorKinds> origin_errors_by_kind{};
    uint64_t bytes_served = 0;

    uint64_t hits() const { return hits_memory + hits_disk; }
    // Hits (fresh and stale) over requests that could have been hits.
    double hit_rate() const {
        uint64_t served = hits() + stale_served + coalesced;
        uint64_t total = served + misses;
        return total ? static_cast<double>(served) / static_cast<double>(total) : 0.0;
    }
    // Adds every counter of the table, and the origin errors by kind.
    void add(const CacheCounters& o);
};

// One counter as every reader shows it (Redis's INFO fields and Varnish's counter docs are one
// list the same way): its key in /admin/stats ("cache" and each route), its Prometheus family
// (one sample per route; rows that share a family differ by `metric_label`), the help text, and
// the words edgecachectl stats uses for it (nullptr: the summary's first line shows it).
struct CounterRow {
    std::string_view json;
    const char* metric;
    std::string_view metric_label; // e.g. tier="memory"; empty for most
    const char* help;
    const char* ctl_label;
    uint64_t CacheCounters::*field;
};

// Every counter of CacheCounters except the per-kind origin errors (an object by kind in JSON,
// a label in /metrics), in the order the readers list them.
std::span<const CounterRow> cache_counter_table();

} // namespace ec::cache
