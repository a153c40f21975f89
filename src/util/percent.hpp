// Percent-decoding (RFC 3986) and query-string iteration.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ec {

// The value of one hex digit, or -1 when `c` is not one.
int hex_digit(char c);

// Decodes %XX escapes exactly once. With plus_is_space (HTML form encoding) '+' becomes ' ';
// otherwise '+' stays '+'. Returns nullopt on a truncated or non-hex escape.
std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space = false);

// Appends s with every byte outside RFC 3986 "unreserved" escaped as %XX.
void percent_encode(std::string& out, std::string_view s);

// Iterates the raw (undecoded) name=value pairs of a query string ("a=1&b&c=").
class QueryIter {
public:
    explicit QueryIter(std::string_view query) : rest_(query) {}
    // Fills name/value with the next pair (value empty when there is no '='); false at the end.
    bool next(std::string_view* name, std::string_view* value);

private:
    std::string_view rest_;
};

// Finds the first parameter named `name` (compared after decoding) and returns its decoded
// value; nullopt when absent. `*bad` is set when the parameter is present but undecodable.
std::optional<std::string> query_param(std::string_view query, std::string_view name,
                                       bool plus_is_space = true, bool* bad = nullptr);

} // namespace ec
