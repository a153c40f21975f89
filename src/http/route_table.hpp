// Route tables: rows of methods and a path pattern, resolved once per request head.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <llhttp.h>

#include "http/request.hpp"

namespace ec::http {

// A set of request methods, one bit per llhttp_method_t.
using Methods = uint64_t;
constexpr Methods method_bit(llhttp_method_t m) {
    return Methods{1} << static_cast<unsigned>(m);
}
inline constexpr Methods kAnyMethod = ~Methods{0};

// Matches `path` against `pattern`. The pattern is literal bytes and captures:
//   {name}   one non-empty path segment (no '/')
//   {name+}  the rest of the path, at least one byte ('/' allowed); must end the pattern
//   {name*}  the rest of the path, possibly empty; must end the pattern
// Captured pieces go to args[0], args[1]... in order (views into `path`, not decoded).
// Returns false when the path does not match or the pattern captures more than kMaxRouteArgs.
bool match_path(std::string_view pattern, std::string_view path, RouteArgs& args);

// "GET, HEAD, POST, PUT, DELETE, ..." for an Allow header: the methods in `set`, the common
// ones first in that order, then the others in llhttp's order.
std::string allow_header(Methods set);

// Resolves a request head against `rows` (each with `Methods methods` and `std::string_view
// pattern`), in order, skipping rows `serves(row)` refuses. The first row whose pattern
// matches the path and whose methods include `method` is the route. Rows whose pattern matches
// but not the method add their methods to `allowed` (for a 405) and the search goes on — but a
// row that takes any method ends it: it is a catch-all, and an earlier row that matched the
// path then means "wrong method" (row stays nullptr, path_row is that earlier row).
template <class Row, class Serves>
RouteMatch resolve_route(std::span<const Row> rows, llhttp_method_t method, std::string_view path,
                         Serves serves) {
    RouteMatch m;
    RouteArgs args{};
    for (const Row& r : rows) {
        if (!serves(r) || !match_path(r.pattern, path, args)) continue;
        if (r.methods == kAnyMethod && m.path_row) break; // a catch-all after a method mismatch
        if (!m.path_row) m.path_row = &r;
        if (r.methods & method_bit(method)) {
            m.row = &r;
            m.path_row = &r;
            m.args = args;
            return m;
        }
        m.allowed |= r.methods;
    }
    return m;
}

} // namespace ec::http
