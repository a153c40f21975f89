// Connection's llhttp callbacks: the request head gathered and checked, then the body.
#include "http/connection.hpp"

#include <cstring>
#include <utility>

#include "http/handler.hpp"
#include "http/head_check.hpp"
#include "http/llhttp_callbacks.hpp"
#include "http/server.hpp"

namespace ec::http {

namespace {
constexpr size_t kMaxChunkExtension = 1024;
constexpr size_t kKeptBodyCapacity = 64 * 1024;
constexpr const char* kBodiesOverBudget =
    "request bodies held by the server exceed max_buffered_bodies; retry later";

} // namespace

const llhttp_settings_t& Connection::settings() {
    static const llhttp_settings_t s = [] {
        llhttp_settings_t st;
        llhttp_settings_init(&st);
        st.on_message_begin = llhttp_event<&Connection::on_message_begin>;
        st.on_method = llhttp_data<&Connection::on_method>;
        st.on_url = llhttp_data<&Connection::on_url>;
        st.on_header_field = llhttp_data<&Connection::on_header_field>;
        st.on_header_field_complete = llhttp_event<&Connection::on_header_field_complete>;
        st.on_header_value = llhttp_data<&Connection::on_header_value>;
        st.on_header_value_complete = llhttp_event<&Connection::on_header_value_complete>;
        st.on_headers_complete = llhttp_event<&Connection::on_headers_complete>;
        st.on_body = llhttp_data<&Connection::on_body>;
        st.on_message_complete = llhttp_event<&Connection::on_message_complete>;
        st.on_chunk_extension_name = llhttp_data<&Connection::on_chunk_extension>;
        st.on_chunk_extension_value = llhttp_data<&Connection::on_chunk_extension>;
        st.on_chunk_header = llhttp_event<&Connection::on_chunk_header>;
        st.on_chunk_complete = llhttp_event<&Connection::on_chunk_complete>;
        return st;
    }();
    return s;
}

int Connection::fail(int status, const char* code, const char* message) {
    if (!err_status_) {
        err_status_ = status;
        err_code_ = code;
        err_message_ = message;
    }
    return -1;
}

int Connection::on_message_begin() {
    msg_started_ = false;
    in_trailers_ = false;
    head_.clear();
    release_body();
    // A large body's capacity is not kept for the next request on this connection.
    if (body_.capacity() > kKeptBodyCapacity)
        std::string().swap(body_);
    else
        body_.clear();
    head_copy_.clear();
    body_received_ = 0;
    trailer_bytes_ = 0;
    chunk_ext_bytes_ = 0;
    framing_.reset();
    upgrade_ = false;
    head_started_ms_ = server_.loop().clock().mono_ms();
    return 0;
}

// Every head byte range passes through here: records where the message starts and enforces
// the header-section limit (431) before the buffer can grow without bound.
bool Connection::head_bytes_ok(const char* at, size_t len) {
    size_t off = static_cast<size_t>(at - buf_);
    if (!msg_started_) {
        msg_started_ = true;
        msg_start_ = off;
        set_state(State::head);
    }
    return off + len - msg_start_ <= server_.limits().max_header_size;
}

int Connection::on_method(const char* at, size_t len) {
    if (!head_bytes_ok(at, len))
        return fail(431, "header_too_large", "request header section is too large");
    head_.add_method(head_offset(at), static_cast<uint32_t>(len));
    return 0;
}

int Connection::on_url(const char* at, size_t len) {
    if (!head_bytes_ok(at, len)) return fail(414, "uri_too_long", "request target is too long");
    head_.add_url(head_offset(at), static_cast<uint32_t>(len));
    return 0;
}

// Trailers are counted against max_header_size, not kept.
int Connection::count_trailer(size_t len) {
    trailer_bytes_ += len;
    if (trailer_bytes_ > server_.limits().max_header_size)
        return fail(431, "trailer_too_large", "trailer section is too large");
    return 0;
}

int Connection::on_header_field(const char* at, size_t len) {
    if (in_trailers_) {
        framing_.trailer_field();
        return count_trailer(len);
    }
    if (!head_bytes_ok(at, len))
        return fail(431, "header_too_large", "request header section is too large");
    switch (head_.add_name(head_offset(at), static_cast<uint32_t>(len))) {
    case HeadSpans::Piece::ok:
        return 0;
    case HeadSpans::Piece::too_many:
        return fail(431, "too_many_headers", "too many header fields");
    default:
        return fail(400, "bad_header", "malformed header field name");
    }
}

int Connection::on_header_field_complete() {
    if (!in_trailers_) head_.name_complete();
    return 0;
}

int Connection::on_header_value(const char* at, size_t len) {
    if (in_trailers_) {
        if (len && !framing_.trailer_value(at, len))
            return fail(400, "obs_fold", framing_.problem());
        return count_trailer(len);
    }
    if (!head_bytes_ok(at, len))
        return fail(431, "header_too_large", "request header section is too large");
    if (head_.add_value(head_offset(at), static_cast<uint32_t>(len)) != HeadSpans::Piece::ok)
        return fail(400, "obs_fold", "obsolete line folding in a header value is not allowed");
    return 0;
}

int Connection::on_header_value_complete() {
    if (!in_trailers_) head_.value_complete();
    return 0;
}

void Connection::fill_request(const char* base) {
    HeadFacts facts;
    facts.method = static_cast<llhttp_method_t>(llhttp_get_method(&parser_));
    facts.version_minor = llhttp_get_http_minor(&parser_);
    facts.keep_alive = llhttp_should_keep_alive(&parser_) != 0;
    facts.chunked = (parser_.flags & F_CHUNKED) != 0;
    if (parser_.flags & F_CONTENT_LENGTH) facts.content_length = parser_.content_length;
    http::fill_request(ex_.mutable_request(), head_, base, facts,
                       reinterpret_cast<const sockaddr*>(&peer_));
}

int Connection::on_headers_complete() {
    set_state(State::body); // until the message completes and is dispatched
    in_trailers_ = true;    // header callbacks from here on are chunked trailers
    const char* base = buf_ + msg_start_;
    bool has_body = (parser_.flags & F_CHUNKED) ||
                    ((parser_.flags & F_CONTENT_LENGTH) && parser_.content_length > 0);
    if (has_body) {
        // The read buffer will move on while the body streams in: the request's views point
        // into a copy of the head.
        head_copy_.assign(base, head_.end());
        base = head_copy_.data();
    }
    fill_request(base);
    if (HeadError e = check_request_head(ex_.mutable_request(), llhttp_get_http_major(&parser_)))
        return fail(e.status, e.code, e.message);
    const Request& r = ex_.request();
    BodyLimit lim = listener_->handler->body_limit(ex_.mutable_request());
    body_limit_ = lim.bytes;
    body_limit_code_ = lim.code;
    body_limit_message_ = lim.message;
    if (r.content_length && *r.content_length > body_limit_)
        return fail(413, body_limit_code_, body_limit_message_);
    if (has_body && r.expect_continue) {
        out().append("HTTP/1.1 100 Continue\r\n\r\n");
        flush();
    }
    if (has_body) body_.reserve((r.content_length ? *r.content_length : 0) + kBodyPadding);
    return 0;
}

int Connection::on_body(const char* at, size_t len) {
    if ((parser_.flags & F_CHUNKED) && !framing_.body(parser_, at, len))
        return fail(400, "bad_chunked_framing", framing_.problem());
    body_received_ += len;
    if (body_received_ > body_limit_) return fail(413, body_limit_code_, body_limit_message_);
    body_progress_ms_ = server_.loop().clock().mono_ms();
    body_held_ += len;
    // Refused: the error path's send_error_and_close() releases what this body held.
    if (!server_.body_buffered(len, this)) return fail(503, "overloaded", kBodiesOverBudget);
    body_.append(at, len);
    return 0;
}

void Connection::release_body() {
    server_.body_released(body_held_);
    body_held_ = 0;
}

void Connection::refuse_upload() {
    send_error_and_close(503, "overloaded", kBodiesOverBudget); // releases the body
}

int Connection::on_chunk_header() {
    framing_.chunk_header();
    return 0;
}

int Connection::on_chunk_extension(const char*, size_t len) {
    chunk_ext_bytes_ += len;
    if (chunk_ext_bytes_ > kMaxChunkExtension)
        return fail(400, "chunk_extension_too_long", "chunk extensions are too long");
    return 0;
}

int Connection::on_chunk_complete() {
    chunk_ext_bytes_ = 0;
    if (!framing_.chunk_complete()) return fail(400, "bad_chunked_framing", framing_.problem());
    return 0;
}

int Connection::on_message_complete() {
    // JSON bodies are parsed in place by simdjson, which reads up to 64 bytes past the end.
    if (body_.capacity() < body_.size() + kBodyPadding) body_.reserve(body_.size() + kBodyPadding);
    // The message is whole: nothing of it is pending any more (timeouts and drain look at this).
    body_received_ = 0;
    if (parser_.upgrade) upgrade_ = true; // answered without switching protocols, then closed
    message_ready_ = true;
    return HPE_PAUSED; // dispatch outside llhttp's stack, one request at a time
}

} // namespace ec::http
