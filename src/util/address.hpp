// Address syntax shared by config and listeners: listen addresses, origin servers, origin URLs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "util/status.hpp"

namespace ec {

// A parsed address. For TCP `host` is the IP literal without brackets, or (origin servers only)
// a DNS name that the origin client resolves.
struct Address {
    enum class Kind { ipv4, ipv6, dns, unix_path };
    Kind kind = Kind::ipv4;
    std::string host;
    uint16_t port = 0; // 0 = an ephemeral port chosen by the kernel
    std::string path;  // unix_path only
};

// Longest Unix socket path we accept: sun_path holds 108 bytes including the NUL.
inline constexpr size_t max_unix_path = 107;

// Parses "a.b.c.d:port", "[ipv6]:port" or "unix:/path" (relative paths allowed, at most
// max_unix_path bytes). Port 0..65535. Host names are not accepted: a listener binds an address.
// Errors: code "bad_address", message a sentence naming what is expected (no JSON path or
// flag name: callers add where the address came from).
Result<Address> parse_listen_address(std::string_view s);

// Parses "host:port" as used for origin servers: host is a DNS name, an IPv4 literal or a
// bracketed IPv6 literal; port 1..65535 is required.
Result<Address> parse_host_port(std::string_view s);

// Parses an origin URL "http://host[:port][/]" or "https://..." (port defaults to 80 / 443) and
// returns "host:port" (IPv6 kept in brackets). User info, paths, queries and fragments are
// refused.
Result<std::string> parse_origin_url(std::string_view s);

} // namespace ec
