// Route tables: path pattern matching and Allow headers.
#include "http/route_table.hpp"

namespace ec::http {

bool match_path(std::string_view pattern, std::string_view path, RouteArgs& args) {
    size_t p = 0, i = 0, n = 0;
    while (p < pattern.size()) {
        if (pattern[p] != '{') {
            if (i >= path.size() || path[i] != pattern[p]) return false;
            ++p;
            ++i;
            continue;
        }
        size_t close = pattern.find('}', p);
        if (close == std::string_view::npos || n >= args.size()) return false;
        char kind = pattern[close - 1];
        std::string_view rest = path.substr(i);
        if (kind == '*' || kind == '+') {
            if (close + 1 != pattern.size() || (kind == '+' && rest.empty())) return false;
            args[n++] = rest;
            return true;
        }
        std::string_view segment = rest.substr(0, rest.find('/'));
        if (segment.empty()) return false;
        args[n++] = segment;
        i += segment.size();
        p = close + 1;
    }
    return i == path.size();
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
