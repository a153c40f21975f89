// Native KV routes: /kv/{ns}/{key}, listing, bulk put / delete / get.
#include "kv/native_api.hpp"

#include <memory>

#include "http/json_reply.hpp"
#include "http/reply_when_done.hpp"
#include "kv/bulk.hpp"
#include "util/json_writer.hpp"
#include "util/percent.hpp"
#include "util/strings.hpp"

namespace ec::kv {

namespace {

// A namespace title from the path, percent-decoded once. Errors: 400 bad_namespace_title,
// 400 invalid_namespace.
Result<std::string> decode_namespace(std::string_view raw) {
    // Percent-encoding at most triples a title: a longer raw title is refused undecoded.
    if (raw.size() > 3 * kMaxTitleBytes)
        return make_error(400, "bad_namespace_title", "namespace title is longer than 256 bytes");
    auto ns = percent_decode(raw);
    if (!ns) return make_error(400, "invalid_namespace", "namespace is not valid percent-encoding");
    if (Status st = check_title(*ns); !st) return st.error();
    return std::move(*ns);
}

// A key from the path, percent-decoded once. Errors: 400 invalid_key, 414 key_too_long.
Result<std::string> decode_key(std::string_view raw) {
    auto key = percent_decode(raw);
    if (!key) return make_error(400, "invalid_key", "key is not valid percent-encoding");
    if (Status st = check_key(*key); !st) return st.error();
    return std::move(*key);
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
    if (!what) return http::send_json(ex, 200, "{\"success\":true}");
    std::string body;
    JsonWriter w(body);
    w.begin_object().field("success", true);
    if (what) w.field(what, static_cast<uint64_t>(n));
    w.end_object();
    http::send_json(ex, 200, std::move(body));
}

} // namespace

std::vector<ApiRoute> NativeApi::routes() {
    using http::method_bit;
    const http::Methods get = method_bit(HTTP_GET) | method_bit(HTTP_HEAD);
    const http::Methods put = method_bit(HTTP_PUT), post = method_bit(HTTP_POST);
    using NsHandler = void (NativeApi::*)(http::Exchange&, const std::string&);
    auto ns_row = [this](http::Methods m, std::string_view pattern, NsHandler fn) {
        return ApiRoute{m, pattern, BodyLimitKind::body,
                        [this, fn](http::Exchange& ex, const http::RouteArgs& a) {
                            auto ns = decode_namespace(a[0]);
                            if (!ns) return http::send_error(ex, ns.error());
                            (this->*fn)(ex, *ns);
                        }};
    };
    using KeyHandler = void (NativeApi::*)(http::Exchange&, const std::string&, std::string);
    auto key_row = [this](http::Methods m, BodyLimitKind limit, KeyHandler fn) {
        return ApiRoute{m, "/kv/{ns}/{key+}", limit,
                        [this, fn](http::Exchange& ex, const http::RouteArgs& a) {
                            auto ns = decode_namespace(a[0]);
                            if (!ns) return http::send_error(ex, ns.error());
                            auto key = decode_key(a[1]);
                            if (!key) return http::send_error(ex, key.error());
                            (this->*fn)(ex, *ns, std::move(*key));
                        }};
    };
    std::vector<ApiRoute> rows;
    // POST only: a GET of /kv/ns/_bulk/get reads the key "_bulk/get".
    rows.push_back(ns_row(post, "/kv/{ns}/_bulk/delete", &NativeApi::bulk_delete));
    rows.push_back(ns_row(post, "/kv/{ns}/_bulk/get", &NativeApi::bulk_get));
    rows.push_back(ns_row(get, "/kv/{ns}", &NativeApi::list));
    rows.push_back(ns_row(get, "/kv/{ns}/", &NativeApi::list));
    rows.push_back(ns_row(put, "/kv/{ns}", &NativeApi::bulk_put));
    rows.push_back(ns_row(put, "/kv/{ns}/", &NativeApi::bulk_put));
    rows.push_back(key_row(get, BodyLimitKind::body, &NativeApi::get));
    rows.push_back(key_row(put, BodyLimitKind::value, &NativeApi::put));
    rows.push_back(key_row(method_bit(HTTP_DELETE), BodyLimitKind::body, &NativeApi::del));
    rows.push_back(ApiRoute{http::kAnyMethod, "/kv/{rest*}", BodyLimitKind::body,
                            [](http::Exchange& ex, const http::RouteArgs&) {
                                http::send_error(
                                    ex, 404, "not_found",
                                    "no namespace in the path: use /kv/{namespace}/{key}");
                            }});
    return rows;
}

void NativeApi::get(http::Exchange& ex, const std::string& ns_title, std::string key) {
    auto found = ops_.get(ops_.by_title(ns_title), key);
    if (!found) return http::send_error(ex, found.error());
    store::KvValue* v = *found;
    if (!v) return http::send_error(ex, 404, "not_found", "key not found");
    ex.status(200).header("Content-Type", "application/octet-stream");
    if (v->expiration) ex.header("X-KV-Expiration", static_cast<uint64_t>(v->expiration));
    if (!v->metadata.empty()) ex.header("X-KV-Metadata", v->metadata);
    send_value(ex, *v);
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
