// Cache-Control parsing: a small scanner over `#( token [ "=" ( token / quoted-string ) ] )`.
#include "cache/cache_control.hpp"

#include "util/strings.hpp"

namespace ec::cache {

int64_t parse_delta_seconds(std::string_view s) {
    if (s.empty()) return -1;
    int64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return -1;
        if (v < kDeltaMax) v = v * 10 + (c - '0'); // stops growing once past 2^31
    }
    return v > kDeltaMax ? kDeltaMax : v;
}

namespace {

bool is_ows(char c) {
    return c == ' ' || c == '\t';
}

// Scans one directive starting at `i` (just past any separators). On return `i` is at the
// comma ending the element or at the end.
struct Element {
    std::string_view name;
    std::string_view arg; // without quotes when quoted
    bool has_arg = false;
    bool unterminated = false; // a quoted argument without its closing quote
    bool malformed = false;
};

// Skips to the next comma that is not inside a quoted string.
size_t skip_to_comma(std::string_view s, size_t i) {
    bool quoted = false;
    for (; i < s.size(); ++i) {
        char c = s[i];
        if (quoted) {
            if (c == '\\')
                ++i;
            else if (c == '"')
                quoted = false;
        } else if (c == '"') {
            quoted = true;
        } else if (c == ',') {
            break;
        }
    }
    return i;
}

Element scan(std::string_view s, size_t& i) {
    Element e;
    size_t start = i;
    while (i < s.size() && is_tchar(static_cast<unsigned char>(s[i])))
        ++i;
    e.name = s.substr(start, i - start);
    while (i < s.size() && is_ows(s[i]))
        ++i;
    if (e.name.empty()) {
        e.malformed = true;
        i = skip_to_comma(s, i);
        return e;
    }
    if (i < s.size() && s[i] == '=') {
        e.has_arg = true;
        ++i;
        while (i < s.size() && is_ows(s[i])) // BWS is not in the grammar; tolerate it
            ++i;
        if (i < s.size() && s[i] == '"') {
            size_t open = ++i;
            while (i < s.size() && s[i] != '"') {
                if (s[i] == '\\' && i + 1 < s.size()) ++i;
                ++i;
            }
            e.arg = s.substr(open, i - open);
            if (i < s.size())
                ++i; // closing quote
            else
                e.unterminated = true; // runs to the end
        } else {
            size_t a = i;
            while (i < s.size() && is_tchar(static_cast<unsigned char>(s[i])))
                ++i;
            e.arg = s.substr(a, i - a);
            // A sign or other junk inside the argument ("max-age=-1", "max-age=1.5") makes
            // it invalid; keep the raw text so the delta parse rejects it.
            size_t end = skip_to_comma(s, i);
            if (end > i) e.arg = trim_ows(s.substr(a, end - a));
            i = end;
        }
    }
    // Anything else before the comma ("no-store junk") is ignored; the directive stands.
    i = skip_to_comma(s, i);
    return e;
}

void note_delta(DeltaDirective& d, const Element& e) {
    d.present = true;
    int64_t v = e.has_arg ? parse_delta_seconds(e.arg) : -1;
    if (v < 0) {
        d.invalid = true;
        return;
    }
    if (!d.valid) {
        d.valid = true;
        d.value = d.smallest = v;
        return;
    }
    if (d.value != v) d.conflicting = true;
    if (v < d.smallest) d.smallest = v;
}

// A qualified no-cache / private: the field names are collected; an empty or unterminated list
// (or none at all) is the unqualified directive.
void note_field_list(bool& unqualified, std::string& fields, const Element& e) {
    bool listed = false;
    if (e.has_arg && !e.unterminated)
        for_each_list_item(e.arg, [&](std::string_view name) {
            if (!is_token(name)) return;
            if (!fields.empty()) fields += ", ";
            fields += name;
            listed = true;
        });
    if (!listed) unqualified = true;
}

} // namespace

bool CacheControl::names_field(std::string_view field) const {
    bool named = false;
    for (const std::string* list : {&no_cache_fields, &private_fields})
        for_each_list_item(*list,
                           [&](std::string_view item) { named = named || iequals(item, field); });
    return named;
}

void CacheControl::add(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && (is_ows(s[i]) || s[i] == ','))
            ++i;
        if (i >= s.size()) break;
        Element e = scan(s, i);
        if (e.malformed) continue;
        any = true;
        std::string_view n = e.name;
        if (iequals(n, "no-store")) {
            no_store = true;
        } else if (iequals(n, "no-cache")) {
            note_field_list(no_cache, no_cache_fields, e);
        } else if (iequals(n, "private")) {
            note_field_list(private_, private_fields, e);
        } else if (iequals(n, "public")) {
            public_ = true;
        } else if (iequals(n, "must-revalidate")) {
            must_revalidate = true;
        } else if (iequals(n, "proxy-revalidate")) {
            proxy_revalidate = true;
        } else if (iequals(n, "must-understand")) {
            must_understand = true;
        } else if (iequals(n, "no-transform")) {
            no_transform = true;
        } else if (iequals(n, "immutable")) {
            immutable = true;
        } else if (iequals(n, "only-if-cached")) {
            only_if_cached = true;
        } else if (iequals(n, "max-age")) {
            note_delta(max_age, e);
        } else if (iequals(n, "s-maxage")) {
            note_delta(s_maxage, e);
        } else if (iequals(n, "stale-while-revalidate")) {
            note_delta(stale_while_revalidate, e);
        } else if (iequals(n, "stale-if-error")) {
            note_delta(stale_if_error, e);
        } else if (iequals(n, "min-fresh")) {
            note_delta(min_fresh, e);
        } else if (iequals(n, "max-stale")) {
            if (!e.has_arg) {
                // Bare max-stale: the client accepts a response of any staleness.
                Element any_staleness = e;
                any_staleness.has_arg = true;
                any_staleness.arg = "2147483648";
                note_delta(max_stale, any_staleness);
            } else {
                note_delta(max_stale, e);
            }
        }
    }
}

} // namespace ec::cache
