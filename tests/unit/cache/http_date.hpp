// Shared by the cache tests: a fixed "now" and IMF-fixdate strings for times around it.
#pragma once

#include <cstdint>
#include <string>

#include "util/time_format.hpp"

namespace ec::cache::test {

inline constexpr int64_t T = 1'700'000'000; // a round "now" for the origin and the cache

inline std::string date(int64_t t) {
    std::string s;
    ec::append_http_date(s, t);
    return s;
}

} // namespace ec::cache::test
