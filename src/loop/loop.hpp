// Loop: the one libuv loop of the process, its clock, posted callbacks and end-of-iteration hooks.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include <uv.h>

#include "loop/clock.hpp"
#include "loop/handle.hpp"

namespace ec::loop {

// Iteration order (libuv): timers → idle (posted callbacks) → prepare → poll (I/O) → check
// (end-of-iteration hooks: group commit, read-transaction reset). Everything runs on one thread.
class Loop {
public:
    Loop();
    ~Loop();
    Loop(const Loop&) = delete;
    Loop& operator=(const Loop&) = delete;

    uv_loop_t* uv() { return &loop_; }
    Clock& clock() { return clock_; }

    // Runs until stop() or until nothing keeps the loop alive. Returns uv_run's result.
    int run();
    void stop() { uv_stop(&loop_); }

    // Runs fn on a later iteration (idle phase), never re-entrantly from the caller's stack. The
    // loop does not block in poll while posted callbacks are waiting.
    void post(std::function<void()> fn);

    // fn runs in the check phase of every iteration, after that iteration's I/O callbacks.
    // Hooks run in registration order. Returns an id for remove_iteration_hook.
    size_t add_iteration_hook(std::function<void()> fn);
    void remove_iteration_hook(size_t id);

    // Makes sure this iteration does not block in poll, so the check hooks run promptly even
    // when the caller is a timer or idle callback.
    void wake();

    // Handles not yet closing, including the loop's own two; tests assert on it after teardown.
    size_t open_handles();

private:
    void run_posted();
    void run_hooks();

    uv_loop_t loop_;
    Clock clock_;
    std::vector<std::function<void()>> posted_;
    std::vector<std::pair<size_t, std::function<void()>>> hooks_;
    size_t next_hook_id_ = 1;
    std::unique_ptr<IdleHook> idle_;
    std::unique_ptr<CheckHook> check_;
};

} // namespace ec::loop
