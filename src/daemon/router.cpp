// Router: dispatch by path and listener role; auth for KV routes; health.
#include "daemon/router.hpp"

#include "daemon/daemon.hpp"
#include "daemon/test_hooks.hpp"
#include "http/exchange.hpp"
#include "http/json_reply.hpp"
#include "kv/cf_envelope.hpp"
#include "util/json_writer.hpp"
#include "util/percent.hpp"
#include "util/strings.hpp"
#include "util/time_format.hpp"

#include "build_config.hpp"

namespace ec::daemon {

namespace {
constexpr std::string_view kKvPrefix = "/kv/";
constexpr std::string_view kCloudflarePrefix = "/client/v4/";

TestRouteHandler test_routes = nullptr;

} // namespace

void set_test_route_handler(TestRouteHandler handler) {
    test_routes = handler;
}

std::optional<int64_t> clock_advance_ms(std::string_view seconds) {
    constexpr int64_t kMaxSeconds = 100LL * 366 * 24 * 3600;
    auto secs = parse_i64(seconds);
    if (!secs || *secs > kMaxSeconds || *secs < -kMaxSeconds) return std::nullopt;
    return *secs * 1000;
}

bool bearer_matches(std::string_view authorization, std::string_view token) {
    if (!istarts_with(authorization, "Bearer ")) return false;
    std::string_view presented = trim_ows(authorization.substr(7));
    // Compare every byte whatever the lengths, so timing says nothing about the token.
    size_t n = std::max(presented.size(), token.size());
    unsigned char diff = presented.size() != token.size();
    for (size_t i = 0; i < n; ++i) {
        unsigned char a = i < presented.size() ? static_cast<unsigned char>(presented[i]) : 0;
        unsigned char b = i < token.size() ? static_cast<unsigned char>(token[i]) : 0;
        diff |= a ^ b;
    }
    return diff == 0;
}

http::BodyLimit Router::body_limit(const http::Request& head) {
    const std::string_view path = head.path;
    if (!roles_.kv_backend.empty()) return daemon_.workerd_kv().body_limit(head);
    if (roles_.kv && path.substr(0, kCloudflarePrefix.size()) == kCloudflarePrefix)
        return daemon_.cloudflare_kv().body_limit(head, path.substr(kCloudflarePrefix.size()));
    if (roles_.kv && path.substr(0, kKvPrefix.size()) == kKvPrefix)
        return daemon_.native_kv().body_limit(head, path.substr(kKvPrefix.size()));
    if (roles_.admin && path.substr(0, 7) == "/admin/")
        return http::BodyLimit{daemon_.config().max_body_size};
    if (roles_.proxy) return daemon_.proxy().body_limit(head);
    return http::BodyLimit{daemon_.config().max_body_size};
}

bool Router::authorized_for_kv(http::Exchange& ex, AuthStyle style) {
    const std::string& token = daemon_.config().api_token;
    if (token.empty() || roles_.admin) return true; // the admin socket is guarded by its mode
    auto auth = ex.request().header("Authorization");
    if (auth && bearer_matches(*auth, token)) return true;
    const char* why = auth ? "invalid API token" : "missing Authorization: Bearer <api_token>";
    if (style == AuthStyle::cloudflare) {
        kv::send_cf_error(ex, 401, kv::cf_code::kAuth, std::string("Authentication error: ") + why);
        return false;
    }
    if (style == AuthStyle::workerd) {
        kv::send_workerd_error(ex, 401, std::string("Unauthorized: ") + why);
        return false;
    }
    std::string body;
    JsonWriter w(body);
    w.begin_object().key("error").begin_object().field("code", "unauthorized");
    w.field("message", auth ? "invalid API token" : "missing Authorization: Bearer <api_token>");
    w.end_object().end_object();
    body.push_back('\n');
    ex.status(401).header("Content-Type", "application/json").header("WWW-Authenticate", "Bearer");
    ex.send(http::Body::owned(std::move(body)));
    return false;
}

void Router::handle(http::Exchange& ex) {
    const http::Request& req = ex.request();
    std::string_view path = req.path;
    if (!roles_.admin && daemon_.config().request_id) ex.assign_request_id();
    if (!roles_.kv_backend.empty()) {
        if (!authorized_for_kv(ex, AuthStyle::workerd)) return;
        return daemon_.workerd_kv().handle(ex, roles_.kv_backend);
    }
    if ((roles_.health || roles_.admin) && path == "/health") return health(ex);
    if (roles_.admin_token) {
        auto auth = req.header("Authorization");
        if (!auth || !bearer_matches(*auth, daemon_.config().admin_token)) {
            std::string body = "{\"error\":{\"code\":\"unauthorized\",\"message\":\"";
            body += auth ? "invalid admin token" : "missing Authorization: Bearer <admin_token>";
            body += "\"}}\n";
            ex.status(401)
                .header("Content-Type", "application/json")
                .header("WWW-Authenticate", "Bearer");
            ex.send(http::Body::owned(std::move(body)));
            return;
        }
    }
    if (roles_.kv && path.substr(0, kCloudflarePrefix.size()) == kCloudflarePrefix) {
        if (!authorized_for_kv(ex, AuthStyle::cloudflare)) return;
        return daemon_.cloudflare_kv().handle(ex, path.substr(kCloudflarePrefix.size()));
    }
    if (roles_.kv && path.substr(0, kKvPrefix.size()) == kKvPrefix) {
        if (!authorized_for_kv(ex)) return;
        return daemon_.native_kv().handle(ex, path.substr(kKvPrefix.size()));
    }
    if (roles_.admin && path.substr(0, 7) == "/admin/") return admin(ex);
    if ((roles_.metrics || roles_.admin) && path == "/metrics") return daemon_.admin().metrics(ex);
    // Everything the built-in paths did not take goes to the proxy routes.
    if (roles_.proxy) return daemon_.proxy().handle(ex);
    http::send_error(ex, 404, "not_found", "no route for " + std::string(path));
}

void Router::health(http::Exchange& ex) {
    bool draining = daemon_.draining();
    // A full or failing disk: reads are served, writes are refused with 507 until it clears.
    const char* fault = daemon_.store().fault_reason();
    std::string body;
    JsonWriter w(body);
    w.begin_object();
    w.field("status", draining ? "draining" : *fault ? "degraded" : "ok");
    if (*fault && !draining) {
        w.field("reason", fault);
        w.field("message", daemon_.store().fault_message());
    }
    w.field("timestamp", iso8601_ms(daemon_.loop().clock().now_ms()));
    w.field("version", EC_VERSION);
    w.end_object();
    http::send_json(ex, draining ? 503 : 200, std::move(body));
}

void Router::admin(http::Exchange& ex) {
    if (test_routes && test_routes(daemon_, ex)) return; // only in -Dtest_hooks=true builds
    if (ex.request().path == "/admin/tail") {
        if (ex.request().method != HTTP_GET) return http::send_method_not_allowed(ex, "GET");
        return daemon_.tail().subscribe(ex);
    }
    daemon_.admin().handle(ex);
}

} // namespace ec::daemon
