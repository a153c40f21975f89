// Value checks for string options: paths, names, addresses, patterns.
#include "config/checks.hpp"

#include "config/access_format.hpp"
#include "util/address.hpp"
#include "util/ip.hpp"
#include "util/strings.hpp"

namespace ec::config::detail {

std::string check_name(std::string_view v) {
    if (v.empty() || v.size() > 64) return "must be 1 to 64 characters";
    for (char c : v) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '_' || c == '-' || c == '.';
        if (!ok) return "may contain only letters, digits, \"_\", \"-\" and \".\"";
    }
    return "";
}

std::string check_namespace_title(std::string_view v) {
    if (v.empty() || v.size() > 512) return "a namespace title must be 1 to 512 bytes";
    if (v.find('/') != std::string_view::npos) return "a namespace title cannot contain \"/\"";
    return "";
}

std::string check_nats_url(std::string_view v) {
    constexpr std::string_view scheme = "nats://";
    if (!v.starts_with(scheme) || v.size() == scheme.size())
        return "must be a NATS server URL like \"nats://127.0.0.1:4222\"";
    for (char c : v)
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == ',')
            return "must not contain spaces, commas or control characters";
    return "";
}

std::string check_path(std::string_view v) {
    if (v.empty() || v.front() != '/') return "must be a path starting with \"/\"";
    for (char c : v)
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
            return "must not contain spaces or control characters";
    return "";
}

std::string check_query_glob(std::string_view v) {
    size_t star = v.find('*');
    if (v.empty() || v == "*" || (star != std::string_view::npos && star + 1 != v.size()))
        return "must be a parameter name or a \"prefix*\" pattern";
    return "";
}

std::string check_host_header(std::string_view v) {
    for (char c : v)
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '/')
            return "must be a host[:port] without spaces, control characters or \"/\"";
    return "";
}

std::string check_tcp_address(std::string_view v) {
    auto a = parse_listen_address(v);
    if (!a) return a.error().message;
    if (a->kind == Address::Kind::unix_path)
        return "must be a TCP address (the admin Unix socket is admin_socket)";
    return "";
}

std::string check_socket_path(std::string_view v) {
    if (v.size() > max_unix_path)
        return "the Unix socket path is " + std::to_string(v.size()) + " bytes; the limit is " +
               std::to_string(max_unix_path);
    return "";
}

std::string check_access_log(std::string_view v) {
    if (v.empty()) return "must be a file path or \"-\" (stderr); use null to turn it off";
    return "";
}

std::string check_access_format(std::string_view v) {
    std::string error;
    return compile_access_format(v, &error) ? "" : error;
}

std::string check_cidr(std::string_view v) {
    std::string error;
    return parse_cidr(v, &error) ? "" : error;
}

std::string check_targeted_field(std::string_view v) {
    if (v.empty()) return "";
    if (!is_token(v)) return "expected a header field name (a token) or \"\"";
    if (iequals(v, "cache-control") || iequals(v, "cdn-cache-control"))
        return "expected a field of this cache's own, not Cache-Control or CDN-Cache-Control";
    return "";
}

} // namespace ec::config::detail
