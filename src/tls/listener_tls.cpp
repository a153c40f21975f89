// TLS listeners' stream wrap (with the concurrent-handshake cap) and the config file check.
#include "tls/listener_tls.hpp"

#include "tls/client_tls.hpp"
#include "tls/tls_stream.hpp"

namespace ec::tls {

net::StreamWrap server_wrap(loop::Loop& loop, std::shared_ptr<ListenerTls> state) {
    return [&loop, state](net::Stream* plain, std::string_view) -> net::Stream* {
        const config::ListenTls& spec = state->contexts->spec();
        if (state->handshakes >= spec.max_handshakes) {
            ++state->refused;
            return new TlsStream(loop, plain, nullptr, false, 0, {},
                                 "too many TLS handshakes in progress");
        }
        ++state->handshakes;
        auto engine = std::make_unique<Engine>(state->contexts->new_session(), state->contexts);
        return new TlsStream(loop, plain, std::move(engine), false, spec.handshake_timeout_ms,
                             [state] { --state->handshakes; });
    };
}

Status check_files(const config::Config& cfg) {
    auto where = [](std::string path, const Error& e) {
        return make_error(400, e.code, path + ": " + e.message);
    };
    for (size_t i = 0; i < cfg.listen.size(); ++i) {
        if (cfg.listen[i].tls.certificates.empty()) continue;
        auto s = ServerTls::build(cfg.listen[i].tls);
        if (!s) return where("listen[" + std::to_string(i) + "].tls", s.error());
    }
    if (!cfg.admin_tls.certificates.empty()) {
        auto s = ServerTls::build(cfg.admin_tls);
        if (!s) return where("admin_tls", s.error());
    }
    for (const auto& [name, o] : cfg.origins) {
        if (!o.tls.enabled) continue;
        auto c = ClientTls::build(o.tls);
        if (!c) return where("origins." + name + ".tls", c.error());
    }
    return Status::ok();
}

} // namespace ec::tls
