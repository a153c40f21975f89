// Fuzz driver: the TLS record path of a listener — bytes from a client into a server Engine.
//
// Input: a mode byte (it seeds the split schedule, fuzz_util.hpp), a kind byte, then the rest.
// Kind bit 0 clear, "raw": the rest is what a hostile client sends a TLS port (ClientHellos,
// records, garbage, plaintext HTTP), fed to a server Engine on the listener's real contexts
// (two certificates, SNI, ALPN, OCSP stapling, ticket keys) in pieces as they arrive from the
// socket, each from its own heap copy freed right after, advancing the handshake after every
// piece as TlsStream does; then the peer closes. Kind bit 0 set, "session": a real client
// Engine (SNI name picked by kind bits 1-3) completes a handshake with the server Engine, then
// the rest is application data the client writes in pieces; the ciphertext reaches the server
// in other pieces, which reads it into a buffer of 1 + (kind >> 4) * 257 bytes and echoes it;
// then the client sends close_notify.
//
// Invariants: nothing crashes or leaks; a failed handshake carries a reason and stays failed;
// pending_output() is what take_output() returns; a session delivers exactly the bytes written,
// in order, both ways, and reports closed after close_notify; a read never overruns its buffer.
#include <cstring>
#include <memory>
#include <string>

#include "config/options.hpp"
#include "fuzz_util.hpp"
#include "tests/unit/tls/test_pki.hpp"
#include "tls/client_tls.hpp"
#include "tls/server_tls.hpp"

using ec::tls::Engine;
using namespace ec::tls::testing;

namespace {

// The listener and client contexts, built once: a CA, a default certificate, one for b.test
// and a wildcard, the first with a stapled OCSP response.
struct Contexts {
    TempDir dir;
    std::shared_ptr<const ec::tls::ServerTls> server;
    std::shared_ptr<const ec::tls::ClientTls> client;

    Contexts() {
        Issued ca = issue("fuzz CA", {}, nullptr, true);
        Issued def = issue("default.test", {"default.test"}, &ca);
        Issued other = issue("b.test", {"b.test", "*.w.test"}, &ca);
        auto [def_cert, def_key] = write_pair(dir, "default", def, {&ca});
        auto [b_cert, b_key] = write_pair(dir, "b", other);
        write_file(dir.file("default.ocsp"), std::string("\x30\x03\x0a\x01\x00", 5));
        ec::config::ListenTls spec = ec::config::listen_tls_defaults();
        spec.certificates = {{def_cert, def_key, dir.file("default.ocsp")}, {b_cert, b_key, {}}};
        auto s = ec::tls::ServerTls::build(spec);
        FUZZ_CHECK(s.is_ok());
        server = s.value();
        ec::config::OriginTls client_spec = ec::config::origin_tls_defaults();
        client_spec.enabled = true;
        client_spec.verify = false;
        auto c = ec::tls::ClientTls::build(client_spec);
        FUZZ_CHECK(c.is_ok());
        client = c.value();
    }
};

Contexts& contexts() {
    static Contexts c;
    return c;
}

std::string take(Engine& e) {
    size_t pending = e.pending_output();
    std::string out = e.take_output();
    FUZZ_CHECK(out.size() == pending);
    FUZZ_CHECK(e.pending_output() == 0);
    return out;
}

// Feeds `wire` to `e` in pieces (each its own heap copy) and reads after each piece into a
// buffer of `cap` bytes with a guard byte behind it; appends what was decrypted to `got`.
// False when the engine failed.
bool deliver(Engine& e, const std::string& wire, ec::fuzz::Splitter& split, size_t cap,
             std::string& got) {
    auto buf = std::make_unique<char[]>(cap + 1);
    size_t off = 0;
    while (off < wire.size()) {
        size_t n = split.next(wire.size() - off);
        auto piece = std::make_unique<char[]>(n);
        std::memcpy(piece.get(), wire.data() + off, n);
        e.feed(piece.get(), n);
        piece.reset();
        off += n;
        for (;;) {
            buf[cap] = '\x5a';
            Engine::Read r = e.read(buf.get(), cap);
            FUZZ_CHECK(buf[cap] == '\x5a');
            if (r.io == Engine::Io::failed) return false;
            if (r.io != Engine::Io::ok) break;
            FUZZ_CHECK(r.n > 0 && r.n <= cap);
            got.append(buf.get(), r.n);
        }
    }
    return true;
}

void raw(const uint8_t* data, size_t size, uint8_t mode) {
    auto& ctx = contexts();
    Engine server(ctx.server->new_session(), ctx.server);
    ec::fuzz::Splitter split(mode, size);
    size_t off = 0;
    while (off < size) {
        size_t n = split.next(size - off);
        auto piece = std::make_unique<char[]>(n);
        std::memcpy(piece.get(), data + off, n);
        server.feed(piece.get(), n);
        piece.reset();
        off += n;
        Engine::Io io = server.handshake();
        take(server); // alerts and server flights go back to the client
        if (io == Engine::Io::failed) {
            FUZZ_CHECK(!server.failure().empty());
            FUZZ_CHECK(server.handshake() == Engine::Io::failed);
            FUZZ_CHECK(!server.write("x", 1));
            return;
        }
        // Without the server's key share no client can finish a handshake blind.
        FUZZ_CHECK(io != Engine::Io::ok);
    }
    server.feed_eof();
    Engine::Io io = server.handshake();
    take(server);
    FUZZ_CHECK(io == Engine::Io::failed || io == Engine::Io::closed);
    if (io == Engine::Io::failed) FUZZ_CHECK(!server.failure().empty());
}

void session(const uint8_t* data, size_t size, uint8_t mode, uint8_t kind) {
    static const char* const names[] = {"default.test", "b.test",     "x.w.test",  "W.TEST.",
                                        "unknown.test", "y.x.w.test", "127.0.0.1", "b.test."};
    auto& ctx = contexts();
    Engine client(ctx.client->new_session(names[(kind >> 1) & 7]), ctx.client);
    Engine server(ctx.server->new_session(), ctx.server);
    pump(client, server);
    FUZZ_CHECK(client.handshake_done() && server.handshake_done());
    FUZZ_CHECK(client.alpn() == "http/1.1" && server.alpn() == "http/1.1");

    const size_t cap = 1 + static_cast<size_t>(kind >> 4) * 257;
    ec::fuzz::Splitter writes(mode, size), reads(static_cast<uint8_t>(mode ^ 0x5a), size);
    std::string sent(reinterpret_cast<const char*>(data), size), got, echoed;
    size_t off = 0;
    while (off < size) {
        size_t n = writes.next(size - off);
        FUZZ_CHECK(client.write(sent.data() + off, n));
        off += n;
        size_t before = got.size();
        FUZZ_CHECK(deliver(server, take(client), reads, cap, got));
        // The server echoes what it decrypted; the client reads it (and the session tickets).
        if (got.size() > before) FUZZ_CHECK(server.write(got.data() + before, got.size() - before));
        FUZZ_CHECK(deliver(client, take(server), reads, cap, echoed));
        FUZZ_CHECK(sent.compare(0, got.size(), got) == 0);
    }
    FUZZ_CHECK(got == sent && echoed == sent);

    client.shutdown();
    std::string goodbye = take(client);
    FUZZ_CHECK(!goodbye.empty());
    server.feed(goodbye.data(), goodbye.size());
    char one;
    FUZZ_CHECK(server.read(&one, 1).io == Engine::Io::closed);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2) return 0;
    uint8_t mode = data[0], kind = data[1];
    if (kind & 1)
        session(data + 2, size - 2, mode, kind);
    else
        raw(data + 2, size - 2, mode);
    return 0;
}
