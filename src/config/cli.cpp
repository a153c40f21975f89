// Command-line parsing and the layering of defaults, environment, file and flags.
#include "config/cli.hpp"

#include <cstdlib>

#include "config/loader.hpp"
#include "config/options.hpp"
#include "config/parse.hpp"
#include "util/address.hpp"
#include "util/json_writer.hpp"
#include "util/strings.hpp"

namespace ec::config {

namespace {

const Flag g_flags[] = {
    {"--config", "FILE", "", "Read settings from this JSON file (see the options below)."},
    {"--listen", "ADDR", "listen",
     "Listen on ADDR (\"127.0.0.1:8787\", \"[::1]:8787\", \"unix:/path\"); repeat for more; "
     "replaces the whole listen list."},
    {"--origin", "URL", "",
     "Proxy to the origin URL every path except those the daemon answers itself on a plain "
     "listener: /health, /kv/... and /client/v4/... (a listener {\"address\", \"serve\": "
     "[\"proxy\"]} passes those too). One origin and route \"default\": a pure RFC 9111 cache "
     "with no default TTL and no stale windows; replaces origins and routes."},
    {"--data-dir", "DIR", "data_dir", "Directory of the LMDB environment (data_dir)."},
    {"--admin-socket", "PATH", "admin_socket", "Path of the admin Unix socket (admin_socket)."},
    {"--map-size", "SIZE", "map_size", "Size of the LMDB map, e.g. 4GiB (map_size)."},
    {"--memory-cache", "SIZE", "memory_cache", "Bytes of the in-memory hot tier (memory_cache)."},
    {"--log-level", "LEVEL", "log_level", "debug, info, warn or error (log_level)."},
    {"--check-config", "", "",
     "Validate the configuration and try what a start opens (the access log, error pages, "
     "every listener and the admin socket, the data dir); print any error and exit 1, else 0."},
    {"--print-config", "", "",
     "Print the effective configuration (defaults filled in, flags applied) as JSON and exit."},
    {"--version", "", "", "Print the version and exit."},
    {"--help", "", "", "Print this help and exit."},
};

Error usage(std::string msg) {
    return make_error(0, "usage", std::move(msg));
}

// The first entry of a colon-separated systemd directory list.
std::string first_dir(const std::string& v) {
    return v.substr(0, v.find(':'));
}

std::string join_path(const std::string& dir, std::string_view name) {
    if (dir.empty() || dir.back() == '/') return dir + std::string(name);
    return dir + "/" + std::string(name);
}

// Applies a flag's text to an option through the same parser as the file, by presenting it as a
// JSON string (size, enumeration and string options all accept strings).
Status apply_text(const Option<Config>& o, std::string_view text, Config& cfg,
                  std::string_view flag) {
    std::string json;
    json_escape(json, text);
    simdjson::dom::parser parser;
    simdjson::padded_string padded(json);
    simdjson::dom::element v;
    if (parser.parse(padded).get(v))
        return make_error(0, "config", std::string(flag) + ": not valid UTF-8");
    return detail::parse_option(o, v, cfg, detail::Ctx{}, flag);
}

} // namespace

std::span<const Flag> flags() {
    return g_flags;
}

Result<CommandLine> parse_command_line(const std::vector<std::string>& args) {
    CommandLine cmd;
    for (size_t i = 0; i < args.size(); ++i) {
        std::string_view arg = args[i];
        if (arg == "-h") arg = "--help";
        if (!arg.starts_with("--")) return usage("unexpected argument '" + std::string(arg) + "'");
        std::string_view name = arg;
        std::optional<std::string> value;
        if (size_t eq = arg.find('='); eq != std::string_view::npos) {
            name = arg.substr(0, eq);
            value = std::string(arg.substr(eq + 1));
        }
        const Flag* flag = nullptr;
        for (const Flag& f : g_flags)
            if (f.name == name) flag = &f;
        if (!flag) return usage("unknown option '" + std::string(name) + "'");
        if (flag->metavar.empty()) {
            if (value) return usage("option '" + std::string(name) + "' takes no value");
        } else if (!value) {
            if (i + 1 >= args.size())
                return usage("option '" + std::string(name) + "' requires a value (" +
                             std::string(flag->metavar) + ")");
            value = args[++i];
        }
        if (name == "--config")
            cmd.config_path = *value;
        else if (name == "--listen")
            cmd.listen.push_back(*value);
        else if (name == "--origin")
            cmd.origin = *value;
        else if (name == "--check-config")
            cmd.check_config = true;
        else if (name == "--print-config")
            cmd.print_config = true;
        else if (name == "--version")
            cmd.version = true;
        else if (name == "--help")
            cmd.help = true;
        else
            cmd.options[std::string(flag->option)] = *value;
    }
    return cmd;
}

Result<CommandLine> parse_command_line(int argc, const char* const* argv) {
    std::vector<std::string> args;
    for (int i = 1; i < argc; ++i)
        args.emplace_back(argv[i]);
    return parse_command_line(args);
}

Environment Environment::from_process() {
    std::map<std::string, std::string> vars;
    for (const char* name : {"STATE_DIRECTORY", "RUNTIME_DIRECTORY"})
        if (const char* v = std::getenv(name)) vars[name] = v;
    return Environment(std::move(vars));
}

std::optional<std::string> Environment::get(std::string_view name) const {
    auto it = vars_.find(name);
    if (it == vars_.end() || it->second.empty()) return std::nullopt;
    return it->second;
}

Result<Config> load(const CommandLine& cmd, const Environment& env) {
    Config cfg = defaults();

    // The environment layer sits below the file: it only fills data_dir / admin_socket when
    // they are still "" after the file and the flags (see the resolution below).
    if (!cmd.config_path.empty()) {
        auto text = read_config_file(cmd.config_path);
        if (!text) return text.error();
        auto loaded = load_json(text.value(), cmd.config_path, std::move(cfg));
        if (!loaded) return loaded.error();
        cfg = std::move(loaded.value());
        cfg.config_path = cmd.config_path;
    }

    for (const auto& [name, value] : cmd.options) {
        const Option<Config>* o = find_option(name);
        std::string flag = "--";
        for (char c : name)
            flag += c == '_' ? '-' : c;
        if (!o) return make_error(0, "usage", "unknown option '" + flag + "'");
        Status st = apply_text(*o, value, cfg, flag);
        if (!st) return st.error();
    }
    if (!cmd.listen.empty()) {
        std::vector<ListenSpec> list;
        for (const std::string& a : cmd.listen) {
            auto ls = detail::listen_from_string(a);
            if (!ls)
                return make_error(0, "config",
                                  "--listen: " + ls.error().message + ", got \"" + a + "\"");
            list.push_back(std::move(ls.value()));
        }
        cfg.listen = std::move(list);
    }
    if (!cmd.origin.empty()) {
        auto hp = parse_origin_url(cmd.origin);
        if (!hp) return make_error(0, "config", "--origin: " + hp.error().message);
        OriginSpec o = origin_defaults();
        o.name = "default";
        o.url = cmd.origin;
        o.tls.enabled = istarts_with(cmd.origin, "https://");
        o.servers = {hp.value()};
        RouteSpec r = route_defaults();
        r.name = "default";
        r.prefix = "/";
        r.origin = "default";
        r.ttl = 0;
        r.stale_while_revalidate = 0;
        r.stale_if_error = 0;
        cfg.origins = {{"default", std::move(o)}};
        cfg.routes = {std::move(r)};
    }

    if (cfg.data_dir.empty())
        cfg.data_dir = env.get("STATE_DIRECTORY") ? first_dir(*env.get("STATE_DIRECTORY"))
                                                  : std::string("./edgecache-data");
    if (cfg.admin_socket.empty()) {
        auto runtime = env.get("RUNTIME_DIRECTORY");
        cfg.admin_socket = join_path(runtime ? first_dir(*runtime) : cfg.data_dir, "admin.sock");
        if (cfg.admin_socket.size() > max_unix_path)
            return make_error(0, "config",
                              "admin_socket: the derived path \"" + cfg.admin_socket + "\" is " +
                                  std::to_string(cfg.admin_socket.size()) +
                                  " bytes, over the Unix socket limit of " +
                                  std::to_string(max_unix_path) +
                                  "; set admin_socket (or --admin-socket) to a shorter path");
    }
    Status st = detail::finish_config(cfg, detail::Ctx{cmd.config_path});
    if (!st) return st.error();
    return cfg;
}

} // namespace ec::config
