// workerd KV backend protocol: get / put / delete by path, form-encoded listing, bulk get.
#include "kv/workerd_backend.hpp"

#include "http/write_batch.hpp"
#include "kv/bulk.hpp"
#include "kv/cf_envelope.hpp"
#include "util/json_writer.hpp"
#include "util/percent.hpp"
#include "util/strings.hpp"

namespace ec::kv {

namespace {

// Named apart from http::send_error (JSON errors): in a unity build both are seen.
void send_backend_error(http::Exchange& ex, const Error& e) {
    send_workerd_error(ex, e.http ? e.http : 500, e.message);
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

WorkerdBackend::WorkerdBackend(store::Store& store, loop::Clock& clock, NamespaceStats& stats)
    : store_(store), clock_(clock), stats_(stats) {}

http::BodyLimit WorkerdBackend::body_limit(const http::Request& req) const {
    if (req.method == HTTP_PUT)
        return http::BodyLimit{rules_.max_value_size, "value_too_large",
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
    const store::Namespace* ns = store_.namespace_by_title(ns_title);
    bool found = false;
    if (ns) {
        auto r = store_.kv_get(*ns, key, &value_);
        if (!r) return send_backend_error(ex, r.error());
        found = *r;
        NamespaceCounters& c = stats_.of(ns_title);
        ++c.reads;
        c.hits += found;
    }
    if (!found) return send_workerd_error(ex, 404, "Not Found");
    ex.status(200).header("Content-Type", "application/octet-stream");
    if (!value_.metadata.empty()) ex.header("CF-KV-Metadata", value_.metadata);
    if (value_.expiration) ex.header("Expiration", static_cast<uint64_t>(value_.expiration));
    if (value_.value.size() < http::WriteBatch::kCopyLimit)
        ex.send(http::Body::copy(value_.value));
    else
        ex.send(http::Body::owned(std::move(value_.value)));
}

void WorkerdBackend::put(http::Exchange& ex, const std::string& ns_title, std::string key) {
    const http::Request& req = ex.request();
    if (Status st = check_value_size(req.body.size(), rules_); !st)
        return send_backend_error(ex, st.error());
    std::string meta;
    if (auto m = req.header("CF-KV-Metadata")) {
        auto r = check_metadata(*m);
        if (!r) return send_backend_error(ex, r.error());
        meta = std::move(*r);
    }
    bool bad = false;
    auto ttl = query_param(req.query, "expiration_ttl", true, &bad);
    auto exp = query_param(req.query, "expiration", true, &bad);
    if (bad) return send_workerd_error(ex, 400, "Query string is not valid percent-encoding.");
    auto expiration = cf_resolve_expiration(ttl, exp, clock_.now_s(), rules_);
    if (!expiration) return send_backend_error(ex, expiration.error());

    // Stored straight from the request body; the ExchangeRef keeps it alive until done.
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
        if (!st) return send_backend_error(*e, st.error());
        e->status(200).send();
    };
    store_.submit(std::move(op));
}

void WorkerdBackend::del(http::Exchange& ex, const std::string& ns_title, std::string key) {
    if (!store_.namespace_by_title(ns_title)) return ex.status(200).send();
    http::ExchangeRef ref = ex.defer();
    ++stats_.of(ns_title).deletes;
    store_.kv_delete(ns_title, std::move(key), [ref](Status st) {
        http::Exchange* e = ref.get();
        if (!e) return;
        if (!st) return send_backend_error(*e, st.error());
        e->status(200).send();
    });
}

void WorkerdBackend::list(http::Exchange& ex, const std::string& ns_title) {
    const std::string_view q = ex.request().query;
    bool bad = false;
    // workerd builds this query with kj::Url, which form-encodes it: '+' is a space.
    auto prefix = query_param(q, "prefix", true, &bad);
    auto cursor = query_param(q, "cursor", true, &bad);
    auto limit_s = query_param(q, "key_count_limit", true, &bad);
    if (bad) return send_workerd_error(ex, 400, "Query string is not valid percent-encoding.");
    size_t limit = kMaxListLimit;
    if (limit_s) {
        auto n = parse_u64(*limit_s);
        if (!n || *n < 1 || *n > kMaxListLimit)
            return send_workerd_error(ex, 400,
                                      "Invalid key_count_limit of " + *limit_s +
                                          ". Please specify an integer from 1 to 1000.");
        limit = *n;
    }
    std::string body;
    JsonWriter w(body);
    w.begin_object().key("keys").begin_array();
    bool complete = true;
    std::string next;
    if (const store::Namespace* ns = store_.namespace_by_title(ns_title)) {
        ++stats_.of(ns_title).lists;
        auto page = store_.kv_list(*ns, prefix.value_or(""), cursor.value_or(""), limit);
        if (!page) return send_backend_error(ex, page.error());
        for (const auto& k : page->keys) {
            w.begin_object().field("name", k.name);
            if (k.expiration) w.field("expiration", k.expiration);
            // The metadata goes as a JSON text inside a string; workerd parses it.
            if (!k.metadata.empty()) w.field("metadata", k.metadata);
            w.end_object();
        }
        complete = page->complete;
        next = std::move(page->cursor);
    } else if (cursor && !cursor->empty()) {
        return send_workerd_error(ex, 400, "Invalid cursor.");
    }
    w.end_array().field("list_complete", complete);
    if (!complete) w.field("cursor", next);
    w.end_object();
    ex.status(200).header("Content-Type", "application/json");
    ex.send(http::Body::owned(std::move(body)));
}

void WorkerdBackend::bulk_get(http::Exchange& ex, const std::string& ns_title) {
    auto req = parse_bulk_get(ex.request().body);
    if (!req) return send_backend_error(ex, req.error());
    req->with_expiration = false;
    std::string body;
    if (Status st = write_bulk_get_map(body, store_, store_.namespace_by_title(ns_title), *req);
        !st)
        return send_backend_error(ex, st.error());
    ex.status(200).header("Content-Type", "application/json");
    ex.send(http::Body::owned(std::move(body)));
}

} // namespace ec::kv
