// Tests for address syntax: listen addresses, origin host:port pairs and origin URLs.
#include <doctest/doctest.h>

#include "util/address.hpp"

using namespace ec;

TEST_SUITE("util/address") {
    TEST_CASE("listen addresses") {
        auto v4 = parse_listen_address("127.0.0.1:8787");
        REQUIRE(v4);
        CHECK(v4->kind == Address::Kind::ipv4);
        CHECK(v4->host == "127.0.0.1");
        CHECK(v4->port == 8787);
        auto v6 = parse_listen_address("[::1]:0");
        REQUIRE(v6);
        CHECK(v6->kind == Address::Kind::ipv6);
        CHECK(v6->host == "::1");
        CHECK(v6->port == 0);
        auto ux = parse_listen_address("unix:/run/a.sock");
        REQUIRE(ux);
        CHECK(ux->kind == Address::Kind::unix_path);
        CHECK(ux->path == "/run/a.sock");
        for (const char* bad :
             {"127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:+80",
              "1.2.3:80", "host:80", ":80", "[::1]80", "[::1]:", "::1:80", "unix:", ""})
            CHECK_MESSAGE(!parse_listen_address(bad), bad);
    }

    TEST_CASE("origin servers take host names and need a port") {
        auto dns = parse_host_port("backend.internal:8080");
        REQUIRE(dns);
        CHECK(dns->kind == Address::Kind::dns);
        CHECK(dns->port == 8080);
        CHECK(parse_host_port("10.0.0.1:80")->kind == Address::Kind::ipv4);
        CHECK(parse_host_port("[fe80::1]:80")->kind == Address::Kind::ipv6);
        for (const char* bad :
             {"host", "host:0", "host:99999", "ho st:80", "a..b:80", "1.2.3.4.5:80", "-:80x"})
            CHECK_MESSAGE(!parse_host_port(bad), bad);
    }

    TEST_CASE("origin URLs") {
        CHECK(parse_origin_url("http://127.0.0.1:9000").value() == "127.0.0.1:9000");
        CHECK(parse_origin_url("http://example.com").value() == "example.com:80");
        CHECK(parse_origin_url("http://example.com/").value() == "example.com:80");
        CHECK(parse_origin_url("http://[::1]").value() == "[::1]:80");
        CHECK(parse_origin_url("http://[::1]:81/").value() == "[::1]:81");
        CHECK(parse_origin_url("https://example.com").value() == "example.com:443");
        CHECK(parse_origin_url("HTTPS://example.com:8443/").value() == "example.com:8443");
        CHECK(parse_origin_url("ftp://example.com").error().message ==
              "expected an http:// or https:// URL like \"http://127.0.0.1:9000\"");
        for (const char* bad : {"http://", "http://h/x", "http://h?q", "http://h#f", "h:80",
                                "http://u@h", "http://h:x", "https://", "https://h/x"})
            CHECK_MESSAGE(!parse_origin_url(bad), bad);
    }
}
