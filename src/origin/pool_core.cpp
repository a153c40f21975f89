// PoolCore: fetch, server selection, the wait queue, reloads, shutdown and stats.
#include "origin/pool_core.hpp"

#include <algorithm>

#include "origin/request_head.hpp"
#include "origin/upstream.hpp"
#include "origin/upstream_conn.hpp"
#include "util/log.hpp"

namespace ec::origin {

namespace {
constexpr size_t kMaxSpareBuffers = 16;
constexpr size_t kPumpScan = 64; // queued fetches looked at per placement
} // namespace

PoolCore::PoolCore(loop::Loop& loop, const config::OriginSpec& spec, Tuning tuning)
    : loop_(loop), spec_(spec), tuning_(tuning), alive_(std::make_shared<bool>(true)) {
    for (const std::string& name : spec_.servers)
        servers_.push_back(std::make_shared<Upstream>(*this, name));
    start_timers();
}

PoolCore::~PoolCore() {
    shutdown();
    for (char* b : spare_buffers_)
        delete[] b;
}

Timeouts PoolCore::timeouts() const {
    Timeouts t;
    t.connect_ms = spec_.connect_timeout_ms;
    t.total_ms = spec_.timeout_ms;
    t.first_byte_ms = spec_.first_byte_timeout_ms ? spec_.first_byte_timeout_ms : spec_.timeout_ms;
    t.max_pause_ms = tuning_.max_pause_ms;
    return t;
}

std::shared_ptr<Fetch> PoolCore::fetch(UpstreamRequest request, Sink sink) {
    ++stats_.requests;
    auto out = std::make_shared<Outgoing>();
    out->head_request = request.method == "HEAD";
    Result<std::string> head = build_request_head(request);
    if (head) out->head = std::move(*head);
    out->body = std::move(request.body);
    auto ex = std::make_shared<FetchImpl>(loop_, shut_ ? nullptr : this, std::move(sink),
                                          std::move(out), request.idempotent, timeouts());
    if (shut_) {
        ex->fail(ErrorKind::cancelled, "origin " + spec_.name + " is shut down", true);
        return ex;
    }
    link(*ex);
    ++in_fetch_;
    if (!head)
        ex->fail(ErrorKind::invalid_request, head.error().message, true);
    else
        ex->start();
    --in_fetch_;
    return ex;
}

void PoolCore::link(FetchImpl& ex) {
    ex.prev = nullptr;
    ex.next = head_;
    if (head_) head_->prev = &ex;
    head_ = &ex;
    ++in_flight_;
}

void PoolCore::unlink(FetchImpl& ex) {
    if (ex.prev)
        ex.prev->next = ex.next;
    else if (head_ == &ex)
        head_ = ex.next;
    else
        return; // not linked
    if (ex.next) ex.next->prev = ex.prev;
    ex.prev = ex.next = nullptr;
    --in_flight_;
    maybe_drained();
}

PoolCore::Pick PoolCore::pick(FetchImpl& ex, std::shared_ptr<Upstream>& out) {
    size_t n = servers_.size();
    if (n == 0) return Pick::none;
    uint64_t t = now();
    uint32_t max = spec_.max_connections;
    bool busy_up = false;
    for (size_t i = 0; i < n; ++i) {
        size_t idx = (rr_ + i) % n;
        const auto& s = servers_[idx];
        if (ex.tried(s.get()) || !s->valid() || !s->up(t)) continue;
        if (s->available(max)) {
            rr_ = idx + 1;
            out = s;
            return Pick::server;
        }
        busy_up = true;
    }
    if (busy_up) return Pick::queue;
    // Panic mode: nothing untried is up. Rather than fail at once, try the server that failed
    // longest ago; its cooldown is the likeliest to have been too pessimistic.
    std::shared_ptr<Upstream> best;
    for (const auto& s : servers_) {
        if (ex.tried(s.get()) || !s->valid() || s->taken_out()) continue;
        if (!best || s->last_failure_ms() < best->last_failure_ms()) best = s;
    }
    if (!best) {
        // Servers whose names do not even parse: let the fetch report why.
        for (const auto& s : servers_)
            if (!ex.tried(s.get()) && !s->taken_out()) {
                out = s;
                return Pick::server;
            }
        return Pick::none;
    }
    if (!best->available(max)) return Pick::queue;
    out = best;
    return Pick::server;
}

bool PoolCore::enqueue(FetchImpl& ex) {
    if (queue_.size() >= tuning_.max_queue) return false;
    ex.queue_pos = queue_.insert(queue_.end(), &ex);
    ex.queued = true;
    ++stats_.queue_waits;
    return true;
}

void PoolCore::dequeue(FetchImpl& ex) {
    if (!ex.queued) return;
    queue_.erase(ex.queue_pos);
    ex.queued = false;
}

void PoolCore::capacity_changed() {
    if (shut_ || queue_.empty() || pump_posted_) return;
    // From a posted callback: we may be deep inside another fetch's callbacks.
    pump_posted_ = true;
    std::weak_ptr<bool> alive = alive_;
    loop_.post([this, alive] {
        if (alive.expired()) return;
        pump_posted_ = false;
        pump();
    });
}

void PoolCore::pump() {
    for (size_t placed = 0; !shut_ && !queue_.empty() && placed < tuning_.max_queue; ++placed) {
        // Restart the scan after each placement: starting a fetch may change the queue.
        FetchImpl* chosen = nullptr;
        std::shared_ptr<Upstream> server;
        Pick result = Pick::queue;
        size_t scanned = 0;
        for (FetchImpl* ex : queue_) {
            if (scanned++ >= kPumpScan) break;
            result = pick(*ex, server);
            if (result != Pick::queue) {
                chosen = ex;
                break;
            }
        }
        if (!chosen) return;
        dequeue(*chosen);
        auto keep = chosen->shared_from_this();
        if (result == Pick::none)
            chosen->fail(ErrorKind::no_server, "origin has no server to try");
        else
            chosen->dispatch(std::move(server));
    }
}

void PoolCore::update(const config::OriginSpec& spec) {
    if (shut_) return;
    bool timers_changed = spec.health_check != spec_.health_check ||
                          spec.health_interval_ms != spec_.health_interval_ms;
    std::vector<std::shared_ptr<Upstream>> next;
    for (const std::string& name : spec.servers) {
        auto it = std::find_if(servers_.begin(), servers_.end(),
                               [&](const auto& s) { return s->name() == name; });
        if (it != servers_.end()) {
            next.push_back(*it);
            servers_.erase(it);
        } else {
            next.push_back(std::make_shared<Upstream>(*this, name));
        }
    }
    for (auto& gone : servers_) {
        // Removed by the reload: idle connections go now, busy ones when their fetch ends.
        gone->retired = true;
        gone->close_idle_older_than(UINT64_MAX);
    }
    servers_ = std::move(next);
    rr_ = 0;
    spec_ = spec;
    if (timers_changed) start_timers();
    capacity_changed();
}

void PoolCore::shutdown() {
    if (shut_) return;
    shut_ = true;
    sweep_timer_.reset();
    health_timer_.reset();
    queue_.clear();
    for (FetchImpl* ex = head_; ex; ex = ex->next)
        ex->queued = false;
    // Fail what is in flight. A Sink callback may fetch again (refused: shut_) or cancel other
    // fetches (they unlink themselves), so always restart from the head.
    while (head_) {
        auto ex = head_->shared_from_this();
        ex->fail(ErrorKind::cancelled, "origin " + spec_.name + " shut down");
        if (head_ == ex.get()) unlink(*ex); // defensive: never loop forever
    }
    for (auto& s : servers_)
        s->shutdown();
    servers_.clear();
    on_drained_ = nullptr;
}

void PoolCore::on_drained(std::function<void()> fn) {
    on_drained_ = std::move(fn);
    health_timer_.reset(); // a draining pool checks nothing
    maybe_drained();
}

void PoolCore::maybe_drained() {
    if (!on_drained_ || in_flight_ > 0 || drained_posted_) return;
    drained_posted_ = true;
    std::weak_ptr<bool> alive = alive_;
    loop_.post([this, alive] {
        if (alive.expired()) return;
        drained_posted_ = false;
        if (in_flight_ > 0 || !on_drained_) return;
        auto fn = std::move(on_drained_);
        on_drained_ = nullptr;
        fn(); // may destroy this pool
    });
}

char* PoolCore::take_buffer() {
    if (spare_buffers_.empty()) return new char[tuning_.read_buffer];
    char* b = spare_buffers_.back();
    spare_buffers_.pop_back();
    return b;
}

void PoolCore::give_buffer(char* b) {
    if (spare_buffers_.size() < kMaxSpareBuffers)
        spare_buffers_.push_back(b);
    else
        delete[] b;
}

PoolStats PoolCore::snapshot() const {
    PoolStats s = stats_;
    s.connections_open = 0;
    s.idle = 0;
    for (const auto& sv : servers_) {
        s.connections_open += sv->open();
        s.idle += sv->idle();
    }
    s.queued = queue_.size();
    s.in_flight = in_flight_;
    return s;
}

bool PoolCore::set_admin_health(std::string_view server, AdminHealth h) {
    bool found = false;
    for (const auto& s : servers_)
        if (server.empty() || s->name() == server) {
            s->set_admin_health(h);
            found = true;
        }
    if (found) capacity_changed(); // queued requests re-pick: a server came up or went away
    return found;
}

std::vector<ServerStatus> PoolCore::server_status() const {
    std::vector<ServerStatus> out;
    uint64_t t = now();
    for (const auto& s : servers_)
        out.push_back(s->status(t));
    return out;
}

// ---------------------------------------------------------------------------------------------
// Timers: idle sweep and active health checks

void PoolCore::start_timers() {
    uint32_t sweep = std::clamp<uint32_t>(tuning_.idle_timeout_ms / 2, 10, 1000);
    sweep_timer_ = std::make_unique<loop::Timer>(loop_.uv(), [this] { sweep_idle(); });
    sweep_timer_->start(sweep, sweep);
    sweep_timer_->unref();
    health_timer_.reset();
    if (!spec_.health_check.empty() && spec_.health_interval_ms > 0) {
        health_timer_ = std::make_unique<loop::Timer>(loop_.uv(), [this] { run_health_checks(); });
        health_timer_->start(0, spec_.health_interval_ms); // first round at once
        health_timer_->unref();
    }
}

void PoolCore::sweep_idle() {
    uint64_t t = now();
    if (t < tuning_.idle_timeout_ms) return;
    for (auto& s : servers_)
        s->close_idle_older_than(t - tuning_.idle_timeout_ms);
}

void PoolCore::run_health_checks() {
    auto servers = servers_; // a check's failure path must not invalidate our iteration
    for (auto& s : servers)
        if (!s->check_in_flight && !s->retired) check_health(s);
}

void PoolCore::check_health(const std::shared_ptr<Upstream>& s) {
    UpstreamRequest r;
    r.method = "GET";
    r.target = spec_.health_check;
    r.headers.push_back({"Host", spec_.host.empty() ? s->name() : spec_.host});
    r.headers.push_back({"User-Agent", "edgecached-health-check"});
    Result<std::string> head = build_request_head(r, /*close=*/true);
    if (!head) {
        s->health_result(false, now(), head.error().message);
        return;
    }
    auto out = std::make_shared<Outgoing>();
    out->head = std::move(*head);
    auto status = std::make_shared<int>(0);
    std::weak_ptr<Upstream> ws = s;
    Sink sink;
    sink.on_head = [status](ResponseHead&& h) { *status = h.status; };
    sink.on_complete = [this, ws, status] {
        auto sv = ws.lock();
        if (!sv || !sv->pool()) return;
        ++stats_.health_checks;
        bool ok = *status >= 200 && *status < 400;
        if (!ok) ++stats_.health_check_failures;
        sv->health_result(ok, now(), "health check answered " + std::to_string(*status));
    };
    sink.on_error = [this, ws](ErrorKind, std::string why) {
        auto sv = ws.lock();
        if (!sv || !sv->pool() || shut_) return;
        ++stats_.health_checks;
        ++stats_.health_check_failures;
        sv->health_result(false, now(), "health check: " + why);
    };
    Timeouts t = timeouts();
    t.total_ms = std::min(t.total_ms, std::max<uint32_t>(spec_.health_interval_ms, 1));
    auto ex = std::make_shared<FetchImpl>(loop_, this, std::move(sink), std::move(out), true, t);
    ex->pin(s, /*health=*/true);
    s->check_in_flight = true;
    link(*ex);
    ex->start();
}

} // namespace ec::origin
