// Shared helpers for the config unit tests: load a JSON string, get its error message.
#pragma once

#include <string>
#include <string_view>

#include "config/loader.hpp"
#include "config/options.hpp"

namespace ec::config::test {

// Loads `json` over the defaults, as if it were the file "config.json".
inline Result<Config> parse(std::string_view json) {
    return load_json(json, "config.json", defaults());
}

// The error message for `json`, or "OK" when it loads.
inline std::string error_of(std::string_view json) {
    auto r = parse(json);
    return r ? std::string("OK") : r.error().message;
}

} // namespace ec::config::test
