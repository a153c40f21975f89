// Test-only admin routes (/admin/test/*): present only in builds configured -Dtest_hooks=true.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "http/route_table.hpp"

namespace ec::http {
class Exchange;
}

namespace ec::daemon {

class Daemon;

// A test-only admin route: a row of the admin listeners' tables, placed before AdminApi's.
struct TestRoute {
    http::Methods methods = 0;
    std::string_view pattern; // static
    void (*handle)(Daemon&, http::Exchange&) = nullptr;
};

// Set once before the daemon starts, by src/daemon/test_hooks.cpp: linked into the edgecached
// executable only by -Dtest_hooks=true builds, and only when EDGECACHED_TEST_HOOKS=1. A
// default build never sets it, so /admin/test/* is a 404 there whatever the environment.
void set_test_route(TestRoute route);

// The clock offset in milliseconds for ?advance=<seconds>, or nullopt when it is out of range
// (beyond a hundred years either way), so the offset arithmetic cannot overflow.
std::optional<int64_t> clock_advance_ms(std::string_view seconds);

} // namespace ec::daemon
