// Engine: one TLS session driven through memory BIOs. Ciphertext goes in with feed() and comes
// out with take_output(); plaintext goes through read()/write(). No sockets, no loop: the
// stream that owns it moves the bytes, so handshakes never block and tests run in-process.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "tls/openssl.hpp"

namespace ec::tls {

class Engine {
public:
    enum class Io {
        ok,        // done (handshake complete / bytes produced)
        want_read, // needs more ciphertext: send take_output() first, then feed() what arrives
        closed,    // the peer sent close_notify
        failed,    // fatal: failure() says why; send take_output() (it may hold an alert), close
    };
    struct Read {
        Io io;
        size_t n = 0; // plaintext bytes stored when io == ok
    };

    // Takes the session (from ServerTls/ClientTls::new_session). `owner` keeps the context
    // objects whose callbacks the session uses alive as long as the engine.
    Engine(SslPtr ssl, std::shared_ptr<const void> owner);
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    // Ciphertext from the network (copied into the input BIO). feed_eof(): the peer closed its
    // side; a later read()/handshake() then reports closed (after close_notify) or failed
    // ("unexpected eof while reading").
    void feed(const char* data, size_t n);
    void feed_eof();

    // Advances the handshake. ok once it is complete (also on every later call).
    Io handshake();
    bool handshake_done() const;

    // Decrypts into out[0, cap). ok with n > 0, want_read when the buffered records hold no
    // complete application data, closed after close_notify, failed on anything else. Always
    // send take_output() afterwards: reading can produce records (a TLS 1.3 key update).
    Read read(char* out, size_t cap);

    // Encrypts all of data[0, n) into the output BIO (memory BIOs never push back, so the caller's
    // output budget bounds how much accumulates). False when the session failed.
    bool write(const char* data, size_t n);

    // Queues close_notify (once). The caller sends take_output() and then closes.
    void shutdown();

    // Ciphertext waiting to be sent; take_output() moves all of it out.
    size_t pending_output() const;
    std::string take_output();

    // Why the session failed, for the log and error pages: the certificate verification result
    // ("certificate has expired", "hostname mismatch", "unable to get local issuer certificate")
    // or the library/alert reason ("tlsv1 alert protocol version", "wrong version number").
    const std::string& failure() const { return failure_; }

    std::string_view alpn() const;
    bool resumed() const;
    const char* version() const;
    SSL* ssl() const { return ssl_.get(); }

private:
    Io fail(int ret);

    std::shared_ptr<const void> owner_;
    SslPtr ssl_;
    BIO* in_ = nullptr;  // owned by ssl_
    BIO* out_ = nullptr; // owned by ssl_
    std::string failure_;
    bool shutdown_sent_ = false;
};

} // namespace ec::tls
