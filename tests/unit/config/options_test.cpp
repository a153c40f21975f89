// Tests for the option tables: built-in defaults, table consistency, reload_changes.
#include <doctest/doctest.h>

#include <set>

#include "config/options.hpp"
#include "util/log.hpp"

using namespace ec::config;

TEST_SUITE("config/options") {
    TEST_CASE("built-in defaults match the documented values") {
        const Config& c = defaults();
        REQUIRE(c.listen.size() == 1);
        CHECK(c.listen[0].address == "127.0.0.1:8787");
        CHECK(c.listen[0].serve_kv);
        CHECK(c.listen[0].serve_proxy);
        CHECK(c.listen[0].serve_health);
        CHECK_FALSE(c.listen[0].serve_metrics);
        CHECK(c.listen[0].kv_backend.empty());
        CHECK(c.admin_socket.empty()); // derived by load()
        CHECK(c.admin_listen.empty());
        CHECK(c.admin_token.empty());
        CHECK(c.api_token.empty());
        CHECK(c.data_dir.empty()); // derived by load()
        CHECK(c.map_size == (1ULL << 30));
        CHECK(c.durability == Durability::sync);
        CHECK(c.memory_cache == 256ULL << 20);
        CHECK(c.min_ttl == 60);
        CHECK(c.max_value_size == 25ULL << 20);
        CHECK(c.max_body_size == 100ULL << 20);
        CHECK(c.max_object_size == 64ULL << 20);
        CHECK(c.hot_object_max == 1ULL << 20);
        CHECK(c.max_header_size == 16ULL << 10);
        CHECK(c.header_timeout_ms == 10000);
        CHECK(c.idle_timeout_ms == 60000);
        CHECK(c.max_connections == 10000);
        CHECK(c.drain_timeout_ms == 10000);
        CHECK(c.sync_interval_ms == 1000);
        CHECK(c.max_readers == 126);
        CHECK(c.deferred_concurrency == 16);
        CHECK(c.log_level == "info");
        CHECK(c.access_log.empty());
        CHECK_FALSE(c.honor_client_no_cache);
        CHECK_FALSE(c.expose_tags);
        CHECK_FALSE(c.heuristic_freshness);
        CHECK(c.evictable_namespaces.empty());
        CHECK(c.origins.empty());
        CHECK(c.routes.empty());
    }

    TEST_CASE("section defaults come from their tables alone") {
        // The structs carry no defaults (config.hpp): every value below is a table row's.
        const OriginSpec& o = origin_defaults();
        CHECK(o.connect_timeout_ms == 1000);
        CHECK(o.first_byte_timeout_ms == 0);
        CHECK(o.timeout_ms == 5000);
        CHECK(o.max_connections == 64);
        CHECK(o.health_interval_ms == 5000);
        CHECK(o.dns_refresh_ms == 60000);
        CHECK_FALSE(o.parent);
        CHECK(o.tls == origin_tls_defaults()); // "tls": null keeps the settings, TLS off
        const RouteSpec& r = route_defaults();
        CHECK(r.prefix == "/");
        CHECK(r.ttl == 0);
        CHECK(r.edge_ttl == -1); // null: no extra bound
        CHECK(r.write == WriteMode::invalidate);
        const FleetSpec& f = fleet_defaults();
        CHECK(f.replicas == 3);
        CHECK(f.write_timeout_ms == 2000);
        CHECK_FALSE(defaults().fleet.enabled); // no fleet: a single node
        const OriginTls& ot = origin_tls_defaults();
        CHECK_FALSE(ot.enabled);
        CHECK(ot.verify);
        CHECK(ot.min_version == "1.2");
        const ListenTls& lt = listen_tls_defaults();
        CHECK(lt.certificates.empty());
        CHECK(lt.min_version == "1.2");
        CHECK(lt.handshake_timeout_ms == 10000);
        CHECK(lt.max_handshakes == 256);
        // A listener without TLS, and admin_tls at its default, is the empty object.
        CHECK(defaults().admin_tls == ListenTls{});
    }

    TEST_CASE("every option has a unique name, a group, a one-sentence doc and sane bounds") {
        std::set<std::string_view> names;
        auto check_row = [&](const auto& o) {
            INFO(o.name);
            CHECK_FALSE(o.doc.empty());
            CHECK(o.doc.back() == '.');
            CHECK_FALSE(o.group.empty());
            if (o.type == Type::integer || o.type == Type::duration || o.type == Type::size)
                CHECK(o.min <= o.max);
            if (o.type == Type::enumeration) CHECK(o.choices.find('|') != std::string_view::npos);
        };
        for (const auto& o : config_options()) {
            CHECK(names.insert(o.name).second);
            check_row(o);
            CHECK_FALSE(o.default_json.empty()); // every top-level option has a default
            CHECK(find_option(o.name) == &o);
        }
        for (const auto& o : origin_options())
            check_row(o);
        for (const auto& o : route_options())
            check_row(o);
        for (const auto& o : fleet_options())
            check_row(o);
        CHECK(find_option("no_such_option") == nullptr);
        // Exactly the options the product documents, no more, no fewer.
        std::set<std::string_view> expected = {"listen",
                                               "admin_socket",
                                               "admin_listen",
                                               "admin_tls",
                                               "admin_token",
                                               "api_token",
                                               "data_dir",
                                               "map_size",
                                               "durability",
                                               "memory_cache",
                                               "min_ttl",
                                               "max_value_size",
                                               "max_body_size",
                                               "max_object_size",
                                               "hot_object_max",
                                               "max_header_size",
                                               "header_timeout_ms",
                                               "idle_timeout_ms",
                                               "max_connections",
                                               "max_queued_output",
                                               "max_buffered_bodies",
                                               "drain_timeout_ms",
                                               "sync_interval_ms",
                                               "max_readers",
                                               "deferred_concurrency",
                                               "log_level",
                                               "access_log",
                                               "log_format",
                                               "access_log_format",
                                               "request_id",
                                               "x_forwarded",
                                               "forwarded",
                                               "trusted_proxies",
                                               "honor_client_no_cache",
                                               "expose_tags",
                                               "heuristic_freshness",
                                               "heuristic_freshness_max",
                                               "targeted_cache_control",
                                               "evictable_namespaces",
                                               "error_pages",
                                               "origins",
                                               "routes",
                                               "node",
                                               "fleet"};
        CHECK(names == expected);
    }

    TEST_CASE("reloadable flags follow the brief") {
        auto reloadable = [](std::string_view n) {
            const auto* o = find_option(n);
            REQUIRE(o != nullptr);
            return o->reloadable;
        };
        for (auto n : {"data_dir", "map_size", "durability", "max_readers", "admin_socket"})
            CHECK_MESSAGE(!reloadable(n), n);
        for (auto n :
             {"listen", "admin_token", "api_token", "routes", "origins", "header_timeout_ms",
              "idle_timeout_ms", "max_body_size", "log_level", "access_log"})
            CHECK_MESSAGE(reloadable(n), n);
    }

    TEST_CASE("a section's rows reload as their section does") {
        // reload_changes and keep_restart_only read the top-level rows: a key inside an object
        // reloads with it, so its own column must say the same or it would lie in the docs.
        auto all_rows = [](auto table, bool reloadable) {
            for (const auto& o : table) {
                INFO(o.name);
                CHECK(o.reloadable == reloadable);
            }
        };
        auto top = [](std::string_view name) { return find_option(name)->reloadable; };
        all_rows(origin_options(), top("origins"));
        all_rows(route_options(), top("routes"));
        all_rows(fleet_options(), top("fleet"));
        all_rows(tls_origin_options(), top("origins"));
        all_rows(tls_listen_options(), top("listen"));
        all_rows(tls_listen_options(), top("admin_tls"));
        all_rows(tls_certificate_options(), top("listen"));
    }

    TEST_CASE("reload_changes lists only changed options that need a restart") {
        Config a = defaults();
        Config b = a;
        CHECK(reload_changes(a, b).empty());
        b.log_level = "debug";
        b.listen.push_back(ListenSpec{.address = "127.0.0.1:1"});
        b.routes.push_back(route_defaults());
        CHECK(reload_changes(a, b).empty());
        b.map_size = 2ULL << 30;
        b.data_dir = "/elsewhere";
        b.durability = Durability::batch;
        CHECK(reload_changes(a, b) ==
              std::vector<std::string>{"data_dir", "map_size", "durability"});
    }

    TEST_CASE("log_level choices are exactly the levels util/log understands") {
        const auto* o = find_option("log_level");
        REQUIRE(o != nullptr);
        CHECK(o->choices == "debug|info|warn|error");
        ec::log::Level level;
        for (auto name : {"debug", "info", "warn", "error"})
            CHECK_MESSAGE(ec::log::parse_level(name, &level), name);
        CHECK(ec::log::parse_level(defaults().log_level, &level));
    }

    TEST_CASE("type_name describes enums and nullable types") {
        CHECK(type_name(Type::enumeration, "sync|batch") == "one of sync, batch");
        CHECK(type_name(Type::string, {}, true) == "string or null");
        CHECK(type_name(Type::duration) == "duration (ms)");
    }
}
