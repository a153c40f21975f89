// The option tables: every setting declared once with type, default, bounds, reloadability, doc.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "config/config.hpp"

namespace ec::config {

// How an option is written in JSON (and, for flags, on the command line).
enum class Type {
    boolean,      // true | false
    integer,      // JSON integer within [min, max]; nullable ones take null (stored as -1)
    size,         // bytes: a JSON integer or a string like "256MiB" (util/units.hpp), in [min, max]
    duration,     // milliseconds: a JSON integer within [min, max]
    string,       // any string unless `check` says otherwise; nullable ones take null (stored "")
    enumeration,  // one of the '|'-separated `choices`
    string_list,  // array of strings, each passing `check`
    listen,       // array of listener strings or objects (ListenSpec)
    origins,      // object: origin name -> origin object (origin_options())
    routes,       // array of route objects (route_options())
    status_map,   // object: 3-digit HTTP status -> seconds
    url,          // "http://host[:port][/]" (origins only)
    servers,      // array of "host:port" (origins only)
    origin_tls,   // an origin's TLS object (tls_origin_options()) or null
    listen_tls,   // a listener's TLS object (tls_listen_options()) or null
    certificates, // array of certificate objects (tls_certificate_options())
    fleet,        // object of fleet_options() keys, or null (a single node)
};

// Where an option lives in its struct. Only the alternative matching `type` is ever used.
template <class T>
using Field =
    std::variant<bool T::*, int64_t T::*, uint32_t T::*, uint64_t T::*, std::string T::*,
                 std::vector<std::string> T::*, Durability T::*, WriteMode T::*,
                 std::map<int, int64_t> T::*, std::vector<ListenSpec> T::*,
                 std::map<std::string, OriginSpec> T::*, std::vector<RouteSpec> T::*,
                 OriginTls T::*, ListenTls T::*, std::vector<CertificateSpec> T::*, FleetSpec T::*>;

// Extra validation for string values (and each element of a string list): returns "" when the
// value is fine, else a sentence explaining what is expected.
using StringCheck = std::string (*)(std::string_view value);

// One row of an option table. `T` is the struct the option fills (Config, OriginSpec, RouteSpec).
template <class T> struct Option {
    std::string_view name;
    Type type;
    Field<T> field;
    std::string_view default_json =
        {};          // the default as JSON text; empty = no default (required/derived)
    int64_t min = 0; // integer, size, duration bounds (inclusive)
    int64_t max = 0;
    std::string_view choices = {}; // enumeration: "sync|batch"; order matches the C++ enum
    // A reload applies it without a restart: the daemon hands each subsystem its whole settings
    // struct again (config.hpp). false: the reload keeps the running value and reports the
    // change as pending (keep_restart_only, reload_changes) — for what is built once at start.
    // A row inside an object (origins, routes, fleet, tls) reloads with its top-level row and
    // repeats its value, for the docs.
    bool reloadable = true;
    bool nullable = false;       // JSON null accepted (= off / no bound)
    bool required = false;       // must be present in its object
    bool secret = false;         // shown as "***" by to_json()
    std::string_view group = {}; // heading in --help and the reference
    std::string_view doc = {};   // one sentence
    StringCheck check = nullptr;
};

// The top-level options, in documentation order.
std::span<const Option<Config>> config_options();
// Keys of one object under `origins`.
std::span<const Option<OriginSpec>> origin_options();
// Keys of one object in `routes`.
std::span<const Option<RouteSpec>> route_options();
// Keys of the `fleet` object.
std::span<const Option<FleetSpec>> fleet_options();

// Keys of an origin's `tls` object, of a listener's (and admin_tls's) `tls` object, and of each
// of its `certificates`.
std::span<const Option<OriginTls>> tls_origin_options();
std::span<const Option<ListenTls>> tls_listen_options();
std::span<const Option<CertificateSpec>> tls_certificate_options();

// The row named `name`, or nullptr.
const Option<Config>* find_option(std::string_view name);

// "size", "duration (ms)", "enum: sync|batch", ... for docs and error messages.
std::string type_name(Type t, std::string_view choices = {}, bool nullable = false);

// Built-in defaults: every row's default_json parsed by the same code as the config file.
// data_dir and admin_socket are "" here (derived by load()). Throws std::logic_error when the
// table itself is inconsistent (a bug, caught by the unit tests).
const Config& defaults();
// An origin / route with every optional key at its table default (url/servers, origin empty).
// Code that builds one by hand (the warm job, tests) starts from these: the structs themselves
// carry no defaults (config.hpp).
const OriginSpec& origin_defaults();
const RouteSpec& route_defaults();
// A fleet with every optional key at its table default (no servers yet; `enabled` is set by
// the parser once `nats` is given).
const FleetSpec& fleet_defaults();
// An origin's TLS settings at their table defaults, TLS off (`enabled` false), and a listener's
// (no certificates yet).
const OriginTls& origin_tls_defaults();
const ListenTls& listen_tls_defaults();

// Names of non-reloadable options whose values differ between `old_cfg` and `next`, in table
// order (e.g. {"data_dir", "map_size"}). Empty when a reload can apply everything.
std::vector<std::string> reload_changes(const Config& old_cfg, const Config& next);

// Gives every non-reloadable option of `next` its value in `running`: what a reload applies
// while the restart-only changes (reload_changes) wait for the next start.
void keep_restart_only(const Config& running, Config& next);

} // namespace ec::config
