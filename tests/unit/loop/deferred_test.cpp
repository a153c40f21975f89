// loop: posted callbacks, the clock hook, and the deferred task queue (waitUntil).
#include <doctest/doctest.h>

#include <vector>

#include "loop/deferred.hpp"
#include "loop/loop.hpp"

using namespace ec;

namespace {
void run_loop_iterations(loop::Loop& l, int iterations = 5) {
    for (int i = 0; i < iterations; ++i)
        uv_run(l.uv(), UV_RUN_NOWAIT);
}
} // namespace

TEST_SUITE("loop") {

    TEST_CASE("posted callbacks run later, never on the caller's stack") {
        loop::Loop l;
        std::vector<int> order;
        l.post([&] {
            order.push_back(1);
            l.post([&] { order.push_back(3); }); // runs on a later iteration
        });
        order.push_back(0);
        uv_run(l.uv(), UV_RUN_NOWAIT);
        order.push_back(2);
        run_loop_iterations(l);
        CHECK(order == std::vector<int>{0, 1, 2, 3});
    }

    TEST_CASE("the clock moves with advance_for_test") {
        loop::Loop l;
        int64_t before = l.clock().now_s();
        l.clock().advance_for_test(3600 * 1000);
        CHECK(l.clock().now_s() - before >= 3600);
    }

    TEST_CASE("deferred tasks: one per key, bounded concurrency, failures counted") {
        loop::Loop l;
        loop::DeferredQueue q(l, 2, 100);
        std::vector<loop::DeferredQueue::Done> running;
        auto task = [&](loop::DeferredQueue::Done done) { running.push_back(std::move(done)); };
        CHECK(q.schedule("a", "a", task));
        CHECK_FALSE(q.schedule("a", "a again", task)); // same key while queued
        CHECK(q.schedule("b", "b", task));
        CHECK(q.schedule("c", "c", task));
        CHECK(q.schedule("", "anonymous", task));
        CHECK(running.empty()); // nothing starts on the scheduler's stack
        run_loop_iterations(l);
        CHECK(running.size() == 2); // bounded
        CHECK(q.pending("a"));
        CHECK_FALSE(q.schedule("a", "a while running", task));
        running[0](true, "");
        running[1](false, "origin refused");
        run_loop_iterations(l);
        CHECK(running.size() == 4);
        CHECK_FALSE(q.pending("a"));
        CHECK(q.schedule("a", "a after finishing", task));
        running[2](true, "");
        running[3](true, "");
        run_loop_iterations(l);
        running[4](true, "");
        run_loop_iterations(l);
        CHECK(q.stats().completed == 4);
        CHECK(q.stats().failed == 1);
        CHECK(q.stats().deduplicated == 2);
        CHECK(q.running() == 0);
    }

    TEST_CASE("deferred queue rejects beyond its bound and drops queued work on shutdown") {
        loop::Loop l;
        loop::DeferredQueue q(l, 1, 2);
        int started = 0;
        auto task = [&](loop::DeferredQueue::Done) { ++started; };
        CHECK(q.schedule("", "1", task));
        CHECK(q.schedule("", "2", task));
        CHECK_FALSE(q.schedule("", "3", task));
        CHECK(q.stats().rejected == 1);
        q.drop_queued();
        run_loop_iterations(l);
        CHECK(started == 0);
    }

} // TEST_SUITE
