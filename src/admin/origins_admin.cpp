// The origin control routes: list origins and servers with health, and the operator override.
#include <simdjson.h>

#include "admin/admin_api.hpp"
#include "http/json_reply.hpp"
#include "util/json_writer.hpp"
#include "util/log.hpp"

namespace ec::admin {

namespace {

void write_servers(JsonWriter& w, const origin::Pool& pool) {
    w.key("servers").begin_array();
    for (const origin::ServerStatus& s : pool.servers()) {
        w.begin_object().field("server", s.server).field("up", s.up);
        w.field("admin", origin::admin_health_name(s.admin));
        w.field("resolved", s.resolved);
        w.field("consecutive_failures", static_cast<uint64_t>(s.consecutive_failures));
        w.field("down_for_ms", s.down_for_ms).field("active_check_failed", s.active_check_failed);
        w.field("open", static_cast<uint64_t>(s.open)).field("idle", static_cast<uint64_t>(s.idle));
        w.field("requests", s.requests).field("failures", s.failures);
        if (!s.last_error.empty()) w.field("last_error", s.last_error);
        w.end_object();
    }
    w.end_array();
}

void write_origin(JsonWriter& w, const std::string& name, const origin::Pool& pool) {
    w.begin_object().field("name", name);
    write_servers(w, pool);
    w.end_object();
}

} // namespace

void AdminApi::origins(http::Exchange& ex) {
    std::string body;
    JsonWriter w(body);
    w.begin_object().key("origins").begin_array();
    for (const auto& [name, pool] : d_.origins.pools())
        write_origin(w, name, *pool);
    w.end_array().end_object();
    http::send_json(ex, 200, std::move(body));
}

void AdminApi::origin_health(http::Exchange& ex) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    simdjson::dom::object obj;
    std::string_view body = ex.request().body;
    if (body.empty() || parser.parse(body.data(), body.size(), false).get(doc) ||
        doc.get_object().get(obj)) {
        http::send_error(ex, 400, "invalid_json",
                         "body must be {\"origin\": NAME, \"health\": \"sick|healthy|drain|auto\", "
                         "\"server\"?: \"host:port\"}");
        return;
    }
    std::string_view name, health, server;
    if (obj["origin"].get_string().get(name)) {
        http::send_error(ex, 400, "bad_request", "\"origin\" (a string) is required");
        return;
    }
    origin::AdminHealth h;
    if (obj["health"].get_string().get(health) || !origin::parse_admin_health(health, &h)) {
        http::send_error(ex, 400, "bad_request",
                         "\"health\" must be \"sick\", \"healthy\", \"drain\" or \"auto\"");
        return;
    }
    if (auto s = obj["server"]; !s.error() && s.get_string().get(server)) {
        http::send_error(ex, 400, "bad_request", "\"server\" must be a \"host:port\" string");
        return;
    }
    origin::Pool* pool = d_.origins.find(name);
    if (!pool) {
        std::string known;
        for (const auto& [n, p] : d_.origins.pools())
            known += (known.empty() ? "" : ", ") + n;
        http::send_error(ex, 404, "not_found",
                         "no origin \"" + std::string(name) +
                             "\" (configured: " + (known.empty() ? "none" : known) + ")");
        return;
    }
    if (!pool->set_admin_health(server, h)) {
        http::send_error(ex, 404, "not_found",
                         "origin \"" + std::string(name) + "\" has no server \"" +
                             std::string(server) + "\"");
        return;
    }
    LOG_INFO("origin %.*s%s%.*s set to %s by the admin API", static_cast<int>(name.size()),
             name.data(), server.empty() ? "" : " server ", static_cast<int>(server.size()),
             server.data(), origin::admin_health_name(h));
    std::string out;
    JsonWriter w(out);
    write_origin(w, std::string(name), *pool);
    http::send_json(ex, 200, std::move(out));
}

} // namespace ec::admin
