// UpstreamRequest serialisation: the head an origin receives, validated so nothing can be injected.
#pragma once

#include <string>

#include "origin/types.hpp"
#include "util/status.hpp"

namespace ec::origin {

// Builds "METHOD target HTTP/1.1\r\n<headers>\r\n" for `r`: the caller's headers in order except
// Content-Length, Transfer-Encoding and Connection (framing is ours), then Content-Length when
// there is a body or the method expects one, then `Connection: keep-alive` (or `close` when
// `close` is set). Error (code "invalid_request") when the method is not a token, the target is
// not origin-form or "*" or holds a control character or space, a header name is not a token,
// or a header value holds CR, LF or NUL.
Result<std::string> build_request_head(const UpstreamRequest& r, bool close = false);

// True for the methods RFC 9110 §9.2.2 calls idempotent.
bool method_is_idempotent(std::string_view method);

} // namespace ec::origin
