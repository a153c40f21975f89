// UpstreamConn: one connection to an origin server — connect, write a request, read the reply.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include <uv.h>

#include "net/stream.hpp"
#include "origin/response_parser.hpp"

namespace ec::origin {

class FetchImpl;
class Upstream;
struct Outgoing;

// States: connecting → active (carrying one fetch) ⇄ idle (in the server's keep-alive
// list, reading only to notice a close) → closed. The memory is freed in the close callback;
// close() is idempotent and safe from any callback, and every libuv callback checks for
// `closed` first. Events go to the attached fetch (ex_), which may close this connection from
// inside them: after calling it, touch nothing but state_. Bytes move through a net::Stream (a
// plain TCP socket, or the pool's wrap of one, e.g. TLS).
class UpstreamConn final : private net::StreamEvents {
public:
    enum class State { connecting, active, idle, closed };

    UpstreamConn(std::shared_ptr<Upstream> server, size_t max_head_bytes);
    UpstreamConn(const UpstreamConn&) = delete;
    UpstreamConn& operator=(const UpstreamConn&) = delete;

    // Starts connecting; the result comes back as FetchImpl::conn_connected, never on this
    // stack (a synchronous failure is reported from the close callback).
    void connect(const sockaddr* addr);
    void attach(FetchImpl* ex) { ex_ = ex; }
    void detach() { ex_ = nullptr; }
    // Writes the request (head + body as two iovecs) and reads the response. True when the
    // whole request went out at once; otherwise FetchImpl::conn_written follows from the write
    // callback, or a failure is reported from the close callback.
    bool send(std::shared_ptr<const Outgoing> out);
    void start_reading();
    void stop_reading();
    // After a complete response: back to the server's idle list when `reusable`, else closed.
    void release(bool reusable);
    void close();

    State state() const { return state_; }
    ResponseParser& parser() { return parser_; }
    // "connection refused", or with the stream's own reason ("TLS failure: certificate verify
    // failed") while it still has one.
    std::string error_text(int status) const;
    Upstream& server() { return *server_; }
    bool writing() const { return writing_ != nullptr; }
    bool leftover() const { return leftover_; }
    bool eof() const { return eof_; }
    uint64_t idle_since() const { return idle_since_; }

private:
    ~UpstreamConn();
    // Stream events.
    void on_connect(int status) override;
    uv_buf_t on_alloc(size_t suggested) override;
    void on_read(ssize_t nread, const uv_buf_t& buf) override;
    void on_write(net::WriteReq& req, int status) override;
    void on_closed() override;
    void give_buffer();

    std::shared_ptr<Upstream> server_;
    FetchImpl* ex_ = nullptr;
    State state_ = State::connecting;
    net::Stream* stream_; // null once it has closed
    net::WriteReq write_req_;
    std::shared_ptr<const Outgoing> writing_; // the request bytes, until the write callback
    ResponseParser parser_;
    char* buf_ = nullptr; // the read buffer while active (from the pool's free list)
    size_t buf_cap_ = 0;
    bool reading_ = false;
    bool leftover_ = false; // bytes followed the response: never reuse
    bool eof_ = false;
    int sync_error_ = 0; // connect failed synchronously; reported from the close callback
    uint64_t idle_since_ = 0;
};

} // namespace ec::origin
