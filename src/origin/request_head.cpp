// UpstreamRequest serialisation: validation of the caller's request and the bytes of its head.
#include "origin/request_head.hpp"

#include "util/strings.hpp"

namespace ec::origin {

namespace {
Error invalid(const char* message) {
    return make_error(0, "invalid_request", message);
}
bool target_ok(std::string_view t) {
    if (t == "*") return true;
    if (t.empty() || t[0] != '/') return false;
    for (char c : t) {
        auto u = static_cast<unsigned char>(c);
        if (u <= 0x20 || u == 0x7f) return false;
    }
    return true;
}
bool value_ok(std::string_view v) {
    for (char c : v)
        if (c == '\r' || c == '\n' || c == '\0') return false;
    return true;
}
bool expects_body(std::string_view m) {
    return m == "POST" || m == "PUT" || m == "PATCH";
}
} // namespace

bool method_is_idempotent(std::string_view m) {
    return m == "GET" || m == "HEAD" || m == "OPTIONS" || m == "TRACE" || m == "PUT" ||
           m == "DELETE";
}

Result<std::string> build_request_head(const UpstreamRequest& r, bool close) {
    if (!is_token(r.method)) return invalid("request method is not a token");
    if (!target_ok(r.target)) return invalid("request target is not origin-form");
    size_t size = r.method.size() + r.target.size() + 64;
    for (const Header& h : r.headers)
        size += h.name.size() + h.value.size() + 4;
    std::string out;
    out.reserve(size);
    out += r.method;
    out += ' ';
    out += r.target;
    out += " HTTP/1.1\r\n";
    for (const Header& h : r.headers) {
        if (!is_token(h.name)) return invalid("request header name is not a token");
        if (!value_ok(h.value)) return invalid("request header value holds CR, LF or NUL");
        if (iequals(h.name, "content-length") || iequals(h.name, "transfer-encoding") ||
            iequals(h.name, "connection"))
            continue;
        out += h.name;
        out += ": ";
        out += h.value;
        out += "\r\n";
    }
    if (!r.body.empty() || expects_body(r.method)) {
        out += "Content-Length: ";
        append_u64(out, r.body.size());
        out += "\r\n";
    }
    out += close ? "Connection: close\r\n\r\n" : "Connection: keep-alive\r\n\r\n";
    return out;
}

} // namespace ec::origin
