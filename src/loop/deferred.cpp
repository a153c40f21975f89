// DeferredQueue: bounded, de-duplicated background tasks started from posted callbacks.
#include "loop/deferred.hpp"

#include "util/log.hpp"

namespace ec::loop {

DeferredQueue::DeferredQueue(Loop& loop, size_t max_running, size_t max_queued)
    : state_(std::make_shared<State>()) {
    state_->loop = &loop;
    state_->max_running = max_running ? max_running : 1;
    state_->max_queued = max_queued;
}

DeferredQueue::~DeferredQueue() {
    // Running tasks hold only a weak reference: their Done becomes a no-op from here on.
    state_->queue.clear();
}

bool DeferredQueue::schedule(std::string key, std::string label, Task task) {
    State& st = *state_;
    if (!key.empty() && st.keys.count(key)) {
        ++st.stats.deduplicated;
        return false;
    }
    if (st.queue.size() >= st.max_queued) {
        ++st.stats.rejected;
        LOG_WARN("deferred: queue full (%zu), dropping %s", st.queue.size(), label.c_str());
        return false;
    }
    if (!key.empty()) st.keys.insert(key);
    ++st.stats.scheduled;
    st.queue.push_back(Item{std::move(key), std::move(label), std::move(task)});
    if (!st.pump_posted) {
        st.pump_posted = true;
        std::weak_ptr<State> weak = state_;
        st.loop->post([weak] {
            if (auto s = weak.lock()) {
                s->pump_posted = false;
                pump(s);
            }
        });
    }
    return true;
}

bool DeferredQueue::pending(std::string_view key) const {
    return state_->keys.count(std::string(key)) != 0;
}

void DeferredQueue::drop_queued() {
    State& st = *state_;
    for (auto& item : st.queue)
        if (!item.key.empty()) st.keys.erase(item.key);
    st.stats.rejected += st.queue.size();
    st.queue.clear();
}

void DeferredQueue::set_max_running(size_t n) {
    state_->max_running = n ? n : 1;
    pump(state_);
}

void DeferredQueue::pump(const std::shared_ptr<State>& st) {
    while (st->running < st->max_running && !st->queue.empty()) {
        Item item = std::move(st->queue.front());
        st->queue.pop_front();
        ++st->running;
        std::weak_ptr<State> weak = st;
        auto finished = std::make_shared<bool>(false);
        Done done = [weak, key = item.key, label = item.label, finished](bool ok,
                                                                         std::string_view why) {
            if (*finished) return; // a second call is a bug in the task; ignore it
            *finished = true;
            auto s = weak.lock();
            if (!s) return;
            --s->running;
            if (!key.empty()) s->keys.erase(key);
            if (ok) {
                ++s->stats.completed;
            } else {
                ++s->stats.failed;
                LOG_WARN("deferred task %s failed: %.*s", label.c_str(),
                         static_cast<int>(why.size()), why.data());
            }
            // Start the next task from a posted callback, not from inside this one's stack.
            if (!s->queue.empty() && !s->pump_posted) {
                s->pump_posted = true;
                s->loop->post([weak] {
                    if (auto s2 = weak.lock()) {
                        s2->pump_posted = false;
                        pump(s2);
                    }
                });
            }
        };
        item.task(std::move(done));
    }
}

} // namespace ec::loop
