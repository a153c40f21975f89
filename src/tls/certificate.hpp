// A server certificate loaded and checked: PEM chain + private key (+ optional OCSP response),
// the DNS names it covers and when it expires. Loading reads files: start-up and reload only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "tls/openssl.hpp"
#include "util/status.hpp"

namespace ec::tls {

struct Certificate {
    std::string label; // the cert file as configured: logs, metrics
    X509Ptr leaf;
    std::vector<X509Ptr> chain; // the intermediates that followed the leaf, in file order
    PkeyPtr key;
    std::vector<std::string> names; // DNS names (subjectAltName, else the CN), lower case;
                                    // wildcards kept as "*.example.com"
    int64_t not_after = 0;          // Unix seconds
    std::string ocsp_der;           // empty = nothing to staple
};

// Loads spec.cert (leaf first, then intermediates), spec.key and spec.ocsp. Refused, with an
// Error (code "tls_certificate" or "tls_file") naming the file and the reason, when: a file
// cannot be read, holds no PEM certificate / private key, the key does not match the leaf, or
// the chain is not linked (each certificate must be issued and signed by the one after it, so
// an out-of-order or partial chain is caught before clients see it). An expired certificate
// loads (the expiry metric shows it); callers may warn.
Result<Certificate> load_certificate(const config::CertificateSpec& spec);

// The leaf's DNS names (see Certificate::names).
std::vector<std::string> certificate_names(X509* leaf);

// X509 notAfter as Unix seconds (0 when it cannot be read).
int64_t not_after_unix(X509* cert);

} // namespace ec::tls
