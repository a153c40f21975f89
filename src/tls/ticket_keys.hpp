// Session ticket keys shared by every TLS listener of the process and kept across reloads:
// rotated on a timer, the previous ones still accepted for resumption.
#pragma once

#include <array>
#include <cstdint>
#include <deque>

#include <openssl/ssl.h>

#include "loop/handle.hpp"

namespace ec::tls {

// The process's ticket keys (loop thread only). keys.front() encrypts new tickets; the older
// ones still decrypt, and a ticket under an older key is renewed. rotate() adds a fresh key and
// drops the oldest beyond `kept`. Because the ring belongs to the process, not to a listener's
// SSL_CTX, a reload that rebuilds every context keeps resumption working.
class TicketKeys {
public:
    static constexpr uint64_t rotation_interval_ms = 3600 * 1000;
    static constexpr size_t kept = 3; // tickets live up to ~3 rotation intervals

    static TicketKeys& process();

    void rotate();
    size_t size() const { return keys_.size(); }
    uint64_t rotations() const { return rotations_; }

    // Installs the ticket callback on a server context (tickets then never use OpenSSL's
    // per-context random key, which would die with the context at a reload).
    static void install(SSL_CTX* ctx);

private:
    struct Key {
        std::array<unsigned char, 16> name;
        std::array<unsigned char, 32> aes;
        std::array<unsigned char, 32> hmac;
    };
    TicketKeys();
    static int on_ticket(SSL* ssl, unsigned char name[16], unsigned char* iv, EVP_CIPHER_CTX* ctx,
                         EVP_MAC_CTX* hctx, int enc) noexcept;

    std::deque<Key> keys_;
    uint64_t rotations_ = 0;
};

// Rotates the process's ticket keys every `interval_ms` while it lives (the daemon holds one).
// The timer does not keep the loop alive.
class TicketRotation {
public:
    explicit TicketRotation(uv_loop_t* loop,
                            uint64_t interval_ms = TicketKeys::rotation_interval_ms);

private:
    loop::Timer timer_;
};

} // namespace ec::tls
