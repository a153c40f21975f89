// workerd KV backend protocol: get / put / delete by path, form-encoded listing, bulk get.
#include "kv/workerd_backend.hpp"

#include "http/reply_when_done.hpp"
#include "http/write_batch.hpp"
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

http::BodyLimit WorkerdBackend::body_limit(const http::Request& req) const {
    if (req.method == HTTP_PUT)
        return http::BodyLimit{ops_.rules().max_value_size, "value_too_large",
                               "value is larger than max_value_size"};
    return http::BodyLimit{max_body_size_, "body_too_large",
                           "request body is larger than max_body_size"};
}

void WorkerdBackend::handle(http::Exchange& ex, const std::string& ns_title) {
    const http::Request& req = ex.request();
    const std::string_view path = req.path;
    llhttp_method_t m = req.method;
    if (path == "/bulk/get") {
        if (m == HTTP_POST) return bulk_get(ex, ns_title);
    } else if (path == "/") {
        if (m == HTTP_GET || m == HTTP_HEAD) return list(ex, ns_title);
    } else if (!path.empty() && path[0] == '/') {
        auto key = percent_decode(path.substr(1));
        if (!key) return send_workerd_error(ex, 400, "Key is not valid percent-encoding.");
        if (Status st = check_key(*key); !st) return send_backend_error(ex, st.error());
        if (m == HTTP_GET || m == HTTP_HEAD) return get(ex, ns_title, *key);
        if (m == HTTP_PUT) return put(ex, ns_title, std::move(*key));
        if (m == HTTP_DELETE) return del(ex, ns_title, std::move(*key));
    }
    send_workerd_error(ex, 405, "Method Not Allowed");
}

void WorkerdBackend::get(http::Exchange& ex, const std::string& ns_title, const std::string& key) {
    auto found = ops_.get(ops_.by_title(ns_title), key);
    if (!found) return send_backend_error(ex, found.error());
    store::KvValue* v = *found;
    if (!v) return send_workerd_error(ex, 404, "Not Found");
    ex.status(200).header("Content-Type", "application/octet-stream");
    if (!v->metadata.empty()) ex.header("CF-KV-Metadata", v->metadata);
    if (v->expiration) ex.header("Expiration", static_cast<uint64_t>(v->expiration));
    if (v->value.size() < http::WriteBatch::kCopyLimit)
        ex.send(http::Body::copy(v->value));
    else
        ex.send(http::Body::owned(std::move(v->value)));
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
