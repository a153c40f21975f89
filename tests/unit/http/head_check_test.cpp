// http/head_check: request-target forms, Host syntax and the head checks, without a socket.
#include <doctest/doctest.h>

#include <string>

#include "http/head_check.hpp"

using namespace ec;
using http::HeadError;

namespace {

// A request as the parser would hand it over: method, target, version, headers.
struct HeadFixture {
    http::Request r;
    explicit HeadFixture(std::string_view target, llhttp_method_t m = HTTP_GET, int minor = 1) {
        r.method = m;
        r.target = target;
        r.version_minor = static_cast<uint8_t>(minor);
    }
    HeadFixture& with(std::string_view name, std::string_view value) {
        r.headers.push_back({name, value});
        return *this;
    }
    HeadError check(int major = 1) {
        http::split_target(r);
        return http::check_request_head(r, major);
    }
};

std::string code_of(HeadError e) {
    return e ? std::string(std::to_string(e.status)) + " " + e.code : "ok";
}

} // namespace

TEST_SUITE("http/head_check") {

    TEST_CASE("valid_authority: host[:port], IP literals, nothing else") {
        CHECK(http::valid_authority("example.com", false));
        CHECK(http::valid_authority("example.com:8080", false));
        CHECK(http::valid_authority("[::1]:80", false));
        CHECK(http::valid_authority("", true));
        CHECK_FALSE(http::valid_authority("", false));
        CHECK_FALSE(http::valid_authority("user@example.com", false));
        CHECK_FALSE(http::valid_authority("example.com/path", false));
        CHECK_FALSE(http::valid_authority("exa mple.com", false));
        CHECK_FALSE(http::valid_authority("example.com:80x", false));
        CHECK_FALSE(http::valid_authority(":80", false));
        CHECK_FALSE(http::valid_authority("[]:80", false));
        CHECK_FALSE(http::valid_authority("[::1]x", false));
    }

    TEST_CASE("split_target: origin-form, absolute-form and asterisk-form") {
        http::Request r;
        r.target = "/a/b?x=1&y";
        http::split_target(r);
        CHECK(r.path == "/a/b");
        CHECK(r.query == "x=1&y");
        r = {};
        r.host = "from-header";
        r.target = "http://example.com:81/p?q";
        http::split_target(r);
        CHECK(r.host == "example.com:81"); // the target's authority replaces Host
        CHECK(r.path == "/p");
        CHECK(r.query == "q");
        r = {};
        r.target = "http://example.com";
        http::split_target(r);
        CHECK(r.path == "/");
        r = {};
        r.target = "*";
        http::split_target(r);
        CHECK(r.path == "*");
    }

    TEST_CASE("acceptable heads") {
        CHECK(code_of(HeadFixture("/").with("Host", "a").check()) == "ok");
        CHECK(code_of(HeadFixture("/", HTTP_GET, 0).check()) == "ok"); // HTTP/1.0: Host optional
        CHECK(code_of(HeadFixture("*", HTTP_OPTIONS).with("Host", "a").check()) == "ok");
        CHECK(code_of(HeadFixture("http://a.example/x").with("Host", "b").check()) == "ok");
        HeadFixture te("/", HTTP_POST);
        CHECK(code_of(te.with("Host", "a").with("Transfer-Encoding", "chunked").check()) == "ok");
    }

    TEST_CASE("each refusal names its reason") {
        CHECK(code_of(HeadFixture("/").with("Host", "a").check(2)) ==
              "505 http_version_not_supported");
        CHECK(code_of(HeadFixture("a:443", HTTP_CONNECT).with("Host", "a").check()) ==
              "405 method_not_allowed");
        CHECK(code_of(HeadFixture("https://a/").with("Host", "a").check()) == "400 bad_target");
        CHECK(code_of(HeadFixture("*").with("Host", "a").check()) == "400 bad_target");
        CHECK(code_of(HeadFixture("http:///x").with("Host", "a").check()) == "400 bad_target");
        CHECK(code_of(HeadFixture("/").with("Host", "a").with("Bad Name", "v").check()) ==
              "400 bad_header_name");
        CHECK(code_of(HeadFixture("/").with("Host", "a b").check()) == "400 bad_host");
        CHECK(code_of(HeadFixture("/").check()) == "400 missing_host");
        CHECK(code_of(HeadFixture("/").with("Host", "a").with("Host", "b").check()) ==
              "400 duplicate_host");
        CHECK(
            code_of(HeadFixture("/", HTTP_POST, 0).with("Transfer-Encoding", "chunked").check()) ==
            "400 bad_transfer_encoding");
        CHECK(code_of(HeadFixture("/", HTTP_POST)
                          .with("Host", "a")
                          .with("Transfer-Encoding", "gzip, chunked")
                          .check()) == "501 unsupported_transfer_encoding");
        CHECK(code_of(HeadFixture("/", HTTP_POST)
                          .with("Host", "a")
                          .with("Transfer-Encoding", "chunked, gzip")
                          .check()) == "400 bad_transfer_encoding");
        CHECK(code_of(HeadFixture("/").with("Host", "a").with("Expect", "magic").check()) ==
              "417 expectation_failed");
    }

    TEST_CASE("Expect: 100-continue is honoured in HTTP/1.1 only") {
        HeadFixture h11("/", HTTP_PUT);
        CHECK_FALSE(h11.with("Host", "a").with("Expect", "100-continue").check());
        CHECK(h11.r.expect_continue);
        HeadFixture h10("/", HTTP_PUT, 0);
        CHECK_FALSE(h10.with("Expect", "100-continue").check());
        CHECK_FALSE(h10.r.expect_continue);
    }
}
