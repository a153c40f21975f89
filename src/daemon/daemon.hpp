// Daemon: the process — owns the loop, store, servers and handlers; start, drain, stop.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "admin/admin_api.hpp"
#include "admin/latency.hpp"
#include "cache/proxy.hpp"
#include "config/cli.hpp"
#include "config/config.hpp"
#include "config/docs.hpp"
#include "config/options.hpp"
#include "daemon/access_log.hpp"
#include "daemon/router.hpp"
#include "daemon/systemd_notify.hpp"
#include "daemon/tail.hpp"
#include "fleet/fleet.hpp"
#include "http/server.hpp"
#include "kv/cloudflare_api.hpp"
#include "kv/native_api.hpp"
#include "kv/ops.hpp"
#include "kv/workerd_backend.hpp"
#include "loop/handle.hpp"
#include "loop/loop.hpp"
#include "origin/origins.hpp"
#include "store/store.hpp"
#include "tls/listener_tls.hpp"
#include "tls/ticket_keys.hpp"

namespace ec::daemon {

class Daemon {
public:
    // Opens the store and binds every listener; throws std::runtime_error with a message fit
    // for the operator when any of that fails.
    // `cli` is kept for reloads: the file is re-read and the same flags applied on top.
    explicit Daemon(config::Config cfg, config::CommandLine cli = {});
    ~Daemon();

    // Runs the loop until a signal drains and stops the daemon. Returns the exit code.
    int run();

    // Starts a graceful shutdown: stop accepting, /health 503, finish in-flight requests for
    // up to drain_timeout_ms, commit, close the store.
    void begin_shutdown(const char* why);

    // Re-reads the configuration (SIGHUP, POST /admin/reload). Everything the new config
    // needs (listeners, the admin TCP listener, the access log file) is built first; only
    // when all of it succeeded is it swapped in: listeners added and removed (connections on
    // those that stay are untouched), limits, routes, origins, KV rules, tokens, logging.
    // Any failure refuses the reload with the reason and changes nothing. Options the table
    // marks restart-only keep their running value and are reported in pending_restart.
    Result<admin::ReloadReport> reload();

    // systemd hooks for a config reload (SIGHUP / POST /admin/reload): call notify_reloading()
    // before re-reading the file and notify_ready() once the new config is applied or refused
    // (systemd must see READY=1 again either way). Both are no-ops outside systemd.
    void notify_reloading();
    void notify_ready();

    loop::Loop& loop() { return loop_; }
    const config::Config& config() const { return cfg_; }
    // Every KV read and write of every front end (and the fleet's hook for writes).
    kv::Ops& kv_ops() { return *kv_ops_; }
    kv::NativeApi& native_kv() { return *native_kv_; }
    kv::CloudflareApi& cloudflare_kv() { return *cloudflare_kv_; }
    kv::WorkerdBackend& workerd_kv() { return *workerd_kv_; }
    cache::Proxy& proxy() { return *proxy_; }
    admin::AdminApi& admin() { return *admin_; }
    Tail& tail() { return *tail_; }
    // The first TCP data-plane listener as bound ("127.0.0.1:8787"); "" when there is none.
    std::string first_tcp_listener() const;
    origin::Origins& origins() { return *origins_; }
    store::Store& store() { return *store_; }
    // The fleet this node belongs to; nullptr when `fleet` is not configured (a single node).
    fleet::Fleet* fleet() { return fleet_.get(); }
    http::Server& server() { return *server_; }
    bool draining() const { return draining_; }

private:
    void open_listeners();
    // Binds one data-plane listener for `spec`. Throws like http::Server::listen.
    void open_listener(const config::ListenSpec& spec);
    // Hands every subsystem its settings struct from cfg_ (config.hpp): at start and after each
    // reload, so every reloadable option reaches what reads it.
    void apply_runtime_settings();
    void finish();

    config::Config cfg_;
    config::CommandLine cli_;
    loop::Loop loop_;
    kv::NamespaceStats ns_stats_;
    admin::LatencyHistogram latency_;
    std::unique_ptr<store::Store> store_;
    std::unique_ptr<fleet::Fleet> fleet_;
    std::unique_ptr<http::Server> server_;
    std::unique_ptr<kv::Ops> kv_ops_;
    std::unique_ptr<kv::NativeApi> native_kv_;
    std::unique_ptr<kv::CloudflareApi> cloudflare_kv_;
    std::unique_ptr<kv::WorkerdBackend> workerd_kv_;
    std::unique_ptr<origin::Origins> origins_;
    std::unique_ptr<cache::Proxy> proxy_;
    std::unique_ptr<AccessLog> access_log_;
    std::unique_ptr<Tail> tail_; // after access_log_, which renders its records
    std::unique_ptr<admin::AdminApi> admin_;
    std::unique_ptr<SystemdNotify> systemd_;
    std::unique_ptr<tls::TicketRotation> ticket_rotation_; // hourly, for every TLS listener
    std::vector<std::unique_ptr<Router>> routers_;
    // The data-plane listeners from config, for reload's add/remove.
    struct Bound {
        config::ListenSpec spec;
        http::Listener* listener;
        std::shared_ptr<tls::ListenerTls> tls; // null for plaintext
    };
    // Points the connections `l` accepts from now on at `contexts` (null: plaintext), creating
    // or dropping `state`, the listener's live TLS state; open connections keep their session.
    // Start-up and reload both go through it, so a reload changes a listener's certificates
    // (even their files) or turns TLS on or off without rebinding its address.
    void use_tls(http::Listener& l, std::shared_ptr<tls::ListenerTls>& state,
                 std::shared_ptr<const tls::ServerTls> contexts);
    std::shared_ptr<tls::ListenerTls> admin_tls_;
    std::vector<Bound> bound_;
    // The TCP admin listener (admin_listen), when configured.
    http::Listener* admin_tcp_ = nullptr;
    std::string admin_tcp_address_;
    // Binds the TCP admin listener (token required), plaintext until use_tls. Throws like
    // http::Server::listen.
    http::Listener& bind_admin_tcp(const std::string& address);
    int64_t started_at_ = 0;
    std::vector<std::unique_ptr<loop::Signal>> signals_;
    std::unique_ptr<loop::Timer> drain_timer_;
    std::string admin_socket_path_;
    bool draining_ = false;
    // The data-plane listeners came from systemd (socket activation): then `listen` in the
    // config is ignored, also on reload.
    bool socket_activated_ = false;
    bool finished_ = false;
};

} // namespace ec::daemon
