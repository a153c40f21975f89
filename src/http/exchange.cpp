// Exchange: response heads, bodies and streams written into the connection's output batch.
#include "http/exchange.hpp"

#include "http/connection.hpp"
#include "http/server.hpp"
#include "http/status_text.hpp"
#include "util/strings.hpp"

namespace ec::http {

void Exchange::reset(uint64_t seq, uint64_t now_ms) {
    seq_ = seq;
    start_mono_ms_ = now_ms;
    start_ns_ = uv_hrtime();
    status_ = 0;
    head_started_ = head_done_ = complete_ = deferred_ = close_after_ = omit_date_ = false;
    streaming_ = chunked_ = false;
    body_bytes_ = 0;
    stream_length_.reset();
    log_tag_ = "-";
}

Exchange& Exchange::status(int code, std::string_view reason) {
    head_started_ = true;
    status_ = code;
    WriteBatch& o = conn_->out();
    o.append("HTTP/1.1 ");
    std::string& b = o.bytes;
    append_u64(b, static_cast<uint64_t>(code));
    b.push_back(' ');
    b.append(reason.empty() ? status_text(code) : reason);
    b.append("\r\n");
    return *this;
}

Exchange& Exchange::header(std::string_view name, std::string_view value) {
    std::string& b = conn_->out().bytes;
    b.append(name);
    b.append(": ");
    b.append(value);
    b.append("\r\n");
    return *this;
}

Exchange& Exchange::header(std::string_view name, uint64_t value) {
    std::string& b = conn_->out().bytes;
    b.append(name);
    b.append(": ");
    append_u64(b, value);
    b.append("\r\n");
    return *this;
}

Exchange& Exchange::raw_headers(std::string_view block) {
    conn_->out().bytes.append(block);
    return *this;
}

Exchange& Exchange::omit_date() {
    omit_date_ = true;
    return *this;
}

Exchange& Exchange::close_after() {
    close_after_ = true;
    return *this;
}

void Exchange::finish_head(std::optional<uint64_t> content_length, bool chunked) {
    if (!head_started_) status(200);
    std::string& b = conn_->out().bytes;
    bool bodyless_status = status_ == 204 || status_ == 304 || status_ < 200;
    if (!bodyless_status) {
        if (content_length) {
            b.append("Content-Length: ");
            append_u64(b, *content_length);
            b.append("\r\n");
        } else if (chunked) {
            b.append("Transfer-Encoding: chunked\r\n");
        }
    }
    if (!omit_date_) {
        b.append("Date: ");
        b.append(conn_->server_.date());
        b.append("\r\n");
    }
    if (!req_.keep_alive || conn_->upgrade_ || conn_->peer_eof_ || conn_->server_.draining())
        close_after_ = true;
    if (close_after_)
        b.append("Connection: close\r\n");
    else if (req_.version_minor == 0)
        b.append("Connection: keep-alive\r\n");
    b.append("\r\n");
    head_done_ = true;
}

void Exchange::send(Body body) {
    bool no_body = req_.is_head() || status_ == 204 || status_ == 304 || (status_ && status_ < 200);
    finish_head(body.size(), false);
    if (!no_body) {
        body_bytes_ = body.size();
        conn_->out().append(std::move(body));
    }
    conn_->exchange_complete();
}

void Exchange::send_head_only(uint64_t content_length) {
    finish_head(content_length, false);
    conn_->exchange_complete();
}

void Exchange::begin_stream(std::optional<uint64_t> content_length, bool hold_head) {
    streaming_ = true;
    stream_length_ = content_length;
    if (!content_length) {
        if (req_.version_minor >= 1)
            chunked_ = true;
        else
            close_after_ = true; // HTTP/1.0: the end of the body is the end of the connection
    }
    finish_head(content_length, chunked_);
    if (req_.is_head() || status_ == 204 || status_ == 304) chunked_ = false;
    if (!hold_head) conn_->flush();
}

bool Exchange::stream_write(Body chunk) {
    if (conn_->state_ == Connection::State::closed) return false;
    if (chunk.empty() || req_.is_head() || status_ == 204 || status_ == 304) return true;
    WriteBatch& o = conn_->out();
    body_bytes_ += chunk.size();
    if (chunked_) {
        static const char hex[] = "0123456789abcdef";
        char size[20];
        int n = 0;
        for (size_t v = chunk.size(); v; v >>= 4)
            size[n++] = hex[v & 15];
        std::string& b = o.bytes;
        while (n)
            b.push_back(size[--n]);
        b.append("\r\n");
        o.append(std::move(chunk));
        o.append("\r\n");
    } else {
        o.append(std::move(chunk));
    }
    conn_->flush();
    return conn_->state_ != Connection::State::closed;
}

void Exchange::stream_end() {
    if (stream_length_ && *stream_length_ != body_bytes_ && !req_.is_head()) {
        stream_abort(); // a short body with a promised length must not look complete
        return;
    }
    if (chunked_) conn_->out().append("0\r\n\r\n");
    conn_->exchange_complete();
}

void Exchange::stream_abort() {
    close_after_ = true;
    conn_->exchange_complete();
}

bool Exchange::congested() const {
    return conn_->congested_;
}

void Exchange::on_drain(std::function<void()> cb) {
    if (!conn_->congested_) {
        cb();
        return;
    }
    conn_->drain_cb_ = std::move(cb);
}

ExchangeRef Exchange::defer() {
    deferred_ = true;
    return ExchangeRef(conn_, seq_);
}

} // namespace ec::http
