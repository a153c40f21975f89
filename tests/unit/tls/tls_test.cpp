// tls: certificates, SNI, verification failures, versions, resumption, ticket rotation, reload
// lifetimes and hostile input, with client and server Engines talking in-process.
#include <doctest/doctest.h>

#include <cstdlib>

#include "config/options.hpp"
#include "loop/loop.hpp"
#include "tests/unit/tls/test_pki.hpp"
#include "tls/certificate.hpp"
#include "tls/client_tls.hpp"
#include "tls/credentials.hpp"
#include "tls/server_tls.hpp"
#include "tls/sni.hpp"
#include "tls/ticket_keys.hpp"

using namespace ec;
using namespace ec::tls;
using namespace ec::tls::testing;

namespace {

// A CA, its file, and helpers to build listeners and clients that trust it.
struct Pki {
    TempDir dir;
    Issued ca;
    std::string ca_file = dir.file("ca.pem");
    explicit Pki(const std::string& ca_name = "Test CA") : ca(issue(ca_name, {}, nullptr, true)) {
        write_file(ca_file, pem(ca.cert.get()));
    }

    config::CertificateSpec leaf(const std::string& name, const std::vector<std::string>& sans,
                                 long from_days = -1, long to_days = 30) {
        Issued c = issue(sans.empty() ? name : sans[0], sans, &ca, false, from_days, to_days);
        auto [cert, key] = write_pair(dir, name, c);
        return {cert, key, {}};
    }
    std::shared_ptr<const ServerTls> server(std::vector<config::CertificateSpec> certs) {
        config::ListenTls spec = config::listen_tls_defaults();
        spec.certificates = std::move(certs);
        auto s = ServerTls::build(spec);
        REQUIRE_MESSAGE(s.is_ok(), (s ? "" : s.error().message));
        return s.value();
    }
    std::shared_ptr<const ClientTls> client(bool verify = true) {
        config::OriginTls spec = config::origin_tls_defaults();
        spec.enabled = true;
        spec.verify = verify;
        spec.ca_file = ca_file;
        auto c = ClientTls::build(spec);
        REQUIRE_MESSAGE(c.is_ok(), (c ? "" : c.error().message));
        return c.value();
    }
};

struct Session {
    Engine client;
    Engine server;
    Session(const std::shared_ptr<const ClientTls>& c, const std::string& host,
            const std::shared_ptr<const ServerTls>& s)
        : client(c->new_session(host), c), server(s->new_session(), s) {
        pump(client, server);
    }
    std::string peer_cn() const {
        X509* peer = SSL_get0_peer_certificate(client.ssl());
        if (!peer) return "";
        return certificate_names(peer).at(0);
    }
};

} // namespace

TEST_SUITE("tls") {

    TEST_CASE("a verified handshake negotiates TLS 1.3 and http/1.1 and carries data both ways") {
        Pki pki;
        auto server = pki.server({pki.leaf("a", {"a.test"})});
        Session s(pki.client(), "a.test", server);
        REQUIRE(s.client.handshake_done());
        REQUIRE(s.server.handshake_done());
        CHECK(std::string(s.client.version()) == "TLSv1.3");
        CHECK(s.client.alpn() == "http/1.1");
        CHECK(s.server.alpn() == "http/1.1");
        CHECK(transfer(s.client, s.server, "GET / HTTP/1.1\r\n\r\n") == "GET / HTTP/1.1\r\n\r\n");
        std::string big(100000, 'x');
        CHECK(transfer(s.server, s.client, big) == big);
    }

    TEST_CASE("SNI picks the exact name, then a one-label wildcard, else the first certificate") {
        Pki pki;
        auto server = pki.server({pki.leaf("default", {"default.test"}), pki.leaf("b", {"b.test"}),
                                  pki.leaf("wild", {"*.wild.test"})});
        auto client = pki.client(false);
        CHECK(Session(client, "b.test", server).peer_cn() == "b.test");
        CHECK(Session(client, "B.Test", server).peer_cn() == "b.test");
        CHECK(Session(client, "x.wild.test", server).peer_cn() == "*.wild.test");
        CHECK(Session(client, "y.x.wild.test", server).peer_cn() == "default.test");
        CHECK(Session(client, "other.test", server).peer_cn() == "default.test");
        CHECK(Session(client, "127.0.0.1", server).peer_cn() == "default.test"); // no SNI
        CHECK(server->certificates().size() == 3);
        CHECK(server->certificates()[2].names == std::vector<std::string>{"*.wild.test"});
    }

    TEST_CASE("SniTable: exact before wildcard, case and trailing dot ignored") {
        SniTable t;
        t.add("*.example.com", 1);
        t.add("api.example.com", 2);
        t.add("API.example.com", 3); // the first claim keeps the name
        CHECK(t.lookup("api.example.com.") == 2);
        CHECK(t.lookup("www.EXAMPLE.com") == 1);
        CHECK(t.lookup("example.com") == 0);
        CHECK(t.lookup("a.b.example.com") == 0);
        CHECK(t.lookup("") == 0);
    }

    TEST_CASE("verification failures say why: wrong name, expired, unknown CA, self-signed") {
        Pki pki;
        auto client = pki.client();
        auto good = pki.server({pki.leaf("a", {"a.test"})});
        Session wrong(client, "b.test", good);
        CHECK_FALSE(wrong.client.handshake_done());
        CHECK(wrong.client.failure() == "certificate verify failed: hostname mismatch");
        CHECK(wrong.server.failure().find("alert") != std::string::npos);

        auto expired = pki.server({pki.leaf("old", {"old.test"}, -60, -1)});
        Session e(client, "old.test", expired);
        CHECK(e.client.failure() == "certificate verify failed: certificate has expired");

        Pki other("Another CA");
        Session u(client, "a.test", other.server({other.leaf("a", {"a.test"})}));
        CHECK(u.client.failure() ==
              "certificate verify failed: unable to get local issuer certificate");

        Issued self = issue("self.test", {"self.test"}, nullptr);
        auto [cert, key] = write_pair(pki.dir, "self", self);
        Session ss(client, "self.test", pki.server({{cert, key, {}}}));
        CHECK(ss.client.failure() == "certificate verify failed: self-signed certificate");

        Session off(pki.client(false), "self.test", pki.server({{cert, key, {}}}));
        CHECK(off.client.handshake_done()); // verify: false accepts it
    }

    TEST_CASE("TLS 1.1 and below are refused by listeners") {
        Pki pki;
        auto server = pki.server({pki.leaf("a", {"a.test"})});
        SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
        SSL_CTX_set_security_level(ctx.get(), 0);
        SSL_CTX_set_min_proto_version(ctx.get(), TLS1_VERSION);
        SSL_CTX_set_max_proto_version(ctx.get(), TLS1_1_VERSION);
        SslPtr ssl(SSL_new(ctx.get()));
        SSL_set_connect_state(ssl.get());
        Engine client(std::move(ssl), nullptr);
        Engine srv(server->new_session(), server);
        pump(client, srv);
        CHECK_FALSE(srv.handshake_done());
        CHECK(srv.failure() == "unsupported protocol");
        CHECK(client.failure() == "tlsv1 alert protocol version");
    }

    TEST_CASE("a plaintext HTTP request or garbage on a TLS port fails the handshake") {
        Pki pki;
        auto server = pki.server({pki.leaf("a", {"a.test"})});
        Engine srv(server->new_session(), server);
        std::string req = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        srv.feed(req.data(), req.size());
        CHECK(srv.handshake() == Engine::Io::failed);
        CHECK(srv.failure() == "http request");

        Engine srv2(server->new_session(), server);
        std::string junk(64, '\x16');
        srv2.feed(junk.data(), junk.size());
        CHECK(srv2.handshake() == Engine::Io::failed);
        CHECK_FALSE(srv2.failure().empty());
    }

    TEST_CASE("a peer that closes mid-handshake fails it; close_notify closes cleanly") {
        Pki pki;
        auto server = pki.server({pki.leaf("a", {"a.test"})});
        auto client = pki.client();
        Engine srv(server->new_session(), server);
        srv.feed_eof();
        CHECK(srv.handshake() == Engine::Io::failed);

        Session s(client, "a.test", server);
        s.client.shutdown();
        std::string out = s.client.take_output();
        s.server.feed(out.data(), out.size());
        char buf[64];
        CHECK(s.server.read(buf, sizeof buf).io == Engine::Io::closed);
    }

    TEST_CASE("the pool's second connection resumes the first one's session") {
        Pki pki;
        auto server = pki.server({pki.leaf("a", {"a.test"})});
        auto client = pki.client();
        Session first(client, "a.test", server);
        CHECK_FALSE(first.client.resumed());
        CHECK(transfer(first.server, first.client, "hi") == "hi"); // the client reads its ticket
        CHECK(client->cached_sessions() == 1);
        Session second(client, "a.test", server);
        REQUIRE(second.client.handshake_done());
        CHECK(second.client.resumed());
        CHECK(second.server.resumed());
    }

    TEST_CASE("tickets survive a reload and one rotation, not `kept` rotations") {
        Pki pki;
        auto spec = pki.leaf("a", {"a.test"});
        auto client = pki.client();
        Session first(client, "a.test", pki.server({spec}));
        transfer(first.server, first.client, "x");
        // A reload builds new contexts; the ticket keys belong to the process.
        auto reloaded = pki.server({spec});
        TicketKeys::process().rotate();
        Session after(client, "a.test", reloaded);
        CHECK(after.client.resumed());
        transfer(after.server, after.client, "x"); // a renewed ticket under the new key

        for (size_t i = 0; i < TicketKeys::kept; ++i)
            TicketKeys::process().rotate();
        Session stale(client, "a.test", reloaded);
        REQUIRE(stale.client.handshake_done());
        CHECK_FALSE(stale.client.resumed());
        CHECK(TicketKeys::process().size() == TicketKeys::kept);
    }

    TEST_CASE("TicketRotation rotates the process's keys on its timer, until it is gone") {
        loop::Loop loop;
        uint64_t before = TicketKeys::process().rotations();
        auto rotation = std::make_unique<TicketRotation>(loop.uv(), 5);
        loop::Timer stop(loop.uv(), [&] { loop.stop(); });
        stop.start(60);
        loop.run();
        uint64_t rotated = TicketKeys::process().rotations() - before;
        CHECK(rotated >= 3);
        CHECK(TicketKeys::process().size() == TicketKeys::kept);
        rotation.reset();
        stop.start(30);
        loop.run();
        CHECK(TicketKeys::process().rotations() - before == rotated);
    }

    TEST_CASE("a session keeps its certificate after the listener's contexts are replaced") {
        Pki pki;
        auto server = pki.server({pki.leaf("old", {"a.test"})});
        auto client = pki.client();
        Session s(client, "a.test", server);
        server = pki.server({pki.leaf("new", {"a.test", "new.test"})}); // the reload's swap
        CHECK(transfer(s.client, s.server, "still here") == "still here");
        CHECK(transfer(s.server, s.client, "ok") == "ok");
        Session fresh(client, "new.test", server);
        CHECK(fresh.client.handshake_done());
    }

    TEST_CASE("OCSP: the configured response is stapled when the client asks") {
        Pki pki;
        auto spec = pki.leaf("a", {"a.test"});
        spec.ocsp = pki.dir.file("a.ocsp");
        write_file(spec.ocsp, std::string("\x30\x03\x0a\x01\x00", 5)); // bytes, not checked
        auto server = pki.server({spec});
        auto client = pki.client();
        SslPtr ssl = client->new_session("a.test");
        SSL_set_tlsext_status_type(ssl.get(), TLSEXT_STATUSTYPE_ocsp);
        Engine c(std::move(ssl), client);
        Engine s(server->new_session(), server);
        pump(c, s);
        REQUIRE(c.handshake_done());
        const unsigned char* resp = nullptr;
        CHECK(SSL_get_tlsext_status_ocsp_resp(c.ssl(), &resp) == 5);
    }

    TEST_CASE("load_certificate refuses mismatched keys, broken chains and unreadable files") {
        Pki pki;
        Issued a = issue("a.test", {"a.test"}, &pki.ca);
        Issued b = issue("b.test", {"b.test"}, &pki.ca);
        auto [acert, akey] = write_pair(pki.dir, "a", a);
        auto [bcert, bkey] = write_pair(pki.dir, "b", b);
        auto mismatch = load_certificate({acert, bkey, {}});
        REQUIRE_FALSE(mismatch.is_ok());
        CHECK(mismatch.error().message.find("does not match the certificate") != std::string::npos);

        Issued inter = issue("Intermediate", {}, &pki.ca, true);
        Issued leaf = issue("c.test", {"c.test"}, &inter);
        auto [good, gkey] = write_pair(pki.dir, "c", leaf, {&inter});
        auto ok = load_certificate({good, gkey, {}});
        REQUIRE(ok.is_ok());
        CHECK(ok->chain.size() == 1);
        CHECK(ok->names == std::vector<std::string>{"c.test"});
        CHECK(ok->not_after > 0);

        auto [bad, bkey2] = write_pair(pki.dir, "d", leaf, {&pki.ca}); // not the issuer
        auto broken = load_certificate({bad, bkey2, {}});
        REQUIRE_FALSE(broken.is_ok());
        CHECK(broken.error().message.find("the chain is not linked") != std::string::npos);

        auto missing = load_certificate({pki.dir.file("nope.pem"), akey, {}});
        REQUIRE_FALSE(missing.is_ok());
        CHECK(missing.error().message.find("No such file or directory") != std::string::npos);

        write_file(pki.dir.file("junk.pem"), "not a certificate\n");
        auto junk = load_certificate({pki.dir.file("junk.pem"), akey, {}});
        REQUIRE_FALSE(junk.is_ok());
        CHECK(junk.error().message.find("no PEM certificate") != std::string::npos);

        auto junk_key = load_certificate({acert, pki.dir.file("junk.pem"), {}});
        REQUIRE_FALSE(junk_key.is_ok());
        CHECK(junk_key.error().message.find("no unencrypted PEM private key") != std::string::npos);

        config::ListenTls spec = config::listen_tls_defaults();
        spec.certificates = {{acert, akey, {}}, {acert, bkey, {}}};
        auto refused = ServerTls::build(spec); // one bad certificate refuses the set
        CHECK_FALSE(refused.is_ok());
    }

    TEST_CASE("relative names resolve in $CREDENTIALS_DIRECTORY first") {
        Pki pki;
        auto spec = pki.leaf("cred", {"cred.test"});
        const char* saved = std::getenv("CREDENTIALS_DIRECTORY");
        std::string keep = saved ? saved : "";
        setenv("CREDENTIALS_DIRECTORY", pki.dir.path.c_str(), 1);
        CHECK(resolve_credential("cred.pem") == pki.dir.file("cred.pem"));
        CHECK(resolve_credential("/abs/x.pem") == "/abs/x.pem");
        CHECK(resolve_credential("absent.pem") == "absent.pem");
        CHECK(load_certificate({"cred.pem", "cred.key", {}}).is_ok());
        if (saved)
            setenv("CREDENTIALS_DIRECTORY", keep.c_str(), 1);
        else
            unsetenv("CREDENTIALS_DIRECTORY");
    }

    TEST_CASE("bad settings are refused with the setting named") {
        config::ListenTls none = config::listen_tls_defaults();
        auto s = ServerTls::build(none);
        REQUIRE_FALSE(s.is_ok());
        CHECK(s.error().message == "a TLS listener needs a certificate");
        config::OriginTls o = config::origin_tls_defaults();
        o.min_version = "1.1";
        auto c = ClientTls::build(o);
        REQUIRE_FALSE(c.is_ok());
        CHECK(c.error().message == "min_version must be \"1.2\" or \"1.3\"");
        o.min_version = "1.2";
        o.client_cert = "x.pem";
        CHECK(ClientTls::build(o).error().message == "client_cert and client_key go together");
    }
}
