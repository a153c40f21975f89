// RouteTable: the configured proxy routes, matched by longest path prefix.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cache/freshness.hpp"
#include "cache/stats.hpp"
#include "config/config.hpp"

namespace ec::cache {

// One route. Shared: an in-flight fill keeps its route alive across a reload.
struct Route {
    config::RouteSpec spec;
    FreshnessPolicy policy; // policy.ttl_by_status points into spec
    CacheCounters stats;
    // spec.name and spec.origin interned (util/intern.hpp): access records keep these.
    const char* log_name = "";
    const char* log_origin = "";
};

// The path a request's route is chosen on: every %XX decoded (%2F and %2E included), '\\'
// taken as '/', then dot-segments removed (RFC 3986 §5.2.4; ".." never climbs above "/").
std::string routing_path(std::string_view raw_path);

// The part of every route's FreshnessPolicy that global options set: heuristic_freshness,
// heuristic_freshness_max, targeted_cache_control.
FreshnessPolicy shared_policy(const config::CacheSettings& cfg);

class RouteTable {
public:
    // Replaces the routes (already validated and sorted longest prefix first by config).
    // Each route's policy starts from `shared` (shared_policy()) and adds the route's own
    // options. Counters carry over to routes of the same name.
    void configure(const std::vector<config::RouteSpec>& routes, const FreshnessPolicy& shared);
    // The route for a path, or nullptr.
    std::shared_ptr<Route> match(std::string_view path) const;

    // The route for a request path as received. Routes are chosen on the path an origin may
    // resolve it to (routing_path()); when that and the raw path would choose different
    // routes, `ambiguous` is set and the request must be refused: caching it under either
    // route's rules may store a private page under a cacheable one (web cache deception).
    struct Match {
        std::shared_ptr<Route> route;
        bool ambiguous = false;
    };
    Match match_request(std::string_view raw_path) const;
    std::shared_ptr<Route> find(std::string_view name) const;
    const std::vector<std::shared_ptr<Route>>& routes() const { return routes_; }
    bool empty() const { return routes_.empty(); }

private:
    std::vector<std::shared_ptr<Route>> routes_;
};

} // namespace ec::cache
