// The OpenSSL error queue as text, and the protocol names the config accepts.
#include "tls/openssl.hpp"

#include <openssl/err.h>

namespace ec::tls {

std::string take_errors(const char* fallback) {
    std::string out;
    unsigned long code;
    while ((code = ERR_get_error()) != 0) {
        const char* reason = ERR_reason_error_string(code);
        std::string one = reason ? reason : "error " + std::to_string(ERR_GET_REASON(code));
        // The same reason is often pushed by several layers; say it once.
        if (out.find(one) != std::string::npos) continue;
        if (!out.empty()) out += "; ";
        out += one;
    }
    return out.empty() ? fallback : out;
}

int version_from_config(const std::string& v) {
    if (v == "1.2") return TLS1_2_VERSION;
    if (v == "1.3") return TLS1_3_VERSION;
    return 0;
}

} // namespace ec::tls
