// AccessLog: one line per completed request, buffered and flushed once per loop iteration.
#pragma once

#include <cstdio>
#include <string>

#include "http/exchange.hpp"
#include "loop/loop.hpp"

namespace ec::daemon {

// Line format (space-separated, like nginx's "combined" without referrer/agent):
//   2026-11-28T06:03:17.123Z 127.0.0.1:51234 "GET /kv/ns/k HTTP/1.1" 200 1024 3 HIT
// (time, peer, request line, status, body bytes, milliseconds from request to response complete,
// cache tag). Writes go to the page cache from the loop thread; they are small and buffered, so the
// loop blocks only as long as a write(2) to an already-open file takes.
class AccessLog {
public:
    explicit AccessLog(loop::Loop& loop);
    ~AccessLog();

    // Opens path for appending ("-" = stderr; "" = off). Throws std::runtime_error on failure.
    void open(const std::string& path);
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
