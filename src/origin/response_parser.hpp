// ResponseParser: llhttp in response mode plus the strictness checks llhttp 8.1 leaves to us.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <llhttp.h>

#include "http/chunk_framing.hpp"
#include "origin/types.hpp"

namespace ec::origin {

// Turns the bytes of one response into events: a final head, body spans, completion or a
// failure. It runs no user code: the caller feeds bytes, then drains the events outside
// llhttp's stack. Rejected (Fail::malformed): a status line llhttp refuses, a version other than
// HTTP/1.0 or 1.1, a status outside 100–599, 101 (we never ask to upgrade), more than 8 interim
// responses, a header name that is not a token, obs-fold, Content-Length with
// Transfer-Encoding, more than one Content-Length or Transfer-Encoding line, a
// Transfer-Encoding that is not a list of tokens or has `chunked` anywhere but last, a
// malformed chunk. A Transfer-Encoding whose final coding is not `chunked` means a body read
// until the connection closes (RFC 9112 §6.3); codings other than `chunked` and `identity`
// are left on the body and named in ResponseHead::transfer_coding. Interim 1xx heads are
// kept, in order, for the caller to relay (interim()). Responses to HEAD and 1xx/204/304
// responses have no body whatever their headers say.
class ResponseParser {
public:
    enum class Fail {
        none,
        malformed,    // → bad_response
        too_large,    // → header_too_large
        closed_early, // EOF before the final head was complete → reset
        truncated,    // EOF inside the body → truncated
    };
    struct Span {
        const char* data;
        size_t len;
    };

    explicit ResponseParser(size_t max_head_bytes);
    ResponseParser(const ResponseParser&) = delete;
    ResponseParser& operator=(const ResponseParser&) = delete;

    // Prepares for the response to one request; `head_request` = the request was HEAD.
    void reset(bool head_request);

    // Parses `data`. Body spans point into `data` and stay valid as long as it does. Returns the
    // bytes consumed: all of them unless the response completed inside `data` (the rest is
    // whatever the origin sent after it) or parsing failed.
    size_t feed(const char* data, size_t len);
    // The origin closed the connection: completes a close-delimited body, else sets failed().
    void finish();

    bool bytes_seen() const { return bytes_seen_; }
    bool head_done() const { return head_done_; }
    // The final head, once: head_done() and not yet taken.
    bool head_ready() const { return head_done_ && !head_taken_; }
    ResponseHead take_head();
    // Interim (1xx) heads parsed and not yet taken, in arrival order; all of them precede the
    // final head. The caller clears what it relayed.
    std::vector<InterimHead>& interim() { return interim_heads_; }
    // Body spans parsed and not yet consumed; the caller erases what it delivered.
    std::vector<Span>& body() { return body_; }
    bool complete() const { return complete_; }
    Fail failed() const { return fail_; }
    const std::string& message() const { return message_; }
    // Valid once complete(): the connection may carry another request.
    bool keep_alive() const { return keep_alive_; }
    // The final head announced a body (Content-Length > 0 or chunked) that was not read
    // because the request was HEAD or the status has none.
    bool skipped_declared_body() const { return skipped_body_; }

private:
    static const llhttp_settings_t& settings();
    int on_message_begin();
    int on_status(const char* at, size_t len);
    int on_header_field(const char* at, size_t len);
    int on_header_value(const char* at, size_t len);
    int on_header_value_complete();
    int on_headers_complete();
    int on_body(const char* at, size_t len);
    int on_chunk_header();
    int on_chunk_complete();
    int on_message_complete();
    bool read_transfer_codings(std::string_view value);
    int fail(Fail f, const char* message);
    bool count_head(size_t n);
    uint64_t pos(const char* at) const { return base_pos_ + static_cast<uint64_t>(at - cur_); }

    llhttp_t parser_;
    size_t max_head_;
    bool head_request_ = false;

    // Stream position of cur_[0]: pieces of one header value must be contiguous in the stream
    // (llhttp 8.1 reports an obs-fold continuation as a detached piece).
    uint64_t base_pos_ = 0;
    const char* cur_ = nullptr;

    bool bytes_seen_ = false;
    bool in_trailers_ = false;
    bool head_done_ = false;
    bool head_taken_ = false;
    bool complete_ = false;
    bool keep_alive_ = false;
    bool skipped_body_ = false;
    int interim_ = 0;
    size_t head_bytes_ = 0;
    enum class Part { none, field, value } part_ = Part::none;
    uint64_t value_end_ = 0; // stream position just past the current value's last piece
    bool value_started_ = false;
    // Between a field name and its value only ":" and OWS may appear. llhttp 8.1 reports an
    // empty value followed by an obs-fold line as a value starting on the next line, so the gap
    // is checked for a line break (across feeds: gap_lf_ carries what earlier buffers held).
    uint64_t field_end_ = 0;
    bool awaiting_value_ = false;
    bool gap_lf_ = false;
    bool gap_has_lf(uint64_t until) const;

    http::ChunkFraming framing_; // the CRLFs llhttp skips unread
    ResponseHead head_;
    std::vector<InterimHead> interim_heads_;
    std::vector<Span> body_;
    Fail fail_ = Fail::none;
    std::string message_;
};

} // namespace ec::origin
