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
void advance_test_clock(Daemon& daemon, http::Exchange& ex) {
    auto adv = query_param(ex.request().query, "advance");
    auto ms = adv ? clock_advance_ms(*adv) : std::nullopt;
    if (!ms)
        return http::send_error(ex, 400, "bad_request",
                                "advance=<seconds> required, at most 100 years either way");
    loop::Clock& clock = daemon.loop().clock();
    clock.advance_for_test(*ms);
    std::string body;
    JsonWriter(body).begin_object().field("now", clock.now_s()).end_object();
    http::send_json(ex, 200, std::move(body));
}

[[maybe_unused]] const bool registered = [] {
    const char* on = std::getenv("EDGECACHED_TEST_HOOKS");
    if (on && std::string_view(on) == "1")
        set_test_route({http::method_bit(HTTP_POST), "/admin/test/clock", &advance_test_clock});
    return true;
}();

} // namespace
} // namespace ec::daemon
