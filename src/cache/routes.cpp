// RouteTable: longest-prefix route matching, policies derived from route options.
#include "cache/routes.hpp"

#include "util/intern.hpp"
#include "util/percent.hpp"

namespace ec::cache {

FreshnessPolicy shared_policy(const config::CacheSettings& cfg) {
    FreshnessPolicy p;
    p.heuristic_freshness = cfg.heuristic_freshness;
    p.heuristic_max = cfg.heuristic_freshness_max;
    p.targeted_field = cfg.targeted_cache_control;
    return p;
}

void RouteTable::configure(const std::vector<config::RouteSpec>& routes,
                           const FreshnessPolicy& shared) {
    std::vector<std::shared_ptr<Route>> next;
    for (const config::RouteSpec& spec : routes) {
        auto r = std::make_shared<Route>();
        r->spec = spec;
        r->policy = shared;
        r->log_name = intern(spec.name);
        r->log_origin = intern(spec.origin);
        r->policy.ttl = spec.ttl;
        r->policy.force_ttl = spec.force_ttl;
        r->policy.stale_while_revalidate = spec.stale_while_revalidate;
        r->policy.stale_if_error = spec.stale_if_error;
        r->policy.ttl_by_status = &r->spec.ttl_by_status;
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

namespace {

// True when routing_path() could differ from the path itself.
bool may_normalise(std::string_view path) {
    for (size_t i = 0; i < path.size(); ++i) {
        char c = path[i];
        if (c == '%' || c == '\\') return true;
        if (c == '.' && i > 0 && path[i - 1] == '/') return true;
    }
    return false;
}

} // namespace

std::string routing_path(std::string_view raw) {
    std::string decoded;
    decoded.reserve(raw.size());
    for (size_t i = 0; i < raw.size(); ++i) {
        char c = raw[i];
        if (c == '%' && i + 2 < raw.size() && hex_digit(raw[i + 1]) >= 0 &&
            hex_digit(raw[i + 2]) >= 0) {
            c = static_cast<char>(hex_digit(raw[i + 1]) * 16 + hex_digit(raw[i + 2]));
            i += 2;
        }
        decoded.push_back(c == '\\' ? '/' : c);
    }
    // RFC 3986 §5.2.4 over the decoded segments.
    std::vector<std::string_view> segments;
    std::string_view in = decoded;
    bool absolute = !in.empty() && in[0] == '/';
    if (absolute) in.remove_prefix(1);
    bool trailing_slash = false;
    while (true) {
        size_t slash = in.find('/');
        std::string_view seg = in.substr(0, slash);
        bool last = slash == std::string_view::npos;
        if (seg == "..") {
            if (!segments.empty()) segments.pop_back();
            trailing_slash = true;
        } else if (seg == ".") {
            trailing_slash = true;
        } else {
            segments.push_back(seg);
            trailing_slash = false;
        }
        if (last) break;
        in.remove_prefix(slash + 1);
    }
    std::string out = absolute ? "/" : "";
    for (size_t i = 0; i < segments.size(); ++i) {
        if (i) out.push_back('/');
        out.append(segments[i]);
    }
    if (trailing_slash && !out.empty() && out.back() != '/') out.push_back('/');
    return out;
}

RouteTable::Match RouteTable::match_request(std::string_view raw_path) const {
    Match m;
    m.route = match(raw_path);
    if (!may_normalise(raw_path)) return m;
    std::shared_ptr<Route> normalised = match(routing_path(raw_path));
    if (normalised != m.route) {
        m.route = std::move(normalised);
        m.ambiguous = true;
    }
    return m;
}

std::shared_ptr<Route> RouteTable::find(std::string_view name) const {
    for (const auto& r : routes_)
        if (r->spec.name == name) return r;
    return nullptr;
}

} // namespace ec::cache
