// Proxy::pass: forwarding without caching — unsafe methods, HEAD misses, hit-for-pass keys —
// with invalidation (RFC 9111 §4.4), write-through, and POST responses kept for GETs (RFC 9110
// §9.3.3).
#include <memory>

#include "cache/cache_key.hpp"
#include "cache/fields.hpp"
#include "cache/proxy.hpp"
#include "cache/respond.hpp"
#include "cache/tags.hpp"
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

// A POST response that may serve later GETs of its target (RFC 9110 §9.3.3): the request's
// part, taken when the POST is forwarded, and the response's, decided at its head.
struct ReusablePost {
    FieldList request_fields; // the POST's: Authorization, no-store, the Vary key
    int64_t request_time = 0;
    bool keep = false; // the response qualifies; its body is collected for the store
    int status = 0;
    Freshness fresh;
    FieldList fields;
    std::vector<std::string> withheld;
    std::vector<std::string> vary_names;
    std::vector<std::string> tags;
    std::string key; // the variant's key (the base key without Vary)
    Generations::Snapshot snap;
    std::string body;
};

// The state of one forwarded exchange, shared by the origin callbacks.
struct Pass {
    ClientStream downstream; // the client, streamed to at its pace
    std::shared_ptr<Route> route;
    std::shared_ptr<origin::Fetch> upstream;
    bool started = false;
    bool unsafe = false;
    bool write_through = false;
    std::string target; // path?query as received
    std::string host;
    std::string base;                   // the cache key of the target (write-through)
    std::string put_body;               // write-through: the representation to store
    std::string put_type;               // ...and its Content-Type
    std::unique_ptr<ReusablePost> post; // POST only
};

// RFC 9110 §9.3.3: "Responses to POST requests are only cacheable when they include explicit
// freshness information ... and a Content-Location header field that has the same value as
// the POST's target URI." Decides, at the response head, whether this one is: a 2xx (§8.7:
// only then is the content a representation of the resource Content-Location names) whose
// same-origin Content-Location resolves to the target as received, storable by the rules a
// GET's response meets, with a lifetime from s-maxage, max-age or Expires — never from the
// route's ttl, ttl_by_status or heuristics — and a body that may fit max_object_size.
// `fields` are the response's storable fields, the targeted field still among them.
bool post_reusable(ReusablePost& p, const origin::ResponseHead& head, const FieldList& fields,
                   const Pass& st, const FreshnessPolicy& route_policy, int64_t now,
                   uint64_t max_object_size) {
    if (head.status < 200 || head.status > 299 || !head.transfer_coding.empty()) return false;
    if (head.content_length && *head.content_length > max_object_size) return false;
    auto location = find_field(fields, "content-location");
    if (!location || same_origin_path(*location, st.host) != st.target) return false;
    FreshnessPolicy policy = route_policy;
    policy.ttl = 0;
    policy.force_ttl = false;
    policy.ttl_by_status = nullptr;
    policy.heuristic_freshness = false;
    ResponseInfo info = ResponseInfo::from_fields(head.status, fields);
    CacheControl scratch;
    bool targeted = false;
    const CacheControl& cc = governing_directives(info, policy, scratch, &targeted);
    bool explicit_lifetime =
        cc.s_maxage.present || cc.max_age.present || (!targeted && info.has_expires);
    if (!explicit_lifetime) return false;
    RequestInfo req = RequestInfo::from_fields(true, p.request_fields);
    p.fresh = evaluate(req, info, policy, p.request_time, now);
    VaryInfo vary = VaryInfo::from_fields(fields);
    if (!p.fresh.storable || vary.star) return false;
    p.status = head.status;
    p.withheld = withheld_fields(info, policy);
    p.fields = fields;
    erase_fields(p.fields, policy.targeted_field);
    p.key = st.base;
    if (!vary.names.empty()) append_vary_key(p.key, vary, p.request_fields);
    p.vary_names = std::move(vary.names);
    p.tags = parse_tags(p.fields, TagLimits{128, 255});
    return true;
}

} // namespace

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
    if (req.method == HTTP_POST) {
        st->base = request_key(req.host, req.path, req.query, route->spec.ignore_query_params);
        st->post = std::make_unique<ReusablePost>();
        st->post->request_time = loop_.clock().now_s();
        st->post->request_fields.reserve(req.headers.size());
        for (const auto& h : req.headers)
            st->post->request_fields.push_back(Field{std::string(h.name), std::string(h.value)});
    }
    origin::UpstreamRequest up;
    up.method = std::string(req.method_name);
    up.target = st->target;
    up.headers = upstream_headers(req, &pool->spec(), false, settings_);
    up.body = std::string(req.body);
    up.idempotent = idempotent(req.method);
    st->downstream = ClientStream(ex.defer());
    const char* tag = counted_hfp ? "BYPASS" : (st->unsafe ? "PASS" : "BYPASS");

    origin::Sink sink;
    sink.on_interim = [st](origin::InterimHead&& head) {
        if (http::Exchange* ex = st->downstream.client())
            relay_interim(*ex, head, st->route->policy.targeted_field, st->route->stats);
    };
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
        FieldList fields = storable_fields(head.headers); // not hop-by-hop ones
        if (st->post) {
            // After the invalidation above: the store is checked against this snapshot.
            ReusablePost& p = *st->post;
            p.keep = post_reusable(p, head, fields, *st, st->route->policy, loop_.clock().now_s(),
                                   settings_.max_object_size);
            if (p.keep) {
                p.snap = gens_.snapshot(st->base);
                LOG_DEBUG("cache %s: POST response kept for GETs (Content-Location is the target, "
                          "lifetime %llds)",
                          st->target.c_str(), static_cast<long long>(p.fresh.lifetime));
            }
        }
        http::Exchange* ex = st->downstream.client();
        if (!ex) {
            // The client left; an unsafe request still runs to completion upstream.
            if (!st->unsafe && st->upstream) st->upstream->cancel();
            return;
        }
        if (!head.transfer_coding.empty() && !ex->relay_transfer_coding(head.transfer_coding)) {
            // A body still transfer-coded (RFC 9112 §6.3) goes on coded, which an HTTP/1.0
            // client cannot be told; we decode none. The origin's body is left unread.
            send_gateway_error(*ex, origin::ErrorKind::bad_response, st->route->spec.origin,
                               "a transfer coding an HTTP/1.0 client cannot take");
            return;
        }
        // RFC 9213: the field targeted at this cache is not passed on.
        erase_fields(fields, st->route->policy.targeted_field);
        ex->set_log_tag(tag);
        std::string cache_status = "fwd=bypass; fwd-status=" + std::to_string(head.status);
        if (st->post && st->post->keep) cache_status += "; stored";
        write_upstream_head(*ex, head.status, fields, find_field(fields, "age").value_or(""),
                            Verdict{"BYPASS", cache_status}, settings_, loop_.clock().mono_ms());
        ex->begin_stream(head.content_length, head.more_in_hand);
        st->started = true;
    };
    sink.on_body = [this, st](std::string_view chunk) {
        if (st->post && st->post->keep) {
            ReusablePost& p = *st->post;
            if (p.body.size() + chunk.size() > settings_.max_object_size) {
                p.keep = false;
                std::string().swap(p.body);
            } else {
                p.body.append(chunk);
            }
        }
        if (!st->downstream.write(chunk)) {
            if (!st->unsafe && st->upstream) st->upstream->cancel();
            return;
        }
        Pass* s = st.get();
        st->downstream.pace(*st->upstream, st, [s] {
            if (!s->downstream.client() && !s->unsafe)
                s->upstream->cancel(); // the client left: free the origin connection
            else
                s->upstream->resume_body(); // an unsafe request runs to completion
        });
    };
    sink.on_complete = [this, st] {
        st->downstream.end();
        if (!st->post || !st->post->keep) return;
        // The POST's response becomes what a GET of its target is answered with.
        ReusablePost& p = *st->post;
        auto e = Entry::decode(Entry::encode_response(
            p.status, p.fresh, p.tags, Entry::header_block(p.fields, p.withheld), p.body));
        store_entry(st->base, p.key, std::move(e), std::move(p.vary_names), std::move(p.tags),
                    p.snap, *st->route);
        st->post.reset();
    };
    sink.on_error = [this, st](origin::ErrorKind kind, std::string message) {
        ++st->route->stats.origin_errors;
        ++st->route->stats.origin_errors_by_kind[static_cast<size_t>(kind)];
        LOG_WARN("origin %s failed for %s: %s: %s", st->route->spec.origin.c_str(),
                 st->target.c_str(), origin::error_kind_name(kind), message.c_str());
        http::Exchange* ex = st->downstream.client();
        if (!ex) return;
        if (st->started)
            st->downstream.abort();
        else
            send_gateway_error(*ex, kind, st->route->spec.origin, message);
    };
    st->upstream = pool->fetch(std::move(up), std::move(sink));
}

} // namespace ec::cache
