// AccessLog: one line per completed request, buffered and flushed once per loop iteration.
#pragma once

#include <cstdio>
#include <string>

#include "http/exchange.hpp"
#include "loop/loop.hpp"
#include "util/status.hpp"

namespace ec::daemon {

// Line format (space-separated, like nginx's "combined" without referrer/agent):
//   2026-11-28T06:03:17.123Z 127.0.0.1:51234 "GET /kv/ns/k HTTP/1.1" 200 1024 3 HIT
// (time, peer, request line, status, body bytes, milliseconds from request to response complete,
// cache tag). Writes go to the page cache from the loop thread; they are small and buffered, so the
// loop blocks only as long as a write(2) to an already-open file takes.
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
    bool enabled() const { return file_ != nullptr; }
    void record(http::Exchange& ex);
    void flush();

private:
    loop::Loop& loop_;
    std::string path_;
    FILE* file_ = nullptr;
    std::string buf_;
    size_t hook_ = 0;
};

} // namespace ec::daemon
