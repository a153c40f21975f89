// AccessLog: buffered request lines, flushed at the end of each loop iteration.
#include "daemon/access_log.hpp"

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "http/connection.hpp"
#include "http/server.hpp"
#include "util/log.hpp"
#include "util/strings.hpp"
#include "util/time_format.hpp"

namespace ec::daemon {

AccessLog::AccessLog(loop::Loop& loop) : loop_(loop) {
    hook_ = loop_.add_iteration_hook([this] { flush(); });
}

AccessLog::~AccessLog() {
    loop_.remove_iteration_hook(hook_);
    flush();
    if (file_ && file_ != stderr) std::fclose(file_);
}

AccessLogFile::~AccessLogFile() {
    if (file && file != stderr) std::fclose(file);
}

Result<AccessLogFile> open_access_log(const std::string& path) {
    AccessLogFile f;
    f.path = path;
    if (path.empty()) return f;
    if (path == "-") {
        f.file = stderr;
        return f;
    }
    f.file = std::fopen(path.c_str(), "ae");
    if (!f.file)
        return make_error(0, "access_log",
                          "cannot open access log " + path + ": " + std::strerror(errno));
    return f;
}

void AccessLog::open(const std::string& path) {
    auto f = open_access_log(path);
    if (!f) throw std::runtime_error(f.error().message);
    use(std::move(*f));
}

void AccessLog::use(AccessLogFile f) {
    flush();
    if (file_ && file_ != stderr) std::fclose(file_);
    path_ = std::move(f.path);
    file_ = f.file;
    f.file = nullptr;
}

void AccessLog::reopen() {
    if (path_.empty() || path_ == "-") return;
    FILE* f = std::fopen(path_.c_str(), "ae");
    if (!f) {
        LOG_ERROR("cannot reopen access log %s: %s (keeping the old file)", path_.c_str(),
                  std::strerror(errno));
        return;
    }
    flush();
    if (file_ && file_ != stderr) std::fclose(file_);
    file_ = f;
    LOG_INFO("access log reopened: %s", path_.c_str());
}

void AccessLog::record(http::Exchange& ex) {
    if (!file_) return;
    const http::Request& r = ex.request();
    buf_ += iso8601_ms(loop_.clock().now_ms());
    buf_ += ' ';
    http::Connection& c = ex.connection();
    if (c.is_unix())
        buf_ += "unix";
    else
        buf_ += http::describe_address(reinterpret_cast<const sockaddr*>(&c.peer()));
    buf_ += " \"";
    buf_ += r.method_name;
    buf_ += ' ';
    // Request targets are printable ASCII (llhttp rejects control bytes), safe to log as is.
    buf_ += r.target;
    buf_ += r.version_minor ? " HTTP/1.1\" " : " HTTP/1.0\" ";
    append_u64(buf_, static_cast<uint64_t>(ex.response_status()));
    buf_ += ' ';
    append_u64(buf_, ex.body_bytes_sent());
    uint64_t ms = loop_.clock().mono_ms() - ex.start_mono_ms();
    buf_ += ' ';
    append_u64(buf_, ms);
    buf_ += ' ';
    buf_ += ex.log_tag();
    buf_ += '\n';
    if (buf_.size() > 64 * 1024) flush();
}

void AccessLog::flush() {
    if (buf_.empty() || !file_) return;
    std::fwrite(buf_.data(), 1, buf_.size(), file_);
    std::fflush(file_);
    buf_.clear();
}

} // namespace ec::daemon
