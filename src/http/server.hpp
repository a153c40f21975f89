// Server: listeners, accepted connections, limits, timeouts, draining, shared buffer pools.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <uv.h>

#include "config/options.hpp"
#include "http/write_batch.hpp"
#include "loop/handle.hpp"
#include "loop/loop.hpp"
#include "net/stream.hpp"
#include "util/log.hpp"

namespace ec::http {

class Connection;
class Exchange;
class Handler;
class Server;

// The operator's limits (config::ClientLimits, from the option table) and the knobs that are
// not configuration (defaults suit production; tests shrink them).
struct Limits : config::ClientLimits {
    // Every operator limit at its option-table default.
    Limits() : config::ClientLimits(config::defaults()) {}
    explicit Limits(const config::ClientLimits& operator_limits)
        : config::ClientLimits(operator_limits) {}

    uint32_t linger_ms = 2000;          // discard input this long after an error response
    size_t max_requests_per_round = 32; // fairness: pipelined requests served per read event
    size_t write_high_water = 1 << 20;  // stop serving a connection's pipeline above this
    size_t write_low_water = 256 << 10;
};

struct Listener {
    Server* server = nullptr;
    Handler* handler = nullptr;
    std::string name;    // for logs and metrics
    std::string address; // as configured ("127.0.0.1:0", "unix:/run/x.sock")
    std::string bound;   // as bound ("127.0.0.1:43567")
    bool is_unix = false;
    bool closing = false;
    // May use kAdminReserve connections past max_connections, so an operator still gets in
    // (edgecachectl stats, purge) when data-plane clients have filled the cap.
    bool admin = false;
    loop::HandleBox<loop::StreamHandle> handle; // tcp or pipe, per is_unix
    uv_stream_t* stream() const { return &handle.get()->stream; }
    // Wraps each accepted socket (TLS listeners); empty for plaintext.
    net::StreamWrap wrap;
};

struct ServerStats {
    uint64_t accepted = 0;       // on data-plane listeners
    uint64_t admin_accepted = 0; // on the admin socket and admin_listen
    uint64_t rejected_busy = 0;  // 503 at the connection cap
    uint64_t requests = 0;       // on data-plane listeners
    uint64_t admin_requests = 0; // on the admin socket and admin_listen (edgecachectl's polls)
    uint64_t bad_requests = 0;   // 400 / 405 / 505 from the parser layer
    uint64_t too_large = 0;      // 413 / 431
    uint64_t timeouts = 0;       // header, idle and write timeouts
    uint64_t shed = 0;           // closed to keep queued output under max_queued_output
    uint64_t bodies_shed = 0;    // uploads refused (503) to keep bodies under max_buffered_bodies
    uint64_t bytes_in = 0;
    uint64_t bytes_out = 0;
};

class Server {
public:
    Server(loop::Loop& loop, Limits limits);
    // Connections are freed in their close callbacks, which reach back into the Server: call
    // shutdown() and let the loop run before destroying a Server that had connections.
    ~Server();
    // Closes every listener and connection and stops the sweeper.
    void shutdown();

    // Binds and listens (backlog 1024). address: "a.b.c.d:port", "[v6]:port", "unix:/path", as
    // parse_listen_address (util/address.hpp) accepts them.
    // A stale unix socket file (nothing accepting on it) is replaced; a live one is an error.
    // Throws std::runtime_error("cannot listen on <address>: <reason>").
    Listener& listen(const std::string& address, Handler* handler, std::string name);
    // Adopts an already-listening socket (systemd socket activation).
    Listener& adopt(int fd, Handler* handler, std::string name);
    void close_listener(Listener& l);
    // Test hook (fuzz drivers): serves an already-connected stream socket, e.g. one end of a
    // socketpair(AF_UNIX), as if it had been accepted on `l`. `l` must have is_unix set (the
    // connection is a uv_pipe_t) and outlive the connection; it need not be listening (its
    // handle is never initialized) and is not added to listeners(). The connection takes
    // ownership of fd; it counts against the cap like an accepted one. Returns false (fd
    // closed) when libuv refuses the descriptor.
    bool adopt_connection_for_test(int fd, Listener& l);
    const std::vector<std::unique_ptr<Listener>>& listeners() const { return listeners_; }

    // A reload: the operator's limits change, the other knobs stay.
    void set_limits(const config::ClientLimits& limits);
    const Limits& limits() const { return limits_; }

    // Stops accepting, closes idle connections, lets in-flight requests finish (with
    // "Connection: close"), and calls on_drained when the last connection is gone.
    void drain(std::function<void()> on_drained);
    bool draining() const { return draining_; }
    // Closes every connection now (after the drain timeout).
    void close_all_connections();

    size_t connection_count() const { return connections_; }
    // Of connection_count(), those on admin listeners (edgecachectl's own among them).
    size_t admin_connection_count() const { return admin_connections_; }
    // Bytes counted against max_queued_output now.
    size_t queued_output() const { return queued_output_; }
    // Bytes counted against max_buffered_bodies now.
    size_t buffered_bodies() const { return buffered_bodies_; }
    const ServerStats& stats() const { return stats_; }
    ServerStats& mutable_stats() { return stats_; }

    // Called after each response is complete (access log, metrics). May be empty.
    std::function<void(Exchange&)> on_exchange_done;

    loop::Loop& loop() { return loop_; }
    // "Date: ..." value for the current second.
    std::string_view date();

    // Pools: read buffers and write batches are reused, so steady-state requests allocate
    // nothing.
    static constexpr size_t kReadBufSize = 16 * 1024;
    char* take_read_buffer();
    // Buffers of another size (grown for a large head) are freed, not pooled.
    void give_read_buffer(char* buf, size_t cap);
    WriteBatch* take_batch();
    void give_batch(WriteBatch* b);

    // --- Called by connections.
    // A connection closing leaves the server's list (and the count against the cap).
    void unlink(Connection* c);
    // Connections account the output they queue; over the budget, output_queued() sheds at
    // once, and may close the calling connection.
    void output_queued(size_t n);
    void output_written(size_t n) { queued_output_ -= n; }
    // Likewise for request bodies; false when `self`, still receiving, must be refused itself.
    bool body_buffered(size_t n, Connection* self);
    void body_released(size_t n) { buffered_bodies_ -= n; }

private:
    static void on_connection(uv_stream_t* server, int status) noexcept;
    void accept_one(Listener& l);
    void link(Connection* c);
    void sweep();
    void arm_sweep();
    void check_drained();
    void shed_output();

    loop::Loop& loop_;
    Limits limits_;
    std::vector<std::unique_ptr<Listener>> listeners_;
    Connection* head_ = nullptr;
    size_t connections_ = 0;       // live, not yet closed, counted against the cap
    size_t rejecting_ = 0;         // busy rejections still being written
    size_t admin_connections_ = 0; // of connections_, on admin listeners
    size_t queued_output_ = 0;
    size_t buffered_bodies_ = 0;
    log::Throttle shed_log_, body_shed_log_;
    ServerStats stats_;
    std::unique_ptr<loop::Timer> sweep_timer_;
    bool draining_ = false;
    std::function<void()> on_drained_;
    std::vector<char*> free_bufs_;
    std::vector<WriteBatch*> free_batches_;
    int64_t date_second_ = -1;
    std::string date_;
};

// "127.0.0.1:80" / "[::1]:80" / "unix:/path" for a bound socket.
std::string describe_address(const sockaddr* sa);

} // namespace ec::http
