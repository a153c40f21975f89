// Client contexts for HTTPS origins: verification, SNI, client certificates, session reuse.
#include "tls/client_tls.hpp"

#include <arpa/inet.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "tls/certificate.hpp"
#include "tls/credentials.hpp"
#include "tls/server_tls.hpp"

namespace ec::tls {

namespace {

bool tls_host_is_ip_literal(const std::string& host) {
    unsigned char buf[16];
    return inet_pton(AF_INET, host.c_str(), buf) == 1 ||
           inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// The ex_data slot holding the session-cache key (server name) on each client SSL.
int tls_session_key_index() {
    static int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
}

} // namespace

ClientTls::~ClientTls() = default;

Result<std::shared_ptr<const ClientTls>> ClientTls::build(const config::OriginTls& spec) {
    auto config_error = [](std::string why) {
        ERR_clear_error();
        return make_error(0, "tls_config", std::move(why));
    };
    int min = version_from_config(spec.min_version);
    if (!min) return config_error("min_version must be \"1.2\" or \"1.3\"");
    std::shared_ptr<ClientTls> c(new ClientTls());
    c->spec_ = spec;
    c->ctx_.reset(SSL_CTX_new(TLS_client_method()));
    SSL_CTX* ctx = c->ctx_.get();
    if (!ctx) return config_error("cannot create a TLS context: " + take_errors());
    SSL_CTX_set_min_proto_version(ctx, min);
    SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (SSL_CTX_set_cipher_list(ctx, tls12_ciphers) != 1)
        return config_error("cipher list refused: " + take_errors());
    static const unsigned char alpn[] = "\x08http/1.1";
    if (SSL_CTX_set_alpn_protos(ctx, alpn, sizeof alpn - 1) != 0)
        return config_error("ALPN refused: " + take_errors());

    if (spec.verify) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
        if (!spec.ca_file.empty()) {
            auto pem = read_credential(spec.ca_file, "CA");
            if (!pem) return pem.error();
            BioPtr bio(BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size())));
            X509_STORE* store = SSL_CTX_get_cert_store(ctx);
            int added = 0;
            while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
                added += X509_STORE_add_cert(store, x) == 1;
                X509_free(x);
            }
            ERR_clear_error();
            if (added == 0)
                return make_error(0, "tls_certificate",
                                  "CA file \"" + resolve_credential(spec.ca_file) +
                                      "\": no PEM certificate in the file");
        } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
            return config_error("cannot load the system certificate store: " + take_errors());
        }
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    }

    if (!spec.client_cert.empty() || !spec.client_key.empty()) {
        if (spec.client_cert.empty() || spec.client_key.empty())
            return config_error("client_cert and client_key go together");
        auto cert = load_certificate({spec.client_cert, spec.client_key, {}});
        if (!cert) return cert.error();
        if (SSL_CTX_use_certificate(ctx, cert->leaf.get()) != 1 ||
            SSL_CTX_use_PrivateKey(ctx, cert->key.get()) != 1)
            return make_error(0, "tls_certificate",
                              "\"" + spec.client_cert + "\": refused by OpenSSL: " + take_errors());
        for (auto& inter : cert->chain)
            SSL_CTX_add1_chain_cert(ctx, inter.get());
    }

    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, &ClientTls::on_new_session);
    SSL_CTX_set_app_data(ctx, c.get());
    return std::shared_ptr<const ClientTls>(std::move(c));
}

SslPtr ClientTls::new_session(std::string_view host) const {
    std::string name = spec_.server_name.empty() ? std::string(host) : spec_.server_name;
    SslPtr ssl(SSL_new(ctx_.get()));
    if (!ssl) return ssl;
    SSL* s = ssl.get();
    SSL_set_connect_state(s);
    bool ip = tls_host_is_ip_literal(name);
    if (!ip && !name.empty()) SSL_set_tlsext_host_name(s, name.c_str());
    if (spec_.verify) {
        if (ip)
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s), name.c_str());
        else
            SSL_set1_host(s, name.c_str());
    }
    auto it = sessions_.find(name);
    if (it != sessions_.end()) SSL_set_session(s, it->second.get());
    // The key lives in the map node once a session is stored; until then a heap copy owned by
    // the SSL would be needed, so store a pointer to a string that outlives it: the map key.
    auto [slot, inserted] = sessions_.try_emplace(name);
    (void)inserted;
    SSL_set_ex_data(s, tls_session_key_index(), const_cast<std::string*>(&slot->first));
    return ssl;
}

size_t ClientTls::cached_sessions() const {
    size_t n = 0;
    for (const auto& [name, session] : sessions_)
        n += session != nullptr;
    return n;
}

int ClientTls::on_new_session(SSL* ssl, SSL_SESSION* session) noexcept {
    auto* self = static_cast<const ClientTls*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
    auto* key = static_cast<const std::string*>(SSL_get_ex_data(ssl, tls_session_key_index()));
    if (!self || !key) return 0;
    auto it = self->sessions_.find(*key);
    if (it == self->sessions_.end()) return 0;
    it->second.reset(session); // we own the reference OpenSSL handed us
    return 1;
}

} // namespace ec::tls
