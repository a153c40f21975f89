// Targeted cache-control fields (RFC 9213): CDN-Cache-Control and our own, as Cache-Control.
#pragma once

#include <optional>
#include <string_view>

#include "cache/cache_control.hpp"

namespace ec::cache {

// Parses the combined value of a targeted field (its lines joined with ", ") — an RFC 8941
// Dictionary whose members are cache directives (RFC 9213 §2.1) — into the directives it
// carries. Returns nullopt when the value is empty or not a valid Dictionary: RFC 9213 §2.1
// says such a field is ignored as if absent.
//
// Member values map onto Cache-Control's: an Integer is a delta-seconds argument (a negative
// one makes that directive invalid, as in Cache-Control), `?1` or no value is the bare
// directive, `?0` leaves it out, a String is a quoted argument (`private="Set-Cookie"`), a
// Token a token argument. Parameters are ignored; an Inner List, Decimal or Byte Sequence
// value makes that directive invalid. Later duplicates replace earlier ones (RFC 8941
// §4.2.2).
std::optional<CacheControl> parse_targeted_cache_control(std::string_view value);

} // namespace ec::cache
