// head_check: the pure part of reading a request head — where its pieces lie, the Request made
// from them, the target's forms, Host syntax, and the checks that answer 400 / 405 / 417 / 501 /
// 505 before a handler sees the request.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "http/request.hpp"

namespace ec::http {

// Where a request head's pieces lie, as offsets from the head's first byte, gathered from
// llhttp's callbacks (which may split a piece across reads). Offsets, not pointers: when a body
// follows, the head is copied out of the read buffer and the same spans apply to the copy.
struct HeadSpans {
    struct Span {
        uint32_t off = 0;
        uint32_t len = 0;
    };
    struct HeaderSpan {
        Span name, value;
    };
    // What a header piece did; anything but ok refuses the request (400, or 431 for too_many).
    enum class Piece { ok, too_many, bad_name, obs_fold };

    Span method, url;
    std::vector<HeaderSpan> headers; // capacity kept across requests: no per-request allocation

    // Forgets the previous head.
    void clear();
    // A piece of the method or the target: the first, or the next one split across reads.
    void add_method(uint32_t off, uint32_t len) { extend(method, off, len); }
    void add_url(uint32_t off, uint32_t len) { extend(url, off, len); }
    // A piece of a header name: starts a new field (at most Request::kMaxHeaders), or continues
    // the current one, which must then be contiguous.
    Piece add_name(uint32_t off, uint32_t len);
    void name_complete() { part_ = Part::value_pending; }
    // A piece of a header value: the value, or its contiguous continuation. A detached piece
    // is an obsolete line fold (llhttp 8.1 accepts them), which we refuse.
    Piece add_value(uint32_t off, uint32_t len);
    void value_complete() { part_ = Part::none; }
    // One past the last byte any piece uses: the length of the head to keep.
    size_t end() const;

private:
    enum class Part { none, name, value_pending, value } part_ = Part::none;
    static void extend(Span& s, uint32_t off, uint32_t len);
};

// What llhttp decided about the head besides its pieces.
struct HeadFacts {
    llhttp_method_t method = HTTP_GET;
    uint8_t version_minor = 1;
    bool keep_alive = true;
    bool chunked = false;
    std::optional<uint64_t> content_length;
};

// Makes r the request whose head lies at `base` (its first byte) as `spans` say: the method,
// target, path, query and host (split_target), the headers with their values' surrounding
// whitespace trimmed, Host, `facts` and `peer`. Resets the per-request fields (body, route,
// expect_continue). r's views point into `base`; r.headers keeps its capacity.
void fill_request(Request& r, const HeadSpans& spans, const char* base, const HeadFacts& facts,
                  const sockaddr* peer);

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
