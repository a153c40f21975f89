// origin/servers: several servers per origin — round-robin, failover, passive and active
// health, panic mode, DNS, reloads.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <atomic>

#include "origin/pool.hpp"
#include "origin/upstream.hpp"
#include "tests/unit/origin/fake_origin.hpp"

using namespace ec;
using namespace ec::origin;
using namespace ec::origin::test;

namespace {

void finish(loop::Loop& loop, size_t baseline, Pool& pool) {
    pool.shutdown();
    spin(loop, 5);
    CHECK(loop.open_handles() == baseline);
}

const ServerStatus& status_of(const std::vector<ServerStatus>& v, const std::string& name) {
    for (const auto& s : v)
        if (s.server == name) return s;
    FAIL("no such server " << name);
    return v.front();
}

// Installs a resolve hook for one test case and removes it however the case ends: a failed
// REQUIRE must not leave later cases resolving through this one's dead locals.
struct ScopedResolveHook {
    explicit ScopedResolveHook(ResolveHook hook) { set_resolve_hook_for_test(std::move(hook)); }
    ~ScopedResolveHook() { set_resolve_hook_for_test(nullptr); }
    ScopedResolveHook(const ScopedResolveHook&) = delete;
    ScopedResolveHook& operator=(const ScopedResolveHook&) = delete;
};

} // namespace

TEST_SUITE("origin/servers") {

    TEST_CASE("round-robin over servers") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        FakeOrigin a(loop), b(loop);
        a.handler = [](const SeenRequest&) { return Script{write(ok("a"))}; };
        b.handler = [](const SeenRequest&) { return Script{write(ok("b"))}; };
        Pool pool(loop, spec_for({a.addr(), b.addr()}));
        std::string seen;
        for (int i = 0; i < 4; ++i)
            seen += fetch_one(loop, pool, get()).body;
        CHECK(seen == "abab");
        a.stop();
        b.stop();
        finish(loop, baseline, pool);
    }

    TEST_CASE("connect refused: failover to the next server, then the dead one is skipped") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        FakeOrigin live(loop);
        std::string dead = "127.0.0.1:" + std::to_string(dead_port());
        Tuning t;
        t.fail_threshold = 1;
        Pool pool(loop, spec_for({dead, live.addr()}), t);
        Recorder r = fetch_one(loop, pool, get());
        CHECK(r.completes == 1);
        CHECK(r.body == "hello");
        CHECK(pool.stats().failovers == 1);
        auto st = pool.servers();
        CHECK_FALSE(status_of(st, dead).up);
        CHECK(status_of(st, dead).last_error.find("refused") != std::string::npos);
        CHECK(status_of(st, live.addr()).up);
        // The dead server is down: later requests go straight to the live one.
        for (int i = 0; i < 3; ++i)
            CHECK(fetch_one(loop, pool, get()).completes == 1);
        CHECK(pool.stats().failovers == 1);
        CHECK(pool.stats().errors[static_cast<size_t>(ErrorKind::connect_refused)] == 0);
        live.stop();
        finish(loop, baseline, pool);
    }

    TEST_CASE("every server refused: the last error is reported") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        std::string d1 = "127.0.0.1:" + std::to_string(dead_port());
        std::string d2 = "127.0.0.1:" + std::to_string(dead_port());
        Pool pool(loop, spec_for({d1, d2}));
        Recorder r = fetch_one(loop, pool, get());
        CHECK(r.error == ErrorKind::connect_refused);
        finish(loop, baseline, pool);
    }

    TEST_CASE("passive health: down after consecutive failures, back after the cooldown") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        int port = dead_port();
        std::string addr = "127.0.0.1:" + std::to_string(port);
        Tuning t;
        t.fail_threshold = 2;
        t.down_base_ms = 60;
        Pool pool(loop, spec_for({addr}), t);
        CHECK(fetch_one(loop, pool, get()).error == ErrorKind::connect_refused);
        CHECK(pool.servers()[0].up);
        CHECK(fetch_one(loop, pool, get()).error == ErrorKind::connect_refused);
        CHECK_FALSE(pool.servers()[0].up);
        CHECK(pool.servers()[0].down_for_ms > 0);
        // Panic mode: the only server is down, but it is still tried (not an instant failure).
        CHECK(fetch_one(loop, pool, get()).error == ErrorKind::connect_refused);
        CHECK(pool.servers()[0].consecutive_failures == 3);
        // It comes back on that port: once tried again, the first response brings it up.
        FakeOrigin o(loop, port);
        CHECK(fetch_one(loop, pool, get()).completes == 1);
        CHECK(pool.servers()[0].up);
        CHECK(pool.servers()[0].consecutive_failures == 0);
        o.stop();
        finish(loop, baseline, pool);
    }

    TEST_CASE("panic mode: a server marked down by its health check is still used when it is "
              "the only one") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        FakeOrigin o(loop);
        o.handler = [](const SeenRequest& q) {
            if (q.target == "/healthz")
                return Script{write("HTTP/1.1 503 Down\r\nContent-Length: 0\r\n\r\n")};
            return Script{write(ok("served"))};
        };
        auto spec = spec_for({o.addr()});
        spec.health_check = "/healthz";
        spec.health_interval_ms = 1000;
        Pool pool(loop, spec);
        REQUIRE(run_until(loop, [&] { return !pool.servers()[0].up; }));
        CHECK(pool.servers()[0].active_check_failed);
        Recorder r = fetch_one(loop, pool, get());
        CHECK(r.body == "served");
        o.stop();
        finish(loop, baseline, pool);
    }

    TEST_CASE("active health checks: a failing server is avoided until it passes again") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        FakeOrigin a(loop), b(loop);
        bool a_healthy = false;
        int a_checks = 0;
        a.handler = [&](const SeenRequest& q) {
            if (q.target == "/healthz") {
                ++a_checks;
                return Script{
                    write(a_healthy ? ok("ok") : "HTTP/1.1 500 No\r\nContent-Length: 0\r\n\r\n")};
            }
            return Script{write(ok("a"))};
        };
        b.handler = [&](const SeenRequest& q) {
            return Script{write(q.target == "/healthz" ? ok("ok") : ok("b"))};
        };
        auto spec = spec_for({a.addr(), b.addr()});
        spec.health_check = "/healthz";
        spec.health_interval_ms = 30;
        spec.host = "origin.example";
        Pool pool(loop, spec);
        REQUIRE(run_until(loop, [&] { return a_checks >= 1 && !pool.servers()[0].up; }));
        for (int i = 0; i < 4; ++i)
            CHECK(fetch_one(loop, pool, get()).body == "b");
        a_healthy = true;
        REQUIRE(run_until(loop, [&] { return pool.servers()[0].up; }));
        std::string seen;
        for (int i = 0; i < 4; ++i)
            seen += fetch_one(loop, pool, get()).body;
        CHECK(seen.find('a') != std::string::npos);
        // The checks carry the configured Host and close their connection.
        bool found = false;
        for (const auto& q : a.requests)
            if (q.target == "/healthz") {
                found = true;
                CHECK(q.header("Host") == "origin.example");
                CHECK(q.header("Connection") == "close");
            }
        CHECK(found);
        PoolStats s = pool.stats();
        CHECK(s.health_checks >= 2);
        CHECK(s.health_check_failures >= 1);
        CHECK(s.requests == 8); // checks are not counted as requests
        a.stop();
        b.stop();
        finish(loop, baseline, pool);
    }

    TEST_CASE("DNS: a host name is resolved off the loop (localhost)") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        FakeOrigin o(loop);
        Pool pool(loop, spec_for({"localhost:" + std::to_string(o.port)}));
        Recorder r = fetch_one(loop, pool, get());
        CHECK(r.completes == 1);
        CHECK(r.body == "hello");
        CHECK(pool.servers()[0].resolved);
        CHECK(pool.stats().dns_refreshes == 1);
        o.stop();
        finish(loop, baseline, pool);
    }

    TEST_CASE("DNS: an unknown name fails with dns") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        std::atomic<int> calls{0};
        ScopedResolveHook hook(
            [&](const std::string&, const std::string&, std::vector<sockaddr_storage>&) {
                ++calls;
                return UV_EAI_NONAME;
            });
        Pool pool(loop, spec_for({"no-such-host.invalid:80"}));
        Recorder r = fetch_one(loop, pool, get());
        CHECK(r.error == ErrorKind::dns);
        CHECK(calls == 1);
        CHECK(pool.stats().dns_failures == 1);
        finish(loop, baseline, pool);
    }

    TEST_CASE("DNS: refreshed every dns_refresh_ms; a failed refresh keeps the addresses") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        FakeOrigin o(loop);
        std::atomic<int> calls{0};
        std::atomic<bool> failing{false};
        int port = o.port;
        ScopedResolveHook hook([&, port](const std::string& host, const std::string&,
                                         std::vector<sockaddr_storage>& out) {
            ++calls;
            if (host != "origin.test" || failing) return static_cast<int>(UV_EAI_AGAIN);
            sockaddr_storage ss{};
            uv_ip4_addr("127.0.0.1", port, reinterpret_cast<sockaddr_in*>(&ss));
            out.push_back(ss);
            return 0;
        });
        auto spec = spec_for({"origin.test:" + std::to_string(port)});
        spec.dns_refresh_ms = 20;
        Pool pool(loop, spec);
        CHECK(fetch_one(loop, pool, get()).completes == 1);
        CHECK(calls == 1);
        failing = true;
        // The age is read from the loop's clock: wait on that, not on wall time.
        run_loop_clock(loop, 20);
        CHECK(fetch_one(loop, pool, get()).completes == 1); // triggers a background refresh
        REQUIRE(run_until(loop, [&] { return pool.stats().dns_failures == 1; }));
        run_loop_clock(loop, 20);
        CHECK(fetch_one(loop, pool, get()).completes == 1); // old addresses still used
        CHECK(pool.servers()[0].resolved);
        // That fetch started a third resolution: wait for its answer, so no resolution is still
        // running on the thread pool (inside the hook) when the hook and the loop go away.
        REQUIRE(run_until(loop, [&] { return pool.stats().dns_failures == 2; }));
        CHECK(calls == 3);
        CHECK(pool.servers()[0].resolved);
        o.stop();
        finish(loop, baseline, pool);
    }

    TEST_CASE("update: servers added and removed; removed ones finish their in-flight work") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        FakeOrigin a(loop), b(loop);
        a.handler = [](const SeenRequest& q) {
            if (q.target == "/slow") return Script{delay(40), write(ok("a-slow"))};
            return Script{write(ok("a"))};
        };
        b.handler = [](const SeenRequest&) { return Script{write(ok("b"))}; };
        auto spec = spec_for({a.addr()});
        Pool pool(loop, spec);
        CHECK(fetch_one(loop, pool, get()).body == "a");
        Recorder slow;
        pool.fetch(get("/slow"), slow.sink());
        REQUIRE(run_until(loop, [&] { return a.requests.size() == 2; }));
        spec.servers = {b.addr()};
        spec.timeout_ms = 2000;
        pool.update(spec);
        CHECK(pool.spec().timeout_ms == 2000);
        REQUIRE(pool.servers().size() == 1);
        CHECK(pool.servers()[0].server == b.addr());
        CHECK(fetch_one(loop, pool, get()).body == "b");
        REQUIRE(run_until(loop, [&] { return slow.finished(); }));
        CHECK(slow.body == "a-slow");
        // a's connections are gone once idle.
        REQUIRE(run_until(loop, [&] { return pool.stats().connections_open == 1; }));
        a.stop();
        b.stop();
        finish(loop, baseline, pool);
    }
}
