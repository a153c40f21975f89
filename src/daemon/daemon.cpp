// Daemon: wiring config to the loop, store and listeners; signals and graceful shutdown.
#include "daemon/daemon.hpp"

#include <csignal>
#include <cstdlib>
#include <stdexcept>
#include <sys/stat.h>

#include "util/log.hpp"
#include "util/units.hpp"

#include "build_config.hpp"

namespace ec::daemon {

http::Limits limits_from(const config::Config& cfg) {
    http::Limits lim;
    lim.max_header_size = cfg.max_header_size;
    lim.header_timeout_ms = cfg.header_timeout_ms;
    lim.idle_timeout_ms = cfg.idle_timeout_ms;
    lim.max_connections = cfg.max_connections;
    return lim;
}

namespace {

std::string roles_text(const Roles& r) {
    if (!r.kv_backend.empty()) return "workerd KV backend for namespace " + r.kv_backend;
    std::string s;
    auto add = [&s](bool on, const char* name) {
        if (!on) return;
        if (!s.empty()) s += ", ";
        s += name;
    };
    add(r.kv, "kv");
    add(r.proxy, "proxy");
    add(r.health, "health");
    add(r.metrics, "metrics");
    add(r.admin, "admin");
    return s;
}

} // namespace

Daemon::Daemon(config::Config cfg) : cfg_(std::move(cfg)) {
    const char* hooks = std::getenv("EDGECACHED_TEST_HOOKS");
    test_hooks_ = hooks && std::string(hooks) == "1";

    store::Options so;
    so.data_dir = cfg_.data_dir;
    so.map_size = cfg_.map_size;
    so.max_readers = cfg_.max_readers;
    so.durability = cfg_.durability == config::Durability::sync ? store::Durability::sync
                                                                : store::Durability::batch;
    so.sync_interval_ms = cfg_.sync_interval_ms;
    store_ = store::Store::open(loop_, so);

    server_ = std::make_unique<http::Server>(loop_, limits_from(cfg_));
    native_kv_ = std::make_unique<kv::NativeApi>(*store_, loop_.clock());
    access_log_ = std::make_unique<AccessLog>(loop_);
    apply_runtime_settings();
    server_->on_exchange_done = [this](http::Exchange& ex) { access_log_->record(ex); };
    open_listeners();

    signals_.push_back(
        std::make_unique<loop::Signal>(loop_.uv(), SIGTERM, [this] { begin_shutdown("SIGTERM"); }));
    signals_.push_back(
        std::make_unique<loop::Signal>(loop_.uv(), SIGINT, [this] { begin_shutdown("SIGINT"); }));
    signals_.push_back(
        std::make_unique<loop::Signal>(loop_.uv(), SIGUSR1, [this] { access_log_->reopen(); }));
    for (auto& s : signals_)
        s->unref();
}

Daemon::~Daemon() {
    finish();
}

void Daemon::apply_runtime_settings() {
    kv::Rules rules;
    rules.min_ttl = cfg_.min_ttl;
    rules.max_value_size = cfg_.max_value_size;
    native_kv_->set_rules(rules);
    native_kv_->set_max_body_size(cfg_.max_body_size);
    access_log_->open(cfg_.access_log);
    ec::log::Level lvl;
    if (ec::log::parse_level(cfg_.log_level, &lvl)) ec::log::set_level(lvl);
}

void Daemon::open_listeners() {
    for (const config::ListenSpec& spec : cfg_.listen) {
        Roles roles;
        roles.kv = spec.serve_kv;
        roles.proxy = spec.serve_proxy;
        roles.health = spec.serve_health;
        roles.metrics = spec.serve_metrics;
        roles.kv_backend = spec.kv_backend;
        if (!spec.kv_backend.empty()) roles.kv = roles.proxy = roles.health = roles.metrics = false;
        routers_.push_back(std::make_unique<Router>(*this, roles));
        http::Listener& l = server_->listen(spec.address, routers_.back().get(), spec.address);
        LOG_INFO("listening on %s (%s)", l.bound.c_str(), roles_text(roles).c_str());
    }
    admin_socket_path_ = cfg_.admin_socket;
    if (admin_socket_path_.empty()) {
        const char* rt = std::getenv("RUNTIME_DIRECTORY");
        admin_socket_path_ = (rt && *rt ? std::string(rt) : cfg_.data_dir) + "/admin.sock";
    }
    Roles admin;
    admin.kv = admin.health = admin.admin = true;
    admin.proxy = false;
    routers_.push_back(std::make_unique<Router>(*this, admin));
    http::Listener& l =
        server_->listen("unix:" + admin_socket_path_, routers_.back().get(), "admin");
    // Operators reach the admin socket through the service's group, never the world.
    ::chmod(admin_socket_path_.c_str(), 0660);
    LOG_INFO("admin socket %s", l.bound.c_str() + 5);
}

int Daemon::run() {
    LOG_INFO("edgecached %s ready (data dir %s, map size %s, durability %s)", EC_VERSION,
             cfg_.data_dir.c_str(), format_size(cfg_.map_size).c_str(),
             cfg_.durability == config::Durability::sync ? "sync" : "batch");
    loop_.run();
    finish();
    LOG_INFO("edgecached stopped");
    return 0;
}

void Daemon::begin_shutdown(const char* why) {
    if (draining_) {
        LOG_WARN("%s during shutdown: closing remaining connections now", why);
        server_->close_all_connections();
        return;
    }
    draining_ = true;
    LOG_INFO("%s: draining %zu connection(s), up to %u ms", why, server_->connection_count(),
             cfg_.drain_timeout_ms);
    drain_timer_ = std::make_unique<loop::Timer>(loop_.uv(), [this] {
        LOG_WARN("drain timeout: closing %zu connection(s)", server_->connection_count());
        server_->close_all_connections();
    });
    drain_timer_->start(cfg_.drain_timeout_ms);
    server_->drain([this] {
        drain_timer_.reset();
        finish();
    });
}

// Closes listeners and connections, commits and closes the store, and stops every handle so
// the loop runs dry. Objects are destroyed only after the loop has run their close callbacks.
void Daemon::finish() {
    if (finished_) return;
    finished_ = true;
    signals_.clear();
    drain_timer_.reset();
    if (server_) server_->shutdown();
    if (store_) store_->flush();
    store_.reset();
    if (access_log_) access_log_->flush();
}

} // namespace ec::daemon
