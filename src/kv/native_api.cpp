// Native KV routes: /kv/{ns}/{key}, listing, bulk put / delete / get.
#include "kv/native_api.hpp"

#include <memory>

#include "http/json_reply.hpp"
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

// The answer to a bulk write once durable: {"success":true,"<what>":n}, or its error.
void answer_count(const http::ExchangeRef& ref, const Status& st, const char* what, size_t n) {
    http::Exchange* e = ref.get();
    if (!e) return;
    if (!st) return http::send_error(*e, st.error());
    std::string body;
    JsonWriter(body)
        .begin_object()
        .field("success", true)
        .field(what, static_cast<uint64_t>(n))
        .end_object();
    http::send_json(*e, 200, std::move(body));
}

} // namespace

NativeApi::NativeApi(store::Store& store, loop::Clock& clock, NamespaceStats& stats)
    : store_(store), clock_(clock), stats_(stats) {}

http::BodyLimit NativeApi::body_limit(const http::Request& req, std::string_view rest) const {
    bool single_key = rest.find('/') != std::string_view::npos &&
                      rest.substr(rest.find('/') + 1).size() > 0 && req.method == HTTP_PUT;
    if (single_key)
        return http::BodyLimit{rules_.max_value_size, "value_too_large",
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
    const store::Namespace* ns = store_.namespace_by_title(ns_title);
    bool found = false;
    if (ns) {
        auto r = store_.kv_get(*ns, key, &value_);
        if (!r) return http::send_error(ex, r.error());
        found = *r;
        NamespaceCounters& c = stats_.of(ns_title);
        ++c.reads;
        c.hits += found;
    }
    if (!found) return http::send_error(ex, 404, "not_found", "key not found");
    ex.status(200).header("Content-Type", "application/octet-stream");
    if (value_.expiration) ex.header("X-KV-Expiration", static_cast<uint64_t>(value_.expiration));
    if (!value_.metadata.empty()) ex.header("X-KV-Metadata", value_.metadata);
    // Small values are copied next to the head (one iovec); large ones are handed over whole.
    if (value_.value.size() < http::WriteBatch::kCopyLimit)
        ex.send(http::Body::copy(value_.value));
    else
        ex.send(http::Body::owned(std::move(value_.value)));
}

void NativeApi::put(http::Exchange& ex, const std::string& ns_title, std::string key) {
    const http::Request& req = ex.request();
    if (Status st = check_value_size(req.body.size(), rules_); !st)
        return http::send_error(ex, st.error());
    std::string meta;
    if (auto m = req.header("X-KV-Metadata")) {
        auto r = check_metadata(*m);
        if (!r) return http::send_error(ex, r.error());
        meta = std::move(*r);
    }
    bool bad = false;
    std::string ttl_s, ttl_alias_s, exp_s;
    auto ttl = param(req.query, "expiration_ttl", ttl_s, &bad);
    if (!ttl) ttl = param(req.query, "ttl", ttl_alias_s, &bad);
    auto exp = param(req.query, "expiration", exp_s, &bad);
    if (bad)
        return http::send_error(ex, 400, "invalid_query",
                                "query string is not valid percent-encoding");
    auto expiration = resolve_expiration(ttl, exp, clock_.now_s(), rules_);
    if (!expiration) return http::send_error(ex, expiration.error());

    // The value is written straight from the request body: the ExchangeRef keeps the
    // connection's buffers alive until the op is done, even if the client disconnects.
    http::ExchangeRef ref = ex.defer();
    store::WriteOp op;
    op.apply = [ns_title, key = std::move(key), value = req.body, meta = std::move(meta),
                exp = *expiration, ref](store::WriteTxn& txn) -> Status {
        auto ns = txn.namespace_for_title(ns_title, true);
        if (!ns) return ns.error();
        return txn.kv_put(*ns, key, value, meta, exp);
    };
    op.done = [ref, ns_title, stats = &stats_](Status st) {
        if (st) ++stats->of(ns_title).writes; // counted once the namespace surely exists
        http::Exchange* e = ref.get();
        if (!e) return;
        if (st)
            http::send_json(*e, 200, "{\"success\":true}");
        else
            http::send_error(*e, st.error());
    };
    store_.submit(std::move(op));
}

void NativeApi::del(http::Exchange& ex, const std::string& ns_title, std::string key) {
    if (!store_.namespace_by_title(ns_title)) {
        http::send_json(ex, 200, "{\"success\":true}"); // nothing to delete: deleting is idempotent
        return;
    }
    ++stats_.of(ns_title).deletes;
    http::ExchangeRef ref = ex.defer();
    store_.kv_delete(ns_title, std::move(key), [ref](Status st) {
        http::Exchange* e = ref.get();
        if (!e) return;
        if (st)
            http::send_json(*e, 200, "{\"success\":true}");
        else
            http::send_error(*e, st.error());
    });
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
    size_t limit = kMaxListLimit;
    if (limit_text) {
        auto n = parse_u64(*limit_text);
        if (!n || *n < 1 || *n > kMaxListLimit)
            return http::send_error(ex, 400, "invalid_limit",
                                    "limit must be an integer from 1 to 1000");
        limit = *n;
    }
    std::string body;
    JsonWriter w(body);
    w.begin_object().key("keys").begin_array();
    bool complete = true;
    std::string next_cursor;
    if (const store::Namespace* ns = store_.namespace_by_title(ns_title)) {
        ++stats_.of(ns_title).lists;
        auto page = store_.kv_list(*ns, prefix.value_or(""), cursor.value_or(""), limit);
        if (!page) return http::send_error(ex, page.error());
        for (const auto& k : page->keys) {
            w.begin_object().field("name", k.name);
            if (k.expiration) w.field("expiration", k.expiration);
            if (!k.metadata.empty()) w.key("metadata").raw(k.metadata);
            w.end_object();
        }
        complete = page->complete;
        next_cursor = std::move(page->cursor);
    } else if (cursor && !cursor->empty()) {
        return http::send_error(ex, 400, "bad_cursor", "cursor does not belong to this namespace");
    }
    w.end_array().field("list_complete", complete);
    if (!complete) w.field("cursor", next_cursor);
    w.end_object();
    http::send_json(ex, 200, std::move(body));
}

void NativeApi::bulk_put(http::Exchange& ex, const std::string& ns_title) {
    std::vector<BulkProblem> problems;
    auto entries = parse_bulk_put(ex.request().body, clock_.now_s(), rules_, &problems);
    if (!entries) {
        return send_bulk_error(ex, entries.error(), problems);
    }
    auto shared = std::make_shared<std::vector<BulkPutEntry>>(std::move(*entries));
    size_t count = shared->size();
    http::ExchangeRef ref = ex.defer();
    store_.submit(bulk_put_op(ns_title, shared, [ref, count, ns_title, stats = &stats_](Status st) {
        if (st) stats->of(ns_title).writes += count;
        answer_count(ref, st, "written", count);
    }));
}

void NativeApi::bulk_delete(http::Exchange& ex, const std::string& ns_title) {
    std::vector<BulkProblem> problems;
    auto keys = parse_key_list(ex.request().body, &problems);
    if (!keys) {
        return send_bulk_error(ex, keys.error(), problems);
    }
    auto shared = std::make_shared<std::vector<std::string>>(std::move(*keys));
    http::ExchangeRef ref = ex.defer();
    // Counted by keys actually deleted, so a namespace that does not exist gets no counters.
    store_.submit(bulk_delete_op(ns_title, shared,
                                 [ref, ns_title, stats = &stats_](Status st, size_t deleted) {
                                     if (st && deleted) stats->of(ns_title).deletes += deleted;
                                     answer_count(ref, st, "deleted", deleted);
                                 }));
}

void NativeApi::bulk_get(http::Exchange& ex, const std::string& ns_title) {
    auto req = parse_bulk_get(ex.request().body);
    if (!req) return http::send_error(ex, req.error());
    if (store_.namespace_by_title(ns_title)) stats_.of(ns_title).reads += req->keys.size();
    std::string body = "{\"values\":";
    Status st = write_bulk_get_map(body, store_, store_.namespace_by_title(ns_title), *req);
    if (!st) return http::send_error(ex, st.error());
    body.push_back('}');
    http::send_json(ex, 200, std::move(body));
}

} // namespace ec::kv
