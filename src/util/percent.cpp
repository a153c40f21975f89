// Percent-decoding and query parsing.
#include "util/percent.hpp"

namespace ec {

int hex_digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= s.size()) return std::nullopt;
            int hi = hex_digit(s[i + 1]), lo = hex_digit(s[i + 2]);
            if (hi < 0 || lo < 0) return std::nullopt;
            out.push_back(static_cast<char>(hi * 16 + lo));
            i += 2;
        } else if (c == '+' && plus_is_space) {
            out.push_back(' ');
        } else {
            out.push_back(c);
        }
    }
    return out;
}

void percent_encode(std::string& out, std::string_view s) {
    static const char hex[] = "0123456789ABCDEF";
    for (unsigned char c : s) {
        bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
        if (unreserved) {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back('%');
            out.push_back(hex[c >> 4]);
            out.push_back(hex[c & 15]);
        }
    }
}

bool QueryIter::next(std::string_view* name, std::string_view* value) {
    while (!rest_.empty()) {
        size_t amp = rest_.find('&');
        std::string_view pair = rest_.substr(0, amp);
        rest_ = amp == std::string_view::npos ? std::string_view() : rest_.substr(amp + 1);
        if (pair.empty()) continue;
        size_t eq = pair.find('=');
        *name = pair.substr(0, eq);
        *value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
        return true;
    }
    return false;
}

std::optional<std::string> query_param(std::string_view query, std::string_view name,
                                       bool plus_is_space, bool* bad) {
    QueryIter it(query);
    std::string_view n, v;
    while (it.next(&n, &v)) {
        bool match;
        if (n.find('%') == std::string_view::npos && n.find('+') == std::string_view::npos) {
            match = n == name;
        } else {
            auto dn = percent_decode(n, plus_is_space);
            match = dn && *dn == name;
        }
        if (!match) continue;
        auto dv = percent_decode(v, plus_is_space);
        if (!dv && bad) *bad = true;
        return dv;
    }
    return std::nullopt;
}

} // namespace ec
