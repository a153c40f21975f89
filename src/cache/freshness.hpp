// Storability, freshness lifetime, age and stale windows of a response (RFC 9111, RFC 5861).
//
// Everything here is a pure function of header values, a route's policy and explicit times
// (unix seconds): no clock is read. The proxy evaluates a response once, stores the
// resulting `Freshness` with the entry, and later asks `state_at` / `decide_reuse` /
// `current_age` with the loop's `now`. After a 304 it merges the headers (conditional.hpp)
// and evaluates again with the new request/response times.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cache/cache_control.hpp"
#include "cache/fields.hpp"

namespace ec::cache {

// RFC 9110 §15.1: status codes whose responses are heuristically cacheable
// (200 203 204 206 300 301 308 404 405 410 414 501).
bool heuristically_cacheable(int status);

// Status codes whose caching requirements this cache understands, for `must-understand`
// (RFC 9111 §5.2.2.3): the final codes RFC 9110 defines, except 206 and 304, which are
// never stored as such.
bool understood_status(int status);

// The caching-relevant facts of a request. Built once per request; holds no views.
struct RequestInfo {
    bool is_get = true; // only GET responses are stored; HEAD/others are the caller's business
    bool has_authorization = false;
    // Request directives. When the request has no Cache-Control but `Pragma: no-cache`,
    // no_cache is set (RFC 9111 §5.4).
    CacheControl cc;

    template <FieldRange R> static RequestInfo from_fields(bool is_get, const R& fields) {
        RequestInfo r;
        r.is_get = is_get;
        bool pragma_no_cache = false;
        for (const auto& f : fields) {
            std::string_view n(f.name), v(f.value);
            if (iequals(n, "cache-control"))
                r.cc.add(v);
            else if (iequals(n, "authorization"))
                r.has_authorization = true;
            else if (iequals(n, "pragma"))
                for_each_list_item(v, [&](std::string_view item) {
                    pragma_no_cache = pragma_no_cache || iequals(item, "no-cache");
                });
        }
        if (pragma_no_cache && !r.cc.any) r.cc.no_cache = true;
        return r;
    }
};

// The caching-relevant facts of a response's header fields. `etag` points into the fields
// given to from_fields()/add_field(); everything else is owned.
struct ResponseInfo {
    int status = 200;
    CacheControl cc;
    std::optional<int64_t> date;          // a valid Date (the first one)
    bool has_expires = false;             // an Expires field is present...
    std::optional<int64_t> expires;       // ...and this is its value; nullopt = invalid = past
    std::optional<int64_t> last_modified; // a valid Last-Modified
    int64_t age = 0;                      // Age's first member, 0 when absent/invalid
    bool age_seen = false;                // an Age field line was folded in (the first counts)
    std::string_view etag;                // the first ETag field value, raw; empty when none
    bool set_cookie = false;
    bool vary_star = false; // Vary lists "*" (or a member that is not a field name)
    // Lines of fields named "*-Cache-Control" (CDN-Cache-Control and the like), in order, for
    // evaluate() to pick this cache's targeted field from (RFC 9213). Views into the fields.
    std::vector<FieldView> targeted;

    // Folds one header field in. Unknown fields are ignored.
    void add_field(std::string_view name, std::string_view value);

    template <FieldRange R> static ResponseInfo from_fields(int status, const R& fields) {
        ResponseInfo r;
        r.status = status;
        for (const auto& f : fields)
            r.add_field(std::string_view(f.name), std::string_view(f.value));
        return r;
    }
};

// What a route (and the global options) add to the origin's word. Seconds throughout.
struct FreshnessPolicy {
    // Route `ttl`: lifetime of responses that carry no freshness information; 0 = they are
    // not stored.
    int64_t ttl = 0;
    // Route `force_ttl`: `ttl` (or ttl_by_status) replaces whatever the origin said about the
    // lifetime. See evaluate() for what it does not override.
    bool force_ttl = false;
    // Route windows; the larger of these and the response's own directive applies.
    int64_t stale_while_revalidate = 0;
    int64_t stale_if_error = 0;
    // Route `ttl_by_status` (not owned; must outlive the evaluate() call; may be null).
    const std::map<int, int64_t>* ttl_by_status = nullptr;
    // `heuristic_freshness` and `heuristic_freshness_max`, the cap on a heuristic lifetime.
    bool heuristic_freshness = false;
    int64_t heuristic_max = 86400;
    // `targeted_cache_control`: the field aimed at this cache alone, first on the target list
    // before CDN-Cache-Control (RFC 9213 §2.2); empty = none.
    std::string targeted_field;
    // How long an entry that has a validator (ETag or Last-Modified) is kept past its stale
    // windows, so that a later request can revalidate it with a conditional request instead
    // of refetching (Varnish's "keep"). Also what makes `no-cache` + validator responses
    // worth storing at all.
    int64_t keep = 3600;
};

// Where an entry's freshness lifetime came from (for Cache-Status and debugging).
enum class LifetimeSource : uint8_t {
    none,       // not storable
    origin,     // s-maxage, max-age or Expires
    status_ttl, // route ttl_by_status
    route_ttl,  // route ttl, the response had no freshness information
    heuristic,  // RFC 9111 §4.2.2
    forced,     // route force_ttl
};

// The verdict on a response, stored with the entry. Plain data: the times are what
// current_age() and state_at() need later.
struct Freshness {
    // May be handed to other clients at all (coalesced waiters): not `no-store`, not
    // `private`, no Set-Cookie, no `Vary: *`, and Authorization allowed per §3.5.
    bool shareable = false;
    // May be stored. Implies shareable.
    bool storable = false;
    // Short static reason when !storable ("no-store", "private", "authorization",
    // "set-cookie", "vary-star", "request-no-store", "method", "status", "must-understand",
    // "no-freshness", "not-useful"); empty when storable.
    std::string_view why_not;

    LifetimeSource source = LifetimeSource::none;
    int64_t lifetime = 0;             // freshness lifetime (§4.2.1), clamped to kDeltaMax
    int64_t swr = 0;                  // stale-while-revalidate window; 0 when stale_forbidden
    int64_t sie = 0;                  // stale-if-error window; 0 when stale_forbidden
    bool revalidate_each_use = false; // `no-cache`: stored, but never used unvalidated
    bool stale_forbidden = false;     // must-revalidate/proxy-revalidate/s-maxage/no-cache
    bool immutable = false;           // RFC 8246
    bool has_validator = false;       // ETag or Last-Modified present
    int64_t keep = 0;                 // policy.keep when has_validator, else 0

    // §4.2.3 inputs and the derived initial age.
    int64_t request_time = 0;
    int64_t response_time = 0;
    int64_t corrected_initial_age = 0;
};

// The directives this cache obeys for `resp` (RFC 9213 §2.2): those of the first targeted field
// on the target list (policy.targeted_field, then CDN-Cache-Control) whose value is a valid,
// non-empty Dictionary — and then Cache-Control and Expires are ignored — else Cache-Control's.
// `scratch` holds a targeted field's directives; the result refers to it or to resp.cc.
// `*targeted` says which.
const CacheControl& governing_directives(const ResponseInfo& resp, const FreshnessPolicy& policy,
                                         CacheControl& scratch, bool* targeted = nullptr);

// The names of the fields a stored copy of `resp` must leave out, lower-cased: the field
// targeted at this cache (never passed on), and those the governing directives' qualified
// `private="..."` (§5.2.2.7: a shared cache MUST NOT store them) and `no-cache="..."`
// (§5.2.2.4: not to be sent without revalidation; this cache never sends them from store)
// name. Empty in the common case; allocates only when there is something to leave out.
std::vector<std::string> withheld_fields(const ResponseInfo& resp, const FreshnessPolicy& policy);

// Evaluates a response to `req` received at response_time for a request sent at
// request_time (unix seconds). The directives are governing_directives(); a targeted field
// that governs makes Expires count for nothing.
//
// Storability (§3, §3.5; SPEC "Cache proxy"), first failing check wins `why_not`:
//   no-store → private (unqualified; `private="f"` keeps only the named fields out, see
//   withheld_fields()) → Authorization without public/s-maxage/must-revalidate →
//   Set-Cookie (CDN behaviour: never shared, unless a qualified private or no-cache names it,
//   so that it is withheld from the stored copy) → Vary: * → [shareable from here] →
//   request no-store → method ≠ GET → status (1xx, 206, 304 never; others stored when
//   heuristically cacheable, with explicit freshness, or listed in ttl_by_status) →
//   must-understand with a status not understood → no lifetime → not useful (nothing left
//   to serve: lifetime and windows already used up and no validator to revalidate with).
//   `no-store` alongside `must-understand` is ignored when understood_status() (§5.2.2.3).
//
// Lifetime, in order:
//   force_ttl:   ttl_by_status[status] if listed, else `ttl` for heuristically cacheable
//                (or `public`) responses; other statuses fall through to the origin rules.
//                force_ttl overrides s-maxage, max-age, Expires and `no-cache` (the entry is
//                not revalidated on each use), but never no-store, private, Authorization,
//                Set-Cookie or Vary: *, and not the stale-forbidding must-revalidate,
//                proxy-revalidate and s-maxage.
//   explicit:    s-maxage > max-age > Expires − Date (§4.2.1). Expires is ignored when
//                max-age is present; an invalid Expires means already expired; a missing
//                Date means response_time. A present but invalid (non-digit, negative,
//                empty) or self-contradicting s-maxage/max-age makes the response stale
//                (lifetime 0), as §4.2.1 encourages; an overflowing one is 2^31. A bare
//                `no-cache` counts as explicit (lifetime 0): it is stored even when the
//                route's ttl is 0, as SPEC wants for no-cache.
//   status_ttl:  ttl_by_status[status], when the origin gave no explicit freshness.
//   route_ttl:   `ttl` when > 0, for heuristically cacheable (or `public`) responses.
//   heuristic:   when policy.heuristic_freshness and the status is heuristically cacheable
//                (or `public`) and Last-Modified is present: 10% of (Date − Last-Modified),
//                at most policy.heuristic_max.
//   otherwise:   not stored ("no-freshness").
//
// Stale windows: swr = max(response stale-while-revalidate, route), sie likewise; both 0
// when must-revalidate, proxy-revalidate, s-maxage (§5.2.2.10: implies proxy-revalidate) or
// no-cache (unless forced) is present. Invalid window directives are ignored; duplicates
// take the smallest value.
//
// `no-cache` (unqualified): stored, revalidate_each_use. `no-cache="f"` leaves the response
// reusable and withholds the named fields from the stored copy (withheld_fields()).
Freshness evaluate(const RequestInfo& req, const ResponseInfo& resp, const FreshnessPolicy& policy,
                   int64_t request_time, int64_t response_time);

// §4.2.3 corrected_initial_age = max(apparent_age, age_value + response_delay), where
// apparent_age = max(0, response_time − date) and response_delay = response_time −
// request_time (negative deltas count as 0). `date` nullopt = response_time.
int64_t corrected_initial_age(std::optional<int64_t> date, int64_t age_value, int64_t request_time,
                              int64_t response_time);

// §4.2.3 current_age = corrected_initial_age + (now − response_time); a clock that went
// backwards adds nothing. This is the `Age` the proxy sends.
int64_t current_age(const Freshness& f, int64_t now);

// Unix time at which the entry stops being fresh (response_time − initial age + lifetime).
int64_t fresh_until(const Freshness& f);

// Unix time after which the stored record is of no more use and may be deleted:
// fresh_until + max(swr, sie) + keep (keep only when there is a validator).
int64_t retain_until(const Freshness& f);

// Where a stored entry stands at `now`. Windows are half-open: fresh while
// current_age < lifetime (§4.2), then stale_while_revalidate while age < lifetime + swr,
// then stale_if_error_only while age < lifetime + sie, then expired.
// revalidate_each_use entries are always `expired`.
enum class State : uint8_t { fresh, stale_while_revalidate, stale_if_error_only, expired };
State state_at(const Freshness& f, int64_t now);

// Stable names for debug lines: "origin", "route_ttl", ... and "fresh", "expired", ...
const char* lifetime_source_name(LifetimeSource s);
const char* state_name(State s);

// True when the entry may be served because the origin failed (refused, timeout, reset,
// 5xx) at `now`: fresh, or stale within stale-if-error (or stale-while-revalidate, which
// permits serving without validation anyway). Never for revalidate_each_use entries.
bool usable_on_error(const Freshness& f, int64_t now);

// How a lookup may use a stored entry, given the client's request directives.
enum class Reuse : uint8_t {
    serve,       // fresh: answer from the cache
    serve_stale, // inside stale-while-revalidate: answer now, revalidate in the background
    revalidate,  // ask the origin (conditionally) before answering
};

// Combines state_at() with the client's request directives. The client's `no-cache`
// (or Pragma: no-cache), `max-age` and `min-fresh` are honoured only when
// `honor_client_no_cache`; then no-cache and max-age=N (current_age > N) force revalidation,
// and min-fresh=N forces it when less than N seconds of freshness remain; they never
// shorten an `immutable` fresh entry (RFC 8246). `max-stale` is not honoured: the cache serves
// stale only within the windows the origin or route granted. `only-if-cached` and request
// `no-store` are left to the caller (cc.only_if_cached: answer 504 instead of going to the
// origin; cc.no_store: don't store what comes back).
Reuse decide_reuse(const Freshness& f, const CacheControl& request_cc, int64_t now,
                   bool honor_client_no_cache);

} // namespace ec::cache
