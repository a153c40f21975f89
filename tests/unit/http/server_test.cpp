// HTTP server unit tests: a real Server on the loop, a non-blocking client in the same thread.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <chrono>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "http/exchange.hpp"
#include "http/handler.hpp"
#include "http/server.hpp"
#include "loop/loop.hpp"

using namespace ec;

namespace {

// Echoes "<METHOD> <target> <body>"; "/defer" answers 20 ms later; "/stream" streams 3 chunks;
// "/interim" sends 1xx heads first.
struct TestHandler : http::Handler {
    loop::Loop* loop = nullptr;
    uint64_t limit = 1 << 20;
    int handled = 0;
    std::vector<std::unique_ptr<loop::Timer>> timers;
    http::ExchangeRef last_ref;

    http::BodyLimit body_limit(http::Request&) override { return {limit}; }

    void handle(http::Exchange& ex) override {
        ++handled;
        const http::Request& r = ex.request();
        std::string body =
            std::string(r.method_name) + " " + std::string(r.target) + " " + std::string(r.body);
        if (r.path == "/defer") {
            http::ExchangeRef ref = ex.defer();
            last_ref = ref;
            timers.push_back(std::make_unique<loop::Timer>(loop->uv(), [ref, body] {
                if (http::Exchange* e = ref.get()) e->status(200).send(http::Body::owned(body));
            }));
            timers.back()->start(20);
            return;
        }
        if (r.path == "/interim") {
            // Two interim responses, then the final one; a third after the head has begun is
            // refused. The results are echoed in the body.
            bool a = ex.send_interim(103, "Link: </s.css>; rel=preload\r\n");
            bool b = ex.send_interim(100, "");
            bool wrong = ex.send_interim(101, "") || ex.send_interim(200, "");
            ex.status(200);
            bool late = ex.send_interim(103, "");
            std::string got = std::to_string(a) + std::to_string(b) + std::to_string(wrong) +
                              std::to_string(late);
            ex.send(http::Body::owned(std::move(got)));
            return;
        }
        if (r.path == "/stream") {
            ex.status(200).begin_stream(std::nullopt);
            ex.stream_write(http::Body::copy("one,"));
            ex.stream_write(http::Body::copy("two,"));
            ex.stream_write(http::Body::copy("three"));
            ex.stream_end();
            return;
        }
        ex.status(200).header("Content-Type", "text/plain");
        ex.send(http::Body::owned(std::move(body)));
    }
};

struct Harness {
    loop::Loop loop;
    TestHandler handler;
    std::unique_ptr<http::Server> server;
    int port = 0;
    size_t baseline_handles = 0;

    explicit Harness(http::Limits lim = {}) {
        baseline_handles = loop.open_handles();
        handler.loop = &loop;
        server = std::make_unique<http::Server>(loop, lim);
        http::Listener& l = server->listen("127.0.0.1:0", &handler, "test");
        port = std::stoi(l.bound.substr(l.bound.rfind(':') + 1));
    }
    ~Harness() {
        handler.timers.clear();
        handler.last_ref = {};
        server->shutdown();
        spin(20);
        server.reset();
    }

    void spin(int ms) {
        auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
        while (std::chrono::steady_clock::now() < until) {
            uv_run(loop.uv(), UV_RUN_NOWAIT);
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
    }

    int connect() {
        int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(static_cast<uint16_t>(port));
        inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
        REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        fcntl(fd, F_SETFL, O_NONBLOCK);
        uv_run(loop.uv(), UV_RUN_NOWAIT); // accept
        return fd;
    }

    void send(int fd, std::string_view data) {
        while (!data.empty()) {
            ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
            if (n > 0) data.remove_prefix(static_cast<size_t>(n));
            uv_run(loop.uv(), UV_RUN_NOWAIT);
        }
    }

    // Reads until `want` responses-worth of bytes matched by pred, EOF, or the time limit.
    std::string read(int fd, int ms, bool until_eof = false, size_t min_bytes = 1) {
        std::string got;
        auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
        while (std::chrono::steady_clock::now() < until) {
            uv_run(loop.uv(), UV_RUN_NOWAIT);
            char buf[65536];
            ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n > 0)
                got.append(buf, static_cast<size_t>(n));
            else if (n == 0)
                break;
            else if (!until_eof && got.size() >= min_bytes) {
                // Nothing more right now; give the loop a moment in case more is coming.
                spin(2);
                n = ::recv(fd, buf, sizeof buf, 0);
                if (n > 0)
                    got.append(buf, static_cast<size_t>(n));
                else
                    break;
            } else {
                std::this_thread::sleep_for(std::chrono::microseconds(200));
            }
        }
        return got;
    }
};

size_t count(const std::string& hay, std::string_view needle) {
    size_t n = 0;
    for (size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1))
        ++n;
    return n;
}

} // namespace

TEST_SUITE("http/server") {

    TEST_CASE("a request split at every byte boundary is parsed the same") {
        Harness h;
        const std::string req =
            "PUT /split?q=1 HTTP/1.1\r\nHost: example\r\nX-Pad: " + std::string(40, 'p') +
            "\r\nContent-Length: 5\r\n\r\nhello";
        for (size_t cut = 1; cut < req.size(); ++cut) {
            int fd = h.connect();
            h.send(fd, std::string_view(req).substr(0, cut));
            h.spin(1);
            h.send(fd, std::string_view(req).substr(cut));
            std::string resp = h.read(fd, 2000);
            CAPTURE(cut);
            CHECK(resp.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
            CHECK(resp.find("PUT /split?q=1 hello") != std::string::npos);
            ::close(fd);
        }
        CHECK(h.handler.handled == static_cast<int>(req.size() - 1));
    }

    TEST_CASE("a chunked body split at every byte boundary is reassembled") {
        Harness h;
        const std::string req = "POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                                "3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nTrail: t\r\n\r\n";
        for (size_t cut = 1; cut < req.size(); ++cut) {
            int fd = h.connect();
            h.send(fd, std::string_view(req).substr(0, cut));
            h.spin(1);
            h.send(fd, std::string_view(req).substr(cut));
            std::string resp = h.read(fd, 2000);
            CAPTURE(cut);
            CHECK(resp.find("POST /c abcde") != std::string::npos);
            ::close(fd);
        }
    }

    TEST_CASE("pipelined requests are answered in order, deferred ones included") {
        Harness h;
        int fd = h.connect();
        std::string reqs;
        for (int i = 0; i < 10; ++i) {
            std::string path = (i % 3 == 0) ? "/defer" : "/now";
            reqs += "GET " + path + "?i=" + std::to_string(i) + " HTTP/1.1\r\nHost: a\r\n\r\n";
        }
        h.send(fd, reqs);
        std::string resp;
        for (int tries = 0; tries < 100 && count(resp, "HTTP/1.1 200") < 10; ++tries)
            resp += h.read(fd, 50);
        REQUIRE(count(resp, "HTTP/1.1 200") == 10);
        size_t pos = 0;
        for (int i = 0; i < 10; ++i) {
            size_t at = resp.find("?i=" + std::to_string(i) + " ", pos);
            CAPTURE(i);
            REQUIRE(at != std::string::npos);
            pos = at;
        }
        ::close(fd);
    }

    TEST_CASE("streamed responses are chunked for HTTP/1.1") {
        Harness h;
        int fd = h.connect();
        h.send(fd, "GET /stream HTTP/1.1\r\nHost: a\r\n\r\n");
        std::string resp = h.read(fd, 1000);
        CHECK(resp.find("Transfer-Encoding: chunked\r\n") != std::string::npos);
        CHECK(resp.find("4\r\none,\r\n4\r\ntwo,\r\n5\r\nthree\r\n0\r\n\r\n") != std::string::npos);
        ::close(fd);
    }

    TEST_CASE("interim responses precede the final one, never to an HTTP/1.0 client") {
        Harness h;
        int fd = h.connect();
        h.send(fd, "GET /interim HTTP/1.1\r\nHost: a\r\n\r\n");
        std::string resp = h.read(fd, 1000);
        CHECK(resp.rfind("HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
                         "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n",
                         0) == 0);
        CHECK(resp.substr(resp.size() - 4) == "1100"); // sent, sent, refused, refused
        ::close(fd);
        fd = h.connect();
        h.send(fd, "GET /interim HTTP/1.0\r\nHost: a\r\n\r\n");
        resp = h.read(fd, 1000, true);
        CHECK(resp.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
        CHECK(resp.find(" 103 ") == std::string::npos);
        CHECK(resp.substr(resp.size() - 4) == "0000");
        ::close(fd);
    }

    TEST_CASE("limits and strictness: one error response, then the connection closes") {
        http::Limits lim;
        lim.max_header_size = 1024;
        Harness h(lim);
        h.handler.limit = 10;
        struct Case {
            std::string name;
            std::string req;
            const char* status;
        };
        std::vector<Case> cases = {
            {"header too large",
             "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(2000, 'x') + "\r\n\r\n", "431"},
            {"body too large", "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n01234567890",
             "413"},
            {"chunked too large",
             "PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: "
             "chunked\r\n\r\nb\r\n01234567890\r\n0\r\n\r\n",
             "413"},
            {"cl+te",
             "PUT / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: "
             "chunked\r\n\r\n0\r\n\r\n",
             "400"},
            {"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", "400"},
            {"name with space", "GET / HTTP/1.1\r\nHost: a\r\nX Y: a\r\n\r\n", "400"},
            {"no host", "GET / HTTP/1.1\r\n\r\n", "400"},
            {"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", "400"},
            {"unknown minor version", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", "400"},
            {"HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", "505"},
            {"bad target", "GET foo HTTP/1.1\r\nHost: a\r\n\r\n", "400"},
        };
        for (const Case& c : cases) {
            CAPTURE(c.name);
            int fd = h.connect();
            h.send(fd, c.req);
            std::string resp = h.read(fd, 2000, true);
            CHECK(resp.rfind(std::string("HTTP/1.1 ") + c.status + " ", 0) == 0);
            CHECK(resp.find("Connection: close\r\n") != std::string::npos);
            CHECK(count(resp, "\r\n\r\n") == 1); // one response head
            ::close(fd);
        }
        CHECK(h.handler.handled == 0);
        CHECK(h.server->stats().too_large == 3);
    }

    TEST_CASE("a deferred exchange yields nothing once its client is gone") {
        Harness h;
        int fd = h.connect();
        h.send(fd, "GET /defer HTTP/1.1\r\nHost: a\r\n\r\n");
        h.spin(2);
        REQUIRE(h.handler.last_ref.get() != nullptr);
        ::close(fd);
        h.spin(10);
        // The connection closed under the handler: the timer's response goes nowhere.
        h.spin(30);
        CHECK(h.handler.last_ref.get() == nullptr);
        CHECK(h.server->connection_count() == 0);
    }

    TEST_CASE("every handle is closed after shutdown") {
        size_t baseline;
        {
            Harness h;
            baseline = h.baseline_handles;
            int fd = h.connect();
            h.send(fd, "GET /now HTTP/1.1\r\nHost: a\r\n\r\n");
            CHECK(h.read(fd, 500).rfind("HTTP/1.1 200", 0) == 0);
            int idle = h.connect();
            (void)idle;
            h.server->shutdown();
            h.spin(10);
            CHECK(h.loop.open_handles() == baseline);
            ::close(fd);
            ::close(idle);
        }
    }

} // TEST_SUITE
