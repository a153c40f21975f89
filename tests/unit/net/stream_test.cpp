// net/stream: the transport seam — SocketStream's events and their order, and a wrapping stream
// (XorStream, shaped like TLS) under a real http::Server listener and an origin::Pool.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string>
#include <vector>

#include "http/exchange.hpp"
#include "http/handler.hpp"
#include "http/server.hpp"
#include "net/socket_stream.hpp"
#include "origin/pool.hpp"
#include "tests/unit/net/xor_stream.hpp"
#include "tests/unit/origin/fake_origin.hpp"

using namespace ec;

namespace {

// Records a stream's events as text, in order, and what it read.
struct StreamEventLog final : net::StreamEvents {
    std::vector<std::string> events;
    std::string got;
    char buf[65536];
    bool closed = false;

    uv_buf_t on_alloc(size_t) override { return uv_buf_init(buf, sizeof buf); }
    void on_read(ssize_t n, const uv_buf_t& b) override {
        if (n > 0)
            got.append(b.base, static_cast<size_t>(n));
        else if (n < 0)
            events.push_back(std::string("read ") + uv_err_name(static_cast<int>(n)));
    }
    void on_write(net::WriteReq&, int status) override {
        events.push_back(status ? std::string("write ") + uv_err_name(status) : "write ok");
    }
    void on_connect(int status) override {
        events.push_back(status ? std::string("connect ") + uv_err_name(status) : "connect ok");
    }
    void on_shutdown(int status) override {
        events.push_back(status ? std::string("shutdown ") + uv_err_name(status) : "shutdown ok");
    }
    void on_closed() override {
        events.push_back("closed");
        closed = true;
    }
};

// A listening TCP socket on 127.0.0.1:0 whose next connection becomes a SocketStream.
struct LoopbackAcceptor {
    loop::HandleBox<uv_tcp_t> tcp;
    sockaddr_storage addr{};
    net::SocketStream* accepted = nullptr;

    explicit LoopbackAcceptor(loop::Loop& loop) {
        uv_tcp_init(loop.uv(), tcp.get());
        tcp.mark_initialized();
        tcp.get()->data = this;
        sockaddr_in sa{};
        uv_ip4_addr("127.0.0.1", 0, &sa);
        REQUIRE(uv_tcp_bind(tcp.get(), reinterpret_cast<sockaddr*>(&sa), 0) == 0);
        int len = sizeof addr;
        uv_tcp_getsockname(tcp.get(), reinterpret_cast<sockaddr*>(&addr), &len);
        REQUIRE(
            uv_listen(reinterpret_cast<uv_stream_t*>(tcp.get()), 8, [](uv_stream_t* l, int status) {
                auto* a = static_cast<LoopbackAcceptor*>(l->data);
                REQUIRE(status == 0);
                a->accepted = net::SocketStream::create(l->loop, net::SocketStream::Kind::tcp);
                REQUIRE(a->accepted->accept(l) == 0);
            }) == 0);
    }
    const sockaddr* address() const { return reinterpret_cast<const sockaddr*>(&addr); }
};

// "<METHOD> <target>" as a text/plain response.
struct EchoTargetHandler : http::Handler {
    http::BodyLimit body_limit(http::Request&) override { return {1 << 20}; }
    void handle(http::Exchange& ex) override {
        const http::Request& r = ex.request();
        ex.status(200).send(
            http::Body::owned(std::string(r.method_name) + " " + std::string(r.target)));
    }
};

std::string xor_text(std::string s, unsigned char key) {
    for (char& c : s)
        c = static_cast<char>(c ^ key);
    return s;
}

} // namespace

TEST_SUITE("net/stream") {

    TEST_CASE("socket stream: connect, write, read, shutdown and close, events in order") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        StreamEventLog client_events, server_events;
        {
            LoopbackAcceptor acc(loop);
            auto* client = net::SocketStream::create(loop.uv(), net::SocketStream::Kind::tcp);
            client->set_events(&client_events);
            REQUIRE(client->connect(acc.address()) == 0);
            CHECK(client_events.events.empty()); // never on connect()'s stack
            REQUIRE(origin::test::run_until(
                loop, [&] { return acc.accepted && !client_events.events.empty(); }));
            CHECK(client_events.events == std::vector<std::string>{"connect ok"});
            net::SocketStream* server = acc.accepted;
            server->set_events(&server_events);
            REQUIRE(server->read_start() == 0);

            sockaddr_storage peer{};
            REQUIRE(server->peer(peer));
            CHECK(peer.ss_family == AF_INET);
            CHECK_FALSE(server->is_unix());

            std::string a = "hello ", b = "world";
            uv_buf_t first = uv_buf_init(a.data(), static_cast<unsigned>(a.size()));
            CHECK(client->try_write(&first, 1) == 1); // a few bytes: the socket takes them
            net::WriteReq req;
            uv_buf_t second = uv_buf_init(b.data(), static_cast<unsigned>(b.size()));
            REQUIRE(client->write(req, &second, 1) == 0);
            REQUIRE(client->shutdown() == 0);
            REQUIRE(origin::test::run_until(loop, [&] { return !server_events.events.empty(); }));
            CHECK(server_events.got == "hello world");
            CHECK(server_events.events == std::vector<std::string>{"read EOF"});
            CHECK(client_events.events ==
                  std::vector<std::string>{"connect ok", "write ok", "shutdown ok"});

            client->close();
            client->close(); // idempotent
            server->close();
            REQUIRE(origin::test::run_until(
                loop, [&] { return client_events.closed && server_events.closed; }));
            CHECK(client_events.events.back() == "closed");
        }
        origin::test::spin(loop, 5);
        CHECK(loop.open_handles() == baseline);
    }

    TEST_CASE("close: a pending write and shutdown are cancelled before on_closed") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        StreamEventLog client_events;
        {
            LoopbackAcceptor acc(loop);
            auto* client = net::SocketStream::create(loop.uv(), net::SocketStream::Kind::tcp);
            client->set_events(&client_events);
            REQUIRE(client->connect(acc.address()) == 0);
            REQUIRE(origin::test::run_until(
                loop, [&] { return acc.accepted && !client_events.events.empty(); }));
            // Nobody reads on the other side: 64 MiB cannot all go into the socket buffers.
            std::string big(64 << 20, 'x');
            net::WriteReq req;
            uv_buf_t b = uv_buf_init(big.data(), static_cast<unsigned>(big.size()));
            REQUIRE(client->write(req, &b, 1) == 0);
            REQUIRE(client->shutdown() == 0);
            origin::test::spin(loop, 20);
            CHECK(client->write_queue_size() > 0);
            client->close();
            acc.accepted->close();
            REQUIRE(origin::test::run_until(loop, [&] { return client_events.closed; }));
            CHECK(client_events.events == std::vector<std::string>{"connect ok", "write ECANCELED",
                                                                   "shutdown ECANCELED", "closed"});
        }
        origin::test::spin(loop, 5);
        CHECK(loop.open_handles() == baseline);
    }

    TEST_CASE("connect failure comes as on_connect with the error") {
        loop::Loop loop;
        StreamEventLog ev;
        auto* s = net::SocketStream::create(loop.uv(), net::SocketStream::Kind::tcp);
        s->set_events(&ev);
        sockaddr_in sa{};
        uv_ip4_addr("127.0.0.1", origin::test::dead_port(), &sa);
        REQUIRE(s->connect(reinterpret_cast<sockaddr*>(&sa)) == 0);
        REQUIRE(origin::test::run_until(loop, [&] { return !ev.events.empty(); }));
        CHECK(ev.events == std::vector<std::string>{"connect ECONNREFUSED"});
        s->close();
        REQUIRE(origin::test::run_until(loop, [&] { return ev.closed; }));
        CHECK(std::string(net::error_text(net::kErrTls)) == "TLS failure");
        CHECK(std::string(net::error_text(UV_ECONNREFUSED)) == uv_strerror(UV_ECONNREFUSED));
    }

    TEST_CASE("a listener's wrap puts a transforming stream under every connection") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        {
            EchoTargetHandler handler;
            http::Server server(loop, http::Limits{});
            http::Listener& l = server.listen("127.0.0.1:0", &handler, "xor");
            std::vector<net::test::XorStream*> wrapped;
            l.wrap = [&](net::Stream* plain, std::string_view peer_host) -> net::Stream* {
                CHECK(peer_host.empty()); // the server side has no name to check
                wrapped.push_back(new net::test::XorStream(loop, plain, 0x5a));
                return wrapped.back();
            };
            // A client speaking XOR: a SocketStream (plain) connected to the listener.
            sockaddr_in sa{};
            uv_ip4_addr("127.0.0.1", std::stoi(l.bound.substr(l.bound.rfind(':') + 1)), &sa);
            StreamEventLog ev;
            auto* client = net::SocketStream::create(loop.uv(), net::SocketStream::Kind::tcp);
            client->set_events(&ev);
            REQUIRE(client->connect(reinterpret_cast<sockaddr*>(&sa)) == 0);
            REQUIRE(origin::test::run_until(loop, [&] { return !ev.events.empty(); }));
            REQUIRE(client->read_start() == 0);
            std::string req = xor_text("GET /one HTTP/1.1\r\nHost: a\r\n\r\n"
                                       "GET /two HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
                                       0x5a);
            net::WriteReq wr;
            uv_buf_t b = uv_buf_init(req.data(), static_cast<unsigned>(req.size()));
            REQUIRE(client->write(wr, &b, 1) == 0);
            REQUIRE(origin::test::run_until(loop, [&] {
                return std::find(ev.events.begin(), ev.events.end(), "read EOF") != ev.events.end();
            }));
            std::string plain = xor_text(ev.got, 0x5a);
            CHECK(plain.find("HTTP/1.1 200 OK\r\n") == 0);
            CHECK(plain.find("\r\n\r\nGET /one") != std::string::npos);
            CHECK(plain.find("Connection: close\r\n") != std::string::npos);
            CHECK(plain.substr(plain.size() - 8) == "GET /two");
            REQUIRE(wrapped.size() == 1);
            CHECK(wrapped[0]->bytes_in == req.size());
            CHECK(wrapped[0]->bytes_out == ev.got.size());
            // The stream's copies were counted against max_queued_output and all given back.
            CHECK(server.queued_output() == 0);
            client->close();
            server.shutdown();
            REQUIRE(origin::test::run_until(
                loop, [&] { return ev.closed && server.connection_count() == 0; }));
            origin::test::spin(loop, 5);
        }
        origin::test::spin(loop, 5);
        CHECK(loop.open_handles() == baseline);
    }

    TEST_CASE("a pool's wrap sees every origin connection, with the server's host") {
        loop::Loop loop;
        size_t baseline = loop.open_handles();
        origin::test::FakeOrigin o(loop);
        origin::Pool pool(loop, origin::test::spec_for({o.addr()}));
        std::vector<std::string> hosts;
        std::vector<net::test::XorStream*> wrapped;
        pool.set_stream_wrap([&](net::Stream* plain, std::string_view host) -> net::Stream* {
            hosts.emplace_back(host);
            wrapped.push_back(new net::test::XorStream(loop, plain, 0)); // key 0: bytes as is
            return wrapped.back();
        });
        origin::test::Recorder r = origin::test::fetch_one(loop, pool, origin::test::get("/w"));
        CHECK(r.completes == 1);
        CHECK(r.body == "hello");
        CHECK(hosts == std::vector<std::string>{"127.0.0.1"});
        REQUIRE(wrapped.size() == 1);
        CHECK(wrapped[0]->bytes_out > 0);
        CHECK(wrapped[0]->bytes_in > 0);
        origin::test::teardown(loop, baseline, pool, o);
    }
}
