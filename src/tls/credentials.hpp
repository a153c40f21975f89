// Reading certificate and key files: $CREDENTIALS_DIRECTORY (systemd LoadCredential=) lookup
// and a bounded, blocking read meant for start-up and reload only (never on the request path).
#pragma once

#include <string>
#include <string_view>

#include "util/status.hpp"

namespace ec::tls {

// Where a configured file name points. An absolute path is used as written. A relative one is
// looked up first in $CREDENTIALS_DIRECTORY when that is set (systemd's LoadCredential=edge.pem:
// /etc/ssl/private/edge.pem makes "edge.pem" resolve to $CREDENTIALS_DIRECTORY/edge.pem) and
// otherwise taken relative to the working directory.
std::string resolve_credential(std::string_view configured);

// The whole file (at most 1 MiB: certificates and keys are small; a bigger file is a mistake).
// Errors (code "tls_file") name the resolved path and the reason ("No such file or directory",
// "Permission denied", "larger than 1 MiB"). `what` is "certificate", "key" or "OCSP response"
// and starts the message. The caller owns the bytes; a key's copy should be cleansed after use
// (SecretBytes does that).
Result<std::string> read_credential(std::string_view configured, const char* what);

// A string that is overwritten with zeros (OPENSSL_cleanse) before its memory is released: the
// private key's PEM text lives only as long as the parse.
class SecretBytes {
public:
    explicit SecretBytes(std::string s) : s_(std::move(s)) {}
    SecretBytes(const SecretBytes&) = delete;
    SecretBytes& operator=(const SecretBytes&) = delete;
    ~SecretBytes();
    const std::string& str() const { return s_; }

private:
    std::string s_;
};

} // namespace ec::tls
