// What the KV front ends share: ApiRoute (a route-table row with its body limit), a value's send.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

#include "http/exchange.hpp"
#include "http/handler.hpp"
#include "http/route_table.hpp"
#include "kv/rules.hpp"
#include "store/store.hpp"

namespace ec::kv {

// How large a request body a route takes.
enum class BodyLimitKind {
    body,            // max_body_size (bulk bodies, namespace titles)
    value,           // max_value_size (a single value as the body)
    value_multipart, // max_value_size plus room for multipart framing around the value
};

// Room for multipart framing around a value of max_value_size.
inline constexpr uint64_t kMultipartOverhead = 64 * 1024;

// The limit for `kind`, with the 413's code and message.
http::BodyLimit body_limit(BodyLimitKind kind, const Rules& rules, uint64_t max_body_size);

// A row of a front end's table. `pattern` is absolute (the native routes start with "/kv/"),
// in route_table.hpp's syntax, and static; `handle` gets the pattern's captures undecoded.
struct ApiRoute {
    http::Methods methods = 0;
    std::string_view pattern;
    BodyLimitKind limit = BodyLimitKind::body;
    std::function<void(http::Exchange&, const http::RouteArgs&)> handle;
};

// Sends a GET's value as the body after the caller's head: a small value is copied next to the
// head (one iovec), a large one is moved out of `v` and handed over whole.
void send_value(http::Exchange& ex, store::KvValue& v);

} // namespace ec::kv
