// Test PKI: a CA and certificates made in-process with OpenSSL (EC P-256) into a temp dir, and a
// pump that moves ciphertext between two Engines until both sides settle.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "tls/engine.hpp"
#include "tls/openssl.hpp"

namespace ec::tls::testing {

struct Issued {
    X509Ptr cert;
    PkeyPtr key;
};

// A certificate for `cn` with DNS `sans`, valid from now+from_days to now+to_days, signed by
// `issuer` (self-signed when null). `ca` marks it as a CA.
inline Issued issue(const std::string& cn, const std::vector<std::string>& sans,
                    const Issued* issuer, bool ca = false, long from_days = -1, long to_days = 30) {
    Issued out;
    out.key.reset(EVP_EC_gen("P-256"));
    out.cert.reset(X509_new());
    X509* x = out.cert.get();
    X509_set_version(x, 2);
    static long serial = 1;
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    X509_gmtime_adj(X509_getm_notBefore(x), from_days * 86400);
    X509_gmtime_adj(X509_getm_notAfter(x), to_days * 86400);
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer->cert.get()) : name);
    X509_set_pubkey(x, out.key.get());
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer ? issuer->cert.get() : x, x, nullptr, nullptr, 0);
    auto add = [&](int nid, const std::string& value) {
        X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
        X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
    };
    add(NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
    if (ca) add(NID_key_usage, "critical,keyCertSign,cRLSign");
    if (!sans.empty()) {
        std::string v;
        for (const auto& s : sans)
            v += (v.empty() ? "DNS:" : ",DNS:") + s;
        add(NID_subject_alt_name, v);
    }
    X509_sign(x, issuer ? issuer->key.get() : out.key.get(), EVP_sha256());
    return out;
}

// A temp dir removed at the end of the test.
struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/ec-tls-XXXXXX";
        path = mkdtemp(tmpl);
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    std::string file(const std::string& name) const { return path + "/" + name; }
};

inline std::string pem(X509* c) {
    BioPtr b(BIO_new(BIO_s_mem()));
    PEM_write_bio_X509(b.get(), c);
    char* p;
    long n = BIO_get_mem_data(b.get(), &p);
    return std::string(p, static_cast<size_t>(n));
}

inline std::string pem(EVP_PKEY* k) {
    BioPtr b(BIO_new(BIO_s_mem()));
    PEM_write_bio_PrivateKey(b.get(), k, nullptr, nullptr, 0, nullptr, nullptr);
    char* p;
    long n = BIO_get_mem_data(b.get(), &p);
    return std::string(p, static_cast<size_t>(n));
}

inline void write_file(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
}

// Writes <name>.pem (cert then `chain`) and <name>.key; returns {cert path, key path}.
inline std::pair<std::string, std::string> write_pair(const TempDir& dir, const std::string& name,
                                                      const Issued& c,
                                                      std::vector<const Issued*> chain = {}) {
    std::string certs = pem(c.cert.get());
    for (const Issued* i : chain)
        certs += pem(i->cert.get());
    write_file(dir.file(name + ".pem"), certs);
    write_file(dir.file(name + ".key"), pem(c.key.get()));
    return {dir.file(name + ".pem"), dir.file(name + ".key")};
}

// Moves ciphertext both ways until neither side makes progress; returns when both handshakes
// are done or one side failed.
inline void pump(Engine& client, Engine& server) {
    for (int i = 0; i < 20; ++i) {
        Engine::Io c = client.handshake();
        std::string out = client.take_output();
        server.feed(out.data(), out.size());
        Engine::Io s = server.handshake();
        std::string back = server.take_output();
        client.feed(back.data(), back.size());
        if (c == Engine::Io::failed || s == Engine::Io::failed) {
            // Let the alert reach the other side so both report a reason.
            client.handshake();
            server.handshake();
            return;
        }
        if (c == Engine::Io::ok && s == Engine::Io::ok && out.empty() && back.empty()) return;
    }
}

// Sends `text` from one engine to the other and returns what the receiver decrypted.
inline std::string transfer(Engine& from, Engine& to, const std::string& text) {
    from.write(text.data(), text.size());
    std::string wire = from.take_output();
    to.feed(wire.data(), wire.size());
    std::string got;
    char buf[4096];
    for (;;) {
        Engine::Read r = to.read(buf, sizeof buf);
        if (r.io != Engine::Io::ok) break;
        got.append(buf, r.n);
    }
    std::string reply = to.take_output(); // post-handshake messages (tickets) go back
    from.feed(reply.data(), reply.size());
    return got;
}

} // namespace ec::tls::testing
