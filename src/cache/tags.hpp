// Cache-Tag / Surrogate-Key: the purge tags an origin attaches to a response.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "cache/fields.hpp"

namespace ec::cache {

// Bounds on what one response may attach. Past them, further tags are dropped (a tag longer
// than max_tag_bytes is dropped whole, never truncated: a truncated tag could purge the
// wrong entries). The defaults follow Cloudflare's documented Cache-Tag limits (1024 bytes
// per tag) with a count bound that keeps the tag index write per response small.
struct TagLimits {
    size_t max_tags = 128;
    size_t max_tag_bytes = 1024;
};

// Collects tags from Cache-Tag (comma-separated) and Surrogate-Key (space-separated) lines.
// Tags are trimmed, empties dropped, kept byte-exact (case-sensitive), de-duplicated in
// first-seen order. Tags containing control characters are dropped.
class TagSet {
public:
    explicit TagSet(TagLimits limits = {}) : limits_(limits) {}

    void add_cache_tag(std::string_view field_line);
    void add_surrogate_key(std::string_view field_line);
    // Adds one tag (already split); returns false when it was dropped or a duplicate.
    bool add(std::string_view tag);

    const std::vector<std::string>& tags() const { return tags_; }
    std::vector<std::string> take() { return std::move(tags_); }
    // How many tags were dropped for the limits or bad bytes (duplicates not counted).
    size_t dropped() const { return dropped_; }

private:
    TagLimits limits_;
    std::vector<std::string> tags_;
    size_t dropped_ = 0;
};

// True for the fields TagSet reads (callers strip them unless `expose_tags`).
bool is_tag_field(std::string_view name);

// The tags of a response's fields.
template <FieldRange R>
std::vector<std::string> parse_tags(const R& fields, TagLimits limits = {}) {
    TagSet set(limits);
    for (const auto& f : fields) {
        std::string_view n(f.name);
        if (iequals(n, "cache-tag"))
            set.add_cache_tag(std::string_view(f.value));
        else if (iequals(n, "surrogate-key"))
            set.add_surrogate_key(std::string_view(f.value));
    }
    return set.take();
}

} // namespace ec::cache
