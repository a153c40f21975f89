// Tests for the generated text: --help, the example config, the Markdown reference, to_json.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "config/cli.hpp"
#include "config/docs.hpp"
#include "helpers.hpp"

using namespace ec::config;
using ec::config::test::parse;

namespace {

// systemd/edgecached.json in the source tree (EC_SOURCE_ROOT comes from tests/meson.build).
std::filesystem::path example_file() {
    return std::filesystem::path(EC_SOURCE_ROOT) / "systemd" / "edgecached.json";
}

std::string slurp(const std::filesystem::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

} // namespace

TEST_SUITE("config/docs") {
    TEST_CASE("help_text mentions every flag and every option with its default") {
        std::string help = help_text();
        CHECK(help.starts_with("Usage: edgecached"));
        for (const Flag& f : flags())
            CHECK_MESSAGE(help.find(f.name) != std::string::npos, f.name);
        for (const auto& o : config_options()) {
            INFO(o.name);
            CHECK(help.find("\n  " + std::string(o.name) + "  (") != std::string::npos);
            CHECK(help.find(std::string(o.doc.substr(0, 20))) != std::string::npos);
            CHECK(help.find("default " + std::string(o.default_json)) != std::string::npos);
        }
        for (const auto& o : origin_options())
            CHECK_MESSAGE(help.find("\n  " + std::string(o.name) + "  (") != std::string::npos,
                          o.name);
        for (const auto& o : route_options())
            CHECK_MESSAGE(help.find("\n  " + std::string(o.name) + "  (") != std::string::npos,
                          o.name);
        CHECK(help.find("map_size  (size, 1MiB..64TiB; default \"1GiB\"; restart to change)") !=
              std::string::npos);
        CHECK(help.find("$STATE_DIRECTORY") != std::string::npos);
        std::istringstream lines(help);
        for (std::string line; std::getline(lines, line);)
            CHECK_MESSAGE(line.size() <= 100, line);
    }

    TEST_CASE("the example config loads back to the defaults plus its origin and route") {
        std::string ex = example_config_json();
        CHECK(ex.starts_with("{\n  \"listen\": [\"127.0.0.1:8787\"],\n"));
        CHECK(ex.ends_with("}\n"));
        auto r = parse(ex);
        REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
        Config loaded = r.value();
        // Every top-level option except origins/routes equals the built-in default.
        Config expected = defaults();
        expected.origins = loaded.origins;
        expected.routes = loaded.routes;
        CHECK(to_json(loaded) == to_json(expected));
        CHECK(loaded.map_size == defaults().map_size);
        CHECK(loaded.listen == defaults().listen);

        REQUIRE(loaded.origins.size() == 1);
        OriginSpec origin = origin_defaults();
        origin.name = "app";
        origin.url = "http://127.0.0.1:8080";
        origin.servers = {"127.0.0.1:8080"};
        CHECK(loaded.origins.at("app") == origin);
        REQUIRE(loaded.routes.size() == 1);
        RouteSpec route = route_defaults();
        route.name = "api";
        route.prefix = "/api/";
        route.origin = "app";
        route.ttl_by_status = {{404, 30}};
        route.ignore_query_params = {"utm_*"};
        CHECK(loaded.routes[0] == route);
        // Every origin and route key is spelled out (servers is the alternative to url).
        for (const auto& o : origin_options())
            if (o.name != "servers")
                CHECK_MESSAGE(ex.find("\"" + std::string(o.name) + "\": ") != std::string::npos,
                              o.name);
        for (const auto& o : route_options())
            CHECK_MESSAGE(ex.find("\"" + std::string(o.name) + "\": ") != std::string::npos,
                          o.name);
    }

    TEST_CASE("systemd/edgecached.json is the built-in default, as generated") {
        auto path = example_file();
        REQUIRE_MESSAGE(!path.empty(), "cannot locate the source tree from " __FILE__);
        REQUIRE_MESSAGE(std::filesystem::exists(path), path.string());
        CHECK_MESSAGE(slurp(path) == default_config_json(),
                      "regenerate " << path.string() << " with tools/update-docs");
        // Loading it changes nothing: a fresh install behaves as no config at all.
        auto r = parse(default_config_json());
        REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
        CHECK(to_json(*r) == to_json(defaults()));
    }

    TEST_CASE("systemd/edgecached.example.json is the commented example, and loads") {
        auto path = example_file().parent_path() / "edgecached.example.json";
        REQUIRE_MESSAGE(std::filesystem::exists(path), path.string());
        std::string ex = commented_example_config();
        CHECK_MESSAGE(slurp(path) == ex,
                      "regenerate " << path.string() << " with tools/update-docs");
        auto r = parse(ex);
        REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
        REQUIRE(r->routes.size() == 1);
        CHECK(r->routes[0].prefix == "/api/");
        // Every top-level option, origin key and route key has its doc above it.
        for (const auto& o : config_options())
            CHECK_MESSAGE(ex.find("  // " + std::string(o.doc.substr(0, 30))) != std::string::npos,
                          o.name);
        CHECK(ex.find("      // The origin as \"http://host[:port]\"") != std::string::npos);
        CHECK(ex.find("      // Request path prefix this route serves") != std::string::npos);
    }

    TEST_CASE("reference_markdown has one well-formed row per option") {
        std::string md = reference_markdown();
        CHECK(md.starts_with("| option | type | default | reloadable | description |\n|---|"));
        size_t rows = 0;
        std::istringstream lines(md);
        for (std::string line; std::getline(lines, line);) {
            ++rows;
            size_t pipes = 0;
            for (size_t i = 0; i < line.size(); ++i)
                if (line[i] == '|' && (i == 0 || line[i - 1] != '\\')) ++pipes;
            CHECK_MESSAGE(pipes == 6, line);
        }
        CHECK(rows == 2 + config_options().size() + origin_options().size() +
                          route_options().size() + tls_origin_options().size() +
                          tls_listen_options().size() + tls_certificate_options().size() +
                          fleet_options().size());
        CHECK(md.find("| `map_size` | size, 1MiB..64TiB | `\"1GiB\"` | no |") != std::string::npos);
        CHECK(md.find("| `log_level` | one of debug, info, warn, error | `\"info\"` | yes |") !=
              std::string::npos);
        CHECK(md.find("| `origins.<name>.url` | URL | — | yes |") != std::string::npos);
        CHECK(md.find("| `routes[].origin` | string | required | yes |") != std::string::npos);
    }

    TEST_CASE("to_json masks secrets and loads back to the same config") {
        Config c = defaults();
        c.api_token = "s3cret-api";
        c.admin_token = "s3cret-admin";
        c.admin_listen = "127.0.0.1:8790";
        c.access_log = "-";
        c.listen = {ListenSpec{.address = "127.0.0.1:0"},
                    ListenSpec{.address = "unix:/tmp/k.sock",
                               .serve_kv = false,
                               .serve_proxy = false,
                               .serve_health = false,
                               .kv_backend = "CACHE"},
                    ListenSpec{.address = "[::1]:0", .serve_kv = false, .serve_metrics = true},
                    ListenSpec{.address = "127.0.0.1:0"}};
        // Objects built by hand start from the tables' defaults: the structs carry none.
        c.listen.back().tls = listen_tls_defaults();
        c.listen.back().tls.certificates = {{"a.pem", "a.key", ""}, {"b.pem", "b.key", "b.ocsp"}};
        c.listen.back().tls.handshake_timeout_ms = 500;
        c.admin_tls = listen_tls_defaults();
        c.admin_tls.certificates = {{"adm.pem", "adm.key", ""}};
        OriginSpec pool = origin_defaults();
        pool.name = "pool";
        pool.servers = {"a:1", "b:2"};
        c.origins["pool"] = pool;
        OriginSpec secure = origin_defaults();
        secure.name = "secure";
        secure.servers = {"api.example.com:443"};
        secure.url = "https://api.example.com";
        secure.tls.enabled = true;
        c.origins["secure"] = secure;
        OriginSpec pinned = origin_defaults();
        pinned.name = "pinned";
        pinned.servers = {"10.0.0.1:8443"};
        pinned.tls.enabled = true;
        pinned.tls.ca_file = "ca.pem";
        pinned.tls.server_name = "api.internal";
        pinned.tls.min_version = "1.3";
        c.origins["pinned"] = pinned;
        RouteSpec all = route_defaults();
        all.name = "all";
        all.origin = "pool";
        all.edge_ttl = 30;
        all.write = WriteMode::through;
        c.routes.push_back(all);
        std::string json = to_json(c);
        CHECK(json.find("s3cret") == std::string::npos);
        CHECK(json.find(R"("api_token":"***")") != std::string::npos);
        CHECK(json.find(R"("admin_token":"***")") != std::string::npos);
        CHECK(json.find(R"("map_size":"1GiB")") != std::string::npos);
        CHECK(to_json(defaults()).find(R"("api_token":null)") != std::string::npos);

        auto back = parse(json);
        REQUIRE_MESSAGE(back, (back ? "" : back.error().message));
        CHECK(back->listen == c.listen);
        CHECK(back->origins == c.origins);
        CHECK(back->routes == c.routes);
        CHECK(to_json(back.value()) == json);
        CHECK(back->api_token == "***");
        CHECK(back->admin_tls == c.admin_tls);
        CHECK(json.find(R"("url":"https://api.example.com","host")") != std::string::npos);
    }
}
