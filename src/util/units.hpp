// Parsing and printing byte sizes ("256MiB") for config and logs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ec {

// Accepts a plain number of bytes or a number followed by a unit, case-insensitive, a space
// allowed before it: B; KiB, MiB, GiB, TiB (and K, M, G, T) are powers of 1024; kB, MB, GB, TB
// are powers of 1000 ("1 GB" is 1,000,000,000 bytes, as disk vendors and SI write it).
// nullopt otherwise.
std::optional<uint64_t> parse_size(std::string_view s);

// "256MiB", "1.5GiB", "512B".
std::string format_size(uint64_t bytes);

} // namespace ec
