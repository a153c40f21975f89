// Connection: reading requests, dispatching them one at a time, writing responses (the parser
// callbacks that gather and check a request are in connection_parser.cpp).
#include "http/connection.hpp"

#include <cstring>
#include <utility>

#include "http/handler.hpp"
#include "http/json_reply.hpp"
#include "http/server.hpp"
#include "http/status_text.hpp"
#include "util/log.hpp"
#include "util/strings.hpp"

namespace ec::http {

namespace {
constexpr size_t kMinReadSpace = 2048;
} // namespace

Connection::Connection(Server& server, Listener& listener, net::Stream* stream)
    : server_(server), listener_(&listener), stream_(stream), ex_(this) {
    stream_->set_events(this);
    llhttp_init(&parser_, HTTP_REQUEST, &settings());
    parser_.data = this;
    last_activity_ms_ = server_.loop().clock().mono_ms();
}

Connection::~Connection() = default;

bool Connection::admin() const {
    return listener_->admin;
}

// ---------------------------------------------------------------------------------------------
// Lifecycle

void Connection::start() {
    stream_->peer(peer_);
    start_reading();
}

void Connection::reject_busy(bool answer) {
    rejected_ = true;
    if (!answer) {
        close();
        return;
    }
    static constexpr std::string_view kBusy =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
        "Content-Length: 79\r\nConnection: close\r\nRetry-After: 1\r\n\r\n"
        "{\"error\":{\"code\":\"too_many_connections\",\"message\":\"connection limit "
        "reached\"}}\n";
    static_assert(kBusy.size() - kBusy.find("\r\n\r\n") - 4 == 79);
    out().append(Body::static_bytes(kBusy));
    close_after_output();
}

void Connection::close() {
    if (state_ == State::closed) return;
    set_state(State::closed);
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
    held_ = stream_held_ = 0;
    release_body();
    server_.unlink(this);
    stream_->close(); // on_closed follows, after the cancelled writes' on_write
}

void Connection::on_closed() {
    stream_ = nullptr;
    release();
}

void Connection::release() {
    if (--refs_ == 0) delete this;
}

void Connection::drain() {
    if (!reading_request()) return; // the response in flight will carry Connection: close
    if (!partial_request()) close();
}

void Connection::check_timeouts(uint64_t now) {
    const Limits& lim = server_.limits();
    switch (state_) {
    case State::head:
        if (now - head_started_ms_ > lim.header_timeout_ms) {
            ++server_.mutable_stats().timeouts;
            send_error_and_close(408, "header_timeout", "request header not received in time");
        }
        break;
    case State::idle:
    case State::body:
        if (now - last_activity_ms_ > lim.idle_timeout_ms) {
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
    if (stream_->read_start() == 0)
        reading_ = true;
    else
        close();
}

void Connection::stop_reading() {
    if (!reading_) return;
    stream_->read_stop();
    reading_ = false;
}

uv_buf_t Connection::on_alloc(size_t) {
    if (!buf_) {
        buf_ = server_.take_read_buffer();
        buf_cap_ = Server::kReadBufSize;
        parsed_ = end_ = msg_start_ = 0;
    }
    // In `handling`, a deferred handler holds views into the buffer, so nothing may move: what
    // the client pipelines meanwhile goes into the free tail. A full tail (len 0) comes back to
    // handle_read as UV_ENOBUFS, which stops reading until the response is done.
    if (state_ != State::handling && buf_cap_ - end_ < kMinReadSpace) compact();
    return uv_buf_init(buf_ + end_, static_cast<unsigned>(buf_cap_ - end_));
}

// Moves the bytes still needed to the front of the buffer, growing it when a large head needs
// more room. Head spans are relative to msg_start_, so only msg_start_ moves.
void Connection::compact() {
    size_t keep_from = state_ == State::head ? msg_start_ : parsed_;
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
    if (!buf_ || state_ == State::handling || state_ == State::head || parsed_ < end_) return;
    server_.give_read_buffer(buf_, buf_cap_);
    buf_ = nullptr;
    buf_cap_ = parsed_ = end_ = msg_start_ = 0;
}

void Connection::on_read(ssize_t nread, const uv_buf_t&) {
    handle_read(nread);
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
        if (reading_request()) {
            if (partial_request())
                close();
            else
                close_after_output(); // closes once the responses are written
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
    if (state_ == State::head && end_ - msg_start_ > server_.limits().max_header_size) {
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
    while (reading_request() && parsed_ < end_ && !congested_) {
        if (served_this_round_ >= server_.limits().max_requests_per_round ||
            round_bytes_ >= server_.limits().write_low_water) {
            // Fairness: let other connections run, continue on a later iteration. Counting
            // bytes too keeps a pipeline of large responses from holding the loop: before the
            // socket and then the high-water mark push back, a client that never reads would
            // take a dozen of them in one turn.
            stop_reading();
            ++refs_;
            server_.loop().post([this] {
                if (reading_request()) resume();
                release();
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

void Connection::resume() {
    if (!congested_) start_reading();
    process();
    flush();
    release_buffer_if_idle();
}

void Connection::dispatch() {
    set_state(State::handling);
    ex_.begin(CarrierKey{}, ++seq_, server_.loop().clock().mono_ms(), body_);
    // An operator's polling (edgecachectl stats --watch, scrapes) is not traffic.
    ++(listener_->admin ? server_.mutable_stats().admin_requests
                        : server_.mutable_stats().requests);
    listener_->handler->handle(ex_);
    if (state_ == State::closed || ex_.complete()) return;
    // Reading stays on (on_alloc keeps the buffer in place while the handler holds views into
    // it): stopping and restarting it around every deferred response cost two epoll_ctl calls.
    if (ex_.completes_later()) return;
    std::string_view target = ex_.request().target;
    LOG_ERROR("handler for %.*s returned without responding", static_cast<int>(target.size()),
              target.data());
    if (!ex_.started()) {
        ex_.status(500).header("Content-Type", "application/json");
        ex_.send(Body::static_bytes(
            "{\"error\":{\"code\":\"internal\",\"message\":\"no response produced\"}}\n"));
    } else {
        ex_.stream_abort();
    }
}

// ---------------------------------------------------------------------------------------------
// Write side

bool Connection::must_close() const {
    return upgrade_ || peer_eof_ || server_.draining();
}

std::string_view Connection::date() {
    return server_.date();
}

WriteBatch& Connection::out() {
    if (!pending_) pending_ = server_.take_batch();
    return *pending_;
}

void Connection::flush() {
    if (!pending_ || pending_->empty() || state_ == State::closed) return;
    WriteBatch* b = pending_;
    pending_ = nullptr;
    b->build_bufs();
    b->req.data = b;
    size_t total = b->total();
    server_.mutable_stats().bytes_out += total;
    round_bytes_ += total;
    if (writes_in_flight_ == 0 && try_write_all(*b)) {
        server_.give_batch(b);
        last_activity_ms_ = server_.loop().clock().mono_ms();
        note_stream_output(); // last: over the budget, this may close us
        return;
    }
    if (state_ == State::closed) {
        server_.give_batch(b);
        return;
    }
    int rc = stream_->write(b->req, b->bufs.data(), static_cast<unsigned>(b->bufs.size()));
    if (rc != 0) {
        server_.give_batch(b);
        close();
        return;
    }
    ++writes_in_flight_;
    ++refs_; // the write callback may run after close; keep our memory until it has
    size_t queued = stream_->write_queue_size();
    if (held_ == 0) held_since_ms_ = server_.loop().clock().mono_ms();
    queue_seen_ = queued;
    if (queued > server_.limits().write_high_water) {
        congested_ = true; // the client reads slower than we answer: stop serving its pipeline
        stop_reading();
    }
    b->held = b->owned_bytes();
    held_ += b->held;
    server_.output_queued(b->held); // over the budget, this may close us
    note_stream_output();
}

void Connection::on_output_written() {
    if (state_ == State::closed) return;
    last_activity_ms_ = read_seen_ms_ = server_.loop().clock().mono_ms(); // the client reads
    note_stream_output();
}

void Connection::note_write_progress(uint64_t now) {
    size_t queued = stream_->write_queue_size();
    if (queued < queue_seen_) read_seen_ms_ = now;
    queue_seen_ = queued;
}

// A stream that keeps copies of our output (TLS records waiting for the socket) has them counted
// against max_queued_output like our own batches. Nothing to do for a plain socket. Growing the
// count may shed connections, this one included: call it last.
void Connection::note_stream_output() {
    if (state_ == State::closed) return;
    size_t now = stream_->owned_output_bytes();
    if (now == stream_held_) return;
    if (now < stream_held_) {
        held_ -= stream_held_ - now;
        server_.output_written(stream_held_ - now);
        stream_held_ = now;
        return;
    }
    size_t grown = now - stream_held_;
    stream_held_ = now;
    if (held_ == 0) held_since_ms_ = server_.loop().clock().mono_ms();
    held_ += grown;
    server_.output_queued(grown);
}

// Writes what the stream takes now (Stream::try_write), dropping the written bytes from b.bufs.
// True when all of it went: the usual case, with no write request at all. On a hard error the
// connection is closed and false returned.
bool Connection::try_write_all(WriteBatch& b) {
    int first = stream_->try_write(b.bufs.data(), static_cast<unsigned>(b.bufs.size()));
    if (first < 0) {
        close();
        return false;
    }
    b.bufs.erase(b.bufs.begin(), b.bufs.begin() + first);
    return b.bufs.empty();
}

void Connection::on_write(net::WriteReq& req, int status) {
    after_write(static_cast<WriteBatch*>(req.data), status);
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
        release();
        return;
    }
    last_activity_ms_ = server_.loop().clock().mono_ms();
    read_seen_ms_ = last_activity_ms_;
    queue_seen_ = stream_->write_queue_size();
    note_stream_output();
    if (congested_ && queue_seen_ <= server_.limits().write_low_water) {
        congested_ = false;
        if (drain_cb_) {
            auto cb = std::move(drain_cb_);
            drain_cb_ = nullptr;
            cb();
        }
        if (reading_request()) resume();
    }
    shutdown_if_written();
    release();
}

void Connection::exchange_complete(bool close_after) {
    release_body();
    last_activity_ms_ = server_.loop().clock().mono_ms();
    if (server_.on_exchange_done) server_.on_exchange_done(ex_);
    drain_cb_ = nullptr;
    if (state_ == State::closed) return;
    if (close_after) {
        close_after_output();
        return;
    }
    set_state(State::idle);
    flush();
    // An asynchronous response finished: serve what the client pipelined meanwhile.
    if (!in_process_ && reading_request()) resume();
}

void Connection::send_error_and_close(int status, const char* code, const char* message) {
    release_body();
    if (status == 413 || status == 431 || status == 414)
        ++server_.mutable_stats().too_large;
    else if (status != 503) // 503: counted where it was decided (shedding, the cap)
        ++server_.mutable_stats().bad_requests;
    LOG_DEBUG("closing connection: %d %s: %s", status, code, message);
    std::string body = error_json(code, message);
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
    close_after_output();
}

void Connection::close_after_output() {
    set_state(State::closing);
    stop_reading();
    flush();
    shutdown_if_written();
}

void Connection::shutdown_if_written() {
    if (state_ != State::closing || writes_in_flight_ > 0) return;
    if (peer_eof_) {
        close();
        return;
    }
    set_state(State::lingering);
    linger_until_ms_ = server_.loop().clock().mono_ms() + server_.limits().linger_ms;
    ++refs_;
    if (stream_->shutdown() != 0) {
        --refs_;
        close();
        return;
    }
    // Keep reading and discarding: closing with unread input would make the kernel send a
    // reset, which can destroy the response before the client has read it.
    start_reading();
}

void Connection::on_shutdown(int status) {
    if (status < 0 || peer_eof_) close();
    release();
}

// ---------------------------------------------------------------------------------------------
// ExchangeRef

Exchange* Connection::exchange_in_flight(uint64_t seq) {
    if (state_ == State::closed || ex_.seq() != seq || ex_.complete()) return nullptr;
    return &ex_;
}

ExchangeRef::ExchangeRef(Connection* conn, uint64_t seq) : conn_(conn), seq_(seq) {
    if (conn_) conn_->retain();
}
ExchangeRef::ExchangeRef(const ExchangeRef& o) : conn_(o.conn_), seq_(o.seq_) {
    if (conn_) conn_->retain();
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
    if (conn_) conn_->release();
}

Exchange* ExchangeRef::get() const {
    return conn_ ? conn_->exchange_in_flight(seq_) : nullptr;
}

} // namespace ec::http
