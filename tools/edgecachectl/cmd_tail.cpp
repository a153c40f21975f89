// tail and top: live access records from the daemon (GET /admin/tail), like varnishlog and
// varnishtop. The daemon filters; a reader too slow for the traffic loses records, counted.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>

#include "commands.hpp"
#include "daemon/access_log.hpp"
#include "json_util.hpp"
#include "util/json_writer.hpp"
#include "util/percent.hpp"

namespace ec::ctl {

namespace {

// Thrown from the body callback to end the stream (--count, --seconds, top's one-shot).
struct StopStream {};

using Clock = std::chrono::steady_clock;

std::string tail_target(const Args& args) {
    std::string t = "/admin/tail";
    char sep = '?';
    for (const std::string& f : args.all("filter")) {
        t += sep;
        t += "filter=";
        percent_encode(t, f);
        sep = '&';
    }
    return t;
}

// GET /admin/tail with the --filter options, handing a 200 response's body to `on_piece` as it
// arrives; throws CliError with the daemon's message for any other status.
template <class Fn> void stream(Context& ctx, Fn&& on_piece) {
    std::string error_body;
    Response r = ctx.client.request("GET", tail_target(ctx.args), {}, {},
                                    [&](const Response& head, std::string_view piece) {
                                        if (head.status == 200)
                                            on_piece(piece);
                                        else
                                            error_body.append(piece);
                                    });
    r.body = std::move(error_body);
    expect_success(r);
}

// Splits the streamed body into lines and hands each complete one to `fn`.
class LineSplitter {
public:
    template <class Fn> void feed(std::string_view piece, Fn&& fn) {
        buf_.append(piece);
        size_t start = 0;
        for (size_t nl; (nl = buf_.find('\n', start)) != std::string::npos; start = nl + 1)
            fn(std::string_view(buf_).substr(start, nl - start));
        buf_.erase(0, start);
        if (buf_.size() > (1u << 20)) throw CliError(kError, "/admin/tail: a line over 1 MiB");
    }

private:
    std::string buf_;
};

std::string escaped(std::string_view s) {
    std::string out;
    daemon::append_log_escaped(out, s);
    return out;
}

// The default access-log line for a JSON record.
std::string text_line(Json rec) {
    auto field = [&](const char* k) {
        auto v = at(rec, {k});
        if (!v || v->is_null()) return std::string("-");
        return escaped(scalar_text(*v));
    };
    return field("time") + " " + field("peer") + " \"" + field("method") + " " + field("target") +
           " " + field("protocol") + "\" " + field("status") + " " + field("bytes") + " " +
           field("duration_ms") + " " + field("cache") + "\n";
}

} // namespace

int cmd_tail(Context& ctx) {
    allow_only(ctx.args, "tail", {"filter", "count", "seconds"});
    if (ctx.args.words.size() > 1) throw UsageError("tail", "tail takes no arguments");
    uint64_t count = number_option(ctx.args, "tail", "count", 1, UINT64_MAX, 0);
    uint64_t seconds = number_option(ctx.args, "tail", "seconds", 1, 86400 * 365, 0);
    auto deadline = Clock::now() + std::chrono::seconds(seconds);
    uint64_t shown = 0;
    simdjson::dom::parser parser;
    LineSplitter lines;
    auto on_line = [&](std::string_view line) {
        Json rec = parse_json(parser, line, "/admin/tail");
        if (at(rec, {"tick"}) || at(rec, {"subscribed"})) {
            // Heartbeats only let --seconds end while there is no traffic.
        } else if (auto d = at(rec, {"dropped"})) {
            if (ctx.json)
                out(std::string(line) + "\n");
            else
                std::fprintf(stderr,
                             "edgecachectl: %s record(s) dropped so far: this reader is slower "
                             "than the traffic\n",
                             scalar_text(*d).c_str());
        } else {
            out(ctx.json ? std::string(line) + "\n" : text_line(rec));
            std::fflush(stdout);
            if (count && ++shown >= count) throw StopStream{};
        }
        if (seconds && Clock::now() >= deadline) throw StopStream{};
    };
    try {
        stream(ctx, [&](std::string_view piece) { lines.feed(piece, on_line); });
    } catch (const StopStream&) {
        ctx.client.close();
    }
    return kOk;
}

namespace {

struct Counts {
    uint64_t requests = 0, misses = 0, errors = 0;
    void add(bool miss, bool error) {
        ++requests;
        misses += miss;
        errors += error;
    }
};

struct TopView {
    std::map<std::string, Counts> paths, routes; // routes keyed "route  origin"
    Counts total;
    uint64_t dropped = 0;

    void add(Json rec) {
        std::string cache = str(rec, {"cache"}, "-");
        bool miss = cache == "MISS" || cache == "REVALIDATED";
        bool error = num(rec, {"status"}) >= 500;
        std::string target = str(rec, {"target"});
        paths[target.substr(0, target.find('?'))].add(miss, error);
        std::string route = str(rec, {"route"}, "-"), origin = str(rec, {"origin"}, "-");
        routes[route + "\t" + origin].add(miss, error);
        total.add(miss, error);
    }

    static std::string pct(uint64_t part, uint64_t whole) {
        return whole ? fmt_pct(static_cast<double>(part) / static_cast<double>(whole)) : "-";
    }
    static std::string pad(std::string s, size_t width) {
        if (s.size() > width) s = s.substr(0, width - 1) + "~";
        s.resize(width, ' ');
        return s;
    }
    static std::string rpad(std::string s, size_t width) {
        return s.size() >= width ? s : std::string(width - s.size(), ' ') + s;
    }

    std::string text(double seconds, size_t limit) const {
        std::string s = "edgecachectl top: " + fmt_count(static_cast<double>(total.requests)) +
                        " requests in " + fmt_rate(seconds) + "s (" +
                        fmt_rate(seconds > 0 ? total.requests / seconds : 0) + " req/s), miss " +
                        pct(total.misses, total.requests) + ", errors " +
                        pct(total.errors, total.requests);
        if (dropped) s += ", " + fmt_count(static_cast<double>(dropped)) + " dropped";
        s += "\n\n" + pad("PATH", 48) + rpad("REQS", 8) + rpad("MISS", 8) + rpad("5XX", 8) + "\n";
        std::vector<std::pair<std::string, Counts>> hot(paths.begin(), paths.end());
        std::stable_sort(hot.begin(), hot.end(), [](const auto& a, const auto& b) {
            return a.second.requests > b.second.requests;
        });
        if (hot.size() > limit) hot.resize(limit);
        for (const auto& [path, c] : hot)
            s += pad(escaped(path), 48) + rpad(fmt_count(static_cast<double>(c.requests)), 8) +
                 rpad(pct(c.misses, c.requests), 8) + rpad(pct(c.errors, c.requests), 8) + "\n";
        s += "\n" + pad("ROUTE", 24) + pad("ORIGIN", 24) + rpad("REQS", 8) + rpad("MISS", 8) +
             rpad("5XX", 8) + "\n";
        for (const auto& [key, c] : routes) {
            size_t tab = key.find('\t');
            s += pad(escaped(key.substr(0, tab)), 24) + pad(escaped(key.substr(tab + 1)), 24) +
                 rpad(fmt_count(static_cast<double>(c.requests)), 8) +
                 rpad(pct(c.misses, c.requests), 8) + rpad(pct(c.errors, c.requests), 8) + "\n";
        }
        return s;
    }

    std::string json(double seconds, size_t limit) const {
        std::string s;
        JsonWriter w(s);
        auto counts = [&w](const Counts& c) {
            w.field("requests", c.requests).field("misses", c.misses).field("errors", c.errors);
        };
        w.begin_object().field("seconds", seconds).field("dropped", dropped);
        w.key("total").begin_object();
        counts(total);
        w.end_object();
        std::vector<std::pair<std::string, Counts>> hot(paths.begin(), paths.end());
        std::stable_sort(hot.begin(), hot.end(), [](const auto& a, const auto& b) {
            return a.second.requests > b.second.requests;
        });
        if (hot.size() > limit) hot.resize(limit);
        w.key("paths").begin_array();
        for (const auto& [path, c] : hot) {
            w.begin_object().field("path", path);
            counts(c);
            w.end_object();
        }
        w.end_array().key("routes").begin_array();
        for (const auto& [key, c] : routes) {
            size_t tab = key.find('\t');
            w.begin_object()
                .field("route", key.substr(0, tab))
                .field("origin", key.substr(tab + 1));
            counts(c);
            w.end_object();
        }
        w.end_array().end_object();
        return s + "\n";
    }
};

} // namespace

int cmd_top(Context& ctx) {
    allow_only(ctx.args, "top", {"filter", "interval", "once", "limit"});
    if (ctx.args.words.size() > 1) throw UsageError("top", "top takes no arguments");
    uint64_t interval = number_option(ctx.args, "top", "interval", 1, 3600, 2);
    uint64_t once = number_option(ctx.args, "top", "once", 1, 86400, 0);
    size_t limit = number_option(ctx.args, "top", "limit", 1, 1000, 20);
    // Off a terminal (or with --json), top is one report after --once (default --interval) s.
    bool live = !once && !ctx.json && ::isatty(STDOUT_FILENO) == 1;
    if (!once && !live) once = interval;
    const auto start = Clock::now();
    auto last_draw = start;
    TopView view;
    simdjson::dom::parser parser;
    LineSplitter lines;
    auto elapsed = [&start] { return std::chrono::duration<double>(Clock::now() - start).count(); };
    auto on_line = [&](std::string_view line) {
        Json rec = parse_json(parser, line, "/admin/tail");
        if (auto d = at(rec, {"dropped"}))
            view.dropped = static_cast<uint64_t>(as_number(*d));
        else if (!at(rec, {"tick"}) && !at(rec, {"subscribed"}))
            view.add(rec);
        if (once && elapsed() >= static_cast<double>(once)) throw StopStream{};
        if (live && Clock::now() - last_draw >= std::chrono::seconds(interval)) {
            last_draw = Clock::now();
            out("\x1b[H\x1b[2J" + view.text(elapsed(), limit));
            std::fflush(stdout);
        }
    };
    try {
        stream(ctx, [&](std::string_view piece) { lines.feed(piece, on_line); });
        return kOk; // the daemon ended the stream (shutting down)
    } catch (const StopStream&) {
        ctx.client.close();
    }
    out(ctx.json ? view.json(elapsed(), limit) : view.text(elapsed(), limit));
    return kOk;
}

} // namespace ec::ctl
