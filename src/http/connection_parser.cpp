// Connection's llhttp callbacks: the request head gathered and checked, then the body.
#include "http/connection.hpp"

#include <cstring>
#include <utility>

#include "http/handler.hpp"
#include "http/server.hpp"
#include "http/status_text.hpp"
#include "util/json_writer.hpp"
#include "util/log.hpp"
#include "util/strings.hpp"

namespace ec::http {

namespace {
inline Connection* self(llhttp_t* p) {
    return static_cast<Connection*>(p->data);
}
constexpr size_t kMaxChunkExtension = 1024;
constexpr size_t kKeptBodyCapacity = 64 * 1024;
constexpr const char* kBodiesOverBudget =
    "request bodies held by the server exceed max_buffered_bodies; retry later";

// RFC 3986 unreserved and sub-delims, plus '%' (pct-encoded): what a reg-name may hold.
bool is_host_char(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::strchr("-._~%!$&'()*+,;=", c) != nullptr;
}

// True for `uri-host [":" port]` (RFC 9112 §3.2, RFC 3986 §3.2.2-3): no userinfo, no path, no
// whitespace, a decimal port. An empty value is a valid Host field; an http URI's authority
// must name a host (RFC 9110 §4.2.1), so `allow_empty` is false for absolute-form targets.
bool valid_authority(std::string_view a, bool allow_empty) {
    if (a.empty()) return allow_empty;
    std::string_view port;
    if (a[0] == '[') { // IP-literal
        size_t close = a.find(']');
        if (close == std::string_view::npos || close == 1) return false;
        for (char c : a.substr(1, close - 1))
            if (c != ':' && !is_host_char(static_cast<unsigned char>(c))) return false;
        std::string_view rest = a.substr(close + 1);
        if (!rest.empty() && rest[0] != ':') return false;
        if (!rest.empty()) port = rest.substr(1);
    } else {
        size_t colon = a.find(':');
        std::string_view host = a.substr(0, colon);
        if (host.empty()) return false;
        for (char c : host)
            if (!is_host_char(static_cast<unsigned char>(c))) return false;
        if (colon != std::string_view::npos) port = a.substr(colon + 1);
    }
    for (char c : port)
        if (c < '0' || c > '9') return false;
    return true;
}
} // namespace

const llhttp_settings_t& Connection::settings() {
    static const llhttp_settings_t s = [] {
        llhttp_settings_t st;
        llhttp_settings_init(&st);
        st.on_message_begin = [](llhttp_t* p) noexcept { return self(p)->on_message_begin(); };
        st.on_method = [](llhttp_t* p, const char* at, size_t n) noexcept {
            return self(p)->on_method(at, n);
        };
        st.on_url = [](llhttp_t* p, const char* at, size_t n) noexcept {
            return self(p)->on_url(at, n);
        };
        st.on_header_field = [](llhttp_t* p, const char* at, size_t n) noexcept {
            return self(p)->on_header_field(at, n);
        };
        st.on_header_field_complete = [](llhttp_t* p) noexcept {
            return self(p)->on_header_field_complete();
        };
        st.on_header_value = [](llhttp_t* p, const char* at, size_t n) noexcept {
            return self(p)->on_header_value(at, n);
        };
        st.on_header_value_complete = [](llhttp_t* p) noexcept {
            return self(p)->on_header_value_complete();
        };
        st.on_headers_complete = [](llhttp_t* p) noexcept {
            return self(p)->on_headers_complete();
        };
        st.on_body = [](llhttp_t* p, const char* at, size_t n) noexcept {
            return self(p)->on_body(at, n);
        };
        st.on_message_complete = [](llhttp_t* p) noexcept {
            return self(p)->on_message_complete();
        };
        st.on_chunk_extension_name = [](llhttp_t* p, const char*, size_t n) noexcept {
            return self(p)->on_chunk_extension(n);
        };
        st.on_chunk_extension_value = [](llhttp_t* p, const char*, size_t n) noexcept {
            return self(p)->on_chunk_extension(n);
        };
        st.on_chunk_header = [](llhttp_t* p) noexcept {
            self(p)->framing_.chunk_header();
            return 0;
        };
        st.on_chunk_complete = [](llhttp_t* p) noexcept { return self(p)->on_chunk_complete(); };
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
    part_ = HeadPart::none;
    method_ = url_ = Span{};
    hdrs_.clear();
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
    if (method_.len == 0) method_.off = static_cast<uint32_t>(at - buf_ - msg_start_);
    method_.len += static_cast<uint32_t>(len);
    return 0;
}

int Connection::on_url(const char* at, size_t len) {
    if (!head_bytes_ok(at, len)) return fail(414, "uri_too_long", "request target is too long");
    if (url_.len == 0) url_.off = static_cast<uint32_t>(at - buf_ - msg_start_);
    url_.len += static_cast<uint32_t>(len);
    return 0;
}

int Connection::on_header_field(const char* at, size_t len) {
    if (in_trailers_) {
        framing_.trailer_field();
        trailer_bytes_ += len;
        return trailer_bytes_ > server_.limits().max_header_size
                   ? fail(431, "trailer_too_large", "trailer section is too large")
                   : 0;
    }
    if (!head_bytes_ok(at, len))
        return fail(431, "header_too_large", "request header section is too large");
    auto off = static_cast<uint32_t>(at - buf_ - msg_start_);
    if (part_ != HeadPart::field) {
        if (hdrs_.size() >= Request::kMaxHeaders)
            return fail(431, "too_many_headers", "too many header fields");
        hdrs_.push_back(HeaderSpan{Span{off, 0}, Span{}});
        part_ = HeadPart::field;
    } else if (off != hdrs_.back().name.off + hdrs_.back().name.len) {
        return fail(400, "bad_header", "malformed header field name");
    }
    hdrs_.back().name.len += static_cast<uint32_t>(len);
    return 0;
}

int Connection::on_header_field_complete() {
    if (!in_trailers_) part_ = HeadPart::value_pending;
    return 0;
}

int Connection::on_header_value(const char* at, size_t len) {
    if (in_trailers_) {
        if (len && !framing_.trailer_value(at, len))
            return fail(400, "obs_fold", framing_.problem());
        trailer_bytes_ += len;
        return trailer_bytes_ > server_.limits().max_header_size
                   ? fail(431, "trailer_too_large", "trailer section is too large")
                   : 0;
    }
    if (!head_bytes_ok(at, len))
        return fail(431, "header_too_large", "request header section is too large");
    auto off = static_cast<uint32_t>(at - buf_ - msg_start_);
    HeaderSpan& h = hdrs_.back();
    if (part_ == HeadPart::value_pending) {
        h.value = Span{off, static_cast<uint32_t>(len)};
        part_ = HeadPart::value;
    } else if (off == h.value.off + h.value.len) {
        h.value.len += static_cast<uint32_t>(len); // the same value, split across reads
    } else {
        // llhttp 8.1 accepts obs-fold and reports the continuation as a detached piece.
        return fail(400, "obs_fold", "obsolete line folding in a header value is not allowed");
    }
    return 0;
}

int Connection::on_header_value_complete() {
    if (!in_trailers_) part_ = HeadPart::none;
    return 0;
}

void Connection::fill_request(const char* base) {
    Request& r = ex_.req_;
    auto view = [base](Span s) { return std::string_view(base + s.off, s.len); };
    r.method = static_cast<llhttp_method_t>(llhttp_get_method(&parser_));
    r.method_name = view(method_);
    r.target = view(url_);
    r.version_minor = llhttp_get_http_minor(&parser_);
    r.keep_alive = llhttp_should_keep_alive(&parser_) != 0;
    r.chunked = (parser_.flags & F_CHUNKED) != 0;
    r.content_length.reset();
    if (parser_.flags & F_CONTENT_LENGTH) r.content_length = parser_.content_length;
    r.expect_continue = false;
    r.headers.clear();
    r.host = {};
    r.peer = reinterpret_cast<const sockaddr*>(&peer_);
    for (const HeaderSpan& h : hdrs_) {
        r.headers.push_back(Header{view(h.name), trim_ows(view(h.value))});
        if (iequals(r.headers.back().name, "host")) r.host = r.headers.back().value;
    }
    r.body = {};

    // Request target: origin-form, absolute-form (RFC 9112 §3.2.2: its authority replaces
    // Host) or asterisk-form.
    std::string_view t = r.target;
    if (istarts_with(t, "http://")) {
        std::string_view rest = t.substr(7);
        size_t end = rest.find_first_of("/?");
        r.host = rest.substr(0, end);
        t = end == std::string_view::npos ? std::string_view() : rest.substr(end);
    }
    size_t q = t.find('?');
    r.path = t.substr(0, q);
    r.query = q == std::string_view::npos ? std::string_view() : t.substr(q + 1);
    if (r.path.empty()) r.path = "/";
}

bool Connection::validate_head() {
    const Request& r = ex_.req_;
    if (llhttp_get_http_major(&parser_) != 1 || r.version_minor > 1) {
        fail(505, "http_version_not_supported", "only HTTP/1.0 and HTTP/1.1 are supported");
        return false;
    }
    if (r.method == HTTP_CONNECT) {
        fail(405, "method_not_allowed", "CONNECT is not supported");
        return false;
    }
    if (!r.target.empty() && r.target[0] != '/' && r.target != "*" &&
        !istarts_with(r.target, "http://")) {
        fail(400, "bad_target", "request target must be origin-form or an http:// absolute URI");
        return false;
    }
    if (r.target == "*" && r.method != HTTP_OPTIONS) {
        fail(400, "bad_target", "asterisk-form is only valid for OPTIONS");
        return false;
    }
    if (istarts_with(r.target, "http://") && !valid_authority(r.host, false)) {
        fail(400, "bad_target", "the request target's authority is not a valid host[:port]");
        return false;
    }
    int hosts = 0;
    bool te_unknown = false;      // a transfer coding other than chunked
    bool te_last_chunked = false; // ... and whether chunked was the last one
    for (const Header& h : r.headers) {
        if (!is_token(h.name)) {
            // llhttp 8.1 lets spaces in or before the colon through; RFC 9112 §5.1 says 400.
            fail(400, "bad_header_name", "header field name is not a valid token");
            return false;
        }
        if (iequals(h.name, "host")) {
            ++hosts;
            // RFC 9112 §3.2: an invalid Host is a 400. Forwarded, it could name one site to
            // the origin (or a router in front of it) and another to our cache key.
            if (!valid_authority(h.value, true)) {
                fail(400, "bad_host", "Host is not a valid host[:port]");
                return false;
            }
        } else if (iequals(h.name, "transfer-encoding") && r.version_minor == 0) {
            fail(400, "bad_transfer_encoding", "Transfer-Encoding in an HTTP/1.0 request");
            return false;
        } else if (iequals(h.name, "transfer-encoding")) {
            // llhttp accepts codings before chunked and drops them silently; the body would
            // then be forwarded or stored still coded. RFC 9112 §6.1: 501 for a coding we do
            // not implement (400 when chunked is not last: the length is unknowable, §6.3).
            for_each_list_item(h.value, [&](std::string_view coding) {
                te_last_chunked = iequals(coding, "chunked");
                if (!te_last_chunked) te_unknown = true;
            });
        } else if (iequals(h.name, "expect")) {
            if (!iequals(h.value, "100-continue")) {
                fail(417, "expectation_failed", "only Expect: 100-continue is supported");
                return false;
            }
            ex_.req_.expect_continue = r.version_minor == 1;
        }
    }
    if (te_unknown) {
        if (te_last_chunked)
            fail(501, "unsupported_transfer_encoding",
                 "only the chunked transfer coding is supported");
        else
            fail(400, "bad_transfer_encoding", "chunked must be the final transfer coding");
        return false;
    }
    if (hosts > 1) {
        fail(400, "duplicate_host", "more than one Host header");
        return false;
    }
    if (hosts == 0 && r.version_minor == 1) {
        fail(400, "missing_host", "HTTP/1.1 request without a Host header");
        return false;
    }
    return true;
}

int Connection::on_headers_complete() {
    set_state(State::body); // until the message completes and is dispatched
    in_trailers_ = true;    // header callbacks from here on are chunked trailers
    const char* base = buf_ + msg_start_;
    fill_request(base);
    if (!validate_head()) return -1;
    const Request& r = ex_.req_;
    bool has_body = r.chunked || (r.content_length && *r.content_length > 0);
    if (has_body) {
        // The read buffer will move on while the body streams in: keep the head elsewhere.
        size_t head_end = static_cast<size_t>(method_.off) + method_.len;
        head_end = std::max<size_t>(head_end, static_cast<size_t>(url_.off) + url_.len);
        for (const HeaderSpan& h : hdrs_) {
            head_end = std::max<size_t>(head_end, static_cast<size_t>(h.name.off) + h.name.len);
            head_end = std::max<size_t>(head_end, static_cast<size_t>(h.value.off) + h.value.len);
        }
        head_copy_.assign(base, head_end);
        bool expect = r.expect_continue;
        fill_request(head_copy_.data());
        ex_.req_.expect_continue = expect;
    }
    BodyLimit lim = listener_->handler->body_limit(ex_.req_);
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

int Connection::on_chunk_extension(size_t len) {
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
