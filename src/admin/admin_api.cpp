// AdminApi: dispatch, purge, inspect, reload, backup and config routes.
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

void AdminApi::handle(http::Exchange& ex) {
    const http::Request& req = ex.request();
    std::string_view p = req.path;
    auto only = [&](llhttp_method_t m, const char* allow) {
        if (req.method == m || (m == HTTP_GET && req.method == HTTP_HEAD)) return true;
        http::send_method_not_allowed(ex, allow);
        return false;
    };
    if (p == "/admin/stats") {
        if (only(HTTP_GET, "GET")) stats(ex);
    } else if (p == "/admin/stats/reset") {
        if (only(HTTP_POST, "POST")) {
            reset_stats();
            http::send_json(ex, 200, "{\"reset\":true}");
        }
    } else if (p == "/admin/purge") {
        if (only(HTTP_POST, "POST")) purge(ex);
    } else if (p == "/admin/warm") {
        if (only(HTTP_POST, "POST")) warm(ex);
    } else if (p == "/admin/inspect") {
        if (only(HTTP_GET, "GET")) inspect(ex);
    } else if (p == "/admin/reload") {
        if (only(HTTP_POST, "POST")) reload(ex);
    } else if (p == "/admin/backup") {
        if (only(HTTP_POST, "POST")) backup(ex);
    } else if (p == "/admin/origins") {
        if (only(HTTP_GET, "GET")) origins(ex);
    } else if (p == "/admin/origins/health") {
        if (only(HTTP_POST, "POST")) origin_health(ex);
    } else if (p == "/admin/config") {
        if (only(HTTP_GET, "GET")) http::send_json(ex, 200, config::to_json(d_.config()));
    } else if (p == "/admin/fleet") {
        if (only(HTTP_GET, "GET")) fleet_status(ex);
    } else if (p == "/admin/fleet/purges") {
        if (only(HTTP_GET, "GET")) fleet_purge_progress(ex);
    } else {
        http::send_error(ex, 404, "not_found", "no admin route " + std::string(p));
    }
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
