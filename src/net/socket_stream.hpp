// SocketStream: net::Stream over a libuv TCP socket or Unix socket, the plain transport.
#pragma once

#include <uv.h>

#include "loop/handle.hpp"
#include "net/stream.hpp"

namespace ec::net {

// Reads and writes go straight to libuv (uv_read_start, uv_try_write, uv_write, uv_shutdown);
// the handle is embedded, so a connection costs one allocation here. TCP_NODELAY is set once
// connected or accepted: requests and responses are written whole, never a byte at a time.
class SocketStream final : public Stream {
public:
    enum class Kind { tcp, unix_socket };

    // A new, unconnected socket; released by close() like every Stream.
    static SocketStream* create(uv_loop_t* loop, Kind kind);

    // Server side: takes the next connection waiting on `listener`. 0 or a libuv error (then
    // close() this stream).
    int accept(uv_stream_t* listener);
    // Adopts a connected descriptor of this kind (tests: one end of a socketpair). 0 or a libuv
    // error; the stream owns fd either way once close() runs.
    int open(int fd);

    int connect(const sockaddr* addr) override;
    int read_start() override;
    void read_stop() override;
    int try_write(uv_buf_t* bufs, unsigned n) override;
    int write(WriteReq& req, const uv_buf_t* bufs, unsigned n) override;
    size_t write_queue_size() const override;
    int shutdown() override;
    void close() override;
    bool peer(sockaddr_storage& out) const override;
    bool is_unix() const override { return kind_ == Kind::unix_socket; }

private:
    SocketStream(uv_loop_t* loop, Kind kind);
    ~SocketStream() override = default;
    uv_stream_t* stream() { return &h_.stream; }
    static void on_alloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf) noexcept;
    static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) noexcept;
    static void on_write(uv_write_t* req, int status) noexcept;
    static void on_connect(uv_connect_t* req, int status) noexcept;
    static void on_shutdown(uv_shutdown_t* req, int status) noexcept;
    static void on_close(uv_handle_t* h) noexcept;

    Kind kind_;
    loop::StreamHandle h_;
    uv_connect_t connect_req_;
    uv_shutdown_t shutdown_req_;
    bool reading_ = false;
};

} // namespace ec::net
