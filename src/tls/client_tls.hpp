// ClientTls: one origin's TLS client context — verification, client certificate, ALPN and the
// sessions its pooled connections resume.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "config/config.hpp"
#include "tls/openssl.hpp"
#include "util/status.hpp"

namespace ec::tls {

// Verification is on unless spec.verify is false: against spec.ca_file when given, else the
// system store (/etc/ssl/certs), with the server name checked against the certificate (an IP
// address against its IP SANs). ALPN offers http/1.1. TLS 1.2+ (spec.min_version), the same
// TLS 1.2 ciphers as the listeners. The latest session per server name is kept and offered by
// the next connection, so a pool of keep-alive connections pays one full handshake.
// Loop thread only; every Engine holds its ClientTls alive (the new-session callback uses it).
class ClientTls {
public:
    // Errors (codes "tls_file", "tls_certificate", "tls_config") name the file or setting.
    static Result<std::shared_ptr<const ClientTls>> build(const config::OriginTls& spec);
    ~ClientTls();

    // A client session to `host` (a DNS name or IP literal); spec.server_name, when set,
    // replaces it for SNI and verification. SNI is sent for DNS names only.
    SslPtr new_session(std::string_view host) const;

    const config::OriginTls& spec() const { return spec_; }
    // Server names with a resumable session stored.
    size_t cached_sessions() const;

private:
    ClientTls() = default;
    static int on_new_session(SSL* ssl, SSL_SESSION* session) noexcept;

    config::OriginTls spec_;
    SslCtxPtr ctx_;
    // Server name -> the newest resumable session. Mutable: a const ClientTls is shared by all
    // connections of an origin, and remembering a session is not a change of configuration.
    mutable std::unordered_map<std::string, SessionPtr> sessions_;
};

} // namespace ec::tls
