// The command line, the environment view, and load(): flags > config file > environment > default.
#pragma once

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "util/status.hpp"

namespace ec::config {

// One command-line flag. `option` names the config option it overrides ("" for the others).
struct Flag {
    std::string_view name;    // "--map-size"
    std::string_view metavar; // "SIZE"; empty = takes no value
    std::string_view option;  // "map_size"
    std::string_view doc;
};

// Every flag, in --help order.
std::span<const Flag> flags();

// What the command line asked for; values are validated by load(), not here.
struct CommandLine {
    std::string config_path;                    // --config; empty = no file
    std::vector<std::string> listen;            // --listen, in order; non-empty replaces `listen`
    std::string origin;                         // --origin URL; non-empty replaces origins+routes
    std::map<std::string, std::string> options; // option name -> value, from the other flags
    bool check_config = false;
    bool print_config = false;
    bool version = false;
    bool help = false;
};

// Parses argv[1..]: "--flag value" and "--flag=value"; a repeated flag's last value wins
// (--listen accumulates). Errors (http 0, code "usage"): unknown flag, missing value, a value
// given to a flag that takes none, a positional argument. The caller prints the message and
// exits 2.
Result<CommandLine> parse_command_line(int argc, const char* const* argv);
Result<CommandLine> parse_command_line(const std::vector<std::string>& args); // without argv[0]

// A read-only view of the environment variables config consults ($STATE_DIRECTORY,
// $RUNTIME_DIRECTORY). Tests build one from a map; the daemon takes a snapshot of the process.
class Environment {
public:
    Environment() = default;
    explicit Environment(const std::map<std::string, std::string>& vars)
        : vars_(vars.begin(), vars.end()) {}
    Environment(std::initializer_list<std::pair<const std::string, std::string>> vars)
        : vars_(vars) {}
    static Environment from_process();

    // The variable's value; nullopt when unset or empty (systemd sets them non-empty).
    std::optional<std::string> get(std::string_view name) const;

private:
    std::map<std::string, std::string, std::less<>> vars_;
};

// The effective config: built-in defaults, then $STATE_DIRECTORY / $RUNTIME_DIRECTORY, then the
// file named by --config, then the flags. data_dir and admin_socket come back resolved:
// data_dir "" -> $STATE_DIRECTORY (its first entry) or ./edgecache-data; admin_socket "" ->
// $RUNTIME_DIRECTORY/admin.sock or <data_dir>/admin.sock. --origin URL replaces origins and
// routes with one origin "default" and one route "default" ("/" -> it; ttl 0, no stale windows:
// a pure RFC 9111 cache). No side effects besides reading the file, so `--check-config` and
// reload call it as is (a reload calls it with the same CommandLine, so flags still win).
// Errors (code "config"): the file's (see load_json), "--flag: <sentence>" for flag values.
Result<Config> load(const CommandLine& cmd, const Environment& env);

} // namespace ec::config
