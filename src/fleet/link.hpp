// Link: the NATS side of the fleet — one connection, the JetStream bucket, publishes and the
// bucket subscription — run on a thread of its own so nothing on the loop ever blocks on NATS.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nats/nats.h>
#include <uv.h>

#include "fleet/change.hpp"
#include "loop/handle.hpp"
#include "loop/loop.hpp"
#include "origin/types.hpp"
#include "util/status.hpp"

namespace ec::fleet {

struct LinkSettings {
    std::vector<std::string> servers; // nats://host:port
    std::string token, credentials_file;
    std::string name; // the connection name servers show
    std::string node; // names this node's durable purge consumer (purge_<node>)
    int replicas = 3;
};

// What the link reports to the loop. Every callback runs on the loop thread.
struct LinkEvents {
    // Connected (url of the server) or not (reason), whenever that changes.
    std::function<void(bool connected, std::string detail)> on_connection;
    // The bucket and the purge stream exist and this node's purge consumer is bound: writes
    // and purges can go out. After every (re)connect. `max_payload` is the server's limit.
    std::function<void(int64_t max_payload)> on_ready;
    // Changes delivered by the subscription of `generation`, in stream order. `pending` is how
    // many more the stream holds for us (lag in messages).
    std::function<void(uint64_t generation, std::vector<Change> changes, uint64_t pending)>
        on_changes;
    // A purge message (the payload the publisher built) to apply; call `ack` once applied, so
    // a node that stops before that gets it again.
    std::function<void(uint64_t seq, std::string payload, std::function<void()> ack)> on_purge;
    // This node's purge consumer fell behind the purge stream's retention: purges were lost.
    std::function<void()> on_purge_gap;
};

// The purge stream: every node's durable consumer applies every purge.
inline constexpr const char* kPurgeStream = "EDGECACHED_PURGE";
inline constexpr const char* kPurgeSubject = "edgecached.purge";
inline constexpr int64_t kPurgeRetentionS = 24 * 3600;

class Link {
public:
    // Starts the NATS thread, which connects (retrying across the list forever) and sets up the
    // bucket. Throws std::runtime_error when the NATS options cannot be built (bad URL, an
    // unreadable credentials file).
    Link(loop::Loop& loop, LinkSettings settings, LinkEvents events);
    // Stops the thread and closes the connection. Jobs not yet run are dropped without calling
    // their completions (the daemon is going away).
    ~Link();
    Link(const Link&) = delete;
    Link& operator=(const Link&) = delete;

    // Deadlines are steady-clock milliseconds (now_ms() + a timeout), read on any thread.
    static uint64_t now_ms();

    // Publishes `payload` to bucket key `key` and waits for JetStream's ack (R = replicas) until
    // `deadline_ms`. done (on the loop): the stream sequence, or 503
    // fleet_unavailable with the reason.
    void publish(std::string key, std::string payload, std::vector<origin::Header> headers,
                 uint64_t deadline_ms, std::function<void(Result<uint64_t>)> done);
    // Publishes `keys` in order, like publish(), stopping at the first failure; done gets the
    // sequence of the last one (0 when keys is empty).
    struct Publication {
        std::string key, payload;
        std::vector<origin::Header> headers;
    };
    void publish_all(std::vector<Publication> pubs, uint64_t deadline_ms,
                     std::function<void(Result<uint64_t>)> done);
    // Claims title key `key` for `id` unless someone holds it (JetStream's expected-last-
    // subject-sequence makes two nodes racing for one title agree). done: {holder id, seq}:
    // `id` and its sequence when we claimed it, else the current holder and 0.
    struct Claim {
        std::string holder;
        uint64_t seq = 0;
    };
    void claim(std::string key, std::string id, uint64_t deadline_ms,
               std::function<void(Result<Claim>)> done);
    // Removes every message of subjects matching `filter` (a subject relative to the bucket,
    // wildcards allowed) from the stream; failures are logged. Fire and forget.
    void purge_subjects(std::string filter);

    // Publishes a purge message on the purge stream; done: its sequence (like publish()).
    void publish_purge(std::string payload, uint64_t deadline_ms,
                       std::function<void(Result<uint64_t>)> done);
    // How many of the purge stream's consumers (one per node that ever joined) acknowledged
    // purge `seq`. Errors: 503 fleet_unavailable.
    struct PurgeProgress {
        size_t applied = 0, known = 0;
    };
    void purge_progress(uint64_t seq, std::function<void(Result<PurgeProgress>)> done);

    // (Re)subscribes to the bucket from stream sequence after + 1; deliveries carry
    // `generation`. If the stream no longer holds after + 1 (it was purged, or the bucket was
    // recreated), `on_gap` runs on the loop with the stream's first sequence and message count
    // instead, and nothing is subscribed.
    void subscribe(uint64_t after, uint64_t generation,
                   std::function<void(uint64_t first, uint64_t msgs)> on_gap);

    bool connected() const { return connected_.load(); }

    static constexpr size_t kMaxQueuedChanges = 20000; // then the delivery thread waits

private:
    using Job = std::function<void()>;
    void run_on_nats(Job job);                  // any thread
    void run_on_loop(std::function<void()> fn); // any thread
    void thread_main();
    bool setup();      // NATS thread: JetStream context + bucket; false = retry later
    void post_ready(); // NATS thread: tells the loop writes can go out
    // NATS thread: waits until connected and set up, or the deadline; false = not ready.
    bool ensure_ready(uint64_t deadline_ms);
    // NATS thread: carries out want_sub_; false = retry later.
    bool subscribe_now();
    // NATS thread: binds (creating) this node's durable purge consumer; false = retry later.
    bool subscribe_purges_now();
    static void on_purge_message(natsConnection*, natsSubscription*, natsMsg* msg,
                                 void* closure) noexcept;
    // NATS thread: makes nats.c tell us when `sub`'s message handler has returned for the last
    // time (it may still be running, or about to, when Unsubscribe returns).
    void track_dispatch(natsSubscription* sub);
    static void on_dispatch_complete(void* closure) noexcept;
    Result<uint64_t> publish_now(const Publication& p, uint64_t deadline_ms);
    // NATS thread: runs `call` (a JetStream request) again while it finds no responders — the
    // stream's leader went away and the servers are electing another, a few seconds — until
    // `deadline_ms`. Returns the last status.
    natsStatus while_electing(uint64_t deadline_ms, const std::function<natsStatus()>& call);
    static void on_async(uv_async_t* h);
    static void on_message(natsConnection*, natsSubscription*, natsMsg* msg,
                           void* closure) noexcept;
    static void on_connected(natsConnection* nc, void* closure) noexcept;
    static void on_disconnected(natsConnection* nc, void* closure) noexcept;
    static void on_closed(natsConnection* nc, void* closure) noexcept;
    static void on_reconnected(natsConnection* nc, void* closure) noexcept;
    static void on_async_error(natsConnection* nc, natsSubscription* sub, natsStatus err,
                               void* closure) noexcept;

    loop::Loop& loop_;
    LinkSettings settings_;
    LinkEvents events_;
    loop::HandleBox<uv_async_t> async_;

    // Subscription closures live as long as the link: a callback may still be running for an
    // old subscription while we replace it.
    struct SubCtx {
        Link* link;
        uint64_t generation;
    };
    std::vector<std::unique_ptr<SubCtx>> subs_ctx_;

    mutable std::mutex mu_;
    std::condition_variable cv_;      // NATS thread: jobs, connection changes, stop
    std::condition_variable room_cv_; // delivery threads: the loop drained the inbox
    std::deque<Job> jobs_;
    struct Delivery {
        uint64_t generation = 0;
        Change change;
        uint64_t pending = 0;
    };
    std::vector<Delivery> inbox_;
    struct SubRequest {
        uint64_t after, generation;
        std::function<void(uint64_t first, uint64_t msgs)> on_gap;
    };
    std::unique_ptr<SubRequest> want_sub_;
    std::vector<std::function<void()>> to_loop_;
    size_t queued_changes_ = 0; // changes posted to the loop, not yet handed to events_
    bool stop_ = false;
    bool closed_ = false; // nats.c called the closed callback: no callback of ours follows
    // Subscriptions whose message handler nats.c may still call (their dispatch thread has not
    // reported completion): ~Link waits for none to be left before it frees what they use.
    size_t dispatching_ = 0;
    bool need_setup_ = true;
    std::string url_;
    std::atomic<bool> connected_{false};

    // Owned by the NATS thread (created in the constructor before it starts).
    natsOptions* opts_ = nullptr;
    natsConnection* nc_ = nullptr;
    jsCtx* js_ = nullptr;
    kvStore* kv_ = nullptr;
    natsSubscription* sub_ = nullptr;
    natsSubscription* purge_sub_ = nullptr;
    std::thread thread_;
};

} // namespace ec::fleet
