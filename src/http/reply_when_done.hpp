// reply_when_done: answer a request when asynchronous work finishes, if its client is still there.
#pragma once

#include <utility>

#include "http/exchange.hpp"

namespace ec::http {

// Defers `ex` and returns a callback for the work's completion: called with the work's results,
// it runs reply(exchange, results...) when the exchange is still waiting for its response (the
// client has not gone away), and does nothing otherwise. The callback holds the ExchangeRef, so
// the request's buffers — its body, which the work may read without a copy — stay readable
// until the callback is destroyed. Call it at most once; copies share the one exchange.
template <class Reply> auto reply_when_done(Exchange& ex, Reply reply) {
    return [ref = ex.defer(), reply = std::move(reply)](auto&&... results) {
        if (Exchange* e = ref.get()) reply(*e, std::forward<decltype(results)>(results)...);
    };
}

} // namespace ec::http
