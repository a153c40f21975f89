// The fleet's admin routes and metrics: connection, applied sequence, lag, nodes, purge progress.
#include <cstdio>

#include "admin/admin_api.hpp"
#include "http/json_reply.hpp"
#include "http/reply_when_done.hpp"
#include "util/json_writer.hpp"
#include "util/percent.hpp"
#include "util/strings.hpp"

namespace ec::admin {

namespace {

void write_status(JsonWriter& w, const fleet::Fleet& f) {
    fleet::FleetStatus s = f.status();
    w.field("enabled", true).field("node", f.node());
    w.field("connected", s.connected).field("ready", s.ready);
    if (!s.server.empty()) w.field("server", s.server);
    if (!s.reason.empty()) w.field("reason", s.reason);
    w.key("kv").begin_object();
    w.field("applied_seq", s.applied_seq)
        .field("lag_messages", s.lag_messages)
        .field("lag_seconds", s.lag_seconds)
        .field("applied_total", s.apply_total)
        .field("resyncing", s.resyncing)
        .field("resyncs", s.resyncs);
    w.end_object();
    w.key("purges").begin_object();
    w.field("pending", s.purges_pending).field("applied_total", s.purges_applied);
    w.end_object();
    w.key("writes").begin_object();
    w.field("ok", s.writes_ok).field("failed", s.writes_failed);
    w.end_object();
    w.field("max_payload", s.max_payload);
}

} // namespace

void AdminApi::fleet_status(http::Exchange& ex) {
    if (!d_.fleet) return http::send_json(ex, 200, "{\"enabled\":false}");
    fleet::Fleet* f = d_.fleet;
    // The nodes are the purge stream's consumers: one per node that ever joined.
    f->purge_progress(
        0, http::reply_when_done(ex, [f](http::Exchange& e, Result<fleet::Link::PurgeProgress> r) {
            std::string body;
            JsonWriter w(body);
            w.begin_object();
            write_status(w, *f);
            if (r) w.field("nodes_known", uint64_t(r->known));
            w.end_object();
            http::send_json(e, 200, std::move(body));
        }));
}

void AdminApi::fleet_purge_progress(http::Exchange& ex) {
    if (!d_.fleet) return http::send_error(ex, 404, "no_fleet", "this node is not part of a fleet");
    auto text = query_param(ex.request().query, "seq");
    auto seq = text ? parse_u64(*text) : std::nullopt;
    if (!seq || *seq == 0)
        return http::send_error(ex, 400, "bad_seq", "seq must be a purge's stream sequence");
    uint64_t n = *seq;
    d_.fleet->purge_progress(
        n, http::reply_when_done(ex, [n](http::Exchange& e, Result<fleet::Link::PurgeProgress> r) {
            if (!r) return http::send_error(e, r.error());
            std::string body;
            JsonWriter(body)
                .begin_object()
                .field("seq", n)
                .field("applied", uint64_t(r->applied))
                .field("known", uint64_t(r->known))
                .end_object();
            http::send_json(e, 200, std::move(body));
        }));
}

void append_fleet_metrics(std::string& out, const fleet::Fleet& f) {
    fleet::FleetStatus s = f.status();
    char buf[160];
    auto metric = [&](const char* name, const char* type, const char* help, double v) {
        std::snprintf(buf, sizeof buf, "%.17g", v);
        out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
               name + " " + buf + "\n";
    };
    metric("edgecached_fleet_connected", "gauge", "1 while connected to NATS JetStream.",
           s.connected ? 1 : 0);
    metric("edgecached_fleet_lag_messages", "gauge",
           "Changes the fleet's stream holds that this node has not received yet.",
           double(s.lag_messages));
    metric("edgecached_fleet_apply_total", "counter",
           "Changes from the fleet's stream applied to this node's store.", double(s.apply_total));
    metric("edgecached_fleet_applied_sequence", "gauge",
           "The last stream sequence applied to this node's store.", double(s.applied_seq));
    const char* h = "edgecached_fleet_write_seconds";
    out += std::string("# HELP ") + h +
           " KV writes and purges through the fleet: JetStream's ack and the local apply.\n" +
           "# TYPE " + h + " histogram\n";
    const auto& counts = f.write_histogram();
    uint64_t cumulative = 0;
    for (size_t i = 0; i < counts.size(); ++i) {
        cumulative += counts[i];
        if (i < std::size(fleet::Fleet::kWriteBuckets))
            std::snprintf(buf, sizeof buf, "%s_bucket{le=\"%g\"} %llu\n", h,
                          fleet::Fleet::kWriteBuckets[i],
                          static_cast<unsigned long long>(cumulative));
        else
            std::snprintf(buf, sizeof buf, "%s_bucket{le=\"+Inf\"} %llu\n", h,
                          static_cast<unsigned long long>(cumulative));
        out += buf;
    }
    std::snprintf(buf, sizeof buf, "%s_sum %.17g\n%s_count %llu\n", h, f.write_seconds_sum(), h,
                  static_cast<unsigned long long>(cumulative));
    out += buf;
}

} // namespace ec::admin
