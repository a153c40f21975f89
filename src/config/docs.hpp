// Text generated from the option tables: --help, the example config, the README reference, and
// the effective config as JSON.
#pragma once

#include <string>

#include "config/config.hpp"

namespace ec::config {

// Usage, every flag, the precedence rule, then every config option (type, bounds, default,
// whether a reload applies it, doc) grouped as in the table, then the origin and route keys.
std::string help_text();

// A complete config file in pretty-printed JSON: every top-level option at its default, plus
// one example origin ("app") and route ("api") spelling out all their keys. Pure JSON.
std::string example_config_json();

// The built-in default as a config file (a short header comment, then every option at its
// default: no origins, no routes). systemd/edgecached.json, installed as
// /etc/edgecached/edgecached.json; a unit test keeps the copy equal.
std::string default_config_json();

// example_config_json() with a header and each key's doc as "//" comments above it:
// systemd/edgecached.example.json, installed beside the default.
std::string commented_example_config();

// A Markdown table "option | type | default | reloadable | description" of every option,
// origins.<name>.* and routes[].* keys included. The README embeds it verbatim.
std::string reference_markdown();

// Manual pages (roff, man(7) macros) from the same tables: edgecached(8) from the flags, with
// signals, files and environment; edgecached.json(5) from every option, origin and route key.
std::string man_daemon();
std::string man_config();
// Escapes text for roff: backslashes, and a leading '.' or '\'' that would start a request.
std::string roff_escape(std::string_view text);

// The config as compact JSON in the config file's shape (loadable again), for
// GET /admin/config: secrets that are set (admin_token, api_token) are written as "***",
// unset nullable options as null, sizes as strings like "1GiB", origins given a url keep it.
std::string to_json(const Config& cfg);
// The same, pretty-printed with two-space indents (edgecached --print-config).
std::string to_pretty_json(const Config& cfg);

} // namespace ec::config
