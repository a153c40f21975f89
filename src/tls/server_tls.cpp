// Server contexts: certificates per SNI name, ALPN http/1.1, OCSP stapling, session resumption.
#include "tls/server_tls.hpp"

#include <cstring>

#include <openssl/err.h>

#include "tls/ticket_keys.hpp"

namespace ec::tls {

const char* const tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

namespace {
constexpr unsigned char session_context[] = "edgecached";
}

ServerTls::~ServerTls() = default;

Result<std::shared_ptr<const ServerTls>> ServerTls::build(const config::ListenTls& spec) {
    auto config_error = [](std::string why) {
        ERR_clear_error();
        return make_error(0, "tls_config", std::move(why));
    };
    if (spec.certificates.empty()) return config_error("a TLS listener needs a certificate");
    int min = version_from_config(spec.min_version);
    if (!min) return config_error("min_version must be \"1.2\" or \"1.3\"");

    std::shared_ptr<ServerTls> s(new ServerTls());
    s->spec_ = spec;
    // Status callbacks point at ocsp_'s elements: no reallocation after they are taken.
    s->ocsp_.reserve(spec.certificates.size());
    for (size_t i = 0; i < spec.certificates.size(); ++i) {
        auto cert = load_certificate(spec.certificates[i]);
        if (!cert) return cert.error();
        SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
        if (!ctx) return config_error("cannot create a TLS context: " + take_errors());
        SSL_CTX* c = ctx.get();
        SSL_CTX_set_min_proto_version(c, min);
        SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION);
        SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                   SSL_OP_CIPHER_SERVER_PREFERENCE);
        SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
        if (SSL_CTX_set_cipher_list(c, tls12_ciphers) != 1)
            return config_error("cipher list refused: " + take_errors());
        if (SSL_CTX_use_certificate(c, cert->leaf.get()) != 1 ||
            SSL_CTX_use_PrivateKey(c, cert->key.get()) != 1)
            return make_error(0, "tls_certificate",
                              "\"" + cert->label + "\": refused by OpenSSL: " + take_errors());
        for (auto& inter : cert->chain)
            if (SSL_CTX_add1_chain_cert(c, inter.get()) != 1)
                return make_error(0, "tls_certificate",
                                  "\"" + cert->label + "\": chain refused: " + take_errors());
        SSL_CTX_set_session_id_context(c, session_context, sizeof session_context - 1);
        SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_SERVER);
        SSL_CTX_set_num_tickets(c, 1);
        TicketKeys::install(c);
        SSL_CTX_set_tlsext_servername_callback(c, &ServerTls::on_servername);
        SSL_CTX_set_tlsext_servername_arg(c, s.get());
        SSL_CTX_set_alpn_select_cb(c, &ServerTls::on_alpn, nullptr);
        s->ocsp_.push_back(std::move(cert->ocsp_der));
        if (!s->ocsp_.back().empty()) {
            SSL_CTX_set_tlsext_status_cb(c, &ServerTls::on_status);
            SSL_CTX_set_tlsext_status_arg(c, &s->ocsp_.back());
        }
        for (const std::string& name : cert->names)
            s->sni_.add(name, i);
        s->info_.push_back({cert->label, cert->names, cert->not_after});
        s->contexts_.push_back(std::move(ctx));
    }
    return std::shared_ptr<const ServerTls>(std::move(s));
}

SslPtr ServerTls::new_session() const {
    SslPtr ssl(SSL_new(contexts_.front().get()));
    if (ssl) SSL_set_accept_state(ssl.get());
    return ssl;
}

int ServerTls::on_servername(SSL* ssl, int*, void* arg) noexcept {
    auto* self = static_cast<const ServerTls*>(arg);
    const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (!name) return SSL_TLSEXT_ERR_OK; // no SNI: the default certificate
    size_t i = self->sni_.lookup(name);
    if (i != 0) SSL_set_SSL_CTX(ssl, self->contexts_[i].get());
    return SSL_TLSEXT_ERR_OK;
}

int ServerTls::on_alpn(SSL*, const unsigned char** out, unsigned char* outlen,
                       const unsigned char* in, unsigned inlen, void*) noexcept {
    static const unsigned char ours[] = "\x08http/1.1";
    unsigned char* selected = nullptr;
    if (SSL_select_next_proto(&selected, outlen, ours, sizeof ours - 1, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
}

int ServerTls::on_status(SSL* ssl, void* arg) noexcept {
    const auto* der = static_cast<const std::string*>(arg);
    if (!der || der->empty()) return SSL_TLSEXT_ERR_NOACK;
    auto* copy = static_cast<unsigned char*>(OPENSSL_malloc(der->size()));
    if (!copy) return SSL_TLSEXT_ERR_NOACK;
    std::memcpy(copy, der->data(), der->size());
    SSL_set_tlsext_status_ocsp_resp(ssl, copy, static_cast<long>(der->size()));
    return SSL_TLSEXT_ERR_OK;
}

} // namespace ec::tls
