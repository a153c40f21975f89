// FetchImpl: one request's life — server choice, connection, timers, retries, delivery.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include <uv.h>

#include "loop/handle.hpp"
#include "loop/loop.hpp"
#include "origin/fetch.hpp"
#include "origin/types.hpp"

namespace ec::origin {

class UpstreamConn;
class PoolCore;
class Upstream;

// The bytes of a request, shared by its attempts and by the connection writing them.
struct Outgoing {
    std::string head;
    std::string body;
    bool head_request = false;
};

struct Timeouts {
    uint32_t connect_ms = 1000;
    uint32_t first_byte_ms = 5000;
    uint32_t total_ms = 5000;
    uint32_t max_pause_ms = 60000; // one pause_body() longer than this fails with timeout
};

// Phases: starting → (queued) → resolving → connecting → sending → waiting → receiving → done.
// Reused connections skip resolving and connecting. One uv timer runs the nearest of the
// phase deadline (connect, first byte) and the total deadline.
//
// Re-entrancy: every entry point from a UpstreamConn, Upstream, timer or posted callback holds a
// shared_ptr to this object, and re-checks done_ after each Sink call (which may cancel, or shut
// the pool down). Failures that happen on the stack of Pool::fetch() are delivered from a posted
// callback.
class FetchImpl final : public Fetch, public std::enable_shared_from_this<FetchImpl> {
public:
    FetchImpl(loop::Loop& loop, PoolCore* pool, Sink sink, std::shared_ptr<const Outgoing> out,
              bool idempotent, Timeouts t);
    ~FetchImpl();

    // Public API (fetch.hpp).
    void do_cancel();
    void do_pause();
    void do_resume();
    bool is_done() const { return done_; }
    const char* server_name() const;
    bool reused() const { return reused_; }

    // From the pool.
    void start();                               // first attempt
    void dispatch(std::shared_ptr<Upstream> s); // out of the queue, onto this server
    void pin(std::shared_ptr<Upstream> s, bool health);
    // Finishes with an error; `post` = deliver from a posted callback (not on this stack).
    void fail(ErrorKind kind, std::string message, bool post = false);
    bool tried(const Upstream* s) const;
    bool queued = false;
    std::list<FetchImpl*>::iterator queue_pos;
    FetchImpl* prev = nullptr; // the pool's in-flight list
    FetchImpl* next = nullptr;

    // From Upstream / UpstreamConn.
    void dns_done();
    void conn_connected(UpstreamConn* c, int status);
    void conn_written(UpstreamConn* c, int status);
    void conn_input(UpstreamConn* c);
    void conn_lost(UpstreamConn* c, int status);

private:
    enum class Phase { starting, queued, resolving, connecting, sending, waiting, receiving, done };

    void attempt();
    void use_server(std::shared_ptr<Upstream> s, bool fresh);
    void connect_next();
    void connect_failed(ErrorKind kind, std::string message);
    void send();
    void deliver();
    void parse_failed();
    void lost_before_response(std::string message);
    void complete();
    void finish_common();
    void attach(UpstreamConn* c);
    UpstreamConn* detach();
    void arm();
    void start_pause_clock();
    static void on_timer(uv_timer_t* t) noexcept;
    void timer_fired();
    uint64_t now() const;
    void count_error(ErrorKind k);

    // Sink calls in progress on this stack. The Sink (and what its lambdas capture) is dropped
    // when the fetch is done and no call is in progress: a callback that cancels its own
    // fetch must not destroy the function it is running in.
    struct InSink {
        FetchImpl& ex;
        explicit InSink(FetchImpl& e) : ex(e) { ++ex.in_sink_; }
        ~InSink() {
            if (--ex.in_sink_ == 0 && ex.done_) ex.sink_ = Sink{};
        }
    };
    int in_sink_ = 0;

    loop::Loop& loop_;
    PoolCore* pool_; // null once done or after the pool shut down
    Sink sink_;
    std::shared_ptr<const Outgoing> out_;
    std::shared_ptr<FetchImpl> self_; // the pool's reference while in flight
    bool idempotent_;
    Timeouts t_;

    Phase phase_ = Phase::starting;
    bool done_ = false;
    bool cancelled_ = false;
    bool health_ = false;
    bool paused_ = false;
    bool resume_posted_ = false;
    bool head_delivered_ = false;
    bool reused_ = false;
    bool stale_retried_ = false;
    std::shared_ptr<Upstream> server_;
    std::string server_name_; // kept after the fetch lets go of server_
    std::shared_ptr<Upstream> pinned_;
    std::vector<std::shared_ptr<Upstream>> tried_; // held, so an address is never reused by another
    size_t addr_try_ = 0;
    UpstreamConn* conn_ = nullptr;
    size_t next_span_ = 0;
    ErrorKind last_kind_ = ErrorKind::no_server;
    std::string last_message_;

    loop::HandleBox<uv_timer_t> timer_;
    uint64_t total_deadline_ = 0;
    uint64_t phase_deadline_ = 0; // 0 = none
    ErrorKind phase_kind_ = ErrorKind::connect_timeout;
    uint64_t paused_at_ = 0;
    bool timer_paused_ = false; // the timer runs the pause limit instead of the deadlines
};

} // namespace ec::origin
