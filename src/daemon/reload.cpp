// Daemon::reload: build everything the new configuration needs, then swap it in, or refuse.
#include <simdjson.h>

#include "daemon/daemon.hpp"
#include "util/log.hpp"

namespace ec::daemon {

namespace {

// Names of the top-level options whose JSON differs between two configs, in `next`'s order.
std::vector<std::string> changed_options(const config::Config& running,
                                         const config::Config& next) {
    std::vector<std::string> changed;
    std::string old_json = config::to_json(running), new_json = config::to_json(next);
    if (old_json == new_json) return changed;
    simdjson::dom::parser pa, pb;
    simdjson::padded_string ja(old_json), jb(new_json);
    simdjson::dom::object a, b;
    if (pa.parse(ja).get_object().get(a) || pb.parse(jb).get_object().get(b)) return changed;
    for (auto field : b) {
        simdjson::dom::element old;
        if (a[field.key].get(old) || simdjson::minify(old) != simdjson::minify(field.value))
            changed.emplace_back(field.key);
    }
    return changed;
}

} // namespace

Result<admin::ReloadReport> Daemon::reload() {
    notify_reloading();
    struct ReadyAgain {
        Daemon* d;
        ~ReadyAgain() { d->notify_ready(); }
    } ready_again{this};
    auto next = config::load(cli_, config::Env::from_process());
    if (!next) return make_error(400, "invalid_config", next.error().message);
    config::Config& n = *next;

    admin::ReloadReport report;
    report.pending_restart = config::reload_changes(cfg_, n);
    for (const std::string& name : report.pending_restart)
        LOG_WARN("reload: %s changed but needs a restart; keeping the running value", name.c_str());
    config::keep_restart_only(cfg_, n);
    if (socket_activated_) n.listen = cfg_.listen;

    // Build: nothing running is touched until everything below has succeeded.
    std::optional<AccessLogFile> log_file;
    if (n.access_log != cfg_.access_log) {
        auto f = open_access_log(n.access_log);
        if (!f) return make_error(400, "access_log", f.error().message);
        log_file.emplace(std::move(*f));
    }
    auto pages = cache::load_error_pages(n.error_pages);
    if (!pages) return make_error(400, "error_pages", pages.error().message);
    // Every certificate and key is read and checked before anything is swapped: an invalid file
    // refuses the reload and the running contexts stay.
    if (Status st = tls::check_files(n); !st) return make_error(400, "tls", st.error().message);
    std::vector<std::pair<tls::ListenerTls*, std::shared_ptr<const tls::ServerTls>>> tls_swaps;
    for (const Bound& b : bound_) {
        if (!b.tls || b.listener->closing) continue;
        auto contexts = tls::ServerTls::build(b.spec.tls);
        if (!contexts) return make_error(400, "tls", contexts.error().message);
        tls_swaps.emplace_back(b.tls.get(), std::move(contexts.value()));
    }
    std::vector<config::ListenSpec> added;
    for (const auto& spec : n.listen) {
        bool have = false;
        for (const Bound& b : bound_)
            have = have || (b.spec == spec && !b.listener->closing);
        if (!have) added.push_back(spec);
    }
    const size_t before = bound_.size();
    auto undo_added = [&] {
        for (size_t i = before; i < bound_.size(); ++i)
            server_->close_listener(*bound_[i].listener);
        bound_.resize(before);
    };
    for (const auto& spec : added) {
        try {
            open_listener(spec);
        } catch (const std::exception& e) {
            undo_added();
            return make_error(400, "listen_failed", e.what());
        }
    }
    http::Listener* new_admin_tcp = nullptr;
    const bool admin_tcp_moves = n.admin_listen != admin_tcp_address_;
    if (admin_tcp_moves && !n.admin_listen.empty()) {
        try {
            new_admin_tcp = &bind_admin_tcp(n.admin_listen);
        } catch (const std::exception& e) {
            undo_added();
            return make_error(400, "listen_failed", std::string(e.what()) + " (admin_listen)");
        }
    }

    // Swap: nothing from here on can fail.
    for (Bound& b : bound_) {
        bool keep = false;
        for (const auto& spec : n.listen)
            keep = keep || b.spec == spec;
        if (!keep && !b.listener->closing) {
            LOG_INFO("reload: no longer listening on %s", b.listener->bound.c_str());
            server_->close_listener(*b.listener);
        }
    }
    std::erase_if(bound_, [](const Bound& b) { return b.listener->closing; });
    if (admin_tcp_moves) {
        if (admin_tcp_) {
            LOG_INFO("no longer serving the admin API on %s", admin_tcp_->bound.c_str());
            server_->close_listener(*admin_tcp_);
        }
        admin_tcp_ = new_admin_tcp;
        admin_tcp_address_ = n.admin_listen;
        if (admin_tcp_)
            LOG_INFO("admin API on %s (bearer token required)", admin_tcp_->bound.c_str());
    }
    report.changes = changed_options(cfg_, n);
    cfg_ = std::move(n);
    if (log_file) access_log_->use(std::move(*log_file));
    proxy_->set_error_pages(std::move(*pages));
    for (auto& [state, contexts] : tls_swaps)
        state->contexts = std::move(contexts); // new handshakes only; sessions keep theirs
    if (admin_tls_ && !cfg_.admin_tls.certificates.empty())
        if (auto c = tls::ServerTls::build(cfg_.admin_tls)) admin_tls_->contexts = c.value();
    server_->set_limits(limits_from(cfg_));
    origins_->configure(cfg_.origins);
    apply_runtime_settings();
    LOG_INFO("configuration reloaded (%zu option(s) changed%s)", report.changes.size(),
             report.pending_restart.empty() ? "" : ", some waiting for a restart");
    return report;
}

} // namespace ec::daemon
