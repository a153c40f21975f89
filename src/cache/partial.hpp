// Partial content (RFC 9111 §3.3, §3.4): 206 responses kept as part sets, ranges answered from
// them, parts combined into the complete response once they cover it.
//
// Design
//  - Where. A part set is an ordinary cache record at the key the complete response would
//    have (the variant's key), payload kind 'P' (entry.hpp): the newest part's header block
//    (without Content-Range), freshness and tags, the representation's length, the spans held
//    and their bytes. One record per key, so: a complete response stored later simply replaces
//    the parts; purge, invalidation, tags, expiry and eviction treat the set as any entry; the
//    store's per-kind tally counts it as one cache record of its size (no new kind of record);
//    the hot tier holds it by its charge like any entry, within hot_object_max.
//  - When. A GET with one byte range and no If-Range, on a key with no complete response to
//    answer from, is forwarded with that Range (proxy.cpp; the fill's slot is the key plus the
//    range, so only requests for the same range coalesce on it). Its 206 is kept when it is
//    one part — `Content-Range: bytes first-last/length` with a known length, the body exactly
//    that span — and the response is otherwise storable, its freshness worked out as for the
//    200 it is part of. The bounds are an entry's: max_object_size for the part, and for the
//    set it joins.
//  - Combining, inside the write transaction (two fills of one key never lose a part): the
//    stored set and a new part combine only when both carry the same strong validator (a
//    strong ETag, else a strong Last-Modified) and the same length; otherwise the new part
//    replaces the set, never mixes with it. The newest part's header block, freshness and tags
//    win (§3.4). A set covering [0, length) is stored as the complete 200. A set that would
//    outgrow max_object_size is replaced by the new part. A complete response stored with the
//    same validator is kept as it is (it holds every part already).
//  - Answering. A fresh set answers a range it holds entirely (206 cut from the stored bytes,
//    no copy) and a range past the end (416: the length is known). Anything else is a miss
//    (§3.3: an incomplete response answers only requests inside it). A stale set is neither
//    served nor revalidated: the next fetch of a part extends or replaces it.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cache/conditional.hpp"
#include "cache/entry.hpp"
#include "cache/range.hpp"

namespace ec::cache {

// A single-part 206's Content-Range, `bytes first-last/length` with a known length and
// first ≤ last < length. nullopt for anything else (`*` length, unsatisfied form, other unit).
struct ContentRange {
    uint64_t first = 0;
    uint64_t last = 0; // inclusive
    uint64_t length = 0;
};
std::optional<ContentRange> parse_content_range(std::string_view value);

// ---- part-set arithmetic (spans sorted, disjoint, not adjacent) ----

// `spans` with `add` joined in: overlapping and adjacent spans become one.
std::vector<ByteSpan> add_span(std::span<const ByteSpan> spans, ByteSpan add);
// Where bytes [first, last] start in the concatenated bytes of `spans`, when one span holds
// them all; nullopt otherwise.
std::optional<uint64_t> locate(std::span<const ByteSpan> spans, uint64_t first, uint64_t last);

// The strong validator naming a representation (§3.4: parts combine only under the same one):
// "etag:" + a strong ETag, else "lm:" + a strong Last-Modified, else "" (none: never combines).
std::string strong_validator(const Validators& v);
// The validators of a stored response or part set.
Validators entry_validators(const Entry& e);

// What a new part `part` (a one-span 'P' entry) turns the record `stored` (nullptr when none)
// into: the payload to write — the combined set, or `part` alone when they do not combine or
// the set would exceed `max_bytes`, either as the complete 200 once it covers the
// representation — or nullopt when `stored` is a complete response with the same validator (keep
// it). Pure: runs inside the store's write transaction.
std::optional<std::string> merge_part(const Entry* stored, const Entry& part, uint64_t max_bytes);

// How a part set answers a GET whose Range / If-Range are `range` / `if_range`: `range.kind`
// partial with `offset` (where the bytes start in e.body()) when a span holds them entirely,
// unsatisfiable when they lie past the end, else full: the set cannot answer.
struct PartAnswer {
    RangeAnswer range;
    uint64_t offset = 0;
};
PartAnswer answer_from_parts(const Entry& e, std::optional<std::string_view> range,
                             std::optional<std::string_view> if_range);
template <FieldRange R> PartAnswer answer_from_parts(const Entry& e, const R& request_fields) {
    return answer_from_parts(e, find_field(request_fields, "range"),
                             find_field(request_fields, "if-range"));
}

// The Range a fill forwards for this request, in its plain form: one byte range and no
// If-Range (with If-Range the origin would choose between a part and the whole). nullopt when
// the request is not forwarded as a range.
template <FieldRange R> std::optional<std::string> forwardable_range(const R& request_fields) {
    auto range = find_field(request_fields, "range");
    if (!range || find_field(request_fields, "if-range")) return std::nullopt;
    auto spec = parse_single_range(*range);
    if (!spec) return std::nullopt;
    return range_field(*spec);
}

} // namespace ec::cache
