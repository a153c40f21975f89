// Cloudflare KV REST routes on keys: values (raw or multipart), metadata, listing, bulk.
#include <memory>

#include "http/write_batch.hpp"
#include "kv/bulk.hpp"
#include "kv/cf_envelope.hpp"
#include "kv/cloudflare_api.hpp"
#include "kv/multipart.hpp"
#include "util/json_writer.hpp"
#include "util/percent.hpp"
#include "util/strings.hpp"

namespace ec::kv {

namespace {

// Pages of a Cloudflare listing are never empty while more keys follow (the client's
// auto-pagination stops at an empty page): scan on past runs of expired keys, a bounded number
// of times (each scan passes over at most store::kScanSkipBudget of them).
constexpr int kMaxScansPerPage = 8;

// The 400 for a bulk body with bad entries: the summary, then one error per entry.
void send_bulk_problems(http::Exchange& ex, const Error& summary,
                        const std::vector<BulkProblem>& problems) {
    std::vector<CfError> errors{{cf_code_for(summary), summary.message}};
    for (const BulkProblem& p : problems)
        errors.push_back(CfError{cf_code_for(p.error), "entry " + std::to_string(p.index) +
                                                           " (key '" + p.key +
                                                           "'): " + p.error.message});
    send_cf_errors(ex, summary.http ? summary.http : 400, errors);
}

void send_bulk_result(http::Exchange& ex, size_t count) {
    std::string r;
    JsonWriter w(r);
    w.begin_object().field("successful_key_count", static_cast<uint64_t>(count));
    w.key("unsuccessful_keys").begin_array().end_array().end_object();
    send_cf_result(ex, r);
}

// Answers a deferred write: the envelope with `result` on success, else the mapped error.
std::function<void(Status)> answer(http::ExchangeRef ref, std::string result) {
    return [ref, result = std::move(result)](Status st) {
        http::Exchange* e = ref.get();
        if (!e) return;
        if (!st) return send_cf_error(*e, st.error());
        send_cf_result(*e, result);
    };
}

} // namespace

void CloudflareApi::get_value(http::Exchange& ex, const store::Namespace& ns,
                              const std::string& key) {
    auto found = store_.kv_get(ns, key, &value_);
    if (!found) return send_cf_error(ex, found.error());
    NamespaceCounters& c = stats_.of(ns.title);
    ++c.reads;
    c.hits += *found;
    if (!*found) return send_cf_error(ex, 404, cf_code::kKeyNotFound, "get: 'key not found'");
    ex.status(200).header("Content-Type", "application/octet-stream");
    if (value_.expiration) ex.header("expiration", static_cast<uint64_t>(value_.expiration));
    if (value_.value.size() < http::WriteBatch::kCopyLimit)
        ex.send(http::Body::copy(value_.value));
    else
        ex.send(http::Body::owned(std::move(value_.value)));
}

void CloudflareApi::put_value(http::Exchange& ex, const store::Namespace& ns, std::string key) {
    const http::Request& req = ex.request();
    std::string_view value = req.body;
    std::string meta;
    if (auto ct = req.header("Content-Type"); ct && is_multipart_form(*ct)) {
        auto boundary = multipart_boundary(*ct);
        if (!boundary) return send_cf_error(ex, boundary.error());
        auto parts = parse_multipart(req.body, *boundary);
        if (!parts) return send_cf_error(ex, parts.error());
        const MultipartPart* value_part = nullptr;
        const MultipartPart* meta_part = nullptr;
        for (const MultipartPart& p : *parts) {
            // Anything else, such as the `metadata[field]` parts a client makes of a metadata
            // object, is ignored, as Cloudflare does.
            const MultipartPart** slot = p.name == "value"      ? &value_part
                                         : p.name == "metadata" ? &meta_part
                                                                : nullptr;
            if (!slot) continue;
            if (*slot)
                return send_cf_error(ex, 400, cf_code::kInvalidBody,
                                     "multipart body has two \"" + p.name + "\" parts");
            *slot = &p;
        }
        if (!value_part)
            return send_cf_error(ex, 400, cf_code::kInvalidBody,
                                 "multipart body has no \"value\" part");
        value = value_part->data;
        if (meta_part) {
            auto m = check_metadata(meta_part->data);
            if (!m) return send_cf_error(ex, m.error());
            meta = std::move(*m);
        }
    }
    if (Status st = check_value_size(value.size(), rules_); !st)
        return send_cf_error(ex, st.error());
    bool bad = false;
    auto ttl = query_param(req.query, "expiration_ttl", true, &bad);
    auto exp = query_param(req.query, "expiration", true, &bad);
    if (bad)
        return send_cf_error(ex, 400, cf_code::kInvalidQuery,
                             "query string is not valid percent-encoding");
    auto expiration = cf_resolve_expiration(ttl, exp, clock_.now_s(), rules_);
    if (!expiration) return send_cf_error(ex, expiration.error());

    // The value is stored straight from the request body (a view of it, multipart or not):
    // the ExchangeRef in `apply` keeps the connection's buffers alive until the op is done.
    http::ExchangeRef ref = ex.defer();
    store::WriteOp op;
    op.apply = [id = ns.id, key = std::move(key), value, meta = std::move(meta), exp = *expiration,
                ref](store::WriteTxn& txn) -> Status {
        auto n = txn.namespace_for_id(id);
        if (!n) return n.error();
        return txn.kv_put(*n, key, value, meta, exp);
    };
    // Only a committed write counts (the stats outlive the store: declared before it).
    op.done = [answer = answer(ref, "{}"), stats = &stats_, title = ns.title](Status st) {
        if (st) ++stats->of(title).writes;
        answer(std::move(st));
    };
    store_.submit(std::move(op));
}

void CloudflareApi::delete_value(http::Exchange& ex, const store::Namespace& ns, std::string key) {
    ++stats_.of(ns.title).deletes;
    store::WriteOp op;
    op.apply = [id = ns.id, key = std::move(key)](store::WriteTxn& txn) -> Status {
        auto n = txn.namespace_for_id(id);
        if (!n) return n.error();
        auto r = txn.kv_delete(*n, key);
        return r ? Status::ok() : Status(r.error());
    };
    op.done = answer(ex.defer(), "{}");
    store_.submit(std::move(op));
}

void CloudflareApi::get_metadata(http::Exchange& ex, const store::Namespace& ns,
                                 const std::string& key) {
    auto found = store_.kv_get(ns, key, &value_, false);
    if (!found) return send_cf_error(ex, found.error());
    if (!*found) return send_cf_error(ex, 404, cf_code::kKeyNotFound, "get: 'key not found'");
    send_cf_result(ex, value_.metadata.empty() ? "null" : value_.metadata);
}

void CloudflareApi::list_keys(http::Exchange& ex, const store::Namespace& ns) {
    const std::string_view q = ex.request().query;
    bool bad = false;
    auto prefix = query_param(q, "prefix", true, &bad);
    auto cursor = query_param(q, "cursor", true, &bad);
    auto limit_s = query_param(q, "limit", true, &bad);
    if (bad)
        return send_cf_error(ex, 400, cf_code::kInvalidQuery,
                             "query string is not valid percent-encoding");
    size_t limit = kMaxListLimit;
    if (limit_s) {
        auto n = parse_u64(*limit_s);
        if (!n || *n < 1 || *n > kMaxListLimit)
            return send_cf_error(ex, 400, cf_code::kInvalidQuery,
                                 "limit must be an integer from 1 to 1000");
        limit = *n;
    }
    std::string result;
    JsonWriter w(result);
    w.begin_array();
    size_t count = 0;
    std::string next = cursor.value_or("");
    bool complete = false;
    for (int scan = 0; scan < kMaxScansPerPage && count == 0 && !complete; ++scan) {
        ++stats_.of(ns.title).lists;
        auto page = store_.kv_list(ns, prefix.value_or(""), next, limit);
        if (!page) return send_cf_error(ex, page.error());
        for (const auto& k : page->keys) {
            w.begin_object().field("name", k.name);
            if (k.expiration) w.field("expiration", k.expiration);
            if (!k.metadata.empty()) w.key("metadata").raw(k.metadata);
            w.end_object();
            ++count;
        }
        complete = page->complete;
        next = complete ? "" : std::move(page->cursor);
    }
    w.end_array();
    std::string info;
    JsonWriter(info)
        .begin_object()
        .field("count", static_cast<uint64_t>(count))
        .field("cursor", next)
        .end_object();
    send_cf_result(ex, result, info);
}

void CloudflareApi::bulk_put(http::Exchange& ex, const store::Namespace& ns) {
    std::vector<BulkProblem> problems;
    auto entries = parse_bulk_put(ex.request().body, clock_.now_s(), rules_, &problems);
    if (!entries) return send_bulk_problems(ex, entries.error(), problems);
    auto shared = std::make_shared<std::vector<BulkPutEntry>>(std::move(*entries));
    http::ExchangeRef ref = ex.defer();
    store::WriteOp op;
    op.apply = [id = ns.id, shared](store::WriteTxn& txn) -> Status {
        auto n = txn.namespace_for_id(id);
        if (!n) return n.error();
        for (const BulkPutEntry& e : *shared)
            if (Status st = txn.kv_put(*n, e.key, e.value, e.metadata, e.expiration); !st)
                return st;
        return Status::ok();
    };
    size_t count = shared->size();
    op.done = [ref, count](Status st) {
        http::Exchange* e = ref.get();
        if (!e) return;
        if (!st) return send_cf_error(*e, st.error());
        send_bulk_result(*e, count);
    };
    store_.submit(std::move(op));
}

void CloudflareApi::bulk_delete(http::Exchange& ex, const store::Namespace& ns) {
    std::vector<BulkProblem> problems;
    auto keys = parse_key_list(ex.request().body, &problems);
    if (!keys) return send_bulk_problems(ex, keys.error(), problems);
    auto shared = std::make_shared<std::vector<std::string>>(std::move(*keys));
    http::ExchangeRef ref = ex.defer();
    store::WriteOp op;
    op.apply = [id = ns.id, shared](store::WriteTxn& txn) -> Status {
        auto n = txn.namespace_for_id(id);
        if (!n) return n.error();
        for (const std::string& k : *shared)
            if (auto r = txn.kv_delete(*n, k); !r) return r.error();
        return Status::ok();
    };
    size_t count = shared->size(); // deleting a missing key succeeds, as on Cloudflare
    op.done = [ref, count](Status st) {
        http::Exchange* e = ref.get();
        if (!e) return;
        if (!st) return send_cf_error(*e, st.error());
        send_bulk_result(*e, count);
    };
    store_.submit(std::move(op));
}

void CloudflareApi::bulk_get(http::Exchange& ex, const store::Namespace& ns) {
    auto req = parse_bulk_get(ex.request().body);
    if (!req) return send_cf_error(ex, req.error());
    std::string result = "{\"values\":";
    if (Status st = write_bulk_get_map(result, store_, &ns, *req); !st)
        return send_cf_error(ex, st.error());
    result.push_back('}');
    send_cf_result(ex, result);
}

} // namespace ec::kv
