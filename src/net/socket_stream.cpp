// SocketStream: libuv's stream calls behind net::Stream, and their callbacks turned into events.
#include "net/socket_stream.hpp"

#include <cstddef>

namespace ec::net {

const char* error_text(int code) {
    if (code == kErrTls) return "TLS failure";
    return uv_strerror(code);
}

SocketStream* SocketStream::create(uv_loop_t* loop, Kind kind) {
    return new SocketStream(loop, kind);
}

SocketStream::SocketStream(uv_loop_t* loop, Kind kind) : kind_(kind) {
    if (kind == Kind::tcp)
        uv_tcp_init(loop, &h_.tcp);
    else
        uv_pipe_init(loop, &h_.pipe, 0);
    h_.handle.data = this;
    connect_req_.data = this;
    shutdown_req_.data = this;
}

int SocketStream::accept(uv_stream_t* listener) {
    int rc = uv_accept(listener, stream());
    if (rc == 0 && kind_ == Kind::tcp) uv_tcp_nodelay(&h_.tcp, 1);
    return rc;
}

int SocketStream::open(int fd) {
    return kind_ == Kind::tcp ? uv_tcp_open(&h_.tcp, fd) : uv_pipe_open(&h_.pipe, fd);
}

int SocketStream::connect(const sockaddr* addr) {
    if (kind_ != Kind::tcp) return UV_EINVAL; // origins are TCP
    return uv_tcp_connect(&connect_req_, &h_.tcp, addr, on_connect);
}

void SocketStream::on_connect(uv_connect_t* req, int status) noexcept {
    auto* s = static_cast<SocketStream*>(req->data);
    if (status == 0 && !s->closing_) uv_tcp_nodelay(&s->h_.tcp, 1);
    if (s->events_) s->events_->on_connect(status);
}

int SocketStream::read_start() {
    if (reading_) return 0;
    if (closing_) return UV_EINVAL;
    int rc = uv_read_start(stream(), on_alloc, on_read);
    if (rc == 0) reading_ = true;
    return rc;
}

void SocketStream::read_stop() {
    if (!reading_) return;
    uv_read_stop(stream());
    reading_ = false;
}

void SocketStream::on_alloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf) noexcept {
    auto* s = static_cast<SocketStream*>(h->data);
    *buf = s->events_ ? s->events_->on_alloc(suggested) : uv_buf_init(nullptr, 0);
}

void SocketStream::on_read(uv_stream_t* st, ssize_t nread, const uv_buf_t* buf) noexcept {
    auto* s = static_cast<SocketStream*>(st->data);
    if (s->events_) s->events_->on_read(nread, *buf);
}

// Why not always uv_write: a write request arms POLLOUT, and disarming it when the request
// completes costs an epoll_ctl per write; most responses and origin requests fit in the socket
// buffer, and then no request is needed at all.
int SocketStream::try_write(uv_buf_t* bufs, unsigned n) {
    int rc = uv_try_write(stream(), bufs, n);
    if (rc == UV_EAGAIN || rc == UV_ENOSYS) return 0;
    if (rc < 0) return rc;
    auto written = static_cast<size_t>(rc);
    unsigned first = 0;
    while (first < n && written >= bufs[first].len)
        written -= bufs[first++].len;
    if (first < n) {
        bufs[first].base += written;
        bufs[first].len -= written;
    }
    return static_cast<int>(first);
}

int SocketStream::write(WriteReq& req, const uv_buf_t* bufs, unsigned n) {
    req.uv.data = &req;
    return uv_write(&req.uv, stream(), bufs, n, on_write);
}

void SocketStream::on_write(uv_write_t* req, int status) noexcept {
    auto* s = static_cast<SocketStream*>(req->handle->data);
    if (s->events_) s->events_->on_write(*static_cast<WriteReq*>(req->data), status);
}

size_t SocketStream::write_queue_size() const {
    return uv_stream_get_write_queue_size(&h_.stream);
}

int SocketStream::shutdown() {
    return uv_shutdown(&shutdown_req_, stream(), on_shutdown);
}

void SocketStream::on_shutdown(uv_shutdown_t* req, int status) noexcept {
    auto* s = static_cast<SocketStream*>(req->data);
    if (s->events_) s->events_->on_shutdown(status);
}

void SocketStream::close() {
    if (closing_) return;
    closing_ = true;
    reading_ = false;
    // libuv runs the cancelled write and shutdown callbacks before this close callback.
    uv_close(&h_.handle, on_close);
}

void SocketStream::on_close(uv_handle_t* h) noexcept {
    auto* s = static_cast<SocketStream*>(h->data);
    if (s->events_) s->events_->on_closed();
    delete s;
}

bool SocketStream::peer(sockaddr_storage& out) const {
    if (kind_ == Kind::unix_socket) {
        out = sockaddr_storage{};
        out.ss_family = AF_UNIX;
        return true;
    }
    int len = sizeof out;
    return uv_tcp_getpeername(&h_.tcp, reinterpret_cast<sockaddr*>(&out), &len) == 0;
}

} // namespace ec::net
