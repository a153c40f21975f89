// purge, warm and inspect: the cache's admin routes.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>
#include <unistd.h>

#include "commands.hpp"
#include "json_util.hpp"
#include "util/json_writer.hpp"
#include "util/percent.hpp"
#include "util/time_format.hpp"

namespace ec::ctl {

namespace {

void out_json_line(const std::string& body) {
    out(body);
    if (body.empty() || body.back() != '\n') out("\n");
}

} // namespace

int cmd_purge(Context& ctx) {
    allow_only(ctx.args, "purge",
               {"path", "prefix", "tag", "all", "soft", "route", "namespace", "wait"});
    uint64_t wait_s = 0;
    if (ctx.args.has("wait"))
        wait_s = ctx.args.get("wait")->empty()
                     ? 10
                     : number_option(ctx.args, "purge", "wait", 1, 3600, 10);
    const Args& a = ctx.args;
    // Bare words are paths ("purge /a /b"), unless --tag gave the mode ("purge --tag a b").
    std::vector<std::string> paths = a.all("path");
    std::vector<std::string> tags = a.all("tag");
    for (size_t i = 1; i < a.words.size(); ++i)
        (a.has("tag") && !a.has("path") ? tags : paths).push_back(a.words[i]);
    int modes = !paths.empty() + !tags.empty() + a.has("prefix") + a.has("all");
    if (modes == 0)
        throw UsageError("purge", "say what to purge: --path, --prefix, --tag or --all");
    if (modes > 1) throw UsageError("purge", "give only one of --path, --prefix, --tag, --all");
    if (a.has("prefix") && a.get("prefix")->empty())
        throw UsageError("purge", "--prefix needs a non-empty prefix (use --all for everything)");

    std::string body;
    JsonWriter w(body);
    w.begin_object();
    if (!paths.empty()) {
        w.key("paths").begin_array();
        for (const auto& p : paths)
            w.value(p);
        w.end_array();
    } else if (!tags.empty()) {
        w.key("tags").begin_array();
        for (const auto& t : tags)
            w.value(t);
        w.end_array();
    } else if (a.has("prefix")) {
        w.field("prefix", *a.get("prefix"));
    } else {
        w.field("all", true);
    }
    if (a.has("soft")) w.field("soft", true);
    if (auto r = a.get("route")) w.field("route", *r);
    if (auto ns = a.get("namespace")) w.field("namespace", *ns);
    w.end_object();

    Response r = ctx.client.request("POST", "/admin/purge", body);
    expect_success(r);
    simdjson::dom::parser parser;
    Json doc = parse_json(parser, r.body, "/admin/purge");
    // In a fleet: how many nodes applied it (polled until all did with --wait).
    auto seq = static_cast<uint64_t>(num(doc, {"seq"}, 0));
    std::string fleet_line;
    int rc = kOk;
    if (seq > 0) {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(wait_s);
        for (;;) {
            Response p =
                ctx.client.request("GET", "/admin/fleet/purges?seq=" + std::to_string(seq));
            expect_success(p);
            simdjson::dom::parser pp;
            Json prog = parse_json(pp, p.body, "/admin/fleet/purges");
            double applied = num(prog, {"applied"}), known = num(prog, {"known"});
            fleet_line = "applied on " + fmt_count(applied) + " of " + fmt_count(known) +
                         " node(s) (purge " + std::to_string(seq) + ")";
            if (wait_s == 0 || applied >= known) break;
            if (std::chrono::steady_clock::now() >= deadline) {
                fleet_line += ": not every node within " + std::to_string(wait_s) + " s";
                rc = kError;
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
    }
    if (ctx.json) {
        out_json_line(r.body);
        return rc;
    }
    double n = num(doc, {"purged"}, -1);
    if (n < 0) {
        out(pretty(doc));
        return rc;
    }
    std::string what = n == 1 ? " entry" : " entries";
    out((a.has("soft") ? "marked " + fmt_count(n) + what + " stale"
                       : "purged " + fmt_count(n) + what) +
        (fleet_line.empty() ? "" : "; " + fleet_line) + "\n");
    return rc;
}

// ---------------------------------------------------------------------------------------------
// warm

namespace {

std::vector<std::string> paths_from_file(const std::string& file) {
    std::string text = read_file(file);
    std::vector<std::string> paths;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        std::string_view l(text.data() + pos, (nl == std::string::npos ? text.size() : nl) - pos);
        pos = nl == std::string::npos ? text.size() : nl + 1;
        while (!l.empty() && (l.back() == '\r' || l.back() == ' ' || l.back() == '\t'))
            l.remove_suffix(1);
        while (!l.empty() && (l.front() == ' ' || l.front() == '\t'))
            l.remove_prefix(1);
        if (l.empty() || l.front() == '#') continue;
        paths.emplace_back(l);
    }
    return paths;
}

// Consumes the NDJSON progress stream of POST /admin/warm and draws it.
class WarmProgress {
public:
    WarmProgress(size_t total, bool json, bool tty)
        : total_(total), json_(json), tty_(tty), start_(std::chrono::steady_clock::now()) {}

    void feed(const Response& head, std::string_view piece) {
        if (head.status < 200 || head.status >= 300) {
            error_body_.append(piece); // an error document, reported after the response
            return;
        }
        pending_.append(piece);
        size_t nl;
        while ((nl = pending_.find('\n')) != std::string::npos) {
            std::string l = pending_.substr(0, nl);
            pending_.erase(0, nl + 1);
            if (!l.empty() && l.back() == '\r') l.pop_back();
            if (!l.empty()) on_line(l);
        }
    }

    // After the response: the last unterminated line, the bar's end, the summary. Returns the
    // exit code.
    int finish() {
        if (!pending_.empty()) on_line(pending_);
        pending_.clear();
        if (tty_ && !json_) out("\r\x1b[K");
        if (!have_summary_)
            throw CliError(kError, "warm: the daemon's progress stream ended without a summary "
                                   "(" +
                                       std::to_string(done_) + " of " + std::to_string(total_) +
                                       " reported)");
        if (!json_) {
            char buf[160];
            std::snprintf(buf, sizeof buf, "warmed %s of %s paths, %s failed (%s paths/s)\n",
                          fmt_count(static_cast<double>(summary_done_ - summary_failed_)).c_str(),
                          fmt_count(static_cast<double>(total_)).c_str(),
                          fmt_count(static_cast<double>(summary_failed_)).c_str(),
                          fmt_rate(rate()).c_str());
            out(buf);
        }
        return summary_failed_ > 0 ? kError : kOk;
    }

    const std::string& error_body() const { return error_body_; }

private:
    double rate() const {
        double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
        return s > 0 ? static_cast<double>(done_) / s : 0;
    }

    void on_line(const std::string& l) {
        if (json_) out(l + "\n");
        Json doc;
        if (parser_.parse(l.data(), l.size(), true).get(doc) != simdjson::SUCCESS) {
            if (!json_) out("? " + printable(l) + "\n");
            return;
        }
        if (auto d = at(doc, {"done"}); d && is_number(*d)) {
            have_summary_ = true;
            summary_done_ = static_cast<uint64_t>(as_number(*d));
            summary_failed_ = static_cast<uint64_t>(num(doc, {"failed"}));
            if (json_) std::fflush(stdout);
            return;
        }
        ++done_;
        double status = num(doc, {"status"});
        bool failed = at(doc, {"error"}).has_value() || status < 200 || status >= 400;
        if (failed) ++failed_;
        if (json_) {
            std::fflush(stdout);
            return;
        }
        std::string path = printable(str(doc, {"path"}, "?"));
        std::string detail = "status=" + fmt_count(status);
        if (auto c = at(doc, {"cache"})) detail += " cache=" + printable(scalar_text(*c));
        if (auto b = at(doc, {"bytes"}); b && is_number(*b))
            detail += " bytes=" + std::to_string(static_cast<uint64_t>(as_number(*b)));
        if (auto e = at(doc, {"error"})) {
            std::string msg = str(*e, {"message"});
            detail += " error=" + printable(msg.empty() ? scalar_text(*e) : msg);
        }
        if (!tty_) {
            out(std::string(failed ? "failed " : "ok ") + path + " " + detail + "\n");
            return;
        }
        // On a terminal only failures get a line of their own, above the bar.
        if (failed) out("\r\x1b[Kfailed " + path + " " + detail + "\n");
        draw_bar();
    }

    void draw_bar() {
        constexpr size_t kWidth = 30;
        size_t filled = total_ ? std::min(kWidth, done_ * kWidth / total_) : kWidth;
        std::string bar =
            "\r\x1b[K[" + std::string(filled, '#') + std::string(kWidth - filled, '-') + "] " +
            fmt_count(static_cast<double>(done_)) + "/" + fmt_count(static_cast<double>(total_));
        if (failed_) bar += "  " + fmt_count(static_cast<double>(failed_)) + " failed";
        bar += "  " + fmt_rate(rate()) + "/s";
        out(bar);
        std::fflush(stdout);
    }

    size_t total_;
    bool json_, tty_;
    std::chrono::steady_clock::time_point start_;
    simdjson::dom::parser parser_;
    std::string pending_, error_body_;
    size_t done_ = 0, failed_ = 0;
    bool have_summary_ = false;
    uint64_t summary_done_ = 0, summary_failed_ = 0;
};

} // namespace

int cmd_warm(Context& ctx) {
    allow_only(ctx.args, "warm", {"file", "concurrency", "host"});
    std::vector<std::string> paths(ctx.args.words.begin() + 1, ctx.args.words.end());
    for (const auto& f : ctx.args.all("file")) {
        auto more = paths_from_file(f);
        paths.insert(paths.end(), more.begin(), more.end());
    }
    if (paths.empty()) throw UsageError("warm", "give paths to warm, or --file FILE");
    uint64_t concurrency = number_option(ctx.args, "warm", "concurrency", 1, 1024, 0);

    std::string body;
    JsonWriter w(body);
    w.begin_object().key("paths").begin_array();
    for (const auto& p : paths)
        w.value(p);
    w.end_array();
    if (concurrency) w.field("concurrency", concurrency);
    if (auto h = ctx.args.get("host")) w.field("host", *h);
    w.end_object();

    WarmProgress progress(paths.size(), ctx.json, ::isatty(STDOUT_FILENO) == 1);
    Response r = ctx.client.request(
        "POST", "/admin/warm", body, {},
        [&progress](const Response& head, std::string_view piece) { progress.feed(head, piece); });
    if (r.status < 200 || r.status >= 300) {
        Response err = r;
        err.body = progress.error_body();
        expect_success(err);
    }
    return progress.finish();
}

// ---------------------------------------------------------------------------------------------
// inspect

int cmd_inspect(Context& ctx) {
    allow_only(ctx.args, "inspect", {"host"});
    if (ctx.args.words.size() != 2) throw UsageError("inspect", "inspect takes one PATH");
    const std::string& path = ctx.args.words[1];
    std::string target = "/admin/inspect?path=";
    percent_encode(target, path);
    if (auto h = ctx.args.get("host")) {
        target += "&host=";
        percent_encode(target, *h);
    }
    Response r = ctx.client.request("GET", target);
    if (r.status == 404) {
        std::string msg = error_message(r);
        // A daemon without the route says so; anything else means nothing is stored.
        if (msg.rfind("no admin route", 0) == 0) throw CliError(kNotFound, msg);
        // Entries are keyed by Host: say which one was looked up, and how to ask for another.
        size_t under = msg.rfind(" under Host ");
        std::string host = under == std::string::npos ? "" : msg.substr(under + 12);
        std::string hint;
        if (!ctx.args.has("host") && !host.empty())
            hint = "\nlooked up under Host " + host +
                   " (the daemon's first listener); entries are stored per Host: pass --host "
                   "with the Host your clients send";
        throw CliError(kNotFound, "not cached: " + path + hint, true);
    }
    expect_success(r);
    if (ctx.json) {
        out_json_line(r.body);
        return kOk;
    }
    simdjson::dom::parser parser;
    Json doc = parse_json(parser, r.body, "/admin/inspect");
    std::string s;
    auto row = [&s](const char* label, const std::string& text) {
        std::string l = label;
        l.resize(std::max<size_t>(l.size() + 2, 24), ' ');
        s += l + text + "\n";
    };
    auto secs = [&doc](const char* key) -> std::string {
        auto v = at(doc, {key});
        if (!v || !is_number(*v)) return "-";
        double n = as_number(*v);
        return (n < 0 ? "-" + fmt_duration(-n) : fmt_duration(n)) +
               (n >= 60 ? " (" + fmt_count(n) + "s)" : "");
    };
    for (const char* k : {"key", "url", "host", "tier"})
        if (auto v = at(doc, {k})) row(k, printable(scalar_text(*v)));
    if (auto v = at(doc, {"vary"})) row("vary", printable(minify(*v)));
    if (auto v = at(doc, {"variants"})) row("variants", printable(minify(*v)));
    if (auto v = at(doc, {"status"})) row("status", scalar_text(*v));
    if (auto v = at(doc, {"body_bytes"}); v && is_number(*v))
        row("body", fmt_count(as_number(*v)) + " bytes");
    if (auto v = at(doc, {"parts"}))
        row("parts", printable(minify(*v)) + " of " + fmt_count(num(doc, {"length"})) + " bytes");
    row("age", secs("age"));
    double ttl = num(doc, {"ttl"});
    std::string state = str(doc, {"state"}, ttl > 0 ? "fresh" : "stale");
    row("ttl", secs("ttl") + ", " + state);
    row("lifetime", secs("lifetime"));
    row("stale-while-revalidate", secs("stale_while_revalidate"));
    row("stale-if-error", secs("stale_if_error"));
    if (auto v = at(doc, {"expires"})) {
        std::string e = scalar_text(*v);
        if (is_number(*v)) e += " (" + iso8601_ms(static_cast<int64_t>(as_number(*v)) * 1000) + ")";
        row("expires", e);
    }
    simdjson::dom::array arr;
    if (auto v = at(doc, {"tags"}); v && v->get(arr) == simdjson::SUCCESS) {
        std::string tags;
        for (Json t : arr)
            tags += (tags.empty() ? "" : ", ") + printable(scalar_text(t));
        row("tags", tags.empty() ? "-" : tags);
    }
    if (auto v = at(doc, {"headers"}); v && v->get(arr) == simdjson::SUCCESS) {
        s += "headers\n";
        for (Json h : arr) {
            simdjson::dom::array pair;
            if (h.get(pair) == simdjson::SUCCESS && pair.size() == 2)
                s += "  " + printable(scalar_text(pair.at(0).value())) + ": " +
                     printable(scalar_text(pair.at(1).value())) + "\n";
            else
                s += "  " + printable(minify(h)) + "\n";
        }
    }
    out(s);
    return kOk;
}

} // namespace ec::ctl
