// Exchange: response heads, bodies and streams written into the connection's output batch.
#include "http/exchange.hpp"

#include "http/connection.hpp"
#include "http/server.hpp"
#include "http/status_text.hpp"
#include "util/strings.hpp"

namespace ec::http {

void Exchange::begin(CarrierKey, uint64_t seq, uint64_t now_ms, std::string_view body) {
    req_.body = body;
    seq_ = seq;
    start_mono_ms_ = now_ms;
    start_ns_ = uv_hrtime();
    status_ = 0;
    head_started_ = complete_ = deferred_ = close_after_ = omit_date_ = false;
    streaming_ = chunked_ = false;
    transfer_coding_.clear();
    body_bytes_ = 0;
    stream_length_.reset();
    log_tag_ = "-";
    upstream_ms_.reset();
    route_ = origin_ = nullptr;
    response_has_request_id_ = false;
    req_.request_id = {};
}

namespace {
// 64 random bits per process, so ids from two runs (or two nodes) do not collide.
uint64_t process_nonce() {
    static const uint64_t nonce = [] {
        uint64_t n = 0;
        uv_random(nullptr, nullptr, &n, sizeof n, 0, nullptr);
        return n ^ uv_hrtime();
    }();
    return nonce;
}
bool acceptable_request_id(std::string_view v) {
    if (v.empty() || v.size() > 128) return false;
    for (char c : v)
        if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\\') return false;
    return true;
}
// True when a "Name: value\r\n" block holds an X-Request-Id line.
bool block_has_request_id(std::string_view block) {
    for (size_t at = 0; at < block.size();) {
        if (istarts_with(block.substr(at), "x-request-id:")) return true;
        size_t nl = block.find('\n', at);
        if (nl == std::string_view::npos) break;
        at = nl + 1;
    }
    return false;
}
} // namespace

void Exchange::assign_request_id() {
    if (auto v = req_.header("x-request-id"); v && acceptable_request_id(*v)) {
        req_.request_id = *v;
        return;
    }
    // A process-wide counter, mixed with the nonce: unique within the run, unguessable across.
    static uint64_t counter = 0;
    uint64_t words[2] = {process_nonce(), ++counter};
    static constexpr char hex[] = "0123456789abcdef";
    for (int w = 0; w < 2; ++w)
        for (int i = 0; i < 16; ++i)
            generated_id_[w * 16 + i] = hex[(words[w] >> (60 - 4 * i)) & 0xf];
    req_.request_id = std::string_view(generated_id_, sizeof generated_id_);
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
    if (iequals(name, "x-request-id")) response_has_request_id_ = true;
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
    if (!req_.request_id.empty() && !response_has_request_id_)
        response_has_request_id_ = block_has_request_id(block);
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
            b.append("Transfer-Encoding: ");
            if (!transfer_coding_.empty()) {
                b.append(transfer_coding_);
                b.append(", ");
            }
            b.append("chunked\r\n");
        }
    }
    if (!req_.request_id.empty() && !response_has_request_id_) {
        b.append("X-Request-Id: ");
        b.append(req_.request_id);
        b.append("\r\n");
    }
    if (!omit_date_) {
        b.append("Date: ");
        b.append(conn_->date());
        b.append("\r\n");
    }
    if (!req_.keep_alive || conn_->must_close()) close_after_ = true;
    if (close_after_)
        b.append("Connection: close\r\n");
    else if (req_.version_minor == 0)
        b.append("Connection: keep-alive\r\n");
    b.append("\r\n");
}

void Exchange::send(Body body) {
    bool no_body = req_.is_head() || status_ == 204 || status_ == 304 || (status_ && status_ < 200);
    finish_head(body.size(), false);
    if (!no_body) {
        body_bytes_ = body.size();
        conn_->out().append(std::move(body));
    }
    finish();
}

void Exchange::send_head_only(uint64_t content_length) {
    finish_head(content_length, false);
    finish();
}

bool Exchange::send_interim(int status, std::string_view block) {
    if (req_.version_minor < 1 || status < 100 || status > 199 || status == 101 || head_started_ ||
        complete_ || conn_->closed())
        return false;
    std::string& b = conn_->out().bytes;
    b.append("HTTP/1.1 ");
    append_u64(b, static_cast<uint64_t>(status));
    b.push_back(' ');
    b.append(status_text(status));
    b.append("\r\n");
    b.append(block);
    b.append("\r\n");
    conn_->flush();
    return true;
}

bool Exchange::relay_transfer_coding(std::string_view codings) {
    if (req_.version_minor < 1) return false;
    transfer_coding_ = codings;
    return true;
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
    if (conn_->closed()) return false;
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
    return !conn_->closed();
}

void Exchange::stream_end() {
    if (stream_length_ && *stream_length_ != body_bytes_ && !req_.is_head()) {
        stream_abort(); // a short body with a promised length must not look complete
        return;
    }
    if (chunked_) conn_->out().append("0\r\n\r\n");
    finish();
}

void Exchange::stream_abort() {
    close_after_ = true;
    finish();
}

void Exchange::finish() {
    complete_ = true;
    conn_->exchange_complete(close_after_);
}

bool Exchange::admin() const {
    return conn_->admin();
}

bool Exchange::congested() const {
    return conn_->congested();
}

void Exchange::on_drain(std::function<void()> cb) {
    if (!conn_->congested()) {
        cb();
        return;
    }
    conn_->set_drain_callback(std::move(cb));
}

ExchangeRef Exchange::defer() {
    deferred_ = true;
    return ExchangeRef(conn_, seq_);
}

} // namespace ec::http
