// Single byte-range evaluation with If-Range: see range.hpp.
#include "cache/range.hpp"

#include "util/time_format.hpp"

namespace ec::cache {

namespace {

bool if_range_holds(std::string_view v, const Validators& stored) {
    v = trim_ows(v);
    // §13.1.5: an entity-tag starts with DQUOTE (or W/"), anything else is a date.
    if (!v.empty() && (v[0] == '"' || (v.size() >= 3 && v.substr(0, 2) == "W/"))) {
        auto want = parse_entity_tag(v);
        auto have = parse_entity_tag(stored.etag);
        return want && have && strong_match(*want, *have);
    }
    auto date = parse_http_date(v);
    return date && stored.last_modified == date && stored.last_modified_is_strong();
}

std::string unsatisfied(uint64_t length) {
    std::string s = "bytes */";
    append_u64(s, length);
    return s;
}

} // namespace

RangeAnswer evaluate_range(std::optional<std::string_view> range,
                           std::optional<std::string_view> if_range, uint64_t length,
                           const Validators& stored) {
    RangeAnswer a;
    if (!range) return a;
    std::string_view r = trim_ows(*range);
    size_t eq = r.find('=');
    if (eq == std::string_view::npos || !iequals(trim_ows(r.substr(0, eq)), "bytes")) return a;

    std::string_view spec;
    size_t count = 0;
    for_each_list_item(r.substr(eq + 1), [&](std::string_view item) {
        if (count++ == 0) spec = item;
    });
    if (count != 1) return a; // none (malformed) or several: the whole representation

    size_t dash = spec.find('-');
    if (dash == std::string_view::npos) return a;
    std::string_view first_s = spec.substr(0, dash), last_s = spec.substr(dash + 1);
    uint64_t first = 0, last = 0;
    if (first_s.empty()) {
        auto suffix = parse_u64(last_s);
        if (!suffix) return a;
        if (if_range && !if_range_holds(*if_range, stored)) return a;
        if (*suffix == 0 || length == 0) {
            a.kind = RangeAnswer::Kind::unsatisfiable;
            a.content_range = unsatisfied(length);
            return a;
        }
        first = *suffix >= length ? 0 : length - *suffix;
        last = length - 1;
    } else {
        auto f = parse_u64(first_s);
        if (!f) return a;
        std::optional<uint64_t> l;
        if (!last_s.empty()) {
            l = parse_u64(last_s);
            if (!l || *l < *f) return a;
        }
        if (if_range && !if_range_holds(*if_range, stored)) return a;
        if (*f >= length) {
            a.kind = RangeAnswer::Kind::unsatisfiable;
            a.content_range = unsatisfied(length);
            return a;
        }
        first = *f;
        last = (!l || *l >= length) ? length - 1 : *l;
    }
    a.kind = RangeAnswer::Kind::partial;
    a.first = first;
    a.last = last;
    a.content_range = "bytes ";
    append_u64(a.content_range, first);
    a.content_range += '-';
    append_u64(a.content_range, last);
    a.content_range += '/';
    append_u64(a.content_range, length);
    return a;
}

} // namespace ec::cache
