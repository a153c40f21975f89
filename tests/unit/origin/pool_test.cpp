// origin/pool: the origin client against a scripted origin on the same loop — framing,
// keep-alive, HEAD, interim responses, backpressure, cancellation, the Sink contract.
#include <doctest/doctest.h>

#include "origin/origins.hpp"
#include "origin/pool.hpp"
#include "tests/unit/origin/fake_origin.hpp"

using namespace ec;
using namespace ec::origin;
using namespace ec::origin::test;

TEST_SUITE("origin/pool") {

    TEST_CASE("content-length body; request written as given plus our framing") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        FakeOrigin o(loop);
        Pool pool(loop, spec_for({o.addr()}));
        Recorder r;
        UpstreamRequest req = get("/a?x=1");
        req.headers.push_back({"Accept", "text/plain"});
        auto ex = pool.fetch(std::move(req), r.sink());
        CHECK(r.heads == 0); // never on fetch()'s stack
        REQUIRE(run_until(loop, [&] { return r.finished(); }));
        CHECK(r.completes == 1);
        CHECK(r.status == 200);
        CHECK(r.body == "hello");
        CHECK(r.header("content-length") == "5");
        CHECK(ex->done());
        CHECK(std::string(ex->server()) == o.addr());
        REQUIRE(o.requests.size() == 1);
        CHECK(o.requests[0].head == "GET /a?x=1 HTTP/1.1\r\nHost: example.test\r\nAccept: "
                                    "text/plain\r\nConnection: keep-alive\r\n");
        PoolStats s = pool.stats();
        CHECK(s.requests == 1);
        CHECK(s.responses[2] == 1);
        CHECK(s.completed == 1);
        CHECK(s.connections_opened == 1);
        CHECK(s.idle == 1);
        CHECK(s.in_flight == 0);
        teardown(loop, baseline, pool, o);
    }

    TEST_CASE("POST body goes out with Content-Length") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        FakeOrigin o(loop);
        o.handler = [](const SeenRequest& q) { return Script{write(ok("got " + q.body))}; };
        Pool pool(loop, spec_for({o.addr()}));
        Recorder r;
        UpstreamRequest req = get("/post");
        req.method = "POST";
        req.idempotent = false;
        req.body = std::string(100000, 'b');
        pool.fetch(std::move(req), r.sink());
        REQUIRE(run_until(loop, [&] { return r.finished(); }));
        CHECK(r.completes == 1);
        CHECK(r.body.size() == 4 + 100000);
        CHECK(o.requests.at(0).header("Content-Length") == "100000");
        teardown(loop, baseline, pool, o);
    }

    TEST_CASE("a body larger than the socket buffers goes out whole and in order") {
        // The first write takes what the socket accepts; the rest follows from a write request.
        // The body is built before the loop exists: libuv caches the loop's time, so timers
        // started after seconds of work on a loaded machine would expire before they ran.
        std::string body(32 << 20, '\0');
        for (size_t i = 0; i < body.size(); ++i)
            body[i] = static_cast<char>('a' + (i * 7) % 26);
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        FakeOrigin o(loop);
        bool same = false;
        o.handler = [&](const SeenRequest& q) {
            same = q.body == body;
            return Script{write(ok("ok"))};
        };
        // This checks order, not speed: a sanitized -O0 build is slow to copy 32 MiB.
        config::OriginSpec spec = spec_for({o.addr()});
        spec.timeout_ms = 60000;
        Pool pool(loop, spec);
        Recorder r;
        UpstreamRequest req = get("/big");
        req.method = "PUT";
        req.body = body;
        pool.fetch(std::move(req), r.sink());
        REQUIRE(run_until(
            loop, [&] { return r.finished(); }, 60000));
        CHECK_MESSAGE(r.errors == 0, r.message);
        CHECK(r.completes == 1);
        CHECK(same);
        teardown(loop, baseline, pool, o);
    }

    TEST_CASE("chunked body, split across writes") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        FakeOrigin o(loop);
        o.handler = [](const SeenRequest&) {
            return Script{write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel"),
                          delay(10), write("lo\r\n6\r\n world\r\n"), delay(10),
                          write("0\r\nX-Trailer: 1\r\n\r\n")};
        };
        Pool pool(loop, spec_for({o.addr()}));
        Recorder r;
        pool.fetch(get(), r.sink());
        REQUIRE(run_until(loop, [&] { return r.finished(); }));
        CHECK(r.completes == 1);
        CHECK(r.body == "hello world");
        CHECK(r.bodies >= 2);
        // The connection went back to the pool: the next request reuses it.
        Recorder r2;
        pool.fetch(get(), r2.sink());
        REQUIRE(run_until(loop, [&] { return r2.finished(); }));
        CHECK(r2.body == "hello world");
        CHECK(o.accepts == 1);
        CHECK(pool.stats().connections_reused == 1);
        teardown(loop, baseline, pool, o);
    }

    TEST_CASE("close-delimited body completes at EOF; the connection is not reused") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        FakeOrigin o(loop);
        o.handler = [](const SeenRequest&) {
            return Script{write("HTTP/1.1 200 OK\r\n\r\nuntil"), delay(10), write(" close"),
                          close_conn()};
        };
        Pool pool(loop, spec_for({o.addr()}));
        for (int i = 0; i < 2; ++i) {
            Recorder r;
            pool.fetch(get(), r.sink());
            REQUIRE(run_until(loop, [&] { return r.finished(); }));
            CHECK(r.completes == 1);
            CHECK(r.body == "until close");
        }
        CHECK(o.accepts == 2);
        CHECK(pool.stats().connections_reused == 0);
        teardown(loop, baseline, pool, o);
    }

    TEST_CASE("keep-alive: sequential requests share one connection") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        FakeOrigin o(loop);
        Pool pool(loop, spec_for({o.addr()}));
        for (int i = 0; i < 5; ++i) {
            Recorder r;
            auto ex = pool.fetch(get(), r.sink());
            REQUIRE(run_until(loop, [&] { return r.finished(); }));
            CHECK(r.body == "hello");
            CHECK(ex->reused_connection() == (i > 0));
        }
        CHECK(o.accepts == 1);
        CHECK(pool.stats().connections_reused == 4);
        CHECK(pool.stats().connections_open == 1);
        teardown(loop, baseline, pool, o);
    }

    TEST_CASE("Connection: close from the origin: not reused") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        FakeOrigin o(loop);
        o.handler = [](const SeenRequest&) {
            return Script{write(ok("bye", "Connection: close\r\n"))};
        };
        Pool pool(loop, spec_for({o.addr()}));
        for (int i = 0; i < 2; ++i) {
            Recorder r;
            pool.fetch(get(), r.sink());
            REQUIRE(run_until(loop, [&] { return r.finished(); }));
            CHECK(r.body == "bye");
        }
        CHECK(o.accepts == 2);
        teardown(loop, baseline, pool, o);
    }

    TEST_CASE("idle connections close after the idle timeout") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        FakeOrigin o(loop);
        Tuning t;
        t.idle_timeout_ms = 40;
        Pool pool(loop, spec_for({o.addr()}), t);
        Recorder r;
        pool.fetch(get(), r.sink());
        REQUIRE(run_until(loop, [&] { return r.finished(); }));
        CHECK(pool.stats().idle == 1);
        REQUIRE(run_until(
            loop, [&] { return pool.stats().connections_open == 0; }, 1000));
        Recorder r2;
        pool.fetch(get(), r2.sink());
        REQUIRE(run_until(loop, [&] { return r2.finished(); }));
        CHECK(o.accepts == 2);
        teardown(loop, baseline, pool, o);
    }

    TEST_CASE("HEAD: no body read, and the connection is not reused") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        FakeOrigin o(loop);
        o.handler = [](const SeenRequest& q) {
            if (q.method == "HEAD")
                return Script{write("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")};
            return Script{write(ok("hello"))};
        };
        Pool pool(loop, spec_for({o.addr()}));
        Recorder r;
        UpstreamRequest h = get();
        h.method = "HEAD";
        pool.fetch(std::move(h), r.sink());
        REQUIRE(run_until(loop, [&] { return r.finished(); }));
        CHECK(r.completes == 1);
        CHECK(r.status == 200);
        CHECK(r.header("content-length") == "5");
        CHECK(r.body.empty());
        Recorder r2;
        pool.fetch(get(), r2.sink());
        REQUIRE(run_until(loop, [&] { return r2.finished(); }));
        CHECK(r2.body == "hello");
        CHECK(o.accepts == 2);
        teardown(loop, baseline, pool, o);
    }

    TEST_CASE("regress: a 200 to HEAD with a body does not desync the next response") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        FakeOrigin o(loop);
        o.handler = [](const SeenRequest& q) {
            // A broken origin sends a body anyway, later, with or without declaring it.
            if (q.target == "/declared")
                return Script{write("HTTP/1.1 200 OK\r\nContent-Length: 25\r\n\r\n"), delay(20),
                              write("HTTP/1.1 418 SMUGGLED\r\n\r\n")};
            if (q.method == "HEAD")
                return Script{write("HTTP/1.1 200 OK\r\n\r\n"), delay(20),
                              write("HTTP/1.1 418 SMUGGLED\r\n\r\n")};
            return Script{write(ok("real"))};
        };
        Pool pool(loop, spec_for({o.addr()}));
        for (const char* target : {"/declared", "/undeclared"}) {
            CAPTURE(target);
            Recorder r;
            UpstreamRequest h = get(target);
            h.method = "HEAD";
            pool.fetch(std::move(h), r.sink());
            Recorder r2;
            REQUIRE(run_until(loop, [&] { return r.finished(); }));
            CHECK(r.completes == 1);
            pool.fetch(get(), r2.sink()); // right away, before the stray bytes arrive
            REQUIRE(run_until(loop, [&] { return r2.finished(); }));
            CHECK(r2.status == 200);
            CHECK(r2.body == "real");
        }
        teardown(loop, baseline, pool, o);
    }

    TEST_CASE("1xx responses are delivered, in order and with their headers, before the head") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        FakeOrigin o(loop);
        o.handler = [](const SeenRequest&) {
            return Script{write("HTTP/1.1 100 Continue\r\n\r\n"), delay(5),
                          write("HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n"), delay(5),
                          write(ok("final"))};
        };
        Pool pool(loop, spec_for({o.addr()}));
        Recorder r;
        pool.fetch(get(), r.sink());
        REQUIRE(run_until(loop, [&] { return r.finished(); }));
        CHECK(r.heads == 1);
        CHECK(r.status == 200);
        CHECK(r.body == "final");
        REQUIRE(r.interim.size() == 2);
        CHECK(r.heads_before_interim == 0);
        CHECK(r.interim[0].status == 100);
        CHECK(r.interim[0].headers.empty());
        CHECK(r.interim[1].status == 103);
        REQUIRE(r.interim[1].headers.size() == 1);
        CHECK(r.interim[1].headers[0].name == "Link");
        CHECK(r.interim[1].headers[0].value == "</s.css>");
        CHECK(r.header("link").empty()); // never mixed into the final head
        teardown(loop, baseline, pool, o);
    }

    TEST_CASE("pause_body stops delivery and reading; resume_body continues") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        FakeOrigin o(loop);
        std::string big(4 << 20, 'x');
        o.handler = [&](const SeenRequest&) { return Script{write(ok(big))}; };
        Pool pool(loop, spec_for({o.addr()}));
        Recorder r;
        std::shared_ptr<Fetch> ex;
        bool paused = false;
        r.on_body_hook = [&](std::string_view) {
            if (!paused) {
                paused = true;
                ex->pause_body();
            }
        };
        ex = pool.fetch(get(), r.sink());
        REQUIRE(run_until(loop, [&] { return paused; }));
        int bodies = r.bodies;
        size_t got = r.body.size();
        spin(loop, 100);
        CHECK(r.bodies == bodies); // nothing while paused
        CHECK(r.body.size() == got);
        CHECK_FALSE(r.finished());
        ex->resume_body();
        CHECK(r.bodies == bodies); // resumes from a posted callback
        REQUIRE(run_until(
            loop, [&] { return r.finished(); }, 5000));
        CHECK(r.completes == 1);
        CHECK(r.body.size() == big.size());
        teardown(loop, baseline, pool, o);
    }

    TEST_CASE("pausing for longer than timeout_ms does not time the exchange out") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        FakeOrigin o(loop);
        std::string big(256 << 10, 'y');
        o.handler = [&](const SeenRequest&) { return Script{write(ok(big))}; };
        // The paused time must exceed timeout_ms while the exchange's own work stays well
        // inside it, even in a sanitized build on a loaded machine.
        auto spec = spec_for({o.addr()});
        spec.timeout_ms = 1000;
        Pool pool(loop, spec);
        Recorder r;
        std::shared_ptr<Fetch> ex;
        r.on_body_hook = [&](std::string_view) { ex->pause_body(); };
        ex = pool.fetch(get(), r.sink());
        REQUIRE(run_until(loop, [&] { return r.bodies > 0; }));
        spin(loop, 1200);
        CHECK_FALSE(r.finished());
        r.on_body_hook = nullptr;
        ex->resume_body();
        REQUIRE(run_until(loop, [&] { return r.finished(); }));
        CHECK(r.completes == 1);
        CHECK(r.body.size() == big.size());
        teardown(loop, baseline, pool, o);
    }

    TEST_CASE("a pause longer than max_pause_ms fails the exchange and closes its connection") {
        // Issue 11 defect 1: a paused fetch whose client never drains must still end.
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        FakeOrigin o(loop);
        std::string big(1 << 20, 'p');
        o.handler = [&](const SeenRequest&) { return Script{write(ok(big))}; };
        Tuning tuning;
        tuning.max_pause_ms = 150;
        Pool pool(loop, spec_for({o.addr()}), tuning);
        Recorder r;
        std::shared_ptr<Fetch> ex;
        r.on_body_hook = [&](std::string_view) { ex->pause_body(); };
        ex = pool.fetch(get(), r.sink());
        REQUIRE(run_until(loop, [&] { return r.bodies > 0; }));
        REQUIRE(run_until(
            loop, [&] { return r.finished(); }, 3000));
        CHECK(r.errors == 1);
        CHECK(r.error == ErrorKind::timeout);
        CHECK(r.message.find("took no data") != std::string::npos);
        PoolStats s = pool.stats();
        CHECK(s.connections_open == 0);
        CHECK(s.in_flight == 0);
        teardown(loop, baseline, pool, o);
    }

    TEST_CASE("cancel mid-body: no more callbacks, the connection is closed") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        FakeOrigin o(loop);
        o.handler = [](const SeenRequest&) {
            return Script{write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"), delay(30),
                          write("defghij")};
        };
        Pool pool(loop, spec_for({o.addr()}));
        Recorder r;
        std::shared_ptr<Fetch> ex;
        r.on_body_hook = [&](std::string_view) { ex->cancel(); };
        ex = pool.fetch(get(), r.sink());
        REQUIRE(run_until(loop, [&] { return r.bodies > 0; }));
        spin(loop, 60);
        CHECK(r.bodies == 1);
        CHECK(r.completes + r.errors == 0);
        CHECK(ex->done());
        PoolStats s = pool.stats();
        CHECK(s.cancelled_by_caller == 1);
        CHECK(s.connections_open == 0);
        CHECK(s.in_flight == 0);
        ex->cancel(); // idempotent
        teardown(loop, baseline, pool, o);
    }

    TEST_CASE("cancel while queued or connecting, and dropping the handle") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        FakeOrigin o(loop);
        auto spec = spec_for({o.addr()});
        spec.max_connections = 1;
        Pool pool(loop, spec);
        Recorder a, b, c;
        auto ea = pool.fetch(get(), a.sink());
        auto eb = pool.fetch(get(), b.sink());
        CHECK(pool.stats().queued == 1);
        eb->cancel();
        CHECK(pool.stats().queued == 0);
        pool.fetch(get(), c.sink()); // handle dropped at once: still runs
        REQUIRE(run_until(loop, [&] { return a.finished() && c.finished(); }));
        CHECK(a.completes == 1);
        CHECK(c.completes == 1);
        CHECK(b.heads + b.completes + b.errors == 0);
        teardown(loop, baseline, pool, o);
    }

    TEST_CASE("queue: requests wait for a free connection (max_connections)") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        FakeOrigin o(loop);
        o.handler = [](const SeenRequest&) { return Script{delay(10), write(ok("q"))}; };
        auto spec = spec_for({o.addr()});
        spec.max_connections = 2;
        Pool pool(loop, spec);
        std::vector<Recorder> rs(6);
        for (auto& r : rs)
            pool.fetch(get(), r.sink());
        CHECK(pool.stats().queued == 4);
        REQUIRE(run_until(loop, [&] {
            for (auto& r : rs)
                if (!r.finished()) return false;
            return true;
        }));
        for (auto& r : rs)
            CHECK(r.body == "q");
        CHECK(o.accepts == 2);
        CHECK(pool.stats().queue_waits == 4);
        teardown(loop, baseline, pool, o);
    }

    TEST_CASE("a full queue fails with overloaded, from a posted callback") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        FakeOrigin o(loop);
        auto spec = spec_for({o.addr()});
        spec.max_connections = 1;
        Tuning t;
        t.max_queue = 1;
        Pool pool(loop, spec, t);
        Recorder a, b, c;
        pool.fetch(get(), a.sink());
        pool.fetch(get(), b.sink());
        pool.fetch(get(), c.sink());
        CHECK(c.errors == 0);
        REQUIRE(run_until(loop, [&] { return a.finished() && b.finished() && c.finished(); }));
        CHECK(a.completes == 1);
        CHECK(b.completes == 1);
        CHECK(c.error == ErrorKind::overloaded);
        CHECK(pool.stats().errors[static_cast<size_t>(ErrorKind::overloaded)] == 1);
        teardown(loop, baseline, pool, o);
    }

    TEST_CASE("invalid requests and empty pools fail later, never on fetch()'s stack") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        FakeOrigin o(loop);
        Pool pool(loop, spec_for({o.addr()}));
        Recorder a;
        UpstreamRequest bad = get();
        bad.headers.push_back({"X-Evil", "a\r\nInjected: yes"});
        pool.fetch(std::move(bad), a.sink());
        CHECK(a.errors == 0);
        Pool empty(loop, spec_for({}));
        Recorder b;
        empty.fetch(get(), b.sink());
        CHECK(b.errors == 0);
        REQUIRE(run_until(loop, [&] { return a.finished() && b.finished(); }));
        CHECK(a.error == ErrorKind::invalid_request);
        CHECK(b.error == ErrorKind::no_server);
        CHECK(o.requests.empty());
        empty.shutdown();
        teardown(loop, baseline, pool, o);
    }

    TEST_CASE("shutdown fails in-flight exchanges with cancelled, synchronously") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        FakeOrigin o(loop);
        o.handler = [](const SeenRequest&) { return Script{hold()}; };
        Pool pool(loop, spec_for({o.addr()}));
        Recorder a, b;
        pool.fetch(get(), a.sink());
        pool.fetch(get(), b.sink());
        REQUIRE(run_until(loop, [&] { return o.requests.size() == 2; }));
        pool.shutdown();
        CHECK(a.error == ErrorKind::cancelled);
        CHECK(b.error == ErrorKind::cancelled);
        Recorder c;
        pool.fetch(get(), c.sink());
        REQUIRE(run_until(loop, [&] { return c.finished(); }));
        CHECK(c.error == ErrorKind::cancelled);
        teardown(loop, baseline, pool, o);
    }

    TEST_CASE("a callback may shut the pool down or fetch again") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        FakeOrigin o(loop);
        Pool pool(loop, spec_for({o.addr()}));
        Recorder second;
        bool fetched = false;
        Sink s;
        s.on_complete = [&] {
            pool.fetch(get("/again"), second.sink());
            fetched = true;
        };
        pool.fetch(get(), std::move(s));
        REQUIRE(run_until(loop, [&] { return second.finished(); }));
        CHECK(fetched);
        CHECK(second.completes == 1);
        CHECK(o.accepts == 1); // the first connection was back in the pool in time

        Recorder other;
        Sink k;
        k.on_head = [&](ResponseHead&&) { pool.shutdown(); };
        pool.fetch(get(), std::move(k));
        pool.fetch(get(), other.sink());
        REQUIRE(run_until(loop, [&] { return other.finished(); }));
        CHECK((other.error == ErrorKind::cancelled || other.completes == 1));
        teardown(loop, baseline, pool, o);
    }

    TEST_CASE("Origins: configure adds, updates and retires pools") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        FakeOrigin o(loop);
        o.handler = [](const SeenRequest&) { return Script{delay(20), write(ok("o"))}; };
        Origins origins(loop);
        std::map<std::string, config::OriginSpec> specs{{"a", spec_for({o.addr()})},
                                                        {"b", spec_for({o.addr()})}};
        origins.configure(specs);
        REQUIRE(origins.find("a"));
        REQUIRE(origins.find("b"));
        CHECK(origins.find("a")->name() == "test");
        Recorder r;
        origins.find("b")->fetch(get(), r.sink());
        specs.erase("b");
        specs["a"].timeout_ms = 1234;
        origins.configure(specs);
        CHECK(origins.find("b") == nullptr);
        CHECK(origins.find("a")->spec().timeout_ms == 1234);
        // The retired pool finishes what it had in flight.
        REQUIRE(run_until(loop, [&] { return r.finished(); }));
        CHECK(r.completes == 1);
        spin(loop, 5);
        origins.shutdown();
        o.stop();
        spin(loop, 5);
        CHECK(loop.open_handles() == baseline);
    }
}
