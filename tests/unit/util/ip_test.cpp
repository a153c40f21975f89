// util/ip: CIDR parsing and matching (trusted_proxies), peer addresses as text.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

#include "util/ip.hpp"

using namespace ec;

namespace {
sockaddr_storage v4(const char* ip) {
    sockaddr_storage ss{};
    auto* in = reinterpret_cast<sockaddr_in*>(&ss);
    in->sin_family = AF_INET;
    inet_pton(AF_INET, ip, &in->sin_addr);
    return ss;
}
sockaddr_storage v6(const char* ip) {
    sockaddr_storage ss{};
    auto* in = reinterpret_cast<sockaddr_in6*>(&ss);
    in->sin6_family = AF_INET6;
    inet_pton(AF_INET6, ip, &in->sin6_addr);
    return ss;
}
bool in(const char* cidr, const sockaddr_storage& ss) {
    std::string error;
    auto c = parse_cidr(cidr, &error);
    REQUIRE_MESSAGE(c, error);
    return cidr_contains(*c, reinterpret_cast<const sockaddr*>(&ss));
}
} // namespace

TEST_SUITE("util") {
    TEST_CASE("CIDR ranges match IPv4, IPv6 and IPv4-mapped peers") {
        CHECK(in("10.0.0.0/8", v4("10.255.1.2")));
        CHECK_FALSE(in("10.0.0.0/8", v4("11.0.0.1")));
        CHECK(in("192.0.2.7", v4("192.0.2.7")));
        CHECK_FALSE(in("192.0.2.7", v4("192.0.2.8")));
        CHECK(in("172.16.0.0/12", v4("172.31.255.255")));
        CHECK_FALSE(in("172.16.0.0/12", v4("172.32.0.0")));
        CHECK(in("0.0.0.0/0", v4("8.8.8.8")));
        CHECK(in("10.0.0.0/8", v6("::ffff:10.1.2.3")));
        CHECK(in("2001:db8::/32", v6("2001:db8:1::5")));
        CHECK_FALSE(in("2001:db8::/32", v6("2001:db9::5")));
        CHECK(in("::1", v6("::1")));
        CHECK_FALSE(in("::1", v4("127.0.0.1")));
    }

    TEST_CASE("bad CIDR ranges are refused with the reason") {
        std::string error;
        CHECK_FALSE(parse_cidr("10.0.0.0/33", &error));
        CHECK(error.find("prefix length must be 0 to 32") != std::string::npos);
        CHECK_FALSE(parse_cidr("::/129", &error));
        CHECK(error.find("0 to 128") != std::string::npos);
        CHECK_FALSE(parse_cidr("10.0.0.0/", &error));
        CHECK_FALSE(parse_cidr("10.0.0.0/8x", &error));
        CHECK_FALSE(parse_cidr("example.com", &error));
        CHECK(error.find("not an IP address or CIDR range") != std::string::npos);
    }

    TEST_CASE("peer addresses print without the port; mapped IPv4 as IPv4") {
        auto a = v4("192.0.2.1"), b = v6("2001:db8::1"), c = v6("::ffff:192.0.2.9");
        CHECK(ip_text(reinterpret_cast<const sockaddr*>(&a)) == "192.0.2.1");
        CHECK(ip_text(reinterpret_cast<const sockaddr*>(&b)) == "2001:db8::1");
        CHECK(ip_text(reinterpret_cast<const sockaddr*>(&c)) == "192.0.2.9");
    }
}
