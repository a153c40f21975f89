// Entry: a stored response (or a part set of one, or a Vary marker) — its record payload codec and
// its read views.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "cache/fields.hpp"
#include "cache/freshness.hpp"

namespace ec::cache {

// Payload layout (little-endian), version 1:
//   'R' u8 ver, u16 status, u8 flags, u8 source, 7 × i64 (lifetime, swr, sie, keep,
//   request_time, response_time, corrected_initial_age), u16 ntags + (u16 len + tag)...,
//   u32 header block length + block ("Name: value\r\n"...), body (the rest)
//   'V' u8 ver, u16 nnames + (u16 len + lower-case field name)...
//   'P' as 'R' (status 206) up to the header block, then u64 complete length, u32 nspans +
//       (u64 first, u64 size)... (sorted, disjoint, not adjacent), then the spans' bytes
//       concatenated (partial.hpp: a stored incomplete response, RFC 9111 §3.3)
// The header block holds the origin's end-to-end fields in their order, minus hop-by-hop
// and framing fields, Age (recomputed on every use) and the tag fields (kept as tags): it is
// replayed to clients byte for byte.
// Bytes [first, first + size) of a representation.
struct ByteSpan {
    uint64_t first = 0;
    uint64_t size = 0;
    uint64_t end() const { return first + size; }
    bool operator==(const ByteSpan&) const = default;
};

class Entry {
public:
    enum class Kind : uint8_t { response = 'R', vary = 'V', partial = 'P' };

    // Takes a record payload. Returns nullptr when it is not a valid entry.
    static std::shared_ptr<const Entry> decode(std::string payload);
    // A response entry's payload.
    static std::string encode_response(int status, const Freshness& f,
                                       std::span<const std::string> tags,
                                       std::string_view header_block, std::string_view body);
    // A part set's payload: `spans` of a representation of `length` bytes, their bytes
    // concatenated in `body`. The caller keeps spans sorted, disjoint, not adjacent, inside
    // `length` and summing to body.size() (decode() refuses anything else).
    static std::string encode_partial(const Freshness& f, std::span<const std::string> tags,
                                      std::string_view header_block, uint64_t length,
                                      std::span<const ByteSpan> spans, std::string_view body);
    // A Vary marker's payload: `names` lower-cased and sorted.
    static std::string encode_vary(std::span<const std::string> names);
    // The header block for `fields` (see above), without any field named in `leave_out`
    // (withheld_fields()); Date is kept.
    static std::string header_block(const FieldList& fields,
                                    std::span<const std::string> leave_out = {});

    Kind kind() const { return kind_; }
    bool is_vary() const { return kind_ == Kind::vary; }
    bool is_partial() const { return kind_ == Kind::partial; }
    int status() const { return status_; }
    const Freshness& freshness() const { return fresh_; }
    std::string_view header_block() const { return headers_; }
    std::string_view body() const { return body_; }
    const std::vector<std::string_view>& tags() const { return tags_; }
    const std::vector<std::string_view>& vary_names() const { return vary_; }
    // A part set: the complete representation's length and the spans body() holds.
    uint64_t complete_length() const { return length_; }
    const std::vector<ByteSpan>& spans() const { return spans_; }
    // The whole payload, shared: bodies are sent from it without copying.
    const std::shared_ptr<const std::string>& blob() const { return blob_; }

    // First value of field `name` in the header block (case-insensitive), trimmed.
    std::optional<std::string_view> header(std::string_view name) const;
    // The header block parsed into fields (copies).
    FieldList fields() const;
    // Bytes this entry costs in memory (payload plus bookkeeping), for the hot tier.
    size_t charge() const;

private:
    Kind kind_ = Kind::response;
    int status_ = 0;
    Freshness fresh_;
    std::shared_ptr<const std::string> blob_;
    std::string_view headers_;
    std::string_view body_;
    std::vector<std::string_view> tags_;
    std::vector<std::string_view> vary_;
    uint64_t length_ = 0;
    std::vector<ByteSpan> spans_;
};

// Calls fn(name, value) for each line of a header block.
template <class Fn> void for_each_block_field(std::string_view block, Fn&& fn) {
    while (!block.empty()) {
        size_t eol = block.find("\r\n");
        std::string_view line = block.substr(0, eol);
        size_t colon = line.find(':');
        if (colon != std::string_view::npos)
            fn(line.substr(0, colon), trim_ows(line.substr(colon + 1)));
        if (eol == std::string_view::npos) break;
        block.remove_prefix(eol + 2);
    }
}

} // namespace ec::cache
