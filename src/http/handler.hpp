// Handler: what a listener does with each request.
#pragma once

#include <cstdint>

namespace ec::http {

class Exchange;
class Request;

// The largest body a request may carry, and what the 413 says when it is exceeded.
struct BodyLimit {
    uint64_t bytes = 0;
    const char* code = "body_too_large";
    const char* message = "request body is larger than allowed";
};

class Handler {
public:
    virtual ~Handler() = default;

    // Called once the request head is parsed and valid, before any body byte is read. A larger
    // Content-Length, or a chunked body growing past the limit, gets 413 and the connection is
    // closed after the response. The handler may record what it resolved from the head in
    // head.route for handle() (route_table.hpp), so the path is matched once.
    virtual BodyLimit body_limit(Request& head) = 0;

    // Called with the complete request. Respond through `ex` before returning, or call
    // ex.defer() and respond later through the ExchangeRef it returns.
    virtual void handle(Exchange& ex) = 0;
};

} // namespace ec::http
