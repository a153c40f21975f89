// Cache-Tag / Surrogate-Key parsing: see tags.hpp.
#include "cache/tags.hpp"

#include <algorithm>

namespace ec::cache {

bool TagSet::add(std::string_view tag) {
    tag = trim_ows(tag);
    if (tag.empty()) return false;
    bool bad = tag.size() > limits_.max_tag_bytes || tags_.size() >= limits_.max_tags;
    for (char c : tag)
        bad = bad || static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
    // Linear de-duplication: a response carries a handful of tags, at most max_tags.
    if (std::find(tags_.begin(), tags_.end(), tag) != tags_.end()) return false;
    if (bad) {
        ++dropped_;
        return false;
    }
    tags_.emplace_back(tag);
    return true;
}

void TagSet::add_cache_tag(std::string_view line) {
    for_each_list_item(line, [&](std::string_view item) { add(item); });
}

void TagSet::add_surrogate_key(std::string_view line) {
    size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' ' || line[i] == '\t'))
            ++i;
        size_t start = i;
        while (i < line.size() && line[i] != ' ' && line[i] != '\t')
            ++i;
        if (i > start) add(line.substr(start, i - start));
    }
}

bool is_tag_field(std::string_view name) {
    return iequals(name, "cache-tag") || iequals(name, "surrogate-key");
}

} // namespace ec::cache
