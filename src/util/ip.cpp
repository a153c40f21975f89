// CIDR parsing and matching, and peer addresses as text.
#include "util/ip.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

namespace ec {

namespace {

// The 16-byte (IPv4-mapped for v4) form of a socket address; false for other families.
bool to_v6_bytes(const sockaddr* sa, uint8_t out[16]) {
    if (sa->sa_family == AF_INET) {
        const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
        std::memset(out, 0, 10);
        out[10] = out[11] = 0xff;
        std::memcpy(out + 12, &in->sin_addr, 4);
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        std::memcpy(out, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, 16);
        return true;
    }
    return false;
}

} // namespace

std::optional<Cidr> parse_cidr(std::string_view s, std::string* error) {
    std::string_view addr = s, bits;
    if (size_t slash = s.find('/'); slash != std::string_view::npos) {
        addr = s.substr(0, slash);
        bits = s.substr(slash + 1);
    }
    Cidr c;
    std::string text(addr);
    int max_bits = 0;
    in_addr v4{};
    if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
        c.addr[10] = c.addr[11] = 0xff;
        std::memcpy(c.addr + 12, &v4, 4);
        max_bits = 32;
    } else if (inet_pton(AF_INET6, text.c_str(), c.addr) == 1) {
        max_bits = 128;
    } else {
        *error = "\"" + std::string(s) +
                 "\" is not an IP address or CIDR range (like \"10.0.0.0/8\" or \"::1\")";
        return std::nullopt;
    }
    int n = max_bits;
    if (s.find('/') != std::string_view::npos) {
        n = 0;
        bool ok = !bits.empty() && bits.size() <= 3;
        for (char ch : bits) {
            ok = ok && ch >= '0' && ch <= '9';
            n = n * 10 + (ch - '0');
        }
        if (!ok || n > max_bits) {
            *error = "\"" + std::string(s) + "\": the prefix length must be 0 to " +
                     std::to_string(max_bits);
            return std::nullopt;
        }
    }
    c.prefix_bits = n + (128 - max_bits);
    return c;
}

bool cidr_contains(const Cidr& net, const sockaddr* sa) {
    uint8_t a[16];
    if (!to_v6_bytes(sa, a)) return false;
    int full = net.prefix_bits / 8, rest = net.prefix_bits % 8;
    if (std::memcmp(a, net.addr, full) != 0) return false;
    if (rest == 0) return true;
    auto mask = static_cast<uint8_t>(0xff << (8 - rest));
    return (a[full] & mask) == (net.addr[full] & mask);
}

std::string ip_text(const sockaddr* sa) {
    uint8_t a[16];
    if (!to_v6_bytes(sa, a)) return "";
    char buf[INET6_ADDRSTRLEN];
    static constexpr uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(a, mapped, 12) == 0) return inet_ntop(AF_INET, a + 12, buf, sizeof buf);
    return inet_ntop(AF_INET6, a, buf, sizeof buf);
}

} // namespace ec
