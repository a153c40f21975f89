// Tests for scalar option parsing: each type accepted and rejected, with the JSON path named.
#include <doctest/doctest.h>

#include "helpers.hpp"

using namespace ec::config;
using ec::config::test::error_of;
using ec::config::test::parse;

TEST_SUITE("config/values") {
    TEST_CASE("booleans") {
        auto r = parse(R"({"expose_tags": true, "heuristic_freshness": true})");
        REQUIRE(r);
        CHECK(r->expose_tags);
        CHECK(r->heuristic_freshness);
        CHECK_FALSE(r->honor_client_no_cache);
        CHECK(error_of(R"({"expose_tags": "yes"})") ==
              R"(config.json: expose_tags: expected true or false, got "yes")");
        CHECK(error_of(R"({"expose_tags": 1})") ==
              "config.json: expose_tags: expected true or false, got 1");
    }

    TEST_CASE("integers: type, sign and bounds") {
        auto r = parse(R"({"min_ttl": 1, "max_connections": 5, "max_readers": 1000})");
        REQUIRE(r);
        CHECK(r->min_ttl == 1);
        CHECK(r->max_connections == 5);
        CHECK(r->max_readers == 1000);
        CHECK(error_of(R"({"min_ttl": 0})") ==
              "config.json: min_ttl: must be between 1 and 31536000, got 0");
        CHECK(error_of(R"({"min_ttl": 31536001})") ==
              "config.json: min_ttl: must be between 1 and 31536000, got 31536001");
        CHECK(error_of(R"({"min_ttl": "60"})") ==
              R"(config.json: min_ttl: expected a non-negative integer, got "60")");
        CHECK(error_of(R"({"min_ttl": -5})") ==
              "config.json: min_ttl: expected a non-negative integer, got -5");
        CHECK(error_of(R"({"min_ttl": 1.5})") ==
              "config.json: min_ttl: expected a non-negative integer, got 1.5");
        CHECK(error_of(R"({"max_connections": 18446744073709551615})") ==
              "config.json: max_connections: must be between 1 and 1000000, got "
              "18446744073709551615");
    }

    TEST_CASE("durations in milliseconds") {
        auto r = parse(R"({"idle_timeout_ms": 500, "drain_timeout_ms": 0})");
        REQUIRE(r);
        CHECK(r->idle_timeout_ms == 500);
        CHECK(r->drain_timeout_ms == 0);
        CHECK(error_of(R"({"idle_timeout_ms": "10s"})") ==
              "config.json: idle_timeout_ms: expected a duration in milliseconds (a non-negative "
              "integer), got \"10s\"");
        CHECK(error_of(R"({"header_timeout_ms": 5})") ==
              "config.json: header_timeout_ms: must be between 100 and 3600000, got 5");
    }

    TEST_CASE("sizes: numbers or unit strings, within bounds") {
        auto r = parse(R"({"map_size": "4GiB", "memory_cache": 2097152, "max_value_size": "1 MB",
                           "hot_object_max": "0", "max_header_size": "1KiB"})");
        REQUIRE(r);
        CHECK(r->map_size == 4ULL << 30);
        CHECK(r->memory_cache == 2ULL << 20);
        CHECK(r->max_value_size == 1000000); // MB is 10^6, MiB 2^20
        CHECK(r->hot_object_max == 0);
        CHECK(r->max_header_size == 1024);
        CHECK(
            error_of(R"({"map_size": "lots"})") ==
            R"(config.json: map_size: expected a size: bytes, or a string like "256MiB" (KiB, MiB, GiB, TiB are powers of 1024; kB, MB, GB, TB powers of 1000), got "lots")");
        CHECK(error_of(R"({"map_size": "512KiB"})") ==
              R"(config.json: map_size: must be between 1MiB and 64TiB, got "512KiB")");
        CHECK(error_of(R"({"max_header_size": 2097152})") ==
              "config.json: max_header_size: must be between 1KiB and 1MiB, got 2097152");
        CHECK(
            error_of(R"({"map_size": -1})") ==
            R"(config.json: map_size: expected a size: bytes, or a string like "256MiB" (KiB, MiB, GiB, TiB are powers of 1024; kB, MB, GB, TB powers of 1000), got -1)");
        CHECK(
            error_of(R"({"map_size": 1.5})") ==
            R"(config.json: map_size: expected a size: bytes, or a string like "256MiB" (KiB, MiB, GiB, TiB are powers of 1024; kB, MB, GB, TB powers of 1000), got 1.5)");
        CHECK(error_of(R"({"map_size": "99999999999999999999999GiB"})").find("expected a size") !=
              std::string::npos);
    }

    TEST_CASE("strings, nullable strings and their checks") {
        auto r = parse(R"({"data_dir": "/srv/ec", "api_token": "s3cret", "access_log": "-",
                           "admin_token": null})");
        REQUIRE(r);
        CHECK(r->data_dir == "/srv/ec");
        CHECK(r->api_token == "s3cret");
        CHECK(r->access_log == "-");
        CHECK(r->admin_token.empty());
        CHECK(error_of(R"({"data_dir": 5})") == "config.json: data_dir: expected a string, got 5");
        CHECK(error_of(R"({"data_dir": null})") ==
              "config.json: data_dir: expected a string, got null");
        CHECK(error_of(R"({"api_token": 1})") ==
              "config.json: api_token: expected a string or null, got 1");
        CHECK(error_of(R"({"access_log": ""})") ==
              "config.json: access_log: must be a file path or \"-\" (stderr); use null to turn it "
              "off, got \"\"");
        std::string long_sock = "/" + std::string(120, 's');
        CHECK(error_of(R"({"admin_socket": ")" + long_sock + "\"}")
                  .starts_with("config.json: admin_socket: the Unix socket path is 121 bytes; the "
                               "limit is 107, got \"/sss"));
    }

    TEST_CASE("admin_listen is a TCP address and needs admin_token") {
        auto r = parse(R"({"admin_listen": "127.0.0.1:8790", "admin_token": "t"})");
        REQUIRE(r);
        CHECK(r->admin_listen == "127.0.0.1:8790");
        CHECK(error_of(R"({"admin_listen": "127.0.0.1:8790"})") ==
              "config.json: admin_listen: requires admin_token: the TCP admin API is never served "
              "without a token");
        CHECK(error_of(R"({"admin_listen": "unix:/tmp/a.sock", "admin_token": "t"})") ==
              "config.json: admin_listen: must be a TCP address (the admin Unix socket is "
              "admin_socket), got \"unix:/tmp/a.sock\"");
    }

    TEST_CASE("enumerations") {
        auto r = parse(R"({"durability": "batch", "log_level": "debug"})");
        REQUIRE(r);
        CHECK(r->durability == Durability::batch);
        CHECK(r->log_level == "debug");
        CHECK(error_of(R"({"durability": "fast"})") ==
              R"(config.json: durability: expected one of "sync", "batch", got "fast")");
        CHECK(error_of(R"({"log_level": 3})") ==
              R"(config.json: log_level: expected one of "debug", "info", "warn", "error", got 3)");
    }

    TEST_CASE("string lists: element paths and checks") {
        auto r = parse(R"({"evictable_namespaces": ["CACHE", "SESSIONS"]})");
        REQUIRE(r);
        CHECK(r->evictable_namespaces == std::vector<std::string>{"CACHE", "SESSIONS"});
        CHECK(error_of(R"({"evictable_namespaces": ["a", 3]})") ==
              "config.json: evictable_namespaces[1]: expected a string, got 3");
        CHECK(
            error_of(R"({"evictable_namespaces": ["a/b"]})") ==
            R"(config.json: evictable_namespaces[0]: a namespace title cannot contain "/", got "a/b")");
        CHECK(error_of(R"({"evictable_namespaces": "a"})") ==
              R"(config.json: evictable_namespaces: expected an array of strings, got "a")");
    }

    TEST_CASE("unknown and duplicate keys, bad documents") {
        CHECK(error_of(R"({"map_sise": "1GiB"})") ==
              R"(config.json: map_sise: unknown key (did you mean "map_size"?))");
        CHECK(error_of(R"({"zzz": 1})") == "config.json: zzz: unknown key");
        CHECK(error_of(R"({"min_ttl": 60, "min_ttl": 61})") ==
              "config.json: min_ttl: duplicate key");
        CHECK(error_of("[]") == "config.json: expected a JSON object at the top level, got []");
        // Invalid JSON: file:line:column, what is wrong, and the text found there.
        CHECK(error_of("{") == "config.json:1:2: invalid JSON: the text ends inside an object "
                               "(a \"}\" is missing), at the end of the file");
        CHECK(error_of("") == "config.json:1:1: invalid JSON: the text ends where a value was "
                              "expected, at the end of the file");
        CHECK(error_of("{\"data_dir\": \"\xff\"}") ==
              "config.json:1:15: invalid JSON: invalid UTF-8 in a string, at: \\xFF\"}");
        CHECK(error_of("{\n  \"min_ttl\": 60\n  \"log_level\": \"debug\"\n}") ==
              "config.json:3:3: invalid JSON: expected \",\" or \"}\" after an object member, "
              "at: \"log_level\": \"debug\"");
        CHECK(error_of("{\"listen\": [\"127.0.0.1:1\",],}") ==
              "config.json:1:27: invalid JSON: a trailing comma before \"]\" is not allowed, at: "
              "],}");
        // Comments are blanked out before parsing; positions stay those of the file.
        CHECK(parse("// the default\n{ /* none */ \"min_ttl\": 61 // seconds\n}")->min_ttl == 61);
        CHECK(error_of("// c\n{\"min_ttl\": 61 /* x */ \"zzz\"}") ==
              "config.json:2:24: invalid JSON: expected \",\" or \"}\" after an object member, "
              "at: \"zzz\"}");
        CHECK(parse("{\"access_log\": \"/var/log/a//b.log\"}")->access_log == "/var/log/a//b.log");
        CHECK(error_of("{\"min_ttl\": 06}") ==
              "config.json:1:13: invalid JSON: an invalid number (no leading zeros), at: 06}");
        REQUIRE_FALSE(parse(R"({"zzz": 1})"));
        CHECK(parse(R"({"zzz": 1})").error().code == "config");
    }

    TEST_CASE("keys absent from the file keep the base values") {
        Config base = defaults();
        base.min_ttl = 100;
        base.log_level = "warn";
        auto r = load_json(R"({"log_level": "error"})", "f.json", base);
        REQUIRE(r);
        CHECK(r->min_ttl == 100);
        CHECK(r->log_level == "error");
        auto empty = load_json("{}", "f.json", base);
        REQUIRE(empty);
        CHECK(empty->min_ttl == 100);
    }

    TEST_CASE("long offending values are cut short in messages") {
        std::string big(200, 'x');
        std::string msg = error_of(R"({"min_ttl": ")" + big + "\"}");
        CHECK(msg.size() < 150);
        CHECK(msg.ends_with("..."));
    }
}
