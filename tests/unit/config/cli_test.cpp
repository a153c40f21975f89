// Tests for the command line and load(): flag > config file > environment > default.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "config/cli.hpp"
#include "config/options.hpp"

using namespace ec::config;

namespace {

// A scratch directory with one config file in it, removed at the end of the test.
struct TempConfig {
    std::filesystem::path dir;
    std::string path;

    explicit TempConfig(const std::string& json) {
        char tmpl[] = "/tmp/ec-config-XXXXXX";
        REQUIRE(mkdtemp(tmpl) != nullptr);
        dir = tmpl;
        path = (dir / "edgecached.json").string();
        write(json);
    }
    ~TempConfig() { std::filesystem::remove_all(dir); }
    void write(const std::string& json) const { std::ofstream(path) << json; }
};

CommandLine args(std::vector<std::string> a) {
    auto r = parse_command_line(a);
    REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
    return r.value();
}

std::string usage_error(std::vector<std::string> a) {
    auto r = parse_command_line(a);
    if (r) return "OK";
    CHECK(r.error().code == "usage");
    return r.error().message;
}

std::string load_error(const CommandLine& cmd, const Environment& env = Environment()) {
    auto r = load(cmd, env);
    return r ? std::string("OK") : r.error().message;
}

} // namespace

TEST_SUITE("config/cli") {
    TEST_CASE("both --flag value and --flag=value; --listen accumulates") {
        auto cmd =
            args({"--config", "/etc/ec.json", "--listen=127.0.0.1:1", "--listen",
                  "unix:/tmp/a.sock", "--map-size=2GiB", "--log-level", "debug", "--check-config"});
        CHECK(cmd.config_path == "/etc/ec.json");
        CHECK(cmd.listen == std::vector<std::string>{"127.0.0.1:1", "unix:/tmp/a.sock"});
        CHECK(cmd.options.at("map_size") == "2GiB");
        CHECK(cmd.options.at("log_level") == "debug");
        CHECK(cmd.check_config);
        CHECK_FALSE(cmd.help);
        CHECK_FALSE(cmd.version);
        CHECK(args({"--help"}).help);
        CHECK(args({"-h"}).help);
        CHECK(args({"--version"}).version);
        CHECK(args({"--origin", "http://h:1"}).origin == "http://h:1");
        CHECK(args({"--data-dir", "a", "--data-dir", "b"}).options.at("data_dir") == "b");
        CHECK(args({"--admin-socket=", "--memory-cache=0"}).options.at("admin_socket").empty());
    }

    TEST_CASE("argv form skips the program name") {
        const char* argv[] = {"edgecached", "--listen", "127.0.0.1:0", nullptr};
        auto r = parse_command_line(3, argv);
        REQUIRE(r);
        CHECK(r->listen == std::vector<std::string>{"127.0.0.1:0"});
    }

    TEST_CASE("usage errors") {
        CHECK(usage_error({"--frob"}) == "unknown option '--frob'");
        CHECK(usage_error({"--frob=1"}) == "unknown option '--frob'");
        CHECK(usage_error({"--listen"}) == "option '--listen' requires a value (ADDR)");
        CHECK(usage_error({"--help=yes"}) == "option '--help' takes no value");
        CHECK(usage_error({"serve"}) == "unexpected argument 'serve'");
        CHECK(usage_error({"-x"}) == "unexpected argument '-x'");
    }

    TEST_CASE("no flags, no file, no environment: the embedded default") {
        auto r = load(CommandLine{}, Environment());
        REQUIRE(r);
        CHECK(r->data_dir == "./edgecache-data");
        CHECK(r->admin_socket == "./edgecache-data/admin.sock");
        REQUIRE(r->listen.size() == 1);
        CHECK(r->listen[0].address == "127.0.0.1:8787");
        CHECK(r->config_path.empty());
        CHECK(r->map_size == defaults().map_size);
    }

    TEST_CASE("systemd environment fills data_dir and admin_socket") {
        Environment env({{"STATE_DIRECTORY", "/var/lib/edgecached:/var/lib/other"},
                         {"RUNTIME_DIRECTORY", "/run/edgecached"}});
        auto r = load(CommandLine{}, env);
        REQUIRE(r);
        CHECK(r->data_dir == "/var/lib/edgecached");
        CHECK(r->admin_socket == "/run/edgecached/admin.sock");
        auto state_only = load(CommandLine{}, Environment({{"STATE_DIRECTORY", "/var/lib/ec/"}}));
        REQUIRE(state_only);
        CHECK(state_only->admin_socket == "/var/lib/ec/admin.sock");
        // Empty variables count as unset.
        auto empty = load(CommandLine{}, Environment({{"STATE_DIRECTORY", ""}}));
        REQUIRE(empty);
        CHECK(empty->data_dir == "./edgecache-data");
    }

    TEST_CASE("precedence: flag > config file > environment > default") {
        Environment env({{"STATE_DIRECTORY", "/var/lib/env"}, {"RUNTIME_DIRECTORY", "/run/env"}});
        TempConfig file(R"({"data_dir": "/srv/file", "admin_socket": "/srv/file.sock",
                            "map_size": "4GiB", "memory_cache": "64MiB", "log_level": "warn",
                            "min_ttl": 30})");
        CommandLine cmd;
        cmd.config_path = file.path;

        auto from_file = load(cmd, env);
        REQUIRE(from_file);
        CHECK(from_file->config_path == file.path);
        CHECK(from_file->data_dir == "/srv/file");          // file beats env
        CHECK(from_file->admin_socket == "/srv/file.sock"); // file beats env
        CHECK(from_file->map_size == 4ULL << 30);           // file beats default
        CHECK(from_file->min_ttl == 30);
        CHECK(from_file->max_readers == 126); // default where nobody spoke

        cmd = args({"--config", file.path, "--data-dir", "/srv/flag", "--admin-socket",
                    "/srv/flag.sock", "--map-size", "2GiB", "--memory-cache=1MiB",
                    "--log-level=error"});
        auto from_flags = load(cmd, env);
        REQUIRE(from_flags);
        CHECK(from_flags->data_dir == "/srv/flag");
        CHECK(from_flags->admin_socket == "/srv/flag.sock");
        CHECK(from_flags->map_size == 2ULL << 30);
        CHECK(from_flags->memory_cache == 1ULL << 20);
        CHECK(from_flags->log_level == "error");
        CHECK(from_flags->min_ttl == 30); // file still applies where no flag was given

        // A file that leaves data_dir/admin_socket "" (like the example) defers to the env.
        file.write(R"({"data_dir": "", "admin_socket": ""})");
        auto deferred = load(args({"--config", file.path}), env);
        REQUIRE(deferred);
        CHECK(deferred->data_dir == "/var/lib/env");
        CHECK(deferred->admin_socket == "/run/env/admin.sock");
    }

    TEST_CASE("a reload re-reads the file and the flags still win") {
        TempConfig file(R"({"log_level": "warn", "min_ttl": 30})");
        CommandLine cmd = args({"--config", file.path, "--log-level", "debug"});
        auto first = load(cmd, Environment());
        REQUIRE(first);
        CHECK(first->log_level == "debug");
        file.write(R"({"log_level": "error", "min_ttl": 90})");
        auto second = load(cmd, Environment());
        REQUIRE(second);
        CHECK(second->log_level == "debug");
        CHECK(second->min_ttl == 90);
        CHECK(reload_changes(first.value(), second.value()).empty());
    }

    TEST_CASE("--listen replaces the whole list from the file") {
        TempConfig file(
            R"({"listen": ["127.0.0.1:1", {"address": "127.0.0.1:2", "kv_backend": "K"}]})");
        auto r = load(
            args({"--config", file.path, "--listen", "unix:/tmp/ec.sock", "--listen", "[::1]:0"}),
            Environment());
        REQUIRE(r);
        REQUIRE(r->listen.size() == 2);
        CHECK(r->listen[0] == ListenSpec{.address = "unix:/tmp/ec.sock"});
        CHECK(r->listen[1] == ListenSpec{.address = "[::1]:0"});
        CHECK(
            load_error(args({"--listen", "localhost:1"})) ==
            R"(--listen: expected "a.b.c.d:port", "[ipv6]:port" or "unix:/path", got "localhost:1")");
    }

    TEST_CASE("--origin: one origin and one catch-all route, a pure RFC 9111 cache") {
        TempConfig file(R"({"origins": {"api": {"url": "http://127.0.0.1:9"}},
                            "routes": [{"prefix": "/api/", "origin": "api", "ttl": 60,
                                        "stale_while_revalidate": 10}]})");
        auto r =
            load(args({"--config", file.path, "--origin", "http://127.0.0.1:9000"}), Environment());
        REQUIRE(r);
        REQUIRE(r->origins.size() == 1);
        const OriginSpec& o = r->origins.at("default");
        CHECK(o.name == "default");
        CHECK(o.servers == std::vector<std::string>{"127.0.0.1:9000"});
        CHECK(o.url == "http://127.0.0.1:9000");
        CHECK(o.timeout_ms == origin_defaults().timeout_ms);
        REQUIRE(r->routes.size() == 1);
        const RouteSpec& rt = r->routes[0];
        CHECK(rt.name == "default");
        CHECK(rt.prefix == "/");
        CHECK(rt.origin == "default");
        CHECK(rt.ttl == 0);
        CHECK_FALSE(rt.force_ttl);
        CHECK(rt.stale_while_revalidate == 0);
        CHECK(rt.stale_if_error == 0);
        CHECK(rt.ttl_by_status.empty());
        CHECK_FALSE(o.tls.enabled);
        auto tls = load(args({"--origin", "https://example.com"}), Environment());
        REQUIRE(tls);
        CHECK(tls->origins.at("default").servers == std::vector<std::string>{"example.com:443"});
        CHECK(tls->origins.at("default").tls.enabled);
        CHECK(tls->origins.at("default").tls.verify);
    }

    TEST_CASE("bad flag values and files are reported with their source") {
        CHECK(
            load_error(args({"--map-size", "lots"})) ==
            R"(--map-size: expected a size: bytes, or a string like "256MiB" (KiB, MiB, GiB, TiB are powers of 1024; kB, MB, GB, TB powers of 1000), got "lots")");
        CHECK(load_error(args({"--memory-cache", "2TiB"})) ==
              R"(--memory-cache: must be between 0B and 1TiB, got "2TiB")");
        CHECK(load_error(args({"--log-level", "loud"})) ==
              R"(--log-level: expected one of "debug", "info", "warn", "error", got "loud")");
        CHECK(load_error(args({"--config", "/nonexistent/ec.json"})) ==
              "cannot read /nonexistent/ec.json: No such file or directory");
        CHECK(load_error(args({"--config", "/tmp"})) == "cannot read /tmp: Is a directory");
        TempConfig file(R"({"routes": [{"origin": "nope"}]})");
        CHECK(load_error(args({"--config", file.path})) ==
              file.path + R"(: routes[0].origin: unknown origin "nope" (no origins are defined))");
        std::string deep = "/tmp/" + std::string(100, 'd');
        CHECK(load_error(args({"--data-dir", deep}))
                  .starts_with("admin_socket: the derived path \"" + deep +
                               "/admin.sock\" is 116 bytes"));
        CHECK(load(args({"--data-dir", deep, "--admin-socket", "/tmp/a.sock"}), Environment()));
    }

    TEST_CASE("Environment reads only what it was given") {
        Environment env({{"STATE_DIRECTORY", "/x"}});
        CHECK(env.get("STATE_DIRECTORY") == std::optional<std::string>("/x"));
        CHECK_FALSE(env.get("RUNTIME_DIRECTORY"));
        CHECK_FALSE(Environment().get("STATE_DIRECTORY"));
        // from_process() snapshots the real variable; restore whatever the runner had.
        const char* saved = std::getenv("RUNTIME_DIRECTORY");
        std::optional<std::string> old = saved ? std::optional<std::string>(saved) : std::nullopt;
        setenv("RUNTIME_DIRECTORY", "/run/ec-test", 1);
        CHECK(Environment::from_process().get("RUNTIME_DIRECTORY") ==
              std::optional<std::string>("/run/ec-test"));
        unsetenv("RUNTIME_DIRECTORY");
        CHECK_FALSE(Environment::from_process().get("RUNTIME_DIRECTORY"));
        if (old) setenv("RUNTIME_DIRECTORY", old->c_str(), 1);
    }
}
