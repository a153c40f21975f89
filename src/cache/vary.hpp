// Vary (RFC 9110 §12.5.5, RFC 9111 §4.1): the request fields a stored response is keyed on.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cache/fields.hpp"

namespace ec::cache {

// A response's Vary, over all its field lines.
struct VaryInfo {
    // `*` was listed, or a member that is not a field name (token): the response must never
    // be reused for another request (SPEC: never stored).
    bool star = false;
    // Field names, lower-cased, sorted, without duplicates. Filled also when `star`.
    std::vector<std::string> names;

    // Folds one Vary field line in (keeps `names` sorted and unique).
    void add(std::string_view field_line);

    template <FieldRange R> static VaryInfo from_fields(const R& response_fields) {
        VaryInfo v;
        for_each_field(response_fields, "vary", [&](std::string_view line) { v.add(line); });
        return v;
    }
};

// True when a Vary field line lists `*` or a member that is not a token.
bool vary_has_star(std::string_view field_line);

// Accept-Encoding (RFC 9110 §12.5.3) reduced to the set of content codings a cache is likely
// to see an origin choose: br, deflate, gzip (x-gzip), zstd. A coding counts when listed
// with q > 0, or when `*` is listed with q > 0 and the coding is not listed itself. A
// malformed qvalue counts as acceptable (erring towards "accepted" is the safe side: an
// origin that disagrees answers with a coding every client of the class accepts anyway).
// Other codings are ignored.
//
// The class is the comma-joined sorted set, or "identity" when empty:
//   Chrome "gzip, deflate, br, zstd" → "br,deflate,gzip,zstd"
//   Safari "gzip, deflate, br"       → "br,deflate,gzip"
//   "gzip;q=0, identity"             → "identity"
// Using the set rather than "the best one" keeps the key safe when the origin prefers a
// coding one client of a class would not accept (zstd vs br). Two clients share a variant
// only if they accept exactly the same of these codings.
class AcceptEncoding {
public:
    void add(std::string_view field_line);
    std::string_view class_name() const;
    uint8_t bits() const;

    static std::string_view classify(std::string_view field_line) {
        AcceptEncoding a;
        a.add(field_line);
        return a.class_name();
    }

private:
    uint8_t listed_ = 0;   // codings named explicitly (any q)
    uint8_t accepted_ = 0; // codings named with q > 0
    bool star_ = false;    // `*` with q > 0
};

// The q-weighted, case-insensitive list fields whose values normalize_list_field() rewrites.
inline constexpr std::array<std::string_view, 3> kNormalizedListFields = {
    "Accept", "Accept-Charset", "Accept-Language"};
// The index of `name` (any case) in kNormalizedListFields, or -1.
int normalized_list_field(std::string_view name);

// The normal form of an Accept, Accept-Charset or Accept-Language value (its field lines
// joined with ","), RFC 9111 §4.1's "normalizing both header field values in a way that is
// known to have identical semantics": members split on commas outside quoted strings, empty
// ones dropped, whitespace removed around `;` and `=`, the value (media range, charset,
// language tag) and parameter names lower-cased, `q` rewritten in its shortest form and
// left out when 1, then members sorted by q descending and, for equal q, by their text
// (the order of equally weighted members carries no meaning). Examples:
//   "en-US, en;q=0.9"       → "en-us,en;q=0.9"
//   "EN;q=0.90 ,en-us"      → "en-us,en;q=0.9"
//   "text/html, */*;q=0.8, application/xml" → "application/xml,text/html,*/*;q=0.8"
// A malformed q is kept as written (and sorts as q=1), so it matches only itself.
std::string normalize_list_field(std::string_view value);

// Appends the secondary key of a request for a response that varies on `vary.names`:
// for each name in order, "name=value\n" where value is the request's field lines trimmed
// and joined with ", " (Accept-Encoding: its class; Accept, Accept-Charset and
// Accept-Language: normalize_list_field()), or "name\n" when the request lacks the field
// (absent and empty are different requests). Appends nothing for an empty Vary.
// Callers must not reuse a response whose Vary has `star`.
template <FieldRange R>
void append_vary_key(std::string& out, const VaryInfo& vary, const R& request_fields) {
    for (const std::string& name : vary.names) {
        out += name;
        bool seen = false;
        if (normalized_list_field(name) >= 0) {
            std::string joined;
            for_each_field(request_fields, name, [&](std::string_view line) {
                if (seen) joined += ',';
                seen = true;
                joined += line;
            });
            if (seen) {
                out += '=';
                out += normalize_list_field(joined);
            }
        } else if (name == "accept-encoding") {
            AcceptEncoding ae;
            for_each_field(request_fields, name, [&](std::string_view line) {
                seen = true;
                ae.add(line);
            });
            if (seen) {
                out += '=';
                out += ae.class_name();
            }
        } else {
            for_each_field(request_fields, name, [&](std::string_view line) {
                out += seen ? ", " : "=";
                seen = true;
                out += trim_ows(line);
            });
        }
        out += '\n';
    }
}

} // namespace ec::cache
