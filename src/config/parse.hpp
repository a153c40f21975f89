// Internal: the JSON-to-struct machinery shared by the loader, defaults and flags (not public API).
#pragma once

#include <simdjson.h>

#include <string>
#include <string_view>
#include <vector>

#include "config/checks.hpp"
#include "config/options.hpp"
#include "util/status.hpp"

namespace ec::config::detail {

using simdjson::dom::element;

// Where values come from, for error messages: "<source>: <path>: <sentence>".
struct Ctx {
    std::string source; // "config.json", "--map-size", "built-in default"; may be empty
};

// An Error (http 0, code "config") whose message names the source and the JSON path.
Error error_at(const Ctx& ctx, std::string_view path, std::string_view sentence);

// `v` as compact JSON for "got ..." (long values are cut short with "...").
std::string describe(element v);

// "origins.api", "routes[2]", `ttl_by_status["404"]`: keys that are not plain identifiers are
// written in brackets.
std::string child_path(std::string_view path, std::string_view key);
std::string index_path(std::string_view path, size_t index);
// Remembers `key` among `keys`; true when it was there already (a JSON object's duplicate key,
// which a config refuses rather than resolving).
bool repeated_key(std::vector<std::string_view>& keys, std::string_view key);

// `unknown key`, with a did-you-mean suggestion from `names` when one is close.
std::string unknown_key_message(std::span<const std::string_view> names, std::string_view key);

// Parses `v` as option `o` into `out.*o.field`. On error `out` may be partly updated.
template <class T>
Status parse_option(const Option<T>& o, element v, T& out, const Ctx& ctx, std::string_view path);

// Applies every key of the JSON object `v` through `table`: unknown and duplicate keys, and
// missing required keys, are errors. The keys present are stored in `seen` when it is given;
// they view the parser's document, so they are valid only while that document lives.
template <class T>
Status parse_object(std::span<const Option<T>> table, element v, T& out, const Ctx& ctx,
                    std::string_view path, std::vector<std::string_view>* seen = nullptr);

// Sets `o` on `out` from its default_json. Throws std::logic_error when the table is wrong.
template <class T> void apply_default(const Option<T>& o, T& out);

// Structured values (sections.cpp).
Status parse_listen(element v, std::vector<ListenSpec>& out, const Ctx& ctx, std::string_view path);
Result<ListenSpec> listen_from_string(std::string_view address);
Status parse_origins(element v, std::map<std::string, OriginSpec>& out, const Ctx& ctx,
                     std::string_view path);
Status parse_routes(element v, std::vector<RouteSpec>& out, const Ctx& ctx, std::string_view path);
// The `fleet` object (null is handled by the caller): fleet_options() keys, `nats` non-empty.
Status parse_fleet(element v, FleetSpec& out, const Ctx& ctx, std::string_view path);

// TLS objects (tls_options.cpp). null gives a disabled OriginTls / a ListenTls without
// certificates; an object is parsed over the table defaults.
Status parse_origin_tls(element v, OriginTls& out, const Ctx& ctx, std::string_view path);
Status parse_listen_tls(element v, ListenTls& out, const Ctx& ctx, std::string_view path);
Status parse_certificates(element v, std::vector<CertificateSpec>& out, const Ctx& ctx,
                          std::string_view path);

// Cross-option checks on a whole config (routes name defined origins, admin_listen has a token),
// then sorts routes longest-prefix-first. Errors are prefixed with ctx.source.
Status finish_config(Config& cfg, const Ctx& ctx);

} // namespace ec::config::detail
