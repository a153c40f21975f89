// Entity-tag comparison, client preconditions, revalidation and the 304 update: see
// conditional.hpp.
#include "cache/conditional.hpp"

#include "util/time_format.hpp"

namespace ec::cache {

std::optional<int64_t> Validators::parse_date(std::string_view s) {
    return parse_http_date(trim_ows(s));
}

std::optional<EntityTag> parse_entity_tag(std::string_view s) {
    s = trim_ows(s);
    if (s.empty()) return std::nullopt;
    EntityTag t;
    if (s.size() >= 2 && s[0] == 'W' && s[1] == '/') {
        t.weak = true;
        s.remove_prefix(2);
    }
    t.opaque = s;
    return t;
}

bool strong_match(const EntityTag& a, const EntityTag& b) {
    return !a.weak && !b.weak && a.opaque == b.opaque;
}

bool weak_match(const EntityTag& a, const EntityTag& b) {
    return a.opaque == b.opaque;
}

bool etag_list_matches(std::string_view list, const EntityTag& current, bool weak) {
    size_t i = 0;
    while (i < list.size()) {
        while (i < list.size() && (list[i] == ' ' || list[i] == '\t' || list[i] == ','))
            ++i;
        if (i >= list.size()) break;
        size_t start = i;
        if (list.compare(i, 2, "W/") == 0) i += 2;
        if (i < list.size() && list[i] == '"') {
            // Quoted opaque-tag: may contain commas; runs to the next quote.
            size_t close = list.find('"', i + 1);
            i = close == std::string_view::npos ? list.size() : close + 1;
        }
        // Unquoted (lenient) tags, or junk after the quote, run to the next comma.
        while (i < list.size() && list[i] != ',')
            ++i;
        std::string_view member = trim_ows(list.substr(start, i - start));
        if (member == "*") return true;
        auto tag = parse_entity_tag(member);
        if (tag && (weak ? weak_match(*tag, current) : strong_match(*tag, current))) return true;
    }
    return false;
}

Precondition evaluate_if_modified_since(std::string_view value, const Validators& stored) {
    auto since = parse_http_date(trim_ows(value));
    if (!since) return Precondition::none;
    int64_t modified = stored.last_modified ? *stored.last_modified
                       : stored.date        ? *stored.date
                                            : stored.response_time;
    return modified <= *since ? Precondition::not_modified : Precondition::false_;
}

bool keep_in_304(std::string_view name) {
    return iequals(name, "cache-control") || iequals(name, "content-location") ||
           iequals(name, "date") || iequals(name, "etag") || iequals(name, "expires") ||
           iequals(name, "vary") || iequals(name, "last-modified");
}

bool freshening_applies(const Validators& stored, const Validators& nm) {
    if (!nm.etag.empty()) {
        auto a = parse_entity_tag(stored.etag);
        auto b = parse_entity_tag(nm.etag);
        if (!a || !b) return false;
        return (!a->weak && !b->weak) ? strong_match(*a, *b) : weak_match(*a, *b);
    }
    if (nm.last_modified) return stored.last_modified == nm.last_modified;
    return true;
}

FieldList merge_304_lines(const FieldList& stored, const FieldList& nm) {
    auto excluded = [&](std::string_view name) {
        if (iequals(name, "content-length") || is_unstorable(name)) return true;
        for (const Field& f : nm)
            if (iequals(f.name, "connection") && listed_in_connection(f.value, name)) return true;
        return false;
    };
    auto in_304 = [&](std::string_view name) {
        if (excluded(name)) return false;
        for (const Field& f : nm)
            if (iequals(f.name, name)) return true;
        return false;
    };

    FieldList out;
    out.reserve(stored.size() + nm.size());
    std::vector<bool> placed(nm.size(), false);
    for (const Field& s : stored) {
        if (!in_304(s.name)) {
            out.push_back(s);
            continue;
        }
        // Replace at the first stored line of this name; drop the later ones.
        bool first = true;
        for (const Field& o : out)
            if (iequals(o.name, s.name)) first = false;
        if (!first) continue;
        for (size_t j = 0; j < nm.size(); ++j)
            if (!placed[j] && iequals(nm[j].name, s.name)) {
                out.push_back(nm[j]);
                placed[j] = true;
            }
    }
    for (size_t j = 0; j < nm.size(); ++j)
        if (!placed[j] && !excluded(nm[j].name)) out.push_back(nm[j]);
    return out;
}

} // namespace ec::cache
