// Timestamps: ISO 8601 for JSON and logs, IMF-fixdate (RFC 9110 §5.6.7) for HTTP headers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ec {

// "2026-11-28T06:03:17.123Z" from milliseconds since the epoch.
std::string iso8601_ms(int64_t unix_ms);

// Appends "Sat, 28 Nov 2026 06:03:17 GMT" (always 29 bytes).
void append_http_date(std::string& out, int64_t unix_s);

// Parses IMF-fixdate, RFC 850 and asctime forms (a recipient must accept all three;
// RFC 9110 §5.6.7). Returns unix seconds, or nullopt for anything else (which RFC 9111 treats
// as "in the past" for Expires). HTTP-date is case-sensitive: a zone other than "GMT" (e.g.
// "gmt", "UTC") is invalid; month names are accepted in any case.
std::optional<int64_t> parse_http_date(std::string_view s);

// The full year of an RFC 850 two-digit year `yy` seen in `current_year`: the one within
// (current_year - 50, current_year + 50]; never more than 50 years ahead (RFC 9110 §5.6.7).
int rfc850_full_year(int yy, int current_year);

} // namespace ec
