// Route choice on the normalised path, the one cache-key derivation, and generations.
#include <doctest/doctest.h>

#include "cache/cache_key.hpp"
#include "cache/generations.hpp"
#include "cache/routes.hpp"
#include "config/options.hpp"

using namespace ec::cache;

namespace {

RouteTable table(std::initializer_list<std::pair<const char*, const char*>> routes) {
    std::vector<ec::config::RouteSpec> specs;
    for (auto [name, prefix] : routes) {
        ec::config::RouteSpec s = ec::config::route_defaults();
        s.name = name;
        s.prefix = prefix;
        specs.push_back(s);
    }
    RouteTable t;
    t.configure(specs, {});
    return t;
}

} // namespace

TEST_SUITE("cache.routes") {
    TEST_CASE("routing_path decodes escapes and removes dot-segments") {
        CHECK(routing_path("/api/x") == "/api/x");
        CHECK(routing_path("/api/..%2Faccount") == "/account");
        CHECK(routing_path("/api/%2e%2e/account") == "/account");
        CHECK(routing_path("/api/..\\account") == "/account");
        CHECK(routing_path("/a/./b/../c/") == "/a/c/");
        CHECK(routing_path("/a/.") == "/a/");
        CHECK(routing_path("/../../etc") == "/etc");
        CHECK(routing_path("/%61pi/") == "/api/");
        CHECK(routing_path("/bad%zz%4") == "/bad%zz%4"); // malformed escapes stay
        CHECK(routing_path("/") == "/");
    }

    TEST_CASE("a path that routes differently once normalised is ambiguous (issue 11 #7)") {
        RouteTable t = table({{"api", "/api/"}, {"root", "/"}});
        auto m = t.match_request("/api/..%2Faccount");
        CHECK(m.ambiguous);
        CHECK(m.route->spec.name == "root");
        m = t.match_request("/account/..%2Fapi/x");
        CHECK(m.ambiguous);
        m = t.match_request("/api/a/../b%20c");
        CHECK_FALSE(m.ambiguous);
        CHECK(m.route->spec.name == "api");
        m = t.match_request("/api/x");
        CHECK_FALSE(m.ambiguous);
        CHECK(m.route->spec.name == "api");
    }
}

TEST_SUITE("cache.key") {
    TEST_CASE("request_key: sorted query, ignored parameters dropped, host normalised") {
        std::vector<std::string> ignore{"utm_*"};
        std::string a = request_key("Shop.Test:80", "/item", "store=1&utm_x=2&sku=9", ignore);
        CHECK(a == request_key("shop.test", "/item", "sku=9&store=1", ignore));
        CHECK(a != request_key("other.test", "/item", "sku=9&store=1", ignore));
        CHECK(request_url("/item", "store=1&utm_x=2&sku=9", ignore) == "/item?sku=9&store=1");
        CHECK(key_url(a) == "/item?sku=9&store=1");
        CHECK(key_host(a) == "shop.test");
        CHECK(key_base(a) == a);
        CHECK(key_base(a + "accept-encoding=gzip\n") == a);
        auto [path, query] = split_target("/p?x=1?y");
        CHECK(path == "/p");
        CHECK(query == "x=1?y");
    }

    TEST_CASE("generations: invalidating one host leaves the others' snapshots valid") {
        Generations g;
        std::vector<std::string> none;
        std::string victim = request_key("victim.test", "/i", "", none);
        std::string attacker = request_key("attacker.test", "/i", "", none);
        auto v = g.snapshot(victim + "accept-encoding=br\n");
        auto a = g.snapshot(attacker);
        g.bump_target(attacker);
        CHECK(g.still_valid(victim + "accept-encoding=br\n", v));
        CHECK_FALSE(g.still_valid(attacker, a));
        g.bump_url("/i"); // a purge of the path: every host
        CHECK_FALSE(g.still_valid(victim, v));
    }
}
