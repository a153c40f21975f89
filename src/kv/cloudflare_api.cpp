// Cloudflare KV REST routes: path parsing, dispatch, and the namespace routes.
#include "kv/cloudflare_api.hpp"

#include <algorithm>

#include <simdjson.h>

#include "http/reply_when_done.hpp"
#include "kv/cf_envelope.hpp"
#include "util/json_writer.hpp"
#include "util/percent.hpp"
#include "util/strings.hpp"

namespace ec::kv {

namespace {

// Reads {"title": "..."} from a create or rename body (padded by the connection).
Result<std::string> read_title(std::string_view body) {
    simdjson::dom::parser parser;
    simdjson::dom::element doc;
    if (parser.parse(body.data(), body.size(), false).get(doc))
        return make_error(400, "invalid_json", "request body is not valid JSON");
    std::string_view title;
    if (doc["title"].get_string().get(title))
        return make_error(400, "invalid_json", "request body must be {\"title\": \"...\"}");
    if (Status st = check_title(title); !st) return st.error();
    return std::string(title);
}

} // namespace

WriteDone cf_answer_write(http::Exchange& ex, std::string result) {
    return http::reply_when_done(
        ex, [result = std::move(result)](http::Exchange& e, Status st, const WriteResult&) {
            if (!st) return send_cf_error(e, st.error());
            send_cf_result(e, result);
        });
}

WriteDone cf_answer_namespace(http::Exchange& ex) {
    return http::reply_when_done(ex, [](http::Exchange& e, Status st, const WriteResult& r) {
        if (!st) return send_cf_error(e, st.error());
        send_cf_result(e, cf_namespace_json(r.ns));
    });
}

std::string cf_namespace_json(const store::Namespace& ns) {
    std::string out;
    JsonWriter(out)
        .begin_object()
        .field("id", ns.id)
        .field("title", ns.title)
        .field("supports_url_encoding", true)
        .end_object();
    return out;
}

const store::Namespace* CloudflareApi::find_namespace(http::Exchange& ex, std::string_view id) {
    const store::Namespace* ns = store::is_namespace_id(id) ? ops_.by_id(id) : nullptr;
    if (!ns) send_cf_error(ex, 404, cf_code::kNamespaceNotFound, "namespace not found");
    return ns;
}

std::vector<ApiRoute> CloudflareApi::routes() {
    using http::method_bit;
    const http::Methods get = method_bit(HTTP_GET) | method_bit(HTTP_HEAD);
    const http::Methods put = method_bit(HTTP_PUT), post = method_bit(HTTP_POST),
                        del = method_bit(HTTP_DELETE);
    // Rows under /namespaces/{id}: the namespace must exist (404 / 10013 otherwise).
    using NsHandler = void (CloudflareApi::*)(http::Exchange&, const store::Namespace&);
    auto ns_row = [this](http::Methods m, std::string_view pattern, NsHandler fn) {
        return ApiRoute{m, pattern, BodyLimitKind::body,
                        [this, fn](http::Exchange& ex, const http::RouteArgs& a) {
                            if (const store::Namespace* ns = find_namespace(ex, a[1]))
                                (this->*fn)(ex, *ns);
                        }};
    };
    // Rows on one key: the key is percent-decoded once ('+' stays '+') and checked.
    using KeyHandler =
        void (CloudflareApi::*)(http::Exchange&, const store::Namespace&, std::string);
    auto key_row = [this](http::Methods m, std::string_view pattern, BodyLimitKind limit,
                          KeyHandler fn) {
        return ApiRoute{m, pattern, limit,
                        [this, fn](http::Exchange& ex, const http::RouteArgs& a) {
                            auto key = percent_decode(a[2]);
                            if (!key)
                                return send_cf_error(ex, 400, cf_code::kInvalidKey,
                                                     "key is not valid percent-encoding");
                            const store::Namespace* ns = find_namespace(ex, a[1]);
                            if (!ns) return;
                            if (Status st = check_key(*key); !st)
                                return send_cf_error(ex, st.error());
                            (this->*fn)(ex, *ns, std::move(*key));
                        }};
    };
    auto top_row = [this](http::Methods m, std::string_view pattern,
                          void (CloudflareApi::*fn)(http::Exchange&)) {
        return ApiRoute{
            m, pattern, BodyLimitKind::body,
            [this, fn](http::Exchange& ex, const http::RouteArgs&) { (this->*fn)(ex); }};
    };
    std::vector<ApiRoute> rows;
    rows.push_back(top_row(get, "/client/v4/accounts/{account}/storage/kv/namespaces",
                           &CloudflareApi::list_namespaces));
    rows.push_back(top_row(get, "/client/v4/accounts/{account}/storage/kv/namespaces/",
                           &CloudflareApi::list_namespaces));
    rows.push_back(top_row(post, "/client/v4/accounts/{account}/storage/kv/namespaces",
                           &CloudflareApi::create_namespace));
    rows.push_back(top_row(post, "/client/v4/accounts/{account}/storage/kv/namespaces/",
                           &CloudflareApi::create_namespace));
    rows.push_back(ns_row(get, "/client/v4/accounts/{account}/storage/kv/namespaces/{id}",
                          &CloudflareApi::get_namespace));
    rows.push_back(ns_row(put, "/client/v4/accounts/{account}/storage/kv/namespaces/{id}",
                          &CloudflareApi::rename_namespace));
    rows.push_back(ns_row(del, "/client/v4/accounts/{account}/storage/kv/namespaces/{id}",
                          &CloudflareApi::delete_namespace));
    rows.push_back(ns_row(get, "/client/v4/accounts/{account}/storage/kv/namespaces/{id}/keys",
                          &CloudflareApi::list_keys));
    rows.push_back(ns_row(put, "/client/v4/accounts/{account}/storage/kv/namespaces/{id}/bulk",
                          &CloudflareApi::bulk_put));
    // The older bulk delete, which wrangler still uses: DELETE with a JSON array of keys.
    rows.push_back(ns_row(del, "/client/v4/accounts/{account}/storage/kv/namespaces/{id}/bulk",
                          &CloudflareApi::bulk_delete));
    rows.push_back(ns_row(post | del,
                          "/client/v4/accounts/{account}/storage/kv/namespaces/{id}/bulk/delete",
                          &CloudflareApi::bulk_delete));
    rows.push_back(ns_row(post, "/client/v4/accounts/{account}/storage/kv/namespaces/{id}/bulk/get",
                          &CloudflareApi::bulk_get));
    rows.push_back(key_row(get,
                           "/client/v4/accounts/{account}/storage/kv/namespaces/{id}/values/{key*}",
                           BodyLimitKind::body, &CloudflareApi::get_value));
    rows.push_back(key_row(put,
                           "/client/v4/accounts/{account}/storage/kv/namespaces/{id}/values/{key*}",
                           BodyLimitKind::value_multipart, &CloudflareApi::put_value));
    rows.push_back(key_row(del,
                           "/client/v4/accounts/{account}/storage/kv/namespaces/{id}/values/{key*}",
                           BodyLimitKind::body, &CloudflareApi::delete_value));
    rows.push_back(
        key_row(get, "/client/v4/accounts/{account}/storage/kv/namespaces/{id}/metadata/{key*}",
                BodyLimitKind::body, &CloudflareApi::get_metadata));
    rows.push_back(ApiRoute{http::kAnyMethod, "/client/v4/{rest*}", BodyLimitKind::body,
                            [](http::Exchange& ex, const http::RouteArgs&) {
                                send_cf_error(ex, 404, cf_code::kNoRoute, "No route for that URI");
                            }});
    return rows;
}

void CloudflareApi::list_namespaces(http::Exchange& ex) {
    const std::string_view q = ex.request().query;
    bool bad = false;
    auto page_s = query_param(q, "page", true, &bad);
    auto per_page_s = query_param(q, "per_page", true, &bad);
    auto order = query_param(q, "order", true, &bad);
    auto direction = query_param(q, "direction", true, &bad);
    if (bad)
        return send_cf_error(ex, 400, cf_code::kInvalidQuery,
                             "query string is not valid percent-encoding");
    uint64_t page = 1, per_page = 20;
    if (page_s) {
        auto n = parse_u64(*page_s);
        if (!n || *n < 1)
            return send_cf_error(ex, 400, cf_code::kInvalidQuery,
                                 "page must be an integer of at least 1");
        page = *n;
    }
    if (per_page_s) {
        auto n = parse_u64(*per_page_s);
        if (!n || *n < 1 || *n > 1000)
            return send_cf_error(ex, 400, cf_code::kInvalidQuery,
                                 "per_page must be an integer from 1 to 1000");
        per_page = *n;
    }
    if (order && *order != "id" && *order != "title")
        return send_cf_error(ex, 400, cf_code::kInvalidQuery, "order must be \"id\" or \"title\"");
    if (direction && *direction != "asc" && *direction != "desc")
        return send_cf_error(ex, 400, cf_code::kInvalidQuery,
                             "direction must be \"asc\" or \"desc\"");

    std::vector<const store::Namespace*> all = ops_.namespaces(); // by title
    if (order && *order == "id")
        std::sort(all.begin(), all.end(), [](auto* a, auto* b) { return a->id < b->id; });
    if (direction && *direction == "desc") std::reverse(all.begin(), all.end());

    // Past the last page the array is empty: that is how the client's auto-pagination stops.
    std::string result = "[";
    uint64_t first = (page - 1) * per_page, count = 0;
    for (uint64_t i = first; i < all.size() && count < per_page; ++i, ++count) {
        if (count) result += ',';
        result += cf_namespace_json(*all[i]);
    }
    result += ']';
    uint64_t total = all.size();
    std::string info;
    JsonWriter(info)
        .begin_object()
        .field("page", page)
        .field("per_page", per_page)
        .field("count", count)
        .field("total_count", total)
        .field("total_pages", (total + per_page - 1) / per_page)
        .end_object();
    send_cf_result(ex, result, info);
}

void CloudflareApi::create_namespace(http::Exchange& ex) {
    auto title = read_title(ex.request().body);
    if (!title) return send_cf_error(ex, title.error());
    ops_.submit(Write::create_namespace(std::move(*title)), cf_answer_namespace(ex));
}

void CloudflareApi::get_namespace(http::Exchange& ex, const store::Namespace& ns) {
    send_cf_result(ex, cf_namespace_json(ns));
}

void CloudflareApi::rename_namespace(http::Exchange& ex, const store::Namespace& ns) {
    auto title = read_title(ex.request().body);
    if (!title) return send_cf_error(ex, title.error());
    ops_.submit(Write::rename_namespace(ns.id, std::move(*title)), cf_answer_namespace(ex));
}

void CloudflareApi::delete_namespace(http::Exchange& ex, const store::Namespace& ns) {
    ops_.submit(Write::delete_namespace(ns.id), cf_answer_write(ex, "{}"));
}

} // namespace ec::kv
