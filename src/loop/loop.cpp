// Loop: posted callbacks on an idle handle, end-of-iteration hooks on a check handle.
#include "loop/loop.hpp"

#include <cstdio>
#include <stdexcept>
#include <string>

namespace ec::loop {

Loop::Loop() : clock_(&loop_) {
    int rc = uv_loop_init(&loop_);
    if (rc != 0) throw std::runtime_error(std::string("uv_loop_init: ") + uv_strerror(rc));
    idle_ = std::make_unique<IdleHook>(&loop_, [this] { run_posted(); });
    check_ = std::make_unique<CheckHook>(&loop_, [this] { run_hooks(); });
    check_->start();
    check_->unref(); // hooks alone must not keep the loop alive
}

Loop::~Loop() {
    idle_.reset();
    check_.reset();
    // Let pending close callbacks run (they free handle memory), then close the loop. A handle
    // still open here is a leak in its owner; say so rather than abort during shutdown.
    uv_run(&loop_, UV_RUN_NOWAIT);
    if (uv_loop_close(&loop_) == UV_EBUSY) {
        fprintf(stderr, "edgecached: handles left open at loop close:\n");
        uv_print_all_handles(&loop_, stderr);
    }
}

int Loop::run() {
    return uv_run(&loop_, UV_RUN_DEFAULT);
}

void Loop::post(std::function<void()> fn) {
    if (posted_.empty()) idle_->start();
    posted_.push_back(std::move(fn));
}

void Loop::wake() {
    if (posted_.empty()) {
        // An empty callback: its only effect is the zero poll timeout an active idle handle gives.
        post([] {});
    }
}

void Loop::run_posted() {
    // Swap first: callbacks posted while these run wait for the next iteration, so I/O is
    // never starved by a task that keeps re-posting itself.
    std::vector<std::function<void()>> batch;
    batch.swap(posted_);
    for (auto& fn : batch)
        fn();
    if (posted_.empty()) idle_->stop();
}

size_t Loop::add_iteration_hook(std::function<void()> fn) {
    size_t id = next_hook_id_++;
    hooks_.emplace_back(id, std::move(fn));
    return id;
}

void Loop::remove_iteration_hook(size_t id) {
    for (auto it = hooks_.begin(); it != hooks_.end(); ++it) {
        if (it->first == id) {
            hooks_.erase(it);
            return;
        }
    }
}

void Loop::run_hooks() {
    for (size_t i = 0; i < hooks_.size(); ++i)
        hooks_[i].second();
}

size_t Loop::open_handles() {
    size_t n = 0;
    uv_walk(
        &loop_, [](uv_handle_t* h, void* arg) { *static_cast<size_t*>(arg) += !uv_is_closing(h); },
        &n);
    return n;
}

} // namespace ec::loop
