// CloudflareApi: the Workers KV REST API v4 routes, as the official `cloudflare` client calls them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "http/exchange.hpp"
#include "kv/ops.hpp"
#include "kv/route.hpp"

namespace ec::kv {

// Routes under /client/v4/accounts/{account_id}/storage/kv/namespaces ({account_id} is
// accepted and ignored; routes() is the table):
//   GET    namespaces                  ?page=&per_page=(1-1000, 20)&order=id|title&direction=
//   POST   namespaces                  {"title"}; 400 / 10014 when the title is taken
//   GET    namespaces/{id}             PUT {"title"} renames; DELETE removes it with its keys
//   GET    namespaces/{id}/values/{key}     raw bytes (no envelope), `expiration` header
//   PUT    namespaces/{id}/values/{key}     ?expiration=&expiration_ttl=; raw body or
//                                           multipart/form-data with `value` and `metadata`
//   DELETE namespaces/{id}/values/{key}
//   GET    namespaces/{id}/metadata/{key}
//   GET    namespaces/{id}/keys        ?prefix=&limit=&cursor=; result_info {count, cursor}
//   PUT    namespaces/{id}/bulk        [{key, value, base64?, expiration?, expiration_ttl?,
//                                        metadata?}] (≤ 10,000, all or nothing)
//   POST   namespaces/{id}/bulk/delete [keys] (also DELETE namespaces/{id}/bulk, as wrangler does)
//   POST   namespaces/{id}/bulk/get    {"keys":[≤100],"type"?,"withMetadata"?}
// {id} is 32 lowercase hex; an unknown one is 404 / 10013. Keys are percent-decoded once
// ('+' stays '+'). Any other path under /client/v4/ is 404 / 7000. Every answer but a value's
// bytes is the v4 envelope; errors carry the codes of cf_envelope.hpp. Writes answer once
// durable. The operations are Ops'; this decodes requests and encodes answers.
class CloudflareApi {
public:
    explicit CloudflareApi(Ops& ops) : ops_(ops) {}

    // The routes above as table rows bound to this object (daemon/router.cpp mounts them).
    std::vector<ApiRoute> routes();

private:
    // The namespace a path's {id} names, or nullptr after answering 404 / 10013.
    const store::Namespace* find_namespace(http::Exchange& ex, std::string_view id);
    // Namespaces (cloudflare_api.cpp).
    void list_namespaces(http::Exchange& ex);
    void create_namespace(http::Exchange& ex);
    void get_namespace(http::Exchange& ex, const store::Namespace& ns);
    void rename_namespace(http::Exchange& ex, const store::Namespace& ns);
    void delete_namespace(http::Exchange& ex, const store::Namespace& ns);
    // Keys and values (cloudflare_values.cpp).
    void get_value(http::Exchange& ex, const store::Namespace& ns, std::string key);
    void put_value(http::Exchange& ex, const store::Namespace& ns, std::string key);
    void delete_value(http::Exchange& ex, const store::Namespace& ns, std::string key);
    void get_metadata(http::Exchange& ex, const store::Namespace& ns, std::string key);
    void list_keys(http::Exchange& ex, const store::Namespace& ns);
    void bulk_put(http::Exchange& ex, const store::Namespace& ns);
    void bulk_delete(http::Exchange& ex, const store::Namespace& ns);
    void bulk_get(http::Exchange& ex, const store::Namespace& ns);

    Ops& ops_;
};

// The namespace object Cloudflare returns: {"id","title","supports_url_encoding":true}.
std::string cf_namespace_json(const store::Namespace& ns);

// The completion of a write answered with the envelope: `result` on success, else the error.
WriteDone cf_answer_write(http::Exchange& ex, std::string result);
// The same with the written namespace's object as the result (create, rename).
WriteDone cf_answer_namespace(http::Exchange& ex);

} // namespace ec::kv
