// Access log formats: the named fields a line can hold, and a format string compiled to them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ec::config {

// One value an access log line can show. Names (access_field_name) are the `$name`s of a
// format template and the keys of the JSON form.
enum class LogField : uint8_t {
    time,        // 2026-11-28T06:03:17.123Z (UTC, milliseconds)
    peer,        // 127.0.0.1:51234, [::1]:51234 or "unix"
    client,      // the peer's address without the port ("unix" on a Unix socket)
    method,      // GET
    target,      // the request target as received, escaped
    protocol,    // HTTP/1.1
    request,     // GET /path?q HTTP/1.1
    status,      // 200
    bytes,       // response body bytes sent
    duration_ms, // from the request's arrival to the response's last byte queued
    cache,       // HIT, MISS, STALE, REVALIDATED, PASS, BYPASS, ERROR or "-"
    host,        // the Host header ("-" when absent)
    user_agent,  // the User-Agent header
    referer,     // the Referer header
    request_id,  // X-Request-Id (the client's or generated; request_id option)
    upstream_ms, // from arrival to the origin's response head; "-" when no origin was asked
    route,       // the proxy route's name ("-" for KV, health and admin requests)
    origin,      // the route's origin
};
inline constexpr size_t kLogFields = static_cast<size_t>(LogField::origin) + 1;

const char* access_field_name(LogField f);

// A compiled format: JSON (every field, one object per line) or literal text and fields.
struct AccessFormat {
    struct Segment {
        std::string literal; // written before the field
        std::optional<LogField> field;
    };
    bool json = false;
    std::vector<Segment> segments;
};

// The template "default" stands for.
inline constexpr std::string_view kDefaultAccessFormat =
    "$time $peer \"$request\" $status $bytes $duration_ms $cache";

// Compiles "default", "json", or a template of text and `$name` / `${name}` fields ("$$" is a
// dollar sign). Returns nullopt with *error naming the unknown field (and the known ones).
std::optional<AccessFormat> compile_access_format(std::string_view spec, std::string* error);

} // namespace ec::config
