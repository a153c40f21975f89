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

} // namespace ec::origin
