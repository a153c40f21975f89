// Logging to stderr: timestamp, level, message; one write(2) per line.
#include "util/log.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "util/json_writer.hpp"

namespace ec::log {

namespace {
Level g_level = Level::info;
Format g_format = Format::text;
bool g_journal = false;

// sd-daemon.h: SD_ERR "<3>", SD_WARNING "<4>", SD_INFO "<6>", SD_DEBUG "<7>".
const char* priority_prefix(Level l) {
    switch (l) {
    case Level::debug:
        return "<7>";
    case Level::info:
        return "<6>";
    case Level::warn:
        return "<4>";
    case Level::error:
        return "<3>";
    }
    return "<6>";
}
} // namespace

bool parse_format(std::string_view s, Format* out) {
    if (s == "text")
        *out = Format::text;
    else if (s == "json")
        *out = Format::json;
    else
        return false;
    return true;
}

void set_format(Format f) {
    g_format = f;
}

bool detect_journal() {
    g_journal = false;
    const char* js = std::getenv("JOURNAL_STREAM");
    struct stat st;
    if (!js || fstat(STDERR_FILENO, &st) != 0) return false;
    unsigned long long dev = 0, ino = 0;
    if (std::sscanf(js, "%llu:%llu", &dev, &ino) != 2) return false;
    g_journal = dev == static_cast<unsigned long long>(st.st_dev) &&
                ino == static_cast<unsigned long long>(st.st_ino);
    return g_journal;
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
    char msg[4096];
    int m = std::vsnprintf(msg, sizeof msg, fmt, ap);
    size_t msg_len = m < 0 ? 0 : std::min(static_cast<size_t>(m), sizeof msg - 1);
    char stamp[80];
    timeval tv;
    gettimeofday(&tv, nullptr);
    tm t;
    gmtime_r(&tv.tv_sec, &t);
    std::snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", t.tm_year + 1900,
                  t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec,
                  static_cast<int>(tv.tv_usec / 1000));
    std::string line;
    line.reserve(msg_len + 64);
    if (g_journal) line += priority_prefix(l);
    if (g_format == Format::json) {
        JsonWriter w(line);
        w.begin_object();
        w.field("time", std::string_view(stamp));
        w.field("level", level_name(l));
        w.field("msg", std::string_view(msg, msg_len));
        w.end_object();
    } else {
        if (!g_journal) {
            line += stamp;
            line += ' ';
        }
        char lvl[8];
        std::snprintf(lvl, sizeof lvl, "%-5s ", level_name(l));
        line += lvl;
        line.append(msg, msg_len);
    }
    line += '\n';
    ssize_t rc = ::write(STDERR_FILENO, line.data(), line.size());
    (void)rc; // nowhere to report a failed log write
}

void write(Level l, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vwrite(l, fmt, ap);
    va_end(ap);
}

} // namespace ec::log
