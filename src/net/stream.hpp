// Stream: the byte stream under both HTTP sides (client connections, origin connections) —
// plain TCP / Unix sockets today (socket_stream.hpp), TLS as one more implementation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>

#include <sys/socket.h>
#include <sys/types.h>
#include <uv.h>

namespace ec::net {

class Stream;

// An error a stream reports beyond libuv's codes: the TLS handshake or a TLS record failed.
// Stream::failure_reason() says why ("certificate verify failed: unable to get local issuer
// certificate", "tlsv1 alert protocol version"). Outside libuv's range, so never confused with it.
inline constexpr int kErrTls = -20000;
// uv_strerror(), plus kErrTls.
const char* error_text(int code);

// One asynchronous write. The owner embeds it (in its output batch, beside the bytes) and keeps
// it and the bytes it names alive until StreamEvents::on_write for it has run.
struct WriteReq {
    void* data = nullptr; // the owner's
    // The implementation's: the socket stream writes through it; a wrapping stream (TLS) may
    // queue requests by `next`.
    uv_write_t uv{};
    WriteReq* next = nullptr;
};

// What a Stream tells its owner. Every event runs on the loop thread from a libuv callback (or a
// posted one), never on the stack of the Stream call that caused it; the owner may call any
// Stream function from inside, including close(). Order: on_connect first (client side), then
// reads and write completions as they come; on_shutdown after a shutdown(); on_closed last.
class StreamEvents {
public:
    // Where to put the next bytes read: the owner's memory, which must stay put until the
    // matching on_read. An empty buffer (len 0) means "no room": on_read gets UV_ENOBUFS.
    virtual uv_buf_t on_alloc(size_t suggested) = 0;
    // nread > 0: that many bytes landed at buf.base. nread < 0: UV_EOF (the peer finished
    // sending), UV_ENOBUFS, kErrTls (the stream cannot go on) or another libuv error. 0 means
    // nothing happened (EAGAIN) and can be ignored. The stream stays open: closing is the owner's
    // call. Reading goes on until read_stop() or an error.
    virtual void on_read(ssize_t nread, const uv_buf_t& buf) = 0;
    // Exactly once per write() that returned 0: status 0 when every byte was handed to the
    // kernel, else an error (UV_ECANCELED when the stream was closed first).
    virtual void on_write(WriteReq& req, int status) = 0;
    // Output the stream held as its own copies (owned_output_bytes) went to the kernel without
    // an on_write for the owner (bytes that try_write accepted): for the owner's output budget.
    virtual void on_output_written() {}
    // After connect(): 0 once the stream is ready for requests (for TLS: handshake complete), or
    // an error (kErrTls with failure_reason() for a failed handshake).
    virtual void on_connect(int status) { (void)status; }
    // After shutdown(): 0 once our side's end of stream was sent, or an error (UV_ECANCELED when
    // closed first).
    virtual void on_shutdown(int status) { (void)status; }
    // The last event: pending writes and a pending shutdown have had their callbacks. The stream
    // frees itself right after this returns.
    virtual void on_closed() = 0;

protected:
    ~StreamEvents() = default;
};

// A connected (or connecting) byte stream. Owns itself: it is released only by close(), and frees
// its memory after on_closed (so an owner that still gets events can never see a dangling
// stream). Single-threaded; every call is non-blocking.
class Stream {
public:
    Stream(const Stream&) = delete;
    Stream& operator=(const Stream&) = delete;

    // Who gets the events (may be null while nobody listens: events are then dropped).
    void set_events(StreamEvents* events) { events_ = events; }
    StreamEvents* events() const { return events_; }

    // Client side: connects to addr; the result comes as on_connect. A negative return is a
    // failure known at once (no on_connect then).
    virtual int connect(const sockaddr* addr) = 0;

    // Reads into the owner's buffers (on_alloc, on_read) until read_stop(). Returns 0 or a libuv
    // error. Bytes the stream already holds (a TLS record decrypted past what the last buffer
    // took) are delivered from a posted callback, not on this stack. Idempotent.
    virtual int read_start() = 0;
    virtual void read_stop() = 0;

    // Writes what the stream accepts now, without a write request. Returns the index of the
    // first buffer with bytes left (n when all went; that buffer's base and len are moved past
    // its written part), or a negative error. 0 with nothing accepted is normal (EAGAIN).
    // Accepted bytes are the stream's: the caller may reuse its buffers at once. Only call it
    // with no write() in flight, or the order of bytes on the wire breaks.
    virtual int try_write(uv_buf_t* bufs, unsigned n) = 0;
    // Writes bufs[0..n) after everything written before; the bytes (not the array) must stay
    // valid until on_write(req). Returns 0, or a negative error with no on_write.
    virtual int write(WriteReq& req, const uv_buf_t* bufs, unsigned n) = 0;
    // Bytes accepted for writing and not yet handed to the kernel: what a slow reader has made
    // us hold, for congestion decisions.
    virtual size_t write_queue_size() const = 0;
    // Memory the stream itself holds for output beyond the owner's buffers (TLS records waiting
    // for the socket); it counts toward the owner's output budget. 0 for a plain socket.
    virtual size_t owned_output_bytes() const { return 0; }

    // Ends our direction once the writes before it are out (TLS: close_notify first); reading
    // goes on. Returns 0 (on_shutdown follows) or a negative error (no on_shutdown).
    virtual int shutdown() = 0;
    // Closes now: pending writes and a pending shutdown complete with UV_ECANCELED, then
    // on_closed, then the memory is freed. Idempotent; safe from inside any event.
    virtual void close() = 0;
    bool closing() const { return closing_; }

    // The peer's address (family AF_UNIX for a Unix socket); false when unknown.
    virtual bool peer(sockaddr_storage& out) const = 0;
    virtual bool is_unix() const = 0;
    // Why the last kErrTls (or other stream-level) failure happened; empty when the code says it
    // all. Valid until the next event.
    virtual std::string_view failure_reason() const { return {}; }

protected:
    Stream() = default;
    virtual ~Stream() = default; // only from the implementation, after on_closed

    StreamEvents* events_ = nullptr;
    bool closing_ = false;
};

// Puts another stream (TLS) over a plain socket stream and returns the stream to use, which owns
// `plain` from then on (closing it closes both). `peer_host` is the name the client side
// connects to (for SNI and certificate checks); empty on the server side. Called on the loop
// thread as a connection is accepted (http::Listener::wrap) or opened (origin::Pool).
using StreamWrap = std::function<Stream*(Stream* plain, std::string_view peer_host)>;

} // namespace ec::net
