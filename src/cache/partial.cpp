// Partial content: part-set arithmetic, combining parts, answering ranges from them (partial.hpp).
#include "cache/partial.hpp"

#include <algorithm>

#include "util/strings.hpp"
#include "util/time_format.hpp"

namespace ec::cache {

namespace {

// The bytes a part set holds from `at` to the end of the span holding it; empty when no span
// holds `at`.
std::string_view held_from(std::span<const ByteSpan> spans, std::string_view body, uint64_t at) {
    uint64_t offset = 0;
    for (const ByteSpan& s : spans) {
        if (at >= s.first && at < s.end())
            return body.substr(offset + (at - s.first), s.end() - at);
        offset += s.size;
    }
    return {};
}

std::vector<std::string> tag_copies(const Entry& e) {
    return std::vector<std::string>(e.tags().begin(), e.tags().end());
}

} // namespace

std::optional<ContentRange> parse_content_range(std::string_view value) {
    std::string_view v = trim_ows(value);
    size_t sp = v.find(' ');
    if (sp == std::string_view::npos || !iequals(v.substr(0, sp), "bytes")) return std::nullopt;
    v = trim_ows(v.substr(sp + 1));
    size_t dash = v.find('-'), slash = v.find('/');
    if (dash == std::string_view::npos || slash == std::string_view::npos || slash < dash)
        return std::nullopt;
    auto first = parse_u64(v.substr(0, dash));
    auto last = parse_u64(v.substr(dash + 1, slash - dash - 1));
    auto length = parse_u64(v.substr(slash + 1));
    if (!first || !last || !length || *first > *last || *last >= *length) return std::nullopt;
    return ContentRange{*first, *last, *length};
}

std::vector<ByteSpan> add_span(std::span<const ByteSpan> spans, ByteSpan add) {
    std::vector<ByteSpan> all(spans.begin(), spans.end());
    if (add.size != 0) all.push_back(add);
    std::sort(all.begin(), all.end(),
              [](const ByteSpan& a, const ByteSpan& b) { return a.first < b.first; });
    std::vector<ByteSpan> out;
    out.reserve(all.size());
    for (const ByteSpan& s : all) {
        if (!out.empty() && s.first <= out.back().end()) {
            uint64_t end = std::max(out.back().end(), s.end());
            out.back().size = end - out.back().first;
        } else {
            out.push_back(s);
        }
    }
    return out;
}

std::optional<uint64_t> locate(std::span<const ByteSpan> spans, uint64_t first, uint64_t last) {
    uint64_t offset = 0;
    for (const ByteSpan& s : spans) {
        if (first >= s.first && last < s.end()) return offset + (first - s.first);
        offset += s.size;
    }
    return std::nullopt;
}

std::string strong_validator(const Validators& v) {
    if (auto tag = parse_entity_tag(v.etag); tag && !tag->weak)
        return "etag:" + std::string(tag->opaque);
    if (v.last_modified_is_strong()) return "lm:" + std::to_string(*v.last_modified);
    return {};
}

Validators entry_validators(const Entry& e) {
    Validators v;
    v.response_time = e.freshness().response_time;
    if (auto et = e.header("etag")) v.etag = *et;
    if (auto lm = e.header("last-modified")) v.last_modified = parse_http_date(*lm);
    if (auto d = e.header("date")) v.date = parse_http_date(*d);
    return v;
}

std::optional<std::string> merge_part(const Entry* stored, const Entry& part, uint64_t max_bytes) {
    // What `part`'s header block, freshness and tags make of these spans: the complete 200
    // once they cover the representation, else a part set.
    auto record = [&part](std::span<const ByteSpan> spans, std::string_view body) {
        if (spans.size() == 1 && spans[0].first == 0 && spans[0].size == part.complete_length())
            return Entry::encode_response(200, part.freshness(), tag_copies(part),
                                          part.header_block(), body);
        return Entry::encode_partial(part.freshness(), tag_copies(part), part.header_block(),
                                     part.complete_length(), spans, body);
    };
    auto alone = [&] { return std::optional<std::string>(record(part.spans(), part.body())); };
    if (!stored || stored->is_vary() || part.spans().size() != 1) return alone();
    std::string validator = strong_validator(entry_validators(part));
    bool same = !validator.empty() && validator == strong_validator(entry_validators(*stored));
    if (!stored->is_partial()) {
        // A complete response of the same representation already holds this part.
        bool complete = stored->status() == 200 && stored->body().size() == part.complete_length();
        if (same && complete) return std::nullopt;
        return alone();
    }
    if (!same || stored->complete_length() != part.complete_length()) return alone();

    const ByteSpan add = part.spans()[0];
    std::vector<ByteSpan> spans = add_span(stored->spans(), add);
    uint64_t held = 0;
    for (const ByteSpan& s : spans)
        held += s.size;
    if (held > max_bytes) return alone();
    std::string body;
    body.reserve(held);
    for (const ByteSpan& s : spans) {
        uint64_t at = s.first;
        while (at < s.end()) {
            // The new part's bytes where it has them (the same representation: equal anyway),
            // the stored set's up to where the new part starts.
            std::string_view from = held_from(part.spans(), part.body(), at);
            if (from.empty()) {
                from = held_from(stored->spans(), stored->body(), at);
                if (add.first > at) from = from.substr(0, add.first - at);
            }
            if (from.empty()) return alone(); // inconsistent spans: keep the new part only
            from = from.substr(0, s.end() - at);
            body.append(from);
            at += from.size();
        }
    }
    return record(spans, body);
}

PartAnswer answer_from_parts(const Entry& e, std::optional<std::string_view> range,
                             std::optional<std::string_view> if_range) {
    PartAnswer a;
    a.range = evaluate_range(range, if_range, e.complete_length(), entry_validators(e));
    if (a.range.kind != RangeAnswer::Kind::partial) return a;
    if (auto offset = locate(e.spans(), a.range.first, a.range.last))
        a.offset = *offset;
    else
        a.range = RangeAnswer{}; // not held entirely: the set cannot answer
    return a;
}

} // namespace ec::cache
