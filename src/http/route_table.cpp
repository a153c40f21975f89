// Route tables: path pattern matching and Allow headers.
#include "http/route_table.hpp"

#include <algorithm>
#include <cstring>
#include <optional>

namespace ec::http {

PathPattern::PathPattern(std::string_view pattern) {
    size_t p = 0, captures = 0;
    while (p < pattern.size() && valid_) {
        if (size_ == pieces_.size()) {
            valid_ = false;
            break;
        }
        if (pattern[p] != '{') {
            size_t end = std::min(pattern.find('{', p), pattern.size());
            pieces_[size_++] = Piece{Kind::literal, pattern.substr(p, end - p)};
            p = end;
            continue;
        }
        size_t close = pattern.find('}', p);
        if (close == std::string_view::npos || ++captures > kMaxRouteArgs) {
            valid_ = false;
            break;
        }
        char kind = pattern[close - 1];
        bool rest = kind == '*' || kind == '+';
        if (rest && close + 1 != pattern.size()) valid_ = false; // a rest capture ends it
        pieces_[size_++] = Piece{!rest         ? Kind::segment
                                 : kind == '+' ? Kind::rest_nonempty
                                               : Kind::rest,
                                 {}};
        p = close + 1;
    }
    for (uint8_t k = 0; k < size_; ++k) {
        const Piece& piece = pieces_[k];
        if (piece.kind == Kind::literal)
            slashes_ += static_cast<size_t>(std::count(piece.text.begin(), piece.text.end(), '/'));
    }
    if (size_ > 0) {
        const Piece& last = pieces_[size_ - 1];
        open_end_ = last.kind == Kind::rest || last.kind == Kind::rest_nonempty;
        if (last.kind == Kind::literal) suffix_ = last.text;
    }
}

size_t PathPattern::count_slashes(std::string_view path) {
    return static_cast<size_t>(std::count(path.begin(), path.end(), '/'));
}

bool PathPattern::match(std::string_view path, RouteArgs& args, size_t slashes) const {
    if (!valid_ || (open_end_ ? slashes < slashes_ : slashes != slashes_) ||
        !path.ends_with(suffix_))
        return false;
    const char* at = path.data();
    const char* end = at + path.size();
    size_t n = 0;
    for (uint8_t k = 0; k < size_; ++k) {
        const Piece& piece = pieces_[k];
        size_t left = static_cast<size_t>(end - at);
        switch (piece.kind) {
        case Kind::literal:
            if (left < piece.text.size() || std::memcmp(at, piece.text.data(), piece.text.size()))
                return false;
            at += piece.text.size();
            break;
        case Kind::segment: {
            const auto* slash = static_cast<const char*>(std::memchr(at, '/', left));
            size_t len = slash ? static_cast<size_t>(slash - at) : left;
            if (len == 0) return false;
            args[n++] = std::string_view(at, len);
            at += len;
            break;
        }
        case Kind::rest_nonempty:
            if (left == 0) return false;
            [[fallthrough]];
        case Kind::rest:
            args[n++] = std::string_view(at, left);
            return true;
        }
    }
    return at == end;
}

namespace {

// The first segment of a path or pattern: "/kv/a" → "kv", "/" → "". nullopt when `s` does not
// start with '/'.
std::optional<std::string_view> first_segment(std::string_view s) {
    if (s.empty() || s[0] != '/') return std::nullopt;
    s.remove_prefix(1);
    return s.substr(0, s.find('/'));
}

} // namespace

RouteIndex::RouteIndex(std::span<const std::string_view> patterns) {
    for (size_t i = 0; i < patterns.size(); ++i) {
        auto row = static_cast<uint16_t>(i);
        auto segment = first_segment(patterns[i]);
        if (!segment || segment->find('{') != std::string_view::npos) {
            // A capture (or no leading '/'): any group's paths may match it.
            capturing_.push_back(row);
            for (Group& g : groups_)
                g.rows.push_back(row);
            continue;
        }
        auto g = std::find_if(groups_.begin(), groups_.end(),
                              [&](const Group& x) { return x.segment == *segment; });
        if (g == groups_.end()) {
            // A new group starts with the capturing rows seen so far, in order.
            groups_.push_back(Group{std::string(*segment), capturing_});
            g = groups_.end() - 1;
        }
        g->rows.push_back(row);
    }
}

std::span<const uint16_t> RouteIndex::candidates(std::string_view path) const {
    if (auto segment = first_segment(path))
        for (const Group& g : groups_)
            if (g.segment == *segment) return g.rows;
    return capturing_;
}

std::string allow_header(Methods set) {
    static constexpr llhttp_method_t kFirst[] = {HTTP_GET, HTTP_HEAD, HTTP_POST, HTTP_PUT,
                                                 HTTP_DELETE};
    std::string out;
    auto add = [&](llhttp_method_t m) {
        if (!(set & method_bit(m))) return;
        if (!out.empty()) out += ", ";
        out += llhttp_method_name(m);
        set &= ~method_bit(m);
    };
    for (llhttp_method_t m : kFirst)
        add(m);
    for (unsigned m = 0; m < 64 && set; ++m)
        add(static_cast<llhttp_method_t>(m));
    return out;
}

} // namespace ec::http
