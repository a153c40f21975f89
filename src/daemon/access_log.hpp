// AccessLog: one line per completed request, buffered and flushed once per loop iteration.
#pragma once

#include <cstdio>
#include <string>

#include "config/access_format.hpp"
#include "http/exchange.hpp"
#include "loop/loop.hpp"
#include "util/status.hpp"

namespace ec::daemon {

// A destination opened for the log but not yet in use: a reload opens the new file before it
// commits to the new configuration. Closes its file unless handed to AccessLog::use().
struct AccessLogFile {
    std::string path;          // as configured: a path, "-" or "" (off)
    std::FILE* file = nullptr; // stderr for "-"; nullptr when off
    AccessLogFile() = default;
    AccessLogFile(AccessLogFile&& o) noexcept : path(std::move(o.path)), file(o.file) {
        o.file = nullptr;
    }
    AccessLogFile& operator=(AccessLogFile&&) = delete;
    ~AccessLogFile();
};

// Opens path for appending ("-" = stderr; "" = off). Error (http 0, code "access_log"):
// "cannot open access log <path>: <strerror>".
Result<AccessLogFile> open_access_log(const std::string& path);

// The line's fields and format come from `access_log_format` (config/access_format.hpp); the
// default is
//   2026-11-28T06:03:17.123Z 127.0.0.1:51234 "GET /kv/ns/k HTTP/1.1" 200 1024 3 HIT
// (time, peer, request line, status, body bytes, milliseconds from request to response
// complete, cache tag). Text formats escape what a client sent (target, headers) as nginx's
// escape=default does: '"', '\' and bytes outside 0x20-0x7e become \xHH, so a line is always
// one line of printable ASCII that splits on its quotes. The JSON form escapes as JSON (bytes
// that are not UTF-8 become U+FFFD). Writes go to the page cache from the loop thread; they
// are small and buffered, so the loop blocks only as long as a write(2) to an already-open
// file takes.
class AccessLog {
public:
    explicit AccessLog(loop::Loop& loop);
    ~AccessLog();

    // Opens path for appending ("-" = stderr; "" = off). Throws std::runtime_error on failure.
    void open(const std::string& path);
    // Writes to `f` from now on (flushing and closing the file in use). Never fails.
    void use(AccessLogFile f);
    // Reopens the same path (log rotation, SIGUSR1). Keeps the old file on failure.
    void reopen();
    // Sets the line format (an already validated access_log_format value).
    void set_format(const config::AccessFormat& format) { format_ = format; }
    bool enabled() const { return file_ != nullptr; }
    void record(http::Exchange& ex);
    void flush();

    // Appends ex's record in `format` to out (with no newline).
    void render(const config::AccessFormat& format, http::Exchange& ex, std::string& out) const;

private:
    loop::Loop& loop_;
    std::string path_;
    FILE* file_ = nullptr;
    std::string buf_;
    config::AccessFormat format_;
    size_t hook_ = 0;
};

// Appends `s` with '"', '\' and bytes outside 0x20-0x7e written as \xHH (nginx escape=default).
void append_log_escaped(std::string& out, std::string_view s);

} // namespace ec::daemon
