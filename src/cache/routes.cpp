// RouteTable: longest-prefix route matching, policies derived from route options.
#include "cache/routes.hpp"

namespace ec::cache {

void CacheCounters::add(const CacheCounters& o) {
    requests += o.requests;
    hits_memory += o.hits_memory;
    hits_disk += o.hits_disk;
    misses += o.misses;
    coalesced += o.coalesced;
    stale_served += o.stale_served;
    stale_if_error += o.stale_if_error;
    revalidations += o.revalidations;
    revalidated += o.revalidated;
    background_revalidations += o.background_revalidations;
    background_failures += o.background_failures;
    hit_for_pass += o.hit_for_pass;
    passes += o.passes;
    not_modified += o.not_modified;
    stores += o.stores;
    stores_skipped += o.stores_skipped;
    not_stored += o.not_stored;
    invalidations += o.invalidations;
    origin_errors += o.origin_errors;
    for (size_t i = 0; i < origin_errors_by_kind.size(); ++i)
        origin_errors_by_kind[i] += o.origin_errors_by_kind[i];
    bytes_served += o.bytes_served;
}

void RouteTable::configure(const std::vector<config::RouteSpec>& routes, bool heuristic_freshness) {
    std::vector<std::shared_ptr<Route>> next;
    for (const config::RouteSpec& spec : routes) {
        auto r = std::make_shared<Route>();
        r->spec = spec;
        r->policy.ttl = spec.ttl;
        r->policy.force_ttl = spec.force_ttl;
        r->policy.stale_while_revalidate = spec.stale_while_revalidate;
        r->policy.stale_if_error = spec.stale_if_error;
        r->policy.ttl_by_status = &r->spec.ttl_by_status;
        r->policy.heuristic_freshness = heuristic_freshness;
        if (auto old = find(spec.name)) r->stats = old->stats;
        next.push_back(std::move(r));
    }
    routes_ = std::move(next);
}

std::shared_ptr<Route> RouteTable::match(std::string_view path) const {
    for (const auto& r : routes_)
        if (path.substr(0, r->spec.prefix.size()) == r->spec.prefix) return r;
    return nullptr;
}

std::shared_ptr<Route> RouteTable::find(std::string_view name) const {
    for (const auto& r : routes_)
        if (r->spec.name == name) return r;
    return nullptr;
}

} // namespace ec::cache
