// JSON replies shared by every HTTP API.
#include "http/json_reply.hpp"

#include "util/json_writer.hpp"

namespace ec::http {

void send_json(Exchange& ex, int status, std::string json) {
    json.push_back('\n');
    ex.status(status).header("Content-Type", "application/json");
    ex.send(Body::owned(std::move(json)));
}

std::string error_json(std::string_view code, std::string_view message) {
    std::string body;
    JsonWriter w(body);
    w.begin_object().key("error").begin_object();
    w.field("code", code).field("message", message);
    w.end_object().end_object();
    body.push_back('\n');
    return body;
}

void send_error(Exchange& ex, int status, std::string_view code, std::string_view message) {
    ex.status(status).header("Content-Type", "application/json");
    ex.send(Body::owned(error_json(code, message)));
}

void send_method_not_allowed(Exchange& ex, std::string_view allow) {
    std::string message = std::string(ex.request().method_name) +
                          " is not allowed here; allowed: " + std::string(allow);
    ex.status(405).header("Content-Type", "application/json").header("Allow", allow);
    ex.send(Body::owned(error_json("method_not_allowed", message)));
}

} // namespace ec::http
