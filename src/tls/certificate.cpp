// Loading and checking server certificates: chain linkage, key match, names, expiry.
#include "tls/certificate.hpp"

#include <algorithm>
#include <ctime>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "tls/credentials.hpp"

namespace ec::tls {

namespace {

std::string lowercase_dns_name(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

std::string cert_subject_text(X509* c) {
    char buf[256];
    X509_NAME_oneline(X509_get_subject_name(c), buf, sizeof buf);
    return buf;
}

} // namespace

int64_t not_after_unix(X509* cert) {
    const ASN1_TIME* t = X509_get0_notAfter(cert);
    struct tm tm {};
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
    return static_cast<int64_t>(timegm(&tm));
}

std::vector<std::string> certificate_names(X509* leaf) {
    std::vector<std::string> names;
    auto* sans =
        static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(leaf, NID_subject_alt_name, nullptr, nullptr));
    if (sans) {
        for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
            const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans, i);
            if (gn->type != GEN_DNS) continue;
            const ASN1_IA5STRING* s = gn->d.dNSName;
            names.push_back(lowercase_dns_name(
                std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                            static_cast<size_t>(ASN1_STRING_length(s)))));
        }
        GENERAL_NAMES_free(sans);
    }
    if (names.empty()) {
        char cn[256];
        int n =
            X509_NAME_get_text_by_NID(X509_get_subject_name(leaf), NID_commonName, cn, sizeof cn);
        if (n > 0) names.push_back(lowercase_dns_name(std::string(cn, static_cast<size_t>(n))));
    }
    return names;
}

Result<Certificate> load_certificate(const config::CertificateSpec& spec) {
    auto refuse = [](const std::string& file, const std::string& why) {
        ERR_clear_error();
        return make_error(0, "tls_certificate", "\"" + file + "\": " + why);
    };
    auto cert_pem = read_credential(spec.cert, "certificate");
    if (!cert_pem) return cert_pem.error();
    auto key_pem = read_credential(spec.key, "key");
    if (!key_pem) return key_pem.error();
    SecretBytes key_text(std::move(key_pem.value()));

    Certificate c;
    c.label = spec.cert;
    BioPtr bio(BIO_new_mem_buf(cert_pem->data(), static_cast<int>(cert_pem->size())));
    c.leaf.reset(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!c.leaf) return refuse(spec.cert, "no PEM certificate in the file");
    while (X509* next = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr))
        c.chain.emplace_back(next);
    ERR_clear_error(); // the loop ends on a "no start line" error

    BioPtr kbio(BIO_new_mem_buf(key_text.str().data(), static_cast<int>(key_text.str().size())));
    c.key.reset(PEM_read_bio_PrivateKey(kbio.get(), nullptr, nullptr, nullptr));
    // The reason is deliberately generic: OpenSSL's text could quote parts of the key file.
    if (!c.key) return refuse(spec.key, "no unencrypted PEM private key in the file");
    if (X509_check_private_key(c.leaf.get(), c.key.get()) != 1)
        return refuse(spec.key,
                      "the private key does not match the certificate in \"" + spec.cert + "\"");

    X509* child = c.leaf.get();
    for (size_t i = 0; i < c.chain.size(); ++i) {
        X509* issuer = c.chain[i].get();
        EVP_PKEY* issuer_key = X509_get0_pubkey(issuer);
        if (X509_check_issued(issuer, child) != X509_V_OK || !issuer_key ||
            X509_verify(child, issuer_key) != 1)
            return refuse(spec.cert, "the chain is not linked: certificate " + std::to_string(i) +
                                         " (" + cert_subject_text(child) +
                                         ") is not issued by the one after it (" +
                                         cert_subject_text(issuer) +
                                         "); list the leaf first, then each issuer in order");
        child = issuer;
    }
    c.names = certificate_names(c.leaf.get());
    if (c.names.empty()) return refuse(spec.cert, "the certificate names no DNS name");
    c.not_after = not_after_unix(c.leaf.get());
    if (!spec.ocsp.empty()) {
        auto der = read_credential(spec.ocsp, "OCSP response");
        if (!der) return der.error();
        c.ocsp_der = std::move(der.value());
    }
    return c;
}

} // namespace ec::tls
