// ServerTls: a TLS listener's contexts, one per certificate, with SNI selection, ALPN, OCSP
// stapling and the process's ticket keys. Built at start-up or reload, immutable afterwards.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "tls/certificate.hpp"
#include "tls/openssl.hpp"
#include "tls/sni.hpp"
#include "util/status.hpp"

namespace ec::tls {

// What /metrics and `edgecachectl stats` show about one loaded certificate.
struct CertificateInfo {
    std::string label; // the configured cert file
    std::vector<std::string> names;
    int64_t not_after = 0; // Unix seconds
};

// TLS 1.2 and 1.3 only (1.3 only when min_version is "1.3"); TLS 1.2 ciphers are Mozilla's
// "intermediate" ECDHE + AEAD list; renegotiation and compression off; ALPN answers http/1.1
// (a client that offers only other protocols proceeds without ALPN); session tickets under
// TicketKeys plus a server-side session cache for session-id resumption.
//
// A reload builds a new ServerTls and swaps the listener's shared_ptr: new handshakes use the
// new certificates, existing sessions keep the context they hold (SSL_CTX is reference counted
// and every Engine keeps its ServerTls alive). Building loads and checks every certificate
// first (load_certificate), so a bad file refuses the whole set and the old one stays.
class ServerTls {
public:
    // Errors (codes "tls_certificate", "tls_file", "tls_config") name the file or setting.
    static Result<std::shared_ptr<const ServerTls>> build(const config::ListenTls& spec);
    ~ServerTls();

    // A server session for one accepted connection, on the default certificate until the
    // client's SNI picks another.
    SslPtr new_session() const;

    const std::vector<CertificateInfo>& certificates() const { return info_; }
    const config::ListenTls& spec() const { return spec_; }

private:
    ServerTls() = default;
    static int on_servername(SSL* ssl, int* alert, void* arg) noexcept;
    static int on_alpn(SSL* ssl, const unsigned char** out, unsigned char* outlen,
                       const unsigned char* in, unsigned inlen, void* arg) noexcept;
    static int on_status(SSL* ssl, void* arg) noexcept;

    config::ListenTls spec_;
    std::vector<SslCtxPtr> contexts_;   // one per certificate, same settings
    std::vector<std::string> ocsp_;     // per context; empty = nothing to staple
    std::vector<CertificateInfo> info_; // per context
    SniTable sni_;
};

// The ciphers both directions allow for TLS 1.2 (TLS 1.3 uses OpenSSL's default suites).
extern const char* const tls12_ciphers;

} // namespace ec::tls
