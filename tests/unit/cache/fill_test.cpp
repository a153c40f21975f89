// cache/fill: the fill state machine against a scripted origin, real client connections and
// the test clock — coalescing, streaming, hand-back, settling, background revalidation.
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <unordered_map>

#include "cache/cache_key.hpp"
#include "cache/fill.hpp"
#include "http/handler.hpp"
#include "http/server.hpp"
#include "tests/unit/origin/fake_origin.hpp"

namespace ec::cache::fill_test {

using origin::test::close_conn;
using origin::test::delay;
using origin::test::FakeOrigin;
using origin::test::hold;
using origin::test::run_until;
using origin::test::Script;
using origin::test::SeenRequest;
using origin::test::spin;
using origin::test::write;

namespace {

const std::string kBase = request_key("example.test", "/a", "", {});

// Plays the proxy's part: one slot per key, the store, hit-for-pass, hand-back. Clients that
// connect to `port` join the slot's fill or start one, as Proxy::handle_get does.
struct Host final : FillHost, http::Handler {
    loop::Loop event_loop;
    size_t baseline = event_loop.open_handles();
    FakeOrigin origin{event_loop};
    origin::Pool pool{event_loop, origin::test::spec_for({origin.addr()})};
    bool no_pool = false;
    ProxySettings proxy_settings;
    std::shared_ptr<Route> route;
    Generations gens;
    std::unordered_map<std::string, std::shared_ptr<Fill>> slots;
    std::shared_ptr<const Entry> stale; // what a client fill validates, if set

    std::vector<StoreRequest> stored;
    bool settle_at_once = true;
    std::vector<std::function<void()>> unsettled;
    std::vector<std::string> hit_for_pass;
    int handed_back = 0;
    int fills_done = 0;

    std::unique_ptr<http::Server> server;
    int port = 0;

    Host() {
        config::RouteSpec spec = config::route_defaults();
        spec.name = "r";
        spec.prefix = "/";
        spec.origin = "test";
        RouteTable table;
        table.configure({spec}, {});
        route = table.match("/");
        server = std::make_unique<http::Server>(event_loop, http::Limits{});
        http::Listener& l = server->listen("127.0.0.1:0", this, "test");
        port = std::stoi(l.bound.substr(l.bound.rfind(':') + 1));
    }
    ~Host() {
        for (auto& [k, f] : slots)
            f->abort();
        slots.clear();
        pool.shutdown();
        origin.stop();
        server->shutdown();
        spin(event_loop, 20);
        server.reset();
        CHECK(event_loop.open_handles() == baseline);
    }

    // FillHost
    loop::Loop& loop() override { return event_loop; }
    const ProxySettings& settings() const override { return proxy_settings; }
    origin::Pool* pool_for(const Route&) override { return no_pool ? nullptr : &pool; }
    void store(StoreRequest req, Route&, std::function<void()> settled) override {
        stored.push_back(req);
        if (settle_at_once)
            settled();
        else
            unsettled.push_back(std::move(settled));
    }
    bool purged_since(const std::string& base, const Generations::Snapshot& snap) override {
        return !gens.still_valid(base, snap);
    }
    void mark_hit_for_pass(const std::string& base) override { hit_for_pass.push_back(base); }
    void send_gateway_error(http::Exchange& ex, origin::ErrorKind kind, std::string_view,
                            std::string_view) override {
        ex.status(origin::gateway_status(kind)).send(http::Body::static_bytes("gateway"));
    }
    void fill_done(const Fill& fill) override {
        ++fills_done;
        auto it = slots.find(fill.key());
        if (it != slots.end() && it->second.get() == &fill) slots.erase(it);
    }
    void hand_back(std::vector<http::ExchangeRef> clients, const std::shared_ptr<Route>&) override {
        for (auto& c : clients)
            if (http::Exchange* ex = c.get()) {
                ++handed_back;
                ex->status(200).header("X-Handed-Back", "1").send(http::Body::static_bytes("b"));
            }
    }

    // http::Handler
    http::BodyLimit body_limit(http::Request&) override { return {1 << 20}; }
    void handle(http::Exchange& ex) override {
        if (auto it = slots.find(kBase); it != slots.end()) {
            std::shared_ptr<Fill> f = it->second;
            if (f->join(ex.defer())) return;
        }
        auto f = make(Fill::Kind::client, ex.request());
        f->start(ex.defer());
    }

    std::shared_ptr<Fill> make(Fill::Kind kind, const http::Request& req) {
        FillRequest fr =
            FillRequest::from(req, &pool.spec(), proxy_settings, kind == Fill::Kind::background);
        auto f = std::make_shared<Fill>(*this, kind, route, kBase, kBase, stale, std::move(fr),
                                        gens.snapshot(kBase));
        slots[kBase] = f;
        return f;
    }

    // A stored 200 for kBase that went stale `ago` seconds ago; ETag "v1".
    std::shared_ptr<const Entry> stale_entry(int64_t ago, int64_t swr, int64_t sie) {
        int64_t now = event_loop.clock().now_s();
        Freshness f;
        f.shareable = f.storable = true;
        f.source = LifetimeSource::origin;
        f.lifetime = 10;
        f.swr = swr;
        f.sie = sie;
        f.has_validator = true;
        f.request_time = f.response_time = now - 10 - ago;
        FieldList fields{{"ETag", "\"v1\""}, {"Cache-Control", "max-age=10"}};
        return Entry::decode(
            Entry::encode_response(200, f, {}, Entry::header_block(fields), "old body"));
    }

    // Client side: a non-blocking socket on the same thread, one request, read to EOF.
    int connect_and_send(std::string_view extra_headers = "") {
        int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(static_cast<uint16_t>(port));
        inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
        REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
        fcntl(fd, F_SETFL, O_NONBLOCK);
        std::string req = "GET /a HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n" +
                          std::string(extra_headers) + "\r\n";
        REQUIRE(::send(fd, req.data(), req.size(), MSG_NOSIGNAL) ==
                static_cast<ssize_t>(req.size()));
        return fd;
    }
    // Reads what has arrived; true at EOF.
    bool read_some(int fd, std::string& got) {
        char buf[65536];
        for (;;) {
            ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n > 0)
                got.append(buf, static_cast<size_t>(n));
            else
                return n == 0;
        }
    }
    std::string read_all(int fd) {
        std::string got;
        REQUIRE(run_until(event_loop, [&] { return read_some(fd, got); }));
        ::close(fd);
        return got;
    }
};

std::string header_of(const std::string& resp, std::string_view name) {
    std::string needle = "\r\n" + std::string(name) + ": ";
    size_t p = resp.find(needle);
    if (p == std::string::npos) return {};
    p += needle.size();
    return resp.substr(p, resp.find("\r\n", p) - p);
}

std::string body_of(const std::string& resp) {
    size_t p = resp.find("\r\n\r\n");
    return p == std::string::npos ? "" : resp.substr(p + 4);
}

// A request as a background revalidation sees it (views into the test's strings).
struct FakeClientRequest {
    http::Request req;
    FakeClientRequest() {
        req.method_name = "GET";
        req.target = "/a";
        req.path = "/a";
        req.host = "example.test";
        req.headers.push_back({"Host", "example.test"});
        req.headers.push_back({"X-Forwarded-For", "10.9.9.9"});
    }
};

struct DoneReport {
    int calls = 0;
    bool ok = false;
    std::string why;
    loop::DeferredQueue::Done fn() {
        return [this](bool o, std::string_view w) {
            ++calls;
            ok = o;
            why = std::string(w);
        };
    }
};

} // namespace

TEST_SUITE("cache/fill") {

    TEST_CASE("a miss: one origin request, the primary streams, a waiter is answered from the "
              "buffered copy, the entry is stored once") {
        Host h;
        h.origin.handler = [](const SeenRequest&) {
            return Script{delay(100),
                          write(origin::test::ok("fresh", "Cache-Control: max-age=60\r\n"))};
        };
        int a = h.connect_and_send();
        REQUIRE(run_until(h.event_loop, [&] { return h.origin.requests.size() == 1; }));
        REQUIRE(h.slots.size() == 1);
        CHECK(h.slots.begin()->second->phase() == Fill::Phase::requesting);
        int b = h.connect_and_send();
        std::string ra = h.read_all(a), rb = h.read_all(b);
        CHECK(h.origin.requests.size() == 1);
        CHECK(ra.rfind("HTTP/1.1 200", 0) == 0);
        CHECK(body_of(ra) == "fresh");
        CHECK(header_of(ra, "X-Cache") == "MISS");
        CHECK(header_of(ra, "Cache-Status") == "edgecached; fwd=miss; fwd-status=200; stored");
        CHECK(body_of(rb) == "fresh");
        CHECK(header_of(rb, "Cache-Status") == "edgecached; fwd=miss; fwd-status=200; collapsed");
        REQUIRE(h.stored.size() == 1);
        CHECK(h.stored[0].key == kBase);
        CHECK(h.stored[0].entry->body() == "fresh");
        CHECK(h.route->stats.coalesced == 1);
        CHECK(h.slots.empty()); // settled at once: out of the slot
        CHECK(h.fills_done == 1);
        // The fill asks for the whole representation, for everyone.
        CHECK(h.origin.requests[0].header("If-None-Match").empty());
    }

    TEST_CASE("a response not shareable: waiters are handed back, the key goes hit-for-pass") {
        Host h;
        h.origin.handler = [](const SeenRequest&) {
            return Script{delay(100),
                          write(origin::test::ok("mine", "Cache-Control: private\r\n"))};
        };
        int a = h.connect_and_send();
        REQUIRE(run_until(h.event_loop, [&] { return h.origin.requests.size() == 1; }));
        int b = h.connect_and_send();
        std::string ra = h.read_all(a), rb = h.read_all(b);
        CHECK(body_of(ra) == "mine");
        CHECK(header_of(rb, "X-Handed-Back") == "1");
        CHECK(h.handed_back == 1);
        CHECK(h.stored.empty());
        REQUIRE(h.hit_for_pass.size() == 1);
        CHECK(h.hit_for_pass[0] == kBase);
    }

    TEST_CASE("a client arriving while the entry settles is answered from it") {
        Host h;
        h.settle_at_once = false;
        h.origin.handler = [](const SeenRequest&) {
            return Script{write(origin::test::ok("kept", "Cache-Control: max-age=60\r\n"))};
        };
        std::string ra = h.read_all(h.connect_and_send());
        CHECK(body_of(ra) == "kept");
        REQUIRE(h.slots.size() == 1);
        std::shared_ptr<Fill> f = h.slots.begin()->second;
        CHECK(f->phase() == Fill::Phase::settling);
        std::string rc = h.read_all(h.connect_and_send());
        CHECK(body_of(rc) == "kept");
        CHECK(header_of(rc, "Cache-Status") == "edgecached; fwd=miss; fwd-status=200; collapsed");
        CHECK(h.origin.requests.size() == 1);
        REQUIRE(h.unsettled.size() == 1);
        h.unsettled[0]();
        CHECK(f->phase() == Fill::Phase::done);
        CHECK(h.slots.empty());
    }

    TEST_CASE("an origin failure without a stale entry answers everyone with a gateway error") {
        Host h;
        h.origin.handler = [](const SeenRequest&) { return Script{delay(100), close_conn()}; };
        int a = h.connect_and_send();
        REQUIRE(run_until(h.event_loop, [&] { return h.origin.requests.size() == 1; }));
        int b = h.connect_and_send();
        std::string ra = h.read_all(a), rb = h.read_all(b);
        CHECK(ra.rfind("HTTP/1.1 502", 0) == 0);
        CHECK(rb.rfind("HTTP/1.1 502", 0) == 0);
        CHECK(h.route->stats.origin_errors == 1);
        CHECK(h.slots.empty());
    }

    TEST_CASE("background revalidation: a 304 refreshes the stale entry at the clock's time") {
        Host h;
        h.event_loop.clock().advance_for_test(3600 * 1000); // the test clock, an hour on
        int64_t t0 = h.event_loop.clock().now_s();
        h.stale = h.stale_entry(5, 60, 0);
        h.origin.handler = [](const SeenRequest&) {
            return Script{write("HTTP/1.1 304 Not Modified\r\nCache-Control: max-age=100\r\n"
                                "ETag: \"v1\"\r\n\r\n")};
        };
        FakeClientRequest client;
        std::shared_ptr<Fill> f = h.make(Fill::Kind::background, client.req);
        CHECK(f->phase() == Fill::Phase::queued);
        DoneReport done;
        f->run_background(done.fn());
        REQUIRE(run_until(h.event_loop, [&] { return done.calls > 0; }));
        CHECK(done.ok);
        REQUIRE(h.origin.requests.size() == 1);
        CHECK(h.origin.requests[0].header("If-None-Match") == "\"v1\"");
        // The daemon's own request: the client's forwarding claims are not passed on.
        CHECK(h.origin.requests[0].header("X-Forwarded-For").empty());
        REQUIRE(h.stored.size() == 1);
        const Entry& e = *h.stored[0].entry;
        CHECK(e.body() == "old body");
        CHECK(e.freshness().lifetime == 100);
        CHECK(e.freshness().response_time >= t0); // the test clock's time, not the system's
        CHECK(e.freshness().response_time <= t0 + 5);
        CHECK(h.route->stats.background_revalidations == 1);
        CHECK(h.route->stats.revalidated == 1);
        CHECK(f->phase() == Fill::Phase::done);
    }

    TEST_CASE("background revalidation failing inside stale-if-error: a failure, nothing stored") {
        Host h;
        h.stale = h.stale_entry(5, 60, 600);
        h.origin.handler = [](const SeenRequest&) {
            return Script{write("HTTP/1.1 503 Busy\r\nContent-Length: 4\r\n\r\nbusy")};
        };
        FakeClientRequest client;
        std::shared_ptr<Fill> f = h.make(Fill::Kind::background, client.req);
        DoneReport done;
        f->run_background(done.fn());
        REQUIRE(run_until(h.event_loop, [&] { return done.calls > 0; }));
        CHECK_FALSE(done.ok);
        CHECK(done.why == "origin answered 5xx");
        CHECK(h.stored.empty());
        CHECK(h.route->stats.background_failures == 1);
        CHECK(h.slots.empty());
    }

    TEST_CASE("background revalidation with no origin configured reports no_server") {
        Host h;
        h.no_pool = true;
        h.stale = h.stale_entry(5, 60, 0);
        FakeClientRequest client;
        std::shared_ptr<Fill> f = h.make(Fill::Kind::background, client.req);
        DoneReport done;
        f->run_background(done.fn());
        CHECK(done.calls == 1);
        CHECK_FALSE(done.ok);
        CHECK(done.why == "no_server");
        CHECK(f->phase() == Fill::Phase::done);
    }

    TEST_CASE("a client joining a queued revalidation starts it at once and waits for it") {
        Host h;
        h.stale = h.stale_entry(100, 10, 0); // past stale-while-revalidate: must be validated
        h.origin.handler = [](const SeenRequest&) {
            return Script{write("HTTP/1.1 304 Not Modified\r\nCache-Control: max-age=100\r\n\r\n")};
        };
        FakeClientRequest client;
        std::shared_ptr<Fill> f = h.make(Fill::Kind::background, client.req);
        std::string r = h.read_all(h.connect_and_send());
        CHECK(body_of(r) == "old body");
        CHECK(header_of(r, "X-Cache") == "REVALIDATED");
        CHECK(h.origin.requests.size() == 1);
        CHECK(h.route->stats.misses == 1);
        // Its deferred task comes later and finds nothing left to do.
        DoneReport done;
        f->run_background(done.fn());
        CHECK(done.calls == 1);
        CHECK(done.ok);
        CHECK(h.origin.requests.size() == 1);
        CHECK(h.route->stats.background_revalidations == 0);
    }

    TEST_CASE("interim responses go to the client whose request went upstream, not to waiters") {
        Host h;
        h.stale = h.stale_entry(100, 10, 0); // past stale-while-revalidate: must be validated
        h.origin.handler = [](const SeenRequest&) {
            return Script{write("HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n"), delay(100),
                          write("HTTP/1.1 304 Not Modified\r\nCache-Control: max-age=100\r\n\r\n")};
        };
        // The revalidation waits in the queue; the first client needs it now and starts it: its
        // request is the one that goes upstream. The second joins it while it runs.
        FakeClientRequest client;
        std::shared_ptr<Fill> f = h.make(Fill::Kind::background, client.req);
        int a = h.connect_and_send();
        REQUIRE(run_until(h.event_loop, [&] { return h.origin.requests.size() == 1; }));
        int b = h.connect_and_send();
        REQUIRE(run_until(h.event_loop, [&] { return h.route->stats.coalesced == 1; }));
        std::string ra = h.read_all(a), rb = h.read_all(b);
        CHECK(ra.rfind("HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 200 OK\r\n",
                       0) == 0);
        std::string final_a = ra.substr(ra.find("HTTP/1.1 200"));
        CHECK(body_of(final_a) == "old body");
        CHECK(header_of(final_a, "X-Cache") == "REVALIDATED");
        CHECK(rb.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
        CHECK(header_of(rb, "Link").empty());
        CHECK(header_of(final_a, "Link").empty());
        CHECK(h.route->stats.interim_relayed == 1);
        CHECK(h.origin.requests.size() == 1);
        DoneReport done;
        f->run_background(done.fn());
        CHECK(done.ok);
    }

    TEST_CASE("a background revalidation nobody waits for relays its interim responses nowhere") {
        Host h;
        h.stale = h.stale_entry(5, 60, 0);
        h.origin.handler = [](const SeenRequest&) {
            return Script{write("HTTP/1.1 102 Processing\r\n\r\n"),
                          write("HTTP/1.1 304 Not Modified\r\nCache-Control: max-age=100\r\n\r\n")};
        };
        FakeClientRequest client;
        std::shared_ptr<Fill> f = h.make(Fill::Kind::background, client.req);
        DoneReport done;
        f->run_background(done.fn());
        REQUIRE(run_until(h.event_loop, [&] { return done.calls == 1; }));
        CHECK(done.ok);
        CHECK(h.route->stats.interim_relayed == 0);
        CHECK(h.stored.size() == 1);
    }

    TEST_CASE("a queued revalidation whose entry was purged meanwhile never runs") {
        Host h;
        h.stale = h.stale_entry(5, 60, 0);
        FakeClientRequest client;
        std::shared_ptr<Fill> f = h.make(Fill::Kind::background, client.req);
        h.gens.bump_target(kBase); // an invalidation of the URL
        // A client does not join it (it would be served the purged entry, revalidated)...
        h.stale = nullptr;
        h.origin.handler = [](const SeenRequest&) {
            return Script{write(origin::test::ok("new", "Cache-Control: max-age=60\r\n"))};
        };
        std::string r = h.read_all(h.connect_and_send());
        CHECK(body_of(r) == "new");
        CHECK(f->phase() == Fill::Phase::done);
        // ...and the task, when it runs, sends nothing.
        DoneReport done;
        f->run_background(done.fn());
        CHECK(done.calls == 1);
        CHECK(done.ok);
        CHECK(h.origin.requests.size() == 1);
        REQUIRE(h.origin.requests[0].header("If-None-Match").empty());
    }

    TEST_CASE("a queued revalidation whose entry was purged is not sent when its task runs") {
        Host h;
        h.stale = h.stale_entry(5, 60, 0);
        h.origin.handler = [](const SeenRequest&) {
            return Script{write("HTTP/1.1 304 Not Modified\r\nCache-Control: max-age=100\r\n\r\n")};
        };
        FakeClientRequest client;
        std::shared_ptr<Fill> f = h.make(Fill::Kind::background, client.req);
        h.gens.bump_all(); // a purge of everything while it waited
        DoneReport done;
        f->run_background(done.fn());
        CHECK(done.calls == 1);
        CHECK(done.ok);
        CHECK(f->phase() == Fill::Phase::done);
        CHECK(h.slots.empty());
        spin(h.event_loop, 20);
        CHECK(h.origin.requests.empty()); // a 304 would have brought the purged entry back
        CHECK(h.stored.empty());
    }

    TEST_CASE("shutdown answers waiting clients with 503 and reports the background fill") {
        Host h;
        h.stale = h.stale_entry(100, 10, 0);
        h.origin.handler = [](const SeenRequest&) { return Script{hold()}; };
        FakeClientRequest client;
        std::shared_ptr<Fill> f = h.make(Fill::Kind::background, client.req);
        DoneReport done;
        f->run_background(done.fn());
        REQUIRE(run_until(h.event_loop, [&] { return h.origin.requests.size() == 1; }));
        int a = h.connect_and_send();
        REQUIRE(run_until(h.event_loop, [&] { return h.route->stats.coalesced == 1; }));
        f->abort();
        std::string ra = h.read_all(a);
        CHECK(ra.rfind("HTTP/1.1 503", 0) == 0);
        CHECK(done.calls == 1);
        CHECK_FALSE(done.ok);
        CHECK(done.why == "shutdown");
        CHECK(f->phase() == Fill::Phase::done);
    }
}

} // namespace ec::cache::fill_test
