// Router: the Handler of one listener — one route table, resolved once per request head.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "http/handler.hpp"
#include "http/route_table.hpp"
#include "kv/route.hpp"

namespace ec::daemon {

class Daemon;

// What a listener serves. Data-plane listeners come from `listen`; the admin socket serves
// health, KV and the admin routes.
struct Roles {
    bool kv = true;
    bool proxy = true;
    bool health = true;
    bool metrics = false;
    bool admin = false;
    // The TCP admin listener (admin_listen): every request but /health needs
    // "Authorization: Bearer <admin_token>" (compared in constant time), else 401.
    bool admin_token = false;
    std::string kv_backend; // workerd KV protocol for this namespace title, and nothing else
};

// The listener's table holds the rows its roles serve, in this order: /health (GET, HEAD); the
// Cloudflare routes (/client/v4/...); the native KV routes (/kv/...); the admin routes (the
// test hooks' and /admin/tail, then AdminApi::routes()); /metrics (GET, HEAD) — or, on a
// kv_backend listener, only the workerd protocol's rows. body_limit() resolves the head against
// it once (route_table.hpp's RouteTable) and keeps the match in Request::route; handle()
// authenticates by the row's family and calls the row. A path no row matches goes to the proxy
// routes (when the listener serves them), else 404; a path some row matches with another method is
// a 405 in that row's family's format, with Allow.
class Router : public http::Handler {
public:
    Router(Daemon& daemon, Roles roles);

    http::BodyLimit body_limit(http::Request& head) override;
    void handle(http::Exchange& ex) override;
    const Roles& roles() const { return roles_; }

    // Whose conventions a row follows for authentication and errors.
    enum class Family {
        open,       // no token (/health)
        admin,      // admin_token on the TCP admin listener
        native,     // + api_token; JSON errors
        cloudflare, // + api_token; the v4 envelope (401 code 10000, 405 code 7001)
        workerd,    // + api_token; bare statuses with reason phrases
    };
    struct Row {
        http::Methods methods = 0;
        std::string_view pattern;
        Family family = Family::open;
        kv::BodyLimitKind limit = kv::BodyLimitKind::body;
        std::function<void(http::Exchange&, const http::RouteArgs&)> handle;
    };

private:
    // The rows this listener's roles serve, in the order above.
    std::vector<Row> rows();
    // Answers 401 and returns false when the request lacks the token its family needs.
    bool authorized(http::Exchange& ex, Family family);
    bool authorized_for_kv(http::Exchange& ex, Family family);
    void method_not_allowed(http::Exchange& ex, Family family, http::Methods allowed);
    void health(http::Exchange& ex);

    Daemon& daemon_;
    Roles roles_;
    http::RouteTable<Row> table_;
};

// Constant-time comparison of a presented bearer token (the whole Authorization value) with
// the configured one.
bool bearer_matches(std::string_view authorization, std::string_view token);

} // namespace ec::daemon
