// NativeApi: the /kv/{namespace}/{key} routes (Workers KV semantics over HTTP).
#pragma once

#include <string>
#include <string_view>

#include "http/exchange.hpp"
#include "http/handler.hpp"
#include "kv/ns_stats.hpp"
#include "kv/rules.hpp"
#include "loop/clock.hpp"
#include "store/store.hpp"

namespace ec::kv {

// Routes (`rest` is the raw path after "/kv/"):
//   GET|HEAD {ns}/{key}         value; X-KV-Expiration, X-KV-Metadata; 404 when missing
//   PUT      {ns}/{key}         ?expiration_ttl= (ttl=) | ?expiration=; X-KV-Metadata
//   DELETE   {ns}/{key}         200 also when missing
//   GET      {ns} | {ns}/       ?prefix=&limit=&cursor= listing
//   PUT      {ns}               bulk write (JSON array), all or nothing
//   POST     {ns}/_bulk/delete  JSON array of keys
//   POST     {ns}/_bulk/get     {"keys":[...],"withMetadata":bool}
// Writes answer after the store reports them durable.
class NativeApi {
public:
    NativeApi(store::Store& store, loop::Clock& clock, NamespaceStats& stats);

    void set_rules(const Rules& rules) { rules_ = rules; }
    void set_max_body_size(uint64_t n) { max_body_size_ = n; }
    const Rules& rules() const { return rules_; }

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

    store::Store& store_;
    loop::Clock& clock_;
    NamespaceStats& stats_;
    Rules rules_;
    uint64_t max_body_size_ = 100ull << 20;
    store::KvValue value_; // reused across GETs: no allocation once warmed up
};

} // namespace ec::kv
