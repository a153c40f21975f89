// Router: the Handler of one listener — built-in paths by role, then the proxy routes.
#pragma once

#include <string>

#include "http/handler.hpp"

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

class Router : public http::Handler {
public:
    Router(Daemon& daemon, Roles roles) : daemon_(daemon), roles_(std::move(roles)) {}

    http::BodyLimit body_limit(const http::Request& head) override;
    void handle(http::Exchange& ex) override;
    const Roles& roles() const { return roles_; }

private:
    // How a refused KV request is answered: the native JSON error, the Cloudflare envelope
    // (code 10000), or a bare 401 for workerd.
    enum class AuthStyle { native, cloudflare, workerd };
    bool authorized_for_kv(http::Exchange& ex, AuthStyle style = AuthStyle::native);
    void health(http::Exchange& ex);
    void admin(http::Exchange& ex);

    Daemon& daemon_;
    Roles roles_;
};

// Constant-time comparison of a presented bearer token (the whole Authorization value) with
// the configured one.
bool bearer_matches(std::string_view authorization, std::string_view token);

} // namespace ec::daemon
