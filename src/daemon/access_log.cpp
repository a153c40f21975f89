// AccessLog: buffered request lines, flushed at the end of each loop iteration.
#include "daemon/access_log.hpp"

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <sys/socket.h>

#include "http/exchange.hpp"
#include "http/server.hpp"
#include "util/ip.hpp"
#include "util/json_writer.hpp"
#include "util/log.hpp"
#include "util/strings.hpp"
#include "util/time_format.hpp"

namespace ec::daemon {

using config::LogField;

void append_log_escaped(std::string& out, std::string_view s) {
    static constexpr char hex[] = "0123456789ABCDEF";
    for (char ch : s) {
        auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') {
            out += "\\x";
            out += hex[c >> 4];
            out += hex[c & 0xf];
        } else {
            out += ch;
        }
    }
}

namespace {

// The value of one field as text, unescaped; nullopt when the request has none ("-" / null).
std::optional<std::string> field_value(LogField f, http::Exchange& ex, loop::Loop& loop) {
    const http::Request& r = ex.request();
    bool unix_peer = r.peer && r.peer->sa_family == AF_UNIX;
    auto header = [&r](std::string_view name) -> std::optional<std::string> {
        if (auto v = r.header(name)) return std::string(*v);
        return std::nullopt;
    };
    const char* protocol = r.version_minor ? "HTTP/1.1" : "HTTP/1.0";
    switch (f) {
    case LogField::time:
        return iso8601_ms(loop.clock().now_ms());
    case LogField::peer:
        if (unix_peer) return "unix";
        return http::describe_address(r.peer);
    case LogField::client:
        if (unix_peer) return "unix";
        return ip_text(r.peer);
    case LogField::method:
        return std::string(r.method_name);
    case LogField::target:
        return std::string(r.target);
    case LogField::protocol:
        return protocol;
    case LogField::request:
        return std::string(r.method_name) + " " + std::string(r.target) + " " + protocol;
    case LogField::status:
        return std::to_string(ex.response_status());
    case LogField::bytes:
        return std::to_string(ex.body_bytes_sent());
    case LogField::duration_ms:
        return std::to_string(loop.clock().mono_ms() - ex.start_mono_ms());
    case LogField::cache:
        return ex.log_tag();
    case LogField::host:
        if (r.host.empty()) return std::nullopt;
        return std::string(r.host);
    case LogField::user_agent:
        return header("user-agent");
    case LogField::referer:
        return header("referer");
    case LogField::request_id:
        if (r.request_id.empty()) return std::nullopt;
        return std::string(r.request_id);
    case LogField::upstream_ms:
        if (auto ms = ex.upstream_ms()) return std::to_string(*ms);
        return std::nullopt;
    case LogField::route:
        if (!ex.route()) return std::nullopt;
        return ex.route();
    case LogField::origin:
        if (!ex.origin()) return std::nullopt;
        return ex.origin();
    }
    return std::nullopt;
}

bool numeric(LogField f) {
    return f == LogField::status || f == LogField::bytes || f == LogField::duration_ms ||
           f == LogField::upstream_ms;
}

} // namespace

AccessLog::AccessLog(loop::Loop& loop) : loop_(loop) {
    std::string unused;
    format_ = *config::compile_access_format("default", &unused);
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

void AccessLog::render(const config::AccessFormat& format, http::Exchange& ex,
                       std::string& out) const {
    if (format.json) {
        JsonWriter w(out);
        w.begin_object();
        for (size_t i = 0; i < config::kLogFields; ++i) {
            auto f = static_cast<LogField>(i);
            if (f == LogField::request) continue; // method, target and protocol say it
            std::optional<std::string> v = field_value(f, ex, loop_);
            w.key(config::access_field_name(f));
            if (!v)
                w.null();
            else if (numeric(f))
                w.raw(*v);
            else
                w.value(*v);
        }
        w.end_object();
        return;
    }
    for (const auto& seg : format.segments) {
        out += seg.literal;
        if (!seg.field) continue;
        std::optional<std::string> v = field_value(*seg.field, ex, loop_);
        if (v)
            append_log_escaped(out, *v);
        else
            out += '-';
    }
}

void AccessLog::record(http::Exchange& ex) {
    if (!file_) return;
    render(format_, ex, buf_);
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
