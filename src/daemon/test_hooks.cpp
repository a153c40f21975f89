// The /admin/test/* routes, registered at start-up when EDGECACHED_TEST_HOOKS=1. Built into the
// edgecached executable only with -Dtest_hooks=true (meson_options.txt); never in a release.
#include "daemon/test_hooks.hpp"

#include <cstdlib>
#include <string>

#include "daemon/daemon.hpp"
#include "http/exchange.hpp"
#include "http/json_reply.hpp"
#include "util/json_writer.hpp"
#include "util/percent.hpp"

#ifndef EC_TEST_HOOKS
#error "test_hooks.cpp is compiled only by -Dtest_hooks=true builds"
#endif

namespace ec::daemon {
namespace {

// POST /admin/test/clock?advance=<seconds>: moves the daemon's wall clock so TTL tests need
// no sleeping; answers {"now": <unix seconds>}.
bool handle_test_route(Daemon& daemon, http::Exchange& ex) {
    const http::Request& req = ex.request();
    if (req.path != "/admin/test/clock") return false;
    if (req.method != HTTP_POST) {
        http::send_method_not_allowed(ex, "POST");
        return true;
    }
    auto adv = query_param(req.query, "advance");
    auto ms = adv ? clock_advance_ms(*adv) : std::nullopt;
    if (!ms) {
        http::send_error(ex, 400, "bad_request",
                         "advance=<seconds> required, at most 100 years either way");
        return true;
    }
    loop::Clock& clock = daemon.loop().clock();
    clock.advance_for_test(*ms);
    std::string body;
    JsonWriter(body).begin_object().field("now", clock.now_s()).end_object();
    http::send_json(ex, 200, std::move(body));
    return true;
}

[[maybe_unused]] const bool registered = [] {
    const char* on = std::getenv("EDGECACHED_TEST_HOOKS");
    if (on && std::string_view(on) == "1") set_test_route_handler(&handle_test_route);
    return true;
}();

} // namespace
} // namespace ec::daemon
