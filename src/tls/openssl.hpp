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

// A unique_ptr deleter calling OpenSSL's own free function for the type.
template <auto Free> struct Freer {
    template <class T> void operator()(T* p) const noexcept { Free(p); }
};

using SslCtxPtr = std::unique_ptr<SSL_CTX, Freer<SSL_CTX_free>>;
using SslPtr = std::unique_ptr<SSL, Freer<SSL_free>>;
using X509Ptr = std::unique_ptr<X509, Freer<X509_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Freer<EVP_PKEY_free>>;
using BioPtr = std::unique_ptr<BIO, Freer<BIO_free>>;
using SessionPtr = std::unique_ptr<SSL_SESSION, Freer<SSL_SESSION_free>>;

// Drains this thread's OpenSSL error queue into "reason; reason" (the library's reason strings,
// e.g. "certificate verify failed"); `fallback` when the queue is empty.
std::string take_errors(const char* fallback = "unknown TLS error");

// "TLSv1.2" / "TLSv1.3" -> the protocol constant; 0 for anything else. The config accepts "1.2"
// and "1.3" (version_from_config).
int version_from_config(const std::string& v);

} // namespace ec::tls
