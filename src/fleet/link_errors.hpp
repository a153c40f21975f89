// The Link's error texts, shared by link.cpp and link_streams.cpp.
#pragma once

#include <nats/nats.h>

#include <string>

#include "util/status.hpp"

namespace ec::fleet {

// "<what>: <status text> (<the library's last error>)" for logs and 503 bodies.
std::string nats_error(const char* what, natsStatus s, jsErrCode jerr = jsErrCode(0));
// 503 fleet_unavailable with `why`.
Error unavailable(std::string why);

} // namespace ec::fleet
