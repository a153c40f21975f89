// Storability and freshness arithmetic (RFC 9111 §3, §4.2; RFC 5861): see freshness.hpp.
#include "cache/freshness.hpp"

#include <algorithm>

#include "cache/targeted.hpp"
#include "cache/vary.hpp"
#include "util/time_format.hpp"

namespace ec::cache {

bool heuristically_cacheable(int status) {
    switch (status) {
    case 200:
    case 203:
    case 204:
    case 206:
    case 300:
    case 301:
    case 308:
    case 404:
    case 405:
    case 410:
    case 414:
    case 501:
        return true;
    default:
        return false;
    }
}

bool understood_status(int status) {
    if (status >= 200 && status <= 205) return true;
    if (status >= 300 && status <= 308) return status != 304 && status != 306;
    if (status >= 400 && status <= 417) return true;
    if (status == 421 || status == 422 || status == 426) return true;
    return status >= 500 && status <= 505;
}

namespace {

int64_t clamp_delta(int64_t v) {
    return std::clamp<int64_t>(v, 0, kDeltaMax);
}

// A stale window directive: invalid occurrences are ignored; several values → the smallest.
int64_t window(const DeltaDirective& d) {
    return d.valid ? d.smallest : 0;
}

// The explicit lifetime directive (s-maxage / max-age): invalid or self-contradicting means
// "stale" (§4.2.1), i.e. 0.
int64_t explicit_delta(const DeltaDirective& d) {
    return d.clean() ? d.value : 0;
}

std::optional<int64_t> status_ttl(const FreshnessPolicy& p, int status) {
    if (!p.ttl_by_status) return std::nullopt;
    auto it = p.ttl_by_status->find(status);
    if (it == p.ttl_by_status->end()) return std::nullopt;
    return clamp_delta(it->second);
}

} // namespace

void ResponseInfo::add_field(std::string_view name, std::string_view value) {
    constexpr std::string_view kTargetedSuffix = "-cache-control";
    if (name.size() > kTargetedSuffix.size() &&
        iequals(name.substr(name.size() - kTargetedSuffix.size()), kTargetedSuffix)) {
        targeted.push_back(FieldView{name, value});
        return;
    }
    switch (name.size()) {
    case 3:
        // §5.1: Age is a single value. The first field line's first member is the value (a
        // list or later lines are a sender's mistake); an invalid one means "no Age".
        if (iequals(name, "age") && !age_seen) {
            age_seen = true;
            auto a = parse_delta_seconds(trim_ows(value.substr(0, value.find(','))));
            age = a >= 0 ? a : 0;
        }
        return;
    case 4:
        if (iequals(name, "date")) {
            if (!date) date = parse_http_date(trim_ows(value));
        } else if (iequals(name, "etag")) {
            if (etag.empty()) etag = trim_ows(value);
        } else if (iequals(name, "vary")) {
            vary_star = vary_star || vary_has_star(value);
        }
        return;
    case 7:
        if (iequals(name, "expires")) {
            auto e = parse_http_date(trim_ows(value));
            if (!has_expires)
                expires = e;
            else if (expires != e)
                expires = std::nullopt; // disagreeing lines: treat as past
            has_expires = true;
        }
        return;
    case 10:
        if (iequals(name, "set-cookie")) set_cookie = true;
        return;
    case 13:
        if (iequals(name, "cache-control")) {
            cc.add(value);
        } else if (iequals(name, "last-modified")) {
            if (!last_modified) last_modified = parse_http_date(trim_ows(value));
        }
        return;
    default:
        return;
    }
}

namespace {

// The directives of the targeted field `name` in `resp`, when present, valid and non-empty.
std::optional<CacheControl> targeted_directives(const ResponseInfo& resp, std::string_view name) {
    if (name.empty()) return std::nullopt;
    std::string combined; // RFC 9110 §5.3: the lines joined with ", "
    bool seen = false;
    for (const FieldView& f : resp.targeted) {
        if (!iequals(f.name, name)) continue;
        if (seen) combined += ", ";
        combined += f.value;
        seen = true;
    }
    if (!seen) return std::nullopt;
    return parse_targeted_cache_control(combined);
}

} // namespace

const CacheControl& governing_directives(const ResponseInfo& resp, const FreshnessPolicy& policy,
                                         CacheControl& scratch, bool* targeted) {
    if (targeted) *targeted = false;
    if (resp.targeted.empty()) return resp.cc; // the common case: no work, no allocation
    for (std::string_view name :
         {std::string_view(policy.targeted_field), std::string_view("cdn-cache-control")}) {
        if (auto cc = targeted_directives(resp, name)) {
            scratch = std::move(*cc);
            if (targeted) *targeted = true;
            return scratch;
        }
    }
    return resp.cc;
}

std::vector<std::string> withheld_fields(const ResponseInfo& resp, const FreshnessPolicy& policy) {
    std::vector<std::string> out;
    auto add = [&](std::string_view name) { out.push_back(to_lower(name)); };
    if (!policy.targeted_field.empty())
        for (const FieldView& f : resp.targeted)
            if (iequals(f.name, policy.targeted_field)) {
                add(policy.targeted_field);
                break;
            }
    CacheControl scratch;
    const CacheControl& cc = governing_directives(resp, policy, scratch);
    for (const std::string* list : {&cc.private_fields, &cc.no_cache_fields})
        for_each_list_item(*list, add);
    return out;
}

int64_t corrected_initial_age(std::optional<int64_t> date, int64_t age_value, int64_t request_time,
                              int64_t response_time) {
    int64_t date_value = date.value_or(response_time);
    int64_t apparent_age = clamp_delta(response_time - date_value);
    int64_t response_delay = clamp_delta(response_time - request_time);
    int64_t corrected_age_value = delta_add(clamp_delta(age_value), response_delay);
    return std::max(apparent_age, corrected_age_value);
}

Freshness evaluate(const RequestInfo& req, const ResponseInfo& resp, const FreshnessPolicy& policy,
                   int64_t request_time, int64_t response_time) {
    CacheControl targeted_cc;
    bool targeted = false;
    const CacheControl& cc = governing_directives(resp, policy, targeted_cc, &targeted);
    // RFC 9213 §2.2: a governing targeted field makes this cache ignore Expires too.
    const bool has_expires = resp.has_expires && !targeted;
    Freshness f;
    f.request_time = request_time;
    f.response_time = response_time;
    f.corrected_initial_age =
        corrected_initial_age(resp.date, resp.age, request_time, response_time);
    f.immutable = cc.immutable;
    f.has_validator = !resp.etag.empty() || resp.last_modified.has_value();

    auto refuse = [&](std::string_view why) {
        f.storable = false;
        f.why_not = why;
        f.source = LifetimeSource::none;
        f.lifetime = f.swr = f.sie = 0;
        f.keep = 0;
        return f;
    };

    // Privacy (§3, §3.5; SPEC): these make the response unfit for anyone but its requester.
    // §5.2.2.3: with must-understand, a cache that implements the status code's caching
    // rules ignores no-store; one that does not, stores nothing (checked below).
    if (cc.no_store && !(cc.must_understand && understood_status(resp.status)))
        return refuse("no-store");
    if (cc.private_) return refuse("private"); // private="f": only f is withheld
    if (req.has_authorization && !cc.public_ && !cc.s_maxage.present && !cc.must_revalidate)
        return refuse("authorization");
    // A Set-Cookie that a qualified private/no-cache names is withheld from the stored copy.
    if (resp.set_cookie && !cc.names_field("set-cookie")) return refuse("set-cookie");
    if (resp.vary_star) return refuse("vary-star");
    f.shareable = true;

    if (req.cc.no_store) return refuse("request-no-store");
    if (!req.is_get) return refuse("method");
    const int status = resp.status;
    if (status < 200 || status > 599 || status == 206 || status == 304) return refuse("status");
    if (cc.must_understand && !understood_status(status)) return refuse("must-understand");

    // `no-cache` counts as freshness information (lifetime 0 unless given): the origin said how
    // the response may be reused, so it is stored (SPEC) even when the route has no ttl.
    const bool explicit_freshness =
        cc.s_maxage.present || cc.max_age.present || has_expires || cc.no_cache;
    const bool default_cacheable = heuristically_cacheable(status) || cc.public_;
    const auto by_status = status_ttl(policy, status);
    bool no_cache = cc.no_cache; // no-cache="f" withholds f instead (withheld_fields())

    if (policy.force_ttl && (by_status || default_cacheable)) {
        f.source = by_status ? LifetimeSource::status_ttl : LifetimeSource::forced;
        f.lifetime = by_status ? *by_status : clamp_delta(policy.ttl);
        no_cache = false; // the operator's override covers "don't reuse without validation"
    } else if (explicit_freshness) {
        f.source = LifetimeSource::origin;
        if (cc.s_maxage.present) {
            f.lifetime = explicit_delta(cc.s_maxage);
        } else if (cc.max_age.present) {
            f.lifetime = explicit_delta(cc.max_age);
        } else if (has_expires && resp.expires) {
            f.lifetime = clamp_delta(*resp.expires - resp.date.value_or(response_time));
        } else {
            f.lifetime = 0; // invalid Expires (already expired), or no-cache alone
        }
    } else if (by_status) {
        f.source = LifetimeSource::status_ttl;
        f.lifetime = *by_status;
    } else if (!default_cacheable) {
        return refuse("status");
    } else if (policy.ttl > 0) {
        f.source = LifetimeSource::route_ttl;
        f.lifetime = clamp_delta(policy.ttl);
    } else if (policy.heuristic_freshness && resp.last_modified) {
        f.source = LifetimeSource::heuristic;
        int64_t since = resp.date.value_or(response_time) - *resp.last_modified;
        f.lifetime = std::min(clamp_delta(since) / 10, clamp_delta(policy.heuristic_max));
    } else {
        return refuse("no-freshness");
    }

    f.revalidate_each_use = no_cache;
    f.stale_forbidden =
        cc.must_revalidate || cc.proxy_revalidate || cc.s_maxage.present || no_cache;
    if (!f.stale_forbidden) {
        f.swr =
            std::max(window(cc.stale_while_revalidate), clamp_delta(policy.stale_while_revalidate));
        f.sie = std::max(window(cc.stale_if_error), clamp_delta(policy.stale_if_error));
    }
    f.keep = f.has_validator ? clamp_delta(policy.keep) : 0;

    // Worth storing only if something can come of it: a later hit (fresh or within a stale
    // window) or a conditional revalidation.
    bool servable_later = !f.revalidate_each_use &&
                          f.corrected_initial_age < delta_add(f.lifetime, std::max(f.swr, f.sie));
    if (!servable_later && f.keep == 0) return refuse("not-useful");

    f.storable = true;
    return f;
}

int64_t current_age(const Freshness& f, int64_t now) {
    return delta_add(f.corrected_initial_age, clamp_delta(now - f.response_time));
}

int64_t fresh_until(const Freshness& f) {
    return f.response_time - f.corrected_initial_age + f.lifetime;
}

int64_t retain_until(const Freshness& f) {
    return fresh_until(f) + std::max(f.swr, f.sie) + f.keep;
}

State state_at(const Freshness& f, int64_t now) {
    if (f.revalidate_each_use) return State::expired;
    int64_t age = current_age(f, now);
    if (age < f.lifetime) return State::fresh;
    if (age < f.lifetime + f.swr) return State::stale_while_revalidate;
    if (age < f.lifetime + f.sie) return State::stale_if_error_only;
    return State::expired;
}

const char* lifetime_source_name(LifetimeSource s) {
    switch (s) {
    case LifetimeSource::none:
        return "none";
    case LifetimeSource::origin:
        return "origin";
    case LifetimeSource::status_ttl:
        return "ttl_by_status";
    case LifetimeSource::route_ttl:
        return "route_ttl";
    case LifetimeSource::heuristic:
        return "heuristic";
    case LifetimeSource::forced:
        return "force_ttl";
    }
    return "?";
}

const char* state_name(State s) {
    switch (s) {
    case State::fresh:
        return "fresh";
    case State::stale_while_revalidate:
        return "stale-while-revalidate";
    case State::stale_if_error_only:
        return "stale-if-error only";
    case State::expired:
        return "expired";
    }
    return "?";
}

bool usable_on_error(const Freshness& f, int64_t now) {
    return state_at(f, now) != State::expired;
}

Reuse decide_reuse(const Freshness& f, const CacheControl& rc, int64_t now,
                   bool honor_client_no_cache) {
    State s = state_at(f, now);
    if (s == State::expired || s == State::stale_if_error_only) return Reuse::revalidate;
    if (honor_client_no_cache && !(f.immutable && s == State::fresh)) {
        int64_t age = current_age(f, now);
        if (rc.no_cache) return Reuse::revalidate;
        if (rc.max_age.clean() && (age > rc.max_age.value || s != State::fresh))
            return Reuse::revalidate;
        if (rc.min_fresh.clean() && f.lifetime - age < rc.min_fresh.value) return Reuse::revalidate;
    }
    return s == State::fresh ? Reuse::serve : Reuse::serve_stale;
}

} // namespace ec::cache
