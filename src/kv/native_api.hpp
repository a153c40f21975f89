// NativeApi: the /kv/{namespace}/{key} routes (Workers KV semantics over HTTP).
#pragma once

#include <string>
#include <string_view>

#include "http/exchange.hpp"
#include "http/handler.hpp"
#include "kv/ops.hpp"

namespace ec::kv {

// Routes (`rest` is the raw path after "/kv/"):
//   GET|HEAD {ns}/{key}         value; X-KV-Expiration, X-KV-Metadata; 404 when missing
//   PUT      {ns}/{key}         ?expiration_ttl= (ttl=) | ?expiration=; X-KV-Metadata
//   DELETE   {ns}/{key}         200 also when missing
//   GET      {ns} | {ns}/       ?prefix=&limit=&cursor= listing
//   PUT      {ns}               bulk write (JSON array), all or nothing
//   POST     {ns}/_bulk/delete  JSON array of keys
//   POST     {ns}/_bulk/get     {"keys":[...],"withMetadata":bool}
// Writes answer after the store reports them durable. The operations are Ops'; this decodes
// requests and encodes answers.
class NativeApi {
public:
    explicit NativeApi(Ops& ops) : ops_(ops) {}

    void set_max_body_size(uint64_t n) { max_body_size_ = n; }

    http::BodyLimit body_limit(const http::Request& req, std::string_view rest) const;
    void handle(http::Exchange& ex, std::string_view rest);

private:
    void get(http::Exchange& ex, const std::string& ns, const std::string& key);
    void put(http::Exchange& ex, const std::string& ns, std::string key);
    void del(http::Exchange& ex, const std::string& ns, std::string key);
    void list(http::Exchange& ex, const std::string& ns);
    void bulk_put(http::Exchange& ex, const std::string& ns);
    void bulk_delete(http::Exchange& ex, const std::string& ns);
    void bulk_get(http::Exchange& ex, const std::string& ns);

    Ops& ops_;
    uint64_t max_body_size_ = 100ull << 20;
};

} // namespace ec::kv
