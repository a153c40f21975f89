// Logging: one line per event to stderr, with a level; printf-style formatting.
#pragma once

#include <cstdarg>
#include <cstdint>
#include <string_view>

namespace ec::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };

// Parses "debug" | "info" | "warn" | "error"; returns false on anything else.
bool parse_level(std::string_view s, Level* out);
const char* level_name(Level l);

void set_level(Level l);
Level level();

// How a line looks. text: "<ISO-8601 UTC> <level> <message>"; json: {"time":…,"level":…,
// "msg":…} (one object per line, for collectors that parse JSON).
enum class Format { text, json };
// Parses "text" | "json"; returns false on anything else.
bool parse_format(std::string_view s, Format* out);
void set_format(Format f);

// Looks at JOURNAL_STREAM (set by systemd when stderr is connected to the journal) and, when it
// names stderr's device:inode, prefixes every later line with its syslog priority ("<3>" for
// error, "<4>" warn, "<6>" info, "<7>" debug, as sd-daemon.h's SD_ERR… do) so journald files it
// under that priority (`journalctl -p warning`) and drops the line's own timestamp, which the
// journal records anyway. Returns true when stderr is the journal.
bool detect_journal();
inline bool enabled(Level l) {
    return static_cast<int>(l) >= static_cast<int>(level());
}

// Writes one line (see Format, detect_journal) with a single write(2), so lines never
// interleave. Messages longer than about 4 KiB are truncated.
void write(Level l, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void vwrite(Level l, const char* fmt, va_list ap);

// For an event that can repeat every loop turn under a sustained fault (a full map, clients
// being shed): lets one line through per interval and counts the ones held back, so the log
// says "... (and N more like it)" once a second instead of flooding.
class Throttle {
public:
    explicit Throttle(uint64_t interval_ms = 1000) : interval_ms_(interval_ms) {}
    // True when this occurrence should be logged; then *held_back is the number of
    // occurrences swallowed since the last one logged.
    bool allow(uint64_t now_ms, uint64_t* held_back) {
        if (logged_ && now_ms - last_ms_ < interval_ms_) {
            ++held_back_;
            return false;
        }
        logged_ = true;
        last_ms_ = now_ms;
        *held_back = held_back_;
        held_back_ = 0;
        return true;
    }

private:
    uint64_t interval_ms_;
    uint64_t last_ms_ = 0;
    uint64_t held_back_ = 0;
    bool logged_ = false;
};

} // namespace ec::log

#define EC_LOG(lvl, ...)                                                                           \
    do {                                                                                           \
        if (::ec::log::enabled(lvl)) ::ec::log::write(lvl, __VA_ARGS__);                           \
    } while (0)
#define LOG_DEBUG(...) EC_LOG(::ec::log::Level::debug, __VA_ARGS__)
#define LOG_INFO(...) EC_LOG(::ec::log::Level::info, __VA_ARGS__)
#define LOG_WARN(...) EC_LOG(::ec::log::Level::warn, __VA_ARGS__)
#define LOG_ERROR(...) EC_LOG(::ec::log::Level::error, __VA_ARGS__)
