// The cache counter table: each counter named, documented and labelled once.
#include "cache/stats.hpp"

#include <iterator>

namespace ec::cache {

namespace {

constexpr CounterRow kCacheCounterRows[] = {
    {"requests", "edgecached_cache_requests_total", "", "GET/HEAD requests routed to the cache.",
     nullptr, &CacheCounters::requests},
    {"hits_memory", "edgecached_cache_hits_total", "tier=\"memory\"",
     "Fresh hits, by route and tier.", nullptr, &CacheCounters::hits_memory},
    {"hits_disk", "edgecached_cache_hits_total", "tier=\"disk\"", "Fresh hits, by route and tier.",
     nullptr, &CacheCounters::hits_disk},
    {"misses", "edgecached_cache_misses_total", "", "Fills started (one origin request each).",
     nullptr, &CacheCounters::misses},
    {"coalesced", "edgecached_cache_coalesced_total", "",
     "Requests that waited on another request's fill.", "coalesced", &CacheCounters::coalesced},
    {"stale_served", "edgecached_cache_stale_served_total", "", "Stale-while-revalidate answers.",
     "stale served", &CacheCounters::stale_served},
    {"stale_if_error", "edgecached_cache_stale_if_error_total", "",
     "Stale answers because the origin failed.", "stale-if-error", &CacheCounters::stale_if_error},
    {"revalidations", "edgecached_cache_revalidations_total", "",
     "Conditional requests sent to origins (foreground and background).", "revalidations",
     &CacheCounters::revalidations},
    {"revalidated", "edgecached_cache_revalidated_total", "", "Revalidations answered 304.",
     "revalidated", &CacheCounters::revalidated},
    {"background_revalidations", "edgecached_cache_background_revalidations_total", "",
     "Revalidations run as deferred tasks after a stale answer.", "background revalidations",
     &CacheCounters::background_revalidations},
    {"background_failures", "edgecached_cache_background_failures_total", "",
     "Background revalidations that failed.", "background failures",
     &CacheCounters::background_failures},
    {"hit_for_pass", "edgecached_cache_hit_for_pass_total", "",
     "Requests passed because the key is hit-for-pass.", "hit-for-pass",
     &CacheCounters::hit_for_pass},
    {"passes", "edgecached_cache_passes_total", "",
     "Requests forwarded without caching (unsafe methods, HEAD misses, ...).", "passes",
     &CacheCounters::passes},
    {"not_modified", "edgecached_cache_not_modified_total", "",
     "304s answered to clients from the cache.", "not modified", &CacheCounters::not_modified},
    {"stores", "edgecached_cache_stores_total", "", "Entries written to storage.", "stores",
     &CacheCounters::stores},
    {"stores_skipped", "edgecached_cache_stores_skipped_total", "",
     "Fills whose store a purge cancelled.", "stores skipped", &CacheCounters::stores_skipped},
    {"not_stored", "edgecached_cache_not_stored_total", "",
     "Fills whose response was not storable.", "not stored", &CacheCounters::not_stored},
    {"invalidations", "edgecached_cache_invalidations_total", "",
     "URLs invalidated by unsafe requests.", "invalidations", &CacheCounters::invalidations},
    {"interim_relayed", "edgecached_cache_interim_relayed_total", "",
     "Interim 1xx responses (100, 102, 103 Early Hints) relayed from origins to clients.",
     "interim relayed", &CacheCounters::interim_relayed},
    {"origin_errors_total", "edgecached_cache_origin_errors_total", "", "Origin failures.", nullptr,
     &CacheCounters::origin_errors},
    {"bytes_served", "edgecached_cache_served_bytes_total", "",
     "Body bytes answered from the cache.", nullptr, &CacheCounters::bytes_served},
};

// A counter added to CacheCounters but not to the table would be missing from every reader.
static_assert(sizeof(CacheCounters) ==
                  (std::size(kCacheCounterRows) + origin::kErrorKinds) * sizeof(uint64_t),
              "every CacheCounters field has a row in kCacheCounterRows");

} // namespace

std::span<const CounterRow> cache_counter_table() {
    return kCacheCounterRows;
}

void CacheCounters::add(const CacheCounters& o) {
    for (const CounterRow& row : kCacheCounterRows)
        this->*row.field += o.*row.field;
    for (size_t i = 0; i < origin_errors_by_kind.size(); ++i)
        origin_errors_by_kind[i] += o.origin_errors_by_kind[i];
}

} // namespace ec::cache
