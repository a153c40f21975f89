// The fleet's admin routes and metrics: connection, applied sequence, lag, nodes, purge progress.
#include <cstdio>

#include "admin/admin_api.hpp"
#include "admin/prometheus.hpp"
#include "http/json_reply.hpp"
#include "http/reply_when_done.hpp"
#include "util/json_writer.hpp"
#include "util/percent.hpp"
#include "util/strings.hpp"

namespace ec::admin {

namespace {

using InFleet = fleet::FleetStatus;
using FleetRows = std::span<const StatRow<fleet::FleetStatus>>;

// The fleet's counters: the keys of /admin/fleet "kv", "purges" and "writes", and the families of
// /metrics.
const StatRow<fleet::FleetStatus> g_fleet_kv_rows[] = {
    {"applied_seq", "edgecached_fleet_applied_sequence", true,
     "The last stream sequence applied to this node's store.", nullptr, false, false,
     &InFleet::applied_seq},
    {"lag_messages", "edgecached_fleet_lag_messages", true,
     "Changes the fleet's stream holds that this node has not received yet.", nullptr, false, false,
     &InFleet::lag_messages},
    {"applied_total", "edgecached_fleet_apply_total", false,
     "Changes from the fleet's stream applied to this node's store.", nullptr, false, false,
     &InFleet::apply_total},
    {"resyncs", "edgecached_fleet_resyncs_total", false,
     "Times this node copied the whole KV bucket because the stream had moved past it.", nullptr,
     false, false, &InFleet::resyncs},
};

const StatRow<fleet::FleetStatus> g_fleet_purge_rows[] = {
    {"pending", "edgecached_fleet_purges_pending", true,
     "Purges delivered to this node and not applied yet.", nullptr, false, false,
     &InFleet::purges_pending},
    {"applied_total", "edgecached_fleet_purges_applied_total", false,
     "Purges from other nodes applied here.", nullptr, false, false, &InFleet::purges_applied},
};

const StatRow<fleet::FleetStatus> g_fleet_write_rows[] = {
    {"ok", "edgecached_fleet_writes_total", false,
     "KV writes and purges through the fleet, by result.", nullptr, false, false,
     &InFleet::writes_ok, "result=\"ok\""},
    {"failed", "edgecached_fleet_writes_total", false, "", nullptr, false, false,
     &InFleet::writes_failed, "result=\"failed\""},
};

void write_status(JsonWriter& w, const fleet::Fleet& f) {
    fleet::FleetStatus s = f.status();
    w.field("enabled", true).field("node", f.node());
    w.field("connected", s.connected).field("ready", s.ready);
    if (!s.server.empty()) w.field("server", s.server);
    if (!s.reason.empty()) w.field("reason", s.reason);
    w.key("kv").begin_object();
    json_rows(w, FleetRows(g_fleet_kv_rows), s);
    w.field("lag_seconds", s.lag_seconds).field("resyncing", s.resyncing);
    w.end_object();
    w.key("purges").begin_object();
    json_rows(w, FleetRows(g_fleet_purge_rows), s);
    w.end_object();
    w.key("writes").begin_object();
    json_rows(w, FleetRows(g_fleet_write_rows), s);
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
    PrometheusText p(out);
    p.one("edgecached_fleet_connected", "gauge", "1 while connected to NATS JetStream.",
          uint64_t{s.connected});
    p.one("edgecached_fleet_ready", "gauge",
          "1 while connected and the KV bucket is open: fleet writes are taken.",
          uint64_t{s.ready});
    p.one("edgecached_fleet_resyncing", "gauge", "1 while this node copies the whole KV bucket.",
          uint64_t{s.resyncing});
    p.head("edgecached_fleet_lag_seconds", "gauge",
           "Age of the last change received while this node lags the stream.");
    p.sample("edgecached_fleet_lag_seconds", "", s.lag_seconds);
    metric_rows(p, FleetRows(g_fleet_kv_rows), s);
    metric_rows(p, FleetRows(g_fleet_purge_rows), s);
    metric_rows(p, FleetRows(g_fleet_write_rows), s);

    const char* h = "edgecached_fleet_write_seconds";
    p.head(h, "histogram",
           "KV writes and purges through the fleet: JetStream's ack and the local apply.");
    const auto& counts = f.write_histogram();
    uint64_t cumulative = 0;
    for (size_t i = 0; i < counts.size(); ++i) {
        cumulative += counts[i];
        char le[32];
        if (i < std::size(fleet::Fleet::kWriteBuckets))
            std::snprintf(le, sizeof le, "le=\"%g\"", fleet::Fleet::kWriteBuckets[i]);
        else
            std::snprintf(le, sizeof le, "le=\"+Inf\"");
        p.sample("edgecached_fleet_write_seconds_bucket", le, cumulative);
    }
    p.sample("edgecached_fleet_write_seconds_sum", "", f.write_seconds_sum());
    p.sample("edgecached_fleet_write_seconds_count", "", cumulative);
}

} // namespace ec::admin
