// The memory-BIO TLS engine: handshake, read, write, shutdown, and the reason a session failed.
#include "tls/engine.hpp"

#include <openssl/err.h>

namespace ec::tls {

Engine::Engine(SslPtr ssl, std::shared_ptr<const void> owner)
    : owner_(std::move(owner)), ssl_(std::move(ssl)) {
    in_ = BIO_new(BIO_s_mem());
    out_ = BIO_new(BIO_s_mem());
    // An empty input BIO means "retry later", not end of stream, until feed_eof().
    BIO_set_mem_eof_return(in_, -1);
    SSL_set_bio(ssl_.get(), in_, out_);
}

void Engine::feed(const char* data, size_t n) {
    if (n) BIO_write(in_, data, static_cast<int>(n));
}

void Engine::feed_eof() {
    BIO_set_mem_eof_return(in_, 0);
}

Engine::Io Engine::fail(int ret) {
    int err = SSL_get_error(ssl_.get(), ret);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return Io::want_read;
    if (err == SSL_ERROR_ZERO_RETURN) return Io::closed;
    if (failure_.empty()) {
        long verify = SSL_get_verify_result(ssl_.get());
        if (!SSL_is_server(ssl_.get()) && verify != X509_V_OK)
            failure_ =
                std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify);
        else if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
            failure_ = "connection closed during the TLS exchange";
        else
            failure_ = take_errors();
    }
    ERR_clear_error();
    return Io::failed;
}

Engine::Io Engine::handshake() {
    if (SSL_is_init_finished(ssl_.get())) return Io::ok;
    if (!failure_.empty()) return Io::failed;
    int r = SSL_do_handshake(ssl_.get());
    return r == 1 ? Io::ok : fail(r);
}

bool Engine::handshake_done() const {
    return SSL_is_init_finished(ssl_.get());
}

Engine::Read Engine::read(char* out, size_t cap) {
    if (!failure_.empty()) return {Io::failed};
    size_t n = 0;
    int r = SSL_read_ex(ssl_.get(), out, cap, &n);
    if (r == 1) return {Io::ok, n};
    return {fail(r)};
}

bool Engine::write(const char* data, size_t n) {
    if (!failure_.empty()) return false;
    while (n > 0) {
        size_t done = 0;
        int r = SSL_write_ex(ssl_.get(), data, n, &done);
        if (r != 1) {
            fail(r);
            if (failure_.empty()) failure_ = "TLS write refused";
            return false;
        }
        data += done;
        n -= done;
    }
    return true;
}

void Engine::shutdown() {
    if (shutdown_sent_ || !failure_.empty() || !handshake_done()) return;
    shutdown_sent_ = true;
    SSL_shutdown(ssl_.get());
    ERR_clear_error();
}

size_t Engine::pending_output() const {
    return BIO_ctrl_pending(out_);
}

std::string Engine::take_output() {
    std::string s(BIO_ctrl_pending(out_), '\0');
    if (!s.empty()) {
        int n = BIO_read(out_, s.data(), static_cast<int>(s.size()));
        s.resize(n > 0 ? static_cast<size_t>(n) : 0);
    }
    return s;
}

std::string_view Engine::alpn() const {
    const unsigned char* p = nullptr;
    unsigned len = 0;
    SSL_get0_alpn_selected(ssl_.get(), &p, &len);
    return p ? std::string_view(reinterpret_cast<const char*>(p), len) : std::string_view();
}

bool Engine::resumed() const {
    return SSL_session_reused(ssl_.get()) == 1;
}

const char* Engine::version() const {
    return SSL_get_version(ssl_.get());
}

} // namespace ec::tls
