// Origins: pools by name; reloads update, add and retire them.
#include "origin/origins.hpp"

#include <algorithm>

#include "tls/client_tls.hpp"
#include "tls/tls_stream.hpp"
#include "util/log.hpp"

namespace ec::origin {

Origins::Origins(loop::Loop& loop, Tuning tuning) : loop_(loop), tuning_(tuning) {}

Origins::~Origins() {
    shutdown();
}

void Origins::configure(const std::map<std::string, config::OriginSpec>& specs) {
    for (auto it = pools_.begin(); it != pools_.end();) {
        if (specs.count(it->first)) {
            ++it;
            continue;
        }
        // Retired: found no more; destroyed once its last fetch is done.
        Pool* p = it->second.get();
        retired_.push_back(std::move(it->second));
        it = pools_.erase(it);
        p->on_drained([this, p] {
            auto r = std::find_if(retired_.begin(), retired_.end(),
                                  [p](const auto& q) { return q.get() == p; });
            if (r != retired_.end()) retired_.erase(r);
        });
    }
    for (const auto& [name, spec] : specs) {
        config::OriginSpec s = spec;
        if (s.name.empty()) s.name = name;
        auto it = pools_.find(name);
        if (it == pools_.end())
            it = pools_.emplace(name, std::make_unique<Pool>(loop_, s, tuning_)).first;
        else if (!(it->second->spec() == s))
            it->second->update(s);
        else
            continue;
        set_tls(*it->second, s);
    }
}

void Origins::set_max_pause_ms(uint32_t ms) {
    tuning_.max_pause_ms = ms;
    for (auto& [name, pool] : pools_)
        pool->set_max_pause_ms(ms);
}

void Origins::set_tls(Pool& pool, const config::OriginSpec& spec) {
    if (!spec.tls.enabled) {
        pool.set_stream_wrap(nullptr);
        return;
    }
    // SNI and the name verified: tls.server_name, else the Host override (without a port),
    // else each server's own host.
    std::string name = spec.tls.server_name;
    if (name.empty() && !spec.host.empty()) {
        name = spec.host;
        if (name.front() == '[')
            name = name.substr(1, name.find(']') - 1);
        else if (auto colon = name.rfind(':'); colon != std::string::npos)
            name.resize(colon);
    }
    auto built = tls::ClientTls::build(spec.tls);
    std::shared_ptr<const tls::ClientTls> ctx;
    std::string failure;
    if (built) {
        ctx = built.value();
    } else {
        // The daemon checks this before start and reload; a file that went bad in between fails
        // this origin's connections (502 with the reason), never falls back to plaintext.
        failure = built.error().message;
        LOG_ERROR("origin %s: TLS: %s", spec.name.c_str(), failure.c_str());
    }
    loop::Loop& loop = loop_;
    pool.set_stream_wrap(
        [&loop, ctx, name, failure](net::Stream* plain, std::string_view host) -> net::Stream* {
            std::unique_ptr<tls::Engine> engine;
            if (ctx)
                engine = std::make_unique<tls::Engine>(
                    ctx->new_session(name.empty() ? host : std::string_view(name)), ctx);
            return new tls::TlsStream(loop, plain, std::move(engine), true, 0, {}, failure);
        });
}

Pool* Origins::find(std::string_view name) {
    auto it = pools_.find(name);
    return it == pools_.end() ? nullptr : it->second.get();
}

void Origins::shutdown() {
    for (auto& [name, pool] : pools_)
        pool->shutdown();
    for (auto& pool : retired_)
        pool->shutdown();
    retired_.clear();
}

} // namespace ec::origin
