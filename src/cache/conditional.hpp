// Validators and conditional requests: entity-tags, client preconditions (RFC 9110 §13),
// the cache's own revalidation request and the 304 header update (RFC 9111 §4.3).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "cache/fields.hpp"

namespace ec::cache {

// One entity-tag (RFC 9110 §8.8.3). `opaque` includes the quotes, as compared.
struct EntityTag {
    bool weak = false;
    std::string_view opaque;
};

// Parses a single entity-tag (`"x"` or `W/"x"`, surrounding OWS allowed). An unquoted value
// (seen from some origins) is accepted as a strong tag whose opaque part is the raw text, so
// it still matches itself. nullopt for an empty value.
std::optional<EntityTag> parse_entity_tag(std::string_view s);

// RFC 9110 §8.8.3.2 comparisons.
bool strong_match(const EntityTag& a, const EntityTag& b);
bool weak_match(const EntityTag& a, const EntityTag& b);

// True when the If-None-Match / If-Match style list `list` ("*" or entity-tags separated by
// commas; commas inside quotes do not split) contains a tag matching `current`, weakly or
// strongly. "*" matches any current representation. A malformed member is skipped.
bool etag_list_matches(std::string_view list, const EntityTag& current, bool weak);

// The validators of a stored response.
struct Validators {
    std::string_view etag;                // raw ETag value; empty when none
    std::optional<int64_t> last_modified; // valid Last-Modified
    std::optional<int64_t> date;          // valid Date
    int64_t response_time = 0;            // when the cache received it (for a missing Date)

    template <FieldRange R> static Validators from_fields(const R& fields, int64_t response_time) {
        Validators v;
        v.response_time = response_time;
        if (auto e = find_field(fields, "etag")) v.etag = trim_ows(*e);
        if (auto lm = find_field(fields, "last-modified")) v.last_modified = parse_date(*lm);
        if (auto d = find_field(fields, "date")) v.date = parse_date(*d);
        return v;
    }

    // Last-Modified is a strong validator when Date is at least one second later
    // (RFC 9110 §8.8.2.2).
    bool last_modified_is_strong() const {
        return last_modified && date && *date - *last_modified >= 1;
    }

private:
    static std::optional<int64_t> parse_date(std::string_view s);
};

// How a cache answers a client's conditional GET/HEAD from a stored response.
enum class Precondition : uint8_t {
    none,         // no applicable precondition: answer normally (200 / 206)
    not_modified, // answer 304 (headers for it: keep_in_304)
    false_,       // preconditions present but false: answer normally (200)
    forward,      // If-Match / If-Unmodified-Since: not for a cache (RFC 9111 §4.3.2)
};

// If-Modified-Since alone against a stored response (RFC 9111 §4.3.2): not_modified when
// the stored Last-Modified — or its Date, or the time it was received when neither is
// present — is not later than the given date; false_ when it is; none when `value` is not a
// valid HTTP-date (RFC 9110 §13.1.3: the field is then ignored).
Precondition evaluate_if_modified_since(std::string_view value, const Validators& stored);

// Evaluates the preconditions of a GET or HEAD request against a stored response
// (RFC 9110 §13.2.2 as RFC 9111 §4.3.2 applies it to caches):
//  - If-Match or If-Unmodified-Since present → forward: they only apply to the origin.
//  - If-None-Match (every line): weak comparison, "*" matches → not_modified, else false_.
//  - Else If-Modified-Since as evaluate_if_modified_since().
//  - Else none.
// Call only for GET/HEAD: other methods never reach the cache with preconditions.
template <FieldRange R>
Precondition evaluate_preconditions(const R& request_fields, const Validators& stored) {
    bool origin_only = false, has_inm = false, inm_match = false;
    std::optional<std::string_view> ims;
    auto current = parse_entity_tag(stored.etag);
    for (const auto& f : request_fields) {
        std::string_view n(f.name), v(f.value);
        if (iequals(n, "if-match") || iequals(n, "if-unmodified-since")) {
            origin_only = true;
        } else if (iequals(n, "if-none-match")) {
            has_inm = true;
            // Each line is a list of its own; a match on any line is a match of the whole.
            bool star = trim_ows(v) == "*";
            if (star || (current && etag_list_matches(v, *current, true))) inm_match = true;
        } else if (iequals(n, "if-modified-since")) {
            if (!ims) ims = v;
        }
    }
    if (origin_only) return Precondition::forward;
    if (has_inm) return inm_match ? Precondition::not_modified : Precondition::false_;
    return ims ? evaluate_if_modified_since(*ims, stored) : Precondition::none;
}

// True for the fields a 304 carries from the stored response (RFC 9110 §15.4.5):
// Cache-Control, Content-Location, Date, ETag, Expires, Vary, and Last-Modified (useful to
// caches downstream when there is no ETag).
bool keep_in_304(std::string_view name);

// The conditional fields for revalidating a stored response with the origin (RFC 9111
// §4.3.1): If-None-Match with the stored ETag, and If-Modified-Since with the stored
// Last-Modified (sent too when there is an ETag: some origins only check dates). Empty
// strings when the stored response has no such validator.
struct RevalidationFields {
    std::string if_none_match;
    std::string if_modified_since;
};
template <FieldRange R> RevalidationFields revalidation_fields(const R& stored_fields) {
    RevalidationFields r;
    if (auto e = find_field(stored_fields, "etag")) r.if_none_match = trim_ows(*e);
    if (auto lm = find_field(stored_fields, "last-modified")) r.if_modified_since = trim_ows(*lm);
    return r;
}

// Whether a 304 received while revalidating may freshen the stored response (RFC 9111
// §4.3.4): with an ETag in the 304, it must match the stored one (strongly when both are
// strong, else weakly); else with a Last-Modified, it must equal the stored one; with no
// validator at all the 304 answers our own conditional request for this one response and is
// accepted (stricter readings make origins that omit validators from 304s refetch forever).
bool freshening_applies(const Validators& stored, const Validators& not_modified);

// RFC 9111 §3.2 / §4.3.4: the stored header list updated from a 304's fields. Each field
// name the 304 carries replaces every stored line of that name (at the position of the
// first, the others dropped; new names appended in the 304's order), except Content-Length,
// hop-by-hop and §3.1 unstorable fields, and fields named by the 304's Connection.
// Everything else is kept as stored.
FieldList merge_304_lines(const FieldList& stored, const FieldList& not_modified);

template <FieldRange R> FieldList merge_304(const FieldList& stored, const R& not_modified) {
    FieldList nm;
    for (const auto& f : not_modified)
        nm.push_back(
            Field{std::string(std::string_view(f.name)), std::string(std::string_view(f.value))});
    return merge_304_lines(stored, nm);
}

} // namespace ec::cache
