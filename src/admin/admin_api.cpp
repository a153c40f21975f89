// AdminApi: the route rows, purge, inspect, reload, backup and config routes.
#include "admin/admin_api.hpp"

#include <simdjson.h>

#include "admin/warm.hpp"
#include "cache/cache_key.hpp"
#include "config/docs.hpp"
#include "http/json_reply.hpp"
#include "http/reply_when_done.hpp"
#include "util/json_writer.hpp"
#include "util/log.hpp"
#include "util/percent.hpp"
#include "util/strings.hpp"

namespace ec::admin {

namespace dom = simdjson::dom;

namespace {

// Parses a JSON object body (padded by the connection). Sends 400 and returns false on error.
bool parse_object(http::Exchange& ex, dom::parser& parser, dom::object* out) {
    std::string_view body = ex.request().body;
    if (body.empty()) {
        http::send_error(ex, 400, "invalid_json", "request body must be a JSON object");
        return false;
    }
    dom::element doc;
    auto err = parser.parse(body.data(), body.size(), false).get(doc);
    if (err) {
        http::send_error(ex, 400, "invalid_json",
                         std::string("request body is not valid JSON: ") +
                             simdjson::error_message(err));
        return false;
    }
    if (doc.get_object().get(*out)) {
        http::send_error(ex, 400, "invalid_json", "request body must be a JSON object");
        return false;
    }
    return true;
}

bool string_list(dom::element v, std::vector<std::string>* out) {
    dom::array arr;
    if (v.get_array().get(arr)) return false;
    for (dom::element item : arr) {
        std::string_view s;
        if (item.get_string().get(s)) return false;
        out->emplace_back(s);
    }
    return true;
}

} // namespace

AdminApi::AdminApi(AdminDeps deps)
    : d_(std::move(deps)), warmer_(std::make_unique<Warmer>(d_.loop, d_.proxy)) {}

AdminApi::~AdminApi() = default;

void AdminApi::shutdown() {
    warmer_->shutdown();
}

std::vector<AdminRoute> AdminApi::routes() {
    using http::method_bit;
    const http::Methods get = method_bit(HTTP_GET) | method_bit(HTTP_HEAD);
    const http::Methods post = method_bit(HTTP_POST);
    using Handler = void (AdminApi::*)(http::Exchange&);
    auto row = [this](http::Methods methods, std::string_view pattern, Handler fn) {
        return AdminRoute{methods, pattern, [this, fn](http::Exchange& ex, const http::RouteArgs&) {
                              (this->*fn)(ex);
                          }};
    };
    std::vector<AdminRoute> rows;
    rows.push_back(row(get, "/admin/stats", &AdminApi::stats));
    rows.push_back(row(post, "/admin/stats/reset", &AdminApi::stats_reset));
    rows.push_back(row(post, "/admin/purge", &AdminApi::purge));
    rows.push_back(row(post, "/admin/warm", &AdminApi::warm));
    rows.push_back(row(get, "/admin/inspect", &AdminApi::inspect));
    rows.push_back(row(post, "/admin/reload", &AdminApi::reload));
    rows.push_back(row(post, "/admin/backup", &AdminApi::backup));
    rows.push_back(row(get, "/admin/origins", &AdminApi::origins));
    rows.push_back(row(post, "/admin/origins/health", &AdminApi::origin_health));
    rows.push_back(row(get, "/admin/config", &AdminApi::effective_config));
    rows.push_back(row(get, "/admin/fleet", &AdminApi::fleet_status));
    rows.push_back(row(get, "/admin/fleet/purges", &AdminApi::fleet_purge_progress));
    rows.push_back(AdminRoute{
        http::kAnyMethod, "/admin/{rest*}", [](http::Exchange& ex, const http::RouteArgs&) {
            http::send_error(ex, 404, "not_found",
                             "no admin route " + std::string(ex.request().path));
        }});
    return rows;
}

void AdminApi::stats_reset(http::Exchange& ex) {
    reset_stats();
    http::send_json(ex, 200, "{\"reset\":true}");
}

void AdminApi::effective_config(http::Exchange& ex) {
    http::send_json(ex, 200, config::to_json(d_.config()));
}

void AdminApi::purge(http::Exchange& ex) {
    dom::parser parser;
    dom::object obj;
    if (!parse_object(ex, parser, &obj)) return;
    cache::PurgeRequest req;
    int kinds = 0;
    for (auto field : obj) {
        std::string_view k = field.key;
        dom::element v = field.value;
        bool ok = true;
        if (k == "paths" || k == "keys") {
            req.kind = cache::PurgeRequest::Kind::paths;
            ok = string_list(v, &req.paths);
            ++kinds;
        } else if (k == "prefix") {
            std::string_view s;
            ok = !v.get_string().get(s);
            req.prefix = std::string(s);
            req.kind = cache::PurgeRequest::Kind::prefix;
            ++kinds;
        } else if (k == "tags") {
            req.kind = cache::PurgeRequest::Kind::tags;
            ok = string_list(v, &req.tags);
            ++kinds;
        } else if (k == "all") {
            bool all = false;
            ok = !v.get_bool().get(all) && all;
            req.kind = cache::PurgeRequest::Kind::all;
            ++kinds;
        } else if (k == "soft") {
            ok = !v.get_bool().get(req.soft);
        } else if (k == "route" || k == "namespace") {
            std::string_view s;
            ok = !v.get_string().get(s);
            (k == "route" ? req.route : req.namespace_) = std::string(s);
        } else {
            return http::send_error(ex, 400, "bad_purge",
                                    "unknown field \"" + std::string(k) + "\"");
        }
        if (!ok)
            return http::send_error(ex, 400, "bad_purge",
                                    "field \"" + std::string(k) + "\" has the wrong type");
    }
    if (kinds != 1)
        return http::send_error(
            ex, 400, "bad_purge",
            "give exactly one of \"paths\", \"prefix\", \"tags\" or \"all\": true");
    bool soft = req.soft;
    d_.proxy.purger().submit(
        std::move(req),
        http::reply_when_done(ex, [soft](http::Exchange& e, Result<cache::PurgeResult> r) {
            if (!r) return http::send_error(e, r.error());
            std::string body;
            JsonWriter w(body);
            w.begin_object()
                .field("purged", r->purged)
                .field("memory", r->memory)
                .field("soft", soft);
            // Through a fleet: the purge stream's sequence, for `edgecachectl purge --wait`.
            if (r->fleet_seq) w.field("seq", r->fleet_seq);
            w.end_object();
            http::send_json(e, 200, std::move(body));
        }));
}

void AdminApi::warm(http::Exchange& ex) {
    dom::parser parser;
    dom::object obj;
    if (!parse_object(ex, parser, &obj)) return;
    WarmRequest w;
    w.host = d_.first_tcp_listener();
    w.target = w.host;
    for (auto field : obj) {
        std::string_view k = field.key;
        bool ok = true;
        if (k == "paths") {
            ok = string_list(field.value, &w.paths);
        } else if (k == "concurrency") {
            int64_t n = 0;
            ok = !field.value.get_int64().get(n) && n >= 1 && n <= 256;
            w.concurrency = static_cast<size_t>(n);
        } else if (k == "host") {
            std::string_view s;
            ok = !field.value.get_string().get(s) && !s.empty();
            w.host = std::string(s);
        } else {
            return http::send_error(ex, 400, "bad_warm",
                                    "unknown field \"" + std::string(k) + "\"");
        }
        if (!ok)
            return http::send_error(ex, 400, "bad_warm",
                                    "field \"" + std::string(k) + "\" is invalid");
    }
    if (w.paths.empty())
        return http::send_error(ex, 400, "bad_warm", "\"paths\" must list at least one path");
    for (const auto& p : w.paths)
        if (p.empty() || p[0] != '/')
            return http::send_error(ex, 400, "bad_warm",
                                    "paths must start with \"/\": \"" + p + "\"");
    if (w.target.empty())
        return http::send_error(ex, 409, "no_listener", "warm needs a TCP data-plane listener");
    warmer_->start(ex, std::move(w));
}

void AdminApi::inspect(http::Exchange& ex) {
    const http::Request& req = ex.request();
    auto path = query_param(req.query, "path");
    if (!path || path->empty() || (*path)[0] != '/')
        return http::send_error(ex, 400, "bad_inspect", "path=/... is required");
    std::string host = query_param(req.query, "host").value_or(d_.first_tcp_listener());
    auto peek = d_.proxy.peek(host, *path);
    if (!peek.entry)
        return http::send_error(ex, 404, "not_cached",
                                "not cached: " + *path + " under Host " + host);
    int64_t now = d_.loop.clock().now_s();
    std::string body;
    JsonWriter w(body);
    w.begin_object();
    w.field("key", peek.base);
    w.field("url", cache::key_url(peek.base));
    w.field("host", cache::key_host(peek.base));
    w.field("tier", peek.memory ? "memory" : "disk");
    const cache::Entry& e = *peek.entry;
    if (e.is_vary()) {
        w.key("vary").begin_array();
        for (std::string_view n : e.vary_names())
            w.value(n);
        w.end_array();
        // The variants themselves, as stored.
        w.key("variants").begin_array();
        auto page =
            d_.store.scan_prefix(peek.base, peek.base, 50, [&](const store::RecordView& rv) {
                w.value(std::string_view(rv.key).substr(peek.base.size()));
            });
        (void)page;
        w.end_array();
    } else {
        const cache::Freshness& f = e.freshness();
        w.field("status", static_cast<int64_t>(e.status()));
        w.key("headers").begin_array();
        cache::for_each_block_field(e.header_block(), [&](std::string_view n, std::string_view v) {
            w.begin_array().value(n).value(v).end_array();
        });
        w.end_array();
        w.field("body_bytes", static_cast<uint64_t>(e.body().size()));
        if (e.is_partial()) {
            // A stored incomplete response: the bytes it holds of the whole.
            w.field("length", e.complete_length());
            w.key("parts").begin_array();
            for (const cache::ByteSpan& s : e.spans())
                w.begin_array().value(s.first).value(s.end() - 1).end_array();
            w.end_array();
        }
        w.field("age", cache::current_age(f, now));
        w.field("ttl", cache::fresh_until(f) - now);
        w.field("lifetime", f.lifetime);
        w.field("stale_while_revalidate", f.swr);
        w.field("stale_if_error", f.sie);
        w.field("revalidate_each_use", f.revalidate_each_use);
        w.field("stale_forbidden", f.stale_forbidden);
        const char* state = "expired";
        switch (cache::state_at(f, now)) {
        case cache::State::fresh:
            state = "fresh";
            break;
        case cache::State::stale_while_revalidate:
            state = "stale-while-revalidate";
            break;
        case cache::State::stale_if_error_only:
            state = "stale-if-error";
            break;
        case cache::State::expired:
            state = "expired";
            break;
        }
        w.field("state", state);
        w.field("stored_at", f.response_time);
        w.field("expires", cache::retain_until(f));
        w.key("tags").begin_array();
        for (std::string_view t : e.tags())
            w.value(t);
        w.end_array();
    }
    w.end_object();
    http::send_json(ex, 200, std::move(body));
}

void AdminApi::reload(http::Exchange& ex) {
    auto r = d_.reload();
    if (!r) return http::send_error(ex, r.error());
    std::string body;
    JsonWriter w(body);
    w.begin_object().field("reloaded", true).key("changes").begin_array();
    for (const auto& c : r->changes)
        w.value(c);
    w.end_array().key("pending_restart").begin_array();
    for (const auto& c : r->pending_restart)
        w.value(c);
    w.end_array().end_object();
    http::send_json(ex, 200, std::move(body));
}

void AdminApi::backup(http::Exchange& ex) {
    dom::parser parser;
    dom::object obj;
    if (!parse_object(ex, parser, &obj)) return;
    std::string_view path;
    if (obj["path"].get_string().get(path))
        return http::send_error(ex, 400, "bad_backup_path",
                                "\"path\" (an absolute directory) is required");
    uint64_t started = d_.loop.clock().mono_ms();
    loop::Loop& loop = d_.loop;
    d_.store.backup(std::string(path),
                    http::reply_when_done(ex, [p = std::string(path), started, &loop](
                                                  http::Exchange& e, Status st, uint64_t bytes) {
                        if (!st) return http::send_error(e, st.error());
                        std::string body;
                        JsonWriter(body)
                            .begin_object()
                            .field("path", p)
                            .field("bytes", bytes)
                            .field("duration_ms", loop.clock().mono_ms() - started)
                            .end_object();
                        http::send_json(e, 200, std::move(body));
                    }));
}

} // namespace ec::admin
