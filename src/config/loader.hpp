// Loading a JSON config file on top of a base config (defaults, or what came before it).
#pragma once

#include <string>
#include <string_view>

#include "config/config.hpp"
#include "util/status.hpp"

namespace ec::config {

// Applies the JSON object in `json` (comments "//" and "/* */" allowed) on top of `base`: keys
// present replace base's values (a list or object option is replaced whole), absent keys keep them.
// Then checks what spans options (routes name defined origins, admin_listen has admin_token) and
// sorts routes longest-prefix-first. `source` names the file in errors. Errors (http 0, code
// "config"): "<source>: <json path>: <sentence>", e.g. `config.json: routes[1].ttl: expected a
// non-negative integer, got "abc"`; for invalid JSON
// "<source>:<line>:<column>: invalid JSON: <what>, at: <the text there>".
// data_dir / admin_socket stay as written ("" = derived later by load()).
Result<Config> load_json(std::string_view json, std::string_view source, Config base);

// The whole file at `path` (at most 16 MiB). Errors: "cannot read <path>: <strerror>".
Result<std::string> read_config_file(const std::string& path);

} // namespace ec::config
