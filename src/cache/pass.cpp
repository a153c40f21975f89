// Proxy::pass: forwarding without caching — unsafe methods, HEAD misses, hit-for-pass keys —
// with invalidation (RFC 9111 §4.4) and write-through.
#include <sys/socket.h>

#include <memory>

#include "cache/cache_key.hpp"
#include "cache/fields.hpp"
#include "cache/proxy.hpp"
#include "cache/vary.hpp"
#include "util/log.hpp"
#include "util/strings.hpp"
#include "util/time_format.hpp"

namespace ec::cache {

namespace {

bool is_safe(llhttp_method_t m) {
    return m == HTTP_GET || m == HTTP_HEAD || m == HTTP_OPTIONS || m == HTTP_TRACE;
}

bool idempotent(llhttp_method_t m) {
    return is_safe(m) || m == HTTP_PUT || m == HTTP_DELETE;
}

// The path-and-query of a Location / Content-Location value when it points at the same
// origin as the request (relative, or absolute with the same host); nullopt otherwise.
std::optional<std::string> same_origin_path(std::string_view value, std::string_view host) {
    value = trim_ows(value);
    if (value.empty()) return std::nullopt;
    if (value[0] == '/') {
        if (value.size() > 1 && value[1] == '/')
            return std::nullopt; // scheme-relative: another host
        return std::string(value.substr(0, value.find('#')));
    }
    for (std::string_view scheme : {"http://", "https://"}) {
        if (!istarts_with(value, scheme)) continue;
        std::string_view rest = value.substr(scheme.size());
        size_t slash = rest.find_first_of("/?#");
        std::string_view authority = rest.substr(0, slash);
        if (normalize_host(authority) != normalize_host(host)) return std::nullopt;
        std::string_view path = slash == std::string_view::npos ? "/" : rest.substr(slash);
        std::string out(path.substr(0, path.find('#')));
        if (out.empty() || out[0] != '/') out.insert(0, "/");
        return out;
    }
    return std::nullopt;
}

// The state of one forwarded exchange, shared by the origin callbacks.
struct Pass {
    http::ExchangeRef client;
    std::shared_ptr<Route> route;
    std::shared_ptr<origin::Exchange> upstream;
    bool started = false;
    bool paused = false;
    bool unsafe = false;
    bool write_through = false;
    std::string target; // path?query as received
    std::string host;
    std::string base;     // the cache key of the target (write-through)
    std::string put_body; // write-through: the representation to store
    std::string put_type; // ...and its Content-Type
};

} // namespace

std::vector<origin::Header> upstream_headers(const http::Request& req,
                                             const config::OriginSpec* spec, bool cacheable,
                                             const ProxySettings& settings) {
    std::vector<origin::Header> out;
    out.reserve(req.headers.size() + 5);
    std::string_view connection;
    for (const auto& h : req.headers)
        if (iequals(h.name, "connection")) connection = h.value;
    bool trusted = false;
    if (req.peer && req.peer->sa_family == AF_UNIX) {
        trusted = true; // a local process allowed by the socket's permissions (a TLS terminator)
    } else if (req.peer) {
        for (const Cidr& c : settings.trusted_proxies)
            trusted = trusted || cidr_contains(c, req.peer);
    }
    std::string via, xff, forwarded, xf_proto;
    AcceptEncoding accept_encoding;
    bool has_accept_encoding = false;
    for (const auto& h : req.headers) {
        std::string_view n = h.name;
        if (is_unstorable(n) || iequals(n, "host") || iequals(n, "content-length") ||
            iequals(n, "expect") || listed_in_connection(connection, n))
            continue;
        if (iequals(n, "via")) {
            via = std::string(h.value) + ", ";
            continue;
        }
        if (cacheable && (istarts_with(n, "if-") || iequals(n, "range"))) continue;
        if (cacheable && iequals(n, "accept-encoding")) {
            accept_encoding.add(h.value);
            has_accept_encoding = true;
            continue;
        }
        // The client's claims about who it is are kept only from a trusted proxy.
        bool is_xff = iequals(n, "x-forwarded-for"), is_xfp = iequals(n, "x-forwarded-proto");
        if (settings.x_forwarded && (is_xff || is_xfp)) {
            if (trusted && is_xff) xff += std::string(h.value) + ", ";
            if (trusted && is_xfp && xf_proto.empty()) xf_proto = h.value;
            continue;
        }
        if (!req.request_id.empty() && iequals(n, "x-request-id")) continue; // sent below
        if (settings.forwarded && iequals(n, "forwarded")) {
            if (trusted) forwarded += std::string(h.value) + ", ";
            continue;
        }
        out.push_back(origin::Header{std::string(n), std::string(h.value)});
    }
    // A fill asks with the Accept-Encoding class its Vary key names, so the coding the origin
    // picks is one every client of that variant accepts (issue 11 defect 10).
    if (has_accept_encoding)
        out.push_back(origin::Header{"Accept-Encoding", std::string(accept_encoding.class_name())});
    std::string host = spec && !spec->host.empty() ? spec->host : std::string(req.host);
    out.insert(out.begin(), origin::Header{"Host", host});
    out.push_back(origin::Header{"Via", via + (req.version_minor ? "1.1" : "1.0") + " edgecached"});
    if (!req.request_id.empty())
        out.push_back(origin::Header{"X-Request-Id", std::string(req.request_id)});
    if (!req.peer) return out;              // our own request: no client to speak of
    std::string client = ip_text(req.peer); // "" for a Unix-socket peer
    if (settings.x_forwarded) {
        if (!client.empty())
            xff += client;
        else if (xff.size() >= 2)
            xff.resize(xff.size() - 2);
        if (!xff.empty()) out.push_back(origin::Header{"X-Forwarded-For", std::move(xff)});
        out.push_back(origin::Header{"X-Forwarded-Proto", xf_proto.empty() ? "http" : xf_proto});
    }
    if (settings.forwarded) {
        // RFC 7239 §6: an IPv6 node is bracketed and quoted; an unknown one is "unknown".
        if (client.empty())
            forwarded += "for=unknown";
        else if (client.find(':') != std::string::npos)
            forwarded += "for=\"[" + client + "]\"";
        else
            forwarded += "for=" + client;
        forwarded += ";proto=http";
        out.push_back(origin::Header{"Forwarded", std::move(forwarded)});
    }
    return out;
}

void Proxy::pass(http::Exchange& ex, const std::shared_ptr<Route>& route, bool counted_hfp) {
    const http::Request& req = ex.request();
    ++route->stats.passes;
    origin::Pool* pool = pool_for(*route);
    if (!pool) {
        send_gateway_error(ex, origin::ErrorKind::no_server, route->spec.origin, "not configured");
        return;
    }
    auto st = std::make_shared<Pass>();
    st->route = route;
    st->unsafe = !is_safe(req.method);
    st->target = std::string(req.path);
    if (!req.query.empty()) st->target += "?" + std::string(req.query);
    st->host = std::string(req.host);
    if (req.method == HTTP_PUT && route->spec.write == config::WriteMode::through) {
        st->write_through = true;
        st->base = request_key(req.host, req.path, req.query, route->spec.ignore_query_params);
        st->put_body = std::string(req.body);
        st->put_type = std::string(req.header("content-type").value_or(""));
    }
    origin::Request up;
    up.method = std::string(req.method_name);
    up.target = st->target;
    up.headers = upstream_headers(req, &pool->spec(), false, settings_);
    up.body = std::string(req.body);
    up.idempotent = idempotent(req.method);
    st->client = ex.defer();
    const char* tag = counted_hfp ? "BYPASS" : (st->unsafe ? "PASS" : "BYPASS");

    origin::Sink sink;
    sink.on_head = [this, st, tag](origin::ResponseHead&& head) {
        if (st->unsafe && head.status >= 200 && head.status < 400) {
            // RFC 9111 §4.4: a successful unsafe request invalidates what it changed.
            ++st->route->stats.invalidations;
            invalidate(st->host, st->target);
            for (const auto& h : head.headers) {
                if (!iequals(h.name, "location") && !iequals(h.name, "content-location")) continue;
                if (auto p = same_origin_path(h.value, st->host)) invalidate(st->host, *p);
            }
            if (st->write_through && head.status < 300) {
                // The PUT's body becomes the stored representation, fresh for the route's ttl.
                Route& r = *st->route;
                if (r.spec.ttl > 0) {
                    int64_t now = loop_.clock().now_s();
                    Freshness f;
                    f.shareable = f.storable = true;
                    f.source = LifetimeSource::route_ttl;
                    f.lifetime = r.spec.ttl;
                    f.swr = r.spec.stale_while_revalidate;
                    f.sie = r.spec.stale_if_error;
                    f.request_time = f.response_time = now;
                    FieldList fields;
                    if (!st->put_type.empty()) fields.push_back({"Content-Type", st->put_type});
                    std::string date;
                    append_http_date(date, now);
                    fields.push_back({"Date", date});
                    auto e = Entry::decode(Entry::encode_response(
                        200, f, {}, Entry::header_block(fields), st->put_body));
                    const std::string& base = st->base;
                    // The invalidation above bumped the generation; this store comes after it.
                    store_entry(base, base, e, {}, {}, gens_.snapshot(base), r);
                }
            }
        }
        http::Exchange* ex = st->client.get();
        if (!ex) {
            // The client left; an unsafe request still runs to completion upstream.
            if (!st->unsafe && st->upstream) st->upstream->cancel();
            return;
        }
        FieldList fields = storable_fields(head.headers); // not hop-by-hop ones
        ex->set_log_tag(tag);
        ex->mark_upstream_head(loop_.clock().mono_ms());
        ex->status(head.status);
        ex->raw_headers(Entry::header_block(fields));
        if (find_field(fields, "date")) ex->omit_date();
        if (auto age = find_field(fields, "age")) ex->header("Age", *age);
        ex->header("X-Cache", "BYPASS");
        ex->header("Cache-Status",
                   "edgecached; fwd=bypass; fwd-status=" + std::to_string(head.status));
        ex->header("Via", "1.1 edgecached");
        ex->begin_stream(head.content_length, head.more_in_hand);
        st->started = true;
    };
    sink.on_body = [st](std::string_view chunk) {
        http::Exchange* ex = st->client.get();
        if (!ex || !ex->stream_write(http::Body::copy(chunk))) {
            if (!st->unsafe && st->upstream) st->upstream->cancel();
            return;
        }
        if (ex->congested() && !st->paused) {
            st->paused = true;
            st->upstream->pause_body();
            std::weak_ptr<Pass> weak = st;
            ex->on_drain([weak] {
                auto s = weak.lock();
                if (!s) return;
                s->paused = false;
                if (!s->client.get() && !s->unsafe)
                    s->upstream->cancel(); // the client left: free the origin connection
                else
                    s->upstream->resume_body(); // an unsafe request runs to completion
            });
        }
    };
    sink.on_complete = [st] {
        if (http::Exchange* ex = st->client.get()) ex->stream_end();
    };
    sink.on_error = [this, st](origin::ErrorKind kind, std::string message) {
        ++st->route->stats.origin_errors;
        ++st->route->stats.origin_errors_by_kind[static_cast<size_t>(kind)];
        LOG_WARN("origin %s failed for %s: %s: %s", st->route->spec.origin.c_str(),
                 st->target.c_str(), origin::error_kind_name(kind), message.c_str());
        http::Exchange* ex = st->client.get();
        if (!ex) return;
        if (st->started)
            ex->stream_abort();
        else
            send_gateway_error(*ex, kind, st->route->spec.origin, message);
    };
    st->upstream = pool->fetch(std::move(up), std::move(sink));
}

} // namespace ec::cache
