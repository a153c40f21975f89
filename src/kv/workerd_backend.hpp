// WorkerdBackend: the HTTP protocol workerd's kvNamespace binding speaks to its KV service.
#pragma once

#include <string>
#include <string_view>

#include <vector>

#include "http/exchange.hpp"
#include "kv/ops.hpp"
#include "kv/route.hpp"

namespace ec::kv {

// Serves one namespace (by title, created on first write) on a `kv_backend` listener, as
// workerd's src/workerd/api/kv.c++ calls it (Host: fake-host):
//   GET    /<key>?urlencoded=true[&cache_ttl=N]  value; CF-KV-Metadata when set; 404 = null
//   PUT    /<key>?urlencoded=true[&expiration=][&expiration_ttl=]  CF-KV-Metadata: <json>
//   DELETE /<key>?urlencoded=true                200 also when missing
//   GET    /?key_count_limit=&prefix=&cursor=    {"keys":[{"name","expiration"?,
//          "metadata"?: <JSON text as a string>}],"list_complete","cursor"?}
//   POST   /bulk/get  {"keys","type"?,"withMetadata"?,"cacheTtl"?} → the map itself:
//          {key: value | {value, metadata} | null}
// The key is the path percent-decoded once ('+' stays '+': GET and PUT send sub-delims raw,
// DELETE sends encodeURIComponent). The list query is form-encoded ('+' is a space there).
// cache_ttl / cacheTtl are accepted and ignored. workerd checks keys but not TTLs or metadata,
// so the rules are enforced here; an error's message is the reason phrase, which workerd puts
// in the JavaScript error ("KV PUT failed: 400 Invalid expiration_ttl of 5. ..."). The
// operations are Ops'; this decodes requests and encodes answers.
class WorkerdBackend {
public:
    explicit WorkerdBackend(Ops& ops) : ops_(ops) {}

    // The protocol's routes for namespace `ns_title`, as table rows bound to this object (a
    // kv_backend listener's whole table; anything else it answers 405).
    std::vector<ApiRoute> routes(std::string ns_title);

private:
    void get(http::Exchange& ex, const std::string& ns_title, std::string key);
    void put(http::Exchange& ex, const std::string& ns_title, std::string key);
    void del(http::Exchange& ex, const std::string& ns_title, std::string key);
    void list(http::Exchange& ex, const std::string& ns_title);
    void bulk_get(http::Exchange& ex, const std::string& ns_title);

    Ops& ops_;
};

// Sends `status` with `message` as both the reason phrase (control bytes replaced, at most 200
// bytes) and a text/plain body.
void send_workerd_error(http::Exchange& ex, int status, std::string_view message);

} // namespace ec::kv
