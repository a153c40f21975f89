// Cloudflare KV REST routes on keys: values (raw or multipart), metadata, listing, bulk.
#include "http/reply_when_done.hpp"
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

} // namespace

void CloudflareApi::get_value(http::Exchange& ex, const store::Namespace& ns, std::string key) {
    auto found = ops_.get(&ns, key);
    if (!found) return send_cf_error(ex, found.error());
    store::KvValue* v = *found;
    if (!v) return send_cf_error(ex, 404, cf_code::kKeyNotFound, "get: 'key not found'");
    ex.status(200).header("Content-Type", "application/octet-stream");
    if (v->expiration) ex.header("expiration", static_cast<uint64_t>(v->expiration));
    send_value(ex, *v);
}

void CloudflareApi::put_value(http::Exchange& ex, const store::Namespace& ns, std::string key) {
    const http::Request& req = ex.request();
    std::string_view value = req.body;
    std::optional<std::string_view> meta;
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
        if (meta_part) meta = meta_part->data;
    }
    // The value is stored straight from the request body (a view of it, multipart or not).
    auto entry =
        ops_.make_entry(PutRequest{std::move(key), value, meta, req.query}, Dialect::cloudflare);
    if (!entry) return send_cf_error(ex, entry.error());
    ops_.submit(Write::put(NamespaceRef::id(ns.id), std::move(*entry)), cf_answer_write(ex, "{}"));
}

void CloudflareApi::delete_value(http::Exchange& ex, const store::Namespace& ns, std::string key) {
    std::vector<std::string> keys;
    keys.push_back(std::move(key));
    ops_.submit(Write::del(NamespaceRef::id(ns.id), std::move(keys)), cf_answer_write(ex, "{}"));
}

void CloudflareApi::get_metadata(http::Exchange& ex, const store::Namespace& ns, std::string key) {
    auto found = ops_.get(&ns, key, false);
    if (!found) return send_cf_error(ex, found.error());
    store::KvValue* v = *found;
    if (!v) return send_cf_error(ex, 404, cf_code::kKeyNotFound, "get: 'key not found'");
    send_cf_result(ex, v->metadata.empty() ? "null" : v->metadata);
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
    auto limit = Ops::list_limit(limit_s);
    if (!limit) return send_cf_error(ex, limit.error());
    std::string result;
    JsonWriter w(result);
    w.begin_array();
    size_t count = 0;
    std::string next = cursor.value_or("");
    bool complete = false;
    for (int scan = 0; scan < kMaxScansPerPage && count == 0 && !complete; ++scan) {
        auto page = ops_.list(&ns, prefix.value_or(""), next, *limit);
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

namespace {

// Bulk writes answer {"successful_key_count": <entries or keys>, "unsuccessful_keys": []}.
WriteDone cf_answer_bulk(http::Exchange& ex) {
    return http::reply_when_done(ex, [](http::Exchange& e, Status st, const WriteResult& r) {
        if (!st) return send_cf_error(e, st.error());
        send_bulk_result(e, r.count); // deleting a missing key succeeds, as on Cloudflare
    });
}

} // namespace

void CloudflareApi::bulk_put(http::Exchange& ex, const store::Namespace& ns) {
    std::vector<BulkProblem> problems;
    auto entries = parse_bulk_put(ex.request().body, ops_.now_s(), ops_.rules(), &problems);
    if (!entries) return send_bulk_problems(ex, entries.error(), problems);
    ops_.submit(Write::put(NamespaceRef::id(ns.id), std::move(*entries)), cf_answer_bulk(ex));
}

void CloudflareApi::bulk_delete(http::Exchange& ex, const store::Namespace& ns) {
    std::vector<BulkProblem> problems;
    auto keys = parse_key_list(ex.request().body, &problems);
    if (!keys) return send_bulk_problems(ex, keys.error(), problems);
    ops_.submit(Write::del(NamespaceRef::id(ns.id), std::move(*keys)), cf_answer_bulk(ex));
}

void CloudflareApi::bulk_get(http::Exchange& ex, const store::Namespace& ns) {
    auto req = parse_bulk_get(ex.request().body);
    if (!req) return send_cf_error(ex, req.error());
    std::string result = "{\"values\":";
    if (Status st = ops_.bulk_get(result, &ns, *req); !st) return send_cf_error(ex, st.error());
    result.push_back('}');
    send_cf_result(ex, result);
}

} // namespace ec::kv
