// DeferredQueue: the daemon's waitUntil — background tasks that run after the response is written.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>

#include "loop/loop.hpp"

namespace ec::loop {

// Tasks are started from a posted callback (never on the scheduling caller's stack, so the
// response that scheduled them is already handed to the socket), at most `max_running` at a
// time, at most one per non-empty key (queued or running). A task reports completion by
// calling its Done exactly once, possibly much later; failures are logged and counted and never
// reach the client that caused the task. Long work (purges) does a slice, then loop.post()s the
// next slice before calling Done at the very end.
class DeferredQueue {
public:
    using Done = std::function<void(bool ok, std::string_view why)>;
    using Task = std::function<void(Done)>;

    struct Stats {
        uint64_t scheduled = 0;
        uint64_t deduplicated = 0; // refused: same key already queued or running
        uint64_t rejected = 0;     // refused: queue full or shutting down
        uint64_t completed = 0;
        uint64_t failed = 0;
    };

    DeferredQueue(Loop& loop, size_t max_running, size_t max_queued);
    ~DeferredQueue();

    // Queues task under key ("" = no deduplication); `label` names it in logs. Returns false,
    // without running anything, when the key is already pending or the queue is full.
    bool schedule(std::string key, std::string label, Task task);

    // True while a task with this key is queued or running.
    bool pending(std::string_view key) const;

    // Drops queued tasks that have not started (shutdown); running ones still complete.
    void drop_queued();
    void set_max_running(size_t n);

    size_t running() const { return state_->running; }
    size_t queued() const { return state_->queue.size(); }
    const Stats& stats() const { return state_->stats; }
    void reset_stats() { state_->stats = {}; }

private:
    struct Item {
        std::string key;
        std::string label;
        Task task;
    };
    struct State {
        Loop* loop;
        size_t max_running;
        size_t max_queued;
        size_t running = 0;
        bool pump_posted = false;
        std::deque<Item> queue;
        std::unordered_set<std::string> keys;
        Stats stats;
    };

    static void pump(const std::shared_ptr<State>& st);

    std::shared_ptr<State> state_;
};

} // namespace ec::loop
