// Range requests on a stored full response (RFC 9110 §14): one byte range → 206, else 200.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "cache/conditional.hpp"

namespace ec::cache {

// One byte-range-spec (RFC 9110 §14.1.2): `first-last`, `first-` (no last) or `-suffix`.
struct ByteRangeSpec {
    uint64_t first = 0;
    std::optional<uint64_t> last;   // inclusive; absent for `first-` and for a suffix range
    std::optional<uint64_t> suffix; // set for `-suffix`: the last `suffix` bytes
};

// Parses a Range field value holding exactly one range-spec of the "bytes" unit (the unit is
// case-insensitive). nullopt for another unit, several or no range-specs, a first-pos greater
// than its last-pos, or a number that does not fit 64 bits: a Range the cache ignores.
std::optional<ByteRangeSpec> parse_single_range(std::string_view range);

// The Range field value naming `spec` in its plain form ("bytes=0-99", "bytes=5-", "bytes=-3").
std::string range_field(const ByteRangeSpec& spec);

// The answer to a GET with Range for a stored representation of `length` bytes.
struct RangeAnswer {
    enum class Kind : uint8_t {
        full,          // 200 with the whole body (no Range, ignored, or If-Range false)
        partial,       // 206: bytes [first, last] and `content_range`
        unsatisfiable, // 416 with `content_range` = "bytes */length"
    };
    Kind kind = Kind::full;
    uint64_t first = 0;
    uint64_t last = 0;         // inclusive
    std::string content_range; // value for the Content-Range field; empty for `full`

    uint64_t size() const { return kind == Kind::partial ? last - first + 1 : 0; }
};

// Evaluates `range` (the Range field value; nullopt when absent) and `if_range` against a
// stored response of `length` bytes with validators `stored`. Policy:
//  - Only the "bytes" unit (case-insensitive); other units, a malformed range-set, or a
//    first-pos/last-pos that does not fit 64 bits → the Range is ignored (full), as RFC 9110
//    §14.2 allows.
//  - Exactly one range-spec: `first-last` (last clamped to length − 1), `first-`, `-suffix`
//    (the last `suffix` bytes, the whole body when longer). first > last is invalid (ignored).
//  - Several range-specs → full 200: the server MAY ignore Range (§14.2), and a multipart/
//    byteranges body is not worth its complexity or its amplification risk here.
//  - Unsatisfiable (first-pos ≥ length, a zero suffix, or any range on an empty body) → 416.
//  - If-Range (§13.1.5), evaluated only with a Range: an entity-tag must match the stored ETag
//    strongly (weak tags never match); an HTTP-date must equal the stored Last-Modified and
//    that Last-Modified must be strong (Date at least one second later). If-Range false, or
//    neither form → full.
// Call for GET only (§14.2: range handling is defined for GET alone; HEAD ignores Range).
RangeAnswer evaluate_range(std::optional<std::string_view> range,
                           std::optional<std::string_view> if_range, uint64_t length,
                           const Validators& stored);

// "bytes first-last/length": a Content-Range value (RFC 9110 §14.4).
std::string content_range(uint64_t first, uint64_t last, uint64_t length);

// Convenience over a request's fields (first Range and If-Range lines).
template <FieldRange R>
RangeAnswer evaluate_range(const R& request_fields, uint64_t length, const Validators& stored) {
    return evaluate_range(find_field(request_fields, "range"),
                          find_field(request_fields, "if-range"), length, stored);
}

} // namespace ec::cache
