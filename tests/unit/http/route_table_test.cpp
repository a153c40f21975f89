// Tests for route tables: path patterns, resolution order, 405s and Allow headers.
#include <doctest/doctest.h>

#include <vector>

#include "http/route_table.hpp"

// Inside ec::http rather than `using namespace`: the ASan tree is a unity build, and a
// file-scope using-directive would leak into the origin tests compiled after this file.
namespace ec::http {
namespace {

struct Row {
    Methods methods;
    std::string_view pattern;
    int id;
};

const Methods kGet = method_bit(HTTP_GET) | method_bit(HTTP_HEAD);
const Methods kPut = method_bit(HTTP_PUT);
const Methods kPost = method_bit(HTTP_POST);

const std::vector<Row> kRows = {
    {kPost, "/kv/{ns}/_bulk/get", 1}, {kGet, "/kv/{ns}", 2},
    {kGet, "/kv/{ns}/", 2},           {kPut, "/kv/{ns}", 3},
    {kGet, "/kv/{ns}/{key+}", 4},     {kPut, "/kv/{ns}/{key+}", 5},
    {kAnyMethod, "/kv/{rest*}", 6},   {kAnyMethod, "/health", 7},
};

RouteMatch resolve(llhttp_method_t m, std::string_view path) {
    return resolve_route(std::span<const Row>(kRows), m, path, [](const Row&) { return true; });
}
int row_id(const RouteMatch& m) {
    return m.row ? static_cast<const Row*>(m.row)->id : 0;
}

} // namespace

TEST_SUITE("http/route_table") {

    TEST_CASE("patterns: literals, one-segment captures, rest captures") {
        RouteArgs a{};
        CHECK(match_path("/health", "/health", a));
        CHECK_FALSE(match_path("/health", "/healthz", a));
        CHECK_FALSE(match_path("/health", "/healt", a));
        REQUIRE(match_path("/kv/{ns}/{key+}", "/kv/n%20s/a/b", a));
        CHECK(a[0] == "n%20s");
        CHECK(a[1] == "a/b");
        CHECK_FALSE(match_path("/kv/{ns}/{key+}", "/kv/ns/", a)); // + needs a byte
        REQUIRE(match_path("/kv/{ns}/{key*}", "/kv/ns/", a));
        CHECK(a[1].empty());
        CHECK_FALSE(match_path("/kv/{ns}", "/kv//", a)); // a segment is never empty
        CHECK_FALSE(match_path("/kv/{ns}", "/kv/a/b", a));
        REQUIRE(match_path("/a/{x}/b/{y}/c/{z*}", "/a/1/b/2/c/3/4", a));
        CHECK(a[0] == "1");
        CHECK(a[1] == "2");
        CHECK(a[2] == "3/4");
        CHECK_FALSE(match_path("/{a}/{b}/{c}/{d}", "/1/2/3/4", a)); // more than kMaxRouteArgs
    }

    TEST_CASE("the first row matching path and method wins, literals before captures") {
        CHECK(row_id(resolve(HTTP_POST, "/kv/ns/_bulk/get")) == 1);
        // Another method on the literal path falls through to the key rows.
        RouteMatch m = resolve(HTTP_GET, "/kv/ns/_bulk/get");
        CHECK(row_id(m) == 4);
        CHECK(m.args[1] == "_bulk/get");
        CHECK(row_id(resolve(HTTP_HEAD, "/kv/ns")) == 2);
        CHECK(row_id(resolve(HTTP_GET, "/kv/ns/")) == 2);
        CHECK(row_id(resolve(HTTP_PUT, "/kv/ns")) == 3);
        CHECK(row_id(resolve(HTTP_PUT, "/kv/ns/k")) == 5);
        CHECK(row_id(resolve(HTTP_DELETE, "/health")) == 7);
    }

    TEST_CASE("a path some row takes with another method is a 405 with every method it takes") {
        RouteMatch m = resolve(HTTP_POST, "/kv/ns/k");
        CHECK(m.row == nullptr);
        REQUIRE(m.path_row != nullptr);
        CHECK(static_cast<const Row*>(m.path_row)->id == 4);
        CHECK(m.allowed == (kGet | kPut));
        CHECK(allow_header(m.allowed) == "GET, HEAD, PUT");
        // The catch-all takes only what no earlier row's pattern matched.
        CHECK(row_id(resolve(HTTP_DELETE, "/kv/")) == 6);
        CHECK(row_id(resolve(HTTP_PATCH, "/kv/ns")) == 0);
        RouteMatch none = resolve(HTTP_GET, "/elsewhere");
        CHECK(none.row == nullptr);
        CHECK(none.path_row == nullptr);
    }

    TEST_CASE("Allow lists the common methods first, then the rest") {
        CHECK(allow_header(method_bit(HTTP_DELETE) | method_bit(HTTP_GET)) == "GET, DELETE");
        CHECK(allow_header(method_bit(HTTP_PATCH) | kPost) == "POST, PATCH");
        CHECK(allow_header(0).empty());
    }
}

} // namespace ec::http
