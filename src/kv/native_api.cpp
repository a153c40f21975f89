// Native KV routes: /kv/{ns}/{key}, listing, bulk put / delete / get.
#include "kv/native_api.hpp"

#include <memory>

#include "http/json_reply.hpp"
#include "http/reply_when_done.hpp"
#include "http/write_batch.hpp"
#include "kv/bulk.hpp"
#include "util/json_writer.hpp"
#include "util/percent.hpp"
#include "util/strings.hpp"

namespace ec::kv {

namespace {

// The route a native path names. `rest` is the raw path after "/kv/".
struct Target {
    std::string ns;
    std::string key; // percent-decoded once
    bool has_key = false;
    bool bulk_delete = false;
    bool bulk_get = false;
};

Result<Target> parse_target(std::string_view rest, llhttp_method_t method) {
    Target t;
    size_t slash = rest.find('/');
    std::string_view raw_ns = rest.substr(0, slash);
    // Percent-encoding at most triples a title: a longer raw title is refused undecoded.
    if (raw_ns.size() > 3 * kMaxTitleBytes)
        return make_error(400, "bad_namespace_title", "namespace title is longer than 256 bytes");
    auto ns = percent_decode(raw_ns);
    if (!ns) return make_error(400, "invalid_namespace", "namespace is not valid percent-encoding");
    if (ns->empty())
        return make_error(404, "not_found", "no namespace in the path: use /kv/{namespace}/{key}");
    if (Status st = check_title(*ns); !st) return st.error();
    t.ns = std::move(*ns);
    if (slash == std::string_view::npos) return t;
    std::string_view key = rest.substr(slash + 1);
    if (key.empty()) return t; // "/kv/ns/" lists, like "/kv/ns"
    if (method == HTTP_POST && key == "_bulk/delete") {
        t.bulk_delete = true;
        return t;
    }
    if (method == HTTP_POST && key == "_bulk/get") {
        t.bulk_get = true;
        return t;
    }
    auto decoded = percent_decode(key);
    if (!decoded) return make_error(400, "invalid_key", "key is not valid percent-encoding");
    t.key = std::move(*decoded);
    t.has_key = true;
    return t;
}

std::optional<std::string_view> param(std::string_view query, std::string_view name,
                                      std::string& storage, bool* bad) {
    auto v = query_param(query, name, true, bad);
    if (!v) return std::nullopt;
    storage = std::move(*v);
    return std::string_view(storage);
}

// 400 naming every bad entry of a bulk body: {"error":{"code","message","entries":[...]}}.
void send_bulk_error(http::Exchange& ex, const Error& err,
                     const std::vector<BulkProblem>& problems) {
    if (problems.empty()) return http::send_error(ex, err);
    std::string body;
    JsonWriter w(body);
    w.begin_object().key("error").begin_object();
    w.field("code", err.code).field("message", err.message);
    w.key("entries");
    write_problems(body, problems);
    w.end_object().end_object();
    http::send_json(ex, 400, std::move(body));
}

// The answer to a write: {"success":true} plus `"<what>":n` for bulk writes, or the error.
void answer_native_write(http::Exchange& ex, const Status& st, const char* what, size_t n) {
    if (!st) return http::send_error(ex, st.error());
    std::string body;
    JsonWriter w(body);
    w.begin_object().field("success", true);
    if (what) w.field(what, static_cast<uint64_t>(n));
    w.end_object();
    http::send_json(ex, 200, std::move(body));
}

} // namespace

http::BodyLimit NativeApi::body_limit(const http::Request& req, std::string_view rest) const {
    bool single_key = rest.find('/') != std::string_view::npos &&
                      rest.substr(rest.find('/') + 1).size() > 0 && req.method == HTTP_PUT;
    if (single_key)
        return http::BodyLimit{ops_.rules().max_value_size, "value_too_large",
                               "value is larger than max_value_size"};
    return http::BodyLimit{max_body_size_, "body_too_large",
                           "request body is larger than max_body_size"};
}

void NativeApi::handle(http::Exchange& ex, std::string_view rest) {
    const http::Request& req = ex.request();
    auto t = parse_target(rest, req.method);
    if (!t) {
        http::send_error(ex, t.error());
        return;
    }
    if (t->bulk_delete) return bulk_delete(ex, t->ns);
    if (t->bulk_get) return bulk_get(ex, t->ns);
    if (!t->has_key) {
        if (req.method == HTTP_GET || req.method == HTTP_HEAD) return list(ex, t->ns);
        if (req.method == HTTP_PUT) return bulk_put(ex, t->ns);
        return http::send_method_not_allowed(ex, "GET, HEAD, PUT");
    }
    if (Status st = check_key(t->key); !st) {
        http::send_error(ex, st.error());
        return;
    }
    switch (req.method) {
    case HTTP_GET:
    case HTTP_HEAD:
        return get(ex, t->ns, t->key);
    case HTTP_PUT:
        return put(ex, t->ns, std::move(t->key));
    case HTTP_DELETE:
        return del(ex, t->ns, std::move(t->key));
    default:
        return http::send_method_not_allowed(ex, "GET, HEAD, PUT, DELETE");
    }
}

void NativeApi::get(http::Exchange& ex, const std::string& ns_title, const std::string& key) {
    auto found = ops_.get(ops_.by_title(ns_title), key);
    if (!found) return http::send_error(ex, found.error());
    store::KvValue* v = *found;
    if (!v) return http::send_error(ex, 404, "not_found", "key not found");
    ex.status(200).header("Content-Type", "application/octet-stream");
    if (v->expiration) ex.header("X-KV-Expiration", static_cast<uint64_t>(v->expiration));
    if (!v->metadata.empty()) ex.header("X-KV-Metadata", v->metadata);
    // Small values are copied next to the head (one iovec); large ones are handed over whole.
    if (v->value.size() < http::WriteBatch::kCopyLimit)
        ex.send(http::Body::copy(v->value));
    else
        ex.send(http::Body::owned(std::move(v->value)));
}

void NativeApi::put(http::Exchange& ex, const std::string& ns_title, std::string key) {
    const http::Request& req = ex.request();
    auto entry = ops_.make_entry(
        PutRequest{std::move(key), req.body, req.header("X-KV-Metadata"), req.query},
        Dialect::native);
    if (!entry) return http::send_error(ex, entry.error());
    ops_.submit(Write::put(NamespaceRef::title(ns_title), std::move(*entry)),
                http::reply_when_done(ex, [](http::Exchange& e, Status st, const WriteResult&) {
                    answer_native_write(e, st, nullptr, 0);
                }));
}

void NativeApi::del(http::Exchange& ex, const std::string& ns_title, std::string key) {
    std::vector<std::string> keys;
    keys.push_back(std::move(key));
    ops_.submit(Write::del(NamespaceRef::title(ns_title), std::move(keys)),
                http::reply_when_done(ex, [](http::Exchange& e, Status st, const WriteResult&) {
                    answer_native_write(e, st, nullptr, 0);
                }));
}

void NativeApi::list(http::Exchange& ex, const std::string& ns_title) {
    const http::Request& req = ex.request();
    bool bad = false;
    std::string prefix_s, cursor_s, limit_s;
    auto prefix = param(req.query, "prefix", prefix_s, &bad);
    auto cursor = param(req.query, "cursor", cursor_s, &bad);
    auto limit_text = param(req.query, "limit", limit_s, &bad);
    if (bad)
        return http::send_error(ex, 400, "invalid_query",
                                "query string is not valid percent-encoding");
    auto limit = Ops::list_limit(limit_text);
    if (!limit) return http::send_error(ex, limit.error());
    auto page =
        ops_.list(ops_.by_title(ns_title), prefix.value_or(""), cursor.value_or(""), *limit);
    if (!page) return http::send_error(ex, page.error());
    std::string body;
    JsonWriter w(body);
    w.begin_object().key("keys").begin_array();
    for (const auto& k : page->keys) {
        w.begin_object().field("name", k.name);
        if (k.expiration) w.field("expiration", k.expiration);
        if (!k.metadata.empty()) w.key("metadata").raw(k.metadata);
        w.end_object();
    }
    w.end_array().field("list_complete", page->complete);
    if (!page->complete) w.field("cursor", page->cursor);
    w.end_object();
    http::send_json(ex, 200, std::move(body));
}

void NativeApi::bulk_put(http::Exchange& ex, const std::string& ns_title) {
    std::vector<BulkProblem> problems;
    auto entries = parse_bulk_put(ex.request().body, ops_.now_s(), ops_.rules(), &problems);
    if (!entries) return send_bulk_error(ex, entries.error(), problems);
    ops_.submit(Write::put(NamespaceRef::title(ns_title), std::move(*entries)),
                http::reply_when_done(ex, [](http::Exchange& e, Status st, const WriteResult& r) {
                    answer_native_write(e, st, "written", r.count);
                }));
}

void NativeApi::bulk_delete(http::Exchange& ex, const std::string& ns_title) {
    std::vector<BulkProblem> problems;
    auto keys = parse_key_list(ex.request().body, &problems);
    if (!keys) return send_bulk_error(ex, keys.error(), problems);
    ops_.submit(Write::del(NamespaceRef::title(ns_title), std::move(*keys)),
                http::reply_when_done(ex, [](http::Exchange& e, Status st, const WriteResult& r) {
                    answer_native_write(e, st, "deleted", r.deleted);
                }));
}

void NativeApi::bulk_get(http::Exchange& ex, const std::string& ns_title) {
    auto req = parse_bulk_get(ex.request().body);
    if (!req) return http::send_error(ex, req.error());
    std::string body = "{\"values\":";
    Status st = ops_.bulk_get(body, ops_.by_title(ns_title), *req);
    if (!st) return http::send_error(ex, st.error());
    body.push_back('}');
    http::send_json(ex, 200, std::move(body));
}

} // namespace ec::kv
