// IP addresses: CIDR ranges (trusted_proxies) and the bare address of a peer, without its port.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

struct sockaddr;

namespace ec {

// An IPv4 or IPv6 network. IPv4 is held as an IPv4-mapped IPv6 address (::ffff:a.b.c.d/96+n),
// so a v4 range also matches a v4 peer that arrived on a dual-stack socket.
struct Cidr {
    uint8_t addr[16] = {};
    int prefix_bits = 0; // 0..128, counted on the 16-byte form
};

// Parses "10.0.0.0/8", "192.0.2.7" (a /32), "2001:db8::/32", "::1" (a /128). Returns nullopt
// and sets *error to a sentence naming the problem when `s` is not one of those forms or the
// prefix length is out of range.
std::optional<Cidr> parse_cidr(std::string_view s, std::string* error);

// True when `sa` is an AF_INET or AF_INET6 address inside `net`; false for any other family.
bool cidr_contains(const Cidr& net, const sockaddr* sa);

// "192.0.2.7" or "2001:db8::1" (an IPv4-mapped IPv6 peer prints as IPv4); "" for families
// other than AF_INET / AF_INET6.
std::string ip_text(const sockaddr* sa);

} // namespace ec
