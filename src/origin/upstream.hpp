// Upstream: one configured "host:port" of an origin — addresses and DNS, connections, health.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <sys/socket.h>
#include <uv.h>

#include "origin/types.hpp"

namespace ec::origin {

class UpstreamConn;
class FetchImpl;
class PoolCore;

// Owned by its PoolCore (shared_ptr, so that connections and fetches still using a server
// removed by a reload keep it alive). `pool_` is null once the pool shut down; everything that
// reaches the pool through a server checks it.
class Upstream : public std::enable_shared_from_this<Upstream> {
public:
    Upstream(PoolCore& pool, std::string name);
    ~Upstream();
    Upstream(const Upstream&) = delete;
    Upstream& operator=(const Upstream&) = delete;

    const std::string& name() const { return name_; }
    // The host part of the name, as configured ("api.example.com", "10.0.0.1", "::1").
    const std::string& host() const { return host_; }
    PoolCore* pool() const { return pool_; }

    // --- Addresses
    // True when the name still has to be resolved before a connection can be opened.
    bool needs_dns() const { return addrs_.empty() && !literal_ && valid_; }
    size_t address_count() const { return addrs_.size(); }
    // The i-th address to try, starting from the one that last worked.
    const sockaddr* address(size_t i) const;
    void address_worked(size_t i);
    // Starts a background resolution unless one runs or the name is an IP literal. `waiter`
    // (may be empty) gets dns_done() when it finishes, successful or not.
    void resolve(std::weak_ptr<FetchImpl> waiter);
    // Re-resolves in the background when the addresses are older than refresh_ms.
    void maybe_refresh(uint64_t now, uint32_t refresh_ms);
    const std::string& dns_error() const { return dns_error_; }
    bool valid() const { return valid_; }

    // --- Connections
    UpstreamConn* take_idle();          // most recently used first; nullptr when none
    bool available(uint32_t max) const; // an idle connection, or room for a new one
    void add(UpstreamConn* c);          // a new connection counts against the limit
    void conn_idle(UpstreamConn* c);    // back from a request
    void conn_closed(UpstreamConn* c);  // closed, whatever state it was in
    void close_idle_older_than(uint64_t cutoff);
    void close_all();
    size_t open() const { return open_; }
    size_t idle() const { return idle_.size(); }

    // --- Health
    // Up for new requests: the operator's override first (admin_health), then the checks.
    bool up(uint64_t now) const {
        if (admin_ != AdminHealth::automatic) return admin_ == AdminHealth::healthy;
        return !active_down_ && now >= down_until_;
    }
    // Sick or draining by the operator: not even panic mode may pick it.
    bool taken_out() const {
        return admin_ == AdminHealth::sick || admin_ == AdminHealth::draining;
    }
    // Sets the override; taking the server out closes its idle connections at once.
    void set_admin_health(AdminHealth h);
    uint64_t last_failure_ms() const { return last_failure_ms_; }
    void record_failure(uint64_t now, const std::string& why, const Tuning& t);
    void record_success();
    void health_result(bool ok, uint64_t now, const std::string& why);
    bool check_in_flight = false;

    ServerStatus status(uint64_t now) const;

    // Set when a reload removed this server: no new requests, connections close when done.
    bool retired = false;
    uint64_t requests = 0;

    // Detaches from the pool (shutdown): cancels DNS, closes connections.
    void shutdown();

private:
    struct DnsReq;
    static void on_resolved(uv_getaddrinfo_t* req, int status, addrinfo* res) noexcept;
    void resolved(int status, addrinfo* res);
    void notify_waiters();

    PoolCore* pool_;
    std::string name_;
    std::string host_;
    std::string port_;
    bool valid_ = false;
    bool literal_ = false;

    std::vector<sockaddr_storage> addrs_;
    size_t preferred_ = 0;
    uint64_t resolved_at_ = 0;
    DnsReq* dns_ = nullptr;
    std::string dns_error_;
    std::vector<std::weak_ptr<FetchImpl>> dns_waiters_;

    // Every open connection (few per server; linear removal is fine), and the idle ones, LIFO:
    // back() is the most recently used.
    std::vector<UpstreamConn*> conns_;
    std::vector<UpstreamConn*> idle_;
    size_t open_ = 0;

    uint32_t consecutive_failures_ = 0;
    uint32_t cooldown_ms_ = 0;
    uint64_t down_until_ = 0;
    uint64_t last_failure_ms_ = 0;
    bool active_down_ = false;
    AdminHealth admin_ = AdminHealth::automatic;
    uint64_t failures_ = 0;
    std::string last_error_;
};

// Test hook: when set, names are resolved by calling this on the thread pool instead of
// getaddrinfo. Returns 0 and fills `out`, or a UV_EAI_* error.
using ResolveHook = std::function<int(const std::string& host, const std::string& port,
                                      std::vector<sockaddr_storage>& out)>;
void set_resolve_hook_for_test(ResolveHook hook);

} // namespace ec::origin
