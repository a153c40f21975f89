// UpstreamConn: libuv TCP plumbing for one origin connection; parsing is ResponseParser's, policy
// the fetch's.
#include "origin/upstream_conn.hpp"

#include "net/socket_stream.hpp"
#include "origin/fetch_impl.hpp"
#include "origin/pool_core.hpp"
#include "origin/upstream.hpp"

namespace ec::origin {

namespace {
// Idle connections read only to notice a close or stray bytes (which close them too).
char idle_scratch[256];
} // namespace

UpstreamConn::UpstreamConn(std::shared_ptr<Upstream> server, size_t max_head_bytes)
    : server_(std::move(server)), parser_(max_head_bytes) {
    PoolCore* pool = server_->pool();
    net::Stream* plain = net::SocketStream::create(pool->loop().uv(), net::SocketStream::Kind::tcp);
    stream_ = pool->stream_wrap() ? pool->stream_wrap()(plain, server_->host()) : plain;
    stream_->set_events(this);
    server_->add(this);
    ++server_->pool()->stats().connections_opened;
}

UpstreamConn::~UpstreamConn() {
    give_buffer();
}

void UpstreamConn::connect(const sockaddr* addr) {
    int rc = stream_->connect(addr);
    if (rc != 0) {
        // Reported from the close callback, so the fetch never hears of it on its own stack.
        sync_error_ = rc;
        close();
    }
}

void UpstreamConn::on_connect(int status) {
    if (state_ == State::closed) return; // closed while connecting; freed in on_closed
    if (status == 0) state_ = State::active;
    if (ex_)
        ex_->conn_connected(this, status);
    else
        close();
}

std::string UpstreamConn::error_text(int status) const {
    std::string text = net::error_text(status);
    std::string_view reason = stream_ ? stream_->failure_reason() : std::string_view();
    if (!reason.empty()) text.append(": ").append(reason);
    return text;
}

bool UpstreamConn::send(std::shared_ptr<const Outgoing> out) {
    state_ = State::active;
    leftover_ = eof_ = false;
    uv_buf_t bufs[2];
    unsigned n = 0;
    bufs[n++] =
        uv_buf_init(const_cast<char*>(out->head.data()), static_cast<unsigned>(out->head.size()));
    if (!out->body.empty())
        bufs[n++] = uv_buf_init(const_cast<char*>(out->body.data()),
                                static_cast<unsigned>(out->body.size()));
    // A request nearly always fits in the socket buffer: no write request then.
    int rc = stream_->try_write(bufs, n);
    if (rc == static_cast<int>(n)) {
        start_reading();
        return true;
    }
    if (rc >= 0) {
        unsigned first = static_cast<unsigned>(rc);
        writing_ = std::move(out); // the rest is written from these bytes
        rc = stream_->write(write_req_, bufs + first, n - first);
    }
    if (rc != 0) {
        // EPIPE and friends: the server closed it. Tell the fetch later, from the read side.
        writing_.reset();
        eof_ = true;
        sync_error_ = rc;
        close();
        return false;
    }
    start_reading();
    return false;
}

void UpstreamConn::on_write(net::WriteReq&, int status) {
    writing_.reset();
    if (state_ == State::closed) return;
    if (ex_) ex_->conn_written(this, status);
}

void UpstreamConn::start_reading() {
    if (reading_ || state_ == State::closed || state_ == State::connecting) return;
    if (stream_->read_start() == 0) reading_ = true;
}

void UpstreamConn::stop_reading() {
    if (!reading_) return;
    stream_->read_stop();
    reading_ = false;
}

uv_buf_t UpstreamConn::on_alloc(size_t) {
    if (state_ != State::active) return uv_buf_init(idle_scratch, sizeof idle_scratch);
    if (!buf_) {
        PoolCore* pool = server_->pool();
        buf_cap_ = pool ? pool->tuning().read_buffer : 65536;
        buf_ = pool ? pool->take_buffer() : new char[buf_cap_];
    }
    return uv_buf_init(buf_, static_cast<unsigned>(buf_cap_));
}

void UpstreamConn::on_read(ssize_t nread, const uv_buf_t& buf) {
    if (state_ == State::closed || nread == 0) return;
    if (state_ != State::active || !ex_) {
        // Idle: the server closed it, or sent bytes nobody asked for. Either way it is done.
        close();
        return;
    }
    FetchImpl* ex = ex_;
    if (nread > 0) {
        auto n = static_cast<size_t>(nread);
        size_t used = parser_.feed(buf.base, n);
        if (used < n && parser_.complete()) leftover_ = true;
        ex->conn_input(this);
    } else if (nread == UV_EOF) {
        eof_ = true;
        stop_reading();
        parser_.finish();
        ex->conn_input(this);
    } else {
        stop_reading();
        ex->conn_lost(this, static_cast<int>(nread));
    }
}

void UpstreamConn::release(bool reusable) {
    ex_ = nullptr;
    PoolCore* pool = server_->pool();
    if (!reusable || eof_ || leftover_ || writing_ || server_->retired || !pool ||
        pool->is_shut() || server_->open() > pool->spec().max_connections) {
        close();
        return;
    }
    // Reading stays on (idle connections read to notice a close): stopping and restarting it
    // would cost two epoll_ctl calls per request.
    give_buffer();
    state_ = State::idle;
    idle_since_ = pool->now();
    start_reading();
    server_->conn_idle(this);
}

void UpstreamConn::give_buffer() {
    if (!buf_) return;
    PoolCore* pool = server_->pool();
    if (pool)
        pool->give_buffer(buf_);
    else
        delete[] buf_;
    buf_ = nullptr;
}

void UpstreamConn::close() {
    if (state_ == State::closed) return;
    state_ = State::closed;
    reading_ = false;
    stream_->close();
    server_->conn_closed(this); // may start queued requests on other connections
}

void UpstreamConn::on_closed() {
    stream_ = nullptr;
    if (sync_error_ && ex_) {
        FetchImpl* ex = ex_;
        ex_ = nullptr;
        if (eof_)
            ex->conn_lost(this, sync_error_); // the write failed at once
        else
            ex->conn_connected(this, sync_error_);
    }
    delete this;
}

} // namespace ec::origin
