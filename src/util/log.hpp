// Logging: one line per event to stderr, with a level; printf-style formatting.
#pragma once

#include <cstdarg>
#include <string_view>

namespace ec::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };

// Parses "debug" | "info" | "warn" | "error"; returns false on anything else.
bool parse_level(std::string_view s, Level* out);
const char* level_name(Level l);

void set_level(Level l);
Level level();
inline bool enabled(Level l) {
    return static_cast<int>(l) >= static_cast<int>(level());
}

// Writes "<ISO-8601 UTC> <level> <message>\n" with a single write(2), so lines never interleave.
void write(Level l, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void vwrite(Level l, const char* fmt, va_list ap);

} // namespace ec::log

#define EC_LOG(lvl, ...)                                                                           \
    do {                                                                                           \
        if (::ec::log::enabled(lvl)) ::ec::log::write(lvl, __VA_ARGS__);                           \
    } while (0)
#define LOG_DEBUG(...) EC_LOG(::ec::log::Level::debug, __VA_ARGS__)
#define LOG_INFO(...) EC_LOG(::ec::log::Level::info, __VA_ARGS__)
#define LOG_WARN(...) EC_LOG(::ec::log::Level::warn, __VA_ARGS__)
#define LOG_ERROR(...) EC_LOG(::ec::log::Level::error, __VA_ARGS__)
