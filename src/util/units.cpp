// Byte-size parsing and formatting.
#include "util/units.hpp"

#include <cstdio>

#include "util/strings.hpp"

namespace ec {

std::optional<uint64_t> parse_size(std::string_view s) {
    s = trim_ows(s);
    size_t digits = 0;
    while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9')
        ++digits;
    if (digits == 0) return std::nullopt;
    auto n = parse_u64(s.substr(0, digits));
    if (!n) return std::nullopt;
    std::string unit = to_lower(trim_ows(s.substr(digits)));
    uint64_t mult;
    if (unit.empty() || unit == "b")
        mult = 1;
    else if (unit == "k" || unit == "kib")
        mult = 1ULL << 10;
    else if (unit == "m" || unit == "mib")
        mult = 1ULL << 20;
    else if (unit == "g" || unit == "gib")
        mult = 1ULL << 30;
    else if (unit == "t" || unit == "tib")
        mult = 1ULL << 40;
    else if (unit == "kb")
        mult = 1000;
    else if (unit == "mb")
        mult = 1000 * 1000;
    else if (unit == "gb")
        mult = 1000 * 1000 * 1000;
    else if (unit == "tb")
        mult = 1000ULL * 1000 * 1000 * 1000;
    else
        return std::nullopt;
    if (*n > UINT64_MAX / mult) return std::nullopt;
    return *n * mult;
}

std::string format_size(uint64_t bytes) {
    static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    double v = static_cast<double>(bytes);
    while (v >= 1024 && u < 4 && bytes % 1024 == 0) {
        v /= 1024;
        bytes /= 1024;
        ++u;
    }
    char buf[48];
    std::snprintf(buf, sizeof buf, "%llu%s", static_cast<unsigned long long>(bytes), units[u]);
    return buf;
}

} // namespace ec
