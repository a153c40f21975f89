// Helpers shared by the libFuzzer drivers: the split schedule and a hard invariant check.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace ec::fuzz {

// Splits an input into pieces as its mode byte says, so the fuzzer chooses the split points:
// bit 7 set = one piece; otherwise piece lengths are drawn from a PRNG seeded with the mode
// byte and the input length, each 1..1 + 4 * (mode & 0x7f) bytes (mode 0 = byte by byte).
class Splitter {
public:
    Splitter(uint8_t mode, size_t total)
        : whole_(mode & 0x80), max_(1 + 4 * static_cast<size_t>(mode & 0x7f)),
          state_(0x9e3779b9u ^ mode ^ static_cast<uint32_t>(total * 2654435761u)) {
        if (state_ == 0) state_ = 1;
    }
    // The length of the next piece out of `left` bytes (never 0 while left > 0).
    size_t next(size_t left) {
        if (whole_ || left == 0) return left;
        // xorshift32
        state_ ^= state_ << 13;
        state_ ^= state_ >> 17;
        state_ ^= state_ << 5;
        size_t n = 1 + state_ % max_;
        return n < left ? n : left;
    }

private:
    bool whole_;
    size_t max_;
    uint32_t state_;
};

// An invariant the code under test promised: report it and abort, so libFuzzer saves the input.
[[noreturn]] inline void invariant_failed(const char* what, const char* file, int line) {
    std::fprintf(stderr, "fuzz invariant failed: %s (%s:%d)\n", what, file, line);
    std::abort();
}

} // namespace ec::fuzz

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) ::ec::fuzz::invariant_failed(#cond, __FILE__, __LINE__);                      \
    } while (0)
