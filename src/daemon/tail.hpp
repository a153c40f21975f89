// Tail: live access records streamed to admin clients (edgecachectl tail / top), bounded per
// client so a slow reader loses records instead of slowing the loop.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/access_format.hpp"
#include "daemon/access_log.hpp"
#include "http/exchange.hpp"
#include "loop/handle.hpp"
#include "loop/loop.hpp"
#include "util/status.hpp"

namespace ec::daemon {

// One condition on a record: KEY OP VALUE. Keys: status (numeric; = != >= <= > <), cache,
// method, host, route, origin (= or !=, case-insensitive), path (= means "starts with",
// != "does not start with"). A filter that is just "/prefix" means path=/prefix.
struct TailFilter {
    enum class Key { status, cache, method, host, route, origin, path };
    enum class Op { eq, ne, ge, le, gt, lt };
    Key key = Key::status;
    Op op = Op::eq;
    std::string text;
    int64_t number = 0;

    // Parses one filter; error (http 400, code "bad_filter") naming what is wrong.
    static Result<TailFilter> parse(std::string_view s);
    bool matches(http::Exchange& ex) const;
};

// Every subscriber is a streaming admin response of NDJSON lines: first
// {"subscribed":true}, then one access record in the JSON form per completed data-plane
// request that passes all its filters, and {"dropped":N} (the running total) before the next
// record after any were lost, and {"tick":<unix ms>} every second so a client can refresh or
// stop on time while there is no traffic. A record is lost for a subscriber whose connection
// already holds more unread output than the server's write high-water mark.
class Tail {
public:
    Tail(loop::Loop& loop, const AccessLog& renderer);

    // GET /admin/tail?filter=F&filter=G: answers 400 for a bad filter, else starts the stream.
    void subscribe(http::Exchange& ex);
    // Offers a completed exchange to every subscriber. Requests on admin listeners are not
    // traffic and are skipped. Costs one branch when nobody subscribes.
    void publish(http::Exchange& ex) {
        if (!subs_.empty()) publish_slow(ex);
    }
    // Ends every stream (daemon shutdown), so draining does not wait for tail clients.
    void shutdown();

    size_t subscribers() const { return subs_.size(); }

private:
    struct Subscriber {
        http::ExchangeRef ref;
        std::vector<TailFilter> filters;
        uint64_t dropped = 0;
        uint64_t dropped_reported = 0;
    };
    void publish_slow(http::Exchange& ex);
    void tick();
    // Drops subscribers whose connection is gone.
    void prune();

    loop::Loop& loop_;
    const AccessLog& renderer_;
    loop::Timer ticker_;
    config::AccessFormat json_;
    std::vector<Subscriber> subs_;
};

} // namespace ec::daemon
