// Parsing and printing byte sizes ("256MiB") for config and logs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ec {

// Accepts a plain number of bytes or a number followed by B, K/KiB, M/MiB, G/GiB, T/TiB
// (binary multiples; "KB"/"MB"/"GB" are read as binary too, as nginx does). nullopt otherwise.
std::optional<uint64_t> parse_size(std::string_view s);

// "256MiB", "1.5GiB", "512B".
std::string format_size(uint64_t bytes);

} // namespace ec
