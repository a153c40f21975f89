// origin/faults: what a broken or slow origin does to an exchange — timeouts, resets, truncated
// and malformed responses — and when a request is (and is not) sent again.
#include <doctest/doctest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "origin/pool.hpp"
#include "tests/unit/origin/fake_origin.hpp"

using namespace ec;
using namespace ec::origin;
using namespace ec::origin::test;

namespace {

// A port whose accept queue is full, so a new connect hangs (SYNs dropped): connect timeouts.
struct Blackhole {
    int listen_fd = -1;
    std::vector<int> fillers;
    int port = 0;
    Blackhole() {
        listen_fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(listen_fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
        ::listen(listen_fd, 0);
        socklen_t len = sizeof sa;
        ::getsockname(listen_fd, reinterpret_cast<sockaddr*>(&sa), &len);
        port = ntohs(sa.sin_port);
        for (int i = 0; i < 3; ++i) {
            int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
            fillers.push_back(fd);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ~Blackhole() {
        for (int fd : fillers)
            ::close(fd);
        ::close(listen_fd);
    }
    std::string addr() const { return "127.0.0.1:" + std::to_string(port); }
};

} // namespace

TEST_SUITE("origin/faults") {

    TEST_CASE("connect timeout") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        FakeOrigin o(loop);
        Blackhole bh;
        auto spec = spec_for({bh.addr()});
        spec.connect_timeout_ms = 50;
        Pool pool(loop, spec);
        Recorder r = fetch_one(loop, pool, get());
        CHECK(r.error == ErrorKind::connect_timeout);
        CHECK(r.heads == 0);
        CHECK(pool.servers().at(0).failures == 1);
        teardown(loop, baseline, pool, o);
    }

    TEST_CASE("first-byte timeout: the origin reads the request and says nothing") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        FakeOrigin o(loop);
        o.handler = [](const SeenRequest&) { return Script{hold()}; };
        auto spec = spec_for({o.addr()});
        spec.first_byte_timeout_ms = 50;
        Pool pool(loop, spec);
        Recorder r = fetch_one(loop, pool, get());
        CHECK(r.error == ErrorKind::first_byte_timeout);
        CHECK(o.requests.size() == 1); // not retried
        CHECK(pool.stats().connections_open == 0);
        teardown(loop, baseline, pool, o);
    }

    TEST_CASE("first_byte_timeout_ms 0 means timeout_ms") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        FakeOrigin o(loop);
        o.handler = [](const SeenRequest&) { return Script{hold()}; };
        auto spec = spec_for({o.addr()});
        spec.first_byte_timeout_ms = 0;
        spec.timeout_ms = 60;
        Pool pool(loop, spec);
        Recorder r = fetch_one(loop, pool, get());
        CHECK((r.error == ErrorKind::first_byte_timeout || r.error == ErrorKind::timeout));
        teardown(loop, baseline, pool, o);
    }

    TEST_CASE("total timeout with a slow body") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        FakeOrigin o(loop);
        o.handler = [](const SeenRequest&) {
            return Script{write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nslow"), hold()};
        };
        auto spec = spec_for({o.addr()});
        spec.timeout_ms = 300; // long enough for the head to arrive first under load
        Pool pool(loop, spec);
        Recorder r = fetch_one(loop, pool, get());
        CHECK(r.heads == 1);
        CHECK(r.body == "slow");
        CHECK(r.error == ErrorKind::timeout);
        teardown(loop, baseline, pool, o);
    }

    TEST_CASE("an origin that never closes a close-delimited body: total timeout") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        FakeOrigin o(loop);
        o.handler = [](const SeenRequest&) {
            return Script{write("HTTP/1.1 200 OK\r\n\r\nforever..."), hold()};
        };
        auto spec = spec_for({o.addr()});
        spec.timeout_ms = 300; // long enough for the head to arrive first under load
        Pool pool(loop, spec);
        Recorder r = fetch_one(loop, pool, get());
        CHECK(r.body == "forever...");
        CHECK(r.error == ErrorKind::timeout);
        CHECK(r.completes == 0);
        teardown(loop, baseline, pool, o);
    }

    TEST_CASE("reset mid-body: truncated") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        FakeOrigin o(loop);
        o.handler = [](const SeenRequest&) {
            return Script{write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial"), delay(20),
                          reset_conn()};
        };
        Pool pool(loop, spec_for({o.addr()}));
        Recorder r = fetch_one(loop, pool, get());
        CHECK(r.heads == 1);
        CHECK(r.body == "partial");
        CHECK(r.error == ErrorKind::truncated);
        CHECK(o.requests.size() == 1);
        teardown(loop, baseline, pool, o);
    }

    TEST_CASE("Content-Length larger than the body, then close: truncated") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        FakeOrigin o(loop);
        o.handler = [](const SeenRequest&) {
            return Script{write("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort"),
                          close_conn()};
        };
        Pool pool(loop, spec_for({o.addr()}));
        Recorder r = fetch_one(loop, pool, get());
        CHECK(r.body == "short");
        CHECK(r.error == ErrorKind::truncated);
        teardown(loop, baseline, pool, o);
    }

    TEST_CASE("chunked body cut off: truncated") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        FakeOrigin o(loop);
        o.handler = [](const SeenRequest&) {
            return Script{
                write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n"),
                close_conn()};
        };
        Pool pool(loop, spec_for({o.addr()}));
        Recorder r = fetch_one(loop, pool, get());
        CHECK(r.body == "abcd");
        CHECK(r.error == ErrorKind::truncated);
        teardown(loop, baseline, pool, o);
    }

    TEST_CASE("garbage status line, ambiguous framing: bad_response") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        FakeOrigin o(loop);
        o.handler = [](const SeenRequest& q) {
            if (q.target == "/garbage") return Script{write("SSH-2.0-OpenSSH_9.2\r\n")};
            if (q.target == "/clte")
                return Script{write("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: "
                                    "chunked\r\n\r\n0\r\n\r\n")};
            return Script{write("HTTP/1.1 200 OK\r\nX: a\r\n folded\r\nContent-Length: 0\r\n\r\n")};
        };
        Pool pool(loop, spec_for({o.addr()}));
        for (const char* t : {"/garbage", "/clte", "/fold"}) {
            CAPTURE(t);
            Recorder r = fetch_one(loop, pool, get(t));
            CHECK(r.error == ErrorKind::bad_response);
            CHECK(r.heads == 0);
        }
        CHECK(o.requests.size() == 3); // none retried
        CHECK(pool.stats().connections_open == 0);
        teardown(loop, baseline, pool, o);
    }

    TEST_CASE("oversized response header section: header_too_large") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        FakeOrigin o(loop);
        o.handler = [](const SeenRequest&) {
            std::string h = "HTTP/1.1 200 OK\r\n";
            for (int i = 0; i < 2000; ++i)
                h += "X-Filler-" + std::to_string(i) + ": " + std::string(40, 'f') + "\r\n";
            return Script{write(h + "Content-Length: 0\r\n\r\n")};
        };
        Pool pool(loop, spec_for({o.addr()}));
        Recorder r = fetch_one(loop, pool, get());
        CHECK(r.error == ErrorKind::header_too_large);
        teardown(loop, baseline, pool, o);
    }

    TEST_CASE("closed before any response byte on a fresh connection: reset, GET not resent "
              "to the same server") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        FakeOrigin o(loop);
        o.handler = [](const SeenRequest&) { return Script{close_conn()}; };
        Pool pool(loop, spec_for({o.addr()}));
        Recorder r = fetch_one(loop, pool, get());
        CHECK(r.error == ErrorKind::reset);
        CHECK(o.requests.size() == 1);
        teardown(loop, baseline, pool, o);
    }

    TEST_CASE(
        "stale pooled connection: resent once on a fresh connection (POST only when allowed)") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        FakeOrigin o(loop);
        // The second request on each connection finds it closed (the keep-alive race).
        o.handler = [](const SeenRequest& q) {
            if (q.conn_seq == 2) return Script{reset_conn()};
            return Script{write(ok("fresh " + std::to_string(q.conn)))};
        };
        Tuning t;
        t.retry_stale_non_idempotent = true; // the default is false: see the next test
        Pool pool(loop, spec_for({o.addr()}), t);
        CHECK(fetch_one(loop, pool, get()).body == "fresh 1");
        Recorder r = fetch_one(loop, pool, get());
        CHECK(r.completes == 1);
        CHECK(r.body == "fresh 2");
        UpstreamRequest post = get("/p");
        post.method = "POST";
        post.idempotent = false;
        post.body = "x";
        Recorder p = fetch_one(loop, pool, post);
        CHECK(p.completes == 1);
        CHECK(p.body == "fresh 3");
        CHECK(pool.stats().retries_stale == 2);
        CHECK(o.accepts == 3);
        teardown(loop, baseline, pool, o);
    }

    TEST_CASE("stale retry for non-idempotent requests can be turned off") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        FakeOrigin o(loop);
        o.handler = [](const SeenRequest& q) {
            if (q.conn_seq == 2) return Script{close_conn()};
            return Script{write(ok("ok"))};
        };
        Tuning t;
        t.retry_stale_non_idempotent = false;
        Pool pool(loop, spec_for({o.addr()}), t);
        CHECK(fetch_one(loop, pool, get()).completes == 1);
        UpstreamRequest post = get("/p");
        post.method = "POST";
        post.idempotent = false;
        Recorder p = fetch_one(loop, pool, post);
        CHECK(p.error == ErrorKind::reset);
        CHECK(o.requests.size() == 2);
        teardown(loop, baseline, pool, o);
    }

    TEST_CASE("non-idempotent requests are never resent once sent; GETs move on") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        FakeOrigin a(loop), b(loop);
        int posts_a = 0, posts_b = 0, gets_a = 0;
        a.handler = [&](const SeenRequest& q) {
            (q.method == "POST" ? posts_a : gets_a)++;
            return Script{close_conn()};
        };
        b.handler = [&](const SeenRequest& q) {
            if (q.method == "POST") ++posts_b;
            return Script{write(ok("b"))};
        };
        Pool pool(loop, spec_for({a.addr(), b.addr()}));
        UpstreamRequest post = get("/p");
        post.method = "POST";
        post.idempotent = false;
        Recorder p = fetch_one(loop, pool, post); // round-robin starts with a
        CHECK(p.error == ErrorKind::reset);
        CHECK(posts_a == 1);
        CHECK(posts_b == 0);
        // GETs failing the same way move on to the next server (the second one starts at a).
        for (int i = 0; i < 2; ++i) {
            Recorder g = fetch_one(loop, pool, get());
            CHECK(g.completes == 1);
            CHECK(g.body == "b");
        }
        CHECK(gets_a == 1);
        CHECK(pool.stats().failovers == 1);
        pool.shutdown();
        a.stop();
        teardown(loop, baseline, pool, b);
    }

    TEST_CASE("POST timing out after being sent is not resent") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        FakeOrigin o(loop);
        o.handler = [](const SeenRequest&) { return Script{hold()}; };
        auto spec = spec_for({o.addr()});
        spec.first_byte_timeout_ms = 40;
        Pool pool(loop, spec);
        UpstreamRequest post = get("/p");
        post.method = "POST";
        post.idempotent = false;
        Recorder p = fetch_one(loop, pool, post);
        CHECK(p.error == ErrorKind::first_byte_timeout);
        spin(loop, 30);
        CHECK(o.requests.size() == 1);
        teardown(loop, baseline, pool, o);
    }

    TEST_CASE("stray bytes on an idle connection close it") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        FakeOrigin o(loop);
        o.handler = [](const SeenRequest&) {
            return Script{write(ok("one")), delay(10), write("junk")};
        };
        Pool pool(loop, spec_for({o.addr()}));
        CHECK(fetch_one(loop, pool, get()).body == "one");
        REQUIRE(run_until(
            loop, [&] { return pool.stats().connections_open == 0; }, 1000));
        CHECK(fetch_one(loop, pool, get()).body == "one");
        CHECK(o.accepts == 2);
        teardown(loop, baseline, pool, o);
    }

    TEST_CASE("a response sent early, before the request body was read, is still delivered") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        FakeOrigin o(loop);
        o.handler = [](const SeenRequest&) {
            return Script{write("HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\n\r\n")};
        };
        Pool pool(loop, spec_for({o.addr()}));
        UpstreamRequest put = get("/big");
        put.method = "PUT";
        put.body = std::string(64 * 1024, 'p');
        Recorder r = fetch_one(loop, pool, put);
        CHECK(r.status == 413);
        CHECK(r.completes == 1);
        teardown(loop, baseline, pool, o);
    }
}
