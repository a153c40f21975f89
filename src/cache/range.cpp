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

std::optional<ByteRangeSpec> parse_single_range(std::string_view range) {
    std::string_view r = trim_ows(range);
    size_t eq = r.find('=');
    if (eq == std::string_view::npos || !iequals(trim_ows(r.substr(0, eq)), "bytes"))
        return std::nullopt;
    std::string_view spec;
    size_t count = 0;
    for_each_list_item(r.substr(eq + 1), [&](std::string_view item) {
        if (count++ == 0) spec = item;
    });
    if (count != 1) return std::nullopt; // none (malformed) or several

    size_t dash = spec.find('-');
    if (dash == std::string_view::npos) return std::nullopt;
    std::string_view first_s = spec.substr(0, dash), last_s = spec.substr(dash + 1);
    ByteRangeSpec out;
    if (first_s.empty()) {
        out.suffix = parse_u64(last_s);
        if (!out.suffix) return std::nullopt;
        return out;
    }
    auto f = parse_u64(first_s);
    if (!f) return std::nullopt;
    out.first = *f;
    if (!last_s.empty()) {
        out.last = parse_u64(last_s);
        if (!out.last || *out.last < out.first) return std::nullopt;
    }
    return out;
}

std::string range_field(const ByteRangeSpec& spec) {
    std::string s = "bytes=";
    if (spec.suffix) {
        s += '-';
        append_u64(s, *spec.suffix);
        return s;
    }
    append_u64(s, spec.first);
    s += '-';
    if (spec.last) append_u64(s, *spec.last);
    return s;
}

RangeAnswer evaluate_range(std::optional<std::string_view> range,
                           std::optional<std::string_view> if_range, uint64_t length,
                           const Validators& stored) {
    RangeAnswer a;
    if (!range) return a;
    auto spec = parse_single_range(*range);
    if (!spec) return a; // malformed, another unit or several: the whole representation
    if (if_range && !if_range_holds(*if_range, stored)) return a;
    uint64_t first = 0, last = 0;
    if (spec->suffix) {
        if (*spec->suffix == 0 || length == 0) {
            a.kind = RangeAnswer::Kind::unsatisfiable;
            a.content_range = unsatisfied(length);
            return a;
        }
        first = *spec->suffix >= length ? 0 : length - *spec->suffix;
        last = length - 1;
    } else {
        if (spec->first >= length) {
            a.kind = RangeAnswer::Kind::unsatisfiable;
            a.content_range = unsatisfied(length);
            return a;
        }
        first = spec->first;
        last = (!spec->last || *spec->last >= length) ? length - 1 : *spec->last;
    }
    a.kind = RangeAnswer::Kind::partial;
    a.first = first;
    a.last = last;
    a.content_range = content_range(first, last, length);
    return a;
}

std::string content_range(uint64_t first, uint64_t last, uint64_t length) {
    std::string s = "bytes ";
    append_u64(s, first);
    s += '-';
    append_u64(s, last);
    s += '/';
    append_u64(s, length);
    return s;
}

} // namespace ec::cache
