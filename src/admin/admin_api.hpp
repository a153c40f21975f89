// AdminApi: the admin routes — stats, metrics, purge, warm, inspect, reload, backup, config.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "admin/latency.hpp"
#include "cache/proxy.hpp"
#include "config/config.hpp"
#include "fleet/fleet.hpp"
#include "http/exchange.hpp"
#include "http/route_table.hpp"
#include "http/server.hpp"
#include "kv/ns_stats.hpp"
#include "loop/loop.hpp"
#include "origin/origins.hpp"
#include "store/store.hpp"
#include "tls/listener_tls.hpp"
#include "tls/server_tls.hpp"
#include "util/status.hpp"

namespace ec::admin {

class Warmer;

// What a reload applied and what waits for a restart, by option name (table order).
struct ReloadReport {
    std::vector<std::string> changes;         // applied now
    std::vector<std::string> pending_restart; // changed in the file, kept at the running value
};

// What the admin routes reach into. All references outlive the AdminApi.
struct AdminDeps {
    loop::Loop& loop;
    http::Server& server;
    store::Store& store;
    cache::Proxy& proxy;
    origin::Origins& origins;
    LatencyHistogram& latency;
    kv::NamespaceStats& namespaces;
    std::function<const config::Config&()> config;
    // Re-reads the configuration; returns what changed, or why it was refused.
    std::function<Result<ReloadReport>()> reload;
    // The first TCP data-plane listener ("127.0.0.1:8787"), for warm's default Host and target.
    std::function<std::string()> first_tcp_listener;
    int64_t started_at_s = 0;
    // Every certificate the TLS listeners (and admin_tls) serve now, for the expiry metric.
    std::function<std::vector<tls::CertificateInfo>()> certificates = {};
    // Each TLS listener's handshakes in progress and refused over its max_handshakes.
    std::function<std::vector<tls::HandshakeCounts>()> tls_handshakes = {};
    fleet::Fleet* fleet = nullptr; // nullptr: a single node
};

// One admin route, a row of the listener's route table: the methods it takes, its pattern
// (route_table.hpp's syntax, static) and its handler, which gets the pattern's captures.
struct AdminRoute {
    http::Methods methods = 0;
    std::string_view pattern;
    std::function<void(http::Exchange&, const http::RouteArgs&)> handle;
};

// Routes (JSON in and out; errors as {"error":{"code","message"}}; a GET route takes HEAD too;
// another method is a 405 with Allow, from the router's table):
//   GET  /admin/stats          counters in total, per route, per origin; hit_rate a fraction
//   POST /admin/stats/reset
//   POST /admin/purge          {"paths"|"prefix"|"tags"|"all", "soft"?, "route"?, "namespace"?}
//   POST /admin/warm           {"paths":[...], "concurrency"?, "host"?} → NDJSON progress
//   GET  /admin/inspect?path=  the stored entry (host= to pick a host)
//   POST /admin/reload         re-read the config (flags still win)
//   POST /admin/backup         {"path":"/abs/new-dir"} → compacted copy of the environment
//   GET  /admin/config         the effective configuration (secrets masked)
//   GET  /admin/origins        {"origins":[{"name", "servers":[{"server","up","admin",...}]}]}
//   POST /admin/origins/health {"origin", "health":"sick|healthy|drain|auto", "server"?}
//   GET  /admin/fleet          the fleet: connection, applied sequence, lag, nodes, purges
//   GET  /admin/fleet/purges?seq=N  how many nodes applied purge N, of how many
//   GET  /metrics              Prometheus text format
// Appends the fleet's Prometheus metrics (fleet_admin.cpp).
void append_fleet_metrics(std::string& out, const fleet::Fleet& f);

class AdminApi {
public:
    explicit AdminApi(AdminDeps deps);
    ~AdminApi();

    // The admin routes above, last a catch-all that answers 404 for any other /admin/ path
    // (so the router puts its own /admin/ rows first). /metrics is not among them: listeners
    // that serve only metrics have a row of their own for metrics().
    std::vector<AdminRoute> routes();
    void metrics(http::Exchange& ex);
    // Counts since start or the last reset.
    void reset_stats();
    // Backups and warms in progress must finish (or be cleaned up) before shutdown.
    void shutdown();

private:
    void stats(http::Exchange& ex);
    void stats_reset(http::Exchange& ex);
    void effective_config(http::Exchange& ex);
    void fleet_status(http::Exchange& ex);         // fleet_admin.cpp
    void fleet_purge_progress(http::Exchange& ex); // fleet_admin.cpp
    void purge(http::Exchange& ex);
    void warm(http::Exchange& ex);
    void inspect(http::Exchange& ex);
    void reload(http::Exchange& ex);
    void backup(http::Exchange& ex);
    void origins(http::Exchange& ex);
    void origin_health(http::Exchange& ex);

    AdminDeps d_;
    std::unique_ptr<Warmer> warmer_;
    cache::HotTierStats hot_baseline_; // the hot tier's counters at the last reset
};

} // namespace ec::admin
