// OpenSSL ownership in types: unique_ptr aliases for the handles we hold, and the error queue
// turned into one sentence.
#pragma once

#include <memory>
#include <string>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace ec::tls {

struct SslCtxFree {
    void operator()(SSL_CTX* p) const noexcept { SSL_CTX_free(p); }
};
struct SslFree {
    void operator()(SSL* p) const noexcept { SSL_free(p); }
};
struct X509Free {
    void operator()(X509* p) const noexcept { X509_free(p); }
};
struct PkeyFree {
    void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
struct BioFree {
    void operator()(BIO* p) const noexcept { BIO_free(p); }
};
struct SessionFree {
    void operator()(SSL_SESSION* p) const noexcept { SSL_SESSION_free(p); }
};

using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;
using SslPtr = std::unique_ptr<SSL, SslFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;
using SessionPtr = std::unique_ptr<SSL_SESSION, SessionFree>;

// Drains this thread's OpenSSL error queue into "reason; reason" (the library's reason strings,
// e.g. "certificate verify failed"); `fallback` when the queue is empty.
std::string take_errors(const char* fallback = "unknown TLS error");

// "TLSv1.2" / "TLSv1.3" -> the protocol constant; 0 for anything else. The config accepts "1.2"
// and "1.3" (version_from_config).
int version_from_config(const std::string& v);

} // namespace ec::tls
