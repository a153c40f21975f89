// Connection: the per-client state machine over llhttp — read, parse, dispatch, write, close.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <llhttp.h>
#include <sys/socket.h>
#include <uv.h>

#include "http/chunk_framing.hpp"
#include "http/exchange.hpp"
#include "http/head_check.hpp"
#include "http/write_batch.hpp"
#include "net/stream.hpp"

namespace ec::http {

class Handler;
class Server;
struct Listener;

// States (memcached's conn_states); every change goes through set_state():
//   idle      — between requests: no byte of the next head parsed yet (bytes may be buffered);
//               reads are on unless output is congested; idle_timeout_ms applies
//   head      — a request head is arriving; header_timeout_ms applies from its first byte
//   body      — the head is complete and its body arriving; idle_timeout_ms applies to progress
//   handling  — a complete request is with the handler; reads are off, so the request's
//               buffers stay put and pipelined requests wait their turn (responses stay in
//               order, and a connection reads its own writes)
//   closing   — a final response is queued; once written, shut down the write side
//   lingering — write side shut; read and discard until EOF or the linger timeout, so unread
//               input cannot turn our response into a reset
//   closed    — the stream is closing; memory freed once it has closed and no ref remains
//
// Bytes move through a net::Stream (a plain socket, or TLS over one); the connection is its
// events' receiver, and is freed once the stream has closed and no ExchangeRef remains.
class Connection final : private net::StreamEvents {
public:
    // Takes over `stream` (accepted, not yet reading).
    Connection(Server& server, Listener& listener, net::Stream* stream);
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;

    // --- The Server's view: it accepts, times out, drains and sheds connections.
    // Starts reading.
    void start();
    // Rejects at the connection cap: not counted against it, a canned 503 (unless `answer`
    // is false: too many rejections are being written already), then close.
    void reject_busy(bool answer);
    bool rejected() const { return rejected_; }
    // Idempotent; safe from any callback. Memory is freed later.
    void close();
    // Graceful shutdown: close now if idle, else after the response in flight.
    void drain();
    // Called by the server's sweep timer with the loop's monotonic time.
    void check_timeouts(uint64_t now_ms);
    // On an admin listener (the admin socket, admin_listen).
    bool admin() const;
    // For shedding over max_queued_output: the output bytes held, the last time the client was
    // seen taking output (0 = never; note_write_progress() looks again), and since when it has
    // held some.
    size_t output_held() const { return held_; }
    void note_write_progress(uint64_t now_ms);
    uint64_t read_seen_ms() const { return read_seen_ms_; }
    uint64_t held_since_ms() const { return held_since_ms_; }
    // For refusing uploads over max_buffered_bodies: a request body is arriving, and when its
    // last byte came; refuse_upload() answers 503 and closes.
    bool uploading() const { return state_ == State::body && body_received_ > 0; }
    uint64_t body_progress_ms() const { return body_progress_ms_; }
    void refuse_upload();

    // --- The Exchange's whole view of the connection carrying it.
    // The output batch being filled, and writing it out.
    WriteBatch& out();
    void flush();
    // The response is complete: serve the next request, or close after this one.
    void exchange_complete(bool close_after);
    bool closed() const { return state_ == State::closed; }
    // The response must carry Connection: close: the request asked to switch protocols, the
    // client has half-closed, or the server is draining.
    bool must_close() const;
    // "Date" for the current second.
    std::string_view date();
    bool congested() const { return congested_; }
    // See Exchange::on_drain.
    void set_drain_callback(std::function<void()> cb) { drain_cb_ = std::move(cb); }

    // --- ExchangeRef's view: a reference keeps this object's memory (not the connection)
    // alive; the exchange is reachable through it while request number `seq` is in flight.
    void retain() { ++refs_; }
    void release();
    Exchange* exchange_in_flight(uint64_t seq);

    // Intrusive list of the server's connections.
    Connection* prev = nullptr;
    Connection* next = nullptr;

private:
    enum class State { idle, head, body, handling, closing, lingering, closed };

    // Stream events.
    uv_buf_t on_alloc(size_t suggested) override;
    void on_read(ssize_t nread, const uv_buf_t& buf) override;
    void on_write(net::WriteReq& req, int status) override;
    void on_output_written() override;
    void on_shutdown(int status) override;
    void on_closed() override;

    // Read side.
    void handle_read(ssize_t nread);
    void process();
    // Reading a request again after a pause (fairness, congestion, a response in flight):
    // reads on unless congested, what is buffered processed, its output written.
    void resume();
    void dispatch();
    void start_reading();
    void stop_reading();
    void release_buffer_if_idle();
    void compact();

    // Parser callbacks (llhttp_callbacks.hpp routes llhttp's to them).
    static const llhttp_settings_t& settings();
    int on_message_begin();
    int on_method(const char* at, size_t len);
    int on_url(const char* at, size_t len);
    int on_header_field(const char* at, size_t len);
    int on_header_field_complete();
    int on_header_value(const char* at, size_t len);
    int on_header_value_complete();
    int on_headers_complete();
    int on_body(const char* at, size_t len);
    int on_message_complete();
    int on_chunk_header();
    int on_chunk_extension(const char* at, size_t len);
    int on_chunk_complete();
    bool head_bytes_ok(const char* at, size_t len);
    int count_trailer(size_t len);
    // Offset of a head piece from the head's first byte.
    uint32_t head_offset(const char* at) const {
        return static_cast<uint32_t>(at - buf_ - msg_start_);
    }
    void fill_request(const char* base);
    int fail(int status, const char* code, const char* message);

    // Write side.
    bool try_write_all(WriteBatch& b);
    void after_write(WriteBatch* batch, int status);
    void note_stream_output();
    // Gives the body's bytes back to Server::max_buffered_bodies.
    void release_body();
    void send_error_and_close(int status, const char* code, const char* message);
    void set_state(State s) { state_ = s; }
    // idle, head or body: reading a request.
    bool reading_request() const { return state_ <= State::body; }
    // Bytes of a request not yet complete (its head or body, or unparsed input) are held.
    bool partial_request() const {
        return parsed_ < end_ || state_ == State::head || body_received_ > 0;
    }
    // The one way a connection ends gracefully: no more requests, write what is queued, then
    // (shutdown_if_written, once no write is in flight) close when the client is gone, or shut
    // our side down and linger.
    void close_after_output();
    void shutdown_if_written();

    Server& server_;
    Listener* listener_;
    net::Stream* stream_; // null once it has closed
    sockaddr_storage peer_{};
    State state_ = State::idle;
    bool rejected_ = false; // accepted over the cap, only to be told 503
    int refs_ = 1;          // the connection's own reference, dropped in the close callback

    // Read buffer (from the server's pool; held only while it holds bytes we still need).
    char* buf_ = nullptr;
    size_t buf_cap_ = 0;
    size_t parsed_ = 0;    // bytes handed to llhttp
    size_t end_ = 0;       // bytes received
    size_t msg_start_ = 0; // start of the current message's head in buf_
    bool reading_ = false;
    bool peer_eof_ = false;
    bool in_process_ = false;

    // Parser state for the message being read.
    llhttp_t parser_;
    HeadSpans head_;           // relative to msg_start_
    bool msg_started_ = false; // msg_start_ is set: the head's first span was seen
    bool message_ready_ = false;
    bool in_trailers_ = false;
    bool upgrade_ = false;
    size_t trailer_bytes_ = 0;
    size_t chunk_ext_bytes_ = 0;
    ChunkFraming framing_; // the CRLFs llhttp skips unread
    uint64_t body_limit_ = 0;
    const char* body_limit_code_ = nullptr;
    const char* body_limit_message_ = nullptr;
    uint64_t body_received_ = 0;
    size_t body_held_ = 0;          // counted against Server::max_buffered_bodies
    uint64_t body_progress_ms_ = 0; // last time a body byte arrived
    std::string head_copy_;         // the head, when a body follows (the read buffer moves on)
    std::string body_;
    int err_status_ = 0;
    const char* err_code_ = nullptr;
    const char* err_message_ = nullptr;

    // Exchange in flight.
    Exchange ex_;
    uint64_t seq_ = 0;
    size_t served_this_round_ = 0;
    size_t round_bytes_ = 0; // output queued this round (fairness, with the request count)

    // Output.
    WriteBatch* pending_ = nullptr; // being filled
    size_t writes_in_flight_ = 0;
    size_t held_ = 0;        // owned bytes in write requests and in the stream (max_queued_output)
    size_t stream_held_ = 0; // the stream's own part of held_ (TLS records not yet written)
    // For shedding over max_queued_output: the last time the client was seen taking our
    // output (a write completed, or libuv's queue had shrunk when we looked; 0 = never), and
    // since when it has held some.
    uint64_t read_seen_ms_ = 0;
    uint64_t held_since_ms_ = 0;
    size_t queue_seen_ = 0; // libuv write queue size when last looked
    bool congested_ = false;
    std::function<void()> drain_cb_;

    // Timeouts.
    uint64_t last_activity_ms_ = 0;
    uint64_t head_started_ms_ = 0;
    uint64_t linger_until_ms_ = 0;
};

} // namespace ec::http
