// JSON replies shared by every HTTP API (KV, admin, proxy errors): a JSON document, an error
// {"error":{"code","message"}}, a 405 with Allow.
#pragma once

#include <string>
#include <string_view>

#include "http/exchange.hpp"
#include "util/status.hpp"

namespace ec::http {

// Sends `json` (a complete JSON document) with the given status.
void send_json(Exchange& ex, int status, std::string json);

// {"error":{"code":code,"message":message}} and a newline: the body of every error reply.
std::string error_json(std::string_view code, std::string_view message);

// Sends error_json(code, message) with the given status.
void send_error(Exchange& ex, int status, std::string_view code, std::string_view message);
inline void send_error(Exchange& ex, const Error& e) {
    send_error(ex, e.http ? e.http : 500, e.code, e.message);
}

// 405 with an Allow header.
void send_method_not_allowed(Exchange& ex, std::string_view allow);

} // namespace ec::http
