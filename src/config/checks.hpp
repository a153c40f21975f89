// Internal: checks for string option values, used by the option tables (StringCheck).
#pragma once

#include <string>
#include <string_view>

namespace ec::config::detail {

// Each returns "" when the value is acceptable, else a sentence saying what is expected.
std::string check_name(std::string_view v);            // origin/route names: 1-64 [A-Za-z0-9_.-]
std::string check_namespace_title(std::string_view v); // KV titles: 1-512 bytes without "/"
std::string check_path(std::string_view v);            // "/..." without spaces or controls
std::string check_query_glob(std::string_view v);      // "name" or "prefix*"
std::string check_host_header(std::string_view v);     // host[:port] for a Host header
std::string check_tcp_address(std::string_view v);     // a listen address that is not unix:
std::string check_socket_path(std::string_view v);     // fits sun_path
std::string check_access_log(std::string_view v);      // a path or "-"
std::string check_access_format(std::string_view v);   // "default", "json" or a $template
std::string check_nats_url(std::string_view v);        // "nats://host:port"
std::string check_cidr(std::string_view v);            // "10.0.0.0/8", "::1", ...
std::string check_targeted_field(std::string_view v);  // "" or a field name, not Cache-Control

} // namespace ec::config::detail
