// FetchImpl: attempts and retries, the timer, response delivery to the Sink, finishing.
#include "origin/fetch_impl.hpp"

#include <algorithm>

#include "origin/pool_core.hpp"
#include "origin/upstream.hpp"
#include "origin/upstream_conn.hpp"
#include "util/log.hpp"

namespace ec::origin {

// ---------------------------------------------------------------------------------------------
// Public handle

void Fetch::cancel() {
    static_cast<FetchImpl*>(this)->do_cancel();
}
void Fetch::pause_body() {
    static_cast<FetchImpl*>(this)->do_pause();
}
void Fetch::resume_body() {
    static_cast<FetchImpl*>(this)->do_resume();
}
bool Fetch::done() const {
    return static_cast<const FetchImpl*>(this)->is_done();
}
const char* Fetch::server() const {
    return static_cast<const FetchImpl*>(this)->server_name();
}
bool Fetch::reused_connection() const {
    return static_cast<const FetchImpl*>(this)->reused();
}

// ---------------------------------------------------------------------------------------------
// Life cycle

FetchImpl::FetchImpl(loop::Loop& loop, PoolCore* pool, Sink sink,
                     std::shared_ptr<const Outgoing> out, bool idempotent, Timeouts t)
    : loop_(loop), pool_(pool), sink_(std::move(sink)), out_(std::move(out)),
      idempotent_(idempotent), t_(t) {
    uv_timer_init(loop_.uv(), timer_.get());
    timer_.mark_initialized();
    timer_.get()->data = this;
    total_deadline_ = now() + t_.total_ms;
}

FetchImpl::~FetchImpl() {
    // finish_common() ran unless the pool never linked us; either way nothing points here.
    if (conn_) detach()->close();
}

uint64_t FetchImpl::now() const {
    return uv_now(loop_.uv());
}

const char* FetchImpl::server_name() const {
    return server_name_.c_str();
}

bool FetchImpl::tried(const Upstream* s) const {
    return std::any_of(tried_.begin(), tried_.end(), [s](const auto& t) { return t.get() == s; });
}

void FetchImpl::start() {
    self_ = shared_from_this();
    arm();
    attempt();
}

void FetchImpl::pin(std::shared_ptr<Upstream> s, bool health) {
    pinned_ = std::move(s);
    health_ = health;
}

void FetchImpl::attach(UpstreamConn* c) {
    conn_ = c;
    c->attach(this);
}

UpstreamConn* FetchImpl::detach() {
    UpstreamConn* c = conn_;
    if (c) c->detach();
    conn_ = nullptr;
    return c;
}

// ---------------------------------------------------------------------------------------------
// Choosing a server and a connection

void FetchImpl::attempt() {
    if (done_ || !pool_) return;
    if (pinned_) {
        if (tried(pinned_.get())) {
            fail(last_kind_, last_message_, pool_->in_fetch());
            return;
        }
        use_server(pinned_, true);
        return;
    }
    std::shared_ptr<Upstream> s;
    switch (pool_->pick(*this, s)) {
    case PoolCore::Pick::server:
        if (!tried_.empty()) ++pool_->stats().failovers;
        use_server(std::move(s), false);
        return;
    case PoolCore::Pick::queue:
        phase_ = Phase::queued;
        phase_deadline_ = 0;
        arm();
        if (!pool_->enqueue(*this))
            fail(ErrorKind::overloaded, "all origin connections are busy and the queue is full",
                 pool_->in_fetch());
        return;
    case PoolCore::Pick::none:
        if (tried_.empty())
            fail(ErrorKind::no_server, "origin has no server to try", pool_->in_fetch());
        else
            fail(last_kind_, last_message_, pool_->in_fetch());
        return;
    }
}

void FetchImpl::dispatch(std::shared_ptr<Upstream> s) {
    auto keep = shared_from_this();
    if (!tried_.empty()) ++pool_->stats().failovers;
    use_server(std::move(s), false);
}

void FetchImpl::use_server(std::shared_ptr<Upstream> s, bool fresh) {
    server_ = std::move(s);
    server_name_ = server_->name();
    if (!tried(server_.get())) tried_.push_back(server_);
    if (!health_) ++server_->requests;
    addr_try_ = 0;
    // Keep-alive means new connections are rare; check the addresses' age on every use.
    server_->maybe_refresh(now(), pool_->spec().dns_refresh_ms);
    if (!fresh) {
        if (UpstreamConn* c = server_->take_idle()) {
            ++pool_->stats().connections_reused;
            reused_ = true;
            attach(c);
            send();
            return;
        }
    }
    reused_ = false;
    phase_ = Phase::connecting;
    phase_deadline_ = now() + t_.connect_ms;
    phase_kind_ = ErrorKind::connect_timeout;
    arm();
    connect_next();
}

void FetchImpl::connect_next() {
    Upstream& s = *server_;
    if (!s.valid()) {
        connect_failed(ErrorKind::dns, s.dns_error());
        return;
    }
    if (s.needs_dns()) {
        phase_ = Phase::resolving;
        s.resolve(weak_from_this());
        return;
    }
    phase_ = Phase::connecting;
    auto* c = new UpstreamConn(server_, pool_->tuning().max_head_bytes);
    attach(c);
    c->connect(s.address(addr_try_));
}

void FetchImpl::dns_done() {
    auto keep = shared_from_this();
    if (done_ || phase_ != Phase::resolving) return;
    if (server_->address_count() > 0) {
        connect_next();
        return;
    }
    connect_failed(ErrorKind::dns, server_->dns_error());
}

void FetchImpl::conn_connected(UpstreamConn* c, int status) {
    auto keep = shared_from_this();
    if (done_ || c != conn_) return;
    if (status == 0) {
        server_->address_worked(addr_try_);
        send();
        return;
    }
    detach()->close();
    std::string msg = "connect to " + server_->name() + ": " + c->error_text(status);
    if (++addr_try_ < server_->address_count()) {
        // Nothing was sent: the next address of the same server, within the same deadline.
        ++pool_->stats().failovers;
        connect_next();
        return;
    }
    connect_failed(status == net::kErrTls ? ErrorKind::tls : ErrorKind::connect_refused,
                   std::move(msg));
}

// The server could not be reached (nothing was sent): count it against the server and try the
// next one, whatever the method.
void FetchImpl::connect_failed(ErrorKind kind, std::string message) {
    if (conn_) detach()->close();
    if (!health_) server_->record_failure(now(), message, pool_->tuning());
    last_kind_ = kind;
    last_message_ = std::move(message);
    phase_deadline_ = 0;
    attempt();
}

// ---------------------------------------------------------------------------------------------
// Sending and receiving

void FetchImpl::send() {
    phase_ = Phase::sending;
    phase_deadline_ = 0; // the write is covered by the total deadline only
    arm();
    next_span_ = 0;
    conn_->parser().reset(out_->head_request);
    if (conn_->send(out_)) conn_written(conn_, 0);
}

void FetchImpl::conn_written(UpstreamConn* c, int status) {
    auto keep = shared_from_this();
    if (done_ || c != conn_) return;
    if (status < 0) {
        c->stop_reading();
        conn_lost(c, status);
        return;
    }
    if (phase_ == Phase::sending) {
        phase_ = Phase::waiting;
        phase_deadline_ = now() + t_.first_byte_ms;
        phase_kind_ = ErrorKind::first_byte_timeout;
        arm();
    }
}

void FetchImpl::conn_input(UpstreamConn* c) {
    auto keep = shared_from_this();
    if (done_ || c != conn_) return;
    if (phase_ != Phase::receiving && c->parser().bytes_seen()) {
        phase_ = Phase::receiving;
        phase_deadline_ = 0;
        arm();
    }
    deliver();
}

void FetchImpl::deliver() {
    if (done_ || !conn_) return;
    ResponseParser& p = conn_->parser();
    if (!p.interim().empty()) {
        std::vector<InterimHead> interim = std::move(p.interim());
        p.interim().clear();
        for (InterimHead& h : interim) {
            if (sink_.on_interim) {
                InSink guard(*this);
                sink_.on_interim(std::move(h));
            }
            if (done_) return;
        }
    }
    if (p.head_ready()) {
        ResponseHead head = p.take_head();
        head.more_in_hand = !p.body().empty() || p.complete();
        if (!health_) {
            server_->record_success();
            ++pool_->stats().responses[static_cast<size_t>(head.status / 100) % 6];
        }
        head_delivered_ = true;
        if (sink_.on_head) {
            InSink guard(*this);
            sink_.on_head(std::move(head));
        }
        if (done_) return;
    }
    auto& spans = p.body();
    while (!paused_ && next_span_ < spans.size()) {
        ResponseParser::Span s = spans[next_span_++];
        if (sink_.on_body) {
            InSink guard(*this);
            sink_.on_body(std::string_view(s.data, s.len));
        }
        if (done_) return;
    }
    if (paused_) {
        // Keep the remaining spans (they point into the connection's read buffer, which stays
        // put while reading is stopped), and switch to the pause clock if pause_body() came
        // before the body.
        conn_->stop_reading();
        start_pause_clock();
        return;
    }
    spans.clear();
    next_span_ = 0;
    if (p.complete()) {
        complete();
        return;
    }
    if (p.failed() != ResponseParser::Fail::none) {
        parse_failed();
        return;
    }
    conn_->start_reading();
}

void FetchImpl::parse_failed() {
    ResponseParser& p = conn_->parser();
    std::string msg = server_->name() + ": " + p.message();
    switch (p.failed()) {
    case ResponseParser::Fail::malformed:
        fail(ErrorKind::bad_response, std::move(msg));
        return;
    case ResponseParser::Fail::too_large:
        fail(ErrorKind::header_too_large, std::move(msg));
        return;
    case ResponseParser::Fail::truncated:
        fail(ErrorKind::truncated, std::move(msg));
        return;
    case ResponseParser::Fail::closed_early:
        if (!p.bytes_seen())
            lost_before_response(std::move(msg));
        else
            fail(ErrorKind::reset, std::move(msg));
        return;
    case ResponseParser::Fail::none:
        return;
    }
}

// A read or write error (reset, broken pipe) on the connection.
void FetchImpl::conn_lost(UpstreamConn* c, int status) {
    auto keep = shared_from_this();
    if (done_ || c != conn_) return;
    std::string msg = server_->name() + ": " + c->error_text(status);
    ResponseParser& p = c->parser();
    if (!p.bytes_seen())
        lost_before_response(std::move(msg));
    else if (head_delivered_ || p.head_done())
        fail(ErrorKind::truncated, msg + " inside the body");
    else
        fail(ErrorKind::reset, msg + " inside the response head");
}

// The connection closed or reset before any response byte. On a reused connection that is the
// keep-alive race (the server closed it while idle): resend once on a fresh connection. On a
// fresh one the server is failing: idempotent requests move to the next server.
void FetchImpl::lost_before_response(std::string message) {
    bool was_reused = reused_;
    if (conn_) detach()->close();
    const Tuning& tun = pool_->tuning();
    if (was_reused && !stale_retried_ && (idempotent_ || tun.retry_stale_non_idempotent)) {
        stale_retried_ = true;
        ++pool_->stats().retries_stale;
        LOG_DEBUG("origin %s: reused connection closed (%s); resending on a new one",
                  pool_->spec().name.c_str(), message.c_str());
        use_server(server_, true);
        return;
    }
    last_kind_ = ErrorKind::reset;
    last_message_ = message + " (connection closed before any response byte)";
    if (!was_reused && !health_) server_->record_failure(now(), last_message_, tun);
    if (!was_reused && idempotent_ && !pinned_) {
        phase_deadline_ = 0;
        attempt(); // the next untried server, else this error
        return;
    }
    fail(last_kind_, last_message_);
}

void FetchImpl::complete() {
    UpstreamConn* c = detach();
    ResponseParser& p = c->parser();
    // Never after HEAD: a broken origin may send a body anyway, which would become the next
    // response on this connection. HEAD misses are rare; a new connection is cheap.
    bool reusable = !health_ && !out_->head_request && p.keep_alive();
    c->release(reusable);
    if (done_) return;
    if (pool_ && !health_) ++pool_->stats().completed;
    finish_common();
    InSink guard(*this);
    if (!cancelled_ && sink_.on_complete) sink_.on_complete();
}

// ---------------------------------------------------------------------------------------------
// Finishing

void FetchImpl::count_error(ErrorKind k) {
    if (pool_ && !health_) ++pool_->stats().errors[static_cast<size_t>(k)];
}

void FetchImpl::fail(ErrorKind kind, std::string message, bool post) {
    if (done_) return;
    auto keep = shared_from_this();
    count_error(kind);
    finish_common();
    if (cancelled_) return;
    if (post) {
        loop_.post([keep, kind, message = std::move(message)]() mutable {
            InSink guard(*keep);
            if (!keep->cancelled_ && keep->sink_.on_error)
                keep->sink_.on_error(kind, std::move(message));
        });
        return;
    }
    InSink guard(*this);
    if (sink_.on_error) sink_.on_error(kind, std::move(message));
}

void FetchImpl::do_cancel() {
    if (cancelled_) return;
    cancelled_ = true; // also suppresses an error already posted
    if (done_) return;
    auto keep = shared_from_this();
    if (pool_ && !health_) ++pool_->stats().cancelled_by_caller;
    finish_common();
    if (in_sink_ == 0) sink_ = Sink{};
}

// Leaves every structure that points at this fetch; the Sink call (if any) comes after.
void FetchImpl::finish_common() {
    done_ = true;
    phase_ = Phase::done;
    paused_ = false;
    if (conn_) detach()->close(); // mid-response: never reusable
    timer_.close();
    if (pool_) {
        if (queued) pool_->dequeue(*this);
        pool_->unlink(*this);
        pool_ = nullptr;
    }
    server_.reset();
    pinned_.reset();
    self_.reset(); // the caller of finish_common holds its own reference
}

// ---------------------------------------------------------------------------------------------
// Backpressure

void FetchImpl::do_pause() {
    if (done_ || paused_) return;
    paused_ = true;
    if (conn_ && phase_ == Phase::receiving) conn_->stop_reading();
    if (phase_ == Phase::receiving) start_pause_clock();
}

// The downstream client is slow, not the origin: the fetch's deadlines stop while we wait,
// but the timer keeps running on the pause limit, so a paused fetch whose client never
// drains (or vanished unnoticed) still ends and gives its connection back.
void FetchImpl::start_pause_clock() {
    if (timer_paused_ || !timer_.is_open()) return;
    timer_paused_ = true;
    paused_at_ = now();
    arm();
}

void FetchImpl::do_resume() {
    if (done_ || !paused_) return;
    paused_ = false;
    if (timer_paused_) {
        timer_paused_ = false;
        uint64_t d = now() - paused_at_;
        total_deadline_ += d;
        if (phase_deadline_) phase_deadline_ += d;
        arm();
    }
    if (resume_posted_) return;
    resume_posted_ = true;
    std::weak_ptr<FetchImpl> w = weak_from_this();
    loop_.post([w] {
        auto ex = w.lock();
        if (!ex) return;
        ex->resume_posted_ = false;
        if (!ex->done_ && !ex->paused_ && ex->phase_ == Phase::receiving) ex->deliver();
    });
}

// ---------------------------------------------------------------------------------------------
// Timer

void FetchImpl::arm() {
    if (!timer_.is_open() || done_) return;
    uint64_t deadline = total_deadline_;
    if (phase_deadline_ && phase_deadline_ < deadline) deadline = phase_deadline_;
    if (timer_paused_) deadline = paused_at_ + t_.max_pause_ms;
    uint64_t n = now();
    uv_timer_start(timer_.get(), on_timer, deadline > n ? deadline - n : 0, 0);
}

void FetchImpl::on_timer(uv_timer_t* t) noexcept {
    if (auto* ex = static_cast<FetchImpl*>(t->data)) ex->timer_fired();
}

void FetchImpl::timer_fired() {
    auto keep = shared_from_this();
    if (done_) return;
    uint64_t n = now();
    const char* name = server_ ? server_->name().c_str() : pool_->spec().name.c_str();
    if (timer_paused_) {
        if (n < paused_at_ + t_.max_pause_ms) {
            arm();
            return;
        }
        fail(ErrorKind::timeout, std::string(name) + ": the client took no data for " +
                                     std::to_string(t_.max_pause_ms) + " ms");
        return;
    }
    if (phase_deadline_ && n >= phase_deadline_ && phase_deadline_ <= total_deadline_) {
        if (phase_kind_ == ErrorKind::connect_timeout) {
            bool dns = phase_ == Phase::resolving;
            std::string msg = std::string(dns ? "resolving " : "connect to ") + name +
                              " timed out after " + std::to_string(t_.connect_ms) + " ms";
            connect_failed(dns ? ErrorKind::dns : ErrorKind::connect_timeout, std::move(msg));
            return;
        }
        std::string msg =
            std::string(name) + ": no response within " + std::to_string(t_.first_byte_ms) + " ms";
        if (!health_) server_->record_failure(n, msg, pool_->tuning());
        fail(ErrorKind::first_byte_timeout, std::move(msg));
        return;
    }
    if (n >= total_deadline_) {
        fail(ErrorKind::timeout, std::string(name) + ": exchange not complete within " +
                                     std::to_string(t_.total_ms) + " ms");
        return;
    }
    arm();
}

} // namespace ec::origin
