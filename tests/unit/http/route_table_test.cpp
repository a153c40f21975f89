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

const RouteTable<Row> kTable({
    {kPost, "/kv/{ns}/_bulk/get", 1},
    {kGet, "/kv/{ns}", 2},
    {kGet, "/kv/{ns}/", 2},
    {kPut, "/kv/{ns}", 3},
    {kGet, "/kv/{ns}/{key+}", 4},
    {kPut, "/kv/{ns}/{key+}", 5},
    {kAnyMethod, "/kv/{rest*}", 6},
    {kAnyMethod, "/health", 7},
});

RouteMatch resolve(llhttp_method_t m, std::string_view path) {
    return kTable.resolve(m, path);
}
int row_id(const RouteMatch& m) {
    return m.row ? static_cast<const Row*>(m.row)->id : 0;
}

} // namespace

TEST_SUITE("http/route_table") {

    TEST_CASE("patterns: literals, one-segment captures, rest captures") {
        RouteArgs a{};
        CHECK(PathPattern("/health").match("/health", a));
        CHECK_FALSE(PathPattern("/health").match("/healthz", a));
        CHECK_FALSE(PathPattern("/health").match("/healt", a));
        REQUIRE(PathPattern("/kv/{ns}/{key+}").match("/kv/n%20s/a/b", a));
        CHECK(a[0] == "n%20s");
        CHECK(a[1] == "a/b");
        CHECK_FALSE(PathPattern("/kv/{ns}/{key+}").match("/kv/ns/", a)); // + needs a byte
        REQUIRE(PathPattern("/kv/{ns}/{key*}").match("/kv/ns/", a));
        CHECK(a[1].empty());
        CHECK_FALSE(PathPattern("/kv/{ns}").match("/kv//", a)); // a segment is never empty
        CHECK_FALSE(PathPattern("/kv/{ns}").match("/kv/a/b", a));
        REQUIRE(PathPattern("/a/{x}/b/{y}/c/{z*}").match("/a/1/b/2/c/3/4", a));
        CHECK(a[0] == "1");
        CHECK(a[1] == "2");
        CHECK(a[2] == "3/4");
        CHECK_FALSE(
            PathPattern("/{a}/{b}/{c}/{d}").match("/1/2/3/4", a)); // more than kMaxRouteArgs
        CHECK_FALSE(PathPattern("/{rest*}/x").match("/a/x", a));   // a rest capture must end it
        CHECK_FALSE(PathPattern("/{open").match("/open", a));
        // Refused before the walk: a different number of '/', or not the literal ending.
        CHECK(PathPattern("/a/{x}/b").match("/a/1/b", a));
        CHECK_FALSE(PathPattern("/a/{x}/b").match("/a/1/c/b", a));
        CHECK_FALSE(PathPattern("/kv/{ns}/").match("/kv/a/b", a));
        CHECK_FALSE(PathPattern("/kv/{ns}").match("/kv/a/", a));
        REQUIRE(PathPattern("/kv/{ns}/{key+}").match("/kv/a/b/c/d", a)); // a rest holds any
        CHECK(a[1] == "b/c/d");
        CHECK_FALSE(PathPattern("/kv/{ns}/{key+}").match("/kv/a", a));
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

    TEST_CASE("the index by first segment finds what a walk over every row would") {
        // A capturing first segment is in every group, in table order: here before the "kv"
        // group exists and after it.
        const RouteTable<Row> t({
            {kAnyMethod, "/{x}/special", 1},
            {kGet, "/kv/{ns}", 2},
            {kPost, "/bulk/get", 3},
            {kGet, "/", 4},
            {kGet, "/{key+}", 5},
        });
        auto id = [&](llhttp_method_t m, std::string_view path) {
            RouteMatch r = t.resolve(m, path);
            return r.row ? static_cast<const Row*>(r.row)->id : 0;
        };
        CHECK(id(HTTP_GET, "/kv/special") == 1);
        CHECK(id(HTTP_GET, "/kv/ns") == 2);
        CHECK(id(HTTP_POST, "/bulk/get") == 3);
        CHECK(id(HTTP_GET, "/bulk/get") == 5); // the literal row's method misses: on to captures
        CHECK(id(HTTP_GET, "/") == 4);
        CHECK(id(HTTP_GET, "/elsewhere/deeper") == 5);
        CHECK(id(HTTP_GET, "/bulk") == 5);
        CHECK(id(HTTP_GET, "*") == 0); // no row starts without '/'

        std::vector<std::string_view> patterns = {"/a/{x}", "/{y}", "/b", "/a"};
        RouteIndex index(patterns);
        auto rows = [&](std::string_view path) {
            auto c = index.candidates(path);
            return std::vector<uint16_t>(c.begin(), c.end());
        };
        CHECK(rows("/a/1") == std::vector<uint16_t>{0, 1, 3});
        CHECK(rows("/b") == std::vector<uint16_t>{1, 2});
        CHECK(rows("/c/d") == std::vector<uint16_t>{1});
        CHECK(rows("*") == std::vector<uint16_t>{1});
    }

    TEST_CASE("Allow lists the common methods first, then the rest") {
        CHECK(allow_header(method_bit(HTTP_DELETE) | method_bit(HTTP_GET)) == "GET, DELETE");
        CHECK(allow_header(method_bit(HTTP_PATCH) | kPost) == "POST, PATCH");
        CHECK(allow_header(0).empty());
    }
}

} // namespace ec::http
