// Names and gateway statuses for the origin client's error kinds.
#include "origin/types.hpp"

namespace ec::origin {

const char* error_kind_name(ErrorKind k) {
    switch (k) {
    case ErrorKind::dns:
        return "dns";
    case ErrorKind::connect_refused:
        return "connect_refused";
    case ErrorKind::connect_timeout:
        return "connect_timeout";
    case ErrorKind::tls:
        return "tls";
    case ErrorKind::first_byte_timeout:
        return "first_byte_timeout";
    case ErrorKind::timeout:
        return "timeout";
    case ErrorKind::reset:
        return "reset";
    case ErrorKind::bad_response:
        return "bad_response";
    case ErrorKind::header_too_large:
        return "header_too_large";
    case ErrorKind::truncated:
        return "truncated";
    case ErrorKind::no_server:
        return "no_server";
    case ErrorKind::overloaded:
        return "overloaded";
    case ErrorKind::invalid_request:
        return "invalid_request";
    case ErrorKind::cancelled:
        return "cancelled";
    }
    return "unknown";
}

int gateway_status(ErrorKind k) {
    switch (k) {
    case ErrorKind::connect_timeout:
    case ErrorKind::first_byte_timeout:
    case ErrorKind::timeout:
        return 504;
    case ErrorKind::no_server:
    case ErrorKind::overloaded:
        return 503;
    default:
        return 502;
    }
}

const char* admin_health_name(AdminHealth h) {
    switch (h) {
    case AdminHealth::automatic:
        return "auto";
    case AdminHealth::sick:
        return "sick";
    case AdminHealth::healthy:
        return "healthy";
    case AdminHealth::draining:
        return "drain";
    }
    return "?";
}

bool parse_admin_health(std::string_view s, AdminHealth* out) {
    for (auto h :
         {AdminHealth::automatic, AdminHealth::sick, AdminHealth::healthy, AdminHealth::draining})
        if (s == admin_health_name(h)) {
            *out = h;
            return true;
        }
    return false;
}

} // namespace ec::origin
