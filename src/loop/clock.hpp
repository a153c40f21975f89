// Clock: wall and monotonic time read once per loop iteration, with a test offset hook.
#pragma once

#include <cstdint>

#include <uv.h>

namespace ec::loop {

// Callers on the loop thread read time through this object, never from the OS directly, so a
// whole iteration sees one "now" and tests can move time without sleeping.
class Clock {
public:
    explicit Clock(uv_loop_t* loop) : loop_(loop) {}

    // Monotonic milliseconds (libuv's cached loop time).
    uint64_t mono_ms() const { return uv_now(loop_); }
    // Wall-clock milliseconds since the epoch, plus the test offset.
    int64_t now_ms();
    int64_t now_s() { return now_ms() / 1000; }

    // Moves wall time forward (or back) for every later reading; expiry and freshness follow.
    void advance_for_test(int64_t ms) { offset_ms_ += ms; }

private:
    uv_loop_t* loop_;
    uint64_t cached_mono_ = UINT64_MAX;
    int64_t cached_wall_ = 0;
    int64_t offset_ms_ = 0;
};

} // namespace ec::loop
