// Cache-Control parsing (RFC 9111 §5.2, RFC 5861, RFC 8246) for requests and responses.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ec::cache {

// RFC 9111 §1.2.2: a delta-seconds too large to represent is taken as 2^31; so is any sum
// that would overflow. Every lifetime, window and age in this module is clamped to it.
inline constexpr int64_t kDeltaMax = int64_t{1} << 31;

// Adds two non-negative durations, saturating at kDeltaMax.
inline int64_t delta_add(int64_t a, int64_t b) {
    int64_t s = a + b; // both are ≤ 2^31, so the sum cannot overflow int64
    return s > kDeltaMax ? kDeltaMax : s;
}

// One delta-seconds directive (max-age=60) as received, over every Cache-Control line.
//  - present:     the directive appeared at least once (with or without an argument).
//  - valid:       at least one occurrence had a well-formed argument (1*DIGIT, token or
//                 quoted); `value` is the first such argument, clamped to kDeltaMax.
//  - invalid:     some occurrence had no argument, an empty one, a sign or any non-digit.
//  - conflicting: two valid occurrences disagree; `smallest` is the least valid value.
// What an invalid or conflicting directive means depends on the directive; freshness.hpp
// decides (and documents) it, this struct only records what was seen.
struct DeltaDirective {
    bool present = false;
    bool valid = false;
    bool invalid = false;
    bool conflicting = false;
    int64_t value = 0;
    int64_t smallest = 0;

    // The value when present, valid and unambiguous.
    bool clean() const { return present && valid && !invalid && !conflicting; }
};

// The directives of one message's Cache-Control field lines (request or response; the
// grammar is shared and a directive meaningless in one direction is simply not consulted).
//
// Parsing rules:
//  - All field lines of the message are fed to add(), in order: the result is that of the
//    combined value (RFC 9110 §5.3).
//  - Directive names are case-insensitive; unknown directives (extensions) are ignored.
//  - Arguments may be tokens or quoted strings (a recipient ought to accept both, even for
//    delta-seconds); commas inside quotes do not split directives; backslash escapes are
//    honoured for finding the closing quote.
//  - Flag directives that got an argument (`no-store=1`) still count: they are restrictive,
//    and honouring them is the safe reading.
//  - `no-cache` and `private` qualified with field names (`no-cache="Set-Cookie"`) collect
//    the names in `no_cache_fields` / `private_fields` and leave the flag alone: they limit
//    those fields only (RFC 9111 §5.2.2.4, §5.2.2.7). An empty or unterminated list counts
//    as the unqualified directive, the restrictive reading.
//  - `max-stale` without an argument means "any staleness": value = kDeltaMax, valid.
//  - A malformed element (a name that is not a token) is skipped up to the next comma that
//    is not inside quotes; the rest of the line is still parsed.
struct CacheControl {
    // Response directives (RFC 9111 §5.2.2, RFC 5861, RFC 8246).
    bool no_store = false;
    bool no_cache = false;       // unqualified (also the only request form)
    std::string no_cache_fields; // names from no-cache="a, b" directives, joined by ", "
    bool private_ = false;       // unqualified
    std::string private_fields;  // names from private="a, b" directives, joined by ", "
    bool public_ = false;
    bool must_revalidate = false;
    bool proxy_revalidate = false;
    bool must_understand = false;
    bool no_transform = false;
    bool immutable = false;
    DeltaDirective max_age;
    DeltaDirective s_maxage;
    DeltaDirective stale_while_revalidate;
    DeltaDirective stale_if_error; // also a request directive (RFC 5861 §4)

    // Request-only directives (RFC 9111 §5.2.1). no_cache, no_store and max_age above are
    // shared with responses.
    DeltaDirective max_stale;
    DeltaDirective min_fresh;
    bool only_if_cached = false;

    // True once any directive (known or not) has been seen.
    bool any = false;

    // True when a qualified no-cache or private directive names `field` (case-insensitive).
    bool names_field(std::string_view field) const;

    // Parses one Cache-Control field line and merges it into this object. Never fails:
    // malformed parts are skipped as described above.
    void add(std::string_view field_line);

    // Convenience: the directives of a single field line.
    static CacheControl parse(std::string_view field_line) {
        CacheControl cc;
        cc.add(field_line);
        return cc;
    }
};

// Parses a delta-seconds argument (RFC 9111 §1.2.2): 1*DIGIT, clamped to kDeltaMax.
// Returns -1 for anything else (empty, signs, spaces, other characters).
int64_t parse_delta_seconds(std::string_view s);

} // namespace ec::cache
