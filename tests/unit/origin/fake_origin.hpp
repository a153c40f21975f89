// FakeOrigin: a scripted HTTP/1.1 server on the test's own loop (raw libuv TCP, port 0).
#pragma once

#include <arpa/inet.h>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <netinet/in.h>
#include <optional>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <doctest/doctest.h>
#include <uv.h>

#include "config/options.hpp"
#include "loop/loop.hpp"
#include "origin/pool.hpp"
#include "util/strings.hpp"

namespace ec::origin::test {

// One step of a scripted reply, run in order on the connection that received the request.
struct Step {
    enum Kind { write, delay, close, reset, hold } kind;
    std::string data{};
    int ms = 0;
};
using Script = std::vector<Step>;

inline Step write(std::string s) {
    return {Step::write, std::move(s)};
}
inline Step delay(int ms) {
    return {Step::delay, {}, ms};
}
inline Step close_conn() {
    return {Step::close};
}
inline Step reset_conn() {
    return {Step::reset};
}
inline Step hold() {
    return {Step::hold};
}
// A complete 200 response with a Content-Length body.
inline std::string ok(std::string_view body, std::string_view extra = "") {
    return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" +
           std::string(extra) + "\r\n" + std::string(body);
}

struct SeenRequest {
    std::string method, target, body, head;
    int conn = 0;     // 1-based connection number (accept order)
    int conn_seq = 0; // 1-based request number on that connection
    std::string header(std::string_view name) const {
        size_t p = 0;
        while ((p = head.find("\r\n", p)) != std::string::npos) {
            p += 2;
            size_t colon = head.find(':', p);
            size_t eol = head.find("\r\n", p);
            if (colon == std::string::npos || colon > eol) break;
            if (iequals(std::string_view(head).substr(p, colon - p), name))
                return std::string(
                    trim_ows(std::string_view(head).substr(colon + 1, eol - colon - 1)));
        }
        return {};
    }
};

class FakeOrigin {
public:
    std::function<Script(const SeenRequest&)> handler = [](const SeenRequest&) {
        return Script{write(ok("hello"))};
    };
    std::vector<SeenRequest> requests;
    int accepts = 0;
    int port = 0;

    // Listens on 127.0.0.1:`at_port` (0 = any free port).
    explicit FakeOrigin(loop::Loop& loop, int at_port = 0) : loop_(loop) {
        uv_tcp_init(loop.uv(), &listener_);
        listener_.data = this;
        sockaddr_in sa{};
        uv_ip4_addr("127.0.0.1", at_port, &sa);
        REQUIRE(uv_tcp_bind(&listener_, reinterpret_cast<sockaddr*>(&sa), 0) == 0);
        REQUIRE(uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 128, on_connection) == 0);
        sockaddr_storage ss{};
        int len = sizeof ss;
        uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&ss), &len);
        port = ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    }
    ~FakeOrigin() { stop(); }

    std::string addr() const { return "127.0.0.1:" + std::to_string(port); }

    // Stops listening and closes every connection.
    void stop() {
        if (!stopped_) {
            stopped_ = true;
            uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
        }
        while (!conns_.empty())
            conns_.back()->destroy();
    }

private:
    struct Conn {
        FakeOrigin* origin;
        uv_tcp_t tcp;
        uv_timer_t timer;
        uv_shutdown_t shutdown_req;
        std::string in;
        Script steps;
        size_t step = 0;
        bool busy = false, dead = false, holding = false;
        int id = 0, seq = 0;
        int pending_closes = 0;

        void destroy() {
            if (dead) return;
            dead = true;
            auto& v = origin->conns_;
            v.erase(std::find(v.begin(), v.end(), this));
            pending_closes = 2;
            uv_close(reinterpret_cast<uv_handle_t*>(&timer), on_closed);
            uv_close(reinterpret_cast<uv_handle_t*>(&tcp), on_closed);
        }
        static void on_closed(uv_handle_t* h) {
            auto* c = static_cast<Conn*>(h->data);
            if (--c->pending_closes == 0) delete c;
        }
        void reset() {
            if (dead) return;
            dead = true;
            auto& v = origin->conns_;
            v.erase(std::find(v.begin(), v.end(), this));
            pending_closes = 2;
            uv_close(reinterpret_cast<uv_handle_t*>(&timer), on_closed);
            uv_tcp_close_reset(&tcp, on_closed);
        }

        void feed() {
            while (!busy && !dead && !holding) {
                size_t end = in.find("\r\n\r\n");
                if (end == std::string::npos) return;
                SeenRequest r;
                r.head = in.substr(0, end + 2);
                size_t sp1 = r.head.find(' ');
                size_t sp2 = r.head.find(' ', sp1 + 1);
                r.method = r.head.substr(0, sp1);
                r.target = r.head.substr(sp1 + 1, sp2 - sp1 - 1);
                size_t cl = 0;
                if (auto v = parse_u64(r.header("Content-Length"))) cl = *v;
                if (in.size() < end + 4 + cl) return;
                r.body = in.substr(end + 4, cl);
                in.erase(0, end + 4 + cl);
                r.conn = id;
                r.conn_seq = ++seq;
                origin->requests.push_back(r);
                steps = origin->handler(r);
                step = 0;
                busy = true;
                run();
            }
        }

        void run() {
            while (!dead && step < steps.size()) {
                Step s = steps[step++];
                switch (s.kind) {
                case Step::write: {
                    auto* req = new uv_write_t;
                    auto* data = new std::string(std::move(s.data));
                    req->data = data;
                    uv_buf_t b = uv_buf_init(data->data(), static_cast<unsigned>(data->size()));
                    if (uv_write(req, reinterpret_cast<uv_stream_t*>(&tcp), &b, 1,
                                 [](uv_write_t* r, int) {
                                     delete static_cast<std::string*>(r->data);
                                     delete r;
                                 }) != 0) {
                        delete data;
                        delete req;
                    }
                    break;
                }
                case Step::delay:
                    uv_timer_start(
                        &timer, [](uv_timer_t* t) { static_cast<Conn*>(t->data)->run(); },
                        static_cast<uint64_t>(s.ms), 0);
                    return;
                case Step::close:
                    // Graceful: flush what was written, FIN, then close.
                    shutdown_req.data = this;
                    holding = true;
                    if (uv_shutdown(&shutdown_req, reinterpret_cast<uv_stream_t*>(&tcp),
                                    [](uv_shutdown_t* r, int) {
                                        static_cast<Conn*>(r->data)->destroy();
                                    }) != 0)
                        destroy();
                    return;
                case Step::reset:
                    reset();
                    return;
                case Step::hold:
                    holding = true;
                    return;
                }
            }
            busy = false;
            feed();
        }
    };

    static void on_connection(uv_stream_t* server, int status) {
        auto* o = static_cast<FakeOrigin*>(server->data);
        if (status < 0) return;
        auto* c = new Conn{};
        c->origin = o;
        uv_tcp_init(server->loop, &c->tcp);
        uv_timer_init(server->loop, &c->timer);
        c->tcp.data = c;
        c->timer.data = c;
        if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
            o->conns_.push_back(c);
            c->destroy();
            return;
        }
        o->conns_.push_back(c);
        c->id = ++o->accepts;
        uv_read_start(
            reinterpret_cast<uv_stream_t*>(&c->tcp),
            [](uv_handle_t*, size_t, uv_buf_t* b) {
                static char buf[65536];
                *b = uv_buf_init(buf, sizeof buf);
            },
            [](uv_stream_t* s, ssize_t n, const uv_buf_t* b) {
                auto* cc = static_cast<Conn*>(s->data);
                if (cc->dead) return;
                if (n < 0) {
                    cc->destroy();
                    return;
                }
                cc->in.append(b->base, static_cast<size_t>(n));
                cc->feed();
            });
    }

    loop::Loop& loop_;
    uv_tcp_t listener_;
    bool stopped_ = false;
    std::vector<Conn*> conns_;
};

// Records what an exchange's Sink was told.
struct Recorder {
    int status = 0;
    std::vector<Header> headers;
    std::vector<InterimHead> interim; // in arrival order
    int heads_before_interim = 0;     // on_head calls that came before an on_interim
    std::string body;
    int heads = 0, bodies = 0, completes = 0, errors = 0;
    std::optional<ErrorKind> error;
    std::string message;
    std::function<void(std::string_view)> on_body_hook;

    bool finished() const { return completes + errors > 0; }
    Sink sink() {
        Sink s;
        s.on_interim = [this](InterimHead&& h) {
            heads_before_interim += heads;
            interim.push_back(std::move(h));
        };
        s.on_head = [this](ResponseHead&& h) {
            ++heads;
            status = h.status;
            headers = std::move(h.headers);
        };
        s.on_body = [this](std::string_view b) {
            ++bodies;
            body.append(b);
            if (on_body_hook) on_body_hook(b);
        };
        s.on_complete = [this] { ++completes; };
        s.on_error = [this](ErrorKind k, std::string m) {
            ++errors;
            error = k;
            message = std::move(m);
        };
        return s;
    }
    std::string header(std::string_view name) const {
        for (const auto& h : headers)
            if (iequals(h.name, name)) return h.value;
        return {};
    }
};

// Runs the loop until pred() holds or ms pass; returns pred().
template <class Pred> bool run_until(loop::Loop& loop, Pred pred, int ms = 3000) {
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (!pred()) {
        if (std::chrono::steady_clock::now() > until) return false;
        uv_run(loop.uv(), UV_RUN_NOWAIT);
        if (!pred()) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return true;
}

inline void spin(loop::Loop& loop, int ms) {
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (std::chrono::steady_clock::now() < until) {
        uv_run(loop.uv(), UV_RUN_NOWAIT);
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
}

// Runs the loop until the loop's clock (uv_now: what the pool's timers and ages read) has moved
// `ms` past its reading at the call. Wait for an interval to pass with this, never with spin():
// on a loaded machine the loop may not run at all for the last part of a wall-clock wait, so its
// clock can lag the wall clock by more than the margin a test leaves.
inline void run_loop_clock(loop::Loop& loop, uint64_t ms) {
    const uint64_t until = uv_now(loop.uv()) + ms;
    REQUIRE(run_until(loop, [&] { return uv_now(loop.uv()) >= until; }));
}

// A TCP port on 127.0.0.1 that nothing listens on (bound, then released).
inline int dead_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    socklen_t len = sizeof sa;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
    ::close(fd);
    return ntohs(sa.sin_port);
}

inline config::OriginSpec spec_for(std::vector<std::string> servers) {
    config::OriginSpec s = config::origin_defaults();
    s.name = "test";
    s.servers = std::move(servers);
    s.connect_timeout_ms = 1000;
    s.timeout_ms = 3000;
    s.max_connections = 8;
    return s;
}

inline UpstreamRequest get(std::string target = "/") {
    UpstreamRequest r;
    r.method = "GET";
    r.target = std::move(target);
    r.headers.push_back({"Host", "example.test"});
    return r;
}

// Shuts the pool down, stops the origin and checks that nothing is left open on the loop.
inline void teardown(loop::Loop& loop, size_t baseline, Pool& pool, FakeOrigin& o) {
    pool.shutdown();
    o.stop();
    spin(loop, 5);
    CHECK(loop.open_handles() == baseline);
}

// One request through the pool, run to its end.
inline Recorder fetch_one(loop::Loop& loop, Pool& pool, UpstreamRequest req, int ms = 3000) {
    Recorder r;
    pool.fetch(std::move(req), r.sink());
    REQUIRE(run_until(
        loop, [&] { return r.finished(); }, ms));
    return r;
}

} // namespace ec::origin::test
