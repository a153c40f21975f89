// Session ticket key ring: AES-256-CBC + HMAC-SHA256 keys from RAND_bytes, rotated by the daemon.
#include "tls/ticket_keys.hpp"

#include <cstring>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

namespace ec::tls {

TicketRotation::TicketRotation(uv_loop_t* loop, uint64_t interval_ms)
    : timer_(loop, [] { TicketKeys::process().rotate(); }) {
    timer_.start(interval_ms, interval_ms);
    timer_.unref();
}

TicketKeys& TicketKeys::process() {
    static TicketKeys keys;
    return keys;
}

TicketKeys::TicketKeys() {
    rotate();
    rotations_ = 0;
}

void TicketKeys::rotate() {
    Key k{};
    // RAND_bytes fails only when the system RNG is unusable; then no key is better than a
    // predictable one, and tickets fall back to full handshakes (on_ticket with an empty ring).
    if (RAND_bytes(k.name.data(), k.name.size()) != 1 ||
        RAND_bytes(k.aes.data(), k.aes.size()) != 1 ||
        RAND_bytes(k.hmac.data(), k.hmac.size()) != 1)
        return;
    keys_.push_front(k);
    while (keys_.size() > kept) {
        OPENSSL_cleanse(&keys_.back(), sizeof(Key));
        keys_.pop_back();
    }
    ++rotations_;
}

void TicketKeys::install(SSL_CTX* ctx) {
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, &TicketKeys::on_ticket);
}

int TicketKeys::on_ticket(SSL*, unsigned char name[16], unsigned char* iv, EVP_CIPHER_CTX* ctx,
                          EVP_MAC_CTX* hctx, int enc) noexcept {
    TicketKeys& ring = process();
    if (ring.keys_.empty()) return enc ? -1 : 0;
    auto set_mac = [&](const Key& k) {
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_octet_string(
                OSSL_MAC_PARAM_KEY, const_cast<unsigned char*>(k.hmac.data()), k.hmac.size()),
            OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>("SHA256"), 0),
            OSSL_PARAM_construct_end()};
        return EVP_MAC_CTX_set_params(hctx, params) == 1;
    };
    if (enc) {
        const Key& k = ring.keys_.front();
        if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) != 1) return -1;
        std::memcpy(name, k.name.data(), k.name.size());
        if (EVP_EncryptInit_ex(ctx, EVP_aes_256_cbc(), nullptr, k.aes.data(), iv) != 1) return -1;
        return set_mac(k) ? 1 : -1;
    }
    for (size_t i = 0; i < ring.keys_.size(); ++i) {
        const Key& k = ring.keys_[i];
        if (std::memcmp(name, k.name.data(), k.name.size()) != 0) continue;
        if (EVP_DecryptInit_ex(ctx, EVP_aes_256_cbc(), nullptr, k.aes.data(), iv) != 1) return -1;
        if (!set_mac(k)) return -1;
        return i == 0 ? 1 : 2; // 2: valid, but issue a fresh ticket under the current key
    }
    return 0; // unknown key: full handshake
}

} // namespace ec::tls
