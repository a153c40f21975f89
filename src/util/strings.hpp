// Small string helpers used across subsystems: ASCII case folding, trimming, splitting, numbers.
#pragma once

#include <array>
#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ec {

inline char ascii_lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

inline bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    return true;
}

inline bool istarts_with(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

inline std::string to_lower(std::string_view s) {
    std::string r(s);
    for (char& c : r)
        c = ascii_lower(c);
    return r;
}

// Strips optional whitespace (SP / HTAB) from both ends, as HTTP field values allow.
inline std::string_view trim_ows(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

// Calls fn(item) for each comma-separated, OWS-trimmed, non-empty element of an HTTP list.
template <class Fn> void for_each_list_item(std::string_view s, Fn&& fn) {
    while (!s.empty()) {
        size_t comma = s.find(',');
        std::string_view item = trim_ows(s.substr(0, comma));
        if (!item.empty()) fn(item);
        if (comma == std::string_view::npos) break;
        s.remove_prefix(comma + 1);
    }
}

// Parses a whole string as a decimal integer; nullopt on sign, junk, overflow or empty input.
inline std::optional<uint64_t> parse_u64(std::string_view s) {
    if (s.empty() || s.size() > 20) return std::nullopt;
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    return v;
}

inline std::optional<int64_t> parse_i64(std::string_view s) {
    if (s.empty() || s.size() > 20) return std::nullopt;
    int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
    return v;
}

// Appends the decimal form of n.
inline void append_u64(std::string& out, uint64_t n) {
    char buf[24];
    auto r = std::to_chars(buf, buf + sizeof buf, n);
    out.append(buf, r.ptr);
}

// RFC 9110 token characters (header names, methods).
namespace detail {
constexpr std::array<bool, 256> make_tchar_table() {
    std::array<bool, 256> t{};
    for (unsigned char c : std::string_view("!#$%&'*+-.^_`|~"))
        t[c] = true;
    for (int c = '0'; c <= '9'; ++c)
        t[c] = true;
    for (int c = 'a'; c <= 'z'; ++c)
        t[c] = true;
    for (int c = 'A'; c <= 'Z'; ++c)
        t[c] = true;
    return t;
}
inline constexpr std::array<bool, 256> tchar_table = make_tchar_table();
} // namespace detail

inline bool is_tchar(unsigned char c) {
    return detail::tchar_table[c];
}

inline bool is_token(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (!is_tchar(static_cast<unsigned char>(c))) return false;
    return true;
}

} // namespace ec
