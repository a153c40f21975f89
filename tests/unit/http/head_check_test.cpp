// http/head_check: a head's pieces and the Request made from them, request-target forms, Host
// syntax and the head checks, without a socket.
#include <doctest/doctest.h>

#include <string>

#include <sys/socket.h>

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

// Offset of the first `piece` in `head`, as llhttp's callbacks would report it.
uint32_t at(std::string_view head, std::string_view piece) {
    size_t i = head.find(piece);
    REQUIRE(i != std::string_view::npos);
    return static_cast<uint32_t>(i);
}

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

    TEST_CASE("HeadSpans: pieces split across reads join; the Request is made from them") {
        std::string head = "GET /p/q?x=1 HTTP/1.1\r\nHost:  example.com \r\nX-Long: abcdef\r\n\r\n";
        http::HeadSpans spans;
        spans.add_method(at(head, "GET"), 2); // "GE" then "T": the read ended mid-method
        spans.add_method(at(head, "T /"), 1);
        spans.add_url(at(head, "/p/q"), 8);
        REQUIRE(spans.add_name(at(head, "Host"), 4) == http::HeadSpans::Piece::ok);
        spans.name_complete();
        REQUIRE(spans.add_value(at(head, "  example"), 13) == http::HeadSpans::Piece::ok);
        spans.value_complete();
        REQUIRE(spans.add_name(at(head, "X-L"), 3) == http::HeadSpans::Piece::ok);
        REQUIRE(spans.add_name(at(head, "ong:"), 3) == http::HeadSpans::Piece::ok);
        spans.name_complete();
        REQUIRE(spans.add_value(at(head, "abc"), 3) == http::HeadSpans::Piece::ok);
        REQUIRE(spans.add_value(at(head, "def"), 3) == http::HeadSpans::Piece::ok);
        spans.value_complete();
        CHECK(spans.end() == at(head, "\r\n\r\n"));

        http::Request r;
        r.body = "stale body";
        r.expect_continue = true;
        r.route.allowed = 7;
        http::HeadFacts facts;
        facts.method = HTTP_GET;
        facts.version_minor = 1;
        facts.content_length = 0;
        sockaddr peer{};
        http::fill_request(r, spans, head.data(), facts, &peer);
        CHECK(r.method == HTTP_GET);
        CHECK(r.method_name == "GET");
        CHECK(r.target == "/p/q?x=1");
        CHECK(r.path == "/p/q");
        CHECK(r.query == "x=1");
        CHECK(r.host == "example.com"); // the value without its surrounding whitespace
        REQUIRE(r.headers.size() == 2);
        CHECK(r.headers[1].name == "X-Long");
        CHECK(r.headers[1].value == "abcdef");
        CHECK(r.header("x-long") == "abcdef");
        CHECK(r.content_length == 0u);
        CHECK(r.peer == &peer);
        // What the previous request on the connection left is gone.
        CHECK(r.body.empty());
        CHECK_FALSE(r.expect_continue);
        CHECK(r.route.allowed == 0);
    }

    TEST_CASE("HeadSpans: the same spans apply to a copy of the head") {
        std::string head = "PUT http://b.example:8080/k HTTP/1.1\r\nHost: a.example\r\n\r\n";
        http::HeadSpans spans;
        spans.add_method(at(head, "PUT"), 3);
        spans.add_url(at(head, "http:"), 23);
        REQUIRE(spans.add_name(at(head, "Host"), 4) == http::HeadSpans::Piece::ok);
        spans.name_complete();
        REQUIRE(spans.add_value(at(head, "a.example"), 9) == http::HeadSpans::Piece::ok);
        std::string copy = head.substr(0, spans.end());
        head.assign(head.size(), '#'); // the read buffer moved on
        http::Request r;
        http::HeadFacts facts;
        facts.method = HTTP_PUT;
        facts.chunked = true;
        facts.keep_alive = false;
        http::fill_request(r, spans, copy.data(), facts, nullptr);
        CHECK(r.method_name == "PUT");
        CHECK(r.target == "http://b.example:8080/k");
        CHECK(r.host == "b.example:8080"); // an absolute-form target's authority replaces Host
        CHECK(r.path == "/k");
        CHECK(r.header("host") == "a.example");
        CHECK(r.chunked);
        CHECK_FALSE(r.keep_alive);
        CHECK_FALSE(r.content_length);
    }

    TEST_CASE("HeadSpans: refusals — too many fields, a detached name piece, obs-fold") {
        std::string head(4096, 'a');
        http::HeadSpans spans;
        uint32_t off = 0;
        for (size_t i = 0; i < http::Request::kMaxHeaders; ++i) {
            REQUIRE(spans.add_name(off, 1) == http::HeadSpans::Piece::ok);
            spans.name_complete();
            REQUIRE(spans.add_value(off + 2, 1) == http::HeadSpans::Piece::ok);
            spans.value_complete();
            off += 4;
        }
        CHECK(spans.add_name(off, 1) == http::HeadSpans::Piece::too_many);

        spans.clear();
        CHECK(spans.headers.empty());
        REQUIRE(spans.add_name(0, 3) == http::HeadSpans::Piece::ok);
        CHECK(spans.add_name(5, 2) == http::HeadSpans::Piece::bad_name); // not where it ended
        spans.name_complete();
        REQUIRE(spans.add_value(10, 4) == http::HeadSpans::Piece::ok);
        CHECK(spans.add_value(20, 4) == http::HeadSpans::Piece::obs_fold); // a folded line
    }
}
