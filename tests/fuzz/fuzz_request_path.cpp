// Fuzz driver: client bytes → a real http::Server connection (socketpair) → responses checked.
//
// Input: one mode byte, then what the client sends. The mode byte chooses how the bytes are
// split into writes (fuzz_util.hpp: bit 7 = one write, 0 = byte by byte); the loop runs
// between writes, so requests arrive split at those points and pipelined behind each other.
// The server end of a socketpair(AF_UNIX) is adopted by the server
// (Server::adopt_connection_for_test) with small limits: a 1 KiB header section, 1 KiB bodies
// on the test routes, 4 requests per read round, a 16 KiB write high-water mark and an 8 KiB
// socket send buffer, so the 431/413, fairness and backpressure paths are reachable.
//
// The handler (one Server, loop and Store for the whole run) serves, by path:
//   /kv/...            the real native KV API over a Store in a temp dir (durability batch)
//   /defer             answered on a later loop iteration
//   /defer-stream      a deferred chunked stream, 8 KiB per iteration, waiting on on_drain
//   /stream            a chunked stream written at once; /len-stream the same with a length
//   /short-stream      a length promised and not delivered (the exchange aborts it)
//   /abort             a chunked stream cut off with stream_abort()
//   /big               a 64 KiB body (referenced, not copied)
//   /close             close_after(); /head-only send_head_only() to HEAD, else a normal answer
//   /status/NNN        that status (200-599) with a body (dropped for 204 and 304)
//   /none              no response at all (the connection answers 500 itself)
//   anything else      an echo of method, target and body length
// Test routes carry "X-Seq: <n>" (the exchange's sequence number on the connection).
//
// After the input: the loop runs until quiet, the client half-closes, the loop runs until the
// server closes, the client closes, and the server must be left with no connection. Then the
// client's bytes are parsed as HTTP/1.1 responses (llhttp) and checked:
//   - every response head is HTTP/1.1 with a status 100-599;
//   - final responses answer the handled requests in order (X-Seq), at most one more follows
//     (the connection's own error response), and every handled request got one;
//   - "Connection: close" only on the last response, and the server then closes on its own;
//     the server closes before the client's half-close only after such a response or an
//     aborted stream — otherwise the connection stays usable;
//   - each request the handler saw has its whole body, followed by 64 readable bytes.
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

#include <fcntl.h>
#include <llhttp.h>

#include "fuzz_util.hpp"
#include "http/exchange.hpp"
#include "http/handler.hpp"
#include "http/json_reply.hpp"
#include "http/route_table.hpp"
#include "http/server.hpp"
#include "kv/native_api.hpp"
#include "kv/ns_stats.hpp"
#include "loop/loop.hpp"
#include "store/store.hpp"
#include "util/log.hpp"
#include "util/strings.hpp"

using namespace ec;

namespace {

constexpr uint64_t kTestBodyLimit = 1024;
constexpr std::string_view kKvPrefix = "/kv/";

struct Handled {
    uint64_t seq = 0;
    bool head = false;
    bool test_route = false; // carries X-Seq
    bool aborted = false;    // the response is cut off on purpose
};

struct World;
World& world();

class FuzzHandler : public http::Handler {
public:
    explicit FuzzHandler(World& w) : w_(w) {}
    http::BodyLimit body_limit(http::Request& head) override;
    void handle(http::Exchange& ex) override;

private:
    void respond(http::Exchange& ex, size_t idx);
    void defer_stream_step(http::ExchangeRef ref, int left);
    World& w_;
};

struct World {
    loop::Loop loop;
    std::unique_ptr<http::Server> server;
    http::Listener listener;
    std::unique_ptr<FuzzHandler> handler;
    std::string data_dir;
    std::unique_ptr<store::Store> store;
    kv::NamespaceStats ns_stats;
    std::unique_ptr<kv::Ops> kv_ops;
    std::unique_ptr<kv::NativeApi> kv;
    http::RouteTable<kv::ApiRoute> kv_routes; // the native routes' table, as the daemon mounts it

    // Per input.
    std::vector<Handled> handled;
    uint64_t done = 0;
    int outstanding = 0; // posted callbacks of the test routes not yet run

    World() {
        log::set_level(log::Level::error);
        http::Limits lim;
        lim.max_header_size = 1024;
        lim.max_requests_per_round = 4;
        lim.write_high_water = 16 * 1024;
        lim.write_low_water = 4 * 1024;
        server = std::make_unique<http::Server>(loop, lim);
        server->on_exchange_done = [this](http::Exchange&) { ++done; };
        handler = std::make_unique<FuzzHandler>(*this);
        listener.server = server.get();
        listener.handler = handler.get();
        listener.name = "fuzz";
        listener.address = listener.bound = "socketpair";
        listener.is_unix = true;

        char tmpl[] = "/tmp/ec-fuzz-XXXXXX";
        if (!mkdtemp(tmpl)) std::abort();
        data_dir = tmpl;
        store::Options so;
        so.data_dir = data_dir;
        so.map_size = 64ULL << 20;
        so.durability = store::Durability::batch;
        so.sweep_interval_ms = 0;
        store = store::Store::open(loop, so);
        kv_ops = std::make_unique<kv::Ops>(*store, loop.clock(), ns_stats);
        kv = std::make_unique<kv::NativeApi>(*kv_ops);
        kv::Rules rules;
        rules.max_value_size = 4096;
        kv_ops->set_rules(rules);
        kv_routes = http::RouteTable<kv::ApiRoute>(kv->routes());
        std::atexit([] {
            std::error_code ec;
            std::filesystem::remove_all(world().data_dir, ec);
        });
    }

    void post(std::function<void()> fn) {
        ++outstanding;
        loop.post([this, fn = std::move(fn)] {
            --outstanding;
            fn();
        });
    }
};

// Never destroyed: libFuzzer exits from anywhere, and the loop must not be torn down under
// live handles then. Reachable through this pointer, so LeakSanitizer stays quiet.
World* g_world = nullptr;
World& world() {
    if (!g_world) g_world = new World;
    return *g_world;
}

std::optional<uint64_t> query_u64(std::string_view path, std::string_view prefix) {
    if (!path.starts_with(prefix)) return std::nullopt;
    return parse_u64(path.substr(prefix.size()));
}

http::BodyLimit FuzzHandler::body_limit(http::Request& head) {
    if (!head.path.starts_with(kKvPrefix)) return http::BodyLimit{kTestBodyLimit};
    head.route = w_.kv_routes.resolve(head.method, head.path);
    // Every path under /kv/ matches a row: the last one takes any method.
    FUZZ_CHECK(head.route.path_row != nullptr);
    const auto* row = static_cast<const kv::ApiRoute*>(head.route.row);
    return kv::body_limit(row ? row->limit : kv::BodyLimitKind::body, w_.kv_ops->rules(),
                          64 * 1024);
}

void FuzzHandler::handle(http::Exchange& ex) {
    const http::Request& r = ex.request();
    // The request as the connection promises it.
    FUZZ_CHECK(!r.path.empty() && (r.path[0] == '/' || r.path[0] == '*'));
    FUZZ_CHECK(!r.method_name.empty());
    FUZZ_CHECK(r.version_minor <= 1);
    FUZZ_CHECK(!(r.chunked && r.content_length));
    if (r.content_length) FUZZ_CHECK(r.body.size() == *r.content_length);
    if (!r.chunked && !r.content_length) FUZZ_CHECK(r.body.empty());
    {
        // simdjson's padding: the 64 bytes after the body must be readable.
        volatile char last = r.body.data()[r.body.size() + http::kBodyPadding - 1];
        (void)last;
    }
    int hosts = 0;
    for (const auto& h : r.headers) {
        FUZZ_CHECK(is_token(h.name));
        hosts += iequals(h.name, "host");
    }
    FUZZ_CHECK(hosts <= 1);
    if (r.version_minor == 1 && !istarts_with(r.target, "http://")) FUZZ_CHECK(hosts == 1);

    Handled h;
    h.seq = ex.seq();
    h.head = r.is_head();
    if (r.path.starts_with(kKvPrefix)) {
        w_.handled.push_back(h);
        if (const auto* row = static_cast<const kv::ApiRoute*>(r.route.row))
            return row->handle(ex, r.route.args);
        return http::send_method_not_allowed(ex, http::allow_header(r.route.allowed));
    }
    h.test_route = true;
    w_.handled.push_back(h);
    respond(ex, w_.handled.size() - 1);
}

void FuzzHandler::respond(http::Exchange& ex, size_t idx) {
    const http::Request& r = ex.request();
    std::string_view path = r.path;
    std::string seq = std::to_string(ex.seq());
    std::string echo = std::string(r.method_name) + " " + std::string(r.target) + " " +
                       std::to_string(r.body.size()) + "\n";

    if (path == "/defer") {
        http::ExchangeRef ref = ex.defer();
        w_.post([ref, seq, echo] {
            if (http::Exchange* e = ref.get())
                e->status(200).header("X-Seq", seq).send(http::Body::owned(echo));
        });
        return;
    }
    if (path == "/defer-stream") {
        http::ExchangeRef ref = ex.defer();
        w_.post([this, ref, seq] {
            http::Exchange* e = ref.get();
            if (!e) return;
            e->status(200).header("X-Seq", seq).begin_stream(std::nullopt);
            defer_stream_step(ref, 8);
        });
        return;
    }
    if (path == "/stream" || path == "/len-stream" || path == "/short-stream") {
        std::optional<uint64_t> len;
        if (path == "/len-stream") len = 15;
        if (path == "/short-stream") {
            len = 100;
            w_.handled[idx].aborted = !r.is_head(); // a HEAD response has no body to fall short
        }
        ex.status(200).header("X-Seq", seq).begin_stream(len);
        if (!ex.stream_write(http::Body::copy("one,"))) return;
        if (!ex.stream_write(http::Body::static_bytes("two,"))) return;
        if (!ex.stream_write(http::Body::owned("three,0"))) return;
        ex.stream_end();
        return;
    }
    if (path == "/abort") {
        w_.handled[idx].aborted = true;
        ex.status(200).header("X-Seq", seq).begin_stream(std::nullopt);
        if (!ex.stream_write(http::Body::copy("partial"))) return;
        ex.stream_abort();
        return;
    }
    if (path == "/big") {
        ex.status(200).header("X-Seq", seq).send(http::Body::owned(std::string(64 * 1024, 'b')));
        return;
    }
    if (path == "/close") {
        ex.status(200).header("X-Seq", seq).close_after().send(http::Body::owned(echo));
        return;
    }
    if (path == "/head-only") {
        ex.status(200).header("X-Seq", seq);
        if (r.is_head())
            ex.send_head_only(12345);
        else
            ex.send(http::Body::owned(echo));
        return;
    }
    if (auto code = query_u64(path, "/status/")) {
        int status = (*code >= 200 && *code <= 599) ? static_cast<int>(*code) : 200;
        ex.status(status).header("X-Seq", seq).send(http::Body::owned(echo));
        return;
    }
    if (path == "/none") {
        w_.handled[idx].test_route = false; // the connection's 500 has no X-Seq
        return;
    }
    ex.status(200).header("X-Seq", seq).header("Content-Type", "text/plain");
    ex.send(http::Body::owned(echo));
}

void FuzzHandler::defer_stream_step(http::ExchangeRef ref, int left) {
    http::Exchange* e = ref.get();
    if (!e) return;
    if (left == 0) {
        e->stream_end();
        return;
    }
    if (e->congested()) {
        // Resumed straight from the connection's write callback: re-entrancy under test.
        e->on_drain([this, ref, left] { defer_stream_step(ref, left); });
        return;
    }
    if (!e->stream_write(http::Body::owned(std::string(8192, 's')))) return;
    w_.post([this, ref, left] { defer_stream_step(ref, left - 1); });
}

// ---------------------------------------------------------------------------------------------
// The client side.

struct ParsedResponse {
    int status = 0;
    int major = 0, minor = 0;
    bool close = false;
    std::optional<uint64_t> xseq;
    bool complete = false;
};

struct ResponseChecker {
    const std::vector<Handled>* handled = nullptr;
    std::vector<ParsedResponse> final_responses;
    ParsedResponse cur;
    std::string field, value;
    bool in_value = false;
    size_t interim = 0;

    void header_done() {
        if (iequals(field, "connection") && iequals(trim_ows(value), "close")) cur.close = true;
        if (iequals(field, "x-seq")) cur.xseq = parse_u64(value);
        field.clear();
        value.clear();
        in_value = false;
    }
};

ResponseChecker* checker(llhttp_t* p) {
    return static_cast<ResponseChecker*>(p->data);
}

const llhttp_settings_t& checker_settings() {
    static const llhttp_settings_t s = [] {
        llhttp_settings_t st;
        llhttp_settings_init(&st);
        st.on_message_begin = [](llhttp_t* p) noexcept {
            checker(p)->cur = ParsedResponse{};
            return 0;
        };
        st.on_header_field = [](llhttp_t* p, const char* at, size_t n) noexcept {
            ResponseChecker* c = checker(p);
            if (c->in_value) c->header_done();
            c->field.append(at, n);
            return 0;
        };
        st.on_header_value = [](llhttp_t* p, const char* at, size_t n) noexcept {
            ResponseChecker* c = checker(p);
            c->in_value = true;
            c->value.append(at, n);
            return 0;
        };
        st.on_headers_complete = [](llhttp_t* p) noexcept {
            ResponseChecker* c = checker(p);
            if (c->in_value || !c->field.empty()) c->header_done();
            c->cur.status = llhttp_get_status_code(p);
            c->cur.major = llhttp_get_http_major(p);
            c->cur.minor = llhttp_get_http_minor(p);
            FUZZ_CHECK(c->cur.major == 1 && c->cur.minor == 1);
            FUZZ_CHECK(c->cur.status >= 100 && c->cur.status <= 599);
            if (c->cur.status < 200) return 0;
            size_t idx = c->final_responses.size();
            bool head = idx < c->handled->size() && (*c->handled)[idx].head;
            return head ? 1 : 0; // a response to HEAD has no body, whatever its headers say
        };
        st.on_message_complete = [](llhttp_t* p) noexcept {
            ResponseChecker* c = checker(p);
            if (c->cur.status < 200) {
                ++c->interim;
                return 0;
            }
            c->cur.complete = true;
            c->final_responses.push_back(c->cur);
            c->cur = ParsedResponse{};
            return 0;
        };
        return st;
    }();
    return s;
}

struct Client {
    int fd = -1;
    std::string got;
    bool eof = false;

    // Reads what is available; returns true if anything (bytes or EOF) arrived.
    bool read_some() {
        bool progress = false;
        char buf[65536];
        while (!eof) {
            ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n > 0) {
                got.append(buf, static_cast<size_t>(n));
                progress = true;
            } else if (n == 0) {
                eof = true;
                progress = true;
            } else if (errno == EINTR) {
                continue;
            } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
                break;
            } else {
                eof = true; // reset: counts as closed
                progress = true;
            }
        }
        return progress;
    }
};

// Runs the loop, reading as the client, until nothing happens for a few iterations (or `until`
// holds). Returns false if it never settles: the connection or the handler stalled.
template <class Pred> bool pump(World& w, Client& c, Pred until) {
    int quiet = 0;
    for (int i = 0; i < 20000; ++i) {
        uv_run(w.loop.uv(), UV_RUN_NOWAIT);
        bool progress = c.read_some();
        if (until()) return true;
        // A request taken but not answered may be waiting on the store's writer thread: not
        // quiet yet, and give the writer a moment rather than spinning.
        bool waiting = w.done < w.handled.size();
        if (waiting) ::usleep(100);
        if (progress || w.outstanding > 0 || waiting)
            quiet = 0;
        else if (++quiet >= 4)
            return true;
    }
    return false;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    World& w = world();
    uint8_t mode = data[0];
    data += 1;
    size -= 1;
    w.handled.clear();
    w.done = 0;

    int sv[2];
    FUZZ_CHECK(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    int sndbuf = 8192;
    ::setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    ::fcntl(sv[1], F_SETFL, O_NONBLOCK);
    FUZZ_CHECK(w.server->adopt_connection_for_test(sv[0], w.listener));
    FUZZ_CHECK(w.server->connection_count() == 1);
    Client c;
    c.fd = sv[1];

    // Send the input in pieces, letting the server run between them.
    ec::fuzz::Splitter split(mode, size);
    size_t off = 0;
    bool send_failed = false;
    while (off < size && !send_failed) {
        size_t n = split.next(size - off);
        size_t sent = 0;
        while (sent < n) {
            ssize_t k = ::send(c.fd, data + off + sent, n - sent, MSG_NOSIGNAL);
            if (k > 0) {
                sent += static_cast<size_t>(k);
            } else if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                uv_run(w.loop.uv(), UV_RUN_NOWAIT);
                c.read_some();
            } else if (k < 0 && errno == EINTR) {
                continue;
            } else {
                send_failed = true; // the server closed: the rest goes nowhere
                break;
            }
        }
        off += n;
        FUZZ_CHECK(pump(w, c, [&] { return c.eof; }));
    }
    FUZZ_CHECK(pump(w, c, [&] { return c.eof; }));
    const bool closed_by_server = c.eof;
    if (!closed_by_server) {
        // Nothing is left hanging on an open connection: every request taken was answered.
        FUZZ_CHECK(w.done == w.handled.size());
        ::shutdown(c.fd, SHUT_WR);
        FUZZ_CHECK(pump(w, c, [&] { return c.eof; }));
        FUZZ_CHECK(c.eof); // a half-closed client is answered and then closed
    }
    ::close(c.fd);
    FUZZ_CHECK(pump(w, c, [&] { return w.server->connection_count() == 0; }));
    FUZZ_CHECK(w.server->connection_count() == 0);
    // Let close callbacks and any leftover posted work finish before the next input.
    for (int i = 0; i < 4 || w.outstanding > 0; ++i)
        uv_run(w.loop.uv(), UV_RUN_NOWAIT);

    // Check what the client received.
    ResponseChecker rc;
    rc.handled = &w.handled;
    llhttp_t parser;
    llhttp_init(&parser, HTTP_RESPONSE, &checker_settings());
    parser.data = &rc;
    llhttp_errno_t err = llhttp_execute(&parser, c.got.data(), c.got.size());
    if (err == HPE_OK) err = llhttp_finish(&parser);
    bool truncated = err != HPE_OK;
    if (truncated) {
        // Only an aborted stream may end a response early, and only the last one.
        size_t idx = rc.final_responses.size();
        if (!(idx < w.handled.size() && w.handled[idx].aborted)) {
            std::fprintf(stderr, "responses do not parse (%s at byte %zu of %zu): %s\n",
                         llhttp_errno_name(err),
                         static_cast<size_t>(llhttp_get_error_pos(&parser)
                                                 ? llhttp_get_error_pos(&parser) - c.got.data()
                                                 : 0),
                         c.got.size(), llhttp_get_error_reason(&parser));
            FUZZ_CHECK(!"responses parse");
        }
    }
    const auto& rs = rc.final_responses;
    size_t total = rs.size() + (truncated ? 1 : 0);
    FUZZ_CHECK(total >= w.handled.size());     // every handled request was answered
    FUZZ_CHECK(total <= w.handled.size() + 1); // plus at most the connection's own error
    for (size_t i = 0; i < rs.size(); ++i) {
        const ParsedResponse& r = rs[i];
        if (i < w.handled.size()) {
            if (w.handled[i].test_route) {
                FUZZ_CHECK(r.xseq && *r.xseq == w.handled[i].seq); // in request order
            }
        } else {
            // The connection's own answer to a request it refused: an error, then close.
            FUZZ_CHECK(r.status >= 400 && r.close && !r.xseq);
        }
        if (r.close) FUZZ_CHECK(i + 1 == rs.size() && !truncated); // nothing after it
    }
    bool last_closes = truncated || (!rs.empty() && rs.back().close);
    FUZZ_CHECK(closed_by_server == last_closes);
    return 0;
}
