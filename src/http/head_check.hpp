// head_check: the pure part of reading a request head — the target's forms, Host syntax, and
// the checks that answer 400 / 405 / 417 / 501 / 505 before a handler sees the request.
#pragma once

#include <string_view>

#include "http/request.hpp"

namespace ec::http {

// Why a head was refused; status 0 = acceptable. code and message are static strings.
struct HeadError {
    int status = 0;
    const char* code = nullptr;
    const char* message = nullptr;
    explicit operator bool() const { return status != 0; }
};

// True for `uri-host [":" port]` (RFC 9112 §3.2, RFC 3986 §3.2.2-3): no userinfo, no path, no
// whitespace, a decimal port. An empty value is a valid Host field; an http URI's authority
// must name a host (RFC 9110 §4.2.1), so `allow_empty` is false for absolute-form targets.
bool valid_authority(std::string_view a, bool allow_empty);

// Sets r.path and r.query from r.target, and r.host from an absolute-form target's authority
// (RFC 9112 §3.2.2: it replaces Host). The views point into r.target.
void split_target(Request& r);

// The checks on a parsed head (r.headers, r.target, r.method, r.version_minor; after
// split_target) that llhttp 8.1 leaves to us: HTTP/1.x only, no CONNECT, the target's form,
// header names as tokens, one valid Host (required in HTTP/1.1), Transfer-Encoding (chunked
// last and alone, never in HTTP/1.0), Expect (100-continue only). Sets r.expect_continue.
HeadError check_request_head(Request& r, int http_major);

} // namespace ec::http
