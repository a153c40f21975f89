// Request: one parsed HTTP/1.1 request, as views into the connection's buffers.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include <llhttp.h>

struct sockaddr;

namespace ec::http {

inline constexpr size_t kBodyPadding = 64;

// Path pieces a route pattern captured (route_table.hpp): views into Request::path.
inline constexpr size_t kMaxRouteArgs = 3;
using RouteArgs = std::array<std::string_view, kMaxRouteArgs>;

// What the listener's Handler resolved from the head in body_limit(), kept for its handle() so
// the path is matched once (route_table.hpp's RouteTable::resolve). The rows are the handler's own.
struct RouteMatch {
    const void* row = nullptr;      // the row for this method and path; nullptr = none
    const void* path_row = nullptr; // the first row whose pattern matched the path, any method
    uint64_t allowed = 0;           // methods of the rows that matched the path (for a 405)
    RouteArgs args{};               // the row's captures
};

struct Header {
    std::string_view name;
    std::string_view value;
};

// Lifetime: every view is valid until the response to this request is complete (the connection
// neither reads nor compacts its buffers while a request is in flight) or the connection
// closes, whichever comes first. A handler that finishes asynchronously reaches the Request
// through its ExchangeRef, which yields nothing once the connection is closed; anything it
// captures elsewhere must be copied — except `body`, which stays readable for as long as an
// ExchangeRef to the exchange exists (write ops use this to store values without a copy).
class Request {
public:
    static constexpr size_t kMaxHeaders = 100; // more is answered with 431

    llhttp_method_t method = HTTP_GET;
    std::string_view method_name;
    std::string_view target; // as received: origin-form "/p?q" or absolute-form "http://h/p?q"
    std::string_view path;   // raw (not percent-decoded) path, always starting with '/' or '*'
    std::string_view query;  // raw query without '?', empty when none
    std::string_view host;   // Host header, or the authority of an absolute-form target
    uint8_t version_minor = 1;
    bool keep_alive = true;
    bool expect_continue = false;
    std::optional<uint64_t> content_length;
    bool chunked = false;
    // The complete body. At least kBodyPadding readable bytes follow it (simdjson's padding).
    std::string_view body;

    std::vector<Header> headers; // capacity reused across the connection's requests
    // The client's address (the connection's; AF_UNIX for a Unix-socket listener), or nullptr
    // for a request the daemon makes itself (a background revalidation).
    const sockaddr* peer = nullptr;
    // X-Request-Id for this request (the client's or a generated one; see
    // Exchange::assign_request_id), empty when none was assigned. Valid like the other views.
    std::string_view request_id;
    // Set by the Handler in body_limit() (reset for every request).
    RouteMatch route;

    // First header with this name (ASCII case-insensitive), or nullopt.
    std::optional<std::string_view> header(std::string_view name) const;
    bool is_head() const { return method == HTTP_HEAD; }
};

} // namespace ec::http
