// Tests for the structured options: listen entries, origins, routes and cross-option checks.
#include <doctest/doctest.h>

#include "helpers.hpp"

using namespace ec::config;
using ec::config::test::error_of;
using ec::config::test::parse;

TEST_SUITE("config/listen") {
    TEST_CASE("string forms: IPv4, IPv6, unix paths, port 0") {
        auto r = parse(R"({"listen": ["0.0.0.0:80", "[::1]:0", "unix:/run/ec.sock",
                                      "unix:rel.sock", "127.0.0.1:0", "127.0.0.1:0"]})");
        REQUIRE(r);
        REQUIRE(r->listen.size() == 6);
        CHECK(r->listen[0].address == "0.0.0.0:80");
        CHECK(r->listen[1].address == "[::1]:0");
        CHECK(r->listen[2].address == "unix:/run/ec.sock");
        CHECK(r->listen[3].address == "unix:rel.sock");
        for (const auto& l : r->listen) {
            CHECK(l.serve_kv);
            CHECK(l.serve_proxy);
            CHECK(l.serve_health);
            CHECK_FALSE(l.serve_metrics);
            CHECK(l.kv_backend.empty());
        }
    }

    TEST_CASE("object forms: serve subsets and kv_backend") {
        auto r = parse(R"({"listen": [{"address": "127.0.0.1:9100", "serve": ["proxy", "metrics"]},
                                      {"address": "127.0.0.1:8788", "kv_backend": "CACHE"},
                                      {"address": "127.0.0.1:8789"}]})");
        REQUIRE(r);
        REQUIRE(r->listen.size() == 3);
        const ListenSpec& a = r->listen[0];
        CHECK_FALSE(a.serve_kv);
        CHECK(a.serve_proxy);
        CHECK_FALSE(a.serve_health);
        CHECK(a.serve_metrics);
        const ListenSpec& b = r->listen[1];
        CHECK(b.kv_backend == "CACHE");
        CHECK_FALSE((b.serve_kv || b.serve_proxy || b.serve_health || b.serve_metrics));
        CHECK(r->listen[2] == ListenSpec{.address = "127.0.0.1:8789"});
    }

    TEST_CASE("bad addresses name the entry") {
        CHECK(
            error_of(R"({"listen": ["localhost:80"]})") ==
            R"(config.json: listen[0]: expected "a.b.c.d:port", "[ipv6]:port" or "unix:/path", got "localhost:80")");
        CHECK(
            error_of(R"({"listen": ["127.0.0.1:1", "127.0.0.1:70000"]})") ==
            R"(config.json: listen[1]: port must be a number from 0 to 65535, got "127.0.0.1:70000")");
        CHECK(
            error_of(R"({"listen": ["[::1:80"]})").starts_with("config.json: listen[0]: expected"));
        CHECK(error_of(R"({"listen": ["[zz]:80"]})") ==
              R"(config.json: listen[0]: "zz" is not an IPv6 address, got "[zz]:80")");
        CHECK(
            error_of(R"({"listen": ["::1:80"]})").starts_with("config.json: listen[0]: expected"));
        CHECK(error_of(R"({"listen": ["unix:"]})") ==
              R"(config.json: listen[0]: expected a socket path after "unix:", got "unix:")");
        std::string path(108, 'p');
        CHECK(error_of(R"({"listen": ["unix:/)" + path.substr(1) + "\"]}")
                  .starts_with("config.json: listen[0]: the Unix socket path is 108 bytes; the "
                               "limit is 107"));
        // 107 bytes is the longest that fits sun_path with its NUL.
        CHECK(parse(R"({"listen": ["unix:/)" + path.substr(2) + "\"]}"));
        CHECK(error_of(R"({"listen": [8787]})") ==
              "config.json: listen[0]: expected an address string or an object, got 8787");
        CHECK(
            error_of(R"({"listen": "127.0.0.1:1"})") ==
            R"(config.json: listen: expected an array of listeners (strings or objects), got "127.0.0.1:1")");
        CHECK(error_of(R"({"listen": []})") ==
              "config.json: listen: at least one listener is required");
        CHECK(error_of(R"({"listen": ["127.0.0.1:8787", "127.0.0.1:8787"]})") ==
              R"(config.json: listen[1]: duplicate address "127.0.0.1:8787" (also listen[0]))");
    }

    TEST_CASE("bad listener objects") {
        CHECK(
            error_of(
                R"({"listen": [{"address": "127.0.0.1:1", "serve": ["kv"], "kv_backend": "A"}]})") ==
            "config.json: listen[0]: \"serve\" and \"kv_backend\" are exclusive: a kv_backend "
            "listener speaks only the workerd KV protocol");
        CHECK(
            error_of(R"({"listen": [{"address": "127.0.0.1:1", "serve": ["kv", "ftp"]}]})") ==
            R"(config.json: listen[0].serve[1]: expected one of "kv", "proxy", "health", "metrics", got "ftp")");
        CHECK(error_of(R"({"listen": [{"address": "127.0.0.1:1", "serve": ["kv", "kv"]}]})") ==
              R"(config.json: listen[0].serve[1]: duplicate "kv")");
        CHECK(error_of(R"({"listen": [{"address": "127.0.0.1:1", "serve": []}]})")
                  .starts_with("config.json: listen[0].serve: expected a non-empty array"));
        CHECK(error_of(R"({"listen": [{"serve": ["kv"]}]})") ==
              R"(config.json: listen[0]: missing required key "address")");
        CHECK(error_of(R"({"listen": [{"adress": "127.0.0.1:1"}]})") ==
              R"(config.json: listen[0].adress: unknown key (did you mean "address"?))");
        CHECK(
            error_of(R"({"listen": [{"address": "127.0.0.1:1", "kv_backend": "a/b"}]})") ==
            R"(config.json: listen[0].kv_backend: a namespace title cannot contain "/", got "a/b")");
        CHECK(error_of(R"({"listen": [{"address": "nowhere"}]})")
                  .starts_with("config.json: listen[0].address: expected"));
    }
}

TEST_SUITE("config/origins") {
    TEST_CASE("url and servers forms with their options") {
        auto r = parse(R"({"origins": {
            "api": {"url": "http://127.0.0.1:9000", "timeout_ms": 2500, "host": "api.example"},
            "plain": {"url": "HTTP://backend.internal/"},
            "v6": {"url": "http://[::1]:81"},
            "pool": {"servers": ["127.0.0.1:9001", "b.internal:9002"], "connect_timeout_ms": 50,
                     "first_byte_timeout_ms": 700, "max_connections": 8,
                     "health_check": "/healthz", "health_interval_ms": 1000,
                     "dns_refresh_ms": 0}}})");
        REQUIRE(r);
        REQUIRE(r->origins.size() == 4);
        const OriginSpec& api = r->origins.at("api");
        CHECK(api.name == "api");
        CHECK(api.servers == std::vector<std::string>{"127.0.0.1:9000"});
        CHECK(api.url == "http://127.0.0.1:9000");
        CHECK(api.timeout_ms == 2500);
        CHECK(api.host == "api.example");
        CHECK(api.connect_timeout_ms == 1000); // default kept
        CHECK(r->origins.at("plain").servers == std::vector<std::string>{"backend.internal:80"});
        CHECK(r->origins.at("v6").servers == std::vector<std::string>{"[::1]:81"});
        const OriginSpec& pool = r->origins.at("pool");
        CHECK(pool.url.empty());
        CHECK(pool.servers == std::vector<std::string>{"127.0.0.1:9001", "b.internal:9002"});
        CHECK(pool.connect_timeout_ms == 50);
        CHECK(pool.first_byte_timeout_ms == 700);
        CHECK(pool.max_connections == 8);
        CHECK(pool.health_check == "/healthz");
        CHECK(pool.health_interval_ms == 1000);
        CHECK(pool.dns_refresh_ms == 0);
    }

    TEST_CASE("https origins turn TLS on; a tls object sets it up or enables it for servers") {
        auto r = parse(R"({"origins": {
            "a": {"url": "https://api.example.com"},
            "b": {"url": "https://[::1]:8443", "tls": {"ca_file": "ca.pem", "verify": false,
                  "server_name": "api.internal", "client_cert": "c.pem", "client_key": "c.key",
                  "min_version": "1.3"}},
            "c": {"servers": ["10.0.0.1:443", "10.0.0.2:443"], "tls": {}},
            "d": {"url": "http://h:80"},
            "e": {"tls": null, "url": "https://h"}}})");
        REQUIRE(r);
        const OriginSpec& a = r->origins.at("a");
        CHECK(a.servers == std::vector<std::string>{"api.example.com:443"});
        CHECK(a.tls.enabled);
        CHECK(a.tls.verify);
        CHECK(a.tls.ca_file.empty());
        CHECK(a.tls.min_version == "1.2");
        const OriginTls& b = r->origins.at("b").tls;
        CHECK(b.enabled);
        CHECK_FALSE(b.verify);
        CHECK(b.ca_file == "ca.pem");
        CHECK(b.server_name == "api.internal");
        CHECK(b.client_cert == "c.pem");
        CHECK(b.client_key == "c.key");
        CHECK(b.min_version == "1.3");
        CHECK(r->origins.at("c").tls.enabled);
        CHECK_FALSE(r->origins.at("d").tls.enabled);
        const OriginTls& e = r->origins.at("e").tls; // null, then the url turns TLS on
        CHECK(e.enabled);
        CHECK(e.verify);
        CHECK(e.min_version == "1.2");
        CHECK(error_of(R"({"origins": {"api": {"url": "http://h", "tls": {}}}})") ==
              "config.json: origins.api.tls: TLS settings for an http:// url; write the url as "
              "https://");
        CHECK(
            error_of(
                R"({"origins": {"api": {"url": "https://h", "tls": {"min_version": "1.1"}}}})") ==
            R"(config.json: origins.api.tls.min_version: expected one of "1.2", "1.3", got "1.1")");
        CHECK(error_of(R"({"origins": {"api": {"url": "https://h", "tls": {"verfy": false}}}})")
                  .starts_with("config.json: origins.api.tls.verfy: unknown key"));
    }

    TEST_CASE("TLS listeners and admin_tls") {
        auto r = parse(R"({"listen": ["127.0.0.1:0",
            {"address": "0.0.0.0:443", "tls": {"certificates": [
                {"cert": "a.pem", "key": "a.key"},
                {"cert": "b.pem", "key": "b.key", "ocsp": "b.ocsp"}],
             "handshake_timeout_ms": 2000}}],
            "admin_listen": "127.0.0.1:0", "admin_token": "t",
            "admin_tls": {"certificates": [{"cert": "adm.pem", "key": "adm.key"}]}})");
        REQUIRE(r);
        CHECK(r->listen[0].tls.certificates.empty());
        const ListenTls& t = r->listen[1].tls;
        REQUIRE(t.certificates.size() == 2);
        CHECK(t.certificates[0] == CertificateSpec{"a.pem", "a.key", ""});
        CHECK(t.certificates[1].ocsp == "b.ocsp");
        CHECK(t.handshake_timeout_ms == 2000);
        CHECK(t.max_handshakes == 256);
        CHECK(t.min_version == "1.2");
        CHECK(r->admin_tls.certificates.at(0).cert == "adm.pem");
        CHECK(error_of(R"({"listen": [{"address": "127.0.0.1:1", "tls": {}}]})") ==
              R"(config.json: listen[0].tls: missing required key "certificates")");
        CHECK(error_of(R"({"listen": [{"address": "127.0.0.1:1", "tls": {"certificates": []}}]})")
                  .starts_with("config.json: listen[0].tls.certificates: expected a non-empty"));
        CHECK(error_of(R"({"listen": [{"address": "127.0.0.1:1", "tls": {"certificates":
                          [{"cert": "a.pem"}]}}]})") ==
              R"(config.json: listen[0].tls.certificates[0]: missing required key "key")");
        CHECK(error_of(R"({"admin_tls": {"certificates": [{"cert": "a", "key": "b"}]}})") ==
              "config.json: admin_tls: requires admin_listen: TLS applies to the TCP admin API");
    }

    TEST_CASE("bad origins name the field") {
        CHECK(error_of(R"({"origins": {"api": {"url": "http://h:1/base"}}})")
                  .starts_with("config.json: origins.api.url: an origin URL cannot have a path"));
        CHECK(
            error_of(R"({"origins": {"api": {"url": "ftp://h"}}})") ==
            R"(config.json: origins.api.url: expected an http:// or https:// URL like "http://127.0.0.1:9000")");
        CHECK(error_of(R"({"origins": {"api": {"url": "http://u:p@h:1"}}})") ==
              "config.json: origins.api.url: user info in an origin URL is not supported");
        CHECK(error_of(R"({"origins": {"api": {"url": "http://h:0"}}})") ==
              "config.json: origins.api.url: port must be a number from 1 to 65535");
        CHECK(
            error_of(R"({"origins": {"pool": {"servers": ["a:1", "b"]}}})") ==
            R"(config.json: origins.pool.servers[1]: expected "host:port" (IPv6 as "[::1]:port"), got "b")");
        CHECK(error_of(R"({"origins": {"pool": {"servers": ["a:1", "a:1"]}}})") ==
              R"(config.json: origins.pool.servers[1]: duplicate server "a:1")");
        CHECK(
            error_of(R"({"origins": {"pool": {"servers": ["999.1.1.1:80"]}}})") ==
            R"(config.json: origins.pool.servers[0]: "999.1.1.1" is not a host name or IP address, got "999.1.1.1:80")");
        CHECK(error_of(R"({"origins": {"pool": {"servers": []}}})")
                  .starts_with("config.json: origins.pool.servers: expected a non-empty array"));
        CHECK(error_of(R"({"origins": {"api": {"url": "http://h", "servers": ["h:80"]}}})") ==
              R"(config.json: origins.api: "url" and "servers" are exclusive; give one of them)");
        CHECK(error_of(R"({"origins": {"api": {"timeout_ms": 10}}})") ==
              R"(config.json: origins.api: missing required key "url" or "servers")");
        CHECK(error_of(R"({"origins": {"my origin": {"url": "http://h"}}})") ==
              "config.json: origins[\"my origin\"]: an origin name may contain only letters, "
              "digits, \"_\", \"-\" and \".\"");
        CHECK(error_of(R"({"origins": {"api": {"url": "http://h", "timeout_ms": 0}}})") ==
              "config.json: origins.api.timeout_ms: must be between 1 and 3600000, got 0");
        CHECK(
            error_of(R"({"origins": {"api": {"url": "http://h", "health_check": "healthz"}}})") ==
            R"(config.json: origins.api.health_check: must be a path starting with "/", got "healthz")");
        CHECK(error_of(R"({"origins": {"api": {"url": "http://h", "timeout": 5}}})") ==
              R"(config.json: origins.api.timeout: unknown key (did you mean "timeout_ms"?))");
        CHECK(error_of(R"({"origins": {"api": {"url": "http://h", "host": "a b"}}})")
                  .starts_with("config.json: origins.api.host: must be a host[:port]"));
        CHECK(error_of(R"({"origins": ["http://h"]})")
                  .starts_with(
                      "config.json: origins: expected an object mapping origin names to origins"));
        CHECK(error_of(R"({"origins": {"api": "http://h"}})") ==
              R"(config.json: origins.api: expected an object, got "http://h")");
    }
}

TEST_SUITE("config/routes") {
    constexpr const char* origin = R"("origins": {"api": {"url": "http://127.0.0.1:9000"}})";

    std::string with_routes(const std::string& routes) {
        return std::string("{") + origin + R"(, "routes": )" + routes + "}";
    }

    TEST_CASE("every route key") {
        auto r = parse(with_routes(R"([{"name": "api", "prefix": "/api/", "origin": "api",
            "ttl": 60, "force_ttl": true, "edge_ttl": 300, "stale_while_revalidate": 30,
            "stale_if_error": 600, "ttl_by_status": {"404": 30, "500": 5},
            "ignore_query_params": ["utm_*", "fbclid"], "write": "through"}])"));
        REQUIRE(r);
        REQUIRE(r->routes.size() == 1);
        const RouteSpec& rt = r->routes[0];
        CHECK(rt.name == "api");
        CHECK(rt.prefix == "/api/");
        CHECK(rt.origin == "api");
        CHECK(rt.ttl == 60);
        CHECK(rt.force_ttl);
        CHECK(rt.edge_ttl == 300);
        CHECK(rt.stale_while_revalidate == 30);
        CHECK(rt.stale_if_error == 600);
        CHECK(rt.ttl_by_status == std::map<int, int64_t>{{404, 30}, {500, 5}});
        CHECK(rt.ignore_query_params == std::vector<std::string>{"utm_*", "fbclid"});
        CHECK(rt.write == WriteMode::through);
    }

    TEST_CASE("omitted keys take the table defaults") {
        auto r = parse(with_routes(R"([{"origin": "api", "edge_ttl": null}])"));
        REQUIRE(r);
        const RouteSpec& rt = r->routes[0];
        CHECK(rt.prefix == "/");
        CHECK(rt.name == "root");
        CHECK(rt.ttl == 0);
        CHECK_FALSE(rt.force_ttl);
        CHECK(rt.edge_ttl == -1);
        CHECK(rt.write == WriteMode::invalidate);
    }

    TEST_CASE("the path in an error counts routes from zero") {
        CHECK(error_of(with_routes(
                  R"([{"origin": "api"}, {"prefix": "/x/", "origin": "api", "ttl": "abc"}])")) ==
              R"(config.json: routes[1].ttl: expected a non-negative integer, got "abc")");
    }

    TEST_CASE("a route must name a defined origin") {
        CHECK(error_of(with_routes(R"([{"prefix": "/a/", "origin": "nope"}])")) ==
              R"(config.json: routes[0].origin: unknown origin "nope" (defined: api))");
        CHECK(error_of(R"({"routes": [{"origin": "api"}]})") ==
              R"(config.json: routes[0].origin: unknown origin "api" (no origins are defined))");
        CHECK(error_of(with_routes(R"([{"prefix": "/a/"}])")) ==
              R"(config.json: routes[0]: missing required key "origin")");
    }

    TEST_CASE("bad route values") {
        CHECK(error_of(with_routes(R"([{"prefix": "api", "origin": "api"}])")) ==
              R"(config.json: routes[0].prefix: must be a path starting with "/", got "api")");
        CHECK(
            error_of(with_routes(R"([{"origin": "api", "ttl_by_status": {"4xx": 1}}])")) ==
            R"(config.json: routes[0].ttl_by_status["4xx"]: expected a 3-digit HTTP status (100-599) as the key)");
        CHECK(
            error_of(with_routes(R"([{"origin": "api", "ttl_by_status": {"404": -1}}])")) ==
            R"(config.json: routes[0].ttl_by_status["404"]: expected a non-negative integer (seconds), got -1)");
        CHECK(error_of(with_routes(R"([{"origin": "api", "ttl_by_status": [404]}])"))
                  .starts_with("config.json: routes[0].ttl_by_status: expected an object"));
        CHECK(
            error_of(
                with_routes(R"([{"origin": "api", "ignore_query_params": ["utm_*", "*x"]}])")) ==
            R"(config.json: routes[0].ignore_query_params[1]: must be a parameter name or a "prefix*" pattern, got "*x")");
        CHECK(
            error_of(with_routes(R"([{"origin": "api", "write": "maybe"}])")) ==
            R"(config.json: routes[0].write: expected one of "invalidate", "through", got "maybe")");
        CHECK(error_of(with_routes(R"([{"origin": "api", "edge_ttl": -2}])")) ==
              "config.json: routes[0].edge_ttl: expected a non-negative integer or null, got -2");
        CHECK(error_of(with_routes(R"([{"origin": "api", "tll": 5}])")) ==
              R"(config.json: routes[0].tll: unknown key (did you mean "ttl"?))");
        CHECK(error_of(with_routes(R"([{"origin": "api", "name": "a b"}])"))
                  .starts_with("config.json: routes[0].name: may contain only"));
        CHECK(error_of(with_routes(R"({"origin": "api"})"))
                  .starts_with("config.json: routes: expected an array of route objects"));
    }

    TEST_CASE("names derive from prefixes and must be unique; prefixes must be unique") {
        auto r = parse(with_routes(R"([{"prefix": "/api/v1/", "origin": "api"},
                                       {"prefix": "/static", "origin": "api"}])"));
        REQUIRE(r);
        CHECK(r->routes[0].name == "api_v1");
        CHECK(r->routes[1].name == "static");
        CHECK(error_of(with_routes(R"([{"prefix": "/api", "origin": "api"},
                                       {"prefix": "/api/", "origin": "api"}])")) ==
              "config.json: routes[1]: duplicate route name \"api\" (also routes[0]); the name was "
              "derived from the prefix, set \"name\" to tell them apart");
        CHECK(error_of(with_routes(R"([{"name": "x", "prefix": "/a/", "origin": "api"},
                                       {"name": "x", "prefix": "/b/", "origin": "api"}])")) ==
              R"(config.json: routes[1].name: duplicate route name "x" (also routes[0]))");
        CHECK(error_of(with_routes(R"([{"name": "x", "prefix": "/a/", "origin": "api"},
                                       {"name": "y", "prefix": "/a/", "origin": "api"}])")) ==
              R"(config.json: routes[1].prefix: duplicate prefix "/a/" (also routes[0]))");
    }

    TEST_CASE("routes are sorted longest prefix first, ties in file order") {
        auto r = parse(with_routes(R"([{"prefix": "/", "origin": "api"},
                                       {"prefix": "/api/", "origin": "api"},
                                       {"prefix": "/img/", "origin": "api"},
                                       {"prefix": "/api/v1/", "origin": "api"}])"));
        REQUIRE(r);
        std::vector<std::string> order;
        for (const auto& rt : r->routes)
            order.push_back(rt.prefix);
        CHECK(order == std::vector<std::string>{"/api/v1/", "/api/", "/img/", "/"});
    }

    TEST_CASE("a file's origins and routes replace the base's whole") {
        Config base = defaults();
        base.origins["old"] = origin_defaults();
        base.origins["old"].servers = {"h:1"};
        auto r = load_json(R"({"origins": {"new": {"url": "http://h:2"}}})", "f", base);
        REQUIRE(r);
        CHECK(r->origins.size() == 1);
        CHECK(r->origins.count("new") == 1);
    }
}
