// Route tables: rows of methods and a path pattern, resolved once per request head.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <llhttp.h>

#include "http/request.hpp"

namespace ec::http {

// A set of request methods, one bit per llhttp_method_t.
using Methods = uint64_t;
constexpr Methods method_bit(llhttp_method_t m) {
    return Methods{1} << static_cast<unsigned>(m);
}
inline constexpr Methods kAnyMethod = ~Methods{0};

// A path pattern, split once into literal runs and captures so that matching never scans it:
//   {name}   one non-empty path segment (no '/')
//   {name+}  the rest of the path, at least one byte ('/' allowed); must end the pattern
//   {name*}  the rest of the path, possibly empty; must end the pattern
// A pattern that breaks these rules, or captures more than kMaxRouteArgs, matches nothing.
class PathPattern {
public:
    explicit PathPattern(std::string_view pattern);
    // True when `path` matches; the captured pieces go to args[0], args[1]... in order (views
    // into `path`, not decoded). `slashes` is the number of '/' in `path` (a table counts them
    // once per request): most patterns that cannot match are refused on it, or on their
    // literal ending, without being walked.
    bool match(std::string_view path, RouteArgs& args, size_t slashes) const;
    bool match(std::string_view path, RouteArgs& args) const {
        return match(path, args, count_slashes(path));
    }
    static size_t count_slashes(std::string_view path);

private:
    enum class Kind : uint8_t { literal, segment, rest, rest_nonempty };
    struct Piece {
        Kind kind = Kind::literal;
        std::string_view text; // a literal run: a view into the pattern, which must outlive this
    };
    std::array<Piece, 2 * kMaxRouteArgs + 1> pieces_{};
    uint8_t size_ = 0;
    bool valid_ = true;
    // A capture holds no '/' unless it is the rest: a path matching has exactly as many as the
    // literals, or at least as many when the pattern ends in a rest capture.
    size_t slashes_ = 0;
    bool open_end_ = false;
    std::string_view suffix_; // the literal the pattern ends with, which the path must end with
};

// "GET, HEAD, POST, PUT, DELETE, ..." for an Allow header: the methods in `set`, the common
// ones first in that order, then the others in llhttp's order.
std::string allow_header(Methods set);

// Which rows of a table can match a path, by the path's first segment. Rows are grouped by the
// literal first segment of their pattern ("/kv/{ns}" is in "kv", "/" in ""); a row whose first
// segment captures ("/{key+}") is in every group. A group keeps the table's order, so resolving
// through it finds what a walk over every row would: it only skips rows that cannot match (a
// native KV path never tries the Cloudflare rows, whose literal prefixes are long).
class RouteIndex {
public:
    RouteIndex() = default;
    explicit RouteIndex(std::span<const std::string_view> patterns);
    // Indexes into the table of the rows that may match `path`, in table order.
    std::span<const uint16_t> candidates(std::string_view path) const;

private:
    struct Group {
        std::string segment;
        std::vector<uint16_t> rows;
    };
    std::vector<Group> groups_;
    std::vector<uint16_t> capturing_; // for a path whose first segment no group names
};

// A listener's rows (each with `Methods methods` and `std::string_view pattern`), resolved once
// per request head. resolve(): the first row whose pattern matches the path and whose methods
// include `method` is the route. Rows whose pattern matches but not the method add their
// methods to `allowed` (for a 405) and the search goes on — but a row that takes any method
// ends it: it is a catch-all, and an earlier row that matched the path then means "wrong
// method" (row stays nullptr, path_row is that earlier row). RouteMatch points into the
// table's rows, which stay put when the table is moved.
template <class Row> class RouteTable {
public:
    RouteTable() = default;
    explicit RouteTable(std::vector<Row> rows) : rows_(std::move(rows)), index_(patterns(rows_)) {
        paths_.reserve(rows_.size());
        for (const Row& r : rows_)
            paths_.emplace_back(r.pattern);
    }

    RouteMatch resolve(llhttp_method_t method, std::string_view path) const {
        // Only rows taking this method are matched first: a hit there is the answer unless it
        // is a catch-all, and only then, or on a miss, do the other rows' patterns matter (for
        // the 405 and its Allow). The result is that of one walk over the rows in order.
        std::span<const uint16_t> rows = index_.candidates(path);
        size_t slashes = PathPattern::count_slashes(path);
        RouteArgs args{};
        size_t end = rows.size();
        for (size_t k = 0; k < rows.size(); ++k) {
            const Row& r = rows_[rows[k]];
            if (!(r.methods & method_bit(method)) || !paths_[rows[k]].match(path, args, slashes))
                continue;
            if (r.methods != kAnyMethod) return RouteMatch{&r, &r, 0, args};
            end = k; // a catch-all: what matched the path before it decides
            break;
        }
        RouteMatch m;
        for (size_t k = 0; k < end; ++k) {
            const Row& r = rows_[rows[k]];
            if ((r.methods & method_bit(method)) || !paths_[rows[k]].match(path, args, slashes))
                continue;
            if (!m.path_row) m.path_row = &r;
            m.allowed |= r.methods;
        }
        if (!m.path_row && end < rows.size()) {
            const Row& r = rows_[rows[end]];
            paths_[rows[end]].match(path, args, slashes);
            return RouteMatch{&r, &r, 0, args};
        }
        return m;
    }

private:
    static std::vector<std::string_view> patterns(const std::vector<Row>& rows) {
        std::vector<std::string_view> out;
        out.reserve(rows.size());
        for (const Row& r : rows)
            out.push_back(r.pattern);
        return out;
    }

    std::vector<Row> rows_;
    RouteIndex index_;
    std::vector<PathPattern> paths_; // rows_[i]'s pattern, compiled
};

} // namespace ec::http
