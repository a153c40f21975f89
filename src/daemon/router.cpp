// Router: the listener's route table, authentication by row family, health.
#include "daemon/router.hpp"

#include "daemon/daemon.hpp"
#include "daemon/test_hooks.hpp"
#include "http/exchange.hpp"
#include "http/json_reply.hpp"
#include "kv/cf_envelope.hpp"
#include "kv/workerd_backend.hpp"
#include "util/json_writer.hpp"
#include "util/percent.hpp"
#include "util/strings.hpp"
#include "util/time_format.hpp"

#include "build_config.hpp"

namespace ec::daemon {

namespace {
TestRoute test_route;

} // namespace

void set_test_route(TestRoute route) {
    test_route = route;
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

Router::Router(Daemon& daemon, Roles roles)
    : daemon_(daemon), roles_(std::move(roles)), table_(rows()) {}

std::vector<Router::Row> Router::rows() {
    std::vector<Row> rows;
    auto add_rows = [&rows](std::vector<kv::ApiRoute> routes, Family family) {
        for (kv::ApiRoute& r : routes)
            rows.push_back(Row{r.methods, r.pattern, family, r.limit, std::move(r.handle)});
    };
    if (!roles_.kv_backend.empty()) {
        add_rows(daemon_.workerd_kv().routes(roles_.kv_backend), Family::workerd);
        return rows;
    }
    const http::Methods get = http::method_bit(HTTP_GET) | http::method_bit(HTTP_HEAD);
    using Handle = std::function<void(http::Exchange&, const http::RouteArgs&)>;
    auto add = [&rows](http::Methods methods, std::string_view pattern, Family family,
                       Handle handle) {
        rows.push_back(Row{methods, pattern, family, kv::BodyLimitKind::body, std::move(handle)});
    };
    if (roles_.health || roles_.admin)
        add(get, "/health", Family::open,
            [this](http::Exchange& ex, const http::RouteArgs&) { health(ex); });
    if (roles_.kv) {
        add_rows(daemon_.cloudflare_kv().routes(), Family::cloudflare);
        add_rows(daemon_.native_kv().routes(), Family::native);
    }
    if (roles_.admin) {
        // Before AdminApi's rows, whose last is the catch-all 404 for /admin/.
        if (test_route.handle) // only in -Dtest_hooks=true builds
            add(test_route.methods, test_route.pattern, Family::admin,
                [this, fn = test_route.handle](http::Exchange& ex, const http::RouteArgs&) {
                    fn(daemon_, ex);
                });
        add(http::method_bit(HTTP_GET), "/admin/tail", Family::admin,
            [this](http::Exchange& ex, const http::RouteArgs&) { daemon_.tail().subscribe(ex); });
        for (admin::AdminRoute& r : daemon_.admin().routes())
            add(r.methods, r.pattern, Family::admin, std::move(r.handle));
    }
    if (roles_.metrics || roles_.admin)
        add(get, "/metrics", Family::admin,
            [this](http::Exchange& ex, const http::RouteArgs&) { daemon_.admin().metrics(ex); });
    return rows;
}

http::BodyLimit Router::body_limit(http::Request& head) {
    head.route = table_.resolve(head.method, head.path);
    const config::Config& cfg = daemon_.config();
    if (const auto* row = static_cast<const Row*>(head.route.row))
        return kv::body_limit(row->limit, daemon_.kv_ops().rules(), cfg.max_body_size);
    // Nothing here took the path: the proxy routes decide (a 405 or 404 reads no body anyway).
    if (!head.route.path_row && roles_.proxy && roles_.kv_backend.empty())
        return daemon_.proxy().body_limit(head);
    return kv::body_limit(kv::BodyLimitKind::body, daemon_.kv_ops().rules(), cfg.max_body_size);
}

void Router::handle(http::Exchange& ex) {
    const http::Request& req = ex.request();
    if (!roles_.admin && daemon_.config().request_id) ex.assign_request_id();
    const http::RouteMatch& m = req.route;
    const auto* row = static_cast<const Row*>(m.row ? m.row : m.path_row);
    // Unmatched: the workerd protocol refuses it; elsewhere it is the proxy's or a 404, behind
    // the admin token where there is one.
    Family family = row                          ? row->family
                    : !roles_.kv_backend.empty() ? Family::workerd
                                                 : Family::admin;
    if (!authorized(ex, family)) return;
    if (m.row) return row->handle(ex, m.args);
    if (row || !roles_.kv_backend.empty()) return method_not_allowed(ex, family, m.allowed);
    if (roles_.proxy) return daemon_.proxy().handle(ex);
    http::send_error(ex, 404, "not_found", "no route for " + std::string(req.path));
}

bool Router::authorized(http::Exchange& ex, Family family) {
    if (family == Family::open) return true;
    if (roles_.admin_token) {
        auto auth = ex.request().header("Authorization");
        if (!auth || !bearer_matches(*auth, daemon_.config().admin_token)) {
            std::string body = "{\"error\":{\"code\":\"unauthorized\",\"message\":\"";
            body += auth ? "invalid admin token" : "missing Authorization: Bearer <admin_token>";
            body += "\"}}\n";
            ex.status(401)
                .header("Content-Type", "application/json")
                .header("WWW-Authenticate", "Bearer");
            ex.send(http::Body::owned(std::move(body)));
            return false;
        }
    }
    if (family == Family::admin) return true;
    return authorized_for_kv(ex, family);
}

bool Router::authorized_for_kv(http::Exchange& ex, Family family) {
    const std::string& token = daemon_.config().api_token;
    if (token.empty() || roles_.admin) return true; // the admin socket is guarded by its mode
    auto auth = ex.request().header("Authorization");
    if (auth && bearer_matches(*auth, token)) return true;
    const char* why = auth ? "invalid API token" : "missing Authorization: Bearer <api_token>";
    if (family == Family::cloudflare) {
        kv::send_cf_error(ex, 401, kv::cf_code::kAuth, std::string("Authentication error: ") + why);
        return false;
    }
    if (family == Family::workerd) {
        kv::send_workerd_error(ex, 401, std::string("Unauthorized: ") + why);
        return false;
    }
    ex.status(401).header("Content-Type", "application/json").header("WWW-Authenticate", "Bearer");
    ex.send(http::Body::owned(http::error_json("unauthorized", why)));
    return false;
}

void Router::method_not_allowed(http::Exchange& ex, Family family, http::Methods allowed) {
    std::string allow = http::allow_header(allowed);
    if (family == Family::cloudflare) return kv::send_cf_method_not_allowed(ex, allow);
    if (family == Family::workerd) return kv::send_workerd_error(ex, 405, "Method Not Allowed");
    http::send_method_not_allowed(ex, allow);
}

void Router::health(http::Exchange& ex) {
    bool draining = daemon_.draining();
    // A full or failing disk: reads are served, writes are refused with 507 until it clears.
    const char* fault = daemon_.store().fault_reason();
    std::string message = daemon_.store().fault_message();
    // Without NATS, reads are served from LMDB and KV writes and purges answer 503.
    if (!*fault && daemon_.fleet()) {
        message = daemon_.fleet()->health_reason();
        if (!message.empty()) fault = "fleet_unavailable";
    }
    std::string body;
    JsonWriter w(body);
    w.begin_object();
    w.field("status", draining ? "draining" : *fault ? "degraded" : "ok");
    if (*fault && !draining) {
        w.field("reason", fault);
        w.field("message", message);
    }
    w.field("timestamp", iso8601_ms(daemon_.loop().clock().now_ms()));
    w.field("version", EC_VERSION);
    w.end_object();
    http::send_json(ex, draining ? 503 : 200, std::move(body));
}

} // namespace ec::daemon
