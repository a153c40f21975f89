// NativeApi: the /kv/{namespace}/{key} routes (Workers KV semantics over HTTP).
#pragma once

#include <string>
#include <vector>

#include "http/exchange.hpp"
#include "kv/ops.hpp"
#include "kv/route.hpp"

namespace ec::kv {

// Routes (under /kv/; routes() is the table):
//   GET|HEAD {ns}/{key}         value; X-KV-Expiration, X-KV-Metadata; 404 when missing
//   PUT      {ns}/{key}         ?expiration_ttl= (ttl=) | ?expiration=; X-KV-Metadata
//   DELETE   {ns}/{key}         200 also when missing
//   GET      {ns} | {ns}/       ?prefix=&limit=&cursor= listing
//   PUT      {ns}               bulk write (JSON array), all or nothing
//   POST     {ns}/_bulk/delete  JSON array of keys
//   POST     {ns}/_bulk/get     {"keys":[...],"withMetadata":bool}
// {ns} and {key} are percent-decoded once ({key} is the rest of the path, so /kv/ns/a/b and
// /kv/ns/a%2Fb are the same key) and checked before the operation. Any other path under /kv/
// is 404 "no namespace in the path". Writes answer after the store reports them durable. The
// operations are Ops'; this decodes requests and encodes answers.
class NativeApi {
public:
    explicit NativeApi(Ops& ops) : ops_(ops) {}

    // The routes above as table rows bound to this object (daemon/router.cpp mounts them).
    std::vector<ApiRoute> routes();

private:
    void get(http::Exchange& ex, const std::string& ns, std::string key);
    void put(http::Exchange& ex, const std::string& ns, std::string key);
    void del(http::Exchange& ex, const std::string& ns, std::string key);
    void list(http::Exchange& ex, const std::string& ns);
    void bulk_put(http::Exchange& ex, const std::string& ns);
    void bulk_delete(http::Exchange& ex, const std::string& ns);
    void bulk_get(http::Exchange& ex, const std::string& ns);

    Ops& ops_;
};

} // namespace ec::kv
