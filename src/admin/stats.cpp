// AdminApi: /admin/stats (JSON) and /metrics (Prometheus text), and resetting the counters.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <dirent.h>
#include <fstream>
#include <sys/resource.h>
#include <unistd.h>

#include "admin/admin_api.hpp"
#include "admin/counters.hpp"
#include "admin/prometheus.hpp"
#include "http/json_reply.hpp"
#include "util/json_writer.hpp"
#include "util/strings.hpp"
#include "util/utf8.hpp"

#include "build_config.hpp"

namespace ec::admin {

namespace {

struct ProcessInfo {
    double cpu_seconds = 0;
    uint64_t rss_anon = 0; // bytes; LMDB's map is file-backed, so RssAnon is our own memory
    uint64_t rss = 0;
    uint64_t open_fds = 0;
    uint64_t max_fds = 0;
};

ProcessInfo process_info() {
    ProcessInfo p;
    rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        p.cpu_seconds = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                        static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
        auto kb = [&](const char* name, uint64_t* out) {
            size_t n = std::strlen(name);
            if (line.compare(0, n, name) == 0)
                *out = std::strtoull(line.c_str() + n, nullptr, 10) * 1024;
        };
        kb("RssAnon:", &p.rss_anon);
        kb("VmRSS:", &p.rss);
    }
    if (DIR* d = opendir("/proc/self/fd")) {
        while (readdir(d))
            ++p.open_fds;
        closedir(d);
        p.open_fds = p.open_fds >= 3 ? p.open_fds - 3 : 0; // ".", ".." and the DIR itself
    }
    rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) p.max_fds = rl.rlim_cur;
    return p;
}

void counters_json(JsonWriter& w, const cache::CacheCounters& c) {
    for (const cache::CounterRow& row : cache::cache_counter_table())
        w.field(row.json, c.*row.field);
    w.field("hits", c.hits());
    w.field("hit_rate", c.hit_rate());
    w.key("origin_errors").begin_object();
    for (size_t k = 0; k < c.origin_errors_by_kind.size(); ++k)
        if (c.origin_errors_by_kind[k])
            w.field(origin::error_kind_name(static_cast<origin::ErrorKind>(k)),
                    c.origin_errors_by_kind[k]);
    w.end_object();
}

// A Prometheus label value: \\, \" and \n escaped as the text format defines; bytes that are
// not valid UTF-8 and other control characters (a namespace made before titles were checked)
// become U+FFFD, since one invalid label makes a scraper reject the whole page.
std::string label(std::string_view v) {
    std::string out;
    const auto* p = reinterpret_cast<const unsigned char*>(v.data());
    for (size_t i = 0; i < v.size();) {
        size_t n = utf8_seq_len(p + i, v.size() - i);
        char c = v[i];
        if (n == 0 || (n == 1 && ((p[i] < 0x20 && c != '\n') || p[i] == 0x7f))) {
            out += "\xEF\xBF\xBD";
            i += 1;
            continue;
        }
        if (c == '\\' || c == '"') out.push_back('\\');
        if (c == '\n')
            out += "\\n";
        else
            out.append(v.substr(i, n));
        i += n;
    }
    return out;
}

CacheExtraCounts cache_extra_counts(cache::Proxy& proxy, store::Store& store) {
    CacheExtraCounts c;
    c.purges = proxy.purger().total_purged();
    c.evictions = store.stats().evicted;
    c.fills_in_flight = proxy.fills_in_flight();
    return c;
}

} // namespace

void AdminApi::reset_stats() {
    d_.server.mutable_stats() = http::ServerStats{};
    d_.proxy.reset_stats();
    d_.store.reset_stats();
    for (const auto& [name, pool] : d_.origins.pools())
        pool->reset_stats();
    d_.namespaces.reset();
    d_.latency.reset();
    hot_baseline_ = d_.proxy.hot().stats();
}

void AdminApi::stats(http::Exchange& ex) {
    int64_t now = d_.loop.clock().now_s();
    const ConnectionCounts conn = connection_counts(d_.server);
    const auto conn_rows = connection_rows();
    cache::CacheCounters total = d_.proxy.totals();
    const HotTierCounts hot = hot_tier_counts(d_.proxy.hot().stats(), hot_baseline_);
    const StoreCounts store = store_counts(d_.store);
    std::string body;
    JsonWriter w(body);
    w.begin_object();
    w.field("version", EC_VERSION);
    w.field("uptime_s", now - d_.started_at_s);
    w.field("hit_rate", total.hit_rate());
    for (const auto& row : conn_rows.first(connection_top_level_rows))
        w.field(row.json, conn.*row.field);
    w.key("connections").begin_object();
    for (const auto& row : conn_rows.subspan(connection_top_level_rows))
        w.field(row.json, conn.*row.field);
    w.end_object();

    w.key("cache").begin_object();
    counters_json(w, total);
    json_rows(w, cache_extra_rows(), cache_extra_counts(d_.proxy, d_.store));
    w.key("deferred").begin_object();
    json_rows(w, deferred_rows(), deferred_counts(d_.proxy.deferred()));
    w.end_object();
    w.end_object();

    w.key("routes").begin_object();
    for (const auto& r : d_.proxy.route_table().routes()) {
        w.key(r->spec.name).begin_object();
        w.field("prefix", r->spec.prefix).field("origin", r->spec.origin);
        counters_json(w, r->stats);
        w.end_object();
    }
    w.end_object();

    w.key("namespaces").begin_object();
    for (const auto& [title, c] : d_.namespaces.all()) {
        if (!d_.store.namespace_by_title(title)) continue; // deleted or renamed since
        w.key(title).begin_object();
        json_rows(w, namespace_rows(), c);
        w.end_object();
    }
    w.end_object();

    w.key("store").begin_object();
    json_rows(w, store_map_rows(), store);
    w.field("map_used_fraction", store.map_size ? static_cast<double>(store.map_used) /
                                                      static_cast<double>(store.map_size)
                                                : 0.0);
    if (store.has_records) json_rows(w, store_record_rows(), store);
    json_rows(w, store_write_rows(), store);
    w.field("backup_in_progress", d_.store.backup_in_progress());
    w.key("commit_failures").begin_object();
    json_rows(w, store_commit_failure_rows(), store);
    w.end_object();
    if (*d_.store.fault_reason()) w.field("fault", d_.store.fault_reason());
    w.end_object();

    w.key("hot_tier").begin_object();
    json_rows(w, hot_tier_rows(), hot);
    w.end_object();

    w.key("origins").begin_object();
    for (const auto& [name, pool] : d_.origins.pools()) {
        origin::PoolStats ps = pool->stats();
        w.key(name).begin_object();
        json_rows(w, origin_rows(), ps);
        w.key("errors").begin_object();
        for (size_t k = 0; k < ps.errors.size(); ++k)
            if (ps.errors[k])
                w.field(origin::error_kind_name(static_cast<origin::ErrorKind>(k)), ps.errors[k]);
        w.end_object();
        w.key("servers").begin_array();
        for (const auto& s : pool->servers()) {
            w.begin_object().field("server", s.server).field("up", s.up);
            json_rows(w, origin_server_rows(), s);
            if (!s.last_error.empty()) w.field("last_error", s.last_error);
            w.end_object();
        }
        w.end_array();
        w.end_object();
    }
    w.end_object();

    if (d_.certificates) {
        w.key("tls_certificates").begin_array();
        int64_t wall = static_cast<int64_t>(::time(nullptr));
        for (const tls::CertificateInfo& c : d_.certificates()) {
            w.begin_object().field("file", c.label);
            w.key("names").begin_array();
            for (const auto& n : c.names)
                w.value(n);
            w.end_array();
            w.field("not_after", c.not_after).field("expires_in_s", c.not_after - wall);
            w.end_object();
        }
        w.end_array();
    }
    if (d_.tls_handshakes) {
        w.key("tls_listeners").begin_array();
        for (const tls::HandshakeCounts& h : d_.tls_handshakes()) {
            w.begin_object().field("listener", h.listener);
            json_rows(w, handshake_rows(), h);
            w.end_object();
        }
        w.end_array();
    }

    ProcessInfo pi = process_info();
    w.key("process").begin_object();
    w.field("cpu_seconds", pi.cpu_seconds).field("rss_anon_bytes", pi.rss_anon);
    w.field("open_fds", pi.open_fds).field("max_fds", pi.max_fds);
    w.end_object();
    w.end_object();
    http::send_json(ex, 200, std::move(body));
}

void AdminApi::metrics(http::Exchange& ex) {
    std::string out;
    out.reserve(16 * 1024);
    PrometheusText p(out);
    p.head("edgecached_build_info", "gauge", "Version of this edgecached.");
    p.sample("edgecached_build_info", std::string("version=\"") + EC_VERSION + "\"", uint64_t{1});
    p.one("edgecached_start_time_seconds", "gauge", "Unix time the daemon started.",
          static_cast<uint64_t>(d_.started_at_s));
    metric_rows(p, connection_rows(), connection_counts(d_.server));

    p.head("edgecached_request_duration_seconds", "histogram",
           "Time from a complete data-plane request to its complete response.");
    const auto& lat = d_.latency;
    for (size_t i = 0; i <= LatencyHistogram::kBounds.size(); ++i) {
        char le[32];
        if (i < LatencyHistogram::kBounds.size())
            std::snprintf(le, sizeof le, "le=\"%g\"", LatencyHistogram::kBounds[i]);
        else
            std::snprintf(le, sizeof le, "le=\"+Inf\"");
        p.sample("edgecached_request_duration_seconds_bucket", le, lat.cumulative(i));
    }
    p.sample("edgecached_request_duration_seconds_sum", "", lat.sum());
    p.sample("edgecached_request_duration_seconds_count", "", lat.count());

    const auto& routes = d_.proxy.route_table().routes();
    std::string_view family;
    for (const cache::CounterRow& row : cache::cache_counter_table()) {
        if (row.metric != family) p.head(row.metric, "counter", row.help);
        family = row.metric;
        for (const auto& r : routes) {
            std::string l = "route=\"" + label(r->spec.name) + "\"";
            if (!row.metric_label.empty()) l += "," + std::string(row.metric_label);
            p.sample(row.metric, l, r->stats.*row.field);
        }
    }
    p.head("edgecached_cache_hit_ratio", "gauge",
           "Hits over hits and misses since the last reset.");
    for (const auto& r : routes)
        p.sample("edgecached_cache_hit_ratio", "route=\"" + label(r->spec.name) + "\"",
                 r->stats.hit_rate());

    metric_rows(p, hot_tier_rows(), hot_tier_counts(d_.proxy.hot().stats(), hot_baseline_));
    metric_rows(p, deferred_rows(), deferred_counts(d_.proxy.deferred()));
    metric_rows(p, cache_extra_rows(), cache_extra_counts(d_.proxy, d_.store));

    const StoreCounts store = store_counts(d_.store);
    metric_rows(p, store_map_rows(), store);
    if (store.has_records) metric_rows(p, store_record_rows(), store);
    metric_rows(p, store_write_rows(), store);
    metric_rows(p, store_commit_failure_rows(), store);

    std::vector<Labelled<kv::NamespaceCounters>> namespaces;
    for (const auto& [title, c] : d_.namespaces.all())
        if (d_.store.namespace_by_title(title)) // not deleted or renamed since
            namespaces.push_back({"namespace=\"" + label(title) + "\"", c});
    metric_rows(p, namespace_rows(), std::span<const Labelled<kv::NamespaceCounters>>(namespaces));

    p.head("edgecached_origin_up", "gauge", "Whether an origin server is considered up.");
    for (const auto& [name, pool] : d_.origins.pools())
        for (const auto& s : pool->servers())
            p.sample("edgecached_origin_up",
                     "origin=\"" + label(name) + "\",server=\"" + label(s.server) + "\"",
                     uint64_t{s.up ? 1u : 0u});
    std::vector<Labelled<origin::PoolStats>> origins;
    std::vector<Labelled<origin::ServerStatus>> servers;
    for (const auto& [name, pool] : d_.origins.pools()) {
        origins.push_back({"origin=\"" + label(name) + "\"", pool->stats()});
        for (const auto& s : pool->servers())
            servers.push_back(
                {"origin=\"" + label(name) + "\",server=\"" + label(s.server) + "\"", s});
    }
    metric_rows(p, origin_rows(), std::span<const Labelled<origin::PoolStats>>(origins));
    metric_rows(p, origin_server_rows(), std::span<const Labelled<origin::ServerStatus>>(servers));
    p.head("edgecached_origin_errors_total", "counter", "Origin failures by kind.");
    for (const auto& [name, pool] : d_.origins.pools()) {
        origin::PoolStats ps = pool->stats();
        for (size_t k = 0; k < ps.errors.size(); ++k)
            if (ps.errors[k])
                p.sample("edgecached_origin_errors_total",
                         "origin=\"" + label(name) + "\",kind=\"" +
                             origin::error_kind_name(static_cast<origin::ErrorKind>(k)) + "\"",
                         ps.errors[k]);
    }

    if (d_.certificates) {
        p.head("edgecached_tls_certificate_expiry_seconds", "gauge",
               "Seconds until a served certificate expires (negative: expired).");
        int64_t wall = static_cast<int64_t>(::time(nullptr));
        for (const tls::CertificateInfo& c : d_.certificates())
            p.sample("edgecached_tls_certificate_expiry_seconds",
                     "name=\"" + label(c.names.empty() ? c.label : c.names.front()) + "\",file=\"" +
                         label(c.label) + "\"",
                     static_cast<double>(c.not_after - wall));
    }
    if (d_.tls_handshakes) {
        std::vector<Labelled<tls::HandshakeCounts>> listeners;
        for (const tls::HandshakeCounts& h : d_.tls_handshakes())
            listeners.push_back({"listener=\"" + label(h.listener) + "\"", h});
        metric_rows(p, handshake_rows(),
                    std::span<const Labelled<tls::HandshakeCounts>>(listeners));
    }

    ProcessInfo pi = process_info();
    p.head("process_cpu_seconds_total", "counter", "User and system CPU time spent.");
    p.sample("process_cpu_seconds_total", "", pi.cpu_seconds);
    p.one("process_resident_memory_bytes", "gauge",
          "Resident memory (VmRSS, includes mapped LMDB pages).", pi.rss);
    p.one("process_resident_anonymous_memory_bytes", "gauge",
          "Anonymous resident memory (RssAnon): the daemon's own heap.", pi.rss_anon);
    p.one("process_open_fds", "gauge", "Open file descriptors.", pi.open_fds);
    p.one("process_max_fds", "gauge", "The open file descriptor limit.", pi.max_fds);
    p.one("process_start_time_seconds", "gauge", "Unix time the process started.",
          static_cast<uint64_t>(d_.started_at_s));
    if (d_.fleet) append_fleet_metrics(out, *d_.fleet);

    ex.status(200).header("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    ex.send(http::Body::owned(std::move(out)));
}

} // namespace ec::admin
