// Upstream: address parsing and DNS (uv_getaddrinfo, cached, refreshed), connection lists, health.
#include "origin/upstream.hpp"

#include <algorithm>
#include <cstring>
#include <netdb.h>

#include "loop/handle.hpp"
#include "origin/fetch_impl.hpp"
#include "origin/pool_core.hpp"
#include "origin/upstream_conn.hpp"
#include "util/address.hpp"
#include "util/log.hpp"

namespace ec::origin {

namespace {
ResolveHook& resolve_hook() {
    static ResolveHook hook;
    return hook;
}
} // namespace

void set_resolve_hook_for_test(ResolveHook hook) {
    resolve_hook() = std::move(hook);
}

// One resolution in flight. It outlives its Upstream when the pool goes away first: the callback
// then only frees it.
struct Upstream::DnsReq {
    uv_getaddrinfo_t req;
    std::weak_ptr<Upstream> server;
};

Upstream::Upstream(PoolCore& pool, std::string name) : pool_(&pool), name_(std::move(name)) {
    auto a = parse_host_port(name_);
    if (!a) {
        dns_error_ = a.error().message;
        last_error_ = dns_error_;
        return;
    }
    valid_ = true;
    host_ = a->host;
    port_ = std::to_string(a->port);
    sockaddr_storage ss{};
    if (uv_ip4_addr(host_.c_str(), a->port, reinterpret_cast<sockaddr_in*>(&ss)) == 0 ||
        uv_ip6_addr(host_.c_str(), a->port, reinterpret_cast<sockaddr_in6*>(&ss)) == 0) {
        literal_ = true;
        addrs_.push_back(ss);
    }
}

Upstream::~Upstream() {
    if (dns_) uv_cancel(reinterpret_cast<uv_req_t*>(&dns_->req));
}

const sockaddr* Upstream::address(size_t i) const {
    return reinterpret_cast<const sockaddr*>(&addrs_[(preferred_ + i) % addrs_.size()]);
}

void Upstream::address_worked(size_t i) {
    if (!addrs_.empty()) preferred_ = (preferred_ + i) % addrs_.size();
}

void Upstream::resolve(std::weak_ptr<FetchImpl> waiter) {
    if (!waiter.expired()) dns_waiters_.push_back(std::move(waiter));
    if (dns_ || literal_ || !valid_ || !pool_) return;
    if (resolve_hook()) {
        // Test path: same thread-pool round trip, a scripted answer.
        auto out = std::make_shared<std::vector<sockaddr_storage>>();
        auto rc = std::make_shared<int>(0);
        std::weak_ptr<Upstream> w = weak_from_this();
        dns_ = new DnsReq{};
        DnsReq* mine = dns_;
        loop::queue_work(
            pool_->loop().uv(),
            [out, rc, h = host_, p = port_] { *rc = resolve_hook()(h, p, *out); },
            [out, rc, w, mine](int status) {
                delete mine;
                auto s = w.lock();
                if (!s || s->dns_ != mine) return;
                s->dns_ = nullptr;
                if (status != 0) *rc = status;
                if (*rc == 0 && !out->empty()) s->addrs_ = *out, s->preferred_ = 0;
                s->resolved(*rc == 0 && out->empty() ? UV_EAI_NONAME : *rc, nullptr);
            });
        return;
    }
    dns_ = new DnsReq{};
    dns_->req.data = dns_;
    dns_->server = weak_from_this();
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_protocol = IPPROTO_TCP;
    int rc = uv_getaddrinfo(pool_->loop().uv(), &dns_->req, on_resolved, host_.c_str(),
                            port_.c_str(), &hints);
    if (rc != 0) {
        delete dns_;
        dns_ = nullptr;
        // Report from a posted callback: we may be on the stack of Pool::fetch().
        std::weak_ptr<Upstream> w = weak_from_this();
        pool_->loop().post([w, rc] {
            if (auto s = w.lock()) s->resolved(rc, nullptr);
        });
    }
}

void Upstream::maybe_refresh(uint64_t now, uint32_t refresh_ms) {
    if (literal_ || !valid_ || dns_ || refresh_ms == 0) return;
    if (now - resolved_at_ >= refresh_ms) resolve({});
}

void Upstream::on_resolved(uv_getaddrinfo_t* req, int status, addrinfo* res) noexcept {
    std::unique_ptr<DnsReq> d(static_cast<DnsReq*>(req->data));
    auto s = d->server.lock();
    if (!s || s->dns_ != d.get()) {
        uv_freeaddrinfo(res);
        return;
    }
    s->dns_ = nullptr;
    if (status == 0) {
        std::vector<sockaddr_storage> found;
        for (addrinfo* ai = res; ai; ai = ai->ai_next) {
            if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6) continue;
            sockaddr_storage ss{};
            std::memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
            bool dup = std::any_of(found.begin(), found.end(), [&](const sockaddr_storage& o) {
                return std::memcmp(&o, &ss, sizeof ss) == 0;
            });
            if (!dup) found.push_back(ss);
        }
        if (found.empty()) {
            status = UV_EAI_NONAME;
        } else {
            s->addrs_ = std::move(found);
            s->preferred_ = 0;
        }
    }
    uv_freeaddrinfo(res);
    s->resolved(status, nullptr);
}

void Upstream::resolved(int status, addrinfo*) {
    if (!pool_) return;
    resolved_at_ = pool_->now();
    if (status == 0) {
        ++pool_->stats().dns_refreshes;
        dns_error_.clear();
    } else {
        // A failed refresh keeps the addresses we had; only a first resolution leaves none.
        ++pool_->stats().dns_failures;
        dns_error_ = std::string("resolving ") + host_ + ": " + uv_strerror(status);
        last_error_ = dns_error_;
        LOG_WARN("origin %s: %s%s", pool_->spec().name.c_str(), dns_error_.c_str(),
                 addrs_.empty() ? "" : " (keeping the previous addresses)");
    }
    notify_waiters();
}

void Upstream::notify_waiters() {
    std::vector<std::weak_ptr<FetchImpl>> waiters;
    waiters.swap(dns_waiters_);
    for (auto& w : waiters)
        if (auto ex = w.lock()) ex->dns_done();
}

UpstreamConn* Upstream::take_idle() {
    if (idle_.empty()) return nullptr;
    UpstreamConn* c = idle_.back();
    idle_.pop_back();
    return c;
}

bool Upstream::available(uint32_t max) const {
    return !idle_.empty() || open_ < max;
}

void Upstream::add(UpstreamConn* c) {
    conns_.push_back(c);
    ++open_;
}

void Upstream::conn_idle(UpstreamConn* c) {
    idle_.push_back(c);
    if (pool_) pool_->capacity_changed();
}

void Upstream::conn_closed(UpstreamConn* c) {
    auto it = std::find(idle_.begin(), idle_.end(), c);
    if (it != idle_.end()) idle_.erase(it);
    auto jt = std::find(conns_.begin(), conns_.end(), c);
    if (jt != conns_.end()) {
        conns_.erase(jt);
        --open_;
    }
    if (pool_) {
        ++pool_->stats().connections_closed;
        pool_->capacity_changed();
    }
}

void Upstream::close_idle_older_than(uint64_t cutoff) {
    // idle_ is in the order connections went idle: the oldest are at the front.
    while (!idle_.empty() && idle_.front()->idle_since() <= cutoff)
        idle_.front()->close(); // conn_closed() removes it
}

void Upstream::set_admin_health(AdminHealth h) {
    admin_ = h;
    if (taken_out()) close_idle_older_than(UINT64_MAX);
}

void Upstream::close_all() {
    while (!conns_.empty())
        conns_.back()->close();
}

void Upstream::record_failure(uint64_t now, const std::string& why, const Tuning& t) {
    ++failures_;
    ++consecutive_failures_;
    last_error_ = why;
    last_failure_ms_ = now;
    if (consecutive_failures_ >= t.fail_threshold) {
        cooldown_ms_ =
            cooldown_ms_ ? std::min<uint32_t>(cooldown_ms_ * 2, t.down_max_ms) : t.down_base_ms;
        down_until_ = now + cooldown_ms_;
        LOG_WARN("origin server %s down for %u ms: %s", name_.c_str(), cooldown_ms_, why.c_str());
    }
}

void Upstream::record_success() {
    bool was_down = down_until_ != 0;
    consecutive_failures_ = 0;
    cooldown_ms_ = 0;
    down_until_ = 0;
    if (was_down && pool_) pool_->capacity_changed();
}

void Upstream::health_result(bool ok, uint64_t now, const std::string& why) {
    check_in_flight = false;
    if (ok) {
        bool was_down = active_down_ || down_until_ != 0;
        active_down_ = false;
        consecutive_failures_ = 0;
        cooldown_ms_ = 0;
        down_until_ = 0;
        if (was_down) {
            LOG_INFO("origin server %s passed its health check: up", name_.c_str());
            if (pool_) pool_->capacity_changed();
        }
    } else {
        if (!active_down_)
            LOG_WARN("origin server %s failed its health check: %s", name_.c_str(), why.c_str());
        active_down_ = true;
        last_error_ = why;
        last_failure_ms_ = now;
    }
}

ServerStatus Upstream::status(uint64_t now) const {
    ServerStatus s;
    s.server = name_;
    s.up = valid_ && up(now);
    s.resolved = !addrs_.empty();
    s.consecutive_failures = consecutive_failures_;
    s.down_for_ms = now < down_until_ ? down_until_ - now : 0;
    s.active_check_failed = active_down_;
    s.open = open_;
    s.idle = idle_.size();
    s.requests = requests;
    s.failures = failures_;
    s.last_error = last_error_;
    s.admin = admin_;
    return s;
}

void Upstream::shutdown() {
    if (dns_) {
        // The request's callback still runs (with UV_EAI_CANCELED or a late answer) and frees it.
        uv_cancel(reinterpret_cast<uv_req_t*>(&dns_->req));
        dns_ = nullptr;
    }
    close_all();
    dns_waiters_.clear();
    pool_ = nullptr;
}

} // namespace ec::origin
