// Connection: reading and parsing requests, dispatching them one at a time, writing responses.
#include "http/connection.hpp"

#include <cstring>
#include <utility>

#include "http/handler.hpp"
#include "http/server.hpp"
#include "http/status_text.hpp"
#include "loop/try_write.hpp"
#include "util/json_writer.hpp"
#include "util/log.hpp"
#include "util/strings.hpp"

namespace ec::http {

namespace {
inline Connection* self(llhttp_t* p) {
    return static_cast<Connection*>(p->data);
}
constexpr size_t kMinReadSpace = 2048;
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

Connection::Connection(Server& server, Listener& listener)
    : server_(server), listener_(&listener), ex_(this) {
    uv_loop_t* loop = server_.loop().uv();
    if (listener.is_unix) {
        uv_pipe_init(loop, &handle_.pipe, 0);
        handle_.pipe.data = this;
    } else {
        uv_tcp_init(loop, &handle_.tcp);
        handle_.tcp.data = this;
    }
    llhttp_init(&parser_, HTTP_REQUEST, &settings());
    parser_.data = this;
    last_activity_ms_ = server_.loop().clock().mono_ms();
}

Connection::~Connection() = default;

bool Connection::is_unix() const {
    return listener_->is_unix;
}

// ---------------------------------------------------------------------------------------------
// Lifecycle

void Connection::start() {
    if (!listener_->is_unix) {
        int len = sizeof peer_;
        uv_tcp_getpeername(&handle_.tcp, reinterpret_cast<sockaddr*>(&peer_), &len);
        uv_tcp_nodelay(&handle_.tcp, 1);
    } else {
        peer_.ss_family = AF_UNIX;
    }
    start_reading();
}

void Connection::reject_busy() {
    static constexpr std::string_view kBusy =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
        "Content-Length: 79\r\nConnection: close\r\nRetry-After: 1\r\n\r\n"
        "{\"error\":{\"code\":\"too_many_connections\",\"message\":\"connection limit "
        "reached\"}}\n";
    static_assert(kBusy.size() - kBusy.find("\r\n\r\n") - 4 == 79);
    out().append(Body::static_bytes(kBusy));
    state_ = State::closing;
    flush();
    if (state_ == State::closing && writes_in_flight_ == 0) begin_shutdown();
}

void Connection::close() {
    if (state_ == State::closed) return;
    state_ = State::closed;
    reading_ = false;
    // Whoever paused on this client's drain must hear that it is gone, or it waits forever
    // (an origin fetch holding its connection): the callback runs on a later loop turn, where
    // the Exchange's ref already yields nullptr.
    if (drain_cb_) server_.loop().post(std::exchange(drain_cb_, nullptr));
    // Buffers go back now, not in the destructor: a deferred handler's ref may keep this
    // object's memory alive long after, and the pools are the server's. body_ stays (see
    // Request::body).
    if (buf_) {
        server_.give_read_buffer(buf_, buf_cap_);
        buf_ = nullptr;
    }
    if (pending_) {
        server_.give_batch(pending_);
        pending_ = nullptr;
    }
    // The write requests are cancelled and their memory freed later in this loop turn; count
    // it as gone now, so a shedding scan does not close more than it must.
    server_.output_written(held_);
    held_ = 0;
    release_body();
    server_.unlink(this);
    uv_close(reinterpret_cast<uv_handle_t*>(&handle_), on_close);
}

void Connection::on_close(uv_handle_t* h) noexcept {
    static_cast<Connection*>(h->data)->unref();
}

void Connection::unref() {
    if (--refs_ == 0) delete this;
}

void Connection::drain() {
    if (state_ != State::reading) return; // the response in flight will carry Connection: close
    bool partial = parsed_ < end_ || (in_head_ && msg_started_) || body_received_ > 0;
    if (!partial) close();
}

void Connection::check_timeouts(uint64_t now) {
    const Limits& lim = server_.limits();
    switch (state_) {
    case State::reading:
        if (in_head_ && msg_started_) {
            if (now - head_started_ms_ > lim.header_timeout_ms) {
                ++server_.mutable_stats().timeouts;
                send_error_and_close(408, "header_timeout", "request header not received in time");
            }
        } else if (now - last_activity_ms_ > lim.idle_timeout_ms) {
            ++server_.mutable_stats().timeouts;
            if (parsed_ < end_ || body_received_ > 0)
                send_error_and_close(408, "request_timeout", "request body not received in time");
            else
                close();
        }
        break;
    case State::handling:
        // Only a client that stops reading a response stalls here; the handler has its own
        // timeouts for everything else.
        if (writes_in_flight_ > 0 && now - last_activity_ms_ > lim.idle_timeout_ms) {
            ++server_.mutable_stats().timeouts;
            close();
        }
        break;
    case State::closing:
        if (now - last_activity_ms_ > lim.idle_timeout_ms) close();
        break;
    case State::lingering:
        if (now >= linger_until_ms_) close();
        break;
    case State::closed:
        break;
    }
}

// ---------------------------------------------------------------------------------------------
// Read side

void Connection::start_reading() {
    if (reading_ || state_ == State::closed) return;
    if (uv_read_start(stream(), on_alloc, on_read) == 0)
        reading_ = true;
    else
        close();
}

void Connection::stop_reading() {
    if (!reading_) return;
    uv_read_stop(stream());
    reading_ = false;
}

void Connection::on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) noexcept {
    auto* c = static_cast<Connection*>(h->data);
    if (!c->buf_) {
        c->buf_ = c->server_.take_read_buffer();
        c->buf_cap_ = Server::kReadBufSize;
        c->parsed_ = c->end_ = c->msg_start_ = 0;
    }
    if (c->state_ == State::handling) {
        // A deferred handler holds views into the buffer, so nothing may move: what the client
        // pipelines meanwhile goes into the free tail. A full tail (len 0) comes back to
        // handle_read as UV_ENOBUFS, which stops reading until the response is done.
        buf->base = c->buf_ + c->end_;
        buf->len = c->buf_cap_ - c->end_;
        return;
    }
    if (c->buf_cap_ - c->end_ < kMinReadSpace) c->compact();
    buf->base = c->buf_ + c->end_;
    buf->len = c->buf_cap_ - c->end_;
}

// Moves the bytes still needed to the front of the buffer, growing it when a large head needs
// more room. Head spans are relative to msg_start_, so only msg_start_ moves.
void Connection::compact() {
    size_t keep_from = (in_head_ && msg_started_) ? msg_start_ : parsed_;
    if (state_ == State::lingering) keep_from = end_;
    if (keep_from > 0) {
        std::memmove(buf_, buf_ + keep_from, end_ - keep_from);
        end_ -= keep_from;
        parsed_ -= keep_from;
        msg_start_ = msg_start_ >= keep_from ? msg_start_ - keep_from : 0;
    }
    if (buf_cap_ - end_ >= kMinReadSpace) return;
    size_t cap = buf_cap_ * 2;
    char* grown = new char[cap];
    std::memcpy(grown, buf_, end_);
    server_.give_read_buffer(buf_, buf_cap_);
    buf_ = grown;
    buf_cap_ = cap;
}

void Connection::release_buffer_if_idle() {
    if (!buf_ || state_ == State::handling || parsed_ < end_) return;
    if (in_head_ && msg_started_) return;
    server_.give_read_buffer(buf_, buf_cap_);
    buf_ = nullptr;
    buf_cap_ = parsed_ = end_ = msg_start_ = 0;
}

void Connection::on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t*) noexcept {
    static_cast<Connection*>(s->data)->handle_read(nread);
}

void Connection::handle_read(ssize_t nread) {
    if (nread == 0) return;
    last_activity_ms_ = server_.loop().clock().mono_ms();
    if (nread < 0 && state_ == State::handling) {
        // Reading stayed on under a deferred response: the buffer's tail is full, or the peer
        // closed or reset. Stop; the finished exchange reads again and meets the end then,
        // as it would have with reading stopped all along.
        stop_reading();
        return;
    }
    if (nread < 0) {
        peer_eof_ = true;
        stop_reading();
        if (nread != UV_EOF || state_ == State::lingering) {
            close();
            return;
        }
        // Half-close after a request: answer what we have, then close.
        if (state_ == State::reading) {
            bool partial = parsed_ < end_ || (in_head_ && msg_started_) || body_received_ > 0;
            if (partial || writes_in_flight_ == 0)
                close();
            else
                state_ = State::closing;
        }
        return;
    }
    server_.mutable_stats().bytes_in += static_cast<uint64_t>(nread);
    if (state_ == State::lingering) {
        end_ = parsed_ = msg_start_ = 0; // discard
        return;
    }
    end_ += static_cast<size_t>(nread);
    process();
    if (state_ == State::closed) return;
    if (state_ == State::reading && in_head_ && msg_started_ &&
        end_ - msg_start_ > server_.limits().max_header_size) {
        // llhttp is consuming a head larger than we allow without handing us a span.
        send_error_and_close(431, "header_too_large", "request header section is too large");
    }
    flush();
    release_buffer_if_idle();
}

void Connection::process() {
    if (in_process_) return;
    in_process_ = true;
    served_this_round_ = 0;
    round_bytes_ = 0;
    while (state_ == State::reading && parsed_ < end_ && !congested_) {
        if (served_this_round_ >= server_.limits().max_requests_per_round ||
            round_bytes_ >= server_.limits().write_low_water) {
            // Fairness: let other connections run, continue on a later iteration. Counting
            // bytes too keeps a pipeline of large responses from holding the loop: before the
            // socket and then the high-water mark push back, a client that never reads would
            // take a dozen of them in one turn.
            stop_reading();
            ++refs_;
            server_.loop().post([this] {
                if (state_ == State::reading) {
                    start_reading();
                    process();
                    flush();
                    release_buffer_if_idle();
                }
                unref();
            });
            break;
        }
        size_t from = parsed_;
        framing_.buffer(buf_ + from, end_ - from);
        llhttp_errno_t err = llhttp_execute(&parser_, buf_ + from, end_ - from);
        if (err == HPE_OK) {
            parsed_ = end_;
            framing_.consumed(buf_ + from, end_ - from);
        } else if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
            parsed_ = static_cast<size_t>(llhttp_get_error_pos(&parser_) - buf_);
            framing_.consumed(buf_ + from, parsed_ - from);
            if (message_ready_ && !framing_.message_end()) {
                send_error_and_close(400, "bad_chunked_framing", framing_.problem());
                break;
            }
            if (err == HPE_PAUSED) {
                llhttp_resume(&parser_);
            } else {
                // llhttp stays paused after an Upgrade or CONNECT request: what follows is not
                // HTTP. We don't switch protocols, so it is dropped; the request's response
                // closes the connection (on_message_complete set upgrade_). Parsing on from
                // here spun forever: fuzz_request_path.
                parsed_ = end_;
            }
        } else {
            if (!err_status_) {
                // llhttp's own verdict on malformed input; its reason names the problem.
                err_status_ = 400;
                err_code_ = "bad_request";
                err_message_ = llhttp_get_error_reason(&parser_);
            }
            send_error_and_close(err_status_, err_code_, err_message_);
            break;
        }
        if (message_ready_) {
            message_ready_ = false;
            ++served_this_round_;
            dispatch();
        }
    }
    in_process_ = false;
}

void Connection::dispatch() {
    state_ = State::handling;
    ex_.reset(++seq_, server_.loop().clock().mono_ms());
    ex_.req_.body = body_;
    // An operator's polling (edgecachectl stats --watch, scrapes) is not traffic.
    ++(listener_->admin ? server_.mutable_stats().admin_requests
                        : server_.mutable_stats().requests);
    listener_->handler->handle(ex_);
    if (state_ == State::closed || ex_.complete_) return;
    // Reading stays on (on_alloc keeps the buffer in place while the handler holds views into
    // it): stopping and restarting it around every deferred response cost two epoll_ctl calls.
    if (ex_.deferred_ || ex_.streaming_) return;
    LOG_ERROR("handler for %.*s returned without responding",
              static_cast<int>(ex_.req_.target.size()), ex_.req_.target.data());
    if (!ex_.head_started_) {
        ex_.status(500).header("Content-Type", "application/json");
        ex_.send(Body::static_bytes(
            "{\"error\":{\"code\":\"internal\",\"message\":\"no response produced\"}}\n"));
    } else {
        ex_.stream_abort();
    }
}

// ---------------------------------------------------------------------------------------------
// Parser callbacks

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
    in_head_ = true;
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
    in_head_ = false;
    in_trailers_ = true; // header callbacks from here on are chunked trailers
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

// ---------------------------------------------------------------------------------------------
// Write side

WriteBatch& Connection::out() {
    if (!pending_) pending_ = server_.take_batch();
    return *pending_;
}

void Connection::flush() {
    if (!pending_ || pending_->empty() || state_ == State::closed) return;
    WriteBatch* b = pending_;
    pending_ = nullptr;
    b->build_bufs();
    b->conn = this;
    b->req.data = b;
    size_t total = b->total();
    server_.mutable_stats().bytes_out += total;
    round_bytes_ += total;
    if (writes_in_flight_ == 0 && try_write_all(*b)) {
        server_.give_batch(b);
        last_activity_ms_ = server_.loop().clock().mono_ms();
        return;
    }
    if (state_ == State::closed) {
        server_.give_batch(b);
        return;
    }
    int rc = uv_write(&b->req, stream(), b->bufs.data(), static_cast<unsigned>(b->bufs.size()),
                      on_write);
    if (rc != 0) {
        server_.give_batch(b);
        close();
        return;
    }
    ++writes_in_flight_;
    ++refs_; // the write callback may run after close; keep our memory until it has
    size_t queued = uv_stream_get_write_queue_size(stream());
    if (held_ == 0) held_since_ms_ = server_.loop().clock().mono_ms();
    queue_seen_ = queued;
    if (queued > server_.limits().write_high_water) {
        congested_ = true; // the client reads slower than we answer: stop serving its pipeline
        stop_reading();
    }
    b->held = b->owned_bytes();
    held_ += b->held;
    server_.output_queued(b->held); // last: over the budget, this may close us
}

void Connection::note_write_progress(uint64_t now) {
    size_t queued = uv_stream_get_write_queue_size(stream());
    if (queued < queue_seen_) read_seen_ms_ = now;
    queue_seen_ = queued;
}

// Writes what the socket takes now (loop::try_write), dropping the written bytes from b.bufs.
// True when all of it went: the usual case, with no write request at all. On a hard error the
// connection is closed and false returned.
bool Connection::try_write_all(WriteBatch& b) {
    int first = loop::try_write(stream(), b.bufs.data(), static_cast<unsigned>(b.bufs.size()));
    if (first < 0) {
        close();
        return false;
    }
    b.bufs.erase(b.bufs.begin(), b.bufs.begin() + first);
    return b.bufs.empty();
}

void Connection::on_write(uv_write_t* req, int status) noexcept {
    auto* b = static_cast<WriteBatch*>(req->data);
    b->conn->after_write(b, status);
}

void Connection::after_write(WriteBatch* batch, int status) {
    --writes_in_flight_;
    if (state_ != State::closed) { // close() took all of held_ off the budget
        held_ -= batch->held;
        server_.output_written(batch->held);
    }
    server_.give_batch(batch);
    if (status < 0) {
        close();
        unref();
        return;
    }
    last_activity_ms_ = server_.loop().clock().mono_ms();
    read_seen_ms_ = last_activity_ms_;
    queue_seen_ = uv_stream_get_write_queue_size(stream());
    if (congested_ && queue_seen_ <= server_.limits().write_low_water) {
        congested_ = false;
        if (drain_cb_) {
            auto cb = std::move(drain_cb_);
            drain_cb_ = nullptr;
            cb();
        }
        if (state_ == State::reading) {
            start_reading();
            process();
            flush();
            release_buffer_if_idle();
        }
    }
    if (state_ == State::closing && writes_in_flight_ == 0) {
        if (peer_eof_)
            close();
        else
            begin_shutdown();
    }
    unref();
}

void Connection::exchange_complete() {
    ex_.complete_ = true;
    release_body();
    last_activity_ms_ = server_.loop().clock().mono_ms();
    ++requests_served_;
    if (server_.on_exchange_done) server_.on_exchange_done(ex_);
    drain_cb_ = nullptr;
    if (state_ == State::closed) return;
    bool keep = !ex_.close_after_;
    if (!keep) {
        state_ = State::closing;
        stop_reading();
        flush();
        if (state_ == State::closing && writes_in_flight_ == 0) {
            if (peer_eof_)
                close();
            else
                begin_shutdown();
        }
        return;
    }
    state_ = State::reading;
    flush();
    if (!in_process_ && state_ == State::reading) {
        // An asynchronous response finished: serve what the client pipelined meanwhile.
        if (!congested_) start_reading();
        process();
        flush();
        release_buffer_if_idle();
    }
}

void Connection::send_error_and_close(int status, const char* code, const char* message) {
    release_body();
    if (status == 413 || status == 431 || status == 414)
        ++server_.mutable_stats().too_large;
    else if (status != 503) // 503: counted where it was decided (shedding, the cap)
        ++server_.mutable_stats().bad_requests;
    LOG_DEBUG("closing connection: %d %s: %s", status, code, message);
    std::string body;
    JsonWriter w(body);
    w.begin_object().key("error").begin_object();
    w.field("code", code).field("message", message);
    w.end_object().end_object();
    body.push_back('\n');
    WriteBatch& o = out();
    std::string head = "HTTP/1.1 ";
    append_u64(head, static_cast<uint64_t>(status));
    head += ' ';
    head += status_text(status);
    head += "\r\nContent-Type: application/json\r\nContent-Length: ";
    append_u64(head, body.size());
    head += "\r\nDate: ";
    head += server_.date();
    head += "\r\nConnection: close\r\n\r\n";
    o.append(head);
    o.append(body);
    state_ = State::closing;
    stop_reading();
    flush();
    if (state_ == State::closing && writes_in_flight_ == 0) begin_shutdown();
}

void Connection::begin_shutdown() {
    if (state_ == State::closed) return;
    state_ = State::lingering;
    linger_until_ms_ = server_.loop().clock().mono_ms() + server_.limits().linger_ms;
    shutdown_req_.data = this;
    ++refs_;
    if (uv_shutdown(&shutdown_req_, stream(), on_shutdown) != 0) {
        --refs_;
        close();
        return;
    }
    // Keep reading and discarding: closing with unread input would make the kernel send a
    // reset, which can destroy the response before the client has read it.
    if (peer_eof_) return;
    start_reading();
}

void Connection::on_shutdown(uv_shutdown_t* req, int status) noexcept {
    auto* c = static_cast<Connection*>(req->data);
    if (status < 0 || c->peer_eof_) c->close();
    c->unref();
}

// ---------------------------------------------------------------------------------------------
// ExchangeRef

ExchangeRef::ExchangeRef(Connection* conn, uint64_t seq) : conn_(conn), seq_(seq) {
    if (conn_) ++conn_->refs_;
}
ExchangeRef::ExchangeRef(const ExchangeRef& o) : conn_(o.conn_), seq_(o.seq_) {
    if (conn_) ++conn_->refs_;
}
ExchangeRef::ExchangeRef(ExchangeRef&& o) noexcept : conn_(o.conn_), seq_(o.seq_) {
    o.conn_ = nullptr;
}
ExchangeRef& ExchangeRef::operator=(ExchangeRef o) noexcept {
    std::swap(conn_, o.conn_);
    std::swap(seq_, o.seq_);
    return *this;
}
ExchangeRef::~ExchangeRef() {
    if (conn_) conn_->unref();
}

Exchange* ExchangeRef::get() const {
    if (!conn_ || conn_->state_ == Connection::State::closed) return nullptr;
    Exchange& ex = conn_->ex_;
    if (ex.seq_ != seq_ || ex.complete_) return nullptr;
    return &ex;
}

} // namespace ec::http
