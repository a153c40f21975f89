// origin/request: the request head we write upstream.
#include <doctest/doctest.h>

#include "origin/request_head.hpp"

using namespace ec::origin;

TEST_SUITE("origin/request") {

    TEST_CASE("framing headers are ours; the rest goes out in order") {
        UpstreamRequest r;
        r.method = "POST";
        r.target = "/a?b=c";
        r.headers = {{"Host", "h.test"},      {"Content-Length", "99"},
                     {"Connection", "close"}, {"Transfer-Encoding", "chunked"},
                     {"X-One", "1"},          {"x-two", "2"}};
        r.body = "abc";
        auto h = build_request_head(r);
        REQUIRE(h.is_ok());
        CHECK(*h == "POST /a?b=c HTTP/1.1\r\nHost: h.test\r\nX-One: 1\r\nx-two: 2\r\n"
                    "Content-Length: 3\r\nConnection: keep-alive\r\n\r\n");
    }

    TEST_CASE("Content-Length only where a body is expected") {
        UpstreamRequest g;
        g.headers = {{"Host", "h"}};
        CHECK(*build_request_head(g) ==
              "GET / HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\n\r\n");
        UpstreamRequest p;
        p.method = "PUT";
        CHECK(build_request_head(p)->find("Content-Length: 0\r\n") != std::string::npos);
        CHECK(build_request_head(g, true)->find("Connection: close\r\n") != std::string::npos);
    }

    TEST_CASE("nothing can be injected") {
        UpstreamRequest r;
        r.headers = {{"X", "a\r\nInjected: 1"}};
        CHECK_FALSE(build_request_head(r).is_ok());
        r.headers = {{"X Y", "a"}};
        CHECK_FALSE(build_request_head(r).is_ok());
        r.headers = {};
        r.target = "/a b";
        CHECK_FALSE(build_request_head(r).is_ok());
        r.target = "http://x/";
        CHECK_FALSE(build_request_head(r).is_ok());
        r.target = "/";
        r.method = "GE T";
        CHECK_FALSE(build_request_head(r).is_ok());
        CHECK(build_request_head(r).error().code == "invalid_request");
    }

    TEST_CASE("idempotent methods") {
        CHECK(method_is_idempotent("GET"));
        CHECK(method_is_idempotent("PUT"));
        CHECK(method_is_idempotent("DELETE"));
        CHECK_FALSE(method_is_idempotent("POST"));
        CHECK_FALSE(method_is_idempotent("PATCH"));
        CHECK(std::string(error_kind_name(ErrorKind::first_byte_timeout)) == "first_byte_timeout");
        CHECK(gateway_status(ErrorKind::timeout) == 504);
        CHECK(gateway_status(ErrorKind::connect_refused) == 502);
        CHECK(gateway_status(ErrorKind::no_server) == 503);
    }
}
