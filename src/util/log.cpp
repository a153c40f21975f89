// Logging to stderr: timestamp, level, message; one write(2) per line.
#include "util/log.hpp"

#include <cstdio>
#include <ctime>
#include <sys/time.h>
#include <unistd.h>

namespace ec::log {

namespace {
Level g_level = Level::info;
}

bool parse_level(std::string_view s, Level* out) {
    if (s == "debug")
        *out = Level::debug;
    else if (s == "info")
        *out = Level::info;
    else if (s == "warn")
        *out = Level::warn;
    else if (s == "error")
        *out = Level::error;
    else
        return false;
    return true;
}

const char* level_name(Level l) {
    switch (l) {
    case Level::debug:
        return "debug";
    case Level::info:
        return "info";
    case Level::warn:
        return "warn";
    case Level::error:
        return "error";
    }
    return "?";
}

void set_level(Level l) {
    g_level = l;
}
Level level() {
    return g_level;
}

void vwrite(Level l, const char* fmt, va_list ap) {
    char line[4096];
    timeval tv;
    gettimeofday(&tv, nullptr);
    tm t;
    gmtime_r(&tv.tv_sec, &t);
    int n = std::snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ %-5s ",
                          t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec,
                          static_cast<int>(tv.tv_usec / 1000), level_name(l));
    int m = std::vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
    if (m < 0) m = 0;
    size_t len = static_cast<size_t>(n) + static_cast<size_t>(m);
    if (len > sizeof line - 2) len = sizeof line - 2; // truncated message: keep the newline
    line[len++] = '\n';
    ssize_t rc = ::write(STDERR_FILENO, line, len);
    (void)rc; // nowhere to report a failed log write
}

void write(Level l, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vwrite(l, fmt, ap);
    va_end(ap);
}

} // namespace ec::log
