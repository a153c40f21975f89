// PoolCore: the state behind Pool — servers, selection, the wait queue, health and idle timers.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "loop/handle.hpp"
#include "loop/loop.hpp"
#include "net/stream.hpp"
#include "origin/fetch_impl.hpp"
#include "origin/types.hpp"

namespace ec::origin {

class Upstream;

class PoolCore {
public:
    PoolCore(loop::Loop& loop, const config::OriginSpec& spec, Tuning tuning);
    ~PoolCore();

    std::shared_ptr<Fetch> fetch(UpstreamRequest request, Sink sink);
    void update(const config::OriginSpec& spec);
    void set_max_pause_ms(uint32_t ms) { tuning_.max_pause_ms = ms; }
    void shutdown();
    void on_drained(std::function<void()> fn);

    enum class Pick { server, queue, none };
    // Chooses a server for `ex` among those it has not tried: the next one up in round-robin
    // order with a free connection; `queue` when every untried server that is up is busy; when
    // none is up, the one that failed longest ago (panic mode); `none` when all were tried.
    Pick pick(FetchImpl& ex, std::shared_ptr<Upstream>& out);
    // Queues `ex` for a free connection; false when the queue is full.
    bool enqueue(FetchImpl& ex);
    void dequeue(FetchImpl& ex);
    // A connection closed or went idle, or a server came up: let queued requests try again.
    void capacity_changed();
    void unlink(FetchImpl& ex);

    // Read buffers for busy connections, recycled.
    char* take_buffer();
    void give_buffer(char* b);

    loop::Loop& loop() { return loop_; }
    const net::StreamWrap& stream_wrap() const { return stream_wrap_; }
    void set_stream_wrap(net::StreamWrap wrap) { stream_wrap_ = std::move(wrap); }
    const config::OriginSpec& spec() const { return spec_; }
    const Tuning& tuning() const { return tuning_; }
    PoolStats& stats() { return stats_; }
    PoolStats snapshot() const;
    std::vector<ServerStatus> server_status() const;
    // See Pool::set_admin_health.
    bool set_admin_health(std::string_view server, AdminHealth h);
    uint64_t now() const { return uv_now(const_cast<loop::Loop&>(loop_).uv()); }
    bool is_shut() const { return shut_; }
    // True on the stack of fetch(): failures must be posted, not delivered.
    bool in_fetch() const { return in_fetch_ > 0; }

private:
    void link(FetchImpl& ex);
    void pump();
    void sweep_idle();
    void start_timers();
    void run_health_checks();
    void check_health(const std::shared_ptr<Upstream>& s);
    void maybe_drained();
    Timeouts timeouts() const;

    loop::Loop& loop_;
    config::OriginSpec spec_;
    Tuning tuning_;
    std::vector<std::shared_ptr<Upstream>> servers_;
    size_t rr_ = 0;
    std::list<FetchImpl*> queue_;
    FetchImpl* head_ = nullptr; // in-flight fetches (intrusive list)
    size_t in_flight_ = 0;
    PoolStats stats_;
    bool shut_ = false;
    int in_fetch_ = 0;
    bool pump_posted_ = false;
    bool drained_posted_ = false;
    std::function<void()> on_drained_;
    std::shared_ptr<bool> alive_; // posted callbacks hold a weak_ptr: the pool may be gone
    std::unique_ptr<loop::Timer> sweep_timer_;
    std::unique_ptr<loop::Timer> health_timer_;
    std::vector<char*> spare_buffers_;
    net::StreamWrap stream_wrap_;
};

} // namespace ec::origin
