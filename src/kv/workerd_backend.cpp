// workerd KV backend protocol: get / put / delete by path, form-encoded listing, bulk get.
#include "kv/workerd_backend.hpp"

#include <memory>

#include "http/reply_when_done.hpp"
#include "kv/bulk.hpp"
#include "kv/cf_envelope.hpp"
#include "util/json_writer.hpp"
#include "util/percent.hpp"
#include "util/strings.hpp"

namespace ec::kv {

namespace {

// Named apart from http::send_error (JSON errors): in a unity build both are seen. The
// protocol's own wording for what Ops reports in ours.
void send_backend_error(http::Exchange& ex, const Error& e) {
    std::string_view message = e.message;
    if (e.code == "invalid_query") message = "Query string is not valid percent-encoding.";
    if (e.code == "bad_cursor") message = "Invalid cursor.";
    send_workerd_error(ex, e.http ? e.http : 500, message);
}

// A write's completion: an empty 200, or the error as the reason phrase.
WriteDone answer_backend_write(http::Exchange& ex) {
    return http::reply_when_done(ex, [](http::Exchange& e, Status st, const WriteResult&) {
        if (!st) return send_backend_error(e, st.error());
        e.status(200).send();
    });
}

} // namespace

void send_workerd_error(http::Exchange& ex, int status, std::string_view message) {
    std::string reason(message.substr(0, 200));
    for (char& c : reason)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
    std::string body = reason + "\n";
    ex.status(status, reason).header("Content-Type", "text/plain; charset=utf-8");
    ex.send(http::Body::owned(std::move(body)));
}

std::vector<ApiRoute> WorkerdBackend::routes(std::string ns_title) {
    using http::method_bit;
    const http::Methods get = method_bit(HTTP_GET) | method_bit(HTTP_HEAD);
    auto title = std::make_shared<const std::string>(std::move(ns_title));
    using KeyHandler = void (WorkerdBackend::*)(http::Exchange&, const std::string&, std::string);
    auto key_row = [this, title](http::Methods m, BodyLimitKind limit, KeyHandler fn) {
        return ApiRoute{
            m, "/{key+}", limit, [this, title, fn](http::Exchange& ex, const http::RouteArgs& a) {
                auto key = percent_decode(a[0]);
                if (!key) return send_workerd_error(ex, 400, "Key is not valid percent-encoding.");
                if (Status st = check_key(*key); !st) return send_backend_error(ex, st.error());
                (this->*fn)(ex, *title, std::move(*key));
            }};
    };
    std::vector<ApiRoute> rows;
    rows.push_back(ApiRoute{
        method_bit(HTTP_POST), "/bulk/get", BodyLimitKind::body,
        [this, title](http::Exchange& ex, const http::RouteArgs&) { bulk_get(ex, *title); }});
    rows.push_back(
        ApiRoute{get, "/", BodyLimitKind::body,
                 [this, title](http::Exchange& ex, const http::RouteArgs&) { list(ex, *title); }});
    rows.push_back(key_row(get, BodyLimitKind::body, &WorkerdBackend::get));
    rows.push_back(key_row(method_bit(HTTP_PUT), BodyLimitKind::value, &WorkerdBackend::put));
    rows.push_back(key_row(method_bit(HTTP_DELETE), BodyLimitKind::body, &WorkerdBackend::del));
    return rows;
}

void WorkerdBackend::get(http::Exchange& ex, const std::string& ns_title, std::string key) {
    auto found = ops_.get(ops_.by_title(ns_title), key);
    if (!found) return send_backend_error(ex, found.error());
    store::KvValue* v = *found;
    if (!v) return send_workerd_error(ex, 404, "Not Found");
    ex.status(200).header("Content-Type", "application/octet-stream");
    if (!v->metadata.empty()) ex.header("CF-KV-Metadata", v->metadata);
    if (v->expiration) ex.header("Expiration", static_cast<uint64_t>(v->expiration));
    send_value(ex, *v);
}

void WorkerdBackend::put(http::Exchange& ex, const std::string& ns_title, std::string key) {
    const http::Request& req = ex.request();
    // Stored straight from the request body, which reply_when_done keeps alive until done.
    auto entry = ops_.make_entry(
        PutRequest{std::move(key), req.body, req.header("CF-KV-Metadata"), req.query},
        Dialect::cloudflare);
    if (!entry) return send_backend_error(ex, entry.error());
    ops_.submit(Write::put(NamespaceRef::title(ns_title), std::move(*entry)),
                answer_backend_write(ex));
}

void WorkerdBackend::del(http::Exchange& ex, const std::string& ns_title, std::string key) {
    std::vector<std::string> keys;
    keys.push_back(std::move(key));
    ops_.submit(Write::del(NamespaceRef::title(ns_title), std::move(keys)),
                answer_backend_write(ex));
}

void WorkerdBackend::list(http::Exchange& ex, const std::string& ns_title) {
    const std::string_view q = ex.request().query;
    bool bad = false;
    // workerd builds this query with kj::Url, which form-encodes it: '+' is a space.
    auto prefix = query_param(q, "prefix", true, &bad);
    auto cursor = query_param(q, "cursor", true, &bad);
    auto limit_s = query_param(q, "key_count_limit", true, &bad);
    if (bad) return send_workerd_error(ex, 400, "Query string is not valid percent-encoding.");
    auto limit = Ops::list_limit(limit_s);
    if (!limit)
        return send_workerd_error(ex, 400,
                                  "Invalid key_count_limit of " + *limit_s +
                                      ". Please specify an integer from 1 to 1000.");
    auto page =
        ops_.list(ops_.by_title(ns_title), prefix.value_or(""), cursor.value_or(""), *limit);
    if (!page) return send_backend_error(ex, page.error());
    std::string body;
    JsonWriter w(body);
    w.begin_object().key("keys").begin_array();
    for (const auto& k : page->keys) {
        w.begin_object().field("name", k.name);
        if (k.expiration) w.field("expiration", k.expiration);
        // The metadata goes as a JSON text inside a string; workerd parses it.
        if (!k.metadata.empty()) w.field("metadata", k.metadata);
        w.end_object();
    }
    w.end_array().field("list_complete", page->complete);
    if (!page->complete) w.field("cursor", page->cursor);
    w.end_object();
    ex.status(200).header("Content-Type", "application/json");
    ex.send(http::Body::owned(std::move(body)));
}

void WorkerdBackend::bulk_get(http::Exchange& ex, const std::string& ns_title) {
    auto req = parse_bulk_get(ex.request().body);
    if (!req) return send_backend_error(ex, req.error());
    req->with_expiration = false;
    std::string body;
    if (Status st = ops_.bulk_get(body, ops_.by_title(ns_title), *req); !st)
        return send_backend_error(ex, st.error());
    ex.status(200).header("Content-Type", "application/json");
    ex.send(http::Body::owned(std::move(body)));
}

} // namespace ec::kv
