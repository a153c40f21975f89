// health, stats, stats reset and stats --watch: the daemon's counters as a compact summary.
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <optional>
#include <signal.h>
#include <unistd.h>

#include "admin/counters.hpp"
#include "cache/stats.hpp"
#include "commands.hpp"
#include "json_util.hpp"
#include "util/time_format.hpp"

namespace ec::ctl {

int cmd_health(Context& ctx) {
    allow_only(ctx.args, "health", {});
    if (ctx.args.words.size() > 1) throw UsageError("health", "health takes no arguments");
    Response r = ctx.client.request("GET", "/health");
    simdjson::dom::parser parser;
    std::string status;
    if (r.status == 200 || r.status == 503)
        status = str(parse_json(parser, r.body, "/health"), {"status"});
    if (status.empty()) expect_success(r);
    if (ctx.json) {
        out(r.body);
        if (!r.body.empty() && r.body.back() != '\n') out("\n");
    } else {
        std::string version = str(parse_json(parser, r.body, "/health"), {"version"});
        out(status + (version.empty() ? "" : " (edgecached " + version + ")") + "\n");
    }
    return status == "ok" ? kOk : kError;
}

namespace {

// The totals the rates are computed from, and when they were read.
struct Snapshot {
    double requests = 0, hits = 0, misses = 0, stale = 0, origin_errors = 0;
    std::chrono::steady_clock::time_point at;
};

Snapshot snapshot(Json doc) {
    Snapshot s;
    s.at = std::chrono::steady_clock::now();
    s.requests = num(doc, {"requests"});
    s.hits = num(doc, {"cache", "hits_memory"}) + num(doc, {"cache", "hits_disk"});
    s.misses = num(doc, {"cache", "misses"});
    s.stale = num(doc, {"cache", "stale_served"}) + num(doc, {"cache", "stale_if_error"});
    if (auto errs = at(doc, {"cache", "origin_errors"})) {
        simdjson::dom::object o;
        if (errs->get(o) == simdjson::SUCCESS)
            for (auto f : o)
                if (is_number(f.value)) s.origin_errors += as_number(f.value);
    }
    return s;
}

struct Rates {
    double seconds = 0, requests = 0, hits = 0, misses = 0, stale = 0, origin_errors = 0;
    double hit_rate = 0; // over the interval; -1 when there were no lookups
};

Rates rates_between(const Snapshot& a, const Snapshot& b) {
    Rates r;
    r.seconds = std::chrono::duration<double>(b.at - a.at).count();
    if (r.seconds <= 0) r.seconds = 1e-9;
    // A counter that went down was reset (stats reset, restart): count from zero.
    auto rate = [&](double x, double y) { return (y >= x ? y - x : y) / r.seconds; };
    r.requests = rate(a.requests, b.requests);
    r.hits = rate(a.hits, b.hits);
    r.misses = rate(a.misses, b.misses);
    r.stale = rate(a.stale, b.stale);
    r.origin_errors = rate(a.origin_errors, b.origin_errors);
    double lookups = r.hits + r.misses;
    r.hit_rate = lookups > 0 ? r.hits / lookups : -1; // -1: no lookups in the interval
    return r;
}

void line(std::string& s, const char* label, const std::string& text) {
    std::string l = label;
    l.resize(14, ' ');
    s += l + text + "\n";
}

// "3 stale served, 1 stale-if-error" from the counters that are not zero, in order.
std::string nonzero_list(Json obj, std::initializer_list<std::pair<const char*, const char*>> f) {
    std::string r;
    for (const auto& [key, label] : f) {
        double v = num(obj, {key});
        if (v == 0) continue;
        if (!r.empty()) r += ", ";
        r += fmt_count(v) + " " + label;
    }
    return r;
}

// The cache counters edgecachectl names (the table's ctl_label) that are not zero, in order.
std::string nonzero_counters(Json obj) {
    std::string r;
    for (const cache::CounterRow& row : cache::cache_counter_table()) {
        if (!row.ctl_label) continue;
        double v = num(obj, {row.json});
        if (v == 0) continue;
        if (!r.empty()) r += ", ";
        r += fmt_count(v) + " " + row.ctl_label;
    }
    return r;
}

// One object's counters from a table of the daemon's (admin/counters.hpp), in table order:
// the rows shown even when zero (`always`), or the others when they are not zero.
template <class Counts>
std::string table_counters(Json obj, std::span<const admin::StatRow<Counts>> rows, bool always) {
    std::string r;
    for (const auto& row : rows) {
        if (!row.ctl_label || row.ctl_always != always) continue;
        double v = num(obj, {row.json});
        if (!always && v == 0) continue;
        if (!r.empty()) r += ", ";
        r += (row.bytes ? fmt_bytes(v) : fmt_count(v)) + " " + row.ctl_label;
    }
    return r;
}

std::string origin_errors_text(Json errs) {
    std::string r;
    simdjson::dom::object o;
    if (errs.get(o) != simdjson::SUCCESS) return r;
    for (auto f : o) {
        if (!is_number(f.value) || as_number(f.value) == 0) continue;
        if (!r.empty()) r += ", ";
        r += std::string(f.key) + " " + fmt_count(as_number(f.value));
    }
    return r;
}

std::string render(Json doc, const Rates* rates) {
    std::string s;
    line(s, "edgecached",
         "up " + fmt_duration(num(doc, {"uptime_s"})) + ", " + fmt_count(num(doc, {"requests"})) +
             " requests, hit rate " + fmt_pct(num(doc, {"hit_rate"})));
    if (rates)
        line(s, "rates",
             fmt_rate(rates->requests) + " req/s, " + fmt_rate(rates->hits) + " hits/s, " +
                 fmt_rate(rates->misses) + " misses/s, " + fmt_rate(rates->stale) + " stale/s, " +
                 fmt_rate(rates->origin_errors) + " origin errors/s, " +
                 (rates->hit_rate < 0 ? std::string("no lookups")
                                      : fmt_pct(rates->hit_rate) + " hit"));
    if (auto c = at(doc, {"connections"})) {
        auto rows = admin::connection_rows();
        line(s, "connections", table_counters(*c, rows, true));
        std::string more = table_counters(*c, rows, false);
        if (!more.empty()) line(s, "", more);
    }
    if (auto c = at(doc, {"cache"})) {
        double mem = num(*c, {"hits_memory"}), disk = num(*c, {"hits_disk"});
        line(s, "cache",
             fmt_count(mem + disk) + " hits (" + fmt_count(mem) + " memory, " + fmt_count(disk) +
                 " disk), " + fmt_count(num(*c, {"misses"})) + " misses");
        // The daemon's counter tables name them: the cache's, then purges and evictions.
        std::string more = nonzero_counters(*c);
        std::string extra = table_counters(*c, admin::cache_extra_rows(), false);
        if (!extra.empty()) more += (more.empty() ? "" : ", ") + extra;
        if (!more.empty()) line(s, "", more);
        if (auto errs = at(*c, {"origin_errors"})) {
            std::string e = origin_errors_text(*errs);
            if (!e.empty()) line(s, "origin errors", e);
        }
    }
    if (auto q = at(doc, {"cache", "deferred"})) {
        auto rows = admin::deferred_rows();
        std::string text = table_counters(*q, rows, true);
        std::string more = table_counters(*q, rows, false);
        if (!more.empty()) text += ", " + more;
        line(s, "revalidations", text);
    }
    if (auto h = at(doc, {"hot_tier"})) {
        double hits = num(*h, {"hits"}), misses = num(*h, {"misses"});
        line(s, "hot tier",
             fmt_bytes(num(*h, {"bytes"})) + " of " + fmt_bytes(num(*h, {"capacity"})) + ", " +
                 fmt_count(num(*h, {"entries"})) + " entries, " +
                 fmt_pct(hits + misses > 0 ? hits / (hits + misses) : 0) + " hit, " +
                 fmt_count(num(*h, {"evictions"})) + " evictions");
    }
    if (auto st = at(doc, {"store"})) {
        double size = num(*st, {"map_size"}), used = num(*st, {"map_used"});
        // Cache entries and KV keys share the map; the daemon keeps a tally of each.
        line(s, "store",
             fmt_bytes(used) + " of " + fmt_bytes(size) + " map (" +
                 fmt_pct(size > 0 ? used / size : 0) + "), " +
                 fmt_count(num(*st, {"cache_entries"})) + " cache entries (" +
                 fmt_bytes(num(*st, {"cache_bytes"})) + "), " + fmt_count(num(*st, {"kv_keys"})) +
                 " KV keys (" + fmt_bytes(num(*st, {"kv_bytes"})) + ")");
    }
    simdjson::dom::object o;
    if (auto routes = at(doc, {"routes"});
        routes && routes->get(o) == simdjson::SUCCESS && o.size()) {
        s += "routes\n";
        for (auto f : o) {
            std::string label = "  " + std::string(f.key);
            Json r = f.value;
            double hits = num(r, {"hits_memory"}) + num(r, {"hits_disk"});
            std::string text = fmt_pct(num(r, {"hit_rate"})) + " hit, " + fmt_count(hits) +
                               " hits, " + fmt_count(num(r, {"misses"})) + " misses";
            std::string more = nonzero_list(
                r, {{"stale_served", "stale"}, {"coalesced", "coalesced"}, {"purges", "purges"}});
            if (!more.empty()) text += ", " + more;
            line(s, label.c_str(), text);
        }
    }
    if (auto nss = at(doc, {"namespaces"}); nss && nss->get(o) == simdjson::SUCCESS && o.size()) {
        s += "namespaces\n";
        for (auto f : o) {
            std::string label = "  " + printable(f.key); // titles are chosen by clients
            std::string text;
            if (auto k = at(f.value, {"keys"}); k && is_number(*k))
                text = fmt_count(as_number(*k)) + " keys, ";
            text += table_counters(f.value, admin::namespace_rows(), true);
            line(s, label.c_str(), text);
        }
    }
    if (auto ors = at(doc, {"origins"}); ors && ors->get(o) == simdjson::SUCCESS && o.size()) {
        s += "origins\n";
        for (auto f : o) {
            std::string label = "  " + std::string(f.key);
            std::string text;
            simdjson::dom::array servers;
            if (auto sv = at(f.value, {"servers"}); sv && sv->get(servers) == simdjson::SUCCESS) {
                for (Json server : servers) {
                    if (!text.empty()) text += ", ";
                    bool up = boolean(server, {"up"});
                    text += str(server, {"server"}, "?") + (up ? " up" : " DOWN");
                }
            }
            line(s, label.c_str(), text);
        }
    }
    simdjson::dom::array tls_listeners;
    if (auto ls = at(doc, {"tls_listeners"});
        ls && ls->get(tls_listeners) == simdjson::SUCCESS && tls_listeners.size()) {
        s += "tls listeners\n";
        for (Json l : tls_listeners) {
            // An address outgrows line()'s label column: it leads its own line.
            auto rows = admin::handshake_rows();
            std::string text = table_counters(l, rows, true);
            std::string more = table_counters(l, rows, false);
            if (!more.empty()) text += (text.empty() ? "" : ", ") + more;
            s += "  " + printable(str(l, {"listener"}, "?")) + "  " + text + "\n";
        }
    }
    simdjson::dom::array certs;
    if (auto cs = at(doc, {"tls_certificates"});
        cs && cs->get(certs) == simdjson::SUCCESS && certs.size()) {
        s += "tls certificates\n";
        for (Json c : certs) {
            std::string name = "?";
            simdjson::dom::array names;
            if (auto ns = at(c, {"names"}); ns && ns->get(names) == simdjson::SUCCESS)
                for (Json n : names) {
                    std::string_view v;
                    if (n.get(v) == simdjson::SUCCESS) name = std::string(v);
                    break;
                }
            std::string label = "  " + printable(name);
            // Whole days left, rounded down: "expires in 0 days" means within a day.
            double days = std::floor(num(c, {"expires_in_s"}) / 86400);
            std::string text = days < 0 ? "EXPIRED " + fmt_count(-days) + " days ago"
                                        : "expires in " + fmt_count(days) + " days";
            line(s, label.c_str(), text + " (" + printable(str(c, {"file"}, "?")) + ")");
        }
    }
    return s;
}

Json fetch_stats(Context& ctx, simdjson::dom::parser& parser, std::string* raw) {
    Response r = ctx.client.request("GET", "/admin/stats");
    expect_success(r);
    *raw = std::move(r.body);
    return parse_json(parser, *raw, "/admin/stats");
}

volatile std::sig_atomic_t g_interrupted = 0;

// Sleeps up to `seconds`, returning early (false) on Ctrl-C.
bool sleep_interruptible(double seconds) {
    auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (!g_interrupted) {
        auto left = until - std::chrono::steady_clock::now();
        if (left <= std::chrono::steady_clock::duration::zero()) return true;
        auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
        timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
        ::nanosleep(&ts, nullptr); // EINTR on SIGINT: the loop re-checks the flag
    }
    return false;
}

int watch(Context& ctx, double interval) {
    struct sigaction sa {};
    sa.sa_handler = [](int) { g_interrupted = 1; };
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; // no SA_RESTART: a blocked read returns so Ctrl-C is prompt
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);

    const bool tty = ::isatty(STDOUT_FILENO) == 1;
    simdjson::dom::parser parser;
    std::string raw;
    std::optional<Snapshot> prev;
    char interval_text[32];
    std::snprintf(interval_text, sizeof interval_text, "%g", interval);
    for (bool first = true; !g_interrupted; first = false) {
        if (!first && !sleep_interruptible(interval)) break;
        Json doc;
        try {
            doc = fetch_stats(ctx, parser, &raw);
        } catch (const CliError&) {
            if (g_interrupted) break;
            throw;
        }
        // A new connection per poll: a long interval must not outlive the idle timeout.
        ctx.client.close();
        Snapshot now = snapshot(doc);
        std::optional<Rates> rates;
        if (prev) rates = rates_between(*prev, now);
        prev = now;
        if (ctx.json) {
            out(minify(doc) + "\n");
        } else if (tty) {
            // Home, clear, redraw: the summary replaces itself in place.
            out("\x1b[H\x1b[2J");
            out(render(doc, rates ? &*rates : nullptr));
            out(std::string("\nevery ") + interval_text + "s" + (rates ? "" : ", measuring rates") +
                " - Ctrl-C to quit\n");
        } else if (rates) {
            // One greppable line per interval for logs and pipes.
            char buf[512];
            std::snprintf(buf, sizeof buf,
                          "%s req/s=%.2f hits/s=%.2f misses/s=%.2f stale/s=%.2f "
                          "origin_errors/s=%.2f hit_rate=%.4f open=%.0f records=%.0f "
                          "cache_entries=%.0f cache_bytes=%.0f kv_keys=%.0f kv_bytes=%.0f "
                          "map_used=%.0f hot_entries=%.0f hot_bytes=%.0f\n",
                          iso8601_ms(static_cast<int64_t>(std::time(nullptr)) * 1000).c_str(),
                          rates->requests, rates->hits, rates->misses, rates->stale,
                          rates->origin_errors, rates->hit_rate < 0 ? 0.0 : rates->hit_rate,
                          num(doc, {"connections", "open"}), num(doc, {"store", "entries"}),
                          num(doc, {"store", "cache_entries"}), num(doc, {"store", "cache_bytes"}),
                          num(doc, {"store", "kv_keys"}), num(doc, {"store", "kv_bytes"}),
                          num(doc, {"store", "map_used"}), num(doc, {"hot_tier", "entries"}),
                          num(doc, {"hot_tier", "bytes"}));
            out(buf);
        }
        std::fflush(stdout);
    }
    return kOk;
}

} // namespace

int cmd_stats(Context& ctx) {
    const auto& w = ctx.args.words;
    if (w.size() > 1) {
        if (w[1] != "reset" || w.size() > 2)
            throw UsageError("stats", "unexpected argument '" + w.back() + "'");
        allow_only(ctx.args, "stats reset", {});
        Response r = ctx.client.request("POST", "/admin/stats/reset");
        expect_success(r);
        out(ctx.json ? r.body + (r.body.empty() || r.body.back() != '\n' ? "\n" : "")
                     : "stats reset\n");
        return kOk;
    }
    allow_only(ctx.args, "stats", {"watch"});
    if (ctx.args.has("watch")) {
        std::string v = ctx.args.get("watch").value_or("");
        double interval = 2;
        if (!v.empty()) {
            char* end = nullptr;
            interval = std::strtod(v.c_str(), &end);
            if (*end || !(interval >= 0.1) || interval > 86400)
                throw UsageError("stats",
                                 "--watch takes seconds from 0.1 to 86400 (got '" + v + "')");
        }
        return watch(ctx, interval);
    }
    simdjson::dom::parser parser;
    std::string raw;
    Json doc = fetch_stats(ctx, parser, &raw);
    out(ctx.json ? raw + (raw.empty() || raw.back() != '\n' ? "\n" : "") : render(doc, nullptr));
    return kOk;
}

} // namespace ec::ctl
