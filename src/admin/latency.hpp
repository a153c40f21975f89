// LatencyHistogram: request durations in fixed Prometheus buckets.
#pragma once

#include <array>
#include <cstdint>

namespace ec::admin {

class LatencyHistogram {
public:
    // Upper bounds in seconds (Prometheus `le`), then +Inf.
    static constexpr std::array<double, 14> kBounds = {
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0};

    void record(uint64_t ns) {
        double s = static_cast<double>(ns) / 1e9;
        size_t i = 0;
        while (i < kBounds.size() && s > kBounds[i])
            ++i;
        ++counts_[i];
        sum_ += s;
        ++count_;
    }
    // Cumulative count of observations ≤ kBounds[i] (i == kBounds.size(): all).
    uint64_t cumulative(size_t i) const {
        uint64_t n = 0;
        for (size_t j = 0; j <= i && j < counts_.size(); ++j)
            n += counts_[j];
        return n;
    }
    double sum() const { return sum_; }
    uint64_t count() const { return count_; }
    void reset() { *this = LatencyHistogram{}; }

private:
    std::array<uint64_t, kBounds.size() + 1> counts_{};
    double sum_ = 0;
    uint64_t count_ = 0;
};

} // namespace ec::admin
