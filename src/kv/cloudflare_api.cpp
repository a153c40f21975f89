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

enum class Sub { none, value, metadata, keys, bulk, bulk_delete, bulk_get };

constexpr std::string_view kNamespaces = "/storage/kv/namespaces";

bool is_namespace_id(std::string_view id) {
    if (id.size() != 32) return false;
    for (char c : id)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

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

struct CloudflareApi::Target {
    std::string id; // .../namespaces/{id}...
    Sub sub = Sub::none;
    std::string key; // percent-decoded once, for values/ and metadata/
};

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

http::BodyLimit CloudflareApi::body_limit(const http::Request& req, std::string_view rest) const {
    // A single value (raw or multipart): the value limit plus room for the form's framing.
    if (req.method == HTTP_PUT && rest.find("/values/") != std::string_view::npos)
        return http::BodyLimit{ops_.rules().max_value_size + kMultipartOverhead, "value_too_large",
                               "value is larger than max_value_size"};
    return http::BodyLimit{max_body_size_, "body_too_large",
                           "request body is larger than max_body_size"};
}

void CloudflareApi::handle(http::Exchange& ex, std::string_view rest) {
    const http::Request& req = ex.request();
    // accounts/{account_id}/storage/kv/namespaces[/{id}[/{sub}]]
    auto no_route = [&] { send_cf_error(ex, 404, cf_code::kNoRoute, "No route for that URI"); };
    if (rest.substr(0, 9) != "accounts/") return no_route();
    std::string_view after = rest.substr(9);
    size_t slash = after.find('/');
    if (slash == 0 || slash == std::string_view::npos) return no_route();
    after = after.substr(slash);
    if (after.substr(0, kNamespaces.size()) != kNamespaces) return no_route();
    after = after.substr(kNamespaces.size());
    if (after.empty() || after == "/") {
        if (req.method == HTTP_GET || req.method == HTTP_HEAD) return list_namespaces(ex);
        if (req.method == HTTP_POST) return create_namespace(ex);
        return send_cf_method_not_allowed(ex, "GET, POST");
    }
    if (after[0] != '/') return no_route();
    after = after.substr(1);
    slash = after.find('/');
    std::string_view id = after.substr(0, slash);
    std::string_view sub = slash == std::string_view::npos ? "" : after.substr(slash + 1);

    Target t;
    t.id = std::string(id);
    if (sub.empty()) {
        t.sub = Sub::none;
    } else if (sub == "keys") {
        t.sub = Sub::keys;
    } else if (sub == "bulk") {
        t.sub = Sub::bulk;
    } else if (sub == "bulk/delete") {
        t.sub = Sub::bulk_delete;
    } else if (sub == "bulk/get") {
        t.sub = Sub::bulk_get;
    } else if (sub.substr(0, 7) == "values/" || sub.substr(0, 9) == "metadata/") {
        bool is_value = sub[0] == 'v';
        t.sub = is_value ? Sub::value : Sub::metadata;
        auto key = percent_decode(sub.substr(is_value ? 7 : 9));
        if (!key)
            return send_cf_error(ex, 400, cf_code::kInvalidKey,
                                 "key is not valid percent-encoding");
        t.key = std::move(*key);
    } else {
        return no_route();
    }

    const store::Namespace* ns = is_namespace_id(t.id) ? ops_.by_id(t.id) : nullptr;
    if (!ns) return send_cf_error(ex, 404, cf_code::kNamespaceNotFound, "namespace not found");

    llhttp_method_t m = req.method;
    bool get = m == HTTP_GET || m == HTTP_HEAD;
    switch (t.sub) {
    case Sub::none:
        if (get) return get_namespace(ex, *ns);
        if (m == HTTP_PUT) return rename_namespace(ex, *ns);
        if (m == HTTP_DELETE) return delete_namespace(ex, *ns);
        return send_cf_method_not_allowed(ex, "GET, PUT, DELETE");
    case Sub::keys:
        if (get) return list_keys(ex, *ns);
        return send_cf_method_not_allowed(ex, "GET");
    case Sub::bulk:
        if (m == HTTP_PUT) return bulk_put(ex, *ns);
        // The older bulk delete, which wrangler still uses: DELETE with a JSON array of keys.
        if (m == HTTP_DELETE) return bulk_delete(ex, *ns);
        return send_cf_method_not_allowed(ex, "PUT, DELETE");
    case Sub::bulk_delete:
        if (m == HTTP_POST || m == HTTP_DELETE) return bulk_delete(ex, *ns);
        return send_cf_method_not_allowed(ex, "POST");
    case Sub::bulk_get:
        if (m == HTTP_POST) return bulk_get(ex, *ns);
        return send_cf_method_not_allowed(ex, "POST");
    case Sub::value:
    case Sub::metadata:
        break;
    }
    if (Status st = check_key(t.key); !st) return send_cf_error(ex, st.error());
    if (t.sub == Sub::metadata) {
        if (get) return get_metadata(ex, *ns, t.key);
        return send_cf_method_not_allowed(ex, "GET");
    }
    if (get) return get_value(ex, *ns, t.key);
    if (m == HTTP_PUT) return put_value(ex, *ns, std::move(t.key));
    if (m == HTTP_DELETE) return delete_value(ex, *ns, std::move(t.key));
    return send_cf_method_not_allowed(ex, "GET, PUT, DELETE");
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
