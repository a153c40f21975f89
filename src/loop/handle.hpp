// RAII owners for libuv handles: the handle's memory is freed only in its close callback.
#pragma once

#include <functional>
#include <utility>

#include <uv.h>

namespace ec::loop {

// Owns one heap-allocated uv handle of type H. Destroying the owner closes the handle and stops
// further callbacks at once; libuv frees the memory later, in the close callback, as it requires.
template <class H> class HandleBox {
public:
    HandleBox() : h_(new H) { reinterpret_cast<uv_handle_t*>(h_)->data = nullptr; }
    ~HandleBox() { close(); }
    HandleBox(const HandleBox&) = delete;
    HandleBox& operator=(const HandleBox&) = delete;

    H* get() const { return h_; }
    bool is_open() const { return h_ != nullptr; }

    // Idempotent. Safe to call from within the handle's own callback.
    void close() {
        if (!h_) return;
        H* h = h_;
        h_ = nullptr;
        reinterpret_cast<uv_handle_t*>(h)->data = nullptr;
        if (initialized_) {
            uv_close(reinterpret_cast<uv_handle_t*>(h),
                     [](uv_handle_t* hh) { delete reinterpret_cast<H*>(hh); });
        } else {
            delete h;
        }
    }
    void mark_initialized() { initialized_ = true; }

private:
    H* h_;
    bool initialized_ = false;
};

// A stream that is a TCP socket or a Unix socket (uv_pipe_t), for code that serves both: init
// one member, then use `stream` / `handle` (libuv's handle types share their leading fields).
union StreamHandle {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
};

// A libuv timer calling a std::function. Stops when destroyed.
class Timer {
public:
    Timer(uv_loop_t* loop, std::function<void()> cb);
    void start(uint64_t timeout_ms, uint64_t repeat_ms = 0);
    void stop();
    bool active() const;
    // Keeps the loop from staying alive just for this timer.
    void unref();

private:
    HandleBox<uv_timer_t> box_;
    std::function<void()> cb_;
};

// A libuv signal watcher.
class Signal {
public:
    Signal(uv_loop_t* loop, int signum, std::function<void()> cb);
    void unref();

private:
    HandleBox<uv_signal_t> box_;
    std::function<void()> cb_;
};

// A check / prepare / idle handle running a function every iteration while started.
template <class H> class PhaseHook {
public:
    PhaseHook(uv_loop_t* loop, std::function<void()> cb);
    void start();
    void stop();
    void unref() { uv_unref(reinterpret_cast<uv_handle_t*>(box_.get())); }

private:
    HandleBox<H> box_;
    std::function<void()> cb_;
};

using CheckHook = PhaseHook<uv_check_t>;
using IdleHook = PhaseHook<uv_idle_t>;
using PrepareHook = PhaseHook<uv_prepare_t>;

// Runs work() on libuv's thread pool, then done(status) on the loop thread. status is 0, or
// UV_ECANCELED when the loop is shutting down before the work started.
void queue_work(uv_loop_t* loop, std::function<void()> work, std::function<void(int)> done);

} // namespace ec::loop
