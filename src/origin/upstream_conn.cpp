// UpstreamConn: libuv TCP plumbing for one origin connection; parsing is ResponseParser's, policy
// the fetch's.
#include "origin/upstream_conn.hpp"

#include "loop/try_write.hpp"
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
    uv_tcp_init(server_->pool()->loop().uv(), &tcp_);
    tcp_.data = this;
    connect_req_.data = this;
    write_req_.data = this;
    server_->add(this);
    ++server_->pool()->stats().connections_opened;
}

UpstreamConn::~UpstreamConn() {
    give_buffer();
}

void UpstreamConn::connect(const sockaddr* addr) {
    int rc = uv_tcp_connect(&connect_req_, &tcp_, addr, on_connect);
    if (rc != 0) {
        // Reported from the close callback, so the fetch never hears of it on its own stack.
        sync_error_ = rc;
        close();
    }
}

void UpstreamConn::on_connect(uv_connect_t* req, int status) noexcept {
    auto* c = static_cast<UpstreamConn*>(req->data);
    if (c->state_ == State::closed) return; // closed while connecting; freed in on_close
    if (status == 0) {
        c->state_ = State::active;
        uv_tcp_nodelay(&c->tcp_, 1);
    }
    if (c->ex_)
        c->ex_->conn_connected(c, status);
    else
        c->close();
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
    // A request nearly always fits in the socket buffer: no write request then (loop::try_write).
    auto* stream = reinterpret_cast<uv_stream_t*>(&tcp_);
    int rc = loop::try_write(stream, bufs, n);
    if (rc == static_cast<int>(n)) {
        start_reading();
        return true;
    }
    if (rc >= 0) {
        unsigned first = static_cast<unsigned>(rc);
        writing_ = std::move(out); // the rest is written from these bytes
        rc = uv_write(&write_req_, stream, bufs + first, n - first, on_write);
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

void UpstreamConn::on_write(uv_write_t* req, int status) noexcept {
    auto* c = static_cast<UpstreamConn*>(req->data);
    c->writing_.reset();
    if (c->state_ == State::closed) return;
    if (c->ex_) c->ex_->conn_written(c, status);
}

void UpstreamConn::start_reading() {
    if (reading_ || state_ == State::closed || state_ == State::connecting) return;
    if (uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), on_alloc, on_read) == 0)
        reading_ = true;
}

void UpstreamConn::stop_reading() {
    if (!reading_) return;
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
    reading_ = false;
}

void UpstreamConn::on_alloc(uv_handle_t* h, size_t, uv_buf_t* buf) noexcept {
    auto* c = static_cast<UpstreamConn*>(h->data);
    if (c->state_ == State::active) {
        if (!c->buf_) {
            PoolCore* pool = c->server_->pool();
            c->buf_cap_ = pool ? pool->tuning().read_buffer : 65536;
            c->buf_ = pool ? pool->take_buffer() : new char[c->buf_cap_];
        }
        *buf = uv_buf_init(c->buf_, static_cast<unsigned>(c->buf_cap_));
    } else {
        *buf = uv_buf_init(idle_scratch, sizeof idle_scratch);
    }
}

void UpstreamConn::on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) noexcept {
    static_cast<UpstreamConn*>(s->data)->handle_read(nread, buf);
}

void UpstreamConn::handle_read(ssize_t nread, const uv_buf_t* buf) {
    if (state_ == State::closed || nread == 0) return;
    if (state_ != State::active || !ex_) {
        // Idle: the server closed it, or sent bytes nobody asked for. Either way it is done.
        close();
        return;
    }
    FetchImpl* ex = ex_;
    if (nread > 0) {
        auto n = static_cast<size_t>(nread);
        size_t used = parser_.feed(buf->base, n);
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
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), on_close);
    server_->conn_closed(this); // may start queued requests on other connections
}

void UpstreamConn::on_close(uv_handle_t* h) noexcept {
    auto* c = static_cast<UpstreamConn*>(h->data);
    if (c->sync_error_ && c->ex_) {
        FetchImpl* ex = c->ex_;
        c->ex_ = nullptr;
        if (c->eof_)
            ex->conn_lost(c, c->sync_error_); // the write failed at once
        else
            ex->conn_connected(c, c->sync_error_);
    }
    delete c;
}

} // namespace ec::origin
