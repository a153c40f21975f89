// Warmer: POST /admin/warm — fetches paths through the daemon's own listener, NDJSON progress.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cache/proxy.hpp"
#include "http/exchange.hpp"
#include "loop/loop.hpp"

namespace ec::admin {

struct WarmRequest {
    std::vector<std::string> paths;
    size_t concurrency = 8;
    std::string host;   // Host header the requests carry (as a local client would send)
    std::string target; // "127.0.0.1:8787": the data-plane listener the requests go to
};

// Each path is requested from the daemon's own first TCP listener, so warming takes exactly
// the path a client takes: routes, coalescing with concurrent misses, storage. Paths whose
// entry is already fresh are skipped without a request. The response streams one NDJSON line
// per path as it completes — {"path","status","cache","bytes"} (cache: the X-Cache answer, or
// "FRESH" when skipped, "ERROR" when the request failed) — then {"done":n,"failed":m}. A path
// fails on a transport error or a status of 400 and above. If the admin client disconnects,
// no new requests are started.
class Warmer {
public:
    Warmer(loop::Loop& loop, cache::Proxy& proxy) : loop_(loop), proxy_(proxy) {}
    ~Warmer();
    void start(http::Exchange& ex, WarmRequest req);
    void shutdown();

private:
    struct Job;
    void pump(const std::shared_ptr<Job>& job);
    void line(Job& job, std::string json);

    loop::Loop& loop_;
    cache::Proxy& proxy_;
    std::vector<std::weak_ptr<Job>> jobs_;
};

} // namespace ec::admin
