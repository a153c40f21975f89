// SipHash-2-4 (Aumasson & Bernstein), straightforward reference form.
#include "util/hash.hpp"

#include <cstring>

namespace ec {

namespace {
inline uint64_t rotl(uint64_t x, int b) {
    return (x << b) | (x >> (64 - b));
}

inline void round(uint64_t& v0, uint64_t& v1, uint64_t& v2, uint64_t& v3) {
    v0 += v1;
    v1 = rotl(v1, 13);
    v1 ^= v0;
    v0 = rotl(v0, 32);
    v2 += v3;
    v3 = rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = rotl(v1, 17);
    v1 ^= v2;
    v2 = rotl(v2, 32);
}
} // namespace

uint64_t siphash24(const HashKey& key, std::string_view data) {
    uint64_t v0 = 0x736f6d6570736575ULL ^ key.k0;
    uint64_t v1 = 0x646f72616e646f6dULL ^ key.k1;
    uint64_t v2 = 0x6c7967656e657261ULL ^ key.k0;
    uint64_t v3 = 0x7465646279746573ULL ^ key.k1;
    const auto* p = reinterpret_cast<const unsigned char*>(data.data());
    size_t n = data.size();
    size_t blocks = n / 8;
    for (size_t i = 0; i < blocks; ++i) {
        uint64_t m;
        std::memcpy(&m, p + i * 8, 8); // little-endian hosts only (x86_64, aarch64)
        v3 ^= m;
        round(v0, v1, v2, v3);
        round(v0, v1, v2, v3);
        v0 ^= m;
    }
    uint64_t b = static_cast<uint64_t>(n) << 56;
    const unsigned char* tail = p + blocks * 8;
    for (size_t i = 0; i < n % 8; ++i)
        b |= static_cast<uint64_t>(tail[i]) << (8 * i);
    v3 ^= b;
    round(v0, v1, v2, v3);
    round(v0, v1, v2, v3);
    v0 ^= b;
    v2 ^= 0xff;
    for (int i = 0; i < 4; ++i)
        round(v0, v1, v2, v3);
    return v0 ^ v1 ^ v2 ^ v3;
}

} // namespace ec
