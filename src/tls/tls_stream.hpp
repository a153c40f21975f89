// TlsStream: TLS as one more net::Stream — an Engine over the plain socket stream it wraps, for
// HTTPS origins (client side) and TLS listeners (server side).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>

#include "loop/handle.hpp"
#include "loop/loop.hpp"
#include "net/stream.hpp"
#include "tls/engine.hpp"

namespace ec::tls {

// Client side: connect() connects the inner stream, runs the handshake, and only then reports
// on_connect(0) — so the origin's connect timeout covers the handshake too; a failed handshake
// is on_connect(kErrTls) with failure_reason(). Server side: the handshake runs as soon as bytes
// arrive (reading starts at construction); the owner sees decrypted bytes only after it, and a
// handshake that has not finished within `handshake_timeout_ms` ends with on_read(kErrTls)
// ("TLS handshake timed out"), as does a failed one, garbage or a plaintext request.
//
// Output: every write is encrypted at once into records the stream owns until the socket took
// them (owned_output_bytes(), counted by the owner against its output budget); write()'s
// completion follows the inner write of its records. try_write() takes nothing while earlier
// records are still held, like uv_try_write on a socket with a write queue, so the owner's
// write queue (write_queue_size()) and its high-water mark see a client that stops reading.
// Input: at most one socket read of ciphertext is decrypted at a time, and decrypted bytes wait
// in the stream only while the owner has stopped reading (bounded by one read's worth, plus one
// TLS record).
class TlsStream final : public net::Stream, private net::StreamEvents {
public:
    // `on_handshake_end` (may be empty) runs once when the handshake finished or failed, or the
    // stream closed before: the listener's concurrent-handshake count. A null `engine` makes a
    // stream that fails at once with `failure` (a context that could not be built): connect()
    // returns kErrTls, a server side reports it on the first read.
    TlsStream(loop::Loop& loop, net::Stream* inner, std::unique_ptr<Engine> engine, bool client,
              uint32_t handshake_timeout_ms, std::function<void()> on_handshake_end = {},
              std::string failure = {});

    int connect(const sockaddr* addr) override;
    int read_start() override;
    void read_stop() override;
    int try_write(uv_buf_t* bufs, unsigned n) override;
    int write(net::WriteReq& req, const uv_buf_t* bufs, unsigned n) override;
    size_t write_queue_size() const override { return held_ + inner_write_queue(); }
    size_t owned_output_bytes() const override { return held_; }
    int shutdown() override;
    void close() override;
    bool peer(sockaddr_storage& out) const override;
    bool is_unix() const override;
    std::string_view failure_reason() const override { return failure_; }

private:
    struct Out {
        std::string bytes;
        net::WriteReq inner_req;
        net::WriteReq* owner = nullptr;
    };
    ~TlsStream() override;

    size_t inner_write_queue() const { return inner_ ? inner_->write_queue_size() : 0; }
    int send(std::string bytes, net::WriteReq* owner);
    int flush();
    void advance();
    void deliver();
    void fail(const char* why);
    void handshake_over();
    void post_delivery();
    void release();

    // Inner stream events.
    uv_buf_t on_alloc(size_t suggested) override;
    void on_read(ssize_t nread, const uv_buf_t& buf) override;
    void on_write(net::WriteReq& req, int status) override;
    void on_connect(int status) override;
    void on_shutdown(int status) override;
    void on_closed() override;

    loop::Loop& loop_;
    net::Stream* inner_;
    std::unique_ptr<Engine> engine_;
    bool client_;
    std::string failure_;
    std::optional<loop::Timer> handshake_timer_;
    std::function<void()> on_handshake_end_;
    char raw_[16 * 1024]; // ciphertext from the socket
    std::string plain_;   // decrypted, not yet taken by the owner
    std::deque<Out> out_; // records until the inner stream wrote them
    size_t held_ = 0;
    bool reading_ = false;    // the owner wants bytes
    bool connecting_ = false; // client: on_connect not yet reported
    bool handshake_done_ = false;
    bool failed_ = false;
    bool posted_ = false;
    int end_ = 0;  // UV_EOF, kErrTls or another error not yet delivered to the owner
    int keep_ = 1; // our own reference (dropped once closed) + posted callbacks
};

} // namespace ec::tls
