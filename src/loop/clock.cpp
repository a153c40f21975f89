// Clock: one wall-clock read per loop iteration.
#include "loop/clock.hpp"

#include <ctime>

namespace ec::loop {

int64_t Clock::now_ms() {
    uint64_t mono = uv_now(loop_);
    if (mono != cached_mono_) {
        // The loop updated its time since our last read: take a fresh wall-clock sample.
        timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        cached_wall_ = static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
        cached_mono_ = mono;
    }
    return cached_wall_ + offset_ms_;
}

} // namespace ec::loop
