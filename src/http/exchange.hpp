// Exchange: one request and the response being written for it on a connection.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>

#include "http/body.hpp"
#include "http/request.hpp"

namespace ec::http {

class Connection;
class ExchangeRef;

// The key to an Exchange's carrier side (begin()): only a Connection can make one, so those
// calls are the connection's alone, and it needs no access to the Exchange's members.
class CarrierKey {
    friend class Connection;
    CarrierKey() = default;
};

// Writing a response: status(), any number of header(), then exactly one of
//   send(body)               a complete response (Content-Length from the body);
//   send_head_only(length)   a HEAD response whose body the handler never loaded;
//   begin_stream(length?)    then stream_write()... and stream_end() or stream_abort().
// Content-Length, Date and Connection are added by the exchange; handlers must not set them.
// For HEAD requests the body is dropped automatically. After any call that completes the
// response, the Exchange must not be touched again (it may already serve the next request).
class Exchange {
public:
    explicit Exchange(Connection* conn) : conn_(conn) {}

    const Request& request() const { return req_; }
    Request& mutable_request() { return req_; }
    // The request came in on an admin listener (the admin socket, admin_listen): an
    // operator's own requests, not traffic.
    bool admin() const;

    Exchange& status(int code, std::string_view reason = {});
    Exchange& header(std::string_view name, std::string_view value);
    Exchange& header(std::string_view name, uint64_t value);
    // Appends already-formatted header lines ("Name: value\r\n"...), e.g. a stored response's
    // header block replayed byte for byte.
    Exchange& raw_headers(std::string_view block);
    // The response already carries a Date (a replayed origin response): don't add ours.
    Exchange& omit_date();
    // Asks for "Connection: close" on this response (and closes after it).
    Exchange& close_after();

    void send(Body body = {});
    void send_head_only(uint64_t content_length);

    // An interim response ahead of the final one (RFC 9110 §15.2): the status line of `status`
    // (1xx), the formatted header lines `block` ("Name: value\r\n"...), the empty line, written
    // at once. Any number may precede the final status(). Returns false, writing nothing, when
    // the client must not get one: its request was HTTP/1.0 (no 1xx there), `status` is not
    // 1xx or is 101, the final head has begun, or the client is gone.
    bool send_interim(int status, std::string_view block);

    // Streaming: with a length the body is sent as is and must add up to it; without one it is
    // chunked (HTTP/1.1) or close-delimited (HTTP/1.0). The head is written at once, unless
    // `hold_head`: then it waits for the first stream_write() or stream_end(), which the caller
    // must be about to make (one write for head and body instead of two).
    void begin_stream(std::optional<uint64_t> content_length, bool hold_head = false);
    // Before begin_stream(nullopt): the body about to be streamed still has the transfer
    // `codings` on it ("gzip"); the head says "Transfer-Encoding: <codings>, chunked" (RFC 9112
    // §6.1). Returns false, changing nothing, when the client's request was HTTP/1.0, which
    // must not be sent Transfer-Encoding: answer it some other way.
    bool relay_transfer_coding(std::string_view codings);
    // Returns false once the client is gone; stop producing then.
    bool stream_write(Body chunk);
    void stream_end();
    // Cuts the response off: the connection closes without a final chunk, so the client can
    // tell the body is incomplete. Used when the origin fails mid-body.
    void stream_abort();
    // True while buffered output is above the high-water mark; wait for on_drain then.
    bool congested() const;
    // cb runs once: when buffered output falls below the low-water mark, or (from a posted
    // callback) when the connection closes first — then the ExchangeRef yields nullptr, and the
    // caller must stop or finish whatever it paused for this client.
    void on_drain(std::function<void()> cb);

    // The handler will respond later. The returned ref yields this Exchange while the
    // connection is alive and the response not yet complete.
    ExchangeRef defer();

    bool started() const { return head_started_; }
    bool complete() const { return complete_; }
    // The handler has deferred the response or is streaming it: it will complete it later.
    bool completes_later() const { return deferred_ || streaming_; }
    int response_status() const { return status_; }
    uint64_t body_bytes_sent() const { return body_bytes_; }
    uint64_t seq() const { return seq_; }
    uint64_t start_mono_ms() const { return start_mono_ms_; }
    // uv_hrtime() when the request was dispatched, for latency measurements.
    uint64_t start_ns() const { return start_ns_; }
    // Free-form tag the access log prints (e.g. "HIT", "MISS"); must point to static storage.
    void set_log_tag(const char* tag) { log_tag_ = tag; }
    const char* log_tag() const { return log_tag_; }
    // The proxy route and origin that took the request, for access records; both must point to
    // storage that outlives the exchange (interned names). nullptr when no route took it.
    void set_route(const char* route, const char* origin) {
        route_ = route;
        origin_ = origin;
    }
    const char* route() const { return route_; }
    const char* origin() const { return origin_; }
    // Milliseconds from the request's arrival to the origin's response head, for the access
    // log; nullopt when no origin was asked on this request's behalf.
    void mark_upstream_head(uint64_t now_mono_ms) { upstream_ms_ = now_mono_ms - start_mono_ms_; }
    std::optional<uint64_t> upstream_ms() const { return upstream_ms_; }
    // Gives the request an id in request().request_id: the client's X-Request-Id when it is 1
    // to 128 visible ASCII characters, else 32 hex digits unique to this process run. The id
    // is echoed as X-Request-Id in the response unless the response already carries one.
    void assign_request_id();

    // The carrier side: the connection starts the exchange for request number `seq` (its
    // head already in mutable_request()) with the complete body.
    void begin(CarrierKey, uint64_t seq, uint64_t now_ms, std::string_view body);

private:
    void finish_head(std::optional<uint64_t> content_length, bool chunked);
    // The response is complete: hands the connection back, which may serve the next request.
    void finish();

    Connection* conn_;
    Request req_;
    uint64_t seq_ = 0;
    uint64_t start_mono_ms_ = 0;
    uint64_t start_ns_ = 0;
    int status_ = 0;
    bool head_started_ = false;
    bool complete_ = false;
    bool deferred_ = false;
    bool close_after_ = false;
    bool omit_date_ = false;
    bool streaming_ = false;
    bool chunked_ = false;
    std::string transfer_coding_; // codings relayed ahead of chunked; usually empty
    uint64_t body_bytes_ = 0;
    std::optional<uint64_t> stream_length_;
    const char* log_tag_ = "-";
    std::optional<uint64_t> upstream_ms_;
    const char* route_ = nullptr;
    const char* origin_ = nullptr;
    bool response_has_request_id_ = false;
    char generated_id_[32] = {};
};

// A handle to a deferred Exchange that keeps its connection's memory alive (not the connection
// itself): get() returns nullptr once the connection has closed or the response is complete.
class ExchangeRef {
public:
    ExchangeRef() = default;
    ExchangeRef(Connection* conn, uint64_t seq);
    ExchangeRef(const ExchangeRef& o);
    ExchangeRef(ExchangeRef&& o) noexcept;
    ExchangeRef& operator=(ExchangeRef o) noexcept;
    ~ExchangeRef();

    Exchange* get() const;
    explicit operator bool() const { return get() != nullptr; }

private:
    Connection* conn_ = nullptr;
    uint64_t seq_ = 0;
};

} // namespace ec::http
