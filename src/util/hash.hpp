// SipHash-2-4: a keyed 64-bit hash, so long storage keys can't be made to collide on purpose.
#pragma once

#include <cstdint>
#include <string_view>

namespace ec {

struct HashKey {
    uint64_t k0 = 0x0706050403020100ULL;
    uint64_t k1 = 0x0f0e0d0c0b0a0908ULL;
};

uint64_t siphash24(const HashKey& key, std::string_view data);

} // namespace ec
